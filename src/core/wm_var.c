/*
 * Complex values and the variables common to every module family. Names
 * are resolved when the config is loaded, so evaluating a value only calls
 * getters and copies bytes.
 */
#include "wm_var.h"

#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static wm_int_t
wm_var_hostname(void *r, const wm_str_t *arg, uintptr_t data, wm_pool_t *pool,
                wm_str_t *v)
{
    static char name[256];
    static size_t len;

    if (len == 0) {
        if (gethostname(name, sizeof(name) - 1) != 0) {
            strcpy(name, "localhost");
        }
        name[sizeof(name) - 1] = '\0';
        len = strlen(name);
    }
    v->data = (u_char *) name;
    v->len = len;
    return WM_OK;
}

static wm_int_t
wm_var_time(void *r, const wm_str_t *arg, uintptr_t data, wm_pool_t *pool,
            wm_str_t *v)
{
    struct timeval tv;
    struct tm tm;
    char buf[64];
    size_t n;

    gettimeofday(&tv, NULL);
    switch (data) {
    case 0: /* pid */
        n = (size_t) snprintf(buf, sizeof(buf), "%d", (int) getpid());
        break;
    case 1: /* msec */
        n = (size_t) snprintf(buf, sizeof(buf), "%lld.%03d",
                              (long long) tv.tv_sec, (int) (tv.tv_usec / 1000));
        break;
    case 2: /* time_local */
        localtime_r(&tv.tv_sec, &tm);
        n = strftime(buf, sizeof(buf), "%d/%b/%Y:%H:%M:%S %z", &tm);
        break;
    default: /* time_iso8601 */
        localtime_r(&tv.tv_sec, &tm);
        n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S%z", &tm);
        if (n == 24) { /* +hhmm -> +hh:mm */
            buf[25] = '\0';
            buf[24] = buf[23];
            buf[23] = buf[22];
            buf[22] = ':';
            n = 25;
        }
        break;
    }
    v->data = (u_char *) wm_pstrndup(pool, buf, n);
    v->len = n;
    return v->data ? WM_OK : WM_ERROR;
}

const wm_var_def_t wm_var_common[] = {
    {"hostname", wm_var_hostname, 0, 0, NULL},
    {"pid", wm_var_time, 0, 0, NULL},
    {"msec", wm_var_time, 1, 0, NULL},
    {"time_local", wm_var_time, 2, 0, NULL},
    {"time_iso8601", wm_var_time, 3, 0, NULL},
    {NULL, NULL, 0, 0, NULL},
};

const wm_var_def_t *
wm_var_find(const wm_var_def_t *const *tables, const wm_str_t *name,
            wm_str_t *arg)
{
    const wm_var_def_t *v;

    for (; *tables; tables++) {
        for (v = *tables; v->name; v++) {
            size_t n = strlen(v->name);

            if (v->known) {
                if (v->known(name)) {
                    *arg = *name;
                    return v;
                }
            } else if (v->prefix) {
                if (name->len > n && memcmp(name->data, v->name, n) == 0) {
                    arg->data = name->data + n;
                    arg->len = name->len - n;
                    return v;
                }
            } else if (name->len == n && memcmp(name->data, v->name, n) == 0) {
                arg->data = NULL;
                arg->len = 0;
                return v;
            }
        }
    }
    return NULL;
}

static bool
wm_var_char(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_';
}

