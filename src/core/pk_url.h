/* pk_url.h - validation and canonical form of URLs users save.
 *
 * Built on libcurl's URL API. The caller must have called curl_global_init()
 * (once per process, before any thread uses these functions).
 */
#ifndef PK_URL_H
#define PK_URL_H

#include <apr_pools.h>
#include <apr_errno.h>

/** Validate a URL a user asked to save and return its canonical form.
 *  Surrounding ASCII whitespace (space, \t, \r, \n, \f, \v) is trimmed first; the
 *  length limit applies to url as given (before trimming): at most max_len bytes.
 *  Accepts only absolute "http://" or "https://" URLs (scheme case-insensitive) with a
 *  non-empty host; refuses user:password (even an empty "@"), IPv6 zone ids, and any
 *  space or control byte (0x00-0x1f, 0x7f) left after trimming.
 *  Canonical form (built by libcurl): scheme and host lower-cased, IDN host converted to
 *  punycode (UTS #46 mapping, so "BÜCHER" -> "xn--bcher-kva"), host percent-escapes
 *  decoded, default port (80/443) removed, other ports kept without leading zeros,
 *  fragment dropped, empty path -> "/", "." and ".." path segments resolved, an empty
 *  query ("?" alone) dropped; otherwise path and query are kept as given, except that
 *  non-ASCII bytes in them are percent-encoded with upper-case hex ("ä" -> "%C3%A4").
 *  The canonical form may be longer than the input (punycode, escapes, added "/").
 *  Returns APR_SUCCESS and *canon (from p), *why NULL; or APR_EINVAL, *canon NULL and
 *  *why (from p or static) a short sentence to follow "field 'url': ", one of
 *  "is longer than N bytes", "contains whitespace or control characters",
 *  "must be an absolute http or https URL", "has no host",
 *  "must not contain credentials", "is not a valid URL".
 *  APR_ENOMEM (*why NULL) only if libcurl runs out of memory.
 *  Thread-safe (IDN conversion switches the calling thread's locale with uselocale()). */
apr_status_t pk_url_canonicalize(apr_pool_t *p, const char *url, apr_size_t max_len,
                                 const char **canon, const char **why);

/** The host part of a canonical URL (from p), or NULL if canon cannot be parsed.
 *  An IPv6 host is returned in brackets, e.g. "[::1]"; no port. */
const char *pk_url_host(apr_pool_t *p, const char *canon);

#endif /* PK_URL_H */
