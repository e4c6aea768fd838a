/*
 * `upstream name { ... }` in the http block: the group directives of the
 * core upstream layer (server, least_conn, hash, random, zone) with the
 * http variables, plus keepalive, keepalive_requests, keepalive_time and
 * keepalive_timeout for the pool of idle connections. The pool itself is
 * per worker: idle connections are watched, so that one the upstream
 * closed (or that sent anything unasked) is dropped before it is reused.
 */
#include "wm_http_upstream.h"

#include "wm_http_health.h"

#include "wm_log.h"
#include "wm_process.h"
#include "wm_resolver.h"

#include "wm_tls_client.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>

/* One idle connection of the pool. */
typedef struct {
    wm_link_t link;                 /* in wm_http_upstream_idle */
    struct bufferevent *bev;
    const wm_upstream_group_t *group;
    struct sockaddr_storage sockaddr;
    socklen_t socklen;
    wm_uint_t requests;
    wm_msec_t born;
    size_t keylen;                  /* the transport's key, after this */
    size_t keycap;                  /* room for a key there */
} wm_http_upstream_idle_t;

static void *wm_http_upstream_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_upstream_init(wm_cycle_t *cycle, void *conf);
static wm_int_t wm_http_upstream_init_worker(wm_cycle_t *cycle);
static void wm_http_upstream_exit_worker(wm_cycle_t *cycle);
static const char *wm_http_upstream_block(wm_conf_t *cf,
                                          const wm_command_t *cmd, void *conf);
static const char *wm_http_upstream_merge(wm_conf_t *cf, void *prev,
                                          void *conf, unsigned level);
static const char *wm_http_upstream_match(wm_conf_t *cf,
                                          const wm_command_t *cmd, void *conf);
static const char *wm_http_upstream_set_keepalive(wm_conf_t *cf,
                                                  const wm_command_t *cmd,
                                                  void *conf);

static const int wm_http_upstream_port = 80;
static const wm_conf_bounds_t wm_http_upstream_ka_bounds = {1, 1000000};
static const wm_conf_bounds_t wm_http_upstream_req_bounds = {0, INT32_MAX};

#define ka_off(f) offsetof(wm_http_upstream_keepalive_t, f)

