/* mod_poketto — a read-it-later service inside Apache httpd.
 *
 * The glue: module record, configuration record and directives, hook registration.
 * Everything else lives in src/http (requests), src/runtime (per-child services),
 * src/store (SQL) and src/core (httpd-free code).
 */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_thread_mutex.h>
#include <apr_allocator.h>
#include <curl/curl.h>
#include <libxml/parser.h>

#include "mod_poketto.h"
#include "pk_sanitize.h"
#include "pk_log.h"
#include "pk_dbd.h"
#include "pk_router.h"
#include "pk_engine.h"
#include "pk_bus.h"
#include "pk_respcache.h"
#include "pk_group.h"
#include "pk_status.h"
#include "pk_netpolicy.h"
#include "pk_wsio.h"
#include <mpm_common.h>
#include <ap_mpm.h>
#include <unistd.h>


#define DEF_MAX_BODY        (2 * 1024 * 1024)
#define DEF_MAX_URL         2048
#define DEF_MAX_PAGE        100
#define DEF_MAX_TAGS        32
#define DEF_MAX_TAG_LEN     64
#define DEF_SESSION_TTL     apr_time_from_sec(30 * 24 * 3600)
#define DEF_PASSWORD_COST   10
#define DEF_MAX_WAIT        30
#define DEF_SSE_HEARTBEAT   15
#define DEF_POLL_MAX_WAIT   60

#define DEF_RING_SLOTS      1024
#define DEF_SLOT_SIZE       4096
#define DEF_EVENT_QUEUE     64

#define DEF_FETCH_CONCURRENCY 200
#define DEF_FETCH_PER_HOST  6
#define DEF_RETRIES         3
#define DEF_RETRY_DELAY     30
#define DEF_LEASE           60
#define DEF_POLL_MS         1000
#define DEF_CONNECT_TIMEOUT 10
#define DEF_TIMEOUT         30
#define DEF_FETCH_MAX_SIZE  (10 * 1024 * 1024)
#define DEF_MAX_REDIRECTS   5
#define DEF_USER_AGENT      "Mozilla/5.0 (compatible; mod_poketto/" PK_VERSION \
                            "; +read-it-later)"
#define DEF_ACCEPT_LANGUAGE "en;q=0.9, *;q=0.5"

#define DEF_WS_MAX_MESSAGE  (64 * 1024)
#define DEF_WS_PING         30
#define DEF_WS_IO_THREADS   2
#define DEF_WS_SEND_BUFFER  (256 * 1024)
#define DEF_WS_TICKET       30

/* ---- configuration record and getters ---- */

/* The engine's settings, built in post_config, read by every child. */
static pk_engine_conf engine_conf;
/* The WebSocket settings, resolved in post_config. */
static pk_ws_conf ws_conf;
/* The event bus's, likewise. */
static pk_bus_conf bus_conf;

static apr_status_t slist_free(void *data)
{
    curl_slist_free_all(data);
    return APR_SUCCESS;
}

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    pk_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    c->auth = PK_AUTH_UNSET;
    c->max_body = -1;
    c->max_url = -1;
    c->max_page = -1;
    c->max_tags = -1;
    c->max_tag_len = -1;
    c->origins = NULL;
    c->session_ttl = -1;
    c->password_cost = -1;
    c->max_wait = -1;
    c->sse_heartbeat = -1;
    c->poll_max_wait = -1;
    return c;
}

#define MERGE(f, unset) n->f = (add->f != (unset)) ? add->f : base->f

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    pk_dir_conf *base = basev, *add = addv;
    pk_dir_conf *n = apr_pcalloc(p, sizeof(*n));

    MERGE(auth, PK_AUTH_UNSET);
    MERGE(max_body, -1);
    MERGE(max_url, -1);
    MERGE(max_page, -1);
    MERGE(max_tags, -1);
    MERGE(max_tag_len, -1);
    MERGE(origins, NULL);
    MERGE(session_ttl, -1);
    MERGE(password_cost, -1);
    MERGE(max_wait, -1);
    MERGE(sse_heartbeat, -1);
    MERGE(poll_max_wait, -1);
    return n;
}

static void *create_srv_conf(apr_pool_t *p, server_rec *s)
{
    pk_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    c->engine = -1;
    c->fetch_concurrency = -1;
    c->fetch_per_host = -1;
    c->extract_threads = -1;
    c->retries = -1;
    c->retry_delay_s = -1;
    c->lease_s = -1;
    c->poll_ms = -1;
    c->connect_timeout_s = -1;
    c->timeout_s = -1;
    c->fetch_max_size = -1;
    c->max_redirects = -1;
    c->list_cache = -1;
    c->write_group = -1;
    c->ws_mode = PK_WS_MODE_UNSET;
    c->ws_detach = -1;
    c->ws_io_threads = -1;
    c->ws_max_message = -1;
    c->ws_ping_s = -1;
    c->ws_send_buffer = -1;
    c->ws_max_per_child = -1;
    c->ws_ticket_s = -1;
    c->ring_slots = -1;
    c->slot_size = -1;
    c->event_queue = -1;
    c->event_relay_ms = PK_BUS_RELAY_AUTO;
    return c;
}

static const pk_srv_conf *srv_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &poketto_module);
}

#define DEF(v, d) ((v) < 0 ? (d) : (v))

/* PokettoVideoHosts as the NULL-terminated list pk_extract wants: NULL (the built-in
 * list) when not set; "default" stands for the built-in hosts, "none" for no host. */
