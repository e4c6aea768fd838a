/*
 * The parser of nginx-syntax configuration text: bytes in, a tree of
 * wm_conf_node_t out (see wm_conf_tree.h). It knows no directive, opens no
 * file, and bounds what hostile input can make it allocate or recurse into.
 */
#include "wm_conf_tree.h"

/* Limits that keep a hostile file from exploding the tree. */
#define WM_CONF_TEXT_MAX_DEPTH 100   /* nested blocks */
#define WM_CONF_TEXT_MAX_ARGS 1024   /* arguments of one directive */
#define WM_CONF_TEXT_MAX_TOKEN 65536 /* decoded bytes of one word */

typedef enum {
    WM_CONF_TOK_WORD,
    WM_CONF_TOK_SEMI,
    WM_CONF_TOK_OPEN,
    WM_CONF_TOK_CLOSE,
    WM_CONF_TOK_EOF,
    WM_CONF_TOK_ERROR
} wm_conf_tok_e;

/* One open block: its node and the link its next child goes into. */
typedef struct {
    wm_conf_node_t *node;
    wm_conf_node_t **tail;
} wm_conf_text_level_t;

/*
 * The state of one wm_conf_parse_text() call. The word and argument
 * buffers are malloc'ed scratch, freed before returning, so that growing
 * them wastes nothing in the caller's pool.
 */
typedef struct {
    wm_conf_parser_t *p;
    const u_char *pos;
    const u_char *end;
    const char *file;  /* pool copy shared by every node */
    unsigned line;     /* line of pos */
    unsigned tok_line; /* line where the last token began */
    u_char *tok;       /* decoded bytes of the last word */
    size_t tok_len;
    size_t tok_cap;
    wm_str_t *args; /* pool copies of the current directive's args */
    size_t nargs;
    size_t args_cap;
    size_t depth; /* open blocks; stack[0] is the root */
    wm_conf_text_level_t stack[WM_CONF_TEXT_MAX_DEPTH + 1];
} wm_conf_text_t;

