/*
 * Unit tests of the map table (wm_map.c): entries parsed from config text,
 * lookups in nginx's order (exact, longest leading wildcard, longest
 * trailing wildcard, regexes in order, default), captures reaching the
 * value through the family's regex callbacks, and every bad entry
 * reported with its file:line and message.
 */
#include "wm_map.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tap.h"

static char errors[4096];

static void
collect(void *data, const char *msg)
{
    size_t n = strlen(errors);

    snprintf(errors + n, sizeof(errors) - n, "%s\n", msg);
}

/* The "request" of these tests: the captures of the last match. */
typedef struct {
    PCRE2_SIZE ov[20];
    int n;
    wm_str_t subject;
    pcre2_code *code;
    int execs;
} test_req_t;

static const char *
t_compile(wm_pool_t *pool, const wm_str_t *pattern, bool caseless, void **re)
{
    static char msg[256];
    int err;
    PCRE2_SIZE off;
    pcre2_code *code;

    code = pcre2_compile(pattern->data, pattern->len,
                         caseless ? PCRE2_CASELESS : 0, &err, &off, NULL);
    if (code == NULL) {
        snprintf(msg, sizeof(msg), "has an invalid regex \"%s\"",
                 (const char *) pattern->data);
        return msg;
    }
    wm_pool_cleanup_add(pool, (wm_pool_cleanup_pt) pcre2_code_free, code);
    *re = code;
    return NULL;
}

