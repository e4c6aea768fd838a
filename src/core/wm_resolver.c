/*
 * Re-resolution of `server name resolve` lines. Each such line owns
 * WM_UPSTREAM_RESOLVE_SLOTS peers in its group's zone; the resolver fills
 * and empties them. Every worker arms one timer; a tick claims the due
 * names through a lease in the zone (resolve_next of a line's first slot,
 * moved with a CAS, as health checks do), asks evdns for A (and AAAA)
 * records, and the holder writes the answer into the slots under the zone
 * lock. The balancers of all workers copy the new addresses at their next
 * pick (wm_upstream_sync()).
 */
#include "wm_resolver.h"

#include "wm_cycle.h"
#include "wm_listen.h"
#include "wm_process.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>

/* How often a worker looks for due names. */
#define WM_RESOLVER_TICK 250

/* Extra time a lease lasts beyond the query timeout. */
#define WM_RESOLVER_LEASE_GRACE 1000

/* One `resolve` server line in this worker. */
typedef struct wm_resolver_task_s {
    wm_upstream_group_t *group;
    const wm_upstream_server_t *server;
    const wm_resolver_conf_t *conf;
    struct evdns_base *dns; /* the group's */
    bool own_dns;           /* this task frees dns */
    uint32_t first;         /* its slots in the group's peers */
    uint32_t nslots;
    wm_msec_t lease; /* the lease held while queries run, 0: none */
    int pending;     /* queries without an answer yet */
    int error;       /* the first DNS_ERR_* of this round, 0: none */
    int ttl;         /* the smallest TTL of the answers */
    uint32_t naddrs;
    wm_upstream_saddr_t addrs[2 * WM_UPSTREAM_RESOLVE_SLOTS];
    struct wm_resolver_task_s *next;
} wm_resolver_task_t;

static struct {
    wm_resolver_task_t *tasks;
    struct event *timer;
    bool hooked;
} wm_resolver;

/* ---- configuration ---------------------------------------------------- */

wm_int_t
wm_resolver_parse(wm_pool_t *pool, const wm_str_t *args, size_t nargs,
                  wm_resolver_conf_t **out, char *err, size_t errlen)
{
    wm_resolver_conf_t *rc;
    wm_str_t v;
    size_t i;

    rc = wm_pcalloc(pool, sizeof(*rc));
    if (rc == NULL
        || (rc->addrs = wm_pcalloc(pool, nargs * sizeof(*rc->addrs))) == NULL)
    {
        snprintf(err, errlen, "out of memory");
        return WM_ERROR;
    }
    rc->ipv6 = true;
    rc->timeout = WM_RESOLVER_TIMEOUT;

    for (i = 0; i < nargs; i++) {
        const wm_str_t *a = &args[i];

        if (wm_upstream_param(a, "valid=", &v)) {
            rc->valid = wm_parse_msec(&v);
            if (rc->valid <= 0) {
                goto invalid;
            }
        } else if (wm_upstream_param(a, "ipv6=", &v)) {
            if (wm_str_eq(&v, "on")) {
                rc->ipv6 = true;
            } else if (wm_str_eq(&v, "off")) {
                rc->ipv6 = false;
            } else {
                goto invalid;
            }
        } else {
            wm_upstream_saddr_t *sa = &rc->addrs[rc->naddrs];
            struct sockaddr_storage ss;
            socklen_t len;
            char perr[WM_CONF_ERRLEN];

            if (a->len >= 5 && memcmp(a->data, "unix:", 5) == 0) {
                goto invalid;
            }
            if (wm_listen_parse_addr(a, 53, &ss, &len, perr, sizeof(perr))
                != WM_OK) {
                snprintf(err, errlen, "invalid address \"%.*s\": %s",
                         (int) a->len, (const char *) a->data, perr);
                return WM_ERROR;
            }
            if (wm_sockaddr_is_wildcard((const struct sockaddr *) &ss)) {
                goto invalid;
            }
            memcpy(&sa->sockaddr, &ss, len);
            sa->socklen = len;
            rc->naddrs++;
        }
    }
    if (rc->naddrs == 0) {
        snprintf(err, errlen, "no name server address");
        return WM_ERROR;
    }
    *out = rc;
    return WM_OK;

invalid:
    snprintf(err, errlen, "invalid parameter \"%.*s\"", (int) args[i].len,
             (const char *) args[i].data);
    return WM_ERROR;
}

/* The common part of the setters: *slot gets the parsed conf, unless the
 * directive is in a server block (checked, kept nowhere). */
