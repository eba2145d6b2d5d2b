/* test_time.c - unit tests of pk_time.c (TAP). */

#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "pk_test.h"
#include "pk_time.h"

#define SEC(s) apr_time_from_sec(APR_INT64_C(s))

/* 2026-11-23T22:14:05Z */
#define T0 APR_INT64_C(1795472045)
/* 9999-12-31T23:59:59Z */
#define TMAX APR_INT64_C(253402300799)

typedef struct {
    const char *s;
    apr_time_t t;
} parse_case_t;

typedef struct {
    apr_time_t t;
    const char *iso;
} iso_case_t;

static const iso_case_t isos[] = {
    { 0, "1970-01-01T00:00:00Z" },
    { SEC(1), "1970-01-01T00:00:01Z" },
    { SEC(1795472045), "2026-11-23T22:14:05Z" },
    { SEC(1795472045) + 999999, "2026-11-23T22:14:05Z" },
    { SEC(1709164800), "2024-02-29T00:00:00Z" },
    { SEC(1709208000), "2024-02-29T12:00:00Z" },
    { SEC(951782400), "2000-02-29T00:00:00Z" },
    { SEC(1798761599), "2026-12-31T23:59:59Z" },
    { SEC(2147483647), "2038-01-19T03:14:07Z" },
    { SEC(2147483648), "2038-01-19T03:14:08Z" },
    { SEC(253402300799), "9999-12-31T23:59:59Z" },
    { -1, "1969-12-31T23:59:59Z" },
    { SEC(-1), "1969-12-31T23:59:59Z" },
    { SEC(-86400) + 1, "1969-12-31T00:00:00Z" },
};

static const parse_case_t parsed[] = {
    /* dates */
    { "1970-01-01", 0 },
    { "2026-11-23", SEC(1795392000) },
    { "2024-02-29", SEC(1709164800) },
    { "2000-02-29", SEC(951782400) },
    { "2026-12-31", SEC(1798675200) },
    { "9999-12-31", SEC(253402214400) },
    /* date-times in UTC */
    { "1970-01-01T00:00:00Z", 0 },
    { "2026-11-23T22:14:05Z", SEC(1795472045) },
    { "2024-02-29T12:00:00Z", SEC(1709208000) },
    { "2026-12-31T23:59:59Z", SEC(1798761599) },
    { "2038-01-19T03:14:08Z", SEC(2147483648) },
    { "9999-12-31T23:59:59Z", SEC(253402300799) },
    /* fractions */
    { "2026-11-23T22:14:05.5Z", SEC(1795472045) + 500000 },
    { "2026-11-23T22:14:05.000001Z", SEC(1795472045) + 1 },
    { "2026-11-23T22:14:05.123456Z", SEC(1795472045) + 123456 },
    { "2026-11-23T22:14:05.1234567890123Z", SEC(1795472045) + 123456 },
    { "2026-11-23T22:14:05.0Z", SEC(1795472045) },
    { "9999-12-31T23:59:59.999999Z", SEC(253402300799) + 999999 },
    /* offsets */
    { "2026-11-23T23:14:05+01:00", SEC(1795472045) },
    { "2026-11-23T17:44:05-04:30", SEC(1795472045) },
    { "2026-11-24T07:14:05+09:00", SEC(1795472045) },
    { "2026-11-24T22:13:05+23:59", SEC(1795472045) },
    { "2026-11-22T22:15:05-23:59", SEC(1795472045) },
    { "2026-11-23T22:14:05+00:00", SEC(1795472045) },
    { "2026-11-23T22:14:05-00:00", SEC(1795472045) },
    { "2026-11-23T23:14:05.25+01:00", SEC(1795472045) + 250000 },
    { "1970-01-01T01:00:00+01:00", 0 },
    { "2024-03-01T00:30:00+01:00", SEC(1709249400) },
    { "2024-02-28T23:00:00-01:00", SEC(1709164800) },
    /* Unix seconds */
    { "0", 0 },
    { "1", SEC(1) },
    { "1795472045", SEC(1795472045) },
    { "0001795472045", SEC(1795472045) },
    { "2147483648", SEC(2147483648) },
    { "253402300799", SEC(253402300799) },
    { "20260101", SEC(20260101) },
    { "2026", SEC(2026) },
};

