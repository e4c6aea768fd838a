/*
 * proxy_pass for UDP sessions. Each session (one client address of one
 * listening socket, see wm_stream_udp.c) gets its own UDP socket
 * connected to a peer that the upstream balancer picks; the client's
 * datagrams go to it as they are, and its replies go back to the client
 * from the listening socket. The client's are read in batches with
 * recvmmsg(); the upstream socket is read and written through the
 * worker's io_uring (wm_stream_udp_ring.c) where it is there and the
 * session takes every reply, with recvmmsg() and sendmsg() otherwise. A
 * client's datagrams read together are sent together (segmented, see
 * wm_stream_udp_send.c), and the replies leave with sendmmsg() by the
 * worker's outbox, for all sessions at once (wm_stream_udp_out.c). The
 * upstream socket gets the receive buffer of the listening one (listen
 * ... rcvbuf=), so that bulk replies are not dropped there. A session
 * ends after proxy_responses replies per client datagram, after
 * proxy_timeout without a datagram either way, or on an error. An ICMP
 * refusal (ECONNREFUSED on the connected socket) before the peer's first
 * reply counts as a failure of the peer and moves the session to the next
 * one, with the datagrams sent so far (as many as proxy_buffer_size
 * holds).
 */
#include "wm_stream.h"

#include "wm_log.h"
#include "wm_process.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <sys/un.h>
#include <unistd.h>

#define WM_STREAM_UDP_PP_MAX 128 /* room for any PROXY header */

typedef struct {
    wm_link_t link; /* in wm_stream_udp_proxies */
    wm_stream_session_t *s;
    wm_stream_udp_upstream_t up;
    const wm_stream_udp_conf_t *conf;
    wm_upstream_pick_t pick;
    int fd;                          /* connected to the current peer, or -1 */
    wm_stream_udp_ring_sock_t *ring; /* fd in the worker's io_uring */
    struct event *read;              /* fd readable (without the ring) */
    struct event *failed;            /* the read event of a peer given up */
    struct event *retry;             /* the next peer, from the loop */
    struct event *idle;
    struct timeval last;          /* the last datagram either way */
    struct evbuffer *kept;        /* sent before the first reply: 2-byte length,
                                     then the datagram, for the next peer */
    uint64_t requests;            /* datagrams from the client */
    uint64_t responses;           /* datagrams from the upstream */
    wm_msec_t start;              /* the first connect, wm_upstream_now() */
    wm_upstream_result_t verdict; /* for the peer held at the end */
    unsigned replied : 1;         /* the current peer replied */
    unsigned overflow : 1;        /* kept could not hold everything sent */
    unsigned pp_sent : 1;         /* the PROXY header went to this peer */
    bool gso;                     /* segmented sends not refused yet */
} wm_stream_udp_proxy_ctx_t;

static void wm_stream_udp_proxy_connect(wm_stream_session_t *s);
static void wm_stream_udp_proxy_read(evutil_socket_t fd, short what, void *arg);
static void wm_stream_udp_proxy_ring_recv(void *data, const u_char *p,
                                          size_t len);
static void wm_stream_udp_proxy_ring_error(void *data, int err, bool sending,
                                           size_t len);

/* The worker's proxied UDP sessions, for a graceful stop. */
static wm_link_t wm_stream_udp_proxies = {&wm_stream_udp_proxies,
                                          &wm_stream_udp_proxies};

static void
wm_stream_udp_proxy_touch(wm_stream_udp_proxy_ctx_t *ctx)
{
    evutil_gettimeofday(&ctx->last, NULL);
}

/* True while replies are still due: proxy_responses per client datagram,
 * counted over the whole session. */
static bool
wm_stream_udp_proxy_expecting(const wm_stream_udp_proxy_ctx_t *ctx)
{
    return ctx->conf->responses != WM_STREAM_UDP_UNLIMITED
           && ctx->responses < ctx->requests * (uint64_t) ctx->conf->responses;
}

/* nginx's end of a UDP session: every datagram the session may take
 * (proxy_requests) came, and the replies they call for. */
