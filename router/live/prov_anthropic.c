/* prov_anthropic.c - Anthropic's Messages API (live_provider.h).
 *
 * Upstream bodies: system messages to "system", content parts, tools and
 * tool_choice, stop to stop_sequences, max_tokens defaulting to 4096,
 * temperature, top_p. A request the Messages API cannot express (a content
 * part other than text or image_url, an image URL that is neither
 * data:...;base64 nor http(s), tool-call arguments that are not a JSON
 * object, a tool that is not a function, no model) is LD_EINVAL.
 * Temperature is clamped to [0, 1] (OpenAI allows 2); response_format is
 * dropped (the route's LD_CAP_JSON is the operator's promise); messages
 * left without content are dropped; and the final assistant text loses its
 * trailing white space, which the Messages API refuses in a final assistant
 * turn (a prefill, the continuation of a cut answer, is such a turn: the
 * API continues prefills natively).
 *
 * Answers and streams are translated to OpenAI's: a role chunk first, text
 * and tool-call deltas, the finish reason, and a final usage chunk when the
 * client asked for include_usage. A tool_use content_block_start counts as
 * content (it carries the call's id and name, as OpenAI's first tool_calls
 * delta does); thinking deltas and unknown events are ignored. Stop
 * reasons: end_turn, stop_sequence, pause_turn -> stop; max_tokens,
 * model_context_window_exceeded -> length; tool_use -> tool_calls; refusal
 * -> content_filter; anything else -> stop. Usage: prompt_tokens is
 * input_tokens plus the cache creation and cache read input tokens
 * (OpenAI's prompt_tokens includes cached tokens).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ld_class.h"
#include "live_adapter_int.h"

#define ANTHROPIC_DEFAULT_MAX_TOKENS 4096

static int add_text_block(cJSON *blocks, const char *text)
{
    if (text == NULL || text[0] == '\0')
        return LD_OK; /* the Messages API refuses empty text blocks */
    cJSON *b = cJSON_CreateObject();
    if (b == NULL || !cJSON_AddStringToObject(b, "type", "text") ||
        !cJSON_AddStringToObject(b, "text", text)) {
        cJSON_Delete(b);
        return LD_ENOMEM;
    }
    return live_jpush(blocks, b) ? LD_OK : LD_ENOMEM;
}

/* image_url part -> {"type":"image","source":{...}}: a data: URL becomes a
 * base64 source, an http(s) URL a url source; anything else (no URL)
 * LD_EINVAL. */
static int add_image_block(cJSON *blocks, const char *url)
{
    char media[128];
    const char *data = NULL;

    if (url == NULL)
        return LD_EINVAL;
    if (strncasecmp(url, "data:", 5) == 0) {
        const char *comma = strchr(url, ',');
        static const char b64[] = ";base64";
        size_t blen = sizeof b64 - 1;
        if (comma == NULL)
            return LD_EINVAL;
        const char *meta = url + 5;
        size_t mlen = (size_t)(comma - meta);
        if (mlen < blen || strncasecmp(comma - blen, b64, blen) != 0)
            return LD_EINVAL;
        const char *semi = memchr(meta, ';', mlen);
        size_t tlen = (size_t)(semi - meta);
        if (tlen == 0 || tlen >= sizeof media)
            return LD_EINVAL;
        memcpy(media, meta, tlen);
        media[tlen] = '\0';
        data = comma + 1;
    } else if (strncasecmp(url, "http://", 7) != 0 &&
               strncasecmp(url, "https://", 8) != 0) {
        return LD_EINVAL;
    }

    cJSON *b = cJSON_CreateObject();
    cJSON *src = NULL;
    if (b == NULL || !cJSON_AddStringToObject(b, "type", "image") ||
        (src = cJSON_AddObjectToObject(b, "source")) == NULL)
        goto fail;
    if (data != NULL) {
        if (!cJSON_AddStringToObject(src, "type", "base64") ||
            !cJSON_AddStringToObject(src, "media_type", media) ||
            !cJSON_AddStringToObject(src, "data", data))
            goto fail;
    } else {
        if (!cJSON_AddStringToObject(src, "type", "url") ||
            !cJSON_AddStringToObject(src, "url", url))
            goto fail;
    }
    return live_jpush(blocks, b) ? LD_OK : LD_ENOMEM;
fail:
    cJSON_Delete(b);
    return LD_ENOMEM;
}

