/*
 * The pure parts of HTTP health checks: the arguments of the `status`,
 * `header` and `body` lines of an http match block, and the test of a
 * parsed response against a match.
 */
#include "wm_http_health.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <strings.h>

/* ---- parsing ------------------------------------------------------------ */

/* A status code 100-599 of exactly three digits, or -1. */
static int
wm_http_health_code(const u_char *p, size_t len)
{
    int n;

    if (len != 3 || p[0] < '1' || p[0] > '5' || p[1] < '0' || p[1] > '9'
        || p[2] < '0' || p[2] > '9')
    {
        return -1;
    }
    n = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    return n;
}

wm_int_t
wm_http_health_parse_status(const wm_str_t *args, size_t nargs,
                            wm_http_health_status_t *s, char *err,
                            size_t errlen)
{
    size_t i = 0;

    memset(s, 0, sizeof(*s));
    if (nargs > 0 && wm_str_eq(&args[0], "!")) {
        s->negate = 1;
        i = 1;
    }
    if (i == nargs) {
        snprintf(err, errlen, "has no status code");
        return WM_ERROR;
    }
    for (; i < nargs; i++) {
        const wm_str_t *a = &args[i];
        const u_char *dash = memchr(a->data, '-', a->len);
        int lo, hi;

        if (dash) {
            lo = wm_http_health_code(a->data, (size_t) (dash - a->data));
            hi = wm_http_health_code(dash + 1,
                                     a->len - (size_t) (dash - a->data) - 1);
        } else {
            lo = hi = wm_http_health_code(a->data, a->len);
        }
        if (lo < 0 || hi < lo || s->nranges == WM_HTTP_HEALTH_RANGES) {
            snprintf(err, errlen, "has invalid status \"%.*s\"", (int) a->len,
                     (const char *) a->data);
            return WM_ERROR;
        }
        s->range[s->nranges].lo = (uint16_t) lo;
        s->range[s->nranges].hi = (uint16_t) hi;
        s->nranges++;
    }
    return WM_OK;
}

static void
wm_http_health_regex_free(void *re)
{
    pcre2_code_free(re);
}

wm_int_t
wm_http_health_parse_cond(const wm_str_t *args, size_t nargs, bool body,
                          wm_pool_t *pool, wm_http_health_cond_t *c, char *err,
                          size_t errlen)
{
    const wm_str_t *op, *arg;
    PCRE2_UCHAR msg[128];
    PCRE2_SIZE off;
    uint32_t opts = 0;
    pcre2_code *code;
    int rc;

    memset(c, 0, sizeof(*c));
    if (body) {
        if (nargs != 2) {
            goto invalid;
        }
        op = &args[0];
        arg = &args[1];
    } else if (nargs == 1) {
        c->op = WM_HTTP_HEALTH_PRESENT;
        c->name = args[0];
        return WM_OK;
    } else if (nargs == 2) {
        if (!wm_str_eq(&args[0], "!")) {
            goto invalid;
        }
        c->op = WM_HTTP_HEALTH_ABSENT;
        c->name = args[1];
        return WM_OK;
    } else {
        c->name = args[0];
        op = &args[1];
        arg = &args[2];
    }

    if (wm_str_eq(op, "=") && !body) {
        c->op = WM_HTTP_HEALTH_EQ;
        c->value = *arg;
        return WM_OK;
    }
    if (wm_str_eq(op, "!=") && !body) {
        c->op = WM_HTTP_HEALTH_NE;
        c->value = *arg;
        return WM_OK;
    }
    if (wm_str_eq(op, "~") || wm_str_eq(op, "~*")) {
        c->op = WM_HTTP_HEALTH_RE;
    } else if (wm_str_eq(op, "!~") || wm_str_eq(op, "!~*")) {
        c->op = WM_HTTP_HEALTH_NRE;
    } else {
        snprintf(err, errlen, "has invalid operator \"%.*s\"", (int) op->len,
                 (const char *) op->data);
        return WM_ERROR;
    }
    if (op->data[op->len - 1] == '*') {
        opts = PCRE2_CASELESS;
    }
    code = pcre2_compile(arg->data, arg->len, opts, &rc, &off, NULL);
    if (code == NULL) {
        pcre2_get_error_message(rc, msg, sizeof(msg));
        snprintf(err, errlen, "has invalid regex \"%.*s\": %s", (int) arg->len,
                 (const char *) arg->data, (const char *) msg);
        return WM_ERROR;
    }
    if (wm_pool_cleanup_add(pool, wm_http_health_regex_free, code) != WM_OK) {
        pcre2_code_free(code);
        snprintf(err, errlen, "failed: out of memory");
        return WM_ERROR;
    }
    c->regex = code;
    return WM_OK;

invalid:
    snprintf(err, errlen, "has invalid number of arguments");
    return WM_ERROR;
}

