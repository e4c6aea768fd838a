/*
 * The static-file cache (static_cache): the bytes of small static files,
 * and the coded bodies of the files a worker compressed on the fly, kept so
 * that the next request for the same file (coding and level) is answered
 * without opening, reading or compressing it again. One cache per worker
 * process (no locks), bounded in bytes, least recently used first out.
 *
 * A key names the file by device, inode, size, modification and change
 * times (nanoseconds), from the stat() every static request still makes:
 * a changed, replaced or chmod'ed file misses. Timestamps come from a
 * coarse clock, so two writes of the same size a few milliseconds apart
 * can leave the same mtime; a file modified in the last two seconds is
 * therefore never kept (a later write then always moves the mtime).
 */
#ifndef WM_HTTP_FILE_CACHE_H
#define WM_HTTP_FILE_CACHE_H

#include "wm_core.h"

#include <sys/stat.h>

typedef struct {
    uint64_t dev;
    uint64_t ino;
    int64_t size;
    int64_t mtime_sec;
    int64_t mtime_nsec;
    int64_t ctime_sec;
    int64_t ctime_nsec;
    uint32_t coding; /* wm_http_coding_t; 0: the file's own bytes */
    uint32_t level;
} wm_http_fcache_key_t;

/* Fills the file part of key from st (coding and level 0). */
void wm_http_fcache_key_file(wm_http_fcache_key_t *key, const struct stat *st);

/* The body cached for key, or NULL; *len gets its length. The bytes stay
 * valid until the next wm_http_fcache_put() or _clear(). A hit makes the
 * entry the most recently used. */
const u_char *wm_http_fcache_get(const wm_http_fcache_key_t *key, size_t *len);

/* Whether a file of this key may be kept now: its mtime and ctime are at
 * least two seconds old. */
bool wm_http_fcache_settled(const wm_http_fcache_key_t *key);

/* Copies the len bytes at data into the cache under key (replacing
 * an entry of the same key), evicting the least recently used entries
 * until the cache holds at most max bytes. Nothing is kept for a body
 * larger than max / 8, for a file that is not settled, or when out of
 * memory. */
void wm_http_fcache_put(const wm_http_fcache_key_t *key, const u_char *data,
                        size_t len, size_t max);

/* Frees every entry. */
void wm_http_fcache_clear(void);

/* Bytes held (bodies and entry overhead) and entries, for tests and logs. */
size_t wm_http_fcache_bytes(void);
size_t wm_http_fcache_entries(void);

#endif /* WM_HTTP_FILE_CACHE_H */
