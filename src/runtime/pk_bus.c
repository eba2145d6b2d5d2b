/* mod_poketto — the event bus; see pk_bus.h.
 *
 * Threads and what they touch (this child):
 *   pump        the ring (read-only), the subscriptions' queues and states;
 *   sync        the events table (a connection from mod_dbd per batch), same state;
 *   consumers   their own subscription (next, wait, catch_up, unsubscribe);
 *   writers     any thread whose transaction commits events: the ring, under the
 *               global mutex (never this child's lock).
 * Everything of this child's subscriptions is under one thread mutex (b->mutex). A
 * subscription's memory is its consumer's pool; unsubscribe waits while the sync thread
 * reads for it. The bus record, its mutex and condition live in pchild itself (not a
 * subpool), so they outlive the request pools destroyed with pchild; the threads are
 * stopped by a pre-cleanup of pchild, before any of those. The threads allocate only
 * from a pool of their own, on its own locked allocator (pk_threads.h), and malloc.
 *
 * Subscription states (pk_bus.h): LIVE (live = 1, last_seq valid) or SYNC. A read of
 * the table for a SYNC subscription sets syncing, notes seen_seq = 0 and reads after
 * last_id without the lock; meanwhile the pump notes in seen_seq the highest seq it
 * passed over for it. Turning LIVE at version V is right only if seen_seq <= V: an event
 * the pump passed over with a larger seq committed after the read's snapshot, and the
 * subscription reads again instead (the pump never goes back).
 */
#include <stdlib.h>
#include <string.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_main.h>
#include <ap_mpm.h>
#include <util_mutex.h>
#include <apr_strings.h>
#include <apr_shm.h>
#include <apr_atomic.h>
#include <apr_global_mutex.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>

#include "mod_poketto.h"
#include "pk_futex.h"
#include "pk_ring.h"
#include "pk_events.h"
#include "pk_dbd.h"
#include "pk_threads.h"
#include "pk_bus.h"

APLOG_USE_MODULE(poketto);

#define RETAINED_KEY "mod_poketto: event ring"
/* threads look at the stop flag at least this often */
#define WAIT_SLICE apr_time_from_sec(1)
/* after the database failed a read of the table */
#define RETRY_DELAY apr_time_from_sec(1)
/* reads of the table per connection the sync thread takes */
#define SYNC_BATCH 32
/* the relay: rows per read of the table, reads per pass, and how many ids below the
 * newest it read it reads again (ids are taken at insert, so a transaction with a smaller
 * id can commit after one with a larger; a row missed all the same is found by the seq
 * gap it leaves, at the user's next event) */
#define RELAY_BATCH 256
#define RELAY_READS 8
#define RELAY_OVERLAP 32

/* ---- the parent's: kept across generations ---- */

typedef struct retained {
    apr_shm_t *shm;                 /* anonymous, in the process pool */
    apr_size_t size;
    apr_uint32_t slots, slot_size;
    apr_global_mutex_t *mutex;      /* writers of the ring, in the process pool */
    const char *lockfile;
} retained;

static retained *ret;               /* this generation's view (post_config) */
static int queue_len = 64;          /* PokettoEventQueue of this generation */
static int relay_ms = PK_BUS_RELAY_AUTO; /* PokettoEventRelay of this generation */

/* ---- a child's ---- */

/* A message as the queues hold it: made once per child, shared (refs) by every queue
 * it is in and every consumer that took it without a copy (pk_bus_take), freed when
 * the last one let go. refs is atomic: pk_bus_release takes no lock. */
typedef struct msg {
    volatile apr_uint32_t refs;
    apr_int64_t id;
    apr_int64_t seq;
    char type[PK_RING_TYPE_MAX];
    apr_size_t len;
    char json[1];
} msg;

typedef struct bus bus;

struct pk_bus_sub {
    bus *b;
    apr_pool_t *pool;
    apr_int64_t user_id;
    pk_bus_sub *next, *prev;        /* the user's subscriptions in this child */
    pk_bus_sub *sync_next;          /* the sync thread's list */
    int on_sync_list;
    int live;                       /* LIVE, else SYNC */
    int syncing;                    /* a read of the table for it is under way */
    int from_now;                   /* PK_BUS_FROM_NOW not resolved yet */
    int closed;                     /* unsubscribed */
    int lagging;                    /* its queue overflowed, not LIVE again since */
    apr_int64_t last_id;            /* newest event queued or delivered */
    apr_int64_t last_seq;           /* LIVE: the seq of everything up to last_id */
    apr_int64_t seen_seq;           /* SYNC: highest seq the pump passed over */
    apr_int64_t position;           /* pk_bus_position */
    msg **queue;                    /* ring of cap pointers */
    int cap, first, count;
    pk_bus_wake_fn *wake;
    void *baton;
    apr_uint32_t word;              /* pk_bus_wait's futex (no wake callback) */
};

