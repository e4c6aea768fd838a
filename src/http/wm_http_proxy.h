/*
 * The private types of the HTTP proxy, shared by its files: the location
 * settings, the state of one proxied request, and what each try of a peer
 * reports to the $upstream_* variables (wm_http_proxy_vars.c). Only the
 * proxy's own files include this header.
 */
#ifndef WM_HTTP_PROXY_H
#define WM_HTTP_PROXY_H

#include "wm_http.h"
#include "wm_http_upstream.h"

#include <event2/bufferevent.h>
#include <event2/event.h>

#define WM_PX_MAX_HEADERS 100
#define WM_PX_BODY_SLICE 65536
/* The most a socket bufferevent reads at once (libevent 2.1's
 * MAX_TO_READ_EVER, without rate limits). */
#define WM_PX_READ_MAX 16384

/* proxy_next_upstream conditions (bits). */
#define WM_PX_FT_ERROR 0x0001
#define WM_PX_FT_TIMEOUT 0x0002
#define WM_PX_FT_INVALID_HEADER 0x0004
#define WM_PX_FT_HTTP_500 0x0008
#define WM_PX_FT_HTTP_502 0x0010
#define WM_PX_FT_HTTP_503 0x0020
#define WM_PX_FT_HTTP_504 0x0040
#define WM_PX_FT_HTTP_403 0x0080
#define WM_PX_FT_HTTP_404 0x0100
#define WM_PX_FT_HTTP_429 0x0200
#define WM_PX_FT_NON_IDEMPOTENT 0x0400
#define WM_PX_FT_OFF 0x0800

/* The parts of a proxy_pass URL. */
typedef struct {
    wm_str_t addr;     /* "host:port", "name" or "unix:/path" */
    wm_str_t host;     /* $proxy_host */
    wm_str_t port;     /* $proxy_port */
    wm_str_t uri;      /* the URI part, when has_uri */
    unsigned has_uri : 1;
    unsigned has_port : 1;
    unsigned unix_sock : 1;
    unsigned ssl : 1;  /* https:// */
} wm_http_proxy_url_t;

/* One proxy_set_header. */
typedef struct {
    wm_str_t name;
    wm_cv_t value;
    unsigned dflt_conn : 1; /* the default `Connection: close` */
} wm_http_proxy_header_t;

/* One (from, to) pair of proxy_redirect or proxy_cookie_*. */
typedef struct {
    wm_http_regex_t *re;        /* ~ and ~*; NULL: from is a literal */
    wm_cv_t from;
    wm_cv_t to;
    unsigned dflt : 1;          /* proxy_redirect default: made at merge */
} wm_http_proxy_rw_t;

typedef struct {
    wm_str_t pass;              /* as written; data NULL when not set */
    const char *pass_file;
    unsigned pass_line;
    wm_cv_t pass_cv;            /* with variables: evaluated per request */
    wm_http_proxy_url_t url;
    wm_upstream_group_t *group;
    wm_str_t loc_name;          /* the prefix the URI part replaces */
    wm_array_t *headers;        /* wm_http_proxy_header_t; NULL: inherit */
    wm_http_proxy_header_t *set; /* merged: defaults and headers */
    size_t nset;
    wm_array_t *hide;           /* wm_str_t; NULL: inherit */
    wm_array_t *pass_hdr;       /* wm_str_t; NULL: inherit */
    wm_int_t pass_request_headers;
    wm_int_t pass_request_body;
    wm_int_t http_version;
    wm_int_t buffering;
    wm_int_t request_buffering;
    wm_int_t intercept_errors;
    wm_msec_t connect_timeout;
    wm_msec_t send_timeout;
    wm_msec_t read_timeout;
    wm_int_t next_upstream;
    wm_int_t next_upstream_tries;
    wm_msec_t next_upstream_timeout;
    size_t buffer_size;
    wm_int_t nbuffers;
    size_t buffers_size;        /* one of proxy_buffers */
    size_t busy_buffers_size;
    wm_array_t *redirects;      /* wm_http_proxy_rw_t; NULL: inherit */
    wm_array_t *cookie_domains; /* wm_http_proxy_rw_t; NULL: inherit */
    wm_array_t *cookie_paths;   /* wm_http_proxy_rw_t; NULL: inherit */
    wm_cv_t *method;            /* proxy_method; NULL: the client's */
    wm_cv_t *body;              /* proxy_set_body; NULL: the client's */
    wm_int_t ignore_headers;    /* proxy_ignore_headers (accepted only) */
    unsigned pass_vars : 1;
    unsigned redirect_set : 1;  /* proxy_redirect given at this level */
    unsigned redirect_dflt : 1; /* ... with `default` (made at merge) */
    unsigned cookie_domain_set : 1;
    unsigned cookie_path_set : 1;
} wm_http_proxy_loc_conf_t;

