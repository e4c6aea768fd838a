/*
 * `proxy_pass name|address;` in a stream server: picks a peer of the
 * upstream group (or of the address's implicit group), moves on to the
 * next peer while connecting fails (proxy_next_upstream), then hands both
 * sockets to the relay (wm_stream_relay.c). A bufferevent carries the
 * connect only (its timeout is proxy_connect_timeout).
 */
#include "wm_stream.h"
#include "wm_stream_ssl.h"

#include "wm_log.h"
#include "wm_upstream.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* Room for any PROXY header we send (v1 with IPv6 is the longest). */
#define WM_STREAM_PP_OUT 128

typedef struct {
    wm_str_t pass;         /* as written; data NULL when not set */
    const char *pass_file; /* where, for errors found at merge */
    unsigned pass_line;
    wm_upstream_group_t *group; /* the group it names, or its own; NULL
                                   when pass has variables */
    wm_cv_t pass_cv;            /* pass with variables */
    wm_msec_t connect_timeout;
    wm_msec_t timeout;
    size_t buffer_size;
    wm_int_t next_upstream;
    wm_int_t next_upstream_tries;    /* 0: as many as the group has */
    wm_msec_t next_upstream_timeout; /* 0: no limit */
    wm_int_t proxy_protocol;         /* send a PROXY header upstream */
    wm_int_t proxy_protocol_version; /* 1 or 2 */
    wm_int_t splice;                 /* relay with splice() */
    size_t upload_rate;              /* bytes/s from the client; 0: none */
    size_t download_rate;            /* bytes/s from the upstream */
    wm_int_t half_close;             /* pass a FIN on, keep the other way */
    wm_int_t bind;                   /* 1: bind_addr, 0: off, or unset */
    const char *bind_text;           /* as written, for errors */
    struct sockaddr_storage bind_addr;
    socklen_t bind_len;
} wm_stream_proxy_conf_t;

typedef struct {
    wm_stream_proxy_conf_t *conf;
    struct bufferevent *upstream; /* connecting; fd -1 once connected */
    struct bufferevent *failed;   /* a connection given up, freed by retry */
    wm_stream_relay_t *relay;
    int upfd; /* the connected upstream socket, or -1 */
    struct event *idle;
    struct event *retry; /* the next peer, from the loop */
    struct timeval last; /* last byte moved either way */
    wm_msec_t timeout;
    size_t buffer_size;
    wm_msec_t start;            /* the first connect, wm_upstream_now() */
    wm_upstream_group_t *group; /* this session's */
    wm_upstream_peer_t *direct; /* proxy_pass $var gave an address */
    wm_upstream_pick_t pick;
    wm_tls_client_t *tls;             /* proxy_ssl: the upstream's TLS */
    wm_tls_client_t *tls_failed;      /* a handshake given up, freed by retry */
    wm_stream_relay_tls_t *tls_relay; /* when a side speaks TLS */
    unsigned connected : 1;
} wm_stream_proxy_ctx_t;

/* The stream upstream module owns the groups that proxy_pass names. */
extern wm_module_t wm_stream_upstream_module;

static void *wm_stream_proxy_create(wm_conf_t *cf, unsigned level);
static const char *wm_stream_proxy_merge(wm_conf_t *cf, void *prev, void *conf,
                                         unsigned level);
static void wm_stream_proxy_handler(wm_stream_session_t *s);
static void wm_stream_proxy_connect(wm_stream_session_t *s);
static bool wm_stream_proxy_next(wm_stream_session_t *s);
static void wm_stream_proxy_idle(evutil_socket_t fd, short what, void *arg);
static void wm_stream_proxy_retry(evutil_socket_t fd, short what, void *arg);
static void wm_stream_proxy_event(struct bufferevent *bev, short what,
                                  void *arg);
static void wm_stream_proxy_relay(wm_stream_session_t *s);
static void wm_stream_proxy_tls(wm_stream_session_t *s);
static const char *wm_stream_proxy_pass(wm_conf_t *cf, const wm_command_t *cmd,
                                        void *conf);
static void wm_stream_proxy_resolve(wm_conf_t *cf, wm_stream_proxy_conf_t *pcf);
static const char *wm_stream_proxy_bind(wm_conf_t *cf, const wm_command_t *cmd,
                                        void *conf);

