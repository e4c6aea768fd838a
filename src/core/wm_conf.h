/*
 * The directive layer: modules declare tables of directives (name, where
 * they may appear, argument count, setter, offset into a typed conf struct,
 * default and a one-line doc), and wm_conf_walk() applies a configuration
 * tree to them, reporting every error as `file:line: "name" directive ...`.
 */
#ifndef WM_CONF_H
#define WM_CONF_H

#include "wm_core.h"
#include "wm_conf_tree.h"
#include "wm_pool.h"

/* Contexts a directive may appear in (bit set). */
#define WM_CTX_MAIN 0x0001
#define WM_CTX_EVENTS 0x0002
#define WM_CTX_HTTP 0x0004
#define WM_CTX_HTTP_SRV 0x0008
#define WM_CTX_HTTP_LOC 0x0010
#define WM_CTX_HTTP_UPS 0x0020
#define WM_CTX_HTTP_LIF 0x0040 /* if () inside a location */
#define WM_CTX_HTTP_SIF 0x0080 /* if () inside a server */
#define WM_CTX_STREAM 0x0100
#define WM_CTX_STREAM_SRV 0x0200
#define WM_CTX_STREAM_UPS 0x0400
#define WM_CTX_QUIC 0x0800
#define WM_CTX_STREAM_MATCH 0x1000 /* match { } in stream */
#define WM_CTX_HTTP_MATCH 0x2000 /* match { } in http */
#define WM_CTX_ANY 0xffff

/* Which conf struct of the current block family a directive writes into:
 * the main one (http{}, stream{}, or the cycle's for core modules), the
 * server one or the location one. */
#define WM_LVL_MAIN 0
#define WM_LVL_SRV 1
#define WM_LVL_LOC 2
#define WM_LVL_N 3

/* Module families: a module's conf structs live only in its family's
 * blocks. */
#define WM_MOD_CORE 1
#define WM_MOD_EVENTS 2
#define WM_MOD_HTTP 3
#define WM_MOD_STREAM 4
#define WM_MOD_QUIC 5

#define WM_ARGS_MANY 255

/* Command flags. */
#define WM_CMD_BLOCK 0x01 /* must be followed by { } */
#define WM_CMD_MULTI 0x02 /* may repeat in one block */

/*
 * A setter turns cf->node into a field of conf. It returns NULL on
 * success, or the tail of an error message that the caller prints after
 * `file:line: "name" directive ` (for example `has invalid value "x"`);
 * dynamic messages go to cf->errbuf through wm_conf_errf().
 */
typedef const char *(*wm_conf_set_pt)(wm_conf_t *cf, const wm_command_t *cmd,
                                      void *conf);

struct wm_command_s {
    const char *name;
    uint32_t ctx;       /* WM_CTX_* where it is allowed */
    uint8_t min_args;
    uint8_t max_args;   /* WM_ARGS_MANY for no limit */
    uint8_t flags;      /* WM_CMD_* */
    uint8_t level;      /* WM_LVL_* */
    wm_conf_set_pt set;
    size_t offset;      /* of the field in the conf struct */
    const void *post;   /* setter-specific: wm_conf_enum_t[], bounds */
    const char *dflt;   /* default, as shown in --directives */
    const char *doc;    /* one line */
};

#define wm_null_command { NULL, 0, 0, 0, 0, 0, NULL, 0, NULL, NULL, NULL }

/* For wm_conf_set_enum: a NULL-name-terminated table. */
typedef struct {
    const char *name;
    wm_int_t value;
} wm_conf_enum_t;

/* For wm_conf_set_num (optional): inclusive bounds. */
typedef struct {
    int64_t min;
    int64_t max;
} wm_conf_bounds_t;

struct wm_module_s {
    const char *name;
    unsigned family; /* WM_MOD_* */
    const wm_command_t *commands;
    /* Allocates this module's conf struct for one level of its family
     * (fields WM_CONF_UNSET); NULL when out of memory. May be NULL. */
    void *(*create_conf)(wm_conf_t *cf, unsigned level);
    /* Inherits unset fields of conf from prev (the enclosing block's);
     * NULL or an error message as for setters. May be NULL. */
    const char *(*merge_conf)(wm_conf_t *cf, void *prev, void *conf,
                              unsigned level);
    /* Runs in the master once the whole config is parsed, for defaults
     * and checks across directives; NULL or an error message. */
    const char *(*init_conf)(wm_cycle_t *cycle, void *conf);
    /* Runs in each worker after fork (and privilege drop). */
    wm_int_t (*init_worker)(wm_cycle_t *cycle);
    /* Runs in each worker before it exits. */
    void (*exit_worker)(wm_cycle_t *cycle);
    wm_uint_t index; /* set by wm_modules_init() */
};

