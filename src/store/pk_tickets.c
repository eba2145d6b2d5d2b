/* mod_poketto — WebSocket tickets; see pk_tickets.h. */
#include <apr_strings.h>

#include "pk_tickets.h"

const pk_stmt_def pk_tickets_statements[] = {
    { "pk_ticket_insert",
      "INSERT INTO ws_tickets (ticket_hash, user_id, expires_ms) VALUES (%s, %lld, %lld)",
      NULL },
    { "pk_ticket_purge", "DELETE FROM ws_tickets WHERE expires_ms <= %lld", NULL },
    /* one statement: two children given the same ticket cannot both get a row back */
    { "pk_ticket_consume",
      "DELETE FROM ws_tickets WHERE ticket_hash = %s RETURNING user_id, expires_ms", NULL },
    { NULL, NULL, NULL }
};

apr_status_t pk_ticket_create(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                              const char *ticket_hash, apr_int64_t expires_ms)
{
    apr_int64_t now = pk_db_now_ms();
    const void *purge[] = { &now };
    const void *args[] = { ticket_hash, &user_id, &expires_ms };
    apr_status_t rv;

    if (APR_SUCCESS == (rv = pk_db_exec(db, p, "pk_ticket_purge", NULL, purge))) {
        rv = pk_db_exec(db, p, "pk_ticket_insert", NULL, args);
    }
    return rv;
}

apr_status_t pk_ticket_consume(pk_db *db, apr_pool_t *p, const char *ticket_hash,
                               apr_int64_t *user_id)
{
    const void *args[] = { ticket_hash };
    apr_dbd_row_t *row = NULL;
    apr_int64_t expires_ms = 0;
    apr_status_t rv;

    *user_id = 0;
    if (APR_SUCCESS != (rv = pk_db_one(db, p, "pk_ticket_consume", &row, args))) {
        goto leave;
    }
    *user_id = pk_db_int(db, row, 0);
    expires_ms = pk_db_int(db, row, 1);
    if (expires_ms <= pk_db_now_ms()) {
        *user_id = 0;
        rv = APR_NOTFOUND;          /* deleted all the same: it is of no use any more */
    }
leave:
    return rv;
}
