/* mod_poketto — the I/O thread of parked WebSockets; see pk_wsio.h. */
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <apr_atomic.h>
#include <apr_poll.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_buckets.h>
#include <mpm_common.h>

#include "pk_wsconn.h"
#include "pk_threads.h"
#include "pk_wsio.h"

APLOG_USE_MODULE(poketto);

/* the thread looks at its timers at least this often */
#define SLICE apr_time_from_msec(250)
/* a stopping thread drops what has not closed by then */
#define STOP_GRACE apr_time_from_sec(3)
/* how long a write to a parked socket may wait (the thread serves every other one) */
#define PARKED_WRITE_TIMEOUT apr_time_from_msec(50)
/* lingering close: how long to read what the client still sends after our FIN */
#define LINGER apr_time_from_sec(2)
/* The event MPM runs the suspend_connection hooks, then (event.c notify_suspend) still
 * writes two fields of the connection (c->sbh, cs->suspended) in the connection's pool.
 * No hook follows, so the pool is destroyed no sooner than this after the hand-over. */
#define HANDOVER_GRACE apr_time_from_sec(1)

typedef enum { ACTIVE, LINGERING, CLOSED, FINISHING } rec_state;

typedef struct rec {
    pk_wsio *io;                    /* the thread that holds it */
    pk_wsconn *ws;                  /* NULL once the WebSocket ended */
    conn_rec *c;                    /* NULL: detached */
    request_rec *r;
    apr_pool_t *pool;               /* destroyed at the end: c->pool, or the detached
                                     * WebSocket's own (this record lives in it) */
    apr_socket_t *sock;
    apr_pollfd_t pfd;
    rec_state state;
    int want_out;
    int in_woken;                   /* under io->mutex */
    int ended;                      /* under io->mutex: no wake may queue it */
    int index;                      /* in io->all */
    apr_time_t parked_at, linger_until;
} rec;

struct pk_wsio {
    server_rec *s;
    int num;                        /* 0 … PokettoWsIoThreads - 1 */
    apr_pool_t *pool;
    apr_pollset_t *pollset;
    apr_thread_mutex_t *mutex;
    apr_array_header_t *incoming;   /* pk_wsconn*: handed over (mutex) */
    apr_array_header_t *woken;      /* rec*: woken by the bus (mutex) */
    apr_array_header_t *all;        /* rec*: held (I/O thread only) */
    apr_array_header_t *batch, *wbatch, *ending;    /* the thread's scratch */
    apr_pool_t *scratch;            /* the thread's: every parked connection's messages */
    apr_pool_t *conns;              /* detached WebSockets' pools are its subpools (made
                                     * on workers, destroyed here: a locked allocator) */
    apr_bucket_alloc_t *ba;         /* detached WebSockets' queued bytes (this thread) */
    apr_thread_t *thread;
    volatile apr_uint32_t count;
    volatile apr_uint32_t detached;
};

/* this child's I/O threads (all: set in child_init, before any request) */
static struct {
    pk_wsio **t;
    int n;
    volatile apr_uint32_t next;     /* the next to be dealt a WebSocket */
    volatile apr_uint32_t stop;
} ios;

int pk_wsio_running(void)
{
    return ios.n && !apr_atomic_read32(&ios.stop);
}

pk_wsio *pk_wsio_pick(void)
{
    if (!pk_wsio_running()) {
        return NULL;
    }
    /* in turn: a burst of handshakes (the way a restart's reconnects come) is spread
     * evenly, which a least-loaded pick would not see (counts rise at the hand-over) */
    return ios.t[apr_atomic_inc32(&ios.next) % (apr_uint32_t)ios.n];
}

/* held (or, detached: only the detached ones) by all the child's I/O threads */
static int total(int detached)
{
    apr_uint32_t n = 0;
    int i;

    for (i = 0; i < ios.n; ++i) {
        n += apr_atomic_read32(detached ? &ios.t[i]->detached : &ios.t[i]->count);
    }
    return (int)n;
}

int pk_wsio_count(void)
{
    return total(0);
}

int pk_wsio_detached_count(void)
{
    return total(1);
}

int pk_wsio_threads(void)
{
    return ios.n;
}

