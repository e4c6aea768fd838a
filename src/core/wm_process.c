/*
 * The master process. It owns the listening sockets and shared zones of
 * the current cycle, forks the workers and then only reacts to signals,
 * taken synchronously with sigtimedwait() so that no work runs inside a
 * signal handler: HUP reloads, QUIT stops gracefully, TERM/INT stop fast,
 * USR1 reopens logs, CHLD reaps and respawns.
 */
#include "wm_process.h"

#include "wm_listen.h"
#include "wm_log.h"
#include "wm_shm.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WM_RESPAWN_MIN_MS 100
#define WM_RESPAWN_MAX_MS 30000
#define WM_CRASH_WINDOW_MS 2000   /* a worker dying sooner crashed at start */
#define WM_FAST_STOP_KILL_MS 5000 /* TERM, then KILL after this long */

typedef struct {
    pid_t pid;             /* 0: free slot */
    unsigned generation;   /* cycle generation it runs */
    int64_t started;       /* msec, monotonic */
    bool quitting;         /* told to stop */
    unsigned number;       /* wm_listen_worker of the worker */
} wm_worker_proc_t;

typedef struct {
    wm_worker_proc_t *procs;
    size_t nprocs;
    unsigned generation;
    /* Respawn back-off after crashes at start: one entry per missing
     * worker of the current generation. */
    size_t pending;        /* workers to start once due */
    int64_t respawn_at;    /* msec */
    int64_t backoff;       /* msec, doubles while workers keep crashing */
} wm_master_t;

static int64_t
wm_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

wm_int_t
wm_pidfile_write(const char *path)
{
    char buf[32];
    int fd, n;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, errno, "open(\"%s\") failed",
                     path);
        return WM_ERROR;
    }
    n = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
    if (write(fd, buf, (size_t) n) != n) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, errno, "write(\"%s\") failed",
                     path);
        close(fd);
        return WM_ERROR;
    }
    close(fd);
    return WM_OK;
}

