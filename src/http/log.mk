# src/http: the log modules (sources, unit tests). The access log core in
# src/core/wm_access_log.c serves the http and stream families.
libwm_a_SOURCES += \
	src/core/wm_access_log.h src/core/wm_access_log.c \
	src/http/wm_http_log_module.c src/http/wm_http_log_variables.c \
	src/stream/wm_stream_log_module.c

check_PROGRAMS += t/unit/test_access_log
TESTS += t/unit/test_access_log
t_unit_test_access_log_SOURCES = t/unit/test_access_log.c t/unit/tap.h
t_unit_test_access_log_LDADD = $(WM_LIBS)
