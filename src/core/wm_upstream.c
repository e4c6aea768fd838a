/*
 * Upstream groups: parsing of `server` lines and balancer directives,
 * resolution at load time, the copy of a group's peer state in a shared
 * zone (kept across a reload when the group's servers are unchanged), and
 * the pick / release calls that sessions make at run time.
 */
#include "wm_upstream.h"

#include "wm_cycle.h"
#include "wm_listen.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/*
 * A zone of upstreams holds, after the wm_shm header, a root and a list of
 * records, one per (group name, server list) that a cycle used. A reload
 * finds the record of an unchanged group and keeps its state; a changed
 * group gets a new record, because the old workers still run on the old
 * one. Records are plain data with offsets, never pointers.
 */
#define WM_UPSTREAM_MAGIC 0x776d75707374726dULL /* "wmupstrm" */
#define WM_UPSTREAM_ROOT_OFFSET ((sizeof(wm_shm_header_t) + 63) & ~(size_t) 63)
#define wm_upstream_align(n) (((n) + 15) & ~(size_t) 15)

/* Room for the text of any address with its port, and its NUL. */
#define WM_UPSTREAM_NAME_LEN 64

typedef struct {
    uint64_t magic;
    uint64_t first; /* offset of the newest record, 0: none */
} wm_upstream_root_t;

/* Followed by the name, npeers wm_upstream_saddr_t and the balance group,
 * each 16-byte aligned. */
typedef struct {
    uint64_t magic;
    uint64_t next; /* offset of the next older record, 0: none */
    uint32_t npeers;
    uint32_t nprimary;
    uint32_t namelen;
    uint32_t reserved;
} wm_upstream_record_t;

/* The process-local data of a zone (zone->data): the groups using it. */
typedef struct {
    wm_array_t groups; /* wm_upstream_group_t * */
} wm_upstream_zone_t;

/* A resolved address of a `server` line, before the peers are ordered. */
typedef struct {
    struct sockaddr_storage sockaddr;
    socklen_t socklen;
    const wm_upstream_server_t *server;
} wm_upstream_addr_t;

static wm_int_t wm_upstream_zone_init(wm_shm_zone_t *zone, bool reused);

static const wm_balance_select_pt wm_upstream_selects[] = {
    [WM_UPSTREAM_RR] = wm_balance_select_rr,
    [WM_UPSTREAM_LEAST_CONN] = wm_balance_select_least_conn,
    [WM_UPSTREAM_HASH] = wm_balance_select_hash,
    [WM_UPSTREAM_CHASH] = wm_balance_select_chash,
    [WM_UPSTREAM_RANDOM] = wm_balance_select_random,
    [WM_UPSTREAM_RANDOM_TWO] = wm_balance_select_random_two,
};

/* ---- configuration ---------------------------------------------------- */

wm_upstream_group_t *
wm_upstream_group_new(wm_pool_t *pool, const wm_str_t *name,
                      const wm_var_def_t *const *vars)
{
    wm_upstream_group_t *g = wm_pcalloc(pool, sizeof(*g));

    if (g == NULL) {
        return NULL;
    }
    g->name.data = (u_char *) wm_pstrndup(pool, name->data, name->len);
    g->name.len = name->len;
    g->vars = vars;
    g->pool = pool;
    if (g->name.data == NULL
        || wm_array_init(&g->servers, pool, 4, sizeof(void *)) != WM_OK
        || wm_array_init(&g->addrs, pool, 4, sizeof(wm_upstream_addr_t))
               != WM_OK)
    {
        return NULL;
    }
    return g;
}

bool
wm_upstream_param(const wm_str_t *arg, const char *key, wm_str_t *value)
{
    size_t n = strlen(key);

    if (arg->len <= n || memcmp(arg->data, key, n) != 0) {
        return false;
    }
    value->data = arg->data + n;
    value->len = arg->len - n;
    return true;
}

wm_int_t
wm_upstream_parse_server(const wm_str_t *args, size_t nargs,
                         wm_upstream_server_t *srv, char *err, size_t errlen)
{
    wm_str_t v;
    int64_t n;
    size_t i;

    memset(srv, 0, sizeof(*srv));
    srv->weight = WM_BALANCE_WEIGHT;
    srv->max_fails = WM_BALANCE_MAX_FAILS;
    srv->fail_timeout = WM_BALANCE_FAIL_TIMEOUT;

    if (nargs == 0 || args[0].len == 0) {
        snprintf(err, errlen, "no address in upstream server");
        return WM_ERROR;
    }
    srv->addr = args[0];

    for (i = 1; i < nargs; i++) {
        const wm_str_t *a = &args[i];

        if (wm_upstream_param(a, "weight=", &v)) {
            n = wm_parse_num(&v);
            if (n < 1 || n > WM_UPSTREAM_MAX_WEIGHT) {
                goto invalid;
            }
            srv->weight = (uint32_t) n;
        } else if (wm_upstream_param(a, "max_fails=", &v)) {
            n = wm_parse_num(&v);
            if (n < 0 || n > INT32_MAX) {
                goto invalid;
            }
            srv->max_fails = (uint32_t) n;
        } else if (wm_upstream_param(a, "max_conns=", &v)) {
            n = wm_parse_num(&v);
            if (n < 0 || n > INT32_MAX) {
                goto invalid;
            }
            srv->max_conns = (uint32_t) n;
        } else if (wm_upstream_param(a, "fail_timeout=", &v)) {
            srv->fail_timeout = wm_parse_msec(&v);
            if (srv->fail_timeout < 0) {
                goto invalid;
            }
        } else if (wm_str_eq(a, "backup")) {
            srv->backup = 1;
        } else if (wm_str_eq(a, "down")) {
            srv->down = 1;
        } else if (wm_str_eq(a, "resolve")) {
            srv->resolve = 1;
        } else {
            goto invalid;
        }
    }
    return WM_OK;

invalid:
    snprintf(err, errlen, "invalid parameter \"%.*s\"", (int) args[i].len,
             (const char *) args[i].data);
    return WM_ERROR;
}

