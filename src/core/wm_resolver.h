/*
 * Run-time re-resolution of `server name resolve` lines: the `resolver`
 * and `resolver_timeout` directives, the pure step that moves a new
 * address list into the slots of a server in the shared zone, and the
 * per-worker driver that asks evdns (never blocking) when a lease in the
 * zone says the name is due, so that one process resolves and every
 * worker's balancer sees the result.
 */
#ifndef WM_RESOLVER_H
#define WM_RESOLVER_H

#include "wm_core.h"
#include "wm_upstream.h"

/* The retry after a failed query when `resolver` has no `valid=`. */
#define WM_RESOLVER_RETRY 10000

/*
 * Parses the arguments of `resolver`: name server addresses (IP[:port],
 * [IPv6][:port], port 53 by default), `valid=TIME`, `ipv6=on|off`.
 * Pure apart from pool allocation. A new conf in *out, or WM_ERROR with
 * the message in err.
 */
wm_int_t wm_resolver_parse(wm_pool_t *pool, const wm_str_t *args, size_t nargs,
                           wm_resolver_conf_t **out, char *err, size_t errlen);

/*
 * Replaces the addresses of the slots [from, from + n) of a `resolve`
 * server by addrs (naddrs, ports set). An address already in a slot keeps
 * the slot and its state (connections, failures, health); a slot whose
 * address went away becomes empty (no new connection picks it); a new
 * address takes an empty slot, preferably one without connections left,
 * with fresh state. The configured part (weight, max_fails...) of a slot
 * never changes. Addresses beyond the free slots are dropped: their count
 * is returned. *changed tells whether any slot changed; if so the group's
 * generation was bumped. The caller holds the zone lock.
 */
uint32_t wm_resolver_update_slots(wm_balance_group_t *b,
                                  wm_upstream_saddr_t *sa, uint32_t from,
                                  uint32_t n, const wm_upstream_saddr_t *addrs,
                                  uint32_t naddrs, bool *changed);

/*
 * Setters. wm_resolver_set / wm_resolver_set_timeout take the family's
 * wm_upstream_main_conf_t (at http/stream level it is what upstreams use;
 * in a server block the value is checked and has no other use yet);
 * wm_resolver_set_ups / wm_resolver_set_ups_timeout take the group of an
 * upstream block, whose own values win.
 */
const char *wm_resolver_set(wm_conf_t *cf, const wm_command_t *cmd, void *conf);
const char *wm_resolver_set_timeout(wm_conf_t *cf, const wm_command_t *cmd,
                                    void *conf);
const char *wm_resolver_set_ups(wm_conf_t *cf, const wm_command_t *cmd,
                                void *conf);
const char *wm_resolver_set_ups_timeout(wm_conf_t *cf, const wm_command_t *cmd,
                                        void *conf);

/* Once the family block is parsed: NULL, or the error of a group with a
 * `resolve` server and no resolver (pool memory). */
const char *wm_resolver_check(wm_pool_t *pool,
                              const wm_upstream_main_conf_t *umcf);

/* Starts, in a worker, the re-resolution of the `resolve` servers of
 * umcf's groups (no-op without any); wm_resolver_stop() ends all. */
wm_int_t wm_resolver_start(wm_cycle_t *cycle,
                           const wm_upstream_main_conf_t *umcf);
void wm_resolver_stop(void);

/* A new evdns base on cycle's loop that asks rc's name servers only
 * (no resolv.conf), one attempt bounded by timeout; NULL on failure. */
struct evdns_base;
struct evdns_base *wm_resolver_dns_new(wm_cycle_t *cycle,
                                       const wm_resolver_conf_t *rc,
                                       wm_msec_t timeout);

#endif /* WM_RESOLVER_H */
