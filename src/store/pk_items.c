/* mod_poketto — saved items; see pk_items.h. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "pk_json.h"
#include "pk_time.h"
#include "pk_extract.h"
#include "pk_items.h"
#include "pk_group.h"
#include "pk_tags.h"
#include "pk_tasks.h"
#include "pk_events.h"

/* The item's tags come back in one column, joined by U+001F (tag names never contain
 * control characters); the aggregate function is the one thing the dialects name
 * differently. */
#define ITEM_COLS(AGG)                                                              \
    "i.id, i.user_id, i.url, i.given_url, i.state, COALESCE(i.user_title, i.title),"\
    " i.user_title, i.excerpt, i.error, i.archived, i.favorite, i.progress,"        \
    " i.created_ms, i.updated_ms,"                                                  \
    " (SELECT " AGG " FROM item_tags it JOIN tags t ON t.id = it.tag_id"            \
    " WHERE it.item_id = i.id),"                                                    \
    " i.final_url, i.content_type, i.byline, i.site_name, i.published, i.lang,"     \
    " i.lead_image, i.word_count, i.fetched_ms, i.dir"
#define AGG_SQLITE "group_concat(t.name, char(31))"
#define AGG_PGSQL  "string_agg(t.name, chr(31))"

#define LIST_WHERE                                                                  \
    " FROM items i WHERE i.user_id = %lld"                                          \
    " AND (%d = 2 OR i.archived = %d)"                                              \
    " AND (%d < 0 OR i.favorite = %d)"                                              \
    " AND i.updated_ms >= %lld"                                                     \
    " AND (%s IS NULL OR EXISTS (SELECT 1 FROM item_tags it2"                       \
    " JOIN tags t2 ON t2.id = it2.tag_id WHERE it2.item_id = i.id AND t2.name = %s))"

