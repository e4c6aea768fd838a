/*
 * The request and response head parsers: one state machine that looks at
 * each byte once, in order, so that an error is always the one at the
 * earliest byte and the result cannot depend on how the bytes arrived. The
 * two differ only in the start line states and in what the recognised
 * headers mean; the header-field states are shared. Whole lines are checked
 * when their LF arrives (the target form, the recognised headers), and the
 * checks that need the whole head run at its empty line.
 */
#include "wm_http_parse.h"

#define CR '\r'
#define LF '\n'

enum {
    S_START = 0,
    S_START_CR,
    S_METHOD,
    S_TARGET_START,
    S_TARGET,
    S_VERSION,
    S_RL_END,
    S_RL_CR,
    S_ST_VERSION, /* the status line of a response */
    S_ST_CODE,
    S_ST_CODE_END,
    S_ST_REASON,
    S_ST_CR,
    S_HDR_START,
    S_NAME,
    S_VALUE_OWS,
    S_VALUE,
    S_HDR_CR,
    S_END_CR,
    S_DONE,
    S_ERROR
};

/* The path of an absolute-form target that has none. */
static u_char wm_http_root[] = "/";

static const struct {
    const char *name;
    wm_uint_t method;
} wm_http_methods[] = {
    { "GET", WM_HTTP_GET },
    { "HEAD", WM_HTTP_HEAD },
    { "POST", WM_HTTP_POST },
    { "PUT", WM_HTTP_PUT },
    { "DELETE", WM_HTTP_DELETE },
    { "MKCOL", WM_HTTP_MKCOL },
    { "COPY", WM_HTTP_COPY },
    { "MOVE", WM_HTTP_MOVE },
    { "OPTIONS", WM_HTTP_OPTIONS },
    { "PROPFIND", WM_HTTP_PROPFIND },
    { "PROPPATCH", WM_HTTP_PROPPATCH },
    { "LOCK", WM_HTTP_LOCK },
    { "UNLOCK", WM_HTTP_UNLOCK },
    { "PATCH", WM_HTTP_PATCH },
    { "TRACE", WM_HTTP_TRACE },
    { "CONNECT", WM_HTTP_CONNECT },
};

/* Connection tokens, as bits. */
#define WM_HTTP_CONN_CLOSE 0x01
#define WM_HTTP_CONN_KEEP_ALIVE 0x02
#define WM_HTTP_CONN_UPGRADE 0x04

/* An error text of the shared states, for whichever peer sent the head. */
#define WM_HTTP_WHO(p, msg)                                                    \
    ((p)->resp != NULL ? "upstream sent " msg : "client sent " msg)

static wm_int_t wm_http_run(wm_http_parser_t *p, u_char *buf, size_t len);
static wm_int_t wm_http_fail(wm_http_parser_t *p, int status,
                             const char *error);
static wm_int_t wm_http_parse_byte(wm_http_parser_t *p, u_char *buf,
                                   u_char ch);
static wm_int_t wm_http_parse_status_byte(wm_http_parser_t *p, u_char *buf,
                                          u_char ch);
static wm_int_t wm_http_request_line_done(wm_http_parser_t *p, u_char *buf);
static wm_int_t wm_http_status_line_done(wm_http_parser_t *p, u_char *buf);
static wm_int_t wm_http_parse_target(wm_http_parser_t *p);
static wm_int_t wm_http_header_done(wm_http_parser_t *p, u_char *buf);
static wm_int_t wm_http_request_header(wm_http_parser_t *p,
                                       wm_http_header_t *h);
static wm_int_t wm_http_response_header(wm_http_parser_t *p,
                                        wm_http_header_t *h);
static wm_int_t wm_http_head_done(wm_http_parser_t *p);
static wm_int_t wm_http_response_done(wm_http_parser_t *p);
static int64_t wm_http_parse_length(const wm_str_t *v);
static int64_t wm_http_keep_alive_timeout(const wm_str_t *v);
static int wm_http_validate_host(u_char *h, size_t n, wm_str_t *host,
                                 wm_str_t *port_text, wm_uint_t *port,
                                 int require_port);
static int wm_http_check_te(const wm_str_t *v);
static unsigned wm_http_connection_tokens(const wm_str_t *v);
static void wm_http_rebase(wm_http_parser_t *p, u_char *buf);
static void wm_http_rebase_status(wm_http_parser_t *p, u_char *buf);

/* RFC 9110 5.6.2 tchar. */
static inline int
wm_http_is_tchar(u_char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
        || (ch >= '0' && ch <= '9'))
    {
        return 1;
    }
    switch (ch) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '.': case '^': case '_': case '`': case '|':
    case '~':
        return 1;
    default:
        return 0;
    }
}

static inline int
wm_http_is_ctl(u_char ch)
{
    return ch < 0x20 || ch == 0x7f;
}

/* A byte allowed in a request-target; see the policy in wm_http_parse.h. */
static inline int
wm_http_is_target(u_char ch)
{
    return ch > 0x20 && ch < 0x7f && ch != '#' && ch != '\\';
}

static inline u_char
wm_http_lower(u_char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (u_char) (ch | 0x20) : ch;
}

/* True when the slice equals the lowercase C string s, ignoring case. */
static int
wm_http_eq_nocase(const u_char *d, size_t n, const char *s)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '\0' || wm_http_lower(d[i]) != (u_char) s[i]) {
            return 0;
        }
    }
    return s[n] == '\0';
}

static inline void
wm_http_slice(wm_str_t *s, u_char *buf, size_t start, size_t end)
{
    s->data = buf + start;
    s->len = end - start;
}

void
wm_http_parse_conf_init(wm_http_parse_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->max_request_line = 8192;
    conf->max_header_line = 8192;
    conf->max_head = 32768;
    conf->underscores_in_headers = 0;
    conf->ignore_invalid_headers = 1;
}

