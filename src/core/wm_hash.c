/*
 * The hash behind `hash KEY` (MurmurHash3, x86 32-bit variant, written from
 * the published algorithm) and the ketama ring of `hash KEY consistent`.
 * Both must give the same answers in every worker, on every platform and
 * after every reload, since the whole point is that a key keeps its peer.
 */
#include "wm_balance.h"

#define WM_MURMUR_C1 0xcc9e2d51U
#define WM_MURMUR_C2 0x1b873593U

static uint32_t
wm_rotl32(uint32_t x, unsigned r)
{
    return (x << r) | (x >> (32 - r));
}

/* The per-block scramble of MurmurHash3. */
static uint32_t
wm_murmur_mix(uint32_t k)
{
    k *= WM_MURMUR_C1;
    k = wm_rotl32(k, 15);
    return k * WM_MURMUR_C2;
}

uint32_t
wm_hash(const void *data, size_t len, uint32_t seed)
{
    const u_char *p = data;
    uint32_t h = seed, k;
    size_t i, nblocks = len / 4;

    /* Blocks are read little-endian byte by byte: same hash everywhere,
     * and no unaligned loads. */
    for (i = 0; i < nblocks; i++, p += 4) {
        k = (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
            | (uint32_t) p[3] << 24;
        h ^= wm_murmur_mix(k);
        h = wm_rotl32(h, 13);
        h = h * 5 + 0xe6546b64U;
    }

    if (len & 3) {
        k = 0;
        for (i = len & 3; i > 0; i--) {
            k = k << 8 | p[i - 1];
        }
        h ^= wm_murmur_mix(k);
    }

    /* The final avalanche (fmix32). */
    h ^= (uint32_t) len;
    h ^= h >> 16;
    h *= 0x85ebca6bU;
    h ^= h >> 13;
    h *= 0xc2b2ae35U;
    h ^= h >> 16;
    return h;
}

size_t
wm_hash_ring_npoints(const wm_balance_group_t *g)
{
    size_t n = 0;
    uint32_t i;

    for (i = 0; i < g->npeers; i++) {
        n += (size_t) WM_HASH_RING_POINTS * g->peer[i].weight;
    }
    return n;
}

size_t
wm_hash_ring_size(size_t npoints)
{
    return sizeof(wm_hash_ring_t) + npoints * sizeof(wm_hash_point_t);
}

/* By hash, then by peer index: equal hashes keep one order on every build
 * and removing a peer does not reorder the points of the others. */
static int
wm_hash_point_cmp(const void *a, const void *b)
{
    const wm_hash_point_t *x = a, *y = b;

    if (x->hash != y->hash) {
        return x->hash < y->hash ? -1 : 1;
    }
    return (x->peer > y->peer) - (x->peer < y->peer);
}

void
wm_hash_ring_build(wm_hash_ring_t *ring, const wm_balance_group_t *g,
                   const wm_str_t *names)
{
    wm_hash_point_t *pt = ring->point;
    uint32_t i, j, n;

    /* Point j of a peer is its name hashed with seed j: it depends on the
     * peer alone, never on its index or on the other peers. */
    for (i = 0; i < g->npeers; i++) {
        n = WM_HASH_RING_POINTS * g->peer[i].weight;
        for (j = 0; j < n; j++, pt++) {
            pt->hash = wm_hash(names[i].data, names[i].len, j);
            pt->peer = i;
        }
    }

    ring->npoints = (uint32_t) (pt - ring->point);
    qsort(ring->point, ring->npoints, sizeof(wm_hash_point_t),
          wm_hash_point_cmp);
}

uint32_t
wm_hash_ring_find(const wm_hash_ring_t *ring, uint32_t hash)
{
    uint32_t lo = 0, hi = ring->npoints, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (ring->point[mid].hash < hash) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == ring->npoints ? 0 : lo;
}
