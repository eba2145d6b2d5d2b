/* mod_poketto — the task engine of one child process; see pk_engine.h.
 *
 * Threads and what they touch:
 *   fetch thread   the multi handle, the easy handles in it, claiming and lease renewal,
 *                  the hosts and their queues of transfers waiting for a connection;
 *   extract pool   one job at a time each: charset, extraction, the completing transaction;
 *   any thread     pk_engine_notify (curl_multi_wakeup is thread-safe), the counters and
 *                  the set of active jobs (under the engine mutex).
 * Pools: the engine's pool has an allocator of its own (pk_threads.h: under prefork the
 * child's has no mutex, and the threads make and free memory), which keeps at most
 * MaxMemFree of freed blocks; each job has a subpool of it, created when its task is
 * claimed and destroyed when the task is completed, retried or handed back, so a child
 * that runs for weeks does not grow. A host's record
 * lives from the first job to that host until its last one ends, then waits on a free
 * list for the next host: at most one record per task held, reused.
 *
 * Per host, at most PokettoFetchPerHost transfers run at once; the others wait here, not
 * inside libcurl, so that their PokettoFetchTimeout starts only when their transfer does.
 * A child claims while it has room, but keeps at most CLAIM_BATCH tasks waiting for a
 * host: the rest stays in the queue for the other children.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <mpm_common.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>
#include <apr_thread_pool.h>
#include <apr_atomic.h>
#include <apr_escape.h>
#include <unistd.h>

#include "mod_poketto.h"
#include "pk_log.h"
#include "pk_charset.h"
#include "pk_url.h"
#include "pk_extract.h"
#include "pk_tasks.h"
#include "pk_dbd.h"
#include "pk_threads.h"
#include "pk_engine.h"

APLOG_USE_MODULE(poketto);

#define CLAIM_BATCH 32
#define WAIT_SLICE apr_time_from_msec(250)

typedef struct job job;
typedef struct host_slot host_slot;

/* One host the fetch thread has transfers for (fetch thread only). */
struct host_slot {
    host_slot *next_free;
    job *head, *tail;               /* waiting for a connection, oldest first */
    int running;                    /* transfers in the multi handle */
    int jobs;                       /* running + waiting */
    char name[256];
};

typedef enum {
    JOB_WAITING,                    /* in its host's queue; no transfer yet */
    JOB_FETCHING,                   /* its transfer runs in the multi handle */
    JOB_EXTRACTING                  /* queued for or in the extraction pool */
} job_state_e;

typedef struct engine {
    server_rec *s;
    apr_pool_t *pool;
    const pk_engine_conf *conf;
    CURLM *multi;
    apr_thread_t *fetcher;
    apr_thread_pool_t *extractors;
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *done_cond;
    apr_hash_t *active;             /* task id -> job, every job not finished yet */
    apr_hash_t *hosts;              /* host name -> host_slot (fetch thread only) */
    host_slot *free_hosts;
    volatile apr_uint32_t stopping;
    volatile apr_uint32_t wake;
    char owner[96];                 /* who holds our leases: host, pid, start time */
    int fetching, waiting, extracting;
    apr_uint64_t claimed, done, failed, retried, lost;
    apr_hash_t *outcomes;
} engine;

struct job {
    apr_pool_t *pool;               /* the job's lifetime: claim to completion */
    engine *eng;
    pk_claim claim;
    pk_fetch *fetch;                /* NULL when the client sent the page */
    job_state_e state;
    host_slot *host;                /* while waiting or fetching */
    job *next_waiting;
    pk_fetch_outcome_e outcome;
    const char *error;
};

static engine *the_engine;

/* ---- jobs ---- */

