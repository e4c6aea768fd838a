/*
 * The stream (layer 4) subsystem: `stream { server { listen ...; } }`
 * blocks, the session that a TCP connection or UDP datagram becomes, and
 * the content handlers (`return`, `proxy_pass`) that serve it. This header
 * is the surface the stream modules share.
 */
#ifndef WM_STREAM_H
#define WM_STREAM_H

#include "wm_core.h"
#include "wm_cycle.h"
#include "wm_list.h"
#include "wm_listen.h"
#include "wm_proxy_protocol.h"
#include "wm_upstream.h"
#include "wm_var.h"

#include <event2/bufferevent.h>
#include <sys/socket.h>
#include <sys/time.h>

typedef struct wm_stream_session_s wm_stream_session_t;

/* Starts serving a session; from here the handler owns it until it calls
 * wm_stream_finalize(). */
typedef void (*wm_stream_handler_pt)(wm_stream_session_t *s);

/* The stream core module's main conf: the servers of the stream block. */
typedef struct {
    void **main_confs;   /* main-level conf of each module, by index */
    wm_array_t servers;  /* wm_stream_core_srv_conf_t * */
} wm_stream_main_conf_t;

/* The stream core module's per-server conf. */
typedef struct {
    void **srv_confs;    /* this server's conf of each module, by index */
    wm_stream_handler_pt handler;
    const char *file;    /* where the server block starts, for errors */
    unsigned line;
    unsigned nlisten;
    unsigned udp : 1;    /* listens on UDP */
    unsigned udp_capable : 1; /* the handler serves datagrams too */
    wm_uint_t udp_sessions; /* this worker's live UDP sessions (the copy
                               of the cycle in each worker counts its own) */
    time_t udp_full_logged; /* when udp_sessions_max was last logged */
} wm_stream_core_srv_conf_t;

/* Later datagrams of a UDP session's client (wm_stream_udp.c), n >= 1
 * of them read together, in order: it takes at least the first and
 * counts what it takes in bytes_received, and returns how many it took.
 * The caller finds the session of the others again (the session may
 * have ended or been unbound by then: s is not touched after). */
typedef unsigned (*wm_stream_udp_recv_pt)(wm_stream_session_t *s,
                                          const struct iovec *dg, unsigned n);

struct wm_stream_session_s {
    wm_link_t link;                  /* in the worker's live sessions */
    wm_pool_t *pool;                 /* freed with the session */
    wm_stream_core_srv_conf_t *srv;
    wm_listening_t *listening;
    struct event_base *base;
    int fd;                          /* TCP: the client socket */
    struct bufferevent *client;      /* TCP only */
    struct sockaddr_storage peer;
    socklen_t peerlen;
    struct sockaddr_storage local;
    socklen_t locallen;              /* 0 until asked for */
    char peer_text[64];              /* address without port */
    wm_log_t log;
    struct timeval start;
    uint64_t bytes_sent;             /* to the client */
    uint64_t bytes_received;         /* from the client */
    uint64_t number;                 /* $connection */
    int status;                      /* $status: 200, 400, 403, 500, 502 */
    void *ctx;                       /* the content handler's state */
    void (*cleanup)(wm_stream_session_t *s); /* frees ctx */
    const char *upstream_text;       /* for log context */
    const char *termination;         /* $termination, set by a handler
                                        that knows (NULL: from $status) */
    wm_pp_header_t pp;               /* PROXY protocol header, if has_pp */
    void *pp_ctx;                    /* while the header is being read */
    void *preread_ctx;               /* ssl_preread's state and results */
    void *map_ctx;                   /* map values, set values, captures */
    /* UDP: the datagram that started the session, valid only during the
     * handler's first call (the handler copies what it keeps). */
    const u_char *dgram;
    size_t dgram_len;
    wm_stream_udp_recv_pt udp_recv;  /* later datagrams; NULL: dropped */
    wm_link_t udp_link;              /* in the table while bound */
    uint32_t udp_hash;
    unsigned udp_bound : 1;          /* the client's datagrams come here */
    void *ssl_ctx;                   /* TLS with the client (stream_ssl) */
    unsigned has_pp : 1;
    unsigned udp : 1;
    unsigned closing : 1;
};

