/* live_responses.c - POST /v1/responses, OpenAI's Responses API in its
 * stateless form, as a client face (live_face.h).
 *
 * The request becomes a chat completions body: `instructions` a system
 * message first; `input` a string (one user message) or items: messages
 * (role user, system, developer or assistant; content a string or
 * input_text / output_text / input_image parts), function_call items (the
 * assistant's tool_calls, consecutive calls in one assistant message, an
 * assistant message just before them included) and function_call_output
 * items ("tool" messages; an output of input_text parts is joined);
 * reasoning items are dropped. tools of type function become chat tools,
 * tool_choice auto/none/required/{"type":"function","name"} the same,
 * max_output_tokens max_tokens, text.format response_format, temperature,
 * top_p, parallel_tool_calls and user as they are; metadata and
 * truncation are accepted and not forwarded. Refused with a 400 naming the
 * field: previous_response_id, conversation, store true, background true
 * (ladder keeps no responses), item_reference items, other tool types,
 * file inputs, other top-level fields.
 *
 * The answer: a "response" object (status completed, or incomplete with
 * incomplete_details.reason max_output_tokens / content_filter) whose
 * output holds a message item (one output_text part) and function_call
 * items, and usage (input, output, total tokens). The stream:
 * response.created, response.in_progress, then per item
 * response.output_item.added, for text response.content_part.added /
 * response.output_text.delta / response.output_text.done /
 * response.content_part.done, for calls
 * response.function_call_arguments.delta / .done, and
 * response.output_item.done; finally response.completed (or
 * response.incomplete) with the whole response. Every event carries a
 * sequence_number. A failure after the start is an "error" event. Errors
 * before it are OpenAI's error JSON (the chat completions shape).
 *
 * A route that speaks Responses itself (capability "responses") gets the
 * client's own body instead, and its answer reaches the client untouched
 * (prov_responses.c); every other route gets the translation above.
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

static bool add_str(cJSON *o, const char *k, const char *v)
{
    return cJSON_AddStringToObject(o, k, v != NULL ? v : "") != NULL;
}

static const char *const resp_fields[] = {
    "model", "input", "instructions", "tools", "tool_choice",
    "max_output_tokens", "temperature", "top_p", "stream",
    "parallel_tool_calls", "user", "metadata", "truncation", "text",
    "store", "previous_response_id", "background", "conversation", NULL};

/* ---- the request ------------------------------------------------------------ */

typedef struct conv {
    cJSON *msgs;       /* the chat messages */
    cJSON *calls;      /* tool_calls of the last assistant message, for
                          function_call items that follow it; NULL none */
    cJSON *last_asst;  /* that message */
    char *msg;
    size_t cap;
} conv;

static int push_msg(conv *c, const char *role, cJSON *content, cJSON **made)
{
    cJSON *m = cJSON_CreateObject();
    if (m == NULL || content == NULL || !add_str(m, "role", role) ||
        !cJSON_AddItemToObject(m, "content", content)) {
        if (m == NULL || live_jget(m, "content") != content)
            cJSON_Delete(content);
        cJSON_Delete(m);
        return LD_ENOMEM;
    }
    if (!live_jpush(c->msgs, m))
        return LD_ENOMEM;
    if (made != NULL)
        *made = m;
    return LD_OK;
}

/* content parts of a message item -> chat parts (user/system) or text
 * (assistant: joined into *text). */
