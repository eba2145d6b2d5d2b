/* mod_poketto — the event bus (runtime layer): committed events of any child reach the
 * subscribers of their user in every child.
 *
 * Writing. When a transaction that wrote events commits (pk_db_end), the store hands
 * them to pk_bus's publisher, which copies them into a ring of fixed-size slots in
 * shared memory (src/core/pk_ring.c), made once by the parent and kept across graceful
 * restarts, under a global mutex, then futex-wakes the readers.
 *
 * Reading. Each child runs a pump thread, asleep on the ring's futex while the child has
 * subscribers (and on a private word while it has none). Woken, it reads the new slots
 * and hands each event to this child's subscribers of its user. The events table is the
 * truth, the ring a fast path: a subscriber is either LIVE (it has every event of its
 * user up to seq n and takes an event from the ring only if its seq is n + 1) or SYNC
 * (it is behind: the child's sync thread, or its owner with pk_bus_catch_up, reads the
 * table after its last id, in id order, and turns it LIVE at the version read in the
 * same snapshot). A subscriber turns SYNC when it starts, when the ring shows it a seq
 * gap (transactions publish after they commit, so a later one can publish first; or a
 * child died between commit and publish), when the pump fell behind the ring, when a
 * message was too big for a slot, and when its queue is full. Ids of a user grow in
 * commit order (pk_events.h), so delivery is in id order, without gap or duplicate.
 *
 * Several hosts. Events another host committed never pass through this host's ring: each
 * child's sync thread, while the child has subscribers, polls the table's newest id every
 * PokettoEventRelay and hands new rows to deliver() like ring records (its own host's
 * events among them are dropped there by id and seq).
 *
 * Memory. A message is made once per child (malloc, reference-counted) and shared by
 * the queues of every subscriber it goes to; next() copies it into the caller's pool
 * and drops the reference. A queue holds at most PokettoEventQueue messages: a consumer
 * that does not keep up costs that much, its subscription turns SYNC and is refilled
 * from the table as it drains (nothing is dropped, the producer never waits). A
 * transport that must shed slow clients sees pk_bus_lagging().
 *
 * Consumers. A subscription is created in a pool the consumer names (its cleanup
 * unsubscribes) with a wake callback, called (under the bus's lock: it must not block
 * nor call the bus) when messages arrive, on a stop, or when the subscription is closed:
 *   - SSE and long-poll handlers pass none and sleep in pk_bus_wait();
 *   - a WebSocket handler thread passes one that calls apr_pollset_wakeup() on the
 *     APR_POLLSET_WAKEABLE pollset it waits in on the client socket;
 *   - a parked-mode I/O thread passes one that wakes that thread (its pollset).
 * Whoever is woken calls pk_bus_next() until APR_EAGAIN; APR_EOF means the child is
 * stopping: finish (SSE: end the stream; WebSocket: close with 1001).
 */
#ifndef PK_BUS_H
#define PK_BUS_H

#include <httpd.h>
#include "pk_db.h"

/** Name of the global mutex of ring writers (the Mutex directive takes it). */
#define PK_BUS_MUTEX "poketto-bus"

/** after_id of pk_bus_subscribe: only events committed from now on. */
#define PK_BUS_FROM_NOW (-1)

typedef struct pk_bus_conf {
    apr_uint32_t slots;             /* PokettoEventRingSlots */
    apr_uint32_t slot_size;         /* PokettoEventSlotSize: bytes, header included */
    int queue;                      /* PokettoEventQueue: messages per subscription */
    int relay_ms;                   /* PokettoEventRelay: ms, 0 off, PK_BUS_RELAY_AUTO */
} pk_bus_conf;

/** relay_ms: every PK_BUS_RELAY_AUTO_MS with PostgreSQL, off with SQLite (one host). */
#define PK_BUS_RELAY_AUTO (-2)
#define PK_BUS_RELAY_AUTO_MS 500

/* ---- life cycle (the glue calls these) ---- */

/** pre_config: register the global mutex type PK_BUS_MUTEX. */
void pk_bus_pre_config(apr_pool_t *pconf);

/** post_config, in the parent: the ring and its writers' mutex, made by the first
 *  generation in the process pool and found again by later ones (retained data), so
 *  that children of an old and a new generation share them during a graceful restart.
 *  Size changes take effect at the next full restart (a notice says so). */
apr_status_t pk_bus_post_config(apr_pool_t *pconf, server_rec *s, const pk_bus_conf *conf);

/** child_init: attach the ring, join the mutex, install the store's publisher, start
 *  the pump and sync threads in a pre-cleanup-stopped pool under pchild. Call before
 *  other threads that write events start. */
apr_status_t pk_bus_child_init(apr_pool_t *pchild, server_rec *s);

/** child_stopping: every subscription gets APR_EOF once its queue is drained and is
 *  woken now (threaded MPMs; prefork calls this hook from a signal handler, so there it
 *  only raises the flag that pk_bus_stopping() reads). */