static const wm_conf_bounds_t wm_stream_proxy_tries_bounds = {0, 65535};
static const wm_conf_bounds_t wm_stream_proxy_pp_versions = {1, 2};

static const wm_command_t wm_stream_proxy_commands[] = {
    {"proxy_pass", WM_CTX_STREAM_SRV, 1, 1, 0, WM_LVL_SRV, wm_stream_proxy_pass,
     0, NULL, "-",
     "relay connections to an upstream group, address:port or unix:path"},
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
    {"proxy_next_upstream", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0,
     WM_LVL_SRV, wm_conf_set_flag,
     offsetof(wm_stream_proxy_conf_t, next_upstream), NULL, "on",
     "try the next server when connecting to one fails"},
    {"proxy_next_upstream_tries", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0,
     WM_LVL_SRV, wm_conf_set_num,
     offsetof(wm_stream_proxy_conf_t, next_upstream_tries),
     &wm_stream_proxy_tries_bounds, "0",
     "servers tried per connection at most (0: no limit)"},
    {"proxy_next_upstream_timeout", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0,
     WM_LVL_SRV, wm_conf_set_msec,
     offsetof(wm_stream_proxy_conf_t, next_upstream_timeout), NULL, "0",
     "time for trying servers per connection (0: no limit)"},
    {"proxy_protocol", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_flag, offsetof(wm_stream_proxy_conf_t, proxy_protocol), NULL,
     "off", "send a PROXY protocol header to the upstream first"},
    {"proxy_protocol_version", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0,
     WM_LVL_SRV, wm_conf_set_num,
     offsetof(wm_stream_proxy_conf_t, proxy_protocol_version),
     &wm_stream_proxy_pp_versions, "1",
     "PROXY protocol version sent with proxy_protocol on: 1 (text) or 2"},
    {"proxy_splice", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_flag, offsetof(wm_stream_proxy_conf_t, splice), NULL, "on",
     "relay TCP bytes with splice() through kernel pipes"},
    {"proxy_upload_rate", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0,
     WM_LVL_SRV, wm_conf_set_size,
     offsetof(wm_stream_proxy_conf_t, upload_rate), NULL, "0",
     "bytes per second read from the client per session (0: no limit)"},
    {"proxy_download_rate", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0,
     WM_LVL_SRV, wm_conf_set_size,
     offsetof(wm_stream_proxy_conf_t, download_rate), NULL, "0",
     "bytes per second read from the upstream per session (0: no limit)"},
    {"proxy_half_close", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_flag, offsetof(wm_stream_proxy_conf_t, half_close), NULL,
     "off", "pass a FIN on and keep relaying the other direction"},
    {"proxy_bind", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 2, 0, WM_LVL_SRV,
     wm_stream_proxy_bind, 0, NULL, "off",
     "address[:port] [transparent] | off: local address of upstream "
     "connections"},
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

    /* nginx's verdict at the end of a session: no failure once the
     * connection was made, none either when it was never completed. */
    if (ctx->pick.group) {
        wm_upstream_release(
            &ctx->pick, ctx->connected ? WM_UPSTREAM_OK : WM_UPSTREAM_ABORTED,
            &s->log);
    }
    if (ctx->idle) {
        event_free(ctx->idle);
    }
    if (ctx->retry) {
        event_free(ctx->retry);
    }
    if (ctx->failed) {
        bufferevent_free(ctx->failed);
    }
    if (ctx->upstream) {
        bufferevent_free(ctx->upstream);
    }
    wm_stream_relay_free(ctx->relay);
    wm_stream_relay_tls_free(ctx->tls_relay);
    wm_tls_client_free(ctx->tls);
    wm_tls_client_free(ctx->tls_failed);
    if (ctx->upfd >= 0) {
        close(ctx->upfd);
    }
}

static void
wm_stream_proxy_touch(wm_stream_proxy_ctx_t *ctx)
{
    evutil_gettimeofday(&ctx->last, NULL);
}

/* Ends the session once the output still queued towards `to` is sent. */
/* The PROXY header for s (client -> the address it connected to) into
 * head (WM_STREAM_PP_OUT bytes); its length. The address is the connection's:
 * one that came in a PROXY header itself is not passed on. */
