/*
 * The HTTP server's shared surface: the http/server/location conf of the
 * core module, the connection and request objects, the phase handlers and
 * the functions modules call to answer a request. Types first, then the
 * functions of each file of src/http/.
 */
#ifndef WM_HTTP_H
#define WM_HTTP_H

#include "wm_core.h"
#include "wm_cycle.h"
#include "wm_http_content.h"
#include "wm_http_parse.h"
#include "wm_list.h"
#include "wm_listen.h"
#include "wm_proxy_protocol.h"
#include "wm_var.h"

#include <event2/buffer.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <event2/event.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sys/time.h>

typedef struct wm_http_connection_s wm_http_connection_t;
typedef struct wm_http_request_s wm_http_request_t;
typedef struct wm_http_core_srv_conf_s wm_http_core_srv_conf_t;
typedef struct wm_http_core_loc_conf_s wm_http_core_loc_conf_t;

/* A phase handler returns WM_DECLINED to let the next handler of the phase
 * run, WM_OK to end the phase, WM_DONE when it has taken over the request
 * (it will finalize it), or an HTTP status (>= 100) to answer with. */
typedef wm_int_t (*wm_http_handler_pt)(wm_http_request_t *r);

/* A header filter may change r's response fields before the head is
 * written (status, content_length, out_headers). WM_OK or WM_ERROR. */
typedef wm_int_t (*wm_http_header_filter_pt)(wm_http_request_t *r);

/* A body filter takes the bytes of in (it must empty it) and passes what
 * it produces on with wm_http_body_next(); last marks the end of the
 * body. WM_OK or WM_ERROR. */
typedef wm_int_t (*wm_http_body_filter_pt)(wm_http_request_t *r,
                                           struct evbuffer *in, bool last);

/* ---- configuration ------------------------------------------------------ */

/* How a location matches (nginx's modifiers). */
typedef enum {
    WM_HTTP_LOC_PREFIX = 0, /* location /uri */
    WM_HTTP_LOC_EXACT,      /* location = /uri */
    WM_HTTP_LOC_NOREGEX,    /* location ^~ /uri */
    WM_HTTP_LOC_REGEX,      /* location ~ re */
    WM_HTTP_LOC_REGEX_CI,   /* location ~* re */
    WM_HTTP_LOC_NAMED,      /* location @name */
} wm_http_loc_match_t;

/* A compiled regex with its capture count, JIT-compiled when possible. */
typedef struct {
    pcre2_code *code;
    uint32_t captures;
    wm_str_t pattern;
} wm_http_regex_t;

/* `error_page 404 500 =200 /uri;` */
typedef struct {
    int status;          /* the status it applies to */
    int overwrite;       /* =code, 0 to keep, -1 for "=" (the target's) */
    wm_cv_t uri;         /* /uri, @named or a URL (redirect) */
} wm_http_error_page_t;

struct wm_http_core_loc_conf_s {
    wm_str_t name;                  /* uri, regex or @name */
    wm_http_loc_match_t match;
    wm_http_regex_t regex;
    void **loc_confs;               /* this location's conf of each module */
    wm_http_core_loc_conf_t *parent;
    wm_array_t locations;           /* nested: wm_http_core_loc_conf_t * */
    /* Built after parsing: static (exact and prefix) locations sorted by
     * name, regex ones in config order, named ones. */
    wm_http_core_loc_conf_t **statics;
    size_t nstatics;
    wm_http_core_loc_conf_t **regexes;
    size_t nregexes;
    const char *file;               /* where the block starts */
    unsigned line;
    wm_http_handler_pt handler;     /* content handler (proxy_pass ...) */

