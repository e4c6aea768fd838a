/*
 * `map` and `set` in stream: a map defines a variable looked up in its
 * table (wm_map.c) the first time a session uses it and kept for the rest
 * of the session (unless `volatile`); `set $var value;` in a server gives
 * a variable a value, all of a server's sets running in written order
 * before limit_conn and allow/deny, as nginx's preaccess phase does. The
 * regexes of stream maps bring $1..$9 and named captures to stream.
 */
#include "wm_stream.h"

#include "wm_log.h"
#include "wm_map.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* The maps of the stream block (wm_map_var_t *) are in
 * cycle->conf[wm_stream_map_module.index], while the per-level confs hold
 * the sets. */

/* `set $name value;` */
typedef struct {
    wm_str_t name;
    wm_cv_t value;
} wm_stream_set_t;

typedef struct {
    wm_array_t *sets; /* wm_stream_set_t; NULL: none (never inherited) */
} wm_stream_map_conf_t;

/* One match of a map regex, newest first. */
typedef struct wm_stream_match_s wm_stream_match_t;
struct wm_stream_match_s {
    wm_stream_match_t *next;
    pcre2_code *code;
    PCRE2_SIZE *ovector;
    uint32_t n;
    wm_str_t subject;
};

/* A session's state, in s->map_ctx (s's pool). */
typedef struct {
    wm_map_value_t *cache;        /* one per map */
    wm_str_t *sets;               /* the value of each set of the server */
    size_t nsets;                 /* how many of them have run */
    wm_stream_match_t *matches;
    unsigned sets_run : 1;
} wm_stream_map_ctx_t;

static void *wm_stream_map_create(wm_conf_t *cf, unsigned level);
static const char *wm_stream_map_block(wm_conf_t *cf, const wm_command_t *cmd,
                                       void *conf);
static const char *wm_stream_map_hash_size(wm_conf_t *cf,
                                           const wm_command_t *cmd,
                                           void *conf);
static const char *wm_stream_set(wm_conf_t *cf, const wm_command_t *cmd,
                                 void *conf);

static const wm_command_t wm_stream_map_commands[] = {
    {"map", WM_CTX_STREAM, 2, 2, WM_CMD_BLOCK | WM_CMD_MULTI, WM_LVL_MAIN,
     wm_stream_map_block, 0, NULL, "-",
     "$source $variable { key value; ... }: a variable looked up in a table"},
    {"map_hash_bucket_size", WM_CTX_STREAM, 1, 1, 0, WM_LVL_MAIN,
     wm_stream_map_hash_size, 0, NULL, "-",
     "size: accepted for nginx configs; wmproxy sizes its tables itself"},
    {"map_hash_max_size", WM_CTX_STREAM, 1, 1, 0, WM_LVL_MAIN,
     wm_stream_map_hash_size, 0, NULL, "-",
     "size: accepted for nginx configs; wmproxy sizes its tables itself"},
    {"set", WM_CTX_STREAM_SRV, 2, 2, WM_CMD_MULTI, WM_LVL_SRV, wm_stream_set,
     0, NULL, "-", "$variable value: give a variable a value"},
    wm_null_command,
};

wm_module_t wm_stream_map_module = {
    .name = "stream_map",
    .family = WM_MOD_STREAM,
    .commands = wm_stream_map_commands,
    .create_conf = wm_stream_map_create,
};

/* ---- names known while a stream block loads ------------------------------- */

static wm_map_names_t wm_stream_map_names;   /* map variables */
static wm_map_names_t wm_stream_set_names;   /* set variables */
static wm_map_names_t wm_stream_regex_names; /* named captures */

static bool
wm_stream_map_known(const wm_str_t *name)
{
    return wm_map_names_has(&wm_stream_map_names, name);
}

static bool
wm_stream_set_known(const wm_str_t *name)
{
    return wm_map_names_has(&wm_stream_set_names, name);
}

