/* test_netpolicy.c - unit tests of pk_netpolicy.c (TAP). */

#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <apr_allocator.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "pk_netpolicy.h"
#include "pk_test.h"

/** A literal address and what the default policy says of it (why NULL: allowed). */
typedef struct {
    const char *addr;
    const char *why;
} verdict_case_t;

static const verdict_case_t defaults[] = {
    /* loopback */
    { "127.0.0.1", "127.0.0.1 is a loopback address" },
    { "127.0.0.2", "127.0.0.2 is a loopback address" },
    { "127.255.255.255", "127.255.255.255 is a loopback address" },
    { "::1", "::1 is a loopback address" },
    { "[::1]", "::1 is a loopback address" },
    { "0:0:0:0:0:0:0:1", "::1 is a loopback address" },
    /* private */
    { "10.0.0.0", "10.0.0.0 is a private address" },
    { "10.1.2.3", "10.1.2.3 is a private address" },
    { "10.255.255.255", "10.255.255.255 is a private address" },
    { "192.168.0.1", "192.168.0.1 is a private address" },
    { "192.168.255.255", "192.168.255.255 is a private address" },
    { "fc00::1", "fc00::1 is a private address" },
    { "fd12:3456:789a::1", "fd12:3456:789a::1 is a private address" },
    { "FDFF:FFFF::1", "fdff:ffff::1 is a private address" },
    { "fec0::1", "fec0::1 is a private address" },
    /* 172.16/12 edges */
    { "172.15.255.255", NULL },
    { "172.16.0.0", "172.16.0.0 is a private address" },
    { "172.20.1.1", "172.20.1.1 is a private address" },
    { "172.31.255.255", "172.31.255.255 is a private address" },
    { "172.32.0.0", NULL },
    /* link-local */
    { "169.254.0.1", "169.254.0.1 is a link-local address" },
    { "169.254.255.255", "169.254.255.255 is a link-local address" },
    { "fe80::1", "fe80::1 is a link-local address" },
    { "febf:ffff::1", "febf:ffff::1 is a link-local address" },
    /* shared address space (CGNAT), 100.64/10 edges */
    { "100.63.255.255", NULL },
    { "100.64.0.0", "100.64.0.0 is a shared (carrier-grade NAT) address" },
    { "100.127.255.255", "100.127.255.255 is a shared (carrier-grade NAT) address" },
    { "100.128.0.0", NULL },
    /* multicast */
    { "224.0.0.1", "224.0.0.1 is a multicast address" },
    { "239.255.255.255", "239.255.255.255 is a multicast address" },
    { "ff02::1", "ff02::1 is a multicast address" },
    { "ff0e::101", "ff0e::101 is a multicast address" },
    /* unspecified, "this network", broadcast, reserved */
    { "0.0.0.0", "0.0.0.0 is the unspecified address" },
    { "::", ":: is the unspecified address" },
    { "[::]", ":: is the unspecified address" },
    { "0.1.2.3", "0.1.2.3 is a \"this network\" address" },
    { "0.255.255.255", "0.255.255.255 is a \"this network\" address" },
    { "255.255.255.255", "255.255.255.255 is the broadcast address" },
    { "240.0.0.1", "240.0.0.1 is a reserved address" },
    { "255.255.255.254", "255.255.255.254 is a reserved address" },
    { "223.255.255.255", NULL },
    /* IPv6 outside global unicast 2000::/3 */
    { "100::1", "100::1 is a reserved address" },
    { "1fff:ffff::1", "1fff:ffff::1 is a reserved address" },
    { "2000::1", NULL },
    { "4000::1", "4000::1 is a reserved address" },
    { "8000::1", "8000::1 is a reserved address" },
    { "64:ff9b:1::a00:1", "64:ff9b:1::a00:1 is a reserved address" },
    /* documentation, benchmarking, IETF, 6to4 relay */
    { "192.0.2.1", "192.0.2.1 is a documentation address" },
    { "198.51.100.7", "198.51.100.7 is a documentation address" },
    { "203.0.113.5", "203.0.113.5 is a documentation address" },
    { "2001:db8::1", "2001:db8::1 is a documentation address" },
    { "3fff:fff::1", "3fff:fff::1 is a documentation address" },
    { "3fff:1000::1", NULL },
    { "192.0.3.0", NULL },
    { "198.18.0.1", "198.18.0.1 is a benchmarking address" },
    { "198.19.255.255", "198.19.255.255 is a benchmarking address" },
    { "198.17.255.255", NULL },
    { "198.20.0.0", NULL },
    { "192.0.0.8", "192.0.0.8 is an IETF protocol assignment address" },
    { "2001::1", "2001::1 is an IETF protocol assignment address" },
    { "2001:1ff:ffff::1", "2001:1ff:ffff::1 is an IETF protocol assignment address" },
    { "2001:200::1", NULL },
    { "192.88.99.1", "192.88.99.1 is a 6to4 relay anycast address" },
    /* cloud metadata (named before the broader range they lie in) */
    { "169.254.169.254", "169.254.169.254 is a cloud metadata address" },
    { "169.254.170.2", "169.254.170.2 is a cloud metadata address" },
    { "100.100.100.200", "100.100.100.200 is a cloud metadata address" },
    { "192.0.0.192", "192.0.0.192 is a cloud metadata address" },
    { "fd00:ec2::254", "fd00:ec2::254 is a cloud metadata address" },
    { "fd00:ec2::253", "fd00:ec2::253 is a private address" },
    /* IPv4-mapped: judged as the IPv4 address */
    { "::ffff:127.0.0.1", "::ffff:127.0.0.1 embeds 127.0.0.1, a loopback address" },
    { "[::ffff:127.0.0.1]", "::ffff:127.0.0.1 embeds 127.0.0.1, a loopback address" },
    { "::ffff:7f00:1", "::ffff:127.0.0.1 embeds 127.0.0.1, a loopback address" },
    { "::FFFF:10.0.0.1", "::ffff:10.0.0.1 embeds 10.0.0.1, a private address" },
    { "::ffff:169.254.169.254",
      "::ffff:169.254.169.254 embeds 169.254.169.254, a cloud metadata address" },
    { "::ffff:0.0.0.0", "::ffff:0.0.0.0 embeds 0.0.0.0, the unspecified address" },
    { "::ffff:93.184.216.34", NULL },
    /* IPv4-compatible */
    { "::127.0.0.1", "::127.0.0.1 embeds 127.0.0.1, a loopback address" },
    { "::10.0.0.1", "::10.0.0.1 embeds 10.0.0.1, a private address" },
    { "::2", "::2 embeds 0.0.0.2, a \"this network\" address" },
    { "::93.184.216.34", NULL },
    /* NAT64 */
    { "64:ff9b::7f00:1", "64:ff9b::7f00:1 embeds 127.0.0.1, a loopback address" },
    { "64:ff9b::10.0.0.1", "64:ff9b::a00:1 embeds 10.0.0.1, a private address" },
    { "64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe embeds 169.254.169.254, a cloud metadata "
                            "address" },
    { "64:ff9b::5db8:d822", NULL },
    /* 6to4 */
    { "2002:7f00:1::", "2002:7f00:1:: embeds 127.0.0.1, a loopback address" },
    { "2002:c0a8:101::1", "2002:c0a8:101::1 embeds 192.168.1.1, a private address" },
    { "2002:5db8:d822::1", NULL },
    /* public */
    { "93.184.216.34", NULL },
    { "8.8.8.8", NULL },
    { "1.1.1.1", NULL },
    { "9.255.255.255", NULL },
    { "11.0.0.0", NULL },
    { "169.253.255.255", NULL },
    { "169.255.0.0", NULL },
    { "192.167.255.255", NULL },
    { "192.169.0.0", NULL },
    { "2606:4700::1", NULL },
    { "[2606:4700::1]", NULL },
    { "2001:4860:4860::8888", NULL },
    { "2a00:1450:4001::1", NULL },
};

