/* live_chat.c - the client's request: a POST /v1/chat/completions body in
 * the OpenAI shape, whatever provider will answer it (live_adapter.h:
 * live_chat_parse). Every provider's upstream body is built from what this
 * keeps.
 *
 * Choices the header leaves open, made here: "characters" are UTF-8 code
 * points of the text content (string contents, text parts, tool-call
 * arguments); the estimate is chars / 4 + 4 per message. LD_CAP_TOOLS is
 * also needed by a conversation that carries tool history (an assistant
 * message with tool_calls, a "tool" message), as a route without tools
 * cannot take it; LD_CAP_JSON is not needed for response_format
 * {"type":"text"} (the default).
 */
#include "live_adapter.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live_adapter_int.h"
#include "live_face.h"

static int64_t utf8_chars(const char *s)
{
    int64_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if ((*p & 0xC0) != 0x80)
            n++;
    return n;
}

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

static bool role_known(const char *r)
{
    static const char *const roles[] = {"system", "developer", "user",
                                        "assistant", "tool"};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(r, roles[i]) == 0)
            return true;
    return false;
}

typedef struct parse_acc {
    unsigned caps;
    int64_t chars;
    char *msg;
    size_t cap;
} parse_acc;

static int check_parts(const cJSON *content, int mi, parse_acc *a)
{
    int pi = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        if (!cJSON_IsObject(part))
            return bad(a->msg, a->cap,
                       "messages[%d].content[%d]: must be an object", mi, pi);
        const char *type = live_jstr(part, "type");
        if (type == NULL)
            return bad(a->msg, a->cap,
                       "messages[%d].content[%d].type: required", mi, pi);
        if (strcmp(type, "text") == 0) {
            const char *text = live_jstr(part, "text");
            if (text == NULL)
                return bad(a->msg, a->cap,
                           "messages[%d].content[%d].text: must be a string",
                           mi, pi);
            a->chars += utf8_chars(text);
        } else if (strcmp(type, "image_url") == 0) {
            if (live_jstr(live_jget(part, "image_url"), "url") == NULL)
                return bad(a->msg, a->cap,
                           "messages[%d].content[%d].image_url.url: required",
                           mi, pi);
            a->caps |= LD_CAP_VISION;
        }
        /* other part types (input_audio, file, refusal) pass through */
        pi++;
    }
    return LD_OK;
}

static int check_tool_calls(const cJSON *calls, int mi, parse_acc *a)
{
    if (!cJSON_IsArray(calls))
        return bad(a->msg, a->cap, "messages[%d].tool_calls: must be an array",
                   mi);
    int ti = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, calls) {
        const cJSON *f = live_jget(c, "function");
        if (live_jstr(c, "id") == NULL)
            return bad(a->msg, a->cap,
                       "messages[%d].tool_calls[%d].id: required", mi, ti);
        if (live_jstr(f, "name") == NULL)
            return bad(a->msg, a->cap,
                       "messages[%d].tool_calls[%d].function.name: required",
                       mi, ti);
        const cJSON *args = live_jget(f, "arguments");
        if (!live_jabsent(args) && !cJSON_IsString(args))
            return bad(a->msg, a->cap,
                       "messages[%d].tool_calls[%d].function.arguments: must "
                       "be a string",
                       mi, ti);
        if (cJSON_IsString(args))
            a->chars += utf8_chars(args->valuestring);
        ti++;
    }
    if (ti > 0)
        a->caps |= LD_CAP_TOOLS;
    return LD_OK;
}

static int check_message(const cJSON *m, int mi, parse_acc *a, bool *assistant)
{
    if (!cJSON_IsObject(m))
        return bad(a->msg, a->cap, "messages[%d]: must be an object", mi);
    const char *role = live_jstr(m, "role");
    if (role == NULL)
        return bad(a->msg, a->cap, "messages[%d].role: required", mi);
    if (!role_known(role))
        return bad(a->msg, a->cap,
                   "messages[%d].role: \"%.40s\" is not one of system, "
                   "developer, user, assistant, tool",
                   mi, role);
    *assistant = strcmp(role, "assistant") == 0;
    const cJSON *content = live_jget(m, "content");
    if (live_jabsent(content)) {
        if (!*assistant)
            return bad(a->msg, a->cap, "messages[%d].content: required", mi);
    } else if (cJSON_IsString(content)) {
        a->chars += utf8_chars(content->valuestring);
    } else if (cJSON_IsArray(content)) {
        int rc = check_parts(content, mi, a);
        if (rc != LD_OK)
            return rc;
    } else {
        return bad(a->msg, a->cap,
                   "messages[%d].content: must be a string, an array of "
                   "content parts or null",
                   mi);
    }
    if (strcmp(role, "tool") == 0) {
        if (live_jstr(m, "tool_call_id") == NULL)
            return bad(a->msg, a->cap,
                       "messages[%d].tool_call_id: required for a tool message",
                       mi);
        a->caps |= LD_CAP_TOOLS;
    }
    if (*assistant && !live_jabsent(live_jget(m, "tool_calls")))
        return check_tool_calls(live_jget(m, "tool_calls"), mi, a);
    return LD_OK;
}

