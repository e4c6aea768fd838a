/*
 * The balancing algorithms of upstream groups, with nginx's semantics, and
 * the bookkeeping (connections, passive failures) they read. Each select
 * works on one tier at a time, primaries then backups, and only chooses;
 * the common driver takes the connection on the chosen peer.
 */
#include "wm_balance.h"

/* Chooses a peer among peer[from .. to-1] or returns -1; raises *why to
 * the reason of every unavailable peer it looked at. */
typedef wm_int_t (*wm_balance_tier_pt)(wm_balance_group_t *g, uint32_t from,
                                       uint32_t to, const uint64_t *tried,
                                       wm_balance_ctx_t *ctx,
                                       wm_balance_reason_t *why);

/* conns / weight, compared by cross-multiplication. */
typedef struct {
    uint64_t conns;
    uint64_t weight;
} wm_balance_load_t;

static wm_int_t wm_balance_select_tiers(wm_balance_group_t *g,
                                        const uint64_t *tried,
                                        wm_balance_ctx_t *ctx,
                                        wm_balance_tier_pt choose);
static wm_int_t wm_balance_swrr(wm_balance_group_t *g, uint32_t from,
                                uint32_t to, const uint64_t *tried,
                                wm_balance_ctx_t *ctx,
                                wm_balance_reason_t *why,
                                const wm_balance_load_t *tie);

size_t
wm_balance_group_size(uint32_t npeers)
{
    return sizeof(wm_balance_group_t)
           + (size_t) npeers * sizeof(wm_balance_peer_t);
}

void
wm_balance_group_init(wm_balance_group_t *g, uint32_t nprimary,
                      uint32_t nbackup)
{
    uint32_t i;
    wm_balance_peer_t *p;

    memset(g, 0, wm_balance_group_size(nprimary + nbackup));
    g->npeers = nprimary + nbackup;
    g->nprimary = nprimary;

    for (i = 0; i < g->npeers; i++) {
        p = &g->peer[i];
        p->weight = WM_BALANCE_WEIGHT;
        p->max_fails = WM_BALANCE_MAX_FAILS;
        p->fail_timeout = WM_BALANCE_FAIL_TIMEOUT;
        atomic_init(&p->conns, 0);
        atomic_init(&p->fails, 0);
        atomic_init(&p->fail_first, 0);
        atomic_init(&p->fail_last, 0);
        atomic_init(&p->checked, 0);
        atomic_init(&p->penalty, 0);
        atomic_init(&p->hc_down, false);
        atomic_init(&p->hc_next, 0);
        atomic_init(&p->hc_fails, 0);
        atomic_init(&p->hc_passes, 0);
        atomic_init(&p->empty, false);
        atomic_init(&p->resolve_next, 0);
    }
    atomic_init(&g->generation, 0);
}

wm_balance_reason_t
wm_balance_check_peer(const wm_balance_group_t *g, uint32_t i,
                      const uint64_t *tried, wm_msec_t now)
{
    const wm_balance_peer_t *p = &g->peer[i];
    wm_msec_t checked;

    if (p->down || atomic_load_explicit(&p->hc_down, memory_order_relaxed)
        || atomic_load_explicit(&p->empty, memory_order_relaxed))
    {
        return WM_BALANCE_ALL_DOWN;
    }

    if (p->max_fails != 0
        && atomic_load_explicit(&p->fails, memory_order_relaxed)
               >= p->max_fails)
    {
        checked = atomic_load_explicit(&p->checked, memory_order_relaxed);
        if (now - checked <= p->fail_timeout) {
            return WM_BALANCE_ALL_DOWN;
        }
    }

    if (wm_balance_is_tried(tried, i)) {
        return WM_BALANCE_ALL_TRIED;
    }

    if (p->max_conns != 0
        && atomic_load_explicit(&p->conns, memory_order_relaxed)
               >= p->max_conns)
    {
        return WM_BALANCE_ALL_BUSY;
    }

    return WM_BALANCE_OK;
}

