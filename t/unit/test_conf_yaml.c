/*
 * Unit tests of the YAML configuration parser: every mapping rule, line
 * numbers, every error message with its line, include splicing through a
 * fake callback, and a realistic configuration. Trees are compared as one
 * printed string made by a small printer of this file's own.
 */
#include "wm_conf_tree.h"

#include "tap.h"

/* A growing string for the printer; on malloc failure it stays NULL. */
typedef struct {
    char *s;
    size_t len, cap;
} out_t;

static void
out_add(out_t *o, const char *s, size_t len)
{
    if (o->s == NULL && o->cap) {
        return;
    }
    if (o->len + len + 1 > o->cap) {
        size_t cap = (o->len + len + 1) * 2;
        char *n = realloc(o->s, cap);

        if (n == NULL) {
            free(o->s);
            o->s = NULL;
            o->cap = 1;
            return;
        }
        o->s = n;
        o->cap = cap;
    }
    memcpy(o->s + o->len, s, len);
    o->len += len;
    o->s[o->len] = '\0';
}

static void
out_str(out_t *o, const char *s)
{
    out_add(o, s, strlen(s));
}

/* An argument as the text syntax would need it: quoted when empty or when
 * it holds a space, a quote or a special character. */
static void
print_arg(out_t *o, const wm_str_t *a)
{
    size_t i;

    if (a->len && strcspn((const char *) a->data, " \t\n\"';{}#\\") == a->len) {
        out_add(o, (const char *) a->data, a->len);
        return;
    }
    out_str(o, "\"");
    for (i = 0; i < a->len; i++) {
        if (a->data[i] == '"' || a->data[i] == '\\') {
            out_str(o, "\\");
        }
        out_add(o, (const char *) a->data + i, 1);
    }
    out_str(o, "\"");
}

/* One directive a line, 4 spaces a level, each line prefixed with the
 * node's line number and ':' when `lines` is set. */
static void
print_tree(out_t *o, const wm_conf_node_t *n, int level, int lines)
{
    char num[32];
    size_t i;
    int d;

    for (; n; n = n->next) {
        if (lines) {
            snprintf(num, sizeof(num), "%u:", n->line);
            out_str(o, num);
        }
        for (d = 0; d < level; d++) {
            out_str(o, "    ");
        }
        out_add(o, (const char *) n->name.data, n->name.len);
        for (i = 0; i < n->nargs; i++) {
            out_str(o, " ");
            print_arg(o, &n->args[i]);
        }
        if (!n->block) {
            out_str(o, ";\n");
            continue;
        }
        out_str(o, " {\n");
        print_tree(o, n->children, level + 1, lines);
        if (lines) {
            out_str(o, "-:");
        }
        for (d = 0; d < level; d++) {
            out_str(o, "    ");
        }
        out_str(o, "}\n");
    }
}

/* Checks what every tree must satisfy whatever the input: counts agree,
 * strings are NUL-terminated, all nodes of a file share one pool copy of
 * its name. Returns 1 when all hold. */
static int
tree_sane(const wm_conf_node_t *parent, const char *file)
{
    const wm_conf_node_t *n;
    size_t count = 0, i;

    for (n = parent->children; n; n = n->next) {
        count++;
        if (n->file == NULL || (strcmp(n->file, file) == 0 && n->file != file)
            || n->line == 0 || n->name.len == 0
            || n->name.data[n->name.len] != '\0' || (n->nargs && !n->args)
            || (!n->block && n->children) || !tree_sane(n, file))
        {
            return 0;
        }
        for (i = 0; i < n->nargs; i++) {
            if (n->args[i].data == NULL
                || n->args[i].data[n->args[i].len] != '\0') {
                return 0;
            }
        }
    }
    return count == parent->nchildren;
}

/* The in-memory files the fake include callback serves. */
typedef struct {
    const char *name;
    const char *text;
} fake_file_t;

