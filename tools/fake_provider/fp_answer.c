/* fp_answer.c - what the fake provider answers: the deterministic text,
 * SSE events of both APIs, streamed, cut, stalled and delayed answers; see
 * fp.h. */
#include "fp.h"

/* ---- answer text -------------------------------------------------------- */

static void fp_token(long i, char *buf, size_t cap)
{
    snprintf(buf, cap, "tok%ld ", i + 1);
}

/* "tok<skip+1> ... tok<skip+n> ", malloc'd; NULL when out of memory. */
static char *fp_content(long skip, long n)
{
    size_t cap = (size_t)n * 12 + 1, len = 0;
    char *t = malloc(cap);
    if (t == NULL)
        return NULL;
    t[0] = '\0';
    for (long i = 0; i < n; i++) {
        char tok[32];
        size_t l;
        fp_token(skip + i, tok, sizeof tok);
        l = strlen(tok);
        memcpy(t + len, tok, l + 1);
        len += l;
    }
    return t;
}

char *fp_content_text(const fp_call *c)
{
    return fp_content(c->skip, c->n_tokens);
}

static cJSON *fp_oa_usage(const fp_call *c, cJSON *parent, bool *ok)
{
    cJSON *u = fp_put_obj(parent, "usage", ok);
    fp_put_num(u, "prompt_tokens", (double)c->prompt_tokens, ok);
    fp_put_num(u, "completion_tokens", (double)(c->n_tokens * c->choices), ok);
    fp_put_num(u, "total_tokens",
               (double)(c->prompt_tokens + c->n_tokens * c->choices), ok);
    return u;
}

/* The non-stream answer, printed; NULL when out of memory. */
static char *fp_full_body(const fp_call *c)
{
    char *text = fp_content(c->skip, c->n_tokens), *out = NULL;
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL && text != NULL;
    char id[48];

    if (c->cloud == FP_CLOUD_GEMINI || c->cloud == FP_CLOUD_BEDROCK) {
        cJSON_Delete(o);
        out = text != NULL ? fp_cloud_full_body(
                                 c, text, c->beh.spec->kind == FP_CONTENT)
                           : NULL;
        free(text);
        return out;
    }
    if (c->api == FP_RESPONSES) {
        cJSON_Delete(o);
        out = text != NULL ? fp_resp_full_body(c, text) : NULL;
        free(text);
        return out;
    }
    if (c->api == FP_ANTHROPIC) {
        cJSON *arr, *blk, *u;
        snprintf(id, sizeof id, "msg_fake_%" PRIu64, c->seq);
        fp_put_str(o, "id", id, &ok);
        fp_put_str(o, "type", "message", &ok);
        fp_put_str(o, "role", "assistant", &ok);
        arr = fp_put_arr(o, "content", &ok);
        blk = fp_push_obj(arr, &ok);
        fp_put_str(blk, "type", "text", &ok);
        fp_put_str(blk, "text", text, &ok);
        fp_put_str(o, "model", c->model, &ok);
        fp_put_str(o, "stop_reason", "end_turn", &ok);
        fp_put_null(o, "stop_sequence", &ok);
        u = fp_put_obj(o, "usage", &ok);
        fp_put_num(u, "input_tokens", (double)c->prompt_tokens, &ok);
        fp_put_num(u, "output_tokens", (double)c->n_tokens, &ok);
    } else {
        cJSON *arr, *ch, *msg;
        snprintf(id, sizeof id, "chatcmpl-fake-%" PRIu64, c->seq);
        fp_put_str(o, "id", id, &ok);
        fp_put_str(o, "object", "chat.completion", &ok);
        fp_put_num(o, "created", (double)c->created, &ok);
        fp_put_str(o, "model", c->model, &ok);
        arr = fp_put_arr(o, "choices", &ok);
        for (long k = 0; k < c->choices; k++) { /* "n": the same text each */
            ch = fp_push_obj(arr, &ok);
            fp_put_num(ch, "index", (double)k, &ok);
            msg = fp_put_obj(ch, "message", &ok);
            fp_put_str(msg, "role", "assistant", &ok);
            fp_put_str(msg, "content", text, &ok);
            fp_put_null(msg, "refusal", &ok);
            fp_put_null(ch, "logprobs", &ok);
            fp_put_str(ch, "finish_reason", "stop", &ok);
        }
        fp_oa_usage(c, o, &ok);
    }
    o = fp_done(o, ok);
    if (o != NULL)
        out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(text);
    return out;
}

