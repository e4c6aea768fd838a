/*
 * The pure parts of auth_basic: finding a user in the text of an
 * htpasswd file and checking a password against its stored form
 * (crypt(3) through libxcrypt, Apache's $apr1$, {PLAIN}, {SHA}, {SSHA}).
 * No files, no sockets: the unit test calls them on bytes.
 */
#ifndef WM_HTTP_HTPASSWD_H
#define WM_HTTP_HTPASSWD_H

#include "wm_core.h"

/* Finds user in the htpasswd text (lines `user:password[:comment]`, '#'
 * comments, LF or CRLF ends): true with *hash pointing into text. */
bool wm_htpasswd_find(const u_char *text, size_t len, const wm_str_t *user,
                      wm_str_t *hash);

/* Apache's MD5 password hash of pw with the salt of setting
 * ("$apr1$salt[$...]"; at most 8 salt characters are used) as
 * "$apr1$salt$hash" into out (at least 40 bytes). false on a setting
 * that is not $apr1$ or when OpenSSL fails. */
bool wm_htpasswd_apr1(const u_char *pw, size_t pwlen, const wm_str_t *setting,
                      char *out, size_t outlen);

/* 1 when pw matches hash, 0 when it does not, -1 when the form of hash
 * is not supported (then *why says which). */
int wm_htpasswd_check(const u_char *pw, size_t pwlen, const wm_str_t *hash,
                      const char **why);

#endif /* WM_HTTP_HTPASSWD_H */