    wm_str_t root;                  /* with a trailing slash removed */
    wm_str_t alias_prefix;          /* the location name an alias replaces */
    wm_cv_t *root_cv;               /* root or alias with variables: its
                                       value per request; NULL: root */
    unsigned alias : 1;             /* root holds an alias */
    unsigned alias_full : 1;        /* an alias of a regex location: the
                                       whole file name, no URI appended */
    unsigned root_set : 1;
    /* The block of an `if` (nginx's nameless location): merged from its
     * parent, in parent->locations for that, never matched. */
    unsigned noname : 1;
    wm_int_t internal;
    wm_array_t *index;              /* wm_str_t; NULL: inherit */
    wm_str_t default_type;
    wm_http_mime_t *types;          /* NULL: inherit */
    wm_int_t sendfile;
    wm_int_t tcp_nopush;
    wm_int_t tcp_nodelay;
    wm_msec_t keepalive_timeout;
    wm_int_t keepalive_requests;
    wm_msec_t keepalive_time;
    wm_msec_t send_timeout;
    wm_msec_t client_body_timeout;
    size_t client_max_body_size;
    wm_int_t server_tokens;
    wm_int_t etag;
    wm_int_t if_modified_since;     /* 0 off, 1 exact, 2 before */
    wm_int_t satisfy_any;           /* satisfy any (1) or all (0) */
    wm_int_t msie_padding;
    wm_int_t msie_refresh;
    wm_int_t disable_symlinks;      /* 0 off, or a wm_nolinks_mode_t */
    wm_cv_t *symlinks_from;         /* its from=, NULL without */
    wm_int_t max_ranges;            /* -1 unlimited */
    wm_int_t log_not_found;
    wm_int_t absolute_redirect;
    wm_int_t port_in_redirect;
    wm_int_t server_name_in_redirect;
    wm_array_t *error_pages;        /* wm_http_error_page_t; NULL: inherit */
};

/* A server_name entry. */
typedef struct {
    wm_str_t name;                  /* lowercase; for wildcards without '*' */
    unsigned wildcard_head : 1;     /* *.example.com or .example.com */
    unsigned wildcard_tail : 1;     /* www.example.* */
    unsigned dot_form : 1;          /* .example.com also matches example.com */
    wm_http_regex_t regex;          /* ~regex */
} wm_http_server_name_t;

struct wm_http_core_srv_conf_s {
    void **srv_confs;               /* this server's conf of each module */
    wm_http_core_loc_conf_t *root;  /* the server's own location level */
    wm_array_t names;               /* wm_http_server_name_t */
    const char *file;
    unsigned line;
    wm_msec_t client_header_timeout;
    size_t client_header_buffer_size;
    size_t large_header_buffer_size;
    wm_int_t large_header_buffers;
    wm_int_t merge_slashes;
    wm_int_t underscores_in_headers;
    wm_int_t ignore_invalid_headers;
    wm_int_t lingering_close;       /* 0 off, 1 on, 2 always */
    wm_msec_t lingering_time;
    wm_msec_t lingering_timeout;
    wm_http_parse_conf_t parse;     /* derived from the above */
    unsigned listen : 1;            /* has its own listen */
    const char *ssl_listen_file;    /* its first `listen ... ssl` */
    unsigned ssl_listen_line;
};

/* What a listening socket serves: every server that listens on it, and
 * the default one. Lives in the cycle's pool; ls->servers points to it. */
typedef struct wm_http_addr_conf_s wm_http_addr_conf_t;
struct wm_http_addr_conf_s {
    wm_array_t servers;             /* wm_http_core_srv_conf_t * */
    wm_http_core_srv_conf_t *default_server;
    /* On a wildcard socket: the specific addresses of the same port that
     * it serves (nginx binds only the wildcard); the connection's local
     * address picks one. wm_http_addr_conf_t *, each with `host` set. */
    wm_array_t specific;
    struct sockaddr_storage host;
    unsigned default_explicit : 1;  /* a listen said default_server */
    unsigned ssl : 1;
    unsigned proxy_protocol : 1;    /* a PROXY protocol header comes first */
};

typedef struct {
    void **main_confs;
    wm_array_t servers;             /* wm_http_core_srv_conf_t * */
    wm_array_t addrs;               /* wm_http_addr_conf_t * */
    wm_str_t server_tokens_text;
} wm_http_core_main_conf_t;

/* ---- run time ------------------------------------------------------------ */

