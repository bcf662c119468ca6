/* live_face.h - the client APIs besides chat completions, as tables.
 *
 * The ladder works on one request form, the OpenAI chat completions body
 * (live_chat_req), and answers in one form, chat.completion JSON and
 * chat.completion.chunk SSE. A "face" is another API a client may speak:
 * it turns the client's body into that chat body (to_chat), and the chat
 * answer, chunks and errors back into its own shape. One `static const
 * live_face` per API, in a file of its own, in the shape of the provider
 * tables (live_provider.h):
 *
 *   live_face_messages   POST /v1/messages   (live_messages.c)
 *   live_face_responses  POST /v1/responses  (live_responses.c)
 *   live_face_embeddings POST /v1/embeddings (live_embed.c): no chat form;
 *                        its own parse, routed through embedding workloads
 *
 * Everything here is pure (bytes and cJSON): no sockets, no clock; the
 * ids and times a reply carries are arguments.
 */
#ifndef LIVE_FACE_H
#define LIVE_FACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "live_adapter.h"

typedef struct live_face_stream live_face_stream;

/* What a face writes into a stream, called by the shared driver
 * (live_face.c) as the OpenAI chunks arrive. Each returns LD_OK, LD_ELIMIT
 * or LD_ENOMEM. */
typedef struct live_face_events {
    int (*start)(live_face_stream *fs, live_buf *out);
    /* a text piece for the item fs->open (opened by the driver) */
    int (*text)(live_face_stream *fs, const char *t, live_buf *out);
    /* item fs->open is a tool call that just opened (id and name known) */
    int (*tool_start)(live_face_stream *fs, live_buf *out);
    int (*tool_args)(live_face_stream *fs, const char *t, live_buf *out);
    /* item i is over (the driver calls it before opening the next one) */
    int (*item_done)(live_face_stream *fs, int i, live_buf *out);
    /* the answer is complete: the closing events */
    int (*end)(live_face_stream *fs, live_buf *out);
    /* the stream failed after it started: an error event */
    int (*error)(live_face_stream *fs, const char *message, const char *code,
                 live_buf *out);
} live_face_events;

typedef struct live_face {
    const char *name;             /* "messages" */
    const char *id_prefix;        /* of the answer's id: "msg_ladder_" */
    const char *required_header;  /* the request must carry it; NULL none */
    /* The API's name for providers that speak it natively (their table's
     * native_api): such routes get the client's own body (live_chat_req's
     * native). NULL: every route gets the chat translation. */
    const char *native_api;
    bool embedding;               /* routed through embedding workloads */
    /* The client's body -> the chat completions body text (appended to
     * chat). LD_EINVAL with msg naming the field; LD_ENOMEM. NULL: the
     * body is parsed by `parse` as it is. */
    int (*to_chat)(const char *body, size_t len, live_buf *chat, char *msg,
                   size_t cap);
    /* Without to_chat: the body straight into the request
     * (live_chat_parse's contract). */
    int (*parse)(const char *body, size_t len, live_chat_req *out, char *msg,
                 size_t cap);
    /* The chat.completion answer (chat, len) -> the client's answer in
     * out; `id` is the answer's id, `created` Unix seconds. LD_EINVAL when
     * the chat answer is not one. NULL: it goes out as it is. */
    int (*answer)(const char *chat, size_t len, const char *id,
                  int64_t created, live_buf *out);
    /* The error body for a status, message and code (code may be NULL). */
    int (*error_body)(int status, const char *message, const char *type,
                      const char *code, live_buf *out);
    const live_face_events *ev;   /* NULL: no streaming */
} live_face;

extern const live_face live_face_messages;
extern const live_face live_face_responses;
extern const live_face live_face_embeddings;

/* The face of a URL path, NULL for chat completions and anything else. */
const live_face *live_face_for_path(const char *path);

/* ---- the stream driver (live_face.c) ------------------------------------ */

/* A stream in the face's shape for one request (every attempt's chunks go
 * through the one translator, so a continued stream is one answer). NULL
 * on no memory. */
live_face_stream *live_face_stream_new(const live_face *f, const char *id,
                                       int64_t created);
void live_face_stream_free(live_face_stream *fs);
/* OpenAI chunk SSE bytes ("data: {...}\n\n") in, the face's events out.
 * LD_OK; LD_ELIMIT, LD_ENOMEM. A chunk that is not JSON is skipped. */
int live_face_stream_feed(live_face_stream *fs, const char *p, size_t n,
                          live_buf *out);
/* The closing events (the answer is complete). */
int live_face_stream_end(live_face_stream *fs, live_buf *out);
/* An error event: the stream failed after it began. */
int live_face_stream_error(live_face_stream *fs, const char *message,
                           const char *code, live_buf *out);

/* ---- the driver's state, for the faces' event functions ----------------- */

#define FACE_MAX_ITEMS 64
#define FACE_TEXT_CAP ((size_t)8 << 20)

enum { FACE_ITEM_TEXT, FACE_ITEM_TOOL };

typedef struct live_face_item {
    int kind;
    int tool_index;     /* the OpenAI tool call index (tools) */
    char call_id[128];
    char name[128];
    live_buf acc;       /* its whole text or arguments so far */
} live_face_item;

struct live_face_stream {
    const live_face *face;
    live_sse *sse;
    live_buf *out;      /* during a feed */
    int rc;             /* the first failure of a feed */
    char id[64];
    int64_t created;
    char model[128];
    bool started, ended;
    int64_t in_tok, out_tok; /* -1 unknown */
    char finish[32];    /* the OpenAI finish_reason, "" none yet */
    uint64_t seq;       /* the face's own event counter */
    int nitems;
    int open;           /* the open item, -1 none */
    live_face_item items[FACE_MAX_ITEMS];
};

/* "event: <name>\ndata: <json of o>\n\n" into out; o is not consumed. */
int live_face_event(live_buf *out, const char *name, const cJSON *o);

/* ---- shared by the faces' translators ---------------------------------- */

/* The chat.completion's parts a face's answer needs. */
typedef struct live_face_answer {
    cJSON *root;                 /* owned */
    const char *model;
    const char *text;            /* choices[0].message.content, or NULL */
    const cJSON *tool_calls;     /* choices[0].message.tool_calls, or NULL */
    const char *finish;          /* finish_reason, "" when none */
    int64_t in_tok, out_tok;     /* 0 when unknown */
} live_face_answer;

/* Parse a chat.completion; LD_EINVAL when it is not one. */
int live_face_answer_parse(const char *chat, size_t len, live_face_answer *a);
void live_face_answer_cleanup(live_face_answer *a);

/* The body checks of live_chat.c for another API's body: no duplicate
 * key, valid UTF-8 everywhere, top-level fields among `fields` (NULL
 * ended). LD_EINVAL with msg; LD_ENOMEM. */
int live_body_check(const cJSON *root, const char *const *fields, char *msg,
                    size_t cap);

#endif
