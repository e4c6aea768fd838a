/*
 * The relay of a stream session when the client side, the upstream side
 * or both speak TLS: the plaintext goes through one buffer of
 * proxy_buffer_size per direction, read with SSL_read (or recv on a plain
 * side) and written with SSL_write (or send), with the back-pressure of
 * wm_stream_relay.c: a direction whose bytes wait for the peer reads
 * nothing more. Both sockets stay registered edge-triggered for reading
 * and writing; since OpenSSL may need to write while reading (a key
 * update, a session ticket) or read while writing, every edge of either
 * socket pumps both directions, each until it blocks.
 *
 * The first end of stream (close_notify, or a FIN on a plain side) ends
 * the session once the bytes before it are delivered, and close_notify
 * is then sent to each TLS side; a reset is passed on as a reset. With
 * proxy_half_close on, an end of stream is passed on instead (close_notify
 * to a TLS side, then shutdown(SHUT_WR)) and the other direction goes on
 * until its own end. proxy_upload_rate / proxy_download_rate cap the
 * plaintext read from each side as in the plain relay (the shared
 * wm_stream_rate_t). Why the session ended is left in s->termination.
 */
#include "wm_stream_ssl.h"
#include "wm_stream_relay_rate.h"

#include "wm_log.h"

#include <event2/event.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The two sides: what is read from side i is written to side 1 - i. */
#define WM_RELAY_CLIENT 0
#define WM_RELAY_UPSTREAM 1

typedef struct {
    wm_stream_relay_tls_t *rl;
    int side;     /* the side it reads */
    u_char *buf;
    size_t start; /* bytes buf[start, end) wait for the other side */
    size_t end;
    wm_stream_rate_t rate;
    unsigned eof : 1;
    unsigned shut : 1; /* the end of stream was passed on */
} wm_stream_relay_tls_dir_t;

struct wm_stream_relay_tls_s {
    wm_stream_session_t *s;
    struct timeval *last;
    size_t size;
    int fd[2];
    SSL *ssl[2]; /* NULL: a plain side */
    struct event *ev[2];
    wm_stream_relay_tls_dir_t dir[2]; /* by the side it reads */
    u_char *mem; /* both buffers */
    unsigned half_close : 1;
    unsigned done : 1;
};

/* Ends the session; cause is the $termination word (kept when a handler
 * already gave one). */
