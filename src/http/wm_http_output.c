/*
 * The output path of a response: the header filters (which may change the
 * status, the headers and the length, as compression does) and the body
 * filters (which transform bytes: compression, chunked framing) run in the
 * order of the tables below, then the writer serialises into the
 * connection's output buffer. A module adds its filter to a table here.
 */
#include "wm_http.h"

#include "wm_process.h"

#include <time.h>
#include <unistd.h>

/* Files up to this size that must pass through memory are read, larger
 * ones mapped. */
#define WM_HTTP_READ_FILE_MAX (256 * 1024)

static wm_int_t wm_http_write_header(wm_http_request_t *r);
static wm_int_t wm_http_chunked_filter(wm_http_request_t *r,
                                       struct evbuffer *in, bool last);
static wm_int_t wm_http_write_filter(wm_http_request_t *r,
                                     struct evbuffer *in, bool last);

/* Header filters, first to last; the writer comes after them. */
static const wm_http_header_filter_pt wm_http_header_filters[] = {
    wm_http_charset_filter,
    wm_http_headers_filter,
    wm_http_compress_header_filter,
};

/* Body filters, first to last; each passes its output on with
 * wm_http_body_next(). The last two frame and write. */
static const wm_http_body_filter_pt wm_http_body_filters[] = {
    wm_http_compress_body_filter,
    wm_http_chunked_filter,
    wm_http_write_filter,
};

static const char *
wm_http_date(void)
{
    static char buf[40];
    static time_t cached;
    time_t now = time(NULL);
    struct tm tm;

    if (now != cached) {
        gmtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached = now;
    }
    return buf;
}

static void
wm_http_add(struct evbuffer *b, const char *name, size_t nlen,
            const u_char *value, size_t vlen)
{
    char line[512];

    if (nlen + vlen + 4 <= sizeof(line)) {
        memcpy(line, name, nlen);
        line[nlen] = ':';
        line[nlen + 1] = ' ';
        memcpy(line + nlen + 2, value, vlen);
        line[nlen + vlen + 2] = '\r';
        line[nlen + vlen + 3] = '\n';
        evbuffer_add(b, line, nlen + vlen + 4);
        return;
    }
    evbuffer_add(b, name, nlen);
    evbuffer_add(b, ": ", 2);
    evbuffer_add(b, value, vlen);
    evbuffer_add(b, "\r\n", 2);
}

#define wm_http_add_lit(b, name, value, vlen)                                  \
    wm_http_add(b, name, sizeof(name) - 1, (const u_char *) (value), vlen)

#define wm_http_add_lit(b, name, value, vlen)                                  \
    wm_http_add(b, name, sizeof(name) - 1, (const u_char *) (value), vlen)

wm_int_t
wm_http_add_header(wm_http_request_t *r, const char *name,
                   const wm_str_t *value)
{
    wm_http_header_t *h;

    if (r->out_headers.elts == NULL
        && wm_array_init(&r->out_headers, r->pool, 4, sizeof(*h)) != WM_OK)
    {
        return WM_ERROR;
    }
    h = wm_array_push(&r->out_headers);
    if (h == NULL) {
        return WM_ERROR;
    }
    h->name.data = (u_char *) wm_pstrdup(r->pool, name);
    h->name.len = strlen(name);
    h->value.data = (u_char *) wm_pstrndup(r->pool, value->data, value->len);
    h->value.len = value->len;
    return h->name.data && h->value.data ? WM_OK : WM_ERROR;
}

