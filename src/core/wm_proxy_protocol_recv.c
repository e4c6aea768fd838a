/*
 * Taking a PROXY protocol header out of a connected socket, for the HTTP
 * and stream `listen ... proxy_protocol`: the bytes are peeked and only
 * the header's own are consumed, so the payload stays in the socket for
 * whoever reads next (TLS, the HTTP parser, a relay). The parsing is
 * wm_pp_parse()'s.
 */
#include "wm_proxy_protocol.h"

#include <sys/socket.h>

wm_int_t
wm_pp_recv(int fd, wm_pp_header_t *h, const char **err)
{
    u_char buf[WM_PP_V2_MAX];
    ssize_t n;
    wm_int_t rc;

    do {
        n = recv(fd, buf, sizeof(buf), MSG_PEEK);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) {
        return WM_AGAIN;
    }
    if (n <= 0) {
        if (n == 0) {
            errno = 0;
        }
        return WM_DECLINED;
    }
    rc = wm_pp_parse(buf, (size_t) n, h, err);
    if (rc == WM_AGAIN) {
        if ((size_t) n < sizeof(buf)) {
            return WM_AGAIN; /* the next bytes bring a new edge */
        }
        *err = "PROXY protocol header is too long";
        return WM_ERROR;
    }
    if (rc != WM_OK) {
        return WM_ERROR;
    }
    h->tlv = NULL; /* it pointed into buf */
    h->tlv_len = 0;
    if (recv(fd, buf, h->header_len, 0) != (ssize_t) h->header_len) {
        *err = "cannot take the header out of the socket";
        return WM_ERROR;
    }
    return WM_OK;
}
