/* fuzz_ws.c - libFuzzer harness for pk_ws.c and pk_utf8.c.
 *
 * Input: byte 0 picks the reader's maximum message size, byte 1 how many piece sizes
 * follow (1-8), those bytes the piece sizes (1-256, cycled); the rest is the client
 * byte stream. Each input is checked four ways:
 *   1. the stream read at once and read in those pieces give the same transcript
 *      (every event with its payload, the stream offset where each message ends, the
 *      final error), and both equal the transcript of a plain, non-incremental
 *      reference reader written here from RFC 6455;
 *   2. every event keeps the contract: text and close reasons are UTF-8, data is
 *      NUL-terminated, messages within the maximum, close codes valid;
 *   3. pk_utf8 on the stream as text, fed in the same pieces, agrees after every piece
 *      with a reference validator (code point intervals, not an automaton);
 *   4. a server frame built from the stream reads back (after masking) as the same
 *      binary message, and a text frame is built exactly when the stream is UTF-8;
 *      a close frame built from its first two bytes (code) and the rest (reason) is
 *      refused exactly when it may not be sent, and otherwise reads back as sent.
 * A broken invariant calls abort(), which libFuzzer reports as a crash.
 *
 * Built and run by `make fuzz` (tests/fuzz/fuzz_*.c). Seeds make it reach deeper at
 * once (masked frames with a zero key, so payloads are plain):
 *   mkdir -p build/fuzz/corpus-fuzz_ws && cd build/fuzz/corpus-fuzz_ws &&
 *   printf '\005\000\003\201\205\0\0\0\0Hello' > hello &&
 *   printf '\005\001\001\002\001\203\0\0\0\0Hel\211\200\0\0\0\0\200\202\0\0\0\0lo' > frag &&
 *   printf '\004\000\007\210\205\0\0\0\0\003\350bye' > close &&
 *   printf '\006\000\177\202\376\000\200\0\0\0\0%0128d' 0 > len16
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "pk_utf8.h"
#include "pk_ws.h"

#define REQUIRE(cond)                                                              \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "invariant broken at %s:%d: %s\n", __FILE__, __LINE__, \
                    #cond);                                                        \
            abort();                                                               \
        }                                                                          \
    } while (0)

static apr_pool_t *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_app_initialize(NULL, NULL, NULL);
    apr_pool_create(&root, NULL);
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Transcripts                                                                */

/* Event kinds in a transcript. */
enum { EV_MESSAGE = 'M', EV_ERROR = 'E', EV_AFTER = 'A' };

typedef struct {
    unsigned char *d;
    size_t len, cap;
} tbuf_t;

static void tput(tbuf_t *t, const void *bytes, size_t n)
{
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n)
            cap *= 2;
        t->d = realloc(t->d, cap);
        REQUIRE(t->d != NULL);
        t->cap = cap;
    }
    if (n)
        memcpy(t->d + t->len, bytes, n);
    t->len += n;
}

/* Whether two transcripts are equal. */
static int teq(const tbuf_t *a, const tbuf_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->d, b->d, a->len) == 0);
}

/* One event: kind, opcode, close code, stream offset (messages only), payload. */
static void tevent(tbuf_t *t, int kind, int opcode, int code, uint64_t off,
                   const void *data, uint64_t len)
{
    unsigned char h[3] = { (unsigned char)kind, (unsigned char)opcode, 0 };

    tput(t, h, 3);
    tput(t, &code, sizeof(code));
    tput(t, &off, sizeof(off));
    tput(t, &len, sizeof(len));
    tput(t, data, (size_t)len);
}

/* ------------------------------------------------------------------------- */
/* Reference UTF-8 validator                                                  */

/* 0: s[0..n) cannot begin valid UTF-8; 1: valid and complete; 2: valid so far, but
 * ends inside a code point. A (possibly partial) sequence can still become a scalar
 * value in [lo, hi] minus the surrogates iff the code points its completions reach -
 * the interval [cmin, cmax] got by filling the missing bits with 0s and 1s - meet that
 * set. */
