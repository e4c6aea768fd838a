/*
 * The stream check types of active health checks: a TCP connect that
 * passes once connected, optionally with a `match` block's exchange
 * (send bytes, expect a literal prefix or a regex), and a UDP exchange,
 * which always has a match. The matching itself is a pure function, so
 * that unit tests call it directly.
 */
#include "wm_health.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ---- configuration ---------------------------------------------------- */

static int
wm_health_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

wm_int_t
wm_health_unescape(const wm_str_t *in, wm_pool_t *pool, wm_str_t *out,
                   char *err, size_t errlen)
{
    u_char *d;
    size_t i;
    int hi, lo;

    d = wm_palloc(pool, in->len + 1);
    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return WM_ERROR;
    }
    out->data = d;
    for (i = 0; i < in->len; i++) {
        u_char c = in->data[i];

        if (c != '\\' || i + 1 == in->len) {
            *d++ = c;
            continue;
        }
        switch (in->data[i + 1]) {
        case 'r':
            *d++ = '\r';
            break;
        case 'n':
            *d++ = '\n';
            break;
        case 't':
            *d++ = '\t';
            break;
        case '\\':
            *d++ = '\\';
            break;
        case 'x':
            hi = i + 2 < in->len ? wm_health_hex(in->data[i + 2]) : -1;
            lo = i + 3 < in->len ? wm_health_hex(in->data[i + 3]) : -1;
            if (hi < 0 || lo < 0) {
                snprintf(err, errlen, "invalid escape \"%.*s\"",
                         (int) wm_min(in->len - i, 4),
                         (const char *) in->data + i);
                return WM_ERROR;
            }
            *d++ = (u_char) (hi << 4 | lo);
            i += 2;
            break;
        default:
            *d++ = '\\';
            continue; /* the next byte on its own */
        }
        i++;
    }
    *d = '\0';
    out->len = (size_t) (d - out->data);
    return WM_OK;
}

wm_health_match_t *
wm_health_match_new(wm_pool_t *pool, const wm_str_t *name)
{
    wm_health_match_t *m = wm_pcalloc(pool, sizeof(*m));

    if (m == NULL) {
        return NULL;
    }
    m->name.data = (u_char *) wm_pstrndup(pool, name->data, name->len);
    m->name.len = name->len;
    return m->name.data ? m : NULL;
}

