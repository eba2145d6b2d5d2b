/* mod_poketto — background tasks (store layer). */
#ifndef PK_TASKS_H
#define PK_TASKS_H

#include "pk_db.h"

typedef struct pk_task {
    apr_int64_t id;
    apr_int64_t item_id;
    const char *kind;               /* fetch */
    const char *state;              /* queued | running | done | failed */
    int attempts;
    const char *error;
    apr_int64_t run_at_ms;
} pk_task;

extern const pk_stmt_def pk_tasks_statements[];

/** Queue a fetch task for an item. Call inside the transaction that made the item. */
apr_status_t pk_task_create(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                            apr_int64_t item_id, apr_int64_t *task_id);
/** One of a user's tasks; APR_NOTFOUND if the user has no such task. */
apr_status_t pk_task_get(pk_db *db, apr_pool_t *p, apr_int64_t user_id, apr_int64_t id,
                         pk_task **task);

#endif /* PK_TASKS_H */
