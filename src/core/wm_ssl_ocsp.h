/*
 * OCSP stapling for TLS server contexts (ssl_stapling, ssl_stapling_file,
 * ssl_stapling_responder, ssl_stapling_verify): at load, one staple per
 * certificate of a context, with its issuer and responder URL; in each
 * worker, the responses are fetched over plain HTTP on the worker's event
 * loop and refreshed; the handshake staples whatever is cached for the
 * certificate in use and never waits.
 */
#ifndef WM_SSL_OCSP_H
#define WM_SSL_OCSP_H

#include "wm_ssl.h"
#include "wm_upstream.h"

#include <time.h>

/* A responder URL: http://host[:port][/path]. */
typedef struct {
    char host[256];     /* without the brackets of an IPv6 address */
    char hostport[264]; /* for the Host header */
    int port;
    char path[1024]; /* "/" when the URL has none */
} wm_ssl_ocsp_url_t;

/* How long before nextUpdate a response is refreshed, the longest a
 * response is kept without asking again, and the wait after a failure. */
#define WM_SSL_OCSP_MARGIN 300
#define WM_SSL_OCSP_MAX_AGE 3600
#define WM_SSL_OCSP_RETRY 300

/* Parses url (pure). WM_OK, or WM_ERROR with the reason in err. */
wm_int_t wm_ssl_ocsp_parse_url(const char *url, size_t len,
                               wm_ssl_ocsp_url_t *out, char *err,
                               size_t errlen);

/*
 * When to fetch again (pure): after a good response valid until
 * next_update (0: the response gives none), at most WM_SSL_OCSP_MAX_AGE
 * from now, WM_SSL_OCSP_MARGIN before next_update, and never sooner than
 * WM_SSL_OCSP_MARGIN from now; after a failure (ok false)
 * WM_SSL_OCSP_RETRY from now.
 */
time_t wm_ssl_ocsp_refresh(time_t now, time_t next_update, bool ok);

/*
 * Sets up stapling for conf->ctx (conf->stapling on): reads
 * ssl_stapling_file, finds each certificate's issuer and responder, and
 * installs the status callback. A certificate with no responder gets the
 * nginx warning and no staple. NULL, or an error as wm_ssl_ctx_build().
 * Everything is freed with pool.
 */
const char *wm_ssl_ocsp_setup(wm_ssl_conf_t *conf, wm_pool_t *pool, char *err,
                              size_t errlen, const wm_ssl_file_t **at);

/*
 * Sets ssl's stapling resolver before the context is built: the `resolver`
 * and `resolver_timeout` written in block (a server block, where upstreams
 * do not look at them), else those of the family block in umcf (may be
 * NULL). Parsed in cf->pool.
 */
void wm_ssl_stapling_resolver(wm_conf_t *cf, wm_ssl_conf_t *ssl,
                              const wm_conf_node_t *block,
                              const wm_upstream_main_conf_t *umcf);

/* The setters ssl_stapling_file and ssl_stapling_responder (checked to be
 * an http:// URL) are declared in wm_ssl.h, whose rows name them. */

#endif /* WM_SSL_OCSP_H */
