/* mod_poketto — the event log; see pk_events.h. */
#include <apr_strings.h>
#include <apr_lib.h>

#include "pk_events.h"

const pk_stmt_def pk_events_statements[] = {
    /* first: the user's row lock, held to the end of the transaction */
    { "pk_user_bump",
      "UPDATE users SET version = version + 1 WHERE id = %lld RETURNING version", NULL },
    { "pk_event_insert",
      "INSERT INTO events (user_id, type, item_id, created_ms, data, seq)"
      " VALUES (%lld, %s, %lld, %lld, %s, %lld) RETURNING id", NULL },
    /* one statement, so one snapshot: the events and the version they add up to */
    { "pk_events_after",
      "SELECT u.version, e.id, e.seq, e.type, e.item_id, e.data FROM users u"
      " LEFT JOIN events e ON e.user_id = u.id AND e.id > %lld"
      " WHERE u.id = %lld ORDER BY e.id LIMIT %d", NULL },
    { "pk_events_head",
      "SELECT u.version, (SELECT MAX(e.id) FROM events e WHERE e.user_id = u.id)"
      " FROM users u WHERE u.id = %lld", NULL },
    /* the relay of events other hosts committed */
    { "pk_events_max_id", "SELECT COALESCE(MAX(id), 0) FROM events", NULL },
    { "pk_events_since",
      "SELECT user_id, id, seq, type, item_id, data FROM events WHERE id > %lld"
      " ORDER BY id LIMIT %d", NULL },
    { NULL, NULL, NULL }
};

apr_status_t pk_event_add(pk_db *db, apr_pool_t *p, apr_int64_t user_id, const char *type,
                          apr_int64_t item_id, const char *data, apr_int64_t *event_id)
{
    apr_int64_t now = pk_db_now_ms();
    const void *bump[] = { &user_id };
    pk_event *ev = apr_pcalloc(p, sizeof(*ev));
    const void *ins[] = { &user_id, type, &item_id, &now, data, &ev->seq };
    apr_dbd_row_t *row;
    apr_status_t rv;

    if (event_id) {
        *event_id = 0;
    }
    if (APR_SUCCESS != (rv = pk_db_one(db, p, "pk_user_bump", &row, bump))) {
        goto leave;
    }
    ev->seq = pk_db_int(db, row, 0);
    if (APR_SUCCESS != (rv = pk_db_one(db, p, "pk_event_insert", &row, ins))) {
        goto leave;
    }
    ev->id = pk_db_int(db, row, 0);
    ev->user_id = user_id;
    ev->type = type;
    ev->item_id = item_id;
    ev->data = data;
    pk_db_event_written(db, p, ev);
    if (event_id) {
        *event_id = ev->id;
    }
leave:
    return rv;
}

/* Types are the module's own names; a row edited by hand cannot break the JSON. */
static const char *safe_type(const char *type)
{
    const char *c;

    for (c = type; c && *c; ++c) {
        if (!apr_islower(*c) && !apr_isdigit(*c) && *c != '.' && *c != '_') {
            return "unknown";
        }
    }
    return (type && *type) ? type : "unknown";
}

const char *pk_event_message(apr_pool_t *p, const pk_event *ev, apr_size_t *len)
{
    const char *msg = apr_psprintf(p, "{\"type\":\"%s\",\"id\":%" APR_INT64_T_FMT
                                   ",\"event\":%" APR_INT64_T_FMT "%s%s}",
                                   safe_type(ev->type), ev->item_id, ev->id,
                                   ev->data ? ",\"item\":" : "", ev->data ? ev->data : "");

    *len = strlen(msg);
    return msg;
}

/* The event in columns 1 to 5 of row (id, seq, type, item_id, data), of user_id. */
static pk_event *event_of(pk_db *db, apr_pool_t *p, apr_dbd_row_t *row, apr_int64_t user_id)
{
    pk_event *ev = apr_pcalloc(p, sizeof(*ev));

    ev->user_id = user_id;
    ev->id = pk_db_int(db, row, 1);
    ev->seq = pk_db_int(db, row, 2);
    ev->type = pk_db_str(db, p, row, 3);
    ev->item_id = pk_db_int(db, row, 4);
    ev->data = pk_db_str(db, p, row, 5);
    return ev;
}

apr_status_t pk_events_after(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                             apr_int64_t after_id, int max, apr_array_header_t **events,
                             apr_int64_t *version)
{
    const void *args[] = { &after_id, &user_id, &max };
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    apr_status_t rv;
    int rows = 0;

    *events = apr_array_make(p, max > 0 ? max : 1, sizeof(pk_event *));
    *version = 0;
    if (APR_SUCCESS != (rv = pk_db_select(db, p, "pk_events_after", &res, args))) {
        goto leave;
    }
    for (row = NULL; (row = pk_db_next(db, p, res, row)); ++rows) {
        *version = pk_db_int(db, row, 0);
        if (!pk_db_str(db, p, row, 1)) {
            continue;               /* the user has no event after after_id */
        }
        APR_ARRAY_PUSH(*events, pk_event *) = event_of(db, p, row, user_id);
    }
    if (rows == 0) {
        rv = APR_NOTFOUND;
    }
leave:
    return rv;
}

apr_status_t pk_events_head(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                            apr_int64_t *last_id, apr_int64_t *version)
{
    const void *args[] = { &user_id };
    apr_dbd_row_t *row;
    apr_status_t rv = pk_db_one(db, p, "pk_events_head", &row, args);

    *version = (rv == APR_SUCCESS) ? pk_db_int(db, row, 0) : 0;
    *last_id = (rv == APR_SUCCESS) ? pk_db_int(db, row, 1) : 0;
    return rv;
}

apr_status_t pk_events_max_id(pk_db *db, apr_pool_t *p, apr_int64_t *max_id)
{
    apr_dbd_row_t *row;
    apr_status_t rv = pk_db_one(db, p, "pk_events_max_id", &row, NULL);

    *max_id = (rv == APR_SUCCESS) ? pk_db_int(db, row, 0) : 0;
    return rv;
}

apr_status_t pk_events_since(pk_db *db, apr_pool_t *p, apr_int64_t after_id, int max,
                             apr_array_header_t **events)
{
    const void *args[] = { &after_id, &max };
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    apr_status_t rv;

    *events = apr_array_make(p, max > 0 ? max : 1, sizeof(pk_event *));
    if (APR_SUCCESS != (rv = pk_db_select(db, p, "pk_events_since", &res, args))) {
        goto leave;
    }
    for (row = NULL; (row = pk_db_next(db, p, res, row));) {
        APR_ARRAY_PUSH(*events, pk_event *) = event_of(db, p, row, pk_db_int(db, row, 0));
    }
leave:
    return rv;
}
