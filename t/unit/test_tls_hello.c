/*
 * Unit tests of the ClientHello reader on real hellos captured from
 * openssl s_client (in t/fuzz/corpus/tls_hello/) and on hostile ones made
 * from them: SNI, ALPN and version for each, a hello split across three
 * records, every prefix asking for more, and the refusals.
 */
#include "wm_tls_hello.h"

#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static u_char scratch[16384];

static size_t
load(const char *name, u_char *buf, size_t size)
{
    const char *src = getenv("WM_SRCDIR");
    char path[1024];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/t/fuzz/corpus/tls_hello/%s",
             src ? src : ".", name);
    f = fopen(path, "rb");
    if (f == NULL) {
        diag("cannot open %s", path);
        return 0;
    }
    n = fread(buf, 1, size, f);
    fclose(f);
    return n;
}

static void
hello(const char *name, const char *sni, const char *alpn, const char *proto)
{
    static u_char buf[20000];
    wm_tls_hello_t h;
    const char *err;
    size_t n = load(name, buf, sizeof(buf)), cut;
    wm_int_t rc = wm_tls_hello_parse(buf, n, scratch, sizeof(scratch), &h,
                                     &err);
    int again = 1;

    is_int(rc, WM_OK, name);
    if (rc != WM_OK) {
        diag("%s: %s", name, err ? err : "?");
        return;
    }
    ok(h.server_name.len == strlen(sni)
           && memcmp(h.server_name.data, sni, h.server_name.len) == 0,
       "server_name");
    ok(h.alpn.len == strlen(alpn) && memcmp(h.alpn.data, alpn, h.alpn.len) == 0,
       "alpn");
    is_str(h.protocol, proto, "protocol");
    is_int((long) h.consumed, (long) n, "consumed: the whole hello");
    for (cut = 0; cut < n; cut++) {
        wm_tls_hello_t h2;

        again &= wm_tls_hello_parse(buf, cut, scratch, sizeof(scratch), &h2,
                                    &err)
                 == WM_AGAIN;
    }
    ok(again, "every shorter prefix asks for more");
}

static void
refused(const char *name, wm_int_t want, const char *why)
{
    static u_char buf[20000];
    wm_tls_hello_t h;
    const char *err = NULL;
    size_t n = load(name, buf, sizeof(buf));

    is_int(wm_tls_hello_parse(buf, n, scratch, sizeof(scratch), &h, &err),
           want, name);
    if (why) {
        is_str(err ? err : "(none)", why, "the reason");
    }
}

int
main(void)
{
    wm_tls_hello_t h;
    const char *err;
    static u_char buf[20000];
    size_t n;

    hello("sni-alpn-tls13", "www.example.com", "h2,http/1.1", "TLSv1.3");
    hello("no-sni", "", "", "TLSv1.3");
    hello("tls12-only", "api.example.org", "", "TLSv1.2");
    hello("tls13-only", "a.b", "", "TLSv1.3");
    hello("alpn-only", "", "acme-tls/1", "TLSv1.3");
    hello("fragmented", "www.example.com", "h2,http/1.1", "TLSv1.3");

    refused("http", WM_DECLINED, NULL);
    refused("sslv2-like", WM_DECLINED, NULL);
    refused("alert", WM_DECLINED, NULL);
    refused("truncated", WM_AGAIN, NULL);
    refused("bad-session-id", WM_ERROR, "bad session id length");
    refused("server-hello", WM_ERROR,
            "the first handshake message is not a ClientHello");

    /* A scratch buffer too small for the hello. */
    n = load("long-name", buf, sizeof(buf));
    is_int(wm_tls_hello_parse(buf, n, scratch, 100, &h, &err), WM_ERROR,
           "a hello longer than the scratch buffer");
    is_str(err, "ClientHello too long", "the reason");
    /* Nothing yet. */
    is_int(wm_tls_hello_parse(buf, 0, scratch, sizeof(scratch), &h, &err),
           WM_AGAIN, "no bytes: more");
    return tap_done();
}
