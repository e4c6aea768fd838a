/*
 * Unit tests for conditional requests: entity-tag list matching (strong
 * and weak), nginx's file ETag, and the evaluation order of If-Match,
 * If-Unmodified-Since, If-None-Match, If-Modified-Since and If-Range.
 */
#include "wm_http_content.h"
#include "tap.h"

#define OK_ WM_HTTP_COND_OK
#define FULL WM_HTTP_COND_OK_FULL
#define NM WM_HTTP_COND_NOT_MODIFIED
#define PF WM_HTTP_COND_PRECONDITION_FAILED

/* Last-Modified of the test file: Sun, 06 Nov 1994 08:49:37 GMT. */
#define LM 784111777
#define LM_DATE "Sun, 06 Nov 1994 08:49:37 GMT"
#define BEFORE_DATE "Sun, 06 Nov 1994 08:49:36 GMT"
#define AFTER_DATE "Sun, 06 Nov 1994 08:49:38 GMT"

static wm_str_t hdr[5];

static const wm_str_t *
h(int i, const char *s)
{
    if (s == NULL) {
        return NULL;
    }
    hdr[i].len = strlen(s);
    hdr[i].data = (u_char *) s;
    return &hdr[i];
}

static bool
match(const char *list, const char *etag, bool weak)
{
    wm_str_t l = {strlen(list), (u_char *) list};
    wm_str_t e = {etag ? strlen(etag) : 0, (u_char *) etag};

    return wm_http_etag_match(&l, etag ? &e : NULL, weak);
}

/* Evaluates a GET (or another method when get is false) against the
 * file with ETag "\"abc\"" and Last-Modified LM in the given mode. */
static int
cond(const char *im, const char *ius, const char *inm, const char *ims,
     const char *ir, bool get, wm_http_ims_mode_t mode)
{
    static wm_str_t etag = wm_string("\"abc\"");
    wm_http_cond_t c = {
        .if_match = h(0, im),
        .if_unmodified_since = h(1, ius),
        .if_none_match = h(2, inm),
        .if_modified_since = h(3, ims),
        .if_range = h(4, ir),
        .etag = &etag,
        .last_modified = LM,
        .ims_mode = mode,
        .get_or_head = get,
    };

    return wm_http_cond_evaluate(&c);
}

#define EX WM_HTTP_IMS_EXACT
#define BF WM_HTTP_IMS_BEFORE

static void
test_etag_match(void)
{
    ok(match("\"abc\"", "\"abc\"", false), "strong equal");
    ok(!match("\"abd\"", "\"abc\"", false), "strong different");
    ok(!match("W/\"abc\"", "\"abc\"", false), "strong: W/ in list fails");
    ok(!match("\"abc\"", "W/\"abc\"", false), "strong: weak ETag fails");
    ok(match("W/\"abc\"", "\"abc\"", true), "weak: W/ in list");
    ok(match("\"abc\"", "W/\"abc\"", true), "weak: weak ETag");
    ok(match("W/\"abc\"", "W/\"abc\"", true), "weak: both weak");
    ok(match("*", "\"abc\"", false), "star");
    ok(match(" \t* ", NULL, false), "star without an ETag");
    ok(!match("\"abc\"", NULL, true), "no ETag matches no tag");
    ok(match("\"x\", \"y\",\t\"abc\"", "\"abc\"", false), "in a list");
    ok(match("\"x\",,\"abc\" ,", "\"abc\"", false), "empty elements");
    ok(match("junk, \"abc\"", "\"abc\"", false), "after a bad element");
    ok(match("\"a,b\"", "\"a,b\"", false), "comma inside a tag");
    ok(!match("\"abc\"x", "\"abc\"", false), "trailing junk after tag");
    ok(!match("\"abc", "\"abc\"", false), "unterminated tag");
    ok(!match("abc", "\"abc\"", false), "unquoted tag");
    ok(!match("\"ab\"", "\"abc\"", false), "prefix is not a match");
    ok(!match("\"abcd\"", "\"abc\"", false), "longer is not a match");
    ok(!match("\"abc\", *", "\"abc\"x", true), "malformed own ETag");
    ok(!match("\"x\", *", "\"abc\"", false), "star inside a list is junk");
    ok(!match("\"a b\"", "\"a b\"", false), "space is not an etagc");
    ok(!match("", "\"abc\"", false), "empty list");
    ok(!match("w/\"abc\"", "\"abc\"", true), "lowercase w/ is junk");
}

