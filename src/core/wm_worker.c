/*
 * A worker process: one libevent loop serving the listening sockets of
 * its cycle. A graceful stop (QUIT) stops accepting and lets open
 * connections finish, bounded by worker_shutdown_timeout; a fast stop
 * (TERM) exits at once.
 */
#include "wm_process.h"

#include "wm_listen.h"
#include "wm_log.h"

#include <event2/event.h>
#include <grp.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct {
    wm_cycle_t *cycle;
    wm_uint_t active;       /* open connections */
    wm_uint_t limit;        /* worker_connections */
    bool quitting;
    struct event *sig[5];
    struct event *shutdown_timer;
    void (*on_quit[8])(void);
    unsigned non_quit;
} wm_worker_t;

static wm_worker_t wm_worker;

void
wm_worker_conn_open(void)
{
    wm_worker.active++;
}

void
wm_worker_conn_close(void)
{
    if (wm_worker.active) {
        wm_worker.active--;
    }
    if (wm_worker.quitting && wm_worker.active == 0) {
        event_base_loopbreak(wm_worker.cycle->base);
    }
}

bool
wm_worker_conn_full(void)
{
    return wm_worker.limit && wm_worker.active >= wm_worker.limit;
}

bool
wm_worker_quitting(void)
{
    return wm_worker.quitting;
}

wm_int_t
wm_worker_on_quit(void (*fn)(void))
{
    if (wm_worker.non_quit == wm_nelems(wm_worker.on_quit)) {
        return WM_ERROR;
    }
    wm_worker.on_quit[wm_worker.non_quit++] = fn;
    return WM_OK;
}

static void
wm_worker_shutdown_timeout(evutil_socket_t fd, short what, void *arg)
{
    wm_log_error(WM_LOG_NOTICE, wm_errlog, 0,
                 "worker_shutdown_timeout reached, closing %lu connections",
                 (unsigned long) wm_worker.active);
    event_base_loopbreak(wm_worker.cycle->base);
}

static void
wm_worker_signal(evutil_socket_t sig, short what, void *arg)
{
    wm_cycle_t *cycle = wm_worker.cycle;
    wm_core_conf_t *cc = wm_core_conf(cycle);
    unsigned i;

    switch (sig) {
    case SIGQUIT:
        if (wm_worker.quitting) {
            return;
        }
        wm_log_error(WM_LOG_NOTICE, wm_errlog, 0, "gracefully shutting down");
        wm_worker.quitting = true;
        wm_listen_disable(cycle, true);
        for (i = 0; i < wm_worker.non_quit; i++) {
            wm_worker.on_quit[i]();
        }
        if (wm_worker.active == 0) {
            event_base_loopbreak(cycle->base);
        } else if (cc->shutdown_timeout != WM_CONF_UNSET_MSEC) {
            struct timeval tv = {cc->shutdown_timeout / 1000,
                                 (cc->shutdown_timeout % 1000) * 1000};

            wm_worker.shutdown_timer =
                evtimer_new(cycle->base, wm_worker_shutdown_timeout, NULL);
            if (wm_worker.shutdown_timer) {
                evtimer_add(wm_worker.shutdown_timer, &tv);
            }
        }
        break;
    case SIGTERM:
    case SIGINT:
        wm_worker.quitting = true;
        event_base_loopbreak(cycle->base);
        break;
    case SIGUSR1:
        wm_cycle_reopen(cycle, (uid_t) -1, (gid_t) -1);
        break;
    case SIGHUP:
        if (!cc->master) {
            wm_log_error(WM_LOG_WARN, wm_errlog, 0,
                         "reload is not supported with master_process off");
        }
        break;
    }
}

static void
wm_worker_drop_privileges(wm_core_conf_t *cc)
{
    if (geteuid() != 0 || cc->uid == (uid_t) -1) {
        return;
    }
    if (setgid(cc->gid) != 0) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, errno, "setgid(%d) failed",
                     (int) cc->gid);
        exit(2);
    }
    if (setgroups(0, NULL) != 0) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, errno, "setgroups() failed");
        exit(2);
    }
    if (setuid(cc->uid) != 0) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, errno, "setuid(%d) failed",
                     (int) cc->uid);
        exit(2);
    }
    /* setuid() clears it; a worker should still leave a core on crash. */
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

