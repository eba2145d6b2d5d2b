/* pk_ws.c - the WebSocket protocol without a server (see pk_ws.h).
 *
 * The reader is a state machine over the byte stream. A frame header (2 to 14 bytes
 * for a client frame) is taken byte by byte and each of its fields is checked at the
 * byte that completes it: flags and opcode at byte 0, mask bit and 7-bit length at
 * byte 1, an extended length at its last byte, so an error shows at the same stream
 * offset however the stream was cut. The payload is then unmasked straight from the
 * caller's buffer into its destination - the reader's 126-byte control buffer, or the
 * buffer of the data message being assembled - and text is run through the UTF-8
 * automaton as it lands.
 */

#include <stdlib.h>
#include <string.h>

#include <apr_base64.h>
#include <apr_sha1.h>

#include "pk_utf8.h"
#include "pk_ws.h"

/** The smallest message buffer allocated (unless the message is known to be smaller). */
#define PK_WS_MIN_BUF 1024

/* Under AddressSanitizer, the message buffer is followed by a poisoned redzone: APR
 * pools carve allocations out of big blocks, so ASan would not otherwise see a write
 * past the buffer. One redzone is poisoned at a time (the current buffer's); it is
 * unpoisoned when the buffer is replaced and, by a cleanup, when the pool is cleared. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PK_WS_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(PK_WS_ASAN)
#define PK_WS_ASAN 1
#endif
#ifdef PK_WS_ASAN
#include <sanitizer/asan_interface.h>
#define PK_WS_REDZONE 16
#else
#define PK_WS_REDZONE 0
#endif

/** Where the reader is in the stream. */
typedef enum {
    RS_HEADER,  /* reading a frame header */
    RS_PAYLOAD, /* reading a frame payload */
    RS_CLOSED,  /* a close frame was handed over */
    RS_FAILED   /* a protocol error was reported */
} pk_ws_reader_state;

struct pk_ws_reader {
    apr_pool_t *pool;         /* the reader's (the connection's) */
    apr_pool_t *msg_pool;     /* the buffer of the data message being assembled: made
                               * at the first data payload, so that a connection that
                               * only pings costs no pool (an 8 KB block) */
    apr_size_t max_message;   /* largest data message accepted */
    pk_ws_reader_state state;
    int clear_pending;        /* a data message was handed over: clear msg_pool */

    /* The frame being read. */
    unsigned char hdr[14];    /* its header bytes so far */
    apr_size_t hdr_have;      /* how many */
    apr_size_t hdr_need;      /* how many in all: 2 until byte 1 tells the size */
    int fin;
    int opcode;
    apr_uint64_t frame_len;   /* payload length */
    apr_uint64_t frame_done;  /* payload bytes read so far */
    unsigned char mask[4];

    /* The data message being assembled (fragments joined). */
    int msg_opcode;           /* PK_WS_OP_TEXT or _BINARY; 0 when none is open */
    char *buf;                /* from msg_pool; NULL until the first payload byte */
    apr_size_t buf_len;
    apr_size_t buf_cap;
    pk_utf8_state utf8;       /* of a text message */

    /* The control frame being read (payload + NUL). */
    char ctl[PK_WS_MAX_CONTROL + 1];

    /* RS_FAILED: what to report. */
    int err_code;
    const char *err_why;
};

/** Whether opcode is that of a control frame. */
static int pk_ws_is_control(int opcode)
{
    return (opcode & 0x8) != 0;
}

/* ------------------------------------------------------------------------- */
/* Handshake and close codes                                                  */

/** Whether c is in the standard base64 alphabet (locale-independent). */
static int pk_ws_is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '+' || c == '/';
}

int pk_ws_key_valid(const char *key)
{
    int ok = (key != NULL && strlen(key) == 24 && key[22] == '=' && key[23] == '=');
    int i;

    for (i = 0; ok && i < 22; ++i)
        ok = pk_ws_is_b64(key[i]);
    return ok;
}

const char *pk_ws_accept_key(apr_pool_t *p, const char *client_key)
{
    apr_sha1_ctx_t ctx;
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    char *res = NULL;

    if (client_key != NULL) {
        apr_sha1_init(&ctx);
        apr_sha1_update_binary(&ctx, (const unsigned char *)client_key,
                               (unsigned int)strlen(client_key));
        apr_sha1_update_binary(&ctx, (const unsigned char *)PK_WS_GUID,
                               (unsigned int)strlen(PK_WS_GUID));
        apr_sha1_final(digest, &ctx);
        res = apr_palloc(p, (apr_size_t)apr_base64_encode_len(APR_SHA1_DIGESTSIZE));
        apr_base64_encode_binary(res, digest, APR_SHA1_DIGESTSIZE);
    }
    return res;
}

