/*
 * `charset`, `charset_types`, `source_charset` and `override_charset`: a
 * header filter that names the charset of text responses, as nginx's
 * charset module does, by appending "; charset=NAME" to the Content-Type
 * of the types listed in charset_types. wmproxy recodes nothing: a
 * configuration that would need recoding (charset and source_charset
 * differ) is refused by -t, and a response that names another charset
 * keeps it (logged like nginx without a charset_map).
 */
#include "wm_http.h"

#include "wm_log.h"

typedef struct {
    wm_cv_t *charset;       /* NULL: off; WM_CONF_UNSET_PTR: inherit */
    wm_str_t source;        /* data NULL: inherit; len 0: off */
    wm_int_t override;
    wm_array_t *types;      /* wm_str_t; NULL: inherit */
    /* Where charset and source_charset were set in this block, to report
     * a recoding they would need there (NULL when inherited). */
    const wm_conf_node_t *charset_node;
    const wm_conf_node_t *source_node;
    unsigned checked : 1;
} wm_http_charset_conf_t;

static void *wm_http_charset_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_charset_merge(wm_conf_t *cf, void *prev,
                                         void *conf, unsigned level);
static const char *wm_http_charset_set(wm_conf_t *cf, const wm_command_t *cmd,
                                       void *conf);
static const char *wm_http_charset_source_set(wm_conf_t *cf,
                                              const wm_command_t *cmd,
                                              void *conf);
static const char *wm_http_charset_types_set(wm_conf_t *cf,
                                             const wm_command_t *cmd,
                                             void *conf);

#define WM_CHARSET_CTX                                                         \
    WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC | WM_CTX_HTTP_LIF

static const wm_command_t wm_http_charset_commands[] = {
    {"charset", WM_CHARSET_CTX, 1, 1, 0, WM_LVL_LOC, wm_http_charset_set, 0,
     NULL, "off", "name | off: add \"; charset=name\" to the Content-Type "
                  "of charset_types responses"},
    {"charset_types", WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC, 1,
     WM_ARGS_MANY, 0, WM_LVL_LOC, wm_http_charset_types_set, 0, NULL,
     "text/html text/xml text/plain text/vnd.wap.wml application/javascript "
     "application/rss+xml",
     "mime-type ... | *: the types that charset applies to"},
    {"source_charset", WM_CHARSET_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_http_charset_source_set, 0, NULL, "-",
     "name: the charset of the responses (must equal charset: no recoding)"},
    {"override_charset", WM_CHARSET_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_flag, offsetof(wm_http_charset_conf_t, override), NULL,
     "off", "on | off: also apply charset to responses that name one"},
    wm_null_command,
};

wm_module_t wm_http_charset_module = {
    .name = "http_charset",
    .family = WM_MOD_HTTP,
    .commands = wm_http_charset_commands,
    .create_conf = wm_http_charset_create,
    .merge_conf = wm_http_charset_merge,
};

static bool
wm_http_charset_eq(const wm_str_t *a, const wm_str_t *b)
{
    return a->len == b->len
           && wm_http_caseeq(a->data, (const char *) b->data, a->len);
}

/* The value of the charset parameter of a Content-Type (quotes removed),
 * or an empty slice. */
static wm_str_t
wm_http_charset_param(const wm_str_t *type)
{
    const u_char *p = type->data, *end = p + type->len;
    wm_str_t v = {0, NULL};

    while ((p = memchr(p, ';', (size_t) (end - p))) != NULL) {
        const u_char *e;

        p++;
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        if ((size_t) (end - p) < 8 || !wm_http_caseeq(p, "charset=", 8)) {
            continue;
        }
        p += 8;
        e = memchr(p, ';', (size_t) (end - p));
        e = e ? e : end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }
        if (e - p >= 2 && *p == '"' && e[-1] == '"') {
            p++;
            e--;
        }
        v.data = (u_char *) p;
        v.len = (size_t) (e - p);
        return v;
    }
    return v;
}

/* True for the type of a multipart range, whose parts got the charset
 * (even with `charset_types *`, nginx names none on the whole). */
static bool
wm_http_charset_multipart(const wm_str_t *type)
{
    return type->len >= 20 && wm_http_caseeq(type->data, "multipart/byteranges",
                                             20);
}

/* The header filter. Also called by the static module before it writes
 * the part headers of a multipart/byteranges body, as nginx's charset
 * filter runs before its range filter; a second call changes nothing. */
wm_int_t
wm_http_charset_filter(wm_http_request_t *r)
{
    wm_http_charset_conf_t *ccf = wm_http_loc_conf(r, wm_http_charset_module);
    wm_str_t name, have;
    char *type;

    /* As nginx: no charset on a 301 or 302, whose page some old browsers
     * would keep the charset of for the next one. */
    if (ccf->charset == NULL || r->content_type.len == 0 || r->status == 301
        || r->status == 302 || wm_http_charset_multipart(&r->content_type)
        || !wm_http_type_match(&r->content_type, ccf->types->elts,
                               ccf->types->nelts))
    {
        return WM_OK;
    }
    if (!ccf->charset->has_vars) {
        name = ccf->charset->value;
    } else if (wm_cv_eval(ccf->charset, r, r->pool, &name) != WM_OK) {
        return WM_ERROR;
    }
    if (name.len == 0 || (name.len == 3 && wm_http_caseeq(name.data, "off", 3)))
    {
        return WM_OK;
    }
    have = wm_http_charset_param(&r->content_type);
    if (have.len && !ccf->override) {
        return WM_OK;
    }
    if (have.len == 0) {
        have = ccf->source;
    }
    if (have.len && !wm_http_charset_eq(&have, &name)) {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "no \"charset_map\" between the charsets \"%.*s\" and "
                     "\"%.*s\"",
                     (int) have.len, (const char *) have.data, (int) name.len,
                     (const char *) name.data);
        return WM_OK;
    }
    if (wm_http_charset_param(&r->content_type).len) {
        return WM_OK; /* it names the same charset already */
    }
    type = wm_psprintf(r->pool, "%.*s; charset=%.*s",
                       (int) r->content_type.len,
                       (const char *) r->content_type.data, (int) name.len,
                       (const char *) name.data);
    if (type == NULL) {
        return WM_ERROR;
    }
    r->content_type.data = (u_char *) type;
    r->content_type.len = strlen(type);
    return WM_OK;
}

