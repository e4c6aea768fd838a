/*
 * libFuzzer target for the whole configuration load, as `wmproxy -t` runs
 * it: wm_cycle_new() with test_only on the input written to a file, so
 * that every directive setter, the merges, upstream blocks, regex, map and
 * variable compilation and each module's init_conf see it. The load must
 * succeed, or fail after reporting at least one error, each of the form
 * `FILE:LINE: message` (or `FILE: message` for the checks that run after
 * the walk, which have no line); nothing may crash, abort or leak.
 *
 * Side effects: test_only opens no log, socket, zone or pid file. The
 * config lives in a directory made once per process, which is also the
 * prefix (with mime.types, and cert.pem and key.pem, a self-signed
 * certificate for localhost and its key, so that TLS contexts get built),
 * and host names are resolved only when numeric (or `localhost`),
 * so that no input makes the fuzzer query a DNS server.
 */
#include "wm_cycle.h"

#include <dlfcn.h>
#include <netdb.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char wm_fuzz_dir[] = "/tmp/wm_fuzz_conf_XXXXXX";
static char wm_fuzz_prefix[64], wm_fuzz_conf[64], wm_fuzz_mime[64],
    wm_fuzz_cert[64], wm_fuzz_key[64];
static unsigned wm_fuzz_nerrors;
static wm_log_t wm_fuzz_quiet; /* no sink: warnings of the load go nowhere */

typedef int (*wm_fuzz_gai_pt)(const char *, const char *,
                              const struct addrinfo *, struct addrinfo **);

/* Interposes the C library's resolver for the whole program: names that
 * would need a DNS query are not found. */
int
getaddrinfo(const char *node, const char *service,
            const struct addrinfo *hints, struct addrinfo **res)
{
    static wm_fuzz_gai_pt real;
    struct addrinfo h = {0};

    if (real == NULL) {
        real = (wm_fuzz_gai_pt) dlsym(RTLD_NEXT, "getaddrinfo");
        if (real == NULL) {
            abort();
        }
    }
    if (hints) {
        h = *hints;
    }
    h.ai_flags |= AI_NUMERICHOST;
    if (node && strcmp(node, "localhost") == 0) {
        node = "127.0.0.1";
    }
    return real(node, service, &h, res);
}

static void
wm_fuzz_cleanup(void)
{
    unlink(wm_fuzz_conf);
    unlink(wm_fuzz_mime);
    unlink(wm_fuzz_cert);
    unlink(wm_fuzz_key);
    rmdir(wm_fuzz_dir);
}

static void
wm_fuzz_write(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

static void
wm_fuzz_write_cert(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    FILE *f;

    if (key == NULL || x == NULL
        || !ASN1_INTEGER_set(X509_get_serialNumber(x), 1)
        || !X509_gmtime_adj(X509_getm_notBefore(x), 0)
        || !X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365)
        || !X509_set_pubkey(x, key) || (name = X509_get_subject_name(x)) == NULL
        || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       (const u_char *) "localhost", -1, -1, 0)
        || !X509_set_issuer_name(x, name) || !X509_sign(x, key, EVP_sha256()))
    {
        abort();
    }
    f = fopen(wm_fuzz_cert, "w");
    if (f == NULL || !PEM_write_X509(f, x) || fclose(f) != 0) {
        abort();
    }
    f = fopen(wm_fuzz_key, "w");
    if (f == NULL || !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
        || fclose(f) != 0)
    {
        abort();
    }
    X509_free(x);
    EVP_PKEY_free(key);
}

static void
wm_fuzz_init(void)
{
    static const char mime[] = "types {\n    text/html html htm;\n"
                               "    text/plain txt;\n}\n";

    if (mkdtemp(wm_fuzz_dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    snprintf(wm_fuzz_prefix, sizeof(wm_fuzz_prefix), "%s/", wm_fuzz_dir);
    snprintf(wm_fuzz_conf, sizeof(wm_fuzz_conf), "%s/fuzz.conf", wm_fuzz_dir);
    snprintf(wm_fuzz_mime, sizeof(wm_fuzz_mime), "%s/mime.types",
             wm_fuzz_dir);
    snprintf(wm_fuzz_cert, sizeof(wm_fuzz_cert), "%s/cert.pem", wm_fuzz_dir);
    snprintf(wm_fuzz_key, sizeof(wm_fuzz_key), "%s/key.pem", wm_fuzz_dir);
    /* For `include mime.types;` as in the usual configs. */
    wm_fuzz_write(wm_fuzz_mime, mime, sizeof(mime) - 1);
    wm_fuzz_write_cert();
    atexit(wm_fuzz_cleanup);
    wm_modules_init();
    wm_errlog = &wm_fuzz_quiet;
}

/* `FILE:LINE: ` or `FILE: `, FILE an absolute path (the config, or a file
 * it includes). */
static bool
wm_fuzz_located(const char *msg)
{
    const char *p = msg;

    if (*p != '/') {
        return false;
    }
    while (*p && *p != ':') {
        p++;
    }
    if (*p++ != ':') {
        return false;
    }
    if (*p == ' ') {
        return true;
    }
    if (*p < '0' || *p > '9') {
        return false;
    }
    while (*p >= '0' && *p <= '9') {
        p++;
    }
    return p[0] == ':' && p[1] == ' ';
}

static void
wm_fuzz_report(void *data, const char *msg)
{
    wm_fuzz_nerrors++;
    if (getenv("WM_FUZZ_SHOW")) {
        fprintf(stderr, "%s\n", msg); /* to see why a corpus file fails */
    }
    if (!wm_fuzz_located(msg) && strcmp(msg, "out of memory") != 0) {
        fprintf(stderr, "error without FILE:LINE: %s\n", msg);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    wm_cycle_args_t args = {0};
    wm_cycle_t *cycle;

    if (!ready) {
        wm_fuzz_init();
        ready = true;
    }
    wm_fuzz_write(wm_fuzz_conf, data, size);

    args.conf_file = wm_fuzz_conf;
    args.prefix = wm_fuzz_prefix;
    args.test_only = true;
    args.report = wm_fuzz_report;
    wm_fuzz_nerrors = 0;

    cycle = wm_cycle_new(&args, NULL);
    if (cycle == NULL && wm_fuzz_nerrors == 0) {
        fprintf(stderr, "the load failed without saying why\n");
        abort();
    }
    if (cycle && wm_fuzz_nerrors) {
        fprintf(stderr, "the load succeeded after %u errors\n",
                wm_fuzz_nerrors);
        abort();
    }
    wm_cycle_free(cycle);
    return 0;
}
