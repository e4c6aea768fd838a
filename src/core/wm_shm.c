/*
 * Shared-memory zones as anonymous shared mappings. The master maps them,
 * so every worker it forks afterwards shares them; on reload the master
 * passes a zone with the same name, owner and size to the new cycle
 * instead of mapping a fresh one.
 */
#include "wm_shm.h"

#include "wm_cycle.h"
#include "wm_log.h"

#include <sys/mman.h>

wm_shm_zone_t *
wm_shm_add(wm_cycle_t *cycle, const char *name, size_t size, const void *tag,
           char *err, size_t errlen)
{
    wm_shm_zone_t **zp, *z;
    size_t i;

    for (i = 0; i < cycle->shm_zones.nelts; i++) {
        z = ((wm_shm_zone_t **) cycle->shm_zones.elts)[i];
        if (strcmp(z->name, name) == 0) {
            if (z->tag != tag) {
                snprintf(err, errlen,
                         "zone \"%s\" is already used by another module",
                         name);
                return NULL;
            }
            return z;
        }
    }
    z = wm_pcalloc(cycle->pool, sizeof(*z));
    zp = wm_array_push(&cycle->shm_zones);
    if (z == NULL || zp == NULL || (z->name = wm_pstrdup(cycle->pool, name))
                                       == NULL)
    {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    z->size = size;
    z->tag = tag;
    *zp = z;
    return z;
}

static wm_shm_zone_t *
wm_shm_find(wm_cycle_t *cycle, const wm_shm_zone_t *like)
{
    size_t i;

    if (cycle == NULL) {
        return NULL;
    }
    for (i = 0; i < cycle->shm_zones.nelts; i++) {
        wm_shm_zone_t *z = ((wm_shm_zone_t **) cycle->shm_zones.elts)[i];

        if (!z->kept && z->addr && z->tag == like->tag
            && z->size == like->size && strcmp(z->name, like->name) == 0)
        {
            return z;
        }
    }
    return NULL;
}

wm_int_t
wm_shm_create(wm_cycle_t *cycle, wm_cycle_t *old)
{
    size_t i;

    for (i = 0; i < cycle->shm_zones.nelts; i++) {
        wm_shm_zone_t *z = ((wm_shm_zone_t **) cycle->shm_zones.elts)[i];
        wm_shm_zone_t *prev = wm_shm_find(old, z);
        bool reused = prev != NULL;

        if (prev) {
            z->addr = prev->addr;
            prev->kept = 1;
        } else {
            wm_shm_header_t *h;

            z->addr = mmap(NULL, z->size, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
            if (z->addr == MAP_FAILED) {
                z->addr = NULL;
                wm_log_error(WM_LOG_EMERG, wm_errlog, errno,
                             "mmap() of zone \"%s\" (%zu bytes) failed",
                             z->name, z->size);
                return WM_ERROR;
            }
            h = (wm_shm_header_t *) z->addr;
            atomic_flag_clear(&h->lock);
            h->size = z->size;
            h->used = (sizeof(wm_shm_header_t) + 63) & ~(size_t) 63;
        }
        if (z->init && z->init(z, reused) != WM_OK) {
            return WM_ERROR;
        }
    }
    return WM_OK;
}

void
wm_shm_release(wm_cycle_t *cycle)
{
    size_t i;

    for (i = 0; i < cycle->shm_zones.nelts; i++) {
        wm_shm_zone_t *z = ((wm_shm_zone_t **) cycle->shm_zones.elts)[i];

        if (z->addr && !z->kept) {
            munmap(z->addr, z->size);
            z->addr = NULL;
        }
    }
}

void *
wm_shm_alloc(wm_shm_zone_t *zone, size_t size)
{
    wm_shm_header_t *h = (wm_shm_header_t *) zone->addr;
    void *p = NULL;

    size = (size + 15) & ~(size_t) 15;
    wm_shm_lock(zone);
    if (h->size - h->used >= size) {
        p = zone->addr + h->used;
        h->used += size;
    }
    wm_shm_unlock(zone);
    return p;
}
