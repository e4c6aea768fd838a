/*
 * htpasswd files for auth_basic: the line of a user, and the password
 * forms nginx accepts: crypt(3) ($1$, $5$, $6$, $y$... whatever the
 * system's libxcrypt knows), Apache's $apr1$ (MD5 iterated 1000 times,
 * written here from its public description), {PLAIN}, {SHA} (base64 of
 * SHA-1) and {SSHA} (base64 of SHA-1(password salt) followed by salt).
 */
#include "wm_http_htpasswd.h"

#include "config.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#ifdef WM_HAVE_LIBXCRYPT
#include <crypt.h>
#endif
#include <stdlib.h>

bool
wm_htpasswd_find(const u_char *text, size_t len, const wm_str_t *user,
                 wm_str_t *hash)
{
    const u_char *p = text, *end = text + len;

    while (p < end) {
        const u_char *eol = memchr(p, '\n', (size_t) (end - p));
        size_t n = eol ? (size_t) (eol - p) : (size_t) (end - p);
        const u_char *colon, *h, *he;

        if (n && p[n - 1] == '\r') {
            n--;
        }
        colon = memchr(p, ':', n);
        if (*p != '#' && colon && (size_t) (colon - p) == user->len
            && memcmp(p, user->data, user->len) == 0)
        {
            h = colon + 1;
            he = memchr(h, ':', n - (size_t) (h - p));
            hash->data = (u_char *) h;
            hash->len = (size_t) ((he ? he : p + n) - h);
            return true;
        }
        p = eol ? eol + 1 : end;
    }
    return false;
}

static bool
wm_htpasswd_md5(EVP_MD_CTX *ctx, const u_char *const *parts,
                const size_t *lens, size_t n, u_char out[16])
{
    size_t i;

    if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1) {
        return false;
    }
    for (i = 0; i < n; i++) {
        if (lens[i] && EVP_DigestUpdate(ctx, parts[i], lens[i]) != 1) {
            return false;
        }
    }
    return EVP_DigestFinal_ex(ctx, out, NULL) == 1;
}

/* Appends n characters of the crypt base-64 alphabet for v, low bits
 * first. */
static char *
wm_htpasswd_to64(char *p, unsigned long v, int n)
{
    static const char a[] =
        "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    while (n-- > 0) {
        *p++ = a[v & 0x3f];
        v >>= 6;
    }
    return p;
}

bool
wm_htpasswd_apr1(const u_char *pw, size_t pwlen, const wm_str_t *setting,
                 char *out, size_t outlen)
{
    static const u_char magic[] = "$apr1$";
    const u_char *salt, *se;
    size_t slen, i;
    u_char fin[16];
    EVP_MD_CTX *ctx, *c1;
    bool ok = false;
    char *p;

    if (setting->len < 6 || memcmp(setting->data, magic, 6) != 0
        || outlen < 40)
    {
        return false;
    }
    salt = setting->data + 6;
    se = memchr(salt, '$', setting->len - 6);
    slen = wm_min((size_t) ((se ? se : setting->data + setting->len) - salt),
                  (size_t) 8);
    ctx = EVP_MD_CTX_new();
    c1 = EVP_MD_CTX_new();
    if (ctx == NULL || c1 == NULL) {
        goto done;
    }
    {
        /* The alternate sum: pw salt pw. */
        const u_char *parts[] = {pw, salt, pw};
        const size_t lens[] = {pwlen, slen, pwlen};

        if (!wm_htpasswd_md5(c1, parts, lens, 3, fin)) {
            goto done;
        }
    }
    if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1
        || EVP_DigestUpdate(ctx, pw, pwlen) != 1
        || EVP_DigestUpdate(ctx, magic, 6) != 1
        || EVP_DigestUpdate(ctx, salt, slen) != 1)
    {
        goto done;
    }
    for (i = pwlen; i > 0; i -= wm_min(i, (size_t) 16)) {
        if (EVP_DigestUpdate(ctx, fin, wm_min(i, (size_t) 16)) != 1) {
            goto done;
        }
    }
    for (i = pwlen; i; i >>= 1) {
        static const u_char zero = 0;

        if (EVP_DigestUpdate(ctx, (i & 1) ? &zero : pw, 1) != 1) {
            goto done;
        }
    }
    if (EVP_DigestFinal_ex(ctx, fin, NULL) != 1) {
        goto done;
    }
    /* 1000 rounds to slow down guessing. */
    for (i = 0; i < 1000; i++) {
        const u_char *parts[4];
        size_t lens[4], n = 0;

        parts[n] = (i & 1) ? pw : fin;
        lens[n++] = (i & 1) ? pwlen : 16;
        if (i % 3) {
            parts[n] = salt;
            lens[n++] = slen;
        }
        if (i % 7) {
            parts[n] = pw;
            lens[n++] = pwlen;
        }
        parts[n] = (i & 1) ? fin : pw;
        lens[n++] = (i & 1) ? 16 : pwlen;
        if (!wm_htpasswd_md5(c1, parts, lens, n, fin)) {
            goto done;
        }
    }
    memcpy(out, magic, 6);
    memcpy(out + 6, salt, slen);
    p = out + 6 + slen;
    *p++ = '$';
    p = wm_htpasswd_to64(p, (unsigned long) fin[0] << 16
                                | (unsigned long) fin[6] << 8 | fin[12], 4);
    p = wm_htpasswd_to64(p, (unsigned long) fin[1] << 16
                                | (unsigned long) fin[7] << 8 | fin[13], 4);
    p = wm_htpasswd_to64(p, (unsigned long) fin[2] << 16
                                | (unsigned long) fin[8] << 8 | fin[14], 4);
    p = wm_htpasswd_to64(p, (unsigned long) fin[3] << 16
                                | (unsigned long) fin[9] << 8 | fin[15], 4);
    p = wm_htpasswd_to64(p, (unsigned long) fin[4] << 16
                                | (unsigned long) fin[10] << 8 | fin[5], 4);
    p = wm_htpasswd_to64(p, fin[11], 2);
    *p = '\0';
    ok = true;
