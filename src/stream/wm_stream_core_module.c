/*
 * The stream core module: the `stream {}` and `server {}` blocks, `listen`,
 * the stream variables, and the session lifecycle from accept (or a UDP
 * datagram) to the deferred free after wm_stream_finalize().
 */
#include "wm_stream.h"
#include "wm_stream_ssl.h"

#include "wm_log.h"
#include "wm_process.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

static const char *wm_stream_block(wm_conf_t *cf, const wm_command_t *cmd,
                                   void *conf);
static const char *wm_stream_server(wm_conf_t *cf, const wm_command_t *cmd,
                                    void *conf);
static const char *wm_stream_listen(wm_conf_t *cf, const wm_command_t *cmd,
                                    void *conf);
static void wm_stream_accept(wm_listening_t *ls, int fd, struct sockaddr *sa,
                             socklen_t len);
static void wm_stream_udp_read(wm_listening_t *ls, int fd,
                               struct sockaddr *sa, socklen_t len);
static wm_int_t wm_stream_init_worker(wm_cycle_t *cycle);
static void wm_stream_exit_worker(wm_cycle_t *cycle);

static const wm_command_t wm_stream_core_commands[] = {
    {"stream", WM_CTX_MAIN, 0, 0, WM_CMD_BLOCK, WM_LVL_MAIN, wm_stream_block,
     0, NULL, "-", "TCP and UDP proxying and load balancing"},
    {"server", WM_CTX_STREAM, 0, 0, WM_CMD_BLOCK, WM_LVL_MAIN,
     wm_stream_server, 0, NULL, "-", "a stream virtual server"},
    {"listen", WM_CTX_STREAM_SRV, 1, 16, WM_CMD_MULTI, WM_LVL_SRV,
     wm_stream_listen, 0, NULL, "-",
     "address[:port] or unix:path, with udp, reuseport, backlog=, "
     "ipv6only=, rcvbuf=, sndbuf=, bind"},
    wm_null_command,
};

wm_module_t wm_stream_core_module = {
    .name = "stream_core",
    .family = WM_MOD_STREAM,
    .commands = wm_stream_core_commands,
    .init_worker = wm_stream_init_worker,
    .exit_worker = wm_stream_exit_worker,
};

/* ---- variables -------------------------------------------------------- */

static wm_int_t
wm_stream_var_addr(void *r, const wm_str_t *arg, uintptr_t data,
                   wm_pool_t *pool, wm_str_t *v)
{
    wm_stream_session_t *s = r;
    struct sockaddr_storage *sa = &s->peer;
    socklen_t len = s->peerlen;
    char buf[128];
    char *colon;

    if (data >= 2) { /* server side */
        if (s->locallen == 0) {
            s->locallen = sizeof(s->local);
            if (getsockname(s->udp ? s->listening->fd : s->fd,
                            (struct sockaddr *) &s->local, &s->locallen)
                != 0)
            {
                s->locallen = 0;
                return WM_DECLINED;
            }
        }
        sa = &s->local;
        len = s->locallen;
    }
    wm_sockaddr_text((struct sockaddr *) sa, len, buf, sizeof(buf));
    if (sa->ss_family == AF_UNIX) {
        colon = NULL;
        if (data == 1 || data == 3) {
            buf[0] = '\0';
        }
    } else {
        colon = strrchr(buf, ':');
    }
    if (colon && (data == 0 || data == 2)) {
        const char *start = buf;

        *colon = '\0';
        if (buf[0] == '[') { /* [v6] -> v6 */
            start = buf + 1;
            colon[-1] = '\0';
        }
        v->data = (u_char *) wm_pstrdup(pool, start);
    } else if (colon) {
        v->data = (u_char *) wm_pstrdup(pool, colon + 1);
    } else {
        v->data = (u_char *) wm_pstrdup(pool, buf);
    }
    if (v->data == NULL) {
        return WM_ERROR;
    }
    v->len = strlen((char *) v->data);
    return WM_OK;
}

static wm_int_t
wm_stream_var_num(void *r, const wm_str_t *arg, uintptr_t data,
                  wm_pool_t *pool, wm_str_t *v)
{
    wm_stream_session_t *s = r;
    char buf[64];
    int n;

    switch (data) {
    case 0:
        n = snprintf(buf, sizeof(buf), "%llu",
                     (unsigned long long) s->bytes_sent);
        break;
    case 1:
        n = snprintf(buf, sizeof(buf), "%llu",
                     (unsigned long long) s->bytes_received);
        break;
    case 2: {
        struct timeval now, d;

        gettimeofday(&now, NULL);
        timersub(&now, &s->start, &d);
        n = snprintf(buf, sizeof(buf), "%ld.%03ld", (long) d.tv_sec,
                     (long) d.tv_usec / 1000);
        break;
    }
    case 3:
        n = snprintf(buf, sizeof(buf), "%03d", s->status);
        break;
    case 4:
        n = snprintf(buf, sizeof(buf), "%s", s->udp ? "UDP" : "TCP");
        break;
    default:
        n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long) s->number);
        break;
    }
    v->data = (u_char *) wm_pstrndup(pool, buf, (size_t) n);
    v->len = (size_t) n;
    return v->data ? WM_OK : WM_ERROR;
}

