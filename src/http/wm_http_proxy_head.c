/*
 * Building the upstream request head: URI replacement and escaping, and
 * the header list with overrides and hop-by-hop headers removed. Pure
 * functions over the parsed client request, so the rules are unit-tested
 * without sockets.
 */
#include "wm_http_proxy_head.h"

/*
 * A byte of a decoded path that goes upstream as %XX: what would end or
 * change the path (space, '#', '?', '%'), what no request-target may
 * hold (controls, non-ASCII, '"'), and a backslash, which our own parser
 * refuses in a target (a client's %5C must not make the upstream request
 * invalid).
 */
static bool
wm_http_uri_escapes(u_char c)
{
    return c <= 0x20 || c >= 0x7f || c == '#' || c == '%' || c == '?'
           || c == '"' || c == '\\';
}

u_char *
wm_http_escape_uri(wm_pool_t *pool, const wm_str_t *path, size_t *len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, n = 0;
    u_char *out, *p;

    for (i = 0; i < path->len; i++) {
        n += wm_http_uri_escapes(path->data[i]);
    }
    if (n == 0) {
        *len = path->len;
        return path->data;
    }
    out = wm_palloc(pool, path->len + 2 * n + 1);
    if (out == NULL) {
        return NULL;
    }
    for (i = 0, p = out; i < path->len; i++) {
        u_char c = path->data[i];

        if (wm_http_uri_escapes(c)) {
            *p++ = '%';
            *p++ = (u_char) hex[c >> 4];
            *p++ = (u_char) hex[c & 0x0f];
        } else {
            *p++ = c;
        }
    }
    *p = '\0';
    *len = (size_t) (p - out);
    return out;
}

wm_int_t
wm_http_proxy_raw_target(wm_pool_t *pool, const wm_http_head_t *head,
                         wm_str_t *raw)
{
    *raw = head->target;
    if (head->target_form != WM_HTTP_TARGET_ABSOLUTE) {
        return WM_OK;
    }
    if (head->path.data >= head->target.data
        && head->path.data <= head->target.data + head->target.len)
    {
        raw->data = head->path.data;
        raw->len = (size_t) (head->target.data + head->target.len
                             - head->path.data);
        return WM_OK;
    }
    /* No path in the target (`http://h`, `http://h?a`): the parser's
     * path is a static "/", outside the target. */
    raw->data = (u_char *) wm_psprintf(pool, "/%s%.*s",
                                       head->has_args ? "?" : "",
                                       (int) head->args.len,
                                       (const char *) head->args.data);
    if (raw->data == NULL) {
        return WM_ERROR;
    }
    raw->len = strlen((const char *) raw->data);
    return WM_OK;
}

u_char *
wm_http_proxy_uri(wm_pool_t *pool, const wm_http_proxy_uri_t *in, size_t *len)
{
    wm_str_t rest;
    u_char *esc, *out, *p;
    size_t elen, plen = 0, alen;

    if (in->pass_uri == NULL && !in->uri_changed) {
        *len = in->raw->len;
        return in->raw->data;
    }
    rest = *in->uri;
    if (in->pass_uri) {
        /* The location prefix goes; what follows it is kept. */
        size_t cut = wm_min(in->loc_name->len, rest.len);

        rest.data += cut;
        rest.len -= cut;
        plen = in->pass_uri->len;
    }
    esc = wm_http_escape_uri(pool, &rest, &elen);
    if (esc == NULL) {
        return NULL;
    }
    alen = in->has_args || in->args->len ? in->args->len + 1 : 0;
    out = wm_palloc(pool, plen + elen + alen + 1);
    if (out == NULL) {
        return NULL;
    }
    p = out;
    if (plen) {
        memcpy(p, in->pass_uri->data, plen);
        p += plen;
    }
    if (elen) {
        memcpy(p, esc, elen);
        p += elen;
    }
    if (alen) {
        *p++ = '?';
        memcpy(p, in->args->data, in->args->len);
        p += in->args->len;
    }
    *p = '\0';
    *len = (size_t) (p - out);
    return out;
}

static bool
wm_http_names_eq(const wm_str_t *a, const wm_str_t *b)
{
    size_t i;

    if (a->len != b->len) {
        return false;
    }
    for (i = 0; i < a->len; i++) {
        u_char x = a->data[i], y = b->data[i];

        x = x >= 'A' && x <= 'Z' ? (u_char) (x | 0x20) : x;
        y = y >= 'A' && y <= 'Z' ? (u_char) (y | 0x20) : y;
        if (x != y) {
            return false;
        }
    }
    return true;
}

