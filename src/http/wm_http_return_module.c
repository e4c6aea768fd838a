/*
 * `return code [text|URL];` and `return URL;`: answers from the rewrite
 * phase without touching the file system. A server-level return runs
 * before the location's own, as nginx runs it before location matching;
 * 444 closes the connection without an answer.
 */
#include "wm_http.h"

#include "wm_log.h"

typedef struct {
    int code;          /* 0: no return here */
    wm_cv_t text;      /* body text or redirect URL */
    unsigned has_text : 1;
} wm_http_return_conf_t;

static void *wm_http_return_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_return_set(wm_conf_t *cf, const wm_command_t *cmd,
                                      void *conf);

static const wm_command_t wm_http_return_commands[] = {
    {"return", WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC | WM_CTX_HTTP_LIF
                   | WM_CTX_HTTP_SIF,
     1, 2, 0, WM_LVL_LOC, wm_http_return_set, 0, NULL, "-",
     "code [text], code URL (301-308) or URL: answer at once"},
    wm_null_command,
};

wm_module_t wm_http_return_module = {
    .name = "http_return",
    .family = WM_MOD_HTTP,
    .commands = wm_http_return_commands,
    .create_conf = wm_http_return_create,
};

static wm_int_t
wm_http_return_run(wm_http_request_t *r, wm_http_return_conf_t *rcf)
{
    wm_str_t text;

    if (!rcf->has_text) {
        return rcf->code;
    }
    if (wm_cv_eval(&rcf->text, r, r->pool, &text) != WM_OK) {
        return 500;
    }
    if (rcf->code >= 301 && rcf->code <= 308 && rcf->code != 304) {
        return wm_http_send_redirect(r, rcf->code, &text);
    }
    wm_http_set_content_type(r);
    if (wm_http_send_text(r, rcf->code, NULL, &text) != WM_OK)
    {
        return WM_ERROR;
    }
    return WM_DONE;
}

wm_int_t
wm_http_return_handler(wm_http_request_t *r)
{
    wm_http_return_conf_t *rcf;

    if (r->phase_handler == 0 && r->loc != r->srv->root && !r->internal) {
        rcf = r->srv->root->loc_confs[wm_http_return_module.index];
        if (rcf->code) {
            return wm_http_return_run(r, rcf);
        }
    }
    rcf = wm_http_loc_conf(r, wm_http_return_module);
    if (rcf->code) {
        return wm_http_return_run(r, rcf);
    }
    return WM_DECLINED;
}

static void *
wm_http_return_create(wm_conf_t *cf, unsigned level)
{
    return wm_pcalloc(cf->pool, sizeof(wm_http_return_conf_t));
}

static bool
wm_http_is_url(const wm_str_t *s)
{
    return (s->len > 7 && memcmp(s->data, "http://", 7) == 0)
           || (s->len > 8 && memcmp(s->data, "https://", 8) == 0)
           || (s->len > 7 && memcmp(s->data, "$scheme", 7) == 0);
}

static const char *
wm_http_return_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_return_conf_t *rcf = conf;
    const wm_conf_node_t *n = cf->node;
    const wm_str_t *text = NULL;
    int64_t code;
    const char *rv;

    if (rcf->code) {
        return "is duplicate";
    }
    code = wm_parse_num(&n->args[0]);
    if (code < 0) {
        if (n->nargs == 1 && wm_http_is_url(&n->args[0])) {
            code = 302;
            text = &n->args[0];
        } else {
            return wm_conf_errf(cf, "has invalid return code \"%s\"",
                                (const char *) n->args[0].data);
        }
    } else if (code > 999 || (code < 200 && code != 0) || code == 0) {
        return wm_conf_errf(cf, "has invalid return code \"%s\"",
                            (const char *) n->args[0].data);
    } else if (n->nargs == 2) {
        text = &n->args[1];
    }
    if (text) {
        rv = wm_cv_compile(cf->pool, text, wm_http_var_tables, &rcf->text);
        if (rv) {
            return rv;
        }
        rcf->has_text = 1;
    }
    rcf->code = (int) code;
    return NULL;
}
