/* prov_openai.c - OpenAI-compatible chat completions APIs (live_provider.h).
 *
 * The client already speaks this API: the upstream body is the client's
 * with "model" replaced, "stream" set and, when streaming,
 * stream_options.include_usage true (unknown fields pass through); a whole
 * answer and stream chunks pass through as they are. A prefill (a cut
 * answer's text) is sent as a trailing assistant message, which the route
 * must support (its "prefill" capability).
 *
 * Streams: a usage-only chunk (empty "choices" with "usage") is dropped
 * when the client did not ask for include_usage, because the router asks
 * upstream for usage on every stream; a non-empty delta.refusal counts as
 * content like delta.content. An event named "error" or an object with a
 * non-null "error" is an error and is not forwarded (the server decides
 * whether to fall back).
 */
#include <stdlib.h>
#include <string.h>

#include "ld_class.h"
#include "live_adapter_int.h"

int live_openai_build(const live_chat_req *req, const char *model,
                        bool stream, const char *prefill, live_buf *out)
{
    int rc = LD_ENOMEM;
    cJSON *root = cJSON_Duplicate(req->body, 1);
    if (root == NULL)
        return LD_ENOMEM;
    if (model != NULL && !live_jset(root, "model", cJSON_CreateString(model)))
        goto done;
    if (!live_jset(root, "stream", cJSON_CreateBool(stream)))
        goto done;
    if (stream) {
        cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
        if (!cJSON_IsObject(so)) {
            if (!live_jset(root, "stream_options", cJSON_CreateObject()))
                goto done;
            so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
        }
        if (!live_jset(so, "include_usage", cJSON_CreateTrue()))
            goto done;
    } else {
        /* OpenAI refuses stream_options on a request that does not stream */
        cJSON_DeleteItemFromObjectCaseSensitive(root, "stream_options");
    }
    if (prefill != NULL && prefill[0] != '\0') {
        cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
        int count = cJSON_GetArraySize(msgs);
        cJSON *last = count > 0 ? cJSON_GetArrayItem(msgs, count - 1) : NULL;
        const char *role = live_jstr(last, "role");
        const cJSON *content = live_jget(last, "content");
        if (role != NULL && strcmp(role, "assistant") == 0 &&
            cJSON_IsString(content)) {
            /* continue the client's own prefill */
            live_buf joined;
            live_buf_init(&joined, 0);
            rc = live_buf_appendf(&joined, "%s%s", content->valuestring,
                                  prefill);
            if (rc == LD_OK &&
                !live_jset(last, "content", cJSON_CreateString(joined.data)))
                rc = LD_ENOMEM;
            live_buf_cleanup(&joined);
            if (rc != LD_OK)
                goto done;
            rc = LD_ENOMEM;
        } else {
            cJSON *m = cJSON_CreateObject();
            if (m == NULL || !cJSON_AddStringToObject(m, "role", "assistant") ||
                !cJSON_AddStringToObject(m, "content", prefill)) {
                cJSON_Delete(m);
                goto done;
            }
            if (!live_jpush(msgs, m))
                goto done;
        }
    }
    rc = live_jprint_append(root, out);
done:
    cJSON_Delete(root);
    return rc;
}

/* "data: <data>\n\n", each line of a multi-line data with its own prefix,
 * so the client reads back exactly these bytes. */
static int emit_verbatim(const char *data, size_t len, live_buf *out)
{
    size_t start = out->len;
    int rc = live_buf_append(out, "data: ", 6);
    for (size_t i = 0; rc == LD_OK && i < len;) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t seg = nl != NULL ? (size_t)(nl - (data + i)) : len - i;
        rc = live_buf_append(out, data + i, seg);
        i += seg;
        if (rc == LD_OK && nl != NULL) {
            rc = live_buf_append(out, "\ndata: ", 7);
            i++;
        }
    }
    if (rc == LD_OK)
        rc = live_buf_append(out, "\n\n", 2);
    if (rc != LD_OK) {
        out->len = start;
        if (out->data != NULL)
            out->data[start] = '\0';
    }
    return rc;
}

static bool is_done_marker(const char *data, size_t len)
{
    while (len > 0 && live_is_space(data[len - 1]))
        len--;
    while (len > 0 && live_is_space(*data)) {
        data++;
        len--;
    }
    return len == 6 && memcmp(data, "[DONE]", 6) == 0;
}

