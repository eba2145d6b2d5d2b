/* mod_poketto — one open WebSocket; see pk_wsconn.h. */
#include <httpd.h>
#include <http_log.h>
#include <http_core.h>
#include <http_connection.h>
#include <ap_mpm.h>
#include <util_filter.h>
#include <apr_atomic.h>
#include <apr_poll.h>
#include <apr_strings.h>
#include <apr_portable.h>
#include <jansson.h>
#include <fcntl.h>
#include <errno.h>
#include <netinet/in.h>

#include "pk_ws.h"
#include "pk_json.h"
#include "pk_bus.h"
#include "pk_dbd.h"
#include "pk_wsconn.h"
#include "pk_wsio.h"

APLOG_USE_MODULE(poketto);

/* the waiting thread looks at the child's state at least this often: under prefork,
 * whose child learns of a graceful restart from the MPM's state alone */
#define SLICE apr_time_from_sec(1)
/* ... and under a threaded MPM, where the bus wakes every subscription when the child
 * stops (pk_bus_child_stopping): a safety net only (a wake each second cost 13 % of a
 * core with 4 500 idle WebSockets, bench/push.sh thread:4500) */
#define SLICE_THREADED apr_time_from_sec(10)
/* bytes asked of the input filters per read */
#define READ_SIZE 8192
/* reads per wake-up before the other work gets a turn */
#define READS_PER_TURN 16
/* bytes written per writable socket: little enough to fit what a writable TCP socket
 * has free, so a write does not wait for the client */
#define WRITE_PIECE 8192
/* how long a write may wait for a client that said it can take bytes */
#define WRITE_TIMEOUT apr_time_from_sec(5)
/* how long the server waits for the client's close frame after sending its own */
#define CLOSE_WAIT apr_time_from_sec(2)
/* table reads of one resume (each reads a batch) */
#define RESUME_ROUNDS 1000
/* pieces of the queue one write of a detached socket passes to writev */
#define WRITE_VECS 16

/* A log line of the WebSocket: the connection's while httpd holds it; once detached there
 * is no conn_rec, so the server's (the lines that matter name the client: ws->peer). */
#define WS_LOG(ws, level, rv, ...) do {                                       \
        if ((ws)->c) {                                                        \
            ap_log_cerror(APLOG_MARK, level, rv, (ws)->c, __VA_ARGS__);       \
        }                                                                     \
        else {                                                                \
            ap_log_error(APLOG_MARK, level, rv, (ws)->s, __VA_ARGS__);        \
        }                                                                     \
    } while (0)

struct pk_wsconn {
    conn_rec *c;                    /* NULL once detached */
    server_rec *s;
    const char *peer;               /* the client's address:port, for the log */
    const pk_ws_conf *conf;
    apr_int64_t user_id;
    apr_pool_t *pool;               /* everything below: a subpool of c->pool (thread
                                     * mode), c->pool itself (parked), or a pool of the
                                     * I/O thread's (detached); the I/O thread destroys
                                     * the last two when it closes */
    int own_pool;                   /* pk_wsconn_destroy destroys pool */
    apr_bucket_alloc_t *ba;         /* c->bucket_alloc, or the I/O thread's (detached) */
    int detached;                   /* the socket is ours: no filters, no conn_rec */
    apr_pool_t *early_pool;         /* detached: bytes the filters held at the hand-over, */
    char *early;                    /* in a pool of their own, gone once they were read */
    apr_size_t early_len;
    apr_pool_t *msg_pool;           /* one message at a time: made when one comes, gone
                                     * after it (scratch / scratch_done) */
    apr_pool_t *shared_scratch;     /* parked: the I/O thread's pool for messages */
    apr_pool_t *sub_pool;           /* a resume's subscription (cleared at the next one);
                                     * the first lives in pool */
    apr_socket_t *sock;
    apr_pollset_t *pollset;
    apr_pollfd_t pfd;
    int want_out;                   /* pfd asks for APR_POLLOUT */
    pk_ws_reader *reader;
    apr_bucket_brigade *in;         /* a read from the input filters */
    apr_bucket_brigade *out;        /* bytes queued for the client */
    apr_bucket_brigade *piece;      /* what one write passes down */
    apr_size_t out_len;
    pk_bus_sub *sub;
    apr_time_t next_ping;
    int ping_due;                   /* a ping was sent and no pong came yet */
    int close_sent;                 /* our close frame is queued */
    int close_received;             /* the client's close frame came */
    int failed;                     /* the client broke the protocol: no close wait */
    int resuming;                   /* a resume's replay is under way */
    apr_int64_t resume_after;
    apr_time_t closing_since;       /* done: when */
    apr_time_t started;
    int parked;                     /* held by the I/O thread (pk_wsio.h) */
    void *io;                       /* the I/O thread's record of it */
    pk_wsio *io_thread;             /* parked: the I/O thread it is dealt to */
    request_rec *r;                 /* the upgraded request (parked: ended by us) */
    int done;                       /* stop: write what is queued (unless dropped) */
    int dropped;                    /* stop now, write nothing more */
    const char *why;                /* why it ended, for the log */
    apr_uint64_t msgs_in, msgs_out;
};

