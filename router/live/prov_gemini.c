/* prov_gemini.c - Google's Gemini API, generateContent and
 * streamGenerateContent?alt=sse with an API key (live_provider.h).
 *
 * Upstream bodies: system and developer messages to systemInstruction;
 * user and tool messages to "user" contents, assistant messages to
 * "model" contents (consecutive turns of one role merged); text parts,
 * data: URL images as inlineData; an assistant's tool_calls as
 * functionCall parts (arguments must be a JSON object), a tool message as
 * a functionResponse part named after the call it answers (found in the
 * assistant's earlier tool_calls; {"content": text} unless the text is a
 * JSON object); tools as one functionDeclarations list, tool_choice as
 * toolConfig.functionCallingConfig (auto AUTO, none NONE, required or a
 * named function ANY); max_tokens, temperature, top_p, stop, n (one
 * candidate only) and response_format json_object in generationConfig. A
 * prefill is a final "model" turn, which Gemini continues. Not
 * expressible (LD_EINVAL): an image by http(s) URL (Gemini wants uploaded
 * files), other part types, a tool message answering no known call, n >
 * 1.
 *
 * Answers and streams: the first candidate's text and functionCall parts
 * (calls get the id Gemini gives, else call_<n>); finishReason STOP ->
 * stop (tool_calls when the answer calls a function), MAX_TOKENS ->
 * length, SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII,
 * IMAGE_SAFETY and other blocks -> content_filter (classified
 * content_blocked); a prompt blocked before any candidate
 * (promptFeedback.blockReason) -> an empty answer with content_filter.
 * Usage: promptTokenCount; candidatesTokenCount plus thoughtsTokenCount
 * (thinking is billed as output). A stream has no terminator of its own:
 * the chunk that carries the finish reason ends it. Errors,
 * {"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message"}}, are read
 * by ld_parse_error_body (status as the type).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ld_class.h"
#include "live_adapter_int.h"

/* ---- the request ---------------------------------------------------------- */

static int add_text_part(cJSON *parts, const char *text)
{
    if (text == NULL || text[0] == '\0')
        return LD_OK;
    cJSON *p = cJSON_CreateObject();
    if (p == NULL || !cJSON_AddStringToObject(p, "text", text)) {
        cJSON_Delete(p);
        return LD_ENOMEM;
    }
    return live_jpush(parts, p) ? LD_OK : LD_ENOMEM;
}

static int add_image_part(cJSON *parts, const char *url)
{
    char media[128];
    const char *data = NULL;
    cJSON *p = NULL, *in;
    if (url == NULL || live_data_url_split(url, media, sizeof media, &data))
        return LD_EINVAL;
    p = cJSON_CreateObject();
    if (p == NULL || (in = cJSON_AddObjectToObject(p, "inlineData")) == NULL ||
        !cJSON_AddStringToObject(in, "mimeType", media) ||
        !cJSON_AddStringToObject(in, "data", data)) {
        cJSON_Delete(p);
        return LD_ENOMEM;
    }
    return live_jpush(parts, p) ? LD_OK : LD_ENOMEM;
}

static int add_call_parts(cJSON *parts, const cJSON *calls)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, calls) {
        const cJSON *f = live_jget(c, "function");
        const char *name = live_jstr(f, "name");
        cJSON *args = NULL, *p, *fc;
        if (name == NULL)
            return LD_EINVAL;
        int rc = live_walk_args(live_jstr(f, "arguments"), &args);
        if (rc != LD_OK)
            return rc;
        p = cJSON_CreateObject();
        if (!live_jpush(parts, p) ||
            (fc = cJSON_AddObjectToObject(p, "functionCall")) == NULL ||
            !cJSON_AddStringToObject(fc, "name", name)) {
            cJSON_Delete(args);
            return LD_ENOMEM;
        }
        if (!live_jset(fc, "args", args))
            return LD_ENOMEM;
    }
    return LD_OK;
}