static const char *const *video_hosts(apr_pool_t *pconf, const apr_array_header_t *words)
{
    apr_array_header_t *hosts;
    const char *w;
    int i, j;

    if (!words) {
        return NULL;
    }
    hosts = apr_array_make(pconf, words->nelts + 16, sizeof(const char *));
    for (i = 0; i < words->nelts; ++i) {
        w = APR_ARRAY_IDX(words, i, const char *);
        if (!strcasecmp(w, "default")) {
            for (j = 0; pk_sanitize_default_video_hosts[j]; ++j) {
                APR_ARRAY_PUSH(hosts, const char *) = pk_sanitize_default_video_hosts[j];
            }
        }
        else if (strcasecmp(w, "none")) {
            APR_ARRAY_PUSH(hosts, const char *) = w;
        }
    }
    APR_ARRAY_PUSH(hosts, const char *) = NULL;
    return (const char *const *)hosts->elts;
}

/* The engine's settings with defaults applied, and what post_config builds from them:
 * the SSRF policy and the resolve list, in pconf (they live as long as the config). */
static apr_status_t engine_conf_build(apr_pool_t *pconf, server_rec *s, pk_engine_conf *ec)
{
    const pk_srv_conf *c = srv_conf(s);
    pk_netpolicy *np = NULL;
    apr_status_t rv;
    const char *why = NULL;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int i;

    memset(ec, 0, sizeof(*ec));
    ec->enabled = DEF(c->engine, 1);
    ec->max_inflight = DEF(c->fetch_concurrency, DEF_FETCH_CONCURRENCY);
    ec->per_host = DEF(c->fetch_per_host, DEF_FETCH_PER_HOST);
    ec->extract_threads = c->extract_threads > 0 ? c->extract_threads
                                                 : (int)(cpus > 0 ? cpus : 2);
    ec->retries = DEF(c->retries, DEF_RETRIES);
    ec->retry_delay = apr_time_from_sec(DEF(c->retry_delay_s, DEF_RETRY_DELAY));
    ec->lease = apr_time_from_sec(DEF(c->lease_s, DEF_LEASE));
    ec->poll = apr_time_from_msec(DEF(c->poll_ms, DEF_POLL_MS));
    ec->fetch.connect_timeout_ms = 1000L * DEF(c->connect_timeout_s, DEF_CONNECT_TIMEOUT);
    ec->fetch.timeout_ms = 1000L * DEF(c->timeout_s, DEF_TIMEOUT);
    ec->fetch.max_size = (apr_size_t)DEF(c->fetch_max_size, DEF_FETCH_MAX_SIZE);
    ec->fetch.max_redirects = DEF(c->max_redirects, DEF_MAX_REDIRECTS);
    ec->fetch.user_agent = c->user_agent ? c->user_agent : DEF_USER_AGENT;
    ec->fetch.accept_language = c->accept_language ? c->accept_language
                                                   : DEF_ACCEPT_LANGUAGE;
    if (APR_SUCCESS != (rv = pk_netpolicy_create(pconf, &np))) {
        goto leave;
    }
    for (i = 0; c->allow && i < c->allow->nelts; ++i) {
        if (APR_SUCCESS != (rv = pk_netpolicy_allow(np, APR_ARRAY_IDX(c->allow, i, const char *),
                                                    &why))) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10712)
                         "PokettoFetchAllow: %s", why ? why : "not an address range");
            goto leave;
        }
    }
    for (i = 0; c->deny && i < c->deny->nelts; ++i) {
        if (APR_SUCCESS != (rv = pk_netpolicy_deny(np, APR_ARRAY_IDX(c->deny, i, const char *),
                                                   &why))) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10713)
                         "PokettoFetchDeny: %s", why ? why : "not an address range");
            goto leave;
        }
    }
    ec->fetch.policy = np;
    ec->extract.video_hosts = video_hosts(pconf, c->video_hosts);
    for (i = 0; c->resolve && i < c->resolve->nelts; ++i) {
        ec->fetch.resolve = curl_slist_append(ec->fetch.resolve,
                                              APR_ARRAY_IDX(c->resolve, i, const char *));
    }
    if (ec->fetch.resolve) {
        apr_pool_cleanup_register(pconf, ec->fetch.resolve, slist_free,
                                  apr_pool_cleanup_null);
    }
leave:
    return rv;
}

static void bus_conf_build(server_rec *s, pk_bus_conf *bc)
{
    const pk_srv_conf *c = srv_conf(s);

    bc->slots = (apr_uint32_t)DEF(c->ring_slots, DEF_RING_SLOTS);
    bc->slot_size = (apr_uint32_t)DEF(c->slot_size, DEF_SLOT_SIZE);
    bc->queue = DEF(c->event_queue, DEF_EVENT_QUEUE);
    bc->relay_ms = c->event_relay_ms;
}

const pk_dir_conf *pk_conf_get(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &poketto_module);
}

pk_auth_mode_e pk_conf_auth(const pk_dir_conf *c)
{
    return c->auth == PK_AUTH_UNSET ? PK_AUTH_BUILTIN : c->auth;
}

apr_off_t pk_conf_max_body(const pk_dir_conf *c)
{
    return c->max_body < 0 ? DEF_MAX_BODY : c->max_body;
}

int pk_conf_max_url(const pk_dir_conf *c)
{
    return c->max_url < 0 ? DEF_MAX_URL : c->max_url;
}

int pk_conf_max_page(const pk_dir_conf *c)
{
    return c->max_page < 0 ? DEF_MAX_PAGE : c->max_page;
}

int pk_conf_max_tags(const pk_dir_conf *c)
{
    return c->max_tags < 0 ? DEF_MAX_TAGS : c->max_tags;
}

int pk_conf_max_tag_len(const pk_dir_conf *c)
{
    return c->max_tag_len < 0 ? DEF_MAX_TAG_LEN : c->max_tag_len;
}

int pk_conf_origin_allowed(const pk_dir_conf *c, const char *origin)
{
    int i;

    for (i = 0; c->origins && i < c->origins->nelts; ++i) {
        if (!strcasecmp(APR_ARRAY_IDX(c->origins, i, const char *), origin)) {
            return 1;
        }
    }
    return 0;
}

