/* live_messages.c - POST /v1/messages, Anthropic's Messages API, as a
 * client face (live_face.h).
 *
 * The request becomes a chat completions body: `system` (a string or text
 * blocks) a system message; user text and image blocks (base64 and url
 * sources) content parts; a user's tool_result blocks "tool" messages
 * (before the rest of that user turn, their text joined); an assistant's
 * text its content and its tool_use blocks tool_calls (input printed as
 * the arguments); thinking blocks dropped; tools function tools;
 * tool_choice auto/any/tool/none as auto/required/the function/none
 * (disable_parallel_tool_use as parallel_tool_calls false); stop_sequences
 * stop; metadata.user_id user; max_tokens (required) as it is. A stream
 * asks for usage (stream_options.include_usage) for message_delta.
 * Refused with a 400 naming the field: another top-level field (top_k,
 * thinking, container, mcp_servers, service_tier...), server tools,
 * document blocks, images inside a tool result.
 *
 * The answer: a "message" with a text block and tool_use blocks (the
 * arguments parsed back; arguments that are not a JSON object give an
 * empty input), stop_reason from finish_reason (stop end_turn, length
 * max_tokens, tool_calls tool_use, content_filter refusal), usage
 * input_tokens and output_tokens. The stream: message_start,
 * content_block_start / content_block_delta (text_delta, input_json_delta)
 * / content_block_stop per block, message_delta with stop_reason and
 * usage, message_stop; a failure after the start an "error" event.
 * Errors: {"type":"error","error":{"type":...,"message":...}} with the
 * type of the status (400 invalid_request_error, 401 authentication_error,
 * 403 permission_error, 404 not_found_error, 413 request_too_large, 429
 * rate_limit_error, 503 and 529 overloaded_error, 504 timeout_error, else
 * api_error).
 */
#include "live_face.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "live_adapter_int.h"

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int bad(char *msg, size_t cap, const char *fmt, ...)
{
    if (msg != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, cap, fmt, ap);
        va_end(ap);
    }
    return LD_EINVAL;
}

static const char *const msg_fields[] = {
    "model", "messages", "max_tokens", "system", "stream", "stop_sequences",
    "temperature", "top_p", "tools", "tool_choice", "metadata", NULL};

static bool add_str(cJSON *o, const char *k, const char *v)
{
    return cJSON_AddStringToObject(o, k, v) != NULL;
}

/* {"role": role, "content": content}, pushed to msgs (content taken). */
static int push_msg(cJSON *msgs, const char *role, cJSON *content)
{
    cJSON *m = cJSON_CreateObject();
    if (m == NULL || content == NULL || !add_str(m, "role", role) ||
        !cJSON_AddItemToObject(m, "content", content)) {
        cJSON_Delete(m);
        cJSON_Delete(content);
        return LD_ENOMEM;
    }
    return live_jpush(msgs, m) ? LD_OK : LD_ENOMEM;
}

/* An image block's source -> an image_url part pushed to parts. */
static int image_part(const cJSON *b, const char *where, cJSON *parts,
                      char *msg, size_t cap)
{
    const cJSON *src = live_jget(b, "source");
    const char *type = live_jstr(src, "type");
    live_buf url;
    int rc;
    if (type == NULL)
        return bad(msg, cap, "%s.source.type: required", where);
    live_buf_init(&url, 0);
    if (strcmp(type, "base64") == 0) {
        const char *mt = live_jstr(src, "media_type");
        const char *data = live_jstr(src, "data");
        if (mt == NULL || data == NULL)
            rc = bad(msg, cap, "%s.source: a base64 image needs media_type "
                     "and data", where);
        else
            rc = live_buf_appendf(&url, "data:%s;base64,%s", mt, data);
    } else if (strcmp(type, "url") == 0) {
        const char *u = live_jstr(src, "url");
        rc = u == NULL ? bad(msg, cap, "%s.source.url: required", where)
                       : live_buf_appendf(&url, "%s", u);
    } else {
        rc = bad(msg, cap, "%s.source.type: \"%.40s\" is not base64 or url",
                 where, type);
    }
    if (rc == LD_OK) {
        cJSON *p = cJSON_CreateObject(), *iu = NULL;
        if (p == NULL || !add_str(p, "type", "image_url") ||
            (iu = cJSON_AddObjectToObject(p, "image_url")) == NULL ||
            !add_str(iu, "url", url.data)) {
            cJSON_Delete(p);
            rc = LD_ENOMEM;
        } else if (!live_jpush(parts, p)) {
            rc = LD_ENOMEM;
        }
    }
    live_buf_cleanup(&url);
    return rc;
}

