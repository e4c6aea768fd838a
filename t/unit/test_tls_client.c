/*
 * wm_tls_client as a proxy uses it: client contexts and their errors, the
 * handshake on libevent against a server context of wm_ssl.c over a
 * socketpair (SNI, verification of the chain and the name, a peer that
 * closes, the timeout), record I/O and close_notify, and session reuse
 * through the caller's cache slot. The certificate is made here.
 */
#include "wm_tls_client.h"

#include "tap.h"

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_tls_client_XXXXXX";
static char cert_path[64], key_path[64], log_path[64];

/* A self-signed P-256 certificate for unit.test, usable as its own CA. */
static void
make_cert(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    FILE *f;

    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const u_char *) "unit.test", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
                              "DNS:unit.test");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    X509_sign(x, key, EVP_sha256());
    f = fopen(cert_path, "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key_path, "w");
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

static wm_array_t *
one_file(wm_pool_t *pool, const char *path)
{
    wm_array_t *a = wm_palloc(pool, sizeof(*a));
    wm_ssl_file_t *f;

    wm_array_init(a, pool, 1, sizeof(wm_ssl_file_t));
    f = wm_array_push(a);
    f->path = path;
    f->file = "test.conf";
    f->line = 1;
    return a;
}

static wm_str_t
str(const char *s)
{
    wm_str_t v = {strlen(s), (u_char *) s};

    return v;
}

/* ---- one connection ----------------------------------------------------- */

typedef struct {
    wm_int_t rc;     /* the client's result, 1 until done */
    SSL *server;
    int fd[2];
    wm_tls_client_t *tc;
} conn_t;

static void
done(void *arg, wm_int_t rc)
{
    ((conn_t *) arg)->rc = rc;
}

/* Runs the client's handshake to name against the server context (NULL:
 * the server never answers) until done is called; WM_OK, WM_DECLINED... */
static wm_int_t
handshake(conn_t *c, struct event_base *base, SSL_CTX *srv,
          const wm_tls_client_conf_t *conf, const char *name,
          SSL_SESSION **slot, wm_msec_t timeout, wm_log_t *log,
          bool close_server)
{
    bool srv_done = false;
    short want;
    int i;

    memset(c, 0, sizeof(*c));
    c->rc = 1;
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, c->fd);
    if (srv) {
        c->server = SSL_new(srv);
        SSL_set_fd(c->server, c->fd[1]);
        SSL_set_accept_state(c->server);
    }
    if (close_server) {
        close(c->fd[1]);
        c->fd[1] = -1;
    }
    c->tc = wm_tls_client_start(conf, base, c->fd[0], name, slot, timeout,
                                log, done, c);
    for (i = 0; c->rc == 1 && i < 20000; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        if (c->server && !srv_done && c->fd[1] >= 0) {
            srv_done = wm_tls_handshake(c->server, &want, log, WM_LOG_INFO,
                                        "client")
                       != WM_AGAIN;
        }
        usleep(200);
    }
    return c->rc;
}

static void
conn_free(conn_t *c)
{
    wm_tls_client_free(c->tc);
    SSL_free(c->server);
    close(c->fd[0]);
    if (c->fd[1] >= 0) {
        close(c->fd[1]);
    }
}

/* Reads what the peer sends within about a second. */
static ssize_t
recv_some(SSL *ssl, char *buf, size_t len)
{
    short want;
    ssize_t n = WM_AGAIN;
    int i;

    for (i = 0; n == WM_AGAIN && i < 1000; i++) {
        n = wm_tls_recv(ssl, buf, len, &want);
        if (n == WM_AGAIN) {
            usleep(1000);
        }
    }
    return n;
}

