/* test_sse.c - unit tests of pk_sse.c: Server-Sent Events framing (TAP). */

#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "pk_test.h"
#include "pk_sse.h"

static void event_is(apr_pool_t *p, apr_int64_t id, const char *type, const char *data,
                     const char *want, const char *name)
{
    apr_size_t len = 0;
    const char *got = pk_sse_event(p, id, type, data, strlen(data), &len);

    PK_TEST_STR(got, want, name);
    PK_TEST_INT(len, strlen(want), apr_pstrcat(p, name, ": length", NULL));
}

int main(void)
{
    apr_pool_t *p = NULL;
    apr_int64_t id = -1;
    apr_size_t len = 0;
    int rc;

    if (apr_app_initialize(NULL, NULL, NULL) != APR_SUCCESS)
        return 1;
    apr_pool_create(&p, NULL);

    event_is(p, 42, "item.ready", "{\"type\":\"item.ready\",\"id\":3}",
             "id: 42\nevent: item.ready\ndata: {\"type\":\"item.ready\",\"id\":3}\n\n",
             "one line of JSON");
    event_is(p, 1, "item.saved", "", "id: 1\nevent: item.saved\ndata: \n\n", "empty data");
    event_is(p, 7, "t", "a\nb", "id: 7\nevent: t\ndata: a\ndata: b\n\n", "LF splits data");
    event_is(p, 7, "t", "a\r\nb", "id: 7\nevent: t\ndata: a\ndata: b\n\n",
             "CRLF is one break");
    event_is(p, 7, "t", "a\rb", "id: 7\nevent: t\ndata: a\ndata: b\n\n", "a lone CR breaks");
    event_is(p, 7, "t", "a\n\nb\r\r\n", "id: 7\nevent: t\ndata: a\ndata: \ndata: b\ndata: \ndata: \n\n",
             "empty lines and trailing breaks are kept");
    event_is(p, 7, "bad\ntype\r", "x", "id: 7\nevent: bad type \ndata: x\n\n",
             "a line break cannot end the event field early");
    event_is(p, APR_INT64_C(123456789012345678), "t", "x",
             "id: 123456789012345678\nevent: t\ndata: x\n\n", "a large id");
    {
        /* binary-safe: a NUL inside data is kept, the length says where it ends */
        const char *got = pk_sse_event(p, 2, "t", "a\0b", 3, &len);
        PK_TEST_INT(len, strlen("id: 2\nevent: t\ndata: ") + 3 + 2, "NUL: length");
        PK_TEST_OK(len > 5 && !memcmp(got + len - 5, "a\0b\n\n", 5), "NUL: kept");
    }
    {
        /* a long message of many lines: the buffer is sized right */
        char *big = apr_palloc(p, 20001);
        int i, lines = 0;
        const char *got;
        for (i = 0; i < 20000; ++i)
            big[i] = (i % 3 == 2) ? '\n' : 'x';
        big[20000] = '\0';
        got = pk_sse_event(p, 9, "t", big, 20000, &len);
        for (i = 0; got[i]; ++i)
            lines += !strncmp(got + i, "data: ", 6) && (i == 0 || got[i - 1] == '\n');
        PK_TEST_INT(lines, 6666 + 1, "many lines: a data: line each");
        PK_TEST_INT(len, strlen(got), "many lines: length");
        PK_TEST_OK(len > 2 && !strcmp(got + len - 2, "\n\n"), "many lines: ends the event");
    }

    PK_TEST_STR(pk_sse_comment(p, "keepalive", &len), ": keepalive\n\n", "comment");
    PK_TEST_INT(len, 13, "comment: length");
    PK_TEST_STR(pk_sse_comment(p, "a\nb\rc", &len), ": a b c\n\n", "comment: one line");
    PK_TEST_STR(pk_sse_comment(p, NULL, &len), ": \n\n", "comment: empty");
    PK_TEST_STR(pk_sse_retry(p, 2000, &len), "retry: 2000\n\n", "retry");
    PK_TEST_INT(len, 13, "retry: length");

    PK_TEST_OK(pk_sse_parse_id("0", &id) && id == 0, "id 0");
    PK_TEST_OK(pk_sse_parse_id("12345", &id) && id == 12345, "id 12345");
    PK_TEST_OK(pk_sse_parse_id("999999999999999999", &id)
               && id == APR_INT64_C(999999999999999999), "18 digits");
    PK_TEST_OK(!pk_sse_parse_id("1234567890123456789", &id), "19 digits: refused");
    PK_TEST_OK(!pk_sse_parse_id("", &id), "empty: refused");
    PK_TEST_OK(!pk_sse_parse_id(NULL, &id), "NULL: refused");
    PK_TEST_OK(!pk_sse_parse_id("-1", &id), "negative: refused");
    PK_TEST_OK(!pk_sse_parse_id("+1", &id), "sign: refused");
    PK_TEST_OK(!pk_sse_parse_id(" 1", &id), "space: refused");
    PK_TEST_OK(!pk_sse_parse_id("1 ", &id), "trailing space: refused");
    PK_TEST_OK(!pk_sse_parse_id("0x10", &id), "hex: refused");
    PK_TEST_OK(!pk_sse_parse_id("1e3", &id), "exponent: refused");

    rc = PK_TEST_DONE();
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