const pk_stmt_def pk_items_statements[] = {
    { "pk_item_insert",
      "INSERT INTO items (user_id, url, given_url, state, user_title, created_ms,"
      " updated_ms) VALUES (%lld, %s, %s, 'pending', %s, %lld, %lld)"
      " ON CONFLICT (user_id, url) DO NOTHING RETURNING id", NULL },
    { "pk_item_id_by_url",
      "SELECT id FROM items WHERE user_id = %lld AND url = %s", NULL },
    { "pk_item_get",
      "SELECT " ITEM_COLS(AGG_SQLITE) " FROM items i WHERE i.id = %lld AND i.user_id = %lld",
      "SELECT " ITEM_COLS(AGG_PGSQL) " FROM items i WHERE i.id = %lld AND i.user_id = %lld" },
    { "pk_item_list_newest",
      "SELECT " ITEM_COLS(AGG_SQLITE) LIST_WHERE " AND i.id < %lld ORDER BY i.id DESC LIMIT %d",
      "SELECT " ITEM_COLS(AGG_PGSQL) LIST_WHERE " AND i.id < %lld ORDER BY i.id DESC LIMIT %d" },
    { "pk_item_list_oldest",
      "SELECT " ITEM_COLS(AGG_SQLITE) LIST_WHERE " AND i.id > %lld ORDER BY i.id ASC LIMIT %d",
      "SELECT " ITEM_COLS(AGG_PGSQL) LIST_WHERE " AND i.id > %lld ORDER BY i.id ASC LIMIT %d" },
    { "pk_item_update",
      "UPDATE items SET archived = %d, favorite = %d, user_title = %s, progress = %lf,"
      " updated_ms = %lld WHERE id = %lld AND user_id = %lld", NULL },
    { "pk_item_touch", "UPDATE items SET updated_ms = %lld WHERE id = %lld", NULL },
    { "pk_item_pending",
      "UPDATE items SET state = 'pending', error = NULL, updated_ms = %lld"
      " WHERE id = %lld AND user_id = %lld", NULL },
    { "pk_item_content",
      "SELECT body_text, body_html FROM items WHERE id = %lld AND user_id = %lld", NULL },
    /* dependants are deleted explicitly: SQLite cascades only with foreign_keys=ON */
    { "pk_item_delete_tags",
      "DELETE FROM item_tags WHERE item_id = (SELECT id FROM items WHERE id = %lld"
      " AND user_id = %lld)", NULL },
    { "pk_item_delete_tasks",
      "DELETE FROM tasks WHERE item_id = %lld AND user_id = %lld", NULL },
    { "pk_item_delete", "DELETE FROM items WHERE id = %lld AND user_id = %lld", NULL },
    { NULL, NULL, NULL }
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static apr_array_header_t *split_tags(apr_pool_t *p, const char *joined)
{
    apr_array_header_t *tags = apr_array_make(p, 4, sizeof(const char *));
    char *s, *sep;

    if (joined && *joined) {
        s = apr_pstrdup(p, joined);
        while (s) {
            if ((sep = strchr(s, '\x1f'))) {
                *sep++ = '\0';
            }
            APR_ARRAY_PUSH(tags, const char *) = s;
            s = sep;
        }
        qsort(tags->elts, tags->nelts, sizeof(const char *), cmp_str);
    }
    return tags;
}

static pk_item *item_of(pk_db *db, apr_pool_t *p, apr_dbd_row_t *row)
{
    pk_item *it = apr_pcalloc(p, sizeof(*it));
    const char *progress;

    it->id = pk_db_int(db, row, 0);
    it->user_id = pk_db_int(db, row, 1);
    it->url = pk_db_str(db, p, row, 2);
    it->given_url = pk_db_str(db, p, row, 3);
    it->state = pk_db_str(db, p, row, 4);
    it->title = pk_db_str(db, p, row, 5);
    it->user_title = pk_db_str(db, p, row, 6);
    it->excerpt = pk_db_str(db, p, row, 7);
    it->error = pk_db_str(db, p, row, 8);
    it->archived = pk_db_int(db, row, 9) != 0;
    it->favorite = pk_db_int(db, row, 10) != 0;
    progress = pk_db_str(db, p, row, 11);
    it->progress = progress ? strtod(progress, NULL) : 0.0;
    it->created_ms = pk_db_int(db, row, 12);
    it->updated_ms = pk_db_int(db, row, 13);
    it->tags = split_tags(p, pk_db_str(db, p, row, 14));
    it->final_url = pk_db_str(db, p, row, 15);
    it->content_type = pk_db_str(db, p, row, 16);
    it->byline = pk_db_str(db, p, row, 17);
    it->site_name = pk_db_str(db, p, row, 18);
    it->published = pk_db_str(db, p, row, 19);
    it->lang = pk_db_str(db, p, row, 20);
    it->lead_image = pk_db_str(db, p, row, 21);
    it->word_count = (int)pk_db_int(db, row, 22);
    it->fetched_ms = pk_db_int(db, row, 23);
    it->dir = pk_db_str(db, p, row, 24);
    return it;
}

apr_status_t pk_item_get(pk_db *db, apr_pool_t *p, apr_int64_t user_id, apr_int64_t id,
                         pk_item **item)
{
    const void *args[] = { &id, &user_id };
    apr_dbd_row_t *row;
    apr_status_t rv;

    *item = NULL;
    if (APR_SUCCESS == (rv = pk_db_one(db, p, "pk_item_get", &row, args))) {
        *item = item_of(db, p, row);
    }
    return rv;
}

static json_t *json_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *json_time(apr_pool_t *p, apr_int64_t ms)
{
    return ms ? json_string(pk_time_iso(p, (apr_time_t)ms * 1000)) : json_null();
}

json_t *pk_item_json(apr_pool_t *p, const pk_item *it)
{
    json_t *tags = json_array();
    int i;

    for (i = 0; it->tags && i < it->tags->nelts; ++i) {
        json_array_append_new(tags, json_string(APR_ARRAY_IDX(it->tags, i, const char *)));
    }
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:b, s:f, s:o, s:o, s:o,"
                     " s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:i, s:o}",
                     "id", (json_int_t)it->id, "url", it->url, "given_url", it->given_url,
                     "state", it->state,
                     "title", json_or_null(it->title),
                     "excerpt", json_or_null(it->excerpt),
                     "error", json_or_null(it->error),
                     "archived", it->archived, "favorite", it->favorite,
                     "progress", it->progress, "tags", tags,
                     "created", json_time(p, it->created_ms),
                     "updated", json_time(p, it->updated_ms),
                     "final_url", json_or_null(it->final_url),
                     "content_type", json_or_null(it->content_type),
                     "byline", json_or_null(it->byline),
                     "site_name", json_or_null(it->site_name),
                     "published", json_or_null(it->published),
                     "lang", json_or_null(it->lang),
                     "dir", json_or_null(it->dir),
                     "lead_image", json_or_null(it->lead_image),
                     "word_count", it->word_count,
                     "reading_minutes",
                     pk_extract_reading_minutes((apr_size_t)it->word_count),
                     "fetched", json_time(p, it->fetched_ms));
}

