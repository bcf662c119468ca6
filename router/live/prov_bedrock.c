/* prov_bedrock.c - AWS Bedrock's Converse and ConverseStream APIs
 * (live_provider.h), signed with AWS SigV4 by our own signer
 * (live_sigv4.c, each path segment encoded twice as AWS wants; hooked in
 * live_attempt.c) with the standard AWS credentials.
 *
 * URLs: {base}/model/{modelId}/converse and .../converse-stream, the base
 * https://bedrock-runtime.{aws_region}.amazonaws.com unless the route
 * gives one (tests). Upstream bodies: system and developer messages to
 * "system" text blocks; user, assistant and tool messages to "messages"
 * (a tool message is a user turn with a toolResult block; consecutive
 * turns of one role merged); text blocks, data: URL images as image
 * blocks (png, jpeg, gif, webp); an assistant's tool_calls as toolUse
 * blocks (arguments must be a JSON object); tools as toolConfig.tools
 * toolSpecs, tool_choice auto, required (any) or a named function (tool);
 * max_tokens, temperature, top_p and stop in inferenceConfig. A prefill
 * is a final assistant turn (Converse continues it), its trailing white
 * space dropped as the Messages API requires. Not expressible
 * (LD_EINVAL): an image by URL, other part types, tool_choice "none"
 * (Converse has no such choice), no model.
 *
 * Answers: output.message's text and toolUse blocks; stopReason end_turn,
 * stop_sequence -> stop; max_tokens, model_context_window_exceeded ->
 * length; tool_use -> tool_calls; guardrail_intervened, content_filtered
 * -> content_filter (content_blocked). Usage: inputTokens plus cache reads
 * and writes, outputTokens. Streams (AWS event-stream framing, read by
 * live_evs.c): messageStart, contentBlockStart (a tool call's id and
 * name), contentBlockDelta (text, a tool call's input JSON; reasoning is
 * not forwarded), contentBlockStop, messageStop (the finish reason),
 * metadata (usage; the stream's last event: its end); an exception frame
 * (throttlingException, validationException, modelStreamErrorException,
 * serviceUnavailableException, internalServerException) is an error event
 * whose type ld_classify reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ld_class.h"
#include "live_adapter_int.h"

/* ---- the request ---------------------------------------------------------- */

static int add_text(cJSON *blocks, const char *text)
{
    if (text == NULL || text[0] == '\0')
        return LD_OK; /* Converse refuses blank text blocks */
    cJSON *b = cJSON_CreateObject();
    if (!live_jpush(blocks, b) || !cJSON_AddStringToObject(b, "text", text))
        return LD_ENOMEM;
    return LD_OK;
}

static int add_image(cJSON *blocks, const char *url)
{
    char media[128];
    const char *data = NULL;
    if (url == NULL || live_data_url_split(url, media, sizeof media, &data) ||
        strncmp(media, "image/", 6) != 0)
        return LD_EINVAL;
    const char *fmt = media + 6;
    if (strcmp(fmt, "jpg") == 0)
        fmt = "jpeg";
    if (strcmp(fmt, "png") != 0 && strcmp(fmt, "jpeg") != 0 &&
        strcmp(fmt, "gif") != 0 && strcmp(fmt, "webp") != 0)
        return LD_EINVAL;
    cJSON *b = cJSON_CreateObject(), *img, *src;
    if (!live_jpush(blocks, b) ||
        (img = cJSON_AddObjectToObject(b, "image")) == NULL ||
        !cJSON_AddStringToObject(img, "format", fmt) ||
        (src = cJSON_AddObjectToObject(img, "source")) == NULL ||
        !cJSON_AddStringToObject(src, "bytes", data))
        return LD_ENOMEM;
    return LD_OK;
}

static int add_tool_uses(cJSON *blocks, const cJSON *calls)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, calls) {
        const cJSON *f = live_jget(c, "function");
        const char *id = live_jstr(c, "id"), *name = live_jstr(f, "name");
        cJSON *input = NULL, *b, *tu;
        if (id == NULL || name == NULL)
            return LD_EINVAL;
        int rc = live_walk_args(live_jstr(f, "arguments"), &input);
        if (rc != LD_OK)
            return rc;
        b = cJSON_CreateObject();
        if (!live_jpush(blocks, b) ||
            (tu = cJSON_AddObjectToObject(b, "toolUse")) == NULL ||
            !cJSON_AddStringToObject(tu, "toolUseId", id) ||
            !cJSON_AddStringToObject(tu, "name", name)) {
            cJSON_Delete(input);
            return LD_ENOMEM;
        }
        if (!live_jset(tu, "input", input))
            return LD_ENOMEM;
    }
    return LD_OK;
}

