/* mod_poketto — live events over a WebSocket: GET /ws (the opening handshake of RFC
 * 6455) and POST /ws-ticket (a short-lived, single-use ticket for browsers, which
 * cannot set headers on a WebSocket).
 *
 * Who may open one: `Authorization: Bearer TOKEN` (non-browser clients), the session
 * cookie, PokettoAuth httpd's user, or ?ticket=T. A browser sends Origin with every
 * WebSocket and sends cookies along whatever page opened it, so for everything but a
 * bearer token an Origin that is neither the server's own nor listed in
 * PokettoAllowedOrigins is refused (403): another site's page cannot use a visitor's
 * session. Refusals are problem+json (400, 401, 403, 426, 503).
 *
 * After the 101 the request and connection filters are joined (r's filters are c's, so
 * nothing of HTTP is written after the WebSocket), mod_reqtimeout's filter is removed,
 * and the connection is held (src/runtime/pk_wsconn.h): in thread mode by the request's
 * thread, which returns when the WebSocket closed (httpd then closes the connection); in
 * parked mode (event MPM) the handler returns SUSPENDED and the child's I/O thread
 * (src/runtime/pk_wsio.h) takes it over, and ends the request and the connection. A
 * parked connection without TLS is detached instead (PokettoWsDetach): the I/O thread
 * takes a duplicate of its socket and the handler returns, so httpd ends the request
 * (its access log line is written as the WebSocket opens, with status 101) and the
 * connection at once.
 */
#include <httpd.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_core.h>
#include <http_log.h>
#include <util_filter.h>
#include <util_script.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "pk_ws.h"
#include "pk_secret.h"
#include "pk_json.h"
#include "pk_tickets.h"
#include "pk_auth.h"
#include "pk_api.h"
#include "pk_wsconn.h"
#include "pk_wsio.h"

APLOG_USE_MODULE(poketto);

#define PK_TICKET_PREFIX "pwt_"

/* Whether the comma-separated header value list holds token (case-insensitive). */
static int has_token(apr_pool_t *p, const char *list, const char *token)
{
    char *copy, *item, *state = NULL;

    if (!list) {
        return 0;
    }
    copy = apr_pstrdup(p, list);
    for (item = apr_strtok(copy, ",", &state); item; item = apr_strtok(NULL, ",", &state)) {
        while (apr_isspace(*item)) {
            ++item;
        }
        apr_collapse_spaces(item, item);
        if (!strcasecmp(item, token)) {
            return 1;
        }
    }
    return 0;
}

/* The server's own origin as a browser would write it: scheme://host[:port]. */
static int origin_ok(pk_req *pr, const char *origin)
{
    request_rec *r = pr->r;
    const char *host = apr_table_get(r->headers_in, "Host");
    const char *own = host ? apr_pstrcat(r->pool, ap_http_scheme(r), "://", host, NULL) : NULL;

    return (own && !strcasecmp(origin, own)) || pk_conf_origin_allowed(pr->conf, origin);
}

/* The ticket of ?ticket=, or NULL. */
static const char *ticket_param(request_rec *r)
{
    apr_table_t *q = NULL;
    const char *t;

    if (!r->args) {
        return NULL;
    }
    ap_args_to_table(r, &q);
    t = q ? apr_table_get(q, "ticket") : NULL;
    return t && *t ? t : NULL;
}

