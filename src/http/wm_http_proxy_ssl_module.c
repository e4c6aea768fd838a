/*
 * `proxy_pass https://...`: the proxy_ssl_* directives of http, server
 * and location, the TLS client context of each location that passes to
 * https (shared with the enclosing level when the location sets none of
 * them), and the TLS connection of a try: a libevent openssl bufferevent
 * whose SSL wm_tls_client.c prepares (SNI, the name to verify, the
 * session to resume) and whose peer it judges once the handshake is done.
 * Sessions are kept per worker, per context, per peer address and name.
 */
#include "wm_http_proxy.h"

#include "wm_cycle.h"
#include "wm_health.h"
#include "wm_log.h"
#include "wm_tls_client.h"

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <stdlib.h>

/* One kept session: the peer's address and name, after the struct. */
typedef struct wm_http_proxy_ssl_sess_s wm_http_proxy_ssl_sess_t;
struct wm_http_proxy_ssl_sess_s {
    wm_http_proxy_ssl_sess_t *next;
    SSL_SESSION *session;
    struct sockaddr_storage sockaddr;
    socklen_t socklen;
    size_t namelen;
};

#define WM_PSSL_SESSIONS_MAX 256

typedef struct wm_http_proxy_ssl_conf_s wm_http_proxy_ssl_conf_t;
struct wm_http_proxy_ssl_conf_s {
    wm_tls_client_conf_t tls;
    wm_str_t name; /* proxy_ssl_name; data NULL: the host of proxy_pass */
    wm_cv_t name_cv;
    wm_http_proxy_ssl_conf_t *base; /* the level whose ctx this one uses */
    const char *use_file;           /* the first proxy_pass https:// */
    unsigned use_line;
    const wm_http_proxy_loc_conf_t *proxy; /* its location's proxy_pass */
    wm_http_proxy_ssl_sess_t *sessions; /* this worker's, in base */
    unsigned nsessions;
    unsigned used : 1;   /* proxy_pass https:// at this level */
    unsigned built : 1;  /* base: ctx built (or failed and reported) */
};

static void *wm_http_proxy_ssl_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_proxy_ssl_merge(wm_conf_t *cf, void *prev,
                                           void *conf, unsigned level);
static const char *wm_http_proxy_ssl_set_name(wm_conf_t *cf,
                                              const wm_command_t *cmd,
                                              void *conf);

#define WM_PSSL_LOC (WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC)
#define pssl_off(f) offsetof(wm_http_proxy_ssl_conf_t, f)
#define pssl_tls (pssl_off(tls) + offsetof(wm_tls_client_conf_t, ssl))

static const wm_command_t wm_http_proxy_ssl_commands[] = {
    {"proxy_ssl_server_name", WM_PSSL_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_flag, pssl_off(tls.server_name), NULL, "off",
     "send the upstream's name (proxy_ssl_name) as SNI"},
    {"proxy_ssl_name", WM_PSSL_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_http_proxy_ssl_set_name, pssl_off(name), NULL, "$proxy_host",
     "the upstream's name for SNI and verification (variables allowed)"},
    {"proxy_ssl_verify", WM_PSSL_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag,
     pssl_off(tls.verify), NULL, "off",
     "verify the upstream's certificate chain and name"},
    {"proxy_ssl_verify_depth", WM_PSSL_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_num, pssl_tls + offsetof(wm_ssl_conf_t, verify_depth),
     &wm_ssl_depth_bounds, "1", "longest upstream certificate chain"},
    {"proxy_ssl_trusted_certificate", WM_PSSL_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_path,
     pssl_tls + offsetof(wm_ssl_conf_t, trusted_certificate), NULL, "-",
     "CA certificates the upstream's certificate is verified against"},
    {"proxy_ssl_certificate", WM_PSSL_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_ssl_set_certificate, pssl_tls, NULL, "-",
     "PEM client certificate presented to the upstream"},
    {"proxy_ssl_certificate_key", WM_PSSL_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_ssl_set_certificate_key, pssl_tls, NULL, "-",
     "PEM key of proxy_ssl_certificate"},
    {"proxy_ssl_protocols", WM_PSSL_LOC, 1, 6, 0, WM_LVL_LOC,
     wm_ssl_set_protocols, pssl_tls, NULL, "TLSv1.2 TLSv1.3",
     "TLS versions offered to the upstream"},
    {"proxy_ssl_ciphers", WM_PSSL_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_ssl_set_ciphers, pssl_tls, NULL, "DEFAULT",
     "OpenSSL cipher list for TLS 1.2 and below to the upstream"},
    {"proxy_ssl_session_reuse", WM_PSSL_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_flag, pssl_off(tls.session_reuse), NULL, "on",
     "resume TLS sessions with each upstream server"},
    wm_null_command,
};