static int add_tool_result(const live_walk *w, cJSON *blocks,
                           const cJSON *msgs, const cJSON *m)
{
    const char *id = live_jstr(m, "tool_call_id");
    cJSON *b, *tr, *content;
    (void)msgs;
    if (id == NULL)
        return LD_EINVAL;
    b = cJSON_CreateObject();
    if (!live_jpush(blocks, b) ||
        (tr = cJSON_AddObjectToObject(b, "toolResult")) == NULL ||
        !cJSON_AddStringToObject(tr, "toolUseId", id) ||
        (content = cJSON_AddArrayToObject(tr, "content")) == NULL)
        return LD_ENOMEM;
    int rc = live_walk_content(w, content, live_jget(m, "content"));
    if (rc == LD_OK && cJSON_GetArraySize(content) == 0)
        rc = add_text(content, "(empty)"); /* a result needs a block */
    return rc;
}

/* What each message becomes (live_walk.c walks them). */
static const live_walk bedrock_walk = {
    .text = add_text,
    .image = add_image,
    .tool_calls = add_tool_uses,
    .tool_result = add_tool_result,
    .system = live_walk_system_parts,
    .assistant = "assistant",
    .field = "content",
};

static int build_messages(const cJSON *body, const char *prefill, cJSON *root)
{
    cJSON *msgs = cJSON_AddArrayToObject(root, "messages");
    cJSON *sys = cJSON_CreateArray();
    int rc = LD_ENOMEM;
    if (msgs == NULL || sys == NULL)
        goto done;
    rc = live_walk_messages(&bedrock_walk, live_jget(body, "messages"), prefill,
                            msgs, sys);
    if (rc != LD_OK)
        goto done;
    live_walk_trim_final(msgs, "content", NULL);
    if (cJSON_GetArraySize(sys) > 0) {
        cJSON *tmp = sys;
        sys = NULL;
        if (!live_jset(root, "system", tmp))
            rc = LD_ENOMEM;
    }
done:
    cJSON_Delete(sys);
    return rc;
}

static int build_inference(const live_chat_req *req, cJSON *root)
{
    const cJSON *body = req->body;
    cJSON *ic = cJSON_CreateObject();
    if (!live_jset(root, "inferenceConfig", ic))
        return LD_ENOMEM;
    if (req->max_tokens > 0 &&
        !cJSON_AddNumberToObject(ic, "maxTokens", (double)req->max_tokens))
        return LD_ENOMEM;
    const cJSON *t = live_jget(body, "temperature");
    if (cJSON_IsNumber(t)) {
        double v = t->valuedouble < 0 ? 0 : t->valuedouble > 1 ? 1
                                                               : t->valuedouble;
        if (!cJSON_AddNumberToObject(ic, "temperature", v))
            return LD_ENOMEM;
    }
    t = live_jget(body, "top_p");
    if (cJSON_IsNumber(t) && !cJSON_AddNumberToObject(ic, "topP", t->valuedouble))
        return LD_ENOMEM;
    const cJSON *stop = live_jget(body, "stop");
    if (cJSON_IsString(stop) || cJSON_IsArray(stop)) {
        cJSON *seqs = cJSON_AddArrayToObject(ic, "stopSequences");
        if (seqs == NULL)
            return LD_ENOMEM;
        if (cJSON_IsString(stop))
            return live_jpush(seqs, cJSON_CreateString(stop->valuestring))
                       ? LD_OK
                       : LD_ENOMEM;
        const cJSON *s;
        cJSON_ArrayForEach(s, stop) {
            if (cJSON_IsString(s) &&
                !live_jpush(seqs, cJSON_CreateString(s->valuestring)))
                return LD_ENOMEM;
        }
    }
    return LD_OK;
}

