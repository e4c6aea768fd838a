/*
 * Unit tests of the steering of UDP datagrams among the workers' sockets
 * (wm_listen_udp.c), on real loopback sockets: a SO_REUSEPORT group of
 * 3 sockets with the program attached gets the datagrams of 40 clients,
 * each on the socket wm_listen_udp_index() names, every socket some; a
 * group of 4 steered for 2 workers leaves the last two sockets empty;
 * the same over IPv6 (skipped without ::1); and the index of v4-mapped
 * addresses equals that of the IPv4 address.
 */
#include "wm_listen_udp.h"

#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#define CLIENTS 40
#define SENDS 3
#define MAXSOCKS 4

static socklen_t
loopback(int family, struct sockaddr_storage *ss, uint16_t port)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *) ss;

        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in->sin_port = htons(port);
        return sizeof(*in);
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;

    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    in6->sin6_port = htons(port);
    return sizeof(*in6);
}

/* Binds n sockets of one group on a free loopback port; 0 or -1. */
static int
group(int family, int *fds, unsigned n, struct sockaddr_storage *ss,
      socklen_t *len)
{
    unsigned k;
    int on = 1;

    *len = loopback(family, ss, 0);
    for (k = 0; k < n; k++) {
        fds[k] = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (fds[k] < 0
            || setsockopt(fds[k], SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on))
                   != 0
            || bind(fds[k], (struct sockaddr *) ss, *len) != 0
            || (k == 0 && getsockname(fds[0], (struct sockaddr *) ss, len)))
        {
            return -1;
        }
    }
    return 0;
}

/* Sends from CLIENTS clients and checks where the datagrams land. */
static void
run(const char *what, int family, unsigned nsocks, unsigned nworkers)
{
    int fds[MAXSOCKS], c[CLIENTS];
    unsigned got[MAXSOCKS] = {0}, k, i, j, wrong = 0, total = 0;
    struct sockaddr_storage ss;
    socklen_t len;
    char name[160];

    if (group(family, fds, nsocks, &ss, &len) != 0) {
        if (family == AF_INET6) {
            diag("skip %s: no IPv6 loopback (%s)", what, strerror(errno));
            return;
        }
        ok(0, "group bound");
        return;
    }
    snprintf(name, sizeof(name), "%s: program attached", what);
    if (!ok(wm_listen_udp_steer(fds[0], nworkers) == WM_OK, name)) {
        diag("errno %d: %s", errno, strerror(errno));
    }
    for (i = 0; i < CLIENTS; i++) {
        struct sockaddr_storage b;
        socklen_t bl = loopback(family, &b, 0);

        c[i] = socket(family, SOCK_DGRAM, 0);
        if (c[i] < 0 || bind(c[i], (struct sockaddr *) &b, bl) != 0) {
            ok(0, "client bound");
            return;
        }
        for (j = 0; j < SENDS; j++) {
            sendto(c[i], "x", 1, 0, (struct sockaddr *) &ss, len);
        }
    }
    usleep(100000);
    for (k = 0; k < nsocks; k++) {
        for (;;) {
            struct sockaddr_storage from;
            socklen_t fl = sizeof(from);
            char d[8];

            if (recvfrom(fds[k], d, sizeof(d), 0, (struct sockaddr *) &from,
                         &fl)
                < 0)
            {
                break;
            }
            got[k]++;
            total++;
            if (wm_listen_udp_index((struct sockaddr *) &from, nworkers)
                != k)
            {
                wrong++;
            }
        }
    }
    snprintf(name, sizeof(name), "%s: every datagram arrived", what);
    is_int(total, CLIENTS * SENDS, name);
    snprintf(name, sizeof(name), "%s: each on the socket of its client",
             what);
    is_int(wrong, 0, name);
    for (k = 0; k < nsocks; k++) {
        snprintf(name, sizeof(name), "%s: socket %u %s", what, k,
                 k < nworkers ? "got some" : "got none");
        if (!ok(k < nworkers ? got[k] > 0 : got[k] == 0, name)) {
            diag("socket %u got %u", k, got[k]);
        }
    }
    for (i = 0; i < CLIENTS; i++) {
        close(c[i]);
    }
    for (k = 0; k < nsocks; k++) {
        close(fds[k]);
    }
}

int
main(void)
{
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    unsigned n, same = 0;

    run("IPv4, 3 workers", AF_INET, 3, 3);
    run("IPv4, 4 sockets, 2 workers", AF_INET, 4, 2);
    run("IPv4, 2 sockets, 1 worker", AF_INET, 2, 1);
    run("IPv6, 3 workers", AF_INET6, 3, 3);

    memset(&in, 0, sizeof(in));
    memset(&in6, 0, sizeof(in6));
    in.sin_family = AF_INET;
    in6.sin6_family = AF_INET6;
    for (n = 0; n < 1000; n++) {
        in.sin_addr.s_addr = htonl(0x0a000000u + n * 7919u);
        in.sin_port = htons((uint16_t) (1024 + n * 31));
        in6.sin6_port = in.sin_port;
        memset(&in6.sin6_addr, 0, 16);
        in6.sin6_addr.s6_addr[10] = 0xff;
        in6.sin6_addr.s6_addr[11] = 0xff;
        memcpy(&in6.sin6_addr.s6_addr[12], &in.sin_addr, 4);
        same += wm_listen_udp_index((struct sockaddr *) &in, 5)
                == wm_listen_udp_index((struct sockaddr *) &in6, 5);
    }
    is_int(same, 1000, "a v4-mapped address has the index of the IPv4 one");
    is_int(wm_listen_udp_index((struct sockaddr *) &in, 1), 0,
           "one worker: index 0");
    return tap_done();
}
