/*
 * `add_header name value [always];` and `expires`: a header filter that
 * adds configured fields to responses, by nginx's rules: only for 200,
 * 201, 204, 206, 301, 302, 303, 304, 307 and 308 unless `always`, values
 * evaluated per request (an empty one adds nothing), and a level that has
 * an add_header of its own inherits none from above. `expires` sets
 * Expires and Cache-Control for the same statuses.
 */
#include "wm_http.h"
#include "wm_http_headers.h"

#include "wm_log.h"

#include <strings.h>

/* add_header fields that nginx treats as the response's own. */
typedef enum {
    WM_HTTP_ADD_PLAIN = 0,
    WM_HTTP_ADD_ETAG,
    WM_HTTP_ADD_LAST_MODIFIED,
} wm_http_add_kind_t;

typedef struct {
    wm_str_t name;
    wm_cv_t value;
    wm_http_add_kind_t kind;
    unsigned always : 1;
} wm_http_add_header_t;

typedef struct {
    wm_array_t *headers;  /* wm_http_add_header_t; NULL: inherit */
    wm_int_t expires;     /* wm_http_expires_mode_t; WM_CONF_UNSET */
    time_t expires_time;
} wm_http_headers_conf_t;

/* nginx's `expires max`. */
#define WM_HTTP_EXPIRES_MAX_DATE "Thu, 31 Dec 2037 23:55:55 GMT"
#define WM_HTTP_EXPIRES_MAX_AGE "max-age=315360000"

static void *wm_http_headers_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_headers_merge(wm_conf_t *cf, void *prev,
                                         void *conf, unsigned level);
static const char *wm_http_add_header_set(wm_conf_t *cf,
                                          const wm_command_t *cmd,
                                          void *conf);
static const char *wm_http_expires_set(wm_conf_t *cf, const wm_command_t *cmd,
                                       void *conf);

#define WM_HDR_CTX                                                             \
    WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC | WM_CTX_HTTP_LIF

static const wm_command_t wm_http_headers_commands[] = {
    {"add_header", WM_HDR_CTX, 2, 3, WM_CMD_MULTI, WM_LVL_LOC,
     wm_http_add_header_set, 0, NULL, "-",
     "name value [always]: add a response header field"},
    {"expires", WM_HDR_CTX, 1, 2, 0, WM_LVL_LOC, wm_http_expires_set, 0, NULL,
     "off", "[modified] [-]time | @time | epoch | max | off: set Expires "
            "and Cache-Control"},
    wm_null_command,
};

wm_module_t wm_http_headers_module = {
    .name = "http_headers",
    .family = WM_MOD_HTTP,
    .commands = wm_http_headers_commands,
    .create_conf = wm_http_headers_create,
    .merge_conf = wm_http_headers_merge,
};

void
wm_http_expires_compute(wm_http_expires_mode_t mode, time_t time, time_t now,
                        time_t last_modified, time_t *expires,
                        time_t *max_age)
{
    struct tm tm;
    time_t midnight;

    switch (mode) {
    case WM_HTTP_EXPIRES_EPOCH:
        *expires = 1;
        *max_age = -1;
        return;
    case WM_HTTP_EXPIRES_MAX:
        *expires = -1;
        *max_age = 315360000;
        return;
    case WM_HTTP_EXPIRES_DAILY:
        /* The next moment of the day at `time` local time, tomorrow when
         * it has passed today (mktime copes with DST changes). */
        localtime_r(&now, &tm);
        tm.tm_hour = 0;
        tm.tm_min = 0;
        tm.tm_sec = (int) time;
        tm.tm_isdst = -1;
        midnight = mktime(&tm);
        if (midnight <= now) {
            localtime_r(&now, &tm);
            tm.tm_mday++;
            tm.tm_hour = 0;
            tm.tm_min = 0;
            tm.tm_sec = (int) time;
            tm.tm_isdst = -1;
            midnight = mktime(&tm);
        }
        *expires = midnight;
        *max_age = midnight - now;
        return;
    case WM_HTTP_EXPIRES_MODIFIED:
        if (last_modified >= 0) {
            *expires = last_modified + time;
            *max_age = *expires - now;
            if (time < 0 || *max_age < 0) {
                *max_age = -1;
            }
            return;
        }
        break; /* without a Last-Modified, it counts from now */
    default:
        break;
    }
    *expires = now + time;
    *max_age = time < 0 ? -1 : time;
}

static bool
wm_http_header_named(const wm_http_header_t *h, const char *name)
{
    size_t n = strlen(name);

    return h->name.len == n && strncasecmp((const char *) h->name.data, name,
                                           n) == 0;
}