/* assistant tool_calls -> tool_use blocks; arguments must be a JSON object
 * (or empty, read as {}); tool_calls that are not a list: none. */
static int add_tool_use_blocks(cJSON *blocks, const cJSON *calls)
{
    const cJSON *c;
    if (!cJSON_IsArray(calls))
        return LD_OK;
    cJSON_ArrayForEach(c, calls) {
        const cJSON *f = live_jget(c, "function");
        const char *id = live_jstr(c, "id"), *name = live_jstr(f, "name");
        cJSON *input = NULL;
        if (id == NULL || name == NULL)
            return LD_EINVAL;
        int rc = live_walk_args(live_jstr(f, "arguments"), &input);
        if (rc != LD_OK)
            return rc;
        cJSON *b = cJSON_CreateObject();
        if (b == NULL || !cJSON_AddStringToObject(b, "type", "tool_use") ||
            !cJSON_AddStringToObject(b, "id", id) ||
            !cJSON_AddStringToObject(b, "name", name)) {
            cJSON_Delete(b);
            cJSON_Delete(input);
            return LD_ENOMEM;
        }
        if (!live_jset(b, "input", input)) { /* jset deleted input */
            cJSON_Delete(b);
            return LD_ENOMEM;
        }
        if (!live_jpush(blocks, b))
            return LD_ENOMEM;
    }
    return LD_OK;
}

/* tool message -> {"type":"tool_result","tool_use_id","content"?} */
static int add_tool_result_block(const live_walk *w, cJSON *blocks,
                                 const cJSON *msgs, const cJSON *m)
{
    (void)msgs;
    const char *id = live_jstr(m, "tool_call_id");
    const cJSON *content = live_jget(m, "content");
    int rc = LD_ENOMEM;
    if (id == NULL)
        return LD_EINVAL;
    cJSON *b = cJSON_CreateObject();
    if (b == NULL || !cJSON_AddStringToObject(b, "type", "tool_result") ||
        !cJSON_AddStringToObject(b, "tool_use_id", id))
        goto fail;
    if (cJSON_IsString(content)) {
        if (content->valuestring[0] != '\0' &&
            !cJSON_AddStringToObject(b, "content", content->valuestring))
            goto fail;
    } else if (cJSON_IsArray(content)) {
        cJSON *inner = cJSON_AddArrayToObject(b, "content");
        if (inner == NULL)
            goto fail;
        rc = live_walk_content(w, inner, content);
        if (rc != LD_OK)
            goto fail;
    }
    return live_jpush(blocks, b) ? LD_OK : LD_ENOMEM;
fail:
    cJSON_Delete(b);
    return rc;
}

/* system/developer content -> text appended to sys (a live_buf),
 * separated by blank lines; parts without text (an image) add nothing. */
static int add_system_text(const live_walk *w, void *sys_buf,
                           const cJSON *content)
{
    live_buf *sys = sys_buf;
    int rc = LD_OK;
    (void)w;
    if (cJSON_IsString(content)) {
        if (content->valuestring[0] == '\0')
            return LD_OK;
        if (sys->len > 0)
            rc = live_buf_append(sys, "\n\n", 2);
        if (rc == LD_OK)
            rc = live_buf_append(sys, content->valuestring,
                                 strlen(content->valuestring));
        return rc;
    }
    bool first = true;
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        const char *text = live_jstr(part, "text");
        if (text == NULL || text[0] == '\0')
            continue;
        if (sys->len > 0)
            rc = live_buf_append(sys, first ? "\n\n" : "\n", first ? 2 : 1);
        if (rc == LD_OK)
            rc = live_buf_append(sys, text, strlen(text));
        if (rc != LD_OK)
            return rc;
        first = false;
    }
    return LD_OK;
}

/* What each message becomes (live_walk.c walks them). */
static const live_walk anthropic_walk = {
    .text = add_text_block,
    .image = add_image_block,
    .tool_calls = add_tool_use_blocks,
    .tool_result = add_tool_result_block,
    .system = add_system_text,
    .assistant = "assistant",
    .field = "content",
};

