/*
 * Unit tests of the upstream response head parser and of the framing
 * decision (wm_http_parse_status(), wm_http_response_framing()): each rule
 * of the contract in wm_http_parse.h with its exact fields, each refusal
 * with its exact "upstream sent ..." error. Every response of this file is
 * also parsed byte by byte and in two pieces at every split position, the
 * first piece in a buffer freed before the second call, and must give the
 * same result as the whole parse without writing to the buffer.
 */
#include "wm_http_parse.h"

#include "tap.h"

#define NHDRS 16

static wm_http_parse_conf_t conf;
static wm_http_header_t hdrs[NHDRS];
static wm_http_status_t st;
static wm_http_parser_t parser;
static u_char *buf; /* the whole parse's buffer, exactly the input's size */
static size_t buflen;
static size_t nalloc = NHDRS;
static unsigned long nsplits, nparsed, ndiffer;

/* ---- helpers ---------------------------------------------------------- */

static void
reset_conf(void)
{
    wm_http_parse_conf_init(&conf);
    nalloc = NHDRS;
}

/* A slice as an offset into base, so that two parses compare. */
static void
dump_str(char *out, size_t size, const char *name, const wm_str_t *s,
         const u_char *base, size_t len)
{
    size_t n = strlen(out);
    uintptr_t d = (uintptr_t) s->data, b = (uintptr_t) base;

    if (s->data == NULL) {
        snprintf(out + n, size - n, "%s=null ", name);
    } else if (d >= b && d - b + s->len <= len) {
        snprintf(out + n, size - n, "%s=%zu+%zu ", name, (size_t) (d - b),
                 s->len);
    } else {
        snprintf(out + n, size - n, "%s=OUTSIDE ", name);
    }
}

static void
dump_status(char *out, size_t size, wm_int_t rc, const wm_http_status_t *s,
            const u_char *base, size_t len)
{
    size_t i, n;

    snprintf(out, size, "rc=%d error=%s ", (int) rc,
             s->error ? s->error : "-");
    if (rc != WM_OK) {
        return;
    }
    dump_str(out, size, "sl", &s->status_line, base, len);
    dump_str(out, size, "r", &s->reason, base, len);
    dump_str(out, size, "te", &s->transfer_encoding, base, len);
    dump_str(out, size, "up", &s->upgrade, base, len);
    dump_str(out, size, "lo", &s->location, base, len);
    dump_str(out, size, "ct", &s->content_type, base, len);
    dump_str(out, size, "da", &s->date, base, len);
    dump_str(out, size, "se", &s->server, base, len);
    for (i = 0; i < s->nheaders; i++) {
        dump_str(out, size, "n", &s->headers[i].name, base, len);
        dump_str(out, size, "v", &s->headers[i].value, base, len);
    }
    n = strlen(out);
    snprintf(out + n, size - n,
             "v=%lu s=%lu i=%d cl=%lld sc=%zu kat=%lld ch=%d ka=%d cc=%d "
             "ck=%d cu=%d nh=%zu hl=%zu",
             (unsigned long) s->version, (unsigned long) s->status,
             s->interim, (long long) s->content_length, s->nset_cookie,
             (long long) s->keep_alive_timeout, s->chunked, s->keep_alive,
             s->conn_close, s->conn_keep_alive, s->conn_upgrade, s->nheaders,
             s->head_len);
}

static u_char *
copy_of(const char *s, size_t len)
{
    u_char *b = malloc(len ? len : 1);

    if (b == NULL) {
        abort();
    }
    memcpy(b, s, len);
    return b;
}

static void
differ(const char *how, const char *whole, const char *other)
{
    if (ndiffer++ < 5) {
        ok(0, how);
        diag("whole: %s", whole);
        diag("other: %s", other);
    }
}

/*
 * Parses s whole into the globals (in a buffer of exactly len bytes, so
 * that ASan sees a read past the end). Before that, parses it byte by byte
 * in a buffer that moves every 16 bytes, and in two pieces at every split
 * position; any difference from the whole parse fails a check. Also checks
 * that the buffer is unchanged and that the result is sticky.
 */
