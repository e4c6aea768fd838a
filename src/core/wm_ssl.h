/*
 * TLS server contexts (OpenSSL 3) built from the ssl_* directives, shared
 * by the HTTP and stream modules: certificates and keys (several, RSA and
 * ECDSA), protocols, ciphers, session cache and tickets, client
 * verification. Everything that can be wrong in them is found when the
 * config is loaded, so that `wmproxy -t` reports it.
 */
#ifndef WM_SSL_H
#define WM_SSL_H

#include "wm_core.h"
#include "wm_conf.h"
#include "wm_pool.h"

#include <openssl/ssl.h>

/* ssl_protocols bits. */
#define WM_SSL_TLSv1 0x02
#define WM_SSL_TLSv1_1 0x04
#define WM_SSL_TLSv1_2 0x08
#define WM_SSL_TLSv1_3 0x10

/* ssl_verify_client values. */
#define WM_SSL_VERIFY_OFF 0
#define WM_SSL_VERIFY_ON 1
#define WM_SSL_VERIFY_OPTIONAL 2
#define WM_SSL_VERIFY_OPTIONAL_NO_CA 3

/* A certificate or key file and where it was configured. */
typedef struct {
    const char *path;       /* absolute */
    const char *file;       /* config file and line, for errors */
    unsigned line;
} wm_ssl_file_t;

/* The settings of one server; fields are WM_CONF_UNSET until merged. */
typedef struct {
    wm_array_t *certificates;      /* wm_ssl_file_t; NULL: inherit */
    wm_array_t *keys;              /* wm_ssl_file_t, paired with the above */
    wm_int_t protocols;            /* WM_SSL_TLS* bits */
    wm_str_t ciphers;              /* TLS 1.2 cipher list */
    wm_str_t ciphersuites;         /* TLS 1.3 suites */
    wm_str_t ecdh_curve;
    wm_ssl_file_t ciphers_at;      /* where ssl_ciphers / ssl_ecdh_curve */
    wm_ssl_file_t curve_at;        /* were set, for errors */
    wm_int_t prefer_server_ciphers;
    wm_int_t session_tickets;
    wm_msec_t session_timeout;
    wm_int_t session_cache;        /* -1 unset, 0 off/none, else entries */
    wm_str_t client_certificate;   /* CA file for client verification */
    wm_str_t trusted_certificate;
    wm_int_t verify_client;        /* WM_SSL_VERIFY_* */
    wm_int_t verify_depth;
    wm_int_t stapling;             /* wm_ssl_ocsp.h */
    wm_int_t stapling_verify;
    wm_ssl_file_t stapling_file;   /* path NULL: none */
    wm_str_t stapling_responder;
    const void *stapling_resolver; /* wm_resolver_conf_t, or NULL */
    wm_msec_t stapling_resolver_timeout; /* 0: the resolver's default */
    SSL_CTX *ctx;                  /* built by wm_ssl_ctx_build */
} wm_ssl_conf_t;

/* Marks every field unset. */
void wm_ssl_conf_init(wm_ssl_conf_t *conf);

/* Inherits unset fields from prev and applies nginx's defaults. */
void wm_ssl_conf_merge(wm_ssl_conf_t *conf, const wm_ssl_conf_t *prev);

/*
 * Builds conf->ctx: loads every certificate with its key (checking that
 * they match), sets protocols, ciphers, session cache and tickets, and
 * client verification. The context is freed with pool. NULL on success,
 * else an error message (with the file it concerns) in err; *at is set to
 * the certificate entry it concerns, or NULL.
 */
const char *wm_ssl_ctx_build(wm_ssl_conf_t *conf, wm_pool_t *pool, char *err,
                             size_t errlen, const wm_ssl_file_t **at);

/*
 * The part of a context that servers and clients (wm_tls_client.h) share:
 * a new context of method with conf's certificates and keys (any number,
 * none for a client without a certificate), protocols, ciphers, trusted
 * certificates and options; stored in conf->ctx, freed with pool. prefix
 * ("" or "proxy_") names the directives in the messages. NULL, or an
 * error as for wm_ssl_ctx_build().
 */
