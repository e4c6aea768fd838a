/*
 * Unit tests of the directive layer: the value parsers behind the generic
 * setters, and whole configurations checked as `wmproxy -t` does, each
 * malformed one with the exact error line a user would see.
 */
#include "wm_cycle.h"

#include "tap.h"

#include <sys/stat.h>
#include <unistd.h>

static char errors[8192];
static char dir[] = "/tmp/wm-test-conf-XXXXXX";
static char path[512];

static void
collect(void *data, const char *msg)
{
    size_t n = strlen(errors);

    snprintf(errors + n, sizeof(errors) - n, "%s\n", msg);
}

/* Checks text as a config file; returns the cycle (test only) or NULL,
 * with every reported error line in `errors`. */
static wm_cycle_t *
check(const char *name, const char *text)
{
    wm_cycle_args_t args = {0};
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    errors[0] = '\0';
    args.conf_file = path;
    args.prefix = "/prefix/";
    args.test_only = true;
    args.report = collect;
    return wm_cycle_new(&args, NULL);
}

/* The config must fail with exactly one error: `<file>:<msg>`. */
static void
fails(const char *text, const char *msg)
{
    char want[1024];
    wm_cycle_t *c = check("bad.conf", text);

    snprintf(want, sizeof(want), "%s:%s\n", path, msg);
    if (c) {
        wm_cycle_free(c);
    }
    ok(c == NULL, msg);
    is_str(errors, want, "  exact error text");
}

static void
test_values(void)
{
    wm_str_t s;

#define NUM(t, v)                                                              \
    wm_str_set(&s, t);                                                         \
    is_int(wm_parse_num(&s), v, "num " t)
#define SIZE(t, v)                                                             \
    wm_str_set(&s, t);                                                         \
    is_int(wm_parse_size(&s), v, "size " t)
#define MSEC(t, v)                                                             \
    wm_str_set(&s, t);                                                         \
    is_int(wm_parse_msec(&s), v, "time " t)

    NUM("0", 0);
    NUM("1024", 1024);
    NUM("", -1);
    NUM("12a", -1);
    NUM("-1", -1);
    NUM("99999999999999999999", -1);
    SIZE("512", 512);
    SIZE("10k", 10240);
    SIZE("10K", 10240);
    SIZE("1m", 1048576);
    SIZE("2g", 2147483648LL);
    SIZE("k", -1);
    SIZE("1x", -1);
    SIZE("9999999999999999g", -1);
    MSEC("30", 30000);
    MSEC("500ms", 500);
    MSEC("10s", 10000);
    MSEC("5m", 300000);
    MSEC("1h", 3600000);
    MSEC("1d", 86400000);
    MSEC("1h30m", 5400000);
    MSEC("1m30s500ms", 90500);
    MSEC("30m1h", -1);
    MSEC("1h30", -1);
    MSEC("10x", -1);
    MSEC("ms", -1);
    MSEC("", -1);
}

static void
test_valid(void)
{
    wm_cycle_t *c;
    wm_core_conf_t *cc;
    char inc[600];
    FILE *f;

    c = check("ok.conf", "worker_processes 3;\n"
                         "worker_rlimit_nofile 4096;\n"
                         "worker_shutdown_timeout 1m30s;\n"
                         "daemon off;\nmaster_process on;\n"
                         "pid run/wm.pid;\n"
                         "error_log logs/a.log info;\n"
                         "error_log stderr;\n"
                         "user root;\n"
                         "events { worker_connections 77; }\n");
    ok(c != NULL, "a valid config passes");
    if (c == NULL) {
        diag("%s", errors);
        return;
    }
    cc = wm_core_conf(c);
    is_int(cc->worker_processes, 3, "worker_processes");
    is_int(cc->rlimit_nofile, 4096, "worker_rlimit_nofile");
    is_int(cc->shutdown_timeout, 90000, "worker_shutdown_timeout");
    is_int(cc->daemon, 0, "daemon off");
    is_int(cc->master, 1, "master_process on");
    is_str((char *) cc->pid.data, "/prefix/run/wm.pid",
           "pid is relative to the prefix");
    is_int(cc->error_logs.nelts, 2, "two error logs");
    is_str(((wm_log_sink_t *) cc->error_logs.elts)[0].path,
           "/prefix/logs/a.log", "error_log path");
    is_int(((wm_log_sink_t *) cc->error_logs.elts)[0].level, WM_LOG_INFO,
           "error_log level");
    ok(((wm_log_sink_t *) cc->error_logs.elts)[1].path == NULL,
       "error_log stderr");
    is_int(cc->worker_connections, 77, "worker_connections");
    wm_cycle_free(c);

    c = check("defaults.conf", "events {}\n");
    ok(c != NULL, "an empty events block is enough");
    if (c) {
        cc = wm_core_conf(c);
        is_int(cc->worker_processes, 1, "worker_processes defaults to 1");
        is_int(cc->daemon, 1, "daemon defaults to on");
        is_int(cc->worker_connections, 1024, "worker_connections default");
        is_int(cc->error_logs.nelts, 1, "one default error log");
        wm_cycle_free(c);
    }

    c = check("auto.conf", "worker_processes auto; events {}\n");
    ok(c && wm_core_conf(c)->worker_processes
                == (wm_int_t) sysconf(_SC_NPROCESSORS_ONLN),
       "worker_processes auto is the number of CPUs");
    wm_cycle_free(c);

    snprintf(inc, sizeof(inc), "%s/inc", dir);
    mkdir(inc, 0755);
    snprintf(inc, sizeof(inc), "%s/inc/a.conf", dir);
    f = fopen(inc, "w");
    fputs("worker_processes 5;\n", f);
    fclose(f);
    c = check("inc.conf", "include inc/*.conf;\ninclude none/*.conf;\n"
                          "events { include inc/none*; }\n");
    ok(c && wm_core_conf(c)->worker_processes == 5,
       "include glob relative to the config's directory");
    wm_cycle_free(c);
    unlink(inc);
    snprintf(inc, sizeof(inc), "%s/inc", dir);
    rmdir(inc);
}

