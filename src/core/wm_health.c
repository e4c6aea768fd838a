/*
 * The driver of active health checks. Every worker arms one timer per
 * group with a `health_check`; a tick claims the due checks of the group's
 * peers through the lease in the shared zone (hc_next, moved with a CAS),
 * so that one process runs each check whichever worker wakes first, and a
 * check whose process died is taken over once its lease expires. The
 * holder of a lease runs the check through the group's check type,
 * records the result and logs the transitions that every worker's
 * balancer then sees. A stream check speaks TLS when the family says so
 * (an http group that a proxy_pass https:// names).
 */
#include "wm_health.h"

#include "wm_process.h"

#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <time.h>
#include <unistd.h>

/* The checks of one group in this process. */
typedef struct wm_health_group_s {
    wm_upstream_group_t *group;
    const wm_health_conf_t *conf;
    struct event_base *base;
    struct event *timer; /* the next due check of any peer */
    struct event *reap;  /* frees finished probes, from the loop */
    wm_health_probe_t **probe; /* npeers: the check running here, or NULL */
    wm_health_probe_t *dead;   /* finished, not yet freed */
    struct wm_health_group_s *next;
} wm_health_group_t;

static struct {
    wm_health_group_t *groups;
    uint64_t rand;
    bool hooked; /* wm_health_stop() runs on quit */
} wm_health;

static void wm_health_tick(evutil_socket_t fd, short what, void *arg);
static void wm_health_arm(wm_health_group_t *hg);
static void wm_health_finish(wm_health_probe_t *p, wm_health_verdict_t v);

/* ---- configuration ---------------------------------------------------- */

wm_health_conf_t *
wm_health_conf_new(wm_pool_t *pool)
{
    wm_health_conf_t *hc = wm_pcalloc(pool, sizeof(*hc));

    if (hc == NULL) {
        return NULL;
    }
    hc->interval = WM_HEALTH_INTERVAL;
    hc->timeout = WM_HEALTH_TIMEOUT;
    hc->fails = WM_HEALTH_FAILS;
    hc->passes = WM_HEALTH_PASSES;
    return hc;
}

wm_int_t
wm_health_parse_param(wm_health_conf_t *hc, const wm_str_t *arg, char *err,
                      size_t errlen)
{
    wm_str_t v;
    wm_msec_t ms;
    int64_t n;

    if (wm_upstream_param(arg, "interval=", &v)) {
        ms = wm_parse_msec(&v);
        if (ms <= 0) {
            goto invalid;
        }
        hc->interval = ms;
    } else if (wm_upstream_param(arg, "jitter=", &v)) {
        ms = wm_parse_msec(&v);
        if (ms < 0) {
            goto invalid;
        }
        hc->jitter = ms;
    } else if (wm_upstream_param(arg, "timeout=", &v)) {
        ms = wm_parse_msec(&v);
        if (ms <= 0) {
            goto invalid;
        }
        hc->timeout = ms;
    } else if (wm_upstream_param(arg, "fails=", &v)) {
        n = wm_parse_num(&v);
        if (n < 1 || n > INT32_MAX) {
            goto invalid;
        }
        hc->fails = (uint32_t) n;
    } else if (wm_upstream_param(arg, "passes=", &v)) {
        n = wm_parse_num(&v);
        if (n < 1 || n > INT32_MAX) {
            goto invalid;
        }
        hc->passes = (uint32_t) n;
    } else if (wm_upstream_param(arg, "port=", &v)) {
        n = wm_parse_num(&v);
        if (n < 1 || n > 65535) {
            goto invalid;
        }
        hc->port = (int) n;
    } else if (wm_upstream_param(arg, "match=", &v)) {
        hc->match = v;
    } else {
        return WM_DECLINED;
    }
    return WM_OK;

invalid:
    snprintf(err, errlen, "invalid parameter \"%.*s\"", (int) arg->len,
             (const char *) arg->data);
    return WM_ERROR;
}

/* ---- the shared state ----------------------------------------------------- */

bool
wm_health_claim(wm_balance_peer_t *p, wm_msec_t now, wm_msec_t lease)
{
    int64_t next = atomic_load_explicit(&p->hc_next, memory_order_acquire);

    if (next > now) {
        return false;
    }
    return atomic_compare_exchange_strong_explicit(
        &p->hc_next, &next, lease, memory_order_acq_rel, memory_order_acquire);
}