/* Header fields kept per request; more is answered with 431. */
#define WM_HTTP_MAX_HEADERS 100

struct wm_http_connection_s {
    wm_link_t link;                 /* in the worker's live connections */
    int fd;
    struct event_base *base;
    struct event *rev;              /* read readiness */
    struct event *wev;              /* write readiness */
    struct event *timer;            /* the one timeout pending */
    struct evbuffer *in;            /* bytes read, not yet consumed */
    struct evbuffer *out;           /* bytes to send */
    struct evbuffer *body;          /* scratch for handlers' body bytes */
    wm_listening_t *listening;
    wm_http_addr_conf_t *addr_conf;
    struct sockaddr_storage peer;
    socklen_t peerlen;
    struct sockaddr_storage local;
    socklen_t locallen;             /* 0 until asked for */
    char peer_text[64];             /* the client's address, no port */
    wm_log_t log;
    SSL *ssl;                       /* NULL on a plain connection */
    wm_http_core_srv_conf_t *ssl_srv; /* the server of the handshake */
    wm_http_request_t *request;     /* the request being served */
    wm_http_parser_t parser;        /* the head being read */
    wm_http_head_t head;
    wm_http_header_t headers[WM_HTTP_MAX_HEADERS];
    wm_msec_t lingering_deadline;   /* msec, monotonic */
    uint64_t number;                /* $connection */
    wm_uint_t requests;             /* $connection_requests */
    struct timeval start;
    unsigned timer_kind : 3;        /* what the timer waits for */
    unsigned closing : 1;
    unsigned lingering : 1;
    unsigned eof : 1;               /* the client half-closed */
    unsigned read_ready : 1;        /* the socket may have unread bytes */
    unsigned handshaking : 1;       /* TLS handshake under way */
    unsigned error : 1;
    unsigned pp_reading : 1;        /* the PROXY protocol header is due */
    unsigned has_pp : 1;            /* pp holds the header that came */
    wm_pp_header_t pp;              /* its tlv fields are not kept */
    unsigned pipelined : 1;         /* the request's bytes came before the
                                       previous response ended ($pipe) */
};

struct wm_http_request_s {
    wm_pool_t *pool;                /* freed with the request */
    wm_http_connection_t *c;
    wm_http_core_srv_conf_t *srv;
    wm_http_core_loc_conf_t *loc;
    void **loc_confs;               /* loc->loc_confs */
    void **ctx;                     /* each module's state, by index */
    wm_http_head_t head;
    wm_http_header_t *headers;      /* the parser's array */
    wm_str_t uri;                   /* $uri: normalised path */
    wm_str_t args;                  /* $args */
    wm_str_t exten;                 /* extension of uri, for types */
    wm_str_t server_name;           /* $server_name */
    struct timeval start;
    /* Regex captures of the last match ($1..$9), as offsets into
     * captures_subject; NULL when none. */
    PCRE2_SIZE *captures;
    pcre2_code *captures_re;        /* the pattern, for named captures */
    uint32_t ncaptures;
    wm_str_t captures_subject;
    /* Each match of a regex with named captures, newest first: $name is
     * the group of the newest one that has it, as nginx copies named
     * captures into variables when they match. */
    struct wm_http_named_match_s *named;

    /* The response. */
    int status;
    wm_str_t status_line;           /* "404 Not Found" */
    wm_str_t content_type;
    int64_t content_length;         /* -1: unknown */
    time_t last_modified;           /* -1: none */
    wm_str_t etag;
    wm_str_t location;              /* Location header */
    wm_array_t out_headers;         /* extra wm_http_header_t */
    uint64_t bytes_sent;            /* whole response, headers included */
    size_t header_size;
    wm_http_handler_pt content;     /* chosen content handler */
    unsigned phase;                 /* next phase to run */
    unsigned phase_handler;         /* next handler within the phase */
    int access_code;                /* satisfy any: 401/403 so far, or 0 */
    unsigned internal_redirects;
    int error_page_status;          /* set while serving an error_page */

