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

/* Parses one ssl_protocols name; 0 when unknown. */
wm_int_t wm_ssl_protocol_bit(const char *name);

/* The last OpenSSL error queue entries as text, cleared; for logs. */
const char *wm_ssl_error_text(char *buf, size_t len);

#endif /* WM_SSL_H */
