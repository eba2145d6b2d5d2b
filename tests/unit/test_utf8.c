/* test_utf8.c - unit tests of pk_utf8.c (TAP). */

#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "pk_test.h"
#include "pk_utf8.h"

typedef struct {
    const char *bytes;
    apr_size_t len;
    const char *name;
} utf8_case_t;

#define C(lit, name) { (lit), sizeof(lit) - 1, (name) }

static const utf8_case_t valid_cases[] = {
    C("", "empty"),
    C("Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
      "Autobahn 6.2.1 mixed text"),
    C("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", "kosme (Autobahn 6.1)"),
    C("a\0b", "NUL is a valid code point"),
    C("\x7f", "U+007F, last 1-byte"),
    C("\xc2\x80", "U+0080, first 2-byte"),
    C("\xdf\xbf", "U+07FF, last 2-byte"),
    C("\xe0\xa0\x80", "U+0800, first 3-byte"),
    C("\xed\x9f\xbf", "U+D7FF, just below the surrogates"),
    C("\xee\x80\x80", "U+E000, just above the surrogates"),
    C("\xef\xbf\xbd", "U+FFFD"),
    C("\xef\xbf\xbf", "U+FFFF, last 3-byte"),
    C("\xf0\x90\x80\x80", "U+10000, first 4-byte"),
    C("\xf3\xbf\xbf\xbf", "U+FFFFF"),
    C("\xf4\x8f\xbf\xbf", "U+10FFFF, the last code point"),
    C("\xf0\x9f\x98\x80 smile \xe2\x82\xac euro", "emoji and euro among ASCII"),
    C("0123456789abcdef0123456789abcdef\xc3\xa9", "long ASCII run, then 2-byte"),
};

static const utf8_case_t invalid_cases[] = {
    C("\x80", "lone continuation 80"),
    C("\xbf", "lone continuation BF"),
    C("a\x80\x80\x80", "continuations after ASCII"),
    C("\xc0\x80", "overlong NUL (C0 80)"),
    C("\xc0\xaf", "overlong '/' (C0 AF)"),
    C("\xc1\xbf", "overlong U+007F (C1 BF)"),
    C("\xe0\x80\xaf", "overlong '/' in 3 bytes"),
    C("\xe0\x9f\xbf", "overlong U+07FF in 3 bytes"),
    C("\xf0\x80\x80\xaf", "overlong '/' in 4 bytes"),
    C("\xf0\x8f\xbf\xbf", "overlong U+FFFF in 4 bytes"),
    C("\xf8\x88\x80\x80\x80", "5-byte form"),
    C("\xfc\x84\x80\x80\x80\x80", "6-byte form"),
    C("\xfe", "byte FE"),
    C("\xff", "byte FF"),
    C("\xed\xa0\x80", "surrogate U+D800"),
    C("\xed\xad\xbf", "surrogate U+DB7F"),
    C("\xed\xbf\xbf", "surrogate U+DFFF"),
    C("\xed\xa0\x80\xed\xb0\x80", "surrogate pair U+D800 U+DC00 (CESU-8)"),
    C("\xf4\x90\x80\x80", "U+110000 (F4 90 80 80)"),
    C("\xf5\x80\x80\x80", "lead F5"),
    C("\xf7\xbf\xbf\xbf", "U+1FFFFF (F7 BF BF BF)"),
    C("\xc2\x41", "2-byte lead then ASCII"),
    C("\xe2\x82\x28", "3-byte sequence broken at the third byte"),
    C("\xf0\x9f\x98\xc0", "4-byte sequence broken at the fourth byte"),
    C("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
      "Autobahn 6.3.1: kosme, surrogate, 'edited'"),
    C("\xc2", "truncated 2-byte at the end"),
    C("\xe2\x82", "truncated 3-byte at the end"),
    C("\xf0\x9f\x98", "truncated 4-byte at the end"),
    C("ok\xf4\x8f\xbf", "truncated U+10FFFF at the end"),
};

#define NVALID   (sizeof(valid_cases) / sizeof(valid_cases[0]))
#define NINVALID (sizeof(invalid_cases) / sizeof(invalid_cases[0]))

/* The result of validating s in pieces cut at a and b (0 <= a <= b <= len):
 * 1 valid and complete, 0 invalid or incomplete. */
