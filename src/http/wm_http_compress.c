/*
 * On-the-fly compression: one header filter picks the content coding of a
 * response (br, zstd or gzip, by Accept-Encoding and what the location
 * enables) and one body filter streams the body through that coding's
 * encoder. The settings every coding shares (gzip_vary, gzip_proxied,
 * gzip_disable, gzip_http_version) live here too, with the request checks
 * that the *_static handler also makes.
 */
#include "wm_http_compress.h"
#include "wm_http_file_cache.h"

#include "wm_log.h"

#include <event2/event.h>
#include <time.h>

/* Input bytes fed to the encoder in one go. */
#define WM_HTTP_COMPRESS_SLICE 65536
/* Input bytes compressed in one callback before others get a turn. */
#define WM_HTTP_COMPRESS_BUDGET (1024 * 1024)
/* Compressed bytes waiting in the connection's output above which the
 * filter stops until the socket drains. */
#define WM_HTTP_COMPRESS_BUSY (256 * 1024)
/* Largest body given whole to an encoder's one-shot path. */
#define WM_HTTP_COMPRESS_ONCE_MAX (1024 * 1024)

typedef struct {
    wm_int_t vary;
    wm_int_t proxied;    /* WM_HTTP_PROXIED_* bits */
    wm_array_t *disable; /* wm_http_regex_t; NULL: inherit */
    wm_int_t disable_msie6;
    wm_int_t http_version; /* WM_HTTP_VERSION_10 or _11 */
} wm_http_compress_conf_t;

/* Per-request state, in r->ctx. The encoder, buffers and event are freed
 * by a cleanup of r->pool, so an aborted response leaks nothing. */
typedef struct {
    wm_http_request_t *r;
    const wm_http_encoder_t *enc; /* NULL: the body passes as is */
    void *state;              /* created at the first streamed slice */
    wm_int_t level;
    struct evbuffer *pending; /* input not yet compressed */
    struct evbuffer *out;     /* output for the next filter */
    struct event *ev;         /* resumes compression from the loop */
    wm_http_fcache_key_t key; /* cacheable: the file, coding and level */
    size_t cache_max;
    unsigned cacheable : 1;  /* a miss: keep the coded body */
    unsigned from_cache : 1; /* a hit: out holds the whole coded body */
    unsigned vary : 1;
    unsigned last : 1;     /* the end of the body is in pending */
    unsigned finished : 1; /* the stream was ended */
} wm_http_compress_ctx_t;

static void *wm_http_compress_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_compress_merge(wm_conf_t *cf, void *prev, void *conf,
                                          unsigned level);
static const char *wm_http_compress_set_proxied(wm_conf_t *cf,
                                                const wm_command_t *cmd,
                                                void *conf);
static const char *wm_http_compress_set_disable(wm_conf_t *cf,
                                                const wm_command_t *cmd,
                                                void *conf);
static const char *
wm_http_compress_accepted(wm_conf_t *cf, const wm_command_t *cmd, void *conf);

#define WM_CMP_LOC WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC

static const wm_conf_enum_t wm_http_compress_versions[] = {
    {"1.0", WM_HTTP_VERSION_10},
    {"1.1", WM_HTTP_VERSION_11},
    {NULL, 0},
};

