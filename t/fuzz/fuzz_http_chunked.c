/*
 * Split-point differential fuzz target of the chunked decoder as the proxy
 * runs it on upstream response bodies (wm_http_proxy_dechunk() over the
 * upstream's input evbuffer). The body is decoded whole from one buffer of
 * its exact size, byte by byte from buffers freed as soon as they are
 * read, and through wm_http_proxy_dechunk() from evbuffers that receive
 * it in chains of random sizes (as reads from the network) and in two
 * pieces; the data, result, bytes taken and what is left must agree, and
 * every call must keep the contract of wm_http_parse.h.
 *
 * Input: byte 0 picks options (bit 0 small limits), byte 1 seeds the chain
 * sizes; the rest is what an upstream sent after the head.
 */
#include "wm_http_proxy.h"

#include <event2/buffer.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    wm_int_t rc;     /* WM_AGAIN when the input ended inside the body */
    size_t used;     /* bytes of the input taken */
    uint64_t total;  /* c->total */
    const char *err; /* c->error */
    u_char *out;     /* the decoded data */
    size_t nout;
} fz_run_t;

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

static void
fz_init(wm_http_chunked_t *c, uint8_t opt)
{
    wm_http_chunked_init(c);
    if (opt & 1) {
        c->max_line = 16;
        c->max_trailer = 32;
    }
}

/* One call of the decoder, with its contract checked. */
static wm_int_t
fz_call(wm_http_chunked_t *c, u_char *buf, size_t len, size_t *used,
        fz_run_t *r)
{
    wm_str_t d = {0, NULL};
    wm_int_t rc = wm_http_chunked_parse(c, buf, len, used, &d);

    if (*used > len) {
        abort();
    }
    switch (rc) {
    case WM_OK:
        if (d.len == 0 || d.data < buf || d.data + d.len > buf + *used) {
            abort();
        }
        memcpy(r->out + r->nout, d.data, d.len);
        r->nout += d.len;
        break;
    case WM_AGAIN:
        if (*used != len) {
            abort();
        }
        break;
    case WM_DONE:
    case WM_ERROR:
        if ((rc == WM_ERROR) != (c->error != NULL)) {
            abort();
        }
        break;
    default:
        abort();
    }
    return rc;
}

/* Decodes in[0..len) fed `step` bytes at a time (0: whole), each piece in
 * a buffer of its own that is freed once read. */
static void
fz_direct(const u_char *in, size_t len, size_t step, uint8_t opt, fz_run_t *r)
{
    wm_http_chunked_t c;
    size_t off = 0, used, n;
    wm_int_t rc = WM_AGAIN;

    fz_init(&c, opt);
    r->out = malloc(len ? len : 1);
    r->nout = 0;
    if (r->out == NULL) {
        abort();
    }
    while (off < len && rc == WM_AGAIN) {
        size_t end = step ? wm_min(len, off + step) : len;
        u_char *b = fz_dup(in + off, end - off);
        size_t at = 0;

        do {
            rc = fz_call(&c, b + at, end - off - at, &used, r);
            at += used;
        } while (rc == WM_OK);
        free(b);
        off += at;
    }
    if (rc == WM_DONE || rc == WM_ERROR) {
        u_char x = 0;

        if (wm_http_chunked_parse(&c, &x, 1, &n, &(wm_str_t){0, NULL}) != rc
            || n != 0) {
            abort(); /* not sticky */
        }
    }
    r->rc = rc;
    r->used = off;
    r->total = c.total;
    r->err = c.error;
    if (r->total != r->nout) {
        abort();
    }
}

/* Decodes through wm_http_proxy_dechunk(), the input arriving in chains of
 * the sizes sizes[] gives (cycled), `burst` chains before each call. */
static void
fz_proxy(const u_char *in, size_t len, const uint8_t *sizes, size_t nsizes,
         size_t burst, uint8_t opt, fz_run_t *r)
{
    struct evbuffer *ib = evbuffer_new(), *ob = evbuffer_new();
    u_char *copy = fz_dup(in, len);
    wm_http_chunked_t c;
    size_t off = 0, k = 0, used = 0, left;
    wm_int_t rc = WM_AGAIN;

    if (ib == NULL || ob == NULL) {
        abort();
    }
    fz_init(&c, opt);
    while (off < len && rc == WM_AGAIN) {
        size_t j;

        for (j = 0; j < burst && off < len; j++, k++) {
            size_t n = wm_min(len - off, (size_t) sizes[k % nsizes] % 97 + 1);

            /* a chain of its own, as a read into a fresh buffer */
            if (evbuffer_add_reference(ib, copy + off, n, NULL, NULL) != 0) {
                abort();
            }
            off += n;
        }
        left = evbuffer_get_length(ib);
        rc = wm_http_proxy_dechunk(&c, ib, ob, &used);
        if ((rc == WM_AGAIN && evbuffer_get_length(ib) != 0)
            || evbuffer_get_length(ib) > left
            || (rc == WM_ERROR && c.error == NULL))
        {
            abort();
        }
    }
    r->rc = rc;
    r->used = used;
    r->total = c.total;
    r->err = c.error;
    r->nout = evbuffer_get_length(ob);
    r->out = malloc(r->nout ? r->nout : 1);
    if (r->out == NULL || evbuffer_remove(ob, r->out, r->nout) != (int) r->nout
        || r->total != r->nout
        || (rc != WM_ERROR && evbuffer_get_length(ib) != off - used))
    {
        abort();
    }
    evbuffer_free(ib);
    evbuffer_free(ob);
    free(copy);
}

/* b must agree with a, the whole decode. */
static void
fz_same(const fz_run_t *a, const fz_run_t *b, const char *how)
{
    if (a->rc != b->rc || a->err != b->err || a->nout != b->nout
        || memcmp(a->out, b->out, a->nout) != 0
        || (a->rc != WM_ERROR && a->used != b->used))
    {
        fprintf(stderr,
                "%s differs from whole: rc %d/%d used %zu/%zu "
                "out %zu/%zu\n",
                how, (int) a->rc, (int) b->rc, a->used, b->used, a->nout,
                b->nout);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run_t whole, other;
    uint8_t opt, seed, one[1];
    size_t split;

    if (size < 2) {
        return 0;
    }
    opt = data[0];
    seed = data[1];
    data += 2;
    size -= 2;

    fz_direct(data, size, 0, opt, &whole);

    fz_direct(data, size, 1, opt, &other);
    fz_same(&whole, &other, "byte by byte");
    free(other.out);

    /* chains sized by the body's own bytes, one and three per call */
    fz_proxy(data, size, size ? data : &seed, size ? size : 1, 1, opt, &other);
    fz_same(&whole, &other, "evbuffer chains");
    free(other.out);
    one[0] = seed;
    fz_proxy(data, size, one, 1, 3, opt, &other);
    fz_same(&whole, &other, "evbuffer, equal chains");
    free(other.out);

    /* pieces of a size the seed picks */
    split = size ? (seed * 131u) % size : 0;
    fz_direct(data, size, split ? split : size, opt, &other);
    fz_same(&whole, &other, "pieces of a split");
    free(other.out);

    free(whole.out);
    return 0;
}
