/*
 * Access log lines and the files they go to, for every module family. A
 * line is built from a compiled format in the request's pool, then either
 * written at once or appended to the worker's buffer of its file; the
 * buffer leaves when full, on its flush timer, before a reopen and when
 * the worker exits. Also the block-level error_log parser.
 */
#include "wm_access_log.h"

#include <event2/event.h>
#include <time.h>
#include <unistd.h>

#define WM_LOG_DEFAULT_BUFFER (64 * 1024)

static const char wm_log_combined[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status "
    "$body_bytes_sent \"$http_referer\" \"$http_user_agent\"";

/* ---- escaping and lines ------------------------------------------------- */

static size_t
wm_log_escape_default(u_char *dst, const u_char *src, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        u_char c = src[i];

        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
            if (dst) {
                dst[n] = '\\';
                dst[n + 1] = 'x';
                dst[n + 2] = (u_char) hex[c >> 4];
                dst[n + 3] = (u_char) hex[c & 0xf];
            }
            n += 4;
        } else {
            if (dst) {
                dst[n] = c;
            }
            n++;
        }
    }
    return n;
}

static size_t
wm_log_escape_json(u_char *dst, const u_char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        u_char c = src[i], e = 0;

        switch (c) {
        case '"':
        case '\\':
            e = c;
            break;
        case '\n':
            e = 'n';
            break;
        case '\r':
            e = 'r';
            break;
        case '\t':
            e = 't';
            break;
        case '\b':
            e = 'b';
            break;
        case '\f':
            e = 'f';
            break;
        }
        if (e) {
            if (dst) {
                dst[n] = '\\';
                dst[n + 1] = e;
            }
            n += 2;
        } else if (c < 0x20) {
            if (dst) {
                memcpy(dst + n, "\\u00", 4);
                dst[n + 4] = (u_char) hex[c >> 4];
                dst[n + 5] = (u_char) hex[c & 0xf];
            }
            n += 6;
        } else {
            if (dst) {
                dst[n] = c;
            }
            n++;
        }
    }
    return n;
}

size_t
wm_log_escape(wm_log_escape_t mode, u_char *dst, const u_char *src, size_t len)
{
    switch (mode) {
    case WM_LOG_ESCAPE_JSON:
        return wm_log_escape_json(dst, src, len);
    case WM_LOG_ESCAPE_NONE:
        if (dst && len) {
            memcpy(dst, src, len);
        }
        return len;
    default:
        return wm_log_escape_default(dst, src, len);
    }
}

wm_int_t
wm_log_format_line(const wm_log_format_t *fmt, void *r, wm_pool_t *pool,
                   wm_str_t *line)
{
    const wm_cv_t *cv = &fmt->cv;
    wm_str_t vals[64], *v;
    size_t i, len = 1;
    u_char *p;

    if (!cv->has_vars) {
        p = wm_palloc(pool, cv->value.len + 1);
        if (p == NULL) {
            return WM_ERROR;
        }
        memcpy(p, cv->value.data, cv->value.len);
        p[cv->value.len] = '\n';
        line->data = p;
        line->len = cv->value.len + 1;
        return WM_OK;
    }
    v = wm_cv_values(cv, r, pool, vals, wm_nelems(vals));
    if (v == NULL) {
        return WM_ERROR;
    }
    for (i = 0; i < cv->nparts; i++) {
        len += cv->parts[i].literal.len;
        if (cv->parts[i].var == NULL) {
            continue;
        }
        if (v[i].len == 0 || v[i].data == NULL) {
            v[i].len = 0;
            len += fmt->escape == WM_LOG_ESCAPE_DEFAULT ? 1 : 0;
        } else {
            len += wm_log_escape(fmt->escape, NULL, v[i].data, v[i].len);
        }
    }
    p = wm_palloc(pool, len);
    if (p == NULL) {
        return WM_ERROR;
    }
    line->data = p;
    for (i = 0; i < cv->nparts; i++) {
        const wm_cv_part_t *part = &cv->parts[i];

        if (part->literal.len) {
            memcpy(p, part->literal.data, part->literal.len);
            p += part->literal.len;
        }
        if (part->var == NULL) {
            continue;
        }
        if (v[i].len) {
            p += wm_log_escape(fmt->escape, p, v[i].data, v[i].len);
        } else if (fmt->escape == WM_LOG_ESCAPE_DEFAULT) {
            *p++ = '-';
        }
    }
    *p++ = '\n';
    line->len = (size_t) (p - line->data);
    return WM_OK;
}

