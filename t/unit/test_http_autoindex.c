/*
 * Unit tests of the pure parts of autoindex and expires: the order of the
 * entries, each format's exact text (escapes, cut names, rounded sizes),
 * the jsonp callback check, and what Expires and Cache-Control say for
 * each form of `expires`.
 */
#include "wm_http_autoindex.h"
#include "wm_http_headers.h"

#include "tap.h"

#include <stdlib.h>

/* The text of one entry (or head/tail), as a C string owned by a static
 * buffer. */
static const char *
text_of(struct evbuffer *b)
{
    static char out[4096];
    size_t n = evbuffer_get_length(b);

    if (n >= sizeof(out)) {
        n = sizeof(out) - 1;
    }
    evbuffer_remove(b, out, n);
    out[n] = '\0';
    evbuffer_drain(b, evbuffer_get_length(b));
    return out;
}

static wm_http_autoindex_entry_t
entry(const char *name, off_t size, time_t mtime, int dir, int file)
{
    wm_http_autoindex_entry_t e;

    e.name.data = (u_char *) name;
    e.name.len = strlen(name);
    e.size = size;
    e.mtime = mtime;
    e.dir = dir;
    e.file = file;
    return e;
}

static const char *
line(const wm_http_autoindex_style_t *st, const char *name, off_t size,
     int dir, int file, bool first)
{
    static struct evbuffer *b;
    wm_http_autoindex_entry_t e = entry(name, size, 1735689600, dir, file);

    if (b == NULL) {
        b = evbuffer_new();
    }
    if (wm_http_autoindex_entry(b, st, &e, first) != WM_OK) {
        return "(error)";
    }
    return text_of(b);
}

/* An html line as nginx writes it: the name padded to 50 columns (by
 * its width in bytes), a space, the time, a space, the size in 19. */
static const char *
row(const char *href, const char *shown, int width, const char *size)
{
    static char out[512];

    snprintf(out, sizeof(out),
             "<a href=\"%s\">%s</a>%*s 01-Jan-2025 00:00 %19s\r\n", href,
             shown, 50 - width, "", size);
    return out;
}

static void
test_sort(void)
{
    wm_http_autoindex_entry_t e[5] = {
        entry("b", 0, 0, 0, 1),   entry("\xc3\xa9", 0, 0, 0, 1),
        entry("z", 0, 0, 1, 0),   entry("B", 0, 0, 0, 1),
        entry("a", 0, 0, 1, 0),
    };

    wm_http_autoindex_sort(e, 5);
    is_str((char *) e[0].name.data, "a", "sort: directories first");
    is_str((char *) e[1].name.data, "z", "sort: then the other directory");
    is_str((char *) e[2].name.data, "B", "sort: upper case before lower");
    is_str((char *) e[3].name.data, "b", "sort: by byte value");
    is_str((char *) e[4].name.data, "\xc3\xa9", "sort: UTF-8 last");
}