/* ---- what reaches the upstream: no duplicate key, valid UTF-8, known
 * top-level fields --------------------------------------------------------- */

/* Strict UTF-8 (RFC 3629): no overlong forms, no encoded surrogates
 * (U+D800..DFFF), nothing past U+10FFFF. Returns the offset of the first
 * bad byte, or -1 when s is valid. */
static long utf8_bad_at(const char *s)
{
    const unsigned char *p = (const unsigned char *)s, *b = p;
    while (*p != '\0') {
        unsigned c = *p;
        int n;
        unsigned min, cp;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            min = 0x80;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            min = 0x800;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            min = 0x10000;
            cp = c & 0x07;
        } else {
            return (long)(p - b);
        }
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return (long)(p - b);
            cp = (cp << 6) | (p[i] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return (long)(p - b);
        p += n + 1;
    }
    return -1;
}

static int cmp_names(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The first key of o that appears twice, NULL if none (or *oom). */
static const char *dup_key(const cJSON *o, bool *oom)
{
    int k = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, o) k++;
    if (k < 2)
        return NULL;
    if (k <= 16) {
        for (const cJSON *x = o->child; x != NULL; x = x->next)
            for (const cJSON *y = x->next; y != NULL; y = y->next)
                if (strcmp(x->string, y->string) == 0)
                    return x->string;
        return NULL;
    }
    const char **names = malloc((size_t)k * sizeof *names);
    const char *found = NULL;
    if (names == NULL) {
        *oom = true;
        return NULL;
    }
    k = 0;
    cJSON_ArrayForEach(c, o) names[k++] = c->string;
    qsort(names, (size_t)k, sizeof *names, cmp_names);
    for (int i = 1; i < k && found == NULL; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            found = names[i];
    free(names);
    return found;
}

/* Every object under v (at path, "" for the top level) without duplicate
 * keys, every string and key valid UTF-8. */
static int check_tree(const cJSON *v, char *path, size_t plen, size_t pcap,
                      char *msg, size_t cap, int depth)
{
    const char *where = plen > 0 ? path : "the top level";
    if (depth > 64)
        return bad(msg, cap, "%s: nested too deep", where);
    if (cJSON_IsString(v)) {
        long at = utf8_bad_at(v->valuestring);
        if (at >= 0)
            return bad(msg, cap, "%s: invalid UTF-8 at byte %ld of the string",
                       where, at);
        return LD_OK;
    }
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
        return LD_OK;
    if (cJSON_IsObject(v)) {
        bool oom = false;
        const char *d = dup_key(v, &oom);
        if (oom)
            return LD_ENOMEM;
        if (d != NULL)
            return bad(msg, cap, "%s: duplicate key \"%.60s\"", where, d);
    }
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, v) {
        int n;
        if (cJSON_IsObject(v)) {
            if (utf8_bad_at(c->string) >= 0)
                return bad(msg, cap, "%s: a key is not valid UTF-8", where);
            n = snprintf(path + plen, pcap - plen, "%s%.40s",
                         plen > 0 ? "." : "", c->string);
        } else {
            n = snprintf(path + plen, pcap - plen, "[%d]", i);
        }
        size_t nl = n < 0 ? plen : plen + (size_t)n;
        if (nl >= pcap)
            nl = pcap - 1;
        int rc = check_tree(c, path, nl, pcap, msg, cap, depth + 1);
        path[plen] = '\0';
        if (rc != LD_OK)
            return rc;
        i++;
    }
    return LD_OK;
}