struct bus {
    server_rec *s;
    pk_ring *ring;
    apr_global_mutex_t *wmutex;     /* this child's handle of the writers' mutex */
    apr_thread_mutex_t *mutex;      /* everything below */
    apr_thread_cond_t *synced;      /* a read of the table ended */
    apr_hash_t *users;              /* user id -> its first subscription */
    int nsubs;
    pk_bus_sub *sync_first, *sync_last;
    int pump_idle;                  /* no subscriber: the pump ignores the ring */
    apr_uint64_t resume_pos;        /* where it resumes (the head when one arrived) */
    apr_uint32_t pump_word;         /* futex: the idle pump */
    apr_uint32_t sync_word;         /* futex: the sync thread */
    apr_uint32_t stopping;          /* futex too: the sync thread's retry delay */
    int dead;                       /* threads joined: pchild is being destroyed */
    apr_thread_t *pump, *syncer;
    apr_pool_t *tpool;              /* the threads' (unmanaged, locked allocator) */
    char *buf;                      /* the pump's copy of a message */
    apr_size_t buflen;
    int cap;
    apr_uint64_t delivered, table_reads, gaps, overruns, overflows;
    apr_interval_time_t relay_every;/* 0: no relay (sync thread only) */
    apr_time_t relay_next;
    apr_int64_t relay_seen;         /* newest event id the relay read; -1 before its first */
    apr_uint64_t relayed;           /* events it handed to deliver() */
};

static bus *the_bus;                /* NULL when the bus does not run in this child */

/* ---- messages ---- */

static msg *msg_make(apr_int64_t id, apr_int64_t seq, const char *type, const char *json,
                     apr_size_t len)
{
    msg *m = malloc(sizeof(*m) + len);

    if (m) {
        m->refs = 0;
        m->id = id;
        m->seq = seq;
        apr_cpystrn(m->type, type ? type : "", sizeof(m->type));
        m->len = len;
        memcpy(m->json, json, len);
        m->json[len] = '\0';
    }
    return m;
}

static void msg_release(msg *m)
{
    if (apr_atomic_dec32(&m->refs) == 0) {
        free(m);
    }
}

/* ---- subscriptions (under b->mutex) ---- */

static void wake_sub(pk_bus_sub *sub)
{
    if (sub->wake) {
        sub->wake(sub->baton);
    }
    else {
        pk_futex_bump(&sub->word, 0);
    }
}

static void enqueue(bus *b, pk_bus_sub *sub, msg *m)
{
    sub->queue[(sub->first + sub->count) % sub->cap] = m;
    ++sub->count;
    apr_atomic_inc32(&m->refs);
    sub->last_id = m->id;
    ++b->delivered;
}

static void sync_push(bus *b, pk_bus_sub *sub)
{
    sub->sync_next = NULL;
    if (b->sync_last) {
        b->sync_last->sync_next = sub;
    }
    else {
        b->sync_first = sub;
    }
    b->sync_last = sub;
    sub->on_sync_list = 1;
}

static void sync_remove(bus *b, pk_bus_sub *sub)
{
    pk_bus_sub **pp, *prev = NULL;

    for (pp = &b->sync_first; *pp; prev = *pp, pp = &(*pp)->sync_next) {
        if (*pp == sub) {
            *pp = sub->sync_next;
            if (b->sync_last == sub) {
                b->sync_last = prev;
            }
            break;
        }
    }
    sub->on_sync_list = 0;
    sub->sync_next = NULL;
}

/* A SYNC subscription with room in its queue (at least half: no reads of one row at a
 * time for a slow consumer) goes to the sync thread. */
static void want_sync(bus *b, pk_bus_sub *sub)
{
    if (sub->live || sub->syncing || sub->closed || sub->on_sync_list
        || sub->count > sub->cap / 2) {
        return;
    }
    sync_push(b, sub);
    pk_futex_bump(&b->sync_word, 0);
}

static void to_sync(bus *b, pk_bus_sub *sub)
{
    sub->live = 0;
    want_sync(b, sub);
}

/* The pump passes an event to the user's subscriptions. */
static void deliver(bus *b, const pk_ring_rec *rec)
{
    pk_bus_sub *sub;
    msg *m = NULL;

    apr_thread_mutex_lock(b->mutex);
    for (sub = apr_hash_get(b->users, &rec->user_id, sizeof(rec->user_id)); sub;
         sub = sub->next) {
        if (sub->closed) {
            continue;
        }
        if (!sub->live) {
            if (rec->seq > sub->seen_seq) {
                sub->seen_seq = rec->seq;
            }
            continue;
        }
        if (rec->event_id <= sub->last_id) {
            continue;               /* read from the table already */
        }
        if (rec->seq != sub->last_seq + 1) {
            ++b->gaps;              /* one is on its way, or lost: the table has it */
            to_sync(b, sub);
            continue;
        }
        if (sub->count == sub->cap) {
            ++b->overflows;
            sub->lagging = 1;
            to_sync(b, sub);
            continue;
        }
        if (rec->in_table || (!m && !(m = msg_make(rec->event_id, rec->seq, rec->type,
                                                   rec->data, rec->len)))) {
            to_sync(b, sub);        /* too big for a slot (or no memory): the table */
            continue;
        }
        enqueue(b, sub, m);
        sub->last_seq = rec->seq;
        wake_sub(sub);
    }
    if (m && apr_atomic_read32(&m->refs) == 0) {
        free(m);
    }
    apr_thread_mutex_unlock(b->mutex);
}

