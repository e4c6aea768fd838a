# src/core: the map table behind `map` in http and stream, and its unit test.
libwm_a_SOURCES += src/core/wm_map.h src/core/wm_map.c
check_PROGRAMS += t/unit/test_map
TESTS += t/unit/test_map
t_unit_test_map_SOURCES = t/unit/test_map.c t/unit/tap.h
t_unit_test_map_LDADD = $(WM_LIBS)
