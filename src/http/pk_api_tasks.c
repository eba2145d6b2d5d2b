/* mod_poketto — task status: GET /tasks/{id}. */
#include <httpd.h>
#include <http_protocol.h>
#include <apr_strings.h>

#include "pk_json.h"
#include "pk_tasks.h"
#include "pk_api.h"

int pk_api_tasks_get(pk_req *pr, const pk_args *args)
{
    request_rec *r = pr->r;
    pk_task *t = NULL;
    json_t *body;
    apr_status_t rv;
    const char *self;

    if (APR_SUCCESS != (rv = pk_task_get(pr->db, r->pool, pr->user_id, args->id, &t))) {
        return pk_http_store_failed(pr, rv, "task");
    }
    body = pk_json_own(r->pool, json_pack("{s:I, s:s, s:I, s:i, s:o}",
                                          "id", (json_int_t)t->id, "state", t->state,
                                          "item_id", (json_int_t)t->item_id,
                                          "attempts", t->attempts,
                                          "error", t->error ? json_string(t->error)
                                                            : json_null()));
    self = pk_http_url(pr, apr_psprintf(r->pool, "/tasks/%" APR_INT64_T_FMT, t->id));
    if (!strcmp(t->state, "done")) {
        apr_table_setn(r->headers_out, "Location",
                       pk_http_url(pr, apr_psprintf(r->pool, "/items/%" APR_INT64_T_FMT,
                                                    t->item_id)));
        return pk_http_json(pr, HTTP_SEE_OTHER, body, 0);
    }
    if (!strcmp(t->state, "failed")) {
        return pk_http_json(pr, HTTP_OK, body, 0);
    }
    /* queued or running: come back in a second */
    apr_table_setn(r->headers_out, "Location", self);
    apr_table_setn(r->headers_out, "Retry-After", "1");
    return pk_http_json(pr, HTTP_ACCEPTED, body, 0);
}