static int item_parts(const cJSON *content, const char *where, cJSON *parts,
                      live_buf *text, conv *c)
{
    int k = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, content) {
        const char *type = live_jstr(p, "type");
        int rc = LD_OK;
        if (type == NULL)
            return bad(c->msg, c->cap, "%s.content[%d].type: required", where, k);
        if (strcmp(type, "input_text") == 0 || strcmp(type, "output_text") == 0) {
            const char *t = live_jstr(p, "text");
            if (t == NULL)
                return bad(c->msg, c->cap, "%s.content[%d].text: must be a "
                           "string", where, k);
            if (parts == NULL) {
                rc = live_buf_appendf(text, "%s", t);
            } else {
                cJSON *o = cJSON_CreateObject();
                if (o == NULL || !add_str(o, "type", "text") ||
                    !add_str(o, "text", t)) {
                    cJSON_Delete(o);
                    return LD_ENOMEM;
                }
                rc = live_jpush(parts, o) ? LD_OK : LD_ENOMEM;
            }
        } else if (strcmp(type, "input_image") == 0 && parts != NULL) {
            const char *url = live_jstr(p, "image_url");
            if (url == NULL)
                return bad(c->msg, c->cap, "%s.content[%d].image_url: required "
                           "(file_id images are not supported)", where, k);
            cJSON *o = cJSON_CreateObject(), *iu = NULL;
            if (o == NULL || !add_str(o, "type", "image_url") ||
                (iu = cJSON_AddObjectToObject(o, "image_url")) == NULL ||
                !add_str(iu, "url", url)) {
                cJSON_Delete(o);
                return LD_ENOMEM;
            }
            rc = live_jpush(parts, o) ? LD_OK : LD_ENOMEM;
        } else if (strcmp(type, "refusal") != 0) {
            return bad(c->msg, c->cap, "%s.content[%d].type: \"%.40s\" is not "
                       "supported (input_text, output_text, input_image)",
                       where, k, type);
        }
        if (rc != LD_OK)
            return rc;
        k++;
    }
    return LD_OK;
}

static int message_item(conv *c, const cJSON *it, const char *where)
{
    const char *role = live_jstr(it, "role");
    const cJSON *content = live_jget(it, "content");
    static const char *const roles[] = {"user", "system", "developer",
                                        "assistant"};
    size_t r = 0;
    while (role != NULL && r < 4 && strcmp(role, roles[r]) != 0)
        r++;
    if (role == NULL || r == 4)
        return bad(c->msg, c->cap, "%s.role: must be user, system, developer "
                   "or assistant", where);
    bool asst = r == 3;
    c->calls = NULL;
    c->last_asst = NULL;
    if (cJSON_IsString(content)) {
        cJSON *made = NULL;
        int rc = push_msg(c, role, cJSON_CreateString(content->valuestring),
                          &made);
        if (asst)
            c->last_asst = made;
        return rc;
    }
    if (!cJSON_IsArray(content))
        return bad(c->msg, c->cap, "%s.content: must be a string or an array "
                   "of parts", where);
    live_buf text;
    live_buf_init(&text, 0);
    cJSON *parts = asst ? NULL : cJSON_CreateArray();
    int rc = !asst && parts == NULL ? LD_ENOMEM
                                    : item_parts(content, where, parts, &text, c);
    if (rc == LD_OK) {
        cJSON *made = NULL;
        rc = push_msg(c, role, asst ? cJSON_CreateString(text.data != NULL
                                                             ? text.data : "")
                                    : parts, &made);
        parts = NULL;
        if (asst)
            c->last_asst = made;
    }
    cJSON_Delete(parts);
    live_buf_cleanup(&text);
    return rc;
}

static int call_item(conv *c, const cJSON *it, const char *where)
{
    const char *id = live_jstr(it, "call_id"), *name = live_jstr(it, "name");
    const char *args = live_jstr(it, "arguments");
    if (id == NULL || name == NULL || args == NULL)
        return bad(c->msg, c->cap, "%s: a function_call needs call_id, name "
                   "and arguments (strings)", where);
    if (c->calls == NULL) {
        if (c->last_asst == NULL) {
            int rc = push_msg(c, "assistant", cJSON_CreateNull(), &c->last_asst);
            if (rc != LD_OK)
                return rc;
        } else if (live_jstr(c->last_asst, "content") != NULL &&
                   live_jstr(c->last_asst, "content")[0] == '\0' &&
                   !live_jset(c->last_asst, "content", cJSON_CreateNull())) {
            return LD_ENOMEM;
        }
        c->calls = cJSON_AddArrayToObject(c->last_asst, "tool_calls");
        if (c->calls == NULL)
            return LD_ENOMEM;
    }
    cJSON *o = cJSON_CreateObject(), *f = NULL;
    if (o == NULL || !add_str(o, "id", id) || !add_str(o, "type", "function") ||
        (f = cJSON_AddObjectToObject(o, "function")) == NULL ||
        !add_str(f, "name", name) || !add_str(f, "arguments", args)) {
        cJSON_Delete(o);
        return LD_ENOMEM;
    }
    return live_jpush(c->calls, o) ? LD_OK : LD_ENOMEM;
}