bool
wm_health_release(wm_balance_peer_t *p, wm_msec_t lease, wm_msec_t next)
{
    int64_t held = lease;

    return atomic_compare_exchange_strong_explicit(
        &p->hc_next, &held, next, memory_order_acq_rel, memory_order_acquire);
}

wm_health_transition_t
wm_health_record(wm_balance_peer_t *p, const wm_health_conf_t *hc,
                 wm_health_verdict_t v)
{
    bool down = atomic_load_explicit(&p->hc_down, memory_order_relaxed);
    unsigned n;

    /* Only the holder of the lease writes the counters: no CAS needed. */
    if (v == WM_HEALTH_PASS) {
        atomic_store_explicit(&p->hc_fails, 0, memory_order_relaxed);
        n = atomic_load_explicit(&p->hc_passes, memory_order_relaxed);
        if (n < UINT32_MAX) {
            n++;
        }
        atomic_store_explicit(&p->hc_passes, n, memory_order_relaxed);
        if (down && n >= hc->passes) {
            wm_balance_set_health(p, true);
            return WM_HEALTH_WENT_UP;
        }
        return WM_HEALTH_SAME;
    }

    atomic_store_explicit(&p->hc_passes, 0, memory_order_relaxed);
    n = atomic_load_explicit(&p->hc_fails, memory_order_relaxed);
    if (n < UINT32_MAX) {
        n++;
    }
    atomic_store_explicit(&p->hc_fails, n, memory_order_relaxed);
    if (!down && n >= hc->fails) {
        wm_balance_set_health(p, false);
        return WM_HEALTH_WENT_DOWN;
    }
    return WM_HEALTH_SAME;
}

/* ---- transports ------------------------------------------------------------ */

