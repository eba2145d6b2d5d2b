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
 * them finds the queue still holding its work. PostgreSQL writers run side by side, so
 * there every work runs in its own transaction on its own connection.
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
 * with PostgreSQL, with a group limit of 1, or when this thread has a transaction open.
 */
apr_status_t pk_group_run(pk_db *db, apr_pool_t *p, pk_group_work_fn *work, void *baton);

/** At most this many works in one transaction (1: none grouped). Set at start-up. */
void pk_group_set_limit(int limit);

/** Works run by leaders in this process, and the transactions they ran them in. */
void pk_group_counts(apr_uint64_t *works, apr_uint64_t *groups);

#endif /* PK_GROUP_H */
