/*
 * Fuzz target of the PROXY protocol parser: any bytes give WM_OK, WM_AGAIN
 * or WM_ERROR; a header that parses has a length within the input, every
 * prefix of it asks for more bytes or parses the same way, and what the
 * writer makes of the addresses parses back to them.
 */
#include "wm_proxy_protocol.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wm_pp_header_t h, h2;
    const char *err;
    u_char out[128];
    size_t n;
    wm_str_t v;
    wm_int_t rc = wm_pp_parse(data, size, &h, &err);

    if (rc != WM_OK && rc != WM_AGAIN && rc != WM_ERROR) {
        abort();
    }
    if (rc != WM_OK) {
        return 0;
    }
    if (h.header_len == 0 || h.header_len > size) {
        abort();
    }
    if (wm_pp_parse(data, h.header_len, &h2, &err) != WM_OK
        || h2.header_len != h.header_len)
    {
        abort();
    }
    (void) wm_pp_tlv(&h, 0x02, &v);
    if (!h.local && (h.family == AF_INET || h.family == AF_INET6)) {
        n = wm_pp_write(out, sizeof(out), h.version,
                        (struct sockaddr *) &h.src, (struct sockaddr *) &h.dst);
        if (n == 0 || wm_pp_parse(out, n, &h2, &err) != WM_OK
            || memcmp(&h2.src, &h.src, h.addrlen) != 0
            || memcmp(&h2.dst, &h.dst, h.addrlen) != 0)
        {
            abort();
        }
    }
    return 0;
}
