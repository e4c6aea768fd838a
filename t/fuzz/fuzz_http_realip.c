/*
 * Fuzz target of what realip reads from a client: the address texts of
 * X-Forwarded-For and friends (wm_sockaddr_parse_host()) and the walk of
 * an X-Forwarded-For chain (wm_http_realip_walk()). An address that
 * parses prints and parses back to itself, with its port; without a port
 * the parser agrees with inet_pton(); the walk agrees with a reference
 * walk written here from the documented rule, over the same header lines.
 *
 * Input: byte 0 picks options (bit 0 real_ip_recursive, bit 1 `all`
 * trusted instead of a few blocks); the rest is the header values, one
 * per line.
 */
#include "wm_http.h"

#include "wm_cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NVALUES 8

static bool
fz_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) {
        return false;
    }
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *) a, *y = (const void *) b;

        return x->sin_addr.s_addr == y->sin_addr.s_addr
               && x->sin_port == y->sin_port;
    }
    {
        const struct sockaddr_in6 *x = (const void *) a, *y = (const void *) b;

        return memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0
               && x->sin6_port == y->sin6_port;
    }
}

/* The address text: parsed with and without a port, it must print and
 * parse back the same; without a port the parser is inet_pton(). */
static void
fz_host(const u_char *p, size_t n)
{
    struct sockaddr_storage sa, back;
    struct in6_addr a6;
    struct in_addr a4;
    char text[128], host[INET6_ADDRSTRLEN];
    socklen_t len, blen;
    int with_port, port;

    for (with_port = 0; with_port < 2; with_port++) {
        if (wm_sockaddr_parse_host(p, n, with_port, &sa, &len) != WM_OK) {
            continue;
        }
        if ((sa.ss_family == AF_INET && len != sizeof(struct sockaddr_in))
            || (sa.ss_family == AF_INET6 && len != sizeof(struct sockaddr_in6))
            || (sa.ss_family != AF_INET && sa.ss_family != AF_INET6)
            || (!with_port && wm_sockaddr_port((struct sockaddr *) &sa) != 0))
        {
            abort();
        }
        if (wm_sockaddr_host_text((struct sockaddr *) &sa, host, sizeof(host))
            == 0) {
            abort();
        }
        port = wm_sockaddr_port((struct sockaddr *) &sa);
        if (port) {
            snprintf(text, sizeof(text),
                     sa.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host,
                     port);
        } else {
            snprintf(text, sizeof(text),
                     sa.ss_family == AF_INET6 ? "[%s]" : "%s", host);
        }
        if (wm_sockaddr_parse_host((u_char *) text, strlen(text), true, &back,
                                   &blen)
                != WM_OK
            || blen != len || !fz_same_addr(&sa, &back))
        {
            abort();
        }
    }

    /* Without a port: a bare IPv4 or IPv6 address as inet_pton() reads
     * it, or a bracketed IPv6 one (none is longer than 63 bytes, the
     * parser's limit). */
    if (n == 0 || n >= sizeof(text) || memchr(p, '\0', n)) {
        return;
    }
    memcpy(text, p, n);
    text[n] = '\0';
    {
        bool ok = wm_sockaddr_parse_host(p, n, false, &sa, &len) == WM_OK;
        bool want;

        if (text[0] == '[') {
            want = text[n - 1] == ']' && memchr(text, ']', n - 1) == NULL;
            text[n - 1] = '\0';
            want = want && inet_pton(AF_INET6, text + 1, &a6) == 1;
        } else {
            want = inet_pton(AF_INET, text, &a4) == 1
                   || inet_pton(AF_INET6, text, &a6) == 1;
        }
        if (ok != want) {
            abort();
        }
    }
}

/* The walk as documented: the items of a line are the runs of bytes
 * other than ' ' and ','; they are read from the last line's last item
 * to the first line's first, and the walk goes on past an address only
 * when recursive and the address is trusted. */