static size_t
wm_stream_proxy_pp_header(wm_stream_session_t *s, u_char *head)
{
    struct sockaddr_storage local;
    socklen_t len = sizeof(local);

    if (getsockname(s->fd, (struct sockaddr *) &local, &len) != 0) {
        local.ss_family = AF_UNSPEC;
    }
    return wm_pp_write(head, WM_STREAM_PP_OUT,
                       (unsigned) ((wm_stream_proxy_ctx_t *) s->ctx)
                           ->conf->proxy_protocol_version,
                       (struct sockaddr *) &s->peer,
                       (struct sockaddr *) &local);
}

/* Remembers why the last connect failed: the $termination word should
 * the session end with it. */
static void
wm_stream_proxy_connect_failed(wm_stream_session_t *s, int err)
{
    s->termination = err == ETIMEDOUT      ? "connect_timeout"
                     : err == ECONNREFUSED ? "connect_refused"
                                           : NULL;
}

static void
wm_stream_proxy_event(struct bufferevent *bev, short what, void *arg)
{
    wm_stream_session_t *s = arg;
    wm_stream_proxy_ctx_t *ctx = s->ctx;

    if (what & BEV_EVENT_CONNECTED) {
        wm_stream_proxy_touch(ctx);
        /* The bufferevent hands its socket over to the relay and stays,
         * empty, until the session ends (never freed in its own
         * callback). */
        bufferevent_set_timeouts(bev, NULL, NULL);
        bufferevent_disable(bev, EV_READ | EV_WRITE);
        bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
        ctx->upfd = bufferevent_getfd(bev);
        bufferevent_setfd(bev, -1);
        if (wm_stream_proxy_ssl_enabled(s)) {
            wm_stream_proxy_tls(s);
            return;
        }
        wm_stream_proxy_relay(s);
        return;
    }
    if (!ctx->connected) {
        int err =
            (what & BEV_EVENT_TIMEOUT) ? ETIMEDOUT : EVUTIL_SOCKET_ERROR();

        wm_log_error(WM_LOG_ERR, &s->log, err,
                     (what & BEV_EVENT_TIMEOUT) ? "upstream timed out"
                                                : "connect() failed");
        wm_stream_proxy_connect_failed(s, err);
        /* Nothing reached the client yet: another peer may serve it. The
         * failed connection is freed from the loop, not in its own
         * callback. */
        bufferevent_disable(bev, EV_READ | EV_WRITE);
        bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
        ctx->failed = bev;
        ctx->upstream = NULL;
        if (wm_stream_proxy_next(s)) {
            event_active(ctx->retry, EV_TIMEOUT, 1);
        }
        return;
    }
}

/* The upstream is connected (and its TLS handshake done): relays bytes,
 * after a PROXY header unless TLS sent it already. */
static void
wm_stream_proxy_relay(wm_stream_session_t *s)
{
    wm_stream_proxy_ctx_t *ctx = s->ctx;
    SSL *cssl = wm_stream_ssl_conn(s);
    u_char head[WM_STREAM_PP_OUT];
    size_t hlen;
    const wm_stream_relay_opts_t opts = {
        .upload_rate = ctx->conf->upload_rate,
        .download_rate = ctx->conf->download_rate,
        .half_close = ctx->conf->half_close == 1,
    };

    ctx->connected = 1;
    s->log.action = "while proxying connection";
    hlen = ctx->conf->proxy_protocol && ctx->tls == NULL
               ? wm_stream_proxy_pp_header(s, head)
               : 0;
    if (cssl || ctx->tls) {
        ctx->tls_relay = wm_stream_relay_tls_start(
            s, ctx->upfd, cssl, ctx->tls ? wm_tls_client_ssl(ctx->tls) : NULL,
            ctx->buffer_size, &ctx->last, head, hlen);
        if (ctx->tls_relay
            && wm_stream_relay_tls_configure(ctx->tls_relay, &opts) != WM_OK)
        {
            wm_stream_relay_tls_free(ctx->tls_relay);
            ctx->tls_relay = NULL;
        }
    } else {
        ctx->relay = wm_stream_relay_start(s, ctx->upfd, ctx->buffer_size,
                                           ctx->conf->splice == 1, &ctx->last,
                                           head, hlen);
        if (ctx->relay && wm_stream_relay_configure(ctx->relay, &opts) != WM_OK)
        {
            wm_stream_relay_free(ctx->relay);
            ctx->relay = NULL;
        }
    }
    s->termination = NULL; /* an earlier peer's failure is history */
    if (ctx->relay == NULL && ctx->tls_relay == NULL) {
        wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM, "cannot start relaying");
        wm_stream_finalize(s, 500);
    }
}

