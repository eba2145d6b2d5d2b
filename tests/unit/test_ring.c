/* test_ring.c - unit tests of pk_ring.c and pk_futex.c: the shared-memory event ring
 * (TAP). The multi-process cases fork writers over an anonymous apr_shm, as httpd's
 * children share the ring, with an apr_proc_mutex serialising them; the parent reads.
 * The wake-up latency across processes is measured and printed as a TAP comment.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_proc_mutex.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "pk_test.h"
#include "pk_futex.h"
#include "pk_ring.h"

#define I64 "%" APR_INT64_T_FMT

typedef struct {
    apr_shm_t *shm;
    pk_ring *ring;
    apr_proc_mutex_t *mutex;
} shared_ring;

static int make_ring(apr_pool_t *p, apr_uint32_t nslots, apr_uint32_t slot_size,
                     shared_ring *sr)
{
    apr_size_t size = pk_ring_bytes(nslots, slot_size);

    memset(sr, 0, sizeof(*sr));
    return apr_shm_create(&sr->shm, size, NULL, p) == APR_SUCCESS
           && pk_ring_format(apr_shm_baseaddr_get(sr->shm), size, nslots, slot_size)
              == APR_SUCCESS
           && pk_ring_attach(p, apr_shm_baseaddr_get(sr->shm), size, &sr->ring) == APR_SUCCESS
           && apr_proc_mutex_create(&sr->mutex, NULL, APR_LOCK_DEFAULT, p) == APR_SUCCESS;
}

static void put(shared_ring *sr, apr_int64_t user, apr_int64_t id, apr_int64_t seq,
                const char *type, const char *data, apr_size_t len)
{
    pk_ring_rec rec;

    memset(&rec, 0, sizeof(rec));
    rec.user_id = user;
    rec.event_id = id;
    rec.seq = seq;
    rec.type = type;
    rec.data = data;
    rec.len = len;
    apr_proc_mutex_lock(sr->mutex);
    pk_ring_put(sr->ring, &rec);
    apr_proc_mutex_unlock(sr->mutex);
    pk_ring_wake(sr->ring);
}

static void test_layout(apr_pool_t *parent)
{
    apr_pool_t *p;
    char *mem;
    pk_ring *ring = NULL;
    apr_size_t size = pk_ring_bytes(16, 200);

    apr_pool_create(&p, parent);
    mem = apr_pcalloc(p, size + 64);
    PK_TEST_OK(size >= 16 * 256, "layout: slots rounded up to 64 bytes");
    PK_TEST_INT(pk_ring_attach(p, mem, size, &ring), APR_EINVAL, "layout: no ring in zeroes");
    PK_TEST_OK(ring == NULL, "layout: no handle");
    PK_TEST_INT(pk_ring_format(mem + 1, size, 16, 200), APR_EINVAL, "layout: unaligned");
    PK_TEST_INT(pk_ring_format(mem, size - 1, 16, 200), APR_EINVAL, "layout: too small");
    PK_TEST_INT(pk_ring_format(mem, size, 0, 200), APR_EINVAL, "layout: no slots");
    PK_TEST_INT(pk_ring_format(mem, size, 16, 64), APR_EINVAL, "layout: no room for data");
    PK_TEST_INT(pk_ring_format(mem, size, 16, 200), APR_SUCCESS, "layout: format");
    PK_TEST_INT(pk_ring_attach(p, mem, size - 1, &ring), APR_EINVAL,
                "layout: attach with a short size");
    PK_TEST_INT(pk_ring_attach(p, mem, size, &ring), APR_SUCCESS, "layout: attach");
    PK_TEST_INT(ring ? pk_ring_nslots(ring) : 0, 16, "layout: 16 slots");
    PK_TEST_INT(ring ? pk_ring_payload_max(ring) : 0, 256 - PK_RING_SLOT_HEADER,
                "layout: payload of a slot");
    PK_TEST_INT(ring ? pk_ring_head(ring) : 1, 0, "layout: empty");
    apr_pool_destroy(p);
}

static void test_basics(apr_pool_t *parent)
{
    apr_pool_t *p;
    shared_ring sr;
    pk_ring_rec rec;
    char buf[4096], big[500];
    apr_uint64_t n_put = 0, n_table = 0;
    apr_time_t t0;
    int i, ok;

    apr_pool_create(&p, parent);
    if (!make_ring(p, 8, 256, &sr)) {
        PK_TEST_OK(0, "basics: ring");
        apr_pool_destroy(p);
        return;
    }
    PK_TEST_INT(pk_ring_read(sr.ring, 0, &rec, buf, sizeof(buf)), APR_EAGAIN,
                "basics: nothing written yet");
    put(&sr, 5, 100, 1, "item.saved", "{\"a\":1}", 7);
    put(&sr, 6, 101, 9, "a.type.longer.than.twenty-three.bytes", "xyz", 3);
    memset(big, 'b', sizeof(big));
    put(&sr, 5, 102, 2, "item.ready", big, sizeof(big));
    PK_TEST_INT(pk_ring_head(sr.ring), 3, "basics: head 3");
    PK_TEST_INT(pk_ring_read(sr.ring, 0, &rec, buf, sizeof(buf)), APR_SUCCESS, "basics: read 0");
    PK_TEST_OK(rec.user_id == 5 && rec.event_id == 100 && rec.seq == 1 && !rec.in_table,
               "basics: its fields");
    PK_TEST_STR(rec.type, "item.saved", "basics: its type");
    PK_TEST_OK(rec.len == 7 && !memcmp(rec.data, "{\"a\":1}", 7), "basics: its message");
    PK_TEST_INT(pk_ring_read(sr.ring, 0, &rec, NULL, 0), APR_SUCCESS,
                "basics: read 0's fields only");
    PK_TEST_OK(rec.user_id == 5 && rec.event_id == 100 && rec.len == 7 && rec.data == NULL,
               "basics: fields without the message");
    PK_TEST_INT(pk_ring_read(sr.ring, 1, &rec, buf, sizeof(buf)), APR_SUCCESS, "basics: read 1");
    PK_TEST_STR(rec.type, "a.type.longer.than.twen", "basics: a long type is cut");
    PK_TEST_INT(pk_ring_read(sr.ring, 2, &rec, buf, sizeof(buf)), APR_SUCCESS, "basics: read 2");
    PK_TEST_OK(rec.in_table && rec.len == 0 && rec.event_id == 102 && rec.seq == 2,
               "basics: a message too big for a slot: in_table, ids kept");
    PK_TEST_INT(pk_ring_read(sr.ring, 3, &rec, buf, sizeof(buf)), APR_EAGAIN,
                "basics: at head: EAGAIN");
    pk_ring_stats(sr.ring, &n_put, &n_table);
    PK_TEST_OK(n_put == 3 && n_table == 1, "basics: counters");

    /* a reader that falls behind is told so */
    for (i = 0; i < 17; ++i)
        put(&sr, 1, 200 + i, 10 + i, "t", "m", 1);
    PK_TEST_INT(pk_ring_head(sr.ring), 20, "overrun: head 20");
    PK_TEST_INT(pk_ring_read(sr.ring, 0, &rec, buf, sizeof(buf)), APR_ENOENT,
                "overrun: position 0 is gone");
    PK_TEST_INT(pk_ring_read(sr.ring, 11, &rec, buf, sizeof(buf)), APR_ENOENT,
                "overrun: position 11 is gone (9 behind, 8 slots)");
    for (ok = 1, i = 12; i < 20; ++i)
        ok = ok && pk_ring_read(sr.ring, i, &rec, buf, sizeof(buf)) == APR_SUCCESS
             && rec.event_id == 200 + i - 3;
    PK_TEST_OK(ok, "overrun: the last 8 are there");

    /* waiting: a timeout, and a ticket already out of date */
    t0 = apr_time_now();
    PK_TEST_INT(pk_ring_wait(sr.ring, pk_ring_ticket(sr.ring), apr_time_from_msec(50)),
                APR_TIMEUP, "wait: times out");
    PK_TEST_OK(apr_time_now() - t0 >= apr_time_from_msec(40), "wait: after the timeout");
    {
        apr_uint32_t ticket = pk_ring_ticket(sr.ring);
        put(&sr, 1, 300, 30, "t", "m", 1);
        t0 = apr_time_now();
        PK_TEST_INT(pk_ring_wait(sr.ring, ticket, apr_time_from_sec(5)), APR_SUCCESS,
                    "wait: a put after the ticket: no sleep");
        PK_TEST_OK(apr_time_now() - t0 < apr_time_from_msec(100), "wait: at once");
    }
    apr_pool_destroy(p);
}

