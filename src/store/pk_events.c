/* mod_poketto — the event log; see pk_events.h. */
#include "pk_events.h"

const pk_stmt_def pk_events_statements[] = {
    { "pk_event_insert",
      "INSERT INTO events (user_id, type, item_id, created_ms, data)"
      " VALUES (%lld, %s, %lld, %lld, %s) RETURNING id", NULL },
    { "pk_user_bump", "UPDATE users SET version = version + 1 WHERE id = %lld", NULL },
    { NULL, NULL, NULL }
};

apr_status_t pk_event_add(pk_db *db, apr_pool_t *p, apr_int64_t user_id, const char *type,
                          apr_int64_t item_id, const char *data, apr_int64_t *event_id)
{
    apr_int64_t now = pk_db_now_ms();
    const void *args[] = { &user_id, type, &item_id, &now, data };
    apr_dbd_row_t *row;
    apr_status_t rv = pk_db_one(db, p, "pk_event_insert", &row, args);

    if (event_id) {
        *event_id = (rv == APR_SUCCESS) ? pk_db_int(db, row, 0) : 0;
    }
    return rv == APR_SUCCESS ? pk_events_bump(db, p, user_id) : rv;
}

apr_status_t pk_events_bump(pk_db *db, apr_pool_t *p, apr_int64_t user_id)
{
    const void *args[] = { &user_id };
    return pk_db_exec(db, p, "pk_user_bump", NULL, args);
}