static bool
wm_stream_udp_proxy_done(const wm_stream_udp_proxy_ctx_t *ctx)
{
    if (ctx->conf->requests && ctx->requests < (uint64_t) ctx->conf->requests) {
        return false;
    }
    return ctx->conf->responses != WM_STREAM_UDP_UNLIMITED
           && !wm_stream_udp_proxy_expecting(ctx);
}

static void
wm_stream_udp_proxy_cleanup(wm_stream_session_t *s)
{
    wm_stream_udp_proxy_ctx_t *ctx = s->ctx;

    wm_list_remove(&ctx->link);
    if (ctx->pick.group) {
        wm_upstream_release(&ctx->pick, ctx->verdict, &s->log);
    }
    if (ctx->read) {
        event_free(ctx->read);
    }
    if (ctx->failed) {
        event_free(ctx->failed);
    }
    if (ctx->retry) {
        event_free(ctx->retry);
    }
    if (ctx->idle) {
        event_free(ctx->idle);
    }
    if (ctx->kept) {
        evbuffer_free(ctx->kept);
    }
    if (ctx->ring) {
        wm_stream_udp_ring_close(ctx->ring); /* closes fd */
    } else if (ctx->fd >= 0) {
        close(ctx->fd);
    }
}

/* The graceful stop: the listening sockets are no longer read, so no
 * session gets another datagram from its client; those that wait for no
 * reply end now, the others when their replies came or time ran out. */
static void
wm_stream_udp_proxy_quit(void)
{
    wm_link_t *l;

    wm_stream_udp_out_flush(); /* before the listening sockets close */
    for (l = wm_stream_udp_proxies.next; l != &wm_stream_udp_proxies;
         l = l->next) {
        wm_stream_udp_proxy_ctx_t *ctx =
            wm_link_data(l, wm_stream_udp_proxy_ctx_t, link);

        wm_stream_udp_unbind(ctx->s);
        if (!wm_stream_udp_proxy_expecting(ctx)) {
            ctx->s->termination = "shutdown";
            wm_stream_finalize(ctx->s, 200);
        }
    }
}

/* err from sending a len-byte datagram to the current peer: err when the
 * peer is to blame (a refusal or an unreachable host, reported by ICMP),
 * 0 when the datagram was lost for a local reason (logged). */
static int
wm_stream_udp_proxy_send_error(wm_stream_session_t *s, int err, size_t len)
{
    switch (err) {
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
        return err;
    default:
        /* A full socket buffer loses the datagram, as the network may. */
        wm_log_error(WM_LOG_INFO, &s->log, err,
                     "send() of a %zu-byte datagram to upstream failed", len);
        return 0;
    }
}

/*
 * Sends one datagram to the current peer, with the PROXY header in front
 * when proxy_protocol is on and it is the peer's first. The errno of a
 * send that failed because of the peer (a refusal or an unreachable
 * host, reported by ICMP), 0 otherwise (a datagram dropped for a local
 * reason is logged).
 */
static int
wm_stream_udp_proxy_send(wm_stream_session_t *s, const u_char *data, size_t len)
{
    wm_stream_udp_proxy_ctx_t *ctx = s->ctx;
    u_char head[WM_STREAM_UDP_PP_MAX];
    struct iovec iov[2];
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 0};
    ssize_t n;

    if (ctx->up.proxy_protocol && !ctx->pp_sent) {
        struct sockaddr_storage local;
        socklen_t llen = sizeof(local);

        if (getsockname(s->listening->fd, (struct sockaddr *) &local, &llen)
            != 0) {
            local.ss_family = AF_UNSPEC;
        }
        iov[0].iov_base = head;
        iov[0].iov_len = wm_pp_write(
            head, sizeof(head), (unsigned) ctx->up.proxy_protocol,
            (struct sockaddr *) &s->peer, (struct sockaddr *) &local);
        if (ctx->up.proxy_protocol == 2 && iov[0].iov_len > 13
            && (head[13] & 0x0f) == 1)
        {
            head[13] = (u_char) ((head[13] & 0xf0) | 2); /* DGRAM */
        }
        mh.msg_iovlen = 1;
        ctx->pp_sent = 1;
    }
    iov[mh.msg_iovlen].iov_base = (void *) data;
    iov[mh.msg_iovlen].iov_len = len;
    mh.msg_iovlen++;

    if (ctx->ring) {
        /* Sent at the end of the pass; a failure comes back to
         * wm_stream_udp_proxy_ring_error(). */
        if (wm_stream_udp_ring_send(ctx->ring, iov, (unsigned) mh.msg_iovlen)
            != WM_OK) {
            wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM,
                         "cannot send a %zu-byte datagram to upstream", len);
        }
        return 0;
    }
    do {
        n = sendmsg(ctx->fd, &mh, 0);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
        return 0;
    }
    return wm_stream_udp_proxy_send_error(s, errno, len);
}

