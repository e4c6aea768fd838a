/*
 * The core module: main-context directives (processes, daemon, pid, error
 * logs, user, limits) and the `events {}` block. Its conf is read by the
 * process model in wm_process.c and wm_worker.c.
 */
#include "wm_cycle.h"

#include "wm_access_log.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

static void *wm_core_create_conf(wm_conf_t *cf, unsigned level);
static const char *wm_core_init_conf(wm_cycle_t *cycle, void *conf);
static const char *wm_core_set_workers(wm_conf_t *cf, const wm_command_t *cmd,
                                       void *conf);
static const char *wm_core_set_error_log(wm_conf_t *cf,
                                         const wm_command_t *cmd, void *conf);
static const char *wm_core_set_user(wm_conf_t *cf, const wm_command_t *cmd,
                                    void *conf);
static const char *wm_core_set_include(wm_conf_t *cf, const wm_command_t *cmd,
                                       void *conf);
static const char *wm_core_set_events(wm_conf_t *cf, const wm_command_t *cmd,
                                      void *conf);
static const char *wm_core_set_accepted(wm_conf_t *cf,
                                        const wm_command_t *cmd, void *conf);

const char *wm_core_default_error_log = WM_ERROR_LOG_PATH;

static const wm_conf_bounds_t wm_core_nofile_bounds = {1, 1 << 24};
static const wm_conf_bounds_t wm_core_connections_bounds = {1, 1 << 24};

static const wm_conf_enum_t wm_core_on_off[] = {
    {"on", 1}, {"off", 0}, {NULL, 0},
};

static const wm_conf_enum_t wm_core_event_methods[] = {
    {"epoll", 0}, {"poll", 0}, {"select", 0}, {NULL, 0},
};

static const wm_command_t wm_core_commands[] = {
    {"worker_processes", WM_CTX_MAIN, 1, 1, 0, WM_LVL_MAIN,
     wm_core_set_workers, offsetof(wm_core_conf_t, worker_processes), NULL,
     "1", "number of worker processes, or auto for one per CPU"},
    {"worker_rlimit_nofile", WM_CTX_MAIN, 1, 1, 0, WM_LVL_MAIN,
     wm_conf_set_num, offsetof(wm_core_conf_t, rlimit_nofile),
     &wm_core_nofile_bounds, "-",
     "limit on open files (RLIMIT_NOFILE) for worker processes"},
    {"worker_shutdown_timeout", WM_CTX_MAIN, 1, 1, 0, WM_LVL_MAIN,
     wm_conf_set_msec, offsetof(wm_core_conf_t, shutdown_timeout), NULL, "-",
     "how long a graceful stop waits for open connections"},
    {"daemon", WM_CTX_MAIN, 1, 1, 0, WM_LVL_MAIN, wm_conf_set_flag,
     offsetof(wm_core_conf_t, daemon), NULL, "on",
     "detach from the terminal and run in the background"},
    {"master_process", WM_CTX_MAIN, 1, 1, 0, WM_LVL_MAIN, wm_conf_set_flag,
     offsetof(wm_core_conf_t, master), NULL, "on",
     "run a master and workers; off runs one process (debugging)"},
    {"pid", WM_CTX_MAIN, 1, 1, 0, WM_LVL_MAIN, wm_conf_set_path,
     offsetof(wm_core_conf_t, pid), NULL, WM_PID_PATH,
     "file that holds the master's process id"},
    {"error_log", WM_CTX_MAIN, 1, 2, WM_CMD_MULTI, WM_LVL_MAIN,
     wm_core_set_error_log, 0, NULL, WM_ERROR_LOG_PATH " error",
     "error log file (or stderr) and level; may repeat"},
    {"user", WM_CTX_MAIN, 1, 2, 0, WM_LVL_MAIN, wm_core_set_user, 0, NULL,
     "nobody", "user and group of workers when started as root"},
    {"include", WM_CTX_ANY, 1, 1, WM_CMD_MULTI, WM_LVL_MAIN,
     wm_core_set_include, 0, NULL, "-",
     "insert files matching a glob, relative to the including file"},
    {"events", WM_CTX_MAIN, 0, 0, WM_CMD_BLOCK, WM_LVL_MAIN,
     wm_core_set_events, 0, NULL, "-", "connection processing settings"},
    {"worker_connections", WM_CTX_EVENTS, 1, 1, 0, WM_LVL_MAIN,
     wm_conf_set_num, offsetof(wm_core_conf_t, worker_connections),
     &wm_core_connections_bounds, "1024",
     "most connections a worker keeps open at once"},
    {"load_module", WM_CTX_MAIN, 1, 1, WM_CMD_MULTI, WM_LVL_MAIN,
     wm_core_set_accepted, 0, NULL, "-",
     "accepted for compatibility; wmproxy's modules are built in"},
    {"multi_accept", WM_CTX_EVENTS, 1, 1, 0, WM_LVL_MAIN,
     wm_core_set_accepted, 0, wm_core_on_off, "-",
     "accepted for compatibility; workers accept in batches"},
    {"accept_mutex", WM_CTX_EVENTS, 1, 1, 0, WM_LVL_MAIN,
     wm_core_set_accepted, 0, wm_core_on_off, "-",
     "accepted for compatibility; wmproxy has no accept mutex"},
    {"use", WM_CTX_EVENTS, 1, 1, 0, WM_LVL_MAIN, wm_core_set_accepted, 0,
     wm_core_event_methods, "-",
     "accepted for compatibility; libevent picks epoll"},
    wm_null_command,
};