static void
test_html(void)
{
    wm_http_autoindex_style_t st = {WM_HTTP_AUTOINDEX_HTML, 1, 0};
    char want[512], name[64];

    is_str(line(&st, "a.txt", 6, 0, 1, true),
           row("a.txt", "a.txt", 5, "6"), "html: a file");
    is_str(line(&st, "d", 0, 1, 0, true), row("d/", "d/", 2, "-"),
           "html: a directory");
    is_str(line(&st, "<a&\"b\"> c", 0, 0, 1, true),
           row("%3Ca%26%22b%22%3E%20c", "&lt;a&amp;&quot;b&quot;&gt; c", 9,
               "0"),
           "html: a hostile name, escaped twice over");
    is_str(line(&st, "-._~Az09#?%:", 0, 0, 1, true),
           row("-._~Az09%23%3F%25%3A", "-._~Az09#?%:", 12, "0"),
           "html: only -._~ letters and digits stay in the href");

    memset(name, 'x', 60);
    name[60] = '\0';
    snprintf(want, sizeof(want),
             "<a href=\"%s\">%.47s..&gt;</a> 01-Jan-2025 00:00 %19d\r\n",
             name, name, 0);
    is_str(line(&st, name, 0, 0, 1, true), want, "html: a long name is cut");
    name[50] = '\0';
    snprintf(want, sizeof(want),
             "<a href=\"%s/\">%s</a> 01-Jan-2025 00:00 %19s\r\n", name,
             name, "-");
    is_str(line(&st, name, 0, 1, 0, true), want,
           "html: a directory of 50 bytes has no room for its slash");
    name[49] = '\0';
    snprintf(want, sizeof(want),
             "<a href=\"%s/\">%s/</a> 01-Jan-2025 00:00 %19s\r\n", name,
             name, "-");
    is_str(line(&st, name, 0, 1, 0, true), want,
           "html: a directory of 49 bytes has");

    /* 24 two-byte characters: byte 47 is inside the 24th. */
    strcpy(name, "");
    for (int i = 0; i < 26; i++) {
        strcat(name, "\xc3\xa9");
    }
    ok(strstr(line(&st, name, 0, 0, 1, true),
              ">\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
              "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
              "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
              "\xc3\xa9\xc3\xa9..&gt;</a>")
           != NULL,
       "html: a UTF-8 name is cut between characters");

    st.exact_size = 0;
    ok(strstr(line(&st, "f", 9999, 0, 1, true), "00:00    9999\r\n") != NULL,
       "rounded: 9999 stays");
    ok(strstr(line(&st, "f", 10000, 0, 1, true), "00:00     10K\r\n") != NULL,
       "rounded: 10000 is 10K");
    ok(strstr(line(&st, "f", 10751, 0, 1, true), "00:00     10K\r\n") != NULL,
       "rounded: 10751 is 10K");
    ok(strstr(line(&st, "f", 10752, 0, 1, true), "00:00     11K\r\n") != NULL,
       "rounded: 10752 is 11K");
    ok(strstr(line(&st, "f", 1048575, 0, 1, true), "00:00   1024K\r\n")
           != NULL,
       "rounded: 1 MiB - 1 is 1024K");
    ok(strstr(line(&st, "f", 1572864, 0, 1, true), "00:00      2M\r\n")
           != NULL,
       "rounded: 1.5 MiB is 2M");
    ok(strstr(line(&st, "f", 5368709120LL, 0, 1, true), "00:00      5G\r\n")
           != NULL,
       "rounded: 5 GiB is 5G");
    ok(strstr(line(&st, "d", 0, 1, 0, true), "00:00       -\r\n") != NULL,
       "rounded: a directory");
}

static void
test_json_xml(void)
{
    wm_http_autoindex_style_t st = {WM_HTTP_AUTOINDEX_JSON, 1, 0};
    wm_str_t cb = wm_string("cb"), none = wm_null_string, uri = wm_string(
                                                             "/a<b/");
    struct evbuffer *b = evbuffer_new();

    is_str(line(&st, "a\"b\\c\n\t\x01\x1f\x7f", 3, 0, 1, true),
           "{ \"name\":\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\x7f\", "
           "\"type\":\"file\", \"mtime\":\"Wed, 01 Jan 2025 00:00:00 GMT\", "
           "\"size\":3 }",
           "json: escapes");
    is_str(line(&st, "d", 0, 1, 0, false),
           ",\r\n{ \"name\":\"d\", \"type\":\"directory\", "
           "\"mtime\":\"Wed, 01 Jan 2025 00:00:00 GMT\" }",
           "json: a directory after another entry");
    is_str(line(&st, "p", 0, 0, 0, true),
           "{ \"name\":\"p\", \"type\":\"other\", "
           "\"mtime\":\"Wed, 01 Jan 2025 00:00:00 GMT\" }",
           "json: neither a file nor a directory");
    wm_http_autoindex_head(b, &st, &uri, &none);
    wm_http_autoindex_tail(b, &st, &none, false);
    is_str(text_of(b), "[\r\n]", "json: empty");
    st.format = WM_HTTP_AUTOINDEX_JSONP;
    wm_http_autoindex_head(b, &st, &uri, &cb);
    wm_http_autoindex_tail(b, &st, &cb, true);
    is_str(text_of(b), "/* callback */\r\ncb([\r\n\r\n]);", "jsonp: wrapped");

    st.format = WM_HTTP_AUTOINDEX_XML;
    is_str(line(&st, "<&>", 7, 0, 1, true),
           "<file mtime=\"2025-01-01T00:00:00Z\" size=\"7\">&lt;&amp;&gt;"
           "</file>\r\n",
           "xml: a file");
    is_str(line(&st, "d", 7, 1, 0, true),
           "<directory mtime=\"2025-01-01T00:00:00Z\">d</directory>\r\n",
           "xml: a directory");

    st.format = WM_HTTP_AUTOINDEX_HTML;
    wm_http_autoindex_head(b, &st, &uri, &none);
    is_str(text_of(b),
           "<html>\r\n<head><title>Index of /a&lt;b/</title></head>\r\n"
           "<body>\r\n<h1>Index of /a&lt;b/</h1><hr><pre>"
           "<a href=\"../\">../</a>\r\n",
           "html: the head, its URI escaped");
    evbuffer_free(b);
}