static wm_int_t
parse_n(const char *s, size_t len)
{
    static char whole[8192], piece[8192];
    static wm_http_header_t h2[NHDRS];
    wm_http_status_t st2;
    wm_http_parser_t p2;
    u_char *a, *b;
    wm_int_t rc, rc2 = WM_AGAIN;
    size_t i, k;

    free(buf);
    buf = copy_of(s, len);
    buflen = len;
    wm_http_parser_init_status(&parser, &conf, &st, hdrs, nalloc);
    rc = wm_http_parse_status(&parser, buf, len);
    dump_status(whole, sizeof(whole), rc, &st, buf, len);
    nparsed++;

    if (memcmp(buf, s, len) != 0) {
        ok(0, "the parser does not write to the buffer");
    }
    if (rc != WM_AGAIN) {
        /* sticky: the same answer with the same and with more bytes */
        wm_int_t again = wm_http_parse_status(&parser, buf, len);

        dump_status(piece, sizeof(piece), again, &st, buf, len);
        if (strcmp(whole, piece) != 0) {
            differ("a second call gives the same result", whole, piece);
        }
    }

    /* byte by byte, the buffer moving every 16 bytes */
    a = NULL;
    wm_http_parser_init_status(&p2, &conf, &st2, h2, nalloc);
    for (i = 1; i <= len && rc2 == WM_AGAIN; i++) {
        if (a == NULL || i % 16 == 0) {
            b = copy_of(s, len);
            free(a);
            a = b;
        }
        rc2 = wm_http_parse_status(&p2, a, i);
    }
    if (len == 0) {
        a = copy_of(s, 0);
        rc2 = wm_http_parse_status(&p2, a, 0);
    }
    dump_status(piece, sizeof(piece), rc2, &st2, a, len);
    if (strcmp(whole, piece) != 0) {
        differ("byte-by-byte parse equals whole parse", whole, piece);
    }
    free(a);

    /* two pieces at every split (every 64th of a long one); the first
     * buffer is freed in between */
    for (k = 0; k <= len; k += (len > 4096 ? len / 64 : 1)) {
        a = copy_of(s, k);
        wm_http_parser_init_status(&p2, &conf, &st2, h2, nalloc);
        rc2 = wm_http_parse_status(&p2, a, k);
        b = copy_of(s, len);
        free(a);
        rc2 = wm_http_parse_status(&p2, b, len);
        dump_status(piece, sizeof(piece), rc2, &st2, b, len);
        if (strcmp(whole, piece) != 0) {
            char how[64];

            snprintf(how, sizeof(how), "split at %zu equals whole parse", k);
            differ(how, whole, piece);
        }
        free(b);
        nsplits++;
    }
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

/* A response of n bytes that must be refused with exactly this error. */
static void
bad_n(const char *resp, size_t n, const char *error, const char *name)
{
    wm_int_t rc = parse_n(resp, n);

    if (!ok(rc == WM_ERROR && st.error != NULL
                && strcmp(st.error, error) == 0,
            name))
    {
        diag("rc %d error '%s', expected '%s'", (int) rc,
             st.error ? st.error : "-", error);
    }
}

#define BAD_N(lit, error, name) bad_n(lit, sizeof(lit) - 1, error, name)

static void
bad(const char *resp, const char *error, const char *name)
{
    bad_n(resp, strlen(resp), error, name);
}

/* A response that must parse; head_len must be its whole length. */
static int
good(const char *resp, const char *name)
{
    wm_int_t rc = parse(resp);

    if (!ok(rc == WM_OK && st.head_len == strlen(resp), name)) {
        diag("rc %d error '%s' head_len %zu of %zu", (int) rc,
             st.error ? st.error : "-", st.head_len, strlen(resp));
        return 0;
    }
    return 1;
}

#define E_CL "upstream sent invalid \"Content-Length\" header"
#define E_TE "upstream sent invalid \"Transfer-Encoding\" header"
#define E_TE_UNKNOWN "upstream sent unknown \"Transfer-Encoding\""
#define E_NAME "upstream sent invalid header name"
#define E_LINE "upstream sent invalid header line"
#define E_VERSION "upstream sent invalid HTTP version"
#define E_CODE "upstream sent invalid status code"
#define E_NOSTATUS "upstream sent no valid HTTP/1.x status line"

/* ---- the status line -------------------------------------------------- */

static void
test_status_line(void)
{
    wm_int_t rc;

    reset_conf();

    if (good("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b c \t\r\n\r\n",
             "simple 200"))
    {
        is_str(S(&st.status_line), "HTTP/1.1 200 OK", "status line");
        is_int(st.version, WM_HTTP_VERSION_11, "version 1.1");
        is_int(st.status, 200, "status 200");
        is_str(S(&st.reason), "OK", "reason");
        is_int(st.interim, 0, "200 is final");
        is_int(st.nheaders, 2, "two headers");
        is_str(S(&st.headers[0].name), "Content-Length", "name as sent");
        is_str(S(&st.headers[0].value), "5", "value");
        is_str(S(&st.headers[1].value), "b c", "value without OWS");
        is_int(st.content_length, 5, "content length");
        is_int(st.chunked, 0, "not chunked");
        is_int(st.keep_alive, 1, "1.1 keep-alive by default");
        is_int(st.keep_alive_timeout, -1, "no Keep-Alive header");
        ok(st.location.data == NULL && st.content_type.data == NULL
               && st.date.data == NULL && st.server.data == NULL
               && st.upgrade.data == NULL
               && st.transfer_encoding.data == NULL,
           "absent headers are null slices");
        is_int(st.nset_cookie, 0, "no Set-Cookie");
    }

    if (good("HTTP/1.1 404 Not  Found \t\x80\xff!~\r\n\r\n",
             "reason with SP, HTAB, visible ASCII and obs-text"))
    {
        is_str(S(&st.reason), "Not  Found \t\x80\xff!~", "reason as sent");
        is_int(st.status, 404, "status 404");
        is_int(st.nheaders, 0, "no headers");
    }
    if (good("HTTP/1.1 200\r\n\r\n", "no reason and no SP")) {
        is_str(S(&st.reason), "", "empty reason");
        ok(st.reason.data != NULL, "empty reason is not a null slice");
        is_str(S(&st.status_line), "HTTP/1.1 200", "short status line");
    }
    if (good("HTTP/1.1 503 \r\n\r\n", "SP and empty reason")) {
        is_str(S(&st.reason), "", "empty reason after SP");
        is_str(S(&st.status_line), "HTTP/1.1 503 ", "status line keeps SP");
    }
    if (good("HTTP/1.0 200 OK\r\n\r\n", "HTTP/1.0")) {
        is_int(st.version, WM_HTTP_VERSION_10, "version 1.0");
        is_int(st.keep_alive, 0, "1.0 closes by default");
    }
    if (good("HTTP/1.9 200 OK\r\n\r\n", "HTTP/1.9")) {
        is_int(st.version, WM_HTTP_VERSION_11, "HTTP/1.9 taken as 1.1");
    }
    if (good("HTTP/1.1 100 Continue\r\n\r\n", "lowest status")) {
        is_int(st.status, 100, "status 100");
    }
    if (good("HTTP/1.1 599 X\r\n\r\n", "highest status")) {
        is_int(st.status, 599, "status 599");
    }
    if (good("HTTP/1.1 200 OK\nServer: a\n\n", "bare LF line endings")) {
        is_str(S(&st.server), "a", "bare LF: header value");
        is_str(S(&st.status_line), "HTTP/1.1 200 OK", "bare LF: status line");
    }

    rc = parse("");
    is_int(rc, WM_AGAIN, "no bytes: WM_AGAIN");
    rc = parse("HTT");
    is_int(rc, WM_AGAIN, "a prefix of HTTP/: WM_AGAIN");
    rc = parse("HTTP/1.1 200 OK\r\nA: b\r\n");
    is_int(rc, WM_AGAIN, "incomplete head: WM_AGAIN");
    rc = parse("HTTP/1.1 200 OK\r\n\r");
    is_int(rc, WM_AGAIN, "CR of the empty line: WM_AGAIN");

    bad("HTX", E_NOSTATUS, "HTX fails at once");
    bad("<html>hello</html>", E_NOSTATUS, "HTTP/0.9 body refused");
    bad("http/1.1 200 OK\r\n\r\n", E_NOSTATUS, "lowercase version");
    bad("\r\nHTTP/1.1 200 OK\r\n\r\n", E_NOSTATUS, "empty line first");
    bad(" HTTP/1.1 200 OK\r\n\r\n", E_NOSTATUS, "SP first");
    bad("HTTP/2 200\r\n\r\n", "upstream sent unsupported HTTP version",
        "HTTP/2");
    bad("HTTP/2.0 200 OK\r\n\r\n", "upstream sent unsupported HTTP version",
        "HTTP/2.0");
    bad("HTTP/0.9 200 OK\r\n\r\n", "upstream sent unsupported HTTP version",
        "HTTP/0.9 status line");
    bad("HTTP/x.1 200 OK\r\n\r\n", E_VERSION, "letter major");
    bad("HTTP/1,1 200 OK\r\n\r\n", E_VERSION, "comma in version");
    bad("HTTP/1. 200 OK\r\n\r\n", E_VERSION, "no minor");
    bad("HTTP/1.10 200 OK\r\n\r\n", E_VERSION, "two-digit minor");
    bad("HTTP/1.1\r\n\r\n", "upstream sent invalid status line",
        "version alone");
    bad("HTTP/1.1x200 OK\r\n\r\n", "upstream sent invalid status line",
        "no SP after version");
    bad("HTTP/1.1\t200 OK\r\n\r\n", "upstream sent invalid status line",
        "HTAB after version");
    bad("HTTP/1.1  200 OK\r\n\r\n", E_CODE, "two SP after version");
    bad("HTTP/1.1 099 X\r\n\r\n", E_CODE, "status 099");
    bad("HTTP/1.1 600 X\r\n\r\n", E_CODE, "status 600");
    bad("HTTP/1.1 20 OK\r\n\r\n", E_CODE, "two-digit status");
    bad("HTTP/1.1 2000 OK\r\n\r\n", E_CODE, "four-digit status");
    bad("HTTP/1.1 2x0 OK\r\n\r\n", E_CODE, "letter in status");
    bad("HTTP/1.1 200\tOK\r\n\r\n", E_CODE, "HTAB after status");
    bad("HTTP/1.1 200\r\r\n\r\n", "upstream sent bare CR",
        "bare CR after status");
    bad("HTTP/1.1 200 OK\rX\r\n\r\n", "upstream sent bare CR",
        "bare CR in status line");
    BAD_N("HTTP/1.1 200 O\x00K\r\n\r\n",
          "upstream sent invalid reason phrase", "NUL in reason");
    bad("HTTP/1.1 200 O\x7fK\r\n\r\n", "upstream sent invalid reason phrase",
        "DEL in reason");
    bad("HTTP/1.1 200 O\x01K\r\n\r\n", "upstream sent invalid reason phrase",
        "control in reason");
}

/* ---- header fields ---------------------------------------------------- */

static void
test_headers(void)
{
    static const struct {
        const char *headers;
        int64_t timeout;
        const char *name;
    } ka[] = {
        { "Keep-Alive: timeout=5, max=100\r\n", 5, "timeout first" },
        { "Keep-Alive: max=100, Timeout = 7 \r\n", 7,
          "timeout second, any case, OWS" },
        { "Keep-Alive: timeout=999999999\r\n", 999999999, "nine digits" },
        { "Keep-Alive: timeout=1000000000\r\n", -1, "ten digits: -1" },
        { "Keep-Alive: timeout=5s\r\n", -1, "trailing junk: -1" },
        { "Keep-Alive: timeout\r\n", -1, "no '=': -1" },
        { "Keep-Alive: timeout=\"5\"\r\n", -1, "quoted: -1" },
        { "Keep-Alive: timeout=,max=1\r\n", -1, "no digits: -1" },
        { "Keep-Alive: max=3, timeouts=4\r\nKeep-Alive: timeout=9\r\n", 9,
          "timeout from the second line" },
        { "Keep-Alive: timeout=3\r\nKeep-Alive: timeout=9\r\n", 3,
          "the first timeout wins" },
    };
    size_t i;

    reset_conf();

    if (good("HTTP/1.1 302 Found\r\n"
             "location: /a\r\n"
             "Location: /b\r\n"
             "CONTENT-TYPE: text/html\r\n"
             "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
             "Server:wm\r\n"
             "Set-Cookie: a=1\r\n"
             "set-cookie: b=2\r\n"
             "Upgrade: websocket\r\n"
             "Upgrade: h2c\r\n"
             "X_Under_Score: 1\r\n"
             "!#$%&'*+-.^_`|~09az: t\r\n"
             "Empty:\r\n"
             "Content-Length: 0\r\n"
             "\r\n",
             "recognised headers"))
    {
        is_int(st.nheaders, 13, "every header kept, in order");
        is_str(S(&st.location), "/a", "first Location");
        is_str(S(&st.content_type), "text/html", "Content-Type any case");
        is_str(S(&st.date), "Sun, 06 Nov 1994 08:49:37 GMT", "Date");
        is_str(S(&st.server), "wm", "Server without OWS");
        is_int(st.nset_cookie, 2, "two Set-Cookie lines");
        is_str(S(&st.upgrade), "websocket", "first Upgrade");
        is_str(S(&st.headers[9].name), "X_Under_Score",
               "underscore kept without underscores_in_headers");
        is_str(S(&st.headers[10].name), "!#$%&'*+-.^_`|~09az",
               "every tchar in a name");
        is_str(S(&st.headers[11].value), "", "empty value");
        is_int(st.content_length, 0, "Content-Length 0");
    }

    /* Connection and the keep-alive decision */
    if (good("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
             "1.1 Connection: close"))
    {
        is_int(st.conn_close, 1, "close token");
        is_int(st.keep_alive, 0, "1.1 close: not kept");
    }
    if (good("HTTP/1.1 101 Switching Protocols\r\n"
             "Connection: foo , Upgrade,\t keep-alive,,\r\n"
             "connection: bar\r\n\r\n",
             "Connection token list"))
    {
        is_int(st.conn_upgrade, 1, "upgrade token");
        is_int(st.conn_keep_alive, 1, "keep-alive token");
        is_int(st.conn_close, 0, "no close token");
        is_int(st.keep_alive, 1, "1.1 without close: kept");
        is_int(st.interim, 0, "101 is not interim");
    }
    if (good("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n",
             "1.0 Connection: keep-alive"))
    {
        is_int(st.keep_alive, 1, "1.0 keep-alive: kept");
    }
    if (good("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
             "Connection: close\r\n\r\n",
             "1.0 keep-alive and close"))
    {
        is_int(st.keep_alive, 0, "close wins over keep-alive");
    }
    if (good("HTTP/1.1 200 OK\r\nConnection: closed, xclose\r\n\r\n",
             "tokens that only look like close"))
    {
        is_int(st.conn_close, 0, "no close token in closed, xclose");
        is_int(st.keep_alive, 1, "still kept");
    }

    /* Keep-Alive: timeout=N, from the first line that has a good one */
    for (i = 0; i < wm_nelems(ka); i++) {
        char resp[256], name[160];

        snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\n%s\r\n",
                 ka[i].headers);
        snprintf(name, sizeof(name), "Keep-Alive %s", ka[i].name);
        if (good(resp, name)) {
            is_int(st.keep_alive_timeout, ka[i].timeout, ka[i].name);
        }
    }

    /* the refusals of the header-field states */
    bad("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n",
        "upstream sent obsolete line folding or whitespace before a header "
        "line",
        "obs-fold");
    bad("HTTP/1.1 200 OK\r\n\tA: b\r\n\r\n",
        "upstream sent obsolete line folding or whitespace before a header "
        "line",
        "HTAB before the first header");
    bad("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
        "upstream sent whitespace before colon", "SP before colon");
    bad("HTTP/1.1 200 OK\r\nA\t: 5\r\n\r\n",
        "upstream sent whitespace before colon", "HTAB before colon");
    bad("HTTP/1.1 200 OK\r\n: b\r\n\r\n", "upstream sent header without name",
        "empty name");
    bad("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        "upstream sent header without colon", "no colon");
    bad("HTTP/1.1 200 OK\r\nNoColon\n\n",
        "upstream sent header without colon", "no colon, bare LF");
    bad("HTTP/1.1 200 OK\r\nA(b): c\r\n\r\n", E_NAME, "'(' in a name");
    bad("HTTP/1.1 200 OK\r\n@a: c\r\n\r\n", E_NAME, "'@' starts a name");
    bad("HTTP/1.1 200 OK\r\nA\x80: c\r\n\r\n", E_NAME, "obs-text in a name");
    bad("HTTP/1.1 200 OK\r\nA\"b: c\r\n\r\n", E_NAME, "quote in a name");
    bad("HTTP/1.1 200 OK\r\nA/b: c\r\n\r\n", E_NAME, "'/' in a name");
    BAD_N("HTTP/1.1 200 OK\r\nA\x00: c\r\n\r\n", E_LINE, "NUL in a name");
    bad("HTTP/1.1 200 OK\r\n\x01: c\r\n\r\n", E_LINE, "control starts a name");
    bad("HTTP/1.1 200 OK\r\nA\x7f: c\r\n\r\n", E_LINE, "DEL in a name");
    BAD_N("HTTP/1.1 200 OK\r\nA: b\x00c\r\n\r\n",
          "upstream sent invalid header value", "NUL in a value");
    bad("HTTP/1.1 200 OK\r\nA: b\x1b\r\n\r\n",
        "upstream sent invalid header value", "ESC in a value");
    bad("HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n",
        "upstream sent invalid header value", "DEL in a value");
    if (good("HTTP/1.1 200 OK\r\nA: \x80\xfe\tz\r\n\r\n",
             "obs-text and HTAB inside a value"))
    {
        is_str(S(&st.headers[0].value), "\x80\xfe\tz", "value as sent");
    }
    bad("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", "upstream sent bare CR",
        "bare CR in a value");
    bad("HTTP/1.1 200 OK\r\nA: b\r\n\rX", "upstream sent bare CR",
        "bare CR in the empty line");

    /* the request switches do not apply to responses */
    conf.ignore_invalid_headers = 0;
    conf.underscores_in_headers = 0;
    bad("HTTP/1.1 200 OK\r\nA(b): c\r\n\r\n", E_NAME,
        "invalid name refused with ignore_invalid_headers off");
    conf.ignore_invalid_headers = 1;
    if (good("HTTP/1.1 200 OK\r\nX_Y: c\r\n\r\n",
             "underscore with underscores_in_headers off"))
    {
        is_int(st.nheaders, 1, "the underscore header is kept, not skipped");
    }
}

/* ---- framing headers -------------------------------------------------- */

static void
test_framing_headers(void)
{
    reset_conf();

    if (good("HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n",
             "leading zeros")) {
        is_int(st.content_length, 7, "007 is 7");
    }
    if (good("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n",
             "largest Content-Length"))
    {
        is_int(st.content_length, INT64_MAX, "INT64_MAX");
    }
    if (good("HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length:3 \r\n"
             "\r\n",
             "repeated Content-Length, same value"))
    {
        is_int(st.content_length, 3, "same value twice");
    }
    bad("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
        E_CL, "Content-Length overflow");
    bad("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        E_CL, "Content-Length far over");
    bad("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", E_CL, "sign");
    bad("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", E_CL, "negative");
    bad("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", E_CL, "list");
    bad("HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n", E_CL, "two numbers");
    bad("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", E_CL, "empty");
    bad("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", E_CL, "hex");
    bad("HTTP/1.1 204 No Content\r\nContent-Length: abc\r\n\r\n", E_CL,
        "bad Content-Length refused on 204 too");
    bad("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        "upstream sent duplicate \"Content-Length\" headers with different "
        "values",
        "conflicting Content-Length");

    if (good("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
             "chunked"))
    {
        is_int(st.chunked, 1, "chunked flag");
        is_str(S(&st.transfer_encoding), "chunked", "TE value");
        is_int(st.content_length, -1, "no length");
    }
    if (good("HTTP/1.1 200 OK\r\nTransfer-Encoding: , CHUNKED ,\r\n\r\n",
             "chunked with empty elements, any case"))
    {
        is_int(st.chunked, 1, "chunked flag");
    }
    bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        E_TE_UNKNOWN, "gzip before chunked");
    bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
        E_TE_UNKNOWN, "identity");
    bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", E_TE,
        "chunked not last");
    bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        E_TE, "chunked twice");
    bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", E_TE,
        "chunked with a parameter");
    bad("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", E_TE, "empty TE");
    bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n", E_TE,
        "only empty elements");
    bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked x\r\n\r\n", E_TE,
        "two tokens without a comma");
    bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", E_TE,
        "quoted coding");
    bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        "upstream sent duplicate \"Transfer-Encoding\" header",
        "two Transfer-Encoding lines");
    bad("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "upstream sent \"Transfer-Encoding\" with HTTP/1.0",
        "Transfer-Encoding in HTTP/1.0");
    bad("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        "upstream sent \"Content-Length\" and \"Transfer-Encoding\" headers "
        "at the same time",
        "Content-Length then Transfer-Encoding");
    bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
        "Content-Length: 5\r\n\r\n",
        "upstream sent \"Content-Length\" and \"Transfer-Encoding\" headers "
        "at the same time",
        "Transfer-Encoding then Content-Length");
    bad("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n"
        "Content-Length: 5\r\n\r\n",
        "upstream sent \"Content-Length\" and \"Transfer-Encoding\" headers "
        "at the same time",
        "both refused on 304 too");
    bad("HTTP/1.1 100 Continue\r\nTransfer-Encoding: gzip\r\n\r\n",
        E_TE_UNKNOWN, "bad TE refused on 1xx too");
}