static const wm_command_t wm_http_compress_commands[] = {
    {"gzip_vary", WM_CMP_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag,
     offsetof(wm_http_compress_conf_t, vary), NULL, "off",
     "add \"Vary: Accept-Encoding\" to responses that may be compressed "
     "(every coding, and *_static)"},
    {"gzip_proxied", WM_CMP_LOC, 1, 9, 0, WM_LVL_LOC,
     wm_http_compress_set_proxied, 0, NULL, "off",
     "compress responses to requests with Via: off, expired, no-cache, "
     "no-store, private, no_last_modified, no_etag, auth, any"},
    {"gzip_disable", WM_CMP_LOC, 1, WM_ARGS_MANY, 0, WM_LVL_LOC,
     wm_http_compress_set_disable, 0, NULL, "-",
     "User-Agent regexes (or msie6) that get no compressed response"},
    {"gzip_http_version", WM_CMP_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_enum,
     offsetof(wm_http_compress_conf_t, http_version), wm_http_compress_versions,
     "1.1", "lowest request HTTP version that gets compressed responses"},
    {"gzip_buffers", WM_CMP_LOC, 2, 2, 0, WM_LVL_LOC, wm_http_compress_accepted,
     0, NULL, "-", "accepted for compatibility; wmproxy sizes its own buffers"},
    wm_null_command,
};

wm_module_t wm_http_compress_module = {
    .name = "http_compress",
    .family = WM_MOD_HTTP,
    .commands = wm_http_compress_commands,
    .create_conf = wm_http_compress_create,
    .merge_conf = wm_http_compress_merge,
};

/* The codings in the order of preference on ties (as the negotiation). */
static const struct {
    wm_module_t *module;
    const wm_http_encoder_t *enc;
} wm_http_codings[] = {
    {&wm_http_brotli_module, &wm_http_brotli_encoder},
    {&wm_http_zstd_module, &wm_http_zstd_encoder},
    {&wm_http_gzip_module, &wm_http_gzip_encoder},
};

/* ---- request checks ------------------------------------------------------ */

/* True when the n bytes at s contain word, case-insensitively. */
static bool
wm_http_compress_has(const u_char *s, size_t n, const char *word)
{
    size_t wl = strlen(word), i;

    for (i = 0; i + wl <= n; i++) {
        if (wm_http_caseeq(s + i, word, wl)) {
            return true;
        }
    }
    return false;
}

bool
wm_http_compress_proxied_ok(wm_int_t flags, const wm_http_proxied_t *p)
{
    if (flags & WM_HTTP_PROXIED_OFF) {
        return false;
    }
    if (flags & WM_HTTP_PROXIED_ANY) {
        return true;
    }
    if ((flags & WM_HTTP_PROXIED_AUTH) && p->authorization) {
        return true;
    }
    if (p->expires) {
        time_t t;

        if (!(flags & WM_HTTP_PROXIED_EXPIRED)
            || wm_http_date_parse(p->expires->data, p->expires->len, &t)
                   != WM_OK)
        {
            return false;
        }
        return t <= p->now;
    }
    if (p->cache_control) {
        const u_char *v = p->cache_control->data;
        size_t n = p->cache_control->len;

        return ((flags & WM_HTTP_PROXIED_NO_CACHE)
                && wm_http_compress_has(v, n, "no-cache"))
               || ((flags & WM_HTTP_PROXIED_NO_STORE)
                   && wm_http_compress_has(v, n, "no-store"))
               || ((flags & WM_HTTP_PROXIED_PRIVATE)
                   && wm_http_compress_has(v, n, "private"));
    }
    if ((flags & WM_HTTP_PROXIED_NO_LM) && p->last_modified) {
        return false;
    }
    if ((flags & WM_HTTP_PROXIED_NO_ETAG) && p->etag) {
        return false;
    }
    return true;
}

bool
wm_http_compress_is_msie6(const wm_str_t *ua)
{
    const u_char *p = ua->data, *end = ua->data + ua->len;

    for (; p + 7 <= end; p++) {
        if (memcmp(p, "MSIE ", 5) != 0) {
            continue;
        }
        if (wm_http_compress_has(ua->data, ua->len, "opera")) {
            return false;
        }
        if (p[6] != '.') {
            return false;
        }
        if (p[5] == '4' || p[5] == '5') {
            return true;
        }
        return p[5] == '6'
               && !wm_http_compress_has(p + 7, (size_t) (end - p - 7), "SV1");
    }
    return false;
}

