/* mod_poketto — group commit; see pk_group.h. */
#include <pthread.h>

#include "pk_group.h"
#include "pk_log.h"

#define DEFAULT_LIMIT 32

typedef struct work_rec work_rec;
struct work_rec {
    pk_group_work_fn *work;
    void *baton;
    apr_pool_t *p;                  /* the waiting thread's */
    apr_status_t rv;
    int done;
    work_rec *next;
};

/* Process-wide, and static for the same reason as the store's writer mutex: no pool to
 * make them in before the first write, and never held across fork. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER;
static work_rec *head, *tail;       /* waiting works, oldest first */
static int leading;                 /* a leader runs a group */
static int limit = DEFAULT_LIMIT;
static apr_uint64_t n_works, n_groups, n_retried;

void pk_group_set_limit(int n)
{
    limit = n > 0 ? n : 1;
}

void pk_group_counts(apr_uint64_t *works, apr_uint64_t *groups, apr_uint64_t *retried)
{
    pthread_mutex_lock(&lock);
    *works = n_works;
    *groups = n_groups;
    *retried = n_retried;
    pthread_mutex_unlock(&lock);
}

static apr_status_t run_alone(pk_db *db, apr_pool_t *p, pk_group_work_fn *work, void *baton)
{
    apr_status_t rv;

    if (APR_SUCCESS != (rv = pk_db_begin(db, p))) {
        return rv;
    }
    return pk_db_finish(db, p, work(db, p, baton));
}

/* The leader's part, called and left with the lock held: run the oldest works (up to the
 * limit) in one transaction on db, then mark them done. */
static void lead(pk_db *db, apr_pool_t *p)
{
    work_rec *group = head, *w, *last = head;
    apr_pool_t *tp = NULL;
    apr_status_t rv, commit;
    int n, retried = 0;

    for (n = 1; n < limit && last->next; ++n) {
        last = last->next;
    }
    head = last->next;
    if (!head) {
        tail = NULL;
    }
    last->next = NULL;
    leading = 1;
    pthread_mutex_unlock(&lock);

    commit = APR_SUCCESS;
    if (n == 1) {
        /* alone: the transaction is its scope (two statements fewer) */
        group->rv = run_alone(db, group->p, group->work, group->baton);
    }
    else {
        apr_pool_create(&tp, p);
        commit = pk_db_begin(db, tp);   /* when it fails, nothing runs: each gets it */
        if (commit == APR_SUCCESS && db->cheap_savepoints) {
            for (w = group; w; w = w->next) {
                /* inside the open transaction run_alone is a savepoint scope: a failure
                 * rolls back its own statements and events only */
                w->rv = run_alone(db, w->p, w->work, w->baton);
            }
            commit = pk_db_end(db, tp, 1);
        }
        else if (commit == APR_SUCCESS) {
            /* PostgreSQL: a savepoint per work would cost the driver two round trips
             * per statement. All in one go; when one fails, none is kept and each runs
             * again alone, so that each gets its own answer. */
            for (w = group, rv = APR_SUCCESS; w && rv == APR_SUCCESS; w = w->next) {
                rv = w->work(db, w->p, w->baton);
            }
            if (APR_SUCCESS != (commit = pk_db_finish(db, tp, rv))) {
                for (w = group; w; w = w->next) {
                    w->rv = run_alone(db, w->p, w->work, w->baton);
                }
                commit = APR_SUCCESS;
                retried = 1;
            }
        }
        apr_pool_destroy(tp);
    }

    pthread_mutex_lock(&lock);
    for (w = group; w; w = w->next) {
        if (commit != APR_SUCCESS && w->rv == APR_SUCCESS) {
            w->rv = commit;         /* its statements went with the transaction */
        }
        w->done = 1;
    }
    n_works += (apr_uint64_t)n;
    ++n_groups;
    n_retried += (apr_uint64_t)retried;
    leading = 0;
    pthread_cond_broadcast(&finished);
}

apr_status_t pk_group_run(pk_db *db, apr_pool_t *p, pk_group_work_fn *work, void *baton)
{
    work_rec me = { work, baton, p, APR_SUCCESS, 0, NULL };

    /* one with a transaction open would wait, as a follower, for a leader that may wait
     * for it (SQLite's lock, a PostgreSQL row it holds) */
    if (limit <= 1 || pk_db_writing()) {
        return run_alone(db, p, work, baton);
    }
    pthread_mutex_lock(&lock);
    if (tail) {
        tail->next = &me;
    }
    else {
        head = &me;
    }
    tail = &me;
    while (!me.done) {
        if (!leading) {
            lead(db, p);
        }
        else {
            pthread_cond_wait(&finished, &lock);
        }
    }
    pthread_mutex_unlock(&lock);
    return me.rv;
}
