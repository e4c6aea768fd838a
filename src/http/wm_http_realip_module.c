/*
 * The realip module: when a request comes through a trusted proxy
 * (set_real_ip_from), the client address it names in a header
 * (real_ip_header, X-Forwarded-For read from the right, recursively with
 * real_ip_recursive) or in the PROXY protocol header replaces the
 * connection's address for this request: $remote_addr, allow/deny and
 * the error log see it, and $realip_remote_addr keeps the original. The
 * connection gets its own address back when the request's pool is freed,
 * so each request of a keep-alive connection is judged on its own.
 */
#include "wm_http.h"

#include "wm_access.h"
#include "wm_log.h"

#include <netinet/in.h>

enum {
    WM_REALIP_X_REAL_IP = 0,
    WM_REALIP_X_FORWARDED_FOR,
    WM_REALIP_PROXY_PROTOCOL,
    WM_REALIP_HEADER, /* any other header, by name */
};

typedef struct {
    wm_array_t *from; /* wm_cidr_t; NULL: not set here */
    wm_int_t type;    /* WM_REALIP_* */
    wm_str_t header;  /* the header's name */
    wm_int_t recursive;
} wm_http_realip_conf_t;

/* The connection's own address while the request replaces it. */
typedef struct {
    wm_http_connection_t *c;
    struct sockaddr_storage peer;
    socklen_t peerlen;
    char peer_text[sizeof(((wm_http_connection_t *) 0)->peer_text)];
} wm_http_realip_ctx_t;

static void *wm_http_realip_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_realip_merge(wm_conf_t *cf, void *prev, void *conf,
                                        unsigned level);
static const char *wm_http_realip_from(wm_conf_t *cf, const wm_command_t *cmd,
                                       void *conf);
static const char *wm_http_realip_header(wm_conf_t *cf, const wm_command_t *cmd,
                                         void *conf);

#define WM_HTTP_REALIP_CTX WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC

static const wm_command_t wm_http_realip_commands[] = {
    {"set_real_ip_from", WM_HTTP_REALIP_CTX, 1, 1, WM_CMD_MULTI, WM_LVL_LOC,
     wm_http_realip_from, 0, NULL, "-",
     "address, address/prefix, unix: or all: a proxy trusted to name the "
     "client"},
    {"real_ip_header", WM_HTTP_REALIP_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_http_realip_header, 0, NULL, "X-Real-IP",
     "X-Real-IP, X-Forwarded-For, proxy_protocol or a header name: where "
     "the client address is"},
    {"real_ip_recursive", WM_HTTP_REALIP_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_flag, offsetof(wm_http_realip_conf_t, recursive), NULL, "off",
     "skip trusted addresses from the right of the header"},
    wm_null_command,
};

wm_module_t wm_http_realip_module = {
    .name = "http_realip",
    .family = WM_MOD_HTTP,
    .commands = wm_http_realip_commands,
    .create_conf = wm_http_realip_create,
    .merge_conf = wm_http_realip_merge,
};

/* ---- run time ------------------------------------------------------------ */

static bool
wm_http_realip_trusted(const wm_array_t *from, const struct sockaddr *sa)
{
    const wm_cidr_t *cidrs = from->elts;
    size_t i;

    for (i = 0; i < from->nelts; i++) {
        if (wm_cidr_match(&cidrs[i], sa)) {
            return true;
        }
    }
    return false;
}

bool
wm_http_realip_walk(const wm_array_t *from, bool recursive,
                    const wm_str_t **values, size_t n,
                    struct sockaddr_storage *out, socklen_t *outlen)
{
    bool found = false;

    while (n--) {
        const u_char *v = values[n]->data;
        size_t end = values[n]->len;

        for (;;) {
            struct sockaddr_storage sa;
            socklen_t len;
            size_t start;

            while (end && (v[end - 1] == ' ' || v[end - 1] == ',')) {
                end--;
            }
            if (end == 0) {
                break;
            }
            start = end;
            while (start && v[start - 1] != ' ' && v[start - 1] != ',') {
                start--;
            }
            if (wm_sockaddr_parse_host(v + start, end - start, true, &sa, &len)
                != WM_OK) {
                return found;
            }
            *out = sa;
            *outlen = len;
            found = true;
            if (!recursive
                || !wm_http_realip_trusted(from, (struct sockaddr *) &sa)) {
                return true;
            }
            end = start;
        }
    }
    return found;
}

static void
wm_http_realip_restore(void *data)
{
    wm_http_realip_ctx_t *ctx = data;
    wm_http_connection_t *c = ctx->c;

    c->peer = ctx->peer;
    c->peerlen = ctx->peerlen;
    memcpy(c->peer_text, ctx->peer_text, sizeof(c->peer_text));
}

/* Puts sa in place of the connection's address until r ends. */
static wm_int_t
wm_http_realip_set(wm_http_request_t *r, const struct sockaddr_storage *sa,
                   socklen_t len)
{
    wm_http_connection_t *c = r->c;
    wm_http_realip_ctx_t *ctx = wm_palloc(r->pool, sizeof(*ctx));

    if (ctx == NULL
        || wm_pool_cleanup_add(r->pool, wm_http_realip_restore, ctx) != WM_OK)
    {
        return WM_ERROR;
    }
    ctx->c = c;
    ctx->peer = c->peer;
    ctx->peerlen = c->peerlen;
    memcpy(ctx->peer_text, c->peer_text, sizeof(ctx->peer_text));
    r->ctx[wm_http_realip_module.index] = ctx;
    c->peer = *sa;
    c->peerlen = len;
    wm_sockaddr_host_text((const struct sockaddr *) sa, c->peer_text,
                          sizeof(c->peer_text));
    return WM_OK;
}

