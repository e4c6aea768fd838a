/*
 * Small switches of nginx's http core that configurations carry:
 * recursive_error_pages, chunked_transfer_encoding, sendfile_max_chunk and
 * reset_timedout_connection, which change what wmproxy does, and
 * open_file_cache*, output_buffers, client_body_buffer_size and
 * client_body_temp_path, which are checked and accepted because wmproxy
 * does the same work another way (see wmproxy.conf(5)).
 */
#include "wm_http.h"

#include "wm_log.h"

#include <sys/socket.h>

typedef struct {
    wm_int_t recursive_error_pages;
    wm_int_t chunked;
    size_t sendfile_max_chunk;
    wm_int_t reset_timedout;
    /* Accepted only: kept so that duplicates are found. */
    wm_int_t open_file_cache;
    wm_msec_t open_file_cache_valid;
    wm_int_t open_file_cache_min_uses;
    wm_int_t open_file_cache_errors;
    wm_int_t output_buffers;
    size_t client_body_buffer_size;
    wm_str_t client_body_temp_path;
} wm_http_compat_conf_t;

static void *wm_http_compat_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_compat_merge(wm_conf_t *cf, void *prev, void *conf,
                                        unsigned level);
static const char *wm_http_open_file_cache_set(wm_conf_t *cf,
                                               const wm_command_t *cmd,
                                               void *conf);
static const char *wm_http_output_buffers_set(wm_conf_t *cf,
                                              const wm_command_t *cmd,
                                              void *conf);
static const char *wm_http_body_temp_path_set(wm_conf_t *cf,
                                              const wm_command_t *cmd,
                                              void *conf);

#define WM_COMPAT_CTX WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC

static const wm_conf_bounds_t wm_http_min_uses_bounds = {1, 1 << 30};

static const wm_command_t wm_http_compat_commands[] = {
    {"recursive_error_pages", WM_COMPAT_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_flag,
     offsetof(wm_http_compat_conf_t, recursive_error_pages), NULL, "off",
     "on | off: an error while serving an error_page may use error_page"},
    {"chunked_transfer_encoding", WM_COMPAT_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_flag, offsetof(wm_http_compat_conf_t, chunked), NULL, "on",
     "on | off: off ends bodies of unknown length with the connection"},
    {"sendfile_max_chunk", WM_COMPAT_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_size, offsetof(wm_http_compat_conf_t, sendfile_max_chunk),
     NULL, "2m", "size: most bytes one write sends before others' turn"},
    {"reset_timedout_connection", WM_COMPAT_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_flag, offsetof(wm_http_compat_conf_t, reset_timedout), NULL,
     "off", "on | off: close timed out connections with a reset"},
    {"open_file_cache", WM_COMPAT_CTX, 1, 2, 0, WM_LVL_LOC,
     wm_http_open_file_cache_set, 0, NULL, "off",
     "max=N [inactive=time] | off: accepted; see static_cache"},
    {"open_file_cache_valid", WM_COMPAT_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_msec,
     offsetof(wm_http_compat_conf_t, open_file_cache_valid), NULL, "60s",
     "time: accepted; files are checked on every request"},
    {"open_file_cache_min_uses", WM_COMPAT_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_num,
     offsetof(wm_http_compat_conf_t, open_file_cache_min_uses),
     &wm_http_min_uses_bounds, "1", "number: accepted"},
    {"open_file_cache_errors", WM_COMPAT_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_flag,
     offsetof(wm_http_compat_conf_t, open_file_cache_errors), NULL, "off",
     "on | off: accepted; errors are never cached"},
    {"output_buffers", WM_COMPAT_CTX, 2, 2, 0, WM_LVL_LOC,
     wm_http_output_buffers_set, 0, NULL, "2 32k",
     "number size: accepted; files leave with sendfile or mmap"},
    {"client_body_buffer_size", WM_COMPAT_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_size,
     offsetof(wm_http_compat_conf_t, client_body_buffer_size), NULL, "16k",
     "size: accepted; request bodies stream to the upstream"},
    {"client_body_temp_path", WM_COMPAT_CTX, 1, 4, 0, WM_LVL_LOC,
     wm_http_body_temp_path_set, 0, NULL, "client_body_temp",
     "path [level1 [level2 [level3]]]: accepted; no temporary files"},
    wm_null_command,
};

wm_module_t wm_http_compat_module = {
    .name = "http_compat",
    .family = WM_MOD_HTTP,
    .commands = wm_http_compat_commands,
    .create_conf = wm_http_compat_create,
    .merge_conf = wm_http_compat_merge,
};

static wm_http_compat_conf_t *
wm_http_compat_conf(void **loc_confs)
{
    return loc_confs[wm_http_compat_module.index];
}

bool
wm_http_recursive_error_pages(wm_http_request_t *r)
{
    return wm_http_compat_conf(r->loc_confs)->recursive_error_pages;
}

bool
wm_http_chunked_allowed(wm_http_request_t *r)
{
    return wm_http_compat_conf(r->loc_confs)->chunked;
}

size_t
wm_http_send_chunk_max(wm_http_request_t *r)
{
    return r->loc->sendfile && r->c->ssl == NULL
               ? wm_http_compat_conf(r->loc_confs)->sendfile_max_chunk
               : 0;
}

