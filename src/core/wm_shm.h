/*
 * Shared-memory zones: named, sized regions created by the master before
 * it forks the workers, so that all workers see the same bytes (peer
 * health, connection counts, counters). A zone whose name and size are
 * unchanged survives a reload with its contents.
 */
#ifndef WM_SHM_H
#define WM_SHM_H

#include "wm_core.h"

#include <stdatomic.h>

typedef struct wm_shm_zone_s wm_shm_zone_t;

/*
 * Called in the master once the zone is mapped. `reused` is true when the
 * memory comes from the previous cycle unchanged; the callback then keeps
 * its contents and only re-derives process-local pointers.
 */
typedef wm_int_t (*wm_shm_init_pt)(wm_shm_zone_t *zone, bool reused);

/* The start of every zone: a bump allocator and a spin lock. */
typedef struct {
    atomic_flag lock;
    size_t used;
    size_t size;
} wm_shm_header_t;

struct wm_shm_zone_s {
    const char *name;
    size_t size;
    const void *tag;        /* the module that owns it */
    u_char *addr;           /* mapped in the master, shared after fork */
    wm_shm_init_pt init;
    void *data;             /* the owning module's */
    unsigned kept : 1;      /* taken over by a newer cycle */
};

/* Declares a zone of cycle. An existing zone of the same name and tag is
 * returned (its size is then checked by the caller); NULL when out of
 * memory or when the name belongs to another module (err set). */
wm_shm_zone_t *wm_shm_add(wm_cycle_t *cycle, const char *name, size_t size,
                          const void *tag, char *err, size_t errlen);

/* Maps every zone of cycle, reusing those of old with the same name, tag
 * and size, and runs their init callbacks. WM_OK or WM_ERROR (logged). */
wm_int_t wm_shm_create(wm_cycle_t *cycle, wm_cycle_t *old);

/* Unmaps the zones of cycle that no newer cycle kept. */
void wm_shm_release(wm_cycle_t *cycle);

/* Bump allocation inside a zone (master, at init); NULL when full. */
void *wm_shm_alloc(wm_shm_zone_t *zone, size_t size);

static inline void
wm_shm_lock(wm_shm_zone_t *zone)
{
    wm_shm_header_t *h = (wm_shm_header_t *) zone->addr;

    while (atomic_flag_test_and_set_explicit(&h->lock, memory_order_acquire)) {
        /* spin: critical sections are a few instructions */
    }
}

static inline void
wm_shm_unlock(wm_shm_zone_t *zone)
{
    wm_shm_header_t *h = (wm_shm_header_t *) zone->addr;

    atomic_flag_clear_explicit(&h->lock, memory_order_release);
}

#endif /* WM_SHM_H */
