/*
 * libFuzzer target for the YAML configuration parser. Any input must give
 * WM_OK with a well-formed tree or WM_ERROR with a `file:line: message`
 * error, and neither crash, hang nor leak. An include callback parses its
 * argument as YAML text, so splicing and error propagation get fuzzed too.
 */
#include "wm_conf_tree.h"

#include <stdint.h>

#define FUZZ_FILE "fuzz.yaml"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * `include: TEXT` parses TEXT itself as an included file; `include: none`
 * matches nothing and `include: fail` fails, as a missing file would.
 */
static wm_int_t
fuzz_include(wm_conf_parser_t *p, const wm_conf_node_t *inc,
             wm_conf_node_t **first)
{
    const wm_str_t *arg = &inc->args[0];
    wm_conf_parser_t sub = {
        .pool = p->pool,
        .include = fuzz_include,
        .data = p->data,
        .depth = p->depth + 1,
    };
    wm_conf_node_t *root;

    *first = NULL;
    if (wm_str_eq(arg, "none")) {
        return WM_OK;
    }
    if (wm_str_eq(arg, "fail") || p->depth >= 3) {
        snprintf(p->err, sizeof(p->err), "%s:%u: include failed", inc->file,
                 inc->line);
        return WM_ERROR;
    }
    if (wm_conf_parse_yaml(&sub, arg->data, arg->len, "inc.yaml", &root)
        != WM_OK) {
        memcpy(p->err, sub.err, sizeof(p->err));
        return WM_ERROR;
    }
    *first = root->children;
    return WM_OK;
}

/* The tree invariants the rest of wmproxy relies on (strings are C
 * strings of exactly len bytes, counts agree); abort()s so that libFuzzer
 * reports a violation as a crash. */
static void
fuzz_check_tree(const wm_conf_node_t *parent, unsigned depth)
{
    const wm_conf_node_t *n;
    size_t count = 0, i;

    if (depth > 1000) {
        abort();
    }
    for (n = parent->children; n; n = n->next) {
        count++;
        if (n->file == NULL || n->line == 0 || n->name.len == 0
            || strlen((const char *) n->name.data) != n->name.len
            || (n->nargs && !n->args) || (!n->block && n->children))
        {
            abort();
        }
        for (i = 0; i < n->nargs; i++) {
            if (n->args[i].data == NULL
                || strlen((const char *) n->args[i].data) != n->args[i].len)
            {
                abort();
            }
        }
        fuzz_check_tree(n, depth + 1);
    }
    if (count != parent->nchildren) {
        abort();
    }
}

/* True when err is `FILE:LINE: message` for one of the two file names,
 * LINE a positive number. */
static bool
fuzz_err_ok(const char *err)
{
    const char *s;

    if (memchr(err, '\0', WM_CONF_ERRLEN) == NULL) {
        return false;
    }
    if (strncmp(err, FUZZ_FILE ":", sizeof(FUZZ_FILE)) == 0) {
        s = err + sizeof(FUZZ_FILE);
    } else if (strncmp(err, "inc.yaml:", 9) == 0) {
        s = err + 9;
    } else {
        return false;
    }
    if (*s < '1' || *s > '9') {
        return false;
    }
    s += strspn(s, "0123456789");
    return s[0] == ':' && s[1] == ' ' && s[2] != '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wm_pool_t *pool = wm_pool_new(0);
    wm_conf_parser_t p = {.pool = pool, .include = fuzz_include};
    wm_conf_node_t *root = NULL;

    if (pool == NULL) {
        return 0;
    }
    if (wm_conf_parse_yaml(&p, data, size, FUZZ_FILE, &root) == WM_OK) {
        if (root == NULL || root->name.len != 0) {
            abort();
        }
        fuzz_check_tree(root, 0);
    } else if (root != NULL || !fuzz_err_ok(p.err)) {
        abort();
    }
    wm_pool_free(pool);
    return 0;
}
