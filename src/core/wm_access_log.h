/*
 * Access logs and per-block error logs, shared by the http and stream
 * families: compiled log formats (complex values with an escaping mode),
 * the files they are written to (opened by the cycle, so that a reopen
 * reaches them; buffered per worker when asked), and the parsers of the
 * log_format, access_log and block-level error_log directives.
 */
#ifndef WM_ACCESS_LOG_H
#define WM_ACCESS_LOG_H

#include "wm_core.h"
#include "wm_conf.h"
#include "wm_cycle.h"
#include "wm_log.h"
#include "wm_var.h"

/* How variable values are written into a line (log_format escape=). */
typedef enum {
    WM_LOG_ESCAPE_DEFAULT = 0, /* `"`, `\`, < 0x20, >= 0x7f as \xHH */
    WM_LOG_ESCAPE_JSON,        /* as a JSON string body */
    WM_LOG_ESCAPE_NONE,
} wm_log_escape_t;

/* A named, compiled log_format, in the cycle's pool. */
typedef struct {
    wm_str_t name;
    wm_cv_t cv;
    wm_log_escape_t escape;
} wm_log_format_t;

/*
 * The writer of one log file in a worker: every access_log of the cycle
 * that names the path shares it (it hangs off the cycle's open file).
 * The buffer is malloc'd on first use and written when a line does not
 * fit, when the flush timer fires, before a reopen and at worker exit.
 */
typedef struct {
    wm_open_file_t *file;
    size_t size;     /* buffer=, 0: one write() per line */
    wm_msec_t flush; /* flush=, 0: no timer */
    u_char *buf;
    size_t used;
    struct event *timer;
    time_t error_time; /* last write error logged */
} wm_log_buffer_t;

/* One access_log directive. */
typedef struct {
    wm_log_buffer_t *out;
    const wm_log_format_t *format;
    wm_cv_t *cond; /* if=, NULL: always */
} wm_access_log_t;

/* The access_log lines of one block. */
typedef struct {
    wm_array_t *logs; /* wm_access_log_t; NULL: not set here */
    wm_int_t off;     /* access_log off; WM_CONF_UNSET */
} wm_access_log_conf_t;

/* The formats of one family's block (http{} or stream{}). */
typedef struct {
    wm_array_t formats; /* wm_log_format_t */
    const wm_var_def_t *const *vars;
} wm_log_formats_t;

/* The error_log lines of one block: sinks whose fds come from the
 * cycle's open files (NULL for stderr), in the parallel array files. */
typedef struct {
    wm_array_t *sinks; /* wm_log_sink_t; NULL: not set here */
    wm_array_t *files; /* wm_open_file_t * */
    wm_log_t log;      /* over sinks, filled by _get() */
} wm_error_log_conf_t;

/* ---- pure parts (unit-tested) ------------------------------------------ */

/* Writes src escaped per mode into dst and returns the bytes written;
 * with dst NULL only counts them. */
size_t wm_log_escape(wm_log_escape_t mode, u_char *dst, const u_char *src,
                     size_t len);

/* Builds one line (with its '\n') for r from fmt in pool: literals as
 * written, each variable escaped; a variable that is empty or not found
 * is `-` with the default escaping and nothing with json and none. */
wm_int_t wm_log_format_line(const wm_log_format_t *fmt, void *r,
                            wm_pool_t *pool, wm_str_t *line);

/* Compiles the strings args[0..n) (joined) into fmt. NULL or an error
 * tail for `"log_format" directive ...`. */
const char *wm_log_format_compile(wm_pool_t *pool, const wm_str_t *args,
                                  size_t n, wm_log_escape_t escape,
                                  const wm_var_def_t *const *vars,
                                  wm_log_format_t *fmt);

/* ---- configuration ------------------------------------------------------ */

/* Initialises formats for a family; adds `combined` (nginx's predefined
 * format) when with_combined. WM_OK or WM_ERROR (out of memory). */
wm_int_t wm_log_formats_init(wm_log_formats_t *formats, wm_pool_t *pool,
                             const wm_var_def_t *const *vars,
                             bool with_combined);

/* The setter body of `log_format name [escape=...] string ...;`. */
const char *wm_log_format_set(wm_conf_t *cf, wm_log_formats_t *formats);

/* The setter body of `access_log path [format [buffer=] [flush=] [if=]]
 * | off;`; dflt is the format used when none is named (NULL: a format
 * is required). */
const char *wm_access_log_set(wm_conf_t *cf, wm_access_log_conf_t *alcf,
                              wm_log_formats_t *formats, const char *dflt);

/* Adds `path format` to alcf as if configured (the default log). NULL or
 * an error message. */
const char *wm_access_log_add(wm_conf_t *cf, wm_access_log_conf_t *alcf,
                              const char *path, const wm_log_format_t *format);

/* Inherits as nginx: a block with any access_log line (or off) keeps its
 * own, else it takes prev's. */
void wm_access_log_merge(wm_access_log_conf_t *conf,
                         const wm_access_log_conf_t *prev);

/* The level of an `error_log file [level];` line being set (error when
 * not given). NULL or an error tail. */
const char *wm_error_log_level(wm_conf_t *cf, int *level);

/* The setter body of a block-level `error_log file|stderr [level];`;
 * may repeat. */
const char *wm_error_log_set(wm_conf_t *cf, wm_error_log_conf_t *elcf);

/* Inherits: a block without error_log takes prev's lines. */
void wm_error_log_merge(wm_error_log_conf_t *conf,
                        const wm_error_log_conf_t *prev);

/* ---- run time ----------------------------------------------------------- */

/* Writes r's lines to every log of alcf whose if= holds. Errors are
 * logged to log; nothing is returned. */
void wm_access_log_write(const wm_access_log_conf_t *alcf, void *r,
                         wm_pool_t *pool, wm_log_t *log);

/* Writes every buffered access log of the cycle and frees the buffers
 * and timers (worker exit; may be called more than once). */
void wm_access_log_flush_all(wm_cycle_t *cycle);

/* The log of an error_log block conf, its sinks' fds taken from the
 * open files (call in the worker); NULL when the block has none. */
wm_log_t *wm_error_log_get(wm_error_log_conf_t *elcf);

#endif /* WM_ACCESS_LOG_H */
