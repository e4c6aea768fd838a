/*
 * The YAML configuration parser: reads one document with libyaml's event
 * API and builds the same node tree as the nginx-syntax text parser, so
 * nothing after parsing knows which syntax a file used. Like the text
 * parser it is a pure function of bytes; `include` goes through p->include.
 *
 * It works in two passes. The first turns the event stream into a small
 * YAML tree in a scratch pool and rejects what the configuration language
 * has no use for (anchors, tags, several documents, non-scalar keys, NUL
 * bytes, deep nesting); the second maps that tree to directives. The
 * mapping needs to see a whole sequence before it knows what the sequence
 * means (arguments, one block, or a repeated directive), hence the
 * intermediate tree.
 */
#include "wm_conf_tree.h"

#include <strings.h>

bool
wm_conf_is_yaml(const char *file)
{
    size_t n;

    if (file == NULL) {
        return false;
    }
    n = strlen(file);
    return (n >= 5 && strcasecmp(file + n - 5, ".yaml") == 0)
           || (n >= 4 && strcasecmp(file + n - 4, ".yml") == 0);
}

#ifndef WM_HAVE_YAML

wm_int_t
wm_conf_parse_yaml(wm_conf_parser_t *p, const u_char *buf, size_t len,
                   const char *file, wm_conf_node_t **root)
{
    (void) buf;
    (void) len;
    *root = NULL;
    snprintf(p->err, sizeof(p->err), "%s:1: YAML support is not built in",
             file ? file : "");
    return WM_ERROR;
}

#else /* WM_HAVE_YAML */

#include <yaml.h>

/* Collections nested deeper than this are refused; both passes recurse
 * once per level, so this also bounds their stack use. */
#define WM_YAML_MAX_DEPTH 100

typedef enum {
    WM_YAML_SCALAR,
    WM_YAML_SEQUENCE,
    WM_YAML_MAPPING,
} wm_yaml_type_e;

/*
 * A node of the intermediate YAML tree. A mapping's items alternate key
 * and value (keys are always scalars) and nitems counts pairs; a
 * sequence's nitems counts items. Scalar data is NUL-terminated and
 * holds no other NUL byte.
 */
typedef struct wm_yaml_node_s wm_yaml_node_t;
struct wm_yaml_node_s {
    wm_yaml_type_e type;
    unsigned line;
    unsigned plain : 1; /* scalar written without quotes */
    u_char *data;
    size_t len;
    wm_yaml_node_t *items;
    wm_yaml_node_t *next;
    size_t nitems;
};

/* What one item of a sequence value is, for choosing a mapping rule. */
typedef enum {
    WM_YAML_ITEM_SCALAR,
    WM_YAML_ITEM_ONE_KEY, /* a mapping with exactly one key */
    WM_YAML_ITEM_BLOCK,   /* another mapping, or a list of one-key maps */
    WM_YAML_ITEM_ARGS,    /* a sequence of scalars, possibly empty */
    WM_YAML_ITEM_BAD,
} wm_yaml_item_e;

typedef struct {
    wm_conf_parser_t *p;
    yaml_parser_t parser;
    wm_pool_t *tmp;    /* the intermediate tree; freed before returning */
    const char *file;  /* the name used in messages */
    const char *pfile; /* its pool copy, shared by every node */
    const u_char *buf;
    size_t len;
} wm_yaml_ctx_t;

/* A key split into the directive name and its leading arguments; the
 * strings are in p->pool and may be shared by the nodes of a repeat. */
typedef struct {
    const wm_yaml_node_t *raw;
    wm_str_t name;
    wm_str_t *args;
    size_t nargs;
} wm_yaml_key_t;

/* Where the next directive of a block goes. */
typedef struct {
    wm_conf_node_t *parent;
    wm_conf_node_t **tail;
} wm_yaml_list_t;

typedef struct {
    const wm_yaml_node_t *key;
    size_t index;
} wm_yaml_keyref_t;

static wm_int_t wm_yaml_load(wm_yaml_ctx_t *c, yaml_event_t *ev, unsigned depth,
                             wm_yaml_node_t **out);
static wm_int_t wm_yaml_block(wm_yaml_ctx_t *c, const wm_yaml_node_t *y,
                              wm_conf_node_t *parent);

static wm_int_t wm_yaml_error(wm_yaml_ctx_t *c, unsigned line, const char *fmt,
                              ...) __attribute__((format(printf, 3, 4)));

