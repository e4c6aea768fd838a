/*
 * The HTTP/1.1 message parsers: the request head and the upstream response
 * head (start line and header fields) as incremental state machines over
 * the caller's buffer, the body framing of a response, the normalisation of
 * a request path, and the chunked transfer-coding decoder.
 * All are pure functions of bytes: no sockets, no files, no allocation, and
 * every wm_str_t they produce points into the caller's buffer.
 */
#ifndef WM_HTTP_PARSE_H
#define WM_HTTP_PARSE_H

#include "wm_core.h"

/*
 * Status codes the parsers give for bad input, with the choices made:
 *
 *   400  any syntax error; a bad, empty (HTTP/1.1), duplicate or missing
 *        (HTTP/1.1) Host; a bad or conflicting Content-Length; both
 *        Transfer-Encoding and Content-Length; Transfer-Encoding in an
 *        HTTP/1.0 request; `chunked` not the final coding; a second
 *        Transfer-Encoding line; whitespace before a colon; obs-fold; a bare
 *        CR; a malformed version; an unknown method with invalid characters.
 *        A header name with characters outside the token set (or '_'
 *        without underscores_in_headers) is skipped, or kept as is when
 *        ignore_invalid_headers is off, as nginx does.
 *   414  the request line is longer than max_request_line.
 *   431  a header line is longer than max_header_line, the whole head is
 *        longer than max_head, or there are more header fields than the
 *        caller's array holds. nginx answers 400 "Request Header Or Cookie
 *        Too Large" here; wmproxy uses the RFC 6585 code for all three.
 *   417  an Expect other than 100-continue.
 *   501  a transfer coding other than `chunked` (as nginx).
 *   505  a well-formed version whose major is not 1 (HTTP/0.9, HTTP/2.0).
 *        HTTP/1.x with x > 1 is accepted and answered as HTTP/1.1.
 *
 * Strictness beyond nginx: exactly one SP between the parts of the request
 * line, and a request-target may not hold '#', '\\', controls, or bytes
 * over 0x7e. Other visible ASCII that RFC 3986 forbids ('"', '<', '>', '^',
 * '`', '{', '|', '}') is accepted, as nginx does, because real clients send
 * it unescaped.
 */

/* Methods, as bits so that a location can hold a set of them. */
#define WM_HTTP_UNKNOWN 0x00000001
#define WM_HTTP_GET 0x00000002
#define WM_HTTP_HEAD 0x00000004
#define WM_HTTP_POST 0x00000008
#define WM_HTTP_PUT 0x00000010
#define WM_HTTP_DELETE 0x00000020
#define WM_HTTP_MKCOL 0x00000040
#define WM_HTTP_COPY 0x00000080
#define WM_HTTP_MOVE 0x00000100
#define WM_HTTP_OPTIONS 0x00000200
#define WM_HTTP_PROPFIND 0x00000400
#define WM_HTTP_PROPPATCH 0x00000800
#define WM_HTTP_LOCK 0x00001000
#define WM_HTTP_UNLOCK 0x00002000
#define WM_HTTP_PATCH 0x00004000
#define WM_HTTP_TRACE 0x00008000
#define WM_HTTP_CONNECT 0x00010000

/* The four forms of request-target (RFC 9112 3.2). */
#define WM_HTTP_TARGET_ORIGIN 1   /* /path?args */
#define WM_HTTP_TARGET_ABSOLUTE 2 /* http://host:port/path?args */
#define WM_HTTP_TARGET_AUTHORITY 3 /* host:port, CONNECT only */
#define WM_HTTP_TARGET_ASTERISK 4 /* *, OPTIONS only */

#define WM_HTTP_VERSION_10 1000
#define WM_HTTP_VERSION_11 1001

/* One header field as received: slices of the caller's buffer, the value
 * without its leading and trailing whitespace. */
typedef struct {
    wm_str_t name;
    wm_str_t value;
} wm_http_header_t;

/*
 * Limits and switches of the head parser; wm_http_parse_conf_init() fills
 * in the defaults. Sizes are in bytes and exclude the line's CRLF, except
 * max_head, which counts every byte up to and including the final LF (and
 * any empty lines skipped before the request line).
 */
typedef struct {
    size_t max_request_line;           /* default 8192; beyond: 414 */
    size_t max_header_line;            /* default 8192; beyond: 431 */
    size_t max_head;                   /* default 32768; beyond: 431 */
    unsigned underscores_in_headers:1; /* default off */
    unsigned ignore_invalid_headers:1; /* default on; off keeps them */
} wm_http_parse_conf_t;