void
wm_pidfile_remove(const char *path)
{
    char buf[32];
    ssize_t n;
    int fd;

    /* Remove it only while it still names this process: a newer master
     * may have written it. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n > 0) {
        buf[n] = '\0';
        if (atoi(buf) == (int) getpid() && unlink(path) != 0) {
            wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                         "unlink(\"%s\") failed", path);
        }
    }
}

static wm_worker_proc_t *
wm_master_slot(wm_master_t *m)
{
    size_t i;
    wm_worker_proc_t *p;

    for (i = 0; i < m->nprocs; i++) {
        if (m->procs[i].pid == 0) {
            return &m->procs[i];
        }
    }
    p = realloc(m->procs, (m->nprocs + 8) * sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    memset(p + m->nprocs, 0, 8 * sizeof(*p));
    m->procs = p;
    m->nprocs += 8;
    return &m->procs[m->nprocs - 8];
}

/* The lowest worker number that no running worker of the current
 * generation has: a replacement takes the number of the worker it
 * replaces, and so its reuseport sockets. */
static unsigned
wm_master_number(const wm_master_t *m)
{
    unsigned n;
    size_t i;

    for (n = 0;; n++) {
        for (i = 0; i < m->nprocs; i++) {
            const wm_worker_proc_t *p = &m->procs[i];

            if (p->pid && p->generation == m->generation && !p->quitting
                && p->number == n)
            {
                break;
            }
        }
        if (i == m->nprocs) {
            return n;
        }
    }
}

static wm_int_t
wm_master_spawn(wm_master_t *m, wm_cycle_t *cycle)
{
    wm_worker_proc_t *slot = wm_master_slot(m);
    unsigned number;
    pid_t pid;

    if (slot == NULL) {
        wm_log_error(WM_LOG_ALERT, wm_errlog, ENOMEM, "cannot start worker");
        return WM_ERROR;
    }
    number = wm_master_number(m);
    pid = fork();
    if (pid < 0) {
        wm_log_error(WM_LOG_ALERT, wm_errlog, errno, "fork() failed");
        return WM_ERROR;
    }
    if (pid == 0) {
        free(m->procs);
        wm_listen_worker = number;
        wm_worker_run(cycle, true);
    }
    slot->pid = pid;
    slot->number = number;
    slot->generation = m->generation;
    slot->started = wm_now_ms();
    slot->quitting = false;
    wm_log_error(WM_LOG_NOTICE, wm_errlog, 0, "start worker process %d",
                 (int) pid);
    return WM_OK;
}

static void
wm_master_spawn_n(wm_master_t *m, wm_cycle_t *cycle, size_t n)
{
    while (n--) {
        if (wm_master_spawn(m, cycle) != WM_OK) {
            /* Try again later rather than give up on the worker. */
            m->pending++;
            m->respawn_at = wm_now_ms() + WM_RESPAWN_MIN_MS * 10;
        }
    }
}

static void
wm_master_signal_workers(wm_master_t *m, int sig, bool old_only)
{
    size_t i;

    for (i = 0; i < m->nprocs; i++) {
        wm_worker_proc_t *p = &m->procs[i];

        if (p->pid == 0 || (old_only && p->generation == m->generation)) {
            continue;
        }
        if (sig == SIGQUIT || sig == SIGTERM) {
            p->quitting = true;
        }
        if (kill(p->pid, sig) != 0 && errno != ESRCH) {
            wm_log_error(WM_LOG_ALERT, wm_errlog, errno, "kill(%d, %d) failed",
                         (int) p->pid, sig);
        }
    }
}

static size_t
wm_master_live(wm_master_t *m)
{
    size_t i, n = 0;

    for (i = 0; i < m->nprocs; i++) {
        n += m->procs[i].pid != 0;
    }
    return n;
}

/* Reaps every exited child; schedules a respawn for each worker of the
 * current generation that died without being told to. */
static void
wm_master_reap(wm_master_t *m, bool stopping)
{
    int status;
    pid_t pid;
    size_t i;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        wm_worker_proc_t *p = NULL;
        int64_t lived;

        for (i = 0; i < m->nprocs; i++) {
            if (m->procs[i].pid == pid) {
                p = &m->procs[i];
                break;
            }
        }
        if (p == NULL) {
            continue;
        }
        if (WIFSIGNALED(status)) {
            wm_log_error(p->quitting ? WM_LOG_NOTICE : WM_LOG_ALERT,
                         wm_errlog, 0,
                         "worker process %d exited on signal %d%s", (int) pid,
                         WTERMSIG(status),
                         WCOREDUMP(status) ? " (core dumped)" : "");
        } else {
            wm_log_error(WEXITSTATUS(status) && !p->quitting ? WM_LOG_ALERT
                                                             : WM_LOG_NOTICE,
                         wm_errlog, 0, "worker process %d exited with code %d",
                         (int) pid, WEXITSTATUS(status));
        }
        p->pid = 0;
        if (stopping || p->quitting || p->generation != m->generation) {
            continue;
        }
        lived = wm_now_ms() - p->started;
        if (lived < WM_CRASH_WINDOW_MS) {
            m->backoff = m->backoff ? wm_min(m->backoff * 2, WM_RESPAWN_MAX_MS)
                                    : WM_RESPAWN_MIN_MS;
        } else {
            m->backoff = 0;
        }
        m->pending++;
        if (m->backoff) {
            wm_log_error(WM_LOG_WARN, wm_errlog, 0,
                         "worker process %d died %lld ms after start, "
                         "starting a new one in %lld ms",
                         (int) pid, (long long) lived, (long long) m->backoff);
        }
        m->respawn_at = wm_now_ms() + m->backoff;
    }
}

static void
wm_master_sigset(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGQUIT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGCHLD);
}

/* Builds the new cycle; on success the new workers start and the old ones
 * are asked to finish. On failure the old cycle keeps running. */
