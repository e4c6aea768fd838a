/*
 * The steering of UDP datagrams among the workers' sockets of one
 * address. The kernel runs the program on each datagram with the network
 * header at SKF_NET_OFF; it hashes the source address and port (IPv4, or
 * IPv6 without extension headers) to the index of a socket of the group.
 * wm_listen_udp_index() is the same hash in C, for the tests.
 */
#include "wm_listen_udp.h"

#include <linux/filter.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

#define WM_LISTEN_UDP_MIX 0x9E3779B1u /* spreads the low bits upwards */

/* Network-header offsets, as the program loads them. */
#define WM_NET(off) ((uint32_t) (SKF_NET_OFF + (off)))

static uint32_t
wm_listen_udp_mix(uint32_t h, unsigned n)
{
    return ((h * WM_LISTEN_UDP_MIX) >> 16) % n;
}

unsigned
wm_listen_udp_index(const struct sockaddr *sa, unsigned n)
{
    uint32_t h = 0, w;
    unsigned i;

    if (n <= 1) {
        return 0;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

        h = ntohl(in->sin_addr.s_addr) ^ ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            memcpy(&w, &in6->sin6_addr.s6_addr[12], 4);
            h = ntohl(w);
        } else {
            for (i = 0; i < 4; i++) {
                memcpy(&w, &in6->sin6_addr.s6_addr[4 * i], 4);
                h ^= ntohl(w);
            }
        }
        h ^= ntohs(in6->sin6_port);
    }
    return wm_listen_udp_mix(h, n);
}

wm_int_t
wm_listen_udp_steer(int fd, unsigned n)
{
    /* Loads are in host order, as wm_listen_udp_index() computes. M[0]
     * holds the hash of the address words read so far. */
    struct sock_filter code[] = {
        /* 0: IPv4 or IPv6? */
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, WM_NET(0)),
        BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 7, 0),
        /* 3: IPv4: source address ^ source port (after the options) */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, WM_NET(12)),
        BPF_STMT(BPF_ST, 0),
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, WM_NET(0)),
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, WM_NET(0)),
        BPF_STMT(BPF_LDX | BPF_MEM, 0),
        BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        BPF_JUMP(BPF_JMP | BPF_JA, 17, 0, 0),
        /* 10: IPv6: the four words of the source address ^ port */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, WM_NET(8)),
        BPF_STMT(BPF_ST, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, WM_NET(12)),
        BPF_STMT(BPF_LDX | BPF_MEM, 0),
        BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        BPF_STMT(BPF_ST, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, WM_NET(16)),
        BPF_STMT(BPF_LDX | BPF_MEM, 0),
        BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        BPF_STMT(BPF_ST, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, WM_NET(20)),
        BPF_STMT(BPF_LDX | BPF_MEM, 0),
        BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        BPF_STMT(BPF_ST, 0),
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, WM_NET(40)),
        BPF_STMT(BPF_LDX | BPF_MEM, 0),
        BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        /* 27: the index */
        BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, WM_LISTEN_UDP_MIX),
        BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n ? n : 1),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    struct sock_fprog prog = {wm_nelems(code), code};

    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
                   sizeof(prog))
        != 0)
    {
        return WM_ERROR;
    }
    return WM_OK;
}