/* ---- several writer processes ---- */

#define WRITERS 4
#define EACH 3000

static void writer(shared_ring *sr, int k)
{
    char data[64];
    int i;

    for (i = 1; i <= EACH; ++i) {
        apr_snprintf(data, sizeof(data), "w%d:%d", k, i);
        put(sr, k, (apr_int64_t)k * 1000000 + i, i, "t", data, strlen(data));
        if (i % 500 == 0)
            apr_sleep(1000);
    }
}

static void test_writers(apr_pool_t *parent)
{
    apr_pool_t *p;
    shared_ring sr;
    pk_ring_rec rec;
    char buf[4096], want[64];
    apr_int64_t next[WRITERS + 1];
    pid_t pids[WRITERS];
    apr_uint64_t pos = 0;
    apr_uint32_t ticket;
    apr_time_t until;
    int k, bad = 0, lost = 0, total = 0, st;

    apr_pool_create(&p, parent);
    if (!make_ring(p, 32768, 128, &sr)) {
        PK_TEST_OK(0, "writers: ring");
        apr_pool_destroy(p);
        return;
    }
    for (k = 1; k <= WRITERS; ++k) {
        next[k] = 1;
        if ((pids[k - 1] = fork()) == 0) {
            apr_proc_mutex_child_init(&sr.mutex, NULL, p);
            writer(&sr, k);
            _exit(0);
        }
    }
    until = apr_time_now() + apr_time_from_sec(30);
    while (total + lost < WRITERS * EACH && apr_time_now() < until) {
        ticket = pk_ring_ticket(sr.ring);
        if (pos >= pk_ring_head(sr.ring)) {
            pk_ring_wait(sr.ring, ticket, apr_time_from_sec(1));
            continue;
        }
        switch (pk_ring_read(sr.ring, pos, &rec, buf, sizeof(buf))) {
        case APR_SUCCESS:
            k = (int)rec.user_id;
            apr_snprintf(want, sizeof(want), "w%d:" I64, k, rec.seq);
            if (k < 1 || k > WRITERS || rec.seq != next[k] || rec.len != strlen(want)
                || memcmp(rec.data, want, rec.len)
                || rec.event_id != (apr_int64_t)k * 1000000 + rec.seq) {
                if (bad++ < 3)
                    printf("# bad record at %" APR_UINT64_T_FMT ": user " I64 " seq " I64 "\n",
                           pos, rec.user_id, rec.seq);
            }
            if (k >= 1 && k <= WRITERS)
                next[k] = rec.seq + 1;
            ++total;
            break;
        default:
            ++lost;
            break;
        }
        ++pos;
    }
    for (k = 0; k < WRITERS; ++k)
        waitpid(pids[k], &st, 0);
    PK_TEST_INT(total, WRITERS * EACH, "writers: every record of 4 processes read");
    PK_TEST_INT(lost, 0, "writers: none lost (the ring is large enough)");
    PK_TEST_INT(bad, 0, "writers: each intact, each writer's in its own order");
    PK_TEST_INT(pk_ring_head(sr.ring), WRITERS * EACH, "writers: head counts them all");
    apr_pool_destroy(p);
}

