/*
 * The wmproxy command line, as nginx's: -c -p -g -e -t -T -q -s -v -V -h,
 * plus --directives. It builds the first cycle and hands over to the
 * master, or to the single process of `master_process off`.
 */
#include "wm_cycle.h"
#include "wm_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *conf_file;
    const char *prefix;
    const char *globals;
    const char *early_log;
    const char *signal;
    bool test;
    bool dump;
    bool quiet;
} wm_options_t;

static const char wm_usage[] =
    "Usage: wmproxy [-?hvVtTq] [-s signal] [-p prefix] [-e filename]\n"
    "               [-c filename] [-g directives] [--directives]\n"
    "\n"
    "Options:\n"
    "  -?,-h         : this help\n"
    "  -v            : show version and exit\n"
    "  -V            : show version and build options and exit\n"
    "  -t            : test configuration and exit\n"
    "  -T            : test configuration, dump it and exit\n"
    "  -q            : suppress non-error messages during configuration "
    "testing\n"
    "  -s signal     : send signal to a master process: stop, quit, reopen, "
    "reload\n"
    "  -p prefix     : set prefix path (default: " WM_PREFIX "/)\n"
    "  -e filename   : set error log file (default: " WM_ERROR_LOG_PATH ")\n"
    "  -c filename   : set configuration file (default: " WM_CONF_PATH ")\n"
    "  -g directives : set global directives out of configuration file\n"
    "  --directives  : list every directive with its contexts and exit\n";

static void
wm_report_stderr(void *data, const char *msg)
{
    fprintf(stderr, "%s\n", msg);
}

static void
wm_report_log(void *data, const char *msg)
{
    wm_log_error(WM_LOG_EMERG, wm_errlog, 0, "%s", msg);
}

/* At start-up an error goes to the terminal and to the early error log
 * (-e, or the compiled-in one), once when they are the same. */
static void
wm_report_startup(void *data, const char *msg)
{
    wm_log_t *early = data;

    if (early->nsinks == 0 || early->sinks[0].path) {
        fprintf(stderr, "%s\n", msg);
    }
    if (early->nsinks) {
        wm_log_error(WM_LOG_EMERG, early, 0, "%s", msg);
    }
}

static void
wm_dump_out(void *data, const char *s, size_t len)
{
    fwrite(s, 1, len, data);
}

static void
wm_show_version(bool full)
{
    fprintf(stderr, "wmproxy version: wmproxy/%s\n", PACKAGE_VERSION);
    if (!full) {
        return;
    }
    fprintf(stderr,
            "built with: %s\n"
            "features:"
#ifdef WM_HAVE_ZLIB
            " gzip"
#endif
#ifdef WM_HAVE_BROTLI
            " brotli"
#endif
#ifdef WM_HAVE_ZSTD
            " zstd"
#endif
#ifdef WM_HAVE_YAML
            " yaml"
#endif
#ifdef WM_HAVE_QUIC
            " quic"
#endif
#ifdef WM_SANITIZERS
            " sanitizers"
#endif
            "\n"
            "prefix: %s/\n"
            "configuration file: %s\n"
            "pid file: %s\n"
            "error log: %s\n",
            WM_LIB_VERSIONS, WM_PREFIX, WM_CONF_PATH, WM_PID_PATH,
            WM_ERROR_LOG_PATH);
}

static int
wm_bad_option(const char *what)
{
    fprintf(stderr, "wmproxy: invalid option: \"%s\"\n%s", what, wm_usage);
    return 1;
}

