/*
 * The generic directive setters (flag, number, size, time, string, path,
 * enum) and the value parsers behind them. A setter writes at
 * cmd->offset into the module's conf struct; a field that is not
 * WM_CONF_UNSET any more means the directive was given twice.
 */
#include "wm_conf.h"

#include <limits.h>

#define wm_conf_field(conf, cmd, type) ((type *) ((u_char *) (conf) + (cmd)->offset))

static const char wm_conf_duplicate[] = "is duplicate";

static const char *
wm_conf_invalid(wm_conf_t *cf, const wm_str_t *arg, const char *detail)
{
    return wm_conf_errf(cf, "has invalid value \"%s\"%s%s",
                        (const char *) arg->data, detail ? ", " : "",
                        detail ? detail : "");
}

int64_t
wm_parse_num(const wm_str_t *s)
{
    int64_t v = 0;
    size_t i;

    if (s->len == 0) {
        return -1;
    }
    for (i = 0; i < s->len; i++) {
        u_char c = s->data[i];

        if (c < '0' || c > '9' || v > (INT64_MAX - (c - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (c - '0');
    }
    return v;
}

int64_t
wm_parse_size(const wm_str_t *s)
{
    wm_str_t num = *s;
    int64_t v, scale = 1;

    if (s->len == 0) {
        return -1;
    }
    switch (s->data[s->len - 1]) {
    case 'k':
    case 'K':
        scale = 1024;
        break;
    case 'm':
    case 'M':
        scale = 1024 * 1024;
        break;
    case 'g':
    case 'G':
        scale = 1024 * 1024 * 1024;
        break;
    }
    if (scale != 1) {
        num.len--;
    }
    v = wm_parse_num(&num);
    if (v < 0 || v > INT64_MAX / scale) {
        return -1;
    }
    return v * scale;
}

/* nginx's time syntax: one or more number+unit pairs in descending
 * order (`1h30m`, `500ms`, `2d`); a bare number means seconds. */
wm_msec_t
wm_parse_msec(const wm_str_t *s)
{
    static const struct {
        char unit;
        int64_t msec;
    } units[] = {
        {'y', 365LL * 86400000}, {'M', 30LL * 86400000}, {'w', 7LL * 86400000},
        {'d', 86400000},         {'h', 3600000},         {'m', 60000},
        {'s', 1000},
    };
    const u_char *p = s->data, *end = s->data + s->len;
    int64_t total = 0, last = INT64_MAX;
    size_t i;

    if (s->len == 0) {
        return -1;
    }
    while (p < end) {
        int64_t v = 0, scale = -1;

        if (*p < '0' || *p > '9') {
            return -1;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            if (v > (INT64_MAX - (*p - '0')) / 10) {
                return -1;
            }
            v = v * 10 + (*p++ - '0');
        }
        if (p == end) {
            if (last != INT64_MAX) {
                return -1; /* `1h30`: a bare number must stand alone */
            }
            scale = 1000;
        } else if (*p == 'm' && p + 1 < end && p[1] == 's') {
            scale = 1;
            p += 2;
        } else {
            for (i = 0; i < wm_nelems(units); i++) {
                if (*p == units[i].unit) {
                    scale = units[i].msec;
                    p++;
                    break;
                }
            }
        }
        if (scale < 0 || scale >= last) {
            return -1; /* unknown unit, or units not descending */
        }
        last = scale;
        if (v > (INT64_MAX - total) / scale) {
            return -1;
        }
        total += v * scale;
    }
    return total;
}

char *
wm_conf_full_path(wm_pool_t *pool, const char *prefix, const wm_str_t *path)
{
    if (path->len && path->data[0] == '/') {
        return wm_pstrndup(pool, path->data, path->len);
    }
    return wm_psprintf(pool, "%s%.*s", prefix ? prefix : "",
                       (int) path->len, (const char *) path->data);
}

const char *
wm_conf_set_flag(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_int_t *field = wm_conf_field(conf, cmd, wm_int_t);
    const wm_str_t *arg = &cf->node->args[0];

    if (*field != WM_CONF_UNSET) {
        return wm_conf_duplicate;
    }
    if (wm_str_eq(arg, "on")) {
        *field = 1;
    } else if (wm_str_eq(arg, "off")) {
        *field = 0;
    } else {
        return wm_conf_invalid(cf, arg, "it must be \"on\" or \"off\"");
    }
    return NULL;
}

const char *
wm_conf_set_num(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_int_t *field = wm_conf_field(conf, cmd, wm_int_t);
    const wm_conf_bounds_t *b = cmd->post;
    const wm_str_t *arg = &cf->node->args[0];
    int64_t v;

    if (*field != WM_CONF_UNSET) {
        return wm_conf_duplicate;
    }
    v = wm_parse_num(arg);
    if (v < 0 || v > INTPTR_MAX) {
        return wm_conf_invalid(cf, arg, NULL);
    }
    if (b && (v < b->min || v > b->max)) {
        return wm_conf_errf(cf,
                            "has invalid value \"%s\", it must be between "
                            "%lld and %lld",
                            (const char *) arg->data, (long long) b->min,
                            (long long) b->max);
    }
    *field = (wm_int_t) v;
    return NULL;
}

const char *
wm_conf_set_size(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    size_t *field = wm_conf_field(conf, cmd, size_t);
    const wm_str_t *arg = &cf->node->args[0];
    int64_t v;

    if (*field != WM_CONF_UNSET_SIZE) {
        return wm_conf_duplicate;
    }
    v = wm_parse_size(arg);
    if (v < 0 || (uint64_t) v >= SIZE_MAX) {
        return wm_conf_invalid(cf, arg, NULL);
    }
    *field = (size_t) v;
    return NULL;
}

const char *
wm_conf_set_msec(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_msec_t *field = wm_conf_field(conf, cmd, wm_msec_t);
    const wm_str_t *arg = &cf->node->args[0];
    wm_msec_t v;

    if (*field != WM_CONF_UNSET_MSEC) {
        return wm_conf_duplicate;
    }
    v = wm_parse_msec(arg);
    if (v < 0) {
        return wm_conf_invalid(cf, arg, NULL);
    }
    *field = v;
    return NULL;
}

const char *
wm_conf_set_str(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_str_t *field = wm_conf_field(conf, cmd, wm_str_t);

    if (field->data) {
        return wm_conf_duplicate;
    }
    *field = cf->node->args[0];
    return NULL;
}

const char *
wm_conf_set_path(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_str_t *field = wm_conf_field(conf, cmd, wm_str_t);
    const wm_str_t *arg = &cf->node->args[0];
    char *p;

    if (field->data) {
        return wm_conf_duplicate;
    }
    if (arg->len == 0) {
        return wm_conf_invalid(cf, arg, NULL);
    }
    p = wm_conf_full_path(cf->pool, cf->prefix, arg);
    if (p == NULL) {
        return "failed: out of memory";
    }
    field->data = (u_char *) p;
    field->len = strlen(p);
    return NULL;
}

const char *
wm_conf_set_enum(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_int_t *field = wm_conf_field(conf, cmd, wm_int_t);
    const wm_conf_enum_t *e;
    const wm_str_t *arg = &cf->node->args[0];

    if (*field != WM_CONF_UNSET) {
        return wm_conf_duplicate;
    }
    for (e = cmd->post; e->name; e++) {
        if (wm_str_eq(arg, e->name)) {
            *field = e->value;
            return NULL;
        }
    }
    return wm_conf_invalid(cf, arg, NULL);
}
