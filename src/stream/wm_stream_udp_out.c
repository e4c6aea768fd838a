/*
 * The worker's outbox of UDP replies to clients. A proxied session's
 * replies are read from its upstream socket straight into the outbox,
 * addressed to the client; the outbox is sent with one sendmmsg() once
 * every event of the loop's current pass has run, so the replies of all
 * the sessions that woke up together leave in one system call instead
 * of one each (with 50 sessions one datagram in flight each, a call per
 * round trip was a third of the worker's calls). All queued datagrams
 * leave from one listening socket: a reply for another one, or a full
 * outbox, sends what is queued first.
 */
#include "wm_stream.h"

#include "wm_log.h"

#include <event2/event.h>
#include <string.h>

static wm_stream_udp_batch_t wm_udp_out;
static unsigned wm_udp_nout;
static int wm_udp_out_fd = -1;
static struct event *wm_udp_out_ev;

static void
wm_stream_udp_out_event(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_udp_out_flush();
}

wm_stream_udp_batch_t *
wm_stream_udp_out_room(struct event_base *base, int fd, unsigned *first)
{
    if (wm_udp_out_ev == NULL) {
        wm_udp_out_ev = event_new(base, -1, 0, wm_stream_udp_out_event, NULL);
        if (wm_udp_out_ev == NULL) {
            return NULL;
        }
    }
    if (wm_udp_nout
        && (wm_udp_out_fd != fd || wm_udp_nout == WM_STREAM_UDP_BATCH))
    {
        wm_stream_udp_out_flush();
    }
    wm_udp_out_fd = fd;
    *first = wm_udp_nout;
    return &wm_udp_out;
}

void
wm_stream_udp_out_commit(const wm_stream_session_t *s, unsigned n)
{
    unsigned i;

    for (i = wm_udp_nout; i < wm_udp_nout + n; i++) {
        wm_udp_out.iov[i].iov_len = wm_udp_out.msg[i].msg_len;
        memcpy(&wm_udp_out.addr[i], &s->peer, s->peerlen);
        wm_udp_out.msg[i].msg_hdr.msg_namelen = s->peerlen;
    }
    if (wm_udp_nout == 0 && n) {
        event_active(wm_udp_out_ev, 0, 0);
    }
    wm_udp_nout += n;
}

void
wm_stream_udp_out_flush(void)
{
    unsigned off = 0;
    int sent;

    while (off < wm_udp_nout) {
        sent = sendmmsg(wm_udp_out_fd, wm_udp_out.msg + off, wm_udp_nout - off,
                        0);
        if (sent < 0 && errno == EINTR) {
            continue;
        }
        if (sent <= 0) {
            /* A full socket buffer loses the replies, as the network
             * may; they were counted as sent. */
            wm_log_error(WM_LOG_INFO, &wm_cycle->log, errno,
                         "sendmmsg() of %u datagrams to clients failed",
                         wm_udp_nout - off);
            break;
        }
        off += (unsigned) sent;
    }
    wm_udp_nout = 0;
}

void
wm_stream_udp_out_free(void)
{
    wm_udp_nout = 0;
    if (wm_udp_out_ev) {
        event_free(wm_udp_out_ev);
        wm_udp_out_ev = NULL;
    }
}
