/* mod_poketto — saved items (store layer). */
#ifndef PK_ITEMS_H
#define PK_ITEMS_H

#include <apr_tables.h>
#include <jansson.h>
#include "pk_db.h"

typedef struct pk_item {
    apr_int64_t id;
    apr_int64_t user_id;
    const char *url;                /* canonical */
    const char *given_url;          /* as the user sent it */
    const char *state;              /* pending | ready | failed */
    const char *title;              /* the user's title if set, else the page's; may be NULL */
    const char *user_title;         /* NULL unless the user set one */
    const char *excerpt;
    const char *error;
    int archived;
    int favorite;
    double progress;                /* 0..1 */
    apr_array_header_t *tags;       /* const char*, sorted */
    apr_int64_t created_ms;
    apr_int64_t updated_ms;
    const char *final_url;          /* where the fetch ended after redirects */
    const char *content_type;
    const char *byline;
    const char *site_name;
    const char *published;          /* ISO 8601, as the page says */
    const char *lang;
    const char *dir;                /* "ltr", "rtl", "auto" or NULL */
    const char *lead_image;
    int word_count;
    apr_int64_t fetched_ms;
} pk_item;

/** What GET /api/items asks for. */
typedef struct pk_item_query {
    int archived;                   /* 0 unread, 1 archived, 2 all */
    int favorite;                   /* -1 any, 0, 1 */
    const char *tag;                /* NULL: any */
    apr_int64_t since_ms;           /* items updated at or after; 0: all */
    int newest_first;
    apr_int64_t after_id;           /* keyset cursor: the last id of the previous page, 0 none */
    int limit;
} pk_item_query;

/** A PATCH: only members with has_* set change. */
typedef struct pk_item_patch {
    int has_archived, archived;
    int has_favorite, favorite;
    int has_title;
    const char *title;              /* NULL: back to the page's own title */
    int has_progress;
    double progress;
    const apr_array_header_t *tags; /* const char*; NULL: unchanged */
} pk_item_patch;

extern const pk_stmt_def pk_items_statements[];

/** Save a URL in one transaction (with SQLite maybe shared with other threads' saves:
 *  pk_group.h; all or nothing of this save either way): a new item (pending) with its tags, a fetch task
 *  (carrying input_html, a page the client sent, when not NULL) and an item.saved event;
 *  or, when the user already has the canonical url, the existing item with the new
 *  tags added (*existing 1; *task_id 0, unless input_html came: then the item goes
 *  back to pending and a task extracts the new page). */
apr_status_t pk_item_save(pk_db *db, apr_pool_t *p, apr_int64_t user_id, const char *url,
                          const char *given_url, const char *title,
                          const apr_array_header_t *tags, const char *input_html,
                          pk_item **item, apr_int64_t *task_id, int *existing);
/** Fetch an item again in one transaction: back to pending, a new task (or the one
 *  still queued or running), an item.updated event. */
apr_status_t pk_item_refetch(pk_db *db, apr_pool_t *p, apr_int64_t user_id, apr_int64_t id,
                             pk_item **item, apr_int64_t *task_id);
/** The article of an item (NULL members until it is ready). */
apr_status_t pk_item_content(pk_db *db, apr_pool_t *p, apr_int64_t user_id, apr_int64_t id,
                             const char **text, const char **html);
/** One of a user's items; APR_NOTFOUND if the user has no such item. */
apr_status_t pk_item_get(pk_db *db, apr_pool_t *p, apr_int64_t user_id, apr_int64_t id,
                         pk_item **item);
/** A page of a user's items (pk_item*); *more says whether another page follows. */
apr_status_t pk_item_list(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                          const pk_item_query *q, apr_array_header_t **items, int *more);
/** Apply a patch and record an item.updated event, in one transaction. */
apr_status_t pk_item_patch_apply(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                                 apr_int64_t id, const pk_item_patch *patch, pk_item **item);
/** Delete an item and record an item.deleted event, in one transaction. */
apr_status_t pk_item_delete(pk_db *db, apr_pool_t *p, apr_int64_t user_id, apr_int64_t id);

/** The item as the API shows it (without text and html): a new JSON object the caller
 *  owns (json_decref). Times are formatted from p. */
json_t *pk_item_json(apr_pool_t *p, const pk_item *it);
/** Inside the open transaction, after the item's changes: read the item as it is now
 *  and record an event of that type carrying it (pk_event_add). *item (if given) gets
 *  the item read, *event_id (if given) the event's id. */
apr_status_t pk_item_event(pk_db *db, apr_pool_t *p, apr_int64_t user_id, const char *type,
                           apr_int64_t id, pk_item **item, apr_int64_t *event_id);

#endif /* PK_ITEMS_H */
