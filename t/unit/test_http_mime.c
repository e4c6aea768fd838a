/*
 * Unit tests for the MIME type table: building it from types {} lines,
 * duplicates, case-insensitive extensions, and which part of a path is
 * taken as the extension.
 */
#include "wm_http_content.h"
#include "tap.h"

static wm_http_mime_t mime;

static const char *
lookup(const char *path)
{
    static char buf[128];
    const wm_str_t *t;

    t = wm_http_mime_lookup(&mime, (const u_char *) path, strlen(path));
    if (t == NULL) {
        return "(none)";
    }
    snprintf(buf, sizeof(buf), "%.*s", (int) t->len, (char *) t->data);
    return buf;
}

static void
test_build(wm_pool_t *pool)
{
    static wm_str_t html = wm_string("text/html"), css = wm_string("text/css");
    static wm_str_t js = wm_string("application/javascript");
    static wm_str_t gz = wm_string("application/gzip");
    static wm_str_t xjs = wm_string("text/javascript");
    static wm_str_t html_ext[] = {wm_string("html"), wm_string("HTM"),
                                  wm_string("shtml")};
    static wm_str_t css_ext[] = {wm_string("css")};
    static wm_str_t js_ext[] = {wm_string("js")};
    static wm_str_t gz_ext[] = {wm_string("gz")};
    static wm_str_t dup_ext[] = {wm_string("mjs"), wm_string("JS")};
    static wm_str_t empty_ext[] = {wm_string("")};
    const wm_str_t *dup = NULL;

    wm_http_mime_init(&mime, pool);
    is_str(lookup("/index.html"), "(none)", "empty table");
    is_int(wm_http_mime_add(&mime, &html, html_ext, 3, NULL), WM_OK,
           "add html");
    is_int(wm_http_mime_add(&mime, &css, css_ext, 1, NULL), WM_OK, "add css");
    is_int(wm_http_mime_add(&mime, &js, js_ext, 1, NULL), WM_OK, "add js");
    is_int(wm_http_mime_add(&mime, &gz, gz_ext, 1, NULL), WM_OK, "add gz");
    is_int(wm_http_mime_add(&mime, &xjs, dup_ext, 2, &dup), WM_DECLINED,
           "duplicate extension reported");
    ok(dup == &dup_ext[1], "the duplicate is JS");
    is_int(mime.nentries, 7, "seven extensions");
    is_int(wm_http_mime_add(&mime, &css, empty_ext, 1, NULL), WM_ERROR,
           "empty extension refused");
}

static void
test_lookup(void)
{
    is_str(lookup("/index.html"), "text/html", "html");
    is_str(lookup("/a/b/INDEX.HTML"), "text/html", "upper-case path");
    is_str(lookup("/page.htm"), "text/html", "ext added upper-case");
    is_str(lookup("style.css"), "text/css", "bare file name");
    is_str(lookup("/app.js"), "text/javascript", "later type wins");
    is_str(lookup("/m.mjs"), "text/javascript", "mjs");
    is_str(lookup("/x.tar.gz"), "application/gzip", "last dot");
    is_str(lookup("/dir.html/file"), "(none)", "dot in a directory");
    is_str(lookup("/dir.html/"), "(none)", "trailing slash");
    is_str(lookup("/.css"), "(none)", "hidden file has no extension");
    is_str(lookup("/a/.b.css"), "text/css", "hidden file with extension");
    is_str(lookup("/file."), "(none)", "trailing dot");
    is_str(lookup("/file"), "(none)", "no dot");
    is_str(lookup("/file.xyz"), "(none)", "unknown extension");
    is_str(lookup("/file.htmlx"), "(none)", "longer extension");
    is_str(lookup("/file.ht"), "(none)", "shorter extension");
    is_str(lookup(""), "(none)", "empty path");
    is_str(lookup("/"), "(none)", "root");
    is_str(lookup("."), "(none)", "a dot");
    is_str(lookup("/..html"), "text/html", "two dots");
}

static void
test_many(wm_pool_t *pool)
{
    static char names[2000][8];
    static wm_str_t exts[2000];
    static wm_str_t type = wm_string("application/x-test");
    char path[16];
    int i, wrong = 0;

    wm_http_mime_init(&mime, pool);
    for (i = 0; i < 2000; i++) {
        snprintf(names[i], sizeof(names[i]), "e%d", (i * 7919) % 2000);
        exts[i].len = strlen(names[i]);
        exts[i].data = (u_char *) names[i];
    }
    is_int(wm_http_mime_add(&mime, &type, exts, 2000, NULL), WM_OK,
           "2000 extensions in one line");
    for (i = 0; i < 2000; i++) {
        snprintf(path, sizeof(path), "/f.E%d", i);
        if (strcmp(lookup(path), "application/x-test") != 0) {
            wrong++;
        }
    }
    is_int(wrong, 0, "each of them found");
    for (i = 1; i < (int) mime.nentries; i++) {
        if (strcasecmp((char *) mime.entries[i - 1].ext.data,
                       (char *) mime.entries[i].ext.data)
            >= 0)
        {
            wrong++;
        }
    }
    is_int(wrong, 0, "kept sorted");
}

int
main(void)
{
    wm_pool_t *pool = wm_pool_new(0);

    if (pool == NULL) {
        return 1;
    }
    test_build(pool);
    test_lookup();
    test_many(pool);
    wm_pool_free(pool);
    return tap_done();
}
