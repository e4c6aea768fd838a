/*
 * `worker_cpu_affinity auto | mask ...`: each worker binds itself to CPUs
 * with sched_setaffinity() when it starts, as nginx's workers do; plus
 * `timer_resolution` and `pcre_jit`, main-context settings that wmproxy
 * accepts and checks but needs no value for (see wmproxy.conf(5)).
 */
#include "wm_cycle.h"

#include "wm_listen.h"
#include "wm_log.h"

#include <sched.h>

typedef struct {
    bool set;
    bool automatic;
    cpu_set_t *masks;       /* nmasks; with auto, at most one: the CPUs */
    size_t nmasks;          /* to choose from (none: all allowed ones) */
    wm_msec_t timer_resolution;
    wm_int_t pcre_jit;
} wm_cpu_affinity_conf_t;

static void *wm_cpu_affinity_create(wm_conf_t *cf, unsigned level);
static const char *wm_cpu_affinity_set(wm_conf_t *cf, const wm_command_t *cmd,
                                       void *conf);
static wm_int_t wm_cpu_affinity_init_worker(wm_cycle_t *cycle);

static const wm_command_t wm_cpu_affinity_commands[] = {
    {"worker_cpu_affinity", WM_CTX_MAIN, 1, WM_ARGS_MANY, 0, WM_LVL_MAIN,
     wm_cpu_affinity_set, 0, NULL, "-",
     "auto [mask] | mask ...: bind each worker to CPUs"},
    {"timer_resolution", WM_CTX_MAIN, 1, 1, 0, WM_LVL_MAIN, wm_conf_set_msec,
     offsetof(wm_cpu_affinity_conf_t, timer_resolution), NULL, "-",
     "time: accepted; libevent caches the time per loop turn"},
    {"pcre_jit", WM_CTX_MAIN, 1, 1, 0, WM_LVL_MAIN, wm_conf_set_flag,
     offsetof(wm_cpu_affinity_conf_t, pcre_jit), NULL, "on",
     "on | off: accepted; regexes are always JIT-compiled when possible"},
    wm_null_command,
};

wm_module_t wm_cpu_affinity_module = {
    .name = "cpu_affinity",
    .family = WM_MOD_CORE,
    .commands = wm_cpu_affinity_commands,
    .create_conf = wm_cpu_affinity_create,
    .init_worker = wm_cpu_affinity_init_worker,
};

/* Parses a mask of '0' and '1', the rightmost for CPU 0. */
static bool
wm_cpu_affinity_mask(const wm_str_t *s, cpu_set_t *set)
{
    size_t i;
    bool any = false;

    CPU_ZERO(set);
    if (s->len == 0 || s->len > CPU_SETSIZE) {
        return false;
    }
    for (i = 0; i < s->len; i++) {
        u_char ch = s->data[s->len - 1 - i];

        if (ch == '1') {
            CPU_SET(i, set);
            any = true;
        } else if (ch != '0') {
            return false;
        }
    }
    return any;
}

/* The n-th CPU of set, counted cyclically; -1 when set is empty. */
static int
wm_cpu_affinity_nth(const cpu_set_t *set, unsigned n)
{
    int count = CPU_COUNT(set), i;

    if (count == 0) {
        return -1;
    }
    n %= (unsigned) count;
    for (i = 0; i < CPU_SETSIZE; i++) {
        if (CPU_ISSET(i, set) && n-- == 0) {
            return i;
        }
    }
    return -1;
}

static wm_int_t
wm_cpu_affinity_init_worker(wm_cycle_t *cycle)
{
    wm_cpu_affinity_conf_t *acf = cycle->conf[wm_cpu_affinity_module.index];
    cpu_set_t set, allowed;
    int cpu;

    if (acf == NULL || !acf->set) {
        return WM_OK;
    }
    if (acf->automatic) {
        /* One CPU per worker, in turn, among those this process may use
         * (and those of the mask given). */
        if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
            wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                         "sched_getaffinity() failed");
            return WM_OK;
        }
        if (acf->nmasks) {
            CPU_AND(&allowed, &allowed, &acf->masks[0]);
        }
        cpu = wm_cpu_affinity_nth(&allowed, wm_listen_worker);
        if (cpu < 0) {
            wm_log_error(WM_LOG_WARN, wm_errlog, 0,
                         "worker_cpu_affinity auto: no CPU of the mask is "
                         "allowed, affinity left as it is");
            return WM_OK;
        }
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
    } else {
        /* As nginx: workers beyond the masks take the last one. */
        set = acf->masks[wm_min((size_t) wm_listen_worker, acf->nmasks - 1)];
    }
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        wm_log_error(WM_LOG_ALERT, wm_errlog, errno,
                     "sched_setaffinity() failed");
    }
    return WM_OK;
}

static const char *
wm_cpu_affinity_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_cpu_affinity_conf_t *acf = conf;
    const wm_conf_node_t *n = cf->node;
    size_t i = 0;

    (void) cmd;
    if (acf->set) {
        return "is duplicate";
    }
    acf->set = true;
    if (wm_str_eq(&n->args[0], "auto")) {
        if (n->nargs > 2) {
            return "has too many masks after \"auto\" (one at most)";
        }
        acf->automatic = true;
        i = 1;
    }
    acf->nmasks = n->nargs - i;
    if (acf->nmasks == 0) {
        return NULL;
    }
    acf->masks = wm_palloc(cf->pool, acf->nmasks * sizeof(cpu_set_t));
    if (acf->masks == NULL) {
        return "failed: out of memory";
    }
    for (; i < n->nargs; i++) {
        if (!wm_cpu_affinity_mask(&n->args[i],
                                  &acf->masks[i - (acf->automatic ? 1 : 0)]))
        {
            return wm_conf_errf(cf,
                                "has invalid mask \"%s\" (0 and 1, at least "
                                "one 1, rightmost for CPU 0)",
                                (const char *) n->args[i].data);
        }
    }
    return NULL;
}

static void *
wm_cpu_affinity_create(wm_conf_t *cf, unsigned level)
{
    wm_cpu_affinity_conf_t *acf = wm_pcalloc(cf->pool, sizeof(*acf));

    (void) level;
    if (acf) {
        acf->timer_resolution = WM_CONF_UNSET_MSEC;
        acf->pcre_jit = WM_CONF_UNSET;
    }
    return acf;
}
