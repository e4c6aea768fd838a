/*
 * `auth_basic` and `auth_basic_user_file`: HTTP Basic authentication in
 * the access phase, as nginx does it. The user file is read on each
 * request (it is small, and an edit applies at once, as in nginx); the
 * password forms are those of wm_http_htpasswd.c. A missing file is a 403,
 * another read error a 500, both logged as nginx logs them.
 */
#include "wm_http.h"
#include "wm_http_htpasswd.h"

#include "wm_log.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* Larger user files are refused (logged): a request reads the file. */
#define WM_HTTP_AUTH_FILE_MAX (4 * 1024 * 1024)

typedef struct {
    wm_cv_t *realm;         /* NULL: off; WM_CONF_UNSET_PTR: inherit */
    wm_str_t user_file;     /* data NULL: inherit */
} wm_http_auth_basic_conf_t;

static void *wm_http_auth_basic_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_auth_basic_merge(wm_conf_t *cf, void *prev,
                                            void *conf, unsigned level);
static const char *wm_http_auth_basic_set(wm_conf_t *cf,
                                          const wm_command_t *cmd,
                                          void *conf);

#define WM_AUTH_CTX WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC

static const wm_command_t wm_http_auth_basic_commands[] = {
    {"auth_basic", WM_AUTH_CTX, 1, 1, 0, WM_LVL_LOC, wm_http_auth_basic_set, 0,
     NULL, "off", "realm | off: ask for a user and password (Basic)"},
    {"auth_basic_user_file", WM_AUTH_CTX, 1, 1, 0, WM_LVL_LOC,
     wm_conf_set_path, offsetof(wm_http_auth_basic_conf_t, user_file), NULL,
     "-", "file: the users and passwords, htpasswd format"},
    wm_null_command,
};

wm_module_t wm_http_auth_basic_module = {
    .name = "http_auth_basic",
    .family = WM_MOD_HTTP,
    .commands = wm_http_auth_basic_commands,
    .create_conf = wm_http_auth_basic_create,
    .merge_conf = wm_http_auth_basic_merge,
};

/* 401 with the realm's challenge. */
static wm_int_t
wm_http_auth_basic_deny(wm_http_request_t *r, const wm_str_t *realm)
{
    char *v = wm_psprintf(r->pool, "Basic realm=\"%.*s\"", (int) realm->len,
                          (const char *) realm->data);
    wm_str_t s;

    if (v == NULL) {
        return 500;
    }
    s.data = (u_char *) v;
    s.len = strlen(v);
    return wm_http_add_header(r, "WWW-Authenticate", &s) == WM_OK ? 401 : 500;
}

/* The user file's bytes into pool memory: WM_OK, or a status (logged). */
static wm_int_t
wm_http_auth_basic_read(wm_http_request_t *r, const char *path, wm_str_t *text)
{
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int status = 500;

    if (fd < 0) {
        int err = errno;

        wm_log_error(err == ENOENT ? WM_LOG_ERR : WM_LOG_CRIT,
                     wm_http_request_log(r), err, "open() \"%s\" failed",
                     path);
        return err == ENOENT ? 403 : 500;
    }
    if (fstat(fd, &st) != 0 || st.st_size > WM_HTTP_AUTH_FILE_MAX) {
        wm_log_error(WM_LOG_CRIT, wm_http_request_log(r), errno,
                     "\"%s\" is not a user file of at most %d bytes", path,
                     WM_HTTP_AUTH_FILE_MAX);
        goto done;
    }
    text->data = wm_palloc(r->pool, (size_t) st.st_size + 1);
    if (text->data == NULL) {
        goto done;
    }
    n = pread(fd, text->data, (size_t) st.st_size, 0);
    if (n < 0) {
        wm_log_error(WM_LOG_CRIT, wm_http_request_log(r), errno,
                     "pread() \"%s\" failed", path);
        goto done;
    }
    text->len = (size_t) n;
    status = WM_OK;
done:
    close(fd);
    return status;
}

wm_int_t
wm_http_auth_basic_handler(wm_http_request_t *r)
{
    wm_http_auth_basic_conf_t *acf =
        wm_http_loc_conf(r, wm_http_auth_basic_module);
    wm_str_t realm, user, pass, text, hash;
    const char *why;
    wm_int_t rc;
    int ok;

    if (acf->realm == NULL || acf->user_file.len == 0) {
        return WM_DECLINED;
    }
    if (!acf->realm->has_vars) {
        realm = acf->realm->value;
    } else if (wm_cv_eval(acf->realm, r, r->pool, &realm) != WM_OK) {
        return 500;
    }
    if (wm_str_eq(&realm, "off")) {
        return WM_DECLINED;
    }
    rc = wm_http_basic_credentials(r, r->pool, &user, &pass);
    if (rc == WM_ERROR) {
        return 500;
    }
    if (rc != WM_OK) {
        wm_log_error(WM_LOG_INFO, wm_http_request_log(r), 0,
                     "no user/password was provided for basic "
                     "authentication");
        return wm_http_auth_basic_deny(r, &realm);
    }
    rc = wm_http_auth_basic_read(r, (const char *) acf->user_file.data, &text);
    if (rc != WM_OK) {
        return rc;
    }
    if (!wm_htpasswd_find(text.data, text.len, &user, &hash)) {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "user \"%.*s\" was not found in \"%s\"", (int) user.len,
                     (const char *) user.data,
                     (const char *) acf->user_file.data);
        return wm_http_auth_basic_deny(r, &realm);
    }
    ok = wm_htpasswd_check(pass.data, pass.len, &hash, &why);
    if (ok < 0) {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "user \"%.*s\": %s in \"%s\"", (int) user.len,
                     (const char *) user.data, why,
                     (const char *) acf->user_file.data);
        return 500;
    }
    if (ok == 0) {
        wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                     "user \"%.*s\": password mismatch", (int) user.len,
                     (const char *) user.data);
        return wm_http_auth_basic_deny(r, &realm);
    }
    return WM_OK;
}

/* ---- configuration ------------------------------------------------------ */

static const char *
wm_http_auth_basic_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_auth_basic_conf_t *acf = conf;
    wm_str_t *arg = &cf->node->args[0];
    const char *rv;

    (void) cmd;
    if (acf->realm != WM_CONF_UNSET_PTR) {
        return "is duplicate";
    }
    if (wm_str_eq(arg, "off")) {
        acf->realm = NULL;
        return NULL;
    }
    acf->realm = wm_pcalloc(cf->pool, sizeof(wm_cv_t));
    if (acf->realm == NULL) {
        return "failed: out of memory";
    }
    rv = wm_cv_compile(cf->pool, arg, wm_http_var_tables, acf->realm);
    if (rv == NULL && !acf->realm->has_vars) {
        acf->realm->value = *arg;
    }
    return rv;
}

static void *
wm_http_auth_basic_create(wm_conf_t *cf, unsigned level)
{
    wm_http_auth_basic_conf_t *acf = wm_pcalloc(cf->pool, sizeof(*acf));

    (void) level;
    if (acf) {
        acf->realm = WM_CONF_UNSET_PTR;
    }
    return acf;
}

static const char *
wm_http_auth_basic_merge(wm_conf_t *cf, void *prev, void *conf,
                         unsigned level)
{
    wm_http_auth_basic_conf_t *p = prev, *c = conf;

    (void) cf;
    (void) level;
    if (c->realm == WM_CONF_UNSET_PTR) {
        c->realm = p->realm == WM_CONF_UNSET_PTR ? NULL : p->realm;
    }
    if (c->user_file.data == NULL) {
        c->user_file = p->user_file;
    }
    return NULL;
}