static int text_part(cJSON *parts, const char *text)
{
    cJSON *p = cJSON_CreateObject();
    if (p == NULL || !add_str(p, "type", "text") || !add_str(p, "text", text)) {
        cJSON_Delete(p);
        return LD_ENOMEM;
    }
    return live_jpush(parts, p) ? LD_OK : LD_ENOMEM;
}

/* A tool_result's content (a string or text blocks) as one text. */
static int tool_result_text(const cJSON *b, const char *where, live_buf *t,
                            char *msg, size_t cap)
{
    const cJSON *c = live_jget(b, "content");
    if (live_jabsent(c))
        return LD_OK;
    if (cJSON_IsString(c))
        return live_buf_appendf(t, "%s", c->valuestring);
    if (!cJSON_IsArray(c))
        return bad(msg, cap, "%s.content: must be a string or an array of "
                   "blocks", where);
    int k = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, c) {
        const char *type = live_jstr(x, "type");
        const char *text = live_jstr(x, "text");
        if (type == NULL || strcmp(type, "text") != 0 || text == NULL)
            return bad(msg, cap, "%s.content[%d]: only text blocks can be "
                       "translated in a tool result", where, k);
        int rc = live_buf_appendf(t, "%s%s", t->len > 0 ? "\n" : "", text);
        if (rc != LD_OK)
            return rc;
        k++;
    }
    return LD_OK;
}

static int tool_message(cJSON *msgs, const cJSON *b, const char *where,
                        char *msg, size_t cap)
{
    const char *id = live_jstr(b, "tool_use_id");
    live_buf t;
    if (id == NULL)
        return bad(msg, cap, "%s.tool_use_id: required", where);
    live_buf_init(&t, 0);
    int rc = tool_result_text(b, where, &t, msg, cap);
    cJSON *m = rc == LD_OK ? cJSON_CreateObject() : NULL;
    if (rc == LD_OK &&
        (m == NULL || !add_str(m, "role", "tool") ||
         !add_str(m, "tool_call_id", id) ||
         !add_str(m, "content", t.data != NULL ? t.data : ""))) {
        cJSON_Delete(m);
        rc = LD_ENOMEM;
    } else if (rc == LD_OK && !live_jpush(msgs, m)) {
        rc = LD_ENOMEM;
    }
    live_buf_cleanup(&t);
    return rc;
}

static int user_turn(cJSON *msgs, const cJSON *content, int mi, char *msg,
                     size_t cap)
{
    char where[96];
    cJSON *parts = cJSON_CreateArray();
    int rc = parts == NULL ? LD_ENOMEM : LD_OK;
    int bi = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, content) {
        if (rc != LD_OK)
            break;
        snprintf(where, sizeof where, "messages[%d].content[%d]", mi, bi++);
        const char *type = live_jstr(b, "type");
        if (type == NULL)
            rc = bad(msg, cap, "%s.type: required", where);
        else if (strcmp(type, "text") == 0)
            rc = live_jstr(b, "text") == NULL
                     ? bad(msg, cap, "%s.text: must be a string", where)
                     : text_part(parts, live_jstr(b, "text"));
        else if (strcmp(type, "image") == 0)
            rc = image_part(b, where, parts, msg, cap);
        else if (strcmp(type, "tool_result") == 0)
            rc = tool_message(msgs, b, where, msg, cap);
        else
            rc = bad(msg, cap, "%s.type: \"%.40s\" blocks are not supported "
                     "(text, image, tool_result)", where, type);
    }
    if (rc == LD_OK && cJSON_GetArraySize(parts) > 0)
        return push_msg(msgs, "user", parts);
    cJSON_Delete(parts);
    return rc;
}

