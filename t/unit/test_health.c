/*
 * Unit tests of active health checks without sockets: the parameters of
 * `health_check` (and the exact messages for bad ones), the escapes of
 * `send`/`expect`, the match test (literal prefix, regex, partial
 * replies), the resolution of a group's check (zone, match, udp), and the
 * shared state: one claim per lease, a lost lease, and the fails/passes
 * transitions.
 */
#include "wm_health.h"

#include "tap.h"

static wm_pool_t *pool;

static wm_str_t
S(const char *s)
{
    wm_str_t r = {strlen(s), (u_char *) s};

    return r;
}

/* wm_health_parse_param() on one argument: "ok", "declined" or the
 * error message. */
static const char *
param(wm_health_conf_t *hc, const char *arg)
{
    static char err[256];
    wm_str_t a = S(arg);
    wm_int_t rc = wm_health_parse_param(hc, &a, err, sizeof(err));

    return rc == WM_OK ? "ok" : rc == WM_DECLINED ? "declined" : err;
}

static void
test_params(void)
{
    wm_health_conf_t *hc = wm_health_conf_new(pool);

    is_int(hc->interval, 5000, "default interval 5s");
    is_int(hc->timeout, 5000, "default timeout 5s");
    is_int(hc->fails, 1, "default fails 1");
    is_int(hc->passes, 1, "default passes 1");
    is_int(hc->jitter, 0, "default jitter 0");
    is_int(hc->port, 0, "default port: the peer's");

    is_str(param(hc, "interval=2s"), "ok", "interval=2s");
    is_int(hc->interval, 2000, "  2000 ms");
    is_str(param(hc, "jitter=300ms"), "ok", "jitter=300ms");
    is_int(hc->jitter, 300, "  300 ms");
    is_str(param(hc, "timeout=1500ms"), "ok", "timeout=1500ms");
    is_int(hc->timeout, 1500, "  1500 ms");
    is_str(param(hc, "fails=3"), "ok", "fails=3");
    is_int(hc->fails, 3, "  3");
    is_str(param(hc, "passes=2"), "ok", "passes=2");
    is_int(hc->passes, 2, "  2");
    is_str(param(hc, "port=8080"), "ok", "port=8080");
    is_int(hc->port, 8080, "  8080");
    is_str(param(hc, "match=pop3"), "ok", "match=pop3");
    ok(wm_str_eq(&hc->match, "pop3"), "  name pop3");

    is_str(param(hc, "udp"), "declined", "udp is the family's");
    is_str(param(hc, "uri=/x"), "declined", "uri= is the family's");
    is_str(param(hc, "fails=0"), "invalid parameter \"fails=0\"",
           "fails=0 is invalid");
    is_str(param(hc, "passes=x"), "invalid parameter \"passes=x\"",
           "passes=x is invalid");
    is_str(param(hc, "interval=0"), "invalid parameter \"interval=0\"",
           "interval=0 is invalid");
    is_str(param(hc, "timeout=abc"), "invalid parameter \"timeout=abc\"",
           "timeout=abc is invalid");
    is_str(param(hc, "port=65536"), "invalid parameter \"port=65536\"",
           "port=65536 is invalid");
    is_str(param(hc, "port=0"), "invalid parameter \"port=0\"",
           "port=0 is invalid");
    is_int(hc->fails, 3, "a bad value changes nothing");
}

static void
test_unescape(void)
{
    char err[128];
    wm_str_t in, out;

    in = S("GET / HTTP/1.0\\r\\n\\x00\\x7f\\xFFa\\tb\\\\c\\q");
    ok(wm_health_unescape(&in, pool, &out, err, sizeof(err)) == WM_OK,
       "escapes decode");
    ok(out.len == 26
           && memcmp(out.data, "GET / HTTP/1.0\r\n\0\x7f\xff" "a\tb\\c\\q", 26)
                  == 0,
       "  \\r \\n \\x00 \\x7f \\xFF \\t \\\\ decoded, \\q kept");
    in = S("ab\\x4");
    ok(wm_health_unescape(&in, pool, &out, err, sizeof(err)) == WM_ERROR,
       "\\x with one digit is an error");
    is_str(err, "invalid escape \"\\x4\"", "  with its message");
    in = S("\\xzz");
    ok(wm_health_unescape(&in, pool, &out, err, sizeof(err)) == WM_ERROR,
       "\\xzz is an error");
    in = S("end\\");
    ok(wm_health_unescape(&in, pool, &out, err, sizeof(err)) == WM_OK
           && out.len == 4 && memcmp(out.data, "end\\", 4) == 0,
       "a trailing backslash stays");
}

