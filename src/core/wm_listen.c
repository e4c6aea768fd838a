/*
 * Listening sockets: address parsing, opening in the master with the
 * options of `listen`, the hand-over of unchanged sockets on reload, and
 * the accept loop in the workers.
 */
#include "wm_listen.h"

#include "wm_conf.h"
#include "wm_cycle.h"
#include "wm_listen_udp.h"
#include "wm_log.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define WM_ACCEPT_BATCH 64
#define WM_ACCEPT_PAUSE_MS 500

static wm_int_t
wm_listen_port(const char *s, int *port)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9') {
        return WM_ERROR;
    }
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < 1 || v > 65535) {
        return WM_ERROR;
    }
    *port = (int) v;
    return WM_OK;
}

wm_int_t
wm_listen_parse_addr(const wm_str_t *text, int default_port,
                     struct sockaddr_storage *sa, socklen_t *len, char *err,
                     size_t errlen)
{
    char buf[512], *host, *port_s = NULL;
    int port = default_port;
    struct addrinfo hints, *res;
    int rc;

    memset(sa, 0, sizeof(*sa));
    if (text->len == 0 || text->len >= sizeof(buf)) {
        snprintf(err, errlen, "invalid address");
        return WM_ERROR;
    }
    memcpy(buf, text->data, text->len);
    buf[text->len] = '\0';

    if (strncmp(buf, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *) sa;
        size_t n = strlen(buf + 5);

        if (n == 0 || n >= sizeof(un->sun_path)) {
            snprintf(err, errlen, "invalid unix socket path \"%s\"", buf + 5);
            return WM_ERROR;
        }
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, buf + 5, n + 1);
        *len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1);
        return WM_OK;
    }

    host = buf;
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');

        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            snprintf(err, errlen, "invalid IPv6 address \"%s\"", buf);
            return WM_ERROR;
        }
        *close = '\0';
        host = buf + 1;
        if (close[1] == ':') {
            port_s = close + 2;
        }
    } else {
        char *colon = strrchr(buf, ':');

        if (colon) {
            *colon = '\0';
            port_s = colon + 1;
        } else if (wm_listen_port(buf, &port) == WM_OK) {
            host = NULL; /* a bare port */
        }
    }
    if (port_s && wm_listen_port(port_s, &port) != WM_OK) {
        snprintf(err, errlen, "invalid port in \"%.*s\"", (int) text->len,
                 (const char *) text->data);
        return WM_ERROR;
    }
    if (port <= 0) {
        snprintf(err, errlen, "no port in \"%.*s\"", (int) text->len,
                 (const char *) text->data);
        return WM_ERROR;
    }
    if (host == NULL || strcmp(host, "*") == 0) {
        struct sockaddr_in *in = (struct sockaddr_in *) sa;

        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_ANY);
        in->sin_port = htons((uint16_t) port);
        *len = sizeof(*in);
        return WM_OK;
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    /* Blocking resolution is fine here: this runs while the config is
     * loaded, never in a worker's event loop. */
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "host not found in \"%.*s\" (%s)",
                 (int) text->len, (const char *) text->data, gai_strerror(rc));
        return WM_ERROR;
    }
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    if (sa->ss_family == AF_INET6) {
        ((struct sockaddr_in6 *) sa)->sin6_port = htons((uint16_t) port);
    } else {
        ((struct sockaddr_in *) sa)->sin_port = htons((uint16_t) port);
    }
    return WM_OK;
}

void
wm_sockaddr_text(const struct sockaddr *sa, socklen_t len, char *buf,
                 size_t size)
{
    char ip[INET6_ADDRSTRLEN];

    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(buf, size, "%s:%u", ip, ntohs(in->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *) sa;

        if (len > offsetof(struct sockaddr_un, sun_path)) {
            snprintf(buf, size, "unix:%s", un->sun_path);
        } else {
            snprintf(buf, size, "unix:");
        }
        break;
    }
    default:
        snprintf(buf, size, "(unknown family %d)", sa->sa_family);
    }
}

