/*
 * Unit tests of the upstream balancers: exact smooth round-robin
 * sequences, weight proportions, least_conn, hash stability and
 * consistent-hash key movement, random two, backups, max_conns, the tried
 * bitmap, passive failures on a fake clock, and the reason of every kind
 * of exhaustion. The random source is seeded, so every run is the same.
 */
#include "wm_balance.h"

#include "tap.h"

#define NKEYS 100000

static uint64_t seed = 42;

static wm_balance_group_t *
group_new(uint32_t nprimary, uint32_t nbackup, const uint32_t *weights)
{
    wm_balance_group_t *g;
    uint32_t i;

    g = malloc(wm_balance_group_size(nprimary + nbackup));
    if (g == NULL) {
        abort();
    }
    wm_balance_group_init(g, nprimary, nbackup);
    for (i = 0; weights != NULL && i < g->npeers; i++) {
        g->peer[i].weight = weights[i];
    }
    return g;
}

static wm_balance_ctx_t
ctx_at(wm_msec_t now)
{
    wm_balance_ctx_t ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.now = now;
    ctx.rand = wm_balance_rand_next;
    ctx.rand_data = &seed;
    return ctx;
}

/* One select whose connection is given back at once, so that conns does
 * not build up between picks. */
static wm_int_t
pick(wm_balance_select_pt select, wm_balance_group_t *g,
     const uint64_t *tried, wm_balance_ctx_t *ctx)
{
    wm_int_t i = select(g, tried, ctx);

    if (i >= 0) {
        wm_balance_peer_release(&g->peer[i]);
    }
    return i;
}

/* n picks as letters, 'a' for peer 0; '-' for none. */
static void
pick_letters(wm_balance_select_pt select, wm_balance_group_t *g, size_t n,
             char *out)
{
    wm_balance_ctx_t ctx = ctx_at(0);
    wm_int_t i;
    size_t k;

    for (k = 0; k < n; k++) {
        i = pick(select, g, NULL, &ctx);
        out[k] = i < 0 ? '-' : (char) ('a' + i);
    }
    out[n] = '\0';
}

/* got/total is want within 0.02 (two percentage points). */
static void
is_share(uint32_t got, uint32_t total, double want, const char *name)
{
    double share = (double) got / total, d = share - want;

    if (!ok((d < 0 ? -d : d) <= 0.02, name)) {
        diag("share %.4f, expected %.4f", share, want);
    }
}

static void
set_conns(wm_balance_group_t *g, uint32_t i, unsigned n)
{
    atomic_store(&g->peer[i].conns, n);
}

static uint32_t
key_hash(uint32_t k)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "key-%u", k);

    return wm_hash(buf, (size_t) n, 0);
}

static void
test_hash_function(void)
{
    static const char fox[] = "The quick brown fox jumps over the lazy dog";

    /* Published MurmurHash3_x86_32 vectors. */
    is_int(wm_hash("", 0, 0), 0, "murmur3: empty, seed 0");
    is_int(wm_hash("", 0, 1), 0x514e28b7U, "murmur3: empty, seed 1");
    is_int(wm_hash("", 0, 0xffffffffU), 0x81f16f39U,
           "murmur3: empty, seed ffffffff");
    is_int(wm_hash("\0\0\0\0", 4, 0), 0x2362f9deU, "murmur3: four zeros");
    is_int(wm_hash("aaaa", 4, 0x9747b28cU), 0x5a97808aU, "murmur3: aaaa");
    is_int(wm_hash("abc", 3, 0), 0xb3dd93faU, "murmur3: 3-byte tail");
    is_int(wm_hash("Hello, world!", 13, 0x9747b28cU), 0x24884cbaU,
           "murmur3: Hello, world!");
    is_int(wm_hash(fox, sizeof(fox) - 1, 0x9747b28cU), 0x2fa826cdU,
           "murmur3: quick brown fox");
}

