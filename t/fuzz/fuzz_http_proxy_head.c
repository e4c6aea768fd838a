/*
 * Fuzz target of the request head the proxy sends upstream
 * (src/http/wm_http_proxy_head.c), built from a request a client sent.
 * What is built must parse back, whole, as one request with the same
 * method, the same path once normalised (or the client's own target),
 * the same arguments, the set headers then the client's end-to-end ones
 * with their values unchanged, no hop-by-hop one, and the framing chosen;
 * wm_http_proxy_head_write() writes what wm_http_proxy_build_head() does,
 * within wm_http_proxy_head_max().
 *
 * Input: byte 0 picks options (bit 0 proxy_pass with a URI part "/up/",
 * bit 1 a rewritten URI, bit 2 HTTP/1.0 upstream, bit 3 a chunked body,
 * bit 4 merge_slashes, bit 5 proxy_pass_request_headers off); the rest is
 * the client's request head.
 */
#include "wm_http_proxy_head.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NHDRS 32

static bool
fz_eq(const wm_str_t *a, const wm_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static bool
fz_name_eq(const wm_str_t *a, const char *b)
{
    return a->len == strlen(b)
           && strncasecmp((const char *) a->data, b, a->len) == 0;
}

static bool
fz_hop(const wm_str_t *name)
{
    static const char *const hop[] = {
        "connection", "keep-alive", "proxy-connection",
        "te",         "trailer",    "transfer-encoding",
        "upgrade",    "expect",     "content-length"};
    size_t i;

    for (i = 0; i < wm_nelems(hop); i++) {
        if (fz_name_eq(name, hop[i])) {
            return true;
        }
    }
    return false;
}

/* The normalised form of path into a malloc'd *out; false when it does
 * not normalise. */
static bool
fz_normalize(const wm_str_t *path, wm_uint_t flags, wm_str_t *out)
{
    u_char *buf = malloc(path->len ? path->len : 1);
    wm_http_uri_t uri;

    if (buf == NULL) {
        abort();
    }
    if (wm_http_uri_normalize(path, buf, flags, &uri) != WM_OK) {
        free(buf);
        return false;
    }
    *out = uri.path;
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const wm_str_t loc = wm_string("/");
    static const wm_str_t pass_uri = wm_string("/up/");
    static const wm_http_proxy_set_t set[] = {
        {wm_string("Host"), wm_string("backend")},
        {wm_string("Connection"), wm_string("close")},
        {wm_string("Accept-Encoding"), wm_string("")},
    };
    wm_http_header_t hdrs[NHDRS], uhdrs[NHDRS + 8];
    wm_http_head_t head, up;
    wm_http_parse_conf_t conf, uconf;
    wm_http_parser_t p;
    wm_http_proxy_uri_t in;
    wm_http_proxy_head_t h;
    wm_str_t raw, norm, unorm, want;
    struct evbuffer *ev;
    wm_pool_t *pool;
    u_char *buf, *out, *end;
    size_t i, j, max, len;
    wm_uint_t flags;
    uint8_t opt;

    if (size == 0) {
        return 0;
    }
    opt = data[0];
    flags = (opt & 16) ? WM_HTTP_URI_MERGE_SLASHES : 0;
    buf = malloc(size - 1 ? size - 1 : 1);
    if (buf == NULL) {
        abort();
    }
    memcpy(buf, data + 1, size - 1);
    wm_http_parse_conf_init(&conf);
    wm_http_parser_init(&p, &conf, &head, hdrs, NHDRS);
    if (wm_http_parse_request(&p, buf, size - 1) != WM_OK
        || (head.target_form != WM_HTTP_TARGET_ORIGIN
            && head.target_form != WM_HTTP_TARGET_ABSOLUTE)
        || !fz_normalize(&head.path, flags, &norm))
    {
        free(buf);
        return 0;
    }
    pool = wm_pool_new(0);
    if (pool == NULL || wm_http_proxy_raw_target(pool, &head, &raw) != WM_OK) {
        abort();
    }
    if (raw.len > head.target.len + 2 || raw.len == 0) {
        abort(); /* a path and query out of the target, or a static "/" */
    }

    memset(&in, 0, sizeof(in));
    in.pass_uri = (opt & 1) ? &pass_uri : NULL;
    in.loc_name = &loc;
    in.uri = &norm;
    in.args = &head.args;
    in.has_args = head.has_args;
    in.raw = &raw;
    in.uri_changed = (opt & 2) != 0;

    memset(&h, 0, sizeof(h));
    h.method = head.method_name;
    h.uri.data = wm_http_proxy_uri(pool, &in, &h.uri.len);
    h.version = (opt & 4) ? WM_HTTP_VERSION_10 : WM_HTTP_VERSION_11;
    h.set = set;
    h.nset = wm_nelems(set);
    h.client = &head;
    h.pass_headers = (opt & 32) == 0;
    h.chunked = (opt & 8) && h.version == WM_HTTP_VERSION_11;
    h.content_length = h.chunked ? -1 : head.content_length;
    if (h.uri.data == NULL) {
        abort();
    }

    /* The two writers agree, within the bound. */
    max = wm_http_proxy_head_max(&h);
    out = malloc(max);
    ev = evbuffer_new();
    if (out == NULL || ev == NULL || wm_http_proxy_build_head(ev, &h) != WM_OK)
    {
        abort();
    }
    end = wm_http_proxy_head_write(out, &h);
    len = (size_t) (end - out);
    if (len > max || evbuffer_get_length(ev) != len
        || memcmp(evbuffer_pullup(ev, -1), out, len) != 0)
    {
        abort();
    }

    /* It parses back, whole, as one request. */
    wm_http_parse_conf_init(&uconf);
    uconf.max_request_line = uconf.max_header_line = uconf.max_head = 1 << 20;
    uconf.underscores_in_headers = 1;
    wm_http_parser_init(&p, &uconf, &up, uhdrs, wm_nelems(uhdrs));
    if (wm_http_parse_request(&p, out, len) != WM_OK || up.head_len != len
        || !fz_eq(&up.method_name, &head.method_name) || up.version != h.version
        || up.target_form != WM_HTTP_TARGET_ORIGIN
        || up.has_args != (head.has_args || head.args.len)
        || !fz_eq(&up.args, &head.args))
    {
        abort();
    }

    /* The target: the client's own, or the normalised path again. */
    if (in.pass_uri == NULL && !in.uri_changed) {
        if (!fz_eq(&up.target, &raw)) {
            abort();
        }
    } else {
        if (!fz_normalize(&up.path, flags, &unorm)) {
            abort();
        }
        if (in.pass_uri) {
            want.len = pass_uri.len + norm.len - 1;
            want.data = malloc(want.len);
            if (want.data == NULL) {
                abort();
            }
            memcpy(want.data, pass_uri.data, pass_uri.len);
            memcpy(want.data + pass_uri.len, norm.data + 1, norm.len - 1);
        } else {
            want = norm;
        }
        if (!fz_eq(&unorm, &want)) {
            abort();
        }
        if (want.data != norm.data) {
            free(want.data);
        }
        free(unorm.data);
    }

    /* The headers: the set ones, the client's end-to-end ones, framing. */
    j = 0;
    for (i = 0; i < wm_nelems(set); i++) {
        if (set[i].value.len == 0) {
            continue;
        }
        if (j >= up.nheaders || !fz_eq(&up.headers[j].name, &set[i].name)
            || !fz_eq(&up.headers[j].value, &set[i].value))
        {
            abort();
        }
        j++;
    }
    for (i = 0; h.pass_headers && i < head.nheaders; i++) {
        const wm_str_t *name = &head.headers[i].name;

        if (fz_hop(name) || fz_name_eq(name, "host")
            || fz_name_eq(name, "connection")
            || fz_name_eq(name, "accept-encoding"))
        {
            continue;
        }
        if (j >= up.nheaders || !fz_eq(&up.headers[j].name, name)
            || !fz_eq(&up.headers[j].value, &head.headers[i].value))
        {
            abort();
        }
        j++;
    }
    if (h.content_length >= 0) {
        if (j + 1 != up.nheaders
            || !fz_name_eq(&up.headers[j].name, "content-length")
            || up.content_length != h.content_length || up.chunked)
        {
            abort();
        }
    } else if (h.chunked) {
        if (j + 1 != up.nheaders || !up.chunked || up.content_length != -1) {
            abort();
        }
    } else if (j != up.nheaders || up.chunked || up.content_length != -1) {
        abort();
    }

    evbuffer_free(ev);
    free(out);
    free(norm.data);
    wm_pool_free(pool);
    free(buf);
    return 0;
}