wm_module_t wm_http_proxy_ssl_module = {
    .name = "http_proxy_ssl",
    .family = WM_MOD_HTTP,
    .commands = wm_http_proxy_ssl_commands,
    .create_conf = wm_http_proxy_ssl_create,
    .merge_conf = wm_http_proxy_ssl_merge,
};

/* ---- run time ----------------------------------------------------------- */

static void
wm_http_proxy_ssl_sessions_free(void *data)
{
    wm_http_proxy_ssl_conf_t *base = data;
    wm_http_proxy_ssl_sess_t *s, *next;

    for (s = base->sessions; s; s = next) {
        next = s->next;
        wm_tls_client_cache_free(&s->session, 1);
        free(s);
    }
    base->sessions = NULL;
}

/*
 * The session slot of the peer and name in base (this worker's copy of
 * the conf), made on first use; NULL without session reuse or memory.
 * Past WM_PSSL_SESSIONS_MAX peers the oldest slot is taken over.
 */
static SSL_SESSION **
wm_http_proxy_ssl_slot(wm_http_proxy_ssl_conf_t *base,
                       const wm_upstream_peer_t *peer, const char *name)
{
    size_t len = name ? strlen(name) : 0;
    wm_http_proxy_ssl_sess_t *s, **last = &base->sessions;

    if (!base->tls.session_reuse) {
        return NULL;
    }
    for (s = base->sessions; s; s = s->next) {
        if (s->socklen == peer->socklen && s->namelen == len
            && memcmp(&s->sockaddr, &peer->sockaddr, peer->socklen) == 0
            && (len == 0 || memcmp(s + 1, name, len) == 0))
        {
            return &s->session;
        }
        if (s->next) {
            last = &s->next;
        }
    }
    if (base->nsessions >= WM_PSSL_SESSIONS_MAX && *last) {
        s = *last; /* the newest is first: this is the oldest */
        *last = NULL;
        wm_tls_client_cache_free(&s->session, 1);
        free(s);
        base->nsessions--;
    }
    s = calloc(1, sizeof(*s) + len);
    if (s == NULL) {
        return NULL;
    }
    if (base->sessions == NULL
        && wm_pool_cleanup_add(wm_cycle->pool,
                               wm_http_proxy_ssl_sessions_free, base)
               != WM_OK)
    {
        free(s);
        return NULL;
    }
    memcpy(&s->sockaddr, &peer->sockaddr, peer->socklen);
    s->socklen = peer->socklen;
    s->namelen = len;
    if (len) {
        memcpy(s + 1, name, len);
    }
    s->next = base->sessions;
    base->sessions = s;
    base->nsessions++;
    return &s->session;
}

/* A name without its port (nginx strips it too) or brackets. */
static wm_str_t
wm_http_proxy_ssl_host(wm_str_t v)
{
    const u_char *colon;

    if (v.len && v.data[0] == '[') {
        colon = memchr(v.data, ']', v.len);
        if (colon) {
            v.data++;
            v.len = (size_t) (colon - v.data);
        }
    } else if ((colon = memrchr(v.data, ':', v.len)) != NULL) {
        v.len = (size_t) (colon - v.data);
    }
    return v;
}

