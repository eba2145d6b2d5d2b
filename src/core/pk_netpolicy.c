/* pk_netpolicy.c - the SSRF guard: which resolved addresses a fetch may connect to
 * (see pk_netpolicy.h).
 *
 * Ranges are matched with apr_ipsubnet_create()/apr_ipsubnet_test(). Literal addresses
 * are parsed with inet_pton() rather than apr_sockaddr_info_get(), which would look up
 * anything that is not a literal in DNS (and turns "/path" into a Unix socket address),
 * accepts inet_aton() forms ("127.1", "0x7f.1", "2130706433") and has no numeric-only
 * flag. Rule addresses also go through inet_pton() first: APR's own parser reads
 * "010.0.0.1" as 10.0.0.1 (where resolvers read 8.0.0.1), takes "10" or "192.168" as
 * networks when no mask is given, refuses a prefix length of 0 and refuses IPv4-mapped
 * ranges before applying the mask.
 */

#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <apr_network_io.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "pk_netpolicy.h"

#define PK_NP_METADATA   "a cloud metadata address"
#define PK_NP_BROADCAST  "the broadcast address"
#define PK_NP_UNSPEC     "the unspecified address"
#define PK_NP_LOOPBACK   "a loopback address"
#define PK_NP_THIS_NET   "a \"this network\" address"
#define PK_NP_PRIVATE    "a private address"
#define PK_NP_LINK_LOCAL "a link-local address"
#define PK_NP_SHARED     "a shared (carrier-grade NAT) address"
#define PK_NP_MULTICAST  "a multicast address"
#define PK_NP_RESERVED   "a reserved address"
#define PK_NP_IETF       "an IETF protocol assignment address"
#define PK_NP_6TO4_RELAY "a 6to4 relay anycast address"
#define PK_NP_BENCHMARK  "a benchmarking address"
#define PK_NP_DOC        "a documentation address"

/* What an IPv6 address embeds (pk_np_embedded_v4). */
#define PK_NP_PLAIN  0 /* no IPv4 address */
#define PK_NP_MAPPED 1 /* ::ffff:a.b.c.d, IPv4 on the wire */
#define PK_NP_EMBEDS 2 /* IPv4-compatible, NAT64 or 6to4: IPv6 on the wire */

/** One built-in refusal: a range and what its addresses are (a noun phrase). */
typedef struct {
    const char *ip;
    const char *bits;
    const char *what;
} pk_np_builtin_def;

/* Most specific first: the first match names the address. */
static const pk_np_builtin_def pk_np_builtin_defs[] = {
    { "169.254.169.254", "32", PK_NP_METADATA },  /* AWS, GCP, Azure, OpenStack, ... */
    { "169.254.170.2", "32", PK_NP_METADATA },    /* AWS ECS task credentials */
    { "100.100.100.200", "32", PK_NP_METADATA },  /* Alibaba Cloud */
    { "192.0.0.192", "32", PK_NP_METADATA },      /* Oracle Cloud */
    { "fd00:ec2::254", "128", PK_NP_METADATA },   /* AWS over IPv6 */
    { "255.255.255.255", "32", PK_NP_BROADCAST },
    { "0.0.0.0", "32", PK_NP_UNSPEC },
    { "::", "128", PK_NP_UNSPEC },
    { "127.0.0.0", "8", PK_NP_LOOPBACK },
    { "::1", "128", PK_NP_LOOPBACK },
    { "0.0.0.0", "8", PK_NP_THIS_NET },
    { "10.0.0.0", "8", PK_NP_PRIVATE },
    { "172.16.0.0", "12", PK_NP_PRIVATE },
    { "192.168.0.0", "16", PK_NP_PRIVATE },
    { "fc00::", "7", PK_NP_PRIVATE },
    { "fec0::", "10", PK_NP_PRIVATE },            /* deprecated site-local */
    { "169.254.0.0", "16", PK_NP_LINK_LOCAL },
    { "fe80::", "10", PK_NP_LINK_LOCAL },
    { "100.64.0.0", "10", PK_NP_SHARED },
    { "224.0.0.0", "4", PK_NP_MULTICAST },
    { "ff00::", "8", PK_NP_MULTICAST },
    { "240.0.0.0", "4", PK_NP_RESERVED },
    { "192.0.0.0", "24", PK_NP_IETF },
    { "192.88.99.0", "24", PK_NP_6TO4_RELAY },
    { "198.18.0.0", "15", PK_NP_BENCHMARK },
    { "192.0.2.0", "24", PK_NP_DOC },
    { "198.51.100.0", "24", PK_NP_DOC },
    { "203.0.113.0", "24", PK_NP_DOC },
    { "2001:db8::", "32", PK_NP_DOC },
    { "3fff::", "20", PK_NP_DOC },                /* RFC 9637 */
    { "2001::", "23", PK_NP_IETF },               /* includes Teredo 2001::/32 */
    { "::", "3", PK_NP_RESERVED },                /* IPv6 outside global unicast */
    { "4000::", "2", PK_NP_RESERVED },            /* 2000::/3 (after the ranges above) */
    { "8000::", "1", PK_NP_RESERVED },
};