apr_status_t pk_wsio_conn_pool(pk_wsio *io, apr_pool_t **p)
{
    *p = NULL;
    if (!pk_wsio_running()) {
        return APR_EOF;
    }
    return apr_pool_create(p, io->conns);
}

apr_bucket_alloc_t *pk_wsio_bucket_alloc(pk_wsio *io)
{
    return io->ba;
}

static void hand(pk_wsconn *ws)
{
    pk_wsio *io = pk_wsconn_io_thread(ws);

    apr_atomic_inc32(&io->count);
    apr_thread_mutex_lock(io->mutex);
    APR_ARRAY_PUSH(io->incoming, pk_wsconn *) = ws;
    apr_thread_mutex_unlock(io->mutex);
    apr_pollset_wakeup(io->pollset);
}

void pk_wsio_hand(pk_wsconn *ws)
{
    apr_atomic_inc32(&pk_wsconn_io_thread(ws)->detached);
    hand(ws);
}

void pk_wsio_note(conn_rec *c, pk_wsconn *ws)
{
    ap_set_module_config(c->conn_config, &poketto_module, ws);
}

void pk_wsio_park(conn_rec *c)
{
    pk_wsconn *ws = ios.n ? ap_get_module_config(c->conn_config, &poketto_module) : NULL;

    if (!ws) {
        return;
    }
    ap_set_module_config(c->conn_config, &poketto_module, NULL);
    hand(ws);
}

/* One event of a user with many connections wakes them all in a row, under the bus's
 * lock: the thread is woken (a write to the pollset's pipe) only by the first that finds
 * the list empty; it takes the whole list when it wakes. */
void pk_wsio_wake(void *baton)
{
    pk_wsconn *ws = baton;
    pk_wsio *io = pk_wsconn_io_thread(ws);
    int first = 0;
    rec *x;

    apr_thread_mutex_lock(io->mutex);
    x = *pk_wsconn_io(ws);          /* NULL until the thread took it: it steps it then */
    if (x && !x->in_woken && !x->ended) {
        x->in_woken = 1;
        first = io->woken->nelts == 0;
        APR_ARRAY_PUSH(io->woken, rec *) = x;
    }
    apr_thread_mutex_unlock(io->mutex);
    if (first) {
        apr_pollset_wakeup(io->pollset);
    }
}

static void poll_on(rec *x, int in, int out)
{
    pk_wsio *io = x->io;

    if (x->pfd.desc.s && x->want_out == out && in) {
        return;
    }
    if (x->pfd.desc.s) {
        apr_pollset_remove(io->pollset, &x->pfd);
        x->pfd.desc.s = NULL;
    }
    if (!in) {
        return;
    }
    x->pfd.desc_type = APR_POLL_SOCKET;
    x->pfd.desc.s = x->sock;
    x->pfd.reqevents = APR_POLLIN | APR_POLLHUP | APR_POLLERR | (out ? APR_POLLOUT : 0);
    x->pfd.client_data = x;
    x->want_out = out;
    if (APR_SUCCESS != apr_pollset_add(io->pollset, &x->pfd)) {
        x->pfd.desc.s = NULL;
    }
}

/* The WebSocket is over (abort: stop now, no close handshake): free its state, then
 * close the connection as the MPM would (lingering: our FIN, then read what the client
 * still sends, so that unread bytes do not turn the close into a reset), unless the
 * client was dropped. */
static void end_ws(rec *x, apr_time_t now, int abort)
{
    pk_wsio *io = x->io;
    int i;

    apr_thread_mutex_lock(io->mutex);
    x->ended = 1;
    if (x->in_woken) {
        for (i = 0; i < io->woken->nelts; ++i) {
            if (APR_ARRAY_IDX(io->woken, i, rec *) == x) {
                APR_ARRAY_IDX(io->woken, i, rec *) = NULL;
            }
        }
        x->in_woken = 0;
    }
    apr_thread_mutex_unlock(io->mutex);
    abort = abort || pk_wsconn_dropped(x->ws);
    if (abort && x->c) {
        x->c->aborted = 1;
    }
    pk_wsconn_end(x->ws);           /* unsubscribes: no wake refers to x any more */
    x->ws = NULL;
    if (abort) {
        x->state = CLOSED;
        poll_on(x, 0, 0);
        return;
    }
    apr_socket_timeout_set(x->sock, 0);
    apr_socket_shutdown(x->sock, APR_SHUTDOWN_WRITE);
    x->linger_until = now + LINGER;
    x->state = LINGERING;
    poll_on(x, 1, 0);
}

