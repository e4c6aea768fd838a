/*
 * Unit tests for Range parsing and the multipart/byteranges framing: each
 * case gives the header, the file size and max_ranges, and checks the
 * outcome and the exact byte ranges (as "first-last" lists) or bytes.
 */
#include "wm_http_content.h"
#include "tap.h"

#define IGN WM_HTTP_RANGE_IGNORE
#define PART WM_HTTP_RANGE_PARTIAL
#define UNSAT WM_HTTP_RANGE_UNSATISFIABLE

static wm_pool_t *pool;
static char got[16384];

/* Runs the parser on a C string and renders the result in got as
 * "206 0-9,20-29", "200" or "416". */
static const char *
range(const char *v, off_t size, size_t max)
{
    wm_str_t value = {strlen(v), (u_char *) v};
    wm_http_ranges_t r;
    wm_http_range_rc_t rc;
    size_t i, n;
    off_t total = 0;

    rc = wm_http_range_parse(pool, &value, size, max, &r);
    switch (rc) {
    case WM_HTTP_RANGE_IGNORE:
        return r.nranges == 0 && r.ranges == NULL ? "200" : "200 (dirty)";
    case WM_HTTP_RANGE_UNSATISFIABLE:
        return r.nranges == 0 ? "416" : "416 (dirty)";
    case WM_HTTP_RANGE_PARTIAL:
        break;
    default:
        return "error";
    }
    n = (size_t) snprintf(got, sizeof(got), "206 ");
    for (i = 0; i < r.nranges && n < sizeof(got) - 64; i++) {
        n += (size_t) snprintf(got + n, sizeof(got) - n, "%s%lld-%lld",
                               i ? "," : "", (long long) r.ranges[i].start,
                               (long long) r.ranges[i].end - 1);
        total += r.ranges[i].end - r.ranges[i].start;
    }
    if (total != r.total) {
        return "206 (bad total)";
    }
    return got;
}

static void
test_basic(void)
{
    is_str(range("bytes=0-99", 1000, 16), "206 0-99", "first-last");
    is_str(range("bytes=900-", 1000, 16), "206 900-999", "first-");
    is_str(range("bytes=-100", 1000, 16), "206 900-999", "suffix");
    is_str(range("bytes=0-0", 1000, 16), "206 0-0", "one byte");
    is_str(range("bytes=999-999", 1000, 16), "206 999-999", "last byte");
    is_str(range("bytes=500-5000", 1000, 16), "206 500-999",
           "last-pos clamped");
    is_str(range("bytes=-5000", 1000, 16), "206 0-999",
           "suffix longer than the file");
    is_str(range("BYTES=0-1", 1000, 16), "206 0-1", "unit case-insensitive");
    is_str(range("bytes=0-1,5-6", 1000, 16), "206 0-1,5-6", "two ranges");
    is_str(range("bytes=500-599,0-99", 1000, 16), "206 500-599,0-99",
           "order kept, not sorted");
    is_str(range("bytes=0-1,2-3", 1000, 16), "206 0-1,2-3",
           "adjacent ranges not merged");
    is_str(range("bytes= 0 - 1 ,\t5-6\t", 1000, 16), "206 0-1,5-6",
           "spaces and tabs around - and ,");
    is_str(range("bytes=0-1,,5-6,", 1000, 16), "206 0-1,5-6",
           "empty list elements skipped");
    is_str(range("bytes=0-1,2000-3000", 1000, 16), "206 0-1",
           "unsatisfiable range dropped");
    is_str(range("bytes=0-", 1, 16), "206 0-0", "one-byte file");
}

static void
test_unsatisfiable(void)
{
    is_str(range("bytes=1000-", 1000, 16), "416", "first-pos at size");
    is_str(range("bytes=1000-2000", 1000, 16), "416", "past the end");
    is_str(range("bytes=-0", 1000, 16), "416", "bytes=-0");
    is_str(range("bytes=-0,2000-", 1000, 16), "416", "all unsatisfiable");
    is_str(range("bytes=99999999999999999999999-", 1000, 16), "416",
           "huge first-pos saturates: unsatisfiable");
    is_str(range("bytes=5-", 0, 16), "416", "empty file, first-pos 5");
}

static void
test_ignored(void)
{
    is_str(range("bytes=0-1", 1000, 0), "200", "max_ranges 0 disables");
    is_str(range("0-1", 1000, 16), "200", "missing bytes=");
    is_str(range("bytes 0-1", 1000, 16), "200", "bytes without =");
    is_str(range("items=0-1", 1000, 16), "200", "other unit");
    is_str(range("", 1000, 16), "200", "empty header");
    is_str(range("bytes=", 1000, 16), "200", "no range-set");
    is_str(range("bytes=,", 1000, 16), "200", "only empty elements");
    is_str(range("bytes=5-1", 1000, 16), "200", "bytes=5-1 invalid");
    is_str(range("bytes=0-1,5-1", 1000, 16), "200",
           "one invalid range invalidates the set");
    is_str(range("bytes=-", 1000, 16), "200", "lone dash");
    is_str(range("bytes=--5", 1000, 16), "200", "double dash");
    is_str(range("bytes=1", 1000, 16), "200", "no dash");
    is_str(range("bytes=a-b", 1000, 16), "200", "letters");
    is_str(range("bytes=0-1x", 1000, 16), "200", "trailing garbage");
    is_str(range("bytes=0-1;2-3", 1000, 16), "200", "wrong separator");
    is_str(range("bytes=+1-2", 1000, 16), "200", "sign");
    is_str(range("bytes=-1-2", 1000, 16), "200", "negative first-pos");
    is_str(range("bytes=0-1, 5-6x", 1000, 16), "200", "garbage in 2nd");
    is_str(range("bytes=0-1", 1000, 16) /* sanity: same input, valid */,
           "206 0-1", "control for the above");
    is_str(range("bytes=0-", 0, 16), "200", "empty file, 0- (nginx: 200)");
    is_str(range("bytes=-5", 0, 16), "200", "empty file, suffix (nginx)");
}

