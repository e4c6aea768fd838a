/*
 * Virtual server selection: server_name parsing and the nginx order of
 * matching a Host against the servers of one listening address (exact,
 * longest leading wildcard, longest trailing wildcard, first regex,
 * default server).
 */
#include "wm_http.h"

#include <ctype.h>

const char *
wm_http_server_name_parse(wm_pool_t *pool, const wm_str_t *arg,
                          wm_http_server_name_t *sn)
{
    u_char *p;
    size_t i;

    memset(sn, 0, sizeof(*sn));
    if (arg->len && arg->data[0] == '~') {
        wm_str_t pat = {arg->len - 1, arg->data + 1};

        if (pat.len == 0) {
            return "has an empty regex";
        }
        sn->name = *arg;
        return wm_http_regex_compile(pool, &pat, true, &sn->regex);
    }
    p = (u_char *) wm_pstrndup(pool, arg->data, arg->len);
    if (p == NULL) {
        return "failed: out of memory";
    }
    for (i = 0; i < arg->len; i++) {
        p[i] = (u_char) tolower(p[i]);
    }
    sn->name.data = p;
    sn->name.len = arg->len;

    if (arg->len >= 2 && p[0] == '*' && p[1] == '.') {
        sn->wildcard_head = 1;
        sn->name.data++; /* keep ".example.com" */
        sn->name.len--;
    } else if (arg->len >= 2 && p[0] == '.') {
        sn->wildcard_head = 1;
        sn->dot_form = 1;
    } else if (arg->len >= 2 && p[arg->len - 1] == '*'
               && p[arg->len - 2] == '.')
    {
        sn->wildcard_tail = 1;
        sn->name.len--; /* keep "www." */
    }
    if (memchr(sn->name.data, '*', sn->name.len)) {
        return "has an invalid wildcard server name (only \"*.name\", "
               "\".name\" and \"name.*\" are allowed)";
    }
    return NULL;
}

static bool
wm_http_name_eq(const wm_str_t *a, const u_char *b, size_t len)
{
    return a->len == len && memcmp(a->data, b, len) == 0;
}

wm_http_core_srv_conf_t *
wm_http_find_server(wm_http_addr_conf_t *ac, const wm_str_t *host,
                    wm_http_request_t *r)
{
    wm_http_core_srv_conf_t **servers = ac->servers.elts;
    wm_http_core_srv_conf_t *head = NULL, *tail = NULL;
    size_t i, j, head_len = 0, tail_len = 0;

    if (host->len == 0) {
        return ac->default_server;
    }
    for (i = 0; i < ac->servers.nelts; i++) {
        wm_http_server_name_t *names = servers[i]->names.elts;

        for (j = 0; j < servers[i]->names.nelts; j++) {
            wm_http_server_name_t *sn = &names[j];

            if (sn->regex.code) {
                continue;
            }
            if (sn->wildcard_head) {
                /* ".example.com" matches "a.example.com" and, in the dot
                 * form, "example.com" itself. */
                if (host->len > sn->name.len
                    && memcmp(host->data + host->len - sn->name.len,
                              sn->name.data, sn->name.len)
                           == 0)
                {
                    if (sn->name.len > head_len) {
                        head = servers[i];
                        head_len = sn->name.len;
                    }
                } else if (sn->dot_form
                           && wm_http_name_eq(host, sn->name.data + 1,
                                              sn->name.len - 1)
                           && sn->name.len > head_len)
                {
                    head = servers[i];
                    head_len = sn->name.len;
                }
            } else if (sn->wildcard_tail) {
                if (host->len > sn->name.len
                    && memcmp(host->data, sn->name.data, sn->name.len) == 0
                    && sn->name.len > tail_len)
                {
                    tail = servers[i];
                    tail_len = sn->name.len;
                }
            } else if (wm_http_name_eq(host, sn->name.data, sn->name.len)) {
                return servers[i];
            }
        }
    }
    if (head) {
        return head;
    }
    if (tail) {
        return tail;
    }
    for (i = 0; i < ac->servers.nelts; i++) {
        wm_http_server_name_t *names = servers[i]->names.elts;

        for (j = 0; j < servers[i]->names.nelts; j++) {
            if (names[j].regex.code
                && wm_http_regex_exec(&names[j].regex, host, r) == 1)
            {
                return servers[i];
            }
        }
    }
    return ac->default_server;
}
