/*
 * Upstream load balancing: the peers of one upstream group and the
 * algorithms that pick one of them (round robin, least_conn, hash, random),
 * each a function of (peers, tried, key) with nginx's semantics. The peer
 * state is plain data without pointers, so that a group lives in a shared
 * memory zone and every worker balances over the same counters.
 */
#ifndef WM_BALANCE_H
#define WM_BALANCE_H

#include "wm_core.h"

#include <stdatomic.h>

/*
 * The run-time state is read and written by several processes through the
 * same physical memory, which C11 atomics support only when they are
 * lock-free (address-free).
 */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2
                   && ATOMIC_BOOL_LOCK_FREE == 2,
               "peer state in shared memory needs lock-free atomics");

/* nginx's defaults for `server` parameters. */
#define WM_BALANCE_WEIGHT 1
#define WM_BALANCE_MAX_FAILS 1
#define WM_BALANCE_FAIL_TIMEOUT 10000

/* Probes before plain hash and random give up and fall back to round
 * robin, as in nginx. */
#define WM_BALANCE_TRIES 20

/* Points per unit of weight on the consistent-hash ring (ketama). */
#define WM_HASH_RING_POINTS 160

/*
 * One `server` of an upstream block. The first part is configuration,
 * written by the master before fork and read-only afterwards. The second
 * part is run-time state shared by the workers; all-zero bytes are the
 * fresh state, so a zeroed zone needs no further initialisation.
 */
typedef struct {
    uint32_t weight;         /* >= 1 */
    uint32_t max_fails;      /* 0: failures never make it unavailable */
    uint32_t max_conns;      /* 0: unlimited */
    bool down;               /* `down` in the config */
    wm_msec_t fail_timeout;  /* msec */

    /* Lock-free: connections taken by a select and not yet released. */
    atomic_uint conns;
    /* Lock-free: passive health (see wm_balance_record_failure()).
     * fails counts the failures of the window opened at fail_first;
     * fail_last is the latest failure; checked is the latest failure or
     * the latest pick made after fail_timeout had passed. */
    atomic_uint fails;
    _Atomic int64_t fail_first;
    _Atomic int64_t fail_last;
    _Atomic int64_t checked;
    /* Lock-free: the effective weight is weight - penalty. Failures add
     * weight / max_fails, each round-robin pass gives 1 back, so a peer
     * that failed recovers its share gradually (nginx). */
    atomic_uint penalty;
    /* Lock-free: the active health check's verdict; false until one runs. */
    atomic_bool hc_down;
    /* Active health checks (wm_health.c): hc_next is the lease, the
     * monotonic msec before which no process starts a check of the peer;
     * a process claims a check by moving it forward with a CAS. hc_fails
     * and hc_passes count consecutive results, written only by the
     * holder of the lease. */
    _Atomic int64_t hc_next;
    atomic_uint hc_fails;
    atomic_uint hc_passes;
    /* Lock-free: a slot of a `server name resolve` line that holds no
     * address now (wm_resolver.c); never available. */
    atomic_bool empty;
    /* The first slot of a `resolve` server only: the lease of its next
     * DNS query, as hc_next is the lease of a health check. */
    _Atomic int64_t resolve_next;
    /* Caller holds the zone lock: the smooth round robin's counter. */
    int64_t current_weight;
} wm_balance_peer_t;

/*
 * An upstream group: primaries first, then backups, in one contiguous
 * array. An index into peer[] is the only way anything (tried bitmaps, hash
 * rings, connections) refers to a peer. Allocate wm_balance_group_size()
 * bytes in the zone and call wm_balance_group_init().
 */
typedef struct {
    uint32_t npeers;    /* nprimary + backups */
    uint32_t nprimary;  /* peer[0 .. nprimary-1]; the rest are backups */
    /* Bumped (release) each time the resolver changes the address of a
     * slot, so that every process refreshes its copy of the addresses. */
    atomic_uint generation;
    wm_balance_peer_t peer[];
} wm_balance_group_t;

/*
 * Why a select returned -1, or why one peer is unavailable. When peers are
 * unavailable for different reasons the largest value wins: a busy peer is
 * the most useful thing to log (more capacity would have helped), then
 * tried (the earlier attempts' errors explain it), then down.
 */
