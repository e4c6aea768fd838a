/*
 * Unit tests for the compression modules' pure parts: each built-in
 * encoder's stream, fed in slices of several sizes and decoded back with
 * the library's decoder, and the gzip_proxied and gzip_disable msie6
 * rules. Encoders that were not built in are checked to be absent.
 */
#include "wm_http_compress.h"
#include "tap.h"

#ifdef WM_HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef WM_HAVE_BROTLI
#include <brotli/decode.h>
#endif
#ifdef WM_HAVE_ZSTD
#include <zstd.h>
#endif

/* Text that compresses, with some noise so that it is not trivial. */
static u_char *
make_input(size_t len)
{
    u_char *p = malloc(len ? len : 1);
    uint32_t seed = 7;
    size_t i;

    for (i = 0; i < len; i++) {
        seed = seed * 1103515245 + 12345;
        p[i] = (seed >> 16) % 5 == 0 ? (u_char) ('a' + (seed >> 20) % 26)
                                     : (u_char) ("lorem ipsum dolor\n"[i % 18]);
    }
    return p;
}

/* Compresses in through enc in slices of `slice` bytes into a flat
 * malloc'd buffer; NULL on an encoder error. */
static u_char *
encode(const wm_http_encoder_t *enc, int level, const u_char *in, size_t len,
       size_t slice, bool hint, size_t *outlen)
{
    struct evbuffer *out = evbuffer_new();
    void *st = enc->create(level, hint ? (int64_t) len : -1);
    u_char *flat = NULL;
    size_t off = 0;

    if (st == NULL || out == NULL) {
        goto done;
    }
    while (off < len) {
        size_t n = wm_min(slice, len - off);

        if (enc->compress(st, in + off, n, false, out) != WM_OK) {
            goto done;
        }
        off += n;
    }
    if (enc->compress(st, NULL, 0, true, out) != WM_OK) {
        goto done;
    }
    *outlen = evbuffer_get_length(out);
    flat = malloc(*outlen + 1);
    evbuffer_remove(out, flat, *outlen);
done:
    if (st) {
        enc->destroy(st);
    }
    if (out) {
        evbuffer_free(out);
    }
    return flat;
}

/* Decodes with the library's own decoder; NULL on a corrupt stream. */
static u_char *
decode(wm_http_coding_t coding, const u_char *in, size_t len, size_t want)
{
    u_char *out = malloc(want + 1);
    size_t got = 0;

    (void) in;
    (void) len;
#ifdef WM_HAVE_ZLIB
    if (coding == WM_HTTP_CODING_GZIP) {
        z_stream z;

        memset(&z, 0, sizeof(z));
        if (inflateInit2(&z, 16 + 15) != Z_OK) {
            free(out);
            return NULL;
        }
        z.next_in = (Bytef *) in;
        z.avail_in = (uInt) len;
        z.next_out = out;
        z.avail_out = (uInt) want + 1;
        if (inflate(&z, Z_FINISH) != Z_STREAM_END || z.avail_in != 0) {
            inflateEnd(&z);
            free(out);
            return NULL;
        }
        got = z.total_out;
        inflateEnd(&z);
    }
#endif
#ifdef WM_HAVE_BROTLI
    if (coding == WM_HTTP_CODING_BR) {
        size_t n = want + 1;

        if (BrotliDecoderDecompress(len, in, &n, out)
            != BROTLI_DECODER_RESULT_SUCCESS) {
            free(out);
            return NULL;
        }
        got = n;
    }
#endif
#ifdef WM_HAVE_ZSTD
    if (coding == WM_HTTP_CODING_ZSTD) {
        size_t n = ZSTD_decompress(out, want + 1, in, len);

        if (ZSTD_isError(n)) {
            free(out);
            return NULL;
        }
        got = n;
    }
#endif
    if (got != want) {
        free(out);
        return NULL;
    }
    return out;
}

static void
roundtrip(const wm_http_encoder_t *enc, int level, size_t len, size_t slice,
          bool hint)
{
    u_char *in = make_input(len), *z, *back;
    size_t zlen = 0;
    char name[128];

    snprintf(name, sizeof(name), "%s level %d: %zu bytes in %zu-byte slices%s",
             enc->name, level, len, slice, hint ? ", size hint" : "");
    z = encode(enc, level, in, len, slice, hint, &zlen);
    back = z ? decode(enc->coding, z, zlen, len) : NULL;
    if (ok(back && memcmp(back, in, len) == 0, name) && len >= 4096) {
        ok(zlen < len / 2, "  ... and it got smaller");
    }
    free(in);
    free(z);
    free(back);
}

static void
test_encoder(const wm_http_encoder_t *enc, bool built, int lo, int hi)
{
    static const size_t lens[] = {0, 1, 100, 70000, 1 << 20};
    static const size_t slices[] = {1, 4096, 65536};
    size_t i, j;

    if (!built) {
        ok(enc->create == NULL, "not built in: no encoder");
        return;
    }
    ok(enc->create && enc->compress && enc->destroy, "built in: an encoder");
    for (i = 0; i < wm_nelems(lens); i++) {
        for (j = 0; j < wm_nelems(slices); j++) {
            if (slices[j] == 1 && lens[i] > 100) {
                continue;
            }
            roundtrip(enc, lo, lens[i], slices[j], j == 1);
        }
    }
    roundtrip(enc, hi, 70000, 65536, false);
    roundtrip(enc, hi, 300, 65536, true);
}