static int build_tool_config(const cJSON *body, cJSON *root)
{
    const cJSON *tools = live_jget(body, "tools"), *t;
    if (!cJSON_IsArray(tools) || cJSON_GetArraySize(tools) == 0)
        return LD_OK;
    cJSON *tc = cJSON_CreateObject(), *list;
    if (!live_jset(root, "toolConfig", tc) ||
        (list = cJSON_AddArrayToObject(tc, "tools")) == NULL)
        return LD_ENOMEM;
    cJSON_ArrayForEach(t, tools) {
        const char *type = live_jstr(t, "type");
        const cJSON *f = live_jget(t, "function");
        const char *name = live_jstr(f, "name");
        const char *desc = live_jstr(f, "description");
        const cJSON *params = live_jget(f, "parameters");
        cJSON *e, *spec, *schema;
        if ((type != NULL && strcmp(type, "function") != 0) || name == NULL)
            return LD_EINVAL;
        e = cJSON_CreateObject();
        if (!live_jpush(list, e) ||
            (spec = cJSON_AddObjectToObject(e, "toolSpec")) == NULL ||
            !cJSON_AddStringToObject(spec, "name", name) ||
            (desc != NULL && !cJSON_AddStringToObject(spec, "description", desc)) ||
            (schema = cJSON_AddObjectToObject(spec, "inputSchema")) == NULL)
            return LD_ENOMEM;
        cJSON *js = cJSON_IsObject(params)
                        ? cJSON_Duplicate(params, 1)
                        : cJSON_Parse("{\"type\":\"object\",\"properties\":{}}");
        if (!live_jset(schema, "json", js))
            return LD_ENOMEM;
    }
    const cJSON *choice = live_jget(body, "tool_choice");
    cJSON *c = NULL, *inner;
    if (live_jabsent(choice))
        return LD_OK;
    const char *only = live_jstr(live_jget(choice, "function"), "name");
    if (cJSON_IsString(choice) && strcmp(choice->valuestring, "none") == 0)
        return LD_EINVAL; /* Converse cannot forbid tools it was given */
    c = cJSON_CreateObject();
    if (!live_jset(tc, "toolChoice", c))
        return LD_ENOMEM;
    if (cJSON_IsString(choice) && strcmp(choice->valuestring, "auto") == 0)
        return cJSON_AddObjectToObject(c, "auto") != NULL ? LD_OK : LD_ENOMEM;
    if (cJSON_IsString(choice) && strcmp(choice->valuestring, "required") == 0)
        return cJSON_AddObjectToObject(c, "any") != NULL ? LD_OK : LD_ENOMEM;
    if (only == NULL)
        return LD_EINVAL;
    if ((inner = cJSON_AddObjectToObject(c, "tool")) == NULL ||
        !cJSON_AddStringToObject(inner, "name", only))
        return LD_ENOMEM;
    return LD_OK;
}

static int build_bedrock(const live_chat_req *req, const char *model,
                         bool stream, const char *prefill, live_buf *out)
{
    (void)stream; /* in the URL */
    if (model == NULL)
        return LD_EINVAL; /* the model is in the URL */
    cJSON *root = cJSON_CreateObject();
    int rc;
    if (root == NULL)
        return LD_ENOMEM;
    if ((rc = build_messages(req->body, prefill, root)) == LD_OK &&
        (rc = build_inference(req, root)) == LD_OK &&
        (rc = build_tool_config(req->body, root)) == LD_OK)
        rc = live_jprint_append(root, out);
    cJSON_Delete(root);
    return rc;
}

/* ---- answers and streams --------------------------------------------------- */