static int tool_call(cJSON *calls, const cJSON *b, const char *where,
                     char *msg, size_t cap)
{
    const char *id = live_jstr(b, "id"), *name = live_jstr(b, "name");
    const cJSON *input = live_jget(b, "input");
    if (id == NULL || name == NULL)
        return bad(msg, cap, "%s: a tool_use block needs id and name", where);
    if (!live_jabsent(input) && !cJSON_IsObject(input))
        return bad(msg, cap, "%s.input: must be an object", where);
    char *args = input != NULL ? cJSON_PrintUnformatted(input) : NULL;
    cJSON *c = cJSON_CreateObject(), *f = NULL;
    bool ok = c != NULL && (input == NULL || args != NULL) &&
              add_str(c, "id", id) && add_str(c, "type", "function") &&
              (f = cJSON_AddObjectToObject(c, "function")) != NULL &&
              add_str(f, "name", name) &&
              add_str(f, "arguments", args != NULL ? args : "{}");
    cJSON_free(args);
    if (!ok) {
        cJSON_Delete(c);
        return LD_ENOMEM;
    }
    return live_jpush(calls, c) ? LD_OK : LD_ENOMEM;
}

static int assistant_turn(cJSON *msgs, const cJSON *content, int mi,
                          char *msg, size_t cap)
{
    char where[96];
    live_buf text;
    cJSON *calls = cJSON_CreateArray();
    int rc = calls == NULL ? LD_ENOMEM : LD_OK;
    int bi = 0;
    const cJSON *b;
    live_buf_init(&text, 0);
    cJSON_ArrayForEach(b, content) {
        if (rc != LD_OK)
            break;
        snprintf(where, sizeof where, "messages[%d].content[%d]", mi, bi++);
        const char *type = live_jstr(b, "type");
        if (type == NULL)
            rc = bad(msg, cap, "%s.type: required", where);
        else if (strcmp(type, "text") == 0)
            rc = live_jstr(b, "text") == NULL
                     ? bad(msg, cap, "%s.text: must be a string", where)
                     : live_buf_appendf(&text, "%s", live_jstr(b, "text"));
        else if (strcmp(type, "tool_use") == 0)
            rc = tool_call(calls, b, where, msg, cap);
        else if (strcmp(type, "thinking") != 0 &&
                 strcmp(type, "redacted_thinking") != 0)
            rc = bad(msg, cap, "%s.type: \"%.40s\" blocks are not supported "
                     "in an assistant turn (text, tool_use, thinking)",
                     where, type);
    }
    cJSON *m = rc == LD_OK ? cJSON_CreateObject() : NULL;
    if (rc == LD_OK) {
        bool ok = m != NULL && add_str(m, "role", "assistant") &&
                  (text.len > 0 ? add_str(m, "content", text.data)
                                : cJSON_AddNullToObject(m, "content") != NULL);
        if (ok && cJSON_GetArraySize(calls) > 0) {
            ok = cJSON_AddItemToObject(m, "tool_calls", calls);
            if (ok)
                calls = NULL;
        }
        if (!ok)
            rc = LD_ENOMEM;
        else if (!live_jpush(msgs, m))
            rc = LD_ENOMEM;
        if (ok)
            m = NULL;
    }
    cJSON_Delete(m);
    cJSON_Delete(calls);
    live_buf_cleanup(&text);
    return rc;
}

