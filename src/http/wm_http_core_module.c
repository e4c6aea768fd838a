/*
 * The HTTP core module: the http, server and location blocks, listen and
 * server_name, and the directives every location has (root, alias, types,
 * timeouts, buffers, keep-alive). After the http block is parsed it merges
 * the levels downward and builds, for each listening address, the list of
 * servers that answer on it.
 */
#include "wm_http.h"

#include "wm_log.h"

#include <ctype.h>
#include <sys/socket.h>

static const char *wm_http_block(wm_conf_t *cf, const wm_command_t *cmd,
                                 void *conf);
static const char *wm_http_server(wm_conf_t *cf, const wm_command_t *cmd,
                                  void *conf);
static const char *wm_http_location(wm_conf_t *cf, const wm_command_t *cmd,
                                    void *conf);
static const char *wm_http_listen(wm_conf_t *cf, const wm_command_t *cmd,
                                  void *conf);
static const char *wm_http_server_name(wm_conf_t *cf, const wm_command_t *cmd,
                                       void *conf);
static const char *wm_http_root(wm_conf_t *cf, const wm_command_t *cmd,
                                void *conf);
static const char *wm_http_types(wm_conf_t *cf, const wm_command_t *cmd,
                                 void *conf);
static const char *wm_http_buffers(wm_conf_t *cf, const wm_command_t *cmd,
                                   void *conf);
static const char *wm_http_accepted(wm_conf_t *cf, const wm_command_t *cmd,
                                    void *conf);
static const char *wm_http_http2(wm_conf_t *cf, const wm_command_t *cmd,
                                 void *conf);
static void wm_http_no_http2(wm_conf_t *cf, const char *what);
static const char *wm_http_error_page(wm_conf_t *cf, const wm_command_t *cmd,
                                      void *conf);
static wm_http_mime_t *wm_http_default_types(wm_pool_t *pool);
static void *wm_http_core_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_core_merge(wm_conf_t *cf, void *prev, void *conf,
                                      unsigned level);

#define WM_SRV WM_CTX_HTTP | WM_CTX_HTTP_SRV
#define WM_LOC WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC
#define WM_LOC_IF WM_LOC | WM_CTX_HTTP_LIF

#define srv_off(f) offsetof(wm_http_core_srv_conf_t, f)
#define loc_off(f) offsetof(wm_http_core_loc_conf_t, f)

static const wm_conf_enum_t wm_http_satisfy_modes[] = {
    {"all", 0}, {"any", 1}, {NULL, 0},
};

static const wm_conf_enum_t wm_http_ims_modes[] = {
    {"off", 0}, {"exact", 1}, {"before", 2}, {NULL, 0},
};

/* nginx's "build" adds the name given to its configure --build: wmproxy
 * has none, so it is "on". */
static const wm_conf_enum_t wm_http_tokens_modes[] = {
    {"off", 0}, {"on", 1}, {"build", 1}, {NULL, 0},
};

static const wm_conf_enum_t wm_http_lingering_modes[] = {
    {"off", 0}, {"on", 1}, {"always", 2}, {NULL, 0},
};

static const wm_conf_bounds_t wm_http_requests_bounds = {0, INT32_MAX};
static const wm_conf_bounds_t wm_http_ranges_bounds = {0, INT32_MAX};

