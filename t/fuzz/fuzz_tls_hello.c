/*
 * Fuzz target of the ClientHello reader: any bytes give WM_OK, WM_AGAIN,
 * WM_DECLINED or WM_ERROR with slices inside the scratch buffer, and the
 * answer does not depend on how much was received: a prefix of the input
 * asks for more bytes or gives the same answer (a prefix never turns an
 * error or a refusal into a success, and a success into another result).
 */
#include "wm_tls_hello.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static u_char scratch[16384], scratch2[16384];

static void
same(const wm_tls_hello_t *a, const wm_tls_hello_t *b)
{
    if (a->server_name.len != b->server_name.len
        || memcmp(a->server_name.data, b->server_name.data,
                  a->server_name.len) != 0
        || a->alpn.len != b->alpn.len
        || memcmp(a->alpn.data, b->alpn.data, a->alpn.len) != 0
        || strcmp(a->protocol, b->protocol) != 0)
    {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wm_tls_hello_t h, h2;
    const char *err;
    wm_int_t rc, rc2;
    size_t cut;

    rc = wm_tls_hello_parse(data, size, scratch, sizeof(scratch), &h, &err);
    if (rc == WM_ERROR && err == NULL) {
        abort();
    }
    if (rc == WM_OK) {
        if (h.protocol == NULL
            || (h.server_name.len
                && (h.server_name.data < scratch
                    || h.server_name.data + h.server_name.len
                           > scratch + sizeof(scratch))))
        {
            abort();
        }
    } else if (rc != WM_AGAIN && rc != WM_DECLINED && rc != WM_ERROR) {
        abort();
    }
    for (cut = 0; cut < size; cut += 1 + cut / 3) {
        rc2 = wm_tls_hello_parse(data, cut, scratch2, sizeof(scratch2), &h2,
                                 &err);
        if (rc2 == WM_AGAIN) {
            continue;
        }
        if (rc2 != rc) {
            abort();
        }
        if (rc == WM_OK) {
            same(&h, &h2);
        }
    }
    return 0;
}
