/*
 * TLS termination in stream servers: `listen ... ssl` with the ssl_*
 * directives HTTPS has (the same rows and setters, from wm_ssl.h), plus
 * ssl_handshake_timeout. The context is built when the stream block is
 * merged, so `-t` finds a bad certificate. A listening address belongs to
 * one server, so SNI picks among its certificates instead: a certificate
 * of a key type already given starts another set, and the first set whose
 * first certificate matches the name is presented (the first set without
 * SNI or match). The handshake runs after the access check (nginx's ssl
 * phase) and before the content handler, and
 * $ssl_protocol, $ssl_cipher, $ssl_server_name, $ssl_session_reused and
 * $ssl_client_verify describe the result.
 */
#include "wm_stream_ssl.h"

#include "wm_log.h"
#include "wm_ssl_ocsp.h"

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* A set of certificates (at most one per key type) presented together. */
typedef struct {
    SSL_CTX *ctx;
    X509 *leaf; /* the set's first certificate: its names select it */
} wm_stream_ssl_set_t;

typedef struct {
    wm_ssl_conf_t ssl;
    wm_stream_ssl_set_t *sets; /* when the certificates make more than one */
    size_t nsets;
    wm_msec_t handshake_timeout;
    const char *listen_file; /* the first `listen ... ssl`, for errors */
    unsigned listen_line;
    const wm_conf_node_t *node; /* the block, for its `resolver` */
} wm_stream_ssl_conf_t;

/* Per session, in s->ssl_ctx (s->pool). */
typedef struct {
    SSL *ssl;
    struct event *ev;
    struct timeval deadline;
    wm_str_t out;      /* wm_stream_ssl_send's bytes not yet sent */
    unsigned done : 1; /* handshake completed */
} wm_stream_ssl_ctx_t;

extern wm_module_t wm_stream_upstream_module;

static void *wm_stream_ssl_create(wm_conf_t *cf, unsigned level);
static const char *wm_stream_ssl_merge(wm_conf_t *cf, void *prev, void *conf,
                                       unsigned level);

#define WM_STREAM_SSL_CTX WM_CTX_STREAM | WM_CTX_STREAM_SRV

static const wm_command_t wm_stream_ssl_commands[] = {
    WM_SSL_SERVER_COMMANDS(WM_STREAM_SSL_CTX,
                           offsetof(wm_stream_ssl_conf_t, ssl)),
    {"ssl_handshake_timeout", WM_STREAM_SSL_CTX, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_msec, offsetof(wm_stream_ssl_conf_t, handshake_timeout),
     NULL, "60s", "time for the client's TLS handshake"},
    wm_null_command,
};

wm_module_t wm_stream_ssl_module = {
    .name = "stream_ssl",
    .family = WM_MOD_STREAM,
    .commands = wm_stream_ssl_commands,
    .create_conf = wm_stream_ssl_create,
    .merge_conf = wm_stream_ssl_merge,
};

/* ---- run time ----------------------------------------------------------- */

static wm_int_t
wm_stream_ssl_var(void *r, const wm_str_t *arg, uintptr_t which,
                  wm_pool_t *pool, wm_str_t *v)
{
    SSL *ssl = wm_stream_ssl_conn(r);
    const char *text = ssl ? wm_ssl_var_text(ssl, which) : NULL;

    if (text == NULL) {
        return WM_DECLINED;
    }
    v->data = (u_char *) wm_pstrdup(pool, text);
    v->len = strlen(text);
    return v->data ? WM_OK : WM_ERROR;
}

const wm_var_def_t wm_stream_ssl_vars[] = {
    {"ssl_protocol", wm_stream_ssl_var, WM_SSL_VAR_PROTOCOL, 0, NULL},
    {"ssl_cipher", wm_stream_ssl_var, WM_SSL_VAR_CIPHER, 0, NULL},
    {"ssl_server_name", wm_stream_ssl_var, WM_SSL_VAR_SERVER_NAME, 0, NULL},
    {"ssl_session_reused", wm_stream_ssl_var, WM_SSL_VAR_SESSION_REUSED, 0,
     NULL},
    {"ssl_client_verify", wm_stream_ssl_var, WM_SSL_VAR_CLIENT_VERIFY, 0,
     NULL},
    {NULL, NULL, 0, 0, NULL},
};

SSL *
wm_stream_ssl_conn(wm_stream_session_t *s)
{
    wm_stream_ssl_ctx_t *ctx = s->ssl_ctx;

    return ctx && ctx->done ? ctx->ssl : NULL;
}