static const fake_file_t fake_files[] = {
    {"mime.yaml", "types:\n  text/html: html\n  image/png: png\n"},
    {"two.yaml", "- a: 1\n- b: 2\n"},
    {"empty.yaml", "# nothing\n"},
    {"nested.yaml", "x: 1\ninclude: two.yaml\n"},
    {"broken.yaml", "a: [1\n"},
    {"self.yaml", "include: self.yaml\n"},
};

static int include_calls;

/*
 * A stand-in for wm_conf_file.c's callback: looks the argument up in
 * fake_files and parses it as YAML, recursively. `*.none` matches
 * nothing, as an empty glob would.
 */
static wm_int_t
fake_include(wm_conf_parser_t *p, const wm_conf_node_t *inc,
             wm_conf_node_t **first)
{
    const char *arg = (const char *) inc->args[0].data;
    size_t i, n = strlen(arg);
    wm_conf_node_t *root;

    include_calls++;
    *first = NULL;
    if (n >= 5 && strcmp(arg + n - 5, ".none") == 0) {
        return WM_OK;
    }
    if (p->depth >= 4) {
        snprintf(p->err, sizeof(p->err), "%s:%u: include nests too deep",
                 inc->file, inc->line);
        return WM_ERROR;
    }
    for (i = 0; i < wm_nelems(fake_files); i++) {
        if (strcmp(fake_files[i].name, arg) == 0) {
            wm_conf_parser_t sub = {
                .pool = p->pool,
                .include = fake_include,
                .data = p->data,
                .depth = p->depth + 1,
            };

            if (wm_conf_parse_yaml(&sub, (const u_char *) fake_files[i].text,
                                   strlen(fake_files[i].text),
                                   fake_files[i].name, &root)
                != WM_OK)
            {
                memcpy(p->err, sub.err, sizeof(p->err));
                return WM_ERROR;
            }
            *first = root->children;
            return WM_OK;
        }
    }
    snprintf(p->err, sizeof(p->err), "%s:%u: no such file \"%s\"", inc->file,
             inc->line, arg);
    return WM_ERROR;
}

/*
 * Parses yaml (all strlen bytes) and returns the printed tree, or
 * "ERROR: <p->err>" on failure, in malloc memory. `lines` adds line
 * numbers; `inc` installs the fake include callback.
 */
static char *
parse(const char *yaml, int lines, int inc)
{
    wm_pool_t *pool = wm_pool_new(0);
    wm_conf_parser_t p = {
        .pool = pool,
        .include = inc ? fake_include : NULL,
    };
    wm_conf_node_t *root = NULL;
    out_t o = {0};

    if (pool == NULL) {
        return strdup("no pool");
    }
    if (wm_conf_parse_yaml(&p, (const u_char *) yaml, strlen(yaml), "t.yaml",
                           &root)
        != WM_OK)
    {
        out_str(&o, "ERROR: ");
        out_str(&o, p.err);
        if (root != NULL) {
            out_str(&o, " (and a root)");
        }
    } else if (root->name.len != 0 || root->nargs != 0 || root->block
               || strcmp(root->file, "t.yaml") != 0
               || !tree_sane(root, root->file))
    {
        out_str(&o, "INSANE TREE");
    } else {
        out_str(&o, "");
        print_tree(&o, root->children, 0, lines);
    }
    wm_pool_free(pool);
    return o.s ? o.s : strdup("");
}

#ifdef WM_HAVE_YAML

/* The printed tree (no line numbers) of buf parsed by the text or the
 * YAML parser, or "ERROR: ..." ; malloc memory. */
