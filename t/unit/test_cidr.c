/*
 * Unit tests of wm_cidr.c (address blocks, matching, header address
 * texts) and of the first-match rule lists of wm_access.c.
 */
#include "wm_access.h"
#include "wm_cidr.h"
#include "wm_listen.h"

#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

static wm_int_t
parse(const char *text, wm_cidr_t *c)
{
    wm_str_t s = {strlen(text), (u_char *) text};

    return wm_cidr_parse(&s, c);
}

/* A sockaddr for an address text ("unix:" for a unix-domain one). */
static struct sockaddr *
addr(const char *text)
{
    static struct sockaddr_storage ss[4];
    static int next;
    struct sockaddr_storage *sa = &ss[next++ % 4];

    memset(sa, 0, sizeof(*sa));
    if (strcmp(text, "unix:") == 0) {
        sa->ss_family = AF_UNIX;
    } else if (inet_pton(AF_INET, text, &((struct sockaddr_in *) sa)->sin_addr)
               == 1)
    {
        sa->ss_family = AF_INET;
    } else if (inet_pton(AF_INET6, text,
                         &((struct sockaddr_in6 *) sa)->sin6_addr)
               == 1)
    {
        sa->ss_family = AF_INET6;
    } else {
        printf("# bad test address %s\n", text);
    }
    return (struct sockaddr *) sa;
}

static bool
match(const char *rule, const char *client)
{
    wm_cidr_t c;

    if (parse(rule, &c) == WM_ERROR) {
        printf("# bad test rule %s\n", rule);
        return false;
    }
    return wm_cidr_match(&c, addr(client));
}

static void
test_parse(void)
{
    wm_cidr_t c;
    static const char *const bad[] = {
        "",       "10.0.0.0/",   "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8/8",
        "10.0.0", "10.0.0.256",  "::1/129",     "[::1]",       "example.com",
        "ALL",    "unix:/tmp/x", "1.2.3.4 ",    "10.0.0.0/8x", "2001:db8::/3a",
    };
    size_t i;

    is_int(parse("10.0.0.0/8", &c), WM_OK, "10.0.0.0/8 parses");
    is_int(c.family, AF_INET, "  as IPv4");
    is_int(c.bits, 8, "  with 8 bits");
    is_int(c.mask[0] == 0xff && c.mask[1] == 0, 1, "  mask 255.0.0.0");
    is_int(parse("10.0.0.1/8", &c), WM_DONE, "10.0.0.1/8: low bits reported");
    is_int(c.addr[3], 0, "  and cleared");
    is_int(parse("192.168.1.0/23", &c), WM_DONE, "192.168.1.0/23: low bit");
    is_int(c.addr[2], 0, "  cleared to 192.168.0.0");
    is_int(c.mask[2], 0xfe, "  mask 255.255.254.0");
    is_int(parse("1.2.3.4", &c), WM_OK, "bare IPv4 address");
    is_int(c.bits, 32, "  is a /32");
    is_int(parse("0.0.0.0/0", &c), WM_OK, "0.0.0.0/0");
    is_int(parse("1.2.3.4/0", &c), WM_DONE, "1.2.3.4/0 has low bits");
    is_int(parse("2001:db8::/32", &c), WM_OK, "2001:db8::/32");
    is_int(c.family, AF_INET6, "  as IPv6");
    is_int(parse("2001:db8::1/32", &c), WM_DONE, "2001:db8::1/32: low bits");
    is_int(parse("::1", &c), WM_OK, "bare ::1");
    is_int(c.bits, 128, "  is a /128");
    is_int(parse("::/0", &c), WM_OK, "::/0");
    is_int(parse("all", &c), WM_OK, "all");
    is_int(c.family, AF_UNSPEC, "  matches any family");
    is_int(parse("unix:", &c), WM_OK, "unix:");
    is_int(c.family, AF_UNIX, "  is unix-domain");
    for (i = 0; i < wm_nelems(bad); i++) {
        char name[80];

        snprintf(name, sizeof(name), "\"%s\" is an error", bad[i]);
        is_int(parse(bad[i], &c), WM_ERROR, name);
    }
}

