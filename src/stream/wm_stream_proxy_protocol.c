/*
 * `listen ... proxy_protocol` in a stream server: before the session's
 * handler runs, the PROXY protocol header (v1 or v2) the balancer in front
 * sent is read and removed from the connection, and the addresses it
 * carries become $proxy_protocol_addr and friends. The header is peeked
 * (edge-triggered, so a partial one waits for more bytes without spinning)
 * and only its own bytes are consumed: the payload stays in the socket for
 * the handler.
 */
#include "wm_stream.h"

#include "wm_log.h"

#include <event2/event.h>

#define WM_STREAM_PP_TIMEOUT 30

typedef struct {
    struct event *ev;
    wm_stream_handler_pt next;
} wm_stream_pp_ctx_t;

static void
wm_stream_pp_done(wm_stream_session_t *s, wm_stream_pp_ctx_t *ctx, bool ok)
{
    event_free(ctx->ev);
    ctx->ev = NULL;
    s->pp_ctx = NULL;
    if (!ok) {
        wm_stream_finalize(s, 400);
        return;
    }
    s->log.action = NULL;
    ctx->next(s);
}

static void
wm_stream_pp_read(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_session_t *s = arg;
    wm_stream_pp_ctx_t *ctx = s->pp_ctx;
    const char *err = NULL;
    wm_int_t rc;

    if (what & EV_TIMEOUT) {
        wm_log_error(WM_LOG_INFO, &s->log, ETIMEDOUT, "client timed out");
        wm_stream_pp_done(s, ctx, false);
        return;
    }
    rc = wm_pp_recv(fd, &s->pp, &err);
    if (rc == WM_AGAIN) {
        return;
    }
    if (rc == WM_DECLINED) {
        if (errno) {
            wm_log_error(WM_LOG_INFO, &s->log, errno, "recv() failed");
        } else {
            wm_log_error(WM_LOG_INFO, &s->log, 0,
                         "client closed connection");
        }
        wm_stream_pp_done(s, ctx, false);
        return;
    }
    if (rc == WM_ERROR) {
        wm_log_error(WM_LOG_ERR, &s->log, 0, "broken header: %s", err);
        wm_stream_pp_done(s, ctx, false);
        return;
    }
    s->has_pp = 1;
    wm_stream_pp_done(s, ctx, true);
}

void
wm_stream_proxy_protocol_start(wm_stream_session_t *s,
                               wm_stream_handler_pt next)
{
    wm_stream_pp_ctx_t *ctx = wm_pcalloc(s->pool, sizeof(*ctx));
    struct timeval tv = {WM_STREAM_PP_TIMEOUT, 0};

    if (ctx == NULL) {
        wm_stream_finalize(s, 500);
        return;
    }
    ctx->next = next;
    ctx->ev = event_new(s->base, s->fd, EV_READ | EV_PERSIST | EV_ET,
                        wm_stream_pp_read, s);
    if (ctx->ev == NULL || event_add(ctx->ev, &tv) != 0) {
        wm_stream_finalize(s, 500);
        return;
    }
    s->pp_ctx = ctx;
    s->log.action = "while reading PROXY protocol";
}

void
wm_stream_proxy_protocol_cleanup(wm_stream_session_t *s)
{
    wm_stream_pp_ctx_t *ctx = s->pp_ctx;

    if (ctx && ctx->ev) {
        event_free(ctx->ev);
        ctx->ev = NULL;
    }
}
