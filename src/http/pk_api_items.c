/* mod_poketto — items: GET/POST /items, GET/PATCH/DELETE /items/{id}. */
#include <math.h>
#include <httpd.h>
#include <http_protocol.h>
#include <apr_strings.h>
#include <apr_base64.h>
#include <apr_lib.h>

#include "pk_json.h"
#include "pk_time.h"
#include "pk_url.h"
#include "pk_items.h"
#include "pk_extract.h"
#include "pk_tasks.h"
#include "pk_engine.h"
#include "pk_respcache.h"
#include "pk_api.h"
#include "pk_api_util.h"

#define DEFAULT_PAGE 30
#define MAX_TITLE 1000

static json_t *json_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* the item as every answer and every event shows it (store/pk_items.c) */
static json_t *item_json(pk_req *pr, const pk_item *it)
{
    return pk_item_json(pr->r->pool, it);
}

static const char *item_url(pk_req *pr, apr_int64_t id)
{
    return pk_http_url(pr, apr_psprintf(pr->r->pool, "/items/%" APR_INT64_T_FMT, id));
}

/* Prefer: wait=N (RFC 7240): hold the answer up to N seconds (at most
 * PokettoMaxWait) while the engine works; the request thread only waits on the
 * engine's condition, it fetches nothing. DONE when the item was answered with 201. */
static int wait_for_task(pk_req *pr, apr_int64_t task_id, pk_item **it)
{
    request_rec *r = pr->r;
    const char *prefer = apr_table_get(r->headers_in, "Prefer"), *w;
    apr_int64_t secs = 0;
    apr_time_t until;
    pk_task *t = NULL;
    pk_item *done = NULL;

    if (!prefer || !(w = ap_strcasestr(prefer, "wait="))
        || !pk_api_parse_int(apr_pstrndup(r->pool, w + 5, strspn(w + 5, "0123456789")),
                             1, 3600, &secs)) {
        return OK;
    }
    if (secs > pk_conf_max_wait(pr->conf)) {
        secs = pk_conf_max_wait(pr->conf);
    }
    until = apr_time_now() + apr_time_from_sec(secs);
    while (1) {
        if (APR_SUCCESS == pk_task_get(pr->db, r->pool, pr->user_id, task_id, &t)
            && (!strcmp(t->state, "done") || !strcmp(t->state, "failed"))) {
            break;
        }
        if (apr_time_now() >= until) {
            apr_table_setn(r->headers_out, "Preference-Applied",
                           apr_psprintf(r->pool, "wait=%" APR_INT64_T_FMT, secs));
            return OK;
        }
        /* woken when a task of this child finishes; tasks other children run are
         * seen by the re-check after at most one wait slice */
        pk_engine_wait(until);
    }
    if (APR_SUCCESS != pk_item_get(pr->db, r->pool, pr->user_id, t->item_id, &done)) {
        return OK;
    }
    *it = done;
    apr_table_setn(r->headers_out, "Preference-Applied",
                   apr_psprintf(r->pool, "wait=%" APR_INT64_T_FMT, secs));
    apr_table_setn(r->headers_out, "Location", item_url(pr, done->id));
    pk_http_json(pr, HTTP_CREATED, pk_json_own(r->pool, item_json(pr, done)), 0);
    return DONE;
}

