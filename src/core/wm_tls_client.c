/*
 * TLS origination: the client context built from the proxy_ssl_*
 * settings, the non-blocking handshake on an upstream socket (one
 * libevent event, re-armed for whichever direction OpenSSL waits on,
 * under one deadline), verification of the peer after the handshake as
 * nginx does it, per-peer session resumption, and the record I/O helpers
 * that relays use on both sides.
 */
#include "wm_tls_client.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/time.h>

struct wm_tls_client_s {
    SSL *ssl;
    struct event *ev;
    struct timeval deadline;
    wm_log_t *log;
    wm_tls_client_done_pt done;
    void *arg;
    unsigned verify : 1;
    unsigned ok : 1; /* handshake done and peer accepted */
};

/* The ex_data slot of an SSL that points at its session cache slot. */
static int wm_tls_cache_index = -1;

void
wm_tls_client_conf_init(wm_tls_client_conf_t *conf)
{
    wm_ssl_conf_init(&conf->ssl);
    conf->verify = WM_CONF_UNSET;
    conf->server_name = WM_CONF_UNSET;
    conf->session_reuse = WM_CONF_UNSET;
}

void
wm_tls_client_conf_merge(wm_tls_client_conf_t *conf,
                         const wm_tls_client_conf_t *prev)
{
    if (conf->ssl.certificates == NULL) {
        conf->ssl.certificates = prev->ssl.certificates;
        conf->ssl.keys = prev->ssl.keys;
    }
    wm_conf_merge_value(conf->ssl.protocols, prev->ssl.protocols,
                        WM_SSL_TLSv1_2 | WM_SSL_TLSv1_3);
    if (conf->ssl.ciphers_at.file == NULL) {
        conf->ssl.ciphers_at = prev->ssl.ciphers_at;
    }
    wm_conf_merge_str(conf->ssl.ciphers, prev->ssl.ciphers, "DEFAULT");
    if (conf->ssl.trusted_certificate.data == NULL) {
        conf->ssl.trusted_certificate = prev->ssl.trusted_certificate;
    }
    wm_conf_merge_value(conf->ssl.verify_depth, prev->ssl.verify_depth, 1);
    wm_conf_merge_value(conf->verify, prev->verify, 0);
    wm_conf_merge_value(conf->server_name, prev->server_name, 0);
    wm_conf_merge_value(conf->session_reuse, prev->session_reuse, 1);
}

/* OpenSSL's word on a new session (TLS 1.3 tickets come after the
 * handshake): it replaces the one in the connection's cache slot. */
static int
wm_tls_client_new_session(SSL *ssl, SSL_SESSION *sess)
{
    SSL_SESSION **slot = SSL_get_ex_data(ssl, wm_tls_cache_index);

    if (slot == NULL) {
        return 0;
    }
    if (*slot) {
        SSL_SESSION_free(*slot);
    }
    *slot = sess;
    return 1; /* the reference is ours now */
}

const char *
wm_tls_client_ctx_build(wm_tls_client_conf_t *conf, wm_pool_t *pool,
                        char *err, size_t errlen, const wm_ssl_file_t **at)
{
    const char *rv;
    SSL_CTX *ctx;

    if (conf->ssl.certificates && conf->ssl.certificates->nelts > 1) {
        *at = ((wm_ssl_file_t *) conf->ssl.certificates->elts) + 1;
        snprintf(err, errlen, "\"proxy_ssl_certificate\" is duplicate");
        return err;
    }
    if (conf->verify && conf->ssl.trusted_certificate.data == NULL) {
        *at = NULL;
        snprintf(err, errlen, "no \"proxy_ssl_trusted_certificate\" for "
                              "\"proxy_ssl_verify\"");
        return err;
    }
    rv = wm_ssl_ctx_new(&conf->ssl, TLS_client_method(), "proxy_", pool, err,
                        errlen, at);
    if (rv) {
        return rv;
    }
    ctx = conf->ssl.ctx;
    if (wm_tls_cache_index < 0) {
        wm_tls_cache_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    }
    if (conf->verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, wm_ssl_verify_later);
        SSL_CTX_set_verify_depth(ctx, (int) conf->ssl.verify_depth);
    }
    if (conf->session_reuse) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT
                                                | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, wm_tls_client_new_session);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
    return NULL;
}

void
wm_tls_client_cache_free(SSL_SESSION **cache, size_t n)
{
    size_t i;

    for (i = 0; cache && i < n; i++) {
        if (cache[i]) {
            SSL_SESSION_free(cache[i]);
            cache[i] = NULL;
        }
    }
}

/* ---- the handshake -------------------------------------------------- */

static void wm_tls_client_step(evutil_socket_t fd, short what, void *arg);

/* Empties the cache slot of ssl if it holds ssl's session: a peer that
 * was refused is not resumed. */