static int valid_in_pieces(const char *s, apr_size_t len, apr_size_t a, apr_size_t b)
{
    pk_utf8_state st;
    int ok;

    pk_utf8_init(&st);
    ok = pk_utf8_feed(&st, s, a) == PK_UTF8_OK;
    ok = pk_utf8_feed(&st, s + a, b - a) == PK_UTF8_OK && ok;
    ok = pk_utf8_feed(&st, s + b, len - b) == PK_UTF8_OK && ok;
    return ok && pk_utf8_complete(&st);
}

/* Index of the byte at which byte-by-byte feeding of s first says invalid, or -1. */
static long first_invalid(const char *s, apr_size_t len)
{
    pk_utf8_state st = PK_UTF8_STATE_INIT;
    apr_size_t i;
    long res = -1;

    for (i = 0; i < len && res < 0; ++i)
        if (pk_utf8_feed(&st, s + i, 1) == PK_UTF8_INVALID)
            res = (long)i;
    return res;
}

/* Reference: is s[0..len) valid UTF-8 (RFC 3629), decoding code point by code point? */
static int ref_valid(const unsigned char *s, apr_size_t len)
{
    apr_size_t i = 0, n, k;
    unsigned long cp, min;
    int ok = 1;

    while (ok && i < len) {
        unsigned char c = s[i];
        if (c < 0x80) { n = 1; cp = c; min = 0; }
        else if ((c & 0xe0) == 0xc0) { n = 2; cp = c & 0x1f; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { n = 3; cp = c & 0x0f; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { n = 4; cp = c & 0x07; min = 0x10000; }
        else { ok = 0; break; }
        if (i + n > len) { ok = 0; break; }
        for (k = 1; k < n && ok; ++k) {
            ok = (s[i + k] & 0xc0) == 0x80;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        ok = ok && cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
        i += n;
    }
    return ok;
}

/* Encode code point cp into out; returns its length. */
static apr_size_t encode(unsigned long cp, unsigned char *out)
{
    apr_size_t n;

    if (cp < 0x80) { out[0] = (unsigned char)cp; n = 1; }
    else if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    }
    else if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    }
    else {
        out[0] = (unsigned char)(0xf0 | (cp >> 18));
        out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return n;
}

int main(void)
{
    apr_pool_t *p;
    apr_size_t i, a, b;
    int rc;

    apr_app_initialize(NULL, NULL, NULL);
    apr_pool_create(&p, NULL);

    /* Whole strings, and every way to cut them in up to three pieces. */
    for (i = 0; i < NVALID; ++i) {
        const utf8_case_t *t = &valid_cases[i];
        int splits_ok = 1;
        PK_TEST_OK(pk_utf8_valid(t->bytes, t->len), apr_psprintf(p, "valid: %s", t->name));
        for (a = 0; a <= t->len; ++a)
            for (b = a; b <= t->len; ++b)
                splits_ok = splits_ok && valid_in_pieces(t->bytes, t->len, a, b);
        PK_TEST_OK(splits_ok, apr_psprintf(p, "valid in every 3-way split: %s", t->name));
    }
    for (i = 0; i < NINVALID; ++i) {
        const utf8_case_t *t = &invalid_cases[i];
        int splits_ok = 1;
        PK_TEST_OK(!pk_utf8_valid(t->bytes, t->len),
                   apr_psprintf(p, "invalid: %s", t->name));
        for (a = 0; a <= t->len; ++a)
            for (b = a; b <= t->len; ++b)
                splits_ok = splits_ok && !valid_in_pieces(t->bytes, t->len, a, b);
        PK_TEST_OK(splits_ok, apr_psprintf(p, "invalid in every 3-way split: %s", t->name));
    }

    /* Errors are reported at the first byte that cannot start valid text. */
    PK_TEST_INT(first_invalid("\xf4\x90\x80\x80", 4), 1, "F4 90: invalid at 90");
    PK_TEST_INT(first_invalid("\xed\xa0\x80", 3), 1, "ED A0: invalid at A0");
    PK_TEST_INT(first_invalid("\xe0\x80\x80", 3), 1, "E0 80: invalid at 80");
    PK_TEST_INT(first_invalid("\xf0\x8f\xbf\xbf", 4), 1, "F0 8F: invalid at 8F");
    PK_TEST_INT(first_invalid("\xc0\x80", 2), 0, "C0: invalid at once");
    PK_TEST_INT(first_invalid("ab\xf5", 3), 2, "F5: invalid at once");
    PK_TEST_INT(first_invalid("\xf0\x9f\x98\xc0", 4), 3, "broken 4-byte: at the 4th byte");
    PK_TEST_INT(first_invalid("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
                              "edited", 20), 12, "Autobahn 6.3.1: at the surrogate's A0");
    PK_TEST_INT(first_invalid("\xe2\x82", 2), -1, "truncated: no error while feeding");

    /* Incomplete vs complete. */
    {
        pk_utf8_state st = PK_UTF8_STATE_INIT;
        PK_TEST_OK(pk_utf8_complete(&st), "a new state is complete");
        PK_TEST_INT(pk_utf8_feed(&st, "\xe2\x82", 2), PK_UTF8_OK, "E2 82: ok so far");
        PK_TEST_OK(!pk_utf8_complete(&st), "E2 82: not complete");
        PK_TEST_INT(pk_utf8_feed(&st, "\xac", 1), PK_UTF8_OK, "then AC: ok");
        PK_TEST_OK(pk_utf8_complete(&st), "E2 82 AC: complete");
        PK_TEST_INT(pk_utf8_feed(&st, NULL, 0), PK_UTF8_OK, "empty feed (NULL) ok");
        PK_TEST_INT(pk_utf8_feed(&st, "\xc0", 1), PK_UTF8_INVALID, "then C0: invalid");
        PK_TEST_INT(pk_utf8_feed(&st, "abc", 3), PK_UTF8_INVALID, "invalid stays invalid");
        PK_TEST_OK(!pk_utf8_complete(&st), "an invalid state is not complete");
        pk_utf8_init(&st);
        PK_TEST_INT(pk_utf8_feed(&st, "abc", 3), PK_UTF8_OK, "init starts over");
        PK_TEST_OK(pk_utf8_complete(&st), "and is complete after ASCII");
    }

    /* Every code point, encoded, is valid; every surrogate is not. */
    {
        unsigned char buf[4];
        unsigned long cp, bad_valid = 0, bad_surrogate = 0;
        for (cp = 0; cp <= 0x10ffff; ++cp) {
            apr_size_t n = encode(cp, buf);
            int v = pk_utf8_valid(buf, n);
            if (cp >= 0xd800 && cp <= 0xdfff)
                bad_surrogate += v;
            else
                bad_valid += !v;
        }
        PK_TEST_INT(bad_valid, 0, "all 1,112,064 scalar values valid");
        PK_TEST_INT(bad_surrogate, 0, "all 2048 surrogates invalid");
    }

    /* Exhaustive against a decoding reference: all strings of 1 and 2 bytes, and all
     * 3-byte strings starting with a 3- or 4-byte lead (E0-F4). */
    {
        unsigned char s[3];
        unsigned long x, mismatches = 0;
        for (x = 0; x < 256; ++x) {
            s[0] = (unsigned char)x;
            mismatches += pk_utf8_valid(s, 1) != ref_valid(s, 1);
        }
        for (x = 0; x < 65536; ++x) {
            s[0] = (unsigned char)(x >> 8);
            s[1] = (unsigned char)x;
            mismatches += pk_utf8_valid(s, 2) != ref_valid(s, 2);
        }
        PK_TEST_INT(mismatches, 0, "all 1- and 2-byte strings agree with the reference");
        mismatches = 0;
        for (x = 0xe00000; x < 0xf50000; ++x) {
            s[0] = (unsigned char)(x >> 16);
            s[1] = (unsigned char)(x >> 8);
            s[2] = (unsigned char)x;
            mismatches += pk_utf8_valid(s, 3) != ref_valid(s, 3);
        }
        PK_TEST_INT(mismatches, 0, "3-byte strings E0xxxx-F4xxxx agree with the reference");
    }

    /* Long ASCII runs with a bad byte at each offset (the 8-byte fast path). */
    {
        char buf[64];
        apr_size_t off;
        int ok = 1;
        for (off = 0; off < sizeof(buf); ++off) {
            memset(buf, 'x', sizeof(buf));
            buf[off] = (char)0x80;
            ok = ok && first_invalid(buf, sizeof(buf)) == (long)off
                 && !pk_utf8_valid(buf, sizeof(buf));
        }
        PK_TEST_OK(ok, "stray 80 found at every offset of a 64-byte ASCII run");
        memset(buf, 'x', sizeof(buf));
        memcpy(buf + 61, "\xe2\x82\xac", 3);
        PK_TEST_OK(pk_utf8_valid(buf, sizeof(buf)), "euro at the end of an ASCII run");
        PK_TEST_OK(!pk_utf8_valid(buf, sizeof(buf) - 1), "same, cut inside the euro");
    }

    /* pk_utf8_seq: maximal subparts, as Unicode 3.9 Table 3-8 replaces them:
     * 61 | F1 80 80 | E1 80 | C2 | 62 | 80 | 63 | 80 | BF | 64 -> a, 3 x FFFD, b, ... */
    {
        static const unsigned char t38[] = { 0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2,
                                             0x62, 0x80, 0x63, 0x80, 0xBF, 0x64 };
        static const char *want = "1 !3 !2 !1 1 !1 1 !1 !1 1";
        char got[128] = "";
        apr_size_t at = 0, k, bad, used = 0;
        while (at < sizeof(t38) && used + 8 < sizeof(got)) {
            k = pk_utf8_seq(t38 + at, sizeof(t38) - at, &bad);
            used += (apr_size_t)snprintf(got + used, sizeof(got) - used, "%s%s%lu",
                                         used ? " " : "", k ? "" : "!",
                                         (unsigned long)(k ? k : bad));
            at += k ? k : bad;
        }
        PK_TEST_STR(got, want, "seq: the maximal subparts of Unicode's Table 3-8");
    }
    PK_TEST_OK(pk_utf8_seq("\xE2\x82\xAC", 3, &a) == 3, "seq: a euro is 3 bytes");
    PK_TEST_OK(pk_utf8_seq("\xE2\x82", 2, &a) == 0 && a == 2, "seq: cut by the end: bad 2");
    PK_TEST_OK(pk_utf8_seq("\xE0\x80\x80", 3, &a) == 0 && a == 1, "seq: overlong E0 80: bad 1");
    PK_TEST_OK(pk_utf8_seq("\xED\xA0\x80", 3, &a) == 0 && a == 1, "seq: surrogate ED A0: bad 1");
    PK_TEST_OK(pk_utf8_seq("\xF4\x90\x80\x80", 4, &a) == 0 && a == 1, "seq: above U+10FFFF: bad 1");
    PK_TEST_OK(pk_utf8_seq("\xF0\x9F\x98\x80", 4, &a) == 4, "seq: U+1F600 is 4 bytes");
    PK_TEST_OK(pk_utf8_seq("\xFF", 1, &a) == 0 && a == 1, "seq: FF: bad 1");

    /* pk_utf8_valid_prefix agrees with the automaton on every prefix of random input */
    {
        unsigned char buf[40];
        apr_size_t n, k, want_len;
        unsigned int seed = 12345;
        int ok = 1;
        pk_utf8_state st;
        for (n = 0; n < 20000 && ok; ++n) {
            for (k = 0; k < sizeof(buf); ++k) {
                seed = seed * 1103515245u + 12345u;
                /* mostly valid text: ASCII, continuation bytes and leads */
                buf[k] = (unsigned char)((seed >> 16) % 4 == 0 ? 'a' : (seed >> 8) & 0xff);
            }
            /* the longest prefix that is complete valid UTF-8 */
            for (want_len = sizeof(buf); ; --want_len) {
                pk_utf8_init(&st);
                if (pk_utf8_feed(&st, buf, want_len) == PK_UTF8_OK && pk_utf8_complete(&st))
                    break;
            }
            ok = pk_utf8_valid_prefix((const char *)buf, sizeof(buf)) == want_len;
        }
        PK_TEST_OK(ok, "valid_prefix: the longest valid prefix, on 20000 random inputs");
    }
    PK_TEST_INT(pk_utf8_valid_prefix("ab\xc3\xa9\xff", 5), 4, "valid_prefix stops at FF");
    PK_TEST_INT(pk_utf8_valid_prefix("ab\xc3", 3), 2, "valid_prefix stops at a cut sequence");
    PK_TEST_INT(pk_utf8_valid_prefix("", 0), 0, "valid_prefix of nothing");
    PK_TEST_INT(pk_utf8_valid_prefix("0123456789abcdef\xe2\x82\xac", 19), 19,
                "valid_prefix over an ASCII run and a euro");

    rc = PK_TEST_DONE();
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