/* poll(2) on the socket alone, without waiting: is there room to write? */
static int writable_now(apr_socket_t *sock)
{
    apr_pollfd_t pfd;
    apr_int32_t n = 0;

    memset(&pfd, 0, sizeof(pfd));
    pfd.desc_type = APR_POLL_SOCKET;
    pfd.desc.s = sock;
    pfd.reqevents = APR_POLLOUT;
    return apr_poll(&pfd, 1, &n, 0) == APR_SUCCESS && n == 1
           && (pfd.rtnevents & APR_POLLOUT) && !(pfd.rtnevents & (APR_POLLERR | APR_POLLHUP));
}

static void step(rec *x, int readable, int writable)
{
    apr_time_t now;
    int more;
    char buf[4096];
    apr_size_t len;
    apr_status_t rv;

    if (x->state == ACTIVE) {
        more = pk_wsconn_step(x->ws, readable, writable);
        if (more && x->c && !writable && !x->want_out && pk_wsconn_wants_write(x->ws)
            && writable_now(x->sock)) {
            /* something was queued on a connection that had nothing waiting (an event):
             * write it now if the socket takes it, as the pollset would say, rather than
             * after a round through the pollset (four epoll_ctl calls and a pass of this
             * loop per message) */
            more = pk_wsconn_step(x->ws, 0, 1);
        }
        if (more) {
            poll_on(x, 1, pk_wsconn_wants_write(x->ws));
            return;
        }
        end_ws(x, apr_time_now(), 0);
        readable = 0;
    }
    now = apr_time_now();
    if (x->state == LINGERING) {
        do {
            len = sizeof(buf);
            rv = readable ? apr_socket_recv(x->sock, buf, &len) : APR_EAGAIN;
        } while (rv == APR_SUCCESS && len);
        if ((readable && !APR_STATUS_IS_EAGAIN(rv)) || now >= x->linger_until) {
            x->state = CLOSED;
            poll_on(x, 0, 0);
        }
    }
    if (x->state == CLOSED && (!x->c || now >= x->parked_at + HANDOVER_GRACE)) {
        x->state = FINISHING;
        APR_ARRAY_PUSH(x->io->ending, rec *) = x;
    }
}

static void adopt(pk_wsio *io, pk_wsconn *ws)
{
    apr_pool_t *pool = pk_wsconn_take_pool(ws);
    rec *x = apr_pcalloc(pool, sizeof(*x));

    x->io = io;
    x->ws = ws;
    x->c = pk_wsconn_conn(ws);
    x->r = pk_wsconn_request(ws);
    x->pool = pool;
    x->sock = pk_wsconn_socket(ws);
    x->pfd.p = pool;
    x->state = ACTIVE;
    x->parked_at = apr_time_now();
    if (x->c) {                     /* (a detached socket never waits) */
        apr_socket_timeout_set(x->sock, PARKED_WRITE_TIMEOUT);
    }
    apr_thread_mutex_lock(io->mutex);
    *pk_wsconn_io(ws) = x;
    apr_thread_mutex_unlock(io->mutex);
    x->index = io->all->nelts;
    APR_ARRAY_PUSH(io->all, rec *) = x;
    pk_wsconn_set_scratch(ws, io->scratch);
    pk_wsconn_begin(ws);
    step(x, 1, 0);                  /* frames right behind the handshake, bus messages */
}

/* What the MPM would have done: log the request and free the connection (detached:
 * httpd did that at the hand-over; the WebSocket's pool holds the socket). */
static void finish(rec *x)
{
    pk_wsio *io = x->io;
    conn_rec *c = x->c;
    int detached = !c;
    rec *last;

    poll_on(x, 0, 0);
    last = APR_ARRAY_IDX(io->all, io->all->nelts - 1, rec *);
    APR_ARRAY_IDX(io->all, x->index, rec *) = last;
    last->index = x->index;
    --io->all->nelts;
    if (x->r) {
        ap_run_log_transaction(x->r);
    }
    /* parked: c->cs->state is still CONN_STATE_SUSPENDED: the event MPM's cleanup of its
     * connection pool counts the connection out; the socket closes with the pool */
    apr_pool_destroy(x->pool);
    apr_atomic_dec32(&io->count);
    if (detached) {
        apr_atomic_dec32(&io->detached);
    }
}