static void
test_rr(void)
{
    static const uint32_t w511[] = { 5, 1, 1 }, w11[] = { 1, 1 },
                          w3214[] = { 3, 2, 1, 4 };
    wm_balance_group_t *g;
    uint32_t count[4] = { 0 }, k;
    wm_balance_ctx_t ctx = ctx_at(0);
    char seq[32];

    g = group_new(3, 0, w511);
    pick_letters(wm_balance_select_rr, g, 7, seq);
    is_str(seq, "aabacaa", "rr: weights 5,1,1 give a,a,b,a,c,a,a");
    pick_letters(wm_balance_select_rr, g, 7, seq);
    is_str(seq, "aabacaa", "rr: and the same again");
    g->peer[1].down = true;
    pick_letters(wm_balance_select_rr, g, 12, seq);
    is_str(seq, "aaacaaaaacaa", "rr: a down peer is skipped, 5:1 remains");
    free(g);

    g = group_new(2, 0, w11);
    pick_letters(wm_balance_select_rr, g, 6, seq);
    is_str(seq, "ababab", "rr: equal weights alternate");
    free(g);

    g = group_new(4, 0, w3214);
    for (k = 0; k < 10000; k++) {
        count[pick(wm_balance_select_rr, g, NULL, &ctx)]++;
    }
    is_share(count[0], 10000, 0.3, "rr: weight 3 of 10 gets 30%");
    is_share(count[1], 10000, 0.2, "rr: weight 2 of 10 gets 20%");
    is_share(count[2], 10000, 0.1, "rr: weight 1 of 10 gets 10%");
    is_share(count[3], 10000, 0.4, "rr: weight 4 of 10 gets 40%");
    free(g);
}

static void
test_least_conn(void)
{
    static const uint32_t w511[] = { 5, 1, 1 }, w41[] = { 4, 1 },
                          w31[] = { 3, 1 };
    wm_balance_group_t *g;
    wm_balance_ctx_t ctx = ctx_at(0);
    uint64_t tried[1] = { 0 };
    uint32_t count[2] = { 0 }, k;
    char seq[16];

    g = group_new(3, 0, NULL);
    set_conns(g, 0, 3);
    set_conns(g, 1, 1);
    set_conns(g, 2, 2);
    is_int(wm_balance_select_least_conn(g, NULL, &ctx), 1,
           "least_conn: fewest connections wins");
    is_int(atomic_load(&g->peer[1].conns), 2,
           "least_conn: the pick took a connection");
    wm_balance_tried_set(tried, 1);
    is_int(pick(wm_balance_select_least_conn, g, tried, &ctx), 2,
           "least_conn: a tried peer is passed over for the next least");
    free(g);

    g = group_new(2, 0, w41);
    set_conns(g, 0, 4);
    set_conns(g, 1, 2);
    is_int(pick(wm_balance_select_least_conn, g, NULL, &ctx), 0,
           "least_conn: 4 conns at weight 4 beat 2 conns at weight 1");
    free(g);

    g = group_new(3, 0, w511);
    pick_letters(wm_balance_select_least_conn, g, 7, seq);
    is_str(seq, "aabacaa", "least_conn: ties follow smooth round robin");
    free(g);

    g = group_new(2, 0, w31);
    for (k = 0; k < 10000; k++) {
        count[wm_balance_select_least_conn(g, NULL, &ctx)]++;
    }
    is_share(count[0], 10000, 0.75,
             "least_conn: open connections follow weight 3:1");
    free(g);
}

static void
test_hash(void)
{
    static const uint32_t w121[] = { 1, 2, 1 };
    wm_balance_group_t *g;
    wm_balance_ctx_t ctx = ctx_at(0);
    uint32_t count[3] = { 0 }, k, same = 0, moved = 0, lost = 0;
    uint32_t live = 0, to0 = 0;
    wm_int_t i, j;

    g = group_new(3, 0, w121);
    for (k = 0; k < 10000; k++) {
        ctx.hash = key_hash(k);
        i = pick(wm_balance_select_hash, g, NULL, &ctx);
        j = pick(wm_balance_select_hash, g, NULL, &ctx);
        count[i]++;
        same += i == j;
    }
    is_int(same, 10000, "hash: a key picks the same peer every time");
    is_share(count[0], 10000, 0.25, "hash: weight 1 of 4 gets 25% of keys");
    is_share(count[1], 10000, 0.5, "hash: weight 2 of 4 gets 50% of keys");

    /* Peer 1 down: its keys go elsewhere, nobody else's move. */
    for (k = 0; k < 10000; k++) {
        ctx.hash = key_hash(k);
        g->peer[1].down = false;
        i = pick(wm_balance_select_hash, g, NULL, &ctx);
        g->peer[1].down = true;
        j = pick(wm_balance_select_hash, g, NULL, &ctx);
        if (i == 1) {
            lost += j == 1;
            to0 += j == 0;
        } else {
            moved += i != j;
        }
    }
    is_int(lost, 0, "hash: no key stays on a down peer");
    is_int(moved, 0, "hash: a down peer moves only its own keys");
    is_share(to0, count[1], 0.5,
             "hash: its keys spread over the others by weight");

    /* Only peer 2 live: rehashing, then round robin, still finds it. */
    g->peer[0].down = true;
    for (k = 0; k < 1000; k++) {
        ctx.hash = key_hash(k);
        live += pick(wm_balance_select_hash, g, NULL, &ctx) == 2;
    }
    is_int(live, 1000, "hash: the one live peer gets every key");
    free(g);
}