/* ---- SSE events --------------------------------------------------------- */

int fp_sse(fp_call *c, struct evbuffer *b, const char *name, cJSON *o)
{
    if (o == NULL)
        return -1;
    if (name != NULL && evbuffer_add_printf(b, "event: %s\n", name) < 0) {
        cJSON_Delete(o);
        return -1;
    }
    if (evbuffer_add(b, "data: ", 6) != 0) {
        cJSON_Delete(o);
        return -1;
    }
    if (fp_add_json(b, o) != 0 || evbuffer_add(b, "\n\n", 2) != 0)
        return -1;
    c->events++;
    return 0;
}

int fp_sse_raw(fp_call *c, struct evbuffer *b, const char *name,
                      const char *data)
{
    if (name != NULL && evbuffer_add_printf(b, "event: %s\n", name) < 0)
        return -1;
    if (evbuffer_add_printf(b, "data: %s\n\n", data) < 0)
        return -1;
    c->events++;
    return 0;
}

/* chat.completion.chunk. usage_only: the include_usage chunk (choices []);
 * otherwise one choice with role/content in the delta when given. */
static cJSON *fp_oa_chunk(const fp_call *c, const char *role,
                          const char *content, const char *finish,
                          bool usage_only)
{
    cJSON *o = cJSON_CreateObject(), *arr;
    bool ok = o != NULL;
    char id[48];
    snprintf(id, sizeof id, "chatcmpl-fake-%" PRIu64, c->seq);
    fp_put_str(o, "id", id, &ok);
    fp_put_str(o, "object", "chat.completion.chunk", &ok);
    fp_put_num(o, "created", (double)c->created, &ok);
    fp_put_str(o, "model", c->model, &ok);
    arr = fp_put_arr(o, "choices", &ok);
    if (usage_only) {
        fp_oa_usage(c, o, &ok);
    } else {
        cJSON *ch = fp_push_obj(arr, &ok), *d;
        fp_put_num(ch, "index", 0, &ok);
        d = fp_put_obj(ch, "delta", &ok);
        if (role != NULL)
            fp_put_str(d, "role", role, &ok);
        if (content != NULL)
            fp_put_str(d, "content", content, &ok);
        fp_put_null(ch, "logprobs", &ok);
        fp_put_str_or_null(ch, "finish_reason", finish, &ok);
        if (c->include_usage)
            fp_put_null(o, "usage", &ok);
    }
    return fp_done(o, ok);
}

static cJSON *fp_an_event(const char *type, bool *ok)
{
    cJSON *o = cJSON_CreateObject();
    *ok = o != NULL;
    fp_put_str(o, "type", type, ok);
    return o;
}

/* OpenAI: the role chunk. Anthropic: message_start, content_block_start,
 * ping. */
static int fp_sse_preamble(fp_call *c, struct evbuffer *b)
{
    cJSON *o, *m, *u, *blk;
    bool ok;
    char id[48];

    if (c->cloud == FP_CLOUD_GEMINI || c->cloud == FP_CLOUD_BEDROCK)
        return fp_cloud_preamble(c, b);
    if (c->api == FP_RESPONSES)
        return fp_resp_preamble(c, b);
    if (c->api == FP_OPENAI)
        return fp_sse(c, b, NULL, fp_oa_chunk(c, "assistant", "", NULL, false));

    snprintf(id, sizeof id, "msg_fake_%" PRIu64, c->seq);
    o = fp_an_event("message_start", &ok);
    m = fp_put_obj(o, "message", &ok);
    fp_put_str(m, "id", id, &ok);
    fp_put_str(m, "type", "message", &ok);
    fp_put_str(m, "role", "assistant", &ok);
    fp_put_arr(m, "content", &ok);
    fp_put_str(m, "model", c->model, &ok);
    fp_put_null(m, "stop_reason", &ok);
    fp_put_null(m, "stop_sequence", &ok);
    u = fp_put_obj(m, "usage", &ok);
    fp_put_num(u, "input_tokens", (double)c->prompt_tokens, &ok);
    fp_put_num(u, "output_tokens", 1, &ok);
    if (fp_sse(c, b, "message_start", fp_done(o, ok)) != 0)
        return -1;

    o = fp_an_event("content_block_start", &ok);
    fp_put_num(o, "index", 0, &ok);
    blk = fp_put_obj(o, "content_block", &ok);
    fp_put_str(blk, "type", "text", &ok);
    fp_put_str(blk, "text", "", &ok);
    if (fp_sse(c, b, "content_block_start", fp_done(o, ok)) != 0)
        return -1;

    o = fp_an_event("ping", &ok);
    return fp_sse(c, b, "ping", fp_done(o, ok));
}

