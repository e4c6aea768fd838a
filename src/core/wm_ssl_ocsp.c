/*
 * OCSP stapling. At load (in the master) each certificate of a context
 * with ssl_stapling on gets a staple: its OCSP certificate id, the
 * responder URL (ssl_stapling_responder or the certificate's Authority
 * Information Access) and, with ssl_stapling_file, the response itself.
 * Each worker fetches the responses for itself on its own event loop
 * (evhttp, names through evdns when a resolver is configured) and keeps
 * them until they are refreshed; the status callback staples the cached
 * response of the certificate the handshake uses, or nothing.
 */
#include "wm_ssl_ocsp.h"

#include "wm_cycle.h"
#include "wm_log.h"
#include "wm_process.h"
#include "wm_resolver.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* The largest response accepted from a responder. */
#define WM_SSL_OCSP_MAX_BODY 65536
/* How long a fetch may take when no resolver_timeout says otherwise. */
#define WM_SSL_OCSP_TIMEOUT 60

typedef struct wm_ssl_staple_s wm_ssl_staple_t;

/* One certificate's staple; in its cycle's pool, with malloc'd OpenSSL
 * objects and response freed by the pool's cleanup. */
struct wm_ssl_staple_s {
    wm_ssl_staple_t *next;     /* every staple of every cycle */
    wm_ssl_staple_t *ctx_next; /* the context's others */
    wm_pool_t *pool;           /* the cycle's: which cycle it belongs to */
    X509 *cert;                /* the context's own object, not owned */
    X509 *issuer;              /* owned */
    STACK_OF(X509) * chain;    /* of the certificate file, owned */
    OCSP_CERTID *id;           /* owned */
    SSL_CTX *ctx;              /* not owned */
    const char *name;          /* certificate file, for logs */
    wm_ssl_ocsp_url_t url;
    const wm_resolver_conf_t *resolver;
    wm_msec_t resolver_timeout;
    bool verify;
    bool fixed;   /* ssl_stapling_file: never fetched */
    u_char *resp; /* DER, malloc'd; NULL: nothing to staple */
    size_t resp_len;
    time_t valid; /* resp is stapled until then */
    /* Worker state. */
    struct event_base *base;
    struct event *timer;
    struct evhttp_connection *conn; /* the last fetch's, freed by the next
                                       (not from its own callback) */
    bool busy;                      /* conn's request is in flight */
    struct evdns_base *dns;
};

static wm_ssl_staple_t *wm_ssl_staples;

static wm_int_t wm_ssl_ocsp_init_worker(wm_cycle_t *cycle);
static void wm_ssl_ocsp_exit_worker(wm_cycle_t *cycle);

/* No directives of its own (they are in WM_SSL_SERVER_COMMANDS): the
 * module exists to start and stop the fetching in workers. */
wm_module_t wm_ssl_ocsp_module = {
    .name = "ssl_ocsp",
    .family = WM_MOD_CORE,
    .init_worker = wm_ssl_ocsp_init_worker,
    .exit_worker = wm_ssl_ocsp_exit_worker,
};

/* ---- pure parts --------------------------------------------------------- */