static volatile apr_uint32_t open_count;

int pk_wsconn_slot_take(const pk_ws_conf *conf)
{
    if (apr_atomic_inc32(&open_count) >= (apr_uint32_t)conf->max_per_child) {
        apr_atomic_dec32(&open_count);
        return 0;
    }
    return 1;
}

void pk_wsconn_slot_put(void)
{
    apr_atomic_dec32(&open_count);
}

int pk_wsconn_open_count(void)
{
    return (int)apr_atomic_read32(&open_count);
}

/* The bus has something (or stops): wake the thread that polls. Called under the bus's
 * lock: apr_pollset_wakeup only writes a byte to a pipe. */
static void wake(void *baton)
{
    pk_wsconn *ws = baton;
    apr_pollset_wakeup(ws->pollset);
}

static void drop(pk_wsconn *ws, const char *why)
{
    if (!ws->dropped) {
        ws->dropped = ws->done = 1;
        ws->why = why;
        if (ws->c) {
            ws->c->aborted = 1;
        }
    }
}

/* The pool of the message at hand: the parked I/O thread's, or one of the connection's
 * own made when first needed. */
static apr_pool_t *scratch(pk_wsconn *ws)
{
    if (ws->shared_scratch) {
        return ws->shared_scratch;
    }
    if (!ws->msg_pool) {
        apr_pool_create(&ws->msg_pool, ws->pool);
        apr_pool_tag(ws->msg_pool, "poketto_ws_msg");
    }
    return ws->msg_pool;
}

/* Done with the message: an idle connection keeps no pool for the next one. */
static void scratch_done(pk_wsconn *ws)
{
    if (ws->shared_scratch) {
        apr_pool_clear(ws->shared_scratch);
    }
    else if (ws->msg_pool) {
        apr_pool_destroy(ws->msg_pool);
        ws->msg_pool = NULL;
    }
}

/* ---- the queue of bytes for the client ---- */

static void queue_bytes(pk_wsconn *ws, const void *data, apr_size_t len)
{
    apr_bucket *b;

    if (ws->dropped || !len) {
        return;
    }
    b = apr_bucket_heap_create(data, len, NULL, ws->ba);
    APR_BRIGADE_INSERT_TAIL(ws->out, b);
    ws->out_len += len;
    if (ws->out_len > ws->conf->send_buffer) {
        WS_LOG(ws, APLOG_INFO, 0, APLOGNO(10852)
               "WebSocket of user %" APR_INT64_T_FMT " (%s): the client does not read "
               "(%" APR_SIZE_T_FMT " bytes queued, PokettoWsSendBuffer %"
               APR_SIZE_T_FMT "): dropped", ws->user_id, ws->peer, ws->out_len,
               ws->conf->send_buffer);
        drop(ws, "the client did not read (send buffer full)");
    }
}

/* A frame for the client. Detached with nothing queued, it is written at once from
 * where it is (one writev, no copy: a user's event goes to each of its sockets so),
 * and only what the socket did not take is queued. */
static void queue_frame(pk_wsconn *ws, int opcode, const void *payload, apr_size_t len)
{
    unsigned char hdr[PK_WS_MAX_HEADER];
    apr_size_t hlen = pk_ws_frame_header(hdr, opcode, 1, len), n = 0;
    struct iovec vec[2];
    apr_status_t rv;

    if (!hlen || ws->dropped) {
        return;
    }
    if (ws->detached && !ws->out_len) {
        vec[0].iov_base = hdr;
        vec[0].iov_len = hlen;
        vec[1].iov_base = (void *)payload;
        vec[1].iov_len = len;
        rv = apr_socket_sendv(ws->sock, vec, len ? 2 : 1, &n);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
            WS_LOG(ws, APLOG_DEBUG, rv, APLOGNO(10867) "WebSocket of user %" APR_INT64_T_FMT
                   " (%s): writing to the client failed", ws->user_id, ws->peer);
            drop(ws, "writing failed");
            return;
        }
        if (n >= hlen + len) {
            return;
        }
        if (n < hlen) {
            queue_bytes(ws, hdr + n, hlen - n);
            n = 0;
        }
        else {
            n -= hlen;
        }
        queue_bytes(ws, (const char *)payload + n, len - n);
        return;
    }
    queue_bytes(ws, hdr, hlen);
    queue_bytes(ws, payload, len);
}

static void queue_close(pk_wsconn *ws, int code, const char *reason)
{
    const char *frame = NULL;
    apr_size_t len = 0;

    if (ws->close_sent || ws->dropped) {
        return;
    }
    if (APR_SUCCESS == pk_ws_close_frame(scratch(ws), code, reason, &frame, &len)) {
        queue_bytes(ws, frame, len);
    }
    ws->close_sent = 1;
    WS_LOG(ws, APLOG_TRACE1, 0, "WebSocket: close %d sent (%s)", code, reason ? reason : "");
}

