/* mod_poketto — database handle and prepared statements (store layer).
 *
 * The store layer is the only place with SQL. It is httpd-free: it works on an
 * apr_dbd handle, which inside httpd comes from mod_dbd (ap_dbd_acquire on request
 * threads, ap_dbd_open on background threads) and in the admin tool and the unit
 * tests from apr_dbd_open directly. Statements are written once with apr_dbd's
 * portable placeholders (%s, %d, %lld) and prepared per connection: by mod_dbd from
 * the list pk_db_statements() returns (registered at configuration time), or by
 * pk_db_open() for a standalone handle.
 */
#ifndef PK_DB_H
#define PK_DB_H

#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include <apr_dbd.h>

/** How long an SQLite connection waits for another writer before giving up. */
#define PK_DB_BUSY_TIMEOUT_MS 10000

typedef enum {
    PK_DIALECT_SQLITE = 0,
    PK_DIALECT_PGSQL = 1
} pk_dialect_e;

/** A prepared statement's source: a label unique across httpd (mod_dbd shares one
 *  namespace between modules) and its SQL for each dialect. */
typedef struct pk_stmt_def {
    const char *label;
    const char *sql_sqlite;
    const char *sql_pgsql;          /* NULL: same as sql_sqlite */
} pk_stmt_def;

struct pk_event;

/** How deep pk_db_begin nests inside an open transaction (savepoints). */
#define PK_DB_MAX_NEST 4

/** One open connection with its prepared statements and, while one is open, its
 *  transaction. Lives as long as the pool it was made from. */
typedef struct pk_db {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_hash_t *prepared;           /* label -> apr_dbd_prepared_t* */
    pk_dialect_e dialect;
    apr_dbd_transaction_t *txn;     /* open transaction or NULL */
    int txn_failed;                 /* a statement in txn failed: it must roll back */
    apr_array_header_t *written;    /* const pk_event* written in txn, to publish at commit */
    int nest;                       /* savepoints open inside txn (nested pk_db_begin) */
    int cheap_savepoints;           /* savepoints cost no round trip (SQLite); pk_group
                                     * gives each work of a group one when set */
    struct {
        int failed;                 /* txn_failed of the enclosing scope */
        int written;                /* events it had written */
    } outer[PK_DB_MAX_NEST];
    apr_pool_t *pool;               /* the pool the handle lives in */
    void *owner;                    /* opaque: the opener's record (mod_dbd's ap_dbd_t) */
} pk_db;

/** The dialect of an apr_dbd driver name ("sqlite3" or "pgsql"); APR_ENOTIMPL for others. */
apr_status_t pk_db_dialect_of(const char *driver_name, pk_dialect_e *dialect);

/** Call fn for every statement of the store (each store file has its own table). */
typedef void pk_stmt_visit_fn(void *baton, const pk_stmt_def *def);
void pk_db_statements_visit(pk_stmt_visit_fn *fn, void *baton);

/** The SQL of a statement for a dialect. */
const char *pk_db_stmt_sql(const pk_stmt_def *def, pk_dialect_e dialect);

/** Wrap a connection that someone else opened and prepared (mod_dbd). The wrapper is
 *  allocated from p, which must not outlive the connection. */
pk_db *pk_db_wrap(apr_pool_t *p, const apr_dbd_driver_t *driver, apr_dbd_t *handle,
                  apr_hash_t *prepared);

/** Open a connection of our own (admin tool, unit tests, start-up migration): load the
 *  driver, connect with params, apply the init SQL statements (may be NULL), put SQLite
 *  in WAL mode, migrate the schema, prepare every statement.
 *  The connection is closed when p is destroyed. *why says what failed. */
apr_status_t pk_db_open(apr_pool_t *p, const char *driver_name, const char *params,
                        const char *const *init_sql, pk_db **pdb, const char **why);

/** Open a bare connection (no init SQL, no migration, no statements), tuned as
 *  pk_db_tune says; closed when p is destroyed. */
apr_status_t pk_db_open_plain(apr_pool_t *p, const char *driver_name, const char *params,
                              pk_db **pdb, const char **why);

/** Begin a transaction (SQLite: BEGIN IMMEDIATE, so that writers queue on the lock
 *  instead of failing on upgrade). Inside an open transaction: a savepoint, a scope of
 *  its own that pk_db_end releases into the enclosing one or rolls back alone (at most
 *  PK_DB_MAX_NEST deep). */
apr_status_t pk_db_begin(pk_db *db, apr_pool_t *p);
/** Commit (ok != 0) or roll back the open transaction. Any failed statement in the
 *  transaction forces a roll back; the result says whether the commit happened. The
 *  events written in the transaction go to the publisher once the commit succeeded,
 *  never after a roll back. For a savepoint: released (its events wait for the enclosing
 *  commit) or rolled back with its events, the enclosing scope going on either way. */