wm_int_t
wm_health_connect_stream(wm_health_probe_t *p)
{
    const wm_health_conf_t *hc = p->conf;

    if (hc->tls) {
        /* BEV_EVENT_CONNECTED comes once the handshake is done. */
        SSL *ssl = wm_tls_client_ssl_new(hc->tls, -1, hc->tls_name, NULL);

        p->bev = ssl ? bufferevent_openssl_socket_new(
                           p->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                           BEV_OPT_CLOSE_ON_FREE)
                     : NULL;
        if (p->bev == NULL && ssl) {
            SSL_free(ssl);
        }
    } else {
        p->bev = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (p->bev == NULL) {
        p->err = ENOMEM;
        return WM_ERROR;
    }
    if (bufferevent_socket_connect(p->bev, (struct sockaddr *) &p->sockaddr,
                                   (int) p->socklen)
        != 0)
    {
        p->err = EVUTIL_SOCKET_ERROR();
        return WM_DECLINED;
    }
    return WM_OK;
}

wm_int_t
wm_health_connect_dgram(wm_health_probe_t *p)
{
    p->fd = socket(p->sockaddr.ss_family,
                   SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        p->err = errno;
        return WM_ERROR;
    }
    if (connect(p->fd, (struct sockaddr *) &p->sockaddr, p->socklen) != 0) {
        p->err = errno;
        return WM_DECLINED;
    }
    return WM_OK;
}

/* ---- one check ---------------------------------------------------------------- */

/* `, upstream: "u", peer: "10.0.0.1:80"` after a check's log lines. */
static size_t
wm_health_log_context(wm_log_t *log, char *buf, size_t len)
{
    wm_health_probe_t *p = log->data;
    int n;

    n = snprintf(buf, len, ", upstream: \"%s\", peer: \"%s\"",
                 (const char *) p->group->name.data,
                 (const char *) p->peer->name.data);
    return n < 0 ? 0 : wm_min((size_t) n, len);
}

/* Logs why the check failed (at info: the transition is the warning) and
 * ends it. */
static void
wm_health_fail(wm_health_probe_t *p, int err, const char *what)
{
    wm_log_error(WM_LOG_INFO, &p->log, err, "%s", what);
    wm_health_finish(p, WM_HEALTH_FAIL);
}

/* Asks the type for its verdict and ends the check once there is one. */
static void
wm_health_judge(wm_health_probe_t *p, wm_health_event_t ev,
                struct evbuffer *in)
{
    wm_health_verdict_t v = p->conf->type->verdict(p, ev, in);

    if (v == WM_HEALTH_MORE && ev == WM_HEALTH_EV_EOF) {
        v = WM_HEALTH_FAIL;
    }
    if (v == WM_HEALTH_FAIL) {
        wm_health_fail(p, 0,
                       p->reason ? p->reason
                                 : "health check failed: no expected reply");
    } else if (v == WM_HEALTH_PASS) {
        wm_health_finish(p, v);
    }
}

static void
wm_health_stream_read(struct bufferevent *bev, void *arg)
{
    wm_health_probe_t *p = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    wm_health_judge(p,
                    evbuffer_get_length(in) >= WM_HEALTH_READ_MAX
                        ? WM_HEALTH_EV_EOF
                        : WM_HEALTH_EV_DATA,
                    in);
}

static void
wm_health_stream_written(struct bufferevent *bev, void *arg)
{
    wm_health_probe_t *p = arg;

    if (!p->sent && !p->done) {
        p->sent = 1;
        wm_health_judge(p, WM_HEALTH_EV_SENT, bufferevent_get_input(bev));
    }
}

static void
wm_health_stream_event(struct bufferevent *bev, short what, void *arg)
{
    wm_health_probe_t *p = arg;
    struct evbuffer *out = bufferevent_get_output(bev);

    if (what & BEV_EVENT_CONNECTED) {
        p->connected = 1;
        if (p->conf->tls
            && wm_tls_client_check(bufferevent_openssl_get_ssl(bev),
                                   p->conf->tls->verify, &p->log)
                   != WM_OK)
        {
            wm_health_finish(p, WM_HEALTH_FAIL); /* logged */
            return;
        }
        if (p->conf->type->send(p, out) != WM_OK) {
            wm_log_error(WM_LOG_ALERT, &p->log, ENOMEM,
                         "cannot build the health check request");
            wm_health_finish(p, WM_HEALTH_MORE);
            return;
        }
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        if (evbuffer_get_length(out) == 0) {
            wm_health_stream_written(bev, p);
        }
        return;
    }
    if (what & BEV_EVENT_EOF) {
        wm_health_judge(p, WM_HEALTH_EV_EOF, bufferevent_get_input(bev));
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        int err = EVUTIL_SOCKET_ERROR();

        unsigned long e = p->conf->tls ? bufferevent_get_openssl_error(bev) : 0;

        if (e) {
            char buf[256];

            ERR_error_string_n(e, buf, sizeof(buf));
            while (bufferevent_get_openssl_error(bev)) {
                /* the rest of the queue says the same */
            }
            wm_log_error(WM_LOG_INFO, &p->log, 0, "SSL error (SSL: %s)", buf);
            wm_health_finish(p, WM_HEALTH_FAIL);
        } else if (!p->connected) {
            wm_health_fail(p, err,
                           p->conf->tls && err == 0
                               ? "upstream closed connection in SSL handshake"
                               : "connect() failed");
        } else {
            wm_health_fail(p, err,
                           (what & BEV_EVENT_READING) ? "recv() failed"
                                                      : "send() failed");
        }
    }
}

static void
wm_health_dgram_read(evutil_socket_t fd, short what, void *arg)
{
    static u_char buf[WM_HEALTH_READ_MAX];
    wm_health_probe_t *p = arg;
    ssize_t n;

    while (!p->done) {
        n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return;
            }
            if (errno == EINTR) {
                continue;
            }
            /* ECONNREFUSED: the ICMP port unreachable of a closed port */
            wm_health_fail(p, errno, "recv() failed");
            return;
        }
        evbuffer_drain(p->in, evbuffer_get_length(p->in));
        if (evbuffer_add(p->in, buf, (size_t) n) != 0) {
            wm_log_error(WM_LOG_ALERT, &p->log, ENOMEM, "cannot read");
            wm_health_finish(p, WM_HEALTH_MORE);
            return;
        }
        wm_health_judge(p, WM_HEALTH_EV_DATA, p->in);
    }
}

/* Sends the request of a datagram check as one datagram. */
static void
wm_health_dgram_send(wm_health_probe_t *p)
{
    struct evbuffer *out = evbuffer_new();
    ssize_t n;
    size_t len;

    if (out == NULL || p->conf->type->send(p, out) != WM_OK) {
        wm_log_error(WM_LOG_ALERT, &p->log, ENOMEM,
                     "cannot build the health check request");
        if (out) {
            evbuffer_free(out);
        }
        wm_health_finish(p, WM_HEALTH_MORE);
        return;
    }
    len = evbuffer_get_length(out);
    n = send(p->fd, evbuffer_pullup(out, -1), len, 0);
    evbuffer_free(out);
    if (n < 0) {
        wm_health_fail(p, errno, "send() failed");
        return;
    }
    p->sent = 1;
    wm_health_judge(p, WM_HEALTH_EV_SENT, p->in);
}

