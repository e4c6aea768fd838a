# src/core upstream core: balancers (pure functions), active health checks,
# and their unit tests.
libwm_a_SOURCES += \
	src/core/wm_balance.h src/core/wm_balance.c src/core/wm_hash.c \
	src/core/wm_health.h src/core/wm_health.c src/core/wm_health_match.c \
	src/core/wm_resolver.h src/core/wm_resolver.c
check_PROGRAMS += t/unit/test_balance
TESTS += t/unit/test_balance
t_unit_test_balance_SOURCES = t/unit/test_balance.c t/unit/tap.h
t_unit_test_balance_LDADD = $(WM_LIBS)
check_PROGRAMS += t/unit/test_health
TESTS += t/unit/test_health
t_unit_test_health_SOURCES = t/unit/test_health.c t/unit/tap.h
t_unit_test_health_LDADD = $(WM_LIBS)
check_PROGRAMS += t/unit/test_resolver
TESTS += t/unit/test_resolver
t_unit_test_resolver_SOURCES = t/unit/test_resolver.c t/unit/tap.h
t_unit_test_resolver_LDADD = $(WM_LIBS)