#define PK_NP_NBUILTIN ((int)(sizeof(pk_np_builtin_defs) / sizeof(pk_np_builtin_defs[0])))

/** A built-in refusal, ready to test. */
typedef struct {
    apr_ipsubnet_t *sub;
    const char *what;
} pk_np_builtin;

/** An admin rule. */
typedef struct {
    apr_ipsubnet_t *sub; /* NULL for a /0 rule (APR refuses 0 bits) */
    int family;          /* AF_INET or AF_INET6 */
} pk_np_rule;

struct pk_netpolicy {
    apr_pool_t *pool;
    apr_array_header_t *allow; /* of pk_np_rule */
    apr_array_header_t *deny;  /* of pk_np_rule */
    pk_np_builtin builtin[PK_NP_NBUILTIN];
};

/** Parse s[0..n) as a strict IPv4 dotted quad or an IPv6 address (optionally in
 *  brackets) into *family and a (4 or 16 bytes, network order). Returns 1 or 0. */
static int pk_np_parse_addr(const char *s, apr_size_t n, int *family, unsigned char *a)
{
    char buf[INET6_ADDRSTRLEN];
    int res = 0, bracketed = 0;

    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        ++s;
        n -= 2;
        bracketed = 1;
    }
    if (n > 0 && n < sizeof(buf)) {
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (memchr(buf, ':', n)) {
            *family = AF_INET6;
            res = inet_pton(AF_INET6, buf, a) == 1;
        }
        else if (!bracketed) {
            *family = AF_INET;
            res = inet_pton(AF_INET, buf, a) == 1;
        }
    }
    return res;
}

/** Parse a prefix length: 1 to 3 digits, value at most max. Returns 1 or 0. */
static int pk_np_parse_bits(const char *s, int max, int *bits)
{
    int n = 0, v = 0, res = 0;

    while (n < 4 && s[n] >= '0' && s[n] <= '9') {
        v = v * 10 + (s[n] - '0');
        ++n;
    }
    if (n >= 1 && n <= 3 && s[n] == '\0' && v <= max) {
        *bits = v;
        res = 1;
    }
    return res;
}

/** Clear the bits of a (len bytes) past the first bits. */
static void pk_np_mask(unsigned char *a, int len, int bits)
{
    int i;

    for (i = 0; i < len; ++i) {
        if (bits >= 8)
            bits -= 8;
        else {
            a[i] &= (unsigned char)(0xff << (8 - bits));
            bits = 0;
        }
    }
}

/** What the IPv6 address a embeds: PK_NP_PLAIN, or PK_NP_MAPPED or PK_NP_EMBEDS with
 *  the IPv4 address in v4 (4 bytes). :: and ::1 are plain. */
static int pk_np_embedded_v4(const unsigned char *a, unsigned char *v4)
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
    static const unsigned char zero[12] = { 0 };
    int res = PK_NP_PLAIN;

    if (!memcmp(a, mapped, 12)) {
        memcpy(v4, a + 12, 4);
        res = PK_NP_MAPPED;
    }
    else if (!memcmp(a, nat64, 12)
             || (!memcmp(a, zero, 12) && (a[12] || a[13] || a[14] || a[15] > 1))) {
        memcpy(v4, a + 12, 4);
        res = PK_NP_EMBEDS;
    }
    else if (a[0] == 0x20 && a[1] == 0x02) {
        memcpy(v4, a + 2, 4);
        res = PK_NP_EMBEDS;
    }
    return res;
}

