/*
 * Unit tests of the browser test behind msie_padding and msie_refresh
 * (wm_http_msie.c), on the User-Agent strings whose answers nginx gave
 * on this machine: MSIE needs "MSIE " and three bytes after it and no
 * "Opera"; Chrome needs "Chrome/" without "Gecko/"; Firefox, Safari and
 * no agent are neither. And the escaping of a refresh URL.
 */
#include "wm_http.h"

#include "tap.h"

#include <string.h>

static unsigned
b(const char *ua)
{
    return wm_http_browser_of((const u_char *) ua, strlen(ua));
}

static void
esc(const char *in, const char *want, const char *name)
{
    u_char out[256];
    size_t n = wm_http_refresh_escape(NULL, (const u_char *) in, strlen(in));
    size_t m = wm_http_refresh_escape(out, (const u_char *) in, strlen(in));

    out[m] = '\0';
    is_int(n, m, name);
    is_str((char *) out, want, name);
}

int
main(void)
{
    is_int(b("Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1)"),
           WM_HTTP_MSIE, "MSIE 8.0");
    is_int(b("x MSIE 8.0"), WM_HTTP_MSIE, "MSIE with three bytes after");
    is_int(b("x MSIE 8."), 0, "MSIE with two bytes after: no");
    is_int(b("x MSIE 8"), 0, "MSIE with one byte after: no");
    is_int(b("Opera/9.80 (compatible; MSIE 8.0)"), 0, "Opera saying MSIE");
    is_int(b("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, "
             "like Gecko) Chrome/120.0.0.0 Safari/537.36"),
           WM_HTTP_CHROME, "Chrome");
    is_int(b("Gecko/ Chrome/1"), 0, "Chrome/ with Gecko/: no");
    is_int(b("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 "
             "Firefox/120.0"),
           0, "Firefox");
    is_int(b("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
             "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 "
             "Safari/605.1.15"),
           0, "Safari");
    is_int(b(""), 0, "empty");

    esc("/a.txt", "/a.txt", "plain URL as is");
    esc("/a b\"c<d>'e%f\xc3\xa9g&h", "/a%20b%22c%3Cd%3E%27e%f%C3%A9g&h",
        "space, quotes, angle brackets and bytes over 0x7e escaped");
    esc("/x\ty\x7f", "/x%09y%7F", "control bytes escaped");
    return tap_done();
}
