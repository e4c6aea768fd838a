/*
 * An HTTP/1.x connection: reading and parsing request heads (pipelined
 * ones straight from what is already buffered), sending responses with
 * writev/sendfile through evbuffers, keep-alive, discarding unread request
 * bodies, and the lingering close. One timer serves whatever the
 * connection waits for.
 */
#include "wm_http.h"

#include "wm_log.h"
#include "wm_process.h"
#include "wm_ssl.h"

#include <openssl/err.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define WM_HTTP_READ_SIZE 16384
#define WM_HTTP_DISCARD_SIZE 65536

enum {
    WM_HTTP_WAIT_NONE = 0,
    WM_HTTP_WAIT_HEADER,    /* client_header_timeout */
    WM_HTTP_WAIT_KEEPALIVE, /* keepalive_timeout */
    WM_HTTP_WAIT_SEND,      /* send_timeout */
    WM_HTTP_WAIT_BODY,      /* client_body_timeout */
    WM_HTTP_WAIT_LINGER,    /* lingering_timeout */
    WM_HTTP_WAIT_RATE,      /* limit_rate: the next write is due */
};

static void wm_http_read(evutil_socket_t fd, short what, void *arg);
static void wm_http_write(evutil_socket_t fd, short what, void *arg);
static void wm_http_timeout(evutil_socket_t fd, short what, void *arg);
static void wm_http_close(wm_http_connection_t *c);
static void wm_http_keepalive(wm_http_connection_t *c);
static void wm_http_close_deferred(wm_http_connection_t *c);

static uint64_t wm_http_connections;
static wm_link_t wm_http_live;     /* connections not yet freed */

static void wm_http_close_idle(void);

wm_int_t
wm_http_init_worker(wm_cycle_t *cycle)
{
    wm_list_init(&wm_http_live);
    return wm_worker_on_quit(wm_http_close_idle);
}

void
wm_http_exit_worker(wm_cycle_t *cycle)
{
    while (!wm_list_empty(&wm_http_live)) {
        wm_http_close(wm_link_data(wm_http_live.next, wm_http_connection_t,
                                   link));
    }
}

