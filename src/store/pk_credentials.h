/* mod_poketto — login sessions and API tokens (store layer).
 * Only hashes of session ids and tokens are stored; the secrets stay with the client. */
#ifndef PK_CREDENTIALS_H
#define PK_CREDENTIALS_H

#include <apr_tables.h>
#include "pk_db.h"

typedef struct pk_session {
    apr_int64_t id;
    apr_int64_t user_id;
    const char *login;
    const char *csrf;
    apr_int64_t expires_ms;
    apr_int64_t user_version;       /* users.version: changes with any of the user's items */
} pk_session;

typedef struct pk_token {
    apr_int64_t id;
    apr_int64_t user_id;
    const char *login;              /* set by lookups and lists, NULL after create */
    const char *name;
    apr_int64_t created_ms;
    apr_int64_t last_used_ms;       /* 0: never */
    apr_int64_t user_version;       /* users.version, set by pk_token_lookup */
} pk_token;

extern const pk_stmt_def pk_credentials_statements[];

/** Record a session whose id hashes to token_hash. */
apr_status_t pk_session_create(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                               const char *token_hash, const char *csrf,
                               apr_int64_t expires_ms);
/** The unexpired session of token_hash; APR_NOTFOUND if none. */
apr_status_t pk_session_lookup(pk_db *db, apr_pool_t *p, const char *token_hash,
                               pk_session **session);
/** Delete the session of token_hash (logout). */
apr_status_t pk_session_delete(pk_db *db, apr_pool_t *p, const char *token_hash);
/** Delete every expired session. */
apr_status_t pk_session_purge(pk_db *db, apr_pool_t *p);

/** Record an API token whose secret hashes to token_hash. */
apr_status_t pk_token_create(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                             const char *name, const char *token_hash, pk_token **token);
/** The token of token_hash; APR_NOTFOUND if none (or revoked). */
apr_status_t pk_token_lookup(pk_db *db, apr_pool_t *p, const char *token_hash,
                             pk_token **token);
/** Note that a token was used now. */
apr_status_t pk_token_touch(pk_db *db, apr_pool_t *p, apr_int64_t token_id);
/** A user's tokens (pk_token*), oldest first. */
apr_status_t pk_token_list(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                           apr_array_header_t **tokens);
/** Revoke one of a user's tokens; APR_NOTFOUND when the user has no such token. */
apr_status_t pk_token_delete(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                             apr_int64_t token_id);

#endif /* PK_CREDENTIALS_H */
