/* mod_poketto — logging bridge; see pk_log.h. */
#include <stdarg.h>
#include <stdio.h>
#include <apr_strings.h>

#include "pk_log.h"

static pk_log_sink_fn *log_sink;
static pk_log_enabled_fn *log_enabled;
static void *log_baton;

void pk_log_set(pk_log_sink_fn *sink, pk_log_enabled_fn *enabled, void *baton)
{
    log_sink = sink;
    log_enabled = enabled;
    log_baton = baton;
}

int pk_log_is_enabled(int level)
{
    if (!log_sink) {
        return level <= PK_LOG_WARNING;
    }
    return log_enabled ? log_enabled(log_baton, level) : 1;
}

void pk_log(const char *file, int line, int level, apr_status_t rv, apr_pool_t *p,
            const char *fmt, ...)
{
    va_list ap;
    const char *msg;

    if (!pk_log_is_enabled(level)) {
        return;
    }
    va_start(ap, fmt);
    msg = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    if (log_sink) {
        log_sink(log_baton, file, line, level, rv, msg);
    }
    else {
        fprintf(stderr, "poketto: %s\n", msg);
    }
}
