/*
 * Listening sockets. Modules declare them while their config is parsed
 * (wm_listen_add); the master opens them before forking the workers and,
 * on reload, hands the unchanged ones to the new cycle without closing
 * them, so no connection is refused across a reload.
 */
#ifndef WM_LISTEN_H
#define WM_LISTEN_H

#include "wm_core.h"

#include <sys/socket.h>

typedef struct wm_listening_s wm_listening_t;

/* Called in a worker for each accepted connection (TCP or unix) or, for a
 * datagram socket, when it is readable. */
typedef void (*wm_listen_handler_pt)(wm_listening_t *ls, int fd,
                                     struct sockaddr *sa, socklen_t len);

struct wm_listening_s {
    struct sockaddr_storage sa;
    socklen_t socklen;
    const char *addr_text;  /* "127.0.0.1:8080", "[::1]:80", "unix:/p" */
    int type;               /* SOCK_STREAM or SOCK_DGRAM */
    int fd;                 /* -1 until opened */
    int backlog;
    int rcvbuf;             /* 0: system default */
    int sndbuf;
    int ipv6only;           /* -1 unset, 0, 1 */
    unsigned reuseport : 1;
    unsigned freebind : 1;
    unsigned kept : 1;      /* taken over from the previous cycle */
    unsigned proxy_protocol : 1; /* connections start with a PROXY header */
    unsigned merged : 1;    /* served by a wildcard socket of the same port:
                               not opened (nginx without `bind`) */
    unsigned ssl : 1;       /* stream: connections start with TLS */
    wm_listen_handler_pt handler;
    void *servers;          /* the owning module's data */
    struct event *ev;       /* the worker's accept event */
    /* A TCP reuseport address or any UDP address with several workers:
     * one socket per worker (fds[0] is fd), each in the kernel's
     * SO_REUSEPORT group (wm_listen_udp.h for UDP). In
     * a worker, fd is its own one. NULL otherwise. */
    int *fds;
    unsigned nfds;
    unsigned nfds_kept;     /* fds[0..nfds_kept-1] went to a newer cycle */
};

/* The number of this worker, 0 to worker_processes - 1, set by the master
 * before the worker starts (a respawned worker gets the number of the one
 * it replaces): it picks the worker's socket of a reuseport address. */
extern unsigned wm_listen_worker;

/*
 * Parses a listen address: `addr:port`, `port`, `*:port`, `[v6]:port`,
 * `[v6]`, `host:port` (resolved now; the first address), or `unix:/path`.
 * A missing port takes default_port. WM_OK, or WM_ERROR with a message in
 * err.
 */
wm_int_t wm_listen_parse_addr(const wm_str_t *text, int default_port,
                              struct sockaddr_storage *sa, socklen_t *len,
                              char *err, size_t errlen);

/* The socket options a `listen` directive may give. */
typedef struct {
    int backlog;            /* 511 unless set */
    int rcvbuf;             /* 0: system default */
    int sndbuf;
    int ipv6only;           /* -1 unset, 0, 1 */
    unsigned reuseport : 1;
    unsigned set : 1;       /* any of them was given */
} wm_listen_opts_t;

#define wm_listen_opts_init { 511, 0, 0, -1, 0, 0 }

/*
 * Parses one socket parameter of `listen` (backlog=N, rcvbuf=SIZE,
 * sndbuf=SIZE, ipv6only=on|off, reuseport, bind) into o. WM_OK when it was
 * one, WM_DECLINED when it is not a socket parameter (the module may know
 * it), WM_ERROR for a bad value.
 */
wm_int_t wm_listen_parse_param(const char *param, wm_listen_opts_t *o);

/* Applies o to a declared socket; ipv6only on a non-IPv6 address is an
 * error (returns the message), else NULL. */
const char *wm_listen_apply(wm_listening_t *ls, const wm_listen_opts_t *o);

/* Formats an address as `1.2.3.4:80`, `[::1]:80` or `unix:/path`. */
void wm_sockaddr_text(const struct sockaddr *sa, socklen_t len, char *buf,
                      size_t size);

/* Declares a listening socket of the cycle, or returns the one already
 * declared with the same address and type (several servers may share
 * one). NULL when out of memory. */
wm_listening_t *wm_listen_add(wm_cycle_t *cycle, const struct sockaddr *sa,
                              socklen_t len, int type);

/* True for 0.0.0.0 and [::]. */
bool wm_sockaddr_is_wildcard(const struct sockaddr *sa);

/* True when a and b have the same family and address, ports aside. */
bool wm_sockaddr_same_host(const struct sockaddr *a, const struct sockaddr *b);

/* The port of an IPv4 or IPv6 address (0 for others). */
int wm_sockaddr_port(const struct sockaddr *sa);

/* Opens every socket of cycle, reusing the descriptors of old whose
 * address and type are equal; merged ones are skipped. WM_OK or
 * WM_ERROR (logged). */
wm_int_t wm_listen_open(wm_cycle_t *cycle, wm_cycle_t *old);

/* Takes back from cycle, which will not run, the sockets that
 * wm_listen_open() took over from old. */
void wm_listen_give_back(wm_cycle_t *cycle, wm_cycle_t *old);

/* Closes the sockets of cycle that no newer cycle kept. */
void wm_listen_close(wm_cycle_t *cycle);

/* In a worker: start / stop accepting on every socket of cycle. With
 * keep_dgram, the worker keeps its UDP sockets open (unread): its
 * sessions still send their replies from them. */
wm_int_t wm_listen_enable(wm_cycle_t *cycle);
void wm_listen_disable(wm_cycle_t *cycle, bool keep_dgram);

#endif /* WM_LISTEN_H */
