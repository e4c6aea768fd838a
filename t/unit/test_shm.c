/*
 * Unit tests of shared-memory zones: memory written by a forked child is
 * seen by the parent, a zone with the same name, owner and size keeps its
 * contents in the next cycle, and a changed size gets fresh memory.
 */
#include "wm_cycle.h"
#include "wm_shm.h"

#include "tap.h"

#include <sys/wait.h>
#include <unistd.h>

static int tag_a, tag_b, inits, reuses;

static wm_int_t
zone_init(wm_shm_zone_t *zone, bool reused)
{
    inits++;
    reuses += reused;
    if (!reused) {
        zone->data = wm_shm_alloc(zone, sizeof(long));
        *(long *) zone->data = 0;
    } else {
        /* process-local pointer re-derived from the shared layout */
        zone->data = zone->addr + 64;
    }
    return WM_OK;
}

static wm_cycle_t *
fake_cycle(void)
{
    wm_pool_t *pool = wm_pool_new(0);
    wm_cycle_t *c = wm_pcalloc(pool, sizeof(*c));

    c->pool = pool;
    wm_array_init(&c->shm_zones, pool, 2, sizeof(void *));
    wm_array_init(&c->listening, pool, 2, sizeof(void *));
    return c;
}

int
main(void)
{
    char err[128];
    wm_cycle_t *c1 = fake_cycle(), *c2, *c3;
    wm_shm_zone_t *z, *z2, *z3;
    pid_t pid;
    int status;

    z = wm_shm_add(c1, "peers", 65536, &tag_a, err, sizeof(err));
    ok(z != NULL, "zone declared");
    z->init = zone_init;
    ok(wm_shm_add(c1, "peers", 65536, &tag_a, err, sizeof(err)) == z,
       "declaring it again returns the same zone");
    ok(wm_shm_add(c1, "peers", 65536, &tag_b, err, sizeof(err)) == NULL,
       "another module cannot take the name");
    is_str(err, "zone \"peers\" is already used by another module",
           "  with a message");
    is_int(wm_shm_create(c1, NULL), WM_OK, "zone mapped");
    ok(z->data == z->addr + 64, "first allocation follows the header");

    pid = fork();
    if (pid == 0) {
        __atomic_add_fetch((long *) z->data, 42, __ATOMIC_SEQ_CST);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    is_int(*(long *) z->data, 42, "a child's write is seen by the parent");

    c2 = fake_cycle();
    z2 = wm_shm_add(c2, "peers", 65536, &tag_a, err, sizeof(err));
    z2->init = zone_init;
    is_int(wm_shm_create(c2, c1), WM_OK, "next cycle maps its zones");
    ok(z2->addr == z->addr, "same name and size: same memory");
    is_int(reuses, 1, "init was told the memory is reused");
    is_int(*(long *) z2->data, 42, "contents survive the reload");
    wm_cycle_free(c1);
    is_int(*(long *) z2->data, 42, "freeing the old cycle keeps a kept zone");

    c3 = fake_cycle();
    z3 = wm_shm_add(c3, "peers", 131072, &tag_a, err, sizeof(err));
    z3->init = zone_init;
    is_int(wm_shm_create(c3, c2), WM_OK, "resized zone mapped");
    ok(z3->addr != z2->addr, "a new size gets new memory");
    is_int(*(long *) z3->data, 0, "  and fresh contents");
    is_int(reuses, 1, "  and init was told so");
    ok(wm_shm_alloc(z3, 1 << 20) == NULL, "allocation beyond the zone fails");
    wm_cycle_free(c2);
    wm_cycle_free(c3);
    return tap_done();
}
