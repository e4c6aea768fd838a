/*
 * `proxy_pass address;` in a stream server: relays a TCP connection to one
 * upstream address with libevent bufferevents, reading from one side only
 * while the other side's output is under proxy_buffer_size (the le-proxy
 * back-pressure pattern). Ends like nginx with proxy_half_close off: the
 * first FIN or error ends the session once pending data is flushed.
 */
#include "wm_stream.h"

#include "wm_log.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <sys/un.h>

typedef struct {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    const char *addr_text;      /* NULL when proxy_pass is not set */
    wm_msec_t connect_timeout;
    wm_msec_t timeout;
    size_t buffer_size;
} wm_stream_proxy_conf_t;

typedef struct {
    struct bufferevent *upstream;
    struct event *idle;
    struct timeval last;        /* last byte moved either way */
    wm_msec_t timeout;
    size_t buffer_size;
    unsigned connected : 1;
    unsigned finishing : 1;
} wm_stream_proxy_ctx_t;

static void *wm_stream_proxy_create(wm_conf_t *cf, unsigned level);
static const char *wm_stream_proxy_merge(wm_conf_t *cf, void *prev,
                                         void *conf, unsigned level);
static void wm_stream_proxy_handler(wm_stream_session_t *s);
static void wm_stream_proxy_event(struct bufferevent *bev, short what,
                                  void *arg);
static const char *wm_stream_proxy_pass(wm_conf_t *cf,
                                        const wm_command_t *cmd, void *conf);

static const wm_command_t wm_stream_proxy_commands[] = {
    {"proxy_pass", WM_CTX_STREAM_SRV, 1, 1, 0, WM_LVL_SRV,
     wm_stream_proxy_pass, 0, NULL, "-",
     "relay connections to address:port or unix:path"},
    {"proxy_connect_timeout", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0,
     WM_LVL_SRV, wm_conf_set_msec,
     offsetof(wm_stream_proxy_conf_t, connect_timeout), NULL, "60s",
     "time to establish the upstream connection"},
    {"proxy_timeout", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_msec, offsetof(wm_stream_proxy_conf_t, timeout), NULL, "10m",
     "close a session idle in both directions this long"},
    {"proxy_buffer_size", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0,
     WM_LVL_SRV, wm_conf_set_size,
     offsetof(wm_stream_proxy_conf_t, buffer_size), NULL, "16k",
     "data buffered per direction before reading pauses"},
    wm_null_command,
};

wm_module_t wm_stream_proxy_module = {
    .name = "stream_proxy",
    .family = WM_MOD_STREAM,
    .commands = wm_stream_proxy_commands,
    .create_conf = wm_stream_proxy_create,
    .merge_conf = wm_stream_proxy_merge,
};

static void
wm_stream_proxy_cleanup(wm_stream_session_t *s)
{
    wm_stream_proxy_ctx_t *ctx = s->ctx;

    if (ctx->idle) {
        event_free(ctx->idle);
    }
    if (ctx->upstream) {
        bufferevent_free(ctx->upstream);
    }
}

static void
wm_stream_proxy_touch(wm_stream_proxy_ctx_t *ctx)
{
    evutil_gettimeofday(&ctx->last, NULL);
}

/* Ends the session once the output still queued towards `to` is sent. */
static void
wm_stream_proxy_drained(struct bufferevent *bev, void *arg)
{
    wm_stream_finalize(arg, 200);
}

static void
wm_stream_proxy_finish(wm_stream_session_t *s, struct bufferevent *to)
{
    wm_stream_proxy_ctx_t *ctx = s->ctx;

    ctx->finishing = 1;
    bufferevent_disable(s->client, EV_READ);
    bufferevent_disable(ctx->upstream, EV_READ);
    if (to == NULL || evbuffer_get_length(bufferevent_get_output(to)) == 0) {
        wm_stream_finalize(s, 200);
        return;
    }
    bufferevent_setwatermark(to, EV_WRITE, 0, 0);
    bufferevent_setcb(to, NULL, wm_stream_proxy_drained,
                      wm_stream_proxy_event, s);
    bufferevent_enable(to, EV_WRITE);
}

