/*
 * Pure helpers for serving content: HTTP dates, byte ranges, conditional
 * requests, content-coding negotiation and the MIME type table. They take
 * bytes and structs and return structs: no sockets, no files, no libevent,
 * so the static handler, the compression filters, unit tests and fuzz
 * targets all call the same code.
 */
#ifndef WM_HTTP_CONTENT_H
#define WM_HTTP_CONTENT_H

#include "wm_core.h"
#include "wm_pool.h"

#include <time.h>

/* True when the n bytes at a equal the n bytes of b ignoring ASCII case;
 * unlike strncasecmp() it does not depend on the locale. */
static inline bool
wm_http_caseeq(const u_char *a, const char *b, size_t n)
{
    size_t i;
    u_char x, y;

    for (i = 0; i < n; i++) {
        x = a[i];
        y = (u_char) b[i];
        x = (x >= 'A' && x <= 'Z') ? (u_char) (x | 0x20) : x;
        y = (y >= 'A' && y <= 'Z') ? (u_char) (y | 0x20) : y;
        if (x != y) {
            return false;
        }
    }
    return true;
}

/* ---- HTTP-date (RFC 9110 5.6.7) ---------------------------------------- */

/* Length of an IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT". */
#define WM_HTTP_DATE_LEN 29

/*
 * Writes t as an IMF-fixdate plus a NUL into buf, which holds at least
 * WM_HTTP_DATE_LEN + 1 bytes. Independent of locale and time zone. Returns
 * WM_HTTP_DATE_LEN, or 0 (buf untouched) when t is outside the years
 * 0000..9999, which the format cannot express.
 */
size_t wm_http_date_format(u_char *buf, time_t t);

/*
 * Parses an HTTP-date in any of its three forms: IMF-fixdate, the obsolete
 * RFC 850 form ("Sunday, 06-Nov-94 08:49:37 GMT", two-digit years 00-69
 * meaning 20xx and 70-99 meaning 19xx, as nginx does) and asctime ("Sun Nov
 *  6 08:49:37 1994"). Leading and trailing spaces and tabs are allowed;
 * names are case-sensitive as in the RFC grammar; the day name must be a
 * real one but is not checked against the date (senders get it wrong and
 * nginx ignores it too). Second 60 (a leap second) is accepted and lands on
 * the next minute. Returns WM_OK and stores the time in *t, or WM_ERROR for
 * anything else, including impossible dates like 29 Feb 1900.
 */
wm_int_t wm_http_date_parse(const u_char *p, size_t len, time_t *t);

/* ---- Range (RFC 9110 14) ----------------------------------------------- */

/* One satisfiable range: bytes start .. end - 1 of the representation. */
typedef struct {
    off_t start;
    off_t end;
} wm_http_range_t;

typedef enum {
    /* Ignore the Range header and send the whole representation (200). */
    WM_HTTP_RANGE_IGNORE = 0,
    /* Send 206 with nranges ranges (1: single part, more: multipart). */
    WM_HTTP_RANGE_PARTIAL,
    /* Send 416 with "Content-Range: bytes *" "/SIZE" (written as one). */
    WM_HTTP_RANGE_UNSATISFIABLE,
    /* Out of memory in the pool. */
    WM_HTTP_RANGE_ERROR
} wm_http_range_rc_t;

typedef struct {
    wm_http_range_t *ranges; /* in the pool; in the order of the header */
    size_t nranges;
    off_t total; /* sum of the lengths of the ranges */
} wm_http_ranges_t;

/*
 * Evaluates the value of a Range header against a representation of `size`
 * bytes, following nginx's range filter:
 *
 *  - max_ranges 0 disables ranges: IGNORE.
 *  - a value that is not "bytes=" (case-insensitive) followed by a valid
 *    range-set is ignored: IGNORE. Spaces and tabs are allowed around ','
 *    and '-'; empty list elements are skipped (RFC 9110 5.6.1). A range
 *    "first-last" with last < first makes the whole set invalid (RFC 9110
 *    14.1.1): IGNORE. (nginx answers 416 to syntax errors; we ignore them.)
 *  - numbers too big for off_t saturate instead of failing (nginx: 416):
 *    "0-99999999999999999999" is the whole file.
 *  - last-pos past the end is clamped; "-N" is the last N bytes (the whole
 *    file when N >= size); "-0" and a first-pos >= size are unsatisfiable
 *    and dropped.
 *  - ranges are neither merged nor reordered (nginx does not either); but
 *    when there are more satisfiable ranges than max_ranges, or their
 *    lengths add up to more than size (overlaps), the header is ignored:
 *    IGNORE, so a client cannot make us send a file many times over.
 *  - an empty representation (size 0): a range starting at 0 (also "-N")
 *    gives IGNORE, as in nginx, since no 206 can describe it.
 *  - no satisfiable range left: UNSATISFIABLE.
 *
 * On PARTIAL, *out holds the ranges, allocated from pool. Otherwise *out is
 * zeroed. The value need not be NUL-terminated.
 */
