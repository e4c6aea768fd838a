/*
 * `proxy_pass http://...;`: the HTTP reverse proxy. A request picks a peer
 * of the upstream group (an `upstream {}` block, or the implicit group of
 * an address), takes an idle connection of the group's keepalive pool or
 * opens one, sends the head built by wm_http_proxy_head.c and streams the
 * body, then parses the response head (wm_http_parse_status) and streams
 * the body back through the output filters. Both directions are bounded:
 * the side that reads stops while the other side's output is over its
 * limit (proxy_buffers), and resumes once it drained. Failures before
 * anything reached the client move to the next peer as proxy_next_upstream
 * allows; a 101 turns both connections into a two-way relay.
 */
#include "wm_http.h"

#include "wm_http_proxy.h"
#include "wm_http_proxy_head.h"
#include "wm_log.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

static void *wm_http_proxy_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_proxy_merge(wm_conf_t *cf, void *prev, void *conf,
                                       unsigned level);
static void wm_http_proxy_exit_worker(wm_cycle_t *cycle);
static wm_int_t wm_http_proxy_handler(wm_http_request_t *r);
static void wm_http_proxy_up_read(struct bufferevent *bev, void *arg);
static void wm_http_proxy_up_write(struct bufferevent *bev, void *arg);
static void wm_http_proxy_up_event(struct bufferevent *bev, short what,
                                   void *arg);
static void wm_http_proxy_relay(wm_http_proxy_ctx_t *ctx);
static const char *wm_http_proxy_pass(wm_conf_t *cf, const wm_command_t *cmd,
                                      void *conf);
static const char *
wm_http_proxy_set_header(wm_conf_t *cf, const wm_command_t *cmd, void *conf);
static const char *wm_http_proxy_str_list(wm_conf_t *cf,
                                          const wm_command_t *cmd, void *conf);
static const char *wm_http_proxy_set_next(wm_conf_t *cf,
                                          const wm_command_t *cmd, void *conf);
static const char *
wm_http_proxy_set_buffers(wm_conf_t *cf, const wm_command_t *cmd, void *conf);
static const char *
wm_http_proxy_set_redirect(wm_conf_t *cf, const wm_command_t *cmd, void *conf);
static const char *
wm_http_proxy_set_cookie(wm_conf_t *cf, const wm_command_t *cmd, void *conf);
static const char *wm_http_proxy_set_cv(wm_conf_t *cf, const wm_command_t *cmd,
                                        void *conf);
static const char *
wm_http_proxy_set_ignore(wm_conf_t *cf, const wm_command_t *cmd, void *conf);

static const wm_conf_enum_t wm_http_proxy_versions[] = {
    {"1.0", WM_HTTP_VERSION_10},
    {"1.1", WM_HTTP_VERSION_11},
    {NULL, 0},
};

static const wm_conf_enum_t wm_http_proxy_next_names[] = {
    {"error", WM_PX_FT_ERROR},
    {"timeout", WM_PX_FT_TIMEOUT},
    {"invalid_header", WM_PX_FT_INVALID_HEADER},
    {"http_500", WM_PX_FT_HTTP_500},
    {"http_502", WM_PX_FT_HTTP_502},
    {"http_503", WM_PX_FT_HTTP_503},
    {"http_504", WM_PX_FT_HTTP_504},
    {"http_403", WM_PX_FT_HTTP_403},
    {"http_404", WM_PX_FT_HTTP_404},
    {"http_429", WM_PX_FT_HTTP_429},
    {"non_idempotent", WM_PX_FT_NON_IDEMPOTENT},
    {"off", WM_PX_FT_OFF},
    {NULL, 0},
};

/* proxy_ignore_headers: fields nginx may act on. wmproxy acts on none of
 * them (no cache, no X-Accel processing), so the list is only checked. */
static const wm_conf_enum_t wm_http_proxy_ignore_names[] = {
    {"x-accel-redirect", 0x01},
    {"x-accel-expires", 0x02},
    {"x-accel-limit-rate", 0x04},
    {"x-accel-buffering", 0x08},
    {"x-accel-charset", 0x10},
    {"expires", 0x20},
    {"cache-control", 0x40},
    {"set-cookie", 0x80},
    {"vary", 0x100},
    {NULL, 0},
};

static const wm_conf_bounds_t wm_http_proxy_tries_bounds = {0, 65535};

#define WM_PX_LOC (WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC)
#define px_off(f) offsetof(wm_http_proxy_loc_conf_t, f)

static const wm_command_t wm_http_proxy_commands[] = {
    {"proxy_pass", WM_CTX_HTTP_LOC, 1, 1, 0, WM_LVL_LOC, wm_http_proxy_pass, 0,
     NULL, "-",
     "http://upstream|host:port|unix:/path:[/uri], variables allowed"},
    {"proxy_set_header", WM_PX_LOC, 2, 2, WM_CMD_MULTI, WM_LVL_LOC,
     wm_http_proxy_set_header, 0, NULL, "Host $proxy_host; Connection close",
     "a request header sent upstream (empty: not sent)"},
    {"proxy_pass_request_headers", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_flag, px_off(pass_request_headers), NULL, "on",
     "pass the client's request headers"},
    {"proxy_pass_request_body", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_flag, px_off(pass_request_body), NULL, "on",
     "pass the client's request body"},
    {"proxy_http_version", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_enum,
     px_off(http_version), wm_http_proxy_versions, "1.0",
     "HTTP version of upstream requests"},
    {"proxy_hide_header", WM_PX_LOC, 1, 1, WM_CMD_MULTI, WM_LVL_LOC,
     wm_http_proxy_str_list, px_off(hide), NULL, "-",
     "a response header not passed to the client"},
    {"proxy_pass_header", WM_PX_LOC, 1, 1, WM_CMD_MULTI, WM_LVL_LOC,
     wm_http_proxy_str_list, px_off(pass_hdr), NULL, "-",
     "a response header hidden by default that is passed"},
    {"proxy_connect_timeout", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_msec,
     px_off(connect_timeout), NULL, "60s",
     "time to establish an upstream connection"},
    {"proxy_send_timeout", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_msec,
     px_off(send_timeout), NULL, "60s",
     "time between two writes of the request to the upstream"},
    {"proxy_read_timeout", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_msec,
     px_off(read_timeout), NULL, "60s",
     "time between two reads of the response from the upstream"},
    {"proxy_next_upstream", WM_PX_LOC, 1, WM_ARGS_MANY, 0, WM_LVL_LOC,
     wm_http_proxy_set_next, px_off(next_upstream), NULL, "error timeout",
     "cases that pass a request to the next server"},
    {"proxy_next_upstream_tries", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_num, px_off(next_upstream_tries), &wm_http_proxy_tries_bounds,
     "0", "servers tried per request at most (0: no limit)"},
    {"proxy_next_upstream_timeout", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_msec, px_off(next_upstream_timeout), NULL, "0",
     "time for trying servers per request (0: no limit)"},
    {"proxy_buffering", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag,
     px_off(buffering), NULL, "on",
     "read the response ahead of the client up to proxy_buffers"},
    {"proxy_request_buffering", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_flag, px_off(request_buffering), NULL, "on",
     "accepted; request bodies always stream (see the man page)"},
    {"proxy_intercept_errors", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag,
     px_off(intercept_errors), NULL, "off",
     "answer upstream statuses >= 300 with the location's error_page"},
    {"proxy_buffer_size", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_size,
     px_off(buffer_size), NULL, "4k",
     "room for the response head; the read-ahead with buffering off"},
    {"proxy_buffers", WM_PX_LOC, 2, 2, 0, WM_LVL_LOC, wm_http_proxy_set_buffers,
     0, NULL, "8 4k", "response bytes read ahead of the client at most"},
    {"proxy_busy_buffers_size", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_size, px_off(busy_buffers_size), NULL, "8k",
     "client output level at which upstream reading resumes"},
    {"proxy_redirect", WM_PX_LOC, 1, 2, WM_CMD_MULTI, WM_LVL_LOC,
     wm_http_proxy_set_redirect, 0, NULL, "default",
     "rewrite Location and Refresh of responses: default, off, from to"},
    {"proxy_cookie_domain", WM_PX_LOC, 1, 2, WM_CMD_MULTI, WM_LVL_LOC,
     wm_http_proxy_set_cookie, px_off(cookie_domains), NULL, "off",
     "rewrite the domain= of Set-Cookie: off, or from to"},
    {"proxy_cookie_path", WM_PX_LOC, 1, 2, WM_CMD_MULTI, WM_LVL_LOC,
     wm_http_proxy_set_cookie, px_off(cookie_paths), NULL, "off",
     "rewrite the path= of Set-Cookie: off, or from to"},
    {"proxy_method", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC, wm_http_proxy_set_cv,
     px_off(method), NULL, "-",
     "the method of upstream requests (variables allowed)"},
    {"proxy_set_body", WM_PX_LOC, 1, 1, 0, WM_LVL_LOC, wm_http_proxy_set_cv,
     px_off(body), NULL, "-",
     "the body of upstream requests instead of the client's"},
    {"proxy_ignore_headers", WM_PX_LOC, 1, WM_ARGS_MANY, 0, WM_LVL_LOC,
     wm_http_proxy_set_ignore, 0, NULL, "-",
     "accepted; wmproxy acts on none of these response fields"},
    wm_null_command,
};

wm_module_t wm_http_proxy_module = {
    .name = "http_proxy",
    .family = WM_MOD_HTTP,
    .commands = wm_http_proxy_commands,
    .create_conf = wm_http_proxy_create,
    .merge_conf = wm_http_proxy_merge,
    .exit_worker = wm_http_proxy_exit_worker,
};

enum {
    WM_PX_RESP_OTHER = 0,
    WM_PX_RESP_HOP,    /* of the upstream hop, or written by wmproxy */
    WM_PX_RESP_HIDDEN, /* not passed by default (nginx) */
};

