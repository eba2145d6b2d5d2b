/* mod_poketto — background tasks; see pk_tasks.h. */
#include <apr_strings.h>

#include "pk_tasks.h"

const pk_stmt_def pk_tasks_statements[] = {
    { "pk_task_insert",
      "INSERT INTO tasks (user_id, item_id, kind, state, attempts, run_at_ms,"
      " created_ms, updated_ms) VALUES (%lld, %lld, 'fetch', 'queued', 0, %lld, %lld, %lld)"
      " RETURNING id", NULL },
    { "pk_task_get",
      "SELECT id, item_id, kind, state, attempts, error, run_at_ms FROM tasks"
      " WHERE id = %lld AND user_id = %lld", NULL },
    { NULL, NULL, NULL }
};

apr_status_t pk_task_create(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                            apr_int64_t item_id, apr_int64_t *task_id)
{
    apr_int64_t now = pk_db_now_ms();
    const void *args[] = { &user_id, &item_id, &now, &now, &now };
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
        t->kind = pk_db_str(db, row, 2);
        t->state = pk_db_str(db, row, 3);
        t->attempts = (int)pk_db_int(db, row, 4);
        t->error = pk_db_str(db, row, 5);
        t->run_at_ms = pk_db_int(db, row, 6);
        *task = t;
    }
    return rv;
}
