/*
 * A cycle is everything one load of the configuration produced: the parsed
 * tree, every module's conf, the error log sinks, the listening sockets and
 * the shared-memory zones, all in one pool. The master builds a new cycle
 * on reload and hands the sockets and zones that stay over to it.
 */
#ifndef WM_CYCLE_H
#define WM_CYCLE_H

#include "wm_core.h"
#include "wm_conf.h"
#include "wm_log.h"
#include "wm_pool.h"

#include <sys/types.h>

struct wm_cycle_s {
    wm_pool_t *pool;
    void **conf;              /* main-level conf of each module, by index */
    wm_conf_node_t *tree;     /* the parsed configuration */
    const char *conf_file;    /* absolute path */
    const char *prefix;       /* absolute, ends in '/' */
    wm_log_t log;             /* the error_log sinks */
    wm_array_t log_sinks;     /* wm_log_sink_t, backing log.sinks */
    wm_array_t listening;     /* wm_listening_t * */
    wm_array_t shm_zones;     /* wm_shm_zone_t * */
    wm_array_t open_files;    /* wm_open_file_t * */
    struct event_base *base;  /* the worker's event loop (workers only) */
};

/* A file the cycle keeps open for appending (an access log). */
typedef struct {
    const char *path;
    int fd;                   /* -1 until the cycle opens it */
    /* Set by the user of the file (an access log buffer): writes what it
     * holds; called before the file is reopened. */
    void (*flush)(void *data);
    void *data;
} wm_open_file_t;

/* The core module's conf: main and events context directives. */
typedef struct {
    wm_int_t worker_processes;       /* 0 when `auto` until init_conf */
    wm_int_t rlimit_nofile;
    wm_msec_t shutdown_timeout;
    wm_int_t daemon;
    wm_int_t master;
    wm_str_t pid;
    wm_str_t user_name;
    wm_str_t group_name;
    uid_t uid;
    gid_t gid;
    wm_int_t worker_connections;
    unsigned events_seen : 1;
    wm_array_t error_logs;           /* wm_log_sink_t: path, level */
} wm_core_conf_t;

extern wm_module_t wm_core_module;

/* The error log used when the config names none: compiled in, or -e. */
extern const char *wm_core_default_error_log;

#define wm_core_conf(cycle)                                                    \
    ((wm_core_conf_t *) (cycle)->conf[wm_core_module.index])

/* How to build a cycle. */
typedef struct {
    const char *conf_file;  /* absolute */
    const char *prefix;     /* absolute, ends in '/' */
    const char *globals;    /* -g text, or NULL */
    bool test_only;         /* -t/-T: parse and check, open nothing */
    /* Receives each error line (`file:line: message`). */
    void (*report)(void *data, const char *msg);
    void *report_data;
} wm_cycle_args_t;

/*
 * Parses and checks the configuration and, unless test_only, opens the
 * error logs, creates the shared-memory zones and opens the listening
 * sockets, taking over those of `old` (may be NULL) whose address or name
 * and size are unchanged. NULL after reporting every error; `old` is then
 * untouched.
 */
wm_cycle_t *wm_cycle_new(const wm_cycle_args_t *args, wm_cycle_t *old);

/* Frees a cycle: closes its logs and the sockets and zones that no newer
 * cycle took over. Accepts NULL. */
void wm_cycle_free(wm_cycle_t *cycle);

/*
 * Declares a file for appending, while the config is parsed: the cycle
 * opens it after parsing (in the master, so the workers inherit it, and
 * chowned to the workers' user), closes it when freed, and reopens it in
 * place on USR1. The same path gives the same object. NULL when out of
 * memory.
 */
wm_open_file_t *wm_cycle_open_file(wm_cycle_t *cycle, const char *path);

/* Reopens the cycle's error logs and open files in place (USR1); when uid
 * is not -1, new files are chowned to it. Failures are logged. */
void wm_cycle_reopen(wm_cycle_t *cycle, uid_t uid, gid_t gid);

/* The cycle the process runs now. */
extern wm_cycle_t *wm_cycle;

#endif /* WM_CYCLE_H */