    /* Set by a content handler that goes on reading or writing while the
     * request lives (the proxy): read_handler runs when the client's
     * socket is readable; write_handler, from the loop, once c->out went
     * down to out_lowat bytes or fewer. */
    void (*read_handler)(wm_http_request_t *r);
    void (*write_handler)(wm_http_request_t *r);
    size_t out_lowat;

    uint64_t body_left;             /* request body bytes not yet read */
    wm_http_chunked_t chunked;
    size_t head_used;               /* bytes of c->in used by this head */

    unsigned internal : 1;          /* reached by an internal redirect */
    unsigned uri_changed : 1;       /* a rewrite changed the URI: find the
                                       location again */
    unsigned header_sent : 1;
    unsigned header_only : 1;       /* HEAD or 304 */
    unsigned keepalive : 1;
    unsigned lingering : 1;         /* unread input remains: close slowly */
    unsigned discarding_body : 1;
    unsigned chunked_out : 1;       /* response uses chunked framing */
    unsigned done : 1;              /* response fully queued */
    unsigned allow_ranges : 1;
    unsigned error_page : 1;        /* an error_page already applied */
    unsigned filter_need_in_memory : 1; /* a body filter reads the bytes:
                                           files go through memory */
    unsigned file_body_unneeded : 1; /* a body filter has the body from
                                        elsewhere: the file is not read */
    unsigned file_known : 1;        /* file_stat: the whole file is the
                                       body */
    struct stat file_stat;          /* of the file a static 200 sends */
    unsigned logged : 1;            /* the log handlers ran */
    unsigned corked : 1;            /* TCP_CORK is on (tcp_nopush) */
    unsigned add_uri_to_alias : 1;  /* try_files found r->uri under an
                                       alias_full: append it (nginx) */
};

/* The phases, in order. A handler that moves r->phase itself returns
 * WM_AGAIN. */
enum {
    WM_HTTP_PHASE_SERVER_REWRITE = 0, /* the server's rewrite script */
    WM_HTTP_PHASE_FIND_CONFIG,      /* the location of r->uri */
    WM_HTTP_PHASE_REWRITE,          /* the location's rewrite script */
    WM_HTTP_PHASE_POST_REWRITE,     /* back to FIND_CONFIG if it changed
                                       the URI */
    WM_HTTP_PHASE_ACCESS,           /* allow / deny */
    WM_HTTP_PHASE_TRY_FILES,
    WM_HTTP_PHASE_CONTENT,          /* the location's handler, or static */
    WM_HTTP_PHASE_N,
};

extern wm_module_t wm_http_core_module;
extern wm_module_t wm_http_static_module;
extern wm_module_t wm_http_rewrite_module;
extern wm_module_t wm_http_ssl_module;
extern wm_module_t wm_http_access_module;
extern wm_module_t wm_http_realip_module;
extern wm_module_t wm_http_proxy_module;
extern wm_module_t wm_http_upstream_module;

/*
 * open(2) and stat(2) of a file that a request serves, under the
 * location's disable_symlinks (wm_http_symlinks.c): -1 with errno ELOOP
 * when a symbolic link on the path is refused (403, logged at error, as
 * nginx), as the plain calls otherwise.
 */
int wm_http_open(wm_http_request_t *r, const char *path, int flags);
int wm_http_stat(wm_http_request_t *r, const char *path, struct stat *st);
const char *wm_http_disable_symlinks(wm_conf_t *cf, const wm_command_t *cmd,
                                     void *conf);

/*
 * msie_padding and msie_refresh (wm_http_msie.c). _browser_of() tells
 * the browsers nginx tells apart by User-Agent: WM_HTTP_MSIE,
 * WM_HTTP_CHROME or 0. _padding() is what goes after the built-in page
 * of status ("" when nothing); _refresh() whether a 301/302 goes as a
 * refresh page, which _send_refresh() sends (200, to r->location).
 * _escape() writes src escaped for the page into dst (NULL: only counts)
 * and returns its length.
 */