static void queue_json(pk_wsconn *ws, json_t *j)
{
    apr_size_t len = 0;
    const char *text = pk_json_dump(scratch(ws), j, JSON_COMPACT, &len);

    json_decref(j);
    if (text) {
        queue_frame(ws, PK_WS_OP_TEXT, text, len);
    }
}

static void queue_error(pk_wsconn *ws, const char *detail)
{
    queue_json(ws, json_pack("{s:s, s:s}", "type", "error", "detail", detail));
}

/* Write one piece of the queue (the socket said it can take bytes). */
static void write_out(pk_wsconn *ws)
{
    conn_rec *c = ws->c;
    apr_bucket *b = NULL, *e;
    apr_status_t rv = APR_SUCCESS;
    apr_size_t n;

    if (ws->dropped || !ws->out_len) {
        goto leave;
    }
    n = ws->out_len < WRITE_PIECE ? ws->out_len : WRITE_PIECE;
    if (APR_SUCCESS != (rv = apr_brigade_partition(ws->out, (apr_off_t)n, &b))) {
        goto leave;
    }
    /* the bytes before b go down, with a flush */
    while ((e = APR_BRIGADE_FIRST(ws->out)) != b) {
        APR_BUCKET_REMOVE(e);
        APR_BRIGADE_INSERT_TAIL(ws->piece, e);
    }
    APR_BRIGADE_INSERT_TAIL(ws->piece, apr_bucket_flush_create(c->bucket_alloc));
    rv = ap_pass_brigade(c->output_filters, ws->piece);
    apr_brigade_cleanup(ws->piece);
    ws->out_len -= n;
    ap_log_cerror(APLOG_MARK, APLOG_TRACE2, rv, c, "WebSocket: %" APR_SIZE_T_FMT
                  " bytes written, %" APR_SIZE_T_FMT " queued", n, ws->out_len);
leave:
    if (rv != APR_SUCCESS || c->aborted) {
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, rv, c, APLOGNO(10853)
                      "WebSocket of user %" APR_INT64_T_FMT ": writing to the client failed",
                      ws->user_id);
        drop(ws, "writing failed");
    }
}

/* Detached: write what the socket takes now (it does not wait), dropping what went. */
static void write_socket(pk_wsconn *ws)
{
    struct iovec vec[WRITE_VECS];
    apr_bucket *b = NULL, *e;
    apr_status_t rv = APR_SUCCESS;
    apr_size_t n;
    int nvec;

    while (!ws->dropped && ws->out_len) {
        nvec = WRITE_VECS;
        if (APR_SUCCESS != (rv = apr_brigade_to_iovec(ws->out, vec, &nvec)) || !nvec) {
            break;
        }
        n = 0;
        rv = apr_socket_sendv(ws->sock, vec, nvec, &n);
        if (n) {
            apr_brigade_partition(ws->out, (apr_off_t)n, &b);
            while ((e = APR_BRIGADE_FIRST(ws->out)) != b) {
                apr_bucket_delete(e);
            }
            ws->out_len -= n;
        }
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    WS_LOG(ws, APLOG_TRACE2, rv, "WebSocket: %" APR_SIZE_T_FMT " bytes queued", ws->out_len);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
        WS_LOG(ws, APLOG_DEBUG, rv, APLOGNO(10865) "WebSocket of user %" APR_INT64_T_FMT
               " (%s): writing to the client failed", ws->user_id, ws->peer);
        drop(ws, "writing failed");
    }
}

/* ---- the bus ---- */

static apr_status_t subscribe(pk_wsconn *ws, apr_int64_t after)
{
    int first = !ws->sub && !ws->sub_pool;

    if (ws->sub) {
        pk_bus_unsubscribe(ws->sub);
        ws->sub = NULL;
    }
    if (!first) {
        if (!ws->sub_pool) {
            apr_pool_create(&ws->sub_pool, ws->pool);
            apr_pool_tag(ws->sub_pool, "poketto_ws_sub");
        }
        apr_pool_clear(ws->sub_pool);
    }
    return pk_bus_subscribe(first ? ws->pool : ws->sub_pool, ws->user_id, after,
                            ws->parked ? pk_wsio_wake : wake, ws, &ws->sub);
}

static void going_away(pk_wsconn *ws)
{
    ws->why = "the server process stops";
    queue_close(ws, PK_WS_CLOSE_GOING_AWAY, "server restarting");
    ws->done = 1;
}

/* Queue what the subscription holds: 1 when it is empty now. With pace set (a resume's
 * replay, which the client asked for and reads), stop while half the send buffer is
 * queued: the rest waits in the bus until the client took that. */
