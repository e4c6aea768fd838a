/*
 * Byte ranges (RFC 9110 14): turns a Range header and a representation
 * size into the list of ranges to send, and writes the Content-Range and
 * multipart/byteranges framing. The decisions follow nginx's range filter
 * except where wm_http_content.h says otherwise.
 */
#include "wm_http_content.h"

#define WM_HTTP_OFF_MAX \
    ((off_t) ((((uint64_t) 1) << (sizeof(off_t) * 8 - 1)) - 1))

#define wm_http_ows(c) ((c) == ' ' || (c) == '\t')

static const u_char *wm_http_range_skip(const u_char *p, const u_char *end);
static off_t wm_http_range_number(const u_char **pp, const u_char *end);
static wm_http_range_rc_t wm_http_range_eval(wm_pool_t *pool,
                                             const wm_str_t *value, off_t size,
                                             size_t max_ranges,
                                             wm_http_ranges_t *out);

static const u_char *
wm_http_range_skip(const u_char *p, const u_char *end)
{
    while (p < end && wm_http_ows(*p)) {
        p++;
    }
    return p;
}

/* Decimal digits at *pp, saturating at the largest off_t; the caller has
 * checked that there is at least one. */
static off_t
wm_http_range_number(const u_char **pp, const u_char *end)
{
    const u_char *p = *pp;
    off_t n = 0, d;

    while (p < end && *p >= '0' && *p <= '9') {
        d = *p++ - '0';
        n = (n > (WM_HTTP_OFF_MAX - d) / 10) ? WM_HTTP_OFF_MAX : n * 10 + d;
    }
    *pp = p;
    return n;
}