bool
wm_balance_peer_is_available(const wm_balance_group_t *g, uint32_t i,
                             const uint64_t *tried, wm_msec_t now)
{
    return wm_balance_check_peer(g, i, tried, now) == WM_BALANCE_OK;
}

/* Checks peer i and folds its reason into *why; true when available. */
static bool
wm_balance_usable(const wm_balance_group_t *g, uint32_t i,
                  const uint64_t *tried, wm_msec_t now,
                  wm_balance_reason_t *why)
{
    wm_balance_reason_t r = wm_balance_check_peer(g, i, tried, now);

    if (r > *why) {
        *why = r;
    }
    return r == WM_BALANCE_OK;
}

static wm_balance_load_t
wm_balance_load(const wm_balance_peer_t *p)
{
    wm_balance_load_t l;

    l.conns = atomic_load_explicit(&p->conns, memory_order_relaxed);
    l.weight = p->weight;
    return l;
}

/* <0, 0, >0 as a is less, as, or more loaded than b. */
static int
wm_balance_load_cmp(const wm_balance_load_t *a, const wm_balance_load_t *b)
{
    uint64_t x = a->conns * b->weight, y = b->conns * a->weight;

    return (x > y) - (x < y);
}

static int64_t
wm_balance_effective_weight(const wm_balance_peer_t *p)
{
    unsigned pen = atomic_load_explicit(&p->penalty, memory_order_relaxed);

    return pen >= p->weight ? 0 : (int64_t) (p->weight - pen);
}

/* One step of recovery after failures: the effective weight grows by 1. A
 * CAS because failures raise the penalty without the lock. */
static void
wm_balance_recover(wm_balance_peer_t *p)
{
    unsigned pen = atomic_load_explicit(&p->penalty, memory_order_relaxed);

    while (pen > 0
           && !atomic_compare_exchange_weak_explicit(&p->penalty, &pen,
                                                     pen - 1,
                                                     memory_order_relaxed,
                                                     memory_order_relaxed))
    {
        /* pen was reloaded; retry */
    }
}

/*
 * Commits a pick: one more connection, and the probe time of nginx's
 * fail_timeout rule. Under the zone lock no other select can fill the peer
 * between the max_conns check and this increment; releases only lower it.
 */
static void
wm_balance_take(wm_balance_peer_t *p, wm_msec_t now)
{
    wm_msec_t checked;

    atomic_fetch_add_explicit(&p->conns, 1, memory_order_relaxed);

    checked = atomic_load_explicit(&p->checked, memory_order_relaxed);
    if (now - checked > p->fail_timeout) {
        atomic_store_explicit(&p->checked, now, memory_order_relaxed);
    }
}

static wm_int_t
wm_balance_select_tiers(wm_balance_group_t *g, const uint64_t *tried,
                        wm_balance_ctx_t *ctx, wm_balance_tier_pt choose)
{
    /* An empty group has nothing live: the weakest reason. */
    wm_balance_reason_t why = WM_BALANCE_ALL_DOWN;
    wm_int_t i;

    i = choose(g, 0, g->nprimary, tried, ctx, &why);
    if (i < 0 && g->nprimary < g->npeers) {
        i = choose(g, g->nprimary, g->npeers, tried, ctx, &why);
    }

    if (i < 0) {
        ctx->reason = why;
        return -1;
    }

    wm_balance_take(&g->peer[i], ctx->now);
    ctx->reason = WM_BALANCE_OK;
    return i;
}

/*
 * Smooth weighted round robin over the available peers of a tier, or only
 * over those whose load equals *tie (least_conn's tie break, where peers
 * before `from` are known to be more loaded).
 */
static wm_int_t
wm_balance_swrr(wm_balance_group_t *g, uint32_t from, uint32_t to,
                const uint64_t *tried, wm_balance_ctx_t *ctx,
                wm_balance_reason_t *why, const wm_balance_load_t *tie)
{
    wm_balance_peer_t *p;
    wm_balance_load_t l;
    wm_int_t best = -1;
    int64_t ew, total = 0;
    uint32_t i;

    for (i = from; i < to; i++) {
        if (!wm_balance_usable(g, i, tried, ctx->now, why)) {
            continue;
        }

        p = &g->peer[i];
        if (tie != NULL) {
            l = wm_balance_load(p);
            if (wm_balance_load_cmp(&l, tie) != 0) {
                continue;
            }
        }

        ew = wm_balance_effective_weight(p);
        p->current_weight += ew;
        total += ew;
        wm_balance_recover(p);

        if (best < 0 || p->current_weight > g->peer[best].current_weight) {
            best = i;
        }
    }

    if (best >= 0) {
        g->peer[best].current_weight -= total;
    }
    return best;
}