static const wm_command_t wm_http_core_commands[] = {
    {"http", WM_CTX_MAIN, 0, 0, WM_CMD_BLOCK, WM_LVL_MAIN, wm_http_block, 0,
     NULL, "-", "the HTTP server"},
    {"server", WM_CTX_HTTP, 0, 0, WM_CMD_BLOCK, WM_LVL_MAIN, wm_http_server,
     0, NULL, "-", "a virtual server"},
    {"location", WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC, 1, 2, WM_CMD_BLOCK,
     WM_LVL_LOC, wm_http_location, 0, NULL, "-",
     "settings for request URIs: [=|~|~*|^~] uri, or @name"},
    {"listen", WM_CTX_HTTP_SRV, 1, 16, WM_CMD_MULTI, WM_LVL_SRV,
     wm_http_listen, 0, NULL, "*:80",
     "address[:port], port or unix:path, with default_server, ssl, "
     "proxy_protocol, reuseport, backlog=, ipv6only=, rcvbuf=, sndbuf=, "
     "bind, http2 (accepted: HTTP/1.1 is served)"},
    {"http2", WM_SRV, 1, 1, 0, WM_LVL_SRV, wm_http_http2, 0, NULL, "off",
     "on | off: accepted; wmproxy has no HTTP/2 and serves HTTP/1.1 (warns)"},
    {"server_name", WM_CTX_HTTP_SRV, 1, WM_ARGS_MANY, WM_CMD_MULTI,
     WM_LVL_SRV, wm_http_server_name, 0, NULL, "\"\"",
     "names of the server: exact, *.wildcard, wildcard.*, ~regex"},
    {"root", WM_LOC_IF, 1, 1, 0, WM_LVL_LOC, wm_http_root, 0, NULL, "html",
     "directory the URI is appended to"},
    {"alias", WM_CTX_HTTP_LOC, 1, 1, 0, WM_LVL_LOC, wm_http_root, 1, NULL,
     "-", "directory that replaces the location's prefix"},
    {"internal", WM_CTX_HTTP_LOC, 0, 0, 0, WM_LVL_LOC, wm_http_accepted,
     loc_off(internal), NULL, "-",
     "the location serves internal redirects only"},
    {"types", WM_LOC, 0, 0, WM_CMD_BLOCK, WM_LVL_LOC, wm_http_types, 0, NULL,
     "-", "MIME types by file extension: type ext ...;"},
    {"default_type", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_str,
     loc_off(default_type), NULL, "text/plain",
     "MIME type for files whose extension is not in types"},
    {"sendfile", WM_LOC_IF, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag,
     loc_off(sendfile), NULL, "off", "send files with sendfile()"},
    {"tcp_nopush", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag,
     loc_off(tcp_nopush), NULL, "off",
     "send the response head and file start in full packets (TCP_CORK)"},
    {"tcp_nodelay", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag,
     loc_off(tcp_nodelay), NULL, "on", "disable Nagle's algorithm"},
    {"keepalive_timeout", WM_LOC, 1, 2, 0, WM_LVL_LOC, wm_conf_set_msec,
     loc_off(keepalive_timeout), NULL, "75s",
     "how long an idle keep-alive connection stays open (0 disables)"},
    {"keepalive_requests", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_num,
     loc_off(keepalive_requests), &wm_http_requests_bounds, "1000",
     "requests served on one keep-alive connection"},
    {"keepalive_time", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_msec,
     loc_off(keepalive_time), NULL, "1h",
     "longest life of a keep-alive connection"},
    {"keepalive_disable", WM_LOC, 1, 2, 0, WM_LVL_LOC, wm_http_accepted, 0,
     NULL, "msie6", "accepted for compatibility; wmproxy has no browser "
                    "quirks list"},
    {"send_timeout", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_msec,
     loc_off(send_timeout), NULL, "60s",
     "time between two writes to the client"},
    {"client_body_timeout", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_msec,
     loc_off(client_body_timeout), NULL, "60s",
     "time between two reads of the request body"},
    {"client_max_body_size", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_size,
     loc_off(client_max_body_size), NULL, "1m",
     "largest request body (413 above; 0 disables the check)"},
    {"client_header_timeout", WM_SRV, 1, 1, 0, WM_LVL_SRV, wm_conf_set_msec,
     srv_off(client_header_timeout), NULL, "60s",
     "time to receive the request head"},
    {"client_header_buffer_size", WM_SRV, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_size, srv_off(client_header_buffer_size), NULL, "1k",
     "longest request line or header line before large buffers are used"},
    {"large_client_header_buffers", WM_SRV, 2, 2, 0, WM_LVL_SRV,
     wm_http_buffers, 0, NULL, "4 8k",
     "number and size of buffers for long request heads"},
    {"merge_slashes", WM_SRV, 1, 1, 0, WM_LVL_SRV, wm_conf_set_flag,
     srv_off(merge_slashes), NULL, "on", "merge repeated slashes in URIs"},
    {"underscores_in_headers", WM_SRV, 1, 1, 0, WM_LVL_SRV, wm_conf_set_flag,
     srv_off(underscores_in_headers), NULL, "off",
     "accept underscores in header names"},
    {"ignore_invalid_headers", WM_SRV, 1, 1, 0, WM_LVL_SRV, wm_conf_set_flag,
     srv_off(ignore_invalid_headers), NULL, "on",
     "skip headers with invalid names instead of answering 400"},
    {"lingering_close", WM_SRV, 1, 1, 0, WM_LVL_SRV, wm_conf_set_enum,
     srv_off(lingering_close), wm_http_lingering_modes, "on",
     "read and discard client data before closing"},
    {"lingering_time", WM_SRV, 1, 1, 0, WM_LVL_SRV, wm_conf_set_msec,
     srv_off(lingering_time), NULL, "30s", "longest lingering close"},
    {"lingering_timeout", WM_SRV, 1, 1, 0, WM_LVL_SRV, wm_conf_set_msec,
     srv_off(lingering_timeout), NULL, "5s",
     "wait for more client data during a lingering close"},
    {"server_tokens", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_enum,
     loc_off(server_tokens), wm_http_tokens_modes, "on",
     "show the version in Server and error pages"},
    {"etag", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag, loc_off(etag),
     NULL, "on", "send ETag for static files"},
    {"if_modified_since", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_enum,
     loc_off(if_modified_since), wm_http_ims_modes, "exact",
     "how If-Modified-Since is compared: off, exact, before"},
    {"disable_symlinks", WM_LOC, 1, 2, 0, WM_LVL_LOC,
     wm_http_disable_symlinks, 0, NULL, "off",
     "off | on | if_not_owner [from=part]: refuse files reached through "
     "symbolic links (403)"},
    {"msie_padding", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag,
     loc_off(msie_padding), NULL, "on",
     "pad the built-in error pages for MSIE and Chrome clients"},
    {"msie_refresh", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag,
     loc_off(msie_refresh), NULL, "off",
     "answer MSIE clients a page that refreshes instead of a 301/302"},
    {"satisfy", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_enum,
     loc_off(satisfy_any), wm_http_satisfy_modes, "all",
     "all: every access check must let the request in (allow/deny, "
     "auth_basic); any: one is enough"},
    {"max_ranges", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_num,
     loc_off(max_ranges), &wm_http_ranges_bounds, "-",
     "most byte ranges served in one request (0 disables ranges)"},
    {"log_not_found", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag,
     loc_off(log_not_found), NULL, "on", "log files not found"},
    {"absolute_redirect", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag,
     loc_off(absolute_redirect), NULL, "on",
     "make redirects issued by wmproxy absolute"},
    {"server_name_in_redirect", WM_LOC, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_flag, loc_off(server_name_in_redirect), NULL, "off",
     "absolute redirects name the server's first server_name, not the Host"},
    {"port_in_redirect", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_flag,
     loc_off(port_in_redirect), NULL, "on",
     "put the port in absolute redirects"},
    {"error_page", WM_LOC_IF, 2, WM_ARGS_MANY, WM_CMD_MULTI, WM_LVL_LOC,
     wm_http_error_page, 0, NULL, "-",
     "code ... [=[response]] uri|@named|URL: what to serve for errors"},
    {"server_names_hash_bucket_size", WM_CTX_HTTP, 1, 1, 0, WM_LVL_MAIN,
     wm_http_accepted, 0, NULL, "-",
     "accepted for compatibility; wmproxy needs no hash tuning"},
    {"server_names_hash_max_size", WM_CTX_HTTP, 1, 1, 0, WM_LVL_MAIN,
     wm_http_accepted, 0, NULL, "-",
     "accepted for compatibility; wmproxy needs no hash tuning"},
    {"variables_hash_bucket_size", WM_CTX_HTTP, 1, 1, 0, WM_LVL_MAIN,
     wm_http_accepted, 0, NULL, "-",
     "accepted for compatibility; wmproxy needs no hash tuning"},
    {"variables_hash_max_size", WM_CTX_HTTP, 1, 1, 0, WM_LVL_MAIN,
     wm_http_accepted, 0, NULL, "-",
     "accepted for compatibility; wmproxy needs no hash tuning"},
    {"types_hash_bucket_size", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_http_accepted,
     0, NULL, "-", "accepted for compatibility; wmproxy needs no hash tuning"},
    {"types_hash_max_size", WM_LOC, 1, 1, 0, WM_LVL_LOC, wm_http_accepted, 0,
     NULL, "-", "accepted for compatibility; wmproxy needs no hash tuning"},
    wm_null_command,
};