/* Parses argv; returns -1 to go on, or an exit status. */
static int
wm_parse_options(int argc, char **argv, wm_options_t *o)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *p = argv[i];

        if (strcmp(p, "--directives") == 0) {
            wm_conf_list_directives(stdout);
            return 0;
        }
        if (p[0] != '-' || p[1] == '\0' || p[1] == '-') {
            return wm_bad_option(p);
        }
        for (p++; *p; p++) {
            const char **arg = NULL;

            switch (*p) {
            case '?':
            case 'h':
                fputs(wm_usage, stderr);
                return 0;
            case 'v':
            case 'V':
                wm_show_version(*p == 'V');
                return 0;
            case 't':
                o->test = true;
                continue;
            case 'T':
                o->test = o->dump = true;
                continue;
            case 'q':
                o->quiet = true;
                continue;
            case 'c':
                arg = &o->conf_file;
                break;
            case 'p':
                arg = &o->prefix;
                break;
            case 'g':
                arg = &o->globals;
                break;
            case 'e':
                arg = &o->early_log;
                break;
            case 's':
                arg = &o->signal;
                break;
            default: {
                char flag[3] = {'-', *p, '\0'};

                return wm_bad_option(flag);
            }
            }
            /* An option's value follows it directly or is the next word. */
            if (p[1]) {
                *arg = p + 1;
            } else if (i + 1 < argc) {
                *arg = argv[++i];
            } else {
                fprintf(stderr, "wmproxy: option \"-%c\" requires %s\n", *p,
                        *p == 's' ? "signal name" : "an argument");
                return 1;
            }
            break;
        }
    }
    if (o->signal && strcmp(o->signal, "stop") && strcmp(o->signal, "quit")
        && strcmp(o->signal, "reopen") && strcmp(o->signal, "reload"))
    {
        char what[64];

        snprintf(what, sizeof(what), "-s %s", o->signal);
        return wm_bad_option(what);
    }
    return -1;
}

/* An absolute copy of path (relative to the current directory), with a
 * trailing slash when dir is set; malloc'ed, NULL when out of memory. */
static char *
wm_absolute(const char *path, bool dir)
{
    char cwd[4096], *r;
    size_t n = strlen(path);
    bool slash = dir && (n == 0 || path[n - 1] != '/');

    if (path[0] == '/') {
        r = malloc(n + 2);
        if (r) {
            snprintf(r, n + 2, "%s%s", path, slash ? "/" : "");
        }
        return r;
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        return NULL;
    }
    n += strlen(cwd) + 3;
    r = malloc(n);
    if (r) {
        snprintf(r, n, "%s/%s%s", cwd, path, slash ? "/" : "");
    }
    return r;
}

static int
wm_send_signal(wm_cycle_t *cycle, const char *name)
{
    const char *path = (const char *) wm_core_conf(cycle)->pid.data;
    int sig = strcmp(name, "stop") == 0     ? SIGTERM
              : strcmp(name, "quit") == 0   ? SIGQUIT
              : strcmp(name, "reopen") == 0 ? SIGUSR1
                                            : SIGHUP;
    char buf[32];
    ssize_t n;
    long pid;
    char *end;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr,
                "wmproxy: cannot open pid file \"%s\": %s (is wmproxy "
                "running?)\n",
                path, strerror(errno));
        return 1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    pid = strtol(buf, &end, 10);
    if (n <= 0 || pid <= 0 || (*end != '\n' && *end != '\0')) {
        fprintf(stderr,
                "wmproxy: invalid pid in \"%s\" (is wmproxy running?)\n",
                path);
        return 1;
    }
    if (kill((pid_t) pid, sig) != 0) {
        fprintf(stderr,
                "wmproxy: kill(%ld, %s) failed: %s (is wmproxy running?)\n",
                pid, name, strerror(errno));
        return 1;
    }
    return 0;
}

static wm_int_t
wm_daemonize(wm_cycle_t *cycle)
{
    int fd;

    switch (fork()) {
    case -1:
        wm_log_error(WM_LOG_EMERG, wm_errlog, errno, "fork() failed");
        return WM_ERROR;
    case 0:
        break;
    default:
        _exit(0);
    }
    if (setsid() < 0) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, errno, "setsid() failed");
        return WM_ERROR;
    }
    umask(0);
    fd = open("/dev/null", O_RDWR);
    if (fd < 0) {
        wm_log_error(WM_LOG_EMERG, wm_errlog, errno,
                     "open(\"/dev/null\") failed");
        return WM_ERROR;
    }
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    if (fd > STDERR_FILENO) {
        close(fd);
    }
    /* Crashes and sanitizer reports go to the error log from now on. */
    wm_log_redirect_stderr(&cycle->log);
    return WM_OK;
}

