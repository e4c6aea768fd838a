/*
 * Unit tests of the worker's io_uring for UDP session sockets
 * (wm_stream_udp_ring.c) on real loopback sockets and a libevent loop:
 * datagrams queued from several sockets leave at the end of the loop's
 * pass, whole and in order; a burst larger than the ring's provided
 * buffers arrives whole (the multishot receive ends with ENOBUFS and is
 * armed again); a refusal (ICMP port unreachable) reaches the error
 * callback as a failed receive; after _close() no callback comes, even
 * for datagrams already on their way, and the socket is gone once its
 * requests are. Skipped where io_uring is not available.
 */
#include "wm_stream.h"

#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BURST 600 /* more than the ring's 256 provided buffers */
#define SMALL                                                 \
    64 /* bytes of each: what is not in a buffer waits in the \
          socket, within even a stock receive buffer */

typedef struct {
    unsigned got;      /* datagrams received */
    unsigned in_order; /* of them, the one expected next */
    size_t bytes;
    int err; /* the last error callback's */
    bool err_sending;
} sink_t;

static void
on_recv(void *data, const u_char *p, size_t len)
{
    sink_t *k = data;
    unsigned n = 0;

    if (len >= 4) {
        memcpy(&n, p, 4);
    }
    k->in_order += n == k->got;
    k->got++;
    k->bytes += len;
}

static void
on_error(void *data, int err, bool sending, size_t len)
{
    sink_t *k = data;

    k->err = err;
    k->err_sending = sending;
}

/* A UDP socket bound to 127.0.0.1 (port picked by the kernel), connected
 * to peer when given. */
static int
udp_socket(struct sockaddr_in *a, const struct sockaddr_in *peer)
{
    socklen_t len = sizeof(*a);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), buf = 1 << 22;

    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) != 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    }
    if (fd < 0 || bind(fd, (struct sockaddr *) a, sizeof(*a)) != 0
        || getsockname(fd, (struct sockaddr *) a, &len) != 0
        || (peer
            && connect(fd, (const struct sockaddr *) peer, sizeof(*peer)) != 0))
    {
        return -1;
    }
    return fd;
}