static void
test_etag_format(void)
{
    u_char buf[WM_HTTP_ETAG_LEN + 1];
    size_t n;

    n = wm_http_etag_format(buf, 1700000000, 12345, false);
    is_str((char *) buf, "\"6553f100-3039\"", "nginx ETag");
    is_int(n, 15, "its length");
    wm_http_etag_format(buf, 1700000000, 12345, true);
    is_str((char *) buf, "W/\"6553f100-3039\"", "weak ETag");
    wm_http_etag_format(buf, 0, 0, false);
    is_str((char *) buf, "\"0-0\"", "zero mtime and size");
    n = wm_http_etag_format(buf, -1, INT64_MAX, true);
    is_str((char *) buf, "W/\"ffffffffffffffff-7fffffffffffffff\"",
           "widest ETag");
    is_int(n, WM_HTTP_ETAG_LEN, "fits WM_HTTP_ETAG_LEN");
}

static void
test_evaluate(void)
{
    /* No conditionals. */
    is_int(cond(NULL, NULL, NULL, NULL, NULL, true, EX), OK_, "none");

    /* If-Match. */
    is_int(cond("\"abc\"", NULL, NULL, NULL, NULL, true, EX), OK_,
           "If-Match matches");
    is_int(cond("\"x\"", NULL, NULL, NULL, NULL, true, EX), PF,
           "If-Match fails: 412");
    is_int(cond("*", NULL, NULL, NULL, NULL, false, EX), OK_, "If-Match *");
    is_int(cond("W/\"abc\"", NULL, NULL, NULL, NULL, true, EX), PF,
           "If-Match is strong");
    is_int(cond("\"abc\"", AFTER_DATE, NULL, NULL, NULL, true, EX), OK_,
           "If-Match passing hides If-Unmodified-Since");
    is_int(cond("\"abc\"", BEFORE_DATE, NULL, NULL, NULL, true, EX), OK_,
           "even a failing one (nginx would 412)");

    /* If-Unmodified-Since. */
    is_int(cond(NULL, LM_DATE, NULL, NULL, NULL, true, EX), OK_,
           "IUS equal passes");
    is_int(cond(NULL, AFTER_DATE, NULL, NULL, NULL, true, EX), OK_,
           "IUS later passes");
    is_int(cond(NULL, BEFORE_DATE, NULL, NULL, NULL, true, EX), PF,
           "IUS earlier: 412");
    is_int(cond(NULL, "yesterday", NULL, NULL, NULL, true, EX), OK_,
           "IUS invalid date ignored");

    /* If-None-Match. */
    is_int(cond(NULL, NULL, "\"abc\"", NULL, NULL, true, EX), NM,
           "INM matches: 304");
    is_int(cond(NULL, NULL, "W/\"abc\"", NULL, NULL, true, EX), NM,
           "INM is weak");
    is_int(cond(NULL, NULL, "\"x\", \"abc\"", NULL, NULL, true, EX), NM,
           "INM list");
    is_int(cond(NULL, NULL, "*", NULL, NULL, true, EX), NM, "INM *");
    is_int(cond(NULL, NULL, "\"abc\"", NULL, NULL, false, EX), PF,
           "INM matches on POST: 412");
    is_int(cond(NULL, NULL, "\"x\"", NULL, NULL, true, EX), OK_,
           "INM no match: 200");
    is_int(cond(NULL, NULL, "\"x\"", LM_DATE, NULL, true, EX), OK_,
           "INM present: IMS ignored (nginx would also 200)");
    is_int(cond(NULL, NULL, "\"abc\"", AFTER_DATE, NULL, true, EX), NM,
           "INM match wins over IMS (nginx: 200)");
    is_int(cond("\"x\"", NULL, "\"abc\"", NULL, NULL, true, EX), PF,
           "If-Match is checked first");

    /* If-Modified-Since and the nginx modes. */
    is_int(cond(NULL, NULL, NULL, LM_DATE, NULL, true, EX), NM,
           "IMS exact equal: 304");
    is_int(cond(NULL, NULL, NULL, AFTER_DATE, NULL, true, EX), OK_,
           "IMS exact later: 200");
    is_int(cond(NULL, NULL, NULL, AFTER_DATE, NULL, true, BF), NM,
           "IMS before later: 304");
    is_int(cond(NULL, NULL, NULL, BEFORE_DATE, NULL, true, BF), OK_,
           "IMS before earlier: 200");
    is_int(cond(NULL, NULL, NULL, LM_DATE, NULL, true, WM_HTTP_IMS_OFF), OK_,
           "IMS off");
    is_int(cond(NULL, NULL, NULL, LM_DATE, NULL, false, EX), OK_,
           "IMS ignored for POST");
    is_int(cond(NULL, NULL, NULL, "Sunday, 06-Nov-94 08:49:37 GMT", NULL, true,
                EX),
           NM, "IMS in RFC 850 form");
    is_int(cond(NULL, NULL, NULL, "garbage", NULL, true, BF), OK_,
           "IMS garbage ignored");
    is_int(cond(NULL, NULL, NULL, "", NULL, true, BF), OK_,
           "IMS empty ignored");

    /* If-Range. */
    is_int(cond(NULL, NULL, NULL, NULL, "\"abc\"", true, EX), OK_,
           "If-Range ETag matches");
    is_int(cond(NULL, NULL, NULL, NULL, " \"abc\" ", true, EX), OK_,
           "If-Range ETag with spaces");
    is_int(cond(NULL, NULL, NULL, NULL, "\"x\"", true, EX), FULL,
           "If-Range ETag differs: full");
    is_int(cond(NULL, NULL, NULL, NULL, "W/\"abc\"", true, EX), FULL,
           "If-Range weak ETag never matches");
    is_int(cond(NULL, NULL, NULL, NULL, "\"abc\", \"x\"", true, EX), FULL,
           "If-Range takes one tag, not a list");
    is_int(cond(NULL, NULL, NULL, NULL, LM_DATE, true, EX), OK_,
           "If-Range date equal");
    is_int(cond(NULL, NULL, NULL, NULL, AFTER_DATE, true, EX), FULL,
           "If-Range date later: full");
    is_int(cond(NULL, NULL, NULL, NULL, "*", true, EX), FULL,
           "If-Range garbage: full");
    is_int(cond(NULL, NULL, "\"abc\"", NULL, "\"x\"", true, EX), NM,
           "304 before If-Range");
}

