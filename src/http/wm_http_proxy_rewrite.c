/*
 * The rewriting of upstream response fields that name the upstream:
 * proxy_redirect (Location and Refresh), proxy_cookie_domain and
 * proxy_cookie_path (the domain= and path= attributes of Set-Cookie).
 * Each directive gives a list of (from, to) pairs tried in order; the
 * first that matches rewrites the value. A literal `from` is a prefix
 * (redirect, path) or the whole domain (case-insensitive, a leading dot
 * ignored); `~`/`~*` make it a regex whose captures `to` may use.
 */
#include "wm_http_proxy.h"

#include <strings.h>

const char *
wm_http_proxy_rw_add(wm_conf_t *cf, wm_array_t **list, const wm_str_t *from,
                     const wm_str_t *to, bool domain)
{
    wm_http_proxy_rw_t *rw;
    wm_str_t f = *from;
    const char *rv;

    if (*list == NULL) {
        *list = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (*list == NULL
            || wm_array_init(*list, cf->pool, 2, sizeof(*rw)) != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    rw = wm_array_push(*list);
    if (rw == NULL) {
        return "failed: out of memory";
    }
    memset(rw, 0, sizeof(*rw));
    if (f.len > 1 && f.data[0] == '~') {
        bool caseless = f.len > 2 && f.data[1] == '*';

        f.data += caseless ? 2 : 1;
        f.len -= caseless ? 2 : 1;
        rw->re = wm_pcalloc(cf->pool, sizeof(*rw->re));
        if (rw->re == NULL) {
            return "failed: out of memory";
        }
        rv = wm_http_regex_compile(cf->pool, &f, caseless, rw->re);
        if (rv) {
            return rv;
        }
    } else {
        if (domain && f.len && f.data[0] == '.') {
            f.data++;
            f.len--;
        }
        rv = wm_cv_compile(cf->pool, &f, wm_http_var_tables, &rw->from);
        if (rv) {
            return rv;
        }
    }
    return wm_cv_compile(cf->pool, to, wm_http_var_tables, &rw->to);
}

/*
 * Rewrites the part of *value from offset `at` with the first entry of
 * list that matches it: a new value in r's pool. WM_OK when rewritten,
 * WM_DECLINED when nothing matched, WM_ERROR.
 */
static wm_int_t
wm_http_proxy_rw_apply(wm_http_request_t *r, const wm_array_t *list,
                       wm_str_t *value, size_t at, size_t end, bool domain)
{
    wm_str_t part = {end - at, value->data + at};
    size_t i, keep = 0;

    if (domain && part.len && part.data[0] == '.') {
        part.data++;
        part.len--;
        at++;
    }
    for (i = 0; list && i < list->nelts; i++) {
        const wm_http_proxy_rw_t *rw =
            &((const wm_http_proxy_rw_t *) list->elts)[i];
        wm_str_t from, to;
        u_char *p;
        int rc;

        if (rw->re) {
            rc = wm_http_regex_exec(rw->re, &part, r);
            if (rc < 0) {
                return WM_ERROR;
            }
            if (rc == 0) {
                continue;
            }
            keep = part.len; /* the whole part is replaced */
        } else {
            if (wm_cv_eval(&rw->from, r, r->pool, &from) != WM_OK) {
                return WM_ERROR;
            }
            if (domain ? (from.len != part.len
                          || strncasecmp((const char *) from.data,
                                         (const char *) part.data, from.len)
                                 != 0)
                       : (from.len > part.len
                          || memcmp(from.data, part.data, from.len) != 0))
            {
                continue;
            }
            keep = from.len;
        }
        if (wm_cv_eval(&rw->to, r, r->pool, &to) != WM_OK) {
            return WM_ERROR;
        }
        p = wm_palloc(r->pool, value->len - keep + to.len + 1);
        if (p == NULL) {
            return WM_ERROR;
        }
        memcpy(p, value->data, at);
        memcpy(p + at, to.data, to.len);
        memcpy(p + at + to.len, value->data + at + keep,
               value->len - at - keep);
        value->len = value->len - keep + to.len;
        value->data = p;
        p[value->len] = '\0';
        return WM_OK;
    }
    return WM_DECLINED;
}

wm_int_t
wm_http_proxy_rw_redirect(wm_http_request_t *r, const wm_array_t *list,
                          wm_str_t *value, bool refresh)
{
    size_t at = 0, i;

    if (list == NULL || list->nelts == 0 || value->len == 0) {
        return WM_DECLINED;
    }
    if (refresh) {
        /* "5; url=http://..." : only the URL part */
        for (i = 0; i + 4 <= value->len; i++) {
            if (strncasecmp((const char *) value->data + i, "url=", 4) == 0) {
                break;
            }
        }
        if (i + 4 > value->len) {
            return WM_DECLINED;
        }
        at = i + 4;
    }
    return wm_http_proxy_rw_apply(r, list, value, at, value->len, false);
}

/* Finds the attribute name= in a Set-Cookie value, after the first ';':
 * the offsets of its value in *at and *end. */
static bool
wm_http_proxy_cookie_attr(const wm_str_t *v, const char *name, size_t *at,
                          size_t *end)
{
    size_t n = strlen(name), i = 0;

    while (i < v->len) {
        u_char *semi = memchr(v->data + i, ';', v->len - i);

        if (semi == NULL) {
            return false;
        }
        i = (size_t) (semi - v->data) + 1;
        while (i < v->len && (v->data[i] == ' ' || v->data[i] == '\t')) {
            i++;
        }
        if (v->len - i > n
            && strncasecmp((const char *) v->data + i, name, n) == 0
            && v->data[i + n] == '=')
        {
            u_char *stop;

            *at = i + n + 1;
            stop = memchr(v->data + *at, ';', v->len - *at);
            *end = stop ? (size_t) (stop - v->data) : v->len;
            return true;
        }
    }
    return false;
}

wm_int_t
wm_http_proxy_rw_cookie(wm_http_request_t *r, const wm_array_t *domains,
                        const wm_array_t *paths, wm_str_t *value)
{
    wm_int_t rc, changed = WM_DECLINED;
    size_t at, end;

    if (domains && domains->nelts
        && wm_http_proxy_cookie_attr(value, "domain", &at, &end))
    {
        rc = wm_http_proxy_rw_apply(r, domains, value, at, end, true);
        if (rc == WM_ERROR) {
            return rc;
        }
        changed = rc == WM_OK ? WM_OK : changed;
    }
    if (paths && paths->nelts
        && wm_http_proxy_cookie_attr(value, "path", &at, &end))
    {
        rc = wm_http_proxy_rw_apply(r, paths, value, at, end, false);
        if (rc == WM_ERROR) {
            return rc;
        }
        changed = rc == WM_OK ? WM_OK : changed;
    }
    return changed;
}