static int build_anthropic_messages(const live_chat_req *req,
                                    const char *prefill, cJSON *root)
{
    int rc;
    live_buf sys;
    live_buf_init(&sys, 0);
    cJSON *msgs = cJSON_AddArrayToObject(root, "messages");
    if (msgs == NULL)
        return LD_ENOMEM;
    rc = live_walk_messages(&anthropic_walk, live_jget(req->body, "messages"),
                            prefill, msgs, &sys);
    if (rc != LD_OK)
        goto done;
    live_walk_trim_final(msgs, "content", "text");
    if (sys.len > 0 && !cJSON_AddStringToObject(root, "system", sys.data))
        rc = LD_ENOMEM;
done:
    live_buf_cleanup(&sys);
    return rc;
}

static int build_anthropic_tools(const cJSON *body, cJSON *root)
{
    const cJSON *tools = live_jget(body, "tools");
    if (!cJSON_IsArray(tools) || cJSON_GetArraySize(tools) == 0)
        return LD_OK;
    cJSON *out = cJSON_AddArrayToObject(root, "tools");
    if (out == NULL)
        return LD_ENOMEM;
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
        const char *type = live_jstr(t, "type");
        const cJSON *f = live_jget(t, "function");
        const char *name = live_jstr(f, "name");
        if ((type != NULL && strcmp(type, "function") != 0) || name == NULL)
            return LD_EINVAL;
        const char *desc = live_jstr(f, "description");
        const cJSON *params = live_jget(f, "parameters");
        cJSON *schema = cJSON_IsObject(params)
                            ? cJSON_Duplicate(params, 1)
                            : cJSON_Parse("{\"type\":\"object\","
                                          "\"properties\":{}}");
        cJSON *at = cJSON_CreateObject();
        if (schema == NULL || at == NULL ||
            !cJSON_AddStringToObject(at, "name", name) ||
            (desc != NULL &&
             !cJSON_AddStringToObject(at, "description", desc))) {
            cJSON_Delete(schema);
            cJSON_Delete(at);
            return LD_ENOMEM;
        }
        if (!live_jset(at, "input_schema", schema)) {
            cJSON_Delete(at);
            return LD_ENOMEM;
        }
        if (!live_jpush(out, at))
            return LD_ENOMEM;
    }

    /* tool_choice: "auto" | "required" | "none" | {"type":"function",
     * "function":{"name"}}; parallel_tool_calls false disables parallel
     * use */
    const cJSON *tc = live_jget(body, "tool_choice");
    bool serial = cJSON_IsFalse(live_jget(body, "parallel_tool_calls"));
    const char *type = NULL, *name = NULL;
    if (live_jabsent(tc)) {
        if (!serial)
            return LD_OK;
        type = "auto";
    } else if (cJSON_IsString(tc)) {
        if (strcmp(tc->valuestring, "auto") == 0)
            type = "auto";
        else if (strcmp(tc->valuestring, "required") == 0)
            type = "any";
        else if (strcmp(tc->valuestring, "none") == 0)
            type = "none";
        else
            return LD_EINVAL;
    } else {
        name = live_jstr(live_jget(tc, "function"), "name");
        if (name == NULL)
            return LD_EINVAL;
        type = "tool";
    }
    cJSON *choice = cJSON_CreateObject();
    if (choice == NULL || !cJSON_AddStringToObject(choice, "type", type) ||
        (name != NULL && !cJSON_AddStringToObject(choice, "name", name)) ||
        (serial && strcmp(type, "none") != 0 &&
         !cJSON_AddTrueToObject(choice, "disable_parallel_tool_use"))) {
        cJSON_Delete(choice);
        return LD_ENOMEM;
    }
    return live_jset(root, "tool_choice", choice) ? LD_OK : LD_ENOMEM;
}