static int fp_sse_token(fp_call *c, struct evbuffer *b, long i)
{
    char tok[32];
    cJSON *o, *d;
    bool ok;

    fp_token(c->skip + i, tok, sizeof tok);
    if (c->cloud == FP_CLOUD_GEMINI || c->cloud == FP_CLOUD_BEDROCK)
        return fp_cloud_token(c, b, tok);
    if (c->api == FP_RESPONSES)
        return fp_resp_token(c, b, tok);
    if (c->api == FP_OPENAI)
        return fp_sse(c, b, NULL, fp_oa_chunk(c, NULL, tok, NULL, false));
    o = fp_an_event("content_block_delta", &ok);
    fp_put_num(o, "index", 0, &ok);
    d = fp_put_obj(o, "delta", &ok);
    fp_put_str(d, "type", "text_delta", &ok);
    fp_put_str(d, "text", tok, &ok);
    return fp_sse(c, b, "content_block_delta", fp_done(o, ok));
}

static int fp_sse_malformed(fp_call *c, struct evbuffer *b)
{
    if (c->cloud == FP_CLOUD_GEMINI || c->cloud == FP_CLOUD_BEDROCK)
        return fp_cloud_malformed(c, b);
    if (c->api == FP_RESPONSES)
        return fp_resp_malformed(c, b);
    return fp_sse_raw(c, b, c->api == FP_ANTHROPIC ? "content_block_delta"
                                                   : NULL, "{not json");
}

/* The end of a stream; "nodone" leaves out [DONE] / message_stop but keeps
 * the finish reason and the usage. */
static int fp_sse_tail(fp_call *c, struct evbuffer *b)
{
    bool nodone = c->beh.spec->kind == FP_NODONE;
    cJSON *o, *d, *u;
    bool ok;

    if (c->cloud == FP_CLOUD_GEMINI || c->cloud == FP_CLOUD_BEDROCK)
        return fp_cloud_tail(c, b, nodone, c->beh.spec->kind == FP_CONTENT);
    if (c->api == FP_RESPONSES)
        return fp_resp_tail(c, b, nodone);
    if (c->api == FP_OPENAI) {
        if (fp_sse(c, b, NULL, fp_oa_chunk(c, NULL, NULL, "stop", false)) != 0)
            return -1;
        if ((c->include_usage || nodone) &&
            fp_sse(c, b, NULL, fp_oa_chunk(c, NULL, NULL, NULL, true)) != 0)
            return -1;
        return nodone ? 0 : fp_sse_raw(c, b, NULL, "[DONE]");
    }
    o = fp_an_event("content_block_stop", &ok);
    fp_put_num(o, "index", 0, &ok);
    if (fp_sse(c, b, "content_block_stop", fp_done(o, ok)) != 0)
        return -1;
    o = fp_an_event("message_delta", &ok);
    d = fp_put_obj(o, "delta", &ok);
    fp_put_str(d, "stop_reason", "end_turn", &ok);
    fp_put_null(d, "stop_sequence", &ok);
    u = fp_put_obj(o, "usage", &ok);
    fp_put_num(u, "output_tokens", (double)c->n_tokens, &ok);
    if (fp_sse(c, b, "message_delta", fp_done(o, ok)) != 0)
        return -1;
    if (nodone)
        return 0;
    o = fp_an_event("message_stop", &ok);
    return fp_sse(c, b, "message_stop", fp_done(o, ok));
}