/* Runs a match-block setter on `name args...`; NULL or the error. */
static const char *
set(wm_conf_set_pt fn, wm_health_match_t *m, const char *a0, const char *a1)
{
    static wm_conf_t cf;
    static wm_conf_node_t node;
    static wm_str_t args[2];

    memset(&cf, 0, sizeof(cf));
    memset(&node, 0, sizeof(node));
    cf.pool = pool;
    cf.node = &node;
    args[0] = S(a0);
    node.nargs = 1;
    if (a1) {
        args[1] = S(a1);
        node.nargs = 2;
    }
    node.args = args;
    return fn(&cf, NULL, m);
}

#define T(m, s, final) wm_health_match_test(m, (const u_char *) (s), \
                                            sizeof(s) - 1, final)

static void
test_match(void)
{
    wm_str_t name = S("m");
    wm_health_match_t *lit = wm_health_match_new(pool, &name);
    wm_health_match_t *re = wm_health_match_new(pool, &name);
    wm_health_match_t *ci = wm_health_match_new(pool, &name);
    wm_health_match_t *none = wm_health_match_new(pool, &name);

    ok(set(wm_health_match_set_send, lit, "PING\\r\\n", NULL) == NULL,
       "send \"PING\\r\\n\"");
    ok(lit->send.len == 6 && memcmp(lit->send.data, "PING\r\n", 6) == 0,
       "  decoded");
    is_str(set(wm_health_match_set_send, lit, "x", NULL), "is duplicate",
           "a second send is duplicate");
    ok(set(wm_health_match_set_expect, lit, "+PONG", NULL) == NULL,
       "expect \"+PONG\"");
    is_str(set(wm_health_match_set_expect, lit, "x", NULL), "is duplicate",
           "a second expect is duplicate");
    ok(set(wm_health_match_set_expect, re, "~", "^SSH-2\\.0-\\w+") == NULL,
       "expect ~ \"^SSH-2\\.0-\\w+\"");
    ok(set(wm_health_match_set_expect, ci, "~*", "200 ok") == NULL,
       "expect ~* \"200 ok\"");
    is_str(set(wm_health_match_set_expect, none, "=", "x"),
           "has invalid parameter \"=\"", "expect = x is invalid");
    is_str(set(wm_health_match_set_expect, none, "~", "(x"),
           "has invalid regex \"(x\": missing closing parenthesis",
           "a bad regex is reported");
    is_str(set(wm_health_match_set_send, none, "\\x1", NULL),
           "has invalid escape \"\\x1\"", "a bad escape in send");

    is_int(T(none, "", false), WM_HEALTH_PASS, "no expect: passes");
    is_int(T(lit, "+PONG\r\n", false), WM_HEALTH_PASS, "literal: prefix");
    is_int(T(lit, "+PONG", true), WM_HEALTH_PASS, "literal: exact");
    is_int(T(lit, "+PO", false), WM_HEALTH_MORE, "literal: partial waits");
    is_int(T(lit, "+PO", true), WM_HEALTH_FAIL, "  and fails at the end");
    is_int(T(lit, "-ERR", false), WM_HEALTH_FAIL,
           "literal: a wrong first byte fails at once");
    is_int(T(lit, "", false), WM_HEALTH_MORE, "literal: nothing yet waits");
    is_int(T(lit, "x+PONG", true), WM_HEALTH_FAIL,
           "literal: not at the start fails");
    is_int(T(re, "SSH-2.0-OpenSSH_9.2\r\n", false), WM_HEALTH_PASS,
           "regex matches");
    is_int(T(re, "SSH-1.99-x", false), WM_HEALTH_MORE,
           "regex: no match yet waits");
    is_int(T(re, "SSH-1.99-x", true), WM_HEALTH_FAIL, "  and fails at the end");
    is_int(T(ci, "HTTP/1.0 200 OK\r\n", false), WM_HEALTH_PASS,
           "~* is case-insensitive");
    is_int(T(re, "", true), WM_HEALTH_FAIL, "regex on nothing fails");
}