/* The end of the upstream's TLS handshake: relay, or count the peer as
 * failed and try the next one (the handshake belongs to the connect). */
static void
wm_stream_proxy_tls_done(void *arg, wm_int_t rc)
{
    wm_stream_session_t *s = arg;
    wm_stream_proxy_ctx_t *ctx = s->ctx;

    if (s->closing) {
        return;
    }
    if (rc == WM_OK) {
        wm_stream_proxy_relay(s);
        return;
    }
    if (rc == WM_ERROR) {
        wm_stream_finalize(s, 500);
        return;
    }
    /* The connection's objects go from the loop (this may run inside
     * their callbacks). */
    ctx->tls_failed = ctx->tls;
    ctx->tls = NULL;
    ctx->failed = ctx->upstream;
    ctx->upstream = NULL;
    close(ctx->upfd);
    ctx->upfd = -1;
    if (wm_stream_proxy_next(s)) {
        event_active(ctx->retry, EV_TIMEOUT, 1);
    }
}

/* proxy_ssl on: the PROXY header goes first in plain (a fresh socket
 * takes 108 bytes at once), then the handshake, bounded by
 * proxy_connect_timeout as nginx bounds it. */
static void
wm_stream_proxy_tls(wm_stream_session_t *s)
{
    wm_stream_proxy_ctx_t *ctx = s->ctx;
    const wm_str_t *target =
        ctx->group ? &ctx->group->name : &ctx->direct->name;
    u_char head[WM_STREAM_PP_OUT];
    size_t hlen;

    s->log.action = "while SSL handshaking to upstream";
    if (ctx->conf->proxy_protocol) {
        hlen = wm_stream_proxy_pp_header(s, head);
        if (send(ctx->upfd, head, hlen, MSG_NOSIGNAL) != (ssize_t) hlen) {
            wm_log_error(WM_LOG_ERR, &s->log, errno,
                         "cannot send the PROXY protocol header");
            wm_stream_proxy_tls_done(s, WM_DECLINED);
            return;
        }
    }
    ctx->tls = wm_stream_proxy_ssl_start(
        s, ctx->upfd, target, ctx->direct ? -1 : ctx->pick.current,
        ctx->group ? ctx->group->npeers : 0, ctx->conf->connect_timeout,
        wm_stream_proxy_tls_done);
    if (ctx->tls == NULL) {
        wm_stream_finalize(s, 500);
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
        s->termination = "idle_timeout";
        wm_stream_finalize(s, 200);
        return;
    }
    /* Timers are re-armed lazily: data moved since the last check. */
    ms = ctx->timeout - ms;
    left.tv_sec = ms / 1000;
    left.tv_usec = (ms % 1000) * 1000;
    evtimer_add(ctx->idle, &left);
}

/*
 * proxy_pass with variables: the value names an upstream block, or is a
 * numeric address:port / unix:path (host names would need a resolver,
 * which wmproxy does not have: refused, as nginx refuses them without one).
 * Sets ctx->group or ctx->direct; WM_ERROR (logged) when neither.
 */