static wm_int_t
wm_upstream_push_addr(wm_upstream_group_t *g, const void *sa, socklen_t len,
                      const wm_upstream_server_t *srv)
{
    wm_upstream_addr_t *a;
    size_t i;

    /* One peer per address of a line, even when the resolver repeats;
     * len 0 is an empty slot of a `resolve` line. */
    for (i = 0; len != 0 && i < g->addrs.nelts; i++) {
        a = (wm_upstream_addr_t *) g->addrs.elts + i;
        if (a->server == srv && a->socklen == len
            && memcmp(&a->sockaddr, sa, len) == 0) {
            return WM_OK;
        }
    }
    a = wm_array_push(&g->addrs);
    if (a == NULL) {
        return WM_ERROR;
    }
    memset(&a->sockaddr, 0, sizeof(a->sockaddr));
    if (len != 0) {
        memcpy(&a->sockaddr, sa, len);
    }
    a->socklen = len;
    a->server = srv;
    return WM_OK;
}

/* A port of 1 .. 65535 written in decimal, or -1. */
static int
wm_upstream_port(const char *s)
{
    wm_str_t v = {strlen(s), (u_char *) s};
    int64_t n = wm_parse_num(&v);

    return n >= 1 && n <= 65535 ? (int) n : -1;
}

/* Makes the addresses of a `resolve` line, pushed from index before on,
 * exactly WM_UPSTREAM_RESOLVE_SLOTS: the rest are dropped, empty slots
 * (socklen 0) added. */
static wm_int_t
wm_upstream_pad_slots(wm_upstream_group_t *g, const wm_upstream_server_t *srv,
                      size_t before, char *err, size_t errlen)
{
    if (g->addrs.nelts > before + WM_UPSTREAM_RESOLVE_SLOTS) {
        g->addrs.nelts = before + WM_UPSTREAM_RESOLVE_SLOTS;
    }
    while (g->addrs.nelts < before + WM_UPSTREAM_RESOLVE_SLOTS) {
        if (wm_upstream_push_addr(g, NULL, 0, srv) != WM_OK) {
            snprintf(err, errlen, "out of memory");
            return WM_ERROR;
        }
    }
    g->nresolve++;
    return WM_OK;
}

/* Resolves srv->addr (blocking: config time only) into g->addrs. */
static wm_int_t
wm_upstream_resolve(wm_upstream_group_t *g, wm_upstream_server_t *srv,
                    int default_port, char *err, size_t errlen)
{
    const wm_str_t *text = &srv->addr;
    char buf[512], *host, *port_s = NULL;
    struct addrinfo hints, *res, *ai;
    int port = default_port, family, rc;
    size_t before = g->addrs.nelts;

    if (text->len == 0 || text->len >= sizeof(buf)) {
        snprintf(err, errlen, "invalid address in upstream \"%.*s\"",
                 (int) wm_min(text->len, 256), (const char *) text->data);
        return WM_ERROR;
    }
    memcpy(buf, text->data, text->len);
    buf[text->len] = '\0';

    if (strncmp(buf, "unix:", 5) == 0) {
        struct sockaddr_un un;
        size_t n = strlen(buf + 5);

        if (srv->resolve) {
            snprintf(err, errlen, "invalid parameter \"resolve\"");
            return WM_ERROR;
        }
        if (n == 0 || n >= sizeof(un.sun_path)) {
            snprintf(err, errlen,
                     "invalid unix socket path in upstream "
                     "\"%s\"",
                     buf);
            return WM_ERROR;
        }
        memset(&un, 0, sizeof(un));
        un.sun_family = AF_UNIX;
        memcpy(un.sun_path, buf + 5, n + 1);
        if (wm_upstream_push_addr(
                g, &un,
                (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1),
                srv)
            != WM_OK)
        {
            snprintf(err, errlen, "out of memory");
            return WM_ERROR;
        }
        return WM_OK;
    }

    host = buf;
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');

        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            snprintf(err, errlen, "invalid IPv6 address in upstream \"%s\"",
                     buf);
            return WM_ERROR;
        }
        *close = '\0';
        host = buf + 1;
        if (close[1] == ':') {
            port_s = close + 2;
        }
    } else {
        char *colon = strrchr(buf, ':');

        if (colon) {
            *colon = '\0';
            port_s = colon + 1;
        }
    }
    if (port_s && (port = wm_upstream_port(port_s)) < 0) {
        snprintf(err, errlen, "invalid port in upstream \"%.*s\"",
                 (int) text->len, (const char *) text->data);
        return WM_ERROR;
    }
    if (port <= 0) {
        snprintf(err, errlen, "no port in upstream \"%.*s\"", (int) text->len,
                 (const char *) text->data);
        return WM_ERROR;
    }

    if (srv->resolve) {
        struct in6_addr probe;

        if (inet_pton(AF_INET, host, &probe) == 1
            || inet_pton(AF_INET6, host, &probe) == 1)
        {
            /* An address never changes: nothing to re-resolve. */
            srv->resolve = 0;
        } else {
            srv->host = wm_pstrdup(g->pool, host);
            srv->port = port;
            if (srv->host == NULL) {
                snprintf(err, errlen, "out of memory");
                return WM_ERROR;
            }
        }
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    /* Blocking resolution is fine here: this runs while a configuration
     * is loaded, never in a worker's event loop. */
    rc = host[0] ? getaddrinfo(host, NULL, &hints, &res) : EAI_NONAME;
    if (rc != 0 && srv->resolve) {
        /* nginx: the server starts without addresses, the resolver gives
         * them later. */
        return wm_upstream_pad_slots(g, srv, before, err, errlen);
    }
    if (rc != 0) {
        snprintf(err, errlen, "host not found in upstream \"%.*s\"",
                 (int) text->len, (const char *) text->data);
        return WM_ERROR;
    }

    /* IPv4 first, as nginx orders the addresses of a name. */
    for (family = 0; family < 2; family++) {
        for (ai = res; ai; ai = ai->ai_next) {
            struct sockaddr_storage ss;

            if (ai->ai_family != (family == 0 ? AF_INET : AF_INET6)
                || ai->ai_addrlen > sizeof(ss))
            {
                continue;
            }
            memset(&ss, 0, sizeof(ss));
            memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
            if (ai->ai_family == AF_INET) {
                ((struct sockaddr_in *) &ss)->sin_port = htons((uint16_t) port);
            } else {
                ((struct sockaddr_in6 *) &ss)->sin6_port =
                    htons((uint16_t) port);
            }
            if (wm_upstream_push_addr(g, &ss, ai->ai_addrlen, srv) != WM_OK) {
                freeaddrinfo(res);
                snprintf(err, errlen, "out of memory");
                return WM_ERROR;
            }
        }
    }
    freeaddrinfo(res);

    if (srv->resolve) {
        return wm_upstream_pad_slots(g, srv, before, err, errlen);
    }
    if (g->addrs.nelts == before) {
        snprintf(err, errlen, "host not found in upstream \"%.*s\"",
                 (int) text->len, (const char *) text->data);
        return WM_ERROR;
    }
    return WM_OK;
}