/* $proxy_protocol_addr/_port/_server_addr/_server_port. */
static wm_int_t
wm_stream_var_pp(void *r, const wm_str_t *arg, uintptr_t data,
                 wm_pool_t *pool, wm_str_t *v)
{
    wm_stream_session_t *s = r;
    const struct sockaddr_storage *sa = data >= 2 ? &s->pp.dst : &s->pp.src;
    char buf[128], *colon, *start = buf;

    if (!s->has_pp || s->pp.local || s->pp.family == AF_UNIX) {
        return WM_DECLINED;
    }
    wm_sockaddr_text((const struct sockaddr *) sa, s->pp.addrlen, buf,
                     sizeof(buf));
    colon = strrchr(buf, ':');
    if (colon == NULL) {
        return WM_DECLINED;
    }
    *colon = '\0';
    if (data == 1 || data == 3) {
        start = colon + 1;
    } else if (buf[0] == '[') {
        start = buf + 1;
        colon[-1] = '\0';
    }
    v->data = (u_char *) wm_pstrdup(pool, start);
    v->len = strlen(start);
    return v->data ? WM_OK : WM_ERROR;
}

static const wm_var_def_t wm_stream_vars[] = {
    {"proxy_protocol_addr", wm_stream_var_pp, 0, 0, NULL},
    {"proxy_protocol_port", wm_stream_var_pp, 1, 0, NULL},
    {"proxy_protocol_server_addr", wm_stream_var_pp, 2, 0, NULL},
    {"proxy_protocol_server_port", wm_stream_var_pp, 3, 0, NULL},
    {"remote_addr", wm_stream_var_addr, 0, 0, NULL},
    {"remote_port", wm_stream_var_addr, 1, 0, NULL},
    {"server_addr", wm_stream_var_addr, 2, 0, NULL},
    {"server_port", wm_stream_var_addr, 3, 0, NULL},
    {"bytes_sent", wm_stream_var_num, 0, 0, NULL},
    {"bytes_received", wm_stream_var_num, 1, 0, NULL},
    {"session_time", wm_stream_var_num, 2, 0, NULL},
    {"status", wm_stream_var_num, 3, 0, NULL},
    {"protocol", wm_stream_var_num, 4, 0, NULL},
    {"connection", wm_stream_var_num, 5, 0, NULL},
    {NULL, NULL, 0, 0, NULL},
};

const wm_var_def_t *const wm_stream_var_tables[] = {
    wm_stream_vars,
    wm_stream_ssl_preread_vars,
    wm_stream_ssl_vars,
    wm_stream_limit_conn_vars,
    wm_stream_log_vars,
    wm_stream_map_vars,
    wm_var_common,
    NULL,
};

/* ---- sessions --------------------------------------------------------- */

static uint64_t wm_stream_sessions;
static wm_link_t wm_stream_live;   /* sessions not yet freed */

static wm_int_t
wm_stream_init_worker(wm_cycle_t *cycle)
{
    wm_list_init(&wm_stream_live);
    return WM_OK;
}

static size_t
wm_stream_log_context(wm_log_t *log, char *buf, size_t len)
{
    wm_stream_session_t *s = log->data;
    int n;

    n = snprintf(buf, len, ", client: %s, server: %s%s%s%s", s->peer_text,
                 s->listening->addr_text,
                 s->upstream_text ? ", upstream: \"" : "",
                 s->upstream_text ? s->upstream_text : "",
                 s->upstream_text ? "\"" : "");
    return n > 0 ? wm_min((size_t) n, len) : 0;
}