static bool
wm_stream_capture_known(const wm_str_t *name)
{
    return wm_map_names_has(&wm_stream_regex_names, name);
}

const char *
wm_stream_map_vars_init(const wm_conf_node_t *stream)
{
    const char *rv;

    wm_map_names_reset(&wm_stream_map_names);
    wm_map_names_reset(&wm_stream_set_names);
    wm_map_names_reset(&wm_stream_regex_names);
    rv = wm_map_names_collect(&wm_stream_map_names, stream, "map", 1, false);
    if (rv == NULL) {
        rv = wm_map_names_collect(&wm_stream_set_names, stream, "set", 0, true);
    }
    return rv;
}

/* ---- run time --------------------------------------------------------------- */

static wm_stream_map_ctx_t *
wm_stream_map_ctx(wm_stream_session_t *s)
{
    if (s->map_ctx == NULL) {
        s->map_ctx = wm_pcalloc(s->pool, sizeof(wm_stream_map_ctx_t));
    }
    return s->map_ctx;
}

static wm_int_t
wm_stream_map_var(void *data, const wm_str_t *arg, uintptr_t unused,
                  wm_pool_t *pool, wm_str_t *v)
{
    wm_stream_session_t *s = data;
    wm_stream_map_ctx_t *ctx = wm_stream_map_ctx(s);
    wm_array_t *maps = wm_cycle->conf[wm_stream_map_module.index];
    wm_int_t rc;

    if (ctx && ctx->cache == NULL) {
        ctx->cache = wm_map_values_new(maps, s->pool);
    }
    if (ctx == NULL || ctx->cache == NULL) {
        return WM_ERROR;
    }
    rc = wm_map_var_value(maps, ctx->cache, arg, s, s->pool, v);
    if (rc == WM_BUSY) {
        wm_log_error(WM_LOG_ERR, &s->log, 0,
                     "the map of \"$%.*s\" uses its own value", (int) arg->len,
                     (const char *) arg->data);
        return WM_DECLINED;
    }
    return rc;
}

wm_int_t
wm_stream_set_run(wm_stream_session_t *s)
{
    wm_stream_map_conf_t *mcf = wm_stream_srv_conf(s->srv, wm_stream_map_module);
    wm_stream_map_ctx_t *ctx;
    wm_stream_set_t *set;

    if (mcf->sets == NULL) {
        return WM_OK;
    }
    ctx = wm_stream_map_ctx(s);
    if (ctx == NULL) {
        return WM_ERROR;
    }
    if (ctx->sets_run) {
        return WM_OK;
    }
    /* Marked first: a set that uses its own variable sees the value of
     * the sets before it, not a new run. */
    ctx->sets_run = 1;
    ctx->sets = wm_pcalloc(s->pool, mcf->sets->nelts * sizeof(wm_str_t));
    if (ctx->sets == NULL) {
        return WM_ERROR;
    }
    set = mcf->sets->elts;
    while (ctx->nsets < mcf->sets->nelts) {
        wm_str_t v;

        if (wm_cv_eval(&set[ctx->nsets].value, s, s->pool, &v) != WM_OK) {
            return WM_ERROR;
        }
        ctx->sets[ctx->nsets++] = v;
    }
    return WM_OK;
}

/* A variable given by set: the value of the last set of it that ran. */
static wm_int_t
wm_stream_set_var(void *data, const wm_str_t *arg, uintptr_t unused,
                  wm_pool_t *pool, wm_str_t *v)
{
    wm_stream_session_t *s = data;
    wm_stream_map_conf_t *mcf = wm_stream_srv_conf(s->srv, wm_stream_map_module);
    wm_stream_map_ctx_t *ctx;
    wm_stream_set_t *set;
    size_t i;

    if (mcf->sets == NULL) {
        return WM_DECLINED;
    }
    /* A path that did not run the sets (UDP) runs them at first use. */
    if (wm_stream_set_run(s) != WM_OK) {
        return WM_ERROR;
    }
    ctx = s->map_ctx;
    set = mcf->sets->elts;
    for (i = ctx->nsets; i-- > 0;) {
        if (set[i].name.len == arg->len
            && memcmp(set[i].name.data, arg->data, arg->len) == 0)
        {
            *v = ctx->sets[i];
            return WM_OK;
        }
    }
    return WM_DECLINED;
}