const char *
wm_cv_compile(wm_pool_t *pool, const wm_str_t *text,
              const wm_var_def_t *const *tables, wm_cv_t *cv)
{
    const u_char *p = text->data, *end = text->data + text->len, *lit = p;
    wm_array_t parts;

    memset(cv, 0, sizeof(*cv));
    cv->value = *text;
    if (memchr(text->data, '$', text->len) == NULL) {
        return NULL;
    }
    if (wm_array_init(&parts, pool, 4, sizeof(wm_cv_part_t)) != WM_OK) {
        return "failed: out of memory";
    }
    while (p < end) {
        wm_cv_part_t *part;
        wm_str_t name;
        const u_char *start;
        bool brace;

        if (*p != '$') {
            p++;
            continue;
        }
        start = p++;
        brace = p < end && *p == '{';
        if (brace) {
            p++;
        }
        name.data = (u_char *) p;
        while (p < end && wm_var_char(*p)) {
            p++;
        }
        name.len = (size_t) (p - name.data);
        if (brace) {
            if (p == end || *p != '}') {
                return "has a \"${\" without its \"}\"";
            }
            p++;
        }
        if (name.len == 0) {
            return "has an invalid variable name after \"$\"";
        }
        part = wm_array_push(&parts);
        if (part == NULL) {
            return "failed: out of memory";
        }
        part->literal.data = (u_char *) lit;
        part->literal.len = (size_t) (start - lit);
        part->var = wm_var_find(tables, &name, &part->arg);
        if (part->var == NULL) {
            char *msg = wm_psprintf(pool, "uses unknown \"%.*s\" variable",
                                    (int) name.len, (const char *) name.data);

            return msg ? msg : "failed: out of memory";
        }
        lit = p;
    }
    if (lit < end) {
        wm_cv_part_t *part = wm_array_push(&parts);

        if (part == NULL) {
            return "failed: out of memory";
        }
        part->literal.data = (u_char *) lit;
        part->literal.len = (size_t) (end - lit);
    }
    cv->parts = parts.elts;
    cv->nparts = parts.nelts;
    cv->has_vars = 1;
    return NULL;
}

wm_str_t *
wm_cv_values(const wm_cv_t *cv, void *r, wm_pool_t *pool, wm_str_t *buf,
             size_t nbuf)
{
    wm_str_t *v = buf;
    size_t i;

    if (cv->nparts > nbuf) {
        v = wm_palloc(pool, cv->nparts * sizeof(wm_str_t));
        if (v == NULL) {
            return NULL;
        }
    }
    for (i = 0; i < cv->nparts; i++) {
        const wm_cv_part_t *part = &cv->parts[i];

        v[i].len = 0;
        v[i].data = NULL;
        if (part->var
            && part->var->get(r, &part->arg, part->var->data, pool, &v[i])
                   == WM_ERROR)
        {
            return NULL;
        }
    }
    return v;
}

wm_int_t
wm_cv_eval(const wm_cv_t *cv, void *r, wm_pool_t *pool, wm_str_t *out)
{
    return wm_cv_eval_filtered(cv, r, pool, out, NULL, NULL);
}

wm_int_t
wm_cv_eval_filtered(const wm_cv_t *cv, void *r, wm_pool_t *pool, wm_str_t *out,
                    wm_cv_filter_pt filter, void *data)
{
    wm_str_t vals[64], *v;
    size_t i, len = 0;
    u_char *p;

    if (!cv->has_vars) {
        *out = cv->value;
        return WM_OK;
    }
    v = wm_cv_values(cv, r, pool, vals, wm_nelems(vals));
    if (v == NULL) {
        return WM_ERROR;
    }
    for (i = 0; i < cv->nparts; i++) {
        if (cv->parts[i].var && filter
            && filter(cv->parts[i].var, &v[i], pool, data) != WM_OK)
        {
            return WM_ERROR;
        }
        len += cv->parts[i].literal.len + v[i].len;
    }
    p = wm_palloc(pool, len + 1);
    if (p == NULL) {
        return WM_ERROR;
    }
    out->data = p;
    for (i = 0; i < cv->nparts; i++) {
        if (cv->parts[i].literal.len) {
            memcpy(p, cv->parts[i].literal.data, cv->parts[i].literal.len);
            p += cv->parts[i].literal.len;
        }
        if (v[i].len) {
            memcpy(p, v[i].data, v[i].len);
            p += v[i].len;
        }
    }
    *p = '\0';
    out->len = len;
    return WM_OK;
}
