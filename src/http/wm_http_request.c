/*
 * The life of one request: normalise the URI, choose the server and the
 * location, run the phases, and answer, either through a content handler
 * or with a status that becomes an error_page or a built-in page. Also the
 * response head writer and the body senders that handlers call.
 */
#include "wm_http.h"

#include "wm_log.h"
#include "wm_process.h"

#include <time.h>
#include <unistd.h>

#define WM_HTTP_MAX_REDIRECTS 10

static wm_int_t wm_http_find_config_handler(wm_http_request_t *r);
static wm_int_t wm_http_post_rewrite_handler(wm_http_request_t *r);

/* The handlers of each phase, in order; a module adds its line here. */
static const wm_http_handler_pt wm_http_phases[WM_HTTP_PHASE_N][4] = {
    [WM_HTTP_PHASE_SERVER_REWRITE] = {wm_http_realip_handler,
                                      wm_http_rewrite_server_handler},
    [WM_HTTP_PHASE_FIND_CONFIG] = {wm_http_find_config_handler},
    [WM_HTTP_PHASE_REWRITE] = {wm_http_rewrite_handler},
    [WM_HTTP_PHASE_POST_REWRITE] = {wm_http_post_rewrite_handler},
    [WM_HTTP_PHASE_ACCESS] = {wm_http_realip_handler, wm_http_access_handler,
                              wm_http_auth_basic_handler},
    [WM_HTTP_PHASE_TRY_FILES] = {wm_http_try_files_handler},
    [WM_HTTP_PHASE_CONTENT] = {wm_http_index_handler,
                               wm_http_autoindex_handler,
                               wm_http_static_compressed_handler,
                               wm_http_static_handler},
};

static const struct {
    int status;
    const char *line;
} wm_http_statuses[] = {
    {100, "100 Continue"},
    {101, "101 Switching Protocols"},
    {200, "200 OK"},
    {201, "201 Created"},
    {202, "202 Accepted"},
    {204, "204 No Content"},
    {206, "206 Partial Content"},
    {301, "301 Moved Permanently"},
    {302, "302 Moved Temporarily"},
    {303, "303 See Other"},
    {304, "304 Not Modified"},
    {307, "307 Temporary Redirect"},
    {308, "308 Permanent Redirect"},
    {400, "400 Bad Request"},
    {401, "401 Unauthorized"},
    {402, "402 Payment Required"},
    {403, "403 Forbidden"},
    {404, "404 Not Found"},
    {405, "405 Not Allowed"},
    {406, "406 Not Acceptable"},
    {408, "408 Request Time-out"},
    {409, "409 Conflict"},
    {410, "410 Gone"},
    {411, "411 Length Required"},
    {412, "412 Precondition Failed"},
    {413, "413 Request Entity Too Large"},
    {414, "414 Request-URI Too Large"},
    {415, "415 Unsupported Media Type"},
    {416, "416 Requested Range Not Satisfiable"},
    {417, "417 Expectation Failed"},
    {421, "421 Misdirected Request"},
    {429, "429 Too Many Requests"},
    {431, "431 Request Header Fields Too Large"},
    {500, "500 Internal Server Error"},
    {501, "501 Not Implemented"},
    {502, "502 Bad Gateway"},
    {503, "503 Service Temporarily Unavailable"},
    {504, "504 Gateway Time-out"},
    {505, "505 HTTP Version Not Supported"},
    {507, "507 Insufficient Storage"},
};

