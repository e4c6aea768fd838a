/*
 * Unit tests of the nginx-syntax parser (wm_conf_text.c) and the canonical
 * printer (wm_conf_dump.c): tokens, quotes and escapes, line numbers,
 * include splicing through a fake callback, every error message with its
 * line, the limits, and the exact dump of a realistic configuration.
 */
#include "wm_conf_tree.h"
#include "tap.h"

/* One parse: the pool, the parser and the result, freed by wm_t_end(). */
typedef struct {
    wm_pool_t *pool;
    wm_conf_parser_t p;
    wm_conf_node_t *root;
    wm_int_t rc;
} wm_t_parse_t;

typedef struct {
    char *s;
    size_t len;
    size_t cap;
} wm_t_buf_t;

/* What the fake include callback knows: file names and their texts. */
typedef struct {
    const char *const *names;
    const char *const *texts;
    size_t n;
    unsigned calls;
} wm_t_files_t;

static void
wm_t_out(void *data, const char *s, size_t len)
{
    wm_t_buf_t *b = data;

    if (b->len + len + 1 > b->cap) {
        b->cap = (b->len + len + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (b->s == NULL) {
            abort();
        }
    }
    memcpy(b->s + b->len, s, len);
    b->len += len;
    b->s[b->len] = '\0';
}

static wm_int_t
wm_t_parse_len(wm_t_parse_t *t, const char *text, size_t len,
               wm_conf_include_pt include, void *data)
{
    memset(t, 0, sizeof(*t));
    t->pool = wm_pool_new(0);
    if (t->pool == NULL) {
        abort();
    }
    t->p.pool = t->pool;
    t->p.include = include;
    t->p.data = data;
    t->rc = wm_conf_parse_text(&t->p, (const u_char *) text, len, "t.conf",
                               &t->root);
    return t->rc;
}

static wm_int_t
wm_t_parse(wm_t_parse_t *t, const char *text)
{
    return wm_t_parse_len(t, text, strlen(text), NULL, NULL);
}

static void
wm_t_end(wm_t_parse_t *t)
{
    wm_pool_free(t->pool);
}

/* The error text of parsing `text`, or "OK"; a static buffer per call. */
static const char *
wm_t_err_len(const char *text, size_t len)
{
    static char err[WM_CONF_ERRLEN];
    wm_t_parse_t t;

    if (wm_t_parse_len(&t, text, len, NULL, NULL) == WM_OK) {
        snprintf(err, sizeof(err), "OK");
    } else {
        snprintf(err, sizeof(err), "%s", t.p.err);
    }
    wm_t_end(&t);
    return err;
}

static const char *
wm_t_err(const char *text)
{
    return wm_t_err_len(text, strlen(text));
}

/* The dump of a tree, malloc'ed. */
static char *
wm_t_dump(const wm_conf_node_t *root)
{
    wm_t_buf_t b = {0};

    wm_t_out(&b, "", 0);
    wm_conf_dump(root, wm_t_out, &b);
    return b.s;
}

/* Parses text and returns its dump, or the error, malloc'ed. */
static char *
wm_t_redump(const char *text)
{
    wm_t_parse_t t;
    char *s;

    if (wm_t_parse(&t, text) != WM_OK) {
        s = strdup(t.p.err);
    } else {
        s = wm_t_dump(t.root);
    }
    wm_t_end(&t);
    return s;
}

/* The i-th argument of a node as a C string, or "(none)". */
static const char *
wm_t_arg(const wm_conf_node_t *n, size_t i)
{
    return n && i < n->nargs ? (const char *) n->args[i].data : "(none)";
}

static const char *
wm_t_name(const wm_conf_node_t *n)
{
    return n ? (const char *) n->name.data : "(none)";
}

static const wm_conf_node_t *
wm_t_child(const wm_conf_node_t *n, size_t i)
{
    const wm_conf_node_t *c = n ? n->children : NULL;

    while (c && i--) {
        c = c->next;
    }
    return c;
}

/* The callback under test: parses the text registered for the pattern. */
static wm_int_t
wm_t_include(wm_conf_parser_t *p, const wm_conf_node_t *include,
             wm_conf_node_t **first)
{
    wm_t_files_t *f = p->data;
    const char *pat = (const char *) include->args[0].data;
    wm_conf_parser_t sub = {
        .pool = p->pool,
        .include = wm_t_include,
        .data = p->data,
        .depth = p->depth + 1,
    };
    wm_conf_node_t *root;
    size_t i;

    f->calls++;
    *first = NULL;
    if (strcmp(pat, "fail") == 0) {
        snprintf(p->err, sizeof(p->err), "%s:%u: include failed on purpose",
                 include->file, include->line);
        return WM_ERROR;
    }
    for (i = 0; i < f->n; i++) {
        if (strcmp(pat, f->names[i]) != 0) {
            continue;
        }
        if (wm_conf_parse_text(&sub, (const u_char *) f->texts[i],
                               strlen(f->texts[i]), f->names[i], &root)
            != WM_OK)
        {
            memcpy(p->err, sub.err, sizeof(p->err));
            return WM_ERROR;
        }
        *first = root->children;
        return WM_OK;
    }
    return WM_OK; /* a glob that matched nothing */
}

static void
test_simple(void)
{
    wm_t_parse_t t;
    const wm_conf_node_t *n;

    is_int(wm_t_parse(&t, "worker_processes 4;\ndaemon off;\n"), WM_OK,
           "simple: parses");
    is_int(t.root->nchildren, 2, "simple: two directives");
    is_int(t.root->name.len, 0, "simple: root has an empty name");
    is_int(t.root->nargs, 0, "simple: root has no args");
    n = wm_t_child(t.root, 0);
    is_str(wm_t_name(n), "worker_processes", "simple: first name");
    is_int(n->nargs, 1, "simple: one arg");
    is_str(wm_t_arg(n, 0), "4", "simple: the arg");
    is_int(n->args[0].len, 1, "simple: arg length");
    ok(!n->block && n->children == NULL, "simple: not a block");
    is_str(n->file, "t.conf", "simple: file");
    ok(n->file == wm_t_child(t.root, 1)->file, "simple: one shared file copy");
    is_int(wm_t_child(t.root, 1)->line, 2, "simple: line of the second");
    ok(wm_t_child(t.root, 1)->next == NULL, "simple: list ends");
    wm_t_end(&t);

    is_int(wm_t_parse(&t, ""), WM_OK, "empty input parses");
    ok(t.root && t.root->children == NULL && t.root->nchildren == 0,
       "empty input: no children");
    wm_t_end(&t);

    is_int(wm_t_parse(&t, "  \n# only a comment\n\t\n"), WM_OK,
           "comments and blanks only parse");
    is_int(t.root->nchildren, 0, "comments and blanks only: no children");
    wm_t_end(&t);

    is_int(wm_t_parse(&t, "a;b;c ;  d\t;"), WM_OK, "several on one line");
    is_int(t.root->nchildren, 4, "several on one line: four");
    is_str(wm_t_name(wm_t_child(t.root, 3)), "d", "several: last name");
    wm_t_end(&t);
}

static void
test_blocks(void)
{
    wm_t_parse_t t;
    const wm_conf_node_t *http, *srv, *loc;

    is_int(wm_t_parse(&t, "http {\n"
                          "    server {\n"
                          "        listen 80;\n"
                          "        location / { root html; }\n"
                          "    }\n"
                          "    server{}\n"
                          "}\n"
                          "events{worker_connections 8;}"),
           WM_OK, "blocks: parse");
    http = wm_t_child(t.root, 0);
    is_int(t.root->nchildren, 2, "blocks: two at the top");
    ok(http->block, "blocks: http is a block");
    is_int(http->nchildren, 2, "blocks: http has two servers");
    srv = wm_t_child(http, 0);
    is_int(srv->line, 2, "blocks: server line");
    is_int(srv->nchildren, 2, "blocks: server has two children");
    loc = wm_t_child(srv, 1);
    is_str(wm_t_name(loc), "location", "blocks: location name");
    is_str(wm_t_arg(loc, 0), "/", "blocks: location arg");
    is_str(wm_t_arg(wm_t_child(loc, 0), 0), "html",
           "blocks: root inside location");
    srv = wm_t_child(http, 1);
    ok(srv->block && srv->children == NULL && srv->nchildren == 0,
       "blocks: server{} is an empty block");
    is_int(wm_t_child(t.root, 1)->line, 8, "blocks: events line");
    is_str(wm_t_arg(wm_t_child(wm_t_child(t.root, 1), 0), 0), "8",
           "blocks: events{...;} without spaces");
    wm_t_end(&t);
}

static void
test_lines(void)
{
    wm_t_parse_t t;

    is_int(wm_t_parse(&t, "# head\n"
                          "a \"x\n"
                          "y\n"
                          "z\" 'p\n"
                          "q';  # tail ;{}\"'\n"
                          "\n"
                          "b\n"
                          "  1\n"
                          "  2;\n"
                          "c \\\n"
                          "d;\n"
                          "e;"),
           WM_OK, "lines: parse");
    is_int(wm_t_child(t.root, 0)->line, 2, "lines: after a comment");
    is_str(wm_t_arg(wm_t_child(t.root, 0), 0), "x\ny\nz",
           "lines: newlines kept in a quoted arg");
    is_str(wm_t_arg(wm_t_child(t.root, 0), 1), "p\nq",
           "lines: newline in a single-quoted arg");
    is_int(wm_t_child(t.root, 1)->line, 7,
           "lines: after multi-line quotes and a comment");
    is_int(wm_t_child(t.root, 1)->nargs, 2, "lines: args on later lines");
    is_int(wm_t_child(t.root, 2)->line, 10, "lines: name line counts");
    is_str(wm_t_arg(wm_t_child(t.root, 2), 0), "\\\nd",
           "lines: backslash-newline kept in a bare word");
    is_int(wm_t_child(t.root, 3)->line, 12,
           "lines: backslash-newline counts a line");
    wm_t_end(&t);

    is_int(wm_t_parse(&t, "a 1;\r\nhttp {\r\n\tb \"x\";\r\n}\r\nc 2;"), WM_OK,
           "crlf: parse");
    is_str(wm_t_arg(wm_t_child(t.root, 0), 0), "1", "crlf: no CR in words");
    is_int(wm_t_child(t.root, 1)->line, 2, "crlf: block line");
    is_int(wm_t_child(wm_t_child(t.root, 1), 0)->line, 3, "crlf: inner line");
    is_int(wm_t_child(t.root, 2)->line, 5, "crlf: last line");
    is_str(wm_t_arg(wm_t_child(t.root, 2), 0), "2",
           "crlf: no trailing newline needed");
    wm_t_end(&t);
}

static void
test_quotes(void)
{
    wm_t_parse_t t;
    const wm_conf_node_t *n;

    is_int(wm_t_parse(&t, "a \"x y\" 'p;q' \"\" '' \"it's\" 'say \"hi\"' "
                          "\"\\\"\\'\\\\\\n\\t\\r\" '\\\"\\'\\\\\\n\\t\\r' "
                          "\"\\.php$\" '\\d+\\q' \"a\\\\\";"),
           WM_OK, "quotes: parse");
    n = wm_t_child(t.root, 0);
    is_int(n->nargs, 11, "quotes: eleven args");
    is_str(wm_t_arg(n, 0), "x y", "quotes: space inside double quotes");
    is_str(wm_t_arg(n, 1), "p;q", "quotes: ; inside single quotes");
    is_str(wm_t_arg(n, 2), "", "quotes: empty double-quoted arg");
    is_int(n->args[2].len, 0, "quotes: empty arg has length 0");
    is_str(wm_t_arg(n, 3), "", "quotes: empty single-quoted arg");
    is_str(wm_t_arg(n, 4), "it's", "quotes: ' inside double quotes");
    is_str(wm_t_arg(n, 5), "say \"hi\"", "quotes: \" inside single quotes");
    is_str(wm_t_arg(n, 6), "\"'\\\n\t\r",
           "quotes: escapes decoded in double quotes");
    is_str(wm_t_arg(n, 7), "\"'\\\n\t\r",
           "quotes: escapes decoded in single quotes");
    is_str(wm_t_arg(n, 8), "\\.php$", "quotes: \\. kept verbatim");
    is_str(wm_t_arg(n, 9), "\\d+\\q", "quotes: \\d and \\q kept verbatim");
    is_str(wm_t_arg(n, 10), "a\\", "quotes: \\\\ before the closing quote");
    wm_t_end(&t);

    is_int(wm_t_parse(&t, "\"two words\" x;'n'{}\"q\"{z;}'w';"), WM_OK,
           "quotes: quoted names parse");
    is_str(wm_t_name(wm_t_child(t.root, 0)), "two words",
           "quotes: a quoted name");
    ok(wm_t_child(t.root, 1)->block, "quotes: quoted word then {");
    is_str(wm_t_name(wm_t_child(t.root, 3)), "w", "quotes: quoted word then ;");
    wm_t_end(&t);

    is_int(wm_t_parse(&t, "a b\\;c \\{x\\} d\\ e \\\"f\\' g\\\\h \\d\\.\\$ "
                          "i\"j'k \\#l;"),
           WM_OK, "bare escapes: parse");
    n = wm_t_child(t.root, 0);
    is_int(n->nargs, 8, "bare escapes: eight args");
    is_str(wm_t_arg(n, 0), "b;c", "bare escapes: \\; yields ;");
    is_str(wm_t_arg(n, 1), "{x}", "bare escapes: \\{ \\} yield braces");
    is_str(wm_t_arg(n, 2), "d e", "bare escapes: backslash-space");
    is_str(wm_t_arg(n, 3), "\"f'", "bare escapes: \\\" and \\'");
    is_str(wm_t_arg(n, 4), "g\\h", "bare escapes: \\\\");
    is_str(wm_t_arg(n, 5), "\\d\\.\\$", "bare escapes: others verbatim");
    is_str(wm_t_arg(n, 6), "i\"j'k", "bare: quotes inside a word are bytes");
    is_str(wm_t_arg(n, 7), "\\#l", "bare escapes: \\# verbatim");
    wm_t_end(&t);

    is_int(wm_t_parse(&t, "a b\\"), WM_ERROR, "bare: backslash at the end");
    is_str(t.p.err, "t.conf:1: \"a\" directive is not terminated by \";\"",
           "bare: backslash at the end is part of the word");
    wm_t_end(&t);
}

/* nginx's `if (...)`: a ")" right after a quoted string is the next word,
 * and a quoted regex may hold braces. */
static void
test_if_condition(void)
{
    wm_t_parse_t t;
    const wm_conf_node_t *n;
    char *d;

    is_int(wm_t_parse(&t, "if ($a = \"b c\") { return 200; }\n"
                          "if ($http_x ~* \"^foo$\")\n{ }\n"
                          "if ($uri ~ \"^/a{2}(x|y)$\"){}\n"
                          "if ( 'x')y;\n"
                          "if ($a = \"\")\t{}\n"),
           WM_OK, "if: parse");
    n = wm_t_child(t.root, 0);
    is_int(n->nargs, 4, "if: = with a quoted value has four args");
    is_str(wm_t_arg(n, 0), "($a", "if: ( stays on the variable");
    is_str(wm_t_arg(n, 2), "b c", "if: the quoted value");
    is_str(wm_t_arg(n, 3), ")", "if: ) after the quote is its own word");
    ok(n->block && n->nchildren == 1, "if: the block follows");
    n = wm_t_child(t.root, 1);
    is_str(wm_t_arg(n, 2), "^foo$", "if: a quoted regex");
    is_str(wm_t_arg(n, 3), ")", "if: ) after the regex");
    is_int(n->line, 2, "if: line of the second if");
    n = wm_t_child(t.root, 2);
    is_str(wm_t_arg(n, 2), "^/a{2}(x|y)$", "if: braces inside quotes");
    is_str(wm_t_arg(n, 3), ")", "if: ) then { without a space");
    ok(n->block, "if: a block right after )");
    n = wm_t_child(t.root, 3);
    is_int(n->nargs, 3, "if: ')y' after a quote is one word");
    is_str(wm_t_arg(n, 2), ")y", "if: the word after the quote");
    n = wm_t_child(t.root, 4);
    is_str(wm_t_arg(n, 2), "", "if: an empty quoted value");
    is_int(n->nargs, 4, "if: an empty value then )");
    wm_t_end(&t);

    d = wm_t_redump("if ($a = \"b c\") { return 200 \"x)\"; }");
    is_str(d, "if ($a = \"b c\" ) {\n    return 200 x);\n}\n",
           "if: the dump parses back to the same words");
    free(d);
    is_str(wm_t_err("if ($a = \"b\"(\n"),
           "t.conf:1: unexpected \"(\" after quoted string",
           "if: only ) may follow a quote");
}

static void
test_variables(void)
{
    wm_t_parse_t t;
    const wm_conf_node_t *n;

    is_int(wm_t_parse(&t, "set $a ${host}x ${a}${b} x${ab}{ c; }\n"
                          "location ~ ^/x$ { return 200 $uri; }\n"
                          "w a${b c;\n"),
           WM_OK, "variables: parse");
    n = wm_t_child(t.root, 0);
    is_int(n->nargs, 4, "variables: four args");
    is_str(wm_t_arg(n, 0), "$a", "variables: $var kept");
    is_str(wm_t_arg(n, 1), "${host}x", "variables: ${var}x one word");
    is_str(wm_t_arg(n, 2), "${a}${b}", "variables: two ${} in a row");
    is_str(wm_t_arg(n, 3), "x${ab}", "variables: { after ${..} opens");
    ok(n->block && n->nchildren == 1, "variables: block after ${..}");
    n = wm_t_child(t.root, 1);
    is_str(wm_t_arg(n, 1), "^/x$", "variables: $ at a regex end");
    ok(n->block, "variables: $ then space then { opens a block");
    is_str(wm_t_arg(wm_t_child(n, 0), 1), "$uri", "variables: $uri");
    n = wm_t_child(t.root, 2);
    is_int(n->nargs, 2, "variables: unclosed ${ ends at a space");
    is_str(wm_t_arg(n, 0), "a${b", "variables: unclosed ${ kept");
    wm_t_end(&t);

    is_str(wm_t_err("m \\${x};\n"), "t.conf:1: unexpected \"}\"",
           "variables: \\$ does not start ${, so { opens a block");
}

static void
test_comments(void)
{
    wm_t_parse_t t;

    is_int(wm_t_parse(&t, "#top\n"
                          "  # indented; {\n"
                          "a b; # after\n"
                          "c d#e f#;\n"
                          "g #h\n"
                          ";\n"
                          "i;#j}\n"
                          "k '#l';"),
           WM_OK, "comments: parse");
    is_int(t.root->nchildren, 5, "comments: five directives");
    is_str(wm_t_arg(wm_t_child(t.root, 1), 0), "d#e",
           "comments: # inside a word");
    is_str(wm_t_arg(wm_t_child(t.root, 1), 1), "f#",
           "comments: # ending a word");
    is_int(wm_t_child(t.root, 2)->nargs, 0,
           "comments: comment between name and ;");
    is_str(wm_t_name(wm_t_child(t.root, 3)), "i", "comments: after ;");
    is_str(wm_t_arg(wm_t_child(t.root, 4), 0), "#l",
           "comments: # in quotes is a byte");
    wm_t_end(&t);
}

static void
test_include(void)
{
    static const char *const names[] = {"a.conf", "b.conf", "nested.conf",
                                        "bad.conf"};
    static const char *const texts[] = {"x 1;\ny 2;\n", "z 3;\n",
                                        "n {\n include b.conf;\n}\nlast;\n",
                                        "ok;\n}\n"};
    wm_t_files_t f = {names, texts, 4, 0};
    wm_t_parse_t t;
    const wm_conf_node_t *n;
    const char *text;
    char *d;

    text = "first;\n"
           "include a.conf;\n"
           "http {\n"
           "    include b.conf;\n"
           "    include none*.conf;\n"
           "    include nested.conf;\n"
           "    after;\n"
           "}\n"
           "include a b;\n"
           "include x { }\n"
           "include none*.conf;\n";
    is_int(wm_t_parse_len(&t, text, strlen(text), wm_t_include, &f), WM_OK,
           "include: parse");
    is_int(f.calls, 6, "include: callback called for each include");
    d = wm_t_dump(t.root);
    is_str(d,
           "first;\n"
           "x 1;\n"
           "y 2;\n"
           "http {\n"
           "    z 3;\n"
           "    n {\n"
           "        z 3;\n"
           "    }\n"
           "    last;\n"
           "    after;\n"
           "}\n"
           "include a b;\n"
           "include x {\n"
           "}\n",
           "include: spliced at every depth, the include nodes gone");
    free(d);
    is_int(t.root->nchildren, 6, "include: top-level count after splicing");
    n = wm_t_child(t.root, 3);
    is_int(n->nchildren, 4, "include: nested count after splicing");
    is_str(wm_t_child(n, 0)->file, "b.conf", "include: spliced node's file");
    is_int(wm_t_child(n, 2)->line, 4, "include: spliced node's line");
    is_str(wm_t_child(n, 3)->file, "t.conf", "include: then our own file");
    is_int(wm_t_child(n, 3)->line, 7, "include: and our own line");
    wm_t_end(&t);

    f.calls = 0;
    text = "a;\nhttp {\n  include fail;\n}\n";
    is_int(wm_t_parse_len(&t, text, strlen(text), wm_t_include, &f), WM_ERROR,
           "include: callback error fails the parse");
    is_str(t.p.err, "t.conf:3: include failed on purpose",
           "include: callback's error kept as written");
    wm_t_end(&t);

    text = "include bad.conf;\n";
    is_int(wm_t_parse_len(&t, text, strlen(text), wm_t_include, &f), WM_ERROR,
           "include: error in an included file");
    is_str(t.p.err, "bad.conf:2: unexpected \"}\"",
           "include: included file's error and line");
    wm_t_end(&t);

    is_int(wm_t_parse(&t, "include a.conf;\n"), WM_OK,
           "include: no callback parses");
    n = wm_t_child(t.root, 0);
    ok(n && t.root->nchildren == 1 && strcmp(wm_t_name(n), "include") == 0
           && strcmp(wm_t_arg(n, 0), "a.conf") == 0,
       "include: no callback keeps the node");
    wm_t_end(&t);
}

static void
test_errors(void)
{
    char *big;
    size_t i;

    is_str(wm_t_err("a;\n}\n"), "t.conf:2: unexpected \"}\"",
           "error: stray } at the top");
    is_str(wm_t_err("events {\n}\n}\n"), "t.conf:3: unexpected \"}\"",
           "error: } after a closed block");
    is_str(wm_t_err("a {\n  b c\n}\n"), "t.conf:3: unexpected \"}\"",
           "error: } inside an unfinished directive");
    is_str(wm_t_err("a;\n  ;\n"), "t.conf:2: unexpected \";\"",
           "error: ; without a name");
    is_str(wm_t_err("a {}\n\n{"), "t.conf:3: unexpected \"{\"",
           "error: { without a name");
    is_str(wm_t_err("a {};"), "t.conf:1: unexpected \";\"",
           "error: ; after a block");
    is_str(wm_t_err("x;\ndaemon\n  off\n"),
           "t.conf:2: \"daemon\" directive is not terminated by \";\"",
           "error: end of file inside a directive");
    is_str(wm_t_err("a { b { c; }"),
           "t.conf:1: \"a\" directive has no closing \"}\"",
           "error: end of file with an open block");
    is_str(wm_t_err("daemon off;\nevents {\n    worker_connections 10;\n"),
           "t.conf:2: \"events\" directive has no closing \"}\"",
           "error: no closing }, line of the block");
    is_str(wm_t_err("http {\n server {\n  location / {\n  }\n"),
           "t.conf:2: \"server\" directive has no closing \"}\"",
           "error: no closing }, innermost block");
    is_str(wm_t_err("a \"b\n\nc;\n"), "t.conf:1: unterminated quoted string",
           "error: unterminated double quote, line it opened");
    is_str(wm_t_err("a;\nb 'c\\'"), "t.conf:2: unterminated quoted string",
           "error: unterminated single quote after an escape");
    is_str(wm_t_err("a \"b\\"), "t.conf:1: unterminated quoted string",
           "error: backslash at the end inside quotes");
    is_str(wm_t_err("a\n\"b\"c;"),
           "t.conf:2: unexpected \"c\" after quoted string",
           "error: letter after a quoted string");
    is_str(wm_t_err("a \"b\n\"'c';"),
           "t.conf:2: unexpected \"'\" after quoted string",
           "error: quote after a quoted string, line of the close");
    is_str(wm_t_err("a 'b'#c\n;"),
           "t.conf:1: unexpected \"#\" after quoted string",
           "error: # right after a quoted string");
    is_str(wm_t_err("a 'b'\x01;"),
           "t.conf:1: unexpected \"\\x01\" after quoted string",
           "error: control byte after a quoted string");
    is_str(wm_t_err("a 'b'\xff;"),
           "t.conf:1: unexpected \"\\xff\" after quoted string",
           "error: high byte after a quoted string");
    is_str(wm_t_err_len("a;\nb\0;", 6), "t.conf:2: unexpected NUL byte",
           "error: NUL in a word");
    is_str(wm_t_err_len("a;\n\n\0", 5), "t.conf:3: unexpected NUL byte",
           "error: NUL between tokens");
    is_str(wm_t_err_len("a; # x\0\n", 8), "t.conf:1: unexpected NUL byte",
           "error: NUL in a comment");
    is_str(wm_t_err_len("a \"\n\0\";", 7), "t.conf:2: unexpected NUL byte",
           "error: NUL in quotes");
    is_str(wm_t_err_len("a \"x\"\0;", 7), "t.conf:1: unexpected NUL byte",
           "error: NUL after quotes");
    is_str(wm_t_err_len("a b\\\0;", 6), "t.conf:1: unexpected NUL byte",
           "error: NUL after a backslash");
    is_str(wm_t_err_len("a ${\0};", 7), "t.conf:1: unexpected NUL byte",
           "error: NUL inside ${}");

    /* Limits: exactly at the limit passes, one more fails. */
    big = malloc(200000);
    if (big == NULL) {
        abort();
    }
    big[0] = '\0';
    for (i = 0; i < 100; i++) {
        strcat(big, "a{");
    }
    for (i = 0; i < 100; i++) {
        strcat(big, "}");
    }
    is_str(wm_t_err(big), "OK", "limit: 100 nested blocks");
    big[0] = '\0';
    strcat(big, "x;\n");
    for (i = 0; i < 100; i++) {
        strcat(big, "a {");
    }
    strcat(big, "\nb {");
    is_str(wm_t_err(big), "t.conf:3: blocks nested too deep",
           "limit: 101 nested blocks");

    strcpy(big, "a");
    for (i = 0; i < 1024; i++) {
        strcat(big, " x");
    }
    strcat(big, ";");
    is_str(wm_t_err(big), "OK", "limit: 1024 args");
    strcpy(big, "\na");
    for (i = 0; i < 1025; i++) {
        strcat(big, "\n x");
    }
    strcat(big, ";");
    is_str(wm_t_err(big), "t.conf:2: too many arguments in \"a\" directive",
           "limit: 1025 args");

    strcpy(big, "a ");
    memset(big + 2, 'x', 65536);
    strcpy(big + 2 + 65536, ";");
    is_str(wm_t_err(big), "OK", "limit: a 64 KiB word");
    strcpy(big, "a\n\"");
    memset(big + 3, 'x', 65537);
    strcpy(big + 3 + 65537, "\";");
    is_str(wm_t_err(big), "t.conf:2: token too long",
           "limit: a quoted word over 64 KiB");
    strcpy(big, "a ");
    for (i = 0; i < 65537; i++) {
        memcpy(big + 2 + 2 * i, "\\;", 2);
    }
    strcpy(big + 2 + 2 * 65537, ";");
    is_str(wm_t_err(big), "t.conf:1: token too long",
           "limit: counts decoded bytes");
    free(big);
}

static void
test_dump(void)
{
    wm_t_parse_t t, t2;
    char *d, *d2;
    const char *conf =
        "# a realistic configuration\n"
        "user  nobody nogroup;\n"
        "worker_processes auto;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    include       mime.types;\n"
        "    log_format main '$remote_addr - $remote_user [$time_local] '\n"
        "                    '\"$request\" $status';\n"
        "    map $http_upgrade $connection_upgrade {\n"
        "        default upgrade;\n"
        "        ''      close;\n"
        "    }\n"
        "    upstream backend {\n"
        "        least_conn;\n"
        "        server 127.0.0.1:8080 weight=3 max_fails=2;\n"
        "        server unix:/tmp/b.sock backup;\n"
        "    }\n"
        "    server {\n"
        "        listen 80 default_server;\n"
        "        server_name example.com *.example.com;\n"
        "        location ~* \\.(gif|jpg)$ { expires 30d; }\n"
        "        location ~ \"^/api/(\\d+)\\.json$\" {\n"
        "            proxy_pass http://backend;\n"
        "            proxy_set_header Host ${host}:$server_port;\n"
        "        }\n"
        "        location = /50x.html { }\n"
        "        error_page 500 502 \"/error page.html\";\n"
        "        add_header X-Note \"a;b {c}\\tsaid \\\"hi\\\"\";\n"
        "        return 200 \"#not a comment\\n\";\n"
        "    }\n"
        "}\n";
    const char *want =
        "user nobody nogroup;\n"
        "worker_processes auto;\n"
        "events {\n"
        "    worker_connections 1024;\n"
        "}\n"
        "http {\n"
        "    include mime.types;\n"
        "    log_format main \"$remote_addr - $remote_user [$time_local] \" "
        "\"\\\"$request\\\" $status\";\n"
        "    map $http_upgrade $connection_upgrade {\n"
        "        default upgrade;\n"
        "        \"\" close;\n"
        "    }\n"
        "    upstream backend {\n"
        "        least_conn;\n"
        "        server 127.0.0.1:8080 weight=3 max_fails=2;\n"
        "        server unix:/tmp/b.sock backup;\n"
        "    }\n"
        "    server {\n"
        "        listen 80 default_server;\n"
        "        server_name example.com *.example.com;\n"
        "        location ~* \"\\\\.(gif|jpg)$\" {\n"
        "            expires 30d;\n"
        "        }\n"
        "        location ~ \"^/api/(\\\\d+)\\\\.json$\" {\n"
        "            proxy_pass http://backend;\n"
        "            proxy_set_header Host \"${host}:$server_port\";\n"
        "        }\n"
        "        location = /50x.html {\n"
        "        }\n"
        "        error_page 500 502 \"/error page.html\";\n"
        "        add_header X-Note \"a;b {c}\\tsaid \\\"hi\\\"\";\n"
        "        return 200 \"#not a comment\\n\";\n"
        "    }\n"
        "}\n";

    is_int(wm_t_parse(&t, conf), WM_OK, "dump: realistic config parses");
    d = wm_t_dump(t.root);
    is_str(d, want, "dump: exact canonical text");
    is_int(wm_t_parse(&t2, d), WM_OK, "dump: the dump parses");
    d2 = wm_t_dump(t2.root);
    is_str(d2, d, "dump: dump of the dump is the same");
    is_str(wm_t_arg(wm_t_child(wm_t_child(wm_t_child(t2.root, 3), 4), 3), 1),
           "^/api/(\\d+)\\.json$", "dump: regex survives the round trip");
    free(d);
    free(d2);
    wm_t_end(&t);
    wm_t_end(&t2);

    d = wm_t_redump("a \"\" \"#x\" x# \"a\\\\b\" 'q\"' \"\\r\\n\\t\" $x "
                    "'it''s';");
    is_str(d, "t.conf:1: unexpected \"'\" after quoted string",
           "dump: (adjacent quoted words are an error)");
    free(d);
    d = wm_t_redump("\"\" \"\" \"#x\" x# \"a\\\\b\" 'q\"' \"\\r\\n\\t\" $x "
                    "\"it's\" a\\ b 'v\x01';\nb{}");
    is_str(d,
           "\"\" \"\" \"#x\" x# \"a\\\\b\" \"q\\\"\" \"\\r\\n\\t\" $x "
           "\"it's\" \"a b\" v\x01;\nb {\n}\n",
           "dump: quoting rules for odd words");
    free(d);

    d = wm_t_dump(NULL);
    is_str(d, "", "dump: NULL root prints nothing");
    free(d);
}

static void
test_deep_dump(void)
{
    char *big = malloc(4096), *d, *want;
    size_t i, off = 0;

    if (big == NULL || (want = malloc(65536)) == NULL) {
        abort();
    }
    big[0] = '\0';
    for (i = 0; i < 100; i++) {
        strcat(big, "a{");
    }
    for (i = 0; i < 100; i++) {
        strcat(big, "}");
    }
    for (i = 0; i < 100; i++) {
        memset(want + off, ' ', 4 * i);
        off += 4 * i;
        memcpy(want + off, "a {\n", 4);
        off += 4;
    }
    for (i = 100; i-- > 0;) {
        memset(want + off, ' ', 4 * i);
        off += 4 * i;
        memcpy(want + off, "}\n", 2);
        off += 2;
    }
    want[off] = '\0';
    d = wm_t_redump(big);
    is_str(d, want, "dump: 100 levels of indent");
    free(d);
    free(want);
    free(big);
}

int
main(void)
{
    test_simple();
    test_blocks();
    test_lines();
    test_quotes();
    test_if_condition();
    test_variables();
    test_comments();
    test_include();
    test_errors();
    test_dump();
    test_deep_dump();
    return tap_done();
}