extern wm_module_t wm_stream_core_module;
extern wm_module_t wm_stream_return_module;
extern wm_module_t wm_stream_proxy_module;
extern wm_module_t wm_stream_access_module;

/* The stream variables, for wm_cv_compile(). */
extern const wm_var_def_t *const wm_stream_var_tables[];
extern const wm_var_def_t wm_stream_log_vars[];

/* wm_stream_log_module.c: points s->log at its server's error_log (at
 * session start), and writes its access log lines (when it is freed). */
void wm_stream_log_init(wm_stream_session_t *s);
void wm_stream_log_session(wm_stream_session_t *s);

#define wm_stream_srv_conf(cscf, module) ((cscf)->srv_confs[(module).index])

/* The core srv conf of the server block being parsed. */
#define wm_stream_conf_core_srv(cf)                                            \
    ((wm_stream_core_srv_conf_t *) (cf)->confs[WM_LVL_SRV]                     \
                                              [wm_stream_core_module.index])

/* Reads the PROXY protocol header of s (listen ... proxy_protocol), then
 * runs next(s); a broken or missing header ends the session (logged). */
void wm_stream_proxy_protocol_start(wm_stream_session_t *s,
                                    wm_stream_handler_pt next);
void wm_stream_proxy_protocol_cleanup(wm_stream_session_t *s);

/* allow / deny of the session's server for its client address: WM_OK,
 * or 403 once logged (`access forbidden by rule`); the caller then drops
 * the session (wm_stream_finalize, or the datagram for UDP). */
wm_int_t wm_stream_access_check(wm_stream_session_t *s);

/* Counts s against its server's limit_conn zones and then runs
 * wm_stream_access_handler(); a session over a limit ends with 503. */
void wm_stream_limit_conn_handler(wm_stream_session_t *s);
extern wm_module_t wm_stream_limit_conn_module;
extern const wm_var_def_t wm_stream_limit_conn_vars[];

/* Runs wm_stream_access_check() and then wm_stream_ssl_handshake(), or
 * ends a denied session with 403. */
void wm_stream_access_handler(wm_stream_session_t *s);

/* Runs the server's handler on s, after reading the TLS ClientHello into
 * the $ssl_preread_* variables when the server has `ssl_preread on`. */
void wm_stream_ssl_preread(wm_stream_session_t *s);
void wm_stream_ssl_preread_cleanup(wm_stream_session_t *s);
extern wm_module_t wm_stream_ssl_preread_module;
extern const wm_var_def_t wm_stream_ssl_preread_vars[];

/* The byte relay of a connected TCP session (wm_stream_relay.c): moves
 * bytes between s->fd and upfd through two buffers of size bytes (or two
 * pipes with splice()), sending
 * the prefix_len bytes at prefix (at most size; a PROXY header) to the
 * upstream first, updates s->bytes_sent/_received and *last, and ends the
 * session with
 * wm_stream_finalize() at the first FIN (once the bytes before it were
 * delivered) or error. NULL when out of memory. The caller closes upfd
 * and frees the relay (wm_stream_relay_free, NULL accepted) when the
 * session is freed. */
typedef struct wm_stream_relay_s wm_stream_relay_t;
wm_stream_relay_t *wm_stream_relay_start(wm_stream_session_t *s, int upfd,
                                         size_t size, bool splice,
                                         struct timeval *last,
                                         const u_char *prefix,
                                         size_t prefix_len);
void wm_stream_relay_free(wm_stream_relay_t *rl);

/* What the relay does besides moving bytes: rates in bytes per second
 * read from the client (upload) and from the upstream (download), 0 for
 * no limit; half_close passes a FIN on and keeps the other direction.
 * The TLS relay takes the same (wm_stream_relay_tls_configure). */
typedef struct {
    size_t upload_rate;
    size_t download_rate;
    bool half_close;
} wm_stream_relay_opts_t;

/* Applies o to a relay just started (before the event loop runs again);
 * WM_ERROR when out of memory. */
wm_int_t wm_stream_relay_configure(wm_stream_relay_t *rl,
                                   const wm_stream_relay_opts_t *o);
/*
 * UDP sessions (wm_stream_udp.c). A worker keeps its UDP sessions in a
 * table by (listening socket, client address) while they are bound, so
 * that a client's datagrams reach its session; finalize and
 * proxy_requests unbind a session, after which a datagram from the same
 * client starts a new one. The stream_udp module has the directives
 * udp_sessions_max, proxy_responses and proxy_requests.
 */
