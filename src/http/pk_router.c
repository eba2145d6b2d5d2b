/* mod_poketto — routing API requests to their handlers; see pk_router.h. */
#include <httpd.h>
#include <http_protocol.h>
#include <http_log.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "mod_poketto.h"
#include "pk_auth.h"
#include "pk_api.h"
#include "pk_router.h"

APLOG_USE_MODULE(poketto);

#define NEEDS_AUTH 1
#define OWN_DB 2                    /* holds its thread for long: a connection it gives back */

typedef struct {
    int method;                     /* M_GET, M_POST, ... */
    const char *pattern;            /* segments; "#" a positive integer, "*" any name */
    pk_handler_fn *fn;
    int flags;
} route;

static const route routes[] = {
    { M_POST,   "session",   pk_api_session_login,  0 },
    { M_GET,    "session",   pk_api_session_get,    NEEDS_AUTH },
    { M_DELETE, "session",   pk_api_session_logout, NEEDS_AUTH },
    { M_POST,   "password",  pk_api_session_password, NEEDS_AUTH },
    { M_GET,    "tokens",    pk_api_tokens_list,    NEEDS_AUTH },
    { M_POST,   "tokens",    pk_api_tokens_create,  NEEDS_AUTH },
    { M_DELETE, "tokens/#",  pk_api_tokens_delete,  NEEDS_AUTH },
    { M_GET,    "items",     pk_api_items_list,     NEEDS_AUTH },
    { M_POST,   "items",     pk_api_items_save,     NEEDS_AUTH },
    { M_GET,    "items/#",   pk_api_items_get,      NEEDS_AUTH },
    { M_PATCH,  "items/#",   pk_api_items_patch,    NEEDS_AUTH },
    { M_DELETE, "items/#",   pk_api_items_delete,   NEEDS_AUTH },
    { M_POST,   "items/#/refetch", pk_api_items_refetch, NEEDS_AUTH },
    { M_GET,    "tags",      pk_api_tags_list,      NEEDS_AUTH },
    { M_PATCH,  "tags/*",    pk_api_tags_rename,    NEEDS_AUTH },
    { M_DELETE, "tags/*",    pk_api_tags_delete,    NEEDS_AUTH },
    { M_GET,    "tasks/#",   pk_api_tasks_get,      NEEDS_AUTH },
    /* the WebSocket authenticates itself: a ticket, or an Origin check for the cookie */
    { M_GET,    "ws",        pk_api_ws_open,        OWN_DB },
    { M_POST,   "ws-ticket", pk_api_ws_ticket,      NEEDS_AUTH },
    { M_GET,    "events",    pk_api_events_get,     NEEDS_AUTH | OWN_DB },
    { 0, NULL, NULL, 0 }
};

/* Does path ("items/12") fit pattern ("items/#")? Fills args. */
static int matches(apr_pool_t *p, const char *pattern, const char *path, pk_args *args)
{
    const char *pe, *se;
    apr_size_t plen, slen;
    char *end;

    args->id = 0;
    args->name = NULL;
    while (*pattern && *path) {
        pe = strchr(pattern, '/');
        se = strchr(path, '/');
        plen = pe ? (apr_size_t)(pe - pattern) : strlen(pattern);
        slen = se ? (apr_size_t)(se - path) : strlen(path);
        if (slen == 0) {
            return 0;
        }
        if (plen == 1 && *pattern == '#') {
            if (slen > 18 || !apr_isdigit(*path)) {
                return 0;
            }
            args->id = apr_strtoi64(apr_pstrndup(p, path, slen), &end, 10);
            if (*end || args->id <= 0) {
                return 0;
            }
        }
        else if (plen == 1 && *pattern == '*') {
            args->name = apr_pstrndup(p, path, slen);
        }
        else if (plen != slen || strncmp(pattern, path, plen)) {
            return 0;
        }
        pattern += plen + (pe ? 1 : 0);
        path += slen + (se ? 1 : 0);
        if (!pe != !se) {
            return 0;               /* one has more segments than the other */
        }
    }
    return !*pattern && !*path;
}

/* The name of a route's method. Not ap_method_name_of(): HEAD is registered with
 * M_GET's number, so that answers "HEAD" or "GET" depending on the hash order. */
static const char *method_name(int method)
{
    switch (method) {
    case M_GET:    return "GET";
    case M_POST:   return "POST";
    case M_PUT:    return "PUT";
    case M_PATCH:  return "PATCH";
    case M_DELETE: return "DELETE";
    default:       return "OPTIONS";
    }
}

static int changes_state(int method)
{
    return method == M_POST || method == M_PUT || method == M_PATCH || method == M_DELETE;
}

/* Collect the routes that fit path: the Allow list and the one for the method. */
static int route_path(request_rec *r, const char *path, const route **hit, pk_args *hit_args,
                      const char **allow)
{
    const route *rt;
    pk_args args;
    int fits = 0;

    *hit = NULL;
    *allow = NULL;
    for (rt = routes; rt->pattern; ++rt) {
        if (!matches(r->pool, rt->pattern, path, &args)) {
            continue;
        }
        fits = 1;
        *allow = *allow ? apr_pstrcat(r->pool, *allow, ", ", method_name(rt->method), NULL)
                        : method_name(rt->method);
        if (rt->method == r->method_number) {
            *hit = rt;
            *hit_args = args;
        }
    }
    return fits;
}

int pk_router_handle(request_rec *r)
{
    pk_req *pr = apr_pcalloc(r->pool, sizeof(*pr));
    const char *allow = NULL, *s;
    const route *hit = NULL;
    pk_args args = { 0, NULL };
    int rc = OK;

    pr->r = r;
    pr->conf = pk_conf_get(r);
    /* The mount point is whatever <Location> says `SetHandler poketto`; httpd does not
     * tell the handler which one, so the longest tail of the path that is a route
     * decides: "/basic/api/items/3" is route "items/3" under "/basic/api". */
    for (s = r->uri; s; s = strchr(s + 1, '/')) {
        if (*s == '/' && route_path(r, s + 1, &hit, &args, &allow)) {
            pr->base = apr_pstrndup(r->pool, r->uri, (apr_size_t)(s - r->uri));
            pr->path = s;
            break;
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "route %s %s below %s", r->method,
                  pr->path ? pr->path : "(none)", pr->base ? pr->base : "(none)");
    if (!allow) {
        pr->base = "";
        pk_http_problem(pr, HTTP_NOT_FOUND, NULL, "no API resource at %s", r->uri);
        goto leave;
    }
    if (!hit) {
        if (strstr(allow, "GET")) {
            allow = apr_pstrcat(r->pool, allow, ", HEAD", NULL);
        }
        apr_table_setn(r->headers_out, "Allow", allow);
        pk_http_problem(pr, HTTP_METHOD_NOT_ALLOWED, NULL, "%s is not allowed on %s; use %s",
                        r->method, r->uri, allow);
        goto leave;
    }
    if ((hit->flags & OWN_DB) && !pk_http_db_own(pr)) {
        goto leave;
    }
    if ((hit->flags & NEEDS_AUTH) && DONE == pk_auth_identify(pr)) {
        goto leave;
    }
    if (pr->via_cookie && changes_state(r->method_number) && DONE == pk_auth_check_csrf(pr)) {
        goto leave;
    }
    rc = hit->fn(pr, &args);
leave:
    pk_http_db_release(pr);
    /* SUSPENDED: a parked WebSocket (pk_api_ws.c), the connection is the module's now */
    return rc == SUSPENDED ? SUSPENDED : OK;
}