const char *
wm_http_status_line(int status)
{
    size_t lo = 0, hi = wm_nelems(wm_http_statuses);

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (wm_http_statuses[mid].status == status) {
            return wm_http_statuses[mid].line;
        }
        if (wm_http_statuses[mid].status < status) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

size_t
wm_http_log_context(wm_log_t *log, char *buf, size_t len)
{
    wm_http_request_t *r = log->data;
    wm_http_connection_t *c = r->c;
    /* The Host as the client sent it (with its port), as nginx logs it. */
    wm_http_header_t *host =
        r->head.nheaders ? wm_http_header_find(&r->head, "Host") : NULL;
    int n;

    n = snprintf(
        buf, len, ", client: %s, server: %.*s, request: \"%.*s\"%s%.*s%s",
        c->peer_text, (int) r->server_name.len,
        (const char *) r->server_name.data, (int) r->head.request_line.len,
        (const char *) r->head.request_line.data, host ? ", host: \"" : "",
        host ? (int) host->value.len : 0,
        host ? (const char *) host->value.data : "", host ? "\"" : "");
    return n > 0 ? wm_min((size_t) n, len) : 0;
}

wm_log_t *
wm_http_request_log(wm_http_request_t *r)
{
    static wm_log_t log;
    /* The location's error_log, else the main one (the connection's
     * may be the default server's). */
    wm_log_t *el = wm_http_error_log(r->loc_confs);

    log = r->c->log;
    if (el == NULL) {
        el = &wm_cycle->log;
    }
    log.sinks = el->sinks;
    log.nsinks = el->nsinks;
    log.level = el->level;
    log.handler = wm_http_log_context;
    log.data = r;
    return &log;
}

static void
wm_http_set_location(wm_http_request_t *r, wm_http_core_loc_conf_t *loc)
{
    r->loc = loc;
    r->loc_confs = loc->loc_confs;
}

/* nginx reads the body it is going to drop before it answers: a chunked
 * body that came with the head and is malformed gets a 400 instead of the
 * response. True then (logged); the bytes are left in place. */
static bool
wm_http_chunked_preread_bad(wm_http_request_t *r)
{
    struct evbuffer *in = r->c->in;
    size_t len = evbuffer_get_length(in), used = 0, u;
    wm_http_chunked_t st;
    wm_int_t rc = WM_OK;
    wm_str_t chunk;
    u_char *data;

    if (!r->head.chunked || len <= r->head_used) {
        return false;
    }
    data = evbuffer_pullup(in, (ev_ssize_t) len);
    if (data == NULL) {
        return false;
    }
    wm_http_chunked_init(&st);
    while (rc == WM_OK && used < len - r->head_used) {
        rc = wm_http_chunked_parse(&st, data + r->head_used + used,
                                   len - r->head_used - used, &u, &chunk);
        used += u;
    }
    if (rc != WM_ERROR) {
        return false;
    }
    wm_log_error(WM_LOG_INFO, wm_http_request_log(r), 0,
                 "client sent invalid chunked body: %s",
                 st.error ? st.error : "");
    return true;
}

void
wm_http_request_start(wm_http_request_t *r)
{
    wm_http_connection_t *c = r->c;
    wm_http_core_srv_conf_t *srv;
    wm_http_uri_t uri;
    u_char *buf;

    r->content_length = -1;
    r->last_modified = -1;
    r->keepalive = r->head.keep_alive;

    /* The Host picks the server before anything else can fail, so that
     * even an error page comes from the right server. */
    srv = wm_http_find_server(c->addr_conf, &r->head.host, r);
    r->srv = srv;
    r->server_name = srv->names.nelts
                         ? ((wm_http_server_name_t *) srv->names.elts)[0].name
                         : (wm_str_t) wm_null_string;
    wm_http_set_location(r, srv->root);
    if (wm_http_realip_handler(r) != WM_DECLINED) {
        wm_http_finalize(r, 500);
        return;
    }

    if (r->head.content_length > 0 || r->head.chunked) {
        r->discarding_body = 1;
        r->body_left =
            r->head.content_length > 0 ? (uint64_t) r->head.content_length : 0;
        wm_http_chunked_init(&r->chunked);
    }

    if (r->c->ssl) {
        wm_int_t rc = wm_http_ssl_check_client(r);

        if (rc != WM_OK) {
            r->keepalive = 0;
            wm_http_finalize(r, rc);
            return;
        }
    } else if (c->addr_conf->ssl) {
        /* nginx's 497: a 400 with its own page, or the server's
         * error_page 497 (often a redirect to https). */
        wm_log_error(WM_LOG_INFO, wm_http_request_log(r), 0,
                     "client sent plain HTTP request to HTTPS port");
        r->keepalive = 0;
        wm_http_finalize(r, 497);
        return;
    }
    if (r->head.target_form == WM_HTTP_TARGET_AUTHORITY
        || r->head.target_form == WM_HTTP_TARGET_ASTERISK)
    {
        wm_http_finalize(r, r->head.method == WM_HTTP_CONNECT ? 405 : 400);
        return;
    }

    buf = wm_palloc(r->pool, r->head.path.len + 1);
    if (buf == NULL) {
        wm_http_finalize(r, 500);
        return;
    }
    if (wm_http_uri_normalize(
            &r->head.path, buf,
            srv->merge_slashes ? WM_HTTP_URI_MERGE_SLASHES : 0, &uri)
        != WM_OK)
    {
        wm_log_error(WM_LOG_INFO, wm_http_request_log(r), 0,
                     "client sent invalid request URI");
        r->keepalive = 0;
        wm_http_finalize(r, 400);
        return;
    }
    r->uri = uri.path;
    r->args = r->head.args;
    if (wm_http_chunked_preread_bad(r)) {
        r->keepalive = 0;
        r->discarding_body = 0;
        wm_http_finalize(r, 400);
        return;
    }
    r->phase = WM_HTTP_PHASE_SERVER_REWRITE;
    wm_http_run_phases(r);
}

/* The location of r->uri, and the checks that depend on it. Runs again
 * after a rewrite changed the URI. */
static wm_int_t
wm_http_find_config_handler(wm_http_request_t *r)
{
    wm_http_connection_t *c = r->c;
    wm_http_core_loc_conf_t *loc;

    r->uri_changed = 0;
    loc = wm_http_location_find(r->srv->root, &r->uri, r);
    wm_http_set_location(r, loc ? loc : r->srv->root);
    if (r->loc->internal && !r->internal) {
        /* nginx: an internal location that a client request matches is
         * not there for it. */
        return 404;
    }

    if (r->loc->client_max_body_size && r->head.content_length > 0
        && (uint64_t) r->head.content_length > r->loc->client_max_body_size)
    {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "client intended to send too large body: %lld bytes",
                     (long long) r->head.content_length);
        r->keepalive = 0;
        r->lingering = 1;
        r->discarding_body = 0;
        return 413;
    }
    if (r->discarding_body && r->head.expect_continue && !r->internal
        && r->internal_redirects == 0
        && evbuffer_get_length(c->in) == r->head_used)
    {
        /* nginx asks for the body it is going to read and drop, so that
         * the client does not stall waiting for a final answer. */
        evbuffer_add(c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
    return WM_OK;
}

/* After the location's rewrites: a changed URI is looked up again, at
 * most WM_HTTP_MAX_REDIRECTS times in all (internal redirects count). */
static wm_int_t
wm_http_post_rewrite_handler(wm_http_request_t *r)
{
    if (!r->uri_changed) {
        return WM_OK;
    }
    r->uri_changed = 0;
    if (++r->internal_redirects > WM_HTTP_MAX_REDIRECTS) {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "rewrite or internal redirection cycle while "
                     "processing \"%.*s\"",
                     (int) r->uri.len, (const char *) r->uri.data);
        r->error_page = 1;
        return 500;
    }
    r->phase = WM_HTTP_PHASE_FIND_CONFIG;
    r->phase_handler = 0;
    return WM_AGAIN;
}

/*
 * What an access check's answer means for the phase (nginx's satisfy):
 * WM_OK (the check lets the request in) goes on to the next check with
 * satisfy all, and ends the phase with the request let in with satisfy
 * any; 401 and 403 end the request with satisfy all, and with satisfy
 * any are kept (401 over 403) for the end of the phase, when no check
 * let the request in. WM_DECLINED (the check does not apply) and errors
 * are the same for both.
 */
static wm_int_t
wm_http_access_result(wm_http_request_t *r, wm_int_t rc)
{
    if (!r->loc->satisfy_any) {
        return rc == WM_OK ? WM_DECLINED : rc;
    }
    if (rc == WM_OK) {
        r->access_code = 0;
        return WM_OK;
    }
    if (rc == 401 || rc == 403) {
        if (r->access_code != 401) {
            r->access_code = (int) rc;
        }
        return WM_DECLINED;
    }
    return rc;
}

void
wm_http_run_phases(wm_http_request_t *r)
{
    while (r->phase < WM_HTTP_PHASE_N) {
        wm_http_handler_pt h;
        wm_int_t rc;

        if (r->phase == WM_HTTP_PHASE_CONTENT && r->loc->handler) {
            h = r->loc->handler;
            r->phase = WM_HTTP_PHASE_N;
        } else {
            h = r->phase_handler < 4
                    ? wm_http_phases[r->phase][r->phase_handler]
                    : NULL;
            if (h == NULL) {
                if (r->phase == WM_HTTP_PHASE_ACCESS && r->access_code) {
                    /* satisfy any, and no check let the request in */
                    rc = r->access_code;
                    r->access_code = 0;
                    if (rc == 403) {
                        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                                     "access forbidden by rule");
                    }
                    wm_http_finalize(r, rc);
                    return;
                }
                r->phase++;
                r->phase_handler = 0;
                continue;
            }
        }
        rc = h(r);
        if (rc == WM_AGAIN) {
            continue;
        }
        if (r->phase == WM_HTTP_PHASE_ACCESS) {
            rc = wm_http_access_result(r, rc);
        }
        if (rc == WM_DECLINED) {
            r->phase_handler++;
            continue;
        }
        if (rc == WM_OK && r->phase < WM_HTTP_PHASE_CONTENT) {
            r->phase++;
            r->phase_handler = 0;
            continue;
        }
        wm_http_finalize(r, rc);
        return;
    }
    if (r->uri.len && r->uri.data[r->uri.len - 1] == '/') {
        size_t len;
        char *dir = wm_http_map_uri(r, &r->uri, &len);

        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "directory index of \"%s\" is forbidden", dir ? dir : "");
        wm_http_finalize(r, 403);
        return;
    }
    wm_http_finalize(r, 404);
}

