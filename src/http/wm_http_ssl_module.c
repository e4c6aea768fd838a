/*
 * HTTPS: the ssl_* directives of http and server blocks, the TLS context
 * of each server on a `listen ... ssl` address (built when the config is
 * loaded), choosing the server's certificate by SNI, and the $ssl_*
 * variables. The TLS record I/O itself is in wm_http_connection.c.
 */
#include "wm_http.h"

#include "wm_log.h"
#include "wm_ssl.h"

typedef struct {
    wm_ssl_conf_t ssl;
    const char *file;           /* the server block, for errors */
    unsigned line;
} wm_http_ssl_srv_conf_t;

static void *wm_http_ssl_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_ssl_merge(wm_conf_t *cf, void *prev, void *conf,
                                     unsigned level);
static const char *wm_http_ssl_file(wm_conf_t *cf, const wm_command_t *cmd,
                                    void *conf);
static const char *wm_http_ssl_protocols(wm_conf_t *cf,
                                         const wm_command_t *cmd, void *conf);
static const char *wm_http_ssl_session_cache(wm_conf_t *cf,
                                             const wm_command_t *cmd,
                                             void *conf);
static const char *wm_http_ssl_str_at(wm_conf_t *cf, const wm_command_t *cmd,
                                      void *conf);
static const char *wm_http_ssl_accepted(wm_conf_t *cf,
                                        const wm_command_t *cmd, void *conf);

#define WM_SSL_CTX WM_CTX_HTTP | WM_CTX_HTTP_SRV
#define ssl_off(f) (offsetof(wm_http_ssl_srv_conf_t, ssl) + offsetof(wm_ssl_conf_t, f))

static const wm_conf_enum_t wm_http_ssl_verify[] = {
    {"off", WM_SSL_VERIFY_OFF},
    {"on", WM_SSL_VERIFY_ON},
    {"optional", WM_SSL_VERIFY_OPTIONAL},
    {"optional_no_ca", WM_SSL_VERIFY_OPTIONAL_NO_CA},
    {NULL, 0},
};

static const wm_conf_bounds_t wm_http_ssl_depth = {0, 100};

static const wm_command_t wm_http_ssl_commands[] = {
    {"ssl_certificate", WM_SSL_CTX, 1, 1, WM_CMD_MULTI, WM_LVL_SRV,
     wm_http_ssl_file, 0, NULL, "-",
     "PEM certificate (chain) file; several for RSA and ECDSA"},
    {"ssl_certificate_key", WM_SSL_CTX, 1, 1, WM_CMD_MULTI, WM_LVL_SRV,
     wm_http_ssl_file, 1, NULL, "-",
     "PEM key of the ssl_certificate given at the same position"},
    {"ssl_protocols", WM_SSL_CTX, 1, 6, 0, WM_LVL_SRV, wm_http_ssl_protocols,
     0, NULL, "TLSv1.2 TLSv1.3", "TLS versions offered"},
    {"ssl_ciphers", WM_SSL_CTX, 1, 1, 0, WM_LVL_SRV, wm_http_ssl_str_at,
     ssl_off(ciphers), NULL, "HIGH:!aNULL:!MD5",
     "OpenSSL cipher list for TLS 1.2 and below"},
    {"ssl_prefer_server_ciphers", WM_SSL_CTX, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_flag, ssl_off(prefer_server_ciphers), NULL, "off",
     "the server's cipher order wins"},
    {"ssl_ecdh_curve", WM_SSL_CTX, 1, 1, 0, WM_LVL_SRV, wm_http_ssl_str_at,
     ssl_off(ecdh_curve), NULL, "auto", "key exchange groups, colon-separated"},
    {"ssl_session_cache", WM_SSL_CTX, 1, 2, 0, WM_LVL_SRV,
     wm_http_ssl_session_cache, 0, NULL, "none",
     "off | none | [builtin[:size]] [shared:name:size]"},
    {"ssl_session_timeout", WM_SSL_CTX, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_msec, ssl_off(session_timeout), NULL, "5m",
     "how long a session can be resumed"},
    {"ssl_session_tickets", WM_SSL_CTX, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_flag, ssl_off(session_tickets), NULL, "on",
     "resume sessions with TLS tickets (valid across workers)"},
    {"ssl_client_certificate", WM_SSL_CTX, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_path, ssl_off(client_certificate), NULL, "-",
     "CA certificates that client certificates are verified against"},
    {"ssl_trusted_certificate", WM_SSL_CTX, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_path, ssl_off(trusted_certificate), NULL, "-",
     "extra CA certificates for verification, not sent to clients"},
    {"ssl_verify_client", WM_SSL_CTX, 1, 1, 0, WM_LVL_SRV, wm_conf_set_enum,
     ssl_off(verify_client), wm_http_ssl_verify, "off",
     "request client certificates: on | off | optional | optional_no_ca"},
    {"ssl_verify_depth", WM_SSL_CTX, 1, 1, 0, WM_LVL_SRV, wm_conf_set_num,
     ssl_off(verify_depth), &wm_http_ssl_depth, "1",
     "longest client certificate chain"},
    {"ssl_dhparam", WM_SSL_CTX, 1, 1, 0, WM_LVL_SRV, wm_http_ssl_accepted, 0,
     NULL, "-",
     "accepted for compatibility; wmproxy offers ECDHE key exchange only"},
    {"ssl_buffer_size", WM_SSL_CTX, 1, 1, 0, WM_LVL_SRV, wm_http_ssl_accepted,
     0, NULL, "-",
     "accepted for compatibility; records follow the response writes"},
    wm_null_command,
};

