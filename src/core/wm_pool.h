/*
 * Arenas: memory for objects that live exactly as long as something else
 * (a cycle, a connection, a request). Everything allocated from a pool is
 * freed at once by wm_pool_free(), after the pool's cleanup handlers ran.
 */
#ifndef WM_POOL_H
#define WM_POOL_H

#include "wm_core.h"

typedef void (*wm_pool_cleanup_pt)(void *data);

/* A new pool whose blocks are `block` bytes (0 picks 4 KiB); NULL when out
 * of memory. */
wm_pool_t *wm_pool_new(size_t block);

/* Runs the cleanup handlers (last added first) and frees every block.
 * Accepts NULL. */
void wm_pool_free(wm_pool_t *pool);

/* Aligned memory from the pool; NULL when out of memory. Large requests
 * get their own block. */
void *wm_palloc(wm_pool_t *pool, size_t size);

/* As wm_palloc, zero-filled. */
void *wm_pcalloc(wm_pool_t *pool, size_t size);

/* A NUL-terminated copy of len bytes of s, in the pool. */
char *wm_pstrndup(wm_pool_t *pool, const void *s, size_t len);

/* A NUL-terminated copy of s, in the pool. */
char *wm_pstrdup(wm_pool_t *pool, const char *s);

/* printf into pool memory; NULL when out of memory. */
char *wm_psprintf(wm_pool_t *pool, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Registers fn(data) to run when the pool is freed. WM_OK or WM_ERROR. */
wm_int_t wm_pool_cleanup_add(wm_pool_t *pool, wm_pool_cleanup_pt fn,
                             void *data);

/*
 * A growable array of fixed-size elements whose storage lives in a pool.
 * Growing copies the elements, so pointers into it are valid only until
 * the next push.
 */
typedef struct {
    void *elts;
    size_t nelts;
    size_t size;
    size_t nalloc;
    wm_pool_t *pool;
} wm_array_t;

/* Prepares a for elements of `size` bytes; WM_OK or WM_ERROR. */
wm_int_t wm_array_init(wm_array_t *a, wm_pool_t *pool, size_t n, size_t size);

/* A pointer to a new zeroed element at the end; NULL when out of memory. */
void *wm_array_push(wm_array_t *a);

#endif /* WM_POOL_H */
