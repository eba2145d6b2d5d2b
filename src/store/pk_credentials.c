/* mod_poketto — login sessions and API tokens; see pk_credentials.h. */
#include <apr_strings.h>

#include "pk_credentials.h"

const pk_stmt_def pk_credentials_statements[] = {
    { "pk_session_insert",
      "INSERT INTO sessions (user_id, token_hash, csrf, created_ms, expires_ms)"
      " VALUES (%lld, %s, %s, %lld, %lld)", NULL },
    { "pk_session_lookup",
      "SELECT s.id, s.user_id, u.login, s.csrf, s.expires_ms, u.version FROM sessions s"
      " JOIN users u ON u.id = s.user_id WHERE s.token_hash = %s AND s.expires_ms > %lld",
      NULL },
    { "pk_session_delete", "DELETE FROM sessions WHERE token_hash = %s", NULL },
    { "pk_session_purge", "DELETE FROM sessions WHERE expires_ms <= %lld", NULL },
    { "pk_token_insert",
      "INSERT INTO tokens (user_id, name, token_hash, created_ms)"
      " VALUES (%lld, %s, %s, %lld) RETURNING id", NULL },
    { "pk_token_lookup",
      "SELECT t.id, t.user_id, u.login, t.name, t.created_ms, t.last_used_ms, u.version"
      " FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = %s", NULL },
    { "pk_token_touch", "UPDATE tokens SET last_used_ms = %lld WHERE id = %lld", NULL },
    { "pk_token_list",
      "SELECT t.id, t.user_id, u.login, t.name, t.created_ms, t.last_used_ms"
      " FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.user_id = %lld"
      " ORDER BY t.id", NULL },
    { "pk_token_delete", "DELETE FROM tokens WHERE id = %lld AND user_id = %lld", NULL },
    { NULL, NULL, NULL }
};

apr_status_t pk_session_create(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                               const char *token_hash, const char *csrf,
                               apr_int64_t expires_ms)
{
    apr_int64_t now = pk_db_now_ms();
    const void *args[] = { &user_id, token_hash, csrf, &now, &expires_ms };

    return pk_db_exec(db, p, "pk_session_insert", NULL, args);
}

apr_status_t pk_session_lookup(pk_db *db, apr_pool_t *p, const char *token_hash,
                               pk_session **session)
{
    apr_int64_t now = pk_db_now_ms();
    const void *args[] = { token_hash, &now };
    apr_dbd_row_t *row;
    apr_status_t rv;
    pk_session *s;

    *session = NULL;
    if (APR_SUCCESS == (rv = pk_db_one(db, p, "pk_session_lookup", &row, args))) {
        s = apr_pcalloc(p, sizeof(*s));
        s->id = pk_db_int(db, row, 0);
        s->user_id = pk_db_int(db, row, 1);
        s->login = pk_db_str(db, p, row, 2);
        s->csrf = pk_db_str(db, p, row, 3);
        s->expires_ms = pk_db_int(db, row, 4);
        s->user_version = pk_db_int(db, row, 5);
        *session = s;
    }
    return rv;
}

apr_status_t pk_session_delete(pk_db *db, apr_pool_t *p, const char *token_hash)
{
    const void *args[] = { token_hash };
    return pk_db_exec(db, p, "pk_session_delete", NULL, args);
}

apr_status_t pk_session_purge(pk_db *db, apr_pool_t *p)
{
    apr_int64_t now = pk_db_now_ms();
    const void *args[] = { &now };
    return pk_db_exec(db, p, "pk_session_purge", NULL, args);
}

static pk_token *token_of(pk_db *db, apr_pool_t *p, apr_dbd_row_t *row)
{
    pk_token *t = apr_pcalloc(p, sizeof(*t));

    t->id = pk_db_int(db, row, 0);
    t->user_id = pk_db_int(db, row, 1);
    t->login = pk_db_str(db, p, row, 2);
    t->name = pk_db_str(db, p, row, 3);
    t->created_ms = pk_db_int(db, row, 4);
    t->last_used_ms = pk_db_int(db, row, 5);
    return t;
}

apr_status_t pk_token_create(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                             const char *name, const char *token_hash, pk_token **token)
{
    apr_int64_t now = pk_db_now_ms();
    const void *args[] = { &user_id, name, token_hash, &now };
    apr_dbd_row_t *row;
    apr_status_t rv;
    pk_token *t;

    *token = NULL;
    if (APR_SUCCESS == (rv = pk_db_one(db, p, "pk_token_insert", &row, args))) {
        t = apr_pcalloc(p, sizeof(*t));
        t->id = pk_db_int(db, row, 0);
        t->user_id = user_id;
        t->name = name;
        t->created_ms = now;
        *token = t;
    }
    return rv;
}

apr_status_t pk_token_lookup(pk_db *db, apr_pool_t *p, const char *token_hash,
                             pk_token **token)
{
    const void *args[] = { token_hash };
    apr_dbd_row_t *row;
    apr_status_t rv;

    *token = NULL;
    if (APR_SUCCESS == (rv = pk_db_one(db, p, "pk_token_lookup", &row, args))) {
        *token = token_of(db, p, row);
        (*token)->user_version = pk_db_int(db, row, 6);
    }
    return rv;
}

apr_status_t pk_token_touch(pk_db *db, apr_pool_t *p, apr_int64_t token_id)
{
    apr_int64_t now = pk_db_now_ms();
    const void *args[] = { &now, &token_id };
    return pk_db_exec(db, p, "pk_token_touch", NULL, args);
}

apr_status_t pk_token_list(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                           apr_array_header_t **tokens)
{
    const void *args[] = { &user_id };
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    apr_status_t rv;

    *tokens = apr_array_make(p, 8, sizeof(pk_token *));
    if (APR_SUCCESS == (rv = pk_db_select(db, p, "pk_token_list", &res, args))) {
        for (row = NULL; (row = pk_db_next(db, p, res, row)); ) {
            APR_ARRAY_PUSH(*tokens, pk_token *) = token_of(db, p, row);
        }
    }
    return rv;
}

apr_status_t pk_token_delete(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                             apr_int64_t token_id)
{
    const void *args[] = { &token_id, &user_id };
    int n = 0;
    apr_status_t rv = pk_db_exec(db, p, "pk_token_delete", &n, args);

    return (rv == APR_SUCCESS && n == 0) ? APR_NOTFOUND : rv;
}