static wm_int_t
wm_yaml_error(wm_yaml_ctx_t *c, unsigned line, const char *fmt, ...)
{
    char *err = c->p->err;
    size_t size = sizeof(c->p->err);
    va_list ap;
    int n;

    n = snprintf(err, size, "%s:%u: ", c->file, line);
    if (n >= 0 && (size_t) n < size) {
        va_start(ap, fmt);
        vsnprintf(err + n, size - (size_t) n, fmt, ap);
        va_end(ap);
    }
    return WM_ERROR;
}

static wm_int_t
wm_yaml_nomem(wm_yaml_ctx_t *c, unsigned line)
{
    return wm_yaml_error(c, line, "out of memory");
}

/* Reports the error that made yaml_parser_parse() fail. Reader errors
 * (bad encoding, control characters) carry a byte offset, not a mark. */
static wm_int_t
wm_yaml_parser_error(wm_yaml_ctx_t *c)
{
    yaml_parser_t *y = &c->parser;
    size_t line, i, end;

    if (y->error == YAML_MEMORY_ERROR) {
        return wm_yaml_nomem(c, (unsigned) y->mark.line + 1);
    }
    if (y->error == YAML_READER_ERROR) {
        end = wm_min(y->problem_offset, c->len);
        line = 1;
        for (i = 0; i < end; i++) {
            line += c->buf[i] == '\n';
        }
    } else {
        line = y->problem_mark.line + 1;
    }
    return wm_yaml_error(c, (unsigned) line, "%s",
                         y->problem ? y->problem : "invalid YAML");
}

static wm_int_t
wm_yaml_next(wm_yaml_ctx_t *c, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&c->parser, ev)) {
        return wm_yaml_parser_error(c);
    }
    return WM_OK;
}

/*
 * Builds the intermediate node for the node event *ev and, for a
 * collection, for everything up to its end event. Takes ownership of *ev:
 * every event is deleted on every path.
 */
static wm_int_t
wm_yaml_load(wm_yaml_ctx_t *c, yaml_event_t *ev, unsigned depth,
             wm_yaml_node_t **out)
{
    unsigned line = (unsigned) ev->start_mark.line + 1;
    yaml_event_type_t end = YAML_NO_EVENT;
    yaml_char_t *anchor = NULL, *tag = NULL;
    wm_yaml_node_t *n, **tail;
    yaml_event_t item;
    size_t count = 0;

    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        end = YAML_SEQUENCE_END_EVENT;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        end = YAML_MAPPING_END_EVENT;
        break;
    case YAML_ALIAS_EVENT:
        yaml_event_delete(ev);
        return wm_yaml_error(c, line, "anchors and aliases are not allowed");
    default:
        /* libyaml emits only node events where a node is expected */
        yaml_event_delete(ev);
        return wm_yaml_error(c, line, "unexpected YAML event");
    }

    if (anchor) {
        yaml_event_delete(ev);
        return wm_yaml_error(c, line, "anchors and aliases are not allowed");
    }
    if (tag) {
        yaml_event_delete(ev);
        return wm_yaml_error(c, line, "tags are not allowed");
    }
    if (end != YAML_NO_EVENT && depth > WM_YAML_MAX_DEPTH) {
        yaml_event_delete(ev);
        return wm_yaml_error(c, line, "nesting too deep");
    }

    n = wm_pcalloc(c->tmp, sizeof(wm_yaml_node_t));
    if (n == NULL) {
        yaml_event_delete(ev);
        return wm_yaml_nomem(c, line);
    }
    n->line = line;

    if (ev->type == YAML_SCALAR_EVENT) {
        n->type = WM_YAML_SCALAR;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->len = ev->data.scalar.length;
        n->data = (u_char *) wm_pstrndup(c->tmp, ev->data.scalar.value, n->len);
        yaml_event_delete(ev);
        if (n->data == NULL) {
            return wm_yaml_nomem(c, line);
        }
        /* "\0" would make a string the text syntax cannot write and that
         * C string consumers (paths) would silently cut short */
        if (memchr(n->data, '\0', n->len) != NULL) {
            return wm_yaml_error(c, line, "unexpected NUL byte");
        }
        *out = n;
        return WM_OK;
    }

    n->type =
        end == YAML_SEQUENCE_END_EVENT ? WM_YAML_SEQUENCE : WM_YAML_MAPPING;
    yaml_event_delete(ev);
    tail = &n->items;

    for (;;) {
        if (wm_yaml_next(c, &item) != WM_OK) {
            yaml_event_delete(&item);
            return WM_ERROR;
        }
        if (item.type == end) {
            yaml_event_delete(&item);
            break;
        }
        /* even positions of a mapping are keys */
        if (n->type == WM_YAML_MAPPING && count % 2 == 0
            && (item.type == YAML_SEQUENCE_START_EVENT
                || item.type == YAML_MAPPING_START_EVENT))
        {
            line = (unsigned) item.start_mark.line + 1;
            yaml_event_delete(&item);
            return wm_yaml_error(c, line, "mapping keys must be scalars");
        }
        if (wm_yaml_load(c, &item, depth + 1, tail) != WM_OK) {
            return WM_ERROR;
        }
        tail = &(*tail)->next;
        count++;
    }

    n->nitems = n->type == WM_YAML_MAPPING ? count / 2 : count;
    *out = n;
    return WM_OK;
}