static void
test_callback(void)
{
    char name[200];
    wm_str_t s;

    s.data = (u_char *) name;
    strcpy(name, "jQuery_1.cb9");
    s.len = strlen(name);
    ok(wm_http_autoindex_callback_ok(&s), "callback: letters, _ . digits");
    strcpy(name, "a(b)");
    s.len = strlen(name);
    ok(!wm_http_autoindex_callback_ok(&s), "callback: no parentheses");
    strcpy(name, "a%20b");
    s.len = strlen(name);
    ok(!wm_http_autoindex_callback_ok(&s), "callback: no escapes");
    memset(name, 'a', 129);
    s.len = 128;
    ok(wm_http_autoindex_callback_ok(&s), "callback: 128 bytes");
    s.len = 129;
    ok(!wm_http_autoindex_callback_ok(&s), "callback: not 129");
}

static void
test_expires(void)
{
    time_t now = 1735725600; /* 2025-01-01 10:00:00 UTC */
    time_t e, age;

    wm_http_expires_compute(WM_HTTP_EXPIRES_ACCESS, 3600, now, -1, &e, &age);
    ok(e == now + 3600 && age == 3600, "expires 1h");
    wm_http_expires_compute(WM_HTTP_EXPIRES_ACCESS, -1, now, 5, &e, &age);
    ok(e == now - 1 && age == -1, "expires -1: no-cache");
    wm_http_expires_compute(WM_HTTP_EXPIRES_ACCESS, 0, now, -1, &e, &age);
    ok(e == now && age == 0, "expires 0: max-age=0");
    wm_http_expires_compute(WM_HTTP_EXPIRES_MODIFIED, 3600, now, now - 100,
                            &e, &age);
    ok(e == now + 3500 && age == 3500, "expires modified 1h");
    wm_http_expires_compute(WM_HTTP_EXPIRES_MODIFIED, 3600, now, now - 7200,
                            &e, &age);
    ok(e == now - 3600 && age == -1, "expires modified 1h, long ago");
    wm_http_expires_compute(WM_HTTP_EXPIRES_MODIFIED, 3600, now, -1, &e,
                            &age);
    ok(e == now + 3600 && age == 3600,
       "expires modified, no Last-Modified: from now");
    wm_http_expires_compute(WM_HTTP_EXPIRES_MODIFIED, -60, now, now + 3600,
                            &e, &age);
    ok(e == now + 3540 && age == -1, "expires modified -1m: no-cache");
    wm_http_expires_compute(WM_HTTP_EXPIRES_EPOCH, 0, now, -1, &e, &age);
    ok(e == 1 && age == -1, "expires epoch");
    wm_http_expires_compute(WM_HTTP_EXPIRES_MAX, 0, now, -1, &e, &age);
    ok(e == -1 && age == 315360000, "expires max");

    setenv("TZ", "UTC", 1);
    tzset();
    wm_http_expires_compute(WM_HTTP_EXPIRES_DAILY, 15 * 3600 + 1800, now, -1,
                            &e, &age);
    ok(e == now + 5 * 3600 + 1800 && age == 5 * 3600 + 1800,
       "expires @15h30m before 15:30: today");
    wm_http_expires_compute(WM_HTTP_EXPIRES_DAILY, 9 * 3600, now, -1, &e,
                            &age);
    ok(e == now + 23 * 3600 && age == 23 * 3600,
       "expires @9h after 9:00: tomorrow");
    wm_http_expires_compute(WM_HTTP_EXPIRES_DAILY, 10 * 3600, now, -1, &e,
                            &age);
    ok(e == now + 24 * 3600, "expires @10h at 10:00 exactly: tomorrow");
    setenv("TZ", "JST-9", 1);
    tzset();
    wm_http_expires_compute(WM_HTTP_EXPIRES_DAILY, 0, now, -1, &e, &age);
    ok(e == now + 5 * 3600, "expires @0h in JST-9: local midnight");
}

int
main(void)
{
    test_sort();
    test_html();
    test_json_xml();
    test_callback();
    test_expires();
    return tap_done();
}