/* $1..$9: the captures of the last map regex that matched. */
static wm_int_t
wm_stream_capture_var(void *data, const wm_str_t *arg, uintptr_t n,
                      wm_pool_t *pool, wm_str_t *v)
{
    wm_stream_session_t *s = data;
    wm_stream_map_ctx_t *ctx = s->map_ctx;
    wm_stream_match_t *m = ctx ? ctx->matches : NULL;

    if (m == NULL || n >= m->n || m->ovector[2 * n] == PCRE2_UNSET) {
        return WM_DECLINED;
    }
    v->data = m->subject.data + m->ovector[2 * n];
    v->len = m->ovector[2 * n + 1] - m->ovector[2 * n];
    return WM_OK;
}

/* $name: the group of the newest match whose regex has it. */
static wm_int_t
wm_stream_named_var(void *data, const wm_str_t *arg, uintptr_t unused,
                    wm_pool_t *pool, wm_str_t *v)
{
    wm_stream_session_t *s = data;
    wm_stream_map_ctx_t *ctx = s->map_ctx;
    wm_stream_match_t *m;
    char name[128];
    int n = -1;

    if (ctx == NULL || arg->len >= sizeof(name)) {
        return WM_DECLINED;
    }
    memcpy(name, arg->data, arg->len);
    name[arg->len] = '\0';
    for (m = ctx->matches; m; m = m->next) {
        n = pcre2_substring_number_from_name(m->code, (PCRE2_SPTR) name);
        if (n >= 0) {
            break;
        }
    }
    if (m == NULL || (uint32_t) n >= m->n || m->ovector[2 * n] == PCRE2_UNSET) {
        return WM_DECLINED;
    }
    v->data = m->subject.data + m->ovector[2 * n];
    v->len = m->ovector[2 * n + 1] - m->ovector[2 * n];
    return WM_OK;
}

const wm_var_def_t wm_stream_map_vars[] = {
    {"", wm_stream_map_var, 0, 0, wm_stream_map_known},
    {"", wm_stream_set_var, 0, 0, wm_stream_set_known},
    {"1", wm_stream_capture_var, 1, 0, NULL},
    {"2", wm_stream_capture_var, 2, 0, NULL},
    {"3", wm_stream_capture_var, 3, 0, NULL},
    {"4", wm_stream_capture_var, 4, 0, NULL},
    {"5", wm_stream_capture_var, 5, 0, NULL},
    {"6", wm_stream_capture_var, 6, 0, NULL},
    {"7", wm_stream_capture_var, 7, 0, NULL},
    {"8", wm_stream_capture_var, 8, 0, NULL},
    {"9", wm_stream_capture_var, 9, 0, NULL},
    {"", wm_stream_named_var, 0, 0, wm_stream_capture_known},
    {NULL, NULL, 0, 0, NULL},
};

/* ---- regexes ------------------------------------------------------------------ */

static const char *
wm_stream_map_re_compile(wm_pool_t *pool, const wm_str_t *pattern,
                         bool caseless, void **re)
{
    static char msg[256];
    PCRE2_UCHAR buf[160];
    PCRE2_SIZE off;
    pcre2_code *code;
    uint32_t count = 0, size, i;
    PCRE2_SPTR table;
    int err;

    code = pcre2_compile(pattern->data, pattern->len,
                         caseless ? PCRE2_CASELESS : 0, &err, &off, NULL);
    if (code == NULL) {
        pcre2_get_error_message(err, buf, sizeof(buf));
        snprintf(msg, sizeof(msg), "has an invalid regex \"%s\": %s at %zu",
                 (const char *) pattern->data, (const char *) buf,
                 (size_t) off);
        return msg;
    }
    if (wm_pool_cleanup_add(pool, (wm_pool_cleanup_pt) pcre2_code_free, code)
        != WM_OK)
    {
        pcre2_code_free(code);
        return "failed: out of memory";
    }
    (void) pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    /* Named groups become variables of the stream block. */
    pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table);
    for (i = 0; i < count; i++) {
        const char *name = (const char *) table + i * size + 2;
        wm_str_t s = {strlen(name), (u_char *) name};

        if (wm_map_names_add(&wm_stream_regex_names, &s) != NULL) {
            return "failed: out of memory";
        }
    }
    *re = code;
    return NULL;
}