/*
 * Reads the whole stream: *doc is the root node of its only document, or
 * NULL when there is no document at all.
 */
static wm_int_t
wm_yaml_load_stream(wm_yaml_ctx_t *c, wm_yaml_node_t **doc)
{
    yaml_event_t ev;
    unsigned ndocs = 0, line;

    *doc = NULL;
    for (;;) {
        if (wm_yaml_next(c, &ev) != WM_OK) {
            yaml_event_delete(&ev);
            return WM_ERROR;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            yaml_event_delete(&ev);
            return WM_OK;
        case YAML_DOCUMENT_START_EVENT:
            line = (unsigned) ev.start_mark.line + 1;
            yaml_event_delete(&ev);
            if (ndocs++) {
                return wm_yaml_error(c, line,
                                     "multiple documents are not allowed");
            }
            break;
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            yaml_event_delete(&ev);
            break;
        default:
            if (wm_yaml_load(c, &ev, 1, doc) != WM_OK) {
                return WM_ERROR;
            }
            break;
        }
    }
}

static bool
wm_yaml_is_null(const wm_yaml_node_t *y)
{
    return y->type == WM_YAML_SCALAR && y->plain
           && (y->len == 0 || (y->len == 1 && y->data[0] == '~')
               || (y->len == 4 && memcmp(y->data, "null", 4) == 0));
}

static bool
wm_yaml_is_space(u_char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f'
           || ch == '\v';
}

/*
 * The next word of a key at *pos: 1 with *word set, 0 at the end, -1 for
 * an unterminated quote. A word that starts with a quote runs to the
 * matching quote; quotes elsewhere are ordinary characters.
 */
static int
wm_yaml_word(const u_char **pos, const u_char *end, wm_str_t *word)
{
    const u_char *s = *pos, *q;

    while (s < end && wm_yaml_is_space(*s)) {
        s++;
    }
    if (s == end) {
        return 0;
    }
    if (*s == '"' || *s == '\'') {
        q = memchr(s + 1, *s, (size_t) (end - s - 1));
        if (q == NULL) {
            return -1;
        }
        word->data = (u_char *) s + 1;
        word->len = (size_t) (q - s - 1);
        *pos = q + 1;
        return 1;
    }
    word->data = (u_char *) s;
    while (s < end && !wm_yaml_is_space(*s)) {
        s++;
    }
    word->len = (size_t) (s - word->data);
    *pos = s;
    return 1;
}

static wm_int_t
wm_yaml_split_key(wm_yaml_ctx_t *c, const wm_yaml_node_t *raw, wm_yaml_key_t *k)
{
    const u_char *pos = raw->data, *end = raw->data + raw->len;
    wm_str_t word, *words;
    size_t n = 0, i;
    int rc;

    while ((rc = wm_yaml_word(&pos, end, &word)) == 1) {
        n++;
    }
    if (rc < 0) {
        return wm_yaml_error(c, raw->line, "unterminated quote in key \"%.*s\"",
                             (int) raw->len, (const char *) raw->data);
    }
    if (n == 0) {
        return wm_yaml_error(c, raw->line, "empty key");
    }

    words = wm_palloc(c->p->pool, n * sizeof(wm_str_t));
    if (words == NULL) {
        return wm_yaml_nomem(c, raw->line);
    }
    pos = raw->data;
    for (i = 0; i < n; i++) {
        (void) wm_yaml_word(&pos, end, &word);
        words[i].len = word.len;
        words[i].data = (u_char *) wm_pstrndup(c->p->pool, word.data, word.len);
        if (words[i].data == NULL) {
            return wm_yaml_nomem(c, raw->line);
        }
    }
    if (words[0].len == 0) {
        return wm_yaml_error(c, raw->line, "empty key");
    }

    k->raw = raw;
    k->name = words[0];
    k->args = n > 1 ? words + 1 : NULL;
    k->nargs = n - 1;
    return WM_OK;
}