int pk_ws_close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011)
           || (code >= 3000 && code <= 4999);
}

/* ------------------------------------------------------------------------- */
/* Reader                                                                     */

apr_status_t pk_ws_reader_create(apr_pool_t *p, apr_size_t max_message,
                                 pk_ws_reader **r)
{
    pk_ws_reader *res = apr_pcalloc(p, sizeof(*res));

    res->pool = p;
    res->max_message = max_message > APR_SIZE_MAX / 4 ? APR_SIZE_MAX / 4 : max_message;
    res->state = RS_HEADER;
    res->hdr_need = 2;
    pk_utf8_init(&res->utf8);
    *r = res;
    return APR_SUCCESS;
}

/** Enter RS_FAILED with close code code; returns -1. */
static int pk_ws_fail(pk_ws_reader *r, int code, const char *why)
{
    r->state = RS_FAILED;
    r->err_code = code;
    r->err_why = why;
    return -1;
}

/** Check the payload length once it is known; returns 0 or -1 (failed). */
static int pk_ws_check_length(pk_ws_reader *r)
{
    int res = 0;

    if (r->frame_len >> 63)
        res = pk_ws_fail(r, PK_WS_CLOSE_PROTOCOL_ERROR,
                         "frame length has its most significant bit set");
    else if (!pk_ws_is_control(r->opcode)
             && r->frame_len > (apr_uint64_t)(r->max_message - r->buf_len))
        res = pk_ws_fail(r, PK_WS_CLOSE_TOO_BIG, "message longer than the maximum");
    return res;
}

/** Check byte 0 of a frame header (FIN, RSV, opcode); returns 0 or -1 (failed). */
static int pk_ws_check_byte0(pk_ws_reader *r, unsigned char b)
{
    int res = 0;

    r->fin = (b & 0x80) != 0;
    r->opcode = b & 0x0F;
    if (b & 0x70) {
        res = pk_ws_fail(r, PK_WS_CLOSE_PROTOCOL_ERROR,
                         "reserved bits set (no extension was negotiated)");
        goto leave;
    }
    switch (r->opcode) {
    case PK_WS_OP_CONT:
        if (r->msg_opcode == 0)
            res = pk_ws_fail(r, PK_WS_CLOSE_PROTOCOL_ERROR,
                             "continuation frame without a message to continue");
        break;
    case PK_WS_OP_TEXT:
    case PK_WS_OP_BINARY:
        if (r->msg_opcode != 0)
            res = pk_ws_fail(r, PK_WS_CLOSE_PROTOCOL_ERROR,
                             "new data frame while a fragmented message is open");
        break;
    case PK_WS_OP_CLOSE:
    case PK_WS_OP_PING:
    case PK_WS_OP_PONG:
        if (!r->fin)
            res = pk_ws_fail(r, PK_WS_CLOSE_PROTOCOL_ERROR, "fragmented control frame");
        break;
    default:
        res = pk_ws_fail(r, PK_WS_CLOSE_PROTOCOL_ERROR, "unknown opcode");
        break;
    }
leave:
    return res;
}

/** Check byte 1 of a frame header (MASK, 7-bit length); returns 0 or -1 (failed). */
static int pk_ws_check_byte1(pk_ws_reader *r, unsigned char b)
{
    int res = 0;
    unsigned int len7 = b & 0x7F;

    if (!(b & 0x80))
        res = pk_ws_fail(r, PK_WS_CLOSE_PROTOCOL_ERROR, "client frame is not masked");
    else if (pk_ws_is_control(r->opcode) && len7 > PK_WS_MAX_CONTROL)
        res = pk_ws_fail(r, PK_WS_CLOSE_PROTOCOL_ERROR,
                         "control frame longer than 125 bytes");
    else {
        r->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
        if (len7 < 126) {
            r->frame_len = len7;
            res = pk_ws_check_length(r);
        }
    }
    return res;
}

/** Take one header byte: returns 1 when the header is complete, 0 when more bytes are
 *  needed, -1 on a protocol error (r failed). */
