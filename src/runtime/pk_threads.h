/* mod_poketto — memory for the module's own threads (runtime layer).
 *
 * Under prefork, a child's pool (pchild) has an allocator without a mutex: the MPM runs
 * one thread per child. A thread of the module that makes, clears or destroys a pool
 * under pchild (its iteration pool, the pool apr_thread_create gives it, which
 * apr_thread_exit destroys) would then race the request thread on that allocator.
 * Threads of the module take their memory from a pool made here instead, and carry a
 * name of their own.
 */
#ifndef PK_THREADS_H
#define PK_THREADS_H

#include <apr_pools.h>

/** A pool of its own (unmanaged: no parent) on an allocator of its own that a mutex
 *  guards, for threads and their subpools. The caller destroys it, after joining the
 *  threads that use it. */
apr_status_t pk_threads_pool(apr_pool_t **pool, const char *tag);

/** Name the calling thread (at most 15 bytes; Linux: /proc/PID/task/TID/comm, top -H,
 *  gdb's "info threads"): the module's threads are called "pk-…". No-op elsewhere. */
void pk_threads_name(const char *name);

#endif /* PK_THREADS_H */