/* Headers that describe one hop, or the body framing, which wmproxy sets
 * itself (lower case). */
static bool
wm_http_hop_by_hop(const wm_str_t *name)
{
    static const wm_str_t hop[] = {
        wm_string("connection"), wm_string("keep-alive"),
        wm_string("proxy-connection"), wm_string("te"),
        wm_string("trailer"), wm_string("transfer-encoding"),
        wm_string("upgrade"), wm_string("expect"),
        wm_string("content-length"),
    };
    size_t i;

    for (i = 0; i < wm_nelems(hop); i++) {
        if (hop[i].len == name->len && wm_http_names_eq(name, &hop[i])) {
            return true;
        }
    }
    return false;
}

static u_char *
wm_http_put(u_char *p, const void *s, size_t len)
{
    memcpy(p, s, len);
    return p + len;
}

static u_char *
wm_http_put_line(u_char *p, const wm_str_t *name, const wm_str_t *value)
{
    p = wm_http_put(p, name->data, name->len);
    *p++ = ':';
    *p++ = ' ';
    p = wm_http_put(p, value->data, value->len);
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

static const char wm_http_cl[] = "Content-Length: ";
static const char wm_http_te[] = "Transfer-Encoding: chunked\r\n";

size_t
wm_http_proxy_head_max(const wm_http_proxy_head_t *h)
{
    const wm_http_head_t *c = h->client;
    size_t i, max;

    max = h->method.len + 1 + h->uri.len + 11 + sizeof(wm_http_cl) + 22 + 2;
    for (i = 0; i < h->nset; i++) {
        max += h->set[i].name.len + h->set[i].value.len + 4;
    }
    for (i = 0; h->pass_headers && c && i < c->nheaders; i++) {
        max += c->headers[i].name.len + c->headers[i].value.len + 4;
    }
    return max;
}

u_char *
wm_http_proxy_head_write(u_char *p, const wm_http_proxy_head_t *h)
{
    const wm_http_head_t *c = h->client;
    size_t i, j;

    p = wm_http_put(p, h->method.data, h->method.len);
    *p++ = ' ';
    p = wm_http_put(p, h->uri.data, h->uri.len);
    p = wm_http_put(p,
                    h->version == WM_HTTP_VERSION_10 ? " HTTP/1.0\r\n"
                                                     : " HTTP/1.1\r\n",
                    11);

    for (i = 0; i < h->nset; i++) {
        if (h->set[i].value.len) {
            p = wm_http_put_line(p, &h->set[i].name, &h->set[i].value);
        }
    }
    for (i = 0; h->pass_headers && c && i < c->nheaders; i++) {
        const wm_str_t *name = &c->headers[i].name;
        bool overridden = false;

        if (wm_http_hop_by_hop(name)) {
            continue;
        }
        for (j = 0; j < h->nset && !overridden; j++) {
            overridden = wm_http_names_eq(name, &h->set[j].name);
        }
        if (!overridden) {
            p = wm_http_put_line(p, name, &c->headers[i].value);
        }
    }
    if (h->content_length >= 0) {
        u_char digits[24], *d = digits + sizeof(digits);
        uint64_t n = (uint64_t) h->content_length;

        do {
            *--d = (u_char) ('0' + n % 10);
            n /= 10;
        } while (n);
        p = wm_http_put(p, wm_http_cl, sizeof(wm_http_cl) - 1);
        p = wm_http_put(p, d, (size_t) (digits + sizeof(digits) - d));
        *p++ = '\r';
        *p++ = '\n';
    } else if (h->chunked) {
        p = wm_http_put(p, wm_http_te, sizeof(wm_http_te) - 1);
    }
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

wm_int_t
wm_http_proxy_build_head(struct evbuffer *out, const wm_http_proxy_head_t *h)
{
    size_t max = wm_http_proxy_head_max(h);
    struct evbuffer_iovec v;

    if (evbuffer_reserve_space(out, (ev_ssize_t) max, &v, 1) != 1
        || v.iov_len < max)
    {
        return WM_ERROR;
    }
    v.iov_len = (size_t) (wm_http_proxy_head_write(v.iov_base, h)
                          - (u_char *) v.iov_base);
    return evbuffer_commit_space(out, &v, 1) == 0 ? WM_OK : WM_ERROR;
}
