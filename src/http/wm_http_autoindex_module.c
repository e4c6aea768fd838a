/*
 * `autoindex on`: a listing of the directory a URI ending in '/' names,
 * when no index file was found, in nginx's html, json, jsonp or xml form.
 * The directory is read (and each entry stat'ed) a slice at a time from
 * the event loop, so that a huge directory does not hold the worker; the
 * listing is sorted, then written a slice at a time while the client
 * keeps up with it.
 */
#include "wm_http.h"
#include "wm_http_autoindex.h"

#include "wm_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Entries read and stat'ed per turn of the event loop. */
#define WM_AUTOINDEX_READ_SLICE 256
/* Entries formatted per turn of the event loop. */
#define WM_AUTOINDEX_WRITE_SLICE 1024
/* Above this much unsent output, formatting waits for the client. */
#define WM_AUTOINDEX_OUT_MAX (256 * 1024)
/* How long it waits before it looks again. */
#define WM_AUTOINDEX_WAIT_USEC 10000
/* nginx's width of the name column of the html listing. */
#define WM_AUTOINDEX_NAME_LEN 50

typedef struct {
    wm_int_t enable;
    wm_int_t format;          /* wm_http_autoindex_format_t */
    wm_int_t exact_size;
    wm_int_t localtime;
} wm_http_autoindex_conf_t;

/* The state of one listing, in the request's pool. */
typedef struct {
    wm_http_request_t *r;
    DIR *dir;                 /* NULL once read */
    char *path;               /* the directory, for messages */
    struct event *ev;         /* the next slice */
    wm_array_t entries;       /* wm_http_autoindex_entry_t */
    size_t next;              /* next entry to write */
    wm_str_t callback;        /* jsonp */
    wm_http_autoindex_style_t style;
    unsigned waiting : 1;     /* the client is behind */
} wm_http_autoindex_ctx_t;

static void *wm_http_autoindex_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_autoindex_merge(wm_conf_t *cf, void *prev,
                                           void *conf, unsigned level);

#define WM_AI_CTX WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC
#define ai_off(f) offsetof(wm_http_autoindex_conf_t, f)

static const wm_conf_enum_t wm_http_autoindex_formats[] = {
    {"html", WM_HTTP_AUTOINDEX_HTML},
    {"json", WM_HTTP_AUTOINDEX_JSON},
    {"jsonp", WM_HTTP_AUTOINDEX_JSONP},
    {"xml", WM_HTTP_AUTOINDEX_XML},
    {NULL, 0},
};

static const wm_command_t wm_http_autoindex_commands[] = {
    {"autoindex", WM_AI_CTX, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag,
     ai_off(enable), NULL, "off",
     "list a directory whose URI ends in a slash when it has no index file"},
    {"autoindex_format", WM_AI_CTX, 1, 1, 0, WM_LVL_LOC, wm_conf_set_enum,
     ai_off(format), wm_http_autoindex_formats, "html",
     "html, json, jsonp (callback from the callback argument) or xml"},
    {"autoindex_exact_size", WM_AI_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_flag, ai_off(exact_size), NULL, "on",
     "html listing: sizes in bytes, or rounded to K, M and G when off"},
    {"autoindex_localtime", WM_AI_CTX, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag,
     ai_off(localtime), NULL, "off",
     "html listing: times in local time, or GMT when off"},
    wm_null_command,
};

wm_module_t wm_http_autoindex_module = {
    .name = "http_autoindex",
    .family = WM_MOD_HTTP,
    .commands = wm_http_autoindex_commands,
    .create_conf = wm_http_autoindex_create,
    .merge_conf = wm_http_autoindex_merge,
};

/* ---- the text of a listing ---------------------------------------------- */

static int
wm_http_autoindex_cmp(const void *a, const void *b)
{
    const wm_http_autoindex_entry_t *x = a, *y = b;

    if (x->dir != y->dir) {
        return x->dir ? -1 : 1;
    }
    return strcmp((const char *) x->name.data, (const char *) y->name.data);
}

void
wm_http_autoindex_sort(wm_http_autoindex_entry_t *entries, size_t n)
{
    if (n > 1) {
        qsort(entries, n, sizeof(*entries), wm_http_autoindex_cmp);
    }
}

