/*
 * The request head the HTTP proxy sends upstream, built by pure functions
 * from the client's request: nginx's rules for the URI (the location
 * prefix replaced by proxy_pass's URI part, or the request's own URI) and
 * for the headers (proxy_set_header overrides, hop-by-hop headers
 * dropped, Content-Length or chunked framing of the body).
 */
#ifndef WM_HTTP_PROXY_HEAD_H
#define WM_HTTP_PROXY_HEAD_H

#include "wm_core.h"
#include "wm_http_parse.h"
#include "wm_pool.h"

#include <event2/buffer.h>

/*
 * Escapes a decoded URI path for a request line, as nginx does: bytes
 * outside the visible ASCII range, space, '#', '%', '?' and '"' become %XX.
 * Returns the escaped copy in pool memory (or the input when nothing
 * needed escaping); NULL when out of memory.
 */
u_char *wm_http_escape_uri(wm_pool_t *pool, const wm_str_t *path,
                           size_t *len);

/* What wm_http_proxy_uri() needs to know. */
typedef struct {
    const wm_str_t *pass_uri;   /* proxy_pass's URI part; NULL when none */
    const wm_str_t *loc_name;   /* the prefix of the matched location */
    const wm_str_t *uri;        /* the request's normalised URI ($uri) */
    const wm_str_t *args;       /* its arguments, without '?' */
    bool has_args;              /* a '?' was there (even with no args) */
    const wm_str_t *raw;        /* path and query as the client sent them */
    bool uri_changed;           /* rewritten since the request arrived */
} wm_http_proxy_uri_t;

/*
 * The path and query of the client's target as it sent them, into *raw:
 * an absolute-form target without its scheme and authority, and `/`
 * (with the query) when it has no path. WM_OK, or WM_ERROR (out of
 * memory).
 */
wm_int_t wm_http_proxy_raw_target(wm_pool_t *pool, const wm_http_head_t *head,
                                  wm_str_t *raw);

/*
 * The request-target to send, in pool memory; NULL when out of memory.
 * Without a URI part, the client's own target goes as it came, or, when
 * the URI was changed (rewrite), the escaped new URI with the arguments.
 * With a URI part, the location prefix of the normalised URI is replaced
 * by it (the rest escaped), and the arguments follow.
 */
u_char *wm_http_proxy_uri(wm_pool_t *pool, const wm_http_proxy_uri_t *in,
                          size_t *len);

/* One proxy_set_header after evaluation; an empty value removes it. */
typedef struct {
    wm_str_t name;
    wm_str_t value;
} wm_http_proxy_set_t;

typedef struct {
    wm_str_t method;
    wm_str_t uri;                    /* from wm_http_proxy_uri() */
    wm_uint_t version;               /* WM_HTTP_VERSION_10 or _11 */
    const wm_http_proxy_set_t *set;  /* proxy_set_header, in order */
    size_t nset;
    const wm_http_head_t *client;    /* the client's request */
    bool pass_headers;               /* proxy_pass_request_headers */
    int64_t content_length;          /* body length, -1 when unknown */
    bool chunked;                    /* body of unknown length: chunked */
} wm_http_proxy_head_t;

/*
 * Appends the request head to out: the request line, the set headers (in
 * their order, the empty ones left out), then the client's headers except
 * those a set header names, the hop-by-hop ones (Connection, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, Expect) and
 * Content-Length, then the body framing header, then the empty line.
 * WM_OK or WM_ERROR (out of memory).
 */
wm_int_t wm_http_proxy_build_head(struct evbuffer *out,
                                  const wm_http_proxy_head_t *h);

/* The same head written from p, which has wm_http_proxy_head_max(h)
 * bytes at least; returns the end of what was written. */
size_t wm_http_proxy_head_max(const wm_http_proxy_head_t *h);
u_char *wm_http_proxy_head_write(u_char *p, const wm_http_proxy_head_t *h);

#endif /* WM_HTTP_PROXY_HEAD_H */