static int drain_bus(pk_wsconn *ws, int pace)
{
    pk_bus_msg m;
    pk_bus_ref *ref = NULL;
    apr_status_t rv;
    int empty = 0;

    /* the messages are the bus's (no copy, no pool): written or queued, then let go */
    while (!ws->done && !(pace && ws->out_len > ws->conf->send_buffer / 2)) {
        rv = pk_bus_take(ws->sub, &m, &ref);
        if (rv == APR_EOF) {
            going_away(ws);
            break;
        }
        if (rv != APR_SUCCESS) {
            empty = 1;              /* APR_EAGAIN: nothing more now */
            break;
        }
        WS_LOG(ws, APLOG_TRACE1, 0, "WebSocket: event %" APR_INT64_T_FMT " (%s) to user %"
               APR_INT64_T_FMT, m.id, m.type, ws->user_id);
        queue_frame(ws, PK_WS_OP_TEXT, m.json, m.len);
        ++ws->msgs_out;
        pk_bus_release(ref);
        if (!m.more) {
            empty = 1;
            break;
        }
    }
    return empty;
}

/* {"type":"resume","after":ID}: subscribe after ID; resume_step then sends what the
 * table holds and {"type":"resumed","last":ID}. */
static void resume(pk_wsconn *ws, apr_int64_t after)
{
    apr_status_t rv;

    if (APR_SUCCESS != (rv = subscribe(ws, after))) {
        if (rv == APR_EOF) {
            going_away(ws);
        }
        else {
            ws->why = "the bus refused a subscription";
            queue_close(ws, PK_WS_CLOSE_INTERNAL, "live events unavailable");
            ws->done = 1;
        }
        return;
    }
    ws->resuming = 1;
    ws->resume_after = after;
}

/* A step of a resume: read the table on a connection of our own (another thread may be
 * reading it for us: then its wake brings us back), send what came, within the pace;
 * once the subscription is LIVE and drained, "resumed". */
static void resume_step(pk_wsconn *ws)
{
    server_rec *s = ws->s;
    apr_pool_t *p = NULL;
    pk_db *db = NULL;
    apr_int64_t last = ws->resume_after;
    int synced, i;

    for (i = 0; i < RESUME_ROUNDS && ws->resuming && !ws->done; ++i) {
        if (ws->out_len > ws->conf->send_buffer / 2) {
            break;                  /* when the client has taken some */
        }
        if (!p) {
            apr_pool_create(&p, ws->pool);
            apr_pool_tag(p, "poketto_ws_resume");
            db = pk_dbd_open(p, s);
        }
        if (db && APR_SUCCESS != pk_bus_catch_up(ws->sub, db, p)) {
            pk_dbd_close(s, db);    /* the bus's own thread reads it then */
            db = NULL;
        }
        synced = pk_bus_synced(ws->sub);
        if (!drain_bus(ws, 1)) {
            break;                  /* paced (or done) */
        }
        if (synced) {
            pk_bus_position(ws->sub, &last);
            queue_json(ws, json_pack("{s:s, s:I}", "type", "resumed", "last",
                                     (json_int_t)last));
            ws->resuming = 0;
            WS_LOG(ws, APLOG_DEBUG, 0, APLOGNO(10854)
                   "WebSocket of user %" APR_INT64_T_FMT " resumed after %"
                   APR_INT64_T_FMT ", now at %" APR_INT64_T_FMT, ws->user_id,
                   ws->resume_after, last);
            break;
        }
        if (!db) {
            break;                  /* the sync thread reads it and wakes us */
        }
    }
    if (db) {
        pk_dbd_close(s, db);
    }
    if (p) {
        apr_pool_destroy(p);
    }
}

/* ---- the client's messages ---- */

static void on_text(pk_wsconn *ws, const char *data, apr_size_t len)
{
    json_error_t err;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
    const char *type;
    json_t *after;

    ++ws->msgs_in;
    if (!j) {
        queue_error(ws, apr_psprintf(scratch(ws), "the message is not JSON: %s", err.text));
        goto leave;
    }
    if (!json_is_object(j) || !(type = pk_json_str(j, "type"))) {
        queue_error(ws, "a message is a JSON object with a \"type\"");
    }
    else if (!strcmp(type, "ping")) {
        queue_json(ws, json_pack("{s:s}", "type", "pong"));
    }
    else if (!strcmp(type, "resume")) {
        after = json_object_get(j, "after");
        if (!json_is_integer(after) || json_integer_value(after) < 0) {
            queue_error(ws, "\"resume\" needs \"after\": the id of the last event received "
                        "(a whole number from 0)");
        }
        else {
            resume(ws, (apr_int64_t)json_integer_value(after));
        }
    }
    else {
        queue_error(ws, apr_psprintf(scratch(ws), "unknown message type \"%.64s\"; "
                                     "known: \"resume\", \"ping\"", type));
    }
leave:
    if (j) {
        json_decref(j);
    }
}

