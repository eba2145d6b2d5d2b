/* test_url.c - unit tests of pk_url.c (TAP). */

#include <locale.h>
#include <string.h>

#include <curl/curl.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "pk_test.h"
#include "pk_url.h"

#define MAX 2048

#define WHY_SCHEME      "must be an absolute http or https URL"
#define WHY_NO_HOST     "has no host"
#define WHY_CREDENTIALS "must not contain credentials"
#define WHY_SPACE       "contains whitespace or control characters"
#define WHY_INVALID     "is not a valid URL"

typedef struct {
    const char *url;
    const char *canon;
} accept_case_t;

typedef struct {
    const char *url;
    const char *why;
} refuse_case_t;

static const accept_case_t accepted[] = {
    /* basics */
    { "http://example.com/", "http://example.com/" },
    { "https://example.com/a/b.html", "https://example.com/a/b.html" },
    { "http://example.com", "http://example.com/" },
    { "https://example.com:443", "https://example.com/" },
    { "http://example.com?q=1", "http://example.com/?q=1" },
    /* a host whose escapes decode to a number is an IPv4 address (found by fuzz_url) */
    { "http://3333%33", "http://0.0.130.53/" },
    { "http://0x7f%2E1/", "http://127.0.0.1/" },
    /* case: scheme and host lowered, path and query kept */
    { "HTTP://Example.COM/Path?Q=A", "http://example.com/Path?Q=A" },
    { "HtTpS://WWW.EXAMPLE.ORG/", "https://www.example.org/" },
    /* ports */
    { "http://example.com:80/", "http://example.com/" },
    { "https://Example.com:443/a#top", "https://example.com/a" },
    { "http://example.com:8080/x", "http://example.com:8080/x" },
    { "https://example.com:8443/", "https://example.com:8443/" },
    { "https://example.com:80/", "https://example.com:80/" },
    { "http://example.com:443/", "http://example.com:443/" },
    { "http://example.com:0080/", "http://example.com/" },
    { "http://example.com:08080/", "http://example.com:8080/" },
    { "http://example.com:/", "http://example.com/" },
    /* fragment */
    { "http://example.com/a?b=c#frag", "http://example.com/a?b=c" },
    { "http://example.com/#", "http://example.com/" },
    { "http://example.com#x", "http://example.com/" },
    /* trimming */
    { "  http://example.com/  ", "http://example.com/" },
    { "\t\r\n http://example.com/a \r\n\f\v", "http://example.com/a" },
    /* IDN -> punycode */
    { "http://b\xc3\xbc" "cher.example/", "http://xn--bcher-kva.example/" },
    { "http://B\xc3\x9c" "CHER.example/", "http://xn--bcher-kva.example/" },
    { "https://\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88/",
      "https://xn--r8jz45g.xn--zckzah/" },
    { "http://b%C3%BCcher.example/", "http://xn--bcher-kva.example/" },
    { "http://xn--bcher-kva.example/", "http://xn--bcher-kva.example/" },
    { "http://XN--BCHER-KVA.example:8080/a", "http://xn--bcher-kva.example:8080/a" },
    /* percent-escapes in the host are decoded */
    { "http://ex%41mple.com/", "http://example.com/" },
    /* IP literals */
    { "http://[::1]:80/", "http://[::1]/" },
    { "http://[::1]:8080/x", "http://[::1]:8080/x" },
    { "http://[::A]/", "http://[::a]/" },
    { "http://[0:0:0:0:0:0:0:1]/", "http://[::1]/" },
    { "https://[2001:DB8::1]:443/", "https://[2001:db8::1]/" },
    { "http://127.0.0.1:80/", "http://127.0.0.1/" },
    { "http://0x7f.1/", "http://127.0.0.1/" },
    /* non-ASCII in path and query: percent-encoded, upper-case hex */
    { "http://example.com/\xc3\xa4?q=\xc3\xbc#\xc3\xb6",
      "http://example.com/%C3%A4?q=%C3%BC" },
    { "http://example.com?\xe2\x82\xac", "http://example.com/?%E2%82%AC" },
    /* existing escapes and query kept as is */
    { "http://example.com/%c3%a4?q=%zz&r=%2F", "http://example.com/%c3%a4?q=%zz&r=%2F" },
    { "http://example.com/a?b=c&d=e;f&g=h+i", "http://example.com/a?b=c&d=e;f&g=h+i" },
    { "http://example.com/a?x=http://b/c?d@e", "http://example.com/a?x=http://b/c?d@e" },
    { "http://example.com/?", "http://example.com/" },
    /* dot segments resolved */
    { "http://example.com/a/./b/../c", "http://example.com/a/c" },
    { "http://example.com/../a", "http://example.com/a" },
    /* odd but valid */
    { "https://example.com/@user", "https://example.com/@user" },
    { "http://example.com./", "http://example.com./" },
    { "http://exa_mple.com/", "http://exa_mple.com/" },
    { "http://localhost/", "http://localhost/" },
};