int pk_api_items_save(pk_req *pr, const pk_args *args)
{
    request_rec *r = pr->r;
    const char *given, *canon = NULL, *why = NULL, *title = NULL, *html = NULL;
    apr_array_header_t *tags = NULL;
    apr_int64_t task_id = 0;
    pk_item *it = NULL;
    int existing = 0;
    json_t *body, *v, *out;
    apr_status_t rv;

    if (DONE == pk_http_read_json(pr, 0, &body)
        || DONE == pk_api_check_members(pr, body, "url tags title html")) {
        return DONE;
    }
    v = json_object_get(body, "html");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || json_string_length(v) == 0
            || strlen(json_string_value(v)) != json_string_length(v)) {
            return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, "html",
                                   "field 'html' must be the page's HTML as a non-empty "
                                   "string without NUL characters");
        }
        html = json_string_value(v);
    }
    v = json_object_get(body, "url");
    if (!v) {
        return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, "url",
                               "field 'url' is required: the address of the page to save");
    }
    if (!json_is_string(v)) {
        return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, "url",
                               "field 'url' must be a string");
    }
    given = json_string_value(v);
    if (APR_SUCCESS != pk_url_canonicalize(r->pool, given,
                                           (apr_size_t)pk_conf_max_url(pr->conf),
                                           &canon, &why)) {
        return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, "url", "field 'url' %s",
                               why ? why : "cannot be processed");
    }
    if (DONE == pk_api_read_tags(pr, json_object_get(body, "tags"), "tags", &tags)
        || DONE == pk_api_read_title(pr, body, MAX_TITLE, &title, NULL)) {
        return DONE;
    }
    if (!pk_http_db(pr)) {
        return DONE;
    }
    rv = pk_item_save(pr->db, r->pool, pr->user_id, canon, given, title, tags, html, &it,
                      &task_id, &existing);
    if (rv != APR_SUCCESS) {
        return pk_http_store_failed(pr, rv, "item");
    }
    if (task_id) {
        pk_engine_notify();         /* this child's fetcher claims it now, not at its next poll */
        if (DONE == wait_for_task(pr, task_id, &it)) {
            return OK;              /* finished within Prefer: wait: 201 with the item */
        }
    }
    out = pk_json_own(r->pool, json_object());
    json_object_set_new(out, "item", item_json(pr, it));
    if (existing && !task_id) {
        json_object_set_new(out, "existing", json_true());
        apr_table_setn(r->headers_out, "Content-Location", item_url(pr, it->id));
        return pk_http_json(pr, HTTP_OK, out, 0);
    }
    if (existing) {
        json_object_set_new(out, "existing", json_true());
    }
    json_object_set_new(out, "task", json_pack("{s:I, s:s, s:I}", "id", (json_int_t)task_id,
                                               "state", "queued",
                                               "item_id", (json_int_t)it->id));
    apr_table_setn(r->headers_out, "Location",
                   pk_http_url(pr, apr_psprintf(r->pool, "/tasks/%" APR_INT64_T_FMT, task_id)));
    return pk_http_json(pr, HTTP_ACCEPTED, out, 0);
}

/* The cursor is opaque to clients: base64url of "n:ID" or "o:ID" (sort order and
 * the last id of the page), so a cursor cannot be reused with the other order. */
static const char *cursor_make(apr_pool_t *p, int newest, apr_int64_t last)
{
    const char *raw = apr_psprintf(p, "%c:%" APR_INT64_T_FMT, newest ? 'n' : 'o', last);
    char *enc = apr_palloc(p, apr_base64_encode_len((int)strlen(raw)));
    char *s;

    apr_base64_encode(enc, raw, (int)strlen(raw));
    for (s = enc; *s; ++s) {
        if (*s == '+') *s = '-';
        else if (*s == '/') *s = '_';
        else if (*s == '=') { *s = '\0'; break; }
    }
    return enc;
}

static int cursor_read(apr_pool_t *p, const char *cursor, int newest, apr_int64_t *last)
{
    apr_size_t n = strlen(cursor);
    char *b64, *raw, *s, *end = NULL;
    int len;

    if (n == 0 || n > 40) {
        return 0;
    }
    b64 = apr_pcalloc(p, n + 4);
    memcpy(b64, cursor, n);
    for (s = b64; *s; ++s) {
        if (*s == '-') *s = '+';
        else if (*s == '_') *s = '/';
        else if (!apr_isalnum(*s)) return 0;
    }
    while (n % 4) {
        b64[n++] = '=';
    }
    raw = apr_pcalloc(p, apr_base64_decode_len(b64) + 1);
    len = apr_base64_decode(raw, b64);
    raw[len > 0 ? len : 0] = '\0';
    if (len < 3 || raw[0] != (newest ? 'n' : 'o') || raw[1] != ':' || !apr_isdigit(raw[2])) {
        return 0;
    }
    *last = apr_strtoi64(raw + 2, &end, 10);
    return end && !*end && *last > 0;
}