static int ref_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0, need, have, j;
    unsigned long cmin, cmax, lo, hi, a, b;
    int res = 1;

    while (res != 0 && i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0xc0 && c <= 0xdf) { need = 2; cmin = c & 0x1f; lo = 0x80; hi = 0x7ff; }
        else if (c >= 0xe0 && c <= 0xef) { need = 3; cmin = c & 0x0f; lo = 0x800; hi = 0xffff; }
        else if (c >= 0xf0 && c <= 0xf7) { need = 4; cmin = c & 0x07; lo = 0x10000; hi = 0x10ffff; }
        else { res = 0; break; }
        have = n - i < need ? n - i : need;
        for (j = 1; j < have && res; ++j) {
            if ((s[i + j] & 0xc0) != 0x80)
                res = 0;
            cmin = (cmin << 6) | (s[i + j] & 0x3f);
        }
        if (!res)
            break;
        cmax = cmin;
        for (j = have; j < need; ++j) {
            cmin <<= 6;
            cmax = (cmax << 6) | 0x3f;
        }
        a = cmin > lo ? cmin : lo;
        b = cmax < hi ? cmax : hi;
        if (a > b || (a >= 0xd800 && b <= 0xdfff))
            res = 0;
        else if (have < need)
            res = 2;
        i += need;
    }
    return res;
}

/* ------------------------------------------------------------------------- */
/* Reference reader: the whole stream at once, straight from RFC 6455          */

static int ref_close_code_ok(int c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 3000 && c <= 4999);
}

static void ref_read(const unsigned char *s, size_t n, uint64_t max, tbuf_t *t)
{
    unsigned char *msg = malloc(n + 1), *pl = malloc(n + 1);
    size_t pos = 0, msg_len = 0, h, avail, i;
    int msg_op = 0, done = 0, err = 0;

    REQUIRE(msg && pl);
    while (!done && !err && pos < n) {
        unsigned b0, b1, op, fin, len7;
        uint64_t L = 0;
        int control;
        if (n - pos < 2) {
            /* byte 0 alone is checked at once */
            b0 = s[pos];
            op = b0 & 15;
            fin = b0 >> 7;
            control = (op & 8) != 0;
            if ((b0 & 0x70) || (op == 0 && !msg_op) || ((op == 1 || op == 2) && msg_op)
                || (control && !fin) || (op > 2 && op < 8) || op > 10)
                err = 1002;
            break;
        }
        b0 = s[pos];
        b1 = s[pos + 1];
        op = b0 & 15;
        fin = b0 >> 7;
        control = (op & 8) != 0;
        if ((b0 & 0x70) || (op == 0 && !msg_op) || ((op == 1 || op == 2) && msg_op)
            || (control && !fin) || (op > 2 && op < 8) || op > 10 || !(b1 & 0x80)) {
            err = 1002;
            break;
        }
        len7 = b1 & 0x7f;
        if (control && len7 > 125) {
            err = 1002;
            break;
        }
        h = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
        if (len7 < 126)
            L = len7;
        else if (n - pos < h)
            break;
        else
            for (i = pos + 2; i < pos + h; ++i)
                L = (L << 8) | s[i];
        if (L >> 63) {
            err = 1002;
            break;
        }
        if (!control && L > max - msg_len) {
            err = 1009;
            break;
        }
        if (n - pos < h + 4)
            break;
        avail = (size_t)((uint64_t)(n - pos - h - 4) < L ? (uint64_t)(n - pos - h - 4) : L);
        for (i = 0; i < avail; ++i)
            pl[i] = s[pos + h + 4 + i] ^ s[pos + h + (i & 3)];
        if (op == 1 || op == 2)
            msg_op = (int)op;
        if (!control) {
            memcpy(msg + msg_len, pl, avail);
            if (msg_op == 1 && ref_utf8(msg, msg_len + avail) == 0) {
                err = 1007;
                break;
            }
        }
        if (avail < L)
            break;
        pos += h + 4 + (size_t)L;
        if (op == 8) {
            int code = L >= 2 ? (pl[0] << 8) | pl[1] : 1005;
            if (L == 1 || (L >= 2 && !ref_close_code_ok(code)))
                err = 1002;
            else if (L >= 2 && ref_utf8(pl + 2, (size_t)L - 2) != 1)
                err = 1007;
            else {
                tevent(t, EV_MESSAGE, 8, code, pos, pl + (L >= 2 ? 2 : 0), L >= 2 ? L - 2 : 0);
                done = 1;
            }
        }
        else if (control)
            tevent(t, EV_MESSAGE, (int)op, 0, pos, pl, L);
        else {
            msg_len += (size_t)L;
            if (fin) {
                if (msg_op == 1 && ref_utf8(msg, msg_len) != 1) {
                    err = 1007;
                    break;
                }
                tevent(t, EV_MESSAGE, msg_op, 0, pos, msg, msg_len);
                msg_op = 0;
                msg_len = 0;
            }
        }
    }
    if (err)
        tevent(t, EV_ERROR, 0, err, 0, NULL, 0);
    else if (done && pos < n)
        tevent(t, EV_AFTER, 0, 0, 0, NULL, 0);
    free(msg);
    free(pl);
}

