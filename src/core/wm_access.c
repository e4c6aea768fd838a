/*
 * `allow` / `deny` rule lists for both families (see wm_access.h). The
 * list is one array in config order: nginx keeps one list per address
 * family with `all` in each, which gives the same first match.
 */
#include "wm_access.h"

#include "wm_log.h"

#include <netinet/in.h>

const char *
wm_access_parse_cidr(wm_conf_t *cf, const wm_str_t *arg, wm_cidr_t *cidr)
{
    wm_int_t rc = wm_cidr_parse(arg, cidr);

    if (rc == WM_ERROR) {
        return wm_conf_errf(cf, "has invalid value \"%.*s\"", (int) arg->len,
                            (const char *) arg->data);
    }
    if (rc == WM_DONE) {
        wm_log_error(WM_LOG_WARN, wm_errlog, 0,
                     "low address bits of %.*s are meaningless in %s:%u",
                     (int) arg->len, (const char *) arg->data,
                     cf->node->file ? cf->node->file : "-", cf->node->line);
    }
    return NULL;
}

const char *
wm_access_set_rule(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_access_list_t **field =
        (wm_access_list_t **) ((u_char *) conf + cmd->offset);
    wm_access_list_t *list = *field;
    wm_access_rule_t *rule;
    wm_cidr_t cidr;
    const char *rv;

    rv = wm_access_parse_cidr(cf, &cf->node->args[0], &cidr);
    if (rv) {
        return rv;
    }
    if (list == NULL) {
        list = wm_pcalloc(cf->pool, sizeof(*list));
        if (list == NULL
            || wm_array_init(&list->rules, cf->pool, 4, sizeof(*rule)) != WM_OK)
        {
            return "failed: out of memory";
        }
        *field = list;
    }
    rule = wm_array_push(&list->rules);
    if (rule == NULL) {
        return "failed: out of memory";
    }
    rule->cidr = cidr;
    rule->deny = cmd->post != NULL;
    if (cidr.family == AF_INET) {
        list->has_inet = true;
    }
    return NULL;
}

int
wm_access_verdict(const wm_access_list_t *list, const struct sockaddr *sa)
{
    const wm_access_rule_t *rules;
    struct sockaddr_in v4;
    size_t i;

    if (list == NULL) {
        return -1;
    }
    if (list->has_inet && wm_sockaddr_unmap(sa, &v4)) {
        sa = (const struct sockaddr *) &v4;
    }
    rules = list->rules.elts;
    for (i = 0; i < list->rules.nelts; i++) {
        if (wm_cidr_match(&rules[i].cidr, sa)) {
            return rules[i].deny ? 1 : 0;
        }
    }
    return -1;
}

void *
wm_access_conf_create(wm_conf_t *cf, unsigned level)
{
    return wm_pcalloc(cf->pool, sizeof(wm_access_conf_t));
}

const char *
wm_access_conf_merge(wm_conf_t *cf, void *prev, void *conf, unsigned level)
{
    wm_access_conf_t *p = prev, *c = conf;

    if (c->rules == NULL) {
        c->rules = p->rules;
    }
    return NULL;
}