wm_health_match_t *
wm_health_match_find(const wm_array_t *matches, const wm_str_t *name)
{
    wm_health_match_t **m = matches->elts;
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
wm_health_match_set_send(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_health_match_t *m = conf;
    char err[128];

    if (m->send.data) {
        return "is duplicate";
    }
    if (wm_health_unescape(&cf->node->args[0], cf->pool, &m->send, err,
                           sizeof(err))
        != WM_OK)
    {
        return wm_conf_errf(cf, "has %s", err);
    }
    return NULL;
}

static void
wm_health_regex_free(void *re)
{
    pcre2_code_free(re);
}

const char *
wm_health_match_set_expect(wm_conf_t *cf, const wm_command_t *cmd,
                           void *conf)
{
    wm_health_match_t *m = conf;
    const wm_conf_node_t *n = cf->node;
    const wm_str_t *re = &n->args[n->nargs - 1];
    PCRE2_UCHAR msg[128];
    char err[128];
    PCRE2_SIZE off;
    uint32_t opts = 0;
    pcre2_code *code;
    int rc;

    if (m->has_expect) {
        return "is duplicate";
    }
    if (n->nargs == 1) {
        if (wm_health_unescape(re, cf->pool, &m->expect, err, sizeof(err))
            != WM_OK)
        {
            return wm_conf_errf(cf, "has %s", err);
        }
        m->has_expect = 1;
        return NULL;
    }
    if (wm_str_eq(&n->args[0], "~*")) {
        opts = PCRE2_CASELESS;
    } else if (!wm_str_eq(&n->args[0], "~")) {
        return wm_conf_errf(cf, "has invalid parameter \"%s\"",
                            (const char *) n->args[0].data);
    }
    code = pcre2_compile(re->data, re->len, opts, &rc, &off, NULL);
    if (code == NULL) {
        pcre2_get_error_message(rc, msg, sizeof(msg));
        return wm_conf_errf(cf, "has invalid regex \"%s\": %s",
                            (const char *) re->data, (const char *) msg);
    }
    if (wm_pool_cleanup_add(cf->pool, wm_health_regex_free, code) != WM_OK) {
        pcre2_code_free(code);
        return "failed: out of memory";
    }
    m->regex = code;
    m->has_expect = 1;
    return NULL;
}

const char *
wm_health_match_resolve(wm_upstream_group_t *g, const wm_array_t *matches,
                        char *err, size_t errlen)
{
    wm_health_conf_t *hc = g->health;
    const wm_health_match_t *m = NULL;

    hc->type = hc->udp ? &wm_health_udp_type : &wm_health_tcp_type;
    if (g->zone_name.len == 0) {
        snprintf(err, errlen,
                 "\"health_check\" directive requires a \"zone\" in "
                 "upstream \"%s\"",
                 (const char *) g->name.data);
        return err;
    }
    if (hc->match.len) {
        m = wm_health_match_find(matches, &hc->match);
        if (m == NULL) {
            snprintf(err, errlen,
                     "\"health_check\" directive refers to unknown match "
                     "\"%.*s\"",
                     (int) hc->match.len, (const char *) hc->match.data);
            return err;
        }
    } else if (hc->udp) {
        snprintf(err, errlen,
                 "\"health_check\" directive with \"udp\" requires "
                 "\"match=\"");
        return err;
    }
    hc->type_conf = m;
    return NULL;
}

/* ---- matching ------------------------------------------------------------ */

wm_health_verdict_t
wm_health_match_test(const wm_health_match_t *m, const u_char *data,
                     size_t len, bool final)
{
    pcre2_match_data *md;
    size_t n;
    int rc;

    if (!m->has_expect) {
        return WM_HEALTH_PASS;
    }
    if (m->regex) {
        md = pcre2_match_data_create(1, NULL);
        if (md == NULL) {
            return WM_HEALTH_FAIL;
        }
        rc = pcre2_match(m->regex, len ? data : (const u_char *) "", len, 0,
                         0, md, NULL);
        pcre2_match_data_free(md);
        if (rc >= 0) {
            return WM_HEALTH_PASS;
        }
        if (rc != PCRE2_ERROR_NOMATCH) {
            return WM_HEALTH_FAIL;
        }
        return final ? WM_HEALTH_FAIL : WM_HEALTH_MORE;
    }
    n = wm_min(len, m->expect.len);
    if (n && memcmp(data, m->expect.data, n) != 0) {
        return WM_HEALTH_FAIL;
    }
    if (len >= m->expect.len) {
        return WM_HEALTH_PASS;
    }
    return final ? WM_HEALTH_FAIL : WM_HEALTH_MORE;
}

/* ---- the types ------------------------------------------------------------ */

static wm_int_t
wm_health_match_send(wm_health_probe_t *p, struct evbuffer *out)
{
    const wm_health_match_t *m = p->conf->type_conf;

    if (m == NULL || m->send.len == 0) {
        return WM_OK;
    }
    return evbuffer_add(out, m->send.data, m->send.len) == 0 ? WM_OK
                                                              : WM_ERROR;
}

/* The verdict of data against m, with the phrase of a failure. */
static wm_health_verdict_t
wm_health_match_data(wm_health_probe_t *p, const wm_health_match_t *m,
                     struct evbuffer *in, bool final)
{
    size_t len = evbuffer_get_length(in);
    wm_health_verdict_t v;

    v = wm_health_match_test(m, len ? evbuffer_pullup(in, -1) : NULL, len,
                             final);
    if (v == WM_HEALTH_FAIL) {
        p->reason = len == 0 ? "health check failed: no reply"
                             : "health check failed: the reply does not "
                               "match";
    }
    return v;
}

static wm_health_verdict_t
wm_health_tcp_verdict(wm_health_probe_t *p, wm_health_event_t ev,
                      struct evbuffer *in)
{
    const wm_health_match_t *m = p->conf->type_conf;

    if (m == NULL || !m->has_expect) {
        /* Connected, and the request (if any) sent: that is all. */
        if (ev == WM_HEALTH_EV_EOF && !p->sent) {
            p->reason = "health check failed: closed before the request "
                        "was sent";
        }
        return ev == WM_HEALTH_EV_SENT ? WM_HEALTH_PASS : WM_HEALTH_MORE;
    }
    if (ev == WM_HEALTH_EV_SENT && evbuffer_get_length(in) == 0) {
        return WM_HEALTH_MORE;
    }
    return wm_health_match_data(p, m, in, ev == WM_HEALTH_EV_EOF);
}

static wm_health_verdict_t
wm_health_udp_verdict(wm_health_probe_t *p, wm_health_event_t ev,
                      struct evbuffer *in)
{
    const wm_health_match_t *m = p->conf->type_conf;

    if (ev != WM_HEALTH_EV_DATA) {
        return WM_HEALTH_MORE; /* a reply is due */
    }
    /* Each datagram is a whole reply. */
    return wm_health_match_data(p, m, in, true);
}

const wm_health_type_t wm_health_tcp_type = {
    .name = "tcp",
    .connect = wm_health_connect_stream,
    .send = wm_health_match_send,
    .verdict = wm_health_tcp_verdict,
};

const wm_health_type_t wm_health_udp_type = {
    .name = "udp",
    .connect = wm_health_connect_dgram,
    .send = wm_health_match_send,
    .verdict = wm_health_udp_verdict,
};