static const char *
wm_resolver_set_at(wm_conf_t *cf, wm_resolver_conf_t **slot)
{
    const wm_conf_node_t *n = cf->node;
    wm_resolver_conf_t *rc;
    char err[WM_CONF_ERRLEN];

    if (wm_resolver_parse(cf->pool, n->args, n->nargs, &rc, err, sizeof(err))
        != WM_OK)
    {
        return wm_conf_errf(cf, "has %s", err);
    }
    if (slot == NULL) {
        return NULL;
    }
    if (*slot != NULL) {
        return "is duplicate";
    }
    *slot = rc;
    return NULL;
}

static const char *
wm_resolver_set_timeout_at(wm_conf_t *cf, wm_msec_t *slot)
{
    const wm_str_t *v = &cf->node->args[0];
    wm_msec_t t = wm_parse_msec(v);

    if (t <= 0) {
        return wm_conf_errf(cf, "has invalid value \"%s\"",
                            (const char *) v->data);
    }
    if (slot == NULL) {
        return NULL;
    }
    if (*slot != 0) {
        return "is duplicate";
    }
    *slot = t;
    return NULL;
}

/* True in a server or location block, where upstream groups, shared by
 * all servers, do not look. */
static bool
wm_resolver_in_server(const wm_conf_t *cf)
{
    return (cf->ctx
            & (WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC | WM_CTX_STREAM_SRV
               | WM_CTX_HTTP_LIF | WM_CTX_HTTP_SIF))
           != 0;
}

const char *
wm_resolver_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_upstream_main_conf_t *umcf = conf;

    return wm_resolver_set_at(cf, wm_resolver_in_server(cf) ? NULL
                                                            : &umcf->resolver);
}

const char *
wm_resolver_set_timeout(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_upstream_main_conf_t *umcf = conf;

    return wm_resolver_set_timeout_at(
        cf, wm_resolver_in_server(cf) ? NULL : &umcf->resolver_timeout);
}

const char *
wm_resolver_set_ups(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_upstream_group_t *g = conf;

    return wm_resolver_set_at(cf, &g->resolver);
}

const char *
wm_resolver_set_ups_timeout(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_upstream_group_t *g = conf;

    return wm_resolver_set_timeout_at(cf, &g->resolver_timeout);
}

const char *
wm_resolver_check(wm_pool_t *pool, const wm_upstream_main_conf_t *umcf)
{
    wm_upstream_group_t **gs;
    size_t i;

    if (umcf == NULL) {
        return NULL;
    }
    gs = umcf->groups.elts;
    for (i = 0; i < umcf->groups.nelts; i++) {
        wm_upstream_group_t *g = gs[i];

        if (g->nresolve != 0 && g->resolver == NULL && umcf->resolver == NULL) {
            return wm_psprintf(pool,
                               "no resolver defined to resolve the servers "
                               "of upstream \"%s\" in %s:%u",
                               (const char *) g->name.data, g->file, g->line);
        }
    }
    return NULL;
}

/* ---- the slots -------------------------------------------------------- */

static bool
wm_resolver_same(const wm_upstream_saddr_t *a, const wm_upstream_saddr_t *b)
{
    return a->socklen == b->socklen
           && memcmp(&a->sockaddr, &b->sockaddr, a->socklen) == 0;
}

/* Fresh run-time state for a slot that gets a new address; conns stays,
 * since connections to its previous address may still be open. */
static void
wm_resolver_reset_peer(wm_balance_peer_t *p)
{
    atomic_store(&p->fails, 0);
    atomic_store(&p->fail_first, 0);
    atomic_store(&p->fail_last, 0);
    atomic_store(&p->checked, 0);
    atomic_store(&p->penalty, 0);
    atomic_store(&p->hc_down, false);
    atomic_store(&p->hc_next, 0);
    atomic_store(&p->hc_fails, 0);
    atomic_store(&p->hc_passes, 0);
    p->current_weight = 0;
}