static job *job_create(engine *eng, const pk_claim *c)
{
    apr_pool_t *p = NULL;
    job *j;

    /* a subpool of the engine's: its blocks come from (and go back to) the engine's
     * locked allocator, which keeps up to MaxMemFree of them for the next jobs. A pool
     * with an allocator of its own would map every block when the job starts and unmap
     * it when the job ends: with other threads of the process on other CPUs, each unmap
     * is a TLB shoot-down (measured: a third of the extraction threads' time) */
    if (APR_SUCCESS != apr_pool_create(&p, eng->pool)) {
        return NULL;
    }
    apr_pool_tag(p, "poketto_job");
    j = apr_pcalloc(p, sizeof(*j));
    j->pool = p;
    j->eng = eng;
    j->claim = *c;
    j->claim.url = apr_pstrdup(p, c->url);
    j->claim.input_html = c->input_html ? apr_pstrdup(p, c->input_html) : NULL;
    return j;
}

static void count_outcome(engine *eng, const char *name)
{
    apr_uint64_t *n = apr_hash_get(eng->outcomes, name, APR_HASH_KEY_STRING);

    if (!n) {
        n = apr_pcalloc(eng->pool, sizeof(*n));
        apr_hash_set(eng->outcomes, apr_pstrdup(eng->pool, name), APR_HASH_KEY_STRING, n);
    }
    ++*n;
}

/* The job is over: forget it, free it, tell waiters and the fetcher (a slot is free). */
static void job_finished(job *j)
{
    engine *eng = j->eng;

    apr_thread_mutex_lock(eng->mutex);
    apr_hash_set(eng->active, &j->claim.task_id, sizeof(j->claim.task_id), NULL);
    --eng->extracting;
    apr_thread_cond_broadcast(eng->done_cond);
    apr_thread_mutex_unlock(eng->mutex);
    apr_pool_destroy(j->pool);
    pk_engine_notify();
}

/* ---- extraction pool: turn a page into an article and complete the task ---- */

static apr_int64_t backoff_ms(const engine *eng, int attempts)
{
    apr_int64_t ms = apr_time_as_msec(eng->conf->retry_delay);
    int i;

    for (i = 1; i < attempts && ms < APR_INT64_C(3600000); ++i) {
        ms *= 2;
    }
    return ms;
}

static void record(job *j, pk_db *db, const pk_task_result *res)
{
    engine *eng = j->eng;
    const char *owner = eng->owner;
    apr_int64_t event_id = 0;
    apr_status_t rv;
    const char *what;

    if (res) {
        rv = pk_task_complete(db, j->pool, &j->claim, owner, res, &event_id);
        what = "done";
    }
    else if (j->outcome == PK_FETCH_RETRY && j->claim.attempts <= eng->conf->retries) {
        rv = pk_task_retry(db, j->pool, &j->claim, owner,
                           pk_db_now_ms() + backoff_ms(eng, j->claim.attempts), j->error);
        what = "retry";
    }
    else {
        rv = pk_task_fail(db, j->pool, &j->claim, owner, j->error, &event_id);
        what = "failed";
    }
    apr_thread_mutex_lock(eng->mutex);
    if (rv == APR_NOTFOUND) {
        ++eng->lost;                /* the lease had passed to another worker */
    }
    else if (rv == APR_SUCCESS) {
        if (!strcmp(what, "done")) ++eng->done;
        else if (!strcmp(what, "retry")) ++eng->retried;
        else ++eng->failed;
    }
    apr_thread_mutex_unlock(eng->mutex);
    ap_log_error(APLOG_MARK, rv == APR_SUCCESS ? APLOG_DEBUG : APLOG_WARNING, rv, eng->s,
                 APLOGNO(10740) "task %" APR_INT64_T_FMT " (item %" APR_INT64_T_FMT
                 ", attempt %d): %s%s%s%s", j->claim.task_id, j->claim.item_id,
                 j->claim.attempts, what, j->error ? " (" : "", j->error ? j->error : "",
                 j->error ? ")" : "");
}

