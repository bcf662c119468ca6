/* prov_chunks.c - the OpenAI-shaped output of translators that make their
 * own chunks and answers (prov_gemini.c, prov_bedrock.c): a role chunk
 * first, text and tool-call deltas, the finish chunk, a usage chunk when
 * the client asked for include_usage, and whole chat.completion answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "live_adapter_int.h"

cJSON *live_tool_call_new(int index, const char *id, const char *name,
                          const char *args)
{
    cJSON *c = cJSON_CreateObject(), *f = NULL;
    if (c == NULL ||
        (index >= 0 && !cJSON_AddNumberToObject(c, "index", index)) ||
        !cJSON_AddStringToObject(c, "id", id) ||
        !cJSON_AddStringToObject(c, "type", "function") ||
        (f = cJSON_AddObjectToObject(c, "function")) == NULL ||
        !cJSON_AddStringToObject(f, "name", name) ||
        !cJSON_AddStringToObject(f, "arguments", args)) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

static int add_usage(cJSON *obj, int64_t in, int64_t out)
{
    cJSON *u = cJSON_AddObjectToObject(obj, "usage");
    int64_t i = in < 0 ? 0 : in, o = out < 0 ? 0 : out;
    if (u == NULL || !cJSON_AddNumberToObject(u, "prompt_tokens", (double)i) ||
        !cJSON_AddNumberToObject(u, "completion_tokens", (double)o) ||
        !cJSON_AddNumberToObject(u, "total_tokens", (double)(i + o)))
        return LD_ENOMEM;
    return LD_OK;
}

int live_completion_print(const char *id, const char *model, const char *text,
                          cJSON *calls, const char *finish, int64_t in,
                          int64_t out_tokens, live_buf *out)
{
    int rc = LD_ENOMEM;
    char cid[160];
    cJSON *root = cJSON_CreateObject(), *choices, *choice, *m;
    snprintf(cid, sizeof cid, "chatcmpl-%.140s", id != NULL ? id : "ladder");
    if (root == NULL || !cJSON_AddStringToObject(root, "id", cid) ||
        !cJSON_AddStringToObject(root, "object", "chat.completion") ||
        !cJSON_AddNumberToObject(root, "created", 0) ||
        !cJSON_AddStringToObject(root, "model", model != NULL ? model : "") ||
        (choices = cJSON_AddArrayToObject(root, "choices")) == NULL)
        goto done;
    choice = cJSON_CreateObject();
    if (!live_jpush(choices, choice) ||
        !cJSON_AddNumberToObject(choice, "index", 0) ||
        (m = cJSON_AddObjectToObject(choice, "message")) == NULL ||
        !cJSON_AddStringToObject(m, "role", "assistant") ||
        (text != NULL ? !cJSON_AddStringToObject(m, "content", text)
                      : !cJSON_AddNullToObject(m, "content")))
        goto done;
    if (calls != NULL) {
        cJSON *tmp = calls;
        calls = NULL;
        if (!live_jset(m, "tool_calls", tmp))
            goto done;
    }
    if (!cJSON_AddNullToObject(choice, "logprobs") ||
        (finish != NULL
             ? !cJSON_AddStringToObject(choice, "finish_reason", finish)
             : !cJSON_AddNullToObject(choice, "finish_reason")))
        goto done;
    rc = add_usage(root, in, out_tokens);
    if (rc == LD_OK)
        rc = live_jprint_append(root, out);
done:
    cJSON_Delete(calls);
    cJSON_Delete(root);
    return rc;
}

/* {id, object, created, model, choices:[{index 0, delta {}, finish}]}
 * (choices empty when delta_out is NULL). */
