/*
 * `limit_rate` and `limit_rate_after`: the connection writer asks this
 * module how many bytes of a response it may send now, so that after the
 * first limit_rate_after bytes (head included, as nginx counts them) the
 * response leaves at limit_rate bytes per second. `set $limit_rate` in a
 * rewrite script overrides the directive for the request, as in nginx.
 */
#include "wm_http.h"

#include "wm_log.h"

#include <time.h>

typedef struct {
    size_t rate;            /* bytes per second; 0: no limit */
    size_t after;
} wm_http_limit_rate_conf_t;

/* Per response, in r->ctx. */
typedef struct {
    size_t rate;
    size_t after;
    wm_msec_t start;        /* monotonic msec of the first write */
    uint64_t sent;
} wm_http_limit_rate_ctx_t;

static void *wm_http_limit_rate_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_limit_rate_merge(wm_conf_t *cf, void *prev,
                                            void *conf, unsigned level);

#define WM_LIMIT_RATE_CTX                                                      \
    WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC | WM_CTX_HTTP_LIF

static const wm_command_t wm_http_limit_rate_commands[] = {
    {"limit_rate", WM_LIMIT_RATE_CTX, 1, 1, 0, WM_LVL_LOC, wm_conf_set_size,
     offsetof(wm_http_limit_rate_conf_t, rate), NULL, "0",
     "rate: bytes per second for each response (0: no limit)"},
    {"limit_rate_after", WM_LIMIT_RATE_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_size, offsetof(wm_http_limit_rate_conf_t, after), NULL, "0",
     "size: bytes of each response sent before limit_rate applies"},
    wm_null_command,
};

wm_module_t wm_http_limit_rate_module = {
    .name = "http_limit_rate",
    .family = WM_MOD_HTTP,
    .commands = wm_http_limit_rate_commands,
    .create_conf = wm_http_limit_rate_create,
    .merge_conf = wm_http_limit_rate_merge,
};

static wm_msec_t
wm_http_limit_rate_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (wm_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The rate of r: `set $limit_rate` (a bad value logged when log is
 * set), else limit_rate. */
static size_t
wm_http_limit_rate_of(wm_http_request_t *r, bool log)
{
    static const wm_str_t name = wm_string("limit_rate");
    wm_http_limit_rate_conf_t *lcf =
        wm_http_loc_conf(r, wm_http_limit_rate_module);
    wm_str_t v;
    int64_t n;

    if (wm_http_rewrite_var_value(r, &name, &v) != WM_OK) {
        return lcf->rate;
    }
    n = wm_parse_size(&v);
    if (n >= 0) {
        return (size_t) n;
    }
    if (log) {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "invalid $limit_rate \"%.*s\", limit_rate %zu used",
                     (int) v.len, (const char *) v.data, lcf->rate);
    }
    return lcf->rate;
}

/* The response's state, made on its first write from the location's
 * settings and $limit_rate: a shared one for the (usual) responses
 * without a limit; NULL when out of memory. */
static wm_http_limit_rate_ctx_t *
wm_http_limit_rate_ctx(wm_http_request_t *r)
{
    static wm_http_limit_rate_ctx_t unlimited;
    wm_http_limit_rate_ctx_t *ctx = r->ctx[wm_http_limit_rate_module.index];
    wm_http_limit_rate_conf_t *lcf;
    size_t rate;

    if (ctx) {
        return ctx;
    }
    lcf = wm_http_loc_conf(r, wm_http_limit_rate_module);
    rate = wm_http_limit_rate_of(r, true);
    if (rate == 0) {
        ctx = &unlimited; /* rate 0: nothing is counted in it */
    } else {
        ctx = wm_pcalloc(r->pool, sizeof(*ctx));
        if (ctx == NULL) {
            return NULL;
        }
        ctx->rate = rate;
        ctx->after = lcf->after;
        ctx->start = wm_http_limit_rate_now();
    }
    r->ctx[wm_http_limit_rate_module.index] = ctx;
    return ctx;
}

ssize_t
wm_http_limit_rate_allow(wm_http_request_t *r, size_t pending,
                         wm_msec_t *delay)
{
    wm_http_limit_rate_ctx_t *ctx = wm_http_limit_rate_ctx(r);
    int64_t budget, want;

    if (ctx == NULL || ctx->rate == 0) {
        return -1;
    }
    budget = (int64_t) ctx->after
             + (int64_t) ((wm_http_limit_rate_now() - ctx->start)
                          * (uint64_t) ctx->rate / 1000)
             - (int64_t) ctx->sent;
    /* Writes of at least a twentieth of a second's worth (or what is
     * pending), not a few bytes at every writable event. */
    want = (int64_t) wm_min(pending, wm_min((size_t) 16384,
                                            wm_max(ctx->rate / 20, 1)));
    if (budget >= want) {
        return (ssize_t) budget;
    }
    *delay = (wm_msec_t) ((want - wm_max(budget, 0)) * 1000
                          / (int64_t) ctx->rate) + 1;
    return 0;
}

void
wm_http_limit_rate_sent(wm_http_request_t *r, size_t n)
{
    wm_http_limit_rate_ctx_t *ctx = r->ctx[wm_http_limit_rate_module.index];

    if (ctx && ctx->rate) {
        ctx->sent += n;
    }
}

static wm_int_t
wm_http_limit_rate_var(void *data, const wm_str_t *arg, uintptr_t unused,
                       wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;
    wm_http_limit_rate_ctx_t *ctx = r->ctx[wm_http_limit_rate_module.index];
    char *s;

    (void) arg;
    (void) unused;
    s = wm_psprintf(pool, "%zu",
                    ctx ? ctx->rate : wm_http_limit_rate_of(r, false));
    if (s == NULL) {
        return WM_ERROR;
    }
    v->data = (u_char *) s;
    v->len = strlen(s);
    return WM_OK;
}

const wm_var_def_t wm_http_limit_rate_vars[] = {
    {"limit_rate", wm_http_limit_rate_var, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL},
};

/* ---- configuration ------------------------------------------------------ */

static void *
wm_http_limit_rate_create(wm_conf_t *cf, unsigned level)
{
    wm_http_limit_rate_conf_t *lcf = wm_palloc(cf->pool, sizeof(*lcf));

    (void) level;
    if (lcf == NULL) {
        return NULL;
    }
    lcf->rate = WM_CONF_UNSET_SIZE;
    lcf->after = WM_CONF_UNSET_SIZE;
    return lcf;
}

static const char *
wm_http_limit_rate_merge(wm_conf_t *cf, void *prev, void *conf,
                         unsigned level)
{
    wm_http_limit_rate_conf_t *p = prev, *c = conf;

    (void) cf;
    (void) level;
    wm_conf_merge_size(c->rate, p->rate, 0);
    wm_conf_merge_size(c->after, p->after, 0);
    return NULL;
}
