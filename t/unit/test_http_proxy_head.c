/*
 * Unit tests of the upstream request head: nginx's URI rules for
 * proxy_pass with and without a URI part, escaping, and the header list
 * (overrides, removals, hop-by-hop headers, body framing).
 */
#include "wm_http_proxy_head.h"

#include "tap.h"

static wm_pool_t *pool;

static const char *
uri(const char *pass, const char *loc, const char *u, const char *args,
    const char *raw, bool changed)
{
    wm_str_t p = {pass ? strlen(pass) : 0, (u_char *) pass};
    wm_str_t l = {strlen(loc), (u_char *) loc};
    wm_str_t uu = {strlen(u), (u_char *) u};
    wm_str_t a = {args ? strlen(args) : 0, (u_char *) (args ? args : "")};
    wm_str_t r = {strlen(raw), (u_char *) raw};
    wm_http_proxy_uri_t in = {pass ? &p : NULL, &l, &uu, &a, args != NULL,
                              &r, changed};
    size_t len;
    u_char *out = wm_http_proxy_uri(pool, &in, &len);

    return out ? wm_pstrndup(pool, out, len) : "(null)";
}

static void
test_uri(void)
{
    is_str(uri(NULL, "/api/", "/api/x y", "a=1", "/api/x%20y?a=1", false),
           "/api/x%20y?a=1", "no URI part: the client's target as sent");
    is_str(uri(NULL, "/api/", "/new/x y", "a=1", "/api/x%20y?a=1", true),
           "/new/x%20y?a=1", "no URI part, rewritten: the new URI, escaped");
    is_str(uri("/", "/api/", "/api/users/1", NULL, "/api/users/1", false),
           "/users/1", "proxy_pass http://b/; in /api/: prefix replaced");
    is_str(uri("/v2/", "/api/", "/api/users", "q=x&y", "/api/users?q=x&y",
               false),
           "/v2/users?q=x&y", "URI part /v2/: prefix replaced, args kept");
    is_str(uri("/v2", "/api", "/api/users", NULL, "/api/users", false),
           "/v2/users", "prefix without slash");
    is_str(uri("/", "/", "/a b#c?d%", NULL, "/x", false), "/a%20b%23c%3Fd%25",
           "space, #, ? and % escaped");
    is_str(uri("/", "/", "/\xc3\xa9t\xc3\xa9", NULL, "/x", false),
           "/%C3%A9t%C3%A9", "non-ASCII escaped");
    is_str(uri("/", "/", "/a\\b\"c", NULL, "/x", false), "/a%5Cb%22c",
           "a backslash (a client's %5C) and a double quote escaped");
    is_str(uri("/", "/", "/a", "", "/a?", false), "/a?",
           "an empty query keeps its '?'");
    is_str(uri("/", "/api/", "/api/", NULL, "/api/", false), "/",
           "the location itself maps to the URI part");
}

static const char *
head(const wm_http_proxy_head_t *h)
{
    struct evbuffer *b = evbuffer_new();
    size_t n;
    char *s;

    wm_http_proxy_build_head(b, h);
    n = evbuffer_get_length(b);
    s = wm_palloc(pool, n + 1);
    evbuffer_remove(b, s, n);
    s[n] = '\0';
    evbuffer_free(b);
    return s;
}

#define S(x) {sizeof(x) - 1, (u_char *) (x)}

static void
test_head(void)
{
    wm_http_header_t hs[] = {
        {S("Host"), S("front.test")},
        {S("User-Agent"), S("curl/8")},
        {S("Connection"), S("keep-alive, Foo")},
        {S("Keep-Alive"), S("timeout=5")},
        {S("X-Forwarded-For"), S("10.0.0.1")},
        {S("Content-Length"), S("5")},
        {S("Expect"), S("100-continue")},
        {S("te"), S("trailers")},
        {S("Cookie"), S("a=1")},
        {S("Upgrade"), S("websocket")},
    };
    wm_http_head_t client;
    wm_http_proxy_set_t set[] = {
        {S("Host"), S("backend:8080")},
        {S("Connection"), S("close")},
        {S("X-Forwarded-For"), S("10.0.0.1, 127.0.0.1")},
        {S("Cookie"), S("")},
    };
    wm_http_proxy_head_t h;

    memset(&client, 0, sizeof(client));
    client.headers = hs;
    client.nheaders = wm_nelems(hs);
    memset(&h, 0, sizeof(h));
    h.method = (wm_str_t) S("POST");
    h.uri = (wm_str_t) S("/v2/users?x=1");
    h.version = WM_HTTP_VERSION_10;
    h.set = set;
    h.nset = wm_nelems(set);
    h.client = &client;
    h.pass_headers = true;
    h.content_length = 5;
    is_str(head(&h),
           "POST /v2/users?x=1 HTTP/1.0\r\n"
           "Host: backend:8080\r\n"
           "Connection: close\r\n"
           "X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n"
           "User-Agent: curl/8\r\n"
           "Content-Length: 5\r\n"
           "\r\n",
           "set headers first; overridden, emptied and hop-by-hop ones "
           "dropped; Content-Length from the body");

    h.version = WM_HTTP_VERSION_11;
    h.content_length = -1;
    h.chunked = true;
    h.pass_headers = false;
    h.nset = 2;
    is_str(head(&h),
           "POST /v2/users?x=1 HTTP/1.1\r\n"
           "Host: backend:8080\r\n"
           "Connection: close\r\n"
           "Transfer-Encoding: chunked\r\n"
           "\r\n",
           "proxy_pass_request_headers off; chunked body");

    h.chunked = false;
    h.method = (wm_str_t) S("GET");
    h.uri = (wm_str_t) S("/");
    h.nset = 0;
    is_str(head(&h), "GET / HTTP/1.1\r\n\r\n", "nothing to add");
}

int
main(void)
{
    pool = wm_pool_new(0);
    test_uri();
    test_head();
    wm_pool_free(pool);
    return tap_done();
}