/* Removes every response header field called name (any case). */
static void
wm_http_headers_drop(wm_http_request_t *r, const char *name)
{
    wm_http_header_t *h = r->out_headers.elts;
    size_t i, kept = 0;

    for (i = 0; i < r->out_headers.nelts; i++) {
        if (!wm_http_header_named(&h[i], name)) {
            h[kept++] = h[i];
        }
    }
    r->out_headers.nelts = kept;
}

static wm_int_t
wm_http_set_expires(wm_http_request_t *r, const wm_http_headers_conf_t *hcf)
{
    u_char date[WM_HTTP_DATE_LEN + 1];
    char cc[40];
    wm_str_t v;
    time_t expires, max_age;

    wm_http_expires_compute((wm_http_expires_mode_t) hcf->expires,
                            hcf->expires_time, time(NULL), r->last_modified,
                            &expires, &max_age);
    wm_http_headers_drop(r, "Expires");
    wm_http_headers_drop(r, "Cache-Control");
    if (expires == -1) {
        v.data = (u_char *) WM_HTTP_EXPIRES_MAX_DATE;
        v.len = sizeof(WM_HTTP_EXPIRES_MAX_DATE) - 1;
    } else {
        v.data = date;
        v.len = wm_http_date_format(date, expires);
    }
    if (wm_http_add_header(r, "Expires", &v) != WM_OK) {
        return WM_ERROR;
    }
    if (max_age < 0) {
        v.data = (u_char *) "no-cache";
        v.len = 8;
    } else {
        v.data = (u_char *) cc;
        v.len = (size_t) snprintf(cc, sizeof(cc), "max-age=%lld",
                                  (long long) max_age);
    }
    return wm_http_add_header(r, "Cache-Control", &v);
}

/* Whether a status gets the headers that have no `always` (nginx's
 * list of successful and redirecting answers). */
static bool
wm_http_headers_status_ok(int status)
{
    switch (status) {
    case 200:
    case 201:
    case 204:
    case 206:
    case 301:
    case 302:
    case 303:
    case 304:
    case 307:
    case 308:
        return true;
    default:
        return false;
    }
}

wm_int_t
wm_http_headers_filter(wm_http_request_t *r)
{
    wm_http_headers_conf_t *hcf = wm_http_loc_conf(r, wm_http_headers_module);
    bool ok = wm_http_headers_status_ok(r->status);
    wm_http_add_header_t *h;
    size_t i;

    if (hcf->expires != WM_HTTP_EXPIRES_OFF && ok
        && wm_http_set_expires(r, hcf) != WM_OK)
    {
        return WM_ERROR;
    }
    if (hcf->headers == NULL) {
        return WM_OK;
    }
    h = hcf->headers->elts;
    for (i = 0; i < hcf->headers->nelts; i++) {
        wm_str_t v;

        if (!ok && !h[i].always) {
            continue;
        }
        if (wm_cv_eval(&h[i].value, r, r->pool, &v) != WM_OK) {
            return WM_ERROR;
        }
        if (v.len
            && (memchr(v.data, '\r', v.len) || memchr(v.data, '\n', v.len)))
        {
            /* A variable ($uri decodes %0A) would split the head. */
            wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                         "add_header \"%s\" has a line break in its value, "
                         "not sent",
                         (const char *) h[i].name.data);
            continue;
        }
        switch (h[i].kind) {
        case WM_HTTP_ADD_ETAG:
            /* Replaces the response's own; an empty value removes it. */
            r->etag = v;
            continue;
        case WM_HTTP_ADD_LAST_MODIFIED:
            r->last_modified = -1;
            break;
        default:
            break;
        }
        if (v.len
            && wm_http_add_header(r, (const char *) h[i].name.data, &v)
                   != WM_OK)
        {
            return WM_ERROR;
        }
    }
    return WM_OK;
}

static void *
wm_http_headers_create(wm_conf_t *cf, unsigned level)
{
    wm_http_headers_conf_t *hcf = wm_pcalloc(cf->pool, sizeof(*hcf));

    if (hcf) {
        hcf->expires = WM_CONF_UNSET;
    }
    return hcf;
}

static const char *
wm_http_headers_merge(wm_conf_t *cf, void *parent, void *child,
                      unsigned level)
{
    wm_http_headers_conf_t *prev = parent, *conf = child;

    if (conf->headers == NULL) {
        conf->headers = prev->headers;
    }
    if (conf->expires == WM_CONF_UNSET) {
        conf->expires = prev->expires == WM_CONF_UNSET ? WM_HTTP_EXPIRES_OFF
                                                       : prev->expires;
        conf->expires_time = prev->expires_time;
    }
    return NULL;
}