/* One event of the reader. */
static void on_frame(pk_wsconn *ws, pk_ws_result res, const pk_ws_message *m)
{
    if (ws->close_sent && res == PK_WS_MESSAGE && m->opcode != PK_WS_OP_CLOSE) {
        res = PK_WS_NEED_MORE;      /* after our close, only the client's close matters */
    }
    switch (res) {
    case PK_WS_MESSAGE:
        WS_LOG(ws, APLOG_TRACE1, 0, "WebSocket: opcode %d, %" APR_SIZE_T_FMT " bytes",
               m->opcode, m->len);
        switch (m->opcode) {
        case PK_WS_OP_TEXT:
            on_text(ws, m->data, m->len);
            break;
        case PK_WS_OP_BINARY:
            queue_error(ws, "binary messages are not understood: send JSON text");
            break;
        case PK_WS_OP_PING:
            queue_frame(ws, PK_WS_OP_PONG, m->data, m->len);
            break;
        case PK_WS_OP_PONG:
            ws->ping_due = 0;
            break;
        case PK_WS_OP_CLOSE:
            /* echo the client's code; a close without one gets 1000 */
            queue_close(ws, m->close_code == PK_WS_CLOSE_NO_STATUS ? PK_WS_CLOSE_NORMAL
                                                                   : m->close_code, NULL);
            ws->close_received = 1;
            if (!ws->why) {
                ws->why = apr_psprintf(ws->pool, "the client closed (%d)", m->close_code);
            }
            ws->done = 1;
            break;
        }
        break;
    case PK_WS_ERROR:
        WS_LOG(ws, APLOG_DEBUG, 0, APLOGNO(10855)
               "WebSocket of user %" APR_INT64_T_FMT " (%s): %s (close %d)", ws->user_id,
               ws->peer, m->why, m->close_code);
        queue_close(ws, m->close_code, NULL);
        ws->why = m->why;
        ws->done = ws->failed = 1;
        break;
    default:
        break;
    }
    scratch_done(ws);
}

/* Whether frames of the client still matter: until its close, a protocol error or the
 * end of the connection (after our close frame, only its close does). */
static int reading(pk_wsconn *ws)
{
    return !ws->dropped && !ws->close_received && !ws->failed;
}

/* Give the reader bytes of the client, acting on each event. */
static void feed(pk_wsconn *ws, const char *data, apr_size_t len)
{
    pk_ws_message m;
    pk_ws_result res;
    apr_size_t used;

    while (len && reading(ws)) {
        used = 0;
        res = pk_ws_reader_feed(ws->reader, data, len, &used, &m);
        if (res == PK_WS_AFTER_CLOSE) {
            break;
        }
        on_frame(ws, res, &m);
        data += used;
        len -= used;
    }
}

/* Detached: read the socket until it has nothing now (or the client closed). */
static void read_socket(pk_wsconn *ws)
{
    char buf[READ_SIZE];
    apr_size_t len;
    apr_status_t rv;
    int turn;

    if (ws->early_pool) {
        feed(ws, ws->early, ws->early_len);
        apr_pool_destroy(ws->early_pool);
        ws->early_pool = NULL;
        ws->early = NULL;
        ws->early_len = 0;
    }
    for (turn = 0; turn < READS_PER_TURN && reading(ws); ++turn) {
        len = sizeof(buf);
        rv = apr_socket_recv(ws->sock, buf, &len);
        if (len) {
            feed(ws, buf, len);
        }
        if (APR_STATUS_IS_EAGAIN(rv)) {
            break;
        }
        if (rv != APR_SUCCESS || !len) {
            drop(ws, rv == APR_SUCCESS || APR_STATUS_IS_EOF(rv)
                     ? "the client closed the connection" : "reading failed");
            break;
        }
        if (len < sizeof(buf)) {
            break;                  /* all there was: the pollset says when more comes */
        }
    }
}

/* Read what the filters have, until they have nothing now (or the client closed). */
static void read_in(pk_wsconn *ws)
{
    conn_rec *c = ws->c;
    apr_bucket *b;
    apr_status_t rv;
    const char *data;
    apr_size_t len;
    int turn;

    for (turn = 0; turn < READS_PER_TURN && reading(ws); ++turn) {
        apr_brigade_cleanup(ws->in);
        rv = ap_get_brigade(c->input_filters, ws->in, AP_MODE_READBYTES, APR_NONBLOCK_READ,
                            READ_SIZE);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            break;
        }
        if (rv != APR_SUCCESS) {
            drop(ws, APR_STATUS_IS_EOF(rv) ? "the client closed the connection"
                                           : "reading failed");
            break;
        }
        if (APR_BRIGADE_EMPTY(ws->in)) {
            break;                  /* nothing now */
        }
        for (b = APR_BRIGADE_FIRST(ws->in); b != APR_BRIGADE_SENTINEL(ws->in) && reading(ws);
             b = APR_BUCKET_NEXT(b)) {
            if (APR_BUCKET_IS_EOS(b)) {
                drop(ws, "the client closed the connection");
                break;
            }
            if (APR_BUCKET_IS_METADATA(b)) {
                continue;
            }
            if (APR_SUCCESS != (rv = apr_bucket_read(b, &data, &len, APR_NONBLOCK_READ))) {
                if (!APR_STATUS_IS_EAGAIN(rv)) {
                    drop(ws, "reading failed");
                }
                break;
            }
            feed(ws, data, len);
        }
    }
    apr_brigade_cleanup(ws->in);
}

