/* live_adapter_int.h - what the adapter files share (live_adapter.c,
 * live_chat.c, prov_*.c): JSON helpers, the cJSON scratch arena and the
 * stream translator's state. Private to router/live/.
 */
#ifndef LIVE_ADAPTER_INT_H
#define LIVE_ADAPTER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "live_adapter.h"
#include "live_provider.h"

/* live_stream_text keeps at most this much of the answer; a piece that does
 * not fit whole ends the accumulation, so the text stays a prefix of the
 * answer. */
#define STREAM_TEXT_MAX ((size_t)1024 * 1024)
/* tool calls one translated stream may open */
#define STREAM_MAX_TOOLS 128

/* ---- the cJSON arena (live_adapter.c) -------------------------------------
 * Open around a call whose trees all die inside it; calls nest. */
void live_json_arena_open(void);
void live_json_arena_close(void);

/* ---- JSON helpers ------------------------------------------------------- */

/* Parse len bytes as one JSON value with nothing but white space after it.
 * LD_EINVAL with *err_at (if not NULL) at the offending byte (len when the
 * text ran out); LD_ENOMEM. */
int live_json_parse(const char *p, size_t len, cJSON **out, size_t *err_at);
/* obj[key] = item, in place when the key exists. Takes ownership of item
 * (deleting it on failure). */
bool live_jset(cJSON *obj, const char *key, cJSON *item);
/* arr += item; takes ownership of item. */
bool live_jpush(cJSON *arr, cJSON *item);
/* items (an array, consumed) as a turn of `role` appended to turns, its
 * array under `field` ("content", Gemini's "parts"); merged into the last
 * turn when that has the same role; nothing when items is empty. LD_OK or
 * LD_ENOMEM. */
int live_jpush_turn(cJSON *turns, const char *role, const char *field,
                    cJSON *items);
/* Print root (not consumed) into out, appended. */
int live_jprint_append(const cJSON *root, live_buf *out);

/* ---- the chat-message walk (live_walk.c) -----------------------------------
 * One walk over the client's messages for the APIs whose bodies are lists
 * of turns (prov_anthropic.c, prov_gemini.c, prov_bedrock.c); each gives a
 * static const table of what each piece becomes. Every callback appends
 * to out (a cJSON array) and returns LD_OK, LD_EINVAL (the API cannot
 * express it) or LD_ENOMEM; what it appended before failing is deleted
 * with the array. */
typedef struct live_walk live_walk;
struct live_walk {
    /* a text or refusal part, or string content; text NULL or "": the
     * callback decides (all three add nothing) */
    int (*text)(cJSON *out, const char *text);
    /* an image_url part; url NULL when the part has none */
    int (*image)(cJSON *out, const char *url);
    /* an assistant message's "tool_calls" as the client sent it (NULL:
     * none) */
    int (*tool_calls)(cJSON *out, const cJSON *calls);
    /* tool message m (one of msgs, the whole list), into its user turn */
    int (*tool_result)(const live_walk *w, cJSON *out, const cJSON *msgs,
                       const cJSON *m);
    /* a system or developer message's content, into sys (the caller's
     * live_walk_messages argument) */
    int (*system)(const live_walk *w, void *sys, const cJSON *content);
    const char *assistant; /* the assistant's role: "assistant", "model" */
    const char *field;     /* a turn's list: "content", Gemini's "parts" */
};

/* The messages (the client's list) as turns appended to turns, the system
 * messages through w->system into sys, then a prefill (NULL or "": none)
 * as a final assistant turn of its text (live_walk.c says how each message
 * goes). LD_EINVAL for a message without a role or what a callback
 * refuses; LD_ENOMEM. */
int live_walk_messages(const live_walk *w, const cJSON *msgs,
                       const char *prefill, cJSON *turns, void *sys);
/* content (a string or a list of parts; absent: nothing) through w->text
 * and w->image into out; a part without a type, or of another type,
 * LD_EINVAL. For tool results and system prompts made of parts. */
int live_walk_content(const live_walk *w, cJSON *out, const cJSON *content);
/* w->system for an API whose system prompt is a list of parts like a
 * turn's: sys is that cJSON array. */
int live_walk_system_parts(const live_walk *w, void *sys, const cJSON *content);
/* The final turn, when it is the assistant's and its last item has text
 * (and, type not NULL, that "type"), loses its trailing white space (the
 * Messages API and Converse refuse it); an item left empty is dropped,
 * and the turn with it if it was its only one. */
void live_walk_trim_final(cJSON *turns, const char *field, const char *type);
/* Tool-call arguments (text) as a JSON object into *out: NULL or white
 * space alone is {}; text that is not a JSON object LD_EINVAL; LD_ENOMEM. */