/** Strings that are not literal addresses for pk_netpolicy_check_literal(). */
static const char *const not_literal[] = {
    "", "banana", "localhost", "/etc/passwd", "127.1", "0x7f.1", "2130706433",
    "0177.0.0.1", "010.0.0.1", "256.0.0.1", "1.2.3.4.5", "1.2.3", " 127.0.0.1",
    "127.0.0.1 ", "127.0.0.1\n", "[127.0.0.1]", "fe80::1%lo", "[fe80::1%25lo]", "[::1",
    "::1]", "[]", "[", "]", "10.0.0.0/8", "1.2.3.4:80", "[::1]:80", ":::1", "1::2::3",
    "::ffff:1.2.3.4.5", "::g", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
};

/** Rule strings refused by allow and deny, with the expected why (NULL: any). */
typedef struct {
    const char *cidr;
    const char *why;
} bad_rule_t;

#define BAD_ADDR(s) "\"" s "\" is not an IP address or range " \
                    "(like 10.0.0.0/8, 192.0.2.1 or fd00::/8)"
#define BAD_BITS4(s) "\"" s "\" has a bad prefix length (it must be a number from 0 to 32)"
#define BAD_BITS6(s) "\"" s "\" has a bad prefix length (it must be a number from 0 to 128)"

static const bad_rule_t bad_rules[] = {
    { "", "an empty string is not an IP address or range" },
    { "banana", BAD_ADDR("banana") },
    { "banana/8", BAD_ADDR("banana/8") },
    { "10.0.0.0/33", BAD_BITS4("10.0.0.0/33") },
    { "1.2.3.4/-1", BAD_BITS4("1.2.3.4/-1") },
    { "1.2.3.4/", BAD_BITS4("1.2.3.4/") },
    { "1.2.3.4/8/8", BAD_BITS4("1.2.3.4/8/8") },
    { "1.2.3.4/+8", BAD_BITS4("1.2.3.4/+8") },
    { "1.2.3.4/ 8", BAD_BITS4("1.2.3.4/ 8") },
    { "1.2.3.4/8 ", BAD_BITS4("1.2.3.4/8 ") },
    { "1.2.3.4/0x8", BAD_BITS4("1.2.3.4/0x8") },
    { "1.2.3.4/0008", BAD_BITS4("1.2.3.4/0008") },
    { "1.2.3.4/255.0.0.0", BAD_BITS4("1.2.3.4/255.0.0.0") },
    { "1.2.3.4/99999999999999999999", BAD_BITS4("1.2.3.4/99999999999999999999") },
    { "::1/129", BAD_BITS6("::1/129") },
    { "::1/", BAD_BITS6("::1/") },
    { "/8", BAD_ADDR("/8") },
    { "10", BAD_ADDR("10") },
    { "10/8", BAD_ADDR("10/8") },
    { "192.168", BAD_ADDR("192.168") },
    { "192.168/16", BAD_ADDR("192.168/16") },
    { "127.1", BAD_ADDR("127.1") },
    { "010.0.0.0/8", BAD_ADDR("010.0.0.0/8") },
    { "256.0.0.0/8", BAD_ADDR("256.0.0.0/8") },
    { " 10.0.0.0/8", BAD_ADDR(" 10.0.0.0/8") },
    { "[10.0.0.0]/8", BAD_ADDR("[10.0.0.0]/8") },
    { "fe80::1%eth0", BAD_ADDR("fe80::1%eth0") },
    { "fe80::/10%eth0", BAD_BITS6("fe80::/10%eth0") },
    { "[::1", BAD_ADDR("[::1") },
    { "localhost", BAD_ADDR("localhost") },
    { "*", BAD_ADDR("*") },
    { "all", BAD_ADDR("all") },
};

