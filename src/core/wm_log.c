/*
 * The error log writer. A line is formatted once into a stack buffer and
 * written with one write() per sink, so lines from several processes
 * appending to one file do not interleave.
 */
#include "wm_log.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#define WM_LOG_LINE_MAX 2048

const char *const wm_log_levels[] = {
    "",     "emerg",  "alert", "crit", "error",
    "warn", "notice", "info",  "debug", NULL,
};

static wm_log_sink_t wm_log_stderr_sink = {NULL, 2, WM_LOG_NOTICE};
static wm_log_t wm_log_stderr = {&wm_log_stderr_sink, 1, WM_LOG_NOTICE,
                                 NULL, NULL, NULL};

wm_log_t *wm_errlog = &wm_log_stderr;

int
wm_log_level_parse(const char *name)
{
    int i;

    for (i = 1; wm_log_levels[i]; i++) {
        if (strcmp(wm_log_levels[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

void
wm_log_verror(unsigned level, wm_log_t *log, int err, const char *fmt,
              va_list ap)
{
    char line[WM_LOG_LINE_MAX];
    size_t n, i, max = sizeof(line) - 1;
    struct tm tm;
    time_t now;
    int r;

    if (log == NULL) {
        log = wm_errlog;
    }
    if (level > log->level) {
        return;
    }

    now = time(NULL);
    localtime_r(&now, &tm);
    n = strftime(line, max, "%Y/%m/%d %H:%M:%S ", &tm);
    r = snprintf(line + n, max - n, "[%s] %d#0: ",
                 wm_log_levels[level ? level : WM_LOG_EMERG], (int) getpid());
    n += r > 0 ? (size_t) r : 0;
    n = wm_min(n, max);

    r = vsnprintf(line + n, max - n, fmt, ap);
    n = wm_min(n + (r > 0 ? (size_t) r : 0), max);

    if (err && n < max) {
        r = snprintf(line + n, max - n, " (%d: %s)", err, strerror(err));
        n = wm_min(n + (r > 0 ? (size_t) r : 0), max);
    }
    if (log->action && n < max) {
        r = snprintf(line + n, max - n, " %s", log->action);
        n = wm_min(n + (r > 0 ? (size_t) r : 0), max);
    }
    if (log->handler && n < max) {
        n += log->handler(log, line + n, max - n);
        n = wm_min(n, max);
    }
    line[n++] = '\n';

    for (i = 0; i < log->nsinks; i++) {
        if (level <= log->sinks[i].level && log->sinks[i].fd >= 0) {
            ssize_t w = write(log->sinks[i].fd, line, n);
            (void) w; /* nowhere left to report a failed log write */
        }
    }
}

void
wm_log_error(unsigned level, wm_log_t *log, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    wm_log_verror(level, log, err, fmt, ap);
    va_end(ap);
}

wm_int_t
wm_log_sink_open(wm_log_sink_t *sink)
{
    if (sink->path == NULL) {
        sink->fd = STDERR_FILENO;
        return WM_OK;
    }
    sink->fd = open(sink->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                    0644);
    return sink->fd < 0 ? WM_ERROR : WM_OK;
}

void
wm_log_reopen(wm_log_t *log, uid_t uid, gid_t gid)
{
    size_t i;

    for (i = 0; i < log->nsinks; i++) {
        wm_log_sink_t *s = &log->sinks[i];
        int fd;

        if (s->path == NULL || s->fd < 0) {
            continue;
        }
        fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            wm_log_error(WM_LOG_ALERT, log, errno, "open(\"%s\") failed",
                         s->path);
            continue;
        }
        if (uid != (uid_t) -1 && fchown(fd, uid, gid) != 0) {
            wm_log_error(WM_LOG_ALERT, log, errno, "fchown(\"%s\") failed",
                         s->path);
        }
        /* dup3 keeps the descriptor number that every copy of the log
         * holds, and its close-on-exec flag. */
        if (dup3(fd, s->fd, O_CLOEXEC) < 0) {
            wm_log_error(WM_LOG_ALERT, log, errno, "dup3(\"%s\") failed",
                         s->path);
        }
        close(fd);
    }
}

void
wm_log_redirect_stderr(wm_log_t *log)
{
    size_t i;

    for (i = 0; i < log->nsinks; i++) {
        if (log->sinks[i].path && log->sinks[i].fd >= 0) {
            if (dup2(log->sinks[i].fd, STDERR_FILENO) < 0) {
                wm_log_error(WM_LOG_ALERT, log, errno, "dup2(STDERR) failed");
            }
            return;
        }
    }
}
