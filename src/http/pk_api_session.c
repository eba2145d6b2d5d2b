/* mod_poketto — log in and out: POST/GET/DELETE /session. */
#include <httpd.h>
#include <http_protocol.h>
#include <http_log.h>
#include <util_cookies.h>
#include <apr_strings.h>

#include "pk_json.h"
#include "pk_secret.h"
#include "pk_users.h"
#include "pk_credentials.h"
#include "pk_auth.h"
#include "pk_api.h"
#include "pk_api_util.h"

APLOG_USE_MODULE(poketto);

/* Checked when the login is unknown, so that a wrong login costs as long as a wrong
 * password and response times do not tell which logins exist. */
static const char *const dummy_hash =
    "$2y$10$abcdefghijklmnopqrstuu5Ma0SYeRrRnP2Q3ZTm7Ke3P3k0XW8Ga";

static json_t *session_body(pk_req *pr, const char *csrf, apr_int64_t expires_ms)
{
    return pk_json_own(pr->r->pool,
        json_pack("{s:{s:I, s:s}, s:o, s:o}",
                  "user", "id", (json_int_t)pr->user_id, "login", pr->login,
                  "csrf_token", csrf ? json_string(csrf) : json_null(),
                  "expires", pk_http_time(pr, expires_ms)));
}

static const char *cookie_attrs(pk_req *pr, apr_int64_t max_age_s)
{
    return apr_psprintf(pr->r->pool, "Path=/;HttpOnly;SameSite=Lax;Max-Age=%" APR_INT64_T_FMT
                        "%s", max_age_s,
                        strcmp(ap_http_scheme(pr->r), "https") ? "" : ";Secure");
}

int pk_api_session_login(pk_req *pr, const pk_args *args)
{
    request_rec *r = pr->r;
    const char *login, *password, *sid = NULL, *csrf = NULL;
    apr_int64_t ttl_s = apr_time_sec(pk_conf_session_ttl(pr->conf));
    apr_int64_t expires_ms;
    pk_user *u = NULL;
    json_t *body;
    apr_status_t rv;

    if (DONE == pk_http_read_json(pr, 0, &body)) {
        return DONE;
    }
    if (!(login = pk_json_str(body, "login")) || !*login) {
        return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, "login",
                               "field 'login': a non-empty string is required");
    }
    if (!(password = pk_json_str(body, "password"))) {
        return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, "password",
                               "field 'password': a string is required");
    }
    if (!pk_http_db(pr)) {
        return DONE;
    }
    rv = pk_user_by_login(pr->db, r->pool, login, &u);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        return pk_http_store_failed(pr, rv, "user");
    }
    if (!pk_password_check(password, u && u->password_hash ? u->password_hash : dummy_hash)
        || !u || !u->password_hash) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, APLOGNO(10730)
                      "failed login for '%s'", login);
        return pk_http_problem(pr, HTTP_UNAUTHORIZED, NULL, "wrong login or password");
    }
    expires_ms = pk_db_now_ms() + ttl_s * 1000;
    if (APR_SUCCESS != (rv = pk_secret_token(r->pool, NULL, 32, &sid))
        || APR_SUCCESS != (rv = pk_secret_token(r->pool, NULL, 24, &csrf))) {
        return pk_http_problem(pr, HTTP_INTERNAL_SERVER_ERROR, NULL,
                               "no randomness available for a session");
    }
    if (APR_SUCCESS != (rv = pk_session_create(pr->db, r->pool, u->id,
                                               pk_secret_hash(r->pool, sid), csrf,
                                               expires_ms))) {
        return pk_http_store_failed(pr, rv, "session");
    }
    /* expired sessions go when someone logs in: no timer needed */
    pk_session_purge(pr->db, r->pool);
    ap_cookie_write(r, PK_SESSION_COOKIE, sid, cookie_attrs(pr, ttl_s), 0,
                    r->headers_out, NULL);
    pr->user_id = u->id;
    pr->login = u->login;
    return pk_http_json(pr, HTTP_OK, session_body(pr, csrf, expires_ms), 0);
}

int pk_api_session_get(pk_req *pr, const pk_args *args)
{
    pk_session *s = NULL;
    apr_int64_t expires = 0;

    if (pr->via_cookie
        && APR_SUCCESS == pk_session_lookup(pr->db, pr->r->pool, pr->session_hash, &s)) {
        expires = s->expires_ms;
    }
    return pk_http_json(pr, HTTP_OK, session_body(pr, pr->csrf, expires), 0);
}

int pk_api_session_logout(pk_req *pr, const pk_args *args)
{
    apr_status_t rv;

    if (pr->via_cookie
        && APR_SUCCESS != (rv = pk_session_delete(pr->db, pr->r->pool, pr->session_hash))) {
        return pk_http_store_failed(pr, rv, "session");
    }
    ap_cookie_remove(pr->r, PK_SESSION_COOKIE, "Path=/;HttpOnly;SameSite=Lax",
                     pr->r->headers_out, NULL);
    pr->r->status = HTTP_NO_CONTENT;
    return OK;
}

#define MIN_PASSWORD 8
#define MAX_PASSWORD 200

int pk_api_session_password(pk_req *pr, const pk_args *args)
{
    request_rec *r = pr->r;
    const char *current, *fresh, *hash = NULL;
    pk_user *u = NULL;
    json_t *body;
    apr_status_t rv;

    if (DONE == pk_http_read_json(pr, 0, &body)
        || DONE == pk_api_check_members(pr, body, "current_password new_password")) {
        return DONE;
    }
    if (!(current = pk_json_str(body, "current_password"))) {
        return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, "current_password",
                               "field 'current_password': a string is required");
    }
    fresh = pk_json_str(body, "new_password");
    if (!fresh || strlen(fresh) < MIN_PASSWORD || strlen(fresh) > MAX_PASSWORD) {
        return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, "new_password",
                               "field 'new_password': a string of %d to %d bytes is required",
                               MIN_PASSWORD, MAX_PASSWORD);
    }
    if (APR_SUCCESS != (rv = pk_user_by_login(pr->db, r->pool, pr->login, &u))) {
        return pk_http_store_failed(pr, rv, "user");
    }
    if (!u->password_hash || !pk_password_check(current, u->password_hash)) {
        return pk_http_problem(pr, HTTP_FORBIDDEN, "current_password",
                               "the current password is wrong");
    }
    if (APR_SUCCESS != pk_password_hash(r->pool, fresh, pk_conf_password_cost(pr->conf),
                                        &hash)) {
        return pk_http_problem(pr, HTTP_INTERNAL_SERVER_ERROR, NULL,
                               "the password could not be hashed");
    }
    if (APR_SUCCESS != (rv = pk_user_set_password(pr->db, r->pool, u->id, hash))) {
        return pk_http_store_failed(pr, rv, "user");
    }
    r->status = HTTP_NO_CONTENT;
    return OK;
}
