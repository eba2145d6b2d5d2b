/* mod_poketto — database handle and prepared statements; see pk_db.h. */
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <sqlite3.h>
#include <pthread.h>

#include "pk_log.h"
#include "pk_db.h"
#include "pk_schema.h"
#include "pk_users.h"
#include "pk_credentials.h"
#include "pk_items.h"
#include "pk_tags.h"
#include "pk_tasks.h"
#include "pk_events.h"
#include "pk_tickets.h"

apr_status_t pk_db_dialect_of(const char *driver_name, pk_dialect_e *dialect)
{
    apr_status_t rv = APR_SUCCESS;

    if (driver_name && !strcmp(driver_name, "sqlite3")) {
        *dialect = PK_DIALECT_SQLITE;
    }
    else if (driver_name && !strcmp(driver_name, "pgsql")) {
        *dialect = PK_DIALECT_PGSQL;
    }
    else {
        rv = APR_ENOTIMPL;
    }
    return rv;
}

void pk_db_statements_visit(pk_stmt_visit_fn *fn, void *baton)
{
    const pk_stmt_def *tables[] = {
        pk_users_statements, pk_credentials_statements, pk_items_statements, pk_tags_statements,
        pk_tasks_statements, pk_events_statements, pk_tickets_statements, NULL
    };
    const pk_stmt_def *def;
    int i;

    for (i = 0; tables[i]; ++i) {
        for (def = tables[i]; def->label; ++def) {
            fn(baton, def);
        }
    }
}

const char *pk_db_stmt_sql(const pk_stmt_def *def, pk_dialect_e dialect)
{
    return (dialect == PK_DIALECT_PGSQL && def->sql_pgsql) ? def->sql_pgsql
                                                           : def->sql_sqlite;
}

pk_db *pk_db_wrap(apr_pool_t *p, const apr_dbd_driver_t *driver, apr_dbd_t *handle,
                  apr_hash_t *prepared)
{
    pk_db *db = apr_pcalloc(p, sizeof(*db));

    db->driver = driver;
    db->handle = handle;
    db->prepared = prepared;
    db->pool = p;
    if (APR_SUCCESS != pk_db_dialect_of(apr_dbd_name(driver), &db->dialect)) {
        db->dialect = PK_DIALECT_SQLITE;
    }
    db->cheap_savepoints = (db->dialect == PK_DIALECT_SQLITE);
    return db;
}

typedef struct {
    pk_db *db;
    apr_status_t rv;
    const char *why;
} prepare_ctx;

static void prepare_one(void *baton, const pk_stmt_def *def)
{
    prepare_ctx *ctx = baton;
    apr_dbd_prepared_t *stmt = NULL;
    int err;

    if (ctx->rv != APR_SUCCESS) {
        return;
    }
    err = apr_dbd_prepare(ctx->db->driver, ctx->db->pool, ctx->db->handle,
                          pk_db_stmt_sql(def, ctx->db->dialect), def->label, &stmt);
    if (err) {
        ctx->rv = APR_EGENERAL;
        ctx->why = apr_psprintf(ctx->db->pool, "preparing %s: %s", def->label,
                                apr_dbd_error(ctx->db->driver, ctx->db->handle, err));
        return;
    }
    apr_hash_set(ctx->db->prepared, def->label, APR_HASH_KEY_STRING, stmt);
}

#define OPEN_RETRIES 100

static apr_status_t db_close(void *data)
{
    pk_db *db = data;
    return apr_dbd_close(db->driver, db->handle);
}