static int pk_ws_header_byte(pk_ws_reader *r, unsigned char b)
{
    apr_size_t i = r->hdr_have++, k;
    int res;

    r->hdr[i] = b;
    if (i == 0)
        res = pk_ws_check_byte0(r, b);
    else if (i == 1)
        res = pk_ws_check_byte1(r, b);
    else if (r->hdr_need > 6 && i == r->hdr_need - 5) {
        /* last byte of the 16- or 64-bit length (network byte order) */
        r->frame_len = 0;
        for (k = 2; k <= i; ++k)
            r->frame_len = (r->frame_len << 8) | r->hdr[k];
        res = pk_ws_check_length(r);
    }
    else
        res = 0;
    if (res == 0 && r->hdr_have == r->hdr_need) {
        memcpy(r->mask, r->hdr + r->hdr_need - 4, 4);
        r->hdr_have = 0;
        r->hdr_need = 2;
        res = 1;
    }
    return res;
}

/** dst[0..n) = src[0..n) XOR the mask, the first byte being at payload offset off. */
static void pk_ws_unmask(unsigned char *dst, const unsigned char *src, apr_size_t n,
                         const unsigned char mask[4], apr_uint64_t off)
{
    unsigned int k = (unsigned int)(off & 3);
    unsigned char m8[8];
    apr_uint64_t m, w;
    apr_size_t i = 0;

    for (; i < n && k != 0; ++i, k = (k + 1) & 3)
        dst[i] = src[i] ^ mask[k];
    memcpy(m8, mask, 4);
    memcpy(m8 + 4, mask, 4);
    memcpy(&m, m8, 8);
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, src + i, 8);
        w ^= m;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; ++i, k = (k + 1) & 3)
        dst[i] = src[i] ^ mask[k];
}

#ifdef PK_WS_ASAN
/** Pool cleanup of msg_pool: unpoison the redzone of the current buffer. */
static apr_status_t pk_ws_unpoison(void *data)
{
    pk_ws_reader *r = data;

    if (r->buf != NULL)
        ASAN_UNPOISON_MEMORY_REGION(r->buf + r->buf_cap, PK_WS_REDZONE);
    return APR_SUCCESS;
}
#endif

/** Make room for need bytes in the message buffer (need includes the final NUL).
 *  Grows by doubling (at least PK_WS_MIN_BUF), never beyond what the message can
 *  still hold: the rest of this frame if it is the last, else max_message + 1. */
static void pk_ws_reserve(pk_ws_reader *r, apr_size_t need)
{
    apr_size_t cap, upper;
    char *nb;

    if (need > r->buf_cap) {
        upper = r->fin ? r->buf_len + (apr_size_t)(r->frame_len - r->frame_done) + 1
                       : r->max_message + 1;
        cap = r->buf_cap * 2;
        if (cap < PK_WS_MIN_BUF)
            cap = PK_WS_MIN_BUF;
        if (cap > upper)
            cap = upper;
        if (cap < need)
            cap = need;
        if (!r->msg_pool) {
            if (apr_pool_create(&r->msg_pool, r->pool) != APR_SUCCESS) {
                apr_abortfunc_t oom = apr_pool_abort_get(r->pool);
                if (oom)
                    oom(APR_ENOMEM);
                abort();    /* as apr_palloc would: no memory */
            }
            apr_pool_tag(r->msg_pool, "pk_ws_message");
        }
        nb = apr_palloc(r->msg_pool, cap + PK_WS_REDZONE);
        if (r->buf_len > 0)
            memcpy(nb, r->buf, r->buf_len);
#ifdef PK_WS_ASAN
        if (r->buf != NULL)
            ASAN_UNPOISON_MEMORY_REGION(r->buf + r->buf_cap, PK_WS_REDZONE);
        else
            apr_pool_cleanup_register(r->msg_pool, r, pk_ws_unpoison,
                                      apr_pool_cleanup_null);
        ASAN_POISON_MEMORY_REGION(nb + cap, PK_WS_REDZONE);
#endif
        r->buf = nb;
        r->buf_cap = cap;
    }
}

/** The frame header is complete: start its payload. */
static void pk_ws_frame_start(pk_ws_reader *r)
{
    if (r->opcode == PK_WS_OP_TEXT || r->opcode == PK_WS_OP_BINARY) {
        r->msg_opcode = r->opcode;
        r->buf_len = 0;
        pk_utf8_init(&r->utf8);
    }
    r->frame_done = 0;
    r->state = RS_PAYLOAD;
}

