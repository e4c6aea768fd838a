/*
 * UDP sessions of stream servers: the worker's table that sends a
 * client's datagrams to its session (keyed by listening socket and client
 * address, chained buckets that double as the table fills), the cap on
 * sessions per worker (udp_sessions_max), and the directives that say
 * when a proxied UDP session ends (proxy_responses, proxy_requests).
 */
#include "wm_stream.h"

#include "wm_log.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <sys/un.h>
#include <time.h>

#define WM_STREAM_UDP_BUCKETS 256 /* at first; doubles past 2 per bucket */

static void *wm_stream_udp_create(wm_conf_t *cf, unsigned level);
static const char *wm_stream_udp_merge(wm_conf_t *cf, void *prev, void *conf,
                                       unsigned level);
static void wm_stream_udp_exit_worker(wm_cycle_t *cycle);

static const wm_conf_bounds_t wm_stream_udp_count_bounds = {0, INT32_MAX - 1};

static const wm_command_t wm_stream_udp_commands[] = {
    {"proxy_responses", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_num, offsetof(wm_stream_udp_conf_t, responses),
     &wm_stream_udp_count_bounds, "unlimited",
     "UDP: datagrams expected from the upstream per client datagram"},
    {"proxy_requests", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_num, offsetof(wm_stream_udp_conf_t, requests),
     &wm_stream_udp_count_bounds, "0",
     "UDP: client datagrams after which the next one starts a new session"},
    {"udp_sessions_max", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_num, offsetof(wm_stream_udp_conf_t, sessions_max),
     &wm_stream_udp_count_bounds, "0",
     "UDP sessions of a server open at once per worker (0: no cap)"},
    {"udp_io_uring", WM_CTX_STREAM | WM_CTX_STREAM_SRV, 1, 1, 0, WM_LVL_SRV,
     wm_conf_set_flag, offsetof(wm_stream_udp_conf_t, io_uring), NULL, "on",
     "UDP: upstream sockets of proxied sessions read and written through "
     "io_uring"},
    wm_null_command,
};

wm_module_t wm_stream_udp_module = {
    .name = "stream_udp",
    .family = WM_MOD_STREAM,
    .commands = wm_stream_udp_commands,
    .create_conf = wm_stream_udp_create,
    .merge_conf = wm_stream_udp_merge,
    .exit_worker = wm_stream_udp_exit_worker,
};

/* The worker's table: bucket heads, a power of two of them. */
static wm_link_t *wm_stream_udp_buckets;
static size_t wm_stream_udp_nbuckets;
static size_t wm_stream_udp_count;

/* The bytes of an address that tell one client from another: the port
 * and the address (not the IPv6 flow label, which may change), or the
 * path of a unix socket. Their length; key has room for 32 bytes. */
static size_t
wm_stream_udp_key(const struct sockaddr *sa, socklen_t len, u_char *key)
{
    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

        memcpy(key, &in->sin_port, 2);
        memcpy(key + 2, &in->sin_addr, 4);
        return 6;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

        memcpy(key, &in6->sin6_port, 2);
        memcpy(key + 2, &in6->sin6_addr, 16);
        memcpy(key + 18, &in6->sin6_scope_id, 4);
        return 22;
    }
    default:
        return 0; /* compared whole, hashed by length */
    }
}

static uint32_t
wm_stream_udp_hash(const wm_listening_t *ls, const struct sockaddr *sa,
                   socklen_t len)
{
    u_char key[32];
    size_t n = wm_stream_udp_key(sa, len, key);

    return n ? wm_hash(key, n, (uint32_t) ls->fd)
             : wm_hash(sa, len, (uint32_t) ls->fd);
}

static bool
wm_stream_udp_same(const wm_stream_session_t *s, const wm_listening_t *ls,
                   const struct sockaddr *sa, socklen_t len)
{
    u_char a[32], b[32];
    size_t n;

    if (s->listening != ls || s->peer.ss_family != sa->sa_family) {
        return false;
    }
    n = wm_stream_udp_key(sa, len, a);
    if (n == 0) {
        return s->peerlen == len && memcmp(&s->peer, sa, len) == 0;
    }
    wm_stream_udp_key((const struct sockaddr *) &s->peer, s->peerlen, b);
    return memcmp(a, b, n) == 0;
}

wm_stream_session_t *
wm_stream_udp_find(const wm_listening_t *ls, const struct sockaddr *sa,
                   socklen_t len)
{
    uint32_t h;
    wm_link_t *head, *l;

    if (wm_stream_udp_count == 0) {
        return NULL;
    }
    h = wm_stream_udp_hash(ls, sa, len);
    head = &wm_stream_udp_buckets[h & (wm_stream_udp_nbuckets - 1)];
    for (l = head->next; l != head; l = l->next) {
        wm_stream_session_t *s = wm_link_data(l, wm_stream_session_t, udp_link);

        if (s->udp_hash == h && wm_stream_udp_same(s, ls, sa, len)) {
            return s;
        }
    }
    return NULL;
}

/* Makes the table n buckets (a power of two), moving what it holds.
 * WM_ERROR when out of memory (the table stays as it was). */
