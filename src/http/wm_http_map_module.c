/*
 * `map $source $variable { ... }` in http: each map defines a variable
 * whose value is looked up in its table (wm_map.c) the first time a
 * request uses it, then kept for the rest of the request (unless the map
 * is `volatile`). Regex keys run through the http regex code, so their
 * captures are $1..$9 and named variables as for locations.
 */
#include "wm_http.h"

#include "wm_log.h"
#include "wm_map.h"

/* The maps of the http block (wm_map_var_t *), in
 * cycle->conf[wm_http_map_module.index]: the module has no per-level
 * conf. A request keeps its values (wm_map_value_t, one per map) in
 * r->ctx. */

static const char *wm_http_map_block(wm_conf_t *cf, const wm_command_t *cmd,
                                     void *conf);
static const char *wm_http_map_hash_size(wm_conf_t *cf,
                                         const wm_command_t *cmd, void *conf);

static const wm_command_t wm_http_map_commands[] = {
    {"map", WM_CTX_HTTP, 2, 2, WM_CMD_BLOCK | WM_CMD_MULTI, WM_LVL_MAIN,
     wm_http_map_block, 0, NULL, "-",
     "$source $variable { key value; ... }: a variable looked up in a table"},
    {"map_hash_bucket_size", WM_CTX_HTTP, 1, 1, 0, WM_LVL_MAIN,
     wm_http_map_hash_size, 0, NULL, "-",
     "size: accepted for nginx configs; wmproxy sizes its tables itself"},
    {"map_hash_max_size", WM_CTX_HTTP, 1, 1, 0, WM_LVL_MAIN,
     wm_http_map_hash_size, 0, NULL, "-",
     "size: accepted for nginx configs; wmproxy sizes its tables itself"},
    wm_null_command,
};

wm_module_t wm_http_map_module = {
    .name = "http_map",
    .family = WM_MOD_HTTP,
    .commands = wm_http_map_commands,
};

/* ---- variables ------------------------------------------------------------ */

/* The map variables of the http block being loaded (config time only). */
static wm_map_names_t wm_http_map_names;

static bool
wm_http_map_known(const wm_str_t *name)
{
    return wm_map_names_has(&wm_http_map_names, name);
}

const char *
wm_http_map_vars_init(const wm_conf_node_t *http)
{
    wm_map_names_reset(&wm_http_map_names);
    return wm_map_names_collect(&wm_http_map_names, http, "map", 1, false);
}

static wm_int_t
wm_http_map_var(void *data, const wm_str_t *arg, uintptr_t unused,
                wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;
    wm_array_t *maps = wm_cycle->conf[wm_http_map_module.index];
    wm_int_t rc;

    if (r->ctx[wm_http_map_module.index] == NULL) {
        r->ctx[wm_http_map_module.index] = wm_map_values_new(maps, r->pool);
        if (r->ctx[wm_http_map_module.index] == NULL) {
            return WM_ERROR;
        }
    }
    rc = wm_map_var_value(maps, r->ctx[wm_http_map_module.index], arg, r,
                          r->pool, v);
    if (rc == WM_BUSY) {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "the map of \"$%.*s\" uses its own value", (int) arg->len,
                     (const char *) arg->data);
        return WM_DECLINED;
    }
    return rc;
}

const wm_var_def_t wm_http_map_vars[] = {
    {"", wm_http_map_var, 0, 0, wm_http_map_known},
    {NULL, NULL, 0, 0, NULL},
};

/* ---- regexes ---------------------------------------------------------------- */

static const char *
wm_http_map_re_compile(wm_pool_t *pool, const wm_str_t *pattern,
                       bool caseless, void **re)
{
    wm_http_regex_t *hre = wm_pcalloc(pool, sizeof(*hre));

    if (hre == NULL) {
        return "failed: out of memory";
    }
    *re = hre;
    return wm_http_regex_compile(pool, pattern, caseless, hre);
}

static int
wm_http_map_re_exec(void *re, const wm_str_t *subject, void *r)
{
    return wm_http_regex_exec(re, subject, r);
}

static const wm_map_regex_ops_t wm_http_map_re_ops = {
    .compile = wm_http_map_re_compile,
    .exec = wm_http_map_re_exec,
};

/* ---- directives ---------------------------------------------------------- */

static const char *
wm_http_map_block(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_array_t *maps = cf->cycle->conf[wm_http_map_module.index];
    const char *rv = wm_map_block(cf, &maps, wm_http_var_tables,
                                  wm_http_map_var, &wm_http_map_re_ops);

    cf->cycle->conf[wm_http_map_module.index] = maps;
    return rv;
}

/* map_hash_bucket_size and map_hash_max_size: the value is checked and
 * dropped, since the tables of wmproxy's maps need no tuning. */
static const char *
wm_http_map_hash_size(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    return wm_map_hash_size(cf);
}