void
wm_http_parser_init(wm_http_parser_t *p, const wm_http_parse_conf_t *conf,
                    wm_http_head_t *head, wm_http_header_t *headers,
                    size_t nalloc)
{
    memset(p, 0, sizeof(*p));
    memset(head, 0, sizeof(*head));
    p->state = S_START;
    p->conf = conf;
    p->head = head;
    head->headers = headers;
    head->nalloc = nalloc;
    head->content_length = -1;
}

void
wm_http_parser_init_status(wm_http_parser_t *p,
                           const wm_http_parse_conf_t *conf,
                           wm_http_status_t *st, wm_http_header_t *headers,
                           size_t nalloc)
{
    memset(p, 0, sizeof(*p));
    memset(st, 0, sizeof(*st));
    p->state = S_ST_VERSION;
    p->conf = conf;
    p->resp = st;
    st->headers = headers;
    st->nalloc = nalloc;
    st->content_length = -1;
    st->keep_alive_timeout = -1;
}

wm_int_t
wm_http_parse_request(wm_http_parser_t *p, u_char *buf, size_t len)
{
    return wm_http_run(p, buf, len);
}

wm_int_t
wm_http_parse_status(wm_http_parser_t *p, u_char *buf, size_t len)
{
    return wm_http_run(p, buf, len);
}

