/* pk_ws.h - the WebSocket protocol (RFC 6455, version 13) without a server: opening
 * handshake key, an incremental reader of client frames, server frame builders.
 *
 * No extension is ever negotiated (RSV1-3 must be 0) and no subprotocol matters here.
 * The reader takes bytes in pieces of any size - one at a time, a whole read buffer,
 * anything between - and always reaches the same results, so the same code serves a
 * thread that blocks on its connection and an I/O thread that owns many non-blocking
 * connections and feeds whatever each read returned.
 *
 * Threads: a reader is used by one thread at a time; everything else is reentrant.
 */
#ifndef PK_WS_H
#define PK_WS_H

#include <apr_pools.h>
#include <apr_errno.h>

/** The GUID appended to Sec-WebSocket-Key (RFC 6455 section 1.3). */
#define PK_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/** Frame opcodes. */
typedef enum {
    PK_WS_OP_CONT = 0x0,
    PK_WS_OP_TEXT = 0x1,
    PK_WS_OP_BINARY = 0x2,
    PK_WS_OP_CLOSE = 0x8,
    PK_WS_OP_PING = 0x9,
    PK_WS_OP_PONG = 0xA
} pk_ws_opcode;

/** Close codes this code base sends or reports. */
typedef enum {
    PK_WS_CLOSE_NORMAL = 1000,         /* done */
    PK_WS_CLOSE_GOING_AWAY = 1001,     /* server shutting down, graceful restart */
    PK_WS_CLOSE_PROTOCOL_ERROR = 1002, /* a frame broke RFC 6455 */
    PK_WS_CLOSE_NO_STATUS = 1005,      /* reported only: a close frame without a code;
                                          never sent */
    PK_WS_CLOSE_INVALID_DATA = 1007,   /* text (or a close reason) not UTF-8 */
    PK_WS_CLOSE_POLICY = 1008,         /* refused by policy (e.g. authentication) */
    PK_WS_CLOSE_TOO_BIG = 1009,        /* message over the configured maximum */
    PK_WS_CLOSE_INTERNAL = 1011        /* the server failed */
} pk_ws_close_code;

/** Longest header of a server (unmasked) frame: 2 + 8 bytes. */
#define PK_WS_MAX_HEADER 10

/** Longest payload of a control frame (close, ping, pong). */
#define PK_WS_MAX_CONTROL 125

/* ------------------------------------------------------------------------- */
/* Handshake                                                                  */

/** Whether key is a valid Sec-WebSocket-Key: exactly 24 characters of the standard
 *  base64 alphabet (A-Z a-z 0-9 + /), the last two "==", i.e. the base64 encoding of
 *  16 bytes. No surrounding space is allowed (strip it first). The pad bits of the
 *  22nd character are not checked (any decoder reads 16 bytes either way). NULL is
 *  invalid. */
int pk_ws_key_valid(const char *key);

/** Sec-WebSocket-Accept for client_key: base64(SHA-1(client_key PK_WS_GUID)), 28
 *  characters, from p. client_key is used as given (check it with pk_ws_key_valid()
 *  first); NULL gives NULL. */
const char *pk_ws_accept_key(apr_pool_t *p, const char *client_key);

/* ------------------------------------------------------------------------- */
/* Close codes                                                                */

/** Whether code may appear in a close frame (received or sent): 1000-1003, 1007-1011,
 *  3000-4999. Everything else - 1004, 1005, 1006, 1015, 1012-1014, 0-999, 1016-2999,
 *  5000 and up - is invalid. */
int pk_ws_close_code_valid(int code);

/* ------------------------------------------------------------------------- */
/* Reader of client frames                                                    */

/** A reader of the frames one client sends (opaque). */
typedef struct pk_ws_reader pk_ws_reader;

/** What pk_ws_reader_feed() stopped for. */
typedef enum {
    PK_WS_NEED_MORE = 0, /* every byte given was consumed; no event complete yet */
    PK_WS_MESSAGE,       /* *msg holds a message or control frame; more bytes may follow */
    PK_WS_ERROR,         /* protocol error: *msg says which close code to send; final */
    PK_WS_AFTER_CLOSE    /* bytes were fed after the close frame was handed over */
} pk_ws_result;

/** One event of the reader. */
typedef struct pk_ws_message {
    /** PK_WS_MESSAGE: PK_WS_OP_TEXT or PK_WS_OP_BINARY (a whole message, fragments
     *  joined), PK_WS_OP_PING, PK_WS_OP_PONG or PK_WS_OP_CLOSE; otherwise 0. */
    int opcode;
    /** The unmasked payload, followed by a NUL that len does not count (text may hold
     *  NUL bytes itself: use len). CLOSE: the reason only (after the code). Never NULL
     *  for PK_WS_MESSAGE, NULL otherwise. Text and close reasons are valid UTF-8.
     *  Valid until the next pk_ws_reader_feed() on this reader, or until the reader's
     *  pool goes. */
    const char *data;
    apr_size_t len;
    /** CLOSE: the client's code (pk_ws_close_code_valid() holds), or
     *  PK_WS_CLOSE_NO_STATUS for an empty close frame. PK_WS_ERROR: the code to close
     *  with - PK_WS_CLOSE_PROTOCOL_ERROR, PK_WS_CLOSE_INVALID_DATA or
     *  PK_WS_CLOSE_TOO_BIG. Otherwise 0. */
    int close_code;
    /** PK_WS_ERROR and PK_WS_AFTER_CLOSE: a static sentence for the log; otherwise NULL. */
    const char *why;
} pk_ws_message;

