/*
 * Split-point differential fuzz target of the HTTP/1.1 parsers. Each input
 * is parsed whole, byte by byte, and in two pieces with the buffer moved in
 * between; any difference in result, fields or buffer bytes aborts. Parsed
 * paths are normalised and checked for traversal, and bodies are decoded
 * (chunked whole and split) before the next pipelined request is parsed.
 *
 * Input: byte 0 picks options (bit 0 underscores_in_headers, bit 1
 * ignore_invalid_headers off, bit 2 small limits for the head and chunked
 * lines, bit 3 a 3-header array, bit 4 merge_slashes, bits 5-7 the piece
 * size for chunked bodies); the rest is what a client sent.
 */
#include "wm_http_parse.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NHDRS 32

typedef struct {
    char *s;
    size_t len, cap;
} fz_out_t;

static void
fz_printf(fz_out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fz_printf(fz_out_t *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->s == NULL) {
        o->cap = 1024;
        o->s = malloc(o->cap);
        if (o->s == NULL) {
            abort();
        }
    }
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(o->s + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            abort();
        }
        if ((size_t) n < o->cap - o->len) {
            o->len += (size_t) n;
            return;
        }
        o->cap = o->cap * 2 + (size_t) n + 64;
        o->s = realloc(o->s, o->cap);
        if (o->s == NULL) {
            abort();
        }
    }
}

/* A slice as an offset into base, so results in two buffers compare. */
static void
fz_str(fz_out_t *o, const char *name, const wm_str_t *s, const u_char *base,
       size_t len)
{
    uintptr_t d = (uintptr_t) s->data, b = (uintptr_t) base;

    if (s->data == NULL) {
        fz_printf(o, "%s=null ", name);
    } else if (d >= b && d - b <= len && d - b + s->len <= len) {
        fz_printf(o, "%s=%zu+%zu ", name, (size_t) (d - b), s->len);
    } else if (s->len == 1 && s->data[0] == '/') {
        fz_printf(o, "%s=root ", name);
    } else {
        /* a slice outside the buffer: a parser bug */
        abort();
    }
}

static void
fz_dump(fz_out_t *o, wm_int_t rc, const wm_http_head_t *h,
        const u_char *base, size_t len)
{
    size_t i;

    o->len = 0;
    fz_printf(o, "rc=%d ", (int) rc);
    if (rc == WM_ERROR) {
        fz_printf(o, "status=%d error=%s", h->status, h->error);
        return;
    }
    if (rc != WM_OK) {
        return;
    }
    if (h->head_len > len) {
        abort();
    }
    fz_str(o, "rl", &h->request_line, base, len);
    fz_str(o, "mn", &h->method_name, base, len);
    fz_str(o, "t", &h->target, base, len);
    fz_str(o, "sc", &h->scheme, base, len);
    fz_str(o, "p", &h->path, base, len);
    fz_str(o, "a", &h->args, base, len);
    fz_str(o, "h", &h->host, base, len);
    fz_str(o, "pt", &h->port_text, base, len);
    fz_str(o, "te", &h->transfer_encoding, base, len);
    fz_str(o, "up", &h->upgrade, base, len);
    for (i = 0; i < h->nheaders; i++) {
        fz_str(o, "n", &h->headers[i].name, base, len);
        fz_str(o, "v", &h->headers[i].value, base, len);
    }
    fz_printf(o,
              "m=%lu f=%lu v=%lu ha=%d port=%lu cl=%lld ch=%d ka=%d cc=%d "
              "ck=%d cu=%d ec=%d nh=%zu ni=%zu hl=%zu",
              (unsigned long) h->method, (unsigned long) h->target_form,
              (unsigned long) h->version, h->has_args,
              (unsigned long) h->port, (long long) h->content_length,
              h->chunked, h->keep_alive, h->conn_close, h->conn_keep_alive,
              h->conn_upgrade, h->expect_continue, h->nheaders, h->ninvalid,
              h->head_len);
}

