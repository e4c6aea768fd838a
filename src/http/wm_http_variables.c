/*
 * The HTTP variables ($uri, $host, $http_NAME, $1...). Each getter reads
 * the request and, where it must build text, writes into the request's
 * pool; names are resolved when the config is loaded.
 */
#include "wm_http.h"
#include "wm_http_proxy_head.h"
#include "wm_ssl.h"

#include "wm_log.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    WM_HV_URI,
    WM_HV_REQUEST_URI,
    WM_HV_ARGS,
    WM_HV_IS_ARGS,
    WM_HV_HOST,
    WM_HV_SCHEME,
    WM_HV_METHOD,
    WM_HV_REQUEST,
    WM_HV_SERVER_NAME,
    WM_HV_PROTOCOL,
    WM_HV_DOCUMENT_ROOT,
    WM_HV_REALPATH_ROOT,
    WM_HV_REQUEST_FILENAME,
    WM_HV_CONTENT_TYPE,
    WM_HV_CONTENT_LENGTH,
};

static wm_int_t
wm_http_var_set(wm_pool_t *pool, wm_str_t *v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static wm_int_t
wm_http_var_set(wm_pool_t *pool, wm_str_t *v, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return WM_ERROR;
    }
    v->data = (u_char *) wm_pstrndup(pool, buf, (size_t) n);
    v->len = (size_t) n;
    return v->data ? WM_OK : WM_ERROR;
}

static wm_int_t
wm_http_var_str(void *data, const wm_str_t *arg, uintptr_t which,
                wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;
    wm_http_header_t *h;

    switch (which) {
    case WM_HV_URI:
        *v = r->uri;
        break;
    case WM_HV_REQUEST_URI:
        /* Path and query as sent; an absolute-form target loses its
         * scheme and authority, as in nginx, and is `/` without a path
         * (nginx: `/`, but only the query when there is one). */
        return wm_http_proxy_raw_target(r->pool, &r->head, v);
    case WM_HV_ARGS:
        *v = r->args;
        break;
    case WM_HV_IS_ARGS:
        if (r->args.len) {
            wm_str_set(v, "?");
        }
        break;
    case WM_HV_HOST:
        /* Host of the request, else the server's first name. */
        *v = r->head.host.len ? r->head.host : r->server_name;
        break;
    case WM_HV_SCHEME:
        if (r->c->ssl) {
            wm_str_set(v, "https");
        } else {
            wm_str_set(v, "http");
        }
        break;
    case WM_HV_METHOD:
        *v = r->head.method_name;
        break;
    case WM_HV_REQUEST:
        *v = r->head.request_line;
        break;
    case WM_HV_SERVER_NAME:
        *v = r->server_name;
        break;
    case WM_HV_PROTOCOL:
        if (r->head.version >= WM_HTTP_VERSION_11) {
            wm_str_set(v, "HTTP/1.1");
        } else {
            wm_str_set(v, "HTTP/1.0");
        }
        break;
    case WM_HV_DOCUMENT_ROOT:
        if (wm_http_root_value(r, v) != WM_OK) {
            return WM_ERROR;
        }
        break;
    case WM_HV_REALPATH_ROOT: {
        /* The root with its symbolic links resolved (nginx: a deploy that
         * swaps a "current" link sees the new target at once). */
        wm_str_t dr;
        char *root = wm_http_root_value(r, &dr) == WM_OK
                         ? wm_pstrndup(pool, (const char *) dr.data, dr.len)
                         : NULL;
        char *real = root ? realpath(root, NULL) : NULL;

        if (real == NULL) {
            /* nginx logs it and goes on with an empty value. */
            if (root == NULL) {
                return WM_ERROR;
            }
            wm_log_error(WM_LOG_CRIT, wm_http_request_log(r), errno,
                         "realpath() \"%s\" failed", root);
            break;
        }
        v->data = (u_char *) wm_pstrndup(pool, real, strlen(real));
        v->len = strlen(real);
        free(real);
        if (v->data == NULL) {
            return WM_ERROR;
        }
        break;
    }
    case WM_HV_REQUEST_FILENAME: {
        size_t len;

        v->data = (u_char *) wm_http_map_uri(r, &r->uri, &len);
        if (v->data == NULL) {
            return WM_ERROR;
        }
        v->len = len;
        break;
    }
    case WM_HV_CONTENT_TYPE:
        h = wm_http_header_find(&r->head, "Content-Type");
        if (h) {
            *v = h->value;
        }
        break;
    case WM_HV_CONTENT_LENGTH:
        h = wm_http_header_find(&r->head, "Content-Length");
        if (h) {
            *v = h->value;
        }
        break;
    }
    return WM_OK;
}