/* ---- a reader racing a writer over a tiny ring: torn copies are detected ---- */

#define TORTURE 300000

static void test_torn(apr_pool_t *parent)
{
    apr_pool_t *p;
    shared_ring sr;
    pk_ring_rec rec;
    char buf[4096], data[256];
    pid_t pid;
    apr_uint64_t head, at;
    apr_size_t i, n;
    int good = 0, gone = 0, bad = 0, st, ok;
    apr_int64_t id;

    apr_pool_create(&p, parent);
    if (!make_ring(p, 4, 256, &sr)) {
        PK_TEST_OK(0, "torn: ring");
        apr_pool_destroy(p);
        return;
    }
    if ((pid = fork()) == 0) {
        apr_proc_mutex_child_init(&sr.mutex, NULL, p);
        for (id = 1; id <= TORTURE; ++id) {
            n = 1 + (apr_size_t)(id % 180);
            memset(data, 'a' + (int)(id % 26), n);
            put(&sr, id * 3, id, id * 7, "t", data, n);
        }
        _exit(0);
    }
    while (waitpid(pid, &st, WNOHANG) == 0) {
        head = pk_ring_head(sr.ring);
        for (at = head > 3 ? head - 3 : 0; at < head; ++at) {
            if (pk_ring_read(sr.ring, at, &rec, buf, sizeof(buf)) != APR_SUCCESS) {
                ++gone;
                continue;
            }
            id = rec.event_id;
            ok = rec.user_id == id * 3 && rec.seq == id * 7 && (apr_uint64_t)id == at + 1
                 && rec.len == 1 + (apr_size_t)(id % 180);
            for (i = 0; ok && i < rec.len; ++i)
                ok = rec.data[i] == 'a' + (int)(id % 26);
            if (ok)
                ++good;
            else
                ++bad;
        }
    }
    printf("# torn: %d consistent reads, %d detected as overwritten\n", good, gone);
    PK_TEST_INT(bad, 0, "torn: no read that succeeded was torn");
    PK_TEST_OK(good > 0, "torn: reads succeeded meanwhile");
    apr_pool_destroy(p);
}