/** The payload of a close frame is complete: check it and fill msg; 1 or -1. */
static int pk_ws_close_done(pk_ws_reader *r, pk_ws_message *msg)
{
    apr_size_t n = (apr_size_t)r->frame_len;
    int res = 1, code;

    if (n == 0) {
        msg->close_code = PK_WS_CLOSE_NO_STATUS;
        msg->data = r->ctl;
        msg->len = 0;
    }
    else if (n == 1)
        res = pk_ws_fail(r, PK_WS_CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload");
    else {
        code = ((unsigned char)r->ctl[0] << 8) | (unsigned char)r->ctl[1];
        if (!pk_ws_close_code_valid(code))
            res = pk_ws_fail(r, PK_WS_CLOSE_PROTOCOL_ERROR, "invalid close code");
        else if (!pk_utf8_valid(r->ctl + 2, n - 2))
            res = pk_ws_fail(r, PK_WS_CLOSE_INVALID_DATA, "close reason is not UTF-8");
        else {
            msg->close_code = code;
            msg->data = r->ctl + 2;
            msg->len = n - 2;
        }
    }
    if (res == 1) {
        msg->opcode = PK_WS_OP_CLOSE;
        r->state = RS_CLOSED;
    }
    return res;
}

/** The payload of the current frame is complete: returns 1 when msg holds an event,
 *  0 when the message goes on, -1 on a protocol error (r failed). */
static int pk_ws_frame_done(pk_ws_reader *r, pk_ws_message *msg)
{
    int res = 0;

    r->state = RS_HEADER;
    if (pk_ws_is_control(r->opcode)) {
        r->ctl[r->frame_len] = '\0';
        if (r->opcode == PK_WS_OP_CLOSE)
            res = pk_ws_close_done(r, msg);
        else {
            msg->opcode = r->opcode;
            msg->data = r->ctl;
            msg->len = (apr_size_t)r->frame_len;
            res = 1;
        }
    }
    else if (r->fin) {
        if (r->msg_opcode == PK_WS_OP_TEXT && !pk_utf8_complete(&r->utf8))
            res = pk_ws_fail(r, PK_WS_CLOSE_INVALID_DATA,
                             "text message ends inside a UTF-8 sequence");
        else {
            if (r->buf != NULL)
                r->buf[r->buf_len] = '\0';
            msg->opcode = r->msg_opcode;
            msg->data = r->buf != NULL ? r->buf : "";
            msg->len = r->buf_len;
            r->msg_opcode = 0;
            r->buf_len = 0;
            r->clear_pending = 1;
            res = 1;
        }
    }
    return res;
}

/** Read payload bytes from src[0..n): returns how many were taken (> 0 unless n is 0);
 *  *ev is then as pk_ws_frame_done() says if the frame ended, else 0. */
static apr_size_t pk_ws_payload(pk_ws_reader *r, const unsigned char *src, apr_size_t n,
                                pk_ws_message *msg, int *ev)
{
    apr_uint64_t left = r->frame_len - r->frame_done;
    unsigned char *dst;

    *ev = 0;
    if ((apr_uint64_t)n > left)
        n = (apr_size_t)left;
    if (pk_ws_is_control(r->opcode))
        dst = (unsigned char *)r->ctl + r->frame_done;
    else {
        pk_ws_reserve(r, r->buf_len + n + 1);
        dst = (unsigned char *)r->buf + r->buf_len;
    }
    pk_ws_unmask(dst, src, n, r->mask, r->frame_done);
    r->frame_done += n;
    if (!pk_ws_is_control(r->opcode)) {
        r->buf_len += n;
        if (r->msg_opcode == PK_WS_OP_TEXT
            && pk_utf8_feed(&r->utf8, dst, n) == PK_UTF8_INVALID)
            *ev = pk_ws_fail(r, PK_WS_CLOSE_INVALID_DATA, "text message is not UTF-8");
    }
    if (*ev == 0 && r->frame_done == r->frame_len)
        *ev = pk_ws_frame_done(r, msg);
    return n;
}

pk_ws_result pk_ws_reader_feed(pk_ws_reader *r, const void *buf, apr_size_t len,
                               apr_size_t *consumed, pk_ws_message *msg)
{
    const unsigned char *b = buf;
    apr_size_t pos = 0;
    pk_ws_result res = PK_WS_NEED_MORE;
    int ev = 0;

    memset(msg, 0, sizeof(*msg));
    if (r->clear_pending) {
        if (r->msg_pool)
            apr_pool_clear(r->msg_pool);
        r->buf = NULL;
        r->buf_cap = 0;
        r->clear_pending = 0;
    }
    if (r->state == RS_CLOSED) {
        if (len > 0) {
            res = PK_WS_AFTER_CLOSE;
            msg->why = "data after the close frame";
        }
        goto leave;
    }
    while (ev == 0 && pos < len && r->state != RS_FAILED) {
        if (r->state == RS_HEADER) {
            ev = pk_ws_header_byte(r, b[pos++]);
            if (ev == 1) {
                pk_ws_frame_start(r);
                ev = r->frame_len == 0 ? pk_ws_frame_done(r, msg) : 0;
            }
        }
        else
            pos += pk_ws_payload(r, b + pos, len - pos, msg, &ev);
    }
    if (ev == 1)
        res = PK_WS_MESSAGE;
leave:
    if (r->state == RS_FAILED) {
        res = PK_WS_ERROR;
        memset(msg, 0, sizeof(*msg));
        msg->close_code = r->err_code;
        msg->why = r->err_why;
    }
    *consumed = pos;
    return res;
}

/* ------------------------------------------------------------------------- */
/* Server frames                                                              */

apr_size_t pk_ws_frame_header(unsigned char *hdr, int opcode, int fin,
                              apr_uint64_t payload_len)
{
    apr_size_t n = 0;
    int i;

    switch (opcode) {
    case PK_WS_OP_CONT:
    case PK_WS_OP_TEXT:
    case PK_WS_OP_BINARY:
        n = (payload_len >> 63) ? 0 : 1;
        break;
    case PK_WS_OP_CLOSE:
    case PK_WS_OP_PING:
    case PK_WS_OP_PONG:
        n = (fin && payload_len <= PK_WS_MAX_CONTROL) ? 1 : 0;
        break;
    default:
        break;
    }
    if (n == 0)
        goto leave;
    hdr[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (payload_len < 126) {
        hdr[1] = (unsigned char)payload_len;
        n = 2;
    }
    else if (payload_len <= 0xFFFF) {
        hdr[1] = 126;
        hdr[2] = (unsigned char)(payload_len >> 8);
        hdr[3] = (unsigned char)payload_len;
        n = 4;
    }
    else {
        hdr[1] = 127;
        for (i = 0; i < 8; ++i)
            hdr[2 + i] = (unsigned char)(payload_len >> (56 - 8 * i));
        n = 10;
    }
leave:
    return n;
}

/** A whole frame (FIN) of any opcode in memory from p; APR_EINVAL as the header says. */
static apr_status_t pk_ws_build(apr_pool_t *p, int opcode, const void *payload,
                                apr_size_t len, const char **frame, apr_size_t *frame_len)
{
    apr_status_t rv = APR_EINVAL;
    unsigned char hdr[PK_WS_MAX_HEADER];
    apr_size_t hlen = 0;
    char *res;

    *frame = NULL;
    *frame_len = 0;
    if (payload == NULL && len > 0)
        goto leave;
    hlen = pk_ws_frame_header(hdr, opcode, 1, (apr_uint64_t)len);
    if (hlen == 0)
        goto leave;
    res = apr_palloc(p, hlen + len);
    memcpy(res, hdr, hlen);
    if (len > 0)
        memcpy(res + hlen, payload, len);
    *frame = res;
    *frame_len = hlen + len;
    rv = APR_SUCCESS;
leave:
    return rv;
}

apr_status_t pk_ws_frame(apr_pool_t *p, int opcode, const void *payload, apr_size_t len,
                         const char **frame, apr_size_t *frame_len)
{
    apr_status_t rv = APR_EINVAL;

    *frame = NULL;
    *frame_len = 0;
    if (opcode != PK_WS_OP_TEXT && opcode != PK_WS_OP_BINARY && opcode != PK_WS_OP_PING
        && opcode != PK_WS_OP_PONG)
        goto leave;
    if (opcode == PK_WS_OP_TEXT && payload != NULL && !pk_utf8_valid(payload, len))
        goto leave;
    rv = pk_ws_build(p, opcode, payload, len, frame, frame_len);
leave:
    return rv;
}

apr_status_t pk_ws_close_frame(apr_pool_t *p, int code, const char *reason,
                               const char **frame, apr_size_t *frame_len)
{
    apr_status_t rv = APR_EINVAL;
    unsigned char payload[PK_WS_MAX_CONTROL];
    apr_size_t rlen = reason != NULL ? strlen(reason) : 0;

    *frame = NULL;
    *frame_len = 0;
    if (code == 0) {
        if (rlen == 0)
            rv = pk_ws_build(p, PK_WS_OP_CLOSE, NULL, 0, frame, frame_len);
    }
    else if (pk_ws_close_code_valid(code) && rlen <= PK_WS_MAX_CONTROL - 2
             && pk_utf8_valid(reason, rlen)) {
        payload[0] = (unsigned char)(code >> 8);
        payload[1] = (unsigned char)code;
        if (rlen > 0)
            memcpy(payload + 2, reason, rlen);
        rv = pk_ws_build(p, PK_WS_OP_CLOSE, payload, 2 + rlen, frame, frame_len);
    }
    return rv;
}