static cJSON *chunk_new(const live_stream *s, cJSON **delta_out,
                        const char *finish)
{
    cJSON *root = cJSON_CreateObject(), *choices, *choice;
    if (root == NULL ||
        !cJSON_AddStringToObject(root, "id", s->id != NULL ? s->id : "") ||
        !cJSON_AddStringToObject(root, "object", "chat.completion.chunk") ||
        !cJSON_AddNumberToObject(root, "created", (double)s->created) ||
        !cJSON_AddStringToObject(root, "model",
                                 s->model != NULL ? s->model : "") ||
        (choices = cJSON_AddArrayToObject(root, "choices")) == NULL)
        goto fail;
    if (delta_out != NULL) {
        choice = cJSON_CreateObject();
        if (!live_jpush(choices, choice) ||
            !cJSON_AddNumberToObject(choice, "index", 0) ||
            (*delta_out = cJSON_AddObjectToObject(choice, "delta")) == NULL ||
            (finish != NULL
                 ? !cJSON_AddStringToObject(choice, "finish_reason", finish)
                 : !cJSON_AddNullToObject(choice, "finish_reason")))
            goto fail;
    }
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

/* "data: {...}\n\n" of chunk (consumed). */
static int chunk_emit(cJSON *chunk, live_buf *out)
{
    if (chunk == NULL)
        return LD_ENOMEM;
    char *txt = cJSON_PrintUnformatted(chunk);
    cJSON_Delete(chunk);
    if (txt == NULL)
        return LD_ENOMEM;
    int rc = live_buf_appendf(out, "data: %s\n\n", txt);
    cJSON_free(txt);
    return rc;
}

int live_chunk_role(live_stream *s, live_buf *out)
{
    cJSON *delta = NULL;
    if (s->role_sent)
        return LD_OK;
    cJSON *c = chunk_new(s, &delta, NULL);
    if (c == NULL || !cJSON_AddStringToObject(delta, "role", "assistant") ||
        !cJSON_AddStringToObject(delta, "content", "")) {
        cJSON_Delete(c);
        return LD_ENOMEM;
    }
    int rc = chunk_emit(c, out);
    if (rc == LD_OK)
        s->role_sent = true;
    return rc;
}

int live_chunk_text(live_stream *s, const char *text, live_buf *out)
{
    cJSON *delta = NULL;
    int rc = live_chunk_role(s, out);
    if (rc != LD_OK)
        return rc;
    cJSON *c = chunk_new(s, &delta, NULL);
    if (c == NULL || !cJSON_AddStringToObject(delta, "content", text)) {
        cJSON_Delete(c);
        return LD_ENOMEM;
    }
    rc = chunk_emit(c, out);
    return rc == LD_OK ? live_stream_text_add(s, text) : rc;
}

int live_chunk_tool(live_stream *s, int index, const char *id,
                    const char *name, const char *args, live_buf *out)
{
    cJSON *delta = NULL, *calls, *call, *f;
    int rc = live_chunk_role(s, out);
    if (rc != LD_OK)
        return rc;
    s->not_text = true;
    cJSON *c = chunk_new(s, &delta, NULL);
    if (c == NULL ||
        (calls = cJSON_AddArrayToObject(delta, "tool_calls")) == NULL)
        goto fail;
    if (id != NULL) {
        if (!live_jpush(calls, live_tool_call_new(index, id, name,
                                                  args != NULL ? args : "")))
            goto fail;
    } else {
        call = cJSON_CreateObject();
        if (!live_jpush(calls, call) ||
            !cJSON_AddNumberToObject(call, "index", index) ||
            (f = cJSON_AddObjectToObject(call, "function")) == NULL ||
            !cJSON_AddStringToObject(f, "arguments", args))
            goto fail;
    }
    return chunk_emit(c, out);
fail:
    cJSON_Delete(c);
    return LD_ENOMEM;
}

int live_chunk_finish(live_stream *s, const char *finish, live_buf *out)
{
    cJSON *delta = NULL;
    int rc = live_chunk_role(s, out);
    live_copy_trunc(s->finish_reason, sizeof s->finish_reason, finish);
    return rc == LD_OK ? chunk_emit(chunk_new(s, &delta, finish), out) : rc;
}

int live_chunk_usage(live_stream *s, live_buf *out)
{
    if (!s->include_usage || s->usage_sent)
        return LD_OK;
    cJSON *c = chunk_new(s, NULL, NULL);
    if (c == NULL || add_usage(c, s->input_tokens, s->output_tokens) != LD_OK) {
        cJSON_Delete(c);
        return LD_ENOMEM;
    }
    int rc = chunk_emit(c, out);
    if (rc == LD_OK)
        s->usage_sent = true;
    return rc;
}

int live_chunk_tool_slot(live_stream *s, int64_t block)
{
    for (int i = 0; i < s->ntools; i++)
        if (s->tool_block[i] == block)
            return i;
    if (s->ntools >= STREAM_MAX_TOOLS)
        return LD_ELIMIT;
    if (s->tool_block == NULL &&
        (s->tool_block = calloc(STREAM_MAX_TOOLS, sizeof *s->tool_block)) ==
            NULL)
        return LD_ENOMEM;
    s->tool_block[s->ntools] = block;
    return s->ntools++;
}

int live_data_url_split(const char *url, char *media, size_t cap,
                        const char **data)
{
    static const char b64[] = ";base64";
    size_t blen = sizeof b64 - 1;
    if (strncasecmp(url, "data:", 5) != 0)
        return LD_EINVAL;
    const char *comma = strchr(url, ',');
    if (comma == NULL)
        return LD_EINVAL;
    const char *meta = url + 5;
    size_t mlen = (size_t)(comma - meta);
    if (mlen < blen || strncasecmp(comma - blen, b64, blen) != 0)
        return LD_EINVAL;
    const char *semi = memchr(meta, ';', mlen);
    size_t tlen = (size_t)(semi - meta);
    if (tlen == 0 || tlen >= cap)
        return LD_EINVAL;
    memcpy(media, meta, tlen);
    media[tlen] = '\0';
    *data = comma + 1;
    return LD_OK;
}
