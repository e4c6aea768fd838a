/*
 * The HTTP variables that access log formats use beyond the core set:
 * $remote_user (from Basic credentials), $pipe, $sent_http_NAME (the
 * response head as written) and the $upstream_* names the proxy does not
 * set (always empty).
 */
#include "wm_http.h"

#include <openssl/evp.h>
#include <time.h>

wm_int_t
wm_http_basic_credentials(wm_http_request_t *r, wm_pool_t *pool,
                          wm_str_t *user, wm_str_t *pass)
{
    wm_http_header_t *h = r->head.nheaders
                              ? wm_http_header_find(&r->head, "Authorization")
                              : NULL;
    const u_char *p, *end;
    u_char *out, *colon;
    size_t len, pad = 0;
    int n;

    if (h == NULL || h->value.len < 6
        || strncasecmp((const char *) h->value.data, "Basic ", 6) != 0)
    {
        return WM_DECLINED;
    }
    p = h->value.data + 6;
    end = h->value.data + h->value.len;
    while (p < end && *p == ' ') {
        p++;
    }
    while (end > p && end[-1] == ' ') {
        end--;
    }
    len = (size_t) (end - p);
    if (len == 0 || len % 4 != 0 || len > 4096) {
        return WM_DECLINED;
    }
    pad = (end[-1] == '=') + (end[-2] == '=');
    out = wm_palloc(pool, len / 4 * 3 + 1);
    if (out == NULL) {
        return WM_ERROR;
    }
    n = EVP_DecodeBlock(out, p, (int) len);
    if (n < 0 || (size_t) n < pad) {
        return WM_DECLINED;
    }
    n -= (int) pad;
    colon = memchr(out, ':', (size_t) n);
    if (colon == NULL) {
        return WM_DECLINED;
    }
    user->data = out;
    user->len = (size_t) (colon - out);
    pass->data = colon + 1;
    pass->len = (size_t) (out + n - colon - 1);
    out[n] = '\0';
    return WM_OK;
}

/* $remote_user: the user name of `Authorization: Basic base64(user:pass)`;
 * not found without Basic credentials or without the ':'. */
static wm_int_t
wm_http_var_remote_user(void *data, const wm_str_t *arg, uintptr_t which,
                        wm_pool_t *pool, wm_str_t *v)
{
    wm_str_t pass;

    return wm_http_basic_credentials(data, pool, v, &pass);
}

/* $pipe: "p" when the request was read from bytes pipelined behind the
 * previous one, else ".". */
static wm_int_t
wm_http_var_pipe(void *data, const wm_str_t *arg, uintptr_t which,
                 wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;

    if (r->c->pipelined) {
        wm_str_set(v, "p");
    } else {
        wm_str_set(v, ".");
    }
    return WM_OK;
}

static wm_int_t
wm_http_var_copy(wm_pool_t *pool, wm_str_t *v, const void *s, size_t len)
{
    v->data = (u_char *) wm_pstrndup(pool, s, len);
    v->len = len;
    return v->data ? WM_OK : WM_ERROR;
}

/* $sent_http_NAME: a header of the response head as it was written
 * (see wm_http_write_header); not found before the head was sent. */
static wm_int_t
wm_http_var_sent(void *data, const wm_str_t *arg, uintptr_t which,
                 wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;
    u_char date[WM_HTTP_DATE_LEN + 1];
    char num[32];
    size_t i;

#define WM_IS(name)               \
    (arg->len == sizeof(name) - 1 \
     && memcmp(arg->data, name, sizeof(name) - 1) == 0)

    if (!r->header_sent) {
        return WM_DECLINED;
    }
    if (WM_IS("server")) {
        if (r->loc->server_tokens) {
            wm_str_set(v, "wmproxy/" PACKAGE_VERSION);
        } else {
            wm_str_set(v, "wmproxy");
        }
        return WM_OK;
    }
    if (WM_IS("date")) {
        return wm_http_var_copy(pool, v, date,
                                wm_http_date_format(date, time(NULL)));
    }
    if (WM_IS("content_type") && r->content_type.len) {
        *v = r->content_type;
        return WM_OK;
    }
    if (WM_IS("content_length") && r->content_length >= 0 && r->status != 204
        && r->status != 304)
    {
        int n =
            snprintf(num, sizeof(num), "%lld", (long long) r->content_length);

        return wm_http_var_copy(pool, v, num, (size_t) n);
    }
    if (WM_IS("transfer_encoding") && r->chunked_out
        && !(r->content_length >= 0 && r->status != 204 && r->status != 304))
    {
        wm_str_set(v, "chunked");
        return WM_OK;
    }
    if (WM_IS("last_modified") && r->last_modified >= 0
        && (r->status == 200 || r->status == 206 || r->status == 304))
    {
        return wm_http_var_copy(pool, v, date,
                                wm_http_date_format(date, r->last_modified));
    }
    if (WM_IS("location") && r->location.len) {
        *v = r->location;
        return WM_OK;
    }
    if (WM_IS("connection")) {
        if (r->keepalive) {
            wm_str_set(v, "keep-alive");
        } else {
            wm_str_set(v, "close");
        }
        return WM_OK;
    }
    if (WM_IS("etag") && r->etag.len) {
        *v = r->etag;
        return WM_OK;
    }
    if (WM_IS("accept_ranges") && r->allow_ranges && r->status == 200) {
        wm_str_set(v, "bytes");
        return WM_OK;
    }
#undef WM_IS
    for (i = 0; i < r->out_headers.nelts; i++) {
        wm_http_header_t *h = &((wm_http_header_t *) r->out_headers.elts)[i];

        if (wm_http_name_match(&h->name, arg)) {
            *v = h->value;
            return WM_OK;
        }
    }
    return WM_DECLINED;
}

/* The upstream variables of nginx that the proxy does not set yet: not
 * found. The ones it sets are in wm_http_proxy_vars. */
static wm_int_t
wm_http_var_none(void *data, const wm_str_t *arg, uintptr_t which,
                 wm_pool_t *pool, wm_str_t *v)
{
    return WM_DECLINED;
}

const wm_var_def_t wm_http_log_vars[] = {
    {"remote_user", wm_http_var_remote_user, 0, 0, NULL},
    {"pipe", wm_http_var_pipe, 0, 0, NULL},
    {"sent_http_", wm_http_var_sent, 0, 1, NULL},
    {"upstream_queue_time", wm_http_var_none, 0, 0, NULL},
    {"upstream_response_length", wm_http_var_none, 0, 0, NULL},
    {"upstream_cache_status", wm_http_var_none, 0, 0, NULL},
    {"upstream_cookie_", wm_http_var_none, 0, 1, NULL},
    {"upstream_trailer_", wm_http_var_none, 0, 1, NULL},
    {NULL, NULL, 0, 0, NULL},
};
