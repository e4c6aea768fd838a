/*
 * The process model: a master that supervises N workers (reload, graceful
 * and fast stop, log reopening, respawn with back-off), the worker's event
 * loop, and the single-process mode of `master_process off`.
 */
#ifndef WM_PROCESS_H
#define WM_PROCESS_H

#include "wm_core.h"
#include "wm_cycle.h"

/* Runs the master until it is told to stop; returns the exit status.
 * args is kept for rebuilding the cycle on SIGHUP. */
int wm_master_run(wm_cycle_t *cycle, const wm_cycle_args_t *args);

/* Runs the worker loop in this process (master_process off); returns the
 * exit status. */
int wm_single_run(wm_cycle_t *cycle);

/* The worker's life after fork: drops privileges, runs the modules'
 * init_worker hooks and the event loop, and exits the process. */
void wm_worker_run(wm_cycle_t *cycle, bool drop_privileges)
    __attribute__((noreturn));

/*
 * Connection accounting for workers, used by the modules: a graceful stop
 * waits until every connection opened is closed (or worker_shutdown_timeout
 * runs out); accept stops at worker_connections.
 */
void wm_worker_conn_open(void);
void wm_worker_conn_close(void);
bool wm_worker_conn_full(void);
bool wm_worker_quitting(void);

/* Registers fn to run in the worker when a graceful stop begins (to close
 * idle keep-alive connections, say). At most 8; WM_OK or WM_ERROR. */
wm_int_t wm_worker_on_quit(void (*fn)(void));

/* Writes / removes the pid file. WM_OK or WM_ERROR (logged). */
wm_int_t wm_pidfile_write(const char *path);
void wm_pidfile_remove(const char *path);

#endif /* WM_PROCESS_H */
