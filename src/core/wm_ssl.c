/*
 * Building OpenSSL server contexts from merged ssl_* settings. A context is
 * made in the master when the config is loaded; the workers inherit it
 * (with its session ticket keys, so a ticket issued by one worker resumes
 * on any other).
 */
#include "wm_ssl.h"
#include "wm_ssl_ocsp.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

void
wm_ssl_conf_init(wm_ssl_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->protocols = WM_CONF_UNSET;
    conf->prefer_server_ciphers = WM_CONF_UNSET;
    conf->session_tickets = WM_CONF_UNSET;
    conf->session_timeout = WM_CONF_UNSET_MSEC;
    conf->session_cache = WM_CONF_UNSET;
    conf->verify_client = WM_CONF_UNSET;
    conf->verify_depth = WM_CONF_UNSET;
    conf->stapling = WM_CONF_UNSET;
    conf->stapling_verify = WM_CONF_UNSET;
}

void
wm_ssl_conf_merge(wm_ssl_conf_t *conf, const wm_ssl_conf_t *prev)
{
    if (conf->certificates == NULL) {
        conf->certificates = prev->certificates;
        conf->keys = prev->keys;
    }
    wm_conf_merge_value(conf->protocols, prev->protocols,
                        WM_SSL_TLSv1_2 | WM_SSL_TLSv1_3);
    wm_conf_merge_str(conf->ciphers, prev->ciphers, "HIGH:!aNULL:!MD5");
    if (conf->ciphers_at.file == NULL) {
        conf->ciphers_at = prev->ciphers_at;
    }
    if (conf->curve_at.file == NULL) {
        conf->curve_at = prev->curve_at;
    }
    if (conf->ciphersuites.data == NULL) {
        conf->ciphersuites = prev->ciphersuites;
    }
    wm_conf_merge_str(conf->ecdh_curve, prev->ecdh_curve, "auto");
    wm_conf_merge_value(conf->prefer_server_ciphers,
                        prev->prefer_server_ciphers, 0);
    wm_conf_merge_value(conf->session_tickets, prev->session_tickets, 1);
    wm_conf_merge_msec(conf->session_timeout, prev->session_timeout, 300000);
    wm_conf_merge_value(conf->session_cache, prev->session_cache, 0);
    if (conf->client_certificate.data == NULL) {
        conf->client_certificate = prev->client_certificate;
    }
    if (conf->trusted_certificate.data == NULL) {
        conf->trusted_certificate = prev->trusted_certificate;
    }
    wm_conf_merge_value(conf->verify_client, prev->verify_client,
                        WM_SSL_VERIFY_OFF);
    wm_conf_merge_value(conf->verify_depth, prev->verify_depth, 1);
    wm_conf_merge_value(conf->stapling, prev->stapling, 0);
    wm_conf_merge_value(conf->stapling_verify, prev->stapling_verify, 0);
    if (conf->stapling_file.path == NULL) {
        conf->stapling_file = prev->stapling_file;
    }
    if (conf->stapling_responder.data == NULL) {
        conf->stapling_responder = prev->stapling_responder;
    }
}

wm_int_t
wm_ssl_protocol_bit(const char *name)
{
    static const struct {
        const char *name;
        wm_int_t bit;
    } names[] = {
        {"SSLv2", 0},
        {"SSLv3", 0},
        {"TLSv1", WM_SSL_TLSv1},
        {"TLSv1.1", WM_SSL_TLSv1_1},
        {"TLSv1.2", WM_SSL_TLSv1_2},
        {"TLSv1.3", WM_SSL_TLSv1_3},
    };
    size_t i;

    for (i = 0; i < wm_nelems(names); i++) {
        if (strcmp(names[i].name, name) == 0) {
            /* SSLv2/3 are accepted for old configs and never enabled. */
            return names[i].bit ? names[i].bit : -1;
        }
    }
    return 0;
}

const char *
wm_ssl_error_text(char *buf, size_t len)
{
    unsigned long e;
    size_t n = 0;

    buf[0] = '\0';
    while ((e = ERR_get_error()) != 0) {
        char one[256];

        ERR_error_string_n(e, one, sizeof(one));
        if (n < len) {
            int w = snprintf(buf + n, len - n, "%s%s", n ? " " : "", one);

            n += w > 0 ? (size_t) w : 0;
        }
    }
    return buf;
}