static const refuse_case_t refused[] = {
    /* not http(s) or not absolute */
    { "", WHY_SCHEME },
    { "   ", WHY_SCHEME },
    { "example.com", WHY_SCHEME },
    { "example.com/a:b", WHY_SCHEME },
    { "//example.com/", WHY_SCHEME },
    { "/relative/path", WHY_SCHEME },
    { "a/b", WHY_SCHEME },
    { "ftp://example.com/", WHY_SCHEME },
    { "file:///etc/passwd", WHY_SCHEME },
    { "javascript:alert(1)", WHY_SCHEME },
    { "JavaScript://example.com/%0aalert(1)", WHY_SCHEME },
    { "data:text/html,hi", WHY_SCHEME },
    { "mailto:a@example.com", WHY_SCHEME },
    { "ws://example.com/", WHY_SCHEME },
    { "httpx://example.com/", WHY_SCHEME },
    { "1http://example.com/", WHY_SCHEME },
    { "http//example.com/", WHY_SCHEME },
    { ":http://example.com/", WHY_SCHEME },
    /* no host */
    { "http:", WHY_NO_HOST },
    { "http:/example.com/", WHY_NO_HOST },
    { "http:example.com", WHY_NO_HOST },
    { "https:\\\\example.com\\", WHY_NO_HOST },
    { "http://", WHY_NO_HOST },
    { "https://  ", WHY_NO_HOST },
    { "http:///example.com/", WHY_NO_HOST },
    { "http://?q=1", WHY_NO_HOST },
    { "http://#x", WHY_NO_HOST },
    { "http://:80/", WHY_NO_HOST },
    /* credentials */
    { "http://user:pw@example.com/", WHY_CREDENTIALS },
    { "https://user@example.com/", WHY_CREDENTIALS },
    { "http://@example.com/", WHY_CREDENTIALS },
    { "http://:@example.com/", WHY_CREDENTIALS },
    { "http://:pw@example.com/", WHY_CREDENTIALS },
    { "http://example.com@evil.example/", WHY_CREDENTIALS },
    /* whitespace and control characters */
    { "http://exa mple.com/", WHY_SPACE },
    { "http://example.com/a b", WHY_SPACE },
    { "http://example.com/?q=a b", WHY_SPACE },
    { "http://example.com/#a b", WHY_SPACE },
    { "http://example.com/\ta", WHY_SPACE },
    { "http://example.com/a\r\nb", WHY_SPACE },
    { "http://exa\nmple.com/", WHY_SPACE },
    { "http://example.com/\x01", WHY_SPACE },
    { "http://example.com/\x1f", WHY_SPACE },
    { "http://example.com/\x7f", WHY_SPACE },
    { "java\tscript:alert(1)", WHY_SPACE },
    /* otherwise malformed */
    { "http://example.com:65536/", WHY_INVALID },
    { "http://example.com:80:80/", WHY_INVALID },
    { "http://example.com:x/", WHY_INVALID },
    { "http://example.com:-1/", WHY_INVALID },
    { "http://[::1/", WHY_INVALID },
    { "http://[::1]x/", WHY_INVALID },
    { "http://[v1.x]/", WHY_INVALID },
    { "http://[fe80::1%25eth0]/", WHY_INVALID },
    { "http://exam<ple.com/", WHY_INVALID },
    { "http://ex;ample.com/", WHY_INVALID },
    { "http://a|b.example/", WHY_INVALID },
    { "http://a~b.example/", WHY_INVALID },
    { "http://%/", WHY_INVALID },
    { "http://exa%20mple.com/", WHY_INVALID },
    { "http://evil.example%2f.example.com/", WHY_INVALID },
    { "http://a%00b/", WHY_INVALID },
    { "http://example.com\\a", WHY_INVALID },
    { "http://\xff.example/", WHY_INVALID },
    { "http://\xc3.example/", WHY_INVALID },
};

