/* live_result.h - what one upstream attempt observed, turned into the
 * routing core's ld_raw_result.
 *
 * This is where the live host's stream-fault semantics live. The attempt
 * (live_attempt.c) only records what curl, the headers and the SSE reader
 * showed; live_result_make decides what that was: a connect failure, a
 * reset before the headers, an error status with its words, a stream cut,
 * ended without its terminator, malformed or carrying an error event, or a
 * complete answer. Pure: no clock (an HTTP-date Retry-After is counted from
 * the wall time the caller gives), no I/O, no allocation.
 */
#ifndef LIVE_RESULT_H
#define LIVE_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ld.h"
#include "ld_class.h"

/* What ended the attempt's observation. */
typedef enum live_end {
    LIVE_END_TRANSFER = 0, /* curl finished the transfer (curl_rc says how) */
    LIVE_END_DONE,         /* the stream's terminator arrived ([DONE],
                              message_stop) */
    LIVE_END_MALFORMED,    /* a stream event that is not what it should be,
                              an SSE line or a whole answer over its cap */
    LIVE_END_ERROR_EVENT   /* an error event inside a 2xx stream (body: its
                              data) */
} live_end;

typedef struct live_seen {
    live_end end;
    int curl_rc;          /* LIVE_END_TRANSFER: the CURLcode (0: complete) */
    bool got_headers;     /* a final (>= 200) header block arrived */
    int status;           /* its HTTP status (0: no status line) */
    /* Retry-After and retry-after-ms as sent ("" or NULL: none); an
     * HTTP-date is counted from ra_unix, the wall clock (Unix seconds)
     * when the header arrived. */
    const char *retry_after, *retry_after_ms;
    int64_t ra_unix;
    bool stream;          /* the attempt asked for a stream */
    bool finished;        /* a stream: a finish reason arrived */
    int tokens;           /* content pieces received */
    int64_t usage_tokens; /* output tokens the usage said; -1 unknown */
    const char *finish_reason; /* NULL or "": none */
    /* A non-2xx answer's body (its words are read), or an error event's
     * data; NULL when none. */
    const char *body;
    size_t body_len;
    /* A whole 2xx answer (LIVE_END_TRANSFER, curl_rc 0, not a stream): the
     * result of translating it for the client (LD_OK or not). */
    int answer_rc;
    /* How the provider's error bodies read (live_provider.h's
     * error_words); NULL: ld_parse_error_body. */
    int (*error_words)(const char *body, size_t len, char *type,
                       size_t type_cap, char *code, size_t code_cap,
                       char *message, size_t message_cap);
} live_seen;

/* Everything unknown: a transfer that ended with nothing seen. */
void live_seen_init(live_seen *s);

/* The result, with room for the words it points to. */
typedef struct live_result {
    ld_raw_result raw;
    char type[64], code[64], message[256];
} live_result;

/* The core's raw result for what seen says. Never fails; out->raw's
 * strings point into out (or into seen's finish_reason). */
void live_result_make(const live_seen *seen, live_result *out);

/* A Retry-After value: delta-seconds or an HTTP-date (counted from
 * now_unix; a past date is 0). -1 when absent or unreadable. */
ld_us live_retry_after_parse(const char *v, int64_t now_unix);

/* retry-after-ms (milliseconds, fractions allowed). -1 when absent or
 * unreadable. */
ld_us live_retry_after_ms_parse(const char *v);

/* The wait the attempt was told: retry-after-ms when given, else
 * Retry-After; -1 none. The core caps it. */
ld_us live_seen_retry_after(const live_seen *s);

#endif