wm_int_t
wm_upstream_add_server(wm_upstream_group_t *g, const wm_str_t *args,
                       size_t nargs, int default_port, char *err, size_t errlen)
{
    wm_upstream_server_t *srv, **slot;

    srv = wm_palloc(g->pool, sizeof(*srv));
    if (srv == NULL) {
        snprintf(err, errlen, "out of memory");
        return WM_ERROR;
    }
    if (wm_upstream_parse_server(args, nargs, srv, err, errlen) != WM_OK) {
        return WM_ERROR;
    }
    /* srv->addr stays a slice of the config tree, which the cycle's pool
     * keeps as long as the group. */
    if (wm_upstream_resolve(g, srv, default_port, err, errlen) != WM_OK) {
        return WM_ERROR;
    }
    slot = wm_array_push(&g->servers);
    if (slot == NULL) {
        snprintf(err, errlen, "out of memory");
        return WM_ERROR;
    }
    *slot = srv;
    return WM_OK;
}

/* Writes the configured part of every peer of g into b (initialised with
 * wm_balance_group_init() for g's tiers). */
static void
wm_upstream_configure(const wm_upstream_group_t *g, wm_balance_group_t *b)
{
    uint32_t i;

    for (i = 0; i < g->npeers; i++) {
        const wm_upstream_server_t *srv = g->peer[i].server;

        b->peer[i].weight = srv->weight;
        b->peer[i].max_fails = srv->max_fails;
        b->peer[i].max_conns = srv->max_conns;
        b->peer[i].down = srv->down;
        b->peer[i].fail_timeout = srv->fail_timeout;
    }
}

/* The text of p's address, or of its server line for an empty slot. A
 * resolve slot gets a buffer that its later addresses fit in. */
static wm_int_t
wm_upstream_name_peer(wm_upstream_group_t *g, wm_upstream_peer_t *p)
{
    char text[WM_UPSTREAM_NAME_LEN];
    const wm_str_t *addr = &p->server->addr;
    size_t size;

    if (p->socklen == 0) {
        snprintf(text, sizeof(text), "%.*s", (int) addr->len,
                 (const char *) addr->data);
    } else {
        wm_sockaddr_text((const struct sockaddr *) &p->sockaddr, p->socklen,
                         text, sizeof(text));
    }
    size = strlen(text) + 1;
    if (p->server->resolve && p->name.data == NULL) {
        size = WM_UPSTREAM_NAME_LEN;
    }
    if (p->name.data == NULL) {
        p->name.data = wm_palloc(g->pool, size);
        if (p->name.data == NULL) {
            return WM_ERROR;
        }
    }
    memcpy(p->name.data, text, strlen(text) + 1);
    p->name.len = strlen(text);
    return WM_OK;
}

/* Orders g->addrs into g->peer: primaries, then backups, each in config
 * order. */