wm_int_t
wm_http_send_header(wm_http_request_t *r)
{
    wm_http_connection_t *c = r->c;
    size_t i;

    if (r->header_sent) {
        return WM_OK;
    }
    r->header_sent = 1;
    if (r->error_page_status) {
        /* The page of an error_page keeps the error's status (or the
         * =code given), whatever produced it. */
        r->status = r->error_page_status;
        r->status_line.len = 0;
    }
    for (i = 0; i < wm_nelems(wm_http_header_filters); i++) {
        if (wm_http_header_filters[i]
            && wm_http_header_filters[i](r) != WM_OK)
        {
            return WM_ERROR;
        }
    }
    if (r->head.method == WM_HTTP_HEAD || r->status == 304
        || r->status == 204 || r->status == 101)
    {
        r->header_only = 1;
    }
    if (r->status == 204) {
        /* nginx: a 204 has no Content-Type either. */
        r->content_type.len = 0;
    }
    /* A worker that is stopping ends keep-alive with this response. */
    if (wm_worker_quitting()) {
        r->keepalive = 0;
    }
    if (r->keepalive && (r->loc->keepalive_timeout == 0
                         || c->requests >= (wm_uint_t) r->loc->keepalive_requests))
    {
        r->keepalive = 0;
    }
    if (r->keepalive && r->loc->keepalive_time) {
        struct timeval now;

        struct timeval age;

        gettimeofday(&now, NULL);
        timersub(&now, &c->start, &age);
        if ((wm_msec_t) age.tv_sec * 1000 + age.tv_usec / 1000
            >= r->loc->keepalive_time)
        {
            r->keepalive = 0;
        }
    }
    if (r->content_length < 0 && !r->header_only && r->status != 304) {
        if (r->head.version >= WM_HTTP_VERSION_11
            && wm_http_chunked_allowed(r))
        {
            r->chunked_out = 1;
        } else {
            r->keepalive = 0; /* the close ends the body */
        }
    }

    return wm_http_write_header(r);
}

/* The last header filter: the head, serialised into c->out. */
static wm_int_t
wm_http_write_header(wm_http_request_t *r)
{
    wm_http_connection_t *c = r->c;
    struct evbuffer *b = c->out;
    size_t before = evbuffer_get_length(b);
    const char *line;
    char num[32];
    size_t i;
    int n;

    line = r->status_line.len ? NULL : wm_http_status_line(r->status);
    if (r->status_line.len) {
        evbuffer_add(b, "HTTP/1.1 ", 9);
        evbuffer_add(b, r->status_line.data, r->status_line.len);
        evbuffer_add(b, "\r\n", 2);
    } else if (line) {
        evbuffer_add(b, "HTTP/1.1 ", 9);
        evbuffer_add(b, line, strlen(line));
        evbuffer_add(b, "\r\n", 2);
    } else {
        n = snprintf(num, sizeof(num), "HTTP/1.1 %03d \r\n", r->status);
        evbuffer_add(b, num, (size_t) n);
    }
    if (r->loc->server_tokens) {
        wm_http_add_lit(b, "Server", "wmproxy/" PACKAGE_VERSION,
                        sizeof("wmproxy/" PACKAGE_VERSION) - 1);
    } else {
        wm_http_add_lit(b, "Server", "wmproxy", 7);
    }
    wm_http_add_lit(b, "Date", wm_http_date(), 29);
    if (r->content_type.len) {
        wm_http_add_lit(b, "Content-Type", r->content_type.data,
                        r->content_type.len);
    }
    if (r->content_length >= 0 && r->status != 204 && r->status != 304
        && r->status != 101)
    {
        n = snprintf(num, sizeof(num), "%lld", (long long) r->content_length);
        wm_http_add_lit(b, "Content-Length", num, (size_t) n);
    } else if (r->chunked_out) {
        wm_http_add_lit(b, "Transfer-Encoding", "chunked", 7);
    }
    /* As nginx: a Last-Modified only describes a 200, 206 or 304. */
    if (r->last_modified >= 0
        && (r->status == 200 || r->status == 206 || r->status == 304))
    {
        char date[40];
        struct tm tm;

        gmtime_r(&r->last_modified, &tm);
        n = (int) strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT",
                           &tm);
        wm_http_add_lit(b, "Last-Modified", date, (size_t) n);
    }
    if (r->location.len) {
        wm_http_add_lit(b, "Location", r->location.data, r->location.len);
    }
    if (r->status == 101) {
        wm_http_add_lit(b, "Connection", "upgrade", 7);
    } else if (r->keepalive) {
        wm_http_add_lit(b, "Connection", "keep-alive", 10);
    } else {
        wm_http_add_lit(b, "Connection", "close", 5);
    }
    if (r->etag.len) {
        wm_http_add_lit(b, "ETag", r->etag.data, r->etag.len);
    }
    if (r->allow_ranges && r->status == 200) { /* as nginx's range filter */
        wm_http_add_lit(b, "Accept-Ranges", "bytes", 5);
    }
    for (i = 0; i < r->out_headers.nelts; i++) {
        wm_http_header_t *h = &((wm_http_header_t *) r->out_headers.elts)[i];

        wm_http_add(b, (const char *) h->name.data, h->name.len,
                    h->value.data, h->value.len);
    }
    evbuffer_add(b, "\r\n", 2);
    r->header_size = evbuffer_get_length(b) - before;
    r->bytes_sent += r->header_size;
    return WM_OK;
}

