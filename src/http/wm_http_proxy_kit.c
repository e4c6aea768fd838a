/*
 * The per-request state of a proxied request, which outlives no request:
 * the ctx itself (4 KiB with its response header slots), the response
 * head buffer (proxy_buffer_size), the request head's memory, the replay
 * and scratch buffers and the timer. A worker keeps those of finished
 * requests (emptied, the timer stopped; 64 at most, so a few hundred KiB
 * with the default buffer sizes) and hands them to the next ones, which
 * saves six allocations and six frees per request on a busy proxy.
 *
 * A kept ctx is only taken again by a later request: the one that gave it
 * back is being freed, and nothing reads it after its pool's cleanup.
 */
#include "wm_http_proxy.h"

#include <event2/buffer.h>
#include <event2/event.h>

#define WM_HTTP_PROXY_KITS 64 /* kept per worker at most */
#define WM_HTTP_PROXY_KIT_HBUF 65536 /* a bigger hbuf or head is not kept */

static wm_http_proxy_ctx_t *wm_http_proxy_kits[WM_HTTP_PROXY_KITS];
static unsigned wm_http_proxy_nkits;

static void
wm_http_proxy_kit_free(wm_http_proxy_ctx_t *ctx)
{
    if (ctx->replay) {
        evbuffer_free(ctx->replay);
    }
    if (ctx->tmp) {
        evbuffer_free(ctx->tmp);
    }
    if (ctx->timer) {
        event_free(ctx->timer);
    }
    free(ctx->hbuf);
    free(ctx->head);
    free(ctx);
}

/* Zeroes ctx but for what a kit keeps, and the header slots (the parser
 * fills them in order; only the first st.nheaders are ever read). */
static void
wm_http_proxy_kit_clear(wm_http_proxy_ctx_t *ctx)
{
    struct evbuffer *replay = ctx->replay, *tmp = ctx->tmp;
    u_char *head = ctx->head;
    size_t head_size = ctx->head_size;
    struct event *timer = ctx->timer;
    u_char *hbuf = ctx->hbuf;
    size_t hbuf_size = ctx->hbuf_size;

    memset(ctx, 0, offsetof(wm_http_proxy_ctx_t, headers));
    ctx->head = head;
    ctx->head_size = head_size;
    ctx->replay = replay;
    ctx->tmp = tmp;
    ctx->timer = timer;
    ctx->hbuf = hbuf;
    ctx->hbuf_size = hbuf_size;
}

wm_http_proxy_ctx_t *
wm_http_proxy_kit_get(struct event_base *base, size_t hbuf_size)
{
    wm_http_proxy_ctx_t *ctx;

    if (wm_http_proxy_nkits) {
        ctx = wm_http_proxy_kits[--wm_http_proxy_nkits];
        wm_http_proxy_kit_clear(ctx);
        /* The timer is stopped, and made for this ctx (the worker has
         * one base): it is as it was made. */
        if (event_get_base(ctx->timer) != base) {
            event_assign(ctx->timer, base, -1, 0, wm_http_proxy_timer, ctx);
        }
    } else {
        ctx = malloc(sizeof(*ctx));
        if (ctx == NULL) {
            return NULL;
        }
        memset(ctx, 0, offsetof(wm_http_proxy_ctx_t, headers));
        ctx->replay = evbuffer_new();
        ctx->tmp = evbuffer_new();
        ctx->timer = evtimer_new(base, wm_http_proxy_timer, ctx);
        if (ctx->replay == NULL || ctx->tmp == NULL
            || ctx->timer == NULL)
        {
            wm_http_proxy_kit_free(ctx);
            return NULL;
        }
    }
    if (ctx->hbuf_size < hbuf_size) {
        free(ctx->hbuf);
        ctx->hbuf_size = 0;
        ctx->hbuf = malloc(hbuf_size);
        if (ctx->hbuf == NULL) {
            wm_http_proxy_kit_free(ctx);
            return NULL;
        }
        ctx->hbuf_size = hbuf_size;
    }
    return ctx;
}

static void
wm_http_proxy_kit_empty(struct evbuffer *b)
{
    size_t len = evbuffer_get_length(b);

    if (len) {
        evbuffer_drain(b, len);
    }
}

void
wm_http_proxy_timer_add(wm_http_proxy_ctx_t *ctx, const struct timeval *tv)
{
    ctx->timer_used = 1;
    evtimer_add(ctx->timer, tv);
}

void
wm_http_proxy_timer_stop(wm_http_proxy_ctx_t *ctx)
{
    if (ctx->timer_used) {
        evtimer_del(ctx->timer);
    }
}

void
wm_http_proxy_kit_put(wm_http_proxy_ctx_t *ctx)
{
    wm_http_proxy_timer_stop(ctx);
    if (wm_http_proxy_nkits < WM_HTTP_PROXY_KITS) {
        wm_http_proxy_kit_empty(ctx->replay);
        wm_http_proxy_kit_empty(ctx->tmp);
        if (ctx->hbuf_size > WM_HTTP_PROXY_KIT_HBUF) {
            free(ctx->hbuf);
            ctx->hbuf = NULL;
            ctx->hbuf_size = 0;
        }
        if (ctx->head_size > WM_HTTP_PROXY_KIT_HBUF) {
            free(ctx->head);
            ctx->head = NULL;
            ctx->head_size = 0;
        }
        wm_http_proxy_kits[wm_http_proxy_nkits++] = ctx;
        return;
    }
    wm_http_proxy_kit_free(ctx);
}

void
wm_http_proxy_kit_exit(void)
{
    while (wm_http_proxy_nkits) {
        wm_http_proxy_kit_free(wm_http_proxy_kits[--wm_http_proxy_nkits]);
    }
}
