/*
 * Unit tests of the worker's table of UDP sessions (wm_stream_udp.c):
 * thousands of clients bound and found again across the table's growth,
 * one client address on two listening sockets kept apart, an IPv6 client
 * found whatever its flow label, unbinding (then the address is free for
 * a new session), and the per-server count that udp_sessions_max uses.
 */
#include "wm_stream.h"

#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define N 3000

static void
set_v4(wm_stream_session_t *s, wm_listening_t *ls, uint16_t port)
{
    struct sockaddr_in *in = (struct sockaddr_in *) &s->peer;

    memset(in, 0, sizeof(*in));
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    in->sin_addr.s_addr = htonl(0x7f000001);
    s->peerlen = sizeof(*in);
    s->listening = ls;
}

int
main(void)
{
    static wm_stream_session_t s[N], v6, other;
    static wm_listening_t ls1, ls2;
    static wm_stream_core_srv_conf_t srv;
    struct sockaddr_in6 a6;
    int i, found = 0, wrong = 0, gone = 0;

    ls1.fd = 5;
    ls1.servers = &srv;
    ls2.fd = 6;
    ls2.servers = &srv;

    for (i = 0; i < N; i++) {
        s[i].srv = &srv;
        set_v4(&s[i], &ls1, (uint16_t) (1000 + i));
        if (wm_stream_udp_bind(&s[i]) != WM_OK) {
            break;
        }
    }
    is_int(i, N, "3000 sessions bound");
    is_int(srv.udp_sessions, N, "and counted for their server");

    for (i = 0; i < N; i++) {
        wm_stream_session_t *f = wm_stream_udp_find(
            &ls1, (struct sockaddr *) &s[i].peer, s[i].peerlen);

        found += f == &s[i];
        wrong += f != NULL && f != &s[i];
    }
    is_int(found, N, "each is found by its client address");
    is_int(wrong, 0, "never another one");
    ok(wm_stream_udp_find(&ls2, (struct sockaddr *) &s[7].peer, s[7].peerlen)
           == NULL,
       "the same address on another listening socket is not it");

    other.srv = &srv;
    set_v4(&other, &ls2, 1007);
    ok(wm_stream_udp_bind(&other) == WM_OK, "a session for it there");
    ok(wm_stream_udp_find(&ls2, (struct sockaddr *) &s[7].peer, s[7].peerlen)
           == &other,
       "is found on that socket");
    ok(wm_stream_udp_find(&ls1, (struct sockaddr *) &s[7].peer, s[7].peerlen)
           == &s[7],
       "and the first one on the first");

    memset(&a6, 0, sizeof(a6));
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(5353);
    inet_pton(AF_INET6, "::1", &a6.sin6_addr);
    a6.sin6_flowinfo = htonl(0x12345);
    v6.srv = &srv;
    v6.listening = &ls1;
    memcpy(&v6.peer, &a6, sizeof(a6));
    v6.peerlen = sizeof(a6);
    ok(wm_stream_udp_bind(&v6) == WM_OK, "an IPv6 session");
    a6.sin6_flowinfo = htonl(0x54321);
    ok(wm_stream_udp_find(&ls1, (struct sockaddr *) &a6, sizeof(a6)) == &v6,
       "found with another flow label");
    a6.sin6_port = htons(5354);
    ok(wm_stream_udp_find(&ls1, (struct sockaddr *) &a6, sizeof(a6)) == NULL,
       "not with another port");

    for (i = 0; i < N; i += 2) {
        wm_stream_udp_unbind(&s[i]);
    }
    wm_stream_udp_unbind(&s[0]); /* twice: no-op */
    found = 0;
    for (i = 0; i < N; i++) {
        wm_stream_session_t *f = wm_stream_udp_find(
            &ls1, (struct sockaddr *) &s[i].peer, s[i].peerlen);

        gone += i % 2 == 0 && f == NULL;
        found += i % 2 == 1 && f == &s[i];
    }
    is_int(gone, N / 2, "unbound sessions are no longer found");
    is_int(found, N / 2, "the others still are");
    is_int(srv.udp_sessions, N + 2, "unbound sessions still count");

    for (i = 0; i < N; i++) {
        wm_stream_udp_forget(&s[i]);
    }
    wm_stream_udp_forget(&other);
    wm_stream_udp_forget(&v6);
    is_int(srv.udp_sessions, 0, "freed sessions count no more");
    ok(wm_stream_udp_find(&ls1, (struct sockaddr *) &s[1].peer, s[1].peerlen)
           == NULL,
       "and the table is empty");
    return tap_done();
}
