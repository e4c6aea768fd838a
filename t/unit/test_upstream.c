/*
 * Unit tests of upstream groups: `server` lines and their parameters (and
 * the exact messages for bad ones), address resolution into peers,
 * primaries before backups, implicit groups, picks and releases with
 * passive failures, and the zone reuse decision across reloads (same
 * servers keep their state, changed ones start afresh without touching
 * the old copy).
 */
#include "wm_cycle.h"
#include "wm_shm.h"
#include "wm_upstream.h"

#include "tap.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

static int tag, other_tag;

static wm_cycle_t *
fake_cycle(void)
{
    wm_pool_t *pool = wm_pool_new(0);
    wm_cycle_t *c = wm_pcalloc(pool, sizeof(*c));

    c->pool = pool;
    wm_array_init(&c->shm_zones, pool, 2, sizeof(void *));
    wm_array_init(&c->listening, pool, 2, sizeof(void *));
    return c;
}

/* Splits a line such as "10.0.0.1:80 weight=2 backup" into args (static
 * storage, valid until the next call). */
static size_t
split(const char *line, wm_str_t *args, size_t max)
{
    static char buf[512];
    char *p, *save = NULL;
    size_t n = 0;

    snprintf(buf, sizeof(buf), "%s", line);
    for (p = strtok_r(buf, " ", &save); p && n < max;
         p = strtok_r(NULL, " ", &save))
    {
        args[n].data = (u_char *) p;
        args[n].len = strlen(p);
        n++;
    }
    return n;
}

/* wm_upstream_parse_server() on a line: WM_OK or the error message. */
static const char *
parse(const char *line, wm_upstream_server_t *srv)
{
    static char err[256];
    wm_str_t args[16];
    size_t n = split(line, args, 16);

    if (wm_upstream_parse_server(args, n, srv, err, sizeof(err)) == WM_OK) {
        return "ok";
    }
    return err;
}

/* Adds a server line to g (pool copies of the args, as a config tree
 * has); "ok" or the error. */
static const char *
add(wm_upstream_group_t *g, const char *line, int port)
{
    static char err[256];
    wm_str_t args[16], *copy;
    size_t n = split(line, args, 16), i;

    copy = wm_palloc(g->pool, n * sizeof(wm_str_t));
    for (i = 0; i < n; i++) {
        copy[i].data =
            (u_char *) wm_pstrndup(g->pool, args[i].data, args[i].len);
        copy[i].len = args[i].len;
    }
    if (wm_upstream_add_server(g, copy, n, port, err, sizeof(err)) == WM_OK) {
        return "ok";
    }
    return err;
}

static wm_upstream_group_t *
group(wm_cycle_t *c, const char *name)
{
    wm_str_t s = {strlen(name), (u_char *) name};

    return wm_upstream_group_new(c->pool, &s, NULL);
}