/* Bytes of a header name that need no other look: tchar but '_'. */
static const u_char wm_http_name_byte[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['`'] = 1,
    ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

static inline size_t
wm_http_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

/*
 * The fast path of wm_http_run(): in the states where most bytes are
 * (a target, a header name or value, a reason phrase), moves p->pos over
 * the run of ordinary bytes that wm_http_parse_byte() would take one by
 * one with nothing more than the same bookkeeping, stopping before the
 * line or head limit, so that the byte after the run, whatever it is,
 * gets the full per-byte treatment (and the limit errors stay the same).
 */
static void
wm_http_skip_run(wm_http_parser_t *p, const u_char *buf, size_t len)
{
    const wm_http_parse_conf_t *conf = p->conf;
    size_t pos = p->pos, end = wm_http_min(len, conf->max_head), val_end;
    u_char ch;

    switch (p->state) {

    case S_TARGET:
        end = wm_http_min(end, p->line_start + conf->max_request_line);
        while (pos < end && wm_http_is_target(buf[pos])) {
            pos++;
        }
        break;

    case S_HDR_START:
        /* A name's first byte: the line starts (limits from here on). */
        if (pos >= end || !wm_http_name_byte[buf[pos]]
            || conf->max_header_line == 0)
        {
            break;
        }
        p->line_start = pos++;
        p->invalid_name = 0;
        p->state = S_NAME;
        /* fall through */

    case S_NAME:
        end = wm_http_min(end, p->line_start + conf->max_header_line);
        while (pos < end && wm_http_name_byte[buf[pos]]) {
            pos++;
        }
        break;

    case S_VALUE_OWS:
        end = wm_http_min(end, p->line_start + conf->max_header_line);
        while (pos < end && (buf[pos] == ' ' || buf[pos] == '\t')) {
            pos++;
        }
        if (pos == end || buf[pos] <= 0x20 || buf[pos] == 0x7f) {
            break;
        }
        p->val_start = pos;
        p->state = S_VALUE;
        /* fall through */

    case S_VALUE:
        end = wm_http_min(end, p->line_start + conf->max_header_line);
        val_end = p->val_end;
        while (pos < end) {
            ch = buf[pos];
            if (ch > 0x20 && ch != 0x7f) {
                val_end = ++pos;
            } else if (ch == ' ' || ch == '\t') {
                pos++;
            } else {
                break;
            }
        }
        p->val_end = val_end;
        break;

    case S_ST_REASON:
        end = wm_http_min(end, p->line_start + conf->max_request_line);
        while (pos < end) {
            ch = buf[pos];
            if (ch == CR || ch == LF || (ch != '\t' && wm_http_is_ctl(ch))) {
                break;
            }
            p->line_end = pos++;
        }
        break;

    default:
        break;
    }
    p->pos = pos;
}

/* The loop of both parsers; the initial state says which one runs. */
static wm_int_t
wm_http_run(wm_http_parser_t *p, u_char *buf, size_t len)
{
    wm_int_t rc;

    if (p->base != NULL && p->base != buf) {
        if (p->resp != NULL) {
            wm_http_rebase_status(p, buf);
        } else {
            wm_http_rebase(p, buf);
        }
    }
    p->base = buf;
    if (p->state == S_DONE) {
        return WM_OK;
    }
    if (p->state == S_ERROR) {
        return WM_ERROR;
    }

    while (p->pos < len) {
        wm_http_skip_run(p, buf, len);
        if (p->pos == len) {
            break;
        }
        rc = wm_http_parse_byte(p, buf, buf[p->pos]);
        if (rc == WM_AGAIN) {
            p->pos++;
            continue;
        }
        if (rc == WM_OK) {
            p->pos++;
            if (p->resp != NULL) {
                p->resp->head_len = p->pos;
            } else {
                p->head->head_len = p->pos;
            }
            p->state = S_DONE;
        }
        return rc;
    }
    return WM_AGAIN;
}

wm_http_header_t *
wm_http_header_find(const wm_http_head_t *head, const char *name)
{
    size_t i;

    for (i = 0; i < head->nheaders; i++) {
        const wm_str_t *n = &head->headers[i].name;
        size_t k;

        for (k = 0; k < n->len; k++) {
            if (name[k] == '\0'
                || wm_http_lower(n->data[k])
                       != wm_http_lower((u_char) name[k]))
            {
                break;
            }
        }
        if (k == n->len && name[k] == '\0') {
            return &head->headers[i];
        }
    }
    return NULL;
}

/* status is the answer to a client; a response error is always 502. */
static wm_int_t
wm_http_fail(wm_http_parser_t *p, int status, const char *error)
{
    if (p->resp != NULL) {
        p->resp->error = error;
    } else {
        p->head->status = status;
        p->head->error = error;
    }
    p->state = S_ERROR;
    return WM_ERROR;
}

/*
 * One step of the machine. WM_AGAIN: go on with the next byte; WM_OK: this
 * byte ended the head; WM_ERROR: head->status says why. The limits are
 * checked before the byte's meaning, so a line over its limit gets 414 or
 * 431 whatever it holds past the limit.
 */
static wm_int_t
wm_http_parse_byte(wm_http_parser_t *p, u_char *buf, u_char ch)
{
    const wm_http_parse_conf_t *conf = p->conf;
    size_t pos = p->pos, i;

    if (ch != CR && ch != LF) {
        switch (p->state) {
        case S_START:
        case S_METHOD:
        case S_TARGET_START:
        case S_TARGET:
        case S_VERSION:
        case S_RL_END:
            i = (p->state == S_START) ? 1 : pos - p->line_start + 1;
            if (i > conf->max_request_line) {
                return wm_http_fail(p, 414, "client sent too long URI");
            }
            break;
        case S_ST_VERSION:
        case S_ST_CODE:
        case S_ST_CODE_END:
        case S_ST_REASON:
            if (pos - p->line_start + 1 > conf->max_request_line) {
                return wm_http_fail(p, 502,
                                    "upstream sent too long status line");
            }
            break;
        case S_HDR_START:
        case S_NAME:
        case S_VALUE_OWS:
        case S_VALUE:
            i = (p->state == S_HDR_START) ? 1 : pos - p->line_start + 1;
            if (i > conf->max_header_line) {
                return wm_http_fail(p, 431,
                                    WM_HTTP_WHO(p, "too long header line"));
            }
            break;
        default:
            break;
        }
    }
    if (pos + 1 > conf->max_head) {
        return wm_http_fail(p, 431,
                            p->resp != NULL
                                ? "upstream sent too big header"
                                : "client sent too large request head");
    }

    switch (p->state) {

    /* Empty lines before the request line are skipped (RFC 9112 2.2). */
    case S_START:
        if (ch == CR) {
            p->state = S_START_CR;
        } else if (ch == LF) {
            /* skip */
        } else if (wm_http_is_tchar(ch)) {
            p->line_start = pos;
            p->state = S_METHOD;
        } else {
            return wm_http_fail(p, 400, "client sent invalid method");
        }
        return WM_AGAIN;

    case S_START_CR:
        if (ch != LF) {
            return wm_http_fail(p, 400, "client sent bare CR");
        }
        p->state = S_START;
        return WM_AGAIN;

    case S_METHOD:
        if (ch == ' ') {
            p->method_end = pos;
            p->state = S_TARGET_START;
        } else if (!wm_http_is_tchar(ch)) {
            return wm_http_fail(p, 400, "client sent invalid method");
        }
        return WM_AGAIN;

    case S_TARGET_START:
        if (!wm_http_is_target(ch)) {
            return wm_http_fail(p, 400, "client sent invalid request");
        }
        p->target_start = pos;
        p->state = S_TARGET;
        return WM_AGAIN;

    case S_TARGET:
        if (ch == ' ') {
            p->target_end = pos;
            p->version_start = pos + 1;
            p->state = S_VERSION;
        } else if (ch == CR || ch == LF) {
            return wm_http_fail(p, 400,
                                "client sent request line without version");
        } else if (!wm_http_is_target(ch)) {
            return wm_http_fail(p, 400, "client sent invalid request target");
        }
        return WM_AGAIN;

    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. */
    case S_VERSION:
        i = pos - p->version_start;
        if (i < 5) {
            if (ch != (u_char) "HTTP/"[i]) {
                return wm_http_fail(p, 400, "client sent invalid version");
            }
        } else if (i == 5 || i == 7) {
            if (ch < '0' || ch > '9') {
                return wm_http_fail(p, 400, "client sent invalid version");
            }
            if (i == 5) {
                p->major = ch - '0';
            } else {
                p->minor = ch - '0';
                p->state = S_RL_END;
            }
        } else if (ch != '.') {
            return wm_http_fail(p, 400, "client sent invalid version");
        }
        return WM_AGAIN;

    case S_RL_END:
        p->line_end = pos;
        if (ch == CR) {
            p->state = S_RL_CR;
            return WM_AGAIN;
        }
        if (ch != LF) {
            return wm_http_fail(p, 400, "client sent invalid version");
        }
        return wm_http_request_line_done(p, buf);

    case S_RL_CR:
        if (ch != LF) {
            return wm_http_fail(p, 400, "client sent bare CR");
        }
        return wm_http_request_line_done(p, buf);

    case S_ST_VERSION:
    case S_ST_CODE:
    case S_ST_CODE_END:
    case S_ST_REASON:
    case S_ST_CR:
        return wm_http_parse_status_byte(p, buf, ch);

    /* The header-field states, shared by requests and responses. */
    case S_HDR_START:
        if (ch == CR) {
            p->state = S_END_CR;
            return WM_AGAIN;
        }
        if (ch == LF) {
            return p->resp != NULL ? wm_http_response_done(p)
                                   : wm_http_head_done(p);
        }
        if (ch == ' ' || ch == '\t') {
            return wm_http_fail(p, 400,
                                WM_HTTP_WHO(p, "obsolete line folding or "
                                               "whitespace before a header "
                                               "line"));
        }
        if (ch == ':') {
            return wm_http_fail(p, 400,
                                WM_HTTP_WHO(p, "header without name"));
        }
        if (wm_http_is_ctl(ch)) {
            return wm_http_fail(p, 400,
                                WM_HTTP_WHO(p, "invalid header line"));
        }
        p->line_start = pos;
        p->invalid_name = 0;
        p->state = S_NAME;
        /* fall through */

    case S_NAME:
        if (ch == ':') {
            p->name_end = pos;
            p->val_start = p->val_end = pos + 1;
            p->state = S_VALUE_OWS;
        } else if (ch == ' ' || ch == '\t') {
            return wm_http_fail(p, 400,
                                WM_HTTP_WHO(p, "whitespace before colon"));
        } else if (ch == CR || ch == LF) {
            return wm_http_fail(p, 400,
                                WM_HTTP_WHO(p, "header without colon"));
        } else if (wm_http_is_ctl(ch)) {
            return wm_http_fail(p, 400,
                                WM_HTTP_WHO(p, "invalid header line"));
        } else if (p->resp != NULL) {
            /* A response header name must be a token, '_' included. */
            if (!wm_http_is_tchar(ch)) {
                return wm_http_fail(p, 502,
                                    "upstream sent invalid header name");
            }
        } else if (ch == '_') {
            if (!conf->underscores_in_headers) {
                p->invalid_name = 1;
            }
        } else if (!wm_http_is_tchar(ch)) {
            p->invalid_name = 1;
        }
        return WM_AGAIN;

    case S_VALUE_OWS:
    case S_VALUE:
        if (ch == ' ' || ch == '\t') {
            return WM_AGAIN;
        }
        if (ch == CR) {
            p->state = S_HDR_CR;
            return WM_AGAIN;
        }
        if (ch == LF) {
            return wm_http_header_done(p, buf);
        }
        if (wm_http_is_ctl(ch)) {
            return wm_http_fail(p, 400,
                                WM_HTTP_WHO(p, "invalid header value"));
        }
        if (p->state == S_VALUE_OWS) {
            p->val_start = pos;
            p->state = S_VALUE;
        }
        p->val_end = pos + 1;
        return WM_AGAIN;

    case S_HDR_CR:
        if (ch != LF) {
            return wm_http_fail(p, 400, WM_HTTP_WHO(p, "bare CR"));
        }
        return wm_http_header_done(p, buf);

    case S_END_CR:
        if (ch != LF) {
            return wm_http_fail(p, 400, WM_HTTP_WHO(p, "bare CR"));
        }
        return p->resp != NULL ? wm_http_response_done(p)
                               : wm_http_head_done(p);

    default:
        return wm_http_fail(p, 400, "http parser in a bad state");
    }
}

/*
 * The status line: "HTTP/" DIGIT "." DIGIT SP 3DIGIT [SP reason] CRLF,
 * the version case-sensitive. Each byte is judged as it comes, so "HTT"
 * waits and "HTX" fails at once.
 */
static wm_int_t
wm_http_parse_status_byte(wm_http_parser_t *p, u_char *buf, u_char ch)
{
    size_t i = p->pos - p->line_start;

    switch (p->state) {

    case S_ST_VERSION:
        if (i < 5) {
            if (ch != (u_char) "HTTP/"[i]) {
                return wm_http_fail(p, 502, "upstream sent no valid "
                                            "HTTP/1.x status line");
            }
        } else if (i == 6) {
            if (ch != '.') {
                return wm_http_fail(p, 502,
                                    "upstream sent invalid HTTP version");
            }
        } else if (i == 8) {
            if (ch >= '0' && ch <= '9') {
                return wm_http_fail(p, 502,
                                    "upstream sent invalid HTTP version");
            }
            if (ch != ' ') {
                return wm_http_fail(p, 502,
                                    "upstream sent invalid status line");
            }
            p->state = S_ST_CODE;
        } else if (ch < '0' || ch > '9') {
            return wm_http_fail(p, 502, "upstream sent invalid HTTP version");
        } else if (i == 5) {
            if (ch != '1') {
                return wm_http_fail(p, 502, "upstream sent unsupported "
                                            "HTTP version");
            }
            p->major = 1;
        } else {
            /* i == 7 */
            p->minor = ch - '0';
        }
        return WM_AGAIN;

    case S_ST_CODE:
        /* i is 9, 10 or 11; the SP at 8 moved us here */
        if (ch < '0' || ch > '9' || (i == 9 && (ch < '1' || ch > '5'))) {
            return wm_http_fail(p, 502, "upstream sent invalid status code");
        }
        p->code = p->code * 10 + (ch - '0');
        if (i == 11) {
            p->state = S_ST_CODE_END;
        }
        return WM_AGAIN;

    case S_ST_CODE_END:
        p->line_end = p->reason_start = p->pos;
        if (ch == ' ') {
            p->reason_start = p->pos + 1;
            p->state = S_ST_REASON;
            return WM_AGAIN;
        }
        if (ch == CR) {
            p->state = S_ST_CR;
            return WM_AGAIN;
        }
        if (ch == LF) {
            return wm_http_status_line_done(p, buf);
        }
        return wm_http_fail(p, 502, "upstream sent invalid status code");

    case S_ST_REASON:
        p->line_end = p->pos;
        if (ch == CR) {
            p->state = S_ST_CR;
            return WM_AGAIN;
        }
        if (ch == LF) {
            return wm_http_status_line_done(p, buf);
        }
        if (ch != '\t' && wm_http_is_ctl(ch)) {
            return wm_http_fail(p, 502, "upstream sent invalid reason "
                                        "phrase");
        }
        return WM_AGAIN;

    default: /* S_ST_CR */
        if (ch != LF) {
            return wm_http_fail(p, 502, "upstream sent bare CR");
        }
        return wm_http_status_line_done(p, buf);
    }
}

static wm_int_t
wm_http_status_line_done(wm_http_parser_t *p, u_char *buf)
{
    wm_http_status_t *st = p->resp;

    wm_http_slice(&st->status_line, buf, p->line_start, p->line_end);
    wm_http_slice(&st->reason, buf, p->reason_start, p->line_end);
    st->version = p->minor == 0 ? WM_HTTP_VERSION_10 : WM_HTTP_VERSION_11;
    st->status = p->code;
    st->interim = p->code < 200 && p->code != 101;
    p->state = S_HDR_START;
    return WM_AGAIN;
}

static wm_int_t
wm_http_request_line_done(wm_http_parser_t *p, u_char *buf)
{
    wm_http_head_t *head = p->head;
    size_t i;

    wm_http_slice(&head->request_line, buf, p->line_start, p->line_end);
    wm_http_slice(&head->method_name, buf, p->line_start, p->method_end);
    wm_http_slice(&head->target, buf, p->target_start, p->target_end);

    head->method = WM_HTTP_UNKNOWN;
    for (i = 0; i < wm_nelems(wm_http_methods); i++) {
        if (wm_str_eq(&head->method_name, wm_http_methods[i].name)) {
            head->method = wm_http_methods[i].method;
            break;
        }
    }

    if (p->major != 1) {
        return wm_http_fail(p, 505, "client sent unsupported HTTP version");
    }
    head->version = 1000 + p->minor;

    if (wm_http_parse_target(p) != WM_OK) {
        return WM_ERROR;
    }
    p->state = S_HDR_START;
    return WM_AGAIN;
}

static void
wm_http_split_path(wm_http_head_t *head, u_char *t, size_t n)
{
    u_char *q = memchr(t, '?', n);

    if (q == NULL) {
        head->path.data = t;
        head->path.len = n;
        return;
    }
    head->path.data = t;
    head->path.len = (size_t) (q - t);
    head->args.data = q + 1;
    head->args.len = n - head->path.len - 1;
    head->has_args = 1;
}

/* Sorts the request-target into its form (RFC 9112 3.2) and takes the
 * path, args and, for absolute and authority forms, the host from it. */
static wm_int_t
wm_http_parse_target(wm_http_parser_t *p)
{
    wm_http_head_t *head = p->head;
    u_char *t = head->target.data, *auth;
    size_t n = head->target.len, i, alen;

    if (n == 1 && t[0] == '*') {
        if (head->method != WM_HTTP_OPTIONS) {
            return wm_http_fail(p, 400, "client sent \"*\" target without "
                                        "OPTIONS");
        }
        head->target_form = WM_HTTP_TARGET_ASTERISK;
        head->path = head->target;
        return WM_OK;
    }

    if (head->method == WM_HTTP_CONNECT) {
        head->target_form = WM_HTTP_TARGET_AUTHORITY;
        if (wm_http_validate_host(t, n, &head->host, &head->port_text,
                                  &head->port, 1)
            != 0)
        {
            return wm_http_fail(p, 400, "client sent invalid CONNECT target");
        }
        return WM_OK;
    }

    if (t[0] == '/') {
        head->target_form = WM_HTTP_TARGET_ORIGIN;
        wm_http_split_path(head, t, n);
        return WM_OK;
    }

    /* absolute-form: scheme "://" authority [ path-abempty ] [ "?" query ] */
    if (!((t[0] | 0x20) >= 'a' && (t[0] | 0x20) <= 'z')) {
        return wm_http_fail(p, 400, "client sent invalid request target");
    }
    for (i = 1; i < n; i++) {
        u_char c = t[i];

        if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
              || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
        {
            break;
        }
    }
    if (n - i < 3 || memcmp(t + i, "://", 3) != 0) {
        return wm_http_fail(p, 400, "client sent invalid request target");
    }
    head->target_form = WM_HTTP_TARGET_ABSOLUTE;
    head->scheme.data = t;
    head->scheme.len = i;

    auth = t + i + 3;
    for (alen = 0; auth + alen < t + n; alen++) {
        if (auth[alen] == '/' || auth[alen] == '?') {
            break;
        }
    }
    if (memchr(auth, '@', alen) != NULL
        || wm_http_validate_host(auth, alen, &head->host, &head->port_text,
                                 &head->port, 0)
               != 0)
    {
        return wm_http_fail(p, 400, "client sent invalid host in request "
                                    "target");
    }

    if (auth + alen == t + n || auth[alen] == '?') {
        head->path.data = wm_http_root;
        head->path.len = 1;
        if (auth + alen < t + n) {
            head->args.data = auth + alen + 1;
            head->args.len = (size_t) (t + n - head->args.data);
            head->has_args = 1;
        }
    } else {
        wm_http_split_path(head, auth + alen, (size_t) (t + n - auth - alen));
    }
    return WM_OK;
}

static int
wm_http_is_host_char(u_char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
        || (ch >= '0' && ch <= '9'))
    {
        return 1;
    }
    switch (ch) {
    /* unreserved, sub-delims and '%' of RFC 3986 reg-name */
    case '-': case '.': case '_': case '~': case '!': case '$': case '&':
    case '\'': case '(': case ')': case '*': case '+': case ',': case ';':
    case '=': case '%':
        return 1;
    default:
        return 0;
    }
}

