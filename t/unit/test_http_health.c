/*
 * Unit tests of the pure parts of HTTP health checks: the arguments of
 * `status`, `header` and `body` (with the exact messages for bad ones),
 * and the match test against responses parsed by the real upstream
 * response parser: the default 2xx/3xx verdict, status lists, ranges and
 * negation, each header operator (a missing header and repeated fields
 * included), body regexes, and every line having to hold.
 */
#include "wm_http_health.h"

#include "tap.h"

static wm_pool_t *pool;
static wm_http_parse_conf_t pconf;
static wm_http_header_t hdrs[16];
static wm_http_status_t st;

static wm_str_t
S(const char *s)
{
    wm_str_t r = {strlen(s), (u_char *) s};

    return r;
}

/* Splits words on spaces into args (at most 8); returns how many. */
static size_t
words(char *line, wm_str_t *args)
{
    size_t n = 0;
    char *w;

    for (w = strtok(line, " "); w && n < 8; w = strtok(NULL, " ")) {
        args[n++] = S(w);
    }
    return n;
}

/* Parses a response head into st (the text must outlive the test). */
static void
response(const char *text)
{
    wm_http_parser_t p;
    wm_int_t rc;

    wm_http_parse_conf_init(&pconf);
    wm_http_parser_init_status(&p, &pconf, &st, hdrs, 16);
    rc = wm_http_parse_status(&p, (u_char *) text, strlen(text));
    if (rc != WM_OK) {
        printf("# cannot parse %s\n", text);
    }
}

/* `status ARGS` parsed: "ok" or the error. */
static const char *
status_line(const char *text, wm_http_health_status_t *s)
{
    static char err[256];
    static char buf[256];
    wm_str_t args[8];
    size_t n;

    snprintf(buf, sizeof(buf), "%s", text);
    n = words(buf, args);
    return wm_http_health_parse_status(args, n, s, err, sizeof(err)) == WM_OK
               ? "ok"
               : err;
}

/* A `header`/`body` line, kept in the pool: NULL and the error printed
 * on failure. */
static wm_http_health_cond_t *
cond(const char *text, bool body, char *err, size_t errlen)
{
    wm_http_health_cond_t *c = wm_pcalloc(pool, sizeof(*c));
    char *buf = wm_pstrdup(pool, text);
    wm_str_t *args = wm_pcalloc(pool, 8 * sizeof(wm_str_t));
    size_t n = words(buf, args);

    err[0] = '\0';
    if (wm_http_health_parse_cond(args, n, body, pool, c, err, errlen) != WM_OK)
    {
        return NULL;
    }
    return c;
}

/* The verdict of a match with one status line. */
static const char *
with_status(const char *line, const char *resp)
{
    static wm_http_health_status_t s;
    wm_http_health_match_t m = {0};
    const char *r;

    if (strcmp(status_line(line, &s), "ok") != 0) {
        return "bad line";
    }
    m.status = &s;
    response(resp);
    r = wm_http_health_test(&m, &st, NULL, 0);
    return r ? r : "pass";
}

/* The verdict of a match with one header line. */
static const char *
with_header(const char *line, const char *resp)
{
    char err[256];
    wm_http_health_match_t m = {0};
    const char *r;

    m.header = cond(line, false, err, sizeof(err));
    if (m.header == NULL) {
        return "bad line";
    }
    response(resp);
    r = wm_http_health_test(&m, &st, NULL, 0);
    return r ? r : "pass";
}

static const char *
with_body(const char *line, const char *body)
{
    char err[256];
    wm_http_health_match_t m = {0};
    const char *r;

    m.body = cond(line, true, err, sizeof(err));
    if (m.body == NULL) {
        return "bad line";
    }
    response("HTTP/1.1 200 OK\r\n\r\n");
    r = wm_http_health_test(&m, &st, (const u_char *) body, strlen(body));
    return r ? r : "pass";
}

static void
test_default(void)
{
    static const struct {
        const char *resp;
        const char *want;
        const char *name;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\n\r\n", "pass", "no match, 200: pass"},
        {"HTTP/1.1 204 No Content\r\n\r\n", "pass", "no match, 204: pass"},
        {"HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n", "pass",
         "no match, 301: pass"},
        {"HTTP/1.1 399 Odd\r\n\r\n", "pass", "no match, 399: pass"},
        {"HTTP/1.1 400 Bad\r\n\r\n", "status", "no match, 400: fail"},
        {"HTTP/1.1 404 Not Found\r\n\r\n", "status", "no match, 404: fail"},
        {"HTTP/1.0 503 Busy\r\n\r\n", "status", "no match, 503: fail"},
        {"HTTP/1.1 199 Odd\r\n\r\n", "status", "no match, 199: fail"},
    };
    size_t i;

    for (i = 0; i < wm_nelems(cases); i++) {
        const char *r;

        response(cases[i].resp);
        r = wm_http_health_test(NULL, &st, NULL, 0);
        is_str(r ? r : "pass", cases[i].want, cases[i].name);
    }
    ok(!wm_http_health_wants_body(NULL), "no match: the body is not read");
}

