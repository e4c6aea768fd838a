/*
 * Precompressed files: with gzip_static, brotli_static or zstd_static on,
 * a GET or HEAD of file.txt is answered with file.txt.gz, .br or .zst when
 * the client accepts that coding and the sibling exists, with the
 * original's Content-Type and the sibling's length, ETag and Last-Modified
 * (conditional requests and a single range apply to the sibling, as in
 * nginx). `always` serves the sibling whatever Accept-Encoding says.
 */
#include "wm_http_compress.h"

#include "wm_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define WM_HTTP_STATIC_OFF 0
#define WM_HTTP_STATIC_ON 1
#define WM_HTTP_STATIC_ALWAYS 2

/* One mode per coding, in the order of wm_http_static_codings[]. */
typedef struct {
    wm_int_t mode[3];
} wm_http_static_compressed_conf_t;

static void *wm_http_static_compressed_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_static_compressed_merge(wm_conf_t *cf, void *prev,
                                                   void *conf, unsigned level);

#define WM_SC_LOC WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC
#define wm_sc_off(i) \
    (offsetof(wm_http_static_compressed_conf_t, mode) + (i) * sizeof(wm_int_t))

static const wm_conf_enum_t wm_http_static_modes[] = {
    {"off", WM_HTTP_STATIC_OFF},
    {"on", WM_HTTP_STATIC_ON},
    {"always", WM_HTTP_STATIC_ALWAYS},
    {NULL, 0},
};

static const wm_command_t wm_http_static_compressed_commands[] = {
    {"brotli_static", WM_SC_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_enum,
     wm_sc_off(0), wm_http_static_modes, "off",
     "serve file.br for file when the client accepts br (always: in any "
     "case)"},
    {"zstd_static", WM_SC_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_enum,
     wm_sc_off(1), wm_http_static_modes, "off",
     "serve file.zst for file when the client accepts zstd (always: in any "
     "case)"},
    {"gzip_static", WM_SC_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_enum,
     wm_sc_off(2), wm_http_static_modes, "off",
     "serve file.gz for file when the client accepts gzip (always: in any "
     "case)"},
    wm_null_command,
};

wm_module_t wm_http_static_compressed_module = {
    .name = "http_static_compressed",
    .family = WM_MOD_HTTP,
    .commands = wm_http_static_compressed_commands,
    .create_conf = wm_http_static_compressed_create,
    .merge_conf = wm_http_static_compressed_merge,
};

/* In the order of preference on ties, as the negotiation's. */
static const struct {
    wm_http_coding_t coding;
    const char *suffix;
} wm_http_static_codings[3] = {
    {WM_HTTP_CODING_BR, ".br"},
    {WM_HTTP_CODING_ZSTD, ".zst"},
    {WM_HTTP_CODING_GZIP, ".gz"},
};

/* The first value of header `name`, or NULL. */
static const wm_str_t *
wm_http_sc_in_header(wm_http_request_t *r, const char *name)
{
    wm_http_header_t *h = wm_http_header_find(&r->head, name);

    return h ? &h->value : NULL;
}

/*
 * Opens the sibling path+suffix of coding i. The fd (a regular file) and
 * its stat on WM_OK; WM_DECLINED when there is none usable (missing, a
 * directory, unreadable: logged as nginx does); 404 for a sibling that is
 * not a regular file.
 */
static wm_int_t
wm_http_sc_open(wm_http_request_t *r, const char *path, size_t plen, size_t i,
                int *fd, struct stat *st, char **name)
{
    const char *suffix = wm_http_static_codings[i].suffix;
    size_t slen = strlen(suffix);
    char *file = wm_palloc(r->pool, plen + slen + 1);

    if (file == NULL) {
        return 500;
    }
    memcpy(file, path, plen);
    memcpy(file + plen, suffix, slen + 1);
    *name = file;
    *fd = wm_http_open(r, file, O_RDONLY | O_NONBLOCK);
    if (*fd < 0) {
        int err = errno;

        if (err != ENOENT && err != ENOTDIR && err != ENAMETOOLONG) {
            wm_log_error(err == EACCES || err == ELOOP ? WM_LOG_ERR
                                                       : WM_LOG_CRIT,
                         wm_http_request_log(r), err, "open() \"%s\" failed",
                         file);
        }
        return WM_DECLINED;
    }
    if (fstat(*fd, st) != 0) {
        wm_log_error(WM_LOG_CRIT, wm_http_request_log(r), errno,
                     "fstat() \"%s\" failed", file);
        close(*fd);
        return WM_DECLINED;
    }
    if (S_ISDIR(st->st_mode)) {
        close(*fd);
        return WM_DECLINED;
    }
    if (!S_ISREG(st->st_mode)) {
        wm_log_error(WM_LOG_CRIT, wm_http_request_log(r), 0,
                     "\"%s\" is not a regular file", file);
        close(*fd);
        return 404;
    }
    return WM_OK;
}