apr_interval_time_t pk_conf_session_ttl(const pk_dir_conf *c)
{
    return c->session_ttl < 0 ? DEF_SESSION_TTL : c->session_ttl;
}

int pk_conf_password_cost(const pk_dir_conf *c)
{
    return c->password_cost < 0 ? DEF_PASSWORD_COST : c->password_cost;
}

int pk_conf_max_wait(const pk_dir_conf *c)
{
    return c->max_wait < 0 ? DEF_MAX_WAIT : c->max_wait;
}

const pk_ws_conf *pk_conf_ws(void)
{
    return &ws_conf;
}

/* The WebSocket settings with defaults applied: the mode for this MPM (auto: parked
 * under the event MPM, the only one that lets a handler suspend a connection), the cap
 * of thread mode from ThreadsPerChild. */
static void ws_conf_build(server_rec *s, pk_ws_conf *wc)
{
    const pk_srv_conf *c = srv_conf(s);
    int threads = 1, threaded = 0, async = 0;

    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded);
    if (threads < 1 || threaded == AP_MPMQ_NOT_SUPPORTED) {
        threads = 1;
    }
    memset(wc, 0, sizeof(*wc));
    ap_mpm_query(AP_MPMQ_IS_ASYNC, &async);
    wc->mode = PK_WS_MODE_THREAD;
    if (c->ws_mode == PK_WS_MODE_AUTO || c->ws_mode == PK_WS_MODE_UNSET) {
        wc->mode = async ? PK_WS_MODE_PARKED : PK_WS_MODE_THREAD;
    }
    else if (c->ws_mode == PK_WS_MODE_PARKED) {
        if (async) {
            wc->mode = PK_WS_MODE_PARKED;
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10850)
                         "PokettoWsMode parked needs the event MPM: WebSockets are held "
                         "in thread mode (each keeps a worker thread)");
        }
    }
    wc->detach = DEF(c->ws_detach, 1);
    wc->io_threads = DEF(c->ws_io_threads, DEF_WS_IO_THREADS);
    wc->max_message = (apr_size_t)DEF(c->ws_max_message, DEF_WS_MAX_MESSAGE);
    wc->ping = apr_time_from_sec(DEF(c->ws_ping_s, DEF_WS_PING));
    wc->send_buffer = (apr_size_t)DEF(c->ws_send_buffer, DEF_WS_SEND_BUFFER);
    wc->max_per_child = c->ws_max_per_child > 0 ? c->ws_max_per_child
                                                : (threads > 1 ? threads / 2 : 1);
    wc->ticket_ttl = apr_time_from_sec(DEF(c->ws_ticket_s, DEF_WS_TICKET));
    if (threaded == AP_MPMQ_NOT_SUPPORTED) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10851)
                     "prefork MPM: every open WebSocket (/api/ws) holds a whole server "
                     "process; prefer the event MPM, or point clients at the event stream "
                     "(GET /api/events, Server-Sent Events) or its long poll");
    }
}

int pk_conf_sse_heartbeat(const pk_dir_conf *c)
{
    return c->sse_heartbeat < 0 ? DEF_SSE_HEARTBEAT : c->sse_heartbeat;
}

int pk_conf_poll_max_wait(const pk_dir_conf *c)
{
    return c->poll_max_wait < 0 ? DEF_POLL_MAX_WAIT : c->poll_max_wait;
}

/* ---- directives ---- */

static const char *set_auth(cmd_parms *cmd, void *dc, const char *arg)
{
    pk_dir_conf *c = dc;

    if (!strcasecmp(arg, "builtin")) {
        c->auth = PK_AUTH_BUILTIN;
    }
    else if (!strcasecmp(arg, "httpd")) {
        c->auth = PK_AUTH_HTTPD;
    }
    else {
        return "PokettoAuth takes 'builtin' or 'httpd'";
    }
    return NULL;
}

/* A whole number within [min, max], written to the int or apr_off_t the offset names. */
static const char *set_number(cmd_parms *cmd, void *dc, const char *arg, apr_int64_t min,
                              apr_int64_t max, apr_int64_t *out)
{
    char *end = NULL;
    apr_int64_t v;

    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (errno || !end || *end || end == arg || v < min || v > max) {
        return apr_psprintf(cmd->pool, "%s takes a whole number from %" APR_INT64_T_FMT
                            " to %" APR_INT64_T_FMT ", not '%s'",
                            cmd->cmd->name, min, max, arg);
    }
    *out = v;
    return NULL;
}

typedef enum {
    N_MAX_BODY, N_MAX_URL, N_MAX_PAGE, N_MAX_TAGS, N_MAX_TAG_LEN, N_SESSION_TTL,
    N_PASSWORD_COST, N_MAX_WAIT, N_SSE_HEARTBEAT, N_POLL_MAX_WAIT
} number_e;