/* ---- streaming and delayed answers -------------------------------------- */

/* Hands the end of the reply to libevent and finishes c. */
static void fp_reply_end(fp_call *c)
{
    struct evhttp_request *req = c->req;
    fp_server *s = c->srv;
    evhttp_request_set_on_complete_cb(req, fp_on_sent, s);
    s->unsent++;
    fp_call_finish(c, "ok");
    evhttp_send_reply_end(req);
}

/* One step of a stream: the preamble, or the next token, plus whatever the
 * behaviour does after token k, plus the tail after the last token. Each
 * step goes out as one HTTP chunk; steps are paced by the call's timer. */
static void fp_stream_tick(fp_call *c)
{
    fp_kind kind = c->beh.spec->kind;
    struct evbuffer *b = evbuffer_new();
    long delay = c->srv->o.token_ms;
    bool cut = false, stalled = false, end = false;
    int rc = b != NULL ? 0 : -1;

    if (rc == 0 && c->phase == FP_PH_PRE) {
        rc = fp_sse_preamble(c, b);
        c->phase = FP_PH_TOKENS;
        delay = 0;
        /* Bedrock's throttling in a stream (one exception frame) and
         * Gemini's blocked prompt (one blockReason event) end it */
        if ((c->cloud == FP_CLOUD_BEDROCK && kind == FP_RATELIMIT) ||
            (c->cloud == FP_CLOUD_GEMINI && kind == FP_CONTENT)) {
            c->n_tokens = 0;
            end = true;
        }
    } else if (rc == 0 && c->sent < c->n_tokens) {
        rc = fp_sse_token(c, b, c->sent);
        c->sent++;
    }
    if (rc == 0 && !c->hook_done && c->sent == c->hook_k) {
        c->hook_done = true;
        if (kind == FP_CUT) {
            cut = true;
        } else if (kind == FP_MALFORMED) {
            rc = fp_sse_malformed(c, b);
        } else if (kind == FP_STALL) {
            delay = c->beh.b;
            stalled = true;
        }
    }
    if (rc == 0 && !cut && !stalled && !end && c->sent == c->n_tokens) {
        rc = fp_sse_tail(c, b);
        end = true;
    }
    if (rc != 0) {
        if (b != NULL)
            evbuffer_free(b);
        fprintf(stderr, "fake_provider: out of memory in a stream\n");
        fp_drop(c, "internal_error");
        return;
    }
    if (cut && evbuffer_get_length(b) == 0) {
        evbuffer_free(b);
        fp_drop(c, "cut");
        return;
    }
    if (evbuffer_get_length(b) > 0)
        evhttp_send_reply_chunk_with_cb(c->req, b,
                                        cut ? fp_on_cut_drained : NULL, c);
    evbuffer_free(b);
    if (cut)
        return;                 /* fp_on_cut_drained() or fp_on_close() */
    if (end) {
        fp_reply_end(c);
        return;
    }
    fp_arm(c, delay);
}

void fp_stream_begin(fp_call *c)
{
    fp_kind kind = c->beh.spec->kind;
    struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);

    if (fp_call_defer(c) != 0) {
        fp_error(c, &FP_E_BUSY, -1);
        return;
    }
    if (fp_headers(c, c->cloud != FP_CLOUD_NONE ? fp_cloud_stream_type(c)
                                                : "text/event-stream") != 0 ||
        evhttp_add_header(h, "Cache-Control", "no-cache") != 0 ||
        (kind == FP_NODONE && evhttp_add_header(h, "Connection", "close") != 0)) {
        fp_respond_internal(c);
        return;
    }
    c->hook_k = -1;
    if (kind == FP_CUT || kind == FP_STALL || kind == FP_MALFORMED)
        c->hook_k = c->beh.a < c->n_tokens ? c->beh.a : c->n_tokens;
    c->phase = FP_PH_PRE;
    c->status = 200;
    evhttp_send_reply_start(c->req, 200, "OK");
    fp_arm(c, kind == FP_SLOW_TTFT ? c->beh.a : 0);
}

