/* mod_poketto — one open WebSocket (runtime layer): frames over the connection's
 * filters, the client's JSON messages, the user's events from the bus, pings, the
 * close handshake.
 *
 * Thread mode: the request's worker thread, after the 101, calls pk_wsconn_run(),
 * which waits in an APR_POLLSET_WAKEABLE pollset on the client socket; the bus
 * subscription's wake callback calls apr_pollset_wakeup(). Parked mode: the child's I/O
 * thread (pk_wsio.h) makes the same steps for every parked connection. Either way one
 * thread alone touches a connection (its filters, pools, bucket allocator).
 *
 * Frames are read with ap_get_brigade(c->input_filters, AP_MODE_READBYTES,
 * APR_NONBLOCK_READ) until nothing is left (a readable socket is not decrypted data
 * behind mod_ssl, and mod_ssl may hold data the socket no longer shows) and written to
 * c->output_filters with a flush bucket, so TLS works. Frames for the client wait in a
 * queue of at most PokettoWsSendBuffer bytes and are written in pieces when the socket
 * can take them: a client that does not read is dropped when the queue is full, the
 * bus (and so whoever published) never waits for it.
 *
 * Detached (parked mode, a connection without TLS or any filter that changes bytes,
 * PokettoWsDetach on): after the 101 the socket is duplicated into a pool of the I/O
 * thread's, httpd closes its own descriptor without touching the socket (c->aborted)
 * and ends the request and the connection at once, recycling their pools. Frames are
 * then read and written on that socket without waiting (recv, writev), and an idle
 * WebSocket holds only its own state (~2 KB) instead of httpd's connection, request
 * and bucket allocator (~28 KB).
 *
 * Memory: the connection's state lives in a subpool of c->pool (thread mode), in c->pool
 * (parked) or in a pool of the I/O thread's (detached); each message (in or out) in a
 * pool cleared after the message; queued bytes in heap buckets of c->bucket_alloc (the
 * I/O thread's when detached) freed as they are written.
 */
#ifndef PK_WSCONN_H
#define PK_WSCONN_H

#include <httpd.h>
#include "mod_poketto.h"

typedef struct pk_wsconn pk_wsconn;

/** Who holds an open WebSocket. */
typedef enum {
    PK_WSCONN_THREAD,               /* the request's worker (pk_wsconn_run) */
    PK_WSCONN_PARKED,               /* the I/O thread, on httpd's suspended connection */
    PK_WSCONN_DETACHED              /* the I/O thread, on a socket of its own */
} pk_wsconn_hold;

/** Take one of this child's thread-mode places (PokettoWsMaxPerChild); 0 when all are
 *  taken (answer 503). Give it back with pk_wsconn_slot_put(). */
int pk_wsconn_slot_take(const pk_ws_conf *conf);
void pk_wsconn_slot_put(void);
/** Thread-mode WebSockets open in this child now. */
int pk_wsconn_open_count(void);

/** Whether c can be detached: its filters (mod_reqtimeout's aside, which the WebSocket
 *  removes) only move or count bytes, none changes them (TLS). */
int pk_wsconn_detachable(conn_rec *c);

/** Prepare a WebSocket of user_id on c (the upgraded request r) before the 101 is
 *  sent: its state (see Memory above), the frame reader, a bus subscription to the
 *  user's events from now on; parked and detached: woken through the I/O thread
 *  (pk_wsio.h), else through a pollset of its own. APR_EOF when the child is stopping,
 *  APR_ENOTIMPL when the bus does not run here, other errors from APR; nothing is left
 *  on failure. */
apr_status_t pk_wsconn_create(conn_rec *c, request_rec *r, apr_int64_t user_id,
                              const pk_ws_conf *conf, pk_wsconn_hold hold, pk_wsconn **ws);

/** Detached, once the 101 is written: what the core's input filter holds already is
 *  kept for the reader, the socket is duplicated into the WebSocket's pool, and
 *  c->aborted tells httpd to close its descriptor without a lingering close and to
 *  write nothing more. From then on ws refers to neither c nor r (hand it to
 *  pk_wsio_hand). On failure (no descriptor left) destroy ws and abort c. */
apr_status_t pk_wsconn_detach(pk_wsconn *ws);

/** Thread mode: hold the WebSocket on the calling thread until it closes (client close,
 *  protocol error, ping time-out, send queue full, child stopping), then free its state
 *  (pk_wsconn_end). The connection must not be used for HTTP afterwards (c->keepalive
 *  is AP_CONN_CLOSE, c->aborted when the client was dropped without a close handshake). */
void pk_wsconn_run(pk_wsconn *ws);

/** Free a WebSocket that was not opened (the 101 could not be sent, detaching failed). */
void pk_wsconn_destroy(pk_wsconn *ws);

/* ---- the steps pk_wsconn_run makes, for a thread that holds many (pk_wsio.c) ---- */

/** The WebSocket starts (log, ping timer). */
void pk_wsconn_begin(pk_wsconn *ws);
/** One turn: write a piece when writable, read what the filters have when readable,
 *  queue the bus's messages, a resume's next batch, pings, the stop. Never waits for
 *  the client. 0 when the WebSocket is over (closed or dropped): call pk_wsconn_end. */
int pk_wsconn_step(pk_wsconn *ws, int readable, int writable);
/** Whether bytes wait for the socket to be writable. */
int pk_wsconn_wants_write(pk_wsconn *ws);
/** How long until pk_wsconn_step has something to do without an event (a ping, the end
 *  of the close handshake, a resume another thread reads for). */
apr_interval_time_t pk_wsconn_timeout(pk_wsconn *ws);
/** Whether a step is due without an event: a ping or its pong's time-out, the close
 *  handshake's wait, a resume under way (a sweep over many steps only these). */
int pk_wsconn_due(pk_wsconn *ws, apr_time_t now);
/** Log the end and free the WebSocket's state (the connection stays). */
void pk_wsconn_end(pk_wsconn *ws);

/** Parked: the pool of messages is p, the I/O thread's, cleared after each message (one
 *  thread steps every parked connection, one at a time), instead of one of the
 *  connection's own: an idle parked connection holds no memory for messages. */
void pk_wsconn_set_scratch(pk_wsconn *ws, apr_pool_t *p);

/** The I/O thread takes the pool the WebSocket lives in, to destroy after pk_wsconn_end
 *  and the close: c->pool (parked; the socket closes with it) or the WebSocket's own
 *  (detached; its socket closes with it). */
apr_pool_t *pk_wsconn_take_pool(pk_wsconn *ws);
/** Whether the client was dropped (no close handshake, no lingering close). */
int pk_wsconn_dropped(pk_wsconn *ws);

/** NULL when detached. */
conn_rec *pk_wsconn_conn(pk_wsconn *ws);
request_rec *pk_wsconn_request(pk_wsconn *ws);
apr_socket_t *pk_wsconn_socket(pk_wsconn *ws);
/** A pointer the I/O thread keeps its record of the WebSocket in. */
void **pk_wsconn_io(pk_wsconn *ws);
/** The I/O thread that holds it (parked and detached; NULL in thread mode). */
struct pk_wsio *pk_wsconn_io_thread(pk_wsconn *ws);

#endif /* PK_WSCONN_H */