static const wm_command_t wm_http_upstream_commands[] = {
    {"upstream", WM_CTX_HTTP, 1, 1, WM_CMD_BLOCK | WM_CMD_MULTI, WM_LVL_MAIN,
     wm_http_upstream_block, 0, NULL, "-",
     "a group of servers for proxy_pass, with its balancing method"},
    {"server", WM_CTX_HTTP_UPS, 1, WM_ARGS_MANY, WM_CMD_MULTI, WM_LVL_SRV,
     wm_upstream_set_server, 0, &wm_http_upstream_port, "-",
     "address[:port] (80 by default) or unix:path, with weight=, "
     "max_fails=, fail_timeout=, max_conns=, backup, down, resolve"},
    {"resolver", WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC, 1,
     WM_ARGS_MANY, 0, WM_LVL_MAIN, wm_resolver_set, 0, NULL, "-",
     "name servers for `server ... resolve`, with valid= and ipv6="},
    {"resolver", WM_CTX_HTTP_UPS, 1, WM_ARGS_MANY, 0, WM_LVL_SRV,
     wm_resolver_set_ups, 0, NULL, "-",
     "name servers for this group's `server ... resolve`"},
    {"resolver_timeout", WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC, 1,
     1, 0, WM_LVL_MAIN, wm_resolver_set_timeout, 0, NULL, "30s",
     "how long a name server may take to answer"},
    {"resolver_timeout", WM_CTX_HTTP_UPS, 1, 1, 0, WM_LVL_SRV,
     wm_resolver_set_ups_timeout, 0, NULL, "30s",
     "how long a name server may take to answer, for this group"},
    {"least_conn", WM_CTX_HTTP_UPS, 0, 0, 0, WM_LVL_SRV,
     wm_upstream_set_least_conn, 0, NULL, "-",
     "pick the server with the fewest connections for its weight"},
    {"hash", WM_CTX_HTTP_UPS, 1, 2, 0, WM_LVL_SRV, wm_upstream_set_hash, 0,
     NULL, "-", "pick the server by a hash of a key, optionally consistent"},
    {"random", WM_CTX_HTTP_UPS, 0, 2, 0, WM_LVL_SRV, wm_upstream_set_random, 0,
     NULL, "-",
     "pick a random server, or the less loaded of two (two [least_conn])"},
    {"zone", WM_CTX_HTTP_UPS, 1, 2, 0, WM_LVL_SRV, wm_upstream_set_zone, 0,
     NULL, "-", "share the group's state between workers in a zone"},
    {"keepalive", WM_CTX_HTTP_UPS, 1, 1, 0, WM_LVL_SRV,
     wm_http_upstream_set_keepalive, ka_off(max), &wm_http_upstream_ka_bounds,
     "-", "idle upstream connections each worker keeps for reuse"},
    {"keepalive_requests", WM_CTX_HTTP_UPS, 1, 1, 0, WM_LVL_SRV,
     wm_http_upstream_set_keepalive, ka_off(requests),
     &wm_http_upstream_req_bounds, "1000",
     "requests an upstream connection carries at most"},
    {"keepalive_time", WM_CTX_HTTP_UPS, 1, 1, 0, WM_LVL_SRV,
     wm_http_upstream_set_keepalive, ka_off(time), NULL, "1h",
     "age after which an upstream connection is not reused"},
    {"keepalive_timeout", WM_CTX_HTTP_UPS, 1, 1, 0, WM_LVL_SRV,
     wm_http_upstream_set_keepalive, ka_off(timeout), NULL, "60s",
     "time an upstream connection stays idle in the pool"},
    {"health_check", WM_CTX_HTTP_UPS, 0, 9, 0, WM_LVL_SRV,
     wm_http_health_check, 0, NULL, "-",
     "check the servers actively with GET uri: interval=, jitter=, fails=, "
     "passes=, timeout=, port=, uri=, match="},
    {"match", WM_CTX_HTTP, 1, 1, WM_CMD_BLOCK | WM_CMD_MULTI, WM_LVL_MAIN,
     wm_http_upstream_match, 0, NULL, "-",
     "what the response to an http health check must be (status, header, "
     "body)"},
    {"status", WM_CTX_HTTP_MATCH, 1, WM_HTTP_HEALTH_RANGES + 1, WM_CMD_MULTI,
     WM_LVL_SRV, wm_http_health_set_status, 0, NULL, "-",
     "the status a health check expects: [!] code or lo-hi ..."},
    {"header", WM_CTX_HTTP_MATCH, 1, 3, WM_CMD_MULTI, WM_LVL_SRV,
     wm_http_health_set_cond, 0, NULL, "-",
     "a header a health check expects: [!] name, name = | != value, "
     "name ~ | !~ regex"},
    {"body", WM_CTX_HTTP_MATCH, 2, 2, WM_CMD_MULTI, WM_LVL_SRV,
     wm_http_health_set_cond, 0, NULL, "-",
     "the body a health check expects: ~ | !~ regex"},
    wm_null_command,
};

wm_module_t wm_http_upstream_module = {
    .name = "http_upstream",
    .family = WM_MOD_HTTP,
    .commands = wm_http_upstream_commands,
    .create_conf = wm_http_upstream_create,
    .merge_conf = wm_http_upstream_merge,
    .init_conf = wm_http_upstream_init,
    .init_worker = wm_http_upstream_init_worker,
    .exit_worker = wm_http_upstream_exit_worker,
};

/* This worker's idle connections, newest first, every group together. */
static wm_link_t wm_http_upstream_idle;

/*
 * A bufferevent handed to wm_http_upstream_free_later, waiting for its
 * turn in the loop. A stopping worker breaks its loop as soon as its last
 * client connection ends, often with some of these still queued (the
 * pool it empties on SIGQUIT, the connection of the last request): exit
 * frees those that the loop did not reach.
 */
typedef struct {
    wm_link_t link;
    struct bufferevent *bev;
} wm_http_upstream_doomed_t;

static wm_link_t wm_http_upstream_doomed;

/* Entries of idle connections taken back, for the next ones: a put()
 * per request would otherwise cost a calloc and a free. */
#define WM_HTTP_UPSTREAM_SPARES 64

static wm_link_t wm_http_upstream_spare;
static unsigned wm_http_upstream_nspare;

/* An entry with room for a key of keylen bytes (every field is set by
 * the caller), or NULL when out of memory. */
