/*
 * The limit_conn table (see wm_conn_limit.h): open addressing with linear
 * probing. A slot whose count fell to 0 keeps its key and is reused by
 * the next new key that probes past it, so that deleting never breaks a
 * probe chain; a lookup stops at a slot that was never used.
 */
#include "wm_conn_limit.h"

#include "wm_balance.h"

#include <string.h>

typedef struct {
    uint32_t count;
    uint32_t hash;
    uint16_t len; /* 0: never used */
    u_char key[WM_CLIMIT_KEY_MAX];
} wm_climit_slot_t;

struct wm_climit_table_s {
    uint32_t nslots;
    uint32_t pad;
    wm_climit_slot_t slot[];
};

wm_climit_table_t *
wm_climit_init(void *mem, size_t size)
{
    wm_climit_table_t *t = mem;
    size_t n;

    if (size < sizeof(*t) + sizeof(wm_climit_slot_t)) {
        return NULL;
    }
    n = (size - sizeof(*t)) / sizeof(wm_climit_slot_t);
    if (n > UINT32_MAX) {
        n = UINT32_MAX;
    }
    memset(t, 0, sizeof(*t) + n * sizeof(wm_climit_slot_t));
    t->nslots = (uint32_t) n;
    return t;
}

uint32_t
wm_climit_slots(const wm_climit_table_t *t)
{
    return t->nslots;
}

/* The slot of key, or UINT32_MAX; *reuse gets the first slot a new key
 * may take (UINT32_MAX when none). */
static uint32_t
wm_climit_find(const wm_climit_table_t *t, const u_char *key, size_t len,
               uint32_t hash, uint32_t *reuse)
{
    uint32_t n, at;

    *reuse = UINT32_MAX;
    for (n = 0, at = hash % t->nslots; n < t->nslots;
         n++, at = (at + 1) % t->nslots)
    {
        const wm_climit_slot_t *s = &t->slot[at];

        if (s->len == 0) {
            if (*reuse == UINT32_MAX) {
                *reuse = at;
            }
            return UINT32_MAX;
        }
        if (s->hash == hash && s->len == len && memcmp(s->key, key, len) == 0)
        {
            return at;
        }
        if (s->count == 0 && *reuse == UINT32_MAX) {
            *reuse = at;
        }
    }
    return UINT32_MAX;
}

wm_int_t
wm_climit_acquire(wm_climit_table_t *t, const u_char *key, size_t len,
                  uint32_t limit, uint32_t *slot)
{
    uint32_t hash, at, reuse;
    wm_climit_slot_t *s;

    if (len == 0 || len > WM_CLIMIT_KEY_MAX) {
        return WM_ERROR;
    }
    hash = wm_hash(key, len, 0x2545f491);
    at = wm_climit_find(t, key, len, hash, &reuse);
    if (at == UINT32_MAX) {
        if (reuse == UINT32_MAX) {
            return WM_ERROR;
        }
        at = reuse;
        s = &t->slot[at];
        s->count = 0;
        s->hash = hash;
        s->len = (uint16_t) len;
        memcpy(s->key, key, len);
    }
    s = &t->slot[at];
    if (s->count >= limit) {
        return WM_DECLINED;
    }
    s->count++;
    *slot = at;
    return WM_OK;
}

void
wm_climit_release(wm_climit_table_t *t, uint32_t slot)
{
    if (slot < t->nslots && t->slot[slot].count > 0) {
        t->slot[slot].count--;
    }
}

uint32_t
wm_climit_count(const wm_climit_table_t *t, const u_char *key, size_t len)
{
    uint32_t reuse, at;

    if (len == 0 || len > WM_CLIMIT_KEY_MAX) {
        return 0;
    }
    at = wm_climit_find(t, key, len, wm_hash(key, len, 0x2545f491), &reuse);
    return at == UINT32_MAX ? 0 : t->slot[at].count;
}
