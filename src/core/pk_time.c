/* pk_time.c - ISO 8601 times as used by the HTTP API (see pk_time.h). */

#include <errno.h>
#include <string.h>

#include <apr_strings.h>

#include "pk_time.h"

/** 9999-12-31T23:59:59Z in Unix seconds: the last second pk_time_parse() accepts. */
#define PK_TIME_MAX_SEC APR_INT64_C(253402300799)

const char *pk_time_iso(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t xt;
    apr_time_t frac = t % APR_USEC_PER_SEC;

    /* apr_time_exp_gmt() truncates toward zero: floor to the second ourselves. */
    if (frac < 0)
        frac += APR_USEC_PER_SEC;
    apr_time_exp_gmt(&xt, t - frac);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", xt.tm_year + 1900,
                        xt.tm_mon + 1, xt.tm_mday, xt.tm_hour, xt.tm_min, xt.tm_sec);
}

/** Read exactly n decimal digits at *s into *v and advance *s past them;
 *  0 (and *s unchanged) if there are fewer than n digits. */
static int pk_time_digits(const char **s, int n, int *v)
{
    const char *c = *s;
    int i, val = 0, ok = 1;

    for (i = 0; ok && i < n; ++i) {
        ok = (c[i] >= '0' && c[i] <= '9');
        if (ok)
            val = val * 10 + (c[i] - '0');
    }
    if (ok) {
        *v = val;
        *s = c + n;
    }
    return ok;
}

/** If **s is ch, advance *s past it and return 1; else 0. */
static int pk_time_char(const char **s, char ch)
{
    int ok = (**s == ch);

    if (ok)
        ++*s;
    return ok;
}

/** Parse the all-digits string s as Unix seconds into *t. */
static apr_status_t pk_time_parse_unix(const char *s, apr_time_t *t)
{
    apr_status_t rv = APR_EINVAL;
    apr_int64_t sec;
    char *end = NULL;

    errno = 0;
    sec = apr_strtoi64(s, &end, 10);
    if (errno == 0 && end != s && *end == '\0' && sec >= 0 && sec <= PK_TIME_MAX_SEC) {
        *t = apr_time_from_sec(sec);
        rv = APR_SUCCESS;
    }
    return rv;
}

apr_status_t pk_time_parse(const char *s, apr_time_t *t)
{
    apr_status_t rv = APR_EINVAL;
    apr_time_exp_t xt, back;
    apr_time_t res = 0;
    int year = 0, mon = 0, mday = 0, hour = 0, min = 0, sec = 0, usec = 0;
    int off_h = 0, off_m = 0, sign = 1, n;
    const char *c = s;

    if (s == NULL || *s == '\0')
        goto leave;
    if (strspn(s, "0123456789") == strlen(s)) {
        rv = pk_time_parse_unix(s, t);
        goto leave;
    }

    if (!pk_time_digits(&c, 4, &year) || !pk_time_char(&c, '-')
        || !pk_time_digits(&c, 2, &mon) || !pk_time_char(&c, '-')
        || !pk_time_digits(&c, 2, &mday))
        goto leave;
    if (pk_time_char(&c, 'T')) {
        if (!pk_time_digits(&c, 2, &hour) || !pk_time_char(&c, ':')
            || !pk_time_digits(&c, 2, &min) || !pk_time_char(&c, ':')
            || !pk_time_digits(&c, 2, &sec))
            goto leave;
        if (pk_time_char(&c, '.')) {
            if (!(*c >= '0' && *c <= '9'))
                goto leave;
            for (n = 0; *c >= '0' && *c <= '9'; ++c) {
                if (n < 6) {
                    usec = usec * 10 + (*c - '0');
                    ++n;
                }
            }
            for (; n < 6; ++n)
                usec *= 10;
        }
        if (!pk_time_char(&c, 'Z')) {
            if (*c == '+' || *c == '-')
                sign = (*c++ == '-') ? -1 : 1;
            else
                goto leave;
            if (!pk_time_digits(&c, 2, &off_h) || !pk_time_char(&c, ':')
                || !pk_time_digits(&c, 2, &off_m) || off_h > 23 || off_m > 59)
                goto leave;
        }
    }
    if (*c != '\0' || year < 1970 || mon < 1 || mon > 12 || mday < 1 || mday > 31
        || hour > 23 || min > 59 || sec > 59)
        goto leave;

    /* Let APR do the calendar; a day past the month's end (Feb 30, Feb 29 of a common
     * year) comes back as another date, so explode again and compare. */
    memset(&xt, 0, sizeof(xt));
    xt.tm_year = year - 1900;
    xt.tm_mon = mon - 1;
    xt.tm_mday = mday;
    xt.tm_hour = hour;
    xt.tm_min = min;
    xt.tm_sec = sec;
    xt.tm_usec = usec;
    if (APR_SUCCESS != apr_time_exp_gmt_get(&res, &xt))
        goto leave;
    apr_time_exp_gmt(&back, res);
    if (back.tm_mday != mday || back.tm_mon != mon - 1)
        goto leave;
    res -= apr_time_from_sec((apr_time_t)sign * (off_h * 3600 + off_m * 60));
    if (res < 0 || res >= apr_time_from_sec(PK_TIME_MAX_SEC + 1))
        goto leave;
    *t = res;
    rv = APR_SUCCESS;

leave:
    return rv;
}
