/*
 * `listen ... proxy_protocol` for HTTP: the PROXY protocol header (v1 or
 * v2) that a balancer puts in front of the connection is taken out of the
 * socket before the TLS handshake and the first request head, under
 * client_header_timeout; its addresses become $proxy_protocol_addr and
 * friends, and realip can make the client address of it.
 */
#include "wm_http.h"

#include "wm_cidr.h"
#include "wm_log.h"

wm_int_t
wm_http_proxy_protocol_read(wm_http_connection_t *c)
{
    const char *err = NULL;
    wm_int_t rc = wm_pp_recv(c->fd, &c->pp, &err);

    if (rc == WM_AGAIN) {
        c->read_ready = 0;
        return WM_AGAIN;
    }
    c->pp_reading = 0;
    if (rc == WM_DECLINED) {
        if (errno) {
            wm_log_error(WM_LOG_INFO, &c->log, errno,
                         "recv() failed while reading PROXY protocol");
        }
        return WM_ERROR;
    }
    if (rc == WM_ERROR) {
        wm_log_error(WM_LOG_ERR, &c->log, 0,
                     "broken header: %s while reading PROXY protocol", err);
        return WM_ERROR;
    }
    c->has_pp = 1;
    return WM_OK;
}

wm_int_t
wm_http_var_sockaddr(wm_pool_t *pool, const struct sockaddr *sa, bool port,
                     wm_str_t *v)
{
    char buf[64];

    if (!port) {
        wm_sockaddr_host_text(sa, buf, sizeof(buf));
    } else if (wm_sockaddr_port(sa) == 0) {
        return WM_OK;
    } else {
        snprintf(buf, sizeof(buf), "%d", wm_sockaddr_port(sa));
    }
    v->len = strlen(buf);
    v->data = (u_char *) wm_pstrndup(pool, buf, v->len);
    return v->data ? WM_OK : WM_ERROR;
}

/* $proxy_protocol_addr, _port, _server_addr, _server_port: empty when no
 * header came or it carried no addresses (UNKNOWN, LOCAL, unix). */
static wm_int_t
wm_http_pp_var(void *data, const wm_str_t *arg, uintptr_t which,
               wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;
    wm_http_connection_t *c = r->c;
    const struct sockaddr *sa =
        (const struct sockaddr *) (which >= 2 ? &c->pp.dst : &c->pp.src);

    if (!c->has_pp || c->pp.local
        || (c->pp.family != AF_INET && c->pp.family != AF_INET6))
    {
        return WM_DECLINED;
    }
    return wm_http_var_sockaddr(pool, sa, which == 1 || which == 3, v);
}

const wm_var_def_t wm_http_proxy_protocol_vars[] = {
    {"proxy_protocol_addr", wm_http_pp_var, 0, 0, NULL},
    {"proxy_protocol_port", wm_http_pp_var, 1, 0, NULL},
    {"proxy_protocol_server_addr", wm_http_pp_var, 2, 0, NULL},
    {"proxy_protocol_server_port", wm_http_pp_var, 3, 0, NULL},
    {NULL, NULL, 0, 0, NULL},
};
