/*
 * nginx's rewrite module: `rewrite`, `return`, `set`, `if` and `break`
 * are compiled into one script per server and per location and run in the
 * order they are written, the server's before the location is chosen
 * (SERVER_REWRITE phase) and the location's after (REWRITE phase). The
 * block of an `if` is a nameless location merged from its parent: when
 * the condition holds inside a location, the request takes that block's
 * configuration and runs its script, then goes on with the parent's.
 */
#include "wm_http.h"

#include "wm_log.h"

#include <sys/stat.h>

typedef enum {
    WM_RW_REWRITE,
    WM_RW_RETURN,
    WM_RW_SET,
    WM_RW_IF,
    WM_RW_BREAK,
} wm_http_rw_op_e;

/* The flag of a rewrite. */
typedef enum {
    WM_RW_FLAG_NONE,
    WM_RW_FLAG_LAST,
    WM_RW_FLAG_BREAK,
    WM_RW_FLAG_REDIRECT,
    WM_RW_FLAG_PERMANENT,
} wm_http_rw_flag_e;

/* What an `if` tests. */
typedef enum {
    WM_RW_IF_VAR,    /* ($var): not empty and not "0" */
    WM_RW_IF_EQ,     /* = and != (negate) */
    WM_RW_IF_MATCH,  /* ~ ~* !~ !~* */
    WM_RW_IF_FILE,   /* -f !-f */
    WM_RW_IF_DIR,    /* -d !-d */
    WM_RW_IF_EXISTS, /* -e !-e */
    WM_RW_IF_EXEC,   /* -x !-x */
} wm_http_rw_cond_e;

/* One instruction of a script. */
typedef struct {
    wm_http_rw_op_e op;
    /* rewrite: the replacement (up to its '?' for an internal one);
     * return: the text or URL; set: the value; if: the variable or the
     * path tested. */
    wm_cv_t a;
    /* rewrite: the arguments after the replacement's '?'; if: the value
     * compared with =. */
    wm_cv_t b;
    wm_http_regex_t regex; /* rewrite, if ~ */
    int status;            /* return; rewrite: 301/302 redirect */
    wm_http_rw_flag_e flag;
    wm_http_rw_cond_e cond;
    wm_str_t name;                /* set: the variable, without '$' */
    void **loc_confs;             /* if: the block's confs */
    wm_http_core_loc_conf_t *loc; /* if in a location: the block's
                                     core conf; NULL in a server */
    unsigned has_args : 1;        /* rewrite: the replacement has '?' */
    unsigned add_args : 1;        /* rewrite: keep the request's args */
    unsigned has_text : 1;        /* return */
    unsigned negate : 1;          /* if */
} wm_http_rw_code_t;

typedef struct {
    wm_array_t *codes;    /* wm_http_rw_code_t; NULL: none */
    wm_int_t log;         /* rewrite_log */
    wm_int_t uninit_warn; /* uninitialized_variable_warn */
} wm_http_rewrite_conf_t;

/* A variable set by `set` for one request, in r->ctx (r's pool). */
typedef struct {
    wm_str_t name;
    wm_str_t value;
} wm_http_rw_value_t;

/* The state of one run of a script. */
typedef struct {
    wm_http_request_t *r;
    wm_http_rewrite_conf_t *conf; /* for rewrite_log */
    bool stop;                    /* break, last or a rewrite's break */
} wm_http_rw_exec_t;

static void *wm_http_rewrite_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_rewrite_merge(wm_conf_t *cf, void *prev, void *conf,
                                         unsigned level);
static const char *wm_http_rw_rewrite(wm_conf_t *cf, const wm_command_t *cmd,
                                      void *conf);
static const char *wm_http_rw_return(wm_conf_t *cf, const wm_command_t *cmd,
                                     void *conf);
static const char *wm_http_rw_set(wm_conf_t *cf, const wm_command_t *cmd,
                                  void *conf);
static const char *wm_http_rw_if(wm_conf_t *cf, const wm_command_t *cmd,
                                 void *conf);
static const char *wm_http_rw_break(wm_conf_t *cf, const wm_command_t *cmd,
                                    void *conf);
static wm_int_t wm_http_rw_exec(wm_http_rw_exec_t *e, const wm_array_t *codes);

#define WM_RW_CTX \
    (WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC | WM_CTX_HTTP_SIF | WM_CTX_HTTP_LIF)