static wm_int_t
wm_http_var_num(void *data, const wm_str_t *arg, uintptr_t which,
                wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;
    struct timeval now, d;

    switch (which) {
    case 0:
        /* While an error_page is served, nginx's $status is the status
         * the response will have: the error's, or the =code. */
        return wm_http_var_set(pool, v, "%03d",
                               r->error_page_status ? r->error_page_status
                                                    : r->status);
    case 1:
        return wm_http_var_set(pool, v, "%llu",
                               (unsigned long long) (r->bytes_sent
                                                     - r->header_size));
    case 2:
        return wm_http_var_set(pool, v, "%llu",
                               (unsigned long long) r->bytes_sent);
    case 3:
        return wm_http_var_set(pool, v, "%zu", r->head.head_len);
    case 4:
        gettimeofday(&now, NULL);
        timersub(&now, &r->start, &d);
        return wm_http_var_set(pool, v, "%ld.%03ld", (long) d.tv_sec,
                               (long) d.tv_usec / 1000);
    case 5:
        return wm_http_var_set(pool, v, "%llu",
                               (unsigned long long) r->c->number);
    default:
        return wm_http_var_set(pool, v, "%lu",
                               (unsigned long) r->c->requests);
    }
}

static wm_int_t
wm_http_var_addr(void *data, const wm_str_t *arg, uintptr_t which,
                 wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;
    wm_http_connection_t *c = r->c;
    struct sockaddr_storage *sa = &c->peer;
    socklen_t len = c->peerlen;
    char text[128], *colon, *host = text;

    if (which >= 2) {
        if (c->locallen == 0) {
            c->locallen = sizeof(c->local);
            if (getsockname(c->fd, (struct sockaddr *) &c->local,
                            &c->locallen)
                != 0)
            {
                c->locallen = 0;
                return WM_DECLINED;
            }
        }
        sa = &c->local;
        len = c->locallen;
    }
    if (which == 1 && wm_sockaddr_port((struct sockaddr *) sa) == 0) {
        return WM_OK; /* realip found an address without a port */
    }
    wm_sockaddr_text((struct sockaddr *) sa, len, text, sizeof(text));
    if (sa->ss_family == AF_UNIX) {
        if (which == 0 || which == 2) {
            wm_str_set(v, "unix:");
        }
        return WM_OK;
    }
    colon = strrchr(text, ':');
    if (colon == NULL) {
        return WM_DECLINED;
    }
    *colon = '\0';
    if (which == 1 || which == 3) {
        host = colon + 1;
    } else if (text[0] == '[') {
        host = text + 1;
        colon[-1] = '\0';
    }
    v->data = (u_char *) wm_pstrdup(pool, host);
    v->len = strlen(host);
    return v->data ? WM_OK : WM_ERROR;
}

bool
wm_http_name_match(const wm_str_t *header, const wm_str_t *var)
{
    size_t i;

    if (header->len != var->len) {
        return false;
    }
    for (i = 0; i < var->len; i++) {
        u_char a = header->data[i], b = var->data[i];

        a = (a >= 'A' && a <= 'Z') ? (u_char) (a | 0x20) : a;
        a = a == '-' ? '_' : a;
        if (a != b) {
            return false;
        }
    }
    return true;
}

/* $http_NAME: the request header, '-' written as '_'; repeated headers
 * are joined with ", " (cookies with "; ") as nginx does. */