#define WM_HTTP_MSIE 1
#define WM_HTTP_CHROME 2
unsigned wm_http_browser_of(const u_char *ua, size_t len);
const char *wm_http_msie_padding(wm_http_request_t *r, int status);
bool wm_http_msie_refresh(wm_http_request_t *r, int status);
void wm_http_send_refresh(wm_http_request_t *r);
size_t wm_http_refresh_escape(u_char *dst, const u_char *src, size_t len);

extern const wm_var_def_t *const wm_http_var_tables[];
extern const wm_var_def_t wm_http_log_vars[];
extern const wm_var_def_t wm_http_proxy_vars[]; /* wm_http_proxy_module.c */

/* True when a header name matches a variable's suffix (case-insensitive,
 * '-' as '_'), as $http_NAME and $sent_http_NAME do. */
bool wm_http_name_match(const wm_str_t *header, const wm_str_t *var);

/* Phase handlers of the modules (see the table in wm_http_request.c). */
wm_int_t wm_http_rewrite_server_handler(wm_http_request_t *r);
wm_int_t wm_http_rewrite_handler(wm_http_request_t *r);
wm_int_t wm_http_index_handler(wm_http_request_t *r);
wm_int_t wm_http_static_handler(wm_http_request_t *r);
wm_int_t wm_http_static_compressed_handler(wm_http_request_t *r);
wm_int_t wm_http_access_handler(wm_http_request_t *r);
wm_int_t wm_http_auth_basic_handler(wm_http_request_t *r);
/* Also called once the request's server is known (nginx's post-read). */
wm_int_t wm_http_realip_handler(wm_http_request_t *r);
/*
 * Walks the address lists in values[0..n) (the last header first, each
 * from its right end) as nginx does: the rightmost address is taken;
 * with recursive, so is the next one to its left while the address taken
 * lies in one of from's wm_cidr_t blocks. An item that is not an address
 * ends the walk. True when an address was taken into *out.
 */
bool wm_http_realip_walk(const wm_array_t *from, bool recursive,
                         const wm_str_t **values, size_t n,
                         struct sockaddr_storage *out, socklen_t *outlen);

/* $realip_remote_addr/_port and $proxy_protocol_* (NULL-name ended). */
extern const wm_var_def_t wm_http_realip_vars[];
extern const wm_var_def_t wm_http_proxy_protocol_vars[];

/* The address (port false) or the port of sa as a variable's value, in
 * pool; an empty value for port 0. WM_OK or WM_ERROR. */
wm_int_t wm_http_var_sockaddr(wm_pool_t *pool, const struct sockaddr *sa,
                              bool port, wm_str_t *v);

/* Reads the PROXY protocol header of c (listen ... proxy_protocol) out of
 * the socket, before TLS and the request head: WM_OK once read (c->pp),
 * WM_AGAIN for more bytes, WM_ERROR (logged) to close. */
wm_int_t wm_http_proxy_protocol_read(wm_http_connection_t *c);
wm_int_t wm_http_try_files_handler(wm_http_request_t *r);
wm_int_t wm_http_autoindex_handler(wm_http_request_t *r);

/* Header and body filters of the modules (see the tables in
 * wm_http_output.c). */
wm_int_t wm_http_headers_filter(wm_http_request_t *r);
wm_int_t wm_http_charset_filter(wm_http_request_t *r);
wm_int_t wm_http_compress_header_filter(wm_http_request_t *r);
wm_int_t wm_http_compress_body_filter(wm_http_request_t *r,
                                      struct evbuffer *in, bool last);

#define wm_http_loc_conf(r, module) ((r)->loc_confs[(module).index])

/* The core loc conf of the block being parsed. */
#define wm_http_conf_core_loc(cf)                                              \
    ((wm_http_core_loc_conf_t *) (cf)->confs[WM_LVL_LOC]                       \
                                            [wm_http_core_module.index])

/* Creates the conf of every http module for one level (for blocks such
 * as `if`); NULL when out of memory. */
void **wm_http_create_confs(wm_conf_t *cf, unsigned level);

/* ---- wm_http_rewrite_module.c ------------------------------------------ */