static wm_int_t
wm_stream_proxy_target(wm_stream_session_t *s)
{
    wm_stream_proxy_ctx_t *ctx = s->ctx;
    wm_upstream_main_conf_t *umcf =
        wm_cycle->conf[wm_stream_upstream_module.index];
    char err[128], host[INET6_ADDRSTRLEN + 2];
    wm_upstream_peer_t *peer;
    const u_char *colon;
    struct in6_addr a6;
    wm_str_t v;

    if (wm_cv_eval(&ctx->conf->pass_cv, s, s->pool, &v) != WM_OK) {
        wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM, "cannot start proxying");
        return WM_ERROR;
    }
    if (v.len == 0) {
        wm_log_error(WM_LOG_ERR, &s->log, 0, "proxy_pass is empty");
        return WM_ERROR;
    }
    ctx->group = wm_upstream_find(umcf, &v);
    if (ctx->group) {
        return WM_OK;
    }
    if (!(v.len > 5 && memcmp(v.data, "unix:", 5) == 0)) {
        /* numeric only: the host part, brackets removed */
        colon = memrchr(v.data, ':', v.len);
        if (colon == NULL || (size_t) (colon - v.data) >= sizeof(host)) {
            goto unresolved;
        }
        if (v.data[0] == '[' && colon > v.data + 1 && colon[-1] == ']') {
            memcpy(host, v.data + 1, (size_t) (colon - v.data) - 2);
            host[colon - v.data - 2] = '\0';
        } else {
            memcpy(host, v.data, (size_t) (colon - v.data));
            host[colon - v.data] = '\0';
        }
        if (inet_pton(AF_INET, host, &a6) != 1
            && inet_pton(AF_INET6, host, &a6) != 1) {
            goto unresolved;
        }
    }
    peer = wm_pcalloc(s->pool, sizeof(*peer));
    if (peer == NULL
        || wm_listen_parse_addr(&v, 0, &peer->sockaddr, &peer->socklen, err,
                                sizeof(err))
               != WM_OK)
    {
        wm_log_error(WM_LOG_ERR, &s->log, 0, "proxy_pass \"%.*s\": %s",
                     (int) v.len, (const char *) v.data,
                     peer ? err : "out of memory");
        return WM_ERROR;
    }
    peer->name.data = (u_char *) wm_pstrndup(s->pool, v.data, v.len);
    peer->name.len = v.len;
    ctx->direct = peer;
    return WM_OK;

unresolved:
    wm_log_error(WM_LOG_ERR, &s->log, 0,
                 "no resolver defined to resolve \"%.*s\" (proxy_pass takes "
                 "an upstream name or a numeric address)",
                 (int) v.len, (const char *) v.data);
    return WM_ERROR;
}

static void
wm_stream_proxy_handler(wm_stream_session_t *s)
{
    wm_stream_proxy_conf_t *pcf =
        wm_stream_srv_conf(s->srv, wm_stream_proxy_module);
    wm_stream_proxy_ctx_t *ctx;
    struct timeval itv = {pcf->timeout / 1000, (pcf->timeout % 1000) * 1000};

    ctx = wm_pcalloc(s->pool, sizeof(*ctx));
    if (ctx == NULL) {
        wm_stream_finalize(s, 500);
        return;
    }
    s->ctx = ctx;
    s->cleanup = wm_stream_proxy_cleanup;
    s->log.action = "while connecting to upstream";
    ctx->conf = pcf;
    ctx->timeout = pcf->timeout;
    ctx->buffer_size = pcf->buffer_size;

    ctx->upfd = -1;
    ctx->group = pcf->group;
    if (ctx->group == NULL && wm_stream_proxy_target(s) != WM_OK) {
        wm_stream_finalize(s, 502);
        return;
    }
    if (s->udp) {
        wm_stream_udp_upstream_t up = {
            .group = ctx->group,
            .direct = ctx->direct,
            .timeout = pcf->timeout,
            .buffer_size = pcf->buffer_size,
            .next_upstream = pcf->next_upstream,
            .next_upstream_tries = pcf->next_upstream_tries,
            .next_upstream_timeout = pcf->next_upstream_timeout,
            .proxy_protocol =
                pcf->proxy_protocol ? pcf->proxy_protocol_version : 0,
        };

        wm_stream_udp_proxy_start(s, &up); /* wm_stream_udp_proxy.c */
        return;
    }
    ctx->idle = evtimer_new(s->base, wm_stream_proxy_idle, s);
    ctx->retry = evtimer_new(s->base, wm_stream_proxy_retry, s);
    if (ctx->idle == NULL || ctx->retry == NULL
        || (ctx->group
            && wm_upstream_pick_init(&ctx->pick, ctx->group, s, s->pool)
                   != WM_OK))
    {
        wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM, "cannot start proxying");
        wm_stream_finalize(s, 500);
        return;
    }
    /* Nothing is read from the client until an upstream answers. */
    wm_stream_proxy_touch(ctx);
    evtimer_add(ctx->idle, &itv);

    ctx->start = wm_upstream_now();
    wm_stream_proxy_connect(s);
}

/*
 * proxy_bind: a socket for peer bound to the configured local address, or
 * -1 (logged) when it cannot be made. With port 0 the kernel picks the
 * port at connect(), from the 4-tuple, so that one local address is not
 * limited to one connection per ephemeral port.
 */
