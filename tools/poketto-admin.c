/* poketto-admin — manage mod_poketto accounts and tokens without a server.
 *
 * Opens the same database httpd uses (apr_dbd, the same driver and parameters as
 * DBDriver / DBDParams), brings its schema up to date, and creates users and API
 * tokens through the store layer, so the rules are those of the module itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_getopt.h>

#include "pk_db.h"
#include "pk_schema.h"
#include "pk_users.h"
#include "pk_credentials.h"
#include "pk_secret.h"

#define EXIT_USAGE 2
#define EXIT_EXISTS 3
#define PASSWORD_COST 10

static void usage(FILE *out)
{
    fprintf(out,
        "usage: poketto-admin [-d DRIVER] [-p PARAMS] COMMAND\n"
        "  -d DRIVER   apr_dbd driver: sqlite3 (default) or pgsql  [$POKETTO_DB_DRIVER]\n"
        "  -p PARAMS   DBDParams: the SQLite file, or a libpq conninfo [$POKETTO_DB_PARAMS]\n"
        "commands:\n"
        "  migrate                             bring the schema up to date\n"
        "  user add LOGIN [--password PW]      create an account (random password if none)\n"
        "  user passwd LOGIN [--password PW]   set a new password (random if none)\n"
        "  user count                          print how many accounts exist\n"
        "  token add LOGIN [--name NAME]       create an API token for LOGIN\n"
        "Secrets are printed once, as 'password: …' and 'token: …' lines.\n");
}

/* The value after --flag among argv[from..], or NULL. */
static const char *flag_value(int argc, const char *const *argv, int from, const char *flag)
{
    int i;

    for (i = from; i + 1 < argc; ++i) {
        if (!strcmp(argv[i], flag)) {
            return argv[i + 1];
        }
    }
    return NULL;
}

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "poketto-admin: %s%s%s\n", what, why ? ": " : "", why ? why : "");
    return EXIT_FAILURE;
}

static int user_add(pk_db *db, apr_pool_t *p, const char *login, const char *password)
{
    const char *hash = NULL;
    pk_user *u = NULL;
    apr_status_t rv;

    if (!password && APR_SUCCESS != pk_secret_token(p, NULL, 15, &password)) {
        return fail("no randomness for a password", NULL);
    }
    if (APR_SUCCESS != pk_password_hash(p, password, PASSWORD_COST, &hash)) {
        return fail("cannot hash the password", NULL);
    }
    rv = pk_user_create(db, p, login, hash, &u);
    if (rv == APR_EEXIST) {
        fprintf(stderr, "poketto-admin: user '%s' exists already\n", login);
        return EXIT_EXISTS;
    }
    if (rv != APR_SUCCESS) {
        return fail("cannot create the user", NULL);
    }
    printf("login: %s\npassword: %s\n", login, password);
    return EXIT_SUCCESS;
}

static int user_passwd(pk_db *db, apr_pool_t *p, const char *login, const char *password)
{
    const char *hash = NULL;
    pk_user *u = NULL;

    if (APR_SUCCESS != pk_user_by_login(db, p, login, &u)) {
        return fail("no such user", login);
    }
    if (!password && APR_SUCCESS != pk_secret_token(p, NULL, 15, &password)) {
        return fail("no randomness for a password", NULL);
    }
    if (APR_SUCCESS != pk_password_hash(p, password, PASSWORD_COST, &hash)
        || APR_SUCCESS != pk_user_set_password(db, p, u->id, hash)) {
        return fail("cannot set the password", NULL);
    }
    printf("login: %s\npassword: %s\n", login, password);
    return EXIT_SUCCESS;
}

static int token_add(pk_db *db, apr_pool_t *p, const char *login, const char *name)
{
    const char *secret = NULL;
    pk_token *t = NULL;
    pk_user *u = NULL;

    if (APR_SUCCESS != pk_user_by_login(db, p, login, &u)) {
        return fail("no such user", login);
    }
    if (APR_SUCCESS != pk_secret_token(p, "pkt_", 32, &secret)
        || APR_SUCCESS != pk_token_create(db, p, u->id, name ? name : "poketto-admin",
                                          pk_secret_hash(p, secret), &t)) {
        return fail("cannot create the token", NULL);
    }
    printf("token: %s\n", secret);
    return EXIT_SUCCESS;
}

int main(int argc, const char *const *argv)
{
    const char *driver = getenv("POKETTO_DB_DRIVER");
    const char *params = getenv("POKETTO_DB_PARAMS");
    const char *why = NULL, *opt_arg;
    apr_getopt_t *opt;
    apr_pool_t *p;
    pk_db *db = NULL;
    apr_int64_t count = 0;
    int rc = EXIT_USAGE, n;
    char c;

    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);
    apr_getopt_init(&opt, p, argc, argv);
    while (apr_getopt(opt, "d:p:h", &c, &opt_arg) == APR_SUCCESS) {
        switch (c) {
        case 'd': driver = opt_arg; break;
        case 'p': params = opt_arg; break;
        case 'h': usage(stdout); rc = EXIT_SUCCESS; goto leave;
        }
    }
    argv += opt->ind;
    argc -= opt->ind;
    if (argc < 1 || !params) {
        usage(stderr);
        goto leave;
    }
    if (!driver) {
        driver = "sqlite3";
    }
    if (APR_SUCCESS != pk_db_open(p, driver, params,
                                  NULL, &db, &why)) {
        rc = fail("cannot open the database", why);
        goto leave;
    }
    n = argc;
    if (!strcmp(argv[0], "migrate")) {
        printf("schema version %d\n", pk_schema_version());
        rc = EXIT_SUCCESS;
    }
    else if (n >= 3 && !strcmp(argv[0], "user") && !strcmp(argv[1], "add")) {
        rc = user_add(db, p, argv[2], flag_value(n, argv, 3, "--password"));
    }
    else if (n >= 3 && !strcmp(argv[0], "user") && !strcmp(argv[1], "passwd")) {
        rc = user_passwd(db, p, argv[2], flag_value(n, argv, 3, "--password"));
    }
    else if (n == 2 && !strcmp(argv[0], "user") && !strcmp(argv[1], "count")) {
        if (APR_SUCCESS == pk_user_count(db, p, &count)) {
            printf("%" APR_INT64_T_FMT "\n", count);
            rc = EXIT_SUCCESS;
        }
        else {
            rc = fail("cannot count users", NULL);
        }
    }
    else if (n >= 3 && !strcmp(argv[0], "token") && !strcmp(argv[1], "add")) {
        rc = token_add(db, p, argv[2], flag_value(n, argv, 3, "--name"));
    }
    else {
        usage(stderr);
    }
leave:
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