/* The response headers the proxy does not pass as they are, in lower
 * case: those that describe the upstream hop or that wmproxy writes
 * itself from the response's fields, and those nginx hides by default. */
static const struct {
    wm_str_t name;
    unsigned kind;
} wm_http_proxy_resp_names[] = {
    {wm_string("connection"), WM_PX_RESP_HOP},
    {wm_string("keep-alive"), WM_PX_RESP_HOP},
    {wm_string("proxy-connection"), WM_PX_RESP_HOP},
    {wm_string("te"), WM_PX_RESP_HOP},
    {wm_string("trailer"), WM_PX_RESP_HOP},
    {wm_string("transfer-encoding"), WM_PX_RESP_HOP},
    {wm_string("upgrade"), WM_PX_RESP_HOP},
    {wm_string("content-length"), WM_PX_RESP_HOP},
    {wm_string("content-type"), WM_PX_RESP_HOP},
    {wm_string("location"), WM_PX_RESP_HOP},
    {wm_string("date"), WM_PX_RESP_HIDDEN},
    {wm_string("server"), WM_PX_RESP_HIDDEN},
    {wm_string("x-pad"), WM_PX_RESP_HIDDEN},
    {wm_string("x-accel-expires"), WM_PX_RESP_HIDDEN},
    {wm_string("x-accel-redirect"), WM_PX_RESP_HIDDEN},
    {wm_string("x-accel-limit-rate"), WM_PX_RESP_HIDDEN},
    {wm_string("x-accel-buffering"), WM_PX_RESP_HIDDEN},
    {wm_string("x-accel-charset"), WM_PX_RESP_HIDDEN},
};

#define WM_PX_RESP_MAXLEN 32 /* longer names are none of these */

_Static_assert(wm_nelems(wm_http_proxy_resp_names) <= 32,
               "wm_http_proxy_resp_kind keeps the table in 32 bits");

/* Whether name is lit (a lower-case literal), in any case. */
#define wm_http_proxy_name_is(name, lit)                                       \
    ((name)->len == sizeof(lit) - 1                                            \
     && strncasecmp((const char *) (name)->data, lit, sizeof(lit) - 1) == 0)

/* What a response header name is (WM_PX_RESP_*). Each header of every
 * response meets this: the names of its length only are compared. */
static unsigned
wm_http_proxy_resp_kind(const wm_str_t *name)
{
    static uint32_t by_len[WM_PX_RESP_MAXLEN]; /* bits of the table */
    static bool ready;
    uint32_t m;
    size_t i;

    if (!ready) {
        for (i = 0; i < wm_nelems(wm_http_proxy_resp_names); i++) {
            by_len[wm_http_proxy_resp_names[i].name.len] |= 1u << i;
        }
        ready = true;
    }
    if (name->len >= WM_PX_RESP_MAXLEN) {
        return WM_PX_RESP_OTHER;
    }
    for (m = by_len[name->len]; m; m &= m - 1) {
        const wm_str_t *n =
            &wm_http_proxy_resp_names[__builtin_ctz(m)].name;

        if ((name->data[0] | 0x20) == n->data[0]
            && strncasecmp((const char *) name->data, (const char *) n->data,
                           n->len)
                   == 0)
        {
            return wm_http_proxy_resp_names[__builtin_ctz(m)].kind;
        }
    }
    return WM_PX_RESP_OTHER;
}

static bool
wm_http_proxy_in_array(const wm_str_t *name, const wm_array_t *a)
{
    size_t i;

    for (i = 0; a && i < a->nelts; i++) {
        const wm_str_t *s = &((const wm_str_t *) a->elts)[i];

        if (s->len == name->len
            && strncasecmp((const char *) s->data, (const char *) name->data,
                           s->len)
                   == 0)
        {
            return true;
        }
    }
    return false;
}

wm_msec_t
wm_http_proxy_now(void)
{
    return wm_upstream_now();
}

/* ---- the URL ------------------------------------------------------------- */

/*
 * Splits "http://host[:port][/uri]" or "http://unix:/path[:uri]" into u
 * (slices of text). NULL, or an error message.
 */
static const char *
wm_http_proxy_parse_url(const wm_str_t *text, wm_http_proxy_url_t *u)
{
    u_char *p, *end = text->data + text->len, *slash, *colon;

    memset(u, 0, sizeof(*u));
    if (text->len > 8
        && strncasecmp((const char *) text->data, "https://", 8) == 0) {
        u->ssl = 1;
    } else if (text->len < 8
               || strncasecmp((const char *) text->data, "http://", 7) != 0)
    {
        return "invalid URL prefix";
    }
    p = text->data + 7 + u->ssl;
    if (end - p > 5 && memcmp(p, "unix:", 5) == 0) {
        colon = memchr(p + 5, ':', (size_t) (end - p - 5));
        u->addr.data = p;
        u->addr.len = (size_t) ((colon ? colon : end) - p);
        if (u->addr.len == 5) {
            return "has no unix socket path";
        }
        wm_str_set(&u->host, "localhost");
        u->unix_sock = 1;
        if (colon && colon + 1 < end) {
            u->uri.data = colon + 1;
            u->uri.len = (size_t) (end - colon - 1);
            u->has_uri = 1;
        }
        return NULL;
    }
    slash = memchr(p, '/', (size_t) (end - p));
    u->addr.data = p;
    u->addr.len = (size_t) ((slash ? slash : end) - p);
    if (u->addr.len == 0) {
        return "has no host";
    }
    if (slash) {
        u->uri.data = slash;
        u->uri.len = (size_t) (end - slash);
        u->has_uri = 1;
    }
    u->host = u->addr;
    if (u->ssl) {
        wm_str_set(&u->port, "443");
    } else {
        wm_str_set(&u->port, "80");
    }
    colon = NULL;
    if (u->addr.data[0] == '[') {
        u_char *close = memchr(u->addr.data, ']', u->addr.len);

        if (close == NULL) {
            return "has an invalid IPv6 address";
        }
        if (close + 1 < u->addr.data + u->addr.len && close[1] == ':') {
            colon = close + 1;
        }
    } else {
        colon = memchr(u->addr.data, ':', u->addr.len);
    }
    if (colon) {
        const char *dflt = u->ssl ? "443" : "80";

        u->has_port = 1;
        u->port.data = colon + 1;
        u->port.len = (size_t) (u->addr.data + u->addr.len - colon - 1);
        if (u->port.len == strlen(dflt)
            && memcmp(u->port.data, dflt, u->port.len) == 0)
        {
            /* $proxy_host leaves out the default port, as nginx */
            u->host.len = (size_t) (colon - u->addr.data);
        }
    }
    return NULL;
}

/* ---- the log ------------------------------------------------------------- */

static size_t
wm_http_proxy_log_context(wm_log_t *log, char *buf, size_t len)
{
    wm_http_proxy_ctx_t *ctx = log->data;
    wm_log_t rlog = *wm_http_request_log(ctx->r);
    size_t n = wm_http_log_context(&rlog, buf, len);
    int m;

    if (ctx->peer == NULL || n >= len) {
        return n;
    }
    m = snprintf(buf + n, len - n, ", upstream: \"http%s://%s%s%.*s\"",
                 ctx->url.ssl ? "s" : "", (const char *) ctx->peer->name.data,
                 ctx->url.unix_sock && ctx->uri.len ? ":" : "",
                 (int) ctx->uri.len,
                 ctx->uri.len ? (const char *) ctx->uri.data : "");
    return m > 0 ? n + wm_min((size_t) m, len - n) : n;
}

/* ---- run time ------------------------------------------------------------ */

static void
wm_http_proxy_drop_bev(wm_http_proxy_ctx_t *ctx)
{
    if (ctx->bev) {
        wm_http_upstream_free_later(ctx->bev);
        ctx->bev = NULL;
    }
    ctx->connected = 0;
}

static void
wm_http_proxy_release(wm_http_proxy_ctx_t *ctx, wm_upstream_result_t result)
{
    if (ctx->pick.current >= 0) {
        wm_upstream_release(&ctx->pick, result, &ctx->log);
    }
}

/* A failed try: passive health counts it, except in a group of one
 * server, which is never marked down (nginx: nothing else could serve). */
static void
wm_http_proxy_release_failed(wm_http_proxy_ctx_t *ctx)
{
    if (ctx->pick.current >= 0 && ctx->group->npeers == 1) {
        wm_balance_tried_set(ctx->pick.tried, (uint32_t) ctx->pick.current);
        wm_http_proxy_release(ctx, WM_UPSTREAM_ABORTED);
        return;
    }
    wm_http_proxy_release(ctx, WM_UPSTREAM_FAILED);
}

static void
wm_http_proxy_exit_worker(wm_cycle_t *cycle)
{
    wm_http_proxy_kit_exit();
}

static void
wm_http_proxy_cleanup(void *data)
{
    wm_http_proxy_ctx_t *ctx = data;

    /* The request is freed: whatever it still held goes, without a
     * verdict on the peer. */
    wm_http_proxy_release(ctx, WM_UPSTREAM_ABORTED);
    if (ctx->bev) {
        bufferevent_free(ctx->bev);
        ctx->bev = NULL;
    }
    wm_http_proxy_kit_put(ctx);
}

static bool
wm_http_proxy_idempotent(wm_uint_t method)
{
    return !(method & (WM_HTTP_POST | WM_HTTP_LOCK | WM_HTTP_PATCH));
}