static void
test_parse(void)
{
    wm_upstream_server_t srv;

    is_str(parse("10.0.0.1:80", &srv), "ok", "a bare server line parses");
    is_int(srv.weight, 1, "  weight 1 by default");
    is_int(srv.max_fails, 1, "  max_fails 1 by default");
    is_int(srv.fail_timeout, 10000, "  fail_timeout 10s by default");
    is_int(srv.max_conns, 0, "  no max_conns by default");
    ok(!srv.backup && !srv.down, "  neither backup nor down");
    ok(srv.addr.len == 11 && memcmp(srv.addr.data, "10.0.0.1:80", 11) == 0,
       "  addr is the first argument");

    is_str(parse("b:80 weight=5 max_fails=3 fail_timeout=30s max_conns=100 "
                 "backup down",
                 &srv),
           "ok", "every parameter parses");
    is_int(srv.weight, 5, "  weight=5");
    is_int(srv.max_fails, 3, "  max_fails=3");
    is_int(srv.fail_timeout, 30000, "  fail_timeout=30s");
    is_int(srv.max_conns, 100, "  max_conns=100");
    ok(srv.backup && srv.down, "  backup and down");

    is_str(parse("b:80 max_fails=0 fail_timeout=500ms", &srv), "ok",
           "max_fails=0 and a fail_timeout in ms");
    is_int(srv.max_fails, 0, "  max_fails=0");
    is_int(srv.fail_timeout, 500, "  fail_timeout=500ms");
    is_str(parse("b:80 weight=10000", &srv), "ok", "weight=10000 is allowed");

    is_str(parse("b:80 weight=0", &srv), "invalid parameter \"weight=0\"",
           "weight=0 is refused");
    is_str(parse("b:80 weight=10001", &srv),
           "invalid parameter \"weight=10001\"", "weight=10001 is refused");
    is_str(parse("b:80 weight=", &srv), "invalid parameter \"weight=\"",
           "an empty weight is refused");
    is_str(parse("b:80 weight=2x", &srv), "invalid parameter \"weight=2x\"",
           "weight=2x is refused");
    is_str(parse("b:80 max_fails=-1", &srv),
           "invalid parameter \"max_fails=-1\"", "max_fails=-1 is refused");
    is_str(parse("b:80 fail_timeout=5x", &srv),
           "invalid parameter \"fail_timeout=5x\"",
           "fail_timeout=5x is refused");
    is_str(parse("b:80 max_conns=many", &srv),
           "invalid parameter \"max_conns=many\"", "max_conns=many is refused");
    is_str(parse("b:80 slow_start=10s", &srv),
           "invalid parameter \"slow_start=10s\"",
           "an unknown parameter is refused");
    is_str(parse("b:80 weight=2 drain", &srv),
           "invalid parameter \"drain\"", "the first bad parameter is named");
    is_str(parse("b:80 Backup", &srv), "invalid parameter \"Backup\"",
           "parameters are case-sensitive");
}

static void
test_resolve(void)
{
    wm_cycle_t *c = fake_cycle();
    wm_upstream_group_t *g = group(c, "r");
    char err[256];
    struct sockaddr_in *in;
    uint32_t i;

    is_str(add(g, "127.0.0.1:8080", 0), "ok", "an IPv4 address");
    is_str(add(g, "[::1]:8081", 0), "ok", "an IPv6 address");
    is_str(add(g, "unix:/run/be.sock weight=3", 0), "ok", "a unix socket");
    is_str(add(g, "127.0.0.2", 80), "ok", "no port takes the caller's default");
    is_str(add(g, "127.0.0.3", 0), "no port in upstream \"127.0.0.3\"",
           "no port and no default: refused");
    is_str(add(g, "127.0.0.1:0", 0), "invalid port in upstream \"127.0.0.1:0\"",
           "port 0 is refused");
    is_str(add(g, "127.0.0.1:65536", 0),
           "invalid port in upstream \"127.0.0.1:65536\"",
           "port 65536 is refused");
    is_str(add(g, "127.0.0.1:8x", 0),
           "invalid port in upstream \"127.0.0.1:8x\"",
           "a port with letters is refused");
    is_str(add(g, "[::1:80", 0), "invalid IPv6 address in upstream \"[::1:80\"",
           "an unclosed [ is refused");
    is_str(add(g, "unix:", 0), "invalid unix socket path in upstream \"unix:\"",
           "an empty unix path is refused");
    is_str(add(g, "host.invalid:80", 0),
           "host not found in upstream \"host.invalid:80\"",
           "an unknown host is refused");
    is_str(add(g, ":80", 0), "host not found in upstream \":80\"",
           "an empty host is refused");
    is_str(add(g, "127.0.0.1:80 weight=0", 0), "invalid parameter \"weight=0\"",
           "parameters are checked before resolving");
    is_str(add(g, "127.0.0.9:9 backup", 0), "ok", "a backup");
    is_str(add(g, "127.0.0.10:10", 0), "ok", "a primary after the backup");

    ok(wm_upstream_group_init(c, g, &tag, err, sizeof(err)) == WM_OK,
       "the group initialises");
    is_int(g->npeers, 6, "  6 peers");
    is_int(g->nprimary, 5, "  5 of them primaries");
    is_str((const char *) g->peer[0].name.data, "127.0.0.1:8080",
           "  peer 0 is the first line");
    is_str((const char *) g->peer[1].name.data, "[::1]:8081",
           "  peer 1 is the IPv6 line");
    is_str((const char *) g->peer[2].name.data, "unix:/run/be.sock",
           "  peer 2 is the unix socket");
    is_int(g->peer[2].sockaddr.ss_family, AF_UNIX, "  of family AF_UNIX");
    is_str((const char *) g->peer[3].name.data, "127.0.0.2:80",
           "  peer 3 got the default port");
    is_str((const char *) g->peer[4].name.data, "127.0.0.10:10",
           "  the primary written after the backup comes before it");
    is_str((const char *) g->peer[5].name.data, "127.0.0.9:9",
           "  the backup is last");
    in = (struct sockaddr_in *) &g->peer[0].sockaddr;
    is_int(ntohs(in->sin_port), 8080, "  the port is in the address");
    is_int(g->local->peer[2].weight, 3, "  the unix peer has weight 3");
    is_int(g->local->nprimary, 5, "  the balancer has the same tiers");
    ok(g->state == g->local, "  without zone the state is private");
    ok(g->zone == NULL && c->shm_zones.nelts == 0, "  and no zone exists");

    g = group(c, "localhost");
    is_str(add(g, "localhost:80", 0), "ok", "a host name resolves");
    ok(wm_upstream_group_init(c, g, &tag, err, sizeof(err)) == WM_OK
           && g->npeers >= 1,
       "  into one peer or more");
    for (i = 1; i < g->npeers; i++) {
        ok(g->peer[i - 1].sockaddr.ss_family <= g->peer[i].sockaddr.ss_family,
           "  IPv4 addresses come first");
    }
    ok(g->peer[0].server == g->peer[g->npeers - 1].server,
       "  every address shares the line's parameters");

    g = group(c, "empty");
    ok(wm_upstream_group_init(c, g, &tag, err, sizeof(err)) == WM_ERROR,
       "a group without servers is refused");
    is_str(err, "no servers are inside upstream", "  with nginx's message");

    wm_pool_free(c->pool);
}

