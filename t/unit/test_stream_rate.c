/*
 * Unit tests of the rate rule of the stream relays (wm_stream_relay_rate.c,
 * proxy_upload_rate / proxy_download_rate): the first second's worth at
 * once, then the rate; a direction at its limit waits for a batch of a
 * tenth of a second's worth (at least 1 byte, at most a buffer), and the
 * wait it is given lands exactly where that batch is allowed.
 */
#include "wm_stream_relay_rate.h"

#include "tap.h"

static const struct {
    uint64_t rate, moved, elapsed, room, wait;
    const char *name;
} cases[] = {
    {1000, 0, 0, 1000, 0, "at the start: one second's worth at once"},
    {1000, 400, 500, 1100, 0, "after 0.5 s and 400 bytes: 1500 - 400"},
    /* a batch is a buffer of 16384 bytes (below a tenth of a second's
     * worth, 26214): 62.5 ms at 256 KiB/s */
    {262144, 262144, 0, 0, 63, "a second's worth read at once: a buffer"},
    {262144, 262144, 63, 16384, 0, "and after that wait, a buffer"},
    {100, 100, 0, 0, 100, "100 bytes/s: a batch of 10 bytes, 100 ms"},
    {5, 5, 0, 0, 200, "5 bytes/s: a batch of 1 byte, 200 ms"},
    {1000, 5000, 1000, 0, 3100, "ahead: until the rate caught up + a batch"},
};

int
main(void)
{
    uint64_t wait, room, r, moved, el, bad = 0;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wait = 99;
        room = wm_stream_rate_room(cases[i].rate, cases[i].moved,
                                   cases[i].elapsed, 16384, &wait);
        ok(room >= cases[i].room && (cases[i].room || room == 0)
               && wait == cases[i].wait,
           cases[i].name);
        if (room < cases[i].room || wait != cases[i].wait) {
            diag("room %llu, wait %llu", (unsigned long long) room,
                 (unsigned long long) wait);
        }
    }

    /* whatever the state, the wait ends where bytes are allowed, and not
     * a batch's time later */
    for (r = 1; r < 2000000; r = r * 3 + 7) {
        for (moved = r; moved < 10 * r; moved += r / 3 + 1) {
            for (el = 0; el < 3000; el += 137) {
                uint64_t w, after, before;

                if (wm_stream_rate_room(r, moved, el, 65536, &w) != 0) {
                    continue;
                }
                after = wm_stream_rate_room(r, moved, el + w, 65536, &before);
                bad += after == 0 || w == 0;
            }
        }
    }
    is_int(bad, 0, "every wait ends with bytes allowed");
    return tap_done();
}