wm_module_t wm_http_core_module = {
    .name = "http_core",
    .family = WM_MOD_HTTP,
    .commands = wm_http_core_commands,
    .create_conf = wm_http_core_create,
    .merge_conf = wm_http_core_merge,
    .init_worker = wm_http_init_worker,
    .exit_worker = wm_http_exit_worker,
};

/* ---- conf structs ------------------------------------------------------- */

static void *
wm_http_core_create(wm_conf_t *cf, unsigned level)
{
    if (level == WM_LVL_MAIN) {
        wm_http_core_main_conf_t *cmcf = wm_pcalloc(cf->pool, sizeof(*cmcf));

        if (cmcf == NULL
            || wm_array_init(&cmcf->servers, cf->pool, 4, sizeof(void *))
                   != WM_OK
            || wm_array_init(&cmcf->addrs, cf->pool, 4, sizeof(void *))
                   != WM_OK)
        {
            return NULL;
        }
        return cmcf;
    }
    if (level == WM_LVL_SRV) {
        wm_http_core_srv_conf_t *cscf = wm_pcalloc(cf->pool, sizeof(*cscf));

        if (cscf == NULL
            || wm_array_init(&cscf->names, cf->pool, 2,
                             sizeof(wm_http_server_name_t))
                   != WM_OK)
        {
            return NULL;
        }
        cscf->client_header_timeout = WM_CONF_UNSET_MSEC;
        cscf->client_header_buffer_size = WM_CONF_UNSET_SIZE;
        cscf->large_header_buffer_size = WM_CONF_UNSET_SIZE;
        cscf->large_header_buffers = WM_CONF_UNSET;
        cscf->merge_slashes = WM_CONF_UNSET;
        cscf->underscores_in_headers = WM_CONF_UNSET;
        cscf->ignore_invalid_headers = WM_CONF_UNSET;
        cscf->lingering_close = WM_CONF_UNSET;
        cscf->lingering_time = WM_CONF_UNSET_MSEC;
        cscf->lingering_timeout = WM_CONF_UNSET_MSEC;
        return cscf;
    }

    {
        wm_http_core_loc_conf_t *clcf = wm_pcalloc(cf->pool, sizeof(*clcf));

        if (clcf == NULL
            || wm_array_init(&clcf->locations, cf->pool, 2, sizeof(void *))
                   != WM_OK)
        {
            return NULL;
        }
        clcf->internal = WM_CONF_UNSET;
        clcf->sendfile = WM_CONF_UNSET;
        clcf->tcp_nopush = WM_CONF_UNSET;
        clcf->tcp_nodelay = WM_CONF_UNSET;
        clcf->keepalive_timeout = WM_CONF_UNSET_MSEC;
        clcf->keepalive_requests = WM_CONF_UNSET;
        clcf->keepalive_time = WM_CONF_UNSET_MSEC;
        clcf->send_timeout = WM_CONF_UNSET_MSEC;
        clcf->client_body_timeout = WM_CONF_UNSET_MSEC;
        clcf->client_max_body_size = WM_CONF_UNSET_SIZE;
        clcf->server_tokens = WM_CONF_UNSET;
        clcf->etag = WM_CONF_UNSET;
        clcf->if_modified_since = WM_CONF_UNSET;
        clcf->satisfy_any = WM_CONF_UNSET;
        clcf->msie_padding = WM_CONF_UNSET;
        clcf->msie_refresh = WM_CONF_UNSET;
        clcf->disable_symlinks = WM_CONF_UNSET;
        clcf->max_ranges = WM_CONF_UNSET;
        clcf->log_not_found = WM_CONF_UNSET;
        clcf->absolute_redirect = WM_CONF_UNSET;
        clcf->port_in_redirect = WM_CONF_UNSET;
        clcf->server_name_in_redirect = WM_CONF_UNSET;
        return clcf;
    }
}