static wm_stream_session_t *
wm_stream_session_new(wm_listening_t *ls, struct sockaddr *sa, socklen_t len)
{
    wm_pool_t *pool = wm_pool_new(2048);
    wm_stream_session_t *s;
    char *colon;

    if (pool == NULL) {
        return NULL;
    }
    s = wm_pcalloc(pool, sizeof(*s));
    if (s == NULL) {
        wm_pool_free(pool);
        return NULL;
    }
    s->pool = pool;
    wm_list_add(&wm_stream_live, &s->link);
    s->srv = ls->servers;
    s->listening = ls;
    s->base = wm_cycle->base;
    s->fd = -1;
    memcpy(&s->peer, sa, wm_min(len, sizeof(s->peer)));
    s->peerlen = len;
    gettimeofday(&s->start, NULL);
    s->number = ++wm_stream_sessions;
    s->log = wm_cycle->log;
    s->log.handler = wm_stream_log_context;
    s->log.data = s;
    wm_stream_log_init(s);
    wm_sockaddr_text(sa, len, s->peer_text, sizeof(s->peer_text));
    colon = sa->sa_family == AF_UNIX ? NULL : strrchr(s->peer_text, ':');
    if (colon) {
        *colon = '\0';
    }
    return s;
}

static void
wm_stream_free(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_session_t *s = arg;

    wm_stream_log_session(s);
    wm_stream_proxy_protocol_cleanup(s);
    wm_stream_ssl_preread_cleanup(s);
    if (s->cleanup) {
        s->cleanup(s);
    }
    wm_stream_ssl_cleanup(s);
    if (s->client) {
        bufferevent_free(s->client);
    } else if (s->fd >= 0) {
        close(s->fd);
    }
    if (s->udp) {
        wm_stream_udp_forget(s);
    }
    wm_list_remove(&s->link);
    wm_worker_conn_close();
    wm_pool_free(s->pool);
}

/* A worker that exits with sessions still open (fast stop, or the
 * shutdown timeout) frees them first. */
static void
wm_stream_exit_worker(wm_cycle_t *cycle)
{
    while (!wm_list_empty(&wm_stream_live)) {
        wm_stream_free(-1, 0, wm_link_data(wm_stream_live.next,
                                           wm_stream_session_t, link));
    }
}

void
wm_stream_finalize(wm_stream_session_t *s, int status)
{
    if (s->closing) {
        return;
    }
    s->closing = 1;
    s->status = status;
    wm_log_debug(&s->log, "stream session finished with status %d", status);
    if (s->client) {
        bufferevent_disable(s->client, EV_READ | EV_WRITE);
    }
    if (s->udp) {
        /* The client's next datagram starts a new session. */
        wm_stream_udp_unbind(s);
    }
    if (event_base_once(s->base, -1, EV_TIMEOUT, wm_stream_free, s, NULL)
        != 0)
    {
        /* No way to defer: free now; callers never touch s afterwards. */
        wm_stream_free(-1, 0, s);
    }
}

static void
wm_stream_accept(wm_listening_t *ls, int fd, struct sockaddr *sa,
                 socklen_t len)
{
    wm_stream_session_t *s;
    int on = 1;

    if (wm_worker_conn_full()) {
        wm_log_error(WM_LOG_ALERT, wm_errlog, 0,
                     "%ld worker_connections are not enough, closing a "
                     "connection on %s",
                     (long) wm_core_conf(wm_cycle)->worker_connections,
                     ls->addr_text);
        close(fd);
        return;
    }
    s = wm_stream_session_new(ls, sa, len);
    if (s == NULL) {
        wm_log_error(WM_LOG_ALERT, wm_errlog, ENOMEM,
                     "cannot start a session on %s", ls->addr_text);
        close(fd);
        return;
    }
    wm_worker_conn_open();
    s->fd = fd;
    if (sa->sa_family != AF_UNIX) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
    wm_log_debug(&s->log, "stream session %llu accepted",
                 (unsigned long long) s->number);
    if (ls->proxy_protocol) {
        wm_stream_proxy_protocol_start(s, wm_stream_limit_conn_handler);
        return;
    }
    wm_stream_limit_conn_handler(s);
}

/* Datagrams b[i..n) from clients, the first from sa: to the first's bound
 * session with those of the same client that follow it, or the start of
 * a new session that runs the same steps as an accepted connection
 * (limit_conn, allow/deny, then the handler, which reads s->dgram). How
 * many were taken. */
