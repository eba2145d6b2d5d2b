/* mod_poketto — one page fetch with libcurl, within limits and the SSRF policy.
 *
 * A pk_fetch is one transfer: an easy handle set up with every limit (time, size,
 * redirects, protocols, content types) and a socket callback that refuses addresses
 * the policy forbids, on the address actually connected to, for every connection of
 * every redirect. The caller drives it, normally in a curl multi handle with hundreds
 * of others, and asks pk_fetch_finish what became of it.
 */
#ifndef PK_FETCH_H
#define PK_FETCH_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <curl/curl.h>

#include "pk_netpolicy.h"

typedef struct pk_fetch_opts {
    long connect_timeout_ms;
    long timeout_ms;                /* the whole transfer */
    apr_size_t max_size;            /* decoded bytes; more aborts the transfer */
    long max_redirects;
    const char *user_agent;
    const char *accept_language;
    const pk_netpolicy *policy;     /* NULL: no address is refused (tools only) */
    struct curl_slist *resolve;     /* CURLOPT_RESOLVE entries ("host:port:addr"), or NULL */
} pk_fetch_opts;

typedef enum {
    PK_FETCH_OK = 0,                /* a page (HTML, XHTML, text) or a PDF */
    PK_FETCH_RETRY,                 /* failed in a way that may pass: try again later */
    PK_FETCH_FAIL                   /* failed for good */
} pk_fetch_outcome_e;

/** What kind of document came back. */
typedef enum {
    PK_DOC_NONE = 0, PK_DOC_HTML, PK_DOC_TEXT, PK_DOC_PDF
} pk_doc_kind_e;

typedef struct pk_fetch pk_fetch;

/** Prepare a transfer of url; everything it owns (the easy handle too) is released
 *  when p is destroyed. baton is the caller's, given back by pk_fetch_baton.
 *  curl_global_init must have been called. */
apr_status_t pk_fetch_create(apr_pool_t *p, const pk_fetch_opts *opts, const char *url,
                             void *baton, pk_fetch **f);

/** The caller's baton of a transfer. */
void *pk_fetch_baton(pk_fetch *f);

/** The easy handle, to add to a multi handle (or run with curl_easy_perform). */
CURL *pk_fetch_handle(pk_fetch *f);

/** The transfer of f (found from its easy handle after CURLMSG_DONE). */
pk_fetch *pk_fetch_of(CURL *easy);

/** Judge a finished transfer given its result code: OK, RETRY or FAIL with *error a
 *  sentence a user can read ("DNS name not found: example.invalid", "HTTP 404",
 *  "not an HTML page (image/png)", "127.0.0.2 is a loopback address", ...). */
pk_fetch_outcome_e pk_fetch_finish(pk_fetch *f, CURLcode code, const char **error);

/** The body received (decoded, not NUL-terminated in general; a NUL follows it). */
const char *pk_fetch_body(pk_fetch *f, apr_size_t *len);
/** The media type of the response, lower-case, without parameters (or NULL). */
const char *pk_fetch_media_type(pk_fetch *f);
/** The charset parameter of the response's Content-Type (or NULL). */
const char *pk_fetch_charset(pk_fetch *f);
/** The URL of the last response, after redirects. */
const char *pk_fetch_final_url(pk_fetch *f);
/** The kind of document. */
pk_doc_kind_e pk_fetch_kind(pk_fetch *f);
/** A short word for the outcome, for counters: ok, dns, refused, policy, timeout, tls,
 *  http4xx, http5xx, redirects, too_large, type, empty, error. */
const char *pk_fetch_outcome_name(pk_fetch *f);

#endif /* PK_FETCH_H */