/* Sends the datagrams kept for a new peer; 0 or the errno of a failure
 * the peer is to blame for. */
static int
wm_stream_udp_proxy_send_kept(wm_stream_session_t *s)
{
    wm_stream_udp_proxy_ctx_t *ctx = s->ctx;
    struct evbuffer_ptr pos;
    size_t left = evbuffer_get_length(ctx->kept);
    u_char lb[2];
    int err;

    evbuffer_ptr_set(ctx->kept, &pos, 0, EVBUFFER_PTR_SET);
    while (left >= 2) {
        size_t len;
        u_char *data;

        evbuffer_copyout_from(ctx->kept, &pos, lb, 2);
        len = (size_t) lb[0] << 8 | lb[1];
        data = evbuffer_pullup(ctx->kept, (ev_ssize_t) (pos.pos + 2 + len));
        if (data == NULL) {
            return 0;
        }
        err = wm_stream_udp_proxy_send(s, data + pos.pos + 2, len);
        if (err) {
            return err;
        }
        evbuffer_ptr_set(ctx->kept, &pos, 2 + len, EVBUFFER_PTR_ADD);
        left -= 2 + len;
    }
    return 0;
}

/*
 * The transport step for UDP: a socket connected to peer, read by
 * ctx->read. Plain UDP (or unix datagram) sockets for now. WM_OK,
 * WM_DECLINED when the peer is to blame (logged), WM_ERROR on a local
 * failure (logged).
 */
static wm_int_t
wm_stream_udp_proxy_connect_peer(wm_stream_session_t *s,
                                 const wm_upstream_peer_t *peer)
{
    wm_stream_udp_proxy_ctx_t *ctx = s->ctx;
    int family = peer->sockaddr.ss_family;

    ctx->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ctx->fd < 0) {
        /* Out of descriptors is load (crit, as accept4() failing). */
        wm_log_error(errno == EMFILE || errno == ENFILE ? WM_LOG_CRIT
                                                        : WM_LOG_ALERT,
                     &s->log, errno, "socket() failed");
        return WM_ERROR;
    }
    if (s->listening->rcvbuf
        && setsockopt(ctx->fd, SOL_SOCKET, SO_RCVBUF, &s->listening->rcvbuf,
                      sizeof(int))
               != 0)
    {
        /* The replies get the receive buffer that the client's datagrams
         * have (listen ... rcvbuf=); without it, the system's default. */
        wm_log_error(WM_LOG_ALERT, &s->log, errno,
                     "setsockopt(SO_RCVBUF) failed");
    }
    if (family == AF_UNIX) {
        /* An autobound (abstract) name, so that the peer can reply. */
        struct sockaddr_un un = {.sun_family = AF_UNIX};

        if (bind(ctx->fd, (struct sockaddr *) &un, sizeof(sa_family_t)) != 0) {
            wm_log_error(WM_LOG_ALERT, &s->log, errno, "bind() failed");
            return WM_ERROR;
        }
    }
    if (connect(ctx->fd, (const struct sockaddr *) &peer->sockaddr,
                peer->socklen)
        != 0)
    {
        wm_log_error(WM_LOG_ERR, &s->log, errno, "connect() failed");
        return WM_DECLINED;
    }
    if (ctx->conf->io_uring && ctx->conf->responses == WM_STREAM_UDP_UNLIMITED
        && wm_stream_udp_ring_ready(s->base))
    {
        /* Every reply is taken: nothing to hold back for proxy_responses
         * (which reads no more than the replies due). */
        ctx->ring =
            wm_stream_udp_ring_open(ctx->fd, wm_stream_udp_proxy_ring_recv,
                                    wm_stream_udp_proxy_ring_error, s);
        if (ctx->ring == NULL) {
            wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM,
                         "cannot start proxying");
            return WM_ERROR;
        }
    } else {
        ctx->read = event_new(s->base, ctx->fd, EV_READ | EV_PERSIST,
                              wm_stream_udp_proxy_read, s);
        if (ctx->read == NULL || event_add(ctx->read, NULL) != 0) {
            wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM,
                         "cannot start proxying");
            return WM_ERROR;
        }
    }
    ctx->replied = 0;
    ctx->pp_sent = 0;
    ctx->gso = family == AF_INET || family == AF_INET6;
    return WM_OK;
}

