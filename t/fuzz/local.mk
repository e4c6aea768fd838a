# Fuzz targets. With --enable-fuzzers (clang) each is a libFuzzer binary;
# otherwise each is linked with replay.c and `make check` runs it over its
# committed corpus in t/fuzz/corpus/<name>/.
WM_FUZZ_TARGETS = t/fuzz/fuzz_conf_text t/fuzz/fuzz_conf_yaml \
	t/fuzz/fuzz_proxy_protocol t/fuzz/fuzz_tls_hello
EXTRA_DIST += t/fuzz/corpus

if ENABLE_FUZZERS
noinst_PROGRAMS += $(WM_FUZZ_TARGETS)
WM_FUZZ_CFLAGS = -fsanitize=fuzzer
WM_FUZZ_LINK = -fsanitize=fuzzer
WM_FUZZ_MAIN =
else
check_PROGRAMS += $(WM_FUZZ_TARGETS)
TESTS += $(WM_FUZZ_TARGETS)
WM_FUZZ_CFLAGS =
WM_FUZZ_LINK =
WM_FUZZ_MAIN = t/fuzz/replay.c
endif

t_fuzz_fuzz_conf_text_SOURCES = t/fuzz/fuzz_conf_text.c $(WM_FUZZ_MAIN)
t_fuzz_fuzz_conf_text_CFLAGS = $(AM_CFLAGS) $(WM_FUZZ_CFLAGS)
t_fuzz_fuzz_conf_text_LDFLAGS = $(AM_LDFLAGS) $(WM_FUZZ_LINK)
t_fuzz_fuzz_conf_text_LDADD = $(WM_LIBS)
t_fuzz_fuzz_conf_yaml_SOURCES = t/fuzz/fuzz_conf_yaml.c $(WM_FUZZ_MAIN)
t_fuzz_fuzz_conf_yaml_CFLAGS = $(AM_CFLAGS) $(WM_FUZZ_CFLAGS)
t_fuzz_fuzz_conf_yaml_LDFLAGS = $(AM_LDFLAGS) $(WM_FUZZ_LINK)
t_fuzz_fuzz_conf_yaml_LDADD = $(WM_LIBS)
t_fuzz_fuzz_proxy_protocol_SOURCES = t/fuzz/fuzz_proxy_protocol.c $(WM_FUZZ_MAIN)
t_fuzz_fuzz_proxy_protocol_CFLAGS = $(AM_CFLAGS) $(WM_FUZZ_CFLAGS)
t_fuzz_fuzz_proxy_protocol_LDFLAGS = $(AM_LDFLAGS) $(WM_FUZZ_LINK)
t_fuzz_fuzz_proxy_protocol_LDADD = $(WM_LIBS)
t_fuzz_fuzz_tls_hello_SOURCES = t/fuzz/fuzz_tls_hello.c $(WM_FUZZ_MAIN)
t_fuzz_fuzz_tls_hello_CFLAGS = $(AM_CFLAGS) $(WM_FUZZ_CFLAGS)
t_fuzz_fuzz_tls_hello_LDFLAGS = $(AM_LDFLAGS) $(WM_FUZZ_LINK)
t_fuzz_fuzz_tls_hello_LDADD = $(WM_LIBS)

# The upstream response head parser (src/http/wm_http_parse.c).
if ENABLE_FUZZERS
noinst_PROGRAMS += t/fuzz/fuzz_http_response
else
check_PROGRAMS += t/fuzz/fuzz_http_response
TESTS += t/fuzz/fuzz_http_response
endif
t_fuzz_fuzz_http_response_SOURCES = t/fuzz/fuzz_http_response.c $(WM_FUZZ_MAIN)
t_fuzz_fuzz_http_response_CFLAGS = $(AM_CFLAGS) $(WM_FUZZ_CFLAGS)
t_fuzz_fuzz_http_response_LDFLAGS = $(AM_LDFLAGS) $(WM_FUZZ_LINK)
t_fuzz_fuzz_http_response_LDADD = $(WM_LIBS)

# The chunked decoder as the proxy runs it on upstream bodies
# (wm_http_proxy_dechunk() in src/http/wm_http_proxy_body.c).
if ENABLE_FUZZERS
noinst_PROGRAMS += t/fuzz/fuzz_http_chunked
else
check_PROGRAMS += t/fuzz/fuzz_http_chunked
TESTS += t/fuzz/fuzz_http_chunked
endif
t_fuzz_fuzz_http_chunked_SOURCES = t/fuzz/fuzz_http_chunked.c $(WM_FUZZ_MAIN)
t_fuzz_fuzz_http_chunked_CFLAGS = $(AM_CFLAGS) $(WM_FUZZ_CFLAGS)
t_fuzz_fuzz_http_chunked_LDFLAGS = $(AM_LDFLAGS) $(WM_FUZZ_LINK)
t_fuzz_fuzz_http_chunked_LDADD = $(WM_LIBS)

