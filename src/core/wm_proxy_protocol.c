/*
 * PROXY protocol v1 (text) and v2 (binary) parsing and writing, after the
 * specification HAProxy publishes. The parser is strict: one space between
 * v1 fields, canonical numbers, lengths that add up; anything else is an
 * error the caller answers by closing the connection.
 */
#include "wm_proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

static const u_char wm_pp_v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                        0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* A v1 port: 1 to 5 digits, no leading zero, at most 65535. */
static bool
wm_pp_port(const u_char *p, size_t n, uint16_t *port)
{
    uint32_t v = 0;
    size_t i;

    if (n == 0 || n > 5 || (n > 1 && p[0] == '0')) {
        return false;
    }
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10 + (uint32_t) (p[i] - '0');
    }
    if (v > 65535) {
        return false;
    }
    *port = (uint16_t) v;
    return true;
}

static bool
wm_pp_addr(int family, const u_char *p, size_t n, struct sockaddr_storage *sa,
           uint16_t port)
{
    char text[INET6_ADDRSTRLEN + 1];

    if (n == 0 || n >= sizeof(text)) {
        return false;
    }
    memcpy(text, p, n);
    text[n] = '\0';
    memset(sa, 0, sizeof(*sa));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *) sa;

        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        return inet_pton(AF_INET, text, &in->sin_addr) == 1;
    }
    {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) sa;

        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        return inet_pton(AF_INET6, text, &in6->sin6_addr) == 1;
    }
}

static wm_int_t
wm_pp_parse_v1(const u_char *buf, size_t len, wm_pp_header_t *h,
               const char **err)
{
    const u_char *end, *f[6];
    size_t flen[6], nf = 0, i;
    const u_char *p;
    uint16_t sport, dport;
    int family;

    end = NULL;
    for (i = 0; i + 1 < len && i + 1 < WM_PP_V1_MAX; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n') {
            end = buf + i;
            break;
        }
    }
    if (end == NULL) {
        if (len >= WM_PP_V1_MAX) {
            *err = "PROXY protocol v1 header is too long";
            return WM_ERROR;
        }
        for (i = 0; i < len; i++) {
            if (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < len)) {
                *err = "PROXY protocol v1 header has a bare CR or LF";
                return WM_ERROR;
            }
        }
        return WM_AGAIN;
    }

    /* "PROXY" SP proto [SP src SP dst SP sport SP dport] */
    p = buf;
    while (p < end && nf < 6) {
        const u_char *sp = memchr(p, ' ', (size_t) (end - p));
        const u_char *stop = sp ? sp : end;

        f[nf] = p;
        flen[nf] = (size_t) (stop - p);
        nf++;
        if (sp == NULL) {
            p = end;
            break;
        }
        p = sp + 1;
        if (p == end) {
            *err = "PROXY protocol v1 header ends with a space";
            return WM_ERROR;
        }
    }
    memset(h, 0, sizeof(*h));
    h->version = 1;
    h->socktype = SOCK_STREAM;
    h->header_len = (size_t) (end - buf) + 2;

    if (nf >= 2 && flen[1] == 7 && memcmp(f[1], "UNKNOWN", 7) == 0) {
        /* Whatever follows UNKNOWN is to be ignored (spec 2.1). */
        h->local = true;
        h->family = AF_UNSPEC;
        return WM_OK;
    }
    if (p != end || nf != 6) {
        *err = "PROXY protocol v1 header has a wrong number of fields";
        return WM_ERROR;
    }
    if (flen[1] == 4 && memcmp(f[1], "TCP4", 4) == 0) {
        family = AF_INET;
    } else if (flen[1] == 4 && memcmp(f[1], "TCP6", 4) == 0) {
        family = AF_INET6;
    } else {
        *err = "PROXY protocol v1 header has an unknown protocol";
        return WM_ERROR;
    }
    if (!wm_pp_port(f[4], flen[4], &sport) || !wm_pp_port(f[5], flen[5], &dport)) {
        *err = "PROXY protocol v1 header has an invalid port";
        return WM_ERROR;
    }
    if (!wm_pp_addr(family, f[2], flen[2], &h->src, sport)
        || !wm_pp_addr(family, f[3], flen[3], &h->dst, dport))
    {
        *err = "PROXY protocol v1 header has an invalid address";
        return WM_ERROR;
    }
    h->family = family;
    h->addrlen = family == AF_INET ? sizeof(struct sockaddr_in)
                                   : sizeof(struct sockaddr_in6);
    return WM_OK;
}