static const wm_command_t wm_http_rewrite_commands[] = {
    {"rewrite", WM_RW_CTX, 2, 3, WM_CMD_MULTI, WM_LVL_LOC, wm_http_rw_rewrite,
     0, NULL, "-",
     "regex replacement [last|break|redirect|permanent]: change the URI"},
    {"return", WM_RW_CTX, 1, 2, WM_CMD_MULTI, WM_LVL_LOC, wm_http_rw_return, 0,
     NULL, "-", "code [text], code URL (301-308) or URL: answer at once"},
    {"set", WM_RW_CTX, 2, 2, WM_CMD_MULTI, WM_LVL_LOC, wm_http_rw_set, 0, NULL,
     "-", "$variable value: give a variable a value"},
    {"if", WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC, 1, WM_ARGS_MANY,
     WM_CMD_BLOCK | WM_CMD_MULTI, WM_LVL_LOC, wm_http_rw_if, 0, NULL, "-",
     "(condition) { ... }: directives used when the condition holds"},
    {"break", WM_RW_CTX, 0, 0, WM_CMD_MULTI, WM_LVL_LOC, wm_http_rw_break, 0,
     NULL, "-", "stop the rewrite directives of this block"},
    {"rewrite_log", WM_CTX_HTTP | WM_RW_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_flag, offsetof(wm_http_rewrite_conf_t, log), NULL, "off",
     "log each rewrite and regex test at notice level"},
    {"uninitialized_variable_warn", WM_CTX_HTTP | WM_RW_CTX, 1, 1, 0,
     WM_LVL_LOC, wm_conf_set_flag,
     offsetof(wm_http_rewrite_conf_t, uninit_warn), NULL, "on",
     "warn when a variable that `set` never assigned is used"},
    wm_null_command,
};

wm_module_t wm_http_rewrite_module = {
    .name = "http_rewrite",
    .family = WM_MOD_HTTP,
    .commands = wm_http_rewrite_commands,
    .create_conf = wm_http_rewrite_create,
    .merge_conf = wm_http_rewrite_merge,
};

/* ---- variables made by set ---------------------------------------------- */

/*
 * The names `set` gives in the http block being loaded, NUL-separated in
 * one malloc'ed buffer: config-time knowledge only (which `$name` is a
 * variable); at run time a value is found by its name in r->ctx.
 */
static char *wm_http_rw_names;
static size_t wm_http_rw_names_len;

static bool
wm_http_rw_var_known(const wm_str_t *name)
{
    size_t off = 0;

    while (off < wm_http_rw_names_len) {
        const char *n = wm_http_rw_names + off;
        size_t len = strlen(n);

        if (len == name->len && memcmp(n, name->data, len) == 0) {
            return true;
        }
        off += len + 1;
    }
    return false;
}

static const char *
wm_http_rw_collect(const wm_conf_node_t *node)
{
    const wm_conf_node_t *n;

    for (n = node->children; n; n = n->next) {
        const char *rv;

        if (!n->block && n->nargs >= 1 && wm_str_eq(&n->name, "set")
            && n->args[0].len > 1 && n->args[0].data[0] == '$')
        {
            wm_str_t name = {n->args[0].len - 1, n->args[0].data + 1};

            if (!wm_http_rw_var_known(&name)) {
                char *buf = realloc(wm_http_rw_names,
                                    wm_http_rw_names_len + name.len + 1);

                if (buf == NULL) {
                    return "failed: out of memory";
                }
                memcpy(buf + wm_http_rw_names_len, name.data, name.len);
                buf[wm_http_rw_names_len + name.len] = '\0';
                wm_http_rw_names = buf;
                wm_http_rw_names_len += name.len + 1;
            }
        }
        rv = wm_http_rw_collect(n);
        if (rv) {
            return rv;
        }
    }
    return NULL;
}

const char *
wm_http_rewrite_vars_init(const wm_conf_node_t *http)
{
    free(wm_http_rw_names);
    wm_http_rw_names = NULL;
    wm_http_rw_names_len = 0;
    return wm_http_rw_collect(http);
}

wm_int_t
wm_http_rewrite_var_value(wm_http_request_t *r, const wm_str_t *name,
                          wm_str_t *v)
{
    wm_array_t *values = r->ctx[wm_http_rewrite_module.index];
    size_t i;

    for (i = 0; values && i < values->nelts; i++) {
        wm_http_rw_value_t *val = &((wm_http_rw_value_t *) values->elts)[i];

        if (val->name.len == name->len
            && memcmp(val->name.data, name->data, name->len) == 0)
        {
            *v = val->value;
            return WM_OK;
        }
    }
    return WM_DECLINED;
}