static bool
log_has(const char *text)
{
    char buf[8192];
    FILE *f = fopen(log_path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

    if (f) {
        fclose(f);
    }
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

int
main(void)
{
    wm_pool_t *pool = wm_pool_new(0);
    struct event_base *base = event_base_new();
    wm_ssl_conf_t srv, unset;
    wm_tls_client_conf_t cli, cunset, bad;
    wm_log_sink_t sink = {NULL, -1, WM_LOG_DEBUG};
    wm_log_t log = {&sink, 1, WM_LOG_INFO, NULL, NULL, NULL};
    const wm_ssl_file_t *at;
    SSL_SESSION *slot = NULL;
    char err[512], buf[64];
    const char *rv;
    short want;
    conn_t c;

    signal(SIGPIPE, SIG_IGN); /* as wmproxy's processes: EPIPE instead */
    if (mkdtemp(dir) == NULL) {
        return 1;
    }
    snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
    snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
    snprintf(log_path, sizeof(log_path), "%s/error.log", dir);
    sink.path = log_path;
    wm_log_sink_open(&sink);
    make_cert();

    wm_ssl_conf_init(&srv);
    wm_ssl_conf_init(&unset);
    srv.certificates = one_file(pool, cert_path);
    srv.keys = one_file(pool, key_path);
    wm_ssl_conf_merge(&srv, &unset);
    rv = wm_ssl_ctx_build(&srv, pool, err, sizeof(err), &at);
    ok(rv == NULL, "a server context from the certificate");

    /* ---- contexts and their errors ---- */
    wm_tls_client_conf_init(&cunset);
    wm_tls_client_conf_init(&bad);
    bad.verify = 1;
    wm_tls_client_conf_merge(&bad, &cunset);
    rv = wm_tls_client_ctx_build(&bad, pool, err, sizeof(err), &at);
    ok(rv && strcmp(rv, "no \"proxy_ssl_trusted_certificate\" for "
                        "\"proxy_ssl_verify\"") == 0,
       "verify without trusted certificates is an error");
    wm_tls_client_conf_init(&bad);
    bad.ssl.certificates = one_file(pool, cert_path);
    wm_tls_client_conf_merge(&bad, &cunset);
    rv = wm_tls_client_ctx_build(&bad, pool, err, sizeof(err), &at);
    ok(rv && strstr(rv, "no \"proxy_ssl_certificate_key\" is defined"),
       "a client certificate without key is an error");
    ok(at && at->line == 1, "  and it points at the certificate");
    wm_tls_client_conf_init(&bad);
    bad.ssl.ciphers = str("NOPE");
    wm_tls_client_conf_merge(&bad, &cunset);
    rv = wm_tls_client_ctx_build(&bad, pool, err, sizeof(err), &at);
    ok(rv && strstr(rv, "invalid \"proxy_ssl_ciphers\" \"NOPE\""),
       "a bad cipher list is an error");

    wm_tls_client_conf_init(&cli);
    cli.verify = 1;
    cli.server_name = 1;
    cli.ssl.trusted_certificate = str(cert_path);
    wm_tls_client_conf_merge(&cli, &cunset);
    rv = wm_tls_client_ctx_build(&cli, pool, err, sizeof(err), &at);
    ok(rv == NULL, "a verifying client context");
    is_int(cli.session_reuse, 1, "session reuse is on by default");

    /* ---- a verified handshake, I/O, close_notify ---- */
    is_int(handshake(&c, base, srv.ctx, &cli, "unit.test", &slot, 5000, &log,
                     false),
           WM_OK, "the handshake to unit.test verifies");
    ok(c.server
           && strcmp(SSL_get_servername(c.server, TLSEXT_NAMETYPE_host_name)
                         ? SSL_get_servername(c.server,
                                              TLSEXT_NAMETYPE_host_name)
                         : "",
                     "unit.test")
                  == 0,
       "the server got the name as SNI");
    ok(!SSL_session_reused(wm_tls_client_ssl(c.tc)), "a new session");
    is_int(wm_tls_send(wm_tls_client_ssl(c.tc), "ping", 4, &want), 4,
           "wm_tls_send: 4 bytes");
    is_int(recv_some(c.server, buf, sizeof(buf)), 4, "the server reads 4");
    ok(memcmp(buf, "ping", 4) == 0, "  the same 4");
    is_int(wm_tls_send(c.server, "pong!", 5, &want), 5, "the server answers");
    is_int(recv_some(wm_tls_client_ssl(c.tc), buf, sizeof(buf)), 5,
           "wm_tls_recv: 5 bytes");
    ok(slot != NULL, "the session (a TLS 1.3 ticket) is in the cache slot");
    is_int(wm_tls_recv(wm_tls_client_ssl(c.tc), buf, sizeof(buf), &want),
           WM_AGAIN, "nothing more: WM_AGAIN");
    is_int(want, EV_READ, "  waiting to read");
    wm_tls_shutdown(c.server);
    is_int(recv_some(wm_tls_client_ssl(c.tc), buf, sizeof(buf)), 0,
           "close_notify reads as 0");
    conn_free(&c);

    /* ---- the session resumes ---- */
    is_int(handshake(&c, base, srv.ctx, &cli, "unit.test", &slot, 5000, &log,
                     false),
           WM_OK, "a second handshake with the slot");
    ok(SSL_session_reused(wm_tls_client_ssl(c.tc)), "  resumes the session");
    conn_free(&c);

    /* ---- peer failures ---- */
    is_int(handshake(&c, base, srv.ctx, &cli, "other.test", NULL, 5000, &log,
                     false),
           WM_DECLINED, "another name does not verify");
    ok(log_has("upstream SSL certificate verify error: (62:hostname "
               "mismatch)"),
       "  logged as a verify error");
    conn_free(&c);
    is_int(handshake(&c, base, srv.ctx, &cli, "unit.test", NULL, 5000, &log,
                     true),
           WM_DECLINED, "a peer that closes fails the handshake");
    ok(log_has("upstream closed connection in SSL handshake"), "  logged");
    conn_free(&c);
    is_int(handshake(&c, base, NULL, &cli, "unit.test", NULL, 100, &log,
                     false),
           WM_DECLINED, "a peer that never answers times out");
    ok(log_has("upstream timed out in SSL handshake"), "  logged");
    conn_free(&c);

    wm_tls_client_cache_free(&slot, 1);
    ok(slot == NULL, "the cache is emptied");
    event_base_free(base);
    wm_pool_free(pool);
    close(sink.fd);
    unlink(cert_path);
    unlink(key_path);
    unlink(log_path);
    rmdir(dir);
    return tap_done();
}