static void
wm_health_timeout(evutil_socket_t fd, short what, void *arg)
{
    wm_health_fail(arg, ETIMEDOUT, "health check timed out");
}

/* Frees a probe; never from one of its own callbacks. */
static void
wm_health_probe_free(wm_health_probe_t *p)
{
    if (p->conf->type->cleanup) {
        p->conf->type->cleanup(p);
    }
    if (p->bev) {
        SSL *ssl = bufferevent_openssl_get_ssl(p->bev);

        if (ssl && p->connected) {
            wm_tls_shutdown(ssl); /* a close_notify for the peer */
        }
        bufferevent_free(p->bev);
    }
    if (p->ev) {
        event_free(p->ev);
    }
    if (p->fd >= 0) {
        close(p->fd);
    }
    if (p->timer) {
        event_free(p->timer);
    }
    if (p->in) {
        evbuffer_free(p->in);
    }
    free(p);
}

static void
wm_health_reap(evutil_socket_t fd, short what, void *arg)
{
    wm_health_group_t *hg = arg;

    wm_health_probe_t *p;

    while ((p = hg->dead) != NULL) {
        hg->dead = p->next_dead;
        wm_health_probe_free(p);
    }
}

/* A random delay in [0, max] msec. */
static wm_msec_t
wm_health_jitter(wm_msec_t max)
{
    if (max <= 0) {
        return 0;
    }
    return (wm_msec_t) (((uint64_t) wm_balance_rand_next(&wm_health.rand)
                         * (uint64_t) (max + 1))
                        >> 32);
}

/*
 * Ends a check: gives the lease back with the next start time and, when
 * the lease was still ours and v is a verdict (MORE: a local failure,
 * none), records it and logs a transition. The probe stops at once and is
 * freed from the loop.
 */
static void
wm_health_finish(wm_health_probe_t *p, wm_health_verdict_t v)
{
    wm_health_group_t *hg = p->hg;
    const wm_health_conf_t *hc = p->conf;
    wm_balance_peer_t *bp = &hg->group->state->peer[p->index];
    wm_health_transition_t tr = WM_HEALTH_SAME;
    wm_msec_t next;

    if (p->done) {
        return;
    }
    p->done = 1;
    next = wm_upstream_now() + hc->interval + wm_health_jitter(hc->jitter);
    if (!wm_health_release(bp, p->lease, next)) {
        wm_log_debug(&p->log, "health check outlived its lease, ignored");
    } else if (v != WM_HEALTH_MORE) {
        wm_log_debug(&p->log, "health check %s",
                     v == WM_HEALTH_PASS ? "passed" : "failed");
        tr = wm_health_record(bp, hc, v);
    }
    if (tr == WM_HEALTH_WENT_DOWN) {
        wm_log_error(WM_LOG_WARN, wm_errlog, 0,
                     "peer %s is down after %u failed check%s, "
                     "upstream: \"%s\"",
                     (const char *) p->peer->name.data, (unsigned) hc->fails,
                     hc->fails == 1 ? "" : "s",
                     (const char *) hg->group->name.data);
    } else if (tr == WM_HEALTH_WENT_UP) {
        wm_log_error(WM_LOG_WARN, wm_errlog, 0,
                     "peer %s is up after %u passed check%s, "
                     "upstream: \"%s\"",
                     (const char *) p->peer->name.data, (unsigned) hc->passes,
                     hc->passes == 1 ? "" : "s",
                     (const char *) hg->group->name.data);
    }

    /* Quiet from now on; freed by the reaper, outside these callbacks. */
    if (p->bev) {
        bufferevent_disable(p->bev, EV_READ | EV_WRITE);
        bufferevent_setcb(p->bev, NULL, NULL, NULL, NULL);
    }
    if (p->ev) {
        event_del(p->ev);
    }
    if (p->timer) {
        event_del(p->timer);
    }
    hg->probe[p->index] = NULL;
    p->next_dead = hg->dead;
    hg->dead = p;
    event_active(hg->reap, EV_TIMEOUT, 1);
    wm_health_arm(hg);
}

