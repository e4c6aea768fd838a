/*
 * The worker's outbox of UDP replies to clients. A proxied session's
 * replies are read from its upstream socket straight into the outbox,
 * addressed to the client; the outbox is sent with one sendmmsg() once
 * every event of the loop's current pass has run, so the replies of all
 * the sessions that woke up together leave in one system call instead
 * of one each (with 50 sessions one datagram in flight each, a call per
 * round trip was a third of the worker's calls). All queued datagrams
 * leave from one listening socket: a reply for another one, or a full
 * outbox, sends what is queued first. Replies to one client that follow
 * each other leave as one segmented (UDP GSO) message of the sendmmsg()
 * where their sizes allow (see wm_stream_udp_send.c): a bulk download
 * through the proxy costs one pass through the IP layer per group, not
 * per datagram. A group that the route refuses to segment is sent again
 * datagram by datagram.
 */
#include "wm_stream.h"

#include "wm_log.h"

#include <event2/event.h>
#include <string.h>

static wm_stream_udp_batch_t wm_udp_out;
static unsigned wm_udp_nout;
static int wm_udp_out_fd = -1;
static bool wm_udp_out_inet; /* the socket is UDP (not unix): may segment */
static struct event *wm_udp_out_ev;

/* The messages of one flush: a group of datagrams each, with the
 * segment size of those of more than one. */
static struct mmsghdr wm_udp_out_mm[WM_STREAM_UDP_BATCH];
static wm_stream_udp_cmsg_t wm_udp_out_cmsg[WM_STREAM_UDP_BATCH];

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
    wm_udp_out_inet = s->listening->sa.ss_family != AF_UNIX;
}

/* How many queued datagrams from slot i on go to the same client. */
static unsigned
wm_stream_udp_out_run(unsigned i)
{
    socklen_t len = wm_udp_out.msg[i].msg_hdr.msg_namelen;
    unsigned k;

    for (k = 1; i + k < wm_udp_nout; k++) {
        if (wm_udp_out.msg[i + k].msg_hdr.msg_namelen != len
            || memcmp(&wm_udp_out.addr[i + k], &wm_udp_out.addr[i], len) != 0)
        {
            break;
        }
    }
    return k;
}

/* Makes message m the k datagrams from slot i, segmented if k > 1. */
static void
wm_stream_udp_out_message(unsigned m, unsigned i, unsigned k)
{
    struct msghdr *mh = &wm_udp_out_mm[m].msg_hdr;

    memset(mh, 0, sizeof(*mh));
    mh->msg_name = &wm_udp_out.addr[i];
    mh->msg_namelen = wm_udp_out.msg[i].msg_hdr.msg_namelen;
    mh->msg_iov = &wm_udp_out.iov[i];
    mh->msg_iovlen = k;
    if (k > 1) {
        wm_stream_udp_segment(mh, &wm_udp_out_cmsg[m],
                              (uint16_t) wm_udp_out.iov[i].iov_len);
    }
}

void
wm_stream_udp_out_flush(void)
{
    unsigned first[WM_STREAM_UDP_BATCH], count[WM_STREAM_UDP_BATCH];
    unsigned i, k, nm = 0, off = 0;
    int sent;

    /* The messages: groups of one client's datagrams when segmenting,
     * else one datagram each. */
    for (i = 0; i < wm_udp_nout; i += k) {
        k = wm_udp_out_inet
                ? wm_stream_udp_gso_group(&wm_udp_out.iov[i],
                                          wm_stream_udp_out_run(i))
                : 1;
        wm_stream_udp_out_message(nm, i, k);
        first[nm] = i;
        count[nm++] = k;
    }
    while (off < nm) {
        sent = sendmmsg(wm_udp_out_fd, wm_udp_out_mm + off, nm - off, 0);
        if (sent < 0 && errno == EINTR) {
            continue;
        }
        if (sent < 0 && count[off] > 1 && wm_stream_udp_gso_refused(errno)) {
            /* The route to this client refuses segmentation: the
             * group's datagrams go one by one (their own messages). */
            if (sendmmsg(wm_udp_out_fd, &wm_udp_out.msg[first[off]],
                         count[off], 0)
                < 0)
            {
                wm_log_error(WM_LOG_INFO, &wm_cycle->log, errno,
                             "sendmmsg() of %u datagrams to a client failed",
                             count[off]);
            }
            off++;
            continue;
        }
        if (sent <= 0) {
            /* A full socket buffer loses the replies, as the network
             * may; they were counted as sent. */
            wm_log_error(WM_LOG_INFO, &wm_cycle->log, errno,
                         "sendmmsg() of %u datagrams to clients failed",
                         wm_udp_nout - first[off]);
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