void pk_bus_child_stopping(void);

/** Whether this child is stopping (the hook above ran, or the MPM says so: prefork's
 *  graceful restart only tells its children through the MPM state). Consumers that
 *  wait check it at least once a second. */
int pk_bus_stopping(void);

/* ---- subscriptions ---- */

typedef struct pk_bus_sub pk_bus_sub;

/** Called when a subscription has something for its consumer (see above). */
typedef void pk_bus_wake_fn(void *baton);

/** One message, as pk_bus_next copies it. */
typedef struct pk_bus_msg {
    apr_int64_t id;                 /* the event's id (SSE id:, resume point) */
    apr_int64_t seq;                /* the event's per-user seq */
    const char *type;               /* "item.ready" ... (SSE event:) */
    const char *json;               /* the message (pk_events.h), NUL-terminated */
    apr_size_t len;
    int more;                       /* another message waited behind this one */
} pk_bus_msg;

/** A message taken without a copy (pk_bus_take). */
typedef struct pk_bus_ref pk_bus_ref;

/** Subscribe to a user's events after after_id (PK_BUS_FROM_NOW: from now on). The
 *  subscription starts SYNC (the sync thread reads the table for it) and lives in p;
 *  wake/baton may be NULL (then use pk_bus_wait). APR_ENOTIMPL when the bus does not
 *  run in this child, APR_EOF when the child is stopping. */
apr_status_t pk_bus_subscribe(apr_pool_t *p, apr_int64_t user_id, apr_int64_t after_id,
                              pk_bus_wake_fn *wake, void *baton, pk_bus_sub **sub);

/** Do the subscription's next read of the table now, on the caller's connection (a
 *  request thread that holds one answers sooner than the sync thread would); when the
 *  sync thread is reading for it, wait for that instead. Once it returned, the queue
 *  holds what the table had after the subscription's position (up to the queue's
 *  size). A no-op when it is LIVE. p: scratch memory for the call. */
apr_status_t pk_bus_catch_up(pk_bus_sub *sub, pk_db *db, apr_pool_t *p);

/** The next message, copied into p. APR_SUCCESS; APR_EAGAIN: none now (wait for the
 *  wake); APR_EOF: the child is stopping or the subscription was closed, and nothing
 *  is left. Never blocks. */
apr_status_t pk_bus_next(pk_bus_sub *sub, apr_pool_t *p, pk_bus_msg *msg);

/** As pk_bus_next, without a copy: msg's type and json are the bus's own, valid until
 *  pk_bus_release(*ref) (any thread; no lock). For a consumer that hands the same bytes
 *  to many sockets (a user's WebSockets): nothing is made per message. */
apr_status_t pk_bus_take(pk_bus_sub *sub, pk_bus_msg *msg, pk_bus_ref **ref);
void pk_bus_release(pk_bus_ref *ref);

/** For subscriptions without a wake callback: sleep until there may be a message (or
 *  the stop), at most timeout. APR_SUCCESS or APR_TIMEUP; call pk_bus_next either way. */
apr_status_t pk_bus_wait(pk_bus_sub *sub, apr_interval_time_t timeout);

/** Where the consumer stands: the id of the last message pk_bus_next returned, else
 *  the after_id it subscribed with (for PK_BUS_FROM_NOW the user's latest event id,
 *  once the first read of the table told it). APR_EAGAIN while that is not known. */
apr_status_t pk_bus_position(pk_bus_sub *sub, apr_int64_t *id);

/** How many messages the subscription's queue holds (PokettoEventQueue). */
int pk_bus_capacity(const pk_bus_sub *sub);

/** Whether the subscription's queue overflowed and it is being refilled from the table
 *  (a transport may drop a client that stays behind). */
int pk_bus_lagging(pk_bus_sub *sub);

/** Whether the subscription is LIVE: every event of its user up to the latest the table
 *  showed is in its queue or was delivered (a WebSocket's resume answers "resumed" once
 *  this holds and the queue is drained). */
int pk_bus_synced(pk_bus_sub *sub);

/** End a subscription now (its pool's cleanup does it otherwise). */
void pk_bus_unsubscribe(pk_bus_sub *sub);

/* ---- mod_status ---- */

typedef struct pk_bus_stats {
    int running;                    /* the bus runs in this child */
    apr_uint64_t ring_head;         /* events ever put in the ring (all children) */
    apr_uint64_t ring_in_table;     /* of which too big for a slot */
    apr_uint32_t ring_slots;
    int subscribers;                /* this child's */
    apr_uint64_t delivered;         /* messages queued for subscribers, this child */
    apr_uint64_t table_reads;       /* reads of the events table, this child */
    apr_uint64_t gaps, overruns, overflows;
    int relay;                      /* this child reads other hosts' events */
    apr_uint64_t relayed;           /* rows of the table its relay passed on */
} pk_bus_stats;

void pk_bus_stats_get(pk_bus_stats *st);

#endif /* PK_BUS_H */
