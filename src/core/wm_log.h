/*
 * The error log: nginx's line format (`2026/11/22 11:10:00 [error]
 * 1234#0: message`), several sinks per log each with its own level, a
 * context handler so that connection-level lines end with `, client: ...`,
 * and reopen in place (dup2) so that copies of a log stay valid.
 */
#ifndef WM_LOG_H
#define WM_LOG_H

#include "wm_core.h"

#define WM_LOG_STDERR 0
#define WM_LOG_EMERG 1
#define WM_LOG_ALERT 2
#define WM_LOG_CRIT 3
#define WM_LOG_ERR 4
#define WM_LOG_WARN 5
#define WM_LOG_NOTICE 6
#define WM_LOG_INFO 7
#define WM_LOG_DEBUG 8

/* One destination: a file (path set) or stderr (path NULL, fd 2). */
typedef struct {
    const char *path;
    int fd;
    unsigned level;
} wm_log_sink_t;

/*
 * A log is a view over shared sinks plus optional context. Connections
 * copy their cycle's log and set handler/data/action; the sinks stay owned
 * by the cycle.
 */
struct wm_log_s {
    wm_log_sink_t *sinks;
    size_t nsinks;
    unsigned level; /* the most verbose level of any sink */
    /* Appends context such as `, client: 1.2.3.4` to buf (at most len
     * bytes) and returns the bytes written. */
    size_t (*handler)(wm_log_t *log, char *buf, size_t len);
    void *data;
    const char *action; /* "while connecting to upstream" */
};

/* The log of the running cycle (stderr before the first one). */
extern wm_log_t *wm_errlog;

/* Level names for `error_log FILE LEVEL`; index = level. */
extern const char *const wm_log_levels[];

/* Parses a level name; -1 when unknown. */
int wm_log_level_parse(const char *name);

/* Writes one line at `level` to every sink that wants it; err is an errno
 * value (0 for none), appended as `(err: text)`. */
void wm_log_error(unsigned level, wm_log_t *log, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void wm_log_verror(unsigned level, wm_log_t *log, int err, const char *fmt,
                   va_list ap);

#define wm_log_debug(log, ...)                                                 \
    do {                                                                       \
        if ((log)->level >= WM_LOG_DEBUG) {                                    \
            wm_log_error(WM_LOG_DEBUG, log, 0, __VA_ARGS__);                   \
        }                                                                      \
    } while (0)

/* Opens a sink's file for appending, creating it (mode 0644). The fd is
 * close-on-exec. WM_OK or WM_ERROR with errno set. */
wm_int_t wm_log_sink_open(wm_log_sink_t *sink);

/* Reopens every file sink of log in place: a new file at the same path
 * replaces the old one under the same descriptor. When uid is not
 * (uid_t) -1 the files are chowned to it, so that workers that dropped
 * privileges can reopen them too. Failures are logged, never fatal. */
void wm_log_reopen(wm_log_t *log, uid_t uid, gid_t gid);

/* Makes stderr point at the log's first file sink (for a daemon, so that
 * crashes and sanitizer reports land in the error log). */
void wm_log_redirect_stderr(wm_log_t *log);

#endif /* WM_LOG_H */
