/*
 * Fuzz target of what auth_basic reads from a client: the credentials of
 * an Authorization header (wm_http_basic_credentials()) and the password
 * checked against each stored form auth_basic_user_file may hold. The
 * credentials encode back to a header that gives them again, and a
 * password is accepted exactly when it is the one hashed, byte for byte.
 *
 * Input: the value of the Authorization header.
 */
#include "wm_http.h"

#include "wm_http_htpasswd.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "secret" in every form; the user names are what the fuzzer sends. */
static const char fz_htpasswd[] =
    "# users for the fuzz target\n"
    "plain:{PLAIN}secret\n"
    "sha:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n"
    "ssha:{SSHA}dj2lH1ocucmj5OQsjP6mQrVx6FhOYUNs:a comment\r\n"
    "apr1:$apr1$saltsalt$LrttParrLPdxvgutaSXWJ0\n"
    "md5:$1$saltsalt$9xy1btjgzLYfb7hivXtC//\n"
    "sha256:$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA\n"
    "sha512:$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0"
    "S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1\n";

static wm_int_t
fz_credentials(wm_pool_t *pool, const u_char *value, size_t len, wm_str_t *user,
               wm_str_t *pass)
{
    wm_http_request_t *r = wm_pcalloc(pool, sizeof(*r));
    wm_http_header_t *h = wm_pcalloc(pool, sizeof(*h));

    if (r == NULL || h == NULL) {
        abort();
    }
    h->name.data = (u_char *) "authorization";
    h->name.len = sizeof("authorization") - 1;
    h->value.data = (u_char *) value;
    h->value.len = len;
    r->pool = pool;
    r->head.headers = h;
    r->head.nheaders = 1;
    return wm_http_basic_credentials(r, pool, user, pass);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const wm_str_t secret = wm_string("secret");
    wm_str_t user, pass, user2, pass2, hash;
    u_char *joined, *hdr;
    const char *why;
    wm_pool_t *pool;
    size_t n;
    wm_int_t rc;
    int ok;

    pool = wm_pool_new(0);
    if (pool == NULL) {
        abort();
    }
    rc = fz_credentials(pool, data, size, &user, &pass);
    if (rc == WM_DECLINED) {
        wm_pool_free(pool);
        return 0;
    }
    if (rc != WM_OK || memchr(user.data, ':', user.len) != NULL
        || user.data + user.len + 1 != pass.data || pass.data[pass.len] != '\0'
        || (user.len + 1 + pass.len) / 3 * 4 > size)
    {
        abort();
    }

    /* user:pass encodes to a header that gives them back. */
    n = user.len + 1 + pass.len;
    joined = wm_palloc(pool, n);
    hdr = wm_palloc(pool, 6 + (n + 2) / 3 * 4 + 1);
    if (joined == NULL || hdr == NULL) {
        abort();
    }
    memcpy(joined, user.data, n);
    memcpy(hdr, "Basic ", 6);
    n = (size_t) EVP_EncodeBlock(hdr + 6, joined, (int) n);
    if (fz_credentials(pool, hdr, 6 + n, &user2, &pass2) != WM_OK
        || user2.len != user.len || pass2.len != pass.len
        || memcmp(user2.data, user.data, user.len) != 0
        || memcmp(pass2.data, pass.data, pass.len) != 0)
    {
        abort();
    }

    /* A known user's password passes exactly when it is "secret". */
    if (wm_htpasswd_find((const u_char *) fz_htpasswd, sizeof(fz_htpasswd) - 1,
                         &user, &hash))
    {
        if (hash.len == 0 || memchr(hash.data, '\n', hash.len) != NULL
            || memchr(hash.data, ':', hash.len) != NULL
            || hash.data[hash.len - 1] == '\r')
        {
            abort();
        }
        ok = wm_htpasswd_check(pass.data, pass.len, &hash, &why);
        if (ok
            != (pass.len == secret.len
                && memcmp(pass.data, secret.data, secret.len) == 0))
        {
            abort();
        }
    }

    wm_pool_free(pool);
    return 0;
}
