/*
 * TLS to an upstream: the transport step that follows a TCP connect when
 * a proxy is told to speak TLS to its peers (`proxy_ssl on` in stream,
 * https:// upstreams in HTTP). A client context is built from the
 * proxy_ssl_* settings when the config is loaded; at run time the
 * handshake runs on the connected socket under libevent, verifies the
 * peer when asked, and leaves an SSL object that the caller reads and
 * writes with wm_tls_recv() / wm_tls_send() (which serve server-side
 * connections as well).
 *
 * Use:
 *     conf: wm_tls_client_conf_init / _merge / _ctx_build (config load)
 *     tc = wm_tls_client_start(conf, base, fd, name, &slot, timeout, log,
 *                              done, arg);
 *     done(arg, WM_OK) -> relay with wm_tls_client_ssl(tc)
 *     done(arg, WM_DECLINED) -> the peer failed: try the next one
 *     wm_tls_client_free(tc) from the loop (not inside done), then
 *     close(fd)
 */
#ifndef WM_TLS_CLIENT_H
#define WM_TLS_CLIENT_H

#include "wm_core.h"
#include "wm_log.h"
#include "wm_ssl.h"

#include <event2/event.h>
#include <openssl/ssl.h>

/*
 * The settings of TLS to upstreams. ssl holds what servers have too:
 * the client certificate and its key (certificates/keys, at most one
 * each), protocols, ciphers, trusted_certificate, verify_depth, and ctx
 * once built. Fields are WM_CONF_UNSET until merged.
 */
typedef struct {
    wm_ssl_conf_t ssl;
    wm_int_t verify;        /* check the peer's chain and name */
    wm_int_t server_name;   /* send the name as SNI */
    wm_int_t session_reuse; /* resume sessions per peer */
} wm_tls_client_conf_t;

void wm_tls_client_conf_init(wm_tls_client_conf_t *conf);

/* Inherits unset fields from prev; defaults as nginx's proxy_ssl_*:
 * TLSv1.2 TLSv1.3, ciphers DEFAULT, verify off, depth 1, no SNI, session
 * reuse on. */
void wm_tls_client_conf_merge(wm_tls_client_conf_t *conf,
                              const wm_tls_client_conf_t *prev);

/*
 * Builds conf->ssl.ctx (freed with pool). Errors, as wm_ssl_ctx_build():
 * a certificate without key, files that do not load, bad ciphers, and
 * verify on without a trusted certificate. NULL on success.
 */
const char *wm_tls_client_ctx_build(wm_tls_client_conf_t *conf,
                                    wm_pool_t *pool, char *err,
                                    size_t errlen, const wm_ssl_file_t **at);

typedef struct wm_tls_client_s wm_tls_client_t;

/*
 * Called once, from the event loop, when the handshake ends: WM_OK (the
 * connection is ready), WM_DECLINED (the peer is to blame: it closed,
 * the handshake failed, its certificate did not verify, or the timeout
 * passed; logged at error level as nginx does, e.g. `upstream SSL
 * certificate verify error: (20:unable to get local issuer
 * certificate)`), WM_ERROR (a local failure, logged). done must not free
 * tc.
 */
typedef void (*wm_tls_client_done_pt)(void *arg, wm_int_t rc);

/*
 * Starts the handshake on fd (connected, non-blocking; still owned by
 * the caller, which closes it after wm_tls_client_free; the process must
 * ignore SIGPIPE, as wmproxy's do). name (NUL-ended,
 * may be NULL) is sent as SNI when conf->server_name is on and it is not
 * an IP address, and the certificate must match it when conf->verify is
 * on. cache (may be NULL) is a slot of the caller, living as long as
 * conf, holding the session to resume with this peer; new sessions are
 * stored in it when conf->session_reuse is on. timeout bounds the whole
 * handshake. log (with the caller's context) must outlive tc. NULL when
 * out of memory; done is never called from here.
 */
wm_tls_client_t *wm_tls_client_start(const wm_tls_client_conf_t *conf,
                                     struct event_base *base, int fd,
                                     const char *name, SSL_SESSION **cache,
                                     wm_msec_t timeout, wm_log_t *log,
                                     wm_tls_client_done_pt done, void *arg);

/*
 * The parts of wm_tls_client_start for callers that run the handshake
 * themselves (the HTTP proxy hands the SSL to a libevent openssl
 * bufferevent): a client SSL on fd (-1: none yet) with SNI, the name to
 * verify and the session of cache set as wm_tls_client_start describes;
 * NULL when out of memory. The caller frees it.
 */
SSL *wm_tls_client_ssl_new(const wm_tls_client_conf_t *conf, int fd,
                           const char *name, SSL_SESSION **cache);

/*
 * The verdict on the peer once the handshake of ssl is done: WM_OK, or
 * WM_DECLINED (logged at error level, `upstream SSL certificate verify
 * error: (N:text)`, and the session forgotten) when verify is on and the
 * peer sent no certificate or one that did not verify.
 */
wm_int_t wm_tls_client_check(SSL *ssl, bool verify, wm_log_t *log);

/* Before SSL_free of a connection whose handshake was done: keeps its
 * session resumable though no close_notify was exchanged. */
void wm_tls_client_keep_session(SSL *ssl);

/* The connection, for wm_tls_recv/_send once done said WM_OK; it lives
 * until wm_tls_client_free. */
SSL *wm_tls_client_ssl(wm_tls_client_t *tc);

/* Frees tc and its SSL (not the socket); NULL accepted. */
void wm_tls_client_free(wm_tls_client_t *tc);

/* Frees the sessions of a cache of n slots; for a pool cleanup. */
void wm_tls_client_cache_free(SSL_SESSION **cache, size_t n);

/*
 * Record I/O on any established connection (client or server side), one
 * SSL_read/SSL_write per call. Both return the bytes moved (> 0),
 * WM_AGAIN when the socket must be readable (*want = EV_READ) or
 * writable (*want = EV_WRITE) first, or WM_ERROR (errno kept: ECONNRESET
 * for a reset; the OpenSSL error queue is left for the caller's log, see
 * wm_ssl_error_text). wm_tls_recv returns 0 at the peer's close_notify or
 * at a plain EOF. wm_tls_send takes at most 16 KiB per call; after
 * WM_AGAIN call it again with the same bytes.
 */
ssize_t wm_tls_recv(SSL *ssl, void *buf, size_t len, short *want);
ssize_t wm_tls_send(SSL *ssl, const void *buf, size_t len, short *want);

/*
 * One step of the handshake of ssl, either side: WM_OK when it is done,
 * WM_AGAIN when the socket must be ready for *want first, WM_DECLINED
 * when the peer closed or the handshake failed (logged at level as `who
 * closed connection in SSL handshake` or `SSL handshake with who failed:
 * reason`).
 */
wm_int_t wm_tls_handshake(SSL *ssl, short *want, wm_log_t *log,
                          unsigned level, const char *who);

/* Sends close_notify without waiting for the peer's (best effort). */
void wm_tls_shutdown(SSL *ssl);

#endif /* WM_TLS_CLIENT_H */
