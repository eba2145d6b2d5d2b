/* mod_poketto — a read-it-later service inside Apache httpd.
 *
 * The glue: module record, configuration record and directives, hook registration.
 * Everything else lives in src/http (requests), src/runtime (per-child services),
 * src/store (SQL) and src/core (httpd-free code).
 */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "mod_poketto.h"
#include "pk_log.h"
#include "pk_dbd.h"
#include "pk_router.h"


#define DEF_MAX_BODY        (2 * 1024 * 1024)
#define DEF_MAX_URL         2048
#define DEF_MAX_PAGE        100
#define DEF_MAX_TAGS        32
#define DEF_MAX_TAG_LEN     64
#define DEF_SESSION_TTL     apr_time_from_sec(30 * 24 * 3600)
#define DEF_PASSWORD_COST   10

/* ---- configuration record and getters ---- */

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    pk_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    c->auth = PK_AUTH_UNSET;
    c->max_body = -1;
    c->max_url = -1;
    c->max_page = -1;
    c->max_tags = -1;
    c->max_tag_len = -1;
    c->origins = NULL;
    c->session_ttl = -1;
    c->password_cost = -1;
    return c;
}

#define MERGE(f, unset) n->f = (add->f != (unset)) ? add->f : base->f

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    pk_dir_conf *base = basev, *add = addv;
    pk_dir_conf *n = apr_pcalloc(p, sizeof(*n));

    MERGE(auth, PK_AUTH_UNSET);
    MERGE(max_body, -1);
    MERGE(max_url, -1);
    MERGE(max_page, -1);
    MERGE(max_tags, -1);
    MERGE(max_tag_len, -1);
    MERGE(origins, NULL);
    MERGE(session_ttl, -1);
    MERGE(password_cost, -1);
    return n;
}

const pk_dir_conf *pk_conf_get(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &poketto_module);
}

pk_auth_mode_e pk_conf_auth(const pk_dir_conf *c)
{
    return c->auth == PK_AUTH_UNSET ? PK_AUTH_BUILTIN : c->auth;
}

apr_off_t pk_conf_max_body(const pk_dir_conf *c)
{
    return c->max_body < 0 ? DEF_MAX_BODY : c->max_body;
}

int pk_conf_max_url(const pk_dir_conf *c)
{
    return c->max_url < 0 ? DEF_MAX_URL : c->max_url;
}

int pk_conf_max_page(const pk_dir_conf *c)
{
    return c->max_page < 0 ? DEF_MAX_PAGE : c->max_page;
}

int pk_conf_max_tags(const pk_dir_conf *c)
{
    return c->max_tags < 0 ? DEF_MAX_TAGS : c->max_tags;
}

int pk_conf_max_tag_len(const pk_dir_conf *c)
{
    return c->max_tag_len < 0 ? DEF_MAX_TAG_LEN : c->max_tag_len;
}

int pk_conf_origin_allowed(const pk_dir_conf *c, const char *origin)
{
    int i;

    for (i = 0; c->origins && i < c->origins->nelts; ++i) {
        if (!strcasecmp(APR_ARRAY_IDX(c->origins, i, const char *), origin)) {
            return 1;
        }
    }
    return 0;
}

apr_interval_time_t pk_conf_session_ttl(const pk_dir_conf *c)
{
    return c->session_ttl < 0 ? DEF_SESSION_TTL : c->session_ttl;
}

int pk_conf_password_cost(const pk_dir_conf *c)
{
    return c->password_cost < 0 ? DEF_PASSWORD_COST : c->password_cost;
}

/* ---- directives ---- */

static const char *set_auth(cmd_parms *cmd, void *dc, const char *arg)
{
    pk_dir_conf *c = dc;

    if (!strcasecmp(arg, "builtin")) {
        c->auth = PK_AUTH_BUILTIN;
    }
    else if (!strcasecmp(arg, "httpd")) {
        c->auth = PK_AUTH_HTTPD;
    }
    else {
        return "PokettoAuth takes 'builtin' or 'httpd'";
    }
    return NULL;
}

/* A whole number within [min, max], written to the int or apr_off_t the offset names. */
static const char *set_number(cmd_parms *cmd, void *dc, const char *arg, apr_int64_t min,
                              apr_int64_t max, apr_int64_t *out)
{
    char *end = NULL;
    apr_int64_t v;

    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (errno || !end || *end || end == arg || v < min || v > max) {
        return apr_psprintf(cmd->pool, "%s takes a whole number from %" APR_INT64_T_FMT
                            " to %" APR_INT64_T_FMT ", not '%s'",
                            cmd->cmd->name, min, max, arg);
    }
    *out = v;
    return NULL;
}

typedef enum {
    N_MAX_BODY, N_MAX_URL, N_MAX_PAGE, N_MAX_TAGS, N_MAX_TAG_LEN, N_SESSION_TTL,
    N_PASSWORD_COST
} number_e;

static const char *set_limit(cmd_parms *cmd, void *dc, const char *arg)
{
    pk_dir_conf *c = dc;
    apr_int64_t v = 0;
    const char *err = NULL;

    switch ((number_e)(long)cmd->info) {
    case N_MAX_BODY:
        if (!(err = set_number(cmd, dc, arg, 1024, APR_INT64_C(1) << 32, &v))) c->max_body = v;
        break;
    case N_MAX_URL:
        if (!(err = set_number(cmd, dc, arg, 64, 65536, &v))) c->max_url = (int)v;
        break;
    case N_MAX_PAGE:
        if (!(err = set_number(cmd, dc, arg, 1, 10000, &v))) c->max_page = (int)v;
        break;
    case N_MAX_TAGS:
        if (!(err = set_number(cmd, dc, arg, 0, 1000, &v))) c->max_tags = (int)v;
        break;
    case N_MAX_TAG_LEN:
        if (!(err = set_number(cmd, dc, arg, 1, 1000, &v))) c->max_tag_len = (int)v;
        break;
    case N_SESSION_TTL:
        if (!(err = set_number(cmd, dc, arg, 60, APR_INT64_C(10) * 365 * 24 * 3600, &v)))
            c->session_ttl = apr_time_from_sec(v);
        break;
    case N_PASSWORD_COST:
        if (!(err = set_number(cmd, dc, arg, 4, 31, &v))) c->password_cost = (int)v;
        break;
    }
    return err;
}

