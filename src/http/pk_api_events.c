/* mod_poketto — live events: GET /events, as Server-Sent Events or as a long poll.
 *
 * Both subscribe to the user's events on the bus (src/runtime/pk_bus.h) after the
 * position the client gives (Last-Event-ID, else ?after=; neither: from now on), read
 * what the table holds after it on the request's own connection, give that connection
 * back (a stream may stay open for hours), then wait on the subscription: the request's
 * thread sleeps on a futex, woken by the child's pump when a message arrives, at least
 * once a second to notice a stop (prefork's graceful restart says so only there).
 *
 *   SSE        no "wait" parameter: text/event-stream, one event per message
 *              ("id:", "event:", "data:"), flushed at once; a comment after
 *              PokettoSseHeartbeat seconds without one; ends when the child stops.
 *   long poll  ?wait=N: application/json {"events":[...],"last":ID} at once when events
 *              are there, else when the first arrive or after N seconds (at most
 *              PokettoLongPollMaxWait), with [] then; "last" is where to ask next.
 */
#include <httpd.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_log.h>
#include <http_core.h>
#include <util_filter.h>
#include <apr_strings.h>
#include <apr_poll.h>

#include "pk_sse.h"
#include "pk_bus.h"
#include "pk_api.h"
#include "pk_api_util.h"

APLOG_USE_MODULE(poketto);

/* a waiting request looks at the child's state at least this often */
#define SLICE apr_time_from_sec(1)
/* how long an EventSource waits before reconnecting after the stream ended */
#define RETRY_MS 2000
#define MAX_WAIT_PARAM 3600

/* The position the client resumes after: Last-Event-ID (an EventSource reconnecting
 * sends it, newer than the ?after= of its URL), else ?after=. *has 0 when neither. */
static int read_after(pk_req *pr, apr_table_t *q, apr_int64_t *after, int *has)
{
    const char *v = apr_table_get(pr->r->headers_in, "Last-Event-ID");
    const char *field = "Last-Event-ID";

    *has = 0;
    *after = 0;
    if (!v || !*v) {
        v = apr_table_get(q, "after");
        field = "after";
    }
    if (!v) {
        return OK;
    }
    if (!pk_sse_parse_id(v, after)) {
        return pk_http_problem(pr, HTTP_BAD_REQUEST, field,
                               "%s '%s' is not an event id (a whole number from 0, as the "
                               "events gave)", field, v);
    }
    *has = 1;
    return OK;
}

/* Subscribe and read the table on the request's connection, then give it back. */
static int subscribe(pk_req *pr, apr_int64_t after, int has_after, pk_bus_sub **sub)
{
    request_rec *r = pr->r;
    apr_status_t rv = pk_bus_subscribe(r->pool, pr->user_id, has_after ? after
                                                                       : PK_BUS_FROM_NOW,
                                       NULL, NULL, sub);

    if (rv == APR_EOF) {
        apr_table_setn(r->headers_out, "Retry-After", "1");
        return pk_http_problem(pr, HTTP_SERVICE_UNAVAILABLE, NULL,
                               "this server process is stopping; connect again");
    }
    if (rv != APR_SUCCESS) {
        return pk_http_problem(pr, HTTP_SERVICE_UNAVAILABLE, NULL,
                               "live events are not available: the event bus did not start "
                               "in this server process");
    }
    if (pr->db && APR_SUCCESS != (rv = pk_bus_catch_up(*sub, pr->db, r->pool))) {
        /* the bus's own thread reads it again */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, APLOGNO(10810)
                      "reading the events table for a subscriber failed");
    }
    pk_http_db_release(pr);
    return OK;
}

static void stream_headers(pk_req *pr)
{
    request_rec *r = pr->r;
    ap_filter_t *f;

    /* mod_reqtimeout would cut a long response whose client says nothing */
    for (f = r->connection->input_filters; f; f = f->next) {
        if (f->frec && f->frec->name && !strcasecmp(f->frec->name, "reqtimeout")) {
            ap_remove_input_filter(f);
            break;
        }
    }
    apr_table_setn(r->subprocess_env, "no-gzip", "1");
    apr_table_setn(r->headers_out, "Cache-Control", "private, no-cache");
    apr_table_mergen(r->headers_out, "Vary", "Authorization, Cookie");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    ap_set_content_type(r, "text/event-stream");
    r->status = HTTP_OK;
}

/* Whether the client closed the connection (or sent something, which a client of a
 * stream or a poll does not: the end of TLS, a pipelined request): a look at the socket
 * that does not wait, so that a closed stream frees its thread within a second, not at
 * the next heartbeat. Not for HTTP/2 streams, whose connection another thread reads. */
static int client_gone(request_rec *r)
{
    conn_rec *c = r->connection;
    apr_socket_t *sock;
    apr_pollfd_t pfd;
    apr_int32_t n = 0;

    if (c->aborted) {
        return 1;
    }
    if (c->master || !(sock = ap_get_conn_socket(c))) {
        return 0;
    }
    memset(&pfd, 0, sizeof(pfd));
    pfd.p = r->pool;
    pfd.desc_type = APR_POLL_SOCKET;
    pfd.desc.s = sock;
    pfd.reqevents = APR_POLLIN | APR_POLLHUP;
    return apr_poll(&pfd, 1, &n, 0) == APR_SUCCESS && n > 0;
}

/* Write and flush; 0 when the client is gone. */
static int emit(request_rec *r, const char *s, apr_size_t len)
{
    return ap_rwrite(s, (int)len, r) >= 0 && ap_rflush(r) >= 0 && !r->connection->aborted;
}