# The address texts and the X-Forwarded-For walk of realip
# (wm_http_realip_walk() in src/http/wm_http_realip_module.c).
if ENABLE_FUZZERS
noinst_PROGRAMS += t/fuzz/fuzz_http_realip
else
check_PROGRAMS += t/fuzz/fuzz_http_realip
TESTS += t/fuzz/fuzz_http_realip
endif
t_fuzz_fuzz_http_realip_SOURCES = t/fuzz/fuzz_http_realip.c $(WM_FUZZ_MAIN)
t_fuzz_fuzz_http_realip_CFLAGS = $(AM_CFLAGS) $(WM_FUZZ_CFLAGS)
t_fuzz_fuzz_http_realip_LDFLAGS = $(AM_LDFLAGS) $(WM_FUZZ_LINK)
t_fuzz_fuzz_http_realip_LDADD = $(WM_LIBS)

# proxy_redirect, proxy_cookie_domain and proxy_cookie_path on upstream
# values (src/http/wm_http_proxy_rewrite.c).
if ENABLE_FUZZERS
noinst_PROGRAMS += t/fuzz/fuzz_http_proxy_rewrite
else
check_PROGRAMS += t/fuzz/fuzz_http_proxy_rewrite
TESTS += t/fuzz/fuzz_http_proxy_rewrite
endif
t_fuzz_fuzz_http_proxy_rewrite_SOURCES = t/fuzz/fuzz_http_proxy_rewrite.c \
	$(WM_FUZZ_MAIN)
t_fuzz_fuzz_http_proxy_rewrite_CFLAGS = $(AM_CFLAGS) $(WM_FUZZ_CFLAGS)
t_fuzz_fuzz_http_proxy_rewrite_LDFLAGS = $(AM_LDFLAGS) $(WM_FUZZ_LINK)
t_fuzz_fuzz_http_proxy_rewrite_LDADD = $(WM_LIBS)

# The Authorization credentials and the password forms of auth_basic
# (src/http/wm_http_log_variables.c, src/http/wm_http_htpasswd.c).
if ENABLE_FUZZERS
noinst_PROGRAMS += t/fuzz/fuzz_http_auth_basic
else
check_PROGRAMS += t/fuzz/fuzz_http_auth_basic
TESTS += t/fuzz/fuzz_http_auth_basic
endif
t_fuzz_fuzz_http_auth_basic_SOURCES = t/fuzz/fuzz_http_auth_basic.c \
	$(WM_FUZZ_MAIN)
t_fuzz_fuzz_http_auth_basic_CFLAGS = $(AM_CFLAGS) $(WM_FUZZ_CFLAGS)
t_fuzz_fuzz_http_auth_basic_LDFLAGS = $(AM_LDFLAGS) $(WM_FUZZ_LINK)
t_fuzz_fuzz_http_auth_basic_LDADD = $(WM_LIBS)

# The request head the proxy sends upstream, parsed back
# (src/http/wm_http_proxy_head.c).
if ENABLE_FUZZERS
noinst_PROGRAMS += t/fuzz/fuzz_http_proxy_head
else
check_PROGRAMS += t/fuzz/fuzz_http_proxy_head
TESTS += t/fuzz/fuzz_http_proxy_head
endif
t_fuzz_fuzz_http_proxy_head_SOURCES = t/fuzz/fuzz_http_proxy_head.c \
	$(WM_FUZZ_MAIN)
t_fuzz_fuzz_http_proxy_head_CFLAGS = $(AM_CFLAGS) $(WM_FUZZ_CFLAGS)
t_fuzz_fuzz_http_proxy_head_LDFLAGS = $(AM_LDFLAGS) $(WM_FUZZ_LINK)
t_fuzz_fuzz_http_proxy_head_LDADD = $(WM_LIBS)

# The whole configuration load as `wmproxy -t` runs it (wm_cycle_new() with
# test_only): every directive setter, merge and init_conf.
# t/fuzz/conf_load.dict is its libFuzzer dictionary; its header says how
# the directive and variable names in it are generated.
if ENABLE_FUZZERS
noinst_PROGRAMS += t/fuzz/fuzz_conf_load
else
check_PROGRAMS += t/fuzz/fuzz_conf_load
TESTS += t/fuzz/fuzz_conf_load
endif
EXTRA_DIST += t/fuzz/conf_load.dict
t_fuzz_fuzz_conf_load_SOURCES = t/fuzz/fuzz_conf_load.c $(WM_FUZZ_MAIN)
t_fuzz_fuzz_conf_load_CFLAGS = $(AM_CFLAGS) $(WM_FUZZ_CFLAGS)
t_fuzz_fuzz_conf_load_LDFLAGS = $(AM_LDFLAGS) $(WM_FUZZ_LINK)
t_fuzz_fuzz_conf_load_LDADD = $(WM_LIBS)
