/* test_ws.c - unit tests of pk_ws.c (TAP). */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "pk_test.h"
#include "pk_ws.h"

#define FIN 0x80

static const unsigned char key1[4] = { 0x37, 0xfa, 0x21, 0x3d }; /* RFC 6455 5.7 */
static const unsigned char key2[4] = { 0x01, 0x80, 0xfe, 0x7f };

/* ------------------------------------------------------------------------- */
/* Building client streams                                                    */

/* A growing byte string. */
typedef struct {
    apr_pool_t *p;
    unsigned char *data;
    apr_size_t len, cap;
} stream_t;

static stream_t *stream_new(apr_pool_t *p)
{
    stream_t *s = apr_pcalloc(p, sizeof(*s));

    s->p = p;
    return s;
}

static void put(stream_t *s, const void *bytes, apr_size_t n)
{
    if (s->len + n > s->cap) {
        apr_size_t cap = s->cap ? s->cap : 256;
        unsigned char *d;
        while (cap < s->len + n)
            cap *= 2;
        d = apr_palloc(s->p, cap);
        if (s->len)
            memcpy(d, s->data, s->len);
        s->data = d;
        s->cap = cap;
    }
    if (n)
        memcpy(s->data + s->len, bytes, n);
    s->len += n;
}

/* Append a masked client frame: byte 0 is b0 (FIN, RSV, opcode), the payload length in
 * the shortest form (or in the 16/64-bit form if ext says 2/8), masked with key. */
static void frame_ext(stream_t *s, unsigned b0, const void *payload, apr_size_t len,
                      const unsigned char key[4], int ext)
{
    unsigned char h[14];
    apr_size_t n = 0, i;
    const unsigned char *pl = payload;

    h[n++] = (unsigned char)b0;
    if (ext == 0 && len < 126)
        h[n++] = (unsigned char)(0x80 | len);
    else if (ext != 8 && len <= 0xffff) {
        h[n++] = 0x80 | 126;
        h[n++] = (unsigned char)(len >> 8);
        h[n++] = (unsigned char)len;
    }
    else {
        h[n++] = 0x80 | 127;
        for (i = 0; i < 8; ++i)
            h[n++] = (unsigned char)((apr_uint64_t)len >> (56 - 8 * i));
    }
    memcpy(h + n, key, 4);
    n += 4;
    put(s, h, n);
    for (i = 0; i < len; ++i) {
        unsigned char c = pl[i] ^ key[i & 3];
        put(s, &c, 1);
    }
}

static void frame(stream_t *s, unsigned b0, const void *payload, apr_size_t len,
                  const unsigned char key[4])
{
    frame_ext(s, b0, payload, len, key, 0);
}

#define FRAME(s, b0, lit) frame((s), (b0), (lit), sizeof(lit) - 1, key2)

/* ------------------------------------------------------------------------- */
/* Reading: a transcript of the events                                        */

/* Append one payload to a transcript: printable ASCII as is, the rest as \xHH; over 64
 * bytes, only the length and an FNV-1a hash. */
static void describe(apr_pool_t *p, const char **t, const char *d, apr_size_t n)
{
    apr_size_t i;
    unsigned long h = 2166136261UL;

    if (n > 64) {
        for (i = 0; i < n; ++i)
            h = ((h ^ (unsigned char)d[i]) * 16777619UL) & 0xffffffffUL;
        *t = apr_psprintf(p, "%s%" APR_SIZE_T_FMT " bytes #%08lx", *t, n, h);
    }
    else {
        for (i = 0; i < n; ++i) {
            unsigned char c = (unsigned char)d[i];
            *t = (c >= 0x20 && c < 0x7f && c != '\\')
                     ? apr_psprintf(p, "%s%c", *t, c)
                     : apr_psprintf(p, "%s\\x%02x", *t, c);
        }
    }
}

/* Feed data[0..len) to a new reader (max bytes per message) in pieces of the sizes in
 * pieces[] (cycled; npieces 0 = all at once) and return the events as text, e.g.
 * "TEXT Hello|PING p|CLOSE 1000 bye|AFTER". Stops at an error ("ERROR 1002") or at
 * data after the close. Also checks the feed contract on every call. */
static const char *run(apr_pool_t *p, apr_size_t max, const void *data, apr_size_t len,
                       const apr_size_t *pieces, int npieces)
{
    static const char *const names[16] = { "CONT", "TEXT", "BINARY", "3", "4", "5", "6",
                                           "7", "CLOSE", "PING", "PONG" };
    const unsigned char *d = data;
    const char *t = "";
    apr_pool_t *rp;
    pk_ws_reader *r = NULL;
    pk_ws_message msg;
    apr_size_t pos = 0, end, consumed;
    int k = 0, done = 0;
    pk_ws_result res;

    apr_pool_create(&rp, p);
    if (pk_ws_reader_create(rp, max, &r) != APR_SUCCESS)
        return "create failed";
    while (!done && pos < len) {
        end = npieces ? pos + pieces[k++ % npieces] : len;
        if (end > len)
            end = len;
        while (!done && pos < end) {
            res = pk_ws_reader_feed(r, d + pos, end - pos, &consumed, &msg);
            if (consumed > end - pos)
                t = apr_pstrcat(p, t, "[consumed too much]", NULL);
            pos += consumed;
            switch (res) {
            case PK_WS_NEED_MORE:
                if (pos != end)
                    t = apr_pstrcat(p, t, "[need more but bytes left]", NULL);
                break;
            case PK_WS_MESSAGE:
                t = apr_psprintf(p, "%s%s%s ", t, *t ? "|" : "", names[msg.opcode & 15]);
                if (msg.opcode == PK_WS_OP_CLOSE)
                    t = apr_psprintf(p, "%s%d ", t, msg.close_code);
                if (msg.data == NULL || msg.data[msg.len] != '\0')
                    t = apr_pstrcat(p, t, "[no NUL]", NULL);
                else
                    describe(p, &t, msg.data, msg.len);
                break;
            case PK_WS_ERROR:
                t = apr_psprintf(p, "%s%sERROR %d", t, *t ? "|" : "", msg.close_code);
                if (msg.why == NULL || msg.data != NULL)
                    t = apr_pstrcat(p, t, "[bad error message]", NULL);
                done = 1;
                break;
            case PK_WS_AFTER_CLOSE:
                t = apr_psprintf(p, "%s%sAFTER", t, *t ? "|" : "");
                if (consumed != 0 || msg.why == NULL)
                    t = apr_pstrcat(p, t, "[bad after-close]", NULL);
                done = 1;
                break;
            }
        }
    }
    apr_pool_destroy(rp);
    return t;
}

