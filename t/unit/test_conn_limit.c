/*
 * Unit tests of the limit_conn table: counting up to the limit per key,
 * keys kept apart (also on one probe chain), release, reuse of slots whose
 * count fell to 0 without losing keys further on the chain, a full table,
 * and keys that are empty or too long.
 */
#include "wm_conn_limit.h"

#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static wm_int_t
acq(wm_climit_table_t *t, const char *k, uint32_t limit, uint32_t *slot)
{
    return wm_climit_acquire(t, (const u_char *) k, strlen(k), limit, slot);
}

static uint32_t
count(wm_climit_table_t *t, const char *k)
{
    return wm_climit_count(t, (const u_char *) k, strlen(k));
}

int
main(void)
{
    static uint64_t mem[4096];
    wm_climit_table_t *t = wm_climit_init(mem, sizeof(mem));
    uint32_t a1, a2, b1, x, slots[64];
    char key[WM_CLIMIT_KEY_MAX + 2];
    int i, all;

    ok(t != NULL, "a table in 32 KiB");
    ok(wm_climit_slots(t) > 100, "with hundreds of slots");
    ok(wm_climit_init(mem, 16) == NULL, "no table in 16 bytes");

    is_int(acq(t, "10.0.0.1", 2, &a1), WM_OK, "first connection counted");
    is_int(acq(t, "10.0.0.1", 2, &a2), WM_OK, "second connection counted");
    is_int(acq(t, "10.0.0.1", 2, &x), WM_DECLINED, "third: at the limit");
    is_int((long) count(t, "10.0.0.1"), 2, "the count stays 2");
    is_int(acq(t, "10.0.0.2", 2, &b1), WM_OK, "another key is counted apart");
    is_int((long) count(t, "10.0.0.2"), 1, "its count");
    wm_climit_release(t, a1);
    is_int((long) count(t, "10.0.0.1"), 1, "a release makes room");
    is_int(acq(t, "10.0.0.1", 2, &a1), WM_OK, "and the next one is counted");
    wm_climit_release(t, a1);
    wm_climit_release(t, a2);
    wm_climit_release(t, a2); /* one too many: stays at 0 */
    is_int((long) count(t, "10.0.0.1"), 0, "released to 0 (never below)");
    is_int(acq(t, "10.0.0.1", 0, &x), WM_DECLINED, "limit 0 refuses all");

    is_int(acq(t, "", 5, &x), WM_ERROR, "an empty key is refused");
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    is_int(acq(t, key, 5, &x), WM_ERROR, "a key over the maximum is refused");
    key[WM_CLIMIT_KEY_MAX] = '\0';
    is_int(acq(t, key, 5, &x), WM_OK, "a key of exactly the maximum is counted");
    wm_climit_release(t, x);

    /* A small table: every key probes the others' slots. */
    {
        static uint64_t small[64];
        wm_climit_table_t *s = wm_climit_init(small, sizeof(small));
        uint32_t n = wm_climit_slots(s), held[16];
        char k[16];

        ok(n >= 4 && n < 16, "a small table");
        all = 1;
        for (i = 0; i < (int) n; i++) {
            snprintf(k, sizeof(k), "key%d", i);
            all &= acq(s, k, 1, &held[i]) == WM_OK;
        }
        ok(all, "as many keys as slots are counted");
        is_int(acq(s, "one-more", 1, &x), WM_ERROR, "a new key: the table is full");
        wm_climit_release(s, held[0]);
        is_int(acq(s, "one-more", 1, &x), WM_OK,
               "a slot whose count fell to 0 is reused");
        all = 1;
        for (i = 1; i < (int) n; i++) {
            snprintf(k, sizeof(k), "key%d", i);
            all &= count(s, k) == 1;
        }
        ok(all, "the other keys keep their counts");
        is_int((long) count(s, "key0"), 0, "the key whose slot went is gone");
    }

    /* Many keys, many connections each: the counts add up. */
    all = 1;
    for (i = 0; i < 64; i++) {
        char k[16];

        snprintf(k, sizeof(k), "client-%d", i);
        all &= acq(t, k, 3, &slots[i]) == WM_OK;
        all &= acq(t, k, 3, &x) == WM_OK;
    }
    ok(all, "64 keys with 2 connections each");
    all = 1;
    for (i = 0; i < 64; i++) {
        char k[16];

        snprintf(k, sizeof(k), "client-%d", i);
        all &= count(t, k) == 2;
    }
    ok(all, "every key counts 2");
    return tap_done();
}