static const char *
wm_http_core_merge(wm_conf_t *cf, void *parent, void *child, unsigned level)
{
    if (level == WM_LVL_SRV) {
        wm_http_core_srv_conf_t *prev = parent, *conf = child;

        wm_conf_merge_msec(conf->client_header_timeout,
                           prev->client_header_timeout, 60000);
        wm_conf_merge_size(conf->client_header_buffer_size,
                           prev->client_header_buffer_size, 1024);
        wm_conf_merge_size(conf->large_header_buffer_size,
                           prev->large_header_buffer_size, 8192);
        wm_conf_merge_value(conf->large_header_buffers,
                            prev->large_header_buffers, 4);
        wm_conf_merge_value(conf->merge_slashes, prev->merge_slashes, 1);
        wm_conf_merge_value(conf->underscores_in_headers,
                            prev->underscores_in_headers, 0);
        wm_conf_merge_value(conf->ignore_invalid_headers,
                            prev->ignore_invalid_headers, 1);
        wm_conf_merge_value(conf->lingering_close, prev->lingering_close, 1);
        wm_conf_merge_msec(conf->lingering_time, prev->lingering_time, 30000);
        wm_conf_merge_msec(conf->lingering_timeout, prev->lingering_timeout,
                           5000);

        /* nginx: a line may not exceed one large buffer, and the head
         * must fit in all of them. */
        wm_http_parse_conf_init(&conf->parse);
        conf->parse.max_request_line = conf->large_header_buffer_size;
        conf->parse.max_header_line = conf->large_header_buffer_size;
        conf->parse.max_head = conf->large_header_buffer_size
                               * (size_t) conf->large_header_buffers;
        conf->parse.underscores_in_headers =
            conf->underscores_in_headers ? 1 : 0;
        conf->parse.ignore_invalid_headers =
            conf->ignore_invalid_headers ? 1 : 0;
        return NULL;
    }
    if (level == WM_LVL_LOC) {
        wm_http_core_loc_conf_t *prev = parent, *conf = child;

        if (!conf->root_set && prev->root_set) {
            conf->root = prev->root;
            conf->root_cv = prev->root_cv;
            conf->alias = prev->alias;
            conf->alias_full = prev->alias_full;
            conf->alias_prefix = prev->alias_prefix;
            conf->root_set = 1;
        }
        if (!conf->root_set) {
            conf->root.data = (u_char *) wm_conf_full_path(
                cf->pool, cf->prefix, &(wm_str_t) wm_string("html"));
            if (conf->root.data == NULL) {
                return "failed: out of memory";
            }
            conf->root.len = strlen((char *) conf->root.data);
            conf->root_set = 1;
        }
        if (conf->index == NULL) {
            conf->index = prev->index;
        }
        if (conf->types == NULL) {
            if (prev->types == NULL) {
                prev->types = wm_http_default_types(cf->pool);
                if (prev->types == NULL) {
                    return "failed: out of memory";
                }
            }
            conf->types = prev->types;
        }
        wm_conf_merge_str(conf->default_type, prev->default_type,
                          "text/plain");
        wm_conf_merge_value(conf->internal, WM_CONF_UNSET, 0);
        wm_conf_merge_value(conf->sendfile, prev->sendfile, 0);
        wm_conf_merge_value(conf->tcp_nopush, prev->tcp_nopush, 0);
        wm_conf_merge_value(conf->tcp_nodelay, prev->tcp_nodelay, 1);
        wm_conf_merge_msec(conf->keepalive_timeout, prev->keepalive_timeout,
                           75000);
        wm_conf_merge_value(conf->keepalive_requests, prev->keepalive_requests,
                            1000);
        wm_conf_merge_msec(conf->keepalive_time, prev->keepalive_time,
                           3600000);
        wm_conf_merge_msec(conf->send_timeout, prev->send_timeout, 60000);
        wm_conf_merge_msec(conf->client_body_timeout,
                           prev->client_body_timeout, 60000);
        wm_conf_merge_size(conf->client_max_body_size,
                           prev->client_max_body_size, 1024 * 1024);
        wm_conf_merge_value(conf->server_tokens, prev->server_tokens, 1);
        wm_conf_merge_value(conf->etag, prev->etag, 1);
        wm_conf_merge_value(conf->if_modified_since, prev->if_modified_since,
                            1);
        wm_conf_merge_value(conf->satisfy_any, prev->satisfy_any, 0);
        wm_conf_merge_value(conf->msie_padding, prev->msie_padding, 1);
        wm_conf_merge_value(conf->msie_refresh, prev->msie_refresh, 0);
        if (conf->disable_symlinks == WM_CONF_UNSET) {
            conf->disable_symlinks = prev->disable_symlinks;
            conf->symlinks_from = prev->symlinks_from;
        }
        if (conf->disable_symlinks == WM_CONF_UNSET) {
            conf->disable_symlinks = 0;
            conf->symlinks_from = NULL;
        }
        wm_conf_merge_value(conf->max_ranges, prev->max_ranges, INT32_MAX);
        wm_conf_merge_value(conf->log_not_found, prev->log_not_found, 1);
        wm_conf_merge_value(conf->absolute_redirect, prev->absolute_redirect,
                            1);
        wm_conf_merge_value(conf->port_in_redirect, prev->port_in_redirect,
                            1);
        wm_conf_merge_value(conf->server_name_in_redirect,
                            prev->server_name_in_redirect, 0);
        if (conf->error_pages == NULL) {
            conf->error_pages = prev->error_pages;
        }
        if (conf->noname && conf->handler == NULL) {
            /* The block of an `if` serves as its location does unless
             * it names a content handler of its own. */
            conf->handler = prev->handler;
        }
    }
    return NULL;
}

/* ---- blocks ------------------------------------------------------------- */

void **
wm_http_create_confs(wm_conf_t *cf, unsigned level)
{
    void **confs = wm_pcalloc(cf->pool, wm_modules_n * sizeof(void *));
    wm_uint_t i;

    if (confs == NULL) {
        return NULL;
    }
    for (i = 0; wm_modules[i]; i++) {
        wm_module_t *m = wm_modules[i];

        if (m->family != WM_MOD_HTTP || m->create_conf == NULL) {
            continue;
        }
        confs[i] = m->create_conf(cf, level);
        if (confs[i] == NULL) {
            return NULL;
        }
    }
    return confs;
}

/* Merges every http module's conf of `level` from prev into conf. */
static void
wm_http_merge_confs(wm_conf_t *cf, void **prev, void **conf, unsigned level,
                    const char *file, unsigned line)
{
    wm_uint_t i;

    for (i = 0; wm_modules[i]; i++) {
        wm_module_t *m = wm_modules[i];
        const char *rv;

        if (m->family != WM_MOD_HTTP || m->merge_conf == NULL
            || conf[i] == NULL)
        {
            continue;
        }
        rv = m->merge_conf(cf, prev[i], conf[i], level);
        if (rv) {
            wm_conf_node_t at = {.file = file, .line = line};

            wm_conf_error(cf, &at, "%s %s",
                          level == WM_LVL_SRV ? "\"server\" directive"
                                              : "\"location\" directive",
                          rv);
        }
    }
}

static void
wm_http_merge_locations(wm_conf_t *cf, wm_http_core_loc_conf_t *parent)
{
    wm_http_core_loc_conf_t **locs = parent->locations.elts;
    size_t i;

    for (i = 0; i < parent->locations.nelts; i++) {
        wm_http_merge_confs(cf, parent->loc_confs, locs[i]->loc_confs,
                            WM_LVL_LOC, locs[i]->file, locs[i]->line);
        wm_http_merge_locations(cf, locs[i]);
    }
}