static int output_item(conv *c, const cJSON *it, const char *where)
{
    const char *id = live_jstr(it, "call_id");
    const cJSON *out = live_jget(it, "output");
    live_buf t;
    int rc = LD_OK;
    c->calls = NULL;
    c->last_asst = NULL;
    if (id == NULL)
        return bad(c->msg, c->cap, "%s.call_id: required", where);
    live_buf_init(&t, 0);
    if (cJSON_IsString(out)) {
        rc = live_buf_appendf(&t, "%s", out->valuestring);
    } else if (cJSON_IsArray(out)) {
        rc = item_parts(out, where, NULL, &t, c);
    } else {
        rc = bad(c->msg, c->cap, "%s.output: must be a string or an array of "
                 "input_text parts", where);
    }
    cJSON *m = rc == LD_OK ? cJSON_CreateObject() : NULL;
    if (rc == LD_OK && (m == NULL || !add_str(m, "role", "tool") ||
                        !add_str(m, "tool_call_id", id) ||
                        !add_str(m, "content", t.data))) {
        cJSON_Delete(m);
        rc = LD_ENOMEM;
    } else if (rc == LD_OK && !live_jpush(c->msgs, m)) {
        rc = LD_ENOMEM;
    }
    live_buf_cleanup(&t);
    return rc;
}