/* One-shot transcript. */
static const char *run1(apr_pool_t *p, apr_size_t max, const stream_t *s)
{
    return run(p, max, s->data, s->len, NULL, 0);
}

/* Feed one byte at a time, then every 2-way split; count splits whose transcript
 * differs from want (the first is printed as a diagnostic). */
static int split_mismatches(apr_pool_t *p, apr_size_t max, const stream_t *s,
                            const char *want)
{
    static const apr_size_t one = 1;
    apr_size_t cut, pieces[2];
    int bad = 0;
    const char *got = run(p, max, s->data, s->len, &one, 1);

    if (strcmp(got, want) != 0) {
        printf("# byte by byte: %s\n", got);
        ++bad;
    }
    for (cut = 1; cut < s->len; ++cut) {
        apr_pool_t *sp;
        apr_pool_create(&sp, p);
        pieces[0] = cut;
        pieces[1] = s->len - cut;
        got = run(sp, max, s->data, s->len, pieces, 2);
        if (strcmp(got, want) != 0) {
            if (!bad)
                printf("# cut at %" APR_SIZE_T_FMT ": %s\n", cut, got);
            ++bad;
        }
        apr_pool_destroy(sp);
    }
    return bad;
}

/* ------------------------------------------------------------------------- */
/* Test groups                                                                */