/* The first response header `name` that modules added (a proxied response's
 * headers are there), or NULL. */
static wm_str_t *
wm_http_compress_out_header(wm_http_request_t *r, const char *name)
{
    wm_http_header_t *h = r->out_headers.elts;
    size_t i, n = strlen(name);

    for (i = 0; i < r->out_headers.nelts; i++) {
        if (h[i].name.len == n && wm_http_caseeq(h[i].name.data, name, n)) {
            return &h[i].value;
        }
    }
    return NULL;
}

bool
wm_http_compress_request_ok(wm_http_request_t *r)
{
    wm_http_compress_conf_t *ccf = wm_http_loc_conf(r, wm_http_compress_module);
    wm_http_header_t *ua;

    if (r->head.version < (wm_uint_t) ccf->http_version) {
        return false;
    }
    if (wm_http_header_find(&r->head, "Via")) {
        wm_http_proxied_t p = {
            .expires = wm_http_compress_out_header(r, "Expires"),
            .cache_control = wm_http_compress_out_header(r, "Cache-Control"),
            .now = time(NULL),
            .authorization =
                wm_http_header_find(&r->head, "Authorization") != NULL,
            .last_modified = r->last_modified >= 0
                             || wm_http_compress_out_header(r, "Last-Modified"),
            .etag = r->etag.len > 0 || wm_http_compress_out_header(r, "ETag"),
        };

        if (!wm_http_compress_proxied_ok(ccf->proxied, &p)) {
            return false;
        }
    }
    ua = wm_http_header_find(&r->head, "User-Agent");
    if (ua && ccf->disable_msie6 && wm_http_compress_is_msie6(&ua->value)) {
        return false;
    }
    if (ua && ccf->disable) {
        wm_http_regex_t *re = ccf->disable->elts;
        size_t i;

        for (i = 0; i < ccf->disable->nelts; i++) {
            if (wm_http_regex_exec(&re[i], &ua->value, NULL) == 1) {
                return false;
            }
        }
    }
    return true;
}

wm_http_coding_t
wm_http_compress_negotiate(wm_http_request_t *r, unsigned allowed)
{
    wm_http_header_t *h = r->head.headers;
    wm_str_t values[16];
    size_t i, n = 0;
    bool refused;

    for (i = 0; i < r->head.nheaders && n < wm_nelems(values); i++) {
        if (h[i].name.len == 15
            && wm_http_caseeq(h[i].name.data, "Accept-Encoding", 15))
        {
            values[n++] = h[i].value;
        }
    }
    return wm_http_negotiate_encoding(values, n, allowed, &refused);
}

static wm_http_compress_ctx_t *
wm_http_compress_ctx(wm_http_request_t *r)
{
    wm_http_compress_ctx_t *ctx = r->ctx[wm_http_compress_module.index];

    if (ctx == NULL) {
        ctx = wm_pcalloc(r->pool, sizeof(*ctx));
        if (ctx == NULL) {
            return NULL;
        }
        ctx->r = r;
        r->ctx[wm_http_compress_module.index] = ctx;
    }
    return ctx;
}

wm_int_t
wm_http_compress_set_vary(wm_http_request_t *r)
{
    wm_http_compress_ctx_t *ctx = wm_http_compress_ctx(r);

    if (ctx == NULL) {
        return WM_ERROR;
    }
    ctx->vary = 1;
    return WM_OK;
}

bool
wm_http_compress_vary_on(wm_http_request_t *r)
{
    wm_http_compress_conf_t *ccf = wm_http_loc_conf(r, wm_http_compress_module);

    return ccf->vary == 1;
}

/* ---- the header filter --------------------------------------------------- */

static void
wm_http_compress_cleanup(void *data)
{
    wm_http_compress_ctx_t *ctx = data;

    if (ctx->state) {
        ctx->enc->destroy(ctx->state);
        ctx->state = NULL;
    }
    if (ctx->ev) {
        event_free(ctx->ev);
    }
    if (ctx->pending) {
        evbuffer_free(ctx->pending);
    }
    if (ctx->out) {
        evbuffer_free(ctx->out);
    }
}

