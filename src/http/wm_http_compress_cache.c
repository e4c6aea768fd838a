/*
 * The compressed-file cache (see wm_http_compress_cache.h): a chained hash
 * table of entries that also sit on one LRU list. Per worker: the globals
 * below are the worker's own after fork, and the master never fills them.
 */
#include "wm_http_compress_cache.h"

#include "wm_balance.h"
#include "wm_list.h"

#include <stdlib.h>
#include <string.h>

#define WM_CCACHE_BUCKETS 1024 /* a power of two */

typedef struct wm_ccache_entry_s wm_ccache_entry_t;
struct wm_ccache_entry_s {
    wm_link_t lru;           /* most recently used last */
    wm_ccache_entry_t *next; /* in its bucket */
    wm_http_ccache_key_t key;
    uint32_t hash;
    size_t len;
    u_char data[];
};

static wm_ccache_entry_t *wm_ccache_buckets[WM_CCACHE_BUCKETS];
static wm_link_t wm_ccache_lru = {&wm_ccache_lru, &wm_ccache_lru};
static size_t wm_ccache_total;
static size_t wm_ccache_count;

static uint32_t
wm_ccache_hash(const wm_http_ccache_key_t *key)
{
    return wm_hash(key, sizeof(*key), 0x9e3779b9);
}

static size_t
wm_ccache_cost(size_t len)
{
    return sizeof(wm_ccache_entry_t) + len;
}

static wm_ccache_entry_t **
wm_ccache_slot(const wm_http_ccache_key_t *key, uint32_t hash)
{
    wm_ccache_entry_t **p = &wm_ccache_buckets[hash & (WM_CCACHE_BUCKETS - 1)];

    while (*p && ((*p)->hash != hash
                  || memcmp(&(*p)->key, key, sizeof(*key)) != 0)) {
        p = &(*p)->next;
    }
    return p;
}

static void
wm_ccache_drop(wm_ccache_entry_t *e)
{
    wm_ccache_entry_t **p = wm_ccache_slot(&e->key, e->hash);

    *p = e->next;
    wm_list_remove(&e->lru);
    wm_ccache_total -= wm_ccache_cost(e->len);
    wm_ccache_count--;
    free(e);
}

const u_char *
wm_http_ccache_get(const wm_http_ccache_key_t *key, size_t *len)
{
    wm_ccache_entry_t *e = *wm_ccache_slot(key, wm_ccache_hash(key));

    if (e == NULL) {
        return NULL;
    }
    wm_list_remove(&e->lru);
    wm_list_add(&wm_ccache_lru, &e->lru);
    *len = e->len;
    return e->data;
}

void
wm_http_ccache_put(const wm_http_ccache_key_t *key, struct evbuffer *data,
                   size_t len, size_t max)
{
    uint32_t hash = wm_ccache_hash(key);
    wm_ccache_entry_t **p, *e;

    if (len > max / 8) {
        return;
    }
    p = wm_ccache_slot(key, hash);
    if (*p) {
        wm_ccache_drop(*p);
    }
    while (wm_ccache_total + wm_ccache_cost(len) > max
           && !wm_list_empty(&wm_ccache_lru)) {
        wm_ccache_drop(wm_link_data(wm_ccache_lru.next, wm_ccache_entry_t,
                                    lru));
    }
    e = malloc(wm_ccache_cost(len));
    if (e == NULL) {
        return;
    }
    if (evbuffer_copyout(data, e->data, len) != (ev_ssize_t) len) {
        free(e);
        return;
    }
    e->key = *key;
    e->hash = hash;
    e->len = len;
    /* The slot may have moved while evicting. */
    p = wm_ccache_slot(key, hash);
    e->next = NULL;
    *p = e;
    wm_list_add(&wm_ccache_lru, &e->lru);
    wm_ccache_total += wm_ccache_cost(len);
    wm_ccache_count++;
}

void
wm_http_ccache_clear(void)
{
    while (!wm_list_empty(&wm_ccache_lru)) {
        wm_ccache_drop(wm_link_data(wm_ccache_lru.next, wm_ccache_entry_t,
                                    lru));
    }
}

size_t
wm_http_ccache_bytes(void)
{
    return wm_ccache_total;
}

size_t
wm_http_ccache_entries(void)
{
    return wm_ccache_count;
}