static int user_watched(bus *b, apr_int64_t user_id)
{
    int watched;

    apr_thread_mutex_lock(b->mutex);
    watched = apr_hash_get(b->users, &user_id, sizeof(user_id)) != NULL;
    apr_thread_mutex_unlock(b->mutex);
    return watched;
}

/* The pump fell behind the ring: every subscription reads the table. Those reading it
 * now read again (what the pump skips, it cannot note in seen_seq). */
static void overrun(bus *b)
{
    apr_hash_index_t *hi;
    pk_bus_sub *sub;

    apr_thread_mutex_lock(b->mutex);
    ++b->overruns;
    for (hi = apr_hash_first(NULL, b->users); hi; hi = apr_hash_next(hi)) {
        for (sub = apr_hash_this_val(hi); sub; sub = sub->next) {
            sub->seen_seq = APR_INT64_MAX;
            to_sync(b, sub);
        }
    }
    apr_thread_mutex_unlock(b->mutex);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, b->s, APLOGNO(10800)
                 "event ring: this child fell more than %u events behind; its "
                 "subscribers catch up from the events table", pk_ring_nslots(b->ring));
}

/* ---- reading the table ---- */

static int can_sync(const pk_bus_sub *sub)
{
    return !sub->closed && !sub->live && !sub->syncing && sub->count < sub->cap;
}

/* One read of the table for sub (NULL: the first on the sync list), on db. *did says
 * whether there was one to do. On failure the subscription goes back on the list. */
static apr_status_t sync_step(bus *b, pk_bus_sub *sub, pk_db *db, apr_pool_t *p, int *did)
{
    apr_array_header_t *events = NULL;
    apr_int64_t after, version = 0, head = 0;
    apr_status_t rv = APR_SUCCESS;
    const pk_event *ev;
    const char *text;
    apr_size_t len;
    int room, from_now, i, woke = 0;
    msg *m;

    *did = 0;
    apr_thread_mutex_lock(b->mutex);
    if (!sub) {
        while ((sub = b->sync_first) && (sync_remove(b, sub), !can_sync(sub))) {
            ;                       /* not any more: next() puts it back when it can */
        }
    }
    else {
        /* the sync thread is at it: its result is what the caller wants to see */
        while (sub->syncing && !sub->closed) {
            apr_thread_cond_wait(b->synced, b->mutex);
        }
        if (!can_sync(sub)) {
            sub = NULL;
        }
    }
    if (!sub) {
        apr_thread_mutex_unlock(b->mutex);
        goto leave;
    }
    if (sub->on_sync_list) {
        sync_remove(b, sub);
    }
    *did = 1;
    sub->syncing = 1;
    sub->seen_seq = 0;
    after = sub->last_id;
    from_now = sub->from_now;
    room = sub->cap - sub->count;
    ++b->table_reads;
    apr_thread_mutex_unlock(b->mutex);

    if (from_now) {
        rv = pk_events_head(db, p, sub->user_id, &head, &version);
    }
    else {
        rv = pk_events_after(db, p, sub->user_id, after, room, &events, &version);
    }
    if (rv == APR_NOTFOUND) {
        rv = APR_SUCCESS;           /* no such user (any more): nothing will come */
        events = NULL;
        version = 0;
    }

    apr_thread_mutex_lock(b->mutex);
    sub->syncing = 0;
    if (rv == APR_SUCCESS && !sub->closed) {
        if (from_now) {
            sub->from_now = 0;
            if (head > sub->last_id) {
                sub->last_id = head;
            }
            sub->position = sub->last_id;
            woke = 1;
        }
        for (i = 0; events && i < events->nelts; ++i) {
            ev = APR_ARRAY_IDX(events, i, const pk_event *);
            if (ev->id <= sub->last_id) {
                continue;
            }
            text = pk_event_message(p, ev, &len);
            if (!(m = msg_make(ev->id, ev->seq, ev->type, text, len))) {
                rv = APR_ENOMEM;
                break;
            }
            enqueue(b, sub, m);
            woke = 1;
        }
        if (rv == APR_SUCCESS && (!events || events->nelts < room)
            && sub->seen_seq <= version) {
            sub->live = 1;          /* all up to version is in the queue or before after */
            sub->last_seq = version;
            sub->lagging = 0;
        }
        else if (rv == APR_SUCCESS) {
            want_sync(b, sub);      /* more to read, or newer ones passed meanwhile */
        }
    }
    if (rv != APR_SUCCESS && !sub->closed && !sub->on_sync_list) {
        sync_push(b, sub);          /* the sync thread tries again after a pause */
    }
    if (woke) {
        wake_sub(sub);
    }
    apr_thread_cond_broadcast(b->synced);
    apr_thread_mutex_unlock(b->mutex);
leave:
    return rv;
}