/** Create a reader for one connection, from p (the connection's pool).
 *
 *  Pools: the reader and its fixed state (headers, a 126-byte control frame buffer)
 *  are allocated from p once. Data messages are assembled in a subpool of p, made at
 *  the first data payload (a connection that only exchanges control frames has none),
 *  that the reader clears at the start of the pk_ws_reader_feed() call after the one that
 *  handed the message over, so a long-lived connection uses at most about
 *  2 x max_message (+ a few KB) whatever it receives over time; the reader never
 *  allocates from p again. Destroying or clearing p frees everything (no other
 *  cleanup). The buffer of a message grows as its bytes arrive (doubling), never
 *  beyond the message's length, so a header announcing a large frame costs nothing
 *  until the payload comes.
 *
 *  max_message: the largest data message accepted, in bytes (payload, all fragments
 *  together); values above APR_SIZE_MAX / 4 are taken as APR_SIZE_MAX / 4.
 *  Returns APR_SUCCESS and *r. When the subpool cannot be made later, the pool's
 *  abort function is called (as apr_palloc does). */
apr_status_t pk_ws_reader_create(apr_pool_t *p, apr_size_t max_message,
                                 pk_ws_reader **r);

/** Feed the reader bytes read from the client; buf may be NULL when len is 0.
 *  Consumes bytes until an event completes, and says how many in *consumed:
 *   PK_WS_NEED_MORE  all len bytes consumed (*consumed == len), *msg cleared;
 *   PK_WS_MESSAGE    *msg filled (see pk_ws_message), *consumed <= len: one call
 *                    hands over at most one event, so while bytes are left call again
 *                    with buf + *consumed, len - *consumed. Control frames are handed over as they come, also between
 *                    the fragments of a data message. After a CLOSE the reader accepts
 *                    no more frames: reply with a close frame and stop reading.
 *   PK_WS_ERROR      the client broke the protocol: msg->close_code and msg->why say
 *                    how; send a close frame with that code and close the connection.
 *                    Every later call answers the same (*consumed 0).
 *   PK_WS_AFTER_CLOSE  len > 0 after a CLOSE was handed over (*consumed 0); msg->why
 *                    says so. With len 0 the answer is PK_WS_NEED_MORE.
 *  Errors (PK_WS_ERROR, close code in brackets): an unmasked frame (1002); RSV1, RSV2
 *  or RSV3 set (1002); an opcode other than 0, 1, 2, 8, 9, 10 (1002); a control frame
 *  without FIN or with over 125 bytes (1002); a 64-bit length with its top bit set
 *  (1002); a continuation frame with no fragmented message open, or a text/binary
 *  frame while one is (1002); a data message longer than max_message, found from the
 *  frame header before its payload is read (1009); text that is not UTF-8, found at
 *  the first byte that makes it so, even mid-frame, or text ending inside a code point
 *  (1007); a close frame with a 1-byte payload or an invalid code (1002) or a reason
 *  that is not UTF-8 (1007). Lengths not in their shortest encoding are accepted.
 *  Each check is made at a fixed byte of the stream, so how the bytes are cut into
 *  pieces changes nothing: the same events, the same error. */
pk_ws_result pk_ws_reader_feed(pk_ws_reader *r, const void *buf, apr_size_t len,
                               apr_size_t *consumed, pk_ws_message *msg);

/* ------------------------------------------------------------------------- */
/* Server frames (never masked)                                               */

/** Write the header of a server frame into hdr (PK_WS_MAX_HEADER bytes room) for a
 *  payload of payload_len bytes: FIN if fin, the opcode, the length in 7, 16 or 64
 *  bits (the shortest that fits). The payload is then sent as is, without copying.
 *  Returns the header length (2, 4 or 10), or 0 (hdr untouched) if opcode is not one
 *  of pk_ws_opcode, a control frame lacks fin or exceeds 125 bytes, or payload_len
 *  has its top bit set. */
apr_size_t pk_ws_frame_header(unsigned char *hdr, int opcode, int fin,
                              apr_uint64_t payload_len);

/** A whole (FIN) server frame in memory from p: header + payload (payload may be NULL
 *  when len is 0). opcode is PK_WS_OP_TEXT (payload must be valid UTF-8),
 *  PK_WS_OP_BINARY, PK_WS_OP_PING or PK_WS_OP_PONG (len <= 125); for close frames use
 *  pk_ws_close_frame(). Returns APR_SUCCESS, *frame and *frame_len, or APR_EINVAL
 *  (*frame NULL, *frame_len 0). */
apr_status_t pk_ws_frame(apr_pool_t *p, int opcode, const void *payload, apr_size_t len,
                         const char **frame, apr_size_t *frame_len);

/** A server close frame from p. code 0: an empty payload (reason must be NULL or "");
 *  otherwise code must satisfy pk_ws_close_code_valid() and the payload is the code
 *  (2 bytes, network order) then reason (NULL = none): valid UTF-8, at most 123 bytes.
 *  Returns APR_SUCCESS, *frame and *frame_len, or APR_EINVAL (*frame NULL,
 *  *frame_len 0). */
apr_status_t pk_ws_close_frame(apr_pool_t *p, int code, const char *reason,
                               const char **frame, apr_size_t *frame_len);

#endif /* PK_WS_H */