wm_int_t
wm_ssl_ocsp_parse_url(const char *url, size_t len, wm_ssl_ocsp_url_t *out,
                      char *err, size_t errlen)
{
    const char *p = url, *end = url + len, *host, *hend, *slash;
    size_t hl;

    memset(out, 0, sizeof(*out));
    if (len < 7 || strncasecmp(p, "http://", 7) != 0) {
        snprintf(err, errlen, "only http:// OCSP responders are supported");
        return WM_ERROR;
    }
    p += 7;
    slash = memchr(p, '/', (size_t) (end - p));
    if (slash == NULL) {
        slash = end;
    }
    if (memchr(p, '@', (size_t) (slash - p))
        || memchr(p, '?', (size_t) (slash - p)))
    {
        snprintf(err, errlen, "invalid host in OCSP responder URL");
        return WM_ERROR;
    }
    if (p < slash && *p == '[') {
        host = p + 1;
        hend = memchr(host, ']', (size_t) (slash - host));
        if (hend == NULL) {
            snprintf(err, errlen, "invalid host in OCSP responder URL");
            return WM_ERROR;
        }
        p = hend + 1;
    } else {
        host = p;
        hend = memchr(p, ':', (size_t) (slash - p));
        if (hend == NULL) {
            hend = slash;
        }
        p = hend;
    }
    hl = (size_t) (hend - host);
    if (hl == 0 || hl >= sizeof(out->host)) {
        snprintf(err, errlen, "invalid host in OCSP responder URL");
        return WM_ERROR;
    }
    memcpy(out->host, host, hl);
    out->port = 80;
    if (p < slash) {
        int port = 0;

        if (*p != ':' || p + 1 == slash) {
            snprintf(err, errlen, "invalid port in OCSP responder URL");
            return WM_ERROR;
        }
        for (p++; p < slash; p++) {
            if (*p < '0' || *p > '9' || port > 65535) {
                snprintf(err, errlen, "invalid port in OCSP responder URL");
                return WM_ERROR;
            }
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535) {
            snprintf(err, errlen, "invalid port in OCSP responder URL");
            return WM_ERROR;
        }
        out->port = port;
    }
    snprintf(out->hostport, sizeof(out->hostport),
             host[-1] == '[' ? "[%s]:%d" : "%s:%d", out->host, out->port);
    if (slash == end) {
        strcpy(out->path, "/");
    } else if ((size_t) (end - slash) < sizeof(out->path)) {
        memcpy(out->path, slash, (size_t) (end - slash));
    } else {
        snprintf(err, errlen, "OCSP responder URL is too long");
        return WM_ERROR;
    }
    return WM_OK;
}

time_t
wm_ssl_ocsp_refresh(time_t now, time_t next_update, bool ok)
{
    time_t t;

    if (!ok) {
        return now + WM_SSL_OCSP_RETRY;
    }
    t = now + WM_SSL_OCSP_MAX_AGE;
    if (next_update != 0 && next_update - WM_SSL_OCSP_MARGIN < t) {
        t = next_update - WM_SSL_OCSP_MARGIN;
    }
    return t < now + WM_SSL_OCSP_MARGIN ? now + WM_SSL_OCSP_MARGIN : t;
}

/* ---- the handshake ------------------------------------------------------ */