static wm_msec_t
wm_http_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (wm_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
wm_http_set_timer(wm_http_connection_t *c, unsigned kind, wm_msec_t ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    c->timer_kind = kind;
    evtimer_add(c->timer, &tv);
}

static void
wm_http_clear_timer(wm_http_connection_t *c)
{
    if (c->timer_kind != WM_HTTP_WAIT_NONE) {
        evtimer_del(c->timer);
        c->timer_kind = WM_HTTP_WAIT_NONE;
    }
}

static size_t
wm_http_conn_log_context(wm_log_t *log, char *buf, size_t len)
{
    wm_http_connection_t *c = log->data;
    int n = snprintf(buf, len, ", client: %s, server: %s", c->peer_text,
                     c->listening->addr_text);

    return n > 0 ? wm_min((size_t) n, len) : 0;
}

void
wm_http_accept(wm_listening_t *ls, int fd, struct sockaddr *sa, socklen_t len)
{
    wm_http_addr_conf_t *ac = ls->servers;
    wm_http_core_srv_conf_t *cscf = ac->default_server;
    wm_http_core_loc_conf_t *clcf = cscf->root;
    wm_http_connection_t *c;
    char *colon;
    int on = 1;

    if (wm_worker_conn_full()) {
        wm_log_error(WM_LOG_ALERT, wm_errlog, 0,
                     "%ld worker_connections are not enough",
                     (long) wm_core_conf(wm_cycle)->worker_connections);
        close(fd);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        wm_log_error(WM_LOG_ALERT, wm_errlog, ENOMEM,
                     "cannot accept a connection on %s", ls->addr_text);
        close(fd);
        return;
    }
    c->fd = fd;
    if (ac->specific.nelts) {
        /* A wildcard socket that also serves specific addresses. */
        size_t i;

        c->locallen = sizeof(c->local);
        if (getsockname(fd, (struct sockaddr *) &c->local, &c->locallen) != 0) {
            c->locallen = 0;
        }
        for (i = 0; c->locallen && i < ac->specific.nelts; i++) {
            wm_http_addr_conf_t *sac =
                ((wm_http_addr_conf_t **) ac->specific.elts)[i];

            if (wm_sockaddr_same_host((struct sockaddr *) &sac->host,
                                      (struct sockaddr *) &c->local))
            {
                ac = sac;
                cscf = ac->default_server;
                clcf = cscf->root;
                break;
            }
        }
    }
    wm_list_add(&wm_http_live, &c->link);
    c->base = wm_cycle->base;
    c->listening = ls;
    c->addr_conf = ac;
    memcpy(&c->peer, sa, wm_min(len, sizeof(c->peer)));
    c->peerlen = len;
    c->number = ++wm_http_connections;
    gettimeofday(&c->start, NULL);
    c->log = wm_cycle->log;
    if (wm_http_error_log(clcf->loc_confs)) {
        /* The default server's error_log, as nginx. */
        c->log = *wm_http_error_log(clcf->loc_confs);
    }
    c->log.handler = wm_http_conn_log_context;
    c->log.data = c;
    wm_sockaddr_text(sa, len, c->peer_text, sizeof(c->peer_text));
    colon = sa->sa_family == AF_UNIX ? NULL : strrchr(c->peer_text, ':');
    if (colon) {
        *colon = '\0';
        if (c->peer_text[0] == '[') {
            memmove(c->peer_text, c->peer_text + 1, strlen(c->peer_text));
            c->peer_text[strlen(c->peer_text) - 1] = '\0';
        }
    }

    c->in = evbuffer_new();
    c->out = evbuffer_new();
    c->body = evbuffer_new();
    /* Edge-triggered and added once: no epoll_ctl() per request. What
     * is readable is remembered in read_ready until a read drains it. */
    c->rev = event_new(c->base, fd, EV_READ | EV_PERSIST | EV_ET,
                       wm_http_read, c);
    c->wev = event_new(c->base, fd, EV_WRITE | EV_PERSIST, wm_http_write, c);
    c->timer = evtimer_new(c->base, wm_http_timeout, c);
    if (c->in == NULL || c->out == NULL || c->body == NULL || c->rev == NULL
        || c->wev == NULL
        || c->timer == NULL)
    {
        wm_log_error(WM_LOG_ALERT, &c->log, ENOMEM, "cannot set up connection");
        wm_worker_conn_open();
        wm_http_close(c);
        return;
    }
    wm_worker_conn_open();
    if (!ac->ssl) {
        /* Files added to these buffers leave with sendfile(); without the
         * flag libevent maps them and copies with writev(). */
        evbuffer_set_flags(c->out, EVBUFFER_FLAG_DRAINS_TO_FD);
        evbuffer_set_flags(c->body, EVBUFFER_FLAG_DRAINS_TO_FD);
    }
    if (ac->ssl) {
        /* c->ssl comes with the first byte, once it shows a handshake
         * (wm_http_ssl_sniff). */
        c->handshaking = 1;
    }
    if (clcf->tcp_nodelay && sa->sa_family != AF_UNIX) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
    wm_http_parser_init(&c->parser, &cscf->parse, &c->head, c->headers,
                        WM_HTTP_MAX_HEADERS);
    c->pp_reading = ac->proxy_protocol;
    event_add(c->rev, NULL);
    wm_http_set_timer(c, WM_HTTP_WAIT_HEADER, cscf->client_header_timeout);
}

/* Frees everything of c, now. Only ever called from the loop's own
 * callbacks of c, never from inside a request handler's stack. */
static void
wm_http_close(wm_http_connection_t *c)
{
    if (c->request) {
        /* A request cut short (the client went away, a timeout, the
         * worker's exit) is logged too; 499 when nothing was answered,
         * as nginx. */
        if (!c->request->header_sent && c->request->status == 0) {
            c->request->status = 499;
        }
        wm_http_request_done(c->request);
        wm_pool_free(c->request->pool);
        c->request = NULL;
    }
    if (c->rev) {
        event_free(c->rev);
    }
    if (c->wev) {
        event_free(c->wev);
    }
    if (c->timer) {
        event_free(c->timer);
    }
    if (c->in) {
        evbuffer_free(c->in);
    }
    if (c->out) {
        evbuffer_free(c->out);
    }
    if (c->body) {
        evbuffer_free(c->body);
    }
    if (c->ssl) {
        /* One try at close_notify; a client that reads no more does not
         * hold the worker. */
        if (!c->error && !c->handshaking) {
            ERR_clear_error();
            SSL_shutdown(c->ssl);
        }
        SSL_free(c->ssl);
    }
    close(c->fd);
    wm_list_remove(&c->link);
    free(c);
    wm_worker_conn_close();
}

/* A graceful stop closes the connections waiting for a request; the
 * others end after their response (keep-alive is off from then on). */
static void
wm_http_close_idle(void)
{
    wm_link_t *l, *next;

    for (l = wm_http_live.next; l != &wm_http_live; l = next) {
        wm_http_connection_t *c = wm_link_data(l, wm_http_connection_t, link);

        next = l->next;
        if (c->request == NULL && !c->lingering
            && evbuffer_get_length(c->in) == 0)
        {
            wm_http_close_deferred(c);
        }
    }
}

static void
wm_http_close_later(evutil_socket_t fd, short what, void *arg)
{
    wm_http_close(arg);
}

/* Closes c from the event loop: callers may still be on its stack. */
static void
wm_http_close_deferred(wm_http_connection_t *c)
{
    if (c->closing) {
        return;
    }
    c->closing = 1;
    event_del(c->rev);
    event_del(c->wev);
    wm_http_clear_timer(c);
    if (event_base_once(c->base, -1, EV_TIMEOUT, wm_http_close_later, c, NULL)
        != 0)
    {
        wm_log_error(WM_LOG_ALERT, &c->log, 0, "cannot schedule a close");
    }
}

/* Reads what the socket has into c->in. Returns bytes read, 0 on EOF,
 * WM_AGAIN, or WM_ERROR (logged). One read() per call: FIONREAD, which
 * evbuffer_read() would add, costs a syscall of its own. */
ssize_t
wm_http_connection_recv(wm_http_connection_t *c, size_t max)
{
    struct evbuffer_iovec v[2];
    int nv;
    ssize_t n;

    nv = evbuffer_reserve_space(c->in, (ev_ssize_t) max, v, 2);
    if (nv <= 0) {
        return WM_ERROR;
    }
    if (c->ssl) {
        int err;

        ERR_clear_error();
        n = SSL_read(c->ssl, v[0].iov_base, (int) wm_min(v[0].iov_len, max));
        if (n > 0) {
            v[0].iov_len = (size_t) n;
            evbuffer_commit_space(c->in, v, 1);
            return n;
        }
        evbuffer_commit_space(c->in, v, 0);
        err = SSL_get_error(c->ssl, (int) n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            c->read_ready = 0;
            return WM_AGAIN;
        }
        if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL
                                             && errno == 0))
        {
            return 0;
        }
        {
            char buf[256];

            wm_log_error(WM_LOG_INFO, &c->log,
                         err == SSL_ERROR_SYSCALL ? errno : 0,
                         "SSL_read() failed %s",
                         wm_ssl_error_text(buf, sizeof(buf)));
        }
        return WM_ERROR;
    }
    do {
        n = readv(c->fd, (struct iovec *) v, nv);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        evbuffer_commit_space(c->in, v, 0);
        if (errno == EAGAIN) {
            c->read_ready = 0;
            return WM_AGAIN;
        }
        wm_log_error(errno == ECONNRESET ? WM_LOG_INFO : WM_LOG_ERR, &c->log,
                     errno, "recv() failed");
        return WM_ERROR;
    }
    if ((size_t) n < max) {
        c->read_ready = 0; /* drained: the next bytes bring a new edge */
    }
    if ((size_t) n <= v[0].iov_len) {
        v[0].iov_len = (size_t) n;
        nv = 1;
    } else {
        v[1].iov_len = (size_t) n - v[0].iov_len;
    }
    evbuffer_commit_space(c->in, v, nv);
    return n;
}