/* What $upstream_* report of one peer tried. */
typedef struct {
    wm_str_t addr;
    int status;                 /* 0: no response */
    wm_msec_t connect_time;     /* -1: not reached */
    wm_msec_t header_time;
    wm_msec_t response_time;
    uint64_t bytes_sent;
    uint64_t bytes_received;
} wm_http_proxy_try_t;

enum {
    WM_PX_HEAD = 0, /* connecting, sending, waiting for the response head */
    WM_PX_BODY,     /* relaying the response body */
    WM_PX_TUNNEL,   /* after 101: bytes both ways */
    WM_PX_DONE,
};

typedef struct {
    wm_http_request_t *r;
    wm_http_proxy_loc_conf_t *conf;
    wm_upstream_group_t *group;
    wm_upstream_pick_t pick;
    const wm_upstream_peer_t *peer;
    wm_http_proxy_url_t url;
    wm_str_t uri;               /* the URI sent upstream, for the log */
    wm_log_t log;               /* the request's, with the upstream */
    struct bufferevent *bev;
    u_char *head;               /* the request head, built once */
    size_t head_len;
    size_t head_size;           /* ... the room there (kept: the kit's) */
    struct evbuffer *replay;    /* the body as sent so far, for a retry */
    struct evbuffer *tmp;
    struct event *timer;        /* client_body_timeout; tunnel idle */
    u_char *hbuf;               /* the response head (proxy_buffer_size) */
    size_t hbuf_size;           /* ... its size (kept: the kit's) */
    wm_http_parser_t parser;
    wm_http_status_t st;
    wm_http_framing_t framing;
    wm_http_chunked_t chunked;
    uint64_t left;              /* LENGTH: body bytes still to come */
    wm_array_t tries;           /* wm_http_proxy_try_t */
    wm_http_proxy_try_t *cur;
    wm_msec_t start;            /* the first try */
    wm_msec_t try_start;
    wm_msec_t last_io;          /* tunnel: the last byte moved */
    wm_uint_t ka_requests;      /* of the connection in use */
    wm_msec_t ka_born;
    size_t in_max;              /* response bytes read ahead of the client */
    int last_status;            /* of the last failed try */
    wm_str_t ssl_key;           /* https: the pool key (empty: plain) */
    const char *ssl_name;       /* https: SNI and verified name, or NULL */
    unsigned state : 2;
    unsigned has_body : 1;      /* the client's body is passed */
    unsigned body_chunked : 1;  /* ... re-framed in chunks */
    unsigned body_done : 1;     /* ... read whole and queued */
    unsigned body_full : 1;     /* ... read whole before connecting */
    unsigned client_paused : 1; /* upstream output full: client not read */
    unsigned up_paused : 1;     /* client output full: upstream not read */
    unsigned replay_over : 1;   /* the body outgrew the replay buffer */
    unsigned connected : 1;
    unsigned request_sent : 1;
    unsigned cached : 1;        /* the connection came from the pool */
    unsigned cache_retried : 1;
    unsigned got_bytes : 1;     /* a response byte arrived on this try */
    unsigned up_eof : 1;        /* the upstream closed its side */
    unsigned upgrade : 1;       /* the request asks for an upgrade */
    unsigned released : 1;
    unsigned timer_used : 1;    /* timer added once: it may be pending */
    /* Last, and not zeroed when ctx is made (3 KiB): the parser fills
     * them in order and only the first st.nheaders are ever read (see
     * wm_http_proxy_kit_get). */
    wm_http_header_t headers[WM_PX_MAX_HEADERS];
} wm_http_proxy_ctx_t;