static void
test_implicit(void)
{
    wm_cycle_t *c = fake_cycle();
    wm_upstream_main_conf_t umcf;
    wm_upstream_group_t *g, *g2, *be, **slot;
    wm_str_t a = wm_string("127.0.0.1:9000"), b = wm_string("be:81"),
             n = wm_string("be"), bad = wm_string("nohost.invalid:1"),
             u = wm_string("unix:/tmp/x");
    char err[256];

    wm_array_init(&umcf.groups, c->pool, 2, sizeof(void *));
    be = group(c, "be");
    add(be, "127.0.0.1:1", 0);
    wm_upstream_group_init(c, be, &tag, err, sizeof(err));
    slot = wm_array_push(&umcf.groups);
    *slot = be;

    ok(wm_upstream_find(&umcf, &n) == be, "find: an upstream by name");
    ok(wm_upstream_find(&umcf, &a) == NULL, "find: an unknown name");

    g = wm_upstream_implicit(c, &umcf, &a, 0, NULL, err, sizeof(err));
    ok(g != NULL && g->implicit && g->npeers == 1,
       "an address gets an implicit group of one peer");
    g2 = wm_upstream_implicit(c, &umcf, &a, 0, NULL, err, sizeof(err));
    ok(g2 == g, "  the same address shares it");
    ok(wm_upstream_find(&umcf, &a) == NULL,
       "  find does not return implicit groups");
    ok(g->local->peer[0].max_fails == 1
           && g->local->peer[0].fail_timeout == 10000,
       "  with the default parameters");
    ok(wm_upstream_implicit(c, &umcf, &u, 0, NULL, err, sizeof(err)) != NULL,
       "a unix path gets one too");

    ok(wm_upstream_implicit(c, &umcf, &b, 0, NULL, err, sizeof(err)) == NULL,
       "an upstream name with a port is refused");
    is_str(err, "upstream \"be\" may not have port 81", "  as nginx says");
    ok(wm_upstream_implicit(c, &umcf, &bad, 0, NULL, err, sizeof(err)) == NULL,
       "an unresolvable address is refused");
    is_str(err, "host not found in upstream \"nohost.invalid:1\"",
           "  as nginx says");
    is_int(umcf.groups.nelts, 3, "failed implicit groups are not kept");
    wm_pool_free(c->pool);
}

