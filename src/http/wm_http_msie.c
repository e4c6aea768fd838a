/*
 * msie_padding and msie_refresh, as nginx does them. nginx tells two
 * browsers from the User-Agent: MSIE ("MSIE " with at least three more
 * bytes after it, and no "Opera") and, when not that, Chrome ("Chrome/"
 * without "Gecko/"). Their built-in error pages of status 400 and up get
 * a padding of comments (msie_padding, on by default), which keeps those
 * browsers from showing a "friendly" page of their own instead of a short
 * one; MSIE clients get a 301 or 302 as a 200 page that refreshes to the
 * location (msie_refresh, off by default), its URL escaped.
 */
#include "wm_http.h"

#include <string.h>

/* Six lines of a comment that the browser does not show. */
#define WM_HTTP_PAD_LINE                                                       \
    "<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n"

static const char wm_http_padding[] =
    WM_HTTP_PAD_LINE WM_HTTP_PAD_LINE WM_HTTP_PAD_LINE WM_HTTP_PAD_LINE
        WM_HTTP_PAD_LINE WM_HTTP_PAD_LINE;

static const char wm_http_refresh_head[] =
    "<html><head><meta http-equiv=\"Refresh\" content=\"0; URL=";
static const char wm_http_refresh_tail[] =
    "\"></head><body></body></html>\r\n";

unsigned
wm_http_browser_of(const u_char *ua, size_t len)
{
    const u_char *msie = memmem(ua, len, "MSIE ", 5);

    if (memmem(ua, len, "Opera", 5)) {
        return 0;
    }
    if (msie && (size_t) (ua + len - msie) > 7) {
        return WM_HTTP_MSIE;
    }
    if (!memmem(ua, len, "Gecko/", 6) && memmem(ua, len, "Chrome/", 7)) {
        return WM_HTTP_CHROME;
    }
    return 0;
}

static unsigned
wm_http_browser(wm_http_request_t *r)
{
    wm_http_header_t *h = wm_http_header_find(&r->head, "User-Agent");

    return h ? wm_http_browser_of(h->value.data, h->value.len) : 0;
}

const char *
wm_http_msie_padding(wm_http_request_t *r, int status)
{
    return status >= 400 && r->loc->msie_padding && wm_http_browser(r)
               ? wm_http_padding
               : "";
}

bool
wm_http_msie_refresh(wm_http_request_t *r, int status)
{
    return (status == 301 || status == 302) && r->loc->msie_refresh
           && wm_http_browser(r) == WM_HTTP_MSIE;
}

size_t
wm_http_refresh_escape(u_char *dst, const u_char *src, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        u_char c = src[i];

        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '<'
            || c == '>')
        {
            if (dst) {
                dst[n] = '%';
                dst[n + 1] = (u_char) hex[c >> 4];
                dst[n + 2] = (u_char) hex[c & 0x0f];
            }
            n += 3;
        } else {
            if (dst) {
                dst[n] = c;
            }
            n++;
        }
    }
    return n;
}

void
wm_http_send_refresh(wm_http_request_t *r)
{
    size_t hl = sizeof(wm_http_refresh_head) - 1;
    size_t tl = sizeof(wm_http_refresh_tail) - 1;
    size_t ul = wm_http_refresh_escape(NULL, r->location.data, r->location.len);
    wm_str_t type = wm_string("text/html"), body;

    body.data = wm_palloc(r->pool, hl + ul + tl);
    if (body.data == NULL) {
        r->c->error = 1;
        return;
    }
    memcpy(body.data, wm_http_refresh_head, hl);
    wm_http_refresh_escape(body.data + hl, r->location.data, r->location.len);
    memcpy(body.data + hl + ul, wm_http_refresh_tail, tl);
    body.len = hl + ul + tl;
    r->location.len = 0; /* no Location header: the page says where */
    r->content_type = type;
    r->content_length = (int64_t) body.len;
    r->etag.len = 0;
    r->last_modified = -1;
    r->allow_ranges = 0;
    wm_http_send_text(r, 200, &type, &body);
}
