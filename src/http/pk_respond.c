/* mod_poketto — answering API requests: JSON, problem+json, ETags; see pk_http.h. */
#include <stdarg.h>
#include <httpd.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_log.h>
#include <apr_strings.h>

#include "pk_json.h"
#include "pk_secret.h"
#include "pk_time.h"
#include "pk_dbd.h"
#include "pk_http.h"

APLOG_USE_MODULE(poketto);

pk_db *pk_http_db(pk_req *pr)
{
    if (!pr->db) {
        pr->db = pk_dbd_acquire(pr->r);
        if (!pr->db) {
            pk_http_problem(pr, HTTP_SERVICE_UNAVAILABLE, NULL,
                            "the database is unavailable; try again later");
        }
    }
    return pr->db;
}

pk_db *pk_http_db_own(pk_req *pr)
{
    if (!pr->db) {
        pr->db = pk_dbd_open(pr->r->pool, pr->r->server);
        pr->db_own = pr->db != NULL;
        if (!pr->db) {
            pk_http_problem(pr, HTTP_SERVICE_UNAVAILABLE, NULL,
                            "the database is unavailable; try again later");
        }
    }
    return pr->db;
}

void pk_http_db_release(pk_req *pr)
{
    if (pr->db && pr->db_own) {
        pk_dbd_close(pr->r->server, pr->db);
        pr->db = NULL;
        pr->db_own = 0;
    }
}

static void common_headers(pk_req *pr)
{
    /* answers depend on who asks: shared caches must not keep them, browsers revalidate */
    apr_table_setn(pr->r->headers_out, "Cache-Control", "private, no-cache");
    apr_table_mergen(pr->r->headers_out, "Vary", "Authorization, Cookie");
    apr_table_setn(pr->r->headers_out, "X-Content-Type-Options", "nosniff");
}

const char *pk_http_etag(apr_pool_t *p, const char *text)
{
    return apr_pstrcat(p, "\"", pk_secret_hash(p, text), "\"", NULL);
}

int pk_http_json(pk_req *pr, int status, json_t *body, int etag)
{
    apr_size_t len = 0;
    const char *text = pk_json_dump(pr->r->pool, body, JSON_COMPACT, &len);

    if (!text) {
        return pk_http_problem(pr, HTTP_INTERNAL_SERVER_ERROR, NULL,
                               "the response could not be serialised");
    }
    return pk_http_send(pr, status, text, len, etag ? pk_http_etag(pr->r->pool, text) : NULL);
}

int pk_http_send(pk_req *pr, int status, const char *text, apr_size_t len, const char *etag)
{
    request_rec *r = pr->r;
    int cond;

    common_headers(pr);
    r->status = status;
    if (etag) {
        apr_table_setn(r->headers_out, "ETag", etag);
        cond = ap_meets_conditions(r);
        if (cond == HTTP_NOT_MODIFIED) {
            r->status = HTTP_NOT_MODIFIED;
            return OK;
        }
        if (cond == HTTP_PRECONDITION_FAILED) {
            return pk_http_problem(pr, HTTP_PRECONDITION_FAILED, NULL,
                                   "the resource does not match If-Match / If-Unmodified-Since");
        }
    }
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, len);
    if (!r->header_only) {
        ap_rwrite(text, (int)len, r);
    }
    return OK;
}

int pk_http_problem(pk_req *pr, int status, const char *field, const char *fmt, ...)
{
    request_rec *r = pr->r;
    const char *detail, *title = ap_get_status_line(status);
    json_t *body;
    const char *text;
    apr_size_t len = 0;
    va_list ap;

    va_start(ap, fmt);
    detail = apr_pvsprintf(r->pool, fmt, ap);
    va_end(ap);
    if (title && strlen(title) > 4) {
        title += 4;                 /* "404 Not Found" -> "Not Found" */
    }
    body = pk_json_own(r->pool, json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank",
                                          "title", title ? title : "Error",
                                          "status", status, "detail", detail));
    if (field) {
        json_object_set_new(body, "field", json_string(field));
    }
    if (status == HTTP_UNAUTHORIZED) {
        apr_table_setn(r->headers_out, "WWW-Authenticate", "Bearer realm=\"poketto\"");
    }
    /* a 503 with Retry-After is a deliberate back-off (a cap, a stopping child): the
     * caller logged why; the server is not failing */
    ap_log_rerror(APLOG_MARK, status < 500 ? APLOG_DEBUG
                              : status == HTTP_SERVICE_UNAVAILABLE
                                && apr_table_get(r->headers_out, "Retry-After") ? APLOG_INFO
                              : APLOG_ERR, 0, r, APLOGNO(10720)
                  "%d %s%s%s", status, detail, field ? " field=" : "", field ? field : "");
    text = pk_json_dump(r->pool, body, JSON_COMPACT, &len);
    common_headers(pr);
    r->status = status;
    ap_set_content_type(r, "application/problem+json");
    ap_set_content_length(r, len);
    if (!r->header_only && text) {
        ap_rwrite(text, (int)len, r);
    }
    return DONE;
}

int pk_http_store_failed(pk_req *pr, apr_status_t rv, const char *what)
{
    if (rv == APR_NOTFOUND) {
        return pk_http_problem(pr, HTTP_NOT_FOUND, NULL, "no such %s", what);
    }
    return pk_http_problem(pr, HTTP_SERVICE_UNAVAILABLE, NULL,
                           "the database could not complete the request; nothing was "
                           "changed, try again");
}

const char *pk_http_url(pk_req *pr, const char *path)
{
    return apr_pstrcat(pr->r->pool, pr->base, path, NULL);
}

json_t *pk_http_time(pk_req *pr, apr_int64_t ms)
{
    return ms ? json_string(pk_time_iso(pr->r->pool, (apr_time_t)ms * 1000)) : json_null();
}