/* Whether a failure of kind ft may move the request to another peer. */
static bool
wm_http_proxy_may_retry(wm_http_proxy_ctx_t *ctx, wm_int_t ft)
{
    wm_http_proxy_loc_conf_t *pcf = ctx->conf;
    wm_http_request_t *r = ctx->r;

    if (!(pcf->next_upstream & ft) || r->header_sent || r->c->closing
        || ctx->replay_over)
    {
        return false;
    }
    if (ctx->request_sent && !wm_http_proxy_idempotent(r->head.method)
        && !(pcf->next_upstream & WM_PX_FT_NON_IDEMPOTENT))
    {
        return false;
    }
    if (pcf->next_upstream_tries > 0
        && ctx->pick.tries >= (wm_uint_t) pcf->next_upstream_tries)
    {
        return false;
    }
    if (pcf->next_upstream_timeout > 0
        && wm_http_proxy_now() - ctx->start >= pcf->next_upstream_timeout)
    {
        return false;
    }
    return true;
}

/*
 * The try in progress failed with ft before anything reached the client:
 * gives the peer back (a failure for passive health, but for 403 and 404)
 * and tries the next one when allowed; else ends with status.
 */
static void
wm_http_proxy_fail(wm_http_proxy_ctx_t *ctx, wm_int_t ft, int status)
{
    wm_upstream_result_t result = WM_UPSTREAM_FAILED;

    if (ctx->cur) {
        if (ctx->cur->status == 0) {
            ctx->cur->status = status;
        }
        ctx->cur->response_time = wm_http_proxy_now() - ctx->try_start;
    }
    if (ft == WM_PX_FT_HTTP_403 || ft == WM_PX_FT_HTTP_404) {
        /* not the peer's fault, but not to be asked again */
        wm_balance_tried_set(ctx->pick.tried, (uint32_t) ctx->pick.current);
        result = WM_UPSTREAM_OK;
    }
    if (result == WM_UPSTREAM_FAILED) {
        wm_http_proxy_release_failed(ctx);
    } else {
        wm_http_proxy_release(ctx, result);
    }
    wm_http_proxy_drop_bev(ctx);
    ctx->last_status = status;
    if (wm_http_proxy_may_retry(ctx, ft)) {
        wm_http_proxy_connect(ctx);
        return;
    }
    wm_http_proxy_end(ctx, status);
}

/*
 * Ends the proxying of the request with rc (a status, or WM_DONE once the
 * response was sent whole): the upstream connection is closed and the
 * client's connection takes its reading back.
 */
void
wm_http_proxy_end(wm_http_proxy_ctx_t *ctx, wm_int_t rc)
{
    wm_http_request_t *r = ctx->r;

    if (ctx->state == WM_PX_DONE) {
        return;
    }
    ctx->state = WM_PX_DONE;
    wm_http_proxy_release(ctx, WM_UPSTREAM_ABORTED);
    wm_http_proxy_drop_bev(ctx);
    wm_http_proxy_timer_stop(ctx);
    r->read_handler = NULL;
    r->write_handler = NULL;
    if (ctx->has_body && !ctx->body_done && rc != 400 && rc != 413 && rc != 499)
    {
        /* The rest of the body is read and dropped by the connection. */
        r->discarding_body = 1;
    }
    if (rc == 499) {
        r->keepalive = 0;
        wm_http_finalize(r, 444);
        r->status = 499;
        return;
    }
    if (rc == 400 || rc == 413) {
        r->keepalive = 0;
        r->lingering = 1;
    }
    wm_http_finalize(r, rc);
}

static wm_http_proxy_try_t *
wm_http_proxy_new_try(wm_http_proxy_ctx_t *ctx)
{
    wm_http_proxy_try_t *t = wm_array_push(&ctx->tries);

    if (t == NULL) {
        return NULL;
    }
    t->addr = ctx->peer->name;
    t->connect_time = -1;
    t->header_time = -1;
    t->response_time = -1;
    return t;
}

/* Appends a copy of src to dst (the head and the replay buffer are sent
 * again by a retry). WM_OK or WM_ERROR. */
wm_int_t
wm_http_proxy_copy(struct evbuffer *dst, struct evbuffer *src)
{
    struct evbuffer_iovec v[8];
    struct evbuffer_ptr pos;
    int n, i;

    evbuffer_ptr_set(src, &pos, 0, EVBUFFER_PTR_SET);
    for (;;) {
        size_t moved = 0;

        n = evbuffer_peek(src, -1, &pos, v, 8);
        for (i = 0; i < n && i < 8; i++) {
            if (evbuffer_add(dst, v[i].iov_base, v[i].iov_len) != 0) {
                return WM_ERROR;
            }
            moved += v[i].iov_len;
        }
        if (n <= 8) {
            return WM_OK;
        }
        evbuffer_ptr_set(src, &pos, moved, EVBUFFER_PTR_ADD);
    }
}

/* Picks peers until a connection is under way (or ready, from the pool);
 * ends the request when none is left. */
void
wm_http_proxy_connect(wm_http_proxy_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;
    wm_http_proxy_loc_conf_t *pcf = ctx->conf;
    struct evbuffer *out;
    wm_int_t rc;

    for (;;) {
        /* cache_retried: the same peer again, on a new connection */
        if (!ctx->cache_retried) {
            ctx->peer = wm_upstream_pick(&ctx->pick);
            if (ctx->peer == NULL) {
                if (ctx->pick.tries == 0) {
                    ctx->log.action = "while connecting to upstream";
                    wm_log_error(WM_LOG_ERR, &ctx->log, 0, "%s",
                                 wm_balance_reason_text(ctx->pick.reason));
                }
                wm_http_proxy_end(ctx,
                                  ctx->last_status ? ctx->last_status : 502);
                return;
            }
        }
        ctx->cur = wm_http_proxy_new_try(ctx);
        if (ctx->cur == NULL) {
            wm_http_proxy_end(ctx, 500);
            return;
        }
        ctx->try_start = wm_http_proxy_now();
        ctx->got_bytes = 0;
        ctx->up_eof = 0;
        ctx->up_paused = 0;
        ctx->connected = 0;
        ctx->cached = 0;
        ctx->log.action = "while connecting to upstream";
        wm_http_parser_init_status(&ctx->parser, &r->srv->parse, &ctx->st,
                                   ctx->headers, WM_PX_MAX_HEADERS);

        ctx->bev = ctx->cache_retried
                       ? NULL
                       : wm_http_upstream_get(ctx->group, ctx->peer,
                                              &ctx->ssl_key, &ctx->ka_requests,
                                              &ctx->ka_born);
        if (ctx->bev) {
            ctx->cached = 1;
            rc = WM_OK;
        } else {
            ctx->ka_requests = 0;
            ctx->ka_born = ctx->try_start;
            rc = ctx->url.ssl ? wm_http_proxy_ssl_connect(ctx, &ctx->bev)
                              : wm_upstream_connect(r->c->base, ctx->peer,
                                                    pcf->connect_timeout, true,
                                                    -1, &ctx->bev);
        }
        if (rc == WM_ERROR) {
            wm_log_error(WM_LOG_ALERT, &ctx->log, ENOMEM,
                         "cannot connect to upstream");
            wm_http_proxy_end(ctx, 500);
            return;
        }
        if (rc == WM_DECLINED) {
            wm_log_error(WM_LOG_ERR, &ctx->log, errno, "connect() failed");
            ctx->cache_retried = 0;
            wm_http_proxy_release_failed(ctx);
            ctx->cur->status = 502;
            ctx->last_status = 502;
            if (!wm_http_proxy_may_retry(ctx, WM_PX_FT_ERROR)) {
                wm_http_proxy_end(ctx, 502);
                return;
            }
            continue;
        }
        break;
    }
    out = bufferevent_get_output(ctx->bev);
    ctx->cur->bytes_sent =
        ctx->head_len + evbuffer_get_length(ctx->replay);
    if (evbuffer_add(out, ctx->head, ctx->head_len) != 0
        || wm_http_proxy_copy(out, ctx->replay) != WM_OK)
    {
        wm_http_proxy_end(ctx, 500);
        return;
    }
    bufferevent_setcb(ctx->bev, wm_http_proxy_up_read, wm_http_proxy_up_write,
                      wm_http_proxy_up_event, ctx);
    bufferevent_setwatermark(ctx->bev, EV_WRITE, ctx->conf->buffers_size / 2,
                             0);
    if (ctx->cached) {
        wm_http_proxy_up_event(ctx->bev, BEV_EVENT_CONNECTED, ctx);
        return;
    }
    bufferevent_enable(ctx->bev, EV_WRITE);
}

void
wm_http_proxy_set_read_timeout(wm_http_proxy_ctx_t *ctx)
{
    wm_msec_t rt = ctx->conf->read_timeout, st = ctx->conf->send_timeout;
    struct timeval rtv = {rt / 1000, (rt % 1000) * 1000};
    struct timeval stv = {st / 1000, (st % 1000) * 1000};

    /* proxy_read_timeout runs once the whole request is out. */
    bufferevent_set_timeouts(ctx->bev, ctx->body_done ? &rtv : NULL, &stv);
}

/*
 * A request without a body still to stream, on a pooled connection, is
 * written at once: the socket is almost always writable, and waiting for
 * EV_WRITE would cost two epoll changes and a loop turn per request. True
 * when all of it went out; otherwise (or on an error, which the
 * bufferevent then meets itself) EV_WRITE must be enabled. While it stays
 * off, whoever writes to the upstream later (the tunnel) enables it.
 */
static bool
wm_http_proxy_write_now(wm_http_proxy_ctx_t *ctx)
{
    struct evbuffer *out = bufferevent_get_output(ctx->bev);
    int n;

    if ((ctx->has_body && !ctx->body_done) || ctx->url.ssl) {
        /* (a TLS connection writes records: only its bufferevent can) */
        return false;
    }
    /* A socket bufferevent keeps the front of its output frozen but while
     * it writes itself; so do the same here. */
    evbuffer_unfreeze(out, 1);
    n = evbuffer_write(out, bufferevent_getfd(ctx->bev));
    evbuffer_freeze(out, 1);
    return n >= 0 && evbuffer_get_length(out) == 0;
}