static void test_handshake(apr_pool_t *p)
{
    PK_TEST_STR(pk_ws_accept_key(p, "dGhlIHNhbXBsZSBub25jZQ=="),
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 1.3 accept key");
    PK_TEST_STR(pk_ws_accept_key(p, "x3JJHMbDL1EzLkh9GBhXDw=="),
                "HSmrc0sMlYUkAGmm5OPpG2HaGWk=", "RFC 6455 1.2 (draft) example key");
    PK_TEST_STR(pk_ws_accept_key(p, NULL), NULL, "NULL key: NULL");

    PK_TEST_OK(pk_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=="), "RFC key is valid");
    PK_TEST_OK(pk_ws_key_valid("AAAAAAAAAAAAAAAAAAAAAA=="), "16 zero bytes");
    PK_TEST_OK(pk_ws_key_valid("+/+/+/+/+/+/+/+/+/+/+w=="), "+ and / allowed");
    PK_TEST_OK(!pk_ws_key_valid(NULL), "NULL invalid");
    PK_TEST_OK(!pk_ws_key_valid(""), "empty invalid");
    PK_TEST_OK(!pk_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ="), "23 chars invalid");
    PK_TEST_OK(!pk_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==="), "25 chars invalid");
    PK_TEST_OK(!pk_ws_key_valid("AAAAAAAAAAAAAAAAAAAAAAAA"), "18 bytes (no padding) invalid");
    PK_TEST_OK(!pk_ws_key_valid("AAAAAAAAAAAAAAAAAAAAA==="), "15 bytes + 3 pads invalid");
    PK_TEST_OK(!pk_ws_key_valid(" GhlIHNhbXBsZSBub25jZQ=="), "space invalid");
    PK_TEST_OK(!pk_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ== "), "trailing space invalid");
    PK_TEST_OK(!pk_ws_key_valid("dGhlIHNhbXBsZSBub25jZ-_=="), "URL-safe alphabet invalid");
    PK_TEST_OK(!pk_ws_key_valid("dGhlIHNh=XBsZSBub25jZQ=="), "'=' inside invalid");
    PK_TEST_OK(!pk_ws_key_valid("dGhlIHNhbXBsZSBub25j\xc3\xa9=="), "non-ASCII invalid");
}

static void test_close_codes(apr_pool_t *p)
{
    static const int valid[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                 3000, 3999, 4000, 4999 };
    static const int invalid[] = { -1, 0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015,
                                   1016, 1100, 2000, 2999, 5000, 65535 };
    apr_size_t i;

    for (i = 0; i < sizeof(valid) / sizeof(valid[0]); ++i)
        PK_TEST_OK(pk_ws_close_code_valid(valid[i]),
                   apr_psprintf(p, "close code %d valid", valid[i]));
    for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); ++i)
        PK_TEST_OK(!pk_ws_close_code_valid(invalid[i]),
                   apr_psprintf(p, "close code %d invalid", invalid[i]));
}

/* The examples of RFC 6455 section 5.7, byte for byte. */
static void test_rfc_examples(apr_pool_t *p)
{
    static const unsigned char hello_unmasked[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c,
                                                    0x6f };
    static const unsigned char hello_masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
                                                  0x9f, 0x4d, 0x51, 0x58 };
    static const unsigned char pong_masked[] = { 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
                                                 0x9f, 0x4d, 0x51, 0x58 };
    static const unsigned char ping_unmasked[] = { 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c,
                                                   0x6f };
    stream_t *s = stream_new(p);
    const char *f;
    apr_size_t n;

    PK_TEST_STR(run(p, 1000, hello_masked, sizeof(hello_masked), NULL, 0), "TEXT Hello",
                "5.7 masked text 'Hello'");
    PK_TEST_STR(run(p, 1000, pong_masked, sizeof(pong_masked), NULL, 0), "PONG Hello",
                "5.7 masked pong 'Hello'");
    PK_TEST_STR(run(p, 1000, hello_unmasked, sizeof(hello_unmasked), NULL, 0), "ERROR 1002",
                "5.7 unmasked text from a client: 1002");
    PK_TEST_STR(run(p, 1000, ping_unmasked, sizeof(ping_unmasked), NULL, 0), "ERROR 1002",
                "5.7 unmasked ping from a client: 1002");

    /* Fragmented "Hel" + "lo" (5.7, masked here). */
    frame(s, 0x01, "Hel", 3, key1);
    frame(s, 0x80, "lo", 2, key1);
    PK_TEST_STR(run1(p, 1000, s), "TEXT Hello", "5.7 fragmented 'Hel' + 'lo'");
    PK_TEST_INT(split_mismatches(p, 1000, s, "TEXT Hello"), 0,
                "'Hel' + 'lo': same in every split");

    /* The server side of the same examples. */
    PK_TEST_INT(pk_ws_frame(p, PK_WS_OP_TEXT, "Hello", 5, &f, &n), APR_SUCCESS,
                "build text 'Hello'");
    PK_TEST_OK(n == sizeof(hello_unmasked) && !memcmp(f, hello_unmasked, n),
               "text 'Hello' = 81 05 48 65 6c 6c 6f");
    PK_TEST_INT(pk_ws_frame(p, PK_WS_OP_PING, "Hello", 5, &f, &n), APR_SUCCESS,
                "build ping 'Hello'");
    PK_TEST_OK(n == sizeof(ping_unmasked) && !memcmp(f, ping_unmasked, n),
               "ping 'Hello' = 89 05 48 65 6c 6c 6f");
    {
        unsigned char h[PK_WS_MAX_HEADER];
        PK_TEST_INT(pk_ws_frame_header(h, PK_WS_OP_TEXT, 0, 3), 2, "header 'Hel' 2 bytes");
        PK_TEST_OK(h[0] == 0x01 && h[1] == 0x03, "5.7 first fragment header 01 03");
        PK_TEST_INT(pk_ws_frame_header(h, PK_WS_OP_CONT, 1, 2), 2, "header 'lo' 2 bytes");
        PK_TEST_OK(h[0] == 0x80 && h[1] == 0x02, "5.7 last fragment header 80 02");
        PK_TEST_INT(pk_ws_frame_header(h, PK_WS_OP_BINARY, 1, 256), 4, "256 bytes: 4");
        PK_TEST_OK(h[0] == 0x82 && h[1] == 0x7e && h[2] == 0x01 && h[3] == 0x00,
                   "5.7 256-byte binary header 82 7E 01 00");
        PK_TEST_INT(pk_ws_frame_header(h, PK_WS_OP_BINARY, 1, 65536), 10, "64 KiB: 10");
        PK_TEST_OK(h[0] == 0x82 && h[1] == 0x7f && !memcmp(h + 2, "\0\0\0\0\0\1\0\0", 8),
                   "5.7 64 KiB binary header 82 7F 00 00 00 00 00 01 00 00");
    }
}

static void test_builder(apr_pool_t *p)
{
    unsigned char h[PK_WS_MAX_HEADER];
    const char *f;
    apr_size_t n;

    PK_TEST_INT(pk_ws_frame_header(h, PK_WS_OP_TEXT, 1, 0), 2, "length 0: 7-bit");
    PK_TEST_INT(pk_ws_frame_header(h, PK_WS_OP_TEXT, 1, 125), 2, "length 125: 7-bit");
    PK_TEST_INT(h[1], 125, "length 125 in byte 1");
    PK_TEST_INT(pk_ws_frame_header(h, PK_WS_OP_TEXT, 1, 126), 4, "length 126: 16-bit");
    PK_TEST_OK(h[1] == 126 && h[2] == 0 && h[3] == 126, "126 = 7E 00 7E");
    PK_TEST_INT(pk_ws_frame_header(h, PK_WS_OP_TEXT, 1, 65535), 4, "length 65535: 16-bit");
    PK_TEST_OK(h[1] == 126 && h[2] == 0xff && h[3] == 0xff, "65535 = 7E FF FF");
    PK_TEST_INT(pk_ws_frame_header(h, PK_WS_OP_TEXT, 1, APR_UINT64_C(0x7fffffffffffffff)),
                10, "length 2^63-1: 64-bit");
    PK_TEST_OK(h[1] == 127 && h[2] == 0x7f && h[9] == 0xff, "2^63-1 big-endian");
    memset(h, 0xaa, sizeof(h));
    PK_TEST_INT(pk_ws_frame_header(h, PK_WS_OP_BINARY, 1, APR_UINT64_C(1) << 63), 0,
                "length 2^63 refused");
    PK_TEST_INT(h[0], 0xaa, "refused: header untouched");
    PK_TEST_INT(pk_ws_frame_header(h, PK_WS_OP_PING, 1, 126), 0, "ping of 126 refused");
    PK_TEST_INT(pk_ws_frame_header(h, PK_WS_OP_PING, 0, 1), 0, "ping without FIN refused");
    PK_TEST_INT(pk_ws_frame_header(h, PK_WS_OP_CLOSE, 1, 125), 2, "close of 125 ok");
    PK_TEST_INT(pk_ws_frame_header(h, 3, 1, 1), 0, "opcode 3 refused");
    PK_TEST_INT(pk_ws_frame_header(h, 0xb, 1, 1), 0, "opcode 0xB refused");

    PK_TEST_INT(pk_ws_frame(p, PK_WS_OP_TEXT, "\xc3\x28", 2, &f, &n), APR_EINVAL,
                "text frame of invalid UTF-8 refused");
    PK_TEST_OK(f == NULL && n == 0, "refused: NULL, 0");
    PK_TEST_INT(pk_ws_frame(p, PK_WS_OP_CLOSE, "\x03\xe8", 2, &f, &n), APR_EINVAL,
                "pk_ws_frame refuses close (use pk_ws_close_frame)");
    PK_TEST_INT(pk_ws_frame(p, PK_WS_OP_CONT, "a", 1, &f, &n), APR_EINVAL,
                "pk_ws_frame refuses continuation");
    PK_TEST_INT(pk_ws_frame(p, PK_WS_OP_BINARY, NULL, 1, &f, &n), APR_EINVAL,
                "NULL payload with length 1 refused");
    PK_TEST_INT(pk_ws_frame(p, PK_WS_OP_PONG, NULL, 0, &f, &n), APR_SUCCESS,
                "empty pong");
    PK_TEST_OK(n == 2 && !memcmp(f, "\x8a\x00", 2), "empty pong = 8A 00");
    {
        char big[126];
        memset(big, 'x', sizeof(big));
        PK_TEST_INT(pk_ws_frame(p, PK_WS_OP_PING, big, 126, &f, &n), APR_EINVAL,
                    "ping of 126 bytes refused");
        PK_TEST_INT(pk_ws_frame(p, PK_WS_OP_PING, big, 125, &f, &n), APR_SUCCESS,
                    "ping of 125 bytes");
        PK_TEST_INT(n, 127, "ping of 125 bytes: 127 on the wire");
    }

    PK_TEST_INT(pk_ws_close_frame(p, 1000, "bye", &f, &n), APR_SUCCESS, "close 1000 bye");
    PK_TEST_OK(n == 7 && !memcmp(f, "\x88\x05\x03\xe8" "bye", 7), "= 88 05 03 E8 'bye'");
    PK_TEST_INT(pk_ws_close_frame(p, PK_WS_CLOSE_TOO_BIG, NULL, &f, &n), APR_SUCCESS,
                "close 1009 without reason");
    PK_TEST_OK(n == 4 && !memcmp(f, "\x88\x02\x03\xf1", 4), "= 88 02 03 F1");
    PK_TEST_INT(pk_ws_close_frame(p, 0, NULL, &f, &n), APR_SUCCESS, "empty close");
    PK_TEST_OK(n == 2 && !memcmp(f, "\x88\x00", 2), "= 88 00");
    PK_TEST_INT(pk_ws_close_frame(p, 0, "why", &f, &n), APR_EINVAL,
                "reason without code refused");
    PK_TEST_INT(pk_ws_close_frame(p, 1005, NULL, &f, &n), APR_EINVAL, "code 1005 refused");
    PK_TEST_INT(pk_ws_close_frame(p, 1006, NULL, &f, &n), APR_EINVAL, "code 1006 refused");
    PK_TEST_INT(pk_ws_close_frame(p, 1000, "\xed\xa0\x80", &f, &n), APR_EINVAL,
                "reason with a surrogate refused");
    {
        char reason[125];
        memset(reason, 'r', sizeof(reason));
        reason[123] = '\0';
        PK_TEST_INT(pk_ws_close_frame(p, 4000, reason, &f, &n), APR_SUCCESS,
                    "reason of 123 bytes");
        PK_TEST_INT(n, 127, "close with 123-byte reason: 127 on the wire");
        reason[123] = 'r';
        reason[124] = '\0';
        PK_TEST_INT(pk_ws_close_frame(p, 4000, reason, &f, &n), APR_EINVAL,
                    "reason of 124 bytes refused");
    }
}

/* Server frames turned into client frames (mask added) read back as they were built. */
static void test_round_trip(apr_pool_t *p)
{
    static const apr_size_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, 70000 };
    apr_size_t i, j, n, hl;
    int ok = 1;

    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); ++i) {
        apr_pool_t *sp;
        char *payload;
        const char *f, *want, *got;
        stream_t *s;
        unsigned char b1;

        apr_pool_create(&sp, p);
        payload = apr_palloc(sp, lens[i] + 1);
        for (j = 0; j < lens[i]; ++j)
            payload[j] = (char)(j * 7 + 3);
        pk_ws_frame(sp, PK_WS_OP_BINARY, payload, lens[i], &f, &n);
        hl = n - lens[i];
        s = stream_new(sp);
        b1 = (unsigned char)(f[1] | 0x80);
        put(s, f, 1);
        put(s, &b1, 1);
        put(s, f + 2, hl - 2);
        put(s, key1, 4);
        for (j = 0; j < lens[i]; ++j) {
            unsigned char c = (unsigned char)f[hl + j] ^ key1[j & 3];
            put(s, &c, 1);
        }
        want = "BINARY ";
        describe(sp, &want, payload, lens[i]);
        got = run1(sp, 70000, s);
        if (strcmp(got, want) != 0) {
            printf("# length %" APR_SIZE_T_FMT ": %s\n", lens[i], got);
            ok = 0;
        }
        apr_pool_destroy(sp);
    }
    PK_TEST_OK(ok, "built frames of 0..70000 bytes (7/16/64-bit) read back");
}

