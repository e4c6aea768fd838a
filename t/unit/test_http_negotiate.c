/*
 * Unit tests for Accept-Encoding negotiation and the gzip_types test. Each
 * case gives the field value and the codings the server may use and checks
 * the chosen coding and whether identity was refused, as "gzip", "br",
 * "identity" or "identity!" (refused).
 */
#include "wm_http_content.h"
#include "tap.h"

#define ALL (WM_HTTP_CODING_GZIP | WM_HTTP_CODING_ZSTD | WM_HTTP_CODING_BR)
#define GZ WM_HTTP_CODING_GZIP

static char got[32];

static const char *
render(wm_http_coding_t c, bool refused)
{
    const char *name = wm_http_coding_name(c);

    snprintf(got, sizeof(got), "%s%s", name ? name : "identity",
             refused ? "!" : "");
    return got;
}

static const char *
ae(const char *v, unsigned allowed)
{
    wm_str_t value = {strlen(v), (u_char *) v};
    bool refused = false;
    wm_http_coding_t c;

    c = wm_http_negotiate_encoding(&value, 1, allowed, &refused);
    return render(c, refused);
}

static bool
types(const char *ct)
{
    static wm_str_t list[] = {wm_string("text/html"),
                              wm_string("application/json")};
    wm_str_t v = {strlen(ct), (u_char *) ct};

    return wm_http_type_match(&v, list, wm_nelems(list));
}

static void
test_negotiate(void)
{
    is_str(ae("gzip", ALL), "gzip", "gzip");
    is_str(ae("gzip, deflate, br", ALL), "br", "br preferred on a tie");
    is_str(ae("gzip, deflate, br, zstd", ALL), "br", "br over zstd");
    is_str(ae("gzip, zstd", ALL), "zstd", "zstd over gzip");
    is_str(ae("gzip, deflate, br", GZ), "gzip", "only what is allowed");
    is_str(ae("br;q=1.0, gzip;q=0.8, *;q=0.1", ALL), "br", "RFC example");
    is_str(ae("br;q=0.5, gzip;q=0.8", ALL), "gzip", "highest q wins");
    is_str(ae("br;q=0.5, gzip;q=0.8", WM_HTTP_CODING_BR), "br",
           "lower q when the best is not allowed");
    is_str(ae("br;q=0.001, gzip;q=0.002", ALL), "gzip",
           "thousandths compared exactly");
    is_str(ae("GZIP", ALL), "gzip", "case-insensitive coding");
    is_str(ae("gzip;Q=0.5, br;q=0.4", ALL), "gzip", "case-insensitive q");
    is_str(ae("x-gzip", ALL), "gzip", "x-gzip is gzip");
    is_str(ae(" \tgzip \t; \tq \t= \t0.5 \t,\tbr;q=0.4\t", ALL), "gzip",
           "whitespace and tabs everywhere");
    is_str(ae(",,gzip,,", ALL), "gzip", "empty elements");
    is_str(ae("gzip;q=1.", ALL), "gzip", "q=1.");
    is_str(ae("gzip;q=1.000", ALL), "gzip", "q=1.000");
    is_str(ae("*", ALL), "br", "star alone: br");
    is_str(ae("*;q=0.5, br;q=0.4", ALL), "zstd", "star covers unlisted");
    is_str(ae("gzip;level=9", ALL), "gzip", "other parameter ignored");
    is_str(ae("deflate, compress", ALL), "identity", "nothing usable");
    is_str(ae("", ALL), "identity", "empty header: identity");
    is_str(ae(" \t ", ALL), "identity", "blank header: identity");
}

