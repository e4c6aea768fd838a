/*
 * HTTP active health checks: the `health_check` of an http upstream group
 * and the http `match { status ...; header ...; body ...; }` blocks, run
 * by the shared driver of wm_health.c as a check type of their own. A
 * check sends `GET uri HTTP/1.1` with the group's name as Host, reads the
 * response head with the strict upstream response parser and, when the
 * match tests the body, the body up to the driver's read bound.
 *
 * The match test is a pure function of a parsed response, so that unit
 * tests call it directly.
 */
#ifndef WM_HTTP_HEALTH_H
#define WM_HTTP_HEALTH_H

#include "wm_core.h"
#include "wm_conf.h"
#include "wm_health.h"
#include "wm_http_parse.h"
#include "wm_pool.h"

/* Ranges a `status` line may list at most (its arguments but `!`). */
#define WM_HTTP_HEALTH_RANGES 16

/* One `status [!] code|lo-hi ...` line: holds when the status is in one
 * of the ranges, or, negated, in none of them. */
typedef struct wm_http_health_status_s {
    struct wm_http_health_status_s *next;
    size_t nranges;
    struct {
        uint16_t lo, hi;
    } range[WM_HTTP_HEALTH_RANGES];
    unsigned negate : 1;
} wm_http_health_status_t;

/* What a `header` or `body` line tests. */
typedef enum {
    WM_HTTP_HEALTH_PRESENT = 0, /* header Name */
    WM_HTTP_HEALTH_ABSENT,      /* header ! Name */
    WM_HTTP_HEALTH_EQ,          /* header Name = value */
    WM_HTTP_HEALTH_NE,          /* header Name != value */
    WM_HTTP_HEALTH_RE,          /* ~ regex, ~* regex */
    WM_HTTP_HEALTH_NRE,         /* !~ regex, !~* regex */
} wm_http_health_op_t;

/* One `header` or `body` line. */
typedef struct wm_http_health_cond_s {
    struct wm_http_health_cond_s *next;
    wm_http_health_op_t op;
    wm_str_t name;  /* the header's; empty for body */
    wm_str_t value; /* EQ and NE */
    void *regex;    /* RE and NRE: a pcre2_code */
} wm_http_health_cond_t;

/* An http `match name { ... }` block: every line must hold. */
typedef struct {
    wm_str_t name;
    const char *file;
    unsigned line;
    wm_http_health_status_t *status;
    wm_http_health_cond_t *header;
    wm_http_health_cond_t *body;
} wm_http_health_match_t;

/* The type_conf of an http group's check. */
typedef struct {
    wm_str_t uri;                        /* uri=, "/" by default */
    wm_str_t host;                       /* the Host header: the group's name */
    const wm_http_health_match_t *match; /* NULL: 2xx and 3xx pass */
    unsigned resolved : 1;
} wm_http_health_conf_t;

/* ---- pure parts (wm_http_health_match.c) ------------------------------- */

/*
 * Parses the arguments of `status`: an optional leading "!" then codes
 * (100-599) and ranges lo-hi. WM_OK, or WM_ERROR with
 * `invalid status "600"` in err.
 */
wm_int_t wm_http_health_parse_status(const wm_str_t *args, size_t nargs,
                                     wm_http_health_status_t *s, char *err,
                                     size_t errlen);

/*
 * Parses the arguments of `header` (body 0) or `body` (body 1) into c:
 * `Name`, `! Name`, `Name = v`, `Name != v`, `Name ~ re`, `Name !~ re`
 * (and ~*, !~*, case-insensitive); `body ~ re` and `body !~ re` (and
 * the ~* forms). A regex is compiled and freed with pool. WM_OK, or
 * WM_ERROR with the message in err.
 */
wm_int_t wm_http_health_parse_cond(const wm_str_t *args, size_t nargs,
                                   bool body, wm_pool_t *pool,
                                   wm_http_health_cond_t *c, char *err,
                                   size_t errlen);

/* Whether m tests the body (then the check reads it). */
bool wm_http_health_wants_body(const wm_http_health_match_t *m);

/*
 * Judges a response: st its parsed final head, body the first len bytes
 * of its (decoded) body. Without a match, a 2xx or 3xx status passes.
 * NULL when it passes, else a static phrase naming the first line that
 * does not hold ("status 503", "header", "body") for the log.
 */
const char *wm_http_health_test(const wm_http_health_match_t *m,
                                const wm_http_status_t *st, const u_char *body,
                                size_t len);

/* ---- configuration and the check type (wm_http_health.c) --------------- */

/* `health_check` in an http upstream block; conf is the group. */
const char *wm_http_health_check(wm_conf_t *cf, const wm_command_t *cmd,
                                 void *conf);

/* `match name { ... }` in http; conf is the upstream main conf, module
 * the one whose table has status/header/body. */
const char *wm_http_health_match_block(wm_conf_t *cf, const wm_module_t *module,
                                       wm_upstream_main_conf_t *umcf);

/* `status`, `header` and `body` in an http match block. */
const char *wm_http_health_set_status(wm_conf_t *cf, const wm_command_t *cmd,
                                      void *conf);
const char *wm_http_health_set_cond(wm_conf_t *cf, const wm_command_t *cmd,
                                    void *conf);

/*
 * Completes the checks of umcf's groups not completed yet: the zone they
 * require and the match they name. Errors go to cf at their directive
 * when cf is given, else the first one is returned.
 */
const char *wm_http_health_resolve(wm_conf_t *cf,
                                   wm_upstream_main_conf_t *umcf);

extern const wm_health_type_t wm_http_health_type;

#endif /* WM_HTTP_HEALTH_H */