static const char *set_limit(cmd_parms *cmd, void *dc, const char *arg)
{
    pk_dir_conf *c = dc;
    apr_int64_t v = 0;
    const char *err = NULL;

    switch ((number_e)(long)cmd->info) {
    case N_MAX_BODY:
        if (!(err = set_number(cmd, dc, arg, 1024, APR_INT64_C(1) << 32, &v))) c->max_body = v;
        break;
    case N_MAX_URL:
        if (!(err = set_number(cmd, dc, arg, 64, 65536, &v))) c->max_url = (int)v;
        break;
    case N_MAX_PAGE:
        if (!(err = set_number(cmd, dc, arg, 1, 10000, &v))) c->max_page = (int)v;
        break;
    case N_MAX_TAGS:
        if (!(err = set_number(cmd, dc, arg, 0, 1000, &v))) c->max_tags = (int)v;
        break;
    case N_MAX_TAG_LEN:
        if (!(err = set_number(cmd, dc, arg, 1, 1000, &v))) c->max_tag_len = (int)v;
        break;
    case N_SESSION_TTL:
        if (!(err = set_number(cmd, dc, arg, 60, APR_INT64_C(10) * 365 * 24 * 3600, &v)))
            c->session_ttl = apr_time_from_sec(v);
        break;
    case N_PASSWORD_COST:
        if (!(err = set_number(cmd, dc, arg, 4, 31, &v))) c->password_cost = (int)v;
        break;
    case N_MAX_WAIT:
        if (!(err = set_number(cmd, dc, arg, 0, 600, &v))) c->max_wait = (int)v;
        break;
    case N_SSE_HEARTBEAT:
        if (!(err = set_number(cmd, dc, arg, 1, 3600, &v))) c->sse_heartbeat = (int)v;
        break;
    case N_POLL_MAX_WAIT:
        if (!(err = set_number(cmd, dc, arg, 0, 3600, &v))) c->poll_max_wait = (int)v;
        break;
    }
    return err;
}

/* Server-wide numbers: offsetof the int (or apr_off_t for PokettoFetchMaxSize) field. */
typedef struct {
    apr_size_t offset;
    apr_int64_t min, max;
    int is_off_t;
} srv_number;

static const srv_number N_CONCURRENCY = { APR_OFFSETOF(pk_srv_conf, fetch_concurrency), 1, 5000, 0 };
static const srv_number N_PER_HOST = { APR_OFFSETOF(pk_srv_conf, fetch_per_host), 1, 1000, 0 };
static const srv_number N_EXTRACT = { APR_OFFSETOF(pk_srv_conf, extract_threads), 0, 256, 0 };
static const srv_number N_RETRIES = { APR_OFFSETOF(pk_srv_conf, retries), 0, 100, 0 };
static const srv_number N_RETRY_DELAY = { APR_OFFSETOF(pk_srv_conf, retry_delay_s), 1, 86400, 0 };
static const srv_number N_LEASE = { APR_OFFSETOF(pk_srv_conf, lease_s), 5, 86400, 0 };
static const srv_number N_POLL = { APR_OFFSETOF(pk_srv_conf, poll_ms), 10, 600000, 0 };
static const srv_number N_CONNECT = { APR_OFFSETOF(pk_srv_conf, connect_timeout_s), 1, 600, 0 };
static const srv_number N_TIMEOUT = { APR_OFFSETOF(pk_srv_conf, timeout_s), 1, 3600, 0 };
static const srv_number N_FETCH_MAX = { APR_OFFSETOF(pk_srv_conf, fetch_max_size), 1024,
                                        APR_INT64_C(1) << 31, 1 };
static const srv_number N_REDIRECTS = { APR_OFFSETOF(pk_srv_conf, max_redirects), 0, 50, 0 };
static const srv_number N_LIST_CACHE = { APR_OFFSETOF(pk_srv_conf, list_cache), 0, 100000, 0 };
static const srv_number N_WRITE_GROUP = { APR_OFFSETOF(pk_srv_conf, write_group), 1, 1024, 0 };
static const srv_number N_WS_MAX_MESSAGE = { APR_OFFSETOF(pk_srv_conf, ws_max_message), 125,
                                             APR_INT64_C(1) << 30, 1 };
static const srv_number N_WS_IO_THREADS = { APR_OFFSETOF(pk_srv_conf, ws_io_threads), 1, 64,
                                            0 };
static const srv_number N_WS_PING = { APR_OFFSETOF(pk_srv_conf, ws_ping_s), 1, 86400, 0 };
static const srv_number N_WS_SEND_BUFFER = { APR_OFFSETOF(pk_srv_conf, ws_send_buffer), 4096,
                                             APR_INT64_C(1) << 30, 1 };
static const srv_number N_WS_MAX_PER_CHILD = { APR_OFFSETOF(pk_srv_conf, ws_max_per_child), 1,
                                               100000, 0 };
static const srv_number N_WS_TICKET = { APR_OFFSETOF(pk_srv_conf, ws_ticket_s), 1, 3600, 0 };
static const srv_number N_RING_SLOTS = { APR_OFFSETOF(pk_srv_conf, ring_slots), 16, 1048576, 0 };
static const srv_number N_SLOT_SIZE = { APR_OFFSETOF(pk_srv_conf, slot_size), 256, 65536, 0 };
static const srv_number N_EVENT_QUEUE = { APR_OFFSETOF(pk_srv_conf, event_queue), 4, 100000, 0 };

