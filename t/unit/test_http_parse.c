/*
 * Unit tests of the HTTP/1.1 parsers: the request head (valid requests of
 * every shape with their exact fields, hostile ones with their exact
 * status), URI normalisation against traversal, and the chunked decoder
 * split at every byte. Each request is also parsed byte by byte and in a
 * moved buffer, which must give the same result as parsing it whole.
 */
#include "wm_http_parse.h"

#include "tap.h"

#define NHDRS 16

static wm_http_parse_conf_t conf;
static wm_http_header_t hdrs[NHDRS];
static wm_http_head_t head;
static wm_http_parser_t parser;
static u_char buf[70000];
static size_t buflen;
static size_t nalloc = NHDRS;

/* ---- helpers ---------------------------------------------------------- */

static void
reset_conf(void)
{
    wm_http_parse_conf_init(&conf);
    nalloc = NHDRS;
}

/* A printable, position-independent form of a parse result, for comparing
 * two parses of the same bytes. */
static void
dump_str(char *out, size_t size, const char *name, const wm_str_t *s,
         const u_char *base)
{
    size_t n = strlen(out);

    if (s->data == NULL) {
        snprintf(out + n, size - n, "%s=null ", name);
    } else if ((uintptr_t) s->data >= (uintptr_t) base
               && (uintptr_t) s->data <= (uintptr_t) base + sizeof(buf))
    {
        snprintf(out + n, size - n, "%s=%zu+%zu ", name,
                 (size_t) ((uintptr_t) s->data - (uintptr_t) base), s->len);
    } else {
        snprintf(out + n, size - n, "%s=ext:%.*s ", name, (int) s->len,
                 s->data);
    }
}

static void
dump_head(char *out, size_t size, wm_int_t rc, const wm_http_head_t *h,
          const u_char *base)
{
    size_t i, n;

    snprintf(out, size, "rc=%d status=%d error=%s ", (int) rc, h->status,
             h->error ? h->error : "-");
    if (rc != WM_OK) {
        return;
    }
    dump_str(out, size, "rl", &h->request_line, base);
    dump_str(out, size, "mn", &h->method_name, base);
    dump_str(out, size, "t", &h->target, base);
    dump_str(out, size, "sc", &h->scheme, base);
    dump_str(out, size, "p", &h->path, base);
    dump_str(out, size, "a", &h->args, base);
    dump_str(out, size, "h", &h->host, base);
    dump_str(out, size, "pt", &h->port_text, base);
    dump_str(out, size, "te", &h->transfer_encoding, base);
    dump_str(out, size, "up", &h->upgrade, base);
    for (i = 0; i < h->nheaders; i++) {
        dump_str(out, size, "n", &h->headers[i].name, base);
        dump_str(out, size, "v", &h->headers[i].value, base);
    }
    n = strlen(out);
    snprintf(out + n, size - n,
             "m=%lu f=%lu v=%lu ha=%d port=%lu cl=%lld ch=%d ka=%d "
             "cc=%d ck=%d cu=%d ec=%d nh=%zu ni=%zu hl=%zu",
             (unsigned long) h->method, (unsigned long) h->target_form,
             (unsigned long) h->version, h->has_args,
             (unsigned long) h->port, (long long) h->content_length,
             h->chunked, h->keep_alive, h->conn_close, h->conn_keep_alive,
             h->conn_upgrade, h->expect_continue, h->nheaders, h->ninvalid,
             h->head_len);
}

/*
 * Parses s whole into the globals. Before that, parses it byte by byte and
 * with a moved buffer, and fails a check if either differs from the whole
 * parse; so every request of this file is a split test too.
 */
static wm_int_t
parse_n(const char *s, size_t len)
{
    static char whole[8192], piece[8192];
    static wm_http_header_t h2[NHDRS];
    static u_char b2[70000];
    wm_http_head_t hd2;
    wm_http_parser_t p2;
    u_char *moved;
    wm_int_t rc, rc2 = WM_AGAIN;
    size_t i, k;

    /* byte by byte */
    memcpy(b2, s, len);
    wm_http_parser_init(&p2, &conf, &hd2, h2, nalloc);
    for (i = 1; i <= len && rc2 == WM_AGAIN; i++) {
        rc2 = wm_http_parse_request(&p2, b2, i);
    }
    if (len == 0) {
        rc2 = wm_http_parse_request(&p2, b2, 0);
    }
    dump_head(piece, sizeof(piece), rc2, &hd2, b2);

    /* whole */
    memcpy(buf, s, len);
    buflen = len;
    wm_http_parser_init(&parser, &conf, &head, hdrs, nalloc);
    rc = wm_http_parse_request(&parser, buf, len);
    dump_head(whole, sizeof(whole), rc, &head, buf);

    if (strcmp(whole, piece) != 0) {
        ok(0, "byte-by-byte parse equals whole parse");
        diag("whole: %s", whole);
        diag("bytes: %s", piece);
    }

    /* first half in b2, the rest after moving to a new buffer */
    k = len / 2;
    memcpy(b2, s, len);
    wm_http_parser_init(&p2, &conf, &hd2, h2, nalloc);
    rc2 = wm_http_parse_request(&p2, b2, k);
    moved = malloc(len + 1);
    if (moved == NULL) {
        abort();
    }
    memcpy(moved, b2, k);
    memcpy(moved + k, s + k, len - k);
    memset(b2, 'Z', k);
    rc2 = wm_http_parse_request(&p2, moved, len);
    dump_head(piece, sizeof(piece), rc2, &hd2, moved);
    if (strcmp(whole, piece) != 0) {
        ok(0, "parse in a moved buffer equals whole parse");
        diag("whole: %s", whole);
        diag("moved: %s", piece);
    }
    if (rc2 == WM_OK && memcmp(moved, buf, len) != 0) {
        ok(0, "moved buffer bytes equal whole buffer bytes");
    }
    free(moved);
    return rc;
}

