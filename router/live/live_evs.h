/* live_evs.h - a reader of AWS event-stream framing (the binary frames of
 * Bedrock's ConverseStream), fed in arbitrary pieces.
 *
 * A message: total length (4 bytes, big-endian), headers length (4), the
 * CRC32 of those 8 bytes (4); the headers; the payload; the CRC32 of all
 * that came before (4). CRC32 is zlib's (the IEEE polynomial AWS uses).
 * A header: name length (1), name, value type (1), value: 0 true, 1
 * false, 2 byte, 3 short, 4 int, 5 long, 8 timestamp (1, 2, 4, 8, 8
 * bytes), 6 bytes and 7 string (2-byte length, then the bytes), 9 uuid
 * (16). Pure: no I/O.
 */
#ifndef LIVE_EVS_H
#define LIVE_EVS_H

#include <stddef.h>
#include <stdint.h>

#include "live_adapter.h"

/* One message. Strings are NUL-terminated copies ("" when the header is
 * absent), valid during the callback only. */
typedef struct live_evs_msg {
    const char *message_type;   /* ":message-type": event, exception, error */
    const char *event_type;     /* ":event-type" */
    const char *exception_type; /* ":exception-type" */
    const char *error_code;     /* ":error-code" */
    const char *error_message;  /* ":error-message" */
    const char *content_type;   /* ":content-type" */
    const char *payload;
    size_t payload_len;
} live_evs_msg;

typedef void (*live_evs_fn)(void *ud, const live_evs_msg *m);

typedef struct live_evs live_evs;

/* max_message caps one message's total length (0: 16 MiB). NULL: no
 * memory. */
live_evs *live_evs_new(size_t max_message);
void live_evs_free(live_evs *e);

/* Feed n bytes; every message completed is delivered, in order. LD_EINVAL
 * for a frame that is not one (a CRC that does not match, lengths that do
 * not add up, a header that runs past its block), LD_ELIMIT for a message
 * over the cap, LD_ENOMEM; the reader then stays failed and returns that
 * code from every later feed. The callback must not feed the same reader. */
int live_evs_feed(live_evs *e, const char *p, size_t n, live_evs_fn fn,
                  void *ud);

/* As live_evs_feed, each message delivered as an SSE-like event: an
 * event's (":event-type", payload); an exception or error as ("error",
 * {"__type": its type or code, "message": its message}) (the payload's
 * "message" for an exception), which ld_parse_error_body reads. */
int live_evs_feed_events(live_evs *e, const char *p, size_t n,
                         live_sse_fn fn, void *ud);

/* Bytes buffered of a message not yet complete (tests). */
size_t live_evs_pending(const live_evs *e);

#endif