static void
test_no_validators(void)
{
    wm_str_t im = wm_string("\"abc\""), star = wm_string("*");
    wm_str_t date = wm_string(LM_DATE);
    wm_str_t weak = wm_string("W/\"abc\"");
    wm_http_cond_t c = {
        .last_modified = -1, .ims_mode = EX, .get_or_head = true};

    c.if_match = &im;
    is_int(wm_http_cond_evaluate(&c), PF, "If-Match without ETag: 412");
    c.if_match = &star;
    is_int(wm_http_cond_evaluate(&c), OK_, "If-Match * without ETag");
    c.if_match = NULL;
    c.if_unmodified_since = &date;
    is_int(wm_http_cond_evaluate(&c), OK_,
           "IUS without Last-Modified ignored (nginx: 412)");
    c.if_unmodified_since = NULL;
    c.if_modified_since = &date;
    is_int(wm_http_cond_evaluate(&c), OK_, "IMS without Last-Modified");
    c.if_modified_since = NULL;
    c.if_range = &date;
    is_int(wm_http_cond_evaluate(&c), FULL, "If-Range date, no LM: full");
    c.etag = &weak;
    c.if_range = &weak;
    is_int(wm_http_cond_evaluate(&c), FULL,
           "If-Range with our weak ETag: full (nginx: ranges)");
}

int
main(void)
{
    test_etag_match();
    test_etag_format();
    test_evaluate();
    test_no_validators();
    return tap_done();
}