const char *
wm_ssl_var_text(SSL *ssl, uintptr_t which)
{
    X509 *cert;
    bool none;
    long rc;

    switch (which) {
    case WM_SSL_VAR_PROTOCOL:
        return SSL_get_version(ssl);
    case WM_SSL_VAR_CIPHER:
        return SSL_get_cipher_name(ssl);
    case WM_SSL_VAR_SERVER_NAME:
        return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    case WM_SSL_VAR_SESSION_REUSED:
        return SSL_session_reused(ssl) ? "r" : ".";
    default:
        cert = SSL_get1_peer_certificate(ssl);
        none = cert == NULL;
        rc = SSL_get_verify_result(ssl);
        X509_free(cert);
        return none ? "NONE" : rc == X509_V_OK ? "SUCCESS" : "FAILED";
    }
}

/* The [min, max] protocol versions for a bit set; a gap is filled, as a
 * TLS stack can only offer a range. */
static void
wm_ssl_versions(wm_int_t bits, int *min, int *max)
{
    static const struct {
        wm_int_t bit;
        int version;
    } v[] = {
        {WM_SSL_TLSv1, TLS1_VERSION},
        {WM_SSL_TLSv1_1, TLS1_1_VERSION},
        {WM_SSL_TLSv1_2, TLS1_2_VERSION},
        {WM_SSL_TLSv1_3, TLS1_3_VERSION},
    };
    size_t i;

    *min = *max = 0;
    for (i = 0; i < wm_nelems(v); i++) {
        if (bits & v[i].bit) {
            if (*min == 0) {
                *min = v[i].version;
            }
            *max = v[i].version;
        }
    }
}

static void
wm_ssl_ctx_free(void *ctx)
{
    SSL_CTX_free(ctx);
}

void
wm_ssl_switch_ctx(SSL *ssl, SSL_CTX *ctx)
{
    if (ctx == SSL_get_SSL_CTX(ssl)) {
        return;
    }
    SSL_set_SSL_CTX(ssl, ctx);
    /* What the new context asks of the client applies too. */
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx),
                   SSL_CTX_get_verify_callback(ctx));
    SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));
    SSL_set_options(ssl, SSL_CTX_get_options(ctx));
}

int
wm_ssl_verify_later(int ok, X509_STORE_CTX *store)
{
    /* The handshake goes on whatever the chain: as nginx, the request is
     * answered 400 (or the upstream given up) with the reason, from
     * SSL_get_verify_result(). */
    return 1;
}

const char *
wm_ssl_ctx_new(wm_ssl_conf_t *conf, const SSL_METHOD *method,
               const char *prefix, wm_pool_t *pool, char *err, size_t errlen,
               const wm_ssl_file_t **at)
{
    wm_ssl_file_t *certs, *keys;
    char ossl[512];
    SSL_CTX *ctx;
    size_t i, n;
    int min, max;

    *at = NULL;
    n = conf->certificates ? conf->certificates->nelts : 0;
    if (n && (conf->keys == NULL || conf->keys->nelts != n)) {
        *at = ((wm_ssl_file_t *) conf->certificates->elts) + n - 1;
        snprintf(err, errlen, "no \"%sssl_certificate_key\" is defined for "
                              "certificate \"%s\"",
                 prefix, (*at)->path);
        return err;
    }
    ERR_clear_error();
    ctx = SSL_CTX_new(method);
    if (ctx == NULL) {
        snprintf(err, errlen, "SSL_CTX_new() failed: %s",
                 wm_ssl_error_text(ossl, sizeof(ossl)));
        return err;
    }
    if (wm_pool_cleanup_add(pool, wm_ssl_ctx_free, ctx) != WM_OK) {
        SSL_CTX_free(ctx);
        snprintf(err, errlen, "out of memory");
        return err;
    }
    conf->ctx = ctx;

    certs = n ? conf->certificates->elts : NULL;
    keys = n ? conf->keys->elts : NULL;
    for (i = 0; i < n; i++) {
        /* Each certificate (RSA, ECDSA) is added next to the others;
         * OpenSSL picks the one the peer can use. */
        if (SSL_CTX_use_certificate_chain_file(ctx, certs[i].path) != 1) {
            *at = &certs[i];
            snprintf(err, errlen, "cannot load certificate \"%s\": %s",
                     certs[i].path, wm_ssl_error_text(ossl, sizeof(ossl)));
            return err;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, keys[i].path, SSL_FILETYPE_PEM)
            != 1)
        {
            *at = &keys[i];
            snprintf(err, errlen, "cannot load certificate key \"%s\": %s",
                     keys[i].path, wm_ssl_error_text(ossl, sizeof(ossl)));
            return err;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            *at = &keys[i];
            snprintf(err, errlen,
                     "certificate key \"%s\" does not match certificate "
                     "\"%s\": %s",
                     keys[i].path, certs[i].path,
                     wm_ssl_error_text(ossl, sizeof(ossl)));
            return err;
        }
    }

    wm_ssl_versions(conf->protocols, &min, &max);
    if (min == 0 || SSL_CTX_set_min_proto_version(ctx, min) != 1
        || SSL_CTX_set_max_proto_version(ctx, max) != 1)
    {
        snprintf(err, errlen, "no usable protocol in \"%sssl_protocols\"",
                 prefix);
        return err;
    }
    if (SSL_CTX_set_cipher_list(ctx, (const char *) conf->ciphers.data)
        != 1)
    {
        *at = conf->ciphers_at.file ? &conf->ciphers_at : NULL;
        snprintf(err, errlen, "invalid \"%sssl_ciphers\" \"%s\": %s", prefix,
                 (const char *) conf->ciphers.data,
                 wm_ssl_error_text(ossl, sizeof(ossl)));
        return err;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION
                                 | SSL_OP_NO_RENEGOTIATION
                                 | SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* NO_AUTO_CHAIN: the chain is what the certificate file holds, not
     * whatever the verify store (client CAs) could add to it. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                              | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                              | SSL_MODE_RELEASE_BUFFERS
                              | SSL_MODE_NO_AUTO_CHAIN);
    if (conf->trusted_certificate.data
        && SSL_CTX_load_verify_locations(
               ctx, (const char *) conf->trusted_certificate.data, NULL)
               != 1)
    {
        snprintf(err, errlen, "cannot load trusted certificate \"%s\": %s",
                 (const char *) conf->trusted_certificate.data,
                 wm_ssl_error_text(ossl, sizeof(ossl)));
        return err;
    }
    return NULL;
}

