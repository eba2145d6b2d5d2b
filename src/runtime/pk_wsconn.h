/* mod_poketto — one open WebSocket (runtime layer): frames over the connection's
 * filters, the client's JSON messages, the user's events from the bus, pings, the
 * close handshake.
 *
 * Thread mode: the request's worker thread, after the 101, calls pk_wsconn_run(),
 * which waits in an APR_POLLSET_WAKEABLE pollset on the client socket; the bus
 * subscription's wake callback calls apr_pollset_wakeup(). Only that thread touches
 * the connection (its filters, pools, bucket allocator).
 *
 * Frames are read with ap_get_brigade(c->input_filters, AP_MODE_READBYTES,
 * APR_NONBLOCK_READ) until nothing is left (a readable socket is not decrypted data
 * behind mod_ssl, and mod_ssl may hold data the socket no longer shows) and written to
 * c->output_filters with a flush bucket, so TLS works. Frames for the client wait in a
 * queue of at most PokettoWsSendBuffer bytes and are written in pieces when the socket
 * can take them: a client that does not read is dropped when the queue is full, the
 * bus (and so whoever published) never waits for it.
 *
 * Memory: the connection's state lives in a subpool of c->pool, each message (in or
 * out) in a subpool of that cleared after the message, queued bytes in heap buckets of
 * c->bucket_alloc freed as they are written.
 */
#ifndef PK_WSCONN_H
#define PK_WSCONN_H

#include <httpd.h>
#include "mod_poketto.h"

typedef struct pk_wsconn pk_wsconn;

/** Take one of this child's thread-mode places (PokettoWsMaxPerChild); 0 when all are
 *  taken (answer 503). Give it back with pk_wsconn_slot_put(). */
int pk_wsconn_slot_take(const pk_ws_conf *conf);
void pk_wsconn_slot_put(void);
/** Thread-mode WebSockets open in this child now. */
int pk_wsconn_open_count(void);

/** Prepare a WebSocket of user_id on c before the 101 is sent: state in a subpool of
 *  c->pool, the frame reader, the pollset, a bus subscription to the user's events
 *  from now on. APR_EOF when the child is stopping, APR_ENOTIMPL when the bus does not
 *  run here, other errors from APR; nothing is left allocated on failure. */
apr_status_t pk_wsconn_create(conn_rec *c, apr_int64_t user_id, const pk_ws_conf *conf,
                              pk_wsconn **ws);

/** Hold the WebSocket on the calling thread until it closes (client close, protocol
 *  error, ping time-out, send queue full, child stopping), then free its state. The
 *  connection must not be used for HTTP afterwards (c->keepalive is AP_CONN_CLOSE,
 *  c->aborted when the client was dropped without a close handshake). */
void pk_wsconn_run(pk_wsconn *ws);

/** Free a WebSocket that pk_wsconn_run() will not run (the 101 could not be sent). */
void pk_wsconn_destroy(pk_wsconn *ws);

#endif /* PK_WSCONN_H */