static void
wm_stream_relay_tls_end(wm_stream_relay_tls_t *rl, int reset_fd,
                        const char *cause)
{
    int i;

    if (rl->done) {
        return;
    }
    rl->done = 1;
    if (rl->s->termination == NULL) {
        rl->s->termination = cause;
    }
    for (i = 0; i < 2; i++) {
        event_del(rl->ev[i]);
        wm_stream_rate_stop(&rl->dir[i].rate);
        /* An orderly end: each TLS side learns it was not cut. */
        if (reset_fd < 0 && rl->ssl[i]) {
            wm_tls_shutdown(rl->ssl[i]);
        }
    }
    if (reset_fd >= 0) {
        struct linger lg = {1, 0};

        setsockopt(reset_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    wm_stream_finalize(rl->s, 200);
}

/* Logs a failed read (of side) or write (to side) and ends the session,
 * passing a reset on to the other side. */
static void
wm_stream_relay_tls_fail(wm_stream_relay_tls_t *rl, int side, bool reading)
{
    static const char *const names[2] = {"client", "upstream"};
    bool tls = rl->ssl[side] != NULL;
    int err = errno;
    char buf[256];

    wm_log_error(err == ECONNRESET || err == EPIPE ? WM_LOG_INFO
                                                   : WM_LOG_ERR,
                 &rl->s->log, err == EPROTO ? 0 : err,
                 "%s failed on the %s connection%s%s",
                 tls ? (reading ? "SSL_read()" : "SSL_write()")
                     : (reading ? "recv()" : "send()"),
                 names[side], tls ? " " : "",
                 tls ? wm_ssl_error_text(buf, sizeof(buf)) : "");
    wm_stream_relay_tls_end(rl, err == ECONNRESET ? rl->fd[1 - side] : -1,
                            wm_stream_relay_cause(side == WM_RELAY_UPSTREAM,
                                                  err));
}

/* One read or write on a side: bytes, 0 at its end, WM_AGAIN, WM_ERROR. */
static ssize_t
wm_stream_relay_tls_io(wm_stream_relay_tls_t *rl, int side, u_char *p,
                       size_t len, bool reading)
{
    short want;
    ssize_t n;

    if (rl->ssl[side]) {
        return reading ? wm_tls_recv(rl->ssl[side], p, len, &want)
                       : wm_tls_send(rl->ssl[side], p, len, &want);
    }
    n = reading ? recv(rl->fd[side], p, len, 0)
                : send(rl->fd[side], p, len, MSG_NOSIGNAL);
    return n < 0 && (errno == EAGAIN || errno == EINTR) ? WM_AGAIN : n;
}

/* Side read its end of stream and everything before it was delivered;
 * false when the session ended. */
static bool
wm_stream_relay_tls_eof(wm_stream_relay_tls_t *rl, int side)
{
    wm_stream_relay_tls_dir_t *o = &rl->dir[1 - side];
    SSL *ssl = rl->ssl[1 - side];
    int n;

    if (rl->half_close && !(o->eof && o->end == o->start)) {
        if (rl->dir[side].shut) {
            return true;
        }
        if (ssl) {
            ERR_clear_error();
            n = SSL_shutdown(ssl);
            if (n < 0 && SSL_get_error(ssl, n) == SSL_ERROR_WANT_WRITE) {
                ERR_clear_error();
                return true; /* close_notify goes out on a writable edge */
            }
            ERR_clear_error();
        }
        rl->dir[side].shut = 1;
        wm_log_debug(&rl->s->log, "half-close: end of stream passed on to "
                     "the %s", side == WM_RELAY_UPSTREAM ? "client"
                                                         : "upstream");
        /* a failure (the peer is gone) shows on its next read */
        shutdown(rl->fd[1 - side], SHUT_WR);
        return true;
    }
    wm_stream_relay_tls_end(rl, -1, side == WM_RELAY_UPSTREAM
                                        ? "upstream_closed"
                                        : "client_closed");
    return false;
}

/* Moves the bytes read from side until it blocks; false when the session
 * ended. */
static bool
wm_stream_relay_tls_pump(wm_stream_relay_tls_t *rl, int side)
{
    wm_stream_relay_tls_dir_t *d = &rl->dir[side];
    wm_stream_session_t *s = rl->s;
    ssize_t n;
    size_t want;

    for (;;) {
        while (d->end > d->start) {
            n = wm_stream_relay_tls_io(rl, 1 - side, d->buf + d->start,
                                       d->end - d->start, false);
            if (n > 0) {
                d->start += (size_t) n;
                continue;
            }
            if (n == WM_AGAIN) {
                return true; /* an edge of the other side resumes */
            }
            if (n == 0) {
                errno = EPIPE;
            }
            wm_stream_relay_tls_fail(rl, 1 - side, false);
            return false;
        }
        d->start = d->end = 0;
        if (d->eof) {
            return wm_stream_relay_tls_eof(rl, side);
        }
        want = rl->size;
        if (!wm_stream_rate_allow(&d->rate, &want)) {
            return true; /* the rate's timer resumes */
        }
        n = wm_stream_relay_tls_io(rl, side, d->buf, want, true);
        if (n > 0) {
            d->end = (size_t) n;
            wm_stream_rate_count(&d->rate, (size_t) n);
            /* the upstream's bytes are those sent to the client */
            *(side == WM_RELAY_UPSTREAM ? &s->bytes_sent
                                        : &s->bytes_received) += (uint64_t) n;
            evutil_gettimeofday(rl->last, NULL);
            continue;
        }
        if (n == 0) {
            d->eof = 1;
            continue;
        }
        if (n == WM_AGAIN) {
            return true; /* the next edge of this side resumes */
        }
        wm_stream_relay_tls_fail(rl, side, true);
        return false;
    }
}

/* The rate's timer: the direction may read again. */
static void
wm_stream_relay_tls_resume(void *arg)
{
    wm_stream_relay_tls_dir_t *d = arg;

    if (!d->rl->done && !d->rl->s->closing) {
        wm_stream_relay_tls_pump(d->rl, d->side);
    }
}

static void
wm_stream_relay_tls_event(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_relay_tls_t *rl = arg;

    if (rl->done || rl->s->closing) {
        return;
    }
    if (wm_stream_relay_tls_pump(rl, WM_RELAY_UPSTREAM)) {
        wm_stream_relay_tls_pump(rl, WM_RELAY_CLIENT);
    }
}

wm_stream_relay_tls_t *
wm_stream_relay_tls_start(wm_stream_session_t *s, int upfd, SSL *cssl,
                          SSL *ussl, size_t size, struct timeval *last,
                          const u_char *prefix, size_t prefix_len)
{
    wm_stream_relay_tls_t *rl = wm_pcalloc(s->pool, sizeof(*rl));
    int i;

    if (rl == NULL) {
        return NULL;
    }
    rl->s = s;
    rl->last = last;
    rl->size = size;
    rl->fd[WM_RELAY_CLIENT] = s->fd;
    rl->fd[WM_RELAY_UPSTREAM] = upfd;
    rl->ssl[WM_RELAY_CLIENT] = cssl;
    rl->ssl[WM_RELAY_UPSTREAM] = ussl;
    rl->mem = malloc(2 * size);
    for (i = 0; i < 2; i++) {
        rl->dir[i].rl = rl;
        rl->dir[i].side = i;
        rl->dir[i].buf = rl->mem ? rl->mem + (size_t) i * size : NULL;
        rl->ev[i] = event_new(s->base, rl->fd[i],
                              EV_READ | EV_WRITE | EV_PERSIST | EV_ET,
                              wm_stream_relay_tls_event, rl);
        if (rl->ev[i] == NULL || event_add(rl->ev[i], NULL) != 0) {
            break;
        }
    }
    if (i < 2 || rl->mem == NULL) {
        wm_stream_relay_tls_free(rl);
        return NULL;
    }
    if (prefix_len) {
        /* waits in the client -> upstream buffer like client bytes */
        rl->dir[WM_RELAY_CLIENT].end = wm_min(prefix_len, size);
        memcpy(rl->mem, prefix, rl->dir[WM_RELAY_CLIENT].end);
    }
    /* Plaintext may already wait inside OpenSSL (read with the end of
     * the handshake): pump once now. */
    event_active(rl->ev[WM_RELAY_CLIENT], EV_READ | EV_WRITE, 1);
    return rl;
}

wm_int_t
wm_stream_relay_tls_configure(wm_stream_relay_tls_t *rl,
                              const wm_stream_relay_opts_t *o)
{
    rl->half_close = o->half_close;
    if (wm_stream_rate_init(&rl->dir[WM_RELAY_CLIENT].rate, rl->s->base,
                            o->upload_rate, rl->size,
                            wm_stream_relay_tls_resume,
                            &rl->dir[WM_RELAY_CLIENT])
            != WM_OK
        || wm_stream_rate_init(&rl->dir[WM_RELAY_UPSTREAM].rate, rl->s->base,
                               o->download_rate, rl->size,
                               wm_stream_relay_tls_resume,
                               &rl->dir[WM_RELAY_UPSTREAM])
               != WM_OK)
    {
        return WM_ERROR;
    }
    return WM_OK;
}

void
wm_stream_relay_tls_free(wm_stream_relay_tls_t *rl)
{
    int i;

    if (rl == NULL) {
        return;
    }
    for (i = 0; i < 2; i++) {
        if (rl->ev[i]) {
            event_free(rl->ev[i]);
            rl->ev[i] = NULL;
        }
        wm_stream_rate_free(&rl->dir[i].rate);
    }
    free(rl->mem);
    rl->mem = NULL;
}
