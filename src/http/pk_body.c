/* mod_poketto — reading JSON request bodies within limits; see pk_http.h. */
#include <httpd.h>
#include <http_protocol.h>
#include <apr_strings.h>

#include "pk_json.h"
#include "pk_http.h"

static int media_type_is(const char *ct, const char *want)
{
    apr_size_t n = strlen(want);

    while (*ct == ' ' || *ct == '\t') {
        ++ct;
    }
    return !strncasecmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '
                                         || ct[n] == '\t');
}

int pk_http_read_json(pk_req *pr, int merge_patch, json_t **obj)
{
    request_rec *r = pr->r;
    apr_off_t max = pk_conf_max_body(pr->conf);
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    char *buf = NULL;
    apr_off_t len = 0;
    long n = 0;
    json_error_t err;
    json_t *j;

    *obj = NULL;
    if (!ct || !(media_type_is(ct, "application/json")
                 || (merge_patch && media_type_is(ct, "application/merge-patch+json")))) {
        return pk_http_problem(pr, HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
                               "the body must be application/json%s, not %s",
                               merge_patch ? " or application/merge-patch+json" : "",
                               ct ? ct : "untyped");
    }
    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        return pk_http_problem(pr, HTTP_BAD_REQUEST, NULL, "the body could not be read");
    }
    if (r->remaining > max) {       /* Content-Length says it already: read nothing */
        return pk_http_problem(pr, HTTP_REQUEST_ENTITY_TOO_LARGE, NULL,
                               "the body has %" APR_OFF_T_FMT " bytes; at most %"
                               APR_OFF_T_FMT " are accepted", r->remaining, max);
    }
    if (ap_should_client_block(r)) {
        /* Content-Length bodies get exactly their size (+1 to notice a lie); chunked
         * ones the whole allowance */
        apr_off_t cap = (r->read_chunked || r->remaining <= 0) ? max + 1 : r->remaining + 1;
        buf = apr_palloc(r->pool, (apr_size_t)cap);
        while (len < cap
               && (n = ap_get_client_block(r, buf + len, (apr_size_t)(cap - len))) > 0) {
            len += n;
            if (len > max) {        /* chunked and too long: stop reading at once */
                return pk_http_problem(pr, HTTP_REQUEST_ENTITY_TOO_LARGE, NULL,
                                       "the body is longer than the %" APR_OFF_T_FMT
                                       " bytes accepted", max);
            }
        }
        if (n < 0) {
            return pk_http_problem(pr, HTTP_BAD_REQUEST, NULL,
                                   "the body could not be read completely");
        }
    }
    if (len == 0) {
        return pk_http_problem(pr, HTTP_BAD_REQUEST, NULL,
                               "the body is empty; a JSON object is expected");
    }
    j = pk_json_own(r->pool, json_loadb(buf, (size_t)len, JSON_REJECT_DUPLICATES, &err));
    if (!j) {
        return pk_http_problem(pr, HTTP_BAD_REQUEST, NULL,
                               "malformed JSON at line %d, column %d: %s",
                               err.line, err.column, err.text);
    }
    if (!json_is_object(j)) {
        return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, NULL,
                               "the body must be a JSON object");
    }
    *obj = j;
    return OK;
}