/*
 * Runs where the request's head is parsed and its server chosen (with
 * the server's settings), and again first in the access phase (with the
 * location's); the address is replaced at most once per request.
 */
wm_int_t
wm_http_realip_handler(wm_http_request_t *r)
{
    wm_http_realip_conf_t *rcf = wm_http_loc_conf(r, wm_http_realip_module);
    wm_http_connection_t *c = r->c;
    const wm_str_t *values[WM_HTTP_MAX_HEADERS];
    struct sockaddr_storage sa;
    socklen_t len = 0;
    size_t i, n = 0;
    bool found = false;

    if (rcf->from == NULL || r->ctx[wm_http_realip_module.index]
        || !wm_http_realip_trusted(rcf->from, (struct sockaddr *) &c->peer))
    {
        return WM_DECLINED;
    }
    if (rcf->type == WM_REALIP_PROXY_PROTOCOL) {
        if (!c->has_pp || c->pp.local
            || (c->pp.family != AF_INET && c->pp.family != AF_INET6))
        {
            return WM_DECLINED;
        }
        sa = c->pp.src;
        len = c->pp.addrlen;
        found = true;
    } else {
        for (i = 0; i < r->head.nheaders && n < wm_nelems(values); i++) {
            const wm_str_t *name = &r->head.headers[i].name;

            if (name->len == rcf->header.len
                && wm_http_caseeq(name->data, (const char *) rcf->header.data,
                                  name->len))
            {
                values[n++] = &r->head.headers[i].value;
                if (rcf->type != WM_REALIP_X_FORWARDED_FOR) {
                    break; /* nginx reads the first one of the others */
                }
            }
        }
        found = wm_http_realip_walk(rcf->from, rcf->recursive, values, n, &sa,
                                    &len);
    }
    if (found && wm_http_realip_set(r, &sa, len) != WM_OK) {
        return 500;
    }
    return WM_DECLINED;
}

/* $realip_remote_addr and $realip_remote_port: the connection's own
 * address, whatever realip made of $remote_addr. */
static wm_int_t
wm_http_realip_var(void *data, const wm_str_t *arg, uintptr_t which,
                   wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;
    wm_http_realip_ctx_t *ctx = r->ctx[wm_http_realip_module.index];
    const struct sockaddr *sa =
        (const struct sockaddr *) (ctx ? &ctx->peer : &r->c->peer);

    return wm_http_var_sockaddr(pool, sa, which == 1, v);
}

const wm_var_def_t wm_http_realip_vars[] = {
    {"realip_remote_addr", wm_http_realip_var, 0, 0, NULL},
    {"realip_remote_port", wm_http_realip_var, 1, 0, NULL},
    {NULL, NULL, 0, 0, NULL},
};

/* ---- configuration ------------------------------------------------------- */

static void *
wm_http_realip_create(wm_conf_t *cf, unsigned level)
{
    wm_http_realip_conf_t *rcf = wm_pcalloc(cf->pool, sizeof(*rcf));

    if (rcf) {
        rcf->type = WM_CONF_UNSET;
        rcf->recursive = WM_CONF_UNSET;
    }
    return rcf;
}

static const char *
wm_http_realip_merge(wm_conf_t *cf, void *prev, void *conf, unsigned level)
{
    wm_http_realip_conf_t *p = prev, *c = conf;

    if (c->from == NULL) {
        c->from = p->from;
    }
    if (c->type == WM_CONF_UNSET) {
        if (p->type == WM_CONF_UNSET) {
            c->type = WM_REALIP_X_REAL_IP;
            wm_str_set(&c->header, "X-Real-IP");
        } else {
            c->type = p->type;
            c->header = p->header;
        }
    }
    wm_conf_merge_value(c->recursive, p->recursive, 0);
    return NULL;
}

static const char *
wm_http_realip_from(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_realip_conf_t *rcf = conf;
    wm_cidr_t *cidr;

    if (rcf->from == NULL) {
        rcf->from = wm_pcalloc(cf->pool, sizeof(wm_array_t));
        if (rcf->from == NULL
            || wm_array_init(rcf->from, cf->pool, 4, sizeof(wm_cidr_t))
                   != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    cidr = wm_array_push(rcf->from);
    if (cidr == NULL) {
        return "failed: out of memory";
    }
    return wm_access_parse_cidr(cf, &cf->node->args[0], cidr);
}

static const char *
wm_http_realip_header(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_realip_conf_t *rcf = conf;
    const wm_str_t *arg = &cf->node->args[0];

    if (rcf->type != WM_CONF_UNSET) {
        return "is duplicate";
    }
    if (arg->len == 0) {
        return wm_conf_errf(cf, "has invalid value \"\"");
    }
    rcf->header = *arg;
    if (wm_str_eq(arg, "proxy_protocol")) {
        rcf->type = WM_REALIP_PROXY_PROTOCOL;
    } else if (arg->len == 9 && wm_http_caseeq(arg->data, "X-Real-IP", 9)) {
        rcf->type = WM_REALIP_X_REAL_IP;
    } else if (arg->len == 15
               && wm_http_caseeq(arg->data, "X-Forwarded-For", 15)) {
        rcf->type = WM_REALIP_X_FORWARDED_FOR;
    } else {
        rcf->type = WM_REALIP_HEADER;
    }
    return NULL;
}
