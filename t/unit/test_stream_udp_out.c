/*
 * Unit tests of the worker's outbox of UDP replies (wm_stream_udp_out.c)
 * on real loopback sockets: 24 replies of mixed sizes read from a
 * session's upstream socket into the outbox and committed to one client
 * reach that client from the listening socket whole and in order; the
 * same when the listening socket refuses segmentation (SO_NO_CHECK), so
 * that every group is sent again datagram by datagram; and replies to two
 * clients, interleaved, each reach their own client.
 */
#include "wm_stream.h"

#include "tap.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define N 24

static const size_t sizes[N] = {1400, 1400, 1400, 700, 3000, 3000, 3000, 2999,
                                20,   20,   21,   8,   5000, 5000, 1400, 1400,
                                1400, 1400, 9000, 8000, 8000, 100,  100,  100};

/* A UDP socket bound to 127.0.0.1 (port picked by the kernel). */
static int
udp_socket(struct sockaddr_in *a)
{
    socklen_t len = sizeof(*a);
    int fd = socket(AF_INET, SOCK_DGRAM, 0), buf = 1 << 21;

    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    if (fd < 0 || bind(fd, (struct sockaddr *) a, sizeof(*a)) != 0
        || getsockname(fd, (struct sockaddr *) a, &len) != 0)
    {
        return -1;
    }
    return fd;
}

static void
fill(u_char *d, size_t len, unsigned k)
{
    memset(d, 'a' + (int) (k % 26), len);
    if (len >= 2) {
        d[0] = (u_char) k;
        d[1] = (u_char) (k >> 8);
    }
}

/* Sends count replies (datagram k of size sizes[k % N]) from the upstream
 * side to up, reads them into the outbox of lis and commits each to the
 * session of its client (clients[k % nclients]); then flushes. */
static unsigned
through_outbox(struct event_base *base, int upstream, int up, int lis,
               wm_stream_session_t **clients, unsigned nclients,
               unsigned count)
{
    static u_char d[9000];
    wm_stream_udp_batch_t *b;
    unsigned k, first, done = 0;

    for (k = 0; k < count; k++) {
        fill(d, sizes[k % N], k);
        if (send(upstream, d, sizes[k % N], 0) < 0) {
            return 0;
        }
    }
    while (done < count) {
        int got;

        b = wm_stream_udp_out_room(base, lis, &first);
        got = wm_stream_udp_recv(up, b, first, 1);
        if (got != 1) {
            break;
        }
        wm_stream_udp_out_commit(clients[done % nclients], 1);
        done++;
    }
    wm_stream_udp_out_flush();
    return done;
}

/* Reads what client fd got: how many of the expected replies k = from,
 * from + step, ... arrived as sent, in order. */
static unsigned
check(int fd, unsigned from, unsigned step, unsigned count)
{
    static u_char got[65536], want[9000];
    unsigned k, good = 0;

    for (k = from; k < count; k += step) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (poll(&p, 1, 2000) != 1) {
            break;
        }
        n = recv(fd, got, sizeof(got), 0);
        fill(want, sizes[k % N], k);
        if (n == (ssize_t) sizes[k % N] && memcmp(got, want, (size_t) n) == 0)
        {
            good++;
        } else {
            diag("reply %u: %zd bytes, expected %zu", k, n, sizes[k % N]);
        }
    }
    return good;
}

int
main(void)
{
    struct sockaddr_in a_up, a_upstream, a_lis, a_c1, a_c2;
    int up = udp_socket(&a_up), upstream = udp_socket(&a_upstream);
    int lis = udp_socket(&a_lis), c1 = udp_socket(&a_c1), c2 = udp_socket(&a_c2);
    struct event_base *base = event_base_new();
    static wm_listening_t ls;
    static wm_stream_session_t s1, s2;
    wm_stream_session_t *one[] = {&s1}, *two[] = {&s1, &s2};
    int on = 1;
    u_char buf[16];

    ok(up >= 0 && upstream >= 0 && lis >= 0 && c1 >= 0 && c2 >= 0 && base,
       "sockets and event base");
    ok(connect(upstream, (struct sockaddr *) &a_up, sizeof(a_up)) == 0
           && connect(up, (struct sockaddr *) &a_upstream, sizeof(a_upstream))
                  == 0,
       "the upstream pair is connected");
    ls.fd = lis;
    memcpy(&ls.sa, &a_lis, sizeof(a_lis));
    s1.listening = &ls;
    memcpy(&s1.peer, &a_c1, sizeof(a_c1));
    s1.peerlen = sizeof(a_c1);
    s2 = s1;
    memcpy(&s2.peer, &a_c2, sizeof(a_c2));

    is_int(through_outbox(base, upstream, up, lis, one, 1, N), N,
           "24 replies into the outbox");
    is_int(check(c1, 0, 1, N), N, "the client gets them whole, in order");
    is_int(recv(c1, buf, sizeof(buf), MSG_DONTWAIT), -1, "and nothing else");

    ok(setsockopt(lis, SOL_SOCKET, SO_NO_CHECK, &on, sizeof(on)) == 0,
       "the listening socket refuses segmentation (SO_NO_CHECK)");
    is_int(through_outbox(base, upstream, up, lis, one, 1, N), N,
           "24 replies into the outbox again");
    is_int(check(c1, 0, 1, N), N, "the client still gets them all, in order");
    is_int(recv(c1, buf, sizeof(buf), MSG_DONTWAIT), -1, "and nothing else");

    on = 0;
    setsockopt(lis, SOL_SOCKET, SO_NO_CHECK, &on, sizeof(on));
    is_int(through_outbox(base, upstream, up, lis, two, 2, N), N,
           "24 replies for two clients, interleaved");
    is_int(check(c1, 0, 2, N), N / 2, "the first client gets its own");
    is_int(check(c2, 1, 2, N), N / 2, "the second client its own");

    wm_stream_udp_out_free();
    event_base_free(base);
    close(up);
    close(upstream);
    close(lis);
    close(c1);
    close(c2);
    return tap_done();
}