static int
wm_worker_loop(wm_cycle_t *cycle, bool drop_privileges)
{
    static const int sigs[] = {SIGQUIT, SIGTERM, SIGINT, SIGUSR1, SIGHUP};
    wm_core_conf_t *cc = wm_core_conf(cycle);
    struct event_config *ecfg;
    sigset_t set;
    wm_uint_t i;

    signal(SIGPIPE, SIG_IGN);

    /* Connections and requests allocate and free the same sizes all the
     * time; giving freed memory back to the kernel at once would cost a
     * brk() and page faults per request. */
    mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TOP_PAD, 4 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);

    if (cc->rlimit_nofile != WM_CONF_UNSET) {
        struct rlimit rl = {(rlim_t) cc->rlimit_nofile,
                            (rlim_t) cc->rlimit_nofile};

        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                         "setrlimit(RLIMIT_NOFILE, %ld) failed",
                         (long) cc->rlimit_nofile);
        }
    }
    if (drop_privileges) {
        wm_worker_drop_privileges(cc);
        /* A worker whose master died (even by SIGKILL) must not live on
         * holding the listening sockets. */
        prctl(PR_SET_PDEATHSIG, SIGQUIT, 0, 0, 0);
    }

    ecfg = event_config_new();
    if (ecfg == NULL) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, 0, "event_config_new() failed");
        return 2;
    }
    event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    cycle->base = event_base_new_with_config(ecfg);
    event_config_free(ecfg);
    if (cycle->base == NULL) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, 0, "event_base_new() failed");
        return 2;
    }

    wm_worker.cycle = cycle;
    wm_worker.limit = (wm_uint_t) cc->worker_connections;
    for (i = 0; i < wm_nelems(sigs); i++) {
        wm_worker.sig[i] = evsignal_new(cycle->base, sigs[i], wm_worker_signal,
                                        NULL);
        if (wm_worker.sig[i] == NULL || evsignal_add(wm_worker.sig[i], NULL)) {
            wm_log_error(WM_LOG_EMERG, wm_errlog, 0,
                         "cannot watch signal %d", sigs[i]);
            return 2;
        }
    }
    /* The master's mask came through fork(): a signal sent to a worker
     * that is just starting waits until its handler is in place, instead
     * of killing the worker (SIGQUIT's default action). */
    sigemptyset(&set);
    sigprocmask(SIG_SETMASK, &set, NULL);

    for (i = 0; wm_modules[i]; i++) {
        if (wm_modules[i]->init_worker
            && wm_modules[i]->init_worker(cycle) != WM_OK)
        {
            wm_log_error(WM_LOG_EMERG, wm_errlog, 0,
                         "module \"%s\" failed to start in the worker",
                         wm_modules[i]->name);
            return 2;
        }
    }
    if (wm_listen_enable(cycle) != WM_OK) {
        return 2;
    }

    event_base_dispatch(cycle->base);

    for (i = 0; wm_modules[i]; i++) {
        if (wm_modules[i]->exit_worker) {
            wm_modules[i]->exit_worker(cycle);
        }
    }
    wm_log_error(WM_LOG_NOTICE, wm_errlog, 0, "exiting");
    return 0;
}

static void
wm_worker_free(wm_cycle_t *cycle)
{
    size_t i;

    wm_listen_disable(cycle, false);
    if (wm_worker.shutdown_timer) {
        event_free(wm_worker.shutdown_timer);
    }
    for (i = 0; i < wm_nelems(wm_worker.sig); i++) {
        if (wm_worker.sig[i]) {
            event_free(wm_worker.sig[i]);
        }
    }
    if (cycle->base) {
        event_base_free(cycle->base);
        cycle->base = NULL;
    }
}

void
wm_worker_run(wm_cycle_t *cycle, bool drop_privileges)
{
    int status = wm_worker_loop(cycle, drop_privileges);

    wm_worker_free(cycle);
    wm_cycle_free(cycle);
    exit(status);
}

int
wm_single_run(wm_cycle_t *cycle)
{
    int status = wm_worker_loop(cycle, false);

    wm_worker_free(cycle);
    return status;
}
