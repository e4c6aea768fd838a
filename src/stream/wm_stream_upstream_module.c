/*
 * `upstream name { ... }` in the stream block: the directives of a group
 * (server, least_conn, hash, random, zone) wired to the core upstream
 * layer with the stream variables, so that `proxy_pass name;` can balance
 * over the group. The groups and their zones belong to the cycle.
 */
#include "wm_stream.h"

#include "wm_upstream.h"

static void *wm_stream_upstream_create(wm_conf_t *cf, unsigned level);
static const char *wm_stream_upstream_init(wm_cycle_t *cycle, void *conf);
static const char *
wm_stream_upstream_block(wm_conf_t *cf, const wm_command_t *cmd, void *conf);

static const wm_command_t wm_stream_upstream_commands[] = {
    {"upstream", WM_CTX_STREAM, 1, 1, WM_CMD_BLOCK | WM_CMD_MULTI, WM_LVL_MAIN,
     wm_stream_upstream_block, 0, NULL, "-",
     "a group of servers for proxy_pass, with its balancing method"},
    {"server", WM_CTX_STREAM_UPS, 1, WM_ARGS_MANY, WM_CMD_MULTI, WM_LVL_SRV,
     wm_upstream_set_server, 0, NULL, "-",
     "address:port or unix:path, with weight=, max_fails=, fail_timeout=, "
     "max_conns=, backup, down"},
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
    wm_null_command,
};

wm_module_t wm_stream_upstream_module = {
    .name = "stream_upstream",
    .family = WM_MOD_STREAM,
    .commands = wm_stream_upstream_commands,
    .create_conf = wm_stream_upstream_create,
    .init_conf = wm_stream_upstream_init,
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

static const char *
wm_stream_upstream_init(wm_cycle_t *cycle, void *conf)
{
    if (conf == NULL) {
        return NULL; /* no stream block */
    }
    return wm_upstream_init_zones(cycle, &wm_stream_upstream_module);
}