/* The top-level fields forwarded upstream; any other is refused (it might
 * change the price or the behaviour outside what the policy checked, as
 * service_tier or reasoning_effort do) unless a route's pass_through names
 * it: then it is accepted, forwarded to the routes that list it and left
 * out of the body sent to the others. metadata (OpenAI's key-value tags
 * for the request) and user change neither price nor answer. */
static const char *const known_fields[] = {
    "model", "messages", "stream", "stream_options", "max_tokens",
    "max_completion_tokens", "temperature", "top_p", "n", "stop", "tools",
    "tool_choice", "parallel_tool_calls", "response_format", "seed", "user",
    "metadata", "presence_penalty", "frequency_penalty", "logit_bias",
    "logprobs", "top_logprobs"};

static bool name_in(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

static bool known_field(const char *name)
{
    return name_in(name, known_fields,
                   sizeof known_fields / sizeof known_fields[0]);
}

static int check_fields(const cJSON *root, const char *const *extra, int n,
                        char *msg, size_t cap)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, root) {
        if (!known_field(c->string) &&
            !name_in(c->string, extra, n > 0 ? (size_t)n : 0))
            return bad(msg, cap, "%.60s: unknown field (ladder forwards only "
                       "the fields it checks and those a route's "
                       "pass_through lists; see README, Running it for "
                       "users)", c->string);
    }
    return LD_OK;
}

int live_chat_withhold(live_chat_req *r, const char *const *allowed, int n,
                       cJSON **held)
{
    int count = 0;
    *held = NULL;
    /* an embeddings body has its own fields, checked by its face */
    if (r == NULL || r->body == NULL || r->embed)
        return 0;
    for (cJSON *c = r->body->child, *next; c != NULL; c = next) {
        next = c->next;
        if (known_field(c->string) ||
            name_in(c->string, allowed, n > 0 ? (size_t)n : 0))
            continue;
        if (*held == NULL && (*held = cJSON_CreateObject()) == NULL)
            return LD_ENOMEM;
        cJSON_AddItemToObject(*held, c->string,
                              cJSON_DetachItemViaPointer(r->body, c));
        count++;
    }
    return count;
}

void live_chat_restore(live_chat_req *r, cJSON *held)
{
    if (held == NULL)
        return;
    if (r != NULL && r->body != NULL) {
        for (cJSON *c = held->child, *next; c != NULL; c = next) {
            next = c->next;
            cJSON_AddItemToObject(r->body, c->string,
                                  cJSON_DetachItemViaPointer(held, c));
        }
    }
    cJSON_Delete(held);
}

/* max_completion_tokens wins over max_tokens; -1 when neither is given. */
static int check_max_tokens(const cJSON *body, int64_t *out, char *msg,
                            size_t cap)
{
    static const char *const keys[] = {"max_completion_tokens", "max_tokens"};
    *out = -1;
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = live_jget(body, keys[i]);
        if (live_jabsent(v))
            continue;
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 ||
            v->valuedouble > 1e9 ||
            v->valuedouble != (double)(int64_t)v->valuedouble)
            return bad(msg, cap, "%s: must be a positive integer", keys[i]);
        if (*out < 0)
            *out = (int64_t)v->valuedouble;
    }
    return LD_OK;
}

int live_chat_parse(const char *body, size_t len, live_chat_req *out,
                    char *msg, size_t cap)
{
    return live_chat_parse_extra(body, len, NULL, 0, out, msg, cap);
}

