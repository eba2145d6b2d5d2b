/* mod_poketto — a read-it-later service inside Apache httpd.
 *
 * Shared configuration types of the glue (mod_poketto.c) and the http layer. The
 * configuration is a typed record; values left unset are -1 (or NULL) until merged,
 * and the pk_conf_* getters apply the documented defaults, so no caller repeats them.
 */
#ifndef MOD_POKETTO_H
#define MOD_POKETTO_H

#include <httpd.h>
#include <http_config.h>
#include <apr_tables.h>

#define PK_VERSION "0.1.0"

typedef enum {
    PK_AUTH_UNSET = -1,
    PK_AUTH_BUILTIN = 0,            /* session cookie or Bearer token */
    PK_AUTH_HTTPD = 1               /* r->user from Apache's authentication */
} pk_auth_mode_e;

/** Per-directory configuration (<Location> where `SetHandler poketto` is). */
typedef struct pk_dir_conf {
    pk_auth_mode_e auth;            /* PokettoAuth */
    apr_off_t max_body;             /* PokettoMaxBodySize */
    int max_url;                    /* PokettoMaxUrlLength */
    int max_page;                   /* PokettoMaxPageSize */
    int max_tags;                   /* PokettoMaxTags */
    int max_tag_len;                /* PokettoMaxTagLength */
    apr_array_header_t *origins;    /* PokettoAllowedOrigins (const char*) */
    apr_interval_time_t session_ttl;/* PokettoSessionLifetime */
    int password_cost;              /* PokettoPasswordCost */
    int max_wait;                   /* PokettoMaxWait, seconds */
    int sse_heartbeat;              /* PokettoSseHeartbeat, seconds */
    int poll_max_wait;              /* PokettoLongPollMaxWait, seconds */
} pk_dir_conf;

/** Server configuration: the task engine and its fetches (global context only: one
 *  engine per child serves every virtual host). */
typedef struct pk_srv_conf {
    int engine;                     /* PokettoEngine On|Off */
    int fetch_concurrency;          /* PokettoFetchConcurrency */
    int fetch_per_host;             /* PokettoFetchPerHost */
    int extract_threads;            /* PokettoExtractThreads (0: one per CPU) */
    int retries;                    /* PokettoTaskRetries */
    int retry_delay_s;              /* PokettoTaskRetryDelay */
    int lease_s;                    /* PokettoTaskLease */
    int poll_ms;                    /* PokettoQueuePoll */
    int connect_timeout_s;          /* PokettoFetchConnectTimeout */
    int timeout_s;                  /* PokettoFetchTimeout */
    apr_off_t fetch_max_size;       /* PokettoFetchMaxSize */
    int max_redirects;              /* PokettoFetchMaxRedirects */
    const char *user_agent;         /* PokettoFetchUserAgent */
    const char *accept_language;    /* PokettoFetchAcceptLanguage */
    apr_array_header_t *allow;      /* PokettoFetchAllow (const char* CIDR) */
    apr_array_header_t *video_hosts;/* PokettoVideoHosts (const char*; "default", "none") */
    apr_array_header_t *deny;       /* PokettoFetchDeny */
    apr_array_header_t *resolve;    /* PokettoFetchResolve (host:port:address) */
    int list_cache;                 /* PokettoListCache: entries per child */
    int write_group;                /* PokettoWriteGroup: SQLite writes per transaction */
    int ws_mode;                    /* PokettoWsMode (pk_ws_mode_e) */
    int ws_detach;                  /* PokettoWsDetach (-1 unset) */
    int ws_io_threads;              /* PokettoWsIoThreads */
    apr_off_t ws_max_message;       /* PokettoWsMaxMessage */
    int ws_ping_s;                  /* PokettoWsPingInterval */
    apr_off_t ws_send_buffer;       /* PokettoWsSendBuffer */
    int ws_max_per_child;           /* PokettoWsMaxPerChild (0: derived) */
    int ws_ticket_s;                /* PokettoWsTicketLifetime */
    int ring_slots;                 /* PokettoEventRingSlots */
    int slot_size;                  /* PokettoEventSlotSize */
    int event_queue;                /* PokettoEventQueue */
    int event_relay_ms;             /* PokettoEventRelay: -2 auto, 0 off, else ms */
} pk_srv_conf;

/** How an open WebSocket is held (PokettoWsMode). */
typedef enum {
    PK_WS_MODE_UNSET = -1,
    PK_WS_MODE_AUTO = 0,            /* parked under the event MPM, thread otherwise */
    PK_WS_MODE_THREAD = 1,          /* the request's worker thread holds it */
    PK_WS_MODE_PARKED = 2           /* a per-child I/O thread holds it (event MPM) */
} pk_ws_mode_e;

/** The WebSocket settings with defaults applied, as post_config resolved them. */
typedef struct pk_ws_conf {
    pk_ws_mode_e mode;              /* THREAD or PARKED: never AUTO */
    int detach;                     /* parked: plain connections leave httpd's hands */
    int io_threads;                 /* parked: I/O threads per child */
    apr_size_t max_message;         /* bytes of one client message */
    apr_interval_time_t ping;       /* between server pings; a pong is due within one */
    apr_size_t send_buffer;         /* bytes queued for a client before it is dropped */
    int max_per_child;              /* thread-mode WebSockets one child holds at once */
    apr_interval_time_t ticket_ttl; /* lifetime of a ticket of POST /ws-ticket */
} pk_ws_conf;

extern module AP_MODULE_DECLARE_DATA poketto_module;

/** The merged configuration for a request. */
const pk_dir_conf *pk_conf_get(request_rec *r);

pk_auth_mode_e pk_conf_auth(const pk_dir_conf *c);
apr_off_t pk_conf_max_body(const pk_dir_conf *c);
int pk_conf_max_url(const pk_dir_conf *c);
int pk_conf_max_page(const pk_dir_conf *c);
int pk_conf_max_tags(const pk_dir_conf *c);
int pk_conf_max_tag_len(const pk_dir_conf *c);
/** Whether origin (scheme://host[:port]) is listed in PokettoAllowedOrigins. */
int pk_conf_origin_allowed(const pk_dir_conf *c, const char *origin);
apr_interval_time_t pk_conf_session_ttl(const pk_dir_conf *c);
int pk_conf_password_cost(const pk_dir_conf *c);
int pk_conf_max_wait(const pk_dir_conf *c);
int pk_conf_sse_heartbeat(const pk_dir_conf *c);
int pk_conf_poll_max_wait(const pk_dir_conf *c);

/** The WebSocket settings (global: one set for every virtual host). */
const pk_ws_conf *pk_conf_ws(void);

#endif /* MOD_POKETTO_H */