/* ---- wake-up latency from one process to another ---- */

#define PINGS 300

static int cmp_time(const void *a, const void *b)
{
    apr_interval_time_t x = *(const apr_interval_time_t *)a, y = *(const apr_interval_time_t *)b;
    return x < y ? -1 : x > y;
}

static void test_latency(apr_pool_t *parent)
{
    apr_pool_t *p;
    shared_ring sr;
    pk_ring_rec rec;
    char buf[4096], data[64];
    apr_interval_time_t lat[PINGS];
    apr_uint64_t pos = 0;
    apr_uint32_t ticket;
    apr_time_t until;
    pid_t pid;
    int n = 0, st, i;

    apr_pool_create(&p, parent);
    if (!make_ring(p, 64, 128, &sr)) {
        PK_TEST_OK(0, "latency: ring");
        apr_pool_destroy(p);
        return;
    }
    if ((pid = fork()) == 0) {
        apr_proc_mutex_child_init(&sr.mutex, NULL, p);
        for (i = 0; i < PINGS; ++i) {
            apr_sleep(2000);        /* the reader is asleep in pk_ring_wait by now */
            apr_snprintf(data, sizeof(data), "%" APR_TIME_T_FMT, apr_time_now());
            put(&sr, 1, i + 1, i + 1, "t", data, strlen(data));
        }
        _exit(0);
    }
    until = apr_time_now() + apr_time_from_sec(20);
    while (n < PINGS && apr_time_now() < until) {
        ticket = pk_ring_ticket(sr.ring);
        if (pos >= pk_ring_head(sr.ring)) {
            pk_ring_wait(sr.ring, ticket, apr_time_from_sec(1));
            continue;
        }
        if (pk_ring_read(sr.ring, pos++, &rec, buf, sizeof(buf)) == APR_SUCCESS) {
            buf[rec.len] = '\0';
            lat[n++] = apr_time_now() - (apr_time_t)apr_atoi64(buf);
        }
    }
    waitpid(pid, &st, 0);
    PK_TEST_INT(n, PINGS, "latency: every record woke the reader");
    if (n > 0) {
        qsort(lat, n, sizeof(lat[0]), cmp_time);
        printf("# wake-up latency across processes (futex): median %" APR_TIME_T_FMT
               " us, p99 %" APR_TIME_T_FMT " us, max %" APR_TIME_T_FMT " us (%d records)\n",
               lat[n / 2], lat[(n * 99) / 100], lat[n - 1], n);
        PK_TEST_OK(lat[n / 2] < apr_time_from_msec(5), "latency: median below 5 ms");
    }
    else {
        PK_TEST_OK(0, "latency: median below 5 ms");
    }
    apr_pool_destroy(p);
}

static void test_futex(apr_pool_t *parent)
{
    volatile apr_uint32_t word = 7;
    apr_time_t t0 = apr_time_now();

    PK_TEST_INT(pk_futex_wait(&word, 6, apr_time_from_sec(5), 0), APR_SUCCESS,
                "futex: another value: no wait");
    PK_TEST_OK(apr_time_now() - t0 < apr_time_from_msec(100), "futex: at once");
    t0 = apr_time_now();
    PK_TEST_INT(pk_futex_wait(&word, 7, apr_time_from_msec(30), 0), APR_TIMEUP,
                "futex: the same value: times out");
    PK_TEST_OK(apr_time_now() - t0 >= apr_time_from_msec(25), "futex: after the timeout");
    pk_futex_bump(&word, 0);
    PK_TEST_INT(word, 8, "futex: bump adds one");
}

int main(void)
{
    apr_pool_t *p = NULL;
    int rc;

    if (apr_app_initialize(NULL, NULL, NULL) != APR_SUCCESS)
        return 1;
    apr_pool_create(&p, NULL);
    test_futex(p);
    test_layout(p);
    test_basics(p);
    test_writers(p);
    test_torn(p);
    test_latency(p);
    rc = PK_TEST_DONE();
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