/* Sends some of c->out, at most max bytes (-1: no bound): bytes sent,
 * WM_AGAIN, or WM_ERROR (logged). Plain connections use writev/sendfile;
 * TLS ones encrypt from the buffer's memory (files go through mmap, never
 * sendfile). */
static wm_int_t
wm_http_send_out(wm_http_connection_t *c, ssize_t max)
{
    struct evbuffer_iovec v;
    int n, err;

    if (c->ssl == NULL) {
        n = evbuffer_write_atmost(c->out, c->fd, max);
        if (n >= 0) {
            return n;
        }
        if (errno == EAGAIN || errno == EINTR) {
            return WM_AGAIN;
        }
        wm_log_error(errno == EPIPE || errno == ECONNRESET ? WM_LOG_INFO
                                                          : WM_LOG_ERR,
                     &c->log, errno, "writev() failed");
        return WM_ERROR;
    }
    if (evbuffer_peek(c->out, 16384, NULL, &v, 1) < 1 || v.iov_len == 0) {
        /* A sendfile segment cannot be encrypted: pull it into memory. */
        if (evbuffer_pullup(c->out, (ev_ssize_t) wm_min(
                                        evbuffer_get_length(c->out), 16384))
            == NULL)
        {
            wm_log_error(WM_LOG_ALERT, &c->log, ENOMEM, "evbuffer_pullup()");
            return WM_ERROR;
        }
        evbuffer_peek(c->out, 16384, NULL, &v, 1);
    }
    ERR_clear_error();
    n = SSL_write(c->ssl, v.iov_base,
                  (int) wm_min(wm_min(v.iov_len, 16384),
                               max < 0 ? SIZE_MAX : (size_t) max));
    if (n > 0) {
        evbuffer_drain(c->out, (size_t) n);
        return n;
    }
    err = SSL_get_error(c->ssl, n);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
        return WM_AGAIN;
    }
    {
        char buf[256];

        wm_log_error(WM_LOG_INFO, &c->log,
                     err == SSL_ERROR_SYSCALL ? errno : 0,
                     "SSL_write() failed %s", wm_ssl_error_text(buf, sizeof(buf)));
    }
    return WM_ERROR;
}