apr_status_t pk_db_open(apr_pool_t *p, const char *driver_name, const char *params,
                        const char *const *init_sql, pk_db **pdb, const char **why)
{
    apr_status_t rv;
    const char *err = NULL;
    pk_db *db = apr_pcalloc(p, sizeof(*db));
    prepare_ctx ctx;
    int i;

    *pdb = NULL;
    *why = NULL;
    db->pool = p;
    if (APR_SUCCESS != (rv = pk_db_dialect_of(driver_name, &db->dialect))) {
        *why = apr_psprintf(p, "unsupported database driver '%s' (sqlite3 or pgsql)",
                            driver_name);
        goto leave;
    }
    db->cheap_savepoints = (db->dialect == PK_DIALECT_SQLITE);
    if (APR_SUCCESS != (rv = apr_dbd_init(p))
        || APR_SUCCESS != (rv = apr_dbd_get_driver(p, driver_name, &db->driver))) {
        *why = apr_psprintf(p, "cannot load the apr_dbd driver '%s'", driver_name);
        goto leave;
    }
    if (APR_SUCCESS != (rv = apr_dbd_open_ex(db->driver, p, params, &db->handle, &err))) {
        *why = apr_psprintf(p, "cannot open the database: %s", err ? err : "unknown error");
        goto leave;
    }
    apr_pool_cleanup_register(p, db, db_close, apr_pool_cleanup_null);
    /* the busy handler first: even a PRAGMA reads the schema, and while other processes
     * write (a graceful restart under load) SQLite answers "busy" without one */
    pk_db_tune(db, p, PK_DB_BUSY_TIMEOUT_MS);
    for (i = 0; init_sql && init_sql[i]; ++i) {
        if (APR_SUCCESS != (rv = pk_db_setting(db, p, init_sql[i]))) {
            *why = apr_psprintf(p, "init SQL '%s' failed", init_sql[i]);
            goto leave;
        }
    }
    /* WAL lets readers go on while one process writes; the mode is stored in the file,
     * so setting it once here covers every connection mod_dbd opens later. SQLite does
     * not always wait for the lock this needs, and the legacy sqlite3_prepare apr_dbd
     * uses fails once after another process changed the schema: both are retried, as
     * when httpd and poketto-admin open a new database at the same moment. */
    for (i = 0; db->dialect == PK_DIALECT_SQLITE; ++i) {
        if (APR_SUCCESS == (rv = pk_db_setting(db, p, "PRAGMA journal_mode=WAL"))) {
            break;
        }
        if (i >= OPEN_RETRIES) {
            *why = "cannot switch the SQLite database to WAL mode";
            goto leave;
        }
        apr_sleep(apr_time_from_msec(20));
    }
    db->prepared = apr_hash_make(p);
    /* the schema must exist before statements that name its tables are prepared */
    for (i = 0; APR_SUCCESS != (rv = pk_schema_migrate(db, p, why)); ++i) {
        if (rv == APR_EINCOMPLETE || i >= OPEN_RETRIES) {
            goto leave;             /* newer than this module, or failing for good */
        }
        apr_sleep(apr_time_from_msec(20));
    }
    ctx.db = db;
    ctx.rv = APR_SUCCESS;
    ctx.why = NULL;
    pk_db_statements_visit(prepare_one, &ctx);
    if (APR_SUCCESS != (rv = ctx.rv)) {
        *why = ctx.why;
        goto leave;
    }
    *pdb = db;
leave:
    return rv;
}

apr_status_t pk_db_open_plain(apr_pool_t *p, const char *driver_name, const char *params,
                              pk_db **pdb, const char **why)
{
    apr_status_t rv;
    const char *err = NULL;
    pk_db *db = apr_pcalloc(p, sizeof(*db));

    *pdb = NULL;
    *why = NULL;
    db->pool = p;
    if (APR_SUCCESS != (rv = pk_db_dialect_of(driver_name, &db->dialect))
        || APR_SUCCESS != (rv = apr_dbd_get_driver(p, driver_name, &db->driver))) {
        *why = "unsupported database driver";
        goto leave;
    }
    db->cheap_savepoints = (db->dialect == PK_DIALECT_SQLITE);
    if (APR_SUCCESS != (rv = apr_dbd_open_ex(db->driver, p, params, &db->handle, &err))) {
        *why = apr_psprintf(p, "cannot open the database: %s", err ? err : "unknown error");
        goto leave;
    }
    apr_pool_cleanup_register(p, db, db_close, apr_pool_cleanup_null);
    db->prepared = apr_hash_make(p);
    pk_db_tune(db, p, PK_DB_BUSY_TIMEOUT_MS);
    *pdb = db;
leave:
    return rv;
}

