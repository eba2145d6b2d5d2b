/* mod_poketto — tags (store layer). */
#ifndef PK_TAGS_H
#define PK_TAGS_H

#include <apr_tables.h>
#include "pk_db.h"

typedef struct pk_tag {
    const char *name;
    apr_int64_t count;              /* items carrying it */
} pk_tag;

extern const pk_stmt_def pk_tags_statements[];

/** Give an item these tags (const char*): added to its tags, or replacing them when
 *  replace is set; tags no item carries any more are removed. Call inside a transaction. */
apr_status_t pk_tags_attach(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                            apr_int64_t item_id, const apr_array_header_t *tags,
                            int replace, int *changed);
/** Remove the user's tags that no item carries. Call inside a transaction. */
apr_status_t pk_tags_prune(pk_db *db, apr_pool_t *p, apr_int64_t user_id);
/** A user's tags (pk_tag*) with their counts, by name. */
apr_status_t pk_tags_list(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                          apr_array_header_t **tags);
/** Rename a tag, merging it into an existing tag of the new name; APR_NOTFOUND if the
 *  user has no tag of that name. *tag is the result. One transaction. */
apr_status_t pk_tags_rename(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                            const char *from, const char *to, pk_tag **tag);
/** Delete a tag from every item; APR_NOTFOUND if the user has no such tag. */
apr_status_t pk_tags_delete(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                            const char *name);

#endif /* PK_TAGS_H */
