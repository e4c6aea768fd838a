/*
 * `try_files file ... uri;` and `try_files file ... =code;`: in the
 * try_files phase, the first of the files (complex values mapped onto root
 * or alias; a trailing slash asks for a directory) that exists becomes the
 * request's URI, served by the content handlers of the same location; when
 * none exists, the last argument is an internal redirect (a URI, with args
 * after a '?', or @name) or a status. As in nginx, the directive is not
 * inherited: a server-level one serves requests that match no location.
 */
#include "wm_http.h"

#include "wm_log.h"

#include <sys/stat.h>

/* One file argument. */
typedef struct {
    wm_cv_t name;           /* without its trailing slash */
    unsigned test_dir : 1;  /* the argument ended in '/' */
} wm_http_try_file_t;

typedef struct {
    wm_http_try_file_t *files; /* every argument but the last */
    size_t nfiles;             /* 0: no try_files here */
    wm_cv_t fallback;          /* the last argument: uri or @name */
    int code;                  /* `=code` as the last argument, else 0 */
} wm_http_try_files_conf_t;

static void *wm_http_try_files_create(wm_conf_t *cf, unsigned level);
static const char *wm_http_try_files_set(wm_conf_t *cf,
                                         const wm_command_t *cmd,
                                         void *conf);

static const wm_command_t wm_http_try_files_commands[] = {
    {"try_files", WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC, 2, WM_ARGS_MANY, 0,
     WM_LVL_LOC, wm_http_try_files_set, 0, NULL, "-",
     "file ... uri|@name|=code: serve the first file that exists, else the "
     "last argument"},
    wm_null_command,
};

wm_module_t wm_http_try_files_module = {
    .name = "http_try_files",
    .family = WM_MOD_HTTP,
    .commands = wm_http_try_files_commands,
    .create_conf = wm_http_try_files_create,
};

/* The file name of a try_files argument, in r's pool. As nginx does, a
 * name made with variables maps like a URI (an alias replaces the
 * location's prefix when the name starts with it); a fixed name is
 * appended to the root or alias as it is. NULL when out of memory. */
static char *
wm_http_try_files_path(wm_http_request_t *r, const wm_str_t *name,
                       bool fixed)
{
    wm_str_t root;
    size_t len;

    /* An alias of a regex location is a whole file name of its own:
     * nginx appends every name to it. */
    if (!r->loc->alias_full && (!fixed || !r->loc->alias)) {
        return wm_http_map_uri(r, name, &len);
    }
    if (wm_http_root_value(r, &root) != WM_OK) {
        return NULL;
    }
    return wm_psprintf(r->pool, "%.*s%.*s", (int) root.len,
                       (const char *) root.data, (int) name->len,
                       (const char *) name->data);
}

/* Whether path exists and is a directory exactly when test_dir asks for
 * one. Errors other than "not there" are logged. */
static bool
wm_http_try_file_exists(wm_http_request_t *r, const char *path,
                        bool test_dir)
{
    struct stat st;

    if (wm_http_stat(r, path, &st) != 0) {
        if (errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG) {
            wm_log_error(WM_LOG_CRIT, wm_http_request_log(r), errno,
                         "stat() \"%s\" failed", path);
        }
        return false;
    }
    return (S_ISDIR(st.st_mode) != 0) == test_dir;
}

/* Makes r's URI the one that maps to the file found for name: name
 * itself, or with an alias, the location's prefix and name unless a name
 * with variables starts with it (nginx's rule, so that the static handler
 * opens the same file). The copy is NUL-terminated, in r's pool. */
static wm_int_t
wm_http_try_files_uri(wm_http_request_t *r, const wm_str_t *name, bool fixed)
{
    const wm_str_t *prefix = &r->loc->alias_prefix;
    size_t plen = 0;
    u_char *p;

    if (r->loc->alias
        && (fixed || name->len < prefix->len
            || memcmp(name->data, prefix->data, prefix->len) != 0))
    {
        plen = prefix->len;
    }
    p = wm_palloc(r->pool, plen + name->len + 1);
    if (p == NULL) {
        return WM_ERROR;
    }
    if (plen) {
        memcpy(p, prefix->data, plen);
    }
    if (name->len) {
        memcpy(p + plen, name->data, name->len);
    }
    p[plen + name->len] = '\0';
    r->uri.data = p;
    r->uri.len = plen + name->len;
    return WM_OK;
}

