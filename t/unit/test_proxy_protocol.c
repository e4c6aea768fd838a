/*
 * Unit tests of the PROXY protocol parser and writer: every v1 and v2 form,
 * split inputs, hostile headers with the reason logged, and round trips
 * of what wmproxy writes.
 */
#include "wm_proxy_protocol.h"

#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static wm_pp_header_t h;
static const char *err;

static wm_int_t
pp(const char *s, size_t n)
{
    return wm_pp_parse((const u_char *) s, n, &h, &err);
}

#define PP(s) pp(s, sizeof(s) - 1)

static const char *
addr(const struct sockaddr_storage *sa, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];

    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *) sa;

        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(buf, len, "%s:%u", ip, ntohs(in->sin_port));
    } else {
        const struct sockaddr_in6 *in6 = (const void *) sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
    }
    return buf;
}

static void
bad(const char *s, size_t n, const char *why, const char *name)
{
    wm_int_t rc = pp(s, n);

    is_int(rc, WM_ERROR, name);
    is_str(err, why, "  with the reason");
}

#define BAD(s, why, name) bad(s, sizeof(s) - 1, why, name)

static void
test_v1(void)
{
    char a[80], b[80];
    size_t i;
    static const char line[] = "PROXY TCP4 192.168.0.1 10.0.0.2 56324 443\r\nGET";

    is_int(PP(line), WM_OK, "v1 TCP4");
    is_int(h.version, 1, "  version 1");
    is_int(h.header_len, sizeof(line) - 1 - 3, "  header length stops at CRLF");
    is_str(addr(&h.src, a, sizeof(a)), "192.168.0.1:56324", "  source");
    is_str(addr(&h.dst, b, sizeof(b)), "10.0.0.2:443", "  destination");
    for (i = 0; i < sizeof(line) - 4; i++) {
        if (pp(line, i) != WM_AGAIN) {
            break;
        }
    }
    is_int(i, sizeof(line) - 4, "v1: every prefix needs more bytes");

    is_int(PP("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n"), WM_OK, "v1 TCP6");
    is_str(addr(&h.src, a, sizeof(a)), "[2001:db8::1]:1", "  source");
    is_str(addr(&h.dst, b, sizeof(b)), "[::1]:65535", "  destination");
    is_int(PP("PROXY UNKNOWN\r\n"), WM_OK, "v1 UNKNOWN");
    ok(h.local, "  is local");
    is_int(PP("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), WM_OK,
           "v1 UNKNOWN with addresses (ignored)");

    BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 70000\r\n",
        "PROXY protocol v1 header has an invalid port", "port above 65535");
    BAD("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
        "PROXY protocol v1 header has an invalid port", "port with a leading 0");
    BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n",
        "PROXY protocol v1 header has an invalid port", "negative port");
    BAD("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
        "PROXY protocol v1 header has an invalid address", "short IPv4");
    BAD("PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
        "PROXY protocol v1 header has an invalid address", "IPv6 in TCP4");
    BAD("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY protocol v1 header has an unknown protocol", "TCP5");
    BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        "PROXY protocol v1 header has a wrong number of fields",
        "a field missing");
    BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        "PROXY protocol v1 header has a wrong number of fields",
        "a field too many");
    BAD("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY protocol v1 header has a wrong number of fields",
        "two spaces");
    BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
        "PROXY protocol v1 header ends with a space", "trailing space");
    BAD("PROXY TCP4 1.2.3.4\n", "PROXY protocol v1 header has a bare CR or LF",
        "bare LF");
    BAD("GET / HTTP/1.1\r\n", "no PROXY protocol header", "plain HTTP");
    BAD("PROXY TCP4 111.111.111.111 222.222.222.222 65535 65535 "
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "PROXY protocol v1 header is too long", "no CRLF within 107 bytes");
}

static size_t
v2(u_char *b, u_char vc, u_char fam, const void *addrs, size_t alen,
   const void *tlv, size_t tlen)
{
    static const u_char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                   0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
    size_t body = alen + tlen;

    memcpy(b, sig, 12);
    b[12] = vc;
    b[13] = fam;
    b[14] = (u_char) (body >> 8);
    b[15] = (u_char) body;
    if (alen) {
        memcpy(b + 16, addrs, alen);
    }
    if (tlen) {
        memcpy(b + 16 + alen, tlv, tlen);
    }
    return 16 + body;
}