static int sse(pk_req *pr, apr_int64_t after, int has_after)
{
    request_rec *r = pr->r;
    apr_interval_time_t beat = apr_time_from_sec(pk_conf_sse_heartbeat(pr->conf));
    apr_time_t now, next_beat;
    apr_pool_t *ip = NULL;
    pk_bus_sub *sub = NULL;
    pk_bus_msg m;
    apr_status_t rv = APR_SUCCESS;
    const char *text, *why = "the client left";
    apr_size_t len;
    apr_uint64_t sent = 0;

    if (r->header_only) {
        stream_headers(pr);
        return OK;
    }
    if (DONE == subscribe(pr, after, has_after, &sub)) {
        return DONE;
    }
    stream_headers(pr);
    apr_pool_create(&ip, r->pool);
    apr_pool_tag(ip, "poketto_sse_event");
    text = apr_pstrcat(ip, pk_sse_retry(ip, RETRY_MS, &len),
                       pk_sse_comment(ip, "subscribed", &len), NULL);
    if (!emit(r, text, strlen(text))) {
        goto leave;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10811)
                  "event stream of user %" APR_INT64_T_FMT " opened after %s", pr->user_id,
                  has_after ? apr_psprintf(ip, "%" APR_INT64_T_FMT, after) : "now");
    next_beat = apr_time_now() + beat;
    while (1) {
        apr_pool_clear(ip);
        while (APR_SUCCESS == (rv = pk_bus_next(sub, ip, &m))) {
            text = pk_sse_event(ip, m.id, m.type, m.json, m.len, &len);
            if (!emit(r, text, len)) {
                goto leave;
            }
            ++sent;
            next_beat = apr_time_now() + beat;
            apr_pool_clear(ip);
        }
        if (rv == APR_EOF || pk_bus_stopping()) {
            why = "the server process stops";
            text = pk_sse_comment(ip, "the server is restarting: reconnect", &len);
            emit(r, text, len);
            break;
        }
        now = apr_time_now();
        if (now >= next_beat) {
            text = pk_sse_comment(ip, "keepalive", &len);
            if (!emit(r, text, len)) {
                goto leave;
            }
            next_beat = now + beat;
        }
        pk_bus_wait(sub, next_beat - now < SLICE ? next_beat - now : SLICE);
        if (client_gone(r)) {
            goto leave;
        }
    }
leave:
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10812)
                  "event stream of user %" APR_INT64_T_FMT " closed after %" APR_UINT64_T_FMT
                  " events: %s", pr->user_id, sent, why);
    pk_bus_unsubscribe(sub);
    return OK;
}

static int long_poll(pk_req *pr, apr_int64_t after, int has_after, apr_int64_t wait)
{
    request_rec *r = pr->r;
    apr_time_t until = apr_time_now() + apr_time_from_sec(wait), now;
    apr_array_header_t *msgs = apr_array_make(r->pool, 16, sizeof(const char *));
    pk_bus_sub *sub = NULL;
    pk_bus_msg m;
    apr_status_t rv = APR_SUCCESS;
    apr_int64_t last = 0;
    const char *body;

    if (DONE == subscribe(pr, after, has_after, &sub)) {
        return DONE;
    }
    while (1) {
        /* one queue's worth at most: the sync thread may refill it meanwhile */
        while (msgs->nelts < pk_bus_capacity(sub)
               && APR_SUCCESS == (rv = pk_bus_next(sub, r->pool, &m))) {
            APR_ARRAY_PUSH(msgs, const char *) = m.json;
        }
        now = apr_time_now();
        if (msgs->nelts > 0 || rv == APR_EOF || now >= until || pk_bus_stopping()
            || client_gone(r)) {
            break;
        }
        pk_bus_wait(sub, until - now < SLICE ? until - now : SLICE);
    }
    if (APR_SUCCESS != pk_bus_position(sub, &last)) {
        /* never learnt where "now" is: the database did not answer */
        pk_bus_unsubscribe(sub);
        return pk_http_problem(pr, HTTP_SERVICE_UNAVAILABLE, NULL,
                               "the events could not be read; try again later");
    }
    pk_bus_unsubscribe(sub);
    /* the messages as they are (the same bytes an event stream sends) */
    body = apr_psprintf(r->pool, "{\"events\":[%s],\"last\":%" APR_INT64_T_FMT "}",
                        apr_array_pstrcat(r->pool, msgs, ','), last);
    return pk_http_send(pr, HTTP_OK, body, strlen(body), NULL);
}

int pk_api_events_get(pk_req *pr, const pk_args *args)
{
    apr_table_t *q = pk_api_query(pr);
    apr_int64_t after = 0, wait = 0;
    const char *v;
    int has_after = 0;

    if (!q || DONE == read_after(pr, q, &after, &has_after)) {
        return DONE;
    }
    if (!(v = apr_table_get(q, "wait"))) {
        return sse(pr, after, has_after);
    }
    if (!pk_api_parse_int(v, 0, MAX_WAIT_PARAM, &wait)) {
        return pk_http_problem(pr, HTTP_BAD_REQUEST, "wait",
                               "parameter 'wait' must be whole seconds from 0 to %d",
                               MAX_WAIT_PARAM);
    }
    if (wait > pk_conf_poll_max_wait(pr->conf) || pr->r->header_only) {
        wait = pr->r->header_only ? 0 : pk_conf_poll_max_wait(pr->conf);
    }
    return long_poll(pr, after, has_after, wait);
}