/* The handshake's own checks, before anyone is looked up. */
static int check_handshake(pk_req *pr, const char **key)
{
    request_rec *r = pr->r;
    const char *version = apr_table_get(r->headers_in, "Sec-WebSocket-Version");

    *key = apr_table_get(r->headers_in, "Sec-WebSocket-Key");
    if (r->connection->master) {
        return pk_http_problem(pr, HTTP_BAD_REQUEST, NULL,
                               "WebSocket over HTTP/2 is not supported: connect with "
                               "HTTP/1.1");
    }
    if (r->proto_num < HTTP_VERSION(1, 1) || r->header_only) {
        return pk_http_problem(pr, HTTP_BAD_REQUEST, NULL,
                               "a WebSocket handshake is a GET request of HTTP/1.1");
    }
    if (!has_token(r->pool, apr_table_get(r->headers_in, "Upgrade"), "websocket")) {
        apr_table_setn(r->headers_out, "Upgrade", "websocket");
        apr_table_setn(r->headers_out, "Connection", "Upgrade");
        return pk_http_problem(pr, HTTP_UPGRADE_REQUIRED, NULL,
                               "%s is a WebSocket: send 'Upgrade: websocket' and "
                               "'Connection: Upgrade' (live events without WebSocket: "
                               "GET %s)", r->uri, pk_http_url(pr, "/events"));
    }
    if (!has_token(r->pool, apr_table_get(r->headers_in, "Connection"), "upgrade")) {
        return pk_http_problem(pr, HTTP_BAD_REQUEST, NULL,
                               "the Connection header must hold the token 'Upgrade'");
    }
    if (!version || strcmp(version, "13")) {
        apr_table_setn(r->headers_out, "Sec-WebSocket-Version", "13");
        return pk_http_problem(pr, HTTP_UPGRADE_REQUIRED, NULL,
                               "Sec-WebSocket-Version %s is not supported: this server "
                               "speaks version 13 (RFC 6455)", version ? version : "(none)");
    }
    if (*key) {
        while (apr_isspace(**key)) {
            ++*key;
        }
        *key = apr_pstrdup(r->pool, *key);
        apr_collapse_spaces((char *)*key, *key);
    }
    if (!pk_ws_key_valid(*key)) {
        return pk_http_problem(pr, HTTP_BAD_REQUEST, NULL,
                               "Sec-WebSocket-Key must be the base64 encoding of 16 bytes");
    }
    return OK;
}

/* Who opens the WebSocket: pr->user_id. The database connection is the request's own
 * (the route's OWN_DB), given back before the WebSocket opens: the request lives as
 * long as the WebSocket. */
static int identify(pk_req *pr)
{
    request_rec *r = pr->r;
    const char *authz = apr_table_get(r->headers_in, "Authorization");
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *ticket = ticket_param(r);
    int bearer = authz && !strncasecmp(authz, "Bearer ", 7);
    apr_status_t rv;
    int ret = OK;

    if (!bearer && origin && !origin_ok(pr, origin)) {
        return pk_http_problem(pr, HTTP_FORBIDDEN, NULL,
                               "cross-site WebSocket refused: origin %s is not allowed "
                               "(PokettoAllowedOrigins)", origin);
    }
    if (!pk_http_db(pr)) {
        return DONE;
    }
    if (ticket && !bearer) {
        rv = pk_ticket_consume(pr->db, r->pool, pk_secret_hash(r->pool, ticket), &pr->user_id);
        if (rv == APR_NOTFOUND) {
            ret = pk_http_problem(pr, HTTP_UNAUTHORIZED, "ticket",
                                  "the ticket is not valid: unknown, already used or "
                                  "expired (get one from POST %s)",
                                  pk_http_url(pr, "/ws-ticket"));
        }
        else if (rv != APR_SUCCESS) {
            ret = pk_http_store_failed(pr, rv, "ticket");
        }
    }
    else {
        ret = pk_auth_identify(pr);
    }
    pk_http_db_release(pr);
    return ret;
}