static void
test_pick(void)
{
    wm_cycle_t *c = fake_cycle();
    wm_upstream_group_t *g = group(c, "p");
    wm_upstream_pick_t pk;
    const wm_upstream_peer_t *p;
    wm_log_sink_t sink = {NULL, -1, WM_LOG_WARN};
    wm_log_t log = {&sink, 1, WM_LOG_WARN, NULL, NULL, NULL};
    char err[256], path[] = "/tmp/test_upstream_XXXXXX", text[1024];
    wm_str_t key = wm_string("client-key");
    wm_pool_t *pool = wm_pool_new(0);
    int counts[3] = {0, 0, 0}, i, fd;
    ssize_t n;

    fd = mkstemp(path);
    sink.path = path;
    close(fd);
    wm_log_sink_open(&sink);

    add(g, "127.0.0.1:1 weight=2", 0);
    add(g, "127.0.0.1:2", 0);
    add(g, "127.0.0.1:3 backup", 0);
    wm_upstream_group_init(c, g, &tag, err, sizeof(err));

    for (i = 0; i < 30; i++) {
        wm_upstream_pick_init(&pk, g, NULL, pool);
        p = wm_upstream_pick(&pk);
        counts[p - g->peer]++;
        if (i == 0) {
            is_int(g->state->peer[p - g->peer].conns, 1,
                   "a pick holds the peer (conns 1)");
        }
        wm_upstream_release(&pk, WM_UPSTREAM_OK, &log);
        if (i == 0) {
            is_int(g->state->peer[0].conns, 0, "a release gives it back");
            ok(wm_upstream_current(&pk) == NULL, "  and pk holds none");
        }
    }
    is_int(counts[0], 20, "round robin: weight 2 gets 20 of 30");
    is_int(counts[1], 10, "  weight 1 gets 10");
    is_int(counts[2], 0, "  the backup none");

    wm_upstream_pick_init(&pk, g, NULL, pool);
    p = wm_upstream_pick(&pk);
    ok(wm_upstream_current(&pk) == p, "current is the held peer");
    ok(wm_upstream_pick(&pk) == NULL, "a second pick while holding fails");
    wm_upstream_release(&pk, WM_UPSTREAM_FAILED, &log);
    ok(wm_balance_is_tried(pk.tried, (uint32_t) (p - g->peer)),
       "a failure marks the peer tried");
    is_int(g->state->peer[p - g->peer].fails, 1, "  and counts a failure");
    fd = open(path, O_RDONLY);
    n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
    text[n > 0 ? n : 0] = '\0';
    if (fd >= 0) {
        close(fd);
    }
    ok(strstr(text, "[warn] ") != NULL
           && strstr(text, ": upstream server temporarily disabled\n") != NULL,
       "  max_fails reached: a warn line in the log");

    p = wm_upstream_pick(&pk);
    ok(p == &g->peer[1], "the next pick takes the other primary");
    wm_upstream_release(&pk, WM_UPSTREAM_FAILED, &log);
    p = wm_upstream_pick(&pk);
    ok(p == &g->peer[2], "then the backup, once both primaries failed");
    wm_upstream_release(&pk, WM_UPSTREAM_FAILED, &log);
    ok(wm_upstream_pick(&pk) == NULL, "then nothing");
    is_int(pk.reason, WM_BALANCE_ALL_DOWN,
           "  every peer is down (failed, so tried too)");
    is_int(pk.tries, 3, "  after 3 picks");

    wm_upstream_pick_init(&pk, g, NULL, pool);
    ok(wm_upstream_pick(&pk) == NULL, "a new session finds every peer down");
    is_str(wm_balance_reason_text(pk.reason), "no live upstreams",
           "  no live upstreams");

    /* hash: the same key, the same peer */
    g = group(c, "h");
    add(g, "127.0.0.1:1", 0);
    add(g, "127.0.0.1:2", 0);
    add(g, "127.0.0.1:3", 0);
    g->method = WM_UPSTREAM_HASH;
    ok(wm_cv_compile(c->pool, &key, NULL, &g->hash_key) == NULL,
       "a literal hash key compiles");
    wm_upstream_group_init(c, g, &tag, err, sizeof(err));
    wm_upstream_pick_init(&pk, g, NULL, pool);
    p = wm_upstream_pick(&pk);
    wm_upstream_release(&pk, WM_UPSTREAM_OK, &log);
    for (i = 0; i < 10; i++) {
        wm_upstream_pick_init(&pk, g, NULL, pool);
        if (wm_upstream_pick(&pk) != p) {
            break;
        }
        wm_upstream_release(&pk, WM_UPSTREAM_OK, &log);
    }
    is_int(i, 10, "hash: the same key picks the same peer every time");
    is_int(pk.hash, wm_hash(key.data, key.len, 0),
           "  the hash is wm_hash() of the key");

    close(sink.fd);
    unlink(path);
    wm_pool_free(pool);
    wm_pool_free(c->pool);
}

