/* mod_poketto — the event log (store layer): one row per change of a user's items,
 * written in the transaction of the change; ids only grow, clients resume after them. */
#ifndef PK_EVENTS_H
#define PK_EVENTS_H

#include "pk_db.h"

extern const pk_stmt_def pk_events_statements[];

/** Append an event (type e.g. "item.saved"; data a JSON text or NULL) and bump the
 *  user's version. Call inside the transaction of the change. */
apr_status_t pk_event_add(pk_db *db, apr_pool_t *p, apr_int64_t user_id, const char *type,
                          apr_int64_t item_id, const char *data, apr_int64_t *event_id);

/** Count a change of the user's items in users.version (pk_event_add does it; call it
 *  for events written otherwise). Call inside the transaction of the change. */
apr_status_t pk_events_bump(pk_db *db, apr_pool_t *p, apr_int64_t user_id);

#endif /* PK_EVENTS_H */