static int
wm_ssl_ocsp_status(SSL *ssl, void *arg)
{
    X509 *cert = SSL_get_certificate(ssl);
    wm_ssl_staple_t *st;
    u_char *copy;

    for (st = arg; st && st->cert != cert; st = st->ctx_next) {
    }
    if (st == NULL || st->resp == NULL || st->valid <= time(NULL)) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    /* OpenSSL frees what it staples. */
    copy = OPENSSL_memdup(st->resp, st->resp_len);
    if (copy == NULL) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long) st->resp_len) != 1) {
        OPENSSL_free(copy);
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

/* ---- checking a response ------------------------------------------------ */

/* The seconds from now to t (an ASN1 time); 0 on failure. */
static time_t
wm_ssl_ocsp_time(const ASN1_GENERALIZEDTIME *t, time_t now)
{
    int days, secs;

    if (t == NULL || ASN1_TIME_diff(&days, &secs, NULL, t) != 1) {
        return 0;
    }
    return now + (time_t) days * 86400 + secs;
}

/*
 * Checks a DER response for st: successful, an answer for st's
 * certificate within its times and, with verify, signed by someone the
 * context trusts. WM_OK with *next (0: no nextUpdate) and *status
 * (V_OCSP_CERTSTATUS_*), or WM_ERROR with the reason in err.
 */
static wm_int_t
wm_ssl_ocsp_check(wm_ssl_staple_t *st, const u_char *der, size_t len,
                  bool verify, time_t *next, int *status, char *err,
                  size_t errlen)
{
    const u_char *p = der;
    OCSP_RESPONSE *resp;
    OCSP_BASICRESP *basic = NULL;
    ASN1_GENERALIZEDTIME *thisupd, *nextupd;
    char ossl[512];
    int rc, reason;
    wm_int_t rv = WM_ERROR;

    ERR_clear_error();
    resp = d2i_OCSP_RESPONSE(NULL, &p, (long) len);
    if (resp == NULL) {
        snprintf(err, errlen, "d2i_OCSP_RESPONSE() failed: %s",
                 wm_ssl_error_text(ossl, sizeof(ossl)));
        goto done;
    }
    rc = OCSP_response_status(resp);
    if (rc != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        snprintf(err, errlen, "OCSP response not successful (%d: %s)", rc,
                 OCSP_response_status_str(rc));
        goto done;
    }
    basic = OCSP_response_get1_basic(resp);
    if (basic == NULL) {
        snprintf(err, errlen, "OCSP_response_get1_basic() failed: %s",
                 wm_ssl_error_text(ossl, sizeof(ossl)));
        goto done;
    }
    if (verify) {
        if (OCSP_basic_verify(basic, st->chain, SSL_CTX_get_cert_store(st->ctx),
                              OCSP_TRUSTOTHER)
            != 1)
        {
            snprintf(err, errlen, "OCSP_basic_verify() failed: %s",
                     wm_ssl_error_text(ossl, sizeof(ossl)));
            goto done;
        }
    }
    if (OCSP_resp_find_status(basic, st->id, status, &reason, NULL, &thisupd,
                              &nextupd)
        != 1)
    {
        snprintf(err, errlen,
                 "certificate status not found in the OCSP "
                 "response");
        goto done;
    }
    if (*status == V_OCSP_CERTSTATUS_UNKNOWN) {
        snprintf(err, errlen,
                 "certificate status \"unknown\" in the OCSP "
                 "response");
        goto done;
    }
    if (OCSP_check_validity(thisupd, nextupd, WM_SSL_OCSP_MARGIN, -1) != 1) {
        snprintf(err, errlen, "OCSP_check_validity() failed: %s",
                 wm_ssl_error_text(ossl, sizeof(ossl)));
        goto done;
    }
    *next = nextupd ? wm_ssl_ocsp_time(nextupd, time(NULL)) : 0;
    if (nextupd && *next == 0) {
        snprintf(err, errlen, "invalid nextUpdate in the OCSP response");
        goto done;
    }
    rv = WM_OK;

done:
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(resp);
    ERR_clear_error();
    return rv;
}

/* Replaces st's response by a copy of der, stapled until valid. */
static void
wm_ssl_ocsp_keep(wm_ssl_staple_t *st, const u_char *der, size_t len,
                 time_t valid)
{
    u_char *copy = malloc(len);

    if (copy == NULL) {
        wm_log_error(WM_LOG_ALERT, wm_errlog, ENOMEM,
                     "cannot keep the OCSP response for certificate \"%s\"",
                     st->name);
        return;
    }
    memcpy(copy, der, len);
    free(st->resp);
    st->resp = copy;
    st->resp_len = len;
    st->valid = valid;
}

/* ---- fetching, in workers ---------------------------------------------- */

static void wm_ssl_ocsp_fetch(evutil_socket_t fd, short what, void *arg);

static void
wm_ssl_ocsp_schedule(wm_ssl_staple_t *st, time_t at)
{
    time_t now = time(NULL);
    struct timeval tv = {at > now ? at - now : 0, 0};

    evtimer_add(st->timer, &tv);
}

static void
wm_ssl_ocsp_done(struct evhttp_request *req, void *arg)
{
    wm_ssl_staple_t *st = arg;
    struct evbuffer *body;
    char err[640];
    time_t next = 0, now = time(NULL);
    int code, status = 0;
    size_t len;
    u_char *der;

    st->busy = false;
    code = req ? evhttp_request_get_response_code(req) : 0;
    if (code == 0) {
        wm_log_error(WM_LOG_ERR, wm_errlog, 0,
                     "OCSP responder \"%s\" could not be reached or closed "
                     "the connection, for certificate \"%s\"",
                     st->url.hostport, st->name);
        goto retry;
    }
    if (code != 200) {
        wm_log_error(WM_LOG_ERR, wm_errlog, 0,
                     "OCSP responder \"%s\" sent status %d, for certificate "
                     "\"%s\"",
                     st->url.hostport, code, st->name);
        goto retry;
    }
    body = evhttp_request_get_input_buffer(req);
    len = evbuffer_get_length(body);
    der = evbuffer_pullup(body, -1);
    if (len == 0 || der == NULL) {
        wm_log_error(WM_LOG_ERR, wm_errlog, 0,
                     "OCSP responder \"%s\" sent an empty response, for "
                     "certificate \"%s\"",
                     st->url.hostport, st->name);
        goto retry;
    }
    if (wm_ssl_ocsp_check(st, der, len, st->verify, &next, &status, err,
                          sizeof(err))
        != WM_OK)
    {
        wm_log_error(WM_LOG_ERR, wm_errlog, 0,
                     "%s, OCSP responder \"%s\", certificate \"%s\"", err,
                     st->url.hostport, st->name);
        goto retry;
    }
    if (status == V_OCSP_CERTSTATUS_REVOKED) {
        /* Stapled all the same: the client learns the truth sooner. */
        wm_log_error(WM_LOG_WARN, wm_errlog, 0,
                     "certificate \"%s\" is revoked according to OCSP "
                     "responder \"%s\"",
                     st->name, st->url.hostport);
    }
    wm_ssl_ocsp_keep(st, der, len, next ? next : (time_t) INT64_MAX);
    wm_ssl_ocsp_schedule(st, wm_ssl_ocsp_refresh(now, next, true));
    return;

retry:
    /* A response still valid keeps being stapled until it expires. */
    wm_ssl_ocsp_schedule(st, wm_ssl_ocsp_refresh(now, 0, false));
}

/* Whether host is a numeric address (needs no resolver). */
static bool
wm_ssl_ocsp_numeric(const char *host)
{
    u_char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1
           || inet_pton(AF_INET6, host, buf) == 1;
}

static void
wm_ssl_ocsp_fetch(evutil_socket_t fd, short what, void *arg)
{
    wm_ssl_staple_t *st = arg;
    struct evhttp_request *req;
    struct evkeyvalq *hdrs;
    OCSP_REQUEST *oreq = NULL;
    u_char *der = NULL;
    int len;

    if (st->busy) {
        return;
    }
    if (st->conn) {
        evhttp_connection_free(st->conn);
        st->conn = NULL;
    }
    if (st->dns == NULL && !wm_ssl_ocsp_numeric(st->url.host)) {
        wm_log_error(WM_LOG_ERR, wm_errlog, 0,
                     "no resolver defined to resolve OCSP responder \"%s\", "
                     "for certificate \"%s\"",
                     st->url.host, st->name);
        wm_ssl_ocsp_schedule(st, wm_ssl_ocsp_refresh(time(NULL), 0, false));
        return;
    }
    oreq = OCSP_REQUEST_new();
    if (oreq == NULL) {
        goto failed;
    }
    {
        OCSP_CERTID *id = OCSP_CERTID_dup(st->id);

        if (id == NULL || OCSP_request_add0_id(oreq, id) == NULL) {
            OCSP_CERTID_free(id);
            goto failed;
        }
    }
    len = i2d_OCSP_REQUEST(oreq, &der);
    if (len <= 0) {
        goto failed;
    }
    st->conn = evhttp_connection_base_new(st->base, st->dns, st->url.host,
                                          (unsigned short) st->url.port);
    if (st->conn == NULL) {
        goto failed;
    }
    evhttp_connection_set_timeout(
        st->conn, st->resolver_timeout
                      ? (int) ((st->resolver_timeout + 999) / 1000)
                      : WM_SSL_OCSP_TIMEOUT);
    evhttp_connection_set_retries(st->conn, 0);
    evhttp_connection_set_max_body_size(st->conn, WM_SSL_OCSP_MAX_BODY);
    req = evhttp_request_new(wm_ssl_ocsp_done, st);
    if (req == NULL) {
        evhttp_connection_free(st->conn);
        st->conn = NULL;
        goto failed;
    }
    hdrs = evhttp_request_get_output_headers(req);
    if (evhttp_add_header(hdrs, "Host", st->url.hostport) != 0
        || evhttp_add_header(hdrs, "Content-Type", "application/ocsp-request")
               != 0
        || evhttp_add_header(hdrs, "Connection", "close") != 0
        || evbuffer_add(evhttp_request_get_output_buffer(req), der,
                        (size_t) len)
               != 0)
    {
        evhttp_request_free(req);
        evhttp_connection_free(st->conn);
        st->conn = NULL;
        goto failed;
    }
    /* evhttp_make_request() frees req when it fails. */
    if (evhttp_make_request(st->conn, req, EVHTTP_REQ_POST, st->url.path) != 0)
    {
        evhttp_connection_free(st->conn);
        st->conn = NULL;
        goto failed;
    }
    st->busy = true;
    OPENSSL_free(der);
    OCSP_REQUEST_free(oreq);
    return;

failed:
    OPENSSL_free(der);
    OCSP_REQUEST_free(oreq);
    wm_log_error(WM_LOG_ERR, wm_errlog, 0,
                 "cannot send the OCSP request for certificate \"%s\"",
                 st->name);
    wm_ssl_ocsp_schedule(st, wm_ssl_ocsp_refresh(time(NULL), 0, false));
}

static void
wm_ssl_ocsp_stop(void)
{
    wm_ssl_staple_t *st;

    for (st = wm_ssl_staples; st; st = st->next) {
        if (st->conn) {
            /* Frees a request in flight without calling back. */
            evhttp_connection_free(st->conn);
            st->conn = NULL;
            st->busy = false;
        }
        if (st->timer) {
            event_free(st->timer);
            st->timer = NULL;
        }
    }
    /* After the connections, which may use them. */
    for (st = wm_ssl_staples; st; st = st->next) {
        if (st->dns) {
            evdns_base_free(st->dns, 0);
            st->dns = NULL;
        }
    }
}

static wm_int_t
wm_ssl_ocsp_init_worker(wm_cycle_t *cycle)
{
    static bool hooked;
    wm_ssl_staple_t *st;
    struct timeval now = {0, 0};

    for (st = wm_ssl_staples; st; st = st->next) {
        if (st->pool != cycle->pool || st->fixed) {
            continue;
        }
        if (st->resolver && !wm_ssl_ocsp_numeric(st->url.host)) {
            st->dns =
                wm_resolver_dns_new(cycle, st->resolver,
                                    st->resolver_timeout ? st->resolver_timeout
                                                         : WM_RESOLVER_TIMEOUT);
            if (st->dns == NULL) {
                goto nomem;
            }
        }
        st->base = cycle->base;
        st->timer = evtimer_new(cycle->base, wm_ssl_ocsp_fetch, st);
        if (st->timer == NULL || evtimer_add(st->timer, &now) != 0) {
            goto nomem;
        }
        if (!hooked) {
            if (wm_worker_on_quit(wm_ssl_ocsp_stop) != WM_OK) {
                wm_log_error(WM_LOG_ALERT, wm_errlog, 0,
                             "too many handlers to run on quit");
                return WM_ERROR;
            }
            hooked = true;
        }
    }
    return WM_OK;

nomem:
    wm_log_error(WM_LOG_ALERT, wm_errlog, ENOMEM,
                 "cannot start fetching OCSP responses");
    return WM_ERROR;
}

static void
wm_ssl_ocsp_exit_worker(wm_cycle_t *cycle)
{
    wm_ssl_ocsp_stop();
}

/* ---- configuration ------------------------------------------------------ */

static void
wm_ssl_ocsp_free(void *data)
{
    wm_ssl_staple_t *st = data, **pp;

    for (pp = &wm_ssl_staples; *pp; pp = &(*pp)->next) {
        if (*pp == st) {
            *pp = st->next;
            break;
        }
    }
    X509_free(st->issuer);
    sk_X509_pop_free(st->chain, X509_free);
    OCSP_CERTID_free(st->id);
    free(st->resp);
}

/* The first certificate of a PEM file; NULL when there is none. */
static X509 *
wm_ssl_ocsp_leaf(const char *path)
{
    BIO *bio = BIO_new_file(path, "r");
    X509 *x;

    if (bio == NULL) {
        return NULL;
    }
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return x;
}

/* cert's issuer, from chain or the context's trusted store; owned by the
 * caller; NULL when not found. */
static X509 *
wm_ssl_ocsp_issuer(SSL_CTX *ctx, X509 *cert, STACK_OF(X509) * chain)
{
    X509_STORE_CTX *sc;
    X509 *issuer = NULL;
    int i;

    for (i = 0; chain && i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);

        if (X509_check_issued(c, cert) == X509_V_OK) {
            X509_up_ref(c);
            return c;
        }
    }
    sc = X509_STORE_CTX_new();
    if (sc == NULL
        || X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(ctx), NULL, NULL) != 1
        || X509_STORE_CTX_get1_issuer(&issuer, sc, cert) != 1)
    {
        issuer = NULL;
    }
    X509_STORE_CTX_free(sc);
    ERR_clear_error();
    return issuer;
}

