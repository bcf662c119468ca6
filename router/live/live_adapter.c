/* live_adapter.c - what every provider's translation shares: the byte
 * buffer, the cJSON arena and helpers, the stream translator's common part,
 * and the entry points of live_adapter.h, which choose the provider's table
 * (live_provider.h) and call through it. The translations themselves are in
 * prov_openai.c and prov_anthropic.c, the client's request in live_chat.c,
 * the SSE reader in live_sse.c.
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

#include "live_adapter_int.h"

#define BUF_DEFAULT_MAX ((size_t)64 * 1024 * 1024)

extern const live_provider live_provider_openai, live_provider_anthropic,
    live_provider_azure, live_provider_bedrock, live_provider_gemini;

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

void live_json_arena_open(void)
{
    if (arena.open++ == 0 && arena.mem != NULL) {
        arena.used = 0;
        ARENA_UNPOISON(arena.mem, ARENA_CAP);
    }
}

void live_json_arena_close(void)
{
    if (--arena.open == 0 && arena.mem != NULL)
        ARENA_POISON(arena.mem, ARENA_CAP);
}

int live_json_parse(const char *p, size_t len, cJSON **out, size_t *err_at)
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

/* obj[key] = item, in place when the key exists. Takes ownership of item
 * (deleting it on failure). */
