/* mod_poketto — who is asking; see pk_auth.h. */
#include <httpd.h>
#include <http_protocol.h>
#include <http_log.h>
#include <util_cookies.h>
#include <apr_strings.h>

#include "pk_secret.h"
#include "pk_users.h"
#include "pk_credentials.h"
#include "pk_auth.h"

APLOG_USE_MODULE(poketto);

/* last_used of a token is written at most this often, not on every request */
#define TOKEN_TOUCH_MS (60 * 1000)

static int by_token(pk_req *pr, const char *token)
{
    pk_token *t = NULL;
    apr_status_t rv;

    if (!pk_http_db(pr)) {
        return DONE;
    }
    rv = pk_token_lookup(pr->db, pr->r->pool, pk_secret_hash(pr->r->pool, token), &t);
    if (rv == APR_NOTFOUND) {
        return pk_http_problem(pr, HTTP_UNAUTHORIZED, NULL,
                               "the bearer token is not valid (unknown or revoked)");
    }
    if (rv != APR_SUCCESS) {
        return pk_http_store_failed(pr, rv, "token");
    }
    if (pk_db_now_ms() - t->last_used_ms > TOKEN_TOUCH_MS) {
        pk_token_touch(pr->db, pr->r->pool, t->id);     /* best effort */
    }
    pr->user_id = t->user_id;
    pr->login = t->login;
    pr->user_version = t->user_version;
    pr->has_version = 1;
    return OK;
}

static int by_httpd(pk_req *pr)
{
    pk_user *u = NULL;
    apr_status_t rv;

    if (!pk_http_db(pr)) {
        return DONE;
    }
    if (APR_SUCCESS != (rv = pk_user_ensure(pr->db, pr->r->pool, pr->r->user, &u))) {
        return pk_http_store_failed(pr, rv, "user");
    }
    pr->user_id = u->id;
    pr->login = u->login;
    pr->user_version = u->version;
    pr->has_version = 1;
    return OK;
}

const char *pk_auth_cookie(pk_req *pr)
{
    const char *value = NULL;

    if (APR_SUCCESS != ap_cookie_read(pr->r, PK_SESSION_COOKIE, &value, 0)
        || !value || !*value) {
        value = NULL;
    }
    return value;
}

static int by_cookie(pk_req *pr, const char *cookie)
{
    pk_session *s = NULL;
    const char *hash = pk_secret_hash(pr->r->pool, cookie);
    apr_status_t rv;

    if (!pk_http_db(pr)) {
        return DONE;
    }
    rv = pk_session_lookup(pr->db, pr->r->pool, hash, &s);
    if (rv == APR_NOTFOUND) {
        return pk_http_problem(pr, HTTP_UNAUTHORIZED, NULL,
                               "the session has expired or was logged out; log in again");
    }
    if (rv != APR_SUCCESS) {
        return pk_http_store_failed(pr, rv, "session");
    }
    pr->user_id = s->user_id;
    pr->login = s->login;
    pr->via_cookie = 1;
    pr->user_version = s->user_version;
    pr->has_version = 1;
    pr->session_hash = hash;
    pr->csrf = s->csrf;
    return OK;
}

int pk_auth_identify(pk_req *pr)
{
    request_rec *r = pr->r;
    const char *authz = apr_table_get(r->headers_in, "Authorization");
    const char *cookie;

    if (authz && !strncasecmp(authz, "Bearer ", 7)) {
        const char *token = authz + 7;
        while (*token == ' ') {
            ++token;
        }
        return by_token(pr, token);
    }
    if (pk_conf_auth(pr->conf) == PK_AUTH_HTTPD) {
        if (r->user && *r->user) {
            return by_httpd(pr);
        }
        return pk_http_problem(pr, HTTP_UNAUTHORIZED, NULL,
                               "no user was authenticated by the server (PokettoAuth "
                               "httpd) and no bearer token was sent");
    }
    if ((cookie = pk_auth_cookie(pr))) {
        return by_cookie(pr, cookie);
    }
    return pk_http_problem(pr, HTTP_UNAUTHORIZED, NULL,
                           "authentication required: log in (POST /session) or send "
                           "'Authorization: Bearer TOKEN'");
}

/* The server's own origin as a browser would write it: scheme://host[:port]. */
static const char *own_origin(request_rec *r)
{
    const char *host = apr_table_get(r->headers_in, "Host");
    return host ? apr_pstrcat(r->pool, ap_http_scheme(r), "://", host, NULL) : NULL;
}

int pk_auth_check_csrf(pk_req *pr)
{
    request_rec *r = pr->r;
    const char *token = apr_table_get(r->headers_in, "X-CSRF-Token");
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *own;

    if (token && pr->csrf && pk_secret_equal(token, pr->csrf)) {
        return OK;
    }
    if (origin && strcmp(origin, "null")) {
        own = own_origin(r);
        if ((own && !strcasecmp(origin, own)) || pk_conf_origin_allowed(pr->conf, origin)) {
            return OK;
        }
        return pk_http_problem(pr, HTTP_FORBIDDEN, NULL,
                               "cross-site request refused: origin %s is not allowed "
                               "to change data with this session", origin);
    }
    return pk_http_problem(pr, HTTP_FORBIDDEN, NULL,
                           "a request authenticated by the session cookie that changes "
                           "data needs the X-CSRF-Token header given at login");
}
