/*
 * Location matching with nginx's rules, and the PCRE2 glue shared by
 * locations, server names and rewrites. The lists are ordered once when
 * the config is loaded; a lookup is a scan of one level's prefixes plus
 * its regexes, recursing into the chosen prefix's nested locations.
 */
#include "wm_http.h"

static int
wm_http_loc_cmp(const void *a, const void *b)
{
    const wm_http_core_loc_conf_t *x = *(wm_http_core_loc_conf_t *const *) a;
    const wm_http_core_loc_conf_t *y = *(wm_http_core_loc_conf_t *const *) b;
    size_t n = wm_min(x->name.len, y->name.len);
    int c = memcmp(x->name.data, y->name.data, n);

    if (c) {
        return c;
    }
    if (x->name.len != y->name.len) {
        return x->name.len < y->name.len ? -1 : 1;
    }
    /* `= /a` before `/a`: an exact match is tried first. */
    return (y->match == WM_HTTP_LOC_EXACT) - (x->match == WM_HTTP_LOC_EXACT);
}

const char *
wm_http_locations_init(wm_pool_t *pool, wm_http_core_loc_conf_t *root)
{
    wm_http_core_loc_conf_t **all = root->locations.elts;
    size_t i, n = root->locations.nelts;

    root->statics = wm_palloc(pool, (n + 1) * sizeof(void *));
    root->regexes = wm_palloc(pool, (n + 1) * sizeof(void *));
    if (root->statics == NULL || root->regexes == NULL) {
        return "failed: out of memory";
    }
    root->nstatics = root->nregexes = 0;
    for (i = 0; i < n; i++) {
        wm_http_core_loc_conf_t *l = all[i];
        const char *rv;

        if (l->noname) {
            continue;
        }
        switch (l->match) {
        case WM_HTTP_LOC_REGEX:
        case WM_HTTP_LOC_REGEX_CI:
            root->regexes[root->nregexes++] = l;
            break;
        case WM_HTTP_LOC_NAMED:
            break;
        default:
            root->statics[root->nstatics++] = l;
        }
        rv = wm_http_locations_init(pool, l);
        if (rv) {
            return rv;
        }
    }
    qsort(root->statics, root->nstatics, sizeof(void *), wm_http_loc_cmp);
    for (i = 1; i < root->nstatics; i++) {
        if (wm_http_loc_cmp(&root->statics[i - 1], &root->statics[i]) == 0) {
            return "has a duplicate location";
        }
    }
    return NULL;
}

/* The regex locations of one level: the first that matches. */
static wm_http_core_loc_conf_t *
wm_http_location_regex(wm_http_core_loc_conf_t *level, const wm_str_t *uri,
                       wm_http_request_t *r)
{
    size_t i;

    for (i = 0; i < level->nregexes; i++) {
        wm_http_core_loc_conf_t *l = level->regexes[i];

        if (wm_http_regex_exec(&l->regex, uri, r) == 1) {
            return l;
        }
    }
    return NULL;
}

wm_http_core_loc_conf_t *
wm_http_location_find(wm_http_core_loc_conf_t *level, const wm_str_t *uri,
                      wm_http_request_t *r)
{
    wm_http_core_loc_conf_t *best = NULL, *found;
    size_t i;

    for (i = 0; i < level->nstatics; i++) {
        wm_http_core_loc_conf_t *l = level->statics[i];

        if (l->name.len > uri->len
            || memcmp(l->name.data, uri->data, l->name.len) != 0)
        {
            continue;
        }
        if (l->match == WM_HTTP_LOC_EXACT) {
            if (l->name.len == uri->len) {
                return l;
            }
            continue;
        }
        if (best == NULL || l->name.len > best->name.len) {
            best = l;
        }
    }

    if (best && (best->nstatics || best->nregexes)) {
        found = wm_http_location_find(best, uri, r);
        if (found) {
            /* A regex or exact match below ends the search; a longer
             * prefix below replaces this one. */
            if (found->match != WM_HTTP_LOC_PREFIX
                && found->match != WM_HTTP_LOC_NOREGEX)
            {
                return found;
            }
            best = found;
        }
    }
    if (best && best->match == WM_HTTP_LOC_NOREGEX) {
        return best;
    }
    found = wm_http_location_regex(level, uri, r);
    return found ? found : best;
}

wm_http_core_loc_conf_t *
wm_http_location_named(wm_http_core_loc_conf_t *root, const wm_str_t *name)
{
    wm_http_core_loc_conf_t **all = root->locations.elts;
    size_t i;

    for (i = 0; i < root->locations.nelts; i++) {
        if (all[i]->match == WM_HTTP_LOC_NAMED && all[i]->name.len == name->len
            && memcmp(all[i]->name.data, name->data, name->len) == 0)
        {
            return all[i];
        }
    }
    return NULL;
}

/*
 * Named captures become variables ($name) for the config that compiled
 * them: their names are collected while the http block is parsed and
 * looked up in the last match of the request. The list is process-wide
 * and starts afresh with each http block (each config load).
 */
static char **wm_http_capture_names;
static size_t wm_http_ncapture_names;

void
wm_http_regex_names_reset(void)
{
    size_t i;

    for (i = 0; i < wm_http_ncapture_names; i++) {
        free(wm_http_capture_names[i]);
    }
    free(wm_http_capture_names);
    wm_http_capture_names = NULL;
    wm_http_ncapture_names = 0;
}

