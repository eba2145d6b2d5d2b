/* mod_poketto — the task engine on the server-status page; see pk_status.h. */
#include <httpd.h>
#include <http_protocol.h>
#include <apr_optional.h>
#include <apr_strings.h>
#include <mod_status.h>

#include "pk_dbd.h"
#include "pk_group.h"
#include "pk_tasks.h"
#include "pk_engine.h"
#include "pk_bus.h"
#include "pk_wsconn.h"
#include "pk_wsio.h"
#include "pk_status.h"

/* The counters are this child's (the one answering); the queue depth is the database's,
 * shared by every child and host. ?auto gets "key: value" lines. */
static int status_hook(request_rec *r, int flags)
{
    pk_engine_stats st;
    pk_bus_stats bs;
    apr_int64_t depth = -1;
    apr_hash_index_t *hi;
    pk_db *db = pk_dbd_acquire(r);
    int brief = flags & AP_STATUS_SHORT;
    apr_uint64_t g_works, g_groups, g_retried;

    if (db) {
        pk_task_queue_depth(db, r->pool, &depth);
    }
    pk_engine_stats_get(r->pool, &st);
    pk_bus_stats_get(&bs);
    pk_group_counts(&g_works, &g_groups, &g_retried);
    if (brief) {
        ap_rprintf(r, "PokettoQueueDepth: %" APR_INT64_T_FMT "\n", depth);
        ap_rprintf(r, "PokettoEngine: %s\n", st.running ? "running" : "off");
        ap_rprintf(r, "PokettoFetching: %d\nPokettoWaitingForHost: %d\n"
                   "PokettoExtracting: %d\n", st.fetching, st.waiting, st.extracting);
        ap_rprintf(r, "PokettoClaimed: %" APR_UINT64_T_FMT "\nPokettoDone: %" APR_UINT64_T_FMT
                   "\nPokettoFailed: %" APR_UINT64_T_FMT "\nPokettoRetried: %"
                   APR_UINT64_T_FMT "\nPokettoLeaseLost: %" APR_UINT64_T_FMT "\n",
                   st.claimed, st.done, st.failed, st.retried, st.lost);
        for (hi = apr_hash_first(r->pool, st.outcomes); hi; hi = apr_hash_next(hi)) {
            ap_rprintf(r, "PokettoFetch_%s: %" APR_UINT64_T_FMT "\n",
                       (const char *)apr_hash_this_key(hi),
                       *(apr_uint64_t *)apr_hash_this_val(hi));
        }
        ap_rprintf(r, "PokettoBus: %s\nPokettoRingEvents: %" APR_UINT64_T_FMT
                   "\nPokettoRingInTable: %" APR_UINT64_T_FMT "\nPokettoSubscribers: %d\n"
                   "PokettoBusDelivered: %" APR_UINT64_T_FMT "\nPokettoBusTableReads: %"
                   APR_UINT64_T_FMT "\nPokettoBusGaps: %" APR_UINT64_T_FMT
                   "\nPokettoBusOverruns: %" APR_UINT64_T_FMT "\nPokettoBusOverflows: %"
                   APR_UINT64_T_FMT "\nPokettoBusRelay: %s\nPokettoBusRelayed: %"
                   APR_UINT64_T_FMT "\n", bs.running ? "running" : "off", bs.ring_head,
                   bs.ring_in_table, bs.subscribers, bs.delivered, bs.table_reads, bs.gaps,
                   bs.overruns, bs.overflows, bs.relay ? "on" : "off", bs.relayed);
        ap_rprintf(r, "PokettoGroupedWrites: %" APR_UINT64_T_FMT "\nPokettoGroups: %"
                   APR_UINT64_T_FMT "\nPokettoGroupsRetried: %" APR_UINT64_T_FMT "\n",
                   g_works, g_groups, g_retried);
        ap_rprintf(r, "PokettoWsThread: %d\nPokettoWsParked: %d\nPokettoWsDetached: %d\n"
                   "PokettoWsIoThreads: %d\n", pk_wsconn_open_count(), pk_wsio_count(),
                   pk_wsio_detached_count(), pk_wsio_threads());
        return OK;
    }
    ap_rputs("<hr />\n<h2>mod_poketto</h2>\n<table>\n", r);
    ap_rprintf(r, "<tr><th>queued tasks (all children)</th><td>%" APR_INT64_T_FMT
               "</td></tr>\n", depth);
    ap_rprintf(r, "<tr><th>engine of child %" APR_PID_T_FMT "</th><td>%s</td></tr>\n",
               getpid(), st.running ? "running" : "off");
    ap_rprintf(r, "<tr><th>fetching / waiting for their host / extracting</th>"
               "<td>%d / %d / %d</td></tr>\n", st.fetching, st.waiting, st.extracting);
    ap_rprintf(r, "<tr><th>claimed / done / failed / retried / lease lost</th><td>%"
               APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT " / %"
               APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT "</td></tr>\n", st.claimed, st.done,
               st.failed, st.retried, st.lost);
    for (hi = apr_hash_first(r->pool, st.outcomes); hi; hi = apr_hash_next(hi)) {
        ap_rprintf(r, "<tr><th>fetch outcome %s</th><td>%" APR_UINT64_T_FMT "</td></tr>\n",
                   ap_escape_html(r->pool, (const char *)apr_hash_this_key(hi)),
                   *(apr_uint64_t *)apr_hash_this_val(hi));
    }
    ap_rprintf(r, "<tr><th>event ring (all children): events / too big for a slot / "
               "slots</th><td>%" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT " / %u</td></tr>\n",
               bs.ring_head, bs.ring_in_table, bs.ring_slots);
    ap_rprintf(r, "<tr><th>live-event subscribers of this child</th><td>%d%s</td></tr>\n",
               bs.subscribers, bs.running ? "" : " (bus off)");
    ap_rprintf(r, "<tr><th>delivered / table reads / seq gaps / ring overruns / full "
               "queues</th><td>%" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT " / %"
               APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT
               "</td></tr>\n", bs.delivered, bs.table_reads, bs.gaps, bs.overruns,
               bs.overflows);
    ap_rprintf(r, "<tr><th>relay of other hosts' events: rows passed on</th><td>%s: %"
               APR_UINT64_T_FMT "</td></tr>\n", bs.relay ? "on" : "off", bs.relayed);
    ap_rprintf(r, "<tr><th>group commit of this child: writes / transactions / groups run "
               "again one by one</th><td>%" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT " / %"
               APR_UINT64_T_FMT "</td></tr>\n", g_works, g_groups, g_retried);
    ap_rprintf(r, "<tr><th>WebSockets of this child: thread mode / parked (of which "
               "detached) / I/O threads</th><td>%d / %d (%d) / %d</td></tr>\n",
               pk_wsconn_open_count(), pk_wsio_count(), pk_wsio_detached_count(),
               pk_wsio_threads());
    ap_rputs("</table>\n", r);
    return OK;
}

void pk_status_register_hooks(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}