static const char *map_stop(const char *r)
{
    if (r == NULL)
        return NULL;
    if (strcmp(r, "max_tokens") == 0 ||
        strcmp(r, "model_context_window_exceeded") == 0)
        return "length";
    if (strcmp(r, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(r, "guardrail_intervened") == 0 ||
        strcmp(r, "content_filtered") == 0)
        return "content_filter";
    return "stop";
}

static void bedrock_usage(const cJSON *u, int64_t *in, int64_t *out)
{
    int64_t i = live_jint(u, "inputTokens");
    if (i >= 0) {
        int64_t cr = live_jint(u, "cacheReadInputTokens");
        int64_t cw = live_jint(u, "cacheWriteInputTokens");
        *in = i + (cr > 0 ? cr : 0) + (cw > 0 ? cw : 0);
    }
    int64_t o = live_jint(u, "outputTokens");
    if (o >= 0)
        *out = o;
}

static int bedrock_answer(const cJSON *root, const char *body, size_t len,
                          live_buf *out, live_answer *info)
{
    (void)body;
    (void)len;
    const cJSON *msg = live_jget(live_jget(root, "output"), "message");
    const cJSON *content = live_jget(msg, "content"), *blk;
    int rc = LD_ENOMEM;
    if (!cJSON_IsArray(content))
        return LD_EINVAL;
    const char *finish = map_stop(live_jstr(root, "stopReason"));
    bedrock_usage(live_jget(root, "usage"), &info->input_tokens,
                  &info->output_tokens);
    live_copy_trunc(info->finish_reason, sizeof info->finish_reason, finish);
    live_buf text;
    cJSON *calls = NULL;
    bool any_text = false;
    live_buf_init(&text, 0);
    cJSON_ArrayForEach(blk, content) {
        const char *t = live_jstr(blk, "text");
        const cJSON *tu = live_jget(blk, "toolUse");
        if (t != NULL) {
            if (live_buf_append(&text, t, strlen(t)) != LD_OK)
                goto done;
            any_text = true;
        } else if (cJSON_IsObject(tu)) {
            const char *id = live_jstr(tu, "toolUseId");
            const char *name = live_jstr(tu, "name");
            const cJSON *input = live_jget(tu, "input");
            if (id == NULL || name == NULL) {
                rc = LD_EINVAL;
                goto done;
            }
            char *a = cJSON_IsObject(input) ? cJSON_PrintUnformatted(input)
                                            : NULL;
            if (cJSON_IsObject(input) && a == NULL)
                goto done;
            cJSON *call = live_tool_call_new(-1, id, name, a != NULL ? a : "{}");
            cJSON_free(a);
            if (calls == NULL && (calls = cJSON_CreateArray()) == NULL) {
                cJSON_Delete(call);
                goto done;
            }
            if (!live_jpush(calls, call))
                goto done;
        }
    }
    cJSON *tmp = calls;
    calls = NULL;
    rc = live_completion_print(NULL, "",
                               any_text || tmp == NULL
                                   ? (text.data != NULL ? text.data : "")
                                   : NULL,
                               tmp, finish, info->input_tokens,
                               info->output_tokens, out);
done:
    cJSON_Delete(calls);
    live_buf_cleanup(&text);
    return rc;
}

static int bedrock_feed(live_stream *s, const char *event, const char *data,
                        size_t len, live_buf *out, live_chunk_info *info)
{
    cJSON *root = NULL;
    int rc;
    if (event != NULL && strcmp(event, "error") == 0) {
        info->error = true;
        return LD_OK;
    }
    rc = live_json_parse(data, len, &root, NULL);
    if (rc == LD_ENOMEM)
        return rc;
    if (rc != LD_OK || !cJSON_IsObject(root) || event == NULL) {
        info->malformed = true;
        cJSON_Delete(root);
        return LD_OK;
    }
    rc = LD_OK;
    int64_t block = live_jint(root, "contentBlockIndex");
    if (strcmp(event, "messageStart") == 0) {
        rc = live_chunk_role(s, out);
    } else if (strcmp(event, "contentBlockStart") == 0) {
        const cJSON *tu = live_jget(live_jget(root, "start"), "toolUse");
        const char *id = live_jstr(tu, "toolUseId"), *name = live_jstr(tu, "name");
        if (cJSON_IsObject(tu)) {
            if (id == NULL || name == NULL || block < 0) {
                info->malformed = true;
            } else if ((rc = live_chunk_tool_slot(s, block)) >= 0) {
                info->content = true;
                info->tokens++;
                rc = live_chunk_tool(s, rc, id, name, "", out);
            }
        }
    } else if (strcmp(event, "contentBlockDelta") == 0) {
        const cJSON *d = live_jget(root, "delta");
        const char *t = live_jstr(d, "text");
        const cJSON *tu = live_jget(d, "toolUse");
        if (t != NULL) {
            info->content = true;
            info->tokens++;
            if (t[0] != '\0')
                rc = live_chunk_text(s, t, out);
        } else if (cJSON_IsObject(tu)) {
            const char *in = live_jstr(tu, "input");
            int slot = -1;
            for (int i = 0; i < s->ntools; i++)
                if (s->tool_block[i] == block)
                    slot = i;
            if (in == NULL || slot < 0) {
                info->malformed = true;
            } else {
                info->content = true;
                info->tokens++;
                if (in[0] != '\0')
                    rc = live_chunk_tool(s, slot, NULL, NULL, in, out);
            }
        }
        /* reasoningContent: not forwarded */
    } else if (strcmp(event, "messageStop") == 0) {
        const char *sr = live_jstr(root, "stopReason");
        info->finished = true;
        rc = live_chunk_finish(s, map_stop(sr != NULL ? sr : "end_turn"), out);
    } else if (strcmp(event, "metadata") == 0) {
        bedrock_usage(live_jget(root, "usage"), &s->input_tokens,
                      &s->output_tokens);
        info->done = true;
        rc = live_chunk_usage(s, out);
    }
    /* contentBlockStop and unknown events: nothing to do */
    cJSON_Delete(root);
    return rc;
}

const live_provider live_provider_bedrock = {
    .name = "bedrock",
    .default_base_url = "https://bedrock-runtime.%s.amazonaws.com",
    .path = "/model/%s/converse",
    .stream_path = "/model/%s/converse-stream",
    .auth_header = NULL,
    .version_header = NULL,
    .sigv4_service = "bedrock",
    .event_stream = true,
    .stream_accept = "application/vnd.amazon.eventstream",
    .makes_chunks = true,
    .build = build_bedrock,
    .answer = bedrock_answer,
    .stream_event = bedrock_feed,
    .error_words = ld_parse_error_body,
};