/* Fills names[i] with "10.0.0.(i+1):80" and builds a ring of g. */
static wm_hash_ring_t *
ring_new(const wm_balance_group_t *g, wm_str_t *names, char (*buf)[32],
         const uint32_t *ids)
{
    wm_hash_ring_t *ring;
    uint32_t i;

    for (i = 0; i < g->npeers; i++) {
        names[i].len = (size_t) snprintf(buf[i], 32, "10.0.0.%u:80", ids[i]);
        names[i].data = (u_char *) buf[i];
    }
    ring = malloc(wm_hash_ring_size(wm_hash_ring_npoints(g)));
    if (ring == NULL) {
        abort();
    }
    wm_hash_ring_build(ring, g, names);
    return ring;
}

/* The id of the peer of every key. */
static void
chash_map(wm_balance_group_t *g, const wm_hash_ring_t *ring,
          const uint32_t *ids, uint32_t *out)
{
    wm_balance_ctx_t ctx = ctx_at(0);
    uint32_t k;
    wm_int_t i;

    ctx.ring = ring;
    for (k = 0; k < NKEYS; k++) {
        ctx.hash = key_hash(k);
        i = pick(wm_balance_select_chash, g, NULL, &ctx);
        out[k] = i < 0 ? 0 : ids[i];
    }
}

