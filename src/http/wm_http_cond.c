/*
 * Conditional requests (RFC 9110 13): entity-tag lists and comparison, the
 * ETag nginx gives a file, and the evaluation of the five precondition
 * headers in the order the RFC prescribes. The static handler calls it
 * after it knows the file's mtime and size and before it sends anything.
 */
#include "wm_http_content.h"

#define wm_http_ows(c) ((c) == ' ' || (c) == '\t')

typedef struct {
    wm_str_t opaque; /* the quoted part, quotes included */
    bool weak;
} wm_http_etag_t;

static const u_char *wm_http_etag_parse(const u_char *p, const u_char *end,
                                        wm_http_etag_t *tag);
static bool wm_http_etag_whole(const wm_str_t *v, wm_http_etag_t *tag);
static bool wm_http_if_range(const wm_http_cond_t *c);

/*
 * One entity-tag at p: [ "W/" ] DQUOTE *etagc DQUOTE, where etagc is any
 * byte from 0x21 to 0xff except DQUOTE and DEL. Returns the byte after it,
 * or NULL when p does not start an entity-tag.
 */
static const u_char *
wm_http_etag_parse(const u_char *p, const u_char *end, wm_http_etag_t *tag)
{
    const u_char *start;

    tag->weak = false;
    if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
        tag->weak = true;
        p += 2;
    }
    if (p == end || *p != '"') {
        return NULL;
    }
    start = p++;
    while (p < end && *p != '"') {
        if (*p < 0x21 || *p == 0x7f) {
            return NULL;
        }
        p++;
    }
    if (p == end) {
        return NULL;
    }
    p++;
    tag->opaque.data = (u_char *) start;
    tag->opaque.len = (size_t) (p - start);
    return p;
}

/* True when all of v, but surrounding whitespace, is one entity-tag. */
static bool
wm_http_etag_whole(const wm_str_t *v, wm_http_etag_t *tag)
{
    const u_char *p, *end;

    if (v->len == 0) {
        return false;
    }
    p = v->data;
    end = p + v->len;

    while (p < end && wm_http_ows(*p)) {
        p++;
    }
    while (end > p && wm_http_ows(end[-1])) {
        end--;
    }
    return p < end && wm_http_etag_parse(p, end, tag) == end;
}

bool
wm_http_etag_match(const wm_str_t *list, const wm_str_t *etag, bool weak)
{
    const u_char *p, *end, *next;
    wm_http_etag_t ours, theirs;
    bool have;

    if (list->len == 0) {
        return false;
    }
    p = list->data;
    end = p + list->len;

    while (p < end && wm_http_ows(*p)) {
        p++;
    }
    while (end > p && wm_http_ows(end[-1])) {
        end--;
    }
    if (end - p == 1 && *p == '*') {
        return true;
    }

    have = etag != NULL && wm_http_etag_whole(etag, &ours);
    if (!have || (!weak && ours.weak)) {
        return false;
    }

    while (p < end) {
        if (wm_http_ows(*p) || *p == ',') {
            p++;
            continue;
        }

        next = wm_http_etag_parse(p, end, &theirs);
        if (next != NULL) {
            while (next < end && wm_http_ows(*next)) {
                next++;
            }
            if (next == end || *next == ',') {
                if ((weak || !theirs.weak)
                    && theirs.opaque.len == ours.opaque.len
                    && memcmp(theirs.opaque.data, ours.opaque.data,
                              ours.opaque.len)
                           == 0)
                {
                    return true;
                }
                p = next;
                continue;
            }
        }

        /* A malformed element: it matches nothing; try the next one. */
        while (p < end && *p != ',') {
            p++;
        }
    }
    return false;
}

size_t
wm_http_etag_format(u_char *buf, time_t mtime, off_t size, bool weak)
{
    int n;

    n = snprintf((char *) buf, WM_HTTP_ETAG_LEN + 1, "%s\"%llx-%llx\"",
                 weak ? "W/" : "", (unsigned long long) mtime,
                 (unsigned long long) size);
    return n < 0 ? 0 : (size_t) n;
}

/* True when the range request may go ahead (RFC 9110 13.1.5). */
static bool
wm_http_if_range(const wm_http_cond_t *c)
{
    wm_http_etag_t theirs, ours;
    time_t t;

    if (wm_http_etag_whole(c->if_range, &theirs)) {
        return !theirs.weak && c->etag != NULL
               && wm_http_etag_whole(c->etag, &ours) && !ours.weak
               && theirs.opaque.len == ours.opaque.len
               && memcmp(theirs.opaque.data, ours.opaque.data, ours.opaque.len)
                      == 0;
    }

    return c->last_modified != (time_t) -1
           && wm_http_date_parse(c->if_range->data, c->if_range->len, &t)
                  == WM_OK
           && t == c->last_modified;
}

wm_http_cond_rc_t
wm_http_cond_evaluate(const wm_http_cond_t *c)
{
    const wm_str_t *v;
    time_t t;

    if (c->if_match != NULL) {
        if (!wm_http_etag_match(c->if_match, c->etag, false)) {
            return WM_HTTP_COND_PRECONDITION_FAILED;
        }

    } else if ((v = c->if_unmodified_since) != NULL
               && c->last_modified != (time_t) -1
               && wm_http_date_parse(v->data, v->len, &t) == WM_OK
               && c->last_modified > t)
    {
        return WM_HTTP_COND_PRECONDITION_FAILED;
    }

    if (c->if_none_match != NULL) {
        if (wm_http_etag_match(c->if_none_match, c->etag, true)) {
            return c->get_or_head ? WM_HTTP_COND_NOT_MODIFIED
                                  : WM_HTTP_COND_PRECONDITION_FAILED;
        }

    } else if ((v = c->if_modified_since) != NULL && c->get_or_head
               && c->ims_mode != WM_HTTP_IMS_OFF
               && c->last_modified != (time_t) -1
               && wm_http_date_parse(v->data, v->len, &t) == WM_OK
               && (c->last_modified == t
                   || (c->ims_mode == WM_HTTP_IMS_BEFORE
                       && c->last_modified < t)))
    {
        return WM_HTTP_COND_NOT_MODIFIED;
    }

    if (c->if_range != NULL && !wm_http_if_range(c)) {
        return WM_HTTP_COND_OK_FULL;
    }
    return WM_HTTP_COND_OK;
}