/*
 * Validates host [":" port] (a Host value or a target's authority) and
 * lowercases the host in place. The host loses one trailing dot; "..",
 * an empty host, a port over 65535 and characters outside reg-name or an
 * IPv6 literal are refused. Returns 0 or -1.
 */
static int
wm_http_validate_host(u_char *h, size_t n, wm_str_t *host,
                      wm_str_t *port_text, wm_uint_t *port,
                      int require_port)
{
    size_t i, end, hlen;
    wm_uint_t value = 0;

    if (n == 0) {
        return -1;
    }
    if (h[0] == '[') {
        for (i = 1; i < n && h[i] != ']'; i++) {
            u_char c = wm_http_lower(h[i]);

            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                  || c == ':' || c == '.'))
            {
                return -1;
            }
            h[i] = c;
        }
        if (i == n || i == 1) {
            return -1;
        }
        end = i + 1;
        hlen = end;
    } else {
        for (i = 0; i < n && h[i] != ':'; i++) {
            if (!wm_http_is_host_char(h[i])
                || (h[i] == '.' && i > 0 && h[i - 1] == '.'))
            {
                return -1;
            }
            h[i] = wm_http_lower(h[i]);
        }
        end = i;
        hlen = end;
        if (hlen > 0 && h[hlen - 1] == '.') {
            hlen--;
        }
        if (hlen == 0) {
            return -1;
        }
    }

    port_text->data = h + n;
    port_text->len = 0;
    if (end < n) {
        if (h[end] != ':' || n - end - 1 > 5) {
            return -1;
        }
        for (i = end + 1; i < n; i++) {
            if (h[i] < '0' || h[i] > '9') {
                return -1;
            }
            value = value * 10 + (h[i] - '0');
        }
        if (value > 65535) {
            return -1;
        }
        port_text->data = h + end + 1;
        port_text->len = n - end - 1;
    }
    if (require_port && value == 0) {
        return -1;
    }
    host->data = h;
    host->len = hlen;
    *port = value;
    return 0;
}

