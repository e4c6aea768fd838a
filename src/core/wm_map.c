/*
 * The map table: the entries of a `map` block parsed once at load time
 * into three sorted, hashed key arrays (exact, leading wildcards, trailing
 * wildcards) and a list of regexes, so that a lookup costs a few binary
 * searches and, only when they fail, the regexes in written order.
 */
#include "wm_map.h"

#include "wm_balance.h" /* wm_hash() */

/* Keys up to this long are lowercased on the stack at lookup. */
#define WM_MAP_KEY_STACK 256

/* A key being collected, with its written order for duplicate reports. */
typedef struct {
    wm_map_key_t k;
    size_t seq;
} wm_map_build_t;

static int
wm_map_cmp(uint32_t ha, const u_char *a, size_t alen, uint32_t hb,
           const u_char *b, size_t blen)
{
    int rc;

    if (ha != hb) {
        return ha < hb ? -1 : 1;
    }
    if (alen != blen) {
        return alen < blen ? -1 : 1;
    }
    rc = alen ? memcmp(a, b, alen) : 0;
    return rc < 0 ? -1 : rc > 0;
}

static int
wm_map_sort_cmp(const void *pa, const void *pb)
{
    const wm_map_build_t *a = pa, *b = pb;
    int rc = wm_map_cmp(a->k.hash, a->k.key.data, a->k.key.len, b->k.hash,
                        b->k.key.data, b->k.key.len);

    if (rc == 0) {
        rc = a->seq < b->seq ? -1 : a->seq > b->seq;
    }
    return rc;
}