/* The name of the function whose call has this id, in the messages. */
static const char *call_name(const cJSON *msgs, const char *id)
{
    const cJSON *m, *c;
    cJSON_ArrayForEach(m, msgs) {
        cJSON_ArrayForEach(c, live_jget(m, "tool_calls")) {
            const char *cid = live_jstr(c, "id");
            if (cid != NULL && strcmp(cid, id) == 0)
                return live_jstr(live_jget(c, "function"), "name");
        }
    }
    return NULL;
}

static int add_response_part(const live_walk *w, cJSON *parts,
                             const cJSON *msgs, const cJSON *m)
{
    const char *id = live_jstr(m, "tool_call_id");
    const char *name = id != NULL ? call_name(msgs, id) : NULL;
    const cJSON *content = live_jget(m, "content");
    cJSON *resp = NULL, *p = NULL, *fr;
    live_buf text;
    int rc = LD_ENOMEM;
    (void)w;
    if (name == NULL)
        return LD_EINVAL;
    live_buf_init(&text, 0);
    if (cJSON_IsString(content)) {
        rc = live_buf_append(&text, content->valuestring,
                             strlen(content->valuestring));
    } else {
        const cJSON *part;
        rc = LD_OK;
        cJSON_ArrayForEach(part, content) {
            const char *t = live_jstr(part, "text");
            if (t != NULL && rc == LD_OK)
                rc = live_buf_append(&text, t, strlen(t));
        }
    }
    if (rc != LD_OK)
        goto done;
    rc = LD_ENOMEM;
    const char *t = text.data != NULL ? text.data : "";
    if (live_walk_args(t, &resp) != LD_OK || t[0] == '\0') {
        cJSON_Delete(resp);
        resp = cJSON_CreateObject();
        if (resp == NULL || !cJSON_AddStringToObject(resp, "content", t))
            goto done;
    }
    p = cJSON_CreateObject();
    if (p == NULL ||
        (fr = cJSON_AddObjectToObject(p, "functionResponse")) == NULL ||
        !cJSON_AddStringToObject(fr, "name", name))
        goto done;
    cJSON *tmp = resp;
    resp = NULL;
    if (!live_jset(fr, "response", tmp))
        goto done;
    tmp = p;
    p = NULL;
    rc = live_jpush(parts, tmp) ? LD_OK : LD_ENOMEM;
done:
    cJSON_Delete(resp);
    cJSON_Delete(p);
    live_buf_cleanup(&text);
    return rc;
}

/* What each message becomes (live_walk.c walks them). */
static const live_walk gemini_walk = {
    .text = add_text_part,
    .image = add_image_part,
    .tool_calls = add_call_parts,
    .tool_result = add_response_part,
    .system = live_walk_system_parts,
    .assistant = "model",
    .field = "parts",
};

static int build_contents(const cJSON *body, const char *prefill, cJSON *root)
{
    cJSON *contents = cJSON_AddArrayToObject(root, "contents");
    cJSON *sys = cJSON_CreateArray();
    int rc = LD_ENOMEM;
    if (contents == NULL || sys == NULL)
        goto done;
    rc = live_walk_messages(&gemini_walk, live_jget(body, "messages"), prefill,
                            contents, sys);
    if (rc != LD_OK)
        goto done;
    if (cJSON_GetArraySize(sys) > 0) {
        cJSON *si = cJSON_CreateObject(), *tmp = sys;
        if (!live_jset(root, "systemInstruction", si)) {
            rc = LD_ENOMEM;
            goto done;
        }
        sys = NULL;
        if (!live_jset(si, "parts", tmp))
            rc = LD_ENOMEM;
    }
done:
    cJSON_Delete(sys);
    return rc;
}