void
wm_http_internal_redirect(wm_http_request_t *r, const wm_str_t *uri,
                          const wm_str_t *args)
{
    wm_http_core_loc_conf_t *loc;

    if (++r->internal_redirects > WM_HTTP_MAX_REDIRECTS) {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "rewrite or internal redirection cycle while "
                     "internally redirecting to \"%.*s\"",
                     (int) uri->len, (const char *) uri->data);
        r->error_page = 1;
        r->error_page_status = 0; /* the 500 is the answer, as nginx */
        wm_http_finalize(r, 500);
        return;
    }
    r->internal = 1;
    r->uri_changed = 0;
    r->phase_handler = 0;
    r->captures = NULL;
    r->ncaptures = 0;
    if (uri->len && uri->data[0] == '@') {
        /* nginx: a named location skips the server's rewrites. */
        r->phase = WM_HTTP_PHASE_REWRITE;
        loc = wm_http_location_named(r->srv->root, uri);
        if (loc == NULL) {
            wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                         "could not find named location \"%.*s\"",
                         (int) uri->len, (const char *) uri->data);
            r->error_page = 1;
            wm_http_finalize(r, 500);
            return;
        }
        wm_http_set_location(r, loc);
        wm_http_run_phases(r);
        return;
    }
    r->uri = *uri;
    if (args) {
        r->args = *args;
    }
    r->phase = WM_HTTP_PHASE_SERVER_REWRITE;
    wm_http_set_location(r, r->srv->root);
    wm_http_run_phases(r);
}

