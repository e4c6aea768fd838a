/*
 * limit_conn in stream, as nginx's module: `limit_conn_zone key
 * zone=name:size` declares a shared table of connection counts by key
 * (typically $binary_remote_addr), `limit_conn name number` caps the
 * sessions one key may have open at once in a server. A session over a
 * limit is closed at once with status 503 and a log line at
 * limit_conn_log_level; its count is given back when the session is
 * freed. It runs first after accept (and after a PROXY header), before
 * allow/deny, as nginx's preaccess phase does. An empty key is not
 * limited; neither is one longer than 64 bytes (logged).
 */
#include "wm_stream.h"

#include "wm_conn_limit.h"
#include "wm_log.h"
#include "wm_shm.h"

#include <string.h>

/* Where the table starts in its zone: after the zone's header (the bump
 * allocator is not used: the table takes the rest of the zone). */
#define WM_LIMIT_TABLE_OFFSET 64
#define WM_LIMIT_ZONE_MIN (16 * 1024)

typedef struct {
    wm_str_t name;
    wm_cv_t key;
    size_t size;
    wm_shm_zone_t *shm;
    wm_climit_table_t *table; /* set by the zone's init, in the master */
} wm_stream_limit_zone_t;

typedef struct {
    wm_stream_limit_zone_t *zone;
    uint32_t number;
} wm_stream_limit_t;

typedef struct {
    wm_array_t *zones;  /* main level: wm_stream_limit_zone_t * */
    wm_array_t *limits; /* wm_stream_limit_t; NULL: inherit */
    wm_int_t log_level;
} wm_stream_limit_conf_t;

/* The counts a session holds, given back by a cleanup of its pool. */
typedef struct {
    wm_stream_limit_t *limit;
    uint32_t slot;
} wm_stream_limit_held_t;

typedef struct {
    size_t n;
    wm_stream_limit_held_t held[];
} wm_stream_limit_ctx_t;

static void *wm_stream_limit_create(wm_conf_t *cf, unsigned level);
static const char *wm_stream_limit_merge(wm_conf_t *cf, void *prev, void *conf,
                                         unsigned level);
static const char *wm_stream_limit_zone(wm_conf_t *cf, const wm_command_t *cmd,
                                        void *conf);
static const char *wm_stream_limit_conn(wm_conf_t *cf, const wm_command_t *cmd,
                                        void *conf);

static const wm_conf_enum_t wm_stream_limit_levels[] = {
    {"info", WM_LOG_INFO},
    {"notice", WM_LOG_NOTICE},
    {"warn", WM_LOG_WARN},
    {"error", WM_LOG_ERR},
    {NULL, 0},
};

static const wm_command_t wm_stream_limit_commands[] = {
    {"limit_conn_zone", WM_CTX_STREAM, 2, 2, WM_CMD_MULTI, WM_LVL_SRV,
     wm_stream_limit_zone, 0, NULL, "-",
     "a shared table of connection counts by key: key zone=name:size"},
    {"limit_conn", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 2, 2, WM_CMD_MULTI,
     WM_LVL_SRV, wm_stream_limit_conn, 0, NULL, "-",
     "most sessions one key of a zone may have open at once"},
    {"limit_conn_log_level", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0,
     WM_LVL_SRV, wm_conf_set_enum,
     offsetof(wm_stream_limit_conf_t, log_level), wm_stream_limit_levels,
     "error", "level of the log line of a session refused by limit_conn"},
    wm_null_command,
};

wm_module_t wm_stream_limit_conn_module = {
    .name = "stream_limit_conn",
    .family = WM_MOD_STREAM,
    .commands = wm_stream_limit_commands,
    .create_conf = wm_stream_limit_create,
    .merge_conf = wm_stream_limit_merge,
};

static void
wm_stream_limit_release(void *data)
{
    wm_stream_limit_ctx_t *ctx = data;
    size_t i;

    for (i = 0; i < ctx->n; i++) {
        wm_stream_limit_zone_t *z = ctx->held[i].limit->zone;

        wm_shm_lock(z->shm);
        wm_climit_release(z->table, ctx->held[i].slot);
        wm_shm_unlock(z->shm);
    }
    ctx->n = 0;
}