static wm_http_addr_conf_t *
wm_http_addr_conf(wm_conf_t *cf, wm_listening_t *ls)
{
    wm_http_core_main_conf_t *cmcf =
        cf->confs[WM_LVL_MAIN][wm_http_core_module.index];
    wm_http_addr_conf_t *ac = ls->servers, **slot;

    if (ac) {
        return ac;
    }
    ac = wm_pcalloc(cf->pool, sizeof(*ac));
    slot = wm_array_push(&cmcf->addrs);
    if (ac == NULL || slot == NULL
        || wm_array_init(&ac->servers, cf->pool, 2, sizeof(void *)) != WM_OK)
    {
        return NULL;
    }
    *slot = ac;
    ls->servers = ac;
    ls->handler = wm_http_accept;
    return ac;
}

/* Adds cscf to the servers of ls; a second default_server is an error. */
static const char *
wm_http_add_server(wm_conf_t *cf, wm_listening_t *ls,
                   wm_http_core_srv_conf_t *cscf, bool dflt)
{
    wm_http_addr_conf_t *ac;
    wm_http_core_srv_conf_t **slot, **all;
    size_t i;

    if (ls->handler && ls->handler != wm_http_accept) {
        return wm_conf_errf(cf, "has a duplicate \"%s\" address and port "
                                "pair (used by a stream server)",
                            ls->addr_text);
    }
    ac = wm_http_addr_conf(cf, ls);
    if (ac == NULL) {
        return "failed: out of memory";
    }
    all = ac->servers.elts;
    for (i = 0; i < ac->servers.nelts; i++) {
        if (all[i] == cscf) {
            return wm_conf_errf(cf, "has a duplicate \"%s\" address and "
                                    "port pair",
                                ls->addr_text);
        }
    }
    if (dflt) {
        if (ac->default_explicit) {
            return wm_conf_errf(cf, "has a duplicate default server for %s",
                                ls->addr_text);
        }
        ac->default_server = cscf;
        ac->default_explicit = 1;
    } else if (ac->default_server == NULL) {
        ac->default_server = cscf;
    }
    cscf->listen = 1;
    slot = wm_array_push(&ac->servers);
    if (slot == NULL) {
        return "failed: out of memory";
    }
    *slot = cscf;
    return NULL;
}

/*
 * nginx binds `listen 80` (0.0.0.0:80) once and serves `listen
 * 127.0.0.1:80` of another server through it, choosing by the local
 * address of each connection. The specific sockets are marked merged (not
 * opened) and their servers hang off the wildcard's address conf.
 */
static wm_int_t
wm_http_merge_wildcards(wm_conf_t *cf)
{
    wm_listening_t **all = cf->cycle->listening.elts;
    size_t i, j, n = cf->cycle->listening.nelts;

    for (i = 0; i < n; i++) {
        wm_listening_t *ls = all[i];
        wm_http_addr_conf_t *ac = ls->servers, **slot;

        if (ls->handler != wm_http_accept || ls->merged
            || wm_sockaddr_is_wildcard((struct sockaddr *) &ls->sa))
        {
            continue;
        }
        for (j = 0; j < n; j++) {
            wm_listening_t *w = all[j];
            wm_http_addr_conf_t *wac = w->servers;

            if (w->handler != wm_http_accept || w->merged
                || w->sa.ss_family != ls->sa.ss_family
                || !wm_sockaddr_is_wildcard((struct sockaddr *) &w->sa)
                || wm_sockaddr_port((struct sockaddr *) &w->sa)
                       != wm_sockaddr_port((struct sockaddr *) &ls->sa))
            {
                continue;
            }
            if (wac->specific.elts == NULL
                && wm_array_init(&wac->specific, cf->pool, 2, sizeof(void *))
                       != WM_OK)
            {
                return WM_ERROR;
            }
            slot = wm_array_push(&wac->specific);
            if (slot == NULL) {
                return WM_ERROR;
            }
            memcpy(&ac->host, &ls->sa, ls->socklen);
            *slot = ac;
            ls->merged = 1;
            ls->handler = NULL;
            break;
        }
    }
    return WM_OK;
}

static const char *
wm_http_block(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_conf_t saved = *cf;
    wm_http_core_main_conf_t *cmcf;
    void **main_confs, **srv_confs, **loc_confs;
    wm_http_core_srv_conf_t **servers;
    const char *rv;
    size_t i;

    if (cf->cycle->conf[wm_http_core_module.index]) {
        return "is duplicate";
    }
    wm_http_regex_names_reset();
    rv = wm_http_rewrite_vars_init(cf->node);
    if (rv) {
        return rv;
    }
    rv = wm_http_map_vars_init(cf->node);
    if (rv) {
        return rv;
    }
    main_confs = wm_http_create_confs(cf, WM_LVL_MAIN);
    srv_confs = wm_http_create_confs(cf, WM_LVL_SRV);
    loc_confs = wm_http_create_confs(cf, WM_LVL_LOC);
    if (main_confs == NULL || srv_confs == NULL || loc_confs == NULL) {
        return "failed: out of memory";
    }
    cmcf = main_confs[wm_http_core_module.index];
    cmcf->main_confs = main_confs;
    ((wm_http_core_loc_conf_t *) loc_confs[wm_http_core_module.index])
        ->loc_confs = loc_confs;
    cf->cycle->conf[wm_http_core_module.index] = cmcf;

    cf->ctx = WM_CTX_HTTP;
    cf->family = WM_MOD_HTTP;
    cf->confs[WM_LVL_MAIN] = main_confs;
    cf->confs[WM_LVL_SRV] = srv_confs;
    cf->confs[WM_LVL_LOC] = loc_confs;
    wm_conf_walk(cf, cf->node);
    if (cf->nerrors != saved.nerrors) {
        goto done;
    }

    /* Merge downward: http -> server -> location -> nested location. */
    servers = cmcf->servers.elts;
    for (i = 0; i < cmcf->servers.nelts; i++) {
        wm_http_core_srv_conf_t *cscf = servers[i];

        wm_http_merge_confs(cf, srv_confs, cscf->srv_confs, WM_LVL_SRV,
                            cscf->file, cscf->line);
        wm_http_merge_confs(cf, loc_confs, cscf->root->loc_confs, WM_LVL_LOC,
                            cscf->file, cscf->line);
        wm_http_merge_locations(cf, cscf->root);
        rv = wm_http_locations_init(cf->pool, cscf->root);
        if (rv) {
            wm_conf_node_t at = {.file = cscf->file, .line = cscf->line};

            wm_conf_error(cf, &at, "\"server\" directive %s", rv);
        }

        if (!cscf->listen) {
            /* nginx's default: *:80. */
            struct sockaddr_in sin = {.sin_family = AF_INET,
                                      .sin_port = htons(80)};
            wm_listening_t *ls;

            ls = wm_listen_add(cf->cycle, (struct sockaddr *) &sin,
                               sizeof(sin), SOCK_STREAM);
            if (ls == NULL) {
                saved.nerrors = ++cf->nerrors;
                break;
            }
            cf->node = saved.node;
            rv = wm_http_add_server(cf, ls, cscf, false);
            if (rv) {
                wm_conf_node_t at = {.file = cscf->file, .line = cscf->line};

                wm_conf_error(cf, &at, "\"server\" directive %s", rv);
            }
        }
    }

    if (cf->nerrors == saved.nerrors && wm_http_merge_wildcards(cf) != WM_OK) {
        goto done;
    }

    /* Every server on a TLS address needs its own context (SNI). */
    for (i = 0; cf->nerrors == saved.nerrors && i < cmcf->addrs.nelts; i++) {
        wm_http_addr_conf_t *ac = ((wm_http_addr_conf_t **) cmcf->addrs.elts)[i];
        size_t j;

        for (j = 0; ac->ssl && j < ac->servers.nelts; j++) {
            const char *file;
            unsigned line;

            rv = wm_http_ssl_server_init(
                cf, ((wm_http_core_srv_conf_t **) ac->servers.elts)[j], &file,
                &line);
            if (rv) {
                wm_conf_node_t at = {.file = file, .line = line};

                wm_conf_error(cf, &at, "%s", rv);
            }
        }
    }

done:
    saved.nerrors = cf->nerrors;
    *cf = saved;
    return NULL;
}