static void
wm_tls_client_forget(SSL *ssl)
{
    SSL_SESSION **slot = SSL_get_ex_data(ssl, wm_tls_cache_index);

    if (slot && *slot && *slot == SSL_get0_session(ssl)) {
        SSL_SESSION_free(*slot);
        *slot = NULL;
    }
}

/* Waits for fd to become ready for want, within the deadline. */
static wm_int_t
wm_tls_client_wait(wm_tls_client_t *tc, short want)
{
    struct timeval now, left;

    evutil_gettimeofday(&now, NULL);
    if (timercmp(&now, &tc->deadline, >=)) {
        left.tv_sec = 0;
        left.tv_usec = 0;
    } else {
        timersub(&tc->deadline, &now, &left);
    }
    event_del(tc->ev);
    event_assign(tc->ev, event_get_base(tc->ev), event_get_fd(tc->ev), want,
                 wm_tls_client_step, tc);
    return event_add(tc->ev, &left) == 0 ? WM_OK : WM_ERROR;
}

wm_int_t
wm_tls_client_check(SSL *ssl, bool verify, wm_log_t *log)
{
    long rc;

    if (!verify) {
        return WM_OK;
    }
    if (SSL_get0_peer_certificate(ssl) == NULL) {
        wm_log_error(WM_LOG_ERR, log, 0,
                     "upstream sent no required SSL certificate");
        wm_tls_client_forget(ssl);
        return WM_DECLINED;
    }
    rc = SSL_get_verify_result(ssl);
    if (rc != X509_V_OK) {
        wm_log_error(WM_LOG_ERR, log, 0,
                     "upstream SSL certificate verify error: (%ld:%s)", rc,
                     X509_verify_cert_error_string(rc));
        wm_tls_client_forget(ssl);
        return WM_DECLINED;
    }
    return WM_OK;
}

static void
wm_tls_client_step(evutil_socket_t fd, short what, void *arg)
{
    wm_tls_client_t *tc = arg;
    short want;
    wm_int_t rc;

    if (what & EV_TIMEOUT) {
        wm_log_error(WM_LOG_ERR, tc->log, ETIMEDOUT,
                     "upstream timed out in SSL handshake");
        tc->done(tc->arg, WM_DECLINED);
        return;
    }
    rc = wm_tls_handshake(tc->ssl, &want, tc->log, WM_LOG_ERR, "upstream");
    if (rc == WM_OK) {
        wm_log_debug(tc->log, "SSL handshake to upstream done: %s, %s%s",
                     SSL_get_version(tc->ssl), SSL_get_cipher_name(tc->ssl),
                     SSL_session_reused(tc->ssl) ? ", reused" : "");
        rc = wm_tls_client_check(tc->ssl, tc->verify, tc->log);
        if (rc == WM_OK) {
            tc->ok = 1;
        }
        tc->done(tc->arg, rc);
        return;
    }
    if (rc == WM_AGAIN) {
        if (wm_tls_client_wait(tc, want) != WM_OK) {
            wm_log_error(WM_LOG_ALERT, tc->log, 0, "event_add() failed");
            tc->done(tc->arg, WM_ERROR);
        }
        return;
    }
    tc->done(tc->arg, WM_DECLINED);
}

/* True when name is an IPv4 or IPv6 address, which SNI may not carry. */
static bool
wm_tls_client_is_ip(const char *name)
{
    struct in6_addr a;

    return inet_pton(AF_INET, name, &a) == 1
           || inet_pton(AF_INET6, name, &a) == 1;
}

SSL *
wm_tls_client_ssl_new(const wm_tls_client_conf_t *conf, int fd,
                      const char *name, SSL_SESSION **cache)
{
    bool ip = name && wm_tls_client_is_ip(name);
    SSL *ssl;

    ERR_clear_error();
    ssl = SSL_new(conf->ssl.ctx);
    if (ssl == NULL || (fd >= 0 && SSL_set_fd(ssl, fd) != 1)) {
        goto failed;
    }
    SSL_set_connect_state(ssl);
    if (name && conf->server_name && !ip
        && SSL_set_tlsext_host_name(ssl, name) != 1)
    {
        goto failed;
    }
    if (name && conf->verify) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

        if (ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name) != 1
               : SSL_set1_host(ssl, name) != 1)
        {
            goto failed;
        }
    }
    if (cache && conf->session_reuse) {
        SSL_set_ex_data(ssl, wm_tls_cache_index, cache);
        if (*cache && SSL_set_session(ssl, *cache) != 1) {
            ERR_clear_error(); /* a stale session: a full handshake */
        }
    }
    return ssl;

failed:
    ERR_clear_error();
    if (ssl) {
        SSL_free(ssl);
    }
    return NULL;
}