static void
wm_http_proxy_connected(wm_http_proxy_ctx_t *ctx)
{
    size_t low, high, want;

    ctx->connected = 1;
    ctx->request_sent = 1;
    ctx->cur->connect_time = wm_http_proxy_now() - ctx->try_start;
    ctx->log.action = "while reading response header from upstream";
    wm_http_proxy_set_read_timeout(ctx);
    /*
     * The response bytes read ahead of the client stay under in_max:
     * relay() moves all the input on at each read and stops reading
     * once the client's output holds in_max, and the head is refused
     * past proxy_buffer_size. What one read takes is bounded by a read
     * high watermark of in_max; but libevent re-adds the read event
     * (with its timeout) at each change of the input then, three times
     * a request. A plain socket reads WM_PX_READ_MAX at most anyway:
     * no mark is needed when in_max is no less (the default). A TLS
     * one reads a record more than asked: it keeps the mark.
     * (Each libevent call here re-adds the read event, even when it
     * changes nothing: a pooled connection has the right mark.)
     */
    want = ctx->url.ssl || ctx->in_max < WM_PX_READ_MAX ? ctx->in_max : 0;
    if (bufferevent_getwatermark(ctx->bev, EV_READ, &low, &high) != 0
        || low != 0 || high != want)
    {
        bufferevent_setwatermark(ctx->bev, EV_READ, 0, want);
    }
    if (ctx->cached && wm_http_proxy_write_now(ctx)) {
        /* Reading is already on from the pool: no epoll change at all. */
        if (!(bufferevent_get_enabled(ctx->bev) & EV_READ)) {
            bufferevent_enable(ctx->bev, EV_READ);
        }
        return;
    }
    bufferevent_enable(ctx->bev, EV_READ | EV_WRITE);
    if (ctx->has_body && !ctx->body_done) {
        wm_http_proxy_pump(ctx);
    }
}

/* ---- the response -------------------------------------------------------- */

/* Copies the upstream's headers to the response, but those of the hop, the
 * hidden ones and those wmproxy writes itself. WM_OK or WM_ERROR. */
static wm_int_t
wm_http_proxy_copy_headers(wm_http_proxy_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;
    wm_http_proxy_loc_conf_t *pcf = ctx->conf;
    size_t i;

    for (i = 0; i < ctx->st.nheaders; i++) {
        wm_http_header_t *h = &ctx->st.headers[i], *o;

        unsigned kind = wm_http_proxy_resp_kind(&h->name);

        if (kind == WM_PX_RESP_HOP) {
            if (ctx->st.status == 101
                && wm_http_proxy_name_is(&h->name, "upgrade")) {
                goto pass;
            }
            continue;
        }
        if ((kind == WM_PX_RESP_HIDDEN
             && !wm_http_proxy_in_array(&h->name, pcf->pass_hdr))
            || wm_http_proxy_in_array(&h->name, pcf->hide))
        {
            continue;
        }
    pass:
        if (r->out_headers.elts == NULL
            && wm_array_init(&r->out_headers, r->pool, 8, sizeof(*h)) != WM_OK)
        {
            return WM_ERROR;
        }
        o = wm_array_push(&r->out_headers);
        if (o == NULL) {
            return WM_ERROR;
        }
        *o = *h; /* slices of ctx->hbuf, which lives with the request */
        if (wm_http_proxy_name_is(&h->name, "refresh")
            && wm_http_proxy_rw_redirect(r, pcf->redirects, &o->value, true)
                   == WM_ERROR)
        {
            return WM_ERROR;
        }
        if (wm_http_proxy_name_is(&h->name, "set-cookie")
            && wm_http_proxy_rw_cookie(r, pcf->cookie_domains,
                                       pcf->cookie_paths, &o->value)
                   == WM_ERROR)
        {
            return WM_ERROR;
        }
    }
    if (!wm_http_proxy_in_array(&(wm_str_t) wm_string("content-type"),
                                pcf->hide)) {
        r->content_type = ctx->st.content_type;
    }
    if (!wm_http_proxy_in_array(&(wm_str_t) wm_string("location"), pcf->hide)) {
        r->location = ctx->st.location;
        if (wm_http_proxy_rw_redirect(r, pcf->redirects, &r->location, false)
            == WM_ERROR)
        {
            return WM_ERROR;
        }
    }
    return WM_OK;
}

static wm_int_t
wm_http_proxy_status_ft(wm_uint_t status)
{
    switch (status) {
    case 500:
        return WM_PX_FT_HTTP_500;
    case 502:
        return WM_PX_FT_HTTP_502;
    case 503:
        return WM_PX_FT_HTTP_503;
    case 504:
        return WM_PX_FT_HTTP_504;
    case 403:
        return WM_PX_FT_HTTP_403;
    case 404:
        return WM_PX_FT_HTTP_404;
    case 429:
        return WM_PX_FT_HTTP_429;
    }
    return 0;
}

/* The response was read whole: the connection goes back to the pool when
 * it can carry another request, and the client gets the end. */
static void
wm_http_proxy_finish(wm_http_proxy_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;
    bool reuse = ctx->framing.keep_alive && ctx->body_done && !ctx->up_eof
                 && ctx->state == WM_PX_BODY;

    ctx->cur->response_time = wm_http_proxy_now() - ctx->try_start;
    wm_http_proxy_release(ctx, WM_UPSTREAM_OK);
    if (reuse && ctx->bev) {
        /* Reading stays on into the pool, which watches it: one epoll
         * change less per request each way. (Writing is mostly off
         * already: the request went out at once.) */
        if (bufferevent_get_enabled(ctx->bev) & EV_WRITE) {
            bufferevent_disable(ctx->bev, EV_WRITE);
        }
        if (wm_http_upstream_put(ctx->group, ctx->peer, &ctx->ssl_key, ctx->bev,
                                 ctx->ka_requests + 1, ctx->ka_born))
        {
            ctx->bev = NULL;
        } else {
            bufferevent_disable(ctx->bev, EV_READ);
        }
    }
    ctx->state = WM_PX_DONE;
    wm_http_proxy_drop_bev(ctx);
    wm_http_proxy_timer_stop(ctx);
    r->read_handler = NULL;
    r->write_handler = NULL;
    if (ctx->has_body && !ctx->body_done) {
        r->discarding_body = 1;
    }
    if (wm_http_send_body(r, ctx->tmp, true) != WM_OK) {
        wm_http_finalize(r, WM_ERROR);
    }
}

static void
wm_http_proxy_pause_check(wm_http_proxy_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;
    size_t max = ctx->conf->buffering
                     ? ctx->conf->nbuffers * ctx->conf->buffers_size
                     : ctx->conf->buffer_size;

    if (ctx->bev && evbuffer_get_length(r->c->out) > max) {
        ctx->up_paused = 1;
        bufferevent_disable(ctx->bev, EV_READ);
    }
}

/* Moves response body bytes from the upstream to the client, decoding the
 * upstream's framing, until the client's output is over its bound. */
static void
wm_http_proxy_relay(wm_http_proxy_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;

    while (ctx->state == WM_PX_BODY && !ctx->up_paused) {
        struct evbuffer *in = bufferevent_get_input(ctx->bev);
        size_t len = evbuffer_get_length(in), used = len;
        bool last = false;

        if (r->c->closing) {
            wm_http_proxy_end(ctx, WM_ERROR);
            return;
        }
        if (len == 0) {
            if (!ctx->up_eof) {
                return;
            }
            if (ctx->framing.body == WM_HTTP_BODY_CLOSE) {
                wm_http_proxy_finish(ctx);
                return;
            }
            wm_log_error(WM_LOG_ERR, &ctx->log, 0,
                         "upstream prematurely closed connection");
            ctx->cur->response_time = wm_http_proxy_now() - ctx->try_start;
            wm_http_proxy_end(ctx, 502);
            return;
        }
        if (ctx->framing.body == WM_HTTP_BODY_LENGTH) {
            used = (size_t) wm_min((uint64_t) len, ctx->left);
            evbuffer_remove_buffer(in, ctx->tmp, used);
            ctx->left -= used;
            last = ctx->left == 0;
            if (last && evbuffer_get_length(in)) {
                wm_log_error(WM_LOG_WARN, &ctx->log, 0,
                             "upstream sent more data than specified in "
                             "\"Content-Length\" header");
                ctx->framing.keep_alive = 0;
            }
        } else if (ctx->framing.body == WM_HTTP_BODY_CHUNKED) {
            wm_int_t rc;

            used = 0;
            rc = wm_http_proxy_dechunk(&ctx->chunked, in, ctx->tmp, &used);
            if (rc == WM_ERROR) {
                wm_log_error(WM_LOG_ERR, &ctx->log, 0,
                             "upstream sent invalid chunked response: %s",
                             ctx->chunked.error ? ctx->chunked.error
                                                : "out of memory");
                ctx->cur->bytes_received += used;
                wm_http_proxy_end(ctx, 502);
                return;
            }
            last = rc == WM_DONE;
            if (last && evbuffer_get_length(in)) {
                ctx->framing.keep_alive = 0;
            }
        } else {
            evbuffer_add_buffer(ctx->tmp, in);
        }
        ctx->cur->bytes_received += used;
        if (last) {
            wm_http_proxy_finish(ctx);
            return;
        }
        if (evbuffer_get_length(ctx->tmp)
            && wm_http_send_body(r, ctx->tmp, false) != WM_OK)
        {
            wm_http_proxy_end(ctx, WM_ERROR);
            return;
        }
        wm_http_proxy_pause_check(ctx);
    }
}

static bool
wm_http_proxy_has_error_page(wm_http_request_t *r, int status)
{
    wm_array_t *pages = r->loc->error_pages;
    size_t i;

    for (i = 0; pages && i < pages->nelts; i++) {
        if (((wm_http_error_page_t *) pages->elts)[i].status == status) {
            return true;
        }
    }
    return false;
}

