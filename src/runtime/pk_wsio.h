/* mod_poketto — the I/O thread of parked WebSockets (runtime layer, event MPM).
 *
 * PokettoWsMode parked: after the 101 the handler notes the connection
 * (pk_wsio_note) and returns SUSPENDED; the event MPM forgets the socket and calls the
 * suspend_connection hook, last thing on the worker thread, where pk_wsio_park hands the
 * connection to this child's I/O thread. From then on that thread alone touches it: one
 * wakeable pollset holds every parked socket; readable and writable sockets, the bus
 * subscriptions' wake callbacks (pk_wsio_wake only queues the connection and wakes the
 * thread) and timers make it call pk_wsconn_step. When a WebSocket is over, the thread
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

/** child_init (event MPM, parked mode): start the I/O thread, stopped (every parked
 *  WebSocket closed) by a pre-cleanup of pchild. */
apr_status_t pk_wsio_child_init(apr_pool_t *pchild, server_rec *s);

/** Whether the I/O thread runs in this child (parked WebSockets can be taken). */
int pk_wsio_running(void);

/** Handler, before it returns SUSPENDED: c is to be parked with ws. */
void pk_wsio_note(conn_rec *c, struct pk_wsconn *ws);

/** A pool for a detached WebSocket (any thread): APR_EOF when the I/O thread stops or
 *  does not run. The I/O thread destroys it when the WebSocket closed. */
apr_status_t pk_wsio_conn_pool(apr_pool_t **p);

/** The bucket allocator of detached WebSockets' queued bytes (the I/O thread's: only it
 *  may make or free buckets of it). */
apr_bucket_alloc_t *pk_wsio_bucket_alloc(void);

/** Handler: hand a detached WebSocket (pk_wsconn_detach done) to the I/O thread. */
void pk_wsio_hand(struct pk_wsconn *ws);

/** suspend_connection hook: hand a noted connection to the I/O thread (no-op for any
 *  other connection). */
void pk_wsio_park(conn_rec *c);

/** A bus wake callback (baton: the pk_wsconn): queue it for the I/O thread. */
void pk_wsio_wake(void *baton);

/** Parked WebSockets of this child (detached included). */
int pk_wsio_count(void);
/** Detached WebSockets of this child. */
int pk_wsio_detached_count(void);

#endif /* PK_WSIO_H */