#define wm_ai_add(out, lit) evbuffer_add(out, lit, sizeof(lit) - 1)

/* Appends s with <, >, & and " as entities (html and xml). */
static void
wm_http_ai_html(struct evbuffer *out, const u_char *s, size_t len)
{
    size_t i, run = 0;

    for (i = 0; i < len; i++) {
        const char *ent;

        switch (s[i]) {
        case '<':
            ent = "&lt;";
            break;
        case '>':
            ent = "&gt;";
            break;
        case '&':
            ent = "&amp;";
            break;
        case '"':
            ent = "&quot;";
            break;
        default:
            continue;
        }
        evbuffer_add(out, s + run, i - run);
        evbuffer_add(out, ent, strlen(ent));
        run = i + 1;
    }
    evbuffer_add(out, s + run, len - run);
}

/* Appends s escaped as one URI path segment: everything but letters,
 * digits and -._~ as %XX (upper case), as nginx's href. */
static void
wm_http_ai_uri(struct evbuffer *out, const u_char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, run = 0;

    for (i = 0; i < len; i++) {
        u_char c = s[i];
        char esc[3];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~')
        {
            continue;
        }
        esc[0] = '%';
        esc[1] = hex[c >> 4];
        esc[2] = hex[c & 0xf];
        evbuffer_add(out, s + run, i - run);
        evbuffer_add(out, esc, 3);
        run = i + 1;
    }
    evbuffer_add(out, s + run, len - run);
}

/* Appends s as the inside of a JSON string: " and \ escaped, control
 * characters as \n, \r, \t, \b, \f or \u00xx; other bytes as they are,
 * as nginx does. */
static void
wm_http_ai_json(struct evbuffer *out, const u_char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;

    for (i = 0; i < len; i++) {
        u_char c = s[i];
        char esc[6];
        size_t n = 2;

        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        esc[0] = '\\';
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char) c;
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            n = 6;
        }
        evbuffer_add(out, s + run, i - run);
        evbuffer_add(out, esc, n);
        run = i + 1;
    }
    evbuffer_add(out, s + run, len - run);
}

static wm_int_t
wm_http_autoindex_html_entry(struct evbuffer *out,
                             const wm_http_autoindex_style_t *style,
                             const wm_http_autoindex_entry_t *e)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                         "May", "Jun", "Jul", "Aug",
                                         "Sep", "Oct", "Nov", "Dec"};
    /* nginx measures the name in bytes (it counts characters only with
     * `charset utf-8`, which wmproxy does not have). */
    size_t len = e->name.len, shown = len, pad = 0;
    char tail[128];
    struct tm tm;
    int n;

    wm_ai_add(out, "<a href=\"");
    wm_http_ai_uri(out, e->name.data, e->name.len);
    if (e->dir) {
        wm_ai_add(out, "/");
    }
    wm_ai_add(out, "\">");
    if (len > WM_AUTOINDEX_NAME_LEN) {
        /* Cut where nginx cuts, but never inside a UTF-8 sequence. */
        shown = WM_AUTOINDEX_NAME_LEN - 3;
        while (shown > 0 && (e->name.data[shown] & 0xc0) == 0x80) {
            shown--;
        }
    }
    wm_http_ai_html(out, e->name.data, shown);
    if (len > WM_AUTOINDEX_NAME_LEN) {
        wm_ai_add(out, "..&gt;</a>");
    } else {
        if (e->dir && len < WM_AUTOINDEX_NAME_LEN) {
            wm_ai_add(out, "/");
            len++;
        }
        wm_ai_add(out, "</a>");
        pad = WM_AUTOINDEX_NAME_LEN - len;
    }
    if ((style->localtime ? localtime_r(&e->mtime, &tm)
                          : gmtime_r(&e->mtime, &tm))
        == NULL)
    {
        memset(&tm, 0, sizeof(tm));
    }
    n = snprintf(tail, sizeof(tail), "%*s %02d-%s-%d %02d:%02d ", (int) pad,
                 "", tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min);
    if (n < 0 || (size_t) n >= sizeof(tail)) {
        return WM_ERROR;
    }
    evbuffer_add(out, tail, (size_t) n);
    if (e->dir) {
        n = snprintf(tail, sizeof(tail), "%*s", style->exact_size ? 19 : 7,
                     "-");
    } else if (style->exact_size) {
        n = snprintf(tail, sizeof(tail), "%19lld", (long long) e->size);
    } else {
        /* Rounded to the nearest K (above 9999 bytes), M or G. */
        static const struct {
            int64_t unit;
            char c;
        } scales[] = {{1024LL * 1024 * 1024, 'G'}, {1024 * 1024, 'M'},
                      {1024, 'K'}};
        int64_t size = (int64_t) e->size;
        size_t i;

        n = snprintf(tail, sizeof(tail), " %6lld", (long long) size);
        for (i = 0; i < wm_nelems(scales); i++) {
            int64_t u = scales[i].unit;

            if (size >= (u == 1024 ? 10000 : u)) {
                n = snprintf(tail, sizeof(tail), "%6lld%c",
                             (long long) (size / u + (size % u >= u / 2)),
                             scales[i].c);
                break;
            }
        }
    }
    if (n < 0 || (size_t) n >= sizeof(tail)) {
        return WM_ERROR;
    }
    evbuffer_add(out, tail, (size_t) n);
    wm_ai_add(out, "\r\n");
    return WM_OK;
}