const char *
wm_log_format_compile(wm_pool_t *pool, const wm_str_t *args, size_t n,
                      wm_log_escape_t escape, const wm_var_def_t *const *vars,
                      wm_log_format_t *fmt)
{
    wm_str_t text;
    size_t i, len = 0;
    u_char *p;

    for (i = 0; i < n; i++) {
        len += args[i].len;
    }
    p = wm_palloc(pool, len + 1);
    if (p == NULL) {
        return "failed: out of memory";
    }
    text.data = p;
    text.len = len;
    for (i = 0; i < n; i++) {
        memcpy(p, args[i].data, args[i].len);
        p += args[i].len;
    }
    *p = '\0';
    fmt->escape = escape;
    return wm_cv_compile(pool, &text, vars, &fmt->cv);
}

/* ---- files -------------------------------------------------------------- */

static void
wm_log_buffer_error(wm_log_buffer_t *b, int err)
{
    time_t now = time(NULL);

    /* A full disk would otherwise add a line per request. */
    if (now - b->error_time < 60) {
        return;
    }
    b->error_time = now;
    wm_log_error(WM_LOG_CRIT, wm_errlog, err, "write() to \"%s\" failed",
                 b->file->path);
}

/* Writes bytes to the file as they are. */
static void
wm_log_buffer_out(wm_log_buffer_t *b, const u_char *p, size_t n)
{
    while (n) {
        ssize_t w = write(b->file->fd, p, n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            wm_log_buffer_error(b, w < 0 ? errno : ENOSPC);
            return;
        }
        p += w;
        n -= (size_t) w;
    }
}

static void
wm_log_buffer_flush(void *data)
{
    wm_log_buffer_t *b = data;

    if (b->used) {
        wm_log_buffer_out(b, b->buf, b->used);
        b->used = 0;
    }
    if (b->timer) {
        evtimer_del(b->timer);
    }
}

static void
wm_log_buffer_timer(evutil_socket_t fd, short what, void *arg)
{
    wm_log_buffer_flush(arg);
}

static void
wm_log_buffer_write(wm_log_buffer_t *b, const wm_str_t *line)
{
    if (b->file->fd < 0) {
        return; /* -t, or a cycle that opened nothing */
    }
    if (b->size == 0) {
        wm_log_buffer_out(b, line->data, line->len);
        return;
    }
    if (b->used + line->len > b->size) {
        wm_log_buffer_flush(b);
    }
    if (line->len > b->size) {
        wm_log_buffer_out(b, line->data, line->len);
        return;
    }
    if (b->buf == NULL) {
        b->buf = malloc(b->size);
        if (b->buf == NULL) {
            wm_log_buffer_out(b, line->data, line->len);
            return;
        }
    }
    memcpy(b->buf + b->used, line->data, line->len);
    if (b->used == 0 && b->flush && wm_cycle && wm_cycle->base) {
        struct timeval tv = {b->flush / 1000, (b->flush % 1000) * 1000};

        if (b->timer == NULL) {
            b->timer = evtimer_new(wm_cycle->base, wm_log_buffer_timer, b);
        }
        if (b->timer) {
            evtimer_add(b->timer, &tv);
        }
    }
    b->used += line->len;
}

void
wm_access_log_write(const wm_access_log_conf_t *alcf, void *r, wm_pool_t *pool,
                    wm_log_t *log)
{
    const wm_access_log_t *al;
    size_t i;

    if (alcf->off == 1 || alcf->logs == NULL) {
        return;
    }
    al = alcf->logs->elts;
    for (i = 0; i < alcf->logs->nelts; i++) {
        wm_str_t line;

        if (al[i].cond) {
            wm_str_t c;

            if (wm_cv_eval(al[i].cond, r, pool, &c) != WM_OK) {
                wm_log_error(WM_LOG_ALERT, log, ENOMEM,
                             "cannot evaluate access_log if=");
                continue;
            }
            if (c.len == 0 || (c.len == 1 && c.data[0] == '0')) {
                continue;
            }
        }
        if (wm_log_format_line(al[i].format, r, pool, &line) != WM_OK) {
            wm_log_error(WM_LOG_ALERT, log, ENOMEM,
                         "cannot build an access log line");
            continue;
        }
        wm_log_buffer_write(al[i].out, &line);
    }
}