void
wm_http_set_content_type(wm_http_request_t *r)
{
    const wm_str_t *type =
        r->loc->types
            ? wm_http_mime_lookup(r->loc->types, r->uri.data, r->uri.len)
            : NULL;

    r->content_type = type ? *type : r->loc->default_type;
}

wm_int_t
wm_http_send_text(wm_http_request_t *r, int status, const wm_str_t *type,
                  const wm_str_t *body)
{
    struct evbuffer *b;

    r->status = status;
    r->content_length = (int64_t) body->len;
    if (type) {
        r->content_type = *type;
    }
    if (wm_http_send_header(r) != WM_OK) {
        return WM_ERROR;
    }
    b = r->c->body;
    if (evbuffer_add(b, body->data, body->len) != 0) {
        return WM_ERROR;
    }
    return wm_http_send_body(r, b, true);
}

/* "http://host:port" of the request, for absolute redirects. */
static u_char *
wm_http_origin(wm_http_request_t *r, size_t *len)
{
    wm_http_connection_t *c = r->c;
    char host[300], port[16] = "";
    /* The Host of the request (or with server_name_in_redirect, the
     * server's first name), else the address the client reached. */
    const wm_str_t *name = r->loc->server_name_in_redirect ? &r->server_name
                                                           : &r->head.host;
    unsigned p = 0;

    if (name->len == 0 || name->len >= sizeof(host)) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof(sa);
        char text[128], *colon;

        if (getsockname(c->fd, (struct sockaddr *) &sa, &sl) != 0) {
            return NULL;
        }
        wm_sockaddr_text((struct sockaddr *) &sa, sl, text, sizeof(text));
        colon = strrchr(text, ':');
        if (colon) {
            *colon = '\0';
            p = (unsigned) atoi(colon + 1);
        }
        snprintf(host, sizeof(host), "%s", text);
    } else {
        snprintf(host, sizeof(host), "%.*s", (int) name->len,
                 (const char *) name->data);
    }
    if (r->loc->port_in_redirect) {
        if (p == 0) {
            char text[128], *colon;

            wm_sockaddr_text((struct sockaddr *) &c->listening->sa,
                             c->listening->socklen, text, sizeof(text));
            colon = strrchr(text, ':');
            p = colon ? (unsigned) atoi(colon + 1) : 80;
        }
        if (p != (c->ssl ? 443u : 80u)) {
            snprintf(port, sizeof(port), ":%u", p);
        }
    }
    {
        char *s = wm_psprintf(r->pool, "%s://%s%s", c->ssl ? "https" : "http",
                              host, port);

        if (s == NULL) {
            return NULL;
        }
        *len = strlen(s);
        return (u_char *) s;
    }
}

