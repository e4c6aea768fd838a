/*
 * The configuration tree: what the text and YAML parsers produce and what
 * the directive layer (wm_conf.h) walks. The parsers know no directives and
 * open no files; `include` is resolved through a callback, so both can be
 * unit-tested and fuzzed on bytes alone.
 */
#ifndef WM_CONF_TREE_H
#define WM_CONF_TREE_H

#include "wm_core.h"
#include "wm_pool.h"

/*
 * One directive: `name arg1 arg2 ... ;` or `name args... { children }`.
 * Strings are NUL-terminated copies in the parser's pool, with quotes and
 * escapes already removed; `$var` and `${var}` stay as written for later
 * evaluation. The root node has an empty name, no args, and the top-level
 * directives as children.
 */
struct wm_conf_node_s {
    wm_str_t name;
    wm_str_t *args;           /* nargs slices, NUL-terminated */
    size_t nargs;
    wm_conf_node_t *children; /* first child, NULL if none */
    wm_conf_node_t *next;     /* next sibling */
    size_t nchildren;
    unsigned block : 1;       /* written with { } (possibly empty) */
    const char *file;         /* file it came from (pool string) */
    unsigned line;            /* line of the directive's name */
};

#define WM_CONF_ERRLEN 512
#define WM_CONF_MAX_INCLUDE_DEPTH 16

typedef struct wm_conf_parser_s wm_conf_parser_t;

/*
 * Called by a parser for each `include PATTERN;` (exactly one argument, no
 * block) it meets, at any depth. The callback resolves the pattern, reads
 * and parses the files (it may call wm_conf_parse_text/yaml recursively with
 * depth + 1), and returns their top-level nodes as a sibling list in *first
 * (NULL when the pattern matched nothing, which is not an error for a glob).
 * The parser splices that list in place of the include node. On error the
 * callback writes `file:line: message` into p->err and returns WM_ERROR.
 */
typedef wm_int_t (*wm_conf_include_pt)(wm_conf_parser_t *p,
                                       const wm_conf_node_t *include,
                                       wm_conf_node_t **first);

struct wm_conf_parser_s {
    wm_pool_t *pool;            /* owns every node and string */
    wm_conf_include_pt include; /* NULL: keep include nodes as they are */
    void *data;                 /* for the include callback */
    unsigned depth;             /* include nesting, 0 for the main file */
    char err[WM_CONF_ERRLEN];   /* "file:line: message" on WM_ERROR */
};

/*
 * Parses nginx-syntax text of `len` bytes (need not be NUL-terminated) read
 * from `file` into a new root node in *root. WM_OK, or WM_ERROR with p->err
 * set. Any input, however hostile, gives one of the two.
 */
wm_int_t wm_conf_parse_text(wm_conf_parser_t *p, const u_char *buf,
                            size_t len, const char *file,
                            wm_conf_node_t **root);

/*
 * Parses a YAML document (libyaml) into the same tree as the text form
 * (rules in man/wmproxy.conf.5). Same contract as wm_conf_parse_text.
 */
wm_int_t wm_conf_parse_yaml(wm_conf_parser_t *p, const u_char *buf,
                            size_t len, const char *file,
                            wm_conf_node_t **root);

/* True when `file` names a YAML file (.yaml or .yml). */
bool wm_conf_is_yaml(const char *file);

/*
 * Writes the canonical nginx text form of the tree below root (4-space
 * indent, one directive per line, args quoted only when needed) with
 * fputs-like `out(data, s, len)` calls. Parsing the output again gives the
 * same tree.
 */
void wm_conf_dump(const wm_conf_node_t *root,
                  void (*out)(void *data, const char *s, size_t len),
                  void *data);

#endif /* WM_CONF_TREE_H */
