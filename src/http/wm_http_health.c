/*
 * HTTP active health checks: the directives (`health_check` in an http
 * upstream block, `match` blocks with status, header and body lines) and
 * the "http" check type that the shared driver (wm_health.c) runs: it
 * sends `GET uri HTTP/1.1` with the group's name as Host, parses the
 * response head with the upstream response parser, reads the body when
 * the match tests it, and judges with wm_http_health_test().
 */
#include "wm_http_health.h"

#include <event2/buffer.h>

/* Header fields of a check's response the parser keeps at most. */
#define WM_HTTP_HEALTH_HEADERS 64

/* The state of one running check (the probe's data). */
typedef struct {
    wm_http_parse_conf_t pconf;
    wm_http_parser_t parser;
    wm_http_status_t st;
    wm_http_header_t headers[WM_HTTP_HEALTH_HEADERS];
    size_t off; /* where the current head starts in the input */
    unsigned head_done : 1;
    char reason[256];
} wm_http_health_probe_t;

/* ---- configuration ------------------------------------------------------ */

/* A uri= value: an origin-form target of visible ASCII but '#'. */
static bool
wm_http_health_uri_ok(const wm_str_t *uri)
{
    size_t i;

    if (uri->len == 0 || uri->data[0] != '/') {
        return false;
    }
    for (i = 0; i < uri->len; i++) {
        if (uri->data[i] <= 0x20 || uri->data[i] >= 0x7f || uri->data[i] == '#')
        {
            return false;
        }
    }
    return true;
}

const char *
wm_http_health_check(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_upstream_group_t *g = conf;
    const wm_conf_node_t *n = cf->node;
    wm_http_health_conf_t *hhc;
    wm_health_conf_t *hc;
    char err[WM_CONF_ERRLEN];
    wm_str_t v;
    wm_int_t rc;
    size_t i;

    if (g->health) {
        return "is duplicate";
    }
    hc = wm_health_conf_new(cf->pool);
    hhc = wm_pcalloc(cf->pool, sizeof(*hhc));
    if (hc == NULL || hhc == NULL) {
        return "failed: out of memory";
    }
    hc->file = n->file;
    hc->line = n->line;
    hhc->uri.data = (u_char *) "/";
    hhc->uri.len = 1;
    hhc->host = g->name;
    for (i = 0; i < n->nargs; i++) {
        rc = wm_health_parse_param(hc, &n->args[i], err, sizeof(err));
        if (rc == WM_ERROR) {
            return wm_conf_errf(cf, "has %s", err);
        }
        if (rc == WM_OK) {
            continue;
        }
        if (!wm_upstream_param(&n->args[i], "uri=", &v)
            || !wm_http_health_uri_ok(&v)) {
            return wm_conf_errf(cf, "has invalid parameter \"%s\"",
                                (const char *) n->args[i].data);
        }
        hhc->uri = v;
    }
    hc->type = &wm_http_health_type;
    hc->type_conf = hhc;
    g->health = hc;
    return NULL;
}

static wm_http_health_match_t *
wm_http_health_match_find(const wm_array_t *matches, const wm_str_t *name)
{
    wm_http_health_match_t **m = matches->elts;
    size_t i;

    for (i = 0; i < matches->nelts; i++) {
        if (m[i]->name.len == name->len
            && memcmp(m[i]->name.data, name->data, name->len) == 0)
        {
            return m[i];
        }
    }
    return NULL;
}

const char *
wm_http_health_match_block(wm_conf_t *cf, const wm_module_t *module,
                           wm_upstream_main_conf_t *umcf)
{
    const wm_conf_node_t *node = cf->node;
    wm_http_health_match_t *m, **slot;

    if (wm_http_health_match_find(&umcf->matches, &node->args[0]) != NULL) {
        return wm_conf_errf(cf, "has duplicate match \"%s\"",
                            (const char *) node->args[0].data);
    }
    m = wm_pcalloc(cf->pool, sizeof(*m));
    slot = wm_array_push(&umcf->matches);
    if (m == NULL || slot == NULL) {
        return "failed: out of memory";
    }
    m->name = node->args[0];
    m->file = node->file;
    m->line = node->line;
    *slot = m;
    if (wm_upstream_walk(cf, module, WM_CTX_HTTP_MATCH, m) != WM_OK) {
        return "failed: out of memory";
    }
    return NULL;
}

const char *
wm_http_health_set_status(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_health_match_t *m = conf;
    wm_http_health_status_t *s, **tail;
    char err[WM_CONF_ERRLEN];

    s = wm_pcalloc(cf->pool, sizeof(*s));
    if (s == NULL) {
        return "failed: out of memory";
    }
    if (wm_http_health_parse_status(cf->node->args, cf->node->nargs, s, err,
                                    sizeof(err))
        != WM_OK)
    {
        return wm_conf_errf(cf, "%s", err);
    }
    for (tail = &m->status; *tail; tail = &(*tail)->next) {
    }
    *tail = s;
    return NULL;
}