wm_int_t
wm_listen_parse_param(const char *a, wm_listen_opts_t *o)
{
    wm_str_t v;
    int64_t num;

    if (strcmp(a, "reuseport") == 0) {
        o->reuseport = 1;
    } else if (strcmp(a, "bind") == 0) {
        /* every address is bound on its own already */
        return WM_OK;
    } else if (strncmp(a, "backlog=", 8) == 0) {
        v.data = (u_char *) a + 8;
        v.len = strlen(a + 8);
        num = wm_parse_num(&v);
        if (num < 1 || num > 65535) {
            return WM_ERROR;
        }
        o->backlog = (int) num;
    } else if (strncmp(a, "rcvbuf=", 7) == 0 || strncmp(a, "sndbuf=", 7) == 0) {
        v.data = (u_char *) a + 7;
        v.len = strlen(a + 7);
        num = wm_parse_size(&v);
        if (num < 1 || num > INT32_MAX) {
            return WM_ERROR;
        }
        *(a[0] == 'r' ? &o->rcvbuf : &o->sndbuf) = (int) num;
    } else if (strcmp(a, "ipv6only=on") == 0) {
        o->ipv6only = 1;
    } else if (strcmp(a, "ipv6only=off") == 0) {
        o->ipv6only = 0;
    } else {
        return WM_DECLINED;
    }
    o->set = 1;
    return WM_OK;
}

const char *
wm_listen_apply(wm_listening_t *ls, const wm_listen_opts_t *o)
{
    if (o->ipv6only != -1 && ls->sa.ss_family != AF_INET6) {
        return "has \"ipv6only\" for a non-IPv6 address";
    }
    ls->backlog = o->backlog;
    ls->reuseport = o->reuseport;
    ls->ipv6only = o->ipv6only;
    ls->rcvbuf = o->rcvbuf;
    ls->sndbuf = o->sndbuf;
    return NULL;
}

bool
wm_sockaddr_is_wildcard(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        return ((const struct sockaddr_in *) sa)->sin_addr.s_addr
               == htonl(INADDR_ANY);
    }
    if (sa->sa_family == AF_INET6) {
        return IN6_IS_ADDR_UNSPECIFIED(
            &((const struct sockaddr_in6 *) sa)->sin6_addr);
    }
    return false;
}

bool
wm_sockaddr_same_host(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family) {
        return false;
    }
    if (a->sa_family == AF_INET) {
        return ((const struct sockaddr_in *) a)->sin_addr.s_addr
               == ((const struct sockaddr_in *) b)->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        return memcmp(&((const struct sockaddr_in6 *) a)->sin6_addr,
                      &((const struct sockaddr_in6 *) b)->sin6_addr, 16)
               == 0;
    }
    return false;
}

int
wm_sockaddr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        return ntohs(((const struct sockaddr_in *) sa)->sin_port);
    }
    if (sa->sa_family == AF_INET6) {
        return ntohs(((const struct sockaddr_in6 *) sa)->sin6_port);
    }
    return 0;
}

static bool
wm_listen_same(const wm_listening_t *a, const struct sockaddr *sa,
               socklen_t len, int type)
{
    return a->type == type && a->socklen == len && memcmp(&a->sa, sa, len) == 0;
}

wm_listening_t *
wm_listen_add(wm_cycle_t *cycle, const struct sockaddr *sa, socklen_t len,
              int type)
{
    wm_listening_t **lp, *ls;
    char text[256];
    size_t i;

    for (i = 0; i < cycle->listening.nelts; i++) {
        ls = ((wm_listening_t **) cycle->listening.elts)[i];
        if (wm_listen_same(ls, sa, len, type)) {
            return ls;
        }
    }
    ls = wm_pcalloc(cycle->pool, sizeof(*ls));
    lp = wm_array_push(&cycle->listening);
    if (ls == NULL || lp == NULL) {
        return NULL;
    }
    memcpy(&ls->sa, sa, len);
    ls->socklen = len;
    ls->type = type;
    ls->fd = -1;
    ls->backlog = 511;
    ls->ipv6only = -1;
    wm_sockaddr_text(sa, len, text, sizeof(text));
    ls->addr_text = wm_pstrdup(cycle->pool, text);
    if (ls->addr_text == NULL) {
        return NULL;
    }
    *lp = ls;
    return ls;
}

