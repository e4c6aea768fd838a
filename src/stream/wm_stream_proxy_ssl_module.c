/*
 * `proxy_ssl on` in stream servers: the proxy_ssl_* directives, the TLS
 * client context built when the stream block is merged, and the start of
 * the handshake on a connected upstream socket (wm_tls_client.c does the
 * work). The peer is named by proxy_ssl_name (variables allowed), else by
 * the host of proxy_pass, for SNI (proxy_ssl_server_name on) and for
 * checking its certificate (proxy_ssl_verify on). Sessions are kept per
 * worker, per server and per peer for proxy_ssl_session_reuse.
 */
#include "wm_stream_ssl.h"

#include "wm_cycle.h"
#include "wm_log.h"

typedef struct {
    wm_tls_client_conf_t tls;
    wm_int_t enable;
    wm_str_t name;  /* proxy_ssl_name; data NULL: proxy_pass's host */
    wm_cv_t name_cv;
    const char *file; /* where proxy_ssl on was set, for errors */
    unsigned line;
    SSL_SESSION **sessions; /* per peer, made by each worker */
    uint32_t nsessions;
} wm_stream_proxy_ssl_conf_t;

static void *wm_stream_proxy_ssl_create(wm_conf_t *cf, unsigned level);
static const char *wm_stream_proxy_ssl_merge(wm_conf_t *cf, void *prev,
                                             void *conf, unsigned level);
static const char *wm_stream_proxy_ssl_on(wm_conf_t *cf,
                                          const wm_command_t *cmd,
                                          void *conf);
static const char *wm_stream_proxy_ssl_name(wm_conf_t *cf,
                                            const wm_command_t *cmd,
                                            void *conf);

#define WM_PSSL_CTX WM_CTX_STREAM | WM_CTX_STREAM_SRV
#define pssl_off(f) offsetof(wm_stream_proxy_ssl_conf_t, f)
#define pssl_tls (pssl_off(tls) + offsetof(wm_tls_client_conf_t, ssl))

static const wm_command_t wm_stream_proxy_ssl_commands[] = {
    {"proxy_ssl", WM_PSSL_CTX, 1, 1, 0, WM_LVL_SRV, wm_stream_proxy_ssl_on,
     pssl_off(enable), NULL, "off", "speak TLS to the upstream"},
    {"proxy_ssl_server_name", WM_PSSL_CTX, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_flag, pssl_off(tls.server_name), NULL, "off",
     "send the upstream's name (proxy_ssl_name) as SNI"},
    {"proxy_ssl_name", WM_PSSL_CTX, 1, 1, 0, WM_LVL_SRV,
     wm_stream_proxy_ssl_name, pssl_off(name), NULL, "-",
     "the upstream's name for SNI and verification (default: the host of "
     "proxy_pass)"},
    {"proxy_ssl_verify", WM_PSSL_CTX, 1, 1, 0, WM_LVL_SRV, wm_conf_set_flag,
     pssl_off(tls.verify), NULL, "off",
     "verify the upstream's certificate chain and name"},
    {"proxy_ssl_verify_depth", WM_PSSL_CTX, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_num, pssl_tls + offsetof(wm_ssl_conf_t, verify_depth),
     &wm_ssl_depth_bounds, "1", "longest upstream certificate chain"},
    {"proxy_ssl_trusted_certificate", WM_PSSL_CTX, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_path,
     pssl_tls + offsetof(wm_ssl_conf_t, trusted_certificate), NULL, "-",
     "CA certificates the upstream's certificate is verified against"},
    {"proxy_ssl_certificate", WM_PSSL_CTX, 1, 1, 0, WM_LVL_SRV,
     wm_ssl_set_certificate, pssl_tls, NULL, "-",
     "PEM client certificate presented to the upstream"},
    {"proxy_ssl_certificate_key", WM_PSSL_CTX, 1, 1, 0, WM_LVL_SRV,
     wm_ssl_set_certificate_key, pssl_tls, NULL, "-",
     "PEM key of proxy_ssl_certificate"},
    {"proxy_ssl_protocols", WM_PSSL_CTX, 1, 6, 0, WM_LVL_SRV,
     wm_ssl_set_protocols, pssl_tls, NULL, "TLSv1.2 TLSv1.3",
     "TLS versions offered to the upstream"},
    {"proxy_ssl_ciphers", WM_PSSL_CTX, 1, 1, 0, WM_LVL_SRV,
     wm_ssl_set_ciphers, pssl_tls, NULL, "DEFAULT",
     "OpenSSL cipher list for TLS 1.2 and below to the upstream"},
    {"proxy_ssl_session_reuse", WM_PSSL_CTX, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_flag, pssl_off(tls.session_reuse), NULL, "on",
     "resume TLS sessions with each upstream server"},
    wm_null_command,
};

wm_module_t wm_stream_proxy_ssl_module = {
    .name = "stream_proxy_ssl",
    .family = WM_MOD_STREAM,
    .commands = wm_stream_proxy_ssl_commands,
    .create_conf = wm_stream_proxy_ssl_create,
    .merge_conf = wm_stream_proxy_ssl_merge,
};

/* ---- run time ----------------------------------------------------------- */

bool
wm_stream_proxy_ssl_enabled(wm_stream_session_t *s)
{
    wm_stream_proxy_ssl_conf_t *pcf =
        wm_stream_srv_conf(s->srv, wm_stream_proxy_ssl_module);

    return pcf->enable == 1;
}