wm_int_t
wm_http_autoindex_entry(struct evbuffer *out,
                        const wm_http_autoindex_style_t *style,
                        const wm_http_autoindex_entry_t *e, bool first)
{
    const char *type = e->dir ? "directory" : e->file ? "file" : "other";
    u_char date[WM_HTTP_DATE_LEN + 1];
    char text[64];
    struct tm tm;
    int n;

    switch (style->format) {
    case WM_HTTP_AUTOINDEX_HTML:
        return wm_http_autoindex_html_entry(out, style, e);
    case WM_HTTP_AUTOINDEX_JSON:
    case WM_HTTP_AUTOINDEX_JSONP:
        if (!first) {
            wm_ai_add(out, ",\r\n");
        }
        wm_ai_add(out, "{ \"name\":\"");
        wm_http_ai_json(out, e->name.data, e->name.len);
        if (wm_http_date_format(date, e->mtime) == 0) {
            wm_http_date_format(date, 0); /* a year no date can show */
        }
        evbuffer_add_printf(out, "\", \"type\":\"%s\", \"mtime\":\"%s\"",
                            type, (const char *) date);
        if (e->file) {
            evbuffer_add_printf(out, ", \"size\":%lld", (long long) e->size);
        }
        wm_ai_add(out, " }");
        return WM_OK;
    default:
        if (gmtime_r(&e->mtime, &tm) == NULL) {
            memset(&tm, 0, sizeof(tm));
        }
        n = snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02dZ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
        if (n < 0 || (size_t) n >= sizeof(text)) {
            return WM_ERROR;
        }
        evbuffer_add_printf(out, "<%s mtime=\"%s\"", type, text);
        if (e->file) {
            evbuffer_add_printf(out, " size=\"%lld\"", (long long) e->size);
        }
        wm_ai_add(out, ">");
        wm_http_ai_html(out, e->name.data, e->name.len);
        evbuffer_add_printf(out, "</%s>\r\n", type);
        return WM_OK;
    }
}

wm_int_t
wm_http_autoindex_head(struct evbuffer *out,
                       const wm_http_autoindex_style_t *style,
                       const wm_str_t *uri, const wm_str_t *callback)
{
    switch (style->format) {
    case WM_HTTP_AUTOINDEX_HTML:
        wm_ai_add(out, "<html>\r\n<head><title>Index of ");
        wm_http_ai_html(out, uri->data, uri->len);
        wm_ai_add(out, "</title></head>\r\n<body>\r\n<h1>Index of ");
        wm_http_ai_html(out, uri->data, uri->len);
        wm_ai_add(out, "</h1><hr><pre><a href=\"../\">../</a>\r\n");
        break;
    case WM_HTTP_AUTOINDEX_JSONP:
        if (callback->len) {
            wm_ai_add(out, "/* callback */\r\n");
            evbuffer_add(out, callback->data, callback->len);
            wm_ai_add(out, "(");
        }
        /* fall through */
    case WM_HTTP_AUTOINDEX_JSON:
        wm_ai_add(out, "[\r\n");
        break;
    default:
        wm_ai_add(out, "<?xml version=\"1.0\"?>\r\n<list>\r\n");
        break;
    }
    return evbuffer_get_length(out) ? WM_OK : WM_ERROR;
}