static const wm_map_key_t *
wm_map_lookup(const wm_map_key_t *keys, size_t n, const u_char *data,
              size_t len)
{
    uint32_t h;
    size_t lo = 0, hi = n;

    if (n == 0) {
        return NULL;
    }
    h = wm_hash(data, len, 0);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int rc = wm_map_cmp(h, data, len, keys[mid].hash, keys[mid].key.data,
                            keys[mid].key.len);

        if (rc == 0) {
            return &keys[mid];
        }
        if (rc < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

const wm_cv_t *
wm_map_find(const wm_map_t *map, const wm_str_t *key, wm_pool_t *pool,
            void *r)
{
    u_char buf[WM_MAP_KEY_STACK] = "", *low = buf;
    const wm_map_key_t *k;
    wm_str_t subject = *key;
    size_t i, len;

    if (map->hostnames && subject.len && subject.data[subject.len - 1] == '.')
    {
        subject.len--;
    }
    len = subject.len;
    if (len > sizeof(buf)) {
        low = wm_palloc(pool, len);
        if (low == NULL) {
            return map->dflt;
        }
    }
    for (i = 0; i < len; i++) {
        u_char c = subject.data[i];

        low[i] = (c >= 'A' && c <= 'Z') ? (u_char) (c | 0x20) : c;
    }

    k = wm_map_lookup(map->exact, map->nexact, low, len);
    if (k) {
        return k->value;
    }
    /* The longest leading wildcard: the suffix after the first dot,
     * then after the second... */
    for (i = 0; map->nhead && i < len; i++) {
        if (low[i] == '.') {
            k = wm_map_lookup(map->head, map->nhead, low + i + 1, len - i - 1);
            if (k) {
                return k->value;
            }
        }
    }
    /* The longest trailing wildcard: the prefix before the last dot,
     * then before the one before... */
    for (i = len; map->ntail && i-- > 0;) {
        if (low[i] == '.') {
            k = wm_map_lookup(map->tail, map->ntail, low, i);
            if (k) {
                return k->value;
            }
        }
    }
    for (i = 0; len && i < map->nregex; i++) {
        if (map->ops->exec(map->regex[i].re, &subject, r) == 1) {
            return map->regex[i].value;
        }
    }
    return map->dflt;
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct {
    wm_conf_t *cf;
    const wm_conf_node_t *block;
    wm_array_t exact, head, tail; /* wm_map_build_t */
    wm_array_t regex;             /* wm_map_regex_t */
    size_t seq;
} wm_map_parser_t;

static void
wm_map_error(wm_map_parser_t *p, const wm_conf_node_t *at, const char *msg)
{
    wm_conf_error(p->cf, at, "\"%.*s\" directive %s",
                  (int) p->block->name.len,
                  (const char *) p->block->name.data, msg);
}

static wm_int_t
wm_map_push(wm_map_parser_t *p, wm_array_t *a, const u_char *data,
            size_t len, const wm_cv_t *value, const wm_conf_node_t *node)
{
    wm_map_build_t *b = wm_array_push(a);

    if (b == NULL) {
        return WM_ERROR;
    }
    b->k.key.data = (u_char *) data;
    b->k.key.len = len;
    b->k.hash = wm_hash(data, len, 0);
    b->k.value = value;
    b->k.node = node;
    b->seq = p->seq++;
    return WM_OK;
}

/* Adds an exact or wildcard key (already without its backslash). */
static const char *
wm_map_add_key(wm_map_parser_t *p, wm_map_t *map, const wm_str_t *key,
               const wm_cv_t *value, const wm_conf_node_t *node)
{
    u_char *low = (u_char *) wm_pstrndup(p->cf->pool, key->data, key->len);
    size_t i, len = key->len;
    wm_int_t rc;

    if (low == NULL) {
        return "failed: out of memory";
    }
    for (i = 0; i < len; i++) {
        if (low[i] >= 'A' && low[i] <= 'Z') {
            low[i] |= 0x20;
        }
    }
    if (!map->hostnames) {
        rc = wm_map_push(p, &p->exact, low, len, value, node);
        return rc == WM_OK ? NULL : "failed: out of memory";
    }

    if (len >= 2 && low[0] == '*' && low[1] == '.') {
        if (len == 2 || memchr(low + 2, '*', len - 2)) {
            goto invalid;
        }
        rc = wm_map_push(p, &p->head, low + 2, len - 2, value, node);
    } else if (len >= 2 && low[len - 2] == '.' && low[len - 1] == '*') {
        if (len == 2 || memchr(low, '*', len - 2) || low[0] == '.') {
            goto invalid;
        }
        rc = wm_map_push(p, &p->tail, low, len - 2, value, node);
    } else if (memchr(low, '*', len)) {
        goto invalid;
    } else if (len >= 2 && low[0] == '.') {
        /* .example.com: example.com itself and every name below it */
        rc = wm_map_push(p, &p->head, low + 1, len - 1, value, node);
        if (rc == WM_OK) {
            rc = wm_map_push(p, &p->exact, low + 1, len - 1, value, node);
        }
    } else {
        rc = wm_map_push(p, &p->exact, low, len, value, node);
    }
    return rc == WM_OK ? NULL : "failed: out of memory";

invalid:
    return wm_conf_errf(p->cf, "has invalid hostname or wildcard \"%s\"",
                        (const char *) node->name.data);
}

/* One `key value;` entry. NULL or an error message tail. */
static const char *
wm_map_entry(wm_map_parser_t *p, wm_map_t *map, const wm_conf_node_t *n,
             const wm_var_def_t *const *tables)
{
    wm_str_t key = n->name;
    wm_map_regex_t *re = NULL;
    wm_cv_t *value;
    const char *rv;

    if (n->block || n->nargs != 1) {
        return wm_conf_errf(p->cf,
                            "has invalid entry \"%s\": a key takes one value",
                            (const char *) key.data);
    }
    if (key.len && key.data[0] == '~') {
        bool caseless = key.len > 1 && key.data[1] == '*';
        wm_str_t pattern = {key.len - 1 - caseless, key.data + 1 + caseless};

        if (map->ops == NULL) {
            return "has a regex key, which this block cannot use";
        }
        if (pattern.len == 0) {
            return wm_conf_errf(p->cf, "has an empty regex in \"%s\"",
                                (const char *) key.data);
        }
        re = wm_array_push(&p->regex);
        if (re == NULL) {
            return "failed: out of memory";
        }
        re->pattern = pattern;
        rv = map->ops->compile(p->cf->pool, &pattern, caseless, &re->re);
        if (rv) {
            p->regex.nelts--;
            return rv;
        }
    }

    value = wm_palloc(p->cf->pool, sizeof(*value));
    if (value == NULL) {
        return "failed: out of memory";
    }
    rv = wm_cv_compile(p->cf->pool, &n->args[0], tables, value);
    if (rv) {
        if (re) {
            p->regex.nelts--;
        }
        return rv;
    }
    if (re) {
        re->value = value;
        return NULL;
    }
    if (wm_str_eq(&key, "default")) {
        if (map->dflt) {
            return "has duplicate default value";
        }
        map->dflt = value;
        return NULL;
    }
    if (key.len && key.data[0] == '\\') {
        key.data++;
        key.len--;
    }
    return wm_map_add_key(p, map, &key, value, n);
}

/* Sorts the keys of a into *keys and reports duplicates. */
static wm_int_t
wm_map_freeze(wm_map_parser_t *p, wm_array_t *a, wm_map_key_t **keys,
              size_t *n)
{
    wm_map_build_t *b = a->elts;
    wm_int_t rc = WM_OK;
    size_t i;

    *n = a->nelts;
    *keys = NULL;
    if (a->nelts == 0) {
        return WM_OK;
    }
    qsort(b, a->nelts, sizeof(*b), wm_map_sort_cmp);
    *keys = wm_palloc(p->cf->pool, a->nelts * sizeof(wm_map_key_t));
    if (*keys == NULL) {
        wm_map_error(p, p->block, "failed: out of memory");
        return WM_ERROR;
    }
    for (i = 0; i < a->nelts; i++) {
        (*keys)[i] = b[i].k;
        if (i > 0
            && wm_map_cmp(b[i].k.hash, b[i].k.key.data, b[i].k.key.len,
                          b[i - 1].k.hash, b[i - 1].k.key.data,
                          b[i - 1].k.key.len)
                   == 0)
        {
            const wm_conf_node_t *at = b[i].k.node;

            wm_map_error(p, at,
                         wm_conf_errf(p->cf, "has duplicate key \"%s\"",
                                      (const char *) at->name.data));
            rc = WM_ERROR;
        }
    }
    return rc;
}

wm_int_t
wm_map_parse(wm_map_t *map, wm_conf_t *cf, const wm_conf_node_t *block,
             const wm_var_def_t *const *tables, const wm_map_regex_ops_t *ops)
{
    wm_map_parser_t p = {.cf = cf, .block = block};
    const wm_conf_node_t *n;
    unsigned before = cf->nerrors;
    wm_int_t rc;

    memset(map, 0, sizeof(*map));
    map->ops = ops;
    if (wm_array_init(&p.exact, cf->pool, 8, sizeof(wm_map_build_t)) != WM_OK
        || wm_array_init(&p.head, cf->pool, 4, sizeof(wm_map_build_t))
               != WM_OK
        || wm_array_init(&p.tail, cf->pool, 4, sizeof(wm_map_build_t))
               != WM_OK
        || wm_array_init(&p.regex, cf->pool, 4, sizeof(wm_map_regex_t))
               != WM_OK)
    {
        wm_map_error(&p, block, "failed: out of memory");
        return WM_ERROR;
    }

    /* `hostnames` applies to the whole block wherever it is written. */
    for (n = block->children; n; n = n->next) {
        if (!n->block && n->nargs == 0 && wm_str_eq(&n->name, "hostnames")) {
            map->hostnames = 1;
        }
    }
    for (n = block->children; n; n = n->next) {
        const char *rv;

        if (!n->block && n->nargs == 0 && wm_str_eq(&n->name, "hostnames")) {
            continue;
        }
        if (!n->block && n->nargs == 0 && wm_str_eq(&n->name, "volatile")) {
            map->is_volatile = 1;
            continue;
        }
        rv = wm_map_entry(&p, map, n, tables);
        if (rv) {
            wm_map_error(&p, n, rv);
        }
    }

    rc = wm_map_freeze(&p, &p.exact, &map->exact, &map->nexact);
    if (wm_map_freeze(&p, &p.head, &map->head, &map->nhead) != WM_OK
        || wm_map_freeze(&p, &p.tail, &map->tail, &map->ntail) != WM_OK)
    {
        rc = WM_ERROR;
    }
    map->regex = p.regex.elts;
    map->nregex = p.regex.nelts;
    return rc == WM_OK && cf->nerrors == before ? WM_OK : WM_ERROR;
}

/* ---- names of the variables maps define --------------------------------- */

void
wm_map_names_reset(wm_map_names_t *n)
{
    free(n->names);
    n->names = NULL;
    n->len = 0;
}

bool
wm_map_names_has(const wm_map_names_t *n, const wm_str_t *name)
{
    size_t off = 0;

    while (off < n->len) {
        const char *s = n->names + off;
        size_t len = strlen(s);

        if (len == name->len && memcmp(s, name->data, len) == 0) {
            return true;
        }
        off += len + 1;
    }
    return false;
}

const char *
wm_map_names_add(wm_map_names_t *n, const wm_str_t *name)
{
    char *buf;

    if (wm_map_names_has(n, name)) {
        return NULL;
    }
    buf = realloc(n->names, n->len + name->len + 1);
    if (buf == NULL) {
        return "failed: out of memory";
    }
    memcpy(buf + n->len, name->data, name->len);
    buf[n->len + name->len] = '\0';
    n->names = buf;
    n->len += name->len + 1;
    return NULL;
}

const char *
wm_map_names_collect(wm_map_names_t *n, const wm_conf_node_t *block,
                     const char *directive, size_t arg, bool deep)
{
    const wm_conf_node_t *c;

    for (c = block->children; c; c = c->next) {
        if (c->nargs > arg && wm_str_eq(&c->name, directive)
            && c->args[arg].len > 1 && c->args[arg].data[0] == '$')
        {
            wm_str_t name = {c->args[arg].len - 1, c->args[arg].data + 1};

            if (wm_map_names_add(n, &name) != NULL) {
                return "failed: out of memory";
            }
        }
        if (deep && c->block) {
            const char *rv = wm_map_names_collect(n, c, directive, arg, deep);

            if (rv) {
                return rv;
            }
        }
    }
    return NULL;
}

const char *
wm_map_var_name(wm_conf_t *cf, const wm_str_t *arg, wm_str_t *name)
{
    size_t i;

    name->data = arg->data + 1;
    name->len = arg->len ? arg->len - 1 : 0;
    for (i = 0; i < name->len; i++) {
        u_char c = name->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_'))
        {
            break;
        }
    }
    if (arg->len < 2 || arg->data[0] != '$' || i < name->len) {
        return wm_conf_errf(cf, "has invalid variable name \"%s\"",
                            (const char *) arg->data);
    }
    return NULL;
}

const char *
wm_map_hash_size(wm_conf_t *cf)
{
    if (wm_parse_size(&cf->node->args[0]) <= 0) {
        return wm_conf_errf(cf, "has invalid value \"%s\"",
                            (const char *) cf->node->args[0].data);
    }
    return NULL;
}

/* ---- map variables ---------------------------------------------------------- */

const char *
wm_map_block(wm_conf_t *cf, wm_array_t **maps,
             const wm_var_def_t *const *tables, wm_var_get_pt get,
             const wm_map_regex_ops_t *ops)
{
    const wm_conf_node_t *n = cf->node;
    const wm_var_def_t *def, *const *t;
    wm_map_var_t *m, **slot;
    wm_str_t name, arg;
    const char *rv;
    size_t i;

    rv = wm_map_var_name(cf, &n->args[1], &name);
    if (rv) {
        return rv;
    }
    def = wm_var_find(tables, &name, &arg);
    if (def == NULL) {
        /* the family collects map names before the walk: not a map here */
        return wm_conf_errf(cf, "has unknown \"%s\" variable",
                            (const char *) name.data);
    }
    /* Every table, not only the first match: a map may not hide a
     * variable of a table after its own ($hostname, a set's). */
    for (t = tables; *t; t++) {
        const wm_var_def_t *one[2] = {*t, NULL};

        def = wm_var_find(one, &name, &arg);
        if (def && def->get != get) {
            return wm_conf_errf(cf, "has duplicate \"%s\" variable",
                                (const char *) name.data);
        }
    }
    if (*maps == NULL) {
        *maps = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (*maps == NULL
            || wm_array_init(*maps, cf->pool, 4, sizeof(void *)) != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    for (i = 0; i < (*maps)->nelts; i++) {
        if (wm_str_eq(&name, (const char *) ((wm_map_var_t **) (*maps)->elts)[i]
                                 ->name.data))
        {
            return wm_conf_errf(cf, "has duplicate \"%s\" variable",
                                (const char *) name.data);
        }
    }
    m = wm_pcalloc(cf->pool, sizeof(*m));
    if (m == NULL) {
        return "failed: out of memory";
    }
    m->name = name;
    rv = wm_cv_compile(cf->pool, &n->args[0], tables, &m->source);
    if (rv) {
        return rv;
    }
    if (wm_map_parse(&m->map, cf, n, tables, ops) != WM_OK) {
        return NULL; /* each error was reported at its line */
    }
    slot = wm_array_push(*maps);
    if (slot == NULL) {
        return "failed: out of memory";
    }
    *slot = m;
    return NULL;
}

wm_map_value_t *
wm_map_values_new(const wm_array_t *maps, wm_pool_t *pool)
{
    size_t n = maps ? maps->nelts : 0;

    return wm_pcalloc(pool, (n ? n : 1) * sizeof(wm_map_value_t));
}

wm_int_t
wm_map_var_value(const wm_array_t *maps, wm_map_value_t *cache,
                 const wm_str_t *name, void *r, wm_pool_t *pool, wm_str_t *v)
{
    wm_map_var_t **all, *m = NULL;
    wm_map_value_t *c;
    const wm_cv_t *cv;
    wm_str_t key;
    size_t i;

    all = maps ? maps->elts : NULL;
    for (i = 0; all && i < maps->nelts; i++) {
        if (all[i]->name.len == name->len
            && memcmp(all[i]->name.data, name->data, name->len) == 0)
        {
            m = all[i];
            break;
        }
    }
    if (m == NULL) {
        return WM_DECLINED;
    }
    c = &cache[i];
    if (c->state == 2) {
        *v = c->value;
        return WM_OK;
    }
    v->len = 0;
    v->data = (u_char *) "";
    if (c->state == 1) {
        return WM_BUSY;
    }
    c->state = 1;
    if (wm_cv_eval(&m->source, r, pool, &key) != WM_OK) {
        c->state = 0;
        return WM_ERROR;
    }
    cv = wm_map_find(&m->map, &key, pool, r);
    if (cv && wm_cv_eval(cv, r, pool, v) != WM_OK) {
        c->state = 0;
        return WM_ERROR;
    }
    c->value = *v;
    c->state = m->map.is_volatile ? 0 : 2;
    return WM_OK;
}
