/*
 * The gzip content coding: its directives (gzip, gzip_types,
 * gzip_min_length, gzip_comp_level) and its encoders: a stream encoder on
 * zlib, and, when libdeflate is built in, a whole-body one for bodies that
 * are all in memory at once (static files up to 1 MiB), which compresses
 * two to three times faster than zlib at the same level. The directives
 * exist in every build; without zlib the encoder is missing and `gzip on`
 * is a configuration error.
 */
#include "wm_http_compress.h"

#ifdef WM_HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef WM_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

/* Output reserved per deflate() call. */
#define WM_HTTP_GZIP_OUT 16384

static void *wm_http_gzip_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_gzip_merge(wm_conf_t *cf, void *prev, void *conf,
                                      unsigned level);

#define WM_GZ_LOC WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC

static const wm_conf_bounds_t wm_http_gzip_levels = {1, 9};

static const wm_command_t wm_http_gzip_commands[] = {
    {"gzip", WM_GZ_LOC | WM_CTX_HTTP_LIF, 1, 1, 0, WM_LVL_LOC,
     wm_http_coding_set_enable, offsetof(wm_http_coding_conf_t, enable),
     &wm_http_gzip_encoder, "off", "compress responses with gzip"},
    {"gzip_types", WM_GZ_LOC, 1, WM_ARGS_MANY, 0, WM_LVL_LOC,
     wm_http_coding_set_types, 0, NULL, "text/html",
     "MIME types compressed with gzip besides text/html; * for all"},
    {"gzip_min_length", WM_GZ_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_size,
     offsetof(wm_http_coding_conf_t, min_length), NULL, "20",
     "shortest Content-Length compressed with gzip"},
    {"gzip_comp_level", WM_GZ_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_num,
     offsetof(wm_http_coding_conf_t, comp_level), &wm_http_gzip_levels, "1",
     "gzip compression level, 1 to 9"},
    wm_null_command,
};

wm_module_t wm_http_gzip_module = {
    .name = "http_gzip",
    .family = WM_MOD_HTTP,
    .commands = wm_http_gzip_commands,
    .create_conf = wm_http_gzip_create,
    .merge_conf = wm_http_gzip_merge,
};

#ifdef WM_HAVE_ZLIB

static void *
wm_http_gzip_new(wm_int_t level, int64_t size_hint)
{
    z_stream *z = calloc(1, sizeof(*z));
    int wbits = 15, memlevel = 8;

    if (z == NULL) {
        return NULL;
    }
    /* A short body needs no 32 KiB window (nginx sizes it the same way). */
    if (size_hint >= 0) {
        while (wbits > 9 && size_hint < (1 << (wbits - 1)) - 262) {
            wbits--;
            memlevel--;
        }
        if (memlevel < 1) {
            memlevel = 1;
        }
    }
    if (deflateInit2(z, (int) level, Z_DEFLATED, wbits + 16, memlevel,
                     Z_DEFAULT_STRATEGY)
        != Z_OK)
    {
        free(z);
        return NULL;
    }
    return z;
}

static wm_int_t
wm_http_gzip_compress(void *state, const u_char *in, size_t len, bool finish,
                      struct evbuffer *out)
{
    z_stream *z = state;
    struct evbuffer_iovec v;
    int rc;

    z->next_in = (Bytef *) in;
    z->avail_in = (uInt) len;
    for (;;) {
        if (evbuffer_reserve_space(out, WM_HTTP_GZIP_OUT, &v, 1) < 1) {
            return WM_ERROR;
        }
        z->next_out = v.iov_base;
        z->avail_out = (uInt) wm_min(v.iov_len, UINT32_MAX);
        rc = deflate(z, finish ? Z_FINISH : Z_NO_FLUSH);
        v.iov_len = (size_t) (z->next_out - (Bytef *) v.iov_base);
        evbuffer_commit_space(out, &v, 1);
        if (rc == Z_STREAM_END) {
            return WM_OK;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return WM_ERROR;
        }
        if (!finish && z->avail_in == 0 && z->avail_out != 0) {
            return WM_OK;
        }
    }
}

static void
wm_http_gzip_free(void *state)
{
    deflateEnd(state);
    free(state);
}

#ifdef WM_HAVE_LIBDEFLATE

/*
 * One compressor per level per worker, made at first use and kept for the
 * life of the process (libdeflate compressors hold no stream state between
 * calls). gzip_comp_level 1-9 maps to the same libdeflate level.
 */
static wm_int_t
wm_http_gzip_once(wm_int_t level, const u_char *in, size_t len,
                  struct evbuffer *out)
{
    static struct libdeflate_compressor *compressors[10];
    struct libdeflate_compressor *c;
    struct evbuffer_iovec v;
    size_t bound, n;

    if (level < 1 || level > 9) {
        return WM_ERROR;
    }
    c = compressors[level];
    if (c == NULL) {
        c = libdeflate_alloc_compressor((int) level);
        if (c == NULL) {
            return WM_ERROR;
        }
        compressors[level] = c;
    }
    bound = libdeflate_gzip_compress_bound(c, len);
    if (evbuffer_reserve_space(out, (ev_ssize_t) bound, &v, 1) < 1
        || v.iov_len < bound) {
        return WM_ERROR;
    }
    n = libdeflate_gzip_compress(c, in, len, v.iov_base, v.iov_len);
    v.iov_len = n;
    evbuffer_commit_space(out, &v, 1);
    return n ? WM_OK : WM_ERROR;
}

#endif

const wm_http_encoder_t wm_http_gzip_encoder = {
    .coding = WM_HTTP_CODING_GZIP,
    .name = "gzip",
    .lib = "zlib",
    .create = wm_http_gzip_new,
    .compress = wm_http_gzip_compress,
    .destroy = wm_http_gzip_free,
#ifdef WM_HAVE_LIBDEFLATE
    .compress_once = wm_http_gzip_once,
#endif
};

#else

const wm_http_encoder_t wm_http_gzip_encoder = {
    .coding = WM_HTTP_CODING_GZIP,
    .name = "gzip",
    .lib = "zlib",
};

#endif

static void *
wm_http_gzip_create(wm_conf_t *cf, unsigned level)
{
    return wm_http_coding_conf_create(cf, level);
}

static const char *
wm_http_gzip_merge(wm_conf_t *cf, void *prev, void *conf, unsigned level)
{
    if (level != WM_LVL_LOC) {
        return NULL;
    }
    return wm_http_coding_conf_merge(prev, conf, 1);
}