/* Runs the loop in passes of 10 ms until done() or n passes. */
static void
run(struct event_base *base, bool (*done)(void *), void *arg, int n)
{
    int i;

    for (i = 0; i < n && !done(arg); i++) {
        struct timeval tv = {0, 10000};

        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
}

static unsigned want;

static bool
got_all(void *arg)
{
    return ((sink_t *) arg)->got >= want;
}

static bool
never(void *arg)
{
    return false;
}

static bool
got_error(void *arg)
{
    return ((sink_t *) arg)->err != 0;
}

/* Reads what fd has: count of datagrams, and how many came in order
 * (numbered from 0 in their first 4 bytes). */
static unsigned
drain(int fd, unsigned *in_order)
{
    u_char d[2048];
    unsigned n = 0, k;
    ssize_t r;

    *in_order = 0;
    for (;;) {
        r = recv(fd, d, sizeof(d), 0);
        if (r < 0 && errno == EAGAIN) {
            struct timeval tv = {0, 200000};
            fd_set rs;

            FD_ZERO(&rs);
            FD_SET(fd, &rs);
            if (select(fd + 1, &rs, NULL, NULL, &tv) <= 0) {
                return n;
            }
            continue;
        }
        if (r < 4) {
            return n;
        }
        memcpy(&k, d, 4);
        *in_order += k == n;
        n++;
    }
}

int
main(void)
{
    struct event_base *base = event_base_new();
    struct sockaddr_in a_far, a_near, a_far2, a_near2, a_gone, a_x;
    wm_stream_udp_ring_sock_t *rs, *rs2;
    sink_t k = {0}, k2 = {0};
    u_char d[1400];
    unsigned i, in_order;
    int far, near, far2, near2, gone, closed_fd;
    struct stat st;

    if (base == NULL || !wm_stream_udp_ring_ready(base)) {
        printf("1..0 # SKIP no io_uring on this machine\n");
        if (base) {
            event_base_free(base);
        }
        return 0;
    }
    far = udp_socket(&a_far, NULL);
    near = udp_socket(&a_near, &a_far);
    far2 = udp_socket(&a_far2, NULL);
    near2 = udp_socket(&a_near2, &a_far2);
    ok(far >= 0 && near >= 0 && far2 >= 0 && near2 >= 0
           && connect(far, (struct sockaddr *) &a_near, sizeof(a_near)) == 0
           && connect(far2, (struct sockaddr *) &a_near2, sizeof(a_near2)) == 0,
       "two connected socket pairs");

    rs = wm_stream_udp_ring_open(near, on_recv, on_error, &k);
    rs2 = wm_stream_udp_ring_open(near2, on_recv, on_error, &k2);
    ok(rs && rs2, "both sockets handed to the ring");

    /* Sends from two sockets, queued, then one pass of the loop. */
    for (i = 0; i < 100; i++) {
        struct iovec iov[2] = {{&i, 4}, {d, 96}};

        memset(d, 'x', sizeof(d));
        wm_stream_udp_ring_send(rs, iov, 2);
        wm_stream_udp_ring_send(rs2, iov, 2);
    }
    is_int(recv(far, d, sizeof(d), MSG_DONTWAIT), -1,
           "queued sends wait for the end of the pass");
    run(base, never, NULL, 3);
    is_int(drain(far, &in_order), 100, "100 datagrams from the first socket");
    is_int(in_order, 100, "in order");
    is_int(drain(far2, &in_order), 100, "100 from the second");
    is_int(in_order, 100, "in order too");

    /* A burst larger than the provided buffers, sent before the loop
     * runs: the receive runs out of buffers and is armed again. */
    memset(d, 'y', sizeof(d));
    for (i = 0; i < BURST; i++) {
        memcpy(d, &i, 4);
        if (send(far, d, SMALL, 0) != SMALL) {
            break;
        }
    }
    is_int(i, BURST, "a burst of 600 datagrams sent");
    want = BURST;
    run(base, got_all, &k, 200);
    is_int(k.got, BURST, "all received through the ring");
    is_int(k.in_order, BURST, "in order");
    ok(k.bytes == (size_t) BURST * SMALL, "whole");
    is_int(k.err, 0, "no error callback");

    /* Closed: no callback for a datagram on its way, the descriptor is
     * closed once the cancel is submitted. */
    closed_fd = near2;
    send(far2, d, 100, 0);
    wm_stream_udp_ring_close(rs2);
    k2.got = 0;
    run(base, never, NULL, 20);
    is_int(k2.got, 0, "no callback after _close()");
    ok(fstat(closed_fd, &st) != 0 && errno == EBADF,
       "the descriptor is closed");

    /* A refusal: the first datagram to a port nobody listens on brings
     * an ICMP port unreachable, which ends the receive with an error. */
    gone = udp_socket(&a_gone, NULL);
    close(gone);
    {
        int s = udp_socket(&a_x, &a_gone);
        sink_t kr = {0};
        wm_stream_udp_ring_sock_t *r =
            wm_stream_udp_ring_open(s, on_recv, on_error, &kr);
        struct iovec iov = {d, 10};

        ok(r != NULL, "a socket connected to a closed port");
        wm_stream_udp_ring_send(r, &iov, 1);
        run(base, got_error, &kr, 200);
        is_int(kr.err, ECONNREFUSED, "the refusal reaches the error callback");
        ok(!kr.err_sending, "as a failed receive");
        wm_stream_udp_ring_close(r);
    }

    wm_stream_udp_ring_close(rs);
    run(base, never, NULL, 3); /* lets the cancels complete */
    wm_stream_udp_ring_free();
    event_base_free(base);
    close(far);
    close(far2);
    return tap_done();
}