wm_module_t wm_http_ssl_module = {
    .name = "http_ssl",
    .family = WM_MOD_HTTP,
    .commands = wm_http_ssl_commands,
    .create_conf = wm_http_ssl_create,
    .merge_conf = wm_http_ssl_merge,
};

/* ---- run time ----------------------------------------------------------- */

/* SNI: the server whose name the client asked for lends its context, so
 * its certificate is presented. */
static int
wm_http_ssl_servername(SSL *ssl, int *alert, void *arg)
{
    wm_http_connection_t *c = SSL_get_app_data(ssl);
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    wm_http_core_srv_conf_t *cscf;
    wm_http_ssl_srv_conf_t *scf;
    char host[256];
    wm_str_t h;
    size_t i, n;

    if (c == NULL || name == NULL) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    n = strlen(name);
    if (n == 0 || n >= sizeof(host)) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    for (i = 0; i < n; i++) {
        host[i] = (char) (name[i] >= 'A' && name[i] <= 'Z' ? name[i] | 0x20
                                                           : name[i]);
    }
    h.data = (u_char *) host;
    h.len = n;
    cscf = wm_http_find_server(c->addr_conf, &h, NULL);
    c->ssl_srv = cscf;
    scf = cscf->srv_confs[wm_http_ssl_module.index];
    if (scf->ssl.ctx && scf->ssl.ctx != SSL_get_SSL_CTX(ssl)) {
        SSL_set_SSL_CTX(ssl, scf->ssl.ctx);
        /* What the new context asks of the client applies too. */
        SSL_set_verify(ssl, SSL_CTX_get_verify_mode(scf->ssl.ctx),
                       SSL_CTX_get_verify_callback(scf->ssl.ctx));
        SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(scf->ssl.ctx));
        SSL_set_options(ssl, SSL_CTX_get_options(scf->ssl.ctx));
    }
    return SSL_TLSEXT_ERR_OK;
}