/* A stream of many frames, fed whole, one byte at a time, and in every 2-way split. */
static void test_splits(apr_pool_t *p)
{
    stream_t *s = stream_new(p);
    unsigned char bin[300];
    const char *want, *got;
    apr_size_t i;

    for (i = 0; i < sizeof(bin); ++i)
        bin[i] = (unsigned char)i;
    frame(s, 0x81, "Hello", 5, key1);
    FRAME(s, 0x01, "Hel");
    FRAME(s, 0x89, "p");
    FRAME(s, 0x00, "lo \xe2\x82");        /* euro split across fragments ... */
    FRAME(s, 0x8a, "");                   /* ... with a pong in between */
    FRAME(s, 0x80, "\xac!");
    frame(s, 0x82, bin, sizeof(bin), key1); /* 16-bit length */
    FRAME(s, 0x81, "");
    FRAME(s, 0x02, "ab");
    FRAME(s, 0x00, "");
    FRAME(s, 0x80, "c");
    frame_ext(s, 0x81, "long form", 9, key2, 8); /* 64-bit length for 9 bytes */
    FRAME(s, 0x88, "\x03\xe8" "bye");
    FRAME(s, 0x81, "late");
    want = "TEXT Hello|PING p|PONG |TEXT Hello \\xe2\\x82\\xac!|BINARY ";
    describe(p, &want, (const char *)bin, sizeof(bin));
    want = apr_pstrcat(p, want, "|TEXT |BINARY abc|TEXT long form|CLOSE 1000 bye|AFTER",
                       NULL);
    got = run1(p, 1000, s);
    PK_TEST_STR(got, want, "multi-frame stream, one shot");
    PK_TEST_INT(split_mismatches(p, 1000, s, want), 0,
                "multi-frame stream: same byte by byte and in every 2-way split");

    /* An error after valid messages, also in every split. */
    s = stream_new(p);
    FRAME(s, 0x81, "ok");
    FRAME(s, 0x01, "\xce\xba");
    FRAME(s, 0x89, "");
    FRAME(s, 0x80, "\xe1\xbd\xb9\xed\xa0\x80 tail"); /* surrogate mid-frame */
    want = "TEXT ok|PING |ERROR 1007";
    PK_TEST_STR(run1(p, 1000, s), want, "UTF-8 error after valid frames");
    PK_TEST_INT(split_mismatches(p, 1000, s, want), 0, "UTF-8 error: same in every split");

    /* A 64-bit length message (70000 bytes), one byte at a time and in a few splits. */
    {
        static const apr_size_t one = 1, odd[] = { 997, 3, 4096, 1 };
        char *big = apr_palloc(p, 70000);
        memset(big, 'z', 70000);
        memcpy(big + 69998, "\xc3\xa9", 2);
        s = stream_new(p);
        frame(s, 0x81, big, 70000, key2);
        want = "TEXT ";
        describe(p, &want, big, 70000);
        PK_TEST_STR(run1(p, 70000, s), want, "70000-byte text (64-bit length), one shot");
        PK_TEST_STR(run(p, 70000, s->data, s->len, &one, 1), want,
                    "70000-byte text, byte by byte");
        PK_TEST_STR(run(p, 70000, s->data, s->len, odd, 4), want,
                    "70000-byte text, pieces of 997, 3, 4096, 1");
    }
}