/* A node for key k with room for `extra` more arguments after the key's. */
static wm_conf_node_t *
wm_yaml_node_new(wm_yaml_ctx_t *c, const wm_yaml_key_t *k, size_t extra)
{
    wm_conf_node_t *n = wm_pcalloc(c->p->pool, sizeof(wm_conf_node_t));

    if (n == NULL) {
        return NULL;
    }
    n->name = k->name;
    n->file = c->pfile;
    n->line = k->raw->line;
    if (k->nargs + extra) {
        n->args = wm_palloc(c->p->pool, (k->nargs + extra) * sizeof(wm_str_t));
        if (n->args == NULL) {
            return NULL;
        }
        if (k->nargs) {
            memcpy(n->args, k->args, k->nargs * sizeof(wm_str_t));
        }
    }
    n->nargs = k->nargs;
    return n;
}

/* Appends scalar y to n's arguments (room was made by wm_yaml_node_new);
 * a plain null adds nothing. */
static wm_int_t
wm_yaml_add_arg(wm_yaml_ctx_t *c, wm_conf_node_t *n, const wm_yaml_node_t *y)
{
    wm_str_t *arg;

    if (wm_yaml_is_null(y)) {
        return WM_OK;
    }
    arg = &n->args[n->nargs];
    arg->len = y->len;
    arg->data = (u_char *) wm_pstrndup(c->p->pool, y->data, y->len);
    if (arg->data == NULL) {
        return wm_yaml_nomem(c, y->line);
    }
    n->nargs++;
    return WM_OK;
}

/* Adds a finished directive to a block, or what p->include returns for
 * it in its place. */
static wm_int_t
wm_yaml_add(wm_yaml_ctx_t *c, wm_yaml_list_t *l, wm_conf_node_t *n)
{
    wm_conf_node_t *first = NULL;

    if (c->p->include && !n->block && n->nargs == 1
        && wm_str_eq(&n->name, "include"))
    {
        if (c->p->include(c->p, n, &first) != WM_OK) {
            return WM_ERROR; /* p->err is the callback's */
        }
        for (; first; first = first->next) {
            *l->tail = first;
            l->tail = &first->next;
            l->parent->nchildren++;
        }
        return WM_OK;
    }
    n->next = NULL;
    *l->tail = n;
    l->tail = &n->next;
    l->parent->nchildren++;
    return WM_OK;
}

static wm_yaml_item_e
wm_yaml_item_kind(const wm_yaml_node_t *y)
{
    const wm_yaml_node_t *i;
    size_t scalars = 0, one_keys = 0;

    if (y->type == WM_YAML_SCALAR) {
        return WM_YAML_ITEM_SCALAR;
    }
    if (y->type == WM_YAML_MAPPING) {
        return y->nitems == 1 ? WM_YAML_ITEM_ONE_KEY : WM_YAML_ITEM_BLOCK;
    }
    for (i = y->items; i; i = i->next) {
        scalars += i->type == WM_YAML_SCALAR;
        one_keys += i->type == WM_YAML_MAPPING && i->nitems == 1;
    }
    if (scalars == y->nitems) {
        return WM_YAML_ITEM_ARGS;
    }
    return one_keys == y->nitems ? WM_YAML_ITEM_BLOCK : WM_YAML_ITEM_BAD;
}

/* One-key mappings and other blocks may mix (rule 7); nothing else may. */
static int
wm_yaml_item_group(wm_yaml_item_e kind)
{
    return kind == WM_YAML_ITEM_ONE_KEY ? WM_YAML_ITEM_BLOCK : (int) kind;
}

/* A block directive for key k whose children come from y. */
static wm_int_t
wm_yaml_add_block(wm_yaml_ctx_t *c, wm_yaml_list_t *l, const wm_yaml_key_t *k,
                  const wm_yaml_node_t *y)
{
    wm_conf_node_t *n = wm_yaml_node_new(c, k, 0);

    if (n == NULL) {
        return wm_yaml_nomem(c, k->raw->line);
    }
    n->block = 1;
    if (wm_yaml_block(c, y, n) != WM_OK) {
        return WM_ERROR;
    }
    return wm_yaml_add(c, l, n);
}