static int add_messages(cJSON *out, const cJSON *root, char *msg, size_t cap)
{
    cJSON *msgs = cJSON_AddArrayToObject(out, "messages");
    const cJSON *sys = live_jget(root, "system");
    const cJSON *in = live_jget(root, "messages");
    int rc = msgs == NULL ? LD_ENOMEM : LD_OK;
    if (rc == LD_OK && !live_jabsent(sys)) {
        live_buf t;
        live_buf_init(&t, 0);
        if (cJSON_IsString(sys)) {
            rc = live_buf_appendf(&t, "%s", sys->valuestring);
        } else if (cJSON_IsArray(sys)) {
            int k = 0;
            const cJSON *b;
            cJSON_ArrayForEach(b, sys) {
                const char *text = live_jstr(b, "text");
                if (text == NULL) {
                    rc = bad(msg, cap, "system[%d].text: required (system "
                             "blocks are text blocks)", k);
                    break;
                }
                rc = live_buf_appendf(&t, "%s%s", t.len > 0 ? "\n" : "",
                                      text);
                if (rc != LD_OK)
                    break;
                k++;
            }
        } else {
            rc = bad(msg, cap, "system: must be a string or an array of "
                     "text blocks");
        }
        if (rc == LD_OK && t.len > 0)
            rc = push_msg(msgs, "system", cJSON_CreateString(t.data));
        live_buf_cleanup(&t);
    }
    if (rc != LD_OK)
        return rc;
    if (live_jabsent(in))
        return bad(msg, cap, "messages: required");
    if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) == 0)
        return bad(msg, cap, "messages: must be a non-empty array");
    int mi = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, in) {
        const char *role = live_jstr(m, "role");
        const cJSON *content = live_jget(m, "content");
        if (role == NULL || (strcmp(role, "user") != 0 &&
                             strcmp(role, "assistant") != 0))
            return bad(msg, cap, "messages[%d].role: must be \"user\" or "
                       "\"assistant\"", mi);
        bool user = strcmp(role, "user") == 0;
        if (cJSON_IsString(content))
            rc = push_msg(msgs, role, cJSON_CreateString(content->valuestring));
        else if (!cJSON_IsArray(content))
            rc = bad(msg, cap, "messages[%d].content: must be a string or an "
                     "array of blocks", mi);
        else
            rc = user ? user_turn(msgs, content, mi, msg, cap)
                      : assistant_turn(msgs, content, mi, msg, cap);
        if (rc != LD_OK)
            return rc;
        mi++;
    }
    return LD_OK;
}

static int add_tools(cJSON *out, const cJSON *root, char *msg, size_t cap)
{
    const cJSON *tools = live_jget(root, "tools");
    const cJSON *tc = live_jget(root, "tool_choice");
    if (!live_jabsent(tools)) {
        if (!cJSON_IsArray(tools))
            return bad(msg, cap, "tools: must be an array");
        cJSON *arr = cJSON_AddArrayToObject(out, "tools");
        if (arr == NULL)
            return LD_ENOMEM;
        int i = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, tools) {
            const char *type = live_jstr(t, "type");
            const char *name = live_jstr(t, "name");
            const char *desc = live_jstr(t, "description");
            const cJSON *schema = live_jget(t, "input_schema");
            if (type != NULL && strcmp(type, "custom") != 0)
                return bad(msg, cap, "tools[%d].type: \"%.40s\": server tools "
                           "are not supported (only custom tools)", i, type);
            if (name == NULL || !cJSON_IsObject(schema))
                return bad(msg, cap, "tools[%d]: needs name and input_schema "
                           "(an object)", i);
            cJSON *o = cJSON_CreateObject(), *f = NULL, *sc = NULL;
            bool ok = o != NULL && add_str(o, "type", "function") &&
                      (f = cJSON_AddObjectToObject(o, "function")) != NULL &&
                      add_str(f, "name", name) &&
                      (desc == NULL || add_str(f, "description", desc));
            if (ok && ((sc = cJSON_Duplicate(schema, 1)) == NULL ||
                       !cJSON_AddItemToObject(f, "parameters", sc))) {
                cJSON_Delete(sc);
                ok = false;
            }
            if (!ok) {
                cJSON_Delete(o);
                return LD_ENOMEM;
            }
            if (!live_jpush(arr, o))
                return LD_ENOMEM;
            i++;
        }
    }
    if (live_jabsent(tc))
        return LD_OK;
    const char *type = live_jstr(tc, "type");
    cJSON *v = NULL;
    if (type == NULL)
        return bad(msg, cap, "tool_choice.type: required");
    if (strcmp(type, "auto") == 0) {
        v = cJSON_CreateString("auto");
    } else if (strcmp(type, "any") == 0) {
        v = cJSON_CreateString("required");
    } else if (strcmp(type, "none") == 0) {
        v = cJSON_CreateString("none");
    } else if (strcmp(type, "tool") == 0) {
        const char *name = live_jstr(tc, "name");
        cJSON *f = NULL;
        if (name == NULL)
            return bad(msg, cap, "tool_choice.name: required for type tool");
        v = cJSON_CreateObject();
        if (v != NULL && (!add_str(v, "type", "function") ||
                          (f = cJSON_AddObjectToObject(v, "function")) == NULL ||
                          !add_str(f, "name", name))) {
            cJSON_Delete(v);
            v = NULL;
        }
    } else {
        return bad(msg, cap, "tool_choice.type: \"%.40s\" is not auto, any, "
                   "tool or none", type);
    }
    if (!live_jset(out, "tool_choice", v))
        return LD_ENOMEM;
    if (cJSON_IsTrue(live_jget(tc, "disable_parallel_tool_use")) &&
        !live_jset(out, "parallel_tool_calls", cJSON_CreateFalse()))
        return LD_ENOMEM;
    return LD_OK;
}

