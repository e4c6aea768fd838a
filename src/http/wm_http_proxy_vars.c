/*
 * The variables of the HTTP proxy: $proxy_host, $proxy_port,
 * $proxy_add_x_forwarded_for, and the $upstream_* reports of the peers a
 * request tried (one value per try, comma-separated, as nginx).
 */
#include "wm_http_proxy.h"

#include <event2/buffer.h>

enum {
    WM_PXV_HOST,
    WM_PXV_PORT,
    WM_PXV_XFF,
    WM_PXV_ADDR,
    WM_PXV_STATUS,
    WM_PXV_RESPONSE_TIME,
    WM_PXV_CONNECT_TIME,
    WM_PXV_HEADER_TIME,
    WM_PXV_BYTES_SENT,
    WM_PXV_BYTES_RECEIVED,
};

static bool
wm_http_proxy_is_xff(const wm_str_t *name)
{
    return name->len == 15 && wm_http_caseeq(name->data, "X-Forwarded-For", 15);
}

/* $proxy_add_x_forwarded_for: every X-Forwarded-For of the request, in
 * order and joined with ", " (as nginx 1.23 does), then the client's
 * address ($remote_addr, so after realip). v lives in pool. */
static wm_int_t
wm_http_proxy_var_xff(wm_http_request_t *r, wm_pool_t *pool, wm_str_t *v)
{
    const wm_http_header_t *h = r->head.headers;
    size_t i, len = strlen(r->c->peer_text);
    u_char *p;

    for (i = 0; i < r->head.nheaders; i++) {
        if (wm_http_proxy_is_xff(&h[i].name)) {
            len += h[i].value.len + 2;
        }
    }
    p = wm_palloc(pool, len + 1);
    if (p == NULL) {
        return WM_ERROR;
    }
    v->data = p;
    for (i = 0; i < r->head.nheaders; i++) {
        if (wm_http_proxy_is_xff(&h[i].name)) {
            memcpy(p, h[i].value.data, h[i].value.len);
            p += h[i].value.len;
            *p++ = ',';
            *p++ = ' ';
        }
    }
    p = (u_char *) stpcpy((char *) p, r->c->peer_text);
    v->len = (size_t) (p - v->data);
    return WM_OK;
}

static wm_int_t
wm_http_proxy_var(void *data, const wm_str_t *arg, uintptr_t which,
                  wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;
    wm_http_proxy_ctx_t *ctx = r->ctx[wm_http_proxy_module.index];
    wm_http_proxy_loc_conf_t *pcf = wm_http_loc_conf(r, wm_http_proxy_module);
    struct evbuffer *b;
    size_t i;

    if (which == WM_PXV_HOST || which == WM_PXV_PORT) {
        const wm_http_proxy_url_t *u = ctx ? &ctx->url : &pcf->url;

        *v = which == WM_PXV_HOST ? u->host : u->port;
        return v->len ? WM_OK : WM_DECLINED;
    }
    if (which == WM_PXV_XFF) {
        return wm_http_proxy_var_xff(r, pool, v);
    }
    if (ctx == NULL || ctx->tries.nelts == 0) {
        return WM_DECLINED;
    }
    b = evbuffer_new();
    if (b == NULL) {
        return WM_ERROR;
    }
    for (i = 0; i < ctx->tries.nelts; i++) {
        wm_http_proxy_try_t *t = &((wm_http_proxy_try_t *) ctx->tries.elts)[i];
        wm_msec_t ms = -1;

        if (i) {
            evbuffer_add(b, ", ", 2);
        }
        switch (which) {
        case WM_PXV_ADDR:
            evbuffer_add(b, t->addr.data, t->addr.len);
            continue;
        case WM_PXV_STATUS:
            if (t->status) {
                evbuffer_add_printf(b, "%d", t->status);
            } else {
                evbuffer_add(b, "-", 1);
            }
            continue;
        case WM_PXV_BYTES_SENT:
            evbuffer_add_printf(b, "%llu", (unsigned long long) t->bytes_sent);
            continue;
        case WM_PXV_BYTES_RECEIVED:
            evbuffer_add_printf(b, "%llu",
                                (unsigned long long) t->bytes_received);
            continue;
        case WM_PXV_RESPONSE_TIME:
            ms = t->response_time;
            if (ms < 0) {
                ms = wm_upstream_now() - ctx->try_start;
            }
            break;
        case WM_PXV_CONNECT_TIME:
            ms = t->connect_time;
            break;
        default:
            ms = t->header_time;
            break;
        }
        if (ms < 0) {
            evbuffer_add(b, "-", 1);
        } else {
            evbuffer_add_printf(b, "%lld.%03lld", (long long) ms / 1000,
                                (long long) ms % 1000);
        }
    }
    v->len = evbuffer_get_length(b);
    v->data = wm_palloc(pool, v->len + 1);
    if (v->data) {
        evbuffer_remove(b, v->data, v->len);
    }
    evbuffer_free(b);
    return v->data ? WM_OK : WM_ERROR;
}

/* $upstream_http_NAME: a header of the last response. */
static wm_int_t
wm_http_proxy_var_header(void *data, const wm_str_t *arg, uintptr_t which,
                         wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;
    wm_http_proxy_ctx_t *ctx = r->ctx[wm_http_proxy_module.index];
    size_t i, j;

    if (ctx == NULL || ctx->cur == NULL || ctx->cur->header_time < 0) {
        return WM_DECLINED;
    }
    for (i = 0; i < ctx->st.nheaders; i++) {
        const wm_str_t *n = &ctx->st.headers[i].name;

        if (n->len != arg->len) {
            continue;
        }
        for (j = 0; j < n->len; j++) {
            u_char a = n->data[j];

            a = (a >= 'A' && a <= 'Z') ? (u_char) (a | 0x20) : a;
            if ((a == '-' ? '_' : a) != arg->data[j]) {
                break;
            }
        }
        if (j == n->len) {
            *v = ctx->st.headers[i].value;
            return WM_OK;
        }
    }
    return WM_DECLINED;
}

const wm_var_def_t wm_http_proxy_vars[] = {
    {"proxy_host", wm_http_proxy_var, WM_PXV_HOST, 0, NULL},
    {"proxy_port", wm_http_proxy_var, WM_PXV_PORT, 0, NULL},
    {"proxy_add_x_forwarded_for", wm_http_proxy_var, WM_PXV_XFF, 0, NULL},
    {"upstream_addr", wm_http_proxy_var, WM_PXV_ADDR, 0, NULL},
    {"upstream_status", wm_http_proxy_var, WM_PXV_STATUS, 0, NULL},
    {"upstream_response_time", wm_http_proxy_var, WM_PXV_RESPONSE_TIME, 0,
     NULL},
    {"upstream_connect_time", wm_http_proxy_var, WM_PXV_CONNECT_TIME, 0, NULL},
    {"upstream_header_time", wm_http_proxy_var, WM_PXV_HEADER_TIME, 0, NULL},
    {"upstream_bytes_sent", wm_http_proxy_var, WM_PXV_BYTES_SENT, 0, NULL},
    {"upstream_bytes_received", wm_http_proxy_var, WM_PXV_BYTES_RECEIVED, 0,
     NULL},
    {"upstream_http_", wm_http_proxy_var_header, 0, 1, NULL},
    {NULL, NULL, 0, 0, NULL},
};