/* Runs the TLS handshake; WM_OK once done, WM_AGAIN, WM_ERROR. */
static wm_int_t
wm_http_handshake(wm_http_connection_t *c)
{
    char buf[256];
    int n, err;

    ERR_clear_error();
    n = SSL_do_handshake(c->ssl);
    if (n == 1) {
        c->handshaking = 0;
        event_del(c->wev);
        return WM_OK;
    }
    err = SSL_get_error(c->ssl, n);
    if (err == SSL_ERROR_WANT_READ) {
        /* Waiting for the client: a writable socket must not wake us. */
        event_del(c->wev);
        c->read_ready = 0;
        return WM_AGAIN;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
        event_add(c->wev, NULL);
        return WM_AGAIN;
    }
    /* Scanners and clients that give up make these: info, as nginx. */
    if (err == SSL_ERROR_ZERO_RETURN
        || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
    {
        wm_log_error(WM_LOG_INFO, &c->log,
                     err == SSL_ERROR_SYSCALL ? errno : 0,
                     "peer closed connection in SSL handshake");
        return WM_ERROR;
    }
    wm_log_error(WM_LOG_INFO, &c->log, err == SSL_ERROR_SYSCALL ? errno : 0,
                 "SSL handshake failed: %s",
                 wm_ssl_error_text(buf, sizeof(buf)));
    return WM_ERROR;
}

/* Looks at the first byte a client sent on a TLS port, as nginx does: a
 * TLS record (0x16) or an SSLv2-style hello (high bit set) starts the
 * handshake; anything else is read as plain HTTP, so that the request gets
 * its 400 ("497") instead of a silent close. WM_OK (go on: handshake or
 * plain), WM_AGAIN, WM_ERROR (close). */
static wm_int_t
wm_http_ssl_sniff(wm_http_connection_t *c)
{
    u_char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);

    if (n == 0) {
        wm_log_error(WM_LOG_INFO, &c->log, 0,
                     "peer closed connection in SSL handshake");
        return WM_ERROR;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            c->read_ready = 0;
            return WM_AGAIN;
        }
        wm_log_error(WM_LOG_INFO, &c->log, errno,
                     "recv() failed while waiting for the TLS handshake");
        return WM_ERROR;
    }
    if (b != 0x16 && !(b & 0x80)) {
        c->handshaking = 0;
        return WM_OK;
    }
    c->ssl = wm_http_ssl_new(c);
    if (c->ssl == NULL) {
        char buf[256];

        wm_log_error(WM_LOG_ALERT, &c->log, 0, "SSL_new() failed %s",
                     wm_ssl_error_text(buf, sizeof(buf)));
        return WM_ERROR;
    }
    return WM_OK;
}