/** s with bytes outside printable ASCII as \xNN (from p), for test names. */
static const char *printable(apr_pool_t *p, const char *s)
{
    char *res = apr_palloc(p, 4 * strlen(s) + 1), *d = res;

    for (; *s; ++s) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f || c == '#' || c == '\\')
            d += sprintf(d, "\\x%02x", c);
        else
            *d++ = (char)c;
    }
    *d = '\0';
    return res;
}

static void test_accepted(apr_pool_t *p)
{
    apr_size_t i;

    for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); ++i) {
        const char *canon = "unset", *why = "unset";
        const char *name = printable(p, accepted[i].url);
        apr_status_t rv = pk_url_canonicalize(p, accepted[i].url, MAX, &canon, &why);

        PK_TEST_INT(rv, APR_SUCCESS, apr_psprintf(p, "accepts %s", name));
        PK_TEST_STR(canon, accepted[i].canon, apr_psprintf(p, "canon of %s", name));
        PK_TEST_STR(why, NULL, apr_psprintf(p, "no why for %s", name));
    }
}

static void test_refused(apr_pool_t *p)
{
    apr_size_t i;

    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); ++i) {
        const char *canon = "unset", *why = NULL;
        const char *name = printable(p, refused[i].url);
        apr_status_t rv = pk_url_canonicalize(p, refused[i].url, MAX, &canon, &why);

        PK_TEST_INT(rv, APR_EINVAL, apr_psprintf(p, "refuses %s", name));
        PK_TEST_STR(why, refused[i].why, apr_psprintf(p, "why for %s", name));
        PK_TEST_STR(canon, NULL, apr_psprintf(p, "no canon for %s", name));
    }
}

static void test_null(apr_pool_t *p)
{
    const char *canon = "unset", *why = NULL;

    PK_TEST_INT(pk_url_canonicalize(p, NULL, MAX, &canon, &why), APR_EINVAL,
                "refuses NULL");
    PK_TEST_STR(why, WHY_INVALID, "why for NULL");
    PK_TEST_STR(canon, NULL, "no canon for NULL");
}