static wm_int_t
wm_balance_rr_tier(wm_balance_group_t *g, uint32_t from, uint32_t to,
                   const uint64_t *tried, wm_balance_ctx_t *ctx,
                   wm_balance_reason_t *why)
{
    return wm_balance_swrr(g, from, to, tried, ctx, why, NULL);
}

wm_int_t
wm_balance_select_rr(wm_balance_group_t *g, const uint64_t *tried,
                     wm_balance_ctx_t *ctx)
{
    return wm_balance_select_tiers(g, tried, ctx, wm_balance_rr_tier);
}

static wm_int_t
wm_balance_least_conn_tier(wm_balance_group_t *g, uint32_t from, uint32_t to,
                           const uint64_t *tried, wm_balance_ctx_t *ctx,
                           wm_balance_reason_t *why)
{
    wm_balance_load_t l, bl = { 0, 1 };
    wm_int_t best = -1, i;
    bool many = false;
    int c;

    for (i = from; i < (wm_int_t) to; i++) {
        if (!wm_balance_usable(g, i, tried, ctx->now, why)) {
            continue;
        }
        l = wm_balance_load(&g->peer[i]);
        c = best < 0 ? -1 : wm_balance_load_cmp(&l, &bl);
        if (c < 0) {
            best = i;
            bl = l;
            many = false;
        } else if (c == 0) {
            many = true;
        }
    }

    if (best < 0 || !many) {
        return best;
    }

    /* Releases may have changed conns since the scan; then best alone. */
    i = wm_balance_swrr(g, best, to, tried, ctx, why, &bl);
    return i >= 0 ? i : best;
}

wm_int_t
wm_balance_select_least_conn(wm_balance_group_t *g, const uint64_t *tried,
                             wm_balance_ctx_t *ctx)
{
    return wm_balance_select_tiers(g, tried, ctx, wm_balance_least_conn_tier);
}

/* The sum of the configured weights of a tier, live or not. */
static uint64_t
wm_balance_total_weight(const wm_balance_group_t *g, uint32_t from,
                        uint32_t to)
{
    uint64_t total = 0;
    uint32_t i;

    for (i = from; i < to; i++) {
        total += g->peer[i].weight;
    }
    return total;
}

/* The peer whose slice of [0, total weight) holds w. */
static uint32_t
wm_balance_peer_at(const wm_balance_group_t *g, uint32_t from, uint32_t to,
                   uint64_t w)
{
    uint32_t i = from;

    while (i + 1 < to && w >= g->peer[i].weight) {
        w -= g->peer[i].weight;
        i++;
    }
    return i;
}

/* The next hash of a key whose peer was unavailable; bytes in a fixed
 * order, so that every platform probes the same peers. */
static uint32_t
wm_balance_rehash(uint32_t h, uint32_t n)
{
    u_char b[4];

    b[0] = (u_char) h;
    b[1] = (u_char) (h >> 8);
    b[2] = (u_char) (h >> 16);
    b[3] = (u_char) (h >> 24);
    return wm_hash(b, sizeof(b), n);
}

static wm_int_t
wm_balance_hash_tier(wm_balance_group_t *g, uint32_t from, uint32_t to,
                     const uint64_t *tried, wm_balance_ctx_t *ctx,
                     wm_balance_reason_t *why)
{
    uint64_t total;
    uint32_t h, i, n;

    if (to - from <= 1) {
        return wm_balance_rr_tier(g, from, to, tried, ctx, why);
    }

    total = wm_balance_total_weight(g, from, to);
    h = ctx->hash;

    for (n = 0; n < WM_BALANCE_TRIES; n++) {
        i = wm_balance_peer_at(g, from, to, h % total);
        if (wm_balance_usable(g, i, tried, ctx->now, why)) {
            return i;
        }
        h = wm_balance_rehash(h, n + 1);
    }

    return wm_balance_rr_tier(g, from, to, tried, ctx, why);
}