wm_int_t
wm_http_send_redirect(wm_http_request_t *r, int status,
                      const wm_str_t *location)
{
    r->location = *location;
    if (location->len && location->data[0] == '/' && r->loc->absolute_redirect
        && !wm_http_msie_refresh(r, status))
    {
        size_t olen;
        u_char *origin = wm_http_origin(r, &olen);
        char *abs;

        if (origin == NULL) {
            return 500;
        }
        abs = wm_psprintf(r->pool, "%.*s%.*s", (int) olen, (char *) origin,
                          (int) location->len, (const char *) location->data);
        if (abs == NULL) {
            return 500;
        }
        r->location.data = (u_char *) abs;
        r->location.len = strlen(abs);
    }
    return status;
}

/* ---- ending a request --------------------------------------------------- */

static const char wm_http_page_tail[] = "</center>\r\n</body>\r\n</html>\r\n";

/* The built-in page of a status. */
static void
wm_http_special_response(wm_http_request_t *r, int status)
{
    /* nginx titles the page of a 302 "302 Found" while its status line
     * says "Moved Temporarily" (a 401's "Authorization Required"); its TLS client-certificate errors are 400s
     * with their own titles. */
    const char *reason = status == 495   ? "The SSL certificate error"
                         : status == 496 ? "No required SSL certificate was "
                                           "sent"
                         : status == 497 ? "The plain HTTP request was sent "
                                           "to HTTPS port"
                                         : NULL;
    const char *line = status == 302 ? "302 Found"
                       : status == 401 ? "401 Authorization Required"
                       : reason      ? "400 Bad Request"
                                     : wm_http_status_line(status);
    const char *sig =
        r->loc->server_tokens ? "wmproxy/" PACKAGE_VERSION : "wmproxy";
    wm_str_t type = wm_string("text/html"), body;
    char *page;

    r->status = status;
    if (status == 304 || status == 204 || status < 300) {
        r->content_length = 0;
        wm_http_send_header(r);
        wm_http_send_body(r, NULL, true);
        return;
    }
    if (r->location.len && wm_http_msie_refresh(r, status)) {
        wm_http_send_refresh(r);
        return;
    }
    if (line == NULL) {
        line = "";
    }
    /* The TLS errors are 400s whose title names the reason, which also
     * gets a line of its own under the heading. */
    page = wm_psprintf(r->pool,
                       "<html>\r\n<head><title>%s%s</title></head>\r\n"
                       "<body>\r\n<center><h1>%s</h1></center>\r\n%s%s%s"
                       "<hr><center>%s%s%s",
                       reason ? "400 " : "", reason ? reason : line, line,
                       reason ? "<center>" : "",
                       reason ? reason : "", reason ? "</center>\r\n" : "",
                       sig, wm_http_page_tail, wm_http_msie_padding(r, status));
    if (page == NULL) {
        r->c->error = 1;
        return;
    }
    if (reason) {
        status = 400;
    }
    body.data = (u_char *) page;
    body.len = strlen(page);
    r->content_type = type;
    r->content_length = (int64_t) body.len;
    r->etag.len = 0;
    r->last_modified = -1;
    r->allow_ranges = 0;
    wm_http_send_text(r, status, &type, &body);
}