/* The article of the page, or NULL with j->error / j->outcome set. */
static pk_task_result *extract(job *j)
{
    pk_task_result *res = apr_pcalloc(j->pool, sizeof(*res));
    const char *bytes, *html = NULL, *used = NULL;
    apr_size_t len = 0, hlen = 0;
    pk_doc_kind_e kind = PK_DOC_HTML;
    pk_article *a = NULL;
    apr_status_t rv;

    res->final_url = j->claim.url;
    res->content_type = "text/html";
    if (j->claim.input_html) {
        html = j->claim.input_html;     /* came as JSON: already UTF-8 */
        hlen = strlen(html);
    }
    else {
        bytes = pk_fetch_body(j->fetch, &len);
        kind = pk_fetch_kind(j->fetch);
        res->final_url = pk_fetch_final_url(j->fetch);
        res->content_type = pk_fetch_media_type(j->fetch);
        if (kind == PK_DOC_PDF) {
            res->content_type = "application/pdf";
            return res;                 /* kept as a link: no text to extract from a PDF yet */
        }
        rv = pk_charset_to_utf8(j->pool, bytes, len, pk_fetch_charset(j->fetch), &html,
                                &hlen, &used);
        if (rv != APR_SUCCESS) {
            j->outcome = PK_FETCH_FAIL;
            j->error = "the page's text could not be decoded";
            return NULL;
        }
    }
    if (kind == PK_DOC_TEXT) {
        res->text = html;
        res->html = apr_pstrcat(j->pool, "<pre>", apr_pescape_entity(j->pool, html, 0),
                                "</pre>", NULL);
        res->word_count = (int)pk_extract_word_count(html);
        return res;
    }
    rv = pk_extract(j->pool, html, hlen, res->final_url, &j->eng->conf->extract, &a);
    if (rv != APR_SUCCESS || !a) {
        j->outcome = PK_FETCH_FAIL;
        j->error = "no article could be found in the page";
        return NULL;
    }
    res->title = a->title;
    res->excerpt = a->excerpt;
    res->byline = a->byline;
    res->site_name = a->site_name;
    res->published = a->published;
    res->lang = a->lang;
    res->dir = a->dir;
    res->lead_image = a->lead_image;
    res->word_count = (int)a->word_count;
    res->text = a->text;
    res->html = a->html;
    return res;
}

static void *APR_THREAD_FUNC extract_job(apr_thread_t *thread, void *baton)
{
    job *j = baton;
    pk_task_result *res = NULL;
    pk_db *db;

    if (thread) {                   /* a thread of the pool (not the fetch thread's fallback) */
        pk_threads_name("pk-extract");
    }
    if (j->outcome == PK_FETCH_OK) {
        res = extract(j);
    }
    if ((db = pk_dbd_open(j->pool, j->eng->s))) {
        record(j, db, res);
        pk_dbd_close(j->eng->s, db);
    }
    else {
        /* nothing written: the lease runs out and the task runs again */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, j->eng->s, APLOGNO(10741)
                     "task %" APR_INT64_T_FMT ": no database to record the result; it "
                     "will run again when its lease expires", j->claim.task_id);
    }
    job_finished(j);
    return NULL;
}

static void to_extraction(engine *eng, job *j)
{
    j->state = JOB_EXTRACTING;
    apr_thread_mutex_lock(eng->mutex);
    ++eng->extracting;
    apr_thread_mutex_unlock(eng->mutex);
    if (APR_SUCCESS != apr_thread_pool_push(eng->extractors, extract_job, j,
                                            APR_THREAD_TASK_PRIORITY_NORMAL, eng)) {
        extract_job(NULL, j);       /* cannot queue: do it here rather than lose it */
    }
}

/* ---- fetch thread ---- */

static host_slot *host_get(engine *eng, const char *name)
{
    host_slot *h = apr_hash_get(eng->hosts, name, APR_HASH_KEY_STRING);

    if (!h) {
        if ((h = eng->free_hosts)) {
            eng->free_hosts = h->next_free;
        }
        else {
            h = apr_palloc(eng->pool, sizeof(*h));
        }
        memset(h, 0, sizeof(*h));
        apr_cpystrn(h->name, name, sizeof(h->name));
        apr_hash_set(eng->hosts, h->name, APR_HASH_KEY_STRING, h);
    }
    return h;
}

/* The job's transfer joins the multi handle: its time-out starts now. */
static int transfer_begin(engine *eng, job *j)
{
    if (CURLM_OK != curl_multi_add_handle(eng->multi, pk_fetch_handle(j->fetch))) {
        return 0;
    }
    j->state = JOB_FETCHING;
    ++j->host->running;
    apr_thread_mutex_lock(eng->mutex);
    ++eng->fetching;
    apr_thread_mutex_unlock(eng->mutex);
    return 1;
}

