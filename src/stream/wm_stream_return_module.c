/*
 * `return value;` in a stream server: answers every TCP connection or UDP
 * datagram with the value (variables expanded) and closes, like nginx's
 * stream return module. Handy for health endpoints and tests.
 */
#include "wm_stream.h"
#include "wm_stream_ssl.h"

#include "wm_log.h"

#include <event2/buffer.h>
#include <event2/event.h>

#define WM_STREAM_RETURN_TIMEOUT 60

typedef struct {
    wm_cv_t value;
    unsigned set : 1;
} wm_stream_return_conf_t;

static void *wm_stream_return_create(wm_conf_t *cf, unsigned level);
static void wm_stream_return_handler(wm_stream_session_t *s);
static const char *wm_stream_return_set(wm_conf_t *cf,
                                        const wm_command_t *cmd, void *conf);

static const wm_command_t wm_stream_return_commands[] = {
    {"return", WM_CTX_STREAM_SRV, 1, 1, 0, WM_LVL_SRV, wm_stream_return_set, 0,
     NULL, "-", "send a value to the client and close the connection"},
    wm_null_command,
};

wm_module_t wm_stream_return_module = {
    .name = "stream_return",
    .family = WM_MOD_STREAM,
    .commands = wm_stream_return_commands,
    .create_conf = wm_stream_return_create,
};

static void
wm_stream_return_sent(struct bufferevent *bev, void *arg)
{
    wm_stream_finalize(arg, 200);
}

static void
wm_stream_return_event(struct bufferevent *bev, short what, void *arg)
{
    wm_stream_session_t *s = arg;

    if (what & BEV_EVENT_TIMEOUT) {
        wm_log_error(WM_LOG_INFO, &s->log, 0,
                     "client timed out while sending the return value");
    } else if (what & BEV_EVENT_ERROR) {
        wm_log_error(WM_LOG_INFO, &s->log, EVUTIL_SOCKET_ERROR(),
                     "send() to client failed");
    }
    wm_stream_finalize(s, 200);
}

static void
wm_stream_return_handler(wm_stream_session_t *s)
{
    wm_stream_return_conf_t *rcf =
        wm_stream_srv_conf(s->srv, wm_stream_return_module);
    struct timeval tv = {WM_STREAM_RETURN_TIMEOUT, 0};
    wm_str_t v;

    if (wm_cv_eval(&rcf->value, s, s->pool, &v) != WM_OK) {
        wm_log_error(WM_LOG_ERR, &s->log, ENOMEM, "cannot build return value");
        wm_stream_finalize(s, 500);
        return;
    }
    s->bytes_sent = v.len;
    if (s->udp) {
        if (sendto(s->listening->fd, v.data, v.len, 0,
                   (struct sockaddr *) &s->peer, s->peerlen)
            < 0)
        {
            wm_log_error(WM_LOG_INFO, &s->log, errno, "sendto() failed");
        }
        wm_stream_finalize(s, 200);
        return;
    }
    if (wm_stream_ssl_conn(s)) {
        wm_stream_ssl_send(s, &v, WM_STREAM_RETURN_TIMEOUT * 1000);
        return;
    }
    s->client = bufferevent_socket_new(s->base, s->fd, BEV_OPT_CLOSE_ON_FREE);
    if (s->client == NULL) {
        wm_stream_finalize(s, 500);
        return;
    }
    if (v.len == 0) {
        wm_stream_finalize(s, 200);
        return;
    }
    bufferevent_setcb(s->client, NULL, wm_stream_return_sent,
                      wm_stream_return_event, s);
    bufferevent_set_timeouts(s->client, NULL, &tv);
    if (bufferevent_write(s->client, v.data, v.len) != 0
        || bufferevent_enable(s->client, EV_WRITE) != 0)
    {
        wm_stream_finalize(s, 500);
    }
}

static void *
wm_stream_return_create(wm_conf_t *cf, unsigned level)
{
    return wm_pcalloc(cf->pool, sizeof(wm_stream_return_conf_t));
}

static const char *
wm_stream_return_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_stream_return_conf_t *rcf = conf;
    wm_stream_core_srv_conf_t *cscf = wm_stream_conf_core_srv(cf);
    const char *rv;

    if (rcf->set) {
        return "is duplicate";
    }
    if (cscf->handler) {
        return "conflicts with \"proxy_pass\"";
    }
    rv = wm_cv_compile(cf->pool, &cf->node->args[0], wm_stream_var_tables,
                       &rcf->value);
    if (rv) {
        return rv;
    }
    rcf->set = 1;
    cscf->handler = wm_stream_return_handler;
    cscf->udp_capable = 1;
    return NULL;
}
