/* mod_poketto — schema and versioned migrations (store layer). */
#ifndef PK_SCHEMA_H
#define PK_SCHEMA_H

#include "pk_db.h"

/** The schema version this build needs. */
int pk_schema_version(void);

/** Bring the database to pk_schema_version(): apply each missing migration in one
 *  transaction that holds the database's write lock (SQLite: BEGIN IMMEDIATE;
 *  PostgreSQL: a transaction-scoped advisory lock), so that several processes or
 *  hosts starting at once apply each migration exactly once. A database newer than
 *  this build is refused with APR_EINCOMPLETE. *why says what failed. */
apr_status_t pk_schema_migrate(pk_db *db, apr_pool_t *p, const char **why);

#endif /* PK_SCHEMA_H */