static int add_input(cJSON *out, const cJSON *root, char *msg, size_t cap)
{
    conv c = {cJSON_AddArrayToObject(out, "messages"), NULL, NULL, msg, cap};
    const cJSON *ins = live_jget(root, "instructions");
    const cJSON *in = live_jget(root, "input");
    int rc = LD_OK;
    if (c.msgs == NULL)
        return LD_ENOMEM;
    if (!live_jabsent(ins)) {
        if (!cJSON_IsString(ins))
            return bad(msg, cap, "instructions: must be a string");
        rc = push_msg(&c, "system", cJSON_CreateString(ins->valuestring), NULL);
        if (rc != LD_OK)
            return rc;
    }
    if (live_jabsent(in))
        return bad(msg, cap, "input: required");
    if (cJSON_IsString(in))
        return push_msg(&c, "user", cJSON_CreateString(in->valuestring), NULL);
    if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) == 0)
        return bad(msg, cap, "input: must be a string or a non-empty array of "
                   "items");
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, in) {
        char where[48];
        snprintf(where, sizeof where, "input[%d]", i++);
        if (!cJSON_IsObject(it))
            return bad(msg, cap, "%s: must be an object", where);
        const char *type = live_jstr(it, "type");
        if (type == NULL && live_jstr(it, "role") != NULL)
            type = "message";
        if (type == NULL)
            rc = bad(msg, cap, "%s.type: required", where);
        else if (strcmp(type, "message") == 0)
            rc = message_item(&c, it, where);
        else if (strcmp(type, "function_call") == 0)
            rc = call_item(&c, it, where);
        else if (strcmp(type, "function_call_output") == 0)
            rc = output_item(&c, it, where);
        else if (strcmp(type, "item_reference") == 0)
            rc = bad(msg, cap, "%s: item_reference needs stored responses, "
                     "which ladder does not keep (send the items)", where);
        else if (strcmp(type, "reasoning") != 0)
            rc = bad(msg, cap, "%s.type: \"%.40s\" items are not supported "
                     "(message, function_call, function_call_output)",
                     where, type);
        if (rc != LD_OK)
            return rc;
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
            if (type == NULL || strcmp(type, "function") != 0)
                return bad(msg, cap, "tools[%d].type: only function tools are "
                           "supported", i);
            if (name == NULL)
                return bad(msg, cap, "tools[%d].name: required", i);
            cJSON *o = cJSON_CreateObject(), *f = NULL;
            bool ok = o != NULL && add_str(o, "type", "function") &&
                      (f = cJSON_AddObjectToObject(o, "function")) != NULL &&
                      add_str(f, "name", name);
            static const char *const keys[] = {"description", "parameters",
                                               "strict"};
            for (size_t k = 0; ok && k < 3; k++) {
                const cJSON *v = live_jget(t, keys[k]);
                cJSON *d = NULL;
                if (live_jabsent(v))
                    continue;
                ok = (d = cJSON_Duplicate(v, 1)) != NULL &&
                     cJSON_AddItemToObject(f, keys[k], d);
                if (!ok)
                    cJSON_Delete(d);
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
    cJSON *v = NULL;
    if (cJSON_IsString(tc)) {
        if (strcmp(tc->valuestring, "auto") != 0 &&
            strcmp(tc->valuestring, "none") != 0 &&
            strcmp(tc->valuestring, "required") != 0)
            return bad(msg, cap, "tool_choice: must be auto, none, required or "
                       "a function");
        v = cJSON_CreateString(tc->valuestring);
    } else {
        const char *type = live_jstr(tc, "type"), *name = live_jstr(tc, "name");
        cJSON *f = NULL;
        if (type == NULL || strcmp(type, "function") != 0 || name == NULL)
            return bad(msg, cap, "tool_choice: an object must be "
                       "{\"type\":\"function\",\"name\":...}");
        v = cJSON_CreateObject();
        if (v != NULL && (!add_str(v, "type", "function") ||
                          (f = cJSON_AddObjectToObject(v, "function")) == NULL ||
                          !add_str(f, "name", name))) {
            cJSON_Delete(v);
            v = NULL;
        }
    }
    return live_jset(out, "tool_choice", v) ? LD_OK : LD_ENOMEM;
}

/* text.format -> response_format. */
static int add_format(cJSON *out, const cJSON *root, char *msg, size_t cap)
{
    const cJSON *text = live_jget(root, "text");
    if (live_jabsent(text))
        return LD_OK;
    if (!cJSON_IsObject(text))
        return bad(msg, cap, "text: must be an object");
    const cJSON *f = live_jget(text, "format");
    const char *type = live_jstr(f, "type");
    if (live_jabsent(f) || (type != NULL && strcmp(type, "text") == 0))
        return LD_OK;
    cJSON *rf = cJSON_CreateObject();
    bool ok = rf != NULL;
    if (type != NULL && strcmp(type, "json_object") == 0) {
        ok = ok && add_str(rf, "type", "json_object");
    } else if (type != NULL && strcmp(type, "json_schema") == 0) {
        cJSON *js = NULL;
        ok = ok && add_str(rf, "type", "json_schema") &&
             (js = cJSON_AddObjectToObject(rf, "json_schema")) != NULL;
        static const char *const keys[] = {"name", "schema", "strict",
                                           "description"};
        for (size_t k = 0; ok && k < 4; k++) {
            const cJSON *v = live_jget(f, keys[k]);
            cJSON *d = NULL;
            if (live_jabsent(v))
                continue;
            ok = (d = cJSON_Duplicate(v, 1)) != NULL &&
                 cJSON_AddItemToObject(js, keys[k], d);
            if (!ok)
                cJSON_Delete(d);
        }
    } else {
        cJSON_Delete(rf);
        return bad(msg, cap, "text.format.type: must be text, json_object or "
                   "json_schema");
    }
    if (!ok) {
        cJSON_Delete(rf);
        return LD_ENOMEM;
    }
    return live_jset(out, "response_format", rf) ? LD_OK : LD_ENOMEM;
}

static int add_scalars(cJSON *out, const cJSON *root, char *msg, size_t cap)
{
    const cJSON *v;
    if (!live_jabsent(live_jget(root, "previous_response_id")))
        return bad(msg, cap, "previous_response_id: not supported (ladder "
                   "keeps no responses; send the whole conversation as input)");
    if (!live_jabsent(live_jget(root, "conversation")))
        return bad(msg, cap, "conversation: not supported (ladder keeps no "
                   "conversations; send the whole conversation as input)");
    if (cJSON_IsTrue(live_jget(root, "store")))
        return bad(msg, cap, "store: true is not supported (ladder keeps no "
                   "responses; send store false or leave it out)");
    if (cJSON_IsTrue(live_jget(root, "background")))
        return bad(msg, cap, "background: true is not supported (ladder "
                   "answers in the request)");
    static const char *const bools[] = {"store", "background", "stream",
                                        "parallel_tool_calls"};
    for (size_t i = 0; i < 4; i++) {
        v = live_jget(root, bools[i]);
        if (!live_jabsent(v) && !cJSON_IsBool(v))
            return bad(msg, cap, "%s: must be a boolean", bools[i]);
    }
    static const char *const strs[] = {"model", "user", "truncation"};
    for (size_t i = 0; i < 3; i++) {
        v = live_jget(root, strs[i]);
        if (!live_jabsent(v) && !cJSON_IsString(v))
            return bad(msg, cap, "%s: must be a string", strs[i]);
    }
    v = live_jget(root, "metadata");
    if (!live_jabsent(v) && !cJSON_IsObject(v))
        return bad(msg, cap, "metadata: must be an object");
    const char *model = live_jstr(root, "model");
    const char *user = live_jstr(root, "user");
    if ((model != NULL && !add_str(out, "model", model)) ||
        (user != NULL && !add_str(out, "user", user)))
        return LD_ENOMEM;
    v = live_jget(root, "max_output_tokens");
    if (!live_jabsent(v)) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e9 ||
            v->valuedouble != (double)(int64_t)v->valuedouble)
            return bad(msg, cap, "max_output_tokens: must be a positive integer");
        if (!cJSON_AddNumberToObject(out, "max_tokens", v->valuedouble))
            return LD_ENOMEM;
    }
    static const char *const nums[] = {"temperature", "top_p"};
    static const double maxes[] = {2, 1};
    for (size_t i = 0; i < 2; i++) {
        v = live_jget(root, nums[i]);
        if (live_jabsent(v))
            continue;
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > maxes[i])
            return bad(msg, cap, "%s: must be a number from 0 to %g", nums[i],
                       maxes[i]);
        if (!cJSON_AddNumberToObject(out, nums[i], v->valuedouble))
            return LD_ENOMEM;
    }
    v = live_jget(root, "parallel_tool_calls");
    if (cJSON_IsBool(v) &&
        !cJSON_AddBoolToObject(out, "parallel_tool_calls", cJSON_IsTrue(v)))
        return LD_ENOMEM;
    if (cJSON_IsTrue(live_jget(root, "stream"))) {
        cJSON *so = NULL;
        if (!cJSON_AddTrueToObject(out, "stream") ||
            (so = cJSON_AddObjectToObject(out, "stream_options")) == NULL ||
            !cJSON_AddTrueToObject(so, "include_usage"))
            return LD_ENOMEM;
    }
    return LD_OK;
}

