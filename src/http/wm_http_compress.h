/*
 * The surface shared by the compression modules: the encoder of each
 * content coding (gzip, br, zstd) behind one small interface, the conf
 * every coding module has (on|off, types, min_length, comp_level), and the
 * request checks that gzip_http_version, gzip_proxied and gzip_disable
 * make for all codings and for the precompressed siblings alike.
 */
#ifndef WM_HTTP_COMPRESS_H
#define WM_HTTP_COMPRESS_H

#include "wm_http.h"

#include <event2/buffer.h>

/*
 * One content coding's stream encoder. create is NULL when the library was
 * not built in (configure --without-<lib>): the directives still parse but
 * `<name> on` is a configuration error.
 */
typedef struct {
    wm_http_coding_t coding;
    const char *name; /* directive prefix: "gzip", "brotli", "zstd" */
    const char *lib;  /* configure's --without-<lib> */
    /* The state of one stream at level, sized for a body of size_hint
     * bytes (-1: unknown). Owned by the caller, freed with destroy(). NULL
     * when out of memory. */
    void *(*create)(wm_int_t level, int64_t size_hint);
    /* Takes the len bytes at in and appends what comes out to out; finish
     * ends the stream (in may then be empty). The encoder keeps what it
     * needs between calls. WM_OK, or WM_ERROR (the stream is unusable). */
    wm_int_t (*compress)(void *state, const u_char *in, size_t len, bool finish,
                         struct evbuffer *out);
    void (*destroy)(void *state);
    /* Optional: compresses a whole body of len bytes in one call, without
     * a stream state, appending the complete coded body to out. Used
     * instead of create/compress when the body is all in memory at once
     * (a static file read whole); NULL when the coding has no faster
     * one-shot path. WM_OK or WM_ERROR. */
    wm_int_t (*compress_once)(wm_int_t level, const u_char *in, size_t len,
                              struct evbuffer *out);
} wm_http_encoder_t;

extern const wm_http_encoder_t wm_http_gzip_encoder;
extern const wm_http_encoder_t wm_http_brotli_encoder;
extern const wm_http_encoder_t wm_http_zstd_encoder;

/* The location conf of each coding module (gzip, brotli, zstd). */
typedef struct {
    wm_int_t enable;
    wm_array_t *types; /* wm_str_t, text/html first; NULL: inherit */
    size_t min_length; /* bodies of a known shorter length stay as is */
    wm_int_t comp_level;
} wm_http_coding_conf_t;

extern wm_module_t wm_http_compress_module;
extern wm_module_t wm_http_gzip_module;
extern wm_module_t wm_http_brotli_module;
extern wm_module_t wm_http_zstd_module;
extern wm_module_t wm_http_static_compressed_module;

/* Conf glue the coding modules share (wm_http_compress.c). The setters
 * take the encoder as cmd->post. */
void *wm_http_coding_conf_create(wm_conf_t *cf, unsigned level);
const char *wm_http_coding_conf_merge(wm_http_coding_conf_t *prev,
                                      wm_http_coding_conf_t *conf,
                                      wm_int_t default_level);
const char *wm_http_coding_set_enable(wm_conf_t *cf, const wm_command_t *cmd,
                                      void *conf);
const char *wm_http_coding_set_types(wm_conf_t *cf, const wm_command_t *cmd,
                                     void *conf);

/* ---- request checks ------------------------------------------------------ */

/* gzip_proxied flags. */
#define WM_HTTP_PROXIED_OFF 0x0002
#define WM_HTTP_PROXIED_EXPIRED 0x0004
#define WM_HTTP_PROXIED_NO_CACHE 0x0008
#define WM_HTTP_PROXIED_NO_STORE 0x0010
#define WM_HTTP_PROXIED_PRIVATE 0x0020
#define WM_HTTP_PROXIED_NO_LM 0x0040
#define WM_HTTP_PROXIED_NO_ETAG 0x0080
#define WM_HTTP_PROXIED_AUTH 0x0100
#define WM_HTTP_PROXIED_ANY 0x0200

/* What gzip_proxied looks at, for a request that came with a Via header.
 * A NULL pointer is an absent header. */
typedef struct {
    const wm_str_t *expires;       /* the response's Expires */
    const wm_str_t *cache_control; /* the response's Cache-Control */
    time_t now;                    /* for Expires */
    bool authorization;            /* the request has Authorization */
    bool last_modified;            /* the response has Last-Modified */
    bool etag;                     /* the response has an ETag */
} wm_http_proxied_t;

/*
 * nginx's gzip_proxied for a proxied request (one with Via): off refuses,
 * any allows, auth allows a request with Authorization; an Expires in the
 * past allows with expired (a future or invalid one refuses); a
 * Cache-Control allows when it has no-cache, no-store or private and the
 * matching flag is set, and refuses otherwise; then no_last_modified and
 * no_etag refuse a response that has one; anything left is allowed.
 */
bool wm_http_compress_proxied_ok(wm_int_t flags, const wm_http_proxied_t *p);

/* True for a User-Agent that nginx's gzip_disable "msie6" matches: MSIE
 * 4.x and 5.x, and 6.x without SV1; Opera, which says MSIE too, is not. */
bool wm_http_compress_is_msie6(const wm_str_t *user_agent);

/*
 * Whether the request may get a compressed body at all, whatever the
 * coding: gzip_http_version, gzip_proxied (against the response fields of
 * r as they are now) and gzip_disable. Logs nothing.
 */
bool wm_http_compress_request_ok(wm_http_request_t *r);

/* The coding the client prefers among `allowed` (WM_HTTP_CODING_* bits)
 * by its Accept-Encoding lines; identity when none is acceptable. */
wm_http_coding_t wm_http_compress_negotiate(wm_http_request_t *r,
                                            unsigned allowed);

/* Marks the response of r as varying by Accept-Encoding: the header
 * filter then adds `Vary: Accept-Encoding` when gzip_vary is on. WM_OK, or
 * WM_ERROR when out of memory. */
wm_int_t wm_http_compress_set_vary(wm_http_request_t *r);

/* True when gzip_vary is on for r's location. */
bool wm_http_compress_vary_on(wm_http_request_t *r);

#endif /* WM_HTTP_COMPRESS_H */