static const char *
wm_http_add_header_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_headers_conf_t *hcf = conf;
    const wm_conf_node_t *n = cf->node;
    wm_http_add_header_t *h;
    const char *rv;
    size_t i;

    if (n->args[0].len == 0) {
        return "has an empty header name";
    }
    for (i = 0; i < n->args[0].len; i++) {
        u_char c = n->args[0].data[i];

        /* A token (RFC 9110): no separators, spaces or controls, which
         * would split or corrupt the response head. */
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c)) {
            return wm_conf_errf(cf, "has invalid header name \"%s\"",
                                (const char *) n->args[0].data);
        }
    }
    if (n->nargs == 3 && !wm_str_eq(&n->args[2], "always")) {
        return wm_conf_errf(cf, "has invalid parameter \"%s\"",
                            (const char *) n->args[2].data);
    }
    if (memchr(n->args[1].data, '\r', n->args[1].len)
        || memchr(n->args[1].data, '\n', n->args[1].len))
    {
        return "has a line break in its value";
    }
    if (hcf->headers == NULL) {
        hcf->headers = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (hcf->headers == NULL
            || wm_array_init(hcf->headers, cf->pool, 4, sizeof(*h)) != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    h = wm_array_push(hcf->headers);
    if (h == NULL) {
        return "failed: out of memory";
    }
    h->name = n->args[0];
    h->always = n->nargs == 3;
    if (n->args[0].len == 4
        && strncasecmp((const char *) n->args[0].data, "ETag", 4) == 0)
    {
        h->kind = WM_HTTP_ADD_ETAG;
    } else if (n->args[0].len == 13
               && strncasecmp((const char *) n->args[0].data, "Last-Modified",
                              13) == 0)
    {
        h->kind = WM_HTTP_ADD_LAST_MODIFIED;
    }
    rv = wm_cv_compile(cf->pool, &n->args[1], wm_http_var_tables, &h->value);
    return rv;
}

/* A time in seconds with nginx's units, optionally negative; -1 and
 * *ok false on a bad value. */
static time_t
wm_http_expires_parse_time(const wm_str_t *arg, bool *ok)
{
    wm_str_t s = *arg;
    bool neg = s.len && s.data[0] == '-';
    wm_msec_t ms;

    if (neg || (s.len && s.data[0] == '+')) {
        s.data++;
        s.len--;
    }
    ms = wm_parse_msec(&s);
    *ok = ms != (wm_msec_t) -1;
    if (!*ok) {
        return -1;
    }
    return neg ? -(time_t) (ms / 1000) : (time_t) (ms / 1000);
}

static const char *
wm_http_expires_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_headers_conf_t *hcf = conf;
    const wm_conf_node_t *n = cf->node;
    const wm_str_t *arg = &n->args[n->nargs - 1];
    bool ok;

    if (hcf->expires != WM_CONF_UNSET) {
        return "is duplicate";
    }
    hcf->expires_time = 0;
    if (n->nargs == 2) {
        if (!wm_str_eq(&n->args[0], "modified")) {
            return wm_conf_errf(cf, "has invalid value \"%s\"",
                                (const char *) n->args[0].data);
        }
        hcf->expires = WM_HTTP_EXPIRES_MODIFIED;
    } else if (wm_str_eq(arg, "off")) {
        hcf->expires = WM_HTTP_EXPIRES_OFF;
        return NULL;
    } else if (wm_str_eq(arg, "epoch")) {
        hcf->expires = WM_HTTP_EXPIRES_EPOCH;
        return NULL;
    } else if (wm_str_eq(arg, "max")) {
        hcf->expires = WM_HTTP_EXPIRES_MAX;
        return NULL;
    } else if (arg->len && arg->data[0] == '@') {
        wm_str_t at = {arg->len - 1, arg->data + 1};

        hcf->expires = WM_HTTP_EXPIRES_DAILY;
        hcf->expires_time = wm_http_expires_parse_time(&at, &ok);
        if (!ok || at.data[0] == '-' || at.data[0] == '+'
            || hcf->expires_time >= 86400)
        {
            return wm_conf_errf(cf, "has invalid value \"%s\"",
                                (const char *) arg->data);
        }
        return NULL;
    } else {
        hcf->expires = WM_HTTP_EXPIRES_ACCESS;
    }
    hcf->expires_time = wm_http_expires_parse_time(arg, &ok);
    if (!ok) {
        return wm_conf_errf(cf, "has invalid value \"%s\"",
                            (const char *) arg->data);
    }
    return NULL;
}