static int
t_exec(void *re, const wm_str_t *subject, void *data)
{
    test_req_t *r = data;
    pcre2_match_data *md = pcre2_match_data_create(10, NULL);
    int rc;

    r->execs++;
    rc = pcre2_match(re, subject->data, subject->len, 0, 0, md, NULL);
    if (rc > 0) {
        memcpy(r->ov, pcre2_get_ovector_pointer(md), 2 * (size_t) rc
                                                         * sizeof(PCRE2_SIZE));
        r->n = rc;
        r->subject = *subject;
        r->code = re;
    }
    pcre2_match_data_free(md);
    return rc > 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

static const wm_map_regex_ops_t ops = {t_compile, t_exec};

static wm_int_t
t_capture(void *data, const wm_str_t *arg, uintptr_t n, wm_pool_t *pool,
          wm_str_t *v)
{
    test_req_t *r = data;

    if ((int) n >= r->n) {
        return WM_DECLINED;
    }
    v->data = r->subject.data + r->ov[2 * n];
    v->len = r->ov[2 * n + 1] - r->ov[2 * n];
    return WM_OK;
}

static bool
t_named_known(const wm_str_t *name)
{
    return wm_str_eq(name, "word");
}

static wm_int_t
t_named(void *data, const wm_str_t *arg, uintptr_t unused, wm_pool_t *pool,
        wm_str_t *v)
{
    test_req_t *r = data;
    int n = r->code ? pcre2_substring_number_from_name(r->code,
                                                       (PCRE2_SPTR) "word")
                    : -1;

    return n < 0 ? WM_DECLINED : t_capture(data, arg, (uintptr_t) n, pool, v);
}

static wm_int_t
t_fixed(void *data, const wm_str_t *arg, uintptr_t unused, wm_pool_t *pool,
        wm_str_t *v)
{
    wm_str_set(v, "F");
    return WM_OK;
}

/* Map variables for test_vars(): the maps and the kept values of the one
 * "request" there is. */
static wm_array_t *t_maps;
static wm_map_value_t *t_cache;
static int t_counted;

static bool
t_map_known(const wm_str_t *name)
{
    return wm_str_eq(name, "m1") || wm_str_eq(name, "m2")
           || wm_str_eq(name, "m3") || wm_str_eq(name, "vol")
           || wm_str_eq(name, "fixed");
}

static wm_int_t
t_map_var(void *data, const wm_str_t *arg, uintptr_t unused, wm_pool_t *pool,
          wm_str_t *v)
{
    wm_int_t rc = wm_map_var_value(t_maps, t_cache, arg, data, pool, v);

    return rc == WM_BUSY ? WM_DECLINED : rc;
}

static wm_int_t
t_count(void *data, const wm_str_t *arg, uintptr_t unused, wm_pool_t *pool,
        wm_str_t *v)
{
    char *s = wm_psprintf(pool, "%d", ++t_counted);

    v->data = (u_char *) s;
    v->len = strlen(s);
    return WM_OK;
}

static const wm_var_def_t t_vars[] = {
    {"1", t_capture, 1, 0, NULL},
    {"2", t_capture, 2, 0, NULL},
    {"fixed", t_fixed, 0, 0, NULL},
    {"count", t_count, 0, 0, NULL},
    {"", t_named, 0, 0, t_named_known},
    {NULL, NULL, 0, 0, NULL},
};
static const wm_var_def_t *const t_tables[] = {t_vars, NULL};
static const wm_var_def_t t_map_vars[] = {
    {"", t_map_var, 0, 0, t_map_known},
    {NULL, NULL, 0, 0, NULL},
};
static const wm_var_def_t *const t_map_tables[] = {t_vars, t_map_vars, NULL};

static wm_pool_t *pool;

/* Parses `map $a $b { body }` from text; WM_OK or WM_ERROR, the reported
 * lines in `errors`. */
static wm_int_t
parse(wm_map_t *map, const char *body, const wm_map_regex_ops_t *o)
{
    wm_conf_parser_t p = {.pool = pool};
    wm_conf_t cf = {.pool = pool, .report = collect, .family = WM_MOD_HTTP};
    wm_conf_node_t *root;
    char *text = wm_psprintf(pool, "map $a $b {\n%s\n}\n", body);

    errors[0] = '\0';
    if (wm_conf_parse_text(&p, (const u_char *) text, strlen(text), "m.conf",
                           &root)
        != WM_OK)
    {
        snprintf(errors, sizeof(errors), "parse: %s\n", p.err);
        return WM_ERROR;
    }
    cf.node = root->children;
    return wm_map_parse(map, &cf, root->children, t_tables, o);
}

/* The value of key, evaluated, or "<none>" without a value. */
static const char *
find(const wm_map_t *map, const char *key, test_req_t *r)
{
    static char out[512];
    wm_str_t k = {strlen(key), (u_char *) key}, v;
    test_req_t local = {0};
    const wm_cv_t *cv;

    if (r == NULL) {
        r = &local;
    }
    cv = wm_map_find(map, &k, pool, r);
    if (cv == NULL) {
        return "<none>";
    }
    if (wm_cv_eval(cv, r, pool, &v) != WM_OK) {
        return "<error>";
    }
    snprintf(out, sizeof(out), "%.*s", (int) v.len, (const char *) v.data);
    return out;
}

static void
test_exact(void)
{
    wm_map_t m;

    is_int(parse(&m, "  a.example   one;\n"
                     "  B.Example   two;\n"
                     "  \"\"          empty;\n"
                     "  \\default   literal-default;\n"
                     "  *.x.com     not-a-wildcard;\n"
                     "  default     dflt;\n",
                 &ops),
           WM_OK, "exact: parsed");
    is_str(errors, "", "exact: no error");
    is_str(find(&m, "a.example", NULL), "one", "exact key");
    is_str(find(&m, "A.EXAMPLE", NULL), "one", "exact keys ignore case");
    is_str(find(&m, "b.example", NULL), "two", "a key written in capitals");
    is_str(find(&m, "", NULL), "empty", "the empty key");
    is_str(find(&m, "default", NULL), "literal-default",
           "\\default is the literal key");
    is_str(find(&m, "*.x.com", NULL), "not-a-wildcard",
           "without hostnames a * is a plain byte");
    is_str(find(&m, "a.x.com", NULL), "dflt",
           "without hostnames no wildcard matches");
    is_str(find(&m, "a.example.", NULL), "dflt",
           "without hostnames a final dot stays");
    is_str(find(&m, "zzz", NULL), "dflt", "no key: the default");

    is_int(parse(&m, "a 1;", &ops), WM_OK, "a map without default");
    is_str(find(&m, "b", NULL), "<none>", "no default: no value");
}

static void
test_many(void)
{
    char body[32768], *p = body;
    wm_map_t m;
    int i, good = 0;

    for (i = 0; i < 1000; i++) {
        p += sprintf(p, "k%d v%d;\n", i, i * 7);
    }
    is_int(parse(&m, body, &ops), WM_OK, "1000 keys parsed");
    is_int((long long) m.nexact, 1000, "1000 exact keys");
    for (i = 0; i < 1000; i++) {
        char k[32], v[32];

        snprintf(k, sizeof(k), "k%d", i);
        snprintf(v, sizeof(v), "v%d", i * 7);
        good += strcmp(find(&m, k, NULL), v) == 0;
    }
    is_int(good, 1000, "each of 1000 keys finds its value");
    is_str(find(&m, "k1000", NULL), "<none>", "a key that is not there");
}

static void
test_hostnames(void)
{
    wm_map_t m;

    is_int(parse(&m, "  default            dflt;\n"
                     "  example.com        exact;\n"
                     "  *.example.com      head;\n"
                     "  *.b.example.com    head-b;\n"
                     "  .example.org       dot;\n"
                     "  www.example.*      tail-www;\n"
                     "  www.*              tail;\n"
                     "  ~^www\\.ex         regex;\n"
                     "  hostnames;\n",
                 &ops),
           WM_OK, "hostnames: parsed (hostnames written last)");
    is_str(errors, "", "hostnames: no error");
    is_str(find(&m, "example.com", NULL), "exact", "exact before wildcards");
    is_str(find(&m, "Example.COM.", NULL), "exact",
           "a final dot and capitals are ignored");
    is_str(find(&m, "a.example.com", NULL), "head", "*.example.com");
    is_str(find(&m, "x.y.example.com", NULL), "head",
           "*.example.com covers deeper names");
    is_str(find(&m, "a.b.example.com", NULL), "head-b",
           "the longest leading wildcard wins");
    is_str(find(&m, "b.example.com", NULL), "head",
           "*.b.example.com is not b.example.com itself");
    is_str(find(&m, "example.org", NULL), "dot", ".example.org: the name");
    is_str(find(&m, "a.example.org", NULL), "dot",
           ".example.org: names below");
    is_str(find(&m, "www.example.net", NULL), "tail-www",
           "the longest trailing wildcard wins");
    is_str(find(&m, "www.example.co.uk", NULL), "tail-www",
           "a trailing wildcard covers several labels");
    is_str(find(&m, "www.other.net", NULL), "tail", "www.*");
    is_str(find(&m, "www.example.com", NULL), "head",
           "a leading wildcard before a trailing one");
    is_str(find(&m, "www", NULL), "dflt", "www.* needs a dot");
    is_str(find(&m, "www.exz", NULL), "tail", "a wildcard before a regex");
    is_str(find(&m, "example.net", NULL), "dflt", "no match: the default");
}

static void
test_regex(void)
{
    test_req_t r = {0};
    wm_map_t m;

    is_int(parse(&m, "  ~^/a/(\\d+)/(\\w+)$   a-$2-$1;\n"
                     "  ~*^/B/                b-caseless;\n"
                     "  ~^/b/                 b-second;\n"
                     "  ~^/n/(?<word>[a-z]+)  n-$word-$fixed;\n"
                     "  /a/1/x                exact-first;\n"
                     "  default               d$fixed;\n",
                 &ops),
           WM_OK, "regex: parsed");
    is_str(errors, "", "regex: no error");
    is_str(find(&m, "/a/12/xy", &r), "a-xy-12", "numbered captures");
    is_int(r.execs, 1, "the first regex matched: one exec");
    is_str(find(&m, "/a/1/x", NULL), "exact-first",
           "an exact key before any regex");
    is_str(find(&m, "/b/q", NULL), "b-caseless", "regexes in written order");
    is_str(find(&m, "/B/q", NULL), "b-caseless", "~* ignores case");
    is_str(find(&m, "/n/abc", NULL), "n-abc-F", "a named capture and a var");
    memset(&r, 0, sizeof(r));
    is_str(find(&m, "/zz", &r), "dF", "no regex matches: the default");
    is_int(r.execs, 4, "every regex was tried");
    memset(&r, 0, sizeof(r));
    is_str(find(&m, "", &r), "dF", "the empty value: the default");
    is_int(r.execs, 0, "regexes are not tried on an empty value");
}

static void
test_flags(void)
{
    wm_map_t m;

    is_int(parse(&m, "volatile;\n a 1;", &ops), WM_OK, "volatile parsed");
    ok(m.is_volatile && !m.hostnames, "volatile set, hostnames not");
    is_int(parse(&m, "hostnames 1;\n volatile 2;", &ops), WM_OK,
           "hostnames and volatile with a value are keys");
    ok(!m.is_volatile && !m.hostnames, "  and not flags");
    is_str(find(&m, "hostnames", NULL), "1", "  key hostnames");
    is_str(find(&m, "volatile", NULL), "2", "  key volatile");
}

static void
bad(const char *body, const wm_map_regex_ops_t *o, const char *want,
    const char *name)
{
    wm_map_t m;

    is_int(parse(&m, body, o), WM_ERROR, name);
    is_str(errors, want, "  the error lines");
}

static void
test_errors(void)
{
    bad("a 1;\nb 2;\nA 3;", &ops,
        "m.conf:4: \"map\" directive has duplicate key \"A\"\n",
        "a duplicate key (case-insensitive)");
    bad("default 1;\ndefault 2;", &ops,
        "m.conf:3: \"map\" directive has duplicate default value\n",
        "two defaults");
    bad("a 1 2;\nb;\nc { }", &ops,
        "m.conf:2: \"map\" directive has invalid entry \"a\": a key takes "
        "one value\n"
        "m.conf:3: \"map\" directive has invalid entry \"b\": a key takes "
        "one value\n"
        "m.conf:4: \"map\" directive has invalid entry \"c\": a key takes "
        "one value\n",
        "entries without one value, each reported");
    bad("~( 1;", &ops, "m.conf:2: \"map\" directive has an invalid regex \"(\"\n",
        "a bad regex");
    bad("~ 1;", &ops,
        "m.conf:2: \"map\" directive has an empty regex in \"~\"\n",
        "an empty regex");
    bad("~a 1;", NULL,
        "m.conf:2: \"map\" directive has a regex key, which this block "
        "cannot use\n",
        "a regex without regex support");
    bad("a $nosuch;", &ops,
        "m.conf:2: \"map\" directive uses unknown \"nosuch\" variable\n",
        "an unknown variable in a value");
    bad("hostnames;\n*.a.* 1;\nw*w.a 2;\n*. 3;\n.* 4;\n*.x.com 5;\n.x.com 6;",
        &ops,
        "m.conf:3: \"map\" directive has invalid hostname or wildcard "
        "\"*.a.*\"\n"
        "m.conf:4: \"map\" directive has invalid hostname or wildcard "
        "\"w*w.a\"\n"
        "m.conf:5: \"map\" directive has invalid hostname or wildcard "
        "\"*.\"\n"
        "m.conf:6: \"map\" directive has invalid hostname or wildcard "
        "\".*\"\n"
        "m.conf:8: \"map\" directive has duplicate key \".x.com\"\n",
        "bad wildcards, and *.x.com with .x.com");
    bad("hostnames;\nx.com 1;\n.x.com 2;", &ops,
        "m.conf:4: \"map\" directive has duplicate key \".x.com\"\n",
        ".x.com after x.com");
}

static void
test_names(void)
{
    wm_conf_parser_t p = {.pool = pool};
    wm_conf_t cf = {.pool = pool, .report = collect};
    const char *text = "map $a $one { }\nmap $a $two { }\nmap $x;\n"
                       "server { set $deep 1; map $b $nested { } }\n"
                       "set $top 2;\nset notvar 3;\n";
    wm_str_t one = wm_string("one"), two = wm_string("two"),
             nested = wm_string("nested"), deep = wm_string("deep"),
             top = wm_string("top"), a = wm_string("a");
    wm_map_names_t maps = {0}, sets = {0};
    wm_conf_node_t *root;
    wm_str_t arg, name;

    is_int(wm_conf_parse_text(&p, (const u_char *) text, strlen(text), "n",
                              &root),
           WM_OK, "names: parsed");
    ok(wm_map_names_collect(&maps, root, "map", 1, false) == NULL,
       "names: map variables collected");
    ok(wm_map_names_has(&maps, &one) && wm_map_names_has(&maps, &two),
       "names: both maps of the block");
    ok(!wm_map_names_has(&maps, &nested), "names: not a nested map");
    ok(!wm_map_names_has(&maps, &a), "names: not the source");
    ok(wm_map_names_collect(&sets, root, "set", 0, true) == NULL,
       "names: set variables collected at any depth");
    ok(wm_map_names_has(&sets, &deep) && wm_map_names_has(&sets, &top),
       "names: a nested set and a top one");
    is_int((long long) sets.len, 9, "names: \"deep\\0top\\0\" only");
    ok(wm_map_names_add(&sets, &top) == NULL && sets.len == 9,
       "names: adding a known name changes nothing");
    wm_map_names_reset(&maps);
    wm_map_names_reset(&sets);
    ok(!wm_map_names_has(&maps, &one) && maps.names == NULL,
       "names: reset empties");

    wm_str_set(&arg, "$ok_1");
    ok(wm_map_var_name(&cf, &arg, &name) == NULL && wm_str_eq(&name, "ok_1"),
       "var name: $ok_1");
    wm_str_set(&arg, "$a-b");
    is_str(wm_map_var_name(&cf, &arg, &name),
           "has invalid variable name \"$a-b\"", "var name: $a-b refused");
    wm_str_set(&arg, "$");
    is_str(wm_map_var_name(&cf, &arg, &name),
           "has invalid variable name \"$\"", "var name: $ alone refused");
}

/* Applies `map` text through wm_map_block() as a setter would. */
static const char *
block(const char *text)
{
    wm_conf_parser_t p = {.pool = pool};
    wm_conf_t cf = {.pool = pool, .report = collect};
    wm_conf_node_t *root;

    errors[0] = '\0';
    if (wm_conf_parse_text(&p, (const u_char *) text, strlen(text), "v.conf",
                           &root)
        != WM_OK)
    {
        return "parse error";
    }
    cf.node = root->children;
    return wm_map_block(&cf, &t_maps, t_map_tables, t_map_var, &ops);
}

static const char *
value(const char *name)
{
    static char out[128];
    wm_str_t n = {strlen(name), (u_char *) name}, v;
    test_req_t r = {0};
    wm_int_t rc = wm_map_var_value(t_maps, t_cache, &n, &r, pool, &v);

    if (rc != WM_OK) {
        snprintf(out, sizeof(out), "rc %d", (int) rc);
    } else {
        snprintf(out, sizeof(out), "%.*s", (int) v.len, (const char *) v.data);
    }
    return out;
}

static void
test_vars(void)
{
    ok(block("map $fixed $m1 { F \"<$m2>\"; }") == NULL, "vars: map m1");
    ok(block("map $fixed $m2 { default \"[$m1]\"; }") == NULL,
       "vars: map m2");
    ok(block("map $count $vol { volatile; default \"v$count\"; }") == NULL,
       "vars: a volatile map");
    is_str(block("map $fixed $m1 { }"), "has duplicate \"m1\" variable",
           "vars: the same name twice");
    is_str(block("map $fixed $fixed { }"),
           "has duplicate \"fixed\" variable", "vars: a variable of a table");
    is_str(block("map $fixed $other { }"), "has unknown \"other\" variable",
           "vars: a name its getter does not know");
    is_str(block("map $fixed m { }"), "has invalid variable name \"m\"",
           "vars: no $");
    is_str(block("map $nosuch $m3 { }"), "uses unknown \"nosuch\" variable",
           "vars: an unknown source");
    is_int((long long) t_maps->nelts, 3, "vars: three maps kept");

    t_cache = wm_map_values_new(t_maps, pool);
    is_str(value("m1"), "<[]>", "vars: m1 -> m2 -> m1 stops at the cycle");
    is_str(value("m2"), "[]", "vars: m2 was kept from inside m1");
    is_str(value("m1"), "<[]>", "vars: m1 kept");
    is_str(value("nope"), "rc -5", "vars: no such map: declined");
    t_counted = 0;
    is_str(value("vol"), "v2", "vars: volatile: source and value evaluated");
    is_str(value("vol"), "v4", "vars: volatile: evaluated again");

    t_cache = wm_map_values_new(t_maps, pool);
    is_str(value("m2"), "[<>]", "vars: a new request starts afresh");
}

int
main(void)
{
    pool = wm_pool_new(0);
    test_exact();
    test_many();
    test_hostnames();
    test_regex();
    test_flags();
    test_errors();
    test_names();
    test_vars();
    wm_pool_free(pool);
    return tap_done();
}