/* Who hears of committed events: set once at start-up (pk_db_set_publisher). */
static pk_db_publish_fn *publisher;
static void *publisher_baton;

void pk_db_set_publisher(pk_db_publish_fn *fn, void *baton)
{
    publisher = fn;
    publisher_baton = baton;
}

static void publish(apr_array_header_t *events, apr_pool_t *p)
{
    if (publisher && events && events->nelts > 0) {
        publisher(publisher_baton, events, p);
    }
}

void pk_db_event_written(pk_db *db, apr_pool_t *p, const struct pk_event *ev)
{
    apr_array_header_t *one;

    if (!db->txn) {
        one = apr_array_make(p, 1, sizeof(const struct pk_event *));
        APR_ARRAY_PUSH(one, const struct pk_event *) = ev;
        publish(one, p);
        return;
    }
    if (!db->written) {
        db->written = apr_array_make(p, 4, sizeof(const struct pk_event *));
    }
    APR_ARRAY_PUSH(db->written, const struct pk_event *) = ev;
}

/* SQLite has one writer at a time. Threads of one process that all BEGIN IMMEDIATE find
 * the lock taken and sleep in the busy handler, waking to find it taken again: at 32
 * connections most of a save was that waiting. Within a process they queue on this
 * mutex instead, held from BEGIN to COMMIT/ROLLBACK (handed over at once); only
 * other processes' writers are waited for in the busy handler. A plain static mutex:
 * it must exist before any pool does (migrations in post_config use it too) and is
 * never held across fork (httpd forks from its single-threaded parent). */
static pthread_mutex_t sqlite_writer = PTHREAD_MUTEX_INITIALIZER;
/* Transactions this thread has open on SQLite connections: a thread that opens a second
 * one (on another connection) meets SQLite's lock, as another process would, instead
 * of waiting for itself. */
static __thread int writer_depth;
/* The gate of all processes (pk_db_set_writer_gate), when there is one: it replaces the
 * mutex above, since writers of other processes then queue too instead of polling in the
 * busy handler, where the lock stood free while they slept. gate_held: whether this
 * thread's enter succeeded (a gate that fails lets the busy handler do the waiting). */
static pk_db_gate_fn *gate_enter, *gate_leave;
static void *gate_baton;
static __thread int gate_held;

void pk_db_set_writer_gate(pk_db_gate_fn *enter, pk_db_gate_fn *leave, void *baton)
{
    gate_enter = enter;
    gate_leave = leave;
    gate_baton = baton;
}

/* Transactions this thread has open, on any database: pk_db_writing. */
static __thread int open_txns;

static void writer_enter(pk_db *db)
{
    ++open_txns;
    if (db->dialect == PK_DIALECT_SQLITE && writer_depth++ == 0) {
        if (gate_enter) {
            gate_held = (gate_enter(gate_baton) == APR_SUCCESS);
        }
        else {
            pthread_mutex_lock(&sqlite_writer);
        }
    }
}

static void writer_leave(pk_db *db)
{
    --open_txns;
    if (db->dialect == PK_DIALECT_SQLITE && --writer_depth == 0) {
        if (gate_enter) {
            if (gate_held) {
                gate_leave(gate_baton);
            }
            gate_held = 0;
        }
        else {
            pthread_mutex_unlock(&sqlite_writer);
        }
    }
}

int pk_db_writing(void)
{
    return open_txns > 0;
}