wm_int_t
wm_http_try_files_handler(wm_http_request_t *r)
{
    wm_http_try_files_conf_t *tcf = wm_http_loc_conf(r,
                                                     wm_http_try_files_module);
    wm_str_t name, args = wm_null_string;
    const char *path;
    u_char *q;
    size_t i;

    if (tcf->nfiles == 0) {
        return WM_DECLINED;
    }
    for (i = 0; i < tcf->nfiles; i++) {
        wm_http_try_file_t *tf = &tcf->files[i];

        if (wm_cv_eval(&tf->name, r, r->pool, &name) != WM_OK) {
            return 500;
        }
        path = wm_http_try_files_path(r, &name, !tf->name.has_vars);
        if (path == NULL) {
            return 500;
        }
        if (!wm_http_try_file_exists(r, path, tf->test_dir)) {
            continue;
        }
        if (r->loc->alias_full) {
            /* nginx: the name becomes the URI, appended to the alias
             * from now on; a directory keeps the request's URI. */
            if (!tf->test_dir) {
                r->uri.data = (u_char *) wm_pstrndup(
                    r->pool, (const char *) name.data, name.len);
                if (r->uri.data == NULL) {
                    return 500;
                }
                r->uri.len = name.len;
                r->add_uri_to_alias = 1;
            }
            return WM_OK;
        }
        return wm_http_try_files_uri(r, &name, !tf->name.has_vars) == WM_OK
                   ? WM_OK
                   : 500;
    }
    if (tcf->code) {
        return tcf->code;
    }
    if (wm_cv_eval(&tcf->fallback, r, r->pool, &name) != WM_OK) {
        return 500;
    }
    if (name.len && name.data[0] == '@') {
        wm_http_internal_redirect(r, &name, NULL);
        return WM_DONE;
    }
    /* As nginx: the request's args go unless the URI brings its own. */
    q = memchr(name.data, '?', name.len);
    if (q) {
        args.data = q + 1;
        args.len = name.len - (size_t) (q - name.data) - 1;
        name.len = (size_t) (q - name.data);
    }
    wm_http_internal_redirect(r, &name, &args);
    return WM_DONE;
}

static void *
wm_http_try_files_create(wm_conf_t *cf, unsigned level)
{
    return wm_pcalloc(cf->pool, sizeof(wm_http_try_files_conf_t));
}

static const char *
wm_http_try_files_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_try_files_conf_t *tcf = conf;
    const wm_conf_node_t *n = cf->node;
    const wm_str_t *last = &n->args[n->nargs - 1];
    const char *rv;
    size_t i;

    if (tcf->nfiles) {
        return "is duplicate";
    }
    tcf->files = wm_pcalloc(cf->pool,
                            (n->nargs - 1) * sizeof(wm_http_try_file_t));
    if (tcf->files == NULL) {
        return "failed: out of memory";
    }
    for (i = 0; i + 1 < n->nargs; i++) {
        wm_str_t arg = n->args[i];

        if (arg.len > 1 && arg.data[arg.len - 1] == '/') {
            tcf->files[i].test_dir = 1;
            arg.len--;
        }
        rv = wm_cv_compile(cf->pool, &arg, wm_http_var_tables,
                           &tcf->files[i].name);
        if (rv) {
            return rv;
        }
    }
    if (last->len && last->data[0] == '=') {
        wm_str_t num = {last->len - 1, last->data + 1};
        int64_t code = wm_parse_num(&num);

        if (code < 100 || code > 999) {
            return wm_conf_errf(cf, "has invalid code \"%s\"",
                                (const char *) last->data);
        }
        tcf->code = (int) code;
    } else {
        if (last->len == 0) {
            return "has an empty last argument";
        }
        rv = wm_cv_compile(cf->pool, last, wm_http_var_tables,
                           &tcf->fallback);
        if (rv) {
            return rv;
        }
    }
    tcf->nfiles = n->nargs - 1;
    return NULL;
}