/* The first OCSP responder URL of cert's AIA into url; WM_DECLINED when
 * it has none, WM_ERROR with err when it is not usable. */
static wm_int_t
wm_ssl_ocsp_aia(X509 *cert, wm_ssl_ocsp_url_t *url, char *err, size_t errlen)
{
    STACK_OF(OPENSSL_STRING) *aia = X509_get1_ocsp(cert);
    const char *u;
    wm_int_t rv;

    if (aia == NULL || sk_OPENSSL_STRING_num(aia) == 0) {
        X509_email_free(aia);
        return WM_DECLINED;
    }
    u = sk_OPENSSL_STRING_value(aia, 0);
    rv = wm_ssl_ocsp_parse_url(u, strlen(u), url, err, errlen);
    X509_email_free(aia);
    return rv;
}

/* Reads the DER file of ssl_stapling_file; NULL with err. */
static u_char *
wm_ssl_ocsp_read(const char *path, size_t *len, char *err, size_t errlen)
{
    BIO *bio = BIO_new_file(path, "rb");
    BUF_MEM *mem = NULL;
    BIO *out = BIO_new(BIO_s_mem());
    u_char buf[4096], *data = NULL;
    int n;

    if (bio == NULL || out == NULL) {
        snprintf(err, errlen, "cannot open \"%s\": %s", path, strerror(errno));
        goto done;
    }
    while ((n = BIO_read(bio, buf, sizeof(buf))) > 0) {
        if (BIO_write(out, buf, n) != n
            || BIO_pending(out) > WM_SSL_OCSP_MAX_BODY) {
            snprintf(err, errlen, "\"%s\" is too large", path);
            goto done;
        }
    }
    BIO_get_mem_ptr(out, &mem);
    if (mem->length == 0) {
        snprintf(err, errlen, "\"%s\" is empty", path);
        goto done;
    }
    data = malloc(mem->length);
    if (data == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    memcpy(data, mem->data, mem->length);
    *len = mem->length;

done:
    BIO_free(bio);
    BIO_free(out);
    ERR_clear_error();
    return data;
}

/* Adds a staple made whole to the context's list and to the workers'. */
static void
wm_ssl_ocsp_link(wm_ssl_staple_t *st, wm_ssl_staple_t **head)
{
    st->ctx_next = *head;
    *head = st;
    st->next = wm_ssl_staples;
    wm_ssl_staples = st;
}

/* Makes the staple of ctx's current certificate (loaded from file f).
 * NULL; "" when the certificate gets none (a warning was logged); or an
 * error in err. */
static const char *
wm_ssl_ocsp_add(wm_ssl_conf_t *conf, wm_pool_t *pool, const wm_ssl_file_t *f,
                wm_ssl_staple_t **head, char *err, size_t errlen)
{
    SSL_CTX *ctx = conf->ctx;
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    STACK_OF(X509) *chain = NULL;
    wm_ssl_staple_t *st;
    char why[256];
    wm_int_t rc;

    st = wm_pcalloc(pool, sizeof(*st));
    if (st == NULL || wm_pool_cleanup_add(pool, wm_ssl_ocsp_free, st) != WM_OK)
    {
        snprintf(err, errlen, "out of memory");
        return err;
    }
    st->pool = pool;
    st->ctx = ctx;
    st->cert = cert;
    st->name = f->path;
    st->verify = conf->stapling_verify != 0;
    st->resolver = conf->stapling_resolver;
    st->resolver_timeout = conf->stapling_resolver_timeout;

    if (conf->stapling_file.path) {
        const u_char *p;
        OCSP_RESPONSE *resp;

        st->fixed = true;
        st->resp = wm_ssl_ocsp_read(conf->stapling_file.path, &st->resp_len,
                                    err, errlen);
        if (st->resp == NULL) {
            return err;
        }
        /* Checked for its form only: it is stapled as the file says. */
        p = st->resp;
        resp = d2i_OCSP_RESPONSE(NULL, &p, (long) st->resp_len);
        ERR_clear_error();
        if (resp == NULL || p != st->resp + st->resp_len) {
            OCSP_RESPONSE_free(resp);
            snprintf(err, errlen, "cannot parse OCSP response \"%s\"",
                     conf->stapling_file.path);
            return err;
        }
        OCSP_RESPONSE_free(resp);
        st->valid = (time_t) INT64_MAX;
        wm_ssl_ocsp_link(st, head);
        return NULL;
    }

    SSL_CTX_get0_chain_certs(ctx, &chain);
    if (conf->stapling_responder.data) {
        rc = wm_ssl_ocsp_parse_url((const char *) conf->stapling_responder.data,
                                   conf->stapling_responder.len, &st->url, why,
                                   sizeof(why));
    } else {
        rc = wm_ssl_ocsp_aia(cert, &st->url, why, sizeof(why));
    }
    if (rc == WM_DECLINED) {
        wm_log_error(WM_LOG_WARN, wm_errlog, 0,
                     "\"ssl_stapling\" ignored, no OCSP responder URL in the "
                     "certificate \"%s\"",
                     f->path);
        return "";
    }
    if (rc != WM_OK) {
        wm_log_error(WM_LOG_WARN, wm_errlog, 0,
                     "\"ssl_stapling\" ignored, %s in the certificate \"%s\"",
                     why, f->path);
        return "";
    }
    if (chain && (st->chain = X509_chain_up_ref(chain)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return err;
    }
    st->issuer = wm_ssl_ocsp_issuer(ctx, cert, chain);
    if (st->issuer == NULL) {
        wm_log_error(WM_LOG_WARN, wm_errlog, 0,
                     "\"ssl_stapling\" ignored, issuer certificate not found "
                     "for certificate \"%s\"",
                     f->path);
        return "";
    }
    st->id = OCSP_cert_to_id(NULL, cert, st->issuer);
    if (st->id == NULL) {
        ERR_clear_error();
        snprintf(err, errlen,
                 "OCSP_cert_to_id() failed for certificate "
                 "\"%s\"",
                 f->path);
        return err;
    }
    wm_ssl_ocsp_link(st, head);
    return NULL;
}

const char *
wm_ssl_ocsp_setup(wm_ssl_conf_t *conf, wm_pool_t *pool, char *err,
                  size_t errlen, const wm_ssl_file_t **at)
{
    const wm_ssl_file_t *certs = conf->certificates->elts;
    wm_ssl_staple_t *head = NULL;
    const char *rv;
    size_t i;

    for (i = 0; i < conf->certificates->nelts; i++) {
        X509 *leaf = wm_ssl_ocsp_leaf(certs[i].path);
        int ok = leaf && SSL_CTX_select_current_cert(conf->ctx, leaf) == 1;

        X509_free(leaf);
        ERR_clear_error();
        if (!ok) {
            *at = &certs[i];
            snprintf(err, errlen,
                     "cannot find certificate \"%s\" for "
                     "\"ssl_stapling\"",
                     certs[i].path);
            return err;
        }
        rv = wm_ssl_ocsp_add(conf, pool, &certs[i], &head, err, errlen);
        if (rv && *rv) {
            *at = conf->stapling_file.path ? &conf->stapling_file : &certs[i];
            return rv;
        }
    }
    if (head) {
        SSL_CTX_set_tlsext_status_cb(conf->ctx, wm_ssl_ocsp_status);
        SSL_CTX_set_tlsext_status_arg(conf->ctx, head);
    }
    return NULL;
}

void
wm_ssl_stapling_resolver(wm_conf_t *cf, wm_ssl_conf_t *ssl,
                         const wm_conf_node_t *block,
                         const wm_upstream_main_conf_t *umcf)
{
    const wm_conf_node_t *n;
    wm_resolver_conf_t *rc;

    ssl->stapling_resolver = umcf ? umcf->resolver : NULL;
    ssl->stapling_resolver_timeout = umcf ? umcf->resolver_timeout : 0;
    for (n = block ? block->children : NULL; n; n = n->next) {
        /* Their setters have checked them. */
        if (wm_str_eq(&n->name, "resolver")
            && wm_resolver_parse(cf->pool, n->args, n->nargs, &rc, cf->errbuf,
                                 sizeof(cf->errbuf))
                   == WM_OK)
        {
            ssl->stapling_resolver = rc;
        } else if (wm_str_eq(&n->name, "resolver_timeout") && n->nargs == 1) {
            ssl->stapling_resolver_timeout = wm_parse_msec(&n->args[0]);
        }
    }
}

/* ---- setters ------------------------------------------------------------ */

#define wm_ssl_conf_at(conf, cmd) \
    ((wm_ssl_conf_t *) ((u_char *) (conf) + (cmd)->offset))

const char *
wm_ssl_set_stapling_file(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_ssl_file_t *f = &wm_ssl_conf_at(conf, cmd)->stapling_file;

    if (f->path) {
        return "is duplicate";
    }
    if (cf->node->args[0].len == 0) {
        return "has invalid value \"\"";
    }
    f->path = wm_conf_full_path(cf->pool, cf->prefix, &cf->node->args[0]);
    f->file = cf->node->file;
    f->line = cf->node->line;
    return f->path ? NULL : "failed: out of memory";
}

const char *
wm_ssl_set_stapling_responder(wm_conf_t *cf, const wm_command_t *cmd,
                              void *conf)
{
    wm_ssl_conf_t *ssl = wm_ssl_conf_at(conf, cmd);
    wm_ssl_ocsp_url_t url;
    char err[256];

    if (ssl->stapling_responder.data) {
        return "is duplicate";
    }
    if (wm_ssl_ocsp_parse_url((const char *) cf->node->args[0].data,
                              cf->node->args[0].len, &url, err, sizeof(err))
        != WM_OK)
    {
        return wm_conf_errf(cf, "has invalid value \"%s\": %s",
                            (const char *) cf->node->args[0].data, err);
    }
    ssl->stapling_responder = cf->node->args[0];
    return NULL;
}
