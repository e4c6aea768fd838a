/*
 * The static-file cache (see wm_http_file_cache.h): a chained hash
 * table of entries that also sit on one LRU list. Per worker: the globals
 * below are the worker's own after fork, and the master never fills them.
 */
#include "wm_http_file_cache.h"

#include "wm_balance.h"
#include "wm_list.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WM_FCACHE_BUCKETS 1024 /* a power of two */

typedef struct wm_fcache_entry_s wm_fcache_entry_t;
struct wm_fcache_entry_s {
    wm_link_t lru;           /* most recently used last */
    wm_fcache_entry_t *next; /* in its bucket */
    wm_http_fcache_key_t key;
    uint32_t hash;
    size_t len;
    u_char data[];
};

static wm_fcache_entry_t *wm_fcache_buckets[WM_FCACHE_BUCKETS];
static wm_link_t wm_fcache_lru = {&wm_fcache_lru, &wm_fcache_lru};
static size_t wm_fcache_total;
static size_t wm_fcache_count;

static uint32_t
wm_fcache_hash(const wm_http_fcache_key_t *key)
{
    return wm_hash(key, sizeof(*key), 0x9e3779b9);
}

static size_t
wm_fcache_cost(size_t len)
{
    return sizeof(wm_fcache_entry_t) + len;
}

static wm_fcache_entry_t **
wm_fcache_slot(const wm_http_fcache_key_t *key, uint32_t hash)
{
    wm_fcache_entry_t **p = &wm_fcache_buckets[hash & (WM_FCACHE_BUCKETS - 1)];

    while (*p && ((*p)->hash != hash
                  || memcmp(&(*p)->key, key, sizeof(*key)) != 0)) {
        p = &(*p)->next;
    }
    return p;
}

static void
wm_fcache_drop(wm_fcache_entry_t *e)
{
    wm_fcache_entry_t **p = wm_fcache_slot(&e->key, e->hash);

    *p = e->next;
    wm_list_remove(&e->lru);
    wm_fcache_total -= wm_fcache_cost(e->len);
    wm_fcache_count--;
    free(e);
}

const u_char *
wm_http_fcache_get(const wm_http_fcache_key_t *key, size_t *len)
{
    wm_fcache_entry_t *e = *wm_fcache_slot(key, wm_fcache_hash(key));

    if (e == NULL) {
        return NULL;
    }
    wm_list_remove(&e->lru);
    wm_list_add(&wm_fcache_lru, &e->lru);
    *len = e->len;
    return e->data;
}

void
wm_http_fcache_put(const wm_http_fcache_key_t *key, const u_char *data,
                   size_t len, size_t max)
{
    uint32_t hash = wm_fcache_hash(key);
    wm_fcache_entry_t **p, *e;

    if (len > max / 8 || !wm_http_fcache_settled(key)) {
        return;
    }
    p = wm_fcache_slot(key, hash);
    if (*p) {
        wm_fcache_drop(*p);
    }
    while (wm_fcache_total + wm_fcache_cost(len) > max
           && !wm_list_empty(&wm_fcache_lru)) {
        wm_fcache_drop(wm_link_data(wm_fcache_lru.next, wm_fcache_entry_t,
                                    lru));
    }
    e = malloc(wm_fcache_cost(len));
    if (e == NULL) {
        return;
    }
    memcpy(e->data, data, len);
    e->key = *key;
    e->hash = hash;
    e->len = len;
    /* The slot may have moved while evicting. */
    p = wm_fcache_slot(key, hash);
    e->next = NULL;
    *p = e;
    wm_list_add(&wm_fcache_lru, &e->lru);
    wm_fcache_total += wm_fcache_cost(len);
    wm_fcache_count++;
}

bool
wm_http_fcache_settled(const wm_http_fcache_key_t *key)
{
    time_t now = time(NULL);

    return now - key->mtime_sec >= 2 && now - key->ctime_sec >= 2;
}

void
wm_http_fcache_key_file(wm_http_fcache_key_t *key, const struct stat *st)
{
    memset(key, 0, sizeof(*key));
    key->dev = (uint64_t) st->st_dev;
    key->ino = (uint64_t) st->st_ino;
    key->size = (int64_t) st->st_size;
    key->mtime_sec = (int64_t) st->st_mtim.tv_sec;
    key->mtime_nsec = (int64_t) st->st_mtim.tv_nsec;
    key->ctime_sec = (int64_t) st->st_ctim.tv_sec;
    key->ctime_nsec = (int64_t) st->st_ctim.tv_nsec;
}

void
wm_http_fcache_clear(void)
{
    while (!wm_list_empty(&wm_fcache_lru)) {
        wm_fcache_drop(wm_link_data(wm_fcache_lru.next, wm_fcache_entry_t,
                                    lru));
    }
}

size_t
wm_http_fcache_bytes(void)
{
    return wm_fcache_total;
}

size_t
wm_http_fcache_entries(void)
{
    return wm_fcache_count;
}