wm_int_t
wm_http_autoindex_tail(struct evbuffer *out,
                       const wm_http_autoindex_style_t *style,
                       const wm_str_t *callback, bool any)
{
    switch (style->format) {
    case WM_HTTP_AUTOINDEX_HTML:
        wm_ai_add(out, "</pre><hr></body>\r\n</html>\r\n");
        break;
    case WM_HTTP_AUTOINDEX_JSON:
    case WM_HTTP_AUTOINDEX_JSONP:
        if (any) {
            wm_ai_add(out, "\r\n");
        }
        wm_ai_add(out, "]");
        if (style->format == WM_HTTP_AUTOINDEX_JSONP && callback->len) {
            wm_ai_add(out, ");");
        }
        break;
    default:
        wm_ai_add(out, "</list>\r\n");
        break;
    }
    return WM_OK;
}

bool
wm_http_autoindex_callback_ok(const wm_str_t *name)
{
    size_t i;

    if (name->len > 128) {
        return false;
    }
    for (i = 0; i < name->len; i++) {
        u_char c = name->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '.'))
        {
            return false;
        }
    }
    return true;
}

/* ---- run time ----------------------------------------------------------- */

static void wm_http_autoindex_run(evutil_socket_t fd, short what, void *arg);

/* The value of the `callback` argument (raw, as nginx takes it). */
static wm_str_t
wm_http_autoindex_callback(const wm_http_request_t *r)
{
    const u_char *p = r->args.data, *end = p + r->args.len;
    wm_str_t v = wm_null_string;

    while (p && p < end) {
        const u_char *amp = memchr(p, '&', (size_t) (end - p));
        const u_char *stop = amp ? amp : end;

        if ((size_t) (stop - p) >= 9 && memcmp(p, "callback=", 9) == 0) {
            v.data = (u_char *) p + 9;
            v.len = (size_t) (stop - p) - 9;
            return v;
        }
        p = amp ? amp + 1 : end;
    }
    return v;
}

static void
wm_http_autoindex_cleanup(void *data)
{
    wm_http_autoindex_ctx_t *ctx = data;

    if (ctx->dir) {
        closedir(ctx->dir);
        ctx->dir = NULL;
    }
    if (ctx->ev) {
        event_free(ctx->ev);
        ctx->ev = NULL;
    }
}

/* Reads and stats up to a slice of entries. WM_AGAIN when there are
 * more, WM_OK at the end, or a status. */
static wm_int_t
wm_http_autoindex_read(wm_http_autoindex_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;
    int dfd = dirfd(ctx->dir);
    size_t i;

    for (i = 0; i < WM_AUTOINDEX_READ_SLICE; i++) {
        wm_http_autoindex_entry_t *e;
        struct dirent *de;
        struct stat st;
        size_t len;

        errno = 0;
        de = readdir(ctx->dir);
        if (de == NULL) {
            if (errno) {
                wm_log_error(WM_LOG_CRIT, wm_http_request_log(r), errno,
                             "readdir() \"%s\" failed", ctx->path);
                return 500;
            }
            closedir(ctx->dir);
            ctx->dir = NULL;
            return WM_OK;
        }
        if (de->d_name[0] == '.') {
            continue;
        }
        /* A link is shown as what it points to; a broken one as itself. */
        if (fstatat(dfd, de->d_name, &st, 0) != 0
            && ((errno != ENOENT && errno != ELOOP)
                || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0))
        {
            if (errno == ENOENT) {
                continue; /* removed since it was read */
            }
            wm_log_error(WM_LOG_CRIT, wm_http_request_log(r), errno,
                         "stat() \"%s%s\" failed", ctx->path, de->d_name);
            return 500;
        }
        len = strlen(de->d_name);
        e = wm_array_push(&ctx->entries);
        if (e == NULL) {
            return 500;
        }
        e->name.data = (u_char *) wm_pstrndup(r->pool, de->d_name, len);
        if (e->name.data == NULL) {
            return 500;
        }
        e->name.len = len;
        e->size = st.st_size;
        e->mtime = st.st_mtime;
        e->dir = S_ISDIR(st.st_mode) != 0;
        e->file = S_ISREG(st.st_mode) != 0;
    }
    return WM_AGAIN;
}