/* Parses the response head as it arrives; then answers the client. */
static void
wm_http_proxy_process_head(wm_http_proxy_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;
    wm_http_proxy_loc_conf_t *pcf = ctx->conf;
    struct evbuffer *in = bufferevent_get_input(ctx->bev);
    wm_int_t rc, ft;

    for (;;) {
        size_t len = evbuffer_get_length(in);
        size_t n = wm_min(len, pcf->buffer_size);

        if (len == 0) {
            return;
        }
        ctx->got_bytes = 1;
        evbuffer_copyout(in, ctx->hbuf, n);
        rc = wm_http_parse_status(&ctx->parser, ctx->hbuf, n);
        if (rc == WM_AGAIN) {
            if (n < pcf->buffer_size) {
                return;
            }
            wm_log_error(WM_LOG_ERR, &ctx->log, 0,
                         "upstream sent too big header");
            wm_http_proxy_fail(ctx, WM_PX_FT_INVALID_HEADER, 502);
            return;
        }
        if (rc == WM_ERROR) {
            wm_log_error(WM_LOG_ERR, &ctx->log, 0, "%s",
                         ctx->st.error ? ctx->st.error
                                       : "upstream sent invalid header");
            wm_http_proxy_fail(ctx, WM_PX_FT_INVALID_HEADER, 502);
            return;
        }
        evbuffer_drain(in, ctx->st.head_len);
        ctx->cur->bytes_received += ctx->st.head_len;
        if (!ctx->st.interim) {
            break;
        }
        wm_http_parser_init_status(&ctx->parser, &r->srv->parse, &ctx->st,
                                   ctx->headers, WM_PX_MAX_HEADERS);
    }

    ctx->cur->status = (int) ctx->st.status;
    ctx->cur->header_time = wm_http_proxy_now() - ctx->try_start;
    ft = wm_http_proxy_status_ft(ctx->st.status);
    if (ft && (pcf->next_upstream & ft) && wm_http_proxy_may_retry(ctx, ft)) {
        wm_http_proxy_fail(ctx, ft, (int) ctx->st.status);
        return;
    }
    wm_http_response_framing(&ctx->st, r->head.method, &ctx->framing);
    if (ctx->framing.body == WM_HTTP_BODY_TUNNEL
        && (ctx->st.status != 101 || !ctx->upgrade))
    {
        wm_log_error(WM_LOG_ERR, &ctx->log, 0,
                     "upstream sent \"%u\" response to a request without "
                     "an upgrade",
                     (unsigned) ctx->st.status);
        wm_http_proxy_fail(ctx, WM_PX_FT_INVALID_HEADER, 502);
        return;
    }
    if (pcf->intercept_errors && ctx->st.status >= 300
        && wm_http_proxy_has_error_page(r, (int) ctx->st.status))
    {
        ctx->cur->response_time = wm_http_proxy_now() - ctx->try_start;
        wm_http_proxy_release(ctx, WM_UPSTREAM_OK);
        wm_http_proxy_end(ctx, (wm_int_t) ctx->st.status);
        return;
    }
    if (wm_http_proxy_copy_headers(ctx) != WM_OK) {
        wm_http_proxy_end(ctx, 500);
        return;
    }
    r->status = (int) ctx->st.status;
    if (ctx->st.reason.len) {
        r->status_line.data = ctx->st.status_line.data + 9;
        r->status_line.len = ctx->st.status_line.len - 9;
    }
    r->content_length = -1;
    if (ctx->framing.body == WM_HTTP_BODY_LENGTH) {
        r->content_length = ctx->framing.length;
        ctx->left = (uint64_t) ctx->framing.length;
    } else if (ctx->framing.body == WM_HTTP_BODY_NONE
               && r->head.method == WM_HTTP_HEAD)
    {
        r->content_length = ctx->st.content_length;
    } else if (ctx->framing.body == WM_HTTP_BODY_NONE) {
        r->content_length = 0;
    } else if (ctx->framing.body == WM_HTTP_BODY_CHUNKED) {
        wm_http_chunked_init(&ctx->chunked);
    }
    ctx->state =
        ctx->framing.body == WM_HTTP_BODY_TUNNEL ? WM_PX_TUNNEL : WM_PX_BODY;
    ctx->log.action = "while reading upstream";
    if (wm_http_send_header(r) != WM_OK) {
        wm_http_proxy_end(ctx, WM_ERROR);
        return;
    }
    if (ctx->framing.body == WM_HTTP_BODY_TUNNEL) {
        wm_http_proxy_tunnel(ctx);
        return;
    }
    if (ctx->framing.body == WM_HTTP_BODY_NONE
        || (ctx->framing.body == WM_HTTP_BODY_LENGTH && ctx->left == 0))
    {
        if (evbuffer_get_length(in)) {
            ctx->framing.keep_alive = 0;
        }
        wm_http_proxy_finish(ctx);
        return;
    }
    wm_http_proxy_relay(ctx);
}

/* ---- upstream events ----------------------------------------------------- */

static void
wm_http_proxy_up_read(struct bufferevent *bev, void *arg)
{
    wm_http_proxy_ctx_t *ctx = arg;

    switch (ctx->state) {
    case WM_PX_HEAD:
        wm_http_proxy_process_head(ctx);
        break;
    case WM_PX_BODY:
        wm_http_proxy_relay(ctx);
        break;
    case WM_PX_TUNNEL:
        wm_http_proxy_tunnel_up(ctx);
        break;
    }
}

static void
wm_http_proxy_up_write(struct bufferevent *bev, void *arg)
{
    wm_http_proxy_ctx_t *ctx = arg;

    if (!ctx->client_paused) {
        return;
    }
    ctx->client_paused = 0;
    if (ctx->state == WM_PX_TUNNEL) {
        wm_http_proxy_tunnel_client(ctx);
    } else if (ctx->has_body && !ctx->body_done) {
        wm_http_proxy_pump(ctx);
    }
}

static void
wm_http_proxy_up_event(struct bufferevent *bev, short what, void *arg)
{
    wm_http_proxy_ctx_t *ctx = arg;
    int err = EVUTIL_SOCKET_ERROR();

    if (what & BEV_EVENT_CONNECTED) {
        if (ctx->url.ssl && !ctx->cached
            && wm_http_proxy_ssl_connected(ctx) != WM_OK)
        {
            wm_http_proxy_fail(ctx, WM_PX_FT_ERROR, 502);
            return;
        }
        wm_http_proxy_connected(ctx);
        return;
    }
    if (ctx->url.ssl && !ctx->cached && !ctx->connected
        && !(what & BEV_EVENT_TIMEOUT))
    {
        wm_http_proxy_ssl_failed(ctx, what, err);
        wm_http_proxy_fail(ctx, WM_PX_FT_ERROR, 502);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        ctx->up_eof = 1;
    }
    if (ctx->state == WM_PX_HEAD) {
        if (what & BEV_EVENT_EOF) {
            wm_http_proxy_process_head(ctx);
            if (ctx->state != WM_PX_HEAD || ctx->bev != bev) {
                return;
            }
        }
        if (ctx->cached && !ctx->got_bytes && !ctx->cache_retried
            && !ctx->replay_over && !(what & BEV_EVENT_TIMEOUT))
        {
            /* A kept-alive connection the upstream closed meanwhile: once
             * more, on a new connection to the same peer. */
            wm_log_debug(&ctx->log, "pooled upstream connection failed, "
                                    "retrying on a new one");
            ctx->cache_retried = 1;
            ctx->tries.nelts--;
            wm_http_proxy_drop_bev(ctx);
            wm_http_proxy_connect(ctx);
            ctx->cache_retried = 0;
            return;
        }
        if (what & BEV_EVENT_TIMEOUT) {
            wm_log_error(WM_LOG_ERR, &ctx->log, ETIMEDOUT,
                         "upstream timed out");
            wm_http_proxy_fail(ctx, WM_PX_FT_TIMEOUT, 504);
            return;
        }
        if (what & BEV_EVENT_EOF) {
            wm_log_error(WM_LOG_ERR, &ctx->log, 0,
                         "upstream prematurely closed connection");
        } else {
            wm_log_error(WM_LOG_ERR, &ctx->log, err,
                         !ctx->connected              ? "connect() failed"
                         : (what & BEV_EVENT_WRITING) ? "send() failed"
                                                      : "recv() failed");
        }
        wm_http_proxy_fail(ctx, WM_PX_FT_ERROR, 502);
        return;
    }
    if (ctx->state == WM_PX_BODY) {
        if (what & BEV_EVENT_EOF) {
            /* what is still buffered goes first (relay ends it) */
            wm_http_proxy_relay(ctx);
            return;
        }
        if (what & BEV_EVENT_TIMEOUT) {
            wm_log_error(WM_LOG_ERR, &ctx->log, ETIMEDOUT,
                         "upstream timed out");
        } else {
            wm_log_error(WM_LOG_ERR, &ctx->log, err, "recv() failed");
        }
        ctx->cur->response_time = wm_http_proxy_now() - ctx->try_start;
        wm_http_proxy_end(ctx, (what & BEV_EVENT_TIMEOUT) ? 504 : 502);
        return;
    }
    if (ctx->state == WM_PX_TUNNEL) {
        if (what & BEV_EVENT_EOF) {
            wm_http_proxy_tunnel_up(ctx);
        } else {
            wm_log_error(WM_LOG_INFO, &ctx->log, err, "upstream error");
        }
        wm_http_proxy_tunnel_end(ctx);
    }
}

/* ---- client events ------------------------------------------------------- */