/** Allow rules refused because they name only IPv4-embedding IPv6 addresses. */
static const char *const embedding_allows[] = {
    "64:ff9b::a00:1", "64:ff9b::/96", "64:ff9b::10.0.0.0/104", "::10.0.0.1",
    "::127.0.0.0/104", "2002::/16", "2002:a00::/24", "2002:7f00:1::1",
};

/** s with bytes outside printable ASCII as \xNN (from p), for test names. */
static const char *printable(apr_pool_t *p, const char *s)
{
    char *res = apr_palloc(p, 4 * strlen(s) + 1), *d = res;

    for (; *s; ++s) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f || c == '#' || c == '\\')
            d += sprintf(d, "\\x%02x", c);
        else
            *d++ = (char)c;
    }
    *d = '\0';
    return res;
}

/** The verdict of np on addr: NULL if allowed, else why; "EINVAL" if not a literal. */
static const char *verdict(const pk_netpolicy *np, apr_pool_t *p, const char *addr)
{
    int allowed = -1;
    const char *why = "unset";
    apr_status_t rv = pk_netpolicy_check_literal(np, addr, p, &allowed, &why);

    if (rv == APR_EINVAL)
        return "EINVAL";
    if (rv != APR_SUCCESS)
        return apr_psprintf(p, "rv %d", rv);
    if (allowed == 1 && why == NULL)
        return NULL;
    if (allowed == 0 && why != NULL)
        return why;
    return apr_psprintf(p, "inconsistent: allowed %d, why %s", allowed, why ? why : "NULL");
}

