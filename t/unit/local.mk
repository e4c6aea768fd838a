# C unit tests: one TAP-printing program per file, linked against libwm.a.
UNIT_TESTS = \
	t/unit/test_pool \
	t/unit/test_conf_text \
	t/unit/test_conf_yaml \
	t/unit/test_conf \
	t/unit/test_shm \
	t/unit/test_proxy_protocol
check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)
t_unit_test_pool_SOURCES = t/unit/test_pool.c t/unit/tap.h
t_unit_test_pool_LDADD = $(WM_LIBS)
t_unit_test_conf_text_SOURCES = t/unit/test_conf_text.c t/unit/tap.h
t_unit_test_conf_text_LDADD = $(WM_LIBS)
t_unit_test_conf_yaml_SOURCES = t/unit/test_conf_yaml.c t/unit/tap.h
t_unit_test_conf_yaml_LDADD = $(WM_LIBS)
t_unit_test_conf_SOURCES = t/unit/test_conf.c t/unit/tap.h
t_unit_test_conf_LDADD = $(WM_LIBS)
t_unit_test_shm_SOURCES = t/unit/test_shm.c t/unit/tap.h
t_unit_test_shm_LDADD = $(WM_LIBS)
t_unit_test_proxy_protocol_SOURCES = t/unit/test_proxy_protocol.c t/unit/tap.h
t_unit_test_proxy_protocol_LDADD = $(WM_LIBS)

check_PROGRAMS += t/unit/test_stream_rate
TESTS += t/unit/test_stream_rate
t_unit_test_stream_rate_SOURCES = t/unit/test_stream_rate.c t/unit/tap.h
t_unit_test_stream_rate_LDADD = $(WM_LIBS)
check_PROGRAMS += t/unit/test_listen_udp
TESTS += t/unit/test_listen_udp
t_unit_test_listen_udp_SOURCES = t/unit/test_listen_udp.c t/unit/tap.h
t_unit_test_listen_udp_LDADD = $(WM_LIBS)
