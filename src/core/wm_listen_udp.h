/*
 * UDP listening sockets shared by several workers: one socket per worker
 * in a SO_REUSEPORT group, and a classic BPF program on the group that
 * sends every datagram of one client address to the same socket, so that
 * one worker holds the client's session.
 */
#ifndef WM_LISTEN_UDP_H
#define WM_LISTEN_UDP_H

#include "wm_core.h"

#include <sys/socket.h>

/*
 * Attaches to the SO_REUSEPORT group of fd (a bound UDP socket) the
 * program that picks socket index hash(client address, port) % n; n is
 * the number of workers, which read sockets 0 to n-1 of the group in the
 * order they joined it. Members past n get nothing. WM_OK, or WM_ERROR
 * with errno set (the kernel then spreads by its own hash).
 */
wm_int_t wm_listen_udp_steer(int fd, unsigned n);

/* The socket index the program picks for a datagram from sa (IPv4 or
 * IPv6, v4-mapped IPv6 taken as IPv4) when the group has n workers. */
unsigned wm_listen_udp_index(const struct sockaddr *sa, unsigned n);

#endif /* WM_LISTEN_UDP_H */