/* Answers with the open sibling fd of coding i; takes fd. */
static wm_int_t
wm_http_sc_send(wm_http_request_t *r, size_t i, int fd, const struct stat *st)
{
    wm_http_core_loc_conf_t *clcf = r->loc;
    u_char etag[WM_HTTP_ETAG_LEN + 1];
    const wm_str_t *range_hdr;
    wm_http_ranges_t ranges;
    wm_str_t etag_str, coding;
    wm_http_cond_t cond;
    off_t start = 0, end = st->st_size;

    r->status = 200;
    r->content_length = st->st_size;
    r->last_modified = st->st_mtime;
    wm_http_set_content_type(r);
    etag_str.len = 0;
    etag_str.data = NULL;
    if (clcf->etag) {
        etag_str.len =
            wm_http_etag_format(etag, st->st_mtime, st->st_size, false);
        etag_str.data = etag;
        r->etag.data = (u_char *) wm_pstrndup(r->pool, etag, etag_str.len);
        r->etag.len = r->etag.data ? etag_str.len : 0;
    }
    r->allow_ranges = clcf->max_ranges > 0;
    coding.data =
        (u_char *) wm_http_coding_name(wm_http_static_codings[i].coding);
    coding.len = strlen((const char *) coding.data);

    if (!r->error_page_status) {
        memset(&cond, 0, sizeof(cond));
        cond.if_match = wm_http_sc_in_header(r, "If-Match");
        cond.if_unmodified_since =
            wm_http_sc_in_header(r, "If-Unmodified-Since");
        cond.if_none_match = wm_http_sc_in_header(r, "If-None-Match");
        cond.if_modified_since = wm_http_sc_in_header(r, "If-Modified-Since");
        cond.if_range = wm_http_sc_in_header(r, "If-Range");
        cond.etag = etag_str.len ? &etag_str : NULL;
        cond.last_modified = st->st_mtime;
        cond.ims_mode = (wm_http_ims_mode_t) clcf->if_modified_since;
        cond.get_or_head = true;
        range_hdr = wm_http_sc_in_header(r, "Range");

        switch (wm_http_cond_evaluate(&cond)) {
        case WM_HTTP_COND_NOT_MODIFIED:
            /* As nginx: a 304 has no Content-Encoding. */
            close(fd);
            r->status = 304;
            r->content_length = -1;
            r->content_type.len = 0;
            r->allow_ranges = 0;
            wm_http_send_header(r);
            wm_http_send_body(r, NULL, true);
            return WM_OK;
        case WM_HTTP_COND_PRECONDITION_FAILED:
            close(fd);
            return 412;
        case WM_HTTP_COND_OK_FULL:
            range_hdr = NULL;
            break;
        default:
            break;
        }

        /* One range of the sibling; more than one gets it whole. */
        if (range_hdr && r->allow_ranges) {
            switch (wm_http_range_parse(r->pool, range_hdr, st->st_size, 1,
                                        &ranges)) {
            case WM_HTTP_RANGE_PARTIAL: {
                u_char cr[128];
                wm_str_t v;

                r->status = 206;
                r->allow_ranges = 0;
                start = ranges.ranges[0].start;
                end = ranges.ranges[0].end;
                v.len = wm_http_range_content_range(
                    cr, sizeof(cr), &ranges.ranges[0], st->st_size);
                v.data = cr;
                if (wm_http_add_header(r, "Content-Range", &v) != WM_OK) {
                    close(fd);
                    return 500;
                }
                r->content_length = end - start;
                break;
            }
            case WM_HTTP_RANGE_UNSATISFIABLE: {
                u_char cr[64];
                wm_str_t v;

                close(fd);
                v.len = wm_http_range_content_range(cr, sizeof(cr), NULL,
                                                    st->st_size);
                v.data = cr;
                wm_http_add_header(r, "Content-Range", &v);
                return 416;
            }
            case WM_HTTP_RANGE_ERROR:
                close(fd);
                return 500;
            default:
                break;
            }
        }
    }
    if (wm_http_add_header(r, "Content-Encoding", &coding) != WM_OK) {
        close(fd);
        return 500;
    }
    wm_http_send_header(r);
    if (wm_http_send_file(r, fd, start, end - start, true) != WM_OK) {
        return WM_ERROR;
    }
    return WM_OK;
}

