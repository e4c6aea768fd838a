/*
 * Unit tests for HTTP-date formatting and parsing: exact strings for known
 * instants, the three accepted forms, a round trip over random instants,
 * and dates that must be refused.
 */
#include "wm_http_content.h"
#include "tap.h"

#include <locale.h>

/* Parses a C string; returns the time, or -12345 for WM_ERROR. */
static time_t
parse(const char *s)
{
    time_t t = 0;

    if (wm_http_date_parse((const u_char *) s, strlen(s), &t) != WM_OK) {
        return -12345;
    }
    return t;
}

static const char *
fmt(time_t t)
{
    static char buf[WM_HTTP_DATE_LEN + 1];

    if (wm_http_date_format((u_char *) buf, t) != WM_HTTP_DATE_LEN) {
        return "(error)";
    }
    return buf;
}

static void
test_format(void)
{
    u_char buf[WM_HTTP_DATE_LEN + 1] = "unchanged";

    is_str(fmt(784111777), "Sun, 06 Nov 1994 08:49:37 GMT", "RFC example");
    is_str(fmt(0), "Thu, 01 Jan 1970 00:00:00 GMT", "epoch");
    is_str(fmt(-1), "Wed, 31 Dec 1969 23:59:59 GMT", "before the epoch");
    is_str(fmt(951782400), "Tue, 29 Feb 2000 00:00:00 GMT", "leap day 2000");
    is_str(fmt(2147483648LL), "Tue, 19 Jan 2038 03:14:08 GMT",
           "past 32-bit time_t");
    is_str(fmt(253402300799LL), "Fri, 31 Dec 9999 23:59:59 GMT", "last date");
    is_str(fmt(-62167219200LL), "Sat, 01 Jan 0000 00:00:00 GMT", "first date");
    is_int(wm_http_date_format(buf, 253402300800LL), 0, "year 10000 refused");
    is_int(wm_http_date_format(buf, -62167219201LL), 0, "year -1 refused");
    is_str((char *) buf, "unchanged", "refused date leaves buf alone");

    /* Neither the locale nor the time zone may leak in. */
    setenv("TZ", "Asia/Kolkata", 1);
    tzset();
    setlocale(LC_ALL, "");
    is_str(fmt(784111777), "Sun, 06 Nov 1994 08:49:37 GMT",
           "TZ and locale ignored");
}

static void
test_parse(void)
{
    is_int(parse("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777, "IMF-fixdate");
    is_int(parse("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777, "RFC 850");
    is_int(parse("Sun Nov  6 08:49:37 1994"), 784111777, "asctime");
    is_int(parse("Sun Nov 06 08:49:37 1994"), 784111777,
           "asctime with 2-digit day");
    is_int(parse(" \tSun, 06 Nov 1994 08:49:37 GMT \t"), 784111777,
           "surrounding whitespace");
    is_int(parse("Sat, 31 Dec 2016 23:59:60 GMT"), 1483228800,
           "leap second is the next minute");
    is_int(parse("Thursday, 06-Nov-69 08:49:37 GMT"), 3150953377LL,
           "RFC 850 year 69 is 2069");
    is_int(parse("Friday, 06-Nov-70 08:49:37 GMT"), 26729377,
           "RFC 850 year 70 is 1970");
    is_int(parse("Mon, 06 Nov 1994 08:49:37 GMT"), 784111777,
           "wrong day name accepted");
    is_int(parse("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400, "29 Feb 2000");
    is_int(parse("Thu, 01 Mar 1900 00:00:00 GMT"), -2203891200LL,
           "before the epoch");
    is_int(parse("Sat, 01 Jan 0000 00:00:00 GMT"), -62167219200LL, "year 0000");
    is_int(parse("Fri, 31 Dec 9999 23:59:59 GMT"), 253402300799LL, "year 9999");
}

static void
test_parse_bad(void)
{
    static const char *bad[] = {
        "",
        " ",
        "garbage",
        "Sun",
        "Sun,",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Nov 01994 08:49:37 GMT",
        "Sun,06 Nov 1994 08:49:37 GMT",
        "Sun, 06  Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT junk",
        "Sun, 06 Nov 1994 08:49:37 GMTX",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 30 Feb 2000 08:49:37 GMT",
        "Mon, 29 Feb 1900 00:00:00 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, +6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov -994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37",
        "Sunday Nov  6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Sun Nov  x 08:49:37 1994",
        "1994-11-06T08:49:37Z",
        "784111777",
        "Sun, 99999999999999999999 Nov 1994 08:49:37 GMT",
    };
    time_t t = 42;
    size_t i;
    int wrong = 0;

    for (i = 0; i < wm_nelems(bad); i++) {
        if (parse(bad[i]) != -12345) {
            diag("accepted: '%s'", bad[i]);
            wrong++;
        }
    }
    is_int(wrong, 0, "40 malformed or impossible dates refused");

    ok(wm_http_date_parse((const u_char *) "Sun, 06 Nov 1994 08:49:37 GMT", 28,
                          &t)
           == WM_ERROR,
       "length is respected (no NUL needed)");
    ok(wm_http_date_parse((const u_char *) "Sun, 06 Nov\0"
                                           "1994 08:49:37 GMT",
                          29, &t)
           == WM_ERROR,
       "embedded NUL refused");
    ok(wm_http_date_parse(NULL, 0, &t) == WM_ERROR, "empty slice refused");
    is_int(t, 42, "refused date leaves *t alone");
}

static void
test_round_trip(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    int i, wrong = 0;
    char buf[64];
    time_t t, back;
    struct tm tm;

    setlocale(LC_TIME, "C");
    for (i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t = (time_t) (x % 253402300800ULL);
        if (i & 1) {
            t = -(t % 62167219201LL);
        }
        back = parse(fmt(t));
        if (back != t) {
            wrong++;
        }
        /* The C library's formatting, in the C locale, must agree. */
        if (t >= 0 && gmtime_r(&t, &tm) != NULL) {
            strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
            if (strcmp(buf, fmt(t)) != 0) {
                wrong++;
            }
        }
    }
    is_int(wrong, 0, "200000 random instants round-trip and match gmtime");
}

int
main(void)
{
    test_format();
    test_parse();
    test_parse_bad();
    test_round_trip();
    return tap_done();
}
