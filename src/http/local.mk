# src/http: the HTTP server. Owned by the HTTP parser work for now.
libwm_a_SOURCES += \
	src/http/wm_http_parse.h src/http/wm_http_parse.c \
	src/http/wm_http_uri.c src/http/wm_http_chunked.c

# The parser's unit test and its split-point fuzz target (see
# t/fuzz/local.mk for WM_FUZZ_*; make variables are expanded lazily).
check_PROGRAMS += t/unit/test_http_parse
TESTS += t/unit/test_http_parse
t_unit_test_http_parse_SOURCES = t/unit/test_http_parse.c t/unit/tap.h
t_unit_test_http_parse_LDADD = $(WM_LIBS)

if ENABLE_FUZZERS
noinst_PROGRAMS += t/fuzz/fuzz_http_parse
else
check_PROGRAMS += t/fuzz/fuzz_http_parse
TESTS += t/fuzz/fuzz_http_parse
endif
t_fuzz_fuzz_http_parse_SOURCES = t/fuzz/fuzz_http_parse.c $(WM_FUZZ_MAIN)
t_fuzz_fuzz_http_parse_CFLAGS = $(AM_CFLAGS) $(WM_FUZZ_CFLAGS)
t_fuzz_fuzz_http_parse_LDFLAGS = $(AM_LDFLAGS) $(WM_FUZZ_LINK)
t_fuzz_fuzz_http_parse_LDADD = $(WM_LIBS)