static wm_http_upstream_idle_t *
wm_http_upstream_entry(size_t keylen)
{
    wm_link_t *l;
    wm_http_upstream_idle_t *idle;

    for (l = wm_http_upstream_spare.next;
         l && l != &wm_http_upstream_spare; l = l->next)
    {
        idle = wm_link_data(l, wm_http_upstream_idle_t, link);
        if (idle->keycap >= keylen) {
            wm_list_remove(&idle->link);
            wm_http_upstream_nspare--;
            return idle;
        }
    }
    idle = malloc(sizeof(*idle) + keylen);
    if (idle) {
        idle->keycap = keylen;
    }
    return idle;
}

/* Gives an entry out of the idle list back. */
static void
wm_http_upstream_entry_free(wm_http_upstream_idle_t *idle)
{
    if (wm_http_upstream_spare.next == NULL
        || wm_http_upstream_nspare >= WM_HTTP_UPSTREAM_SPARES)
    {
        free(idle);
        return;
    }
    wm_list_add(&wm_http_upstream_spare, &idle->link);
    wm_http_upstream_nspare++;
}

/* ---- the pool ------------------------------------------------------------ */

wm_http_upstream_keepalive_t *
wm_http_upstream_keepalive(const wm_upstream_group_t *g)
{
    wm_http_upstream_keepalive_t *ka = g->data;

    return ka && ka->max > 0 ? ka : NULL;
}

static void
wm_http_upstream_free_cb(evutil_socket_t fd, short what, void *arg)
{
    wm_http_upstream_doomed_t *d = arg;

    wm_list_remove(&d->link);
    bufferevent_free(d->bev);
    free(d);
}

/* Whether idle was opened with the transport of key. */
static bool
wm_http_upstream_key_is(const wm_http_upstream_idle_t *idle,
                        const wm_str_t *key)
{
    size_t len = key ? key->len : 0;

    return idle->keylen == len
           && (len == 0 || memcmp(idle + 1, key->data, len) == 0);
}

void
wm_http_upstream_free_later(struct bufferevent *bev)
{
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    wm_http_upstream_doomed_t *d;

    if (ssl) {
        /* The session stays resumable, and the peer gets a close_notify
         * (sent at once, whatever the socket takes: it is closed next). */
        wm_tls_shutdown(ssl);
        wm_tls_client_keep_session(ssl);
    }
    bufferevent_disable(bev, EV_READ | EV_WRITE);
    bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
    d = wm_http_upstream_doomed.next ? malloc(sizeof(*d)) : NULL;
    if (d == NULL) {
        /* Without memory (or outside a worker), now: no callback of bev
         * can run any more. */
        bufferevent_free(bev);
        return;
    }
    d->bev = bev;
    wm_list_add(&wm_http_upstream_doomed, &d->link);
    if (event_base_once(bufferevent_get_base(bev), -1, EV_TIMEOUT,
                        wm_http_upstream_free_cb, d, NULL)
        != 0)
    {
        wm_http_upstream_free_cb(-1, 0, d);
    }
}

static void
wm_http_upstream_drop(wm_http_upstream_idle_t *idle)
{
    wm_http_upstream_keepalive_t *ka = idle->group->data;

    wm_list_remove(&idle->link);
    ka->nidle--;
    wm_http_upstream_free_later(idle->bev);
    wm_http_upstream_entry_free(idle);
}

/* Anything from an idle connection (bytes, EOF, an error, the idle
 * timeout) ends it: a response nobody asked for is never passed on. */
static void
wm_http_upstream_idle_read(struct bufferevent *bev, void *arg)
{
    wm_http_upstream_drop(arg);
}

static void
wm_http_upstream_idle_event(struct bufferevent *bev, short what, void *arg)
{
    wm_http_upstream_drop(arg);
}

struct bufferevent *
wm_http_upstream_get(const wm_upstream_group_t *g,
                     const wm_upstream_peer_t *peer, const wm_str_t *key,
                     wm_uint_t *requests, wm_msec_t *born)
{
    wm_link_t *l;

    if (wm_http_upstream_keepalive(g) == NULL
        || wm_http_upstream_idle.next == NULL)
    {
        return NULL;
    }
    for (l = wm_http_upstream_idle.next; l != &wm_http_upstream_idle;
         l = l->next)
    {
        wm_http_upstream_idle_t *idle =
            wm_link_data(l, wm_http_upstream_idle_t, link);
        struct bufferevent *bev = idle->bev;
        wm_http_upstream_keepalive_t *ka = g->data;

        if (idle->group != g || idle->socklen != peer->socklen
            || memcmp(&idle->sockaddr, &peer->sockaddr, peer->socklen) != 0
            || !wm_http_upstream_key_is(idle, key))
        {
            continue;
        }
        wm_list_remove(&idle->link);
        ka->nidle--;
        *requests = idle->requests;
        *born = idle->born;
        wm_http_upstream_entry_free(idle);
        /* (the idle timeout stays: the caller sets its own at once, and
         * clearing it first would cost one more event_add) */
        bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
        return bev;
    }
    return NULL;
}

