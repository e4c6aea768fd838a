# src/core: the process model, configuration, logging and shared helpers.
libwm_a_SOURCES += \
	src/core/wm_core.h \
	src/core/wm_pool.h src/core/wm_pool.c \
	src/core/wm_conf_tree.h src/core/wm_conf_text.c src/core/wm_conf_yaml.c \
	src/core/wm_conf_dump.c \
	src/core/wm_conf.h src/core/wm_conf.c src/core/wm_conf_set.c \
	src/core/wm_conf_file.c \
	src/core/wm_modules.c \
	src/core/wm_log.h src/core/wm_log.c \
	src/core/wm_cycle.h src/core/wm_cycle.c \
	src/core/wm_core_module.c \
	src/core/wm_listen.h src/core/wm_listen.c \
	src/core/wm_listen_udp.h src/core/wm_listen_udp.c \
	src/core/wm_shm.h src/core/wm_shm.c \
	src/core/wm_process.h src/core/wm_process.c src/core/wm_worker.c \
	src/core/wm_var.h src/core/wm_var.c src/core/wm_list.h \
	src/core/wm_ssl.h src/core/wm_ssl.c src/core/wm_ssl_conf.c \
	src/core/wm_ssl_ocsp.h src/core/wm_ssl_ocsp.c \
	src/core/wm_tls_client.h src/core/wm_tls_client.c \
	src/core/wm_proxy_protocol.h src/core/wm_proxy_protocol.c \
	src/core/wm_tls_hello.h src/core/wm_tls_hello.c
libwm_a_SOURCES += src/core/wm_cidr.h src/core/wm_cidr.c src/core/wm_access.h src/core/wm_access.c src/core/wm_proxy_protocol_recv.c
libwm_a_SOURCES += src/core/wm_nolinks.h src/core/wm_nolinks.c

check_PROGRAMS += t/unit/test_tls_hello
TESTS += t/unit/test_tls_hello
t_unit_test_tls_hello_SOURCES = t/unit/test_tls_hello.c t/unit/tap.h
t_unit_test_tls_hello_LDADD = $(WM_LIBS)
libwm_a_SOURCES += src/core/wm_conn_limit.h src/core/wm_conn_limit.c
check_PROGRAMS += t/unit/test_conn_limit
TESTS += t/unit/test_conn_limit
t_unit_test_conn_limit_SOURCES = t/unit/test_conn_limit.c t/unit/tap.h
t_unit_test_conn_limit_LDADD = $(WM_LIBS)
check_PROGRAMS += t/unit/test_tls_client
TESTS += t/unit/test_tls_client
t_unit_test_tls_client_SOURCES = t/unit/test_tls_client.c t/unit/tap.h
t_unit_test_tls_client_LDADD = $(WM_LIBS)

check_PROGRAMS += t/unit/test_nolinks
TESTS += t/unit/test_nolinks
t_unit_test_nolinks_SOURCES = t/unit/test_nolinks.c t/unit/tap.h
t_unit_test_nolinks_LDADD = $(WM_LIBS)

check_PROGRAMS += t/unit/test_ssl_ocsp
TESTS += t/unit/test_ssl_ocsp
t_unit_test_ssl_ocsp_SOURCES = t/unit/test_ssl_ocsp.c t/unit/tap.h
t_unit_test_ssl_ocsp_LDADD = $(WM_LIBS)