static wm_int_t
wm_http_var_header(void *data, const wm_str_t *arg, uintptr_t which,
                   wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;
    bool cookie = arg->len == 6 && memcmp(arg->data, "cookie", 6) == 0;
    size_t i, n = 0, len = 0;
    u_char *p;

    for (i = 0; i < r->head.nheaders; i++) {
        if (wm_http_name_match(&r->head.headers[i].name, arg)) {
            if (n++ == 0) {
                *v = r->head.headers[i].value;
            }
            len += r->head.headers[i].value.len + 2;
        }
    }
    if (n <= 1) {
        return n ? WM_OK : WM_DECLINED;
    }
    p = wm_palloc(pool, len);
    if (p == NULL) {
        return WM_ERROR;
    }
    v->data = p;
    for (i = 0; i < r->head.nheaders; i++) {
        if (wm_http_name_match(&r->head.headers[i].name, arg)) {
            if (p != v->data) {
                *p++ = cookie ? ';' : ',';
                *p++ = ' ';
            }
            memcpy(p, r->head.headers[i].value.data,
                   r->head.headers[i].value.len);
            p += r->head.headers[i].value.len;
        }
    }
    v->len = (size_t) (p - v->data);
    return WM_OK;
}

/* Finds `name=value` in a list separated by sep (args: '&', cookies:
 * ';' with optional spaces). */
static wm_int_t
wm_http_var_pair(const wm_str_t *list, const wm_str_t *name, u_char sep,
                 wm_str_t *v)
{
    const u_char *p = list->data, *end = list->data + list->len;

    while (p < end) {
        const u_char *next = memchr(p, sep, (size_t) (end - p));
        const u_char *stop = next ? next : end;

        while (p < stop && *p == ' ') {
            p++;
        }
        if ((size_t) (stop - p) > name->len && p[name->len] == '='
            && memcmp(p, name->data, name->len) == 0)
        {
            v->data = (u_char *) p + name->len + 1;
            v->len = (size_t) (stop - v->data);
            return WM_OK;
        }
        p = next ? next + 1 : end;
    }
    return WM_DECLINED;
}

static wm_int_t
wm_http_var_arg(void *data, const wm_str_t *arg, uintptr_t which,
                wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;

    if (which == 0) {
        return wm_http_var_pair(&r->args, arg, '&', v);
    }
    {
        wm_str_t cookies, name = wm_string("cookie");

        if (wm_http_var_header(r, &name, 0, pool, &cookies) != WM_OK) {
            return WM_DECLINED;
        }
        return wm_http_var_pair(&cookies, arg, ';', v);
    }
}

/* $1..$9: captures of the last regex match. */
static wm_int_t
wm_http_var_capture(void *data, const wm_str_t *arg, uintptr_t n,
                    wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;

    if (r->captures == NULL || n >= r->ncaptures
        || r->captures[2 * n] == PCRE2_UNSET)
    {
        return WM_DECLINED;
    }
    v->data = r->captures_subject.data + r->captures[2 * n];
    v->len = r->captures[2 * n + 1] - r->captures[2 * n];
    return WM_OK;
}

/* $https and the $ssl_* variables; empty on a plain connection. */
static wm_int_t
wm_http_var_ssl(void *data, const wm_str_t *arg, uintptr_t which,
                wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;
    SSL *ssl = r->c->ssl;
    const char *s = NULL;

    if (ssl == NULL) {
        return which == 0 ? WM_OK : WM_DECLINED;
    }
    s = which == 0 ? "on" : wm_ssl_var_text(ssl, which);
    if (s == NULL) {
        return WM_DECLINED;
    }
    v->data = (u_char *) wm_pstrdup(pool, s);
    v->len = strlen(s);
    return v->data ? WM_OK : WM_ERROR;
}