static wm_int_t
wm_upstream_make_peers(wm_upstream_group_t *g)
{
    const wm_upstream_addr_t *a = g->addrs.elts;
    uint32_t n = 0, i;
    int backup;

    g->peer = wm_pcalloc(g->pool, g->addrs.nelts * sizeof(*g->peer));
    if (g->peer == NULL) {
        return WM_ERROR;
    }
    for (backup = 0; backup < 2; backup++) {
        for (i = 0; i < g->addrs.nelts; i++) {
            wm_upstream_peer_t *p = &g->peer[n];

            if (a[i].server->backup != backup) {
                continue;
            }
            memcpy(&p->sockaddr, &a[i].sockaddr, a[i].socklen);
            p->socklen = a[i].socklen;
            p->server = a[i].server;
            if (wm_upstream_name_peer(g, p) != WM_OK) {
                return WM_ERROR;
            }
            n++;
        }
        if (backup == 0) {
            g->nprimary = n;
        }
    }
    g->npeers = n;
    return WM_OK;
}

static wm_int_t
wm_upstream_make_ring(wm_upstream_group_t *g)
{
    wm_str_t *names;
    size_t npoints;
    uint32_t i;

    names = wm_palloc(g->pool, g->npeers * sizeof(wm_str_t));
    if (names == NULL) {
        return WM_ERROR;
    }
    for (i = 0; i < g->npeers; i++) {
        names[i] = g->peer[i].name;
    }
    npoints = wm_hash_ring_npoints(g->local);
    g->ring = wm_palloc(g->pool, wm_hash_ring_size(npoints));
    if (g->ring == NULL) {
        return WM_ERROR;
    }
    wm_hash_ring_build(g->ring, g->local, names);
    return WM_OK;
}

static wm_int_t
wm_upstream_join_zone(wm_cycle_t *cycle, wm_upstream_group_t *g,
                      const void *tag, char *err, size_t errlen)
{
    wm_upstream_zone_t *zd;
    wm_upstream_group_t **slot;
    wm_shm_zone_t *z;

    z = wm_shm_add(cycle, (const char *) g->zone_name.data, g->zone_size, tag,
                   err, errlen);
    if (z == NULL) {
        return WM_ERROR;
    }
    if (g->zone_size != 0) {
        if (z->size != 0 && z->size != g->zone_size) {
            snprintf(err, errlen,
                     "zone \"%s\" is already declared with size %zu", z->name,
                     z->size);
            return WM_ERROR;
        }
        z->size = g->zone_size;
    }
    zd = z->data;
    if (zd == NULL) {
        zd = wm_pcalloc(cycle->pool, sizeof(*zd));
        if (zd == NULL
            || wm_array_init(&zd->groups, cycle->pool, 4, sizeof(void *))
                   != WM_OK)
        {
            snprintf(err, errlen, "out of memory");
            return WM_ERROR;
        }
        z->data = zd;
        z->init = wm_upstream_zone_init;
    }
    slot = wm_array_push(&zd->groups);
    if (slot == NULL) {
        snprintf(err, errlen, "out of memory");
        return WM_ERROR;
    }
    *slot = g;
    g->zone = z;
    return WM_OK;
}

wm_int_t
wm_upstream_group_init(wm_cycle_t *cycle, wm_upstream_group_t *g,
                       const void *tag, char *err, size_t errlen)
{
    if (g->servers.nelts == 0) {
        snprintf(err, errlen, "no servers are inside upstream");
        return WM_ERROR;
    }
    if (g->nresolve != 0 && g->zone_name.len == 0) {
        snprintf(err, errlen,
                 "resolving names at run time requires upstream \"%s\" to "
                 "be in shared memory (\"zone\")",
                 (const char *) g->name.data);
        return WM_ERROR;
    }
    if (wm_upstream_make_peers(g) != WM_OK) {
        goto nomem;
    }
    g->local = wm_palloc(g->pool, wm_balance_group_size(g->npeers));
    if (g->local == NULL) {
        goto nomem;
    }
    wm_balance_group_init(g->local, g->nprimary, g->npeers - g->nprimary);
    wm_upstream_configure(g, g->local);
    if (g->method == WM_UPSTREAM_CHASH && wm_upstream_make_ring(g) != WM_OK) {
        goto nomem;
    }
    if (g->zone_name.len == 0) {
        g->state = g->local;
    } else if (wm_upstream_join_zone(cycle, g, tag, err, errlen) != WM_OK) {
        return WM_ERROR;
    }
    g->ready = 1;
    return WM_OK;

nomem:
    snprintf(err, errlen, "out of memory");
    return WM_ERROR;
}

wm_upstream_group_t *
wm_upstream_find(const wm_upstream_main_conf_t *umcf, const wm_str_t *name)
{
    wm_upstream_group_t **g;
    size_t i;

    if (umcf == NULL) {
        return NULL;
    }
    g = umcf->groups.elts;
    for (i = 0; i < umcf->groups.nelts; i++) {
        if (!g[i]->implicit && g[i]->name.len == name->len
            && memcmp(g[i]->name.data, name->data, name->len) == 0)
        {
            return g[i];
        }
    }
    return NULL;
}

