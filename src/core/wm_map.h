/*
 * The table behind `map $source $variable { ... }` (http and stream): keys
 * and values parsed from the block of a map, and the lookup of a source
 * value in nginx's order. It knows nothing of requests: regex keys are
 * compiled and matched through callbacks of the module family, so that
 * their captures land where that family's $1 and $name variables read them.
 */
#ifndef WM_MAP_H
#define WM_MAP_H

#include "wm_conf.h"
#include "wm_core.h"
#include "wm_pool.h"
#include "wm_var.h"

/* How a family compiles and runs the regexes of its maps. */
typedef struct {
    /* Compiles pattern (NUL-terminated), caseless when asked, into *re
     * (pool memory, or freed by a pool cleanup). NULL or an error message
     * tail such as `has an invalid regex "(": ...`. */
    const char *(*compile)(wm_pool_t *pool, const wm_str_t *pattern,
                           bool caseless, void **re);
    /* Matches re against subject for r (whatever the family passes to
     * wm_map_find), keeping the captures in r. 1 on a match, 0 on none,
     * -1 on an error (the lookup then goes on as for no match). */
    int (*exec)(void *re, const wm_str_t *subject, void *r);
} wm_map_regex_ops_t;

/* An exact or wildcard key: lowercase, wildcards without their '*' and
 * dot (`*.example.com` and `.example.com` are kept as `example.com`,
 * `mail.*` as `mail`). */
typedef struct {
    wm_str_t key;
    uint32_t hash;
    const wm_cv_t *value;
    const wm_conf_node_t *node; /* where it was written, for errors */
} wm_map_key_t;

typedef struct {
    void *re;
    wm_str_t pattern;
    const wm_cv_t *value;
} wm_map_regex_t;

/* A parsed map; everything lives in the pool given to wm_map_parse(). */
typedef struct {
    wm_map_key_t *exact;         /* sorted by hash, then bytes */
    size_t nexact;
    wm_map_key_t *head;          /* *.example.com, .example.com */
    size_t nhead;
    wm_map_key_t *tail;          /* example.* */
    size_t ntail;
    wm_map_regex_t *regex;       /* in the order written */
    size_t nregex;
    const wm_cv_t *dflt;         /* NULL: the empty value */
    const wm_map_regex_ops_t *ops;
    unsigned hostnames : 1;      /* wildcard keys; a source's final dot
                                    is ignored */
    unsigned is_volatile : 1;    /* evaluated at each use, never cached */
} wm_map_t;

/*
 * Fills map from the entries of block (the children of a `map` node):
 * `key value;` pairs, `default value;`, `hostnames;`, `volatile;`
 * (includes were spliced in by the loader). A key `~re` or `~*re` is a
 * regex (through ops, which may be NULL when the family has none); a
 * leading backslash makes `\default` the literal key. Values are complex
 * values compiled with tables, after the regex of their key so its named
 * captures are known. Each bad entry is reported through cf at its own
 * line (`"map" directive has duplicate key "a"`). WM_OK or WM_ERROR.
 */
wm_int_t wm_map_parse(wm_map_t *map, wm_conf_t *cf,
                      const wm_conf_node_t *block,
                      const wm_var_def_t *const *tables,
                      const wm_map_regex_ops_t *ops);

/*
 * The value of key: the exact key (case-insensitive), else the longest
 * leading wildcard, else the longest trailing wildcard (hostnames only),
 * else the first regex that matches (not tried on an empty key; captures
 * kept by ops->exec in r), else the default; NULL when there is no
 * default. pool holds a lowercase copy of a long key when needed.
 */
const wm_cv_t *wm_map_find(const wm_map_t *map, const wm_str_t *key,
                           wm_pool_t *pool, void *r);

/*
 * The names of the variables a config defines with `map` (or `set`),
 * gathered from the tree before its directives are applied, so that a
 * variable may be used above the block that defines it. The buffer is
 * malloc'ed (the list outlives no config load: it is reset by the next).
 */
typedef struct {
    char *names; /* NUL-separated */
    size_t len;
} wm_map_names_t;

/* Empties n (frees its buffer). */
void wm_map_names_reset(wm_map_names_t *n);

/* True when name (without '$') is in n. */
bool wm_map_names_has(const wm_map_names_t *n, const wm_str_t *name);

/* Adds name (without '$') to n unless it is there. NULL or an error
 * message. */
const char *wm_map_names_add(wm_map_names_t *n, const wm_str_t *name);

/* Adds, from every `directive` node below block (at any depth when deep),
 * the argument number arg when it is `$name`. NULL or an error message. */
const char *wm_map_names_collect(wm_map_names_t *n,
                                 const wm_conf_node_t *block,
                                 const char *directive, size_t arg,
                                 bool deep);

/* For the setters of map and set: the name of the variable written as
 * arg (`$name`, letters, digits and '_'), or an error message tail. */
const char *wm_map_var_name(wm_conf_t *cf, const wm_str_t *arg,
                            wm_str_t *name);

/* The setter body of map_hash_bucket_size and map_hash_max_size: the
 * size is checked and dropped (wmproxy's map tables need no tuning). */
const char *wm_map_hash_size(wm_conf_t *cf);

#endif /* WM_MAP_H */
