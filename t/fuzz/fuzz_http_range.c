/*
 * Fuzz target for the content helpers: the input is fed as a Range value,
 * an Accept-Encoding value, an HTTP-date, an entity-tag list, a content
 * type and a path, and the invariants that the static handler relies on
 * are checked with abort(): ranges inside the file, totals that add up,
 * a chosen coding that was allowed, dates that round-trip.
 */
#include "wm_http_content.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_range(wm_pool_t *pool, const wm_str_t *v, off_t size,
                       size_t max);
static void fuzz_encoding(const wm_str_t *v);
static void fuzz_date(const wm_str_t *v);
static void fuzz_cond(const wm_str_t *v);

static void
fuzz_range(wm_pool_t *pool, const wm_str_t *v, off_t size, size_t max)
{
    static const wm_str_t boundary = wm_string("00000000000000000042");
    static const wm_str_t type = wm_string("text/plain");
    wm_http_ranges_t r;
    wm_http_range_rc_t rc;
    off_t total = 0, len, sum, part;
    bool overflow = false;
    size_t i;

    rc = wm_http_range_parse(pool, v, size, max, &r);
    if (rc != WM_HTTP_RANGE_PARTIAL) {
        if (r.nranges != 0 || r.ranges != NULL || r.total != 0) {
            abort();
        }
        if (max == 0 && rc != WM_HTTP_RANGE_IGNORE) {
            abort();
        }
        return;
    }
    if (r.nranges == 0 || r.nranges > max || r.ranges == NULL) {
        abort();
    }
    sum = (off_t) wm_http_range_trailer(NULL, 0, &boundary);
    for (i = 0; i < r.nranges; i++) {
        if (r.ranges[i].start < 0 || r.ranges[i].start >= r.ranges[i].end
            || r.ranges[i].end > size)
        {
            abort();
        }
        total += r.ranges[i].end - r.ranges[i].start;
        part = (off_t) wm_http_range_part_header(NULL, 0, &boundary, &type,
                                                 &r.ranges[i], size);
        overflow |= __builtin_add_overflow(sum, part, &sum);
        overflow |= __builtin_add_overflow(
            sum, r.ranges[i].end - r.ranges[i].start, &sum);
    }
    if (total != r.total || total > size) {
        abort();
    }
    len = wm_http_range_multipart_length(&r, &boundary, &type, size);
    if (overflow ? len != -1 : len != sum) {
        abort();
    }
}

static void
fuzz_encoding(const wm_str_t *v)
{
    static const unsigned masks[] = {0, 1, 2, 4, 3, 5, 6, 7};
    wm_http_coding_t c, again;
    bool refused, refused2;
    size_t i;

    for (i = 0; i < wm_nelems(masks); i++) {
        c = wm_http_negotiate_encoding(v, 1, masks[i], &refused);
        if (c != WM_HTTP_CODING_IDENTITY && !(c & masks[i])) {
            abort();
        }
        if ((c & (c - 1)) != 0) {
            abort();
        }
        /* The winner still wins when it is the only one allowed. */
        if (c != WM_HTTP_CODING_IDENTITY) {
            again = wm_http_negotiate_encoding(v, 1, c, &refused2);
            if (again != c || refused2 != refused) {
                abort();
            }
        }
    }
}

static void
fuzz_date(const wm_str_t *v)
{
    u_char buf[WM_HTTP_DATE_LEN + 1];
    time_t t, back;

    if (wm_http_date_parse(v->data, v->len, &t) != WM_OK) {
        return;
    }
    if (wm_http_date_format(buf, t) != WM_HTTP_DATE_LEN) {
        abort();
    }
    if (wm_http_date_parse(buf, WM_HTTP_DATE_LEN, &back) != WM_OK || back != t)
    {
        abort();
    }
}

static void
fuzz_cond(const wm_str_t *v)
{
    static const wm_str_t etag = wm_string("\"5f1e-1a\"");
    static const wm_str_t weak = wm_string("W/\"5f1e-1a\"");
    wm_http_cond_t c = {
        .etag = &etag,
        .last_modified = 784111777,
        .ims_mode = WM_HTTP_IMS_BEFORE,
        .get_or_head = true,
    };
    wm_http_cond_rc_t rc;

    /* Strong equality implies weak equality. */
    if (wm_http_etag_match(v, &etag, false)
        && !wm_http_etag_match(v, &etag, true)) {
        abort();
    }
    if (wm_http_etag_match(v, &weak, false)
        && !(v->len >= 1 && memchr(v->data, '*', v->len) != NULL))
    {
        /* A weak ETag matches strongly only through "*". */
        abort();
    }

    c.if_match = v;
    c.if_modified_since = v;
    c.if_range = v;
    rc = wm_http_cond_evaluate(&c);
    if (rc == WM_HTTP_COND_NOT_MODIFIED) {
        abort(); /* If-Match passing leaves 200, 206 or 412 */
    }
    c.if_match = NULL;
    c.if_none_match = v;
    c.etag = &weak;
    rc = wm_http_cond_evaluate(&c);
    if (rc > WM_HTTP_COND_PRECONDITION_FAILED) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const off_t sizes[] = {0, 1, 1000, INT64_MAX};
    static const size_t maxes[] = {0, 1, 16, (size_t) -1};
    wm_str_t v = {size, (u_char *) data};
    wm_str_t ct = wm_string("text/html");
    wm_http_mime_t mime;
    wm_pool_t *pool;
    size_t i;

    pool = wm_pool_new(0);
    if (pool == NULL) {
        return 0;
    }

    for (i = 0; i < wm_nelems(sizes); i++) {
        fuzz_range(pool, &v, sizes[i], maxes[i]);
        fuzz_range(pool, &v, sizes[i], 16);
    }
    fuzz_encoding(&v);
    fuzz_date(&v);
    fuzz_cond(&v);

    if (wm_http_type_match(&v, &ct, 1) && size < ct.len) {
        abort(); /* a match needs at least the bytes of the type */
    }
    wm_http_mime_init(&mime, pool);
    if (wm_http_mime_add(&mime, &ct, &ct, 1, NULL) != WM_OK) {
        abort();
    }
    (void) wm_http_mime_lookup(&mime, data, size);

    wm_pool_free(pool);
    return 0;
}