static int
wm_stream_map_re_exec(void *re, const wm_str_t *subject, void *data)
{
    wm_stream_session_t *s = data;
    wm_stream_map_ctx_t *ctx = wm_stream_map_ctx(s);
    pcre2_match_data *md;
    wm_stream_match_t *m;
    int rc;

    if (ctx == NULL) {
        return -1;
    }
    md = pcre2_match_data_create_from_pattern(re, NULL);
    if (md == NULL) {
        return -1;
    }
    rc = pcre2_match(re, subject->data, subject->len, 0, 0, md, NULL);
    if (rc <= 0) {
        pcre2_match_data_free(md);
        return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
    }
    m = wm_palloc(s->pool, sizeof(*m));
    if (m) {
        m->ovector = wm_palloc(s->pool, 2 * (size_t) rc * sizeof(PCRE2_SIZE));
    }
    if (m == NULL || m->ovector == NULL) {
        pcre2_match_data_free(md);
        return -1;
    }
    memcpy(m->ovector, pcre2_get_ovector_pointer(md),
           2 * (size_t) rc * sizeof(PCRE2_SIZE));
    m->n = (uint32_t) rc;
    m->code = re;
    m->subject = *subject;
    m->next = ctx->matches;
    ctx->matches = m;
    pcre2_match_data_free(md);
    return 1;
}

static const wm_map_regex_ops_t wm_stream_map_re_ops = {
    .compile = wm_stream_map_re_compile,
    .exec = wm_stream_map_re_exec,
};

/* ---- directives ---------------------------------------------------------- */

static void *
wm_stream_map_create(wm_conf_t *cf, unsigned level)
{
    return wm_pcalloc(cf->pool, sizeof(wm_stream_map_conf_t));
}

static const char *
wm_stream_map_block(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_array_t *maps = cf->cycle->conf[wm_stream_map_module.index];
    const char *rv = wm_map_block(cf, &maps, wm_stream_var_tables,
                                  wm_stream_map_var, &wm_stream_map_re_ops);

    cf->cycle->conf[wm_stream_map_module.index] = maps;
    return rv;
}

static const char *
wm_stream_map_hash_size(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    return wm_map_hash_size(cf);
}

static const char *
wm_stream_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_stream_map_conf_t *mcf = conf;
    const wm_conf_node_t *n = cf->node;
    const wm_var_def_t *def;
    wm_stream_set_t *set;
    wm_str_t name, arg;
    const char *rv;

    rv = wm_map_var_name(cf, &n->args[0], &name);
    if (rv) {
        return rv;
    }
    def = wm_var_find(wm_stream_var_tables, &name, &arg);
    if (def == NULL || def->get != wm_stream_set_var) {
        return wm_conf_errf(cf, "cannot set the built-in \"%s\" variable",
                            (const char *) name.data);
    }
    if (mcf->sets == NULL) {
        mcf->sets = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (mcf->sets == NULL
            || wm_array_init(mcf->sets, cf->pool, 4, sizeof(wm_stream_set_t))
                   != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    set = wm_array_push(mcf->sets);
    if (set == NULL) {
        return "failed: out of memory";
    }
    set->name = name;
    return wm_cv_compile(cf->pool, &n->args[1], wm_stream_var_tables,
                         &set->value);
}
