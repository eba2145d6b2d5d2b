/* pk_utf8.c - incremental UTF-8 validation (see pk_utf8.h).
 *
 * Every byte falls in one of 12 classes; the automaton has 9 states. The states name
 * what the next byte must be:
 *   ACC  between code points (start state, the only accepting one)
 *   REJ  invalid (absorbing)
 *   T1   one more continuation byte 80-BF
 *   T2   two more 80-BF
 *   T3   three more 80-BF
 *   E0   after E0: A0-BF (no overlong 3-byte form), then T1
 *   ED   after ED: 80-9F (no surrogate), then T1
 *   F0   after F0: 90-BF (no overlong 4-byte form), then T2
 *   F4   after F4: 80-8F (nothing above U+10FFFF), then T2
 */

#include <string.h>

#include "pk_utf8.h"

enum { ACC, REJ, T1, T2, T3, SE0, SED, SF0, SF4, NSTATES };

/* Byte classes. */
enum {
    C_ASCII, /* 00-7F */
    C_80,    /* 80-8F: continuation */
    C_90,    /* 90-9F: continuation */
    C_A0,    /* A0-BF: continuation */
    C_BAD,   /* C0, C1, F5-FF: never valid */
    C_L2,    /* C2-DF: lead of 2 */
    C_E0,    /* E0 */
    C_L3,    /* E1-EC, EE, EF: lead of 3 */
    C_ED,    /* ED */
    C_F0,    /* F0 */
    C_L4,    /* F1-F3: lead of 4 */
    C_F4,    /* F4 */
    NCLASSES
};

#define R4(c)  c, c, c, c
#define R16(c) R4(c), R4(c), R4(c), R4(c)

static const unsigned char byte_class[256] = {
    /* 00-7F */ R16(C_ASCII), R16(C_ASCII), R16(C_ASCII), R16(C_ASCII),
                R16(C_ASCII), R16(C_ASCII), R16(C_ASCII), R16(C_ASCII),
    /* 80-8F */ R16(C_80),
    /* 90-9F */ R16(C_90),
    /* A0-BF */ R16(C_A0), R16(C_A0),
    /* C0-C1 */ C_BAD, C_BAD,
    /* C2-CF */ R4(C_L2), R4(C_L2), R4(C_L2), C_L2, C_L2,
    /* D0-DF */ R16(C_L2),
    /* E0    */ C_E0,
    /* E1-EC */ R4(C_L3), R4(C_L3), R4(C_L3),
    /* ED    */ C_ED,
    /* EE-EF */ C_L3, C_L3,
    /* F0    */ C_F0,
    /* F1-F3 */ C_L4, C_L4, C_L4,
    /* F4    */ C_F4,
    /* F5-FF */ R4(C_BAD), R4(C_BAD), C_BAD, C_BAD, C_BAD
};

/* next[state][class] */
static const unsigned char next_state[NSTATES][NCLASSES] = {
    /*          ASCII 80-8F 90-9F A0-BF BAD  L2   E0   L3   ED   F0   L4   F4 */
    /* ACC */ { ACC,  REJ,  REJ,  REJ,  REJ, T1,  SE0, T2,  SED, SF0, T3,  SF4 },
    /* REJ */ { REJ,  REJ,  REJ,  REJ,  REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ },
    /* T1  */ { REJ,  ACC,  ACC,  ACC,  REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ },
    /* T2  */ { REJ,  T1,   T1,   T1,   REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ },
    /* T3  */ { REJ,  T2,   T2,   T2,   REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ },
    /* E0  */ { REJ,  REJ,  REJ,  T1,   REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ },
    /* ED  */ { REJ,  T1,   T1,   REJ,  REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ },
    /* F0  */ { REJ,  REJ,  T2,   T2,   REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ },
    /* F4  */ { REJ,  T2,   REJ,  REJ,  REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ },
};

void pk_utf8_init(pk_utf8_state *st)
{
    st->s = ACC;
}

pk_utf8_result pk_utf8_feed(pk_utf8_state *st, const void *buf, apr_size_t len)
{
    const unsigned char *b = buf;
    unsigned int s = st->s;
    apr_size_t i = 0;
    apr_uint64_t w;

    while (i < len && s != REJ) {
        /* Between code points, skip ASCII eight bytes at a time. */
        if (s == ACC && i + 8 <= len) {
            memcpy(&w, b + i, 8);
            if (!(w & APR_UINT64_C(0x8080808080808080))) {
                i += 8;
                continue;
            }
        }
        s = next_state[s][byte_class[b[i]]];
        ++i;
    }
    st->s = s;
    return s == REJ ? PK_UTF8_INVALID : PK_UTF8_OK;
}

int pk_utf8_complete(const pk_utf8_state *st)
{
    return st->s == ACC;
}

int pk_utf8_valid(const void *buf, apr_size_t len)
{
    pk_utf8_state st = PK_UTF8_STATE_INIT;

    return pk_utf8_feed(&st, buf, len) == PK_UTF8_OK && pk_utf8_complete(&st);
}

apr_size_t pk_utf8_valid_prefix(const char *buf, apr_size_t len)
{
    const unsigned char *b = (const unsigned char *)buf;
    unsigned int s = ACC;
    apr_size_t i = 0, boundary = 0;
    apr_uint64_t w;

    while (i < len) {
        if (s == ACC) {
            boundary = i;
            if (i + 8 <= len) {
                memcpy(&w, b + i, 8);
                if (!(w & APR_UINT64_C(0x8080808080808080))) {
                    i += 8;
                    continue;
                }
            }
        }
        if ((s = next_state[s][byte_class[b[i]]]) == REJ) {
            break;
        }
        ++i;
    }
    return s == ACC ? i : boundary;
}

apr_size_t pk_utf8_seq(const void *buf, apr_size_t n, apr_size_t *bad)
{
    const unsigned char *b = buf;
    unsigned int s = ACC;
    apr_size_t i;

    for (i = 0; i < n; ++i) {
        s = next_state[s][byte_class[b[i]]];
        if (s == ACC) {
            *bad = 0;
            return i + 1;
        }
        if (s == REJ) {
            break;                  /* byte i cannot continue: it starts the next try */
        }
    }
    *bad = i ? i : 1;               /* (i == n: cut short by the end of the input) */
    return 0;
}
