/*
 * Unit tests of the static-file cache: hits and misses by every key field,
 * replacement of an entry, the byte bound with least-recently-used
 * eviction (a hit refreshes an entry), bodies too large to keep, and files
 * too recently changed to keep.
 */
#include "wm_http_file_cache.h"

#include "tap.h"

#include <string.h>
#include <time.h>

static wm_http_fcache_key_t
key(uint64_t ino, uint32_t coding)
{
    wm_http_fcache_key_t k;

    memset(&k, 0, sizeof(k));
    k.dev = 8;
    k.ino = ino;
    k.size = 1000;
    k.mtime_sec = 1700000000;
    k.mtime_nsec = 123456789;
    k.coding = coding;
    k.level = 1;
    return k;
}

static void
put(const wm_http_fcache_key_t *k, const char *body, size_t max)
{
    wm_http_fcache_put(k, (const u_char *) body, strlen(body), max);
}

static int
has(const wm_http_fcache_key_t *k, const char *body)
{
    size_t len;
    const u_char *d = wm_http_fcache_get(k, &len);

    if (body == NULL) {
        return d == NULL;
    }
    return d && len == strlen(body) && memcmp(d, body, len) == 0;
}

int
main(void)
{
    wm_http_fcache_key_t a = key(1, 1), b = key(2, 1), c = key(3, 1), k;
    size_t max = 1 << 20, one, entry;
    char big[4096];
    int i, all;

    ok(has(&a, NULL), "an empty cache misses");
    put(&a, "alpha-gzip", max);
    ok(has(&a, "alpha-gzip"), "a put is a hit");
    is_int((long) wm_http_fcache_entries(), 1, "one entry");

    k = a;
    k.coding = 2;
    ok(has(&k, NULL), "another coding misses");
    k = a;
    k.level = 6;
    ok(has(&k, NULL), "another level misses");
    k = a;
    k.mtime_nsec++;
    ok(has(&k, NULL), "a nanosecond newer file misses");
    k = a;
    k.size++;
    ok(has(&k, NULL), "another size misses");
    k = a;
    k.dev++;
    ok(has(&k, NULL), "another device misses");

    put(&a, "alpha-again", max);
    ok(has(&a, "alpha-again"), "a second put replaces the entry");
    is_int((long) wm_http_fcache_entries(), 1, "still one entry");
    one = wm_http_fcache_bytes();
    ok(one > strlen("alpha-again"), "bytes count the body and the entry");

    /* A bound of exactly ten 1000-byte entries. */
    wm_http_fcache_clear();
    is_int((long) wm_http_fcache_entries(), 0, "clear empties it");
    is_int((long) wm_http_fcache_bytes(), 0, "clear frees every byte");
    memset(big, 'x', 1000);
    big[1000] = '\0';
    entry = one - strlen("alpha-again") + 1000;
    max = 10 * entry;
    for (i = 0; i < 10; i++) {
        k = key(100 + (uint64_t) i, 1);
        put(&k, big, max);
    }
    is_int((long) wm_http_fcache_bytes(), (long) max, "ten entries fill it");
    all = 1;
    for (i = 0; i < 10; i++) {
        k = key(100 + (uint64_t) i, 1);
        all &= has(&k, big);
    }
    ok(all, "entries up to the bound are all kept");
    ok(wm_http_fcache_bytes() <= max, "the bytes stay under the bound");
    /* entry 100 was just read first of all: the least recently used is 101 */
    k = key(100, 1);
    ok(has(&k, big), "a hit refreshes entry 100");
    put(&b, big, max);
    k = key(101, 1);
    ok(has(&k, NULL), "the least recently used entry was evicted");
    k = key(100, 1);
    ok(has(&k, big), "the refreshed entry stayed");
    ok(has(&b, big), "the new entry is there");
    ok(wm_http_fcache_bytes() <= max, "still under the bound");

    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    put(&c, big, 8 * 4095 - 1);
    ok(has(&c, NULL), "a body larger than an eighth of the bound is not kept");
    put(&c, big, 8 * 4095);
    ok(has(&c, big), "a body of exactly an eighth is kept");

    /* Files written in the last two seconds are not kept. */
    k = key(500, 0);
    k.mtime_sec = (int64_t) time(NULL) - 1;
    ok(!wm_http_fcache_settled(&k), "a file modified a second ago is not settled");
    put(&k, "fresh", 1 << 20);
    ok(has(&k, NULL), "a file modified a second ago is not kept");
    k = key(501, 0);
    k.ctime_sec = (int64_t) time(NULL);
    put(&k, "chmod", 1 << 20);
    ok(has(&k, NULL), "a file whose inode changed just now is not kept");
    k = key(502, 0);
    k.mtime_sec = k.ctime_sec = (int64_t) time(NULL) - 2;
    ok(wm_http_fcache_settled(&k), "two seconds old is settled");
    k = key(3, 1);
    k.ctime_nsec = 1;
    ok(has(&k, NULL), "another ctime misses");

    wm_http_fcache_clear();
    is_int((long) wm_http_fcache_bytes(), 0, "clear at the end");
    return tap_done();
}