const char *wm_ssl_ctx_new(wm_ssl_conf_t *conf, const SSL_METHOD *method,
                           const char *prefix, wm_pool_t *pool, char *err,
                           size_t errlen, const wm_ssl_file_t **at);

/* Makes ctx the context of ssl while its handshake reads the SNI name
 * (the servername callback), with the certificate verification ctx asks
 * of clients. */
void wm_ssl_switch_ctx(SSL *ssl, SSL_CTX *ctx);

/* A verify callback that lets the handshake finish whatever the chain;
 * the verdict is read afterwards from SSL_get_verify_result(). */
int wm_ssl_verify_later(int ok, X509_STORE_CTX *store);

/*
 * Directive setters for a wm_ssl_conf_t at cmd->offset of the module's
 * conf: ssl_certificate and ssl_certificate_key (each call adds one file;
 * variables refused), ssl_protocols, ssl_session_cache (nginx's syntax),
 * ssl_ciphers and ssl_ecdh_curve (remembering where they were set, for
 * the errors found when the context is built).
 */
const char *wm_ssl_set_certificate(wm_conf_t *cf, const wm_command_t *cmd,
                                   void *conf);
const char *wm_ssl_set_certificate_key(wm_conf_t *cf,
                                       const wm_command_t *cmd, void *conf);
const char *wm_ssl_set_protocols(wm_conf_t *cf, const wm_command_t *cmd,
                                 void *conf);
const char *wm_ssl_set_session_cache(wm_conf_t *cf, const wm_command_t *cmd,
                                     void *conf);
const char *wm_ssl_set_ciphers(wm_conf_t *cf, const wm_command_t *cmd,
                               void *conf);
const char *wm_ssl_set_ecdh_curve(wm_conf_t *cf, const wm_command_t *cmd,
                                  void *conf);
const char *wm_ssl_set_stapling_file(wm_conf_t *cf, const wm_command_t *cmd,
                                     void *conf);
const char *wm_ssl_set_stapling_responder(wm_conf_t *cf,
                                          const wm_command_t *cmd, void *conf);

extern const wm_conf_enum_t wm_ssl_verify_client_values[];
extern const wm_conf_bounds_t wm_ssl_depth_bounds;

/*
 * The directive rows of a TLS server (HTTP and stream alike), for a
 * module's table: ctx is where they may appear, off the offset of the
 * wm_ssl_conf_t in the module's server conf.
 */