static void test_errors(apr_pool_t *p)
{
    stream_t *s;
    static const unsigned char rsv[] = { 0x40, 0x20, 0x10 };
    int i;

#define ONE(b0, lit, want, name)          \
    do {                                  \
        s = stream_new(p);                \
        FRAME(s, (b0), lit);              \
        PK_TEST_STR(run1(p, 100, s), (want), (name)); \
    } while (0)

    for (i = 0; i < 3; ++i) {
        s = stream_new(p);
        FRAME(s, 0x81 | rsv[i], "x");
        PK_TEST_STR(run1(p, 100, s), "ERROR 1002", apr_psprintf(p, "RSV bit %02x: 1002",
                                                                rsv[i]));
    }
    for (i = 3; i < 16; ++i) {
        if (i >= 8 && i <= 10)
            continue;
        s = stream_new(p);
        FRAME(s, 0x80 | (unsigned)i, "x");
        PK_TEST_STR(run1(p, 100, s), "ERROR 1002", apr_psprintf(p, "opcode %d: 1002", i));
    }
    ONE(0x09, "p", "ERROR 1002", "ping without FIN: 1002");
    ONE(0x0a, "p", "ERROR 1002", "pong without FIN: 1002");
    ONE(0x08, "\x03\xe8", "ERROR 1002", "close without FIN: 1002");
    ONE(0x80, "x", "ERROR 1002", "continuation with no message: 1002");
    ONE(0x00, "x", "ERROR 1002", "non-final continuation with no message: 1002");

    s = stream_new(p);
    FRAME(s, 0x01, "a");
    FRAME(s, 0x81, "b");
    PK_TEST_STR(run1(p, 100, s), "ERROR 1002", "text while a message is open: 1002");
    s = stream_new(p);
    FRAME(s, 0x02, "a");
    FRAME(s, 0x82, "b");
    PK_TEST_STR(run1(p, 100, s), "ERROR 1002", "binary while a message is open: 1002");
    s = stream_new(p);
    FRAME(s, 0x81, "a");
    FRAME(s, 0x80, "b");
    PK_TEST_STR(run1(p, 100, s), "TEXT a|ERROR 1002",
                "continuation after a finished message: 1002");

    {
        char c126[126];
        memset(c126, 'c', sizeof(c126));
        s = stream_new(p);
        frame(s, 0x89, c126, 126, key1);
        PK_TEST_STR(run1(p, 1000, s), "ERROR 1002", "ping of 126 bytes: 1002");
        s = stream_new(p);
        frame(s, 0x89, c126, 125, key1);
        PK_TEST_OK(!strncmp(run1(p, 1000, s), "PING 125 bytes #", 16), "ping of 125 bytes ok");
        s = stream_new(p);
        frame(s, 0x8a, c126, 126, key1);
        PK_TEST_STR(run1(p, 1000, s), "ERROR 1002", "pong of 126 bytes: 1002");
        s = stream_new(p);
        c126[0] = 0x03;
        c126[1] = (char)0xe8;
        frame(s, 0x88, c126, 126, key1);
        PK_TEST_STR(run1(p, 1000, s), "ERROR 1002", "close of 126 bytes: 1002");
    }
    {
        /* 64-bit length with the top bit set: an error from the header alone. */
        static const unsigned char h[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0 };
        static const unsigned char h2[] = { 0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff,
                                            0xff, 0xff, 0xff };
        PK_TEST_STR(run(p, 100, h, sizeof(h), NULL, 0), "ERROR 1002",
                    "64-bit length with the top bit: 1002 at once");
        PK_TEST_STR(run(p, APR_SIZE_MAX, h2, sizeof(h2), NULL, 0), "ERROR 1009",
                    "64-bit length 2^63-1: 1009 at once even with no maximum");
    }
    {
        /* Unmasked: known at byte 1. */
        static const unsigned char h[] = { 0x81, 0x05 };
        PK_TEST_STR(run(p, 100, h, 2, NULL, 0), "ERROR 1002", "unmasked: 1002 at byte 1");
    }
    {
        /* Errors are final: every later call says the same, consuming nothing. */
        apr_pool_t *rp;
        pk_ws_reader *r;
        pk_ws_message m;
        apr_size_t c;
        apr_pool_create(&rp, p);
        pk_ws_reader_create(rp, 100, &r);
        PK_TEST_INT(pk_ws_reader_feed(r, "\xc1\x80", 2, &c, &m), PK_WS_ERROR,
                    "RSV1: error");
        PK_TEST_INT(c, 1, "error at byte 0: 1 byte consumed");
        PK_TEST_INT(m.close_code, 1002, "code 1002");
        PK_TEST_STR(m.why, "reserved bits set (no extension was negotiated)", "why");
        PK_TEST_INT(pk_ws_reader_feed(r, "\x81\x80", 2, &c, &m), PK_WS_ERROR,
                    "then a valid frame: still error");
        PK_TEST_OK(c == 0 && m.close_code == 1002, "still 1002, nothing consumed");
        PK_TEST_INT(pk_ws_reader_feed(r, NULL, 0, &c, &m), PK_WS_ERROR,
                    "empty feed: still error");
        apr_pool_destroy(rp);
    }
#undef ONE
}