static void * APR_THREAD_FUNC run(apr_thread_t *thread, void *data)
{
    pk_wsio *io = data;
    const apr_pollfd_t *fds = NULL;
    apr_int32_t n = 0, i;
    apr_interval_time_t timeout;
    apr_time_t now, next_sweep = 0, stop_at = 0;
    apr_array_header_t *swap;
    apr_status_t rv;
    rec *x;

    pk_threads_name("pk-ws-io");
    apr_pool_create_unmanaged_ex(&io->scratch, NULL, NULL);
    apr_pool_tag(io->scratch, "poketto_wsio_messages");
    while (1) {
        if (apr_atomic_read32(&ios.stop) && !stop_at) {
            stop_at = apr_time_now() + STOP_GRACE;
        }
        if (stop_at && !io->all->nelts) {
            apr_thread_mutex_lock(io->mutex);
            n = io->incoming->nelts;
            apr_thread_mutex_unlock(io->mutex);
            if (!n) {
                break;
            }
        }
        /* Timers (pings, time-outs, lingering, the hand-over grace) are acted on by the
         * sweep only: wake for it, not for a timer that falls due before it (that woke
         * the thread with nothing to do, again and again until the sweep, and took a pass
         * over every connection each time). */
        timeout = next_sweep - apr_time_now();
        timeout = timeout < 0 ? 0 : timeout > SLICE ? SLICE : timeout;
        rv = apr_pollset_poll(io->pollset, timeout, &n, &fds);
        if (rv != APR_SUCCESS) {
            n = 0;                  /* woken (EINTR), timed out */
        }
        apr_thread_mutex_lock(io->mutex);
        swap = io->batch; io->batch = io->incoming; io->incoming = swap;
        swap = io->wbatch; io->wbatch = io->woken; io->woken = swap;
        for (i = 0; i < io->wbatch->nelts; ++i) {
            if ((x = APR_ARRAY_IDX(io->wbatch, i, rec *))) {
                x->in_woken = 0;
            }
        }
        apr_thread_mutex_unlock(io->mutex);
        for (i = 0; i < io->batch->nelts; ++i) {
            adopt(io, APR_ARRAY_IDX(io->batch, i, pk_wsconn *));
        }
        io->batch->nelts = 0;
        for (i = 0; i < n; ++i) {
            x = fds[i].client_data;
            if (x->state != FINISHING) {
                step(x, !!(fds[i].rtnevents & (APR_POLLIN | APR_POLLHUP | APR_POLLERR)),
                     !!(fds[i].rtnevents & APR_POLLOUT));
            }
        }
        for (i = 0; i < io->wbatch->nelts; ++i) {
            if ((x = APR_ARRAY_IDX(io->wbatch, i, rec *)) && x->state == ACTIVE) {
                step(x, 0, 0);
            }
        }
        io->wbatch->nelts = 0;
        now = apr_time_now();
        if (now >= next_sweep || stop_at) {    /* pings, time-outs, the stop */
            for (i = 0; i < io->all->nelts; ++i) {
                x = APR_ARRAY_IDX(io->all, i, rec *);
                if (x->state == FINISHING) {
                    continue;
                }
                if (stop_at && now >= stop_at) {
                    if (x->state == ACTIVE) {
                        end_ws(x, now, 1);
                    }
                    x->state = x->state == LINGERING ? CLOSED : x->state;
                }
                else if (!stop_at && x->state == ACTIVE && !pk_wsconn_due(x->ws, now)) {
                    continue;       /* no timer due: the bus and the socket wake it */
                }
                step(x, 0, 0);
            }
            next_sweep = now + SLICE;
        }
        for (i = 0; i < io->ending->nelts; ++i) {
            finish(APR_ARRAY_IDX(io->ending, i, rec *));
        }
        io->ending->nelts = 0;
    }
    apr_pool_destroy(io->scratch);
    io->scratch = NULL;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, io->s, APLOGNO(10863)
                 "WebSocket I/O thread %d stopped", io->num);
    return NULL;
}