#define WM_STREAM_UDP_UNLIMITED INT32_MAX

typedef struct {
    wm_int_t sessions_max; /* udp_sessions_max; 0: unlimited */
    wm_int_t responses;    /* proxy_responses; WM_STREAM_UDP_UNLIMITED */
    wm_int_t requests;     /* proxy_requests; 0: unlimited */
    wm_int_t io_uring;     /* udp_io_uring */
} wm_stream_udp_conf_t;

extern wm_module_t wm_stream_udp_module;

#define WM_STREAM_UDP_BATCH 32    /* datagrams per recvmmsg/sendmmsg */
#define WM_STREAM_UDP_MAX 65535   /* the largest datagram */

/* Room for one recvmmsg() of datagrams and their senders' addresses. */
typedef struct {
    struct mmsghdr msg[WM_STREAM_UDP_BATCH];
    struct iovec iov[WM_STREAM_UDP_BATCH];
    struct sockaddr_storage addr[WM_STREAM_UDP_BATCH];
    u_char data[WM_STREAM_UDP_BATCH][WM_STREAM_UDP_MAX];
} wm_stream_udp_batch_t;

/* Reads up to n (1 .. WM_STREAM_UDP_BATCH - first) waiting datagrams
 * from fd into b, from slot first on, without blocking: datagram i is
 * b->data[i], b->msg[i].msg_len bytes, from b->addr[i]
 * (b->msg[i].msg_hdr.msg_namelen bytes). Their count, or -1 with errno
 * (EAGAIN: none). */
int wm_stream_udp_recv(int fd, wm_stream_udp_batch_t *b, unsigned first,
                       unsigned n);

/* Makes slot i of b an empty datagram with room for WM_STREAM_UDP_MAX
 * bytes (as wm_stream_udp_recv() reads into), for data put there
 * otherwise. */
void wm_stream_udp_slot(wm_stream_udp_batch_t *b, unsigned i);

/* Sends n datagrams (the iovecs, one each) through fd, a connected UDP
 * or unix datagram socket (wm_stream_udp_send.c): segmented (UDP GSO)
 * while *gso is true, which the first refusal turns false for good,
 * else with sendmmsg(). *gso must be false for a unix socket, which
 * would take a group as one datagram. How many left; when fewer than n,
 * errno tells why dg[that count] could not. */
unsigned wm_stream_udp_send_run(int fd, const struct iovec *dg, unsigned n,
                                bool *gso);

/* Room for the control message that asks for segmentation. */
typedef union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
} wm_stream_udp_cmsg_t;

/* Makes mh a segmented send of its iovecs, in segments of seg bytes,
 * with its control message in c. */
void wm_stream_udp_segment(struct msghdr *mh, wm_stream_udp_cmsg_t *c,
                           uint16_t seg);

/* True when err from a segmented send says that the socket or the route
 * refuses segmentation (the datagrams may still go one by one). */
bool wm_stream_udp_gso_refused(int err);

/* How many datagrams from dg[0] (of n) go in one segmented send: those
 * of dg[0]'s size, then one shorter, within the kernel's limits; 1 when
 * dg[0] goes alone. */
unsigned wm_stream_udp_gso_group(const struct iovec *dg, unsigned n);

/* The outbox of replies to clients (wm_stream_udp_out.c), sent from the
 * listening socket fd once the loop's current pass is over. _room()
 * gives the outbox and its first free slot (sending what is queued for
 * another socket, or a full outbox, first; NULL when out of memory);
 * read replies into it with wm_stream_udp_recv(), then _commit() them
 * as addressed to s's client. _flush() sends at once; _free() drops it
 * all at the worker's exit. */
wm_stream_udp_batch_t *wm_stream_udp_out_room(struct event_base *base, int fd,
                                              unsigned *first);
void wm_stream_udp_out_commit(const wm_stream_session_t *s, unsigned n);
void wm_stream_udp_out_flush(void);
void wm_stream_udp_out_free(void);

