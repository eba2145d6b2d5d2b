/* mod_poketto — a per-child cache of rendered list answers (runtime layer).
 *
 * An entry belongs to one user and is valid for exactly one version of that user's
 * items (users.version, bumped in the transaction of every change). A request learns
 * the version for free with its credentials, so a hit costs no query and a change
 * anywhere (any child, any host) makes older entries unreachable at once: they are
 * never served stale, only evicted. Memory: at most PokettoListCache entries of at most
 * PK_RESPCACHE_MAX_BODY bytes, malloc'd and freed by the cache itself.
 */
#ifndef PK_RESPCACHE_H
#define PK_RESPCACHE_H

#include <apr_pools.h>

#define PK_RESPCACHE_MAX_BODY (256 * 1024)

typedef struct pk_cached {
    const char *body;
    apr_size_t len;
    const char *etag;
    const char *link;               /* Link header or NULL */
} pk_cached;

/** Create this child's cache of max_entries entries (0: no cache); freed with pchild. */
apr_status_t pk_respcache_child_init(apr_pool_t *pchild, int max_entries);

/** The answer cached for (user, key) at exactly version, copied into p; 0 when none. */
int pk_respcache_get(apr_pool_t *p, apr_int64_t user, apr_int64_t version, const char *key,
                     pk_cached *out);

/** Remember an answer for (user, key) at version (replacing an older one). */
void pk_respcache_put(apr_int64_t user, apr_int64_t version, const char *key,
                      const pk_cached *c);

#endif /* PK_RESPCACHE_H */