/* What make() took outside p: the detached pools' parent and its bucket allocator. */
static void unmake(pk_wsio *w)
{
    apr_bucket_alloc_destroy(w->ba);
    apr_pool_destroy(w->conns);
}

/* Every thread is told first, then each joined: they close their WebSockets at once. */
static apr_status_t stop(void *data)
{
    apr_status_t rv;
    int i;

    (void)data;
    apr_atomic_set32(&ios.stop, 1);
    for (i = 0; i < ios.n; ++i) {
        apr_pollset_wakeup(ios.t[i]->pollset);
    }
    for (i = 0; i < ios.n; ++i) {
        apr_thread_join(&rv, ios.t[i]->thread);
    }
    /* every detached WebSocket's pool went with its thread (a thread ends once none is
     * left; the workers that hand them over were joined before pchild goes) */
    for (i = 0; i < ios.n; ++i) {
        unmake(ios.t[i]);
    }
    ios.n = 0;
    return APR_SUCCESS;
}

/* One thread's state, in p (pchild's subpool): its thread is started by the caller. */
static apr_status_t make(apr_pool_t *p, server_rec *s, int num, pk_wsio **wp)
{
    pk_wsio *w = apr_pcalloc(p, sizeof(*w));
    apr_status_t rv;

    w->s = s;
    w->num = num;
    w->pool = p;
    w->incoming = apr_array_make(p, 16, sizeof(pk_wsconn *));
    w->batch = apr_array_make(p, 16, sizeof(pk_wsconn *));
    w->woken = apr_array_make(p, 64, sizeof(rec *));
    w->wbatch = apr_array_make(p, 64, sizeof(rec *));
    w->all = apr_array_make(p, 256, sizeof(rec *));
    w->ending = apr_array_make(p, 16, sizeof(rec *));
    if (APR_SUCCESS != (rv = apr_thread_mutex_create(&w->mutex, APR_THREAD_MUTEX_DEFAULT, p))
        || APR_SUCCESS != (rv = apr_pollset_create(&w->pollset, 1024, p,
                                                   APR_POLLSET_WAKEABLE | APR_POLLSET_NOCOPY))
        || APR_SUCCESS != (rv = pk_threads_pool(&w->conns, "poketto_ws_detached"))) {
        goto leave;
    }
    /* blocks of closed WebSockets are kept for the next, up to what httpd keeps */
    apr_allocator_max_free_set(apr_pool_allocator_get(w->conns), ap_max_mem_free);
    w->ba = apr_bucket_alloc_create_ex(apr_pool_allocator_get(w->conns));
leave:
    *wp = rv == APR_SUCCESS ? w : NULL;
    return rv;
}

apr_status_t pk_wsio_child_init(apr_pool_t *pchild, server_rec *s, int threads)
{
    apr_pool_t *p = NULL;
    pk_wsio *w = NULL;
    int i, started = 0;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = apr_pool_create(&p, pchild))) {
        goto leave;
    }
    apr_pool_tag(p, "poketto_wsio");
    ios.t = apr_pcalloc(p, sizeof(*ios.t) * (apr_size_t)threads);
    for (i = 0; i < threads; ++i) {
        if (APR_SUCCESS != (rv = make(p, s, i, &w))) {
            goto leave;
        }
        ios.t[i] = w;
    }
    for (i = 0; i < threads; ++i) {
        if (APR_SUCCESS != (rv = apr_thread_create(&ios.t[i]->thread, NULL, run, ios.t[i], p))) {
            goto leave;
        }
        ios.n = ++started;
    }
    /* on pchild itself: before the pools of the parked connections go with the child */
    apr_pool_pre_cleanup_register(pchild, NULL, stop);
leave:
    if (rv != APR_SUCCESS) {
        if (started) {
            stop(NULL);             /* (no WebSocket was handed to them yet) */
        }
        for (i = started; ios.t && i < threads && ios.t[i]; ++i) {
            unmake(ios.t[i]);
        }
        ios.n = 0;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, APLOGNO(10864)
                     "cannot start the WebSocket I/O threads: WebSockets use thread mode "
                     "in this child");
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, s,
                     "%d WebSocket I/O thread(s) started", threads);
    }
    return rv;
}
