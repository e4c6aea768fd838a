# src/core + src/stream: upstream groups for the stream proxy.
libwm_a_SOURCES += \
	src/core/wm_upstream.h src/core/wm_upstream.c \
	src/core/wm_upstream_connect.c \
	src/stream/wm_stream_upstream_module.c
check_PROGRAMS += t/unit/test_upstream
TESTS += t/unit/test_upstream
t_unit_test_upstream_SOURCES = t/unit/test_upstream.c t/unit/tap.h
t_unit_test_upstream_LDADD = $(WM_LIBS)
