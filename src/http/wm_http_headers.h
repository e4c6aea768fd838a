/*
 * The pure part of `expires` (wm_http_headers_module.c): what Expires and
 * Cache-Control say for a mode, a configured time, the clock and the
 * response's Last-Modified. Kept apart so that a unit test can call it.
 */
#ifndef WM_HTTP_HEADERS_H
#define WM_HTTP_HEADERS_H

#include "wm_core.h"

#include <time.h>

/* The forms of `expires`. */
typedef enum {
    WM_HTTP_EXPIRES_OFF = 0,
    WM_HTTP_EXPIRES_ACCESS,   /* expires [-]time: from now */
    WM_HTTP_EXPIRES_MODIFIED, /* expires modified [-]time */
    WM_HTTP_EXPIRES_DAILY,    /* expires @hh[h]mm[m]: next local time */
    WM_HTTP_EXPIRES_EPOCH,
    WM_HTTP_EXPIRES_MAX,
} wm_http_expires_mode_t;

/*
 * Computes the header values of `expires` as nginx does: *expires is the
 * time for the Expires header and *max_age the max-age of Cache-Control,
 * or -1 for "no-cache" (a negative configured time, a time already past,
 * or epoch). `time` is the configured seconds (for DAILY, seconds after
 * local midnight); last_modified is -1 when the response has none (then
 * MODIFIED counts from now). For MAX, *expires is -1: the caller writes
 * nginx's fixed "Thu, 31 Dec 2037 23:55:55 GMT". Not for OFF.
 */
void wm_http_expires_compute(wm_http_expires_mode_t mode, time_t time,
                             time_t now, time_t last_modified,
                             time_t *expires, time_t *max_age);

#endif /* WM_HTTP_HEADERS_H */