static void cannot_fetch(engine *eng, job *j)
{
    j->outcome = PK_FETCH_FAIL;
    j->error = "the URL cannot be fetched";
    to_extraction(eng, j);
}

/* Start the host's waiting transfers while it has room; forget the host when no job of
 * this child needs it any more. */
static void host_run(engine *eng, host_slot *h)
{
    job *j;

    while (h->running < eng->conf->per_host && (j = h->head)) {
        if (!(h->head = j->next_waiting)) {
            h->tail = NULL;
        }
        j->next_waiting = NULL;
        apr_thread_mutex_lock(eng->mutex);
        --eng->waiting;
        apr_thread_mutex_unlock(eng->mutex);
        if (!transfer_begin(eng, j)) {
            --h->jobs;
            j->host = NULL;
            cannot_fetch(eng, j);
        }
    }
    if (h->jobs == 0) {
        apr_hash_set(eng->hosts, h->name, APR_HASH_KEY_STRING, NULL);
        h->next_free = eng->free_hosts;
        eng->free_hosts = h;
    }
}

static void start_job(engine *eng, const pk_claim *c)
{
    job *j = job_create(eng, c);
    const char *name;
    host_slot *h;

    if (!j) {
        return;                     /* no memory: the lease expires, it runs again */
    }
    apr_thread_mutex_lock(eng->mutex);
    apr_hash_set(eng->active, &j->claim.task_id, sizeof(j->claim.task_id), j);
    ++eng->claimed;
    apr_thread_mutex_unlock(eng->mutex);
    if (j->claim.attempts > 1 + eng->conf->retries) {
        /* its lease ran out every time: the worker died on it (a handed-back task does
         * not count). Give it up rather than take down one child after another. */
        j->outcome = PK_FETCH_FAIL;
        j->error = apr_psprintf(j->pool, "the server stopped while working on it, %d times",
                                j->claim.attempts - 1);
        to_extraction(eng, j);
        return;
    }
    if (j->claim.input_html) {
        j->outcome = PK_FETCH_OK;   /* the client sent the page: nothing to fetch */
        to_extraction(eng, j);
        return;
    }
    if (APR_SUCCESS != pk_fetch_create(j->pool, &eng->conf->fetch, j->claim.url, j,
                                       &j->fetch)) {
        cannot_fetch(eng, j);
        return;
    }
    name = pk_url_host(j->pool, j->claim.url);
    h = host_get(eng, name ? name : "");
    ++h->jobs;
    j->host = h;
    j->state = JOB_WAITING;
    if (h->tail) {
        h->tail->next_waiting = j;
    }
    else {
        h->head = j;
    }
    h->tail = j;
    apr_thread_mutex_lock(eng->mutex);
    ++eng->waiting;
    apr_thread_mutex_unlock(eng->mutex);
    host_run(eng, h);
}

static int claim(engine *eng, apr_pool_t *p, int want)
{
    apr_array_header_t *claims = NULL;
    apr_time_t lease = apr_time_now() + eng->conf->lease;
    pk_db *db = pk_dbd_open(p, eng->s);
    int i, n = 0;

    if (!db) {
        return 0;
    }
    if (APR_SUCCESS == pk_task_claim(db, p, eng->owner, want, apr_time_as_msec(lease),
                                     &claims)) {
        for (i = 0; i < claims->nelts; ++i) {
            start_job(eng, APR_ARRAY_IDX(claims, i, pk_claim *));
        }
        n = claims->nelts;
    }
    pk_dbd_close(eng->s, db);
    return n;
}

