/*
 * Unit tests for the htpasswd parts of auth_basic: finding a user's line
 * (comments, CRLF, a third field), Apache's $apr1$ hash against vectors
 * made by `openssl passwd -apr1`, and the check of every password form
 * (crypt(3) ones made by `openssl passwd -1/-5/-6`).
 */
#include "wm_http_htpasswd.h"
#include "tap.h"

#include "config.h"

static int
check(const char *pw, const char *hash)
{
    wm_str_t h = {strlen(hash), (u_char *) hash};
    const char *why;

    return wm_htpasswd_check((const u_char *) pw, strlen(pw), &h, &why);
}

static void
test_find(void)
{
    static const char text[] = "# a comment:x\n"
                               "alice:{PLAIN}one\r\n"
                               "bob:{PLAIN}two:a comment\n"
                               "al:{PLAIN}three\n"
                               "\n"
                               "last:{PLAIN}four";
    const char *users[] = {"alice", "bob", "al", "last"};
    const char *want[] = {"{PLAIN}one", "{PLAIN}two", "{PLAIN}three",
                          "{PLAIN}four"};
    wm_str_t u, h;
    size_t i;
    char got[64];

    for (i = 0; i < 4; i++) {
        u.data = (u_char *) users[i];
        u.len = strlen(users[i]);
        ok(wm_htpasswd_find((const u_char *) text, sizeof(text) - 1, &u, &h),
           users[i]);
        snprintf(got, sizeof(got), "%.*s", (int) h.len, (char *) h.data);
        is_str(got, want[i], "its password field");
    }
    u.data = (u_char *) "# a comment";
    u.len = 11;
    ok(!wm_htpasswd_find((const u_char *) text, sizeof(text) - 1, &u, &h),
       "a comment line is no user");
    u.data = (u_char *) "ali";
    u.len = 3;
    ok(!wm_htpasswd_find((const u_char *) text, sizeof(text) - 1, &u, &h),
       "a prefix of a user is no user");
    u.data = (u_char *) "";
    u.len = 0;
    ok(!wm_htpasswd_find((const u_char *) text, sizeof(text) - 1, &u, &h),
       "the empty user");
    ok(!wm_htpasswd_find((const u_char *) "", 0, &u, &h), "an empty file");
}

static void
test_apr1(void)
{
    /* openssl passwd -apr1 -salt SALT PASSWORD */
    static const struct {
        const char *pw, *hash;
    } v[] = {
        {"pw1", "$apr1$saltsalt$zsSo3wQvAXkIZuoYJGwF11"},
        {"", "$apr1$saltsalt$a8ml/vK5HEjiZ5oypDWA7/"},
        {"a much longer password of 40 characters!",
         "$apr1$saltsalt$.qI834zHUwVP2Rcvc.68X."},
        {"pw", "$apr1$x$c1lfMpyyDm.graHWYyv3p/"},
    };
    char out[64];
    size_t i;

    for (i = 0; i < wm_nelems(v); i++) {
        wm_str_t s = {strlen(v[i].hash), (u_char *) v[i].hash};

        ok(wm_htpasswd_apr1((const u_char *) v[i].pw, strlen(v[i].pw), &s, out,
                            sizeof(out)),
           "apr1 computes");
        is_str(out, v[i].hash, "apr1 as openssl passwd -apr1");
        is_int(check(v[i].pw, v[i].hash), 1, "apr1: the right password");
        is_int(check("wrong", v[i].hash), 0, "apr1: a wrong one");
    }
    {
        wm_str_t s = wm_string("$1$saltsalt$x");

        ok(!wm_htpasswd_apr1((const u_char *) "x", 1, &s, out, sizeof(out)),
           "apr1 refuses another setting");
    }
}

static void
test_check(void)
{
    is_int(check("one", "{PLAIN}one"), 1, "{PLAIN} right");
    is_int(check("on", "{PLAIN}one"), 0, "{PLAIN} a prefix");
    is_int(check("pw", "{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM="), 1, "{SHA} right");
    is_int(check("px", "{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM="), 0, "{SHA} wrong");
    is_int(check("pw", "{SHA}GpHWL3ymc5"), 0, "{SHA} cut short");
    is_int(check("pw", "{SHA}%%%%"), 0, "{SHA} not base64");
    is_int(check("pw", "{MD4}abc"), -1, "an unknown scheme");
#ifdef WM_HAVE_LIBXCRYPT
    /* openssl passwd -1/-5/-6 -salt saltsalt pw3 */
    is_int(check("pw3", "$1$saltsalt$NFbkyvQfY5xkuNsqoAc1J/"), 1, "$1$ right");
    is_int(check("pw4", "$1$saltsalt$NFbkyvQfY5xkuNsqoAc1J/"), 0, "$1$ wrong");
    is_int(check("pw3", "$5$saltsalt$UQ9x6wOHNRtZWcFlnMfkQQteHJ2/ReAVTzewaLvhT7."),
           1, "$5$ right");
    is_int(check("pw3", "$6$saltsalt$yV4GqpzBCMtpl2XwhsRmhJjBbLVq6LoHdK8EmVLhhhMkWyBkMLcxHCyMi1PGc88mFQ0NxM/cwivrH4MF7r3YG."),
           1, "$6$ right");
    is_int(check("pw3", "!locked"), -1, "a hash crypt() does not know");
#endif
}

int
main(void)
{
    test_find();
    test_apr1();
    test_check();
    return tap_done();
}
