/*
 * The worker's io_uring for the upstream sockets of proxied UDP sessions
 * (udp_io_uring, on by default where the kernel has it). With one
 * datagram in flight per session, every round trip cost the worker a
 * send() and a receive on the session's own socket, two system calls at
 * about 1 us each on this kind of VM, and they were most of its time.
 * Through the ring, a client's datagram becomes a queued send that
 * leaves with all those of the loop's pass in one io_uring_enter(); each
 * upstream socket has one multishot receive whose datagrams land in a
 * ring of provided buffers and come out as completions read from shared
 * memory, the ring's descriptor being one more event of the loop. The
 * sessions see two callbacks: a datagram, and an error (a failed send
 * with its length, or a failed receive).
 *
 * A socket handed to the ring stays open while the ring holds requests
 * on it: _close() cancels the receive and submits what is queued before
 * it closes the descriptor (a send queued under a closed descriptor
 * number could reach the socket that gets it next; when the ring cannot
 * take entries for a moment, the descriptor stays open until the flush
 * that submits them). The kernel keeps the socket for the requests
 * still in flight, and the socket's record is freed when the last of
 * their completions has come. The ring is made at a worker's first
 * proxied UDP session that wants it; where io_uring is missing or
 * refused (kernel older than 6.0, a seccomp filter, io_uring_disabled)
 * the sessions use recvmmsg()/sendmsg() as before, said once in the log.
 */
#include "wm_stream.h"

#include "wm_log.h"

#ifdef WM_HAVE_LIBURING

#include <errno.h>
#include <event2/event.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#define WM_UDP_RING_SQ 256
#define WM_UDP_RING_CQ 4096
/* Provided buffers of WM_STREAM_UDP_MAX bytes: 16 MiB of address space,
 * of which a datagram touches only the pages it fills. */
#define WM_UDP_RING_BUFS 256
#define WM_UDP_RING_BGID 0
#define WM_UDP_RING_RECV 1 /* tag of a receive's user_data */

struct wm_stream_udp_ring_sock_s {
    wm_link_t link; /* in wm_udp_ring_socks, or wm_udp_ring_closing */
    int fd;
    unsigned refs; /* 1 while open, 1 per request in the ring */
    bool armed;    /* the multishot receive is in the ring */
    void *data;    /* the session; NULL once closed */
    wm_stream_udp_ring_recv_pt recv;
    wm_stream_udp_ring_error_pt error;
};

typedef struct {
    wm_stream_udp_ring_sock_t *rs;
    size_t len;
    u_char data[];
} wm_udp_ring_send_t;

typedef enum {
    WM_UDP_RING_UNTRIED = 0,
    WM_UDP_RING_UP,
    WM_UDP_RING_NONE,
} wm_udp_ring_state_t;

static wm_udp_ring_state_t wm_udp_ring_state;
static struct io_uring wm_udp_ring;
static bool wm_udp_ring_made; /* wm_udp_ring is to be exited */
static struct io_uring_buf_ring *wm_udp_ring_br;
static u_char *wm_udp_ring_bufs;
static struct event *wm_udp_ring_ev;       /* the ring's descriptor readable */
static struct event *wm_udp_ring_flush_ev; /* queued sends to submit */
static bool wm_udp_ring_queued;
static wm_link_t wm_udp_ring_socks = {&wm_udp_ring_socks, &wm_udp_ring_socks};
/* Closed while entries naming their descriptor could not be submitted:
 * the descriptor is closed once they are. */
static wm_link_t wm_udp_ring_closing = {&wm_udp_ring_closing,
                                        &wm_udp_ring_closing};

static void wm_udp_ring_complete(evutil_socket_t fd, short what, void *arg);
static void wm_udp_ring_put(wm_stream_udp_ring_sock_t *rs);

static void
wm_udp_ring_flush_event(evutil_socket_t fd, short what, void *arg)
{
    wm_stream_udp_ring_flush();
}

/* Multishot receives and provided-buffer rings came with Linux 6.0. */
static bool
wm_udp_ring_kernel_ok(void)
{
    struct utsname u;
    unsigned major = 0;

    return uname(&u) == 0 && sscanf(u.release, "%u.", &major) == 1
           && major >= 6;
}

static void
wm_udp_ring_buf_give(unsigned bid, int offset)
{
    io_uring_buf_ring_add(wm_udp_ring_br,
                          wm_udp_ring_bufs + (size_t) bid * WM_STREAM_UDP_MAX,
                          WM_STREAM_UDP_MAX, (unsigned short) bid,
                          io_uring_buf_ring_mask(WM_UDP_RING_BUFS), offset);
}