static bool
fz_walk(const wm_array_t *from, bool recursive, const wm_str_t *lines, size_t n,
        struct sockaddr_storage *out)
{
    const wm_cidr_t *cidrs = from->elts;
    bool found = false;
    size_t l;

    for (l = n; l-- > 0;) {
        size_t starts[256], ends[256], items = 0, i = 0, k, c;

        /* Lines are shorter than 512 bytes: at most 256 items. */
        while (i < lines[l].len) {
            if (lines[l].data[i] == ' ' || lines[l].data[i] == ',') {
                i++;
                continue;
            }
            starts[items] = i;
            while (i < lines[l].len && lines[l].data[i] != ' '
                   && lines[l].data[i] != ',') {
                i++;
            }
            ends[items++] = i;
        }
        for (k = items; k-- > 0;) {
            struct sockaddr_storage sa;
            socklen_t len;
            bool trusted = false;

            if (wm_sockaddr_parse_host(lines[l].data + starts[k],
                                       ends[k] - starts[k], true, &sa, &len)
                != WM_OK)
            {
                return found;
            }
            *out = sa;
            found = true;
            for (c = 0; c < from->nelts; c++) {
                trusted |= wm_cidr_match(&cidrs[c], (struct sockaddr *) &sa);
            }
            if (!recursive || !trusted) {
                return true;
            }
        }
    }
    return found;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const blocks[] = {
        "10.0.0.0/8", "127.0.0.1", "192.168.0.0/16", "::1", "2001:db8::/32"};
    static const char *const all[] = {"all"};
    const char *const *trust;
    wm_str_t lines[NVALUES];
    const wm_str_t *values[NVALUES];
    struct sockaddr_storage got, want;
    socklen_t len;
    wm_array_t from;
    wm_pool_t *pool;
    size_t n = 0, i, ntrust;
    const u_char *p, *end;
    bool recursive, found, found2;

    if (size == 0) {
        return 0;
    }
    recursive = data[0] & 1;
    trust = (data[0] & 2) ? all : blocks;
    ntrust = (data[0] & 2) ? wm_nelems(all) : wm_nelems(blocks);

    pool = wm_pool_new(0);
    if (pool == NULL
        || wm_array_init(&from, pool, 4, sizeof(wm_cidr_t)) != WM_OK) {
        abort();
    }
    for (i = 0; i < ntrust; i++) {
        wm_str_t t = {strlen(trust[i]), (u_char *) trust[i]};
        wm_cidr_t *c = wm_array_push(&from);

        if (c == NULL || wm_cidr_parse(&t, c) != WM_OK) {
            abort();
        }
    }

    p = data + 1;
    end = data + size;
    while (p < end && n < NVALUES) {
        const u_char *nl = memchr(p, '\n', (size_t) (end - p));
        const u_char *stop = nl ? nl : end;

        lines[n].data = (u_char *) p;
        lines[n].len = (size_t) (stop - p);
        values[n] = &lines[n];
        fz_host(lines[n].data, lines[n].len);
        n++;
        p = nl ? nl + 1 : end;
    }

    memset(&got, 0, sizeof(got));
    memset(&want, 0, sizeof(want));
    len = 0;
    found = wm_http_realip_walk(&from, recursive, values, n, &got, &len);
    for (i = 0; i < n; i++) {
        if (lines[i].len >= 512) {
            break;
        }
    }
    if (i == n) {
        found2 = fz_walk(&from, recursive, lines, n, &want);
        if (found != found2 || (found && !fz_same_addr(&got, &want))) {
            abort();
        }
    }
    if (found
        && ((got.ss_family == AF_INET && len != sizeof(struct sockaddr_in))
            || (got.ss_family == AF_INET6 && len != sizeof(struct sockaddr_in6))
            || (got.ss_family != AF_INET && got.ss_family != AF_INET6)))
    {
        abort();
    }

    wm_pool_free(pool);
    return 0;
}
