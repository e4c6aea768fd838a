/*
 * Upstream groups: the `upstream name { ... }` block of any family (stream
 * now, http later) parsed into a set of peers, their balancer and their
 * run-time state, private to each worker or kept in a shared-memory zone
 * that survives reloads. Callers pick a peer per session, connect to it by
 * whatever transport they use, and release it with the outcome.
 */
#ifndef WM_UPSTREAM_H
#define WM_UPSTREAM_H

#include "wm_core.h"
#include "wm_balance.h"
#include "wm_conf.h"
#include "wm_log.h"
#include "wm_pool.h"
#include "wm_shm.h"
#include "wm_var.h"

#include <sys/socket.h>

/* `weight=` is bounded so that a consistent-hash ring (160 points per unit
 * of weight) stays small. */
#define WM_UPSTREAM_MAX_WEIGHT 10000

/* Peers reserved for each `server name resolve` line: the most addresses
 * the name may have at once (the rest are ignored, with a warning). */
#define WM_UPSTREAM_RESOLVE_SLOTS 8

/* `resolver_timeout` when none is given (nginx's). */
#define WM_RESOLVER_TIMEOUT 30000

/* The size of a `zone` that no group of it gives a size to. */
#define WM_UPSTREAM_ZONE_SIZE 65536

typedef enum {
    WM_UPSTREAM_RR = 0,     /* the default: smooth weighted round robin */
    WM_UPSTREAM_LEAST_CONN, /* `least_conn` */
    WM_UPSTREAM_HASH,       /* `hash KEY` */
    WM_UPSTREAM_CHASH,      /* `hash KEY consistent` */
    WM_UPSTREAM_RANDOM,     /* `random` */
    WM_UPSTREAM_RANDOM_TWO, /* `random two [least_conn]` */
} wm_upstream_method_t;

/*
 * One `server` line as written, before its host is resolved. addr is a
 * slice of the directive's first argument. Produced by
 * wm_upstream_parse_server(), a pure function.
 */
typedef struct {
    wm_str_t addr;      /* "10.0.0.1:80", "name:80", "unix:/p" */
    uint32_t weight;    /* 1 .. WM_UPSTREAM_MAX_WEIGHT */
    uint32_t max_fails; /* 0: failures never disable */
    uint32_t max_conns; /* 0: unlimited */
    wm_msec_t fail_timeout;
    unsigned backup : 1;
    unsigned down : 1;
    unsigned resolve : 1; /* `resolve`: re-resolved at run time */
    char *host;           /* resolve only: the name, NUL-terminated */
    int port;             /* resolve only */
} wm_upstream_server_t;

/*
 * An address as the shared zone keeps it: plain data. flags has
 * WM_UPSTREAM_SADDR_RESOLVE on the slots of a `resolve` server, whose
 * address the resolver rewrites (socklen 0: the slot is empty).
 */
#define WM_UPSTREAM_SADDR_RESOLVE 1
typedef struct {
    uint32_t socklen;
    uint32_t flags;
    struct sockaddr_storage sockaddr;
} wm_upstream_saddr_t;

/* `resolver address ... [valid=time] [ipv6=on|off]` with its
 * `resolver_timeout`; in the cycle's pool. */
typedef struct {
    wm_upstream_saddr_t *addrs; /* the name servers */
    uint32_t naddrs;
    wm_msec_t valid; /* 0: the answer's TTL */
    wm_msec_t timeout;
    bool ipv6;
} wm_resolver_conf_t;

/*
 * One peer: one address of one `server` line (a name that resolves to
 * three addresses gives three peers). Process-local, in the cycle's pool;
 * its index in the group's peer[] is its index in the balancer's state.
 */
typedef struct {
    struct sockaddr_storage sockaddr;
    socklen_t socklen;
    wm_str_t name; /* "10.0.0.1:80", NUL-terminated: logs; an empty
                      resolve slot has the text of its server line */
    const wm_upstream_server_t *server; /* the line it came from */
} wm_upstream_peer_t;

typedef struct wm_upstream_group_s wm_upstream_group_t;
typedef struct wm_health_conf_s wm_health_conf_t; /* wm_health.h */