static void
wm_stream_proxy_resume(struct bufferevent *to, void *arg)
{
    wm_stream_session_t *s = arg;
    wm_stream_proxy_ctx_t *ctx = s->ctx;
    struct bufferevent *from = to == s->client ? ctx->upstream : s->client;

    /* `to` drained under the low watermark: read from its source again. */
    bufferevent_setwatermark(to, EV_WRITE, 0, 0);
    bufferevent_enable(from, EV_READ);
}

static void
wm_stream_proxy_read(struct bufferevent *from, void *arg)
{
    wm_stream_session_t *s = arg;
    wm_stream_proxy_ctx_t *ctx = s->ctx;
    struct bufferevent *to = from == s->client ? ctx->upstream : s->client;
    struct evbuffer *in = bufferevent_get_input(from);
    struct evbuffer *out = bufferevent_get_output(to);
    size_t n = evbuffer_get_length(in);

    if (from == s->client) {
        s->bytes_received += n;
    } else {
        s->bytes_sent += n;
    }
    evbuffer_add_buffer(out, in);
    wm_stream_proxy_touch(ctx);

    if (evbuffer_get_length(out) >= ctx->buffer_size) {
        bufferevent_disable(from, EV_READ);
        bufferevent_setwatermark(to, EV_WRITE, ctx->buffer_size / 2, 0);
    }
}

static void
wm_stream_proxy_event(struct bufferevent *bev, short what, void *arg)
{
    wm_stream_session_t *s = arg;
    wm_stream_proxy_ctx_t *ctx = s->ctx;
    bool up = bev == ctx->upstream;
    struct bufferevent *other = up ? s->client : ctx->upstream;

    if (ctx->finishing) {
        wm_stream_finalize(s, 200); /* the side being flushed went away */
        return;
    }
    if (what & BEV_EVENT_CONNECTED) {
        ctx->connected = 1;
        s->log.action = "while proxying connection";
        wm_stream_proxy_touch(ctx);
        bufferevent_set_timeouts(ctx->upstream, NULL, NULL);
        bufferevent_enable(ctx->upstream, EV_READ | EV_WRITE);
        bufferevent_enable(s->client, EV_READ | EV_WRITE);
        return;
    }
    if (!ctx->connected) {
        int err = (what & BEV_EVENT_TIMEOUT) ? ETIMEDOUT
                                             : EVUTIL_SOCKET_ERROR();

        wm_log_error(WM_LOG_ERR, &s->log, err,
                     (what & BEV_EVENT_TIMEOUT) ? "upstream timed out"
                                                : "connect() failed");
        wm_stream_finalize(s, 502);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        /* Move what came with the FIN before ending. */
        if (evbuffer_get_length(bufferevent_get_input(bev))) {
            wm_stream_proxy_read(bev, s);
        }
        wm_stream_proxy_finish(s, other);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        int err = EVUTIL_SOCKET_ERROR();

        wm_log_error(err == ECONNRESET || err == EPIPE ? WM_LOG_INFO
                                                       : WM_LOG_ERR,
                     &s->log, err, "%s failed on the %s connection",
                     (what & BEV_EVENT_READING) ? "recv()" : "send()",
                     up ? "upstream" : "client");
        wm_stream_finalize(s, 200);
    }
}

static void
wm_stream_proxy_idle(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_session_t *s = arg;
    wm_stream_proxy_ctx_t *ctx = s->ctx;
    struct timeval now, idle, left;
    wm_msec_t ms;

    evutil_gettimeofday(&now, NULL);
    timersub(&now, &ctx->last, &idle);
    ms = (wm_msec_t) idle.tv_sec * 1000 + idle.tv_usec / 1000;
    if (ms >= ctx->timeout) {
        wm_log_error(WM_LOG_INFO, &s->log, ETIMEDOUT,
                     "connection timed out (idle %lld ms)", (long long) ms);
        wm_stream_finalize(s, 200);
        return;
    }
    /* Timers are re-armed lazily: data moved since the last check. */
    ms = ctx->timeout - ms;
    left.tv_sec = ms / 1000;
    left.tv_usec = (ms % 1000) * 1000;
    evtimer_add(ctx->idle, &left);
}

