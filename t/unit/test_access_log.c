/*
 * Unit tests of the access log's pure parts: the three escaping modes and
 * whole lines built from a compiled format over a fake request whose
 * variables come from a small table.
 */
#include "wm_access_log.h"

#include "tap.h"

static const char *
esc(wm_log_escape_t mode, const char *in, size_t len)
{
    static u_char out[1024];
    size_t n = wm_log_escape(mode, NULL, (const u_char *) in, len);
    size_t m = wm_log_escape(mode, out, (const u_char *) in, len);

    if (n != m) {
        return "(counted and written lengths differ)";
    }
    out[m] = '\0';
    return (const char *) out;
}

/* A fake request: variable "a" is r->a, "empty" is "", "missing" is not
 * found. */
typedef struct {
    const char *a;
} fake_t;

static wm_int_t
get_a(void *r, const wm_str_t *arg, uintptr_t data, wm_pool_t *pool,
      wm_str_t *v)
{
    fake_t *f = r;

    if (data == 1) {
        return WM_DECLINED;
    }
    if (data == 2) {
        v->data = (u_char *) "";
        v->len = 0;
        return WM_OK;
    }
    v->data = (u_char *) f->a;
    v->len = strlen(f->a);
    return WM_OK;
}

static const wm_var_def_t vars[] = {
    {"a", get_a, 0, 0, NULL},
    {"missing", get_a, 1, 0, NULL},
    {"empty", get_a, 2, 0, NULL},
    {NULL, NULL, 0, 0, NULL},
};
static const wm_var_def_t *const tables[] = {vars, NULL};

static const char *
line(wm_pool_t *pool, wm_log_escape_t mode, const char *text, const char *a)
{
    wm_log_format_t fmt;
    wm_str_t s = {strlen(text), (u_char *) text}, out;
    fake_t f = {a};
    const char *err = wm_log_format_compile(pool, &s, 1, mode, tables, &fmt);

    if (err) {
        return err;
    }
    if (wm_log_format_line(&fmt, &f, pool, &out) != WM_OK) {
        return "(error)";
    }
    return wm_pstrndup(pool, out.data, out.len);
}

int
main(void)
{
    wm_pool_t *pool = wm_pool_new(4096);
    wm_log_formats_t formats;
    wm_str_t two[2] = {wm_string("[$a"), wm_string("]")};
    wm_log_format_t fmt;
    wm_str_t out;
    fake_t f = {"x"};

    /* default: quote, backslash, controls and bytes >= 0x7f as \xHH */
    is_str(esc(WM_LOG_ESCAPE_DEFAULT, "plain text/1.0", 14), "plain text/1.0",
           "default: printable ASCII unchanged");
    is_str(esc(WM_LOG_ESCAPE_DEFAULT, "a\"b\\c", 5), "a\\x22b\\x5Cc",
           "default: quote and backslash");
    is_str(esc(WM_LOG_ESCAPE_DEFAULT, "\n\r\t\x01\x1f", 5),
           "\\x0A\\x0D\\x09\\x01\\x1F", "default: control bytes");
    is_str(esc(WM_LOG_ESCAPE_DEFAULT, "\x7f\x80\xff", 3), "\\x7F\\x80\\xFF",
           "default: DEL and bytes >= 0x80");
    is_str(esc(WM_LOG_ESCAPE_DEFAULT, "a\0b", 3), "a\\x00b", "default: NUL");

    /* json */
    is_str(esc(WM_LOG_ESCAPE_JSON, "a\"b\\c", 5), "a\\\"b\\\\c",
           "json: quote and backslash");
    is_str(esc(WM_LOG_ESCAPE_JSON, "\n\r\t\b\f", 5), "\\n\\r\\t\\b\\f",
           "json: short escapes");
    is_str(esc(WM_LOG_ESCAPE_JSON, "\x01\x1f", 2), "\\u0001\\u001f",
           "json: other controls as \\u00XX");
    is_str(esc(WM_LOG_ESCAPE_JSON, "\x7f\xc3\xa9", 3), "\x7f\xc3\xa9",
           "json: DEL and UTF-8 unchanged");

    /* none */
    is_str(esc(WM_LOG_ESCAPE_NONE, "a\"\\\n", 4), "a\"\\\n", "none: unchanged");
    is_int(wm_log_escape(WM_LOG_ESCAPE_NONE, NULL, (const u_char *) "", 0), 0,
           "none: empty");

    /* lines */
    is_str(line(pool, WM_LOG_ESCAPE_DEFAULT, "$a \"$a\"", "q\"q"),
           "q\\x22q \"q\\x22q\"\n", "line: variables escaped, literals not");
    is_str(line(pool, WM_LOG_ESCAPE_DEFAULT, "[$missing] [$empty] $a", "v"),
           "[-] [-] v\n", "line: empty and missing as - (default)");
    is_str(line(pool, WM_LOG_ESCAPE_JSON, "{\"m\":\"$missing\",\"a\":\"$a\"}",
                "x\ny"),
           "{\"m\":\"\",\"a\":\"x\\ny\"}\n", "line: json, missing as empty");
    is_str(line(pool, WM_LOG_ESCAPE_NONE, "<$empty>$a", "\"raw\""),
           "<>\"raw\"\n", "line: none, empty as nothing");
    is_str(line(pool, WM_LOG_ESCAPE_DEFAULT, "no variables", "x"),
           "no variables\n", "line: literal only");
    is_str(line(pool, WM_LOG_ESCAPE_DEFAULT, "$nosuch", "x"),
           "uses unknown \"nosuch\" variable", "compile: unknown variable");

    /* several strings are joined, as nginx's log_format */
    ok(wm_log_format_compile(pool, two, 2, WM_LOG_ESCAPE_DEFAULT, tables, &fmt)
           == NULL,
       "compile: two strings");
    ok(wm_log_format_line(&fmt, &f, pool, &out) == WM_OK && out.len == 4
           && memcmp(out.data, "[x]\n", 4) == 0,
       "line: two strings joined");

    /* the predefined format needs the http variables; without them its
     * compilation fails, which init reports */
    is_int(wm_log_formats_init(&formats, pool, tables, false), WM_OK,
           "formats: init without combined");
    is_int(formats.formats.nelts, 0, "formats: empty");
    is_int(wm_log_formats_init(&formats, pool, tables, true), WM_ERROR,
           "formats: combined needs its variables");

    wm_pool_free(pool);
    return tap_done();
}