int pk_api_items_list(pk_req *pr, const pk_args *args)
{
    request_rec *r = pr->r;
    apr_table_t *q = pk_api_query(pr);
    pk_item_query iq = { 0, -1, NULL, 0, 1, 0, DEFAULT_PAGE };
    const char *v, *cache_key, *link = NULL;
    pk_cached cached;
    apr_array_header_t *items;
    json_t *body, *list;
    int i, more = 0, max = pk_conf_max_page(pr->conf);
    apr_int64_t n;
    apr_time_t t;
    apr_status_t rv;

    if (!q) {
        return DONE;
    }
    /* the same listing for the same version of the user's items: the answer this child
     * rendered before, no query */
    cache_key = apr_pstrcat(r->pool, r->uri, "?", r->args ? r->args : "", NULL);
    if (pr->has_version && pk_respcache_get(r->pool, pr->user_id, pr->user_version, cache_key,
                                            &cached)) {
        if (cached.link) {
            apr_table_setn(r->headers_out, "Link", cached.link);
        }
        return pk_http_send(pr, HTTP_OK, cached.body, cached.len, cached.etag);
    }
    if ((v = apr_table_get(q, "state"))) {
        if (!strcmp(v, "unread")) iq.archived = 0;
        else if (!strcmp(v, "archived")) iq.archived = 1;
        else if (!strcmp(v, "all")) iq.archived = 2;
        else return pk_http_problem(pr, HTTP_BAD_REQUEST, "state",
                                    "parameter 'state' must be unread, archived or all");
    }
    if ((v = apr_table_get(q, "favorite"))) {
        if (!strcmp(v, "true") || !strcmp(v, "1")) iq.favorite = 1;
        else if (!strcmp(v, "false") || !strcmp(v, "0")) iq.favorite = 0;
        else return pk_http_problem(pr, HTTP_BAD_REQUEST, "favorite",
                                    "parameter 'favorite' must be true or false");
    }
    if ((v = apr_table_get(q, "tag"))) {
        if (!*v) {
            return pk_http_problem(pr, HTTP_BAD_REQUEST, "tag",
                                   "parameter 'tag' must not be empty");
        }
        iq.tag = v;
    }
    if ((v = apr_table_get(q, "since"))) {
        if (APR_SUCCESS != pk_time_parse(v, &t)) {
            return pk_http_problem(pr, HTTP_BAD_REQUEST, "since",
                                   "parameter 'since' must be an ISO 8601 time or Unix "
                                   "seconds");
        }
        iq.since_ms = (apr_int64_t)(t / 1000);
    }
    if ((v = apr_table_get(q, "sort"))) {
        if (!strcmp(v, "newest")) iq.newest_first = 1;
        else if (!strcmp(v, "oldest")) iq.newest_first = 0;
        else return pk_http_problem(pr, HTTP_BAD_REQUEST, "sort",
                                    "parameter 'sort' must be newest or oldest");
    }
    if ((v = apr_table_get(q, "limit"))) {
        if (!pk_api_parse_int(v, 1, max, &n)) {
            return pk_http_problem(pr, HTTP_BAD_REQUEST, "limit",
                                   "parameter 'limit' must be a whole number from 1 to %d",
                                   max);
        }
        iq.limit = (int)n;
    }
    else if (iq.limit > max) {
        iq.limit = max;
    }
    if ((v = apr_table_get(q, "cursor")) && !cursor_read(r->pool, v, iq.newest_first,
                                                         &iq.after_id)) {
        return pk_http_problem(pr, HTTP_BAD_REQUEST, "cursor",
                               "parameter 'cursor' is not a cursor this listing gave out "
                               "(with the same sort)");
    }
    if (APR_SUCCESS != (rv = pk_item_list(pr->db, r->pool, pr->user_id, &iq, &items, &more))) {
        return pk_http_store_failed(pr, rv, "item");
    }
    body = pk_json_own(r->pool, json_object());
    list = json_array();
    for (i = 0; i < items->nelts; ++i) {
        json_array_append_new(list, item_json(pr, APR_ARRAY_IDX(items, i, pk_item *)));
    }
    json_object_set_new(body, "items", list);
    if (more && items->nelts > 0) {
        const char *next = cursor_make(r->pool, iq.newest_first,
                                       APR_ARRAY_IDX(items, items->nelts - 1, pk_item *)->id);
        json_object_set_new(body, "next_cursor", json_string(next));
        link = apr_psprintf(r->pool, "<%s>; rel=\"next\"", pk_api_next_url(pr, q, next));
        apr_table_setn(r->headers_out, "Link", link);
    }
    else {
        json_object_set_new(body, "next_cursor", json_null());
    }
    if (!(cached.body = pk_json_dump(r->pool, body, JSON_COMPACT, &cached.len))) {
        return pk_http_problem(pr, HTTP_INTERNAL_SERVER_ERROR, NULL,
                               "the response could not be serialised");
    }
    cached.etag = pk_http_etag(r->pool, cached.body);
    cached.link = link;
    if (pr->has_version) {
        pk_respcache_put(pr->user_id, pr->user_version, cache_key, &cached);
    }
    return pk_http_send(pr, HTTP_OK, cached.body, cached.len, cached.etag);
}

