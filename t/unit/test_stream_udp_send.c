/*
 * Unit tests of sending runs of datagrams (wm_stream_udp_send.c): which
 * datagrams make one segmented (GSO) send; a run of 32 datagrams of
 * mixed sizes through a connected loopback UDP socket arrives as the
 * same 32 datagrams, in order, byte for byte, with segmentation on; a
 * socket that refuses segmentation (SO_NO_CHECK) turns it off and still
 * delivers every datagram; and a unix datagram pair without it.
 */
#include "wm_stream.h"

#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RUN 32

static u_char data[RUN][9000];
static struct iovec dg[RUN];

static unsigned
group(const size_t *sizes, unsigned n)
{
    struct iovec v[80];
    unsigned i;

    for (i = 0; i < n; i++) {
        v[i].iov_base = data[0];
        v[i].iov_len = sizes[i];
    }
    return wm_stream_udp_gso_group(v, n);
}

/* The run: sizes in runs of equals, shorter ones, a longer one after a
 * shorter one, an empty datagram; each filled with its index. */
static void
make_run(void)
{
    static const size_t sizes[RUN] = {
        1400, 1400, 1400, 1400, 700,  1400, 1400, 9000, 9000, 9000, 8999,
        1,    2,    3,    3,    0,    100,  100,  100,  100,  100,  100,
        1200, 1200, 1300, 1300, 1300, 10,   1400, 1400, 1400, 1400};
    unsigned i;

    for (i = 0; i < RUN; i++) {
        memset(data[i], (int) (i + 1), sizes[i]);
        dg[i].iov_base = data[i];
        dg[i].iov_len = sizes[i];
    }
}

/* Reads RUN datagrams from fd and compares them with the run. */
static void
check_received(int fd, const char *what)
{
    static u_char buf[65536];
    unsigned i, good = 0;
    ssize_t n;
    char name[128];

    for (i = 0; i < RUN; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};

        if (poll(&p, 1, 2000) != 1) {
            break;
        }
        n = recv(fd, buf, sizeof(buf), 0);
        if (n == (ssize_t) dg[i].iov_len
            && memcmp(buf, dg[i].iov_base, (size_t) n) == 0)
        {
            good++;
        } else {
            diag("%s: datagram %u: %zd bytes, expected %zu", what, i, n,
                 dg[i].iov_len);
        }
    }
    snprintf(name, sizeof(name), "%s: the 32 datagrams arrive as sent, in order",
             what);
    is_int(good, RUN, name);
    snprintf(name, sizeof(name), "%s: and nothing else", what);
    is_int(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1, name);
}

/* A pair of loopback UDP sockets, the first connected to the second. */
static int
udp_pair(int *rx)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    int rcvbuf = 1 << 20, tx;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *rx = socket(AF_INET, SOCK_DGRAM, 0);
    tx = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(*rx, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (*rx < 0 || tx < 0 || bind(*rx, (struct sockaddr *) &a, sizeof(a)) != 0
        || getsockname(*rx, (struct sockaddr *) &a, &alen) != 0
        || connect(tx, (struct sockaddr *) &a, alen) != 0)
    {
        return -1;
    }
    return tx;
}

int
main(void)
{
    int rx, tx, sv[2];
    bool gso;
    unsigned sent;

    {
        size_t same[5] = {1400, 1400, 1400, 1400, 1400};
        size_t shorter[4] = {1400, 1400, 800, 1400};
        size_t longer[2] = {800, 1400};
        size_t empty[4] = {1400, 1400, 1400, 0};
        size_t first_empty[3] = {0, 10, 10};
        size_t many[80], big[50];
        unsigned i;

        for (i = 0; i < 80; i++) {
            many[i] = 100;
        }
        for (i = 0; i < 50; i++) {
            big[i] = 1400;
        }
        is_int(group(same, 5), 5, "five of one size: one group");
        is_int(group(shorter, 4), 3, "a shorter one ends the group");
        is_int(group(longer, 2), 1, "a longer one starts another");
        is_int(group(empty, 4), 3, "an empty one is not in a group");
        is_int(group(first_empty, 3), 1, "an empty one goes alone");
        is_int(group(same, 1), 1, "one datagram: alone");
        is_int(group(many, 80), 64, "at most 64 segments");
        is_int(group(big, 50), 42, "at most 60000 bytes");
    }

    make_run();

    tx = udp_pair(&rx);
    ok(tx >= 0, "loopback UDP pair");
    gso = true;
    sent = wm_stream_udp_send_run(tx, dg, RUN, &gso);
    is_int(sent, RUN, "segmented: all sent");
    ok(gso, "loopback takes segmented sends");
    check_received(rx, "segmented");
    close(tx);
    close(rx);

    tx = udp_pair(&rx);
    {
        int one = 1;

        ok(setsockopt(tx, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)) == 0,
           "SO_NO_CHECK set (the kernel refuses segmentation then)");
    }
    gso = true;
    sent = wm_stream_udp_send_run(tx, dg, RUN, &gso);
    is_int(sent, RUN, "refused segmentation: all sent");
    ok(!gso, "segmentation turned off");
    check_received(rx, "after a refusal");
    close(tx);
    close(rx);

    ok(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0, "unix datagram pair");
    {
        int buf = 1 << 20;

        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
        setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    }
    gso = false;
    sent = wm_stream_udp_send_run(sv[0], dg, RUN, &gso);
    is_int(sent, RUN, "unix: all sent with sendmmsg");
    check_received(sv[1], "unix");
    close(sv[0]);
    close(sv[1]);

    return tap_done();
}
