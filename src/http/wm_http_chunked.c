/*
 * The chunked transfer-coding decoder (RFC 9112 7.1) for request bodies
 * and, later, upstream responses. It keeps all its state in
 * wm_http_chunked_t and never looks back at earlier bytes, so a body can be
 * fed in whatever pieces arrive, straight from evbuffer_peek() vectors.
 */
#include "wm_http_parse.h"

#define CR '\r'
#define LF '\n'

enum {
    C_SIZE_START = 0,
    C_SIZE,
    C_SIZE_WS,
    C_EXT,
    C_SIZE_CR,
    C_DATA,
    C_DATA_END,
    C_DATA_CR,
    C_TRAILER_START,
    C_TRAILER,
    C_TRAILER_CR,
    C_END_CR,
    C_DONE,
    C_ERROR
};

static int
wm_http_chunk_hex(u_char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    return -1;
}

void
wm_http_chunked_init(wm_http_chunked_t *c)
{
    memset(c, 0, sizeof(*c));
    c->state = C_SIZE_START;
    c->max_line = 4096;
    c->max_trailer = 8192;
}

static wm_int_t
wm_http_chunked_fail(wm_http_chunked_t *c, const char *error)
{
    c->state = C_ERROR;
    c->error = error;
    return WM_ERROR;
}

wm_int_t
wm_http_chunked_parse(wm_http_chunked_t *c, u_char *buf, size_t len,
                      size_t *used, wm_str_t *data)
{
    size_t i = 0, n;
    int d;
    u_char ch;

    *used = 0;
    if (c->state == C_DONE) {
        return WM_DONE;
    }
    if (c->state == C_ERROR) {
        return WM_ERROR;
    }

    while (i < len) {
        if (c->state == C_DATA) {
            n = (size_t) wm_min((uint64_t) (len - i), c->size);
            data->data = buf + i;
            data->len = n;
            c->size -= n;
            c->total += n;
            if (c->size == 0) {
                c->state = C_DATA_END;
            }
            *used = i + n;
            return WM_OK;
        }

        ch = buf[i++];

        /* Every size line byte but its CRLF counts toward max_line. */
        if ((c->state == C_SIZE_START || c->state == C_SIZE
             || c->state == C_SIZE_WS || c->state == C_EXT)
            && ch != CR && ch != LF && ++c->line_len > c->max_line)
        {
            *used = i;
            return wm_http_chunked_fail(c, "client sent too long chunk "
                                           "size line");
        }
        if ((c->state == C_TRAILER_START || c->state == C_TRAILER)
            && ch != CR && ch != LF && ++c->trailer_len > c->max_trailer)
        {
            *used = i;
            return wm_http_chunked_fail(c, "client sent too large trailer");
        }

        switch (c->state) {

        case C_SIZE_START:
            if ((d = wm_http_chunk_hex(ch)) < 0) {
                *used = i;
                return wm_http_chunked_fail(c, "client sent invalid chunk "
                                               "size");
            }
            c->size = (uint64_t) d;
            c->state = C_SIZE;
            break;

        case C_SIZE:
            if ((d = wm_http_chunk_hex(ch)) >= 0) {
                if (c->size > ((uint64_t) INT64_MAX >> 4)) {
                    *used = i;
                    return wm_http_chunked_fail(c, "client sent too large "
                                                   "chunk size");
                }
                c->size = c->size * 16 + (uint64_t) d;
                break;
            }
            /* fall through */

        case C_SIZE_WS:
            if (ch == ' ' || ch == '\t') {
                c->state = C_SIZE_WS;
            } else if (ch == ';') {
                c->state = C_EXT;
            } else if (ch == CR && c->state == C_SIZE) {
                c->state = C_SIZE_CR;
            } else if (ch == LF && c->state == C_SIZE) {
                goto size_done;
            } else {
                *used = i;
                return wm_http_chunked_fail(c, "client sent invalid chunk "
                                               "size");
            }
            break;

        case C_EXT:
            if (ch == CR) {
                c->state = C_SIZE_CR;
            } else if (ch == LF) {
                goto size_done;
            } else if (ch != '\t' && (ch < 0x20 || ch == 0x7f)) {
                *used = i;
                return wm_http_chunked_fail(c, "client sent invalid chunk "
                                               "extension");
            }
            break;

        case C_SIZE_CR:
            if (ch != LF) {
                *used = i;
                return wm_http_chunked_fail(c, "client sent bare CR");
            }
        size_done:
            c->line_len = 0;
            c->state = (c->size == 0) ? C_TRAILER_START : C_DATA;
            break;

        case C_DATA_END:
            if (ch == CR) {
                c->state = C_DATA_CR;
            } else if (ch == LF) {
                c->state = C_SIZE_START;
            } else {
                *used = i;
                return wm_http_chunked_fail(c, "client sent chunk data "
                                               "without CRLF");
            }
            break;

        case C_DATA_CR:
            if (ch != LF) {
                *used = i;
                return wm_http_chunked_fail(c, "client sent bare CR");
            }
            c->state = C_SIZE_START;
            break;

        case C_TRAILER_START:
            if (ch == CR) {
                c->state = C_END_CR;
                break;
            }
            if (ch == LF) {
                c->state = C_DONE;
                *used = i;
                return WM_DONE;
            }
            if (ch == ' ' || ch == '\t') {
                *used = i;
                return wm_http_chunked_fail(c, "client sent obsolete line "
                                               "folding in trailer");
            }
            c->state = C_TRAILER;
            /* fall through */

        case C_TRAILER:
            if (ch == CR) {
                c->state = C_TRAILER_CR;
            } else if (ch == LF) {
                c->state = C_TRAILER_START;
            } else if (ch != '\t' && (ch < 0x20 || ch == 0x7f)) {
                *used = i;
                return wm_http_chunked_fail(c, "client sent invalid "
                                               "trailer");
            }
            break;

        case C_TRAILER_CR:
            if (ch != LF) {
                *used = i;
                return wm_http_chunked_fail(c, "client sent bare CR");
            }
            c->state = C_TRAILER_START;
            break;

        case C_END_CR:
            if (ch != LF) {
                *used = i;
                return wm_http_chunked_fail(c, "client sent bare CR");
            }
            c->state = C_DONE;
            *used = i;
            return WM_DONE;

        default:
            *used = i;
            return wm_http_chunked_fail(c, "chunked decoder in a bad state");
        }
    }

    *used = len;
    return WM_AGAIN;
}