/* ---- limits ----------------------------------------------------------- */

static void
test_limits(void)
{
    static char big[70000];
    size_t n;

    reset_conf();
    conf.max_request_line = 16;
    good("HTTP/1.1 200 abc\r\n\r\n", "status line at its limit");
    bad("HTTP/1.1 200 abcd\r\n\r\n", "upstream sent too long status line",
        "status line over its limit");

    reset_conf();
    conf.max_header_line = 8;
    good("HTTP/1.1 200 OK\r\nAbc: 123\r\n\r\n", "header line at its limit");
    bad("HTTP/1.1 200 OK\r\nAbc: 1234\r\n\r\n",
        "upstream sent too long header line", "header line over its limit");
    bad("HTTP/1.1 200 OK\r\nAbcdefghi\r\n\r\n",
        "upstream sent too long header line",
        "a long line is too long before it lacks a colon");

    reset_conf();
    conf.max_head = 26;
    good("HTTP/1.1 200 OK\r\nA: 12\r\n\r\n", "head at max_head");
    bad("HTTP/1.1 200 OK\r\nA: 123\r\n\r\n", "upstream sent too big header",
        "head one byte over max_head");
    conf.max_head = 25;
    bad("HTTP/1.1 200 OK\r\nA: 12\r\n\r\n", "upstream sent too big header",
        "the limit counts the final LF");

    /* the default limits: 8192 bytes a line, 32768 the head */
    reset_conf();
    n = (size_t) snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
    n += (size_t) snprintf(big + n, sizeof(big) - n, "X: %08189d\r\n\r\n",
                           0);
    good(big, "a header line of 8192 bytes by default");
    n = (size_t) snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
    n += (size_t) snprintf(big + n, sizeof(big) - n, "X: %08190d\r\n\r\n",
                           0);
    bad(big, "upstream sent too long header line",
        "a header line of 8193 bytes by default");
    n = (size_t) snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
    while (n < 32768) {
        n += (size_t) snprintf(big + n, sizeof(big) - n, "X: %08000d\r\n",
                               0);
    }
    snprintf(big + n, sizeof(big) - n, "\r\n");
    bad(big, "upstream sent too big header", "a head over 32768 bytes");

    /* the array of header fields */
    reset_conf();
    nalloc = 3;
    if (good("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
             "as many headers as the array holds"))
    {
        is_int(st.nheaders, 3, "three headers stored");
    }
    bad("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
        "upstream sent too many header lines", "one header too many");
    nalloc = 0;
    good("HTTP/1.1 204 No Content\r\n\r\n", "no headers, no array");
    bad("HTTP/1.1 200 OK\r\nA: 1\r\n\r\n",
        "upstream sent too many header lines", "any header, no array");
}

