/*
 * The umbrella header of src/core: basic types, return codes and string
 * slices that every other file of wmproxy uses. It includes only libc.
 */
#ifndef WM_CORE_H
#define WM_CORE_H

#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef intptr_t wm_int_t;
typedef uintptr_t wm_uint_t;
typedef unsigned char u_char;
typedef int64_t wm_msec_t;

#define WM_OK 0
#define WM_ERROR -1
#define WM_AGAIN -2
#define WM_BUSY -3
#define WM_DONE -4
#define WM_DECLINED -5
#define WM_ABORT -6

/* A slice of bytes; it never owns its data and is not NUL-terminated
 * unless the producer says so. */
typedef struct {
    size_t len;
    u_char *data;
} wm_str_t;

#define wm_string(s) { sizeof(s) - 1, (u_char *) (s) }
#define wm_null_string { 0, NULL }
#define wm_str_set(str, text)                                                  \
    ((str)->len = sizeof(text) - 1, (str)->data = (u_char *) (text))

#define wm_nelems(a) (sizeof(a) / sizeof((a)[0]))
#define wm_min(a, b) ((a) < (b) ? (a) : (b))
#define wm_max(a, b) ((a) > (b) ? (a) : (b))

/* True when the slice equals the C string s exactly. */
static inline bool
wm_str_eq(const wm_str_t *a, const char *s)
{
    size_t n = strlen(s);

    return a->len == n && (n == 0 || memcmp(a->data, s, n) == 0);
}

/* A value that a setter has not set yet; generic setters use it to find
 * duplicates and merge functions to inherit. */
#define WM_CONF_UNSET -1
#define WM_CONF_UNSET_UINT ((wm_uint_t) -1)
#define WM_CONF_UNSET_SIZE ((size_t) -1)
#define WM_CONF_UNSET_MSEC ((wm_msec_t) -1)
#define WM_CONF_UNSET_PTR ((void *) -1)

#define wm_conf_merge_value(conf, prev, dflt)                                  \
    if ((conf) == WM_CONF_UNSET) {                                             \
        (conf) = ((prev) == WM_CONF_UNSET) ? (dflt) : (prev);                  \
    }

#define wm_conf_merge_size(conf, prev, dflt)                                   \
    if ((conf) == WM_CONF_UNSET_SIZE) {                                        \
        (conf) = ((prev) == WM_CONF_UNSET_SIZE) ? (dflt) : (prev);             \
    }

#define wm_conf_merge_msec(conf, prev, dflt)                                   \
    if ((conf) == WM_CONF_UNSET_MSEC) {                                        \
        (conf) = ((prev) == WM_CONF_UNSET_MSEC) ? (dflt) : (prev);             \
    }

#define wm_conf_merge_str(conf, prev, dflt)                                    \
    if ((conf).data == NULL) {                                                 \
        if ((prev).data) {                                                     \
            (conf) = (prev);                                                   \
        } else {                                                               \
            wm_str_set(&(conf), dflt);                                         \
        }                                                                      \
    }

typedef struct wm_pool_s wm_pool_t;
typedef struct wm_log_s wm_log_t;
typedef struct wm_cycle_s wm_cycle_t;
typedef struct wm_conf_s wm_conf_t;
typedef struct wm_command_s wm_command_t;
typedef struct wm_module_s wm_module_t;
typedef struct wm_conf_node_s wm_conf_node_t;

#endif /* WM_CORE_H */
