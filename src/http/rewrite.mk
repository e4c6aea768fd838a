# src/http: the rewrite modules (sources, unit tests).
libwm_a_SOURCES += src/http/wm_http_rewrite_module.c