/* A cycle with groups "a" (the given servers, in zone "z") and "b" (one
 * server, in zone "z" too), zones created against old. */
static wm_cycle_t *
zone_cycle(wm_cycle_t *old, const char *a1, const char *a2,
           wm_upstream_group_t **ga, wm_upstream_group_t **gb)
{
    wm_cycle_t *c = fake_cycle();
    wm_str_t z = wm_string("z");
    char err[256];

    *ga = group(c, "a");
    *gb = group(c, "b");
    (*ga)->zone_name = z;
    (*ga)->zone_size = 65536;
    (*gb)->zone_name = z;
    add(*ga, a1, 0);
    add(*ga, a2, 0);
    add(*gb, "127.0.0.1:7", 0);
    if (wm_upstream_group_init(c, *ga, &tag, err, sizeof(err)) != WM_OK
        || wm_upstream_group_init(c, *gb, &tag, err, sizeof(err)) != WM_OK
        || wm_upstream_init_zones(c, &tag) != NULL
        || wm_shm_create(c, old) != WM_OK)
    {
        diag("zone cycle: %s", err);
        return NULL;
    }
    return c;
}

static void
test_zone(void)
{
    wm_cycle_t *c1, *c2, *c3, *c4, *c;
    wm_upstream_group_t *a1, *b1, *a2, *b2, *a3, *b3, *a4, *b4, *g;
    wm_upstream_pick_t pk;
    wm_pool_t *pool = wm_pool_new(0);
    wm_log_t log = {NULL, 0, 0, NULL, NULL, NULL};
    wm_str_t z = wm_string("z"), big = wm_string("big");
    char err[256], line[64];
    const char *rv;
    int i;

    c1 = zone_cycle(NULL, "127.0.0.1:1", "127.0.0.1:2", &a1, &b1);
    ok(c1 != NULL, "cycle 1: two groups in zone z");
    if (c1 == NULL) {
        return;
    }
    ok(a1->zone != NULL && a1->zone == b1->zone, "  they share the zone");
    ok(a1->state != NULL && a1->state != a1->local,
       "  the state is not the private copy");
    ok((u_char *) a1->state > a1->zone->addr
           && (u_char *) a1->state < a1->zone->addr + a1->zone->size,
       "  it is in the zone");
    is_int(a1->state->npeers, 2, "  with 2 peers");
    is_int(a1->zone->size, 65536, "  the zone has the size one group gave");

    wm_upstream_pick_init(&pk, a1, NULL, pool);
    wm_upstream_pick(&pk);        /* held across the reload */
    a1->state->peer[1].fails = 3; /* as failures would leave it */
    b1->state->peer[0].conns = 7;

    c2 = zone_cycle(c1, "127.0.0.1:1", "127.0.0.1:2", &a2, &b2);
    ok(c2 != NULL, "cycle 2 (a reload): the same servers");
    ok(a2->zone->addr == a1->zone->addr, "  the zone is reused");
    ok(a2->state == a1->state, "  group a keeps its state");
    ok(b2->state == b1->state, "  group b keeps its state");
    is_int(a2->state->peer[0].conns, 1, "  the held connection counts");
    is_int(a2->state->peer[1].fails, 3, "  the failures count");
    wm_upstream_release(&pk, WM_UPSTREAM_OK, &log);
    is_int(a2->state->peer[0].conns, 0,
           "  an old session's release reaches the new state");

    c3 = zone_cycle(c2, "127.0.0.1:1", "127.0.0.1:2 weight=2", &a3, &b3);
    ok(c3 != NULL, "cycle 3: a weight of group a changed");
    ok(a3->zone->addr == a1->zone->addr, "  the zone is reused");
    ok(a3->state != a2->state, "  group a starts afresh");
    is_int(a3->state->peer[1].fails, 0, "  without the old failures");
    is_int(a3->state->peer[1].weight, 2, "  with the new weight");
    is_int(a2->state->peer[1].fails, 3,
           "  the old copy is untouched for the old workers");
    is_int(a2->state->peer[1].weight, 1, "  with its old weight");
    ok(b3->state == b1->state, "  group b, unchanged, keeps its state");
    is_int(b3->state->peer[0].conns, 7, "  and its counters");

    c4 = zone_cycle(c3, "127.0.0.1:1", "127.0.0.1:2", &a4, &b4);
    ok(c4 != NULL, "cycle 4: back to the servers of cycle 2");
    ok(a4->state == a1->state, "  group a takes its first copy back");

    wm_shm_release(c1);
    wm_shm_release(c2);
    wm_shm_release(c3);
    wm_pool_free(c1->pool);
    wm_pool_free(c2->pool);
    wm_pool_free(c3->pool);

    /* A changed order is a changed list. */
    c = zone_cycle(c4, "127.0.0.1:2", "127.0.0.1:1", &a1, &b1);
    ok(c != NULL && a1->state != a4->state,
       "the same servers in another order start afresh");
    wm_shm_release(c4);
    wm_pool_free(c4->pool);
    wm_shm_release(c);
    wm_pool_free(c->pool);

    /* Sizes. */
    c = fake_cycle();
    g = group(c, "big");
    g->zone_name = big;
    g->zone_size = 8192;
    for (i = 0; i < 40; i++) {
        snprintf(line, sizeof(line), "127.0.0.1:%d", i + 1);
        add(g, line, 0);
    }
    ok(wm_upstream_group_init(c, g, &tag, err, sizeof(err)) == WM_OK,
       "40 peers in an 8k zone: declared");
    rv = wm_upstream_init_zones(c, &tag);
    ok(rv != NULL
           && strstr(rv, "zone \"big\" is too small for its upstreams") == rv,
       "  but too small");

    g = group(c, "a");
    g->zone_name = z;
    add(g, "127.0.0.1:1", 0);
    wm_upstream_group_init(c, g, &tag, err, sizeof(err));
    g = group(c, "b");
    g->zone_name = z;
    g->zone_size = 16384;
    add(g, "127.0.0.1:1", 0);
    ok(wm_upstream_group_init(c, g, &tag, err, sizeof(err)) == WM_OK,
       "a size given by a later group of the zone");
    is_int(g->zone->size, 16384, "  is the zone's size");
    g = group(c, "c");
    g->zone_name = z;
    g->zone_size = 32768;
    add(g, "127.0.0.1:1", 0);
    ok(wm_upstream_group_init(c, g, &tag, err, sizeof(err)) == WM_ERROR,
       "another size for the same zone is refused");
    is_str(err, "zone \"z\" is already declared with size 16384",
           "  with a message");

    g = group(c, "d");
    g->zone_name = big;
    add(g, "127.0.0.1:1", 0);
    ok(wm_upstream_group_init(c, g, &other_tag, err, sizeof(err)) == WM_ERROR,
       "a zone of another module is refused");
    is_str(err, "zone \"big\" is already used by another module",
           "  with a message");
    wm_pool_free(c->pool);

    c = fake_cycle();
    g = group(c, "e");
    wm_str_set(&g->zone_name, "nosize");
    add(g, "127.0.0.1:1", 0);
    wm_upstream_group_init(c, g, &tag, err, sizeof(err));
    ok(wm_upstream_init_zones(c, &tag) == NULL
           && g->zone->size == WM_UPSTREAM_ZONE_SIZE,
       "a zone without a size gets the default size");
    wm_pool_free(c->pool);
    wm_pool_free(pool);
}

int
main(void)
{
    test_parse();
    test_resolve();
    test_implicit();
    test_pick();
    test_zone();
    return tap_done();
}