/** Check that addr gets why (NULL: allowed) from np. */
static void expect(const pk_netpolicy *np, apr_pool_t *p, const char *addr, const char *why,
                   const char *what)
{
    PK_TEST_STR(verdict(np, p, addr), why, apr_psprintf(p, "%s: %s", what, addr));
}

static pk_netpolicy *policy(apr_pool_t *p)
{
    pk_netpolicy *np = NULL;

    PK_TEST_INT(pk_netpolicy_create(p, &np), APR_SUCCESS, "create a policy");
    return np;
}

/** Add a rule that must be accepted. */
static void rule(pk_netpolicy *np, apr_pool_t *p, int allow, const char *cidr)
{
    const char *why = "unset";
    apr_status_t rv = allow ? pk_netpolicy_allow(np, cidr, &why)
                            : pk_netpolicy_deny(np, cidr, &why);

    PK_TEST_OK(rv == APR_SUCCESS && why == NULL,
               apr_psprintf(p, "%s %s accepted", allow ? "allow" : "deny", cidr));
}

static void test_defaults(apr_pool_t *p)
{
    pk_netpolicy *np = policy(p);
    apr_size_t i;

    for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); ++i)
        expect(np, p, defaults[i].addr, defaults[i].why, "default");
}

static void test_not_literal(apr_pool_t *p)
{
    pk_netpolicy *np = policy(p);
    apr_size_t i;
    int allowed = -1;
    const char *why = NULL;

    for (i = 0; i < sizeof(not_literal) / sizeof(not_literal[0]); ++i) {
        const char *name = printable(p, not_literal[i]);
        const char *want = apr_psprintf(p, "\"%s\" is not a literal IP address",
                                        not_literal[i]);
        apr_status_t rv;

        allowed = -1;
        why = NULL;
        rv = pk_netpolicy_check_literal(np, not_literal[i], p, &allowed, &why);
        PK_TEST_OK(rv == APR_EINVAL && allowed == 0 && why && !strcmp(why, want),
                   apr_psprintf(p, "not a literal: \"%s\"", name));
    }
    allowed = -1;
    PK_TEST_INT(pk_netpolicy_check_literal(np, NULL, p, &allowed, &why), APR_EINVAL,
                "NULL is not a literal");
    PK_TEST_STR(why, "no address given", "why for NULL");
    PK_TEST_INT(allowed, 0, "NULL is not allowed");
}

