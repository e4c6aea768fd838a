# src/stream: the stream (TCP/UDP) modules.
libwm_a_SOURCES += \
	src/stream/wm_stream.h \
	src/stream/wm_stream_core_module.c \
	src/stream/wm_stream_return_module.c \
	src/stream/wm_stream_proxy_module.c \
	src/stream/wm_stream_relay.c \
	src/stream/wm_stream_relay_rate.h \
	src/stream/wm_stream_relay_rate.c \
	src/stream/wm_stream_limit_conn_module.c \
	src/stream/wm_stream_proxy_protocol.c \
	src/stream/wm_stream_ssl_preread_module.c \
	src/stream/wm_stream_udp.c \
	src/stream/wm_stream_udp_proxy.c \
	src/stream/wm_stream_udp_out.c \
	src/stream/wm_stream_udp_send.c \
	src/stream/wm_stream_udp_ring.c
libwm_a_SOURCES += src/stream/wm_stream_ssl.h \
	src/stream/wm_stream_ssl_module.c \
	src/stream/wm_stream_proxy_ssl_module.c \
	src/stream/wm_stream_relay_tls.c

check_PROGRAMS += t/unit/test_stream_udp
TESTS += t/unit/test_stream_udp
t_unit_test_stream_udp_SOURCES = t/unit/test_stream_udp.c t/unit/tap.h
t_unit_test_stream_udp_LDADD = $(WM_LIBS)

check_PROGRAMS += t/unit/test_stream_udp_send
TESTS += t/unit/test_stream_udp_send
t_unit_test_stream_udp_send_SOURCES = t/unit/test_stream_udp_send.c t/unit/tap.h
t_unit_test_stream_udp_send_LDADD = $(WM_LIBS)

check_PROGRAMS += t/unit/test_stream_udp_out
TESTS += t/unit/test_stream_udp_out
t_unit_test_stream_udp_out_SOURCES = t/unit/test_stream_udp_out.c t/unit/tap.h
t_unit_test_stream_udp_out_LDADD = $(WM_LIBS)

check_PROGRAMS += t/unit/test_stream_udp_ring
TESTS += t/unit/test_stream_udp_ring
t_unit_test_stream_udp_ring_SOURCES = t/unit/test_stream_udp_ring.c t/unit/tap.h
t_unit_test_stream_udp_ring_LDADD = $(WM_LIBS)