static int build_anthropic(const live_chat_req *req, const char *model,
                           bool stream, const char *prefill, live_buf *out)
{
    int rc = LD_ENOMEM;
    const cJSON *body = req->body;
    if (model == NULL)
        return LD_EINVAL; /* the Messages API requires a model */
    cJSON *root = cJSON_CreateObject();
    if (root == NULL)
        return LD_ENOMEM;
    if (!cJSON_AddStringToObject(root, "model", model) ||
        !cJSON_AddNumberToObject(root, "max_tokens",
                                 req->max_tokens > 0
                                     ? (double)req->max_tokens
                                     : ANTHROPIC_DEFAULT_MAX_TOKENS))
        goto done;
    rc = build_anthropic_messages(req, prefill, root);
    if (rc != LD_OK)
        goto done;
    rc = LD_ENOMEM;

    const cJSON *stop = live_jget(body, "stop");
    if (cJSON_IsString(stop) || cJSON_IsArray(stop)) {
        cJSON *seqs = cJSON_AddArrayToObject(root, "stop_sequences");
        if (seqs == NULL)
            goto done;
        if (cJSON_IsString(stop)) {
            if (!live_jpush(seqs, cJSON_CreateString(stop->valuestring)))
                goto done;
        } else {
            const cJSON *s;
            cJSON_ArrayForEach(s, stop) {
                if (cJSON_IsString(s) &&
                    !live_jpush(seqs, cJSON_CreateString(s->valuestring)))
                    goto done;
            }
        }
    }
    const cJSON *temp = live_jget(body, "temperature");
    if (cJSON_IsNumber(temp)) {
        double t = temp->valuedouble < 0   ? 0
                   : temp->valuedouble > 1 ? 1
                                           : temp->valuedouble;
        if (!cJSON_AddNumberToObject(root, "temperature", t))
            goto done;
    }
    const cJSON *top_p = live_jget(body, "top_p");
    if (cJSON_IsNumber(top_p) &&
        !cJSON_AddNumberToObject(root, "top_p", top_p->valuedouble))
        goto done;
    rc = build_anthropic_tools(body, root);
    if (rc != LD_OK)
        goto done;
    rc = LD_ENOMEM;
    if (!cJSON_AddBoolToObject(root, "stream", stream))
        goto done;
    rc = live_jprint_append(root, out);
done:
    cJSON_Delete(root);
    return rc;
}


/* The client's own Messages body (live_face_messages checked it): "model"
 * replaced, "stream" set, a prefill (a cut answer's text) appended to the
 * final assistant turn (the client's own, or a new one) as a text block,
 * whose trailing white space goes as in build_anthropic. */
static int native_anthropic(const char *body, size_t len, const char *model,
                            bool stream, const char *prefill, live_buf *out)
{
    cJSON *root = NULL;
    int rc = live_json_parse(body, len, &root, NULL);
    if (rc != LD_OK)
        return rc == LD_ENOMEM ? rc : LD_EINVAL;
    rc = LD_ENOMEM;
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!cJSON_IsObject(root) || !cJSON_IsArray(msgs) ||
        (model == NULL && live_jstr(root, "model") == NULL)) {
        rc = LD_EINVAL;
        goto done;
    }
    if (model != NULL && !live_jset(root, "model", cJSON_CreateString(model)))
        goto done;
    if (!live_jset(root, "stream", cJSON_CreateBool(stream)))
        goto done;
    if (prefill != NULL && prefill[0] != '\0') {
        int n = cJSON_GetArraySize(msgs);
        cJSON *last = n > 0 ? cJSON_GetArrayItem(msgs, n - 1) : NULL;
        const char *role = live_jstr(last, "role");
        cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content");
        if (role == NULL || strcmp(role, "assistant") != 0) {
            cJSON *m = cJSON_CreateObject();
            if (m == NULL || !cJSON_AddStringToObject(m, "role", "assistant") ||
                (content = cJSON_AddArrayToObject(m, "content")) == NULL) {
                cJSON_Delete(m);
                goto done;
            }
            if (!live_jpush(msgs, m))
                goto done;
        } else if (cJSON_IsString(content)) {
            /* the client's text becomes the first block */
            cJSON *blocks = cJSON_CreateArray();
            if (blocks != NULL &&
                add_text_block(blocks, content->valuestring) != LD_OK) {
                cJSON_Delete(blocks);
                blocks = NULL;
            }
            if (!live_jset(last, "content", blocks))
                goto done;
            content = blocks;
        } else if (!cJSON_IsArray(content)) {
            rc = LD_EINVAL;
            goto done;
        }
        if (add_text_block(content, prefill) != LD_OK)
            goto done;
        live_walk_trim_final(msgs, "content", "text");
    }
    rc = live_jprint_append(root, out);
done:
    cJSON_Delete(root);
    return rc;
}

