/*
 * The zstd content coding: its directives (zstd, zstd_types,
 * zstd_min_length, zstd_comp_level, as the nginx zstd module names them)
 * and its stream encoder on libzstd. The directives exist in every build;
 * without the library `zstd on` is a configuration error.
 */
#include "wm_http_compress.h"

#ifdef WM_HAVE_ZSTD
#include <zstd.h>
#endif

/* Output reserved per ZSTD_compressStream2() call. */
#define WM_HTTP_ZSTD_OUT 16384
/* Bodies shorter than 2^19 bytes get a window just their size. */
#define WM_HTTP_ZSTD_WINDOWLOG 19
/* zstd's smallest window (ZSTD_WINDOWLOG_MIN is not in its stable API). */
#define WM_HTTP_ZSTD_WINDOWLOG_MIN 10

static void *wm_http_zstd_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_zstd_merge(wm_conf_t *cf, void *prev, void *conf,
                                      unsigned level);

#define WM_ZS_LOC WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC

static const wm_conf_bounds_t wm_http_zstd_levels = {1, 22};

static const wm_command_t wm_http_zstd_commands[] = {
    {"zstd", WM_ZS_LOC | WM_CTX_HTTP_LIF, 1, 1, 0, WM_LVL_LOC,
     wm_http_coding_set_enable, offsetof(wm_http_coding_conf_t, enable),
     &wm_http_zstd_encoder, "off", "compress responses with zstd"},
    {"zstd_types", WM_ZS_LOC, 1, WM_ARGS_MANY, 0, WM_LVL_LOC,
     wm_http_coding_set_types, 0, NULL, "text/html",
     "MIME types compressed with zstd besides text/html; * for all"},
    {"zstd_min_length", WM_ZS_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_size,
     offsetof(wm_http_coding_conf_t, min_length), NULL, "20",
     "shortest Content-Length compressed with zstd"},
    {"zstd_comp_level", WM_ZS_LOC, 1, 1, 0, WM_LVL_LOC, wm_conf_set_num,
     offsetof(wm_http_coding_conf_t, comp_level), &wm_http_zstd_levels, "1",
     "zstd compression level, 1 to 22"},
    wm_null_command,
};

wm_module_t wm_http_zstd_module = {
    .name = "http_zstd",
    .family = WM_MOD_HTTP,
    .commands = wm_http_zstd_commands,
    .create_conf = wm_http_zstd_create,
    .merge_conf = wm_http_zstd_merge,
};

#ifdef WM_HAVE_ZSTD

static void *
wm_http_zstd_new(wm_int_t level, int64_t size_hint)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    int wlog = WM_HTTP_ZSTD_WINDOWLOG;

    if (cctx == NULL) {
        return NULL;
    }
    if (ZSTD_isError(
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, (int) level)))
    {
        ZSTD_freeCCtx(cctx);
        return NULL;
    }
    if (size_hint >= 0 && size_hint < (int64_t) 1 << wlog) {
        while (wlog > WM_HTTP_ZSTD_WINDOWLOG_MIN
               && size_hint <= (int64_t) 1 << (wlog - 1))
        {
            wlog--;
        }
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, wlog);
    }
    return cctx;
}

static wm_int_t
wm_http_zstd_compress(void *state, const u_char *in, size_t len, bool finish,
                      struct evbuffer *out)
{
    ZSTD_inBuffer ib = {in, len, 0};
    struct evbuffer_iovec v;
    size_t left;

    for (;;) {
        ZSTD_outBuffer ob;

        if (evbuffer_reserve_space(out, WM_HTTP_ZSTD_OUT, &v, 1) < 1) {
            return WM_ERROR;
        }
        ob.dst = v.iov_base;
        ob.size = v.iov_len;
        ob.pos = 0;
        left = ZSTD_compressStream2(state, &ob, &ib,
                                    finish ? ZSTD_e_end : ZSTD_e_continue);
        v.iov_len = ob.pos;
        evbuffer_commit_space(out, &v, 1);
        if (ZSTD_isError(left)) {
            return WM_ERROR;
        }
        if (finish ? left == 0 : ib.pos == ib.size) {
            return WM_OK;
        }
    }
}

static void
wm_http_zstd_free(void *state)
{
    ZSTD_freeCCtx(state);
}

const wm_http_encoder_t wm_http_zstd_encoder = {
    .coding = WM_HTTP_CODING_ZSTD,
    .name = "zstd",
    .lib = "zstd",
    .create = wm_http_zstd_new,
    .compress = wm_http_zstd_compress,
    .destroy = wm_http_zstd_free,
};

#else

const wm_http_encoder_t wm_http_zstd_encoder = {
    .coding = WM_HTTP_CODING_ZSTD,
    .name = "zstd",
    .lib = "zstd",
};

#endif

static void *
wm_http_zstd_create(wm_conf_t *cf, unsigned level)
{
    return wm_http_coding_conf_create(cf, level);
}

static const char *
wm_http_zstd_merge(wm_conf_t *cf, void *prev, void *conf, unsigned level)
{
    if (level != WM_LVL_LOC) {
        return NULL;
    }
    return wm_http_coding_conf_merge(prev, conf, 1);
}
