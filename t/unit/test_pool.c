/*
 * Unit tests of the arena allocator and the pool-backed array: alignment,
 * large allocations, cleanup order and array growth.
 */
#include "wm_pool.h"

#include "tap.h"

static int order[4], norder;

static void
cleanup(void *data)
{
    order[norder++] = *(int *) data;
}

int
main(void)
{
    wm_pool_t *pool = wm_pool_new(256);
    wm_array_t a;
    int one = 1, two = 2;
    char *s;
    void *p;
    size_t i;
    int *e, all = 1;

    ok(pool != NULL, "pool created");
    p = wm_palloc(pool, 3);
    ok(((uintptr_t) p & 15) == 0, "small allocation is 16-byte aligned");
    p = wm_palloc(pool, 5);
    ok(((uintptr_t) p & 15) == 0, "second allocation is aligned");
    p = wm_pcalloc(pool, 100000);
    ok(p != NULL && ((char *) p)[99999] == 0, "large zeroed allocation");
    s = wm_pstrndup(pool, "hello world", 5);
    is_str(s, "hello", "pstrndup copies len bytes and terminates");
    s = wm_psprintf(pool, "%s:%d", "a", 42);
    is_str(s, "a:42", "psprintf formats into the pool");

    is_int(wm_array_init(&a, pool, 1, sizeof(int)), WM_OK, "array init");
    for (i = 0; i < 1000; i++) {
        e = wm_array_push(&a);
        if (e == NULL) {
            all = 0;
            break;
        }
        *e = (int) i;
    }
    for (i = 0; all && i < 1000; i++) {
        all = ((int *) a.elts)[i] == (int) i;
    }
    ok(all && a.nelts == 1000, "array keeps 1000 pushed values in order");

    wm_pool_cleanup_add(pool, cleanup, &one);
    wm_pool_cleanup_add(pool, cleanup, &two);
    wm_pool_free(pool);
    is_int(norder, 2, "both cleanups ran");
    ok(order[0] == 2 && order[1] == 1, "cleanups run last added first");
    wm_pool_free(NULL);
    ok(1, "wm_pool_free(NULL) is a no-op");
    return tap_done();
}