static const char *const bad[] = {
    "",
    " ",
    "garbage",
    "now",
    "today",
    /* surrounding or inner whitespace */
    " 2026-11-23",
    "2026-11-23 ",
    "2026-11-23\n",
    "2026-11-23 22:14:05Z",
    "2026-11-23T22:14:05Z ",
    " 1795472045",
    "1795472045 ",
    /* dates out of range */
    "2026-13-01",
    "2026-00-10",
    "2026-01-00",
    "2026-01-32",
    "2026-04-31",
    "2026-06-31",
    "2026-02-30",
    "2023-02-29",
    "2100-02-29",
    "1969-12-31",
    "1900-01-01",
    "0000-01-01",
    /* date syntax */
    "2026-1-1",
    "26-11-23",
    "2026/11/23",
    "20261123T221405Z",
    "2026-11",
    "+2026-11-23",
    "-2026-11-23",
    "2026-11-23x",
    "2026-11-2a",
    "2026-11-23T",
    /* times out of range */
    "2026-11-23T24:00:00Z",
    "2026-11-23T23:60:00Z",
    "2026-11-23T23:59:60Z",
    "2026-11-23T99:99:99Z",
    /* time syntax */
    "2026-11-23T22:14:05",
    "2026-11-23T22:14Z",
    "2026-11-23T22Z",
    "2026-11-23T2:14:05Z",
    "2026-11-23T22:14:5Z",
    "2026-11-23t22:14:05z",
    "2026-11-23T22:14:05z",
    "2026-11-23T22:14:05.Z",
    "2026-11-23T22:14:05.",
    "2026-11-23T22:14:05,5Z",
    "2026-11-23T22:14:05.5",
    "2026-11-23T22:14:05ZZ",
    "2026-11-23T22:14:05Zjunk",
    "2026-11-23T22:14:05.5.5Z",
    "2026-11-23T22:14:05UTC",
    "2026-11-23T22:14:05GMT",
    /* offsets */
    "2026-11-23T22:14:05+0100",
    "2026-11-23T22:14:05+01",
    "2026-11-23T22:14:05+1:00",
    "2026-11-23T22:14:05+01:0",
    "2026-11-23T22:14:05+24:00",
    "2026-11-23T22:14:05+01:60",
    "2026-11-23T22:14:05+01:00Z",
    "2026-11-23T22:14:05Z+01:00",
    "2026-11-23T22:14:05 +01:00",
    "2026-11-23T22:14:05+",
    "2026-11-23T22:14:05-",
    /* instants out of range */
    "1970-01-01T00:30:00+01:00",
    "1969-12-31T23:30:00-01:00",
    "9999-12-31T23:00:00-05:00",
    /* Unix seconds */
    "-1",
    "+1",
    "1e9",
    "0x10",
    "12.5",
    "1,000",
    "253402300800",
    "9223372036854775807",
    "99999999999999999999999999",
};

static void test_iso(apr_pool_t *p)
{
    apr_size_t i;

    for (i = 0; i < sizeof(isos) / sizeof(isos[0]); ++i) {
        PK_TEST_STR(pk_time_iso(p, isos[i].t), isos[i].iso,
                    apr_psprintf(p, "iso of %" APR_TIME_T_FMT, isos[i].t));
    }
}

static void test_parse_ok(apr_pool_t *p)
{
    apr_size_t i;

    for (i = 0; i < sizeof(parsed) / sizeof(parsed[0]); ++i) {
        apr_time_t t = -42;
        apr_status_t rv = pk_time_parse(parsed[i].s, &t);

        PK_TEST_INT(rv, APR_SUCCESS, apr_psprintf(p, "parses %s", parsed[i].s));
        PK_TEST_INT(t, parsed[i].t, apr_psprintf(p, "value of %s", parsed[i].s));
    }
}