void
wm_access_log_flush_all(wm_cycle_t *cycle)
{
    size_t i;

    for (i = 0; i < cycle->open_files.nelts; i++) {
        wm_open_file_t *f = ((wm_open_file_t **) cycle->open_files.elts)[i];
        wm_log_buffer_t *b = f->data;

        if (f->flush != wm_log_buffer_flush) {
            continue;
        }
        wm_log_buffer_flush(b);
        if (b->timer) {
            event_free(b->timer);
            b->timer = NULL;
        }
        free(b->buf);
        b->buf = NULL;
    }
}

/* ---- configuration ------------------------------------------------------ */

wm_int_t
wm_log_formats_init(wm_log_formats_t *formats, wm_pool_t *pool,
                    const wm_var_def_t *const *vars, bool with_combined)
{
    wm_log_format_t *fmt;
    wm_str_t text = wm_string(wm_log_combined);

    formats->vars = vars;
    if (wm_array_init(&formats->formats, pool, 4, sizeof(wm_log_format_t))
        != WM_OK) {
        return WM_ERROR;
    }
    if (!with_combined) {
        return WM_OK;
    }
    fmt = wm_array_push(&formats->formats);
    if (fmt == NULL) {
        return WM_ERROR;
    }
    wm_str_set(&fmt->name, "combined");
    return wm_log_format_compile(pool, &text, 1, WM_LOG_ESCAPE_DEFAULT, vars,
                                 fmt)
               ? WM_ERROR
               : WM_OK;
}

static const wm_log_format_t *
wm_log_format_find(const wm_log_formats_t *formats, const wm_str_t *name)
{
    const wm_log_format_t *fmt = formats->formats.elts;
    size_t i;

    for (i = 0; i < formats->formats.nelts; i++) {
        if (fmt[i].name.len == name->len
            && memcmp(fmt[i].name.data, name->data, name->len) == 0)
        {
            return &fmt[i];
        }
    }
    return NULL;
}

const char *
wm_log_format_set(wm_conf_t *cf, wm_log_formats_t *formats)
{
    const wm_conf_node_t *n = cf->node;
    wm_log_escape_t escape = WM_LOG_ESCAPE_DEFAULT;
    wm_log_format_t *fmt;
    size_t first = 1;
    const char *rv;

    if (wm_log_format_find(formats, &n->args[0])) {
        return wm_conf_errf(cf, "has duplicate format name \"%s\"",
                            (const char *) n->args[0].data);
    }
    if (n->args[1].len > 7 && memcmp(n->args[1].data, "escape=", 7) == 0) {
        const char *e = (const char *) n->args[1].data + 7;

        if (strcmp(e, "default") == 0) {
            escape = WM_LOG_ESCAPE_DEFAULT;
        } else if (strcmp(e, "json") == 0) {
            escape = WM_LOG_ESCAPE_JSON;
        } else if (strcmp(e, "none") == 0) {
            escape = WM_LOG_ESCAPE_NONE;
        } else {
            return wm_conf_errf(cf,
                                "has unknown escaping \"%s\", it must be "
                                "default, json or none",
                                e);
        }
        first = 2;
    }
    if (first >= n->nargs) {
        return "has invalid number of arguments";
    }
    fmt = wm_array_push(&formats->formats);
    if (fmt == NULL) {
        return "failed: out of memory";
    }
    fmt->name = n->args[0];
    rv = wm_log_format_compile(cf->pool, &n->args[first], n->nargs - first,
                               escape, formats->vars, fmt);
    if (rv) {
        formats->formats.nelts--;
    }
    return rv;
}

/* The shared writer of path, made once per cycle; buffer sizes of two
 * lines that name one file must agree, the longest flush wins. */
static wm_log_buffer_t *
wm_log_buffer_get(wm_conf_t *cf, const char *path, size_t size, wm_msec_t flush,
                  const char **err)
{
    wm_open_file_t *f = wm_cycle_open_file(cf->cycle, path);
    wm_log_buffer_t *b;

    *err = "failed: out of memory";
    if (f == NULL) {
        return NULL;
    }
    b = f->data;
    if (b == NULL) {
        b = wm_pcalloc(cf->pool, sizeof(*b));
        if (b == NULL) {
            return NULL;
        }
        b->file = f;
        f->data = b;
        f->flush = wm_log_buffer_flush;
    } else if (size && b->size && size != b->size) {
        *err = wm_conf_errf(cf,
                            "has \"%s\" already defined with "
                            "conflicting buffer size",
                            path);
        return NULL;
    }
    if (size) {
        b->size = size;
    }
    b->flush = wm_max(b->flush, flush);
    return b;
}