/* A non-stream answer now: the whole body, 200. */
void fp_send_full(fp_call *c)
{
    struct evbuffer *b = evbuffer_new();
    char *body = fp_full_body(c);
    int rc = -1;
    if (b != NULL && body != NULL && evbuffer_add(b, body, strlen(body)) == 0 &&
        fp_headers(c, "application/json") == 0)
        rc = 0;
    cJSON_free(body);
    if (rc != 0) {
        if (b != NULL)
            evbuffer_free(b);
        fp_respond_internal(c);
        return;
    }
    fp_respond(c, 200, b, "ok");
}

/* Non-stream cut and stall: Content-Length of the whole body, then the first
 * half; the rest never comes (cut) or comes after a pause (stall). */
void fp_send_half(fp_call *c)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
    struct evbuffer *b = NULL;
    char len[24];
    char *body;

    if (fp_call_defer(c) != 0) {
        fp_error(c, &FP_E_BUSY, -1);
        return;
    }
    body = fp_full_body(c);
    if (body != NULL) {
        c->body_len = strlen(body);
        c->body = malloc(c->body_len + 1);
        if (c->body != NULL)
            memcpy(c->body, body, c->body_len + 1);
        cJSON_free(body);
    }
    snprintf(len, sizeof len, "%zu", c->body_len);
    if (c->body == NULL || (b = evbuffer_new()) == NULL ||
        evbuffer_add(b, c->body, c->body_len / 2) != 0 ||
        fp_headers(c, "application/json") != 0 ||
        evhttp_add_header(h, "Content-Length", len) != 0) {
        if (b != NULL)
            evbuffer_free(b);
        fp_respond_internal(c);
        return;
    }
    c->status = 200;
    evhttp_send_reply_start(c->req, 200, "OK");
    if (c->beh.spec->kind == FP_CUT) {
        evhttp_send_reply_chunk_with_cb(c->req, b, fp_on_cut_drained, c);
    } else {
        evhttp_send_reply_chunk(c->req, b);
        c->phase = FP_PH_NS_REST;
        fp_arm(c, c->beh.b);
    }
    evbuffer_free(b);
}

void fp_on_timer(evutil_socket_t fd, short what, void *arg)
{
    fp_call *c = arg;
    (void)fd;
    (void)what;
    if (c->stream) {
        fp_stream_tick(c);
    } else if (c->phase == FP_PH_NS_FULL) {
        fp_send_full(c);
    } else if (c->phase == FP_PH_NS_REST) {
        struct evbuffer *b = evbuffer_new();
        size_t half = c->body_len / 2;
        if (b == NULL || evbuffer_add(b, c->body + half, c->body_len - half) != 0) {
            if (b != NULL)
                evbuffer_free(b);
            fp_drop(c, "internal_error");
            return;
        }
        evhttp_send_reply_chunk(c->req, b);
        evbuffer_free(b);
        fp_reply_end(c);
    }
}

void fp_send_embeddings(fp_call *c)
{
    struct evbuffer *b = evbuffer_new();
    cJSON *o = cJSON_CreateObject(), *data = NULL, *u = NULL;
    bool ok = o != NULL && b != NULL;
    char *body = NULL;
    fp_put_str(o, "object", "list", &ok);
    ok = ok && (data = cJSON_AddArrayToObject(o, "data")) != NULL;
    for (long i = 0; ok && i < c->n_inputs; i++) {
        cJSON *e = cJSON_CreateObject(), *v = NULL;
        ok = e != NULL && cJSON_AddItemToArray(data, e);
        if (!ok) {
            cJSON_Delete(e);
            break;
        }
        fp_put_str(e, "object", "embedding", &ok);
        fp_put_num(e, "index", (double)i, &ok);
        ok = ok && (v = cJSON_AddArrayToObject(e, "embedding")) != NULL;
        for (long k = 0; ok && k < c->dims; k++) {
            cJSON *n = cJSON_CreateNumber((double)i + (double)k / 10.0);
            ok = n != NULL && cJSON_AddItemToArray(v, n);
            if (!ok)
                cJSON_Delete(n);
        }
    }
    fp_put_str(o, "model", c->model, &ok);
    ok = ok && (u = cJSON_AddObjectToObject(o, "usage")) != NULL;
    fp_put_num(u, "prompt_tokens", (double)c->prompt_tokens, &ok);
    fp_put_num(u, "total_tokens", (double)c->prompt_tokens, &ok);
    if (ok)
        body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (body == NULL || evbuffer_add(b, body, strlen(body)) != 0 ||
        fp_headers(c, "application/json") != 0) {
        cJSON_free(body);
        if (b != NULL)
            evbuffer_free(b);
        fp_respond_internal(c);
        return;
    }
    cJSON_free(body);
    fp_respond(c, 200, b, "ok");
}

