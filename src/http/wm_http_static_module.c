/*
 * Static files: `index` for URIs ending in '/', and the file handler that
 * maps the URI onto root or alias, answers conditional requests (304,
 * 412) and byte ranges (206, multipart/byteranges, 416), and sends the
 * file with sendfile, or from memory when it is small.
 */
#include "wm_http.h"
#include "wm_http_file_cache.h"

#include "wm_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files up to this size are read into the response buffer, so that head
 * and body leave in one writev(). */
#define WM_HTTP_SMALL_FILE 16384
/* Largest file whose bytes static_cache keeps. */
#define WM_HTTP_STATIC_CACHE_FILE 65536

typedef struct {
    size_t cache; /* static_cache bytes per worker; 0: off */
} wm_http_static_loc_conf_t;

static void *wm_http_static_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_static_merge(wm_conf_t *cf, void *prev, void *conf,
                                        unsigned level);
static const char *wm_http_index_set(wm_conf_t *cf, const wm_command_t *cmd,
                                     void *conf);
static const char *wm_http_static_set_cache(wm_conf_t *cf,
                                            const wm_command_t *cmd,
                                            void *conf);

static const wm_command_t wm_http_static_commands[] = {
    {"index", WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC, 1,
     WM_ARGS_MANY, WM_CMD_MULTI, WM_LVL_LOC, wm_http_index_set, 0, NULL,
     "index.html", "files tried, in order, for a URI ending in a slash"},
    {"static_cache", WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC, 1, 1, 0,
     WM_LVL_LOC, wm_http_static_set_cache,
     offsetof(wm_http_static_loc_conf_t, cache), NULL, "16m",
     "bytes each worker keeps of small static files (up to 64 KiB) and of "
     "the bodies it compressed on the fly (files up to 1 MiB), checked "
     "against a stat() on every request; off disables"},
    wm_null_command,
};

wm_module_t wm_http_static_module = {
    .name = "http_static",
    .family = WM_MOD_HTTP,
    .commands = wm_http_static_commands,
    .create_conf = wm_http_static_create,
    .merge_conf = wm_http_static_merge,
};

size_t
wm_http_static_cache_size(wm_http_request_t *r)
{
    wm_http_static_loc_conf_t *slcf = wm_http_loc_conf(r, wm_http_static_module);

    return slcf ? slcf->cache : 0;
}

static void
wm_http_static_close(int fd)
{
    if (fd >= 0) {
        close(fd);
    }
}

wm_int_t
wm_http_root_value(wm_http_request_t *r, wm_str_t *root)
{
    wm_http_core_loc_conf_t *clcf = r->loc;
    wm_str_t v;

    if (clcf->root_cv == NULL) {
        *root = clcf->root;
        return WM_OK;
    }
    if (wm_cv_eval(clcf->root_cv, r, r->pool, &v) != WM_OK) {
        return WM_ERROR;
    }
    if (v.len && v.data[0] == '/') {
        *root = v;
        return WM_OK;
    }
    root->data = (u_char *) wm_conf_full_path(r->pool, wm_cycle->prefix, &v);
    if (root->data == NULL) {
        return WM_ERROR;
    }
    root->len = strlen((char *) root->data);
    return WM_OK;
}

char *
wm_http_map_uri(wm_http_request_t *r, const wm_str_t *uri, size_t *len)
{
    wm_http_core_loc_conf_t *clcf = r->loc;
    const u_char *rest = uri->data;
    size_t rlen = uri->len;
    wm_str_t root;
    char *path;

    if (wm_http_root_value(r, &root) != WM_OK) {
        return NULL;
    }
    if (clcf->alias_full) {
        if (!r->add_uri_to_alias) {
            rlen = 0;
        }
    } else if (clcf->alias && clcf->alias_prefix.len <= uri->len
               && memcmp(clcf->alias_prefix.data, uri->data,
                         clcf->alias_prefix.len)
                      == 0)
    {
        rest += clcf->alias_prefix.len;
        rlen -= clcf->alias_prefix.len;
    }
    path = wm_palloc(r->pool, root.len + rlen + 1);
    if (path == NULL) {
        return NULL;
    }
    memcpy(path, root.data, root.len);
    if (rlen) {
        memcpy(path + root.len, rest, rlen);
    }
    path[root.len + rlen] = '\0';
    *len = root.len + rlen;
    return path;
}

static bool
wm_http_is_get(const wm_http_request_t *r)
{
    return r->head.method == WM_HTTP_GET || r->head.method == WM_HTTP_HEAD;
}