static void
test_v2(void)
{
    u_char b[600], a4[12] = {10, 0, 0, 1, 10, 0, 0, 2, 0x1f, 0x90, 0x01, 0xbb};
    u_char a6[36] = {0};
    u_char tlv[] = {0x02, 0x00, 0x05, 'a', '.', 'c', 'o', 'm', 0x04, 0x00, 0x00};
    char s[80];
    wm_str_t v;
    size_t n, i;

    n = v2(b, 0x21, 0x11, a4, 12, tlv, sizeof(tlv));
    is_int(pp((char *) b, n), WM_OK, "v2 PROXY TCP over IPv4");
    is_int(h.version, 2, "  version 2");
    is_int(h.header_len, n, "  header length");
    is_str(addr(&h.src, s, sizeof(s)), "10.0.0.1:8080", "  source");
    is_str(addr(&h.dst, s, sizeof(s)), "10.0.0.2:443", "  destination");
    ok(wm_pp_tlv(&h, 0x02, &v) == WM_OK && v.len == 5
           && memcmp(v.data, "a.com", 5) == 0,
       "  authority TLV");
    ok(wm_pp_tlv(&h, 0x04, &v) == WM_OK && v.len == 0, "  empty NOOP TLV");
    is_int(wm_pp_tlv(&h, 0x01, &v), WM_DECLINED, "  absent TLV");
    for (i = 0; i < n; i++) {
        if (pp((char *) b, i) != WM_AGAIN) {
            break;
        }
    }
    is_int(i, n, "v2: every prefix needs more bytes");

    a6[15] = 1;
    a6[31] = 2;
    a6[35] = 80; /* destination port */
    n = v2(b, 0x21, 0x21, a6, 36, NULL, 0);
    is_int(pp((char *) b, n), WM_OK, "v2 TCP over IPv6");
    is_str(addr(&h.src, s, sizeof(s)), "[::1]:0", "  source");
    is_str(addr(&h.dst, s, sizeof(s)), "[::2]:80", "  destination");
    n = v2(b, 0x21, 0x12, a4, 12, NULL, 0);
    is_int(pp((char *) b, n), WM_OK, "v2 UDP over IPv4");
    is_int(h.socktype, SOCK_DGRAM, "  datagram");
    n = v2(b, 0x20, 0x00, NULL, 0, NULL, 0);
    is_int(pp((char *) b, n), WM_OK, "v2 LOCAL");
    ok(h.local, "  is local");

    n = v2(b, 0x31, 0x11, a4, 12, NULL, 0);
    is_int(pp((char *) b, n), WM_ERROR, "v2 with version 3");
    is_str(err, "PROXY protocol v2 header has an unknown version",
           "  with the reason");
    n = v2(b, 0x22, 0x11, a4, 12, NULL, 0);
    is_int(pp((char *) b, n), WM_ERROR, "v2 with command 2");
    n = v2(b, 0x21, 0x41, a4, 12, NULL, 0);
    is_int(pp((char *) b, n), WM_ERROR, "v2 with family 4");
    n = v2(b, 0x21, 0x21, a4, 12, NULL, 0);
    is_int(pp((char *) b, n), WM_ERROR, "v2 IPv6 with a 12-byte block");
    is_str(err, "PROXY protocol v2 address block is too short",
           "  with the reason");
    b[14] = 0xff;
    b[15] = 0xff;
    is_int(pp((char *) b, 16), WM_ERROR, "v2 length over the cap");
    n = v2(b, 0x21, 0x11, a4, 12, "\x02\x00\x09x", 4);
    is_int(pp((char *) b, n), WM_OK, "v2 with a truncated TLV parses");
    is_int(wm_pp_tlv(&h, 0x02, &v), WM_DECLINED, "  and the TLV is refused");
}

static void
test_write(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(1234)};
    struct sockaddr_in b = {.sin_family = AF_INET, .sin_port = htons(80)};
    struct sockaddr_in6 c = {.sin6_family = AF_INET6, .sin6_port = htons(7)};
    u_char buf[256];
    char s[80];
    size_t n;

    inet_pton(AF_INET, "127.0.0.2", &a.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &b.sin_addr);
    inet_pton(AF_INET6, "fe80::1", &c.sin6_addr);
    n = wm_pp_write(buf, sizeof(buf), 1, (void *) &a, (void *) &b);
    buf[n] = '\0';
    is_str((char *) buf, "PROXY TCP4 127.0.0.2 127.0.0.1 1234 80\r\n",
           "write v1 TCP4");
    n = wm_pp_write(buf, sizeof(buf), 2, (void *) &a, (void *) &b);
    is_int(n, 28, "write v2 IPv4: 28 bytes");
    is_int(pp((char *) buf, n), WM_OK, "  and it parses back");
    is_str(addr(&h.src, s, sizeof(s)), "127.0.0.2:1234", "  same source");
    n = wm_pp_write(buf, sizeof(buf), 1, (void *) &a, (void *) &c);
    buf[n] = '\0';
    is_str((char *) buf, "PROXY UNKNOWN\r\n", "mixed families: UNKNOWN");
    n = wm_pp_write(buf, sizeof(buf), 2, (void *) &c, (void *) &c);
    is_int(n, 52, "write v2 IPv6: 52 bytes");
    is_int(pp((char *) buf, n), WM_OK, "  and it parses back");
    is_int(wm_pp_write(buf, 10, 1, (void *) &a, (void *) &b), 0,
           "a buffer too small gives 0");
}

int
main(void)
{
    test_v1();
    test_v2();
    test_write();
    return tap_done();
}