static void
test_resolve(void)
{
    wm_str_t name = S("u"), mname = S("banner");
    wm_upstream_group_t *g = wm_upstream_group_new(pool, &name, NULL);
    wm_health_match_t *m = wm_health_match_new(pool, &mname), **slot;
    wm_array_t matches;
    char err[256];

    wm_array_init(&matches, pool, 2, sizeof(void *));
    slot = wm_array_push(&matches);
    *slot = m;

    g->health = wm_health_conf_new(pool);
    is_str(wm_health_match_resolve(g, &matches, err, sizeof(err)),
           "\"health_check\" directive requires a \"zone\" in upstream \"u\"",
           "no zone: an error");
    ok(g->health->type == &wm_health_tcp_type, "  a type is set anyway");

    g->zone_name = S("z");
    g->health = wm_health_conf_new(pool);
    ok(wm_health_match_resolve(g, &matches, err, sizeof(err)) == NULL,
       "zone, no match: a TCP connect check");
    ok(g->health->type == &wm_health_tcp_type && g->health->type_conf == NULL,
       "  tcp, without a match");

    g->health = wm_health_conf_new(pool);
    g->health->udp = 1;
    is_str(wm_health_match_resolve(g, &matches, err, sizeof(err)),
           "\"health_check\" directive with \"udp\" requires \"match=\"",
           "udp without match: an error");

    g->health = wm_health_conf_new(pool);
    g->health->match = S("nope");
    is_str(wm_health_match_resolve(g, &matches, err, sizeof(err)),
           "\"health_check\" directive refers to unknown match \"nope\"",
           "unknown match: an error");

    g->health = wm_health_conf_new(pool);
    g->health->udp = 1;
    g->health->match = S("banner");
    ok(wm_health_match_resolve(g, &matches, err, sizeof(err)) == NULL,
       "udp with a known match");
    ok(g->health->type == &wm_health_udp_type && g->health->type_conf == m,
       "  udp, with the match");
}

static void
test_shared(void)
{
    wm_balance_group_t *b = wm_pcalloc(pool, wm_balance_group_size(1));
    wm_balance_peer_t *p;
    wm_health_conf_t *hc = wm_health_conf_new(pool);

    wm_balance_group_init(b, 1, 0);
    p = &b->peer[0];
    hc->fails = 2;
    hc->passes = 3;

    ok(wm_health_claim(p, 1000, 7000), "a fresh peer is due: claimed");
    ok(!wm_health_claim(p, 1000, 7000), "a second claim at once fails");
    ok(!wm_health_claim(p, 6999, 12999), "  and before the lease ends");
    ok(!wm_health_release(p, 6000, 9000), "release with another lease: lost");
    ok(wm_health_release(p, 7000, 2000), "release with ours");
    ok(!wm_health_claim(p, 1999, 8000), "not due before the next start");
    ok(wm_health_claim(p, 2000, 8000), "due at the next start");
    /* The holder died: the lease expires and another process claims. */
    ok(wm_health_claim(p, 8000, 14000), "an expired lease is taken over");
    ok(!wm_health_release(p, 8000, 9000), "  the old holder's result is lost");

    ok(wm_balance_peer_is_available(b, 0, NULL, 0), "a peer starts up");
    is_int(wm_health_record(p, hc, WM_HEALTH_FAIL), WM_HEALTH_SAME,
           "1 of fails=2: still up");
    is_int(wm_health_record(p, hc, WM_HEALTH_PASS), WM_HEALTH_SAME,
           "a pass resets the failures");
    is_int(wm_health_record(p, hc, WM_HEALTH_FAIL), WM_HEALTH_SAME,
           "1 of 2 again");
    is_int(wm_health_record(p, hc, WM_HEALTH_FAIL), WM_HEALTH_WENT_DOWN,
           "2 consecutive failures: down");
    ok(!wm_balance_peer_is_available(b, 0, NULL, 0),
       "  the balancer skips it");
    is_int(wm_health_record(p, hc, WM_HEALTH_FAIL), WM_HEALTH_SAME,
           "a further failure: no new transition");
    is_int(wm_health_record(p, hc, WM_HEALTH_PASS), WM_HEALTH_SAME,
           "1 of passes=3");
    is_int(wm_health_record(p, hc, WM_HEALTH_PASS), WM_HEALTH_SAME,
           "2 of 3");
    is_int(wm_health_record(p, hc, WM_HEALTH_FAIL), WM_HEALTH_SAME,
           "a failure resets the passes");
    is_int(wm_health_record(p, hc, WM_HEALTH_PASS), WM_HEALTH_SAME, "1 of 3");
    is_int(wm_health_record(p, hc, WM_HEALTH_PASS), WM_HEALTH_SAME, "2 of 3");
    is_int(wm_health_record(p, hc, WM_HEALTH_PASS), WM_HEALTH_WENT_UP,
           "3 consecutive passes: up");
    ok(wm_balance_peer_is_available(b, 0, NULL, 0), "  available again");
}

int
main(void)
{
    pool = wm_pool_new(0);
    test_params();
    test_unescape();
    test_match();
    test_resolve();
    test_shared();
    wm_pool_free(pool);
    return tap_done();
}