static int resp_to_chat(const char *body, size_t len, live_buf *chat,
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
    rc = live_body_check(root, resp_fields, msg, cap);
    if (rc == LD_OK && (out = cJSON_CreateObject()) == NULL)
        rc = LD_ENOMEM;
    if (rc == LD_OK)
        rc = add_scalars(out, root, msg, cap);
    if (rc == LD_OK)
        rc = add_input(out, root, msg, cap);
    if (rc == LD_OK)
        rc = add_tools(out, root, msg, cap);
    if (rc == LD_OK)
        rc = add_format(out, root, msg, cap);
    if (rc == LD_OK)
        rc = live_jprint_append(out, chat);
    cJSON_Delete(out);
    cJSON_Delete(root);
    return rc;
}

/* ---- answers ------------------------------------------------------------------ */

/* The response object around output (taken; NULL: an empty array):
 * status from the finish reason, usage when in_tok >= 0. */
static cJSON *response_obj(const char *id, int64_t created, const char *model,
                           const char *status, const char *finish,
                           cJSON *output, int64_t in_tok, int64_t out_tok)
{
    cJSON *o = cJSON_CreateObject(), *t = NULL, *f = NULL;
    if (output == NULL)
        output = cJSON_CreateArray();
    bool incomplete = strcmp(status, "completed") == 0 &&
                      (strcmp(finish, "length") == 0 ||
                       strcmp(finish, "content_filter") == 0);
    bool ok = o != NULL && output != NULL && add_str(o, "id", id) &&
              add_str(o, "object", "response") &&
              cJSON_AddNumberToObject(o, "created_at", (double)created) &&
              add_str(o, "status", incomplete ? "incomplete" : status) &&
              cJSON_AddNullToObject(o, "error") != NULL;
    if (ok && incomplete) {
        cJSON *d = cJSON_AddObjectToObject(o, "incomplete_details");
        ok = d != NULL && add_str(d, "reason", strcmp(finish, "length") == 0
                                                   ? "max_output_tokens"
                                                   : "content_filter");
    } else if (ok) {
        ok = cJSON_AddNullToObject(o, "incomplete_details") != NULL;
    }
    ok = ok && add_str(o, "model", model);
    if (ok && cJSON_AddItemToObject(o, "output", output))
        output = NULL;
    else
        ok = false;
    ok = ok && cJSON_AddTrueToObject(o, "parallel_tool_calls") &&
         cJSON_AddNullToObject(o, "previous_response_id") &&
         cJSON_AddFalseToObject(o, "store") &&
         (t = cJSON_AddObjectToObject(o, "text")) != NULL &&
         (f = cJSON_AddObjectToObject(t, "format")) != NULL &&
         add_str(f, "type", "text") && add_str(o, "tool_choice", "auto") &&
         cJSON_AddArrayToObject(o, "tools") != NULL &&
         add_str(o, "truncation", "disabled");
    if (ok && in_tok >= 0) {
        cJSON *u = cJSON_AddObjectToObject(o, "usage"), *d = NULL;
        int64_t ot = out_tok > 0 ? out_tok : 0;
        ok = u != NULL &&
             cJSON_AddNumberToObject(u, "input_tokens", (double)in_tok) &&
             (d = cJSON_AddObjectToObject(u, "input_tokens_details")) != NULL &&
             cJSON_AddNumberToObject(d, "cached_tokens", 0) &&
             cJSON_AddNumberToObject(u, "output_tokens", (double)ot) &&
             (d = cJSON_AddObjectToObject(u, "output_tokens_details")) != NULL &&
             cJSON_AddNumberToObject(d, "reasoning_tokens", 0) &&
             cJSON_AddNumberToObject(u, "total_tokens", (double)(in_tok + ot));
    } else if (ok) {
        ok = cJSON_AddNullToObject(o, "usage") != NULL;
    }
    cJSON_Delete(output);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *message_item_obj(const char *id, const char *status,
                               const char *text)
{
    cJSON *o = cJSON_CreateObject(), *c = NULL, *p = NULL;
    bool ok = o != NULL && add_str(o, "type", "message") && add_str(o, "id", id) &&
              add_str(o, "status", status) && add_str(o, "role", "assistant") &&
              (c = cJSON_AddArrayToObject(o, "content")) != NULL;
    if (ok && text != NULL) {
        ok = (p = cJSON_CreateObject()) != NULL &&
             add_str(p, "type", "output_text") && add_str(p, "text", text) &&
             cJSON_AddArrayToObject(p, "annotations") != NULL;
        if (!ok)
            cJSON_Delete(p);
        else
            ok = live_jpush(c, p);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *call_item_obj(const char *id, const char *status,
                            const char *call_id, const char *name,
                            const char *args)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !add_str(o, "type", "function_call") ||
        !add_str(o, "id", id) || !add_str(o, "call_id", call_id) ||
        !add_str(o, "name", name) || !add_str(o, "arguments", args) ||
        !add_str(o, "status", status)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int resp_answer(const char *chat, size_t len, const char *id,
                       int64_t created, live_buf *out)
{
    live_face_answer a;
    char item_id[96];
    live_json_arena_open();
    int rc = live_face_answer_parse(chat, len, &a);
    if (rc != LD_OK) {
        live_json_arena_close();
        return rc;
    }
    cJSON *output = cJSON_CreateArray();
    bool ok = output != NULL;
    int n = 0;
    if (ok && a.text != NULL && a.text[0] != '\0') {
        snprintf(item_id, sizeof item_id, "msg_%s_%d", id, n++);
        ok = live_jpush(output, message_item_obj(item_id, "completed", a.text));
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, a.tool_calls) {
        const cJSON *f = live_jget(c, "function");
        if (!ok)
            break;
        snprintf(item_id, sizeof item_id, "fc_%s_%d", id, n++);
        ok = live_jpush(output, call_item_obj(item_id, "completed",
                                              live_jstr(c, "id"),
                                              live_jstr(f, "name"),
                                              live_jstr(f, "arguments")));
    }
    cJSON *o = ok ? response_obj(id, created, a.model != NULL ? a.model : "",
                                 "completed", a.finish, output, a.in_tok,
                                 a.out_tok)
                  : NULL;
    if (!ok)
        cJSON_Delete(output);
    rc = o != NULL ? live_jprint_append(o, out) : LD_ENOMEM;
    cJSON_Delete(o);
    live_face_answer_cleanup(&a);
    live_json_arena_close();
    return rc;
}

/* Chat completions' error JSON: the Responses API's errors are the same. */
static int resp_error_body(int status, const char *message, const char *type,
                           const char *code, live_buf *out)
{
    (void)status;
    cJSON *o = cJSON_CreateObject(), *e = NULL;
    bool ok = o != NULL && (e = cJSON_AddObjectToObject(o, "error")) != NULL &&
              add_str(e, "message", message) &&
              add_str(e, "type", type != NULL ? type : "invalid_request_error") &&
              cJSON_AddNullToObject(e, "param") != NULL &&
              (code != NULL ? add_str(e, "code", code)
                            : cJSON_AddNullToObject(e, "code") != NULL);
    int rc = ok ? live_jprint_append(o, out) : LD_ENOMEM;
    cJSON_Delete(o);
    return rc;
}

/* ---- the stream ------------------------------------------------------------------ */

/* Emit {"type": name, "sequence_number": n, ...o} (o taken). */
static int emit(live_face_stream *fs, const char *name, cJSON *o,
                live_buf *out)
{
    int rc = LD_ENOMEM;
    if (o != NULL && add_str(o, "type", name) &&
        cJSON_AddNumberToObject(o, "sequence_number", (double)fs->seq++))
        rc = live_face_event(out, name, o);
    cJSON_Delete(o);
    return rc;
}

static void item_id(const live_face_stream *fs, int i, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s_%s_%d",
             fs->items[i].kind == FACE_ITEM_TEXT ? "msg" : "fc", fs->id, i);
}

/* {"output_index": i, "item_id": ...} to add to. */
static cJSON *at_item(const live_face_stream *fs, int i, bool content)
{
    char id[96];
    cJSON *o = cJSON_CreateObject();
    item_id(fs, i, id, sizeof id);
    if (o == NULL || !add_str(o, "item_id", id) ||
        !cJSON_AddNumberToObject(o, "output_index", i) ||
        (content && !cJSON_AddNumberToObject(o, "content_index", 0))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *item_obj(const live_face_stream *fs, int i, bool done)
{
    char id[96];
    const live_face_item *it = &fs->items[i];
    const char *acc = it->acc.data != NULL ? it->acc.data : "";
    const char *status = done ? "completed" : "in_progress";
    item_id(fs, i, id, sizeof id);
    if (it->kind == FACE_ITEM_TEXT)
        return message_item_obj(id, status, done ? acc : NULL);
    return call_item_obj(id, status, it->call_id, it->name, done ? acc : "");
}

/* output_item.added / .done for item i. */
static int item_event(live_face_stream *fs, int i, bool done, live_buf *out)
{
    cJSON *o = cJSON_CreateObject(), *item = item_obj(fs, i, done);
    bool ok = o != NULL && item != NULL &&
              cJSON_AddNumberToObject(o, "output_index", i) != NULL;
    if (ok && cJSON_AddItemToObject(o, "item", item))
        item = NULL;
    else
        ok = false;
    cJSON_Delete(item);
    if (!ok) {
        cJSON_Delete(o);
        return LD_ENOMEM;
    }
    return emit(fs, done ? "response.output_item.done"
                         : "response.output_item.added", o, out);
}

static cJSON *text_part_obj(const char *text)
{
    cJSON *p = cJSON_CreateObject();
    if (p == NULL || !add_str(p, "type", "output_text") ||
        !add_str(p, "text", text) ||
        cJSON_AddArrayToObject(p, "annotations") == NULL) {
        cJSON_Delete(p);
        return NULL;
    }
    return p;
}

static int part_event(live_face_stream *fs, int i, bool done, live_buf *out)
{
    const live_face_item *it = &fs->items[i];
    cJSON *o = at_item(fs, i, true);
    cJSON *p = text_part_obj(done && it->acc.data != NULL ? it->acc.data : "");
    if (o == NULL || p == NULL || !cJSON_AddItemToObject(o, "part", p)) {
        cJSON_Delete(p);
        cJSON_Delete(o);
        return LD_ENOMEM;
    }
    return emit(fs, done ? "response.content_part.done"
                         : "response.content_part.added", o, out);
}

static int ev_start(live_face_stream *fs, live_buf *out)
{
    static const char *const names[] = {"response.created",
                                        "response.in_progress"};
    for (int k = 0; k < 2; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON *r = response_obj(fs->id, fs->created, fs->model, "in_progress",
                                "", NULL, -1, -1);
        if (o == NULL || r == NULL || !cJSON_AddItemToObject(o, "response", r)) {
            cJSON_Delete(r);
            cJSON_Delete(o);
            return LD_ENOMEM;
        }
        int rc = emit(fs, names[k], o, out);
        if (rc != LD_OK)
            return rc;
    }
    return LD_OK;
}

static int delta_event(live_face_stream *fs, const char *name, bool content,
                       const char *t, live_buf *out)
{
    cJSON *o = at_item(fs, fs->open, content);
    if (o == NULL || !add_str(o, "delta", t) ||
        (content && cJSON_AddArrayToObject(o, "logprobs") == NULL)) {
        cJSON_Delete(o);
        return LD_ENOMEM;
    }
    return emit(fs, name, o, out);
}

static int ev_text(live_face_stream *fs, const char *t, live_buf *out)
{
    int rc = LD_OK;
    if (fs->items[fs->open].acc.len == strlen(t)) {
        rc = item_event(fs, fs->open, false, out);
        if (rc == LD_OK)
            rc = part_event(fs, fs->open, false, out);
    }
    if (rc == LD_OK)
        rc = delta_event(fs, "response.output_text.delta", true, t, out);
    return rc;
}

static int ev_tool_start(live_face_stream *fs, live_buf *out)
{
    return item_event(fs, fs->open, false, out);
}

static int ev_tool_args(live_face_stream *fs, const char *t, live_buf *out)
{
    return delta_event(fs, "response.function_call_arguments.delta", false, t,
                       out);
}

static int ev_item_done(live_face_stream *fs, int i, live_buf *out)
{
    const live_face_item *it = &fs->items[i];
    const char *acc = it->acc.data != NULL ? it->acc.data : "";
    bool text = it->kind == FACE_ITEM_TEXT;
    cJSON *o = at_item(fs, i, text);
    if (o == NULL || !add_str(o, text ? "text" : "arguments", acc) ||
        (text && cJSON_AddArrayToObject(o, "logprobs") == NULL)) {
        cJSON_Delete(o);
        return LD_ENOMEM;
    }
    int rc = emit(fs, text ? "response.output_text.done"
                           : "response.function_call_arguments.done", o, out);
    if (rc == LD_OK && text)
        rc = part_event(fs, i, true, out);
    if (rc == LD_OK)
        rc = item_event(fs, i, true, out);
    return rc;
}

static int ev_end(live_face_stream *fs, live_buf *out)
{
    cJSON *output = cJSON_CreateArray();
    bool ok = output != NULL;
    for (int i = 0; ok && i < fs->nitems; i++)
        ok = live_jpush(output, item_obj(fs, i, true));
    if (!ok) {
        cJSON_Delete(output);
        return LD_ENOMEM;
    }
    cJSON *r = response_obj(fs->id, fs->created, fs->model, "completed",
                            fs->finish, output,
                            fs->in_tok >= 0 ? fs->in_tok : 0, fs->out_tok);
    cJSON *o = cJSON_CreateObject();
    if (r == NULL || o == NULL || !cJSON_AddItemToObject(o, "response", r)) {
        cJSON_Delete(r);
        cJSON_Delete(o);
        return LD_ENOMEM;
    }
    const char *status = live_jstr(r, "status");
    return emit(fs, status != NULL && strcmp(status, "incomplete") == 0
                        ? "response.incomplete"
                        : "response.completed", o, out);
}

static int ev_error(live_face_stream *fs, const char *message,
                    const char *code, live_buf *out)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !add_str(o, "message", message) ||
        !(code != NULL ? add_str(o, "code", code)
                       : cJSON_AddNullToObject(o, "code") != NULL) ||
        cJSON_AddNullToObject(o, "param") == NULL) {
        cJSON_Delete(o);
        return LD_ENOMEM;
    }
    return emit(fs, "error", o, out);
}

static const live_face_events resp_events = {
    .start = ev_start,
    .text = ev_text,
    .tool_start = ev_tool_start,
    .tool_args = ev_tool_args,
    .item_done = ev_item_done,
    .end = ev_end,
    .error = ev_error,
};

const live_face live_face_responses = {
    .name = "responses",
    .id_prefix = "resp_ladder_",
    .required_header = NULL,
    /* routes that speak Responses get the client's body
     * (prov_responses.c) */
    .native_api = "responses",
    .embedding = false,
    .to_chat = resp_to_chat,
    .parse = NULL,
    .answer = resp_answer,
    .error_body = resp_error_body,
    .ev = &resp_events,
};
