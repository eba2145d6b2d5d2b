/* mod_poketto — background tasks (store layer). */
#ifndef PK_TASKS_H
#define PK_TASKS_H

#include <apr_tables.h>
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

/** A task a worker holds under a lease. */
typedef struct pk_claim {
    apr_int64_t task_id;
    apr_int64_t item_id;
    apr_int64_t user_id;
    int attempts;                   /* including this one */
    const char *url;                /* the item's canonical URL */
    const char *input_html;         /* a page the client sent, or NULL: fetch url */
} pk_claim;

/** What extraction found, to store on the item. Any member may be NULL / 0. */
typedef struct pk_task_result {
    const char *final_url;
    const char *content_type;
    const char *title;
    const char *excerpt;
    const char *byline;
    const char *site_name;
    const char *published;
    const char *lang;
    const char *dir;
    const char *lead_image;
    int word_count;
    const char *text;
    const char *html;
} pk_task_result;

/** Queue a fetch task for an item (input_html: a page the client sent, or NULL). Call
 *  inside the transaction that made the item. */
apr_status_t pk_task_create(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                            apr_int64_t item_id, const char *input_html,
                            apr_int64_t *task_id);
/** The queued or running task of an item; APR_NOTFOUND if none. */
apr_status_t pk_task_active_for_item(pk_db *db, apr_pool_t *p, apr_int64_t item_id,
                                     apr_int64_t *task_id);
/** Claim up to max runnable tasks (queued and due, or running with an expired lease)
 *  for owner until lease_until_ms, each attempt counted, in one atomic statement
 *  (PostgreSQL: FOR UPDATE SKIP LOCKED, so workers never wait for each other).
 *  *claims gets pk_claim* from p. */
apr_status_t pk_task_claim(pk_db *db, apr_pool_t *p, const char *owner, int max,
                           apr_int64_t lease_until_ms, apr_array_header_t **claims);
/** Extend the lease of a task the owner still holds; APR_NOTFOUND when it lost it. */
apr_status_t pk_task_renew(pk_db *db, apr_pool_t *p, apr_int64_t task_id, const char *owner,
                           apr_int64_t lease_until_ms);
/** Finish a task in one transaction (maybe shared with other writers: pk_group.h): the item ready with r, the task done, an
 *  item.ready event. APR_NOTFOUND (and nothing written) when the owner lost the lease:
 *  another worker has the task, so no user ever sees it done twice. */
apr_status_t pk_task_complete(pk_db *db, apr_pool_t *p, const pk_claim *c, const char *owner,
                              const pk_task_result *r, apr_int64_t *event_id);
/** Give up on a task for good in one transaction: task and item failed with error (a
 *  sentence for the user), an item.failed event. APR_NOTFOUND as for complete. */
apr_status_t pk_task_fail(pk_db *db, apr_pool_t *p, const pk_claim *c, const char *owner,
                          const char *error, apr_int64_t *event_id);
/** Put a task back in the queue to run again at run_at_ms (a retry after error). */
apr_status_t pk_task_retry(pk_db *db, apr_pool_t *p, const pk_claim *c, const char *owner,
                           apr_int64_t run_at_ms, const char *error);
/** Hand a task back untouched (this worker stops): queued at once, the attempt not counted. */
apr_status_t pk_task_release(pk_db *db, apr_pool_t *p, apr_int64_t task_id, const char *owner);
/** How many tasks are queued (for mod_status). */
apr_status_t pk_task_queue_depth(pk_db *db, apr_pool_t *p, apr_int64_t *depth);
/** One of a user's tasks; APR_NOTFOUND if the user has no such task. */
apr_status_t pk_task_get(pk_db *db, apr_pool_t *p, apr_int64_t user_id, apr_int64_t id,
                         pk_task **task);

#endif /* PK_TASKS_H */
