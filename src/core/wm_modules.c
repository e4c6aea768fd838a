/*
 * The module registry: every module compiled into wmproxy, in the order
 * their directives are looked up and their hooks run. A new module adds
 * one line here. The modules are named by extern declarations only, so
 * that src/core includes no header of another folder.
 */
#include "wm_conf.h"

extern wm_module_t wm_core_module;
extern wm_module_t wm_http_core_module;
extern wm_module_t wm_http_static_module;
extern wm_module_t wm_http_rewrite_module;
extern wm_module_t wm_http_ssl_module;
extern wm_module_t wm_http_compress_module;
extern wm_module_t wm_http_gzip_module;
extern wm_module_t wm_http_brotli_module;
extern wm_module_t wm_http_zstd_module;
extern wm_module_t wm_http_static_compressed_module;
extern wm_module_t wm_http_realip_module;
extern wm_module_t wm_http_access_module;
extern wm_module_t wm_stream_access_module;
extern wm_module_t wm_stream_limit_conn_module;
extern wm_module_t wm_http_log_module;
extern wm_module_t wm_http_try_files_module;
extern wm_module_t wm_http_autoindex_module;
extern wm_module_t wm_http_headers_module;
extern wm_module_t wm_http_upstream_module;
extern wm_module_t wm_http_proxy_module;
extern wm_module_t wm_http_proxy_ssl_module;
extern wm_module_t wm_stream_core_module;
extern wm_module_t wm_stream_return_module;
extern wm_module_t wm_stream_proxy_module;
extern wm_module_t wm_stream_upstream_module;
extern wm_module_t wm_stream_ssl_preread_module;
extern wm_module_t wm_stream_log_module;
extern wm_module_t wm_http_map_module;
extern wm_module_t wm_stream_map_module;
extern wm_module_t wm_stream_udp_module;
extern wm_module_t wm_stream_ssl_module;
extern wm_module_t wm_stream_proxy_ssl_module;
extern wm_module_t wm_http_charset_module;
extern wm_module_t wm_http_limit_rate_module;
extern wm_module_t wm_http_auth_basic_module;
extern wm_module_t wm_http_compat_module;
extern wm_module_t wm_cpu_affinity_module;
extern wm_module_t wm_ssl_ocsp_module;

wm_module_t *wm_modules[] = {
    &wm_core_module,
    &wm_http_core_module,
    &wm_http_static_module,
    &wm_http_rewrite_module,
    &wm_http_ssl_module,
    &wm_http_compress_module,
    &wm_http_gzip_module,
    &wm_http_brotli_module,
    &wm_http_zstd_module,
    &wm_http_static_compressed_module,
    &wm_http_realip_module,
    &wm_http_access_module,
    &wm_http_log_module,
    &wm_http_try_files_module,
    &wm_http_autoindex_module,
    &wm_http_headers_module,
    &wm_http_upstream_module,
    &wm_http_proxy_module,
    &wm_http_proxy_ssl_module,
    &wm_stream_core_module,
    &wm_stream_return_module,
    &wm_stream_proxy_module,
    &wm_stream_upstream_module,
    &wm_stream_limit_conn_module,
    &wm_stream_access_module,
    &wm_stream_ssl_preread_module,
    &wm_stream_log_module,
    &wm_http_map_module,
    &wm_stream_map_module,
    &wm_stream_udp_module,
    &wm_stream_ssl_module,
    &wm_stream_proxy_ssl_module,
    &wm_http_charset_module,
    &wm_http_limit_rate_module,
    &wm_http_auth_basic_module,
    &wm_http_compat_module,
    &wm_cpu_affinity_module,
    &wm_ssl_ocsp_module,
    NULL,
};

wm_uint_t wm_modules_n;

void
wm_modules_init(void)
{
    wm_uint_t i;

    for (i = 0; wm_modules[i]; i++) {
        wm_modules[i]->index = i;
    }
    wm_modules_n = i;
}
