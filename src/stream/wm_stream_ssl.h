/*
 * TLS in the stream subsystem: termination of client connections on a
 * `listen ... ssl` address (wm_stream_ssl_module.c), TLS to upstream
 * peers with `proxy_ssl on` (wm_stream_proxy_ssl_module.c), and the relay
 * that moves bytes when either side is TLS (wm_stream_relay_tls.c).
 */
#ifndef WM_STREAM_SSL_H
#define WM_STREAM_SSL_H

#include "wm_stream.h"
#include "wm_tls_client.h"

extern wm_module_t wm_stream_ssl_module;
extern wm_module_t wm_stream_proxy_ssl_module;
extern const wm_var_def_t wm_stream_ssl_vars[];

/* `listen ... ssl` in the server cscf, at node: its TLS context is built
 * when the stream block is merged. */
void wm_stream_ssl_listen(wm_stream_core_srv_conf_t *cscf,
                          const wm_conf_node_t *node);

/* Runs the TLS handshake with the client when s came on a `listen ...
 * ssl` address (ssl_handshake_timeout, ssl_verify_client), then the
 * server's handler; without ssl, wm_stream_ssl_preread(). A failed
 * handshake ends the session with 500, as nginx. */
void wm_stream_ssl_handshake(wm_stream_session_t *s);

/* The client's TLS connection once its handshake is done, else NULL. */
SSL *wm_stream_ssl_conn(wm_stream_session_t *s);

/* Sends v (kept in s->pool) to the TLS client of s within timeout ms,
 * then close_notify, and ends the session with 200 (500 on a failure,
 * logged): the `return` handler's path on an ssl listener. */
void wm_stream_ssl_send(wm_stream_session_t *s, const wm_str_t *v,
                        wm_msec_t timeout);

/* Frees the client's TLS state; from the session's free. */
void wm_stream_ssl_cleanup(wm_stream_session_t *s);

/* True when s's server has `proxy_ssl on`. */
bool wm_stream_proxy_ssl_enabled(wm_stream_session_t *s);

/*
 * Starts TLS on fd, connected to the upstream peer of index (in group g;
 * index < 0 or g NULL for an address given by a variable: no session
 * reuse), naming the peer by proxy_ssl_name or else by target (proxy_pass's
 * host without its port). done(s, rc) follows wm_tls_client_start's
 * contract. NULL when out of memory (logged).
 */
wm_tls_client_t *wm_stream_proxy_ssl_start(wm_stream_session_t *s, int fd,
                                           const wm_str_t *target,
                                           wm_int_t index, uint32_t npeers,
                                           wm_msec_t timeout,
                                           wm_tls_client_done_pt done);

/*
 * The relay of wm_stream_relay_start() when a side speaks TLS: cssl is
 * the client's connection (NULL: plain s->fd), ussl the upstream's on
 * upfd (NULL: plain). Same buffers, back-pressure, prefix and end at the
 * first end of stream (close_notify is sent to the TLS sides then), same
 * $termination words. The
 * caller frees it with wm_stream_relay_tls_free (NULL accepted) before it
 * frees the SSL objects and closes the sockets.
 */
typedef struct wm_stream_relay_tls_s wm_stream_relay_tls_t;
wm_stream_relay_tls_t *wm_stream_relay_tls_start(wm_stream_session_t *s,
                                                 int upfd, SSL *cssl,
                                                 SSL *ussl, size_t size,
                                                 struct timeval *last,
                                                 const u_char *prefix,
                                                 size_t prefix_len);
void wm_stream_relay_tls_free(wm_stream_relay_tls_t *rl);

/* wm_stream_relay_configure() for the TLS relay: the same options with
 * the same meaning (a passed-on end of stream is close_notify, then
 * shutdown(SHUT_WR), towards a TLS side). */
wm_int_t wm_stream_relay_tls_configure(wm_stream_relay_tls_t *rl,
                                       const wm_stream_relay_opts_t *o);

#endif /* WM_STREAM_SSL_H */
