/* mod_poketto — a broadcast ring of fixed-size slots in shared memory (core).
 *
 * The memory is the caller's (inside httpd: an anonymous apr_shm made by the parent
 * before it forks, so every child maps it). Records are written one after the other
 * into slots[n % nslots]; head counts the records ever written. Every reader keeps its
 * own position and reads every record from it up to head: a record is never consumed,
 * only overwritten nslots records later. A reader that fell that far behind is told so
 * (APR_ENOENT) and must find what it missed elsewhere (the event table).
 *
 * Writers must be serialised by the caller (a global mutex): each put copies the record
 * into its slot and only then advances head, so every slot below head is complete.
 * Readers take no lock. Each slot carries a stamp (its position + 1, 0 while being
 * written) read before and after the copy, so a slot overwritten while it is read is
 * detected (a seqlock). Waking: a 32-bit word beside head is bumped after each batch of
 * puts and futex-woken (the shared futex kind); readers sleep on it.
 */
#ifndef PK_RING_H
#define PK_RING_H

#include <apr_pools.h>
#include <apr_time.h>

/** Longest event type a slot keeps (including the NUL). */
#define PK_RING_TYPE_MAX 24
/** Bytes of a slot before its message. */
#define PK_RING_SLOT_HEADER 64

typedef struct pk_ring pk_ring;

/** One record. A message longer than the slot's payload is not copied: readers get
 *  in_table set and len 0, and read the message from the table. */
typedef struct pk_ring_rec {
    apr_int64_t user_id;
    apr_int64_t event_id;
    apr_int64_t seq;                /* the event's per-user seq */
    const char *type;               /* cut to PK_RING_TYPE_MAX - 1 bytes */
    const char *data;               /* the message (not NUL-terminated in the slot) */
    apr_size_t len;
    int in_table;                   /* (reading) the message is only in the table */
    char type_buf[PK_RING_TYPE_MAX];/* (reading) where type points */
} pk_ring_rec;

/** Bytes of memory a ring of nslots slots of slot_size bytes needs. */
apr_size_t pk_ring_bytes(apr_uint32_t nslots, apr_uint32_t slot_size);

/** Lay out an empty ring in mem (size bytes, at least pk_ring_bytes; 8-byte aligned).
 *  slot_size is rounded up to a multiple of 64 and must leave room for a message after
 *  the slot's header. APR_EINVAL when it does not fit. */
apr_status_t pk_ring_format(void *mem, apr_size_t size, apr_uint32_t nslots,
                            apr_uint32_t slot_size);

/** This process's handle onto a formatted ring (from p). APR_EINVAL when mem holds no
 *  ring of this layout. */
apr_status_t pk_ring_attach(apr_pool_t *p, void *mem, apr_size_t size, pk_ring **ring);

apr_uint32_t pk_ring_nslots(const pk_ring *ring);
/** The longest message a slot holds. */
apr_size_t pk_ring_payload_max(const pk_ring *ring);

/** Write a record (writers serialised by the caller). Readers see it once it is
 *  complete; pk_ring_wake tells them. */
void pk_ring_put(pk_ring *ring, const pk_ring_rec *rec);
/** Wake the readers after one or more puts (the lock need not be held). */
void pk_ring_wake(pk_ring *ring);

/** Records ever written: the position after the newest. */
apr_uint64_t pk_ring_head(const pk_ring *ring);
/** The wake word's value: read it before pk_ring_head, pass it to pk_ring_wait, and no
 *  put in between goes unnoticed. */
apr_uint32_t pk_ring_ticket(const pk_ring *ring);
/** Sleep until a wake after ticket was taken, or timeout (as pk_futex_wait). */
apr_status_t pk_ring_wait(pk_ring *ring, apr_uint32_t ticket, apr_interval_time_t timeout);

/** Copy the record at pos: its message into buf (buflen at least pk_ring_payload_max,
 *  rec->data points there; buf NULL: the record's fields only, rec->data NULL).
 *  APR_SUCCESS; APR_EAGAIN when pos is not written yet; APR_ENOENT when it was
 *  overwritten already (the reader fell nslots behind). */
apr_status_t pk_ring_read(pk_ring *ring, apr_uint64_t pos, pk_ring_rec *rec, char *buf,
                          apr_size_t buflen);

/** Counters: records put, and those among them too big for a slot. */
void pk_ring_stats(const pk_ring *ring, apr_uint64_t *put, apr_uint64_t *in_table);

#endif /* PK_RING_H */
