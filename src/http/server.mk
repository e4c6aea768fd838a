# src/http: the HTTP server (connections, requests, core, static).
libwm_a_SOURCES += \
	src/http/wm_http.h \
	src/http/wm_http_core_module.c \
	src/http/wm_http_location.c \
	src/http/wm_http_vhost.c \
	src/http/wm_http_connection.c \
	src/http/wm_http_request.c \
	src/http/wm_http_output.c \
	src/http/wm_http_variables.c \
	src/http/wm_http_static_module.c \
	src/http/wm_http_symlinks.c \
	src/http/wm_http_msie.c \
	src/http/wm_http_ssl_module.c

check_PROGRAMS += t/unit/test_http_msie
TESTS += t/unit/test_http_msie
t_unit_test_http_msie_SOURCES = t/unit/test_http_msie.c t/unit/tap.h
t_unit_test_http_msie_LDADD = $(WM_LIBS)
