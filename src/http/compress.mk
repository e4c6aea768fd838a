# src/http: the compress modules (sources, unit tests). Every file is built
# whatever configure found: the directives always exist, and each coding's
# encoder is compiled in under WM_HAVE_ZLIB / WM_HAVE_BROTLI / WM_HAVE_ZSTD.
libwm_a_SOURCES += \
	src/http/wm_http_compress.h \
	src/http/wm_http_compress.c \
	src/http/wm_http_file_cache.h \
	src/http/wm_http_file_cache.c \
	src/http/wm_http_gzip_module.c \
	src/http/wm_http_brotli_module.c \
	src/http/wm_http_zstd_module.c \
	src/http/wm_http_static_compressed.c

check_PROGRAMS += t/unit/test_http_compress
TESTS += t/unit/test_http_compress
t_unit_test_http_compress_SOURCES = t/unit/test_http_compress.c t/unit/tap.h
t_unit_test_http_compress_LDADD = $(WM_LIBS)

check_PROGRAMS += t/unit/test_http_file_cache
TESTS += t/unit/test_http_file_cache
t_unit_test_http_file_cache_SOURCES = t/unit/test_http_file_cache.c \
	t/unit/tap.h
t_unit_test_http_file_cache_LDADD = $(WM_LIBS)