wm_upstream_group_t *
wm_upstream_implicit(wm_cycle_t *cycle, wm_upstream_main_conf_t *umcf,
                     const wm_str_t *addr, int default_port,
                     const wm_var_def_t *const *vars, char *err, size_t errlen)
{
    wm_upstream_group_t **gs = umcf->groups.elts, *g, **slot;
    const u_char *colon;
    wm_str_t host;
    size_t i;

    for (i = 0; i < umcf->groups.nelts; i++) {
        if (gs[i]->implicit && gs[i]->default_port == default_port
            && gs[i]->name.len == addr->len
            && memcmp(gs[i]->name.data, addr->data, addr->len) == 0)
        {
            return gs[i];
        }
    }

    /* `backend:80` where `backend` is an upstream block: nginx refuses. */
    colon = addr->len ? memchr(addr->data, ':', addr->len) : NULL;
    if (colon != NULL && addr->data[0] != '['
        && !(addr->len > 5 && memcmp(addr->data, "unix:", 5) == 0))
    {
        host.data = addr->data;
        host.len = (size_t) (colon - addr->data);
        if (wm_upstream_find(umcf, &host) != NULL) {
            snprintf(err, errlen, "upstream \"%.*s\" may not have port %.*s",
                     (int) host.len, (const char *) host.data,
                     (int) (addr->len - host.len - 1),
                     (const char *) colon + 1);
            return NULL;
        }
    }

    g = wm_upstream_group_new(cycle->pool, addr, vars);
    if (g == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->implicit = 1;
    g->default_port = default_port;
    if (wm_upstream_add_server(g, &g->name, 1, default_port, err, errlen)
            != WM_OK
        || wm_upstream_group_init(cycle, g, NULL, err, errlen) != WM_OK)
    {
        return NULL;
    }
    slot = wm_array_push(&umcf->groups);
    if (slot == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    *slot = g;
    return g;
}

/* ---- the upstream module of a family ---------------------------------- */

void *
wm_upstream_main_create(wm_conf_t *cf, unsigned level,
                        const wm_module_t *module)
{
    wm_upstream_main_conf_t *umcf;

    if (level != WM_LVL_MAIN) {
        return cf->confs[WM_LVL_MAIN][module->index];
    }
    umcf = wm_pcalloc(cf->pool, sizeof(*umcf));
    if (umcf == NULL
        || wm_array_init(&umcf->groups, cf->pool, 4, sizeof(void *)) != WM_OK
        || wm_array_init(&umcf->matches, cf->pool, 2, sizeof(void *))
               != WM_OK)
    {
        return NULL;
    }
    cf->cycle->conf[module->index] = umcf;
    return umcf;
}

wm_int_t
wm_upstream_walk(wm_conf_t *cf, const wm_module_t *module, uint32_t ctx,
                 void *conf)
{
    const wm_conf_node_t *node = cf->node;
    uint32_t outer = cf->ctx;
    void **saved = cf->confs[WM_LVL_SRV], **confs;

    confs = wm_pcalloc(cf->pool, wm_modules_n * sizeof(void *));
    if (confs == NULL) {
        return WM_ERROR;
    }
    confs[module->index] = conf;
    cf->ctx = ctx;
    cf->confs[WM_LVL_SRV] = confs;
    wm_conf_walk(cf, node);
    cf->ctx = outer;
    cf->confs[WM_LVL_SRV] = saved;
    cf->node = node;
    return WM_OK;
}

const char *
wm_upstream_block(wm_conf_t *cf, wm_upstream_main_conf_t *umcf,
                  const wm_module_t *module, uint32_t ctx,
                  const wm_var_def_t *const *vars)
{
    const wm_conf_node_t *node = cf->node;
    wm_upstream_group_t *g, **slot;
    unsigned before = cf->nerrors;
    char err[WM_CONF_ERRLEN];

    if (wm_upstream_find(umcf, &node->args[0]) != NULL) {
        wm_conf_error(cf, node, "duplicate upstream \"%s\"",
                      (const char *) node->args[0].data);
        return NULL;
    }
    g = wm_upstream_group_new(cf->pool, &node->args[0], vars);
    slot = wm_array_push(&umcf->groups);
    if (g == NULL || slot == NULL) {
        return "failed: out of memory";
    }
    *slot = g;
    g->file = node->file;
    g->line = node->line;

    /* The block's directives write into the group. */
    if (wm_upstream_walk(cf, module, ctx, g) != WM_OK) {
        return "failed: out of memory";
    }
    if (cf->nerrors != before) {
        return NULL;
    }
    if (wm_upstream_group_init(cf->cycle, g, module, err, sizeof(err))
        != WM_OK)
    {
        wm_conf_error(cf, node, "%s", err);
    }
    return NULL;
}

/* ---- directive setters ------------------------------------------------ */

const char *
wm_upstream_set_server(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_upstream_group_t *g = conf;
    int port = cmd->post ? *(const int *) cmd->post : 0;
    char err[WM_CONF_ERRLEN];

    if (wm_upstream_add_server(g, cf->node->args, cf->node->nargs, port, err,
                               sizeof(err))
        != WM_OK)
    {
        /* nginx's sentences, which name the server themselves */
        wm_conf_error(cf, cf->node, "%s", err);
    }
    return NULL;
}

static const char *
wm_upstream_set_method(wm_conf_t *cf, wm_upstream_group_t *g,
                       wm_upstream_method_t method)
{
    if (g->method_set) {
        wm_conf_error(cf, cf->node, "load balancing method redefined");
        return NULL;
    }
    g->method = method;
    g->method_set = 1;
    return NULL;
}

const char *
wm_upstream_set_least_conn(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    return wm_upstream_set_method(cf, conf, WM_UPSTREAM_LEAST_CONN);
}

const char *
wm_upstream_set_hash(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_upstream_group_t *g = conf;
    const wm_conf_node_t *n = cf->node;
    wm_upstream_method_t method = WM_UPSTREAM_HASH;
    const char *rv;

    if (n->nargs == 2) {
        if (!wm_str_eq(&n->args[1], "consistent")) {
            return wm_conf_errf(cf, "has invalid parameter \"%s\"",
                                (const char *) n->args[1].data);
        }
        method = WM_UPSTREAM_CHASH;
    }
    rv = wm_cv_compile(cf->pool, &n->args[0], g->vars, &g->hash_key);
    if (rv) {
        return wm_conf_errf(cf, "has invalid value \"%s\": %s",
                            (const char *) n->args[0].data, rv);
    }
    return wm_upstream_set_method(cf, g, method);
}

const char *
wm_upstream_set_random(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    const wm_conf_node_t *n = cf->node;
    wm_upstream_method_t method = WM_UPSTREAM_RANDOM;

    if (n->nargs >= 1) {
        if (!wm_str_eq(&n->args[0], "two")) {
            return wm_conf_errf(cf, "has invalid parameter \"%s\"",
                                (const char *) n->args[0].data);
        }
        /* `random two least_conn`: the only method for two draws. */
        if (n->nargs == 2 && !wm_str_eq(&n->args[1], "least_conn")) {
            return wm_conf_errf(cf, "has invalid parameter \"%s\"",
                                (const char *) n->args[1].data);
        }
        method = WM_UPSTREAM_RANDOM_TWO;
    }
    return wm_upstream_set_method(cf, conf, method);
}

const char *
wm_upstream_set_zone(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_upstream_group_t *g = conf;
    const wm_conf_node_t *n = cf->node;
    int64_t size = 0;

    if (g->zone_name.len) {
        return "is duplicate";
    }
    if (n->args[0].len == 0) {
        return "has an empty zone name";
    }
    if (n->nargs == 2) {
        size = wm_parse_size(&n->args[1]);
        if (size < 8192 || size > ((int64_t) 1 << 40)) {
            return wm_conf_errf(cf,
                                "has invalid value \"%s\", the size "
                                "must be at least 8k",
                                (const char *) n->args[1].data);
        }
    }
    g->zone_name = n->args[0];
    g->zone_size = (size_t) size;
    return NULL;
}

/* ---- the shared copy of a group --------------------------------------- */

static size_t
wm_upstream_record_size(uint32_t npeers, size_t namelen)
{
    return wm_upstream_align(sizeof(wm_upstream_record_t))
           + wm_upstream_align(namelen)
           + wm_upstream_align(npeers * sizeof(wm_upstream_saddr_t))
           + wm_upstream_align(wm_balance_group_size(npeers));
}

static wm_upstream_saddr_t *
wm_upstream_record_addrs(wm_upstream_record_t *r)
{
    return (wm_upstream_saddr_t *) ((u_char *) r + wm_upstream_align(sizeof(*r))
                                    + wm_upstream_align(r->namelen));
}

static u_char *
wm_upstream_record_name(wm_upstream_record_t *r)
{
    return (u_char *) r + wm_upstream_align(sizeof(*r));
}

static wm_balance_group_t *
wm_upstream_record_group(wm_upstream_record_t *r)
{
    return (
        wm_balance_group_t *) ((u_char *) wm_upstream_record_addrs(r)
                               + wm_upstream_align(
                                   r->npeers * sizeof(wm_upstream_saddr_t)));
}

/* True when record r was made for g's name and exactly g's peers, with
 * the same parameters: then its state describes g. */
static bool
wm_upstream_record_matches(wm_upstream_record_t *r,
                           const wm_upstream_group_t *g)
{
    const wm_upstream_saddr_t *a;
    const wm_balance_group_t *b;
    uint32_t i;

    if (r->magic != WM_UPSTREAM_MAGIC || r->namelen != g->name.len
        || memcmp(wm_upstream_record_name(r), g->name.data, g->name.len) != 0
        || r->npeers != g->npeers || r->nprimary != g->nprimary)
    {
        return false;
    }
    a = wm_upstream_record_addrs(r);
    b = wm_upstream_record_group(r);
    for (i = 0; i < g->npeers; i++) {
        const wm_upstream_peer_t *p = &g->peer[i];
        const wm_balance_peer_t *bp = &b->peer[i], *lp = &g->local->peer[i];

        if (p->server->resolve) {
            /* The zone has what the resolver found since: keep it. */
            if (!(a[i].flags & WM_UPSTREAM_SADDR_RESOLVE)) {
                return false;
            }
        } else if (a[i].flags != 0 || a[i].socklen != p->socklen
                   || memcmp(&a[i].sockaddr, &p->sockaddr, p->socklen) != 0)
        {
            return false;
        }
        if (bp->weight != lp->weight || bp->max_fails != lp->max_fails
            || bp->max_conns != lp->max_conns || bp->down != lp->down
            || bp->fail_timeout != lp->fail_timeout)
        {
            return false;
        }
    }
    return true;
}

/* A new record for g in zone, fresh state; NULL when the zone is full. */
static wm_upstream_record_t *
wm_upstream_record_new(wm_shm_zone_t *zone, const wm_upstream_group_t *g)
{
    wm_upstream_record_t *r;
    wm_upstream_saddr_t *a;
    wm_balance_group_t *b;
    uint32_t i;

    r = wm_shm_alloc(zone, wm_upstream_record_size(g->npeers, g->name.len));
    if (r == NULL) {
        return NULL;
    }
    memset(r, 0, wm_upstream_record_size(g->npeers, g->name.len));
    r->magic = WM_UPSTREAM_MAGIC;
    r->npeers = g->npeers;
    r->nprimary = g->nprimary;
    r->namelen = (uint32_t) g->name.len;
    memcpy(wm_upstream_record_name(r), g->name.data, g->name.len);
    a = wm_upstream_record_addrs(r);
    b = wm_upstream_record_group(r);
    wm_balance_group_init(b, g->nprimary, g->npeers - g->nprimary);
    wm_upstream_configure(g, b);
    for (i = 0; i < g->npeers; i++) {
        a[i].socklen = g->peer[i].socklen;
        memcpy(&a[i].sockaddr, &g->peer[i].sockaddr, g->peer[i].socklen);
        if (g->peer[i].server->resolve) {
            a[i].flags = WM_UPSTREAM_SADDR_RESOLVE;
            atomic_store(&b->peer[i].empty, g->peer[i].socklen == 0);
        }
    }
    /* Every process copies the addresses once (its generation is 0). */
    atomic_store(&b->generation, 1);
    return r;
}

/* Forgets the verdicts of active health checks in b. */
static void
wm_upstream_clear_health(wm_balance_group_t *b)
{
    uint32_t i;

    for (i = 0; i < b->npeers; i++) {
        wm_balance_set_health(&b->peer[i], true);
        atomic_store_explicit(&b->peer[i].hc_fails, 0, memory_order_relaxed);
        atomic_store_explicit(&b->peer[i].hc_passes, 0, memory_order_relaxed);
    }
}

/*
 * The zone's init callback, in the master. A fresh zone gets its root; a
 * reused one keeps every record, since workers of the previous cycles may
 * still run on them, and an unchanged group takes its record back.
 */
static wm_int_t
wm_upstream_zone_init(wm_shm_zone_t *zone, bool reused)
{
    wm_upstream_zone_t *zd = zone->data;
    wm_upstream_group_t **gs = zd->groups.elts;
    wm_upstream_root_t *root;
    wm_upstream_record_t *r, *cand;
    uint64_t off;
    size_t i;

    root = (wm_upstream_root_t *) (zone->addr + WM_UPSTREAM_ROOT_OFFSET);
    if (!reused) {
        if (wm_shm_alloc(zone, sizeof(*root)) != root) {
            wm_log_error(WM_LOG_EMERG, wm_errlog, 0,
                         "zone \"%s\" has an unexpected layout", zone->name);
            return WM_ERROR;
        }
        root->magic = WM_UPSTREAM_MAGIC;
        root->first = 0;
    } else if (root->magic != WM_UPSTREAM_MAGIC) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, 0,
                     "zone \"%s\" holds no upstream state", zone->name);
        return WM_ERROR;
    }

    for (i = 0; i < zd->groups.nelts; i++) {
        wm_upstream_group_t *g = gs[i];

        r = NULL;
        for (off = root->first; reused && off != 0; off = cand->next) {
            if (off > zone->size - sizeof(*cand)) {
                break; /* never: records are written by the master only */
            }
            cand = (wm_upstream_record_t *) (zone->addr + off);
            if (wm_upstream_record_matches(cand, g)) {
                r = cand;
                break;
            }
        }
        if (r != NULL) {
            wm_log_error(WM_LOG_INFO, wm_errlog, 0,
                         "upstream \"%s\" keeps its state in zone \"%s\"",
                         (const char *) g->name.data, zone->name);
            if (g->health == NULL) {
                /* No check is left to bring a peer back up. */
                wm_upstream_clear_health(wm_upstream_record_group(r));
            }
        } else {
            r = wm_upstream_record_new(zone, g);
            if (r == NULL) {
                wm_log_error(WM_LOG_EMERG, wm_errlog, 0,
                             "zone \"%s\" has no room left for the changed "
                             "servers of upstream \"%s\"; a zone of another "
                             "size starts afresh",
                             zone->name, (const char *) g->name.data);
                return WM_ERROR;
            }
            r->next = root->first;
            root->first = (uint64_t) ((u_char *) r - zone->addr);
        }
        g->state = wm_upstream_record_group(r);
        g->saddrs = wm_upstream_record_addrs(r);
        g->generation = 0;
    }
    return WM_OK;
}