/* Gives up the current peer's socket (its read event is freed from the
 * loop, never in its own callback). */
static void
wm_stream_udp_proxy_drop_peer(wm_stream_udp_proxy_ctx_t *ctx)
{
    if (ctx->read) {
        event_del(ctx->read);
        if (ctx->failed) {
            event_free(ctx->failed);
        }
        ctx->failed = ctx->read;
        ctx->read = NULL;
    }
    if (ctx->ring) {
        wm_stream_udp_ring_close(ctx->ring); /* closes fd */
        ctx->ring = NULL;
        ctx->fd = -1;
    }
    if (ctx->fd >= 0) {
        close(ctx->fd);
        ctx->fd = -1;
    }
}

/*
 * After a failure of the current peer: gives it back as failed and tells
 * whether another one may be tried (proxy_next_upstream, _tries,
 * _timeout, at most one try per peer, and only while every datagram sent
 * is kept and no reply came). When not, the session ends with 502.
 */
static bool
wm_stream_udp_proxy_next(wm_stream_session_t *s)
{
    wm_stream_udp_proxy_ctx_t *ctx = s->ctx;
    const wm_stream_udp_upstream_t *up = &ctx->up;
    wm_uint_t limit;

    wm_stream_udp_proxy_drop_peer(ctx);
    if (ctx->up.direct) {
        wm_stream_finalize(s, 502);
        return false;
    }
    wm_upstream_release(&ctx->pick, WM_UPSTREAM_FAILED, &s->log);
    limit = ctx->pick.group->npeers;
    if (up->next_upstream_tries > 0
        && (wm_uint_t) up->next_upstream_tries < limit) {
        limit = (wm_uint_t) up->next_upstream_tries;
    }
    if (!up->next_upstream || ctx->replied || ctx->overflow
        || ctx->pick.tries >= limit
        || (up->next_upstream_timeout > 0
            && wm_upstream_now() - ctx->start >= up->next_upstream_timeout))
    {
        wm_stream_finalize(s, 502);
        return false;
    }
    return true;
}

/* The current peer failed with err (logged here, with what failed). */
static void
wm_stream_udp_proxy_failed(wm_stream_session_t *s, int err, const char *what)
{
    wm_stream_udp_proxy_ctx_t *ctx = s->ctx;

    wm_log_error(WM_LOG_ERR, &s->log, err, "%s failed", what);
    if (wm_stream_udp_proxy_next(s)) {
        event_active(ctx->retry, EV_TIMEOUT, 1);
    }
}

/* Picks peers until one has the kept datagrams; the session ends with
 * 502 when no peer is left. */