const char *
wm_http_health_set_cond(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_health_match_t *m = conf;
    bool body = strcmp(cmd->name, "body") == 0;
    wm_http_health_cond_t *c, **tail;
    char err[WM_CONF_ERRLEN];

    c = wm_pcalloc(cf->pool, sizeof(*c));
    if (c == NULL) {
        return "failed: out of memory";
    }
    if (wm_http_health_parse_cond(cf->node->args, cf->node->nargs, body,
                                  cf->pool, c, err, sizeof(err))
        != WM_OK)
    {
        return wm_conf_errf(cf, "%s", err);
    }
    for (tail = body ? &m->body : &m->header; *tail; tail = &(*tail)->next) {
    }
    *tail = c;
    return NULL;
}

/* Completes one group's check: NULL, or the error in err. */
static const char *
wm_http_health_resolve_group(wm_upstream_group_t *g, wm_http_health_conf_t *hhc,
                             const wm_array_t *matches, char *err,
                             size_t errlen)
{
    const wm_health_conf_t *hc = g->health;

    if (g->zone_name.len == 0) {
        snprintf(err, errlen,
                 "\"health_check\" directive requires a \"zone\" in "
                 "upstream \"%s\"",
                 (const char *) g->name.data);
        return err;
    }
    if (hc->match.len) {
        hhc->match = wm_http_health_match_find(matches, &hc->match);
        if (hhc->match == NULL) {
            snprintf(err, errlen,
                     "\"health_check\" directive refers to unknown match "
                     "\"%.*s\"",
                     (int) hc->match.len, (const char *) hc->match.data);
            return err;
        }
    }
    return NULL;
}

const char *
wm_http_health_resolve(wm_conf_t *cf, wm_upstream_main_conf_t *umcf)
{
    wm_upstream_group_t **gs = umcf->groups.elts;
    char err[WM_CONF_ERRLEN];
    const char *rv;
    size_t i;

    for (i = 0; i < umcf->groups.nelts; i++) {
        wm_health_conf_t *hc = gs[i]->health;
        wm_http_health_conf_t *hhc;

        if (hc == NULL || hc->type != &wm_http_health_type) {
            continue;
        }
        hhc = (wm_http_health_conf_t *) (uintptr_t) hc->type_conf;
        if (hhc->resolved) {
            continue;
        }
        hhc->resolved = 1;
        rv = wm_http_health_resolve_group(gs[i], hhc, &umcf->matches, err,
                                          sizeof(err));
        if (rv == NULL) {
            continue;
        }
        if (cf == NULL) {
            return wm_psprintf(umcf->groups.pool, "%s", rv);
        }
        wm_conf_node_t at = {.file = hc->file, .line = hc->line};
        wm_conf_error(cf, &at, "%s", rv);
    }
    return NULL;
}

/* ---- the check type ----------------------------------------------------- */

static wm_int_t
wm_http_health_send(wm_health_probe_t *p, struct evbuffer *out)
{
    const wm_http_health_conf_t *hhc = p->conf->type_conf;
    wm_http_health_probe_t *d;

    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return WM_ERROR;
    }
    p->data = d;
    wm_http_parse_conf_init(&d->pconf);
    wm_http_parser_init_status(&d->parser, &d->pconf, &d->st, d->headers,
                               WM_HTTP_HEALTH_HEADERS);
    if (evbuffer_add_printf(out,
                            "GET %.*s HTTP/1.1\r\n"
                            "Host: %.*s\r\n"
                            "User-Agent: wmproxy health check\r\n"
                            "Connection: close\r\n"
                            "\r\n",
                            (int) hhc->uri.len, (const char *) hhc->uri.data,
                            (int) hhc->host.len, (const char *) hhc->host.data)
        < 0)
    {
        return WM_ERROR;
    }
    return WM_OK;
}

static void
wm_http_health_cleanup(wm_health_probe_t *p)
{
    free(p->data);
    p->data = NULL;
}