static wm_int_t
wm_http_rw_var_get(void *data, const wm_str_t *arg, uintptr_t unused,
                   wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;
    wm_http_rewrite_conf_t *rlcf;

    if (wm_http_rewrite_var_value(r, arg, v) == WM_OK) {
        return WM_OK;
    }
    rlcf = wm_http_loc_conf(r, wm_http_rewrite_module);
    if (rlcf->uninit_warn) {
        wm_log_error(WM_LOG_WARN, wm_http_request_log(r), 0,
                     "using uninitialized \"%.*s\" variable", (int) arg->len,
                     (const char *) arg->data);
    }
    return WM_DECLINED;
}

const wm_var_def_t wm_http_rewrite_vars[] = {
    {"", wm_http_rw_var_get, 0, 0, wm_http_rw_var_known},
    {NULL, NULL, 0, 0, NULL},
};

/* Gives the variable `name` the value v for r (both in r's pool or the
 * config's). WM_OK or WM_ERROR. */
static wm_int_t
wm_http_rw_var_set(wm_http_request_t *r, const wm_str_t *name,
                   const wm_str_t *v)
{
    wm_array_t *values = r->ctx[wm_http_rewrite_module.index];
    wm_http_rw_value_t *val;
    size_t i;

    if (values == NULL) {
        values = wm_palloc(r->pool, sizeof(wm_array_t));
        if (values == NULL
            || wm_array_init(values, r->pool, 4, sizeof(wm_http_rw_value_t))
                   != WM_OK)
        {
            return WM_ERROR;
        }
        r->ctx[wm_http_rewrite_module.index] = values;
    }
    for (i = 0; i < values->nelts; i++) {
        val = &((wm_http_rw_value_t *) values->elts)[i];
        if (val->name.len == name->len
            && memcmp(val->name.data, name->data, name->len) == 0)
        {
            val->value = *v;
            return WM_OK;
        }
    }
    val = wm_array_push(values);
    if (val == NULL) {
        return WM_ERROR;
    }
    val->name = *name;
    val->value = *v;
    return WM_OK;
}

/* ---- run time ------------------------------------------------------------ */

wm_int_t
wm_http_rewrite_server_handler(wm_http_request_t *r)
{
    wm_http_rewrite_conf_t *rlcf = wm_http_loc_conf(r, wm_http_rewrite_module);
    wm_http_rw_exec_t e = {.r = r, .conf = rlcf};

    return rlcf->codes ? wm_http_rw_exec(&e, rlcf->codes) : WM_DECLINED;
}

wm_int_t
wm_http_rewrite_handler(wm_http_request_t *r)
{
    wm_http_rewrite_conf_t *rlcf = wm_http_loc_conf(r, wm_http_rewrite_module);
    wm_http_rw_exec_t e = {.r = r, .conf = rlcf};

    /* No location matched: the server's script has already run. */
    if (r->loc == r->srv->root || rlcf->codes == NULL) {
        return WM_DECLINED;
    }
    return wm_http_rw_exec(&e, rlcf->codes);
}

/* True when the request's path came with %XX or '+': nginx then escapes
 * regex captures where they go into arguments or a redirect. */
static bool
wm_http_rw_quoted(wm_http_request_t *r)
{
    return memchr(r->head.path.data, '%', r->head.path.len) != NULL
           || memchr(r->head.path.data, '+', r->head.path.len) != NULL;
}

static bool
wm_http_rw_is_capture(const wm_var_def_t *var)
{
    return var == wm_http_capture_vars
           || (var->name[0] >= '0' && var->name[0] <= '9'
               && var->name[1] == '\0');
}

/* Escapes a capture as nginx escapes query arguments: controls, space,
 * # % & + ; ? and bytes above 0x7e. */
static wm_int_t
wm_http_rw_escape_capture(const wm_var_def_t *var, wm_str_t *v, wm_pool_t *pool,
                          void *data)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, n = 0;
    u_char *p, *out;

    if (!wm_http_rw_is_capture(var)) {
        return WM_OK;
    }
    for (i = 0; i < v->len; i++) {
        u_char c = v->data[i];

        n += (c <= 0x20 || c >= 0x7f || strchr("#%&+;?", c)) ? 3 : 1;
    }
    if (n == v->len) {
        return WM_OK;
    }
    out = p = wm_palloc(pool, n);
    if (out == NULL) {
        return WM_ERROR;
    }
    for (i = 0; i < v->len; i++) {
        u_char c = v->data[i];

        if (c <= 0x20 || c >= 0x7f || strchr("#%&+;?", c)) {
            *p++ = '%';
            *p++ = (u_char) hex[c >> 4];
            *p++ = (u_char) hex[c & 0xf];
        } else {
            *p++ = c;
        }
    }
    v->data = out;
    v->len = n;
    return WM_OK;
}