static unsigned
wm_stream_udp_datagrams(wm_listening_t *ls, wm_stream_udp_batch_t *b,
                        unsigned i, unsigned n)
{
    struct sockaddr *sa = (struct sockaddr *) &b->addr[i];
    socklen_t salen = b->msg[i].msg_hdr.msg_namelen;
    wm_stream_session_t *s = wm_stream_udp_find(ls, sa, salen);
    unsigned run;

    if (s) {
        if (s->closing || s->udp_recv == NULL) {
            wm_log_debug(&s->log, "udp datagram of %zu bytes dropped: the "
                                  "session is ending", b->iov[i].iov_len);
            return 1;
        }
        for (run = 1; i + run < n; run++) {
            if (b->msg[i + run].msg_hdr.msg_namelen != salen
                || memcmp(&b->addr[i + run], sa, salen) != 0)
            {
                break;
            }
        }
        return s->udp_recv(s, &b->iov[i], run);
    }
    if (wm_worker_conn_full()) {
        wm_log_error(WM_LOG_ALERT, wm_errlog, 0,
                     "%ld worker_connections are not enough, dropping a "
                     "datagram on %s",
                     (long) wm_core_conf(wm_cycle)->worker_connections,
                     ls->addr_text);
        return 1;
    }
    if (wm_stream_udp_full(ls, sa, salen)) {
        return 1;
    }
    s = wm_stream_session_new(ls, sa, salen);
    if (s == NULL) {
        wm_log_error(WM_LOG_ALERT, wm_errlog, ENOMEM,
                     "cannot start a session on %s", ls->addr_text);
        return 1;
    }
    wm_worker_conn_open();
    s->udp = 1;
    s->bytes_received = b->iov[i].iov_len;
    s->dgram = b->iov[i].iov_base;
    s->dgram_len = b->iov[i].iov_len;
    wm_log_debug(&s->log, "stream session %llu accepted",
                 (unsigned long long) s->number);
    if (wm_stream_udp_bind(s) != WM_OK) {
        wm_log_error(WM_LOG_ALERT, &s->log, ENOMEM, "cannot start a session");
        wm_stream_finalize(s, 500);
        return 1;
    }
    wm_stream_limit_conn_handler(s);
    return 1;
}

static void
wm_stream_udp_read(wm_listening_t *ls, int fd, struct sockaddr *unused,
                   socklen_t unused_len)
{
    /* One worker, one loop: a single batch serves every UDP socket. */
    static wm_stream_udp_batch_t b;
    unsigned i;
    int n;

    n = wm_stream_udp_recv(fd, &b, 0, WM_STREAM_UDP_BATCH);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            wm_log_error(WM_LOG_ERR, wm_errlog, errno,
                         "recvmmsg() on %s failed", ls->addr_text);
        }
        return;
    }
    for (i = 0; i < (unsigned) n; i++) {
        b.iov[i].iov_len = b.msg[i].msg_len;
    }
    for (i = 0; i < (unsigned) n;) {
        i += wm_stream_udp_datagrams(ls, &b, i, (unsigned) n);
    }
}

/* ---- configuration ---------------------------------------------------- */

static void **
wm_stream_create_confs(wm_conf_t *cf, unsigned level)
{
    void **confs = wm_pcalloc(cf->pool, wm_modules_n * sizeof(void *));
    wm_uint_t i;

    if (confs == NULL) {
        return NULL;
    }
    for (i = 0; wm_modules[i]; i++) {
        wm_module_t *m = wm_modules[i];

        if (m->family != WM_MOD_STREAM) {
            continue;
        }
        if (m == &wm_stream_core_module) {
            size_t size = level == WM_LVL_MAIN
                              ? sizeof(wm_stream_main_conf_t)
                              : sizeof(wm_stream_core_srv_conf_t);

            confs[i] = wm_pcalloc(cf->pool, size);
        } else if (m->create_conf) {
            confs[i] = m->create_conf(cf, level);
        } else {
            continue;
        }
        if (confs[i] == NULL) {
            return NULL;
        }
    }
    return confs;
}

static const char *
wm_stream_block(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_conf_t saved = *cf;
    wm_stream_main_conf_t *smcf;
    void **main_confs;
    wm_uint_t i;

    if (cf->cycle->conf[wm_stream_core_module.index]) {
        return "is duplicate";
    }
    if (wm_stream_map_vars_init(cf->node) != NULL) {
        return "failed: out of memory";
    }
    main_confs = wm_stream_create_confs(cf, WM_LVL_MAIN);
    if (main_confs == NULL) {
        return "failed: out of memory";
    }
    smcf = main_confs[wm_stream_core_module.index];
    smcf->main_confs = main_confs;
    if (wm_array_init(&smcf->servers, cf->pool, 4, sizeof(void *)) != WM_OK) {
        return "failed: out of memory";
    }
    cf->cycle->conf[wm_stream_core_module.index] = smcf;

    cf->ctx = WM_CTX_STREAM;
    cf->family = WM_MOD_STREAM;
    cf->confs[WM_LVL_MAIN] = main_confs;
    /* Server directives given in the stream block (proxy_timeout, ...)
     * set the main confs, which the servers then inherit from. */
    cf->confs[WM_LVL_SRV] = main_confs;
    cf->confs[WM_LVL_LOC] = NULL;
    wm_conf_walk(cf, cf->node);

    /* Servers inherit what the stream block set. */
    for (i = 0; cf->nerrors == saved.nerrors && i < smcf->servers.nelts; i++) {
        wm_stream_core_srv_conf_t *cscf =
            ((wm_stream_core_srv_conf_t **) smcf->servers.elts)[i];
        wm_uint_t m;

        for (m = 0; wm_modules[m]; m++) {
            const char *rv;

            if (wm_modules[m]->family != WM_MOD_STREAM
                || wm_modules[m]->merge_conf == NULL)
            {
                continue;
            }
            rv = wm_modules[m]->merge_conf(cf, main_confs[m],
                                           cscf->srv_confs[m], WM_LVL_SRV);
            if (rv) {
                wm_conf_node_t at = {.file = cscf->file, .line = cscf->line};

                wm_conf_error(cf, &at, "\"server\" directive %s", rv);
            }
        }
    }

    saved.nerrors = cf->nerrors;
    *cf = saved;
    return NULL;
}

