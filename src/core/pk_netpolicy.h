/* pk_netpolicy.h - which resolved addresses a fetch of a user-supplied URL may connect
 * to (the SSRF guard).
 *
 * A policy is built at configuration time (create, then allow/deny for each directive)
 * and is read-only afterwards: pk_netpolicy_check() may then run in many threads at
 * once. IPv6 addresses that embed an IPv4 address are judged as that IPv4 address:
 * IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96 (except :: and ::1), NAT64
 * 64:ff9b::/96 (last 32 bits) and 6to4 2002::/16 (bits 16-47). A deny rule also matches
 * the last three (IPv6 on the wire) by their IPv6 form; otherwise rules and built-in
 * refusals see only the IPv4 address.
 */
#ifndef PK_NETPOLICY_H
#define PK_NETPOLICY_H

#include <sys/socket.h>

#include <apr_pools.h>
#include <apr_errno.h>

/** An address policy (opaque). */
typedef struct pk_netpolicy pk_netpolicy;

/** Create a policy with the built-in refusals (from p, which also holds everything
 *  allow and deny add later):
 *  cloud metadata 169.254.169.254, 169.254.170.2, 100.100.100.200, 192.0.0.192,
 *  fd00:ec2::254; broadcast 255.255.255.255; unspecified 0.0.0.0, ::; loopback 127/8,
 *  ::1; "this network" 0/8; private 10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10
 *  (site-local); link-local 169.254/16, fe80::/10; shared (carrier-grade NAT) 100.64/10;
 *  multicast 224/4, ff00::/8; reserved 240/4 and all IPv6 outside global unicast
 *  2000::/3 (so also 100::/64 discard, 64:ff9b:1::/48 local NAT64); IETF protocol
 *  assignments 192.0.0/24, 2001::/23 (so also Teredo 2001::/32); 6to4 relay anycast
 *  192.88.99/24; benchmarking 198.18/15; documentation 192.0.2/24, 198.51.100/24,
 *  203.0.113/24, 2001:db8::/32, 3fff::/20. Everything else is allowed.
 *  Returns APR_SUCCESS and *np, or an APR error (*np NULL). */
apr_status_t pk_netpolicy_create(apr_pool_t *p, pk_netpolicy **np);

/** Open a range (PokettoFetchAllow): "ADDR" (one address) or "ADDR/BITS", ADDR a strict
 *  IPv4 dotted quad (no leading zeros, no short forms like "10" or "127.1") or an IPv6
 *  address, optionally in brackets; BITS 0-32 or 0-128, digits only. Host bits past
 *  BITS are ignored ("10.1.2.3/8" is 10.0.0.0/8). An IPv4-mapped range is taken as the
 *  IPv4 range it maps ("::ffff:10.0.0.0/104" is 10.0.0.0/8). A range lying wholly in
 *  the other IPv4-embedding prefixes (NAT64, IPv4-compatible, 6to4) is refused, since
 *  those addresses are judged as their IPv4: allow that IPv4 instead.
 *  Returns APR_SUCCESS (*why NULL) or APR_EINVAL with *why (from the policy's pool) a
 *  sentence quoting cidr. Not thread-safe: configuration time only. */
apr_status_t pk_netpolicy_allow(pk_netpolicy *np, const char *cidr, const char **why);

/** Close a range (PokettoFetchDeny), even one allow opened or the built-ins let through.
 *  Same syntax and results as pk_netpolicy_allow(), except that embedding ranges are
 *  accepted (a deny of "64:ff9b::/96" refuses all NAT64 addresses). */
apr_status_t pk_netpolicy_deny(pk_netpolicy *np, const char *cidr, const char **why);

/** May a fetch connect to the resolved address sa (a whole sockaddr_in or sockaddr_in6,
 *  as libcurl's CURLOPT_OPENSOCKETFUNCTION gets it; port and scope id are ignored)?
 *  An admin deny wins over everything; then an admin allow opens; then the built-in
 *  refusals close; anything else is allowed. Returns 1 (*why NULL) or 0 with *why (from
 *  p or static; p is not touched when the address is allowed) a sentence for a user:
 *  "127.0.0.2 is a loopback address", "169.254.169.254 is a cloud metadata address",
 *  "::ffff:10.0.0.1 embeds 10.0.0.1, a private address",
 *  "203.0.113.5 is denied by PokettoFetchDeny". Any other family (or sa NULL) is
 *  refused. Cheap, thread-safe, and reads np only. */
int pk_netpolicy_check(const pk_netpolicy *np, const struct sockaddr *sa, apr_pool_t *p,
                       const char **why);

/** pk_netpolicy_check() on a literal address: a strict IPv4 dotted quad or an IPv6
 *  address, optionally in brackets ("127.0.0.2", "::1", "[::ffff:127.0.0.1]"); no
 *  zone id, no surrounding space; never a name lookup.
 *  Returns APR_SUCCESS with *allowed and *why as pk_netpolicy_check() gives them, or
 *  APR_EINVAL (*allowed 0, *why from p) if addr is not such a literal. */
apr_status_t pk_netpolicy_check_literal(const pk_netpolicy *np, const char *addr,
                                        apr_pool_t *p, int *allowed, const char **why);

#endif /* PK_NETPOLICY_H */