apr_status_t pk_db_end(pk_db *db, apr_pool_t *p, int ok);

/** Whether this thread has a transaction open (on any connection). */
int pk_db_writing(void);

/** End the open transaction after work whose status is rv: commit when rv is
 *  APR_SUCCESS (then the commit's status is returned), else roll back and return rv. */
apr_status_t pk_db_finish(pk_db *db, apr_pool_t *p, apr_status_t rv);

/** Receives the events of a committed transaction (const pk_event*, in the order they
 *  were written: ids ascending), on the committing thread, after the commit. p is the
 *  pool the transaction ended with (at least as long-lived as the call). It must not
 *  block for long nor use db. */
typedef void pk_db_publish_fn(void *baton, const apr_array_header_t *events, apr_pool_t *p);
/** Install the process-wide publisher (NULL: none), before threads that write start. */
void pk_db_set_publisher(pk_db_publish_fn *fn, void *baton);

/** Enter or leave the SQLite writers' gate; enter answers APR_SUCCESS when it holds it. */
typedef apr_status_t pk_db_gate_fn(void *baton);

/**
 * Install a gate that SQLite writers of every process take from BEGIN to COMMIT or
 * ROLLBACK (a lock shared by processes; NULL: none), before threads that write start.
 * Without one, the threads of one process take turns on a mutex of the store's own and
 * wait for other processes in SQLite's busy handler.
 */
void pk_db_set_writer_gate(pk_db_gate_fn *enter, pk_db_gate_fn *leave, void *baton);
/** Note an event written on db (pk_event_add calls it): kept for the commit of the open
 *  transaction, or published at once when no transaction is open. ev must live in p,
 *  the pool of the transaction. */
void pk_db_event_written(pk_db *db, apr_pool_t *p, const struct pk_event *ev);

/** Run a prepared statement that changes rows. args are binary (apr_dbd_pbquery):
 *  pointers to values matching the statement's %-types, NULL for SQL NULL. */
apr_status_t pk_db_exec(pk_db *db, apr_pool_t *p, const char *label, int *nrows,
                        const void **args);
/** Run a prepared select; rows are read with pk_db_next(). */
apr_status_t pk_db_select(pk_db *db, apr_pool_t *p, const char *label,
                          apr_dbd_results_t **res, const void **args);
/** The row after prev (NULL: the first) of res, or NULL at the end (the results are
 *  then finished). Pass back the row it returned: the pgsql driver keeps its position
 *  in the row and reuses it, so read a row's columns before asking for the next.
 *  Loop: for (row = NULL; (row = pk_db_next(db, p, res, row)); ) { ... } */
apr_dbd_row_t *pk_db_next(pk_db *db, apr_pool_t *p, apr_dbd_results_t *res,
                          apr_dbd_row_t *prev);
/** Column n of row as a string copied into p (the driver's own copy may go with the
 *  result), NULL for SQL NULL. */
const char *pk_db_str(pk_db *db, apr_pool_t *p, apr_dbd_row_t *row, int n);
/** Column n of row as an integer, 0 for SQL NULL. */
apr_int64_t pk_db_int(pk_db *db, apr_dbd_row_t *row, int n);
/** Run a select expected to return at most one row; APR_NOTFOUND when none. */
apr_status_t pk_db_one(pk_db *db, apr_pool_t *p, const char *label,
                       apr_dbd_row_t **row, const void **args);
/** Run plain SQL without parameters (schema changes); p for messages. */
apr_status_t pk_db_sql(pk_db *db, apr_pool_t *p, const char *sql);
/** Run a connection setting (SQLite PRAGMA, which may answer with a row). */
apr_status_t pk_db_setting(pk_db *db, apr_pool_t *p, const char *sql);
/** Settings every connection needs, whoever opened it: SQLite waits up to
 *  busy_timeout_ms for another connection's write lock instead of failing at once.
 *  apr_dbd's SQLite driver holds one process-wide mutex around every SQLite call, so a
 *  plain busy_timeout would sleep with that mutex held and stall the very thread that
 *  holds the lock; the busy handler installed here releases apr_dbd's mutex while it
 *  sleeps (1 ms, doubling to 20 ms). */
apr_status_t pk_db_tune(pk_db *db, apr_pool_t *p, int busy_timeout_ms);
/** The driver's last error message (from p) for the log. */
const char *pk_db_error(pk_db *db, apr_pool_t *p, int err);

/** Milliseconds since the epoch, the unit of every time column. */
apr_int64_t pk_db_now_ms(void);

#endif /* PK_DB_H */