typedef enum {
    WM_BALANCE_OK = 0,
    WM_BALANCE_ALL_DOWN,   /* down, health check failed, or max_fails hit */
    WM_BALANCE_ALL_TRIED,  /* every live peer was tried for this request */
    WM_BALANCE_ALL_BUSY,   /* every live untried peer is at max_conns */
} wm_balance_reason_t;

/* A random 32-bit value from caller-owned state. */
typedef uint32_t (*wm_balance_rand_pt)(void *data);

/*
 * Everything a select needs besides the peers and the tried bitmap; the
 * caller fills it for each pick. Process-local, so pointers are fine.
 */
typedef struct {
    wm_msec_t now;               /* in: the caller's clock, msec */
    uint32_t hash;               /* in: wm_hash() of the key (hash, chash) */
    const struct wm_hash_ring_s *ring;  /* in: chash only */
    wm_balance_rand_pt rand;     /* in: random and random two only */
    void *rand_data;
    wm_balance_reason_t reason;  /* out: set whenever a select returns -1 */
} wm_balance_ctx_t;

/* A point of the consistent-hash ring: an index into the group's peer[]. */
typedef struct {
    uint32_t hash;
    uint32_t peer;
} wm_hash_point_t;

/* The ketama ring of a group, sorted by hash; plain data, so it may live in
 * a cycle's arena or in shared memory. */
typedef struct wm_hash_ring_s {
    uint32_t npoints;
    wm_hash_point_t point[];
} wm_hash_ring_t;

/*
 * The tried bitmap: one bit per index of peer[], owned by the caller (one
 * per request or session, zeroed before the first select). Selects never
 * write it: the caller sets the bit of a peer when it gives up on it.
 */
#define WM_BALANCE_TRIED_WORDS(npeers) (((size_t) (npeers) + 63) / 64)

static inline void
wm_balance_tried_set(uint64_t *tried, uint32_t i)
{
    tried[i / 64] |= (uint64_t) 1 << (i % 64);
}

/* tried may be NULL: nothing was tried yet. */
static inline bool
wm_balance_is_tried(const uint64_t *tried, uint32_t i)
{
    return tried != NULL && (tried[i / 64] >> (i % 64) & 1) != 0;
}

/* Bytes for a group of npeers peers, primaries and backups together. */
size_t wm_balance_group_size(uint32_t npeers);

/* Zeroes the group and gives every peer nginx's defaults (weight 1,
 * max_fails 1, fail_timeout 10s, no max_conns); the caller then sets the
 * configured values. Run once by the master when the zone is new. */
void wm_balance_group_init(wm_balance_group_t *g, uint32_t nprimary,
                           uint32_t nbackup);

/*
 * The availability rule every algorithm uses: WM_BALANCE_OK when peer i of
 * g may take a connection at `now`, otherwise the reason it may not
 * (configured down, health check down, an empty resolve slot, max_fails
 * failures and less than fail_timeout since the last check, tried for this
 * request, or conns at max_conns). Lock-free; the answer may be stale by the time it is used.
 */
wm_balance_reason_t wm_balance_check_peer(const wm_balance_group_t *g,
                                          uint32_t i, const uint64_t *tried,
                                          wm_msec_t now);

/* wm_balance_check_peer() == WM_BALANCE_OK. */
bool wm_balance_peer_is_available(const wm_balance_group_t *g, uint32_t i,
                                  const uint64_t *tried, wm_msec_t now);

/*
 * The selects. Each returns the index into g->peer[] of the chosen peer, or
 * -1 with ctx->reason set. Backups are considered only when no primary is
 * available. On success the peer's conns was incremented (the caller owes
 * one wm_balance_peer_release()), and its fail_timeout probe time and
 * smooth round-robin counters were advanced.
 *
 * Contract: the caller holds the zone lock (wm_shm_lock()) around a select,
 * because round robin, which every algorithm can fall back to, updates
 * current_weight of several peers as one step. Release and the passive
 * health functions below need no lock.
 */
typedef wm_int_t (*wm_balance_select_pt)(wm_balance_group_t *g,
                                         const uint64_t *tried,
                                         wm_balance_ctx_t *ctx);

/* nginx's default: smooth weighted round robin. Every pick adds each
 * available peer's effective weight to its current_weight, takes the
 * largest (the first one on ties) and subtracts the sum from it. */