/* ---- interim responses and responses in a row ------------------------- */

static void
test_interim(void)
{
    static const char seq[] =
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
        "HTTP/1.1 204 No Content\r\n\r\n";
    wm_http_framing_t f;
    size_t off;
    wm_int_t rc;

    reset_conf();

    rc = parse(seq);
    ok(rc == WM_OK && st.status == 100 && st.interim == 1,
       "100 Continue parsed as interim");
    is_int(st.head_len, 25, "100: head_len ends at its empty line");
    wm_http_response_framing(&st, WM_HTTP_POST, &f);
    is_int(f.body, WM_HTTP_BODY_NONE, "100: no body");
    off = st.head_len;

    rc = parse(seq + off);
    ok(rc == WM_OK && st.status == 103 && st.interim == 1,
       "then 103 Early Hints, interim");
    is_str(S(&st.headers[0].value), "</s.css>; rel=preload",
           "103: its header");
    off += st.head_len;

    rc = parse(seq + off);
    ok(rc == WM_OK && st.status == 200 && st.interim == 0,
       "then the final 200");
    is_int(st.content_length, 2, "200: its length");
    wm_http_response_framing(&st, WM_HTTP_POST, &f);
    ok(f.body == WM_HTTP_BODY_LENGTH && f.length == 2 && f.keep_alive == 1,
       "200: 2 bytes, kept alive");
    off += st.head_len;
    ok(memcmp(seq + off, "hi", 2) == 0, "the body follows the head");
    off += 2;

    rc = parse(seq + off);
    ok(rc == WM_OK && st.status == 204 && st.head_len == strlen(seq + off),
       "the next response on the kept-alive connection");

    /* in one buffer: WM_OK at the first head, sticky with more bytes */
    wm_http_parser_init_status(&parser, &conf, &st, hdrs, NHDRS);
    rc = wm_http_parse_status(&parser, (u_char *) seq, 10);
    is_int(rc, WM_AGAIN, "part of the 100: WM_AGAIN");
    rc = wm_http_parse_status(&parser, (u_char *) seq, sizeof(seq) - 1);
    ok(rc == WM_OK && st.head_len == 25,
       "the whole sequence at once: only the 100 head is consumed");

    if (good("HTTP/1.1 199 Whatever\r\nA: b\r\n\r\n", "199 is interim")) {
        is_int(st.interim, 1, "199 interim");
    }
    if (good("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
             "Connection: upgrade\r\n\r\n",
             "101"))
    {
        is_int(st.interim, 0, "101 is final");
        is_str(S(&st.upgrade), "websocket", "101: Upgrade");
        is_int(st.conn_upgrade, 1, "101: Connection upgrade");
    }
    if (good("HTTP/1.1 200 OK\r\n\r\n", "200")) {
        is_int(st.interim, 0, "200 is not interim");
    }

    /* a sticky error */
    wm_http_parser_init_status(&parser, &conf, &st, hdrs, NHDRS);
    rc = wm_http_parse_status(&parser, (u_char *) "HTTP/1.1 2x", 11);
    ok(rc == WM_ERROR
           && wm_http_parse_status(&parser, (u_char *) "HTTP/1.1 200 OK\r\n"
                                                       "\r\n",
                                   19)
                  == WM_ERROR,
       "WM_ERROR is sticky");
}