/* model, max_tokens, stream, stop, temperature, top_p, user. */
static int add_scalars(cJSON *out, const cJSON *root, char *msg, size_t cap)
{
    const cJSON *model = live_jget(root, "model");
    const cJSON *mt = live_jget(root, "max_tokens");
    const cJSON *stream = live_jget(root, "stream");
    const cJSON *stop = live_jget(root, "stop_sequences");
    const cJSON *meta = live_jget(root, "metadata");
    if (!live_jabsent(model) && !cJSON_IsString(model))
        return bad(msg, cap, "model: must be a string");
    if (live_jabsent(mt))
        return bad(msg, cap, "max_tokens: required");
    if (!cJSON_IsNumber(mt) || mt->valuedouble < 1 || mt->valuedouble > 1e9 ||
        mt->valuedouble != (double)(int64_t)mt->valuedouble)
        return bad(msg, cap, "max_tokens: must be a positive integer");
    if (!live_jabsent(stream) && !cJSON_IsBool(stream))
        return bad(msg, cap, "stream: must be a boolean");
    if (cJSON_IsString(model) && !add_str(out, "model", model->valuestring))
        return LD_ENOMEM;
    if (!cJSON_AddNumberToObject(out, "max_tokens", mt->valuedouble))
        return LD_ENOMEM;
    if (cJSON_IsTrue(stream)) {
        cJSON *so = NULL;
        if (!cJSON_AddTrueToObject(out, "stream") ||
            (so = cJSON_AddObjectToObject(out, "stream_options")) == NULL ||
            !cJSON_AddTrueToObject(so, "include_usage"))
            return LD_ENOMEM;
    }
    if (!live_jabsent(stop)) {
        const cJSON *s;
        if (!cJSON_IsArray(stop))
            return bad(msg, cap, "stop_sequences: must be an array of strings");
        cJSON_ArrayForEach(s, stop) if (!cJSON_IsString(s))
            return bad(msg, cap, "stop_sequences: must be an array of strings");
        if (!live_jset(out, "stop", cJSON_Duplicate(stop, 1)))
            return LD_ENOMEM;
    }
    static const char *const nums[] = {"temperature", "top_p"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = live_jget(root, nums[i]);
        if (live_jabsent(v))
            continue;
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1)
            return bad(msg, cap, "%s: must be a number from 0 to 1", nums[i]);
        if (!cJSON_AddNumberToObject(out, nums[i], v->valuedouble))
            return LD_ENOMEM;
    }
    if (!live_jabsent(meta)) {
        const cJSON *uid = live_jget(meta, "user_id");
        if (!cJSON_IsObject(meta))
            return bad(msg, cap, "metadata: must be an object");
        if (!live_jabsent(uid) && !cJSON_IsString(uid))
            return bad(msg, cap, "metadata.user_id: must be a string");
        if (cJSON_IsString(uid) && !add_str(out, "user", uid->valuestring))
            return LD_ENOMEM;
    }
    return LD_OK;
}