/* Writes a slice of the sorted listing. WM_AGAIN when there is more,
 * WM_OK once all is sent, WM_ERROR. */
static wm_int_t
wm_http_autoindex_write(wm_http_autoindex_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;
    wm_http_autoindex_entry_t *e = ctx->entries.elts;
    struct evbuffer *b = r->c->body;
    size_t end;

    if (evbuffer_get_length(r->c->out) > WM_AUTOINDEX_OUT_MAX) {
        ctx->waiting = 1;
        return WM_AGAIN;
    }
    ctx->waiting = 0;
    end = wm_min(ctx->entries.nelts, ctx->next + WM_AUTOINDEX_WRITE_SLICE);
    for (; ctx->next < end; ctx->next++) {
        if (wm_http_autoindex_entry(b, &ctx->style, &e[ctx->next],
                                    ctx->next == 0)
            != WM_OK)
        {
            return WM_ERROR;
        }
    }
    if (ctx->next < ctx->entries.nelts) {
        return wm_http_send_body(r, b, false) == WM_OK ? WM_AGAIN : WM_ERROR;
    }
    if (wm_http_autoindex_tail(b, &ctx->style, &ctx->callback,
                               ctx->entries.nelts > 0)
        != WM_OK)
    {
        return WM_ERROR;
    }
    return wm_http_send_body(r, b, true);
}

/* One step: a slice of reading, or of writing. As for the two above. */
static wm_int_t
wm_http_autoindex_step(wm_http_autoindex_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;
    wm_int_t rc;

    if (ctx->dir) {
        rc = wm_http_autoindex_read(ctx);
        if (rc != WM_OK) {
            return rc;
        }
        wm_http_autoindex_sort(ctx->entries.elts, ctx->entries.nelts);
        if (wm_http_send_header(r) != WM_OK
            || wm_http_autoindex_head(r->c->body, &ctx->style, &r->uri,
                                      &ctx->callback)
                   != WM_OK)
        {
            return WM_ERROR;
        }
    }
    return wm_http_autoindex_write(ctx);
}

/* Runs the next step now or schedules it; the result for the caller. */
static wm_int_t
wm_http_autoindex_continue(wm_http_autoindex_ctx_t *ctx)
{
    struct timeval now = {0, 0}, later = {0, WM_AUTOINDEX_WAIT_USEC};
    wm_int_t rc = wm_http_autoindex_step(ctx);

    if (rc != WM_AGAIN) {
        return rc;
    }
    if (ctx->ev == NULL) {
        ctx->ev = evtimer_new(ctx->r->c->base, wm_http_autoindex_run, ctx);
        if (ctx->ev == NULL) {
            return WM_ERROR;
        }
    }
    if (evtimer_add(ctx->ev, ctx->waiting ? &later : &now) != 0) {
        return WM_ERROR;
    }
    return WM_DONE;
}

static void
wm_http_autoindex_run(evutil_socket_t fd, short what, void *arg)
{
    wm_http_autoindex_ctx_t *ctx = arg;

    if (ctx->r->c->closing) {
        return; /* the connection's close frees the request */
    }
    wm_http_finalize(ctx->r, wm_http_autoindex_continue(ctx));
}

