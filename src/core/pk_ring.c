/* mod_poketto — a broadcast ring of fixed-size slots in shared memory; see pk_ring.h.
 *
 * Memory orders (GCC __atomic builtins, the same in every process):
 *   put   stamp := 0 (relaxed), release fence, copy, stamp := pos + 1 (release),
 *         head := pos + 1 (release);
 *   read  pos < head (acquire), stamp (acquire) == pos + 1, copy, acquire fence,
 *         stamp again (relaxed) == pos + 1, or the copy may be torn.
 */
#include <string.h>
#include <apr_strings.h>

#include "pk_futex.h"
#include "pk_ring.h"

#define RING_MAGIC 0x706b7267u     /* "pkrg" */
#define RING_LAYOUT 1u
#define LINE 64

#define FLAG_IN_TABLE 1u

typedef struct ring_hdr {
    apr_uint32_t magic;
    apr_uint32_t layout;
    apr_uint32_t nslots;
    apr_uint32_t slot_size;
    char pad0[LINE - 16];
    apr_uint64_t head;              /* written by writers under their lock */
    apr_uint64_t put;               /* counters, also under the lock */
    apr_uint64_t in_table;
    char pad1[LINE - 24];
    apr_uint32_t wake;              /* the futex word, a line of its own */
    char pad2[LINE - 4];
} ring_hdr;

typedef struct slot_hdr {
    apr_uint64_t stamp;             /* pos + 1 when complete, 0 while written */
    apr_int64_t user_id;
    apr_int64_t event_id;
    apr_int64_t seq;
    apr_uint32_t len;
    apr_uint32_t flags;
    char type[PK_RING_TYPE_MAX];
} slot_hdr;

struct pk_ring {
    ring_hdr *hdr;
    char *slots;
    apr_uint32_t nslots;
    apr_uint32_t slot_size;
};

static apr_uint32_t round_slot(apr_uint32_t slot_size)
{
    return (slot_size + LINE - 1) / LINE * LINE;
}

apr_size_t pk_ring_bytes(apr_uint32_t nslots, apr_uint32_t slot_size)
{
    return sizeof(ring_hdr) + (apr_size_t)nslots * round_slot(slot_size);
}

apr_status_t pk_ring_format(void *mem, apr_size_t size, apr_uint32_t nslots,
                            apr_uint32_t slot_size)
{
    ring_hdr *hdr = mem;
    apr_status_t rv = APR_SUCCESS;

    slot_size = round_slot(slot_size);
    if (nslots == 0 || slot_size <= PK_RING_SLOT_HEADER
        || size < pk_ring_bytes(nslots, slot_size) || ((apr_uintptr_t)mem & 7)) {
        rv = APR_EINVAL;
        goto leave;
    }
    memset(mem, 0, pk_ring_bytes(nslots, slot_size));
    hdr->layout = RING_LAYOUT;
    hdr->nslots = nslots;
    hdr->slot_size = slot_size;
    __atomic_store_n(&hdr->magic, RING_MAGIC, __ATOMIC_RELEASE);
leave:
    return rv;
}

apr_status_t pk_ring_attach(apr_pool_t *p, void *mem, apr_size_t size, pk_ring **ring)
{
    ring_hdr *hdr = mem;
    pk_ring *r;
    apr_status_t rv = APR_SUCCESS;

    *ring = NULL;
    if (size < sizeof(ring_hdr)
        || __atomic_load_n(&hdr->magic, __ATOMIC_ACQUIRE) != RING_MAGIC
        || hdr->layout != RING_LAYOUT || hdr->nslots == 0
        || hdr->slot_size <= PK_RING_SLOT_HEADER
        || size < pk_ring_bytes(hdr->nslots, hdr->slot_size)) {
        rv = APR_EINVAL;
        goto leave;
    }
    r = apr_pcalloc(p, sizeof(*r));
    r->hdr = hdr;
    r->slots = (char *)mem + sizeof(ring_hdr);
    r->nslots = hdr->nslots;
    r->slot_size = hdr->slot_size;
    *ring = r;
leave:
    return rv;
}

apr_uint32_t pk_ring_nslots(const pk_ring *ring)
{
    return ring->nslots;
}

apr_size_t pk_ring_payload_max(const pk_ring *ring)
{
    return ring->slot_size - PK_RING_SLOT_HEADER;
}