const char *
wm_upstream_init_zones(wm_cycle_t *cycle, const void *tag)
{
    size_t i, j, need;

    for (i = 0; i < cycle->shm_zones.nelts; i++) {
        wm_shm_zone_t *z = ((wm_shm_zone_t **) cycle->shm_zones.elts)[i];
        wm_upstream_zone_t *zd = z->data;
        wm_upstream_group_t **gs;

        if (z->tag != tag || z->init != wm_upstream_zone_init) {
            continue;
        }
        if (z->size == 0) {
            z->size = WM_UPSTREAM_ZONE_SIZE;
        }
        need = WM_UPSTREAM_ROOT_OFFSET
               + wm_upstream_align(sizeof(wm_upstream_root_t));
        gs = zd->groups.elts;
        for (j = 0; j < zd->groups.nelts; j++) {
            need += wm_upstream_record_size(gs[j]->npeers, gs[j]->name.len);
        }
        if (need > z->size) {
            return wm_psprintf(cycle->pool,
                               "zone \"%s\" is too small for its upstreams "
                               "(%zu bytes needed)",
                               z->name, need);
        }
    }
    return NULL;
}

/* ---- run time --------------------------------------------------------- */

wm_msec_t
wm_upstream_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (wm_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The random source of `random`: one state per process, seeded anew in
 * a forked child (pthread_atfork) so that workers draw different
 * sequences, without a getpid() on every pick. */
static uint64_t wm_upstream_rand;
static bool wm_upstream_rand_seeded;

static void
wm_upstream_rand_forked(void)
{
    wm_upstream_rand_seeded = false;
}

static void *
wm_upstream_rand_state(void)
{
    static bool registered;
    struct timespec ts;

    if (!registered) {
        registered = pthread_atfork(NULL, NULL, wm_upstream_rand_forked) == 0;
    }
    if (!wm_upstream_rand_seeded) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        wm_upstream_rand = ((uint64_t) getpid() << 32) ^ (uint64_t) ts.tv_nsec
                           ^ ((uint64_t) ts.tv_sec << 20);
        /* Without the fork handler, seed on every pick (still correct). */
        wm_upstream_rand_seeded = registered;
    }
    return &wm_upstream_rand;
}

