/* pk_charset.h - decode fetched HTML bytes to UTF-8.
 *
 * The HTML parser is always run on UTF-8 (libxml2 left to guess falls back to
 * Latin-1 and garbles pages that declare nothing). This module decides which
 * encoding a page is in, the way browsers do, and converts it with apr_xlate
 * (apr-util's iconv wrapper). Every function is thread-safe and allocates from
 * the caller's pool only.
 */
#ifndef PK_CHARSET_H
#define PK_CHARSET_H

#include <apr_pools.h>
#include <apr_errno.h>

/** How many leading bytes pk_charset_sniff_meta() examines. */
#define PK_CHARSET_PRESCAN_BYTES 4096

/** Convert the bytes of an HTML page to UTF-8.
 *
 *  The encoding is chosen in this order (first that applies):
 *   1. a byte order mark: EF BB BF (UTF-8), FF FE (UTF-16LE), FE FF (UTF-16BE);
 *      the BOM itself is not copied to *out;
 *   2. http_charset, the charset parameter of the Content-Type header (may be NULL);
 *   3. a <meta charset=...> or <meta http-equiv="Content-Type" content="...charset=...">
 *      found by pk_charset_sniff_meta() in the first PK_CHARSET_PRESCAN_BYTES bytes
 *      (a meta declaring UTF-16 means UTF-8, as in HTML5);
 *   4. UTF-8.
 *  Labels are mapped as browsers map them (WHATWG Encoding Standard, see
 *  pk_charset_canonical()): "latin1", "iso-8859-1" and "us-ascii" mean windows-1252,
 *  "utf8" UTF-8, "sjis" Shift_JIS, and so on.
 *  One exception to the order: when 2. or 3. name a single-byte legacy encoding
 *  (windows-125x, ISO-8859-x, KOI8, IBM866, macintosh) but the bytes are valid UTF-8 and
 *  contain at least one multi-byte sequence, they are taken as UTF-8 (a mislabelled page;
 *  genuine legacy text is practically never valid multi-byte UTF-8).
 *
 *  Output: *out (from p, NUL-terminated) and *out_len are valid UTF-8 without NUL bytes:
 *  every invalid or truncated sequence (in UTF-8 input, or a byte the source encoding
 *  does not define) becomes U+FFFD; NUL bytes are dropped. *charset_used (static string)
 *  is the canonical name of the encoding used ("UTF-8", "windows-1252", "Shift_JIS"...),
 *  or, when the declared encoding is unknown to iconv, "UTF-8 (unsupported: LABEL)" with
 *  LABEL the canonical name or "unknown" - the bytes were then decoded as UTF-8.
 *  Any of out_len and charset_used may be NULL.
 *
 *  Returns APR_SUCCESS, or APR_EINVAL if bytes is NULL while len > 0 or out is NULL. */
apr_status_t pk_charset_to_utf8(apr_pool_t *p, const char *bytes, apr_size_t len,
                                const char *http_charset, const char **out,
                                apr_size_t *out_len, const char **charset_used);

/** The canonical (WHATWG) name of an encoding label, e.g. " Latin1 " ->
 *  "windows-1252", "UTF8" -> "UTF-8", "x-sjis" -> "Shift_JIS"; surrounding
 *  whitespace and case are ignored. NULL for a label the table does not know
 *  (or for NULL). The result is a static string. */
const char *pk_charset_canonical(const char *label);

/** The encoding declared by a <meta> in the first PK_CHARSET_PRESCAN_BYTES bytes of
 *  an HTML page (HTML5 "prescan" rules: comments and other tags are skipped, attribute
 *  values may be quoted or not), as the raw label copied into p, or NULL if none. */
const char *pk_charset_sniff_meta(apr_pool_t *p, const char *bytes, apr_size_t len);

#endif /* PK_CHARSET_H */
