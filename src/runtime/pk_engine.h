/* mod_poketto — the task engine of one child process (runtime layer).
 *
 * One fetch thread per child owns a libcurl multi handle: it claims tasks from the
 * database under a lease, runs hundreds of transfers at once, renews the leases, and
 * hands each finished transfer to a small pool of extraction threads, which turn the
 * page into an article and complete the task in one transaction. Request threads only
 * queue tasks and wake the fetch thread; they never fetch or extract.
 */
#ifndef PK_ENGINE_H
#define PK_ENGINE_H

#include <httpd.h>
#include "pk_fetch.h"
#include "pk_extract.h"

typedef struct pk_engine_conf {
    int enabled;                    /* PokettoEngine */
    int max_inflight;               /* PokettoFetchConcurrency: tasks held per child */
    int per_host;                   /* PokettoFetchPerHost: transfers per host at once */
    int extract_threads;            /* PokettoExtractThreads */
    int retries;                    /* PokettoTaskRetries: attempts after the first */
    apr_interval_time_t retry_delay;/* PokettoTaskRetryDelay: first backoff, then doubled */
    apr_interval_time_t lease;      /* PokettoTaskLease */
    apr_interval_time_t poll;       /* PokettoQueuePoll: look for others' tasks this often */
    pk_fetch_opts fetch;            /* limits of each transfer, the SSRF policy */
    pk_extract_opts extract;        /* PokettoVideoHosts */
} pk_engine_conf;

/** Start this child's engine (child_init): the fetch thread and the extraction pool,
 *  in a subpool of pchild; a pre-cleanup of pchild stops them, hands unfinished tasks
 *  back to the queue and frees everything. */
apr_status_t pk_engine_child_init(apr_pool_t *pchild, server_rec *s,
                                  const pk_engine_conf *conf);

/** The child is stopping (graceful restart or stop): claim nothing new. */
void pk_engine_child_stopping(void);

/** A task was queued by this child: claim it now rather than at the next poll. */
void pk_engine_notify(void);

/** Wait until a task of this child finishes or until `until` (at most a short slice,
 *  so that callers re-check tasks other children finish). */
void pk_engine_wait(apr_time_t until);

/** Counters for mod_status, of this child. */
typedef struct pk_engine_stats {
    int running;                    /* the engine runs in this child */
    int fetching;                   /* transfers in flight */
    int waiting;                    /* pages waiting for a connection to their host */
    int extracting;                 /* pages queued for or in extraction */
    apr_uint64_t claimed, done, failed, retried, lost;
    apr_hash_t *outcomes;           /* outcome name -> apr_uint64_t* */
} pk_engine_stats;

/** A copy of this child's counters (from p). */
void pk_engine_stats_get(apr_pool_t *p, pk_engine_stats *st);

#endif /* PK_ENGINE_H */