/* ---- threads ---- */

static void *APR_THREAD_FUNC pump_loop(apr_thread_t *thread, void *baton)
{
    bus *b = baton;
    apr_uint64_t pos = pk_ring_head(b->ring), head;
    apr_uint32_t ticket, word;
    pk_ring_rec rec;
    apr_status_t rv;
    int idle;

    pk_threads_name("pk-bus-pump");
    while (!apr_atomic_read32(&b->stopping)) {
        apr_thread_mutex_lock(b->mutex);
        if (b->nsubs == 0) {
            b->pump_idle = 1;
        }
        idle = b->pump_idle;
        word = b->pump_word;
        apr_thread_mutex_unlock(b->mutex);
        if (idle) {
            /* nobody to serve: the ring's wake-ups are not for us */
            pk_futex_wait(&b->pump_word, word, WAIT_SLICE, 0);
            apr_thread_mutex_lock(b->mutex);
            if (!b->pump_idle) {
                pos = b->resume_pos;
            }
            apr_thread_mutex_unlock(b->mutex);
            continue;
        }
        ticket = pk_ring_ticket(b->ring);
        head = pk_ring_head(b->ring);
        if (pos >= head) {
            pk_ring_wait(b->ring, ticket, WAIT_SLICE);
            continue;
        }
        for (; pos < head && !apr_atomic_read32(&b->stopping); ++pos) {
            rv = pk_ring_read(b->ring, pos, &rec, NULL, 0);
            if (rv == APR_SUCCESS && !user_watched(b, rec.user_id)) {
                continue;
            }
            if (rv == APR_SUCCESS && !rec.in_table) {
                rv = pk_ring_read(b->ring, pos, &rec, b->buf, b->buflen);
            }
            if (rv != APR_SUCCESS) {
                overrun(b);
                pos = pk_ring_head(b->ring);
                break;
            }
            ap_log_error(APLOG_MARK, APLOG_TRACE2, 0, b->s, "event ring: %" APR_UINT64_T_FMT
                         ": user %" APR_INT64_T_FMT " event %" APR_INT64_T_FMT " seq %"
                         APR_INT64_T_FMT " %s%s", pos, rec.user_id, rec.event_id, rec.seq,
                         rec.type, rec.in_table ? " (in the table)" : "");
            deliver(b, &rec);
        }
    }
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* The ring's record of a committed event, its message made in p (the publisher's and
 * the relay's). */
static void rec_of(pk_ring_rec *rec, const pk_event *ev, apr_pool_t *p)
{
    memset(rec, 0, sizeof(*rec));
    rec->user_id = ev->user_id;
    rec->event_id = ev->id;
    rec->seq = ev->seq;
    rec->type = ev->type;
    rec->data = pk_event_message(p, ev, &rec->len);
}

/* ---- the relay (sync thread): events other hosts committed ---- */

/* One pass: the newest event id; if it moved, the rows after what was read (less the
 * overlap) go to deliver() as the pump's records do. Events this host committed come
 * through the ring as well: deliver() drops what a subscription has (ids, seqs). */
static void relay_pass(bus *b, pk_db *db, apr_pool_t *p)
{
    apr_array_header_t *events;
    const pk_event *ev;
    apr_int64_t max_id = 0, from;
    pk_ring_rec rec;
    int i, reads, watched, relayed = 0;

    if (APR_SUCCESS != pk_events_max_id(db, p, &max_id)) {
        return;
    }
    apr_thread_mutex_lock(b->mutex);
    watched = b->nsubs > 0;
    apr_thread_mutex_unlock(b->mutex);
    if (b->relay_seen < 0 || !watched || max_id < b->relay_seen) {
        /* first pass, or nobody to tell: subscriptions start from the table */
        b->relay_seen = max_id;
        return;
    }
    for (reads = 0; max_id > b->relay_seen && reads < RELAY_READS; ++reads) {
        from = b->relay_seen - RELAY_OVERLAP;
        if (APR_SUCCESS != pk_events_since(db, p, from > 0 ? from : 0, RELAY_BATCH, &events)
            || events->nelts == 0) {
            break;
        }
        for (i = 0; i < events->nelts; ++i) {
            ev = APR_ARRAY_IDX(events, i, const pk_event *);
            if (ev->id > b->relay_seen) {
                b->relay_seen = ev->id;
            }
            if (ev->seq <= 0 || !user_watched(b, ev->user_id)) {
                continue;
            }
            rec_of(&rec, ev, p);
            deliver(b, &rec);
            ++relayed;
        }
        if (events->nelts < RELAY_BATCH) {
            b->relay_seen = max_id > b->relay_seen ? max_id : b->relay_seen;
            break;
        }
    }
    apr_thread_mutex_lock(b->mutex);
    b->relayed += relayed;
    apr_thread_mutex_unlock(b->mutex);
}

/* How long the sync thread may sleep: to the relay's next pass, at most WAIT_SLICE. */
static apr_interval_time_t relay_wait(const bus *b)
{
    apr_interval_time_t w = b->relay_every ? b->relay_next - apr_time_now() : WAIT_SLICE;

    return w <= 0 ? 1 : (w > WAIT_SLICE ? WAIT_SLICE : w);
}

/* The relay's turn, when due: one connection, and the first pass tells whether the
 * database needs it (auto: not for SQLite, which one host alone uses). */
static void relay_turn(bus *b, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    pk_db *db;

    if (!b->relay_every || now < b->relay_next) {
        return;
    }
    b->relay_next = now + b->relay_every;
    if (!(db = pk_dbd_open(p, b->s))) {
        return;
    }
    if (relay_ms == PK_BUS_RELAY_AUTO && db->dialect == PK_DIALECT_SQLITE) {
        b->relay_every = 0;
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, b->s, APLOGNO(10810)
                     "event bus: SQLite, one host: no relay of other hosts' events");
    }
    else {
        relay_pass(b, db, p);
    }
    pk_dbd_close(b->s, db);
}