static void test_sockaddr(apr_pool_t *p)
{
    pk_netpolicy *np = policy(p);
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr_un sun;
    const char *why = NULL;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(80);
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    PK_TEST_INT(pk_netpolicy_check(np, (struct sockaddr *)&sin, p, &why), 0,
                "sockaddr_in 127.0.0.1:80 refused");
    PK_TEST_STR(why, "127.0.0.1 is a loopback address", "why for sockaddr_in");
    inet_pton(AF_INET, "93.184.216.34", &sin.sin_addr);
    PK_TEST_INT(pk_netpolicy_check(np, (struct sockaddr *)&sin, p, &why), 1,
                "sockaddr_in 93.184.216.34:80 allowed");
    PK_TEST_STR(why, NULL, "no why when allowed");

    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(443);
    sin6.sin6_scope_id = 1;
    inet_pton(AF_INET6, "fe80::1", &sin6.sin6_addr);
    PK_TEST_INT(pk_netpolicy_check(np, (struct sockaddr *)&sin6, p, &why), 0,
                "sockaddr_in6 [fe80::1%1]:443 refused");
    PK_TEST_STR(why, "fe80::1 is a link-local address", "why for sockaddr_in6");
    inet_pton(AF_INET6, "::ffff:10.9.8.7", &sin6.sin6_addr);
    PK_TEST_INT(pk_netpolicy_check(np, (struct sockaddr *)&sin6, p, &why), 0,
                "sockaddr_in6 ::ffff:10.9.8.7 refused");
    PK_TEST_STR(why, "::ffff:10.9.8.7 embeds 10.9.8.7, a private address",
                "why for mapped sockaddr_in6");

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, "/run/x.sock");
    PK_TEST_INT(pk_netpolicy_check(np, (struct sockaddr *)&sun, p, &why), 0,
                "AF_UNIX refused");
    PK_TEST_STR(why, "the address is neither IPv4 nor IPv6", "why for AF_UNIX");
    PK_TEST_INT(pk_netpolicy_check(np, NULL, p, &why), 0, "NULL sockaddr refused");
    PK_TEST_STR(why, "the address is neither IPv4 nor IPv6", "why for NULL sockaddr");
}

static void test_allow_one(apr_pool_t *p)
{
    pk_netpolicy *np = policy(p);
    const char *what = "allow 127.0.0.1/32";

    rule(np, p, 1, "127.0.0.1/32");
    expect(np, p, "127.0.0.1", NULL, what);
    expect(np, p, "127.0.0.2", "127.0.0.2 is a loopback address", what);
    expect(np, p, "127.0.0.0", "127.0.0.0 is a loopback address", what);
    expect(np, p, "::1", "::1 is a loopback address", what);
    /* IPv6 forms of 127.0.0.1 are judged as 127.0.0.1 */
    expect(np, p, "::ffff:127.0.0.1", NULL, what);
    expect(np, p, "64:ff9b::7f00:1", NULL, what);
    expect(np, p, "::ffff:127.0.0.2",
           "::ffff:127.0.0.2 embeds 127.0.0.2, a loopback address", what);
    expect(np, p, "10.0.0.1", "10.0.0.1 is a private address", what);
}

static void test_allow_forms(apr_pool_t *p)
{
    pk_netpolicy *np = policy(p);
    const char *what = "allow forms";

    rule(np, p, 1, "::1");
    rule(np, p, 1, "[fd00::]/8");
    rule(np, p, 1, "[fe80::1]");
    rule(np, p, 1, "10.1.2.3/8");          /* host bits ignored: 10.0.0.0/8 */
    rule(np, p, 1, "::ffff:192.168.0.0/112"); /* mapped: 192.168.0.0/16 */
    rule(np, p, 1, "169.254.169.254");
    rule(np, p, 1, "::/96");               /* opens :: itself, not what ::/96 embeds */
    expect(np, p, "::1", NULL, what);
    expect(np, p, "127.0.0.1", "127.0.0.1 is a loopback address", what);
    expect(np, p, "fd12::1", NULL, what);
    expect(np, p, "fd00:ec2::254", NULL, what);
    expect(np, p, "fc00::1", "fc00::1 is a private address", what);
    expect(np, p, "fe80::1", NULL, what);
    expect(np, p, "fe80::2", "fe80::2 is a link-local address", what);
    expect(np, p, "10.200.0.1", NULL, what);
    expect(np, p, "11.0.0.1", NULL, what);
    expect(np, p, "192.168.7.7", NULL, what);
    expect(np, p, "::ffff:192.168.7.7", NULL, what);
    expect(np, p, "169.254.169.254", NULL, what);
    expect(np, p, "169.254.169.253", "169.254.169.253 is a link-local address", what);
    expect(np, p, "::", NULL, what);
    expect(np, p, "::127.0.0.1", "::127.0.0.1 embeds 127.0.0.1, a loopback address", what);
}

