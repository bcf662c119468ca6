/* prov_responses.c - OpenAI's Responses API passed through
 * (live_provider.h).
 *
 * An openai route whose capabilities name "responses" speaks the Responses
 * API at BASE_URL/responses. A client's POST /v1/responses sent to such a
 * route is its own body (live_face_responses checked it) with "model" set
 * to the route's model, "stream" set, and "store" false when the client
 * did not say (ladder keeps no responses, and refuses store true), and the
 * answer is relayed as it came (face_native: no translation either way):
 *
 *   whole     a "response" object; its usage (input_tokens, output_tokens)
 *             read for cost and the trace, its finish from status,
 *             incomplete_details and the output items (completed: stop, or
 *             tool_calls with a function_call item; incomplete:
 *             max_output_tokens length, content_filter content_filter).
 *             A status of failed or cancelled, or anything that is not a
 *             response object, is not a valid answer (invalid_response).
 *   stream    each event is passed on as "event: TYPE\ndata: DATA\n\n";
 *             read from it: the first output_text, refusal or function
 *             call arguments delta (or a function_call item added) is the
 *             first token and each later one progress; response.completed
 *             and response.incomplete are the terminator, with usage and
 *             finish; "error" and response.failed are error events
 *             (classified by their code and message, as the chat path
 *             classifies an error inside a stream); data that is not a
 *             JSON object with a "type", malformed. A stream that ends
 *             before its terminator is cut (live_result.c), and a stall is
 *             the core's timer, as on every stream.
 *
 * A pass-through stream is never continued on another route (its text is
 * not kept as a prefill: the client holds Responses events, not chat
 * text), so a cut after its first token ends the client's stream with an
 * "error" event whose sequence_number follows the last one relayed. A
 * continuation of a cut translated stream, and every rung after a failed
 * pass-through attempt that has not started the client's stream, go the
 * translated way as before (live_attempt.c chooses).
 */
#include <stdio.h>
#include <string.h>

#include "ld_class.h"
#include "live_adapter_int.h"

/* A chat request is never sent here: only a Responses client's own body
 * (native_build). */
static int resp_build(const live_chat_req *req, const char *model, bool stream,
                      const char *prefill, live_buf *out)
{
    (void)req;
    (void)model;
    (void)stream;
    (void)prefill;
    (void)out;
    return LD_EINVAL;
}

static int resp_native(const char *body, size_t len, const char *model,
                       bool stream, const char *prefill, live_buf *out)
{
    cJSON *root = NULL;
    if (prefill != NULL)
        return LD_EINVAL; /* the Responses API continues no prefill */
    int rc = live_json_parse(body, len, &root, NULL);
    if (rc != LD_OK)
        return rc == LD_ENOMEM ? rc : LD_EINVAL;
    if (!cJSON_IsObject(root) ||
        (model == NULL && live_jstr(root, "model") == NULL))
        rc = LD_EINVAL;
    else if ((model != NULL &&
              !live_jset(root, "model", cJSON_CreateString(model))) ||
             !live_jset(root, "stream", cJSON_CreateBool(stream)) ||
             (live_jabsent(live_jget(root, "store")) &&
              !live_jset(root, "store", cJSON_CreateFalse())))
        rc = LD_ENOMEM;
    else
        rc = live_jprint_append(root, out);
    cJSON_Delete(root);
    return rc;
}

/* The chat finish reason of a response object ("" when it has none). */
static const char *resp_finish(const cJSON *r)
{
    const char *status = live_jstr(r, "status");
    if (status == NULL)
        return "";
    if (strcmp(status, "incomplete") == 0) {
        const char *why = live_jstr(live_jget(r, "incomplete_details"), "reason");
        return why != NULL && strcmp(why, "content_filter") == 0
                   ? "content_filter"
                   : "length";
    }
    if (strcmp(status, "completed") != 0)
        return "";
    const cJSON *it;
    cJSON_ArrayForEach(it, live_jget(r, "output")) {
        const char *t = live_jstr(it, "type");
        if (t != NULL && strcmp(t, "function_call") == 0)
            return "tool_calls";
    }
    return "stop";
}