int pk_api_items_get(pk_req *pr, const pk_args *args)
{
    const char *text = NULL, *html = NULL;
    pk_item *it = NULL;
    json_t *body;
    apr_status_t rv = pk_item_get(pr->db, pr->r->pool, pr->user_id, args->id, &it);

    if (rv == APR_SUCCESS) {
        rv = pk_item_content(pr->db, pr->r->pool, pr->user_id, args->id, &text, &html);
    }
    if (rv != APR_SUCCESS) {
        return pk_http_store_failed(pr, rv, "item");
    }
    body = pk_json_own(pr->r->pool, item_json(pr, it));
    json_object_set_new(body, "text", json_or_null(text));
    json_object_set_new(body, "html", json_or_null(html));
    return pk_http_json(pr, HTTP_OK, body, 1);
}

int pk_api_items_refetch(pk_req *pr, const pk_args *args)
{
    request_rec *r = pr->r;
    apr_int64_t task_id = 0;
    pk_item *it = NULL;
    json_t *out;
    apr_status_t rv = pk_item_refetch(pr->db, r->pool, pr->user_id, args->id, &it, &task_id);

    if (rv != APR_SUCCESS) {
        return pk_http_store_failed(pr, rv, "item");
    }
    pk_engine_notify();
    out = pk_json_own(r->pool, json_object());
    json_object_set_new(out, "item", item_json(pr, it));
    json_object_set_new(out, "task", json_pack("{s:I, s:s, s:I}", "id", (json_int_t)task_id,
                                               "state", "queued",
                                               "item_id", (json_int_t)it->id));
    apr_table_setn(r->headers_out, "Location",
                   pk_http_url(pr, apr_psprintf(r->pool, "/tasks/%" APR_INT64_T_FMT, task_id)));
    return pk_http_json(pr, HTTP_ACCEPTED, out, 0);
}

static int read_bool(pk_req *pr, json_t *body, const char *key, int *has, int *val)
{
    json_t *v = json_object_get(body, key);

    *has = 0;
    if (v) {
        if (!json_is_boolean(v)) {
            return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, key,
                                   "field '%s' must be true or false", key);
        }
        *has = 1;
        *val = json_is_true(v);
    }
    return OK;
}

int pk_api_items_patch(pk_req *pr, const pk_args *args)
{
    pk_item_patch patch;
    apr_array_header_t *tags = NULL;
    pk_item *it = NULL;
    json_t *body, *v;
    apr_status_t rv;

    memset(&patch, 0, sizeof(patch));
    if (DONE == pk_http_read_json(pr, 1, &body)
        || DONE == pk_api_check_members(pr, body, "archived favorite title progress tags")
        || DONE == read_bool(pr, body, "archived", &patch.has_archived, &patch.archived)
        || DONE == read_bool(pr, body, "favorite", &patch.has_favorite, &patch.favorite)
        || DONE == pk_api_read_title(pr, body, MAX_TITLE, &patch.title, &patch.has_title)) {
        return DONE;
    }
    if ((v = json_object_get(body, "progress"))) {
        if (!json_is_number(v) || !isfinite(json_number_value(v))
            || json_number_value(v) < 0.0 || json_number_value(v) > 1.0) {
            return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, "progress",
                                   "field 'progress' must be a number from 0 to 1");
        }
        patch.has_progress = 1;
        patch.progress = json_number_value(v);
    }
    if ((v = json_object_get(body, "tags"))) {
        if (DONE == pk_api_read_tags(pr, v, "tags", &tags)) {
            return DONE;
        }
        patch.tags = tags;
    }
    rv = pk_item_patch_apply(pr->db, pr->r->pool, pr->user_id, args->id, &patch, &it);
    if (rv != APR_SUCCESS) {
        return pk_http_store_failed(pr, rv, "item");
    }
    return pk_http_json(pr, HTTP_OK, pk_json_own(pr->r->pool, item_json(pr, it)), 0);
}

int pk_api_items_delete(pk_req *pr, const pk_args *args)
{
    apr_status_t rv = pk_item_delete(pr->db, pr->r->pool, pr->user_id, args->id);

    if (rv != APR_SUCCESS) {
        return pk_http_store_failed(pr, rv, "item");
    }
    pr->r->status = HTTP_NO_CONTENT;
    return OK;
}
