/*
 * The TCP relay of a proxied stream session once the upstream is
 * connected: bytes from each socket to the other through one buffer of
 * proxy_buffer_size per direction, the way nginx relays. Both sockets
 * stay registered edge-triggered for reading and writing from start to
 * end (no epoll_ctl while data flows), each readable edge is served by
 * reading and writing at once in a loop until the socket has no more or
 * the peer cannot take more, and a direction whose bytes wait for the
 * peer reads nothing more (back-pressure both ways).
 *
 * With proxy_splice on (the default) a direction whose read fills its
 * whole buffer carries bulk data, and from then on its bytes do not enter
 * user space: splice() moves them from one socket into a pipe and from the
 * pipe into the other socket; the pipe (64 KiB, the kernel's default) is
 * then the direction's buffer. Short exchanges (a request, a banner, an
 * interactive session) stay on recv/send: a pipe would cost them more
 * calls than it saves (pipe2, close, and two splices for each recv/send
 * pair). Pipes come from a small per-worker pool and go back to it
 * empty. A direction that fills its pipe in one splice() carries bulk
 * data: its pipe grows to 1 MiB, which moves the bytes in a quarter as
 * many calls and wakeups (iperf3 through the proxy: about 0.55 of
 * direct with 64 KiB pipes, 0.67 with 1 MiB, same run). Grown pipes are
 * few per worker (the kernel counts pipe pages per user and gives new
 * pipes a tiny buffer past pipe-user-pages-soft) and are closed, not
 * pooled. A socket that cannot splice falls back to recv/send.
 *
 * A recv() that returns less than it asked for emptied the socket: the
 * next bytes, a FIN or a reset raise a new edge, so the direction waits
 * for it instead of calling recv() once more to be told EAGAIN (a
 * request-response exchange costs recv, send rather than recv, send,
 * recv). The one case where no edge would follow, a FIN that arrived
 * with the bytes just read, is told by the event itself (EV_CLOSED,
 * EPOLLRDHUP): such a direction reads on until it sees the end.
 *
 * The first FIN ends the session once the bytes before it are delivered
 * (proxy_half_close off, as nginx by default); with proxy_half_close on it
 * is passed on (shutdown(SHUT_WR)) and the other direction goes on until
 * its own FIN. A reset from one side is passed on as a reset to the other
 * (SO_LINGER 0 before the close). Why the session ended is left in
 * s->termination for the access log.
 *
 * proxy_upload_rate / proxy_download_rate cap the bytes read from the
 * client / the upstream: a direction that got ahead of its rate reads
 * nothing (its bytes wait in the kernel, so the sender is slowed by TCP
 * itself) until a timer says it may go on.
 */
#include "wm_stream.h"
#include "wm_stream_relay_rate.h"

#include "wm_log.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bytes asked of one splice(); the pipe's capacity bounds what moves. */
#define WM_RELAY_SPLICE_LEN (1024 * 1024)
/* Empty pipes a worker keeps for the next sessions. */
#define WM_RELAY_PIPES 64
/* The kernel's pipe size, and what a bulk direction's pipe grows to, in
 * at most WM_RELAY_BIG_PIPES directions of a worker at once. */
#define WM_RELAY_PIPE_SIZE (64 * 1024)
#define WM_RELAY_BIG_PIPE_SIZE (1024 * 1024)
#define WM_RELAY_BIG_PIPES 16

typedef struct {
    wm_stream_relay_t *rl;
    int from;
    int to;
    u_char *buf;
    size_t start; /* bytes buf[start, end) wait for `to` */
    size_t end;
    int pipe[2];  /* splice: {-1, -1} when relaying through buf */
    size_t piped; /* bytes in the pipe, not yet sent to `to` */
    uint64_t spliced;
    wm_stream_rate_t rate; /* of the bytes read from `from` */
    unsigned eof : 1;
    unsigned shut : 1;    /* the FIN was passed on to `to` */
    unsigned up : 1;      /* from the upstream to the client */
    unsigned big : 1;     /* the pipe grew to WM_RELAY_BIG_PIPE_SIZE */
    unsigned drained : 1; /* a short recv() emptied `from`: wait for an edge */
    unsigned rdhup : 1;   /* `from` reported its FIN (EV_CLOSED) */
} wm_stream_relay_dir_t;