/* ---- life ---- */

int pk_wsconn_detachable(conn_rec *c)
{
    ap_filter_t *f;

    /* the core's filters move bytes and mod_logio's input filter (AP_FTYPE_NETWORK - 1)
     * counts them; mod_reqtimeout's only time them (no time-out applies to a WebSocket);
     * any other connection filter (TLS: AP_FTYPE_CONNECTION) changes them */
    for (f = c->input_filters; f; f = f->next) {
        if (f->frec->ftype < AP_FTYPE_NETWORK - 1 && strcmp(f->frec->name, "reqtimeout")) {
            return 0;
        }
    }
    for (f = c->output_filters; f; f = f->next) {
        if (f->frec->ftype < AP_FTYPE_NETWORK - 1 && strcmp(f->frec->name, "reqtimeout")) {
            return 0;
        }
    }
    return 1;
}

apr_status_t pk_wsconn_create(conn_rec *c, request_rec *r, apr_int64_t user_id,
                              const pk_ws_conf *conf, pk_wsconn_hold hold, pk_wsconn **wsp)
{
    apr_pool_t *pool = NULL;
    pk_wsconn *ws = NULL;
    pk_wsio *io = NULL;
    int own = 1;
    apr_status_t rv;

    *wsp = NULL;
    if (hold != PK_WSCONN_THREAD && !(io = pk_wsio_pick())) {
        rv = APR_EOF;               /* the child stops */
    }
    else if (hold == PK_WSCONN_PARKED) {
        pool = c->pool;             /* destroyed by the I/O thread when the WebSocket ends:
                                     * one pool less (8 KB) per idle parked connection */
        own = 0;
        rv = APR_SUCCESS;
    }
    else if (hold == PK_WSCONN_DETACHED) {
        rv = pk_wsio_conn_pool(io, &pool);
    }
    else {
        rv = apr_pool_create(&pool, c->pool);
    }
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    apr_pool_tag(pool, "poketto_ws");
    ws = apr_pcalloc(pool, sizeof(*ws));
    ws->c = c;
    ws->s = c->base_server;
    ws->peer = apr_psprintf(pool, "%s:%d", c->client_ip,
                            c->client_addr ? (int)c->client_addr->port : 0);
    ws->r = r;
    ws->conf = conf;
    ws->user_id = user_id;
    ws->pool = pool;
    ws->own_pool = own;
    ws->parked = hold != PK_WSCONN_THREAD;
    ws->detached = hold == PK_WSCONN_DETACHED;
    ws->io_thread = io;
    ws->ba = ws->detached ? pk_wsio_bucket_alloc(io) : c->bucket_alloc;
    if (!(ws->sock = ap_get_conn_socket(c))) {
        rv = APR_ENOTSOCK;
        goto leave;
    }
    /* the pollset before the subscription: pool cleanups run in reverse order, so the
     * subscription (whose callback wakes the pollset) ends first */
    if ((!ws->parked && APR_SUCCESS != (rv = apr_pollset_create(&ws->pollset, 1, pool,
                                                                APR_POLLSET_WAKEABLE)))
        || APR_SUCCESS != (rv = pk_ws_reader_create(pool, conf->max_message, &ws->reader))) {
        goto leave;
    }
    ws->out = apr_brigade_create(pool, ws->ba);
    if (!ws->detached) {
        ws->in = apr_brigade_create(pool, c->bucket_alloc);
        ws->piece = apr_brigade_create(pool, c->bucket_alloc);
    }
    if (APR_SUCCESS != (rv = subscribe(ws, PK_BUS_FROM_NOW))) {
        goto leave;
    }
    *wsp = ws;
leave:
    if (rv != APR_SUCCESS && pool && own) {
        apr_pool_destroy(pool);     /* (parked: what was made stays in c->pool, which the
                                     * failed handshake's connection ends with) */
    }
    return rv;
}

