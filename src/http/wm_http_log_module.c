/*
 * The HTTP log module: log_format, access_log and the http/server/location
 * error_log. Each request is logged once its response is sent, to every
 * access_log of its location (nginx's inheritance: a block with any
 * access_log line replaces the enclosing ones; logs/access.log in the
 * combined format when none is configured anywhere).
 */
#include "wm_http.h"

#include "wm_access_log.h"

typedef struct {
    wm_log_formats_t formats;
} wm_http_log_main_conf_t;

typedef struct {
    wm_access_log_conf_t access;
    wm_error_log_conf_t error;
} wm_http_log_loc_conf_t;

static const char *wm_http_log_format(wm_conf_t *cf, const wm_command_t *cmd,
                                      void *conf);
static const char *wm_http_access_log(wm_conf_t *cf, const wm_command_t *cmd,
                                      void *conf);
static const char *wm_http_error_log_set(wm_conf_t *cf, const wm_command_t *cmd,
                                         void *conf);
static void *wm_http_log_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_log_merge(wm_conf_t *cf, void *prev, void *conf,
                                     unsigned level);
static void wm_http_log_exit_worker(wm_cycle_t *cycle);

#define WM_HTTP_LOG_LOC WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC

static const wm_command_t wm_http_log_commands[] = {
    {"log_format", WM_CTX_HTTP, 2, WM_ARGS_MANY, WM_CMD_MULTI, WM_LVL_MAIN,
     wm_http_log_format, 0, NULL, "combined \"...\"",
     "name [escape=default|json|none] string ...: an access log format"},
    {"access_log", WM_HTTP_LOG_LOC, 1, WM_ARGS_MANY, WM_CMD_MULTI, WM_LVL_LOC,
     wm_http_access_log, 0, NULL, "logs/access.log combined",
     "path [format [buffer=size] [flush=time] [if=condition]] | off"},
    {"error_log", WM_HTTP_LOG_LOC, 1, 2, WM_CMD_MULTI, WM_LVL_LOC,
     wm_http_error_log_set, 0, NULL, "the main error_log",
     "error log file (or stderr) and level for requests of this block"},
    wm_null_command,
};

wm_module_t wm_http_log_module = {
    .name = "http_log",
    .family = WM_MOD_HTTP,
    .commands = wm_http_log_commands,
    .create_conf = wm_http_log_create,
    .merge_conf = wm_http_log_merge,
    .exit_worker = wm_http_log_exit_worker,
};

/* ---- run time ----------------------------------------------------------- */

wm_int_t
wm_http_log_handler(wm_http_request_t *r)
{
    wm_http_log_loc_conf_t *llcf;

    if (r->loc_confs == NULL) {
        return WM_OK;
    }
    llcf = r->loc_confs[wm_http_log_module.index];
    if (llcf) {
        wm_access_log_write(&llcf->access, r, r->pool, wm_http_request_log(r));
    }
    return WM_OK;
}

wm_log_t *
wm_http_error_log(void **loc_confs)
{
    wm_http_log_loc_conf_t *llcf;

    if (loc_confs == NULL) {
        return NULL;
    }
    llcf = loc_confs[wm_http_log_module.index];
    return llcf ? wm_error_log_get(&llcf->error) : NULL;
}

static void
wm_http_log_exit_worker(wm_cycle_t *cycle)
{
    wm_access_log_flush_all(cycle);
}

/* ---- directives --------------------------------------------------------- */

static const char *
wm_http_log_format(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_log_main_conf_t *lmcf = conf;

    return wm_log_format_set(cf, &lmcf->formats);
}

static wm_http_log_main_conf_t *
wm_http_log_main(wm_conf_t *cf)
{
    return cf->confs[WM_LVL_MAIN][wm_http_log_module.index];
}

static const char *
wm_http_access_log(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_log_loc_conf_t *llcf = conf;

    return wm_access_log_set(cf, &llcf->access, &wm_http_log_main(cf)->formats,
                             "combined");
}

static const char *
wm_http_error_log_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_log_loc_conf_t *llcf = conf;

    return wm_error_log_set(cf, &llcf->error);
}

/* ---- conf structs ------------------------------------------------------- */

static void *
wm_http_log_create(wm_conf_t *cf, unsigned level)
{
    if (level == WM_LVL_MAIN) {
        wm_http_log_main_conf_t *lmcf = wm_pcalloc(cf->pool, sizeof(*lmcf));

        if (lmcf == NULL
            || wm_log_formats_init(&lmcf->formats, cf->pool, wm_http_var_tables,
                                   true)
                   != WM_OK)
        {
            return NULL;
        }
        return lmcf;
    }
    if (level == WM_LVL_LOC) {
        wm_http_log_loc_conf_t *llcf = wm_pcalloc(cf->pool, sizeof(*llcf));

        if (llcf == NULL) {
            return NULL;
        }
        llcf->access.off = WM_CONF_UNSET;
        return llcf;
    }
    /* The server level has nothing of its own, but a conf must exist. */
    return wm_pcalloc(cf->pool, 1);
}

static const char *
wm_http_log_merge(wm_conf_t *cf, void *parent, void *child, unsigned level)
{
    wm_http_log_loc_conf_t *prev = parent, *conf = child;

    if (level != WM_LVL_LOC) {
        return NULL;
    }
    if (conf->access.logs == NULL && conf->access.off != 1
        && prev->access.logs == NULL && prev->access.off != 1)
    {
        /* Nothing above or here: nginx's default log, made once at the
         * enclosing level so that its siblings share it. */
        const wm_log_format_t *combined =
            wm_http_log_main(cf)->formats.formats.elts;
        const char *path, *rv;

        path = wm_conf_full_path(cf->pool, cf->prefix,
                                 &(wm_str_t) wm_string("logs/access.log"));
        if (path == NULL) {
            return "failed: out of memory";
        }
        rv = wm_access_log_add(cf, &prev->access, path, combined);
        if (rv) {
            return rv;
        }
    }
    wm_access_log_merge(&conf->access, &prev->access);
    wm_error_log_merge(&conf->error, &prev->error);
    return NULL;
}