void
wm_stream_limit_conn_handler(wm_stream_session_t *s)
{
    wm_stream_limit_conf_t *lcf =
        wm_stream_srv_conf(s->srv, wm_stream_limit_conn_module);
    wm_stream_limit_t *limits;
    wm_stream_limit_ctx_t *ctx;
    size_t i;

    if (lcf->limits == NULL || lcf->limits->nelts == 0) {
        wm_stream_access_handler(s);
        return;
    }
    limits = lcf->limits->elts;
    ctx = wm_pcalloc(s->pool, sizeof(*ctx) + lcf->limits->nelts
                                                * sizeof(ctx->held[0]));
    if (ctx == NULL
        || wm_pool_cleanup_add(s->pool, wm_stream_limit_release, ctx)
               != WM_OK)
    {
        wm_stream_finalize(s, 500);
        return;
    }
    for (i = 0; i < lcf->limits->nelts; i++) {
        wm_stream_limit_zone_t *z = limits[i].zone;
        wm_str_t key;
        wm_int_t rc;
        uint32_t slot;

        if (wm_cv_eval(&z->key, s, s->pool, &key) != WM_OK) {
            wm_stream_finalize(s, 500);
            return;
        }
        if (key.len == 0) {
            continue;
        }
        if (key.len > WM_CLIMIT_KEY_MAX) {
            wm_log_error(WM_LOG_ERR, &s->log, 0,
                         "the value of the limit_conn key of zone \"%s\" is "
                         "more than %d bytes: not limited",
                         (const char *) z->name.data, WM_CLIMIT_KEY_MAX);
            continue;
        }
        wm_shm_lock(z->shm);
        rc = wm_climit_acquire(z->table, key.data, key.len, limits[i].number,
                               &slot);
        wm_shm_unlock(z->shm);
        if (rc == WM_OK) {
            ctx->held[ctx->n].limit = &limits[i];
            ctx->held[ctx->n].slot = slot;
            ctx->n++;
            continue;
        }
        if (rc == WM_DECLINED) {
            wm_log_error((unsigned) lcf->log_level, &s->log, 0,
                         "limiting connections by zone \"%s\"",
                         (const char *) z->name.data);
        } else {
            wm_log_error(WM_LOG_ALERT, &s->log, 0,
                         "could not count a connection in zone \"%s\": the "
                         "zone is full",
                         (const char *) z->name.data);
        }
        wm_stream_finalize(s, 503);
        return;
    }
    wm_stream_access_handler(s);
}

/* $binary_remote_addr: the client's address as 4 or 16 bytes (unix
 * sockets: empty). */
static wm_int_t
wm_stream_limit_var_binary(void *r, const wm_str_t *arg, uintptr_t data,
                           wm_pool_t *pool, wm_str_t *v)
{
    wm_stream_session_t *s = r;
    const void *a = NULL;
    size_t n = 0;

    if (s->peer.ss_family == AF_INET) {
        a = &((const struct sockaddr_in *) &s->peer)->sin_addr;
        n = 4;
    } else if (s->peer.ss_family == AF_INET6) {
        a = &((const struct sockaddr_in6 *) &s->peer)->sin6_addr;
        n = 16;
    }
    v->data = n ? wm_palloc(pool, n) : (u_char *) "";
    if (v->data == NULL) {
        return WM_ERROR;
    }
    if (n) {
        memcpy(v->data, a, n);
    }
    v->len = n;
    return WM_OK;
}

const wm_var_def_t wm_stream_limit_conn_vars[] = {
    {"binary_remote_addr", wm_stream_limit_var_binary, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL},
};

/* ---- configuration ---------------------------------------------------- */

static wm_int_t
wm_stream_limit_zone_init(wm_shm_zone_t *shm, bool reused)
{
    wm_stream_limit_zone_t *z = shm->data;
    u_char *p = shm->addr + WM_LIMIT_TABLE_OFFSET;
    size_t size = shm->size - WM_LIMIT_TABLE_OFFSET;

    if (reused) {
        /* counts held by the previous cycle's sessions stay */
        z->table = (wm_climit_table_t *) p;
        return WM_OK;
    }
    z->table = wm_climit_init(p, size);
    if (z->table == NULL) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, 0, "zone \"%s\" is too small",
                     shm->name);
        return WM_ERROR;
    }
    return WM_OK;
}