wm_int_t
wm_http_index_handler(wm_http_request_t *r)
{
    wm_array_t *index = r->loc->index;
    static wm_str_t dflt = wm_string("index.html");
    wm_str_t *names = index ? index->elts : &dflt;
    size_t i, n = index ? index->nelts : 1, plen;
    char *dir;
    struct stat st;

    if (r->uri.len == 0 || r->uri.data[r->uri.len - 1] != '/') {
        return WM_DECLINED;
    }
    if (!wm_http_is_get(r) && r->head.method != WM_HTTP_POST) {
        return WM_DECLINED;
    }
    dir = wm_http_map_uri(r, &r->uri, &plen);
    if (dir == NULL) {
        return 500;
    }
    for (i = 0; i < n; i++) {
        wm_str_t target;
        char *path;

        if (names[i].len && names[i].data[0] == '/') {
            /* An absolute last resort: redirect to it as is. */
            wm_http_internal_redirect(r, &names[i], NULL);
            return WM_DONE;
        }
        path = wm_psprintf(r->pool, "%s%.*s", dir, (int) names[i].len,
                           (const char *) names[i].data);
        if (path == NULL) {
            return 500;
        }
        if (wm_http_stat(r, path, &st) != 0) {
            int err = errno;

            if (err == ENOENT || err == ENOTDIR) {
                continue;
            }
            wm_log_error(err == EACCES || err == ELOOP ? WM_LOG_ERR
                                                       : WM_LOG_CRIT,
                         wm_http_request_log(r), err, "stat() \"%s\" failed",
                         path);
            return err == EACCES || err == ELOOP ? 403 : 500;
        }
        if (S_ISDIR(st.st_mode)) {
            continue;
        }
        target.data = (u_char *) wm_psprintf(r->pool, "%.*s%.*s",
                                             (int) r->uri.len,
                                             (const char *) r->uri.data,
                                             (int) names[i].len,
                                             (const char *) names[i].data);
        if (target.data == NULL) {
            return 500;
        }
        target.len = r->uri.len + names[i].len;
        wm_http_internal_redirect(r, &target, NULL);
        return WM_DONE;
    }
    if (wm_http_stat(r, dir, &st) != 0 && (errno == ENOENT || errno == ENOTDIR))
    {
        if (r->loc->log_not_found) {
            /* nginx names the first index file it looked for. */
            wm_log_error(WM_LOG_ERR, wm_http_request_log(r), errno,
                         "\"%s%.*s\" is not found", dir, (int) names[0].len,
                         (const char *) names[0].data);
        }
        return 404;
    }
    return WM_DECLINED;
}

/* The first value of header `name`, or NULL. */
static const wm_str_t *
wm_http_in_header(wm_http_request_t *r, const char *name)
{
    wm_http_header_t *h = wm_http_header_find(&r->head, name);

    return h ? &h->value : NULL;
}

/* Sends the whole file, or the single range [start, end), from fd or,
 * when fd is -1, from mem (the file's bytes). A small one is read now, so
 * that head and body leave in one writev(). */
static wm_int_t
wm_http_send_range(wm_http_request_t *r, int fd, const u_char *mem,
                   off_t start, off_t end)
{
    off_t len = end - start;

    if (fd < 0) {
        if (len > 0 && !r->header_only && !r->file_body_unneeded
            && evbuffer_add(r->c->body, mem + start, (size_t) len) != 0) {
            return WM_ERROR;
        }
        return wm_http_send_body(r, r->c->body, true);
    }

    if (len <= WM_HTTP_SMALL_FILE && len > 0 && !r->header_only) {
        struct evbuffer *body = r->c->body;
        struct evbuffer_iovec v;

        if (evbuffer_reserve_space(body, len, &v, 1) == 1) {
            ssize_t n = pread(fd, v.iov_base, (size_t) len, start);

            if (n == len) {
                v.iov_len = (size_t) len;
                evbuffer_commit_space(body, &v, 1);
                wm_http_static_close(fd);
                return wm_http_send_body(r, body, true);
            }
            v.iov_len = 0;
            evbuffer_commit_space(body, &v, 0);
        }
    }
    return wm_http_send_file(r, fd, start, len, true);
}