static void wm_http_compress_resume(evutil_socket_t fd, short what, void *arg);
static wm_int_t wm_http_compress_once(wm_http_compress_ctx_t *ctx, size_t len);

/*
 * A whole static file that the one-shot path would compress is cacheable:
 * on a hit, out gets the coded body now and the file is not read; on a
 * miss, wm_http_compress_once() keeps what it makes. WM_ERROR when out of
 * memory.
 */
static wm_int_t
wm_http_compress_cache_lookup(wm_http_request_t *r,
                              wm_http_compress_ctx_t *ctx)
{
    size_t max = wm_http_static_cache_size(r), len;
    const u_char *data;

    if (!r->file_known || max == 0 || ctx->enc->compress_once == NULL
        || r->content_length < 0
        || r->content_length > WM_HTTP_COMPRESS_ONCE_MAX)
    {
        return WM_OK;
    }
    wm_http_fcache_key_file(&ctx->key, &r->file_stat);
    ctx->key.coding = ctx->enc->coding;
    ctx->key.level = (uint32_t) ctx->level;
    ctx->cache_max = max;
    data = wm_http_fcache_get(&ctx->key, &len);
    if (data == NULL) {
        ctx->cacheable = 1;
        return WM_OK;
    }
    if (evbuffer_add(ctx->out, data, len) != 0) {
        return WM_ERROR;
    }
    ctx->from_cache = 1;
    r->file_body_unneeded = 1;
    wm_log_debug(&r->c->log, "%s: %zu bytes from the static-file cache",
                 ctx->enc->name, len);
    return WM_OK;
}

/* Sets up ctx to compress with enc at level. WM_OK, or WM_ERROR when out
 * of memory (the response then goes out uncompressed). */
static wm_int_t
wm_http_compress_start(wm_http_request_t *r, wm_http_compress_ctx_t *ctx,
                       const wm_http_encoder_t *enc, wm_int_t level)
{
    ctx->pending = evbuffer_new();
    ctx->out = evbuffer_new();
    ctx->ev =
        event_new(r->c->base, r->c->fd, EV_WRITE, wm_http_compress_resume, ctx);
    ctx->level = level;
    ctx->enc = enc;
    if (wm_pool_cleanup_add(r->pool, wm_http_compress_cleanup, ctx) != WM_OK) {
        wm_http_compress_cleanup(ctx);
        ctx->enc = NULL;
        return WM_ERROR;
    }
    if (ctx->pending == NULL || ctx->out == NULL || ctx->ev == NULL) {
        ctx->enc = NULL; /* the cleanup frees what was made */
        return WM_ERROR;
    }
    return WM_OK;
}

/* Makes a strong entity tag weak (the coded bytes differ from those the
 * tag named): W/ before it, in r's pool. A NULL or empty etag stays. */
static wm_int_t
wm_http_compress_weaken(wm_http_request_t *r, wm_str_t *etag)
{
    u_char *weak;

    if (etag == NULL || etag->len == 0
        || (etag->len > 2 && etag->data[0] == 'W' && etag->data[1] == '/'))
    {
        return WM_OK;
    }
    weak = wm_palloc(r->pool, etag->len + 2);
    if (weak == NULL) {
        return WM_ERROR;
    }
    weak[0] = 'W';
    weak[1] = '/';
    memcpy(weak + 2, etag->data, etag->len);
    etag->data = weak;
    etag->len += 2;
    return WM_OK;
}