static void
wm_stream_udp_proxy_connect(wm_stream_session_t *s)
{
    wm_stream_udp_proxy_ctx_t *ctx = s->ctx;
    const wm_upstream_peer_t *peer;
    wm_int_t rc;
    int err;

    for (;;) {
        peer = ctx->up.direct ? ctx->up.direct : wm_upstream_pick(&ctx->pick);
        if (peer == NULL) {
            s->upstream_text = (const char *) ctx->up.group->name.data;
            wm_log_error(WM_LOG_ERR, &s->log, 0, "%s",
                         wm_balance_reason_text(ctx->pick.reason));
            wm_stream_finalize(s, 502);
            return;
        }
        s->upstream_text = (const char *) peer->name.data;
        wm_log_debug(&s->log, "sending to upstream, try %lu",
                     (unsigned long) ctx->pick.tries);
        rc = wm_stream_udp_proxy_connect_peer(s, peer);
        if (rc == WM_ERROR) {
            wm_stream_finalize(s, 500);
            return;
        }
        if (rc == WM_OK) {
            err = wm_stream_udp_proxy_send_kept(s);
            if (err == 0) {
                return;
            }
            wm_log_error(WM_LOG_ERR, &s->log, err, "send() failed");
        }
        if (!wm_stream_udp_proxy_next(s)) {
            return;
        }
    }
}

static void
wm_stream_udp_proxy_retry(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_session_t *s = arg;
    wm_stream_udp_proxy_ctx_t *ctx = s->ctx;

    if (ctx->failed) {
        event_free(ctx->failed);
        ctx->failed = NULL;
    }
    if (!s->closing) {
        wm_stream_udp_proxy_connect(s);
    }
}

/* Keeps a datagram for the next peer while no reply came (and while
 * proxy_buffer_size holds them all). */
static void
wm_stream_udp_proxy_keep(wm_stream_udp_proxy_ctx_t *ctx, const u_char *data,
                         size_t len)
{
    u_char lb[2] = {(u_char) (len >> 8), (u_char) len};

    if (ctx->replied || ctx->overflow || ctx->up.direct) {
        return;
    }
    if (evbuffer_get_length(ctx->kept) + 2 + len > ctx->up.buffer_size
        || evbuffer_add(ctx->kept, lb, 2) != 0
        || evbuffer_add(ctx->kept, data, len) != 0)
    {
        ctx->overflow = 1;
        evbuffer_drain(ctx->kept, evbuffer_get_length(ctx->kept));
    }
}

/* A datagram from the client, the first one included (counted in
 * bytes_received by the caller). */
static void
wm_stream_udp_proxy_request(wm_stream_session_t *s, const u_char *data,
                            size_t len)
{
    wm_stream_udp_proxy_ctx_t *ctx = s->ctx;
    int err;

    ctx->requests++;
    wm_stream_udp_proxy_touch(ctx);
    if (ctx->conf->requests && ctx->requests >= (uint64_t) ctx->conf->requests)
    {
        /* proxy_requests: the client's next datagram is a new session. */
        wm_stream_udp_unbind(s);
    }
    wm_stream_udp_proxy_keep(ctx, data, len);
    if (ctx->fd < 0) {
        return; /* kept for the peer being picked */
    }
    err = wm_stream_udp_proxy_send(s, data, len);
    if (err) {
        wm_stream_udp_proxy_failed(s, err, "send()");
        return;
    }
    if (wm_stream_udp_proxy_done(ctx)) {
        ctx->verdict = WM_UPSTREAM_OK;
        wm_stream_finalize(s, 200);
    }
}

/*
 * Later datagrams from the client, read together. While nothing but
 * sending them is due (no PROXY header to send first, no proxy_requests
 * count to reach, proxy_responses not 0), they all leave at once
 * (segmented, see wm_stream_udp_send.c); otherwise the first one goes
 * alone, through the steps of wm_stream_udp_proxy_request().
 */