/* 206 with several ranges: a multipart/byteranges body of known length. */
static wm_int_t
wm_http_send_multipart(wm_http_request_t *r, int fd, const u_char *mem,
                       const wm_http_ranges_t *ranges, off_t size)
{
    static unsigned long counter;
    wm_str_t type, boundary;
    char bbuf[32], *ctype;
    size_t i;
    off_t total;

    /* The parts' Content-Type carries the charset (nginx's order). */
    if (wm_http_charset_filter(r) != WM_OK) {
        wm_http_static_close(fd);
        return WM_ERROR;
    }
    type = r->content_type;

    snprintf(bbuf, sizeof(bbuf), "%020lu", ++counter + (unsigned long) size);
    boundary.data = (u_char *) wm_pstrdup(r->pool, bbuf);
    boundary.len = strlen(bbuf);
    ctype = wm_psprintf(r->pool, "multipart/byteranges; boundary=%s", bbuf);
    if (boundary.data == NULL || ctype == NULL) {
        wm_http_static_close(fd);
        return WM_ERROR;
    }
    total = wm_http_range_multipart_length(ranges, &boundary, &type, size);
    if (total < 0) {
        wm_http_static_close(fd);
        return WM_ERROR;
    }
    r->content_type.data = (u_char *) ctype;
    r->content_type.len = strlen(ctype);
    r->content_length = total;
    wm_http_send_header(r);
    if (r->header_only) {
        wm_http_static_close(fd);
        wm_http_send_body(r, NULL, true);
        return WM_OK;
    }
    for (i = 0; i < ranges->nranges; i++) {
        const wm_http_range_t *rg = &ranges->ranges[i];
        u_char head[512];
        size_t n = wm_http_range_part_header(head, sizeof(head), &boundary,
                                             &type, rg, size);
        int dup_fd;

        evbuffer_add(r->c->body, head, wm_min(n, sizeof(head) - 1));
        if (fd < 0) {
            if (evbuffer_add(r->c->body, mem + rg->start,
                             (size_t) (rg->end - rg->start))
                != 0) {
                return WM_ERROR;
            }
            continue;
        }
        dup_fd = dup(fd);
        if (dup_fd < 0 || evbuffer_add_file(r->c->body, dup_fd, rg->start,
                                            rg->end - rg->start)
                              != 0)
        {
            if (dup_fd >= 0) {
                close(dup_fd);
            }
            wm_http_static_close(fd);
            return WM_ERROR;
        }
    }
    {
        u_char tail[64];
        size_t n = wm_http_range_trailer(tail, sizeof(tail), &boundary);

        evbuffer_add(r->c->body, tail, wm_min(n, sizeof(tail) - 1));
    }
    wm_http_static_close(fd);
    return wm_http_send_body(r, r->c->body, true);
}

/*
 * The static_cache lookup: stat()s path and, when a small regular file's
 * bytes are cached, fills *st and *mem and returns -1. Otherwise returns
 * -2 (open the file as usual; on a stat() error too, so that open() makes
 * the error and its log line).
 */
static int
wm_http_static_cached(wm_http_request_t *r, const char *path, struct stat *st,
                      const u_char **mem)
{
    wm_http_fcache_key_t key;
    size_t len;

    if (wm_http_static_cache_size(r) == 0 || wm_http_stat(r, path, st) != 0
        || !S_ISREG(st->st_mode) || st->st_size > WM_HTTP_STATIC_CACHE_FILE)
    {
        return -2;
    }
    wm_http_fcache_key_file(&key, st);
    *mem = wm_http_fcache_get(&key, &len);
    if (*mem == NULL || (off_t) len != st->st_size) {
        *mem = NULL;
        return -2;
    }
    wm_log_debug(&r->c->log, "\"%s\": %zu bytes from the static-file cache",
                 path, len);
    return -1;
}

/*
 * After a miss: a small regular file that has settled is read whole into
 * r->pool, kept in the static-file cache, and closed (*fd -1, *mem its
 * bytes). Anything else stays as it is. WM_ERROR when the read fails (the
 * file is closed).
 */
static wm_int_t
wm_http_static_keep(wm_http_request_t *r, int *fd, const struct stat *st,
                    const u_char **mem)
{
    size_t max = wm_http_static_cache_size(r);
    wm_http_fcache_key_t key;
    u_char *buf;
    ssize_t n;

    if (max == 0 || !S_ISREG(st->st_mode) || st->st_size == 0
        || st->st_size > WM_HTTP_STATIC_CACHE_FILE
        || (size_t) st->st_size > max / 8)
    {
        return WM_OK;
    }
    wm_http_fcache_key_file(&key, st);
    if (!wm_http_fcache_settled(&key)) {
        return WM_OK;
    }
    buf = wm_palloc(r->pool, (size_t) st->st_size);
    if (buf == NULL) {
        return WM_OK;
    }
    n = pread(*fd, buf, (size_t) st->st_size, 0);
    close(*fd);
    *fd = -1;
    if (n != st->st_size) {
        return WM_ERROR;
    }
    wm_http_fcache_put(&key, buf, (size_t) n, max);
    *mem = buf;
    return WM_OK;
}