static void
test_match(void)
{
    ok(match("10.0.0.0/8", "10.200.3.4"), "10/8 matches 10.200.3.4");
    ok(!match("10.0.0.0/8", "11.0.0.1"), "10/8 does not match 11.0.0.1");
    ok(match("192.168.0.0/23", "192.168.1.255"), "/23 upper half");
    ok(!match("192.168.0.0/23", "192.168.2.0"), "/23 end");
    ok(match("127.0.0.1", "127.0.0.1"), "bare address matches itself");
    ok(!match("127.0.0.1", "127.0.0.2"), "  and not its neighbour");
    ok(match("0.0.0.0/0", "203.0.113.1"), "0/0 matches any IPv4");
    ok(!match("0.0.0.0/0", "::1"), "0/0 does not match IPv6");
    ok(!match("0.0.0.0/0", "unix:"), "0/0 does not match unix");
    ok(match("10.0.0.0/8", "::ffff:10.1.2.3"),
       "IPv4 rule matches an IPv4-mapped client");
    ok(!match("10.0.0.0/8", "::ffff:11.1.2.3"), "  only inside the block");
    ok(!match("10.0.0.0/8", "::a01:203"),
       "  not an IPv4-compatible (non-mapped) one");
    ok(match("::ffff:0:0/96", "::ffff:10.1.2.3"),
       "IPv6 rule matches a mapped client as IPv6");
    ok(!match("::ffff:0:0/96", "10.1.2.3"), "  but not a plain IPv4 one");
    ok(match("2001:db8::/32", "2001:db8:ffff::1"), "/32 IPv6 inside");
    ok(!match("2001:db8::/32", "2001:db9::1"), "/32 IPv6 outside");
    ok(match("2001:db8::/33", "2001:db8:7fff::1"), "/33 lower half");
    ok(!match("2001:db8::/33", "2001:db8:8000::1"), "/33 upper half");
    ok(match("::1", "::1"), "::1 matches ::1");
    ok(!match("::1", "127.0.0.1"), "::1 does not match 127.0.0.1");
    ok(match("::/0", "2001:db8::1"), "::/0 matches IPv6");
    ok(!match("::/0", "1.2.3.4"), "::/0 does not match IPv4");
    ok(match("all", "1.2.3.4") && match("all", "::1") && match("all", "unix:"),
       "all matches IPv4, IPv6 and unix");
    ok(match("unix:", "unix:"), "unix: matches a unix client");
    ok(!match("unix:", "127.0.0.1") && !match("unix:", "::1"),
       "unix: matches no IP client");
}

static bool
denied(const char *const *rules, size_t n, const char *client)
{
    wm_pool_t *pool = wm_pool_new(0);
    wm_access_list_t list = {{0}, false};
    bool rv;
    size_t i;

    wm_array_init(&list.rules, pool, 4, sizeof(wm_access_rule_t));
    for (i = 0; i < n; i++) {
        wm_access_rule_t *r = wm_array_push(&list.rules);
        const char *text = rules[i] + 2;

        r->deny = rules[i][0] == 'd';
        parse(text, &r->cidr);
        if (r->cidr.family == AF_INET) {
            list.has_inet = true;
        }
    }
    rv = wm_access_denied(&list, addr(client));
    wm_pool_free(pool);
    return rv;
}

static void
test_lists(void)
{
    static const char *const r1[] = {"d 127.0.0.2", "a 127.0.0.0/8", "d all"};
    static const char *const r2[] = {"a ::/0", "d 1.2.3.4"};
    static const char *const r3[] = {"d ::ffff:1.2.3.4"};
    static const char *const r4[] = {"a unix:", "d all"};

    ok(denied(r1, 3, "127.0.0.2"), "first match: 127.0.0.2 denied");
    ok(!denied(r1, 3, "127.0.0.1"), "127.0.0.1 allowed by the /8");
    ok(denied(r1, 3, "10.0.0.1"), "10.0.0.1 denied by all");
    ok(denied(r1, 3, "::1"), "::1 denied by all");
    ok(!denied(r1, 0, "::1"), "no rule: allowed");
    ok(!wm_access_denied(NULL, addr("1.2.3.4")), "NULL list: allowed");
    ok(denied(r2, 2, "::ffff:1.2.3.4"),
       "mapped client checked as IPv4 when IPv4 rules exist (nginx)");
    ok(!denied(r2, 2, "::ffff:1.2.3.5"), "  other mapped client: no match");
    ok(denied(r3, 1, "::ffff:1.2.3.4"),
       "no IPv4 rules: mapped client checked as IPv6");
    ok(!denied(r4, 2, "unix:"), "unix: allowed");
    ok(denied(r4, 2, "127.0.0.1"), "IP client falls to deny all");
}