static wm_int_t wm_conf_text_error(wm_conf_text_t *t, unsigned line,
                                   const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static wm_int_t wm_conf_text_put(wm_conf_text_t *t, u_char c);
static wm_conf_tok_e wm_conf_text_next(wm_conf_text_t *t);
static wm_conf_tok_e wm_conf_text_quoted(wm_conf_text_t *t);
static wm_conf_tok_e wm_conf_text_bare(wm_conf_text_t *t);
static wm_int_t wm_conf_text_arg(wm_conf_text_t *t, const wm_str_t *name,
                                 unsigned line);
static wm_conf_node_t *wm_conf_text_node(wm_conf_text_t *t,
                                         const wm_str_t *name, unsigned line,
                                         bool block);
static wm_int_t wm_conf_text_add(wm_conf_text_t *t, wm_conf_node_t *node);
static wm_int_t wm_conf_text_run(wm_conf_text_t *t);

static bool
wm_conf_text_space(u_char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Ends a word that is not quoted. */
static bool
wm_conf_text_stop(u_char c)
{
    return wm_conf_text_space(c) || c == ';' || c == '{' || c == '}';
}

/* Writes "file:line: message" into p->err; always returns WM_ERROR. */
static wm_int_t
wm_conf_text_error(wm_conf_text_t *t, unsigned line, const char *fmt, ...)
{
    va_list ap;
    int n;

    n = snprintf(t->p->err, WM_CONF_ERRLEN, "%s:%u: ", t->file, line);
    if (n >= 0 && n < WM_CONF_ERRLEN) {
        va_start(ap, fmt);
        vsnprintf(t->p->err + n, WM_CONF_ERRLEN - (size_t) n, fmt, ap);
        va_end(ap);
    }
    return WM_ERROR;
}

/* Appends one decoded byte to the current word, within the token limit. */
static wm_int_t
wm_conf_text_put(wm_conf_text_t *t, u_char c)
{
    u_char *tok;
    size_t cap;

    if (t->tok_len == t->tok_cap) {
        if (t->tok_cap >= WM_CONF_TEXT_MAX_TOKEN) {
            return wm_conf_text_error(t, t->tok_line, "token too long");
        }
        cap = t->tok_cap ? t->tok_cap * 2 : 256;
        cap = wm_min(cap, (size_t) WM_CONF_TEXT_MAX_TOKEN);
        tok = realloc(t->tok, cap);
        if (tok == NULL) {
            return wm_conf_text_error(t, t->line, "out of memory");
        }
        t->tok = tok;
        t->tok_cap = cap;
    }
    t->tok[t->tok_len++] = c;
    return WM_OK;
}

/*
 * Reads the next token. Whitespace and comments are skipped; a `#` starts
 * a comment only where a token would start. A word is left decoded in
 * t->tok, and t->tok_line is the line it (or the punctuation) began on.
 */
static wm_conf_tok_e
wm_conf_text_next(wm_conf_text_t *t)
{
    u_char c;

    while (t->pos < t->end) {
        c = *t->pos;
        if (c == '\n') {
            t->line++;
        } else if (c == '#') {
            while (t->pos < t->end && *t->pos != '\n') {
                if (*t->pos == '\0') {
                    wm_conf_text_error(t, t->line, "unexpected NUL byte");
                    return WM_CONF_TOK_ERROR;
                }
                t->pos++;
            }
            continue;
        } else if (c == '\0') {
            wm_conf_text_error(t, t->line, "unexpected NUL byte");
            return WM_CONF_TOK_ERROR;
        } else if (!wm_conf_text_space(c)) {
            break;
        }
        t->pos++;
    }
    if (t->pos == t->end) {
        return WM_CONF_TOK_EOF;
    }

    t->tok_line = t->line;
    t->tok_len = 0;
    c = *t->pos;
    switch (c) {
    case ';':
        t->pos++;
        return WM_CONF_TOK_SEMI;
    case '{':
        t->pos++;
        return WM_CONF_TOK_OPEN;
    case '}':
        t->pos++;
        return WM_CONF_TOK_CLOSE;
    case '"':
    case '\'':
        return wm_conf_text_quoted(t);
    default:
        return wm_conf_text_bare(t);
    }
}

/*
 * A word in double or single quotes, which may span lines. Inside, \" \'
 * \\ \n \t \r are decoded; any other backslash pair is kept as written so
 * that regexes such as "\.php$" need no doubling. The closing quote must
 * be followed by whitespace, ";", "{", "}", the end of the input, or ")",
 * which then starts the next word: nginx's `if ($a = "b")` ends so.
 */
static wm_conf_tok_e
wm_conf_text_quoted(wm_conf_text_t *t)
{
    u_char quote = *t->pos++, c, d;

    for (;;) {
        if (t->pos == t->end) {
            wm_conf_text_error(t, t->tok_line, "unterminated quoted string");
            return WM_CONF_TOK_ERROR;
        }
        c = *t->pos;
        if (c == quote) {
            t->pos++;
            break;
        }
        if (c == '\0') {
            wm_conf_text_error(t, t->line, "unexpected NUL byte");
            return WM_CONF_TOK_ERROR;
        }
        if (c == '\\' && t->pos + 1 < t->end) {
            d = t->pos[1];
            switch (d) {
            case '"':
            case '\'':
            case '\\':
                break;
            case 'n':
                d = '\n';
                break;
            case 't':
                d = '\t';
                break;
            case 'r':
                d = '\r';
                break;
            default:
                /* Keep the backslash; the next byte is read on its own
                 * turn, so newlines and NULs are still seen. */
                d = 0;
                break;
            }
            if (d) {
                if (wm_conf_text_put(t, d) != WM_OK) {
                    return WM_CONF_TOK_ERROR;
                }
                t->pos += 2;
                continue;
            }
        }
        if (c == '\n') {
            t->line++;
        }
        if (wm_conf_text_put(t, c) != WM_OK) {
            return WM_CONF_TOK_ERROR;
        }
        t->pos++;
    }

    if (t->pos < t->end) {
        c = *t->pos;
        if (c == '\0') {
            wm_conf_text_error(t, t->line, "unexpected NUL byte");
            return WM_CONF_TOK_ERROR;
        }
        if (!wm_conf_text_stop(c) && c != ')') {
            if (c >= 0x20 && c < 0x7f) {
                wm_conf_text_error(t, t->line,
                                   "unexpected \"%c\" after quoted string", c);
            } else {
                wm_conf_text_error(t, t->line,
                                   "unexpected \"\\x%02x\" after quoted "
                                   "string",
                                   c);
            }
            return WM_CONF_TOK_ERROR;
        }
    }
    return WM_CONF_TOK_WORD;
}

/*
 * A word without quotes; it ends at whitespace, ";", "{" or "}". Quotes
 * and "#" inside it are ordinary bytes. A backslash makes the next byte
 * part of the word whatever it is: \" \' \\ \; \{ \} and "\ " yield that
 * byte alone, any other pair is kept as written (both bytes), as regexes
 * want. "${" starts a variable name running to the first "}", which then
 * belongs to the word and closes no block; if whitespace, ";" or "{" comes
 * first, the "${" is kept as ordinary bytes (as nginx does) and the word
 * ends there.
 */
static wm_conf_tok_e
wm_conf_text_bare(wm_conf_text_t *t)
{
    const u_char *q;
    u_char c, d;

    while (t->pos < t->end) {
        c = *t->pos;
        if (wm_conf_text_stop(c)) {
            break;
        }
        if (c == '\0') {
            wm_conf_text_error(t, t->line, "unexpected NUL byte");
            return WM_CONF_TOK_ERROR;
        }

        if (c == '\\' && t->pos + 1 < t->end) {
            d = t->pos[1];
            if (d == '\0') {
                wm_conf_text_error(t, t->line, "unexpected NUL byte");
                return WM_CONF_TOK_ERROR;
            }
            if (strchr("\"'\\;{} ", d) == NULL) {
                if (wm_conf_text_put(t, '\\') != WM_OK) {
                    return WM_CONF_TOK_ERROR;
                }
            }
            if (d == '\n') {
                t->line++;
            }
            if (wm_conf_text_put(t, d) != WM_OK) {
                return WM_CONF_TOK_ERROR;
            }
            t->pos += 2;
            continue;
        }

        if (c == '$' && t->pos + 1 < t->end && t->pos[1] == '{') {
            for (q = t->pos + 2; q < t->end; q++) {
                if (*q == '\0' || wm_conf_text_stop(*q)) {
                    break;
                }
            }
            q = (q < t->end && *q == '}') ? q + 1 : t->pos + 2;
            while (t->pos < q) {
                if (wm_conf_text_put(t, *t->pos) != WM_OK) {
                    return WM_CONF_TOK_ERROR;
                }
                t->pos++;
            }
            continue;
        }

        if (wm_conf_text_put(t, c) != WM_OK) {
            return WM_CONF_TOK_ERROR;
        }
        t->pos++;
    }
    return WM_CONF_TOK_WORD;
}

/* Adds the word in t->tok to the arguments of the directive `name`. */
static wm_int_t
wm_conf_text_arg(wm_conf_text_t *t, const wm_str_t *name, unsigned line)
{
    wm_str_t *args;
    size_t cap;
    char *s;

    if (t->nargs == t->args_cap) {
        if (t->args_cap >= WM_CONF_TEXT_MAX_ARGS) {
            return wm_conf_text_error(t, line,
                                      "too many arguments in \"%s\" "
                                      "directive",
                                      (const char *) name->data);
        }
        cap = t->args_cap ? t->args_cap * 2 : 8;
        cap = wm_min(cap, (size_t) WM_CONF_TEXT_MAX_ARGS);
        args = realloc(t->args, cap * sizeof(wm_str_t));
        if (args == NULL) {
            return wm_conf_text_error(t, t->line, "out of memory");
        }
        t->args = args;
        t->args_cap = cap;
    }
    s = wm_pstrndup(t->p->pool, t->tok, t->tok_len);
    if (s == NULL) {
        return wm_conf_text_error(t, t->line, "out of memory");
    }
    t->args[t->nargs].len = t->tok_len;
    t->args[t->nargs].data = (u_char *) s;
    t->nargs++;
    return WM_OK;
}

/* A node for the directive just read, its args copied into the pool. */
static wm_conf_node_t *
wm_conf_text_node(wm_conf_text_t *t, const wm_str_t *name, unsigned line,
                  bool block)
{
    wm_conf_node_t *node = wm_pcalloc(t->p->pool, sizeof(wm_conf_node_t));

    if (node == NULL) {
        wm_conf_text_error(t, t->line, "out of memory");
        return NULL;
    }
    node->name = *name;
    if (t->nargs) {
        node->args = wm_palloc(t->p->pool, t->nargs * sizeof(wm_str_t));
        if (node->args == NULL) {
            wm_conf_text_error(t, t->line, "out of memory");
            return NULL;
        }
        memcpy(node->args, t->args, t->nargs * sizeof(wm_str_t));
    }
    node->nargs = t->nargs;
    node->block = block;
    node->file = t->file;
    node->line = line;
    t->nargs = 0;
    return node;
}

/*
 * Links a finished directive as the last child of the innermost open
 * block, or, for `include ARG;` with a callback set, the callback's nodes
 * in its place. The callback owns p->err when it fails.
 */
static wm_int_t
wm_conf_text_add(wm_conf_text_t *t, wm_conf_node_t *node)
{
    wm_conf_text_level_t *lv = &t->stack[t->depth];
    wm_conf_node_t *first = NULL, *n;

    if (t->p->include != NULL && !node->block && node->nargs == 1
        && wm_str_eq(&node->name, "include"))
    {
        if (t->p->include(t->p, node, &first) != WM_OK) {
            return WM_ERROR;
        }
        for (n = first; n; n = n->next) {
            *lv->tail = n;
            lv->tail = &n->next;
            lv->node->nchildren++;
        }
        return WM_OK;
    }

    *lv->tail = node;
    lv->tail = &node->next;
    lv->node->nchildren++;
    return WM_OK;
}

static wm_int_t
wm_conf_text_run(wm_conf_text_t *t)
{
    wm_conf_node_t *node;
    wm_str_t name = wm_null_string;
    unsigned name_line = 0;
    bool have_name = false;
    char *s;

    for (;;) {
        switch (wm_conf_text_next(t)) {
        case WM_CONF_TOK_ERROR:
            return WM_ERROR;

        case WM_CONF_TOK_WORD:
            if (have_name) {
                if (wm_conf_text_arg(t, &name, name_line) != WM_OK) {
                    return WM_ERROR;
                }
                break;
            }
            s = wm_pstrndup(t->p->pool, t->tok, t->tok_len);
            if (s == NULL) {
                return wm_conf_text_error(t, t->line, "out of memory");
            }
            name.len = t->tok_len;
            name.data = (u_char *) s;
            name_line = t->tok_line;
            have_name = true;
            break;

        case WM_CONF_TOK_SEMI:
            if (!have_name) {
                return wm_conf_text_error(t, t->tok_line, "unexpected \";\"");
            }
            node = wm_conf_text_node(t, &name, name_line, false);
            if (node == NULL || wm_conf_text_add(t, node) != WM_OK) {
                return WM_ERROR;
            }
            have_name = false;
            break;

        case WM_CONF_TOK_OPEN:
            if (!have_name) {
                return wm_conf_text_error(t, t->tok_line, "unexpected \"{\"");
            }
            if (t->depth == WM_CONF_TEXT_MAX_DEPTH) {
                return wm_conf_text_error(t, t->tok_line,
                                          "blocks nested too deep");
            }
            node = wm_conf_text_node(t, &name, name_line, true);
            if (node == NULL || wm_conf_text_add(t, node) != WM_OK) {
                return WM_ERROR;
            }
            t->depth++;
            t->stack[t->depth].node = node;
            t->stack[t->depth].tail = &node->children;
            have_name = false;
            break;

        case WM_CONF_TOK_CLOSE:
            /* A "}" inside a directive is as stray as one at the top. */
            if (have_name || t->depth == 0) {
                return wm_conf_text_error(t, t->tok_line, "unexpected \"}\"");
            }
            t->depth--;
            break;

        case WM_CONF_TOK_EOF:
            if (have_name) {
                return wm_conf_text_error(t, name_line,
                                          "\"%s\" directive is not "
                                          "terminated by \";\"",
                                          (const char *) name.data);
            }
            if (t->depth > 0) {
                node = t->stack[t->depth].node;
                return wm_conf_text_error(t, node->line,
                                          "\"%s\" directive has no closing "
                                          "\"}\"",
                                          (const char *) node->name.data);
            }
            return WM_OK;
        }
    }
}

wm_int_t
wm_conf_parse_text(wm_conf_parser_t *p, const u_char *buf, size_t len,
                   const char *file, wm_conf_node_t **root)
{
    wm_conf_text_t t = {
        .p = p,
        .pos = buf,
        .end = buf ? buf + len : buf,
        .line = 1,
        .file = file ? file : "",
    };
    wm_conf_node_t *top;
    char *pfile, *empty;
    wm_int_t rc;

    *root = NULL;
    top = wm_pcalloc(p->pool, sizeof(wm_conf_node_t));
    pfile = wm_pstrdup(p->pool, t.file);
    empty = wm_pstrndup(p->pool, "", 0);
    if (top == NULL || pfile == NULL || empty == NULL) {
        return wm_conf_text_error(&t, 1, "out of memory");
    }
    t.file = pfile;
    top->name.data = (u_char *) empty;
    top->file = pfile;
    top->line = 1;
    t.stack[0].node = top;
    t.stack[0].tail = &top->children;

    rc = wm_conf_text_run(&t);
    free(t.tok);
    free(t.args);
    if (rc == WM_OK) {
        *root = top;
    }
    return rc;
}