static void test_close(apr_pool_t *p)
{
    stream_t *s;
    char reason[125];

#define CLOSE(lit, want, name)                        \
    do {                                              \
        s = stream_new(p);                            \
        FRAME(s, 0x88, lit);                          \
        PK_TEST_STR(run1(p, 100, s), (want), (name)); \
    } while (0)

    CLOSE("", "CLOSE 1005 ", "empty close: reported as 1005");
    CLOSE("\x03", "ERROR 1002", "close with 1 byte: 1002");
    CLOSE("\x03\xe8", "CLOSE 1000 ", "close 1000");
    CLOSE("\x03\xe8" "bye", "CLOSE 1000 bye", "close 1000 'bye'");
    CLOSE("\x03\xe9", "CLOSE 1001 ", "close 1001");
    CLOSE("\x03\xf3", "CLOSE 1011 ", "close 1011");
    CLOSE("\x0b\xb8", "CLOSE 3000 ", "close 3000");
    CLOSE("\x13\x87", "CLOSE 4999 ", "close 4999");
    CLOSE("\x00\x00", "ERROR 1002", "close code 0: 1002");
    CLOSE("\x03\xe7", "ERROR 1002", "close code 999: 1002");
    CLOSE("\x03\xec", "ERROR 1002", "close code 1004: 1002");
    CLOSE("\x03\xed", "ERROR 1002", "close code 1005: 1002");
    CLOSE("\x03\xee", "ERROR 1002", "close code 1006: 1002");
    CLOSE("\x03\xf4", "ERROR 1002", "close code 1012: 1002");
    CLOSE("\x03\xf7", "ERROR 1002", "close code 1015: 1002");
    CLOSE("\x0b\xb7", "ERROR 1002", "close code 2999: 1002");
    CLOSE("\x13\x88", "ERROR 1002", "close code 5000: 1002");
    CLOSE("\xff\xff", "ERROR 1002", "close code 65535: 1002");
    CLOSE("\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
          "CLOSE 1000 \\xce\\xba\\xe1\\xbd\\xb9\\xcf\\x83\\xce\\xbc\\xce\\xb5",
          "close reason in Greek");
    CLOSE("\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
          "ERROR 1007", "close reason with a surrogate: 1007");
    CLOSE("\x03\xe8\xe2\x82", "ERROR 1007", "close reason cut inside a code point: 1007");
    CLOSE("\x03\xec\xff", "ERROR 1002", "bad code and bad reason: the code (1002) first");

    memset(reason, 'r', sizeof(reason));
    reason[0] = 0x03;
    reason[1] = (char)0xe8;
    s = stream_new(p);
    frame(s, 0x88, reason, 125, key1);
    PK_TEST_OK(!strncmp(run1(p, 100, s), "CLOSE 1000 123 bytes #", 22),
               "close of 125 bytes (123-byte reason) ok");

    /* Data after the close frame. */
    {
        apr_pool_t *rp;
        pk_ws_reader *r;
        pk_ws_message m;
        apr_size_t c;
        apr_pool_create(&rp, p);
        pk_ws_reader_create(rp, 100, &r);
        s = stream_new(p);
        FRAME(s, 0x88, "\x03\xe8" "bye");
        FRAME(s, 0x81, "more");
        PK_TEST_INT(pk_ws_reader_feed(r, s->data, s->len, &c, &m), PK_WS_MESSAGE, "close");
        PK_TEST_INT(c, 11, "consumed exactly the close frame");
        PK_TEST_OK(m.opcode == PK_WS_OP_CLOSE && m.close_code == 1000 && m.len == 3
                   && !memcmp(m.data, "bye", 4), "close 1000 'bye'");
        PK_TEST_INT(pk_ws_reader_feed(r, s->data + c, s->len - c, &c, &m),
                    PK_WS_AFTER_CLOSE, "then the rest: after close");
        PK_TEST_OK(c == 0 && m.why != NULL, "nothing consumed, a reason given");
        PK_TEST_INT(pk_ws_reader_feed(r, NULL, 0, &c, &m), PK_WS_NEED_MORE,
                    "after close, an empty feed: need more");
        apr_pool_destroy(rp);
    }
#undef CLOSE
}

