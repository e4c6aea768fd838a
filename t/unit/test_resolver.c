/*
 * Unit tests of run-time re-resolution without DNS: the arguments of
 * `resolver` (and the exact messages for bad ones), the `resolve`
 * parameter of `server`, and how a new address list replaces the old one
 * in a server's slots: kept addresses keep their slot and state, removed
 * ones leave an empty slot that no select picks, new ones start fresh,
 * the configured weight stays, and the generation moves only on change.
 */
#include "wm_resolver.h"

#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static wm_pool_t *pool;

static wm_str_t
S(const char *s)
{
    wm_str_t r = {strlen(s), (u_char *) s};

    return r;
}

/* wm_resolver_parse() of a space-separated line: "ok" or the error. */
static const char *
parse(const char *line, wm_resolver_conf_t **rc)
{
    static char err[256];
    static char buf[512];
    wm_str_t args[16];
    size_t n = 0;
    char *tok, *save;

    snprintf(buf, sizeof(buf), "%s", line);
    for (tok = strtok_r(buf, " ", &save); tok && n < 16;
         tok = strtok_r(NULL, " ", &save))
    {
        args[n++] = S(tok);
    }
    return wm_resolver_parse(pool, args, n, rc, err, sizeof(err)) == WM_OK
               ? "ok"
               : err;
}

static void
test_parse(void)
{
    wm_resolver_conf_t *rc = NULL;
    const struct sockaddr_in *sin;

    is_str(parse("127.0.0.1", &rc), "ok", "one address");
    is_int(rc->naddrs, 1, "one name server");
    sin = (const struct sockaddr_in *) &rc->addrs[0].sockaddr;
    is_int(ntohs(sin->sin_port), 53, "port 53 by default");
    ok(rc->ipv6, "ipv6=on by default");
    is_int(rc->valid, 0, "the TTL by default");
    is_int(rc->timeout, 30000, "resolver_timeout 30s by default");

    is_str(parse("127.0.0.1:5353 [::1]:54 valid=10s ipv6=off", &rc), "ok",
           "two addresses and parameters");
    is_int(rc->naddrs, 2, "two name servers");
    sin = (const struct sockaddr_in *) &rc->addrs[0].sockaddr;
    is_int(ntohs(sin->sin_port), 5353, "explicit port");
    is_int(rc->addrs[1].sockaddr.ss_family, AF_INET6, "IPv6 server");
    is_int(rc->valid, 10000, "valid=10s");
    ok(!rc->ipv6, "ipv6=off");

    is_str(parse("127.0.0.1 valid=0", &rc), "invalid parameter \"valid=0\"",
           "valid=0");
    is_str(parse("127.0.0.1 ipv6=maybe", &rc),
           "invalid parameter \"ipv6=maybe\"", "ipv6=maybe");
    is_str(parse("valid=5s", &rc), "no name server address", "parameters only");
    is_str(parse("unix:/tmp/dns", &rc), "invalid parameter \"unix:/tmp/dns\"",
           "unix socket");
    is_str(parse("127.0.0.1:0", &rc),
           "invalid address \"127.0.0.1:0\": invalid port in \"127.0.0.1:0\"",
           "port 0");
}

static void
test_server_param(void)
{
    wm_upstream_server_t srv;
    wm_str_t args[3] = {S("backend.test:80"), S("resolve"), S("weight=3")};
    char err[128];

    ok(wm_upstream_parse_server(args, 3, &srv, err, sizeof(err)) == WM_OK,
       "server ... resolve weight=3 parses");
    ok(srv.resolve, "resolve set");
    is_int(srv.weight, 3, "weight kept");
}

/* Slots [from, from + n) of a group of npeers, as the zone holds them. */
typedef struct {
    wm_balance_group_t *b;
    wm_upstream_saddr_t sa[16];
} slots_t;

static void
slots_init(slots_t *s, uint32_t npeers, uint32_t weight)
{
    uint32_t i;

    s->b = wm_palloc(pool, wm_balance_group_size(npeers));
    wm_balance_group_init(s->b, npeers, 0);
    memset(s->sa, 0, sizeof(s->sa));
    for (i = 0; i < npeers; i++) {
        s->b->peer[i].weight = weight;
        s->sa[i].flags = WM_UPSTREAM_SADDR_RESOLVE;
        atomic_store(&s->b->peer[i].empty, true);
    }
}

static wm_upstream_saddr_t
A(const char *ip, int port)
{
    wm_upstream_saddr_t a;
    struct sockaddr_in *sin = (struct sockaddr_in *) &a.sockaddr;

    memset(&a, 0, sizeof(a));
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t) port);
    inet_pton(AF_INET, ip, &sin->sin_addr);
    a.socklen = sizeof(*sin);
    return a;
}

/* The IPv4 address in slot i, "-" when empty. */
static const char *
slot_ip(const slots_t *s, uint32_t i)
{
    static char buf[4][32];
    static int k;
    const struct sockaddr_in *sin =
        (const struct sockaddr_in *) &s->sa[i].sockaddr;

    k = (k + 1) % 4;
    if (s->sa[i].socklen == 0) {
        return "-";
    }
    inet_ntop(AF_INET, &sin->sin_addr, buf[k], sizeof(buf[k]));
    return buf[k];
}