static bool
proxied(wm_int_t flags, const char *expires, const char *cc, bool auth, bool lm,
        bool etag)
{
    wm_str_t e = {expires ? strlen(expires) : 0, (u_char *) expires};
    wm_str_t c = {cc ? strlen(cc) : 0, (u_char *) cc};
    wm_http_proxied_t p = {
        .expires = expires ? &e : NULL,
        .cache_control = cc ? &c : NULL,
        .now = 1700000000, /* Tue, 14 Nov 2023 22:13:20 GMT */
        .authorization = auth,
        .last_modified = lm,
        .etag = etag,
    };

    return wm_http_compress_proxied_ok(flags, &p);
}

static void
test_proxied(void)
{
    const char *past = "Tue, 14 Nov 2023 22:13:19 GMT";
    const char *future = "Tue, 14 Nov 2023 22:13:21 GMT";

    ok(!proxied(WM_HTTP_PROXIED_OFF, NULL, NULL, true, false, false),
       "proxied off refuses");
    ok(proxied(WM_HTTP_PROXIED_ANY, future, "no-transform", false, true, true),
       "proxied any allows");
    ok(proxied(WM_HTTP_PROXIED_AUTH, future, NULL, true, true, true),
       "auth allows a request with Authorization");
    ok(!proxied(WM_HTTP_PROXIED_AUTH, future, NULL, false, true, true),
       "auth alone refuses a request without it (Expires present)");
    ok(proxied(WM_HTTP_PROXIED_EXPIRED, past, NULL, false, true, true),
       "expired allows an Expires in the past");
    ok(!proxied(WM_HTTP_PROXIED_EXPIRED, future, NULL, false, true, true),
       "expired refuses an Expires in the future");
    ok(!proxied(WM_HTTP_PROXIED_EXPIRED, "0", NULL, false, false, false),
       "expired refuses an invalid Expires");
    ok(!proxied(WM_HTTP_PROXIED_NO_CACHE, past, NULL, false, false, false),
       "an Expires without expired refuses");
    ok(proxied(WM_HTTP_PROXIED_NO_CACHE, NULL, "max-age=0, No-Cache", false,
               true, true),
       "no-cache allows Cache-Control: no-cache (any case)");
    ok(proxied(WM_HTTP_PROXIED_NO_STORE, NULL, "no-store", false, true, true),
       "no-store allows Cache-Control: no-store");
    ok(proxied(WM_HTTP_PROXIED_PRIVATE, NULL, "private", false, true, true),
       "private allows Cache-Control: private");
    ok(!proxied(WM_HTTP_PROXIED_NO_CACHE, NULL, "private", false, false, false),
       "a Cache-Control without a matching flag refuses");
    ok(!proxied(WM_HTTP_PROXIED_NO_LM, NULL, NULL, false, true, false),
       "no_last_modified refuses a response with Last-Modified");
    ok(proxied(WM_HTTP_PROXIED_NO_LM, NULL, NULL, false, false, true),
       "no_last_modified allows one without");
    ok(!proxied(WM_HTTP_PROXIED_NO_ETAG, NULL, NULL, false, false, true),
       "no_etag refuses a response with an ETag");
    ok(proxied(WM_HTTP_PROXIED_NO_ETAG, NULL, NULL, false, true, false),
       "no_etag allows one without");
}

static bool
msie6(const char *ua)
{
    wm_str_t s = {strlen(ua), (u_char *) ua};

    return wm_http_compress_is_msie6(&s);
}

static void
test_msie6(void)
{
    ok(msie6("Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)"), "MSIE 5.5");
    ok(msie6("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.0)"), "MSIE 6.0");
    ok(!msie6("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)"),
       "MSIE 6.0 SV1 (XP SP2) is not");
    ok(!msie6("Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)"),
       "MSIE 7.0 is not");
    ok(!msie6("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1) Opera 8.5"),
       "Opera is not");
    ok(!msie6("curl/8.0"), "curl is not");
    ok(!msie6("MSIE 6"), "a cut-off MSIE is not");
}

int
main(void)
{
#ifdef WM_HAVE_ZLIB
    test_encoder(&wm_http_gzip_encoder, true, 1, 9);
#else
    test_encoder(&wm_http_gzip_encoder, false, 1, 9);
#endif
#ifdef WM_HAVE_BROTLI
    test_encoder(&wm_http_brotli_encoder, true, 6, 11);
    roundtrip(&wm_http_brotli_encoder, 0, 70000, 4096, true);
#else
    test_encoder(&wm_http_brotli_encoder, false, 6, 11);
#endif
#ifdef WM_HAVE_ZSTD
    test_encoder(&wm_http_zstd_encoder, true, 1, 19);
#else
    test_encoder(&wm_http_zstd_encoder, false, 1, 19);
#endif
    test_proxied();
    test_msie6();
    return tap_done();
}