/* A header line ended: stores it in the caller's array (of the request or
 * the response) and lets the start line's kind judge what it means. */
static wm_int_t
wm_http_header_done(wm_http_parser_t *p, u_char *buf)
{
    wm_http_header_t *headers, *h;
    size_t *n, nalloc;

    p->state = S_HDR_START;

    if (p->resp != NULL) {
        headers = p->resp->headers;
        n = &p->resp->nheaders;
        nalloc = p->resp->nalloc;
    } else {
        /* nginx: with ignore_invalid_headers off, a name with characters
         * outside the token set is kept like any other header. */
        if (p->invalid_name && p->conf->ignore_invalid_headers) {
            p->head->ninvalid++;
            return WM_AGAIN;
        }
        headers = p->head->headers;
        n = &p->head->nheaders;
        nalloc = p->head->nalloc;
    }
    if (*n == nalloc) {
        return wm_http_fail(p, 431, WM_HTTP_WHO(p, "too many header lines"));
    }
    h = &headers[(*n)++];
    wm_http_slice(&h->name, buf, p->line_start, p->name_end);
    wm_http_slice(&h->value, buf, p->val_start, p->val_end);

    return p->resp != NULL ? wm_http_response_header(p, h)
                           : wm_http_request_header(p, h);
}

#define NAME_IS(s)                                                             \
    (h->name.len == sizeof(s) - 1                                              \
     && wm_http_eq_nocase(h->name.data, h->name.len, s))

