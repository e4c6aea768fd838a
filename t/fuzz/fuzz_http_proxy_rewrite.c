/*
 * Fuzz target of the rewriting of upstream response fields: proxy_redirect
 * on Location and Refresh values, proxy_cookie_domain and
 * proxy_cookie_path on Set-Cookie values (src/http/wm_http_proxy_rewrite.c).
 * With lists of literals only, the result must equal a reference rewrite
 * written here from the directives' documented rules; with regexes, a
 * rewritten value keeps the bytes around the part it replaced and is
 * NUL-terminated.
 *
 * Input: byte 0 picks options (bit 0 the lists with regexes, bit 1 the
 * value is a Refresh one); the rest is the value the upstream sent.
 */
#include "wm_http_proxy.h"

#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const char *from;
    const char *to;
} fz_pair_t;

/* Literal lists, then the same with regexes in front. */
static const fz_pair_t fz_redirects[] = {
    {"http://upstream:8080/", "/"},
    {"http://up/", "https://front.example/app/"},
    {"/", "/base/"},
};
static const fz_pair_t fz_redirects_re[] = {
    {"~^http://([^/]+)(/.*)?$", "https://$1$2"},
    {"~*^HTTPS://back[a-z]*", "http://front"},
    {"http://up/", "/x/"},
};
static const fz_pair_t fz_domains[] = {
    {".Backend.Internal", "example.org"},
    {"b", ""},
};
static const fz_pair_t fz_domains_re[] = {
    {"~^(.*)\\.internal$", "$1.public"},
    {"~*^(?<sub>[a-z]+)\\.B$", "${sub}.example"},
};
static const fz_pair_t fz_paths[] = {
    {"/app/", "/"},
    {"/", "/root/"},
};
static const fz_pair_t fz_paths_re[] = {
    {"~^/u(\\d+)", "/user$1"},
    {"/app/", "/"},
};

static wm_array_t *
fz_list(wm_conf_t *cf, const fz_pair_t *pairs, size_t n, bool domain)
{
    wm_array_t *list = NULL;
    size_t i;

    for (i = 0; i < n; i++) {
        wm_str_t from = {strlen(pairs[i].from), (u_char *) pairs[i].from};
        wm_str_t to = {strlen(pairs[i].to), (u_char *) pairs[i].to};

        if (wm_http_proxy_rw_add(cf, &list, &from, &to, domain) != NULL) {
            abort();
        }
    }
    return list;
}

/* The reference rewrite of value[at, end) by a list of literals into out
 * (malloc'd); false when nothing matched. */
static bool
fz_ref_apply(const fz_pair_t *pairs, size_t n, const wm_str_t *value, size_t at,
             size_t end, bool domain, wm_str_t *out)
{
    size_t i;

    if (domain && at < end && value->data[at] == '.') {
        at++;
    }
    for (i = 0; i < n; i++) {
        const char *from = pairs[i].from;
        size_t flen, keep;

        if (domain && from[0] == '.') {
            from++;
        }
        flen = strlen(from);
        if (domain) {
            if (flen != end - at
                || strncasecmp(from, (const char *) value->data + at, flen)
                       != 0)
            {
                continue;
            }
        } else if (flen > end - at || memcmp(from, value->data + at, flen) != 0)
        {
            continue;
        }
        keep = flen;
        out->len = value->len - keep + strlen(pairs[i].to);
        out->data = malloc(out->len + 1);
        if (out->data == NULL) {
            abort();
        }
        memcpy(out->data, value->data, at);
        memcpy(out->data + at, pairs[i].to, strlen(pairs[i].to));
        memcpy(out->data + at + strlen(pairs[i].to), value->data + at + keep,
               value->len - at - keep);
        return true;
    }
    return false;
}

/* The value offsets of attribute name= after the first ';' of a
 * Set-Cookie value (spaces and tabs before the name skipped). */
static bool
fz_ref_attr(const wm_str_t *v, const char *name, size_t *at, size_t *end)
{
    size_t n = strlen(name), i, j;

    for (i = 0; i < v->len; i++) {
        if (v->data[i] != ';') {
            continue;
        }
        j = i + 1;
        while (j < v->len && (v->data[j] == ' ' || v->data[j] == '\t')) {
            j++;
        }
        if (j + n < v->len
            && strncasecmp((const char *) v->data + j, name, n) == 0
            && v->data[j + n] == '=')
        {
            *at = j + n + 1;
            for (*end = *at; *end < v->len && v->data[*end] != ';'; (*end)++) {
            }
            return true;
        }
    }
    return false;
}