/* The worker's io_uring for the upstream sockets of proxied UDP sessions
 * (wm_stream_udp_ring.c). _ready() sets it up at the first call and
 * tells whether it is there (false, logged once, where io_uring is
 * missing or refused). _open() hands it a connected socket: every
 * datagram read from it goes to recv(data, ...), a failed receive to
 * error(data, err, false, 0), a failed send to error(data, err, true,
 * its length); NULL when out of memory. _send() queues a datagram made
 * of n pieces (copied), sent at the end of the loop's pass or at
 * _flush(); WM_ERROR when out of memory. _close() sends what is queued,
 * stops the receive and closes the socket; no callback comes after it.
 * _free() drops it all at the worker's exit. */
typedef struct wm_stream_udp_ring_sock_s wm_stream_udp_ring_sock_t;
typedef void (*wm_stream_udp_ring_recv_pt)(void *data, const u_char *p,
                                           size_t len);
typedef void (*wm_stream_udp_ring_error_pt)(void *data, int err, bool sending,
                                            size_t len);

bool wm_stream_udp_ring_ready(struct event_base *base);
wm_stream_udp_ring_sock_t *
wm_stream_udp_ring_open(int fd, wm_stream_udp_ring_recv_pt recv,
                        wm_stream_udp_ring_error_pt error, void *data);
wm_int_t wm_stream_udp_ring_send(wm_stream_udp_ring_sock_t *rs,
                                 const struct iovec *iov, unsigned n);
void wm_stream_udp_ring_flush(void);
void wm_stream_udp_ring_close(wm_stream_udp_ring_sock_t *rs);
void wm_stream_udp_ring_free(void);

/* The bound session of (ls, client address sa), or NULL. */
wm_stream_session_t *wm_stream_udp_find(const wm_listening_t *ls,
                                        const struct sockaddr *sa,
                                        socklen_t len);

/* Binds s (a new UDP session) to its client address and counts it in
 * its server's sessions. WM_OK or WM_ERROR (out of memory). */
wm_int_t wm_stream_udp_bind(wm_stream_session_t *s);

/* Takes s out of the table (no-op when it is not in it). */
void wm_stream_udp_unbind(wm_stream_session_t *s);

/* When s is freed: unbinds it and gives back its count. */
void wm_stream_udp_forget(wm_stream_session_t *s);

/* True (logged, at most once a second) when the server of ls has its
 * udp_sessions_max sessions in this worker: the datagram from sa is
 * dropped. */
bool wm_stream_udp_full(wm_listening_t *ls, const struct sockaddr *sa,
                        socklen_t len);

/*
 * proxy_pass for a UDP session (wm_stream_udp_proxy.c), called by the
 * proxy module's handler once it knows where to go: group (or the single
 * address direct) and the proxy settings of s's server. Takes s over: it
 * sends s->dgram and every later datagram of the client to a connected
 * UDP socket of a peer, and the peer's replies back to the client, until
 * proxy_responses, proxy_timeout or an error ends the session.
 */
typedef struct {
    wm_upstream_group_t *group;    /* or NULL, with direct */
    wm_upstream_peer_t *direct;    /* proxy_pass $var gave an address */
    wm_msec_t timeout;             /* proxy_timeout: idle */
    size_t buffer_size;            /* datagrams kept for the next peer */
    wm_int_t next_upstream;        /* proxy_next_upstream */
    wm_int_t next_upstream_tries;  /* 0: no limit */
    wm_msec_t next_upstream_timeout; /* 0: no limit */
    wm_int_t proxy_protocol;       /* 0, or the version sent */
} wm_stream_udp_upstream_t;

void wm_stream_udp_proxy_start(wm_stream_session_t *s,
                               const wm_stream_udp_upstream_t *up);

/* Ends a session with $status: closes its sockets at once and frees it
 * from the event loop (never inside the caller's own callback). */
void wm_stream_finalize(wm_stream_session_t *s, int status);

/* wm_stream_map_module.c: map and set. The variables of map blocks, of
 * sets and of map regex captures; wm_stream_map_vars_init() collects
 * their names from the tree of a stream block before it is applied (NULL
 * or an error message). wm_stream_set_run() runs the sets of s's server
 * once (WM_OK, or WM_ERROR when out of memory). */
extern wm_module_t wm_stream_map_module;
extern const wm_var_def_t wm_stream_map_vars[];
const char *wm_stream_map_vars_init(const wm_conf_node_t *stream);
wm_int_t wm_stream_set_run(wm_stream_session_t *s);

#endif /* WM_STREAM_H */