static int
wm_http_rw_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (u_char) (c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* nginx decodes a redirect's %XX that stand for printable characters
 * above '%', up to the first '?' (written or decoded); in place. */
static void
wm_http_rw_unescape_redirect(wm_str_t *s)
{
    u_char *p = s->data, *end = s->data + s->len, *d = s->data;

    while (p < end) {
        int hi, lo;

        if (*p == '?') {
            break;
        }
        if (*p == '%' && end - p >= 3 && (hi = wm_http_rw_hex(p[1])) >= 0
            && (lo = wm_http_rw_hex(p[2])) >= 0 && hi * 16 + lo > '%'
            && hi * 16 + lo < 0x7f)
        {
            *d++ = (u_char) (hi * 16 + lo);
            p += 3;
            if (d[-1] == '?') {
                break;
            }
            continue;
        }
        *d++ = *p++;
    }
    if (d != p) {
        memmove(d, p, (size_t) (end - p));
    }
    s->len -= (size_t) (p - d);
}

/* Joins a, sep and b into r's pool; out may be a. */
static wm_int_t
wm_http_rw_join(wm_http_request_t *r, const wm_str_t *a, char sep,
                const wm_str_t *b, wm_str_t *out)
{
    size_t len = a->len + 1 + b->len;
    u_char *p = wm_palloc(r->pool, len + 1);

    if (p == NULL) {
        return WM_ERROR;
    }
    memcpy(p, a->data, a->len);
    p[a->len] = (u_char) sep;
    memcpy(p + a->len + 1, b->data, b->len);
    p[len] = '\0';
    out->data = p;
    out->len = len;
    return WM_OK;
}

static void
wm_http_rw_log_match(wm_http_rw_exec_t *e, const wm_http_regex_t *re,
                     const wm_str_t *subject, bool matched)
{
    if (e->conf->log) {
        wm_log_error(WM_LOG_NOTICE, wm_http_request_log(e->r), 0,
                     "\"%.*s\" %s \"%.*s\"", (int) re->pattern.len,
                     (const char *) re->pattern.data,
                     matched ? "matches" : "does not match", (int) subject->len,
                     (const char *) subject->data);
    }
}

static wm_int_t
wm_http_rw_run_rewrite(wm_http_rw_exec_t *e, const wm_http_rw_code_t *code)
{
    wm_http_request_t *r = e->r;
    wm_cv_filter_pt esc =
        wm_http_rw_quoted(r) ? wm_http_rw_escape_capture : NULL;
    wm_str_t uri, args;
    int rc;

    rc = wm_http_regex_exec((wm_http_regex_t *) &code->regex, &r->uri, r);
    if (rc < 0) {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "regex \"%.*s\" failed on \"%.*s\"",
                     (int) code->regex.pattern.len,
                     (const char *) code->regex.pattern.data, (int) r->uri.len,
                     (const char *) r->uri.data);
        return 500;
    }
    wm_http_rw_log_match(e, &code->regex, &r->uri, rc == 1);
    if (rc == 0) {
        return WM_DECLINED;
    }

    if (code->status) {
        if (wm_cv_eval_filtered(&code->a, r, r->pool, &uri, esc, NULL) != WM_OK)
        {
            return 500;
        }
        if (uri.data == code->a.value.data) {
            /* unescaped in place below: never in the config's copy */
            uri.data =
                (u_char *) wm_pstrndup(r->pool, (char *) uri.data, uri.len);
            if (uri.data == NULL) {
                return 500;
            }
        }
        wm_http_rw_unescape_redirect(&uri);
        if (code->add_args && r->args.len
            && wm_http_rw_join(r, &uri, code->has_args ? '&' : '?', &r->args,
                               &uri)
                   != WM_OK)
        {
            return 500;
        }
        if (e->conf->log) {
            wm_log_error(WM_LOG_NOTICE, wm_http_request_log(r), 0,
                         "rewritten redirect: \"%.*s\"", (int) uri.len,
                         (const char *) uri.data);
        }
        return wm_http_send_redirect(r, code->status, &uri);
    }

    if (wm_cv_eval(&code->a, r, r->pool, &uri) != WM_OK) {
        return 500;
    }
    if (code->has_args) {
        if (wm_cv_eval_filtered(&code->b, r, r->pool, &args, esc, NULL) != WM_OK
            || (code->add_args && r->args.len
                && wm_http_rw_join(r, &args, '&', &r->args, &args) != WM_OK))
        {
            return 500;
        }
        r->args = args;
    } else if (!code->add_args) {
        r->args.len = 0;
    }
    if (uri.len == 0) {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "the rewritten URI has a zero length");
        return 500;
    }
    r->uri = uri;
    r->internal = 1;
    if (e->conf->log) {
        wm_log_error(WM_LOG_NOTICE, wm_http_request_log(r), 0,
                     "rewritten data: \"%.*s\", args: \"%.*s\"", (int) uri.len,
                     (const char *) uri.data, (int) r->args.len,
                     (const char *) r->args.data);
    }
    r->uri_changed = code->flag != WM_RW_FLAG_BREAK;
    e->stop = code->flag == WM_RW_FLAG_BREAK || code->flag == WM_RW_FLAG_LAST;
    return WM_DECLINED;
}