/* The module registry (wm_modules.c), NULL-terminated. */
extern wm_module_t *wm_modules[];
extern wm_uint_t wm_modules_n;

/* Numbers the modules; call once at start. */
void wm_modules_init(void);

/* The state of one configuration walk. */
struct wm_conf_s {
    wm_cycle_t *cycle;
    wm_pool_t *pool;           /* the cycle's pool */
    const wm_conf_node_t *node; /* directive being set */
    uint32_t ctx;              /* WM_CTX_* of the current block */
    unsigned family;           /* WM_MOD_* of the current block */
    void **confs[WM_LVL_N];    /* per level, indexed by module index */
    const char *prefix;        /* for wm_conf_set_path, ends in '/' */
    void (*report)(void *data, const char *msg); /* one error line */
    void *report_data;
    unsigned nerrors;
    char errbuf[WM_CONF_ERRLEN];
};

/*
 * Applies every child of `block` in the context cf->ctx. Each directive is
 * looked up, checked (known, allowed here, argument count, block or not)
 * and handed to its setter. Errors are reported through cf->report as
 * `file:line: ...` and counted in cf->nerrors; the walk goes on after an
 * error so that `-t` shows them all. WM_OK when no error was found.
 */
wm_int_t wm_conf_walk(wm_conf_t *cf, const wm_conf_node_t *block);

/* Reports a free-form error at node: `file:line: message`. */
void wm_conf_error(wm_conf_t *cf, const wm_conf_node_t *node,
                   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Formats into cf->errbuf and returns it, for setters. */
const char *wm_conf_errf(wm_conf_t *cf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Finds a command by name in the given context, or NULL. */
const wm_command_t *wm_conf_find(const char *name, uint32_t ctx,
                                 const wm_module_t **module);

/* Generic setters; the field type is in the comment. */
const char *wm_conf_set_flag(wm_conf_t *, const wm_command_t *, void *);   /* wm_int_t: on|off */
const char *wm_conf_set_num(wm_conf_t *, const wm_command_t *, void *);    /* wm_int_t; post: bounds */
const char *wm_conf_set_size(wm_conf_t *, const wm_command_t *, void *);   /* size_t: 10, 10k, 1m, 1g */
const char *wm_conf_set_msec(wm_conf_t *, const wm_command_t *, void *);   /* wm_msec_t: 500ms, 10s, 1h, 1d, 30 = 30s */
const char *wm_conf_set_str(wm_conf_t *, const wm_command_t *, void *);    /* wm_str_t */
const char *wm_conf_set_path(wm_conf_t *, const wm_command_t *, void *);   /* wm_str_t, made absolute against the prefix */
const char *wm_conf_set_enum(wm_conf_t *, const wm_command_t *, void *);   /* wm_int_t; post: wm_conf_enum_t[] */

/* Value parsers shared with other setters; -1 on a bad value. */
int64_t wm_parse_num(const wm_str_t *s);
int64_t wm_parse_size(const wm_str_t *s);
wm_msec_t wm_parse_msec(const wm_str_t *s);

/* A path made absolute against prefix (unless already absolute), in pool. */
char *wm_conf_full_path(wm_pool_t *pool, const char *prefix,
                        const wm_str_t *path);

/*
 * Loads a config file (text, or YAML by extension) with includes resolved
 * by glob relative to the including file's directory, and returns its root.
 * WM_OK, or WM_ERROR with `file:line: message` in err.
 */
wm_int_t wm_conf_load(wm_pool_t *pool, const char *file,
                      wm_conf_node_t **root, char *err, size_t errlen);

/*
 * Parses the text of -g into nodes appended to the top level of root
 * (nginx allows only simple main-level directives there).
 */
wm_int_t wm_conf_add_global(wm_pool_t *pool, wm_conf_node_t *root,
                            const char *text, char *err, size_t errlen);

/* Prints every directive of every module: name, contexts, args, default
 * and doc, one per line (`wmproxy --directives`). */
void wm_conf_list_directives(FILE *out);

#endif /* WM_CONF_H */