static const char *
wm_access_log_push(wm_conf_t *cf, wm_access_log_conf_t *alcf, const char *path,
                   const wm_log_format_t *format, size_t size, wm_msec_t flush,
                   wm_cv_t *cond)
{
    wm_access_log_t *al;
    const char *err;

    if (alcf->logs == NULL) {
        alcf->logs = wm_pcalloc(cf->pool, sizeof(wm_array_t));
        if (alcf->logs == NULL
            || wm_array_init(alcf->logs, cf->pool, 2, sizeof(*al)) != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    al = wm_array_push(alcf->logs);
    if (al == NULL) {
        return "failed: out of memory";
    }
    al->format = format;
    al->cond = cond;
    al->out = wm_log_buffer_get(cf, path, size, flush, &err);
    if (al->out == NULL) {
        alcf->logs->nelts--;
        return err;
    }
    return NULL;
}

const char *
wm_access_log_add(wm_conf_t *cf, wm_access_log_conf_t *alcf, const char *path,
                  const wm_log_format_t *format)
{
    return wm_access_log_push(cf, alcf, path, format, 0, 0, NULL);
}

/* Rejects log destinations wmproxy cannot write (syslog, memory). */
static const char *
wm_log_check_path(wm_conf_t *cf, const wm_str_t *path)
{
    if (path->len == 0) {
        return "has invalid value \"\"";
    }
    if (path->len >= 7 && memcmp(path->data, "syslog:", 7) == 0) {
        return "has a \"syslog:\" destination, which wmproxy does not "
               "support";
    }
    if (path->len >= 7 && memcmp(path->data, "memory:", 7) == 0) {
        return "has a \"memory:\" destination, which wmproxy does not "
               "support";
    }
    return NULL;
}

const char *
wm_access_log_set(wm_conf_t *cf, wm_access_log_conf_t *alcf,
                  wm_log_formats_t *formats, const char *dflt)
{
    const wm_conf_node_t *n = cf->node;
    const wm_log_format_t *format;
    wm_str_t name;
    size_t size = 0, i;
    wm_msec_t flush = 0;
    wm_cv_t *cond = NULL;
    const char *path, *rv;

    if (wm_str_eq(&n->args[0], "off")) {
        if (n->nargs != 1) {
            return "has invalid number of arguments";
        }
        alcf->off = 1;
        return NULL;
    }
    if ((rv = wm_log_check_path(cf, &n->args[0]))) {
        return rv;
    }
    if (memchr(n->args[0].data, '$', n->args[0].len)) {
        return "has variables in the log path, which wmproxy does not "
               "support";
    }
    if (n->nargs >= 2) {
        name = n->args[1];
    } else if (dflt) {
        name.data = (u_char *) dflt;
        name.len = strlen(dflt);
    } else {
        return "has no log format name";
    }
    format = wm_log_format_find(formats, &name);
    if (format == NULL) {
        return wm_conf_errf(cf, "uses unknown log format \"%.*s\"",
                            (int) name.len, (const char *) name.data);
    }
    for (i = 2; i < n->nargs; i++) {
        const wm_str_t *a = &n->args[i];
        wm_str_t v;

        if (a->len > 7 && memcmp(a->data, "buffer=", 7) == 0) {
            int64_t s;

            v.data = a->data + 7;
            v.len = a->len - 7;
            s = wm_parse_size(&v);
            if (s <= 0 || s > 16 * 1024 * 1024) {
                return wm_conf_errf(cf, "has invalid buffer size \"%s\"",
                                    (const char *) v.data);
            }
            size = (size_t) s;
        } else if (a->len > 6 && memcmp(a->data, "flush=", 6) == 0) {
            v.data = a->data + 6;
            v.len = a->len - 6;
            flush = wm_parse_msec(&v);
            if (flush <= 0) {
                return wm_conf_errf(cf, "has invalid flush time \"%s\"",
                                    (const char *) v.data);
            }
        } else if (a->len > 3 && memcmp(a->data, "if=", 3) == 0) {
            v.data = a->data + 3;
            v.len = a->len - 3;
            cond = wm_palloc(cf->pool, sizeof(*cond));
            if (cond == NULL) {
                return "failed: out of memory";
            }
            rv = wm_cv_compile(cf->pool, &v, formats->vars, cond);
            if (rv) {
                return rv;
            }
        } else if (wm_str_eq(a, "gzip")
                   || (a->len > 5 && memcmp(a->data, "gzip=", 5) == 0))
        {
            return "has parameter \"gzip\", which wmproxy does not support";
        } else {
            return wm_conf_errf(cf, "has invalid parameter \"%s\"",
                                (const char *) a->data);
        }
    }
    if (flush && size == 0) {
        size = WM_LOG_DEFAULT_BUFFER; /* nginx: flush= implies a buffer */
    }
    path = wm_conf_full_path(cf->pool, cf->prefix, &n->args[0]);
    if (path == NULL) {
        return "failed: out of memory";
    }
    return wm_access_log_push(cf, alcf, path, format, size, flush, cond);
}

void
wm_access_log_merge(wm_access_log_conf_t *conf,
                    const wm_access_log_conf_t *prev)
{
    if (conf->logs || conf->off == 1) {
        if (conf->off == WM_CONF_UNSET) {
            conf->off = 0;
        }
        return;
    }
    conf->logs = prev->logs;
    conf->off = prev->off;
}

const char *
wm_error_log_level(wm_conf_t *cf, int *level)
{
    const wm_conf_node_t *n = cf->node;

    *level = WM_LOG_ERR;
    if (n->nargs < 2) {
        return NULL;
    }
    *level = wm_log_level_parse((const char *) n->args[1].data);
    if (*level < 0) {
        return wm_conf_errf(cf,
                            "has invalid level \"%s\", it must be one of "
                            "debug, info, notice, warn, error, crit, "
                            "alert, emerg",
                            (const char *) n->args[1].data);
    }
    return NULL;
}

const char *
wm_error_log_set(wm_conf_t *cf, wm_error_log_conf_t *elcf)
{
    const wm_conf_node_t *n = cf->node;
    wm_open_file_t **file;
    wm_log_sink_t *sink;
    int level;
    const char *rv;

    if ((rv = wm_log_check_path(cf, &n->args[0]))
        || (rv = wm_error_log_level(cf, &level)))
    {
        return rv;
    }
    if (elcf->sinks == NULL) {
        elcf->sinks = wm_pcalloc(cf->pool, sizeof(wm_array_t));
        elcf->files = wm_pcalloc(cf->pool, sizeof(wm_array_t));
        if (elcf->sinks == NULL || elcf->files == NULL
            || wm_array_init(elcf->sinks, cf->pool, 2, sizeof(*sink)) != WM_OK
            || wm_array_init(elcf->files, cf->pool, 2, sizeof(*file)) != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    sink = wm_array_push(elcf->sinks);
    file = wm_array_push(elcf->files);
    if (sink == NULL || file == NULL) {
        return "failed: out of memory";
    }
    sink->level = (unsigned) level;
    sink->fd = -1;
    sink->path = NULL;
    *file = NULL;
    if (!wm_str_eq(&n->args[0], "stderr")) {
        sink->path = wm_conf_full_path(cf->pool, cf->prefix, &n->args[0]);
        *file = sink->path ? wm_cycle_open_file(cf->cycle, sink->path) : NULL;
        if (*file == NULL) {
            return "failed: out of memory";
        }
    }
    return NULL;
}

void
wm_error_log_merge(wm_error_log_conf_t *conf, const wm_error_log_conf_t *prev)
{
    if (conf->sinks == NULL) {
        conf->sinks = prev->sinks;
        conf->files = prev->files;
    }
}

wm_log_t *
wm_error_log_get(wm_error_log_conf_t *elcf)
{
    wm_log_sink_t *sinks;
    wm_open_file_t **files;
    size_t i;

    if (elcf->sinks == NULL) {
        return NULL;
    }
    sinks = elcf->sinks->elts;
    files = elcf->files->elts;
    elcf->log.level = 0;
    for (i = 0; i < elcf->sinks->nelts; i++) {
        sinks[i].fd = files[i] ? files[i]->fd : 2;
        elcf->log.level = wm_max(elcf->log.level, sinks[i].level);
    }
    elcf->log.sinks = sinks;
    elcf->log.nsinks = elcf->sinks->nelts;
    return &elcf->log;
}