static void
wm_http_proxy_client_read(wm_http_request_t *r)
{
    wm_http_proxy_ctx_t *ctx = r->ctx[wm_http_proxy_module.index];
    wm_http_connection_t *c = r->c;
    u_char b;
    ssize_t n;

    if (ctx->state == WM_PX_TUNNEL) {
        if (!ctx->client_paused) {
            wm_http_proxy_tunnel_client(ctx);
        }
        return;
    }
    if (ctx->has_body && !ctx->body_done) {
        if (!ctx->client_paused) {
            wm_http_proxy_pump(ctx);
        }
        return;
    }
    if (c->ssl || c->closing || evbuffer_get_length(c->in) > r->head_used) {
        return;
    }
    /* Nothing is expected from the client now: an EOF means it left. */
    n = recv(c->fd, &b, 1, MSG_PEEK);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        wm_log_error(WM_LOG_INFO, &ctx->log, n < 0 ? errno : 0,
                     "client prematurely closed connection");
        if (ctx->cur && ctx->cur->status == 0) {
            ctx->cur->status = 499;
        }
        wm_http_proxy_end(ctx, r->header_sent ? WM_ERROR : 499);
        return;
    }
    if (n < 0) {
        c->read_ready = 0;
    }
}

static void
wm_http_proxy_client_drained(wm_http_request_t *r)
{
    wm_http_proxy_ctx_t *ctx = r->ctx[wm_http_proxy_module.index];

    if (!ctx->up_paused || ctx->bev == NULL) {
        return;
    }
    ctx->up_paused = 0;
    if (!ctx->up_eof) {
        bufferevent_enable(ctx->bev, EV_READ);
    }
    if (ctx->state == WM_PX_TUNNEL) {
        wm_http_proxy_tunnel_up(ctx);
        return;
    }
    wm_http_proxy_relay(ctx);
}

/* ---- the handler --------------------------------------------------------- */

/* The group and URL of a proxy_pass with variables. */
static wm_int_t
wm_http_proxy_eval_pass(wm_http_proxy_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;
    wm_http_proxy_loc_conf_t *pcf = ctx->conf;
    wm_upstream_main_conf_t *umcf =
        wm_cycle->conf[wm_http_upstream_module.index];
    wm_str_t text;
    const char *err;
    char ebuf[256];
    struct in6_addr a6;
    char host[256];

    if (wm_cv_eval(&pcf->pass_cv, r, r->pool, &text) != WM_OK) {
        return 500;
    }
    err = wm_http_proxy_parse_url(&text, &ctx->url);
    if (err) {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "invalid URL prefix in \"%.*s\"", (int) text.len,
                     (const char *) text.data);
        return 500;
    }
    if (!ctx->url.has_port && !ctx->url.unix_sock && umcf) {
        ctx->group = wm_upstream_find(umcf, &ctx->url.addr);
        if (ctx->group) {
            return WM_OK;
        }
    }
    /* Without a resolver, only addresses can be reached. */
    snprintf(host, sizeof(host), "%.*s",
             (int) (ctx->url.has_port
                        ? (size_t) (ctx->url.port.data - 1 - ctx->url.addr.data)
                        : ctx->url.addr.len),
             (const char *) ctx->url.addr.data);
    if (host[0] == '[' && strlen(host) > 2) {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    if (!ctx->url.unix_sock && inet_pton(AF_INET, host, &a6) != 1
        && inet_pton(AF_INET6, host, &a6) != 1)
    {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "no resolver defined to resolve %s", host);
        return 502;
    }
    ctx->group =
        wm_upstream_group_new(r->pool, &ctx->url.addr, wm_http_var_tables);
    if (ctx->group == NULL
        || wm_upstream_add_server(ctx->group, &ctx->group->name, 1,
                                  ctx->url.ssl ? 443 : 80, ebuf, sizeof(ebuf))
               != WM_OK
        || wm_upstream_group_init(wm_cycle, ctx->group, NULL, ebuf,
                                  sizeof(ebuf))
               != WM_OK)
    {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0, "%s", ebuf);
        return 502;
    }
    return WM_OK;
}

/* Builds the request head once, for every try. */
wm_int_t
wm_http_proxy_build(wm_http_proxy_ctx_t *ctx, int64_t content_length)
{
    wm_http_request_t *r = ctx->r;
    wm_http_proxy_loc_conf_t *pcf = ctx->conf;
    wm_http_proxy_set_t *set;
    wm_http_proxy_head_t h;
    wm_http_proxy_uri_t in;
    wm_str_t raw;
    size_t i, n = 0, max;
    bool ka = wm_http_upstream_keepalive(ctx->group) != NULL
              && pcf->http_version == WM_HTTP_VERSION_11;

    memset(&h, 0, sizeof(h));
    h.method = r->head.method_name;
    if (pcf->method && wm_cv_eval(pcf->method, r, r->pool, &h.method) != WM_OK)
    {
        return WM_ERROR;
    }
    if (pcf->pass_vars && ctx->url.has_uri) {
        /* With variables, the URI part is the whole URI (nginx). */
        h.uri = ctx->url.uri;
    } else {
        if (wm_http_proxy_raw_target(r->pool, &r->head, &raw) != WM_OK) {
            return WM_ERROR;
        }
        memset(&in, 0, sizeof(in));
        in.pass_uri = ctx->url.has_uri ? &ctx->url.uri : NULL;
        in.loc_name = &pcf->loc_name;
        in.uri = &r->uri;
        in.args = &r->args;
        in.has_args = r->head.has_args;
        in.raw = &raw;
        in.uri_changed = r->internal;
        h.uri.data = wm_http_proxy_uri(r->pool, &in, &h.uri.len);
        if (h.uri.data == NULL) {
            return WM_ERROR;
        }
    }
    ctx->uri = h.uri;
    h.version = (wm_uint_t) pcf->http_version;
    set = wm_palloc(r->pool, (pcf->nset + 1) * sizeof(*set));
    if (set == NULL) {
        return WM_ERROR;
    }
    for (i = 0; i < pcf->nset; i++) {
        if (pcf->set[i].dflt_conn && ka) {
            continue; /* keepalive: no Connection: close */
        }
        set[n].name = pcf->set[i].name;
        if (wm_cv_eval(&pcf->set[i].value, r, r->pool, &set[n].value) != WM_OK)
        {
            return WM_ERROR;
        }
        n++;
    }
    h.set = set;
    h.nset = n;
    h.client = &r->head;
    h.pass_headers = pcf->pass_request_headers;
    h.content_length = content_length;
    h.chunked = ctx->body_chunked;
    max = wm_http_proxy_head_max(&h);
    if (ctx->head_size < max) {
        /* (kept with ctx for the next requests: see the kit) */
        free(ctx->head);
        ctx->head_size = 0;
        ctx->head = malloc(max);
        if (ctx->head == NULL) {
            return WM_ERROR;
        }
        ctx->head_size = max;
    }
    ctx->head_len =
        (size_t) (wm_http_proxy_head_write(ctx->head, &h) - ctx->head);
    return WM_OK;
}

static wm_int_t
wm_http_proxy_handler(wm_http_request_t *r)
{
    wm_http_proxy_loc_conf_t *pcf = wm_http_loc_conf(r, wm_http_proxy_module);
    wm_http_proxy_ctx_t *ctx;
    int64_t cl = -1;
    wm_int_t rc;

    ctx = wm_http_proxy_kit_get(r->c->base, pcf->buffer_size);
    if (ctx == NULL) {
        return 500;
    }
    if (wm_pool_cleanup_add(r->pool, wm_http_proxy_cleanup, ctx) != WM_OK) {
        wm_http_proxy_kit_put(ctx);
        return 500;
    }
    ctx->r = r;
    ctx->conf = pcf;
    ctx->pick.current = -1;
    ctx->start = wm_http_proxy_now();
    ctx->log = *wm_http_request_log(r);
    ctx->log.handler = wm_http_proxy_log_context;
    ctx->log.data = ctx;
    r->ctx[wm_http_proxy_module.index] = ctx;
    if (wm_array_init(&ctx->tries, r->pool, 2, sizeof(wm_http_proxy_try_t))
        != WM_OK)
    {
        return 500;
    }
    ctx->in_max =
        pcf->buffering ? pcf->nbuffers * pcf->buffers_size : pcf->buffer_size;
    if (pcf->pass_vars) {
        rc = wm_http_proxy_eval_pass(ctx);
        if (rc != WM_OK) {
            return rc;
        }
    } else {
        ctx->group = pcf->group;
        ctx->url = pcf->url;
    }
    if (ctx->url.ssl && wm_http_proxy_ssl_prepare(ctx) != WM_OK) {
        return 500;
    }
    if (wm_upstream_pick_init(&ctx->pick, ctx->group, r, r->pool) != WM_OK) {
        return 500;
    }
    ctx->upgrade = r->head.upgrade.len != 0;

    if (pcf->body) {
        wm_str_t b;

        /* proxy_set_body: sent (and sent again by a retry) from the replay
         * buffer; the client's body is read and dropped at the end. */
        if (wm_cv_eval(pcf->body, r, r->pool, &b) != WM_OK
            || evbuffer_add(ctx->replay, b.data, b.len) != 0)
        {
            return 500;
        }
        cl = (int64_t) b.len;
        if (r->head.content_length > 0 || r->head.chunked) {
            r->discarding_body = 1;
        }
    } else if (pcf->pass_request_body
               && (r->head.content_length > 0 || r->head.chunked))
    {
        ctx->has_body = 1;
        if (r->head.chunked) {
            if (pcf->http_version == WM_HTTP_VERSION_11) {
                ctx->body_chunked = 1;
            } else {
                ctx->body_full = 1; /* HTTP/1.0 needs the length */
            }
        } else {
            cl = r->head.content_length;
        }
        if (wm_http_body_start(r) != WM_OK) {
            return 500;
        }
    } else if (pcf->pass_request_body && r->head.content_length == 0) {
        cl = 0;
    }
    r->read_handler = wm_http_proxy_client_read;
    r->write_handler = wm_http_proxy_client_drained;
    r->out_lowat = pcf->buffering ? pcf->busy_buffers_size : 0;

    if (!ctx->has_body) {
        ctx->body_done = 1;
    }
    if (ctx->body_full) {
        wm_http_proxy_pump(ctx); /* connects once the body is whole */
        return WM_DONE;
    }
    if (wm_http_proxy_build(ctx, cl) != WM_OK) {
        return 500;
    }
    wm_http_proxy_connect(ctx);
    return WM_DONE;
}