/* A directive for key k whose arguments end with the scalars of y: one
 * scalar, or a sequence of them. */
static wm_int_t
wm_yaml_add_args(wm_yaml_ctx_t *c, wm_yaml_list_t *l, const wm_yaml_key_t *k,
                 const wm_yaml_node_t *y)
{
    const wm_yaml_node_t *i;
    wm_conf_node_t *n;

    n = wm_yaml_node_new(c, k, y->type == WM_YAML_SCALAR ? 1 : y->nitems);
    if (n == NULL) {
        return wm_yaml_nomem(c, k->raw->line);
    }
    if (y->type == WM_YAML_SCALAR) {
        if (wm_yaml_add_arg(c, n, y) != WM_OK) {
            return WM_ERROR;
        }
    } else {
        for (i = y->items; i; i = i->next) {
            if (wm_yaml_add_arg(c, n, i) != WM_OK) {
                return WM_ERROR;
            }
        }
    }
    return wm_yaml_add(c, l, n);
}

/* The directive(s) for one key: value pair, by the rules of the man page. */
static wm_int_t
wm_yaml_directive(wm_yaml_ctx_t *c, wm_yaml_list_t *l,
                  const wm_yaml_node_t *key, const wm_yaml_node_t *value)
{
    const wm_yaml_node_t *i;
    wm_yaml_key_t k;
    wm_yaml_item_e first, kind;
    bool one_keys = true;

    if (wm_yaml_split_key(c, key, &k) != WM_OK) {
        return WM_ERROR;
    }
    if (value->type == WM_YAML_SCALAR) {
        return wm_yaml_add_args(c, l, &k, value);
    }
    if (value->type == WM_YAML_MAPPING) {
        return wm_yaml_add_block(c, l, &k, value);
    }
    if (value->nitems == 0) {
        return wm_yaml_add_args(c, l, &k, value);
    }

    first = wm_yaml_item_kind(value->items);
    for (i = value->items; i; i = i->next) {
        kind = wm_yaml_item_kind(i);
        if (kind == WM_YAML_ITEM_BAD
            || wm_yaml_item_group(kind) != wm_yaml_item_group(first))
        {
            return wm_yaml_error(c, i->line, "mixed sequence for \"%s\"",
                                 (const char *) k.name.data);
        }
        one_keys = one_keys && kind == WM_YAML_ITEM_ONE_KEY;
    }

    switch (first) {
    case WM_YAML_ITEM_SCALAR:
        return wm_yaml_add_args(c, l, &k, value);
    case WM_YAML_ITEM_ARGS:
        for (i = value->items; i; i = i->next) {
            if (wm_yaml_add_args(c, l, &k, i) != WM_OK) {
                return WM_ERROR;
            }
        }
        return WM_OK;
    default:
        if (one_keys) {
            return wm_yaml_add_block(c, l, &k, value);
        }
        for (i = value->items; i; i = i->next) {
            if (wm_yaml_add_block(c, l, &k, i) != WM_OK) {
                return WM_ERROR;
            }
        }
        return WM_OK;
    }
}