static apr_status_t savepoint(pk_db *db, apr_pool_t *p, const char *verb, int level)
{
    int n = 0, err;
    const char *sql = apr_psprintf(p, "%s pk_sp%d", verb, level);

    err = apr_dbd_query(db->driver, db->handle, &n, sql);
    if (err) {
        pk_log(PK_LOG_MARK, PK_LOG_ERR, APR_EGENERAL, p, "%s: %s", sql,
               apr_dbd_error(db->driver, db->handle, err));
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

static apr_status_t nested_begin(pk_db *db, apr_pool_t *p)
{
    apr_status_t rv;

    if (db->nest >= PK_DB_MAX_NEST) {
        pk_log(PK_LOG_MARK, PK_LOG_ERR, APR_EGENERAL, p, "transactions nested too deep");
        db->txn_failed = 1;
        return APR_EGENERAL;
    }
    if (APR_SUCCESS != (rv = savepoint(db, p, "SAVEPOINT", db->nest + 1))) {
        db->txn_failed = 1;
        return rv;
    }
    db->outer[db->nest].failed = db->txn_failed;
    db->outer[db->nest].written = db->written ? db->written->nelts : 0;
    ++db->nest;
    db->txn_failed = 0;
    if (db->dialect == PK_DIALECT_PGSQL && db->nest == 1) {
        apr_dbd_transaction_mode_set(db->driver, db->txn, APR_DBD_TRANSACTION_IGNORE_ERRORS);
    }
    return APR_SUCCESS;
}

static apr_status_t nested_end(pk_db *db, apr_pool_t *p, int ok)
{
    int keep = ok && !db->txn_failed, level = db->nest;
    apr_status_t rv = keep ? APR_SUCCESS : APR_EGENERAL;

    --db->nest;
    if (!keep) {
        if (db->written) {
            db->written->nelts = db->outer[db->nest].written;   /* never happened */
        }
        if (APR_SUCCESS != savepoint(db, p, "ROLLBACK TO", level)) {
            db->outer[db->nest].failed = 1;     /* cannot undo it: nothing may commit */
        }
    }
    if (APR_SUCCESS != savepoint(db, p, "RELEASE", level)) {
        db->outer[db->nest].failed = 1;
        rv = APR_EGENERAL;
    }
    db->txn_failed = db->outer[db->nest].failed;
    if (db->dialect == PK_DIALECT_PGSQL && db->nest == 0) {
        apr_dbd_transaction_mode_set(db->driver, db->txn, APR_DBD_TRANSACTION_COMMIT);
    }
    return rv;
}

apr_status_t pk_db_begin(pk_db *db, apr_pool_t *p)
{
    int err;

    if (db->txn) {
        return nested_begin(db, p);
    }
    db->txn = NULL;
    db->txn_failed = 0;
    db->written = NULL;
    writer_enter(db);
    err = apr_dbd_transaction_start(db->driver, p, db->handle, &db->txn);
    if (err) {
        writer_leave(db);
        pk_log(PK_LOG_MARK, PK_LOG_ERR, APR_EGENERAL, p, "begin transaction: %s",
               apr_dbd_error(db->driver, db->handle, err));
        if (db->txn) {
            /* the driver attached its transaction record although BEGIN failed: end it
             * now, or the next error sticks to the connection and a cleanup on p rolls
             * back whatever the connection does later */
            apr_dbd_transaction_mode_set(db->driver, db->txn, APR_DBD_TRANSACTION_ROLLBACK);
            apr_dbd_transaction_end(db->driver, p, db->txn);
        }
        db->txn = NULL;
        return APR_EGENERAL;
    }
    /* the driver would refuse every statement after a failed one, ROLLBACK TO included:
     * failures are counted here (txn_failed), per scope, and decide at the end. Not with
     * PostgreSQL, where the driver then wraps every statement in a savepoint of its own
     * (two more round trips each): there, only savepoint scopes ask for it. */
    if (db->dialect == PK_DIALECT_SQLITE) {
        apr_dbd_transaction_mode_set(db->driver, db->txn, APR_DBD_TRANSACTION_IGNORE_ERRORS);
    }
    return APR_SUCCESS;
}

apr_status_t pk_db_end(pk_db *db, apr_pool_t *p, int ok)
{
    apr_status_t rv = APR_SUCCESS;
    int commit = ok && !db->txn_failed;
    int err;

    if (!db->txn) {
        return APR_EGENERAL;
    }
    if (db->nest > 0) {
        return nested_end(db, p, ok);
    }
    if (!commit) {
        apr_dbd_transaction_mode_set(db->driver, db->txn, APR_DBD_TRANSACTION_ROLLBACK
                                     | APR_DBD_TRANSACTION_IGNORE_ERRORS);
    }
    err = apr_dbd_transaction_end(db->driver, p, db->txn);
    if (err) {
        pk_log(PK_LOG_MARK, PK_LOG_ERR, APR_EGENERAL, p, "end transaction: %s",
               apr_dbd_error(db->driver, db->handle, err));
        rv = APR_EGENERAL;
    }
    else if (!commit) {
        rv = APR_EGENERAL;
    }
    db->txn = NULL;
    db->txn_failed = 0;
    writer_leave(db);
    if (rv == APR_SUCCESS) {
        publish(db->written, p);    /* committed: now others may read them */
    }
    db->written = NULL;
    return rv;
}

apr_status_t pk_db_finish(pk_db *db, apr_pool_t *p, apr_status_t rv)
{
    apr_status_t rv2 = pk_db_end(db, p, rv == APR_SUCCESS);

    return (rv == APR_SUCCESS) ? rv2 : rv;
}

static apr_dbd_prepared_t *stmt_get(pk_db *db, apr_pool_t *p, const char *label)
{
    apr_dbd_prepared_t *stmt = apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING);

    if (!stmt) {
        pk_log(PK_LOG_MARK, PK_LOG_ERR, APR_ENOENT, p,
               "statement %s is not prepared on this connection", label);
    }
    return stmt;
}

static apr_status_t failed(pk_db *db, apr_pool_t *p, const char *label, int err)
{
    if (db->txn) {
        db->txn_failed = 1;
    }
    pk_log(PK_LOG_MARK, PK_LOG_ERR, APR_EGENERAL, p, "statement %s failed (%d): %s", label,
           err, apr_dbd_error(db->driver, db->handle, err));
    return APR_EGENERAL;
}

apr_status_t pk_db_exec(pk_db *db, apr_pool_t *p, const char *label, int *nrows,
                        const void **args)
{
    apr_dbd_prepared_t *stmt = stmt_get(db, p, label);
    int n = 0, err;

    if (!stmt) {
        return APR_ENOENT;
    }
    err = apr_dbd_pbquery(db->driver, p, db->handle, &n, stmt, args);
    if (nrows) {
        *nrows = n;
    }
    return err ? failed(db, p, label, err) : APR_SUCCESS;
}

apr_status_t pk_db_select(pk_db *db, apr_pool_t *p, const char *label,
                          apr_dbd_results_t **res, const void **args)
{
    apr_dbd_prepared_t *stmt = stmt_get(db, p, label);
    int err;

    *res = NULL;
    if (!stmt) {
        return APR_ENOENT;
    }
    /* random access: the whole result is read at once, so no cursor stays open on
     * the connection and the next statement may run before the rows are consumed */
    err = apr_dbd_pbselect(db->driver, p, db->handle, res, stmt, 1, args);
    return err ? failed(db, p, label, err) : APR_SUCCESS;
}

apr_dbd_row_t *pk_db_next(pk_db *db, apr_pool_t *p, apr_dbd_results_t *res,
                          apr_dbd_row_t *prev)
{
    apr_dbd_row_t *row = prev;

    if (apr_dbd_get_row(db->driver, p, res, &row, -1)) {
        row = NULL;
    }
    return row;
}

/* The driver's own text of a column: it lives in the result, which the pgsql driver
 * frees when the last row has been read. */
static const char *raw_str(pk_db *db, apr_dbd_row_t *row, int n)
{
    char *value = NULL;

    if (APR_SUCCESS != apr_dbd_datum_get(db->driver, row, n, APR_DBD_TYPE_STRING, &value)) {
        return NULL;
    }
    return value;
}

const char *pk_db_str(pk_db *db, apr_pool_t *p, apr_dbd_row_t *row, int n)
{
    const char *value = raw_str(db, row, n);
    return value ? apr_pstrdup(p, value) : NULL;
}

apr_int64_t pk_db_int(pk_db *db, apr_dbd_row_t *row, int n)
{
    const char *s = raw_str(db, row, n);
    return s ? apr_atoi64(s) : 0;
}

apr_status_t pk_db_one(pk_db *db, apr_pool_t *p, const char *label,
                       apr_dbd_row_t **row, const void **args)
{
    apr_dbd_results_t *res;
    apr_status_t rv;

    *row = NULL;
    if (APR_SUCCESS != (rv = pk_db_select(db, p, label, &res, args))) {
        goto leave;
    }
    *row = pk_db_next(db, p, res, NULL);
    if (!*row) {
        rv = APR_NOTFOUND;
    }
leave:
    return rv;
}

apr_status_t pk_db_sql(pk_db *db, apr_pool_t *p, const char *sql)
{
    int nrows = 0;
    int err = apr_dbd_query(db->driver, db->handle, &nrows, sql);

    if (err) {
        if (db->txn) {
            db->txn_failed = 1;
        }
        pk_log(PK_LOG_MARK, PK_LOG_ERR, APR_EGENERAL, p, "SQL failed (%s): %s",
               sql, apr_dbd_error(db->driver, db->handle, err));
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t pk_db_setting(pk_db *db, apr_pool_t *p, const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row;
    int err;

    if (db->dialect != PK_DIALECT_SQLITE) {
        return pk_db_sql(db, p, sql);
    }
    /* some PRAGMAs answer with a row, which apr_dbd_query takes for an error */
    err = apr_dbd_select(db->driver, p, db->handle, &res, sql, 1);
    if (err) {
        pk_log(PK_LOG_MARK, PK_LOG_ERR, APR_EGENERAL, p, "setting failed (%s): %s", sql,
               apr_dbd_error(db->driver, db->handle, err));
        return APR_EGENERAL;
    }
    for (row = NULL; (row = pk_db_next(db, p, res, row)); ) {
        ;
    }
    return APR_SUCCESS;
}

/* apr_dbd's process-wide mutex (exported by libaprutil, declared only in its internal
 * header): every call of its SQLite driver runs under it. */
extern apr_status_t apr_dbd_mutex_lock(void);
extern apr_status_t apr_dbd_mutex_unlock(void);

/* Sleeps between tries: 0.1 ms doubling up to 4 ms, for at most the timeout in all.
 * Short first sleeps matter: another process's write transaction lasts well under a
 * millisecond, and a writer that sleeps 8 or 16 ms after it is gone wastes the lock. */
#define BUSY_FIRST_SLEEP_US 100
#define BUSY_MAX_SLEEP_US 4000

static int busy_wait(void *baton, int count)
{
    apr_interval_time_t limit = apr_time_from_msec((int)(apr_uintptr_t)baton);
    /* 0.1, 0.2, 0.4, 0.8, 1.6, 3.2 ms, then 4 ms a try; slept: what the tries before
     * this one slept */
    apr_interval_time_t us = count < 6 ? BUSY_FIRST_SLEEP_US << count : BUSY_MAX_SLEEP_US;
    apr_interval_time_t slept = count < 6 ? BUSY_FIRST_SLEEP_US * ((1 << count) - 1)
                                          : 6300 + (apr_interval_time_t)(count - 6)
                                                   * BUSY_MAX_SLEEP_US;

    if (slept >= limit) {
        return 0;                   /* give up: SQLITE_BUSY to the caller */
    }
    apr_dbd_mutex_unlock();         /* let the lock's holder commit meanwhile */
    apr_sleep(us);
    apr_dbd_mutex_lock();
    return 1;
}

apr_status_t pk_db_tune(pk_db *db, apr_pool_t *p, int busy_timeout_ms)
{
    sqlite3 *native;

    if (db->dialect == PK_DIALECT_SQLITE
        && (native = apr_dbd_native_handle(db->driver, db->handle))) {
        sqlite3_busy_handler(native, busy_wait, (void *)(apr_uintptr_t)busy_timeout_ms);
    }
    return APR_SUCCESS;
}

const char *pk_db_error(pk_db *db, apr_pool_t *p, int err)
{
    return apr_pstrdup(p, apr_dbd_error(db->driver, db->handle, err));
}

apr_int64_t pk_db_now_ms(void)
{
    return (apr_int64_t)(apr_time_now() / 1000);
}
