/*
 * Unit test of wm_pp_recv() on a socketpair: a header in pieces, the
 * payload left in the socket, a bad header, a close, and a header too
 * long to be one.
 */
#include "wm_cidr.h"
#include "wm_listen.h"
#include "wm_proxy_protocol.h"

#include "tap.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

static int fds[2];

static void
pair(void)
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0
        || fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0)
    {
        perror("socketpair");
        exit(1);
    }
}

static void
unpair(void)
{
    close(fds[0]);
    close(fds[1]);
}

static void
put(const char *s, size_t n)
{
    if (write(fds[1], s, n) != (ssize_t) n) {
        perror("write");
        exit(1);
    }
}

int
main(void)
{
    static char big[WM_PP_V2_MAX + 16];
    wm_pp_header_t h;
    const char *err = NULL;
    char buf[64];
    ssize_t n;

    pair();
    errno = 0;
    is_int(wm_pp_recv(fds[0], &h, &err), WM_AGAIN, "nothing yet: AGAIN");
    put("PROXY TCP4 192.0.2.1 ", 21);
    is_int(wm_pp_recv(fds[0], &h, &err), WM_AGAIN, "half a header: AGAIN");
    put("198.51.100.2 1000 80\r\nGET /", 27);
    is_int(wm_pp_recv(fds[0], &h, &err), WM_OK, "whole header: OK");
    is_int(h.header_len, 43, "  its length");
    wm_sockaddr_host_text((struct sockaddr *) &h.src, buf, sizeof(buf));
    is_str(buf, "192.0.2.1", "  source address");
    is_int(wm_sockaddr_port((struct sockaddr *) &h.src), 1000, "  source port");
    ok(h.tlv == NULL && h.tlv_len == 0, "  no TLV pointer kept");
    n = read(fds[0], buf, sizeof(buf));
    ok(n == 5 && memcmp(buf, "GET /", 5) == 0,
       "the payload stays in the socket");
    unpair();

    pair();
    put("GET / HTTP/1.1\r\n\r\n", 18);
    is_int(wm_pp_recv(fds[0], &h, &err), WM_ERROR, "no header: ERROR");
    ok(err != NULL && strstr(err, "no PROXY protocol header") != NULL,
       "  with the reason");
    unpair();

    pair();
    close(fds[1]);
    fds[1] = -1;
    is_int(wm_pp_recv(fds[0], &h, &err), WM_DECLINED, "closed: DECLINED");
    is_int(errno, 0, "  errno 0");
    close(fds[0]);

    pair();
    /* A v2 signature with a length longer than the cap. */
    memcpy(big, "\r\n\r\n\0\r\nQUIT\n\x21\x11\xff\xff", 16);
    put(big, 16);
    err = NULL;
    is_int(wm_pp_recv(fds[0], &h, &err), WM_ERROR,
           "v2 header over the cap: ERROR");
    ok(err != NULL, "  with a reason");
    unpair();
    return tap_done();
}
