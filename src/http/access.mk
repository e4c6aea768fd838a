# src/http: the access modules (sources, unit tests). The fragment of the
# whole access feature: HTTP allow/deny and realip, the HTTP side of
# listen ... proxy_protocol, stream allow/deny, and the CIDR unit test
# (the core files are in src/core/local.mk).
libwm_a_SOURCES += \
	src/http/wm_http_access_module.c \
	src/http/wm_http_realip_module.c \
	src/http/wm_http_proxy_protocol.c \
	src/stream/wm_stream_access_module.c

check_PROGRAMS += t/unit/test_cidr
TESTS += t/unit/test_cidr
t_unit_test_cidr_SOURCES = t/unit/test_cidr.c t/unit/tap.h
t_unit_test_cidr_LDADD = $(WM_LIBS)

check_PROGRAMS += t/unit/test_pp_recv
TESTS += t/unit/test_pp_recv
t_unit_test_pp_recv_SOURCES = t/unit/test_pp_recv.c t/unit/tap.h
t_unit_test_pp_recv_LDADD = $(WM_LIBS)