static wm_int_t
wm_stream_udp_resize(size_t n)
{
    wm_link_t *b = malloc(n * sizeof(*b));
    size_t i;

    if (b == NULL) {
        return WM_ERROR;
    }
    for (i = 0; i < n; i++) {
        wm_list_init(&b[i]);
    }
    for (i = 0; i < wm_stream_udp_nbuckets; i++) {
        wm_link_t *head = &wm_stream_udp_buckets[i];

        while (!wm_list_empty(head)) {
            wm_link_t *l = head->next;
            wm_stream_session_t *s =
                wm_link_data(l, wm_stream_session_t, udp_link);

            wm_list_remove(l);
            wm_list_add(&b[s->udp_hash & (n - 1)], l);
        }
    }
    free(wm_stream_udp_buckets);
    wm_stream_udp_buckets = b;
    wm_stream_udp_nbuckets = n;
    return WM_OK;
}

wm_int_t
wm_stream_udp_bind(wm_stream_session_t *s)
{
    s->srv->udp_sessions++; /* given back by wm_stream_udp_forget() */
    if (wm_stream_udp_nbuckets == 0
        && wm_stream_udp_resize(WM_STREAM_UDP_BUCKETS) != WM_OK)
    {
        return WM_ERROR;
    }
    if (wm_stream_udp_count >= 2 * wm_stream_udp_nbuckets) {
        /* A failed growth only makes the chains longer. */
        (void) wm_stream_udp_resize(2 * wm_stream_udp_nbuckets);
    }
    s->udp_hash = wm_stream_udp_hash(
        s->listening, (const struct sockaddr *) &s->peer, s->peerlen);
    wm_list_add(
        &wm_stream_udp_buckets[s->udp_hash & (wm_stream_udp_nbuckets - 1)],
        &s->udp_link);
    s->udp_bound = 1;
    wm_stream_udp_count++;
    return WM_OK;
}

void
wm_stream_udp_unbind(wm_stream_session_t *s)
{
    if (s->udp_bound) {
        wm_list_remove(&s->udp_link);
        s->udp_bound = 0;
        wm_stream_udp_count--;
    }
}

void
wm_stream_udp_forget(wm_stream_session_t *s)
{
    wm_stream_udp_unbind(s);
    if (s->srv->udp_sessions) {
        s->srv->udp_sessions--;
    }
}

void
wm_stream_udp_slot(wm_stream_udp_batch_t *b, unsigned i)
{
    b->iov[i].iov_base = b->data[i];
    b->iov[i].iov_len = WM_STREAM_UDP_MAX;
    memset(&b->msg[i].msg_hdr, 0, sizeof(b->msg[i].msg_hdr));
    b->msg[i].msg_hdr.msg_name = &b->addr[i];
    b->msg[i].msg_hdr.msg_namelen = sizeof(b->addr[i]);
    b->msg[i].msg_hdr.msg_iov = &b->iov[i];
    b->msg[i].msg_hdr.msg_iovlen = 1;
    b->msg[i].msg_len = 0;
}

int
wm_stream_udp_recv(int fd, wm_stream_udp_batch_t *b, unsigned first, unsigned n)
{
    unsigned i;
    int got;

    for (i = first; i < first + n; i++) {
        wm_stream_udp_slot(b, i);
    }
    do {
        got = recvmmsg(fd, b->msg + first, n, MSG_DONTWAIT, NULL);
    } while (got < 0 && errno == EINTR);
    return got;
}

bool
wm_stream_udp_full(wm_listening_t *ls, const struct sockaddr *sa, socklen_t len)
{
    wm_stream_core_srv_conf_t *cscf = ls->servers;
    wm_stream_udp_conf_t *ucf = wm_stream_srv_conf(cscf, wm_stream_udp_module);
    char text[128];
    time_t now;

    if (ucf->sessions_max == 0
        || cscf->udp_sessions < (wm_uint_t) ucf->sessions_max)
    {
        return false;
    }
    now = time(NULL);
    if (cscf->udp_full_logged != now) {
        cscf->udp_full_logged = now;
        wm_sockaddr_text(sa, len, text, sizeof(text));
        wm_log_error(WM_LOG_WARN, wm_errlog, 0,
                     "udp_sessions_max (%ld) reached on %s, dropping "
                     "datagrams from new clients such as %s",
                     (long) ucf->sessions_max, ls->addr_text, text);
    }
    return true;
}

static void
wm_stream_udp_exit_worker(wm_cycle_t *cycle)
{
    /* The stream core frees the sessions first (it comes earlier). */
    wm_stream_udp_out_free();
    wm_stream_udp_ring_free();
    free(wm_stream_udp_buckets);
    wm_stream_udp_buckets = NULL;
    wm_stream_udp_nbuckets = 0;
    wm_stream_udp_count = 0;
}

/* ---- configuration ---------------------------------------------------- */

static void *
wm_stream_udp_create(wm_conf_t *cf, unsigned level)
{
    wm_stream_udp_conf_t *ucf = wm_pcalloc(cf->pool, sizeof(*ucf));

    if (ucf == NULL) {
        return NULL;
    }
    ucf->sessions_max = WM_CONF_UNSET;
    ucf->responses = WM_CONF_UNSET;
    ucf->requests = WM_CONF_UNSET;
    ucf->io_uring = WM_CONF_UNSET;
    return ucf;
}

static const char *
wm_stream_udp_merge(wm_conf_t *cf, void *parent, void *child, unsigned level)
{
    wm_stream_udp_conf_t *prev = parent, *conf = child;

    wm_conf_merge_value(conf->sessions_max, prev->sessions_max, 0);
    wm_conf_merge_value(conf->responses, prev->responses,
                        WM_STREAM_UDP_UNLIMITED);
    wm_conf_merge_value(conf->requests, prev->requests, 0);
    wm_conf_merge_value(conf->io_uring, prev->io_uring, 1);
    return NULL;
}