static wm_int_t
wm_http_rw_run_return(wm_http_request_t *r, const wm_http_rw_code_t *code)
{
    wm_str_t text = wm_null_string;

    if (!code->has_text) {
        /* nginx: a code under 400 other than a redirect is a response
         * with an empty body (and the default_type), not a page. */
        if (code->status >= 400
            || (code->status >= 301 && code->status <= 308
                && code->status != 304))
        {
            return code->status;
        }
    } else {
        /* nginx sets the status first: the text's $status shows it. */
        r->status = code->status;
        if (wm_cv_eval(&code->a, r, r->pool, &text) != WM_OK) {
            return 500;
        }
    }
    if (code->status >= 301 && code->status <= 308 && code->status != 304) {
        return wm_http_send_redirect(r, code->status, &text);
    }
    wm_http_set_content_type(r);
    if (wm_http_send_text(r, code->status, NULL, &text) != WM_OK) {
        return WM_ERROR;
    }
    return WM_DONE;
}

/* 1 when the condition of code holds, 0 when not, -1 on an error. */
static int
wm_http_rw_test(wm_http_rw_exec_t *e, const wm_http_rw_code_t *code)
{
    wm_http_request_t *r = e->r;
    wm_str_t a, b;
    struct stat st;
    int rc;

    if (wm_cv_eval(&code->a, r, r->pool, &a) != WM_OK) {
        return -1;
    }
    switch (code->cond) {
    case WM_RW_IF_VAR:
        return a.len != 0 && !(a.len == 1 && a.data[0] == '0');
    case WM_RW_IF_EQ:
        if (wm_cv_eval(&code->b, r, r->pool, &b) != WM_OK) {
            return -1;
        }
        rc = a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
        return code->negate ? !rc : rc;
    case WM_RW_IF_MATCH:
        rc = wm_http_regex_exec((wm_http_regex_t *) &code->regex, &a, r);
        if (rc < 0) {
            return -1;
        }
        wm_http_rw_log_match(e, &code->regex, &a, rc == 1);
        return code->negate ? !rc : rc;
    default:
        break;
    }

    /* A file test: a holds the path, NUL-terminated. */
    if (wm_http_stat(r, (const char *) a.data, &st) != 0) {
        rc = 0;
    } else {
        switch (code->cond) {
        case WM_RW_IF_FILE:
            rc = S_ISREG(st.st_mode);
            break;
        case WM_RW_IF_DIR:
            rc = S_ISDIR(st.st_mode);
            break;
        case WM_RW_IF_EXEC:
            rc = (st.st_mode & S_IXUSR) != 0;
            break;
        default:
            rc = 1;
            break;
        }
    }
    return code->negate ? !rc : rc;
}

/*
 * Runs the instructions of codes in order. WM_DECLINED when the script
 * ended (or stopped: e->stop) without an answer, else what the request
 * is answered with: a status, WM_DONE or WM_ERROR.
 */