static void
wm_stream_proxy_ssl_sessions_free(void *data)
{
    wm_stream_proxy_ssl_conf_t *pcf = data;

    wm_tls_client_cache_free(pcf->sessions, pcf->nsessions);
}

/* The session slot of peer index, made on first use in this worker (the
 * conf is the worker's own copy); NULL when there is none. */
static SSL_SESSION **
wm_stream_proxy_ssl_slot(wm_stream_proxy_ssl_conf_t *pcf, wm_int_t index,
                         uint32_t npeers)
{
    if (!pcf->tls.session_reuse || index < 0) {
        return NULL;
    }
    if (pcf->sessions == NULL) {
        pcf->sessions = wm_pcalloc(wm_cycle->pool,
                                   npeers * sizeof(SSL_SESSION *));
        if (pcf->sessions == NULL
            || wm_pool_cleanup_add(wm_cycle->pool,
                                   wm_stream_proxy_ssl_sessions_free, pcf)
                   != WM_OK)
        {
            pcf->sessions = NULL;
            return NULL;
        }
        pcf->nsessions = npeers;
    }
    return (uint32_t) index < pcf->nsessions ? &pcf->sessions[index] : NULL;
}

/* The name of the peer, NUL-terminated in s->pool: proxy_ssl_name, or
 * target without its port (and brackets). NULL when there is none. */
static const char *
wm_stream_proxy_ssl_peer_name(wm_stream_session_t *s,
                              wm_stream_proxy_ssl_conf_t *pcf,
                              const wm_str_t *target)
{
    wm_str_t v = *target;
    const u_char *colon;

    if (pcf->name.data) {
        if (wm_cv_eval(&pcf->name_cv, s, s->pool, &v) != WM_OK) {
            return NULL;
        }
    } else if (v.len > 5 && memcmp(v.data, "unix:", 5) == 0) {
        return NULL;
    } else if (v.len && v.data[0] == '[') {
        colon = memchr(v.data, ']', v.len);
        if (colon) {
            v.data++;
            v.len = (size_t) (colon - v.data);
        }
    } else if ((colon = memrchr(v.data, ':', v.len)) != NULL
               && memchr(v.data, ':', v.len) == colon)
    {
        v.len = (size_t) (colon - v.data);
    }
    return v.len ? wm_pstrndup(s->pool, v.data, v.len) : NULL;
}

wm_tls_client_t *
wm_stream_proxy_ssl_start(wm_stream_session_t *s, int fd,
                          const wm_str_t *target, wm_int_t index,
                          uint32_t npeers, wm_msec_t timeout,
                          wm_tls_client_done_pt done)
{
    wm_stream_proxy_ssl_conf_t *pcf =
        wm_stream_srv_conf(s->srv, wm_stream_proxy_ssl_module);
    const char *name = wm_stream_proxy_ssl_peer_name(s, pcf, target);
    wm_tls_client_t *tc;

    wm_log_debug(&s->log, "SSL handshake to upstream, name \"%s\"",
                 name ? name : "");
    tc = wm_tls_client_start(&pcf->tls, s->base, fd, name,
                             wm_stream_proxy_ssl_slot(pcf, index, npeers),
                             timeout, &s->log, done, s);
    if (tc == NULL) {
        wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM,
                     "cannot start the SSL handshake to upstream");
    }
    return tc;
}

/* ---- configuration ------------------------------------------------------ */

static void *
wm_stream_proxy_ssl_create(wm_conf_t *cf, unsigned level)
{
    wm_stream_proxy_ssl_conf_t *pcf = wm_pcalloc(cf->pool, sizeof(*pcf));

    if (pcf) {
        wm_tls_client_conf_init(&pcf->tls);
        pcf->enable = WM_CONF_UNSET;
    }
    return pcf;
}

static const char *
wm_stream_proxy_ssl_on(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_stream_proxy_ssl_conf_t *pcf = conf;
    const char *rv = wm_conf_set_flag(cf, cmd, conf);

    if (rv == NULL) {
        pcf->file = cf->node->file;
        pcf->line = cf->node->line;
    }
    return rv;
}

static const char *
wm_stream_proxy_ssl_name(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_stream_proxy_ssl_conf_t *pcf = conf;
    const char *rv = wm_conf_set_str(cf, cmd, conf);

    if (rv == NULL && pcf->name.len == 0) {
        return "has invalid value \"\"";
    }
    if (rv) {
        return rv;
    }
    return wm_cv_compile(cf->pool, &pcf->name, wm_stream_var_tables,
                         &pcf->name_cv);
}

static const char *
wm_stream_proxy_ssl_merge(wm_conf_t *cf, void *parent, void *child,
                          unsigned level)
{
    wm_stream_proxy_ssl_conf_t *prev = parent, *conf = child;
    wm_conf_node_t at = {.file = NULL};
    const wm_ssl_file_t *where = NULL;
    const char *rv;

    wm_tls_client_conf_merge(&conf->tls, &prev->tls);
    if (conf->file == NULL) {
        conf->file = prev->file;
        conf->line = prev->line;
    }
    wm_conf_merge_value(conf->enable, prev->enable, 0);
    if (conf->name.data == NULL) {
        conf->name = prev->name;
        conf->name_cv = prev->name_cv;
    }
    if (!conf->enable) {
        return NULL;
    }
    rv = wm_tls_client_ctx_build(&conf->tls, cf->pool, cf->errbuf,
                                 sizeof(cf->errbuf), &where);
    if (rv) {
        at.file = where ? where->file : conf->file;
        at.line = where ? where->line : conf->line;
        wm_conf_error(cf, &at, "%s", rv);
    }
    return NULL;
}
