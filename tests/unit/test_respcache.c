/* test_respcache.c - unit tests of src/runtime/pk_respcache.c (TAP).
 *
 * The cache has no httpd dependency: a pool stands in for the child's. Its end (the
 * child's pool destroyed) runs under ASan in `make unit-asan`: freeing the entries and
 * then touching the hash keyed by them made children segfault on exit.
 */
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "pk_test.h"
#include "pk_respcache.h"

static pk_cached answer(const char *body, const char *etag, const char *link)
{
    pk_cached c;

    c.body = body;
    c.len = strlen(body);
    c.etag = etag;
    c.link = link;
    return c;
}

static int hit(apr_pool_t *p, apr_int64_t user, apr_int64_t version, const char *key,
               const char **body)
{
    pk_cached out;
    int found;

    memset(&out, 0, sizeof(out));
    found = pk_respcache_get(p, user, version, key, &out);
    *body = found ? out.body : NULL;
    return found;
}

int main(void)
{
    apr_pool_t *root, *child, *p;
    pk_cached a, b;
    pk_cached out;
    const char *body;
    char key[32];
    int i, kept;
    char *big;
    int rc;

    apr_app_initialize(NULL, NULL, NULL);
    apr_pool_create(&root, NULL);
    apr_pool_create(&p, root);

    /* no cache (max 0): nothing is kept, nothing breaks */
    apr_pool_create(&child, root);
    PK_TEST_INT(pk_respcache_child_init(child, 0), APR_SUCCESS, "max 0: no cache");
    a = answer("[1]", "\"e1\"", NULL);
    pk_respcache_put(1, 1, "k", &a);
    PK_TEST_OK(!hit(p, 1, 1, "k", &body), "max 0: put is a no-op, get misses");
    apr_pool_destroy(child);

    apr_pool_create(&child, root);
    PK_TEST_INT(pk_respcache_child_init(child, 4), APR_SUCCESS, "cache of 4 entries");
    a = answer("[1,2]", "\"v1\"", "</api/items?cursor=x>; rel=\"next\"");
    pk_respcache_put(7, 1, "limit=2", &a);
    memset(&out, 0, sizeof(out));
    PK_TEST_OK(pk_respcache_get(p, 7, 1, "limit=2", &out), "a put answer is found");
    PK_TEST_STR(out.body, "[1,2]", "with its body");
    PK_TEST_INT((int)out.len, 5, "and its length");
    PK_TEST_STR(out.etag, "\"v1\"", "and its ETag");
    PK_TEST_STR(out.link, "</api/items?cursor=x>; rel=\"next\"", "and its Link");
    PK_TEST_OK(!hit(p, 7, 2, "limit=2", &body), "another version of the user misses");
    PK_TEST_OK(!hit(p, 8, 1, "limit=2", &body), "another user misses (same key, version)");
    PK_TEST_OK(!hit(p, 7, 1, "limit=3", &body), "another key misses");

    b = answer("[3]", "\"v2\"", NULL);
    pk_respcache_put(7, 2, "limit=2", &b);
    PK_TEST_OK(hit(p, 7, 2, "limit=2", &body) && !strcmp(body, "[3]"),
               "a newer version replaces the entry");
    memset(&out, 0, sizeof(out));
    pk_respcache_get(p, 7, 2, "limit=2", &out);
    PK_TEST_OK(out.link == NULL, "an answer without Link has none");
    PK_TEST_OK(!hit(p, 7, 1, "limit=2", &body), "the older version is gone");
    pk_respcache_put(7, 1, "limit=2", &a);
    PK_TEST_OK(hit(p, 7, 2, "limit=2", &body) && !strcmp(body, "[3]"),
               "an older answer arriving late does not replace a newer one");

    /* full: every put still lands, the cache never holds more than its size */
    for (i = 0; i < 20; ++i) {
        apr_snprintf(key, sizeof(key), "page=%d", i);
        a = answer(key, "\"x\"", NULL);
        pk_respcache_put(9, 1, key, &a);
    }
    PK_TEST_OK(hit(p, 9, 1, "page=19", &body) && !strcmp(body, "page=19"),
               "full: the newest put is kept");
    for (i = 0, kept = 0; i < 20; ++i) {
        apr_snprintf(key, sizeof(key), "page=%d", i);
        kept += hit(p, 9, 1, key, &body);
    }
    kept += hit(p, 7, 2, "limit=2", &body);
    PK_TEST_OK(kept <= 4, "full: at most 4 entries are kept");

    /* over the size limit: not kept */
    big = apr_palloc(p, PK_RESPCACHE_MAX_BODY + 2);
    memset(big, 'a', PK_RESPCACHE_MAX_BODY + 1);
    big[PK_RESPCACHE_MAX_BODY + 1] = '\0';
    a = answer(big, "\"big\"", NULL);
    pk_respcache_put(10, 1, "big", &a);
    PK_TEST_OK(!hit(p, 10, 1, "big", &body), "a body over PK_RESPCACHE_MAX_BODY is not kept");
    big[PK_RESPCACHE_MAX_BODY] = '\0';
    a = answer(big, "\"big\"", NULL);
    pk_respcache_put(10, 1, "big", &a);
    PK_TEST_OK(hit(p, 10, 1, "big", &body) && strlen(body) == PK_RESPCACHE_MAX_BODY,
               "a body of exactly PK_RESPCACHE_MAX_BODY is kept");

    /* the child's end: entries freed, the cache gone (ASan: no use after free, no leak) */
    apr_pool_destroy(child);
    PK_TEST_OK(!hit(p, 10, 1, "big", &body), "after the child pool: no cache, get misses");
    a = answer("[1]", "\"e\"", NULL);
    pk_respcache_put(1, 1, "k", &a);
    PK_TEST_OK(!hit(p, 1, 1, "k", &body), "after the child pool: put is a no-op");

    rc = PK_TEST_DONE();
    apr_pool_destroy(root);
    apr_terminate();
    return rc;
}