static void
test_status(void)
{
    wm_http_health_status_t s;

    is_str(status_line("200", &s), "ok", "status 200");
    is_int(s.nranges, 1, "  one range");
    is_int(s.range[0].lo, 200, "  200..");
    is_int(s.range[0].hi, 200, "  ..200");
    is_int(s.negate, 0, "  not negated");
    is_str(status_line("! 500 502-504", &s), "ok", "status ! 500 502-504");
    is_int(s.negate, 1, "  negated");
    is_int(s.nranges, 2, "  two ranges");
    is_int(s.range[1].lo, 502, "  502..");
    is_int(s.range[1].hi, 504, "  ..504");
    is_str(status_line("600", &s), "has invalid status \"600\"",
           "status 600: invalid");
    is_str(status_line("099", &s), "has invalid status \"099\"",
           "status 099: invalid");
    is_str(status_line("20", &s), "has invalid status \"20\"",
           "status 20: invalid");
    is_str(status_line("399-200", &s), "has invalid status \"399-200\"",
           "a reversed range: invalid");
    is_str(status_line("200-", &s), "has invalid status \"200-\"",
           "an open range: invalid");
    is_str(status_line("abc", &s), "has invalid status \"abc\"",
           "status abc: invalid");
    is_str(status_line("!", &s), "has no status code", "status !: no code");

    is_str(with_status("200", "HTTP/1.1 200 OK\r\n\r\n"), "pass",
           "status 200 / 200: pass");
    is_str(with_status("200", "HTTP/1.1 201 OK\r\n\r\n"), "status",
           "status 200 / 201: fail");
    is_str(with_status("200 204", "HTTP/1.1 204 OK\r\n\r\n"), "pass",
           "status 200 204 / 204: pass");
    is_str(with_status("200-399", "HTTP/1.1 302 Found\r\n\r\n"), "pass",
           "status 200-399 / 302: pass");
    is_str(with_status("200-399", "HTTP/1.1 400 Bad\r\n\r\n"), "status",
           "status 200-399 / 400: fail");
    is_str(with_status("! 500", "HTTP/1.1 404 Not Found\r\n\r\n"), "pass",
           "status ! 500 / 404: pass");
    is_str(with_status("! 500", "HTTP/1.1 500 Oops\r\n\r\n"), "status",
           "status ! 500 / 500: fail");
    is_str(with_status("! 400-599", "HTTP/1.1 503 Busy\r\n\r\n"), "status",
           "status ! 400-599 / 503: fail");
}

static void
test_header_parse(void)
{
    char err[256];
    wm_http_health_cond_t *c;

    c = cond("X-Foo", false, err, sizeof(err));
    ok(c && c->op == WM_HTTP_HEALTH_PRESENT, "header X-Foo: present");
    c = cond("! X-Foo", false, err, sizeof(err));
    ok(c && c->op == WM_HTTP_HEALTH_ABSENT, "header ! X-Foo: absent");
    ok(c && wm_str_eq(&c->name, "X-Foo"), "  named X-Foo");
    c = cond("X-Foo = bar", false, err, sizeof(err));
    ok(c && c->op == WM_HTTP_HEALTH_EQ && wm_str_eq(&c->value, "bar"),
       "header X-Foo = bar");
    c = cond("X-Foo != bar", false, err, sizeof(err));
    ok(c && c->op == WM_HTTP_HEALTH_NE, "header X-Foo != bar");
    c = cond("X-Foo ~ ^b", false, err, sizeof(err));
    ok(c && c->op == WM_HTTP_HEALTH_RE && c->regex, "header X-Foo ~ ^b");
    c = cond("X-Foo !~* ^b", false, err, sizeof(err));
    ok(c && c->op == WM_HTTP_HEALTH_NRE && c->regex, "header X-Foo !~* ^b");

    ok(cond("X-Foo == bar", false, err, sizeof(err)) == NULL,
       "header X-Foo == bar: refused");
    is_str(err, "has invalid operator \"==\"", "  invalid operator");
    ok(cond("X-Foo X-Bar", false, err, sizeof(err)) == NULL,
       "header X-Foo X-Bar: refused");
    is_str(err, "has invalid number of arguments", "  invalid arguments");
    ok(cond("X-Foo ~ (x", false, err, sizeof(err)) == NULL,
       "header X-Foo ~ (x: refused");
    is_str(err, "has invalid regex \"(x\": missing closing parenthesis",
           "  invalid regex");
    ok(cond("= ok", true, err, sizeof(err)) == NULL, "body = ok: refused");
    is_str(err, "has invalid operator \"=\"", "  invalid operator");
    ok(cond("ok", true, err, sizeof(err)) == NULL, "body ok: refused");
    is_str(err, "has invalid number of arguments", "  invalid arguments");
}