static wm_int_t
wm_http_request_header(wm_http_parser_t *p, wm_http_header_t *h)
{
    wm_http_head_t *head = p->head;
    wm_str_t *v = &h->value;
    unsigned conn;
    int64_t cl;

    if (NAME_IS("host")) {
        wm_str_t host, port_text;
        wm_uint_t port;

        if (p->host_seen) {
            return wm_http_fail(p, 400, "client sent duplicate host header");
        }
        p->host_seen = 1;
        if (v->len == 0 && head->version < WM_HTTP_VERSION_11) {
            /* An HTTP/1.0 "Host:" with nothing is as if absent. */
            return WM_AGAIN;
        }
        if (wm_http_validate_host(v->data, v->len, &host, &port_text, &port,
                                  0)
            != 0)
        {
            return wm_http_fail(p, 400, "client sent invalid host header");
        }
        if (head->target_form != WM_HTTP_TARGET_ABSOLUTE
            && head->target_form != WM_HTTP_TARGET_AUTHORITY)
        {
            head->host = host;
            head->port_text = port_text;
            head->port = port;
        }

    } else if (NAME_IS("content-length")) {
        cl = wm_http_parse_length(v);
        if (cl == -1) {
            return wm_http_fail(p, 400, "client sent invalid "
                                        "\"Content-Length\" header");
        }
        if (head->content_length != -1 && head->content_length != cl) {
            return wm_http_fail(p, 400, "client sent duplicate "
                                        "\"Content-Length\" headers with "
                                        "different values");
        }
        head->content_length = cl;

    } else if (NAME_IS("transfer-encoding")) {
        if (p->te_seen) {
            return wm_http_fail(p, 400, "client sent duplicate "
                                        "\"Transfer-Encoding\" header");
        }
        p->te_seen = 1;
        head->transfer_encoding = *v;

    } else if (NAME_IS("connection")) {
        conn = wm_http_connection_tokens(v);
        head->conn_close |= (conn & WM_HTTP_CONN_CLOSE) != 0;
        head->conn_keep_alive |= (conn & WM_HTTP_CONN_KEEP_ALIVE) != 0;
        head->conn_upgrade |= (conn & WM_HTTP_CONN_UPGRADE) != 0;

    } else if (NAME_IS("expect")) {
        if (v->len == 0) {
            /* nothing expected */
        } else if (wm_http_eq_nocase(v->data, v->len, "100-continue")) {
            /* RFC 9110 10.1.1: ignored in an HTTP/1.0 request. */
            if (head->version >= WM_HTTP_VERSION_11) {
                head->expect_continue = 1;
            }
        } else {
            p->expect_other = 1;
        }

    } else if (NAME_IS("upgrade")) {
        if (head->upgrade.data == NULL) {
            head->upgrade = *v;
        }
    }

    return WM_AGAIN;
}

/* The first value of a header the proxy looks up. */
static void
wm_http_keep_first(wm_str_t *field, const wm_str_t *v)
{
    if (field->data == NULL) {
        *field = *v;
    }
}

/* The meaning of a response header; the framing checks that need the
 * whole head wait for wm_http_response_done(). */