static wm_cycle_t *
wm_master_reload(wm_master_t *m, wm_cycle_t *cycle,
                 const wm_cycle_args_t *args)
{
    wm_core_conf_t *occ = wm_core_conf(cycle), *ncc;
    wm_cycle_t *next;
    const char *old_pid = occ->pid.data ? (const char *) occ->pid.data : "";

    wm_log_error(WM_LOG_NOTICE, wm_errlog, 0,
                 "signal %d (SIGHUP) received, reconfiguring", SIGHUP);
    next = wm_cycle_new(args, cycle);
    if (next == NULL) {
        wm_log_error(WM_LOG_NOTICE, wm_errlog, 0,
                     "configuration not reloaded, keeping the old one");
        return cycle;
    }
    wm_errlog = &next->log;
    wm_cycle = next;
    ncc = wm_core_conf(next);
    if (strcmp(old_pid, (const char *) ncc->pid.data) != 0
        && wm_pidfile_write((const char *) ncc->pid.data) == WM_OK)
    {
        wm_pidfile_remove(old_pid);
    }

    /* Free the old cycle first: the new workers must not inherit the
     * sockets it alone had. Its workers keep their own copies. */
    wm_cycle_free(cycle);
    m->generation++;
    m->pending = 0;
    m->backoff = 0;
    wm_master_spawn_n(m, next, (size_t) ncc->worker_processes);
    wm_master_signal_workers(m, SIGQUIT, true);
    return next;
}

int
wm_master_run(wm_cycle_t *cycle, const wm_cycle_args_t *args)
{
    wm_master_t m = {0};
    sigset_t set;
    siginfo_t info;
    bool stopping = false, fast = false;
    int64_t kill_at = 0;

    wm_master_sigset(&set);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, errno, "sigprocmask() failed");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    wm_master_spawn_n(&m, cycle, (size_t) wm_core_conf(cycle)->worker_processes);

    for (;;) {
        struct timespec ts = {1, 0};
        int64_t now = wm_now_ms(), wait = 1000;
        int sig;

        if (m.pending && !stopping) {
            if (now >= m.respawn_at) {
                size_t n = m.pending;

                m.pending = 0;
                wm_master_spawn_n(&m, cycle, n);
                continue;
            }
            wait = wm_min(wait, m.respawn_at - now);
        }
        if (stopping && wm_master_live(&m) == 0) {
            break;
        }
        if (fast && kill_at && now >= kill_at) {
            wm_master_signal_workers(&m, SIGKILL, false);
            kill_at = 0;
        }
        ts.tv_sec = wait / 1000;
        ts.tv_nsec = (wait % 1000) * 1000000;

        sig = sigtimedwait(&set, &info, &ts);
        if (sig < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                             "sigtimedwait() failed");
            }
            continue;
        }

        switch (sig) {
        case SIGCHLD:
            wm_master_reap(&m, stopping);
            break;
        case SIGHUP:
            if (!stopping) {
                cycle = wm_master_reload(&m, cycle, args);
            }
            break;
        case SIGUSR1:
            wm_log_error(WM_LOG_NOTICE, wm_errlog, 0, "reopening logs");
            wm_cycle_reopen(cycle, wm_core_conf(cycle)->uid,
                            wm_core_conf(cycle)->gid);
            wm_master_signal_workers(&m, SIGUSR1, false);
            break;
        case SIGQUIT:
            wm_log_error(WM_LOG_NOTICE, wm_errlog, 0,
                         "signal %d (SIGQUIT) received, gracefully shutting "
                         "down",
                         sig);
            stopping = true;
            /* New connections are refused from now on; the workers finish
             * the ones they have. */
            wm_listen_close(cycle);
            wm_master_signal_workers(&m, SIGQUIT, false);
            break;
        case SIGTERM:
        case SIGINT:
            wm_log_error(WM_LOG_NOTICE, wm_errlog, 0,
                         "signal %d (%s) received, exiting", sig,
                         sig == SIGTERM ? "SIGTERM" : "SIGINT");
            stopping = true;
            fast = true;
            kill_at = wm_now_ms() + WM_FAST_STOP_KILL_MS;
            wm_listen_close(cycle);
            wm_master_signal_workers(&m, SIGTERM, false);
            break;
        }
    }

    wm_pidfile_remove((const char *) wm_core_conf(cycle)->pid.data);
    wm_log_error(WM_LOG_NOTICE, wm_errlog, 0, "exiting");
    free(m.procs);
    wm_cycle_free(cycle);
    return 0;
}
