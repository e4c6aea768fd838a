/*
 * Request path normalisation: percent-decoding, "." and ".." removal and
 * slash merging in one pass, writing into a buffer the caller owns. Its
 * output is what locations are matched against and what static files are
 * looked up by, so its one promise is that no output climbs above "/".
 */
#include "wm_http_parse.h"

static int
wm_http_hex(u_char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    return -1;
}

/*
 * The output always ends with the '/' before the segment being written:
 * out[0..seg) is "/" or "/a/b/", out[seg..o) is the current segment. At
 * each separator (raw or decoded) or at the end, the segment is kept,
 * dropped (".", or empty when merging) or, for "..", dropped together
 * with the segment before it.
 */
wm_int_t
wm_http_uri_normalize(const wm_str_t *raw, u_char *out, wm_uint_t flags,
                      wm_http_uri_t *uri)
{
    const u_char *p = raw->data, *end = raw->data + raw->len;
    size_t o, seg;
    int hi, lo, last;
    u_char ch;

    memset(uri, 0, sizeof(*uri));
    if (raw->len == 0 || p[0] != '/') {
        return WM_ERROR;
    }
    out[0] = '/';
    o = seg = 1;
    p++;

    for (;;) {
        last = (p == end);
        if (!last) {
            ch = *p++;
            if (ch == '%') {
                if (end - p < 2 || (hi = wm_http_hex(p[0])) < 0
                    || (lo = wm_http_hex(p[1])) < 0)
                {
                    return WM_ERROR;
                }
                ch = (u_char) (hi * 16 + lo);
                p += 2;
                uri->quoted = 1;
                if (ch == '/') {
                    uri->quoted_slash = 1;
                }
            }
            if (ch == '\0') {
                return WM_ERROR;
            }
            if (ch != '/') {
                out[o++] = ch;
                continue;
            }
        }

        /* out[seg..o) is a complete segment. */
        if (o - seg == 1 && out[seg] == '.') {
            o = seg;
            uri->dot_segments = 1;
        } else if (o - seg == 2 && out[seg] == '.' && out[seg + 1] == '.') {
            if (seg == 1) {
                return WM_ERROR; /* above the root */
            }
            /* out[seg - 1] is '/'; go back past the previous segment. */
            seg--;
            while (seg > 0 && out[seg - 1] != '/') {
                seg--;
            }
            o = seg;
            uri->dot_segments = 1;
        } else if (o == seg && !last && (flags & WM_HTTP_URI_MERGE_SLASHES)) {
            uri->merged = 1;
        } else if (!last) {
            out[o++] = '/';
            seg = o;
        }
        if (last) {
            break;
        }
    }

    uri->path.data = out;
    uri->path.len = o;
    return WM_OK;
}
