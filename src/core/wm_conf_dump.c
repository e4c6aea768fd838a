/*
 * The canonical printer of a configuration tree, behind `wmproxy -T`: one
 * directive per line, 4 spaces per level, words quoted only when the text
 * parser would otherwise read them differently. Its output parses back to
 * the same tree, which the unit test and the fuzz target check.
 */
#include "wm_conf_tree.h"

typedef void (*wm_conf_out_pt)(void *data, const char *s, size_t len);

static void wm_conf_dump_word(const wm_str_t *w, wm_conf_out_pt out,
                              void *data);
static void wm_conf_dump_node(const wm_conf_node_t *node, size_t level,
                              wm_conf_out_pt out, void *data);

/*
 * True when the word reads back as itself without quotes: not empty, no
 * byte that ends or escapes a bare word, and no "#" that would start a
 * comment. "$" needs no care: without "{" no "${" can form.
 */
static bool
wm_conf_dump_bare(const wm_str_t *w)
{
    size_t i;

    if (w->len == 0 || w->data[0] == '#') {
        return false;
    }
    for (i = 0; i < w->len; i++) {
        switch (w->data[i]) {
        case ' ':
        case '\t':
        case '\r':
        case '\n':
        case ';':
        case '{':
        case '}':
        case '"':
        case '\'':
        case '\\':
            return false;
        }
    }
    return true;
}

/* Writes a word bare or in double quotes with \\ \" \n \t \r escapes. */
static void
wm_conf_dump_word(const wm_str_t *w, wm_conf_out_pt out, void *data)
{
    const char *s = (const char *) w->data, *esc;
    size_t i, run = 0;

    if (wm_conf_dump_bare(w)) {
        out(data, s, w->len);
        return;
    }
    out(data, "\"", 1);
    for (i = 0; i < w->len; i++) {
        switch (s[i]) {
        case '\\':
            esc = "\\\\";
            break;
        case '"':
            esc = "\\\"";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            run++;
            continue;
        }
        if (run) {
            out(data, s + i - run, run);
            run = 0;
        }
        out(data, esc, 2);
    }
    if (run) {
        out(data, s + w->len - run, run);
    }
    out(data, "\"", 1);
}

static void
wm_conf_dump_indent(size_t level, wm_conf_out_pt out, void *data)
{
    static const char spaces[] = "                                ";
    size_t n = level * 4, k;

    while (n) {
        k = wm_min(n, sizeof(spaces) - 1);
        out(data, spaces, k);
        n -= k;
    }
}

/* Recursion is bounded by the parsers' nesting limits. */
static void
wm_conf_dump_node(const wm_conf_node_t *node, size_t level, wm_conf_out_pt out,
                  void *data)
{
    const wm_conf_node_t *child;
    size_t i;

    wm_conf_dump_indent(level, out, data);
    wm_conf_dump_word(&node->name, out, data);
    for (i = 0; i < node->nargs; i++) {
        out(data, " ", 1);
        wm_conf_dump_word(&node->args[i], out, data);
    }
    if (!node->block) {
        out(data, ";\n", 2);
        return;
    }
    out(data, " {\n", 3);
    for (child = node->children; child; child = child->next) {
        wm_conf_dump_node(child, level + 1, out, data);
    }
    wm_conf_dump_indent(level, out, data);
    out(data, "}\n", 2);
}

void
wm_conf_dump(const wm_conf_node_t *root,
             void (*out)(void *data, const char *s, size_t len), void *data)
{
    const wm_conf_node_t *node;

    if (root == NULL) {
        return;
    }
    for (node = root->children; node; node = node->next) {
        wm_conf_dump_node(node, 0, out, data);
    }
}
