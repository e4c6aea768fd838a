# Directives of common nginx configurations: charset, limit_rate,
# auth_basic and the accepted tuning settings.
libwm_a_SOURCES += src/http/wm_http_charset_module.c \
	src/http/wm_http_limit_rate_module.c \
	src/http/wm_http_auth_basic_module.c \
	src/http/wm_http_compat_module.c \
	src/http/wm_http_htpasswd.h src/http/wm_http_htpasswd.c

# The htpasswd parser and the password forms (apr1 against openssl's).
check_PROGRAMS += t/unit/test_http_htpasswd
TESTS += t/unit/test_http_htpasswd
t_unit_test_http_htpasswd_SOURCES = t/unit/test_http_htpasswd.c t/unit/tap.h
t_unit_test_http_htpasswd_LDADD = $(WM_LIBS)