uint32_t
wm_resolver_update_slots(wm_balance_group_t *b, wm_upstream_saddr_t *sa,
                         uint32_t from, uint32_t n,
                         const wm_upstream_saddr_t *addrs, uint32_t naddrs,
                         bool *changed)
{
    bool keep[WM_UPSTREAM_RESOLVE_SLOTS * 4] = {false};
    bool placed[WM_UPSTREAM_RESOLVE_SLOTS * 4] = {false};
    uint32_t i, j, dropped = 0;
    int pass;

    *changed = false;
    n = wm_min(n, (uint32_t) (sizeof(keep) / sizeof(keep[0])));
    naddrs = wm_min(naddrs, (uint32_t) (sizeof(placed) / sizeof(placed[0])));

    /* Addresses that stay keep their slot. */
    for (j = 0; j < naddrs; j++) {
        for (i = 0; i < n; i++) {
            if (!keep[i] && sa[from + i].socklen != 0
                && wm_resolver_same(&sa[from + i], &addrs[j]))
            {
                keep[i] = true;
                placed[j] = true;
                break;
            }
        }
    }
    /* Addresses that went away leave their slot. */
    for (i = 0; i < n; i++) {
        if (!keep[i] && sa[from + i].socklen != 0) {
            atomic_store(&b->peer[from + i].empty, true);
            sa[from + i].socklen = 0;
            memset(&sa[from + i].sockaddr, 0, sizeof(sa[from + i].sockaddr));
            *changed = true;
        }
    }
    /* New addresses take empty slots, those without connections first. */
    for (j = 0; j < naddrs; j++) {
        uint32_t slot = n;

        if (placed[j]) {
            continue;
        }
        for (pass = 0; pass < 2 && slot == n; pass++) {
            for (i = 0; i < n; i++) {
                if (sa[from + i].socklen == 0
                    && (pass == 1
                        || atomic_load(&b->peer[from + i].conns) == 0))
                {
                    slot = i;
                    break;
                }
            }
        }
        if (slot == n) {
            dropped++;
            continue;
        }
        wm_resolver_reset_peer(&b->peer[from + slot]);
        memcpy(&sa[from + slot].sockaddr, &addrs[j].sockaddr, addrs[j].socklen);
        sa[from + slot].socklen = addrs[j].socklen;
        atomic_store(&b->peer[from + slot].empty, false);
        *changed = true;
    }
    if (*changed) {
        atomic_fetch_add_explicit(&b->generation, 1, memory_order_release);
    }
    return dropped;
}

/* ---- run time --------------------------------------------------------- */

static void wm_resolver_query(wm_resolver_task_t *t, wm_msec_t now);

static void
wm_resolver_release(wm_resolver_task_t *t, wm_msec_t next)
{
    _Atomic int64_t *lease = &t->group->state->peer[t->first].resolve_next;
    int64_t held = t->lease;

    /* A lost lease (it expired and another process took it) stays theirs. */
    atomic_compare_exchange_strong_explicit(
        lease, &held, next, memory_order_acq_rel, memory_order_acquire);
    t->lease = 0;
}

/* Text of the addresses of t's slots in the zone, for the log. */
static void
wm_resolver_describe(const wm_resolver_task_t *t, char *buf, size_t size)
{
    const wm_upstream_saddr_t *sa = t->group->saddrs;
    size_t off = 0;
    uint32_t i;

    buf[0] = '\0';
    for (i = t->first; i < t->first + t->nslots && off + 2 < size; i++) {
        if (sa[i].socklen == 0) {
            continue;
        }
        if (off) {
            buf[off++] = ' ';
        }
        wm_sockaddr_text((const struct sockaddr *) &sa[i].sockaddr,
                         sa[i].socklen, buf + off, size - off);
        off += strlen(buf + off);
    }
}

static void
wm_resolver_done(wm_resolver_task_t *t)
{
    wm_upstream_group_t *g = t->group;
    wm_msec_t now = wm_upstream_now(), next;
    const char *why;
    char text[512];
    bool changed;
    uint32_t dropped;

    if (t->error != 0 || t->naddrs == 0) {
        why = t->error ? evdns_err_to_string(t->error) : "no addresses";
        wm_shm_lock(g->zone);
        wm_resolver_describe(t, text, sizeof(text));
        wm_shm_unlock(g->zone);
        wm_log_error(WM_LOG_ERR, wm_errlog, 0,
                     "upstream \"%s\": could not resolve \"%s\" (%s), keeping "
                     "\"%s\"",
                     (const char *) g->name.data, t->server->host, why, text);
        next = now + (t->conf->valid ? t->conf->valid : WM_RESOLVER_RETRY);
        wm_resolver_release(t, next);
        return;
    }

    wm_shm_lock(g->zone);
    dropped = wm_resolver_update_slots(g->state, g->saddrs, t->first, t->nslots,
                                       t->addrs, t->naddrs, &changed);
    wm_resolver_describe(t, text, sizeof(text));
    wm_shm_unlock(g->zone);

    if (changed) {
        wm_log_error(WM_LOG_NOTICE, wm_errlog, 0,
                     "upstream \"%s\": \"%s\" resolves to \"%s\"",
                     (const char *) g->name.data, t->server->host, text);
    }
    if (dropped) {
        wm_log_error(WM_LOG_WARN, wm_errlog, 0,
                     "upstream \"%s\": \"%s\" has more than %d addresses, "
                     "%u ignored",
                     (const char *) g->name.data, t->server->host,
                     WM_UPSTREAM_RESOLVE_SLOTS, dropped);
    }
    if (t->conf->valid) {
        next = now + t->conf->valid;
    } else {
        next = now + (wm_msec_t) wm_max(t->ttl, 1) * 1000;
    }
    wm_resolver_release(t, next);
}