/* Re-arms ctx->ev for want within what is left until the deadline. */
static wm_int_t
wm_stream_ssl_wait(wm_stream_session_t *s, short want,
                   event_callback_fn handler)
{
    wm_stream_ssl_ctx_t *ctx = s->ssl_ctx;
    struct timeval now, left;

    evutil_gettimeofday(&now, NULL);
    if (timercmp(&now, &ctx->deadline, >=)) {
        timerclear(&left);
    } else {
        timersub(&ctx->deadline, &now, &left);
    }
    event_del(ctx->ev);
    event_assign(ctx->ev, s->base, s->fd, want, handler, s);
    if (event_add(ctx->ev, &left) != 0) {
        wm_log_error(WM_LOG_ALERT, &s->log, 0, "event_add() failed");
        return WM_ERROR;
    }
    return WM_OK;
}

static void
wm_stream_ssl_send_step(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_session_t *s = arg;
    wm_stream_ssl_ctx_t *ctx = s->ssl_ctx;
    short want = EV_WRITE;
    char buf[256];
    ssize_t n;

    if (s->closing) {
        return;
    }
    if (what & EV_TIMEOUT) {
        wm_log_error(WM_LOG_INFO, &s->log, ETIMEDOUT,
                     "client timed out while sending");
        wm_stream_finalize(s, 200);
        return;
    }
    while (ctx->out.len) {
        n = wm_tls_send(ctx->ssl, ctx->out.data, ctx->out.len, &want);
        if (n == WM_AGAIN) {
            if (wm_stream_ssl_wait(s, want, wm_stream_ssl_send_step)
                != WM_OK)
            {
                wm_stream_finalize(s, 500);
            }
            return;
        }
        if (n < 0) {
            wm_log_error(WM_LOG_INFO, &s->log, errno == EPROTO ? 0 : errno,
                         "SSL_write() failed %s",
                         wm_ssl_error_text(buf, sizeof(buf)));
            wm_stream_finalize(s, 200);
            return;
        }
        ctx->out.data += n;
        ctx->out.len -= (size_t) n;
    }
    wm_tls_shutdown(ctx->ssl);
    wm_stream_finalize(s, 200);
}

void
wm_stream_ssl_send(wm_stream_session_t *s, const wm_str_t *v,
                   wm_msec_t timeout)
{
    wm_stream_ssl_ctx_t *ctx = s->ssl_ctx;
    struct timeval now, tv = {timeout / 1000, (timeout % 1000) * 1000};

    ctx->out = *v;
    evutil_gettimeofday(&now, NULL);
    timeradd(&now, &tv, &ctx->deadline);
    wm_stream_ssl_send_step(-1, 0, s);
}

void
wm_stream_ssl_cleanup(wm_stream_session_t *s)
{
    wm_stream_ssl_ctx_t *ctx = s->ssl_ctx;

    if (ctx == NULL) {
        return;
    }
    if (ctx->ev) {
        event_free(ctx->ev);
    }
    if (ctx->ssl) {
        SSL_free(ctx->ssl);
    }
    s->ssl_ctx = NULL;
}

/* The client certificate against ssl_verify_client; WM_OK or WM_ERROR
 * (logged at info, as nginx). */
static wm_int_t
wm_stream_ssl_check_client(wm_stream_session_t *s, wm_stream_ssl_conf_t *scf,
                           SSL *ssl)
{
    X509 *cert;
    long rc;

    if (scf->ssl.verify_client == WM_SSL_VERIFY_OFF) {
        return WM_OK;
    }
    rc = SSL_get_verify_result(ssl);
    cert = SSL_get1_peer_certificate(ssl);
    if (cert == NULL) {
        if (scf->ssl.verify_client == WM_SSL_VERIFY_ON) {
            wm_log_error(WM_LOG_INFO, &s->log, 0,
                         "client sent no required SSL certificate");
            return WM_ERROR;
        }
        return WM_OK;
    }
    X509_free(cert);
    if (rc != X509_V_OK
        && scf->ssl.verify_client != WM_SSL_VERIFY_OPTIONAL_NO_CA)
    {
        wm_log_error(WM_LOG_INFO, &s->log, 0,
                     "client SSL certificate verify error: (%ld:%s)", rc,
                     X509_verify_cert_error_string(rc));
        return WM_ERROR;
    }
    return WM_OK;
}