wm_http_range_rc_t wm_http_range_parse(wm_pool_t *pool, const wm_str_t *value,
                                       off_t size, size_t max_ranges,
                                       wm_http_ranges_t *out);

/*
 * snprintf-style writers: each writes at most `size` bytes including a NUL
 * into buf (buf may be NULL when size is 0) and returns the length of the
 * full text, so a caller can size a buffer with a first call.
 */

/* "bytes 0-99/1000" for a 206 or, when range is NULL, the 416 form: "bytes "
 * then a star, a slash and the total, with no space. */
size_t wm_http_range_content_range(u_char *buf, size_t size,
                                   const wm_http_range_t *range, off_t total);

/*
 * The header that precedes one part of a multipart/byteranges body, as
 * nginx writes it (the caller picks the boundary, 1 to 70 characters that
 * cannot occur in the data, and sends it in the Content-Type):
 *   CRLF "--" boundary CRLF
 *   "Content-Type: " type CRLF          (omitted when type->len is 0)
 *   "Content-Range: bytes S-E/TOTAL" CRLF CRLF
 * The part's bytes follow it directly.
 */
size_t wm_http_range_part_header(u_char *buf, size_t size,
                                 const wm_str_t *boundary, const wm_str_t *type,
                                 const wm_http_range_t *range, off_t total);

/* The closing delimiter: CRLF "--" boundary "--" CRLF. */
size_t wm_http_range_trailer(u_char *buf, size_t size,
                             const wm_str_t *boundary);

/*
 * The Content-Length of the whole multipart/byteranges body made of the
 * part headers above, the ranges' bytes and the trailer, so the response
 * can be sent with a Content-Length, as nginx does. -1 on overflow.
 */
off_t wm_http_range_multipart_length(const wm_http_ranges_t *ranges,
                                     const wm_str_t *boundary,
                                     const wm_str_t *type, off_t total);

/* ---- Conditional requests (RFC 9110 13) -------------------------------- */

/* nginx's if_modified_since directive. */
typedef enum {
    WM_HTTP_IMS_OFF = 0, /* ignore If-Modified-Since */
    WM_HTTP_IMS_EXACT,   /* 304 only when the dates are equal (default) */
    WM_HTTP_IMS_BEFORE   /* 304 when modified at or before the date */
} wm_http_ims_mode_t;

/*
 * What the conditional headers of a request are checked against. A header
 * pointer is NULL when the request lacks the header; when a header came
 * more than once the caller passes the first, as nginx does. The resource
 * is assumed to exist (it has a current representation), which is the only
 * case in which the static handler asks.
 */
typedef struct {
    const wm_str_t *if_match;
    const wm_str_t *if_unmodified_since;
    const wm_str_t *if_none_match;
    const wm_str_t *if_modified_since;
    const wm_str_t *if_range;
    /* The ETag we send, as sent: "\"5f1e-1a\"" or "W/\"5f1e-1a\""; NULL
     * when the response has none. */
    const wm_str_t *etag;
    /* The Last-Modified we send; -1 when the response has none. */
    time_t last_modified;
    wm_http_ims_mode_t ims_mode;
    /* The method is GET or HEAD: If-None-Match then gives 304, not 412,
     * and If-Modified-Since applies at all. */
    bool get_or_head;
} wm_http_cond_t;

typedef enum {
    WM_HTTP_COND_OK = 0,       /* proceed: 200, or 206 if a Range applies */
    WM_HTTP_COND_OK_FULL,      /* proceed, but If-Range failed: ignore Range */
    WM_HTTP_COND_NOT_MODIFIED, /* 304 */
    WM_HTTP_COND_PRECONDITION_FAILED /* 412 */
} wm_http_cond_rc_t;

/*
 * Evaluates the preconditions in the order of RFC 9110 13.2.2:
 *  1. If-Match: strong comparison, "*" matches; no match: 412.
 *  2. If-Unmodified-Since, only without If-Match, only with a valid date
 *     and a known Last-Modified: modified after the date: 412.
 *  3. If-None-Match: weak comparison, "*" matches; a match: 304 for GET
 *     and HEAD, 412 otherwise.
 *  4. If-Modified-Since, only without If-None-Match, only for GET/HEAD,
 *     with a valid date and a known Last-Modified, by ims_mode: 304.
 *  5. If-Range: an entity-tag must match strongly (a weak one never
 *     does); a date must equal Last-Modified exactly; otherwise OK_FULL.
 *     The caller ignores the answer when there is no Range header.
 * Where nginx differs (it checks If-Unmodified-Since even with If-Match,
 * fails it on a bad date, needs both If-None-Match and If-Modified-Since
 * to pass, compares W/ tags byte for byte) we follow the RFC.
 */
wm_http_cond_rc_t wm_http_cond_evaluate(const wm_http_cond_t *c);