static wm_int_t
wm_http_rw_exec(wm_http_rw_exec_t *e, const wm_array_t *codes)
{
    const wm_http_rw_code_t *code = codes->elts;
    wm_http_request_t *r = e->r;
    size_t i;

    for (i = 0; i < codes->nelts; i++, code++) {
        wm_http_rewrite_conf_t *rlcf;
        wm_int_t rc;
        wm_str_t v;
        int hold;

        switch (code->op) {
        case WM_RW_REWRITE:
            rc = wm_http_rw_run_rewrite(e, code);
            if (rc != WM_DECLINED) {
                return rc;
            }
            break;

        case WM_RW_RETURN:
            return wm_http_rw_run_return(r, code);

        case WM_RW_SET:
            if (wm_cv_eval(&code->a, r, r->pool, &v) != WM_OK) {
                return 500;
            }
            if (wm_str_eq(&code->name, "args")) {
                r->args = v;
            } else if (wm_http_rw_var_set(r, &code->name, &v) != WM_OK) {
                return 500;
            }
            break;

        case WM_RW_IF:
            hold = wm_http_rw_test(e, code);
            if (hold < 0) {
                return 500;
            }
            if (!hold) {
                break;
            }
            if (code->loc) {
                r->loc = code->loc;
                r->loc_confs = code->loc_confs;
            }
            rlcf = code->loc_confs[wm_http_rewrite_module.index];
            if (rlcf->codes) {
                rc = wm_http_rw_exec(e, rlcf->codes);
                if (rc != WM_DECLINED) {
                    return rc;
                }
            }
            break;

        case WM_RW_BREAK:
            e->stop = true;
            break;
        }
        if (e->stop) {
            break;
        }
    }
    return WM_DECLINED;
}

/* ---- directives ---------------------------------------------------------- */

/* Appends a new instruction to conf's script; NULL when out of memory. */
static wm_http_rw_code_t *
wm_http_rw_add(wm_conf_t *cf, wm_http_rewrite_conf_t *conf, wm_http_rw_op_e op)
{
    wm_http_rw_code_t *code;

    if (conf->codes == NULL) {
        conf->codes = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (conf->codes == NULL
            || wm_array_init(conf->codes, cf->pool, 4,
                             sizeof(wm_http_rw_code_t))
                   != WM_OK)
        {
            return NULL;
        }
    }
    code = wm_array_push(conf->codes);
    if (code) {
        memset(code, 0, sizeof(*code));
        code->op = op;
    }
    return code;
}

static bool
wm_http_rw_is_url(const wm_str_t *s)
{
    return (s->len > 7 && memcmp(s->data, "http://", 7) == 0)
           || (s->len > 8 && memcmp(s->data, "https://", 8) == 0)
           || (s->len >= 7 && memcmp(s->data, "$scheme", 7) == 0);
}

/* Compiles text (len bytes of data, copied NUL-terminated) into cv. */
static const char *
wm_http_rw_compile(wm_conf_t *cf, const u_char *data, size_t len, wm_cv_t *cv)
{
    wm_str_t s;

    s.data = (u_char *) wm_pstrndup(cf->pool, (const char *) data, len);
    if (s.data == NULL) {
        return "failed: out of memory";
    }
    s.len = len;
    return wm_cv_compile(cf->pool, &s, wm_http_var_tables, cv);
}

static const char *
wm_http_rw_rewrite(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    const wm_conf_node_t *n = cf->node;
    wm_str_t repl = n->args[1];
    wm_http_rw_code_t *code = wm_http_rw_add(cf, conf, WM_RW_REWRITE);
    const u_char *q;
    const char *rv;

    if (code == NULL) {
        return "failed: out of memory";
    }
    if (repl.len == 0) {
        return "has an empty replacement";
    }
    rv = wm_http_regex_compile(cf->pool, &n->args[0], false, &code->regex);
    if (rv) {
        return rv;
    }
    if (n->nargs == 3) {
        const char *f = (const char *) n->args[2].data;

        if (strcmp(f, "last") == 0) {
            code->flag = WM_RW_FLAG_LAST;
        } else if (strcmp(f, "break") == 0) {
            code->flag = WM_RW_FLAG_BREAK;
        } else if (strcmp(f, "redirect") == 0) {
            code->flag = WM_RW_FLAG_REDIRECT;
        } else if (strcmp(f, "permanent") == 0) {
            code->flag = WM_RW_FLAG_PERMANENT;
        } else {
            return wm_conf_errf(cf, "has invalid parameter \"%s\"", f);
        }
    }
    if (code->flag == WM_RW_FLAG_PERMANENT) {
        code->status = 301;
    } else if (code->flag == WM_RW_FLAG_REDIRECT || wm_http_rw_is_url(&repl)) {
        code->status = 302;
    }
    /* A last '?' drops the request's arguments (and is dropped). */
    if (repl.data[repl.len - 1] == '?') {
        repl.len--;
    } else {
        code->add_args = 1;
    }
    q = memchr(repl.data, '?', repl.len);
    code->has_args = q != NULL;
    if (code->status || q == NULL) {
        return wm_http_rw_compile(cf, repl.data, repl.len, &code->a);
    }
    rv = wm_http_rw_compile(cf, repl.data, (size_t) (q - repl.data), &code->a);
    if (rv == NULL) {
        rv = wm_http_rw_compile(
            cf, q + 1, repl.len - (size_t) (q - repl.data) - 1, &code->b);
    }
    return rv;
}

