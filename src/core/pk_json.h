/* mod_poketto — jansson values tied to APR pools. */
#ifndef PK_JSON_H
#define PK_JSON_H

#include <apr_pools.h>
#include <jansson.h>

/** Make p own one reference of j: json_decref runs when p is cleared. Returns j. */
json_t *pk_json_own(apr_pool_t *p, json_t *j);

/** Serialise j (json_dumps flags) into memory from p; *len gets its length. NULL when j
 *  cannot be serialised. */
const char *pk_json_dump(apr_pool_t *p, const json_t *j, size_t flags, apr_size_t *len);

/** A string member of an object, or NULL when absent or not a string. */
const char *pk_json_str(const json_t *obj, const char *key);

#endif /* PK_JSON_H */
