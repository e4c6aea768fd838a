/*
 * Active health checks of upstream groups (the `health_check` of NGINX
 * Plus): the settings of a group's check, the lease and the verdicts kept
 * in the group's shared zone next to its passive-health state, and the
 * driver that runs checks in the workers' event loops so that exactly one
 * process checks a given peer at a time.
 *
 * What a check does is a wm_health_type_t, a table of hooks (connect,
 * send, verdict): plain TCP connect checks and the stream `match` checks
 * over TCP and UDP are in wm_health_match.c; the HTTP proxy adds its own
 * type (request line, status, headers, body) without touching the driver.
 */
#ifndef WM_HEALTH_H
#define WM_HEALTH_H

#include "wm_core.h"
#include "wm_balance.h"
#include "wm_conf.h"
#include "wm_log.h"
#include "wm_tls_client.h"
#include "wm_upstream.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <sys/socket.h>

/* Defaults of `health_check` (those of NGINX Plus; the timeout is that of
 * its health_check_timeout). */
#define WM_HEALTH_INTERVAL 5000
#define WM_HEALTH_TIMEOUT 5000
#define WM_HEALTH_FAILS 1
#define WM_HEALTH_PASSES 1

/* A check reads at most this much of a reply before giving its verdict. */
#define WM_HEALTH_READ_MAX 16384

/* A lease outlives the check's timeout by this much: a process that
 * died holding it is replaced once it expires. */
#define WM_HEALTH_LEASE_GRACE 1000

typedef enum {
    WM_HEALTH_MORE = 0, /* undecided: wait for more */
    WM_HEALTH_PASS,
    WM_HEALTH_FAIL,
} wm_health_verdict_t;

/* What a verdict hook is told about. */
typedef enum {
    WM_HEALTH_EV_SENT, /* connected, and the request (if any) was sent */
    WM_HEALTH_EV_DATA, /* bytes arrived */
    WM_HEALTH_EV_EOF,  /* the peer closed, or the read limit was reached:
                          nothing more will come, MORE counts as FAIL */
} wm_health_event_t;

/* How a check changed the peer's verdict, from wm_health_record(). */
typedef enum {
    WM_HEALTH_SAME = 0,
    WM_HEALTH_WENT_DOWN,
    WM_HEALTH_WENT_UP,
} wm_health_transition_t;

typedef struct wm_health_probe_s wm_health_probe_t;

/*
 * A kind of check. The driver calls connect once; when the transport is
 * connected it calls send to fill the request, writes it, then calls
 * verdict on each event until it returns PASS or FAIL. A timeout, a
 * transport error or MORE at EOF is a failure. The hooks never free the
 * probe; they may set p->data (freed by the type's own cleanup hook) and
 * p->reason (a static phrase for the log of a FAIL).
 */
typedef struct {
    const char *name; /* "tcp", "udp", "http": for logs */
    /*
     * Opens a non-blocking connection to p->sockaddr in p->base: either
     * p->bev (a stream: bufferevent_socket_connect(), or TLS later) whose
     * callbacks the driver then sets, or p->fd (a connected datagram
     * socket). WM_OK when under way, WM_DECLINED when it failed at once
     * (errno-style code in p->err), WM_ERROR on a local failure.
     */
    wm_int_t (*connect)(wm_health_probe_t *p);
    /* Appends the request to out (nothing for a connect-only check); for
     * a datagram transport out is sent as one datagram. WM_OK or
     * WM_ERROR. */
    wm_int_t (*send)(wm_health_probe_t *p, struct evbuffer *out);
    /* Judges the check so far. For a stream, in holds every byte read
     * (at most WM_HEALTH_READ_MAX); for a datagram, the last datagram. */
    wm_health_verdict_t (*verdict)(wm_health_probe_t *p, wm_health_event_t ev,
                                   struct evbuffer *in);
    /* Frees p->data; may be NULL. */
    void (*cleanup)(wm_health_probe_t *p);
} wm_health_type_t;