static void renew_leases(engine *eng, apr_pool_t *p)
{
    apr_array_header_t *ids = apr_array_make(p, 64, sizeof(apr_int64_t));
    apr_int64_t until = apr_time_as_msec(apr_time_now() + eng->conf->lease);
    apr_hash_index_t *hi;
    pk_db *db;
    int i;

    apr_thread_mutex_lock(eng->mutex);
    for (hi = apr_hash_first(p, eng->active); hi; hi = apr_hash_next(hi)) {
        APR_ARRAY_PUSH(ids, apr_int64_t) = ((job *)apr_hash_this_val(hi))->claim.task_id;
    }
    apr_thread_mutex_unlock(eng->mutex);
    if (ids->nelts == 0 || !(db = pk_dbd_open(p, eng->s))) {
        return;
    }
    for (i = 0; i < ids->nelts; ++i) {
        pk_task_renew(db, p, APR_ARRAY_IDX(ids, i, apr_int64_t), eng->owner, until);
    }
    pk_dbd_close(eng->s, db);
}

static void transfers_done(engine *eng)
{
    CURLMsg *msg;
    pk_fetch *f;
    host_slot *h;
    int left = 0;
    job *j;

    while ((msg = curl_multi_info_read(eng->multi, &left))) {
        if (msg->msg != CURLMSG_DONE || !(f = pk_fetch_of(msg->easy_handle))) {
            continue;
        }
        j = pk_fetch_baton(f);
        curl_multi_remove_handle(eng->multi, msg->easy_handle);
        j->outcome = pk_fetch_finish(f, msg->data.result, &j->error);
        apr_thread_mutex_lock(eng->mutex);
        --eng->fetching;
        count_outcome(eng, pk_fetch_outcome_name(f));
        apr_thread_mutex_unlock(eng->mutex);
        h = j->host;
        --h->running;
        --h->jobs;
        j->host = NULL;
        to_extraction(eng, j);      /* (j may be gone after this) */
        host_run(eng, h);
    }
}

/* Hand back every task still being fetched or waiting for its host: another worker takes
 * it at once. Jobs already with the extraction pool finish there. */
static void release_fetching(engine *eng, apr_pool_t *p)
{
    apr_array_header_t *gone = apr_array_make(p, 16, sizeof(job *));
    apr_hash_index_t *hi;
    pk_db *db;
    job *j;
    int i;

    apr_thread_mutex_lock(eng->mutex);
    for (hi = apr_hash_first(p, eng->active); hi; hi = apr_hash_next(hi)) {
        j = apr_hash_this_val(hi);
        if (j->state != JOB_EXTRACTING) {
            APR_ARRAY_PUSH(gone, job *) = j;
        }
    }
    for (i = 0; i < gone->nelts; ++i) {
        j = APR_ARRAY_IDX(gone, i, job *);
        apr_hash_set(eng->active, &j->claim.task_id, sizeof(j->claim.task_id), NULL);
        if (j->state == JOB_FETCHING) {
            --eng->fetching;
        }
        else {
            --eng->waiting;
        }
    }
    apr_thread_mutex_unlock(eng->mutex);
    apr_hash_clear(eng->hosts);     /* the jobs go: so do their hosts' queues */
    if (gone->nelts == 0) {
        return;
    }
    db = pk_dbd_open(p, eng->s);
    for (i = 0; i < gone->nelts; ++i) {
        j = APR_ARRAY_IDX(gone, i, job *);
        if (j->state == JOB_FETCHING) {
            curl_multi_remove_handle(eng->multi, pk_fetch_handle(j->fetch));
        }
        if (db) {
            pk_task_release(db, p, j->claim.task_id, eng->owner);
        }
        apr_pool_destroy(j->pool);
    }
    if (db) {
        pk_dbd_close(eng->s, db);
    }
}

