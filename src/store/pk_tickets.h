/* mod_poketto — WebSocket tickets (store layer).
 *
 * A browser cannot set headers on a WebSocket, so it asks POST /api/ws-ticket (an
 * ordinary authenticated, CSRF-checked request) for a short-lived secret and puts it in
 * the URL of its WebSocket. Only the hash of a ticket is stored. Using a ticket deletes
 * its row in the same statement that reads it, so a ticket works once, whichever child
 * (or host) the WebSocket reaches.
 */
#ifndef PK_TICKETS_H
#define PK_TICKETS_H

#include "pk_db.h"

extern const pk_stmt_def pk_tickets_statements[];

/** Record a ticket of user_id whose secret hashes to ticket_hash, valid until
 *  expires_ms; expired tickets of everyone are purged on the way. */
apr_status_t pk_ticket_create(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                              const char *ticket_hash, apr_int64_t expires_ms);

/** Use the ticket of ticket_hash: delete it and give its user, if it exists and has not
 *  expired; APR_NOTFOUND otherwise (unknown, used or expired). */
apr_status_t pk_ticket_consume(pk_db *db, apr_pool_t *p, const char *ticket_hash,
                               apr_int64_t *user_id);

#endif /* PK_TICKETS_H */