/* A rewritten value: NUL-terminated, the first `at` bytes kept. */
static void
fz_check_kept(const wm_str_t *before, const wm_str_t *after, size_t at)
{
    if (after->data[after->len] != '\0' || after->len < at
        || memcmp(before->data, after->data, at) != 0)
    {
        abort();
    }
}

static void
fz_redirect(wm_http_request_t *r, const wm_array_t *list, const wm_str_t *v,
            bool refresh, bool re)
{
    wm_str_t value = *v, want;
    size_t at = 0;
    wm_int_t rc;
    bool found = true;

    if (refresh) {
        for (at = 0; at + 4 <= v->len; at++) {
            if (strncasecmp((const char *) v->data + at, "url=", 4) == 0) {
                break;
            }
        }
        found = at + 4 <= v->len;
        at += 4;
    }
    rc = wm_http_proxy_rw_redirect(r, list, &value, refresh);
    if (rc != WM_OK && rc != WM_DECLINED) {
        abort();
    }
    if (rc == WM_DECLINED && (value.data != v->data || value.len != v->len)) {
        abort();
    }
    if (rc == WM_OK) {
        if (!found || v->len == 0) {
            abort();
        }
        fz_check_kept(v, &value, at);
    }
    if (re) {
        return;
    }
    if (!found || v->len == 0
        || !fz_ref_apply(fz_redirects, wm_nelems(fz_redirects), v, at, v->len,
                         false, &want))
    {
        if (rc != WM_DECLINED) {
            abort();
        }
        return;
    }
    if (rc != WM_OK || want.len != value.len
        || memcmp(want.data, value.data, want.len) != 0)
    {
        abort();
    }
    free(want.data);
}

static void
fz_cookie(wm_http_request_t *r, const wm_array_t *domains,
          const wm_array_t *paths, const wm_str_t *v, bool re)
{
    wm_str_t value = *v, mid = *v, want = {0, NULL};
    size_t at, end;
    wm_int_t rc;
    bool changed = false;

    rc = wm_http_proxy_rw_cookie(r, domains, paths, &value);
    if (rc != WM_OK && rc != WM_DECLINED) {
        abort();
    }
    if (rc == WM_DECLINED && (value.data != v->data || value.len != v->len)) {
        abort();
    }
    if (rc == WM_OK) {
        /* The bytes before the first attribute found are kept. */
        size_t first = v->len;
        bool any = false;

        if (fz_ref_attr(v, "domain", &at, &end)) {
            first = at;
            any = true;
        }
        if (fz_ref_attr(v, "path", &at, &end)) {
            first = wm_min(first, at);
            any = true;
        }
        if (!any) {
            abort();
        }
        fz_check_kept(v, &value, first);
    }
    if (re) {
        return;
    }
    if (fz_ref_attr(&mid, "domain", &at, &end)
        && fz_ref_apply(fz_domains, wm_nelems(fz_domains), &mid, at, end, true,
                        &want))
    {
        mid = want;
        changed = true;
    }
    if (fz_ref_attr(&mid, "path", &at, &end)
        && fz_ref_apply(fz_paths, wm_nelems(fz_paths), &mid, at, end, false,
                        &want))
    {
        if (changed) {
            free(mid.data);
        }
        mid = want;
        changed = true;
    }
    if (changed != (rc == WM_OK) || mid.len != value.len
        || memcmp(mid.data, value.data, mid.len) != 0)
    {
        abort();
    }
    if (changed) {
        free(mid.data);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wm_array_t *redirects, *domains, *paths;
    wm_http_request_t *r;
    wm_str_t v;
    wm_conf_t cf;
    bool re;

    if (size == 0) {
        return 0;
    }
    re = data[0] & 1;
    memset(&cf, 0, sizeof(cf));
    cf.pool = wm_pool_new(0);
    if (cf.pool == NULL) {
        abort();
    }
    redirects =
        re ? fz_list(&cf, fz_redirects_re, wm_nelems(fz_redirects_re), false)
           : fz_list(&cf, fz_redirects, wm_nelems(fz_redirects), false);
    domains = re ? fz_list(&cf, fz_domains_re, wm_nelems(fz_domains_re), true)
                 : fz_list(&cf, fz_domains, wm_nelems(fz_domains), true);
    paths = re ? fz_list(&cf, fz_paths_re, wm_nelems(fz_paths_re), false)
               : fz_list(&cf, fz_paths, wm_nelems(fz_paths), false);
    r = wm_pcalloc(cf.pool, sizeof(*r));
    if (r == NULL) {
        abort();
    }
    r->pool = cf.pool;

    v.data = (u_char *) data + 1;
    v.len = size - 1;
    fz_redirect(r, redirects, &v, data[0] & 2, re);
    fz_cookie(r, domains, paths, &v, re);

    wm_pool_free(cf.pool);
    return 0;
}