wm_int_t
wm_http_autoindex_handler(wm_http_request_t *r)
{
    wm_http_autoindex_conf_t *acf = wm_http_loc_conf(r,
                                                     wm_http_autoindex_module);
    wm_http_autoindex_ctx_t *ctx;
    size_t plen;
    char *path;
    DIR *dir;

    if (!acf->enable || r->uri.len == 0
        || r->uri.data[r->uri.len - 1] != '/')
    {
        return WM_DECLINED;
    }
    if (r->head.method != WM_HTTP_GET && r->head.method != WM_HTTP_HEAD) {
        return WM_DECLINED;
    }
    ctx = wm_pcalloc(r->pool, sizeof(*ctx));
    path = wm_http_map_uri(r, &r->uri, &plen);
    if (ctx == NULL || path == NULL
        || wm_array_init(&ctx->entries, r->pool, 64,
                         sizeof(wm_http_autoindex_entry_t))
               != WM_OK)
    {
        return 500;
    }
    ctx->r = r;
    ctx->path = path;
    ctx->style.format = (wm_http_autoindex_format_t) acf->format;
    ctx->style.exact_size = acf->exact_size != 0;
    ctx->style.localtime = acf->localtime != 0;
    if (ctx->style.format == WM_HTTP_AUTOINDEX_JSONP) {
        ctx->callback = wm_http_autoindex_callback(r);
        if (!wm_http_autoindex_callback_ok(&ctx->callback)) {
            wm_log_error(WM_LOG_INFO, wm_http_request_log(r), 0,
                         "client sent invalid callback name: \"%.*s\"",
                         (int) ctx->callback.len,
                         (const char *) ctx->callback.data);
            return 400;
        }
    }

    dir = opendir(path);
    if (dir == NULL) {
        int err = errno;
        bool missing = err == ENOENT || err == ENOTDIR
                       || err == ENAMETOOLONG;

        wm_log_error(missing || err == EACCES ? WM_LOG_ERR : WM_LOG_CRIT,
                     wm_http_request_log(r), err, "opendir() \"%s\" failed",
                     path);
        return missing ? 404 : err == EACCES ? 403 : 500;
    }
    ctx->dir = dir;
    if (wm_pool_cleanup_add(r->pool, wm_http_autoindex_cleanup, ctx)
        != WM_OK)
    {
        closedir(dir);
        ctx->dir = NULL;
        return 500;
    }

    r->status = 200;
    r->content_length = -1;
    r->last_modified = -1;
    r->allow_ranges = 0;
    switch (ctx->style.format) {
    case WM_HTTP_AUTOINDEX_HTML:
        r->content_type = (wm_str_t) wm_string("text/html");
        break;
    case WM_HTTP_AUTOINDEX_JSONP:
        if (ctx->callback.len) {
            r->content_type = (wm_str_t) wm_string("application/javascript");
            break;
        }
        /* fall through */
    case WM_HTTP_AUTOINDEX_JSON:
        r->content_type = (wm_str_t) wm_string("application/json");
        break;
    default:
        r->content_type = (wm_str_t) wm_string("text/xml; charset=utf-8");
        break;
    }
    if (r->head.method == WM_HTTP_HEAD) {
        closedir(dir);
        ctx->dir = NULL;
        if (wm_http_send_header(r) != WM_OK) {
            return WM_ERROR;
        }
        return wm_http_send_body(r, NULL, true);
    }
    return wm_http_autoindex_continue(ctx);
}

static void *
wm_http_autoindex_create(wm_conf_t *cf, unsigned level)
{
    wm_http_autoindex_conf_t *acf = wm_palloc(cf->pool, sizeof(*acf));

    if (acf) {
        acf->enable = WM_CONF_UNSET;
        acf->format = WM_CONF_UNSET;
        acf->exact_size = WM_CONF_UNSET;
        acf->localtime = WM_CONF_UNSET;
    }
    return acf;
}

static const char *
wm_http_autoindex_merge(wm_conf_t *cf, void *parent, void *child,
                        unsigned level)
{
    wm_http_autoindex_conf_t *prev = parent, *conf = child;

    wm_conf_merge_value(conf->enable, prev->enable, 0);
    wm_conf_merge_value(conf->format, prev->format, WM_HTTP_AUTOINDEX_HTML);
    wm_conf_merge_value(conf->exact_size, prev->exact_size, 1);
    wm_conf_merge_value(conf->localtime, prev->localtime, 0);
    return NULL;
}
