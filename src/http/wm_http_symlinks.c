/*
 * `disable_symlinks off | on | if_not_owner [from=part]`: the files a
 * request serves (static files and their precompressed siblings, index
 * files, try_files, the file tests of `if`) are opened and stat()ed
 * through wm_nolinks_open() when it is on, so that a symbolic link on
 * the path (after the from= part, which may hold variables, such as
 * $document_root) is refused with ELOOP, which the callers answer with
 * 403 as nginx does. With if_not_owner a link is followed when it and
 * what it points to have the same owner.
 */
#include "wm_http.h"

#include "wm_nolinks.h"

#include <fcntl.h>

/* The length of the from= part when path starts with it, else 0. */
static size_t
wm_http_symlinks_from(wm_http_request_t *r, const char *path)
{
    wm_str_t from;

    if (r->loc->symlinks_from == NULL
        || wm_cv_eval(r->loc->symlinks_from, r, r->pool, &from) != WM_OK
        || from.len == 0 || strncmp(path, (const char *) from.data, from.len))
    {
        return 0;
    }
    return from.len;
}

int
wm_http_open(wm_http_request_t *r, const char *path, int flags)
{
    if (r->loc->disable_symlinks == 0) {
        return open(path, flags | O_CLOEXEC);
    }
    return wm_nolinks_open(path, wm_http_symlinks_from(r, path),
                           (wm_nolinks_mode_t) r->loc->disable_symlinks, flags,
                           NULL);
}

int
wm_http_stat(wm_http_request_t *r, const char *path, struct stat *st)
{
    if (r->loc->disable_symlinks == 0) {
        return stat(path, st);
    }
    return wm_nolinks_open(path, wm_http_symlinks_from(r, path),
                           (wm_nolinks_mode_t) r->loc->disable_symlinks, 0,
                           st);
}

const char *
wm_http_disable_symlinks(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_http_core_loc_conf_t *clcf = conf;
    const wm_conf_node_t *n = cf->node;
    const wm_str_t *mode = &n->args[0];
    wm_str_t from;
    const char *rv;

    if (clcf->disable_symlinks != WM_CONF_UNSET) {
        return "is duplicate";
    }
    if (wm_str_eq(mode, "off")) {
        clcf->disable_symlinks = 0;
    } else if (wm_str_eq(mode, "on")) {
        clcf->disable_symlinks = WM_NOLINKS_ON;
    } else if (wm_str_eq(mode, "if_not_owner")) {
        clcf->disable_symlinks = WM_NOLINKS_IF_NOT_OWNER;
    } else {
        return wm_conf_errf(cf, "has invalid value \"%s\"",
                            (const char *) mode->data);
    }
    clcf->symlinks_from = NULL;
    if (n->nargs < 2) {
        return NULL;
    }
    if (n->args[1].len <= 5
        || strncmp((const char *) n->args[1].data, "from=", 5) != 0
        || clcf->disable_symlinks == 0)
    {
        return wm_conf_errf(cf, "has invalid parameter \"%s\"",
                            (const char *) n->args[1].data);
    }
    from.data = n->args[1].data + 5;
    from.len = n->args[1].len - 5;
    clcf->symlinks_from = wm_palloc(cf->pool, sizeof(wm_cv_t));
    if (clcf->symlinks_from == NULL) {
        return "failed: out of memory";
    }
    rv = wm_cv_compile(cf->pool, &from, wm_http_var_tables,
                       clcf->symlinks_from);
    return rv;
}
