/*
 * Building and freeing cycles. wm_cycle_new() is the one place that turns
 * a configuration file into running state: parse, let every module set
 * and check its conf, then (unless only testing) open the logs, map the
 * shared zones and open the listening sockets, reusing what the previous
 * cycle had.
 */
#include "wm_cycle.h"

#include "wm_listen.h"
#include "wm_shm.h"

#include <fcntl.h>
#include <unistd.h>

wm_cycle_t *wm_cycle;

static void
wm_cycle_close_logs(void *data)
{
    wm_cycle_t *cycle = data;
    size_t i;

    for (i = 0; i < cycle->log.nsinks; i++) {
        wm_log_sink_t *s = &cycle->log.sinks[i];

        if (s->path && s->fd >= 0) {
            close(s->fd);
            s->fd = -1;
        }
    }
}

wm_open_file_t *
wm_cycle_open_file(wm_cycle_t *cycle, const char *path)
{
    wm_open_file_t **slot, *f;
    size_t i;

    for (i = 0; i < cycle->open_files.nelts; i++) {
        f = ((wm_open_file_t **) cycle->open_files.elts)[i];
        if (strcmp(f->path, path) == 0) {
            return f;
        }
    }
    f = wm_palloc(cycle->pool, sizeof(*f));
    slot = wm_array_push(&cycle->open_files);
    if (f == NULL || slot == NULL
        || (f->path = wm_pstrdup(cycle->pool, path)) == NULL)
    {
        return NULL;
    }
    f->fd = -1;
    f->flush = NULL;
    f->data = NULL;
    *slot = f;
    return f;
}

static void
wm_cycle_close_files(void *data)
{
    wm_cycle_t *cycle = data;
    size_t i;

    for (i = 0; i < cycle->open_files.nelts; i++) {
        wm_open_file_t *f = ((wm_open_file_t **) cycle->open_files.elts)[i];

        if (f->fd >= 0) {
            close(f->fd);
            f->fd = -1;
        }
    }
}

static wm_int_t
wm_cycle_open_files(wm_cycle_t *cycle)
{
    wm_core_conf_t *cc = wm_core_conf(cycle);
    size_t i;

    for (i = 0; i < cycle->open_files.nelts; i++) {
        wm_open_file_t *f = ((wm_open_file_t **) cycle->open_files.elts)[i];

        f->fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                     0644);
        if (f->fd < 0) {
            wm_log_error(WM_LOG_EMERG, wm_errlog, errno, "open(\"%s\") failed",
                         f->path);
            return WM_ERROR;
        }
        if (cc->uid != (uid_t) -1 && fchown(f->fd, cc->uid, cc->gid) != 0) {
            wm_log_error(WM_LOG_WARN, wm_errlog, errno,
                         "fchown(\"%s\") failed", f->path);
        }
    }
    return WM_OK;
}

void
wm_cycle_reopen(wm_cycle_t *cycle, uid_t uid, gid_t gid)
{
    size_t i;

    wm_log_reopen(&cycle->log, uid, gid);
    for (i = 0; i < cycle->open_files.nelts; i++) {
        wm_open_file_t *f = ((wm_open_file_t **) cycle->open_files.elts)[i];
        int fd;

        if (f->fd < 0) {
            continue;
        }
        if (f->flush) {
            /* Lines buffered before the rename belong to the old file. */
            f->flush(f->data);
        }
        fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                         "open(\"%s\") failed", f->path);
            continue;
        }
        if (uid != (uid_t) -1 && fchown(fd, uid, gid) != 0) {
            wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                         "fchown(\"%s\") failed", f->path);
        }
        if (dup3(fd, f->fd, O_CLOEXEC) < 0) {
            wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                         "dup3(\"%s\") failed", f->path);
        }
        close(fd);
    }
}

static wm_int_t
wm_cycle_open_logs(wm_cycle_t *cycle)
{
    wm_core_conf_t *cc = wm_core_conf(cycle);
    size_t i;

    cycle->log.sinks = cc->error_logs.elts;
    cycle->log.nsinks = cc->error_logs.nelts;
    cycle->log.level = 0;
    for (i = 0; i < cycle->log.nsinks; i++) {
        wm_log_sink_t *s = &cycle->log.sinks[i];

        if (wm_log_sink_open(s) != WM_OK) {
            wm_log_error(WM_LOG_EMERG, wm_errlog, errno, "open(\"%s\") failed",
                         s->path);
            return WM_ERROR;
        }
        /* Workers that dropped privileges must still be able to reopen
         * the file on USR1. */
        if (s->path && cc->uid != (uid_t) -1
            && fchown(s->fd, cc->uid, cc->gid) != 0)
        {
            wm_log_error(WM_LOG_WARN, wm_errlog, errno,
                         "fchown(\"%s\") failed", s->path);
        }
        cycle->log.level = wm_max(cycle->log.level, s->level);
    }
    return WM_OK;
}

/* Undoes the hand-over of sockets and zones from old to a cycle that
 * failed to start, so that freeing it leaves old's untouched. */