SSL *
wm_http_ssl_new(wm_http_connection_t *c)
{
    wm_http_ssl_srv_conf_t *scf =
        c->addr_conf->default_server->srv_confs[wm_http_ssl_module.index];
    SSL *ssl = SSL_new(scf->ssl.ctx);

    if (ssl == NULL) {
        return NULL;
    }
    if (SSL_set_fd(ssl, c->fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_app_data(ssl, c);
    SSL_set_accept_state(ssl);
    c->ssl_srv = c->addr_conf->default_server;
    return ssl;
}

/* Verifies the peer's certificate (and chain) of a resumed session with
 * the certificate store of ctx; X509_V_OK when there is none. */
static long
wm_http_ssl_reverify(SSL *ssl, SSL_CTX *ctx)
{
    X509 *cert = SSL_get0_peer_certificate(ssl);
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    X509_STORE_CTX *sc;
    long rc;

    if (cert == NULL) {
        return X509_V_OK;
    }
    sc = X509_STORE_CTX_new();
    if (sc == NULL
        || X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(ctx), cert, chain)
               != 1)
    {
        X509_STORE_CTX_free(sc);
        return X509_V_ERR_OUT_OF_MEM;
    }
    X509_STORE_CTX_set_depth(sc, SSL_CTX_get_verify_depth(ctx));
    X509_STORE_CTX_set_default(sc, "ssl_client");
    rc = X509_verify_cert(sc) == 1 ? X509_V_OK
                                   : X509_STORE_CTX_get_error(sc);
    X509_STORE_CTX_free(sc);
    return rc;
}

wm_int_t
wm_http_ssl_check_client(wm_http_request_t *r)
{
    wm_http_ssl_srv_conf_t *scf = r->srv->srv_confs[wm_http_ssl_module.index];
    wm_http_ssl_srv_conf_t *hs = r->c->ssl_srv
                                     ? r->c->ssl_srv
                                           ->srv_confs[wm_http_ssl_module.index]
                                     : scf;
    X509 *cert;
    long rc;

    if (r->c->ssl == NULL) {
        return WM_OK;
    }
    /* The certificate was checked by the server of the handshake (SNI);
     * a request for another server that checks certificates must not
     * borrow that verdict. */
    if (hs != scf && (scf->ssl.verify_client != WM_SSL_VERIFY_OFF
                      || hs->ssl.verify_client != WM_SSL_VERIFY_OFF))
    {
        wm_log_error(WM_LOG_INFO, wm_http_request_log(r), 0,
                     "client attempted to request the server name different "
                     "from the one that was negotiated");
        return 421;
    }
    if (scf->ssl.verify_client == WM_SSL_VERIFY_OFF) {
        return WM_OK;
    }
    if (SSL_session_reused(r->c->ssl)) {
        /* A resumed session carries the verdict of whichever server made
         * it; the certificate is checked again against this server's
         * CAs, so that no server borrows another one's trust. */
        rc = wm_http_ssl_reverify(r->c->ssl, scf->ssl.ctx);
        if (rc != X509_V_OK
            && scf->ssl.verify_client != WM_SSL_VERIFY_OPTIONAL_NO_CA)
        {
            wm_log_error(WM_LOG_INFO, wm_http_request_log(r), 0,
                         "client SSL certificate verify error: (%ld:%s)", rc,
                         X509_verify_cert_error_string(rc));
            return 495;
        }
    }
    rc = SSL_get_verify_result(r->c->ssl);
    cert = SSL_get1_peer_certificate(r->c->ssl);
    if (cert && rc != X509_V_OK
        && scf->ssl.verify_client != WM_SSL_VERIFY_OPTIONAL_NO_CA)
    {
        X509_free(cert);
        wm_log_error(WM_LOG_INFO, wm_http_request_log(r), 0,
                     "client SSL certificate verify error: (%ld:%s)", rc,
                     X509_verify_cert_error_string(rc));
        return 495;
    }
    X509_free(cert);
    if (cert == NULL && scf->ssl.verify_client == WM_SSL_VERIFY_ON) {
        wm_log_error(WM_LOG_INFO, wm_http_request_log(r), 0,
                     "client sent no required SSL certificate");
        return 496;
    }
    return WM_OK;
}

/* ---- configuration ------------------------------------------------------ */

static void *
wm_http_ssl_create(wm_conf_t *cf, unsigned level)
{
    /* Only the server level is used; the others exist because every
     * level gets a conf of every module. */
    wm_http_ssl_srv_conf_t *scf = wm_pcalloc(cf->pool, sizeof(*scf));

    if (scf) {
        wm_ssl_conf_init(&scf->ssl);
    }
    return scf;
}

static const char *
wm_http_ssl_merge(wm_conf_t *cf, void *parent, void *child, unsigned level)
{
    wm_http_ssl_srv_conf_t *prev = parent, *conf = child;

    if (level == WM_LVL_SRV) {
        wm_ssl_conf_merge(&conf->ssl, &prev->ssl);
    }
    return NULL;
}

const char *
wm_http_ssl_server_init(wm_conf_t *cf, wm_http_core_srv_conf_t *cscf,
                        const char **file, unsigned *line)
{
    wm_http_ssl_srv_conf_t *scf = cscf->srv_confs[wm_http_ssl_module.index];
    const wm_ssl_file_t *at;
    const char *rv;

    *file = cscf->ssl_listen_file ? cscf->ssl_listen_file : cscf->file;
    *line = cscf->ssl_listen_file ? cscf->ssl_listen_line : cscf->line;
    if (scf->ssl.ctx) {
        return NULL;
    }
    if (scf->ssl.certificates == NULL) {
        return "no \"ssl_certificate\" is defined for the \"listen ... ssl\" "
               "directive";
    }
    rv = wm_ssl_ctx_build(&scf->ssl, cf->pool, cf->errbuf,
                          sizeof(cf->errbuf), &at);
    if (rv) {
        if (at) {
            *file = at->file;
            *line = at->line;
        }
        return rv;
    }
    SSL_CTX_set_tlsext_servername_callback(scf->ssl.ctx,
                                           wm_http_ssl_servername);
    return NULL;
}

static const char *
wm_http_ssl_file(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_ssl_srv_conf_t *scf = conf;
    wm_array_t **list = cmd->offset ? &scf->ssl.keys : &scf->ssl.certificates;
    wm_ssl_file_t *f;

    if (*list == NULL) {
        *list = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (*list == NULL
            || wm_array_init(*list, cf->pool, 2, sizeof(wm_ssl_file_t))
                   != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    if (cf->node->args[0].len == 0) {
        return "has invalid value \"\"";
    }
    if (memchr(cf->node->args[0].data, '$', cf->node->args[0].len)) {
        return "with variables is not supported";
    }
    f = wm_array_push(*list);
    if (f == NULL) {
        return "failed: out of memory";
    }
    f->path = wm_conf_full_path(cf->pool, cf->prefix, &cf->node->args[0]);
    f->file = cf->node->file;
    f->line = cf->node->line;
    return f->path ? NULL : "failed: out of memory";
}

static const char *
wm_http_ssl_protocols(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_ssl_srv_conf_t *scf = conf;
    size_t i;

    if (scf->ssl.protocols != WM_CONF_UNSET) {
        return "is duplicate";
    }
    scf->ssl.protocols = 0;
    for (i = 0; i < cf->node->nargs; i++) {
        wm_int_t bit = wm_ssl_protocol_bit((const char *) cf->node->args[i].data);

        if (bit == 0) {
            return wm_conf_errf(cf, "has invalid value \"%s\"",
                                (const char *) cf->node->args[i].data);
        }
        if (bit > 0) {
            scf->ssl.protocols |= bit;
        }
    }
    if (scf->ssl.protocols == 0) {
        return "enables no protocol wmproxy supports (TLSv1 and above)";
    }
    return NULL;
}

/* nginx's session cache syntax. A shared cache is kept per worker with
 * the given size; resumption across workers comes from session tickets,
 * whose keys all workers share. */
static const char *
wm_http_ssl_session_cache(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_ssl_srv_conf_t *scf = conf;
    size_t i;

    if (scf->ssl.session_cache != WM_CONF_UNSET) {
        return "is duplicate";
    }
    scf->ssl.session_cache = 0;
    for (i = 0; i < cf->node->nargs; i++) {
        const char *a = (const char *) cf->node->args[i].data;
        const char *colon;
        wm_str_t v;
        int64_t n;

        if (strcmp(a, "off") == 0 || strcmp(a, "none") == 0) {
            if (cf->node->nargs != 1) {
                return wm_conf_errf(cf, "has invalid value \"%s\"", a);
            }
            continue;
        }
        if (strcmp(a, "builtin") == 0) {
            scf->ssl.session_cache = wm_max(scf->ssl.session_cache, 20480);
            continue;
        }
        if (strncmp(a, "builtin:", 8) == 0) {
            v.data = (u_char *) a + 8;
            v.len = strlen(a + 8);
            n = wm_parse_num(&v);
            if (n < 1 || n > INT32_MAX) {
                return wm_conf_errf(cf, "has invalid value \"%s\"", a);
            }
            scf->ssl.session_cache = wm_max(scf->ssl.session_cache, n);
            continue;
        }
        if (strncmp(a, "shared:", 7) == 0
            && (colon = strchr(a + 7, ':')) != NULL && colon > a + 7)
        {
            v.data = (u_char *) colon + 1;
            v.len = strlen(colon + 1);
            n = wm_parse_size(&v);
            if (n < 1) {
                return wm_conf_errf(cf, "has invalid value \"%s\"", a);
            }
            /* About 4000 sessions per megabyte, as nginx documents. */
            scf->ssl.session_cache =
                wm_max(scf->ssl.session_cache, wm_max(n / 256, 1));
            continue;
        }
        return wm_conf_errf(cf, "has invalid value \"%s\"", a);
    }
    return NULL;
}

/* A string setting whose errors, found when the context is built, point
 * at the directive. */
static const char *
wm_http_ssl_str_at(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_ssl_srv_conf_t *scf = conf;
    bool ciphers = cmd->offset == ssl_off(ciphers);
    wm_ssl_file_t *at = ciphers ? &scf->ssl.ciphers_at : &scf->ssl.curve_at;
    const char *rv = wm_conf_set_str(cf, cmd, conf);

    if (rv == NULL) {
        at->file = cf->node->file;
        at->line = cf->node->line;
        at->path = (const char *) cf->node->args[0].data;
    }
    return rv;
}

static const char *
wm_http_ssl_accepted(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    return NULL;
}