static void test_utf8(apr_pool_t *p)
{
    stream_t *s;

#define TEXT2(a, b, want, name)                       \
    do {                                              \
        s = stream_new(p);                            \
        FRAME(s, 0x01, a);                            \
        FRAME(s, 0x80, b);                            \
        PK_TEST_STR(run1(p, 100, s), (want), (name)); \
    } while (0)
#define TEXT1(a, want, name)                          \
    do {                                              \
        s = stream_new(p);                            \
        FRAME(s, 0x81, a);                            \
        PK_TEST_STR(run1(p, 100, s), (want), (name)); \
    } while (0)

    TEXT2("\xe2\x82", "\xac", "TEXT \\xe2\\x82\\xac", "euro split 2+1 across fragments");
    TEXT2("\xf0", "\x9f\x98\x80", "TEXT \\xf0\\x9f\\x98\\x80", "emoji split 1+3");
    TEXT2("\xe2\x82", "\x28", "ERROR 1007", "E2 82 + 28 across fragments: 1007");
    TEXT2("\xed", "\xa0\x80", "ERROR 1007", "surrogate split across fragments: 1007");
    TEXT2("\xf4", "\x90\x80\x80", "ERROR 1007", "F4 + 90 80 80 across fragments: 1007");
    TEXT2("ok", "\xe2\x82", "ERROR 1007", "message ends inside a code point: 1007");
    TEXT1("\xc0\x80", "ERROR 1007", "overlong NUL: 1007");
    TEXT1("\xe0\x80\xaf", "ERROR 1007", "overlong '/' (3 bytes): 1007");
    TEXT1("\xf0\x8f\xbf\xbf", "ERROR 1007", "overlong U+FFFF: 1007");
    TEXT1("\xed\xbf\xbf", "ERROR 1007", "U+DFFF: 1007");
    TEXT1("\xf4\x90\x80\x80", "ERROR 1007", "U+110000: 1007");
    TEXT1("\xf4\x8f\xbf\xbf", "TEXT \\xf4\\x8f\\xbf\\xbf", "U+10FFFF ok");
    TEXT1("\xff", "ERROR 1007", "FF: 1007");
    TEXT1("a\0b", "TEXT a\\x00b", "NUL inside text ok (len says so)");
    {
        /* Binary is never checked. */
        s = stream_new(p);
        FRAME(s, 0x82, "\xff\xc0");
        PK_TEST_STR(run1(p, 100, s), "BINARY \\xff\\xc0", "binary is not UTF-8 checked");
    }
    {
        /* Reported as soon as the bad byte arrives, not at the end of the frame. */
        apr_pool_t *rp;
        pk_ws_reader *r;
        pk_ws_message m;
        apr_size_t c;
        char body[50];
        apr_pool_create(&rp, p);
        pk_ws_reader_create(rp, 100, &r);
        memset(body, 'a', sizeof(body));
        memcpy(body + 10, "\xf4\x90", 2);
        s = stream_new(p);
        frame(s, 0x81, body, sizeof(body), key1);
        PK_TEST_INT(pk_ws_reader_feed(r, s->data, 6 + 11, &c, &m), PK_WS_NEED_MORE,
                    "up to F4: fine");
        PK_TEST_INT(pk_ws_reader_feed(r, s->data + 17, 1, &c, &m), PK_WS_ERROR,
                    "the 90 after F4: error at once, 38 bytes before the frame ends");
        PK_TEST_INT(m.close_code, 1007, "code 1007");
        apr_pool_destroy(rp);
    }
#undef TEXT1
#undef TEXT2
}