wm_http_range_rc_t
wm_http_range_parse(wm_pool_t *pool, const wm_str_t *value, off_t size,
                    size_t max_ranges, wm_http_ranges_t *out)
{
    wm_http_range_rc_t rc;

    memset(out, 0, sizeof(*out));
    rc = wm_http_range_eval(pool, value, size, max_ranges, out);
    if (rc != WM_HTTP_RANGE_PARTIAL) {
        /* Ranges pushed before the verdict are not for the caller. */
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/* wm_http_range_parse() without the cleanup of *out. */
static wm_http_range_rc_t
wm_http_range_eval(wm_pool_t *pool, const wm_str_t *value, off_t size,
                   size_t max_ranges, wm_http_ranges_t *out)
{
    const u_char *p, *end, *q;
    off_t first, last, start, stop;
    size_t nalloc, nspecs;
    bool suffix, has_last;

    if (max_ranges == 0 || value->len < 6
        || !wm_http_caseeq(value->data, "bytes=", 6))
    {
        return WM_HTTP_RANGE_IGNORE;
    }

    p = value->data + 6;
    end = value->data + value->len;

    /* Every satisfiable range but the first needs a comma before it. */
    nalloc = 1;
    for (q = p; q < end; q++) {
        nalloc += (*q == ',');
    }
    nalloc = wm_min(nalloc, max_ranges);

    nspecs = 0;

    for (;;) {
        p = wm_http_range_skip(p, end);
        if (p == end) {
            break;
        }
        if (*p == ',') {
            p++;
            continue;
        }

        suffix = false;
        has_last = false;
        first = 0;
        last = 0;

        if (*p == '-') {
            suffix = true;
            p = wm_http_range_skip(p + 1, end);
        } else {
            if (*p < '0' || *p > '9') {
                return WM_HTTP_RANGE_IGNORE;
            }
            first = wm_http_range_number(&p, end);
            p = wm_http_range_skip(p, end);
            if (p == end || *p != '-') {
                return WM_HTTP_RANGE_IGNORE;
            }
            p = wm_http_range_skip(p + 1, end);
        }

        if (p < end && *p >= '0' && *p <= '9') {
            last = wm_http_range_number(&p, end);
            has_last = true;
        } else if (suffix) {
            return WM_HTTP_RANGE_IGNORE;
        }

        p = wm_http_range_skip(p, end);
        if (p < end) {
            if (*p != ',') {
                return WM_HTTP_RANGE_IGNORE;
            }
            p++;
        }
        nspecs++;

        if (suffix) {
            start = (last < size) ? size - last : 0;
            stop = size;
        } else if (has_last) {
            if (last < first) {
                return WM_HTTP_RANGE_IGNORE;
            }
            start = first;
            stop = (last >= size) ? size : last + 1;
        } else {
            start = first;
            stop = size;
        }

        if (start >= stop) {
            if (start == 0) {
                /* An empty representation: nothing a 206 could say. */
                return WM_HTTP_RANGE_IGNORE;
            }
            continue;
        }

        if (out->nranges == nalloc || out->total > size - (stop - start)) {
            /* More ranges than allowed, or overlaps: send it all once. */
            return WM_HTTP_RANGE_IGNORE;
        }

        if (out->ranges == NULL) {
            out->ranges = wm_palloc(pool, nalloc * sizeof(wm_http_range_t));
            if (out->ranges == NULL) {
                return WM_HTTP_RANGE_ERROR;
            }
        }
        out->ranges[out->nranges].start = start;
        out->ranges[out->nranges].end = stop;
        out->nranges++;
        out->total += stop - start;
    }

    if (nspecs == 0) {
        return WM_HTTP_RANGE_IGNORE;
    }
    if (out->nranges == 0) {
        return WM_HTTP_RANGE_UNSATISFIABLE;
    }
    return WM_HTTP_RANGE_PARTIAL;
}

size_t
wm_http_range_content_range(u_char *buf, size_t size,
                            const wm_http_range_t *range, off_t total)
{
    int n;

    if (range == NULL) {
        n = snprintf((char *) buf, size, "bytes */%lld", (long long) total);
    } else {
        n = snprintf((char *) buf, size, "bytes %lld-%lld/%lld",
                     (long long) range->start, (long long) range->end - 1,
                     (long long) total);
    }
    return n < 0 ? 0 : (size_t) n;
}

size_t
wm_http_range_part_header(u_char *buf, size_t size, const wm_str_t *boundary,
                          const wm_str_t *type, const wm_http_range_t *range,
                          off_t total)
{
    int n;

    n = snprintf((char *) buf, size,
                 "\r\n--%.*s\r\n%s%.*s%s"
                 "Content-Range: bytes %lld-%lld/%lld\r\n\r\n",
                 (int) boundary->len,
                 boundary->len ? (const char *) boundary->data : "",
                 type->len ? "Content-Type: " : "", (int) type->len,
                 type->len ? (const char *) type->data : "",
                 type->len ? "\r\n" : "", (long long) range->start,
                 (long long) range->end - 1, (long long) total);
    return n < 0 ? 0 : (size_t) n;
}

size_t
wm_http_range_trailer(u_char *buf, size_t size, const wm_str_t *boundary)
{
    int n;

    n = snprintf((char *) buf, size, "\r\n--%.*s--\r\n", (int) boundary->len,
                 boundary->len ? (const char *) boundary->data : "");
    return n < 0 ? 0 : (size_t) n;
}

off_t
wm_http_range_multipart_length(const wm_http_ranges_t *ranges,
                               const wm_str_t *boundary, const wm_str_t *type,
                               off_t total)
{
    off_t len, part;
    size_t i;

    len = (off_t) wm_http_range_trailer(NULL, 0, boundary);

    for (i = 0; i < ranges->nranges; i++) {
        part = (off_t) wm_http_range_part_header(NULL, 0, boundary, type,
                                                 &ranges->ranges[i], total);
        if (ranges->ranges[i].end - ranges->ranges[i].start
            > WM_HTTP_OFF_MAX - part) {
            return -1;
        }
        part += ranges->ranges[i].end - ranges->ranges[i].start;
        if (len > WM_HTTP_OFF_MAX - part) {
            return -1;
        }
        len += part;
    }
    return len;
}
