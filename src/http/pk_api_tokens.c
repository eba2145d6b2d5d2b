/* mod_poketto — API tokens: GET/POST /tokens, DELETE /tokens/{id}. */
#include <httpd.h>
#include <http_protocol.h>
#include <apr_strings.h>

#include "pk_json.h"
#include "pk_secret.h"
#include "pk_credentials.h"
#include "pk_auth.h"
#include "pk_api.h"
#include "pk_api_util.h"

#define MAX_TOKEN_NAME 100

static json_t *token_json(pk_req *pr, const pk_token *t)
{
    return json_pack("{s:I, s:s, s:o, s:o}", "id", (json_int_t)t->id, "name", t->name,
                     "created", pk_http_time(pr, t->created_ms),
                     "last_used", pk_http_time(pr, t->last_used_ms));
}

int pk_api_tokens_list(pk_req *pr, const pk_args *args)
{
    apr_array_header_t *tokens;
    json_t *list, *body;
    apr_status_t rv;
    int i;

    if (APR_SUCCESS != (rv = pk_token_list(pr->db, pr->r->pool, pr->user_id, &tokens))) {
        return pk_http_store_failed(pr, rv, "token");
    }
    body = pk_json_own(pr->r->pool, json_object());
    list = json_array();
    for (i = 0; i < tokens->nelts; ++i) {
        json_array_append_new(list, token_json(pr, APR_ARRAY_IDX(tokens, i, pk_token *)));
    }
    json_object_set_new(body, "tokens", list);
    return pk_http_json(pr, HTTP_OK, body, 1);
}

int pk_api_tokens_create(pk_req *pr, const pk_args *args)
{
    request_rec *r = pr->r;
    const char *name, *secret = NULL;
    pk_token *t = NULL;
    json_t *body, *out;
    apr_status_t rv;

    if (DONE == pk_http_read_json(pr, 0, &body)) {
        return DONE;
    }
    name = pk_json_str(body, "name");
    if (!name || !*name || pk_api_utf8_chars(name) > MAX_TOKEN_NAME) {
        return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, "name",
                               "field 'name': a string of 1 to %d characters is required",
                               MAX_TOKEN_NAME);
    }
    if (APR_SUCCESS != pk_secret_token(r->pool, PK_TOKEN_PREFIX, 32, &secret)) {
        return pk_http_problem(pr, HTTP_INTERNAL_SERVER_ERROR, NULL,
                               "no randomness available for a token");
    }
    if (APR_SUCCESS != (rv = pk_token_create(pr->db, r->pool, pr->user_id, name,
                                             pk_secret_hash(r->pool, secret), &t))) {
        return pk_http_store_failed(pr, rv, "token");
    }
    out = pk_json_own(r->pool, token_json(pr, t));
    json_object_set_new(out, "token", json_string(secret));
    apr_table_setn(r->headers_out, "Location",
                   pk_http_url(pr, apr_psprintf(r->pool, "/tokens/%" APR_INT64_T_FMT, t->id)));
    return pk_http_json(pr, HTTP_CREATED, out, 0);
}

int pk_api_tokens_delete(pk_req *pr, const pk_args *args)
{
    apr_status_t rv = pk_token_delete(pr->db, pr->r->pool, pr->user_id, args->id);

    if (rv != APR_SUCCESS) {
        return pk_http_store_failed(pr, rv, "token");
    }
    pr->r->status = HTTP_NO_CONTENT;
    return OK;
}