/* Usage and model of a response object into the stream or answer. */
static void resp_usage(const cJSON *r, int64_t *in, int64_t *out)
{
    const cJSON *u = live_jget(r, "usage");
    *in = live_jint(u, "input_tokens");
    *out = live_jint(u, "output_tokens");
}

static int resp_answer(const cJSON *root, const char *body, size_t len,
                       live_buf *out, live_answer *info)
{
    const char *obj = live_jstr(root, "object");
    const char *status = live_jstr(root, "status");
    if (obj == NULL || strcmp(obj, "response") != 0 || status == NULL ||
        !cJSON_IsArray(live_jget(root, "output")) ||
        strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0)
        return LD_EINVAL;
    resp_usage(root, &info->input_tokens, &info->output_tokens);
    live_copy_trunc(info->finish_reason, sizeof info->finish_reason,
                    resp_finish(root));
    live_copy_trunc(info->model, sizeof info->model, live_jstr(root, "model"));
    return live_buf_append(out, body, len);
}

static bool is(const char *type, const char *name)
{
    return strcmp(type, name) == 0;
}

static int resp_feed(live_stream *s, const char *event, const char *data,
                     size_t len, live_buf *out, live_chunk_info *info)
{
    cJSON *root = NULL;
    const char *type;
    (void)event; /* the data's "type" says the same, and is what counts */
    s->not_text = true; /* never a prefill elsewhere (see above) */
    if (live_json_parse(data, len, &root, NULL) == LD_ENOMEM)
        return LD_ENOMEM;
    if (!cJSON_IsObject(root) || (type = live_jstr(root, "type")) == NULL) {
        cJSON_Delete(root);
        info->malformed = true;
        return LD_OK;
    }
    const cJSON *r = live_jget(root, "response");
    int rc = LD_OK;
    if (is(type, "error") || is(type, "response.failed")) {
        /* not relayed: the router says what follows, numbered after the
         * last event relayed (so its sequence_number is not kept) */
        info->error = true;
        cJSON_Delete(root);
        return LD_OK;
    }
    int64_t seq = live_jint(root, "sequence_number");
    if (seq >= 0)
        s->seq = seq;
    if (is(type, "response.output_text.delta") ||
        is(type, "response.refusal.delta") ||
        is(type, "response.function_call_arguments.delta")) {
        info->content = true;
        info->tokens = 1;
    } else if (is(type, "response.output_item.added")) {
        const char *it = live_jstr(live_jget(root, "item"), "type");
        if (it != NULL && is(it, "function_call")) {
            info->content = true;
            info->tokens = 1;
        }
    } else if (is(type, "response.completed") ||
               is(type, "response.incomplete")) {
        const char *fin = resp_finish(r);
        resp_usage(r, &s->input_tokens, &s->output_tokens);
        live_copy_trunc(s->finish_reason, sizeof s->finish_reason, fin);
        info->finished = true;
        info->done = true;
    }
    const char *model = live_jstr(r, "model");
    if (model != NULL && s->model == NULL)
        rc = live_stream_set_model(s, model);
    if (rc == LD_OK) /* type points into root */
        rc = live_buf_appendf(out, "event: %s\ndata: ", type);
    cJSON_Delete(root);
    if (rc == LD_OK)
        rc = live_buf_append(out, data, len);
    if (rc == LD_OK)
        rc = live_buf_append(out, "\n\n", 2);
    return rc;
}