static void
wm_stream_proxy_handler(wm_stream_session_t *s)
{
    wm_stream_proxy_conf_t *pcf =
        wm_stream_srv_conf(s->srv, wm_stream_proxy_module);
    wm_stream_proxy_ctx_t *ctx;
    struct timeval ctv = {pcf->connect_timeout / 1000,
                          (pcf->connect_timeout % 1000) * 1000};
    struct timeval itv = {pcf->timeout / 1000, (pcf->timeout % 1000) * 1000};

    ctx = wm_pcalloc(s->pool, sizeof(*ctx));
    if (ctx == NULL) {
        wm_stream_finalize(s, 500);
        return;
    }
    s->ctx = ctx;
    s->cleanup = wm_stream_proxy_cleanup;
    s->upstream_text = pcf->addr_text;
    s->log.action = "while connecting to upstream";
    ctx->timeout = pcf->timeout;
    ctx->buffer_size = pcf->buffer_size;

    s->client = bufferevent_socket_new(s->base, s->fd, BEV_OPT_CLOSE_ON_FREE);
    ctx->upstream = bufferevent_socket_new(s->base, -1, BEV_OPT_CLOSE_ON_FREE);
    ctx->idle = evtimer_new(s->base, wm_stream_proxy_idle, s);
    if (s->client == NULL || ctx->upstream == NULL || ctx->idle == NULL) {
        wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM, "cannot start proxying");
        wm_stream_finalize(s, 500);
        return;
    }
    bufferevent_setcb(s->client, wm_stream_proxy_read, wm_stream_proxy_resume,
                      wm_stream_proxy_event, s);
    bufferevent_setcb(ctx->upstream, wm_stream_proxy_read,
                      wm_stream_proxy_resume, wm_stream_proxy_event, s);
    /* Nothing is read from the client until the upstream answers. */
    bufferevent_disable(s->client, EV_READ);
    bufferevent_set_timeouts(ctx->upstream, NULL, &ctv);
    wm_stream_proxy_touch(ctx);
    evtimer_add(ctx->idle, &itv);

    if (bufferevent_socket_connect(ctx->upstream,
                                   (struct sockaddr *) &pcf->addr,
                                   (int) pcf->addrlen)
        != 0)
    {
        wm_log_error(WM_LOG_ERR, &s->log, EVUTIL_SOCKET_ERROR(),
                     "connect() failed");
        wm_stream_finalize(s, 502);
    }
}

static void *
wm_stream_proxy_create(wm_conf_t *cf, unsigned level)
{
    wm_stream_proxy_conf_t *pcf = wm_pcalloc(cf->pool, sizeof(*pcf));

    if (pcf == NULL) {
        return NULL;
    }
    pcf->connect_timeout = WM_CONF_UNSET_MSEC;
    pcf->timeout = WM_CONF_UNSET_MSEC;
    pcf->buffer_size = WM_CONF_UNSET_SIZE;
    return pcf;
}

static const char *
wm_stream_proxy_merge(wm_conf_t *cf, void *parent, void *child,
                      unsigned level)
{
    wm_stream_proxy_conf_t *prev = parent, *conf = child;

    wm_conf_merge_msec(conf->connect_timeout, prev->connect_timeout, 60000);
    wm_conf_merge_msec(conf->timeout, prev->timeout, 600000);
    wm_conf_merge_size(conf->buffer_size, prev->buffer_size, 16384);
    if (conf->connect_timeout == 0 || conf->timeout == 0) {
        return "has a zero proxy timeout";
    }
    if (conf->buffer_size == 0) {
        return "has \"proxy_buffer_size 0\"";
    }
    return NULL;
}

static const char *
wm_stream_proxy_pass(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_stream_proxy_conf_t *pcf = conf;
    wm_stream_core_srv_conf_t *cscf = wm_stream_conf_core_srv(cf);
    const wm_str_t *arg = &cf->node->args[0];
    char err[256], text[256];

    if (pcf->addr_text) {
        return "is duplicate";
    }
    if (cscf->handler) {
        return "conflicts with \"return\"";
    }
    if (wm_listen_parse_addr(arg, 0, &pcf->addr, &pcf->addrlen, err,
                             sizeof(err))
        != WM_OK)
    {
        return wm_conf_errf(cf, "has invalid value \"%s\": %s",
                            (const char *) arg->data, err);
    }
    wm_sockaddr_text((struct sockaddr *) &pcf->addr, pcf->addrlen, text,
                     sizeof(text));
    pcf->addr_text = wm_pstrdup(cf->pool, text);
    if (pcf->addr_text == NULL) {
        return "failed: out of memory";
    }
    cscf->handler = wm_stream_proxy_handler;
    return NULL;
}
