/*
 * HTTP-date formatting and parsing (RFC 9110 5.6.7). Dates are converted
 * with calendar arithmetic on the proleptic Gregorian calendar, never with
 * strftime, strptime or timegm, so neither the locale nor the TZ of the
 * process can change what goes on the wire.
 */
#include "wm_http_content.h"

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define WM_HTTP_DATE_MIN ((int64_t) -62167219200LL)
#define WM_HTTP_DATE_MAX ((int64_t) 253402300799LL)

static int64_t wm_http_days_from_civil(int64_t y, int m, int d);
static void wm_http_civil_from_days(int64_t z, int64_t *y, int *m, int *d);
static int wm_http_month(const u_char *p);
static int wm_http_wday(const u_char *p, size_t len);
static int wm_http_digits(const u_char *p, size_t n);
static wm_int_t wm_http_time_of_day(const u_char *p, int *h, int *mi, int *s);
static wm_int_t wm_http_date_make(int64_t y, int m, int d, int h, int mi, int s,
                                  time_t *t);

static const char wm_http_months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

static const char *const wm_http_wdays[7][2] = {
    {"Sun", "Sunday"},    {"Mon", "Monday"},   {"Tue", "Tuesday"},
    {"Wed", "Wednesday"}, {"Thu", "Thursday"}, {"Fri", "Friday"},
    {"Sat", "Saturday"},
};

/* Days since 1970-01-01 of a civil date (month 1..12); valid for any
 * year, negative before the epoch. */
static int64_t
wm_http_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

/* The inverse of wm_http_days_from_civil(). */
static void
wm_http_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

size_t
wm_http_date_format(u_char *buf, time_t t)
{
    int64_t secs = (int64_t) t, days, rem, y;
    int m, d, wday;
    char tmp[WM_HTTP_DATE_LEN + 8];

    if (secs < WM_HTTP_DATE_MIN || secs > WM_HTTP_DATE_MAX) {
        return 0;
    }

    days = secs / 86400;
    rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }

    /* 1970-01-01 was a Thursday. */
    wday = (int) (((days % 7) + 11) % 7);
    wm_http_civil_from_days(days, &y, &m, &d);

    if (snprintf(tmp, sizeof(tmp), "%s, %02d %.3s %04d %02d:%02d:%02d GMT",
                 wm_http_wdays[wday][0], d, &wm_http_months[(m - 1) * 3],
                 (int) y, (int) (rem / 3600), (int) (rem / 60 % 60),
                 (int) (rem % 60))
        != WM_HTTP_DATE_LEN)
    {
        return 0;
    }

    memcpy(buf, tmp, WM_HTTP_DATE_LEN + 1);
    return WM_HTTP_DATE_LEN;
}

/* 1..12 for a three-letter month name at p (3 bytes readable), 0 if none. */
static int
wm_http_month(const u_char *p)
{
    int i;

    for (i = 0; i < 12; i++) {
        if (memcmp(p, &wm_http_months[i * 3], 3) == 0) {
            return i + 1;
        }
    }
    return 0;
}

/* 3 for a short day name, 6..9 for a long one, 0 when p is neither. */
static int
wm_http_wday(const u_char *p, size_t len)
{
    int i, k;

    for (i = 0; i < 7; i++) {
        for (k = 0; k < 2; k++) {
            if (strlen(wm_http_wdays[i][k]) == len
                && memcmp(p, wm_http_wdays[i][k], len) == 0)
            {
                return (int) len;
            }
        }
    }
    return 0;
}

/* The value of n decimal digits at p, or -1 if one is not a digit. */
static int
wm_http_digits(const u_char *p, size_t n)
{
    int v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* "HH:MM:SS" at p (8 bytes readable); 23:59:60 is allowed. */
static wm_int_t
wm_http_time_of_day(const u_char *p, int *h, int *mi, int *s)
{
    if (p[2] != ':' || p[5] != ':') {
        return WM_ERROR;
    }
    *h = wm_http_digits(p, 2);
    *mi = wm_http_digits(p + 3, 2);
    *s = wm_http_digits(p + 6, 2);
    if (*h < 0 || *h > 23 || *mi < 0 || *mi > 59 || *s < 0 || *s > 60) {
        return WM_ERROR;
    }
    return WM_OK;
}

static wm_int_t
wm_http_date_make(int64_t y, int m, int d, int h, int mi, int s, time_t *t)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    int64_t v;
    bool leap;

    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) {
        return WM_ERROR;
    }
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap) {
        return WM_ERROR;
    }

    v = wm_http_days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s;

    /* A time_t of 32 bits cannot hold every date. */
    if ((int64_t) (time_t) v != v) {
        return WM_ERROR;
    }
    *t = (time_t) v;
    return WM_OK;
}

wm_int_t
wm_http_date_parse(const u_char *p, size_t len, time_t *t)
{
    const u_char *end, *name;
    int m, d, h, mi, s, yy, kind;
    int64_t y;
    size_t n;

    if (len == 0) {
        return WM_ERROR;
    }
    end = p + len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    name = p;
    while (p < end && *p != ',' && *p != ' ') {
        p++;
    }
    n = (size_t) (p - name);
    kind = wm_http_wday(name, n);
    if (kind == 0 || p == end) {
        return WM_ERROR;
    }
    len = (size_t) (end - p);

    if (*p == ',' && kind == 3) {
        /* IMF-fixdate: ", 06 Nov 1994 08:49:37 GMT" */
        if (len != 26 || p[1] != ' ' || p[4] != ' ' || p[8] != ' '
            || p[13] != ' ' || memcmp(p + 22, " GMT", 4) != 0)
        {
            return WM_ERROR;
        }
        d = wm_http_digits(p + 2, 2);
        m = wm_http_month(p + 5);
        y = wm_http_digits(p + 9, 4);
        if (d < 0 || y < 0 || wm_http_time_of_day(p + 14, &h, &mi, &s)) {
            return WM_ERROR;
        }
        return wm_http_date_make(y, m, d, h, mi, s, t);
    }

    if (*p == ',') {
        /* RFC 850: ", 06-Nov-94 08:49:37 GMT" */
        if (len != 24 || p[1] != ' ' || p[4] != '-' || p[8] != '-'
            || p[11] != ' ' || memcmp(p + 20, " GMT", 4) != 0)
        {
            return WM_ERROR;
        }
        d = wm_http_digits(p + 2, 2);
        m = wm_http_month(p + 5);
        yy = wm_http_digits(p + 9, 2);
        if (d < 0 || yy < 0 || wm_http_time_of_day(p + 12, &h, &mi, &s)) {
            return WM_ERROR;
        }
        y = yy + (yy < 70 ? 2000 : 1900);
        return wm_http_date_make(y, m, d, h, mi, s, t);
    }

    if (kind != 3) {
        return WM_ERROR;
    }

    /* asctime: " Nov  6 08:49:37 1994" or " Nov 16 08:49:37 1994" */
    if (len != 21 || p[4] != ' ' || p[7] != ' ' || p[16] != ' ') {
        return WM_ERROR;
    }
    m = wm_http_month(p + 1);
    d = p[5] == ' ' ? wm_http_digits(p + 6, 1) : wm_http_digits(p + 5, 2);
    y = wm_http_digits(p + 17, 4);
    if (d < 0 || y < 0 || wm_http_time_of_day(p + 8, &h, &mi, &s)) {
        return WM_ERROR;
    }
    return wm_http_date_make(y, m, d, h, mi, s, t);
}