/*
 * An upstream group. Built while its block is parsed, completed by
 * wm_upstream_group_init(); everything here lives in the cycle's pool. The
 * run-time state (`state`) is `local` for a group without `zone`, or a copy
 * in the zone once the master created it (NULL before, and under -t).
 */
struct wm_upstream_group_s {
    wm_str_t name;    /* NUL-terminated */
    const char *file; /* where it is defined, for errors */
    unsigned line;
    const wm_var_def_t *const *vars; /* the family's, for the hash key */
    wm_pool_t *pool;                 /* the cycle's */
    wm_upstream_method_t method;
    wm_cv_t hash_key;         /* `hash KEY` */
    wm_array_t servers;       /* wm_upstream_server_t *, config order */
    wm_array_t addrs;         /* resolved, before init: see the .c */
    wm_upstream_peer_t *peer; /* npeers: primaries, then backups */
    uint32_t npeers;
    uint32_t nprimary;
    wm_balance_group_t *local; /* configuration, and the private state */
    wm_balance_group_t *state; /* what selects run on */
    wm_hash_ring_t *ring;      /* `hash KEY consistent` only */
    wm_str_t zone_name;        /* empty without `zone` */
    size_t zone_size;          /* 0 when `zone` gave none */
    wm_shm_zone_t *zone;       /* NULL without `zone` */
    void *data;                /* the family's own settings of the group
                                  (http: keepalive), NULL when none */
    wm_health_conf_t *health;  /* `health_check`, NULL without */
    wm_resolver_conf_t *resolver; /* the block's own `resolver`, or NULL */
    wm_msec_t resolver_timeout;   /* the block's own, 0 when none */
    wm_upstream_saddr_t *saddrs;  /* npeers, in the zone: the addresses
                                     the resolver writes; NULL before the
                                     zone exists */
    unsigned generation;          /* of saddrs copied into peer[] */
    unsigned nresolve;            /* `resolve` servers */
    int default_port;             /* implicit: of a text without a port
                                     (http:// 80, https:// 443) */
    unsigned method_set : 1;
    unsigned implicit : 1; /* made from a proxy_pass address */
    unsigned ready : 1;    /* wm_upstream_group_init() succeeded */
};

/* The groups of one family: the main conf of its upstream module. */
typedef struct {
    wm_array_t groups;  /* wm_upstream_group_t * */
    wm_array_t matches; /* the family's `match` blocks (wm_health.h) */
    wm_resolver_conf_t *resolver; /* the family block's `resolver` */
    wm_msec_t resolver_timeout;   /* 0 when not given */
} wm_upstream_main_conf_t;

/* ---- configuration ---------------------------------------------------- */

/* A new, empty group named name (copied) in pool; vars are the family's
 * variable tables for `hash KEY`. NULL when out of memory. */
wm_upstream_group_t *wm_upstream_group_new(wm_pool_t *pool,
                                           const wm_str_t *name,
                                           const wm_var_def_t *const *vars);

/* True when arg is `key=VALUE` (key given with its `=`), with VALUE in
 * *value: the form of parameters of `server` and `health_check`. */
bool wm_upstream_param(const wm_str_t *arg, const char *key, wm_str_t *value);

/*
 * Parses the arguments of a `server` line: args[0] is the address, the
 * rest are parameters (weight=N, max_fails=N, fail_timeout=TIME,
 * max_conns=N, backup, down). Pure: nothing is resolved. WM_OK, or
 * WM_ERROR with a message such as `invalid parameter "weight=0"` in err.
 */
wm_int_t wm_upstream_parse_server(const wm_str_t *args, size_t nargs,
                                  wm_upstream_server_t *srv, char *err,
                                  size_t errlen);

/*
 * Parses a `server` line and resolves its address now (blocking
 * getaddrinfo: call it only while a config is loaded), adding one peer per
 * address, IPv4 first. default_port is used when the address has none (0:
 * a port is required). WM_OK, or WM_ERROR with `host not found in upstream
 * "x:80"`, `no port in upstream "x"` or a parameter error in err.
 */
wm_int_t wm_upstream_add_server(wm_upstream_group_t *g, const wm_str_t *args,
                                size_t nargs, int default_port, char *err,
                                size_t errlen);

