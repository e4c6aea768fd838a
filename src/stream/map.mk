# src/stream: map and set in stream (the table itself is src/core/wm_map.c).
libwm_a_SOURCES += src/stream/wm_stream_map_module.c