const char *
wm_ssl_ctx_build(wm_ssl_conf_t *conf, wm_pool_t *pool, char *err,
                 size_t errlen, const wm_ssl_file_t **at)
{
    char ossl[512];
    SSL_CTX *ctx;
    const char *rv;

    *at = NULL;
    if (conf->certificates == NULL || conf->certificates->nelts == 0) {
        snprintf(err, errlen, "no \"ssl_certificate\" is defined");
        return err;
    }
    rv = wm_ssl_ctx_new(conf, TLS_server_method(), "", pool, err, errlen, at);
    if (rv) {
        return rv;
    }
    ctx = conf->ctx;
    if (conf->ciphersuites.data
        && SSL_CTX_set_ciphersuites(ctx, (const char *) conf->ciphersuites.data)
               != 1)
    {
        snprintf(err, errlen, "invalid \"ssl_conf_command Ciphersuites\" "
                              "\"%s\"",
                 (const char *) conf->ciphersuites.data);
        return err;
    }
    if (strcmp((const char *) conf->ecdh_curve.data, "auto") != 0
        && SSL_CTX_set1_groups_list(ctx, (const char *) conf->ecdh_curve.data)
               != 1)
    {
        *at = conf->curve_at.file ? &conf->curve_at : NULL;
        snprintf(err, errlen, "invalid \"ssl_ecdh_curve\" \"%s\"",
                 (const char *) conf->ecdh_curve.data);
        return err;
    }
    if (conf->prefer_server_ciphers) {
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    }
    if (!conf->session_tickets) {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
    SSL_CTX_set_timeout(ctx, (long) (conf->session_timeout / 1000));
    if (conf->session_cache > 0) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, conf->session_cache);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    /* One id for every context, so that a session resumes whichever
     * server SNI picks (OpenSSL looks the session up before SNI switches
     * contexts); a resumed session's client certificate is verified again
     * by the server it reaches (wm_http_ssl_check_client). */
    SSL_CTX_set_session_id_context(ctx, (const u_char *) "wmproxy", 7);

    if (conf->verify_client != WM_SSL_VERIFY_OFF) {
        STACK_OF(X509_NAME) *names;
        const char *ca = (const char *) conf->client_certificate.data;

        if (ca == NULL && conf->verify_client != WM_SSL_VERIFY_OPTIONAL_NO_CA)
        {
            snprintf(err, errlen, "no \"ssl_client_certificate\" for "
                                  "\"ssl_verify_client\"");
            return err;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, wm_ssl_verify_later);
        SSL_CTX_set_verify_depth(ctx, (int) conf->verify_depth);
        if (ca) {
            if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
                snprintf(err, errlen,
                         "cannot load client certificate \"%s\": %s", ca,
                         wm_ssl_error_text(ossl, sizeof(ossl)));
                return err;
            }
            names = SSL_load_client_CA_file(ca);
            if (names) {
                SSL_CTX_set_client_CA_list(ctx, names);
            }
        }
    }
    if (conf->stapling) {
        return wm_ssl_ocsp_setup(conf, pool, err, errlen, at);
    }
    return NULL;
}