wm_int_t
wm_http_compress_header_filter(wm_http_request_t *r)
{
    static const wm_str_t vary = wm_string("Accept-Encoding");
    wm_http_compress_ctx_t *ctx;
    wm_http_coding_conf_t *cc;
    wm_http_coding_t coding;
    unsigned allowed = 0;
    bool varies;
    size_t i;

    if (r->loc_confs == NULL) {
        return WM_OK;
    }
    ctx = r->ctx[wm_http_compress_module.index];
    varies = ctx && ctx->vary;
    if ((r->status != 200 && r->status != 403 && r->status != 404)
        || r->head.method == WM_HTTP_HEAD || r->header_only
        || wm_http_compress_out_header(r, "Content-Encoding"))
    {
        goto done;
    }
    for (i = 0; i < wm_nelems(wm_http_codings); i++) {
        cc = wm_http_loc_conf(r, *wm_http_codings[i].module);
        if (cc->enable != 1
            || (r->content_length >= 0
                && (uint64_t) r->content_length < cc->min_length)
            || !wm_http_type_match(&r->content_type, cc->types->elts,
                                   cc->types->nelts))
        {
            continue;
        }
        allowed |= wm_http_codings[i].enc->coding;
        varies = true;
    }
    if (allowed == 0 || !wm_http_compress_request_ok(r)) {
        goto done;
    }
    coding = wm_http_compress_negotiate(r, allowed);
    for (i = 0; coding && i < wm_nelems(wm_http_codings); i++) {
        const wm_http_encoder_t *enc = wm_http_codings[i].enc;
        wm_str_t name;

        if (enc->coding != coding) {
            continue;
        }
        cc = wm_http_loc_conf(r, *wm_http_codings[i].module);
        ctx = wm_http_compress_ctx(r);
        if (ctx == NULL
            || wm_http_compress_start(r, ctx, enc, cc->comp_level) != WM_OK) {
            wm_log_error(WM_LOG_ALERT, wm_http_request_log(r), ENOMEM,
                         "cannot start %s compression", enc->name);
            goto done;
        }
        if (wm_http_compress_cache_lookup(r, ctx) != WM_OK) {
            return WM_ERROR;
        }
        name.data = (u_char *) wm_http_coding_name(coding);
        name.len = strlen((const char *) name.data);
        if (wm_http_add_header(r, "Content-Encoding", &name) != WM_OK) {
            return WM_ERROR;
        }
        r->content_length = -1;
        r->allow_ranges = 0;
        /* The encoder reads the bytes: a sendfile segment has none. */
        r->filter_need_in_memory = 1;
        if (wm_http_compress_weaken(r, &r->etag) != WM_OK
            || wm_http_compress_weaken(r,
                                       wm_http_compress_out_header(r, "ETag"))
                   != WM_OK)
        {
            return WM_ERROR;
        }
    }
done:
    if (varies && wm_http_compress_vary_on(r)) {
        return wm_http_add_header(r, "Vary", &vary);
    }
    return WM_OK;
}

/* ---- the body filter ----------------------------------------------------- */

/*
 * Compresses what is pending, passing the output on after each slice. It
 * stops when the connection's output holds more than WM_HTTP_COMPRESS_BUSY
 * (and resumes when the socket is writable) or after
 * WM_HTTP_COMPRESS_BUDGET bytes (and resumes from the loop), so that a big
 * file neither piles up compressed in memory nor holds the worker.
 */