/*
 * The `health_check` of a group, in the cycle's pool. The family's
 * directive creates it with wm_health_conf_new(), parses the common
 * parameters with wm_health_parse_param(), and before the configuration
 * is complete sets type and type_conf (see wm_health_match_resolve()).
 */
struct wm_health_conf_s {
    wm_msec_t interval; /* between the end of a check and the next start */
    wm_msec_t jitter;   /* each start delayed by a random part of it */
    wm_msec_t timeout;  /* for the whole check: connect, send, reply */
    uint32_t fails;     /* consecutive failures that make a peer down */
    uint32_t passes;    /* consecutive passes that make it up again */
    int port;           /* 0: the peer's own */
    wm_str_t match;     /* match=NAME, empty when none */
    const wm_health_type_t *type;
    const void *type_conf; /* the type's: a wm_health_match_t * or NULL */
    const char *file;      /* the directive, for errors */
    unsigned line;
    unsigned udp : 1;      /* `udp` (stream) */
    /* Set by the family: checks over TLS with these client settings,
     * sending tls_name as SNI (when they say so) and verifying the
     * certificate against it (when they say so); NULL: plain. */
    const wm_tls_client_conf_t *tls;
    const char *tls_name;
};

/*
 * One running check of one peer, owned by the driver (malloc, freed from
 * the event loop once the verdict is in). Types read the public part.
 */
struct wm_health_probe_s {
    const wm_health_conf_t *conf;
    const wm_upstream_group_t *group;
    const wm_upstream_peer_t *peer;
    struct sockaddr_storage sockaddr; /* the peer's, with port= applied */
    socklen_t socklen;
    struct event_base *base;
    struct bufferevent *bev; /* a stream transport */
    int fd;                  /* a datagram transport, -1 when none */
    int err;                 /* errno of a failed connect */
    const char *reason;      /* why the verdict is FAIL */
    void *data;              /* the type's */
    wm_log_t log;            /* `while checking health, upstream: ...` */

    /* The driver's. */
    struct wm_health_group_s *hg;
    uint32_t index;          /* of the peer in the group */
    wm_msec_t lease;         /* the value of hc_next this check holds */
    struct event *ev;        /* datagram readiness */
    struct event *timer;     /* the timeout */
    struct evbuffer *in;     /* datagram: the last one */
    wm_health_probe_t *next_dead; /* finished, waiting to be freed */
    unsigned connected : 1;
    unsigned sent : 1;
    unsigned done : 1;
};

/*
 * A `match name { send ...; expect ...; }` block of the stream family.
 * send and expect hold bytes with the escapes decoded.
 */
typedef struct {
    wm_str_t name;
    const char *file;
    unsigned line;
    wm_str_t send;   /* data NULL: no `send` */
    wm_str_t expect; /* the literal, data NULL when none */
    void *regex;     /* the compiled `expect ~ re` (pcre2_code), or NULL */
    unsigned has_expect : 1;
} wm_health_match_t;

/* ---- configuration ---------------------------------------------------- */

/* A conf with the defaults, in pool; NULL when out of memory. */
wm_health_conf_t *wm_health_conf_new(wm_pool_t *pool);

/*
 * Parses one parameter common to every family: interval=T, jitter=T,
 * fails=N, passes=N, timeout=T, port=N, match=NAME. WM_OK when it was one
 * of them, WM_DECLINED when it is not (the family may know it: `udp`,
 * `uri=`), WM_ERROR with `invalid parameter "fails=0"` in err.
 */
wm_int_t wm_health_parse_param(wm_health_conf_t *hc, const wm_str_t *arg,
                               char *err, size_t errlen);

/*
 * Decodes the escapes of a `send` or `expect` string: \r \n \t \\ and
 * \xHH (two hex digits); any other backslash stays as it is. The result
 * is in pool. WM_OK, or WM_ERROR with `invalid escape "\x4"` in err.
 */