wm_int_t
wm_upstream_pick_init(wm_upstream_pick_t *pk, wm_upstream_group_t *g, void *r,
                      wm_pool_t *pool)
{
    wm_str_t key;

    memset(pk, 0, sizeof(*pk));
    pk->group = g;
    pk->current = -1;
    pk->tried =
        wm_pcalloc(pool, WM_BALANCE_TRIED_WORDS(g->npeers) * sizeof(uint64_t));
    if (pk->tried == NULL) {
        return WM_ERROR;
    }
    if (g->method == WM_UPSTREAM_HASH || g->method == WM_UPSTREAM_CHASH) {
        if (wm_cv_eval(&g->hash_key, r, pool, &key) != WM_OK) {
            return WM_ERROR;
        }
        pk->hash = wm_hash(key.data, key.len, 0);
    }
    return WM_OK;
}

const wm_upstream_peer_t *
wm_upstream_pick(wm_upstream_pick_t *pk)
{
    wm_upstream_group_t *g = pk->group;
    wm_balance_ctx_t ctx;
    wm_int_t i;

    if (g->state == NULL || pk->current >= 0) {
        pk->reason = WM_BALANCE_ALL_DOWN;
        return NULL;
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.now = wm_upstream_now();
    ctx.hash = pk->hash;
    ctx.ring = g->ring;
    if (g->method == WM_UPSTREAM_RANDOM || g->method == WM_UPSTREAM_RANDOM_TWO)
    {
        ctx.rand = wm_balance_rand_next;
        ctx.rand_data = wm_upstream_rand_state();
    }

    if (g->zone) {
        wm_shm_lock(g->zone);
        wm_upstream_sync(g);
    }
    i = wm_upstream_selects[g->method](g->state, pk->tried, &ctx);
    if (g->zone) {
        wm_shm_unlock(g->zone);
    }
    if (i < 0) {
        pk->reason = ctx.reason;
        return NULL;
    }
    pk->current = i;
    pk->tries++;
    pk->reason = WM_BALANCE_OK;
    return &g->peer[i];
}

void
wm_upstream_sync(wm_upstream_group_t *g)
{
    unsigned gen;
    uint32_t i;

    if (g->saddrs == NULL || g->nresolve == 0) {
        return;
    }
    gen = atomic_load_explicit(&g->state->generation, memory_order_acquire);
    if (gen == g->generation) {
        return;
    }
    for (i = 0; i < g->npeers; i++) {
        wm_upstream_peer_t *p = &g->peer[i];
        const wm_upstream_saddr_t *a = &g->saddrs[i];

        if (!(a->flags & WM_UPSTREAM_SADDR_RESOLVE)
            || a->socklen > sizeof(p->sockaddr))
        {
            continue;
        }
        memset(&p->sockaddr, 0, sizeof(p->sockaddr));
        memcpy(&p->sockaddr, &a->sockaddr, a->socklen);
        p->socklen = a->socklen;
        /* The buffer exists: this cannot fail. */
        (void) wm_upstream_name_peer(g, p);
    }
    g->generation = gen;
}

const wm_upstream_peer_t *
wm_upstream_current(const wm_upstream_pick_t *pk)
{
    return pk->current >= 0 ? &pk->group->peer[pk->current] : NULL;
}

void
wm_upstream_release(wm_upstream_pick_t *pk, wm_upstream_result_t result,
                    wm_log_t *log)
{
    wm_balance_peer_t *p;
    uint32_t i;

    if (pk->current < 0) {
        return;
    }
    i = (uint32_t) pk->current;
    p = &pk->group->state->peer[i];
    pk->current = -1;
    wm_balance_peer_release(p);

    switch (result) {
    case WM_UPSTREAM_OK:
        wm_balance_record_success(p);
        break;
    case WM_UPSTREAM_FAILED:
        wm_balance_tried_set(pk->tried, i);
        wm_balance_record_failure(p, wm_upstream_now());
        if (p->max_fails != 0
            && atomic_load_explicit(&p->fails, memory_order_relaxed)
                   >= p->max_fails)
        {
            wm_log_error(WM_LOG_WARN, log, 0,
                         "upstream server temporarily disabled");
        }
        break;
    case WM_UPSTREAM_ABORTED:
        break;
    }
}