static int build_config(const live_chat_req *req, cJSON *root)
{
    const cJSON *body = req->body;
    cJSON *gc = cJSON_CreateObject();
    int rc = LD_ENOMEM;
    if (gc == NULL)
        return LD_ENOMEM;
    const cJSON *n = live_jget(body, "n");
    if (cJSON_IsNumber(n) && n->valuedouble != 1) {
        rc = LD_EINVAL; /* one candidate only: the client reads choices[0] */
        goto done;
    }
    if (req->max_tokens > 0 &&
        !cJSON_AddNumberToObject(gc, "maxOutputTokens",
                                 (double)req->max_tokens))
        goto done;
    const cJSON *t = live_jget(body, "temperature");
    if (cJSON_IsNumber(t) &&
        !cJSON_AddNumberToObject(gc, "temperature", t->valuedouble))
        goto done;
    t = live_jget(body, "top_p");
    if (cJSON_IsNumber(t) && !cJSON_AddNumberToObject(gc, "topP", t->valuedouble))
        goto done;
    const cJSON *stop = live_jget(body, "stop");
    if (cJSON_IsString(stop) || cJSON_IsArray(stop)) {
        cJSON *seqs = cJSON_AddArrayToObject(gc, "stopSequences");
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
    const char *rf = live_jstr(live_jget(body, "response_format"), "type");
    if (rf != NULL && (strcmp(rf, "json_object") == 0 ||
                       strcmp(rf, "json_schema") == 0) &&
        !cJSON_AddStringToObject(gc, "responseMimeType", "application/json"))
        goto done;
    if (gc->child == NULL) {
        rc = LD_OK;
        goto done;
    }
    cJSON *tmp = gc;
    gc = NULL;
    return live_jset(root, "generationConfig", tmp) ? LD_OK : LD_ENOMEM;
done:
    cJSON_Delete(gc);
    return rc;
}

static int build_tools(const cJSON *body, cJSON *root)
{
    const cJSON *tools = live_jget(body, "tools"), *t;
    if (!cJSON_IsArray(tools) || cJSON_GetArraySize(tools) == 0)
        return LD_OK;
    cJSON *list = cJSON_AddArrayToObject(root, "tools"), *decls, *entry;
    if (list == NULL || !live_jpush(list, entry = cJSON_CreateObject()) ||
        (decls = cJSON_AddArrayToObject(entry, "functionDeclarations")) == NULL)
        return LD_ENOMEM;
    cJSON_ArrayForEach(t, tools) {
        const char *type = live_jstr(t, "type");
        const cJSON *f = live_jget(t, "function");
        const char *name = live_jstr(f, "name");
        const char *desc = live_jstr(f, "description");
        const cJSON *params = live_jget(f, "parameters");
        if ((type != NULL && strcmp(type, "function") != 0) || name == NULL)
            return LD_EINVAL;
        cJSON *d = cJSON_CreateObject();
        if (!live_jpush(decls, d) || !cJSON_AddStringToObject(d, "name", name) ||
            (desc != NULL && !cJSON_AddStringToObject(d, "description", desc)))
            return LD_ENOMEM;
        if (cJSON_IsObject(params) &&
            !live_jset(d, "parameters", cJSON_Duplicate(params, 1)))
            return LD_ENOMEM;
    }
    const cJSON *tc = live_jget(body, "tool_choice");
    const char *mode = NULL, *only = NULL;
    if (live_jabsent(tc))
        return LD_OK;
    if (cJSON_IsString(tc)) {
        mode = strcmp(tc->valuestring, "auto") == 0       ? "AUTO"
               : strcmp(tc->valuestring, "none") == 0     ? "NONE"
               : strcmp(tc->valuestring, "required") == 0 ? "ANY"
                                                          : NULL;
    } else {
        only = live_jstr(live_jget(tc, "function"), "name");
        mode = only != NULL ? "ANY" : NULL;
    }
    if (mode == NULL)
        return LD_EINVAL;
    cJSON *cfg = cJSON_CreateObject(), *fcc, *names;
    if (cfg == NULL ||
        (fcc = cJSON_AddObjectToObject(cfg, "functionCallingConfig")) == NULL ||
        !cJSON_AddStringToObject(fcc, "mode", mode) ||
        (only != NULL &&
         ((names = cJSON_AddArrayToObject(fcc, "allowedFunctionNames")) ==
              NULL ||
          !live_jpush(names, cJSON_CreateString(only))))) {
        cJSON_Delete(cfg);
        return LD_ENOMEM;
    }
    return live_jset(root, "toolConfig", cfg) ? LD_OK : LD_ENOMEM;
}

static int build_gemini(const live_chat_req *req, const char *model,
                        bool stream, const char *prefill, live_buf *out)
{
    (void)model; /* in the URL */
    (void)stream; /* in the URL */
    cJSON *root = cJSON_CreateObject();
    int rc;
    if (root == NULL)
        return LD_ENOMEM;
    if ((rc = build_contents(req->body, prefill, root)) == LD_OK &&
        (rc = build_config(req, root)) == LD_OK &&
        (rc = build_tools(req->body, root)) == LD_OK)
        rc = live_jprint_append(root, out);
    cJSON_Delete(root);
    return rc;
}

/* ---- answers and streams --------------------------------------------------- */

static const char *map_finish(const char *r, bool calls)
{
    if (r == NULL)
        return NULL;
    if (strcmp(r, "STOP") == 0 || strcmp(r, "FINISH_REASON_UNSPECIFIED") == 0 ||
        strcmp(r, "OTHER") == 0 || strcmp(r, "MALFORMED_FUNCTION_CALL") == 0)
        return calls ? "tool_calls" : "stop";
    if (strcmp(r, "MAX_TOKENS") == 0)
        return "length";
    /* SAFETY, RECITATION, LANGUAGE, BLOCKLIST, PROHIBITED_CONTENT, SPII,
     * IMAGE_SAFETY and any block named later */
    return "content_filter";
}

static void gemini_usage(const cJSON *u, int64_t *in, int64_t *out)
{
    int64_t p = live_jint(u, "promptTokenCount");
    int64_t c = live_jint(u, "candidatesTokenCount");
    int64_t t = live_jint(u, "thoughtsTokenCount");
    if (p >= 0)
        *in = p;
    if (c >= 0 || t >= 0)
        *out = (c > 0 ? c : 0) + (t > 0 ? t : 0);
}

/* The id of a function call: Gemini's own, else call_<n>. */
static void call_id(const cJSON *fc, int n, char *buf, size_t cap)
{
    const char *id = live_jstr(fc, "id");
    if (id != NULL && id[0] != '\0')
        snprintf(buf, cap, "%s", id);
    else
        snprintf(buf, cap, "call_%d", n);
}

static int gemini_answer(const cJSON *root, const char *body, size_t len,
                         live_buf *out, live_answer *info)
{
    (void)body;
    (void)len;
    const cJSON *cands = live_jget(root, "candidates");
    const cJSON *c0 = cJSON_GetArrayItem(cands, 0);
    const char *block = live_jstr(live_jget(root, "promptFeedback"),
                                  "blockReason");
    const char *model = live_jstr(root, "modelVersion");
    int rc = LD_ENOMEM;
    gemini_usage(live_jget(root, "usageMetadata"), &info->input_tokens,
                 &info->output_tokens);
    live_copy_trunc(info->model, sizeof info->model, model);
    if (!cJSON_IsObject(c0)) {
        if (block == NULL)
            return LD_EINVAL;
        live_copy_trunc(info->finish_reason, sizeof info->finish_reason,
                        "content_filter");
        return live_completion_print(live_jstr(root, "responseId"), model, "",
                                     NULL, "content_filter",
                                     info->input_tokens, info->output_tokens,
                                     out);
    }
    live_buf text;
    cJSON *calls = NULL;
    live_buf_init(&text, 0);
    const cJSON *part;
    int ncalls = 0;
    bool any_text = false;
    cJSON_ArrayForEach(part, live_jget(live_jget(c0, "content"), "parts")) {
        const char *t = live_jstr(part, "text");
        const cJSON *fc = live_jget(part, "functionCall");
        if (cJSON_IsTrue(live_jget(part, "thought")))
            continue; /* a thought summary is not the answer */
        if (t != NULL) {
            if (live_buf_append(&text, t, strlen(t)) != LD_OK)
                goto done;
            any_text = true;
        } else if (cJSON_IsObject(fc)) {
            const char *name = live_jstr(fc, "name");
            const cJSON *args = live_jget(fc, "args");
            char id[96];
            if (name == NULL) {
                rc = LD_EINVAL;
                goto done;
            }
            call_id(fc, ncalls++, id, sizeof id);
            char *a = cJSON_IsObject(args) ? cJSON_PrintUnformatted(args) : NULL;
            if (cJSON_IsObject(args) && a == NULL)
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
    const char *finish = map_finish(live_jstr(c0, "finishReason"), calls != NULL);
    live_copy_trunc(info->finish_reason, sizeof info->finish_reason, finish);
    cJSON *tmp = calls;
    calls = NULL;
    rc = live_completion_print(live_jstr(root, "responseId"), model,
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

static int gemini_feed(live_stream *s, const char *event, const char *data,
                       size_t len, live_buf *out, live_chunk_info *info)
{
    (void)event;
    cJSON *root = NULL;
    int rc = live_json_parse(data, len, &root, NULL);
    if (rc == LD_ENOMEM)
        return rc;
    if (rc != LD_OK || !cJSON_IsObject(root)) {
        info->malformed = true;
        cJSON_Delete(root);
        return LD_OK;
    }
    rc = LD_OK;
    if (!live_jabsent(live_jget(root, "error"))) {
        info->error = true;
        goto done;
    }
    const char *model = live_jstr(root, "modelVersion");
    if (model != NULL && model[0] != '\0' &&
        (rc = live_stream_set_model(s, model)) != LD_OK)
        goto done;
    gemini_usage(live_jget(root, "usageMetadata"), &s->input_tokens,
                 &s->output_tokens);
    const cJSON *c0 = cJSON_GetArrayItem(live_jget(root, "candidates"), 0);
    const char *block = live_jstr(live_jget(root, "promptFeedback"),
                                  "blockReason");
    if (!cJSON_IsObject(c0)) {
        if (block != NULL) {
            info->finished = info->done = true;
            rc = live_chunk_finish(s, "content_filter", out);
            if (rc == LD_OK)
                rc = live_chunk_usage(s, out);
        } else if (!cJSON_IsObject(live_jget(root, "usageMetadata"))) {
            info->malformed = true;
        }
        goto done;
    }
    const cJSON *part;
    cJSON_ArrayForEach(part, live_jget(live_jget(c0, "content"), "parts")) {
        const char *t = live_jstr(part, "text");
        const cJSON *fc = live_jget(part, "functionCall");
        if (cJSON_IsTrue(live_jget(part, "thought")))
            continue;
        if (t != NULL && t[0] != '\0') {
            info->content = true;
            info->tokens++;
            rc = live_chunk_text(s, t, out);
        } else if (cJSON_IsObject(fc)) {
            const char *name = live_jstr(fc, "name");
            const cJSON *args = live_jget(fc, "args");
            char id[96];
            if (name == NULL) {
                info->malformed = true;
                goto done;
            }
            int slot = live_chunk_tool_slot(s, s->ntools);
            if (slot < 0) {
                rc = slot;
                goto done;
            }
            call_id(fc, slot, id, sizeof id);
            char *a = cJSON_IsObject(args) ? cJSON_PrintUnformatted(args) : NULL;
            if (cJSON_IsObject(args) && a == NULL) {
                rc = LD_ENOMEM;
                goto done;
            }
            info->content = true;
            info->tokens++;
            rc = live_chunk_tool(s, slot, id, name, a != NULL ? a : "{}", out);
            cJSON_free(a);
        }
        if (rc != LD_OK)
            goto done;
    }
    const char *fr = live_jstr(c0, "finishReason");
    if (fr != NULL) {
        info->finished = info->done = true;
        rc = live_chunk_finish(s, map_finish(fr, s->ntools > 0), out);
        if (rc == LD_OK)
            rc = live_chunk_usage(s, out);
    }
done:
    cJSON_Delete(root);
    return rc;
}

const live_provider live_provider_gemini = {
    .name = "gemini",
    .default_base_url = "https://generativelanguage.googleapis.com/v1beta",
    .path = "/models/%s:generateContent",
    .stream_path = "/models/%s:streamGenerateContent",
    .stream_query = "alt=sse",
    .auth_header = "x-goog-api-key: %s",
    .version_header = NULL,
    .makes_chunks = true,
    .build = build_gemini,
    .answer = gemini_answer,
    .stream_event = gemini_feed,
    .error_words = ld_parse_error_body,
};