static void test_length(apr_pool_t *p)
{
    const char *prefix = "http://example.com/";
    char *url = apr_palloc(p, MAX + 2);
    const char *canon = NULL, *why = NULL, *padded;
    apr_status_t rv;

    /* exactly MAX bytes */
    strcpy(url, prefix);
    memset(url + strlen(prefix), 'a', MAX - strlen(prefix));
    url[MAX] = '\0';
    rv = pk_url_canonicalize(p, url, MAX, &canon, &why);
    PK_TEST_INT(rv, APR_SUCCESS, "accepts exactly max_len bytes");
    PK_TEST_STR(canon, url, "canon of max_len bytes is unchanged");
    PK_TEST_INT(canon ? strlen(canon) : 0, MAX, "canon of max_len bytes has max_len bytes");

    /* MAX + 1 bytes */
    url[MAX] = 'a';
    url[MAX + 1] = '\0';
    rv = pk_url_canonicalize(p, url, MAX, &canon, &why);
    PK_TEST_INT(rv, APR_EINVAL, "refuses max_len + 1 bytes");
    PK_TEST_STR(why, "is longer than 2048 bytes", "why for max_len + 1 bytes");
    PK_TEST_STR(canon, NULL, "no canon for max_len + 1 bytes");

    /* the limit is on the input as given, surrounding whitespace included */
    padded = "  http://example.com/ ";
    rv = pk_url_canonicalize(p, padded, strlen(padded), &canon, &why);
    PK_TEST_INT(rv, APR_SUCCESS, "padded URL at its own length is accepted");
    rv = pk_url_canonicalize(p, padded, strlen(padded) - 1, &canon, &why);
    PK_TEST_INT(rv, APR_EINVAL, "padded URL counts its whitespace");
    PK_TEST_STR(why, apr_psprintf(p, "is longer than %d bytes", (int)strlen(padded) - 1),
                "why for padded URL over the limit");

    /* other limits appear in the message */
    rv = pk_url_canonicalize(p, "http://example.com/", 10, &canon, &why);
    PK_TEST_INT(rv, APR_EINVAL, "refuses a URL over a small limit");
    PK_TEST_STR(why, "is longer than 10 bytes", "why names the small limit");

    /* the canonical form may grow past the limit */
    rv = pk_url_canonicalize(p, "http://example.com/\xc3\xa4", 21, &canon, &why);
    PK_TEST_INT(rv, APR_SUCCESS, "non-ASCII path at the limit is accepted");
    PK_TEST_STR(canon, "http://example.com/%C3%A4", "its canon is longer than the limit");
}

static void test_host(apr_pool_t *p)
{
    const char *canon = NULL, *why = NULL;

    PK_TEST_STR(pk_url_host(p, "http://example.com/x?y"), "example.com", "host of a URL");
    PK_TEST_STR(pk_url_host(p, "https://example.com:8443/"), "example.com",
                "host without port");
    PK_TEST_STR(pk_url_host(p, "http://[::1]:8080/"), "[::1]", "IPv6 host in brackets");
    PK_TEST_STR(pk_url_host(p, "http://127.0.0.1/"), "127.0.0.1", "IPv4 host");
    PK_TEST_STR(pk_url_host(p, "not a URL"), NULL, "no host of garbage");
    PK_TEST_STR(pk_url_host(p, "http://"), NULL, "no host of http://");
    PK_TEST_STR(pk_url_host(p, NULL), NULL, "no host of NULL");

    pk_url_canonicalize(p, " HTTPS://B\xc3\x9c" "CHER.example:443/a#b", MAX, &canon, &why);
    PK_TEST_STR(canon, "https://xn--bcher-kva.example/a", "canon for host test");
    PK_TEST_STR(pk_url_host(p, canon), "xn--bcher-kva.example", "host of a canonical IDN");
}

static void test_idempotent(apr_pool_t *p)
{
    apr_size_t i;

    for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); ++i) {
        const char *again = NULL, *why = NULL;
        apr_status_t rv = pk_url_canonicalize(p, accepted[i].canon, MAX, &again, &why);

        PK_TEST_OK(rv == APR_SUCCESS && again && !strcmp(again, accepted[i].canon),
                   apr_psprintf(p, "canonical form is stable: %s", accepted[i].canon));
    }
}

static void test_locale(apr_pool_t *p)
{
    const char *canon = NULL, *why = NULL;
    const char *before = apr_pstrdup(p, setlocale(LC_CTYPE, NULL));

    pk_url_canonicalize(p, "http://b\xc3\xbc" "cher.example/", MAX, &canon, &why);
    PK_TEST_STR(before, "C", "test runs in the C locale (IDN must work there)");
    PK_TEST_STR(setlocale(LC_CTYPE, NULL), before, "IDN leaves the locale alone");
}

int main(void)
{
    apr_pool_t *p = NULL;
    int rc = 1;

    if (apr_app_initialize(NULL, NULL, NULL) != APR_SUCCESS)
        return 1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {
        apr_pool_create(&p, NULL);
        test_accepted(p);
        test_refused(p);
        test_null(p);
        test_length(p);
        test_host(p);
        test_idempotent(p);
        test_locale(p);
        rc = PK_TEST_DONE();
        apr_pool_destroy(p);
        curl_global_cleanup();
    }
    apr_terminate();
    return rc;
}