bool
wm_http_upstream_put(const wm_upstream_group_t *g,
                     const wm_upstream_peer_t *peer, const wm_str_t *key,
                     struct bufferevent *bev, wm_uint_t requests,
                     wm_msec_t born)
{
    wm_http_upstream_keepalive_t *ka = wm_http_upstream_keepalive(g);
    wm_http_upstream_idle_t *idle;
    struct timeval tv;

    if (ka == NULL || wm_http_upstream_idle.next == NULL || wm_worker_quitting()
        || (ka->requests && requests >= (wm_uint_t) ka->requests)
        || wm_upstream_now() - born >= ka->time
        || evbuffer_get_length(bufferevent_get_input(bev))
        || evbuffer_get_length(bufferevent_get_output(bev)))
    {
        return false;
    }
    idle = wm_http_upstream_entry(key ? key->len : 0);
    if (idle == NULL) {
        return false;
    }
    idle->keylen = key ? key->len : 0;
    if (idle->keylen) {
        memcpy(idle + 1, key->data, key->len);
    }
    if (ka->nidle >= ka->max) {
        /* The least recently used connection of the group makes room. */
        wm_link_t *l;

        for (l = wm_http_upstream_idle.prev; l != &wm_http_upstream_idle;
             l = l->prev)
        {
            wm_http_upstream_idle_t *old =
                wm_link_data(l, wm_http_upstream_idle_t, link);

            if (old->group == g) {
                wm_http_upstream_drop(old);
                break;
            }
        }
    }
    idle->bev = bev;
    idle->group = g;
    memcpy(&idle->sockaddr, &peer->sockaddr, peer->socklen);
    idle->socklen = peer->socklen;
    idle->requests = requests;
    idle->born = born;
    /* At the front (before the first): get() takes the newest, and the
     * oldest, at the back, is the one to give up. */
    wm_list_add(wm_http_upstream_idle.next, &idle->link);
    ka->nidle++;
    tv.tv_sec = ka->timeout / 1000;
    tv.tv_usec = (ka->timeout % 1000) * 1000;
    bufferevent_setcb(bev, wm_http_upstream_idle_read, NULL,
                      wm_http_upstream_idle_event, idle);
    /* A read high watermark may stay: the first byte read ends the
     * connection anyway. Each of these calls that changes nothing would
     * still re-add the read event. The read timeout often is already
     * keepalive_timeout (proxy_read_timeout, 60s both by default), and
     * its timer was restarted by the read that ended the response (or
     * by the enabling of reading that led to it): then it stays, and
     * so does a write timeout, of no use while writing is off. */
    if (bev->timeout_read.tv_sec != tv.tv_sec
        || bev->timeout_read.tv_usec != tv.tv_usec)
    {
        bufferevent_set_timeouts(bev, &tv, NULL);
    }
    if (!(bufferevent_get_enabled(bev) & EV_READ)) {
        bufferevent_enable(bev, EV_READ);
    }
    return true;
}

static void
wm_http_upstream_close_idle(void)
{
    while (wm_http_upstream_idle.next
           && !wm_list_empty(&wm_http_upstream_idle))
    {
        wm_http_upstream_drop(wm_link_data(wm_http_upstream_idle.next,
                                           wm_http_upstream_idle_t, link));
    }
}

static wm_int_t
wm_http_upstream_init_worker(wm_cycle_t *cycle)
{
    wm_list_init(&wm_http_upstream_idle);
    wm_list_init(&wm_http_upstream_doomed);
    wm_list_init(&wm_http_upstream_spare);
    wm_http_upstream_nspare = 0;
    if (wm_resolver_start(cycle, cycle->conf[wm_http_upstream_module.index])
            != WM_OK
        || wm_health_start(cycle, cycle->conf[wm_http_upstream_module.index])
               != WM_OK)
    {
        return WM_ERROR;
    }
    return wm_worker_on_quit(wm_http_upstream_close_idle);
}