wm_int_t
wm_http_proxy_ssl_prepare(wm_http_proxy_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;
    wm_http_proxy_ssl_conf_t *pcf =
        wm_http_loc_conf(r, wm_http_proxy_ssl_module);
    wm_str_t v = ctx->url.host;
    char *key;

    if (pcf->tls.ssl.ctx == NULL) {
        /* proxy_pass with variables that became https:// */
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "no SSL context for \"proxy_pass\" to https here");
        return WM_ERROR;
    }
    if (pcf->name.data
        && wm_cv_eval(&pcf->name_cv, r, r->pool, &v) != WM_OK)
    {
        return WM_ERROR;
    }
    v = wm_http_proxy_ssl_host(v);
    ctx->ssl_name = v.len ? wm_pstrndup(r->pool, v.data, v.len) : NULL;
    /* A pooled connection serves the same context and name only. */
    key = wm_psprintf(r->pool, "%p %.*s", (void *) pcf->tls.ssl.ctx,
                      (int) v.len, (const char *) v.data);
    if (key == NULL || (v.len && ctx->ssl_name == NULL)) {
        return WM_ERROR;
    }
    ctx->ssl_key.data = (u_char *) key;
    ctx->ssl_key.len = strlen(key);
    return WM_OK;
}

wm_int_t
wm_http_proxy_ssl_connect(wm_http_proxy_ctx_t *ctx, struct bufferevent **bev)
{
    wm_http_request_t *r = ctx->r;
    wm_http_proxy_ssl_conf_t *pcf =
        wm_http_loc_conf(r, wm_http_proxy_ssl_module);
    SSL *ssl;

    *bev = NULL;
    wm_log_debug(&ctx->log, "SSL handshake to upstream, name \"%s\"",
                 ctx->ssl_name ? ctx->ssl_name : "");
    ssl = wm_tls_client_ssl_new(
        &pcf->tls, -1, ctx->ssl_name,
        wm_http_proxy_ssl_slot(pcf->base, ctx->peer, ctx->ssl_name));
    if (ssl == NULL) {
        errno = ENOMEM;
        return WM_ERROR;
    }
    ctx->log.action = "while SSL handshaking to upstream";
    return wm_upstream_connect_ssl(r->c->base, ctx->peer,
                                   ctx->conf->connect_timeout, true, -1, ssl,
                                   bev);
}

wm_int_t
wm_http_proxy_ssl_connected(wm_http_proxy_ctx_t *ctx)
{
    wm_http_proxy_ssl_conf_t *pcf =
        wm_http_loc_conf(ctx->r, wm_http_proxy_ssl_module);
    SSL *ssl = bufferevent_openssl_get_ssl(ctx->bev);

    if (ssl == NULL) {
        return WM_DECLINED;
    }
    wm_log_debug(&ctx->log, "SSL handshake to upstream done: %s, %s%s",
                 SSL_get_version(ssl), SSL_get_cipher_name(ssl),
                 SSL_session_reused(ssl) ? ", reused" : "");
    return wm_tls_client_check(ssl, pcf->tls.verify, &ctx->log);
}

void
wm_http_proxy_ssl_failed(wm_http_proxy_ctx_t *ctx, short what, int err)
{
    unsigned long e = ctx->bev ? bufferevent_get_openssl_error(ctx->bev) : 0;
    char buf[256];

    if (e) {
        ERR_error_string_n(e, buf, sizeof(buf));
        wm_log_error(WM_LOG_ERR, &ctx->log, 0,
                     "SSL_do_handshake() failed (SSL: %s)", buf);
        while (bufferevent_get_openssl_error(ctx->bev)) {
            /* the rest of the queue says the same */
        }
    } else if (what & BEV_EVENT_EOF) {
        wm_log_error(WM_LOG_ERR, &ctx->log, 0,
                     "upstream closed connection in SSL handshake");
    } else if (err == ECONNREFUSED || err == EHOSTUNREACH
               || err == ENETUNREACH || err == ENOENT)
    {
        ctx->log.action = "while connecting to upstream";
        wm_log_error(WM_LOG_ERR, &ctx->log, err, "connect() failed");
    } else {
        wm_log_error(WM_LOG_ERR, &ctx->log, err,
                     "upstream closed connection in SSL handshake");
    }
}

/* ---- configuration ------------------------------------------------------ */

void
wm_http_proxy_ssl_use(wm_conf_t *cf, const wm_http_proxy_loc_conf_t *proxy)
{
    wm_http_proxy_ssl_conf_t *pcf =
        cf->confs[WM_LVL_LOC][wm_http_proxy_ssl_module.index];

    if (pcf && !pcf->used) {
        pcf->used = 1;
        pcf->use_file = cf->node->file;
        pcf->use_line = cf->node->line;
        pcf->proxy = proxy;
    }
}