int
main(int argc, char **argv)
{
    wm_options_t o = {0};
    wm_cycle_args_t args = {0};
    wm_log_sink_t early_sink = {NULL, -1, 0};
    wm_log_t early_log = {0};
    wm_cycle_t *cycle;
    wm_core_conf_t *cc;
    char *conf_file, *prefix;
    int rc;

    rc = wm_parse_options(argc, argv, &o);
    if (rc >= 0) {
        return rc;
    }
    wm_modules_init();

    if (o.early_log) {
        wm_core_default_error_log = o.early_log;
    }
    conf_file = wm_absolute(o.conf_file ? o.conf_file : WM_CONF_PATH, false);
    prefix = wm_absolute(o.prefix ? o.prefix : WM_PREFIX, true);
    if (conf_file == NULL || prefix == NULL) {
        fprintf(stderr, "wmproxy: cannot resolve paths: %s\n",
                strerror(errno));
        return 1;
    }

    args.conf_file = conf_file;
    args.prefix = prefix;
    args.globals = o.globals;
    args.test_only = o.test || o.signal;
    args.report = wm_report_stderr;
    if (!args.test_only) {
        const char *path = o.early_log ? o.early_log : WM_ERROR_LOG_PATH;

        early_sink.level = WM_LOG_NOTICE;
        early_sink.path = strcmp(path, "stderr") == 0 ? NULL : path;
        /* Without a usable early log, errors still reach the terminal. */
        if (wm_log_sink_open(&early_sink) == WM_OK) {
            early_log.sinks = &early_sink;
            early_log.nsinks = 1;
            early_log.level = WM_LOG_NOTICE;
        }
        args.report = wm_report_startup;
        args.report_data = &early_log;
    }

    cycle = wm_cycle_new(&args, NULL);
    if (o.test) {
        if (cycle == NULL) {
            fprintf(stderr, "wmproxy: configuration file %s test failed\n",
                    conf_file);
            rc = 1;
        } else {
            if (!o.quiet) {
                fprintf(stderr,
                        "wmproxy: the configuration file %s syntax is ok\n"
                        "wmproxy: configuration file %s test is successful\n",
                        conf_file, conf_file);
            }
            if (o.dump) {
                wm_conf_dump(cycle->tree, wm_dump_out, stdout);
                fflush(stdout);
            }
            rc = 0;
        }
        goto done;
    }
    if (cycle == NULL) {
        rc = 1;
        goto done;
    }
    if (o.signal) {
        rc = wm_send_signal(cycle, o.signal);
        goto done;
    }

    wm_cycle = cycle;
    wm_errlog = &cycle->log;
    cc = wm_core_conf(cycle);
    args.report = wm_report_log;

    if (cc->daemon && wm_daemonize(cycle) != WM_OK) {
        rc = 1;
        goto done;
    }
    if (wm_pidfile_write((const char *) cc->pid.data) != WM_OK) {
        rc = 1;
        goto done;
    }
    wm_log_error(WM_LOG_NOTICE, wm_errlog, 0, "wmproxy/%s started",
                 PACKAGE_VERSION);

    if (cc->master) {
        rc = wm_master_run(cycle, &args);
        cycle = NULL; /* the master freed it */
    } else {
        rc = wm_single_run(cycle);
        wm_pidfile_remove((const char *) cc->pid.data);
        wm_log_error(WM_LOG_NOTICE, wm_errlog, 0, "exiting");
    }

done:
    if (early_sink.path && early_sink.fd >= 0) {
        close(early_sink.fd);
    }
    wm_cycle_free(cycle);
    free(conf_file);
    free(prefix);
    return rc;
}