static wm_int_t
parse(const char *s)
{
    return parse_n(s, strlen(s));
}

static char sbuf[4][1024];
static int sbuf_i;

/* A slice as a C string, for is_str(). */
static const char *
S(const wm_str_t *s)
{
    char *o = sbuf[sbuf_i++ & 3];

    if (s->data == NULL) {
        return "(null)";
    }
    snprintf(o, sizeof(sbuf[0]), "%.*s", (int) s->len, s->data);
    return o;
}

/* A request of n bytes that must fail with exactly this status. */
static void
bad_n(const char *req, size_t n, int status, const char *name)
{
    wm_int_t rc = parse_n(req, n);

    if (!ok(rc == WM_ERROR && head.status == status, name)) {
        diag("rc %d status %d (%s), expected %d", (int) rc, head.status,
             head.error ? head.error : "-", status);
    }
}

#define BAD_N(lit, status, name) bad_n(lit, sizeof(lit) - 1, status, name)

/* A request that must fail with exactly this status. */
static void
bad(const char *req, int status, const char *name)
{
    wm_int_t rc = parse(req);

    if (!ok(rc == WM_ERROR && head.status == status, name)) {
        diag("rc %d status %d (%s), expected %d", (int) rc, head.status,
             head.error ? head.error : "-", status);
    }
}

/* A request that must parse. */
static int
good(const char *req, const char *name)
{
    wm_int_t rc = parse(req);

    if (!ok(rc == WM_OK, name)) {
        diag("rc %d status %d (%s)", (int) rc, head.status,
             head.error ? head.error : "-");
        return 0;
    }
    return 1;
}

/* ---- request head ----------------------------------------------------- */

static void
test_valid_shapes(void)
{
    wm_int_t rc;

    reset_conf();

    if (good("GET /index.html?a=1&b=%20 HTTP/1.1\r\nHost: Example.COM\r\n"
             "User-Agent: t\r\n\r\n",
             "simple GET"))
    {
        is_str(S(&head.request_line), "GET /index.html?a=1&b=%20 HTTP/1.1",
               "request line");
        is_str(S(&head.method_name), "GET", "method name");
        is_int(head.method, WM_HTTP_GET, "method GET");
        is_str(S(&head.target), "/index.html?a=1&b=%20", "raw target");
        is_int(head.target_form, WM_HTTP_TARGET_ORIGIN, "origin-form");
        is_str(S(&head.path), "/index.html", "path");
        is_str(S(&head.args), "a=1&b=%20", "args");
        is_int(head.has_args, 1, "has args");
        is_int(head.version, 1001, "version 1.1");
        is_str(S(&head.host), "example.com", "host lowercased");
        is_int(head.port, 0, "no port");
        is_int(head.nheaders, 2, "two headers");
        is_str(S(&head.headers[0].name), "Host", "header 0 name as sent");
        is_str(S(&head.headers[1].value), "t", "header 1 value");
        is_int(head.keep_alive, 1, "1.1 keep-alive by default");
        is_int(head.content_length, -1, "no content length");
        is_int(head.head_len, strlen("GET /index.html?a=1&b=%20 HTTP/1.1\r\n"
                                     "Host: Example.COM\r\nUser-Agent: t"
                                     "\r\n\r\n"),
               "head_len is the whole head");
    }

    rc = parse("GET / HTTP/1.1\r\nHost: a\r\n");
    is_int(rc, WM_AGAIN, "incomplete head: WM_AGAIN");
    rc = parse("GE");
    is_int(rc, WM_AGAIN, "two bytes: WM_AGAIN");
    rc = parse("");
    is_int(rc, WM_AGAIN, "no bytes: WM_AGAIN");

    if (good("\r\n\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
             "leading empty lines skipped"))
    {
        is_str(S(&head.request_line), "GET / HTTP/1.1",
               "request line after empty lines");
        is_int(head.head_len, strlen("\r\n\r\n\nGET / HTTP/1.1\r\n"
                                     "Host: a\r\n\r\n"),
               "empty lines counted in head_len");
    }

    if (good("GET /x HTTP/1.1\nHost: a\nX: 1\n\n", "bare LF line endings")) {
        is_int(head.nheaders, 2, "bare LF: two headers");
        is_str(S(&head.headers[1].value), "1", "bare LF: value");
    }

    if (good("GET /? HTTP/1.1\r\nHost: a\r\n\r\n", "empty args")) {
        is_int(head.has_args, 1, "empty args: has_args");
        is_int(head.args.len, 0, "empty args: len 0");
        is_str(S(&head.path), "/", "empty args: path");
    }

    if (good("GET HTTP://Www.Example.com:8080/p/q?x=y HTTP/1.1\r\n"
             "Host: other\r\n\r\n",
             "absolute-form"))
    {
        is_int(head.target_form, WM_HTTP_TARGET_ABSOLUTE, "absolute: form");
        is_str(S(&head.scheme), "HTTP", "absolute: scheme as sent");
        is_str(S(&head.host), "www.example.com", "absolute: host from URI");
        is_int(head.port, 8080, "absolute: port");
        is_str(S(&head.port_text), "8080", "absolute: port text");
        is_str(S(&head.path), "/p/q", "absolute: path");
        is_str(S(&head.args), "x=y", "absolute: args");
    }

    if (good("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
             "absolute-form without path"))
    {
        is_str(S(&head.path), "/", "absolute without path: path /");
        is_int(head.has_args, 0, "absolute without path: no args");
    }

    if (good("GET https://example.com?q HTTP/1.1\r\nHost: x\r\n\r\n",
             "absolute-form with query, no path"))
    {
        is_str(S(&head.path), "/", "absolute query only: path /");
        is_str(S(&head.args), "q", "absolute query only: args");
    }

    if (good("CONNECT Example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
             "\r\n",
             "CONNECT authority-form"))
    {
        is_int(head.method, WM_HTTP_CONNECT, "CONNECT method");
        is_int(head.target_form, WM_HTTP_TARGET_AUTHORITY, "authority-form");
        is_str(S(&head.host), "example.com", "CONNECT host");
        is_int(head.port, 443, "CONNECT port");
    }

    if (good("CONNECT [2001:DB8::1]:8443 HTTP/1.1\r\nHost: x\r\n\r\n",
             "CONNECT to an IPv6 literal"))
    {
        is_str(S(&head.host), "[2001:db8::1]", "IPv6 host lowercased");
        is_int(head.port, 8443, "IPv6 port");
    }

    if (good("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS *")) {
        is_int(head.method, WM_HTTP_OPTIONS, "OPTIONS method");
        is_int(head.target_form, WM_HTTP_TARGET_ASTERISK, "asterisk-form");
    }

    if (good("OPTIONS /a HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS /a")) {
        is_int(head.target_form, WM_HTTP_TARGET_ORIGIN, "OPTIONS origin");
    }

    if (good("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", "unknown method")) {
        is_int(head.method, WM_HTTP_UNKNOWN, "unknown method flagged");
        is_str(S(&head.method_name), "BREW", "unknown method name");
    }
    if (good("get / HTTP/1.1\r\nHost: a\r\n\r\n", "lowercase method")) {
        is_int(head.method, WM_HTTP_UNKNOWN, "methods are case-sensitive");
    }
    if (good("M-SEARCH! / HTTP/1.1\r\nHost: a\r\n\r\n", "tchar method")) {
        is_int(head.method, WM_HTTP_UNKNOWN, "tchar method unknown");
    }

    if (good("GET / HTTP/1.0\r\n\r\n", "HTTP/1.0 without Host")) {
        is_int(head.version, 1000, "version 1.0");
        is_int(head.keep_alive, 0, "1.0 closes by default");
        is_int(head.host.len, 0, "1.0: no host");
    }
    if (good("GET / HTTP/1.0\r\nHost:\r\n\r\n", "HTTP/1.0 empty Host")) {
        is_int(head.host.len, 0, "1.0 empty Host: no host");
    }
    if (good("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
             "HTTP/1.0 keep-alive"))
    {
        is_int(head.keep_alive, 1, "1.0 keep-alive honoured");
    }
    if (good("GET / HTTP/1.2\r\nHost: a\r\n\r\n", "HTTP/1.2 accepted")) {
        is_int(head.version, 1002, "version 1.2");
        is_int(head.keep_alive, 1, "1.2 keeps alive like 1.1");
    }
    if (good("GET /%7e/a-b_c.d!$&'()*+,;=:@[]|{}^`\"<> HTTP/1.1\r\n"
             "Host: a\r\n\r\n",
             "lenient target characters"))
    {
        is_str(S(&head.path), "/%7e/a-b_c.d!$&'()*+,;=:@[]|{}^`\"<>",
               "lenient target path");
    }
}