static int
wm_yaml_keyref_cmp(const void *a, const void *b)
{
    const wm_yaml_keyref_t *x = a, *y = b;
    size_t n = wm_min(x->key->len, y->key->len);
    int d = n ? memcmp(x->key->data, y->key->data, n) : 0;

    if (d) {
        return d;
    }
    if (x->key->len != y->key->len) {
        return x->key->len < y->key->len ? -1 : 1;
    }
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Refuses a mapping with a key written twice; the key reported is the
 * first one in the document that repeats an earlier key. Sorting keeps
 * this O(n log n) on hostile input. */
static wm_int_t
wm_yaml_check_keys(wm_yaml_ctx_t *c, const wm_yaml_node_t *map)
{
    wm_yaml_keyref_t *refs;
    const wm_yaml_node_t *k, *dup = NULL;
    size_t i, n = map->nitems, dup_index = 0;

    if (n < 2) {
        return WM_OK;
    }
    refs = wm_palloc(c->tmp, n * sizeof(wm_yaml_keyref_t));
    if (refs == NULL) {
        return wm_yaml_nomem(c, map->line);
    }
    for (i = 0, k = map->items; i < n; i++, k = k->next->next) {
        refs[i].key = k;
        refs[i].index = i;
    }
    qsort(refs, n, sizeof(wm_yaml_keyref_t), wm_yaml_keyref_cmp);
    for (i = 1; i < n; i++) {
        k = refs[i].key;
        if (k->len == refs[i - 1].key->len
            && (k->len == 0
                || memcmp(k->data, refs[i - 1].key->data, k->len) == 0)
            && (dup == NULL || refs[i].index < dup_index))
        {
            dup = k;
            dup_index = refs[i].index;
        }
    }
    if (dup) {
        return wm_yaml_error(c, dup->line, "duplicate key \"%.*s\"",
                             (int) dup->len, (const char *) dup->data);
    }
    return WM_OK;
}

/*
 * Fills parent's children from y: the pairs of a mapping, or a sequence
 * of one-key mappings (the caller checked that it is one).
 */
static wm_int_t
wm_yaml_block(wm_yaml_ctx_t *c, const wm_yaml_node_t *y, wm_conf_node_t *parent)
{
    wm_yaml_list_t l = {.parent = parent, .tail = &parent->children};
    const wm_yaml_node_t *i, *pair;
    size_t k;

    if (y->type == WM_YAML_MAPPING) {
        if (wm_yaml_check_keys(c, y) != WM_OK) {
            return WM_ERROR;
        }
        for (k = 0, pair = y->items; k < y->nitems;
             k++, pair = pair->next->next) {
            if (wm_yaml_directive(c, &l, pair, pair->next) != WM_OK) {
                return WM_ERROR;
            }
        }
        return WM_OK;
    }
    for (i = y->items; i; i = i->next) {
        if (wm_yaml_directive(c, &l, i->items, i->items->next) != WM_OK) {
            return WM_ERROR;
        }
    }
    return WM_OK;
}

static wm_int_t
wm_yaml_root(wm_yaml_ctx_t *c, const wm_yaml_node_t *doc, wm_conf_node_t *root)
{
    const wm_yaml_node_t *i;

    if (doc == NULL || wm_yaml_is_null(doc)) {
        return WM_OK;
    }
    if (doc->type == WM_YAML_SCALAR) {
        return wm_yaml_error(c, doc->line, "the top level must be a mapping");
    }
    if (doc->type == WM_YAML_SEQUENCE) {
        for (i = doc->items; i; i = i->next) {
            if (i->type != WM_YAML_MAPPING || i->nitems != 1) {
                return wm_yaml_error(c, i->line,
                                     "the top level must be a mapping");
            }
        }
    }
    return wm_yaml_block(c, doc, root);
}

wm_int_t
wm_conf_parse_yaml(wm_conf_parser_t *p, const u_char *buf, size_t len,
                   const char *file, wm_conf_node_t **root)
{
    wm_yaml_ctx_t c = {
        .p = p,
        .file = file ? file : "",
        .buf = buf,
        .len = len,
    };
    wm_yaml_node_t *doc;
    wm_conf_node_t *r;
    wm_int_t rc;

    *root = NULL;
    c.pfile = wm_pstrdup(p->pool, c.file);
    r = wm_pcalloc(p->pool, sizeof(wm_conf_node_t));
    if (c.pfile == NULL || r == NULL) {
        return wm_yaml_nomem(&c, 1);
    }
    r->name.data = (u_char *) wm_pstrndup(p->pool, "", 0);
    if (r->name.data == NULL) {
        return wm_yaml_nomem(&c, 1);
    }
    r->file = c.pfile;
    r->line = 1;

    c.tmp = wm_pool_new(0);
    if (c.tmp == NULL) {
        return wm_yaml_nomem(&c, 1);
    }
    if (!yaml_parser_initialize(&c.parser)) {
        wm_pool_free(c.tmp);
        return wm_yaml_nomem(&c, 1);
    }
    /* libyaml asserts on a NULL input, even an empty one */
    yaml_parser_set_input_string(&c.parser, buf ? buf : (const u_char *) "",
                                 buf ? len : 0);

    rc = wm_yaml_load_stream(&c, &doc);
    yaml_parser_delete(&c.parser);
    if (rc == WM_OK) {
        rc = wm_yaml_root(&c, doc, r);
    }
    wm_pool_free(c.tmp);
    if (rc == WM_OK) {
        *root = r;
    }
    return rc;
}

#endif /* WM_HAVE_YAML */