static int msg_to_chat(const char *body, size_t len, live_buf *chat,
                       char *msg, size_t cap)
{
    cJSON *root = NULL, *out = NULL;
    size_t at = 0;
    int rc = live_json_parse(body, len, &root, &at);
    if (rc == LD_ENOMEM)
        return rc;
    if (rc != LD_OK)
        return at >= len ? bad(msg, cap, "body is not JSON: unexpected end "
                               "at byte %zu", len)
                         : bad(msg, cap, "body is not JSON: syntax error at "
                               "byte %zu", at);
    rc = live_body_check(root, msg_fields, msg, cap);
    if (rc == LD_OK && (out = cJSON_CreateObject()) == NULL)
        rc = LD_ENOMEM;
    if (rc == LD_OK)
        rc = add_scalars(out, root, msg, cap);
    if (rc == LD_OK)
        rc = add_messages(out, root, msg, cap);
    if (rc == LD_OK)
        rc = add_tools(out, root, msg, cap);
    if (rc == LD_OK)
        rc = live_jprint_append(out, chat);
    cJSON_Delete(out);
    cJSON_Delete(root);
    return rc;
}

/* ---- the answer ------------------------------------------------------------ */

static const char *stop_reason(const char *finish)
{
    if (strcmp(finish, "length") == 0)
        return "max_tokens";
    if (strcmp(finish, "tool_calls") == 0 || strcmp(finish, "function_call") == 0)
        return "tool_use";
    if (strcmp(finish, "content_filter") == 0)
        return "refusal";
    return "end_turn";
}

/* The arguments text parsed back into a tool_use input ({} when it is not
 * a JSON object). */
static cJSON *parse_input(const char *args)
{
    cJSON *v = NULL;
    if (args != NULL &&
        live_json_parse(args, strlen(args), &v, NULL) == LD_OK &&
        cJSON_IsObject(v))
        return v;
    cJSON_Delete(v);
    return cJSON_CreateObject();
}

static int msg_answer(const char *chat, size_t len, const char *id,
                      int64_t created, live_buf *out)
{
    live_face_answer a;
    (void)created;
    live_json_arena_open();
    int rc = live_face_answer_parse(chat, len, &a);
    if (rc != LD_OK) {
        live_json_arena_close();
        return rc;
    }
    cJSON *o = cJSON_CreateObject(), *content = NULL, *u = NULL;
    bool ok = o != NULL && add_str(o, "id", id) &&
              add_str(o, "type", "message") && add_str(o, "role", "assistant") &&
              add_str(o, "model", a.model != NULL ? a.model : "") &&
              (content = cJSON_AddArrayToObject(o, "content")) != NULL;
    if (ok && a.text != NULL && a.text[0] != '\0') {
        cJSON *b = cJSON_CreateObject();
        ok = b != NULL && add_str(b, "type", "text") &&
             add_str(b, "text", a.text);
        if (!ok)
            cJSON_Delete(b);
        else
            ok = live_jpush(content, b);
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, a.tool_calls) {
        const cJSON *f = live_jget(c, "function");
        cJSON *b = ok ? cJSON_CreateObject() : NULL, *in = NULL;
        ok = b != NULL && add_str(b, "type", "tool_use") &&
             add_str(b, "id", live_jstr(c, "id") ? live_jstr(c, "id") : "") &&
             add_str(b, "name", live_jstr(f, "name") ? live_jstr(f, "name") : "");
        if (ok && ((in = parse_input(live_jstr(f, "arguments"))) == NULL ||
                   !cJSON_AddItemToObject(b, "input", in))) {
            cJSON_Delete(in);
            ok = false;
        }
        if (!ok) {
            cJSON_Delete(b);
            break;
        }
        ok = live_jpush(content, b);
    }
    ok = ok && add_str(o, "stop_reason", stop_reason(a.finish)) &&
         cJSON_AddNullToObject(o, "stop_sequence") != NULL &&
         (u = cJSON_AddObjectToObject(o, "usage")) != NULL &&
         cJSON_AddNumberToObject(u, "input_tokens", (double)a.in_tok) &&
         cJSON_AddNumberToObject(u, "output_tokens", (double)a.out_tok);
    rc = ok ? live_jprint_append(o, out) : LD_ENOMEM;
    cJSON_Delete(o);
    live_face_answer_cleanup(&a);
    live_json_arena_close();
    return rc;
}

