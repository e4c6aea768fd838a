/*
 * Sending a run of datagrams through one connected UDP socket in as few
 * system calls, and as few passes through the IP layer, as the kernel
 * allows. With UDP generic segmentation offload (the UDP_SEGMENT control
 * message, Linux 4.18) a group of datagrams of one size, the last one
 * possibly shorter, leaves as one buffer that the kernel routes once and
 * splits into datagrams late (on loopback: when the receiving socket
 * queues them), instead of one sendmsg() and one trip through the stack
 * per datagram. What cannot go that way leaves with sendmmsg(): a socket
 * whose route refuses segmentation (a segment larger than the path MTU,
 * a unix socket), after which the caller's flag keeps it off.
 */
#include "wm_stream.h"

#include <netinet/udp.h>
#include <string.h>

/* At most this many bytes in one segmented send: an IPv4 or IPv6 packet
 * holds 64 KiB with its headers. */
#define WM_STREAM_UDP_GSO_BYTES 60000

/* At most this many segments (the kernel's limit was 64 before 6.4). */
#define WM_STREAM_UDP_GSO_SEGS 64

unsigned
wm_stream_udp_gso_group(const struct iovec *dg, unsigned n)
{
    size_t seg, total;
    unsigned k;

    if (n < 2 || dg[0].iov_len == 0 || dg[0].iov_len > UINT16_MAX) {
        return 1;
    }
    seg = dg[0].iov_len;
    total = seg;
    for (k = 1; k < n && k < WM_STREAM_UDP_GSO_SEGS; k++) {
        if (dg[k].iov_len == 0 || dg[k].iov_len > seg
            || total + dg[k].iov_len > WM_STREAM_UDP_GSO_BYTES)
        {
            break;
        }
        total += dg[k].iov_len;
        if (dg[k].iov_len < seg) {
            return k + 1; /* a shorter one ends the group */
        }
    }
    return k;
}

bool
wm_stream_udp_gso_refused(int err)
{
    /* EINVAL: a segment larger than the path MTU, or no checksums;
     * EIO: no checksum offload on the way; EMSGSIZE: too large. */
    return err == EINVAL || err == EIO || err == EOPNOTSUPP
           || err == ENOPROTOOPT || err == EMSGSIZE;
}

void
wm_stream_udp_segment(struct msghdr *mh, wm_stream_udp_cmsg_t *c, uint16_t seg)
{
    struct cmsghdr *cm;

    memset(c, 0, sizeof(*c));
    mh->msg_control = c->buf;
    mh->msg_controllen = sizeof(c->buf);
    cm = CMSG_FIRSTHDR(mh);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(seg));
    memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
}

/* Sends the k datagrams of one group as one segmented buffer. */
static ssize_t
wm_stream_udp_send_gso(int fd, const struct iovec *dg, unsigned k)
{
    wm_stream_udp_cmsg_t c;
    struct msghdr mh = {.msg_iov = (struct iovec *) dg, .msg_iovlen = k};

    wm_stream_udp_segment(&mh, &c, (uint16_t) dg[0].iov_len);
    return sendmsg(fd, &mh, 0);
}

/* Sends up to n datagrams with one sendmmsg(): how many left, or -1. */
static int
wm_stream_udp_send_many(int fd, const struct iovec *dg, unsigned n)
{
    struct mmsghdr mm[WM_STREAM_UDP_BATCH];
    unsigned i;

    if (n > WM_STREAM_UDP_BATCH) {
        n = WM_STREAM_UDP_BATCH;
    }
    memset(mm, 0, n * sizeof(mm[0]));
    for (i = 0; i < n; i++) {
        mm[i].msg_hdr.msg_iov = (struct iovec *) &dg[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    return sendmmsg(fd, mm, n, 0);
}

unsigned
wm_stream_udp_send_run(int fd, const struct iovec *dg, unsigned n, bool *gso)
{
    unsigned done = 0, k;
    ssize_t rc;

    while (done < n) {
        k = *gso ? wm_stream_udp_gso_group(dg + done, n - done) : 0;
        if (k >= 2) {
            rc = wm_stream_udp_send_gso(fd, dg + done, k);
            if (rc >= 0) {
                done += k;
                continue;
            }
            if (errno == EINTR) {
                continue;
            }
            if (!wm_stream_udp_gso_refused(errno)) {
                return done;
            }
            /* The route or the socket refuses segmentation: the
             * datagrams go one by one from now on. */
            *gso = false;
            continue;
        }
        /* The datagrams up to the next group, or all without
         * segmentation, in one call. */
        k = done + 1;
        while (*gso && k < n && wm_stream_udp_gso_group(dg + k, n - k) < 2) {
            k++;
        }
        rc = wm_stream_udp_send_many(fd, dg + done, *gso ? k - done : n - done);
        if (rc < 0) {
            if (errno == EINTR) {
                continue;
            }
            return done;
        }
        done += (unsigned) rc;
    }
    return done;
}
