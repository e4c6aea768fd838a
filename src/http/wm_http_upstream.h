/*
 * `upstream name { }` in the http block and its keepalive pool: the
 * groups that proxy_pass names, with, for each group, the idle upstream
 * connections a worker keeps for the next requests (keepalive N).
 */
#ifndef WM_HTTP_UPSTREAM_H
#define WM_HTTP_UPSTREAM_H

#include "wm_http.h"
#include "wm_upstream.h"

#include <event2/bufferevent.h>

/* A group's keepalive settings (its `data`); a group without any keepalive
 * directive has none and pools nothing. */
typedef struct {
    wm_int_t max;           /* keepalive N: idle connections per worker */
    wm_int_t requests;      /* keepalive_requests, default 1000 */
    wm_msec_t time;         /* keepalive_time, default 1h */
    wm_msec_t timeout;      /* keepalive_timeout, default 60s */
    wm_int_t nidle;         /* this worker's idle connections */
} wm_http_upstream_keepalive_t;

/* The keepalive settings of g, or NULL when it pools nothing. */
wm_http_upstream_keepalive_t *wm_http_upstream_keepalive(
    const wm_upstream_group_t *g);

/*
 * An idle connection to peer of g from this worker's pool, opened with
 * the transport of key (NULL or empty: plain TCP; TLS connections have
 * a key naming their settings and peer name), or NULL. The
 * caller owns the returned bufferevent (its callbacks are cleared, its
 * timeouts and read watermarks are the pool's, reading is left enabled:
 * the caller sets its callbacks and timeouts before it returns to the
 * loop); *requests and *born (wm_upstream_now()) say
 * how many requests it carried and when it was opened.
 */
struct bufferevent *wm_http_upstream_get(const wm_upstream_group_t *g,
                                         const wm_upstream_peer_t *peer,
                                         const wm_str_t *key,
                                         wm_uint_t *requests,
                                         wm_msec_t *born);

/*
 * Offers bev, connected to peer with the transport of key and idle (a response was read whole), to
 * g's pool with the count of requests it carried and its birth time. true
 * when the pool took it (and closes it when the upstream does, sends
 * anything, or it stays idle keepalive_timeout); false when the caller
 * still owns it (no keepalive, too many requests or too old).
 */
bool wm_http_upstream_put(const wm_upstream_group_t *g,
                          const wm_upstream_peer_t *peer, const wm_str_t *key,
                          struct bufferevent *bev, wm_uint_t requests,
                          wm_msec_t born);

/* Frees bev from the loop: it may be on the stack of its own callback. */
void wm_http_upstream_free_later(struct bufferevent *bev);

#endif /* WM_HTTP_UPSTREAM_H */