static wm_int_t
wm_http_compress_run(wm_http_compress_ctx_t *ctx)
{
    wm_http_request_t *r = ctx->r;
    size_t budget = WM_HTTP_COMPRESS_BUDGET;
    wm_int_t rc;

    while (!ctx->finished) {
        struct evbuffer_iovec v[4];
        size_t used = 0;
        bool end;
        int i, n;

        if (r->c->closing) {
            return WM_OK;
        }
        if (evbuffer_get_length(r->c->out) > WM_HTTP_COMPRESS_BUSY) {
            wm_log_debug(&r->c->log, "%s: waiting for the client to read",
                         ctx->enc->name);
            event_add(ctx->ev, NULL);
            return WM_OK;
        }
        if (budget == 0) {
            event_active(ctx->ev, EV_WRITE, 1);
            return WM_OK;
        }
        if (ctx->state == NULL) {
            size_t whole = evbuffer_get_length(ctx->pending);

            if (ctx->last && ctx->enc->compress_once
                && whole <= WM_HTTP_COMPRESS_ONCE_MAX)
            {
                return wm_http_compress_once(ctx, whole);
            }
            ctx->state = ctx->enc->create(ctx->level, r->content_length);
            if (ctx->state == NULL) {
                goto failed;
            }
        }
        n = evbuffer_peek(ctx->pending,
                          (ev_ssize_t) wm_min(budget, WM_HTTP_COMPRESS_SLICE),
                          NULL, v, 4);
        for (i = 0; i < n && i < 4 && used < WM_HTTP_COMPRESS_SLICE; i++) {
            size_t len = wm_min(v[i].iov_len, WM_HTTP_COMPRESS_SLICE - used);

            if (ctx->enc->compress(ctx->state, v[i].iov_base, len, false,
                                   ctx->out)
                != WM_OK)
            {
                goto failed;
            }
            used += len;
        }
        evbuffer_drain(ctx->pending, used);
        budget -= wm_min(budget, used);
        end = ctx->last && evbuffer_get_length(ctx->pending) == 0;
        if (end) {
            if (ctx->enc->compress(ctx->state, NULL, 0, true, ctx->out)
                != WM_OK) {
                goto failed;
            }
            ctx->finished = 1;
            ctx->enc->destroy(ctx->state);
            ctx->state = NULL;
        }
        if (evbuffer_get_length(ctx->out) || end) {
            rc = wm_http_body_next(r, wm_http_compress_body_filter, ctx->out,
                                   end);
            if (rc != WM_OK) {
                return rc;
            }
        }
        if (!end && evbuffer_get_length(ctx->pending) == 0) {
            return WM_OK;
        }
    }
    return WM_OK;

failed:
    wm_log_error(WM_LOG_ALERT, wm_http_request_log(r), 0,
                 "%s compression failed", ctx->enc->name);
    ctx->finished = 1;
    evbuffer_drain(ctx->pending, evbuffer_get_length(ctx->pending));
    return WM_ERROR;
}

/* The whole body (len bytes, all in pending) through the encoder's
 * one-shot path, then on to the next filter as the last buffer. */
static wm_int_t
wm_http_compress_once(wm_http_compress_ctx_t *ctx, size_t len)
{
    u_char *in = evbuffer_pullup(ctx->pending, (ev_ssize_t) len);

    ctx->finished = 1;
    if ((in == NULL && len)
        || ctx->enc->compress_once(ctx->level, in, len, ctx->out) != WM_OK)
    {
        wm_log_error(WM_LOG_ALERT, wm_http_request_log(ctx->r), 0,
                     "%s compression failed", ctx->enc->name);
        evbuffer_drain(ctx->pending, len);
        return WM_ERROR;
    }
    evbuffer_drain(ctx->pending, len);
    if (ctx->cacheable) {
        size_t n = evbuffer_get_length(ctx->out);
        const u_char *coded = evbuffer_pullup(ctx->out, (ev_ssize_t) n);

        if (coded) {
            wm_http_fcache_put(&ctx->key, coded, n, ctx->cache_max);
        }
    }
    return wm_http_body_next(ctx->r, wm_http_compress_body_filter, ctx->out,
                             true);
}

static void
wm_http_compress_resume(evutil_socket_t fd, short what, void *arg)
{
    wm_http_compress_ctx_t *ctx = arg;

    if (ctx->r->c->closing || ctx->finished) {
        return;
    }
    if (wm_http_compress_run(ctx) != WM_OK) {
        wm_http_finalize(ctx->r, WM_ERROR);
    }
}

