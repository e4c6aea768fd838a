# src/http: the reverse proxy: the upstream request head (pure, unit
# tested), the request body reader, http upstream groups with their
# keepalive pool, and the proxy module (split by idea: private types,
# request body, 101 tunnel, variables, Location/Set-Cookie rewriting).
libwm_a_SOURCES += \
	src/http/wm_http_proxy_head.h src/http/wm_http_proxy_head.c \
	src/http/wm_http_request_body.c \
	src/http/wm_http_upstream.h src/http/wm_http_upstream_module.c \
	src/http/wm_http_proxy.h src/http/wm_http_proxy_module.c \
	src/http/wm_http_proxy_vars.c src/http/wm_http_proxy_rewrite.c \
	src/http/wm_http_proxy_body.c src/http/wm_http_proxy_tunnel.c \
	src/http/wm_http_health.h src/http/wm_http_health.c \
	src/http/wm_http_health_match.c
libwm_a_SOURCES += src/http/wm_http_proxy_ssl_module.c \
	src/http/wm_http_proxy_kit.c
check_PROGRAMS += t/unit/test_http_proxy_head
TESTS += t/unit/test_http_proxy_head
t_unit_test_http_proxy_head_SOURCES = t/unit/test_http_proxy_head.c t/unit/tap.h
t_unit_test_http_proxy_head_LDADD = $(WM_LIBS)

# The upstream response head parser (in wm_http_parse.c) and its framing.
check_PROGRAMS += t/unit/test_http_response
TESTS += t/unit/test_http_response
t_unit_test_http_response_SOURCES = t/unit/test_http_response.c t/unit/tap.h
t_unit_test_http_response_LDADD = $(WM_LIBS)

# HTTP health checks: the match test against a parsed response.
check_PROGRAMS += t/unit/test_http_health
TESTS += t/unit/test_http_health
t_unit_test_http_health_SOURCES = t/unit/test_http_health.c t/unit/tap.h
t_unit_test_http_health_LDADD = $(WM_LIBS)
