/* mod_poketto — logging bridge for the httpd-free layers.
 *
 * core and store code cannot call ap_log_error (no httpd header there). They log
 * through pk_log(), which forwards to whatever sink the program installed: the module
 * glue installs one that calls ap_log_error with the module's index (so
 * `LogLevel poketto:debug` works), the command-line tools one that writes to stderr.
 * Levels are syslog's, as httpd's APLOG_* are (trace1..8 are 8..15).
 */
#ifndef PK_LOG_H
#define PK_LOG_H

#include <apr_pools.h>
#include <apr_errno.h>

#define PK_LOG_EMERG   0
#define PK_LOG_ALERT   1
#define PK_LOG_CRIT    2
#define PK_LOG_ERR     3
#define PK_LOG_WARNING 4
#define PK_LOG_NOTICE  5
#define PK_LOG_INFO    6
#define PK_LOG_DEBUG   7
#define PK_LOG_TRACE1  8
#define PK_LOG_TRACE2  9

#define PK_LOG_MARK __FILE__, __LINE__

/** A log sink: gets the formatted message; baton is what pk_log_set() was given. */
typedef void pk_log_sink_fn(void *baton, const char *file, int line, int level,
                            apr_status_t rv, const char *msg);
/** Is level logged at all? Lets callers skip formatting expensive messages. */
typedef int pk_log_enabled_fn(void *baton, int level);

/** Install the process-wide sink (once, at start-up, before threads run). */
void pk_log_set(pk_log_sink_fn *sink, pk_log_enabled_fn *enabled, void *baton);

/** Whether level would be logged. */
int pk_log_is_enabled(int level);

/** Log a message; p is used for formatting only (a short-lived pool of the caller). */
void pk_log(const char *file, int line, int level, apr_status_t rv, apr_pool_t *p,
            const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif /* PK_LOG_H */
