/* mod_poketto — the bridge between mod_dbd and the store layer; see pk_dbd.h. */
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_main.h>
#include <unixd.h>
#include <apr_strings.h>
#include <apr_optional.h>
#include <apr_file_info.h>
#include <apr_dbd.h>
#include <mod_dbd.h>
#include <util_mutex.h>
#include <apr_global_mutex.h>

#include "mod_poketto.h"
#include "pk_log.h"
#include "pk_schema.h"
#include "pk_dbd.h"

APLOG_USE_MODULE(poketto);

static APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *dbd_prepare;
static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *dbd_acquire;
static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close;

/* The SQLite writers' gate: one lock for the writers of every child (pk_db.h), kept
 * across restarts (retained, in the process pool) so that the children of the old and
 * the new generation take turns on the same one. */
#define SQLITE_GATE_MUTEX "poketto-sqlite"
#define GATE_KEY "mod_poketto:sqlite-gate"

typedef struct {
    apr_global_mutex_t *mutex;      /* the parent's; children attach to it */
    const char *lockfile;
} gate_retained;

static gate_retained *gate;         /* set by post_config when the database is SQLite */

static apr_status_t gate_enter(void *baton)
{
    return apr_global_mutex_lock(baton);
}

static apr_status_t gate_leave(void *baton)
{
    return apr_global_mutex_unlock(baton);
}

static apr_status_t gate_gone(void *unused)
{
    pk_db_set_writer_gate(NULL, NULL, NULL);
    return APR_SUCCESS;
}

void pk_dbd_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, SQLITE_GATE_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
    dbd_prepare = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    dbd_acquire = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    dbd_open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
}

typedef struct {
    const char *driver;
    const char *params;
    apr_array_header_t *init_sql;   /* const char*, NULL-terminated when used */
} db_settings;

/* mod_dbd keeps its configuration private; the directives are read from the parsed
 * configuration tree instead (global context and containers that are not per-host or
 * per-path: one database serves the whole server). */
static void find_settings(const ap_directive_t *d, db_settings *st, apr_pool_t *p)
{
    for (; d; d = d->next) {
        /* the last one wins, as in mod_dbd */
        if (!strcasecmp(d->directive, "DBDriver")) {
            st->driver = ap_getword_conf(p, &(const char *){ d->args });
        }
        else if (!strcasecmp(d->directive, "DBDParams")) {
            st->params = ap_getword_conf(p, &(const char *){ d->args });
        }
        else if (!strcasecmp(d->directive, "DBDInitSQL")) {
            APR_ARRAY_PUSH(st->init_sql, const char *) =
                ap_getword_conf(p, &(const char *){ d->args });
        }
        else if (d->first_child && strcasecmp(d->directive, "<VirtualHost")
                 && strcasecmp(d->directive, "<Directory")
                 && strcasecmp(d->directive, "<DirectoryMatch")
                 && strcasecmp(d->directive, "<Location")
                 && strcasecmp(d->directive, "<LocationMatch")
                 && strcasecmp(d->directive, "<Files")
                 && strcasecmp(d->directive, "<FilesMatch")) {
            find_settings(d->first_child, st, p);
        }
    }
}

typedef struct {
    server_rec *s;
    pk_dialect_e dialect;
} register_ctx;

static void register_one(void *baton, const pk_stmt_def *def)
{
    register_ctx *ctx = baton;
    server_rec *sp;

    for (sp = ctx->s; sp; sp = sp->next) {
        dbd_prepare(sp, pk_db_stmt_sql(def, ctx->dialect), def->label);
    }
}

/* A SQLite file that root just created belongs to httpd's User, or the children
 * could not write it. */
static void give_sqlite_file_to_user(apr_pool_t *p, server_rec *s, const char *path)
{
    const char *suffixes[] = { "", "-wal", "-shm", NULL };
    const char *f;
    int i;

    if (geteuid() != 0) {
        return;
    }
    for (i = 0; suffixes[i]; ++i) {
        f = apr_pstrcat(p, path, suffixes[i], NULL);
        if (chown(f, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0
            && errno != ENOENT) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s, APLOGNO(10701)
                         "cannot give %s to httpd's User", f);
        }
    }
}

static apr_status_t gate_create(server_rec *s)
{
    gate_retained *g = ap_retained_data_get(GATE_KEY);
    apr_status_t rv = APR_SUCCESS;

    if (!g) {
        g = ap_retained_data_create(GATE_KEY, sizeof(*g));
    }
    if (!g->mutex) {
        /* the process pool: not cleared by restarts, gone when httpd stops */
        rv = ap_global_mutex_create(&g->mutex, &g->lockfile, SQLITE_GATE_MUTEX, NULL, s,
                                    ap_pglobal, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10708)
                         "cannot create the SQLite writers' mutex (Mutex "
                         SQLITE_GATE_MUTEX ")");
            g->mutex = NULL;
            goto leave;
        }
    }
    /* NULL with 'Mutex poketto-sqlite none': SQLite's busy handler does the waiting */
    gate = g->mutex ? g : NULL;
leave:
    return rv;
}

/* What post_config found, for child_init (in pconf: lives as long as the config). */
static const char *sqlite_file;