/*
 * A parsed request head. Every slice points into the buffer given to
 * wm_http_parse_request(), except `path` of an absolute-form target that
 * has no path, which points to a static "/". Fields are valid only once
 * the parser returned WM_OK; `status` and `error` once it returned
 * WM_ERROR.
 */
typedef struct {
    wm_str_t request_line; /* without CRLF */
    wm_str_t method_name;
    wm_uint_t method; /* WM_HTTP_GET...; WM_HTTP_UNKNOWN if well-formed
                         but not one of those: the server answers 405/501 */
    wm_str_t target;  /* the raw request-target */
    wm_uint_t target_form;
    wm_str_t scheme;  /* absolute-form only, as sent */
    wm_str_t path;    /* raw (still percent-encoded) path, before '?' */
    wm_str_t args;    /* after '?', without it */
    unsigned has_args:1; /* a '?' was present, even if args are empty */
    wm_uint_t version;   /* 1000 * major + minor */

    wm_http_header_t *headers; /* the caller's array, in received order,
                                  without the ignored invalid ones */
    size_t nheaders;
    size_t nalloc;
    size_t ninvalid; /* invalid header lines ignored */

    /* The host the request is for: from an absolute-form or authority-form
     * target, else from Host. Lowercased in the caller's buffer, trailing
     * dot and port removed; IPv6 literals keep their brackets. Empty for
     * an HTTP/1.0 request without Host. */
    wm_str_t host;
    wm_str_t port_text; /* the port digits, empty if none */
    wm_uint_t port;     /* 0 if none */

    int64_t content_length; /* -1 if none */
    wm_str_t transfer_encoding;
    wm_str_t upgrade;
    unsigned chunked:1;         /* the body is chunked */
    unsigned keep_alive:1;      /* per version and Connection */
    unsigned conn_close:1;      /* Connection tokens seen */
    unsigned conn_keep_alive:1;
    unsigned conn_upgrade:1;
    unsigned expect_continue:1; /* HTTP/1.1 Expect: 100-continue */

    size_t head_len; /* bytes consumed, through the LF of the empty line */
    int status;         /* on WM_ERROR: 400, 414, 417, 431, 501 or 505 */
    const char *error;  /* on WM_ERROR: "client sent ..." for the log */
} wm_http_head_t;

/*
 * The head parser's state between calls. The fields are private; the
 * caller only allocates it (on the stack or in the connection).
 */
typedef struct {
    wm_uint_t state;
    size_t pos;        /* offset of the next byte to look at */
    size_t line_start; /* offsets of the current line's parts */
    size_t line_end;
    size_t method_end;
    size_t target_start;
    size_t target_end;
    size_t version_start;
    size_t name_end;
    size_t val_start;
    size_t val_end;
    u_char *base;      /* the buffer of the previous call */
    unsigned major;
    unsigned minor;
    unsigned invalid_name:1;
    unsigned host_seen:1;
    unsigned te_seen:1;
    unsigned expect_other:1;
    unsigned code;     /* the status code digits so far */
    size_t reason_start;
    const wm_http_parse_conf_t *conf;
    wm_http_head_t *head;   /* a request parser's result, or NULL */
    struct wm_http_status_s *resp; /* a response parser's result, or
                                      NULL */
} wm_http_parser_t;

/* Fills conf with the defaults documented on wm_http_parse_conf_t. */
void wm_http_parse_conf_init(wm_http_parse_conf_t *conf);

/*
 * Prepares p to parse one request head into head, storing up to nalloc
 * header fields in the caller's array headers (more: 431). conf, head and
 * headers must outlive the parse. To parse the next pipelined request,
 * call it again and pass the bytes after the previous head and body.
 */
void wm_http_parser_init(wm_http_parser_t *p,
                         const wm_http_parse_conf_t *conf,
                         wm_http_head_t *head, wm_http_header_t *headers,
                         size_t nalloc);

/*
 * Parses a request head incrementally. buf holds the len bytes received so
 * far, starting with the first byte of the head; each call passes the same
 * bytes again plus any new ones (the parser keeps its offset and looks at
 * each byte once). The buffer may move between calls (a realloc or an
 * evbuffer_pullup), as long as it holds the same bytes: the parser then
 * moves the slices it already made. It writes to the buffer only to
 * lowercase the host. Returns WM_AGAIN until the head is complete, then
 * WM_OK with head->head_len set (the body, or the next request, starts
 * there), or WM_ERROR with head->status and head->error. The result does
 * not depend on how the bytes were split between calls; once WM_OK or
 * WM_ERROR was returned, later calls return the same.
 */
wm_int_t wm_http_parse_request(wm_http_parser_t *p, u_char *buf, size_t len);

/* The first header field named `name` (case-insensitive), or NULL. */
wm_http_header_t *wm_http_header_find(const wm_http_head_t *head,
                                      const char *name);