static int
wm_listen_socket(wm_listening_t *ls)
{
    int fd, on = 1;
    int family = ls->sa.ss_family;

    fd = socket(family, ls->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, errno, "socket() for %s failed",
                     ls->addr_text);
        return -1;
    }
    if (family != AF_UNIX
        && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
    {
        wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                     "setsockopt(SO_REUSEADDR) for %s failed", ls->addr_text);
    }
    if (ls->reuseport
        && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
    {
        wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                     "setsockopt(SO_REUSEPORT) for %s failed", ls->addr_text);
    }
    /* As nginx: [::] takes IPv6 only unless ipv6only=off, so that
     * 0.0.0.0 can listen on the same port. */
    if (family == AF_INET6
        && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
                      ls->ipv6only == 0 ? &(int){0} : &(int){1}, sizeof(int))
               != 0)
    {
        wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                     "setsockopt(IPV6_V6ONLY) for %s failed", ls->addr_text);
    }
    if (ls->rcvbuf
        && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &ls->rcvbuf, sizeof(int))
               != 0)
    {
        wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                     "setsockopt(SO_RCVBUF) for %s failed", ls->addr_text);
    }
    if (ls->sndbuf
        && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &ls->sndbuf, sizeof(int))
               != 0)
    {
        wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                     "setsockopt(SO_SNDBUF) for %s failed", ls->addr_text);
    }
    if (ls->freebind && family != AF_UNIX
        && setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &on, sizeof(on)) != 0)
    {
        wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                     "setsockopt(IP_FREEBIND) for %s failed", ls->addr_text);
    }
    if (family == AF_UNIX) {
        /* A socket file left by a previous run would make bind() fail. */
        unlink(((struct sockaddr_un *) &ls->sa)->sun_path);
    }
    if (bind(fd, (struct sockaddr *) &ls->sa, ls->socklen) != 0) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, errno, "bind() to %s failed",
                     ls->addr_text);
        close(fd);
        return -1;
    }
    if (family == AF_UNIX) {
        chmod(((struct sockaddr_un *) &ls->sa)->sun_path, 0666);
    }
    if (ls->type == SOCK_STREAM && listen(fd, ls->backlog) != 0) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, errno, "listen() to %s failed",
                     ls->addr_text);
        close(fd);
        return -1;
    }
    return fd;
}

/* The sockets of a reuseport address beyond its first, one per worker:
 * those of the same address in old (o) are taken over, the others are
 * opened. WM_OK or WM_ERROR (logged). */
static wm_int_t
wm_listen_open_group(wm_cycle_t *cycle, wm_listening_t *ls,
                     wm_listening_t *o, unsigned n)
{
    unsigned k;

    ls->fds = wm_palloc(cycle->pool, n * sizeof(int));
    if (ls->fds == NULL) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, ENOMEM, "listening on %s",
                     ls->addr_text);
        return WM_ERROR;
    }
    ls->nfds = n;
    ls->fds[0] = ls->fd;
    for (k = 1; k < n; k++) {
        ls->fds[k] = -1;
    }
    for (k = 1; k < n; k++) {
        if (o && o->fds && k < o->nfds && o->fds[k] >= 0) {
            ls->fds[k] = o->fds[k];
            o->nfds_kept = k + 1;
            continue;
        }
        ls->fds[k] = wm_listen_socket(ls);
        if (ls->fds[k] < 0) {
            return WM_ERROR;
        }
    }
    return WM_OK;
}

/* A UDP address of several workers: one socket per worker, each client
 * steered to one of them. Unix datagram sockets have no such groups. */
