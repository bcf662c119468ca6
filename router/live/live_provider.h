/* live_provider.h - a provider's API as a table of operations.
 *
 * Each upstream API the live router speaks is one `static const
 * live_provider` in a file of its own (prov_openai.c, prov_anthropic.c),
 * in the shape of h2o's balancer strategies: the server looks the table up
 * once per route (live_provider_for) and from then on only calls through
 * it. A new provider (Azure, Bedrock, Gemini...) is one new file with one
 * table, and one line in live_provider_for. What the client sends is
 * always the OpenAI-shaped request (live_chat_parse, live_chat.c); what it
 * gets back is always OpenAI-shaped answers and chunks.
 */
#ifndef LIVE_PROVIDER_H
#define LIVE_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "live_adapter.h"

typedef struct live_provider {
    const char *name;             /* as in the policy: "openai" */
    /* When the route names none; a %s in it is the route's aws_region
     * (NULL: the route must name one). */
    const char *default_base_url;
    /* After base_url: "/chat/completions"; a %s is the route's model, one
     * path segment, URL-escaped ("/models/%s:generateContent").
     * stream_path for streams (NULL: path). */
    const char *path, *stream_path;
    /* Query parameters of every request, "name=value" joined by '&'
     * ("api-version=2024-10-21"), then stream_query's for streams (NULL:
     * none); a route's own "query" replaces one of the same name. */
    const char *query, *stream_query;
    /* Requests signed with AWS SigV4 for this service ("bedrock"; NULL:
     * none): credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
     * and AWS_SESSION_TOKEN instead of auth_header. */
    const char *sigv4_service;
    /* The stream's framing is AWS event-stream (live_evs.h), not SSE;
     * stream_accept is the Accept header of a stream (NULL:
     * text/event-stream). */
    bool event_stream;
    const char *stream_accept;
    /* Fixed upstream headers: the credentials line as a printf format
     * with one %s for the API key ("Authorization: Bearer %s"; NULL:
     * none), and a
     * version line sent with every request (NULL: none). */
    const char *auth_header;
    const char *version_header;
    /* true when the stream translator writes chunks of its own (they need
     * the client's chunk id); false when upstream chunks pass through. */
    bool makes_chunks;
    /* true when its answers and stream events are already in the shape of
     * the client face whose API it speaks (native_api): they reach that
     * client as they are, past the face's translation (the Responses API
     * passed through, prov_responses.c). */
    bool face_native;

    /* The upstream body for req (replacing out's content is the caller's
     * part: out is empty on entry). `model` may be NULL (the client's);
     * `prefill`, if not NULL, is assistant text the answer continues
     * from (a cut stream's text), sent as the API continues a prefill.
     * LD_EINVAL when the API cannot express the request, LD_ENOMEM. */
    int (*build)(const live_chat_req *req, const char *model, bool stream,
                 const char *prefill, live_buf *out);
    /* A whole 2xx answer, already parsed (root is a JSON object; body and
     * len its text): the client's chat.completion into out, usage and
     * finish reason into info (cleared by the caller). LD_EINVAL when it
     * is not a valid answer. */
    int (*answer)(const cJSON *root, const char *body, size_t len,
                  live_buf *out, live_answer *info);
    /* One upstream SSE event of a stream (live_stream_feed's contract:
     * info zeroed by the caller, LD_OK for everything understood,
     * malformed data and error events included). */
    int (*stream_event)(live_stream *s, const char *event, const char *data,
                        size_t len, live_buf *out, live_chunk_info *info);
    /* The words of an error body or error event (ld_parse_error_body's
     * contract: LD_OK when recognised, empty strings otherwise). */
    int (*error_words)(const char *body, size_t len, char *type,
                       size_t type_cap, char *code, size_t code_cap,
                       char *message, size_t message_cap);
    /* Embeddings (NULL: the API has none; a route of it cannot serve
     * them): the path after base_url, the upstream body for an embeddings
     * request (req->embed) and its 2xx answer (passed to the client as
     * the OpenAI list; usage into info, output tokens 0). */
    /* A client body in this API's own shape (req->native, when
     * req->native_api names native_api): the upstream body made from it
     * instead of build's translation, with build's contract. NULL: none. */
    const char *native_api;
    int (*native_build)(const char *body, size_t len, const char *model,
                        bool stream, const char *prefill, live_buf *out);
    const char *embed_path;
    int (*embed_build)(const live_chat_req *req, const char *model,
                       live_buf *out);
    int (*embed_answer)(const cJSON *root, const char *body, size_t len,
                        live_buf *out, live_answer *info);
} live_provider;

/* The table for a policy's provider; NULL for an unknown value. The one
 * place a provider is chosen by its enum. */
const live_provider *live_provider_for(ld_provider p);

/* OpenAI's Responses API passed through (prov_responses.c): the table an
 * attempt uses instead of its route's for a POST /v1/responses client on
 * an openai route whose capabilities name "responses" (LD_CAP_RESPONSES). */
extern const live_provider live_provider_responses;
/* A Responses stream's "error" event (the stream failed after it began),
 * numbered after last_seq (-1: none relayed), into out. LD_OK, LD_ENOMEM,
 * LD_ELIMIT. */
int live_responses_error_event(int64_t last_seq, const char *message,
                               const char *code, live_buf *out);
/* The last sequence_number a passed-through Responses stream carried; -1
 * none (or another API). */
int64_t live_stream_last_seq(const live_stream *s);

/* A route's upstream URL (curl's URL API: no string is pasted into it):
 * base_url (NULL: the provider's default, with region), the provider's
 * path for model and stream (model URL-escaped), the provider's query
 * and then the route's parameters (names[i]=values[i], URL-encoded; a
 * NULL value is skipped; a route parameter replaces the provider's of
 * the same name). *out is the caller's, freed with curl_free. LD_EINVAL
 * for a base_url curl refuses (why, if not NULL, names the part),
 * LD_ENOMEM. */
int live_url_make(const live_provider *p, const char *base_url,
                  const char *region, const char *model, bool stream,
                  const char *const *names, const char *const *values,
                  int n, char **out, const char **why);
/* The route's embeddings URL, the same way with the provider's embed_path;
 * *out NULL (and LD_OK) when the provider has no embeddings. */
int live_url_make_embed(const live_provider *p, const char *base_url,
                        const char *region, const char *model,
                        const char *const *names, const char *const *values,
                        int n, char **out, const char **why);

/* live_build_upstream, live_translate_answer and live_stream_new with the
 * table already chosen (path_out, if not NULL, gets p->path). */
int live_provider_build(const live_provider *p, const live_chat_req *req,
                        const char *model, bool stream, const char *prefill,
                        live_buf *body_out, const char **path_out);
int live_provider_answer(const live_provider *p, const char *body, size_t len,
                         live_buf *out, live_answer *info);
/* An embeddings answer through p's embed_answer (LD_EINVAL without one). */
int live_provider_embed_answer(const live_provider *p, const char *body,
                               size_t len, live_buf *out, live_answer *info);
live_stream *live_provider_stream_new(const live_provider *p, const char *id,
                                      int64_t created, bool include_usage);

#endif
