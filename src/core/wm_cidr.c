/*
 * CIDR blocks and address texts (see wm_cidr.h). inet_pton() does the
 * address syntax; this file adds prefixes, the `all` and `unix:` words,
 * IPv4-mapped IPv6 clients and the optional ports of header values.
 */
#include "wm_cidr.h"

#include "wm_conf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

/* Longest IPv6 text (45) plus "/128" and room to spare. */
#define WM_CIDR_TEXT_MAX 64

static const u_char wm_v4mapped_prefix[12] = {0, 0, 0, 0, 0,    0,
                                              0, 0, 0, 0, 0xff, 0xff};

/* A decimal number of at most max; -1 when it is not one. */
static int
wm_cidr_number(const char *s, int max)
{
    wm_str_t str = {strlen(s), (u_char *) s};
    int64_t n = wm_parse_num(&str);

    return n <= max ? (int) n : -1;
}

wm_int_t
wm_cidr_parse(const wm_str_t *text, wm_cidr_t *cidr)
{
    char buf[WM_CIDR_TEXT_MAX], *slash;
    size_t alen, i;
    int bits;
    bool low = false;

    memset(cidr, 0, sizeof(*cidr));
    if (wm_str_eq(text, "all")) {
        cidr->family = AF_UNSPEC;
        return WM_OK;
    }
    if (wm_str_eq(text, "unix:")) {
        cidr->family = AF_UNIX;
        return WM_OK;
    }
    if (text->len == 0 || text->len >= sizeof(buf)
        || memchr(text->data, '\0', text->len))
    {
        return WM_ERROR;
    }
    memcpy(buf, text->data, text->len);
    buf[text->len] = '\0';
    slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
    }
    if (inet_pton(AF_INET, buf, cidr->addr) == 1) {
        cidr->family = AF_INET;
        alen = 4;
    } else if (inet_pton(AF_INET6, buf, cidr->addr) == 1) {
        cidr->family = AF_INET6;
        alen = 16;
    } else {
        return WM_ERROR;
    }
    bits = slash ? wm_cidr_number(slash + 1, (int) alen * 8) : (int) alen * 8;
    if (bits < 0) {
        return WM_ERROR;
    }
    cidr->bits = (unsigned) bits;
    for (i = 0; i < alen; i++) {
        int b = bits - (int) i * 8;

        cidr->mask[i] = b >= 8 ? 0xff : b > 0 ? (u_char) (0xff << (8 - b)) : 0;
        if (cidr->addr[i] & (u_char) ~cidr->mask[i]) {
            low = true;
            cidr->addr[i] &= cidr->mask[i];
        }
    }
    return low ? WM_DONE : WM_OK;
}

static bool
wm_cidr_bytes_match(const wm_cidr_t *cidr, const u_char *addr, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if ((addr[i] & cidr->mask[i]) != cidr->addr[i]) {
            return false;
        }
    }
    return true;
}

bool
wm_cidr_match(const wm_cidr_t *cidr, const struct sockaddr *sa)
{
    const u_char *a6;

    switch (cidr->family) {
    case AF_UNSPEC:
        return true;
    case AF_UNIX:
        return sa->sa_family == AF_UNIX;
    case AF_INET:
        if (sa->sa_family == AF_INET) {
            return wm_cidr_bytes_match(
                cidr,
                (const u_char *) &((const struct sockaddr_in *) sa)->sin_addr,
                4);
        }
        if (sa->sa_family != AF_INET6) {
            return false;
        }
        a6 = ((const struct sockaddr_in6 *) sa)->sin6_addr.s6_addr;
        return memcmp(a6, wm_v4mapped_prefix, 12) == 0
               && wm_cidr_bytes_match(cidr, a6 + 12, 4);
    case AF_INET6:
        return sa->sa_family == AF_INET6
               && wm_cidr_bytes_match(
                   cidr, ((const struct sockaddr_in6 *) sa)->sin6_addr.s6_addr,
                   16);
    }
    return false;
}

bool
wm_sockaddr_unmap(const struct sockaddr *sa, struct sockaddr_in *out)
{
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *) sa;

    if (sa->sa_family != AF_INET6
        || memcmp(s6->sin6_addr.s6_addr, wm_v4mapped_prefix, 12) != 0)
    {
        return false;
    }
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = s6->sin6_port;
    memcpy(&out->sin_addr, s6->sin6_addr.s6_addr + 12, 4);
    return true;
}

wm_int_t
wm_sockaddr_parse_host(const u_char *text, size_t n, bool with_port,
                       struct sockaddr_storage *sa, socklen_t *len)
{
    char buf[WM_CIDR_TEXT_MAX];
    const char *host = buf, *port = NULL;
    char *colon;
    int p = 0;

    if (n == 0 || n >= sizeof(buf) || memchr(text, '\0', n)) {
        return WM_ERROR;
    }
    memcpy(buf, text, n);
    buf[n] = '\0';
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');

        if (close == NULL) {
            return WM_ERROR;
        }
        *close = '\0';
        host = buf + 1;
        if (close[1] == ':' && with_port) {
            port = close + 2;
        } else if (close[1] != '\0') {
            return WM_ERROR;
        }
    } else if ((colon = strchr(buf, ':')) && strchr(colon + 1, ':') == NULL) {
        /* One colon: an IPv4 address with a port. */
        if (!with_port) {
            return WM_ERROR;
        }
        *colon = '\0';
        port = colon + 1;
    }
    if (port && (p = wm_cidr_number(port, 65535)) < 1) {
        return WM_ERROR;
    }
    memset(sa, 0, sizeof(*sa));
    if (host == buf
        && inet_pton(AF_INET, host, &((struct sockaddr_in *) sa)->sin_addr)
               == 1)
    {
        struct sockaddr_in *sin = (struct sockaddr_in *) sa;

        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) p);
        *len = sizeof(*sin);
        return WM_OK;
    }
    if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *) sa)->sin6_addr)
        == 1) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) sa;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) p);
        *len = sizeof(*sin6);
        return WM_OK;
    }
    return WM_ERROR;
}

size_t
wm_sockaddr_host_text(const struct sockaddr *sa, char *buf, size_t size)
{
    const void *a;

    if (size == 0) {
        return 0;
    }
    buf[0] = '\0';
    switch (sa->sa_family) {
    case AF_INET:
        a = &((const struct sockaddr_in *) sa)->sin_addr;
        break;
    case AF_INET6:
        a = &((const struct sockaddr_in6 *) sa)->sin6_addr;
        break;
    case AF_UNIX:
        if (size > 5) {
            memcpy(buf, "unix:", 6);
        }
        return strlen(buf);
    default:
        return 0;
    }
    if (inet_ntop(sa->sa_family, a, buf, (socklen_t) size) == NULL) {
        buf[0] = '\0';
    }
    return strlen(buf);
}