static void
wm_http_upstream_exit_worker(wm_cycle_t *cycle)
{
    wm_health_stop();
    wm_resolver_stop();
    /* The loop is over: free now, not later. */
    while (wm_http_upstream_idle.next
           && !wm_list_empty(&wm_http_upstream_idle))
    {
        wm_http_upstream_idle_t *idle = wm_link_data(
            wm_http_upstream_idle.next, wm_http_upstream_idle_t, link);

        wm_list_remove(&idle->link);
        bufferevent_free(idle->bev);
        free(idle);
    }
    while (wm_http_upstream_doomed.next
           && !wm_list_empty(&wm_http_upstream_doomed))
    {
        /* event_base_free frees their pending event_base_once slots */
        wm_http_upstream_free_cb(-1, 0,
                                 wm_link_data(wm_http_upstream_doomed.next,
                                              wm_http_upstream_doomed_t,
                                              link));
    }
    while (wm_http_upstream_spare.next
           && !wm_list_empty(&wm_http_upstream_spare))
    {
        wm_http_upstream_idle_t *idle = wm_link_data(
            wm_http_upstream_spare.next, wm_http_upstream_idle_t, link);

        wm_list_remove(&idle->link);
        free(idle);
    }
    wm_http_upstream_nspare = 0;
}

/* ---- configuration ---------------------------------------------------- */

static void *
wm_http_upstream_create(wm_conf_t *cf, unsigned level)
{
    return wm_upstream_main_create(cf, level, &wm_http_upstream_module);
}

static const char *
wm_http_upstream_block(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    return wm_upstream_block(cf, conf, &wm_http_upstream_module,
                             WM_CTX_HTTP_UPS, wm_http_var_tables);
}

/* `match name { status ...; header ...; body ...; }` at http level. */
static const char *
wm_http_upstream_match(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    return wm_http_health_match_block(cf, &wm_http_upstream_module, conf);
}

/* Called for each http level once the http block is parsed (the conf of
 * every level is the main one): the first call completes the health
 * checks, reporting errors at their lines. */
static const char *
wm_http_upstream_merge(wm_conf_t *cf, void *prev, void *conf, unsigned level)
{
    return wm_http_health_resolve(cf, conf);
}

/* The keepalive directives write into the group's keepalive settings,
 * made with the defaults by the first of them. */
static const char *
wm_http_upstream_set_keepalive(wm_conf_t *cf, const wm_command_t *cmd,
                               void *conf)
{
    wm_upstream_group_t *g = conf;
    wm_http_upstream_keepalive_t *ka = g->data;

    if (ka == NULL) {
        ka = wm_pcalloc(cf->pool, sizeof(*ka));
        if (ka == NULL) {
            return "failed: out of memory";
        }
        ka->max = WM_CONF_UNSET;
        ka->requests = WM_CONF_UNSET;
        ka->time = WM_CONF_UNSET_MSEC;
        ka->timeout = WM_CONF_UNSET_MSEC;
        g->data = ka;
    }
    if (cmd->post) {
        return wm_conf_set_num(cf, cmd, ka);
    }
    return wm_conf_set_msec(cf, cmd, ka);
}

static const char *
wm_http_upstream_init(wm_cycle_t *cycle, void *conf)
{
    wm_upstream_main_conf_t *umcf = conf;
    const char *rv;
    size_t i;

    if (conf == NULL) {
        return NULL; /* no http block */
    }
    /* An http block without servers has had no merge. */
    rv = wm_http_health_resolve(NULL, umcf);
    if (rv) {
        return rv;
    }
    for (i = 0; i < umcf->groups.nelts; i++) {
        wm_upstream_group_t *g = ((wm_upstream_group_t **) umcf->groups.elts)[i];
        wm_http_upstream_keepalive_t *ka = g->data;

        if (ka) {
            wm_conf_merge_value(ka->max, WM_CONF_UNSET, 0);
            wm_conf_merge_value(ka->requests, WM_CONF_UNSET, 1000);
            wm_conf_merge_msec(ka->time, WM_CONF_UNSET_MSEC, 3600000);
            wm_conf_merge_msec(ka->timeout, WM_CONF_UNSET_MSEC, 60000);
        }
    }
    rv = wm_resolver_check(cycle->pool, umcf);
    if (rv) {
        return rv;
    }
    return wm_upstream_init_zones(cycle, &wm_http_upstream_module);
}
