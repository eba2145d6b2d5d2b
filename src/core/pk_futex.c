/* mod_poketto — waiting on a 32-bit word; see pk_futex.h. */
#include <errno.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>
#include <apr_atomic.h>

#include "pk_futex.h"

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>

static long futex(volatile apr_uint32_t *word, int op, apr_uint32_t val,
                  const struct timespec *ts)
{
    return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

apr_status_t pk_futex_wait(volatile apr_uint32_t *word, apr_uint32_t expected,
                           apr_interval_time_t timeout, int shared)
{
    struct timespec ts, *tsp = NULL;
    apr_status_t rv = APR_SUCCESS;

    if (timeout >= 0) {
        ts.tv_sec = (time_t)apr_time_sec(timeout);
        ts.tv_nsec = (long)apr_time_usec(timeout) * 1000;
        tsp = &ts;
    }
    if (futex(word, shared ? FUTEX_WAIT : FUTEX_WAIT_PRIVATE, expected, tsp) != 0) {
        if (errno == ETIMEDOUT) {
            rv = APR_TIMEUP;
        }
        else if (errno == EINTR) {
            rv = APR_EINTR;
        }
        /* EAGAIN: the word had changed already */
    }
    return rv;
}

void pk_futex_wake(volatile apr_uint32_t *word, int shared)
{
    futex(word, shared ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

#else /* not Linux: no futex; waiters look again every millisecond */

apr_status_t pk_futex_wait(volatile apr_uint32_t *word, apr_uint32_t expected,
                           apr_interval_time_t timeout, int shared)
{
    apr_time_t until = apr_time_now() + timeout;

    while (apr_atomic_read32(word) == expected) {
        if (timeout >= 0 && apr_time_now() >= until) {
            return APR_TIMEUP;
        }
        apr_sleep(1000);
    }
    return APR_SUCCESS;
}

void pk_futex_wake(volatile apr_uint32_t *word, int shared)
{
}

#endif

void pk_futex_bump(volatile apr_uint32_t *word, int shared)
{
    apr_atomic_inc32(word);
    pk_futex_wake(word, shared);
}
