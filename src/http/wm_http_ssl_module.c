/*
 * HTTPS: the ssl_* directives of http and server blocks, the TLS context
 * of each server on a `listen ... ssl` address (built when the config is
 * loaded), choosing the server's certificate by SNI, and the $ssl_*
 * variables. The TLS record I/O itself is in wm_http_connection.c.
 */
#include "wm_http.h"

#include "wm_log.h"
#include "wm_ssl_ocsp.h"

typedef struct {
    wm_ssl_conf_t ssl;
    const char *file;           /* the server block, for errors */
    unsigned line;
    const wm_conf_node_t *node; /* the block, for its `resolver` */
} wm_http_ssl_srv_conf_t;

static void *wm_http_ssl_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_ssl_merge(wm_conf_t *cf, void *prev, void *conf,
                                     unsigned level);
static const char *wm_http_ssl_accepted(wm_conf_t *cf,
                                        const wm_command_t *cmd, void *conf);

#define WM_SSL_CTX WM_CTX_HTTP | WM_CTX_HTTP_SRV

static const wm_command_t wm_http_ssl_commands[] = {
    WM_SSL_SERVER_COMMANDS(WM_SSL_CTX, offsetof(wm_http_ssl_srv_conf_t, ssl)),
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
    if (scf->ssl.ctx) {
        wm_ssl_switch_ctx(ssl, scf->ssl.ctx);
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
        scf->node = cf->node;
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
    if (scf->ssl.stapling) {
        /* The server's own `resolver`, else the http block's. */
        wm_ssl_stapling_resolver(
            cf, &scf->ssl, scf->node,
            cf->confs[WM_LVL_MAIN][wm_http_upstream_module.index]);
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
wm_http_ssl_accepted(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    return NULL;
}
