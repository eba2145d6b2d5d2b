/* test_store.c - unit tests of src/store against real SQLite databases (TAP).
 *
 * Every test case works in its own subpool and its own database file inside a fresh
 * temporary directory (removed at the end); the files are opened with pk_db_open(),
 * as the admin tool and the start-up migration do. A few checks look at tables the
 * store has no public statement for (events, tasks, item_tags, pk_schema) with plain
 * apr_dbd_select() on the connection: fine in a test.
 *
 * Set PK_TEST_VERBOSE=1 to see what the store logs (as TAP comments); by default the
 * messages are only counted, since many checks provoke errors on purpose.
 *
 * It also pins three bugs found here and fixed in src/store: two processes opening a
 * fresh SQLite file at once, a connection poisoned by a failed pk_db_begin, threads of
 * one process stalling for the busy timeout under apr_dbd's process-wide mutex.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_dbd.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include "pk_test.h"
#include "pk_log.h"
#include "pk_secret.h"
#include "pk_db.h"
#include "pk_schema.h"
#include "pk_users.h"
#include "pk_credentials.h"
#include "pk_items.h"
#include "pk_group.h"
#include "pk_tags.h"
#include "pk_tasks.h"
#include "pk_events.h"

#define I64 "%" APR_INT64_T_FMT

/* the temporary directory of this run */
static const char *tmpdir;

/* ------------------------------------------------------------------------------ */
/* log capture                                                                      */

static struct {
    apr_thread_mutex_t *mutex;
    int verbose;
    int errors;                     /* messages at PK_LOG_ERR or worse */
    int migrations;                 /* "database schema migrated" notices */
} logs;

static void log_sink(void *baton, const char *file, int line, int level, apr_status_t rv,
                     const char *msg)
{
    if (logs.mutex)
        apr_thread_mutex_lock(logs.mutex);
    if (level <= PK_LOG_ERR)
        ++logs.errors;
    if (strstr(msg, "database schema migrated to version"))
        ++logs.migrations;
    if (logs.verbose) {
        printf("# log(%d) %s:%d: %s\n", level, file, line, msg);
        fflush(stdout);
    }
    if (logs.mutex)
        apr_thread_mutex_unlock(logs.mutex);
}

static int log_enabled(void *baton, int level)
{
    return 1;
}

/* ------------------------------------------------------------------------------ */
/* helpers                                                                          */

static const char *db_path(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, tmpdir, "/", name, NULL);
}

/* Open (and migrate) database file name of the temporary directory; NULL on failure. */
static pk_db *open_db(apr_pool_t *p, const char *name)
{
    pk_db *db = NULL;
    const char *why = NULL;

    if (pk_db_open(p, "sqlite3", db_path(p, name), NULL, &db, &why) != APR_SUCCESS) {
        printf("# pk_db_open(%s) failed: %s\n", name, why ? why : "(no reason)");
        return NULL;
    }
    return db;
}

/* The first column of the first row of plain SQL as an integer; -1 on error or no row. */
static apr_int64_t sql_int(pk_db *db, apr_pool_t *p, const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row;
    apr_int64_t v = -1;
    int first = 1;

    if (apr_dbd_select(db->driver, p, db->handle, &res, sql, 1) != 0) {
        printf("# SQL failed: %s\n", sql);
        return -1;
    }
    for (row = NULL; (row = pk_db_next(db, p, res, row)); ) {
        if (first)
            v = pk_db_int(db, row, 0);
        first = 0;
    }
    return v;
}

/* The first column of every row of plain SQL joined by ","; NULL on error. */
static const char *sql_list(pk_db *db, apr_pool_t *p, const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row;
    const char *out = "", *v;

    if (apr_dbd_select(db->driver, p, db->handle, &res, sql, 1) != 0) {
        printf("# SQL failed: %s\n", sql);
        return NULL;
    }
    for (row = NULL; (row = pk_db_next(db, p, res, row)); ) {
        v = pk_db_str(db, p, row, 0);
        out = apr_pstrcat(p, out, *out ? "," : "", v ? v : "NULL", NULL);
    }
    return out;
}

/* The types of the events of an item, oldest first, joined by ",". */
static const char *events_of(pk_db *db, apr_pool_t *p, apr_int64_t item_id)
{
    return sql_list(db, p, apr_psprintf(p, "SELECT type FROM events WHERE item_id = " I64
                                        " ORDER BY id", item_id));
}

static apr_int64_t rows_for_item(pk_db *db, apr_pool_t *p, const char *table,
                                 apr_int64_t item_id)
{
    return sql_int(db, p, apr_psprintf(p, "SELECT COUNT(*) FROM %s WHERE item_id = " I64,
                                       table, item_id));
}

/* An array of const char* from "a,b,c" ("" gives an empty array). */
static apr_array_header_t *strs(apr_pool_t *p, const char *csv)
{
    apr_array_header_t *a = apr_array_make(p, 4, sizeof(const char *));
    char *s = apr_pstrdup(p, csv), *last = NULL, *tok;

    for (tok = apr_strtok(s, ",", &last); tok; tok = apr_strtok(NULL, ",", &last))
        APR_ARRAY_PUSH(a, const char *) = tok;
    return a;
}

/* Strings of an array (const char*) joined by ","; "(null)" for a NULL array. */
static const char *joined(apr_pool_t *p, const apr_array_header_t *a)
{
    const char *out = "";
    int i;

    if (!a)
        return "(null)";
    for (i = 0; i < a->nelts; ++i)
        out = apr_pstrcat(p, out, i ? "," : "", APR_ARRAY_IDX(a, i, const char *), NULL);
    return out;
}

/* A user's tags as "name:count,...". */
static const char *tags_listed(pk_db *db, apr_pool_t *p, apr_int64_t user_id)
{
    apr_array_header_t *tags = NULL;
    const char *out = "";
    pk_tag *t;
    int i;

    if (pk_tags_list(db, p, user_id, &tags) != APR_SUCCESS)
        return "(error)";
    for (i = 0; i < tags->nelts; ++i) {
        t = APR_ARRAY_IDX(tags, i, pk_tag *);
        out = apr_psprintf(p, "%s%s%s:" I64, out, i ? "," : "", t->name, t->count);
    }
    return out;
}

/* The tags of one of a user's items, joined by ","; "(error)" if it cannot be read. */
static const char *item_tags(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                             apr_int64_t id)
{
    pk_item *it = NULL;

    if (pk_item_get(db, p, user_id, id, &it) != APR_SUCCESS)
        return "(error)";
    return joined(p, it->tags);
}

static apr_int64_t new_user(pk_db *db, apr_pool_t *p, const char *login)
{
    pk_user *u = NULL;

    if (pk_user_create(db, p, login, NULL, &u) != APR_SUCCESS || !u) {
        printf("# cannot create user %s\n", login);
        return 0;
    }
    return u->id;
}

/* Save url for a user with tags "a,b" (NULL: none); the item's id, 0 on failure. */
static apr_int64_t save(pk_db *db, apr_pool_t *p, apr_int64_t user_id, const char *url,
                        const char *tags)
{
    pk_item *it = NULL;
    apr_int64_t task = 0;
    int existing = 0;

    if (pk_item_save(db, p, user_id, url, url, NULL, tags ? strs(p, tags) : NULL, NULL, &it,
                     &task, &existing) != APR_SUCCESS || !it) {
        printf("# cannot save %s\n", url);
        return 0;
    }
    return it->id;
}

static const char *ids_of(apr_pool_t *p, const apr_array_header_t *items)
{
    const char *out = "";
    int i;

    for (i = 0; i < items->nelts; ++i)
        out = apr_psprintf(p, "%s%s" I64, out, i ? "," : "",
                           APR_ARRAY_IDX(items, i, pk_item *)->id);
    return out;
}

/* Whether every item of a list belongs to user_id. */
static int all_owned(const apr_array_header_t *items, apr_int64_t user_id)
{
    int i;

    for (i = 0; i < items->nelts; ++i)
        if (APR_ARRAY_IDX(items, i, pk_item *)->user_id != user_id)
            return 0;
    return 1;
}

static pk_item_query query(int archived, int favorite, const char *tag,
                           apr_int64_t since_ms, int newest_first, apr_int64_t after_id,
                           int limit)
{
    pk_item_query q;

    memset(&q, 0, sizeof(q));
    q.archived = archived;
    q.favorite = favorite;
    q.tag = tag;
    q.since_ms = since_ms;
    q.newest_first = newest_first;
    q.after_id = after_id;
    q.limit = limit;
    return q;
}

/* ------------------------------------------------------------------------------ */
/* migrations                                                                       */

