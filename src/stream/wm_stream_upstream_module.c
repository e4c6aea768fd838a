/*
 * `upstream name { ... }` in the stream block: the directives of a group
 * (server, least_conn, hash, random, zone, health_check) wired to the core
 * upstream layer with the stream variables, so that `proxy_pass name;`
 * can balance over the group, and the `match` blocks of stream health
 * checks. The groups and their zones belong to the cycle; the workers run
 * the health checks (wm_health.c).
 */
#include "wm_stream.h"

#include "wm_health.h"
#include "wm_resolver.h"
#include "wm_upstream.h"

static void *wm_stream_upstream_create(wm_conf_t *cf, unsigned level);
static const char *wm_stream_upstream_init(wm_cycle_t *cycle, void *conf);
static const char *wm_stream_upstream_merge(wm_conf_t *cf, void *prev,
                                            void *conf, unsigned level);
static wm_int_t wm_stream_upstream_init_worker(wm_cycle_t *cycle);
static void wm_stream_upstream_exit_worker(wm_cycle_t *cycle);
static const char *
wm_stream_upstream_block(wm_conf_t *cf, const wm_command_t *cmd, void *conf);
static const char *wm_stream_upstream_health_check(wm_conf_t *cf,
                                                   const wm_command_t *cmd,
                                                   void *conf);
static const char *wm_stream_upstream_match(wm_conf_t *cf,
                                            const wm_command_t *cmd,
                                            void *conf);

static const wm_command_t wm_stream_upstream_commands[] = {
    {"upstream", WM_CTX_STREAM, 1, 1, WM_CMD_BLOCK | WM_CMD_MULTI, WM_LVL_MAIN,
     wm_stream_upstream_block, 0, NULL, "-",
     "a group of servers for proxy_pass, with its balancing method"},
    {"server", WM_CTX_STREAM_UPS, 1, WM_ARGS_MANY, WM_CMD_MULTI, WM_LVL_SRV,
     wm_upstream_set_server, 0, NULL, "-",
     "address:port or unix:path, with weight=, max_fails=, fail_timeout=, "
     "max_conns=, backup, down, resolve"},
    {"resolver", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, WM_ARGS_MANY, 0,
     WM_LVL_MAIN, wm_resolver_set, 0, NULL, "-",
     "name servers for `server ... resolve`, with valid= and ipv6="},
    {"resolver", WM_CTX_STREAM_UPS, 1, WM_ARGS_MANY, 0, WM_LVL_SRV,
     wm_resolver_set_ups, 0, NULL, "-",
     "name servers for this group's `server ... resolve`"},
    {"resolver_timeout", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0,
     WM_LVL_MAIN, wm_resolver_set_timeout, 0, NULL, "30s",
     "how long a name server may take to answer"},
    {"resolver_timeout", WM_CTX_STREAM_UPS, 1, 1, 0, WM_LVL_SRV,
     wm_resolver_set_ups_timeout, 0, NULL, "30s",
     "how long a name server may take to answer, for this group"},
    {"least_conn", WM_CTX_STREAM_UPS, 0, 0, 0, WM_LVL_SRV,
     wm_upstream_set_least_conn, 0, NULL, "-",
     "pick the server with the fewest connections for its weight"},
    {"hash", WM_CTX_STREAM_UPS, 1, 2, 0, WM_LVL_SRV, wm_upstream_set_hash, 0,
     NULL, "-", "pick the server by a hash of a key, optionally consistent"},
    {"random", WM_CTX_STREAM_UPS, 0, 2, 0, WM_LVL_SRV, wm_upstream_set_random,
     0, NULL, "-",
     "pick a random server, or the less loaded of two (two [least_conn])"},
    {"zone", WM_CTX_STREAM_UPS, 1, 2, 0, WM_LVL_SRV, wm_upstream_set_zone, 0,
     NULL, "-", "share the group's state between workers in a zone"},
    {"health_check", WM_CTX_STREAM_UPS, 0, 8, 0, WM_LVL_SRV,
     wm_stream_upstream_health_check, 0, NULL, "-",
     "check the servers actively: interval=, jitter=, fails=, passes=, "
     "timeout=, port=, udp, match="},
    {"match", WM_CTX_STREAM, 1, 1, WM_CMD_BLOCK | WM_CMD_MULTI, WM_LVL_MAIN,
     wm_stream_upstream_match, 0, NULL, "-",
     "what a health check sends and expects (send, expect)"},
    {"send", WM_CTX_STREAM_MATCH, 1, 1, 0, WM_LVL_SRV,
     wm_health_match_set_send, 0, NULL, "-",
     "bytes a health check sends, with \\r \\n \\t \\xHH escapes"},
    {"expect", WM_CTX_STREAM_MATCH, 1, 2, 0, WM_LVL_SRV,
     wm_health_match_set_expect, 0, NULL, "-",
     "the reply a health check expects: \"prefix\" or ~ \"regex\""},
    wm_null_command,
};

wm_module_t wm_stream_upstream_module = {
    .name = "stream_upstream",
    .family = WM_MOD_STREAM,
    .commands = wm_stream_upstream_commands,
    .create_conf = wm_stream_upstream_create,
    .merge_conf = wm_stream_upstream_merge,
    .init_conf = wm_stream_upstream_init,
    .init_worker = wm_stream_upstream_init_worker,
    .exit_worker = wm_stream_upstream_exit_worker,
};