/*
 * Completes g once its block is parsed: orders the peers (primaries,
 * backups), builds the configuration and private state, the hash ring,
 * and declares its zone in cycle with owner tag (the family's upstream
 * module). WM_OK, or WM_ERROR with the message in err ("no servers are
 * inside upstream", a zone used by another module or with two sizes).
 */
wm_int_t wm_upstream_group_init(wm_cycle_t *cycle, wm_upstream_group_t *g,
                                const void *tag, char *err, size_t errlen);

/*
 * Checks the zones of cycle owned by tag, once the whole configuration is
 * parsed: gives WM_UPSTREAM_ZONE_SIZE to those without a size and checks
 * that each holds its groups. NULL, or an error message (cycle pool).
 */
const char *wm_upstream_init_zones(wm_cycle_t *cycle, const void *tag);

/* The group named name among the explicit (`upstream {}`) groups of umcf,
 * or NULL. */
wm_upstream_group_t *wm_upstream_find(const wm_upstream_main_conf_t *umcf,
                                      const wm_str_t *name);

/*
 * The implicit group of an address (`proxy_pass host:port`): every address
 * the name resolves to, with the default server parameters and private
 * state; one group per distinct text and default_port, shared by the
 * servers that name it (`http://h` and `https://h` are two groups, as in
 * nginx). default_port is used when the text has none (0: a port is
 * required). A
 * host that names an explicit group is an error (`upstream "x" may not
 * have port 80`). NULL with err set.
 */
wm_upstream_group_t *
wm_upstream_implicit(wm_cycle_t *cycle, wm_upstream_main_conf_t *umcf,
                     const wm_str_t *addr, int default_port,
                     const wm_var_def_t *const *vars, char *err, size_t errlen);

/*
 * Directive setters for a family's upstream module; conf is the
 * wm_upstream_group_t of the block. `server` takes cmd->post as a const
 * int * default port (NULL: a port is required).
 */
const char *wm_upstream_set_server(wm_conf_t *cf, const wm_command_t *cmd,
                                   void *conf);
const char *wm_upstream_set_least_conn(wm_conf_t *cf, const wm_command_t *cmd,
                                       void *conf);
const char *wm_upstream_set_hash(wm_conf_t *cf, const wm_command_t *cmd,
                                 void *conf);
const char *wm_upstream_set_random(wm_conf_t *cf, const wm_command_t *cmd,
                                   void *conf);
const char *wm_upstream_set_zone(wm_conf_t *cf, const wm_command_t *cmd,
                                 void *conf);

/*
 * The shared part of a family's upstream module. wm_upstream_main_create()
 * is its create_conf: one wm_upstream_main_conf_t for the whole block,
 * also stored in cycle->conf[module->index] so that proxy_pass finds the
 * groups once the block is parsed; other levels get the same pointer.
 * wm_upstream_block() is the setter of `upstream name { }`: a new group
 * whose directives (context ctx) write into it as the WM_LVL_SRV conf of
 * module, completed by wm_upstream_group_init() with module as the zone
 * owner. Errors are reported at their lines; both return NULL as setters.
 * wm_upstream_walk() applies the directives of the block at cf->node in
 * context ctx, each writing into conf as the WM_LVL_SRV conf of module (a
 * group, a health-check match): WM_ERROR when out of memory, errors in
 * the block counted in cf.
 */
void *wm_upstream_main_create(wm_conf_t *cf, unsigned level,
                              const wm_module_t *module);
const char *wm_upstream_block(wm_conf_t *cf, wm_upstream_main_conf_t *umcf,
                              const wm_module_t *module, uint32_t ctx,
                              const wm_var_def_t *const *vars);
wm_int_t wm_upstream_walk(wm_conf_t *cf, const wm_module_t *module,
                          uint32_t ctx, void *conf);

/* ---- run time --------------------------------------------------------- */

/* How a connection to a picked peer ended, for wm_upstream_release(). */
typedef enum {
    WM_UPSTREAM_OK = 0,  /* it worked: clears passive failures */
    WM_UPSTREAM_FAILED,  /* connect failed or timed out */
    WM_UPSTREAM_ABORTED, /* given up for another reason: no verdict */
} wm_upstream_result_t;

