/*
 * Variables and complex values: text such as `$remote_addr:$server_port`
 * is compiled once, at config time, into literal and variable parts, and
 * evaluated per request or session. Each module family (http, stream)
 * supplies its own table of getters over its own request type.
 */
#ifndef WM_VAR_H
#define WM_VAR_H

#include "wm_core.h"
#include "wm_pool.h"

/*
 * Produces the value of a variable for the request or session r (the
 * family's own type). `arg` is the part of the name after a prefix
 * variable's name (`http_user_agent` -> arg `user_agent`). The value may
 * point into r or into pool memory. WM_OK, or WM_DECLINED when the value
 * is not found (it is then empty).
 */
typedef wm_int_t (*wm_var_get_pt)(void *r, const wm_str_t *arg,
                                  uintptr_t data, wm_pool_t *pool,
                                  wm_str_t *value);

typedef struct {
    const char *name;       /* for a prefix variable, ends in '_' */
    wm_var_get_pt get;
    uintptr_t data;
    unsigned prefix : 1;
    /* Set for variables whose names are made by the config (regex named
     * captures): the entry matches any name known() accepts, and the getter
     * gets the whole name as arg. name is then "". */
    bool (*known)(const wm_str_t *name);
} wm_var_def_t;

typedef struct {
    wm_str_t literal;           /* text before the variable */
    const wm_var_def_t *var;    /* NULL for a trailing literal */
    wm_str_t arg;               /* for prefix variables */
} wm_cv_part_t;

typedef struct {
    wm_cv_part_t *parts;
    size_t nparts;
    wm_str_t value;             /* the whole text when it has no variable */
    unsigned has_vars : 1;
} wm_cv_t;

/* Variables every family has: $hostname $pid $msec $time_local
 * $time_iso8601. NULL-name terminated. */
extern const wm_var_def_t wm_var_common[];

/* Finds a variable by name in a NULL-terminated list of tables; arg gets
 * the rest of a prefix variable's name. NULL when unknown. */
const wm_var_def_t *wm_var_find(const wm_var_def_t *const *tables,
                                const wm_str_t *name, wm_str_t *arg);

/* Compiles text (`$name`, `${name}`, literals) in pool. NULL on success,
 * or an error message tail such as `unknown "foo" variable` (in a static
 * or pool buffer). */
const char *wm_cv_compile(wm_pool_t *pool, const wm_str_t *text,
                          const wm_var_def_t *const *tables, wm_cv_t *cv);

/* Gets the value of each part's variable of cv (which has variables)
 * for r, into buf when it has room for cv->nparts, else into pool memory;
 * a part without a variable, or whose variable is not found, gets an
 * empty value. The array, or NULL on an error (out of memory). */
wm_str_t *wm_cv_values(const wm_cv_t *cv, void *r, wm_pool_t *pool,
                       wm_str_t *buf, size_t nbuf);

/* Evaluates cv for r into pool memory. WM_OK or WM_ERROR (out of
 * memory). */
wm_int_t wm_cv_eval(const wm_cv_t *cv, void *r, wm_pool_t *pool,
                    wm_str_t *out);

/* For wm_cv_eval_filtered(): may replace the value *v of variable var
 * (with pool memory), for example to escape it. WM_OK or WM_ERROR. */
typedef wm_int_t (*wm_cv_filter_pt)(const wm_var_def_t *var, wm_str_t *v,
                                    wm_pool_t *pool, void *data);

/* wm_cv_eval() with each variable's value passed through filter (NULL:
 * none) before it is copied. */
wm_int_t wm_cv_eval_filtered(const wm_cv_t *cv, void *r, wm_pool_t *pool,
                             wm_str_t *out, wm_cv_filter_pt filter,
                             void *data);

#endif /* WM_VAR_H */