/* Variables made by `set`, as variables of the config that names them;
 * wm_http_rewrite_vars_init() collects the names from the tree of an http
 * block before it is applied, so a variable may be used above its `set`.
 * NULL or an error message. */
extern const wm_var_def_t wm_http_rewrite_vars[];
const char *wm_http_rewrite_vars_init(const wm_conf_node_t *http);

/* The value `set` gave the variable name for r: WM_OK, or WM_DECLINED
 * when none did (nothing logged). */
wm_int_t wm_http_rewrite_var_value(wm_http_request_t *r, const wm_str_t *name,
                                   wm_str_t *v);

/* ---- wm_http_map_module.c ------------------------------------------------ */

/* The variables of `map` blocks; wm_http_map_vars_init() collects their
 * names from the tree of an http block before it is applied. NULL or an
 * error message. */
extern wm_module_t wm_http_map_module;
extern const wm_var_def_t wm_http_map_vars[];
const char *wm_http_map_vars_init(const wm_conf_node_t *http);

/* ---- wm_http_ssl_module.c --------------------------------------------- */

/* A server-side TLS object for c, with the default server's context;
 * SNI may switch it. NULL on failure (OpenSSL's error queue has why). */
SSL *wm_http_ssl_new(wm_http_connection_t *c);

/* Checks the request against its TLS handshake: WM_OK, 421 (another
 * server than the one of the handshake, where a client certificate is
 * involved), 495 (the certificate did not verify) or 496 (none was sent
 * where one is required); the last two are answered as nginx's 400
 * pages. Logged at info. */
wm_int_t wm_http_ssl_check_client(wm_http_request_t *r);

/* Builds the TLS context of a server on a `listen ... ssl` address. NULL,
 * or an error message with *file and *line set to where it belongs. */
const char *wm_http_ssl_server_init(wm_conf_t *cf,
                                    wm_http_core_srv_conf_t *cscf,
                                    const char **file, unsigned *line);

/* ---- wm_http_location.c ----------------------------------------------- */

/* Orders the nested locations of every level below root for matching.
 * NULL or an error message. */
const char *wm_http_locations_init(wm_pool_t *pool,
                                   wm_http_core_loc_conf_t *root);

/*
 * Finds the location of uri below root with nginx's rules: an exact match
 * wins; else the longest prefix, which wins outright with ^~; else the
 * first regex (nested ones of the chosen prefix first); else the longest
 * prefix; NULL when nothing matches. An internal location is found like
 * any other; the caller refuses it to a client request. Regex captures are
 * stored in r (may be NULL for tests).
 */
wm_http_core_loc_conf_t *wm_http_location_find(wm_http_core_loc_conf_t *root,
                                               const wm_str_t *uri,
                                               wm_http_request_t *r);

/* The named location @name of a server, or NULL. */
wm_http_core_loc_conf_t *wm_http_location_named(wm_http_core_loc_conf_t *root,
                                                const wm_str_t *name);

/* Matches re against subject, storing captures in r when given.
 * 1 on a match, 0 on none, -1 on an error. */
int wm_http_regex_exec(wm_http_regex_t *re, const wm_str_t *subject,
                       wm_http_request_t *r);

/* Named captures of the patterns compiled so far, as variables; the
 * list starts afresh with wm_http_regex_names_reset() (each http block). */
extern const wm_var_def_t wm_http_capture_vars[];
void wm_http_regex_names_reset(void);

/* Compiles pattern (caseless when asked) into re, in pool memory; its
 * named captures become variables. NULL or an error message. */
const char *wm_http_regex_compile(wm_pool_t *pool, const wm_str_t *pattern,
                                  bool caseless, wm_http_regex_t *re);

/* ---- wm_http_vhost.c ---------------------------------------------------- */

/* Parses one server_name argument into sn. NULL or an error message. */
const char *wm_http_server_name_parse(wm_pool_t *pool, const wm_str_t *arg,
                                      wm_http_server_name_t *sn);

