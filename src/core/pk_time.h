/* pk_time.h - ISO 8601 times as used by the HTTP API (always UTC on output). */
#ifndef PK_TIME_H
#define PK_TIME_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>

/** Format t as ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ" (from p).
 *  Sub-second parts are dropped (rounded down, also before 1970). */
const char *pk_time_iso(apr_pool_t *p, apr_time_t t);

/** Parse "YYYY-MM-DD" (midnight UTC), "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" or
 *  a decimal count of Unix seconds (digits only, no sign) into *t.
 *  Strict: upper-case "T" and "Z" only, no surrounding whitespace, fields with exactly
 *  the digits shown; month 01-12, day valid for that month (leap years counted), hour
 *  00-23, minute and second 00-59 (no leap second), offset hours 00-23 and minutes
 *  00-59; frac is 1 or more digits, kept to the microsecond (further digits dropped).
 *  The time must lie in [1970-01-01T00:00:00Z, 9999-12-31T23:59:59.999999Z] and a
 *  date-time's own date must be in years 1970-9999.
 *  Returns APR_SUCCESS, or APR_EINVAL (*t untouched) on anything else. */
apr_status_t pk_time_parse(const char *s, apr_time_t *t);

#endif /* PK_TIME_H */