/* ---- configuration ------------------------------------------------------ */

static const char *
wm_http_charset_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_charset_conf_t *ccf = conf;
    wm_str_t *arg = &cf->node->args[0];
    const char *rv;

    (void) cmd;
    if (ccf->charset != WM_CONF_UNSET_PTR) {
        return "is duplicate";
    }
    ccf->charset_node = cf->node;
    if (wm_str_eq(arg, "off")) {
        ccf->charset = NULL;
        return NULL;
    }
    ccf->charset = wm_pcalloc(cf->pool, sizeof(wm_cv_t));
    if (ccf->charset == NULL) {
        return "failed: out of memory";
    }
    rv = wm_cv_compile(cf->pool, arg, wm_http_var_tables, ccf->charset);
    if (rv) {
        return rv;
    }
    if (!ccf->charset->has_vars) {
        ccf->charset->value = *arg;
    }
    return NULL;
}

static const char *
wm_http_charset_source_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_charset_conf_t *ccf = conf;
    wm_str_t *arg = &cf->node->args[0];

    (void) cmd;
    if (ccf->source.data) {
        return "is duplicate";
    }
    if (memchr(arg->data, '$', arg->len)) {
        return wm_conf_errf(cf, "has invalid value \"%s\": variables are not "
                                "allowed here",
                            (const char *) arg->data);
    }
    ccf->source_node = cf->node;
    ccf->source = *arg;
    if (wm_str_eq(arg, "off")) {
        ccf->source.len = 0;
    }
    return NULL;
}

static const char *
wm_http_charset_types_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_charset_conf_t *ccf = conf;
    wm_str_t *t;
    size_t i;

    (void) cmd;
    if (ccf->types) {
        return "is duplicate";
    }
    ccf->types = wm_palloc(cf->pool, sizeof(wm_array_t));
    if (ccf->types == NULL
        || wm_array_init(ccf->types, cf->pool, cf->node->nargs + 1,
                         sizeof(wm_str_t))
               != WM_OK)
    {
        return "failed: out of memory";
    }
    /* As nginx: text/html is always in the list. */
    t = wm_array_push(ccf->types);
    if (t == NULL) {
        return "failed: out of memory";
    }
    wm_str_set(t, "text/html");
    for (i = 0; i < cf->node->nargs; i++) {
        t = wm_array_push(ccf->types);
        if (t == NULL) {
            return "failed: out of memory";
        }
        *t = cf->node->args[i];
    }
    return NULL;
}

/* Recoding between charsets is not implemented: refuses it where it is
 * configured, once, in the block that sets charset or source_charset
 * (the http block's conf is checked as the prev of its first server). */
static void
wm_http_charset_check(wm_conf_t *cf, wm_http_charset_conf_t *ccf)
{
    const wm_conf_node_t *at =
        ccf->charset_node ? ccf->charset_node : ccf->source_node;

    if (at == NULL || ccf->checked || ccf->charset == NULL
        || ccf->charset == WM_CONF_UNSET_PTR || ccf->charset->has_vars
        || ccf->source.len == 0
        || wm_http_charset_eq(&ccf->charset->value, &ccf->source))
    {
        return;
    }
    ccf->checked = 1;
    wm_conf_error(cf, at,
                  "\"charset %.*s\" with \"source_charset %.*s\" needs "
                  "recoding, which wmproxy does not do: the two must name "
                  "the same charset",
                  (int) ccf->charset->value.len,
                  (const char *) ccf->charset->value.data,
                  (int) ccf->source.len, (const char *) ccf->source.data);
}

static void *
wm_http_charset_create(wm_conf_t *cf, unsigned level)
{
    wm_http_charset_conf_t *ccf = wm_pcalloc(cf->pool, sizeof(*ccf));

    (void) level;
    if (ccf == NULL) {
        return NULL;
    }
    ccf->charset = WM_CONF_UNSET_PTR;
    ccf->override = WM_CONF_UNSET;
    return ccf;
}

static const char *
wm_http_charset_merge(wm_conf_t *cf, void *prev, void *conf, unsigned level)
{
    static wm_str_t dflt[] = {
        wm_string("text/html"),        wm_string("text/xml"),
        wm_string("text/plain"),       wm_string("text/vnd.wap.wml"),
        wm_string("application/javascript"),
        wm_string("application/rss+xml"),
    };
    static wm_array_t dflt_types = {.elts = dflt,
                                    .nelts = wm_nelems(dflt),
                                    .size = sizeof(wm_str_t),
                                    .nalloc = wm_nelems(dflt)};
    wm_http_charset_conf_t *p = prev, *c = conf;

    (void) level;
    if (c->charset == WM_CONF_UNSET_PTR) {
        c->charset = p->charset == WM_CONF_UNSET_PTR ? NULL : p->charset;
    }
    if (c->source.data == NULL) {
        c->source = p->source;
    }
    wm_conf_merge_value(c->override, p->override, 0);
    if (c->types == NULL) {
        c->types = p->types ? p->types : &dflt_types;
    }
    wm_http_charset_check(cf, p);
    wm_http_charset_check(cf, c);
    return NULL;
}