static void *APR_THREAD_FUNC sync_loop(apr_thread_t *thread, void *baton)
{
    bus *b = baton;
    apr_pool_t *ip = NULL;
    apr_uint32_t word;
    apr_status_t rv;
    pk_db *db;
    int pending, n, did, failed;

    pk_threads_name("pk-bus-sync");
    apr_pool_create(&ip, b->tpool);
    apr_pool_tag(ip, "poketto_bus_sync");
    while (!apr_atomic_read32(&b->stopping)) {
        word = apr_atomic_read32(&b->sync_word);
        apr_thread_mutex_lock(b->mutex);
        pending = b->sync_first != NULL;
        apr_thread_mutex_unlock(b->mutex);
        if (b->relay_every) {
            apr_pool_clear(ip);
            relay_turn(b, ip);
        }
        if (!pending) {
            pk_futex_wait(&b->sync_word, word, relay_wait(b), 0);
            continue;
        }
        apr_pool_clear(ip);
        if (!(db = pk_dbd_open(ip, b->s))) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, b->s, APLOGNO(10801)
                         "event bus: no database connection to read events for "
                         "subscribers; trying again");
            pk_futex_wait(&b->stopping, 0, RETRY_DELAY, 0);
            continue;
        }
        failed = 0;
        for (n = 0; n < SYNC_BATCH && !apr_atomic_read32(&b->stopping); ++n) {
            rv = sync_step(b, NULL, db, ip, &did);
            if (!did) {
                break;
            }
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, rv, b->s, APLOGNO(10802)
                             "event bus: reading the events table failed; trying again");
                failed = 1;
                break;
            }
        }
        pk_dbd_close(b->s, db);
        if (failed) {
            pk_futex_wait(&b->stopping, 0, RETRY_DELAY, 0);
        }
    }
    apr_pool_destroy(ip);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* ---- publishing (any thread, after its commit) ---- */

static void publish(void *baton, const apr_array_header_t *events, apr_pool_t *p)
{
    bus *b = baton;
    pk_ring_rec *recs = apr_palloc(p, sizeof(*recs) * events->nelts);
    const pk_event *ev;
    apr_status_t rv;
    int i;

    for (i = 0; i < events->nelts; ++i) {
        ev = APR_ARRAY_IDX(events, i, const pk_event *);
        rec_of(&recs[i], ev, p);
    }
    if (APR_SUCCESS != (rv = apr_global_mutex_lock(b->wmutex))) {
        /* committed all the same: subscribers find them in the table at their user's
         * next event, or when they resume */
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, b->s, APLOGNO(10803)
                     "event bus: cannot lock the ring; %d events not pushed live",
                     events->nelts);
        return;
    }
    for (i = 0; i < events->nelts; ++i) {
        pk_ring_put(b->ring, &recs[i]);
    }
    apr_global_mutex_unlock(b->wmutex);
    pk_ring_wake(b->ring);
    ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, b->s, "event bus: published %d events, "
                 "last %" APR_INT64_T_FMT " (user %" APR_INT64_T_FMT " seq %" APR_INT64_T_FMT
                 ")", events->nelts, recs[events->nelts - 1].event_id,
                 recs[events->nelts - 1].user_id, recs[events->nelts - 1].seq);
}

/* ---- life cycle ---- */

void pk_bus_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, PK_BUS_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

