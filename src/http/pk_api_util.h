/* mod_poketto — validation shared by the API handlers (http layer). Each helper
 * answers 400/422 naming the field and returns DONE when the input is bad. */
#ifndef PK_API_UTIL_H
#define PK_API_UTIL_H

#include <apr_tables.h>
#include "pk_http.h"

/** 422 when obj has a member whose name is not in the space-separated allowed list. */
int pk_api_check_members(pk_req *pr, json_t *obj, const char *allowed);

/** Read a tags array (NULL v: *tags NULL): strings, trimmed, 1..PokettoMaxTagLength
 *  characters, no control characters, at most PokettoMaxTags, duplicates dropped. */
int pk_api_read_tags(pk_req *pr, json_t *v, const char *field, apr_array_header_t **tags);

/** Read the optional "title" member: a string of at most max bytes, or null. *has (if
 *  given) says whether the member was there. */
int pk_api_read_title(pk_req *pr, json_t *obj, apr_size_t max, const char **title, int *has);

/** The query string as a table (first value of each name wins); NULL after a 400 for
 *  a query that repeats a parameter. */
apr_table_t *pk_api_query(pk_req *pr);

/** Characters (code points) in valid UTF-8 text, which jansson guarantees. */
apr_size_t pk_api_utf8_chars(const char *s);

/** Whether s is a decimal integer within [min, max]. */
int pk_api_parse_int(const char *s, apr_int64_t min, apr_int64_t max, apr_int64_t *n);

/** The request's own URL with the cursor parameter set to cursor. */
const char *pk_api_next_url(pk_req *pr, apr_table_t *q, const char *cursor);

#endif /* PK_API_UTIL_H */
