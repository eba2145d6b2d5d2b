/* mod_poketto — waiting on a 32-bit word (core): Linux futexes.
 *
 * A waiter reads the word, checks its condition, and sleeps only while the word still
 * has the value it read; a waker changes the word, then wakes. No wake-up is lost in
 * between: the kernel compares the word under its own lock. shared selects the futex
 * kind: FUTEX_WAIT/FUTEX_WAKE for a word in memory shared between processes (the
 * event ring's), the _PRIVATE variants for a word only this process maps.
 */
#ifndef PK_FUTEX_H
#define PK_FUTEX_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_time.h>

/** Sleep while *word == expected, at most timeout (negative: no limit). APR_SUCCESS
 *  when woken or the word differs (callers re-check their condition either way: a
 *  wake-up is a hint), APR_TIMEUP after timeout, APR_EINTR after a signal. */
apr_status_t pk_futex_wait(volatile apr_uint32_t *word, apr_uint32_t expected,
                           apr_interval_time_t timeout, int shared);

/** Wake every waiter of word. */
void pk_futex_wake(volatile apr_uint32_t *word, int shared);

/** Add one to word (atomically, full barrier) and wake every waiter of it. */
void pk_futex_bump(volatile apr_uint32_t *word, int shared);

#endif /* PK_FUTEX_H */
