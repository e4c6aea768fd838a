/*
 * libFuzzer target for the nginx-syntax parser and the canonical printer.
 * Any input must parse or fail cleanly; when it parses, printing the tree,
 * parsing that and printing again must give the same bytes, or we abort.
 */
#include "wm_conf_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    char *s;
    size_t len;
    size_t cap;
    bool failed;
} wm_fuzz_buf_t;

static void
wm_fuzz_out(void *data, const char *s, size_t len)
{
    wm_fuzz_buf_t *b = data;
    size_t cap;
    char *n;

    if (b->failed) {
        return;
    }
    if (b->cap - b->len < len) {
        cap = b->cap ? b->cap : 4096;
        while (cap - b->len < len) {
            cap *= 2;
        }
        n = realloc(b->s, cap);
        if (n == NULL) {
            b->failed = true;
            return;
        }
        b->s = n;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, len);
    b->len += len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wm_conf_parser_t p = {0};
    wm_conf_node_t *root, *again;
    wm_fuzz_buf_t one = {0}, two = {0};

    p.pool = wm_pool_new(0);
    if (p.pool == NULL) {
        return 0;
    }
    if (wm_conf_parse_text(&p, data, size, "fuzz.conf", &root) != WM_OK) {
        /* An error must always say where and what. */
        if (strncmp(p.err, "fuzz.conf:", 10) != 0) {
            abort();
        }
        wm_pool_free(p.pool);
        return 0;
    }

    wm_conf_dump(root, wm_fuzz_out, &one);
    if (!one.failed) {
        if (wm_conf_parse_text(&p, (const u_char *) one.s, one.len, "dump.conf",
                               &again)
            != WM_OK)
        {
            fprintf(stderr, "dump does not parse: %s\n%.*s", p.err,
                    (int) one.len, one.s);
            abort();
        }
        wm_conf_dump(again, wm_fuzz_out, &two);
        if (!two.failed
            && (one.len != two.len
                || (one.len && memcmp(one.s, two.s, one.len) != 0)))
        {
            fprintf(stderr,
                    "dump differs after a round trip:\n%.*s\n---\n"
                    "%.*s",
                    (int) one.len, one.s, (int) two.len, two.s);
            abort();
        }
    }
    free(one.s);
    free(two.s);
    wm_pool_free(p.pool);
    return 0;
}
