/*
 * Content-coding negotiation (RFC 9110 12.5.3) and the gzip_types test:
 * what the compression filters ask before they touch a response. The
 * Accept-Encoding grammar is read element by element with q-values kept
 * as integer thousandths, so no floating point decides what we send.
 */
#include "wm_http_content.h"

#define wm_http_ows(c) ((c) == ' ' || (c) == '\t')

/* Indexes into the table of what a field value said about each coding. */
enum {
    WM_HTTP_AE_GZIP = 0,
    WM_HTTP_AE_ZSTD,
    WM_HTTP_AE_BR,
    WM_HTTP_AE_IDENTITY,
    WM_HTTP_AE_ANY,
    WM_HTTP_AE_OTHER,
    WM_HTTP_AE_N
};

typedef struct {
    bool listed[WM_HTTP_AE_N];
    int q[WM_HTTP_AE_N]; /* 0..1000 */
} wm_http_ae_t;

static bool wm_http_tchar(u_char c);
static const u_char *wm_http_token(const u_char *p, const u_char *end);
static int wm_http_qvalue(const u_char *p, const u_char *end);
static int wm_http_ae_coding(const u_char *p, size_t len);
static void wm_http_ae_parse(const wm_str_t *v, wm_http_ae_t *ae);

/* RFC 9110 5.6.2 tchar. */
static bool
wm_http_tchar(u_char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')) {
        return true;
    }
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static const u_char *
wm_http_token(const u_char *p, const u_char *end)
{
    while (p < end && wm_http_tchar(*p)) {
        p++;
    }
    return p;
}

/* A qvalue in thousandths, or -1: "0", "0.", "0.5", "0.125", "1", "1.000"
 * and nothing else (no sign, at most three decimals, at most 1). */
static int
wm_http_qvalue(const u_char *p, const u_char *end)
{
    int q, scale = 100;

    if (p == end || (*p != '0' && *p != '1')) {
        return -1;
    }
    q = (*p++ - '0') * 1000;
    if (p == end) {
        return q;
    }
    if (*p++ != '.' || end - p > 3) {
        return -1;
    }
    while (p < end) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        q += (*p++ - '0') * scale;
        scale /= 10;
    }
    return q > 1000 ? -1 : q;
}

static int
wm_http_ae_coding(const u_char *p, size_t len)
{
    static const struct {
        const char *name;
        int index;
    } names[] = {
        {"gzip", WM_HTTP_AE_GZIP},         {"x-gzip", WM_HTTP_AE_GZIP},
        {"zstd", WM_HTTP_AE_ZSTD},         {"br", WM_HTTP_AE_BR},
        {"identity", WM_HTTP_AE_IDENTITY}, {"*", WM_HTTP_AE_ANY},
    };
    size_t i;

    for (i = 0; i < wm_nelems(names); i++) {
        if (strlen(names[i].name) == len
            && wm_http_caseeq(p, names[i].name, len)) {
            return names[i].index;
        }
    }
    return WM_HTTP_AE_OTHER;
}

/* Adds what one field value says to *ae; the first entry for a coding
 * counts. */
static void
wm_http_ae_parse(const wm_str_t *v, wm_http_ae_t *ae)
{
    const u_char *p, *end, *name, *name_end;
    const u_char *pn, *pn_end, *val, *val_end;
    int coding, q;
    bool bad;

    if (v->len == 0) {
        return;
    }
    p = v->data;
    end = p + v->len;

    while (p < end) {
        if (wm_http_ows(*p) || *p == ',') {
            p++;
            continue;
        }

        name = p;
        name_end = wm_http_token(p, end);
        if (name_end == name) {
            /* No coding to blame: skip the element. */
            while (p < end && *p != ',') {
                p++;
            }
            continue;
        }
        p = name_end;
        q = 1000;
        bad = false;

        for (;;) {
            while (p < end && wm_http_ows(*p)) {
                p++;
            }
            if (p == end || *p != ';') {
                break;
            }
            p++;
            while (p < end && wm_http_ows(*p)) {
                p++;
            }
            pn = p;
            pn_end = p = wm_http_token(p, end);
            while (p < end && wm_http_ows(*p)) {
                p++;
            }
            if (pn == pn_end || p == end || *p != '=') {
                bad = true;
                break;
            }
            p++;
            while (p < end && wm_http_ows(*p)) {
                p++;
            }
            val = p;
            val_end = p = wm_http_token(p, end);
            if (val == val_end) {
                bad = true;
                break;
            }
            if (pn_end - pn == 1 && (*pn == 'q' || *pn == 'Q')) {
                q = wm_http_qvalue(val, val_end);
                if (q < 0) {
                    bad = true;
                    break;
                }
            }
        }

        if (p < end && *p != ',') {
            bad = true;
            while (p < end && *p != ',') {
                p++;
            }
        }

        coding = wm_http_ae_coding(name, (size_t) (name_end - name));
        if (!ae->listed[coding]) {
            ae->listed[coding] = true;
            ae->q[coding] = bad ? 0 : q;
        }
    }
}

