/* fuzz_netpolicy.c - libFuzzer harness for pk_netpolicy.c.
 *
 * Each input is used three ways:
 *   1. as a string (cut at the first NUL) for pk_netpolicy_allow(), pk_netpolicy_deny()
 *      and pk_netpolicy_check_literal(), checking the result contracts and that a
 *      literal allowed (or denied) by a rule of its own text is then allowed (denied);
 *   2. its first 4 and 16 bytes as an IPv4 and IPv6 sockaddr for pk_netpolicy_check(),
 *      checking that the verdict equals that of check_literal() on inet_ntop()'s text;
 *   3. all of the above against one shared policy with a few rules.
 * A broken invariant calls abort(), which libFuzzer reports as a crash.
 *
 * Build and run (from the top of the tree):
 *   mkdir -p build/fuzz && clang-14 -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all -Isrc/core $(apr-1-config --cflags --cppflags --includes) \
 *     tests/fuzz/fuzz_netpolicy.c src/core/pk_netpolicy.c \
 *     -o build/fuzz/fuzz_netpolicy $(apr-1-config --link-ld --libs)
 *   build/fuzz/fuzz_netpolicy -max_total_time=30 -max_len=256
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "pk_netpolicy.h"
#include "fuzz_common.h"

static apr_pool_t *global_pool;
static pk_netpolicy *shared_np; /* read-only after LLVMFuzzerInitialize */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && !strcmp(s + n - m, suffix);
}

/** check_literal on s: contract of the result; returns -1 (not a literal), 0 or 1. */
static int literal_verdict(const pk_netpolicy *np, const char *s, apr_pool_t *p,
                           const char **why)
{
    int allowed = -1, res;
    apr_status_t rv = pk_netpolicy_check_literal(np, s, p, &allowed, why);

    if (rv == APR_EINVAL) {
        REQUIRE(allowed == 0 && *why != NULL);
        res = -1;
    }
    else {
        REQUIRE(rv == APR_SUCCESS);
        REQUIRE((allowed == 1 && *why == NULL) || (allowed == 0 && *why != NULL));
        res = allowed;
    }
    return res;
}

/** Apply rule s (allow or deny) to a fresh policy and check what it does to s itself. */
static void fuzz_rule(const char *s, int allow, apr_pool_t *p)
{
    pk_netpolicy *np = NULL;
    const char *why = NULL;
    apr_status_t rv;
    int verdict;

    REQUIRE(pk_netpolicy_create(p, &np) == APR_SUCCESS && np);
    rv = allow ? pk_netpolicy_allow(np, s, &why) : pk_netpolicy_deny(np, s, &why);
    REQUIRE((rv == APR_SUCCESS && why == NULL) || (rv == APR_EINVAL && why != NULL));
    verdict = literal_verdict(np, s, p, &why);
    if (rv == APR_SUCCESS && verdict >= 0) {
        /* a single address ruled by its own text */
        if (allow)
            REQUIRE(verdict == 1);
        else
            REQUIRE(verdict == 0 && ends_with(why, " is denied by PokettoFetchDeny"));
    }
}

/** Check sa with pk_netpolicy_check() and compare with check_literal on its text. */
static void fuzz_sockaddr(const pk_netpolicy *np, const struct sockaddr *sa,
                          const void *addr, apr_pool_t *p)
{
    char text[INET6_ADDRSTRLEN];
    const char *why = NULL, *lwhy = NULL;
    int verdict = pk_netpolicy_check(np, sa, p, &why);

    REQUIRE((verdict == 1 && why == NULL) || (verdict == 0 && why != NULL));
    REQUIRE(inet_ntop(sa->sa_family, addr, text, sizeof(text)) != NULL);
    REQUIRE(literal_verdict(np, text, p, &lwhy) == verdict);
    REQUIRE((why == NULL && lwhy == NULL) || (why && lwhy && !strcmp(why, lwhy)));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *why = NULL;

    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&global_pool, NULL) != APR_SUCCESS
        || pk_netpolicy_create(global_pool, &shared_np) != APR_SUCCESS
        || pk_netpolicy_allow(shared_np, "127.0.0.1/32", &why) != APR_SUCCESS
        || pk_netpolicy_allow(shared_np, "fd00::/8", &why) != APR_SUCCESS
        || pk_netpolicy_deny(shared_np, "93.184.216.0/24", &why) != APR_SUCCESS
        || pk_netpolicy_deny(shared_np, "64:ff9b::/96", &why) != APR_SUCCESS) {
        fprintf(stderr, "fuzz_netpolicy: setup failed\n");
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = NULL;
    char *s;
    const char *why = NULL;
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;

    if (apr_pool_create(&p, global_pool) != APR_SUCCESS)
        abort();
    s = apr_palloc(p, size + 1);
    memcpy(s, data, size);
    s[size] = '\0';

    fuzz_rule(s, 1, p);
    fuzz_rule(s, 0, p);
    literal_verdict(shared_np, s, p, &why);

    if (size >= 4) {
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        memcpy(&sin.sin_addr, data, 4);
        fuzz_sockaddr(shared_np, (const struct sockaddr *)&sin, &sin.sin_addr, p);
    }
    if (size >= 16) {
        memset(&sin6, 0, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        memcpy(&sin6.sin6_addr, data, 16);
        fuzz_sockaddr(shared_np, (const struct sockaddr *)&sin6, &sin6.sin6_addr, p);
    }
    apr_pool_destroy(p);
    return 0;
}