/* FAIL with "health check failed: ..." as the reason. */
static wm_health_verdict_t wm_http_health_fail(wm_health_probe_t *p,
                                               const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static wm_health_verdict_t
wm_http_health_fail(wm_health_probe_t *p, const char *fmt, ...)
{
    wm_http_health_probe_t *d = p->data;
    va_list ap;
    int n;

    n = snprintf(d->reason, sizeof(d->reason), "health check failed: ");
    va_start(ap, fmt);
    vsnprintf(d->reason + n, sizeof(d->reason) - (size_t) n, fmt, ap);
    va_end(ap);
    p->reason = d->reason;
    return WM_HEALTH_FAIL;
}

/* The verdict of the match on the parsed head and len bytes of body. */
static wm_health_verdict_t
wm_http_health_judge(wm_health_probe_t *p, const u_char *body, size_t len)
{
    const wm_http_health_conf_t *hhc = p->conf->type_conf;
    wm_http_health_probe_t *d = p->data;
    const char *what = wm_http_health_test(hhc->match, &d->st, body, len);

    if (what == NULL) {
        return WM_HEALTH_PASS;
    }
    if (hhc->match == NULL) {
        return wm_http_health_fail(p, "status %u", (unsigned) d->st.status);
    }
    if (strcmp(what, "status") == 0) {
        return wm_http_health_fail(p, "status %u does not match",
                                   (unsigned) d->st.status);
    }
    return wm_http_health_fail(p, "the %s does not match", what);
}

/* Judges a chunked body once its last chunk came, or with what came when
 * the read bound was reached. */
static wm_health_verdict_t
wm_http_health_chunked(wm_health_probe_t *p, u_char *raw, size_t len,
                       bool capped, bool final)
{
    wm_http_chunked_t ch;
    wm_health_verdict_t v;
    size_t used, n = 0;
    wm_str_t data;
    u_char *body;
    wm_int_t rc = WM_AGAIN;

    body = malloc(len + 1);
    if (body == NULL) {
        return wm_http_health_fail(p, "out of memory");
    }
    wm_http_chunked_init(&ch);
    while (len > 0) {
        rc = wm_http_chunked_parse(&ch, raw, len, &used, &data);
        raw += used;
        len -= used;
        if (rc == WM_OK) {
            memcpy(body + n, data.data, data.len);
            n += data.len;
            continue;
        }
        break;
    }
    if (rc == WM_ERROR) {
        v = wm_http_health_fail(p, "%s",
                                ch.error ? ch.error : "invalid chunked body");
    } else if (rc == WM_DONE || capped) {
        v = wm_http_health_judge(p, body, n);
    } else if (final) {
        v = wm_http_health_fail(p, "upstream prematurely closed connection");
    } else {
        v = WM_HEALTH_MORE;
    }
    free(body);
    return v;
}

static wm_health_verdict_t
wm_http_health_verdict(wm_health_probe_t *p, wm_health_event_t ev,
                       struct evbuffer *in)
{
    const wm_http_health_conf_t *hhc = p->conf->type_conf;
    wm_http_health_probe_t *d = p->data;
    size_t len = evbuffer_get_length(in), blen;
    bool final = ev == WM_HEALTH_EV_EOF;
    bool capped = len >= WM_HEALTH_READ_MAX;
    wm_http_framing_t f;
    u_char *buf, *body;
    wm_int_t rc;

    if (d == NULL) {
        return WM_HEALTH_MORE; /* not connected yet */
    }
    buf = len ? evbuffer_pullup(in, -1) : NULL;
    while (!d->head_done) {
        if (len == d->off) {
            if (final) {
                return wm_http_health_fail(p, len ? "no final response head"
                                                  : "no response");
            }
            return WM_HEALTH_MORE;
        }
        rc = wm_http_parse_status(&d->parser, buf + d->off, len - d->off);
        if (rc == WM_AGAIN) {
            if (final) {
                return wm_http_health_fail(p, "incomplete response head");
            }
            return WM_HEALTH_MORE;
        }
        if (rc == WM_ERROR) {
            return wm_http_health_fail(p, "%s", d->st.error);
        }
        if (d->st.interim) {
            d->off += d->st.head_len;
            wm_http_parser_init_status(&d->parser, &d->pconf, &d->st,
                                       d->headers, WM_HTTP_HEALTH_HEADERS);
            continue;
        }
        d->head_done = 1;
    }
    if (!wm_http_health_wants_body(hhc->match)) {
        return wm_http_health_judge(p, NULL, 0);
    }

    wm_http_response_framing(&d->st, WM_HTTP_GET, &f);
    body = buf + d->off + d->st.head_len;
    blen = len - d->off - d->st.head_len;
    switch (f.body) {
    case WM_HTTP_BODY_LENGTH:
        if (blen >= (uint64_t) f.length) {
            return wm_http_health_judge(p, body, (size_t) f.length);
        }
        if (capped) {
            return wm_http_health_judge(p, body, blen);
        }
        if (final) {
            return wm_http_health_fail(
                p, "upstream prematurely closed connection");
        }
        return WM_HEALTH_MORE;
    case WM_HTTP_BODY_CHUNKED:
        return wm_http_health_chunked(p, body, blen, capped, final);
    case WM_HTTP_BODY_CLOSE:
        return final ? wm_http_health_judge(p, body, blen) : WM_HEALTH_MORE;
    default:
        return wm_http_health_judge(p, NULL, 0);
    }
}

const wm_health_type_t wm_http_health_type = {
    .name = "http",
    .connect = wm_health_connect_stream,
    .send = wm_http_health_send,
    .verdict = wm_http_health_verdict,
    .cleanup = wm_http_health_cleanup,
};
