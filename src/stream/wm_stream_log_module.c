/*
 * The stream log module: log_format and access_log in the stream block and
 * its servers, and error_log per stream block or server. A session is
 * logged when it is freed, with $termination telling in one word how it
 * ended. Unlike http, stream has no default access log (as nginx).
 */
#include "wm_stream.h"

#include "wm_access_log.h"

typedef struct {
    wm_log_formats_t formats; /* the stream block's only */
    wm_access_log_conf_t access;
    wm_error_log_conf_t error;
} wm_stream_log_conf_t;

static const char *wm_stream_log_format(wm_conf_t *cf, const wm_command_t *cmd,
                                        void *conf);
static const char *wm_stream_access_log(wm_conf_t *cf, const wm_command_t *cmd,
                                        void *conf);
static const char *wm_stream_error_log(wm_conf_t *cf, const wm_command_t *cmd,
                                       void *conf);
static void *wm_stream_log_create(wm_conf_t *cf, unsigned level);
static const char *wm_stream_log_merge(wm_conf_t *cf, void *prev, void *conf,
                                       unsigned level);
static void wm_stream_log_exit_worker(wm_cycle_t *cycle);

static const wm_command_t wm_stream_log_commands[] = {
    {"log_format", WM_CTX_STREAM, 2, WM_ARGS_MANY, WM_CMD_MULTI, WM_LVL_MAIN,
     wm_stream_log_format, 0, NULL, "-",
     "name [escape=default|json|none] string ...: a session log format"},
    {"access_log", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, WM_ARGS_MANY,
     WM_CMD_MULTI, WM_LVL_SRV, wm_stream_access_log, 0, NULL, "off",
     "path format [buffer=size] [flush=time] [if=condition] | off"},
    {"error_log", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 2, WM_CMD_MULTI,
     WM_LVL_SRV, wm_stream_error_log, 0, NULL, "the main error_log",
     "error log file (or stderr) and level for sessions of this block"},
    wm_null_command,
};

wm_module_t wm_stream_log_module = {
    .name = "stream_log",
    .family = WM_MOD_STREAM,
    .commands = wm_stream_log_commands,
    .create_conf = wm_stream_log_create,
    .merge_conf = wm_stream_log_merge,
    .exit_worker = wm_stream_log_exit_worker,
};

/* ---- variables ---------------------------------------------------------- */

/* $upstream_addr: the upstream server the session went to. */
static wm_int_t
wm_stream_var_upstream_addr(void *r, const wm_str_t *arg, uintptr_t data,
                            wm_pool_t *pool, wm_str_t *v)
{
    wm_stream_session_t *s = r;

    if (s->upstream_text == NULL) {
        return WM_DECLINED;
    }
    v->data = (u_char *) s->upstream_text;
    v->len = strlen(s->upstream_text);
    return WM_OK;
}

/* $termination: what a handler said (s->termination), else a word made
 * from $status; "shutdown" for a session the worker's exit cut. */
static wm_int_t
wm_stream_var_termination(void *r, const wm_str_t *arg, uintptr_t data,
                          wm_pool_t *pool, wm_str_t *v)
{
    wm_stream_session_t *s = r;
    const char *t = s->termination;

    if (t == NULL) {
        switch (s->status) {
        case 0:
            t = "shutdown";
            break;
        case 200:
            t = "done";
            break;
        case 400:
            t = "bad_request";
            break;
        case 403:
            t = "denied";
            break;
        case 502:
            t = "upstream_error";
            break;
        default:
            t = "error";
            break;
        }
    }
    v->data = (u_char *) t;
    v->len = strlen(t);
    return WM_OK;
}

const wm_var_def_t wm_stream_log_vars[] = {
    {"upstream_addr", wm_stream_var_upstream_addr, 0, 0, NULL},
    {"termination", wm_stream_var_termination, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL},
};

/* ---- run time ----------------------------------------------------------- */

static wm_stream_log_conf_t *
wm_stream_log_conf(wm_stream_session_t *s)
{
    return s->srv ? wm_stream_srv_conf(s->srv, wm_stream_log_module) : NULL;
}

void
wm_stream_log_init(wm_stream_session_t *s)
{
    wm_stream_log_conf_t *lcf = wm_stream_log_conf(s);
    wm_log_t *el = lcf ? wm_error_log_get(&lcf->error) : NULL;

    if (el) {
        s->log.sinks = el->sinks;
        s->log.nsinks = el->nsinks;
        s->log.level = el->level;
    }
}

void
wm_stream_log_session(wm_stream_session_t *s)
{
    wm_stream_log_conf_t *lcf = wm_stream_log_conf(s);

    if (lcf) {
        wm_access_log_write(&lcf->access, s, s->pool, &s->log);
    }
}

static void
wm_stream_log_exit_worker(wm_cycle_t *cycle)
{
    wm_access_log_flush_all(cycle);
}

/* ---- directives --------------------------------------------------------- */

static wm_stream_log_conf_t *
wm_stream_log_main(wm_conf_t *cf)
{
    return cf->confs[WM_LVL_MAIN][wm_stream_log_module.index];
}

static const char *
wm_stream_log_format(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    return wm_log_format_set(cf, &wm_stream_log_main(cf)->formats);
}

static const char *
wm_stream_access_log(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_stream_log_conf_t *lcf = conf;

    return wm_access_log_set(cf, &lcf->access, &wm_stream_log_main(cf)->formats,
                             NULL);
}

static const char *
wm_stream_error_log(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_stream_log_conf_t *lcf = conf;

    return wm_error_log_set(cf, &lcf->error);
}

/* ---- conf structs ------------------------------------------------------- */

static void *
wm_stream_log_create(wm_conf_t *cf, unsigned level)
{
    wm_stream_log_conf_t *lcf = wm_pcalloc(cf->pool, sizeof(*lcf));

    if (lcf == NULL) {
        return NULL;
    }
    lcf->access.off = WM_CONF_UNSET;
    if (level == WM_LVL_MAIN
        && wm_log_formats_init(&lcf->formats, cf->pool, wm_stream_var_tables,
                               false)
               != WM_OK)
    {
        return NULL;
    }
    return lcf;
}

static const char *
wm_stream_log_merge(wm_conf_t *cf, void *parent, void *child, unsigned level)
{
    wm_stream_log_conf_t *prev = parent, *conf = child;

    wm_access_log_merge(&conf->access, &prev->access);
    wm_error_log_merge(&conf->error, &prev->error);
    return NULL;
}