static bool
wm_listen_udp_group(const wm_listening_t *ls, const wm_core_conf_t *cc)
{
    return ls->type == SOCK_DGRAM && ls->sa.ss_family != AF_UNIX
           && cc->master;
}

wm_int_t
wm_listen_open(wm_cycle_t *cycle, wm_cycle_t *old)
{
    wm_core_conf_t *cc = wm_core_conf(cycle);
    /* Without a master, the one process must poll every socket. */
    unsigned nworkers = cc->master ? (unsigned) cc->worker_processes : 1;
    size_t i, j;

    for (i = 0; i < cycle->listening.nelts; i++) {
        wm_listening_t *ls = ((wm_listening_t **) cycle->listening.elts)[i];
        wm_listening_t *taken = NULL;

        if (ls->merged) {
            continue;
        }
        if (wm_listen_udp_group(ls, cc)) {
            /* Always a group for UDP, so that worker_processes may grow
             * on reload: see wm_listen_udp_steer(). */
            ls->reuseport = 1;
        }
        for (j = 0; old && j < old->listening.nelts; j++) {
            wm_listening_t *o = ((wm_listening_t **) old->listening.elts)[j];

            if (o->fd >= 0 && !o->kept
                && wm_listen_same(o, (struct sockaddr *) &ls->sa, ls->socklen,
                                  ls->type))
            {
                ls->fd = o->fd;
                o->kept = 1;
                taken = o;
                if (ls->type == SOCK_STREAM && ls->backlog != o->backlog
                    && listen(ls->fd, ls->backlog) != 0)
                {
                    wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                                 "listen() to %s failed", ls->addr_text);
                }
                break;
            }
        }
        if (ls->fd < 0) {
            ls->fd = wm_listen_socket(ls);
            if (ls->fd < 0) {
                return WM_ERROR;
            }
            wm_log_error(WM_LOG_NOTICE, wm_errlog, 0, "listening on %s (%s)",
                         ls->addr_text,
                         ls->type == SOCK_STREAM ? "tcp" : "udp");
        }
        if (ls->reuseport && nworkers > 1
            && (ls->type == SOCK_STREAM || wm_listen_udp_group(ls, cc))
            && wm_listen_open_group(cycle, ls, taken, nworkers) != WM_OK)
        {
            return WM_ERROR;
        }
        if (wm_listen_udp_group(ls, cc)
            && wm_listen_udp_steer(ls->fd, nworkers) != WM_OK)
        {
            wm_log_error(WM_LOG_WARN, wm_errlog, errno,
                         "setsockopt(SO_ATTACH_REUSEPORT_CBPF) for %s "
                         "failed, a UDP client may reach several workers",
                         ls->addr_text);
        }
    }
    return WM_OK;
}

void
wm_listen_give_back(wm_cycle_t *cycle, wm_cycle_t *old)
{
    size_t i, j;
    unsigned k, m;

    for (i = 0; old && i < old->listening.nelts; i++) {
        wm_listening_t *o = ((wm_listening_t **) old->listening.elts)[i];

        for (j = 0; o->nfds_kept && j < cycle->listening.nelts; j++) {
            wm_listening_t *ls = ((wm_listening_t **) cycle->listening.elts)[j];

            for (k = 1; k < ls->nfds; k++) {
                for (m = 1; m < o->nfds_kept; m++) {
                    if (ls->fds[k] == o->fds[m]) {
                        ls->fds[k] = -1;
                    }
                }
            }
        }
        o->nfds_kept = 0;
        /* The groups old keeps steer for its workers again. */
        if (o->fd >= 0 && wm_listen_udp_group(o, wm_core_conf(old))) {
            (void) wm_listen_udp_steer(
                o->fd, (unsigned) wm_core_conf(old)->worker_processes);
        }
    }
}