wm_module_t wm_core_module = {
    .name = "core",
    .family = WM_MOD_CORE,
    .commands = wm_core_commands,
    .create_conf = wm_core_create_conf,
    .init_conf = wm_core_init_conf,
};

static void *
wm_core_create_conf(wm_conf_t *cf, unsigned level)
{
    wm_core_conf_t *cc = wm_pcalloc(cf->pool, sizeof(*cc));

    if (cc == NULL) {
        return NULL;
    }
    cc->worker_processes = WM_CONF_UNSET;
    cc->rlimit_nofile = WM_CONF_UNSET;
    cc->shutdown_timeout = WM_CONF_UNSET_MSEC;
    cc->daemon = WM_CONF_UNSET;
    cc->master = WM_CONF_UNSET;
    cc->worker_connections = WM_CONF_UNSET;
    cc->uid = (uid_t) -1;
    cc->gid = (gid_t) -1;
    if (wm_array_init(&cc->error_logs, cf->pool, 2, sizeof(wm_log_sink_t))
        != WM_OK)
    {
        return NULL;
    }
    return cc;
}

static const char *
wm_core_set_workers(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_core_conf_t *cc = conf;
    const wm_str_t *arg = &cf->node->args[0];
    int64_t n;

    if (cc->worker_processes != WM_CONF_UNSET) {
        return "is duplicate";
    }
    if (wm_str_eq(arg, "auto")) {
        cc->worker_processes = 0;
        return NULL;
    }
    n = wm_parse_num(arg);
    if (n < 1 || n > 1024) {
        return wm_conf_errf(cf,
                            "has invalid value \"%s\", it must be a number "
                            "from 1 to 1024 or \"auto\"",
                            (const char *) arg->data);
    }
    cc->worker_processes = (wm_int_t) n;
    return NULL;
}

static const char *
wm_core_set_error_log(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_core_conf_t *cc = conf;
    const wm_conf_node_t *n = cf->node;
    wm_log_sink_t *sink;
    int level;
    const char *rv;

    if (n->args[0].len == 0) {
        return "has invalid value \"\"";
    }
    if ((rv = wm_error_log_level(cf, &level))) {
        return rv;
    }
    sink = wm_array_push(&cc->error_logs);
    if (sink == NULL) {
        return "failed: out of memory";
    }
    sink->fd = -1;
    sink->level = (unsigned) level;
    if (wm_str_eq(&n->args[0], "stderr")) {
        sink->path = NULL;
    } else {
        sink->path = wm_conf_full_path(cf->pool, cf->prefix, &n->args[0]);
        if (sink->path == NULL) {
            return "failed: out of memory";
        }
    }
    return NULL;
}