/* ---- the framing decision --------------------------------------------- */

static void
frame(const char *resp, wm_uint_t method, wm_http_body_t body,
      int64_t length, int keep_alive, const char *name)
{
    wm_http_framing_t f;
    wm_int_t rc = parse(resp);

    if (rc != WM_OK) {
        ok(0, name);
        diag("parse: rc %d error '%s'", (int) rc, st.error ? st.error : "-");
        return;
    }
    memset(&f, 0xa5, sizeof(f));
    wm_http_response_framing(&st, method, &f);
    if (!ok(f.body == body && f.length == length
                && f.keep_alive == (unsigned) keep_alive,
            name))
    {
        diag("body %d length %lld keep_alive %d; expected %d %lld %d",
             (int) f.body, (long long) f.length, f.keep_alive, (int) body,
             (long long) length, keep_alive);
    }
}

static void
test_framing(void)
{
    reset_conf();

    frame("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", WM_HTTP_GET,
          WM_HTTP_BODY_LENGTH, 5, 1, "GET 200 length");
    frame("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", WM_HTTP_GET,
          WM_HTTP_BODY_LENGTH, 0, 1, "GET 200 length 0");
    frame("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
          WM_HTTP_GET, WM_HTTP_BODY_CHUNKED, -1, 1, "GET 200 chunked");
    frame("HTTP/1.1 200 OK\r\n\r\n", WM_HTTP_GET, WM_HTTP_BODY_CLOSE, -1, 0,
          "GET 200 close-delimited");
    frame("HTTP/1.1 500 Oops\r\nContent-Length: 3\r\nConnection: close\r\n"
          "\r\n",
          WM_HTTP_GET, WM_HTTP_BODY_LENGTH, 3, 0,
          "length with Connection: close: not kept");
    frame("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
          "Connection: close\r\n\r\n",
          WM_HTTP_POST, WM_HTTP_BODY_CHUNKED, -1, 0,
          "chunked with Connection: close: not kept");

    /* no body whatever the headers say */
    frame("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", WM_HTTP_HEAD,
          WM_HTTP_BODY_NONE, -1, 1, "HEAD 200 with length");
    frame("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
          WM_HTTP_HEAD, WM_HTTP_BODY_NONE, -1, 1, "HEAD 200 chunked");
    frame("HTTP/1.1 200 OK\r\n\r\n", WM_HTTP_HEAD, WM_HTTP_BODY_NONE, -1, 1,
          "HEAD 200 without length: kept");
    frame("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
          WM_HTTP_GET, WM_HTTP_BODY_NONE, -1, 1, "204 with length");
    frame("HTTP/1.1 204 No Content\r\n\r\n", WM_HTTP_DELETE,
          WM_HTTP_BODY_NONE, -1, 1, "204");
    frame("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
          WM_HTTP_GET, WM_HTTP_BODY_NONE, -1, 1, "304 with length");
    frame("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
          WM_HTTP_GET, WM_HTTP_BODY_NONE, -1, 1, "304 chunked");
    frame("HTTP/1.1 100 Continue\r\n\r\n", WM_HTTP_PUT, WM_HTTP_BODY_NONE, -1,
          1, "100");
    frame("HTTP/1.1 103 Early Hints\r\nContent-Length: 9\r\n\r\n",
          WM_HTTP_GET, WM_HTTP_BODY_NONE, -1, 1, "103 with length");

    /* tunnels */
    frame("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
          "Connection: Upgrade\r\n\r\n",
          WM_HTTP_GET, WM_HTTP_BODY_TUNNEL, -1, 0, "101");
    frame("HTTP/1.1 101 Switching Protocols\r\nContent-Length: 5\r\n\r\n",
          WM_HTTP_GET, WM_HTTP_BODY_TUNNEL, -1, 0, "101 with length");
    frame("HTTP/1.1 200 Connection established\r\n\r\n", WM_HTTP_CONNECT,
          WM_HTTP_BODY_TUNNEL, -1, 0, "CONNECT 200");
    frame("HTTP/1.1 299 X\r\nContent-Length: 10\r\n\r\n", WM_HTTP_CONNECT,
          WM_HTTP_BODY_TUNNEL, -1, 0, "CONNECT 2xx with length");
    frame("HTTP/1.1 407 Auth\r\nContent-Length: 4\r\n\r\n", WM_HTTP_CONNECT,
          WM_HTTP_BODY_LENGTH, 4, 1, "CONNECT 407: a normal body");
    frame("HTTP/1.1 502 Bad\r\n\r\n", WM_HTTP_CONNECT, WM_HTTP_BODY_CLOSE,
          -1, 0, "CONNECT 502 close-delimited");
    frame("HTTP/1.1 200 OK\r\n\r\n", WM_HTTP_GET, WM_HTTP_BODY_CLOSE, -1, 0,
          "200 to GET is no tunnel");

    /* HTTP/1.0 */
    frame("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", WM_HTTP_GET,
          WM_HTTP_BODY_LENGTH, 5, 0, "1.0 length: not kept");
    frame("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n"
          "Connection: keep-alive\r\nKeep-Alive: timeout=4\r\n\r\n",
          WM_HTTP_GET, WM_HTTP_BODY_LENGTH, 5, 1, "1.0 keep-alive length");
    frame("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", WM_HTTP_GET,
          WM_HTTP_BODY_CLOSE, -1, 0, "1.0 keep-alive without length: close");
    frame("HTTP/1.0 304 Not Modified\r\nConnection: keep-alive\r\n\r\n",
          WM_HTTP_GET, WM_HTTP_BODY_NONE, -1, 1, "1.0 keep-alive 304");
    frame("HTTP/1.0 200 OK\r\n\r\n", WM_HTTP_GET, WM_HTTP_BODY_CLOSE, -1, 0,
          "1.0 close-delimited");
}

int
main(void)
{
    char name[128];

    test_status_line();
    test_headers();
    test_framing_headers();
    test_limits();
    test_interim();
    test_framing();

    snprintf(name, sizeof(name),
             "%lu responses parsed the same whole, byte by byte and split at "
             "each of %lu positions",
             nparsed, nsplits);
    ok(ndiffer == 0 && nparsed > 100, name);
    free(buf);
    return tap_done();
}