static const char *
wm_http_rw_return(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    const wm_conf_node_t *n = cf->node;
    const wm_str_t *text = NULL;
    wm_http_rw_code_t *code = wm_http_rw_add(cf, conf, WM_RW_RETURN);
    int64_t status;
    const char *rv;

    if (code == NULL) {
        return "failed: out of memory";
    }
    status = wm_parse_num(&n->args[0]);
    if (status < 0) {
        if (n->nargs == 1 && wm_http_rw_is_url(&n->args[0])) {
            status = 302;
            text = &n->args[0];
        } else {
            return wm_conf_errf(cf, "has invalid return code \"%s\"",
                                (const char *) n->args[0].data);
        }
    } else if (status > 999 || status < 200) {
        return wm_conf_errf(cf, "has invalid return code \"%s\"",
                            (const char *) n->args[0].data);
    } else if (n->nargs == 2) {
        text = &n->args[1];
    }
    if (text) {
        rv = wm_cv_compile(cf->pool, text, wm_http_var_tables, &code->a);
        if (rv) {
            return rv;
        }
        code->has_text = 1;
    }
    code->status = (int) status;
    return NULL;
}

static const char *
wm_http_rw_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    const wm_conf_node_t *n = cf->node;
    wm_http_rw_code_t *code;
    const wm_var_def_t *var;
    wm_str_t name, arg;

    if (n->args[0].len < 2 || n->args[0].data[0] != '$') {
        return wm_conf_errf(cf, "has invalid variable name \"%s\"",
                            (const char *) n->args[0].data);
    }
    name.data = n->args[0].data + 1;
    name.len = n->args[0].len - 1;
    /* Of the built-in variables, only $args and $limit_rate may be set. */
    var = wm_var_find(wm_http_var_tables, &name, &arg);
    if (!wm_str_eq(&name, "args") && !wm_str_eq(&name, "limit_rate") && var
        && var->get != wm_http_rw_var_get)
    {
        return wm_conf_errf(cf, "cannot set the built-in \"%s\" variable",
                            (const char *) name.data);
    }
    code = wm_http_rw_add(cf, conf, WM_RW_SET);
    if (code == NULL) {
        return "failed: out of memory";
    }
    code->name = name;
    return wm_cv_compile(cf->pool, &n->args[1], wm_http_var_tables, &code->a);
}

static const char *
wm_http_rw_break(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    return wm_http_rw_add(cf, conf, WM_RW_BREAK) ? NULL
                                                 : "failed: out of memory";
}

/* The condition of `if`: `($var)`, `($var op value)` or `(-f path)`,
 * the parentheses attached to the words or apart. */
