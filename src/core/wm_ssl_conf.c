/*
 * The ssl_* directive setters that every TLS module shares (HTTPS, stream
 * termination, TLS to upstreams): each finds its wm_ssl_conf_t at
 * cmd->offset of the module's conf, so one setter serves `ssl_ciphers`
 * and `proxy_ssl_ciphers` alike.
 */
#include "wm_ssl.h"

#define wm_ssl_conf_at(conf, cmd)                                              \
    ((wm_ssl_conf_t *) ((u_char *) (conf) + (cmd)->offset))

const wm_conf_enum_t wm_ssl_verify_client_values[] = {
    {"off", WM_SSL_VERIFY_OFF},
    {"on", WM_SSL_VERIFY_ON},
    {"optional", WM_SSL_VERIFY_OPTIONAL},
    {"optional_no_ca", WM_SSL_VERIFY_OPTIONAL_NO_CA},
    {NULL, 0},
};

const wm_conf_bounds_t wm_ssl_depth_bounds = {0, 100};

/* Adds the directive's file to *list. */
static const char *
wm_ssl_add_file(wm_conf_t *cf, wm_array_t **list)
{
    wm_ssl_file_t *f;

    if (*list == NULL) {
        *list = wm_palloc(cf->pool, sizeof(wm_array_t));
        if (*list == NULL
            || wm_array_init(*list, cf->pool, 2, sizeof(wm_ssl_file_t))
                   != WM_OK)
        {
            return "failed: out of memory";
        }
    }
    if (cf->node->args[0].len == 0) {
        return "has invalid value \"\"";
    }
    if (memchr(cf->node->args[0].data, '$', cf->node->args[0].len)) {
        return "with variables is not supported";
    }
    f = wm_array_push(*list);
    if (f == NULL) {
        return "failed: out of memory";
    }
    f->path = wm_conf_full_path(cf->pool, cf->prefix, &cf->node->args[0]);
    f->file = cf->node->file;
    f->line = cf->node->line;
    return f->path ? NULL : "failed: out of memory";
}

const char *
wm_ssl_set_certificate(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    return wm_ssl_add_file(cf, &wm_ssl_conf_at(conf, cmd)->certificates);
}

const char *
wm_ssl_set_certificate_key(wm_conf_t *cf, const wm_command_t *cmd,
                           void *conf)
{
    return wm_ssl_add_file(cf, &wm_ssl_conf_at(conf, cmd)->keys);
}

const char *
wm_ssl_set_protocols(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_ssl_conf_t *ssl = wm_ssl_conf_at(conf, cmd);
    size_t i;

    if (ssl->protocols != WM_CONF_UNSET) {
        return "is duplicate";
    }
    ssl->protocols = 0;
    for (i = 0; i < cf->node->nargs; i++) {
        wm_int_t bit =
            wm_ssl_protocol_bit((const char *) cf->node->args[i].data);

        if (bit == 0) {
            return wm_conf_errf(cf, "has invalid value \"%s\"",
                                (const char *) cf->node->args[i].data);
        }
        if (bit > 0) {
            ssl->protocols |= bit;
        }
    }
    if (ssl->protocols == 0) {
        return "enables no protocol wmproxy supports (TLSv1 and above)";
    }
    return NULL;
}

/* nginx's session cache syntax. A shared cache is kept per worker with
 * the given size; resumption across workers comes from session tickets,
 * whose keys all workers share. */
const char *
wm_ssl_set_session_cache(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_ssl_conf_t *ssl = wm_ssl_conf_at(conf, cmd);
    size_t i;

    if (ssl->session_cache != WM_CONF_UNSET) {
        return "is duplicate";
    }
    ssl->session_cache = 0;
    for (i = 0; i < cf->node->nargs; i++) {
        const char *a = (const char *) cf->node->args[i].data;
        const char *colon;
        wm_str_t v;
        int64_t n;

        if (strcmp(a, "off") == 0 || strcmp(a, "none") == 0) {
            if (cf->node->nargs != 1) {
                return wm_conf_errf(cf, "has invalid value \"%s\"", a);
            }
            continue;
        }
        if (strcmp(a, "builtin") == 0) {
            ssl->session_cache = wm_max(ssl->session_cache, 20480);
            continue;
        }
        if (strncmp(a, "builtin:", 8) == 0) {
            v.data = (u_char *) a + 8;
            v.len = strlen(a + 8);
            n = wm_parse_num(&v);
            if (n < 1 || n > INT32_MAX) {
                return wm_conf_errf(cf, "has invalid value \"%s\"", a);
            }
            ssl->session_cache = wm_max(ssl->session_cache, n);
            continue;
        }
        if (strncmp(a, "shared:", 7) == 0
            && (colon = strchr(a + 7, ':')) != NULL && colon > a + 7)
        {
            v.data = (u_char *) colon + 1;
            v.len = strlen(colon + 1);
            n = wm_parse_size(&v);
            if (n < 1) {
                return wm_conf_errf(cf, "has invalid value \"%s\"", a);
            }
            /* About 4000 sessions per megabyte, as nginx documents. */
            ssl->session_cache =
                wm_max(ssl->session_cache, wm_max(n / 256, 1));
            continue;
        }
        return wm_conf_errf(cf, "has invalid value \"%s\"", a);
    }
    return NULL;
}

/* A string setting whose errors, found when the context is built, point
 * at the directive. */
static const char *
wm_ssl_set_str_at(wm_conf_t *cf, wm_str_t *str, wm_ssl_file_t *at)
{
    if (str->data) {
        return "is duplicate";
    }
    *str = cf->node->args[0];
    at->file = cf->node->file;
    at->line = cf->node->line;
    at->path = (const char *) cf->node->args[0].data;
    return NULL;
}

const char *
wm_ssl_set_ciphers(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_ssl_conf_t *ssl = wm_ssl_conf_at(conf, cmd);

    return wm_ssl_set_str_at(cf, &ssl->ciphers, &ssl->ciphers_at);
}

const char *
wm_ssl_set_ecdh_curve(wm_conf_t *cf, const wm_command_t *cmd, void *conf)
{
    wm_ssl_conf_t *ssl = wm_ssl_conf_at(conf, cmd);

    return wm_ssl_set_str_at(cf, &ssl->ecdh_curve, &ssl->curve_at);
}