void
wm_listen_close(wm_cycle_t *cycle)
{
    size_t i;

    for (i = 0; i < cycle->listening.nelts; i++) {
        wm_listening_t *ls = ((wm_listening_t **) cycle->listening.elts)[i];

        unsigned k;

        for (k = wm_max(ls->nfds_kept, 1); k < ls->nfds; k++) {
            if (ls->fds[k] >= 0) {
                close(ls->fds[k]);
                ls->fds[k] = -1;
            }
        }
        if (ls->fd >= 0 && !ls->kept) {
            close(ls->fd);
            ls->fd = -1;
        }
    }
}

unsigned wm_listen_worker;

static void wm_listen_accept(evutil_socket_t fd, short what, void *arg);

static void
wm_listen_resume(evutil_socket_t fd, short what, void *arg)
{
    wm_listening_t *ls = arg;

    event_assign(ls->ev, event_get_base(ls->ev), ls->fd, EV_READ | EV_PERSIST,
                 wm_listen_accept, ls);
    event_add(ls->ev, NULL);
}

static void
wm_listen_accept(evutil_socket_t fd, short what, void *arg)
{
    wm_listening_t *ls = arg;
    struct sockaddr_storage sa;
    socklen_t len;
    int i, c;

    if (ls->type == SOCK_DGRAM) {
        ls->handler(ls, ls->fd, NULL, 0);
        return;
    }
    for (i = 0; i < WM_ACCEPT_BATCH; i++) {
        len = sizeof(sa);
        c = accept4(ls->fd, (struct sockaddr *) &sa, &len,
                    SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) {
            ls->handler(ls, c, (struct sockaddr *) &sa, len);
            continue;
        }
        switch (errno) {
        case EAGAIN:
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
            if (errno == EAGAIN) {
                return;
            }
            continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM: {
            /* Out of descriptors: stop accepting for a moment instead of
             * spinning on a socket that stays readable. */
            struct timeval tv = {0, WM_ACCEPT_PAUSE_MS * 1000};

            wm_log_error(WM_LOG_CRIT, wm_errlog, errno,
                         "accept4() on %s failed", ls->addr_text);
            event_del(ls->ev);
            event_assign(ls->ev, event_get_base(ls->ev), -1, 0,
                         wm_listen_resume, ls);
            event_add(ls->ev, &tv);
            return;
        }
        default:
            wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                         "accept4() on %s failed", ls->addr_text);
            return;
        }
    }
}

wm_int_t
wm_listen_enable(wm_cycle_t *cycle)
{
    size_t i;

    for (i = 0; i < cycle->listening.nelts; i++) {
        wm_listening_t *ls = ((wm_listening_t **) cycle->listening.elts)[i];

        if (ls->handler == NULL) {
            continue;
        }
        if (ls->fds) {
            /* This worker polls its own socket of the group and keeps
             * no copy of the others (the master holds them). */
            unsigned k, me = wm_listen_worker % ls->nfds;

            for (k = 0; k < ls->nfds; k++) {
                if (k != me && ls->fds[k] >= 0) {
                    close(ls->fds[k]);
                }
            }
            ls->fd = ls->fds[me];
            ls->fds = NULL;
            ls->nfds = 0;
        }
        ls->ev = event_new(cycle->base, ls->fd, EV_READ | EV_PERSIST,
                           wm_listen_accept, ls);
        if (ls->ev == NULL || event_add(ls->ev, NULL) != 0) {
            wm_log_error(WM_LOG_ALERT, wm_errlog, 0,
                         "cannot watch listening socket %s", ls->addr_text);
            return WM_ERROR;
        }
    }
    return WM_OK;
}

void
wm_listen_disable(wm_cycle_t *cycle, bool keep_dgram)
{
    size_t i;

    for (i = 0; i < cycle->listening.nelts; i++) {
        wm_listening_t *ls = ((wm_listening_t **) cycle->listening.elts)[i];

        if (ls->ev) {
            event_free(ls->ev);
            ls->ev = NULL;
        }
        /* The worker's copy only: the master keeps the socket open. */
        if (ls->fd >= 0 && !(keep_dgram && ls->type == SOCK_DGRAM)) {
            close(ls->fd);
            ls->fd = -1;
        }
    }
}