/* ---- configuration ------------------------------------------------------- */

static void *
wm_http_proxy_create(wm_conf_t *cf, unsigned level)
{
    wm_http_proxy_loc_conf_t *pcf = wm_pcalloc(cf->pool, sizeof(*pcf));

    if (pcf == NULL) {
        return NULL;
    }
    pcf->pass_request_headers = WM_CONF_UNSET;
    pcf->pass_request_body = WM_CONF_UNSET;
    pcf->http_version = WM_CONF_UNSET;
    pcf->buffering = WM_CONF_UNSET;
    pcf->request_buffering = WM_CONF_UNSET;
    pcf->intercept_errors = WM_CONF_UNSET;
    pcf->connect_timeout = WM_CONF_UNSET_MSEC;
    pcf->send_timeout = WM_CONF_UNSET_MSEC;
    pcf->read_timeout = WM_CONF_UNSET_MSEC;
    pcf->next_upstream = WM_CONF_UNSET;
    pcf->next_upstream_tries = WM_CONF_UNSET;
    pcf->next_upstream_timeout = WM_CONF_UNSET_MSEC;
    pcf->buffer_size = WM_CONF_UNSET_SIZE;
    pcf->nbuffers = WM_CONF_UNSET;
    pcf->buffers_size = WM_CONF_UNSET_SIZE;
    pcf->busy_buffers_size = WM_CONF_UNSET_SIZE;
    pcf->ignore_headers = WM_CONF_UNSET;
    return pcf;
}

/* The effective proxy_set_header list: Host and Connection first (the
 * defaults, or the values given for them), then the others in order. */
static const char *
wm_http_proxy_merge_headers(wm_conf_t *cf, wm_http_proxy_loc_conf_t *pcf)
{
    static const char *const dflt[][2] = {{"Host", "$proxy_host"},
                                          {"Connection", "close"}};
    wm_http_proxy_header_t *user = pcf->headers ? pcf->headers->elts : NULL;
    size_t nuser = pcf->headers ? pcf->headers->nelts : 0, i, j;
    const char *rv;

    pcf->set = wm_pcalloc(cf->pool, (nuser + 2) * sizeof(*pcf->set));
    if (pcf->set == NULL) {
        return "failed: out of memory";
    }
    for (i = 0; i < 2; i++) {
        wm_http_proxy_header_t *h = &pcf->set[pcf->nset];
        wm_str_t name = {strlen(dflt[i][0]), (u_char *) dflt[i][0]};
        wm_str_t value = {strlen(dflt[i][1]), (u_char *) dflt[i][1]};
        bool given = false;

        for (j = 0; j < nuser && !given; j++) {
            if (user[j].name.len == name.len
                && strncasecmp((const char *) user[j].name.data,
                               (const char *) name.data, name.len)
                       == 0)
            {
                *h = user[j];
                given = true;
            }
        }
        if (!given) {
            h->name = name;
            rv = wm_cv_compile(cf->pool, &value, wm_http_var_tables, &h->value);
            if (rv) {
                return rv;
            }
            h->dflt_conn = i == 1;
        }
        pcf->nset++;
    }
    for (j = 0; j < nuser; j++) {
        if (wm_http_proxy_name_is(&user[j].name, "host")
            || wm_http_proxy_name_is(&user[j].name, "connection"))
        {
            continue;
        }
        pcf->set[pcf->nset++] = user[j];
    }
    return NULL;
}

/*
 * `proxy_redirect default` (also when no proxy_redirect is given) becomes
 * "proxy_pass URL -> location name", or "proxy_pass URL/ -> /" without a
 * URI part, put where `default` stood among the other pairs; nothing with
 * variables in proxy_pass (an explicit `default` is then an error).
 */
static const char *
wm_http_proxy_merge_redirect(wm_conf_t *cf, wm_http_proxy_loc_conf_t *pcf)
{
    wm_array_t *list = NULL;
    wm_http_proxy_rw_t *old = pcf->redirects ? pcf->redirects->elts : NULL;
    size_t n = pcf->redirects ? pcf->redirects->nelts : 0, i;
    bool dflt = !pcf->redirect_set || pcf->redirect_dflt;
    wm_str_t from, to;
    const char *rv;

    if (!dflt) {
        return NULL;
    }
    if (pcf->pass_vars) {
        return pcf->redirect_set ? "has \"proxy_redirect default\" with "
                                   "\"proxy_pass\" with variables"
                                 : NULL;
    }
    from = pcf->pass;
    to = pcf->loc_name;
    if (!pcf->url.has_uri) {
        char *f = wm_psprintf(cf->pool, "%.*s/", (int) pcf->pass.len,
                              (const char *) pcf->pass.data);

        if (f == NULL) {
            return "failed: out of memory";
        }
        from.data = (u_char *) f;
        from.len = pcf->pass.len + 1;
        wm_str_set(&to, "/");
    }
    /* A list of its own: the parent's may serve other proxy_pass URLs. */
    if (!pcf->redirect_set) {
        rv = wm_http_proxy_rw_add(cf, &list, &from, &to, false);
        if (rv) {
            return rv;
        }
    }
    for (i = 0; i < n; i++) {
        wm_http_proxy_rw_t *rw;

        if (old[i].dflt) {
            rv = wm_http_proxy_rw_add(cf, &list, &from, &to, false);
            if (rv) {
                return rv;
            }
            continue;
        }
        if (list == NULL) {
            list = wm_palloc(cf->pool, sizeof(wm_array_t));
            if (list == NULL
                || wm_array_init(list, cf->pool, n, sizeof(*rw)) != WM_OK) {
                return "failed: out of memory";
            }
        }
        rw = wm_array_push(list);
        if (rw == NULL) {
            return "failed: out of memory";
        }
        *rw = old[i];
    }
    pcf->redirects = list;
    return NULL;
}

/* Turns the proxy_pass URL into a group once every upstream block is
 * known: the block it names, else the address's implicit group. */
static void
wm_http_proxy_resolve(wm_conf_t *cf, wm_http_proxy_loc_conf_t *pcf)
{
    wm_upstream_main_conf_t *umcf =
        cf->cycle->conf[wm_http_upstream_module.index];
    wm_conf_node_t at = {.file = pcf->pass_file, .line = pcf->pass_line};
    char err[WM_CONF_ERRLEN];

    if (pcf->group || pcf->pass_vars) {
        return;
    }
    if (!pcf->url.has_port && !pcf->url.unix_sock) {
        pcf->group = wm_upstream_find(umcf, &pcf->url.addr);
        if (pcf->group) {
            return;
        }
    }
    pcf->group = wm_upstream_implicit(cf->cycle, umcf, &pcf->url.addr,
                                      pcf->url.ssl ? 443 : 80,
                                      wm_http_var_tables, err, sizeof(err));
    if (pcf->group == NULL) {
        wm_conf_error(cf, &at, "%s", err);
    }
}

static const char *
wm_http_proxy_merge(wm_conf_t *cf, void *parent, void *child, unsigned level)
{
    wm_http_proxy_loc_conf_t *prev = parent, *conf = child;

    wm_conf_merge_value(conf->pass_request_headers, prev->pass_request_headers,
                        1);
    wm_conf_merge_value(conf->pass_request_body, prev->pass_request_body, 1);
    wm_conf_merge_value(conf->http_version, prev->http_version,
                        WM_HTTP_VERSION_10);
    wm_conf_merge_value(conf->buffering, prev->buffering, 1);
    wm_conf_merge_value(conf->request_buffering, prev->request_buffering, 1);
    wm_conf_merge_value(conf->intercept_errors, prev->intercept_errors, 0);
    wm_conf_merge_msec(conf->connect_timeout, prev->connect_timeout, 60000);
    wm_conf_merge_msec(conf->send_timeout, prev->send_timeout, 60000);
    wm_conf_merge_msec(conf->read_timeout, prev->read_timeout, 60000);
    wm_conf_merge_value(conf->next_upstream, prev->next_upstream,
                        WM_PX_FT_ERROR | WM_PX_FT_TIMEOUT);
    wm_conf_merge_value(conf->next_upstream_tries, prev->next_upstream_tries,
                        0);
    wm_conf_merge_msec(conf->next_upstream_timeout, prev->next_upstream_timeout,
                       0);
    wm_conf_merge_size(conf->buffer_size, prev->buffer_size, 4096);
    wm_conf_merge_value(conf->nbuffers, prev->nbuffers, 8);
    wm_conf_merge_size(conf->buffers_size, prev->buffers_size, 4096);
    wm_conf_merge_size(conf->busy_buffers_size, prev->busy_buffers_size, 8192);
    if (conf->headers == NULL) {
        conf->headers = prev->headers;
    }
    if (conf->hide == NULL) {
        conf->hide = prev->hide;
    }
    if (conf->pass_hdr == NULL) {
        conf->pass_hdr = prev->pass_hdr;
    }
    if (!conf->redirect_set) {
        conf->redirects = prev->redirects;
        conf->redirect_set = prev->redirect_set;
        conf->redirect_dflt = prev->redirect_dflt;
    }
    if (!conf->cookie_domain_set) {
        conf->cookie_domains = prev->cookie_domains;
        conf->cookie_domain_set = prev->cookie_domain_set;
    }
    if (!conf->cookie_path_set) {
        conf->cookie_paths = prev->cookie_paths;
        conf->cookie_path_set = prev->cookie_path_set;
    }
    if (conf->method == NULL) {
        conf->method = prev->method;
    }
    if (conf->body == NULL) {
        conf->body = prev->body;
    }
    wm_conf_merge_value(conf->ignore_headers, prev->ignore_headers, 0);
    if (conf->connect_timeout == 0 || conf->send_timeout == 0
        || conf->read_timeout == 0)
    {
        return "has a zero proxy timeout";
    }
    if (conf->buffer_size < 64) {
        return "has \"proxy_buffer_size\" under 64 bytes";
    }
    if (conf->busy_buffers_size >= (size_t) conf->nbuffers * conf->buffers_size)
    {
        return "has \"proxy_busy_buffers_size\" not less than the size of "
               "all \"proxy_buffers\"";
    }
    if (level == WM_LVL_LOC && conf->pass.data) {
        const char *rv;

        wm_http_proxy_resolve(cf, conf);
        rv = wm_http_proxy_merge_redirect(cf, conf);
        return rv ? rv : wm_http_proxy_merge_headers(cf, conf);
    }
    return NULL;
}