static void
test_limits(void)
{
    char big[16384];
    size_t n, i;

    is_str(range("bytes=0-1,5-6,10-11", 1000, 2), "200",
           "more ranges than max_ranges: whole file");
    is_str(range("bytes=0-1,5-6,2000-", 1000, 2), "206 0-1,5-6",
           "unsatisfiable ones do not count against max_ranges");
    is_str(range("bytes=0-1", 1000, 1), "206 0-1", "max_ranges 1");
    is_str(range("bytes=0-599,400-999", 1000, 16), "200",
           "overlaps adding up past the size: whole file");
    is_str(range("bytes=0-499,400-899", 1000, 16), "206 0-499,400-899",
           "overlaps within the size kept (nginx)");
    is_str(range("bytes=0-,0-", 1000, 16), "200", "the file twice");
    is_str(range("bytes=0-99999999999999999999999", 1000, 16), "206 0-999",
           "huge last-pos saturates and clamps");
    is_str(range("bytes=-99999999999999999999999", 1000, 16), "206 0-999",
           "huge suffix saturates: whole file");
    is_str(range("bytes=9223372036854775806-9223372036854775807",
                 9223372036854775807LL, 16),
           "206 9223372036854775806-9223372036854775806",
           "bounds near off_t max");
    is_str(range("bytes=9223372036854775807-", 9223372036854775807LL, 16),
           "416", "first-pos off_t max on the largest file");

    /* 1000 ranges of one byte each. */
    n = (size_t) snprintf(big, sizeof(big), "bytes=");
    for (i = 0; i < 1000; i++) {
        n += (size_t) snprintf(big + n, sizeof(big) - n, "%s%zu-%zu",
                               i ? "," : "", i * 2, i * 2);
    }
    is_str(range(big, 100000, 100), "200", "1000 ranges over max 100");
    ok(strncmp(range(big, 100000, (size_t) -1), "206 0-0,2-2,4-4,", 16) == 0
           && strcmp(got + strlen(got) - 10, ",1998-1998") == 0,
       "1000 ranges allowed when max_ranges is unlimited");
    ok(strncmp(range(big, 100, 5000), "206 0-0,2-2,", 12) == 0
           && strcmp(got + strlen(got) - 6, ",98-98") == 0,
       "1000 ranges on a 100-byte file: the 50 inside it");
}

static void
test_multipart(void)
{
    wm_str_t boundary = wm_string("00000000000000000001");
    wm_str_t type = wm_string("text/html");
    wm_str_t notype = wm_null_string;
    wm_str_t value = wm_string("bytes=0-1,5-7");
    wm_http_range_t one = {0, 100};
    wm_http_ranges_t r;
    u_char buf[256];
    size_t n;
    off_t len, sum;

    n = wm_http_range_content_range(buf, sizeof(buf), &one, 1000);
    is_str((char *) buf, "bytes 0-99/1000", "Content-Range of a 206");
    is_int(n, 15, "its length");
    wm_http_range_content_range(buf, sizeof(buf), NULL, 1000);
    is_str((char *) buf, "bytes */1000", "Content-Range of a 416");
    is_int(wm_http_range_content_range(NULL, 0, NULL, 0), 9,
           "length without a buffer");

    n = wm_http_range_part_header(buf, sizeof(buf), &boundary, &type, &one,
                                  1000);
    is_str((char *) buf,
           "\r\n--00000000000000000001\r\nContent-Type: text/html\r\n"
           "Content-Range: bytes 0-99/1000\r\n\r\n",
           "part header");
    is_int(n, strlen((char *) buf), "part header length");
    wm_http_range_part_header(buf, sizeof(buf), &boundary, &notype, &one, 5);
    is_str((char *) buf,
           "\r\n--00000000000000000001\r\nContent-Range: bytes 0-99/5\r\n\r\n",
           "part header without a type");
    n = wm_http_range_part_header(buf, 10, &boundary, &type, &one, 1000);
    is_int(n, 85, "a short buffer gets the full length");
    is_str((char *) buf, "\r\n--00000", "and a truncated, terminated text");
    wm_http_range_trailer(buf, sizeof(buf), &boundary);
    is_str((char *) buf, "\r\n--00000000000000000001--\r\n", "trailer");

    is_int(wm_http_range_parse(pool, &value, 1000, 16, &r), PART, "2 ranges");
    len = wm_http_range_multipart_length(&r, &boundary, &type, 1000);
    /* Two part headers of 84 bytes ("0-1/1000", "5-7/1000"), 2 + 3 bytes
     * of data and a 28-byte trailer. */
    is_int(len, 84 + 84 + 5 + 28, "multipart Content-Length");
    sum = (off_t) wm_http_range_trailer(NULL, 0, &boundary);
    sum += (off_t) wm_http_range_part_header(NULL, 0, &boundary, &type,
                                             &r.ranges[0], 1000)
           + 2;
    sum += (off_t) wm_http_range_part_header(NULL, 0, &boundary, &type,
                                             &r.ranges[1], 1000)
           + 3;
    is_int(len, sum, "equals the sum of the parts");
}

int
main(void)
{
    pool = wm_pool_new(0);
    if (pool == NULL) {
        return 1;
    }
    test_basic();
    test_unsatisfiable();
    test_ignored();
    test_limits();
    test_multipart();
    wm_pool_free(pool);
    return tap_done();
}