apr_status_t pk_dbd_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    db_settings st = { NULL, NULL, apr_array_make(ptemp, 4, sizeof(const char *)) };
    register_ctx ctx;
    apr_status_t rv = APR_SUCCESS;
    const char *why = NULL;
    pk_db *db = NULL;
    apr_pool_t *p = NULL;

    if (!dbd_prepare || !dbd_acquire || !dbd_open || !dbd_close) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10702)
                     "mod_dbd is not loaded: mod_poketto keeps its data through mod_dbd "
                     "(LoadModule dbd_module, DBDriver, DBDParams)");
        rv = APR_EGENERAL;
        goto leave;
    }
    find_settings(ap_conftree, &st, ptemp);
    if (!st.driver) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10703)
                     "no DBDriver configured: mod_poketto needs 'DBDriver sqlite3' or "
                     "'DBDriver pgsql' with DBDParams in the server configuration");
        rv = APR_EGENERAL;
        goto leave;
    }
    APR_ARRAY_PUSH(st.init_sql, const char *) = NULL;
    /* our own connection, in a pool of its own: closed as soon as the schema is right */
    if (APR_SUCCESS != (rv = apr_pool_create(&p, ptemp))) {
        goto leave;
    }
    rv = pk_db_open(p, st.driver, st.params ? st.params : "",
                    (const char *const *)st.init_sql->elts, &db, &why);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10704)
                     "database %s (%s): %s", st.driver, st.params ? st.params : "", why);
        goto leave;
    }
    ctx.s = s;
    ctx.dialect = db->dialect;
    pk_db_statements_visit(register_one, &ctx);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(10705)
                 "database %s ready at schema version %d, statements registered",
                 st.driver, pk_schema_version());
leave:
    if (p) {
        apr_pool_destroy(p);        /* closes the migration connection */
    }
    sqlite_file = NULL;
    gate = NULL;
    if (rv == APR_SUCCESS && db && db->dialect == PK_DIALECT_SQLITE && st.params) {
        give_sqlite_file_to_user(ptemp, s, st.params);
        sqlite_file = apr_pstrdup(pconf, st.params);
        rv = gate_create(s);
    }
    return rv;
}

void pk_dbd_child_init(apr_pool_t *pchild, server_rec *s)
{
    const char *why = NULL;
    pk_db *db = NULL;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row;

    if (!sqlite_file) {
        return;
    }
    if (gate) {
        if (APR_SUCCESS == apr_global_mutex_child_init(&gate->mutex, gate->lockfile, pchild)) {
            pk_db_set_writer_gate(gate_enter, gate_leave, gate->mutex);
            apr_pool_cleanup_register(pchild, NULL, gate_gone, apr_pool_cleanup_null);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10709)
                         "cannot attach to the SQLite writers' mutex; this child's writers "
                         "wait for the others in SQLite's busy handler");
        }
    }
    /* Children that start together race for SQLite's WAL index: the first opener
     * recovers it under an exclusive lock, and mod_dbd prepares its statements before
     * any busy handler can be installed, so its connections failed with "database is
     * locked" (AH00632, "child init failed"). A connection of the child's own, with
     * the busy handler, opened first and kept for the child's life, waits that out and
     * keeps the index warm, so no later connection has to recover it. */
    if (APR_SUCCESS != pk_db_open_plain(pchild, "sqlite3", sqlite_file, &db, &why)
        || apr_dbd_select(db->driver, pchild, db->handle, &res,
                          "SELECT COUNT(*) FROM sqlite_master", 1)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10707)
                     "cannot open the SQLite database %s ahead of mod_dbd: %s", sqlite_file,
                     why ? why : "query failed");
        return;
    }
    for (row = NULL; (row = pk_db_next(db, pchild, res, row)); ) {
        ;
    }
}

/* Every new connection of mod_dbd: SQLite must wait for the write lock rather than
 * fail. DBDInitSQL cannot do it: PRAGMA busy_timeout answers with a row, which
 * apr_dbd_query takes for an error, and mod_dbd skips it (and every DBDInitSQL after it)
 * without a word.
 * This runs after mod_dbd prepared the statements, so only settings that do not
 * expire prepared statements belong here (busy_timeout does not; foreign_keys does,
 * and apr_dbd's legacy sqlite3_prepare cannot recover from that). */
static apr_status_t dbd_post_connect(apr_pool_t *p, dbd_cfg_t *cfg, ap_dbd_t *dbd)
{
    pk_db *db = pk_db_wrap(p, dbd->driver, dbd->handle, dbd->prepared);
    return pk_db_tune(db, p, PK_DB_BUSY_TIMEOUT_MS);
}

void pk_dbd_register_hooks(void)
{
    APR_OPTIONAL_HOOK(dbd, post_connect, dbd_post_connect, NULL, NULL, APR_HOOK_MIDDLE);
}

pk_db *pk_dbd_acquire(request_rec *r)
{
    ap_dbd_t *dbd = dbd_acquire ? dbd_acquire(r) : NULL;

    if (!dbd) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10706)
                      "no database connection available");
        return NULL;
    }
    return pk_db_wrap(r->pool, dbd->driver, dbd->handle, dbd->prepared);
}

pk_db *pk_dbd_open(apr_pool_t *p, server_rec *s)
{
    ap_dbd_t *dbd = dbd_open ? dbd_open(p, s) : NULL;
    pk_db *db = NULL;

    if (dbd) {
        db = pk_db_wrap(p, dbd->driver, dbd->handle, dbd->prepared);
        db->owner = dbd;            /* given back by pk_dbd_close */
    }
    return db;
}

void pk_dbd_close(server_rec *s, pk_db *db)
{
    if (db && dbd_close) {
        dbd_close(s, db->owner);
    }
}
