/*
 * The load generator and echo backends of the stream benchmark
 * (bench/stream.sh): small, single-threaded epoll programs, so that the
 * client and the backend cost the same whether they talk directly or
 * through a proxy, and the ratio measures the proxy alone.
 *
 *   wm_loadgen tcp-echo PORT          echo every byte back, many conns
 *   wm_loadgen udp-echo PORT          echo every datagram to its sender
 *   wm_loadgen connrate PORT CONC SECS
 *       keeps CONC connections in flight; each connects, sends 16 bytes,
 *       reads them back and closes; prints completed connections/s
 *   wm_loadgen udprr PORT SESSIONS SECS
 *       SESSIONS sockets, one datagram in flight each (closed loop);
 *       prints round trips/s and the number of lost (timed out) datagrams
 *
 * Everything talks to 127.0.0.1 only. Built by bench/stream.sh with cc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG_LEN 16

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct sockaddr_in
loopback(int port)
{
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

static int
bound_socket(int type, int port)
{
    struct sockaddr_in sin = loopback(port);
    int fd, on = 1;

    fd = socket(AF_INET, type | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        die("socket");
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *) &sin, sizeof(sin)) < 0) {
        die("bind");
    }
    if (type == SOCK_STREAM && listen(fd, 4096) < 0) {
        die("listen");
    }
    return fd;
}

static int
tcp_echo(int port)
{
    int lfd = bound_socket(SOCK_STREAM, port);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, evs[256];
    static char buf[65536];

    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int i, n = epoll_wait(ep, evs, 256, -1);

        for (i = 0; i < n; i++) {
            int fd = evs[i].data.fd;

            if (fd == lfd) {
                int c;

                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    int on = 1;

                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
                    ev.events = EPOLLIN;
                    ev.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            for (;;) {
                ssize_t r = read(fd, buf, sizeof(buf));

                if (r > 0) {
                    /* small echoes: a blocking-ish write is fine here, the
                     * peer reads them at once */
                    if (write(fd, buf, r) != r) {
                        close(fd);
                        break;
                    }
                    continue;
                }
                if (r < 0 && errno == EAGAIN) {
                    break;
                }
                close(fd);
                break;
            }
        }
    }
}

static int
udp_echo(int port)
{
    int fd = bound_socket(SOCK_DGRAM, port);
    struct mmsghdr msgs[64];
    struct iovec iov[64];
    struct sockaddr_in from[64];
    static char bufs[64][2048];
    int i, ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    for (;;) {
        int n;

        for (i = 0; i < 64; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = sizeof(bufs[i]);
            memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
        }
        n = recvmmsg(fd, msgs, 64, 0, NULL);
        if (n <= 0) {
            epoll_wait(ep, &ev, 1, -1);
            continue;
        }
        for (i = 0; i < n; i++) {
            iov[i].iov_len = msgs[i].msg_len;
        }
        sendmmsg(fd, msgs, n, 0);
    }
}

typedef struct {
    int fd;
    int state; /* 0 connecting, 1 reading the echo */
    size_t got;
} conn_t;

static void
conn_start(int ep, conn_t *c, struct sockaddr_in *to)
{
    struct epoll_event ev;
    int on = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        die("socket");
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    c->state = 0;
    c->got = 0;
    if (connect(c->fd, (struct sockaddr *) to, sizeof(*to)) < 0
        && errno != EINPROGRESS) {
        die("connect");
    }
    ev.events = EPOLLOUT;
    ev.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static int
connrate(int port, int conc, double secs)
{
    struct sockaddr_in to = loopback(port);
    conn_t *conns = calloc(conc, sizeof(conn_t));
    struct epoll_event evs[256];
    int ep = epoll_create1(0), i;
    long done = 0, errors = 0;
    double start = now(), end = start + secs;
    static const char msg[MSG_LEN] = "0123456789abcdef";

    for (i = 0; i < conc; i++) {
        conn_start(ep, &conns[i], &to);
    }
    while (now() < end) {
        int n = epoll_wait(ep, evs, 256, 100);

        for (i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            char buf[64];
            ssize_t r;
            int err = 0;
            socklen_t el = sizeof(err);

            if (c->state == 0) {
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err || write(c->fd, msg, MSG_LEN) != MSG_LEN) {
                    goto failed;
                }
                c->state = 1;
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                continue;
            }
            r = read(c->fd, buf, sizeof(buf));
            if (r < 0 && errno == EAGAIN) {
                continue;
            }
            if (r <= 0) {
                goto failed;
            }
            c->got += r;
            if (c->got < MSG_LEN) {
                continue;
            }
            done++;
            close(c->fd);
            conn_start(ep, c, &to);
            continue;
        failed:
            errors++;
            close(c->fd);
            conn_start(ep, c, &to);
        }
    }
    printf("%.0f %ld\n", done / (now() - start), errors);
    return 0;
}

static int
udprr(int port, int sessions, double secs)
{
    struct sockaddr_in to = loopback(port);
    int *fds = calloc(sessions, sizeof(int));
    double *sent = calloc(sessions, sizeof(double));
    struct epoll_event evs[256];
    int ep = epoll_create1(0), i;
    long done = 0, lost = 0;
    double start = now(), end = start + secs, last_scan = start;
    static const char msg[64] = "udp request-response payload....";

    for (i = 0; i < sessions; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};

        fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (fds[i] < 0
            || connect(fds[i], (struct sockaddr *) &to, sizeof(to)) < 0) {
            die("udp socket");
        }
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
        send(fds[i], msg, sizeof(msg), 0);
        sent[i] = now();
    }
    while (now() < end) {
        int n = epoll_wait(ep, evs, 256, 50);
        double t = now();

        for (i = 0; i < n; i++) {
            int s = evs[i].data.u32;
            char buf[2048];

            while (recv(fds[s], buf, sizeof(buf), 0) > 0) {
                done++;
            }
            send(fds[s], msg, sizeof(msg), 0);
            sent[s] = t;
        }
        /* a datagram without an answer for 1 s is lost: send another */
        if (t - last_scan > 0.2) {
            last_scan = t;
            for (i = 0; i < sessions; i++) {
                if (t - sent[i] > 1.0) {
                    lost++;
                    send(fds[i], msg, sizeof(msg), 0);
                    sent[i] = t;
                }
            }
        }
    }
    printf("%.0f %ld\n", done / (now() - start), lost);
    return 0;
}

int
main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc == 3 && strcmp(argv[1], "tcp-echo") == 0) {
        return tcp_echo(atoi(argv[2]));
    }
    if (argc == 3 && strcmp(argv[1], "udp-echo") == 0) {
        return udp_echo(atoi(argv[2]));
    }
    if (argc == 5 && strcmp(argv[1], "connrate") == 0) {
        return connrate(atoi(argv[2]), atoi(argv[3]), atof(argv[4]));
    }
    if (argc == 5 && strcmp(argv[1], "udprr") == 0) {
        return udprr(atoi(argv[2]), atoi(argv[3]), atof(argv[4]));
    }
    fprintf(stderr,
            "usage: wm_loadgen tcp-echo PORT | udp-echo PORT |\n"
            "       connrate PORT CONC SECS | udprr PORT SESSIONS SECS\n");
    return 2;
}