static unsigned
wm_stream_udp_proxy_requests(wm_stream_session_t *s, const struct iovec *dg,
                             unsigned n)
{
    wm_stream_udp_proxy_ctx_t *ctx = s->ctx;
    unsigned i, sent;
    int err;

    if (n == 1 || ctx->fd < 0 || ctx->conf->requests
        || ctx->conf->responses == 0
        || (ctx->up.proxy_protocol && !ctx->pp_sent))
    {
        s->bytes_received += dg[0].iov_len;
        wm_stream_udp_proxy_request(s, dg[0].iov_base, dg[0].iov_len);
        return 1;
    }
    ctx->requests += n;
    wm_stream_udp_proxy_touch(ctx);
    if (ctx->ring) {
        /* Datagrams queued in the ring leave before these. */
        wm_stream_udp_ring_flush();
    }
    for (i = 0; i < n; i++) {
        s->bytes_received += dg[i].iov_len;
        wm_stream_udp_proxy_keep(ctx, dg[i].iov_base, dg[i].iov_len);
    }
    for (i = 0; i < n; i += sent + 1) {
        sent = wm_stream_udp_send_run(ctx->fd, dg + i, n - i, &ctx->gso);
        if (i + sent == n) {
            break;
        }
        err = wm_stream_udp_proxy_send_error(s, errno, dg[i + sent].iov_len);
        if (err) {
            wm_stream_udp_proxy_failed(s, err, "send()");
            break;
        }
    }
    return n;
}

/* The outbox and its first free slot for replies to s's client; NULL
 * when s is closing, or out of memory (s ends with 500). */
static wm_stream_udp_batch_t *
wm_stream_udp_proxy_room(wm_stream_session_t *s, unsigned *first)
{
    wm_stream_udp_batch_t *b;

    if (s->closing) {
        return NULL;
    }
    b = wm_stream_udp_out_room(s->base, s->listening->fd, first);
    if (b == NULL) {
        wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM, "cannot relay replies");
        wm_stream_finalize(s, 500);
    }
    return b;
}

/* n replies read into the outbox b from slot first on: counted and
 * committed to the client. */
static void
wm_stream_udp_proxy_replies(wm_stream_session_t *s, wm_stream_udp_batch_t *b,
                            unsigned first, unsigned n)
{
    wm_stream_udp_proxy_ctx_t *ctx = s->ctx;
    unsigned i;

    if (!ctx->replied) {
        ctx->replied = 1;
        ctx->verdict = WM_UPSTREAM_OK;
        evbuffer_drain(ctx->kept, evbuffer_get_length(ctx->kept));
    }
    ctx->responses += (uint64_t) n;
    wm_stream_udp_proxy_touch(ctx);
    for (i = 0; i < n; i++) {
        s->bytes_sent += b->msg[first + i].msg_len;
    }
    wm_stream_udp_out_commit(s, n);
    if (wm_stream_udp_proxy_done(ctx)) {
        wm_stream_finalize(s, 200);
    }
}

/* Replies from the peer, in batches, to the client through the outbox. */
static void
wm_stream_udp_proxy_read(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_session_t *s = arg;
    wm_stream_udp_proxy_ctx_t *ctx = s->ctx;
    wm_stream_udp_batch_t *b;
    unsigned first, want;
    int n;

    b = wm_stream_udp_proxy_room(s, &first);
    if (b == NULL) {
        return;
    }
    want = WM_STREAM_UDP_BATCH - first;
    if (wm_stream_udp_proxy_expecting(ctx)) {
        /* Read no more than the replies still due: the rest of a burst
         * stays for a session that would still take it. */
        uint64_t due =
            ctx->requests * (uint64_t) ctx->conf->responses - ctx->responses;

        if (due < want) {
            want = (unsigned) due;
        }
    }
    n = wm_stream_udp_recv(fd, b, first, want);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        }
        wm_stream_udp_proxy_failed(s, errno, "recv()");
        return;
    }
    wm_stream_udp_proxy_replies(s, b, first, (unsigned) n);
}

/* A reply from the peer through the ring, copied into the outbox. */
static void
wm_stream_udp_proxy_ring_recv(void *data, const u_char *p, size_t len)
{
    wm_stream_session_t *s = data;
    wm_stream_udp_batch_t *b;
    unsigned first;

    b = wm_stream_udp_proxy_room(s, &first);
    if (b == NULL) {
        return;
    }
    wm_stream_udp_slot(b, first);
    memcpy(b->data[first], p, len);
    b->msg[first].msg_len = (unsigned) len;
    wm_stream_udp_proxy_replies(s, b, first, 1);
}