/* Applies an error_page for status, if one is configured. WM_DONE when
 * it took over the request. */
static wm_int_t
wm_http_apply_error_page(wm_http_request_t *r, int status)
{
    wm_array_t *pages = r->loc->error_pages;
    wm_http_error_page_t *ep = NULL;
    wm_str_t uri, args = wm_null_string;
    size_t i;
    u_char *q;

    if (pages == NULL || r->error_page) {
        return WM_DECLINED;
    }
    for (i = 0; i < pages->nelts; i++) {
        if (((wm_http_error_page_t *) pages->elts)[i].status == status) {
            ep = &((wm_http_error_page_t *) pages->elts)[i];
            break;
        }
    }
    if (ep == NULL) {
        return WM_DECLINED;
    }
    /* As nginx: recursive_error_pages of the location that applies the
     * error_page lets the target's errors use error_page again. */
    r->error_page = !wm_http_recursive_error_pages(r);
    if (wm_cv_eval(&ep->uri, r, r->pool, &uri) != WM_OK) {
        return WM_DECLINED;
    }
    r->error_page_status = ep->overwrite > 0    ? ep->overwrite
                           : ep->overwrite == 0 ? status
                                                : 0;
    if (uri.len && uri.data[0] != '/' && uri.data[0] != '@') {
        /* A URL: redirect the client there (302 unless =30x given). */
        int code =
            ep->overwrite >= 301 && ep->overwrite <= 308 ? ep->overwrite : 302;

        r->location = uri;
        r->error_page_status = 0;
        wm_http_special_response(r, code);
        return WM_DONE;
    }
    q = memchr(uri.data, '?', uri.len);
    if (q) {
        args.data = q + 1;
        args.len = uri.len - (size_t) (q - uri.data) - 1;
        uri.len = (size_t) (q - uri.data);
    }
    if (r->head.method != WM_HTTP_HEAD) {
        r->head.method = WM_HTTP_GET;
    }
    r->status = 0;
    wm_http_internal_redirect(r, &uri, q ? &args : NULL);
    return WM_DONE;
}

void
wm_http_finalize(wm_http_request_t *r, wm_int_t rc)
{
    if (rc == WM_DONE || rc == WM_OK || rc == WM_DECLINED) {
        return;
    }
    if (rc == WM_ERROR) {
        rc = 500;
    }
    if (rc == 444 && !r->header_sent) {
        /* nginx's "close the connection without a response" */
        r->status = 444;
        r->keepalive = 0;
        r->discarding_body = 0;
        r->done = 1;
        wm_http_connection_flush(r->c);
        return;
    }
    if (r->header_sent) {
        /* Too late for a status: the response was under way. */
        r->keepalive = 0;
        r->c->error = 1;
        if (!r->done) {
            r->done = 1;
            wm_http_connection_flush(r->c);
        }
        return;
    }
    switch (rc) {
    case 421:
    case 495:
    case 496:
    case 497:
    case 400:
    case 408:
    case 413:
    case 414:
    case 431:
    case 500:
    case 501:
    case 505:
        /* nginx ends the connection after these. */
        r->keepalive = 0;
        break;
    }
    if (rc >= 300 && wm_http_apply_error_page(r, (int) rc) == WM_DONE) {
        return;
    }
    wm_http_special_response(r, (int) rc);
}

/* Run once the response is sent (the access log); a module adds its line
 * here. */
static const wm_http_handler_pt wm_http_log_handlers[] = {
    wm_http_log_handler,
    NULL,
};

void
wm_http_request_done(wm_http_request_t *r)
{
    size_t i;

    if (r->logged) {
        return;
    }
    r->logged = 1;
    for (i = 0; i < wm_nelems(wm_http_log_handlers); i++) {
        if (wm_http_log_handlers[i]) {
            wm_http_log_handlers[i](r);
        }
    }
}
