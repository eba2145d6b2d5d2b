/* test_charset.c - unit tests of pk_charset.c (TAP). */

#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "pk_charset.h"
#include "pk_utf8.h"
#include "pk_test.h"

/* Convert a byte string (with explicit length) and check the result. */
static void check(apr_pool_t *p, const char *bytes, apr_size_t len, const char *http,
                  const char *want, const char *want_cs, const char *name)
{
    const char *out = NULL, *cs = NULL;
    apr_size_t out_len = 0;
    apr_status_t rv = pk_charset_to_utf8(p, bytes, len, http, &out, &out_len, &cs);

    PK_TEST_INT(rv, APR_SUCCESS, apr_psprintf(p, "%s: success", name));
    PK_TEST_STR(out, want, apr_psprintf(p, "%s: text", name));
    PK_TEST_INT(out_len, want ? strlen(want) : 0, apr_psprintf(p, "%s: length", name));
    PK_TEST_STR(cs, want_cs, apr_psprintf(p, "%s: charset used", name));
}

#define CHECK(p, lit, http, want, cs, name) check((p), (lit), sizeof(lit) - 1, (http), \
                                                  (want), (cs), (name))

#define META_1251 "<html><head><meta charset=\"windows-1251\"></head><body>"

int main(void)
{
    apr_pool_t *p;
    char *big;
    int rc;

    apr_app_initialize(NULL, NULL, NULL);
    apr_pool_create(&p, NULL);

    /* labels */
    PK_TEST_STR(pk_charset_canonical("latin1"), "windows-1252", "latin1 is windows-1252");
    PK_TEST_STR(pk_charset_canonical(" ISO-8859-1 "), "windows-1252",
                "ISO-8859-1 (spaces, case) is windows-1252");
    PK_TEST_STR(pk_charset_canonical("us-ascii"), "windows-1252", "us-ascii is windows-1252");
    PK_TEST_STR(pk_charset_canonical("UTF8"), "UTF-8", "utf8 alias");
    PK_TEST_STR(pk_charset_canonical("x-sjis"), "Shift_JIS", "x-sjis alias");
    PK_TEST_STR(pk_charset_canonical("shift_jis"), "Shift_JIS", "shift_jis");
    PK_TEST_STR(pk_charset_canonical("gb2312"), "GBK", "gb2312 is GBK");
    PK_TEST_STR(pk_charset_canonical("ks_c_5601-1987"), "EUC-KR", "ks_c_5601-1987 is EUC-KR");
    PK_TEST_STR(pk_charset_canonical("iso-8859-9"), "windows-1254", "latin5 is windows-1254");
    PK_TEST_STR(pk_charset_canonical("x-klingon"), NULL, "unknown label");
    PK_TEST_STR(pk_charset_canonical(""), NULL, "empty label");
    PK_TEST_STR(pk_charset_canonical(NULL), NULL, "NULL label");

    /* meta prescan */
    PK_TEST_STR(pk_charset_sniff_meta(p, "<meta charset=\"koi8-r\">", 23), "koi8-r",
                "meta charset quoted");
    PK_TEST_STR(pk_charset_sniff_meta(p, "<META CharSet=latin1>", 21), "latin1",
                "meta charset unquoted, upper case");
    {
        static const char pragma[] =
            "<head><meta http-equiv='Content-Type' content='text/html; charset=Shift_JIS'>";
        static const char nopragma[] =
            "<head><meta content='text/html; charset=Shift_JIS'>";
        static const char comment[] =
            "<!-- <meta charset=koi8-r> --><meta charset=utf-8>";
        static const char inattr[] =
            "<a title='<meta charset=koi8-r>'>x</a>";
        PK_TEST_STR(pk_charset_sniff_meta(p, pragma, sizeof(pragma) - 1), "Shift_JIS",
                    "meta http-equiv content charset");
        PK_TEST_STR(pk_charset_sniff_meta(p, nopragma, sizeof(nopragma) - 1), NULL,
                    "content without http-equiv is ignored");
        PK_TEST_STR(pk_charset_sniff_meta(p, comment, sizeof(comment) - 1), "utf-8",
                    "meta in a comment is ignored");
        PK_TEST_STR(pk_charset_sniff_meta(p, inattr, sizeof(inattr) - 1), NULL,
                    "meta inside an attribute value is ignored");
    }
    big = apr_palloc(p, 6000);
    memset(big, ' ', 6000);
    memcpy(big + 5000, "<meta charset=koi8-r>", 21);
    PK_TEST_STR(pk_charset_sniff_meta(p, big, 6000), NULL, "meta after 4 KiB is ignored");

    /* default and BOMs */
    CHECK(p, "<p>plain</p>", NULL, "<p>plain</p>", "UTF-8", "ASCII without declaration");
    CHECK(p, "caf\xc3\xa9", NULL, "caf\xc3\xa9", "UTF-8", "UTF-8 without declaration");
    CHECK(p, "\xef\xbb\xbf" "caf\xc3\xa9", "iso-8859-1", "caf\xc3\xa9", "UTF-8",
          "UTF-8 BOM beats the header and is dropped");
    CHECK(p, "\xff\xfe" "c\0a\0f\0\xe9\0", NULL, "caf\xc3\xa9", "UTF-16LE", "UTF-16LE BOM");
    CHECK(p, "\xfe\xff" "\0c\0a\0f\0\xe9", "utf-8", "caf\xc3\xa9", "UTF-16BE",
          "UTF-16BE BOM beats the header");
    CHECK(p, "\xff\xfe" "c\0a", NULL, "c\xef\xbf\xbd", "UTF-16LE",
          "truncated UTF-16 ends in U+FFFD");

    /* HTTP header */
    CHECK(p, "caf\xe9", "iso-8859-1", "caf\xc3\xa9", "windows-1252", "latin1 header");
    CHECK(p, "\x80 5", "ISO-8859-1", "\xe2\x82\xac 5", "windows-1252",
          "latin1 is decoded as windows-1252 (0x80 is the euro sign)");
    CHECK(p, "a\x81" "b", "windows-1252", "a\xef\xbf\xbd" "b", "windows-1252",
          "a byte windows-1252 leaves undefined becomes U+FFFD");
    CHECK(p, META_1251 "\xd0\xd2\xc9", "koi8-r", META_1251 "\xd0\xbf\xd1\x80\xd0\xb8",
          "KOI8-R", "the header beats <meta>");
    CHECK(p, "\x82\xa0", "Shift_JIS", "\xe3\x81\x82", "Shift_JIS", "Shift_JIS header");
    CHECK(p, "\x87\x40", "sjis", "\xe2\x91\xa0", "Shift_JIS",
          "Shift_JIS decodes the windows-31j extensions");

    /* <meta> */
    CHECK(p, META_1251 "\xcf\xf0\xe8", NULL, META_1251 "\xd0\x9f\xd1\x80\xd0\xb8",
          "windows-1251", "meta charset");
    CHECK(p, "<meta http-equiv=\"content-type\" content=\"text/html;charset=euc-kr\">"
             "\xb0\xa1", NULL,
          "<meta http-equiv=\"content-type\" content=\"text/html;charset=euc-kr\">"
          "\xea\xb0\x80", "EUC-KR", "meta http-equiv");
    CHECK(p, "<meta charset=utf-16>caf\xc3\xa9", NULL, "<meta charset=utf-16>caf\xc3\xa9",
          "UTF-8", "a meta declaring UTF-16 means UTF-8");
    CHECK(p, "<meta charset=windows-1252>caf\xc3\xa9 \xe2\x80\x94", NULL,
          "<meta charset=windows-1252>caf\xc3\xa9 \xe2\x80\x94", "UTF-8",
          "valid multi-byte UTF-8 labelled windows-1252 is taken as UTF-8");
    CHECK(p, "caf\xc3\xa9 \xe9", "iso-8859-1", "caf\xc3\x83\xc2\xa9 \xc3\xa9",
          "windows-1252", "invalid UTF-8 labelled latin1 stays latin1");

    /* unknown labels */
    CHECK(p, "caf\xc3\xa9", "x-klingon", "caf\xc3\xa9", "UTF-8 (unsupported: x-klingon)",
          "an unknown header charset falls back to UTF-8 and says so");
    CHECK(p, "<meta charset=x-klingon>ok", NULL, "<meta charset=x-klingon>ok",
          "UTF-8 (unsupported: x-klingon)", "an unknown meta charset too");
    CHECK(p, "<meta charset=latin1>caf\xe9", "x-klingon", "<meta charset=latin1>caf\xc3\xa9",
          "windows-1252", "an unknown header label gives way to the meta");
    CHECK(p, "abc", "iso-2022-kr", "abc", "UTF-8 (unsupported: replacement)",
          "the replacement encoding is not decoded");

    /* invalid UTF-8 and NULs */
    CHECK(p, "a\xc0\x80" "b", NULL, "a\xef\xbf\xbd\xef\xbf\xbd" "b", "UTF-8",
          "overlong NUL: one U+FFFD per byte");
    CHECK(p, "a\xed\xa0\x80" "b", NULL, "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "b",
          "UTF-8", "surrogate: replaced");
    CHECK(p, "a\xe2\x82", NULL, "a\xef\xbf\xbd", "UTF-8",
          "truncated sequence at the end: one U+FFFD");
    CHECK(p, "a\xe2\x82z", NULL, "a\xef\xbf\xbdz", "UTF-8",
          "truncated sequence in the middle: one U+FFFD");
    CHECK(p, "\x80\xbf", NULL, "\xef\xbf\xbd\xef\xbf\xbd", "UTF-8",
          "stray continuation bytes");
    CHECK(p, "\xf8\x88\x80\x80\x80", NULL,
          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "UTF-8",
          "five-byte form");
    CHECK(p, "\xf4\x90\x80\x80", NULL,
          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "UTF-8", "above U+10FFFF");
    CHECK(p, "\xf0\x9f\x98\x80", NULL, "\xf0\x9f\x98\x80", "UTF-8", "four-byte emoji kept");
    CHECK(p, "a\0b\0", NULL, "ab", "UTF-8", "NUL bytes dropped");
    CHECK(p, "a\0\xe9", "latin1", "a\xc3\xa9", "windows-1252",
          "NUL bytes dropped after conversion");
    CHECK(p, "", NULL, "", "UTF-8", "empty input");

    PK_TEST_INT(pk_utf8_valid_prefix("ab\xc3\xa9\xff", 5), 4, "valid prefix");
    PK_TEST_INT(pk_utf8_valid_prefix("ab\xc3", 3), 2, "valid prefix stops at truncation");
    {
        const char *out = NULL;
        PK_TEST_INT(pk_charset_to_utf8(p, NULL, 3, NULL, &out, NULL, NULL), APR_EINVAL,
                    "NULL bytes with a length: APR_EINVAL");
    }

    rc = PK_TEST_DONE();
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