apr_status_t pk_wsconn_detach(pk_wsconn *ws)
{
    conn_rec *c = ws->c;
    apr_bucket_brigade *bb = apr_brigade_create(c->pool, c->bucket_alloc);
    apr_os_sock_info_t info;
    apr_os_sock_t fd = -1, nfd = -1;
    apr_bucket *e;
    apr_size_t len = 0;
    apr_status_t rv;

    /* What the input filters hold already (a client may send right behind the 101) is
     * the reader's first bytes: AP_MODE_EXHAUSTIVE gives the core's buffer and then its
     * socket bucket, which is not read (the socket is ours from now on). */
    if (APR_SUCCESS != (rv = ap_get_brigade(c->input_filters, bb, AP_MODE_EXHAUSTIVE,
                                            APR_NONBLOCK_READ, 0))) {
        goto leave;
    }
    for (e = APR_BRIGADE_FIRST(bb);
         e != APR_BRIGADE_SENTINEL(bb) && !APR_BUCKET_IS_SOCKET(e) && !APR_BUCKET_IS_EOS(e);
         e = APR_BUCKET_NEXT(e)) {
        if (e->length == (apr_size_t)-1) {
            break;                  /* (not the core's buffer: nothing is read) */
        }
        if (e->length) {
            len += e->length;
        }
    }
    if (len) {
        apr_pool_create(&ws->early_pool, ws->pool);
        ws->early = apr_palloc(ws->early_pool, len);
        ws->early_len = len;
        if (APR_SUCCESS != (rv = apr_brigade_flatten(bb, ws->early, &ws->early_len))
            || ws->early_len != len) {
            rv = rv == APR_SUCCESS ? APR_EGENERAL : rv;
            goto leave;
        }
    }
    if (APR_SUCCESS != (rv = apr_os_sock_get(&fd, ap_get_conn_socket(c)))) {
        goto leave;
    }
    if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        goto leave;
    }
    memset(&info, 0, sizeof(info));
    info.os_sock = &nfd;
    info.family = c->client_addr ? c->client_addr->family : APR_INET;
    info.type = SOCK_STREAM;
    info.protocol = IPPROTO_TCP;
    if (APR_SUCCESS != (rv = apr_os_sock_make(&ws->sock, &info, ws->pool))) {
        close(nfd);                 /* (the socket's cleanup closes it from now on) */
        goto leave;
    }
    apr_socket_timeout_set(ws->sock, 0);
    /* httpd closes its descriptor without a lingering close (which would shut the
     * socket down for both) and writes nothing more: the connection is the WebSocket's */
    c->aborted = 1;
    ws->c = NULL;
    ws->r = NULL;
leave:
    apr_brigade_cleanup(bb);
    return rv;
}

void pk_wsconn_destroy(pk_wsconn *ws)
{
    if (ws->sub) {
        pk_bus_unsubscribe(ws->sub);
        ws->sub = NULL;
    }
    apr_brigade_cleanup(ws->out);   /* the buckets' memory goes back to the allocator */
    if (ws->own_pool) {
        apr_pool_destroy(ws->pool);
    }
    else {                          /* the I/O thread's: it destroys it after the close */
        scratch_done(ws);
        if (ws->sub_pool) {
            apr_pool_destroy(ws->sub_pool);
            ws->sub_pool = NULL;
        }
    }
}

void pk_wsconn_set_scratch(pk_wsconn *ws, apr_pool_t *p)
{
    scratch_done(ws);               /* (a pool of its own, made before, goes) */
    ws->shared_scratch = p;
}

apr_pool_t *pk_wsconn_take_pool(pk_wsconn *ws)
{
    ws->own_pool = 0;
    return ws->pool;
}

conn_rec *pk_wsconn_conn(pk_wsconn *ws)
{
    return ws->c;
}

request_rec *pk_wsconn_request(pk_wsconn *ws)
{
    return ws->r;
}

apr_socket_t *pk_wsconn_socket(pk_wsconn *ws)
{
    return ws->sock;
}

void **pk_wsconn_io(pk_wsconn *ws)
{
    return &ws->io;
}

pk_wsio *pk_wsconn_io_thread(pk_wsconn *ws)
{
    return ws->io_thread;
}

int pk_wsconn_dropped(pk_wsconn *ws)
{
    return ws->dropped;
}

int pk_wsconn_wants_write(pk_wsconn *ws)
{
    return !ws->dropped && ws->out_len > 0;
}

apr_interval_time_t pk_wsconn_timeout(pk_wsconn *ws)
{
    apr_interval_time_t t;

    if (ws->resuming) {
        return apr_time_from_msec(20);  /* another thread may be reading for us */
    }
    t = (ws->done ? ws->closing_since + CLOSE_WAIT : ws->next_ping) - apr_time_now();
    return t < 0 ? 0 : t;
}

int pk_wsconn_due(pk_wsconn *ws, apr_time_t now)
{
    return ws->resuming || ws->done || now >= ws->next_ping;
}

void pk_wsconn_begin(pk_wsconn *ws)
{
    ws->started = apr_time_now();
    ws->next_ping = ws->started + ws->conf->ping;
    WS_LOG(ws, APLOG_DEBUG, 0, APLOGNO(10856)
           "WebSocket of user %" APR_INT64_T_FMT " (%s) opened (%s mode, %d open in "
           "this child)", ws->user_id, ws->peer,
           ws->detached ? "parked, detached" : ws->parked ? "parked" : "thread",
           ws->parked ? pk_wsio_count() : pk_wsconn_open_count());
}