static const char *set_srv_number(cmd_parms *cmd, void *dc, const char *arg)
{
    const srv_number *n = cmd->info;
    pk_srv_conf *c = ap_get_module_config(cmd->server->module_config, &poketto_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_int64_t v = 0;

    if (!err && !(err = set_number(cmd, dc, arg, n->min, n->max, &v))) {
        if (n->is_off_t) {
            *(apr_off_t *)((char *)c + n->offset) = (apr_off_t)v;
        }
        else {
            *(int *)((char *)c + n->offset) = (int)v;
        }
    }
    return err;
}

/* An On|Off directive of the server's: cmd->info is the offset of its int. */
static const char *set_srv_flag(cmd_parms *cmd, void *dc, int on)
{
    pk_srv_conf *c = ap_get_module_config(cmd->server->module_config, &poketto_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (!err) {
        *(int *)((char *)c + (apr_size_t)cmd->info) = on;
    }
    return err;
}

static const char *set_ws_mode(cmd_parms *cmd, void *dc, const char *arg)
{
    pk_srv_conf *c = ap_get_module_config(cmd->server->module_config, &poketto_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        /* told as is */
    }
    else if (!strcasecmp(arg, "auto")) {
        c->ws_mode = PK_WS_MODE_AUTO;
    }
    else if (!strcasecmp(arg, "thread")) {
        c->ws_mode = PK_WS_MODE_THREAD;
    }
    else if (!strcasecmp(arg, "parked")) {
        c->ws_mode = PK_WS_MODE_PARKED;
    }
    else {
        err = "PokettoWsMode takes 'thread', 'parked' or 'auto'";
    }
    return err;
}

static const char *set_event_relay(cmd_parms *cmd, void *dc, const char *arg)
{
    pk_srv_conf *c = ap_get_module_config(cmd->server->module_config, &poketto_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_int64_t v = 0;

    if (err) {
        /* told as is */
    }
    else if (!strcasecmp(arg, "auto")) {
        c->event_relay_ms = PK_BUS_RELAY_AUTO;
    }
    else if (!strcasecmp(arg, "off")) {
        c->event_relay_ms = 0;
    }
    else if (!(err = set_number(cmd, dc, arg, 10, 60000, &v))) {
        c->event_relay_ms = (int)v;
    }
    return err;
}

static const char *set_srv_string(cmd_parms *cmd, void *dc, const char *arg)
{
    pk_srv_conf *c = ap_get_module_config(cmd->server->module_config, &poketto_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (!err) {
        *(const char **)((char *)c + (apr_size_t)cmd->info) = arg;
    }
    return err;
}

static const char *add_srv_list(cmd_parms *cmd, void *dc, const char *arg)
{
    pk_srv_conf *c = ap_get_module_config(cmd->server->module_config, &poketto_module);
    apr_array_header_t **list = (apr_array_header_t **)((char *)c + (apr_size_t)cmd->info);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (!err) {
        if (!*list) {
            *list = apr_array_make(cmd->pool, 4, sizeof(const char *));
        }
        APR_ARRAY_PUSH(*list, const char *) = arg;
    }
    return err;
}

/* PokettoFetchAllow / PokettoFetchDeny: a range is checked when the line is read, so that
 * 'apachectl configtest' names a bad one (post_config builds the policy again). */
static const char *add_cidr(cmd_parms *cmd, void *dc, const char *arg)
{
    pk_netpolicy *np = NULL;
    const char *why = NULL, *err;
    apr_status_t rv;

    if ((err = ap_check_cmd_context(cmd, GLOBAL_ONLY))) {
        return err;
    }
    if (APR_SUCCESS != (rv = pk_netpolicy_create(cmd->temp_pool, &np))) {
        return "out of memory";
    }
    rv = pk_netpolicy_allow(np, arg, &why);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s': %s", cmd->cmd->name, arg,
                            why ? why : "not an address range (CIDR)");
    }
    return add_srv_list(cmd, dc, arg);
}

static const char *add_video_host(cmd_parms *cmd, void *dc, const char *arg)
{
    pk_srv_conf *c = ap_get_module_config(cmd->server->module_config, &poketto_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *q;

    if (err) {
        return err;
    }
    for (q = arg; *q; ++q) {
        if (!apr_isalnum(*q) && *q != '.' && *q != '-') {
            return apr_psprintf(cmd->pool, "PokettoVideoHosts: '%s' is not a host name "
                                "(nor 'default' or 'none')", arg);
        }
    }
    if (!*arg || *arg == '.' || arg[strlen(arg) - 1] == '.') {
        return apr_psprintf(cmd->pool, "PokettoVideoHosts: '%s' is not a host name", arg);
    }
    if (!c->video_hosts) {
        c->video_hosts = apr_array_make(cmd->pool, 8, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->video_hosts, const char *) = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *add_origin(cmd_parms *cmd, void *dc, const char *arg)
{
    pk_dir_conf *c = dc;
    apr_size_t len = strlen(arg);

    if (strncasecmp(arg, "http://", 7) && strncasecmp(arg, "https://", 8)) {
        return apr_psprintf(cmd->pool, "PokettoAllowedOrigins: '%s' is not an origin "
                            "(scheme://host[:port])", arg);
    }
    if (!c->origins) {
        c->origins = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    /* an origin has no path: tolerate a trailing slash an admin may write */
    APR_ARRAY_PUSH(c->origins, const char *) =
        (len && arg[len - 1] == '/') ? apr_pstrndup(cmd->pool, arg, len - 1) : arg;
    return NULL;
}

static const command_rec poketto_cmds[] = {
    AP_INIT_TAKE1("PokettoAuth", set_auth, NULL, RSRC_CONF | ACCESS_CONF,
                  "Who authenticates users: 'builtin' (session cookie or API token, the "
                  "default) or 'httpd' (the user Apache's authentication established)"),
    AP_INIT_TAKE1("PokettoMaxBodySize", set_limit, (void *)N_MAX_BODY,
                  RSRC_CONF | ACCESS_CONF,
                  "Largest request body the API accepts, in bytes (default 2097152)"),
    AP_INIT_TAKE1("PokettoMaxUrlLength", set_limit, (void *)N_MAX_URL,
                  RSRC_CONF | ACCESS_CONF,
                  "Longest URL that can be saved, in bytes (default 2048)"),
    AP_INIT_TAKE1("PokettoMaxPageSize", set_limit, (void *)N_MAX_PAGE,
                  RSRC_CONF | ACCESS_CONF,
                  "Largest 'limit' of one page of GET /api/items (default 100)"),
    AP_INIT_TAKE1("PokettoMaxTags", set_limit, (void *)N_MAX_TAGS, RSRC_CONF | ACCESS_CONF,
                  "Most tags one item may carry (default 32)"),
    AP_INIT_TAKE1("PokettoMaxTagLength", set_limit, (void *)N_MAX_TAG_LEN,
                  RSRC_CONF | ACCESS_CONF,
                  "Longest tag name, in characters (default 64)"),
    AP_INIT_ITERATE("PokettoAllowedOrigins", add_origin, NULL, RSRC_CONF | ACCESS_CONF,
                    "Origins (scheme://host[:port]) whose pages may make cookie-"
                    "authenticated changes, besides the server's own"),
    AP_INIT_TAKE1("PokettoSessionLifetime", set_limit, (void *)N_SESSION_TTL,
                  RSRC_CONF | ACCESS_CONF,
                  "How long a login session lasts, in seconds (default 2592000, 30 days)"),
    AP_INIT_TAKE1("PokettoPasswordCost", set_limit, (void *)N_PASSWORD_COST,
                  RSRC_CONF | ACCESS_CONF,
                  "bcrypt cost of new password hashes, 4 to 31 (default 10)"),
    AP_INIT_TAKE1("PokettoMaxWait", set_limit, (void *)N_MAX_WAIT, RSRC_CONF | ACCESS_CONF,
                  "Longest 'Prefer: wait=N' honoured on POST /api/items, in seconds "
                  "(default 30)"),
    AP_INIT_TAKE1("PokettoSseHeartbeat", set_limit, (void *)N_SSE_HEARTBEAT,
                  RSRC_CONF | ACCESS_CONF,
                  "Seconds between heartbeat comments on an idle event stream (GET "
                  "/api/events); a closed client is noticed at the next one (default 15)"),
    AP_INIT_TAKE1("PokettoLongPollMaxWait", set_limit, (void *)N_POLL_MAX_WAIT,
                  RSRC_CONF | ACCESS_CONF,
                  "Longest 'wait' honoured by a long poll (GET /api/events?wait=N), in "
                  "seconds (default 60)"),
    AP_INIT_TAKE1("PokettoEventRingSlots", set_srv_number, (void *)&N_RING_SLOTS, RSRC_CONF,
                  "Events the shared-memory ring of the event bus holds; a child that "
                  "falls further behind reads the events table (default 1024)"),
    AP_INIT_TAKE1("PokettoEventSlotSize", set_srv_number, (void *)&N_SLOT_SIZE, RSRC_CONF,
                  "Bytes of one slot of the event ring, 64 of them its header; a larger "
                  "message is read from the events table (default 4096)"),
    AP_INIT_TAKE1("PokettoEventQueue", set_srv_number, (void *)&N_EVENT_QUEUE, RSRC_CONF,
                  "Messages queued for one live-event subscriber; one that falls further "
                  "behind is fed from the events table (default 64)"),
    AP_INIT_TAKE1("PokettoEventRelay", set_event_relay, NULL, RSRC_CONF,
                  "How often (ms, 10-60000) each child reads the events table for events "
                  "other hosts committed, 'off', or 'auto' (default: 500 with pgsql, off "
                  "with sqlite3)"),
    AP_INIT_TAKE1("PokettoListCache", set_srv_number, (void *)&N_LIST_CACHE, RSRC_CONF,
                  "Rendered item listings each child keeps, valid for one version of a "
                  "user's items (default 512; 0: none)"),
    AP_INIT_TAKE1("PokettoWriteGroup", set_srv_number, (void *)&N_WRITE_GROUP, RSRC_CONF,
                  "How many saves waiting in one child may share a transaction (group "
                  "commit; default 32, 1: each its own)"),
    AP_INIT_TAKE1("PokettoWsMode", set_ws_mode, NULL, RSRC_CONF,
                  "How an open WebSocket is held: 'thread' (its request's worker), "
                  "'parked' (the child's I/O threads, event MPM) or 'auto' (default)"),
    AP_INIT_FLAG("PokettoWsDetach", set_srv_flag, (void *)APR_OFFSETOF(pk_srv_conf, ws_detach),
                 RSRC_CONF,
                 "Parked mode: a WebSocket on a connection without TLS (no filter but the "
                 "core's) is held on a socket of the I/O thread's own and httpd lets go of "
                 "the connection, request and pools (default On)"),
    AP_INIT_TAKE1("PokettoWsIoThreads", set_srv_number, (void *)&N_WS_IO_THREADS, RSRC_CONF,
                  "Parked mode: I/O threads per child; new WebSockets are dealt to them in "
                  "turn, and an event is written to their connections in parallel "
                  "(default 2)"),
    AP_INIT_TAKE1("PokettoWsMaxMessage", set_srv_number, (void *)&N_WS_MAX_MESSAGE, RSRC_CONF,
                  "Largest message a WebSocket client may send, in bytes; a larger one "
                  "closes with 1009 (default 65536)"),
    AP_INIT_TAKE1("PokettoWsPingInterval", set_srv_number, (void *)&N_WS_PING, RSRC_CONF,
                  "Seconds between the server's pings; a client that has not answered by "
                  "the next one is dropped (default 30)"),
    AP_INIT_TAKE1("PokettoWsSendBuffer", set_srv_number, (void *)&N_WS_SEND_BUFFER, RSRC_CONF,
                  "Bytes queued for a WebSocket client that does not read before it is "
                  "dropped (default 262144)"),
    AP_INIT_TAKE1("PokettoWsMaxPerChild", set_srv_number, (void *)&N_WS_MAX_PER_CHILD,
                  RSRC_CONF, "WebSockets one child holds at once in thread mode; more get "
                  "503 (default half of ThreadsPerChild, 1 under prefork)"),
    AP_INIT_TAKE1("PokettoWsTicketLifetime", set_srv_number, (void *)&N_WS_TICKET, RSRC_CONF,
                  "Seconds a ticket of POST /api/ws-ticket may be used in (default 30)"),
    AP_INIT_FLAG("PokettoEngine", set_srv_flag, (void *)APR_OFFSETOF(pk_srv_conf, engine),
                 RSRC_CONF,
                 "Run the task engine (fetch and extraction threads) in this server's "
                 "children (default On)"),
    AP_INIT_TAKE1("PokettoFetchConcurrency", set_srv_number, (void *)&N_CONCURRENCY, RSRC_CONF,
                  "Tasks one child holds at once, most of them transfers in flight "
                  "(default 200)"),
    AP_INIT_TAKE1("PokettoFetchPerHost", set_srv_number, (void *)&N_PER_HOST, RSRC_CONF,
                  "Transfers one child runs at once to the same host; further pages of "
                  "that host wait their turn, their time-out not yet running (default 6)"),
    AP_INIT_TAKE1("PokettoExtractThreads", set_srv_number, (void *)&N_EXTRACT, RSRC_CONF,
                  "Extraction threads per child (default 0: one per CPU)"),
    AP_INIT_TAKE1("PokettoTaskRetries", set_srv_number, (void *)&N_RETRIES, RSRC_CONF,
                  "Attempts after the first before a page that keeps failing is given up "
                  "(default 3)"),
    AP_INIT_TAKE1("PokettoTaskRetryDelay", set_srv_number, (void *)&N_RETRY_DELAY, RSRC_CONF,
                  "Seconds before the first retry; each further retry waits twice as long "
                  "(default 30)"),
    AP_INIT_TAKE1("PokettoTaskLease", set_srv_number, (void *)&N_LEASE, RSRC_CONF,
                  "Seconds a worker holds a task without renewing it; a task of a dead "
                  "child runs again after this (default 60)"),
    AP_INIT_TAKE1("PokettoQueuePoll", set_srv_number, (void *)&N_POLL, RSRC_CONF,
                  "Milliseconds between looks at the queue for tasks other children or "
                  "hosts queued, and for retries that fell due (default 1000)"),
    AP_INIT_TAKE1("PokettoFetchConnectTimeout", set_srv_number, (void *)&N_CONNECT, RSRC_CONF,
                  "Seconds to connect to a page's server (default 10)"),
    AP_INIT_TAKE1("PokettoFetchTimeout", set_srv_number, (void *)&N_TIMEOUT, RSRC_CONF,
                  "Seconds for a whole fetch, redirects included (default 30)"),
    AP_INIT_TAKE1("PokettoFetchMaxSize", set_srv_number, (void *)&N_FETCH_MAX, RSRC_CONF,
                  "Largest page, in bytes after decompression; a larger one is aborted "
                  "(default 10485760)"),
    AP_INIT_TAKE1("PokettoFetchMaxRedirects", set_srv_number, (void *)&N_REDIRECTS, RSRC_CONF,
                  "Most redirects one fetch follows (default 5)"),
    AP_INIT_TAKE1("PokettoFetchUserAgent", set_srv_string,
                  (void *)APR_OFFSETOF(pk_srv_conf, user_agent), RSRC_CONF,
                  "User-Agent of page fetches"),
    AP_INIT_TAKE1("PokettoFetchAcceptLanguage", set_srv_string,
                  (void *)APR_OFFSETOF(pk_srv_conf, accept_language), RSRC_CONF,
                  "Accept-Language of page fetches (default 'en;q=0.9, *;q=0.5')"),
    AP_INIT_ITERATE("PokettoFetchAllow", add_cidr, (void *)APR_OFFSETOF(pk_srv_conf, allow),
                    RSRC_CONF, "Address ranges (CIDR) fetches may connect to although "
                    "the built-in policy refuses them (loopback, private, ...)"),
    AP_INIT_ITERATE("PokettoFetchDeny", add_cidr, (void *)APR_OFFSETOF(pk_srv_conf, deny),
                    RSRC_CONF, "Address ranges (CIDR) fetches must never connect to"),
    AP_INIT_ITERATE("PokettoVideoHosts", add_video_host, NULL, RSRC_CONF,
                    "Hosts whose https iframes (embedded players) are kept in saved "
                    "articles, with their subdomains; 'default' adds the built-in list "
                    "(YouTube, Vimeo, ...), 'none' keeps no iframe"),
    AP_INIT_ITERATE("PokettoFetchResolve", add_srv_list,
                    (void *)APR_OFFSETOF(pk_srv_conf, resolve), RSRC_CONF,
                    "host:port:address entries that override DNS for fetches, as curl's "
                    "--resolve (split-horizon names, tests)"),
    { NULL }
};

/* ---- logging bridge for the httpd-free layers ---- */

static server_rec *log_server;

static void log_sink(void *baton, const char *file, int line, int level, apr_status_t rv,
                     const char *msg)
{
    ap_log_error_(file, line, APLOG_MODULE_INDEX, level, rv, log_server, "%s", msg);
}

static int log_enabled(void *baton, int level)
{
    return APLOG_IS_LEVEL(log_server, level);
}

/* ---- hooks ---- */

static int poketto_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    static int curl_ready;

    if (!curl_ready) {
        /* once per process, while it is still single-threaded */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            ap_log_perror(APLOG_MARK, APLOG_CRIT, 0, plog, APLOGNO(10710)
                          "curl_global_init failed");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        /* libxml2 likewise: left to the first parse, its dictionary's global mutex is
         * created by whichever extraction threads race for it, and they deadlock (seen
         * as children that never stop) */
        xmlInitParser();
        curl_ready = 1;
    }
    pk_dbd_pre_config(pconf);
    pk_bus_pre_config(pconf);
    return OK;
}

static int poketto_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s)
{
    log_server = s;
    pk_log_set(log_sink, log_enabled, NULL);
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;                  /* the first, dry pass over the configuration */
    }
    bus_conf_build(s, &bus_conf);
    if (APR_SUCCESS != pk_dbd_post_config(pconf, ptemp, s)
        || APR_SUCCESS != engine_conf_build(pconf, s, &engine_conf)
        || APR_SUCCESS != pk_bus_post_config(pconf, s, &bus_conf)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ws_conf_build(s, &ws_conf);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, APLOGNO(10711)
                 "mod_poketto %s ready", PK_VERSION);
    return OK;
}

#define DEF_LIST_CACHE 512
#define DEF_WRITE_GROUP 32

/* prefork gives the child's pool (and ptrans, r->pool, mod_dbd's connection pools under
 * it) an allocator without a mutex: it has one thread. This module runs more (the
 * engine's fetch and extraction threads, the bus's, the WebSocket I/O threads), and
 * mod_dbd makes and frees connection pools under pchild from whichever thread acquires
 * one: unguarded, those race the request thread. The mutex lives in pconf, which
 * outlasts pchild and its allocator (the allocator still locks it while pchild is being
 * destroyed). */
static void guard_child_allocator(apr_pool_t *pchild, server_rec *s)
{
    apr_allocator_t *alloc = apr_pool_allocator_get(pchild);
    apr_thread_mutex_t *mutex = NULL;
    apr_status_t rv;

    if (alloc && !apr_allocator_mutex_get(alloc)) {
        rv = apr_thread_mutex_create(&mutex, APR_THREAD_MUTEX_DEFAULT, s->process->pconf);
        if (rv == APR_SUCCESS) {
            apr_allocator_mutex_set(alloc, mutex);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10719)
                         "cannot guard the child's allocator for the module's threads");
        }
    }
}

/* Before mod_dbd's child_init opens its first connections, and before any thread. */
static void poketto_child_init_db(apr_pool_t *pchild, server_rec *s)
{
    guard_child_allocator(pchild, s);
    pk_dbd_child_init(pchild, s);
}

static void poketto_child_init(apr_pool_t *pchild, server_rec *s)
{
    pk_respcache_child_init(pchild, DEF(srv_conf(s)->list_cache, DEF_LIST_CACHE));
    pk_group_set_limit(DEF(srv_conf(s)->write_group, DEF_WRITE_GROUP));
    /* the bus first: the engine's threads publish the events they commit */
    pk_bus_child_init(pchild, s);
    pk_engine_child_init(pchild, s, &engine_conf);
    if (ws_conf.mode == PK_WS_MODE_PARKED) {
        /* thread mode in this child when they cannot start */
        pk_wsio_child_init(pchild, s, ws_conf.io_threads);
    }
}

/* The event MPM let go of a connection whose handler returned SUSPENDED: a parked
 * WebSocket goes to its I/O thread now, the worker being done with it. */
static void poketto_suspend_connection(conn_rec *c, request_rec *r)
{
    pk_wsio_park(c);
}

static void poketto_child_stopping(apr_pool_t *pchild, int graceful)
{
    pk_engine_child_stopping();
    pk_bus_child_stopping();
}

/* The API's URIs name no file: a request that `SetHandler poketto` (in a <Location>,
 * already walked when this runs) will serve gets r->filename "poketto:" + URI, and
 * map_to_storage leaves it there instead of walking the document root for it (a stat
 * per path segment and an .htaccess open per directory, on every API request). */
#define API_FILENAME "poketto:"

static int poketto_translate_name(request_rec *r)
{
    core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    const char *err = NULL, *handler;

    if (!d->expr_handler || r->proxyreq) {
        return DECLINED;
    }
    handler = ap_expr_str_exec(r, d->expr_handler, &err);
    if (err || !handler || strcmp(handler, "poketto")) {
        return DECLINED;
    }
    r->filename = apr_pstrcat(r->pool, API_FILENAME, r->uri, NULL);
    return OK;
}

static int poketto_map_to_storage(request_rec *r)
{
    if (r->filename && !strncmp(r->filename, API_FILENAME, sizeof(API_FILENAME) - 1)) {
        return OK;
    }
    return DECLINED;
}

static int poketto_handler(request_rec *r)
{
    if (!r->handler || strcmp(r->handler, "poketto")) {
        return DECLINED;
    }
    return pk_router_handle(r);
}

static void poketto_register_hooks(apr_pool_t *p)
{
    static const char *const before_dbd[] = { "mod_dbd.c", NULL };

    /* curl's global state and mod_dbd's functions, before any configuration is used */
    ap_hook_pre_config(poketto_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* migrate the schema and register our statements before mod_dbd groups its
     * configuration and before any child opens a connection */
    ap_hook_post_config(poketto_post_config, NULL, before_dbd, APR_HOOK_MIDDLE);
    /* every connection mod_dbd opens gets the settings the store relies on */
    pk_dbd_register_hooks();
    /* an SQLite connection of the child's own before mod_dbd opens its pool */
    ap_hook_child_init(poketto_child_init_db, NULL, before_dbd, APR_HOOK_MIDDLE);
    /* each child runs its own task engine: threads start here, after the fork */
    ap_hook_child_init(poketto_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* a graceful restart or stop: claim nothing new, hand unfinished tasks back, end
     * the event streams */
    ap_hook_child_stopping(poketto_child_stopping, NULL, NULL, APR_HOOK_MIDDLE);
    /* parked WebSockets: taken over once the worker that suspended them is done */
    ap_hook_suspend_connection(poketto_suspend_connection, NULL, NULL, APR_HOOK_REALLY_LAST);
    /* queue depth, transfers and outcomes on the server-status page */
    pk_status_register_hooks();
    /* an API URI is not a file: no document-root walk for it (as mod_proxy does) */
    ap_hook_translate_name(poketto_translate_name, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_map_to_storage(poketto_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    /* the JSON API, wherever `SetHandler poketto` mounts it */
    ap_hook_handler(poketto_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(poketto) = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_srv_conf,
    NULL,
    poketto_cmds,
    poketto_register_hooks
};
