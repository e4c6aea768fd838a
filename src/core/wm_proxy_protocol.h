/*
 * The PROXY protocol (HAProxy's, versions 1 and 2): a pure parser of the
 * header a load balancer puts in front of a TCP connection, and a writer
 * of both versions for wmproxy's own upstream connections. Bytes in,
 * struct out: no sockets, so it is unit-tested and fuzzed directly.
 */
#ifndef WM_PROXY_PROTOCOL_H
#define WM_PROXY_PROTOCOL_H

#include "wm_core.h"

#include <sys/socket.h>

/* The longest header: a v1 line is at most 107 bytes; v2 is 16 bytes
 * plus a length field, which we cap to keep a connection's memory
 * bounded (TLVs of a few hundred bytes are usual). */
#define WM_PP_V1_MAX 107
#define WM_PP_V2_MAX (16 + 4096)

typedef struct {
    unsigned version;            /* 1 or 2 */
    bool local;                  /* v1 UNKNOWN or v2 LOCAL: no addresses */
    int family;                  /* AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC */
    int socktype;                /* SOCK_STREAM or SOCK_DGRAM (v2) */
    struct sockaddr_storage src; /* the original client */
    struct sockaddr_storage dst; /* the address it connected to */
    socklen_t addrlen;           /* of src and dst; 0 when local */
    const u_char *tlv;           /* v2 TLVs, in the caller's buffer */
    size_t tlv_len;
    size_t header_len;           /* bytes consumed; the payload follows */
} wm_pp_header_t;

/*
 * Parses a PROXY protocol header at the start of buf[0..len). Returns
 * WM_OK with *h filled (h->header_len bytes consumed), WM_AGAIN when more
 * bytes are needed (len is a prefix of a possible header), or WM_ERROR
 * when the bytes are not a valid header (*err says why, for the log).
 */
wm_int_t wm_pp_parse(const u_char *buf, size_t len, wm_pp_header_t *h,
                     const char **err);

/* Finds the v2 TLV of a type (e.g. 0x02 authority); WM_OK with *value
 * set, WM_DECLINED when absent or the TLVs are malformed. */
wm_int_t wm_pp_tlv(const wm_pp_header_t *h, u_char type, wm_str_t *value);

/*
 * Peeks at the connected socket fd for a header and takes exactly its
 * bytes out of the socket (wm_proxy_protocol_recv.c; the one function
 * here that touches a socket). WM_OK with *h set (its tlv fields
 * cleared); WM_AGAIN when more bytes are needed (for an edge-triggered
 * reader, new bytes bring a new edge); WM_DECLINED when the peer closed
 * (errno 0) or recv() failed (errno set); WM_ERROR when the bytes are not
 * a valid header (*err says why).
 */
wm_int_t wm_pp_recv(int fd, wm_pp_header_t *h, const char **err);

/*
 * Writes a header for a connection from src to dst into buf of size
 * bytes: version 1 (text) or 2 (binary). Addresses of other families give
 * "PROXY UNKNOWN" / LOCAL. Returns the length, or 0 when buf is too small.
 */
size_t wm_pp_write(u_char *buf, size_t size, unsigned version,
                   const struct sockaddr *src, const struct sockaddr *dst);

#endif /* WM_PROXY_PROTOCOL_H */
