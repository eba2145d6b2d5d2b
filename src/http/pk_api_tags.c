/* mod_poketto — tags: GET /tags, PATCH/DELETE /tags/{name}. */
#include <httpd.h>
#include <http_protocol.h>
#include <apr_strings.h>

#include "pk_json.h"
#include "pk_tags.h"
#include "pk_api.h"
#include "pk_api_util.h"

static json_t *tag_json(const pk_tag *t)
{
    return json_pack("{s:s, s:I}", "name", t->name, "count", (json_int_t)t->count);
}

int pk_api_tags_list(pk_req *pr, const pk_args *args)
{
    apr_array_header_t *tags;
    json_t *body, *list;
    apr_status_t rv;
    int i;

    if (APR_SUCCESS != (rv = pk_tags_list(pr->db, pr->r->pool, pr->user_id, &tags))) {
        return pk_http_store_failed(pr, rv, "tag");
    }
    body = pk_json_own(pr->r->pool, json_object());
    list = json_array();
    for (i = 0; i < tags->nelts; ++i) {
        json_array_append_new(list, tag_json(APR_ARRAY_IDX(tags, i, pk_tag *)));
    }
    json_object_set_new(body, "tags", list);
    return pk_http_json(pr, HTTP_OK, body, 1);
}

int pk_api_tags_rename(pk_req *pr, const pk_args *args)
{
    apr_array_header_t *names = NULL;
    json_t *body, *one;
    pk_tag *t = NULL;
    apr_status_t rv;

    if (DONE == pk_http_read_json(pr, 1, &body)
        || DONE == pk_api_check_members(pr, body, "name")) {
        return DONE;
    }
    if (!json_is_string(json_object_get(body, "name"))) {
        return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, "name",
                               "field 'name' is required: the tag's new name");
    }
    /* the new name obeys the rules of any tag */
    one = pk_json_own(pr->r->pool, json_pack("[O]", json_object_get(body, "name")));
    if (DONE == pk_api_read_tags(pr, one, "name", &names)) {
        return DONE;
    }
    rv = pk_tags_rename(pr->db, pr->r->pool, pr->user_id, args->name,
                        APR_ARRAY_IDX(names, 0, const char *), &t);
    if (rv != APR_SUCCESS) {
        return pk_http_store_failed(pr, rv, "tag");
    }
    return pk_http_json(pr, HTTP_OK, pk_json_own(pr->r->pool, tag_json(t)), 0);
}

int pk_api_tags_delete(pk_req *pr, const pk_args *args)
{
    apr_status_t rv = pk_tags_delete(pr->db, pr->r->pool, pr->user_id, args->name);

    if (rv != APR_SUCCESS) {
        return pk_http_store_failed(pr, rv, "tag");
    }
    pr->r->status = HTTP_NO_CONTENT;
    return OK;
}