static void
wm_resolver_answer(int result, char type, int count, int ttl, void *addresses,
                   void *arg)
{
    wm_resolver_task_t *t = arg;
    int i;

    if (result == DNS_ERR_NONE) {
        for (i = 0; i < count && t->naddrs < 2 * WM_UPSTREAM_RESOLVE_SLOTS; i++)
        {
            wm_upstream_saddr_t *a = &t->addrs[t->naddrs];

            memset(a, 0, sizeof(*a));
            if (type == DNS_IPv4_A) {
                struct sockaddr_in *sin = (struct sockaddr_in *) &a->sockaddr;

                sin->sin_family = AF_INET;
                sin->sin_port = htons((uint16_t) t->server->port);
                memcpy(&sin->sin_addr, (u_char *) addresses + 4 * i, 4);
                a->socklen = sizeof(*sin);
            } else if (type == DNS_IPv6_AAAA) {
                struct sockaddr_in6 *sin6 =
                    (struct sockaddr_in6 *) &a->sockaddr;

                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons((uint16_t) t->server->port);
                memcpy(&sin6->sin6_addr, (u_char *) addresses + 16 * i, 16);
                a->socklen = sizeof(*sin6);
            } else {
                continue;
            }
            t->naddrs++;
        }
        if (count > 0 && (t->ttl < 0 || ttl < t->ttl)) {
            t->ttl = ttl;
        }
    } else if (result != DNS_ERR_NODATA && t->error == 0) {
        t->error = result;
    }
    if (--t->pending == 0) {
        wm_resolver_done(t);
    }
}

/* Starts the queries of t, whose lease this process holds. */
static void
wm_resolver_query(wm_resolver_task_t *t, wm_msec_t now)
{
    t->pending = 0;
    t->error = 0;
    t->ttl = -1;
    t->naddrs = 0;

    /* pending counts both before either can answer. */
    t->pending = t->conf->ipv6 ? 2 : 1;
    if (evdns_base_resolve_ipv4(t->dns, t->server->host, DNS_QUERY_NO_SEARCH,
                                wm_resolver_answer, t)
        == NULL)
    {
        t->error = DNS_ERR_UNKNOWN;
        t->pending--;
    }
    if (t->conf->ipv6
        && evdns_base_resolve_ipv6(t->dns, t->server->host, DNS_QUERY_NO_SEARCH,
                                   wm_resolver_answer, t)
               == NULL)
    {
        t->error = DNS_ERR_UNKNOWN;
        t->pending--;
    }
    if (t->pending == 0) {
        wm_resolver_done(t);
    }
}

static void
wm_resolver_tick(evutil_socket_t fd, short what, void *arg)
{
    wm_resolver_task_t *t;
    wm_msec_t now = wm_upstream_now();

    for (t = wm_resolver.tasks; t; t = t->next) {
        _Atomic int64_t *lease = &t->group->state->peer[t->first].resolve_next;
        int64_t next = atomic_load_explicit(lease, memory_order_acquire);
        wm_msec_t mine = now + t->conf->timeout + WM_RESOLVER_LEASE_GRACE;

        if (t->lease != 0 || next > now) {
            continue;
        }
        if (!atomic_compare_exchange_strong_explicit(
                lease, &next, mine, memory_order_acq_rel, memory_order_acquire))
        {
            continue;
        }
        t->lease = mine;
        wm_resolver_query(t, now);
    }
}

static void
wm_resolver_on_quit(void)
{
    wm_resolver_stop();
}