static wm_int_t
wm_pp_parse_v2(const u_char *buf, size_t len, wm_pp_header_t *h,
               const char **err)
{
    size_t body, need;
    u_char fam, cmd;
    const u_char *a;

    if (len < 16) {
        return WM_AGAIN;
    }
    if ((buf[12] >> 4) != 2) {
        *err = "PROXY protocol v2 header has an unknown version";
        return WM_ERROR;
    }
    cmd = buf[12] & 0x0f;
    if (cmd > 1) {
        *err = "PROXY protocol v2 header has an unknown command";
        return WM_ERROR;
    }
    body = ((size_t) buf[14] << 8) | buf[15];
    if (16 + body > WM_PP_V2_MAX) {
        *err = "PROXY protocol v2 header is too long";
        return WM_ERROR;
    }
    if (len < 16 + body) {
        return WM_AGAIN;
    }
    memset(h, 0, sizeof(*h));
    h->version = 2;
    h->header_len = 16 + body;
    fam = buf[13];
    h->socktype = (fam & 0x0f) == 2 ? SOCK_DGRAM : SOCK_STREAM;
    a = buf + 16;

    switch (fam >> 4) {
    case 1:
        need = 12;
        break;
    case 2:
        need = 36;
        break;
    case 3:
        need = 216;
        break;
    default:
        need = 0;
        break;
    }
    if ((fam >> 4) > 3 || (fam & 0x0f) > 2) {
        *err = "PROXY protocol v2 header has an unknown address family";
        return WM_ERROR;
    }
    if (body < need) {
        *err = "PROXY protocol v2 address block is too short";
        return WM_ERROR;
    }
    h->tlv = a + need;
    h->tlv_len = body - need;

    /* LOCAL (health checks of the balancer itself) or an unspecified
     * family: the connection's own addresses apply. */
    if (cmd == 0 || need == 0) {
        h->local = true;
        h->family = AF_UNSPEC;
        return WM_OK;
    }
    if (need == 12) {
        struct sockaddr_in *s = (struct sockaddr_in *) &h->src;
        struct sockaddr_in *d = (struct sockaddr_in *) &h->dst;

        s->sin_family = d->sin_family = AF_INET;
        memcpy(&s->sin_addr, a, 4);
        memcpy(&d->sin_addr, a + 4, 4);
        memcpy(&s->sin_port, a + 8, 2);
        memcpy(&d->sin_port, a + 10, 2);
        h->family = AF_INET;
        h->addrlen = sizeof(struct sockaddr_in);
    } else if (need == 36) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *) &h->src;
        struct sockaddr_in6 *d = (struct sockaddr_in6 *) &h->dst;

        s->sin6_family = d->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, a, 16);
        memcpy(&d->sin6_addr, a + 16, 16);
        memcpy(&s->sin6_port, a + 32, 2);
        memcpy(&d->sin6_port, a + 34, 2);
        h->family = AF_INET6;
        h->addrlen = sizeof(struct sockaddr_in6);
    } else {
        struct sockaddr_un *s = (struct sockaddr_un *) &h->src;
        struct sockaddr_un *d = (struct sockaddr_un *) &h->dst;

        s->sun_family = d->sun_family = AF_UNIX;
        memcpy(s->sun_path, a, 107);
        memcpy(d->sun_path, a + 108, 107);
        s->sun_path[107] = d->sun_path[107] = '\0';
        h->family = AF_UNIX;
        h->addrlen = sizeof(struct sockaddr_un);
    }
    return WM_OK;
}

