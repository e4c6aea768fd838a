/*
 * Reads configuration files for the parsers: picks the text or YAML parser
 * by extension, resolves `include` globs relative to the including file's
 * directory, and parses the -g command-line directives. This is the only
 * part of the configuration code that touches the file system.
 */
#include "wm_conf.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#define WM_CONF_MAX_FILE (16 * 1024 * 1024)

static wm_int_t wm_conf_include(wm_conf_parser_t *p,
                                const wm_conf_node_t *include,
                                wm_conf_node_t **first);

/* Reads a whole file into pool memory; NULL with errno set on failure. */
static u_char *
wm_conf_read_file(wm_pool_t *pool, const char *path, size_t *len)
{
    struct stat st;
    u_char *buf;
    size_t got = 0;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        goto failed;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > WM_CONF_MAX_FILE) {
        errno = S_ISDIR(st.st_mode) ? EISDIR : EFBIG;
        goto failed;
    }
    buf = wm_palloc(pool, (size_t) st.st_size + 1);
    if (buf == NULL) {
        errno = ENOMEM;
        goto failed;
    }
    while (got < (size_t) st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t) st.st_size - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO;
            }
            goto failed;
        }
        got += (size_t) n;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;

failed:
    {
        int err = errno;

        close(fd);
        errno = err;
    }
    return NULL;
}

static wm_int_t
wm_conf_parse_file(wm_conf_parser_t *p, const char *path,
                   wm_conf_node_t **root)
{
    size_t len;
    u_char *buf = wm_conf_read_file(p->pool, path, &len);

    if (buf == NULL) {
        snprintf(p->err, sizeof(p->err), "%s:0: open() failed (%d: %s)", path,
                 errno, strerror(errno));
        return WM_ERROR;
    }
    if (wm_conf_is_yaml(path)) {
        return wm_conf_parse_yaml(p, buf, len, path, root);
    }
    return wm_conf_parse_text(p, buf, len, path, root);
}

static bool
wm_conf_has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static wm_int_t
wm_conf_include(wm_conf_parser_t *p, const wm_conf_node_t *include,
                wm_conf_node_t **first)
{
    const wm_str_t *arg = &include->args[0];
    const char *slash;
    char *pattern;
    glob_t g;
    wm_conf_node_t **tail = first;
    size_t i;
    int rc;

    *first = NULL;
    if (p->depth >= WM_CONF_MAX_INCLUDE_DEPTH) {
        snprintf(p->err, sizeof(p->err),
                 "%s:%u: \"include\" directive nests too deep (over %d "
                 "levels; does a file include itself?)",
                 include->file, include->line, WM_CONF_MAX_INCLUDE_DEPTH);
        return WM_ERROR;
    }

    slash = strrchr(include->file, '/');
    if (arg->len && arg->data[0] == '/') {
        pattern = wm_pstrndup(p->pool, arg->data, arg->len);
    } else {
        pattern = wm_psprintf(p->pool, "%.*s%.*s",
                              slash ? (int) (slash - include->file + 1) : 0,
                              include->file, (int) arg->len,
                              (const char *) arg->data);
    }
    if (pattern == NULL) {
        snprintf(p->err, sizeof(p->err), "%s:%u: out of memory", include->file,
                 include->line);
        return WM_ERROR;
    }

    rc = glob(pattern, 0, NULL, &g);
    if (rc == GLOB_NOMATCH) {
        if (wm_conf_has_glob(pattern)) {
            return WM_OK; /* a glob may match nothing, as in nginx */
        }
        snprintf(p->err, sizeof(p->err),
                 "%s:%u: \"include\" directive: open(\"%s\") failed "
                 "(2: No such file or directory)",
                 include->file, include->line, pattern);
        return WM_ERROR;
    }
    if (rc != 0) {
        snprintf(p->err, sizeof(p->err),
                 "%s:%u: \"include\" directive: glob(\"%s\") failed",
                 include->file, include->line, pattern);
        return WM_ERROR;
    }

    for (i = 0; i < g.gl_pathc; i++) {
        wm_conf_parser_t sub = {
            .pool = p->pool,
            .include = wm_conf_include,
            .data = p->data,
            .depth = p->depth + 1,
        };
        wm_conf_node_t *root, *n;
        char *path = wm_pstrdup(p->pool, g.gl_pathv[i]);

        if (path == NULL || wm_conf_parse_file(&sub, path, &root) != WM_OK) {
            if (path == NULL) {
                snprintf(p->err, sizeof(p->err), "%s:%u: out of memory",
                         include->file, include->line);
            } else {
                memcpy(p->err, sub.err, sizeof(p->err));
            }
            globfree(&g);
            return WM_ERROR;
        }
        *tail = root->children;
        for (n = root->children; n; n = n->next) {
            tail = &n->next;
        }
    }
    globfree(&g);
    return WM_OK;
}

wm_int_t
wm_conf_load(wm_pool_t *pool, const char *file, wm_conf_node_t **root,
             char *err, size_t errlen)
{
    wm_conf_parser_t p = {
        .pool = pool,
        .include = wm_conf_include,
    };

    if (wm_conf_parse_file(&p, file, root) != WM_OK) {
        snprintf(err, errlen, "%s", p.err);
        return WM_ERROR;
    }
    return WM_OK;
}

wm_int_t
wm_conf_add_global(wm_pool_t *pool, wm_conf_node_t *root, const char *text,
                   char *err, size_t errlen)
{
    wm_conf_parser_t p = {.pool = pool};
    wm_conf_node_t *g, *n, **tail;

    if (wm_conf_parse_text(&p, (const u_char *) text, strlen(text),
                           "command line", &g)
        != WM_OK)
    {
        snprintf(err, errlen, "%s", p.err);
        return WM_ERROR;
    }
    for (n = g->children; n; n = n->next) {
        if (n->block) {
            snprintf(err, errlen,
                     "command line:%u: \"%s\" directive: blocks are not "
                     "allowed in -g",
                     n->line, (const char *) n->name.data);
            return WM_ERROR;
        }
    }
    tail = &root->children;
    while (*tail) {
        tail = &(*tail)->next;
    }
    *tail = g->children;
    root->nchildren += g->nchildren;
    return WM_OK;
}
