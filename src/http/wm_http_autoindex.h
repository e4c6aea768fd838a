/*
 * The pure part of autoindex (wm_http_autoindex_module.c): the order of
 * the entries and the text of a listing in each format, as nginx writes
 * them. No files, no sockets, so that a unit test can check every byte.
 */
#ifndef WM_HTTP_AUTOINDEX_H
#define WM_HTTP_AUTOINDEX_H

#include "wm_core.h"

#include <event2/buffer.h>
#include <sys/types.h>
#include <time.h>

typedef enum {
    WM_HTTP_AUTOINDEX_HTML = 0,
    WM_HTTP_AUTOINDEX_JSON,
    WM_HTTP_AUTOINDEX_JSONP,
    WM_HTTP_AUTOINDEX_XML,
} wm_http_autoindex_format_t;

/* One directory entry; name is NUL-terminated. */
typedef struct {
    wm_str_t name;
    off_t size;
    time_t mtime;
    unsigned dir : 1;   /* a directory (or a link to one) */
    unsigned file : 1;  /* a regular file (or a link to one) */
} wm_http_autoindex_entry_t;

/* How entries are written. */
typedef struct {
    wm_http_autoindex_format_t format;
    unsigned exact_size : 1;   /* html: bytes, else K/M/G rounded */
    unsigned localtime : 1;    /* html: local time, else GMT */
} wm_http_autoindex_style_t;

/* nginx's order: directories first, then names by byte value. */
void wm_http_autoindex_sort(wm_http_autoindex_entry_t *entries, size_t n);

/* Appends the start of the listing: for html the page head titled with
 * uri (the decoded request path), for jsonp with a callback (may be
 * empty: plain json). WM_OK or WM_ERROR (out of memory). */
wm_int_t wm_http_autoindex_head(struct evbuffer *out,
                                const wm_http_autoindex_style_t *style,
                                const wm_str_t *uri,
                                const wm_str_t *callback);

/* Appends one entry; `first` for the first entry of the listing (json
 * separators). WM_OK or WM_ERROR. */
wm_int_t wm_http_autoindex_entry(struct evbuffer *out,
                                 const wm_http_autoindex_style_t *style,
                                 const wm_http_autoindex_entry_t *e,
                                 bool first);

/* Appends the end of the listing; `any` when it had entries. */
wm_int_t wm_http_autoindex_tail(struct evbuffer *out,
                                const wm_http_autoindex_style_t *style,
                                const wm_str_t *callback, bool any);

/* Whether a jsonp callback name is acceptable (letters, digits, '_' and
 * '.', at most 128 bytes), as nginx checks it. */
bool wm_http_autoindex_callback_ok(const wm_str_t *name);

#endif /* WM_HTTP_AUTOINDEX_H */