/* ---- the test ---------------------------------------------------------- */

bool
wm_http_health_wants_body(const wm_http_health_match_t *m)
{
    return m != NULL && m->body != NULL;
}

static bool
wm_http_health_re(void *re, const u_char *data, size_t len)
{
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc;

    if (md == NULL) {
        return false;
    }
    rc = pcre2_match(re, len ? data : (const u_char *) "", len, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

static bool
wm_http_health_status_holds(const wm_http_health_status_t *s, wm_uint_t status)
{
    bool in = false;
    size_t i;

    for (i = 0; i < s->nranges && !in; i++) {
        in = status >= s->range[i].lo && status <= s->range[i].hi;
    }
    return in != (bool) s->negate;
}

/* Whether one value fits the positive form of c's operator. */
static bool
wm_http_health_value_fits(const wm_http_health_cond_t *c, const wm_str_t *v)
{
    if (c->op == WM_HTTP_HEALTH_EQ || c->op == WM_HTTP_HEALTH_NE) {
        return v->len == c->value.len
               && memcmp(v->data, c->value.data, v->len) == 0;
    }
    return wm_http_health_re(c->regex, v->data, v->len);
}

/*
 * A header line holds: PRESENT when a field of that name is there, ABSENT
 * when none is; EQ and RE when one of the fields of that name fits; NE and
 * NRE when none does (a missing header included).
 */
static bool
wm_http_health_header_holds(const wm_http_health_cond_t *c,
                            const wm_http_status_t *st)
{
    bool seen = false, fits = false;
    size_t i;

    for (i = 0; i < st->nheaders && !fits; i++) {
        const wm_http_header_t *h = &st->headers[i];

        if (h->name.len != c->name.len
            || strncasecmp((const char *) h->name.data,
                           (const char *) c->name.data, c->name.len)
                   != 0)
        {
            continue;
        }
        seen = true;
        if (c->op != WM_HTTP_HEALTH_PRESENT && c->op != WM_HTTP_HEALTH_ABSENT) {
            fits = wm_http_health_value_fits(c, &h->value);
        }
    }
    switch (c->op) {
    case WM_HTTP_HEALTH_PRESENT:
        return seen;
    case WM_HTTP_HEALTH_ABSENT:
        return !seen;
    case WM_HTTP_HEALTH_EQ:
    case WM_HTTP_HEALTH_RE:
        return fits;
    default:
        return !fits;
    }
}

const char *
wm_http_health_test(const wm_http_health_match_t *m, const wm_http_status_t *st,
                    const u_char *body, size_t len)
{
    const wm_http_health_status_t *s;
    const wm_http_health_cond_t *c;

    if (m == NULL) {
        return st->status >= 200 && st->status < 400 ? NULL : "status";
    }
    for (s = m->status; s; s = s->next) {
        if (!wm_http_health_status_holds(s, st->status)) {
            return "status";
        }
    }
    for (c = m->header; c; c = c->next) {
        if (!wm_http_health_header_holds(c, st)) {
            return "header";
        }
    }
    for (c = m->body; c; c = c->next) {
        bool fits = wm_http_health_re(c->regex, body, len);

        if (fits != (c->op == WM_HTTP_HEALTH_RE)) {
            return "body";
        }
    }
    return NULL;
}