struct wm_stream_relay_s {
    wm_stream_session_t *s;
    struct timeval *last; /* the caller's idle clock */
    struct event *cev;    /* the client socket */
    struct event *uev;    /* the upstream socket */
    size_t size;
    wm_stream_relay_dir_t down; /* upstream -> client */
    wm_stream_relay_dir_t upd;  /* client -> upstream */
    unsigned half_close : 1;
    unsigned splice : 1; /* proxy_splice: bulk directions may splice */
    unsigned done : 1;
};

static int wm_relay_pool[WM_RELAY_PIPES][2];
static unsigned wm_relay_npool;
static unsigned wm_relay_nbig;

/* A pipe for d from the pool, or a new one; d stays on recv/send when
 * none can be made. */
static void
wm_stream_relay_pipe_get(wm_stream_relay_dir_t *d)
{
    if (wm_relay_npool) {
        wm_relay_npool--;
        d->pipe[0] = wm_relay_pool[wm_relay_npool][0];
        d->pipe[1] = wm_relay_pool[wm_relay_npool][1];
        return;
    }
    if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        d->pipe[0] = d->pipe[1] = -1;
    }
}

/* Back to the pool when it is empty of data and the pool has room. */
static void
wm_stream_relay_pipe_put(wm_stream_relay_dir_t *d)
{
    if (d->pipe[0] < 0) {
        return;
    }
    if (d->big) {
        d->big = 0;
        wm_relay_nbig--;
        close(d->pipe[0]);
        close(d->pipe[1]);
    } else if (d->piped == 0 && wm_relay_npool < WM_RELAY_PIPES) {
        wm_relay_pool[wm_relay_npool][0] = d->pipe[0];
        wm_relay_pool[wm_relay_npool][1] = d->pipe[1];
        wm_relay_npool++;
    } else {
        close(d->pipe[0]);
        close(d->pipe[1]);
    }
    d->pipe[0] = d->pipe[1] = -1;
}

/* d filled its pipe: a bigger one, while few of the worker's are. The
 * pipe may hold data; F_SETPIPE_SZ keeps it (and fails, harmlessly,
 * past the user's pipe limits). */
static void
wm_stream_relay_pipe_grow(wm_stream_relay_dir_t *d)
{
    if (!d->big && wm_relay_nbig < WM_RELAY_BIG_PIPES
        && fcntl(d->pipe[1], F_SETPIPE_SZ, WM_RELAY_BIG_PIPE_SIZE) >= 0)
    {
        d->big = 1;
        wm_relay_nbig++;
    }
}

static bool
wm_stream_relay_pending(const wm_stream_relay_dir_t *d)
{
    return d->end > d->start || d->piped;
}

/* Ends the session; cause is the $termination word (kept when a handler
 * already gave one). */