wm_int_t
wm_http_compress_body_filter(wm_http_request_t *r, struct evbuffer *in,
                             bool last)
{
    wm_http_compress_ctx_t *ctx = r->ctx[wm_http_compress_module.index];

    if (ctx == NULL || ctx->enc == NULL) {
        return wm_http_body_next(r, wm_http_compress_body_filter, in, last);
    }
    if (ctx->finished) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return WM_OK;
    }
    if (ctx->from_cache) {
        evbuffer_drain(in, evbuffer_get_length(in));
        if (!last) {
            return WM_OK;
        }
        ctx->finished = 1;
        return wm_http_body_next(r, wm_http_compress_body_filter, ctx->out,
                                 true);
    }
    if (evbuffer_add_buffer(ctx->pending, in) != 0) {
        return WM_ERROR;
    }
    if (last) {
        ctx->last = 1;
    }
    return wm_http_compress_run(ctx);
}

/* ---- directives ---------------------------------------------------------- */

static const char *
wm_http_compress_set_proxied(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    static const wm_conf_enum_t names[] = {
        {"off", WM_HTTP_PROXIED_OFF},
        {"expired", WM_HTTP_PROXIED_EXPIRED},
        {"no-cache", WM_HTTP_PROXIED_NO_CACHE},
        {"no-store", WM_HTTP_PROXIED_NO_STORE},
        {"private", WM_HTTP_PROXIED_PRIVATE},
        {"no_last_modified", WM_HTTP_PROXIED_NO_LM},
        {"no_etag", WM_HTTP_PROXIED_NO_ETAG},
        {"auth", WM_HTTP_PROXIED_AUTH},
        {"any", WM_HTTP_PROXIED_ANY},
        {NULL, 0},
    };
    wm_http_compress_conf_t *ccf = conf;
    size_t i, j;

    if (ccf->proxied != WM_CONF_UNSET) {
        return "is duplicate";
    }
    ccf->proxied = 0;
    for (i = 0; i < cf->node->nargs; i++) {
        const wm_str_t *arg = &cf->node->args[i];

        for (j = 0; names[j].name; j++) {
            if (wm_str_eq(arg, names[j].name)) {
                break;
            }
        }
        if (names[j].name == NULL) {
            return wm_conf_errf(cf, "has invalid value \"%s\"",
                                (const char *) arg->data);
        }
        ccf->proxied |= names[j].value;
    }
    if ((ccf->proxied & WM_HTTP_PROXIED_OFF)
        && ccf->proxied != WM_HTTP_PROXIED_OFF) {
        return "has \"off\" with other values";
    }
    return NULL;
}

static const char *
wm_http_compress_set_disable(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_compress_conf_t *ccf = conf;
    size_t i;

    if (ccf->disable_msie6 != WM_CONF_UNSET) {
        return "is duplicate";
    }
    ccf->disable_msie6 = 0;
    for (i = 0; i < cf->node->nargs; i++) {
        const wm_str_t *arg = &cf->node->args[i];
        wm_http_regex_t *re;
        const char *rv;

        if (wm_str_eq(arg, "msie6")) {
            ccf->disable_msie6 = 1;
            continue;
        }
        if (ccf->disable == NULL) {
            ccf->disable = wm_palloc(cf->pool, sizeof(wm_array_t));
            if (ccf->disable == NULL
                || wm_array_init(ccf->disable, cf->pool, 2, sizeof(*re))
                       != WM_OK)
            {
                return "failed: out of memory";
            }
        }
        re = wm_array_push(ccf->disable);
        if (re == NULL) {
            return "failed: out of memory";
        }
        /* Caseless, as nginx compiles gzip_disable. */
        rv = wm_http_regex_compile(cf->pool, arg, true, re);
        if (rv) {
            return rv;
        }
    }
    return NULL;
}

static const char *
wm_http_compress_accepted(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    return NULL;
}