static int
wm_stream_proxy_bound_socket(wm_stream_session_t *s,
                             const wm_upstream_peer_t *peer)
{
    wm_stream_proxy_conf_t *pcf = ((wm_stream_proxy_ctx_t *) s->ctx)->conf;
    int fd, on = 1;

    fd = socket(peer->sockaddr.ss_family,
                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        wm_log_error(WM_LOG_ALERT, &s->log, errno, "socket() failed");
        return -1;
    }
    if (((struct sockaddr_in *) &pcf->bind_addr)->sin_port == 0) {
        /* an optimisation only: an old kernel without it still works */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof(on));
    }
    if (bind(fd, (struct sockaddr *) &pcf->bind_addr, pcf->bind_len) != 0) {
        wm_log_error(WM_LOG_CRIT, &s->log, errno, "bind(%s) failed",
                     pcf->bind_text);
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * The transport step: starts a connection to peer and makes it
 * ctx->upstream, whose event callback then reports BEV_EVENT_CONNECTED or
 * the failure. Plain TCP or unix sockets for now; TLS to the upstream and
 * the QUIC tunnel will be other implementations of this one function
 * (same peer in, a connected socket out). WM_OK when the
 * connection is under way, WM_DECLINED when it failed at once (logged:
 * the peer is to blame), WM_ERROR on a local failure (logged).
 */
static wm_int_t
wm_stream_proxy_connect_peer(wm_stream_session_t *s,
                             const wm_upstream_peer_t *peer)
{
    wm_stream_proxy_ctx_t *ctx = s->ctx;
    wm_int_t rc;
    int fd = -1;

    if (ctx->conf->bind == 1 && peer->sockaddr.ss_family != AF_UNIX) {
        fd = wm_stream_proxy_bound_socket(s, peer);
        if (fd < 0) {
            return WM_ERROR;
        }
    }
    rc = wm_upstream_connect(s->base, peer, ctx->conf->connect_timeout, false,
                             fd, &ctx->upstream);
    if (rc == WM_ERROR) {
        wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM, "cannot start proxying");
        return WM_ERROR;
    }
    if (rc == WM_DECLINED) {
        int err = errno;

        wm_log_error(WM_LOG_ERR, &s->log, err, "connect() failed");
        wm_stream_proxy_connect_failed(s, err);
        return WM_DECLINED;
    }
    bufferevent_setcb(ctx->upstream, NULL, NULL, wm_stream_proxy_event, s);
    return WM_OK;
}

/*
 * After a failed connect: gives the peer back as failed and tells whether
 * another one may be tried (proxy_next_upstream, _tries, _timeout; at most
 * one try per peer of the group, as nginx). When not, the session ends
 * with 502.
 */
static bool
wm_stream_proxy_next(wm_stream_session_t *s)
{
    wm_stream_proxy_ctx_t *ctx = s->ctx;
    wm_stream_proxy_conf_t *pcf = ctx->conf;
    wm_uint_t limit;

    if (ctx->direct) {
        wm_stream_finalize(s, 502); /* one address: nothing else to try */
        return false;
    }
    limit = ctx->group->npeers;
    wm_upstream_release(&ctx->pick, WM_UPSTREAM_FAILED, &s->log);

    if (pcf->next_upstream_tries > 0
        && (wm_uint_t) pcf->next_upstream_tries < limit)
    {
        limit = (wm_uint_t) pcf->next_upstream_tries;
    }
    if (!pcf->next_upstream || ctx->pick.tries >= limit
        || (pcf->next_upstream_timeout > 0
            && wm_upstream_now() - ctx->start >= pcf->next_upstream_timeout))
    {
        wm_stream_finalize(s, 502);
        return false;
    }
    return true;
}

/* Picks peers and starts connecting until one attempt is under way; the
 * session ends with 502 when no peer is left. */
static void
wm_stream_proxy_connect(wm_stream_session_t *s)
{
    wm_stream_proxy_ctx_t *ctx = s->ctx;
    const wm_upstream_peer_t *peer;
    wm_int_t rc;

    for (;;) {
        peer = ctx->direct ? ctx->direct : wm_upstream_pick(&ctx->pick);
        if (peer == NULL) {
            s->upstream_text = (const char *) ctx->group->name.data;
            wm_log_error(WM_LOG_ERR, &s->log, 0, "%s",
                         wm_balance_reason_text(ctx->pick.reason));
            wm_stream_finalize(s, 502);
            return;
        }
        s->upstream_text = (const char *) peer->name.data;
        wm_log_debug(&s->log, "connecting to upstream, try %lu",
                     (unsigned long) ctx->pick.tries);

        rc = wm_stream_proxy_connect_peer(s, peer);
        if (rc == WM_OK) {
            return;
        }
        if (ctx->upstream) {
            /* not inside its callbacks: none ran yet */
            bufferevent_free(ctx->upstream);
            ctx->upstream = NULL;
        }
        if (rc == WM_ERROR) {
            wm_stream_finalize(s, 500);
            return;
        }
        if (!wm_stream_proxy_next(s)) {
            return;
        }
    }
}