static const char *
wm_core_set_user(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_core_conf_t *cc = conf;
    const wm_conf_node_t *n = cf->node;

    if (cc->user_name.data) {
        return "is duplicate";
    }
    cc->user_name = n->args[0];
    if (n->nargs == 2) {
        cc->group_name = n->args[1];
    }
    return NULL;
}

static const char *
wm_core_set_include(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    /* Files reach the tree through the parser's include callback; an
     * include node left in the tree came from -g, which reads no files. */
    return "is not allowed here (no files are read for -g)";
}

static const char *
wm_core_set_events(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_core_conf_t *cc = conf;
    uint32_t ctx = cf->ctx;

    if (cc->events_seen) {
        return "is duplicate";
    }
    cc->events_seen = 1;
    cf->ctx = WM_CTX_EVENTS;
    wm_conf_walk(cf, cf->node);
    cf->ctx = ctx;
    return NULL;
}

/* An nginx directive wmproxy has no use for: its value is checked against
 * cmd->post (a wm_conf_enum_t list) when there is one, then dropped. */
static const char *
wm_core_set_accepted(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    const wm_conf_enum_t *e = cmd->post;
    const wm_str_t *a = &cf->node->args[0];

    if (e == NULL) {
        return NULL;
    }
    for (; e->name; e++) {
        if (strlen(e->name) == a->len && memcmp(e->name, a->data, a->len) == 0)
        {
            return NULL;
        }
    }
    return wm_conf_errf(cf, "has invalid value \"%s\"",
                        (const char *) a->data);
}

/* Looks up the workers' user and group now, in the master, so that a
 * typo is a -t error and no worker ever calls getpwnam(). */
static const char *
wm_core_resolve_user(wm_core_conf_t *cc, char *buf, size_t len)
{
    const char *user = cc->user_name.data ? (const char *) cc->user_name.data
                                          : "nobody";
    struct passwd *pw;
    struct group *gr;

    if (geteuid() != 0) {
        return NULL; /* privileges can only be dropped by root */
    }
    pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(buf, len, "\"user\" directive: getpwnam(\"%s\") failed",
                 user);
        return buf;
    }
    cc->uid = pw->pw_uid;
    cc->gid = pw->pw_gid;
    if (cc->group_name.data) {
        gr = getgrnam((const char *) cc->group_name.data);
        if (gr == NULL) {
            snprintf(buf, len, "\"user\" directive: getgrnam(\"%s\") failed",
                     (const char *) cc->group_name.data);
            return buf;
        }
        cc->gid = gr->gr_gid;
    }
    return NULL;
}

static const char *
wm_core_init_conf(wm_cycle_t *cycle, void *conf)
{
    static char err[256];
    wm_core_conf_t *cc = conf;

    if (!cc->events_seen) {
        return "no \"events\" section in configuration";
    }
    if (cc->worker_processes == WM_CONF_UNSET) {
        cc->worker_processes = 1;
    }
    if (cc->worker_processes == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);

        cc->worker_processes = n > 0 ? (wm_int_t) wm_min(n, 1024) : 1;
    }
    if (cc->daemon == WM_CONF_UNSET) {
        cc->daemon = 1;
    }
    if (cc->master == WM_CONF_UNSET) {
        cc->master = 1;
    }
    if (cc->worker_connections == WM_CONF_UNSET) {
        cc->worker_connections = 1024;
    }
    if (cc->pid.data == NULL) {
        wm_str_set(&cc->pid, WM_PID_PATH);
    }
    if (cc->error_logs.nelts == 0) {
        wm_log_sink_t *sink = wm_array_push(&cc->error_logs);

        if (sink == NULL) {
            return "out of memory";
        }
        sink->path = strcmp(wm_core_default_error_log, "stderr") == 0
                         ? NULL
                         : wm_core_default_error_log;
        sink->fd = -1;
        sink->level = WM_LOG_ERR;
    }
    return wm_core_resolve_user(cc, err, sizeof(err));
}