wm_int_t
wm_http_static_handler(wm_http_request_t *r)
{
    wm_http_core_loc_conf_t *clcf = r->loc;
    const wm_str_t *range_hdr;
    wm_http_cond_t cond;
    wm_http_ranges_t ranges;
    u_char etag[WM_HTTP_ETAG_LEN + 1];
    wm_str_t etag_str;
    struct stat st;
    const u_char *mem = NULL;
    char *path;
    size_t plen;
    int fd;

    if (!wm_http_is_get(r) && r->head.method != WM_HTTP_POST) {
        return 405;
    }
    if (r->uri.len && r->uri.data[r->uri.len - 1] == '/') {
        return WM_DECLINED;
    }
    path = wm_http_map_uri(r, &r->uri, &plen);
    if (path == NULL) {
        return 500;
    }
    fd = wm_http_static_cached(r, path, &st, &mem);
    if (fd == -1) {
        /* served from memory: st and mem are the file's */
        goto have_file;
    }
    if (fd == -2) {
        fd = wm_http_open(r, path, O_RDONLY | O_NONBLOCK);
    }
    if (fd < 0) {
        int err = errno;

        if (err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG) {
            if (clcf->log_not_found) {
                wm_log_error(WM_LOG_ERR, wm_http_request_log(r), err,
                             "open() \"%s\" failed", path);
            }
            return 404;
        }
        wm_log_error(err == EACCES || err == ELOOP ? WM_LOG_ERR : WM_LOG_CRIT,
                     wm_http_request_log(r), err, "open() \"%s\" failed",
                     path);
        return err == EACCES || err == ELOOP ? 403 : 500;
    }
    if (fstat(fd, &st) != 0) {
        wm_log_error(WM_LOG_CRIT, wm_http_request_log(r), errno,
                     "fstat() \"%s\" failed", path);
        wm_http_static_close(fd);
        return 500;
    }
    if (wm_http_static_keep(r, &fd, &st, &mem) != WM_OK) {
        wm_log_error(WM_LOG_CRIT, wm_http_request_log(r), errno,
                     "pread() \"%s\" failed", path);
        return 500;
    }
have_file:
    if (S_ISDIR(st.st_mode)) {
        wm_str_t loc;

        wm_http_static_close(fd);
        loc.data = (u_char *) wm_psprintf(
            r->pool, "%.*s/%s%.*s", (int) r->uri.len,
            (const char *) r->uri.data, r->head.has_args ? "?" : "",
            (int) r->args.len, (const char *) r->args.data);
        if (loc.data == NULL) {
            return 500;
        }
        loc.len = strlen((char *) loc.data);
        return wm_http_send_redirect(r, 301, &loc);
    }
    if (!S_ISREG(st.st_mode)) {
        wm_http_static_close(fd);
        wm_log_error(WM_LOG_CRIT, wm_http_request_log(r), 0,
                     "\"%s\" is not a regular file", path);
        return 404;
    }
    if (r->head.method == WM_HTTP_POST) {
        wm_http_static_close(fd);
        return 405;
    }

    r->status = 200;
    r->content_length = st.st_size;
    r->last_modified = st.st_mtime;
    r->file_known = 1;
    r->file_stat = st;
    wm_http_set_content_type(r);
    etag_str.len = 0;
    etag_str.data = NULL;
    if (clcf->etag) {
        etag_str.len = wm_http_etag_format(etag, st.st_mtime, st.st_size,
                                           false);
        etag_str.data = etag;
        r->etag.data = (u_char *) wm_pstrndup(r->pool, etag, etag_str.len);
        r->etag.len = r->etag.data ? etag_str.len : 0;
    }
    r->allow_ranges = clcf->max_ranges > 0;
    if (r->error_page_status) {
        /* An error page's body: no conditionals or ranges apply. */
        wm_http_send_header(r);
        return wm_http_send_range(r, fd, mem, 0, st.st_size);
    }

    memset(&cond, 0, sizeof(cond));
    cond.if_match = wm_http_in_header(r, "If-Match");
    cond.if_unmodified_since = wm_http_in_header(r, "If-Unmodified-Since");
    cond.if_none_match = wm_http_in_header(r, "If-None-Match");
    cond.if_modified_since = wm_http_in_header(r, "If-Modified-Since");
    cond.if_range = wm_http_in_header(r, "If-Range");
    cond.etag = etag_str.len ? &etag_str : NULL;
    cond.last_modified = st.st_mtime;
    cond.ims_mode = (wm_http_ims_mode_t) clcf->if_modified_since;
    cond.get_or_head = true;
    range_hdr = wm_http_in_header(r, "Range");

    switch (wm_http_cond_evaluate(&cond)) {
    case WM_HTTP_COND_NOT_MODIFIED:
        wm_http_static_close(fd);
        r->status = 304;
        r->content_length = -1;
        r->content_type.len = 0;
        r->allow_ranges = 0;
        wm_http_send_header(r);
        wm_http_send_body(r, NULL, true);
        return WM_OK;
    case WM_HTTP_COND_PRECONDITION_FAILED:
        wm_http_static_close(fd);
        return 412;
    case WM_HTTP_COND_OK_FULL:
        range_hdr = NULL;
        break;
    default:
        break;
    }

    if (range_hdr && r->allow_ranges) {
        switch (wm_http_range_parse(r->pool, range_hdr, st.st_size,
                                    (size_t) clcf->max_ranges, &ranges)) {
        case WM_HTTP_RANGE_PARTIAL:
            r->status = 206;
            r->allow_ranges = 0; /* nginx sends no Accept-Ranges with 206 */
            if (ranges.nranges == 1) {
                u_char cr[128];
                wm_str_t v;

                v.len = wm_http_range_content_range(cr, sizeof(cr),
                                                    &ranges.ranges[0],
                                                    st.st_size);
                v.data = cr;
                wm_http_add_header(r, "Content-Range", &v);
                r->content_length = ranges.ranges[0].end
                                    - ranges.ranges[0].start;
                wm_http_send_header(r);
                return wm_http_send_range(r, fd, mem, ranges.ranges[0].start,
                                          ranges.ranges[0].end);
            }
            return wm_http_send_multipart(r, fd, mem, &ranges, st.st_size);
        case WM_HTTP_RANGE_UNSATISFIABLE: {
            u_char cr[64];
            wm_str_t v;

            wm_http_static_close(fd);
            v.len = wm_http_range_content_range(cr, sizeof(cr), NULL,
                                                st.st_size);
            v.data = cr;
            wm_http_add_header(r, "Content-Range", &v);
            return 416;
        }
        case WM_HTTP_RANGE_ERROR:
            wm_http_static_close(fd);
            return 500;
        default:
            break;
        }
    }
    wm_http_send_header(r);
    return wm_http_send_range(r, fd, mem, 0, st.st_size);
}

