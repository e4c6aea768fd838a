/*
 * After a 101 answer to an Upgrade request: both connections become a
 * two-way relay of raw bytes (WebSocket), each direction bounded by
 * proxy_buffer_size, until either side closes or nothing moved for
 * proxy_read_timeout.
 */
#include "wm_http_proxy.h"

#include "wm_log.h"

#include <event2/buffer.h>
#include <event2/event.h>

void
wm_http_proxy_tunnel_end(wm_http_proxy_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;

    wm_http_proxy_end(ctx, WM_DONE);
    r->keepalive = 0;
    r->done = 1;
    wm_http_connection_flush(r->c);
}

void
wm_http_proxy_tunnel_up(wm_http_proxy_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;
    struct evbuffer *in = bufferevent_get_input(ctx->bev);
    size_t len = evbuffer_get_length(in);

    if (len) {
        ctx->cur->bytes_received += len;
        ctx->last_io = wm_http_proxy_now();
        evbuffer_add_buffer(r->c->out, in);
        wm_http_connection_flush(r->c);
    }
    if (ctx->state == WM_PX_TUNNEL
        && evbuffer_get_length(r->c->out) > ctx->conf->buffer_size)
    {
        ctx->up_paused = 1;
        bufferevent_disable(ctx->bev, EV_READ);
    }
}

void
wm_http_proxy_tunnel_client(wm_http_proxy_ctx_t *ctx)
{
    wm_http_connection_t *c = ctx->r->c;
    struct evbuffer *out = bufferevent_get_output(ctx->bev);

    for (;;) {
        size_t len = evbuffer_get_length(c->in);
        ssize_t n;

        if (len) {
            ctx->cur->bytes_sent += len;
            ctx->last_io = wm_http_proxy_now();
            evbuffer_add_buffer(out, c->in);
        }
        if (evbuffer_get_length(out) >= ctx->conf->buffer_size) {
            ctx->client_paused = 1;
            return;
        }
        if (!c->read_ready) {
            return;
        }
        n = wm_http_connection_recv(c, 16384);
        if (n == WM_AGAIN) {
            return;
        }
        if (n <= 0) {
            /* The client is gone: what it sent last still goes. */
            wm_http_proxy_tunnel_end(ctx);
            return;
        }
    }
}

void
wm_http_proxy_tunnel(wm_http_proxy_ctx_t *ctx)
{
    wm_msec_t t = ctx->conf->read_timeout;
    struct timeval tv = {t / 1000, (t % 1000) * 1000};

    ctx->state = WM_PX_TUNNEL;
    ctx->log.action = "while proxying upgraded connection";
    bufferevent_enable(ctx->bev, EV_WRITE); /* off after a direct write */
    /* The request head points into c->in: it stays with the request, and
     * the client's bytes after it are the first of the tunnel. */
    if (!ctx->has_body && wm_http_body_start(ctx->r) != WM_OK) {
        wm_http_proxy_tunnel_end(ctx);
        return;
    }
    wm_http_connection_flush(ctx->r->c);
    ctx->last_io = wm_http_proxy_now();
    bufferevent_set_timeouts(ctx->bev, NULL, NULL);
    bufferevent_setwatermark(ctx->bev, EV_READ, 0, 0);
    bufferevent_setwatermark(ctx->bev, EV_WRITE, ctx->conf->buffer_size / 2,
                             0);
    wm_http_proxy_timer_add(ctx, &tv);
    wm_http_proxy_tunnel_up(ctx);
    if (ctx->state == WM_PX_TUNNEL) {
        wm_http_proxy_tunnel_client(ctx);
    }
}