static void
test_chash(void)
{
    static const uint32_t ids[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
    static const uint32_t ids9[] = { 1, 2, 3, 5, 6, 7, 8, 9, 10 };
    wm_str_t names[11];
    char buf[11][32];
    wm_balance_group_t *g10, *g11, *g9;
    wm_hash_ring_t *r10, *r11, *r9;
    uint32_t *m10, *m11, *m9, *md, k, moved, stray, min, max;
    uint32_t count[12] = { 0 };
    bool sorted = true;
    double pct;

    m10 = calloc(NKEYS, sizeof(uint32_t));
    m11 = calloc(NKEYS, sizeof(uint32_t));
    m9 = calloc(NKEYS, sizeof(uint32_t));
    md = calloc(NKEYS, sizeof(uint32_t));
    if (m10 == NULL || m11 == NULL || m9 == NULL || md == NULL) {
        abort();
    }

    g10 = group_new(10, 0, NULL);
    r10 = ring_new(g10, names, buf, ids);
    is_int(r10->npoints, 10 * WM_HASH_RING_POINTS,
           "chash: 160 points per unit of weight");
    for (k = 1; k < r10->npoints; k++) {
        sorted &= r10->point[k - 1].hash <= r10->point[k].hash;
    }
    ok(sorted, "chash: the ring is sorted");
    is_int(wm_hash_ring_find(r10, r10->point[r10->npoints - 1].hash + 1), 0,
           "chash: a hash past the last point wraps to the first");
    is_int(wm_hash_ring_find(r10, r10->point[5].hash), 5,
           "chash: a hash equal to a point maps to that point");

    chash_map(g10, r10, ids, m10);
    for (k = 0; k < NKEYS; k++) {
        count[m10[k]]++;
    }
    min = max = count[1];
    for (k = 2; k <= 10; k++) {
        min = wm_min(min, count[k]);
        max = wm_max(max, count[k]);
    }
    diag("chash: 10 equal peers hold %.2f%% to %.2f%% of keys",
         min * 100.0 / NKEYS, max * 100.0 / NKEYS);
    ok(min > NKEYS / 20 && max < NKEYS / 5,
       "chash: every peer holds between 5% and 20% of keys");

    /* An 11th peer takes about 1/11 of the keys, only from others. */
    g11 = group_new(11, 0, NULL);
    r11 = ring_new(g11, names, buf, ids);
    chash_map(g11, r11, ids, m11);
    moved = stray = 0;
    for (k = 0; k < NKEYS; k++) {
        moved += m10[k] != m11[k];
        stray += m10[k] != m11[k] && m11[k] != 11;
    }
    pct = moved * 100.0 / NKEYS;
    diag("chash: adding an 11th peer moved %.2f%% of keys", pct);
    ok(pct >= 5.0 && pct <= 14.0,
       "chash: adding an 11th peer moves 5% to 14% of keys");
    is_int(stray, 0, "chash: every moved key moved to the new peer");

    /* Removing peer 4 moves only the keys that were on it. */
    g9 = group_new(9, 0, NULL);
    r9 = ring_new(g9, names, buf, ids9);
    chash_map(g9, r9, ids9, m9);
    moved = stray = 0;
    for (k = 0; k < NKEYS; k++) {
        moved += m10[k] != m9[k];
        stray += m10[k] != m9[k] && m10[k] != 4;
    }
    diag("chash: removing 1 of 10 peers moved %.2f%% of keys",
         moved * 100.0 / NKEYS);
    is_int(stray, 0, "chash: removing a peer moves only its keys");
    is_int(moved, count[4], "chash: and all of them");

    /* Marking peer 7 down: the same, without rebuilding the ring. */
    g10->peer[6].down = true;
    chash_map(g10, r10, ids, md);
    moved = stray = 0;
    for (k = 0; k < NKEYS; k++) {
        moved += m10[k] != md[k];
        stray += m10[k] != md[k] && m10[k] != 7;
    }
    is_int(stray, 0, "chash: a down peer moves only its own keys");
    is_int(moved, count[7], "chash: and all of them");
    g10->peer[6].down = false;

    free(r9);
    free(r11);
    free(r10);
    free(g9);
    free(g11);
    free(g10);
    free(md);
    free(m9);
    free(m11);
    free(m10);
}

static void
test_random(void)
{
    static const uint32_t w211[] = { 2, 1, 1 };
    wm_balance_group_t *g;
    wm_balance_ctx_t ctx = ctx_at(0);
    uint32_t count[4] = { 0 }, k, same = 0;
    wm_int_t seq[100];

    g = group_new(3, 0, w211);
    for (k = 0; k < 10000; k++) {
        count[pick(wm_balance_select_random, g, NULL, &ctx)]++;
    }
    is_share(count[0], 10000, 0.5, "random: weight 2 of 4 gets 50%");
    is_share(count[1], 10000, 0.25, "random: weight 1 of 4 gets 25%");

    seed = 7;
    for (k = 0; k < 100; k++) {
        seq[k] = pick(wm_balance_select_random, g, NULL, &ctx);
    }
    seed = 7;
    for (k = 0; k < 100; k++) {
        same += pick(wm_balance_select_random, g, NULL, &ctx) == seq[k];
    }
    is_int(same, 100, "random: the same seed gives the same picks");
    free(g);

    /* Two choices over loads 0,1,2,3: peer k wins when drawn with a more
     * loaded one, (3 - k) of the 6 pairs. */
    g = group_new(4, 0, NULL);
    for (k = 0; k < 4; k++) {
        set_conns(g, k, k);
        count[k] = 0;
    }
    for (k = 0; k < 10000; k++) {
        count[pick(wm_balance_select_random_two, g, NULL, &ctx)]++;
    }
    is_share(count[0], 10000, 3.0 / 6, "random two: load 0 wins 3/6");
    is_share(count[1], 10000, 2.0 / 6, "random two: load 1 wins 2/6");
    is_share(count[2], 10000, 1.0 / 6, "random two: load 2 wins 1/6");
    is_int(count[3], 0, "random two: the most loaded never wins");

    for (k = 0; k < 4; k++) {
        set_conns(g, k, 0);
        count[k] = 0;
    }
    for (k = 0; k < 10000; k++) {
        count[pick(wm_balance_select_random_two, g, NULL, &ctx)]++;
    }
    is_share(count[3], 10000, 0.25, "random two: equal loads share evenly");
    free(g);
}

static const struct {
    const char *name;
    wm_balance_select_pt select;
} algos[] = {
    { "rr", wm_balance_select_rr },
    { "least_conn", wm_balance_select_least_conn },
    { "hash", wm_balance_select_hash },
    { "chash", wm_balance_select_chash },
    { "random", wm_balance_select_random },
    { "random two", wm_balance_select_random_two },
};

static void
test_backup(void)
{
    static const uint32_t ids[] = { 1, 2, 3, 4 };
    wm_balance_group_t *g;
    wm_balance_ctx_t ctx = ctx_at(0);
    uint64_t tried[1] = { 0 };
    wm_hash_ring_t *ring;
    wm_str_t names[4];
    char buf[4][32], name[64];
    uint32_t k, a, backups = 0, right;

    /* Primaries 0 and 1, backups 2 and 3. */
    g = group_new(2, 2, NULL);
    ring = ring_new(g, names, buf, ids);
    ctx.ring = ring;

    for (a = 0; a < wm_nelems(algos); a++) {
        for (k = 0; k < 1000; k++) {
            ctx.hash = key_hash(k);
            backups += pick(algos[a].select, g, NULL, &ctx) >= 2;
        }
    }
    is_int(backups, 0, "backup: never used while a primary is live");

    g->peer[0].down = true;
    wm_balance_set_health(&g->peer[1], false);
    for (a = 0; a < wm_nelems(algos); a++) {
        right = 0;
        for (k = 0; k < 100; k++) {
            ctx.hash = key_hash(k);
            right += pick(algos[a].select, g, NULL, &ctx) >= 2;
        }
        snprintf(name, sizeof(name), "backup: %s uses backups when all "
                 "primaries are down", algos[a].name);
        is_int(right, 100, name);
    }

    /* Keys keep their backup under consistent hashing too. */
    right = 0;
    for (k = 0; k < 100; k++) {
        ctx.hash = key_hash(k);
        right += pick(wm_balance_select_chash, g, NULL, &ctx)
                 == pick(wm_balance_select_chash, g, NULL, &ctx);
    }
    is_int(right, 100, "backup: chash keys stick to one backup");

    g->peer[0].down = false;
    wm_balance_tried_set(tried, 0);
    is_int(pick(wm_balance_select_rr, g, tried, &ctx) >= 2, 1,
           "backup: used when the live primary was tried");
    tried[0] = 0;
    g->peer[0].max_conns = 1;
    set_conns(g, 0, 1);
    is_int(pick(wm_balance_select_rr, g, tried, &ctx) >= 2, 1,
           "backup: used when the live primary is at max_conns");
    set_conns(g, 0, 0);
    is_int(pick(wm_balance_select_rr, g, tried, &ctx), 0,
           "backup: left as soon as a primary is available again");

    wm_balance_set_health(&g->peer[1], true);
    is_int(wm_balance_peer_is_available(g, 1, NULL, 0), 1,
           "health: an up verdict makes the peer available again");

    free(ring);
    free(g);
}

static void
test_max_conns(void)
{
    wm_balance_group_t *g;
    wm_balance_ctx_t ctx = ctx_at(0);
    uint32_t count[2] = { 0 }, k;

    g = group_new(2, 0, NULL);
    g->peer[0].max_conns = 2;
    g->peer[1].max_conns = 1;
    for (k = 0; k < 3; k++) {
        count[wm_balance_select_rr(g, NULL, &ctx)]++;
    }
    ok(count[0] == 2 && count[1] == 1,
       "max_conns: each peer takes exactly its max_conns");
    is_int(wm_balance_select_rr(g, NULL, &ctx), -1,
           "max_conns: then nothing is available");
    is_int(ctx.reason, WM_BALANCE_ALL_BUSY, "max_conns: reason all busy");
    wm_balance_peer_release(&g->peer[0]);
    is_int(wm_balance_select_rr(g, NULL, &ctx), 0,
           "max_conns: a released connection makes room");

    set_conns(g, 1, 0);
    wm_balance_peer_release(&g->peer[1]);
    is_int(atomic_load(&g->peer[1].conns), 0,
           "release: never goes below zero");
    free(g);
}

static void
test_tried(void)
{
    static const uint32_t ids[] = { 1, 2, 3 };
    wm_balance_group_t *g;
    wm_balance_ctx_t ctx = ctx_at(0);
    uint64_t tried[1] = { 0 };
    wm_hash_ring_t *ring;
    wm_str_t names[3];
    char buf[3][32], name[64];
    uint32_t a, k, right;

    g = group_new(3, 0, NULL);
    ring = ring_new(g, names, buf, ids);
    ctx.ring = ring;
    wm_balance_tried_set(tried, 0);
    wm_balance_tried_set(tried, 2);
    for (a = 0; a < wm_nelems(algos); a++) {
        right = 0;
        for (k = 0; k < 100; k++) {
            ctx.hash = key_hash(k);
            right += pick(algos[a].select, g, tried, &ctx) == 1;
        }
        snprintf(name, sizeof(name), "tried: %s picks the one untried peer",
                 algos[a].name);
        is_int(right, 100, name);
    }
    free(ring);
    free(g);
}

static void
test_passive(void)
{
    static const uint32_t w44[] = { 4, 4 };
    wm_balance_group_t *g;
    wm_balance_peer_t *a;
    wm_balance_ctx_t ctx;
    uint64_t tried[1] = { 0 };
    uint32_t k, na = 0;

    g = group_new(2, 0, NULL);
    a = &g->peer[0];
    a->max_fails = 2;
    a->fail_timeout = 10000;
    wm_balance_tried_set(tried, 1);

    wm_balance_record_failure(a, 0);
    is_int(wm_balance_peer_is_available(g, 0, NULL, 0), 1,
           "passive: one failure of max_fails=2 keeps the peer");
    wm_balance_record_failure(a, 1000);
    is_int(wm_balance_check_peer(g, 0, NULL, 1000), WM_BALANCE_ALL_DOWN,
           "passive: the second failure disables it");
    is_int(wm_balance_peer_is_available(g, 0, NULL, 11000), 0,
           "passive: still disabled fail_timeout after the last failure");
    is_int(wm_balance_peer_is_available(g, 0, NULL, 11001), 1,
           "passive: available again once fail_timeout passed");

    ctx = ctx_at(11001);
    is_int(pick(wm_balance_select_rr, g, tried, &ctx), 0,
           "passive: a request probes the peer");
    is_int(wm_balance_peer_is_available(g, 0, NULL, 11002), 0,
           "passive: nobody else uses it while the probe runs");
    wm_balance_record_success(a);
    is_int(atomic_load(&a->fails), 0, "passive: a good probe clears fails");
    is_int(wm_balance_peer_is_available(g, 0, NULL, 11002), 1,
           "passive: and the peer is back");

    wm_balance_record_failure(a, 20000);
    wm_balance_record_failure(a, 20500);
    ctx = ctx_at(30501);
    is_int(pick(wm_balance_select_rr, g, tried, &ctx), 0,
           "passive: a second probe after another fail_timeout");
    wm_balance_record_failure(a, 30600);
    is_int(wm_balance_peer_is_available(g, 0, NULL, 40600), 0,
           "passive: a failed probe disables it for fail_timeout more");
    is_int(wm_balance_peer_is_available(g, 0, NULL, 40601), 1,
           "passive: and no longer");
    free(g);

    /* Failures further apart than fail_timeout do not add up. */
    g = group_new(1, 0, NULL);
    a = &g->peer[0];
    a->max_fails = 2;
    wm_balance_record_failure(a, 0);
    wm_balance_record_failure(a, 15000);
    is_int(wm_balance_peer_is_available(g, 0, NULL, 15000), 1,
           "passive: failures in different windows do not add up");
    wm_balance_record_failure(a, 16000);
    is_int(wm_balance_peer_is_available(g, 0, NULL, 16000), 0,
           "passive: two in one window do");

    /* A flapping peer: successes between failures do not clear them. */
    atomic_store(&a->fails, 0);
    a->max_fails = 3;
    for (k = 0; k < 3; k++) {
        wm_balance_record_failure(a, 50000 + k * 100);
        wm_balance_record_success(a);
    }
    is_int(wm_balance_peer_is_available(g, 0, NULL, 50300), 0,
           "passive: a flapping peer is disabled too");

    a->max_fails = 0;
    atomic_store(&a->fails, 0);
    for (k = 0; k < 10; k++) {
        wm_balance_record_failure(a, 60000 + k);
    }
    is_int(wm_balance_peer_is_available(g, 0, NULL, 60010), 1,
           "passive: max_fails=0 never disables");
    free(g);

    /* A failure costs weight / max_fails of effective weight, given back
     * one per round-robin pass. */
    g = group_new(2, 0, w44);
    g->peer[0].max_fails = 2;
    wm_balance_record_failure(&g->peer[0], 0);
    ctx = ctx_at(0);
    is_int(pick(wm_balance_select_rr, g, NULL, &ctx), 1,
           "passive: a failure lowers the peer's round-robin share");
    for (k = 0; k < 100; k++) {
        na += pick(wm_balance_select_rr, g, NULL, &ctx) == 0;
    }
    ok(na >= 48 && na <= 50, "passive: and the share recovers");
    if (na < 48 || na > 50) {
        diag("%u of 100", na);
    }
    free(g);
}

static void
test_reasons(void)
{
    static const uint32_t ids[] = { 1, 2, 3 };
    wm_balance_group_t *g, *empty;
    wm_balance_ctx_t ctx = ctx_at(0);
    uint64_t tried[1] = { 0 };
    wm_hash_ring_t *ring;
    wm_str_t names[3];
    char buf[3][32], name[80];
    uint32_t a, i;
    wm_int_t r;

    /* Two primaries and a backup. */
    g = group_new(2, 1, NULL);
    ring = ring_new(g, names, buf, ids);
    ctx.ring = ring;
    ctx.hash = key_hash(1);

    for (a = 0; a < wm_nelems(algos); a++) {
        for (i = 0; i < 3; i++) {
            g->peer[i].down = true;
        }
        r = algos[a].select(g, NULL, &ctx);
        snprintf(name, sizeof(name), "reason: %s, all down", algos[a].name);
        ok(r == -1 && ctx.reason == WM_BALANCE_ALL_DOWN, name);

        for (i = 0; i < 3; i++) {
            g->peer[i].down = false;
            wm_balance_tried_set(tried, i);
        }
        r = algos[a].select(g, tried, &ctx);
        snprintf(name, sizeof(name), "reason: %s, all tried", algos[a].name);
        ok(r == -1 && ctx.reason == WM_BALANCE_ALL_TRIED, name);

        tried[0] = 0;
        for (i = 0; i < 3; i++) {
            g->peer[i].max_conns = 1;
            set_conns(g, i, 1);
        }
        r = algos[a].select(g, tried, &ctx);
        snprintf(name, sizeof(name), "reason: %s, all at max_conns",
                 algos[a].name);
        ok(r == -1 && ctx.reason == WM_BALANCE_ALL_BUSY, name);
        for (i = 0; i < 3; i++) {
            set_conns(g, i, 0);
        }
    }

    /* Mixed: busy beats tried beats down. */
    g->peer[0].down = true;
    wm_balance_tried_set(tried, 1);
    set_conns(g, 2, 1);
    r = wm_balance_select_rr(g, tried, &ctx);
    ok(r == -1 && ctx.reason == WM_BALANCE_ALL_BUSY,
       "reason: down, tried and busy peers report busy");
    set_conns(g, 2, 0);
    wm_balance_tried_set(tried, 2);
    r = wm_balance_select_rr(g, tried, &ctx);
    ok(r == -1 && ctx.reason == WM_BALANCE_ALL_TRIED,
       "reason: down and tried peers report tried");
    r = wm_balance_select_rr(g, NULL, &ctx);
    ok(r == 1 && ctx.reason == WM_BALANCE_OK, "reason: ok after a pick");

    empty = group_new(0, 0, NULL);
    r = wm_balance_select_rr(empty, NULL, &ctx);
    ok(r == -1 && ctx.reason == WM_BALANCE_ALL_DOWN,
       "reason: an empty group has no live upstreams");
    free(empty);

    is_str(wm_balance_reason_text(WM_BALANCE_ALL_DOWN), "no live upstreams",
           "reason: text for the error log");
    free(ring);
    free(g);
}

int
main(void)
{
    test_hash_function();
    test_rr();
    test_least_conn();
    test_hash();
    test_chash();
    test_random();
    test_backup();
    test_max_conns();
    test_tried();
    test_passive();
    test_reasons();
    return tap_done();
}
