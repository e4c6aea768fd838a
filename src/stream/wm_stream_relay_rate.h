/*
 * The rate of one direction of a stream relay (proxy_upload_rate,
 * proxy_download_rate), shared by the plain relay (wm_stream_relay.c) and
 * the TLS relay (wm_stream_relay_tls.c): a direction that got ahead of its
 * rate reads nothing until a timer says it may go on.
 */
#ifndef WM_STREAM_RELAY_RATE_H
#define WM_STREAM_RELAY_RATE_H

#include "wm_core.h"

#include <event2/event.h>

typedef struct {
    size_t rate;       /* bytes per second; 0: no cap */
    size_t batch_max;  /* at most this much per resume (a buffer) */
    uint64_t moved;    /* bytes read (counted by wm_stream_rate_count) */
    wm_msec_t since;   /* when the rate's clock started */
    struct event *delay;
    void (*resume)(void *arg); /* called by the delay timer */
    void *arg;
    unsigned delayed : 1;
} wm_stream_rate_t;

/*
 * The pure rule: bytes a direction capped at rate (> 0) may still read
 * after moved bytes in elapsed ms: the rate times the time, plus one
 * second's worth (nginx lets the first second's bytes through at once
 * too), less moved. When that is 0, *wait is the ms until a batch (a tenth
 * of a second's worth, at least 1 byte, at most batch_max) is allowed.
 */
uint64_t wm_stream_rate_room(uint64_t rate, uint64_t moved, uint64_t elapsed,
                             uint64_t batch_max, uint64_t *wait);

/* Starts r's clock with rate (0: no cap); resume(arg) runs when a delayed
 * direction may read again. WM_ERROR when out of memory. */
wm_int_t wm_stream_rate_init(wm_stream_rate_t *r, struct event_base *base,
                             size_t rate, size_t batch_max,
                             void (*resume)(void *arg), void *arg);

/* True when the direction may read now, *want cut to what its rate
 * allows; false while it is delayed (the timer then calls resume). */
bool wm_stream_rate_allow(wm_stream_rate_t *r, size_t *want);

static inline void
wm_stream_rate_count(wm_stream_rate_t *r, size_t n)
{
    r->moved += (uint64_t) n;
}

/* Stops the timer (the session ends) / frees it. */
void wm_stream_rate_stop(wm_stream_rate_t *r);
void wm_stream_rate_free(wm_stream_rate_t *r);

/* The $termination word for a failed read or write on one side of a
 * relay: {client,upstream}_{reset,error}. */
const char *wm_stream_relay_cause(bool upstream_side, int err);

#endif /* WM_STREAM_RELAY_RATE_H */
