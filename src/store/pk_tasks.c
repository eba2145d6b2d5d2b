/* mod_poketto — background tasks; see pk_tasks.h. */
#include <apr_strings.h>

#include "pk_tasks.h"
#include "pk_group.h"
#include "pk_items.h"

#define CLAIM_PICK                                                                  \
    "SELECT id FROM tasks WHERE (state = 'queued' AND run_at_ms <= %lld)"           \
    " OR (state = 'running' AND lease_until_ms < %lld) ORDER BY run_at_ms, id LIMIT %d"
#define CLAIM_SET                                                                   \
    "UPDATE tasks SET state = 'running', owner = %s, lease_until_ms = %lld,"        \
    " attempts = attempts + 1, updated_ms = %lld WHERE id IN ("

const pk_stmt_def pk_tasks_statements[] = {
    { "pk_task_insert",
      "INSERT INTO tasks (user_id, item_id, kind, state, attempts, run_at_ms,"
      " created_ms, updated_ms, input_html)"
      " VALUES (%lld, %lld, 'fetch', 'queued', 0, %lld, %lld, %lld, %s) RETURNING id", NULL },
    { "pk_task_active_for_item",
      "SELECT id FROM tasks WHERE item_id = %lld AND state IN ('queued', 'running')"
      " ORDER BY id DESC", NULL },
    /* one statement claims: SQLite runs it under its write lock, PostgreSQL skips rows
     * another worker is claiming instead of waiting for it */
    { "pk_task_claim",
      CLAIM_SET CLAIM_PICK ") RETURNING id",
      CLAIM_SET CLAIM_PICK " FOR UPDATE SKIP LOCKED) RETURNING id" },
    { "pk_task_claimed",
      "SELECT t.id, t.item_id, t.user_id, t.attempts, i.url, t.input_html FROM tasks t"
      " JOIN items i ON i.id = t.item_id WHERE t.id = %lld AND t.owner = %s", NULL },
    { "pk_task_renew",
      "UPDATE tasks SET lease_until_ms = %lld WHERE id = %lld AND owner = %s"
      " AND state = 'running'", NULL },
    { "pk_task_done",
      "UPDATE tasks SET state = 'done', owner = NULL, lease_until_ms = NULL, error = NULL,"
      " input_html = NULL, updated_ms = %lld WHERE id = %lld AND owner = %s"
      " AND state = 'running'", NULL },
    { "pk_task_failed",
      "UPDATE tasks SET state = 'failed', owner = NULL, lease_until_ms = NULL, error = %s,"
      " input_html = NULL, updated_ms = %lld WHERE id = %lld AND owner = %s"
      " AND state = 'running'", NULL },
    { "pk_task_requeue",
      "UPDATE tasks SET state = 'queued', owner = NULL, lease_until_ms = NULL,"
      " run_at_ms = %lld, error = %s, updated_ms = %lld WHERE id = %lld AND owner = %s"
      " AND state = 'running'", NULL },
    { "pk_task_release",
      "UPDATE tasks SET state = 'queued', owner = NULL, lease_until_ms = NULL,"
      " attempts = attempts - 1 WHERE id = %lld AND owner = %s AND state = 'running'", NULL },
    { "pk_task_depth", "SELECT COUNT(*) FROM tasks WHERE state = 'queued'", NULL },
    { "pk_item_ready",
      "UPDATE items SET state = 'ready', error = NULL, final_url = %s, content_type = %s,"
      " title = %s, excerpt = %s, byline = %s, site_name = %s, published = %s, lang = %s,"
      " dir = %s,"
      " lead_image = %s, word_count = %d, body_text = %s, body_html = %s,"
      " fetched_ms = %lld, updated_ms = %lld WHERE id = %lld", NULL },
    { "pk_item_failed",
      "UPDATE items SET state = 'failed', error = %s, updated_ms = %lld WHERE id = %lld",
      NULL },
    { "pk_task_get",
      "SELECT id, item_id, kind, state, attempts, error, run_at_ms FROM tasks"
      " WHERE id = %lld AND user_id = %lld", NULL },
    { NULL, NULL, NULL }
};

