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

/* A map variable of a config: its name, source and table. */
typedef struct {
    wm_str_t name; /* without '$' */
    wm_cv_t source;
    wm_map_t map;
} wm_map_var_t;

/* The value of a map variable kept for one request or session. */
typedef struct {
    wm_str_t value;
    unsigned state; /* 0 none, 1 being evaluated, 2 kept */
} wm_map_value_t;

/*
 * The setter body of `map $source $variable { ... }` for a family: checks
 * the name (its variable must resolve, through tables, to the family's
 * map getter `get`, else it is a duplicate), compiles the source and the
 * block, and appends the map to *maps (an array of wm_map_var_t *, made
 * in cf->pool when NULL). Errors of entries are reported at their lines;
 * NULL or an error message tail for the directive itself.
 */
const char *wm_map_block(wm_conf_t *cf, wm_array_t **maps,
                         const wm_var_def_t *const *tables, wm_var_get_pt get,
                         const wm_map_regex_ops_t *ops);

/* The kept values of one request or session: one slot per map of maps
 * (which may be NULL), zeroed, in pool; NULL when out of memory. */
wm_map_value_t *wm_map_values_new(const wm_array_t *maps, wm_pool_t *pool);

/*
 * The value of the map variable `name` for r: from cache (made by
 * wm_map_values_new() for the same maps, and reachable from r before the
 * call, since evaluating a map may use other maps) when kept, else the
 * source evaluated, looked up and the value evaluated, in pool. WM_OK;
 * WM_DECLINED when no map has that name; WM_BUSY when the variable is
 * being evaluated already (a map that uses its own value: v is empty and
 * the caller logs it); WM_ERROR when out of memory.
 */
wm_int_t wm_map_var_value(const wm_array_t *maps, wm_map_value_t *cache,
                          const wm_str_t *name, void *r, wm_pool_t *pool,
                          wm_str_t *v);

/* For the setters of map and set: the name of the variable written as
 * arg (`$name`, letters, digits and '_'), or an error message tail. */
const char *wm_map_var_name(wm_conf_t *cf, const wm_str_t *arg,
                            wm_str_t *name);

/* The setter body of map_hash_bucket_size and map_hash_max_size: the
 * size is checked and dropped (wmproxy's map tables need no tuning). */
const char *wm_map_hash_size(wm_conf_t *cf);

#endif /* WM_MAP_H */
