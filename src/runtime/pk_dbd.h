/* mod_poketto — the bridge between mod_dbd and the store layer (runtime layer).
 *
 * mod_dbd owns the connections (pooled per child, opened lazily); this file finds its
 * functions (optional functions, so LoadModule order does not matter), registers the
 * store's statements with it at configuration time, migrates the schema before any
 * child runs, and wraps mod_dbd's handles as pk_db for the store.
 */
#ifndef PK_DBD_H
#define PK_DBD_H

#include <httpd.h>
#include "pk_db.h"

/** Join mod_dbd's post_connect hook (register_hooks): tunes each new connection. */
void pk_dbd_register_hooks(void);

/** pre_config: look up mod_dbd's optional functions, register the mutex type
 *  "poketto-sqlite" (the SQLite writers' gate of all children; `Mutex` configures it). */
void pk_dbd_pre_config(apr_pool_t *pconf);

/** post_config, in the parent, before mod_dbd's own post_config: read DBDriver,
 *  DBDParams and DBDInitSQL from the configuration, migrate the schema with a
 *  connection of our own (as root: a new SQLite file is then given to httpd's User),
 *  and register every store statement, in the database's dialect, with mod_dbd. */
apr_status_t pk_dbd_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/** child_init, before mod_dbd's: an SQLite connection of the child's own, kept for its
 *  life, so that mod_dbd's connections never race for the WAL index, and the writers'
 *  gate of all children installed in the store (no-op for other databases). */
void pk_dbd_child_init(apr_pool_t *pchild, server_rec *s);

/** The request's connection (ap_dbd_acquire: released when the request ends), or NULL
 *  when the database is unavailable. The pk_db lives in r->pool. */
pk_db *pk_dbd_acquire(request_rec *r);

/** A connection for a background thread (ap_dbd_open), to be given back with
 *  pk_dbd_close before p is cleared. NULL when unavailable. */
pk_db *pk_dbd_open(apr_pool_t *p, server_rec *s);
void pk_dbd_close(server_rec *s, pk_db *db);

#endif /* PK_DBD_H */