wm_int_t
wm_http_body_next(wm_http_request_t *r, wm_http_body_filter_pt self,
                  struct evbuffer *in, bool last)
{
    size_t i;

    for (i = 0; i + 1 < wm_nelems(wm_http_body_filters); i++) {
        if (wm_http_body_filters[i] == self) {
            return wm_http_body_filters[i + 1](r, in, last);
        }
    }
    return WM_ERROR;
}

wm_int_t
wm_http_send_body(wm_http_request_t *r, struct evbuffer *buf, bool last)
{
    struct evbuffer *in = buf ? buf : r->c->body;

    if (r->done) {
        if (buf) {
            evbuffer_drain(buf, evbuffer_get_length(buf));
        }
        return WM_OK;
    }
    return wm_http_body_filters[0](r, in, last);
}

/* Frames the body in chunks when its length is not known in advance. */
static wm_int_t
wm_http_chunked_filter(wm_http_request_t *r, struct evbuffer *in, bool last)
{
    size_t len = evbuffer_get_length(in);
    char size[32];
    int n;

    if (!r->chunked_out || r->header_only) {
        return wm_http_body_next(r, wm_http_chunked_filter, in, last);
    }
    if (len) {
        n = snprintf(size, sizeof(size), "%zx\r\n", len);
        evbuffer_prepend(in, size, (size_t) n);
        evbuffer_add(in, "\r\n", 2);
    }
    if (last) {
        evbuffer_add(in, "0\r\n\r\n", 5);
    }
    return wm_http_body_next(r, wm_http_chunked_filter, in, last);
}

/* The last body filter: into c->out, then out to the socket. */
static wm_int_t
wm_http_write_filter(wm_http_request_t *r, struct evbuffer *in, bool last)
{
    wm_http_connection_t *c = r->c;
    size_t len = evbuffer_get_length(in);

    if (r->header_only) {
        evbuffer_drain(in, len);
    } else if (len) {
        evbuffer_add_buffer(c->out, in);
        r->bytes_sent += len;
    }
    if (last) {
        r->done = 1;
    }
    wm_http_connection_flush(c);
    return WM_OK;
}

wm_int_t
wm_http_send_file(wm_http_request_t *r, int fd, off_t offset, off_t len,
                  bool last)
{
    struct evbuffer *b = r->c->body;

    if (r->header_only || len == 0 || r->file_body_unneeded) {
        close(fd);
    } else if (r->loc->sendfile && r->c->ssl == NULL
               && !r->filter_need_in_memory)
    {
        if (evbuffer_add_file(b, fd, offset, len) != 0) {
            close(fd);
            return WM_ERROR;
        }
    } else if (len <= WM_HTTP_READ_FILE_MAX) {
        /* Through memory, and small enough to read: one pread() costs
         * less than mapping and unmapping (whose TLB flushes interrupt
         * the other CPUs). */
        struct evbuffer_iovec v;
        ssize_t n = -1;

        if (evbuffer_reserve_space(b, len, &v, 1) == 1) {
            n = pread(fd, v.iov_base, (size_t) len, offset);
            v.iov_len = n == len ? (size_t) len : 0;
            evbuffer_commit_space(b, &v, 1);
        }
        close(fd);
        if (n != len) {
            return WM_ERROR;
        }
    } else {
        struct evbuffer_file_segment *seg;

        /* sendfile off: the bytes go through memory (mmap or read). */
        seg = evbuffer_file_segment_new(fd, offset, len,
                                        EVBUF_FS_DISABLE_SENDFILE
                                            | EVBUF_FS_CLOSE_ON_FREE);
        if (seg == NULL) {
            close(fd);
            return WM_ERROR;
        }
        evbuffer_add_file_segment(b, seg, 0, len);
        evbuffer_file_segment_free(seg);
    }
    return wm_http_send_body(r, b, last);
}
