/* mod_poketto — tags; see pk_tags.h. */
#include <apr_strings.h>

#include "pk_tags.h"
#include "pk_items.h"

const pk_stmt_def pk_tags_statements[] = {
    { "pk_tag_upsert",
      "INSERT INTO tags (user_id, name) VALUES (%lld, %s)"
      " ON CONFLICT (user_id, name) DO NOTHING", NULL },
    { "pk_tag_attach",
      "INSERT INTO item_tags (item_id, tag_id) SELECT %lld, id FROM tags"
      " WHERE user_id = %lld AND name = %s ON CONFLICT DO NOTHING", NULL },
    { "pk_tag_detach_all", "DELETE FROM item_tags WHERE item_id = %lld", NULL },
    { "pk_tag_prune",
      "DELETE FROM tags WHERE user_id = %lld AND NOT EXISTS"
      " (SELECT 1 FROM item_tags it WHERE it.tag_id = tags.id)", NULL },
    { "pk_tag_list",
      "SELECT t.name, COUNT(it.item_id) FROM tags t"
      " LEFT JOIN item_tags it ON it.tag_id = t.id WHERE t.user_id = %lld"
      " GROUP BY t.id, t.name ORDER BY t.name", NULL },
    { "pk_tag_id", "SELECT id FROM tags WHERE user_id = %lld AND name = %s", NULL },
    { "pk_tag_count", "SELECT COUNT(*) FROM item_tags WHERE tag_id = %lld", NULL },
    { "pk_tag_merge",
      "INSERT INTO item_tags (item_id, tag_id) SELECT item_id, %lld FROM item_tags"
      " WHERE tag_id = %lld ON CONFLICT DO NOTHING", NULL },
    { "pk_tag_set_name", "UPDATE tags SET name = %s WHERE id = %lld", NULL },
    /* item_tags rows are deleted explicitly too: SQLite enforces ON DELETE CASCADE
     * only with PRAGMA foreign_keys=ON, which an admin's DBDInitSQL may lack */
    { "pk_tag_detach_tag", "DELETE FROM item_tags WHERE tag_id = %lld", NULL },
    { "pk_tag_delete", "DELETE FROM tags WHERE id = %lld", NULL },
    { "pk_tag_items",
      "SELECT item_id FROM item_tags WHERE tag_id = %lld ORDER BY item_id", NULL },
    { "pk_tag_touch_items",
      "UPDATE items SET updated_ms = %lld WHERE id IN"
      " (SELECT item_id FROM item_tags WHERE tag_id = %lld)", NULL },
    { NULL, NULL, NULL }
};

apr_status_t pk_tags_prune(pk_db *db, apr_pool_t *p, apr_int64_t user_id)
{
    const void *args[] = { &user_id };
    return pk_db_exec(db, p, "pk_tag_prune", NULL, args);
}

apr_status_t pk_tags_attach(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                            apr_int64_t item_id, const apr_array_header_t *tags,
                            int replace, int *changed)
{
    apr_status_t rv = APR_SUCCESS;
    const char *name;
    int i, n;

    *changed = 0;
    if (replace) {
        const void *args[] = { &item_id };
        if (APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_tag_detach_all", &n, args))) {
            goto leave;
        }
        *changed = 1;
    }
    for (i = 0; tags && i < tags->nelts; ++i) {
        name = APR_ARRAY_IDX(tags, i, const char *);
        {
            const void *up[] = { &user_id, name };
            const void *at[] = { &item_id, &user_id, name };
            if (APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_tag_upsert", NULL, up))
                || APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_tag_attach", &n, at))) {
                goto leave;
            }
            if (n > 0) {
                *changed = 1;
            }
        }
    }
    if (replace) {
        rv = pk_tags_prune(db, p, user_id);
    }
leave:
    return rv;
}

apr_status_t pk_tags_list(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                          apr_array_header_t **tags)
{
    const void *args[] = { &user_id };
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    apr_status_t rv;
    pk_tag *t = NULL;

    *tags = apr_array_make(p, 16, sizeof(pk_tag *));
    if (APR_SUCCESS == (rv = pk_db_select(db, p, "pk_tag_list", &res, args))) {
        for (row = NULL; (row = pk_db_next(db, p, res, row)); ) {
            t = apr_pcalloc(p, sizeof(*t));
            t->name = pk_db_str(db, p, row, 0);
            t->count = pk_db_int(db, row, 1);
            APR_ARRAY_PUSH(*tags, pk_tag *) = t;
        }
    }
    return rv;
}