wm_int_t
wm_balance_select_hash(wm_balance_group_t *g, const uint64_t *tried,
                       wm_balance_ctx_t *ctx)
{
    return wm_balance_select_tiers(g, tried, ctx, wm_balance_hash_tier);
}

static wm_int_t
wm_balance_chash_tier(wm_balance_group_t *g, uint32_t from, uint32_t to,
                      const uint64_t *tried, wm_balance_ctx_t *ctx,
                      wm_balance_reason_t *why)
{
    const wm_hash_ring_t *ring = ctx->ring;
    uint32_t i, k, start, peer;
    bool live = false;

    if (ring == NULL || ring->npoints == 0) {
        return wm_balance_rr_tier(g, from, to, tried, ctx, why);
    }

    /* The walk below ends at the first live peer: make sure there is one,
     * so that a tier with every peer down costs N checks, not the ring. */
    for (i = from; i < to; i++) {
        live |= wm_balance_usable(g, i, tried, ctx->now, why);
    }
    if (!live) {
        return -1;
    }

    start = wm_hash_ring_find(ring, ctx->hash);
    for (k = 0; k < ring->npoints; k++) {
        peer = ring->point[(start + k) % ring->npoints].peer;
        if (peer >= from && peer < to
            && wm_balance_peer_is_available(g, peer, tried, ctx->now))
        {
            return peer;
        }
    }

    /* The ring lacks this tier's peers, or they changed meanwhile. */
    return wm_balance_rr_tier(g, from, to, tried, ctx, why);
}

wm_int_t
wm_balance_select_chash(wm_balance_group_t *g, const uint64_t *tried,
                        wm_balance_ctx_t *ctx)
{
    return wm_balance_select_tiers(g, tried, ctx, wm_balance_chash_tier);
}

/* A uniform draw in [0, total) from the caller's random source. */
static uint64_t
wm_balance_draw(wm_balance_ctx_t *ctx, uint64_t total)
{
    uint64_t r = ctx->rand(ctx->rand_data);

    if (total <= UINT32_MAX) {
        /* scaling, not modulo: no bias towards the first peers */
        return (r * total) >> 32;
    }
    r = r << 32 | ctx->rand(ctx->rand_data);
    return r % total;
}

static wm_int_t
wm_balance_random_tier(wm_balance_group_t *g, uint32_t from, uint32_t to,
                       const uint64_t *tried, wm_balance_ctx_t *ctx,
                       wm_balance_reason_t *why)
{
    uint64_t total;
    uint32_t i, n;

    if (ctx->rand == NULL || to - from <= 1) {
        return wm_balance_rr_tier(g, from, to, tried, ctx, why);
    }

    total = wm_balance_total_weight(g, from, to);
    for (n = 0; n < WM_BALANCE_TRIES; n++) {
        i = wm_balance_peer_at(g, from, to, wm_balance_draw(ctx, total));
        if (wm_balance_usable(g, i, tried, ctx->now, why)) {
            return i;
        }
    }

    return wm_balance_rr_tier(g, from, to, tried, ctx, why);
}

wm_int_t
wm_balance_select_random(wm_balance_group_t *g, const uint64_t *tried,
                         wm_balance_ctx_t *ctx)
{
    return wm_balance_select_tiers(g, tried, ctx, wm_balance_random_tier);
}

