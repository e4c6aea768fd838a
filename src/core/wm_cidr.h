/*
 * Address blocks as `allow`, `deny` and `set_real_ip_from` write them
 * (`10.0.0.0/8`, `2001:db8::/32`, a bare address, `all`, `unix:`), and
 * the address texts that X-Forwarded-For and friends carry. Pure parsing
 * and matching: text and sockaddrs in, no sockets and no configuration.
 */
#ifndef WM_CIDR_H
#define WM_CIDR_H

#include "wm_core.h"

#include <sys/socket.h>

typedef struct {
    int family;      /* AF_INET, AF_INET6, AF_UNIX; AF_UNSPEC is `all` */
    u_char addr[16]; /* network order, masked; AF_INET uses 4 bytes */
    u_char mask[16];
    unsigned bits; /* the prefix length, for messages */
} wm_cidr_t;

/*
 * Parses text into cidr. WM_OK; WM_DONE when the address has bits set
 * below its prefix (`10.0.0.1/8`): they are cleared and the caller warns,
 * as nginx does; WM_ERROR for anything else than an address, an
 * address/prefix, `all` or `unix:`.
 */
wm_int_t wm_cidr_parse(const wm_str_t *text, wm_cidr_t *cidr);

/*
 * True when sa lies in cidr. `all` matches every address, `unix:` only
 * unix-domain ones, and an IPv4 block also matches an IPv4-mapped IPv6
 * address (`::ffff:1.2.3.4`) by its IPv4 part; an IPv6 block matches
 * such an address as the IPv6 address it is.
 */
bool wm_cidr_match(const wm_cidr_t *cidr, const struct sockaddr *sa);

/* When sa is an IPv4-mapped IPv6 address, writes its IPv4 form (same
 * port) into out and returns true. */
bool wm_sockaddr_unmap(const struct sockaddr *sa, struct sockaddr_in *out);

/*
 * Parses an address as a header carries it: `1.2.3.4`, `::1`, `[::1]`,
 * and, when with_port, `1.2.3.4:80` and `[::1]:80` (port 1-65535; 0 when
 * absent). WM_OK with *sa and *len set, or WM_ERROR.
 */
wm_int_t wm_sockaddr_parse_host(const u_char *text, size_t n, bool with_port,
                                struct sockaddr_storage *sa, socklen_t *len);

/* The address of sa without its port or brackets (`127.0.0.1`, `::1`),
 * `unix:` for a unix-domain one, NUL-terminated in buf; "" when it does
 * not fit. Returns the length. */
size_t wm_sockaddr_host_text(const struct sockaddr *sa, char *buf, size_t size);

#endif /* WM_CIDR_H */