static void
test_headers(void)
{
    wm_http_header_t *h;

    reset_conf();

    if (good("GET / HTTP/1.1\r\nHost:   a.b  \r\nX-Sp: \t one two \t \r\n"
             "X-Empty:\r\nX-Ws:   \r\nX-Obs: caf\xc3\xa9\r\n\r\n",
             "OWS trimming"))
    {
        is_str(S(&head.headers[0].value), "a.b", "Host value trimmed");
        is_str(S(&head.headers[1].value), "one two", "inner space kept");
        is_str(S(&head.headers[2].value), "", "empty value");
        is_str(S(&head.headers[3].value), "", "whitespace-only value");
        is_str(S(&head.headers[4].value), "caf\xc3\xa9", "obs-text value");
        h = wm_http_header_find(&head, "x-SP");
        ok(h == &head.headers[1], "header_find is case-insensitive");
        ok(wm_http_header_find(&head, "X-S") == NULL,
           "header_find needs the whole name");
    }

    if (good("GET / HTTP/1.1\r\nHost: Example.COM.:8080\r\n\r\n",
             "Host with trailing dot and port"))
    {
        is_str(S(&head.host), "example.com", "trailing dot stripped");
        is_int(head.port, 8080, "Host port");
        is_str(S(&head.headers[0].value), "example.com.:8080",
               "Host value lowercased in place");
    }
    if (good("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", "Host IPv6")) {
        is_str(S(&head.host), "[::1]", "IPv6 host keeps brackets");
        is_int(head.port, 80, "IPv6 Host port");
    }
    if (good("GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n", "Host IPv4")) {
        is_str(S(&head.host), "10.0.0.1", "IPv4 host");
    }

    if (good("POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n"
             "content-length: 042\r\n\r\n",
             "same Content-Length twice"))
    {
        is_int(head.content_length, 42, "Content-Length value");
        is_int(head.method, WM_HTTP_POST, "POST");
    }
    if (good("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
             "9223372036854775807\r\n\r\n",
             "largest Content-Length"))
    {
        is_int(head.content_length, INT64_MAX, "INT64_MAX length");
    }

    if (good("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n"
             "\r\n",
             "Transfer-Encoding: chunked"))
    {
        is_int(head.chunked, 1, "chunked flag");
        is_int(head.content_length, -1, "no length with chunked");
    }
    if (good("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked ,"
             "\r\n\r\n",
             "chunked with empty list elements"))
    {
        is_int(head.chunked, 1, "chunked among empty elements");
    }

    if (good("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, "
             "UPGRADE\r\nUpgrade: websocket\r\n\r\n",
             "Connection upgrade"))
    {
        is_int(head.conn_upgrade, 1, "Connection: upgrade token");
        is_int(head.conn_keep_alive, 1, "Connection: keep-alive token");
        is_str(S(&head.upgrade), "websocket", "Upgrade value");
    }
    if (good("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo\r\n"
             "Connection: close\r\n\r\n",
             "Connection: close"))
    {
        is_int(head.keep_alive, 0, "close ends keep-alive");
    }

    if (good("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
             "Content-Length: 1\r\n\r\n",
             "Expect: 100-continue"))
    {
        is_int(head.expect_continue, 1, "100-continue flag");
    }
    if (good("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
             "Expect in HTTP/1.0"))
    {
        is_int(head.expect_continue, 0, "ignored in HTTP/1.0");
    }

    if (good("GET / HTTP/1.1\r\nHost: a\r\nX_Foo: 1\r\nX{}: 2\r\n"
             "\xff: 3\r\nOk: 4\r\n\r\n",
             "invalid names ignored by default"))
    {
        is_int(head.nheaders, 2, "invalid names not stored");
        is_int(head.ninvalid, 3, "invalid names counted");
        is_str(S(&head.headers[1].name), "Ok", "next valid header kept");
    }
    conf.underscores_in_headers = 1;
    if (good("GET / HTTP/1.1\r\nHost: a\r\nX_Foo: 1\r\n\r\n",
             "underscores_in_headers on"))
    {
        is_int(head.nheaders, 2, "underscore name stored");
        is_str(S(&head.headers[1].name), "X_Foo", "underscore name");
    }
    reset_conf();
}