static bool
wm_http_capture_known(const wm_str_t *name)
{
    size_t i;

    for (i = 0; i < wm_http_ncapture_names; i++) {
        if (strlen(wm_http_capture_names[i]) == name->len
            && memcmp(wm_http_capture_names[i], name->data, name->len) == 0)
        {
            return true;
        }
    }
    return false;
}

/* One match of a regex with named captures, in r's pool. */
struct wm_http_named_match_s {
    struct wm_http_named_match_s *next;
    pcre2_code *code;
    PCRE2_SIZE *ovector;
    uint32_t ncaptures;
    wm_str_t subject;
};

static wm_int_t
wm_http_capture_var(void *data, const wm_str_t *arg, uintptr_t unused,
                    wm_pool_t *pool, wm_str_t *v)
{
    wm_http_request_t *r = data;
    struct wm_http_named_match_s *m;
    char name[128];
    int n = -1;

    if (arg->len >= sizeof(name)) {
        return WM_DECLINED;
    }
    memcpy(name, arg->data, arg->len);
    name[arg->len] = '\0';
    for (m = r->named; m; m = m->next) {
        n = pcre2_substring_number_from_name(m->code, (PCRE2_SPTR) name);
        if (n >= 0) {
            break;
        }
    }
    if (m == NULL || (uint32_t) n >= m->ncaptures
        || m->ovector[2 * n] == PCRE2_UNSET)
    {
        return WM_DECLINED;
    }
    v->data = m->subject.data + m->ovector[2 * n];
    v->len = m->ovector[2 * n + 1] - m->ovector[2 * n];
    return WM_OK;
}

const wm_var_def_t wm_http_capture_vars[] = {
    {"", wm_http_capture_var, 0, 0, wm_http_capture_known},
    {NULL, NULL, 0, 0, NULL},
};

/* Records the named captures of a compiled pattern. */
static const char *
wm_http_regex_add_names(pcre2_code *code)
{
    uint32_t count, size, i;
    PCRE2_SPTR table;

    pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &count);
    if (count == 0) {
        return NULL;
    }
    pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table);
    for (i = 0; i < count; i++) {
        const char *name = (const char *) table + i * size + 2;
        wm_str_t s = {strlen(name), (u_char *) name};
        char **names;

        if (wm_http_capture_known(&s)) {
            continue;
        }
        names = realloc(wm_http_capture_names,
                        (wm_http_ncapture_names + 1) * sizeof(char *));
        if (names == NULL) {
            return "failed: out of memory";
        }
        wm_http_capture_names = names;
        names[wm_http_ncapture_names] = strdup(name);
        if (names[wm_http_ncapture_names] == NULL) {
            return "failed: out of memory";
        }
        wm_http_ncapture_names++;
    }
    return NULL;
}

const char *
wm_http_regex_compile(wm_pool_t *pool, const wm_str_t *pattern, bool caseless,
                      wm_http_regex_t *re)
{
    static char msg[256];
    int err;
    PCRE2_SIZE off;
    PCRE2_UCHAR buf[160];

    re->pattern = *pattern;
    re->code = pcre2_compile(pattern->data, pattern->len,
                             caseless ? PCRE2_CASELESS : 0, &err, &off, NULL);
    if (re->code == NULL) {
        pcre2_get_error_message(err, buf, sizeof(buf));
        snprintf(msg, sizeof(msg), "has an invalid regex \"%s\": %s at %zu",
                 (const char *) pattern->data, (const char *) buf,
                 (size_t) off);
        return msg;
    }
    /* JIT is an optimisation: without it (no support, no memory) the
     * interpreter gives the same answers. */
    (void) pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
    pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &re->captures);
    if (wm_http_regex_add_names(re->code) != NULL) {
        pcre2_code_free(re->code);
        re->code = NULL;
        return "failed: out of memory";
    }
    if (wm_pool_cleanup_add(pool, (wm_pool_cleanup_pt) pcre2_code_free,
                            re->code)
        != WM_OK)
    {
        pcre2_code_free(re->code);
        re->code = NULL;
        return "failed: out of memory";
    }
    return NULL;
}

int
wm_http_regex_exec(wm_http_regex_t *re, const wm_str_t *subject,
                   wm_http_request_t *r)
{
    pcre2_match_data *md;
    int rc;

    md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (md == NULL) {
        return -1;
    }
    rc = pcre2_match(re->code, subject->data, subject->len, 0, 0, md, NULL);
    if (rc < 0) {
        pcre2_match_data_free(md);
        return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
    }
    if (r && re->captures) {
        uint32_t n = pcre2_get_ovector_count(md);
        PCRE2_SIZE *ov = wm_palloc(r->pool, 2 * n * sizeof(PCRE2_SIZE));
        uint32_t names = 0;

        if (ov) {
            memcpy(ov, pcre2_get_ovector_pointer(md),
                   2 * n * sizeof(PCRE2_SIZE));
            r->captures = ov;
            r->captures_re = re->code;
            r->ncaptures = (uint32_t) rc;
            r->captures_subject = *subject;
            pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &names);
        }
        if (names) {
            struct wm_http_named_match_s *m = wm_palloc(r->pool, sizeof(*m));

            if (m) {
                m->code = re->code;
                m->ovector = ov;
                m->ncaptures = (uint32_t) rc;
                m->subject = *subject;
                m->next = r->named;
                r->named = m;
            }
        }
    }
    pcre2_match_data_free(md);
    return 1;
}