static void test_open(apr_pool_t *parent)
{
    apr_pool_t *p, *p1, *p2;
    pk_db *db = NULL, *db1, *db2;
    pk_user *u = NULL;
    const char *why = NULL;
    apr_status_t rv;
    apr_int64_t n = -1;
    int version = pk_schema_version(), before;

    apr_pool_create(&p, parent);

    rv = pk_db_open(p, "mysql", db_path(p, "x.db"), NULL, &db, &why);
    PK_TEST_INT(rv, APR_ENOTIMPL, "open: unsupported driver is refused");
    PK_TEST_OK(db == NULL, "open: no handle for an unsupported driver");
    PK_TEST_OK(why && strstr(why, "mysql"), "open: why names the unsupported driver");

    PK_TEST_OK(version >= 1, "schema: this build needs at least version 1");

    apr_pool_create(&p1, p);
    before = logs.migrations;
    why = "unset";
    rv = pk_db_open(p1, "sqlite3", db_path(p, "open.db"), NULL, &db1, &why);
    PK_TEST_INT(rv, APR_SUCCESS, "open: a fresh database opens");
    if (rv != APR_SUCCESS || !db1) {
        apr_pool_destroy(p);
        return;
    }
    PK_TEST_OK(why == NULL, "open: why is NULL on success");
    PK_TEST_INT(db1->dialect, PK_DIALECT_SQLITE, "open: sqlite3 dialect");
    PK_TEST_OK(db1->txn == NULL, "open: no transaction left open by the migration");
    PK_TEST_INT(logs.migrations - before, version, "open: each migration applied once");
    PK_TEST_INT(sql_int(db1, p1, "SELECT COUNT(*) FROM pk_schema"), version,
                "open: one pk_schema row per version");
    PK_TEST_INT(sql_int(db1, p1, "SELECT MAX(version) FROM pk_schema"), version,
                "open: pk_schema at this build's version");
    PK_TEST_STR(sql_list(db1, p1, "PRAGMA journal_mode"), "wal", "open: WAL mode");
    PK_TEST_INT(sql_int(db1, p1, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
                        " AND name IN ('users','sessions','tokens','items','tags',"
                        "'item_tags','tasks','events')"), 8,
                "open: the eight tables exist");
    PK_TEST_INT(pk_user_create(db1, p1, "alice", "h", &u), APR_SUCCESS,
                "open: a user in the first connection");

    /* a second connection on the same file, the first still open */
    apr_pool_create(&p2, p);
    before = logs.migrations;
    rv = pk_db_open(p2, "sqlite3", db_path(p, "open.db"), NULL, &db2, &why);
    PK_TEST_INT(rv, APR_SUCCESS, "reopen: a second pk_db_open on the same file succeeds");
    if (rv == APR_SUCCESS && db2) {
        PK_TEST_INT(logs.migrations - before, 0, "reopen: no migration applied again");
        PK_TEST_INT(sql_int(db2, p2, "SELECT COUNT(*) FROM pk_schema"), version,
                    "reopen: pk_schema rows unchanged");
        PK_TEST_INT(sql_int(db2, p2, "SELECT MAX(version) FROM pk_schema"), version,
                    "reopen: version unchanged");
        PK_TEST_INT(pk_user_count(db2, p2, &n), APR_SUCCESS, "reopen: count users");
        PK_TEST_INT(n, 1, "reopen: the data is still there");
        PK_TEST_INT(pk_user_by_login(db2, p2, "alice", &u), APR_SUCCESS,
                    "reopen: the first connection's user is visible");
    }
    apr_pool_destroy(p2);
    apr_pool_destroy(p1);

    /* both closed: open again */
    apr_pool_create(&p1, p);
    before = logs.migrations;
    db1 = open_db(p1, "open.db");
    PK_TEST_OK(db1 != NULL, "reopen after close succeeds");
    if (db1) {
        PK_TEST_INT(logs.migrations - before, 0, "reopen after close: no migration");
        PK_TEST_INT(sql_int(db1, p1, "SELECT COUNT(*) FROM pk_schema"), version,
                    "reopen after close: pk_schema rows unchanged");
        PK_TEST_INT(pk_user_count(db1, p1, &n), APR_SUCCESS, "reopen after close: count");
        PK_TEST_INT(n, 1, "reopen after close: one user");

        /* a newer build migrated this database: this one must refuse it */
        PK_TEST_INT(pk_db_sql(db1, p, "INSERT INTO pk_schema (version, applied_ms)"
                                   " VALUES (999, 0)"), APR_SUCCESS,
                    "newer: record schema version 999");
    }
    apr_pool_destroy(p1);

    apr_pool_create(&p1, p);
    db = (pk_db *)&db;              /* must be reset */
    why = NULL;
    before = logs.migrations;
    rv = pk_db_open(p1, "sqlite3", db_path(p, "open.db"), NULL, &db, &why);
    PK_TEST_OK(rv != APR_SUCCESS, "newer: a database of version 999 is refused");
    PK_TEST_OK(db == NULL, "newer: no handle");
    PK_TEST_OK(why && strstr(why, "999"), "newer: why mentions version 999");
    PK_TEST_OK(why && strstr(why, "newer"), "newer: why says it is newer");
    PK_TEST_OK(why && strstr(why, apr_psprintf(p, "%d", version)),
               "newer: why mentions this build's version");
    if (why)
        printf("# why: %s\n", why);
    PK_TEST_INT(logs.migrations - before, 0, "newer: nothing migrated");
    apr_pool_destroy(p1);

    /* look at the refused file with a raw connection: untouched */
    {
        const apr_dbd_driver_t *driver = NULL;
        apr_dbd_t *handle = NULL;
        pk_db *raw;

        apr_pool_create(&p1, p);
        if (apr_dbd_get_driver(p1, "sqlite3", &driver) == APR_SUCCESS
            && apr_dbd_open(driver, p1, db_path(p1, "open.db"), &handle) == APR_SUCCESS) {
            const char *versions = "";
            int v;

            for (v = 1; v <= version; ++v)
                versions = apr_psprintf(p1, "%s%d,", versions, v);
            raw = pk_db_wrap(p1, driver, handle, apr_hash_make(p1));
            PK_TEST_STR(sql_list(raw, p1, "SELECT version FROM pk_schema ORDER BY version"),
                        apr_pstrcat(p1, versions, "999", NULL),
                        "newer: pk_schema untouched by the refusal");
            PK_TEST_INT(sql_int(raw, p1, "SELECT COUNT(*) FROM users"), 1,
                        "newer: data untouched by the refusal");
            apr_dbd_close(driver, handle);
        }
        else {
            PK_TEST_OK(0, "newer: raw connection to the refused file");
        }
        apr_pool_destroy(p1);
    }

    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------------------ */
/* users                                                                            */

static void test_users(apr_pool_t *parent)
{
    apr_pool_t *p;
    pk_db *db;
    pk_user *u = NULL, *alice = NULL, *bob = NULL, *carol = NULL;
    apr_int64_t n = -1;
    const char *bcrypt = NULL;

    apr_pool_create(&p, parent);
    db = open_db(p, "users.db");
    PK_TEST_OK(db != NULL, "users: open");
    if (!db) {
        apr_pool_destroy(p);
        return;
    }

    PK_TEST_INT(pk_user_count(db, p, &n), APR_SUCCESS, "users: count on empty database");
    PK_TEST_INT(n, 0, "users: no accounts yet");

    PK_TEST_INT(pk_user_create(db, p, "alice", "hash1", &alice), APR_SUCCESS,
                "users: create alice");
    PK_TEST_OK(alice && alice->id > 0, "users: alice has an id");
    PK_TEST_STR(alice ? alice->login : NULL, "alice", "users: alice's login");
    PK_TEST_STR(alice ? alice->password_hash : NULL, "hash1", "users: alice's hash");
    if (!alice) {
        apr_pool_destroy(p);
        return;
    }

    u = alice;
    PK_TEST_INT(pk_user_create(db, p, "alice", "other", &u), APR_EEXIST,
                "users: duplicate login -> APR_EEXIST");
    PK_TEST_OK(u == NULL, "users: no user on APR_EEXIST");

    PK_TEST_INT(pk_user_create(db, p, "bob", NULL, &bob), APR_SUCCESS, "users: create bob");
    PK_TEST_OK(bob && bob->id > 0 && bob->id != alice->id, "users: bob has his own id");
    PK_TEST_STR(bob ? bob->password_hash : "x", NULL, "users: bob has no password");

    PK_TEST_INT(pk_user_by_login(db, p, "alice", &u), APR_SUCCESS, "users: by_login alice");
    PK_TEST_INT(u ? u->id : 0, alice->id, "users: by_login gives alice's id");
    PK_TEST_STR(u ? u->login : NULL, "alice", "users: by_login gives the login");
    PK_TEST_STR(u ? u->password_hash : NULL, "hash1",
                "users: by_login gives the stored hash");
    PK_TEST_INT(pk_user_by_login(db, p, "bob", &u), APR_SUCCESS, "users: by_login bob");
    PK_TEST_STR(u ? u->password_hash : "x", NULL, "users: bob's hash is NULL (SQL NULL)");
    u = alice;
    PK_TEST_INT(pk_user_by_login(db, p, "nobody", &u), APR_NOTFOUND,
                "users: by_login unknown -> APR_NOTFOUND");
    PK_TEST_OK(u == NULL, "users: no user when not found");

    PK_TEST_INT(pk_user_ensure(db, p, "carol", &carol), APR_SUCCESS,
                "users: ensure creates carol");
    PK_TEST_OK(carol && carol->id > 0, "users: carol has an id");
    PK_TEST_STR(carol ? carol->password_hash : "x", NULL,
                "users: ensured account has no password");
    PK_TEST_INT(pk_user_count(db, p, &n), APR_SUCCESS, "users: count");
    PK_TEST_INT(n, 3, "users: three accounts");
    PK_TEST_INT(pk_user_ensure(db, p, "carol", &u), APR_SUCCESS, "users: ensure carol again");
    PK_TEST_INT(u ? u->id : 0, carol ? carol->id : -1, "users: ensure gives the same id");
    PK_TEST_INT(pk_user_count(db, p, &n), APR_SUCCESS, "users: count again");
    PK_TEST_INT(n, 3, "users: ensure of an existing login creates nothing");
    PK_TEST_INT(pk_user_ensure(db, p, "alice", &u), APR_SUCCESS, "users: ensure alice");
    PK_TEST_INT(u ? u->id : 0, alice->id, "users: ensure of alice gives alice");
    PK_TEST_STR(u ? u->password_hash : NULL, "hash1", "users: ensure keeps the password");

    PK_TEST_INT(pk_password_hash(p, "s3cret", 4, &bcrypt), APR_SUCCESS, "users: bcrypt hash");
    PK_TEST_INT(pk_user_set_password(db, p, alice->id, bcrypt), APR_SUCCESS,
                "users: set_password");
    PK_TEST_INT(pk_user_by_login(db, p, "alice", &u), APR_SUCCESS, "users: re-read alice");
    PK_TEST_STR(u ? u->password_hash : NULL, bcrypt, "users: new hash stored verbatim");
    PK_TEST_OK(u && pk_password_check("s3cret", u->password_hash),
               "users: stored hash checks the password");
    PK_TEST_INT(pk_user_set_password(db, p, bob ? bob->id : 0, "bobhash"), APR_SUCCESS,
                "users: set_password for a passwordless account");
    PK_TEST_INT(pk_user_by_login(db, p, "bob", &u), APR_SUCCESS, "users: re-read bob");
    PK_TEST_STR(u ? u->password_hash : NULL, "bobhash", "users: bob has a password now");
    PK_TEST_INT(pk_user_by_login(db, p, "alice", &u), APR_SUCCESS, "users: alice again");
    PK_TEST_STR(u ? u->password_hash : NULL, bcrypt, "users: only bob's hash changed");
    PK_TEST_INT(pk_user_set_password(db, p, 999999, "x"), APR_NOTFOUND,
                "users: set_password of an unknown id -> APR_NOTFOUND");
    PK_TEST_INT(pk_user_count(db, p, &n), APR_SUCCESS, "users: final count");
    PK_TEST_INT(n, 3, "users: still three accounts");

    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------------------ */
/* sessions and tokens                                                              */

static void test_sessions(apr_pool_t *parent)
{
    apr_pool_t *p;
    pk_db *db;
    pk_session *s = NULL;
    apr_int64_t alice, now;
    const char *secret = NULL, *live, *dead, *other;

    apr_pool_create(&p, parent);
    db = open_db(p, "sessions.db");
    PK_TEST_OK(db != NULL, "sessions: open");
    if (!db) {
        apr_pool_destroy(p);
        return;
    }
    alice = new_user(db, p, "alice");
    pk_secret_token(p, "s_", 32, &secret);
    live = pk_secret_hash(p, secret);
    pk_secret_token(p, "s_", 32, &secret);
    dead = pk_secret_hash(p, secret);
    pk_secret_token(p, "s_", 32, &secret);
    other = pk_secret_hash(p, secret);
    now = pk_db_now_ms();

    PK_TEST_INT(pk_session_create(db, p, alice, live, "csrf1", now + 3600000), APR_SUCCESS,
                "sessions: create");
    PK_TEST_INT(pk_session_lookup(db, p, live, &s), APR_SUCCESS, "sessions: lookup");
    PK_TEST_OK(s && s->id > 0, "sessions: has an id");
    PK_TEST_INT(s ? s->user_id : 0, alice, "sessions: user id");
    PK_TEST_STR(s ? s->login : NULL, "alice", "sessions: login");
    PK_TEST_STR(s ? s->csrf : NULL, "csrf1", "sessions: csrf token");
    PK_TEST_INT(s ? s->expires_ms : 0, now + 3600000, "sessions: expiry");
    s = (pk_session *)&s;
    PK_TEST_INT(pk_session_lookup(db, p, other, &s), APR_NOTFOUND,
                "sessions: unknown hash -> APR_NOTFOUND");
    PK_TEST_OK(s == NULL, "sessions: no session when not found");
    PK_TEST_INT(pk_session_lookup(db, p, secret, &s), APR_NOTFOUND,
                "sessions: the secret itself is not a key (only its hash is)");

    PK_TEST_INT(pk_session_create(db, p, alice, dead, "csrf2", now - 1000), APR_SUCCESS,
                "sessions: create an expired one");
    PK_TEST_INT(pk_session_lookup(db, p, dead, &s), APR_NOTFOUND,
                "sessions: expired session not found");
    PK_TEST_OK(pk_session_create(db, p, alice, live, "csrf3", now + 1000) != APR_SUCCESS,
               "sessions: a second session with the same hash is refused");
    PK_TEST_INT(sql_int(db, p, "SELECT COUNT(*) FROM sessions"), 2, "sessions: two rows");
    PK_TEST_INT(pk_session_purge(db, p), APR_SUCCESS, "sessions: purge");
    PK_TEST_STR(sql_list(db, p, "SELECT csrf FROM sessions"), "csrf1",
                "sessions: purge removed only the expired one");
    PK_TEST_INT(pk_session_lookup(db, p, live, &s), APR_SUCCESS,
                "sessions: live session survives the purge");

    PK_TEST_INT(pk_session_delete(db, p, live), APR_SUCCESS, "sessions: delete (logout)");
    PK_TEST_INT(pk_session_lookup(db, p, live, &s), APR_NOTFOUND,
                "sessions: deleted session not found");
    PK_TEST_INT(sql_int(db, p, "SELECT COUNT(*) FROM sessions"), 0, "sessions: no rows left");

    apr_pool_destroy(p);
}

static void test_tokens(apr_pool_t *parent)
{
    apr_pool_t *p;
    pk_db *db;
    pk_token *t = NULL, *laptop = NULL, *phone = NULL, *cli = NULL;
    apr_array_header_t *list = NULL;
    apr_int64_t alice, bob, t0, t1;
    const char *secret = NULL, *h1, *h2, *h3;

    apr_pool_create(&p, parent);
    db = open_db(p, "tokens.db");
    PK_TEST_OK(db != NULL, "tokens: open");
    if (!db) {
        apr_pool_destroy(p);
        return;
    }
    alice = new_user(db, p, "alice");
    bob = new_user(db, p, "bob");
    pk_secret_token(p, "pk_", 32, &secret);
    h1 = pk_secret_hash(p, secret);
    pk_secret_token(p, "pk_", 32, &secret);
    h2 = pk_secret_hash(p, secret);
    pk_secret_token(p, "pk_", 32, &secret);
    h3 = pk_secret_hash(p, secret);

    t0 = pk_db_now_ms();
    PK_TEST_INT(pk_token_create(db, p, alice, "laptop", h1, &laptop), APR_SUCCESS,
                "tokens: create laptop");
    t1 = pk_db_now_ms();
    if (!laptop) {
        apr_pool_destroy(p);
        return;
    }
    PK_TEST_OK(laptop->id > 0, "tokens: id");
    PK_TEST_INT(laptop->user_id, alice, "tokens: user id");
    PK_TEST_STR(laptop->name, "laptop", "tokens: name");
    PK_TEST_OK(laptop->created_ms >= t0 && laptop->created_ms <= t1, "tokens: created now");
    PK_TEST_INT(laptop->last_used_ms, 0, "tokens: never used");
    PK_TEST_INT(pk_token_create(db, p, alice, "phone", h2, &phone), APR_SUCCESS,
                "tokens: create phone");
    PK_TEST_INT(pk_token_create(db, p, bob, "cli", h3, &cli), APR_SUCCESS,
                "tokens: create bob's");
    t = (pk_token *)&t;
    PK_TEST_OK(pk_token_create(db, p, bob, "dup", h1, &t) != APR_SUCCESS,
               "tokens: a second token with the same hash is refused");
    PK_TEST_OK(t == NULL, "tokens: no token when refused");

    PK_TEST_INT(pk_token_lookup(db, p, h1, &t), APR_SUCCESS, "tokens: lookup");
    PK_TEST_INT(t ? t->id : 0, laptop->id, "tokens: lookup id");
    PK_TEST_INT(t ? t->user_id : 0, alice, "tokens: lookup user");
    PK_TEST_STR(t ? t->login : NULL, "alice", "tokens: lookup login");
    PK_TEST_STR(t ? t->name : NULL, "laptop", "tokens: lookup name");
    PK_TEST_INT(t ? t->created_ms : 0, laptop->created_ms, "tokens: lookup created_ms");
    PK_TEST_INT(t ? t->last_used_ms : -1, 0, "tokens: lookup last_used_ms (never)");
    t = (pk_token *)&t;
    PK_TEST_INT(pk_token_lookup(db, p, "0123456789abcdef", &t), APR_NOTFOUND,
                "tokens: unknown hash -> APR_NOTFOUND");
    PK_TEST_OK(t == NULL, "tokens: no token when not found");

    t0 = pk_db_now_ms();
    PK_TEST_INT(pk_token_touch(db, p, laptop->id), APR_SUCCESS, "tokens: touch");
    t1 = pk_db_now_ms();
    PK_TEST_INT(pk_token_lookup(db, p, h1, &t), APR_SUCCESS, "tokens: lookup after touch");
    PK_TEST_OK(t && t->last_used_ms >= t0 && t->last_used_ms <= t1,
               "tokens: last_used_ms is now");
    PK_TEST_INT(pk_token_lookup(db, p, h2, &t), APR_SUCCESS, "tokens: lookup phone");
    PK_TEST_INT(t ? t->last_used_ms : -1, 0, "tokens: touch changed only that token");

    PK_TEST_INT(pk_token_list(db, p, alice, &list), APR_SUCCESS, "tokens: list alice's");
    PK_TEST_INT(list ? list->nelts : -1, 2, "tokens: alice has two");
    if (list && list->nelts == 2) {
        PK_TEST_STR(APR_ARRAY_IDX(list, 0, pk_token *)->name, "laptop",
                    "tokens: oldest first");
        PK_TEST_STR(APR_ARRAY_IDX(list, 1, pk_token *)->name, "phone", "tokens: then phone");
        PK_TEST_INT(APR_ARRAY_IDX(list, 1, pk_token *)->id, phone ? phone->id : 0,
                    "tokens: listed id");
        PK_TEST_STR(APR_ARRAY_IDX(list, 0, pk_token *)->login, "alice",
                    "tokens: listed login");
        PK_TEST_OK(APR_ARRAY_IDX(list, 0, pk_token *)->last_used_ms > 0,
                   "tokens: listed last use");
    }
    PK_TEST_INT(pk_token_list(db, p, bob, &list), APR_SUCCESS, "tokens: list bob's");
    PK_TEST_STR(list && list->nelts == 1 ? APR_ARRAY_IDX(list, 0, pk_token *)->name : NULL,
                "cli", "tokens: bob has only his own");
    PK_TEST_INT(pk_token_list(db, p, 999999, &list), APR_SUCCESS,
                "tokens: list of an unknown user");
    PK_TEST_INT(list ? list->nelts : -1, 0, "tokens: empty list");

    PK_TEST_INT(pk_token_delete(db, p, bob, laptop->id), APR_NOTFOUND,
                "tokens: deleting another user's token -> APR_NOTFOUND");
    PK_TEST_INT(pk_token_lookup(db, p, h1, &t), APR_SUCCESS,
                "tokens: the other user's token is still there");
    PK_TEST_INT(pk_token_delete(db, p, alice, laptop->id), APR_SUCCESS, "tokens: delete");
    PK_TEST_INT(pk_token_lookup(db, p, h1, &t), APR_NOTFOUND,
                "tokens: revoked token not found");
    PK_TEST_INT(pk_token_delete(db, p, alice, laptop->id), APR_NOTFOUND,
                "tokens: delete again -> APR_NOTFOUND");
    PK_TEST_INT(pk_token_list(db, p, alice, &list), APR_SUCCESS, "tokens: list after delete");
    PK_TEST_STR(list && list->nelts == 1 ? APR_ARRAY_IDX(list, 0, pk_token *)->name : NULL,
                "phone", "tokens: only phone left");
    PK_TEST_INT(pk_token_lookup(db, p, h3, &t), APR_SUCCESS, "tokens: bob's token unharmed");

    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------------------ */
/* items: save, get                                                                 */

static void test_item_save(apr_pool_t *parent)
{
    apr_pool_t *p;
    pk_db *db;
    pk_item *it = NULL, *again = NULL;
    pk_task *task = NULL;
    apr_int64_t alice, bob, task_id = -1, t0, t1, id;
    int existing = -1;
    const char *url = "https://example.com/a";

    apr_pool_create(&p, parent);
    db = open_db(p, "save.db");
    PK_TEST_OK(db != NULL, "save: open");
    if (!db) {
        apr_pool_destroy(p);
        return;
    }
    alice = new_user(db, p, "alice");
    bob = new_user(db, p, "bob");

    t0 = pk_db_now_ms();
    PK_TEST_INT(pk_item_save(db, p, alice, url, "HTTPS://Example.com/a#top", NULL,
                             strs(p, "news,art,tech"), NULL, &it, &task_id, &existing),
                APR_SUCCESS, "save: new url");
    t1 = pk_db_now_ms();
    if (!it) {
        apr_pool_destroy(p);
        return;
    }
    id = it->id;
    PK_TEST_OK(id > 0, "save: item id");
    PK_TEST_OK(task_id > 0, "save: a fetch task was queued");
    PK_TEST_INT(existing, 0, "save: not existing");
    PK_TEST_INT(it->user_id, alice, "save: owner");
    PK_TEST_STR(it->url, url, "save: canonical url");
    PK_TEST_STR(it->given_url, "HTTPS://Example.com/a#top", "save: given url kept");
    PK_TEST_STR(it->state, "pending", "save: state pending");
    PK_TEST_STR(it->title, NULL, "save: no title yet");
    PK_TEST_STR(it->user_title, NULL, "save: no user title");
    PK_TEST_STR(it->excerpt, NULL, "save: no excerpt");
    PK_TEST_STR(it->error, NULL, "save: no error");
    PK_TEST_INT(it->archived, 0, "save: unread");
    PK_TEST_INT(it->favorite, 0, "save: not favorite");
    PK_TEST_OK(it->progress == 0.0, "save: progress 0");
    PK_TEST_STR(joined(p, it->tags), "art,news,tech", "save: tags sorted");
    PK_TEST_OK(it->created_ms >= t0 && it->created_ms <= t1, "save: created now");
    PK_TEST_INT(it->updated_ms, it->created_ms, "save: updated = created");
    PK_TEST_STR(it->final_url, NULL, "save: not fetched: no final url");
    PK_TEST_INT(it->word_count, 0, "save: not fetched: no words");
    PK_TEST_INT(it->fetched_ms, 0, "save: not fetched: no fetch time");

    PK_TEST_INT(pk_task_get(db, p, alice, task_id, &task), APR_SUCCESS, "save: task exists");
    PK_TEST_INT(task ? task->item_id : 0, id, "save: task is for the item");
    PK_TEST_STR(task ? task->kind : NULL, "fetch", "save: task kind");
    PK_TEST_STR(task ? task->state : NULL, "queued", "save: task queued");
    PK_TEST_INT(task ? task->attempts : -1, 0, "save: no attempts yet");
    PK_TEST_INT(pk_task_get(db, p, bob, task_id, &task), APR_NOTFOUND,
                "save: another user cannot see the task");
    PK_TEST_INT(rows_for_item(db, p, "tasks", id), 1, "save: one task row");
    PK_TEST_STR(events_of(db, p, id), "item.saved", "save: item.saved event");

    /* the same canonical url again: same item, tags merged, no new task */
    PK_TEST_INT(pk_item_save(db, p, alice, url, "http://EXAMPLE.com/a", "ignored",
                             strs(p, "zen,art"), NULL, &again, &task_id, &existing),
                APR_SUCCESS, "save again: ok");
    PK_TEST_INT(existing, 1, "save again: existing");
    PK_TEST_INT(task_id, 0, "save again: no task id");
    PK_TEST_INT(again ? again->id : 0, id, "save again: same id");
    PK_TEST_STR(again ? joined(p, again->tags) : NULL, "art,news,tech,zen",
                "save again: tags merged, sorted, no duplicate");
    PK_TEST_STR(again ? again->given_url : NULL, "HTTPS://Example.com/a#top",
                "save again: first given url kept");
    PK_TEST_OK(again && again->updated_ms >= it->updated_ms, "save again: updated_ms moved");
    PK_TEST_INT(again ? again->created_ms : 0, it->created_ms, "save again: created_ms kept");
    PK_TEST_INT(rows_for_item(db, p, "tasks", id), 1, "save again: still one task");
    PK_TEST_STR(events_of(db, p, id), "item.saved,item.updated",
                "save again: item.updated event for the new tag");
    PK_TEST_INT(sql_int(db, p, "SELECT COUNT(*) FROM items"), 1, "save again: one item row");

    /* nothing new: no event */
    PK_TEST_INT(pk_item_save(db, p, alice, url, url, NULL, strs(p, "tech"), NULL, &again,
                             &task_id, &existing), APR_SUCCESS, "save known tag: ok");
    PK_TEST_INT(existing, 1, "save known tag: existing");
    PK_TEST_STR(again ? joined(p, again->tags) : NULL, "art,news,tech,zen",
                "save known tag: tags unchanged");
    PK_TEST_STR(events_of(db, p, id), "item.saved,item.updated",
                "save known tag: no event");
    PK_TEST_INT(pk_item_save(db, p, alice, url, url, NULL, NULL, NULL, &again, &task_id,
                             &existing), APR_SUCCESS, "save without tags: ok");
    PK_TEST_INT(again ? again->id : 0, id, "save without tags: same item");
    PK_TEST_STR(again ? joined(p, again->tags) : NULL, "art,news,tech,zen",
                "save without tags: tags kept");
    PK_TEST_STR(events_of(db, p, id), "item.saved,item.updated",
                "save without tags: no event");

    /* the client sends the page itself: a new task carries it, the item is pending */
    pk_db_sql(db, p, apr_psprintf(p, "UPDATE items SET state = 'ready' WHERE id = " I64, id));
    PK_TEST_INT(pk_item_save(db, p, alice, url, url, NULL, NULL, "<p>page</p>", &again,
                             &task_id, &existing), APR_SUCCESS, "save with page: ok");
    PK_TEST_INT(existing, 1, "save with page: existing");
    PK_TEST_INT(again ? again->id : 0, id, "save with page: same item");
    PK_TEST_OK(task_id > 0, "save with page: a new task");
    PK_TEST_STR(again ? again->state : NULL, "pending", "save with page: pending again");
    PK_TEST_INT(rows_for_item(db, p, "tasks", id), 2, "save with page: two task rows");
    PK_TEST_STR(sql_list(db, p, apr_psprintf(p, "SELECT input_html FROM tasks WHERE id = "
                                                I64, task_id)), "<p>page</p>",
                "save with page: the task carries the page");
    PK_TEST_STR(events_of(db, p, id), "item.saved,item.updated,item.updated",
                "save with page: item.updated event");

    /* with a title; with duplicate tags */
    PK_TEST_INT(pk_item_save(db, p, alice, "https://example.com/b", "https://example.com/b",
                             "My title", strs(p, "b,a,b"), NULL, &it, &task_id, &existing),
                APR_SUCCESS, "save b: ok");
    PK_TEST_STR(it ? it->title : NULL, "My title", "save b: title is the user's");
    PK_TEST_STR(it ? it->user_title : NULL, "My title", "save b: user title");
    PK_TEST_STR(it ? joined(p, it->tags) : NULL, "a,b", "save b: duplicate tag once");
    PK_TEST_OK(it && it->id > id, "save b: a new, larger id");
    PK_TEST_OK(task_id > 0, "save b: own task");

    /* bob saves alice's url: his own item */
    PK_TEST_INT(pk_item_save(db, p, bob, url, url, NULL, strs(p, "bobs"), NULL, &again,
                             &task_id, &existing), APR_SUCCESS, "save bob: ok");
    PK_TEST_INT(existing, 0, "save bob: new for bob");
    PK_TEST_OK(again && again->id != id, "save bob: another item");
    PK_TEST_INT(again ? again->user_id : 0, bob, "save bob: bob's");
    PK_TEST_STR(again ? joined(p, again->tags) : NULL, "bobs", "save bob: only his tags");
    PK_TEST_STR(tags_listed(db, p, bob), "bobs:1", "save bob: bob's tag list");
    PK_TEST_STR(tags_listed(db, p, alice), "a:1,art:1,b:1,news:1,tech:1,zen:1",
                "save bob: alice's tag list untouched");

    /* get */
    PK_TEST_INT(pk_item_get(db, p, alice, id, &it), APR_SUCCESS, "get: own item");
    PK_TEST_STR(it ? it->url : NULL, url, "get: url");
    PK_TEST_STR(it ? joined(p, it->tags) : NULL, "art,news,tech,zen", "get: tags");
    it = (pk_item *)&it;
    PK_TEST_INT(pk_item_get(db, p, bob, id, &it), APR_NOTFOUND,
                "get: another user's item -> APR_NOTFOUND");
    PK_TEST_OK(it == NULL, "get: no item when not found");
    PK_TEST_INT(pk_item_get(db, p, alice, 999999, &it), APR_NOTFOUND,
                "get: unknown id -> APR_NOTFOUND");

    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------------------ */
/* items: list                                                                      */

#define LIST_N 25
#define LIST_BASE APR_INT64_C(1000000)

static int all(int i) { return 1; }
static int unread(int i) { return i >= 5; }
static int archived(int i) { return i < 5; }
static int fav(int i) { return i >= 10 && i <= 12; }
static int not_fav(int i) { return !fav(i); }
static int three(int i) { return i % 3 == 0; }
static int five_unread(int i) { return i % 5 == 0 && unread(i); }
static int five_fav_unread(int i) { return five_unread(i) && fav(i); }
static int since20(int i) { return i >= 20; }
static int since20_three(int i) { return since20(i) && three(i); }

/* The ids of the items i (0..LIST_N-1) for which pred(i) holds, joined by ",". */
static const char *expect(apr_pool_t *p, const apr_int64_t *ids, int (*pred)(int),
                          int newest_first)
{
    const char *out = "";
    int k, i;

    for (k = 0; k < LIST_N; ++k) {
        i = newest_first ? LIST_N - 1 - k : k;
        if (pred(i))
            out = apr_psprintf(p, "%s%s" I64, out, *out ? "," : "", ids[i]);
    }
    return out;
}

/* List one query; "ids" or "(error)"; *more and owner check reported through args. */
static const char *list_ids(pk_db *db, apr_pool_t *p, apr_int64_t user_id,
                            pk_item_query q, int *more, int *owned)
{
    apr_array_header_t *items = NULL;

    *more = -1;
    if (pk_item_list(db, p, user_id, &q, &items, more) != APR_SUCCESS || !items)
        return "(error)";
    if (owned)
        *owned = all_owned(items, user_id);
    return ids_of(p, items);
}

/* Walk every page of q; the ids of all pages joined; each page's size and more flag as
 * "size/more ..." in *pages. */
static const char *walk(pk_db *db, apr_pool_t *p, apr_int64_t user_id, pk_item_query q,
                        const char **pages)
{
    apr_array_header_t *items = NULL;
    const char *out = "";
    int more = 1, guard = 0;

    *pages = "";
    while (more && guard++ < 20) {
        if (pk_item_list(db, p, user_id, &q, &items, &more) != APR_SUCCESS)
            return "(error)";
        *pages = apr_psprintf(p, "%s%s%d/%d", *pages, **pages ? " " : "", items->nelts,
                              more);
        if (items->nelts) {
            out = apr_pstrcat(p, out, *out ? "," : "", ids_of(p, items), NULL);
            q.after_id = APR_ARRAY_IDX(items, items->nelts - 1, pk_item *)->id;
        }
        else {
            break;
        }
    }
    return out;
}

static void test_item_list(apr_pool_t *parent)
{
    apr_pool_t *p, *sp;
    pk_db *db;
    pk_item *it = NULL;
    pk_item_patch patch;
    apr_int64_t alice, bob, ids[LIST_N];
    const char *pages = NULL, *tags;
    int i, more = -1, owned = -1, increasing = 1;

    apr_pool_create(&p, parent);
    db = open_db(p, "list.db");
    PK_TEST_OK(db != NULL, "list: open");
    if (!db) {
        apr_pool_destroy(p);
        return;
    }
    alice = new_user(db, p, "alice");
    bob = new_user(db, p, "bob");

    apr_pool_create(&sp, p);
    for (i = 0; i < LIST_N; ++i) {
        apr_pool_clear(sp);
        tags = three(i) ? (i % 5 == 0 ? "five,three" : "three") : (i % 5 == 0 ? "five" : NULL);
        ids[i] = save(db, sp, alice, apr_psprintf(sp, "https://example.com/list/%02d", i),
                      tags);
        if (i && ids[i] <= ids[i - 1])
            increasing = 0;
        memset(&patch, 0, sizeof(patch));
        patch.has_archived = archived(i);
        patch.archived = 1;
        patch.has_favorite = fav(i);
        patch.favorite = 1;
        if ((patch.has_archived || patch.has_favorite)
            && pk_item_patch_apply(db, sp, alice, ids[i], &patch, &it) != APR_SUCCESS)
            printf("# cannot patch item %d\n", i);
    }
    apr_pool_destroy(sp);
    PK_TEST_OK(increasing && ids[0] > 0, "list: 25 items saved with increasing ids");
    /* bob has the same urls and tags as alice's first three */
    for (i = 0; i < 3; ++i)
        save(db, p, bob, apr_psprintf(p, "https://example.com/list/%02d", i), "three");
    /* deterministic update times: item i was last updated at LIST_BASE + i */
    for (i = 0; i < LIST_N; ++i)
        pk_db_sql(db, p, apr_psprintf(p, "UPDATE items SET updated_ms = " I64 " WHERE id = " I64,
                                   LIST_BASE + i, ids[i]));

    /* filters */
    PK_TEST_STR(list_ids(db, p, alice, query(0, -1, NULL, 0, 0, 0, 100), &more, &owned),
                expect(p, ids, unread, 0), "list: unread (archived=0)");
    PK_TEST_INT(more, 0, "list: unread, no more");
    PK_TEST_INT(owned, 1, "list: only alice's items");
    PK_TEST_STR(list_ids(db, p, alice, query(1, -1, NULL, 0, 0, 0, 100), &more, NULL),
                expect(p, ids, archived, 0), "list: archived=1");
    PK_TEST_STR(list_ids(db, p, alice, query(2, -1, NULL, 0, 0, 0, 100), &more, &owned),
                expect(p, ids, all, 0), "list: archived=2 gives all 25");
    PK_TEST_INT(owned, 1, "list: all 25 are alice's");
    PK_TEST_STR(list_ids(db, p, alice, query(2, 1, NULL, 0, 0, 0, 100), &more, NULL),
                expect(p, ids, fav, 0), "list: favorite=1");
    PK_TEST_STR(list_ids(db, p, alice, query(2, 0, NULL, 0, 0, 0, 100), &more, NULL),
                expect(p, ids, not_fav, 0), "list: favorite=0");
    PK_TEST_STR(list_ids(db, p, alice, query(1, 1, NULL, 0, 0, 0, 100), &more, NULL), "",
                "list: archived favorites: none");
    PK_TEST_STR(list_ids(db, p, alice, query(2, -1, "three", 0, 0, 0, 100), &more, &owned),
                expect(p, ids, three, 0), "list: tag three");
    PK_TEST_INT(owned, 1, "list: tag filter does not leak bob's items");
    PK_TEST_STR(list_ids(db, p, alice, query(0, -1, "five", 0, 0, 0, 100), &more, NULL),
                expect(p, ids, five_unread, 0), "list: tag five, unread");
    PK_TEST_STR(list_ids(db, p, alice, query(0, 1, "five", 0, 0, 0, 100), &more, NULL),
                expect(p, ids, five_fav_unread, 0), "list: tag five, unread, favorite");
    PK_TEST_STR(list_ids(db, p, alice, query(2, -1, "nope", 0, 0, 0, 100), &more, NULL), "",
                "list: unknown tag: none");
    PK_TEST_STR(list_ids(db, p, alice, query(2, -1, NULL, LIST_BASE + 20, 0, 0, 100), &more,
                         NULL),
                expect(p, ids, since20, 0), "list: since_ms (inclusive)");
    PK_TEST_STR(list_ids(db, p, alice, query(2, -1, "three", LIST_BASE + 20, 0, 0, 100),
                         &more, NULL),
                expect(p, ids, since20_three, 0), "list: since_ms and tag");
    PK_TEST_STR(list_ids(db, p, alice, query(2, -1, NULL, LIST_BASE + LIST_N, 0, 0, 100),
                         &more, NULL), "", "list: since_ms after everything: none");
    PK_TEST_STR(list_ids(db, p, bob, query(2, -1, NULL, 0, 0, 0, 100), &more, &owned),
                apr_psprintf(p, I64 "," I64 "," I64, ids[LIST_N - 1] + 1, ids[LIST_N - 1] + 2,
                             ids[LIST_N - 1] + 3), "list: bob sees his three");
    PK_TEST_STR(list_ids(db, p, 999999, query(2, -1, NULL, 0, 0, 0, 100), &more, NULL), "",
                "list: unknown user: none");

    /* order */
    PK_TEST_STR(list_ids(db, p, alice, query(2, -1, NULL, 0, 1, 0, 100), &more, NULL),
                expect(p, ids, all, 1), "list: newest first");
    PK_TEST_STR(list_ids(db, p, alice, query(0, -1, "three", 0, 1, 0, 100), &more, NULL),
                apr_psprintf(p, I64 "," I64 "," I64 "," I64 "," I64 "," I64 "," I64, ids[24],
                             ids[21], ids[18], ids[15], ids[12], ids[9], ids[6]),
                "list: newest first, filtered");

    /* limits and the more flag */
    PK_TEST_STR(list_ids(db, p, alice, query(2, -1, NULL, 0, 0, 0, 25), &more, NULL),
                expect(p, ids, all, 0), "list: limit = count gives all");
    PK_TEST_INT(more, 0, "list: limit = count: no more");
    PK_TEST_STR(list_ids(db, p, alice, query(2, -1, NULL, 0, 0, 0, 1), &more, NULL),
                apr_psprintf(p, I64, ids[0]), "list: limit 1 gives the oldest");
    PK_TEST_INT(more, 1, "list: limit 1: more");

    /* keyset pagination: every item exactly once, in order */
    PK_TEST_STR(walk(db, p, alice, query(2, -1, NULL, 0, 1, 0, 10), &pages),
                expect(p, ids, all, 1), "pages newest: all ids once, no gap");
    PK_TEST_STR(pages, "10/1 10/1 5/0", "pages newest: 10/10/5, more flags");
    PK_TEST_STR(walk(db, p, alice, query(2, -1, NULL, 0, 0, 0, 10), &pages),
                expect(p, ids, all, 0), "pages oldest: all ids once, no gap");
    PK_TEST_STR(pages, "10/1 10/1 5/0", "pages oldest: 10/10/5, more flags");
    PK_TEST_STR(walk(db, p, alice, query(2, -1, NULL, 0, 1, 0, 5), &pages),
                expect(p, ids, all, 1), "pages of 5: all ids");
    PK_TEST_STR(pages, "5/1 5/1 5/1 5/1 5/0", "pages of 5: last full page says no more");
    PK_TEST_STR(walk(db, p, alice, query(2, -1, "three", 0, 0, 0, 4), &pages),
                expect(p, ids, three, 0), "pages filtered: all tagged ids");
    PK_TEST_STR(pages, "4/1 4/1 1/0", "pages filtered: 4/4/1");
    PK_TEST_STR(list_ids(db, p, alice, query(2, -1, NULL, 0, 1, ids[0], 10), &more, NULL), "",
                "pages newest: after the oldest: none");
    PK_TEST_INT(more, 0, "pages newest: after the oldest: no more");
    PK_TEST_STR(list_ids(db, p, alice, query(2, -1, NULL, 0, 0, ids[LIST_N - 1], 10), &more,
                         NULL), "", "pages oldest: after the newest: none");
    /* a cursor id that no longer exists still works (keyset, not offset) */
    PK_TEST_INT(pk_item_delete(db, p, alice, ids[15]), APR_SUCCESS, "pages: delete item 15");
    PK_TEST_STR(list_ids(db, p, alice, query(2, -1, NULL, 0, 0, ids[15], 2), &more, NULL),
                apr_psprintf(p, I64 "," I64, ids[16], ids[17]),
                "pages: cursor at a deleted id resumes after it");

    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------------------ */
/* items: patch, delete                                                             */

static void test_item_patch(apr_pool_t *parent)
{
    apr_pool_t *p;
    pk_db *db;
    pk_item *it = NULL;
    pk_item_patch patch;
    apr_int64_t alice, bob, a, b, before;

    apr_pool_create(&p, parent);
    db = open_db(p, "patch.db");
    PK_TEST_OK(db != NULL, "patch: open");
    if (!db) {
        apr_pool_destroy(p);
        return;
    }
    alice = new_user(db, p, "alice");
    bob = new_user(db, p, "bob");
    a = save(db, p, alice, "https://example.com/a", "x,y");
    b = save(db, p, alice, "https://example.com/b", "y");
    pk_db_sql(db, p, apr_psprintf(p, "UPDATE items SET updated_ms = 1 WHERE id = " I64, a));
    before = pk_db_now_ms();

    memset(&patch, 0, sizeof(patch));
    patch.has_archived = 1;
    patch.archived = 1;
    PK_TEST_INT(pk_item_patch_apply(db, p, alice, a, &patch, &it), APR_SUCCESS,
                "patch: archive");
    PK_TEST_INT(it ? it->archived : -1, 1, "patch: archived");
    PK_TEST_INT(it ? it->favorite : -1, 0, "patch: favorite unchanged");
    PK_TEST_STR(it ? joined(p, it->tags) : NULL, "x,y", "patch: tags unchanged");
    PK_TEST_STR(it ? it->user_title : "x", NULL, "patch: title unchanged");
    PK_TEST_OK(it && it->updated_ms >= before, "patch: updated_ms moved");
    PK_TEST_STR(events_of(db, p, a), "item.saved,item.updated", "patch: item.updated event");

    memset(&patch, 0, sizeof(patch));
    patch.has_favorite = 1;
    patch.favorite = 1;
    PK_TEST_INT(pk_item_patch_apply(db, p, alice, a, &patch, &it), APR_SUCCESS,
                "patch: favorite");
    PK_TEST_INT(it ? it->favorite : -1, 1, "patch: favorite set");
    PK_TEST_INT(it ? it->archived : -1, 1, "patch: archived kept");

    memset(&patch, 0, sizeof(patch));
    patch.has_title = 1;
    patch.title = "Mine";
    PK_TEST_INT(pk_item_patch_apply(db, p, alice, a, &patch, &it), APR_SUCCESS,
                "patch: title");
    PK_TEST_STR(it ? it->title : NULL, "Mine", "patch: title is the user's");
    PK_TEST_STR(it ? it->user_title : NULL, "Mine", "patch: user title");
    /* the fetcher found the page's own title meanwhile */
    pk_db_sql(db, p, apr_psprintf(p, "UPDATE items SET title = 'Page' WHERE id = " I64, a));
    PK_TEST_INT(pk_item_get(db, p, alice, a, &it), APR_SUCCESS, "patch: get");
    PK_TEST_STR(it ? it->title : NULL, "Mine", "patch: the user's title wins over the page's");
    memset(&patch, 0, sizeof(patch));
    patch.has_title = 1;
    patch.title = NULL;
    PK_TEST_INT(pk_item_patch_apply(db, p, alice, a, &patch, &it), APR_SUCCESS,
                "patch: title reset");
    PK_TEST_STR(it ? it->user_title : "x", NULL, "patch: user title NULL again");
    PK_TEST_STR(it ? it->title : NULL, "Page", "patch: back to the page's title");

    memset(&patch, 0, sizeof(patch));
    patch.has_progress = 1;
    patch.progress = 0.375;
    PK_TEST_INT(pk_item_patch_apply(db, p, alice, a, &patch, &it), APR_SUCCESS,
                "patch: progress");
    PK_TEST_OK(it && it->progress == 0.375, "patch: progress stored");
    PK_TEST_INT(pk_item_get(db, p, alice, a, &it), APR_SUCCESS, "patch: re-read");
    PK_TEST_OK(it && it->progress == 0.375, "patch: progress read back");
    PK_TEST_INT(it ? it->archived : -1, 1, "patch: archived still kept");
    PK_TEST_INT(it ? it->favorite : -1, 1, "patch: favorite still kept");
    PK_TEST_STR(it ? it->title : NULL, "Page", "patch: title still kept");

    memset(&patch, 0, sizeof(patch));
    patch.tags = strs(p, "z,x");
    PK_TEST_INT(pk_item_patch_apply(db, p, alice, a, &patch, &it), APR_SUCCESS,
                "patch: replace tags");
    PK_TEST_STR(it ? joined(p, it->tags) : NULL, "x,z", "patch: tags replaced");
    PK_TEST_STR(tags_listed(db, p, alice), "x:1,y:1,z:1",
                "patch: y kept (item b), counts right");
    memset(&patch, 0, sizeof(patch));
    patch.tags = strs(p, "w");
    PK_TEST_INT(pk_item_patch_apply(db, p, alice, a, &patch, &it), APR_SUCCESS,
                "patch: replace tags again");
    PK_TEST_STR(tags_listed(db, p, alice), "w:1,y:1", "patch: orphans x, z pruned");
    memset(&patch, 0, sizeof(patch));
    patch.tags = strs(p, "");
    PK_TEST_INT(pk_item_patch_apply(db, p, alice, a, &patch, &it), APR_SUCCESS,
                "patch: remove all tags");
    PK_TEST_STR(it ? joined(p, it->tags) : NULL, "", "patch: no tags");
    PK_TEST_STR(tags_listed(db, p, alice), "y:1", "patch: w pruned, y stays");
    PK_TEST_STR(item_tags(db, p, alice, b), "y", "patch: the other item untouched");

    memset(&patch, 0, sizeof(patch));
    patch.has_favorite = 1;
    patch.favorite = 0;
    it = (pk_item *)&it;
    PK_TEST_INT(pk_item_patch_apply(db, p, bob, a, &patch, &it), APR_NOTFOUND,
                "patch: another user's item -> APR_NOTFOUND");
    PK_TEST_OK(it == NULL, "patch: no item when not found");
    PK_TEST_INT(pk_item_get(db, p, alice, a, &it), APR_SUCCESS, "patch: alice's item");
    PK_TEST_INT(it ? it->favorite : -1, 1, "patch: untouched by bob's attempt");
    PK_TEST_INT(pk_item_patch_apply(db, p, alice, 999999, &patch, &it), APR_NOTFOUND,
                "patch: unknown id -> APR_NOTFOUND");
    PK_TEST_STR(events_of(db, p, a),
                "item.saved,item.updated,item.updated,item.updated,item.updated,"
                "item.updated,item.updated,item.updated,item.updated",
                "patch: one event per applied patch, none for refused ones");
    PK_TEST_INT(sql_int(db, p, "SELECT COUNT(*) FROM events WHERE item_id = 999999"), 0,
                "patch: no event for an unknown id");

    memset(&patch, 0, sizeof(patch));
    patch.has_archived = 1;
    patch.archived = 0;
    PK_TEST_INT(pk_item_patch_apply(db, p, alice, a, &patch, &it), APR_SUCCESS,
                "patch: unarchive");
    PK_TEST_INT(it ? it->archived : -1, 0, "patch: unread again");

    apr_pool_destroy(p);
}

static void test_item_delete(apr_pool_t *parent)
{
    apr_pool_t *p;
    pk_db *db;
    pk_item *it = NULL;
    apr_int64_t alice, bob, a, b, c;

    apr_pool_create(&p, parent);
    db = open_db(p, "delete.db");
    PK_TEST_OK(db != NULL, "delete: open");
    if (!db) {
        apr_pool_destroy(p);
        return;
    }
    alice = new_user(db, p, "alice");
    bob = new_user(db, p, "bob");
    a = save(db, p, alice, "https://example.com/a", "solo,shared");
    b = save(db, p, alice, "https://example.com/b", "shared");
    c = save(db, p, bob, "https://example.com/a", "solo");

    PK_TEST_INT(pk_item_delete(db, p, bob, a), APR_NOTFOUND,
                "delete: another user's item -> APR_NOTFOUND");
    PK_TEST_INT(pk_item_get(db, p, alice, a, &it), APR_SUCCESS,
                "delete: the item is still there");
    PK_TEST_STR(it ? joined(p, it->tags) : NULL, "shared,solo", "delete: with its tags");
    PK_TEST_INT(rows_for_item(db, p, "tasks", a), 1, "delete: with its task");

    PK_TEST_INT(pk_item_delete(db, p, alice, a), APR_SUCCESS, "delete: own item");
    it = (pk_item *)&it;
    PK_TEST_INT(pk_item_get(db, p, alice, a, &it), APR_NOTFOUND,
                "delete: get -> APR_NOTFOUND");
    PK_TEST_OK(it == NULL, "delete: no item");
    PK_TEST_INT(pk_item_delete(db, p, alice, a), APR_NOTFOUND,
                "delete: again -> APR_NOTFOUND");
    PK_TEST_INT(rows_for_item(db, p, "item_tags", a), 0, "delete: tag links gone");
    PK_TEST_INT(rows_for_item(db, p, "tasks", a), 0, "delete: task gone");
    PK_TEST_STR(tags_listed(db, p, alice), "shared:1", "delete: orphan tag pruned");
    PK_TEST_STR(events_of(db, p, a), "item.saved,item.deleted",
                "delete: item.deleted event, none for refused deletes");
    PK_TEST_INT(pk_item_get(db, p, alice, b, &it), APR_SUCCESS,
                "delete: the other item stays");
    PK_TEST_INT(pk_item_get(db, p, bob, c, &it), APR_SUCCESS, "delete: bob's item stays");
    PK_TEST_STR(tags_listed(db, p, bob), "solo:1", "delete: bob's same-named tag stays");
    PK_TEST_INT(pk_item_delete(db, p, alice, 999999), APR_NOTFOUND,
                "delete: unknown id -> APR_NOTFOUND");
    /* the url may be saved again: a new item */
    PK_TEST_OK(save(db, p, alice, "https://example.com/a", NULL) > c,
               "delete: the url can be saved again as a new item");

    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------------------ */
/* tags                                                                             */

static void test_tags(apr_pool_t *parent)
{
    apr_pool_t *p;
    pk_db *db;
    pk_tag *t = NULL;
    pk_item *it = NULL;
    apr_int64_t alice, bob, i1, i2, i3, i4, j1, before;

    apr_pool_create(&p, parent);
    db = open_db(p, "tags.db");
    PK_TEST_OK(db != NULL, "tags: open");
    if (!db) {
        apr_pool_destroy(p);
        return;
    }
    alice = new_user(db, p, "alice");
    bob = new_user(db, p, "bob");
    i1 = save(db, p, alice, "https://example.com/1", "news,tech");
    i2 = save(db, p, alice, "https://example.com/2", "tech");
    i3 = save(db, p, alice, "https://example.com/3", "news");
    i4 = save(db, p, alice, "https://example.com/4", "misc");
    j1 = save(db, p, bob, "https://example.com/1", "tech,misc");
    pk_db_sql(db, p, "UPDATE items SET updated_ms = 1");

    PK_TEST_STR(tags_listed(db, p, alice), "misc:1,news:2,tech:2", "tags: list with counts");
    PK_TEST_STR(tags_listed(db, p, bob), "misc:1,tech:1", "tags: bob's list");
    PK_TEST_STR(tags_listed(db, p, 999999), "", "tags: unknown user: empty");

    /* rename to a new name */
    before = pk_db_now_ms();
    PK_TEST_INT(pk_tags_rename(db, p, alice, "misc", "other", &t), APR_SUCCESS,
                "tags: rename to a new name");
    PK_TEST_STR(t ? t->name : NULL, "other", "tags: renamed tag's name");
    PK_TEST_INT(t ? t->count : -1, 1, "tags: renamed tag's count");
    PK_TEST_STR(tags_listed(db, p, alice), "news:2,other:1,tech:2", "tags: list after rename");
    PK_TEST_STR(item_tags(db, p, alice, i4), "other", "tags: the item carries the new name");
    PK_TEST_INT(pk_item_get(db, p, alice, i4, &it), APR_SUCCESS, "tags: get renamed item");
    PK_TEST_OK(it && it->updated_ms >= before, "tags: rename touched the item");
    PK_TEST_INT(pk_item_get(db, p, alice, i1, &it), APR_SUCCESS, "tags: get other item");
    PK_TEST_INT(it ? it->updated_ms : 0, 1, "tags: rename left unrelated items alone");
    PK_TEST_STR(tags_listed(db, p, bob), "misc:1,tech:1", "tags: bob's misc not renamed");

    /* rename onto an existing name: merge */
    PK_TEST_INT(pk_tags_rename(db, p, alice, "news", "tech", &t), APR_SUCCESS,
                "tags: rename onto an existing tag");
    PK_TEST_STR(t ? t->name : NULL, "tech", "tags: merged tag's name");
    PK_TEST_INT(t ? t->count : -1, 3, "tags: merged count 3 (item 1 carried both: once)");
    PK_TEST_STR(tags_listed(db, p, alice), "other:1,tech:3", "tags: list after merge");
    PK_TEST_STR(item_tags(db, p, alice, i1), "tech", "tags: item 1 has tech once");
    PK_TEST_STR(item_tags(db, p, alice, i2), "tech", "tags: item 2 unchanged");
    PK_TEST_STR(item_tags(db, p, alice, i3), "tech", "tags: item 3 moved to tech");
    PK_TEST_INT(sql_int(db, p, apr_psprintf(p, "SELECT COUNT(*) FROM item_tags WHERE item_id"
                                               " = " I64, i1)), 1,
                "tags: no duplicate link row");
    PK_TEST_INT(sql_int(db, p, apr_psprintf(p, "SELECT COUNT(*) FROM tags WHERE user_id = "
                                               I64 " AND name = 'news'", alice)), 0,
                "tags: the merged-away tag row is gone");
    PK_TEST_STR(tags_listed(db, p, bob), "misc:1,tech:1", "tags: bob's tech not merged into");

    PK_TEST_INT(pk_tags_rename(db, p, alice, "tech", "tech", &t), APR_SUCCESS,
                "tags: rename onto itself");
    PK_TEST_INT(t ? t->count : -1, 3, "tags: rename onto itself keeps the count");
    PK_TEST_STR(tags_listed(db, p, alice), "other:1,tech:3", "tags: list unchanged");

    t = (pk_tag *)&t;
    PK_TEST_INT(pk_tags_rename(db, p, alice, "nope", "x", &t), APR_NOTFOUND,
                "tags: rename unknown -> APR_NOTFOUND");
    PK_TEST_OK(t == NULL, "tags: no tag when not found");
    PK_TEST_INT(pk_tags_rename(db, p, alice, "nope", "tech", &t), APR_NOTFOUND,
                "tags: rename unknown onto existing -> APR_NOTFOUND");
    PK_TEST_INT(pk_tags_rename(db, p, bob, "other", "x", &t), APR_NOTFOUND,
                "tags: rename another user's tag -> APR_NOTFOUND");
    PK_TEST_STR(tags_listed(db, p, alice), "other:1,tech:3", "tags: refused renames changed "
                "nothing");
    PK_TEST_OK(db->txn == NULL, "tags: no transaction left open");

    /* delete */
    PK_TEST_INT(pk_tags_delete(db, p, alice, "nope"), APR_NOTFOUND,
                "tags: delete unknown -> APR_NOTFOUND");
    PK_TEST_INT(pk_tags_delete(db, p, bob, "other"), APR_NOTFOUND,
                "tags: delete another user's tag -> APR_NOTFOUND");
    PK_TEST_INT(pk_tags_delete(db, p, alice, "other"), APR_SUCCESS, "tags: delete");
    PK_TEST_STR(item_tags(db, p, alice, i4), "", "tags: removed from the item");
    PK_TEST_STR(tags_listed(db, p, alice), "tech:3", "tags: list after delete");
    PK_TEST_INT(pk_item_get(db, p, alice, i4, &it), APR_SUCCESS,
                "tags: the item itself stays");
    PK_TEST_INT(pk_tags_delete(db, p, alice, "other"), APR_NOTFOUND,
                "tags: delete again -> APR_NOTFOUND");
    PK_TEST_INT(pk_tags_delete(db, p, bob, "tech"), APR_SUCCESS, "tags: bob deletes his tech");
    PK_TEST_STR(tags_listed(db, p, alice), "tech:3", "tags: alice's tech untouched");
    PK_TEST_STR(item_tags(db, p, bob, j1), "misc", "tags: bob's item keeps misc");

    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------------------ */
/* transactions                                                                     */

static void test_transactions(apr_pool_t *parent)
{
    apr_pool_t *p, *p1;
    pk_db *db;
    pk_user *u = NULL;
    pk_token *tok = NULL;
    pk_item *it = NULL;
    pk_item_patch patch;
    apr_int64_t n = -1, alice, x, task = -1;
    int errors, existing = -1;

    apr_pool_create(&p, parent);
    db = open_db(p, "txn.db");
    PK_TEST_OK(db != NULL, "txn: open");
    if (!db) {
        apr_pool_destroy(p);
        return;
    }

    PK_TEST_OK(pk_db_end(db, p, 1) != APR_SUCCESS, "txn: end without begin is an error");

    PK_TEST_INT(pk_db_begin(db, p), APR_SUCCESS, "txn: begin");
    PK_TEST_OK(db->txn != NULL, "txn: open");
    PK_TEST_INT(pk_user_create(db, p, "ghost", NULL, &u), APR_SUCCESS,
                "txn: insert inside");
    PK_TEST_OK(pk_db_end(db, p, 0) != APR_SUCCESS, "txn: end(ok=0) says: not committed");
    PK_TEST_OK(db->txn == NULL, "txn: closed");
    PK_TEST_INT(pk_user_by_login(db, p, "ghost", &u), APR_NOTFOUND,
                "txn: rolled back insert is gone");
    PK_TEST_INT(pk_user_count(db, p, &n), APR_SUCCESS, "txn: count");
    PK_TEST_INT(n, 0, "txn: nothing left");

    PK_TEST_INT(pk_db_begin(db, p), APR_SUCCESS, "txn: begin 2");
    PK_TEST_INT(pk_user_create(db, p, "kept", NULL, &u), APR_SUCCESS, "txn: insert 2");
    PK_TEST_INT(pk_db_end(db, p, 1), APR_SUCCESS, "txn: commit");
    PK_TEST_INT(pk_user_by_login(db, p, "kept", &u), APR_SUCCESS, "txn: committed row");
    PK_TEST_INT(pk_token_create(db, p, u ? u->id : 0, "t", "samehash", &tok), APR_SUCCESS,
                "txn: a token outside any transaction");

    /* a failing plain statement */
    PK_TEST_INT(pk_db_begin(db, p), APR_SUCCESS, "txn: begin 3");
    PK_TEST_INT(pk_user_create(db, p, "ghost2", NULL, &u), APR_SUCCESS, "txn: insert 3");
    errors = logs.errors;
    PK_TEST_OK(pk_db_sql(db, p, "INSERT INTO no_such_table VALUES (1)") != APR_SUCCESS,
               "txn: failing statement fails");
    PK_TEST_INT(db->txn_failed, 1, "txn: marked failed");
    PK_TEST_OK(logs.errors > errors, "txn: the failure was logged");
    PK_TEST_OK(pk_db_end(db, p, 1) != APR_SUCCESS, "txn: end(ok=1) after a failure: error");
    PK_TEST_OK(db->txn == NULL && db->txn_failed == 0, "txn: state reset");
    PK_TEST_INT(pk_user_by_login(db, p, "ghost2", &u), APR_NOTFOUND,
                "txn: rolled back despite ok=1");

    /* a failing prepared statement (unique violation) */
    PK_TEST_INT(pk_db_begin(db, p), APR_SUCCESS, "txn: begin 4");
    PK_TEST_INT(pk_user_create(db, p, "ghost3", NULL, &u), APR_SUCCESS, "txn: insert 4");
    PK_TEST_OK(pk_token_create(db, p, u ? u->id : 0, "dup", "samehash", &tok) != APR_SUCCESS,
               "txn: duplicate token hash fails");
    PK_TEST_OK(pk_db_end(db, p, 1) != APR_SUCCESS, "txn: end(ok=1): error");
    PK_TEST_INT(pk_user_by_login(db, p, "ghost3", &u), APR_NOTFOUND,
                "txn: rolled back (prepared statement failure)");

    /* the connection is fine afterwards */
    PK_TEST_INT(pk_user_create(db, p, "after", NULL, &u), APR_SUCCESS,
                "txn: connection usable after a rollback");
    PK_TEST_INT(pk_db_begin(db, p), APR_SUCCESS, "txn: begin 5");
    PK_TEST_INT(pk_db_end(db, p, 1), APR_SUCCESS, "txn: empty commit");
    PK_TEST_INT(pk_user_count(db, p, &n), APR_SUCCESS, "txn: count");
    PK_TEST_INT(n, 2, "txn: kept and after");

    /* store operations are atomic: make their last step (the event) fail */
    alice = u ? u->id : 0;
    x = save(db, p, alice, "https://example.com/x", "keep");
    apr_pool_destroy(p);

    apr_pool_create(&p, parent);
    apr_pool_create(&p1, p);
    db = open_db(p1, "txn.db");
    if (db)
        pk_db_sql(db, p, "CREATE TRIGGER no_events BEFORE INSERT ON events"
                      " BEGIN SELECT RAISE(ABORT, 'no events today'); END");
    apr_pool_destroy(p1);           /* statements are prepared again with the trigger */
    db = open_db(p, "txn.db");
    PK_TEST_OK(db != NULL, "atomic: reopen");
    if (!db) {
        apr_pool_destroy(p);
        return;
    }
    it = (pk_item *)&it;
    PK_TEST_OK(pk_item_save(db, p, alice, "https://example.com/y", "https://example.com/y",
                            NULL, strs(p, "new"), NULL, &it, &task, &existing) != APR_SUCCESS,
               "atomic: save fails at the event");
    PK_TEST_OK(it == NULL, "atomic: no item returned");
    PK_TEST_INT(sql_int(db, p, "SELECT COUNT(*) FROM items"), 1, "atomic: no item row");
    PK_TEST_INT(sql_int(db, p, "SELECT COUNT(*) FROM tasks"), 1, "atomic: no task row");
    PK_TEST_STR(tags_listed(db, p, alice), "keep:1", "atomic: no tag row");

    memset(&patch, 0, sizeof(patch));
    patch.has_favorite = 1;
    patch.favorite = 1;
    patch.tags = strs(p, "other");
    PK_TEST_OK(pk_item_patch_apply(db, p, alice, x, &patch, &it) != APR_SUCCESS,
               "atomic: patch fails at the event");
    PK_TEST_INT(pk_item_get(db, p, alice, x, &it), APR_SUCCESS, "atomic: get");
    PK_TEST_INT(it ? it->favorite : -1, 0, "atomic: patch rolled back");
    PK_TEST_STR(it ? joined(p, it->tags) : NULL, "keep", "atomic: tags rolled back");
    PK_TEST_OK(pk_item_delete(db, p, alice, x) != APR_SUCCESS,
               "atomic: delete fails at the event");
    PK_TEST_INT(pk_item_get(db, p, alice, x, &it), APR_SUCCESS,
                "atomic: item still there after the failed delete");
    PK_TEST_INT(rows_for_item(db, p, "tasks", x), 1, "atomic: its task still there");
    PK_TEST_STR(tags_listed(db, p, alice), "keep:1", "atomic: its tags still there");
    PK_TEST_OK(db->txn == NULL, "atomic: no transaction left open");
    PK_TEST_INT(pk_user_by_login(db, p, "kept", &u), APR_SUCCESS,
                "atomic: connection usable afterwards");
    pk_db_sql(db, p, "DROP TRIGGER no_events");

    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------------------ */
/* the event log: per-user seq, publishing after commit, messages, replay           */

/* What the publisher got: messages of every event, in order, ";"-joined, and calls. */
static struct {
    apr_pool_t *pool;
    const char *seen;
    int calls;
} pub;

static void capture(void *baton, const apr_array_header_t *events, apr_pool_t *p)
{
    apr_size_t len;
    int i;

    ++pub.calls;
    for (i = 0; i < events->nelts; ++i) {
        const pk_event *ev = APR_ARRAY_IDX(events, i, const pk_event *);
        pub.seen = apr_psprintf(pub.pool, "%s%s" I64 "/" I64 "/" I64 " %s", pub.seen,
                                *pub.seen ? ";" : "", ev->user_id, ev->seq, ev->id,
                                pk_event_message(pub.pool, ev, &len));
    }
}

/* Publications go to pub from now on, which starts empty (in p). */
static void capture_start(apr_pool_t *p)
{
    pub.pool = p;
    pub.seen = "";
    pub.calls = 0;
    pk_db_set_publisher(capture, NULL);
}

/* "seq:type:item,..." of a user's events in id order */
static const char *user_events(pk_db *db, apr_pool_t *p, apr_int64_t user)
{
    return sql_list(db, p, apr_psprintf(p, "SELECT seq || ':' || type || ':' || item_id"
                                           " FROM events WHERE user_id = " I64
                                           " ORDER BY id", user));
}

static void test_events(apr_pool_t *parent)
{
    apr_pool_t *p;
    pk_db *db;
    pk_item *it = NULL;
    pk_item_patch patch;
    pk_tag *tag = NULL;
    pk_claim claim;
    pk_task_result res;
    apr_array_header_t *evs = NULL;
    apr_int64_t alice, bob, a, b, c, version = -1, last = -1, ev_id = 0, max_id = 0;
    const char *msg, *want;
    apr_size_t len = 0;
    pk_event del;
    int calls, i, n, ordered;

    apr_pool_create(&p, parent);
    db = open_db(p, "events.db");
    PK_TEST_OK(db != NULL, "events: open");
    if (!db) {
        apr_pool_destroy(p);
        return;
    }
    capture_start(p);

    alice = new_user(db, p, "alice");
    bob = new_user(db, p, "bob");
    a = save(db, p, alice, "https://example.com/a", "x");
    PK_TEST_INT(pub.calls, 1, "events: a save publishes once, after its commit");
    want = apr_psprintf(p, I64 "/1/", alice);
    PK_TEST_OK(!strncmp(pub.seen, want, strlen(want)), "events: alice's first event: seq 1");
    PK_TEST_OK(strstr(pub.seen, apr_psprintf(p, " {\"type\":\"item.saved\",\"id\":" I64
                                                ",\"event\":", a)) != NULL,
               "events: the message starts with type, item id, event id");
    PK_TEST_OK(strstr(pub.seen, ",\"item\":{\"id\":") && strstr(pub.seen, "\"state\":\"pending\"")
               && strstr(pub.seen, "\"tags\":[\"x\"]") && !strstr(pub.seen, "\"html\"")
               && !strstr(pub.seen, "\"text\""),
               "events: it carries the item as saved (pending, its tags), no text or html");
    b = save(db, p, bob, "https://example.com/b", NULL);
    c = save(db, p, alice, "https://example.com/c", NULL);
    memset(&patch, 0, sizeof(patch));
    patch.has_favorite = 1;
    patch.favorite = 1;
    PK_TEST_INT(pk_item_patch_apply(db, p, alice, a, &patch, &it), APR_SUCCESS, "events: patch");
    PK_TEST_INT(pk_item_delete(db, p, alice, c), APR_SUCCESS, "events: delete");
    PK_TEST_INT(pk_item_patch_apply(db, p, bob, b, &patch, &it), APR_SUCCESS,
                "events: bob's patch");
    PK_TEST_STR(user_events(db, p, alice),
                apr_psprintf(p, "1:item.saved:" I64 ",2:item.saved:" I64 ",3:item.updated:" I64
                             ",4:item.deleted:" I64, a, c, a, c),
                "events: alice's seq counts 1, 2, 3, 4 in id order");
    PK_TEST_STR(user_events(db, p, bob),
                apr_psprintf(p, "1:item.saved:" I64 ",2:item.updated:" I64, b, b),
                "events: bob's own seq, unaffected by alice's");
    PK_TEST_INT(sql_int(db, p, apr_psprintf(p, "SELECT version FROM users WHERE id = " I64,
                                            alice)), 4,
                "events: users.version is the last seq");

    /* a tag rename: an event per item carrying the renamed tag, one publish */
    save(db, p, alice, "https://example.com/d", "x");
    calls = pub.calls;
    pub.seen = "";
    PK_TEST_INT(pk_tags_rename(db, p, alice, "x", "y", &tag), APR_SUCCESS, "events: rename");
    PK_TEST_INT(pub.calls - calls, 1, "events: the rename publishes once");
    PK_TEST_OK(strstr(pub.seen, "/6/") && strstr(pub.seen, "/7/") && !strstr(pub.seen, "/8/"),
               "events: the rename's two events have seq 6 and 7");
    PK_TEST_OK(strstr(pub.seen, "\"tags\":[\"y\"]") && !strstr(pub.seen, "\"tags\":[\"x\"]"),
               "events: the items in them carry the new tag name");
    calls = pub.calls;
    PK_TEST_INT(pk_tags_delete(db, p, alice, "y"), APR_SUCCESS, "events: delete a tag");
    PK_TEST_INT(pub.calls - calls, 1, "events: the tag delete publishes once");
    PK_TEST_STR(sql_list(db, p, apr_psprintf(p, "SELECT seq FROM events WHERE user_id = " I64
                                                " ORDER BY id", alice)),
                "1,2,3,4,5,6,7,8,9", "events: no gap in alice's seq");

    /* the engine's completion: item.ready with the article's fields */
    memset(&claim, 0, sizeof(claim));
    memset(&res, 0, sizeof(res));
    {
        apr_array_header_t *claims = NULL;
        PK_TEST_INT(pk_task_claim(db, p, "me", 10, pk_db_now_ms() + 60000, &claims),
                    APR_SUCCESS, "events: claim");
        for (i = 0; claims && i < claims->nelts; ++i) {
            if (APR_ARRAY_IDX(claims, i, pk_claim *)->item_id == a)
                claim = *APR_ARRAY_IDX(claims, i, pk_claim *);
        }
    }
    res.title = "A \"quoted\" title\nwith a line break";
    res.text = "text";
    res.html = "<p>html</p>";
    pub.seen = "";
    PK_TEST_INT(pk_task_complete(db, p, &claim, "me", &res, &ev_id), APR_SUCCESS,
                "events: complete a task");
    PK_TEST_OK(ev_id > 0 && strstr(pub.seen, apr_psprintf(p, "\"type\":\"item.ready\",\"id\":"
                                                          I64 ",\"event\":" I64, a, ev_id)),
               "events: item.ready published with the event id complete returned");
    PK_TEST_OK(strstr(pub.seen, "\"state\":\"ready\"") && !strstr(pub.seen, "\n")
               && strstr(pub.seen, "\\\"quoted\\\" title\\nwith"),
               "events: the ready item, escaped on one line");

    /* a transaction that rolls back publishes nothing */
    calls = pub.calls;
    PK_TEST_INT(pk_db_begin(db, p), APR_SUCCESS, "events: begin");
    PK_TEST_INT(pk_event_add(db, p, alice, "item.updated", a, "{}", NULL), APR_SUCCESS,
                "events: an event inside a transaction");
    PK_TEST_INT(pub.calls, calls, "events: nothing published before the commit");
    PK_TEST_OK(pk_db_end(db, p, 0) != APR_SUCCESS, "events: roll back");
    PK_TEST_INT(pub.calls, calls, "events: a rolled back transaction publishes nothing");
    PK_TEST_INT(sql_int(db, p, apr_psprintf(p, "SELECT version FROM users WHERE id = " I64,
                                            alice)), 10,
                "events: the version bump rolled back with it");

    /* the message of an event without item */
    memset(&del, 0, sizeof(del));
    del.id = 42;
    del.item_id = 7;
    del.type = "item.deleted";
    msg = pk_event_message(p, &del, &len);
    PK_TEST_STR(msg, "{\"type\":\"item.deleted\",\"id\":7,\"event\":42}",
                "events: item.deleted carries only the id");
    PK_TEST_INT(len, strlen(msg), "events: message length");
    del.type = "evil\",\"x";
    PK_TEST_STR(pk_event_message(p, &del, &len), "{\"type\":\"unknown\",\"id\":7,\"event\":42}",
                "events: a type that is not a name cannot break the JSON");

    /* replay: the same bytes as published */
    pub.seen = "";
    it = NULL;
    PK_TEST_INT(pk_item_patch_apply(db, p, alice, a, &patch, &it), APR_SUCCESS,
                "events: another patch");
    PK_TEST_INT(pk_events_after(db, p, alice, 0, 100, &evs, &version), APR_SUCCESS,
                "events: read alice's events");
    PK_TEST_INT(evs ? evs->nelts : -1, 11, "events: all eleven");
    PK_TEST_INT(version, 11, "events: with the version they add up to");
    ordered = evs && evs->nelts == 11;
    for (i = 0; ordered && i < evs->nelts; ++i) {
        const pk_event *ev = APR_ARRAY_IDX(evs, i, const pk_event *);
        ordered = ev->seq == i + 1 && ev->user_id == alice
                  && (i == 0 || ev->id > APR_ARRAY_IDX(evs, i - 1, const pk_event *)->id);
    }
    PK_TEST_OK(ordered, "events: oldest first, seq 1..11");
    if (evs && evs->nelts == 11) {
        const pk_event *ev = APR_ARRAY_IDX(evs, 10, const pk_event *);
        PK_TEST_STR(apr_psprintf(p, I64 "/" I64 "/" I64 " %s", alice, ev->seq, ev->id,
                                 pk_event_message(p, ev, &len)), pub.seen,
                    "events: the replayed message is byte-identical to the published one");
    }
    else {
        PK_TEST_OK(0, "events: the replayed message is byte-identical to the published one");
    }
    PK_TEST_INT(pk_events_after(db, p, alice, 0, 3, &evs, &version), APR_SUCCESS,
                "events: a page of 3");
    PK_TEST_INT(evs ? evs->nelts : -1, 3, "events: 3 of them");
    last = (evs && evs->nelts) ? APR_ARRAY_IDX(evs, evs->nelts - 1, pk_event *)->id : 0;
    PK_TEST_INT(pk_events_after(db, p, alice, last, 100, &evs, &version), APR_SUCCESS,
                "events: after the page");
    PK_TEST_INT(evs ? evs->nelts : -1, 8, "events: the 8 others");
    last = (evs && evs->nelts) ? APR_ARRAY_IDX(evs, evs->nelts - 1, pk_event *)->id : 0;
    PK_TEST_INT(pk_events_after(db, p, alice, last, 100, &evs, &version), APR_SUCCESS,
                "events: after the last one");
    PK_TEST_INT(evs ? evs->nelts : -1, 0, "events: none");
    PK_TEST_INT(version, 11, "events: still the version");
    PK_TEST_INT(pk_events_after(db, p, 999999, 0, 100, &evs, &version), APR_NOTFOUND,
                "events: an unknown user: APR_NOTFOUND");
    version = -1;
    PK_TEST_INT(pk_events_head(db, p, alice, &ev_id, &version), APR_SUCCESS, "events: head");
    PK_TEST_OK(ev_id == last && version == 11, "events: head is the last event and version");
    PK_TEST_INT(pk_events_head(db, p, new_user(db, p, "carol"), &ev_id, &version),
                APR_SUCCESS, "events: head of a user without events");
    PK_TEST_OK(ev_id == 0 && version == 0, "events: 0 and 0");

    /* the relay's reads: every user's events by id */
    PK_TEST_INT(pk_events_max_id(db, p, &max_id), APR_SUCCESS, "relay: newest id");
    PK_TEST_OK(max_id >= last, "relay: at least alice's last");
    PK_TEST_INT(pk_events_since(db, p, 0, 1000, &evs), APR_SUCCESS, "relay: all events");
    ordered = evs && evs->nelts >= 11
              && APR_ARRAY_IDX(evs, evs->nelts - 1, const pk_event *)->id == max_id;
    for (i = 1; ordered && i < evs->nelts; ++i) {
        ordered = APR_ARRAY_IDX(evs, i, const pk_event *)->id
                  > APR_ARRAY_IDX(evs, i - 1, const pk_event *)->id;
    }
    PK_TEST_OK(ordered, "relay: in id order, up to the newest");
    for (i = 0, n = 0; evs && i < evs->nelts; ++i) {
        const pk_event *ev = APR_ARRAY_IDX(evs, i, const pk_event *);
        n += ev->user_id == alice && ev->seq > 0 && ev->type && ev->item_id > 0;
    }
    PK_TEST_INT(n, 11, "relay: alice's eleven, with user, seq, type and item");
    PK_TEST_INT(pk_events_since(db, p, 0, 3, &evs), APR_SUCCESS, "relay: a batch of 3");
    PK_TEST_INT(evs ? evs->nelts : -1, 3, "relay: 3 of them");
    PK_TEST_INT(pk_events_since(db, p, max_id, 100, &evs), APR_SUCCESS, "relay: after the newest");
    PK_TEST_INT(evs ? evs->nelts : -1, 0, "relay: none");

    pk_db_set_publisher(NULL, NULL);
    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------------------ */
/* savepoints and group commit (pk_group)                                           */

static void test_savepoints(apr_pool_t *parent)
{
    apr_pool_t *p;
    pk_db *db;
    pk_user *u = NULL;
    apr_int64_t ev = 0;
    int calls;

    apr_pool_create(&p, parent);
    db = open_db(p, "savepoint.db");
    PK_TEST_OK(db != NULL, "savepoint: open");
    if (!db) {
        apr_pool_destroy(p);
        return;
    }
    capture_start(p);

    PK_TEST_INT(pk_db_begin(db, p), APR_SUCCESS, "savepoint: begin");
    PK_TEST_INT(pk_user_create(db, p, "outer", NULL, &u), APR_SUCCESS, "savepoint: outer row");
    PK_TEST_INT(pk_db_begin(db, p), APR_SUCCESS, "savepoint: nested begin");
    PK_TEST_INT(db->nest, 1, "savepoint: one level deep");
    PK_TEST_INT(pk_user_create(db, p, "undone", NULL, &u), APR_SUCCESS, "savepoint: inner row");
    PK_TEST_INT(pk_event_add(db, p, u ? u->id : 0, "item.saved", 1, "{}", &ev), APR_SUCCESS,
                "savepoint: inner event");
    PK_TEST_OK(pk_db_sql(db, p, "INSERT INTO no_such_table VALUES (1)") != APR_SUCCESS,
               "savepoint: a failing statement inside");
    PK_TEST_OK(pk_db_end(db, p, 1) != APR_SUCCESS, "savepoint: end(ok=1) after a failure: "
               "rolled back");
    PK_TEST_INT(db->nest, 0, "savepoint: back to the transaction");
    PK_TEST_INT(db->txn_failed, 0, "savepoint: the failure stayed inside");
    PK_TEST_INT(pk_db_begin(db, p), APR_SUCCESS, "savepoint: second nested begin");
    PK_TEST_INT(pk_user_create(db, p, "kept inner", NULL, &u), APR_SUCCESS,
                "savepoint: second inner row");
    PK_TEST_INT(pk_event_add(db, p, u ? u->id : 0, "item.saved", 2, "{}", &ev), APR_SUCCESS,
                "savepoint: second inner event");
    PK_TEST_INT(pk_db_end(db, p, 1), APR_SUCCESS, "savepoint: released");
    calls = pub.calls;
    PK_TEST_INT(calls, 0, "savepoint: nothing published before the commit");
    PK_TEST_INT(pk_db_end(db, p, 1), APR_SUCCESS, "savepoint: commit");
    PK_TEST_OK(db->txn == NULL, "savepoint: closed");
    PK_TEST_INT(pk_user_by_login(db, p, "outer", &u), APR_SUCCESS, "savepoint: outer kept");
    PK_TEST_INT(pk_user_by_login(db, p, "kept inner", &u), APR_SUCCESS,
                "savepoint: released row kept");
    PK_TEST_INT(pk_user_by_login(db, p, "undone", &u), APR_NOTFOUND,
                "savepoint: rolled back row gone");
    PK_TEST_INT(sql_int(db, p, "SELECT COUNT(*) FROM events"), 1,
                "savepoint: only the released event is stored");
    PK_TEST_INT(pub.calls, 1, "savepoint: one publication at the commit");
    PK_TEST_OK(strstr(pub.seen, "item.saved") && !strchr(pub.seen, ';'),
               "savepoint: it carries only the released event");

    /* a failure in the transaction itself still rolls back everything */
    PK_TEST_INT(pk_db_begin(db, p), APR_SUCCESS, "savepoint: begin 2");
    PK_TEST_INT(pk_user_create(db, p, "gone too", NULL, &u), APR_SUCCESS, "savepoint: row 2");
    PK_TEST_INT(pk_db_begin(db, p), APR_SUCCESS, "savepoint: nested 2");
    PK_TEST_INT(pk_db_end(db, p, 1), APR_SUCCESS, "savepoint: released 2");
    PK_TEST_OK(pk_db_sql(db, p, "INSERT INTO no_such_table VALUES (1)") != APR_SUCCESS,
               "savepoint: failing statement outside the savepoint");
    PK_TEST_OK(pk_db_end(db, p, 1) != APR_SUCCESS, "savepoint: the transaction rolls back");
    PK_TEST_INT(pk_user_by_login(db, p, "gone too", &u), APR_NOTFOUND,
                "savepoint: its row is gone");
    pk_db_set_publisher(NULL, NULL);
    apr_pool_destroy(p);
}

#define GROUP_THREADS 6
#define GROUP_SAVES 20

typedef struct {
    const char *name;               /* what it inserts into g */
    int fail;                       /* work answers an error after inserting */
    int hold;                       /* work waits for the release gate */
    apr_thread_mutex_t *release;
    pk_db *db;
    apr_pool_t *pool;
    apr_status_t rv;
    int saves;                      /* > 0: pk_item_save that many URLs instead */
    apr_int64_t user_id;
    int saved;
} grouper_t;

static apr_status_t group_work(pk_db *db, apr_pool_t *p, void *baton)
{
    grouper_t *g = baton;

    if (g->hold) {
        apr_thread_mutex_lock(g->release);      /* the others queue meanwhile */
        apr_thread_mutex_unlock(g->release);
    }
    if (APR_SUCCESS != pk_db_sql(db, p, apr_psprintf(p, "INSERT INTO g VALUES ('%s')",
                                                      g->name))) {
        return APR_EGENERAL;
    }
    return g->fail ? APR_EINVAL : APR_SUCCESS;
}

static void *APR_THREAD_FUNC grouper(apr_thread_t *thread, void *data)
{
    grouper_t *g = data;
    apr_pool_t *sp;
    pk_item *it;
    apr_int64_t task;
    int i, existing;

    if (!g->saves) {
        g->rv = pk_group_run(g->db, g->pool, group_work, g);
        return NULL;
    }
    apr_pool_create(&sp, g->pool);
    for (i = 0; i < g->saves; ++i) {
        apr_pool_clear(sp);
        if (APR_SUCCESS == pk_item_save(g->db, sp, g->user_id,
                                        apr_psprintf(sp, "https://example.com/%s/%d",
                                                     g->name, i),
                                        "u", NULL, NULL, NULL, &it, &task, &existing)
            && task > 0) {
            ++g->saved;
        }
    }
    apr_pool_destroy(sp);
    return NULL;
}

static void test_group(apr_pool_t *parent)
{
    apr_pool_t *p;
    grouper_t g[GROUP_THREADS];
    apr_thread_t *t[GROUP_THREADS];
    apr_thread_mutex_t *release = NULL;
    apr_uint64_t works0, groups0, works1, groups1, retried;
    apr_status_t rv;
    pk_db *db;
    pk_user *u = NULL;
    const char *f = getenv("PK_TEST_TIME_FACTOR");
    int i, cheap, saved = 0;

    apr_pool_create(&p, parent);
    /* the scratch table first, on a connection of its own: a schema change expires the
     * statements prepared on the connections open at the time */
    db = open_db(p, "group.db");
    if (db) {
        pk_db_sql(db, p, "CREATE TABLE g (v TEXT)");
    }
    db = open_db(p, "group.db");
    PK_TEST_OK(db != NULL, "group: open");
    if (!db) {
        apr_pool_destroy(p);
        return;
    }
    pk_group_set_limit(32);

    /* one work holds the leader's transaction while three queue behind it: they run as
     * one group, in which the failing one is rolled back alone (savepoints, SQLite), or
     * (without savepoints, as with PostgreSQL) the group is rolled back and each of its
     * works runs again alone */
    apr_thread_mutex_create(&release, APR_THREAD_MUTEX_DEFAULT, p);
    for (cheap = 1; cheap >= 0; --cheap) {
        const char *how = cheap ? "group (savepoints)" : "group (no savepoints)";
        apr_uint64_t retried0;

        pk_db_sql(db, p, "DELETE FROM g");
        apr_thread_mutex_lock(release);
        pk_group_counts(&works0, &groups0, &retried0);
        memset(g, 0, sizeof(g));
        for (i = 0; i < 4; ++i) {
            apr_pool_create(&g[i].pool, p);
            g[i].db = open_db(g[i].pool, "group.db");
            if (g[i].db) {
                g[i].db->cheap_savepoints = cheap;
            }
            g[i].name = apr_psprintf(p, "w%d", i);
            g[i].fail = (i == 2);
            g[i].hold = (i == 0);
            g[i].release = release;
        }
        apr_thread_create(&t[0], NULL, grouper, &g[0], p);
        apr_sleep(apr_time_from_msec(100) * (f ? atoi(f) : 1));
        for (i = 1; i < 4; ++i) {
            apr_thread_create(&t[i], NULL, grouper, &g[i], p);
        }
        apr_sleep(apr_time_from_msec(200) * (f ? atoi(f) : 1));
        apr_thread_mutex_unlock(release);
        for (i = 0; i < 4; ++i) {
            apr_thread_join(&rv, t[i]);
        }
        pk_group_counts(&works1, &groups1, &retried);
        PK_TEST_INT(g[0].rv, APR_SUCCESS, apr_psprintf(p, "%s: the held work succeeded", how));
        PK_TEST_INT(g[1].rv, APR_SUCCESS, apr_psprintf(p, "%s: a grouped work succeeded", how));
        PK_TEST_INT(g[2].rv, APR_EINVAL,
                    apr_psprintf(p, "%s: the failing work gets its own error", how));
        PK_TEST_INT(g[3].rv, APR_SUCCESS,
                    apr_psprintf(p, "%s: the work after the failing one succeeded", how));
        PK_TEST_STR(sql_list(db, p, "SELECT v FROM g ORDER BY v"), "w0,w1,w3",
                    apr_psprintf(p, "%s: the failing work's row is gone, the others' stay "
                                    "(once each)", how));
        PK_TEST_INT((int)(works1 - works0), 4, apr_psprintf(p, "%s: four works run", how));
        PK_TEST_INT((int)(groups1 - groups0), 2,
                    apr_psprintf(p, "%s: in two transactions (1 + 3)", how));
        PK_TEST_INT((int)(retried - retried0), cheap ? 0 : 1,
                    apr_psprintf(p, "%s: run again work by work: %s", how,
                                 cheap ? "never" : "once"));
        for (i = 0; i < 4; ++i) {
            apr_pool_destroy(g[i].pool);
        }
    }

    /* concurrent saves: every one answered with its task, none lost, some grouped */
    PK_TEST_INT(pk_user_ensure(db, p, "grouper", &u), APR_SUCCESS, "group: user");
    pk_group_counts(&works0, &groups0, &retried);
    for (i = 0; i < GROUP_THREADS; ++i) {
        memset(&g[i], 0, sizeof(g[i]));
        apr_pool_create(&g[i].pool, p);
        g[i].db = open_db(g[i].pool, "group.db");
        g[i].name = apr_psprintf(p, "t%d", i);
        g[i].saves = GROUP_SAVES;
        g[i].user_id = u ? u->id : 0;
    }
    for (i = 0; i < GROUP_THREADS; ++i) {
        apr_thread_create(&t[i], NULL, grouper, &g[i], p);
    }
    for (i = 0; i < GROUP_THREADS; ++i) {
        apr_thread_join(&rv, t[i]);
        saved += g[i].saved;
    }
    pk_group_counts(&works1, &groups1, &retried);
    PK_TEST_INT(saved, GROUP_THREADS * GROUP_SAVES, "group: every save answered with a task");
    PK_TEST_INT(sql_int(db, p, apr_psprintf(p, "SELECT COUNT(*) FROM items WHERE user_id = "
                                               I64, u ? u->id : 0)),
                GROUP_THREADS * GROUP_SAVES, "group: every item stored");
    PK_TEST_INT(sql_int(db, p, "SELECT COUNT(*) FROM tasks"), GROUP_THREADS * GROUP_SAVES,
                "group: every task stored");
    PK_TEST_INT(sql_int(db, p, apr_psprintf(p, "SELECT COUNT(DISTINCT seq) FROM events WHERE "
                                               "user_id = " I64, u ? u->id : 0)),
                GROUP_THREADS * GROUP_SAVES, "group: one event each, seqs distinct");
    PK_TEST_INT((int)(works1 - works0), GROUP_THREADS * GROUP_SAVES,
                "group: every save ran as a work");
    PK_TEST_OK(groups1 - groups0 < works1 - works0, "group: some shared a transaction");

    /* a limit of 1: each alone */
    pk_group_set_limit(1);
    pk_group_counts(&works0, &groups0, &retried);
    g[0].saves = 3;
    g[0].saved = 0;
    g[0].name = "alone";
    grouper(NULL, &g[0]);
    pk_group_counts(&works1, &groups1, &retried);
    PK_TEST_INT(g[0].saved, 3, "group: limit 1 saves");
    PK_TEST_INT((int)(works1 - works0), 0, "group: limit 1 runs no group");
    pk_group_set_limit(32);
    apr_thread_mutex_destroy(release);
    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------------------ */
/* several connections (httpd children)                                             */

#define RACE_N 40

typedef struct {
    const char *path;               /* pk_db_open in the thread when set */
    pk_db *db;
    apr_pool_t *pool;
    apr_thread_mutex_t *gate;
    apr_status_t open_rv;
    const char *why;
    apr_status_t user_rv;
    apr_int64_t user_id;
    apr_status_t rv[RACE_N];
    apr_int64_t id[RACE_N];
    apr_int64_t task[RACE_N];
    int existing[RACE_N];
    apr_interval_time_t slowest;    /* the longest save */
} racer_t;

static void *APR_THREAD_FUNC racer(apr_thread_t *thread, void *data)
{
    racer_t *r = data;
    apr_pool_t *sp;
    pk_user *u = NULL;
    pk_item *it;
    int i;

    apr_thread_mutex_lock(r->gate);     /* wait for the start */
    apr_thread_mutex_unlock(r->gate);
    if (r->path) {
        r->open_rv = pk_db_open(r->pool, "sqlite3", r->path, NULL, &r->db, &r->why);
        return NULL;
    }
    apr_pool_create(&sp, r->pool);
    r->user_rv = pk_user_ensure(r->db, sp, "racer", &u);
    r->user_id = u ? u->id : 0;
    for (i = 0; i < RACE_N; ++i) {
        apr_time_t start = apr_time_now();

        apr_pool_clear(sp);
        it = NULL;
        r->rv[i] = pk_item_save(r->db, sp, r->user_id,
                                apr_psprintf(sp, "https://example.com/race/%d", i), "u", NULL,
                                strs(sp, "race"), NULL, &it, &r->task[i], &r->existing[i]);
        r->id[i] = it ? it->id : 0;
        if (apr_time_now() - start > r->slowest)
            r->slowest = apr_time_now() - start;
    }
    apr_pool_destroy(sp);
    return NULL;
}

/* Run two racers at once. */
static void race(apr_pool_t *p, racer_t *a, racer_t *b)
{
    apr_thread_t *ta = NULL, *tb = NULL;
    apr_thread_mutex_t *gate = NULL;
    apr_status_t rv;

    apr_thread_mutex_create(&gate, APR_THREAD_MUTEX_DEFAULT, p);
    a->gate = b->gate = gate;
    apr_thread_mutex_lock(gate);
    apr_thread_create(&ta, NULL, racer, a, p);
    apr_thread_create(&tb, NULL, racer, b, p);
    apr_thread_mutex_unlock(gate);
    apr_thread_join(&rv, ta);
    apr_thread_join(&rv, tb);
    apr_thread_mutex_destroy(gate);
}

static void test_connections(apr_pool_t *parent)
{
    apr_pool_t *p, *p1, *p2;
    pk_db *db1, *db2;
    pk_user *u1 = NULL, *u2 = NULL;
    pk_item *it1 = NULL, *it2 = NULL;
    racer_t *a, *b;
    apr_int64_t task1 = -1, task2 = -1, racer_id;
    int ex1 = -1, ex2 = -1, i, ok_rv, same_id, one_new, tasks_ok;
    const char *u = "https://example.com/shared";

    apr_pool_create(&p, parent);
    apr_pool_create(&p1, p);
    apr_pool_create(&p2, p);
    db1 = open_db(p1, "conn.db");
    db2 = open_db(p2, "conn.db");
    PK_TEST_OK(db1 && db2, "conn: two connections on one file");
    if (!db1 || !db2) {
        apr_pool_destroy(p);
        return;
    }

    PK_TEST_INT(pk_user_ensure(db1, p, "alice", &u1), APR_SUCCESS, "conn: ensure on 1");
    PK_TEST_INT(pk_user_ensure(db2, p, "alice", &u2), APR_SUCCESS, "conn: ensure on 2");
    PK_TEST_OK(u1 && u2 && u1->id == u2->id, "conn: same user on both");
    if (!u1 || !u2) {
        apr_pool_destroy(p);
        return;
    }

    /* interleaved saves of the same url */
    PK_TEST_INT(pk_item_save(db1, p, u1->id, u, u, NULL, strs(p, "one"), NULL, &it1, &task1,
                             &ex1), APR_SUCCESS, "conn: save on 1");
    PK_TEST_INT(pk_item_save(db2, p, u2->id, u, u, NULL, strs(p, "two"), NULL, &it2, &task2,
                             &ex2), APR_SUCCESS, "conn: same url on 2");
    PK_TEST_INT(ex1, 0, "conn: new on 1");
    PK_TEST_INT(ex2, 1, "conn: existing on 2");
    PK_TEST_OK(task1 > 0 && task2 == 0, "conn: one task");
    PK_TEST_OK(it1 && it2 && it1->id == it2->id, "conn: same item");
    PK_TEST_STR(it2 ? joined(p, it2->tags) : NULL, "one,two",
                "conn: tags of both connections");
    PK_TEST_INT(pk_item_get(db1, p, u1->id, it1 ? it1->id : 0, &it1), APR_SUCCESS,
                "conn: 1 sees 2's change");
    PK_TEST_STR(it1 ? joined(p, it1->tags) : NULL, "one,two", "conn: 1 reads both tags");
    PK_TEST_INT(sql_int(db2, p, "SELECT COUNT(*) FROM items"), 1, "conn: exactly one item");
    PK_TEST_INT(sql_int(db1, p, "SELECT COUNT(*) FROM tasks"), 1, "conn: exactly one task");

    /* a transaction open on 1 is invisible to 2 until committed */
    PK_TEST_INT(pk_db_begin(db1, p), APR_SUCCESS, "conn: begin on 1");
    PK_TEST_INT(pk_user_create(db1, p, "pending", NULL, &u1), APR_SUCCESS,
                "conn: insert on 1");
    PK_TEST_INT(pk_user_by_login(db2, p, "pending", &u2), APR_NOTFOUND,
                "conn: 2 does not see uncommitted data (WAL readers go on)");
    PK_TEST_INT(pk_db_end(db1, p, 1), APR_SUCCESS, "conn: commit on 1");
    PK_TEST_INT(pk_user_by_login(db2, p, "pending", &u2), APR_SUCCESS,
                "conn: 2 sees it after the commit");

    /* two threads (httpd children) saving the same urls at the same time */
    a = apr_pcalloc(p, sizeof(*a));
    b = apr_pcalloc(p, sizeof(*b));
    a->db = db1;
    a->pool = p1;
    b->db = db2;
    b->pool = p2;
    race(p, a, b);
    PK_TEST_INT(a->user_rv, APR_SUCCESS, "race: ensure on 1");
    PK_TEST_INT(b->user_rv, APR_SUCCESS, "race: ensure on 2");
    PK_TEST_OK(a->user_id > 0 && a->user_id == b->user_id, "race: one user");
    racer_id = a->user_id;
    PK_TEST_INT(sql_int(db1, p, "SELECT COUNT(*) FROM users WHERE login = 'racer'"), 1,
                "race: one users row");
    ok_rv = same_id = one_new = tasks_ok = 1;
    for (i = 0; i < RACE_N; ++i) {
        if (a->rv[i] != APR_SUCCESS || b->rv[i] != APR_SUCCESS)
            ok_rv = 0;
        if (!a->id[i] || a->id[i] != b->id[i])
            same_id = 0;
        if (a->existing[i] + b->existing[i] != 1)
            one_new = 0;
        if ((a->existing[i] ? a->task[i] != 0 : a->task[i] <= 0)
            || (b->existing[i] ? b->task[i] != 0 : b->task[i] <= 0))
            tasks_ok = 0;
    }
    PK_TEST_OK(ok_rv, "race: every save succeeded");
    PK_TEST_OK(same_id, "race: both got the same item for each url");
    PK_TEST_OK(one_new, "race: exactly one of the two created each item");
    PK_TEST_OK(tasks_ok, "race: a task id exactly for the creating save");
    PK_TEST_INT(sql_int(db1, p, apr_psprintf(p, "SELECT COUNT(*) FROM items WHERE user_id = "
                                                I64, racer_id)), RACE_N,
                "race: exactly one item per url");
    PK_TEST_INT(sql_int(db2, p, apr_psprintf(p, "SELECT COUNT(*) FROM tasks WHERE user_id = "
                                                I64, racer_id)), RACE_N,
                "race: exactly one task per item");
    PK_TEST_INT(sql_int(db2, p, apr_psprintf(p, "SELECT COUNT(*) FROM events WHERE user_id = "
                                                I64 " AND type = 'item.saved'", racer_id)),
                RACE_N, "race: exactly one item.saved per item");
    PK_TEST_STR(tags_listed(db1, p, racer_id), apr_psprintf(p, "race:%d", RACE_N),
                "race: one tag, on every item");
    PK_TEST_OK(db1->txn == NULL && db2->txn == NULL, "race: no transaction left open");
    printf("# race: slowest save %.3f s / %.3f s\n", a->slowest / 1e6, b->slowest / 1e6);
    /* apr_dbd_sqlite3 holds one process-wide mutex around sqlite3_step: a plain busy
     * timeout would sleep with it held and keep the lock holder from committing */
    PK_TEST_OK(a->slowest < apr_time_from_sec(2) && b->slowest < apr_time_from_sec(2),
               "race: no save of two threads waits out the busy timeout");
    apr_pool_destroy(p);

    /* two processes starting at once on a fresh file: the migration runs once */
    apr_pool_create(&p, parent);
    a = apr_pcalloc(p, sizeof(*a));
    b = apr_pcalloc(p, sizeof(*b));
    apr_pool_create(&a->pool, p);
    apr_pool_create(&b->pool, p);
    a->path = b->path = db_path(p, "race-open.db");
    i = logs.migrations;
    race(p, a, b);
    PK_TEST_INT(a->open_rv, APR_SUCCESS, "two openers of a fresh file: first opens");
    PK_TEST_INT(b->open_rv, APR_SUCCESS, "two openers of a fresh file: second opens");
    if (a->why || b->why)
        printf("# why: %s / %s\n", a->why ? a->why : "-", b->why ? b->why : "-");
    PK_TEST_INT(logs.migrations - i, pk_schema_version(),
                "two openers: each migration applied once in all");
    if (a->db)
        PK_TEST_INT(sql_int(a->db, p, "SELECT COUNT(*) FROM pk_schema"), pk_schema_version(),
                    "two openers: one pk_schema row per version");
    apr_pool_destroy(p);

    /* a begin that fails (another connection holds the write lock) must leave the
     * connection as it was */
    apr_pool_create(&p, parent);
    apr_pool_create(&p1, p);
    apr_pool_create(&p2, p);
    db1 = open_db(p1, "begin.db");
    db2 = open_db(p2, "begin.db");
    if (!db1 || !db2) {
        PK_TEST_OK(0, "failed begin: open");
        apr_pool_destroy(p);
        return;
    }
    PK_TEST_INT(pk_user_create(db1, p, "alice", NULL, &u1), APR_SUCCESS,
                "failed begin: a user");
    {
        pk_token *tok = NULL;
        apr_int64_t n = -1;

        PK_TEST_INT(pk_token_create(db1, p, u1 ? u1->id : 0, "t", "h", &tok), APR_SUCCESS,
                    "failed begin: a token");
        pk_db_tune(db2, p, 0);      /* give up at once (apr_dbd still retries 1.6 s) */
        PK_TEST_INT(pk_db_begin(db1, p), APR_SUCCESS, "failed begin: 1 takes the lock");
        PK_TEST_OK(pk_db_begin(db2, p) != APR_SUCCESS, "failed begin: 2 cannot begin");
        PK_TEST_OK(db2->txn == NULL, "failed begin: 2 has no transaction");
        PK_TEST_INT(pk_db_end(db1, p, 1), APR_SUCCESS, "failed begin: 1 commits");
        PK_TEST_OK(pk_token_create(db2, p, u1 ? u1->id : 0, "t", "h", &tok) != APR_SUCCESS,
                   "failed begin: a statement on 2 fails (duplicate hash)");
        PK_TEST_INT(pk_user_count(db2, p, &n), APR_SUCCESS,
                    "the next statement on 2 succeeds");
        PK_TEST_INT(pk_user_by_login(db2, p, "alice", &u2), APR_SUCCESS,
                    "and the one after");
    }
    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------------------ */

static void remove_tree(apr_pool_t *p, const char *dir)
{
    apr_dir_t *d = NULL;
    apr_finfo_t fi;
    apr_status_t rv;
    const char *path;

    if (apr_dir_open(&d, dir, p) != APR_SUCCESS)
        return;
    while ((rv = apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d)) == APR_SUCCESS
           || rv == APR_INCOMPLETE) {
        if (!strcmp(fi.name, ".") || !strcmp(fi.name, ".."))
            continue;
        path = apr_pstrcat(p, dir, "/", fi.name, NULL);
        if (fi.filetype == APR_DIR)
            remove_tree(p, path);
        else
            apr_file_remove(path, p);
    }
    apr_dir_close(d);
    if (apr_dir_remove(dir, p) != APR_SUCCESS)
        fprintf(stderr, "test_store: cannot remove %s\n", dir);
}

int main(void)
{
    apr_pool_t *p = NULL;
    const char *tmp = NULL;
    int rc = 1;

    if (apr_app_initialize(NULL, NULL, NULL) != APR_SUCCESS)
        return 1;
    apr_pool_create(&p, NULL);
    logs.verbose = getenv("PK_TEST_VERBOSE") && *getenv("PK_TEST_VERBOSE");
    apr_thread_mutex_create(&logs.mutex, APR_THREAD_MUTEX_DEFAULT, p);
    pk_log_set(log_sink, log_enabled, NULL);

    if (apr_temp_dir_get(&tmp, p) != APR_SUCCESS)
        tmp = "/tmp";
    tmpdir = apr_psprintf(p, "%s/pk-test-store-%ld-%" APR_TIME_T_FMT, tmp, (long)getpid(),
                          apr_time_now());
    if (apr_dir_make(tmpdir, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE, p)
        != APR_SUCCESS) {
        fprintf(stderr, "test_store: cannot create %s\n", tmpdir);
        apr_pool_destroy(p);
        apr_terminate();
        return 1;
    }
    printf("# databases in %s\n", tmpdir);

    test_open(p);
    test_users(p);
    test_sessions(p);
    test_tokens(p);
    test_item_save(p);
    test_item_list(p);
    test_item_patch(p);
    test_item_delete(p);
    test_tags(p);
    test_transactions(p);
    test_events(p);
    test_savepoints(p);
    test_group(p);
    test_connections(p);
    rc = PK_TEST_DONE();

    remove_tree(p, tmpdir);
    pk_log_set(NULL, NULL, NULL);
    apr_thread_mutex_destroy(logs.mutex);
    logs.mutex = NULL;
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