static void *
wm_http_compress_create(wm_conf_t *cf, unsigned level)
{
    wm_http_compress_conf_t *ccf = wm_pcalloc(cf->pool, sizeof(*ccf));

    if (ccf == NULL) {
        return NULL;
    }
    ccf->vary = WM_CONF_UNSET;
    ccf->proxied = WM_CONF_UNSET;
    ccf->disable_msie6 = WM_CONF_UNSET;
    ccf->http_version = WM_CONF_UNSET;
    return ccf;
}

static const char *
wm_http_compress_merge(wm_conf_t *cf, void *parent, void *child, unsigned level)
{
    wm_http_compress_conf_t *prev = parent, *conf = child;

    if (level != WM_LVL_LOC) {
        return NULL;
    }
    wm_conf_merge_value(conf->vary, prev->vary, 0);
    wm_conf_merge_value(conf->proxied, prev->proxied, WM_HTTP_PROXIED_OFF);
    wm_conf_merge_value(conf->http_version, prev->http_version,
                        WM_HTTP_VERSION_11);
    if (conf->disable_msie6 == WM_CONF_UNSET) {
        conf->disable = prev->disable;
        conf->disable_msie6 =
            prev->disable_msie6 == WM_CONF_UNSET ? 0 : prev->disable_msie6;
    }
    return NULL;
}

/* ---- the coding modules' conf -------------------------------------------- */

void *
wm_http_coding_conf_create(wm_conf_t *cf, unsigned level)
{
    wm_http_coding_conf_t *cc = wm_pcalloc(cf->pool, sizeof(*cc));

    if (cc == NULL) {
        return NULL;
    }
    cc->enable = WM_CONF_UNSET;
    cc->min_length = WM_CONF_UNSET_SIZE;
    cc->comp_level = WM_CONF_UNSET;
    return cc;
}

const char *
wm_http_coding_conf_merge(wm_http_coding_conf_t *prev,
                          wm_http_coding_conf_t *conf, wm_int_t default_level)
{
    static wm_str_t html = wm_string("text/html");
    static wm_array_t html_only = {
        .elts = &html, .nelts = 1, .size = sizeof(wm_str_t), .nalloc = 1};

    wm_conf_merge_value(conf->enable, prev->enable, 0);
    wm_conf_merge_size(conf->min_length, prev->min_length, 20);
    wm_conf_merge_value(conf->comp_level, prev->comp_level, default_level);
    if (conf->types == NULL) {
        conf->types = prev->types ? prev->types : &html_only;
    }
    return NULL;
}

const char *
wm_http_coding_set_enable(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    const wm_http_encoder_t *enc = cmd->post;
    const char *rv = wm_conf_set_flag(cf, cmd, conf);

    if (rv == NULL && ((wm_http_coding_conf_t *) conf)->enable
        && enc->create == NULL)
    {
        return wm_conf_errf(cf,
                            "is not built in (wmproxy was configured "
                            "--without-%s)",
                            enc->lib);
    }
    return rv;
}

const char *
wm_http_coding_set_types(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_coding_conf_t *cc = conf;
    wm_str_t *t;
    size_t i;

    if (cc->types) {
        return "is duplicate";
    }
    cc->types = wm_palloc(cf->pool, sizeof(wm_array_t));
    if (cc->types == NULL
        || wm_array_init(cc->types, cf->pool, cf->node->nargs + 1,
                         sizeof(wm_str_t))
               != WM_OK)
    {
        return "failed: out of memory";
    }
    /* As nginx: text/html is always in the list. */
    t = wm_array_push(cc->types);
    if (t == NULL) {
        return "failed: out of memory";
    }
    wm_str_set(t, "text/html");
    for (i = 0; i < cf->node->nargs; i++) {
        t = wm_array_push(cc->types);
        if (t == NULL) {
            return "failed: out of memory";
        }
        *t = cf->node->args[i];
    }
    return NULL;
}