/* ------------------------------------------------------------------------- */
/* The reader under test                                                      */

/* Read s[0..n) in pieces (npieces 0: at once) into a transcript, checking contracts. */
static void ws_read(const unsigned char *s, size_t n, apr_size_t max,
                    const unsigned char *pieces, size_t npieces, tbuf_t *t)
{
    apr_pool_t *p;
    pk_ws_reader *r = NULL;
    pk_ws_message m;
    apr_size_t pos = 0, end, c;
    size_t k = 0;
    int done = 0;
    pk_ws_result res;

    apr_pool_create(&p, root);
    REQUIRE(pk_ws_reader_create(p, max, &r) == APR_SUCCESS && r != NULL);
    while (!done && pos < n) {
        end = npieces ? pos + (apr_size_t)pieces[k++ % npieces] + 1 : n;
        if (end > n)
            end = n;
        while (!done && pos < end) {
            res = pk_ws_reader_feed(r, s + pos, end - pos, &c, &m);
            REQUIRE(c <= end - pos);
            pos += c;
            switch (res) {
            case PK_WS_NEED_MORE:
                REQUIRE(pos == end && m.data == NULL && m.opcode == 0);
                break;
            case PK_WS_MESSAGE:
                REQUIRE(m.data != NULL && m.data[m.len] == '\0' && m.why == NULL);
                if (m.opcode == PK_WS_OP_TEXT || m.opcode == PK_WS_OP_BINARY)
                    REQUIRE(m.len <= max && m.close_code == 0);
                else
                    REQUIRE(m.len <= 125);
                if (m.opcode == PK_WS_OP_TEXT || m.opcode == PK_WS_OP_CLOSE)
                    REQUIRE(pk_utf8_valid(m.data, m.len) && ref_utf8((const unsigned char *)m.data, m.len) == 1);
                if (m.opcode == PK_WS_OP_CLOSE)
                    REQUIRE(pk_ws_close_code_valid(m.close_code)
                            || (m.close_code == PK_WS_CLOSE_NO_STATUS && m.len == 0));
                else
                    REQUIRE(m.close_code == 0);
                tevent(t, EV_MESSAGE, m.opcode, m.close_code, pos, m.data, m.len);
                break;
            case PK_WS_ERROR:
                REQUIRE(m.data == NULL && m.why != NULL);
                REQUIRE(m.close_code == 1002 || m.close_code == 1007 || m.close_code == 1009);
                tevent(t, EV_ERROR, 0, m.close_code, 0, NULL, 0);
                /* final: a second call says the same and consumes nothing */
                REQUIRE(pk_ws_reader_feed(r, s, n, &c, &m) == PK_WS_ERROR && c == 0);
                done = 1;
                break;
            case PK_WS_AFTER_CLOSE:
                REQUIRE(c == 0 && m.why != NULL);
                tevent(t, EV_AFTER, 0, 0, 0, NULL, 0);
                done = 1;
                break;
            default:
                REQUIRE(0);
            }
        }
    }
    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------------- */
/* pk_utf8 against the reference, piece by piece                              */

static void utf8_check(const unsigned char *s, size_t n, const unsigned char *pieces,
                       size_t npieces)
{
    pk_utf8_state st = PK_UTF8_STATE_INIT;
    size_t pos = 0, end, k = 0, lo = 1, hi = n + 1, mid;
    pk_utf8_result res;
    int ref = ref_utf8(s, n);

    /* bad: the shortest prefix that cannot begin valid UTF-8 (n + 1 if none); every
     * longer prefix cannot either, so a binary search finds it. */
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (ref_utf8(s, mid) == 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    REQUIRE((lo <= n) == (ref == 0));
    REQUIRE(pk_utf8_valid(s, n) == (ref == 1));
    while (pos < n) {
        end = pos + pieces[k++ % npieces] + 1;
        if (end > n)
            end = n;
        res = pk_utf8_feed(&st, s + pos, end - pos);
        REQUIRE((res == PK_UTF8_OK) == (end < lo));
        pos = end;
    }
    REQUIRE(pk_utf8_complete(&st) == (ref == 1));
}

/* ------------------------------------------------------------------------- */
/* Builder round trip                                                         */

static void build_check(const unsigned char *s, size_t n, apr_size_t max)
{
    apr_pool_t *p;
    const char *f;
    apr_size_t fl, hl, i;
    unsigned char *cf;
    static const unsigned char key[4] = { 0x5a, 0x01, 0xff, 0x80 };
    tbuf_t got = { 0 }, want = { 0 };
    apr_status_t rv;

    apr_pool_create(&p, root);
    rv = pk_ws_frame(p, PK_WS_OP_TEXT, s, n, &f, &fl);
    REQUIRE((rv == APR_SUCCESS) == (ref_utf8(s, n) == 1));
    REQUIRE(pk_ws_frame(p, PK_WS_OP_BINARY, s, n, &f, &fl) == APR_SUCCESS);
    hl = fl - n;
    REQUIRE(hl == (n < 126 ? 2 : n <= 0xffff ? 4 : 10));
    REQUIRE(memcmp(f + hl, s, n) == 0 && (unsigned char)f[0] == 0x82);
    cf = malloc(fl + 4);
    REQUIRE(cf != NULL);
    memcpy(cf, f, hl);
    cf[1] |= 0x80;
    memcpy(cf + hl, key, 4);
    for (i = 0; i < n; ++i)
        cf[hl + 4 + i] = s[i] ^ key[i & 3];
    ws_read(cf, fl + 4, max, NULL, 0, &got);
    if (n <= max)
        tevent(&want, EV_MESSAGE, PK_WS_OP_BINARY, 0, fl + 4, s, n);
    else
        tevent(&want, EV_ERROR, 0, 1009, 0, NULL, 0);
    REQUIRE(teq(&got, &want));
    free(cf);
    free(got.d);
    free(want.d);
    apr_pool_destroy(p);
}

/* A close frame built from code (2 bytes) and a reason (the rest, to its first NUL):
 * refused exactly when the code or reason may not be sent, else read back as sent. */
static void close_check(const unsigned char *s, size_t n)
{
    apr_pool_t *p;
    const char *f, *reason;
    apr_size_t fl, rl, i;
    unsigned char cf[PK_WS_MAX_HEADER + 4 + PK_WS_MAX_CONTROL];
    int code;
    tbuf_t got = { 0 }, want = { 0 };
    apr_status_t rv;

    if (n < 2)
        return;
    apr_pool_create(&p, root);
    code = (s[0] << 8) | s[1];
    reason = apr_pstrndup(p, (const char *)s + 2, n - 2);
    rl = strlen(reason);
    rv = pk_ws_close_frame(p, code, reason, &f, &fl);
    REQUIRE((rv == APR_SUCCESS)
            == ((code == 0 && rl == 0)
                || (pk_ws_close_code_valid(code) && rl <= 123
                    && ref_utf8((const unsigned char *)reason, rl) == 1)));
    if (rv == APR_SUCCESS && code == 0) {
        REQUIRE(fl == 2 && f[0] == (char)0x88 && f[1] == 0);
        ws_read((const unsigned char *)"\x88\x80\0\0\0\0", 6, 0, NULL, 0, &got);
        tevent(&want, EV_MESSAGE, PK_WS_OP_CLOSE, PK_WS_CLOSE_NO_STATUS, 6, "", 0);
        REQUIRE(teq(&got, &want));
    }
    else if (rv == APR_SUCCESS) {
        REQUIRE(fl == 4 + rl && f[0] == (char)0x88 && f[1] == (char)(2 + rl));
        cf[0] = 0x88;
        cf[1] = (unsigned char)(0x80 | (2 + rl));
        memset(cf + 2, 0xa5, 4);
        for (i = 0; i < 2 + rl; ++i)
            cf[6 + i] = (unsigned char)f[2 + i] ^ 0xa5;
        ws_read(cf, 6 + 2 + rl, 0, NULL, 0, &got);
        tevent(&want, EV_MESSAGE, PK_WS_OP_CLOSE, code, 6 + 2 + rl, reason, rl);
        REQUIRE(teq(&got, &want));
    }
    free(got.d);
    free(want.d);
    apr_pool_destroy(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const apr_size_t maxes[8] = { 0, 1, 2, 7, 125, 126, 300, 65536 };
    const unsigned char *pieces, *s;
    size_t npieces, n;
    apr_size_t max;
    tbuf_t one = { 0 }, chunked = { 0 }, ref = { 0 };

    if (size < 2)
        return 0;
    max = maxes[data[0] & 7];
    npieces = (data[1] & 7) + 1;
    if (size < 2 + npieces)
        return 0;
    pieces = data + 2;
    s = data + 2 + npieces;
    n = size - 2 - npieces;

    ws_read(s, n, max, NULL, 0, &one);
    ws_read(s, n, max, pieces, npieces, &chunked);
    ref_read(s, n, max, &ref);
    REQUIRE(teq(&one, &chunked));
    REQUIRE(teq(&one, &ref));
    free(one.d);
    free(chunked.d);
    free(ref.d);

    utf8_check(s, n, pieces, npieces);
    build_check(s, n, max);
    close_check(s, n);
    return 0;
}
