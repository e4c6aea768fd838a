/*
 * The request body on its way to the upstream: read from the client while
 * the upstream's output is under proxy_buffers, re-framed in chunks for
 * HTTP/1.1 upstreams (or read whole first for HTTP/1.0 ones, which need a
 * Content-Length), and kept for a retry while it fits; and the timer of
 * the request (client_body_timeout, the tunnel's idle timeout).
 */
#include "wm_http_proxy.h"

#include "wm_log.h"

#include <event2/buffer.h>
#include <event2/event.h>

void
wm_http_proxy_body_timer(wm_http_proxy_ctx_t *ctx, bool on)
{
    wm_msec_t t = ctx->r->loc->client_body_timeout;
    struct timeval tv = {t / 1000, (t % 1000) * 1000};

    if (on) {
        wm_http_proxy_timer_add(ctx, &tv);
    } else {
        wm_http_proxy_timer_stop(ctx);
    }
}

wm_int_t
wm_http_proxy_dechunk(wm_http_chunked_t *c, struct evbuffer *in,
                      struct evbuffer *out, size_t *used)
{
    for (;;) {
        struct evbuffer_iovec v;
        size_t n = 0;
        wm_str_t data;
        wm_int_t rc;

        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) {
            return WM_AGAIN;
        }
        rc = wm_http_chunked_parse(c, v.iov_base, v.iov_len, &n, &data);
        if (rc == WM_OK && evbuffer_add(out, data.data, data.len) != 0) {
            return WM_ERROR;
        }
        evbuffer_drain(in, n);
        *used += n;
        if (rc == WM_DONE || rc == WM_ERROR) {
            return rc;
        }
    }
}

/* Frames what ctx->tmp holds for the upstream into dst. */
void
wm_http_proxy_frame(wm_http_proxy_ctx_t *ctx, struct evbuffer *dst, bool last)
{
    size_t len = evbuffer_get_length(ctx->tmp);

    if (ctx->body_chunked && len) {
        evbuffer_add_printf(dst, "%zx\r\n", len);
        evbuffer_add_buffer(dst, ctx->tmp);
        evbuffer_add(dst, "\r\n", 2);
    } else {
        evbuffer_add_buffer(dst, ctx->tmp);
    }
    if (ctx->body_chunked && last) {
        evbuffer_add(dst, "0\r\n\r\n", 5);
    }
}

/*
 * Moves the client's body on towards the upstream while the upstream's
 * output is under proxy_buffers (or, body_full, into the replay buffer
 * until it is whole, then connects). The bytes sent are also kept for a
 * retry while they fit in proxy_buffers.
 */
void
wm_http_proxy_pump(wm_http_proxy_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;
    size_t limit = ctx->conf->nbuffers * ctx->conf->buffers_size;

    while (!ctx->body_done && ctx->state != WM_PX_DONE) {
        struct evbuffer *out = ctx->bev ? bufferevent_get_output(ctx->bev)
                                        : NULL;
        struct evbuffer *framed;
        wm_int_t rc;
        int status;
        size_t max = WM_PX_BODY_SLICE;

        if (!ctx->body_full) {
            if (out == NULL) {
                return; /* between two tries */
            }
            if (evbuffer_get_length(out) >= limit) {
                ctx->client_paused = 1;
                wm_http_proxy_body_timer(ctx, false);
                return;
            }
            max = limit - evbuffer_get_length(out);
        }
        rc = wm_http_body_read(r, ctx->tmp, max, &status);
        if (rc == WM_ERROR) {
            wm_http_proxy_end(ctx, status);
            return;
        }
        if (rc == WM_OK) {
            ctx->body_done = 1;
        }
        if (evbuffer_get_length(ctx->tmp) == 0 && !ctx->body_done) {
            wm_http_proxy_body_timer(ctx, true);
            return;
        }
        wm_http_proxy_body_timer(ctx, false);
        framed = evbuffer_new();
        if (framed == NULL) {
            wm_http_proxy_end(ctx, 500);
            return;
        }
        wm_http_proxy_frame(ctx, framed, ctx->body_done);
        if (ctx->cur) {
            ctx->cur->bytes_sent += evbuffer_get_length(framed);
        }
        if (!ctx->replay_over) {
            if (ctx->body_full
                || evbuffer_get_length(ctx->replay)
                           + evbuffer_get_length(framed)
                       <= limit)
            {
                wm_http_proxy_copy(ctx->replay, framed);
            } else {
                /* Too big to keep: no other peer can be asked now. */
                ctx->replay_over = 1;
                evbuffer_drain(ctx->replay, evbuffer_get_length(ctx->replay));
            }
        }
        if (out) {
            evbuffer_add_buffer(out, framed);
        }
        evbuffer_free(framed);
        if (ctx->body_done && ctx->bev && ctx->connected) {
            wm_http_proxy_set_read_timeout(ctx);
        }
    }
    if (ctx->body_full && ctx->body_done && ctx->bev == NULL
        && ctx->state == WM_PX_HEAD)
    {
        ctx->body_full = 0;
        /* The length is known now: it goes as Content-Length. */
        if (wm_http_proxy_build(ctx, (int64_t) evbuffer_get_length(
                                         ctx->replay))
            != WM_OK)
        {
            wm_http_proxy_end(ctx, 500);
            return;
        }
        wm_http_proxy_connect(ctx);
    }
}

void
wm_http_proxy_timer(evutil_socket_t fd, short what, void *arg)
{
    wm_http_proxy_ctx_t *ctx = arg;

    if (ctx->state == WM_PX_TUNNEL) {
        wm_msec_t idle = wm_http_proxy_now() - ctx->last_io;

        if (idle < ctx->conf->read_timeout) {
            wm_msec_t t = ctx->conf->read_timeout - idle;
            struct timeval tv = {t / 1000, (t % 1000) * 1000};

            wm_http_proxy_timer_add(ctx, &tv);
            return;
        }
        wm_log_error(WM_LOG_INFO, &ctx->log, ETIMEDOUT,
                     "upstream timed out");
        wm_http_proxy_tunnel_end(ctx);
        return;
    }
    wm_log_error(WM_LOG_INFO, wm_http_request_log(ctx->r), ETIMEDOUT,
                 "client timed out while sending the request body");
    wm_http_proxy_end(ctx, 408);
}
