/*
 * What the plain and the TLS relay share: the rate of a direction and the
 * $termination words of a failed socket operation.
 */
#include "wm_stream_relay_rate.h"

#include "wm_upstream.h"

#include <errno.h>

uint64_t
wm_stream_rate_room(uint64_t rate, uint64_t moved, uint64_t elapsed,
                    uint64_t batch_max, uint64_t *wait)
{
    uint64_t allowed = rate * (elapsed + 1000) / 1000;
    uint64_t batch, w;

    if (allowed > moved) {
        *wait = 0;
        return allowed - moved;
    }
    batch = wm_max((uint64_t) 1, wm_min(rate / 10, batch_max));
    /* the time at which rate * (t + 1000) / 1000 reaches moved + batch */
    w = ((moved + batch) * 1000 + rate - 1) / rate;
    *wait = w > elapsed + 1000 ? w - elapsed - 1000 : 1;
    return 0;
}

static void
wm_stream_rate_timer(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_rate_t *r = arg;

    (void) fd;
    (void) what;
    r->delayed = 0;
    r->resume(r->arg);
}

wm_int_t
wm_stream_rate_init(wm_stream_rate_t *r, struct event_base *base,
                    size_t rate, size_t batch_max, void (*resume)(void *arg),
                    void *arg)
{
    r->rate = rate;
    r->batch_max = batch_max;
    r->since = wm_upstream_now();
    r->resume = resume;
    r->arg = arg;
    if (rate && r->delay == NULL) {
        r->delay = evtimer_new(base, wm_stream_rate_timer, r);
        if (r->delay == NULL) {
            return WM_ERROR;
        }
    }
    return WM_OK;
}

bool
wm_stream_rate_allow(wm_stream_rate_t *r, size_t *want)
{
    uint64_t room, wait;
    struct timeval tv;

    if (r->rate == 0) {
        return true;
    }
    if (r->delayed) {
        return false;
    }
    room = wm_stream_rate_room(r->rate, r->moved,
                               (uint64_t) (wm_upstream_now() - r->since),
                               r->batch_max, &wait);
    if (room) {
        *want = (size_t) wm_min((uint64_t) *want, room);
        return true;
    }
    tv.tv_sec = (time_t) (wait / 1000);
    tv.tv_usec = (suseconds_t) (wait % 1000) * 1000;
    r->delayed = 1;
    evtimer_add(r->delay, &tv);
    return false;
}

void
wm_stream_rate_stop(wm_stream_rate_t *r)
{
    if (r->delay) {
        event_del(r->delay);
    }
}

void
wm_stream_rate_free(wm_stream_rate_t *r)
{
    if (r->delay) {
        event_free(r->delay);
        r->delay = NULL;
    }
}

const char *
wm_stream_relay_cause(bool upstream_side, int err)
{
    if (err == ECONNRESET || err == EPIPE) {
        return upstream_side ? "upstream_reset" : "client_reset";
    }
    return upstream_side ? "upstream_error" : "client_error";
}