/* Answers a head the parser rejected, and closes after sending. */
static void
wm_http_bad_request(wm_http_connection_t *c)
{
    wm_pool_t *pool = wm_pool_new(1024);
    wm_http_request_t *r;

    wm_log_error(WM_LOG_INFO, &c->log, 0, "%s",
                 c->head.error ? c->head.error : "client sent invalid request");
    if (pool == NULL || (r = wm_pcalloc(pool, sizeof(*r))) == NULL) {
        wm_pool_free(pool);
        wm_http_close_deferred(c);
        return;
    }
    r->pool = pool;
    r->c = c;
    r->ctx = wm_pcalloc(pool, wm_modules_n * sizeof(void *));
    if (r->ctx == NULL) {
        wm_pool_free(pool);
        wm_http_close_deferred(c);
        return;
    }
    r->srv = c->addr_conf->default_server;
    r->loc = r->srv->root;
    r->loc_confs = r->loc->loc_confs;
    r->head.version = WM_HTTP_VERSION_11;
    r->head.content_length = -1;
    r->head.request_line = c->head.request_line; /* when it was whole */
    gettimeofday(&r->start, NULL);
    c->request = r;
    c->requests++;
    wm_http_finalize(r, c->head.status);
}

static void
wm_http_process_head(wm_http_connection_t *c)
{
    wm_http_core_srv_conf_t *cscf = c->addr_conf->default_server;

    for (;;) {
        size_t len = evbuffer_get_length(c->in);
        wm_int_t rc = WM_AGAIN;
        ssize_t n;

        if (len) {
            u_char *data = evbuffer_pullup(c->in, (ev_ssize_t) len);

            if (data == NULL) {
                wm_log_error(WM_LOG_ALERT, &c->log, ENOMEM,
                             "cannot buffer the request head");
                wm_http_close_deferred(c);
                return;
            }
            rc = wm_http_parse_request(&c->parser, data, len);
        }
        if (rc == WM_OK || rc == WM_ERROR) {
            wm_pool_t *pool;
            wm_http_request_t *r;

            wm_http_clear_timer(c);
            if (rc == WM_ERROR) {
                wm_http_bad_request(c);
                return;
            }
            pool = wm_pool_new(4096);
            r = pool ? wm_pcalloc(pool, sizeof(*r)) : NULL;
            if (r) {
                r->ctx = wm_pcalloc(pool, wm_modules_n * sizeof(void *));
            }
            if (r == NULL || r->ctx == NULL) {
                wm_pool_free(pool);
                wm_log_error(WM_LOG_ALERT, &c->log, ENOMEM,
                             "cannot start a request");
                wm_http_close_deferred(c);
                return;
            }
            r->pool = pool;
            r->c = c;
            r->head = c->head;
            r->headers = c->headers;
            r->head_used = c->head.head_len;
            gettimeofday(&r->start, NULL);
            c->request = r;
            c->requests++;
            wm_http_request_start(r);
            return;
        }

        if (len && c->timer_kind == WM_HTTP_WAIT_KEEPALIVE) {
            /* The next request began: its head gets the header timeout. */
            wm_http_set_timer(c, WM_HTTP_WAIT_HEADER,
                              cscf->client_header_timeout);
        }
        if (!c->read_ready) {
            return; /* the next bytes bring a new edge */
        }
        n = wm_http_connection_recv(c, WM_HTTP_READ_SIZE);
        if (n == WM_AGAIN) {
            return;
        }
        if (n == 0 || n == WM_ERROR) {
            if (n == 0 && len) {
                wm_log_error(WM_LOG_INFO, &c->log, 0,
                             "client closed connection while reading the "
                             "request head");
            }
            wm_http_close_deferred(c);
            return;
        }
    }
}