static void
wm_stream_proxy_retry(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_session_t *s = arg;
    wm_stream_proxy_ctx_t *ctx = s->ctx;

    if (ctx->failed) {
        bufferevent_free(ctx->failed);
        ctx->failed = NULL;
    }
    wm_tls_client_free(ctx->tls_failed);
    ctx->tls_failed = NULL;
    if (!s->closing) {
        wm_stream_proxy_connect(s);
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
    pcf->next_upstream = WM_CONF_UNSET;
    pcf->next_upstream_tries = WM_CONF_UNSET;
    pcf->next_upstream_timeout = WM_CONF_UNSET_MSEC;
    pcf->proxy_protocol = WM_CONF_UNSET;
    pcf->proxy_protocol_version = WM_CONF_UNSET;
    pcf->splice = WM_CONF_UNSET;
    pcf->upload_rate = WM_CONF_UNSET_SIZE;
    pcf->download_rate = WM_CONF_UNSET_SIZE;
    pcf->half_close = WM_CONF_UNSET;
    pcf->bind = WM_CONF_UNSET;
    return pcf;
}

static const char *
wm_stream_proxy_merge(wm_conf_t *cf, void *parent, void *child, unsigned level)
{
    wm_stream_proxy_conf_t *prev = parent, *conf = child;

    wm_conf_merge_msec(conf->connect_timeout, prev->connect_timeout, 60000);
    wm_conf_merge_msec(conf->timeout, prev->timeout, 600000);
    wm_conf_merge_size(conf->buffer_size, prev->buffer_size, 16384);
    wm_conf_merge_value(conf->next_upstream, prev->next_upstream, 1);
    wm_conf_merge_value(conf->next_upstream_tries, prev->next_upstream_tries,
                        0);
    wm_conf_merge_msec(conf->next_upstream_timeout, prev->next_upstream_timeout,
                       0);
    wm_conf_merge_value(conf->proxy_protocol, prev->proxy_protocol, 0);
    wm_conf_merge_value(conf->proxy_protocol_version,
                        prev->proxy_protocol_version, 1);
    wm_conf_merge_value(conf->splice, prev->splice, 1);
    wm_conf_merge_size(conf->upload_rate, prev->upload_rate, 0);
    wm_conf_merge_size(conf->download_rate, prev->download_rate, 0);
    wm_conf_merge_value(conf->half_close, prev->half_close, 0);
    if (conf->bind == WM_CONF_UNSET) {
        conf->bind = prev->bind == WM_CONF_UNSET ? 0 : prev->bind;
        conf->bind_text = prev->bind_text;
        conf->bind_addr = prev->bind_addr;
        conf->bind_len = prev->bind_len;
    }
    if (conf->connect_timeout == 0 || conf->timeout == 0) {
        return "has a zero proxy timeout";
    }
    if (conf->buffer_size == 0) {
        return "has \"proxy_buffer_size 0\"";
    }
    if (conf->proxy_protocol && conf->buffer_size < WM_STREAM_PP_OUT) {
        return "has \"proxy_protocol on\" with a \"proxy_buffer_size\" "
               "under 128 bytes";
    }
    if (conf->pass.data && !conf->pass_cv.has_vars) {
        wm_stream_proxy_resolve(cf, conf);
    }
    return NULL;
}

/*
 * Turns the proxy_pass text into a group once the whole stream block is
 * parsed, since an upstream block may follow the server that names it:
 * the group of that name, else the address's own group (every address the
 * name resolves to). Errors are reported at the proxy_pass line.
 */
static void
wm_stream_proxy_resolve(wm_conf_t *cf, wm_stream_proxy_conf_t *pcf)
{
    wm_upstream_main_conf_t *umcf =
        cf->cycle->conf[wm_stream_upstream_module.index];
    wm_conf_node_t at = {.file = pcf->pass_file, .line = pcf->pass_line};
    char err[WM_CONF_ERRLEN];

    pcf->group = wm_upstream_find(umcf, &pcf->pass);
    if (pcf->group == NULL) {
        pcf->group =
            wm_upstream_implicit(cf->cycle, umcf, &pcf->pass, 0,
                                 wm_stream_var_tables, err, sizeof(err));
        if (pcf->group == NULL) {
            wm_conf_error(cf, &at, "%s", err);
        }
    }
}

static const char *
wm_stream_proxy_pass(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_stream_proxy_conf_t *pcf = conf;
    wm_stream_core_srv_conf_t *cscf = wm_stream_conf_core_srv(cf);

    if (pcf->pass.data) {
        return "is duplicate";
    }
    if (cscf->handler) {
        return "conflicts with \"return\"";
    }
    if (memchr(cf->node->args[0].data, '$', cf->node->args[0].len)) {
        const char *rv = wm_cv_compile(cf->pool, &cf->node->args[0],
                                       wm_stream_var_tables, &pcf->pass_cv);

        if (rv) {
            return rv;
        }
    }
    /* Resolved by the merge, when every upstream block is known. */
    pcf->pass = cf->node->args[0];
    pcf->pass_file = cf->node->file;
    pcf->pass_line = cf->node->line;
    cscf->handler = wm_stream_proxy_handler;
    cscf->udp_capable = 1;
    return NULL;
}

/*
 * `proxy_bind address[:port] | off`: a numeric IPv4 or IPv6 address (in
 * brackets when a port follows), as nginx takes it. Variables and
 * `transparent` (binding to the client's own, non-local address) are
 * refused: a transparent bind needs privileges the workers drop and
 * routing set up outside wmproxy.
 */
static const char *
wm_stream_proxy_bind(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_stream_proxy_conf_t *pcf = conf;
    const wm_conf_node_t *n = cf->node;
    const char *a = (const char *) n->args[0].data;
    char host[INET6_ADDRSTRLEN + 2], *end;
    const char *port = NULL, *close;
    struct sockaddr_in *sin = (struct sockaddr_in *) &pcf->bind_addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &pcf->bind_addr;
    size_t hlen;
    long p = 0;

    if (pcf->bind != WM_CONF_UNSET) {
        return "is duplicate";
    }
    if (n->nargs == 2) {
        if (strcmp((const char *) n->args[1].data, "transparent") != 0) {
            return wm_conf_errf(cf, "has invalid parameter \"%s\"",
                                (const char *) n->args[1].data);
        }
        return "with \"transparent\" is not supported by wmproxy";
    }
    if (strcmp(a, "off") == 0) {
        pcf->bind = 0;
        return NULL;
    }
    if (strchr(a, '$')) {
        return "with variables is not supported by wmproxy (it takes a "
               "fixed local address)";
    }
    hlen = strlen(a);
    if (a[0] == '[' && (close = strchr(a, ']')) != NULL) {
        hlen = (size_t) (close - a - 1);
        a++;
        port = close[1] == ':' ? close + 2 : close[1] ? "" : NULL;
    } else if (strchr(a, ':') == strrchr(a, ':') && strchr(a, ':')) {
        port = strchr(a, ':') + 1; /* one colon: IPv4 with a port */
        hlen = (size_t) (port - a - 1);
    }
    if (port) {
        errno = 0;
        p = strtol(port, &end, 10);
        if (*port == '\0' || *end != '\0' || errno || p < 0 || p > 65535) {
            return wm_conf_errf(cf, "has invalid port in \"%s\"",
                                (const char *) n->args[0].data);
        }
    }
    if (hlen >= sizeof(host)) {
        goto invalid;
    }
    memcpy(host, a, hlen);
    host[hlen] = '\0';
    memset(&pcf->bind_addr, 0, sizeof(pcf->bind_addr));
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) p);
        pcf->bind_len = sizeof(*sin);
    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) p);
        pcf->bind_len = sizeof(*sin6);
    } else {
        goto invalid;
    }
    pcf->bind = 1;
    pcf->bind_text = (const char *) n->args[0].data;
    return NULL;

invalid:
    return wm_conf_errf(cf,
                        "has invalid address \"%s\" (a numeric IPv4 or "
                        "IPv6 address, with an optional port)",
                        (const char *) n->args[0].data);
}