static wm_int_t
wm_balance_random_two_tier(wm_balance_group_t *g, uint32_t from, uint32_t to,
                           const uint64_t *tried, wm_balance_ctx_t *ctx,
                           wm_balance_reason_t *why)
{
    wm_balance_load_t a, b;
    wm_int_t first = -1;
    uint64_t total;
    uint32_t i, n;

    if (ctx->rand == NULL || to - from <= 1) {
        return wm_balance_rr_tier(g, from, to, tried, ctx, why);
    }

    total = wm_balance_total_weight(g, from, to);
    for (n = 0; n < WM_BALANCE_TRIES; n++) {
        i = wm_balance_peer_at(g, from, to, wm_balance_draw(ctx, total));
        if ((wm_int_t) i == first
            || !wm_balance_usable(g, i, tried, ctx->now, why))
        {
            continue;
        }
        if (first < 0) {
            first = i;
            continue;
        }
        a = wm_balance_load(&g->peer[first]);
        b = wm_balance_load(&g->peer[i]);
        return wm_balance_load_cmp(&b, &a) < 0 ? (wm_int_t) i : first;
    }

    /* One live peer found in all those draws: most others are out. */
    if (first >= 0) {
        return first;
    }
    return wm_balance_rr_tier(g, from, to, tried, ctx, why);
}

wm_int_t
wm_balance_select_random_two(wm_balance_group_t *g, const uint64_t *tried,
                             wm_balance_ctx_t *ctx)
{
    return wm_balance_select_tiers(g, tried, ctx, wm_balance_random_two_tier);
}

void
wm_balance_peer_release(wm_balance_peer_t *p)
{
    unsigned c = atomic_load_explicit(&p->conns, memory_order_relaxed);

    while (c > 0
           && !atomic_compare_exchange_weak_explicit(&p->conns, &c, c - 1,
                                                     memory_order_relaxed,
                                                     memory_order_relaxed))
    {
        /* c was reloaded; retry */
    }
}

void
wm_balance_record_failure(wm_balance_peer_t *p, wm_msec_t now)
{
    unsigned f, pen, add;
    wm_msec_t first;

    if (p->max_fails == 0) {
        return;
    }

    f = atomic_load_explicit(&p->fails, memory_order_relaxed);
    first = atomic_load_explicit(&p->fail_first, memory_order_relaxed);

    /* Below max_fails, failures older than fail_timeout no longer count:
     * this one opens a new window. A disabled peer keeps counting. */
    if (f < p->max_fails && (f == 0 || now - first > p->fail_timeout)
        && atomic_compare_exchange_strong_explicit(&p->fail_first, &first,
                                                   now, memory_order_relaxed,
                                                   memory_order_relaxed))
    {
        atomic_store_explicit(&p->fails, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&p->fails, 1, memory_order_relaxed);
    }

    atomic_store_explicit(&p->fail_last, now, memory_order_relaxed);
    atomic_store_explicit(&p->checked, now, memory_order_relaxed);

    add = p->weight / p->max_fails;
    pen = atomic_load_explicit(&p->penalty, memory_order_relaxed);
    while (add > 0 && pen < p->weight
           && !atomic_compare_exchange_weak_explicit(
               &p->penalty, &pen, wm_min(p->weight, pen + add),
               memory_order_relaxed, memory_order_relaxed))
    {
        /* pen was reloaded; retry */
    }
}

void
wm_balance_record_success(wm_balance_peer_t *p)
{
    wm_msec_t last, checked;

    last = atomic_load_explicit(&p->fail_last, memory_order_relaxed);
    checked = atomic_load_explicit(&p->checked, memory_order_relaxed);
    if (last < checked) {
        atomic_store_explicit(&p->fails, 0, memory_order_relaxed);
    }
}

void
wm_balance_set_health(wm_balance_peer_t *p, bool up)
{
    atomic_store_explicit(&p->hc_down, !up, memory_order_relaxed);
}

const char *
wm_balance_reason_text(wm_balance_reason_t reason)
{
    switch (reason) {
    case WM_BALANCE_OK:
        return "ok";
    case WM_BALANCE_ALL_DOWN:
        return "no live upstreams";
    case WM_BALANCE_ALL_TRIED:
        return "all upstreams tried";
    case WM_BALANCE_ALL_BUSY:
        return "all upstreams at max_conns";
    }
    return "unknown balancer result";
}

uint32_t
wm_balance_rand_next(void *state)
{
    uint64_t *s = state, z;

    z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (uint32_t) ((z ^ (z >> 31)) >> 32);
}