wm_http_coding_t
wm_http_negotiate_encoding(const wm_str_t *values, size_t n, unsigned allowed,
                           bool *identity_refused)
{
    /* In the order that wins ties. */
    static const struct {
        int index;
        wm_http_coding_t coding;
    } order[] = {
        {WM_HTTP_AE_BR, WM_HTTP_CODING_BR},
        {WM_HTTP_AE_ZSTD, WM_HTTP_CODING_ZSTD},
        {WM_HTTP_AE_GZIP, WM_HTTP_CODING_GZIP},
    };
    wm_http_ae_t ae;
    wm_http_coding_t best = WM_HTTP_CODING_IDENTITY;
    int q, best_q = 0;
    size_t i;

    *identity_refused = false;
    if (n == 0) {
        return WM_HTTP_CODING_IDENTITY;
    }

    memset(&ae, 0, sizeof(ae));
    for (i = 0; i < n; i++) {
        wm_http_ae_parse(&values[i], &ae);
    }

    for (i = 0; i < wm_nelems(order); i++) {
        if (!(allowed & order[i].coding)) {
            continue;
        }
        q = ae.listed[order[i].index]   ? ae.q[order[i].index]
            : ae.listed[WM_HTTP_AE_ANY] ? ae.q[WM_HTTP_AE_ANY]
                                        : 0;
        if (q > best_q) {
            best = order[i].coding;
            best_q = q;
        }
    }

    if (ae.listed[WM_HTTP_AE_IDENTITY]) {
        *identity_refused = ae.q[WM_HTTP_AE_IDENTITY] == 0;
        if (ae.q[WM_HTTP_AE_IDENTITY] > best_q) {
            best = WM_HTTP_CODING_IDENTITY;
        }
    } else {
        *identity_refused =
            ae.listed[WM_HTTP_AE_ANY] && ae.q[WM_HTTP_AE_ANY] == 0;
    }

    return best;
}

const char *
wm_http_coding_name(wm_http_coding_t coding)
{
    switch (coding) {
    case WM_HTTP_CODING_GZIP:
        return "gzip";
    case WM_HTTP_CODING_ZSTD:
        return "zstd";
    case WM_HTTP_CODING_BR:
        return "br";
    default:
        return NULL;
    }
}

bool
wm_http_type_match(const wm_str_t *content_type, const wm_str_t *types,
                   size_t ntypes)
{
    const u_char *p, *end, *semi;
    size_t i, len = 0;

    if (content_type->len) {
        p = content_type->data;
        end = p + content_type->len;
        semi = memchr(p, ';', content_type->len);
        if (semi != NULL) {
            end = semi;
        }
        while (p < end && wm_http_ows(*p)) {
            p++;
        }
        while (end > p && wm_http_ows(end[-1])) {
            end--;
        }
        len = (size_t) (end - p);
    } else {
        p = NULL;
    }

    for (i = 0; i < ntypes; i++) {
        if (types[i].len == 1 && types[i].data[0] == '*') {
            return true;
        }
        if (len != 0 && types[i].len == len
            && wm_http_caseeq(p, (const char *) types[i].data, len))
        {
            return true;
        }
    }
    return false;
}