static void
wm_stream_ssl_step(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_session_t *s = arg;
    wm_stream_ssl_ctx_t *ctx = s->ssl_ctx;
    wm_stream_ssl_conf_t *scf = wm_stream_srv_conf(s->srv,
                                                   wm_stream_ssl_module);
    short want;
    wm_int_t rc;

    if (s->closing) {
        return;
    }
    if (what & EV_TIMEOUT) {
        wm_log_error(WM_LOG_INFO, &s->log, ETIMEDOUT,
                     "client timed out in SSL handshake");
        wm_stream_finalize(s, 500);
        return;
    }
    /* Scanners and clients that give up fail here: info, as nginx. */
    rc = wm_tls_handshake(ctx->ssl, &want, &s->log, WM_LOG_INFO, "client");
    if (rc == WM_AGAIN) {
        if (wm_stream_ssl_wait(s, want, wm_stream_ssl_step) != WM_OK) {
            wm_stream_finalize(s, 500);
        }
        return;
    }
    if (rc == WM_OK) {
        s->log.action = NULL;
        wm_log_debug(&s->log, "SSL handshake done: %s, %s%s",
                     SSL_get_version(ctx->ssl),
                     SSL_get_cipher_name(ctx->ssl),
                     SSL_session_reused(ctx->ssl) ? ", reused" : "");
        if (wm_stream_ssl_check_client(s, scf, ctx->ssl) != WM_OK) {
            wm_stream_finalize(s, 500);
            return;
        }
        ctx->done = 1;
        /* ssl_preread looks for a ClientHello in plain bytes: after
         * termination there is none to find. */
        s->srv->handler(s);
        return;
    }
    wm_stream_finalize(s, 500);
}

void
wm_stream_ssl_handshake(wm_stream_session_t *s)
{
    wm_stream_ssl_conf_t *scf = wm_stream_srv_conf(s->srv,
                                                   wm_stream_ssl_module);
    wm_msec_t t = scf->handshake_timeout;
    struct timeval now, tv = {t / 1000, (t % 1000) * 1000};
    wm_stream_ssl_ctx_t *ctx;

    if (!s->listening->ssl || s->udp) {
        wm_stream_ssl_preread(s);
        return;
    }
    ctx = wm_pcalloc(s->pool, sizeof(*ctx));
    if (ctx == NULL) {
        goto failed;
    }
    s->ssl_ctx = ctx;
    ERR_clear_error();
    ctx->ssl = SSL_new(scf->ssl.ctx);
    ctx->ev = event_new(s->base, s->fd, EV_READ, wm_stream_ssl_step, s);
    if (ctx->ssl == NULL || ctx->ev == NULL
        || SSL_set_fd(ctx->ssl, s->fd) != 1)
    {
        goto failed;
    }
    SSL_set_accept_state(ctx->ssl);
    evutil_gettimeofday(&now, NULL);
    timeradd(&now, &tv, &ctx->deadline);
    s->log.action = "while SSL handshaking";
    if (event_add(ctx->ev, &tv) != 0) {
        goto failed;
    }
    /* The ClientHello may be there already. */
    event_active(ctx->ev, EV_READ, 1);
    return;

failed:
    {
        char buf[256];

        wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM,
                     "cannot start the SSL handshake %s",
                     wm_ssl_error_text(buf, sizeof(buf)));
    }
    wm_stream_finalize(s, 500);
}

