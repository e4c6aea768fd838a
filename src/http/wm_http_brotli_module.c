/*
 * The br content coding: its directives (brotli, brotli_types,
 * brotli_min_length, brotli_comp_level, as the ngx_brotli module names
 * them) and its stream encoder on libbrotlienc. The directives exist in
 * every build; without the library `brotli on` is a configuration error.
 */
#include "wm_http_compress.h"

#ifdef WM_HAVE_BROTLI
#include <brotli/encode.h>
#endif

/* The largest window: 512 KiB, as ngx_brotli's default brotli_window. */
#define WM_HTTP_BROTLI_LGWIN 19

static void *wm_http_brotli_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_brotli_merge(wm_conf_t *cf, void *prev, void *conf,
                                        unsigned level);

#define WM_BR_LOC WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC

static const wm_conf_bounds_t wm_http_brotli_levels = {0, 11};

static const wm_command_t wm_http_brotli_commands[] = {
    {"brotli", WM_BR_LOC | WM_CTX_HTTP_LIF, 1, 1, 0, WM_LVL_LOC,
     wm_http_coding_set_enable, offsetof(wm_http_coding_conf_t, enable),
     &wm_http_brotli_encoder, "off", "compress responses with brotli (br)"},
    {"brotli_types", WM_BR_LOC, 1, WM_ARGS_MANY, 0, WM_LVL_LOC,
     wm_http_coding_set_types, 0, NULL, "text/html",
     "MIME types compressed with brotli besides text/html; * for all"},
    {"brotli_min_length", WM_BR_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_size,
     offsetof(wm_http_coding_conf_t, min_length), NULL, "20",
     "shortest Content-Length compressed with brotli"},
    {"brotli_comp_level", WM_BR_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_num,
     offsetof(wm_http_coding_conf_t, comp_level), &wm_http_brotli_levels, "6",
     "brotli quality, 0 to 11"},
    wm_null_command,
};

wm_module_t wm_http_brotli_module = {
    .name = "http_brotli",
    .family = WM_MOD_HTTP,
    .commands = wm_http_brotli_commands,
    .create_conf = wm_http_brotli_create,
    .merge_conf = wm_http_brotli_merge,
};

#ifdef WM_HAVE_BROTLI

static void *
wm_http_brotli_new(wm_int_t level, int64_t size_hint)
{
    BrotliEncoderState *s = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    int lgwin = WM_HTTP_BROTLI_LGWIN;

    if (s == NULL) {
        return NULL;
    }
    if (size_hint >= 0) {
        while (lgwin > BROTLI_MIN_WINDOW_BITS
               && size_hint <= (int64_t) 1 << (lgwin - 1))
        {
            lgwin--;
        }
        BrotliEncoderSetParameter(s, BROTLI_PARAM_SIZE_HINT,
                                  (uint32_t) wm_min(size_hint, 1 << 30));
    }
    BrotliEncoderSetParameter(s, BROTLI_PARAM_QUALITY, (uint32_t) level);
    BrotliEncoderSetParameter(s, BROTLI_PARAM_LGWIN, (uint32_t) lgwin);
    return s;
}

static wm_int_t
wm_http_brotli_compress(void *state, const u_char *in, size_t len, bool finish,
                        struct evbuffer *out)
{
    BrotliEncoderState *s = state;
    const uint8_t *next_in = in;
    size_t avail_in = len;

    for (;;) {
        size_t avail_out = 0;

        /* No output buffer: what is ready is taken below, without a copy
         * into a buffer of ours first. */
        if (!BrotliEncoderCompressStream(
                s, finish ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_PROCESS,
                &avail_in, &next_in, &avail_out, NULL, NULL))
        {
            return WM_ERROR;
        }
        while (BrotliEncoderHasMoreOutput(s)) {
            size_t n = 0;
            const uint8_t *p = BrotliEncoderTakeOutput(s, &n);

            if (n && evbuffer_add(out, p, n) != 0) {
                return WM_ERROR;
            }
        }
        if (finish ? BrotliEncoderIsFinished(s) : avail_in == 0) {
            return WM_OK;
        }
    }
}

static void
wm_http_brotli_free(void *state)
{
    BrotliEncoderDestroyInstance(state);
}

const wm_http_encoder_t wm_http_brotli_encoder = {
    .coding = WM_HTTP_CODING_BR,
    .name = "brotli",
    .lib = "brotli",
    .create = wm_http_brotli_new,
    .compress = wm_http_brotli_compress,
    .destroy = wm_http_brotli_free,
};

#else

const wm_http_encoder_t wm_http_brotli_encoder = {
    .coding = WM_HTTP_CODING_BR,
    .name = "brotli",
    .lib = "brotli",
};

#endif

static void *
wm_http_brotli_create(wm_conf_t *cf, unsigned level)
{
    return wm_http_coding_conf_create(cf, level);
}

static const char *
wm_http_brotli_merge(wm_conf_t *cf, void *prev, void *conf, unsigned level)
{
    if (level != WM_LVL_LOC) {
        return NULL;
    }
    return wm_http_coding_conf_merge(prev, conf, 6);
}