static void
test_update(void)
{
    slots_t s;
    wm_upstream_saddr_t addrs[4];
    uint64_t tried = 0;
    wm_balance_ctx_t ctx;
    bool changed;
    unsigned gen;
    wm_int_t i;

    /* Slots 1..4 of a group whose peer 0 is a plain server. */
    slots_init(&s, 5, 2);
    atomic_store(&s.b->peer[0].empty, false);
    s.b->peer[0].weight = 1;
    s.sa[0] = A("10.0.0.1", 80);

    memset(&ctx, 0, sizeof(ctx));
    ctx.now = 100000;

    addrs[0] = A("127.0.0.2", 8080);
    addrs[1] = A("127.0.0.3", 8080);
    gen = atomic_load(&s.b->generation);
    is_int(wm_resolver_update_slots(s.b, s.sa, 1, 4, addrs, 2, &changed), 0,
           "two addresses fit");
    ok(changed, "first answer changes the slots");
    is_int(atomic_load(&s.b->generation), gen + 1, "generation bumped");
    is_str(slot_ip(&s, 1), "127.0.0.2", "slot 1 takes the first address");
    is_str(slot_ip(&s, 2), "127.0.0.3", "slot 2 the second");
    is_str(slot_ip(&s, 3), "-", "slot 3 stays empty");
    ok(!atomic_load(&s.b->peer[1].empty) && atomic_load(&s.b->peer[3].empty),
       "empty flags follow the addresses");
    is_str(slot_ip(&s, 0), "10.0.0.1", "the plain server is untouched");

    /* The same answer: nothing moves. */
    wm_resolver_update_slots(s.b, s.sa, 1, 4, addrs, 2, &changed);
    ok(!changed, "same answer: no change");
    is_int(atomic_load(&s.b->generation), gen + 1, "generation unchanged");

    /* State on the kept address, connections on the removed one. */
    atomic_store(&s.b->peer[2].fails, 1);
    atomic_store(&s.b->peer[2].hc_passes, 3);
    atomic_store(&s.b->peer[1].conns, 2);
    atomic_store(&s.b->peer[1].fails, 1);

    addrs[0] = A("127.0.0.3", 8080);
    addrs[1] = A("127.0.0.4", 8080);
    wm_resolver_update_slots(s.b, s.sa, 1, 4, addrs, 2, &changed);
    ok(changed, "new answer changes the slots");
    is_str(slot_ip(&s, 2), "127.0.0.3", "kept address keeps its slot");
    is_int(atomic_load(&s.b->peer[2].fails), 1, "kept: failures kept");
    is_int(atomic_load(&s.b->peer[2].hc_passes), 3, "kept: health kept");
    ok(atomic_load(&s.b->peer[1].empty), "removed address: slot 1 empty");
    is_str(slot_ip(&s, 1), "-", "removed address: no address");
    is_int(atomic_load(&s.b->peer[1].conns), 2,
           "removed: open connections still counted");
    is_str(slot_ip(&s, 3), "127.0.0.4",
           "new address takes an empty slot without connections");
    is_int(atomic_load(&s.b->peer[3].fails), 0, "new: fresh failures");
    is_int(s.b->peer[3].weight, 2, "new: configured weight");

    /* The balancer never picks the empty slot. */
    for (i = 0; i < 20; i++) {
        wm_int_t p = wm_balance_select_rr(s.b, &tried, &ctx);

        ok(p != 1 && p != 4, "round robin skips empty slots");
        if (p >= 0) {
            wm_balance_peer_release(&s.b->peer[p]);
        }
        if (p == 1 || p == 4) {
            break;
        }
    }

    /* Stale state of a reused slot is cleared. */
    atomic_store(&s.b->peer[4].fails, 5);
    atomic_store(&s.b->peer[4].hc_down, true);
    addrs[2] = A("127.0.0.5", 8080);
    wm_resolver_update_slots(s.b, s.sa, 1, 4, addrs, 3, &changed);
    is_str(slot_ip(&s, 4), "127.0.0.5", "third address in the last free slot");
    is_int(atomic_load(&s.b->peer[4].fails), 0, "reused slot: fails cleared");
    ok(!atomic_load(&s.b->peer[4].hc_down), "reused slot: health cleared");

    /* More addresses than slots: the rest are counted as dropped. */
    addrs[3] = A("127.0.0.6", 8080);
    {
        wm_upstream_saddr_t many[6];

        memcpy(many, addrs, sizeof(addrs));
        many[4] = A("127.0.0.7", 8080);
        many[5] = A("127.0.0.8", 8080);
        is_int(wm_resolver_update_slots(s.b, s.sa, 1, 4, many, 6, &changed), 2,
               "six addresses in four slots: two dropped");
        is_str(slot_ip(&s, 1), "127.0.0.6",
               "a slot with open connections is used when nothing else is");
    }

    /* An empty answer empties every slot (callers keep the old addresses
     * instead; this is the primitive). */
    wm_resolver_update_slots(s.b, s.sa, 1, 4, addrs, 0, &changed);
    ok(changed && atomic_load(&s.b->peer[1].empty)
           && atomic_load(&s.b->peer[4].empty),
       "no addresses: all slots empty");
    is_int(wm_balance_select_rr(s.b, NULL, &ctx), 0,
           "only the plain server is left");
}

int
main(void)
{
    pool = wm_pool_new(4096);
    test_parse();
    test_server_param();
    test_update();
    wm_pool_free(pool);
    return tap_done();
}