/* ---- upstream response head -------------------------------------------- */

/*
 * wm_http_parse_status() takes the same parser and buffer contract as
 * wm_http_parse_request(), parses the status line and then runs the same
 * header-field states. Every refusal is WM_ERROR with an "upstream sent
 * ..." error for the log; the proxy answers 502 and closes the upstream
 * connection. The choices:
 *
 *   Status line: "HTTP/1." DIGIT SP 3DIGIT [SP reason-phrase] CRLF with
 *   exactly one SP after the version; status 100-599; the reason may be
 *   empty and its SP missing ("HTTP/1.1 200" CRLF), as nginx tolerates,
 *   and may hold SP, HTAB, visible ASCII and obs-text, nothing else.
 *   HTTP/1.0 is 1.0, any other HTTP/1.x is 1.1; another major version or
 *   a malformed one is an error. No empty line may come first.
 *
 *   HTTP/0.9: a response that does not start with "HTTP/" is an error.
 *   nginx takes it as an HTTP/0.9 body, which lets a backend that echoes
 *   input forge a whole response; wmproxy does not.
 *
 *   Header fields: the request rules (no whitespace before the colon, no
 *   obs-fold, no controls or bare CR, the limits) except that a name must
 *   be a token: one that is not is an error where nginx passes it. '_' is
 *   a token character; underscores_in_headers and ignore_invalid_headers
 *   do not apply. max_request_line bounds the status line.
 *
 *   Framing (RFC 9112 6): Content-Length is 1*DIGIT (no sign, no list),
 *   repeated only with the same value; Transfer-Encoding is one line whose
 *   codings are exactly `chunked` (empty list elements aside): another
 *   coding, chunked twice, not last or with parameters is an error, as is
 *   Transfer-Encoding in an HTTP/1.0 response or together with
 *   Content-Length. These hold whatever the status, so a response that
 *   could be framed two ways never reaches the framing decision.
 */

/* A parsed response head. Slices point into the buffer given to
 * wm_http_parse_status(); the fields are valid once it returned WM_OK,
 * `error` once it returned WM_ERROR. */
typedef struct wm_http_status_s {
    wm_str_t status_line; /* without CRLF */
    wm_uint_t version;    /* WM_HTTP_VERSION_10 or WM_HTTP_VERSION_11 */
    wm_uint_t status;     /* 100-599 */
    wm_str_t reason;      /* as sent after the SP, possibly empty */
    unsigned interim:1;   /* 1xx other than 101: skip it, parse the final
                             head from head_len on */

    wm_http_header_t *headers; /* the caller's array, in received order */
    size_t nheaders;
    size_t nalloc;

    int64_t content_length; /* -1 if none */
    wm_str_t transfer_encoding;
    wm_str_t upgrade;      /* the first Upgrade value */
    wm_str_t location;     /* the first of each; null slices if absent */
    wm_str_t content_type;
    wm_str_t date;
    wm_str_t server;
    size_t nset_cookie;    /* Set-Cookie lines */
    int64_t keep_alive_timeout; /* seconds, from the first Keep-Alive
                                   "timeout=N" (N at most 9 digits);
                                   -1 if none or malformed */
    unsigned chunked:1;         /* Transfer-Encoding: chunked */
    unsigned keep_alive:1;      /* per version and Connection alone; the
                                   framing may still forbid reuse */
    unsigned conn_close:1;      /* Connection tokens seen */
    unsigned conn_keep_alive:1;
    unsigned conn_upgrade:1;

    size_t head_len;   /* bytes consumed, through the LF of the empty line */
    const char *error; /* on WM_ERROR: "upstream sent ..." for the log */
} wm_http_status_t;

/* How the body of a response is delimited. */
typedef enum {
    WM_HTTP_BODY_NONE = 0, /* no body: HEAD, 1xx, 204, 304 */
    WM_HTTP_BODY_LENGTH,   /* exactly `length` bytes (may be 0) */
    WM_HTTP_BODY_CHUNKED,  /* chunked: decode with wm_http_chunked_parse() */
    WM_HTTP_BODY_CLOSE,    /* everything until the upstream closes */
    WM_HTTP_BODY_TUNNEL    /* 101, or 2xx to CONNECT: raw bytes both ways */
} wm_http_body_t;

typedef struct {
    wm_http_body_t body;
    int64_t length;        /* WM_HTTP_BODY_LENGTH only; else -1 */
    unsigned keep_alive:1; /* the connection may carry another request
                              once this body was read */
} wm_http_framing_t;

/*
 * Prepares p to parse one response head into st, storing up to nalloc
 * header fields in headers (more: error). conf, st and headers must
 * outlive the parse. After an interim (1xx) head, or to parse the next
 * response on a kept-alive connection, call it again and pass the bytes
 * from there.
 */