static wm_int_t
wm_http_response_header(wm_http_parser_t *p, wm_http_header_t *h)
{
    wm_http_status_t *st = p->resp;
    wm_str_t *v = &h->value;
    unsigned conn;
    int64_t cl;

    if (NAME_IS("content-length")) {
        cl = wm_http_parse_length(v);
        if (cl == -1) {
            return wm_http_fail(p, 502, "upstream sent invalid "
                                        "\"Content-Length\" header");
        }
        if (st->content_length != -1 && st->content_length != cl) {
            return wm_http_fail(p, 502, "upstream sent duplicate "
                                        "\"Content-Length\" headers with "
                                        "different values");
        }
        st->content_length = cl;

    } else if (NAME_IS("transfer-encoding")) {
        if (p->te_seen) {
            return wm_http_fail(p, 502, "upstream sent duplicate "
                                        "\"Transfer-Encoding\" header");
        }
        p->te_seen = 1;
        st->transfer_encoding = *v;

    } else if (NAME_IS("connection")) {
        conn = wm_http_connection_tokens(v);
        st->conn_close |= (conn & WM_HTTP_CONN_CLOSE) != 0;
        st->conn_keep_alive |= (conn & WM_HTTP_CONN_KEEP_ALIVE) != 0;
        st->conn_upgrade |= (conn & WM_HTTP_CONN_UPGRADE) != 0;

    } else if (NAME_IS("keep-alive")) {
        if (st->keep_alive_timeout == -1) {
            st->keep_alive_timeout = wm_http_keep_alive_timeout(v);
        }

    } else if (NAME_IS("upgrade")) {
        wm_http_keep_first(&st->upgrade, v);
    } else if (NAME_IS("location")) {
        wm_http_keep_first(&st->location, v);
    } else if (NAME_IS("content-type")) {
        wm_http_keep_first(&st->content_type, v);
    } else if (NAME_IS("date")) {
        wm_http_keep_first(&st->date, v);
    } else if (NAME_IS("server")) {
        wm_http_keep_first(&st->server, v);
    } else if (NAME_IS("set-cookie")) {
        st->nset_cookie++;
    }

    return WM_AGAIN;
}

#undef NAME_IS

/* Content-Length = 1*DIGIT (RFC 9110 8.6): no sign, no list, no space.
 * Returns the value, or -1 when malformed or over INT64_MAX. */
static int64_t
wm_http_parse_length(const wm_str_t *v)
{
    int64_t cl = 0;
    size_t i;

    if (v->len == 0) {
        return -1;
    }
    for (i = 0; i < v->len; i++) {
        int d = v->data[i] - '0';

        if (d < 0 || d > 9 || cl > (INT64_MAX - d) / 10) {
            return -1;
        }
        cl = cl * 10 + d;
    }
    return cl;
}

/*
 * The timeout=N parameter of a Keep-Alive value (RFC 2068 19.7.1.1):
 * seconds, or -1 when there is none or it is not 1 to 9 plain digits.
 * The header is advisory, so a malformed one is ignored, not an error.
 */
static int64_t
wm_http_keep_alive_timeout(const wm_str_t *v)
{
    const u_char *d = v->data;
    size_t i = 0, start, end, n;
    int64_t t;

    while (i < v->len) {
        while (i < v->len && (d[i] == ' ' || d[i] == '\t' || d[i] == ',')) {
            i++;
        }
        start = i;
        while (i < v->len && wm_http_is_tchar(d[i])) {
            i++;
        }
        end = i;
        while (i < v->len && (d[i] == ' ' || d[i] == '\t')) {
            i++;
        }
        if (wm_http_eq_nocase(d + start, end - start, "timeout")) {
            if (i == v->len || d[i] != '=') {
                return -1;
            }
            i++;
            while (i < v->len && (d[i] == ' ' || d[i] == '\t')) {
                i++;
            }
            t = 0;
            for (n = 0; i < v->len && d[i] >= '0' && d[i] <= '9'; n++, i++) {
                t = t * 10 + (d[i] - '0');
                if (n == 9) {
                    return -1;
                }
            }
            while (i < v->len && (d[i] == ' ' || d[i] == '\t')) {
                i++;
            }
            if (n == 0 || (i < v->len && d[i] != ',')) {
                return -1;
            }
            return t;
        }
        while (i < v->len && d[i] != ',') {
            i++;
        }
    }
    return -1;
}

/* Comma-separated tokens; unknown ones are ignored (RFC 9110 7.6.1).
 * Returns WM_HTTP_CONN_* bits. */
static unsigned
wm_http_connection_tokens(const wm_str_t *v)
{
    size_t i = 0, start, end;
    unsigned conn = 0;

    while (i < v->len) {
        while (i < v->len && (v->data[i] == ' ' || v->data[i] == '\t'
                              || v->data[i] == ','))
        {
            i++;
        }
        start = i;
        while (i < v->len && v->data[i] != ',') {
            i++;
        }
        end = i;
        while (end > start
               && (v->data[end - 1] == ' ' || v->data[end - 1] == '\t'))
        {
            end--;
        }
        if (wm_http_eq_nocase(v->data + start, end - start, "close")) {
            conn |= WM_HTTP_CONN_CLOSE;
        } else if (wm_http_eq_nocase(v->data + start, end - start,
                                     "keep-alive"))
        {
            conn |= WM_HTTP_CONN_KEEP_ALIVE;
        } else if (wm_http_eq_nocase(v->data + start, end - start,
                                     "upgrade"))
        {
            conn |= WM_HTTP_CONN_UPGRADE;
        }
    }
    return conn;
}

/*
 * Transfer-Encoding = #transfer-coding. Returns 0 when the list is exactly
 * "chunked" (empty elements aside), 400 for bad syntax or a chunked that is
 * not last, once, and without parameters, 501 for any other coding.
 */
static int
wm_http_check_te(const wm_str_t *v)
{
    size_t i = 0, start, end, ncodings = 0;
    int chunked_last = 0, chunked_early = 0, unknown = 0, params;

    while (i < v->len) {
        while (i < v->len && (v->data[i] == ' ' || v->data[i] == '\t')) {
            i++;
        }
        if (i < v->len && v->data[i] == ',') {
            i++;
            continue; /* an empty element */
        }
        if (i == v->len) {
            break;
        }
        start = i;
        while (i < v->len && wm_http_is_tchar(v->data[i])) {
            i++;
        }
        end = i;
        if (end == start) {
            return 400;
        }
        while (i < v->len && (v->data[i] == ' ' || v->data[i] == '\t')) {
            i++;
        }
        params = 0;
        if (i < v->len && v->data[i] == ';') {
            params = 1;
            while (i < v->len && v->data[i] != ',') {
                i++;
            }
        }
        if (i < v->len && v->data[i] != ',') {
            return 400;
        }
        if (i < v->len) {
            i++;
        }
        if (chunked_last) {
            chunked_early = 1;
            chunked_last = 0;
        }
        ncodings++;
        if (wm_http_eq_nocase(v->data + start, end - start, "chunked")) {
            if (params) {
                return 400;
            }
            chunked_last = 1;
        } else {
            unknown = 1;
        }
    }
    if (ncodings == 0 || chunked_early) {
        return 400;
    }
    if (unknown) {
        return 501;
    }
    return 0;
}

