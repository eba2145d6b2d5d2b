/* mod_poketto — group commit: the write transactions of one process's threads, run
 * together (store layer; APR only).
 *
 * SQLite writes one transaction at a time, and a commit rewrites every page it touched
 * (the last leaf of items, tasks, events and their indexes, the user's row): saves that
 * commit one by one write the same pages again and again. A thread that wants to write
 * queues its work; the first of them with no leader running becomes the leader, takes up
 * to the group limit of queued works and runs them in one transaction on its own
 * connection, each in a savepoint of its own (one that fails is rolled back alone), commits
 * once and wakes their threads. Waiting threads do no work; the next leader is whichever of
 * them finds the queue still holding its work.
 * PostgreSQL writers do run side by side, but all saves of a user bump that user's row
 * (pk_events.h), and 32 transactions queueing on one row lock hand it over one at a time,
 * waking every waiter each time: grouped, a child has one transaction in that queue.
 * There no savepoints (apr_dbd's pgsql driver would wrap every statement in one of its
 * own): when a work fails, the group is rolled back and each of its works runs again in a
 * transaction of its own.
 */
#ifndef PK_GROUP_H
#define PK_GROUP_H

#include <apr_pools.h>
#include "pk_db.h"

/** A piece of write work: statements on db (maybe another thread's connection, inside
 *  a transaction already open), allocating in p (its caller's), its baton its own. */
typedef apr_status_t pk_group_work_fn(pk_db *db, apr_pool_t *p, void *baton);

/**
 * Run work in a write transaction, possibly with other threads' work in the same one.
 * Answers work's status once the transaction is committed (or the commit's failure,
 * when work succeeded but the commit did not; then nothing of it stays). The events it
 * wrote are published after that commit. Runs alone (in a transaction of its own on db)
 * with a group limit of 1, and inside the transaction already open when this thread or
 * db has one (a scope of its own there; with PostgreSQL its failure fails that
 * transaction). work may run more than once (PostgreSQL, after another work of its group
 * failed): it must set its results afresh each time.
 */
apr_status_t pk_group_run(pk_db *db, apr_pool_t *p, pk_group_work_fn *work, void *baton);

/** At most this many works in one transaction (1: none grouped). Set at start-up. */
void pk_group_set_limit(int limit);

/** Works run by leaders in this process, the transactions they ran them in, and the
 *  PostgreSQL groups run again work by work after one failed. */
void pk_group_counts(apr_uint64_t *works, apr_uint64_t *groups, apr_uint64_t *retried);

#endif /* PK_GROUP_H */
