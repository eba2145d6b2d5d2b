/* mod_poketto — Server-Sent Events framing (core).
 *
 * The text/event-stream format of the HTML standard: an event is "field: value" lines
 * ended by an empty line; a line starting with ":" is a comment (heartbeats). A value
 * cannot hold a line break, so data with line breaks becomes several "data:" lines
 * (the client joins them with "\n" again); CR, LF and CRLF all break lines there.
 */
#ifndef PK_SSE_H
#define PK_SSE_H

#include <apr_pools.h>

/** "id: <id>\nevent: <type>\ndata: <line>\n...\n\n" (from p); *outlen its length. type
 *  loses any line break (it would end the field); data is split at line breaks. */
const char *pk_sse_event(apr_pool_t *p, apr_int64_t id, const char *type, const char *data,
                         apr_size_t len, apr_size_t *outlen);

/** A comment block ": <text>\n\n" (line breaks in text become spaces), from p. */
const char *pk_sse_comment(apr_pool_t *p, const char *text, apr_size_t *outlen);

/** "retry: <ms>\n\n": how long a client waits before reconnecting. */
const char *pk_sse_retry(apr_pool_t *p, int ms, apr_size_t *outlen);

/** An event id as clients send it back (Last-Event-ID, ?after=): decimal digits only,
 *  at most 18, no sign or space. 1 and *id set when valid, else 0. */
int pk_sse_parse_id(const char *s, apr_int64_t *id);

#endif /* PK_SSE_H */