static const char *error_type(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:
    case 529: return "overloaded_error";
    case 504: return "timeout_error";
    }
    return status >= 400 && status < 500 ? "invalid_request_error"
                                         : "api_error";
}

/* {"type":"error","error":{"type","message"}} (with the ladder's code as
 * "ladder_code" when there is one). */
static cJSON *error_obj(const char *etype, const char *message,
                        const char *code)
{
    cJSON *o = cJSON_CreateObject(), *e = NULL;
    if (o == NULL || !add_str(o, "type", "error") ||
        (e = cJSON_AddObjectToObject(o, "error")) == NULL ||
        !add_str(e, "type", etype) || !add_str(e, "message", message) ||
        (code != NULL && !add_str(e, "ladder_code", code))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int msg_error_body(int status, const char *message, const char *type,
                          const char *code, live_buf *out)
{
    (void)type;
    cJSON *o = error_obj(error_type(status), message, code);
    int rc = o != NULL ? live_jprint_append(o, out) : LD_ENOMEM;
    cJSON_Delete(o);
    return rc;
}

/* ---- the stream -------------------------------------------------------------- */

static int ev_start(live_face_stream *fs, live_buf *out)
{
    cJSON *o = cJSON_CreateObject(), *m = NULL, *u = NULL;
    bool ok = o != NULL && add_str(o, "type", "message_start") &&
              (m = cJSON_AddObjectToObject(o, "message")) != NULL &&
              add_str(m, "id", fs->id) && add_str(m, "type", "message") &&
              add_str(m, "role", "assistant") && add_str(m, "model", fs->model) &&
              cJSON_AddArrayToObject(m, "content") != NULL &&
              cJSON_AddNullToObject(m, "stop_reason") != NULL &&
              cJSON_AddNullToObject(m, "stop_sequence") != NULL &&
              (u = cJSON_AddObjectToObject(m, "usage")) != NULL &&
              cJSON_AddNumberToObject(u, "input_tokens", 0) != NULL &&
              cJSON_AddNumberToObject(u, "output_tokens", 0) != NULL;
    int rc = ok ? live_face_event(out, "message_start", o) : LD_ENOMEM;
    cJSON_Delete(o);
    return rc;
}

/* content_block_start for item fs->open with block b (taken). */
static int block_start(live_face_stream *fs, cJSON *b, live_buf *out)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL && b != NULL &&
              add_str(o, "type", "content_block_start") &&
              cJSON_AddNumberToObject(o, "index", fs->open) != NULL;
    if (ok && !cJSON_AddItemToObject(o, "content_block", b))
        ok = false;
    if (!ok && (o == NULL || live_jget(o, "content_block") != b))
        cJSON_Delete(b);
    int rc = ok ? live_face_event(out, "content_block_start", o) : LD_ENOMEM;
    cJSON_Delete(o);
    return rc;
}

static int block_delta(live_face_stream *fs, const char *dtype,
                       const char *key, const char *t, live_buf *out)
{
    cJSON *o = cJSON_CreateObject(), *d = NULL;
    bool ok = o != NULL && add_str(o, "type", "content_block_delta") &&
              cJSON_AddNumberToObject(o, "index", fs->open) != NULL &&
              (d = cJSON_AddObjectToObject(o, "delta")) != NULL &&
              add_str(d, "type", dtype) && add_str(d, key, t);
    int rc = ok ? live_face_event(out, "content_block_delta", o) : LD_ENOMEM;
    cJSON_Delete(o);
    return rc;
}

static int ev_text(live_face_stream *fs, const char *t, live_buf *out)
{
    int rc = LD_OK;
    if (fs->items[fs->open].acc.len == strlen(t)) {
        cJSON *b = cJSON_CreateObject();
        if (b != NULL && (!add_str(b, "type", "text") || !add_str(b, "text", ""))) {
            cJSON_Delete(b);
            b = NULL;
        }
        rc = block_start(fs, b, out);
    }
    return rc == LD_OK ? block_delta(fs, "text_delta", "text", t, out) : rc;
}

static int ev_tool_start(live_face_stream *fs, live_buf *out)
{
    const live_face_item *it = &fs->items[fs->open];
    cJSON *b = cJSON_CreateObject();
    if (b != NULL && (!add_str(b, "type", "tool_use") ||
                      !add_str(b, "id", it->call_id) ||
                      !add_str(b, "name", it->name) ||
                      cJSON_AddObjectToObject(b, "input") == NULL)) {
        cJSON_Delete(b);
        b = NULL;
    }
    return block_start(fs, b, out);
}

static int ev_tool_args(live_face_stream *fs, const char *t, live_buf *out)
{
    return block_delta(fs, "input_json_delta", "partial_json", t, out);
}

static int ev_item_done(live_face_stream *fs, int i, live_buf *out)
{
    (void)fs;
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL && add_str(o, "type", "content_block_stop") &&
              cJSON_AddNumberToObject(o, "index", i) != NULL;
    int rc = ok ? live_face_event(out, "content_block_stop", o) : LD_ENOMEM;
    cJSON_Delete(o);
    return rc;
}

static int ev_end(live_face_stream *fs, live_buf *out)
{
    cJSON *o = cJSON_CreateObject(), *d = NULL, *u = NULL;
    bool ok = o != NULL && add_str(o, "type", "message_delta") &&
              (d = cJSON_AddObjectToObject(o, "delta")) != NULL &&
              add_str(d, "stop_reason", stop_reason(fs->finish)) &&
              cJSON_AddNullToObject(d, "stop_sequence") != NULL &&
              (u = cJSON_AddObjectToObject(o, "usage")) != NULL &&
              (fs->in_tok < 0 ||
               cJSON_AddNumberToObject(u, "input_tokens", (double)fs->in_tok)) &&
              cJSON_AddNumberToObject(u, "output_tokens",
                                      fs->out_tok > 0 ? (double)fs->out_tok : 0);
    int rc = ok ? live_face_event(out, "message_delta", o) : LD_ENOMEM;
    cJSON_Delete(o);
    if (rc == LD_OK)
        rc = live_buf_appendf(out, "event: message_stop\ndata: "
                              "{\"type\":\"message_stop\"}\n\n");
    return rc;
}

static int ev_error(live_face_stream *fs, const char *message,
                    const char *code, live_buf *out)
{
    (void)fs;
    cJSON *o = error_obj("api_error", message, code);
    int rc = o != NULL ? live_face_event(out, "error", o) : LD_ENOMEM;
    cJSON_Delete(o);
    return rc;
}

static const live_face_events msg_events = {
    .start = ev_start,
    .text = ev_text,
    .tool_start = ev_tool_start,
    .tool_args = ev_tool_args,
    .item_done = ev_item_done,
    .end = ev_end,
    .error = ev_error,
};

const live_face live_face_messages = {
    .name = "messages",
    .id_prefix = "msg_ladder_",
    .required_header = "anthropic-version",
    .native_api = "messages",
    .embedding = false,
    .to_chat = msg_to_chat,
    .parse = NULL,
    .answer = msg_answer,
    .error_body = msg_error_body,
    .ev = &msg_events,
};