/* Sets the ring up; the reason it cannot be (for the log), or NULL. */
static const char *
wm_udp_ring_setup(struct event_base *base, int *err)
{
    struct io_uring_params p = {0};
    struct io_uring_buf_reg reg = {0};
    unsigned i;
    int rc;

    if (!wm_udp_ring_kernel_ok()) {
        *err = 0;
        return "the kernel is older than 6.0";
    }
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN
              | IORING_SETUP_SINGLE_ISSUER;
    p.cq_entries = WM_UDP_RING_CQ;
    rc = io_uring_queue_init_params(WM_UDP_RING_SQ, &wm_udp_ring, &p);
    if (rc < 0) {
        *err = -rc;
        return "io_uring_queue_init() failed";
    }
    wm_udp_ring_made = true;
    wm_udp_ring_br =
        mmap(NULL, WM_UDP_RING_BUFS * sizeof(struct io_uring_buf),
             PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    wm_udp_ring_bufs = mmap(NULL, (size_t) WM_UDP_RING_BUFS * WM_STREAM_UDP_MAX,
                            PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (wm_udp_ring_br == MAP_FAILED || wm_udp_ring_bufs == MAP_FAILED) {
        *err = errno;
        return "mmap() failed";
    }
    reg.ring_addr = (unsigned long) wm_udp_ring_br;
    reg.ring_entries = WM_UDP_RING_BUFS;
    reg.bgid = WM_UDP_RING_BGID;
    rc = io_uring_register_buf_ring(&wm_udp_ring, &reg, 0);
    if (rc < 0) {
        *err = -rc;
        return "io_uring_register_buf_ring() failed";
    }
    io_uring_buf_ring_init(wm_udp_ring_br);
    for (i = 0; i < WM_UDP_RING_BUFS; i++) {
        wm_udp_ring_buf_give(i, (int) i);
    }
    io_uring_buf_ring_advance(wm_udp_ring_br, WM_UDP_RING_BUFS);

    wm_udp_ring_ev = event_new(base, wm_udp_ring.ring_fd, EV_READ | EV_PERSIST,
                               wm_udp_ring_complete, NULL);
    wm_udp_ring_flush_ev =
        event_new(base, -1, 0, wm_udp_ring_flush_event, NULL);
    if (wm_udp_ring_ev == NULL || wm_udp_ring_flush_ev == NULL
        || event_add(wm_udp_ring_ev, NULL) != 0)
    {
        *err = ENOMEM;
        return "cannot watch the ring";
    }
    return NULL;
}

bool
wm_stream_udp_ring_ready(struct event_base *base)
{
    const char *why;
    int err = 0;

    if (wm_udp_ring_state == WM_UDP_RING_UNTRIED) {
        why = wm_udp_ring_setup(base, &err);
        if (why != NULL) {
            wm_log_error(WM_LOG_NOTICE, wm_errlog, err,
                         "%s: proxied UDP sessions use recvmmsg() and "
                         "sendmsg() instead of io_uring",
                         why);
            wm_stream_udp_ring_free();
            wm_udp_ring_state = WM_UDP_RING_NONE;
        } else {
            wm_udp_ring_state = WM_UDP_RING_UP;
            wm_log_error(WM_LOG_NOTICE, wm_errlog, 0,
                         "proxied UDP sessions use io_uring");
        }
    }
    return wm_udp_ring_state == WM_UDP_RING_UP;
}

/* A submission entry, submitting what is queued when the queue is full;
 * NULL only when the ring refuses to take them. */
static struct io_uring_sqe *
wm_udp_ring_sqe(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&wm_udp_ring);

    if (sqe == NULL) {
        wm_stream_udp_ring_flush();
        sqe = io_uring_get_sqe(&wm_udp_ring);
    }
    return sqe;
}

static void
wm_udp_ring_queued_now(void)
{
    if (!wm_udp_ring_queued) {
        wm_udp_ring_queued = true;
        event_active(wm_udp_ring_flush_ev, 0, 0);
    }
}

static void
wm_udp_ring_put(wm_stream_udp_ring_sock_t *rs)
{
    if (--rs->refs == 0) {
        wm_list_remove(&rs->link);
        free(rs);
    }
}

static wm_int_t
wm_udp_ring_arm(wm_stream_udp_ring_sock_t *rs)
{
    struct io_uring_sqe *sqe = wm_udp_ring_sqe();

    if (sqe == NULL) {
        return WM_ERROR;
    }
    io_uring_prep_recv_multishot(sqe, rs->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = WM_UDP_RING_BGID;
    io_uring_sqe_set_data64(sqe, (uint64_t) (uintptr_t) rs | WM_UDP_RING_RECV);
    rs->armed = true;
    rs->refs++;
    wm_udp_ring_queued_now();
    return WM_OK;
}

wm_stream_udp_ring_sock_t *
wm_stream_udp_ring_open(int fd, wm_stream_udp_ring_recv_pt recv,
                        wm_stream_udp_ring_error_pt error, void *data)
{
    wm_stream_udp_ring_sock_t *rs = calloc(1, sizeof(*rs));

    if (rs == NULL) {
        return NULL;
    }
    rs->fd = fd;
    rs->refs = 1;
    rs->data = data;
    rs->recv = recv;
    rs->error = error;
    wm_list_add(&wm_udp_ring_socks, &rs->link);
    if (wm_udp_ring_arm(rs) != WM_OK) {
        wm_udp_ring_put(rs);
        return NULL;
    }
    return rs;
}

wm_int_t
wm_stream_udp_ring_send(wm_stream_udp_ring_sock_t *rs, const struct iovec *iov,
                        unsigned n)
{
    wm_udp_ring_send_t *op;
    struct io_uring_sqe *sqe;
    size_t len = 0;
    unsigned i;

    for (i = 0; i < n; i++) {
        len += iov[i].iov_len;
    }
    op = malloc(sizeof(*op) + len);
    if (op == NULL) {
        return WM_ERROR;
    }
    op->rs = rs;
    op->len = 0;
    for (i = 0; i < n; i++) {
        memcpy(op->data + op->len, iov[i].iov_base, iov[i].iov_len);
        op->len += iov[i].iov_len;
    }
    sqe = wm_udp_ring_sqe();
    if (sqe == NULL) {
        free(op);
        return WM_ERROR;
    }
    io_uring_prep_send(sqe, rs->fd, op->data, op->len, 0);
    io_uring_sqe_set_data(sqe, op);
    rs->refs++;
    wm_udp_ring_queued_now();
    return WM_OK;
}

void
wm_stream_udp_ring_flush(void)
{
    int rc;

    if (wm_udp_ring_state != WM_UDP_RING_UP) {
        return;
    }
    if (wm_udp_ring_queued) {
        wm_udp_ring_queued = false;
        do {
            rc = io_uring_submit(&wm_udp_ring);
        } while (rc == -EINTR);
        if (rc < 0 || io_uring_sq_ready(&wm_udp_ring) > 0) {
            /* EBUSY/EAGAIN: completions wait to be read; the next pass
             * submits what stays queued. */
            if (rc < 0 && rc != -EBUSY && rc != -EAGAIN) {
                wm_log_error(WM_LOG_ALERT, wm_errlog, -rc,
                             "io_uring_submit() failed");
            }
            wm_udp_ring_queued_now();
            return;
        }
    }
    while (!wm_list_empty(&wm_udp_ring_closing)) {
        wm_stream_udp_ring_sock_t *rs = wm_link_data(
            wm_udp_ring_closing.next, wm_stream_udp_ring_sock_t, link);

        wm_list_remove(&rs->link);
        wm_list_add(&wm_udp_ring_socks, &rs->link);
        close(rs->fd);
        rs->fd = -1;
        wm_udp_ring_put(rs);
    }
}

void
wm_stream_udp_ring_close(wm_stream_udp_ring_sock_t *rs)
{
    struct io_uring_sqe *sqe;

    rs->data = NULL;
    if (rs->armed && (sqe = wm_udp_ring_sqe()) != NULL) {
        io_uring_prep_cancel64(sqe,
                               (uint64_t) (uintptr_t) rs | WM_UDP_RING_RECV, 0);
        io_uring_sqe_set_data64(sqe, 0);
        wm_udp_ring_queued_now();
    }
    /* The sends and the cancel go in before the number can be reused;
     * when the ring cannot take them now, the descriptor waits for the
     * flush that submits them. */
    wm_list_remove(&rs->link);
    wm_list_add(&wm_udp_ring_closing, &rs->link);
    wm_stream_udp_ring_flush();
}

/* A completion of rs's multishot receive. Its reference is given back
 * last, so that rs outlives the callbacks. */
static void
wm_udp_ring_received(wm_stream_udp_ring_sock_t *rs, struct io_uring_cqe *cqe)
{
    bool last = !(cqe->flags & IORING_CQE_F_MORE);

    if (last) {
        rs->armed = false;
    }
    if (cqe->res >= 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

        if (rs->data) {
            rs->recv(rs->data,
                     wm_udp_ring_bufs + (size_t) bid * WM_STREAM_UDP_MAX,
                     (size_t) cqe->res);
        }
        wm_udp_ring_buf_give(bid, 0);
        io_uring_buf_ring_advance(wm_udp_ring_br, 1);
    } else if (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -ECANCELED
               && rs->data)
    {
        rs->error(rs->data, -cqe->res, false, 0);
    }
    /* Ended without an error of the socket (out of buffers for a moment,
     * or a completion queue that overflowed): armed again. */
    if (last && rs->data && (cqe->res >= 0 || cqe->res == -ENOBUFS)
        && wm_udp_ring_arm(rs) != WM_OK)
    {
        rs->error(rs->data, ENOMEM, false, 0);
    }
    if (last) {
        wm_udp_ring_put(rs);
    }
}

static void
wm_udp_ring_complete(evutil_socket_t fd, short what, void *arg)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;

    io_uring_for_each_cqe(&wm_udp_ring, head, cqe)
    {
        uint64_t ud = io_uring_cqe_get_data64(cqe);

        n++;
        if (ud == 0) {
            continue; /* a cancel */
        }
        if (ud & WM_UDP_RING_RECV) {
            wm_udp_ring_received(
                (void *) (uintptr_t) (ud & ~(uint64_t) WM_UDP_RING_RECV), cqe);
        } else {
            /* The send's reference keeps rs through the callback. */
            wm_udp_ring_send_t *op = (void *) (uintptr_t) ud;
            wm_stream_udp_ring_sock_t *rs = op->rs;

            if (cqe->res < 0 && rs->data) {
                rs->error(rs->data, -cqe->res, true, op->len);
            }
            free(op);
            wm_udp_ring_put(rs);
        }
    }
    io_uring_cq_advance(&wm_udp_ring, n);
}

void
wm_stream_udp_ring_free(void)
{
    if (wm_udp_ring_made) {
        /* Every session is closed: the completions that came free their
         * sends without a callback; the kernel drops the requests still
         * in flight with the ring. */
        if (wm_udp_ring_state == WM_UDP_RING_UP) {
            wm_stream_udp_ring_flush();
            (void) io_uring_get_events(&wm_udp_ring);
            wm_udp_ring_complete(-1, 0, NULL);
        }
        io_uring_queue_exit(&wm_udp_ring);
        wm_udp_ring_made = false;
    }
    if (wm_udp_ring_ev) {
        event_free(wm_udp_ring_ev);
        wm_udp_ring_ev = NULL;
    }
    if (wm_udp_ring_flush_ev) {
        event_free(wm_udp_ring_flush_ev);
        wm_udp_ring_flush_ev = NULL;
    }
    while (!wm_list_empty(&wm_udp_ring_closing)) {
        wm_stream_udp_ring_sock_t *rs = wm_link_data(
            wm_udp_ring_closing.next, wm_stream_udp_ring_sock_t, link);

        close(rs->fd);
        wm_list_remove(&rs->link);
        free(rs);
    }
    while (!wm_list_empty(&wm_udp_ring_socks)) {
        wm_stream_udp_ring_sock_t *rs = wm_link_data(
            wm_udp_ring_socks.next, wm_stream_udp_ring_sock_t, link);

        wm_list_remove(&rs->link);
        free(rs);
    }
    if (wm_udp_ring_br && wm_udp_ring_br != MAP_FAILED) {
        munmap(wm_udp_ring_br, WM_UDP_RING_BUFS * sizeof(struct io_uring_buf));
    }
    if (wm_udp_ring_bufs && wm_udp_ring_bufs != MAP_FAILED) {
        munmap(wm_udp_ring_bufs, (size_t) WM_UDP_RING_BUFS * WM_STREAM_UDP_MAX);
    }
    wm_udp_ring_br = NULL;
    wm_udp_ring_bufs = NULL;
    wm_udp_ring_queued = false;
    wm_udp_ring_state = WM_UDP_RING_UNTRIED;
}

#else /* !WM_HAVE_LIBURING */

bool
wm_stream_udp_ring_ready(struct event_base *base)
{
    static bool said;

    if (!said) {
        said = true;
        wm_log_error(WM_LOG_NOTICE, wm_errlog, 0,
                     "built without liburing: proxied UDP sessions use "
                     "recvmmsg() and sendmsg() instead of io_uring");
    }
    return false;
}

/* Never called: no session gets a ring socket without the ring. */
wm_stream_udp_ring_sock_t *
wm_stream_udp_ring_open(int fd, wm_stream_udp_ring_recv_pt recv,
                        wm_stream_udp_ring_error_pt error, void *data)
{
    return NULL;
}

wm_int_t
wm_stream_udp_ring_send(wm_stream_udp_ring_sock_t *rs, const struct iovec *iov,
                        unsigned n)
{
    return WM_ERROR;
}

void
wm_stream_udp_ring_flush(void)
{
}

void
wm_stream_udp_ring_close(wm_stream_udp_ring_sock_t *rs)
{
}

void
wm_stream_udp_ring_free(void)
{
}

#endif
