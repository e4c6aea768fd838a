/*
 * The arena allocator behind wm_pool_t: a chain of blocks handed out by
 * bumping a pointer, big allocations in blocks of their own, and cleanup
 * handlers for resources (files, sockets) whose lifetime follows the pool.
 */
#include "wm_pool.h"

#define WM_POOL_ALIGN 16
#define wm_align(n) (((n) + (WM_POOL_ALIGN - 1)) & ~((size_t) WM_POOL_ALIGN - 1))

typedef struct wm_pool_block_s wm_pool_block_t;
struct wm_pool_block_s {
    wm_pool_block_t *next;
    size_t size;
    size_t used;
    _Alignas(WM_POOL_ALIGN) u_char data[];
};

typedef struct wm_pool_cleanup_s wm_pool_cleanup_t;
struct wm_pool_cleanup_s {
    wm_pool_cleanup_t *next;
    wm_pool_cleanup_pt fn;
    void *data;
};

struct wm_pool_s {
    wm_pool_block_t *current; /* block being filled */
    wm_pool_block_t *large;   /* blocks of single big allocations */
    wm_pool_cleanup_t *cleanups;
    size_t block;
};

static wm_pool_block_t *
wm_pool_block_new(size_t size)
{
    wm_pool_block_t *b = malloc(sizeof(wm_pool_block_t) + size);

    if (b == NULL) {
        return NULL;
    }
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

wm_pool_t *
wm_pool_new(size_t block)
{
    wm_pool_t *p = calloc(1, sizeof(wm_pool_t));

    if (p == NULL) {
        return NULL;
    }
    p->block = block ? wm_align(block) : 4096;
    return p;
}

static void
wm_pool_blocks_free(wm_pool_block_t *b)
{
    while (b) {
        wm_pool_block_t *next = b->next;
        free(b);
        b = next;
    }
}

void
wm_pool_free(wm_pool_t *pool)
{
    wm_pool_cleanup_t *c;

    if (pool == NULL) {
        return;
    }
    for (c = pool->cleanups; c; c = c->next) {
        c->fn(c->data);
    }
    wm_pool_blocks_free(pool->current);
    wm_pool_blocks_free(pool->large);
    free(pool);
}

void *
wm_palloc(wm_pool_t *pool, size_t size)
{
    wm_pool_block_t *b;

    size = wm_align(size ? size : 1);
    if (size > pool->block / 4) {
        b = wm_pool_block_new(size);
        if (b == NULL) {
            return NULL;
        }
        b->next = pool->large;
        pool->large = b;
        b->used = size;
        return b->data;
    }
    b = pool->current;
    if (b == NULL || b->size - b->used < size) {
        b = wm_pool_block_new(pool->block);
        if (b == NULL) {
            return NULL;
        }
        b->next = pool->current;
        pool->current = b;
    }
    b->used += size;
    return b->data + b->used - size;
}

void *
wm_pcalloc(wm_pool_t *pool, size_t size)
{
    void *p = wm_palloc(pool, size);

    if (p) {
        memset(p, 0, size);
    }
    return p;
}

char *
wm_pstrndup(wm_pool_t *pool, const void *s, size_t len)
{
    char *p = wm_palloc(pool, len + 1);

    if (p) {
        if (len) {
            memcpy(p, s, len);
        }
        p[len] = '\0';
    }
    return p;
}

char *
wm_pstrdup(wm_pool_t *pool, const char *s)
{
    return wm_pstrndup(pool, s, strlen(s));
}

char *
wm_psprintf(wm_pool_t *pool, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return NULL;
    }
    p = wm_palloc(pool, (size_t) n + 1);
    if (p == NULL) {
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(p, (size_t) n + 1, fmt, ap);
    va_end(ap);
    return p;
}

wm_int_t
wm_pool_cleanup_add(wm_pool_t *pool, wm_pool_cleanup_pt fn, void *data)
{
    wm_pool_cleanup_t *c = wm_palloc(pool, sizeof(*c));

    if (c == NULL) {
        return WM_ERROR;
    }
    c->fn = fn;
    c->data = data;
    c->next = pool->cleanups;
    pool->cleanups = c;
    return WM_OK;
}

wm_int_t
wm_array_init(wm_array_t *a, wm_pool_t *pool, size_t n, size_t size)
{
    a->nelts = 0;
    a->size = size;
    a->nalloc = n ? n : 4;
    a->pool = pool;
    a->elts = wm_palloc(pool, a->nalloc * size);
    return a->elts ? WM_OK : WM_ERROR;
}

void *
wm_array_push(wm_array_t *a)
{
    void *elt;

    if (a->nelts == a->nalloc) {
        void *n = wm_palloc(a->pool, 2 * a->nalloc * a->size);

        if (n == NULL) {
            return NULL;
        }
        memcpy(n, a->elts, a->nelts * a->size);
        a->elts = n;
        a->nalloc *= 2;
    }
    elt = (u_char *) a->elts + a->nelts * a->size;
    a->nelts++;
    memset(elt, 0, a->size);
    return elt;
}