void wm_http_parser_init_status(wm_http_parser_t *p,
                                const wm_http_parse_conf_t *conf,
                                wm_http_status_t *st,
                                wm_http_header_t *headers, size_t nalloc);

/*
 * Parses a response head incrementally, with the contract of
 * wm_http_parse_request(): the same bytes again plus new ones on each
 * call, the buffer may move, the result does not depend on the split and
 * is sticky. Returns WM_AGAIN, WM_OK with st->head_len set, or WM_ERROR
 * with st->error. It never writes to the buffer. p must come from
 * wm_http_parser_init_status().
 */
wm_int_t wm_http_parse_status(wm_http_parser_t *p, u_char *buf, size_t len);

/*
 * Decides how the body of the parsed response st is delimited (RFC 9112
 * 6.3), given the method of the request it answers (WM_HTTP_HEAD, ...):
 * NONE for HEAD, 1xx (but 101), 204 and 304 whatever the headers say;
 * TUNNEL for 101 and for 2xx to CONNECT (the caller checks the request
 * asked for it); CHUNKED; LENGTH; else CLOSE. keep_alive is st->keep_alive
 * except that CLOSE and TUNNEL never keep the connection.
 */
void wm_http_response_framing(const wm_http_status_t *st, wm_uint_t method,
                              wm_http_framing_t *f);

/* ---- URI normalisation (wm_http_uri.c) ---------------------------------- */

#define WM_HTTP_URI_MERGE_SLASHES 0x01 /* "//" becomes "/", as nginx's
                                          merge_slashes */

/* A normalised path, in the caller's output buffer. */
typedef struct {
    wm_str_t path;            /* decoded; starts with '/', never holds a
                                 "." or ".." segment */
    unsigned quoted_slash:1;  /* a %2F was decoded (and split segments) */
    unsigned quoted:1;        /* any %-escape was decoded */
    unsigned dot_segments:1;  /* a "." or ".." segment was removed */
    unsigned merged:1;        /* repeated slashes were merged */
} wm_http_uri_t;

/*
 * Normalises a raw request path (head->path: starting with '/', no query)
 * into out, which must hold at least raw->len bytes: percent-decodes it,
 * treating a decoded '/' as a separator as nginx does, resolves "." and
 * ".." segments (RFC 3986 5.2.4) and merges slashes if flags ask. A '\\'
 * is an ordinary byte. Returns WM_OK with uri->path set (pointing into
 * out), or WM_ERROR (answer 400) for a bad or %00 escape, a raw NUL, a
 * ".." above the root, or a path not starting with '/'.
 */
wm_int_t wm_http_uri_normalize(const wm_str_t *raw, u_char *out,
                               wm_uint_t flags, wm_http_uri_t *uri);

/* ---- chunked transfer-coding (wm_http_chunked.c) ------------------------ */

/*
 * State of a chunked body decoder; independent of requests so that it also
 * decodes upstream responses. The public fields may be read; limits may be
 * set after wm_http_chunked_init().
 */
typedef struct {
    wm_uint_t state;
    uint64_t size;      /* bytes left in the current chunk */
    uint64_t total;     /* data bytes decoded so far */
    size_t line_len;    /* bytes of the current chunk-size line */
    size_t trailer_len; /* bytes of the trailer section so far */
    size_t max_line;    /* chunk-size line with extensions; default 4096 */
    size_t max_trailer; /* whole trailer section; default 8192 */
    const char *error;  /* on WM_ERROR, for the log */
} wm_http_chunked_t;

/* Prepares c for a new body with the default limits. */
void wm_http_chunked_init(wm_http_chunked_t *c);

/*
 * Decodes the next bytes of a chunked body from buf[0..len). Sets *used to
 * the bytes consumed and returns:
 *   WM_OK     *data is the next slice of chunk data (in buf, len >= 1);
 *             call again with the bytes after *used.
 *   WM_AGAIN  all len bytes were consumed and no data is pending.
 *   WM_DONE   the last chunk and trailer ended; bytes after *used belong
 *             to the next message. Later calls return WM_DONE, *used 0.
 *   WM_ERROR  malformed (answer 400): bad or overflowing chunk size, a
 *             chunk not followed by CRLF, a bare CR, a control character,
 *             or an extension or trailer over its limit. Sticky.
 * Any split of the input gives the same data and result. Extensions and
 * trailer fields are skipped; a bare LF is accepted for CRLF.
 */
wm_int_t wm_http_chunked_parse(wm_http_chunked_t *c, u_char *buf, size_t len,
                               size_t *used, wm_str_t *data);

#endif /* WM_HTTP_PARSE_H */