static const char *
wm_stream_limit_zone(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_stream_limit_conf_t *lcf = conf;
    const wm_str_t *args = cf->node->args;
    wm_stream_limit_zone_t *z, **slot, **zs;
    char err[WM_CONF_ERRLEN];
    wm_str_t size;
    const u_char *colon;
    int64_t n;
    const char *rv;
    size_t i;

    if (args[1].len <= 5 || memcmp(args[1].data, "zone=", 5) != 0) {
        return wm_conf_errf(cf, "has invalid parameter \"%s\"",
                            (const char *) args[1].data);
    }
    z = wm_pcalloc(cf->pool, sizeof(*z));
    if (z == NULL) {
        return "failed: out of memory";
    }
    z->name.data = args[1].data + 5;
    colon = memchr(z->name.data, ':', args[1].len - 5);
    if (colon == NULL || colon == z->name.data) {
        return wm_conf_errf(cf, "has invalid zone size \"%s\"",
                            (const char *) args[1].data);
    }
    z->name.len = (size_t) (colon - z->name.data);
    z->name.data = (u_char *) wm_pstrndup(cf->pool, z->name.data, z->name.len);
    size.data = (u_char *) colon + 1;
    size.len = args[1].len - 5 - z->name.len - 1;
    n = wm_parse_size(&size);
    if (n < WM_LIMIT_ZONE_MIN) {
        return wm_conf_errf(cf, "has invalid zone size \"%s\" (16k at least)",
                            (const char *) args[1].data);
    }
    z->size = (size_t) n;
    if (lcf->zones == NULL) {
        lcf->zones = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (lcf->zones == NULL
            || wm_array_init(lcf->zones, cf->pool, 2, sizeof(void *)) != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    zs = lcf->zones->elts;
    for (i = 0; i < lcf->zones->nelts; i++) {
        if (wm_str_eq(&zs[i]->name, (const char *) z->name.data)) {
            if (zs[i]->size) {
                return wm_conf_errf(cf, "duplicate zone \"%s\"",
                                    (const char *) z->name.data);
            }
            /* named by a limit_conn above: this is its declaration */
            zs[i]->size = z->size;
            z = zs[i];
            break;
        }
    }
    rv = wm_cv_compile(cf->pool, &args[0], wm_stream_var_tables, &z->key);
    if (rv) {
        return rv;
    }
    z->shm = wm_shm_add(cf->cycle, (const char *) z->name.data, z->size,
                        &wm_stream_limit_conn_module, err, sizeof(err));
    if (z->shm == NULL) {
        return wm_conf_errf(cf, "failed: %s", err);
    }
    if (z->shm->data) {
        return wm_conf_errf(cf, "duplicate zone \"%s\"",
                            (const char *) z->name.data);
    }
    z->shm->size = z->size;
    z->shm->data = z;
    z->shm->init = wm_stream_limit_zone_init;
    if (i == lcf->zones->nelts) {
        slot = wm_array_push(lcf->zones);
        if (slot == NULL) {
            return "failed: out of memory";
        }
        *slot = z;
    }
    return NULL;
}

static const char *
wm_stream_limit_conn(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_stream_limit_conf_t *lcf = conf;
    wm_stream_limit_conf_t *mcf =
        cf->confs[WM_LVL_MAIN][wm_stream_limit_conn_module.index];
    const wm_str_t *args = cf->node->args;
    wm_stream_limit_zone_t **zs;
    wm_stream_limit_t *l;
    int64_t n;
    size_t i;

    /* At stream level the main conf is this conf: zones are declared in
     * it before the limits that use them. */
    if (mcf == NULL) {
        mcf = lcf;
    }
    zs = mcf->zones ? mcf->zones->elts : NULL;
    for (i = 0; zs && i < mcf->zones->nelts; i++) {
        if (wm_str_eq(&args[0], (const char *) zs[i]->name.data)) {
            break;
        }
    }
    if (zs == NULL || i == mcf->zones->nelts) {
        /* declared further down, or never: the merge tells */
        wm_stream_limit_zone_t *z = wm_pcalloc(cf->pool, sizeof(*z)), **slot;

        if (z == NULL
            || (mcf->zones == NULL
                && ((mcf->zones = wm_palloc(cf->pool, sizeof(wm_array_t)))
                        == NULL
                    || wm_array_init(mcf->zones, cf->pool, 2, sizeof(void *))
                           != WM_OK))
            || (slot = wm_array_push(mcf->zones)) == NULL)
        {
            return "failed: out of memory";
        }
        z->name.data = (u_char *) wm_pstrndup(cf->pool, args[0].data,
                                              args[0].len);
        z->name.len = args[0].len;
        *slot = z;
        zs = mcf->zones->elts;
        i = mcf->zones->nelts - 1;
    }
    n = wm_parse_size(&args[1]); /* a plain number */
    if (n <= 0 || n > 65535) {
        return wm_conf_errf(cf, "has invalid number of connections \"%s\"",
                            (const char *) args[1].data);
    }
    if (lcf->limits == NULL) {
        lcf->limits = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (lcf->limits == NULL
            || wm_array_init(lcf->limits, cf->pool, 2, sizeof(*l)) != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    l = lcf->limits->elts;
    for (size_t j = 0; j < lcf->limits->nelts; j++) {
        if (l[j].zone == zs[i]) {
            return "is duplicate";
        }
    }
    l = wm_array_push(lcf->limits);
    if (l == NULL) {
        return "failed: out of memory";
    }
    l->zone = zs[i];
    l->number = (uint32_t) n;
    return NULL;
}

static void *
wm_stream_limit_create(wm_conf_t *cf, unsigned level)
{
    wm_stream_limit_conf_t *lcf = wm_pcalloc(cf->pool, sizeof(*lcf));

    if (lcf) {
        lcf->log_level = WM_CONF_UNSET;
    }
    return lcf;
}

static const char *
wm_stream_limit_merge(wm_conf_t *cf, void *parent, void *child, unsigned level)
{
    wm_stream_limit_conf_t *prev = parent, *conf = child;

    wm_stream_limit_t *l;
    size_t i;

    if (conf->limits == NULL) {
        conf->limits = prev->limits;
    }
    wm_conf_merge_value(conf->log_level, prev->log_level, WM_LOG_ERR);
    l = conf->limits ? conf->limits->elts : NULL;
    for (i = 0; l && i < conf->limits->nelts; i++) {
        if (l[i].zone->size == 0) {
            return wm_conf_errf(cf, "has \"limit_conn\" with unknown "
                                    "limit_conn_zone \"%s\"",
                                (const char *) l[i].zone->name.data);
        }
    }
    return NULL;
}