/* A tool_calls delta or message entry: id and name when first, the
 * arguments (or a piece of them). */
static cJSON *fp_tool_call(const fp_call *c, bool first, const char *args,
                           bool *ok)
{
    cJSON *tc = cJSON_CreateObject(), *f;
    char id[48];
    *ok = *ok && tc != NULL;
    snprintf(id, sizeof id, "call_fake_%" PRIu64, c->seq);
    fp_put_num(tc, "index", 0, ok);
    if (first) {
        fp_put_str(tc, "id", id, ok);
        fp_put_str(tc, "type", "function", ok);
    }
    f = fp_put_obj(tc, "function", ok);
    if (first)
        fp_put_str(f, "name", c->tool, ok);
    fp_put_str(f, "arguments", args, ok);
    return tc;
}

void fp_send_tool(fp_call *c)
{
    static const char *const pieces[] = {"{\"city\":", "\"Paris\"}"};
    struct evbuffer *b = evbuffer_new();
    bool ok = b != NULL;
    c->n_tokens = 2;
    if (!c->stream) {
        cJSON *o = cJSON_CreateObject(), *arr, *ch, *m, *calls, *tc;
        char id[48];
        ok = ok && o != NULL;
        snprintf(id, sizeof id, "chatcmpl-fake-%" PRIu64, c->seq);
        fp_put_str(o, "id", id, &ok);
        fp_put_str(o, "object", "chat.completion", &ok);
        fp_put_num(o, "created", (double)c->created, &ok);
        fp_put_str(o, "model", c->model, &ok);
        arr = fp_put_arr(o, "choices", &ok);
        ch = fp_push_obj(arr, &ok);
        fp_put_num(ch, "index", 0, &ok);
        m = fp_put_obj(ch, "message", &ok);
        fp_put_str(m, "role", "assistant", &ok);
        fp_put_null(m, "content", &ok);
        calls = fp_put_arr(m, "tool_calls", &ok);
        tc = fp_tool_call(c, true, "{\"city\":\"Paris\"}", &ok);
        if (tc != NULL && !(ok = ok && cJSON_AddItemToArray(calls, tc)))
            cJSON_Delete(tc);
        fp_put_str(ch, "finish_reason", "tool_calls", &ok);
        fp_oa_usage(c, o, &ok);
        o = fp_done(o, ok);
        ok = o != NULL && fp_add_json(b, o) == 0;
    } else {
        for (int i = 0; ok && i < 3; i++) {
            cJSON *o = fp_oa_chunk(c, i == 0 ? "assistant" : NULL, NULL, NULL,
                                   false);
            cJSON *d = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "choices"), 0),
                "delta");
            cJSON *calls = cJSON_AddArrayToObject(d, "tool_calls");
            cJSON *tc = fp_tool_call(c, i == 0, i == 0 ? "" : pieces[i - 1], &ok);
            if (calls == NULL || tc == NULL || !cJSON_AddItemToArray(calls, tc)) {
                cJSON_Delete(tc);
                ok = false;
            }
            ok = fp_sse(c, b, NULL, o) == 0 && ok;
        }
        ok = ok && fp_sse(c, b, NULL, fp_oa_chunk(c, NULL, NULL, "tool_calls",
                                                  false)) == 0;
        ok = ok && (!c->include_usage ||
                    fp_sse(c, b, NULL, fp_oa_chunk(c, NULL, NULL, NULL, true)) == 0);
        ok = ok && fp_sse_raw(c, b, NULL, "[DONE]") == 0;
    }
    if (!ok || fp_headers(c, c->stream ? "text/event-stream"
                                       : "application/json") != 0) {
        if (b != NULL)
            evbuffer_free(b);
        fp_respond_internal(c);
        return;
    }
    fp_respond(c, 200, b, "ok");
}