apr_status_t pk_task_create(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                            apr_int64_t item_id, const char *input_html,
                            apr_int64_t *task_id)
{
    apr_int64_t now = pk_db_now_ms();
    const void *args[] = { &user_id, &item_id, &now, &now, &now, input_html };
    apr_dbd_row_t *row;
    apr_status_t rv = pk_db_one(db, p, "pk_task_insert", &row, args);

    *task_id = (rv == APR_SUCCESS) ? pk_db_int(db, row, 0) : 0;
    return rv;
}

apr_status_t pk_task_get(pk_db *db, apr_pool_t *p, apr_int64_t user_id, apr_int64_t id,
                         pk_task **task)
{
    const void *args[] = { &id, &user_id };
    apr_dbd_row_t *row;
    apr_status_t rv;
    pk_task *t;

    *task = NULL;
    if (APR_SUCCESS == (rv = pk_db_one(db, p, "pk_task_get", &row, args))) {
        t = apr_pcalloc(p, sizeof(*t));
        t->id = pk_db_int(db, row, 0);
        t->item_id = pk_db_int(db, row, 1);
        t->kind = pk_db_str(db, p, row, 2);
        t->state = pk_db_str(db, p, row, 3);
        t->attempts = (int)pk_db_int(db, row, 4);
        t->error = pk_db_str(db, p, row, 5);
        t->run_at_ms = pk_db_int(db, row, 6);
        *task = t;
    }
    return rv;
}

apr_status_t pk_task_active_for_item(pk_db *db, apr_pool_t *p, apr_int64_t item_id,
                                     apr_int64_t *task_id)
{
    const void *args[] = { &item_id };
    apr_dbd_row_t *row;
    apr_status_t rv = pk_db_one(db, p, "pk_task_active_for_item", &row, args);

    *task_id = (rv == APR_SUCCESS) ? pk_db_int(db, row, 0) : 0;
    return rv;
}

apr_status_t pk_task_claim(pk_db *db, apr_pool_t *p, const char *owner, int max,
                           apr_int64_t lease_until_ms, apr_array_header_t **claims)
{
    apr_int64_t now = pk_db_now_ms();
    const void *args[] = { owner, &lease_until_ms, &now, &now, &now, &max };
    apr_array_header_t *ids = apr_array_make(p, max > 0 ? max : 1, sizeof(apr_int64_t));
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    apr_status_t rv;
    pk_claim *c;
    int i;

    *claims = apr_array_make(p, max > 0 ? max : 1, sizeof(pk_claim *));
    if (APR_SUCCESS != (rv = pk_db_select(db, p, "pk_task_claim", &res, args))) {
        goto leave;
    }
    for (row = NULL; (row = pk_db_next(db, p, res, row)); ) {
        APR_ARRAY_PUSH(ids, apr_int64_t) = pk_db_int(db, row, 0);
    }
    for (i = 0; i < ids->nelts; ++i) {
        const void *get[] = { &APR_ARRAY_IDX(ids, i, apr_int64_t), owner };
        if (APR_SUCCESS != pk_db_one(db, p, "pk_task_claimed", &row, get)) {
            continue;               /* its item was deleted meanwhile */
        }
        c = apr_pcalloc(p, sizeof(*c));
        c->task_id = pk_db_int(db, row, 0);
        c->item_id = pk_db_int(db, row, 1);
        c->user_id = pk_db_int(db, row, 2);
        c->attempts = (int)pk_db_int(db, row, 3);
        c->url = pk_db_str(db, p, row, 4);
        c->input_html = pk_db_str(db, p, row, 5);
        APR_ARRAY_PUSH(*claims, pk_claim *) = c;
    }
leave:
    return rv;
}

apr_status_t pk_task_renew(pk_db *db, apr_pool_t *p, apr_int64_t task_id, const char *owner,
                           apr_int64_t lease_until_ms)
{
    const void *args[] = { &lease_until_ms, &task_id, owner };
    int n = 0;
    apr_status_t rv = pk_db_exec(db, p, "pk_task_renew", &n, args);

    return (rv == APR_SUCCESS && n == 0) ? APR_NOTFOUND : rv;
}

