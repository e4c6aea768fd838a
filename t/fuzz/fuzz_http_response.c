/*
 * Split-point differential fuzz target of the upstream response head
 * parser. Each head is parsed whole (in a buffer of its exact size), byte
 * by byte in a buffer that moves, and in two pieces with the first buffer
 * freed in between; any difference in result, fields or buffer bytes
 * aborts, as does a result that breaks the contract of wm_http_parse.h or
 * a framing decision that breaks RFC 9112 6.3. Then the body is skipped as
 * the framing says (chunked bodies decoded) and the next head parsed, as
 * a proxy does with interim responses and kept-alive connections.
 *
 * Input: byte 0 picks options (bits 0-2 the method of the request, bit 3
 * small limits, bit 4 a 3-header array); the rest is what an upstream
 * sent.
 */
#include "wm_http_parse.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NHDRS 32
/* The scalars, then an (offset, length) pair per slice; -1 for null. */
#define NVAL (24 + 2 * (8 + 2 * NHDRS))

static const wm_uint_t fz_methods[8] = {
    WM_HTTP_GET, WM_HTTP_HEAD, WM_HTTP_POST, WM_HTTP_CONNECT,
    WM_HTTP_PUT, WM_HTTP_OPTIONS, WM_HTTP_DELETE, WM_HTTP_GET,
};

/* A slice as its offset into base; a slice outside it is a parser bug. */
static void
fz_slice(int64_t *v, size_t *n, const wm_str_t *s, const u_char *base,
         size_t len)
{
    uintptr_t d = (uintptr_t) s->data, b = (uintptr_t) base;

    if (s->data == NULL) {
        v[(*n)++] = -1;
        v[(*n)++] = -1;
        return;
    }
    if (d < b || d - b > len || s->len > len - (d - b)) {
        abort();
    }
    v[(*n)++] = (int64_t) (d - b);
    v[(*n)++] = (int64_t) s->len;
}

/* The result of one parse as numbers, so that two parses in different
 * buffers compare with memcmp. */
static void
fz_result(int64_t *v, wm_int_t rc, const wm_http_status_t *st,
          const u_char *base, size_t len)
{
    const wm_str_t *slices[] = {
        &st->status_line, &st->reason, &st->transfer_encoding, &st->upgrade,
        &st->location, &st->content_type, &st->date, &st->server,
    };
    size_t n = 0, i;

    memset(v, 0, NVAL * sizeof(*v));
    v[n++] = rc;
    if (rc == WM_ERROR) {
        /* the same text, and in the parser's static strings */
        if (st->error == NULL || strncmp(st->error, "upstream sent ", 14) != 0)
        {
            abort();
        }
        v[n++] = (int64_t) (uintptr_t) st->error;
        return;
    }
    if (rc != WM_OK) {
        return;
    }
    v[n++] = st->version;
    v[n++] = st->status;
    v[n++] = st->interim;
    v[n++] = st->content_length;
    v[n++] = (int64_t) st->nset_cookie;
    v[n++] = st->keep_alive_timeout;
    v[n++] = st->chunked;
    v[n++] = st->keep_alive;
    v[n++] = st->conn_close;
    v[n++] = st->conn_keep_alive;
    v[n++] = st->conn_upgrade;
    v[n++] = (int64_t) st->nheaders;
    v[n++] = (int64_t) st->head_len;
    for (i = 0; i < wm_nelems(slices); i++) {
        fz_slice(v, &n, slices[i], base, len);
    }
    for (i = 0; i < st->nheaders; i++) {
        fz_slice(v, &n, &st->headers[i].name, base, len);
        fz_slice(v, &n, &st->headers[i].value, base, len);
    }
}

static u_char *
fz_dup(const u_char *src, size_t len)
{
    u_char *b = malloc(len ? len : 1);

    if (b == NULL) {
        abort();
    }
    memcpy(b, src, len);
    return b;
}

/* The contract of a parsed head and of its framing (wm_http_parse.h). */
static void
fz_check(const wm_http_status_t *st, size_t len, size_t nalloc,
         wm_uint_t method, wm_http_framing_t *f)
{
    wm_uint_t s = st->status;

    if (st->head_len == 0 || st->head_len > len || st->nheaders > nalloc
        || s < 100 || s > 599
        || (st->version != WM_HTTP_VERSION_10
            && st->version != WM_HTTP_VERSION_11)
        || st->interim != (s < 200 && s != 101)
        || (st->chunked && st->content_length != -1)
        || (st->chunked && st->version != WM_HTTP_VERSION_11)
        || st->keep_alive_timeout < -1 || st->keep_alive_timeout > 999999999
        || (st->keep_alive && st->conn_close))
    {
        abort();
    }
    wm_http_response_framing(st, method, f);
    switch (f->body) {
    case WM_HTTP_BODY_NONE:
        if (!(method == WM_HTTP_HEAD || st->interim || s == 204 || s == 304)
            || f->length != -1 || f->keep_alive != st->keep_alive)
        {
            abort();
        }
        break;
    case WM_HTTP_BODY_TUNNEL:
        if (!(s == 101 || (method == WM_HTTP_CONNECT && s / 100 == 2))
            || f->keep_alive)
        {
            abort();
        }
        break;
    case WM_HTTP_BODY_CHUNKED:
        if (!st->chunked || f->keep_alive != st->keep_alive) {
            abort();
        }
        break;
    case WM_HTTP_BODY_LENGTH:
        if (st->chunked || f->length < 0 || f->length != st->content_length
            || f->keep_alive != st->keep_alive)
        {
            abort();
        }
        break;
    case WM_HTTP_BODY_CLOSE:
        if (st->chunked || st->content_length != -1 || f->keep_alive) {
            abort();
        }
        break;
    default:
        abort();
    }
}