apr_status_t pk_bus_post_config(apr_pool_t *pconf, server_rec *s, const pk_bus_conf *conf)
{
    retained *r = ap_retained_data_get(RETAINED_KEY);
    apr_status_t rv = APR_SUCCESS;
    apr_size_t size = pk_ring_bytes(conf->slots, conf->slot_size);

    queue_len = conf->queue;
    relay_ms = conf->relay_ms;
    if (!r) {
        r = ap_retained_data_create(RETAINED_KEY, sizeof(*r));
    }
    if (!r->shm) {
        /* the process pool: not cleared by restarts, gone when httpd stops */
        if (APR_SUCCESS != (rv = apr_shm_create(&r->shm, size, NULL, ap_pglobal))) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10804)
                         "event bus: cannot create %" APR_SIZE_T_FMT " bytes of shared "
                         "memory for the ring", size);
            r->shm = NULL;
            goto leave;
        }
        if (APR_SUCCESS != (rv = pk_ring_format(apr_shm_baseaddr_get(r->shm), size,
                                                conf->slots, conf->slot_size))
            || APR_SUCCESS != (rv = ap_global_mutex_create(&r->mutex, &r->lockfile,
                                                           PK_BUS_MUTEX, NULL, s,
                                                           ap_pglobal, 0))
            || (!r->mutex && (rv = APR_EINVAL))) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10805)
                         "event bus: cannot set up the ring or its mutex (the writers of "
                         "the ring need one: 'Mutex " PK_BUS_MUTEX " none' cannot work)");
            apr_shm_destroy(r->shm);
            r->shm = NULL;
            goto leave;
        }
        r->size = size;
        r->slots = conf->slots;
        r->slot_size = conf->slot_size;
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(10806)
                     "event ring: %u slots of %u bytes (%" APR_SIZE_T_FMT " bytes shared)",
                     r->slots, r->slot_size, r->size);
    }
    else if (r->slots != conf->slots || r->slot_size != conf->slot_size) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(10807)
                     "event ring: PokettoEventRingSlots/PokettoEventSlotSize changed; the "
                     "ring of %u slots of %u bytes stays until httpd is stopped and "
                     "started", r->slots, r->slot_size);
    }
    ret = r;
leave:
    return rv;
}

static apr_status_t bus_stop(void *data)
{
    bus *b = data;
    apr_status_t trv;

    apr_atomic_set32(&b->stopping, 1);
    pk_futex_wake(&b->stopping, 0);
    pk_futex_bump(&b->pump_word, 0);
    pk_futex_bump(&b->sync_word, 0);
    if (b->pump) {
        pk_ring_wake(b->ring);      /* it may sleep on the ring (others wake for nothing) */
        apr_thread_join(&trv, b->pump);
        b->pump = NULL;
    }
    if (b->syncer) {
        apr_thread_join(&trv, b->syncer);
        b->syncer = NULL;
    }
    if (b->tpool) {
        apr_pool_destroy(b->tpool);
        b->tpool = NULL;
    }
    pk_db_set_publisher(NULL, NULL);
    b->dead = 1;                    /* what is left runs single-threaded */
    the_bus = NULL;
    return APR_SUCCESS;
}

apr_status_t pk_bus_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv = APR_SUCCESS;
    apr_thread_t *t = NULL;
    bus *b = NULL;

    if (!ret || !ret->shm) {
        rv = APR_ENOTIMPL;
        goto leave;
    }
    b = apr_pcalloc(pchild, sizeof(*b));
    b->s = s;
    b->cap = queue_len > 0 ? queue_len : 64;
    b->relay_every = apr_time_from_msec(relay_ms == PK_BUS_RELAY_AUTO ? PK_BUS_RELAY_AUTO_MS
                                        : relay_ms > 0 ? relay_ms : 0);
    b->relay_seen = -1;
    b->wmutex = ret->mutex;
    b->users = apr_hash_make(pchild);
    if (APR_SUCCESS != (rv = pk_ring_attach(pchild, apr_shm_baseaddr_get(ret->shm), ret->size,
                                            &b->ring))
        || APR_SUCCESS != (rv = apr_global_mutex_child_init(&b->wmutex, ret->lockfile,
                                                            pchild))
        || APR_SUCCESS != (rv = apr_thread_mutex_create(&b->mutex, APR_THREAD_MUTEX_DEFAULT,
                                                        pchild))
        || APR_SUCCESS != (rv = apr_thread_cond_create(&b->synced, pchild))
        || APR_SUCCESS != (rv = pk_threads_pool(&b->tpool, "poketto_bus"))) {
        goto leave;
    }
    b->buflen = pk_ring_payload_max(b->ring);
    b->buf = apr_palloc(pchild, b->buflen + 1);
    /* stop the threads before any pool goes */
    apr_pool_pre_cleanup_register(pchild, b, bus_stop);
    the_bus = b;
    pk_db_set_publisher(publish, b);
    if (APR_SUCCESS != (rv = apr_thread_create(&t, NULL, pump_loop, b, b->tpool))) {
        goto leave;
    }
    b->pump = t;
    if (APR_SUCCESS != (rv = apr_thread_create(&t, NULL, sync_loop, b, b->tpool))) {
        goto leave;
    }
    b->syncer = t;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(10808)
                 "event bus started: ring of %u slots, %d messages per subscription",
                 pk_ring_nslots(b->ring), b->cap);