typedef struct {
    const pk_claim *c;
    const char *owner;
    const pk_task_result *r;
    apr_int64_t event_id;
} complete_args;

/* pk_task_complete's statements, inside the scope pk_group_run opens for them */
static apr_status_t complete_work(pk_db *db, apr_pool_t *p, void *baton)
{
    complete_args *a = baton;
    const pk_claim *c = a->c;
    const pk_task_result *r = a->r;
    apr_int64_t now = pk_db_now_ms();
    const void *done[] = { &now, &c->task_id, a->owner };
    const void *item[] = { r->final_url, r->content_type, r->title, r->excerpt, r->byline,
                           r->site_name, r->published, r->lang, r->dir, r->lead_image,
                           &r->word_count, r->text, r->html, &now, &now, &c->item_id };
    apr_status_t rv;
    int n = 0;

    if (APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_task_done", &n, done))) {
        goto leave;
    }
    if (n == 0) {
        rv = APR_NOTFOUND;          /* the lease went to another worker: it finishes */
        goto leave;
    }
    if (APR_SUCCESS == (rv = pk_db_exec(db, p, "pk_item_ready", NULL, item))) {
        rv = pk_item_event(db, p, c->user_id, "item.ready", c->item_id, NULL, &a->event_id);
    }
leave:
    return rv;
}

apr_status_t pk_task_complete(pk_db *db, apr_pool_t *p, const pk_claim *c, const char *owner,
                              const pk_task_result *r, apr_int64_t *event_id)
{
    complete_args a = { c, owner, r, 0 };
    apr_status_t rv = pk_group_run(db, p, complete_work, &a);

    *event_id = (rv == APR_SUCCESS) ? a.event_id : 0;
    return rv;
}

apr_status_t pk_task_fail(pk_db *db, apr_pool_t *p, const pk_claim *c, const char *owner,
                          const char *error, apr_int64_t *event_id)
{
    apr_int64_t now = pk_db_now_ms();
    const void *task[] = { error, &now, &c->task_id, owner };
    const void *item[] = { error, &now, &c->item_id };
    apr_status_t rv;
    int n = 0;

    *event_id = 0;
    if (APR_SUCCESS != (rv = pk_db_begin(db, p))) {
        goto leave;
    }
    if (APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_task_failed", &n, task))) {
        goto end;
    }
    if (n == 0) {
        rv = APR_NOTFOUND;
        goto end;
    }
    if (APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_item_failed", NULL, item))
        || APR_SUCCESS != (rv = pk_item_event(db, p, c->user_id, "item.failed", c->item_id,
                                              NULL, event_id))) {
        goto end;
    }
end:
    rv = pk_db_finish(db, p, rv);
leave:
    return rv;
}

apr_status_t pk_task_retry(pk_db *db, apr_pool_t *p, const pk_claim *c, const char *owner,
                           apr_int64_t run_at_ms, const char *error)
{
    apr_int64_t now = pk_db_now_ms();
    const void *args[] = { &run_at_ms, error, &now, &c->task_id, owner };
    int n = 0;
    apr_status_t rv = pk_db_exec(db, p, "pk_task_requeue", &n, args);

    return (rv == APR_SUCCESS && n == 0) ? APR_NOTFOUND : rv;
}

apr_status_t pk_task_release(pk_db *db, apr_pool_t *p, apr_int64_t task_id, const char *owner)
{
    const void *args[] = { &task_id, owner };
    return pk_db_exec(db, p, "pk_task_release", NULL, args);
}

apr_status_t pk_task_queue_depth(pk_db *db, apr_pool_t *p, apr_int64_t *depth)
{
    apr_dbd_row_t *row;
    apr_status_t rv = pk_db_one(db, p, "pk_task_depth", &row, NULL);

    *depth = (rv == APR_SUCCESS) ? pk_db_int(db, row, 0) : 0;
    return rv;
}