static void test_allow_zero(apr_pool_t *p)
{
    pk_netpolicy *np = policy(p);
    const char *what = "allow 0.0.0.0/0";

    rule(np, p, 1, "0.0.0.0/0");
    expect(np, p, "127.0.0.1", NULL, what);
    expect(np, p, "169.254.169.254", NULL, what);
    expect(np, p, "::ffff:10.0.0.1", NULL, what);
    expect(np, p, "::1", "::1 is a loopback address", what);
    expect(np, p, "fe80::1", "fe80::1 is a link-local address", what);

    np = policy(p);
    what = "allow ::/0";
    rule(np, p, 1, "::/0");
    expect(np, p, "::1", NULL, what);
    expect(np, p, "fd00:ec2::254", NULL, what);
    expect(np, p, "127.0.0.1", "127.0.0.1 is a loopback address", what);
    expect(np, p, "::ffff:127.0.0.1",
           "::ffff:127.0.0.1 embeds 127.0.0.1, a loopback address", what);
    expect(np, p, "64:ff9b::7f00:1",
           "64:ff9b::7f00:1 embeds 127.0.0.1, a loopback address", what);
}

static void test_deny(apr_pool_t *p)
{
    pk_netpolicy *np = policy(p);
    const char *what = "deny beats allow";

    rule(np, p, 1, "10.0.0.0/8");
    rule(np, p, 0, "10.1.0.0/16");
    rule(np, p, 1, "192.168.1.1");
    rule(np, p, 0, "192.168.1.1");
    rule(np, p, 0, "127.0.0.1");
    rule(np, p, 1, "127.0.0.1");
    expect(np, p, "10.2.3.4", NULL, what);
    expect(np, p, "10.1.2.3", "10.1.2.3 is denied by PokettoFetchDeny", what);
    expect(np, p, "::ffff:10.1.2.3", "::ffff:10.1.2.3 is denied by PokettoFetchDeny", what);
    expect(np, p, "::ffff:10.2.3.4", NULL, what);
    expect(np, p, "192.168.1.1", "192.168.1.1 is denied by PokettoFetchDeny", what);
    expect(np, p, "192.168.1.2", "192.168.1.2 is a private address", what);
    expect(np, p, "127.0.0.1", "127.0.0.1 is denied by PokettoFetchDeny", what);

    np = policy(p);
    what = "deny a public range";
    rule(np, p, 0, "93.184.216.0/24");
    rule(np, p, 0, "2606:4700::/32");
    expect(np, p, "93.184.216.34", "93.184.216.34 is denied by PokettoFetchDeny", what);
    expect(np, p, "93.184.216.255", "93.184.216.255 is denied by PokettoFetchDeny", what);
    expect(np, p, "93.184.217.0", NULL, what);
    expect(np, p, "93.184.215.255", NULL, what);
    expect(np, p, "::ffff:93.184.216.34",
           "::ffff:93.184.216.34 is denied by PokettoFetchDeny", what);
    expect(np, p, "64:ff9b::5db8:d822", "64:ff9b::5db8:d822 is denied by PokettoFetchDeny",
           what);
    expect(np, p, "2002:5db8:d822::1", "2002:5db8:d822::1 is denied by PokettoFetchDeny",
           what);
    expect(np, p, "2606:4700::1", "2606:4700::1 is denied by PokettoFetchDeny", what);
    expect(np, p, "2606:4700:ffff::1", "2606:4700:ffff::1 is denied by PokettoFetchDeny",
           what);
    expect(np, p, "2606:4701::1", NULL, what);
    expect(np, p, "8.8.8.8", NULL, what);
    expect(np, p, "10.0.0.1", "10.0.0.1 is a private address", what);

    np = policy(p);
    what = "deny IPv6 forms";
    rule(np, p, 0, "64:ff9b::/96");
    rule(np, p, 0, "2002::/16");
    rule(np, p, 0, "::ffff:8.8.4.4");
    expect(np, p, "64:ff9b::808:808", "64:ff9b::808:808 is denied by PokettoFetchDeny",
           what);
    expect(np, p, "2002:808:808::", "2002:808:808:: is denied by PokettoFetchDeny", what);
    expect(np, p, "8.8.8.8", NULL, what);
    expect(np, p, "8.8.4.4", "8.8.4.4 is denied by PokettoFetchDeny", what);
    expect(np, p, "::ffff:8.8.8.8", NULL, what);

    np = policy(p);
    what = "deny ::/0";
    rule(np, p, 0, "::/0");
    rule(np, p, 1, "::1");
    expect(np, p, "2606:4700::1", "2606:4700::1 is denied by PokettoFetchDeny", what);
    expect(np, p, "::1", "::1 is denied by PokettoFetchDeny", what);
    expect(np, p, "64:ff9b::5db8:d822", "64:ff9b::5db8:d822 is denied by PokettoFetchDeny",
           what);
    expect(np, p, "93.184.216.34", NULL, what);
    expect(np, p, "::ffff:93.184.216.34", NULL, what); /* mapped is IPv4 on the wire */

    np = policy(p);
    what = "deny 0.0.0.0/0";
    rule(np, p, 0, "0.0.0.0/0");
    expect(np, p, "93.184.216.34", "93.184.216.34 is denied by PokettoFetchDeny", what);
    expect(np, p, "::ffff:1.1.1.1", "::ffff:1.1.1.1 is denied by PokettoFetchDeny", what);
    expect(np, p, "2606:4700::1", NULL, what);
}

