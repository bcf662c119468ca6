/* live_adapter.c - translations between the client's OpenAI-compatible API
 * and each provider's API, and the SSE reader (see live_adapter.h).
 *
 * Conventions kept throughout:
 *   - every JSON text is parsed from a NUL-terminated copy, with the length
 *     given and nothing allowed after the value (cJSON 1.7.15 can read past
 *     the given length on truncated input);
 *   - every cJSON add is checked; an item whose add failed is still ours and
 *     is deleted on the spot;
 *   - printed JSON is freed with cJSON_free;
 *   - a failed append leaves a live_buf as it was.
 *
 * Choices the header leaves open, made here:
 *   - live_chat_parse counts "characters" as UTF-8 code points of the text
 *     content (string contents, text parts, tool-call arguments); the
 *     estimate is chars / 4 + 4 per message.
 *   - LD_CAP_TOOLS is also needed by a conversation that carries tool
 *     history (an assistant message with tool_calls, a "tool" message), as a
 *     route without tools cannot take it; LD_CAP_JSON is not needed for
 *     response_format {"type":"text"} (the default).
 *   - live_build_upstream replaces body_out's content. An Anthropic body
 *     that cannot express the request (a content part other than text or
 *     image_url, an image URL that is neither data:...;base64 nor http(s),
 *     tool-call arguments that are not a JSON object, a tool that is not a
 *     function) is LD_EINVAL. For Anthropic: temperature is clamped to
 *     [0, 1] (OpenAI allows 2); response_format is dropped (the route's
 *     LD_CAP_JSON is the operator's promise); messages left without content
 *     are dropped; and the final assistant text loses its trailing white
 *     space, which the Messages API refuses in a final assistant turn (the
 *     server continuing a cut answer should expect that).
 *   - OpenAI streams: a usage-only chunk (empty "choices" with "usage") is
 *     dropped when the client did not ask for include_usage, because the
 *     router asks upstream for usage on every stream; a non-empty
 *     delta.refusal counts as content like delta.content. An event named
 *     "error" or an object with a non-null "error" is an error and is not
 *     forwarded (the server decides whether to fall back).
 *   - Anthropic streams: a tool_use content_block_start counts as content
 *     (it carries the call's id and name, as OpenAI's first tool_calls delta
 *     does); thinking deltas and unknown events are ignored.
 *   - Stop reasons: end_turn, stop_sequence, pause_turn -> stop;
 *     max_tokens, model_context_window_exceeded -> length; tool_use ->
 *     tool_calls; refusal -> content_filter; anything else -> stop.
 *   - Anthropic usage: prompt_tokens is input_tokens plus the cache
 *     creation and cache read input tokens (OpenAI's prompt_tokens includes
 *     cached tokens).
 *   - live_stream_feed returns LD_OK for every event it understood,
 *     including errors and malformed data (reported through info); negative
 *     codes are for out-of-memory and for `out` reaching its cap.
 */
#include "live_adapter.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BUF_DEFAULT_MAX ((size_t)64 * 1024 * 1024)
#define SSE_DEFAULT_MAX_LINE ((size_t)1024 * 1024)
/* live_stream_text keeps at most this much of the answer; a piece that does
 * not fit whole ends the accumulation, so the text stays a prefix of the
 * answer. */
#define STREAM_TEXT_MAX ((size_t)1024 * 1024)
/* tool calls one Anthropic stream may open */
#define STREAM_MAX_TOOLS 128
#define ANTHROPIC_DEFAULT_MAX_TOKENS 4096

/* ---- a growable byte buffer with a cap ----------------------------------- */

void live_buf_init(live_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max == 0 ? BUF_DEFAULT_MAX : max;
}

void live_buf_cleanup(live_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* Room for `extra` more bytes and the NUL. */
static int buf_reserve(live_buf *b, size_t extra)
{
    size_t max = b->max == 0 ? BUF_DEFAULT_MAX : b->max;
    if (extra > max || b->len > max - extra)
        return LD_ELIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap && b->data != NULL)
        return LD_OK;
    /* a first allocation takes what is asked (most buffers are written
     * once); growth doubles */
    size_t ncap = b->cap == 0 ? need : b->cap < 64 ? 64 : b->cap;
    while (ncap < need)
        ncap = ncap > (SIZE_MAX / 2) ? need : ncap * 2;
    if (ncap > max + 1)
        ncap = max + 1;
    char *p = realloc(b->data, ncap);
    if (p == NULL)
        return LD_ENOMEM;
    b->data = p;
    b->cap = ncap;
    return LD_OK;
}

int live_buf_append(live_buf *b, const void *p, size_t n)
{
    if (b == NULL || (p == NULL && n > 0))
        return LD_EINVAL;
    int rc = buf_reserve(b, n);
    if (rc != LD_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return LD_OK;
}

int live_buf_appendf(live_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    if (b == NULL || fmt == NULL)
        return LD_EINVAL;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    int rc = n < 0 ? LD_EINVAL : buf_reserve(b, (size_t)n);
    if (rc == LD_OK) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
    return rc;
}

/* ---- small JSON helpers -------------------------------------------------- */

/* Parse len bytes as one JSON value with nothing but white space after it.
 * LD_EINVAL with *err_at (if not NULL) at the offending byte (len when the
 * text ran out); LD_ENOMEM. */
/* ---- a scratch arena for cJSON's short-lived trees -------------------------
 * Reading an upstream answer or stream event, or building an upstream
 * body, makes a tree that dies before the call returns. Once
 * live_json_arena_install() has made these cJSON's hooks, such a call's
 * allocations come from one reusable block (bump allocation; freeing them
 * one by one is a no-op), which spares malloc most of a request's work. A
 * tree that must outlive its call (the client's request) is made with the
 * arena closed, from malloc. What does not fit in the block comes from
 * malloc too. One thread only, as the server is. */
#define ARENA_CAP ((size_t)64 << 10)

/* Under AddressSanitizer the block is poisoned between calls, so a
 * pointer that escaped its call is caught at its first use. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ARENA_POISON(p, n) ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static struct {
    char *mem;   /* NULL until installed */
    size_t used;
    int open;    /* nesting of arena_open */
} arena;