wm_int_t
wm_http_static_compressed_handler(wm_http_request_t *r)
{
    wm_http_static_compressed_conf_t *scf;
    unsigned allowed = 0, tried = 0;
    bool request_ok, vary;
    struct stat st;
    char *path, *name;
    size_t plen, i;
    wm_int_t rc;
    int fd;

    if (r->head.method != WM_HTTP_GET && r->head.method != WM_HTTP_HEAD) {
        return WM_DECLINED;
    }
    if (r->uri.len == 0 || r->uri.data[r->uri.len - 1] == '/') {
        return WM_DECLINED;
    }
    scf = wm_http_loc_conf(r, wm_http_static_compressed_module);
    if (scf->mode[0] == WM_HTTP_STATIC_OFF && scf->mode[1] == WM_HTTP_STATIC_OFF
        && scf->mode[2] == WM_HTTP_STATIC_OFF)
    {
        return WM_DECLINED;
    }
    request_ok = wm_http_compress_request_ok(r);
    vary = wm_http_compress_vary_on(r);
    for (i = 0; i < 3; i++) {
        if (scf->mode[i] == WM_HTTP_STATIC_ALWAYS
            || (scf->mode[i] == WM_HTTP_STATIC_ON && request_ok))
        {
            allowed |= wm_http_static_codings[i].coding;
        }
    }
    path = wm_http_map_uri(r, &r->uri, &plen);
    if (path == NULL) {
        return 500;
    }

    /* What the client accepts, best first, until a sibling exists. */
    while (allowed & ~tried) {
        wm_http_coding_t c = wm_http_compress_negotiate(r, allowed & ~tried);

        if (c == WM_HTTP_CODING_IDENTITY) {
            break;
        }
        for (i = 0; wm_http_static_codings[i].coding != c; i++) {
            /* void */
        }
        tried |= c;
        rc = wm_http_sc_open(r, path, plen, i, &fd, &st, &name);
        if (rc == WM_OK) {
            if (scf->mode[i] == WM_HTTP_STATIC_ON && vary
                && wm_http_compress_set_vary(r) != WM_OK)
            {
                close(fd);
                return 500;
            }
            return wm_http_sc_send(r, i, fd, &st);
        }
        if (rc != WM_DECLINED) {
            return rc;
        }
    }

    /* `always`: the sibling whatever the client said. */
    for (i = 0; i < 3; i++) {
        if (scf->mode[i] != WM_HTTP_STATIC_ALWAYS
            || (tried & wm_http_static_codings[i].coding))
        {
            continue;
        }
        tried |= wm_http_static_codings[i].coding;
        rc = wm_http_sc_open(r, path, plen, i, &fd, &st, &name);
        if (rc == WM_OK) {
            return wm_http_sc_send(r, i, fd, &st);
        }
        if (rc != WM_DECLINED) {
            return rc;
        }
    }

    /* As nginx: when a sibling exists that this client did not get, the
     * file served instead varies by Accept-Encoding too. */
    if (vary) {
        for (i = 0; i < 3; i++) {
            if (scf->mode[i] != WM_HTTP_STATIC_ON
                || (tried & wm_http_static_codings[i].coding))
            {
                continue;
            }
            name = wm_psprintf(r->pool, "%s%s", path,
                               wm_http_static_codings[i].suffix);
            if (name && wm_http_stat(r, name, &st) == 0
                && S_ISREG(st.st_mode)) {
                if (wm_http_compress_set_vary(r) != WM_OK) {
                    return 500;
                }
                break;
            }
        }
    }
    return WM_DECLINED;
}

static void *
wm_http_static_compressed_create(wm_conf_t *cf, unsigned level)
{
    wm_http_static_compressed_conf_t *scf = wm_pcalloc(cf->pool, sizeof(*scf));
    size_t i;

    if (scf == NULL) {
        return NULL;
    }
    for (i = 0; i < 3; i++) {
        scf->mode[i] = WM_CONF_UNSET;
    }
    return scf;
}

static const char *
wm_http_static_compressed_merge(wm_conf_t *cf, void *parent, void *child,
                                unsigned level)
{
    wm_http_static_compressed_conf_t *prev = parent, *conf = child;
    size_t i;

    if (level != WM_LVL_LOC) {
        return NULL;
    }
    for (i = 0; i < 3; i++) {
        wm_conf_merge_value(conf->mode[i], prev->mode[i], WM_HTTP_STATIC_OFF);
    }
    return NULL;
}