/*
 * The balancing state of one session or request: which peers it tried and
 * the one it holds. Lives in the caller's memory (pool of the session).
 */
typedef struct {
    wm_upstream_group_t *group;
    uint64_t *tried;            /* WM_BALANCE_TRIED_WORDS(npeers) words */
    uint32_t hash;              /* of the hash key */
    wm_uint_t tries;            /* peers picked so far */
    wm_int_t current;           /* index of the held peer, -1 when none */
    wm_balance_reason_t reason; /* why the last pick found none */
} wm_upstream_pick_t;

/*
 * Prepares pk for a session r of g's family: the tried bitmap from pool
 * and, for `hash`, the key evaluated for r. WM_OK or WM_ERROR (out of
 * memory).
 */
wm_int_t wm_upstream_pick_init(wm_upstream_pick_t *pk, wm_upstream_group_t *g,
                               void *r, wm_pool_t *pool);

/*
 * Picks a peer with g's method among those not tried, under the zone's
 * lock when g has a zone. The peer is held (it counts in least_conn and
 * max_conns) until wm_upstream_release(), which the caller owes once per
 * successful pick; pk must hold no peer. NULL when none is available, with
 * the reason in pk->reason (wm_balance_reason_text() for the log).
 */
const wm_upstream_peer_t *wm_upstream_pick(wm_upstream_pick_t *pk);

/* The peer pk holds, or NULL. */
const wm_upstream_peer_t *wm_upstream_current(const wm_upstream_pick_t *pk);

/*
 * Gives back the held peer (no-op when none) with the outcome of its
 * connection. A failure counts towards max_fails (shared by all workers
 * with `zone`) and marks the peer tried for pk; when the peer reaches
 * max_fails, `upstream server temporarily disabled` is logged at warn
 * through log (so with the caller's context and action).
 */
void wm_upstream_release(wm_upstream_pick_t *pk, wm_upstream_result_t result,
                         wm_log_t *log);

/*
 * The transport step shared by the proxies: starts a non-blocking TCP or
 * unix-socket connection to peer as a new bufferevent of base (which owns
 * the socket), with timeout (msec) as its write timeout until the caller
 * changes it; the caller's event callback then sees BEV_EVENT_CONNECTED or
 * the failure. nodelay sets TCP_NODELAY on TCP. fd is a socket the
 * caller made for it (bound by proxy_bind; owned from then on, closed on
 * failure) or -1 for a new one. WM_OK with *bev set;
 * WM_DECLINED when the connection failed at once (errno tells why: the
 * peer is to blame); WM_ERROR on a local failure (out of memory). *bev is
 * NULL unless WM_OK.
 */
struct bufferevent;
struct event_base;
wm_int_t wm_upstream_connect(struct event_base *base,
                             const wm_upstream_peer_t *peer, wm_msec_t timeout,
                             bool nodelay, int fd, struct bufferevent **bev);

/*
 * The same over TLS: ssl (a client SSL without a socket, see
 * wm_tls_client_ssl_new; owned by *bev from then on, freed on failure)
 * runs its handshake once the socket connects, and BEV_EVENT_CONNECTED
 * means the handshake is done (the caller then checks the peer). timeout
 * bounds reading and writing until the caller changes it. An EOF without
 * close_notify is an EOF.
 */
struct ssl_st;
wm_int_t wm_upstream_connect_ssl(struct event_base *base,
                                 const wm_upstream_peer_t *peer,
                                 wm_msec_t timeout, bool nodelay, int fd,
                                 struct ssl_st *ssl, struct bufferevent **bev);

/*
 * Copies the addresses the resolver wrote in the zone into g->peer[] when
 * they changed since the last call (cheap otherwise). The caller holds
 * the zone lock; wm_upstream_pick() does it itself.
 */
void wm_upstream_sync(wm_upstream_group_t *g);

/* The clock of passive health checks: monotonic msec, the same in every
 * process of the machine. */
wm_msec_t wm_upstream_now(void);

#endif /* WM_UPSTREAM_H */