/* Reads and drops the rest of a body nobody wanted. WM_OK when it is all
 * gone, WM_AGAIN to wait, WM_ERROR to close. */
static wm_int_t
wm_http_discard_body(wm_http_connection_t *c, wm_http_request_t *r)
{
    for (;;) {
        size_t len = evbuffer_get_length(c->in);
        ssize_t n;

        if (len) {
            if (r->head.chunked) {
                u_char *data = evbuffer_pullup(c->in, (ev_ssize_t) len);
                size_t used = 0;
                wm_str_t chunk;
                wm_int_t rc = WM_OK;

                while (rc == WM_OK && used < len) {
                    size_t u;

                    rc = wm_http_chunked_parse(&r->chunked, data + used,
                                               len - used, &u, &chunk);
                    used += u;
                }
                evbuffer_drain(c->in, used);
                if (rc == WM_DONE) {
                    return WM_OK;
                }
                if (r->loc->client_max_body_size
                    && r->chunked.total > r->loc->client_max_body_size)
                {
                    wm_log_error(WM_LOG_ERR, &c->log, 0,
                                 "client intended to send too large chunked "
                                 "body: %llu+ bytes",
                                 (unsigned long long) r->chunked.total);
                    return WM_ERROR;
                }
                if (rc == WM_ERROR) {
                    wm_log_error(WM_LOG_INFO, &c->log, 0,
                                 "client sent invalid chunked body: %s",
                                 r->chunked.error ? r->chunked.error : "");
                    return WM_ERROR;
                }
            } else {
                size_t drop = (size_t) wm_min((uint64_t) len, r->body_left);

                evbuffer_drain(c->in, drop);
                r->body_left -= drop;
                if (r->body_left == 0) {
                    return WM_OK;
                }
            }
        }
        n = wm_http_connection_recv(c, WM_HTTP_DISCARD_SIZE);
        if (n == WM_AGAIN) {
            return WM_AGAIN;
        }
        if (n <= 0) {
            return WM_ERROR;
        }
    }
}

/* Consumes the head (and the body, once read) of the finished request,
 * then goes on with the next one or waits for it. */
static void
wm_http_next_request(wm_http_connection_t *c)
{
    wm_http_request_t *r = c->request;
    wm_http_core_loc_conf_t *clcf = r->loc;
    wm_http_core_srv_conf_t *cscf = c->addr_conf->default_server;

    if (r->discarding_body) {
        wm_int_t rc = wm_http_discard_body(c, r);

        if (rc == WM_AGAIN) {
            wm_http_set_timer(c, WM_HTTP_WAIT_BODY, clcf->client_body_timeout);
            return;
        }
        wm_http_clear_timer(c);
        r->discarding_body = 0;
        if (rc == WM_ERROR) {
            wm_http_close_deferred(c);
            return;
        }
    }

    wm_pool_free(r->pool);
    c->request = NULL;
    c->pipelined = evbuffer_get_length(c->in) != 0;
    wm_http_parser_init(&c->parser, &cscf->parse, &c->head, c->headers,
                        WM_HTTP_MAX_HEADERS);

    if (evbuffer_get_length(c->in) || c->read_ready) {
        /* A pipelined request is waiting, or the socket has bytes: parse
         * from the loop, so that a long pipeline does not grow the stack. */
        event_active(c->rev, EV_READ, 0);
        wm_http_set_timer(c, WM_HTTP_WAIT_HEADER, cscf->client_header_timeout);
        return;
    }
    wm_http_set_timer(c, WM_HTTP_WAIT_KEEPALIVE, clcf->keepalive_timeout);
}