/* ---- configuration ---------------------------------------------------- */

static void *
wm_stream_upstream_create(wm_conf_t *cf, unsigned level)
{
    return wm_upstream_main_create(cf, level, &wm_stream_upstream_module);
}

static const char *
wm_stream_upstream_block(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    return wm_upstream_block(cf, conf, &wm_stream_upstream_module,
                             WM_CTX_STREAM_UPS, wm_stream_var_tables);
}

/*
 * `health_check [interval=T] [jitter=T] [fails=N] [passes=N] [timeout=T]
 * [port=N] [udp] [match=NAME];` in an upstream block. The match and the
 * zone are checked once the whole stream block is known (merge).
 */
static const char *
wm_stream_upstream_health_check(wm_conf_t *cf, const wm_command_t *cmd,
                                void *conf)
{
    wm_upstream_group_t *g = conf;
    const wm_conf_node_t *n = cf->node;
    wm_health_conf_t *hc;
    char err[WM_CONF_ERRLEN];
    wm_int_t rc;
    size_t i;

    if (g->health) {
        return "is duplicate";
    }
    hc = wm_health_conf_new(cf->pool);
    if (hc == NULL) {
        return "failed: out of memory";
    }
    hc->file = n->file;
    hc->line = n->line;
    for (i = 0; i < n->nargs; i++) {
        rc = wm_health_parse_param(hc, &n->args[i], err, sizeof(err));
        if (rc == WM_ERROR) {
            return wm_conf_errf(cf, "has %s", err);
        }
        if (rc == WM_DECLINED) {
            if (!wm_str_eq(&n->args[i], "udp")) {
                return wm_conf_errf(cf, "has invalid parameter \"%s\"",
                                    (const char *) n->args[i].data);
            }
            hc->udp = 1;
        }
    }
    g->health = hc;
    return NULL;
}

/* `match name { send ...; expect ...; }` at stream level. */
static const char *
wm_stream_upstream_match(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_upstream_main_conf_t *umcf = conf;
    const wm_conf_node_t *node = cf->node;
    wm_health_match_t *m, **slot;

    if (wm_health_match_find(&umcf->matches, &node->args[0]) != NULL) {
        return wm_conf_errf(cf, "has duplicate match \"%s\"",
                            (const char *) node->args[0].data);
    }
    m = wm_health_match_new(cf->pool, &node->args[0]);
    slot = wm_array_push(&umcf->matches);
    if (m == NULL || slot == NULL) {
        return "failed: out of memory";
    }
    *slot = m;
    m->file = node->file;
    m->line = node->line;
    if (wm_upstream_walk(cf, &wm_stream_upstream_module, WM_CTX_STREAM_MATCH, m)
        != WM_OK) {
        return "failed: out of memory";
    }
    return NULL;
}

/* Resolves the health checks not resolved yet; errors go to cf at their
 * directive when cf is given, else the first one is returned. */
static const char *
wm_stream_upstream_resolve(wm_conf_t *cf, wm_upstream_main_conf_t *umcf)
{
    wm_upstream_group_t **gs = umcf->groups.elts;
    char err[WM_CONF_ERRLEN];
    const char *rv;
    size_t i;

    for (i = 0; i < umcf->groups.nelts; i++) {
        wm_health_conf_t *hc = gs[i]->health;

        if (hc == NULL || hc->type != NULL) {
            continue;
        }
        rv = wm_health_match_resolve(gs[i], &umcf->matches, err, sizeof(err));
        if (rv == NULL) {
            continue;
        }
        if (cf == NULL) {
            return wm_psprintf(umcf->groups.pool, "%s", rv);
        }
        wm_conf_node_t at = {.file = hc->file, .line = hc->line};
        wm_conf_error(cf, &at, "%s", rv);
    }
    return NULL;
}

/*
 * Called for each stream server once the stream block is parsed (the
 * conf of every level is the main one): the first call resolves the
 * health checks, reporting errors at their lines as proxy_pass does.
 */
static const char *
wm_stream_upstream_merge(wm_conf_t *cf, void *prev, void *conf,
                         unsigned level)
{
    return wm_stream_upstream_resolve(cf, conf);
}

static const char *
wm_stream_upstream_init(wm_cycle_t *cycle, void *conf)
{
    const char *rv;

    if (conf == NULL) {
        return NULL; /* no stream block */
    }
    /* A stream block without servers has had no merge. */
    rv = wm_stream_upstream_resolve(NULL, conf);
    if (rv == NULL) {
        rv = wm_resolver_check(cycle->pool, conf);
    }
    if (rv) {
        return rv;
    }
    return wm_upstream_init_zones(cycle, &wm_stream_upstream_module);
}

static wm_int_t
wm_stream_upstream_init_worker(wm_cycle_t *cycle)
{
    if (wm_resolver_start(cycle, cycle->conf[wm_stream_upstream_module.index])
        != WM_OK)
    {
        return WM_ERROR;
    }
    return wm_health_start(cycle,
                           cycle->conf[wm_stream_upstream_module.index]);
}

static void
wm_stream_upstream_exit_worker(wm_cycle_t *cycle)
{
    wm_health_stop();
    wm_resolver_stop();
}