wm_int_t wm_health_unescape(const wm_str_t *in, wm_pool_t *pool,
                            wm_str_t *out, char *err, size_t errlen);

/* A new match block named name (copied), in pool; NULL when out of
 * memory. */
wm_health_match_t *wm_health_match_new(wm_pool_t *pool, const wm_str_t *name);

/* The match named name among matches (wm_health_match_t *), or NULL. */
wm_health_match_t *wm_health_match_find(const wm_array_t *matches,
                                        const wm_str_t *name);

/* Directive setters inside a match block; conf is its wm_health_match_t.
 * `send "string"`, `expect "string"`, `expect ~ "regex"` and
 * `expect ~* "regex"` (case-insensitive). */
const char *wm_health_match_set_send(wm_conf_t *cf, const wm_command_t *cmd,
                                     void *conf);
const char *wm_health_match_set_expect(wm_conf_t *cf, const wm_command_t *cmd,
                                       void *conf);

/*
 * Completes the stream `health_check` of g once every match block is
 * known: the zone it requires, the match it names, and its type (TCP or,
 * with `udp`, UDP). NULL, or an error message (in err) to report at
 * hc->file:hc->line. Sets a type even on error, so it is run once.
 */
const char *wm_health_match_resolve(wm_upstream_group_t *g,
                                    const wm_array_t *matches, char *err,
                                    size_t errlen);

/*
 * The stream match test, pure: data (len bytes) against m's expect. A
 * literal must be the first bytes of the reply; a regex may match
 * anywhere in it. PASS, FAIL, or MORE when more bytes could still decide
 * (never when final).
 */
wm_health_verdict_t wm_health_match_test(const wm_health_match_t *m,
                                         const u_char *data, size_t len,
                                         bool final);

/* The stream check types: a TCP connect with an optional match, and a
 * UDP exchange with a match. */
extern const wm_health_type_t wm_health_tcp_type;
extern const wm_health_type_t wm_health_udp_type;

/* The transports, for a type's connect hook: a TCP (or unix) stream as a
 * bufferevent, the way the proxy connects; a connected datagram socket. */
wm_int_t wm_health_connect_stream(wm_health_probe_t *p);
wm_int_t wm_health_connect_dgram(wm_health_probe_t *p);

/* ---- the shared state, lock-free ---------------------------------------- */

/*
 * Claims the next check of peer p at now: true when its lease had
 * expired (hc_next <= now) and this caller moved it to lease; false when
 * another process holds it or claimed it first.
 */
bool wm_health_claim(wm_balance_peer_t *p, wm_msec_t now, wm_msec_t lease);

/*
 * Ends a check that claimed lease: sets the next start to next. False when
 * the lease was lost meanwhile (it expired and another process claimed
 * it): then the result must not be recorded.
 */
bool wm_health_release(wm_balance_peer_t *p, wm_msec_t lease, wm_msec_t next);

/*
 * Counts one result (PASS or FAIL) of the lease holder: after hc->fails
 * consecutive failures an up peer goes down, after hc->passes consecutive
 * passes a down peer goes up. Tells which transition happened.
 */
wm_health_transition_t wm_health_record(wm_balance_peer_t *p,
                                        const wm_health_conf_t *hc,
                                        wm_health_verdict_t v);

/* ---- run time ----------------------------------------------------------- */

/*
 * In a worker: arms one timer per group of umcf that has a health_check;
 * each tick claims the due checks of the group's peers and runs them.
 * Checks stop when the worker starts to quit or exits. WM_OK or WM_ERROR
 * (out of memory, logged).
 */
wm_int_t wm_health_start(wm_cycle_t *cycle,
                         const wm_upstream_main_conf_t *umcf);

/* Stops every check of this process and gives back the leases it holds,
 * so that another process takes them over at once. */
void wm_health_stop(void);

#endif /* WM_HEALTH_H */