/** Fill sa (no pool, no name, port 0) with the address a of family, as
 *  apr_ipsubnet_test() needs it. */
static void pk_np_sockaddr(apr_sockaddr_t *sa, int family, const unsigned char *a)
{
    memset(sa, 0, sizeof(*sa));
    sa->family = family;
    if (family == AF_INET) {
        sa->sa.sin.sin_family = AF_INET;
        memcpy(&sa->sa.sin.sin_addr, a, 4);
        sa->salen = sizeof(struct sockaddr_in);
        sa->ipaddr_ptr = &sa->sa.sin.sin_addr;
        sa->ipaddr_len = sizeof(struct in_addr);
        sa->addr_str_len = INET_ADDRSTRLEN;
    }
    else {
        sa->sa.sin6.sin6_family = AF_INET6;
        memcpy(&sa->sa.sin6.sin6_addr, a, 16);
        sa->salen = sizeof(struct sockaddr_in6);
        sa->ipaddr_ptr = &sa->sa.sin6.sin6_addr;
        sa->ipaddr_len = sizeof(struct in6_addr);
        sa->addr_str_len = INET6_ADDRSTRLEN;
    }
}

/** Whether any of rules matches sa. */
static int pk_np_rules_match(const apr_array_header_t *rules, apr_sockaddr_t *sa)
{
    const pk_np_rule *r = (const pk_np_rule *)rules->elts;
    int i, res = 0;

    for (i = 0; i < rules->nelts && !res; ++i)
        res = r[i].sub ? apr_ipsubnet_test(r[i].sub, sa) : r[i].family == sa->family;
    return res;
}

/** Add the rule cidr to np's allow (allow 1) or deny list. */
static apr_status_t pk_np_add(pk_netpolicy *np, const char *cidr, int allow,
                              const char **why)
{
    apr_status_t rv = APR_EINVAL;
    const char *slash;
    apr_size_t alen;
    int family = AF_INET, bits, max;
    unsigned char a[16], v4[4];
    char text[INET6_ADDRSTRLEN];
    pk_np_rule rule;

    *why = NULL;
    if (!cidr || !*cidr) {
        *why = "an empty string is not an IP address or range";
        goto leave;
    }
    slash = strchr(cidr, '/');
    alen = slash ? (apr_size_t)(slash - cidr) : strlen(cidr);
    if (!pk_np_parse_addr(cidr, alen, &family, a)) {
        *why = apr_psprintf(np->pool, "\"%s\" is not an IP address or range "
                            "(like 10.0.0.0/8, 192.0.2.1 or fd00::/8)", cidr);
        goto leave;
    }
    max = family == AF_INET ? 32 : 128;
    bits = max;
    if (slash && !pk_np_parse_bits(slash + 1, max, &bits)) {
        *why = apr_psprintf(np->pool, "\"%s\" has a bad prefix length "
                            "(it must be a number from 0 to %d)", cidr, max);
        goto leave;
    }
    pk_np_mask(a, family == AF_INET ? 4 : 16, bits);
    if (family == AF_INET6) {
        switch (pk_np_embedded_v4(a, v4)) {
        case PK_NP_MAPPED: /* masked, so bits >= 96 */
            family = AF_INET;
            memcpy(a, v4, 4);
            bits -= 96;
            break;
        case PK_NP_EMBEDS:
            if (allow && bits >= (a[0] == 0x20 ? 16 : 96)) {
                *why = apr_psprintf(np->pool, "\"%s\" holds only IPv6 forms of IPv4 "
                                    "addresses, which are judged as the IPv4 address "
                                    "they embed: allow that instead", cidr);
                goto leave;
            }
            break;
        default:
            break;
        }
    }
    rule.family = family;
    rule.sub = NULL;
    if (bits > 0) {
        if (!inet_ntop(family, a, text, sizeof(text))
            || APR_SUCCESS != apr_ipsubnet_create(&rule.sub, text,
                                                  apr_itoa(np->pool, bits), np->pool)) {
            *why = apr_psprintf(np->pool, "\"%s\" is not an IP address or range", cidr);
            goto leave;
        }
    }
    *(pk_np_rule *)apr_array_push(allow ? np->allow : np->deny) = rule;
    rv = APR_SUCCESS;
leave:
    return rv;
}