static apr_status_t tag_id(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                           const char *name, apr_int64_t *id)
{
    const void *args[] = { &user_id, name };
    apr_dbd_row_t *row;
    apr_status_t rv = pk_db_one(db, p, "pk_tag_id", &row, args);

    *id = (rv == APR_SUCCESS) ? pk_db_int(db, row, 0) : 0;
    return rv;
}

/* The items carrying a tag change with it: newer updated time now (before the tag
 * changes), *ids gets them for item_events. */
static apr_status_t touch_items(pk_db *db, apr_pool_t *p, apr_int64_t tag,
                                apr_array_header_t **ids)
{
    apr_int64_t now = pk_db_now_ms();
    const void *args[] = { &now, &tag };
    const void *sel[] = { &tag };
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    apr_status_t rv;

    *ids = apr_array_make(p, 16, sizeof(apr_int64_t));
    if (APR_SUCCESS != (rv = pk_db_select(db, p, "pk_tag_items", &res, sel))) {
        goto leave;
    }
    for (row = NULL; (row = pk_db_next(db, p, res, row)); ) {
        APR_ARRAY_PUSH(*ids, apr_int64_t) = pk_db_int(db, row, 0);
    }
    rv = pk_db_exec(db, p, "pk_tag_touch_items", NULL, args);
leave:
    return rv;
}

/* An item.updated event for each item, carrying the item as the tag change left it:
 * last in the transaction, so that the user's row lock (pk_event_add) is the last lock
 * taken, as in every other transaction that writes events. */
static apr_status_t item_events(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                                const apr_array_header_t *ids)
{
    apr_status_t rv = APR_SUCCESS;
    int i;

    for (i = 0; i < ids->nelts && rv == APR_SUCCESS; ++i) {
        rv = pk_item_event(db, p, user_id, "item.updated",
                           APR_ARRAY_IDX(ids, i, apr_int64_t), NULL, NULL);
    }
    return rv;
}

apr_status_t pk_tags_rename(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                            const char *from, const char *to, pk_tag **tag)
{
    apr_int64_t old_id = 0, new_id = 0;
    apr_array_header_t *items = NULL;
    apr_dbd_row_t *row;
    apr_status_t rv;
    pk_tag *t = NULL;

    *tag = NULL;
    if (APR_SUCCESS != (rv = pk_db_begin(db, p))) {
        goto leave;
    }
    if (APR_SUCCESS != (rv = tag_id(db, p, user_id, from, &old_id))
        || APR_SUCCESS != (rv = touch_items(db, p, old_id, &items))) {
        goto end;
    }
    rv = tag_id(db, p, user_id, to, &new_id);
    if (rv == APR_SUCCESS && new_id != old_id) {
        const void *merge[] = { &new_id, &old_id };
        const void *del[] = { &old_id };
        if (APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_tag_merge", NULL, merge))
            || APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_tag_detach_tag", NULL, del))
            || APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_tag_delete", NULL, del))) {
            goto end;
        }
    }
    else if (rv == APR_NOTFOUND) {
        const void *set[] = { to, &old_id };
        new_id = old_id;
        if (APR_SUCCESS != (rv = pk_db_exec(db, p, "pk_tag_set_name", NULL, set))) {
            goto end;
        }
    }
    else if (rv != APR_SUCCESS) {
        goto end;
    }
    {
        const void *cnt[] = { &new_id };
        if (APR_SUCCESS != (rv = pk_db_one(db, p, "pk_tag_count", &row, cnt))) {
            goto end;
        }
        t = apr_pcalloc(p, sizeof(*t));
        t->name = to;
        t->count = pk_db_int(db, row, 0);
    }
    if (APR_SUCCESS == (rv = item_events(db, p, user_id, items))) {
        *tag = t;
    }
end:
    rv = pk_db_finish(db, p, rv);
leave:
    return rv;
}

apr_status_t pk_tags_delete(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                            const char *name)
{
    apr_int64_t id = 0;
    apr_array_header_t *items = NULL;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = pk_db_begin(db, p))) {
        goto leave;
    }
    if (APR_SUCCESS == (rv = tag_id(db, p, user_id, name, &id))
        && APR_SUCCESS == (rv = touch_items(db, p, id, &items))) {
        const void *del[] = { &id };
        if (APR_SUCCESS == (rv = pk_db_exec(db, p, "pk_tag_detach_tag", NULL, del))
            && APR_SUCCESS == (rv = pk_db_exec(db, p, "pk_tag_delete", NULL, del))) {
            rv = item_events(db, p, user_id, items);
        }
    }
    rv = pk_db_finish(db, p, rv);
leave:
    return rv;
}