#define WM_SSL_SERVER_COMMANDS(ctx, off)                                       \
    {"ssl_certificate", ctx, 1, 1, WM_CMD_MULTI, WM_LVL_SRV,                   \
     wm_ssl_set_certificate, off, NULL, "-",                                   \
     "PEM certificate (chain) file; several for RSA and ECDSA"},               \
    {"ssl_certificate_key", ctx, 1, 1, WM_CMD_MULTI, WM_LVL_SRV,               \
     wm_ssl_set_certificate_key, off, NULL, "-",                               \
     "PEM key of the ssl_certificate given at the same position"},             \
    {"ssl_protocols", ctx, 1, 6, 0, WM_LVL_SRV, wm_ssl_set_protocols, off,     \
     NULL, "TLSv1.2 TLSv1.3", "TLS versions offered"},                         \
    {"ssl_ciphers", ctx, 1, 1, 0, WM_LVL_SRV, wm_ssl_set_ciphers, off, NULL,   \
     "HIGH:!aNULL:!MD5", "OpenSSL cipher list for TLS 1.2 and below"},         \
    {"ssl_prefer_server_ciphers", ctx, 1, 1, 0, WM_LVL_SRV, wm_conf_set_flag,  \
     (off) + offsetof(wm_ssl_conf_t, prefer_server_ciphers), NULL, "off",      \
     "the server's cipher order wins"},                                        \
    {"ssl_ecdh_curve", ctx, 1, 1, 0, WM_LVL_SRV, wm_ssl_set_ecdh_curve, off,   \
     NULL, "auto", "key exchange groups, colon-separated"},                    \
    {"ssl_session_cache", ctx, 1, 2, 0, WM_LVL_SRV, wm_ssl_set_session_cache,  \
     off, NULL, "none", "off | none | [builtin[:size]] [shared:name:size]"},   \
    {"ssl_session_timeout", ctx, 1, 1, 0, WM_LVL_SRV, wm_conf_set_msec,        \
     (off) + offsetof(wm_ssl_conf_t, session_timeout), NULL, "5m",             \
     "how long a session can be resumed"},                                     \
    {"ssl_session_tickets", ctx, 1, 1, 0, WM_LVL_SRV, wm_conf_set_flag,        \
     (off) + offsetof(wm_ssl_conf_t, session_tickets), NULL, "on",             \
     "resume sessions with TLS tickets (valid across workers)"},               \
    {"ssl_client_certificate", ctx, 1, 1, 0, WM_LVL_SRV, wm_conf_set_path,     \
     (off) + offsetof(wm_ssl_conf_t, client_certificate), NULL, "-",           \
     "CA certificates that client certificates are verified against"},         \
    {"ssl_trusted_certificate", ctx, 1, 1, 0, WM_LVL_SRV, wm_conf_set_path,    \
     (off) + offsetof(wm_ssl_conf_t, trusted_certificate), NULL, "-",          \
     "extra CA certificates for verification, not sent to clients"},           \
    {"ssl_verify_client", ctx, 1, 1, 0, WM_LVL_SRV, wm_conf_set_enum,          \
     (off) + offsetof(wm_ssl_conf_t, verify_client),                           \
     wm_ssl_verify_client_values, "off",                                       \
     "request client certificates: on | off | optional | optional_no_ca"},     \
    {"ssl_verify_depth", ctx, 1, 1, 0, WM_LVL_SRV, wm_conf_set_num,            \
     (off) + offsetof(wm_ssl_conf_t, verify_depth), &wm_ssl_depth_bounds, "1", \
     "longest client certificate chain"},                                      \
    WM_SSL_STAPLING_COMMANDS(ctx, off)

/* The OCSP stapling rows (wm_ssl_ocsp.c). */
#define WM_SSL_STAPLING_COMMANDS(ctx, off)                                     \
    {"ssl_stapling", ctx, 1, 1, 0, WM_LVL_SRV, wm_conf_set_flag,               \
     (off) + offsetof(wm_ssl_conf_t, stapling), NULL, "off",                   \
     "staple the certificates' OCSP responses in the handshake"},              \
    {"ssl_stapling_file", ctx, 1, 1, 0, WM_LVL_SRV, wm_ssl_set_stapling_file,  \
     off, NULL, "-", "DER OCSP response stapled as is, never fetched"},        \
    {"ssl_stapling_responder", ctx, 1, 1, 0, WM_LVL_SRV,                       \
     wm_ssl_set_stapling_responder, off, NULL, "-",                            \
     "http:// OCSP responder instead of the certificate's"},                   \
    {"ssl_stapling_verify", ctx, 1, 1, 0, WM_LVL_SRV, wm_conf_set_flag,        \
     (off) + offsetof(wm_ssl_conf_t, stapling_verify), NULL, "off",            \
     "verify fetched OCSP responses before stapling them"}

/* What wm_ssl_var_text() gives: $ssl_protocol, $ssl_cipher,
 * $ssl_server_name, $ssl_session_reused ("r" or "."), $ssl_client_verify
 * (SUCCESS, FAILED or NONE). */
#define WM_SSL_VAR_PROTOCOL 1
#define WM_SSL_VAR_CIPHER 2
#define WM_SSL_VAR_SERVER_NAME 3
#define WM_SSL_VAR_SESSION_REUSED 4
#define WM_SSL_VAR_CLIENT_VERIFY 5

/* The text of one $ssl_* variable of an established connection (static
 * or owned by ssl), or NULL when it has none (no SNI). */
const char *wm_ssl_var_text(SSL *ssl, uintptr_t which);

/* Parses one ssl_protocols name; 0 when unknown. */
wm_int_t wm_ssl_protocol_bit(const char *name);

/* The last OpenSSL error queue entries as text, cleared; for logs. */
const char *wm_ssl_error_text(char *buf, size_t len);

#endif /* WM_SSL_H */