static void *arena_malloc(size_t n)
{
    if (arena.open > 0 && arena.mem != NULL) {
        size_t need = (n + 15) & ~(size_t)15;
        if (need >= n && need <= ARENA_CAP - arena.used) {
            void *p = arena.mem + arena.used;
            arena.used += need;
            return p;
        }
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    if (arena.mem != NULL && (char *)p >= arena.mem &&
        (char *)p < arena.mem + ARENA_CAP)
        return; /* reclaimed all at once when the next call opens it */
    free(p);
}

int live_json_arena_install(void)
{
    if (arena.mem != NULL)
        return LD_OK;
    if ((arena.mem = malloc(ARENA_CAP)) == NULL)
        return LD_ENOMEM;
    ARENA_POISON(arena.mem, ARENA_CAP);
    cJSON_Hooks h = {arena_malloc, arena_free};
    cJSON_InitHooks(&h);
    return LD_OK;
}

/* Open around a call whose trees all die inside it. */
static void arena_open(void)
{
    if (arena.open++ == 0 && arena.mem != NULL) {
        arena.used = 0;
        ARENA_UNPOISON(arena.mem, ARENA_CAP);
    }
}

static void arena_close(void)
{
    if (--arena.open == 0 && arena.mem != NULL)
        ARENA_POISON(arena.mem, ARENA_CAP);
}

static int json_parse(const char *p, size_t len, cJSON **out, size_t *err_at)
{
    *out = NULL;
    if (err_at != NULL)
        *err_at = 0;
    if (p == NULL)
        return LD_EINVAL;
    const char *nul = memchr(p, '\0', len);
    if (nul != NULL) {
        if (err_at != NULL)
            *err_at = (size_t)(nul - p);
        return LD_EINVAL;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return LD_ENOMEM;
    memcpy(copy, p, len);
    copy[len] = '\0';
    const char *end = NULL;
    /* the NUL is inside the length: with require_null_terminated, cJSON
     * accepts the value only when the NUL follows it */
    cJSON *root = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 1);
    if (root == NULL && err_at != NULL)
        *err_at = end != NULL && end >= copy ? (size_t)(end - copy) : len;
    free(copy);
    if (root == NULL)
        return LD_EINVAL;
    *out = root;
    return LD_OK;
}

static const cJSON *jget(const cJSON *obj, const char *key)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key)
                               : NULL;
}