static void
wm_http_linger(wm_http_connection_t *c)
{
    wm_http_core_srv_conf_t *cscf = c->addr_conf->default_server;

    if (shutdown(c->fd, SHUT_WR) != 0) {
        wm_http_close_deferred(c);
        return;
    }
    c->lingering = 1;
    c->lingering_deadline = wm_http_now() + cscf->lingering_time;
    event_active(c->rev, EV_READ, 0);
    wm_http_set_timer(c, WM_HTTP_WAIT_LINGER, cscf->lingering_timeout);
}

/* The response of c->request is fully sent: keep-alive or close. */
static void
wm_http_keepalive(wm_http_connection_t *c)
{
    wm_http_request_t *r = c->request;
    wm_http_core_srv_conf_t *cscf = c->addr_conf->default_server;
    bool unread;

    evbuffer_drain(c->in, r->head_used);
    r->head_used = 0;
    if (wm_worker_quitting()) {
        /* A stopping worker ends each connection after its response. */
        r->keepalive = 0;
    }
    if (r->keepalive) {
        wm_http_next_request(c);
        return;
    }
    /* Closing: data the client still sends would make the kernel answer
     * with a RST that may destroy the response in flight. */
    unread = evbuffer_get_length(c->in) > 0 || r->body_left || r->lingering;
    wm_pool_free(r->pool);
    c->request = NULL;
    if (c->ssl == NULL
        && (cscf->lingering_close == 2
            || (cscf->lingering_close == 1 && unread)))
    {
        wm_http_linger(c);
        return;
    }
    wm_http_close_deferred(c);
}

/* Sets or clears TCP_CORK. A failure only costs packet sizes: logged at
 * info, not acted on. */
static void
wm_http_cork(wm_http_connection_t *c, int on)
{
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) != 0) {
        wm_log_error(WM_LOG_INFO, &c->log, errno,
                     "setsockopt(TCP_CORK, %d) failed", on);
    }
}

/* Writes what c->out holds. A response that is complete ends only from
 * the loop (from_loop), never on the stack of the handler that sent it. */
static void
wm_http_flush(wm_http_connection_t *c, bool from_loop)
{
    wm_http_request_t *r = c->request;

    if (r && !r->corked && r->loc->tcp_nopush && r->loc->sendfile
        && c->ssl == NULL && c->peer.ss_family != AF_UNIX)
    {
        /* tcp_nopush: the head and the start of the file leave in full
         * packets; wm_http_uncork() pushes the rest at the end. */
        wm_http_cork(c, 1);
        r->corked = 1;
    }
    while (evbuffer_get_length(c->out)) {
        wm_msec_t delay = 0;
        ssize_t max = r ? wm_http_limit_rate_allow(
                              r, evbuffer_get_length(c->out), &delay)
                        : -1;
        size_t chunk = r ? wm_http_send_chunk_max(r) : 0;
        wm_int_t n;

        if (chunk && (max < 0 || (size_t) max > chunk)) {
            max = (ssize_t) chunk;
        }
        n = max ? wm_http_send_out(c, max) : WM_AGAIN;
        if (n > 0 && r) {
            wm_http_limit_rate_sent(r, (size_t) n);
        }
        if (n > 0 && chunk && (size_t) n == chunk
            && evbuffer_get_length(c->out))
        {
            /* sendfile_max_chunk: the other connections' turn first. */
            event_active(c->wev, EV_WRITE, 0);
            return;
        }
        if (n == WM_AGAIN) {
            if (max == 0) {
                /* limit_rate: write again once the budget allows. */
                event_del(c->wev);
                wm_http_clear_timer(c);
                wm_http_set_timer(c, WM_HTTP_WAIT_RATE, delay);
            } else {
                event_add(c->wev, NULL);
                wm_http_set_timer(c, WM_HTTP_WAIT_SEND,
                                  r ? r->loc->send_timeout : 60000);
            }
            if (from_loop && r && !r->done && r->write_handler
                && evbuffer_get_length(c->out) <= r->out_lowat)
            {
                r->write_handler(r);
            }
            return;
        }
        if (n == WM_ERROR) {
            c->error = 1;
            wm_http_close_deferred(c);
            return;
        }
    }
    if (c->timer_kind == WM_HTTP_WAIT_SEND) {
        wm_http_clear_timer(c);
    }
    event_del(c->wev);
    if (from_loop && r && !r->done && r->write_handler) {
        r->write_handler(r);
        return;
    }
    if (r && r->done) {
        if (!from_loop) {
            event_active(c->wev, EV_WRITE, 0);
            return;
        }
        if (r->corked) {
            wm_http_cork(c, 0);
            r->corked = 0;
        }
        wm_http_request_done(r);
        wm_http_keepalive(c);
    }
}

