/*
 * Connection counts by key for limit_conn: a fixed table of slots laid out
 * in memory the caller provides (a shared-memory zone, so that every
 * worker counts against the same numbers). The functions are pure: no
 * locking inside; the caller holds the zone's lock around each call.
 */
#ifndef WM_CONN_LIMIT_H
#define WM_CONN_LIMIT_H

#include "wm_core.h"

/* Longest key a slot holds; longer keys are not limited (the caller logs
 * it). $binary_remote_addr is 4 or 16 bytes, $remote_addr at most 39. */
#define WM_CLIMIT_KEY_MAX 64

typedef struct wm_climit_table_s wm_climit_table_t;

/* Lays a table out in the size bytes at mem (aligned to 8) and returns
 * it, or NULL when size holds no slot. */
wm_climit_table_t *wm_climit_init(void *mem, size_t size);

/* Slots of t. */
uint32_t wm_climit_slots(const wm_climit_table_t *t);

/*
 * Counts one more connection for key (len bytes, 1..WM_CLIMIT_KEY_MAX)
 * unless it has limit already. WM_OK with *slot set (give it back with
 * wm_climit_release), WM_DECLINED at the limit, WM_ERROR when the table
 * has no free slot for a new key.
 */
wm_int_t wm_climit_acquire(wm_climit_table_t *t, const u_char *key,
                           size_t len, uint32_t limit, uint32_t *slot);

/* One connection of the slot's key ended. */
void wm_climit_release(wm_climit_table_t *t, uint32_t slot);

/* The count of key (0 when absent), for tests. */
uint32_t wm_climit_count(const wm_climit_table_t *t, const u_char *key,
                         size_t len);

#endif /* WM_CONN_LIMIT_H */