static void test_bad_rules(apr_pool_t *p)
{
    pk_netpolicy *np = policy(p);
    apr_size_t i;
    const char *why;
    apr_status_t rv;
    char *long_rule;

    for (i = 0; i < sizeof(bad_rules) / sizeof(bad_rules[0]); ++i) {
        why = NULL;
        rv = pk_netpolicy_allow(np, bad_rules[i].cidr, &why);
        PK_TEST_INT(rv, APR_EINVAL,
                    apr_psprintf(p, "allow refuses \"%s\"", bad_rules[i].cidr));
        PK_TEST_STR(why, bad_rules[i].why,
                    apr_psprintf(p, "why allow refuses \"%s\"", bad_rules[i].cidr));
        why = NULL;
        rv = pk_netpolicy_deny(np, bad_rules[i].cidr, &why);
        PK_TEST_INT(rv, APR_EINVAL,
                    apr_psprintf(p, "deny refuses \"%s\"", bad_rules[i].cidr));
        PK_TEST_STR(why, bad_rules[i].why,
                    apr_psprintf(p, "why deny refuses \"%s\"", bad_rules[i].cidr));
    }
    why = NULL;
    PK_TEST_INT(pk_netpolicy_allow(np, NULL, &why), APR_EINVAL, "allow refuses NULL");
    PK_TEST_STR(why, "an empty string is not an IP address or range", "why for NULL");

    long_rule = apr_palloc(p, 5001);
    memset(long_rule, '1', 5000);
    long_rule[5000] = '\0';
    PK_TEST_INT(pk_netpolicy_deny(np, long_rule, &why), APR_EINVAL,
                "deny refuses 5000 digits");
    long_rule[1] = '/';
    PK_TEST_INT(pk_netpolicy_deny(np, long_rule, &why), APR_EINVAL,
                "deny refuses a 4998-digit prefix");
    memset(long_rule, ':', 5000);
    PK_TEST_INT(pk_netpolicy_deny(np, long_rule, &why), APR_EINVAL,
                "deny refuses 5000 colons");

    for (i = 0; i < sizeof(embedding_allows) / sizeof(embedding_allows[0]); ++i) {
        why = NULL;
        rv = pk_netpolicy_allow(np, embedding_allows[i], &why);
        PK_TEST_INT(rv, APR_EINVAL, apr_psprintf(p, "allow refuses \"%s\"",
                                                 embedding_allows[i]));
        PK_TEST_STR(why, apr_psprintf(p, "\"%s\" holds only IPv6 forms of IPv4 addresses, "
                                         "which are judged as the IPv4 address they "
                                         "embed: allow that instead", embedding_allows[i]),
                    apr_psprintf(p, "why allow refuses \"%s\"", embedding_allows[i]));
    }
    rule(np, p, 1, "2000::/3");     /* contains 6to4 but is not inside it */
    rule(np, p, 1, "64:ff9b::/95"); /* likewise for NAT64 */

    /* nothing refused above was added */
    expect(np, p, "10.0.0.1", "10.0.0.1 is a private address", "after refused rules");
    expect(np, p, "93.184.216.34", NULL, "after refused rules");
    expect(np, p, "64:ff9b::a00:1", "64:ff9b::a00:1 embeds 10.0.0.1, a private address",
           "after refused rules");
    expect(np, p, "2002:a00:1::", "2002:a00:1:: embeds 10.0.0.1, a private address",
           "after refused rules");
    /* but 2000::/3 opened the documentation range */
    expect(np, p, "2001:db8::1", NULL, "allow 2000::/3");
}