static void
test_limits(void)
{
    reset_conf();
    conf.max_request_line = 20;
    /* "GET /0123456 HTTP/1.1" is 21 bytes; "GET /012345 HTTP/1.1" 20. */
    good("GET /012345 HTTP/1.1\r\nHost: a\r\n\r\n",
         "request line exactly at its limit");
    bad("GET /0123456 HTTP/1.1\r\nHost: a\r\n\r\n", 414,
        "request line one over its limit: 414");
    bad("GET /0123456789012345678901234567890", 414,
        "incomplete long request line: 414 early");
    bad("GET /01234567890123456789\x01", 414,
        "limit before a bad byte past it: 414");

    reset_conf();
    conf.max_header_line = 10;
    good("GET / HTTP/1.1\r\nHost: abcd\r\n\r\n",
         "header line exactly at its limit");
    bad("GET / HTTP/1.1\r\nHost: abcde\r\n\r\n", 431,
        "header line over its limit: 431");

    reset_conf();
    conf.max_head = 32;
    /* 16 + 9 + 2 = 27 bytes */
    good("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "head under max_head");
    good("GET / HTTP/1.1\r\nHost: a\r\nX:1\r\n\r\n",
         "head exactly max_head");
    bad("GET / HTTP/1.1\r\nHost: a\r\nX:12\r\n\r\n", 431,
        "head one over max_head: 431");
    bad("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
        "\r\n",
        431, "endless empty lines hit max_head");

    reset_conf();
    nalloc = 3;
    good("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\n\r\n",
         "headers exactly at the array size");
    bad("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nD: 3\r\n\r\n", 431,
        "one header over the array size: 431");
    good("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nX_Y: 3\r\n\r\n",
         "ignored headers do not count");

    reset_conf();
}

static void
test_pipelined(void)
{
    const char *two = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
                      "POST /two HTTP/1.1\r\nHost: b\r\nContent-Length: 3"
                      "\r\n\r\nabc"
                      "\r\nHEAD /three HTTP/1.0\r\n\r\n";
    size_t off;
    wm_int_t rc;

    reset_conf();
    rc = parse(two);
    is_int(rc, WM_OK, "pipelined: first head");
    is_str(S(&head.path), "/one", "pipelined: first path");
    off = head.head_len;
    is_int(off, 30, "pipelined: first head_len");

    wm_http_parser_init(&parser, &conf, &head, hdrs, nalloc);
    rc = wm_http_parse_request(&parser, buf + off, buflen - off);
    is_int(rc, WM_OK, "pipelined: second head");
    is_str(S(&head.path), "/two", "pipelined: second path");
    is_int(head.content_length, 3, "pipelined: second length");
    off += head.head_len;
    is_str(S(&(wm_str_t) { 3, buf + off }), "abc", "pipelined: body after");
    off += 3;

    wm_http_parser_init(&parser, &conf, &head, hdrs, nalloc);
    rc = wm_http_parse_request(&parser, buf + off, buflen - off);
    is_int(rc, WM_OK, "pipelined: third head after a stray CRLF");
    is_int(head.method, WM_HTTP_HEAD, "pipelined: third is HEAD");
    is_int(off + head.head_len, buflen, "pipelined: all bytes consumed");

    /* the result is sticky */
    rc = wm_http_parse_request(&parser, buf + off, buflen - off);
    is_int(rc, WM_OK, "WM_OK is sticky");
    parse("BAD\x01");
    rc = wm_http_parse_request(&parser, buf, buflen);
    is_int(rc, WM_ERROR, "WM_ERROR is sticky");
}

static void
test_bad_requests(void)
{
    reset_conf();

    /* request line */
    bad("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "method with '@'");
    bad("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "method with '('");
    bad(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "leading space");
    BAD_N("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400,
          "TLS ClientHello on a plain port");
    bad("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "two spaces after method");
    bad("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400, "two spaces before version");
    bad("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "space after version");
    bad("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "tab as separator");
    bad("GET /\r\n\r\n", 400, "HTTP/0.9 request without version");
    bad("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP/2.0: 505");
    bad("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "h2 preface: 505");
    bad("GET / HTTP/0.9\r\n\r\n", 505, "explicit HTTP/0.9: 505");
    bad("GET / HTTP/3.1\r\nHost: a\r\n\r\n", 505, "HTTP/3.1: 505");
    bad("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, "two-digit minor");
    bad("GET / HTTP/11.1\r\nHost: a\r\n\r\n", 400, "two-digit major");
    bad("GET / HTTP/1\r\nHost: a\r\n\r\n", 400, "version without minor");
    bad("GET / http/1.1\r\nHost: a\r\n\r\n", 400, "lowercase version");
    bad("GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400, "letter minor");
    bad("GET / HTTPS/1.1\r\nHost: a\r\n\r\n", 400, "HTTPS/ version");
    bad("GET / HTTP/1.1\rHost: a\r\n\r\n", 400, "bare CR after version");
    bad("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bare CR before request");
    bad("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400, "fragment in target");
    bad("GET /a\\..\\b HTTP/1.1\r\nHost: a\r\n\r\n", 400,
        "backslash in target");
    bad("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400,
        "raw UTF-8 in target");
    bad("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "control in target");
    bad("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400, "DEL in target");
    bad("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "* without OPTIONS");
    bad("GET ** HTTP/1.1\r\nHost: a\r\n\r\n", 400, "** target");
    bad("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT origin-form");
    bad("CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", 400,
        "CONNECT without port");
    bad("CONNECT example.com:0 HTTP/1.1\r\nHost: a\r\n\r\n", 400,
        "CONNECT port 0");
    bad("CONNECT example.com:65536 HTTP/1.1\r\nHost: a\r\n\r\n", 400,
        "CONNECT port over 65535");
    bad("GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400,
        "authority-form without CONNECT");
    bad("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "relative target");
    bad("GET http:/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "scheme without //");
    bad("GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400,
        "scheme starting with a digit");
    bad("GET http://user:pw@host/ HTTP/1.1\r\nHost: a\r\n\r\n", 400,
        "userinfo in absolute-form");
    bad("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400,
        "absolute-form with empty host");
    bad("GET http://a:8x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400,
        "absolute-form with bad port");

    /* Host */
    bad("GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host");
    bad("GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, "HTTP/1.1 empty Host");
    bad("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "two Hosts");
    bad("GET / HTTP/1.1\r\nhost: a\r\nHOST: b\r\n\r\n", 400,
        "two Hosts in other cases");
    bad("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "space in Host");
    bad("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "slash in Host");
    bad("GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", 400, "backslash in Host");
    bad("GET / HTTP/1.1\r\nHost: a..b\r\n\r\n", 400, "\"..\" in Host");
    bad("GET / HTTP/1.1\r\nHost: .\r\n\r\n", 400, "Host \".\"");
    bad("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400, "'@' in Host");
    bad("GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", 400, "Host port too big");
    bad("GET / HTTP/1.1\r\nHost: a:1x\r\n\r\n", 400, "Host port not digits");
    bad("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "unclosed IPv6");
    bad("GET / HTTP/1.1\r\nHost: []\r\n\r\n", 400, "empty IPv6");
    bad("GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n", 400, "bad IPv6 digit");
    bad("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400, "junk after IPv6");
    bad("GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400, "Host with port only");
    bad("GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", 400, "UTF-8 Host");
    bad("GET http://a/ HTTP/1.1\r\n\r\n", 400,
        "absolute-form still needs Host in HTTP/1.1");

    /* header syntax */
    bad("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "space before colon");
    bad("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400, "tab before colon");
    bad("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400, "obs-fold");
    bad("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n", 400,
        "obs-fold with tab");
    bad("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400,
        "whitespace before the first header");
    bad("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01" "b\r\n\r\n", 400,
        "control in value");
    bad("GET / HTTP/1.1\r\nHost: a\r\nX: a\x1b[31m\r\n\r\n", 400,
        "escape sequence in value");
    BAD_N("GET / HTTP/1.1\r\nHost: a\r\nX: a\x00" "b\r\n\r\n", 400,
          "NUL in value");
    BAD_N("GET / HTTP/1.1\r\nHost: a\r\nX\x00: 1\r\n\r\n", 400,
          "NUL in name");
    BAD_N("GET /a\x00 HTTP/1.1\r\nHost: a\r\n\r\n", 400,
          "NUL in target");
    BAD_N("GET / HTTP/1.1\r\nHost: a\x00.b\r\n\r\n", 400,
          "NUL in Host");
    bad("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400, "DEL in value");
    bad("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400,
        "bare CR in value");
    bad("GET / HTTP/1.1\r\nHost: a\r\nFoo\r\n\r\n", 400, "no colon");
    bad("GET / HTTP/1.1\r\nHost: a\r\nF\x01o: 1\r\n\r\n", 400,
        "control in name");
    bad("GET / HTTP/1.1\r\nHost: a\r\nF\ro: 1\r\n\r\n", 400, "CR in name");
    bad("GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400, "empty name");
    bad("GET / HTTP/1.1\r\nHost: a\r\n\rX", 400, "bare CR at end of head");
    /* nginx keeps invalid names when told not to ignore them. */
    conf.ignore_invalid_headers = 0;
    if (good("GET / HTTP/1.1\r\nHost: a\r\nX{}: 1\r\n\r\n",
             "invalid name kept with ignore_invalid_headers off"))
    {
        is_int(head.nheaders, 2, "  the invalid name is a header");
        is_int(head.ninvalid, 0, "  and is not counted as ignored");
    }
    if (good("GET / HTTP/1.1\r\nHost: a\r\nX_Y: 1\r\n\r\n",
             "underscore kept with ignore_invalid_headers off"))
    {
        ok(head.nheaders == 2 && head.headers[1].name.len == 3
               && memcmp(head.headers[1].name.data, "X_Y", 3) == 0,
           "  X_Y is the second header");
    }
    reset_conf();

    /* Content-Length */
    bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400,
        "Content-Length letters");
    bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400,
        "Content-Length negative");
    bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400,
        "Content-Length with sign");
    bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n", 400,
        "Content-Length list");
    bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400,
        "Content-Length with inner space");
    bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400,
        "Content-Length empty");
    bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
        "9223372036854775808\r\n\r\n",
        400, "Content-Length overflow by one");
    bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
        "99999999999999999999999\r\n\r\n",
        400, "Content-Length huge");
    bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
        "Content-Length: 6\r\n\r\n",
        400, "two different Content-Lengths");

    /* Transfer-Encoding */
    bad("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        400, "Content-Length and Transfer-Encoding");
    bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
        "Content-Length: 5\r\n\r\n",
        400, "Transfer-Encoding and Content-Length");
    bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
        "unknown coding: 501");
    bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
        501, "identity coding: 501");
    bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n"
        "\r\n",
        501, "gzip then chunked: 501");
    bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n"
        "\r\n",
        400, "chunked not final: 400");
    bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked"
        "\r\n\r\n",
        400, "chunked twice: 400");
    bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n"
        "\r\n",
        400, "chunked with a parameter: 400");
    bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        400, "two Transfer-Encoding lines: 400");
    bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400,
        "empty Transfer-Encoding");
    bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n"
        "\r\n",
        400, "quoted coding");
    bad("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked x\r\n"
        "\r\n",
        400, "two words in one element");
    bad("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
        "Transfer-Encoding in HTTP/1.0");

    /* Expect */
    bad("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417,
        "unknown expectation: 417");
    bad("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n\r\n", 417,
        "100-continue with another: 417");
}

/* ---- URI normalisation ------------------------------------------------ */

/* True when p starts with '/' and has no "." or ".." segment. */
static int
path_is_safe(const wm_str_t *p)
{
    size_t i, s;

    if (p->len == 0 || p->data[0] != '/') {
        return 0;
    }
    for (i = 1, s = 1; i <= p->len; i++) {
        if (i == p->len || p->data[i] == '/') {
            size_t n = i - s;

            if ((n == 1 && p->data[s] == '.')
                || (n == 2 && p->data[s] == '.' && p->data[s + 1] == '.'))
            {
                return 0;
            }
            s = i + 1;
        }
    }
    return 1;
}

static void
uri_case(const char *raw, wm_uint_t flags, const char *want)
{
    u_char out[256];
    wm_str_t r = { strlen(raw), (u_char *) raw };
    wm_http_uri_t uri;
    wm_int_t rc;
    char name[300];

    memset(out, 0xAA, sizeof(out));
    rc = wm_http_uri_normalize(&r, out, flags, &uri);
    snprintf(name, sizeof(name), "normalize %s%s -> %s", raw,
             (flags & WM_HTTP_URI_MERGE_SLASHES) ? " (merge)" : "",
             want ? want : "400");
    if (want == NULL) {
        if (!ok(rc == WM_ERROR, name)) {
            diag("got %.*s", (int) uri.path.len, uri.path.data);
        }
        return;
    }
    if (rc != WM_OK) {
        ok(0, name);
        return;
    }
    if (!ok(uri.path.len <= r.len && path_is_safe(&uri.path)
                && strlen(want) == uri.path.len
                && memcmp(want, uri.path.data, uri.path.len) == 0,
            name))
    {
        diag("got '%.*s'", (int) uri.path.len, uri.path.data);
    }
}

static void
test_uri(void)
{
    static const char *hostile[] = {
        "/../etc/passwd", "/a/%2e%2e/%2e%2e/x", "/a/..%2f..%2fx", "//..",
        "/..", "/.%2e", "/%2e%2E/", "/a/b/../../..", "/a/./../../b",
        "/..%2F", "/%2f..", "/a/%2F%2E%2E%2F%2E%2E", "/./.././", "/a/.../..",
        "/..\\..\\etc/passwd", "/a\\..\\..\\b", "/%5c..%5c..%5cetc",
        "/a/b/c/../../../../d", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/a//../../b", "///../../", "/a/.%2e/.%2e/", "/%252e%252e/",
        "/..;/x", "/.../../", "/a/b/..%00/", "/%", "/%2", "/%zz", "/%0",
        "/a%00b", "/a/..//../b",
    };
    size_t i, k;
    u_char out[256];
    wm_http_uri_t uri;

    uri_case("/", 0, "/");
    uri_case("/a/b/c", 0, "/a/b/c");
    uri_case("/a/b/", 0, "/a/b/");
    uri_case("/a%20b/%41", 0, "/a b/A");
    uri_case("/a+b", 0, "/a+b");
    uri_case("/a/./b", 0, "/a/b");
    uri_case("/a/.", 0, "/a/");
    uri_case("/a/..", 0, "/");
    uri_case("/a/b/..", 0, "/a/");
    uri_case("/a/b/../c", 0, "/a/c");
    uri_case("/a/b/../../c", 0, "/c");
    uri_case("/./a", 0, "/a");
    uri_case("/...", 0, "/...");
    uri_case("/..a/a..", 0, "/..a/a..");
    uri_case("/a/%2e/b", 0, "/a/b");
    uri_case("/a/%2E%2e/b", 0, "/b");
    uri_case("/a%2fb", 0, "/a/b");
    uri_case("/a/b%2f..%2fc", 0, "/a/c");
    uri_case("/a//b", 0, "/a//b");
    uri_case("/a//b", WM_HTTP_URI_MERGE_SLASHES, "/a/b");
    uri_case("//a///b//", WM_HTTP_URI_MERGE_SLASHES, "/a/b/");
    uri_case("//..", 0, "/");
    uri_case("//..", WM_HTTP_URI_MERGE_SLASHES, NULL);
    uri_case("/a//..", 0, "/a/");
    uri_case("/a\\..\\b", 0, "/a\\..\\b");
    uri_case("/%5c..%5c", 0, "/\\..\\");
    uri_case("/%252e", 0, "/%2e");
    uri_case("/..", 0, NULL);
    uri_case("/../etc/passwd", 0, NULL);
    uri_case("/a/%2e%2e/%2e%2e/x", 0, NULL);
    uri_case("/a/..%2f..%2fx", 0, NULL);
    uri_case("/a/b/../../..", 0, NULL);
    uri_case("/%", 0, NULL);
    uri_case("/%4", 0, NULL);
    uri_case("/%g0", 0, NULL);
    uri_case("/%00", 0, NULL);
    uri_case("a/b", 0, NULL);
    uri_case("", 0, NULL);

    {
        wm_str_t r = wm_string("/x%2Fy/./z");

        wm_http_uri_normalize(&r, out, 0, &uri);
        ok(uri.quoted_slash && uri.quoted && uri.dot_segments,
           "flags: quoted_slash, quoted, dot_segments");
        r.data = (u_char *) "//x";
        r.len = 3;
        wm_http_uri_normalize(&r, out, WM_HTTP_URI_MERGE_SLASHES, &uri);
        ok(uri.merged && !uri.quoted && !uri.dot_segments, "flags: merged");
    }

    for (i = 0; i < wm_nelems(hostile); i++) {
        for (k = 0; k < 2; k++) {
            wm_str_t r = { strlen(hostile[i]), (u_char *) hostile[i] };
            wm_int_t rc;
            char name[200];

            rc = wm_http_uri_normalize(&r, out,
                                       k ? WM_HTTP_URI_MERGE_SLASHES : 0,
                                       &uri);
            snprintf(name, sizeof(name), "hostile %s%s: %s", hostile[i],
                     k ? " (merge)" : "",
                     rc == WM_OK ? "safe" : "refused");
            if (!ok(rc == WM_ERROR
                        || (path_is_safe(&uri.path) && uri.path.len <= r.len),
                    name))
            {
                diag("got '%.*s'", (int) uri.path.len, uri.path.data);
            }
        }
    }

    /* a parsed head's path goes straight in */
    reset_conf();
    if (good("GET /a/./b/../%63?x=/.. HTTP/1.1\r\nHost: a\r\n\r\n",
             "head for normalize"))
    {
        wm_int_t rc = wm_http_uri_normalize(&head.path, out, 0, &uri);

        ok(rc == WM_OK && uri.path.len == 4
               && memcmp(uri.path.data, "/a/c", 4) == 0,
           "normalized head path, args untouched");
        is_str(S(&head.args), "x=/..", "args kept raw");
    }
}

/* ---- chunked ---------------------------------------------------------- */

/*
 * Decodes in[0..n) fed in pieces of `step` bytes (0: whole), appending the
 * data to out. Returns the final code; *used gets the bytes consumed.
 */
static wm_int_t
chunked_run(wm_http_chunked_t *c, const char *in, size_t n, size_t step,
            size_t split, char *out, size_t *outlen, size_t *consumed)
{
    static u_char copy[4096];
    size_t off = 0, end, used;
    wm_int_t rc = WM_AGAIN;
    wm_str_t d;

    wm_http_chunked_init(c);
    *outlen = 0;
    memcpy(copy, in, n);
    while (off < n || rc == WM_OK) {
        if (split) {
            end = (off < split) ? split : n;
        } else {
            end = step ? wm_min(off + step, n) : n;
        }
        rc = wm_http_chunked_parse(c, copy + off, end - off, &used, &d);
        off += used;
        if (rc == WM_OK) {
            memcpy(out + *outlen, d.data, d.len);
            *outlen += d.len;
            continue;
        }
        if (rc != WM_AGAIN) {
            break;
        }
        if (off >= n) {
            break;
        }
    }
    *consumed = off;
    return rc;
}

static void
chunked_case(const char *in, size_t n, wm_int_t want_rc, const char *want,
             size_t want_used, const char *name)
{
    wm_http_chunked_t c;
    char out[4096], out2[4096], tn[256];
    size_t outlen, outlen2, used, used2, k;
    wm_int_t rc, rc2;
    int same = 1;

    rc = chunked_run(&c, in, n, 0, 0, out, &outlen, &used);
    snprintf(tn, sizeof(tn), "chunked %s", name);
    if (!ok(rc == want_rc && (want == NULL || (outlen == strlen(want)
                                               && memcmp(out, want, outlen)
                                                      == 0))
                && (want_rc != WM_DONE || used == want_used),
            tn))
    {
        diag("rc %d used %zu data '%.*s'", (int) rc, used, (int) outlen, out);
    }

    for (k = 1; k < n; k++) {
        rc2 = chunked_run(&c, in, n, 0, k, out2, &outlen2, &used2);
        if (rc2 != rc || outlen2 != outlen || memcmp(out, out2, outlen) != 0
            || (rc == WM_DONE && used2 != used))
        {
            same = 0;
            diag("split at %zu differs: rc %d used %zu", k, (int) rc2, used2);
            break;
        }
    }
    rc2 = chunked_run(&c, in, n, 1, 0, out2, &outlen2, &used2);
    if (rc2 != rc || outlen2 != outlen || memcmp(out, out2, outlen) != 0
        || (rc == WM_DONE && used2 != used))
    {
        same = 0;
        diag("byte by byte differs: rc %d used %zu", (int) rc2, used2);
    }
    snprintf(tn, sizeof(tn), "chunked %s: same at every split", name);
    ok(same, tn);
}

#define CH(in, rc, want, used, name)                                           \
    chunked_case(in, sizeof(in) - 1, rc, want, used, name)

static void
test_chunked(void)
{
    wm_http_chunked_t c;
    wm_str_t d;
    size_t used;
    u_char big[] = "fffffffffffffffff\r\n";

    CH("5\r\nhello\r\n0\r\n\r\n", WM_DONE, "hello", 15, "one chunk");
    CH("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET", WM_DONE, "hello world",
       26, "two chunks, next request after");
    CH("A\r\n0123456789\r\n0\r\n\r\n", WM_DONE, "0123456789", 20,
       "uppercase hex");
    CH("00000003\r\nabc\r\n0\r\n\r\n", WM_DONE, "abc", 20, "leading zeros");
    CH("3;name=val;x\r\nabc\r\n0;last\r\n\r\n", WM_DONE, "abc", 29,
       "extensions skipped");
    CH("3 ;a\r\nabc\r\n0\r\n\r\n", WM_DONE, "abc", 16, "BWS before ';'");
    CH("3\nabc\n0\n\n", WM_DONE, "abc", 9, "bare LF everywhere");
    CH("3\r\nabc\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\nrest", WM_DONE, "abc", 29,
       "trailer fields skipped");
    CH("0\r\n\r\n", WM_DONE, "", 5, "empty body");
    CH("3\r\nabc\r\n", WM_AGAIN, "abc", 0, "incomplete body");
    CH("", WM_AGAIN, "", 0, "no bytes");
    CH("\r\n", WM_ERROR, NULL, 0, "empty size line");
    CH("x\r\n", WM_ERROR, NULL, 0, "bad hex");
    CH("-1\r\n", WM_ERROR, NULL, 0, "negative size");
    CH("0x5\r\nhello\r\n", WM_ERROR, NULL, 0, "0x prefix");
    CH("3 \r\nabc\r\n0\r\n\r\n", WM_ERROR, NULL, 0,
       "whitespace without extension");
    CH("3\r\nabcd\r\n0\r\n\r\n", WM_ERROR, NULL, 0, "chunk longer than size");
    CH("3\r\nabc0\r\n\r\n", WM_ERROR, NULL, 0, "missing CRLF after data");
    CH("3\rabc\r\n", WM_ERROR, NULL, 0, "bare CR after size");
    CH("3\r\nabc\rX", WM_ERROR, NULL, 0, "bare CR after data");
    CH("3;a\x01\r\nabc\r\n", WM_ERROR, NULL, 0, "control in extension");
    CH("0\r\nX: a\x00\r\n\r\n", WM_ERROR, NULL, 0, "NUL in trailer");
    CH("0\r\nX: a\rb\r\n\r\n", WM_ERROR, NULL, 0, "bare CR in trailer");
    CH("0\r\n folded\r\n\r\n", WM_ERROR, NULL, 0, "obs-fold in trailer");
    CH("0\r\n\rX", WM_ERROR, NULL, 0, "bare CR at end");
    CH("fffffffffffffffff\r\n", WM_ERROR, NULL, 0, "size overflow");
    CH("7fffffffffffffff\r\nab", WM_AGAIN, "ab", 0, "largest size");

    /* limits */
    wm_http_chunked_init(&c);
    c.max_line = 8;
    ok(wm_http_chunked_parse(&c, (u_char *) "3;abcdef\r\n", 10, &used, &d)
           == WM_AGAIN,
       "chunk line at its limit");
    wm_http_chunked_init(&c);
    c.max_line = 8;
    ok(wm_http_chunked_parse(&c, (u_char *) "3;abcdefg\r\n", 11, &used, &d)
           == WM_ERROR,
       "chunk line over its limit");
    wm_http_chunked_init(&c);
    c.max_trailer = 4;
    ok(wm_http_chunked_parse(&c, (u_char *) "0\r\nA: 1\r\n\r\n", 11, &used,
                             &d)
           == WM_DONE,
       "trailer at its limit");
    wm_http_chunked_init(&c);
    c.max_trailer = 4;
    ok(wm_http_chunked_parse(&c, (u_char *) "0\r\nA: 12\r\n\r\n", 12,
                             &used, &d)
           == WM_ERROR,
       "trailer over its limit");

    /* sticky results, totals */
    wm_http_chunked_init(&c);
    wm_http_chunked_parse(&c, big, sizeof(big) - 1, &used, &d);
    ok(wm_http_chunked_parse(&c, (u_char *) "1\r\n", 3, &used, &d)
           == WM_ERROR
           && c.error != NULL,
       "WM_ERROR is sticky, with a reason");
    wm_http_chunked_init(&c);
    ok(wm_http_chunked_parse(&c, (u_char *) "2\r\nab\r\n0\r\n\r\n", 12, &used,
                             &d)
           == WM_OK
           && c.total == 2 && used == 5,
       "data slice reported with its bytes consumed");
    ok(wm_http_chunked_parse(&c, (u_char *) "\r\n0\r\n\r\n", 7, &used, &d)
           == WM_DONE
           && used == 7,
       "end after the data");
    ok(wm_http_chunked_parse(&c, (u_char *) "x", 1, &used, &d) == WM_DONE
           && used == 0,
       "WM_DONE is sticky");
}

int
main(void)
{
    test_valid_shapes();
    test_headers();
    test_limits();
    test_pipelined();
    test_bad_requests();
    test_uri();
    test_chunked();
    return tap_done();
}