static u_char *
fz_copy(const u_char *src, size_t len)
{
    u_char *b = malloc(len ? len : 1);

    if (b == NULL) {
        abort();
    }
    memcpy(b, src, len);
    return b;
}

/* Parses a head in[0..len) three ways and aborts if they differ. Returns
 * the whole parse's code; head and *whole_buf hold its result. */
static wm_int_t
fz_head(const wm_http_parse_conf_t *conf, size_t nalloc, const u_char *in,
        size_t len, size_t split, wm_http_head_t *head,
        wm_http_header_t *hdrs, u_char **whole_buf)
{
    static fz_out_t a, b;
    wm_http_header_t h2[NHDRS];
    wm_http_head_t hd2;
    wm_http_parser_t p, p2;
    u_char *w, *x, *y;
    wm_int_t rc, rc2 = WM_AGAIN;
    size_t i;

    /* whole, in an exact-size buffer so that ASan sees any overread */
    w = fz_copy(in, len);
    wm_http_parser_init(&p, conf, head, hdrs, nalloc);
    rc = wm_http_parse_request(&p, w, len);
    fz_dump(&a, rc, head, w, len);

    /* byte by byte, in a buffer that grows (moves) every 64 bytes */
    x = NULL;
    wm_http_parser_init(&p2, conf, &hd2, h2, nalloc);
    for (i = 1; i <= len && rc2 == WM_AGAIN; i++) {
        if (i == 1 || i % 64 == 0) {
            y = fz_copy(in, len);
            if (x != NULL) {
                memcpy(y, x, i - 1);
                free(x);
            }
            x = y;
        }
        rc2 = wm_http_parse_request(&p2, x, i);
    }
    if (len == 0) {
        x = fz_copy(in, 0);
        rc2 = wm_http_parse_request(&p2, x, 0);
    }
    fz_dump(&b, rc2, &hd2, x, len);
    if (a.len != b.len || memcmp(a.s, b.s, a.len) != 0
        || (rc == WM_OK && memcmp(w, x, head->head_len) != 0))
    {
        fprintf(stderr, "whole: %.*s\nbytes: %.*s\n", (int) a.len, a.s,
                (int) b.len, b.s);
        abort();
    }
    free(x);

    /* two pieces; the first buffer is freed, so a stale slice is caught */
    x = fz_copy(in, split);
    wm_http_parser_init(&p2, conf, &hd2, h2, nalloc);
    rc2 = wm_http_parse_request(&p2, x, split);
    y = fz_copy(in, len);
    memcpy(y, x, split);
    free(x);
    rc2 = wm_http_parse_request(&p2, y, len);
    fz_dump(&b, rc2, &hd2, y, len);
    if (a.len != b.len || memcmp(a.s, b.s, a.len) != 0
        || (rc == WM_OK && memcmp(w, y, head->head_len) != 0))
    {
        fprintf(stderr, "split %zu\nwhole: %.*s\nsplit: %.*s\n", split,
                (int) a.len, a.s, (int) b.len, b.s);
        abort();
    }
    free(y);

    *whole_buf = w;
    return rc;
}

/* True when p starts with '/' and has no "." or ".." segment. */
static int
fz_path_safe(const wm_str_t *p)
{
    size_t i, s;

    if (p->len == 0 || p->data[0] != '/') {
        return 0;
    }
    for (i = 1, s = 1; i <= p->len; i++) {
        if (i == p->len || p->data[i] == '/') {
            size_t n = i - s;

            if ((n == 1 && p->data[s] == '.')
                || (n == 2 && p->data[s] == '.' && p->data[s + 1] == '.'))
            {
                return 0;
            }
            s = i + 1;
        }
    }
    return 1;
}

static void
fz_uri(const wm_str_t *path, wm_uint_t flags)
{
    u_char *out = malloc(path->len ? path->len : 1);
    wm_http_uri_t uri;

    if (out == NULL) {
        abort();
    }
    if (wm_http_uri_normalize(path, out, flags, &uri) == WM_OK) {
        if (!fz_path_safe(&uri.path) || uri.path.len > path->len
            || uri.path.data != out)
        {
            abort();
        }
    }
    free(out);
}