/*
 * Picks the server for host among the servers of one address, in nginx's
 * order: exact name, longest leading wildcard, longest trailing wildcard,
 * first matching regex (in config order), else the default server.
 */
wm_http_core_srv_conf_t *wm_http_find_server(wm_http_addr_conf_t *ac,
                                             const wm_str_t *host,
                                             wm_http_request_t *r);

/* ---- wm_http_connection.c ----------------------------------------------- */

/* The accept handler of HTTP listening sockets. */
void wm_http_accept(wm_listening_t *ls, int fd, struct sockaddr *sa,
                    socklen_t len);

/* Worker hooks: track live connections, close the idle ones when a
 * graceful stop begins, free the rest when the worker exits. */
wm_int_t wm_http_init_worker(wm_cycle_t *cycle);
void wm_http_exit_worker(wm_cycle_t *cycle);

/* Reads what the client's socket has (at most max bytes) into c->in:
 * bytes read, 0 on EOF, WM_AGAIN (c->read_ready cleared), or WM_ERROR
 * (logged). */
ssize_t wm_http_connection_recv(wm_http_connection_t *c, size_t max);

/* Queues c->out for sending and calls wm_http_request_done() once the
 * response is out (r->done set). */
void wm_http_connection_flush(wm_http_connection_t *c);

/* ---- wm_http_request_body.c -------------------------------------------- */

/*
 * Takes over the reading of r's request body from the connection (which
 * would otherwise discard it): the head's bytes are set aside so that c->in
 * starts with the body. WM_OK or WM_ERROR (out of memory).
 */
wm_int_t wm_http_body_start(wm_http_request_t *r);

/*
 * Moves up to max bytes of r's body (decoded from chunked, and bounded by
 * client_max_body_size) from the client into out, reading the socket when
 * c->in runs dry. WM_OK when the body is complete, WM_AGAIN to wait for
 * r->read_handler, or WM_ERROR with *status: 400 (bad chunked body, or the
 * client closed: then 499) or 413 (logged). Once WM_ERROR was returned,
 * setting r->discarding_body lets the connection drop the rest.
 */
wm_int_t wm_http_body_read(wm_http_request_t *r, struct evbuffer *out,
                           size_t max, int *status);

/* ---- wm_http_request.c and wm_http_output.c ----------------------------- */

/* Runs a new request whose head was parsed. */
void wm_http_request_start(wm_http_request_t *r);

/* Runs the phases from r->phase on; called again after WM_DONE work. */
void wm_http_run_phases(wm_http_request_t *r);

/* Ends r with a status: an error page (special or error_page) when the
 * response was not started, else just the end of the response. */
void wm_http_finalize(wm_http_request_t *r, wm_int_t rc);

/* Restarts r at the rewrite phase with a new uri (and args), or at a
 * named location when uri starts with '@'. */
void wm_http_internal_redirect(wm_http_request_t *r, const wm_str_t *uri,
                               const wm_str_t *args);

/* Builds and queues the response head from r's fields. WM_OK/WM_ERROR. */
wm_int_t wm_http_send_header(wm_http_request_t *r);

/* Sends body bytes (moved out of buf; NULL means c->body) through the
 * body filters; last marks the end. The body of a HEAD request or a 304
 * is dropped. WM_OK or WM_ERROR. */
wm_int_t wm_http_send_body(wm_http_request_t *r, struct evbuffer *buf,
                           bool last);

/* For body filters: passes buf to the filter after self. */
wm_int_t wm_http_body_next(wm_http_request_t *r, wm_http_body_filter_pt self,
                           struct evbuffer *buf, bool last);

/* Sends `len` bytes of the open file fd from offset through the body
 * filters (with sendfile when the location has it on). Takes ownership of
 * fd. */
wm_int_t wm_http_send_file(wm_http_request_t *r, int fd, off_t offset,
                           off_t len, bool last);

/* Adds a response header (name and value copied into r->pool). */
wm_int_t wm_http_add_header(wm_http_request_t *r, const char *name,
                            const wm_str_t *value);

/* Answers with a redirect (301, 302, 303, 307, 308) to location, made
 * absolute per absolute_redirect. */