static void test_parse_bad(apr_pool_t *p)
{
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        apr_time_t t = -42;
        apr_status_t rv = pk_time_parse(bad[i], &t);
        const char *name = apr_pstrdup(p, bad[i]);
        char *nl = strchr(name, '\n');

        if (nl)
            *nl = '|';
        PK_TEST_INT(rv, APR_EINVAL, apr_psprintf(p, "refuses '%s'", name));
        PK_TEST_INT(t, -42, apr_psprintf(p, "leaves t alone for '%s'", name));
    }
    {
        apr_time_t t = -42;
        PK_TEST_INT(pk_time_parse(NULL, &t), APR_EINVAL, "refuses NULL");
        PK_TEST_INT(t, -42, "leaves t alone for NULL");
    }
}

static void test_round_trip(apr_pool_t *p)
{
    static const apr_int64_t secs[] = {
        0, 59, 86399, 86400, 951782400, 1709164800, T0, 2147483647, 4102444800, TMAX,
    };
    apr_size_t i;

    for (i = 0; i < sizeof(secs) / sizeof(secs[0]); ++i) {
        apr_time_t t = apr_time_from_sec(secs[i]), back = -1;
        const char *iso = pk_time_iso(p, t + 123456);

        PK_TEST_INT(pk_time_parse(iso, &back), APR_SUCCESS,
                    apr_psprintf(p, "parse(iso(%s)) succeeds", iso));
        PK_TEST_INT(back, t, apr_psprintf(p, "parse(iso(%s)) is the second", iso));
        PK_TEST_INT(pk_time_parse(apr_psprintf(p, "%" APR_INT64_T_FMT, secs[i]), &back),
                    APR_SUCCESS, apr_psprintf(p, "parse(%" APR_INT64_T_FMT ")", secs[i]));
        PK_TEST_STR(pk_time_iso(p, back), iso,
                    apr_psprintf(p, "iso(parse(%" APR_INT64_T_FMT "))", secs[i]));
    }
}

static void test_every_day(apr_pool_t *p)
{
    /* Every day 1970-2100 (incl. 2000 and the non-leap 2100): the date parses to
     * midnight, its ISO form names that date, and day 32 / day past the end fail. */
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    apr_time_t expect = 0, t;
    int y, m, d, n, failures = 0, checked = 0;

    for (y = 1970; y <= 2100; ++y) {
        for (m = 1; m <= 12; ++m) {
            int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            n = mdays[m - 1] + (m == 2 && leap);
            for (d = 1; d <= n; ++d, expect += SEC(86400)) {
                const char *s = apr_psprintf(p, "%04d-%02d-%02d", y, m, d);
                const char *iso = apr_pstrcat(p, s, "T00:00:00Z", NULL);
                ++checked;
                if (pk_time_parse(s, &t) != APR_SUCCESS || t != expect
                    || strcmp(pk_time_iso(p, t), iso) != 0) {
                    ++failures;
                }
            }
            if (pk_time_parse(apr_psprintf(p, "%04d-%02d-%02d", y, m, n + 1), &t)
                != APR_EINVAL)
                ++failures;
        }
    }
    PK_TEST_INT(checked, 47847, "days 1970-01-01 .. 2100-12-31 checked");
    PK_TEST_INT(failures, 0, "every day 1970-2100 parses and formats; day after end fails");
}

int main(void)
{
    apr_pool_t *p = NULL;
    int rc;

    if (apr_app_initialize(NULL, NULL, NULL) != APR_SUCCESS)
        return 1;
    apr_pool_create(&p, NULL);
    test_iso(p);
    test_parse_ok(p);
    test_parse_bad(p);
    test_round_trip(p);
    test_every_day(p);
    rc = PK_TEST_DONE();
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