bool live_jset(cJSON *obj, const char *key, cJSON *item)
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
bool live_jpush(cJSON *arr, cJSON *item)
{
    if (item == NULL)
        return false;
    if (!cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

int live_jpush_turn(cJSON *turns, const char *role, const char *field,
                    cJSON *items)
{
    if (cJSON_GetArraySize(items) == 0) {
        cJSON_Delete(items);
        return LD_OK;
    }
    int count = cJSON_GetArraySize(turns);
    cJSON *last = count > 0 ? cJSON_GetArrayItem(turns, count - 1) : NULL;
    const char *lrole = live_jstr(last, "role");
    if (lrole != NULL && strcmp(lrole, role) == 0) {
        cJSON *into = cJSON_GetObjectItemCaseSensitive(last, field);
        while (items->child != NULL) {
            cJSON *it = cJSON_DetachItemViaPointer(items, items->child);
            if (!live_jpush(into, it)) {
                cJSON_Delete(items);
                return LD_ENOMEM;
            }
        }
        cJSON_Delete(items);
        return LD_OK;
    }
    cJSON *t = cJSON_CreateObject();
    if (t == NULL || !cJSON_AddStringToObject(t, "role", role)) {
        cJSON_Delete(t);
        cJSON_Delete(items);
        return LD_ENOMEM;
    }
    if (!live_jset(t, field, items)) {
        cJSON_Delete(t);
        return LD_ENOMEM;
    }
    return live_jpush(turns, t) ? LD_OK : LD_ENOMEM;
}

/* Print root (not consumed) into out, appended. */
int live_jprint_append(const cJSON *root, live_buf *out)
{
    char *txt = cJSON_PrintUnformatted(root);
    if (txt == NULL)
        return LD_ENOMEM;
    int rc = live_buf_append(out, txt, strlen(txt));
    cJSON_free(txt);
    return rc;
}

void live_answer_clear(live_answer *info)
{
    info->input_tokens = -1;
    info->output_tokens = -1;
    info->finish_reason[0] = '\0';
    info->model[0] = '\0';
}

/* ---- stream translation -------------------------------------------------- */


int live_stream_set_model(live_stream *s, const char *model)
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

live_stream *live_provider_stream_new(const live_provider *p, const char *id,
                                      int64_t created, bool include_usage)
{
    if (p == NULL)
        return NULL;
    live_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    /* the id only goes into chunks made here (passed-through chunks
     * carry their own) */
    if (p->makes_chunks &&
        (s->id = strdup(id != NULL ? id : "")) == NULL) {
        free(s);
        return NULL;
    }
    s->prov = p;
    s->created = created;
    s->include_usage = include_usage;
    s->input_tokens = -1;
    s->output_tokens = -1;
    s->seq = -1;
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
    live_answer_clear(info);
    if (s == NULL)
        return;
    info->input_tokens = s->input_tokens;
    info->output_tokens = s->output_tokens;
    live_copy_trunc(info->finish_reason, sizeof info->finish_reason,
               s->finish_reason);
    live_copy_trunc(info->model, sizeof info->model, s->model != NULL ? s->model : "");
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

int live_stream_text_add(live_stream *s, const char *t)
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


live_stream *live_stream_new(ld_provider provider, const char *id,
                             int64_t created, bool include_usage)
{
    return live_provider_stream_new(live_provider_for(provider), id, created,
                                    include_usage);
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
    live_json_arena_open();
    int rc = s->prov->stream_event(s, event, data, len, out, info);
    live_json_arena_close();
    return rc;
}

/* ---- the provider's table, and the entry points through it ---------------- */

const live_provider *live_provider_for(ld_provider p)
{
    switch (p) {
    case LD_PROVIDER_OPENAI:
        return &live_provider_openai;
    case LD_PROVIDER_ANTHROPIC:
        return &live_provider_anthropic;
    case LD_PROVIDER_AZURE:
        return &live_provider_azure;
    case LD_PROVIDER_BEDROCK:
        return &live_provider_bedrock;
    case LD_PROVIDER_GEMINI:
        return &live_provider_gemini;
    }
    return NULL;
}

int live_provider_build(const live_provider *p, const live_chat_req *req,
                        const char *model, bool stream, const char *prefill,
                        live_buf *body_out, const char **path_out)
{
    if (p == NULL || req == NULL || req->body == NULL || body_out == NULL)
        return LD_EINVAL;
    if (model == NULL)
        model = req->model;
    body_out->len = 0;
    if (body_out->data != NULL)
        body_out->data[0] = '\0';
    live_json_arena_open();
    int rc;
    if (req->embed)
        rc = p->embed_build != NULL && !stream && prefill == NULL
                 ? p->embed_build(req, model, body_out)
                 : LD_EINVAL;
    else if (req->native != NULL && req->native_api != NULL &&
             p->native_build != NULL && p->native_api != NULL &&
             strcmp(req->native_api, p->native_api) == 0)
        rc = p->native_build(req->native, req->native_len, model, stream,
                             prefill, body_out);
    else
        rc = p->build(req, model, stream, prefill, body_out);
    live_json_arena_close();
    if (path_out != NULL)
        *path_out = req->embed ? p->embed_path : p->path;
    if (rc != LD_OK) {
        body_out->len = 0;
        if (body_out->data != NULL)
            body_out->data[0] = '\0';
    }
    return rc;
}

int live_build_upstream(const live_chat_req *req, ld_provider provider,
                        const char *model, bool stream, const char *prefill,
                        live_buf *body_out, const char **path_out)
{
    return live_provider_build(live_provider_for(provider), req, model, stream,
                               prefill, body_out, path_out);
}

int live_provider_answer(const live_provider *p, const char *body, size_t len,
                         live_buf *out, live_answer *info)
{
    live_answer local;
    cJSON *root = NULL;
    int rc;
    if (info == NULL)
        info = &local;
    live_answer_clear(info);
    if (p == NULL || body == NULL || out == NULL)
        return LD_EINVAL;
    live_json_arena_open();
    rc = live_json_parse(body, len, &root, NULL);
    if (rc == LD_OK)
        rc = cJSON_IsObject(root) ? p->answer(root, body, len, out, info)
                                  : LD_EINVAL;
    cJSON_Delete(root);
    live_json_arena_close();
    return rc;
}

int live_provider_embed_answer(const live_provider *p, const char *body,
                               size_t len, live_buf *out, live_answer *info)
{
    live_answer local;
    cJSON *root = NULL;
    int rc;
    if (info == NULL)
        info = &local;
    live_answer_clear(info);
    if (p == NULL || p->embed_answer == NULL || body == NULL || out == NULL)
        return LD_EINVAL;
    live_json_arena_open();
    rc = live_json_parse(body, len, &root, NULL);
    if (rc == LD_OK)
        rc = cJSON_IsObject(root) ? p->embed_answer(root, body, len, out, info)
                                  : LD_EINVAL;
    cJSON_Delete(root);
    live_json_arena_close();
    return rc;
}

int live_translate_answer(ld_provider provider, const char *body, size_t len,
                          live_buf *out, live_answer *info)
{
    return live_provider_answer(live_provider_for(provider), body, len, out,
                                info);
}
