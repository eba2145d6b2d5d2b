/* mod_poketto — the I/O threads of parked WebSockets (runtime layer, event MPM).
 *
 * PokettoWsMode parked: a child runs PokettoWsIoThreads I/O threads and deals each new
 * WebSocket to one of them in turn (pk_wsio_pick, at pk_wsconn_create). After the 101
 * the handler notes the connection (pk_wsio_note) and returns SUSPENDED; the event MPM
 * forgets the socket and calls the suspend_connection hook, last thing on the worker
 * thread, where pk_wsio_park hands the connection to its I/O thread. From then on that
 * thread alone touches it: the thread's wakeable pollset holds its parked sockets;
 * readable and writable sockets, the bus subscriptions' wake callbacks (pk_wsio_wake
 * only queues the connection and wakes the thread) and timers make it call
 * pk_wsconn_step. When a WebSocket is over, the thread
 * finishes what the MPM no longer does: logs the request (log_transaction hooks) and
 * destroys c->pool, which closes the socket and, the connection's state being still
 * SUSPENDED, lets the event MPM's pool cleanup decrement its suspended and connection
 * counts (a gracefully stopping child waits for those to reach 0).
 *
 * Detached (pk_wsconn.h): the handler hands the WebSocket over itself (pk_wsio_hand)
 * and returns; httpd has ended the request and the connection by then and the thread
 * closes the WebSocket's own socket (lingering, as httpd would) and destroys its pool,
 * a subpool of this thread's (pk_wsio_conn_pool). A gracefully stopping child does not
 * wait for them: the child's stop sends them 1001 and closes them.
 */
#ifndef PK_WSIO_H
#define PK_WSIO_H

#include <httpd.h>
#include <apr_buckets.h>

struct pk_wsconn;

/** One I/O thread of this child (each holds the WebSockets dealt to it). */
typedef struct pk_wsio pk_wsio;

/** child_init (event MPM, parked mode): start `threads` I/O threads, stopped together
 *  (every parked WebSocket closed) by a pre-cleanup of pchild. */
apr_status_t pk_wsio_child_init(apr_pool_t *pchild, server_rec *s, int threads);

/** Whether the I/O threads run in this child (parked WebSockets can be taken). */
int pk_wsio_running(void);

/** The I/O thread a new WebSocket goes to (they are dealt in turn); NULL when they do
 *  not run or stop. Any thread. */
pk_wsio *pk_wsio_pick(void);

/** I/O threads running in this child. */
int pk_wsio_threads(void);

/** Handler, before it returns SUSPENDED: c is to be parked with ws. */
void pk_wsio_note(conn_rec *c, struct pk_wsconn *ws);

/** A pool for a detached WebSocket held by io (any thread): APR_EOF when the I/O
 *  threads stop. io destroys it when the WebSocket closed. */
apr_status_t pk_wsio_conn_pool(pk_wsio *io, apr_pool_t **p);

/** io's bucket allocator of detached WebSockets' queued bytes (only io may make or free
 *  buckets of it). */
apr_bucket_alloc_t *pk_wsio_bucket_alloc(pk_wsio *io);

/** Handler: hand a detached WebSocket (pk_wsconn_detach done) to its I/O thread. */
void pk_wsio_hand(struct pk_wsconn *ws);

/** suspend_connection hook: hand a noted connection to its I/O thread (no-op for any
 *  other connection). */
void pk_wsio_park(conn_rec *c);

/** A bus wake callback (baton: the pk_wsconn): queue it for its I/O thread. */
void pk_wsio_wake(void *baton);

/** Parked WebSockets of this child (detached included). */
int pk_wsio_count(void);
/** Detached WebSockets of this child. */
int pk_wsio_detached_count(void);

#endif /* PK_WSIO_H */
