/*
 * `allow` and `deny` for HTTP: the rules of the request's location (a
 * level with any rule replaces the rules of the levels above it) are
 * tried in order in the access phase, and the first that matches the
 * client address decides; a deny answers 403 (with satisfy any, only when
 * no other access check lets the request in; an allow lets it in then).
 * The client address is the one the realip module may have put in place
 * of the connection's.
 */
#include "wm_http.h"

#include "wm_access.h"
#include "wm_log.h"

#define WM_HTTP_ACCESS_CTX WM_CTX_HTTP | WM_CTX_HTTP_SRV | WM_CTX_HTTP_LOC

static const wm_command_t wm_http_access_commands[] = {
    {"allow", WM_HTTP_ACCESS_CTX, 1, 1, WM_CMD_MULTI, WM_LVL_LOC,
     wm_access_set_rule, offsetof(wm_access_conf_t, rules), NULL, "-",
     "address, address/prefix, unix: or all: let these clients in"},
    {"deny", WM_HTTP_ACCESS_CTX, 1, 1, WM_CMD_MULTI, WM_LVL_LOC,
     wm_access_set_rule, offsetof(wm_access_conf_t, rules), "deny", "-",
     "address, address/prefix, unix: or all: answer these clients 403"},
    wm_null_command,
};

wm_module_t wm_http_access_module = {
    .name = "http_access",
    .family = WM_MOD_HTTP,
    .commands = wm_http_access_commands,
    .create_conf = wm_access_conf_create,
    .merge_conf = wm_access_conf_merge,
};

wm_int_t
wm_http_access_handler(wm_http_request_t *r)
{
    wm_access_conf_t *acf = wm_http_loc_conf(r, wm_http_access_module);

    switch (wm_access_verdict(acf->rules, (struct sockaddr *) &r->c->peer)) {
    case 1:
        if (!r->loc->satisfy_any) {
            wm_log_error(WM_LOG_ERR, wm_http_request_log(r), 0,
                         "access forbidden by rule");
        }
        return 403;
    case 0:
        return WM_OK;
    default:
        return WM_DECLINED;
    }
}
