/*
 * The TLS ClientHello reader (see wm_tls_hello.h): gathers the handshake
 * message from its records (RFC 8446 5.1: a message may span records),
 * then walks the hello (RFC 8446 4.1.2) and its server_name (RFC 6066 3),
 * application_layer_protocol_negotiation (RFC 7301) and
 * supported_versions extensions. Every length is checked against the
 * enclosing one before it is used.
 */
#include "wm_tls_hello.h"

#include <string.h>

#define WM_TLS_RECORD_MAX (16384 + 256)

enum {
    WM_TLS_EXT_SERVER_NAME = 0,
    WM_TLS_EXT_ALPN = 16,
    WM_TLS_EXT_SUPPORTED_VERSIONS = 43,
};

static uint32_t
wm_tls_u16(const u_char *p)
{
    return (uint32_t) p[0] << 8 | p[1];
}

static const char *
wm_tls_version_name(uint32_t v)
{
    switch (v) {
    case 0x0304:
        return "TLSv1.3";
    case 0x0303:
        return "TLSv1.2";
    case 0x0302:
        return "TLSv1.1";
    case 0x0301:
        return "TLSv1";
    case 0x0300:
        return "SSLv3";
    default:
        return NULL;
    }
}

static const char *
wm_tls_server_name(const u_char *p, size_t n, wm_tls_hello_t *h)
{
    size_t pos = 2;

    if (n < 2 || wm_tls_u16(p) != n - 2) {
        return "bad server_name list length";
    }
    while (pos < n) {
        size_t len;

        if (n - pos < 3) {
            return "truncated server_name entry";
        }
        len = wm_tls_u16(p + pos + 1);
        if (len == 0 || n - pos - 3 < len) {
            return "bad server_name entry length";
        }
        if (p[pos] == 0 && h->server_name.len == 0) {
            if (len > 255 || memchr(p + pos + 3, '\0', len)) {
                return "invalid host_name";
            }
            h->server_name.data = (u_char *) p + pos + 3;
            h->server_name.len = len;
        }
        pos += 3 + len;
    }
    return NULL;
}

static const char *
wm_tls_alpn(const u_char *p, size_t n, wm_tls_hello_t *h)
{
    size_t pos = 2, out = 0;

    if (n < 2 || wm_tls_u16(p) != n - 2 || n == 2) {
        return "bad ALPN list length";
    }
    while (pos < n) {
        size_t len = p[pos];

        if (len == 0 || n - pos - 1 < len) {
            return "bad ALPN protocol length";
        }
        if (out + (out ? 1 : 0) + len > sizeof(h->alpn_buf)) {
            return "ALPN list too long";
        }
        if (out) {
            h->alpn_buf[out++] = ',';
        }
        memcpy(h->alpn_buf + out, p + pos + 1, len);
        out += len;
        pos += 1 + len;
    }
    h->alpn.data = h->alpn_buf;
    h->alpn.len = out;
    return NULL;
}

static const char *
wm_tls_versions(const u_char *p, size_t n, uint32_t *best)
{
    size_t pos;

    if (n < 3 || p[0] != n - 1 || (p[0] & 1)) {
        return "bad supported_versions length";
    }
    for (pos = 1; pos < n; pos += 2) {
        uint32_t v = wm_tls_u16(p + pos);

        /* GREASE values and unknown versions are skipped. */
        if (wm_tls_version_name(v) && v > *best) {
            *best = v;
        }
    }
    return NULL;
}