struct evdns_base *
wm_resolver_dns_new(wm_cycle_t *cycle, const wm_resolver_conf_t *rc,
                    wm_msec_t timeout)
{
    struct evdns_base *dns;
    char num[32];
    uint32_t i;

    /* 0: no resolv.conf, no search list, no default name servers. */
    dns = evdns_base_new(cycle->base, 0);
    if (dns == NULL) {
        return NULL;
    }
    for (i = 0; i < rc->naddrs; i++) {
        if (evdns_base_nameserver_sockaddr_add(
                dns, (const struct sockaddr *) &rc->addrs[i].sockaddr,
                rc->addrs[i].socklen, 0)
            != 0)
        {
            evdns_base_free(dns, 0);
            return NULL;
        }
    }
    /* resolver_timeout bounds the whole query: one attempt. */
    snprintf(num, sizeof(num), "%.3f", (double) timeout / 1000);
    if (evdns_base_set_option(dns, "timeout:", num) != 0
        || evdns_base_set_option(dns, "attempts:", "1") != 0)
    {
        evdns_base_free(dns, 0);
        return NULL;
    }
    return dns;
}

wm_int_t
wm_resolver_start(wm_cycle_t *cycle, const wm_upstream_main_conf_t *umcf)
{
    wm_upstream_group_t **gs;
    struct timeval tv = {0, WM_RESOLVER_TICK * 1000};
    size_t i;
    uint32_t p;

    if (umcf == NULL) {
        return WM_OK;
    }
    gs = umcf->groups.elts;
    for (i = 0; i < umcf->groups.nelts; i++) {
        wm_upstream_group_t *g = gs[i];
        const wm_resolver_conf_t *rc =
            g->resolver ? g->resolver : umcf->resolver;
        wm_msec_t timeout = g->resolver_timeout      ? g->resolver_timeout
                            : umcf->resolver_timeout ? umcf->resolver_timeout
                                                     : WM_RESOLVER_TIMEOUT;
        struct evdns_base *dns = NULL;

        if (g->nresolve == 0 || g->saddrs == NULL || rc == NULL) {
            continue;
        }
        for (p = 0; p < g->npeers; p++) {
            const wm_upstream_server_t *srv = g->peer[p].server;
            wm_resolver_task_t *t;

            if (!srv->resolve || (p > 0 && g->peer[p - 1].server == srv)) {
                continue;
            }
            t = calloc(1, sizeof(*t));
            if (t == NULL) {
                goto nomem;
            }
            if (dns == NULL) {
                dns = wm_resolver_dns_new(cycle, rc, timeout);
                if (dns == NULL) {
                    free(t);
                    goto nomem;
                }
                t->own_dns = true;
            }
            t->group = g;
            t->server = srv;
            t->conf = rc;
            t->dns = dns;
            t->first = p;
            t->nslots = WM_UPSTREAM_RESOLVE_SLOTS;
            t->next = wm_resolver.tasks;
            wm_resolver.tasks = t;
        }
    }
    if (wm_resolver.tasks == NULL || wm_resolver.timer != NULL) {
        return WM_OK;
    }
    wm_resolver.timer =
        event_new(cycle->base, -1, EV_PERSIST, wm_resolver_tick, NULL);
    if (wm_resolver.timer == NULL || evtimer_add(wm_resolver.timer, &tv) != 0) {
        goto nomem;
    }
    if (!wm_resolver.hooked) {
        if (wm_worker_on_quit(wm_resolver_on_quit) != WM_OK) {
            wm_log_error(WM_LOG_ALERT, wm_errlog, 0,
                         "too many handlers to run on quit");
            return WM_ERROR;
        }
        wm_resolver.hooked = true;
    }
    return WM_OK;

nomem:
    wm_log_error(WM_LOG_ALERT, wm_errlog, ENOMEM,
                 "cannot start the resolver of upstream servers");
    return WM_ERROR;
}

void
wm_resolver_stop(void)
{
    wm_resolver_task_t *t, *next;

    if (wm_resolver.timer) {
        event_free(wm_resolver.timer);
        wm_resolver.timer = NULL;
    }
    /* The bases first, without callbacks: then no answer reaches a task. */
    for (t = wm_resolver.tasks; t; t = t->next) {
        if (t->lease != 0) {
            /* Another process may resolve the name at once. */
            wm_resolver_release(t, 0);
        }
        if (t->own_dns) {
            evdns_base_free(t->dns, 0);
        }
    }
    for (t = wm_resolver.tasks; t; t = next) {
        next = t->next;
        free(t);
    }
    wm_resolver.tasks = NULL;
}