int pk_api_ws_open(pk_req *pr, const pk_args *args)
{
    request_rec *r = pr->r;
    conn_rec *c = r->connection;
    const pk_ws_conf *conf = pk_conf_ws();
    const char *key = NULL;
    pk_wsconn *ws = NULL;
    apr_status_t rv;
    int slot = 0, parked = conf->mode == PK_WS_MODE_PARKED && pk_wsio_running();
    pk_wsconn_hold hold = !parked ? PK_WSCONN_THREAD
                          : conf->detach && pk_wsconn_detachable(c) ? PK_WSCONN_DETACHED
                          : PK_WSCONN_PARKED;
    int ret = OK;

    if (DONE == check_handshake(pr, &key) || DONE == identify(pr)) {
        goto leave;
    }
    if (!parked && !(slot = pk_wsconn_slot_take(conf))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, APLOGNO(10861)
                      "WebSocket refused: this child holds %d already "
                      "(PokettoWsMaxPerChild)", conf->max_per_child);
        apr_table_setn(r->headers_out, "Retry-After", "5");
        pk_http_problem(pr, HTTP_SERVICE_UNAVAILABLE, NULL,
                        "too many WebSockets on this server process; try again later or "
                        "use GET %s", pk_http_url(pr, "/events"));
        goto leave;
    }
    if (APR_SUCCESS != (rv = pk_wsconn_create(c, r, pr->user_id, conf, hold, &ws))) {
        ap_log_rerror(APLOG_MARK, rv == APR_EOF ? APLOG_DEBUG : APLOG_ERR, rv, r,
                      APLOGNO(10862) "WebSocket of user %" APR_INT64_T_FMT " not opened",
                      pr->user_id);
        apr_table_setn(r->headers_out, "Retry-After", "1");
        pk_http_problem(pr, HTTP_SERVICE_UNAVAILABLE, NULL, rv == APR_EOF
                        ? "this server process is stopping; connect again"
                        : "live events are not available in this server process");
        goto leave;
    }
    /* 101, written through the connection's filters (TLS included) */
    apr_table_clear(r->headers_out);
    apr_table_setn(r->headers_out, "Upgrade", "websocket");
    apr_table_setn(r->headers_out, "Connection", "Upgrade");
    apr_table_setn(r->headers_out, "Sec-WebSocket-Accept", pk_ws_accept_key(r->pool, key));
    r->status = HTTP_SWITCHING_PROTOCOLS;
    r->status_line = ap_get_status_line(HTTP_SWITCHING_PROTOCOLS);
    ap_send_interim_response(r, 1);
    /* the connection is the WebSocket's now: no HTTP after it, no request time-outs */
    c->keepalive = AP_CONN_CLOSE;
    ap_remove_input_filter_byhandle(c->input_filters, "reqtimeout");
    r->output_filters = r->proto_output_filters = c->output_filters;
    r->input_filters = r->proto_input_filters = c->input_filters;
    if (c->aborted) {
        pk_wsconn_destroy(ws);
        goto leave;
    }
    if (hold == PK_WSCONN_DETACHED) {
        if (APR_SUCCESS != (rv = pk_wsconn_detach(ws))) {
            ap_log_rerror(APLOG_MARK, APR_STATUS_IS_EMFILE(rv) || APR_STATUS_IS_ENFILE(rv)
                                      ? APLOG_ERR : APLOG_INFO, rv, r,
                          APLOGNO(10866) "WebSocket of user %" APR_INT64_T_FMT
                          " not detached: closed", pr->user_id);
            pk_wsconn_destroy(ws);
            c->aborted = 1;
            goto leave;
        }
        pk_wsio_hand(ws);           /* ws is the I/O thread's now; c goes with httpd */
        goto leave;
    }
    if (parked) {
        /* the MPM lets go of the connection; its suspend_connection hook hands it to
         * the I/O thread, which ends the request and the connection when it closes */
        pk_wsio_note(c, ws);
        ret = SUSPENDED;
        goto leave;
    }
    pk_wsconn_run(ws);
leave:
    if (slot) {
        pk_wsconn_slot_put();
    }
    return ret;
}

int pk_api_ws_ticket(pk_req *pr, const pk_args *args)
{
    request_rec *r = pr->r;
    const pk_ws_conf *conf = pk_conf_ws();
    const char *ticket = NULL;
    apr_int64_t expires_ms;
    apr_status_t rv;
    json_t *body;

    if (APR_SUCCESS != (rv = pk_secret_token(r->pool, PK_TICKET_PREFIX, 32, &ticket))) {
        return pk_http_problem(pr, HTTP_INTERNAL_SERVER_ERROR, NULL,
                               "no random bytes for a ticket");
    }
    if (!pk_http_db(pr)) {
        return DONE;
    }
    expires_ms = pk_db_now_ms() + apr_time_as_msec(conf->ticket_ttl);
    if (APR_SUCCESS != (rv = pk_ticket_create(pr->db, r->pool, pr->user_id,
                                              pk_secret_hash(r->pool, ticket), expires_ms))) {
        return pk_http_store_failed(pr, rv, "ticket");
    }
    body = pk_json_own(r->pool, json_pack("{s:s, s:o, s:s}", "ticket", ticket, "expires",
                     pk_http_time(pr, expires_ms), "url",
                     apr_pstrcat(r->pool, pk_http_url(pr, "/ws"), "?ticket=", ticket, NULL)));
    return pk_http_json(pr, HTTP_OK, body, 0);
}
