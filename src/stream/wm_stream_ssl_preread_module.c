/*
 * `ssl_preread on` in a stream server: before the session's handler runs,
 * the TLS ClientHello the client sent is peeked at (never consumed: the
 * upstream gets every byte) and its SNI, ALPN list and version become
 * $ssl_preread_server_name, $ssl_preread_alpn_protocols and
 * $ssl_preread_protocol, so that `map` and `proxy_pass` can route TLS
 * without terminating it, as nginx's ssl_preread module does.
 *
 * The wait ends when the hello is complete, when the bytes are not TLS
 * (the variables stay empty), when preread_buffer_size bytes did not hold
 * the whole hello or preread_timeout passed (both: empty variables, as a
 * server-speaks-first protocol must still be served); a malformed hello
 * or a client that closes ends the session with status 400.
 */
#include "wm_stream.h"
#include "wm_tls_hello.h"

#include "wm_log.h"

#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>

typedef struct {
    wm_int_t enable;
    size_t buffer_size;
    wm_msec_t timeout;
} wm_stream_preread_conf_t;

/* Per session, in s->preread_ctx (s->pool). */
typedef struct {
    struct event *ev;
    wm_str_t server_name;
    wm_str_t alpn;
    const char *protocol; /* NULL until a hello was read */
} wm_stream_preread_ctx_t;

static void *wm_stream_preread_create(wm_conf_t *cf, unsigned level);
static const char *wm_stream_preread_merge(wm_conf_t *cf, void *prev,
                                           void *conf, unsigned level);

#define WM_PR_CTX WM_CTX_STREAM | WM_CTX_STREAM_SRV

static const wm_command_t wm_stream_preread_commands[] = {
    {"ssl_preread", WM_PR_CTX, 1, 1, 0, WM_LVL_SRV, wm_conf_set_flag,
     offsetof(wm_stream_preread_conf_t, enable), NULL, "off",
     "read the TLS ClientHello into $ssl_preread_* before proxying"},
    {"preread_buffer_size", WM_PR_CTX, 1, 1, 0, WM_LVL_SRV, wm_conf_set_size,
     offsetof(wm_stream_preread_conf_t, buffer_size), NULL, "16k",
     "bytes of the client's first data examined by ssl_preread"},
    {"preread_timeout", WM_PR_CTX, 1, 1, 0, WM_LVL_SRV, wm_conf_set_msec,
     offsetof(wm_stream_preread_conf_t, timeout), NULL, "30s",
     "how long ssl_preread waits for the ClientHello"},
    wm_null_command,
};

wm_module_t wm_stream_ssl_preread_module = {
    .name = "stream_ssl_preread",
    .family = WM_MOD_STREAM,
    .commands = wm_stream_preread_commands,
    .create_conf = wm_stream_preread_create,
    .merge_conf = wm_stream_preread_merge,
};

static void
wm_stream_preread_done(wm_stream_session_t *s, int status)
{
    wm_stream_preread_ctx_t *ctx = s->preread_ctx;

    event_free(ctx->ev);
    ctx->ev = NULL;
    s->log.action = NULL;
    if (status) {
        wm_stream_finalize(s, status);
        return;
    }
    s->srv->handler(s);
}

static void
wm_stream_preread_read(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_session_t *s = arg;
    wm_stream_preread_ctx_t *ctx = s->preread_ctx;
    wm_stream_preread_conf_t *pcf =
        wm_stream_srv_conf(s->srv, wm_stream_ssl_preread_module);
    u_char *buf, *scratch;
    wm_tls_hello_t *h;
    const char *err = NULL;
    ssize_t n;
    wm_int_t rc;

    if (what & EV_TIMEOUT) {
        wm_log_debug(&s->log, "ssl_preread: no ClientHello within "
                              "preread_timeout");
        wm_stream_preread_done(s, 0);
        return;
    }
    buf = malloc(2 * pcf->buffer_size);
    h = malloc(sizeof(*h));
    if (buf == NULL || h == NULL) {
        free(buf);
        free(h);
        wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM, "ssl_preread failed");
        wm_stream_preread_done(s, 500);
        return;
    }
    scratch = buf + pcf->buffer_size;
    n = recv(fd, buf, pcf->buffer_size, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        goto again;
    }
    if (n <= 0) {
        if (n < 0) {
            wm_log_error(WM_LOG_INFO, &s->log, errno, "recv() failed");
        } else {
            wm_log_error(WM_LOG_INFO, &s->log, 0, "client closed connection");
        }
        free(buf);
        free(h);
        wm_stream_preread_done(s, 400);
        return;
    }
    rc = wm_tls_hello_parse(buf, (size_t) n, scratch, pcf->buffer_size, h,
                            &err);
    switch (rc) {
    case WM_OK:
        ctx->server_name.data =
            (u_char *) wm_pstrndup(s->pool, h->server_name.data,
                                   h->server_name.len);
        ctx->server_name.len = ctx->server_name.data ? h->server_name.len : 0;
        ctx->alpn.data =
            (u_char *) wm_pstrndup(s->pool, h->alpn.data, h->alpn.len);
        ctx->alpn.len = ctx->alpn.data ? h->alpn.len : 0;
        ctx->protocol = h->protocol;
        wm_log_debug(&s->log, "ssl_preread: server name \"%.*s\", %s",
                     (int) ctx->server_name.len,
                     ctx->server_name.data ? (char *) ctx->server_name.data
                                           : "",
                     ctx->protocol);
        break;
    case WM_DECLINED:
        wm_log_debug(&s->log, "ssl_preread: not a TLS handshake");
        break;
    case WM_AGAIN:
        if ((size_t) n < pcf->buffer_size) {
            goto again; /* more bytes bring a new edge */
        }
        wm_log_error(WM_LOG_INFO, &s->log, 0,
                     "ssl_preread: the ClientHello does not fit in "
                     "preread_buffer_size");
        break;
    default:
        wm_log_error(WM_LOG_INFO, &s->log, 0,
                     "ssl_preread: invalid ClientHello: %s", err);
        free(buf);
        free(h);
        wm_stream_preread_done(s, 400);
        return;
    }
    free(buf);
    free(h);
    wm_stream_preread_done(s, 0);
    return;