static wm_int_t
wm_http_head_done(wm_http_parser_t *p)
{
    wm_http_head_t *head = p->head;
    int rc;

    if (head->version >= WM_HTTP_VERSION_11 && !p->host_seen) {
        return wm_http_fail(p, 400, "client sent HTTP/1.1 request without "
                                    "\"Host\" header");
    }
    if (p->te_seen) {
        if (head->version < WM_HTTP_VERSION_11) {
            return wm_http_fail(p, 400, "client sent \"Transfer-Encoding\" "
                                        "with HTTP/1.0");
        }
        if (head->content_length != -1) {
            return wm_http_fail(p, 400, "client sent \"Content-Length\" and "
                                        "\"Transfer-Encoding\" headers at "
                                        "the same time");
        }
        rc = wm_http_check_te(&head->transfer_encoding);
        if (rc == 400) {
            return wm_http_fail(p, 400, "client sent invalid "
                                        "\"Transfer-Encoding\" header");
        }
        if (rc == 501) {
            return wm_http_fail(p, 501, "client sent unknown "
                                        "\"Transfer-Encoding\"");
        }
        head->chunked = 1;
    }
    if (p->expect_other) {
        return wm_http_fail(p, 417, "client sent unsupported \"Expect\"");
    }
    if (head->version >= WM_HTTP_VERSION_11) {
        head->keep_alive = !head->conn_close;
    } else {
        head->keep_alive = head->conn_keep_alive && !head->conn_close;
    }
    return WM_OK;
}

/* The empty line of a response: the framing rules of wm_http_parse.h. */
static wm_int_t
wm_http_response_done(wm_http_parser_t *p)
{
    wm_http_status_t *st = p->resp;
    int rc;

    if (p->te_seen) {
        if (st->version < WM_HTTP_VERSION_11) {
            return wm_http_fail(p, 502, "upstream sent \"Transfer-Encoding\""
                                        " with HTTP/1.0");
        }
        if (st->content_length != -1) {
            return wm_http_fail(p, 502, "upstream sent \"Content-Length\" "
                                        "and \"Transfer-Encoding\" headers "
                                        "at the same time");
        }
        rc = wm_http_check_te(&st->transfer_encoding);
        if (rc == 400) {
            return wm_http_fail(p, 502, "upstream sent invalid "
                                        "\"Transfer-Encoding\" header");
        }
        if (rc == 501) {
            return wm_http_fail(p, 502, "upstream sent unknown "
                                        "\"Transfer-Encoding\"");
        }
        st->chunked = 1;
    }
    if (st->version >= WM_HTTP_VERSION_11) {
        st->keep_alive = !st->conn_close;
    } else {
        st->keep_alive = st->conn_keep_alive && !st->conn_close;
    }
    return WM_OK;
}

void
wm_http_response_framing(const wm_http_status_t *st, wm_uint_t method,
                         wm_http_framing_t *f)
{
    f->length = -1;
    f->keep_alive = st->keep_alive;

    if (st->status == 101
        || (method == WM_HTTP_CONNECT && st->status >= 200
            && st->status < 300))
    {
        f->body = WM_HTTP_BODY_TUNNEL;
        f->keep_alive = 0;
    } else if (method == WM_HTTP_HEAD || st->status < 200
               || st->status == 204 || st->status == 304)
    {
        f->body = WM_HTTP_BODY_NONE;
    } else if (st->chunked) {
        f->body = WM_HTTP_BODY_CHUNKED;
    } else if (st->content_length != -1) {
        f->body = WM_HTTP_BODY_LENGTH;
        f->length = st->content_length;
    } else {
        f->body = WM_HTTP_BODY_CLOSE;
        f->keep_alive = 0;
    }
}

static void
wm_http_rebase_str(wm_str_t *s, u_char *old, size_t used, u_char *buf)
{
    uintptr_t d = (uintptr_t) s->data, o = (uintptr_t) old;

    if (s->data != NULL && d >= o && d - o <= used) {
        s->data = buf + (d - o);
    }
}

/* The caller's buffer moved: moves every slice made so far. Slices only
 * cover bytes already consumed, so [old, old + pos] holds them all. */
static void
wm_http_rebase(wm_http_parser_t *p, u_char *buf)
{
    wm_http_head_t *head = p->head;
    wm_str_t *all[] = {
        &head->request_line, &head->method_name, &head->target,
        &head->scheme, &head->path, &head->args, &head->host,
        &head->port_text, &head->transfer_encoding, &head->upgrade,
    };
    size_t i;

    for (i = 0; i < wm_nelems(all); i++) {
        wm_http_rebase_str(all[i], p->base, p->pos, buf);
    }
    for (i = 0; i < head->nheaders; i++) {
        wm_http_rebase_str(&head->headers[i].name, p->base, p->pos, buf);
        wm_http_rebase_str(&head->headers[i].value, p->base, p->pos, buf);
    }
}

static void
wm_http_rebase_status(wm_http_parser_t *p, u_char *buf)
{
    wm_http_status_t *st = p->resp;
    wm_str_t *all[] = {
        &st->status_line, &st->reason, &st->transfer_encoding,
        &st->upgrade, &st->location, &st->content_type, &st->date,
        &st->server,
    };
    size_t i;

    for (i = 0; i < wm_nelems(all); i++) {
        wm_http_rebase_str(all[i], p->base, p->pos, buf);
    }
    for (i = 0; i < st->nheaders; i++) {
        wm_http_rebase_str(&st->headers[i].name, p->base, p->pos, buf);
        wm_http_rebase_str(&st->headers[i].value, p->base, p->pos, buf);
    }
}
