/*
 * Address rule lists (`allow` / `deny`) shared by the HTTP and stream
 * access modules, and the configuration glue that turns an address block
 * argument into a wm_cidr_t with nginx's warning about host bits.
 */
#ifndef WM_ACCESS_H
#define WM_ACCESS_H

#include "wm_cidr.h"
#include "wm_conf.h"

typedef struct {
    wm_cidr_t cidr;
    bool deny;
} wm_access_rule_t;

/* The rules of one level, in config order; lives in the cycle's pool. */
typedef struct {
    wm_array_t rules; /* wm_access_rule_t */
    bool has_inet;    /* an IPv4 rule exists: mapped clients are IPv4 */
} wm_access_list_t;

/* The conf struct of an access module (one per level); create_conf and
 * merge_conf for it: a level without rules takes its parent's. */
typedef struct {
    wm_access_list_t *rules; /* NULL: no rule at this level */
} wm_access_conf_t;

void *wm_access_conf_create(wm_conf_t *cf, unsigned level);
const char *wm_access_conf_merge(wm_conf_t *cf, void *prev, void *conf,
                                 unsigned level);

/*
 * The setter of `allow` and `deny`: appends a rule to the
 * wm_access_list_t * at cmd->offset (created on first use; NULL means
 * "no rule at this level"). cmd->post non-NULL makes it a deny rule.
 */
const char *wm_access_set_rule(wm_conf_t *cf, const wm_command_t *cmd,
                               void *conf);

/*
 * Parses arg (cf->node's) as an address block. NULL, or an error message
 * for a setter. Host bits set below the prefix are cleared and warned
 * about as nginx does: `low address bits of 10.0.0.1/8 are meaningless in
 * file:line`.
 */
const char *wm_access_parse_cidr(wm_conf_t *cf, const wm_str_t *arg,
                                 wm_cidr_t *cidr);

/*
 * The verdict of the first rule of list that matches sa: 1 when it
 * denies, 0 when it allows; -1 when no rule matches (list may be NULL).
 * An IPv4-mapped IPv6 client is checked as IPv4 when the list has IPv4
 * rules, as nginx does.
 */
int wm_access_verdict(const wm_access_list_t *list, const struct sockaddr *sa);

/* True when the first rule of list that matches sa denies it. */
#define wm_access_denied(list, sa) (wm_access_verdict(list, sa) == 1)

#endif /* WM_ACCESS_H */