/** Work for one thread: many checks with known answers. */
typedef struct {
    const pk_netpolicy *np;
    int failures;
} thread_work_t;

static void *APR_THREAD_FUNC check_thread(apr_thread_t *t, void *data)
{
    thread_work_t *w = data;
    apr_allocator_t *alloc = NULL;
    apr_pool_t *p = NULL;
    int i, allowed;
    const char *why;

    /* a pool with its own allocator, as each httpd worker thread has */
    apr_allocator_create(&alloc);
    apr_pool_create_ex(&p, NULL, NULL, alloc);
    apr_allocator_owner_set(alloc, p);
    for (i = 0; i < 20000; ++i) {
        if (pk_netpolicy_check_literal(w->np, (i & 1) ? "::ffff:10.0.0.1" : "8.8.8.8", p,
                                       &allowed, &why) != APR_SUCCESS
            || allowed != !(i & 1))
            ++w->failures;
        if ((i & 1) && (!why || strcmp(why, "::ffff:10.0.0.1 embeds 10.0.0.1, a private "
                                            "address")))
            ++w->failures;
        if (i % 1000 == 999)
            apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static void test_threads(apr_pool_t *p)
{
    pk_netpolicy *np = policy(p);
    apr_thread_t *threads[4];
    thread_work_t work[4];
    apr_status_t rv;
    int i, started = 0, failures = 0;

    rule(np, p, 0, "203.0.113.0/24");
    for (i = 0; i < 4; ++i) {
        work[i].np = np;
        work[i].failures = 0;
        if (apr_thread_create(&threads[i], NULL, check_thread, &work[i], p) == APR_SUCCESS)
            ++started;
    }
    for (i = 0; i < started; ++i) {
        apr_thread_join(&rv, threads[i]);
        failures += work[i].failures;
    }
    PK_TEST_INT(started, 4, "4 threads started");
    PK_TEST_INT(failures, 0, "concurrent checks all give the right answer");
}

int main(void)
{
    apr_pool_t *p = NULL;
    int rc = 1;

    if (apr_app_initialize(NULL, NULL, NULL) != APR_SUCCESS)
        return 1;
    apr_pool_create(&p, NULL);
    test_defaults(p);
    test_not_literal(p);
    test_sockaddr(p);
    test_allow_one(p);
    test_allow_forms(p);
    test_allow_zero(p);
    test_deny(p);
    test_bad_rules(p);
    test_threads(p);
    rc = PK_TEST_DONE();
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
