# src/http: map in http (the table itself is src/core/wm_map.c).
libwm_a_SOURCES += src/http/wm_http_map_module.c
