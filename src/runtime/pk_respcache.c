/* mod_poketto — a per-child cache of rendered list answers; see pk_respcache.h. */
#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "pk_respcache.h"

typedef struct entry {
    char *key;                      /* "user\nkey": also the hash key */
    apr_int64_t version;
    char *body;
    apr_size_t len;
    char *etag;
    char *link;
} entry;

typedef struct {
    apr_hash_t *map;
    apr_thread_mutex_t *mutex;
    int max;
} cache;

static cache *the_cache;

static void entry_free(entry *e)
{
    if (e) {
        free(e->key);
        free(e->body);
        free(e->etag);
        free(e->link);
        free(e);
    }
}

/* The entries are freed; the hash (in pchild, which goes next) is not touched again: its
 * keys are the entries' own, and apr_hash_clear would hash every freed key once more
 * (a child segfaulting on exit, AH00052). */
static apr_status_t cache_cleanup(void *data)
{
    cache *c = data;
    apr_hash_index_t *hi;

    the_cache = NULL;
    for (hi = apr_hash_first(NULL, c->map); hi; hi = apr_hash_next(hi)) {
        entry_free(apr_hash_this_val(hi));
    }
    return APR_SUCCESS;
}

apr_status_t pk_respcache_child_init(apr_pool_t *pchild, int max_entries)
{
    apr_status_t rv = APR_SUCCESS;
    cache *c;

    if (max_entries <= 0) {
        goto leave;
    }
    c = apr_pcalloc(pchild, sizeof(*c));
    c->map = apr_hash_make(pchild);
    c->max = max_entries;
    if (APR_SUCCESS != (rv = apr_thread_mutex_create(&c->mutex, APR_THREAD_MUTEX_DEFAULT,
                                                     pchild))) {
        goto leave;
    }
    apr_pool_cleanup_register(pchild, c, cache_cleanup, apr_pool_cleanup_null);
    the_cache = c;
leave:
    return rv;
}

static char *full_key(apr_pool_t *p, apr_int64_t user, const char *key)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT "\n%s", user, key);
}

int pk_respcache_get(apr_pool_t *p, apr_int64_t user, apr_int64_t version, const char *key,
                     pk_cached *out)
{
    cache *c = the_cache;
    const char *k;
    entry *e;
    int hit = 0;

    if (!c) {
        return 0;
    }
    k = full_key(p, user, key);
    apr_thread_mutex_lock(c->mutex);
    e = apr_hash_get(c->map, k, APR_HASH_KEY_STRING);
    if (e && e->version == version) {
        out->body = apr_pmemdup(p, e->body, e->len + 1);
        out->len = e->len;
        out->etag = apr_pstrdup(p, e->etag);
        out->link = e->link ? apr_pstrdup(p, e->link) : NULL;
        hit = 1;
    }
    apr_thread_mutex_unlock(c->mutex);
    return hit;
}

static char *dup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

void pk_respcache_put(apr_int64_t user, apr_int64_t version, const char *key,
                      const pk_cached *cd)
{
    cache *c = the_cache;
    apr_hash_index_t *hi;
    char buf[64];
    entry *e, *old;

    if (!c || cd->len > PK_RESPCACHE_MAX_BODY || !(e = calloc(1, sizeof(*e)))) {
        return;
    }
    apr_snprintf(buf, sizeof(buf), "%" APR_INT64_T_FMT "\n", user);
    e->key = malloc(strlen(buf) + strlen(key) + 1);
    e->body = malloc(cd->len + 1);
    e->etag = dup0(cd->etag);
    e->link = dup0(cd->link);
    if (!e->key || !e->body || !e->etag || (cd->link && !e->link)) {
        entry_free(e);
        return;
    }
    strcpy(e->key, buf);
    strcat(e->key, key);
    memcpy(e->body, cd->body, cd->len);
    e->body[cd->len] = '\0';
    e->len = cd->len;
    e->version = version;
    apr_thread_mutex_lock(c->mutex);
    old = apr_hash_get(c->map, e->key, APR_HASH_KEY_STRING);
    if (old && old->version > version) {
        entry_free(e);              /* a newer answer is there already */
        e = NULL;
    }
    else {
        if (old) {
            apr_hash_set(c->map, old->key, APR_HASH_KEY_STRING, NULL);
            entry_free(old);
        }
        else if ((int)apr_hash_count(c->map) >= c->max
                 && (hi = apr_hash_first(NULL, c->map))) {
            old = apr_hash_this_val(hi);    /* full: make room (any entry will do) */
            apr_hash_set(c->map, old->key, APR_HASH_KEY_STRING, NULL);
            entry_free(old);
        }
        apr_hash_set(c->map, e->key, APR_HASH_KEY_STRING, e);
    }
    apr_thread_mutex_unlock(c->mutex);
}