wm_int_t wm_balance_select_rr(wm_balance_group_t *g, const uint64_t *tried,
                              wm_balance_ctx_t *ctx);

/* `least_conn`: the fewest conns relative to weight; ties among those are
 * broken by smooth weighted round robin. */
wm_int_t wm_balance_select_least_conn(wm_balance_group_t *g,
                                      const uint64_t *tried,
                                      wm_balance_ctx_t *ctx);

/* `hash KEY`: ctx->hash modulo the total weight of the tier (counting
 * unavailable peers too, so that they move only their own keys); an
 * unavailable peer makes it rehash, and after WM_BALANCE_TRIES probes it
 * falls back to round robin. */
wm_int_t wm_balance_select_hash(wm_balance_group_t *g, const uint64_t *tried,
                                wm_balance_ctx_t *ctx);

/* `hash KEY consistent`: the peer of the first point of ctx->ring at or
 * after ctx->hash, walking on past unavailable peers. The ring must have
 * been built from g. */
wm_int_t wm_balance_select_chash(wm_balance_group_t *g, const uint64_t *tried,
                                 wm_balance_ctx_t *ctx);

/* `random`: a peer drawn with probability proportional to its weight from
 * ctx->rand; WM_BALANCE_TRIES draws, then round robin. */
wm_int_t wm_balance_select_random(wm_balance_group_t *g, const uint64_t *tried,
                                  wm_balance_ctx_t *ctx);

/* `random two` and `random two least_conn` (the same thing, as in nginx):
 * two distinct available peers drawn as by `random`, and of those the one
 * with fewer conns relative to weight (the first drawn on ties). */
wm_int_t wm_balance_select_random_two(wm_balance_group_t *g,
                                      const uint64_t *tried,
                                      wm_balance_ctx_t *ctx);

/* Gives back the connection a select took. Lock-free; never goes below 0. */
void wm_balance_peer_release(wm_balance_peer_t *p);

/*
 * Passive health, lock-free, called by any worker when a connection to p
 * failed or succeeded (nginx's max_fails/fail_timeout). max_fails failures
 * within fail_timeout of the first make p unavailable until fail_timeout
 * after the last one. Then one request probes it: its pick moves `checked`,
 * which keeps p unavailable to the others meanwhile. A success clears the
 * failures once p was picked more than fail_timeout after its last
 * failure (so after a probe, but not between flapping failures); a failed
 * probe disables p for another fail_timeout. Concurrent failures across a
 * window boundary may be counted once too few; nothing worse.
 */
void wm_balance_record_failure(wm_balance_peer_t *p, wm_msec_t now);
void wm_balance_record_success(wm_balance_peer_t *p);

/* The active health check's verdict; lock-free. */
void wm_balance_set_health(wm_balance_peer_t *p, bool up);

/* A phrase for the error log ("no live upstreams", ...). */
const char *wm_balance_reason_text(wm_balance_reason_t reason);

/* A wm_balance_rand_pt over a uint64_t seed (splitmix64), for callers
 * without a better source; one state per worker. */
uint32_t wm_balance_rand_next(void *state);

/* MurmurHash3 (x86, 32-bit) of len bytes: the hash of `hash KEY` and of the
 * ring. Same value on every platform. */
uint32_t wm_hash(const void *data, size_t len, uint32_t seed);

/* Points of the ring for g: WM_HASH_RING_POINTS per unit of weight. */
size_t wm_hash_ring_npoints(const wm_balance_group_t *g);

/* Bytes for a ring of npoints points. */
size_t wm_hash_ring_size(size_t npoints);

/*
 * Fills ring (wm_hash_ring_size(wm_hash_ring_npoints(g)) bytes, caller's
 * memory) with the points of every peer of g, backups included, and sorts
 * it. names[i] identifies peer[i] ("10.0.0.1:80"): the points of a peer
 * depend only on its name and weight, so adding or removing one peer moves
 * only about 1/N of the keys.
 */
void wm_hash_ring_build(wm_hash_ring_t *ring, const wm_balance_group_t *g,
                        const wm_str_t *names);

/* The index of the first point whose hash is >= hash, wrapping to 0 past
 * the last one. The ring must not be empty. */
uint32_t wm_hash_ring_find(const wm_hash_ring_t *ring, uint32_t hash);

#endif /* WM_BALANCE_H */
