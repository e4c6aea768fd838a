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

/* One map block. */
typedef struct {
    wm_str_t name;   /* the variable, without '$' */
    wm_cv_t source;
    wm_map_t map;
} wm_http_map_t;

/* The maps of the http block, in cycle->conf[wm_http_map_module.index]
 * (the module has no per-level conf). */
typedef struct {
    wm_array_t maps; /* wm_http_map_t * */
} wm_http_map_conf_t;

/* A value cached for one request; an array of one per map in r->ctx. */
typedef enum {
    WM_HTTP_MAP_UNSET = 0,
    WM_HTTP_MAP_BUSY,  /* being evaluated: a use now is a cycle */
    WM_HTTP_MAP_DONE,
} wm_http_map_state_e;

typedef struct {
    wm_str_t value;
    wm_http_map_state_e state;
} wm_http_map_value_t;

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
    wm_http_map_conf_t *mcf = wm_cycle->conf[wm_http_map_module.index];
    wm_http_map_value_t *cache = r->ctx[wm_http_map_module.index];
    wm_http_map_t **maps, *m = NULL;
    const wm_cv_t *cv;
    wm_str_t key;
    size_t i;

    if (mcf == NULL) {
        return WM_DECLINED;
    }
    maps = mcf->maps.elts;
    for (i = 0; i < mcf->maps.nelts; i++) {
        if (maps[i]->name.len == arg->len
            && memcmp(maps[i]->name.data, arg->data, arg->len) == 0)
        {
            m = maps[i];
            break;
        }
    }
    if (m == NULL) {
        return WM_DECLINED;
    }
    if (cache == NULL) {
        cache = wm_pcalloc(r->pool, mcf->maps.nelts * sizeof(*cache));
        if (cache == NULL) {
            return WM_ERROR;
        }
        r->ctx[wm_http_map_module.index] = cache;
    }
    if (cache[i].state == WM_HTTP_MAP_DONE) {
        *v = cache[i].value;
        return WM_OK;
    }
    if (cache[i].state == WM_HTTP_MAP_BUSY) {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "the map of \"$%.*s\" uses its own value",
                     (int) arg->len, (const char *) arg->data);
        return WM_DECLINED;
    }

    cache[i].state = WM_HTTP_MAP_BUSY;
    if (wm_cv_eval(&m->source, r, r->pool, &key) != WM_OK) {
        cache[i].state = WM_HTTP_MAP_UNSET;
        return WM_ERROR;
    }
    cv = wm_map_find(&m->map, &key, r->pool, r);
    v->len = 0;
    v->data = (u_char *) "";
    if (cv && wm_cv_eval(cv, r, r->pool, v) != WM_OK) {
        cache[i].state = WM_HTTP_MAP_UNSET;
        return WM_ERROR;
    }
    cache[i].value = *v;
    cache[i].state =
        m->map.is_volatile ? WM_HTTP_MAP_UNSET : WM_HTTP_MAP_DONE;
    return WM_OK;
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
    const wm_conf_node_t *n = cf->node;
    wm_http_map_conf_t *mcf = cf->cycle->conf[wm_http_map_module.index];
    wm_http_map_t *m, **slot, **maps;
    const wm_var_def_t *def;
    wm_str_t name, arg;
    const char *rv;
    size_t i;

    rv = wm_map_var_name(cf, &n->args[1], &name);
    if (rv) {
        return rv;
    }
    def = wm_var_find(wm_http_var_tables, &name, &arg);
    if (def == NULL || def->get != wm_http_map_var) {
        return wm_conf_errf(cf, "has duplicate \"%s\" variable",
                            (const char *) name.data);
    }
    if (mcf == NULL) {
        mcf = wm_pcalloc(cf->pool, sizeof(*mcf));
        if (mcf == NULL
            || wm_array_init(&mcf->maps, cf->pool, 4, sizeof(void *))
                   != WM_OK)
        {
            return "failed: out of memory";
        }
        cf->cycle->conf[wm_http_map_module.index] = mcf;
    }
    maps = mcf->maps.elts;
    for (i = 0; i < mcf->maps.nelts; i++) {
        if (maps[i]->name.len == name.len
            && memcmp(maps[i]->name.data, name.data, name.len) == 0)
        {
            return wm_conf_errf(cf, "has duplicate \"%s\" variable",
                                (const char *) name.data);
        }
    }

    m = wm_pcalloc(cf->pool, sizeof(*m));
    if (m == NULL) {
        return "failed: out of memory";
    }
    m->name = name;
    rv = wm_cv_compile(cf->pool, &n->args[0], wm_http_var_tables, &m->source);
    if (rv) {
        return rv;
    }
    if (wm_map_parse(&m->map, cf, n, wm_http_var_tables, &wm_http_map_re_ops)
        != WM_OK)
    {
        return NULL; /* each error was reported at its line */
    }
    slot = wm_array_push(&mcf->maps);
    if (slot == NULL) {
        return "failed: out of memory";
    }
    *slot = m;
    return NULL;
}

/* map_hash_bucket_size and map_hash_max_size: the value is checked and
 * dropped, since the tables of wmproxy's maps need no tuning. */
static const char *
wm_http_map_hash_size(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    return wm_map_hash_size(cf);
}