/* The string (or number, as digits into num) at key of a, else of b. */
static const char *word_of(const cJSON *a, const cJSON *b, const char *key,
                           char *num, size_t cap)
{
    for (int k = 0; k < 2; k++) {
        const cJSON *v = live_jget(k == 0 ? a : b, key);
        if (cJSON_IsString(v))
            return v->valuestring;
        if (cJSON_IsNumber(v)) {
            snprintf(num, cap, "%.0f", v->valuedouble);
            return num;
        }
    }
    return NULL;
}

/* The words of an error body ({"error": {...}}), an "error" event
 * ({"type": "error", "code", "message"} at the top, or inside its
 * "error" object) or a response.failed event (its response.error, or
 * its own "error" object). Each word is taken from the first of the two
 * that has it. */
static int resp_error_words(const char *body, size_t len, char *type,
                            size_t type_cap, char *code, size_t code_cap,
                            char *message, size_t message_cap)
{
    cJSON *root = NULL;
    const cJSON *e = NULL, *alt = NULL;
    const char *t;
    if (body != NULL && len > 0 &&
        live_json_parse(body, len, &root, NULL) == LD_OK &&
        (t = live_jstr(root, "type")) != NULL) {
        const cJSON *inner = live_jget(root, "error");
        if (!cJSON_IsObject(inner))
            inner = NULL;
        if (is(t, "error")) {
            e = root;
            alt = inner;
        } else if (is(t, "response.failed")) {
            e = live_jget(live_jget(root, "response"), "error");
            if (!cJSON_IsObject(e))
                e = NULL;
            alt = inner;
            if (e == NULL) {
                e = alt;
                alt = NULL;
            }
        }
    }
    if (!cJSON_IsObject(e)) {
        cJSON_Delete(root);
        return ld_parse_error_body(body, len, type, type_cap, code, code_cap,
                                   message, message_cap);
    }
    char num[32] = "", tnum[32] = "", mnum[32] = "";
    /* the event's own "type" is "error": the error's type is the inner one */
    const char *ty = e == root ? word_of(alt, NULL, "type", tnum, sizeof tnum)
                               : word_of(e, alt, "type", tnum, sizeof tnum);
    live_copy_trunc(type, type_cap, ty);
    live_copy_trunc(code, code_cap, word_of(e, alt, "code", num, sizeof num));
    live_copy_trunc(message, message_cap,
                    word_of(e, alt, "message", mnum, sizeof mnum));
    cJSON_Delete(root);
    return LD_OK;
}

int live_responses_error_event(int64_t last_seq, const char *message,
                               const char *code, live_buf *out)
{
    cJSON *o = cJSON_CreateObject();
    int rc = LD_ENOMEM;
    if (o != NULL && cJSON_AddStringToObject(o, "type", "error") != NULL &&
        (code != NULL ? cJSON_AddStringToObject(o, "code", code)
                      : cJSON_AddNullToObject(o, "code")) != NULL &&
        cJSON_AddStringToObject(o, "message", message != NULL ? message : "") !=
            NULL &&
        cJSON_AddNullToObject(o, "param") != NULL &&
        cJSON_AddNumberToObject(o, "sequence_number",
                                (double)(last_seq >= 0 ? last_seq + 1 : 0)) !=
            NULL) {
        rc = live_buf_append(out, "event: error\ndata: ", 19);
        if (rc == LD_OK)
            rc = live_jprint_append(o, out);
        if (rc == LD_OK)
            rc = live_buf_append(out, "\n\n", 2);
    }
    cJSON_Delete(o);
    return rc;
}

int64_t live_stream_last_seq(const live_stream *s)
{
    return s != NULL ? s->seq : -1;
}

const live_provider live_provider_responses = {
    .name = "openai",
    .default_base_url = "https://api.openai.com/v1",
    .path = "/responses",
    .auth_header = "Authorization: Bearer %s",
    .version_header = NULL,
    .makes_chunks = false,
    .face_native = true,
    .build = resp_build,
    .answer = resp_answer,
    .stream_event = resp_feed,
    .error_words = resp_error_words,
    .native_api = "responses",
    .native_build = resp_native,
};