/*
 * True when the entity-tag list `list` (an If-Match / If-None-Match value:
 * "*" or a comma-separated list of entity-tags with optional whitespace)
 * contains `etag`. weak selects the weak comparison (W/ ignored on both
 * sides); the strong one needs both tags strong and equal. A malformed
 * element matches nothing and the next element is still tried.
 */
bool wm_http_etag_match(const wm_str_t *list, const wm_str_t *etag, bool weak);

/* Longest entity-tag wm_http_etag_format() writes, without the NUL. */
#define WM_HTTP_ETAG_LEN (2 + 2 + 16 + 1 + 16)

/*
 * Writes nginx's ETag for a file, "\"%x-%x\"" of mtime and size in
 * lowercase hex (W/ in front when weak, as the compression filters make
 * it), plus a NUL, into buf of at least WM_HTTP_ETAG_LEN + 1 bytes.
 * Returns its length.
 */
size_t wm_http_etag_format(u_char *buf, time_t mtime, off_t size, bool weak);

/* ---- Content-coding negotiation (RFC 9110 12.5.3) ---------------------- */

/* Codings the server may apply; bits of a mask. */
typedef enum {
    WM_HTTP_CODING_IDENTITY = 0,
    WM_HTTP_CODING_GZIP = 1,
    WM_HTTP_CODING_ZSTD = 2,
    WM_HTTP_CODING_BR = 4
} wm_http_coding_t;

/*
 * Picks the content coding for a response from the Accept-Encoding field
 * values (n of them, in order, as they came in several header lines or
 * one; n 0 means no header: identity, as nginx does, although the RFC
 * would allow any coding) and the mask of codings the server may use.
 *
 * Elements are "coding [;q=value]", case-insensitive, with spaces and
 * tabs allowed around ',', ';' and '='. q is 0, 1 or up to 3 decimals,
 * at most 1. A malformed element (bad q, bad token) counts as the coding
 * it names with q=0: refused. q=0 refuses. "*" gives its q to every coding
 * not listed. "x-gzip" is gzip. When a coding is listed twice the first
 * entry counts. Other parameters are ignored.
 *
 * The allowed coding with the highest q > 0 wins; on a tie br, then zstd,
 * then gzip. identity competes only when it is listed explicitly (and
 * loses ties); otherwise it is the answer when nothing else is acceptable.
 * *identity_refused is set when identity is not acceptable ("identity;q=0",
 * or "*;q=0" without an identity entry); it matters when the answer is
 * identity: the caller may answer 406, or serve identity anyway as nginx.
 */
wm_http_coding_t wm_http_negotiate_encoding(const wm_str_t *values, size_t n,
                                            unsigned allowed,
                                            bool *identity_refused);

/* The Content-Encoding token of a coding ("gzip", "zstd", "br"), NULL for
 * identity. A static string. */
const char *wm_http_coding_name(wm_http_coding_t coding);

/*
 * True when a Content-Type value is in a gzip_types-style list: its
 * parameters ("; charset=utf-8") and surrounding whitespace are stripped,
 * then it is compared case-insensitively with each entry. An entry "*"
 * matches every type, even an empty one (as nginx); no other wildcard.
 */
bool wm_http_type_match(const wm_str_t *content_type, const wm_str_t *types,
                        size_t ntypes);

/* ---- MIME types -------------------------------------------------------- */

typedef struct {
    wm_str_t ext;  /* points into the caller's bytes */
    wm_str_t type; /* points into the caller's bytes */
} wm_http_mime_entry_t;

/* A table from extension to type, sorted by extension (case-insensitive).
 * Its memory is in one pool; the strings it holds are the caller's and
 * must live as long as the table (config strings live in the cycle). */
typedef struct {
    wm_http_mime_entry_t *entries;
    size_t nentries;
    size_t nalloc;
    wm_pool_t *pool;
} wm_http_mime_t;

/* Prepares an empty table whose memory comes from pool. */
void wm_http_mime_init(wm_http_mime_t *m, wm_pool_t *pool);

/*
 * Adds one line of a types {} block: `type` for each of the n extensions.
 * Extensions compare case-insensitively. An extension already present is
 * given the new type and the call returns WM_DECLINED after doing all of
 * them, so the caller can warn "duplicate extension" as nginx does; *dup,
 * when not NULL, is then set to the (first) duplicate. WM_ERROR when out of
 * memory or an extension is empty; WM_OK otherwise.
 */
wm_int_t wm_http_mime_add(wm_http_mime_t *m, const wm_str_t *type,
                          const wm_str_t *exts, size_t n, const wm_str_t **dup);

/*
 * The type for a path (a URI path or a file name): its extension is what
 * follows the last dot of the final path segment, not counting a dot that
 * starts the segment (".htaccess" has none, as in nginx). NULL when there
 * is no extension or it is not in the table: the caller uses default_type.
 */
const wm_str_t *wm_http_mime_lookup(const wm_http_mime_t *m, const u_char *path,
                                    size_t len);

#endif /* WM_HTTP_CONTENT_H */