static const char *
wm_http_proxy_pass(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_proxy_loc_conf_t *pcf = conf;
    wm_http_core_loc_conf_t *clcf = wm_http_conf_core_loc(cf);
    const wm_str_t *arg = &cf->node->args[0];
    const char *rv;

    if (pcf->pass.data) {
        return "is duplicate";
    }
    pcf->pass = *arg;
    pcf->pass_file = cf->node->file;
    pcf->pass_line = cf->node->line;
    pcf->loc_name = clcf->name;
    if (memchr(arg->data, '$', arg->len)) {
        rv = wm_cv_compile(cf->pool, arg, wm_http_var_tables, &pcf->pass_cv);
        if (rv) {
            return rv;
        }
        pcf->pass_vars = 1;
        /* Its scheme may be a variable too: a TLS context, as nginx. */
        wm_http_proxy_ssl_use(cf, pcf);
    } else {
        rv = wm_http_proxy_parse_url(arg, &pcf->url);
        if (rv) {
            return wm_conf_errf(cf, "%s in \"%s\"", rv,
                                (const char *) arg->data);
        }
        if (pcf->url.has_uri
            && (clcf->match == WM_HTTP_LOC_REGEX
                || clcf->match == WM_HTTP_LOC_REGEX_CI
                || clcf->match == WM_HTTP_LOC_NAMED))
        {
            return "cannot have URI part in location given by regular "
                   "expression, or inside named location";
        }
        if (pcf->url.ssl) {
            wm_http_proxy_ssl_use(cf, pcf);
        }
    }
    clcf->handler = wm_http_proxy_handler;
    return NULL;
}

static const char *
wm_http_proxy_set_header(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_proxy_loc_conf_t *pcf = conf;
    wm_http_proxy_header_t *h;

    if (pcf->headers == NULL) {
        pcf->headers = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (pcf->headers == NULL
            || wm_array_init(pcf->headers, cf->pool, 4, sizeof(*h)) != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    h = wm_array_push(pcf->headers);
    if (h == NULL) {
        return "failed: out of memory";
    }
    h->name = cf->node->args[0];
    return wm_cv_compile(cf->pool, &cf->node->args[1], wm_http_var_tables,
                         &h->value);
}

static const char *
wm_http_proxy_str_list(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_array_t **a = (wm_array_t **) ((char *) conf + cmd->offset);
    wm_str_t *s;

    if (*a == NULL) {
        *a = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (*a == NULL
            || wm_array_init(*a, cf->pool, 4, sizeof(wm_str_t)) != WM_OK) {
            return "failed: out of memory";
        }
    }
    s = wm_array_push(*a);
    if (s == NULL) {
        return "failed: out of memory";
    }
    *s = cf->node->args[0];
    return NULL;
}

static const char *
wm_http_proxy_set_next(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_proxy_loc_conf_t *pcf = conf;
    wm_int_t mask = 0;
    size_t i, j;

    if (pcf->next_upstream != WM_CONF_UNSET) {
        return "is duplicate";
    }
    for (i = 0; i < cf->node->nargs; i++) {
        const wm_str_t *a = &cf->node->args[i];

        for (j = 0; wm_http_proxy_next_names[j].name; j++) {
            if (wm_str_eq(a, wm_http_proxy_next_names[j].name)) {
                mask |= wm_http_proxy_next_names[j].value;
                break;
            }
        }
        if (wm_http_proxy_next_names[j].name == NULL) {
            return wm_conf_errf(cf, "has invalid value \"%s\"",
                                (const char *) a->data);
        }
    }
    if ((mask & WM_PX_FT_OFF) && cf->node->nargs > 1) {
        return "has \"off\" with other values";
    }
    pcf->next_upstream = (mask & WM_PX_FT_OFF) ? 0 : mask;
    return NULL;
}

static const char *
wm_http_proxy_set_buffers(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_proxy_loc_conf_t *pcf = conf;
    int64_t n = wm_parse_num(&cf->node->args[0]);
    int64_t size = wm_parse_size(&cf->node->args[1]);

    if (pcf->nbuffers != WM_CONF_UNSET) {
        return "is duplicate";
    }
    if (n < 2 || n > 1024 || size < 64) {
        return wm_conf_errf(cf, "has invalid value \"%s %s\"",
                            (const char *) cf->node->args[0].data,
                            (const char *) cf->node->args[1].data);
    }
    pcf->nbuffers = (wm_int_t) n;
    pcf->buffers_size = (size_t) size;
    return NULL;
}

/* `proxy_redirect default | off | from to;`, repeatable; `off` alone. */
static const char *
wm_http_proxy_set_redirect(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_proxy_loc_conf_t *pcf = conf;
    const wm_conf_node_t *n = cf->node;
    wm_http_proxy_rw_t *rw;

    if (n->nargs == 2) {
        if (pcf->redirect_set && pcf->redirects == NULL) {
            return "has pairs after \"off\"";
        }
        pcf->redirect_set = 1;
        return wm_http_proxy_rw_add(cf, &pcf->redirects, &n->args[0],
                                    &n->args[1], false);
    }
    if (wm_str_eq(&n->args[0], "off")) {
        if (pcf->redirect_set) {
            return "has \"off\" with other values";
        }
        pcf->redirect_set = 1;
        return NULL;
    }
    if (!wm_str_eq(&n->args[0], "default")) {
        return wm_conf_errf(cf, "has invalid value \"%s\"",
                            (const char *) n->args[0].data);
    }
    if (pcf->redirect_set && pcf->redirects == NULL) {
        return "has \"default\" after \"off\"";
    }
    if (pcf->redirect_dflt) {
        return "is duplicate";
    }
    pcf->redirect_set = 1;
    pcf->redirect_dflt = 1;
    if (pcf->redirects == NULL) {
        pcf->redirects = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (pcf->redirects == NULL
            || wm_array_init(pcf->redirects, cf->pool, 2, sizeof(*rw)) != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    rw = wm_array_push(pcf->redirects);
    if (rw == NULL) {
        return "failed: out of memory";
    }
    memset(rw, 0, sizeof(*rw));
    rw->dflt = 1;
    return NULL;
}

/* `proxy_cookie_domain|path off | from to;`, repeatable; `off` alone. */
static const char *
wm_http_proxy_set_cookie(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_proxy_loc_conf_t *pcf = conf;
    const wm_conf_node_t *n = cf->node;
    wm_array_t **list = (wm_array_t **) ((char *) conf + cmd->offset);
    bool domain = cmd->offset == px_off(cookie_domains);
    unsigned set = domain ? pcf->cookie_domain_set : pcf->cookie_path_set;

    if (set && *list == NULL) {
        return "has values after \"off\"";
    }
    if (domain) {
        pcf->cookie_domain_set = 1;
    } else {
        pcf->cookie_path_set = 1;
    }
    if (n->nargs == 2) {
        return wm_http_proxy_rw_add(cf, list, &n->args[0], &n->args[1], domain);
    }
    if (!wm_str_eq(&n->args[0], "off")) {
        return wm_conf_errf(cf, "has invalid value \"%s\"",
                            (const char *) n->args[0].data);
    }
    if (set) {
        return "has \"off\" with other values";
    }
    return NULL;
}

/* A value with variables, at cmd->offset as a wm_cv_t pointer. */
static const char *
wm_http_proxy_set_cv(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_cv_t **cv = (wm_cv_t **) ((char *) conf + cmd->offset);

    if (*cv) {
        return "is duplicate";
    }
    *cv = wm_pcalloc(cf->pool, sizeof(**cv));
    if (*cv == NULL) {
        return "failed: out of memory";
    }
    if (cmd->offset == px_off(method)
        && memchr(cf->node->args[0].data, ' ', cf->node->args[0].len))
    {
        return "has a space in the method";
    }
    return wm_cv_compile(cf->pool, &cf->node->args[0], wm_http_var_tables, *cv);
}

static const char *
wm_http_proxy_set_ignore(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_proxy_loc_conf_t *pcf = conf;
    wm_int_t mask = 0;
    size_t i, j;

    if (pcf->ignore_headers != WM_CONF_UNSET) {
        return "is duplicate";
    }
    for (i = 0; i < cf->node->nargs; i++) {
        const wm_str_t *a = &cf->node->args[i];

        for (j = 0; wm_http_proxy_ignore_names[j].name; j++) {
            if (a->len == strlen(wm_http_proxy_ignore_names[j].name)
                && strncasecmp((const char *) a->data,
                               wm_http_proxy_ignore_names[j].name, a->len)
                       == 0)
            {
                mask |= wm_http_proxy_ignore_names[j].value;
                break;
            }
        }
        if (wm_http_proxy_ignore_names[j].name == NULL) {
            return wm_conf_errf(cf, "has invalid value \"%s\"",
                                (const char *) a->data);
        }
    }
    pcf->ignore_headers = mask;
    return NULL;
}
