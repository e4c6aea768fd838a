/*
 * The transport step of the proxies: a non-blocking connection to one
 * picked peer, as a bufferevent that the caller then drives. Stream and
 * HTTP proxies share it, so that TLS to the upstream or the QUIC tunnel
 * become other implementations of this one function.
 */
#include "wm_upstream.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <unistd.h>

wm_int_t
wm_upstream_connect(struct event_base *base, const wm_upstream_peer_t *peer,
                    wm_msec_t timeout, bool nodelay, int fd,
                    struct bufferevent **bev)
{
    return wm_upstream_connect_ssl(base, peer, timeout, nodelay, fd, NULL,
                                   bev);
}

wm_int_t
wm_upstream_connect_ssl(struct event_base *base,
                        const wm_upstream_peer_t *peer, wm_msec_t timeout,
                        bool nodelay, int fd, SSL *ssl,
                        struct bufferevent **bev)
{
    struct timeval tv = {timeout / 1000, (timeout % 1000) * 1000};
    struct bufferevent *b;
    int err;

    *bev = NULL;
    b = ssl ? bufferevent_openssl_socket_new(base, fd, ssl,
                                             BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE)
            : bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (b == NULL) {
        if (ssl) {
            SSL_free(ssl);
        }
        if (fd >= 0) {
            close(fd);
        }
        errno = ENOMEM;
        return WM_ERROR;
    }
    if (ssl) {
        SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
        /* The handshake waits on reads as much as on writes. */
        bufferevent_openssl_set_allow_dirty_shutdown(b, 1);
        bufferevent_set_timeouts(b, &tv, &tv);
    } else {
        bufferevent_set_timeouts(b, NULL, &tv);
    }
    if (bufferevent_socket_connect(b, (const struct sockaddr *) &peer->sockaddr,
                                   (int) peer->socklen)
        != 0)
    {
        err = EVUTIL_SOCKET_ERROR();
        /* not inside its callbacks: none ran yet */
        bufferevent_free(b);
        errno = err;
        return WM_DECLINED;
    }
    if (nodelay && peer->sockaddr.ss_family != AF_UNIX) {
        int on = 1;

        setsockopt(bufferevent_getfd(b), IPPROTO_TCP, TCP_NODELAY, &on,
                   sizeof(on));
    }
    *bev = b;
    return WM_OK;
}
