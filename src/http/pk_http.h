/* mod_poketto — what every API handler shares (http layer).
 *
 * Helpers return OK when the handler may go on and DONE when they have already
 * answered the request (an error as problem+json): `if (DONE == f(pr)) return OK;`.
 */
#ifndef PK_HTTP_H
#define PK_HTTP_H

#include <httpd.h>
#include <jansson.h>

#include "mod_poketto.h"
#include "pk_db.h"

/** One API request. Lives in r->pool. */
typedef struct pk_req {
    request_rec *r;
    const pk_dir_conf *conf;
    const char *base;               /* mount point, no trailing slash ("" for "/") */
    const char *path;               /* the part below it, "/items/3" */
    pk_db *db;                      /* the request's connection (pk_http_db) */
    int db_own;                     /* db is one of our own (pk_dbd_open), not the
                                     * request's: pk_http_db_release gives it back */
    apr_int64_t user_id;            /* 0 until authenticated */
    const char *login;
    int via_cookie;                 /* authenticated by the session cookie */
    const char *session_hash;       /* that session's stored hash */
    const char *csrf;               /* that session's CSRF token */
    apr_int64_t user_version;       /* users.version as authentication read it */
    int has_version;                /* user_version is known */
} pk_req;

/** What a route's pattern captured from the path. */
typedef struct pk_args {
    apr_int64_t id;                 /* a numeric segment ("/items/#") */
    const char *name;               /* a free segment (tags/NAME), already decoded */
} pk_args;

/** An API handler: answers the request, returns OK (or DONE after an error). */
typedef int pk_handler_fn(pk_req *pr, const pk_args *args);

/** The request's database connection; on failure answers 503 and returns NULL. */
pk_db *pk_http_db(pk_req *pr);

/** For requests that hold their thread for long (event streams): a connection of the
 *  request's own (ap_dbd_open) instead of the one mod_dbd keeps for the whole request,
 *  so that it can be given back early with pk_http_db_release. Call before anything
 *  uses pr->db; on failure answers 503 and returns NULL. */
pk_db *pk_http_db_own(pk_req *pr);

/** Give back a connection pk_http_db_own took (no-op otherwise); pr->db is NULL after. */
void pk_http_db_release(pk_req *pr);

/** Answer with a JSON body and status. With etag set, a strong ETag of the body is
 *  sent and a matching If-None-Match gets 304. Returns OK. */
int pk_http_json(pk_req *pr, int status, json_t *body, int etag);

/** Answer with a serialised JSON body; with etag (a quoted entity tag) set, a matching
 *  If-None-Match gets 304. Returns OK. */
int pk_http_send(pk_req *pr, int status, const char *text, apr_size_t len, const char *etag);

/** The strong entity tag of a body (from p). */
const char *pk_http_etag(apr_pool_t *p, const char *text);

/** Answer with application/problem+json (RFC 9457): status, its title, the detail and,
 *  when field is set, the member or parameter at fault. Returns DONE. */
int pk_http_problem(pk_req *pr, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** The problem for a store failure: 404 for APR_NOTFOUND, else 503. Returns DONE. */
int pk_http_store_failed(pk_req *pr, apr_status_t rv, const char *what);

/** Read the request body as a JSON object: 415 unless its type is application/json
 *  (or application/merge-patch+json when merge_patch is set), 413 over
 *  PokettoMaxBodySize, 400 when malformed, 422 when not an object. The object is
 *  owned by r->pool. */
int pk_http_read_json(pk_req *pr, int merge_patch, json_t **obj);

/** A URL below the mount point, e.g. pk_http_url(pr, "/tasks/5"). */
const char *pk_http_url(pk_req *pr, const char *path);

/** ISO 8601 text of a time column (ms), or JSON null for 0. */
json_t *pk_http_time(pk_req *pr, apr_int64_t ms);

#endif /* PK_HTTP_H */