static const wm_var_def_t wm_http_vars[] = {
    {"https", wm_http_var_ssl, 0, 0, NULL},
    {"ssl_protocol", wm_http_var_ssl, 1, 0, NULL},
    {"ssl_cipher", wm_http_var_ssl, 2, 0, NULL},
    {"ssl_server_name", wm_http_var_ssl, 3, 0, NULL},
    {"ssl_session_reused", wm_http_var_ssl, 4, 0, NULL},
    {"ssl_client_verify", wm_http_var_ssl, 5, 0, NULL},
    {"uri", wm_http_var_str, WM_HV_URI, 0, NULL},
    {"document_uri", wm_http_var_str, WM_HV_URI, 0, NULL},
    {"request_uri", wm_http_var_str, WM_HV_REQUEST_URI, 0, NULL},
    {"args", wm_http_var_str, WM_HV_ARGS, 0, NULL},
    {"query_string", wm_http_var_str, WM_HV_ARGS, 0, NULL},
    {"is_args", wm_http_var_str, WM_HV_IS_ARGS, 0, NULL},
    {"host", wm_http_var_str, WM_HV_HOST, 0, NULL},
    {"scheme", wm_http_var_str, WM_HV_SCHEME, 0, NULL},
    {"request_method", wm_http_var_str, WM_HV_METHOD, 0, NULL},
    {"request", wm_http_var_str, WM_HV_REQUEST, 0, NULL},
    {"server_name", wm_http_var_str, WM_HV_SERVER_NAME, 0, NULL},
    {"server_protocol", wm_http_var_str, WM_HV_PROTOCOL, 0, NULL},
    {"document_root", wm_http_var_str, WM_HV_DOCUMENT_ROOT, 0, NULL},
    {"realpath_root", wm_http_var_str, WM_HV_REALPATH_ROOT, 0, NULL},
    {"request_filename", wm_http_var_str, WM_HV_REQUEST_FILENAME, 0, NULL},
    {"content_type", wm_http_var_str, WM_HV_CONTENT_TYPE, 0, NULL},
    {"content_length", wm_http_var_str, WM_HV_CONTENT_LENGTH, 0, NULL},
    {"status", wm_http_var_num, 0, 0, NULL},
    {"body_bytes_sent", wm_http_var_num, 1, 0, NULL},
    {"bytes_sent", wm_http_var_num, 2, 0, NULL},
    {"request_length", wm_http_var_num, 3, 0, NULL},
    {"request_time", wm_http_var_num, 4, 0, NULL},
    {"connection", wm_http_var_num, 5, 0, NULL},
    {"connection_requests", wm_http_var_num, 6, 0, NULL},
    {"remote_addr", wm_http_var_addr, 0, 0, NULL},
    {"remote_port", wm_http_var_addr, 1, 0, NULL},
    {"server_addr", wm_http_var_addr, 2, 0, NULL},
    {"server_port", wm_http_var_addr, 3, 0, NULL},
    {"http_", wm_http_var_header, 0, 1, NULL},
    {"arg_", wm_http_var_arg, 0, 1, NULL},
    {"cookie_", wm_http_var_arg, 1, 1, NULL},
    {"0", wm_http_var_capture, 0, 0, NULL},
    {"1", wm_http_var_capture, 1, 0, NULL},
    {"2", wm_http_var_capture, 2, 0, NULL},
    {"3", wm_http_var_capture, 3, 0, NULL},
    {"4", wm_http_var_capture, 4, 0, NULL},
    {"5", wm_http_var_capture, 5, 0, NULL},
    {"6", wm_http_var_capture, 6, 0, NULL},
    {"7", wm_http_var_capture, 7, 0, NULL},
    {"8", wm_http_var_capture, 8, 0, NULL},
    {"9", wm_http_var_capture, 9, 0, NULL},
    {NULL, NULL, 0, 0, NULL},
};

const wm_var_def_t *const wm_http_var_tables[] = {
    wm_http_vars,
    wm_http_realip_vars,
    wm_http_proxy_protocol_vars,
    wm_http_log_vars,
    wm_http_limit_rate_vars,
    wm_http_capture_vars,
    wm_http_map_vars,
    wm_http_rewrite_vars,
    wm_http_proxy_vars,
    wm_var_common,
    NULL,
};