again:
    free(buf);
    free(h);
}

void
wm_stream_ssl_preread(wm_stream_session_t *s)
{
    wm_stream_preread_conf_t *pcf =
        wm_stream_srv_conf(s->srv, wm_stream_ssl_preread_module);
    wm_stream_preread_ctx_t *ctx;
    struct timeval tv;

    if (!pcf->enable || s->udp) {
        s->srv->handler(s);
        return;
    }
    ctx = wm_pcalloc(s->pool, sizeof(*ctx));
    if (ctx == NULL) {
        wm_stream_finalize(s, 500);
        return;
    }
    tv.tv_sec = (long) (pcf->timeout / 1000);
    tv.tv_usec = (long) (pcf->timeout % 1000) * 1000;
    ctx->ev = event_new(s->base, s->fd, EV_READ | EV_PERSIST | EV_ET,
                        wm_stream_preread_read, s);
    s->preread_ctx = ctx;
    if (ctx->ev == NULL || event_add(ctx->ev, &tv) != 0) {
        wm_stream_finalize(s, 500);
        return;
    }
    s->log.action = "while prereading client data";
}

void
wm_stream_ssl_preread_cleanup(wm_stream_session_t *s)
{
    wm_stream_preread_ctx_t *ctx = s->preread_ctx;

    if (ctx && ctx->ev) {
        event_free(ctx->ev);
        ctx->ev = NULL;
    }
}

/* $ssl_preread_server_name (0), _alpn_protocols (1), _protocol (2). */
static wm_int_t
wm_stream_preread_var(void *r, const wm_str_t *arg, uintptr_t data,
                      wm_pool_t *pool, wm_str_t *v)
{
    wm_stream_session_t *s = r;
    wm_stream_preread_ctx_t *ctx = s->preread_ctx;

    if (ctx == NULL || ctx->protocol == NULL) {
        v->data = (u_char *) "";
        v->len = 0;
        return WM_OK;
    }
    switch (data) {
    case 0:
        *v = ctx->server_name;
        break;
    case 1:
        *v = ctx->alpn;
        break;
    default:
        v->data = (u_char *) ctx->protocol;
        v->len = strlen(ctx->protocol);
    }
    if (v->data == NULL) {
        v->data = (u_char *) "";
    }
    return WM_OK;
}

const wm_var_def_t wm_stream_ssl_preread_vars[] = {
    {"ssl_preread_server_name", wm_stream_preread_var, 0, 0, NULL},
    {"ssl_preread_alpn_protocols", wm_stream_preread_var, 1, 0, NULL},
    {"ssl_preread_protocol", wm_stream_preread_var, 2, 0, NULL},
    {NULL, NULL, 0, 0, NULL},
};

static void *
wm_stream_preread_create(wm_conf_t *cf, unsigned level)
{
    wm_stream_preread_conf_t *pcf = wm_pcalloc(cf->pool, sizeof(*pcf));

    if (pcf == NULL) {
        return NULL;
    }
    pcf->enable = WM_CONF_UNSET;
    pcf->buffer_size = WM_CONF_UNSET_SIZE;
    pcf->timeout = WM_CONF_UNSET_MSEC;
    return pcf;
}

static const char *
wm_stream_preread_merge(wm_conf_t *cf, void *parent, void *child,
                        unsigned level)
{
    wm_stream_preread_conf_t *prev = parent, *conf = child;

    wm_conf_merge_value(conf->enable, prev->enable, 0);
    wm_conf_merge_size(conf->buffer_size, prev->buffer_size, 16384);
    wm_conf_merge_msec(conf->timeout, prev->timeout, 30000);
    if (conf->buffer_size < 64) {
        return "has \"preread_buffer_size\" under 64 bytes";
    }
    return NULL;
}