static const char *
wm_http_rw_condition(wm_conf_t *cf, wm_http_rw_code_t *code)
{
    static const struct {
        const char *op;
        wm_http_rw_cond_e cond;
        bool negate;
    } ops[] = {
        {"=", WM_RW_IF_EQ, false},      {"!=", WM_RW_IF_EQ, true},
        {"~", WM_RW_IF_MATCH, false},   {"~*", WM_RW_IF_MATCH, false},
        {"!~", WM_RW_IF_MATCH, true},   {"!~*", WM_RW_IF_MATCH, true},
        {"-f", WM_RW_IF_FILE, false},   {"!-f", WM_RW_IF_FILE, true},
        {"-d", WM_RW_IF_DIR, false},    {"!-d", WM_RW_IF_DIR, true},
        {"-e", WM_RW_IF_EXISTS, false}, {"!-e", WM_RW_IF_EXISTS, true},
        {"-x", WM_RW_IF_EXEC, false},   {"!-x", WM_RW_IF_EXEC, true},
    };
    const wm_conf_node_t *n = cf->node;
    wm_str_t w[3], *first = &n->args[0], *last = &n->args[n->nargs - 1];
    size_t nw = 0, i;
    const char *rv;

    if (first->len == 0 || first->data[0] != '(' || last->len == 0
        || last->data[last->len - 1] != ')')
    {
        return wm_conf_errf(cf, "has invalid condition \"%s\"",
                            (const char *) first->data);
    }
    for (i = 0; i < n->nargs; i++) {
        wm_str_t s = n->args[i];

        if (i == 0) {
            s.data++;
            s.len--;
        }
        if (i == n->nargs - 1) {
            s.len--;
        }
        if ((i == 0 || i == n->nargs - 1) && s.len == 0
            && !(i == 0 && n->nargs == 1)) {
            continue; /* a "(" or ")" on its own */
        }
        if (nw == 3) {
            return wm_conf_errf(cf, "has unexpected \"%s\" in condition",
                                (const char *) n->args[i].data);
        }
        w[nw++] = s;
    }
    if (nw == 0 || w[0].len == 0) {
        return "has an empty condition";
    }

    if (w[0].data[0] == '$') {
        rv = wm_http_rw_compile(cf, w[0].data, w[0].len, &code->a);
        if (rv) {
            return rv;
        }
        if (nw == 1) {
            code->cond = WM_RW_IF_VAR;
            return NULL;
        }
        for (i = 0; i < 6; i++) {
            if (wm_str_eq(&w[1], ops[i].op)) {
                break;
            }
        }
        if (i == 6 || nw != 3) {
            return wm_conf_errf(cf, "has unexpected \"%.*s\" in condition",
                                (int) w[1].len, (const char *) w[1].data);
        }
        code->cond = ops[i].cond;
        code->negate = ops[i].negate;
        if (code->cond == WM_RW_IF_EQ) {
            return wm_http_rw_compile(cf, w[2].data, w[2].len, &code->b);
        }
        w[2].data = (u_char *) wm_pstrndup(cf->pool, (const char *) w[2].data,
                                           w[2].len);
        if (w[2].data == NULL) {
            return "failed: out of memory";
        }
        return wm_http_regex_compile(
            cf->pool, &w[2], w[1].data[w[1].len - 1] == '*', &code->regex);
    }

    for (i = 6; i < wm_nelems(ops); i++) {
        if (wm_str_eq(&w[0], ops[i].op)) {
            break;
        }
    }
    if (i == wm_nelems(ops) || nw != 2) {
        return wm_conf_errf(cf, "has invalid condition \"%.*s\"",
                            (int) w[0].len, (const char *) w[0].data);
    }
    code->cond = ops[i].cond;
    code->negate = ops[i].negate;
    return wm_http_rw_compile(cf, w[1].data, w[1].len, &code->a);
}

static const char *
wm_http_rw_if(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_core_loc_conf_t *pclcf = wm_http_conf_core_loc(cf), *clcf, **slot;
    wm_http_rw_code_t *code = wm_http_rw_add(cf, conf, WM_RW_IF);
    void **loc_confs, **saved = cf->confs[WM_LVL_LOC];
    uint32_t ctx = cf->ctx;
    const char *rv;

    if (code == NULL) {
        return "failed: out of memory";
    }
    rv = wm_http_rw_condition(cf, code);
    if (rv) {
        return rv;
    }
    loc_confs = wm_http_create_confs(cf, WM_LVL_LOC);
    slot = wm_array_push(&pclcf->locations);
    if (loc_confs == NULL || slot == NULL) {
        return "failed: out of memory";
    }
    clcf = loc_confs[wm_http_core_module.index];
    clcf->loc_confs = loc_confs;
    clcf->noname = 1;
    clcf->parent = pclcf;
    clcf->name = pclcf->name;
    clcf->match = pclcf->match;
    clcf->file = cf->node->file;
    clcf->line = cf->node->line;
    *slot = clcf;
    code->loc_confs = loc_confs;
    code->loc = ctx == WM_CTX_HTTP_LOC ? clcf : NULL;

    cf->ctx = ctx == WM_CTX_HTTP_LOC ? WM_CTX_HTTP_LIF : WM_CTX_HTTP_SIF;
    cf->confs[WM_LVL_LOC] = loc_confs;
    wm_conf_walk(cf, cf->node);
    cf->ctx = ctx;
    cf->confs[WM_LVL_LOC] = saved;
    return NULL;
}

/* ---- conf structs -------------------------------------------------------- */

static void *
wm_http_rewrite_create(wm_conf_t *cf, unsigned level)
{
    wm_http_rewrite_conf_t *conf = wm_pcalloc(cf->pool, sizeof(*conf));

    if (conf) {
        conf->log = WM_CONF_UNSET;
        conf->uninit_warn = WM_CONF_UNSET;
    }
    return conf;
}

static const char *
wm_http_rewrite_merge(wm_conf_t *cf, void *parent, void *child, unsigned level)
{
    wm_http_rewrite_conf_t *prev = parent, *conf = child;

    wm_conf_merge_value(conf->log, prev->log, 0);
    wm_conf_merge_value(conf->uninit_warn, prev->uninit_warn, 1);
    return NULL;
}