wm_int_t wm_http_send_redirect(wm_http_request_t *r, int status,
                               const wm_str_t *location);

/* The file name of uri under the location's root or alias, in r's pool,
 * NUL-terminated, its length in *len; NULL when out of memory. An alias
 * replaces the part of the URI its location matched. */
char *wm_http_map_uri(wm_http_request_t *r, const wm_str_t *uri, size_t *len);

/* The location's root or alias for r ($document_root): its variables
 * evaluated and a relative value made absolute (in r's pool). WM_OK or
 * WM_ERROR (out of memory). */
wm_int_t wm_http_root_value(wm_http_request_t *r, wm_str_t *root);

/* static_cache of r's location in bytes (0: off). */
size_t wm_http_static_cache_size(wm_http_request_t *r);

/* Sets r->content_type from the URI's extension (types), else
 * default_type, as nginx does for files and `return code text`. */
void wm_http_set_content_type(wm_http_request_t *r);

/* Sends a short response with a body (for return code text); type NULL
 * keeps r->content_type. */
wm_int_t wm_http_send_text(wm_http_request_t *r, int status,
                           const wm_str_t *type, const wm_str_t *body);

/* Called by the connection once the response is fully sent, or when it
 * closes with the request unfinished: runs the log handlers, once. */
void wm_http_request_done(wm_http_request_t *r);

/* "404 Not Found" for a status, or NULL for an unknown one. */
const char *wm_http_status_line(int status);

/* A log for messages about r: its connection's sinks with the request's
 * context (client, server, request, host). Valid until the next call. */
wm_log_t *wm_http_request_log(wm_http_request_t *r);

/* The request's own log: client, server, request, host. */
size_t wm_http_log_context(wm_log_t *log, char *buf, size_t len);

/* ---- wm_http_log_variables.c -------------------------------------------- */

/* The user and password of r's `Authorization: Basic base64(user:pass)`,
 * decoded into pool memory (the password NUL-terminated): WM_OK,
 * WM_DECLINED when there are none or they are malformed (bad base64, no
 * ':'), WM_ERROR when out of memory. */
wm_int_t wm_http_basic_credentials(wm_http_request_t *r, wm_pool_t *pool,
                                   wm_str_t *user, wm_str_t *pass);

/* ---- wm_http_limit_rate_module.c ---------------------------------------- */

/* How many of the pending bytes of r's response may be written now under
 * limit_rate: -1 for no limit; 0 with *delay (msec) to wait. */
ssize_t wm_http_limit_rate_allow(wm_http_request_t *r, size_t pending,
                                 wm_msec_t *delay);

/* Counts n bytes of r's response written to the client. */
void wm_http_limit_rate_sent(wm_http_request_t *r, size_t n);

/* $limit_rate: the response's rate in bytes per second (0: none), which
 * `set $limit_rate` changes. NULL-name ended. */
extern const wm_var_def_t wm_http_limit_rate_vars[];

/* ---- wm_http_compat_module.c -------------------------------------------- */

/* recursive_error_pages of r's location. */
bool wm_http_recursive_error_pages(wm_http_request_t *r);

/* chunked_transfer_encoding of r's location. */
bool wm_http_chunked_allowed(wm_http_request_t *r);

/* sendfile_max_chunk of r's location when its response may use sendfile
 * (plain connection, sendfile on), else 0. */
size_t wm_http_send_chunk_max(wm_http_request_t *r);

/* Before c is closed for a timeout: with reset_timedout_connection on,
 * SO_LINGER 0 so that the close sends a reset. */
void wm_http_reset_timedout(wm_http_connection_t *c);

/* ---- wm_http_log_module.c ----------------------------------------------- */

/* The access log handler (see the table in wm_http_request.c). */
wm_int_t wm_http_log_handler(wm_http_request_t *r);

/* The error_log of a location (its loc_confs), or NULL when it has none
 * and messages go to the main error log. */
wm_log_t *wm_http_error_log(void **loc_confs);

#endif /* WM_HTTP_H */