static void *APR_THREAD_FUNC fetch_loop(apr_thread_t *thread, void *baton)
{
    engine *eng = baton;
    apr_time_t now, next_claim = 0, next_renew = 0, wait;
    apr_pool_t *ip = NULL;
    int running = 0, n, want;

    pk_threads_name("pk-fetch");
    apr_pool_create(&ip, eng->pool);
    apr_pool_tag(ip, "poketto_fetch_iteration");
    while (!apr_atomic_read32(&eng->stopping)) {
        apr_pool_clear(ip);
        now = apr_time_now();
        if (apr_atomic_xchg32(&eng->wake, 0)) {
            next_claim = now;
        }
        apr_thread_mutex_lock(eng->mutex);
        want = eng->conf->max_inflight - (int)apr_hash_count(eng->active);
        if (want > CLAIM_BATCH - eng->waiting) {
            want = CLAIM_BATCH - eng->waiting;  /* the busy hosts' pages: others take them */
        }
        apr_thread_mutex_unlock(eng->mutex);
        if (want > 0 && now >= next_claim) {
            n = claim(eng, ip, want);
            next_claim = (n == want) ? now : now + eng->conf->poll;
        }
        if (now >= next_renew) {
            renew_leases(eng, ip);
            next_renew = now + eng->conf->lease / 3;
        }
        curl_multi_perform(eng->multi, &running);
        transfers_done(eng);
        now = apr_time_now();
        wait = (next_claim < next_renew ? next_claim : next_renew) - now;
        if (wait > apr_time_from_sec(1)) {
            wait = apr_time_from_sec(1);
        }
        if (wait > 0 && !apr_atomic_read32(&eng->wake)) {
            curl_multi_poll(eng->multi, NULL, 0, (int)apr_time_as_msec(wait) + 1, NULL);
        }
    }
    release_fetching(eng, ip);
    apr_pool_destroy(ip);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* ---- life cycle ---- */

static apr_status_t engine_stop(void *data)
{
    engine *eng = data;
    apr_status_t trv;
    apr_hash_index_t *hi;
    apr_array_header_t *left;
    apr_pool_t *p = NULL;
    pk_db *db;
    job *j;
    int i;

    apr_atomic_set32(&eng->stopping, 1);
    if (eng->multi) {
        curl_multi_wakeup(eng->multi);
    }
    if (eng->fetcher) {
        apr_thread_join(&trv, eng->fetcher);
        eng->fetcher = NULL;
    }
    if (eng->extractors) {
        /* waits for the jobs being extracted; jobs still queued stay in `active` */
        apr_thread_pool_destroy(eng->extractors);
        eng->extractors = NULL;
    }
    /* what is left never reached an extraction thread: hand it back. The set is emptied
     * before the jobs' pools go, since its keys live in them. */
    apr_pool_create(&p, eng->pool);
    left = apr_array_make(p, 16, sizeof(job *));
    for (hi = apr_hash_first(p, eng->active); hi; hi = apr_hash_next(hi)) {
        APR_ARRAY_PUSH(left, job *) = apr_hash_this_val(hi);
    }
    apr_hash_clear(eng->active);
    db = left->nelts ? pk_dbd_open(p, eng->s) : NULL;
    for (i = 0; i < left->nelts; ++i) {
        j = APR_ARRAY_IDX(left, i, job *);
        if (db) {
            pk_task_release(db, p, j->claim.task_id, eng->owner);
        }
        apr_pool_destroy(j->pool);
    }
    if (db) {
        pk_dbd_close(eng->s, db);
    }
    apr_pool_destroy(p);
    if (eng->multi) {
        curl_multi_cleanup(eng->multi);
        eng->multi = NULL;
    }
    the_engine = NULL;
    apr_pool_destroy(eng->pool);    /* eng itself is in it */
    return APR_SUCCESS;
}

apr_status_t pk_engine_child_init(apr_pool_t *pchild, server_rec *s,
                                  const pk_engine_conf *conf)
{
    apr_status_t rv = APR_SUCCESS;
    engine *eng;
    apr_pool_t *p = NULL;
    char host[64] = "";
    int threads;

    if (!conf->enabled) {
        goto leave;
    }
    /* not a subpool of pchild: the engine's threads make and free memory of it */
    if (APR_SUCCESS != (rv = pk_threads_pool(&p, "poketto_engine"))) {
        goto leave;
    }
    /* the jobs' blocks: kept for the next jobs up to what httpd keeps per thread */
    apr_allocator_max_free_set(apr_pool_allocator_get(p), ap_max_mem_free);
    eng = apr_pcalloc(p, sizeof(*eng));
    eng->s = s;
    eng->pool = p;
    eng->conf = conf;
    eng->active = apr_hash_make(p);
    eng->outcomes = apr_hash_make(p);
    eng->hosts = apr_hash_make(p);
    gethostname(host, sizeof(host) - 1);
    apr_snprintf(eng->owner, sizeof(eng->owner), "%s:%ld:%" APR_TIME_T_FMT, host,
                 (long)getpid(), apr_time_now());
    threads = conf->extract_threads > 0 ? conf->extract_threads : 2;
    if (!(eng->multi = curl_multi_init())) {
        rv = APR_ENOMEM;
        goto leave;
    }
    curl_multi_setopt(eng->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conf->max_inflight);
    /* the engine keeps to conf->per_host itself; this also holds for redirects */
    curl_multi_setopt(eng->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conf->per_host);
    if (APR_SUCCESS != (rv = apr_thread_mutex_create(&eng->mutex, APR_THREAD_MUTEX_DEFAULT, p))
        || APR_SUCCESS != (rv = apr_thread_cond_create(&eng->done_cond, p))
        || APR_SUCCESS != (rv = apr_thread_pool_create(&eng->extractors, 1, threads, p))) {
        goto leave;
    }
    /* stop before mod_dbd's pools go: the threads still record results on the way out */
    apr_pool_pre_cleanup_register(pchild, eng, engine_stop);
    the_engine = eng;
    if (APR_SUCCESS != (rv = apr_thread_create(&eng->fetcher, NULL, fetch_loop, eng, p))) {
        goto leave;
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(10742)
                 "task engine started: %d transfers, %d extraction threads, owner %s",
                 conf->max_inflight, threads, eng->owner);
leave:
    if (rv != APR_SUCCESS && p && !the_engine) {
        apr_pool_destroy(p);        /* not handed to engine_stop yet */
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10743)
                     "the task engine could not start in this child; saved pages wait "
                     "for another child");
    }
    return rv;
}