wm_int_t
wm_pp_parse(const u_char *buf, size_t len, wm_pp_header_t *h, const char **err)
{
    size_t n;

    *err = NULL;
    if (len == 0) {
        return WM_AGAIN;
    }
    n = wm_min(len, sizeof(wm_pp_v2_sig));
    if (n && memcmp(buf, wm_pp_v2_sig, n) == 0) {
        return n < sizeof(wm_pp_v2_sig) ? WM_AGAIN
                                        : wm_pp_parse_v2(buf, len, h, err);
    }
    n = wm_min(len, 6);
    if (n && memcmp(buf, "PROXY ", n) == 0) {
        return n < 6 ? WM_AGAIN : wm_pp_parse_v1(buf, len, h, err);
    }
    *err = "no PROXY protocol header";
    return WM_ERROR;
}

wm_int_t
wm_pp_tlv(const wm_pp_header_t *h, u_char type, wm_str_t *value)
{
    const u_char *p = h->tlv, *end;

    if (p == NULL) {
        return WM_DECLINED; /* v1 has no TLVs */
    }
    end = p + h->tlv_len;
    while (end - p >= 3) {
        size_t n = ((size_t) p[1] << 8) | p[2];

        if ((size_t) (end - p - 3) < n) {
            return WM_DECLINED;
        }
        if (p[0] == type) {
            value->data = (u_char *) p + 3;
            value->len = n;
            return WM_OK;
        }
        p += 3 + n;
    }
    return WM_DECLINED;
}

size_t
wm_pp_write(u_char *buf, size_t size, unsigned version,
            const struct sockaddr *src, const struct sockaddr *dst)
{
    bool inet = src->sa_family == dst->sa_family
                && (src->sa_family == AF_INET || src->sa_family == AF_INET6);
    bool v4 = inet && src->sa_family == AF_INET;

    if (version == 1) {
        char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
        unsigned sp, dp;
        int n;

        if (!inet) {
            n = snprintf((char *) buf, size, "PROXY UNKNOWN\r\n");
            return n > 0 && (size_t) n < size ? (size_t) n : 0;
        }
        if (v4) {
            const struct sockaddr_in *a = (const struct sockaddr_in *) src;
            const struct sockaddr_in *b = (const struct sockaddr_in *) dst;

            inet_ntop(AF_INET, &a->sin_addr, s, sizeof(s));
            inet_ntop(AF_INET, &b->sin_addr, d, sizeof(d));
            sp = ntohs(a->sin_port);
            dp = ntohs(b->sin_port);
        } else {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *) src;
            const struct sockaddr_in6 *b = (const struct sockaddr_in6 *) dst;

            inet_ntop(AF_INET6, &a->sin6_addr, s, sizeof(s));
            inet_ntop(AF_INET6, &b->sin6_addr, d, sizeof(d));
            sp = ntohs(a->sin6_port);
            dp = ntohs(b->sin6_port);
        }
        n = snprintf((char *) buf, size, "PROXY %s %s %s %u %u\r\n",
                     v4 ? "TCP4" : "TCP6", s, d, sp, dp);
        return n > 0 && (size_t) n < size ? (size_t) n : 0;
    }

    {
        size_t alen = !inet ? 0 : v4 ? 12 : 36;

        if (size < 16 + alen) {
            return 0;
        }
        memcpy(buf, wm_pp_v2_sig, 12);
        buf[12] = inet ? 0x21 : 0x20; /* v2 PROXY, or v2 LOCAL */
        buf[13] = !inet ? 0x00 : v4 ? 0x11 : 0x21;
        buf[14] = 0;
        buf[15] = (u_char) alen;
        if (v4) {
            const struct sockaddr_in *a = (const struct sockaddr_in *) src;
            const struct sockaddr_in *b = (const struct sockaddr_in *) dst;

            memcpy(buf + 16, &a->sin_addr, 4);
            memcpy(buf + 20, &b->sin_addr, 4);
            memcpy(buf + 24, &a->sin_port, 2);
            memcpy(buf + 26, &b->sin_port, 2);
        } else if (inet) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *) src;
            const struct sockaddr_in6 *b = (const struct sockaddr_in6 *) dst;

            memcpy(buf + 16, &a->sin6_addr, 16);
            memcpy(buf + 32, &b->sin6_addr, 16);
            memcpy(buf + 48, &a->sin6_port, 2);
            memcpy(buf + 50, &b->sin6_port, 2);
        }
        return 16 + alen;
    }
}