/* ---- wm_http_proxy_module.c ----------------------------------------- */

/* Ends the proxying of the request with rc (a status, or WM_DONE once the
 * response was sent whole): the upstream connection is closed and the
 * client's connection takes its reading back. */
void wm_http_proxy_end(wm_http_proxy_ctx_t *ctx, wm_int_t rc);

/* Builds the upstream request head into ctx->head, with content_length
 * (-1: none). WM_OK or WM_ERROR. */
wm_int_t wm_http_proxy_build(wm_http_proxy_ctx_t *ctx,
                             int64_t content_length);

/* Picks peers until a connection is under way (or ready, from the pool);
 * ends the request when none is left. */
void wm_http_proxy_connect(wm_http_proxy_ctx_t *ctx);

/* The upstream timeouts: send, and read once the request is out. */
void wm_http_proxy_set_read_timeout(wm_http_proxy_ctx_t *ctx);

/* Appends a copy of src to dst. WM_OK or WM_ERROR. */
wm_int_t wm_http_proxy_copy(struct evbuffer *dst, struct evbuffer *src);

wm_msec_t wm_http_proxy_now(void);

/* ---- wm_http_proxy_body.c -------------------------------------------- */

/* Arms (on) or stops client_body_timeout on ctx->timer. */
void wm_http_proxy_body_timer(wm_http_proxy_ctx_t *ctx, bool on);

/*
 * Decodes the chunked body bytes that in holds, as far as they go: the data
 * is appended to out and what was decoded drained from in; *used adds the
 * bytes taken. Returns WM_AGAIN when in is empty and the body goes on,
 * WM_DONE when it ended (in keeps what came after it), WM_ERROR for a
 * malformed body (c->error says why) or when out of memory (c->error
 * NULL). Any split of the bytes into chains gives the same out and code.
 */
wm_int_t wm_http_proxy_dechunk(wm_http_chunked_t *c, struct evbuffer *in,
                               struct evbuffer *out, size_t *used);

/* Frames what ctx->tmp holds for the upstream into dst. */
void wm_http_proxy_frame(wm_http_proxy_ctx_t *ctx, struct evbuffer *dst,
                         bool last);

/* Moves the client's body on towards the upstream while its output is
 * under proxy_buffers (see the file's comment). */
void wm_http_proxy_pump(wm_http_proxy_ctx_t *ctx);

/* ctx->timer: client_body_timeout, or the tunnel's idle check. */
void wm_http_proxy_timer(evutil_socket_t fd, short what, void *arg);

/* A ctx, zeroed but for its header slots, with its replay and scratch
 * buffers, its timer, an hbuf of hbuf_size bytes at least and the memory
 * of a former request head (head_size bytes, maybe none), from
 * the worker's kept ones or new (wm_http_proxy_kit.c); NULL when out of
 * memory. _put() stops the timer, empties the buffers and keeps ctx for
 * the next request (or frees it), once its request is freed; _exit()
 * frees the kept ones at the worker's end. */
wm_http_proxy_ctx_t *wm_http_proxy_kit_get(struct event_base *base,
                                           size_t hbuf_size);
void wm_http_proxy_kit_put(wm_http_proxy_ctx_t *ctx);

/* Adds ctx->timer; stops it when it may be pending (an evtimer_del of
 * a timer never added costs as much as one of a pending one). */
void wm_http_proxy_timer_add(wm_http_proxy_ctx_t *ctx,
                             const struct timeval *tv);