static void
test_header(void)
{
    const char *r =
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        "X-Foo: one\r\nx-foo: two\r\nX-Empty:\r\n\r\n";

    is_str(with_header("Content-Type", r), "pass", "present: pass");
    is_str(with_header("content-type", r), "pass",
           "  names are case-insensitive");
    is_str(with_header("X-Bad", r), "header", "missing: fail");
    is_str(with_header("! X-Bad", r), "pass", "! X-Bad, missing: pass");
    is_str(with_header("! X-Foo", r), "header", "! X-Foo, there: fail");
    is_str(with_header("X-Foo = two", r), "pass",
           "= matches the second X-Foo field: pass");
    is_str(with_header("X-Foo = TWO", r), "header",
           "= compares values exactly: fail");
    is_str(with_header("X-Foo = on", r), "header", "= is not a prefix: fail");
    is_str(with_header("X-Foo != three", r), "pass", "!= three: pass");
    is_str(with_header("X-Foo != one", r), "header",
           "!= one, one field is one: fail");
    is_str(with_header("X-Bad != x", r), "pass",
           "!= on a missing header: pass");
    is_str(with_header("X-Empty = ", r), "bad line",
           "an empty value is not a word here");
    is_str(with_header("Content-Type ~ text", r), "pass", "~ text: pass");
    is_str(with_header("Content-Type ~ ^text/plain", r), "header",
           "~ ^text/plain: fail");
    is_str(with_header("Content-Type ~ TEXT", r), "header",
           "~ is case-sensitive: fail");
    is_str(with_header("Content-Type ~* TEXT", r), "pass", "~* TEXT: pass");
    is_str(with_header("Content-Type !~ json", r), "pass", "!~ json: pass");
    is_str(with_header("Content-Type !~ html", r), "header", "!~ html: fail");
    is_str(with_header("X-Bad ~ x", r), "header",
           "~ on a missing header: fail");
}

static void
test_body(void)
{
    is_str(with_body("~ ok", "all ok\n"), "pass", "body ~ ok: pass");
    is_str(with_body("~ ^ok$", "all ok\n"), "body",
           "body ~ ^ok$ on \"all ok\": fail");
    is_str(with_body("~ ok", ""), "body", "body ~ ok on an empty body: fail");
    is_str(with_body("!~ error", "all ok"), "pass", "body !~ error: pass");
    is_str(with_body("!~ error", "an error"), "body", "body !~ error: fail");
    is_str(with_body("~* OK", "all ok"), "pass", "body ~* OK: pass");
}

static void
test_all(void)
{
    char err[256];
    wm_http_health_status_t s;
    wm_http_health_match_t m = {0};
    const char *r = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
    const char *got;

    ok(!wm_http_health_wants_body(&m), "a match without body: not read");
    status_line("200", &s);
    m.status = &s;
    m.header = cond("Content-Type ~ text", false, err, sizeof(err));
    m.header->next = cond("! X-Bad", false, err, sizeof(err));
    m.body = cond("~ ok", true, err, sizeof(err));
    ok(wm_http_health_wants_body(&m), "a match with body: read");
    response(r);
    got = wm_http_health_test(&m, &st, (const u_char *) "ok", 2);
    is_str(got ? got : "pass", "pass", "every line holds: pass");
    got = wm_http_health_test(&m, &st, (const u_char *) "no", 2);
    is_str(got ? got : "pass", "body", "the body does not: fail, body");
    response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Bad: 1\r\n\r\n");
    got = wm_http_health_test(&m, &st, (const u_char *) "ok", 2);
    is_str(got ? got : "pass", "header", "the second header line: fail");
    response("HTTP/1.1 201 OK\r\nContent-Type: text/plain\r\n\r\n");
    got = wm_http_health_test(&m, &st, (const u_char *) "ok", 2);
    is_str(got ? got : "pass", "status", "the status first: fail, status");
}

int
main(void)
{
    pool = wm_pool_new(4096);
    test_default();
    test_status();
    test_header_parse();
    test_header();
    test_body();
    test_all();
    wm_pool_free(pool);
    return tap_done();
}