wm_tls_client_t *
wm_tls_client_start(const wm_tls_client_conf_t *conf,
                    struct event_base *base, int fd, const char *name,
                    SSL_SESSION **cache, wm_msec_t timeout, wm_log_t *log,
                    wm_tls_client_done_pt done, void *arg)
{
    wm_tls_client_t *tc = calloc(1, sizeof(*tc));
    struct timeval now, tv = {timeout / 1000, (timeout % 1000) * 1000};

    if (tc == NULL) {
        return NULL;
    }
    tc->log = log;
    tc->done = done;
    tc->arg = arg;
    tc->verify = conf->verify ? 1 : 0;
    evutil_gettimeofday(&now, NULL);
    timeradd(&now, &tv, &tc->deadline);
    tc->ssl = wm_tls_client_ssl_new(conf, fd, name, cache);
    tc->ev = event_new(base, fd, EV_WRITE, wm_tls_client_step, tc);
    if (tc->ssl == NULL || tc->ev == NULL) {
        goto failed;
    }
    /* The first flight goes out from the loop, so that done never runs
     * inside the caller. */
    if (event_add(tc->ev, &tv) != 0) {
        goto failed;
    }
    event_active(tc->ev, EV_WRITE, 1);
    return tc;

failed:
    ERR_clear_error();
    wm_tls_client_free(tc);
    return NULL;
}

SSL *
wm_tls_client_ssl(wm_tls_client_t *tc)
{
    return tc->ssl;
}

void
wm_tls_client_free(wm_tls_client_t *tc)
{
    if (tc == NULL) {
        return;
    }
    if (tc->ev) {
        event_free(tc->ev);
    }
    if (tc->ssl) {
        SSL_set_ex_data(tc->ssl, wm_tls_cache_index, NULL);
        if (tc->ok) {
            wm_tls_client_keep_session(tc->ssl);
        }
        SSL_free(tc->ssl);
    }
    free(tc);
}

void
wm_tls_client_keep_session(SSL *ssl)
{
    /* A connection that ends without close_notify (a reset, an error of
     * the other side) leaves its session valid; OpenSSL would mark it not
     * resumable. */
    if (SSL_is_init_finished(ssl)) {
        SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    }
}

/* ---- record I/O ----------------------------------------------------- */

/* The outcome of a failed SSL_read/SSL_write n, as wm_tls_recv says. */
static ssize_t
wm_tls_result(SSL *ssl, int n, short *want)
{
    int err = SSL_get_error(ssl, n);

    switch (err) {
    case SSL_ERROR_WANT_READ:
        *want = EV_READ;
        return WM_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        *want = EV_WRITE;
        return WM_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (errno == 0 && ERR_peek_error() == 0) {
            return 0; /* a plain EOF */
        }
        errno = errno ? errno : EPROTO;
        return WM_ERROR;
    default:
        errno = EPROTO;
        return WM_ERROR;
    }
}

ssize_t
wm_tls_recv(SSL *ssl, void *buf, size_t len, short *want)
{
    int n;

    ERR_clear_error();
    errno = 0;
    n = SSL_read(ssl, buf, (int) wm_min(len, INT32_MAX));
    return n > 0 ? n : wm_tls_result(ssl, n, want);
}

ssize_t
wm_tls_send(SSL *ssl, const void *buf, size_t len, short *want)
{
    int n;

    ERR_clear_error();
    errno = 0;
    n = SSL_write(ssl, buf, (int) wm_min(len, 16384));
    if (n > 0) {
        return n;
    }
    n = (int) wm_tls_result(ssl, n, want);
    if (n == 0) {
        errno = EPIPE; /* the peer closed while we send */
        return WM_ERROR;
    }
    return n;
}

wm_int_t
wm_tls_handshake(SSL *ssl, short *want, wm_log_t *log, unsigned level,
                 const char *who)
{
    char buf[512];
    int n, err;

    ERR_clear_error();
    errno = 0;
    n = SSL_do_handshake(ssl);
    if (n == 1) {
        return WM_OK;
    }
    err = SSL_get_error(ssl, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        *want = err == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE;
        return WM_AGAIN;
    }
    if (err == SSL_ERROR_ZERO_RETURN
        || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
    {
        wm_log_error(level, log, err == SSL_ERROR_SYSCALL ? errno : 0,
                     "%s closed connection in SSL handshake", who);
    } else {
        wm_log_error(level, log, err == SSL_ERROR_SYSCALL ? errno : 0,
                     "SSL handshake with %s failed: %s", who,
                     wm_ssl_error_text(buf, sizeof(buf)));
    }
    return WM_DECLINED;
}

void
wm_tls_shutdown(SSL *ssl)
{
    ERR_clear_error();
    SSL_set_quiet_shutdown(ssl, 0);
    if (SSL_shutdown(ssl) < 0) {
        ERR_clear_error();
    }
}