done:
    EVP_MD_CTX_free(ctx);
    EVP_MD_CTX_free(c1);
    return ok;
}

/* {SHA} and {SSHA}: base64 of SHA-1(pw salt) followed by the salt. */
static int
wm_htpasswd_sha(const u_char *pw, size_t pwlen, const wm_str_t *b64,
                bool salted)
{
    u_char raw[256], digest[20];
    int n;
    size_t pad;

    if (b64->len == 0 || b64->len % 4 || b64->len / 4 * 3 > sizeof(raw)) {
        return 0;
    }
    n = EVP_DecodeBlock(raw, b64->data, (int) b64->len);
    pad = (b64->data[b64->len - 1] == '=') + (b64->data[b64->len - 2] == '=');
    if (n < 0 || (size_t) n < pad + 20 || (!salted && (size_t) n - pad != 20))
    {
        return 0;
    }
    n -= (int) pad;
    {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1
                 && EVP_DigestUpdate(ctx, pw, pwlen) == 1
                 && EVP_DigestUpdate(ctx, raw + 20, (size_t) n - 20) == 1
                 && EVP_DigestFinal_ex(ctx, digest, NULL) == 1;

        EVP_MD_CTX_free(ctx);
        if (!ok) {
            return -1;
        }
    }
    return CRYPTO_memcmp(digest, raw, 20) == 0;
}

int
wm_htpasswd_check(const u_char *pw, size_t pwlen, const wm_str_t *hash,
                  const char **why)
{
    char buf[64];

    *why = NULL;
    if (hash->len >= 7 && memcmp(hash->data, "{PLAIN}", 7) == 0) {
        return hash->len - 7 == pwlen
               && CRYPTO_memcmp(hash->data + 7, pw, pwlen) == 0;
    }
    if (hash->len >= 5 && memcmp(hash->data, "{SHA}", 5) == 0) {
        wm_str_t b = {hash->len - 5, hash->data + 5};

        return wm_htpasswd_sha(pw, pwlen, &b, false);
    }
    if (hash->len >= 6 && memcmp(hash->data, "{SSHA}", 6) == 0) {
        wm_str_t b = {hash->len - 6, hash->data + 6};

        return wm_htpasswd_sha(pw, pwlen, &b, true);
    }
    if (hash->len >= 6 && memcmp(hash->data, "$apr1$", 6) == 0) {
        if (!wm_htpasswd_apr1(pw, pwlen, hash, buf, sizeof(buf))) {
            *why = "apr1 hashing failed";
            return -1;
        }
        return strlen(buf) == hash->len
               && CRYPTO_memcmp(buf, hash->data, hash->len) == 0;
    }
    if (hash->len && hash->data[0] == '{') {
        *why = "unknown password scheme";
        return -1;
    }
#ifdef WM_HAVE_LIBXCRYPT
    {
        struct crypt_data *cd;
        char setting[CRYPT_OUTPUT_SIZE];
        const char *h;
        int rc;

        /* crypt() reads pw up to a NUL: with one inside, pw is not the
         * password that was hashed, whatever its prefix is. */
        if (memchr(pw, '\0', pwlen) != NULL) {
            return 0;
        }
        /* Nor is one longer than crypt() takes (it fails on it). */
        if (pwlen >= CRYPT_MAX_PASSPHRASE_SIZE) {
            return 0;
        }
        cd = calloc(1, sizeof(*cd));
        if (cd == NULL || hash->len >= sizeof(setting)) {
            free(cd);
            *why = cd ? "password hash too long" : "out of memory";
            return -1;
        }
        memcpy(setting, hash->data, hash->len);
        setting[hash->len] = '\0';
        h = crypt_rn((const char *) pw, setting, cd, sizeof(*cd));
        if (h == NULL || h[0] == '*') {
            *why = "crypt() does not know this password hash";
            rc = -1;
        } else {
            rc = strlen(h) == hash->len
                 && CRYPTO_memcmp(h, hash->data, hash->len) == 0;
        }
        free(cd);
        return rc;
    }
#else
    *why = "crypt() passwords need libxcrypt (built --without-libxcrypt)";
    return -1;
#endif
}