void wm_http_proxy_timer_stop(wm_http_proxy_ctx_t *ctx);
void wm_http_proxy_kit_exit(void);

/* ---- wm_http_proxy_tunnel.c ------------------------------------------ */

/* Turns the request into a two-way relay after a 101. */
void wm_http_proxy_tunnel(wm_http_proxy_ctx_t *ctx);
/* Bytes from the upstream to the client, then from the client. */
void wm_http_proxy_tunnel_up(wm_http_proxy_ctx_t *ctx);
void wm_http_proxy_tunnel_client(wm_http_proxy_ctx_t *ctx);
/* Ends the relay: the client connection is closed once its output is
 * written. */
void wm_http_proxy_tunnel_end(wm_http_proxy_ctx_t *ctx);

/* ---- wm_http_proxy_ssl_module.c ------------------------------------- */

/* proxy_pass https:// (pcf's) in the location being parsed: its TLS
 * client context is built when it is merged, and the health checks of
 * the group it names (the first such location's) speak TLS with it. */
void wm_http_proxy_ssl_use(wm_conf_t *cf, const wm_http_proxy_loc_conf_t *pcf);

/* The name (proxy_ssl_name, else the host of proxy_pass) and the pool key
 * of an https request, set once in ctx. WM_OK or WM_ERROR (logged). */
wm_int_t wm_http_proxy_ssl_prepare(wm_http_proxy_ctx_t *ctx);

/*
 * Opens a TLS connection to ctx->peer, as wm_upstream_connect does a plain
 * one: BEV_EVENT_CONNECTED comes once the handshake is done, and the
 * caller then calls wm_http_proxy_ssl_connected.
 */
wm_int_t wm_http_proxy_ssl_connect(wm_http_proxy_ctx_t *ctx,
                                   struct bufferevent **bev);

/* The verdict on the peer after the handshake (proxy_ssl_verify): WM_OK,
 * or WM_DECLINED, logged as nginx does. */
wm_int_t wm_http_proxy_ssl_connected(wm_http_proxy_ctx_t *ctx);

/* Logs why a new TLS connection failed before its handshake was done
 * (what and err as the bufferevent reported them). */
void wm_http_proxy_ssl_failed(wm_http_proxy_ctx_t *ctx, short what, int err);

/* ---- wm_http_proxy_rewrite.c ---------------------------------------- */

/*
 * Appends (from, to) to *list (made in cf's pool when NULL): from starting
 * with ~ or ~* is a regex, else a literal with variables (a leading dot
 * dropped when domain); to may use variables and captures. NULL or an
 * error message.
 */
const char *wm_http_proxy_rw_add(wm_conf_t *cf, wm_array_t **list,
                                 const wm_str_t *from, const wm_str_t *to,
                                 bool domain);

/*
 * proxy_redirect on a Location value (refresh: the url= part of a Refresh
 * value): the first entry of list whose literal is a prefix of the URL
 * (case-sensitive) or whose regex matches it replaces that prefix (a
 * regex: the whole URL). *value is then a new string of r's pool. WM_OK
 * when rewritten, WM_DECLINED when nothing matched, WM_ERROR.
 */
wm_int_t wm_http_proxy_rw_redirect(wm_http_request_t *r,
                                   const wm_array_t *list, wm_str_t *value,
                                   bool refresh);

/*
 * proxy_cookie_domain and proxy_cookie_path on a Set-Cookie value: the
 * domain= attribute is rewritten by the first entry of domains equal to it
 * (case-insensitive, leading dots ignored and kept) or whose regex
 * matches; the path= attribute by the first entry of paths that is its
 * prefix or matches. Returns as wm_http_proxy_rw_redirect().
 */
wm_int_t wm_http_proxy_rw_cookie(wm_http_request_t *r,
                                 const wm_array_t *domains,
                                 const wm_array_t *paths, wm_str_t *value);

#endif /* WM_HTTP_PROXY_H */