static const char *
wm_stream_server(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_stream_main_conf_t *smcf =
        cf->cycle->conf[wm_stream_core_module.index];
    wm_stream_core_srv_conf_t *cscf, **slot;
    const wm_conf_node_t *node = cf->node;
    uint32_t ctx = cf->ctx;
    void **srv_confs, **outer = cf->confs[WM_LVL_SRV];
    unsigned before = cf->nerrors;

    srv_confs = wm_stream_create_confs(cf, WM_LVL_SRV);
    slot = wm_array_push(&smcf->servers);
    if (srv_confs == NULL || slot == NULL) {
        return "failed: out of memory";
    }
    cscf = srv_confs[wm_stream_core_module.index];
    cscf->srv_confs = srv_confs;
    cscf->file = node->file;
    cscf->line = node->line;
    *slot = cscf;

    cf->ctx = WM_CTX_STREAM_SRV;
    cf->confs[WM_LVL_SRV] = srv_confs;
    wm_conf_walk(cf, node);
    cf->ctx = ctx;
    cf->confs[WM_LVL_SRV] = outer;
    cf->node = node;

    if (cf->nerrors != before) {
        return NULL;
    }
    if (cscf->nlisten == 0) {
        return "has no \"listen\" directive";
    }
    if (cscf->handler == NULL) {
        return "has no handler (\"proxy_pass\" or \"return\")";
    }
    if (cscf->udp && !cscf->udp_capable) {
        return "listens on UDP, which its handler does not serve";
    }
    return NULL;
}

static const char *
wm_stream_listen(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_stream_core_srv_conf_t *cscf = conf;
    const wm_conf_node_t *n = cf->node;
    struct sockaddr_storage sa;
    socklen_t len;
    wm_listening_t *ls;
    wm_listen_opts_t opts = wm_listen_opts_init;
    const char *rv;
    char err[256];
    int type = SOCK_STREAM;
    unsigned pp = 0, ssl = 0;
    size_t i;

    if (wm_listen_parse_addr(&n->args[0], 0, &sa, &len, err, sizeof(err))
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
            if (strcmp(a, "proxy_protocol") == 0) {
                pp = 1;
            } else if (strcmp(a, "ssl") == 0) {
                ssl = 1;
            } else if (strcmp(a, "udp") == 0) {
                type = SOCK_DGRAM;
            } else {
                return wm_conf_errf(cf, "has invalid parameter \"%s\"", a);
            }
        }
    }
    if (ssl && type == SOCK_DGRAM) {
        return "has \"ssl\" with \"udp\", which wmproxy does not support";
    }
    if (pp && type == SOCK_DGRAM) {
        return "has \"proxy_protocol\" with \"udp\", which wmproxy does "
               "not support";
    }

    ls = wm_listen_add(cf->cycle, (struct sockaddr *) &sa, len, type);
    if (ls == NULL) {
        return "failed: out of memory";
    }
    if (ls->handler) {
        return wm_conf_errf(cf, "has a duplicate \"%s\" address and port "
                                "pair",
                            ls->addr_text);
    }
    rv = wm_listen_apply(ls, &opts);
    if (rv) {
        return rv;
    }
    ls->handler = type == SOCK_DGRAM ? wm_stream_udp_read : wm_stream_accept;
    ls->proxy_protocol = pp;
    ls->ssl = ssl;
    if (ssl) {
        wm_stream_ssl_listen(cscf, n);
    }
    ls->servers = cscf;
    cscf->nlisten++;
    if (type == SOCK_DGRAM) {
        cscf->udp = 1;
    }
    return NULL;
}
