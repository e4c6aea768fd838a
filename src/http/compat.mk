# Directives of common nginx configurations: charset, limit_rate,
# auth_basic and the accepted tuning settings.
libwm_a_SOURCES += src/http/wm_http_charset_module.c \
	src/http/wm_http_limit_rate_module.c
