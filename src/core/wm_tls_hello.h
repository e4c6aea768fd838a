/*
 * A reader of the TLS ClientHello, for routing a TLS connection by its SNI
 * and ALPN without terminating it (stream `ssl_preread`). A pure function
 * of the bytes a client sent first: no sockets, no allocation; the
 * handshake message, which may be split across several TLS records, is
 * gathered into the caller's scratch buffer and the results point there.
 */
#ifndef WM_TLS_HELLO_H
#define WM_TLS_HELLO_H

#include "wm_core.h"

typedef struct {
    wm_str_t server_name; /* the host_name of server_name; empty (not
                             NULL) if none */
    wm_str_t alpn;        /* the ALPN protocol names, in order, as
                             "h2,http/1.1" written into alpn_buf */
    const char *protocol; /* "TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1",
                             "SSLv3": supported_versions' highest known
                             version, else the legacy version */
    size_t consumed;      /* bytes of records read (all of the hello) */
    u_char alpn_buf[512];
} wm_tls_hello_t;

/*
 * Parses the ClientHello at the start of buf (len bytes received so far).
 * scratch (scratch_len bytes, 16 KiB is enough for any real hello) holds
 * the gathered handshake message; h's slices point into it. Returns:
 *   WM_OK        h is filled;
 *   WM_AGAIN     the hello is not complete yet: call again with more bytes
 *                (buf must start at the same first byte);
 *   WM_DECLINED  the bytes are not a TLS handshake (the first byte is not
 *                22, or the record version is not 3.x);
 *   WM_ERROR     a malformed hello, or one longer than scratch_len; *err
 *                says what.
 * The result does not depend on how the bytes were split between calls.
 */
wm_int_t wm_tls_hello_parse(const u_char *buf, size_t len, u_char *scratch,
                            size_t scratch_len, wm_tls_hello_t *h,
                            const char **err);

#endif /* WM_TLS_HELLO_H */
