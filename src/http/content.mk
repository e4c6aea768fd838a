# src/http pure helpers for static content: ranges, conditionals, dates,
# content negotiation.
libwm_a_SOURCES += src/http/wm_http_content.h src/http/wm_http_date.c \
	src/http/wm_http_range.c src/http/wm_http_cond.c \
	src/http/wm_http_negotiate.c src/http/wm_http_mime.c

# try_files, autoindex, add_header and expires.
libwm_a_SOURCES += src/http/wm_http_try_files_module.c \
	src/http/wm_http_autoindex.h src/http/wm_http_autoindex_module.c \
	src/http/wm_http_headers.h src/http/wm_http_headers_module.c

WM_CONTENT_TESTS = t/unit/test_http_date t/unit/test_http_range \
	t/unit/test_http_cond t/unit/test_http_negotiate t/unit/test_http_mime
check_PROGRAMS += $(WM_CONTENT_TESTS)
TESTS += $(WM_CONTENT_TESTS)
t_unit_test_http_date_SOURCES = t/unit/test_http_date.c t/unit/tap.h
t_unit_test_http_date_LDADD = $(WM_LIBS)
t_unit_test_http_range_SOURCES = t/unit/test_http_range.c t/unit/tap.h
t_unit_test_http_range_LDADD = $(WM_LIBS)
t_unit_test_http_cond_SOURCES = t/unit/test_http_cond.c t/unit/tap.h
t_unit_test_http_cond_LDADD = $(WM_LIBS)
t_unit_test_http_negotiate_SOURCES = t/unit/test_http_negotiate.c t/unit/tap.h
t_unit_test_http_negotiate_LDADD = $(WM_LIBS)
t_unit_test_http_mime_SOURCES = t/unit/test_http_mime.c t/unit/tap.h
t_unit_test_http_mime_LDADD = $(WM_LIBS)

# The fuzz target for the Range, Accept-Encoding, HTTP-date and ETag list
# parsers; WM_FUZZ_* come from t/fuzz/local.mk (make expands them lazily).
if ENABLE_FUZZERS
noinst_PROGRAMS += t/fuzz/fuzz_http_range
else
check_PROGRAMS += t/fuzz/fuzz_http_range
TESTS += t/fuzz/fuzz_http_range
endif
t_fuzz_fuzz_http_range_SOURCES = t/fuzz/fuzz_http_range.c $(WM_FUZZ_MAIN)
t_fuzz_fuzz_http_range_CFLAGS = $(AM_CFLAGS) $(WM_FUZZ_CFLAGS)
t_fuzz_fuzz_http_range_LDFLAGS = $(AM_LDFLAGS) $(WM_FUZZ_LINK)
t_fuzz_fuzz_http_range_LDADD = $(WM_LIBS)

# The pure parts of autoindex and expires.
check_PROGRAMS += t/unit/test_http_autoindex
TESTS += t/unit/test_http_autoindex
t_unit_test_http_autoindex_SOURCES = t/unit/test_http_autoindex.c t/unit/tap.h
t_unit_test_http_autoindex_LDADD = $(WM_LIBS)