/* SNI: the first set whose certificate names match the client's. */
static int
wm_stream_ssl_servername(SSL *ssl, int *alert, void *arg)
{
    wm_stream_ssl_conf_t *scf = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    size_t i;

    if (name == NULL) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    for (i = 0; i < scf->nsets; i++) {
        if (X509_check_host(scf->sets[i].leaf, name, 0, 0, NULL) == 1) {
            wm_ssl_switch_ctx(ssl, scf->sets[i].ctx);
            break;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

/* ---- configuration ------------------------------------------------------ */

static void *
wm_stream_ssl_create(wm_conf_t *cf, unsigned level)
{
    wm_stream_ssl_conf_t *scf = wm_pcalloc(cf->pool, sizeof(*scf));

    if (scf) {
        wm_ssl_conf_init(&scf->ssl);
        scf->handshake_timeout = WM_CONF_UNSET_MSEC;
        scf->node = cf->node;
    }
    return scf;
}

void
wm_stream_ssl_listen(wm_stream_core_srv_conf_t *cscf,
                     const wm_conf_node_t *node)
{
    wm_stream_ssl_conf_t *scf = wm_stream_srv_conf(cscf,
                                                   wm_stream_ssl_module);

    if (scf->listen_file == NULL) {
        scf->listen_file = node->file;
        scf->listen_line = node->line;
    }
}

static void
wm_stream_ssl_x509_free(void *x)
{
    X509_free(x);
}

/* The first certificate of a PEM file, freed with pool; NULL when it
 * cannot be read. */
static X509 *
wm_stream_ssl_leaf(wm_pool_t *pool, const char *path)
{
    FILE *f = fopen(path, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

    if (f) {
        fclose(f);
    }
    if (x && wm_pool_cleanup_add(pool, wm_stream_ssl_x509_free, x) != WM_OK) {
        X509_free(x);
        x = NULL;
    }
    ERR_clear_error();
    return x;
}

/*
 * Splits the certificates (already checked by a context of them all) into
 * sets, at each certificate of a key type the current set has, and builds
 * one context per set; with one set, the context stays as it is. NULL or
 * an error (out of memory, in cf->errbuf).
 */
static const char *
wm_stream_ssl_sets(wm_conf_t *cf, wm_stream_ssl_conf_t *conf)
{
    size_t n = conf->ssl.certificates->nelts, i, k, first = 0;
    wm_ssl_file_t *certs = conf->ssl.certificates->elts;
    wm_ssl_file_t *keys = conf->ssl.keys->elts;
    const wm_ssl_file_t *where;
    int types[8], ntypes = 0, t, j;
    wm_ssl_conf_t one;
    X509 *leaf;

    conf->sets = wm_pcalloc(cf->pool, n * sizeof(wm_stream_ssl_set_t));
    if (conf->sets == NULL) {
        return "out of memory";
    }
    for (i = 0; i <= n; i++) {
        leaf = NULL;
        t = 0;
        if (i < n) {
            leaf = wm_stream_ssl_leaf(cf->pool, certs[i].path);
            if (leaf == NULL) {
                return wm_conf_errf(cf, "cannot read certificate \"%s\"",
                                    certs[i].path);
            }
            t = EVP_PKEY_get_base_id(X509_get0_pubkey(leaf));
            for (j = 0; j < ntypes && types[j] != t; j++) {
            }
            if (j == ntypes && ntypes < (int) wm_nelems(types)) {
                types[ntypes++] = t;
                if (i == first) {
                    conf->sets[conf->nsets].leaf = leaf;
                }
                continue;
            }
        }
        /* certificates [first, i) are one set */
        if (i == n && conf->nsets == 0) {
            return NULL; /* one set: the context of them all */
        }
        one = conf->ssl;
        one.certificates = wm_palloc(cf->pool, sizeof(wm_array_t));
        one.keys = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (one.certificates == NULL || one.keys == NULL
            || wm_array_init(one.certificates, cf->pool, i - first,
                             sizeof(wm_ssl_file_t)) != WM_OK
            || wm_array_init(one.keys, cf->pool, i - first,
                             sizeof(wm_ssl_file_t)) != WM_OK)
        {
            return "out of memory";
        }
        for (k = first; k < i; k++) {
            *(wm_ssl_file_t *) wm_array_push(one.certificates) = certs[k];
            *(wm_ssl_file_t *) wm_array_push(one.keys) = keys[k];
        }
        if (wm_ssl_ctx_build(&one, cf->pool, cf->errbuf, sizeof(cf->errbuf),
                             &where))
        {
            return cf->errbuf;
        }
        conf->sets[conf->nsets++].ctx = one.ctx;
        if (i < n) {
            first = i;
            types[0] = t;
            ntypes = 1;
            conf->sets[conf->nsets].leaf = leaf;
        }
    }
    conf->ssl.ctx = conf->sets[0].ctx;
    SSL_CTX_set_tlsext_servername_callback(conf->ssl.ctx,
                                           wm_stream_ssl_servername);
    SSL_CTX_set_tlsext_servername_arg(conf->ssl.ctx, conf);
    return NULL;
}

static const char *
wm_stream_ssl_merge(wm_conf_t *cf, void *parent, void *child,
                    unsigned level)
{
    wm_stream_ssl_conf_t *prev = parent, *conf = child;
    wm_conf_node_t at = {.file = conf->listen_file,
                         .line = conf->listen_line};
    const wm_ssl_file_t *where;
    const char *rv;

    wm_ssl_conf_merge(&conf->ssl, &prev->ssl);
    wm_conf_merge_msec(conf->handshake_timeout, prev->handshake_timeout,
                       60000);
    if (conf->listen_file == NULL) {
        return NULL;
    }
    if (conf->ssl.certificates == NULL) {
        wm_conf_error(cf, &at, "no \"ssl_certificate\" is defined for the "
                               "\"listen ... ssl\" directive");
        return NULL;
    }
    if (conf->ssl.stapling) {
        /* The server's own `resolver`, else the stream block's. */
        wm_ssl_stapling_resolver(
            cf, &conf->ssl, conf->node,
            cf->confs[WM_LVL_MAIN][wm_stream_upstream_module.index]);
    }
    rv = wm_ssl_ctx_build(&conf->ssl, cf->pool, cf->errbuf,
                          sizeof(cf->errbuf), &where);
    if (rv) {
        if (where) {
            at.file = where->file;
            at.line = where->line;
        }
        wm_conf_error(cf, &at, "%s", rv);
        return NULL;
    }
    if (conf->ssl.certificates->nelts > 1
        && (rv = wm_stream_ssl_sets(cf, conf)) != NULL)
    {
        wm_conf_error(cf, &at, "%s", rv);
    }
    return NULL;
}