static void
wm_cycle_give_back(wm_cycle_t *cycle, wm_cycle_t *old)
{
    size_t i, j;

    wm_listen_give_back(cycle, old);

    for (i = 0; old && i < old->listening.nelts; i++) {
        wm_listening_t *o = ((wm_listening_t **) old->listening.elts)[i];

        for (j = 0; o->kept && j < cycle->listening.nelts; j++) {
            wm_listening_t *ls = ((wm_listening_t **) cycle->listening.elts)[j];

            if (ls->fd == o->fd) {
                ls->fd = -1;
            }
        }
        o->kept = 0;
    }
    for (i = 0; old && i < old->shm_zones.nelts; i++) {
        wm_shm_zone_t *o = ((wm_shm_zone_t **) old->shm_zones.elts)[i];

        for (j = 0; o->kept && j < cycle->shm_zones.nelts; j++) {
            wm_shm_zone_t *z = ((wm_shm_zone_t **) cycle->shm_zones.elts)[j];

            if (z->addr == o->addr) {
                z->addr = NULL;
            }
        }
        o->kept = 0;
    }
}

static void
wm_cycle_report(wm_conf_t *cf, const char *msg)
{
    cf->nerrors++;
    if (cf->report) {
        cf->report(cf->report_data, msg);
    }
}

wm_cycle_t *
wm_cycle_new(const wm_cycle_args_t *args, wm_cycle_t *old)
{
    wm_pool_t *pool;
    wm_cycle_t *cycle;
    wm_conf_t cf;
    wm_log_t *saved_log;
    char err[WM_CONF_ERRLEN + 64];
    wm_uint_t i;

    pool = wm_pool_new(16384);
    if (pool == NULL) {
        args->report(args->report_data, "out of memory");
        return NULL;
    }
    cycle = wm_pcalloc(pool, sizeof(*cycle));
    if (cycle == NULL || wm_array_init(&cycle->listening, pool, 4,
                                       sizeof(void *))
                             != WM_OK
        || wm_array_init(&cycle->shm_zones, pool, 4, sizeof(void *)) != WM_OK
        || wm_array_init(&cycle->open_files, pool, 4, sizeof(void *))
               != WM_OK
        || (cycle->conf = wm_pcalloc(pool, wm_modules_n * sizeof(void *)))
               == NULL
        || (cycle->conf_file = wm_pstrdup(pool, args->conf_file)) == NULL
        || (cycle->prefix = wm_pstrdup(pool, args->prefix)) == NULL)
    {
        args->report(args->report_data, "out of memory");
        wm_pool_free(pool);
        return NULL;
    }
    cycle->pool = pool;

    memset(&cf, 0, sizeof(cf));
    cf.cycle = cycle;
    cf.pool = pool;
    cf.ctx = WM_CTX_MAIN;
    cf.family = WM_MOD_CORE;
    cf.confs[WM_LVL_MAIN] = cycle->conf;
    cf.prefix = cycle->prefix;
    cf.report = args->report;
    cf.report_data = args->report_data;

    if (wm_conf_load(pool, cycle->conf_file, &cycle->tree, err, sizeof(err))
            != WM_OK
        || (args->globals
            && wm_conf_add_global(pool, cycle->tree, args->globals, err,
                                  sizeof(err))
                   != WM_OK))
    {
        wm_cycle_report(&cf, err);
        goto failed;
    }

    for (i = 0; wm_modules[i]; i++) {
        wm_module_t *m = wm_modules[i];

        if ((m->family == WM_MOD_CORE || m->family == WM_MOD_EVENTS)
            && m->create_conf)
        {
            cycle->conf[i] = m->create_conf(&cf, WM_LVL_MAIN);
            if (cycle->conf[i] == NULL) {
                wm_cycle_report(&cf, "out of memory");
                goto failed;
            }
        }
    }

    wm_conf_walk(&cf, cycle->tree);
    if (cf.nerrors) {
        goto failed;
    }

    for (i = 0; wm_modules[i]; i++) {
        wm_module_t *m = wm_modules[i];
        const char *rv;

        if (m->init_conf && (rv = m->init_conf(cycle, cycle->conf[i]))) {
            snprintf(err, sizeof(err), "%s: %s", cycle->conf_file, rv);
            wm_cycle_report(&cf, err);
        }
    }
    if (cf.nerrors) {
        goto failed;
    }
    if (args->test_only) {
        return cycle;
    }

    if (wm_pool_cleanup_add(pool, wm_cycle_close_logs, cycle) != WM_OK
        || wm_cycle_open_logs(cycle) != WM_OK)
    {
        wm_cycle_report(&cf, "cannot open the error log");
        wm_pool_free(pool);
        return NULL;
    }
    /* From here on, messages about the new cycle go to its own logs. */
    saved_log = wm_errlog;
    wm_errlog = &cycle->log;
    if (wm_pool_cleanup_add(pool, wm_cycle_close_files, cycle) != WM_OK
        || wm_cycle_open_files(cycle) != WM_OK
        || wm_shm_create(cycle, old) != WM_OK
        || wm_listen_open(cycle, old) != WM_OK)
    {
        wm_errlog = saved_log;
        wm_cycle_report(&cf, "cannot start the new configuration, see the "
                             "error log");
        wm_cycle_give_back(cycle, old);
        wm_cycle_free(cycle);
        return NULL;
    }
    return cycle;

failed:
    wm_pool_free(pool);
    return NULL;
}

void
wm_cycle_free(wm_cycle_t *cycle)
{
    if (cycle == NULL) {
        return;
    }
    wm_listen_close(cycle);
    wm_shm_release(cycle);
    wm_pool_free(cycle->pool);
}