/* Decodes a chunked body whole and in pieces of `step`; aborts on any
 * difference. Returns the bytes the body took, or 0 if it did not end. */
static size_t
fz_chunked(const u_char *in, size_t len, size_t step, int small)
{
    wm_http_chunked_t c;
    u_char *copy = fz_copy(in, len);
    u_char *out[2];
    size_t outlen[2], used, off, end, consumed[2], pass;
    wm_int_t rc[2];
    wm_str_t d;

    for (pass = 0; pass < 2; pass++) {
        out[pass] = malloc(len ? len : 1);
        if (out[pass] == NULL) {
            abort();
        }
        outlen[pass] = 0;
        off = 0;
        wm_http_chunked_init(&c);
        if (small) {
            c.max_line = 12;
            c.max_trailer = 24;
        }
        for (;;) {
            end = pass ? wm_min(off + step, len) : len;
            rc[pass] = wm_http_chunked_parse(&c, copy + off, end - off, &used,
                                             &d);
            if (used > end - off) {
                abort();
            }
            off += used;
            if (rc[pass] == WM_OK) {
                if (d.len == 0 || d.data < copy || d.data + d.len > copy + off
                    || outlen[pass] + d.len > len)
                {
                    abort();
                }
                memcpy(out[pass] + outlen[pass], d.data, d.len);
                outlen[pass] += d.len;
                continue;
            }
            if (rc[pass] != WM_AGAIN || off >= len) {
                break;
            }
        }
        consumed[pass] = off;
    }
    if (rc[0] != rc[1] || outlen[0] != outlen[1]
        || memcmp(out[0], out[1], outlen[0]) != 0
        || consumed[0] != consumed[1])
    {
        abort();
    }
    free(out[0]);
    free(out[1]);
    free(copy);
    return rc[0] == WM_DONE ? consumed[0] : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wm_http_parse_conf_t conf;
    wm_http_header_t hdrs[NHDRS];
    wm_http_head_t head;
    size_t nalloc, off, left, split, n, req;
    u_char *w;
    wm_uint_t uflags;
    wm_int_t rc;
    uint8_t opt;

    if (size == 0) {
        return 0;
    }
    opt = data[0];
    data++;
    size--;

    wm_http_parse_conf_init(&conf);
    conf.underscores_in_headers = (opt & 1) != 0;
    conf.ignore_invalid_headers = (opt & 2) == 0;
    if (opt & 4) {
        conf.max_request_line = 40;
        conf.max_header_line = 24;
        conf.max_head = 160;
    }
    nalloc = (opt & 8) ? 3 : NHDRS;
    uflags = (opt & 16) ? WM_HTTP_URI_MERGE_SLASHES : 0;

    off = 0;
    for (req = 0; req < 8 && off < size; req++) {
        left = size - off;
        split = (left > 1) ? (data[off + left - 1] * 7u + opt) % left : 0;
        rc = fz_head(&conf, nalloc, (const u_char *) data + off, left, split,
                     &head, hdrs, &w);
        if (rc != WM_OK) {
            free(w);
            break;
        }
        if (head.target_form == WM_HTTP_TARGET_ORIGIN
            || head.target_form == WM_HTTP_TARGET_ABSOLUTE)
        {
            fz_uri(&head.path, uflags);
        }
        off += head.head_len;
        free(w);

        if (head.chunked) {
            n = fz_chunked((const u_char *) data + off, size - off,
                           1 + (opt >> 5), (opt & 4) != 0);
            if (n == 0) {
                break;
            }
            off += n;
        } else if (head.content_length > 0) {
            if ((uint64_t) head.content_length >= size - off) {
                break;
            }
            off += (size_t) head.content_length;
        }
    }
    return 0;
}