leave:
    if (rv != APR_SUCCESS && rv != APR_ENOTIMPL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10809)
                     "the event bus could not start in this child: no live events from "
                     "it");
        if (the_bus) {
            apr_pool_cleanup_kill(pchild, b, bus_stop);
            bus_stop(b);
        }
    }
    return rv;
}

void pk_bus_child_stopping(void)
{
    bus *b = the_bus;
    apr_hash_index_t *hi;
    pk_bus_sub *sub;
    int threaded = AP_MPMQ_NOT_SUPPORTED;

    if (!b) {
        return;
    }
    apr_atomic_set32(&b->stopping, 1);
    pk_futex_wake(&b->stopping, 0);
    /* prefork runs this hook in a signal handler (SIGTERM, SIGHUP): no locks there; its
     * one request thread is the one interrupted, and it exits from the handler */
    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) != APR_SUCCESS
        || threaded == AP_MPMQ_NOT_SUPPORTED) {
        return;
    }
    apr_thread_mutex_lock(b->mutex);
    for (hi = apr_hash_first(NULL, b->users); hi; hi = apr_hash_next(hi)) {
        for (sub = apr_hash_this_val(hi); sub; sub = sub->next) {
            wake_sub(sub);
        }
    }
    apr_thread_mutex_unlock(b->mutex);
}

int pk_bus_stopping(void)
{
    bus *b = the_bus;
    int state = AP_MPMQ_RUNNING;

    if (b && apr_atomic_read32(&b->stopping)) {
        return 1;
    }
    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS
           && state == AP_MPMQ_STOPPING;
}

/* ---- the consumers' API ---- */

static void unsubscribe(pk_bus_sub *sub)
{
    bus *b = sub->b;

    if (sub->closed) {
        return;
    }
    if (!b->dead) {
        apr_thread_mutex_lock(b->mutex);
    }
    sub->closed = 1;
    while (sub->syncing && !b->dead) {
        apr_thread_cond_wait(b->synced, b->mutex);
    }
    if (sub->on_sync_list) {
        sync_remove(b, sub);
    }
    if (sub->prev) {
        sub->prev->next = sub->next;
    }
    else {
        /* the head: the hash's key is in the record, so set it anew */
        apr_hash_set(b->users, &sub->user_id, sizeof(sub->user_id), NULL);
        if (sub->next) {
            apr_hash_set(b->users, &sub->next->user_id, sizeof(sub->user_id), sub->next);
        }
    }
    if (sub->next) {
        sub->next->prev = sub->prev;
    }
    --b->nsubs;
    while (sub->count > 0) {
        msg_release(sub->queue[sub->first]);
        sub->first = (sub->first + 1) % sub->cap;
        --sub->count;
    }
    if (!b->dead) {
        apr_thread_mutex_unlock(b->mutex);
    }
}

static apr_status_t sub_cleanup(void *data)
{
    unsubscribe(data);
    return APR_SUCCESS;
}

apr_status_t pk_bus_subscribe(apr_pool_t *p, apr_int64_t user_id, apr_int64_t after_id,
                              pk_bus_wake_fn *wake, void *baton, pk_bus_sub **out)
{
    bus *b = the_bus;
    apr_status_t rv = APR_SUCCESS;
    pk_bus_sub *sub, *first;

    *out = NULL;
    if (!b) {
        rv = APR_ENOTIMPL;
        goto leave;
    }
    sub = apr_pcalloc(p, sizeof(*sub));
    sub->b = b;
    sub->pool = p;
    sub->user_id = user_id;
    sub->cap = b->cap;
    sub->queue = apr_pcalloc(p, sizeof(msg *) * sub->cap);
    sub->wake = wake;
    sub->baton = baton;
    sub->from_now = after_id < 0;
    sub->last_id = sub->position = after_id < 0 ? 0 : after_id;
    apr_thread_mutex_lock(b->mutex);
    if (apr_atomic_read32(&b->stopping)) {
        apr_thread_mutex_unlock(b->mutex);
        rv = APR_EOF;
        goto leave;
    }
    if ((first = apr_hash_get(b->users, &user_id, sizeof(user_id)))) {
        apr_hash_set(b->users, &first->user_id, sizeof(user_id), NULL);
        first->prev = sub;
        sub->next = first;
    }
    apr_hash_set(b->users, &sub->user_id, sizeof(user_id), sub);
    if (++b->nsubs && b->pump_idle) {
        /* everything committed before now, its first read of the table finds; what
         * comes after, the pump reads from here on */
        b->resume_pos = pk_ring_head(b->ring);
        b->pump_idle = 0;
        pk_futex_bump(&b->pump_word, 0);
    }
    want_sync(b, sub);
    apr_thread_mutex_unlock(b->mutex);
    apr_pool_cleanup_register(p, sub, sub_cleanup, apr_pool_cleanup_null);
    *out = sub;
leave:
    return rv;
}