/*
 * The health checks of the group that conf's proxy_pass https:// names
 * (resolved by the proxy module's merge, which comes first) speak TLS
 * with conf's settings, unless an earlier location set them: the name
 * sent and verified is a proxy_ssl_name without variables, else the
 * group's name (the Host of the checks).
 */
static void
wm_http_proxy_ssl_health(wm_conf_t *cf, wm_http_proxy_ssl_conf_t *conf)
{
    wm_upstream_group_t *g = conf->proxy ? conf->proxy->group : NULL;
    wm_health_conf_t *hc = g ? g->health : NULL;
    wm_str_t v;

    if (hc == NULL || hc->tls || conf->tls.ssl.ctx == NULL) {
        return;
    }
    v = wm_http_proxy_ssl_host(conf->name.data && !conf->name_cv.has_vars
                                   ? conf->name
                                   : g->name);
    hc->tls_name = v.len ? wm_pstrndup(cf->pool, v.data, v.len) : NULL;
    hc->tls = &conf->tls;
}

static void *
wm_http_proxy_ssl_create(wm_conf_t *cf, unsigned level)
{
    wm_http_proxy_ssl_conf_t *pcf = wm_pcalloc(cf->pool, sizeof(*pcf));

    if (pcf) {
        wm_tls_client_conf_init(&pcf->tls);
        pcf->base = pcf;
    }
    return pcf;
}

static const char *
wm_http_proxy_ssl_set_name(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_proxy_ssl_conf_t *pcf = conf;
    const char *rv = wm_conf_set_str(cf, cmd, conf);

    if (rv == NULL && pcf->name.len == 0) {
        return "has invalid value \"\"";
    }
    if (rv) {
        return rv;
    }
    return wm_cv_compile(cf->pool, &pcf->name, wm_http_var_tables,
                         &pcf->name_cv);
}

/* Whether conf sets none of the TLS settings itself (its context is then
 * its parent's). */
static bool
wm_http_proxy_ssl_inherits(const wm_http_proxy_ssl_conf_t *conf)
{
    const wm_ssl_conf_t *s = &conf->tls.ssl;

    return conf->tls.verify == WM_CONF_UNSET
           && conf->tls.server_name == WM_CONF_UNSET
           && conf->tls.session_reuse == WM_CONF_UNSET
           && s->certificates == NULL && s->keys == NULL
           && s->protocols == WM_CONF_UNSET && s->ciphers.data == NULL
           && s->trusted_certificate.data == NULL
           && s->verify_depth == WM_CONF_UNSET;
}

static const char *
wm_http_proxy_ssl_merge(wm_conf_t *cf, void *parent, void *child,
                        unsigned level)
{
    wm_http_proxy_ssl_conf_t *prev = parent, *conf = child;
    wm_http_proxy_ssl_conf_t *base;
    wm_conf_node_t at = {.file = NULL};
    const wm_ssl_file_t *where = NULL;
    const char *rv;

    if (wm_http_proxy_ssl_inherits(conf)) {
        conf->base = prev->base;
    }
    wm_tls_client_conf_merge(&conf->tls, &prev->tls);
    if (conf->name.data == NULL) {
        conf->name = prev->name;
        conf->name_cv = prev->name_cv;
    }
    if (!conf->used) {
        return NULL;
    }
    base = conf->base;
    if (!base->built) {
        base->built = 1;
        if (base != conf) {
            /* the parent is merged already: the same settings */
            base->tls = conf->tls;
        }
        rv = wm_tls_client_ctx_build(&base->tls, cf->pool, cf->errbuf,
                                     sizeof(cf->errbuf), &where);
        if (rv) {
            at.file = where ? where->file : conf->use_file;
            at.line = where ? where->line : conf->use_line;
            wm_conf_error(cf, &at, "%s", rv);
        }
    }
    conf->tls.ssl.ctx = base->tls.ssl.ctx;
    wm_http_proxy_ssl_health(cf, conf);
    return NULL;
}