void
wm_http_connection_flush(wm_http_connection_t *c)
{
    wm_http_flush(c, false);
}

static void
wm_http_write(evutil_socket_t fd, short what, void *arg)
{
    wm_http_connection_t *c = arg;

    if (c->closing) {
        return;
    }
    if (c->handshaking) {
        wm_int_t rc = c->ssl ? wm_http_handshake(c) : WM_AGAIN;

        if (rc == WM_ERROR) {
            wm_http_close_deferred(c);
        } else if (rc == WM_OK) {
            wm_http_process_head(c);
        }
        return;
    }
    wm_http_flush(c, true);
}

static void
wm_http_read(evutil_socket_t fd, short what, void *arg)
{
    wm_http_connection_t *c = arg;
    u_char buf[4096];

    if (c->closing) {
        return;
    }
    c->read_ready = 1;
    if (c->pp_reading) {
        wm_int_t rc = wm_http_proxy_protocol_read(c);

        if (rc == WM_ERROR) {
            wm_http_close_deferred(c);
        }
        if (rc != WM_OK) {
            return;
        }
    }
    if (c->handshaking && c->ssl == NULL) {
        wm_int_t rc = wm_http_ssl_sniff(c);

        if (rc == WM_ERROR) {
            wm_http_close_deferred(c);
            return;
        }
        if (rc == WM_AGAIN) {
            return;
        }
    }
    if (c->handshaking) {
        wm_int_t rc = wm_http_handshake(c);

        if (rc == WM_ERROR) {
            wm_http_close_deferred(c);
            return;
        }
        if (rc == WM_AGAIN) {
            return;
        }
    }
    if (c->lingering) {
        for (;;) {
            ssize_t n = read(c->fd, buf, sizeof(buf));

            if (n > 0) {
                continue;
            }
            if (n < 0 && errno == EAGAIN
                && wm_http_now() < c->lingering_deadline)
            {
                c->read_ready = 0;
                return;
            }
            wm_http_close_deferred(c);
            return;
        }
    }
    if (c->request && c->request->read_handler && !c->request->done) {
        c->request->read_handler(c->request);
        return;
    }
    if (c->request) {
        /* Only a body being discarded is read while a request lives. */
        if (c->request->discarding_body && c->request->done
            && evbuffer_get_length(c->out) == 0)
        {
            wm_http_next_request(c);
        }
        return;
    }
    wm_http_process_head(c);
}

static void
wm_http_timeout(evutil_socket_t fd, short what, void *arg)
{
    wm_http_connection_t *c = arg;
    unsigned kind = c->timer_kind;

    c->timer_kind = WM_HTTP_WAIT_NONE;
    if (kind == WM_HTTP_WAIT_RATE) {
        wm_http_flush(c, true);
        return;
    }
    if (kind == WM_HTTP_WAIT_HEADER || kind == WM_HTTP_WAIT_SEND
        || kind == WM_HTTP_WAIT_BODY)
    {
        wm_http_reset_timedout(c);
    }
    switch (kind) {
    case WM_HTTP_WAIT_HEADER:
        if (evbuffer_get_length(c->in)) {
            wm_log_error(WM_LOG_INFO, &c->log, ETIMEDOUT,
                         "client timed out while reading the request head");
        }
        break;
    case WM_HTTP_WAIT_SEND:
        wm_log_error(WM_LOG_INFO, &c->log, ETIMEDOUT,
                     "client timed out while sending the response");
        break;
    case WM_HTTP_WAIT_BODY:
        wm_log_error(WM_LOG_INFO, &c->log, ETIMEDOUT,
                     "client timed out while sending the request body");
        break;
    default:
        break;
    }
    wm_http_close_deferred(c);
}
