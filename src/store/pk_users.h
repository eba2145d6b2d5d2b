/* mod_poketto — user accounts (store layer). */
#ifndef PK_USERS_H
#define PK_USERS_H

#include "pk_db.h"

typedef struct pk_user {
    apr_int64_t id;
    const char *login;
    const char *password_hash;      /* bcrypt, NULL for accounts made by PokettoAuth httpd */
    apr_int64_t version;            /* changes with any of the user's items */
} pk_user;

extern const pk_stmt_def pk_users_statements[];

/** Create an account; APR_EEXIST when the login is taken. password_hash may be NULL. */
apr_status_t pk_user_create(pk_db *db, apr_pool_t *p, const char *login,
                            const char *password_hash, pk_user **user);
/** The account of a login; APR_NOTFOUND if none. */
apr_status_t pk_user_by_login(pk_db *db, apr_pool_t *p, const char *login, pk_user **user);
/** The account of a login, created (without password) when it does not exist yet;
 *  safe against a concurrent creation of the same login. */
apr_status_t pk_user_ensure(pk_db *db, apr_pool_t *p, const char *login, pk_user **user);
/** Replace an account's password hash. */
apr_status_t pk_user_set_password(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                                  const char *password_hash);
/** How many accounts exist. */
apr_status_t pk_user_count(pk_db *db, apr_pool_t *p, apr_int64_t *count);

#endif /* PK_USERS_H */