void pk_engine_child_stopping(void)
{
    engine *eng = the_engine;

    if (eng) {
        apr_atomic_set32(&eng->stopping, 1);
        curl_multi_wakeup(eng->multi);
    }
}

void pk_engine_notify(void)
{
    engine *eng = the_engine;

    if (eng && eng->multi) {
        apr_atomic_set32(&eng->wake, 1);
        curl_multi_wakeup(eng->multi);
    }
}

void pk_engine_wait(apr_time_t until)
{
    engine *eng = the_engine;
    apr_interval_time_t slice = until - apr_time_now();

    if (slice <= 0) {
        return;
    }
    if (slice > WAIT_SLICE) {
        slice = WAIT_SLICE;
    }
    if (!eng) {
        apr_sleep(slice);           /* no engine here: another child works, re-check */
        return;
    }
    apr_thread_mutex_lock(eng->mutex);
    apr_thread_cond_timedwait(eng->done_cond, eng->mutex, slice);
    apr_thread_mutex_unlock(eng->mutex);
}

void pk_engine_stats_get(apr_pool_t *p, pk_engine_stats *st)
{
    engine *eng = the_engine;
    apr_hash_index_t *hi;
    apr_uint64_t *n;

    memset(st, 0, sizeof(*st));
    st->outcomes = apr_hash_make(p);
    if (!eng) {
        return;
    }
    apr_thread_mutex_lock(eng->mutex);
    st->running = 1;
    st->fetching = eng->fetching;
    st->waiting = eng->waiting;
    st->extracting = eng->extracting;
    st->claimed = eng->claimed;
    st->done = eng->done;
    st->failed = eng->failed;
    st->retried = eng->retried;
    st->lost = eng->lost;
    for (hi = apr_hash_first(p, eng->outcomes); hi; hi = apr_hash_next(hi)) {
        n = apr_palloc(p, sizeof(*n));
        *n = *(apr_uint64_t *)apr_hash_this_val(hi);
        apr_hash_set(st->outcomes, apr_pstrdup(p, apr_hash_this_key(hi)),
                     APR_HASH_KEY_STRING, n);
    }
    apr_thread_mutex_unlock(eng->mutex);
}