static const char *map_stop_reason(const char *r)
{
    if (r == NULL)
        return NULL;
    if (strcmp(r, "max_tokens") == 0 ||
        strcmp(r, "model_context_window_exceeded") == 0)
        return "length";
    if (strcmp(r, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(r, "refusal") == 0)
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence, pause_turn, unknown */
}

/* Anthropic usage: input tokens including cache writes and reads. */
static void anthropic_usage(const cJSON *usage, int64_t *in, int64_t *out)
{
    int64_t i = live_jint(usage, "input_tokens");
    if (i >= 0) {
        int64_t cw = live_jint(usage, "cache_creation_input_tokens");
        int64_t cr = live_jint(usage, "cache_read_input_tokens");
        *in = i + (cw > 0 ? cw : 0) + (cr > 0 ? cr : 0);
    }
    int64_t o = live_jint(usage, "output_tokens");
    if (o >= 0)
        *out = o;
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

/* One Anthropic tool_use block -> an OpenAI tool call (arguments printed);
 * `index` added for stream deltas when >= 0. */
static cJSON *tool_call_new(int index, const char *id, const char *name,
                            const char *args)
{
    cJSON *c = cJSON_CreateObject(), *f = NULL;
    if (c == NULL || (index >= 0 &&
                      !cJSON_AddNumberToObject(c, "index", index)) ||
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

static int translate_anthropic_answer(const cJSON *msg, live_buf *out,
                                      live_answer *info)
{
    int rc = LD_ENOMEM;
    const cJSON *content = live_jget(msg, "content");
    const char *type = live_jstr(msg, "type");
    if (!cJSON_IsArray(content) ||
        (type != NULL && strcmp(type, "message") != 0))
        return LD_EINVAL;
    const char *id = live_jstr(msg, "id");
    const char *model = live_jstr(msg, "model");
    const char *finish = map_stop_reason(live_jstr(msg, "stop_reason"));
    anthropic_usage(live_jget(msg, "usage"), &info->input_tokens,
                    &info->output_tokens);
    live_copy_trunc(info->model, sizeof info->model, model);
    live_copy_trunc(info->finish_reason, sizeof info->finish_reason, finish);

    live_buf text;
    live_buf_init(&text, 0);
    cJSON *root = cJSON_CreateObject(), *choices, *choice, *m, *calls = NULL;
    if (root == NULL)
        goto done;
    if (!cJSON_AddStringToObject(root, "object", "chat.completion") ||
        !cJSON_AddNumberToObject(root, "created", 0) ||
        !cJSON_AddStringToObject(root, "model", model != NULL ? model : "") ||
        (choices = cJSON_AddArrayToObject(root, "choices")) == NULL)
        goto done;
    if (live_buf_appendf(&text, "chatcmpl-%s", id != NULL ? id : "ladder") ||
        !live_jset(root, "id", cJSON_CreateString(text.data)))
        goto done;
    text.len = 0;
    text.data[0] = '\0';
    choice = cJSON_CreateObject();
    if (!live_jpush(choices, choice) ||
        !cJSON_AddNumberToObject(choice, "index", 0) ||
        (m = cJSON_AddObjectToObject(choice, "message")) == NULL ||
        !cJSON_AddStringToObject(m, "role", "assistant"))
        goto done;

    bool any_text = false;
    const cJSON *blk;
    cJSON_ArrayForEach(blk, content) {
        const char *bt = live_jstr(blk, "type");
        if (bt == NULL)
            continue;
        if (strcmp(bt, "text") == 0 && live_jstr(blk, "text") != NULL) {
            const char *t = live_jstr(blk, "text");
            rc = live_buf_append(&text, t, strlen(t));
            if (rc != LD_OK)
                goto done;
            rc = LD_ENOMEM;
            any_text = true;
        } else if (strcmp(bt, "tool_use") == 0) {
            const char *tid = live_jstr(blk, "id"), *name = live_jstr(blk, "name");
            if (tid == NULL || name == NULL) {
                rc = LD_EINVAL;
                goto done;
            }
            const cJSON *input = live_jget(blk, "input");
            char *args = cJSON_IsObject(input) ? cJSON_PrintUnformatted(input)
                                               : NULL;
            if (cJSON_IsObject(input) && args == NULL)
                goto done;
            cJSON *call = tool_call_new(-1, tid, name,
                                        args != NULL ? args : "{}");
            cJSON_free(args);
            if (calls == NULL)
                calls = cJSON_CreateArray();
            if (calls == NULL) {
                cJSON_Delete(call);
                goto done;
            }
            if (!live_jpush(calls, call))
                goto done;
        }
    }
    if (any_text || calls == NULL) {
        if (!cJSON_AddStringToObject(m, "content",
                                     text.data != NULL ? text.data : ""))
            goto done;
    } else if (!cJSON_AddNullToObject(m, "content")) {
        goto done;
    }
    if (calls != NULL) {
        cJSON *tmp = calls;
        calls = NULL;
        if (!live_jset(m, "tool_calls", tmp))
            goto done;
    }
    if (!cJSON_AddNullToObject(choice, "logprobs") ||
        (finish != NULL ? !cJSON_AddStringToObject(choice, "finish_reason",
                                                   finish)
                        : !cJSON_AddNullToObject(choice, "finish_reason")))
        goto done;
    rc = add_usage(root, info->input_tokens, info->output_tokens);
    if (rc == LD_OK)
        rc = live_jprint_append(root, out);
done:
    cJSON_Delete(calls);
    cJSON_Delete(root);
    live_buf_cleanup(&text);
    return rc;
}

/* A chunk skeleton: {id, object, created, model, choices:[{index 0, delta
 * {}, finish_reason}]} (choices empty when delta_out is NULL). */
static cJSON *chunk_new(const live_stream *s, cJSON **delta_out,
                        const char *finish)
{
    cJSON *root = cJSON_CreateObject(), *choices, *choice;
    if (root == NULL || !cJSON_AddStringToObject(root, "id", s->id != NULL ? s->id : "") ||
        !cJSON_AddStringToObject(root, "object", "chat.completion.chunk") ||
        !cJSON_AddNumberToObject(root, "created", (double)s->created) ||
        !cJSON_AddStringToObject(root, "model", s->model != NULL ? s->model : "") ||
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

/* Print chunk (consumed) as "data: {...}\n\n". */
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

static int emit_role(live_stream *s, live_buf *out)
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

static int emit_text(live_stream *s, const char *text, live_buf *out)
{
    cJSON *delta = NULL;
    int rc = emit_role(s, out);
    if (rc != LD_OK)
        return rc;
    cJSON *c = chunk_new(s, &delta, NULL);
    if (c == NULL || !cJSON_AddStringToObject(delta, "content", text)) {
        cJSON_Delete(c);
        return LD_ENOMEM;
    }
    return chunk_emit(c, out);
}

/* A tool_calls delta: the call's start (id and name given) or a piece of
 * its arguments. */
static int emit_tool(live_stream *s, int index, const char *id,
                     const char *name, const char *args, live_buf *out)
{
    cJSON *delta = NULL, *calls, *call = NULL, *f;
    int rc = emit_role(s, out);
    if (rc != LD_OK)
        return rc;
    cJSON *c = chunk_new(s, &delta, NULL);
    if (c == NULL || (calls = cJSON_AddArrayToObject(delta, "tool_calls")) ==
                         NULL)
        goto fail;
    if (id != NULL) {
        if (!live_jpush(calls, tool_call_new(index, id, name, "")))
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

static int tool_index(const live_stream *s, int64_t block)
{
    for (int i = 0; i < s->ntools; i++)
        if (s->tool_block[i] == block)
            return i;
    return -1;
}

static int anthropic_feed(live_stream *s, const char *event, const char *data,
                          size_t len, live_buf *out, live_chunk_info *info)
{
    cJSON *root = NULL;
    int rc = live_json_parse(data, len, &root, NULL);
    if (rc == LD_ENOMEM)
        return rc;
    if (rc != LD_OK || !cJSON_IsObject(root)) {
        info->malformed = true;
        cJSON_Delete(root);
        return LD_OK;
    }
    const char *type = live_jstr(root, "type");
    if (type == NULL)
        type = event != NULL ? event : "";
    rc = LD_OK;

    if (strcmp(type, "error") == 0 || !live_jabsent(live_jget(root, "error"))) {
        info->error = true;
    } else if (strcmp(type, "message_start") == 0) {
        const cJSON *m = live_jget(root, "message");
        const char *model = live_jstr(m, "model");
        if (model != NULL && live_stream_set_model(s, model) != LD_OK)
            rc = LD_ENOMEM;
        anthropic_usage(live_jget(m, "usage"), &s->input_tokens,
                        &s->output_tokens);
        rc = emit_role(s, out);
    } else if (strcmp(type, "content_block_start") == 0) {
        const cJSON *cb = live_jget(root, "content_block");
        const char *bt = live_jstr(cb, "type");
        int64_t block = live_jint(root, "index");
        if (bt != NULL && strcmp(bt, "tool_use") == 0) {
            const char *id = live_jstr(cb, "id"), *name = live_jstr(cb, "name");
            if (id == NULL || name == NULL || block < 0) {
                info->malformed = true;
            } else if (s->ntools >= STREAM_MAX_TOOLS) {
                rc = LD_ELIMIT;
            } else if (s->tool_block == NULL &&
                       (s->tool_block = calloc(STREAM_MAX_TOOLS,
                                               sizeof *s->tool_block)) == NULL) {
                rc = LD_ENOMEM;
            } else {
                s->tool_block[s->ntools] = block;
                rc = emit_tool(s, s->ntools, id, name, NULL, out);
                s->ntools++;
                s->not_text = true;
                info->content = true;
                info->tokens++;
            }
        } else if (bt != NULL && strcmp(bt, "text") == 0) {
            const char *t = live_jstr(cb, "text");
            if (t != NULL && t[0] != '\0') {
                rc = emit_text(s, t, out);
                if (rc == LD_OK)
                    rc = live_stream_text_add(s, t);
                info->content = true;
                info->tokens++;
            }
        }
    } else if (strcmp(type, "content_block_delta") == 0) {
        const cJSON *d = live_jget(root, "delta");
        const char *dt = live_jstr(d, "type");
        if (dt != NULL && strcmp(dt, "text_delta") == 0) {
            const char *t = live_jstr(d, "text");
            if (t == NULL) {
                info->malformed = true;
            } else {
                info->content = true;
                info->tokens++;
                if (t[0] != '\0') {
                    rc = emit_text(s, t, out);
                    if (rc == LD_OK)
                        rc = live_stream_text_add(s, t);
                }
            }
        } else if (dt != NULL && strcmp(dt, "input_json_delta") == 0) {
            const char *pj = live_jstr(d, "partial_json");
            int ti = tool_index(s, live_jint(root, "index"));
            if (pj == NULL || ti < 0) {
                info->malformed = true;
            } else {
                info->content = true;
                info->tokens++;
                if (pj[0] != '\0')
                    rc = emit_tool(s, ti, NULL, NULL, pj, out);
            }
        }
        /* thinking_delta, signature_delta, citations: not forwarded */
    } else if (strcmp(type, "message_delta") == 0) {
        const char *sr = live_jstr(live_jget(root, "delta"), "stop_reason");
        anthropic_usage(live_jget(root, "usage"), &s->input_tokens,
                        &s->output_tokens);
        if (sr != NULL) {
            const char *fr = map_stop_reason(sr);
            cJSON *delta = NULL;
            live_copy_trunc(s->finish_reason, sizeof s->finish_reason, fr);
            info->finished = true;
            rc = emit_role(s, out);
            if (rc == LD_OK)
                rc = chunk_emit(chunk_new(s, &delta, fr), out);
        }
    } else if (strcmp(type, "message_stop") == 0) {
        info->done = true;
        if (s->include_usage && !s->usage_sent) {
            cJSON *c = chunk_new(s, NULL, NULL);
            if (c == NULL ||
                add_usage(c, s->input_tokens, s->output_tokens) != LD_OK) {
                cJSON_Delete(c);
                rc = LD_ENOMEM;
            } else {
                rc = chunk_emit(c, out);
                if (rc == LD_OK)
                    s->usage_sent = true;
            }
        }
    }
    /* ping, content_block_stop and unknown events: nothing to do */
    cJSON_Delete(root);
    return rc;
}

static int anthropic_answer(const cJSON *root, const char *body, size_t len,
                            live_buf *out, live_answer *info)
{
    (void)body;
    (void)len;
    return translate_anthropic_answer(root, out, info);
}

const live_provider live_provider_anthropic = {
    .name = "anthropic",
    .default_base_url = "https://api.anthropic.com/v1",
    .path = "/messages",
    .auth_header = "x-api-key: %s",
    .version_header = "anthropic-version: 2023-06-01",
    .makes_chunks = true,
    .build = build_anthropic,
    .answer = anthropic_answer,
    .stream_event = anthropic_feed,
    .error_words = ld_parse_error_body,
    .native_api = "messages",
    .native_build = native_anthropic,
};