static const char *
wm_http_server(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_core_main_conf_t *cmcf = conf;
    wm_http_core_srv_conf_t *cscf, **slot;
    wm_http_core_loc_conf_t *clcf;
    const wm_conf_node_t *node = cf->node;
    void **srv_confs, **loc_confs, **saved_srv = cf->confs[WM_LVL_SRV];
    void **saved_loc = cf->confs[WM_LVL_LOC];
    uint32_t ctx = cf->ctx;

    srv_confs = wm_http_create_confs(cf, WM_LVL_SRV);
    loc_confs = wm_http_create_confs(cf, WM_LVL_LOC);
    slot = wm_array_push(&cmcf->servers);
    if (srv_confs == NULL || loc_confs == NULL || slot == NULL) {
        return "failed: out of memory";
    }
    cscf = srv_confs[wm_http_core_module.index];
    cscf->srv_confs = srv_confs;
    cscf->file = node->file;
    cscf->line = node->line;
    clcf = loc_confs[wm_http_core_module.index];
    clcf->loc_confs = loc_confs;
    cscf->root = clcf;
    *slot = cscf;

    cf->ctx = WM_CTX_HTTP_SRV;
    cf->confs[WM_LVL_SRV] = srv_confs;
    cf->confs[WM_LVL_LOC] = loc_confs;
    wm_conf_walk(cf, node);
    cf->ctx = ctx;
    cf->confs[WM_LVL_SRV] = saved_srv;
    cf->confs[WM_LVL_LOC] = saved_loc;
    return NULL;
}

static const char *
wm_http_location(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_core_loc_conf_t *parent = conf, *clcf, **slot;
    const wm_conf_node_t *node = cf->node;
    void **loc_confs, **saved = cf->confs[WM_LVL_LOC];
    uint32_t ctx = cf->ctx;
    const wm_str_t *mod = NULL, *name = &node->args[0];
    const char *rv = NULL;

    if (node->nargs == 2) {
        mod = &node->args[0];
        name = &node->args[1];
    }
    if (parent->match == WM_HTTP_LOC_EXACT
        || parent->match == WM_HTTP_LOC_NAMED)
    {
        return wm_conf_errf(cf, "is not allowed inside the %s location "
                                "\"%s\"",
                            parent->match == WM_HTTP_LOC_EXACT ? "exact"
                                                               : "named",
                            (const char *) parent->name.data);
    }
    loc_confs = wm_http_create_confs(cf, WM_LVL_LOC);
    slot = wm_array_push(&parent->locations);
    if (loc_confs == NULL || slot == NULL) {
        return "failed: out of memory";
    }
    clcf = loc_confs[wm_http_core_module.index];
    clcf->loc_confs = loc_confs;
    clcf->parent = parent;
    clcf->file = node->file;
    clcf->line = node->line;
    clcf->name = *name;
    *slot = clcf;

    if (mod == NULL) {
        if (name->len > 1 && name->data[0] == '@') {
            clcf->match = WM_HTTP_LOC_NAMED;
            if (parent->parent) {
                return "with a name is allowed only at server level";
            }
        } else if (name->len > 1 && name->data[0] == '='
                   && name->data[1] != '\0')
        {
            /* `location =/uri` */
            clcf->match = WM_HTTP_LOC_EXACT;
            clcf->name.data++;
            clcf->name.len--;
        } else {
            clcf->match = WM_HTTP_LOC_PREFIX;
        }
    } else if (wm_str_eq(mod, "=")) {
        clcf->match = WM_HTTP_LOC_EXACT;
    } else if (wm_str_eq(mod, "^~")) {
        clcf->match = WM_HTTP_LOC_NOREGEX;
    } else if (wm_str_eq(mod, "~") || wm_str_eq(mod, "~*")) {
        clcf->match = mod->len == 1 ? WM_HTTP_LOC_REGEX : WM_HTTP_LOC_REGEX_CI;
        rv = wm_http_regex_compile(cf->pool, name, mod->len == 2,
                                   &clcf->regex);
        if (rv) {
            return rv;
        }
    } else {
        return wm_conf_errf(cf, "has invalid location modifier \"%s\"",
                            (const char *) mod->data);
    }
    if (clcf->match != WM_HTTP_LOC_NAMED && parent->parent
        && parent->match != WM_HTTP_LOC_REGEX
        && parent->match != WM_HTTP_LOC_REGEX_CI
        && (clcf->match == WM_HTTP_LOC_PREFIX
            || clcf->match == WM_HTTP_LOC_EXACT
            || clcf->match == WM_HTTP_LOC_NOREGEX)
        && (clcf->name.len < parent->name.len
            || memcmp(clcf->name.data, parent->name.data, parent->name.len)
                   != 0))
    {
        return wm_conf_errf(cf, "\"%s\" is outside location \"%s\"",
                            (const char *) clcf->name.data,
                            (const char *) parent->name.data);
    }

    cf->ctx = WM_CTX_HTTP_LOC;
    cf->confs[WM_LVL_LOC] = loc_confs;
    wm_conf_walk(cf, node);
    cf->ctx = ctx;
    cf->confs[WM_LVL_LOC] = saved;
    return NULL;
}

