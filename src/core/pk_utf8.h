/* pk_utf8.h - incremental UTF-8 validation (RFC 3629).
 *
 * A deterministic automaton whose whole state is one small integer, so text that
 * arrives in pieces (WebSocket fragments, socket reads) is validated as it comes, with
 * a code point split across pieces checked like any other. Refused: bytes C0, C1,
 * F5-FF, stray continuation bytes, overlong forms, surrogates U+D800-U+DFFF, anything
 * above U+10FFFF, and a sequence cut short by a byte that cannot continue it. An error
 * is reported at the first byte after which the input cannot be the start of valid
 * UTF-8 (so "\xF4\x90" fails at 0x90, "\xED\xA0" at 0xA0). No allocation; a state is
 * used by one thread at a time.
 */
#ifndef PK_UTF8_H
#define PK_UTF8_H

#include <apr.h>

/** The validation state of one text (plain data: copy it, keep it anywhere). */
typedef struct pk_utf8_state {
    unsigned int s; /* automaton state; 0 = between code points */
} pk_utf8_state;

/** Result of pk_utf8_feed(). */
typedef enum {
    PK_UTF8_OK = 0,     /* valid so far (possibly mid-sequence: see pk_utf8_complete) */
    PK_UTF8_INVALID = 1 /* not UTF-8; the state stays invalid until pk_utf8_init() */
} pk_utf8_result;

/** Static initialiser, the same as pk_utf8_init(). */
#define PK_UTF8_STATE_INIT { 0 }

/** Start a new text. */
void pk_utf8_init(pk_utf8_state *st);

/** Validate the next len bytes of the text (buf may be NULL when len is 0).
 *  Returns PK_UTF8_OK while everything fed since pk_utf8_init() is the beginning of
 *  some valid UTF-8 text, PK_UTF8_INVALID once it cannot be (and for every later call). */
pk_utf8_result pk_utf8_feed(pk_utf8_state *st, const void *buf, apr_size_t len);

/** Whether the text fed so far is valid and complete: not invalid and not stopped in
 *  the middle of a multi-byte sequence. Call at the end of the text. */
int pk_utf8_complete(const pk_utf8_state *st);

/** Whether buf[0..len) as a whole is valid UTF-8 (init + feed + complete). */
int pk_utf8_valid(const void *buf, apr_size_t len);

/** Length of the longest prefix of s[0..len) that is valid UTF-8 and ends between code
 *  points (a sequence cut off at the end does not count). Equals len when all of s is
 *  valid. */
apr_size_t pk_utf8_valid_prefix(const char *s, apr_size_t len);

/** The UTF-8 sequence at s (n > 0 bytes available): its length (1 to 4) when it is one
 *  valid code point; else 0, and *bad is the length of its maximal subpart (Unicode
 *  3.9, WHATWG "decode"): the bytes one U+FFFD replaces, at least 1. */
apr_size_t pk_utf8_seq(const void *s, apr_size_t n, apr_size_t *bad);

#endif /* PK_UTF8_H */
