/*
 * The compressed-file cache: the coded bodies of static files that a worker
 * compressed on the fly, kept so that the next request for the same file,
 * coding and level is answered without reading and compressing it again.
 * One cache per worker process (no locks), bounded in bytes, least
 * recently used first out. A key names the file by device, inode, size and
 * modification time (nanoseconds), all taken from the fstat() every static
 * request makes, so a changed file is never answered from the cache.
 */
#ifndef WM_HTTP_COMPRESS_CACHE_H
#define WM_HTTP_COMPRESS_CACHE_H

#include "wm_core.h"

#include <event2/buffer.h>

typedef struct {
    uint64_t dev;
    uint64_t ino;
    int64_t size;
    int64_t mtime_sec;
    int64_t mtime_nsec;
    uint32_t coding; /* wm_http_coding_t */
    uint32_t level;
} wm_http_ccache_key_t;

/* The coded body cached for key, or NULL; *len gets its length. The bytes
 * stay valid until the next wm_http_ccache_put() or _clear(). A hit makes
 * the entry the most recently used. */
const u_char *wm_http_ccache_get(const wm_http_ccache_key_t *key, size_t *len);

/* Copies the len bytes at data into the cache under key (replacing an
 * entry of the same key), evicting the least recently used entries until
 * the cache holds at most max bytes. A body larger than max / 8 is not
 * kept. Out of memory only means the body is not kept. */
void wm_http_ccache_put(const wm_http_ccache_key_t *key, struct evbuffer *data,
                        size_t len, size_t max);

/* Frees every entry. */
void wm_http_ccache_clear(void);

/* Bytes held (bodies and entry overhead) and entries, for tests and logs. */
size_t wm_http_ccache_bytes(void);
size_t wm_http_ccache_entries(void);

#endif /* WM_HTTP_COMPRESS_CACHE_H */