int live_chat_parse_extra(const char *body, size_t len,
                          const char *const *extra, int nextra,
                          live_chat_req *out, char *msg, size_t cap)
{
    cJSON *root = NULL;
    size_t at = 0;
    int rc;
    parse_acc a = {0, 0, msg, cap};

    if (out == NULL)
        return LD_EINVAL;
    memset(out, 0, sizeof *out);
    out->max_tokens = -1;
    if (msg != NULL && cap > 0)
        msg[0] = '\0';
    if (body == NULL)
        return bad(msg, cap, "body is not JSON: empty body");

    rc = live_json_parse(body, len, &root, &at);
    if (rc == LD_ENOMEM)
        return rc;
    if (rc != LD_OK) {
        if (at >= len)
            return bad(msg, cap,
                       "body is not JSON: unexpected end at byte %zu", len);
        return bad(msg, cap, "body is not JSON: syntax error at byte %zu", at);
    }
    if (!cJSON_IsObject(root)) {
        rc = bad(msg, cap, "body must be a JSON object");
        goto fail;
    }
    {
        char path[256] = "";
        rc = check_tree(root, path, 0, sizeof path, msg, cap, 0);
        if (rc == LD_OK)
            rc = check_fields(root, extra, nextra, msg, cap);
        if (rc != LD_OK)
            goto fail;
    }

    const cJSON *msgs = live_jget(root, "messages");
    if (live_jabsent(msgs)) {
        rc = bad(msg, cap, "messages: required");
        goto fail;
    }
    if (!cJSON_IsArray(msgs)) {
        rc = bad(msg, cap, "messages: must be an array");
        goto fail;
    }
    int count = cJSON_GetArraySize(msgs);
    if (count == 0) {
        rc = bad(msg, cap, "messages: must not be empty");
        goto fail;
    }
    bool last_assistant = false;
    int mi = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs) {
        rc = check_message(m, mi, &a, &last_assistant);
        if (rc != LD_OK)
            goto fail;
        mi++;
    }
    if (last_assistant)
        a.caps |= LD_CAP_PREFILL;

    const cJSON *model = live_jget(root, "model");
    if (!live_jabsent(model) && !cJSON_IsString(model)) {
        rc = bad(msg, cap, "model: must be a string");
        goto fail;
    }
    const cJSON *stream = live_jget(root, "stream");
    if (!live_jabsent(stream) && !cJSON_IsBool(stream)) {
        rc = bad(msg, cap, "stream: must be a boolean");
        goto fail;
    }
    const cJSON *n = live_jget(root, "n");
    out->n = 1;
    if (!live_jabsent(n)) {
        /* OpenAI takes 1 to 128 */
        if (!cJSON_IsNumber(n) || !(n->valuedouble >= 1) ||
            n->valuedouble > 128 ||
            n->valuedouble != (double)(int)n->valuedouble) {
            rc = bad(msg, cap, "n: must be an integer from 1 to 128");
            goto fail;
        }
        out->n = (int)n->valuedouble;
        if (out->n > 1)
            a.caps |= LD_CAP_N;
    }
    rc = check_max_tokens(root, &out->max_tokens, msg, cap);
    if (rc != LD_OK)
        goto fail;
    const cJSON *tools = live_jget(root, "tools");
    if (!live_jabsent(tools)) {
        if (!cJSON_IsArray(tools)) {
            rc = bad(msg, cap, "tools: must be an array");
            goto fail;
        }
        if (cJSON_GetArraySize(tools) > 0)
            a.caps |= LD_CAP_TOOLS;
    }
    const cJSON *rf = live_jget(root, "response_format");
    if (!live_jabsent(rf)) {
        const char *t = live_jstr(rf, "type");
        if (t == NULL || strcmp(t, "text") != 0)
            a.caps |= LD_CAP_JSON;
    }

    out->stream = cJSON_IsTrue(stream);
    if (out->stream) {
        a.caps |= LD_CAP_STREAM;
        out->include_usage =
            cJSON_IsTrue(live_jget(live_jget(root, "stream_options"), "include_usage"));
    }
    out->body = root;
    out->model = cJSON_IsString(model) ? model->valuestring : NULL;
    out->caps = a.caps;
    out->input_tokens = a.chars / 4 + 4 * (int64_t)count;
    return LD_OK;

fail:
    cJSON_Delete(root);
    memset(out, 0, sizeof *out);
    out->max_tokens = -1;
    return rc;
}

void live_chat_cleanup(live_chat_req *r)
{
    if (r == NULL)
        return;
    cJSON_Delete(r->body);
    memset(r, 0, sizeof *r);
    r->max_tokens = -1;
}



/* ---- the same checks for the other client APIs' bodies (live_face.h) ---- */

int live_body_check(const cJSON *root, const char *const *fields, char *msg,
                    size_t cap)
{
    char path[256] = "";
    if (!cJSON_IsObject(root))
        return bad(msg, cap, "body must be a JSON object");
    int rc = check_tree(root, path, 0, sizeof path, msg, cap, 0);
    if (rc != LD_OK)
        return rc;
    const cJSON *c;
    cJSON_ArrayForEach(c, root) {
        size_t i = 0;
        while (fields[i] != NULL && strcmp(c->string, fields[i]) != 0)
            i++;
        if (fields[i] == NULL)
            return bad(msg, cap, "%.60s: unknown field (ladder forwards only "
                       "the fields it checks; see README, Other client APIs)",
                       c->string);
    }
    return LD_OK;
}
