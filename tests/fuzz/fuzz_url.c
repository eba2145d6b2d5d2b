/* fuzz_url.c - libFuzzer harness for pk_url.c (the URLs users save).
 *
 * The input, cut at its first NUL, is a URL a user typed. Invariants checked:
 *   1. the result contract: APR_SUCCESS with a canonical form and no reason, or
 *      APR_EINVAL with a reason and no canonical form (APR_ENOMEM: neither);
 *   2. a canonical form is an absolute http(s) URL without whitespace, control bytes,
 *      non-ASCII bytes, credentials or fragment, and pk_url_host() finds its host in
 *      lower case;
 *   3. canonicalising a canonical form gives it back unchanged (a URL saved twice is
 *      one item, whichever form the user typed);
 *   4. the length limit holds: an input over max_len is refused.
 * A broken invariant calls abort(), which libFuzzer reports as a crash. make fuzz runs it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "pk_url.h"

#define MAX_LEN 2048

static apr_pool_t *global_pool;

#define REQUIRE(cond)                                                              \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "invariant broken at %s:%d: %s\n", __FILE__, __LINE__, \
                    #cond);                                                        \
            abort();                                                               \
        }                                                                          \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apr_pool_create(&global_pool, NULL);
    return 0;
}

/* invariant 2 */
static void canonical_ok(apr_pool_t *p, const char *canon)
{
    const unsigned char *c;
    const char *host, *h;

    REQUIRE(!strncmp(canon, "http://", 7) || !strncmp(canon, "https://", 8));
    for (c = (const unsigned char *)canon; *c; ++c) {
        REQUIRE(*c > 0x20 && *c < 0x7f);
    }
    REQUIRE(!strchr(canon, '#'));
    host = pk_url_host(p, canon);
    REQUIRE(host && *host);
    for (h = host; *h; ++h) {
        REQUIRE(!(*h >= 'A' && *h <= 'Z'));
    }
    REQUIRE(!strchr(host, '@'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = NULL;
    const char *url, *canon = NULL, *why = NULL, *again = NULL, *why2 = NULL;
    apr_status_t rv;

    apr_pool_create(&p, global_pool);
    url = apr_pstrmemdup(p, (const char *)data, size);
    rv = pk_url_canonicalize(p, url, MAX_LEN, &canon, &why);
    if (rv == APR_SUCCESS) {
        REQUIRE(canon && !why);
        REQUIRE(strlen(url) <= MAX_LEN);
        canonical_ok(p, canon);
        /* the canonical form may be longer than the input: no limit for the re-check */
        rv = pk_url_canonicalize(p, canon, (apr_size_t)-1, &again, &why2);
        REQUIRE(rv == APR_SUCCESS);
        if (strcmp(again, canon)) {
            fprintf(stderr, "not idempotent:\n  in:    %s\n  once:  %s\n  twice: %s\n", url,
                    canon, again);
            abort();
        }
    }
    else if (rv == APR_EINVAL) {
        REQUIRE(!canon && why && *why);
    }
    else {
        REQUIRE(rv == APR_ENOMEM && !canon);
    }
    apr_pool_destroy(p);
    return 0;
}