static void
test_errors(void)
{
    fails("foo bar;\nevents {}\n", "1: \"foo\" directive is unknown");
    fails("events {}\n\nworker_connections 10;\n",
          "3: \"worker_connections\" directive is not allowed here");
    fails("events { worker_processes 2; }\n",
          "1: \"worker_processes\" directive is not allowed here");
    fails("daemon;\nevents {}\n",
          "1: \"daemon\" directive has invalid number of arguments");
    fails("daemon on off;\nevents {}\n",
          "1: \"daemon\" directive has invalid number of arguments");
    fails("daemon yes;\nevents {}\n",
          "1: \"daemon\" directive has invalid value \"yes\", it must be "
          "\"on\" or \"off\"");
    fails("worker_processes abc;\nevents {}\n",
          "1: \"worker_processes\" directive has invalid value \"abc\", it "
          "must be a number from 1 to 1024 or \"auto\"");
    fails("worker_processes 0;\nevents {}\n",
          "1: \"worker_processes\" directive has invalid value \"0\", it "
          "must be a number from 1 to 1024 or \"auto\"");
    fails("events {}\npid a;\npid b;\n", "3: \"pid\" directive is duplicate");
    fails("events {}\nevents {}\n", "2: \"events\" directive is duplicate");
    fails("daemon off;\nevents {\n", "2: \"events\" directive has no closing "
                                     "\"}\"");
    fails("events {}\n}\n", "2: unexpected \"}\"");
    fails("events;\n", "1: \"events\" directive has no opening \"{\"");
    fails("daemon off { }\nevents {}\n",
          "1: \"daemon\" directive is not terminated by \";\"");
    fails("events {}\ndaemon off", "2: \"daemon\" directive is not "
                                   "terminated by \";\"");
    fails("events { worker_connections 0; }\n",
          "1: \"worker_connections\" directive has invalid value \"0\", it "
          "must be between 1 and 16777216");
    fails("events { worker_connections 1k; }\n",
          "1: \"worker_connections\" directive has invalid value \"1k\"");
    fails("events {}\nworker_shutdown_timeout 10x;\n",
          "2: \"worker_shutdown_timeout\" directive has invalid value "
          "\"10x\"");
    fails("events {}\nworker_rlimit_nofile -5;\n",
          "2: \"worker_rlimit_nofile\" directive has invalid value \"-5\"");
    fails("events {}\nerror_log logs/e.log loud;\n",
          "2: \"error_log\" directive has invalid level \"loud\", it must be "
          "one of debug, info, notice, warn, error, crit, alert, emerg");
    fails("events {}\nerror_log \"\";\n",
          "2: \"error_log\" directive has invalid value \"\"");
    fails("events {}\nuser a b c;\n",
          "2: \"user\" directive has invalid number of arguments");
    fails("events {}\ninclude a b;\n",
          "2: \"include\" directive has invalid number of arguments");
    {
        char msg[600];

        snprintf(msg, sizeof(msg),
                 "2: \"include\" directive: open(\"%s/missing.conf\") "
                 "failed (2: No such file or directory)",
                 dir);
        fails("events {}\ninclude missing.conf;\n", msg);
    }
    fails("events {}\nmaster_process maybe;\n",
          "2: \"master_process\" directive has invalid value \"maybe\", it "
          "must be \"on\" or \"off\"");
    fails("events {}\nworker_processes 2 3;\n",
          "2: \"worker_processes\" directive has invalid number of arguments");
    fails("events { foo; }\n", "1: \"foo\" directive is unknown");
    fails("\"events {}\n", "1: unterminated quoted string");
    fails("events {}\n;\n", "2: unexpected \";\"");
    fails("events {}\nevents\n", "2: \"events\" directive is not terminated "
                                 "by \";\"");
}

int
main(void)
{
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    wm_modules_init();
    test_values();
    test_valid();
    test_errors();
    fails("daemon off;\n", " no \"events\" section in configuration");
    unlink(path);
    snprintf(path, sizeof(path), "%s/ok.conf", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/defaults.conf", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/auto.conf", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/inc.conf", dir);
    unlink(path);
    rmdir(dir);
    return tap_done();
}