static const char *add_origin(cmd_parms *cmd, void *dc, const char *arg)
{
    pk_dir_conf *c = dc;
    apr_size_t len = strlen(arg);

    if (strncasecmp(arg, "http://", 7) && strncasecmp(arg, "https://", 8)) {
        return apr_psprintf(cmd->pool, "PokettoAllowedOrigins: '%s' is not an origin "
                            "(scheme://host[:port])", arg);
    }
    if (!c->origins) {
        c->origins = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    /* an origin has no path: tolerate a trailing slash an admin may write */
    APR_ARRAY_PUSH(c->origins, const char *) =
        (len && arg[len - 1] == '/') ? apr_pstrndup(cmd->pool, arg, len - 1) : arg;
    return NULL;
}

static const command_rec poketto_cmds[] = {
    AP_INIT_TAKE1("PokettoAuth", set_auth, NULL, RSRC_CONF | ACCESS_CONF,
                  "Who authenticates users: 'builtin' (session cookie or API token, the "
                  "default) or 'httpd' (the user Apache's authentication established)"),
    AP_INIT_TAKE1("PokettoMaxBodySize", set_limit, (void *)N_MAX_BODY,
                  RSRC_CONF | ACCESS_CONF,
                  "Largest request body the API accepts, in bytes (default 2097152)"),
    AP_INIT_TAKE1("PokettoMaxUrlLength", set_limit, (void *)N_MAX_URL,
                  RSRC_CONF | ACCESS_CONF,
                  "Longest URL that can be saved, in bytes (default 2048)"),
    AP_INIT_TAKE1("PokettoMaxPageSize", set_limit, (void *)N_MAX_PAGE,
                  RSRC_CONF | ACCESS_CONF,
                  "Largest 'limit' of one page of GET /api/items (default 100)"),
    AP_INIT_TAKE1("PokettoMaxTags", set_limit, (void *)N_MAX_TAGS, RSRC_CONF | ACCESS_CONF,
                  "Most tags one item may carry (default 32)"),
    AP_INIT_TAKE1("PokettoMaxTagLength", set_limit, (void *)N_MAX_TAG_LEN,
                  RSRC_CONF | ACCESS_CONF,
                  "Longest tag name, in characters (default 64)"),
    AP_INIT_ITERATE("PokettoAllowedOrigins", add_origin, NULL, RSRC_CONF | ACCESS_CONF,
                    "Origins (scheme://host[:port]) whose pages may make cookie-"
                    "authenticated changes, besides the server's own"),
    AP_INIT_TAKE1("PokettoSessionLifetime", set_limit, (void *)N_SESSION_TTL,
                  RSRC_CONF | ACCESS_CONF,
                  "How long a login session lasts, in seconds (default 2592000, 30 days)"),
    AP_INIT_TAKE1("PokettoPasswordCost", set_limit, (void *)N_PASSWORD_COST,
                  RSRC_CONF | ACCESS_CONF,
                  "bcrypt cost of new password hashes, 4 to 31 (default 10)"),
    { NULL }
};

/* ---- logging bridge for the httpd-free layers ---- */

static server_rec *log_server;

static void log_sink(void *baton, const char *file, int line, int level, apr_status_t rv,
                     const char *msg)
{
    ap_log_error_(file, line, APLOG_MODULE_INDEX, level, rv, log_server, "%s", msg);
}

static int log_enabled(void *baton, int level)
{
    return APLOG_IS_LEVEL(log_server, level);
}

/* ---- hooks ---- */

static int poketto_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    static int curl_ready;

    if (!curl_ready) {
        /* once per process, while it is still single-threaded */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            ap_log_perror(APLOG_MARK, APLOG_CRIT, 0, plog, APLOGNO(10710)
                          "curl_global_init failed");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        curl_ready = 1;
    }
    pk_dbd_retrieve();
    return OK;
}

static int poketto_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s)
{
    log_server = s;
    pk_log_set(log_sink, log_enabled, NULL);
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;                  /* the first, dry pass over the configuration */
    }
    if (APR_SUCCESS != pk_dbd_post_config(pconf, ptemp, s)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, APLOGNO(10711)
                 "mod_poketto %s ready", PK_VERSION);
    return OK;
}

static int poketto_handler(request_rec *r)
{
    if (!r->handler || strcmp(r->handler, "poketto")) {
        return DECLINED;
    }
    return pk_router_handle(r);
}

static void poketto_register_hooks(apr_pool_t *p)
{
    static const char *const before_dbd[] = { "mod_dbd.c", NULL };

    /* curl's global state and mod_dbd's functions, before any configuration is used */
    ap_hook_pre_config(poketto_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* migrate the schema and register our statements before mod_dbd groups its
     * configuration and before any child opens a connection */
    ap_hook_post_config(poketto_post_config, NULL, before_dbd, APR_HOOK_MIDDLE);
    /* every connection mod_dbd opens gets the settings the store relies on */
    pk_dbd_register_hooks();
    /* the JSON API, wherever `SetHandler poketto` mounts it */
    ap_hook_handler(poketto_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(poketto) = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    NULL,
    NULL,
    poketto_cmds,
    poketto_register_hooks
};