static const char *
wm_http_static_set_cache(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_static_loc_conf_t *slcf = conf;

    if (slcf->cache == WM_CONF_UNSET_SIZE
        && wm_str_eq(&cf->node->args[0], "off")) {
        slcf->cache = 0;
        return NULL;
    }
    return wm_conf_set_size(cf, cmd, conf);
}

static void *
wm_http_static_create(wm_conf_t *cf, unsigned level)
{
    wm_http_static_loc_conf_t *slcf = wm_pcalloc(cf->pool, sizeof(*slcf));

    if (slcf) {
        slcf->cache = WM_CONF_UNSET_SIZE;
    }
    return slcf;
}

static const char *
wm_http_static_merge(wm_conf_t *cf, void *parent, void *child, unsigned level)
{
    wm_http_static_loc_conf_t *prev = parent, *conf = child;

    wm_conf_merge_size(conf->cache, prev->cache, 16 * 1024 * 1024);
    return NULL;
}

static const char *
wm_http_index_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_core_loc_conf_t *clcf = wm_http_conf_core_loc(cf);
    size_t i;

    if (clcf->index == NULL) {
        clcf->index = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (clcf->index == NULL
            || wm_array_init(clcf->index, cf->pool, 4, sizeof(wm_str_t))
                   != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    for (i = 0; i < cf->node->nargs; i++) {
        wm_str_t *name;

        if (cf->node->args[i].len == 0) {
            return "has an empty index name";
        }
        name = wm_array_push(clcf->index);
        if (name == NULL) {
            return "failed: out of memory";
        }
        *name = cf->node->args[i];
    }
    return NULL;
}