static void
wm_stream_relay_end(wm_stream_relay_t *rl, int reset_fd, const char *cause)
{
    if (rl->done) {
        return;
    }
    rl->done = 1;
    if (rl->s->termination == NULL) {
        rl->s->termination = cause;
    }
    if (reset_fd >= 0) {
        struct linger lg = {1, 0};

        setsockopt(reset_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    event_del(rl->cev);
    event_del(rl->uev);
    wm_stream_rate_stop(&rl->upd.rate);
    wm_stream_rate_stop(&rl->down.rate);
    if (rl->upd.pipe[0] >= 0 || rl->down.pipe[0] >= 0) {
        wm_log_debug(&rl->s->log, "spliced %llu bytes up, %llu down",
                     (unsigned long long) rl->upd.spliced,
                     (unsigned long long) rl->down.spliced);
    }
    wm_stream_finalize(rl->s, 200);
}

/* After a failed send() or splice() to d->to. */
static void
wm_stream_relay_send_failed(wm_stream_relay_t *rl, wm_stream_relay_dir_t *d,
                            const char *call)
{
    int err = errno;

    wm_log_error(err == ECONNRESET || err == EPIPE ? WM_LOG_INFO : WM_LOG_ERR,
                 &rl->s->log, err, "%s() failed on the %s connection", call,
                 d->up ? "client" : "upstream");
    wm_stream_relay_end(rl, err == ECONNRESET ? d->from : -1,
                        wm_stream_relay_cause(!d->up, err));
}

/* d read its FIN and delivered everything before it; false when the
 * session ended. */
static bool
wm_stream_relay_eof(wm_stream_relay_t *rl, wm_stream_relay_dir_t *d)
{
    wm_stream_relay_dir_t *o = d == &rl->upd ? &rl->down : &rl->upd;

    if (rl->half_close && !(o->eof && !wm_stream_relay_pending(o))) {
        if (!d->shut) {
            d->shut = 1;
            wm_log_debug(&rl->s->log, "half-close: FIN passed on to the %s",
                         d->up ? "client" : "upstream");
            /* a failure (the peer is gone) shows on its next read */
            shutdown(d->to, SHUT_WR);
        }
        return true;
    }
    wm_stream_relay_end(rl, -1, d->up ? "upstream_closed" : "client_closed");
    return false;
}

/* Moves bytes of one direction until it blocks; false when the session
 * ended. */
static bool
wm_stream_relay_pump(wm_stream_relay_t *rl, wm_stream_relay_dir_t *d)
{
    wm_stream_session_t *s = rl->s;

    for (;;) {
        ssize_t n;
        size_t want;
        int err;

        while (d->end > d->start) {
            n = send(d->to, d->buf + d->start, d->end - d->start, MSG_NOSIGNAL);
            if (n > 0) {
                d->start += (size_t) n;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                return true; /* the peer's writable edge resumes */
            }
            wm_stream_relay_send_failed(rl, d, "send");
            return false;
        }
        d->start = d->end = 0;
        while (d->piped) {
            n = splice(d->pipe[0], NULL, d->to, NULL, d->piped,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                d->piped -= (size_t) n;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                return true;
            }
            wm_stream_relay_send_failed(rl, d, "splice");
            return false;
        }
        if (d->eof) {
            return wm_stream_relay_eof(rl, d);
        }
        if (d->drained) {
            return true; /* the next readable edge resumes */
        }
        want = d->pipe[0] >= 0 ? WM_RELAY_SPLICE_LEN : rl->size;
        if (!wm_stream_rate_allow(&d->rate, &want)) {
            return true; /* the delay timer resumes */
        }
        if (d->pipe[0] >= 0) {
            n = splice(d->from, NULL, d->pipe[1], NULL, want,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0 && errno == EINVAL) {
                /* this kind of socket cannot splice: buffers from now */
                wm_stream_relay_pipe_put(d);
                rl->splice = 0;
                continue;
            }
            if (n > 0) {
                d->piped = (size_t) n;
                d->spliced += (uint64_t) n;
                if ((size_t) n >= WM_RELAY_PIPE_SIZE) {
                    wm_stream_relay_pipe_grow(d);
                }
            }
        } else {
            n = recv(d->from, d->buf, want, 0);
            if (n > 0) {
                d->end = (size_t) n;
                if ((size_t) n == rl->size && rl->splice) {
                    /* bulk: the next reads splice, once buf is sent */
                    wm_stream_relay_pipe_get(d);
                } else if ((size_t) n < want && !d->rdhup) {
                    d->drained = 1;
                }
            }
        }
        if (n > 0) {
            if (d->up) {
                s->bytes_sent += (uint64_t) n;
            } else {
                s->bytes_received += (uint64_t) n;
            }
            wm_stream_rate_count(&d->rate, (size_t) n);
            evutil_gettimeofday(rl->last, NULL);
            continue;
        }
        if (n == 0) {
            d->eof = 1;
            continue;
        }
        if (errno == EAGAIN || errno == EINTR) {
            return true; /* the next readable edge resumes */
        }
        err = errno;
        wm_log_error(err == ECONNRESET ? WM_LOG_INFO : WM_LOG_ERR, &s->log, err,
                     "recv() failed on the %s connection",
                     d->up ? "upstream" : "client");
        wm_stream_relay_end(rl, err == ECONNRESET ? d->to : -1,
                            wm_stream_relay_cause(d->up, err));
        return false;
    }
}

/* The rate's timer: d may read again. */
static void
wm_stream_relay_resume(void *arg)
{
    wm_stream_relay_dir_t *d = arg;
    wm_stream_relay_t *rl = d->rl;

    if (!rl->done && !wm_stream_relay_pending(d)) {
        wm_stream_relay_pump(rl, d);
    }
}

static void
wm_stream_relay_event(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_relay_t *rl = arg;
    bool client = fd == rl->s->fd;
    wm_stream_relay_dir_t *reads = client ? &rl->upd : &rl->down;
    wm_stream_relay_dir_t *writes = client ? &rl->down : &rl->upd;

    if (rl->done) {
        return;
    }
    if (what & (EV_READ | EV_CLOSED)) {
        reads->drained = 0;
        if (what & EV_CLOSED) {
            reads->rdhup = 1;
        }
    }
    if ((what & EV_WRITE) && wm_stream_relay_pending(writes)
        && !wm_stream_relay_pump(rl, writes))
    {
        return;
    }
    if ((what & (EV_READ | EV_CLOSED)) && !wm_stream_relay_pending(reads)) {
        wm_stream_relay_pump(rl, reads);
    }
}

wm_stream_relay_t *
wm_stream_relay_start(wm_stream_session_t *s, int upfd, size_t size,
                      bool splice, struct timeval *last, const u_char *prefix,
                      size_t prefix_len)
{
    wm_stream_relay_t *rl = wm_pcalloc(s->pool, sizeof(*rl));

    if (rl == NULL) {
        return NULL;
    }
    rl->s = s;
    rl->upd.rl = rl;
    rl->down.rl = rl;
    rl->last = last;
    rl->size = size;
    rl->upd.from = s->fd;
    rl->upd.to = upfd;
    rl->down.from = upfd;
    rl->down.to = s->fd;
    rl->down.up = 1;
    rl->upd.pipe[0] = rl->upd.pipe[1] = -1;
    rl->down.pipe[0] = rl->down.pipe[1] = -1;
    rl->splice = splice;
    rl->upd.buf = malloc(size);
    rl->down.buf = malloc(size);
    rl->cev = event_new(s->base, s->fd,
                        EV_READ | EV_WRITE | EV_CLOSED | EV_PERSIST | EV_ET,
                        wm_stream_relay_event, rl);
    rl->uev = event_new(s->base, upfd,
                        EV_READ | EV_WRITE | EV_CLOSED | EV_PERSIST | EV_ET,
                        wm_stream_relay_event, rl);
    if (rl->upd.buf == NULL || rl->down.buf == NULL || rl->cev == NULL
        || rl->uev == NULL || event_add(rl->cev, NULL) != 0
        || event_add(rl->uev, NULL) != 0)
    {
        wm_stream_relay_free(rl);
        return NULL;
    }
    if (prefix_len) {
        /* waits in the client -> upstream buffer like client bytes */
        memcpy(rl->upd.buf, prefix, wm_min(prefix_len, size));
        rl->upd.end = wm_min(prefix_len, size);
        event_active(rl->uev, EV_WRITE, 1);
    }
    /* Bytes that already wait on either side are reported by the
     * registration itself: epoll_ctl() polls a socket as it adds (or
     * modifies) it, edge-triggered or not. */
    return rl;
}

wm_int_t
wm_stream_relay_configure(wm_stream_relay_t *rl,
                          const wm_stream_relay_opts_t *o)
{
    rl->half_close = o->half_close;
    if (wm_stream_rate_init(&rl->upd.rate, rl->s->base, o->upload_rate,
                            rl->size, wm_stream_relay_resume, &rl->upd)
            != WM_OK
        || wm_stream_rate_init(&rl->down.rate, rl->s->base, o->download_rate,
                               rl->size, wm_stream_relay_resume, &rl->down)
               != WM_OK)
    {
        return WM_ERROR;
    }
    return WM_OK;
}

void
wm_stream_relay_free(wm_stream_relay_t *rl)
{
    if (rl == NULL) {
        return;
    }
    if (rl->cev) {
        event_free(rl->cev);
        rl->cev = NULL;
    }
    if (rl->uev) {
        event_free(rl->uev);
        rl->uev = NULL;
    }
    wm_stream_rate_free(&rl->upd.rate);
    wm_stream_rate_free(&rl->down.rate);
    wm_stream_relay_pipe_put(&rl->upd);
    wm_stream_relay_pipe_put(&rl->down);
    free(rl->upd.buf);
    free(rl->down.buf);
    rl->upd.buf = rl->down.buf = NULL;
}
