/* mod_poketto — the event log (store layer): one row per change of a user's items,
 * written in the transaction of the change; clients resume after an event's id.
 *
 * Ordering. An event first bumps its user's users.version (which takes the user's row
 * lock until the transaction ends, so that user's writers queue there), then takes its
 * id. So, per user, ids grow in commit order even on PostgreSQL (where an id taken
 * before the lock could commit after a larger one), and the new users.version is the
 * event's seq: 1, 2, 3... per user, without gaps. A reader that has seen seq n and next
 * sees more than n + 1 knows an event is on its way (or lost) and reads the table.
 *
 * Messages. What clients receive for an event is
 *   {"type":"item.ready","id":<item id>,"event":<event id>,"item":{...}}
 * ("item" as GET /api/items/{id} shows it without text and html; absent for
 * item.deleted). The item's JSON is stored in events.data when the event is written;
 * pk_event_message() puts the envelope around it. Live delivery and a replay from the
 * table both call it on the same fields, so they are byte-identical.
 */
#ifndef PK_EVENTS_H
#define PK_EVENTS_H

#include <apr_tables.h>
#include "pk_db.h"

/** One event of the log. */
typedef struct pk_event {
    apr_int64_t id;
    apr_int64_t user_id;
    apr_int64_t seq;                /* the user's version after it; 0 if written before
                                     * schema version 4 */
    const char *type;               /* item.saved|updated|deleted|ready|failed */
    apr_int64_t item_id;
    const char *data;               /* the item's JSON, or NULL (item.deleted) */
} pk_event;

extern const pk_stmt_def pk_events_statements[];

/** Append an event inside the open transaction: bump the user's version (its row lock),
 *  insert the event with that seq, and note it on db so that pk_db_end publishes it
 *  after the commit. data: the item's JSON (NULL for item.deleted). */
apr_status_t pk_event_add(pk_db *db, apr_pool_t *p, apr_int64_t user_id, const char *type,
                          apr_int64_t item_id, const char *data, apr_int64_t *event_id);

/** The message clients receive for ev (from p), NUL-terminated; *len its length. */
const char *pk_event_message(apr_pool_t *p, const pk_event *ev, apr_size_t *len);

/** Up to max events of a user with ids above after_id, oldest first (pk_event* from p),
 *  and, read in the same snapshot, the user's version: every event with a seq up to it
 *  is committed, so a reader that got fewer than max events continues live at
 *  *version + 1. APR_NOTFOUND when the user does not exist. */
apr_status_t pk_events_after(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                             apr_int64_t after_id, int max, apr_array_header_t **events,
                             apr_int64_t *version);

/** The id of the user's latest event (0 if none) and the user's version, in one
 *  snapshot: where a reader that wants only what comes next starts. */
apr_status_t pk_events_head(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                            apr_int64_t *last_id, apr_int64_t *version);

/** The newest event id of all users (0 when the log is empty). */
apr_status_t pk_events_max_id(pk_db *db, apr_pool_t *p, apr_int64_t *max_id);

/** Up to max events of every user with ids above after_id, in id order (pk_event* from
 *  p): what the relay reads of events committed by other hosts. */
apr_status_t pk_events_since(pk_db *db, apr_pool_t *p, apr_int64_t after_id, int max,
                             apr_array_header_t **events);

#endif /* PK_EVENTS_H */