/* Starts the check of peer i of hg, whose lease this process holds. */
static void
wm_health_probe_start(wm_health_group_t *hg, uint32_t i, wm_msec_t lease)
{
    const wm_health_conf_t *hc = hg->conf;
    const wm_upstream_peer_t *peer = &hg->group->peer[i];
    struct timeval tv = {hc->timeout / 1000, (hc->timeout % 1000) * 1000};
    wm_health_probe_t *p;
    wm_int_t rc;

    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        wm_log_error(WM_LOG_ALERT, wm_errlog, ENOMEM,
                     "cannot start a health check");
        wm_health_release(&hg->group->state->peer[i], lease,
                          wm_upstream_now() + hc->interval);
        return;
    }
    p->conf = hc;
    p->group = hg->group;
    p->peer = peer;
    memcpy(&p->sockaddr, &peer->sockaddr, peer->socklen);
    p->socklen = peer->socklen;
    if (hc->port) {
        if (p->sockaddr.ss_family == AF_INET) {
            ((struct sockaddr_in *) &p->sockaddr)->sin_port =
                htons((uint16_t) hc->port);
        } else if (p->sockaddr.ss_family == AF_INET6) {
            ((struct sockaddr_in6 *) &p->sockaddr)->sin6_port =
                htons((uint16_t) hc->port);
        }
    }
    p->base = hg->base;
    p->fd = -1;
    p->hg = hg;
    p->index = i;
    p->lease = lease;
    p->log = *wm_errlog;
    p->log.action = "while checking health";
    p->log.handler = wm_health_log_context;
    p->log.data = p;
    hg->probe[i] = p;

    p->timer = evtimer_new(hg->base, wm_health_timeout, p);
    p->in = evbuffer_new();
    if (p->timer == NULL || p->in == NULL) {
        wm_log_error(WM_LOG_ALERT, &p->log, ENOMEM,
                     "cannot start a health check");
        wm_health_finish(p, WM_HEALTH_MORE);
        return;
    }
    evtimer_add(p->timer, &tv);
    wm_log_debug(&p->log, "%s health check started", hc->type->name);

    rc = hc->type->connect(p);
    if (rc == WM_ERROR) {
        wm_log_error(WM_LOG_ALERT, &p->log, p->err,
                     "cannot open a health check connection");
        wm_health_finish(p, WM_HEALTH_MORE);
        return;
    }
    if (rc == WM_DECLINED) {
        wm_health_fail(p, p->err, "connect() failed");
        return;
    }
    if (p->bev) {
        bufferevent_setcb(p->bev, wm_health_stream_read,
                          wm_health_stream_written, wm_health_stream_event, p);
        bufferevent_setwatermark(p->bev, EV_READ, 0, WM_HEALTH_READ_MAX);
        return;
    }
    p->ev = event_new(hg->base, p->fd, EV_READ | EV_PERSIST,
                      wm_health_dgram_read, p);
    if (p->ev == NULL || event_add(p->ev, NULL) != 0) {
        wm_log_error(WM_LOG_ALERT, &p->log, ENOMEM,
                     "cannot start a health check");
        wm_health_finish(p, WM_HEALTH_MORE);
        return;
    }
    wm_health_dgram_send(p);
}

/* ---- the group timer -------------------------------------------------------- */

/* Arms hg's timer for the earliest lease of a peer not checked here now
 * (a check running here re-arms it when it ends). */
static void
wm_health_arm(wm_health_group_t *hg)
{
    wm_balance_group_t *b = hg->group->state;
    wm_msec_t now = wm_upstream_now(), wake = now + hg->conf->interval, next;
    struct timeval tv;
    uint32_t i;

    for (i = 0; i < b->npeers; i++) {
        if (b->peer[i].down || hg->probe[i] != NULL
            || atomic_load_explicit(&b->peer[i].empty, memory_order_relaxed))
        {
            continue;
        }
        next = atomic_load_explicit(&b->peer[i].hc_next, memory_order_relaxed);
        if (next < wake) {
            wake = next;
        }
    }
    wake = wake > now ? wake - now : 1;
    tv.tv_sec = wake / 1000;
    tv.tv_usec = (wake % 1000) * 1000;
    evtimer_add(hg->timer, &tv);
}