apr_status_t pk_bus_catch_up(pk_bus_sub *sub, pk_db *db, apr_pool_t *p)
{
    int did = 0;

    return sync_step(sub->b, sub, db, p, &did);
}

apr_status_t pk_bus_next(pk_bus_sub *sub, apr_pool_t *p, pk_bus_msg *out)
{
    pk_bus_ref *ref = NULL;
    apr_status_t rv = pk_bus_take(sub, out, &ref);

    if (rv == APR_SUCCESS) {
        out->type = apr_pstrdup(p, out->type);
        out->json = apr_pstrmemdup(p, out->json, out->len);
        pk_bus_release(ref);
    }
    return rv;
}

apr_status_t pk_bus_take(pk_bus_sub *sub, pk_bus_msg *out, pk_bus_ref **ref)
{
    bus *b = sub->b;
    apr_status_t rv = APR_SUCCESS;
    msg *m;

    memset(out, 0, sizeof(*out));
    *ref = NULL;
    apr_thread_mutex_lock(b->mutex);
    if (sub->count == 0) {
        rv = (sub->closed || apr_atomic_read32(&b->stopping)) ? APR_EOF : APR_EAGAIN;
    }
    else {
        m = sub->queue[sub->first];
        sub->queue[sub->first] = NULL;
        sub->first = (sub->first + 1) % sub->cap;
        --sub->count;
        out->id = m->id;
        out->seq = m->seq;
        out->type = m->type;
        out->json = m->json;
        out->len = m->len;
        out->more = sub->count > 0;
        sub->position = m->id;
        *ref = (pk_bus_ref *)m;     /* the queue's reference is the caller's now */
    }
    want_sync(b, sub);
    apr_thread_mutex_unlock(b->mutex);
    return rv;
}

void pk_bus_release(pk_bus_ref *ref)
{
    if (ref) {
        msg_release((msg *)ref);
    }
}

apr_status_t pk_bus_wait(pk_bus_sub *sub, apr_interval_time_t timeout)
{
    bus *b = sub->b;
    apr_uint32_t word = apr_atomic_read32(&sub->word);
    int ready;

    apr_thread_mutex_lock(b->mutex);
    ready = sub->count > 0 || sub->closed || apr_atomic_read32(&b->stopping);
    apr_thread_mutex_unlock(b->mutex);
    if (ready) {
        return APR_SUCCESS;
    }
    return pk_futex_wait(&sub->word, word, timeout, 0) == APR_TIMEUP ? APR_TIMEUP
                                                                     : APR_SUCCESS;
}

apr_status_t pk_bus_position(pk_bus_sub *sub, apr_int64_t *id)
{
    apr_status_t rv;

    apr_thread_mutex_lock(sub->b->mutex);
    rv = sub->from_now ? APR_EAGAIN : APR_SUCCESS;
    *id = sub->position;
    apr_thread_mutex_unlock(sub->b->mutex);
    return rv;
}

int pk_bus_capacity(const pk_bus_sub *sub)
{
    return sub->cap;
}

int pk_bus_lagging(pk_bus_sub *sub)
{
    int lagging;

    apr_thread_mutex_lock(sub->b->mutex);
    lagging = sub->lagging;
    apr_thread_mutex_unlock(sub->b->mutex);
    return lagging;
}

void pk_bus_unsubscribe(pk_bus_sub *sub)
{
    apr_pool_cleanup_kill(sub->pool, sub, sub_cleanup);
    unsubscribe(sub);
}

void pk_bus_stats_get(pk_bus_stats *st)
{
    bus *b = the_bus;
    apr_uint64_t put = 0;

    memset(st, 0, sizeof(*st));
    if (!b) {
        return;
    }
    st->running = 1;
    pk_ring_stats(b->ring, &put, &st->ring_in_table);
    st->ring_head = pk_ring_head(b->ring);
    st->ring_slots = pk_ring_nslots(b->ring);
    apr_thread_mutex_lock(b->mutex);
    st->subscribers = b->nsubs;
    st->delivered = b->delivered;
    st->table_reads = b->table_reads;
    st->gaps = b->gaps;
    st->overruns = b->overruns;
    st->overflows = b->overflows;
    st->relayed = b->relayed;
    st->relay = b->relay_every != 0;
    apr_thread_mutex_unlock(b->mutex);
}

int pk_bus_synced(pk_bus_sub *sub)
{
    int live;

    apr_thread_mutex_lock(sub->b->mutex);
    live = sub->live && !sub->syncing && !sub->from_now;
    apr_thread_mutex_unlock(sub->b->mutex);
    return live;
}
