/*
 * Applies a configuration tree to the modules' directive tables. The walk
 * checks what every directive may do (known, allowed in this block, number
 * of arguments, block or not) before its setter runs, and goes on after an
 * error so that `wmproxy -t` lists every mistake of a file at once.
 */
#include "wm_conf.h"

#include "wm_cycle.h"

static const struct {
    uint32_t bit;
    const char *name;
} wm_conf_ctx_names[] = {
    {WM_CTX_MAIN, "main"},         {WM_CTX_EVENTS, "events"},
    {WM_CTX_HTTP, "http"},         {WM_CTX_HTTP_SRV, "server"},
    {WM_CTX_HTTP_LOC, "location"}, {WM_CTX_HTTP_UPS, "upstream"},
    {WM_CTX_HTTP_SIF, "if"},       {WM_CTX_HTTP_LIF, "if-in-location"},
    {WM_CTX_STREAM, "stream"},     {WM_CTX_STREAM_SRV, "stream-server"},
    {WM_CTX_STREAM_UPS, "stream-upstream"}, {WM_CTX_QUIC, "quic"},
    {WM_CTX_STREAM_MATCH, "stream-match"},
    {WM_CTX_HTTP_MATCH, "match"},
};

void
wm_conf_error(wm_conf_t *cf, const wm_conf_node_t *node, const char *fmt, ...)
{
    char msg[WM_CONF_ERRLEN + 256];
    int n;
    va_list ap;

    n = snprintf(msg, sizeof(msg), "%s:%u: ", node->file ? node->file : "-",
                 node->line);
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t) n, fmt, ap);
    va_end(ap);
    cf->nerrors++;
    if (cf->report) {
        cf->report(cf->report_data, msg);
    }
}

const char *
wm_conf_errf(wm_conf_t *cf, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cf->errbuf, sizeof(cf->errbuf), fmt, ap);
    va_end(ap);
    return cf->errbuf;
}

const wm_command_t *
wm_conf_find(const char *name, uint32_t ctx, const wm_module_t **module)
{
    const wm_command_t *found = NULL;
    wm_uint_t i;

    for (i = 0; wm_modules[i]; i++) {
        const wm_command_t *cmd;

        for (cmd = wm_modules[i]->commands; cmd && cmd->name; cmd++) {
            if (strcmp(cmd->name, name) != 0) {
                continue;
            }
            if (cmd->ctx & ctx) {
                if (module) {
                    *module = wm_modules[i];
                }
                return cmd;
            }
            found = cmd;
        }
    }
    if (module) {
        *module = NULL;
    }
    /* Known elsewhere: the caller tells "not allowed here" from "unknown"
     * by module being NULL. */
    return found;
}

static void
wm_conf_apply(wm_conf_t *cf, const wm_conf_node_t *node)
{
    const wm_module_t *module;
    const wm_command_t *cmd;
    const char *name = (const char *) node->name.data;
    const char *rv;
    void *conf;

    cmd = wm_conf_find(name, cf->ctx, &module);
    if (cmd == NULL) {
        wm_conf_error(cf, node, "\"%s\" directive is unknown", name);
        return;
    }
    if (module == NULL) {
        wm_conf_error(cf, node, "\"%s\" directive is not allowed here", name);
        return;
    }
    if (node->nargs < cmd->min_args
        || (cmd->max_args != WM_ARGS_MANY && node->nargs > cmd->max_args))
    {
        wm_conf_error(cf, node,
                      "\"%s\" directive has invalid number of arguments",
                      name);
        return;
    }
    if ((cmd->flags & WM_CMD_BLOCK) && !node->block) {
        wm_conf_error(cf, node, "\"%s\" directive has no opening \"{\"",
                      name);
        return;
    }
    if (!(cmd->flags & WM_CMD_BLOCK) && node->block) {
        wm_conf_error(cf, node,
                      "\"%s\" directive is not terminated by \";\"", name);
        return;
    }

    /* Core and events modules keep one conf for the whole cycle; the
     * others have one per level of their family's blocks, which the
     * contexts in the table guarantee are open here. */
    if (module->family == WM_MOD_CORE || module->family == WM_MOD_EVENTS) {
        conf = cf->cycle->conf[module->index];
    } else {
        conf = cf->confs[cmd->level] ? cf->confs[cmd->level][module->index]
                                     : NULL;
    }

    cf->node = node;
    rv = cmd->set(cf, cmd, conf);
    if (rv) {
        wm_conf_error(cf, node, "\"%s\" directive %s", name, rv);
    }
}

wm_int_t
wm_conf_walk(wm_conf_t *cf, const wm_conf_node_t *block)
{
    const wm_conf_node_t *node, *saved = cf->node;
    unsigned before = cf->nerrors;

    for (node = block->children; node; node = node->next) {
        wm_conf_apply(cf, node);
    }
    cf->node = saved;
    return cf->nerrors == before ? WM_OK : WM_ERROR;
}

static void
wm_conf_print_ctx(FILE *out, uint32_t ctx)
{
    size_t i;
    int first = 1;

    if (ctx == WM_CTX_ANY) {
        fputs("any", out);
        return;
    }
    for (i = 0; i < wm_nelems(wm_conf_ctx_names); i++) {
        if (ctx & wm_conf_ctx_names[i].bit) {
            fprintf(out, "%s%s", first ? "" : ",", wm_conf_ctx_names[i].name);
            first = 0;
        }
    }
}

void
wm_conf_list_directives(FILE *out)
{
    wm_uint_t i;

    for (i = 0; wm_modules[i]; i++) {
        const wm_command_t *cmd;

        for (cmd = wm_modules[i]->commands; cmd && cmd->name; cmd++) {
            fprintf(out, "%s\t", cmd->name);
            wm_conf_print_ctx(out, cmd->ctx);
            if (cmd->max_args == WM_ARGS_MANY) {
                fprintf(out, "\t%u+", cmd->min_args);
            } else if (cmd->min_args == cmd->max_args) {
                fprintf(out, "\t%u", cmd->min_args);
            } else {
                fprintf(out, "\t%u-%u", cmd->min_args, cmd->max_args);
            }
            fprintf(out, "%s\t%s\t%s\n",
                    cmd->flags & WM_CMD_BLOCK ? " {}" : "",
                    cmd->dflt ? cmd->dflt : "-", cmd->doc ? cmd->doc : "");
        }
    }
}
