/*
 * `allow` and `deny` for stream servers: the rules of the server (or,
 * when it has none, of the stream block) are tried in order on the
 * client address as soon as a session starts (after the PROXY protocol
 * header when the listen has one, as nginx), and the first match
 * decides. A denied TCP connection is closed without a byte sent; UDP
 * code calls wm_stream_access_check() for each new session.
 */
#include "wm_stream.h"
#include "wm_stream_ssl.h"

#include "wm_access.h"
#include "wm_log.h"

#define WM_STREAM_ACCESS_CTX WM_CTX_STREAM | WM_CTX_STREAM_SRV

static const wm_command_t wm_stream_access_commands[] = {
    {"allow", WM_STREAM_ACCESS_CTX, 1, 1, WM_CMD_MULTI, WM_LVL_SRV,
     wm_access_set_rule, offsetof(wm_access_conf_t, rules), NULL, "-",
     "address, address/prefix, unix: or all: let these clients in"},
    {"deny", WM_STREAM_ACCESS_CTX, 1, 1, WM_CMD_MULTI, WM_LVL_SRV,
     wm_access_set_rule, offsetof(wm_access_conf_t, rules), "deny", "-",
     "address, address/prefix, unix: or all: close their connections"},
    wm_null_command,
};

wm_module_t wm_stream_access_module = {
    .name = "stream_access",
    .family = WM_MOD_STREAM,
    .commands = wm_stream_access_commands,
    .create_conf = wm_access_conf_create,
    .merge_conf = wm_access_conf_merge,
};

wm_int_t
wm_stream_access_check(wm_stream_session_t *s)
{
    wm_access_conf_t *acf = wm_stream_srv_conf(s->srv, wm_stream_access_module);

    if (wm_access_denied(acf->rules, (struct sockaddr *) &s->peer)) {
        wm_log_error(WM_LOG_ERR, &s->log, 0, "access forbidden by rule");
        return 403;
    }
    return WM_OK;
}

void
wm_stream_access_handler(wm_stream_session_t *s)
{
    wm_int_t rc = wm_stream_access_check(s);

    if (rc != WM_OK) {
        wm_stream_finalize(s, (int) rc);
        return;
    }
    wm_stream_ssl_handshake(s);
}