int pk_wsconn_step(pk_wsconn *ws, int readable, int writable)
{
    apr_time_t now;

    if (writable && !ws->detached) {
        write_out(ws);
    }
    if (readable) {
        if (ws->detached) {
            read_socket(ws);
        }
        else {
            read_in(ws);
        }
    }
    if (!ws->done) {
        if (ws->resuming) {
            resume_step(ws);
        }
        else {
            drain_bus(ws, 0);
        }
    }
    if (!ws->done && pk_bus_stopping()) {
        going_away(ws);
    }
    now = apr_time_now();
    if (!ws->done && now >= ws->next_ping) {
        if (ws->ping_due) {
            WS_LOG(ws, APLOG_DEBUG, 0, APLOGNO(10857)
                   "WebSocket of user %" APR_INT64_T_FMT " (%s): no pong within %"
                   APR_TIME_T_FMT " s: dropped", ws->user_id, ws->peer,
                   apr_time_sec(ws->conf->ping));
            drop(ws, "no pong");
        }
        else {
            queue_frame(ws, PK_WS_OP_PING, "poketto", 7);
            ws->ping_due = 1;
            ws->next_ping = now + ws->conf->ping;
        }
    }
    if (ws->detached && ws->out_len) {
        write_socket(ws);           /* a write that does not wait: no poll first */
    }
    if (!ws->done) {
        return 1;
    }
    if (!ws->closing_since) {
        ws->closing_since = now;
    }
    if (ws->dropped) {
        return 0;
    }
    /* our close frame written; the client's close came (or is not waited for: RFC 6455
     * 7.1.7 for a failed connection) */
    if (!ws->out_len && (!ws->close_sent || ws->close_received || ws->failed)) {
        return 0;
    }
    if (now >= ws->closing_since + CLOSE_WAIT) {
        drop(ws, ws->why ? ws->why : "the close handshake timed out");
        return 0;
    }
    return 1;
}

void pk_wsconn_end(pk_wsconn *ws)
{
    WS_LOG(ws, APLOG_DEBUG, 0, APLOGNO(10860)
           "WebSocket of user %" APR_INT64_T_FMT " (%s) closed after %" APR_TIME_T_FMT
           " s: %s (%" APR_UINT64_T_FMT " messages in, %" APR_UINT64_T_FMT " out)",
           ws->user_id, ws->peer, apr_time_sec(apr_time_now() - ws->started),
           ws->why ? ws->why : "closed", ws->msgs_in, ws->msgs_out);
    if (ws->c) {
        ws->c->keepalive = AP_CONN_CLOSE;
    }
    pk_wsconn_destroy(ws);
}

static apr_status_t poll_on(pk_wsconn *ws, int out)
{
    apr_status_t rv = APR_SUCCESS;

    if (ws->pfd.desc.s && ws->want_out == out) {
        goto leave;
    }
    if (ws->pfd.desc.s) {
        apr_pollset_remove(ws->pollset, &ws->pfd);
    }
    memset(&ws->pfd, 0, sizeof(ws->pfd));
    ws->pfd.p = ws->pool;
    ws->pfd.desc_type = APR_POLL_SOCKET;
    ws->pfd.desc.s = ws->sock;
    ws->pfd.reqevents = APR_POLLIN | APR_POLLHUP | APR_POLLERR | (out ? APR_POLLOUT : 0);
    ws->pfd.client_data = ws;
    ws->want_out = out;
    rv = apr_pollset_add(ws->pollset, &ws->pfd);
leave:
    return rv;
}

void pk_wsconn_run(pk_wsconn *ws)
{
    conn_rec *c = ws->c;
    const apr_pollfd_t *fds = NULL;
    apr_int32_t n = 0, i;
    apr_interval_time_t timeout, slice = SLICE;
    apr_status_t rv;
    int readable, writable, threaded = AP_MPMQ_NOT_SUPPORTED;

    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) == APR_SUCCESS
        && threaded != AP_MPMQ_NOT_SUPPORTED) {
        slice = SLICE_THREADED;
    }
    /* blocking writes (a flush) wait this long at most */
    apr_socket_timeout_set(ws->sock, WRITE_TIMEOUT);
    pk_wsconn_begin(ws);
    /* frames the client sent right behind its handshake may be read already */
    readable = 1;
    writable = 0;
    while (pk_wsconn_step(ws, readable, writable)) {
        if (APR_SUCCESS != (rv = poll_on(ws, pk_wsconn_wants_write(ws)))) {
            ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, c, APLOGNO(10858)
                          "WebSocket: cannot poll the client socket");
            drop(ws, "internal error");
            break;
        }
        timeout = pk_wsconn_timeout(ws);
        rv = apr_pollset_poll(ws->pollset, timeout > slice ? slice : timeout, &n, &fds);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EINTR(rv) && !APR_STATUS_IS_TIMEUP(rv)) {
            ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, c, APLOGNO(10859)
                          "WebSocket: polling the client socket failed");
            drop(ws, "internal error");
            break;
        }
        readable = writable = 0;
        for (i = 0; rv == APR_SUCCESS && i < n; ++i) {
            if (fds[i].rtnevents & (APR_POLLIN | APR_POLLHUP | APR_POLLERR)) {
                readable = 1;
            }
            if (fds[i].rtnevents & APR_POLLOUT) {
                writable = 1;
            }
        }
    }
    pk_wsconn_end(ws);
}