void
wm_http_reset_timedout(wm_http_connection_t *c)
{
    void **confs = c->request ? c->request->loc_confs
                   : c->addr_conf
                       ? c->addr_conf->default_server->root->loc_confs
                       : NULL;
    struct linger l = {1, 0};

    if (confs == NULL || !wm_http_compat_conf(confs)->reset_timedout) {
        return;
    }
    /* close() then sends a RST and frees the socket's buffers at once;
     * no close_notify is tried either. */
    c->error = 1;
    if (setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) != 0) {
        wm_log_error(WM_LOG_INFO, &c->log, errno,
                     "setsockopt(SO_LINGER) failed");
    }
}

/* ---- configuration ------------------------------------------------------ */

static const char *
wm_http_open_file_cache_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_compat_conf_t *ccf = conf;
    const wm_conf_node_t *n = cf->node;
    bool max = false;
    size_t i;

    (void) cmd;
    if (ccf->open_file_cache != WM_CONF_UNSET) {
        return "is duplicate";
    }
    ccf->open_file_cache = 0;
    if (n->nargs == 1 && wm_str_eq(&n->args[0], "off")) {
        return NULL;
    }
    for (i = 0; i < n->nargs; i++) {
        const wm_str_t *a = &n->args[i];
        wm_str_t v;

        if (a->len > 4 && memcmp(a->data, "max=", 4) == 0) {
            v.data = a->data + 4;
            v.len = a->len - 4;
            if (wm_parse_num(&v) <= 0) {
                return wm_conf_errf(cf, "has invalid max value \"%s\"",
                                    (const char *) a->data);
            }
            max = true;
        } else if (a->len > 9 && memcmp(a->data, "inactive=", 9) == 0) {
            v.data = a->data + 9;
            v.len = a->len - 9;
            if (wm_parse_msec(&v) == WM_CONF_UNSET_MSEC) {
                return wm_conf_errf(cf, "has invalid inactive value \"%s\"",
                                    (const char *) a->data);
            }
        } else {
            return wm_conf_errf(cf, "has invalid parameter \"%s\"",
                                (const char *) a->data);
        }
    }
    if (!max) {
        return "must have the \"max\" parameter";
    }
    ccf->open_file_cache = 1;
    return NULL;
}

static const char *
wm_http_output_buffers_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_compat_conf_t *ccf = conf;
    const wm_conf_node_t *n = cf->node;

    (void) cmd;
    if (ccf->output_buffers != WM_CONF_UNSET) {
        return "is duplicate";
    }
    if (wm_parse_num(&n->args[0]) <= 0) {
        return wm_conf_errf(cf, "has invalid number \"%s\"",
                            (const char *) n->args[0].data);
    }
    if (wm_parse_size(&n->args[1]) <= 0) {
        return wm_conf_errf(cf, "has invalid size \"%s\"",
                            (const char *) n->args[1].data);
    }
    ccf->output_buffers = 1;
    return NULL;
}

static const char *
wm_http_body_temp_path_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_compat_conf_t *ccf = conf;
    const wm_conf_node_t *n = cf->node;
    size_t i;

    if (ccf->client_body_temp_path.data) {
        return "is duplicate";
    }
    /* nginx's hashed directory levels: 1 or 2 characters each. */
    for (i = 1; i < n->nargs; i++) {
        int64_t level = wm_parse_num(&n->args[i]);

        if (level < 1 || level > 2) {
            return wm_conf_errf(cf, "has invalid level \"%s\" (1 or 2)",
                                (const char *) n->args[i].data);
        }
    }
    return wm_conf_set_path(cf, cmd, &ccf->client_body_temp_path);
}

static void *
wm_http_compat_create(wm_conf_t *cf, unsigned level)
{
    wm_http_compat_conf_t *ccf = wm_pcalloc(cf->pool, sizeof(*ccf));

    (void) level;
    if (ccf == NULL) {
        return NULL;
    }
    ccf->recursive_error_pages = WM_CONF_UNSET;
    ccf->chunked = WM_CONF_UNSET;
    ccf->sendfile_max_chunk = WM_CONF_UNSET_SIZE;
    ccf->reset_timedout = WM_CONF_UNSET;
    ccf->open_file_cache = WM_CONF_UNSET;
    ccf->open_file_cache_valid = WM_CONF_UNSET_MSEC;
    ccf->open_file_cache_min_uses = WM_CONF_UNSET;
    ccf->open_file_cache_errors = WM_CONF_UNSET;
    ccf->output_buffers = WM_CONF_UNSET;
    ccf->client_body_buffer_size = WM_CONF_UNSET_SIZE;
    return ccf;
}

static const char *
wm_http_compat_merge(wm_conf_t *cf, void *prev, void *conf, unsigned level)
{
    wm_http_compat_conf_t *p = prev, *c = conf;

    (void) cf;
    (void) level;
    wm_conf_merge_value(c->recursive_error_pages, p->recursive_error_pages, 0);
    wm_conf_merge_value(c->chunked, p->chunked, 1);
    wm_conf_merge_size(c->sendfile_max_chunk, p->sendfile_max_chunk,
                       2 * 1024 * 1024);
    wm_conf_merge_value(c->reset_timedout, p->reset_timedout, 0);
    return NULL;
}