apr_status_t pk_item_event(pk_db *db, apr_pool_t *p, apr_int64_t user_id, const char *type,
                           apr_int64_t id, pk_item **item, apr_int64_t *event_id)
{
    pk_item *it = NULL;
    const char *data = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = pk_item_get(db, p, user_id, id, &it))) {
        goto leave;
    }
    data = pk_json_dump(p, pk_json_own(p, pk_item_json(p, it)), JSON_COMPACT, &len);
    if (!data) {
        rv = APR_ENOMEM;
        goto leave;
    }
    rv = pk_event_add(db, p, user_id, type, id, data, event_id);
leave:
    if (item) {
        *item = (rv == APR_SUCCESS) ? it : NULL;
    }
    return rv;
}

typedef struct {
    apr_int64_t user_id;
    const char *url, *given_url, *title, *input_html;
    const apr_array_header_t *tags;
    pk_item *item;
    apr_int64_t task_id;
    int existing;
} save_args;

/* pk_item_save's statements, inside the scope pk_group_run opens for them */
static apr_status_t save_work(pk_db *db, apr_pool_t *p, void *baton)
{
    save_args *a = baton;
    apr_int64_t now = pk_db_now_ms(), id = 0;
    const void *ins[] = { &a->user_id, a->url, a->given_url, a->title, &now, &now };
    apr_dbd_row_t *row;
    apr_status_t rv;
    int changed = 0;

    a->item = NULL;
    a->task_id = 0;
    a->existing = 0;
    rv = pk_db_one(db, p, "pk_item_insert", &row, ins);
    if (rv == APR_SUCCESS) {
        id = pk_db_int(db, row, 0);
        if (APR_SUCCESS != (rv = pk_tags_attach(db, p, a->user_id, id, a->tags, 0, &changed))
            || APR_SUCCESS != (rv = pk_task_create(db, p, a->user_id, id, a->input_html,
                                                   &a->task_id))) {
            goto leave;
        }
        rv = pk_item_event(db, p, a->user_id, "item.saved", id, &a->item, NULL);
    }
    else if (rv == APR_NOTFOUND) {
        /* the user has this URL already: keep the item, add the new tags */
        const void *sel[] = { &a->user_id, a->url };
        a->existing = 1;
        if (APR_SUCCESS != (rv = pk_db_one(db, p, "pk_item_id_by_url", &row, sel))) {
            goto leave;
        }
        id = pk_db_int(db, row, 0);
        if (APR_SUCCESS != (rv = pk_tags_attach(db, p, a->user_id, id, a->tags, 0, &changed))) {
            goto leave;
        }
        if (a->input_html) {
            /* the client sent the page as it sees it now: extract it again */
            const void *pend[] = { &now, &id, &a->user_id };
            if (APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_item_pending", NULL, pend))
                || APR_SUCCESS != (rv = pk_task_create(db, p, a->user_id, id, a->input_html,
                                                       &a->task_id))) {
                goto leave;
            }
            rv = pk_item_event(db, p, a->user_id, "item.updated", id, &a->item, NULL);
        }
        else if (changed) {
            const void *touch[] = { &now, &id };
            if (APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_item_touch", NULL, touch))) {
                goto leave;
            }
            rv = pk_item_event(db, p, a->user_id, "item.updated", id, &a->item, NULL);
        }
        else {
            rv = pk_item_get(db, p, a->user_id, id, &a->item);
        }
    }
leave:
    return rv;
}

apr_status_t pk_item_save(pk_db *db, apr_pool_t *p, apr_int64_t user_id, const char *url,
                          const char *given_url, const char *title,
                          const apr_array_header_t *tags, const char *input_html,
                          pk_item **item, apr_int64_t *task_id, int *existing)
{
    save_args a = { user_id, url, given_url, title, input_html, tags, NULL, 0, 0 };
    apr_status_t rv = pk_group_run(db, p, save_work, &a);

    *item = rv == APR_SUCCESS ? a.item : NULL;
    *task_id = rv == APR_SUCCESS ? a.task_id : 0;
    *existing = rv == APR_SUCCESS ? a.existing : 0;
    return rv;
}

apr_status_t pk_item_list(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                          const pk_item_query *q, apr_array_header_t **items, int *more)
{
    apr_int64_t after = q->after_id ? q->after_id
                                    : (q->newest_first ? APR_INT64_MAX : 0);
    int limit = q->limit + 1;       /* one more tells whether another page follows */
    const void *args[] = { &user_id, &q->archived, &q->archived, &q->favorite,
                           &q->favorite, &q->since_ms, q->tag, q->tag, &after, &limit };
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    apr_status_t rv;

    *items = apr_array_make(p, q->limit > 0 ? q->limit : 1, sizeof(pk_item *));
    *more = 0;
    rv = pk_db_select(db, p, q->newest_first ? "pk_item_list_newest" : "pk_item_list_oldest",
                      &res, args);
    if (rv == APR_SUCCESS) {
        for (row = NULL; (row = pk_db_next(db, p, res, row)); ) {
            if ((*items)->nelts >= q->limit) {
                *more = 1;
                continue;           /* read to the end so the result is finished */
            }
            APR_ARRAY_PUSH(*items, pk_item *) = item_of(db, p, row);
        }
    }
    return rv;
}