static void
wm_health_tick(evutil_socket_t fd, short what, void *arg)
{
    wm_health_group_t *hg = arg;
    wm_balance_group_t *b = hg->group->state;
    wm_msec_t now = wm_upstream_now();
    wm_msec_t lease = now + hg->conf->timeout + WM_HEALTH_LEASE_GRACE;
    uint32_t i;

    if (hg->group->nresolve != 0) {
        /* Check the addresses the resolver found last (and no slot left
         * empty by it). */
        wm_shm_lock(hg->group->zone);
        wm_upstream_sync(hg->group);
        wm_shm_unlock(hg->group->zone);
    }
    for (i = 0; i < b->npeers; i++) {
        /* `down` servers and empty resolve slots: nothing to check. */
        if (b->peer[i].down || hg->probe[i] != NULL
            || atomic_load_explicit(&b->peer[i].empty, memory_order_relaxed))
        {
            continue;
        }
        if (wm_health_claim(&b->peer[i], now, lease)) {
            wm_health_probe_start(hg, i, lease);
        }
    }
    wm_health_arm(hg);
}

static void
wm_health_group_free(wm_health_group_t *hg)
{
    uint32_t i;

    for (i = 0; hg->probe && i < hg->group->npeers; i++) {
        wm_health_probe_t *p = hg->probe[i];

        if (p == NULL) {
            continue;
        }
        /* Another process may check the peer at once. */
        wm_health_release(&hg->group->state->peer[i], p->lease, 0);
        wm_health_probe_free(p);
    }
    wm_health_reap(-1, 0, hg);
    if (hg->timer) {
        event_free(hg->timer);
    }
    if (hg->reap) {
        event_free(hg->reap);
    }
    free(hg->probe);
    free(hg);
}

/*
 * The next checks of a group whose interval was shortened by a reload
 * start within the new interval, not at the end of the old one. A lease
 * held by an old worker may be cut short too: its result is then dropped.
 */
static void
wm_health_adopt(wm_health_group_t *hg)
{
    wm_balance_group_t *b = hg->group->state;
    wm_msec_t limit = wm_upstream_now() + hg->conf->interval + hg->conf->jitter;
    int64_t next;
    uint32_t i;

    for (i = 0; i < b->npeers; i++) {
        next = atomic_load_explicit(&b->peer[i].hc_next, memory_order_relaxed);
        if (next > limit) {
            atomic_compare_exchange_strong_explicit(
                &b->peer[i].hc_next, &next, limit, memory_order_relaxed,
                memory_order_relaxed);
        }
    }
}

static void
wm_health_on_quit(void)
{
    wm_health_stop();
}

wm_int_t
wm_health_start(wm_cycle_t *cycle, const wm_upstream_main_conf_t *umcf)
{
    wm_upstream_group_t **gs;
    wm_health_group_t *hg;
    struct timespec ts;
    size_t i;

    if (umcf == NULL) {
        return WM_OK;
    }
    gs = umcf->groups.elts;
    for (i = 0; i < umcf->groups.nelts; i++) {
        wm_upstream_group_t *g = gs[i];

        if (g->health == NULL || g->health->type == NULL || g->state == NULL
            || g->npeers == 0)
        {
            continue;
        }
        hg = calloc(1, sizeof(*hg));
        if (hg == NULL) {
            goto nomem;
        }
        hg->group = g;
        hg->conf = g->health;
        hg->base = cycle->base;
        hg->next = wm_health.groups;
        wm_health.groups = hg;
        hg->probe = calloc(g->npeers, sizeof(*hg->probe));
        hg->timer = evtimer_new(cycle->base, wm_health_tick, hg);
        hg->reap = event_new(cycle->base, -1, 0, wm_health_reap, hg);
        if (hg->probe == NULL || hg->timer == NULL || hg->reap == NULL) {
            goto nomem;
        }
        wm_health_adopt(hg);
        /* The first tick at once: a fresh zone's leases are all due. */
        event_active(hg->timer, EV_TIMEOUT, 1);
    }

    if (wm_health.groups != NULL && !wm_health.hooked) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        wm_health.rand = ((uint64_t) getpid() << 32) ^ (uint64_t) ts.tv_nsec;
        if (wm_worker_on_quit(wm_health_on_quit) != WM_OK) {
            wm_log_error(WM_LOG_ALERT, wm_errlog, 0,
                         "too many handlers to run on quit");
            return WM_ERROR;
        }
        wm_health.hooked = true;
    }
    return WM_OK;

nomem:
    wm_log_error(WM_LOG_ALERT, wm_errlog, ENOMEM,
                 "cannot start the health checks");
    return WM_ERROR;
}

void
wm_health_stop(void)
{
    wm_health_group_t *hg;

    while ((hg = wm_health.groups) != NULL) {
        wm_health.groups = hg->next;
        wm_health_group_free(hg);
    }
}
