/*
 * The pure parts of OCSP stapling: responder URLs as ssl_stapling_responder
 * and the certificates' AIA give them (http only, host, [IPv6], port,
 * path, and what is refused), and when a response is fetched again.
 */
#include "wm_ssl_ocsp.h"

#include "tap.h"

static wm_int_t
parse(const char *url, wm_ssl_ocsp_url_t *u, char *err, size_t errlen)
{
    return wm_ssl_ocsp_parse_url(url, strlen(url), u, err, errlen);
}

static void
test_urls(void)
{
    static const struct {
        const char *url, *host, *hostport, *path;
        int port;
    } good[] = {
        {"http://127.0.0.1:8080/", "127.0.0.1", "127.0.0.1:8080", "/", 8080},
        {"http://ocsp.example.com", "ocsp.example.com", "ocsp.example.com:80",
         "/", 80},
        {"HTTP://r3.o.lencr.org/a/b?c=d", "r3.o.lencr.org", "r3.o.lencr.org:80",
         "/a/b?c=d", 80},
        {"http://[::1]:9/ocsp", "::1", "[::1]:9", "/ocsp", 9},
        {"http://[::1]", "::1", "[::1]:80", "/", 80},
        {"http://h:65535/", "h", "h:65535", "/", 65535},
    };
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"https://ocsp.example.com/", "only http:// OCSP responders"},
        {"ftp://x/", "only http:// OCSP responders"},
        {"http:/", "only http:// OCSP responders"},
        {"http://", "invalid host"},
        {"http:///path", "invalid host"},
        {"http://:80/", "invalid host"},
        {"http://user@host/", "invalid host"},
        {"http://[::1/", "invalid host"},
        {"http://h:/", "invalid port"},
        {"http://h:0/", "invalid port"},
        {"http://h:65536/", "invalid port"},
        {"http://h:99999999999/", "invalid port"},
        {"http://h:8x/", "invalid port"},
        {"http://[::1]x/", "invalid port"},
    };
    wm_ssl_ocsp_url_t u;
    char err[256], name[512];
    size_t i;

    for (i = 0; i < wm_nelems(good); i++) {
        err[0] = '\0';
        snprintf(name, sizeof(name), "%s: parsed", good[i].url);
        is_int(parse(good[i].url, &u, err, sizeof(err)), WM_OK, name);
        snprintf(name, sizeof(name), "%s: host", good[i].url);
        is_str(u.host, good[i].host, name);
        snprintf(name, sizeof(name), "%s: Host header", good[i].url);
        is_str(u.hostport, good[i].hostport, name);
        snprintf(name, sizeof(name), "%s: port", good[i].url);
        is_int(u.port, good[i].port, name);
        snprintf(name, sizeof(name), "%s: path", good[i].url);
        is_str(u.path, good[i].path, name);
    }
    for (i = 0; i < wm_nelems(bad); i++) {
        err[0] = '\0';
        snprintf(name, sizeof(name), "%s: refused", bad[i].url);
        is_int(parse(bad[i].url, &u, err, sizeof(err)), WM_ERROR, name);
        snprintf(name, sizeof(name), "%s: says why", bad[i].url);
        ok(strstr(err, bad[i].why) != NULL, name);
        if (strstr(err, bad[i].why) == NULL) {
            diag("got '%s'", err);
        }
    }

    /* Only len bytes are read: the argument is a slice. */
    is_int(wm_ssl_ocsp_parse_url("http://a:1/xyz", 10, &u, err, sizeof(err)),
           WM_OK, "slice: parsed");
    is_str(u.path, "/", "slice: path cut at len");
    is_int(u.port, 1, "slice: port");

    /* A host longer than the buffer is refused, not cut. */
    {
        char url[400] = "http://";

        memset(url + 7, 'a', 300);
        url[307] = '\0';
        is_int(parse(url, &u, err, sizeof(err)), WM_ERROR, "long host");
    }
}

static void
test_refresh(void)
{
    time_t now = 1000000;

    is_int(wm_ssl_ocsp_refresh(now, 0, true), now + WM_SSL_OCSP_MAX_AGE,
           "no nextUpdate: an hour");
    is_int(wm_ssl_ocsp_refresh(now, now + 7 * 86400, true),
           now + WM_SSL_OCSP_MAX_AGE, "a week left: an hour");
    is_int(wm_ssl_ocsp_refresh(now, now + 1800, true),
           now + 1800 - WM_SSL_OCSP_MARGIN, "half an hour left: 5 min before");
    is_int(wm_ssl_ocsp_refresh(now, now + 400, true), now + WM_SSL_OCSP_MARGIN,
           "nearly expired: not sooner than 5 min");
    is_int(wm_ssl_ocsp_refresh(now, now - 100, true), now + WM_SSL_OCSP_MARGIN,
           "expired: not sooner than 5 min");
    is_int(wm_ssl_ocsp_refresh(now, now + 86400, false),
           now + WM_SSL_OCSP_RETRY, "failure: retry");
    is_int(wm_ssl_ocsp_refresh(now, 0, false), now + WM_SSL_OCSP_RETRY,
           "failure without response: retry");
}

int
main(void)
{
    test_urls();
    test_refresh();
    return tap_done();
}
