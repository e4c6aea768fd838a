/*
 * The MIME type table of a types {} block: extension -> type, built once
 * per configuration and read by every static response. It is an array
 * kept sorted by extension (ASCII case folded) and searched by bisection;
 * a mime.types of ~400 extensions is found in nine comparisons.
 */
#include "wm_http_content.h"

static int wm_http_mime_cmp(const u_char *a, size_t alen, const u_char *b,
                            size_t blen);
static size_t wm_http_mime_find(const wm_http_mime_t *m, const u_char *ext,
                                size_t len, bool *found);

/* Compares two extensions as if both were lowercase. */
static int
wm_http_mime_cmp(const u_char *a, size_t alen, const u_char *b, size_t blen)
{
    size_t i, n = wm_min(alen, blen);
    u_char x, y;

    for (i = 0; i < n; i++) {
        x = a[i];
        y = b[i];
        x = (x >= 'A' && x <= 'Z') ? (u_char) (x | 0x20) : x;
        y = (y >= 'A' && y <= 'Z') ? (u_char) (y | 0x20) : y;
        if (x != y) {
            return x < y ? -1 : 1;
        }
    }
    return alen == blen ? 0 : (alen < blen ? -1 : 1);
}

/* The index of ext in the table, or where it would go. */
static size_t
wm_http_mime_find(const wm_http_mime_t *m, const u_char *ext, size_t len,
                  bool *found)
{
    size_t lo = 0, hi = m->nentries, mid;
    int c;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = wm_http_mime_cmp(ext, len, m->entries[mid].ext.data,
                             m->entries[mid].ext.len);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    *found = false;
    return lo;
}

void
wm_http_mime_init(wm_http_mime_t *m, wm_pool_t *pool)
{
    m->entries = NULL;
    m->nentries = 0;
    m->nalloc = 0;
    m->pool = pool;
}

wm_int_t
wm_http_mime_add(wm_http_mime_t *m, const wm_str_t *type, const wm_str_t *exts,
                 size_t n, const wm_str_t **dup)
{
    wm_http_mime_entry_t *e;
    wm_int_t rc = WM_OK;
    size_t i, at, nalloc;
    bool found;

    for (i = 0; i < n; i++) {
        if (exts[i].len == 0) {
            return WM_ERROR;
        }

        at = wm_http_mime_find(m, exts[i].data, exts[i].len, &found);
        if (found) {
            /* The later line wins, as in nginx. */
            m->entries[at].type = *type;
            if (rc == WM_OK && dup != NULL) {
                *dup = &exts[i];
            }
            rc = WM_DECLINED;
            continue;
        }

        if (m->nentries == m->nalloc) {
            /* The old array stays in the pool: it is freed with it. */
            nalloc = m->nalloc ? m->nalloc * 2 : 64;
            e = wm_palloc(m->pool, nalloc * sizeof(wm_http_mime_entry_t));
            if (e == NULL) {
                return WM_ERROR;
            }
            if (m->nentries) {
                memcpy(e, m->entries,
                       m->nentries * sizeof(wm_http_mime_entry_t));
            }
            m->entries = e;
            m->nalloc = nalloc;
        }

        memmove(&m->entries[at + 1], &m->entries[at],
                (m->nentries - at) * sizeof(wm_http_mime_entry_t));
        m->entries[at].ext = exts[i];
        m->entries[at].type = *type;
        m->nentries++;
    }
    return rc;
}

const wm_str_t *
wm_http_mime_lookup(const wm_http_mime_t *m, const u_char *path, size_t len)
{
    const u_char *seg, *dot, *end;
    size_t at;
    bool found;

    if (len == 0 || m->nentries == 0) {
        return NULL;
    }

    end = path + len;
    seg = end;
    while (seg > path && seg[-1] != '/') {
        seg--;
    }
    dot = end;
    while (dot > seg && dot[-1] != '.') {
        dot--;
    }
    /* No dot, a dot that starts the name, or a dot that ends it. */
    if (dot == seg || dot - 1 == seg || dot == end) {
        return NULL;
    }

    at = wm_http_mime_find(m, dot, (size_t) (end - dot), &found);
    return found ? &m->entries[at].type : NULL;
}