apr_status_t pk_netpolicy_create(apr_pool_t *p, pk_netpolicy **np)
{
    apr_status_t rv = APR_SUCCESS;
    pk_netpolicy *res = apr_pcalloc(p, sizeof(*res));
    int i;

    *np = NULL;
    res->pool = p;
    res->allow = apr_array_make(p, 4, sizeof(pk_np_rule));
    res->deny = apr_array_make(p, 4, sizeof(pk_np_rule));
    for (i = 0; i < PK_NP_NBUILTIN; ++i) {
        if (APR_SUCCESS != (rv = apr_ipsubnet_create(&res->builtin[i].sub,
                                                     pk_np_builtin_defs[i].ip,
                                                     pk_np_builtin_defs[i].bits, p))) {
            goto leave;
        }
        res->builtin[i].what = pk_np_builtin_defs[i].what;
    }
    *np = res;
leave:
    return rv;
}

apr_status_t pk_netpolicy_allow(pk_netpolicy *np, const char *cidr, const char **why)
{
    return pk_np_add(np, cidr, 1, why);
}

apr_status_t pk_netpolicy_deny(pk_netpolicy *np, const char *cidr, const char **why)
{
    return pk_np_add(np, cidr, 0, why);
}

int pk_netpolicy_check(const pk_netpolicy *np, const struct sockaddr *sa, apr_pool_t *p,
                       const char **why)
{
    apr_sockaddr_t raw, v4;
    apr_sockaddr_t *judged = &raw;
    unsigned char a[16], e[4];
    char text[INET6_ADDRSTRLEN], etext[INET_ADDRSTRLEN];
    const char *what = NULL;
    int kind = PK_NP_PLAIN, res = 0, i;

    *why = NULL;
    if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) {
        *why = "the address is neither IPv4 nor IPv6";
        goto leave;
    }
    if (sa->sa_family == AF_INET)
        memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    else
        memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    pk_np_sockaddr(&raw, sa->sa_family, a);
    if (sa->sa_family == AF_INET6 && PK_NP_PLAIN != (kind = pk_np_embedded_v4(a, e))) {
        pk_np_sockaddr(&v4, AF_INET, e);
        judged = &v4;
    }

    if (pk_np_rules_match(np->deny, judged)
        || (kind == PK_NP_EMBEDS && pk_np_rules_match(np->deny, &raw))) {
        inet_ntop(sa->sa_family, a, text, sizeof(text));
        *why = apr_psprintf(p, "%s is denied by PokettoFetchDeny", text);
        goto leave;
    }
    if (pk_np_rules_match(np->allow, judged)) {
        res = 1;
        goto leave;
    }
    for (i = 0; i < PK_NP_NBUILTIN && !what; ++i) {
        if (apr_ipsubnet_test(np->builtin[i].sub, judged))
            what = np->builtin[i].what;
    }
    if (!what) {
        res = 1;
        goto leave;
    }
    inet_ntop(sa->sa_family, a, text, sizeof(text));
    if (judged == &raw) {
        *why = apr_psprintf(p, "%s is %s", text, what);
    }
    else {
        inet_ntop(AF_INET, e, etext, sizeof(etext));
        *why = apr_psprintf(p, "%s embeds %s, %s", text, etext, what);
    }
leave:
    return res;
}

apr_status_t pk_netpolicy_check_literal(const pk_netpolicy *np, const char *addr,
                                        apr_pool_t *p, int *allowed, const char **why)
{
    apr_status_t rv = APR_EINVAL;
    union {
        struct sockaddr sa;
        struct sockaddr_in sin;
        struct sockaddr_in6 sin6;
    } u;
    unsigned char a[16];
    int family = AF_INET;

    *allowed = 0;
    *why = NULL;
    if (!addr || !pk_np_parse_addr(addr, strlen(addr), &family, a)) {
        *why = addr ? apr_psprintf(p, "\"%s\" is not a literal IP address", addr)
                    : "no address given";
        goto leave;
    }
    memset(&u, 0, sizeof(u));
    if (family == AF_INET) {
        u.sin.sin_family = AF_INET;
        memcpy(&u.sin.sin_addr, a, 4);
    }
    else {
        u.sin6.sin6_family = AF_INET6;
        memcpy(&u.sin6.sin6_addr, a, 16);
    }
    *allowed = pk_netpolicy_check(np, &u.sa, p, why);
    rv = APR_SUCCESS;
leave:
    return rv;
}