static slot_hdr *slot_at(const pk_ring *ring, apr_uint64_t pos)
{
    return (slot_hdr *)(ring->slots + (apr_size_t)(pos % ring->nslots) * ring->slot_size);
}

void pk_ring_put(pk_ring *ring, const pk_ring_rec *rec)
{
    apr_uint64_t pos = __atomic_load_n(&ring->hdr->head, __ATOMIC_RELAXED);
    slot_hdr *s = slot_at(ring, pos);
    int fits = rec->len <= pk_ring_payload_max(ring);

    __atomic_store_n(&s->stamp, 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    s->user_id = rec->user_id;
    s->event_id = rec->event_id;
    s->seq = rec->seq;
    s->len = fits ? (apr_uint32_t)rec->len : 0;
    s->flags = fits ? 0 : FLAG_IN_TABLE;
    apr_cpystrn(s->type, rec->type ? rec->type : "", sizeof(s->type));
    if (fits && rec->len) {
        memcpy((char *)s + PK_RING_SLOT_HEADER, rec->data, rec->len);
    }
    __atomic_store_n(&s->stamp, pos + 1, __ATOMIC_RELEASE);
    ring->hdr->put++;
    ring->hdr->in_table += fits ? 0 : 1;
    __atomic_store_n(&ring->hdr->head, pos + 1, __ATOMIC_RELEASE);
}

void pk_ring_wake(pk_ring *ring)
{
    pk_futex_bump(&ring->hdr->wake, 1);
}

apr_uint64_t pk_ring_head(const pk_ring *ring)
{
    return __atomic_load_n(&ring->hdr->head, __ATOMIC_ACQUIRE);
}

apr_uint32_t pk_ring_ticket(const pk_ring *ring)
{
    return __atomic_load_n(&ring->hdr->wake, __ATOMIC_ACQUIRE);
}

apr_status_t pk_ring_wait(pk_ring *ring, apr_uint32_t ticket, apr_interval_time_t timeout)
{
    return pk_futex_wait(&ring->hdr->wake, ticket, timeout, 1);
}

apr_status_t pk_ring_read(pk_ring *ring, apr_uint64_t pos, pk_ring_rec *rec, char *buf,
                          apr_size_t buflen)
{
    apr_uint64_t head = pk_ring_head(ring), s1, s2;
    slot_hdr *s = slot_at(ring, pos);
    apr_status_t rv = APR_SUCCESS;
    apr_uint32_t len;

    memset(rec, 0, sizeof(*rec));
    if (pos >= head) {
        rv = APR_EAGAIN;
        goto leave;
    }
    if (head - pos > ring->nslots) {
        rv = APR_ENOENT;            /* overwritten already */
        goto leave;
    }
    s1 = __atomic_load_n(&s->stamp, __ATOMIC_ACQUIRE);
    if (s1 != pos + 1) {
        rv = APR_ENOENT;            /* being overwritten, or overwritten */
        goto leave;
    }
    rec->user_id = s->user_id;
    rec->event_id = s->event_id;
    rec->seq = s->seq;
    rec->in_table = (s->flags & FLAG_IN_TABLE) != 0;
    len = s->len;
    if (buf) {
        if (len > buflen || len > pk_ring_payload_max(ring)) {
            len = 0;                /* torn: the stamp check below says so */
        }
        memcpy(buf, (char *)s + PK_RING_SLOT_HEADER, len);
        rec->data = buf;
    }
    rec->len = len;
    memcpy(rec->type_buf, s->type, sizeof(rec->type_buf));
    rec->type_buf[sizeof(rec->type_buf) - 1] = '\0';
    rec->type = rec->type_buf;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    s2 = __atomic_load_n(&s->stamp, __ATOMIC_RELAXED);
    if (s2 != s1 || s->len != len) {
        rv = APR_ENOENT;
        goto leave;
    }
leave:
    return rv;
}

void pk_ring_stats(const pk_ring *ring, apr_uint64_t *put, apr_uint64_t *in_table)
{
    *put = __atomic_load_n(&ring->hdr->put, __ATOMIC_RELAXED);
    *in_table = __atomic_load_n(&ring->hdr->in_table, __ATOMIC_RELAXED);
}