static void
test_refusals(void)
{
    is_str(ae("gzip;q=0", ALL), "identity", "q=0 refuses");
    is_str(ae("gzip;q=0.000", ALL), "identity", "q=0.000 refuses");
    is_str(ae("gzip;q=0, *", ALL), "br", "star does not revive gzip");
    is_str(ae("gzip, gzip;q=0", ALL), "gzip", "first entry counts");
    is_str(ae("gzip;q=1.0001", ALL), "identity", "q=1.0001 malformed");
    is_str(ae("gzip;q=0.1234", ALL), "identity", "4 decimals malformed");
    is_str(ae("gzip;q=-1", ALL), "identity", "q=-1 malformed");
    is_str(ae("gzip;q=2", ALL), "identity", "q=2 malformed");
    is_str(ae("gzip;q=1.5", ALL), "identity", "q=1.5 malformed");
    is_str(ae("gzip;q=.5", ALL), "identity", "q=.5 malformed");
    is_str(ae("gzip;q=", ALL), "identity", "empty q malformed");
    is_str(ae("gzip;q=\"1\"", ALL), "identity", "quoted q malformed");
    is_str(ae("gzip;q=0.5e1", ALL), "identity", "exponent malformed");
    is_str(ae("gzip;q=99999999999999999999", ALL), "identity", "huge q");
    is_str(ae("gzip;", ALL), "identity", "dangling ;");
    is_str(ae("gzip junk, br", ALL), "br", "junk spoils only its element");
    is_str(ae("gzip;q=abc, br;q=0.1", ALL), "br",
           "malformed element refused, others kept");
    is_str(ae("gzip;q=abc, *", GZ), "identity",
           "malformed element is listed: star does not cover it");
    is_str(ae("identity;q=0", ALL), "identity!", "identity;q=0");
    is_str(ae("gzip, identity;q=0", ALL), "gzip!", "gzip, identity refused");
    is_str(ae("*;q=0", ALL), "identity!", "*;q=0 refuses identity");
    is_str(ae("*;q=0, identity", ALL), "identity",
           "explicit identity overrides *;q=0");
    is_str(ae("*;q=0, gzip", ALL), "gzip!", "*;q=0 with gzip");
    is_str(ae("identity;q=abc", ALL), "identity!",
           "malformed identity refused");
    is_str(ae("identity, gzip;q=0.5", ALL), "identity",
           "explicit identity with higher q wins");
    is_str(ae("identity;q=0.5, gzip;q=0.5", ALL), "gzip",
           "identity loses ties");
    is_str(ae("gzip;q=0.001", ALL), "gzip",
           "unlisted identity does not compete");
    is_str(ae(";q=1, gzip", ALL), "gzip", "element without a name skipped");
}

static void
test_multi(void)
{
    wm_str_t v[2] = {wm_string("gzip;q=0.5"), wm_string("br;q=0.9")};
    wm_str_t dup[2] = {wm_string("br;q=0"), wm_string("br")};
    bool refused = true;
    wm_http_coding_t c;

    c = wm_http_negotiate_encoding(v, 2, ALL, &refused);
    is_str(render(c, refused), "br", "two header lines");
    c = wm_http_negotiate_encoding(dup, 2, ALL, &refused);
    is_str(render(c, refused), "identity", "first line's entry counts");
    refused = true;
    c = wm_http_negotiate_encoding(NULL, 0, ALL, &refused);
    is_str(render(c, refused), "identity",
           "no header: identity, as nginx (RFC allows any)");
    is_str(wm_http_coding_name(WM_HTTP_CODING_ZSTD), "zstd", "zstd name");
    ok(wm_http_coding_name(WM_HTTP_CODING_IDENTITY) == NULL,
       "identity has no Content-Encoding");
}

static void
test_types(void)
{
    wm_str_t star[] = {wm_string("text/css"), wm_string("*")};
    wm_str_t ct = wm_null_string;

    ok(types("text/html"), "exact type");
    ok(types("TEXT/HTML"), "case-insensitive");
    ok(types("text/html; charset=utf-8"), "parameters stripped");
    ok(types(" application/json ;charset=utf-8"), "spaces stripped");
    ok(!types("text/plain"), "other type");
    ok(!types("text/html5"), "longer type");
    ok(!types("text/htm"), "shorter type");
    ok(!types("text/*"), "no wildcards but *");
    ok(!types(""), "empty type");
    ok(!types("; charset=utf-8"), "parameters only");
    ok(wm_http_type_match(&ct, star, 2), "* matches even no type");
    ok(!wm_http_type_match(&ct, star, 0), "empty list matches nothing");
}

int
main(void)
{
    test_negotiate();
    test_refusals();
    test_multi();
    test_types();
    return tap_done();
}