int live_openai_feed(live_stream *s, const char *event, const char *data,
                       size_t len, live_buf *out, live_chunk_info *info)
{
    cJSON *root = NULL;
    int rc;

    if (is_done_marker(data, len)) {
        info->done = true;
        return LD_OK;
    }
    rc = live_json_parse(data, len, &root, NULL);
    if (rc == LD_ENOMEM)
        return rc;
    if (rc != LD_OK || !cJSON_IsObject(root)) {
        info->malformed = true;
        cJSON_Delete(root);
        return LD_OK;
    }
    if ((event != NULL && strcmp(event, "error") == 0) ||
        !live_jabsent(live_jget(root, "error"))) {
        info->error = true;
        cJSON_Delete(root);
        return LD_OK;
    }

    const char *model = live_jstr(root, "model");
    if (model != NULL && model[0] != '\0' && live_stream_set_model(s, model) != LD_OK) {
        cJSON_Delete(root);
        return LD_ENOMEM;
    }
    const cJSON *usage = live_jget(root, "usage");
    if (cJSON_IsObject(usage)) {
        int64_t in = live_jint(usage, "prompt_tokens");
        int64_t o = live_jint(usage, "completion_tokens");
        if (in >= 0)
            s->input_tokens = in;
        if (o >= 0)
            s->output_tokens = o;
    }
    const cJSON *choices = live_jget(root, "choices");
    const cJSON *ch;
    cJSON_ArrayForEach(ch, choices) {
        const cJSON *delta = live_jget(ch, "delta");
        const char *text = live_jstr(delta, "content");
        const char *refusal = live_jstr(delta, "refusal");
        const cJSON *calls = live_jget(delta, "tool_calls");
        if (live_jint(ch, "index") > 0)
            s->not_text = true;
        if (text != NULL && text[0] != '\0') {
            info->content = true;
            info->tokens++;
            rc = live_stream_text_add(s, text);
            if (rc != LD_OK)
                goto done;
        }
        if (refusal != NULL && refusal[0] != '\0') {
            s->not_text = true;
            info->content = true;
            info->tokens++;
        }
        if (cJSON_IsArray(calls) && cJSON_GetArraySize(calls) > 0) {
            s->not_text = true;
            info->content = true;
            info->tokens += cJSON_GetArraySize(calls);
        }
        const char *fr = live_jstr(ch, "finish_reason");
        if (fr != NULL) {
            info->finished = true;
            live_copy_trunc(s->finish_reason, sizeof s->finish_reason, fr);
        }
    }
    /* the usage-only chunk is the client's only when it asked for it */
    if (!s->include_usage && cJSON_IsArray(choices) &&
        cJSON_GetArraySize(choices) == 0 && cJSON_IsObject(usage)) {
        rc = LD_OK;
        goto done;
    }
    rc = emit_verbatim(data, len, out);
done:
    cJSON_Delete(root);
    return rc;
}


int live_openai_answer(const cJSON *root, const char *body, size_t len,
                         live_buf *out, live_answer *info)
{
    const cJSON *choices = live_jget(root, "choices");
    const cJSON *c0 = cJSON_GetArrayItem(choices, 0);
    if (!cJSON_IsArray(choices) || !cJSON_IsObject(c0))
        return LD_EINVAL;
    const cJSON *usage = live_jget(root, "usage");
    info->input_tokens = live_jint(usage, "prompt_tokens");
    info->output_tokens = live_jint(usage, "completion_tokens");
    live_copy_trunc(info->finish_reason, sizeof info->finish_reason,
                    live_jstr(c0, "finish_reason"));
    live_copy_trunc(info->model, sizeof info->model, live_jstr(root, "model"));
    return live_buf_append(out, body, len);
}

/* Embeddings: the client's body with "model" replaced; the answer (an
 * OpenAI list of embeddings) passes through. */
static int openai_embed_build(const live_chat_req *req, const char *model,
                              live_buf *out)
{
    cJSON *root = cJSON_Duplicate(req->body, 1);
    int rc = LD_ENOMEM;
    if (root == NULL)
        return LD_ENOMEM;
    if (model == NULL || live_jset(root, "model", cJSON_CreateString(model)))
        rc = live_jprint_append(root, out);
    cJSON_Delete(root);
    return rc;
}

static int openai_embed_answer(const cJSON *root, const char *body,
                               size_t len, live_buf *out, live_answer *info)
{
    const cJSON *data = live_jget(root, "data");
    const cJSON *d0 = cJSON_GetArrayItem(data, 0);
    if (!cJSON_IsArray(data) || !cJSON_IsObject(d0) ||
        live_jabsent(live_jget(d0, "embedding")))
        return LD_EINVAL;
    const cJSON *usage = live_jget(root, "usage");
    info->input_tokens = live_jint(usage, "prompt_tokens");
    info->output_tokens = 0;
    live_copy_trunc(info->finish_reason, sizeof info->finish_reason, "stop");
    live_copy_trunc(info->model, sizeof info->model, live_jstr(root, "model"));
    return live_buf_append(out, body, len);
}

const live_provider live_provider_openai = {
    .name = "openai",
    .default_base_url = "https://api.openai.com/v1",
    .path = "/chat/completions",
    .auth_header = "Authorization: Bearer %s",
    .version_header = NULL,
    .makes_chunks = false,
    .build = live_openai_build,
    .answer = live_openai_answer,
    .stream_event = live_openai_feed,
    .error_words = ld_parse_error_body,
    .embed_path = "/embeddings",
    .embed_build = openai_embed_build,
    .embed_answer = openai_embed_answer,
};