static void test_limits(apr_pool_t *p)
{
    stream_t *s;
    char buf[300];
    const char *want;

    memset(buf, 'm', sizeof(buf));
    s = stream_new(p);
    frame(s, 0x82, buf, 10, key1);
    PK_TEST_STR(run1(p, 10, s), "BINARY mmmmmmmmmm", "10 bytes, max 10: ok");
    s = stream_new(p);
    frame(s, 0x82, buf, 11, key1);
    PK_TEST_STR(run1(p, 10, s), "ERROR 1009", "11 bytes, max 10: 1009");
    s = stream_new(p);
    frame(s, 0x01, buf, 5, key1);
    frame(s, 0x80, buf, 5, key1);
    PK_TEST_STR(run1(p, 10, s), "TEXT mmmmmmmmmm", "5+5 fragments, max 10: ok");
    s = stream_new(p);
    frame(s, 0x01, buf, 5, key1);
    frame(s, 0x89, buf, 100, key1);
    frame(s, 0x80, buf, 5, key1);
    want = "PING ";
    describe(p, &want, buf, 100);
    want = apr_pstrcat(p, want, "|TEXT mmmmmmmmmm", NULL);
    PK_TEST_STR(run1(p, 10, s), want,
                "a 100-byte ping between fragments does not count toward the maximum");
    s = stream_new(p);
    frame(s, 0x01, buf, 5, key1);
    frame(s, 0x80, buf, 6, key1);
    PK_TEST_STR(run1(p, 10, s), "ERROR 1009", "5+6 fragments, max 10: 1009");
    s = stream_new(p);
    frame(s, 0x82, buf, 0, key1);
    PK_TEST_STR(run1(p, 0, s), "BINARY ", "max 0: an empty message is ok");
    s = stream_new(p);
    frame(s, 0x82, buf, 300, key1);
    PK_TEST_STR(run1(p, 299, s), "ERROR 1009", "300 bytes (16-bit), max 299: 1009");
    {
        /* 1009 from the header alone: only the 2nd fragment's 2 header bytes are fed. */
        apr_pool_t *rp;
        pk_ws_reader *r;
        pk_ws_message m;
        apr_size_t c;
        apr_pool_create(&rp, p);
        pk_ws_reader_create(rp, 10, &r);
        s = stream_new(p);
        frame(s, 0x01, buf, 5, key1);
        frame(s, 0x80, buf, 6, key1);
        PK_TEST_INT(pk_ws_reader_feed(r, s->data, 11, &c, &m), PK_WS_NEED_MORE,
                    "first fragment: need more");
        PK_TEST_INT(pk_ws_reader_feed(r, s->data + 11, 2, &c, &m), PK_WS_ERROR,
                    "2 header bytes of the 2nd: error");
        PK_TEST_OK(m.close_code == 1009 && c == 2, "1009 before mask key or payload");
        apr_pool_destroy(rp);

        apr_pool_create(&rp, p);
        pk_ws_reader_create(rp, 65535, &r);
        s = stream_new(p);
        frame_ext(s, 0x82, buf, 1, key1, 8);
        s->data[9] = 0x00; /* length 65536 in 64 bits: 00 .. 01 00 00 */
        s->data[7] = 0x01;
        PK_TEST_INT(pk_ws_reader_feed(r, s->data, 10, &c, &m), PK_WS_ERROR,
                    "64-bit length 65536 over max 65535: error after 10 header bytes");
        PK_TEST_INT(m.close_code, 1009, "1009");
        apr_pool_destroy(rp);
    }
}

/* The virtual size of this process in bytes (Linux /proc), or 0 if unknown. APR may
 * take its memory with mmap(), so malloc statistics would not see it. */
static long vm_size(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0;

    if (f != NULL) {
        if (fscanf(f, "%ld", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return pages * sysconf(_SC_PAGESIZE);
}

/* A reader that handled 200 messages of 200 KB holds no more memory than after the
 * first few: each message's buffer is released once the next feed starts. */
static void test_memory(apr_pool_t *p)
{
    apr_pool_t *rp;
    pk_ws_reader *r;
    pk_ws_message m;
    stream_t *s = stream_new(p);
    char *big = apr_palloc(p, 200000);
    apr_size_t c, pos, n, total = 0;
    long before = 0, grown;
    int i, msgs = 0, bad = 0;

    memset(big, 'q', 200000);
    frame(s, 0x82, big, 200000, key1);
    apr_pool_create(&rp, p);
    pk_ws_reader_create(rp, 1 << 20, &r);
    for (i = 0; i < 200; ++i) {
        if (i == 10)
            before = vm_size();
        for (pos = 0; pos < s->len; pos += c) {
            n = s->len - pos < 4096 ? s->len - pos : 4096;
            switch (pk_ws_reader_feed(r, s->data + pos, n, &c, &m)) {
            case PK_WS_MESSAGE:
                ++msgs;
                total += m.len;
                break;
            case PK_WS_NEED_MORE:
                break;
            default:
                ++bad;
                c = s->len - pos;
                break;
            }
        }
    }
    grown = vm_size() - before;
    PK_TEST_OK(msgs == 200 && bad == 0 && total == 200 * (apr_size_t)200000,
               "200 messages of 200 KB in 4 KB pieces");
    PK_TEST_OK(grown < 64 * 1024,
               apr_psprintf(p, "memory after 200 messages = after 10 (+%ld bytes)", grown));
    apr_pool_destroy(rp);
}

int main(void)
{
    apr_pool_t *p;
    int rc;

    apr_app_initialize(NULL, NULL, NULL);
    apr_pool_create(&p, NULL);

    test_handshake(p);
    test_close_codes(p);
    test_rfc_examples(p);
    test_builder(p);
    test_round_trip(p);
    test_splits(p);
    test_errors(p);
    test_close(p);
    test_utf8(p);
    test_limits(p);
    test_memory(p);

    rc = PK_TEST_DONE();
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