/* Parses a head in[0..len) three ways and aborts if they differ. Returns
 * the whole parse's code with its result in st (slices into *whole). */
static wm_int_t
fz_head(const wm_http_parse_conf_t *conf, size_t nalloc, const u_char *in,
        size_t len, size_t split, wm_http_status_t *st,
        wm_http_header_t *hdrs, u_char **whole)
{
    static int64_t a[NVAL], b[NVAL];
    wm_http_header_t h2[NHDRS];
    wm_http_status_t st2;
    wm_http_parser_t p, p2;
    u_char *w, *x, *y;
    wm_int_t rc, rc2 = WM_AGAIN;
    size_t i;

    w = fz_dup(in, len);
    wm_http_parser_init_status(&p, conf, st, hdrs, nalloc);
    rc = wm_http_parse_status(&p, w, len);
    fz_result(a, rc, st, w, len);
    if (memcmp(w, in, len) != 0
        || wm_http_parse_status(&p, w, len) != rc)
    {
        abort(); /* wrote to the buffer, or not sticky */
    }

    /* byte by byte, in a buffer that moves every 32 bytes */
    x = NULL;
    wm_http_parser_init_status(&p2, conf, &st2, h2, nalloc);
    for (i = 1; i <= len && rc2 == WM_AGAIN; i++) {
        if (x == NULL || i % 32 == 0) {
            y = fz_dup(in, len);
            free(x);
            x = y;
        }
        rc2 = wm_http_parse_status(&p2, x, i);
    }
    if (len == 0) {
        x = fz_dup(in, 0);
        rc2 = wm_http_parse_status(&p2, x, 0);
    }
    fz_result(b, rc2, &st2, x, len);
    if (memcmp(a, b, sizeof(a)) != 0) {
        fprintf(stderr, "byte by byte differs from whole\n");
        abort();
    }
    free(x);

    /* two pieces; the first buffer is freed, so a stale slice is caught */
    x = fz_dup(in, split);
    wm_http_parser_init_status(&p2, conf, &st2, h2, nalloc);
    rc2 = wm_http_parse_status(&p2, x, split);
    y = fz_dup(in, len);
    free(x);
    rc2 = wm_http_parse_status(&p2, y, len);
    fz_result(b, rc2, &st2, y, len);
    if (memcmp(a, b, sizeof(a)) != 0) {
        fprintf(stderr, "split at %zu differs from whole\n", split);
        abort();
    }
    free(y);

    *whole = w;
    return rc;
}

/* Decodes a chunked body; returns the bytes it took, 0 if it did not end
 * well within the input. */
static size_t
fz_chunked(const u_char *in, size_t len)
{
    wm_http_chunked_t c;
    u_char *copy = fz_dup(in, len);
    size_t off = 0, used;
    wm_int_t rc;
    wm_str_t d;

    wm_http_chunked_init(&c);
    do {
        rc = wm_http_chunked_parse(&c, copy + off, len - off, &used, &d);
        if (used > len - off) {
            abort();
        }
        off += used;
    } while (rc == WM_OK);
    free(copy);
    return rc == WM_DONE ? off : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wm_http_parse_conf_t conf;
    wm_http_header_t hdrs[NHDRS];
    wm_http_status_t st;
    wm_http_framing_t f;
    size_t nalloc, off, left, split, n, resp;
    wm_uint_t method;
    u_char *w;
    wm_int_t rc;
    uint8_t opt;

    if (size == 0) {
        return 0;
    }
    opt = data[0];
    data++;
    size--;

    method = fz_methods[opt & 7];
    wm_http_parse_conf_init(&conf);
    if (opt & 8) {
        conf.max_request_line = 40;
        conf.max_header_line = 24;
        conf.max_head = 160;
    }
    nalloc = (opt & 16) ? 3 : NHDRS;

    off = 0;
    for (resp = 0; resp < 8 && off < size; resp++) {
        left = size - off;
        split = (left > 1) ? (data[off + left - 1] * 7u + opt) % left : 0;
        rc = fz_head(&conf, nalloc, (const u_char *) data + off, left, split,
                     &st, hdrs, &w);
        if (rc != WM_OK) {
            free(w);
            break;
        }
        fz_check(&st, left, nalloc, method, &f);
        off += st.head_len;
        free(w);

        if (f.body == WM_HTTP_BODY_CHUNKED) {
            n = fz_chunked((const u_char *) data + off, size - off);
            if (n == 0) {
                break;
            }
            off += n;
        } else if (f.body == WM_HTTP_BODY_LENGTH) {
            if ((uint64_t) f.length > size - off) {
                break;
            }
            off += (size_t) f.length;
        } else if (!st.interim
                   && (f.body != WM_HTTP_BODY_NONE || !f.keep_alive))
        {
            break; /* the rest belongs to the tunnel or the close */
        }
    }
    return 0;
}