/* The ClientHello body: p[0..n) is the whole handshake message. */
static wm_int_t
wm_tls_hello_body(const u_char *p, size_t n, wm_tls_hello_t *h,
                  const char **err)
{
    size_t pos = 4, len, end;
    uint32_t legacy, best = 0;
    unsigned seen = 0;

#define WM_NEED(k, what)                                                       \
    if (n - pos < (k)) {                                                       \
        *err = what;                                                           \
        return WM_ERROR;                                                       \
    }

    WM_NEED(2 + 32 + 1, "truncated ClientHello");
    legacy = wm_tls_u16(p + pos);
    pos += 2 + 32;
    len = p[pos++];
    if (len > 32) {
        *err = "bad session id length";
        return WM_ERROR;
    }
    WM_NEED(len + 2, "truncated session id");
    pos += len;
    len = wm_tls_u16(p + pos);
    pos += 2;
    if (len < 2 || (len & 1)) {
        *err = "bad cipher suites length";
        return WM_ERROR;
    }
    WM_NEED(len + 1, "truncated cipher suites");
    pos += len;
    len = p[pos++];
    if (len == 0) {
        *err = "no compression methods";
        return WM_ERROR;
    }
    WM_NEED(len, "truncated compression methods");
    pos += len;

    if (pos < n) {
        WM_NEED(2, "truncated extensions");
        len = wm_tls_u16(p + pos);
        pos += 2;
        if (len != n - pos) {
            *err = "bad extensions length";
            return WM_ERROR;
        }
    }
    while (pos < n) {
        uint32_t type;
        const char *e = NULL;

        WM_NEED(4, "truncated extension");
        type = wm_tls_u16(p + pos);
        len = wm_tls_u16(p + pos + 2);
        pos += 4;
        WM_NEED(len, "truncated extension data");
        end = pos + len;
        if (type == WM_TLS_EXT_SERVER_NAME || type == WM_TLS_EXT_ALPN
            || type == WM_TLS_EXT_SUPPORTED_VERSIONS)
        {
            unsigned bit = type == WM_TLS_EXT_SERVER_NAME ? 1
                           : type == WM_TLS_EXT_ALPN      ? 2
                                                          : 4;

            if (seen & bit) {
                *err = "duplicate extension";
                return WM_ERROR;
            }
            seen |= bit;
            if (type == WM_TLS_EXT_SERVER_NAME) {
                e = wm_tls_server_name(p + pos, len, h);
            } else if (type == WM_TLS_EXT_ALPN) {
                e = wm_tls_alpn(p + pos, len, h);
            } else {
                e = wm_tls_versions(p + pos, len, &best);
            }
        }
        if (e) {
            *err = e;
            return WM_ERROR;
        }
        pos = end;
    }
#undef WM_NEED
    h->protocol = wm_tls_version_name(best ? best : legacy);
    if (h->protocol == NULL) {
        *err = "unknown TLS version";
        return WM_ERROR;
    }
    return WM_OK;
}

wm_int_t
wm_tls_hello_parse(const u_char *buf, size_t len, u_char *scratch,
                   size_t scratch_len, wm_tls_hello_t *h, const char **err)
{
    size_t off = 0, have = 0, need = 0;

    memset(h, 0, sizeof(*h));
    /* empty, never NULL, so that callers may memcmp/copy them as they are */
    h->server_name.data = (u_char *) "";
    h->alpn.data = h->alpn_buf;
    *err = NULL;
    if (len == 0) {
        return WM_AGAIN;
    }
    if (buf[0] != 22) {
        return WM_DECLINED;
    }
    for (;;) {
        size_t rlen, avail;

        if (len - off < 3) {
            return WM_AGAIN;
        }
        if (buf[off] != 22) {
            *err = "a record inside the ClientHello is not a handshake";
            return WM_ERROR;
        }
        if (buf[off + 1] != 3) {
            if (off == 0) {
                return WM_DECLINED;
            }
            *err = "bad record version";
            return WM_ERROR;
        }
        if (len - off < 5) {
            return WM_AGAIN;
        }
        rlen = wm_tls_u16(buf + off + 3);
        if (rlen == 0 || rlen > WM_TLS_RECORD_MAX) {
            *err = "bad record length";
            return WM_ERROR;
        }
        avail = wm_min(rlen, len - off - 5);
        if (avail > scratch_len - have) {
            avail = scratch_len - have;
        }
        memcpy(scratch + have, buf + off + 5, avail);
        have += avail;
        if (need == 0 && have >= 4) {
            if (scratch[0] != 1) {
                *err = "the first handshake message is not a ClientHello";
                return WM_ERROR;
            }
            need = 4 + ((size_t) scratch[1] << 16 | (size_t) scratch[2] << 8
                        | scratch[3]);
            if (need > scratch_len) {
                *err = "ClientHello too long";
                return WM_ERROR;
            }
        }
        if (need && have >= need) {
            h->consumed = off + 5 + rlen;
            return wm_tls_hello_body(scratch, need, h, err);
        }
        if (have == scratch_len) {
            *err = "ClientHello too long";
            return WM_ERROR;
        }
        if (off + 5 + rlen > len) {
            return WM_AGAIN;
        }
        off += 5 + rlen;
    }
}
