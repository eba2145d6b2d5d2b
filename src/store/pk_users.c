/* mod_poketto — user accounts; see pk_users.h. */
#include <apr_strings.h>

#include "pk_users.h"

const pk_stmt_def pk_users_statements[] = {
    { "pk_user_insert",
      "INSERT INTO users (login, password_hash, created_ms) VALUES (%s, %s, %lld)"
      " ON CONFLICT (login) DO NOTHING RETURNING id", NULL },
    { "pk_user_by_login",
      "SELECT id, login, password_hash, version FROM users WHERE login = %s", NULL },
    { "pk_user_set_password",
      "UPDATE users SET password_hash = %s WHERE id = %lld", NULL },
    { "pk_user_count", "SELECT COUNT(*) FROM users", NULL },
    { NULL, NULL, NULL }
};

static pk_user *user_of(pk_db *db, apr_pool_t *p, apr_dbd_row_t *row)
{
    pk_user *u = apr_pcalloc(p, sizeof(*u));
    const char *hash = pk_db_str(db, p, row, 2);

    u->id = pk_db_int(db, row, 0);
    u->login = apr_pstrdup(p, pk_db_str(db, p, row, 1));
    u->password_hash = hash ? apr_pstrdup(p, hash) : NULL;
    u->version = pk_db_int(db, row, 3);
    return u;
}

apr_status_t pk_user_create(pk_db *db, apr_pool_t *p, const char *login,
                            const char *password_hash, pk_user **user)
{
    apr_int64_t now = pk_db_now_ms();
    const void *args[] = { login, password_hash, &now };
    apr_dbd_row_t *row;
    apr_status_t rv;
    pk_user *u;

    *user = NULL;
    rv = pk_db_one(db, p, "pk_user_insert", &row, args);
    if (rv == APR_NOTFOUND) {
        rv = APR_EEXIST;
    }
    if (rv == APR_SUCCESS) {
        u = apr_pcalloc(p, sizeof(*u));
        u->id = pk_db_int(db, row, 0);
        u->login = apr_pstrdup(p, login);
        u->password_hash = password_hash ? apr_pstrdup(p, password_hash) : NULL;
        *user = u;
    }
    return rv;
}

apr_status_t pk_user_by_login(pk_db *db, apr_pool_t *p, const char *login, pk_user **user)
{
    const void *args[] = { login };
    apr_dbd_row_t *row;
    apr_status_t rv;

    *user = NULL;
    if (APR_SUCCESS == (rv = pk_db_one(db, p, "pk_user_by_login", &row, args))) {
        *user = user_of(db, p, row);
    }
    return rv;
}

apr_status_t pk_user_ensure(pk_db *db, apr_pool_t *p, const char *login, pk_user **user)
{
    apr_status_t rv = pk_user_by_login(db, p, login, user);

    if (rv == APR_NOTFOUND) {
        rv = pk_user_create(db, p, login, NULL, user);
        if (rv == APR_EEXIST) {     /* another request created it meanwhile */
            rv = pk_user_by_login(db, p, login, user);
        }
    }
    return rv;
}

apr_status_t pk_user_set_password(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                                  const char *password_hash)
{
    const void *args[] = { password_hash, &user_id };
    int n = 0;
    apr_status_t rv = pk_db_exec(db, p, "pk_user_set_password", &n, args);

    return (rv == APR_SUCCESS && n == 0) ? APR_NOTFOUND : rv;
}

apr_status_t pk_user_count(pk_db *db, apr_pool_t *p, apr_int64_t *count)
{
    apr_dbd_row_t *row;
    apr_status_t rv = pk_db_one(db, p, "pk_user_count", &row, NULL);

    *count = (rv == APR_SUCCESS) ? pk_db_int(db, row, 0) : 0;
    return rv;
}
