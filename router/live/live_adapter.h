/* live_adapter.h - the live router's translations between the client's
 * OpenAI-compatible API and each provider's API, and the SSE reader.
 *
 * Pure functions over bytes and cJSON: no sockets, no clock. Each
 * provider's part is a table of operations (live_provider.h: prov_openai.c,
 * prov_anthropic.c); the functions below that take an ld_provider look its
 * table up and call through it. The server chooses a route's table once
 * and calls the live_provider_* forms; unit tests call either.
 */
#ifndef LIVE_ADAPTER_H
#define LIVE_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ld.h"
#include "ld_policy.h"

/* Make cJSON allocate the short-lived trees of the calls below (answers,
 * stream events, upstream bodies) from one reusable block instead of
 * malloc: cJSON's hooks are process-wide, so a process calls this once,
 * before any cJSON use, and only if it has a single thread. Without it
 * everything works the same, from malloc. LD_ENOMEM. */
int live_json_arena_install(void);

/* ---- a growable byte buffer with a cap ----------------------------------- */
typedef struct live_buf {
    char *data;
    size_t len, cap, max; /* max: refuse to grow past it (0: 64 MiB) */
} live_buf;

void live_buf_init(live_buf *b, size_t max);
void live_buf_cleanup(live_buf *b);
/* LD_ELIMIT past max, LD_ENOMEM. Keeps data NUL-terminated. */
int live_buf_append(live_buf *b, const void *p, size_t n);
int live_buf_appendf(live_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- the client's request -------------------------------------------------- */
typedef struct live_chat_req {
    cJSON *body;             /* owned: the parsed request, passed through */
    bool stream;
    bool include_usage;      /* stream_options.include_usage */
    int64_t max_tokens;      /* max_completion_tokens or max_tokens; -1 */
    int64_t input_tokens;    /* estimate: characters of all message text / 4 */
    unsigned caps;           /* LD_CAP_* the request needs: STREAM if
                                stream, TOOLS if tools, PREFILL if the last
                                message is the assistant's, VISION if any
                                image part, JSON if response_format */
    const char *model;       /* the client's "model" (points into body) */
    int n;                   /* choices asked for ("n"): 1 unless given;
                                above 1 the request needs LD_CAP_N */
    bool embed;              /* an embeddings request (live_embed_parse):
                                body is the client's embeddings body */
    /* The client's own body when it spoke another API (live_face.h), for
     * the routes whose provider speaks that API natively (the provider
     * table's native_api): not owned, not NUL-terminated; NULL none. */
    const char *native;
    size_t native_len;
    const char *native_api;  /* its API: "messages" */
} live_chat_req;

/* Parse a POST /v1/chat/completions body. On failure returns LD_EINVAL and
 * writes an explanation for a 400 into msg (e.g. "messages: required",
 * "body is not JSON: syntax error at byte 17"). */
int live_chat_parse(const char *body, size_t len, live_chat_req *out,
                    char *msg, size_t cap);
/* The same, with n more top-level field names accepted (the policy's
 * pass_through names, over all routes): any other unknown field is still
 * refused. */
int live_chat_parse_extra(const char *body, size_t len,
                          const char *const *extra, int n, live_chat_req *out,
                          char *msg, size_t cap);
/* Before the upstream body for one route is built: the top-level fields
 * outside the router's own list that are not on that route's list
 * (allowed, n) are taken out of r->body into *held (NULL when none);
 * returns how many, or LD_ENOMEM. live_chat_restore puts them back, for
 * another route's attempt. */
int live_chat_withhold(live_chat_req *r, const char *const *allowed, int n,
                       cJSON **held);
void live_chat_restore(live_chat_req *r, cJSON *held);
void live_chat_cleanup(live_chat_req *r);

/* The upstream request for a route: OpenAI-compatible routes get the
 * client's body with "model" replaced, "stream" set, and when streaming
 * stream_options.include_usage true (unknown fields pass through);
 * Anthropic routes get a Messages API body (system messages to "system",
 * content parts, tools and tool_choice, stop to stop_sequences, max_tokens
 * defaulting to 4096, temperature, top_p). `prefill`, if not NULL, is an
 * assistant text appended as the last message (continuing a cut answer).
 * path_out receives the URL path after base_url ("/chat/completions" or
 * "/messages"). */
int live_build_upstream(const live_chat_req *req, ld_provider provider,
                        const char *model, bool stream, const char *prefill,
                        live_buf *body_out, const char **path_out);

/* ---- non-streaming answers ----------------------------------------------- */
typedef struct live_answer {
    int64_t input_tokens, output_tokens; /* usage; -1 when absent */
    char finish_reason[32];              /* "stop", "length", ... */
    char model[128];                     /* the model that answered */
} live_answer;

/* Turn an upstream 2xx body into the client's chat.completion JSON (an
 * OpenAI body is passed through unchanged; an Anthropic message is
 * translated). LD_EINVAL when the body is not a valid answer (the caller
 * classifies that as invalid_response). */
int live_translate_answer(ld_provider provider, const char *body, size_t len,
                          live_buf *out, live_answer *info);

/* ---- streams ----------------------------------------------------------------- */

/* Server-sent events reader: feed bytes as they arrive; each complete event
 * (lines up to a blank line) is delivered to on_event with its "event:"
 * name (NULL if none) and its "data:" lines joined by '\n' (len bytes,
 * not NUL-terminated: an event whole in one feed is delivered from the
 * feed itself, without a copy). Comment lines
 * (":") are skipped. A line longer than max_line is an error (LD_ELIMIT),
 * never a silent truncation. */
typedef void (*live_sse_fn)(void *ud, const char *event, const char *data,
                            size_t len);
typedef struct live_sse live_sse;
live_sse *live_sse_new(size_t max_line);
void live_sse_free(live_sse *s);
int live_sse_feed(live_sse *s, const char *p, size_t n, live_sse_fn fn,
                  void *ud);

/* What one upstream stream event meant. */
typedef struct live_chunk_info {
    bool content;   /* carried answer content (text or a tool call): the
                       first such event is the first token */
    bool finished;  /* a finish_reason / stop_reason arrived */
    bool done;      /* the stream's terminator: [DONE] or message_stop */
    bool error;     /* an error event or error object inside the stream */
    bool malformed; /* the data is not the JSON it should be */
    int tokens;     /* content pieces in this event (for progress) */
} live_chunk_info;

/* Per-attempt stream translator: upstream events in, client OpenAI
 * chat.completion.chunk SSE text out ("data: {...}\n\n"). OpenAI chunks
 * are passed through as they are; Anthropic events are translated (a role
 * chunk first, text and tool-call deltas, the finish reason, and a final
 * usage chunk when the client asked for include_usage). The translator
 * never writes "data: [DONE]": the server does, once it has decided the
 * answer is complete. */
typedef struct live_stream live_stream;
live_stream *live_stream_new(ld_provider provider, const char *id,
                             int64_t created, bool include_usage);
void live_stream_free(live_stream *s);
int live_stream_feed(live_stream *s, const char *event, const char *data,
                     size_t len, live_buf *out, live_chunk_info *info);
/* Usage and finish reason seen so far (-1 when unknown). */
void live_stream_result(const live_stream *s, live_answer *info);
/* The answer text received so far, up to 1 MiB (kept from the start
 * unless live_stream_keep_text(s, false) said otherwise). */
const char *live_stream_text(const live_stream *s);
/* Keep the answer text (the default) or not: a stream that will never be
 * continued elsewhere need not hold its whole answer. */
void live_stream_keep_text(live_stream *s, bool keep);
/* The whole answer so far, to continue it elsewhere as an assistant
 * prefill; NULL when the text is not the whole answer (it holds tool
 * calls, a refusal or several choices, or is longer than the kept text). */
const char *live_stream_prefill(const live_stream *s);

#endif
