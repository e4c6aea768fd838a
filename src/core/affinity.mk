# worker_cpu_affinity (and the accepted timer_resolution, pcre_jit).
libwm_a_SOURCES += src/core/wm_cpu_affinity.c