/* ---- directives --------------------------------------------------------- */

static const char *
wm_http_listen(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_core_srv_conf_t *cscf = conf;
    const wm_conf_node_t *n = cf->node;
    struct sockaddr_storage sa;
    socklen_t len;
    wm_listening_t *ls;
    wm_listen_opts_t opts = wm_listen_opts_init;
    const char *rv;
    char err[256];
    bool dflt = false, ssl = false, pp = false;
    size_t i;

    if (wm_listen_parse_addr(&n->args[0], 80, &sa, &len, err, sizeof(err))
        != WM_OK)
    {
        return wm_conf_errf(cf, "has invalid value \"%s\": %s",
                            (const char *) n->args[0].data, err);
    }
    for (i = 1; i < n->nargs; i++) {
        const char *a = (const char *) n->args[i].data;
        wm_int_t rc = wm_listen_parse_param(a, &opts);

        if (rc == WM_ERROR) {
            return wm_conf_errf(cf, "has invalid value \"%s\"", a);
        }
        if (rc == WM_DECLINED) {
            if (strcmp(a, "default_server") == 0
                || strcmp(a, "default") == 0)
            {
                dflt = true;
            } else if (strcmp(a, "ssl") == 0) {
                ssl = true;
            } else if (strcmp(a, "proxy_protocol") == 0) {
                pp = true;
            } else if (strcmp(a, "http2") == 0) {
                wm_http_no_http2(cf, "the \"http2\" parameter of \"listen\"");
            } else if (strcmp(a, "deferred") != 0) {
                /* deferred accept is not used; the flag is accepted */
                return wm_conf_errf(cf, "has invalid parameter \"%s\"", a);
            }
        }
    }
    ls = wm_listen_add(cf->cycle, (struct sockaddr *) &sa, len, SOCK_STREAM);
    if (ls == NULL) {
        return "failed: out of memory";
    }
    /* Socket options come from the listen that gives them; several
     * servers share one socket. */
    if (ls->servers == NULL || opts.set) {
        rv = wm_listen_apply(ls, &opts);
        if (rv) {
            return rv;
        }
    }
    rv = wm_http_add_server(cf, ls, cscf, dflt);
    if (rv == NULL && pp) {
        ((wm_http_addr_conf_t *) ls->servers)->proxy_protocol = 1;
    }
    if (rv == NULL && ssl) {
        ((wm_http_addr_conf_t *) ls->servers)->ssl = 1;
        if (cscf->ssl_listen_file == NULL) {
            cscf->ssl_listen_file = n->file;
            cscf->ssl_listen_line = n->line;
        }
    }
    return rv;
}

static const char *
wm_http_server_name(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_core_srv_conf_t *cscf = conf;
    size_t i;

    for (i = 0; i < cf->node->nargs; i++) {
        wm_http_server_name_t *sn;
        const char *rv;

        if (cf->node->args[i].len == 0) {
            continue; /* server_name ""; matches requests without Host */
        }
        sn = wm_array_push(&cscf->names);
        if (sn == NULL) {
            return "failed: out of memory";
        }
        rv = wm_http_server_name_parse(cf->pool, &cf->node->args[i], sn);
        if (rv) {
            return rv;
        }
    }
    return NULL;
}

static const char *
wm_http_root(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_core_loc_conf_t *clcf = conf;
    const wm_str_t *arg = &cf->node->args[0];
    bool alias = cmd->offset == 1;
    char *p;

    if (clcf->root_set) {
        return clcf->alias == alias ? "is duplicate"
                                    : "conflicts with \"root\"/\"alias\"";
    }
    if (alias && (clcf->match == WM_HTTP_LOC_NAMED)) {
        return "is not allowed in a named location";
    }
    if (arg->len == 0) {
        return "has invalid value \"\"";
    }
    if (memchr(arg->data, '$', arg->len)) {
        /* Made per request; a relative value gets the prefix then. */
        wm_str_t text = *arg;
        const char *rv;

        if (!alias && text.len > 1 && text.data[text.len - 1] == '/') {
            text.len--;
        }
        clcf->root_cv = wm_pcalloc(cf->pool, sizeof(wm_cv_t));
        if (clcf->root_cv == NULL) {
            return "failed: out of memory";
        }
        rv = wm_cv_compile(cf->pool, &text, wm_http_var_tables, clcf->root_cv);
        if (rv) {
            return rv;
        }
        p = wm_pstrndup(cf->pool, (const char *) text.data, text.len);
    } else {
        p = wm_conf_full_path(cf->pool, cf->prefix, arg);
    }
    if (p == NULL) {
        return "failed: out of memory";
    }
    clcf->root.data = (u_char *) p;
    clcf->root.len = strlen(p);
    /* "root /var/www/;" is "root /var/www;": the URI brings the slash.
     * An alias keeps it, as nginx does, since it replaces the prefix. */
    if (!alias && clcf->root.len > 1 && p[clcf->root.len - 1] == '/') {
        clcf->root.len--;
        p[clcf->root.len] = '\0';
    }
    clcf->alias = alias;
    if (alias) {
        clcf->alias_prefix = clcf->name;
        /* nginx: in a regex location the alias names the whole file
         * (made with the regex's captures), whatever the URI. */
        clcf->alias_full = clcf->match == WM_HTTP_LOC_REGEX
                           || clcf->match == WM_HTTP_LOC_REGEX_CI;
    }
    clcf->root_set = 1;
    return NULL;
}