int live_walk_args(const char *args, cJSON **out);

static inline const cJSON *live_jget(const cJSON *obj, const char *key)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key)
                               : NULL;
}

static inline const char *live_jstr(const cJSON *obj, const char *key)
{
    const cJSON *v = live_jget(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline bool live_jabsent(const cJSON *v)
{
    return v == NULL || cJSON_IsNull(v);
}

/* A non-negative integer field, or -1. */
static inline int64_t live_jint(const cJSON *obj, const char *key)
{
    const cJSON *v = live_jget(obj, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15)
        return -1;
    return (int64_t)v->valuedouble;
}

/* src (NULL: "") into dst, truncated to cap - 1 bytes. */
static inline void live_copy_trunc(char *dst, size_t cap, const char *src)
{
    if (cap == 0)
        return;
    if (src == NULL)
        src = "";
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static inline bool live_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

/* Usage unknown, no finish reason, no model. */
void live_answer_clear(live_answer *info);

/* ---- OpenAI's operations, shared by the APIs that speak its format
 * (prov_openai.c; Azure OpenAI's table uses them) ---------------------- */
int live_openai_build(const live_chat_req *req, const char *model,
                      bool stream, const char *prefill, live_buf *out);
int live_openai_answer(const cJSON *root, const char *body, size_t len,
                       live_buf *out, live_answer *info);
int live_openai_feed(live_stream *s, const char *event, const char *data,
                     size_t len, live_buf *out, live_chunk_info *info);

/* ---- the stream translator's state (live_adapter.c) ----------------------- */

struct live_stream {
    const live_provider *prov;
    char *id;          /* the client's chunk id (makes_chunks only) */
    int64_t created;
    bool include_usage;

    int64_t input_tokens, output_tokens;
    char finish_reason[32];
    char *model;   /* the model that answers, as it says; NULL unknown */

    live_buf text;
    bool text_full;
    bool not_text; /* tool calls, a refusal or several choices: the text is
                      not the whole answer */

    /* a translator that makes its own chunks (makes_chunks) */
    bool role_sent;
    bool usage_sent;
    int ntools;
    int64_t *tool_block; /* OpenAI tool call i is the upstream's content
                            block tool_block[i]; STREAM_MAX_TOOLS of them,
                            allocated with the first call */
    int64_t seq;         /* a passed-through Responses stream: the last
                            sequence_number it carried; -1 none */
};

/* The model the stream says answers (kept once: chunks repeat it).
 * LD_ENOMEM. */
int live_stream_set_model(live_stream *s, const char *model);
/* Keep answer text for live_stream_text, up to its cap. LD_ENOMEM. */
int live_stream_text_add(live_stream *s, const char *t);

/* ---- output of translators that make their own chunks (prov_chunks.c)
 * Each LD_OK or LD_ENOMEM. */

/* An OpenAI tool call; `index` for stream deltas when >= 0. NULL: no
 * memory. */
cJSON *live_tool_call_new(int index, const char *id, const char *name,
                          const char *args);
/* A whole chat.completion into out: content text (NULL: null), tool calls
 * (consumed; NULL: none), finish reason (NULL: null), usage. */
int live_completion_print(const char *id, const char *model, const char *text,
                          cJSON *calls, const char *finish, int64_t in,
                          int64_t out_tokens, live_buf *out);
/* The role chunk (once per stream). */
int live_chunk_role(live_stream *s, live_buf *out);
/* A text delta (role first; the text kept for a continuation). */
int live_chunk_text(live_stream *s, const char *text, live_buf *out);
/* A tool-call delta: its start when id is not NULL (with name and the
 * first arguments), else a piece of its arguments. */
int live_chunk_tool(live_stream *s, int index, const char *id,
                    const char *name, const char *args, live_buf *out);
/* The finish chunk (and s->finish_reason). */
int live_chunk_finish(live_stream *s, const char *finish, live_buf *out);
/* The usage chunk, when the client asked for it (once). */
int live_chunk_usage(live_stream *s, live_buf *out);
/* The OpenAI tool index of upstream content block `block`, a new one for a
 * new block; LD_ELIMIT past STREAM_MAX_TOOLS, LD_ENOMEM. */
int live_chunk_tool_slot(live_stream *s, int64_t block);
/* A data:MEDIA;base64,DATA URL's media type (into media) and data
 * (pointing into url). LD_EINVAL for anything else. */
int live_data_url_split(const char *url, char *media, size_t cap,
                        const char **data);

#endif