apr_status_t pk_item_patch_apply(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                                 apr_int64_t id, const pk_item_patch *patch, pk_item **item)
{
    apr_int64_t now = pk_db_now_ms();
    pk_item *cur = NULL;
    apr_status_t rv;
    int archived, favorite, changed = 0;
    const char *title;
    double progress;

    *item = NULL;
    if (APR_SUCCESS != (rv = pk_db_begin(db, p))) {
        goto leave;
    }
    if (APR_SUCCESS != (rv = pk_item_get(db, p, user_id, id, &cur))) {
        goto end;
    }
    archived = patch->has_archived ? patch->archived : cur->archived;
    favorite = patch->has_favorite ? patch->favorite : cur->favorite;
    title = patch->has_title ? patch->title : cur->user_title;
    progress = patch->has_progress ? patch->progress : cur->progress;
    {
        const void *upd[] = { &archived, &favorite, title, &progress, &now, &id, &user_id };
        if (APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_item_update", NULL, upd))) {
            goto end;
        }
    }
    if (patch->tags
        && APR_SUCCESS != (rv = pk_tags_attach(db, p, user_id, id, patch->tags, 1, &changed))) {
        goto end;
    }
    rv = pk_item_event(db, p, user_id, "item.updated", id, item, NULL);
end:
    rv = pk_db_finish(db, p, rv);
leave:
    return rv;
}

apr_status_t pk_item_delete(pk_db *db, apr_pool_t *p, apr_int64_t user_id, apr_int64_t id)
{
    const void *own[] = { &id, &user_id };
    apr_status_t rv;
    int n = 0;

    if (APR_SUCCESS != (rv = pk_db_begin(db, p))) {
        goto leave;
    }
    /* rows are locked in the engine's order, tasks before items: deleting the item
     * first (its cascade then locking the task) deadlocked on PostgreSQL with a worker
     * completing that task */
    if (APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_item_delete_tasks", NULL, own))
        || APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_item_delete_tags", NULL, own))
        || APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_item_delete", &n, own))) {
        goto end;
    }
    if (n == 0) {
        rv = APR_NOTFOUND;          /* not this user's: the statements above touched nothing */
        goto end;
    }
    if (APR_SUCCESS != (rv = pk_tags_prune(db, p, user_id))
        || APR_SUCCESS != (rv = pk_event_add(db, p, user_id, "item.deleted", id, NULL, NULL))) {
        goto end;
    }
end:
    rv = pk_db_finish(db, p, rv);
leave:
    return rv;
}

apr_status_t pk_item_refetch(pk_db *db, apr_pool_t *p, apr_int64_t user_id, apr_int64_t id,
                             pk_item **item, apr_int64_t *task_id)
{
    apr_int64_t now = pk_db_now_ms();
    const void *pend[] = { &now, &id, &user_id };
    apr_status_t rv;
    int n = 0;

    *item = NULL;
    *task_id = 0;
    if (APR_SUCCESS != (rv = pk_db_begin(db, p))) {
        goto leave;
    }
    if (APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_item_pending", &n, pend))) {
        goto end;
    }
    if (n == 0) {
        rv = APR_NOTFOUND;
        goto end;
    }
    rv = pk_task_active_for_item(db, p, id, task_id);
    if (rv == APR_NOTFOUND) {
        rv = pk_task_create(db, p, user_id, id, NULL, task_id);
    }
    if (rv != APR_SUCCESS) {
        goto end;
    }
    rv = pk_item_event(db, p, user_id, "item.updated", id, item, NULL);
end:
    rv = pk_db_finish(db, p, rv);
leave:
    return rv;
}

apr_status_t pk_item_content(pk_db *db, apr_pool_t *p, apr_int64_t user_id, apr_int64_t id,
                             const char **text, const char **html)
{
    const void *args[] = { &id, &user_id };
    apr_dbd_row_t *row;
    apr_status_t rv = pk_db_one(db, p, "pk_item_content", &row, args);

    *text = (rv == APR_SUCCESS) ? pk_db_str(db, p, row, 0) : NULL;
    *html = (rv == APR_SUCCESS) ? pk_db_str(db, p, row, 1) : NULL;
    return rv;
}
