/*
 * Reading a request body for a handler that uses it (the proxy), as it
 * arrives: Content-Length or chunked (decoded), bounded by
 * client_max_body_size, a slice at a time so that the handler can stop
 * reading while its peer is slow. What is not read stays in c->in, where
 * the connection finds the next pipelined request or discards the rest.
 */
#include "wm_http.h"

#include "wm_log.h"

#define WM_HTTP_BODY_READ_SIZE 65536

static void
wm_http_body_free_head(void *data)
{
    evbuffer_free(data);
}

wm_int_t
wm_http_body_start(wm_http_request_t *r)
{
    wm_http_connection_t *c = r->c;
    struct evbuffer *rest;
    size_t len = evbuffer_get_length(c->in);

    /* The parsed head points into c->in: that buffer stays untouched with
     * the request (freed with its pool), and c->in starts afresh with the
     * bytes that followed the head. */
    rest = evbuffer_new();
    if (rest == NULL
        || wm_pool_cleanup_add(r->pool, wm_http_body_free_head, c->in)
               != WM_OK)
    {
        if (rest) {
            evbuffer_free(rest);
        }
        return WM_ERROR;
    }
    if (len > r->head_used) {
        struct evbuffer_ptr pos;
        struct evbuffer_iovec v;

        if (evbuffer_ptr_set(c->in, &pos, r->head_used, EVBUFFER_PTR_SET) != 0
            || evbuffer_reserve_space(rest, (ev_ssize_t) (len - r->head_used),
                                      &v, 1)
                   != 1)
        {
            evbuffer_free(rest);
            return WM_ERROR;
        }
        evbuffer_copyout_from(c->in, &pos, v.iov_base, len - r->head_used);
        v.iov_len = len - r->head_used;
        evbuffer_commit_space(rest, &v, 1);
    }
    c->in = rest;
    r->head_used = 0;
    r->discarding_body = 0;
    return WM_OK;
}

wm_int_t
wm_http_body_read(wm_http_request_t *r, struct evbuffer *out, size_t max,
                  int *status)
{
    wm_http_connection_t *c = r->c;
    size_t moved = 0;
    ssize_t n;

    *status = 0;
    if (!r->head.chunked && r->body_left == 0) {
        return WM_OK;
    }
    for (;;) {
        size_t len = evbuffer_get_length(c->in);

        if (len && r->head.chunked) {
            struct evbuffer_iovec v;
            size_t used;
            wm_str_t data;
            wm_int_t rc;

            evbuffer_peek(c->in, -1, NULL, &v, 1);
            rc = wm_http_chunked_parse(&r->chunked, v.iov_base,
                                       wm_min(v.iov_len, max - moved), &used,
                                       &data);
            if (rc == WM_OK) {
                /* data lies inside the slice just parsed */
                evbuffer_add(out, data.data, data.len);
                moved += data.len;
            }
            evbuffer_drain(c->in, used);
            if (r->loc->client_max_body_size
                && r->chunked.total > r->loc->client_max_body_size)
            {
                wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                             "client intended to send too large chunked "
                             "body: %llu+ bytes",
                             (unsigned long long) r->chunked.total);
                *status = 413;
                return WM_ERROR;
            }
            if (rc == WM_DONE) {
                r->head.chunked = 0; /* nothing more to read or discard */
                r->body_left = 0;
                return WM_OK;
            }
            if (rc == WM_ERROR) {
                wm_log_error(WM_LOG_INFO, wm_http_request_log(r), 0,
                             "client sent invalid chunked body: %s",
                             r->chunked.error ? r->chunked.error : "");
                *status = 400;
                return WM_ERROR;
            }
        } else if (len) {
            size_t take = (size_t) wm_min((uint64_t) len, r->body_left);

            take = wm_min(take, max - moved);
            evbuffer_remove_buffer(c->in, out, take);
            r->body_left -= take;
            moved += take;
            if (r->body_left == 0) {
                return WM_OK;
            }
        }
        if (moved >= max) {
            return WM_AGAIN;
        }
        if (evbuffer_get_length(c->in)) {
            continue;
        }
        if (!c->read_ready) {
            return WM_AGAIN;
        }
        n = wm_http_connection_recv(c, WM_HTTP_BODY_READ_SIZE);
        if (n == WM_AGAIN) {
            return WM_AGAIN;
        }
        if (n == 0 || n == WM_ERROR) {
            if (n == 0) {
                wm_log_error(WM_LOG_INFO, wm_http_request_log(r), 0,
                             "client prematurely closed connection while "
                             "reading the request body");
            }
            *status = 499;
            return WM_ERROR;
        }
    }
}