static char *
parse_as(const char *buf, size_t len, int yaml)
{
    wm_pool_t *pool = wm_pool_new(0);
    wm_conf_parser_t p = {.pool = pool};
    wm_conf_node_t *root = NULL;
    out_t o = {0};
    wm_int_t rc;

    if (pool == NULL) {
        return strdup("no pool");
    }
    rc = yaml ? wm_conf_parse_yaml(&p, (const u_char *) buf, len, "t", &root)
              : wm_conf_parse_text(&p, (const u_char *) buf, len, "t", &root);
    out_str(&o, rc == WM_OK ? "" : "ERROR: ");
    if (rc == WM_OK) {
        print_tree(&o, root->children, 0, 0);
    } else {
        out_str(&o, p.err);
    }
    wm_pool_free(pool);
    return o.s ? o.s : strdup("");
}

/* Reads $WM_SRCDIR/path into malloc memory; NULL if it cannot. */
static char *
read_source(const char *path, size_t *len)
{
    const char *dir = getenv("WM_SRCDIR");
    char full[4096];
    char *buf;
    long n;
    FILE *f;

    if (dir == NULL) {
        return NULL;
    }
    snprintf(full, sizeof(full), "%s/%s", dir, path);
    f = fopen(full, "rb");
    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t) n + 1)) == NULL)
    {
        fclose(f);
        return NULL;
    }
    *len = fread(buf, 1, (size_t) n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void
check(const char *yaml, const char *want, const char *name)
{
    char *got = parse(yaml, 0, 0);

    is_str(got, want, name);
    free(got);
}

static void
check_lines(const char *yaml, const char *want, const char *name)
{
    char *got = parse(yaml, 1, 0);

    is_str(got, want, name);
    free(got);
}

static void
check_inc(const char *yaml, const char *want, const char *name)
{
    char *got = parse(yaml, 1, 1);

    is_str(got, want, name);
    free(got);
}

#endif /* WM_HAVE_YAML */

static void
check_err(const char *yaml, const char *err, const char *name)
{
    char *got = parse(yaml, 0, 0);
    char want[1024];

    snprintf(want, sizeof(want), "ERROR: t.yaml:%s", err);
    is_str(got, want, name);
    free(got);
}

static void
test_is_yaml(void)
{
    ok(wm_conf_is_yaml("/etc/wmproxy/wmproxy.yaml"), "is_yaml: .yaml");
    ok(wm_conf_is_yaml("conf.d/a.yml") && wm_conf_is_yaml("A.YML"),
       "is_yaml: .yml, any case");
    ok(!wm_conf_is_yaml("wmproxy.conf") && !wm_conf_is_yaml("yaml")
           && !wm_conf_is_yaml("a.yaml.bak") && !wm_conf_is_yaml(NULL),
       "is_yaml: other names");
}

#ifdef WM_HAVE_YAML

static void
test_rules(void)
{
    /* rule 1: the root */
    check("", "", "empty input: empty root");
    check("# only a comment\n\n", "", "comments only: empty root");
    check("---\n...\n", "", "empty document: empty root");
    check("{}", "", "empty flow mapping: empty root");
    check("- worker_processes: 2\n- daemon: off\n- worker_processes: 3\n",
          "worker_processes 2;\ndaemon off;\nworker_processes 3;\n",
          "root sequence of one-key mappings keeps order and repeats");

    /* rule 2: keys */
    check("location /: {}\n'location \"/a b\"': {}\n"
          "\"return 301 'https://x/ y'\": ~\n",
          "location / {\n}\nlocation \"/a b\" {\n}\n"
          "return 301 \"https://x/ y\";\n",
          "key words, quotes grouping spaces");
    check("'add_header X-A it''s \"\" \\n': ~\n",
          "add_header X-A \"it's\" \"\" \"\\\\n\";\n",
          "mid-word quote, empty quoted word, backslash kept");
    check("\"map\\t$a   $b\": {}\n", "map $a $b {\n}\n",
          "key split on tabs and runs of spaces");

    /* rule 3: scalar values, taken as written */
    check("worker_processes: 2\ndaemon: off\nmaster_process: yes\n"
          "x: 0x10\ny: 1.50\nz: 'null'\n",
          "worker_processes 2;\ndaemon off;\nmaster_process yes;\n"
          "x 0x10;\ny 1.50;\nz null;\n",
          "scalars taken as written, no booleans or numbers");
    check("internal:\na: ~\nb: null\nc: \"\"\nd: ''\ne: Null\n",
          "internal;\na;\nb;\nc \"\";\nd \"\";\ne Null;\n",
          "plain nulls add nothing, quoted empty adds an empty arg");
    check("error_log: logs/error.log info\n",
          "error_log \"logs/error.log info\";\n",
          "a value scalar is one argument, spaces and all");
    check("log_format main: |\n  $remote_addr\n  $status\n",
          "log_format main \"$remote_addr\n$status\n\";\n",
          "block scalar value keeps its newlines");

    /* rule 4 */
    check("error_log: [logs/error.log, info]\nlisten:\n  - 443\n  - ssl\n"
          "  - ~\n  - ''\n",
          "error_log logs/error.log info;\nlisten 443 ssl \"\";\n",
          "sequence of scalars: the arguments, flow and block");

    /* rule 5 */
    check("events:\n  worker_connections: 1024\n  use: epoll\n"
          "http: {sendfile: on, tcp_nopush: on}\n",
          "events {\n    worker_connections 1024;\n    use epoll;\n}\n"
          "http {\n    sendfile on;\n    tcp_nopush on;\n}\n",
          "mapping value: a block, block and flow style");

    /* rule 6 */
    check("location /: [{allow: 10.0.0.0/8}, {deny: all}]\n"
          "location /b:\n  - allow: 10.0.0.0/8\n  - allow: 192.168.0.0/16\n"
          "  - deny: all\n",
          "location / {\n    allow 10.0.0.0/8;\n    deny all;\n}\n"
          "location /b {\n    allow 10.0.0.0/8;\n    allow 192.168.0.0/16;\n"
          "    deny all;\n}\n",
          "sequence of one-key mappings: one block, repeats allowed");

    /* rule 7 */
    check("server: [{listen: 80, root: a}, {listen: 81, root: b}]\n",
          "server {\n    listen 80;\n    root a;\n}\n"
          "server {\n    listen 81;\n    root b;\n}\n",
          "sequence of several-key mappings: repeated blocks");
    check("server:\n  - - listen: 80\n    - listen: 8080\n"
          "  - listen: 81\n    root: b\n  - {}\n  - [{x: 1}]\n",
          "server {\n    listen 80;\n    listen 8080;\n}\n"
          "server {\n    listen 81;\n    root b;\n}\nserver {\n}\n"
          "server {\n    x 1;\n}\n",
          "repeated blocks: lists of one-key maps, mappings, empty {}");

    /* rule 8 */
    check("listen: [[80], [443, ssl], [], [~]]\n",
          "listen 80;\nlisten 443 ssl;\nlisten;\nlisten;\n",
          "sequence of sequences: the directive repeats");
    check("'proxy_set_header Host': [[$host], ['$host:$port']]\n",
          "proxy_set_header Host $host;\nproxy_set_header Host $host:$port;\n",
          "repeat keeps the key's arguments");

    /* rule 9 */
    check("ssl_protocols: []\nhttp: {}\nevents: []\n",
          "ssl_protocols;\nhttp {\n}\nevents;\n",
          "empty sequence: no args; empty mapping: empty block");
}

static void
test_lines(void)
{
    check_lines("# header\n\nworker_processes: auto\n\nevents:\n"
                "  # comment\n  worker_connections: 1024  # trailing\n"
                "http:\n  server:\n    - listen: 80\n      root: a\n"
                "    - listen: 81\n",
                "3:worker_processes auto;\n"
                "5:events {\n7:    worker_connections 1024;\n-:}\n"
                "8:http {\n9:    server {\n10:        listen 80;\n"
                "11:        root a;\n-:    }\n9:    server {\n"
                "12:        listen 81;\n-:    }\n-:}\n",
                "lines: keys, comments, repeats take the key's line");
    check_lines("http: {\n  a: 1,\n  b: [x,\n      y],\n\n  c: {d: 2}\n}\n",
                "1:http {\n2:    a 1;\n3:    b x y;\n6:    c {\n"
                "6:        d 2;\n-:    }\n-:}\n",
                "lines: multi-line flow collections");
    check_lines("- a: 1\n-\n  b:\n    - c: 2\n",
                "1:a 1;\n3:b {\n4:    c 2;\n-:}\n",
                "lines: root sequence, key below its dash");
}

/* `a: {a: {a: ... 1}}` with k flow mappings below the top one. */
static void
nest(char *buf, size_t size, size_t k)
{
    size_t i, n = 0;

    n += (size_t) snprintf(buf + n, size - n, "a: ");
    for (i = 0; i < k; i++) {
        n += (size_t) snprintf(buf + n, size - n, "{a: ");
    }
    n += (size_t) snprintf(buf + n, size - n, "1");
    for (i = 0; i < k; i++) {
        n += (size_t) snprintf(buf + n, size - n, "}");
    }
}

static void
test_errors(void)
{
    char deep[1024];

    check_err("a: 1\nb: 2\na: 3\n", "3: duplicate key \"a\"",
              "duplicate key at the second occurrence");
    check_err("http:\n  server:\n    listen: 80\n    root: x\n"
              "    listen: 81\n    root: y\n",
              "5: duplicate key \"listen\"",
              "nested duplicate: the first repeated key");
    check_err("{\"a b\": 1, 'a b': 2}", "1: duplicate key \"a b\"",
              "duplicate keys compare values, not styles");
    check_err("a: &x 1\n", "1: anchors and aliases are not allowed", "anchor");
    check_err("a: 1\nb:\n  c: *x\n", "3: anchors and aliases are not allowed",
              "alias");
    check_err("a: 1\n? *x\n: 2\n", "2: anchors and aliases are not allowed",
              "alias as key");
    check_err("a: !!str 1\n", "1: tags are not allowed", "tag");
    check_err("a:\n  b: !local {}\n", "2: tags are not allowed", "local tag");
    check_err("a: 1\n? [x]\n: 2\n", "2: mapping keys must be scalars",
              "sequence key");
    check_err("a:\n  {b: 1}: 2\n", "2: mapping keys must be scalars",
              "mapping key");
    check_err("\"\": 1\n", "1: empty key", "empty key");
    check_err("a:\n  b: 1\n  '  ': 2\n", "3: empty key", "blank key");
    check_err("'\"\" x': 1\n", "1: empty key", "key with an empty name");
    check_err("a: [1, {b: c}]\n", "1: mixed sequence for \"a\"",
              "mixed flow sequence");
    check_err("'location /':\n  - allow: all\n  - deny all\n",
              "3: mixed sequence for \"location\"",
              "mixed block sequence: the line of the odd item");
    check_err("a: [[1], [{b: 1}]]\n", "1: mixed sequence for \"a\"",
              "arguments mixed with a block");
    check_err("a: [[1, {b: 1}]]\n", "1: mixed sequence for \"a\"",
              "item mixing scalars and mappings");
    check_err("a: [[[1]]]\n", "1: mixed sequence for \"a\"",
              "sequence nested three deep");
    check_err("a: 1\n---\nb: 2\n", "2: multiple documents are not allowed",
              "two documents");
    check_err("just a string\n", "1: the top level must be a mapping",
              "scalar root");
    check_err("- a: 1\n- b\n", "2: the top level must be a mapping",
              "root sequence with a scalar");
    check_err("- a: 1\n- {b: 1, c: 2}\n", "2: the top level must be a mapping",
              "root sequence with a two-key mapping");
    check_err("'a \"b c': 1\n", "1: unterminated quote in key \"a \"b c\"",
              "unterminated quote");
    check_err("a: b: c\n", "1: mapping values are not allowed in this context",
              "libyaml scanner error");
    check_err("a:\n\tb: c\n", "2: found character that cannot start any token",
              "libyaml error: tab indent");
    check_err("a: [1, 2\nb: 3\n", "2: did not find expected ',' or ']'",
              "libyaml parser error");
    check_err("a: 1\nb:\n  - \"x\\0y\"\n", "3: unexpected NUL byte",
              "NUL written as an escape in a value");
    check_err("\"a\\0\": 1\n", "1: unexpected NUL byte",
              "NUL written as an escape in a key");
    check_err("a: b\nc: d\n\x01\n", "3: control characters are not allowed",
              "libyaml reader error, line from the offset");

    /* 100 nested collections are allowed, 101 are not */
    nest(deep, sizeof(deep), 99);
    {
        char *got = parse(deep, 0, 0);

        if (!ok(strncmp(got, "ERROR", 5) != 0, "nesting of 100 is allowed")) {
            diag("%s", got);
        }
        free(got);
    }
    nest(deep, sizeof(deep), 100);
    check_err(deep, "1: nesting too deep", "nesting of 101 is refused");
    check_err("a:\n b:\n  c:\n   d: {e: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
              "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
              "[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
              "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}\n",
              "4: nesting too deep", "nesting too deep: its line");
}

static void
test_bytes(void)
{
    wm_pool_t *pool = wm_pool_new(0);
    wm_conf_parser_t p = {.pool = pool};
    wm_conf_node_t *root = NULL, *a, *b;
    const char *text = "a: b\nc: d";
    char file[] = "x.yaml";
    int rc;

    rc = wm_conf_parse_yaml(&p, (const u_char *) text, 4, file, &root);
    ok(rc == WM_OK && root && root->nchildren == 1
           && wm_str_eq(&root->children->name, "a")
           && wm_str_eq(&root->children->args[0], "b"),
       "only len bytes are read");

    rc = wm_conf_parse_yaml(&p, (const u_char *) "a: 1\nb: [2, 3]\n", 15, file,
                            &root);
    file[0] = 'y';
    a = root ? root->children : NULL;
    b = a ? a->next : NULL;
    ok(rc == WM_OK && a && b && a->file == b->file && a->file == root->file
           && a->file != file && strcmp(a->file, "x.yaml") == 0,
       "nodes share one pool copy of the file name");
    ok(b && b->nargs == 2 && b->args[1].len == 1 && b->args[1].data[1] == '\0'
           && b->line == 2 && !b->block && b->children == NULL,
       "node fields: args NUL-terminated, line, no block");

    rc = wm_conf_parse_yaml(&p, NULL, 0, "n.yaml", &root);
    ok(rc == WM_OK && root && root->children == NULL && root->nchildren == 0,
       "NULL buffer of length 0: empty root");
    wm_pool_free(pool);
}

static void
test_include(void)
{
    wm_pool_t *pool = wm_pool_new(0);
    wm_conf_parser_t p = {.pool = pool};
    wm_conf_node_t *root = NULL;
    int rc;

    check_inc("a: 0\ninclude: two.yaml\nc: 3\n",
              "1:a 0;\n1:a 1;\n2:b 2;\n3:c 3;\n",
              "include: the files' nodes replace it, with their lines");
    check_inc("http:\n  include: mime.yaml\n  x: 1\n",
              "1:http {\n1:    types {\n2:        text/html html;\n"
              "3:        image/png png;\n-:    }\n3:    x 1;\n-:}\n",
              "include inside a block");
    check_inc("- include: a.none\n- include: empty.yaml\n- z: 1\n"
              "- include: [two.yaml]\n",
              "3:z 1;\n1:a 1;\n2:b 2;\n",
              "include of nothing; include written as a list");
    check_inc("include: nested.yaml\nend: ~\n",
              "1:x 1;\n1:a 1;\n2:b 2;\n2:end;\n",
              "nested include through the callback");
    check_inc("include: [[two.yaml], [two.yaml]]\n",
              "1:a 1;\n2:b 2;\n1:a 1;\n2:b 2;\n", "repeated include");
    check_inc("- include: [a, b]\n- include: ~\n- x: {include: {}}\n",
              "1:include a b;\n2:include;\n3:x {\n3:    include {\n"
              "-:    }\n-:}\n",
              "include with two args, no args or a block is kept");
    check("include: two.yaml\n", "include two.yaml;\n",
          "no callback: include stays a directive");

    check_inc("a: 1\nb:\n  include: nope.yaml\n",
              "ERROR: t.yaml:3: no such file \"nope.yaml\"",
              "callback error propagates with its message");
    check_inc("include: broken.yaml\n",
              "ERROR: broken.yaml:2: did not find expected ',' or ']'",
              "error in an included file");
    check_inc("include: self.yaml\n",
              "ERROR: self.yaml:1: include nests too deep",
              "depth grows through the callback");

    include_calls = 0;
    p.include = fake_include;
    rc = wm_conf_parse_yaml(&p, (const u_char *) "x:\n  include: two.yaml\n",
                            23, "t.yaml", &root);
    ok(rc == WM_OK && include_calls == 1 && root->children->nchildren == 2
           && root->children->children->next->next == NULL,
       "spliced block counts its children and ends its list");
    wm_pool_free(pool);
}

static void
test_realistic(void)
{
    check_lines(
        "# wmproxy in YAML\n"
        "worker_processes: auto\n"
        "error_log: [logs/error.log, warn]\n"
        "events:\n"
        "  worker_connections: 4096\n"
        "http:\n"
        "  include: mime.types\n"
        "  default_type: application/octet-stream\n"
        "  'log_format main': '$remote_addr \"$request\" $status'\n"
        "  upstream backend:\n"
        "    - least_conn:\n"
        "    - server: [10.0.0.1:8080, weight=3]\n"
        "    - server: 10.0.0.2:8080\n"
        "    - server: [10.0.0.3:8080, backup]\n"
        "    - keepalive: 32\n"
        "  server:\n"
        "    - listen: [[80], ['[::]:80']]\n"
        "      server_name: [example.com, www.example.com]\n"
        "      location /:\n"
        "        - root: html\n"
        "        - try_files: [$uri, $uri/, =404]\n"
        "      location ^~ /api/:\n"
        "        proxy_pass: http://backend\n"
        "        'proxy_set_header Host': $host\n"
        "      'location ~ \"\\.(png|jpg)$\"':\n"
        "        expires: 30d\n"
        "    - listen: [443, ssl]\n"
        "      return: [301, 'https://$host$request_uri']\n",
        "2:worker_processes auto;\n"
        "3:error_log logs/error.log warn;\n"
        "4:events {\n"
        "5:    worker_connections 4096;\n"
        "-:}\n"
        "6:http {\n"
        "7:    include mime.types;\n"
        "8:    default_type application/octet-stream;\n"
        "9:    log_format main \"$remote_addr \\\"$request\\\" $status\";\n"
        "10:    upstream backend {\n"
        "11:        least_conn;\n"
        "12:        server 10.0.0.1:8080 weight=3;\n"
        "13:        server 10.0.0.2:8080;\n"
        "14:        server 10.0.0.3:8080 backup;\n"
        "15:        keepalive 32;\n"
        "-:    }\n"
        "16:    server {\n"
        "17:        listen 80;\n"
        "17:        listen [::]:80;\n"
        "18:        server_name example.com www.example.com;\n"
        "19:        location / {\n"
        "20:            root html;\n"
        "21:            try_files $uri $uri/ =404;\n"
        "-:        }\n"
        "22:        location ^~ /api/ {\n"
        "23:            proxy_pass http://backend;\n"
        "24:            proxy_set_header Host $host;\n"
        "-:        }\n"
        "25:        location ~ \"\\\\.(png|jpg)$\" {\n"
        "26:            expires 30d;\n"
        "-:        }\n"
        "-:    }\n"
        "16:    server {\n"
        "27:        listen 443 ssl;\n"
        "28:        return 301 https://$host$request_uri;\n"
        "-:    }\n"
        "-:}\n",
        "realistic http/upstream/server/location config");
}

/* The same configuration in both syntaxes gives the same tree. */
static void
test_same_as_text(void)
{
    static const char yaml[] =
        "worker_processes: auto\n"
        "error_log: [logs/error.log, warn]\n"
        "events: {worker_connections: 4096}\n"
        "http:\n"
        "  'log_format main': '$remote_addr \"$request\" $status'\n"
        "  upstream backend:\n"
        "    - server: [10.0.0.1:8080, weight=3]\n"
        "    - server: 10.0.0.2:8080\n"
        "    - keepalive: 32\n"
        "  server:\n"
        "    - listen: [[80], [443, ssl]]\n"
        "      location /:\n"
        "        - allow: 10.0.0.0/8\n"
        "        - deny: all\n"
        "        - try_files: [$uri, =404]\n"
        "      'location ~ \"\\.(png|jpg)$\"': {expires: 30d}\n"
        "      location /empty: {}\n"
        "    - listen: 81\n"
        "      return: [301, 'https://$host$request_uri']\n"
        "      internal:\n";
    static const char text[] =
        "worker_processes auto;\n"
        "error_log logs/error.log warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        "    log_format main '$remote_addr \"$request\" $status';\n"
        "    upstream backend {\n"
        "        server 10.0.0.1:8080 weight=3;\n"
        "        server 10.0.0.2:8080;\n"
        "        keepalive 32;\n"
        "    }\n"
        "    server {\n"
        "        listen 80;\n"
        "        listen 443 ssl;\n"
        "        location / {\n"
        "            allow 10.0.0.0/8;\n"
        "            deny all;\n"
        "            try_files $uri =404;\n"
        "        }\n"
        "        location ~ \"\\.(png|jpg)$\" { expires 30d; }\n"
        "        location /empty {}\n"
        "    }\n"
        "    server {\n"
        "        listen 81;\n"
        "        return 301 https://$host$request_uri;\n"
        "        internal;\n"
        "    }\n"
        "}\n";
    char *y = parse_as(yaml, sizeof(yaml) - 1, 1);
    char *t = parse_as(text, sizeof(text) - 1, 0);
    char *ybuf, *tbuf;
    size_t ylen = 0, tlen = 0;

    ok(strncmp(y, "ERROR", 5) != 0 && strlen(y) > 500,
       "the YAML side of the comparison parses");
    is_str(y, t, "same tree as the text parser");
    free(y);
    free(t);

    ybuf = read_source("conf/wmproxy.yaml", &ylen);
    tbuf = read_source("conf/wmproxy.conf", &tlen);
    if (ybuf == NULL || tbuf == NULL) {
        ok(1, "conf/wmproxy.yaml # SKIP WM_SRCDIR not set or unreadable");
        ok(1, "conf/wmproxy.conf # SKIP WM_SRCDIR not set or unreadable");
    } else {
        y = parse_as(ybuf, ylen, 1);
        t = parse_as(tbuf, tlen, 0);
        ok(strncmp(y, "ERROR", 5) != 0 && strcmp(y, "") != 0,
           "conf/wmproxy.yaml parses to a non-empty tree");
        is_str(y, t, "conf/wmproxy.yaml is the same tree as wmproxy.conf");
        free(y);
        free(t);
    }
    free(ybuf);
    free(tbuf);
}

#endif /* WM_HAVE_YAML */

int
main(void)
{
    test_is_yaml();
#ifdef WM_HAVE_YAML
    test_rules();
    test_lines();
    test_errors();
    test_bytes();
    test_include();
    test_realistic();
    test_same_as_text();
#else
    check_err("a: 1\n", "1: YAML support is not built in",
              "without libyaml the parser says so");
#endif
    return tap_done();
}