static const char *jstr(const cJSON *obj, const char *key)
{
    const cJSON *v = jget(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool jabsent(const cJSON *v)
{
    return v == NULL || cJSON_IsNull(v);
}

/* A non-negative integer field, or -1. */
static int64_t jint(const cJSON *obj, const char *key)
{
    const cJSON *v = jget(obj, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15)
        return -1;
    return (int64_t)v->valuedouble;
}

/* obj[key] = item, in place when the key exists. Takes ownership of item
 * (deleting it on failure). */
static bool jset(cJSON *obj, const char *key, cJSON *item)
{
    bool ok;
    if (item == NULL)
        return false;
    if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL)
        ok = cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
    else
        ok = cJSON_AddItemToObject(obj, key, item);
    if (!ok)
        cJSON_Delete(item);
    return ok;
}

/* arr += item; takes ownership of item. */
static bool jpush(cJSON *arr, cJSON *item)
{
    if (item == NULL)
        return false;
    if (!cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

/* Print root (not consumed) into out, appended. */
static int jprint_append(const cJSON *root, live_buf *out)
{
    char *txt = cJSON_PrintUnformatted(root);
    if (txt == NULL)
        return LD_ENOMEM;
    int rc = live_buf_append(out, txt, strlen(txt));
    cJSON_free(txt);
    return rc;
}

static void copy_trunc(char *dst, size_t cap, const char *src)
{
    if (cap == 0)
        return;
    if (src == NULL)
        src = "";
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int64_t utf8_chars(const char *s)
{
    int64_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if ((*p & 0xC0) != 0x80)
            n++;
    return n;
}

/* ---- the client's request ------------------------------------------------ */

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
        const char *type = jstr(part, "type");
        if (type == NULL)
            return bad(a->msg, a->cap,
                       "messages[%d].content[%d].type: required", mi, pi);
        if (strcmp(type, "text") == 0) {
            const char *text = jstr(part, "text");
            if (text == NULL)
                return bad(a->msg, a->cap,
                           "messages[%d].content[%d].text: must be a string",
                           mi, pi);
            a->chars += utf8_chars(text);
        } else if (strcmp(type, "image_url") == 0) {
            if (jstr(jget(part, "image_url"), "url") == NULL)
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
        const cJSON *f = jget(c, "function");
        if (jstr(c, "id") == NULL)
            return bad(a->msg, a->cap,
                       "messages[%d].tool_calls[%d].id: required", mi, ti);
        if (jstr(f, "name") == NULL)
            return bad(a->msg, a->cap,
                       "messages[%d].tool_calls[%d].function.name: required",
                       mi, ti);
        const cJSON *args = jget(f, "arguments");
        if (!jabsent(args) && !cJSON_IsString(args))
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
    const char *role = jstr(m, "role");
    if (role == NULL)
        return bad(a->msg, a->cap, "messages[%d].role: required", mi);
    if (!role_known(role))
        return bad(a->msg, a->cap,
                   "messages[%d].role: \"%.40s\" is not one of system, "
                   "developer, user, assistant, tool",
                   mi, role);
    *assistant = strcmp(role, "assistant") == 0;
    const cJSON *content = jget(m, "content");
    if (jabsent(content)) {
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
        if (jstr(m, "tool_call_id") == NULL)
            return bad(a->msg, a->cap,
                       "messages[%d].tool_call_id: required for a tool message",
                       mi);
        a->caps |= LD_CAP_TOOLS;
    }
    if (*assistant && !jabsent(jget(m, "tool_calls")))
        return check_tool_calls(jget(m, "tool_calls"), mi, a);
    return LD_OK;
}

/* max_completion_tokens wins over max_tokens; -1 when neither is given. */
static int check_max_tokens(const cJSON *body, int64_t *out, char *msg,
                            size_t cap)
{
    static const char *const keys[] = {"max_completion_tokens", "max_tokens"};
    *out = -1;
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = jget(body, keys[i]);
        if (jabsent(v))
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

    rc = json_parse(body, len, &root, &at);
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

    const cJSON *msgs = jget(root, "messages");
    if (jabsent(msgs)) {
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

    const cJSON *model = jget(root, "model");
    if (!jabsent(model) && !cJSON_IsString(model)) {
        rc = bad(msg, cap, "model: must be a string");
        goto fail;
    }
    const cJSON *stream = jget(root, "stream");
    if (!jabsent(stream) && !cJSON_IsBool(stream)) {
        rc = bad(msg, cap, "stream: must be a boolean");
        goto fail;
    }
    const cJSON *n = jget(root, "n");
    if (!jabsent(n)) {
        if (!cJSON_IsNumber(n)) {
            rc = bad(msg, cap, "n: must be an integer");
            goto fail;
        }
        if (n->valuedouble > 1) {
            rc = bad(msg, cap, "n > 1 is not supported");
            goto fail;
        }
    }
    rc = check_max_tokens(root, &out->max_tokens, msg, cap);
    if (rc != LD_OK)
        goto fail;
    const cJSON *tools = jget(root, "tools");
    if (!jabsent(tools)) {
        if (!cJSON_IsArray(tools)) {
            rc = bad(msg, cap, "tools: must be an array");
            goto fail;
        }
        if (cJSON_GetArraySize(tools) > 0)
            a.caps |= LD_CAP_TOOLS;
    }
    const cJSON *rf = jget(root, "response_format");
    if (!jabsent(rf)) {
        const char *t = jstr(rf, "type");
        if (t == NULL || strcmp(t, "text") != 0)
            a.caps |= LD_CAP_JSON;
    }

    out->stream = cJSON_IsTrue(stream);
    if (out->stream) {
        a.caps |= LD_CAP_STREAM;
        out->include_usage =
            cJSON_IsTrue(jget(jget(root, "stream_options"), "include_usage"));
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

/* ---- upstream requests: OpenAI-compatible -------------------------------- */

static int build_openai(const live_chat_req *req, const char *model,
                        bool stream, const char *prefill, live_buf *out)
{
    int rc = LD_ENOMEM;
    cJSON *root = cJSON_Duplicate(req->body, 1);
    if (root == NULL)
        return LD_ENOMEM;
    if (model != NULL && !jset(root, "model", cJSON_CreateString(model)))
        goto done;
    if (!jset(root, "stream", cJSON_CreateBool(stream)))
        goto done;
    if (stream) {
        cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
        if (!cJSON_IsObject(so)) {
            if (!jset(root, "stream_options", cJSON_CreateObject()))
                goto done;
            so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
        }
        if (!jset(so, "include_usage", cJSON_CreateTrue()))
            goto done;
    } else {
        /* OpenAI refuses stream_options on a request that does not stream */
        cJSON_DeleteItemFromObjectCaseSensitive(root, "stream_options");
    }
    if (prefill != NULL && prefill[0] != '\0') {
        cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
        int count = cJSON_GetArraySize(msgs);
        cJSON *last = count > 0 ? cJSON_GetArrayItem(msgs, count - 1) : NULL;
        const char *role = jstr(last, "role");
        const cJSON *content = jget(last, "content");
        if (role != NULL && strcmp(role, "assistant") == 0 &&
            cJSON_IsString(content)) {
            /* continue the client's own prefill */
            live_buf joined;
            live_buf_init(&joined, 0);
            rc = live_buf_appendf(&joined, "%s%s", content->valuestring,
                                  prefill);
            if (rc == LD_OK &&
                !jset(last, "content", cJSON_CreateString(joined.data)))
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
            if (!jpush(msgs, m))
                goto done;
        }
    }
    rc = jprint_append(root, out);
done:
    cJSON_Delete(root);
    return rc;
}

/* ---- upstream requests: Anthropic Messages API --------------------------- */

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
    return jpush(blocks, b) ? LD_OK : LD_ENOMEM;
}

/* image_url part -> {"type":"image","source":{...}}: a data: URL becomes a
 * base64 source, an http(s) URL a url source; anything else LD_EINVAL. */
static int add_image_block(cJSON *blocks, const char *url)
{
    char media[128];
    const char *data = NULL;

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
    return jpush(blocks, b) ? LD_OK : LD_ENOMEM;
fail:
    cJSON_Delete(b);
    return LD_ENOMEM;
}

/* OpenAI content (string or parts) -> Anthropic blocks. Text and images
 * only; refusal parts (an assistant's) read as text. */
static int add_content_blocks(cJSON *blocks, const cJSON *content)
{
    if (jabsent(content))
        return LD_OK;
    if (cJSON_IsString(content))
        return add_text_block(blocks, content->valuestring);
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        const char *type = jstr(part, "type");
        int rc;
        if (type == NULL)
            return LD_EINVAL;
        if (strcmp(type, "text") == 0)
            rc = add_text_block(blocks, jstr(part, "text"));
        else if (strcmp(type, "refusal") == 0)
            rc = add_text_block(blocks, jstr(part, "refusal"));
        else if (strcmp(type, "image_url") == 0 &&
                 jstr(jget(part, "image_url"), "url") != NULL)
            rc = add_image_block(blocks,
                                 jstr(jget(part, "image_url"), "url"));
        else
            rc = LD_EINVAL;
        if (rc != LD_OK)
            return rc;
    }
    return LD_OK;
}

/* assistant tool_calls -> tool_use blocks; arguments must be a JSON object
 * (or empty, read as {}). */
static int add_tool_use_blocks(cJSON *blocks, const cJSON *calls)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, calls) {
        const cJSON *f = jget(c, "function");
        const char *id = jstr(c, "id"), *name = jstr(f, "name");
        const char *args = jstr(f, "arguments");
        cJSON *input = NULL;
        if (id == NULL || name == NULL)
            return LD_EINVAL;
        size_t alen = args == NULL ? 0 : strlen(args);
        size_t k = 0;
        while (k < alen && (args[k] == ' ' || args[k] == '\t' ||
                            args[k] == '\n' || args[k] == '\r'))
            k++;
        if (k == alen) {
            input = cJSON_CreateObject();
            if (input == NULL)
                return LD_ENOMEM;
        } else {
            int rc = json_parse(args, alen, &input, NULL);
            if (rc != LD_OK)
                return rc;
            if (!cJSON_IsObject(input)) {
                cJSON_Delete(input);
                return LD_EINVAL;
            }
        }
        cJSON *b = cJSON_CreateObject();
        if (b == NULL || !cJSON_AddStringToObject(b, "type", "tool_use") ||
            !cJSON_AddStringToObject(b, "id", id) ||
            !cJSON_AddStringToObject(b, "name", name)) {
            cJSON_Delete(b);
            cJSON_Delete(input);
            return LD_ENOMEM;
        }
        if (!jset(b, "input", input)) { /* jset deleted input */
            cJSON_Delete(b);
            return LD_ENOMEM;
        }
        if (!jpush(blocks, b))
            return LD_ENOMEM;
    }
    return LD_OK;
}

/* tool message -> {"type":"tool_result","tool_use_id","content"?} */
static int add_tool_result_block(cJSON *blocks, const cJSON *m)
{
    const char *id = jstr(m, "tool_call_id");
    const cJSON *content = jget(m, "content");
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
        rc = add_content_blocks(inner, content);
        if (rc != LD_OK)
            goto fail;
    }
    return jpush(blocks, b) ? LD_OK : LD_ENOMEM;
fail:
    cJSON_Delete(b);
    return rc;
}

/* Append blocks (consumed) as a message of `role`, merged into the last
 * message when that has the same role. Empty blocks are dropped. */
static int push_blocks(cJSON *msgs, const char *role, cJSON *blocks)
{
    if (cJSON_GetArraySize(blocks) == 0) {
        cJSON_Delete(blocks);
        return LD_OK;
    }
    int count = cJSON_GetArraySize(msgs);
    cJSON *last = count > 0 ? cJSON_GetArrayItem(msgs, count - 1) : NULL;
    const char *lrole = jstr(last, "role");
    if (lrole != NULL && strcmp(lrole, role) == 0) {
        cJSON *lc = cJSON_GetObjectItemCaseSensitive(last, "content");
        while (blocks->child != NULL) {
            cJSON *it = cJSON_DetachItemViaPointer(blocks, blocks->child);
            if (!jpush(lc, it)) {
                cJSON_Delete(blocks);
                return LD_ENOMEM;
            }
        }
        cJSON_Delete(blocks);
        return LD_OK;
    }
    cJSON *m = cJSON_CreateObject();
    if (m == NULL || !cJSON_AddStringToObject(m, "role", role)) {
        cJSON_Delete(m);
        cJSON_Delete(blocks);
        return LD_ENOMEM;
    }
    if (!jset(m, "content", blocks)) {
        cJSON_Delete(m);
        return LD_ENOMEM;
    }
    return jpush(msgs, m) ? LD_OK : LD_ENOMEM;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

/* The Messages API refuses a final assistant turn ending in white space:
 * trim its last text block, dropping what becomes empty. */
static void trim_final_assistant(cJSON *msgs)
{
    int count = cJSON_GetArraySize(msgs);
    cJSON *last = count > 0 ? cJSON_GetArrayItem(msgs, count - 1) : NULL;
    const char *role = jstr(last, "role");
    if (role == NULL || strcmp(role, "assistant") != 0)
        return;
    cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content");
    int nb = cJSON_GetArraySize(content);
    cJSON *blk = nb > 0 ? cJSON_GetArrayItem(content, nb - 1) : NULL;
    const char *type = jstr(blk, "type");
    if (type == NULL || strcmp(type, "text") != 0)
        return;
    cJSON *text = cJSON_GetObjectItemCaseSensitive(blk, "text");
    if (!cJSON_IsString(text))
        return;
    size_t n = strlen(text->valuestring);
    while (n > 0 && is_space(text->valuestring[n - 1]))
        n--;
    text->valuestring[n] = '\0'; /* shortening in place is safe */
    if (n == 0) {
        cJSON_DeleteItemFromArray(content, nb - 1);
        if (nb == 1)
            cJSON_DeleteItemFromArray(msgs, count - 1);
    }
}

/* system/developer content -> text appended to sys, separated by blank
 * lines. */
static int add_system_text(live_buf *sys, const cJSON *content)
{
    int rc = LD_OK;
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
        const char *text = jstr(part, "text");
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

static int build_anthropic_messages(const live_chat_req *req,
                                    const char *prefill, cJSON *root)
{
    int rc = LD_OK;
    live_buf sys;
    live_buf_init(&sys, 0);
    cJSON *msgs = cJSON_AddArrayToObject(root, "messages");
    if (msgs == NULL)
        return LD_ENOMEM;

    const cJSON *m;
    cJSON_ArrayForEach(m, jget(req->body, "messages")) {
        const char *role = jstr(m, "role");
        const cJSON *content = jget(m, "content");
        if (role == NULL) {
            rc = LD_EINVAL;
            goto done;
        }
        if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
            rc = add_system_text(&sys, content);
            if (rc != LD_OK)
                goto done;
            continue;
        }
        cJSON *blocks = cJSON_CreateArray();
        if (blocks == NULL) {
            rc = LD_ENOMEM;
            goto done;
        }
        if (strcmp(role, "tool") == 0) {
            rc = add_tool_result_block(blocks, m);
        } else {
            rc = add_content_blocks(blocks, content);
            if (rc == LD_OK && strcmp(role, "assistant") == 0 &&
                cJSON_IsArray(jget(m, "tool_calls")))
                rc = add_tool_use_blocks(blocks, jget(m, "tool_calls"));
        }
        if (rc != LD_OK) {
            cJSON_Delete(blocks);
            goto done;
        }
        rc = push_blocks(msgs,
                         strcmp(role, "assistant") == 0 ? "assistant" : "user",
                         blocks);
        if (rc != LD_OK)
            goto done;
    }
    if (prefill != NULL && prefill[0] != '\0') {
        cJSON *blocks = cJSON_CreateArray();
        if (blocks == NULL) {
            rc = LD_ENOMEM;
            goto done;
        }
        rc = add_text_block(blocks, prefill);
        if (rc != LD_OK) {
            cJSON_Delete(blocks);
            goto done;
        }
        rc = push_blocks(msgs, "assistant", blocks);
        if (rc != LD_OK)
            goto done;
    }
    trim_final_assistant(msgs);
    if (sys.len > 0 && !cJSON_AddStringToObject(root, "system", sys.data))
        rc = LD_ENOMEM;
done:
    live_buf_cleanup(&sys);
    return rc;
}

static int build_anthropic_tools(const cJSON *body, cJSON *root)
{
    const cJSON *tools = jget(body, "tools");
    if (!cJSON_IsArray(tools) || cJSON_GetArraySize(tools) == 0)
        return LD_OK;
    cJSON *out = cJSON_AddArrayToObject(root, "tools");
    if (out == NULL)
        return LD_ENOMEM;
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
        const char *type = jstr(t, "type");
        const cJSON *f = jget(t, "function");
        const char *name = jstr(f, "name");
        if ((type != NULL && strcmp(type, "function") != 0) || name == NULL)
            return LD_EINVAL;
        const char *desc = jstr(f, "description");
        const cJSON *params = jget(f, "parameters");
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
        if (!jset(at, "input_schema", schema)) {
            cJSON_Delete(at);
            return LD_ENOMEM;
        }
        if (!jpush(out, at))
            return LD_ENOMEM;
    }

    /* tool_choice: "auto" | "required" | "none" | {"type":"function",
     * "function":{"name"}}; parallel_tool_calls false disables parallel
     * use */
    const cJSON *tc = jget(body, "tool_choice");
    bool serial = cJSON_IsFalse(jget(body, "parallel_tool_calls"));
    const char *type = NULL, *name = NULL;
    if (jabsent(tc)) {
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
        name = jstr(jget(tc, "function"), "name");
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
    return jset(root, "tool_choice", choice) ? LD_OK : LD_ENOMEM;
}

static int build_anthropic(const live_chat_req *req, const char *model,
                           bool stream, const char *prefill, live_buf *out)
{
    int rc = LD_ENOMEM;
    const cJSON *body = req->body;
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

    const cJSON *stop = jget(body, "stop");
    if (cJSON_IsString(stop) || cJSON_IsArray(stop)) {
        cJSON *seqs = cJSON_AddArrayToObject(root, "stop_sequences");
        if (seqs == NULL)
            goto done;
        if (cJSON_IsString(stop)) {
            if (!jpush(seqs, cJSON_CreateString(stop->valuestring)))
                goto done;
        } else {
            const cJSON *s;
            cJSON_ArrayForEach(s, stop) {
                if (cJSON_IsString(s) &&
                    !jpush(seqs, cJSON_CreateString(s->valuestring)))
                    goto done;
            }
        }
    }
    const cJSON *temp = jget(body, "temperature");
    if (cJSON_IsNumber(temp)) {
        double t = temp->valuedouble < 0   ? 0
                   : temp->valuedouble > 1 ? 1
                                           : temp->valuedouble;
        if (!cJSON_AddNumberToObject(root, "temperature", t))
            goto done;
    }
    const cJSON *top_p = jget(body, "top_p");
    if (cJSON_IsNumber(top_p) &&
        !cJSON_AddNumberToObject(root, "top_p", top_p->valuedouble))
        goto done;
    rc = build_anthropic_tools(body, root);
    if (rc != LD_OK)
        goto done;
    rc = LD_ENOMEM;
    if (!cJSON_AddBoolToObject(root, "stream", stream))
        goto done;
    rc = jprint_append(root, out);
done:
    cJSON_Delete(root);
    return rc;
}

int live_build_upstream(const live_chat_req *req, ld_provider provider,
                        const char *model, bool stream, const char *prefill,
                        live_buf *body_out, const char **path_out)
{
    int rc;
    if (req == NULL || req->body == NULL || body_out == NULL)
        return LD_EINVAL;
    if (model == NULL)
        model = req->model;
    body_out->len = 0;
    if (body_out->data != NULL)
        body_out->data[0] = '\0';
    switch (provider) {
    case LD_PROVIDER_OPENAI:
        arena_open();
        rc = build_openai(req, model, stream, prefill, body_out);
        arena_close();
        if (path_out != NULL)
            *path_out = "/chat/completions";
        break;
    case LD_PROVIDER_ANTHROPIC:
        if (model == NULL)
            return LD_EINVAL; /* the Messages API requires a model */
        arena_open();
        rc = build_anthropic(req, model, stream, prefill, body_out);
        arena_close();
        if (path_out != NULL)
            *path_out = "/messages";
        break;
    default:
        return LD_EINVAL;
    }
    if (rc != LD_OK) {
        body_out->len = 0;
        if (body_out->data != NULL)
            body_out->data[0] = '\0';
    }
    return rc;
}

/* ---- non-streaming answers ----------------------------------------------- */

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
    int64_t i = jint(usage, "input_tokens");
    if (i >= 0) {
        int64_t cw = jint(usage, "cache_creation_input_tokens");
        int64_t cr = jint(usage, "cache_read_input_tokens");
        *in = i + (cw > 0 ? cw : 0) + (cr > 0 ? cr : 0);
    }
    int64_t o = jint(usage, "output_tokens");
    if (o >= 0)
        *out = o;
}

static void answer_clear(live_answer *info)
{
    info->input_tokens = -1;
    info->output_tokens = -1;
    info->finish_reason[0] = '\0';
    info->model[0] = '\0';
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
    const cJSON *content = jget(msg, "content");
    const char *type = jstr(msg, "type");
    if (!cJSON_IsArray(content) ||
        (type != NULL && strcmp(type, "message") != 0))
        return LD_EINVAL;
    const char *id = jstr(msg, "id");
    const char *model = jstr(msg, "model");
    const char *finish = map_stop_reason(jstr(msg, "stop_reason"));
    anthropic_usage(jget(msg, "usage"), &info->input_tokens,
                    &info->output_tokens);
    copy_trunc(info->model, sizeof info->model, model);
    copy_trunc(info->finish_reason, sizeof info->finish_reason, finish);

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
        !jset(root, "id", cJSON_CreateString(text.data)))
        goto done;
    text.len = 0;
    text.data[0] = '\0';
    choice = cJSON_CreateObject();
    if (!jpush(choices, choice) ||
        !cJSON_AddNumberToObject(choice, "index", 0) ||
        (m = cJSON_AddObjectToObject(choice, "message")) == NULL ||
        !cJSON_AddStringToObject(m, "role", "assistant"))
        goto done;

    bool any_text = false;
    const cJSON *blk;
    cJSON_ArrayForEach(blk, content) {
        const char *bt = jstr(blk, "type");
        if (bt == NULL)
            continue;
        if (strcmp(bt, "text") == 0 && jstr(blk, "text") != NULL) {
            const char *t = jstr(blk, "text");
            rc = live_buf_append(&text, t, strlen(t));
            if (rc != LD_OK)
                goto done;
            rc = LD_ENOMEM;
            any_text = true;
        } else if (strcmp(bt, "tool_use") == 0) {
            const char *tid = jstr(blk, "id"), *name = jstr(blk, "name");
            if (tid == NULL || name == NULL) {
                rc = LD_EINVAL;
                goto done;
            }
            const cJSON *input = jget(blk, "input");
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
            if (!jpush(calls, call))
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
        if (!jset(m, "tool_calls", tmp))
            goto done;
    }
    if (!cJSON_AddNullToObject(choice, "logprobs") ||
        (finish != NULL ? !cJSON_AddStringToObject(choice, "finish_reason",
                                                   finish)
                        : !cJSON_AddNullToObject(choice, "finish_reason")))
        goto done;
    rc = add_usage(root, info->input_tokens, info->output_tokens);
    if (rc == LD_OK)
        rc = jprint_append(root, out);
done:
    cJSON_Delete(calls);
    cJSON_Delete(root);
    live_buf_cleanup(&text);
    return rc;
}

int live_translate_answer(ld_provider provider, const char *body, size_t len,
                          live_buf *out, live_answer *info)
{
    live_answer local;
    cJSON *root = NULL;
    int rc;
    if (info == NULL)
        info = &local;
    answer_clear(info);
    if (body == NULL || out == NULL)
        return LD_EINVAL;
    arena_open();
    rc = json_parse(body, len, &root, NULL);
    if (rc != LD_OK) {
        arena_close();
        return rc;
    }
    if (!cJSON_IsObject(root)) {
        rc = LD_EINVAL;
        goto done;
    }
    if (provider == LD_PROVIDER_OPENAI) {
        const cJSON *choices = jget(root, "choices");
        const cJSON *c0 = cJSON_GetArrayItem(choices, 0);
        if (!cJSON_IsArray(choices) || !cJSON_IsObject(c0)) {
            rc = LD_EINVAL;
            goto done;
        }
        const cJSON *usage = jget(root, "usage");
        info->input_tokens = jint(usage, "prompt_tokens");
        info->output_tokens = jint(usage, "completion_tokens");
        copy_trunc(info->finish_reason, sizeof info->finish_reason,
                   jstr(c0, "finish_reason"));
        copy_trunc(info->model, sizeof info->model, jstr(root, "model"));
        rc = live_buf_append(out, body, len);
    } else if (provider == LD_PROVIDER_ANTHROPIC) {
        rc = translate_anthropic_answer(root, out, info);
    } else {
        rc = LD_EINVAL;
    }
done:
    cJSON_Delete(root);
    arena_close();
    return rc;
}

/* ---- the SSE reader ---------------------------------------------------------
 *
 * Lines end in LF, CRLF or a lone CR (a CR at the end of one feed and an LF
 * at the start of the next are one line end). "data:" lines append to the
 * event's data (joined by '\n'), "event:" names it, one space after the
 * colon is dropped, a line without a colon is a field with an empty value,
 * comments and other fields ("id", "retry", unknown) are skipped. A blank
 * line delivers the event if it had at least one data line (an event with
 * only a name is dropped, as the SSE specification says). An event whose
 * blank line has not arrived yet is held back: a stream that ends without
 * one never delivers its last event. Caps: a line longer than max_line,
 * and an event's joined data longer than max_line, are LD_ELIMIT; the
 * reader then stays failed and returns that code from every later feed. A
 * UTF-8 byte order mark is not stripped (no provider sends one). The
 * callback's strings are valid during the call only; it must not feed the
 * same reader. */

struct live_sse {
    live_buf line;  /* a line split across feeds */
    live_buf data;  /* data lines of the event, when not all in one feed */
    live_buf event; /* its event name */
    size_t max_line;
    /* The common case, an event whose one data line is whole in the
     * current feed, is delivered from the feed itself: no copy, and no
     * buffer held between events. */
    const char *dref; /* that data line, or NULL */
    size_t dref_len;
    bool has_data;
    bool after_cr; /* the last byte was a CR: an LF now is its pair */
    int failed;
};

live_sse *live_sse_new(size_t max_line)
{
    live_sse *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    if (max_line == 0)
        max_line = SSE_DEFAULT_MAX_LINE;
    s->max_line = max_line;
    live_buf_init(&s->line, max_line);
    live_buf_init(&s->data, max_line);
    live_buf_init(&s->event, max_line);
    return s;
}

void live_sse_free(live_sse *s)
{
    if (s == NULL)
        return;
    live_buf_cleanup(&s->line);
    live_buf_cleanup(&s->data);
    live_buf_cleanup(&s->event);
    free(s);
}

/* Copy a data line held by reference into s->data (before its feed's
 * bytes go away, or before a second data line joins it). */
static int sse_own_data(live_sse *s)
{
    if (s->dref == NULL)
        return LD_OK;
    const char *p = s->dref;
    s->dref = NULL;
    s->data.len = 0;
    return live_buf_append(&s->data, p, s->dref_len);
}

static void sse_reset_event(live_sse *s)
{
    s->dref = NULL;
    s->event.len = 0;
    s->has_data = false;
    /* a buffer grown for an event split across feeds is not kept */
    if (s->data.cap > 0)
        live_buf_cleanup(&s->data);
    else
        s->data.len = 0;
}

/* One whole line (without its end). `stable`: the line lives in the
 * caller's feed until this feed returns (else in s->line, reused). */
static int sse_line(live_sse *s, const char *line, size_t len, bool stable,
                    live_sse_fn fn, void *ud)
{
    int rc = LD_OK;

    if (len == 0) {
        if (s->has_data && fn != NULL) {
            const char *ev = s->event.len > 0 ? s->event.data : NULL;
            if (s->dref != NULL)
                fn(ud, ev, s->dref, s->dref_len);
            else
                fn(ud, ev, s->data.data != NULL ? s->data.data : "",
                   s->data.len);
        }
        sse_reset_event(s);
        return LD_OK;
    }
    if (line[0] == ':')
        return LD_OK; /* comment */
    const char *colon = memchr(line, ':', len);
    size_t flen = colon != NULL ? (size_t)(colon - line) : len;
    const char *val = colon != NULL ? colon + 1 : line + len;
    size_t vlen = (size_t)(line + len - val);
    if (vlen > 0 && val[0] == ' ') {
        val++;
        vlen--;
    }
    if (flen == 4 && memcmp(line, "data", 4) == 0) {
        if (!s->has_data && stable) {
            s->dref = val;
            s->dref_len = vlen;
        } else {
            rc = sse_own_data(s);
            if (rc == LD_OK && s->has_data)
                rc = live_buf_append(&s->data, "\n", 1);
            if (rc == LD_OK)
                rc = live_buf_append(&s->data, val, vlen);
        }
        s->has_data = true;
    } else if (flen == 5 && memcmp(line, "event", 5) == 0) {
        s->event.len = 0;
        rc = live_buf_append(&s->event, val, vlen);
    }
    return rc;
}

int live_sse_feed(live_sse *s, const char *p, size_t n, live_sse_fn fn,
                  void *ud)
{
    int rc = LD_OK;
    size_t i = 0;
    if (s == NULL || (p == NULL && n > 0))
        return LD_EINVAL;
    if (s->failed != 0)
        return s->failed;
    while (i < n) {
        if (s->after_cr) {
            s->after_cr = false;
            if (p[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < n && p[j] != '\n' && p[j] != '\r')
            j++;
        if (j == n) {
            /* a line that ends in a later feed */
            rc = live_buf_append(&s->line, p + i, j - i);
            break;
        }
        s->after_cr = p[j] == '\r';
        if (s->line.len > 0) {
            /* the end of a line begun in an earlier feed */
            rc = live_buf_append(&s->line, p + i, j - i);
            if (rc == LD_OK)
                rc = sse_line(s, s->line.data, s->line.len, false, fn, ud);
            live_buf_cleanup(&s->line);
        } else if (j - i > s->max_line) {
            rc = LD_ELIMIT;
        } else {
            rc = sse_line(s, p + i, j - i, true, fn, ud);
        }
        if (rc != LD_OK)
            break;
        i = j + 1;
    }
    /* a data line held by reference must outlive this feed */
    if (rc == LD_OK)
        rc = sse_own_data(s);
    if (rc == LD_OK && s->data.len > s->max_line)
        rc = LD_ELIMIT;
    if (rc != LD_OK)
        s->failed = rc;
    return rc;
}

/* ---- stream translation -------------------------------------------------- */

struct live_stream {
    ld_provider provider;
    char *id;
    int64_t created;
    bool include_usage;

    int64_t input_tokens, output_tokens;
    char finish_reason[32];
    char *model;   /* the model that answers, as it says; NULL unknown */

    live_buf text;
    bool text_full;
    bool not_text; /* tool calls, a refusal or several choices: the text is
                      not the whole answer */

    /* Anthropic translation */
    bool role_sent;
    bool usage_sent;
    int ntools;
    int64_t *tool_block; /* OpenAI tool call i is the Anthropic content
                            block tool_block[i]; STREAM_MAX_TOOLS of them,
                            allocated with the first call */
};

/* The model the stream says answers (kept once, as every OpenAI chunk
 * repeats it). */
static int stream_set_model(live_stream *s, const char *model)
{
    if (s->model != NULL && strcmp(s->model, model) == 0)
        return LD_OK;
    char *m = strdup(model);
    if (m == NULL)
        return LD_ENOMEM;
    free(s->model);
    s->model = m;
    return LD_OK;
}

live_stream *live_stream_new(ld_provider provider, const char *id,
                             int64_t created, bool include_usage)
{
    live_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    /* the id only goes into chunks made here (OpenAI chunks pass
     * through with their own) */
    if (provider == LD_PROVIDER_ANTHROPIC &&
        (s->id = strdup(id != NULL ? id : "")) == NULL) {
        free(s);
        return NULL;
    }
    s->provider = provider;
    s->created = created;
    s->include_usage = include_usage;
    s->input_tokens = -1;
    s->output_tokens = -1;
    live_buf_init(&s->text, STREAM_TEXT_MAX);
    return s;
}

void live_stream_free(live_stream *s)
{
    if (s == NULL)
        return;
    free(s->id);
    free(s->model);
    live_buf_cleanup(&s->text);
    free(s->tool_block);
    free(s);
}

void live_stream_result(const live_stream *s, live_answer *info)
{
    if (info == NULL)
        return;
    answer_clear(info);
    if (s == NULL)
        return;
    info->input_tokens = s->input_tokens;
    info->output_tokens = s->output_tokens;
    copy_trunc(info->finish_reason, sizeof info->finish_reason,
               s->finish_reason);
    copy_trunc(info->model, sizeof info->model, s->model != NULL ? s->model : "");
}

const char *live_stream_text(const live_stream *s)
{
    return s != NULL && s->text.data != NULL ? s->text.data : "";
}

void live_stream_keep_text(live_stream *s, bool keep)
{
    if (s == NULL || keep)
        return;
    live_buf_cleanup(&s->text);
    s->text_full = true; /* nothing more is kept: no prefill from it */
}

const char *live_stream_prefill(const live_stream *s)
{
    if (s == NULL || s->text_full || s->not_text)
        return NULL;
    return live_stream_text(s);
}

/* Keep answer text for live_stream_text, up to its cap. */
static int text_add(live_stream *s, const char *t)
{
    if (s->text_full || t == NULL)
        return LD_OK;
    int rc = live_buf_append(&s->text, t, strlen(t));
    if (rc == LD_ELIMIT) {
        s->text_full = true;
        rc = LD_OK;
    }
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
    while (len > 0 && is_space(data[len - 1]))
        len--;
    while (len > 0 && is_space(*data)) {
        data++;
        len--;
    }
    return len == 6 && memcmp(data, "[DONE]", 6) == 0;
}

static int openai_feed(live_stream *s, const char *event, const char *data,
                       size_t len, live_buf *out, live_chunk_info *info)
{
    cJSON *root = NULL;
    int rc;

    if (is_done_marker(data, len)) {
        info->done = true;
        return LD_OK;
    }
    rc = json_parse(data, len, &root, NULL);
    if (rc == LD_ENOMEM)
        return rc;
    if (rc != LD_OK || !cJSON_IsObject(root)) {
        info->malformed = true;
        cJSON_Delete(root);
        return LD_OK;
    }
    if ((event != NULL && strcmp(event, "error") == 0) ||
        !jabsent(jget(root, "error"))) {
        info->error = true;
        cJSON_Delete(root);
        return LD_OK;
    }

    const char *model = jstr(root, "model");
    if (model != NULL && model[0] != '\0' && stream_set_model(s, model) != LD_OK) {
        cJSON_Delete(root);
        return LD_ENOMEM;
    }
    const cJSON *usage = jget(root, "usage");
    if (cJSON_IsObject(usage)) {
        int64_t in = jint(usage, "prompt_tokens");
        int64_t o = jint(usage, "completion_tokens");
        if (in >= 0)
            s->input_tokens = in;
        if (o >= 0)
            s->output_tokens = o;
    }
    const cJSON *choices = jget(root, "choices");
    const cJSON *ch;
    cJSON_ArrayForEach(ch, choices) {
        const cJSON *delta = jget(ch, "delta");
        const char *text = jstr(delta, "content");
        const char *refusal = jstr(delta, "refusal");
        const cJSON *calls = jget(delta, "tool_calls");
        if (jint(ch, "index") > 0)
            s->not_text = true;
        if (text != NULL && text[0] != '\0') {
            info->content = true;
            info->tokens++;
            rc = text_add(s, text);
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
        const char *fr = jstr(ch, "finish_reason");
        if (fr != NULL) {
            info->finished = true;
            copy_trunc(s->finish_reason, sizeof s->finish_reason, fr);
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
        if (!jpush(choices, choice) ||
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
        if (!jpush(calls, tool_call_new(index, id, name, "")))
            goto fail;
    } else {
        call = cJSON_CreateObject();
        if (!jpush(calls, call) ||
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
    int rc = json_parse(data, len, &root, NULL);
    if (rc == LD_ENOMEM)
        return rc;
    if (rc != LD_OK || !cJSON_IsObject(root)) {
        info->malformed = true;
        cJSON_Delete(root);
        return LD_OK;
    }
    const char *type = jstr(root, "type");
    if (type == NULL)
        type = event != NULL ? event : "";
    rc = LD_OK;

    if (strcmp(type, "error") == 0 || !jabsent(jget(root, "error"))) {
        info->error = true;
    } else if (strcmp(type, "message_start") == 0) {
        const cJSON *m = jget(root, "message");
        const char *model = jstr(m, "model");
        if (model != NULL && stream_set_model(s, model) != LD_OK)
            rc = LD_ENOMEM;
        anthropic_usage(jget(m, "usage"), &s->input_tokens,
                        &s->output_tokens);
        rc = emit_role(s, out);
    } else if (strcmp(type, "content_block_start") == 0) {
        const cJSON *cb = jget(root, "content_block");
        const char *bt = jstr(cb, "type");
        int64_t block = jint(root, "index");
        if (bt != NULL && strcmp(bt, "tool_use") == 0) {
            const char *id = jstr(cb, "id"), *name = jstr(cb, "name");
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
            const char *t = jstr(cb, "text");
            if (t != NULL && t[0] != '\0') {
                rc = emit_text(s, t, out);
                if (rc == LD_OK)
                    rc = text_add(s, t);
                info->content = true;
                info->tokens++;
            }
        }
    } else if (strcmp(type, "content_block_delta") == 0) {
        const cJSON *d = jget(root, "delta");
        const char *dt = jstr(d, "type");
        if (dt != NULL && strcmp(dt, "text_delta") == 0) {
            const char *t = jstr(d, "text");
            if (t == NULL) {
                info->malformed = true;
            } else {
                info->content = true;
                info->tokens++;
                if (t[0] != '\0') {
                    rc = emit_text(s, t, out);
                    if (rc == LD_OK)
                        rc = text_add(s, t);
                }
            }
        } else if (dt != NULL && strcmp(dt, "input_json_delta") == 0) {
            const char *pj = jstr(d, "partial_json");
            int ti = tool_index(s, jint(root, "index"));
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
        const char *sr = jstr(jget(root, "delta"), "stop_reason");
        anthropic_usage(jget(root, "usage"), &s->input_tokens,
                        &s->output_tokens);
        if (sr != NULL) {
            const char *fr = map_stop_reason(sr);
            cJSON *delta = NULL;
            copy_trunc(s->finish_reason, sizeof s->finish_reason, fr);
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

int live_stream_feed(live_stream *s, const char *event, const char *data,
                     size_t len, live_buf *out, live_chunk_info *info)
{
    live_chunk_info local;
    if (info == NULL)
        info = &local;
    memset(info, 0, sizeof *info);
    if (s == NULL || out == NULL || (data == NULL && len > 0))
        return LD_EINVAL;
    if (data == NULL)
        data = "";
    int rc = LD_EINVAL;
    arena_open();
    if (s->provider == LD_PROVIDER_OPENAI)
        rc = openai_feed(s, event, data, len, out, info);
    else if (s->provider == LD_PROVIDER_ANTHROPIC)
        rc = anthropic_feed(s, event, data, len, out, info);
    arena_close();
    return rc;
}