/* A send or the receive of the ring failed with err. */
static void
wm_stream_udp_proxy_ring_error(void *data, int err, bool sending, size_t len)
{
    wm_stream_session_t *s = data;

    if (s->closing) {
        return;
    }
    if (!sending) {
        wm_stream_udp_proxy_failed(s, err, "recv()");
    } else if ((err = wm_stream_udp_proxy_send_error(s, err, len)) != 0) {
        wm_stream_udp_proxy_failed(s, err, "send()");
    }
}

static void
wm_stream_udp_proxy_idle(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_session_t *s = arg;
    wm_stream_udp_proxy_ctx_t *ctx = s->ctx;
    struct timeval now, idle, left;
    wm_msec_t ms;

    evutil_gettimeofday(&now, NULL);
    timersub(&now, &ctx->last, &idle);
    ms = (wm_msec_t) idle.tv_sec * 1000 + idle.tv_usec / 1000;
    if (ms < ctx->up.timeout) {
        /* Re-armed lazily: datagrams moved since the last check. */
        ms = ctx->up.timeout - ms;
        left.tv_sec = ms / 1000;
        left.tv_usec = (ms % 1000) * 1000;
        evtimer_add(ctx->idle, &left);
        return;
    }
    if (wm_stream_udp_proxy_expecting(ctx)) {
        /* Replies were due: the peer failed this session. */
        wm_log_error(WM_LOG_ERR, &s->log, ETIMEDOUT, "upstream timed out");
        ctx->verdict = WM_UPSTREAM_FAILED;
        wm_stream_finalize(s, 502);
        return;
    }
    wm_log_error(WM_LOG_INFO, &s->log, ETIMEDOUT,
                 "udp session timed out (idle %lld ms)", (long long) ms);
    wm_stream_finalize(s, 200);
}

void
wm_stream_udp_proxy_start(wm_stream_session_t *s,
                          const wm_stream_udp_upstream_t *up)
{
    static bool quit_hook;
    wm_stream_udp_proxy_ctx_t *ctx;
    struct timeval itv = {up->timeout / 1000, (up->timeout % 1000) * 1000};

    ctx = wm_pcalloc(s->pool, sizeof(*ctx));
    if (ctx == NULL) {
        wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM, "cannot start proxying");
        wm_stream_finalize(s, 500);
        return;
    }
    ctx->s = s;
    ctx->up = *up;
    ctx->conf = wm_stream_srv_conf(s->srv, wm_stream_udp_module);
    ctx->fd = -1;
    ctx->verdict = WM_UPSTREAM_ABORTED;
    wm_list_add(&wm_stream_udp_proxies, &ctx->link);
    s->ctx = ctx;
    s->cleanup = wm_stream_udp_proxy_cleanup;
    s->udp_recv = wm_stream_udp_proxy_requests;
    s->log.action = "while proxying udp datagrams";

    if (!quit_hook) {
        quit_hook = wm_worker_on_quit(wm_stream_udp_proxy_quit) == WM_OK;
    }
    ctx->kept = evbuffer_new();
    ctx->idle = evtimer_new(s->base, wm_stream_udp_proxy_idle, s);
    ctx->retry = evtimer_new(s->base, wm_stream_udp_proxy_retry, s);
    if (ctx->kept == NULL || ctx->idle == NULL || ctx->retry == NULL
        || (up->group
            && wm_upstream_pick_init(&ctx->pick, up->group, s, s->pool)
                   != WM_OK)
        || evtimer_add(ctx->idle, &itv) != 0)
    {
        wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM, "cannot start proxying");
        wm_stream_finalize(s, 500);
        return;
    }
    ctx->start = wm_upstream_now();
    wm_stream_udp_proxy_connect(s);
    if (!s->closing) {
        wm_stream_udp_proxy_request(s, s->dgram, s->dgram_len);
    }
}