static void
test_host(void)
{
    struct sockaddr_storage sa;
    socklen_t len;
    char buf[64];
    static const char *const bad[] = {
        "",     "1.2.3",    "1.2.3.4:",  "1.2.3.4:0", "1.2.3.4:65536",
        "[::1", "[::1]x",   "[1.2.3.4]", "::1]",      "1.2.3.4:80:90",
        "x",    "1.2.3.4 ", "[::1]:",    "unknown",
    };
    size_t i;

#define HOST(text, port, want_text, want_port, name)                         \
    do {                                                                     \
        ok(wm_sockaddr_parse_host((const u_char *) text, strlen(text), port, \
                                  &sa, &len)                                 \
               == WM_OK,                                                     \
           name);                                                            \
        wm_sockaddr_host_text((struct sockaddr *) &sa, buf, sizeof(buf));    \
        is_str(buf, want_text, "  address");                                 \
        is_int(wm_sockaddr_port((struct sockaddr *) &sa), want_port,         \
               "  port");                                                    \
    } while (0)

    HOST("192.0.2.1", true, "192.0.2.1", 0, "IPv4");
    is_int(len, sizeof(struct sockaddr_in), "  sockaddr_in length");
    HOST("192.0.2.1:8080", true, "192.0.2.1", 8080, "IPv4 with a port");
    HOST("2001:db8::7", true, "2001:db8::7", 0, "IPv6");
    is_int(len, sizeof(struct sockaddr_in6), "  sockaddr_in6 length");
    HOST("[2001:db8::7]", true, "2001:db8::7", 0, "[IPv6]");
    HOST("[2001:db8::7]:443", true, "2001:db8::7", 443, "[IPv6]:port");
    HOST("::ffff:1.2.3.4", false, "::ffff:1.2.3.4", 0, "mapped IPv6");
    is_int(wm_sockaddr_parse_host((const u_char *) "1.2.3.4:80", 10, false, &sa,
                                  &len),
           WM_ERROR, "a port where none is allowed");
    for (i = 0; i < wm_nelems(bad); i++) {
        char name[80];

        snprintf(name, sizeof(name), "\"%s\" is not an address", bad[i]);
        is_int(wm_sockaddr_parse_host((const u_char *) bad[i], strlen(bad[i]),
                                      true, &sa, &len),
               WM_ERROR, name);
    }
    {
        struct sockaddr_un un = {.sun_family = AF_UNIX};

        wm_sockaddr_host_text((struct sockaddr *) &un, buf, sizeof(buf));
        is_str(buf, "unix:", "host text of a unix address");
        wm_sockaddr_host_text((struct sockaddr *) &un, buf, 3);
        is_str(buf, "", "  empty when it does not fit");
    }
    {
        struct sockaddr_in v4;

        ok(wm_sockaddr_unmap(addr("::ffff:10.9.8.7"), &v4), "unmap mapped");
        wm_sockaddr_host_text((struct sockaddr *) &v4, buf, sizeof(buf));
        is_str(buf, "10.9.8.7", "  to its IPv4 address");
        ok(!wm_sockaddr_unmap(addr("2001:db8::1"), &v4),
           "a plain IPv6 address is not unmapped");
        ok(!wm_sockaddr_unmap(addr("10.9.8.7"), &v4), "  nor an IPv4 one");
    }
}

int
main(void)
{
    test_parse();
    test_match();
    test_lists();
    test_host();
    return tap_done();
}