static const char *
wm_http_types(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_core_loc_conf_t *clcf = conf;
    const wm_conf_node_t *n;

    /* Several types blocks of one level add up (`include mime.types;`
     * then a block of one's own); a block replaces what was inherited. */
    if (clcf->types == NULL) {
        clcf->types = wm_palloc(cf->pool, sizeof(wm_http_mime_t));
        if (clcf->types == NULL) {
            return "failed: out of memory";
        }
        wm_http_mime_init(clcf->types, cf->pool);
    }
    for (n = cf->node->children; n; n = n->next) {
        const wm_str_t *dup = NULL;
        wm_int_t rc;

        if (n->block || n->nargs == 0) {
            wm_conf_error(cf, n, "\"%s\" type has %s",
                          (const char *) n->name.data,
                          n->block ? "a block" : "no extensions");
            continue;
        }
        rc = wm_http_mime_add(clcf->types, &n->name, n->args, n->nargs, &dup);
        if (rc == WM_ERROR) {
            wm_conf_error(cf, n, "\"%s\" type has an empty extension or "
                                 "is out of memory",
                          (const char *) n->name.data);
        }
    }
    return NULL;
}

/* The types of a configuration without any types block: nginx's three
 * (html, gif, jpg), so that such a configuration labels the same files. */
static wm_http_mime_t *
wm_http_default_types(wm_pool_t *pool)
{
    static const struct {
        wm_str_t type;
        wm_str_t ext;
    } defaults[] = {
        {wm_string("text/html"), wm_string("html")},
        {wm_string("image/gif"), wm_string("gif")},
        {wm_string("image/jpeg"), wm_string("jpg")},
    };
    wm_http_mime_t *m = wm_palloc(pool, sizeof(*m));
    size_t i;

    if (m == NULL) {
        return NULL;
    }
    wm_http_mime_init(m, pool);
    for (i = 0; i < wm_nelems(defaults); i++) {
        if (wm_http_mime_add(m, &defaults[i].type, &defaults[i].ext, 1, NULL)
            == WM_ERROR)
        {
            return NULL;
        }
    }
    return m;
}

static const char *
wm_http_buffers(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_core_srv_conf_t *cscf = conf;
    int64_t n = wm_parse_num(&cf->node->args[0]);
    int64_t size = wm_parse_size(&cf->node->args[1]);

    if (cscf->large_header_buffers != WM_CONF_UNSET) {
        return "is duplicate";
    }
    if (n < 1 || n > 1024) {
        return wm_conf_errf(cf, "has invalid value \"%s\"",
                            (const char *) cf->node->args[0].data);
    }
    if (size < 128 || size > 1024 * 1024) {
        return wm_conf_errf(cf, "has invalid value \"%s\"",
                            (const char *) cf->node->args[1].data);
    }
    cscf->large_header_buffers = (wm_int_t) n;
    cscf->large_header_buffer_size = (size_t) size;
    return NULL;
}

/* wmproxy has no HTTP/2: a configuration that asks for it loads, with a
 * warning, and its clients get HTTP/1.1 (over TLS no protocol is
 * chosen by ALPN, which clients read as HTTP/1.1; in plain HTTP an
 * Upgrade: h2c is not taken). */
static void
wm_http_no_http2(wm_conf_t *cf, const char *what)
{
    wm_log_error(WM_LOG_WARN, wm_errlog, 0,
                 "%s is ignored: wmproxy has no HTTP/2 and serves HTTP/1.1, "
                 "in %s:%u",
                 what, cf->node->file ? cf->node->file : "-", cf->node->line);
}

static const char *
wm_http_http2(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    const wm_str_t *v = &cf->node->args[0];

    if (wm_str_eq(v, "on")) {
        wm_http_no_http2(cf, "\"http2 on\"");
    } else if (!wm_str_eq(v, "off")) {
        return wm_conf_errf(cf, "has invalid value \"%s\", it must be "
                                "\"on\" or \"off\"",
                            (const char *) v->data);
    }
    return NULL;
}

/* Directives kept for nginx compatibility; `internal` sets a flag. */
static const char *
wm_http_accepted(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    if (cmd->offset) {
        wm_int_t *flag = (wm_int_t *) ((u_char *) conf + cmd->offset);

        if (*flag != WM_CONF_UNSET) {
            return "is duplicate";
        }
        *flag = 1;
    }
    return NULL;
}

static const char *
wm_http_error_page(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_core_loc_conf_t *clcf = conf;
    const wm_conf_node_t *n = cf->node;
    const wm_str_t *uri = &n->args[n->nargs - 1];
    size_t i, ncodes = n->nargs - 1;
    int overwrite = 0;
    wm_cv_t cv;
    const char *rv;

    if (clcf->error_pages == NULL) {
        clcf->error_pages = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (clcf->error_pages == NULL
            || wm_array_init(clcf->error_pages, cf->pool, 4,
                             sizeof(wm_http_error_page_t))
                   != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    if (ncodes > 1 && n->args[ncodes - 1].data[0] == '=') {
        const wm_str_t *o = &n->args[ncodes - 1];

        if (o->len == 1) {
            overwrite = -1;
        } else {
            wm_str_t code = {o->len - 1, o->data + 1};
            int64_t v = wm_parse_num(&code);

            if (v < 100 || v > 599) {
                return wm_conf_errf(cf, "has invalid response code \"%s\"",
                                    (const char *) o->data);
            }
            overwrite = (int) v;
        }
        ncodes--;
    }
    rv = wm_cv_compile(cf->pool, uri, wm_http_var_tables, &cv);
    if (rv) {
        return rv;
    }
    for (i = 0; i < ncodes; i++) {
        int64_t v = wm_parse_num(&n->args[i]);
        wm_http_error_page_t *ep;

        if (v < 300 || v > 599) {
            return wm_conf_errf(cf, "has invalid code \"%s\", it must be "
                                    "between 300 and 599",
                                (const char *) n->args[i].data);
        }
        ep = wm_array_push(clcf->error_pages);
        if (ep == NULL) {
            return "failed: out of memory";
        }
        ep->status = (int) v;
        ep->overwrite = overwrite;
        ep->uri = cv;
    }
    return NULL;
}
