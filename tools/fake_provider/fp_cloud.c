/* fp_cloud.c - the fake provider's Azure OpenAI, Gemini and Bedrock; see
 * fp.h.
 *
 *   Azure    POST /openai/deployments/{deployment}/chat/completions
 *            ?api-version=... (404 without it, as Azure), OpenAI's bodies;
 *            content: 400 code content_filter; api-key for auth
 *   Gemini   POST {base}/models/{model}:generateContent and
 *            :streamGenerateContent?alt=sse (SSE data-only events, the
 *            last with finishReason and usageMetadata); content: 200 with
 *            promptFeedback.blockReason SAFETY (a stream: that one
 *            event); errors
 *            {"error":{"code","message","status"}}; x-goog-api-key for auth
 *   Bedrock  POST /model/{modelId}/converse and /converse-stream (AWS
 *            event-stream frames with both CRCs: messageStart,
 *            contentBlockDelta, contentBlockStop, messageStop, metadata);
 *            errors {"message"} with x-amzn-ErrorType; content: stopReason
 *            guardrail_intervened; ratelimit on a stream: 200 then a
 *            throttlingException frame; malformed-K: a frame whose CRC is
 *            wrong; with --aws-secret a call whose SigV4 signature does
 *            not check is 403 InvalidSignatureException
 */
#include <zlib.h>

#include "fp.h"

/* ---- paths ------------------------------------------------------------------ */

static bool take_model(fp_call *c, const char *seg, size_t len)
{
    char raw[FP_MAX_MODEL_LEN * 3 + 1];
    if (len == 0 || len >= sizeof raw)
        return false;
    memcpy(raw, seg, len);
    raw[len] = '\0';
    char *dec = evhttp_uridecode(raw, 0, NULL);
    if (dec == NULL)
        return false;
    if (dec[0] == '\0' || strlen(dec) > FP_MAX_MODEL_LEN) {
        free(dec);
        return false;
    }
    c->model = dec;
    return true;
}

bool fp_cloud_match(fp_call *c)
{
    const char *p = c->path;
    static const char az[] = "/openai/deployments/";
    if (strncmp(p, az, sizeof az - 1) == 0) {
        const char *dep = p + sizeof az - 1, *slash = strchr(dep, '/');
        if (slash == NULL || slash == dep ||
            strcmp(slash, "/chat/completions") != 0)
            return false;
        c->api = FP_OPENAI;
        c->cloud = FP_CLOUD_AZURE;
        return true;
    }
    static const char br[] = "/model/";
    if (strncmp(p, br, sizeof br - 1) == 0) {
        const char *id = p + sizeof br - 1, *slash = strrchr(id, '/');
        if (slash == NULL)
            return false;
        if (strcmp(slash, "/converse-stream") == 0)
            c->stream = true;
        else if (strcmp(slash, "/converse") != 0)
            return false;
        c->cloud = FP_CLOUD_BEDROCK;
        return take_model(c, id, (size_t)(slash - id));
    }
    const char *m = strstr(p, "/models/");
    if (m != NULL) {
        const char *name = m + 8, *colon = strrchr(name, ':');
        if (colon == NULL)
            return false;
        if (strcmp(colon, ":streamGenerateContent") == 0)
            c->stream = true;
        else if (strcmp(colon, ":generateContent") != 0)
            return false;
        c->cloud = FP_CLOUD_GEMINI;
        return take_model(c, name, (size_t)(colon - name));
    }
    return false;
}

/* ---- request bodies --------------------------------------------------------- */

static long count_words(const char *t)
{
    long n = 0;
    bool in = false;
    for (; t != NULL && *t != '\0'; t++) {
        bool space = *t == ' ' || *t == '\t' || *t == '\n' || *t == '\r';
        if (!space && !in)
            n++;
        in = !space;
    }
    return n;
}

/* Words of every "text" in an array of parts or blocks. */
static long part_words(const cJSON *parts)
{
    long n = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, parts) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (cJSON_IsString(t))
            n += count_words(t->valuestring);
    }
    return n;
}

int fp_cloud_parse(fp_call *c)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
    size_t len = evbuffer_get_length(in);
    const char *data = len > 0 ? (const char *)evbuffer_pullup(in, -1) : NULL;
    cJSON *root = data != NULL ? cJSON_ParseWithLength(data, len) : NULL;
    bool gem = c->cloud == FP_CLOUD_GEMINI;
    const char *turns_key = gem ? "contents" : "messages";
    const char *body_key = gem ? "parts" : "content";
    const char *model_role = gem ? "model" : "assistant";
    const cJSON *turns, *t, *last = NULL, *v;

    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        fp_bad_request(c, 400, NULL, "The request body is not JSON.");
        return -1;
    }
    turns = cJSON_GetObjectItemCaseSensitive(root, turns_key);
    if (!cJSON_IsArray(turns) || cJSON_GetArraySize(turns) == 0) {
        cJSON_Delete(root);
        fp_bad_request(c, 400, NULL, gem ? "contents is not specified"
                                         : "messages: a non-empty array is "
                                           "required");
        return -1;
    }
    cJSON_ArrayForEach(t, turns) {
        c->prompt_tokens +=
            part_words(cJSON_GetObjectItemCaseSensitive(t, body_key));
        last = t;
    }
    if (gem)
        c->prompt_tokens += part_words(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(root, "systemInstruction"),
            "parts"));
    else
        c->prompt_tokens +=
            part_words(cJSON_GetObjectItemCaseSensitive(root, "system"));
    v = cJSON_GetObjectItemCaseSensitive(last, "role");
    c->prefill = cJSON_IsString(v) && strcmp(v->valuestring, model_role) == 0;
    c->include_usage = true; /* both send usage at the end of every stream */
    c->n_tokens = c->srv->o.tokens;
    v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, gem ? "generationConfig"
                                                   : "inferenceConfig"),
        gem ? "maxOutputTokens" : "maxTokens");
    if (cJSON_IsNumber(v) && v->valuedouble >= 1)
        c->n_tokens = v->valuedouble < FP_MAX_TOKENS ? (long)v->valuedouble
                                                     : FP_MAX_TOKENS;
    if (c->prefill) {
        /* "tok1 tok2 " already there: go on from the next one */
        const cJSON *parts = cJSON_GetObjectItemCaseSensitive(last, body_key);
        const cJSON *p0 = cJSON_GetArrayItem(parts, 0);
        const cJSON *tx = cJSON_GetObjectItemCaseSensitive(p0, "text");
        long have = 0;
        for (const char *q = cJSON_IsString(tx) ? tx->valuestring : "";;) {
            char want[32];
            while (*q == ' ')
                q++;
            size_t n = (size_t)snprintf(want, sizeof want, "tok%ld", have + 1);
            if (*q == '\0' || strncmp(q, want, n) != 0 ||
                (q[n] != '\0' && q[n] != ' '))
                break;
            q += n;
            have++;
        }
        c->skip = have < c->n_tokens ? have : c->n_tokens;
        c->n_tokens -= c->skip;
    }
    cJSON_Delete(root);
    return fp_request_finish(c);
}

/* ---- answers ---------------------------------------------------------------- */

static void gem_usage(const fp_call *c, cJSON *o, bool *ok)
{
    cJSON *u = fp_put_obj(o, "usageMetadata", ok);
    fp_put_num(u, "promptTokenCount", (double)c->prompt_tokens, ok);
    fp_put_num(u, "candidatesTokenCount", (double)c->n_tokens, ok);
    fp_put_num(u, "totalTokenCount", (double)(c->prompt_tokens + c->n_tokens),
               ok);
}

static void br_usage(const fp_call *c, cJSON *o, bool *ok)
{
    cJSON *u = fp_put_obj(o, "usage", ok);
    fp_put_num(u, "inputTokens", (double)c->prompt_tokens, ok);
    fp_put_num(u, "outputTokens", (double)c->n_tokens, ok);
    fp_put_num(u, "totalTokens", (double)(c->prompt_tokens + c->n_tokens), ok);
}

/* A Gemini response: one candidate with text (NULL: none) and a finish
 * reason (NULL: none), or a blocked prompt. */
static cJSON *gem_response(const fp_call *c, const char *text,
                           const char *finish, bool blocked, bool usage)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL;
    if (blocked) {
        cJSON *pf = fp_put_obj(o, "promptFeedback", &ok);
        fp_put_str(pf, "blockReason", "SAFETY", &ok);
    } else {
        cJSON *cands = fp_put_arr(o, "candidates", &ok);
        cJSON *cand = fp_push_obj(cands, &ok);
        cJSON *content = fp_put_obj(cand, "content", &ok);
        cJSON *parts = fp_put_arr(content, "parts", &ok);
        if (text != NULL) {
            cJSON *p = fp_push_obj(parts, &ok);
            fp_put_str(p, "text", text, &ok);
        }
        fp_put_str(content, "role", "model", &ok);
        if (finish != NULL)
            fp_put_str(cand, "finishReason", finish, &ok);
        fp_put_num(cand, "index", 0, &ok);
    }
    if (usage)
        gem_usage(c, o, &ok);
    fp_put_str(o, "modelVersion", c->model, &ok);
    return fp_done(o, ok);
}

char *fp_cloud_full_body(const fp_call *c, const char *text, bool blocked)
{
    cJSON *o;
    if (c->cloud == FP_CLOUD_GEMINI) {
        o = gem_response(c, text, "STOP", blocked, true);
    } else {
        bool ok;
        cJSON *out, *msg, *content, *blk, *metrics;
        o = cJSON_CreateObject();
        ok = o != NULL;
        out = fp_put_obj(o, "output", &ok);
        msg = fp_put_obj(out, "message", &ok);
        fp_put_str(msg, "role", "assistant", &ok);
        content = fp_put_arr(msg, "content", &ok);
        blk = fp_push_obj(content, &ok);
        fp_put_str(blk, "text", blocked ? "Sorry, the model cannot answer "
                                          "this question." : text, &ok);
        fp_put_str(o, "stopReason", blocked ? "guardrail_intervened"
                                            : "end_turn", &ok);
        br_usage(c, o, &ok);
        metrics = fp_put_obj(o, "metrics", &ok);
        fp_put_num(metrics, "latencyMs", 1, &ok);
        o = fp_done(o, ok);
    }
    char *txt = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return txt;
}

/* ---- AWS event-stream frames -------------------------------------------------- */

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* One string header into h at *n (cap bytes). */
static int add_hdr(unsigned char *h, size_t *n, size_t cap, const char *name,
                   const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (*n + 1 + nl + 3 + vl > cap)
        return -1;
    h[(*n)++] = (unsigned char)nl;
    memcpy(h + *n, name, nl);
    *n += nl;
    h[(*n)++] = 7;
    h[(*n)++] = (unsigned char)(vl >> 8);
    h[(*n)++] = (unsigned char)vl;
    memcpy(h + *n, value, vl);
    *n += vl;
    return 0;
}

/* A frame of message type mtype: ":event-type" or ":exception-type"
 * kind, payload o (taken). bad_crc: the message CRC is off by one. */
static int evs_frame(fp_call *c, struct evbuffer *b, const char *mtype,
                     const char *kind, cJSON *o, bool bad_crc)
{
    unsigned char hdr[256];
    size_t hl = 0;
    char *pl = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (pl == NULL)
        return -1;
    bool exc = strcmp(mtype, "exception") == 0;
    if (add_hdr(hdr, &hl, sizeof hdr, exc ? ":exception-type" : ":event-type",
                kind) != 0 ||
        add_hdr(hdr, &hl, sizeof hdr, ":content-type", "application/json") != 0 ||
        add_hdr(hdr, &hl, sizeof hdr, ":message-type", mtype) != 0) {
        cJSON_free(pl);
        return -1;
    }
    size_t pn = strlen(pl), total = 12 + hl + pn + 4;
    unsigned char *f = malloc(total);
    if (f == NULL) {
        cJSON_free(pl);
        return -1;
    }
    put_be32(f, (uint32_t)total);
    put_be32(f + 4, (uint32_t)hl);
    put_be32(f + 8, (uint32_t)crc32(0L, f, 8));
    memcpy(f + 12, hdr, hl);
    memcpy(f + 12 + hl, pl, pn);
    uint32_t mc = (uint32_t)crc32(0L, f, (uInt)(total - 4));
    put_be32(f + total - 4, bad_crc ? mc + 1 : mc);
    cJSON_free(pl);
    int rc = evbuffer_add(b, f, total) == 0 ? 0 : -1;
    free(f);
    if (rc == 0)
        c->events++;
    return rc;
}

static cJSON *obj(bool *ok)
{
    cJSON *o = cJSON_CreateObject();
    *ok = o != NULL;
    return o;
}

/* ---- streams ---------------------------------------------------------------- */

const char *fp_cloud_stream_type(const fp_call *c)
{
    return c->cloud == FP_CLOUD_BEDROCK ? "application/vnd.amazon.eventstream"
                                        : "text/event-stream";
}

static int gem_sse(fp_call *c, struct evbuffer *b, cJSON *o)
{
    if (o == NULL || evbuffer_add(b, "data: ", 6) != 0) {
        cJSON_Delete(o);
        return -1;
    }
    if (fp_add_json(b, o) != 0 || evbuffer_add(b, "\r\n\r\n", 4) != 0)
        return -1;
    c->events++;
    return 0;
}

int fp_cloud_preamble(fp_call *c, struct evbuffer *b)
{
    bool ok;
    cJSON *o;
    if (c->cloud == FP_CLOUD_GEMINI && c->beh.spec->kind == FP_CONTENT)
        return gem_sse(c, b, gem_response(c, NULL, NULL, true, true));
    if (c->cloud == FP_CLOUD_GEMINI)
        return 0; /* Gemini's first event carries the first text */
    if (c->beh.spec->kind == FP_RATELIMIT) {
        o = obj(&ok);
        fp_put_str(o, "message", "Too many requests, please wait before "
                   "trying again. (fake provider)", &ok);
        return evs_frame(c, b, "exception", "throttlingException",
                         fp_done(o, ok), false);
    }
    o = obj(&ok);
    fp_put_str(o, "role", "assistant", &ok);
    return evs_frame(c, b, "event", "messageStart", fp_done(o, ok), false);
}

int fp_cloud_token(fp_call *c, struct evbuffer *b, const char *tok)
{
    bool ok;
    cJSON *o, *d;
    if (c->cloud == FP_CLOUD_GEMINI)
        return gem_sse(c, b, gem_response(c, tok, NULL, false, false));
    o = obj(&ok);
    fp_put_num(o, "contentBlockIndex", 0, &ok);
    d = fp_put_obj(o, "delta", &ok);
    fp_put_str(d, "text", tok, &ok);
    return evs_frame(c, b, "event", "contentBlockDelta", fp_done(o, ok), false);
}

int fp_cloud_malformed(fp_call *c, struct evbuffer *b)
{
    bool ok;
    cJSON *o, *d;
    if (c->cloud == FP_CLOUD_GEMINI) {
        c->events++;
        return evbuffer_add(b, "data: {not json\r\n\r\n", 19) == 0 ? 0 : -1;
    }
    o = obj(&ok);
    fp_put_num(o, "contentBlockIndex", 0, &ok);
    d = fp_put_obj(o, "delta", &ok);
    fp_put_str(d, "text", "corrupt", &ok);
    return evs_frame(c, b, "event", "contentBlockDelta", fp_done(o, ok), true);
}

int fp_cloud_tail(fp_call *c, struct evbuffer *b, bool nodone, bool blocked)
{
    bool ok;
    cJSON *o;
    if (c->cloud == FP_CLOUD_GEMINI) {
        /* Gemini has no terminator: "nodone" leaves the last event out */
        if (nodone)
            return 0;
        return gem_sse(c, b, gem_response(c, blocked ? NULL : "",
                                          blocked ? NULL : "STOP", blocked,
                                          true));
    }
    o = obj(&ok);
    fp_put_num(o, "contentBlockIndex", 0, &ok);
    if (evs_frame(c, b, "event", "contentBlockStop", fp_done(o, ok), false))
        return -1;
    o = obj(&ok);
    fp_put_str(o, "stopReason", blocked ? "guardrail_intervened" : "end_turn",
               &ok);
    if (evs_frame(c, b, "event", "messageStop", fp_done(o, ok), false))
        return -1;
    if (nodone)
        return 0;
    cJSON *m;
    o = obj(&ok);
    br_usage(c, o, &ok);
    m = fp_put_obj(o, "metrics", &ok);
    fp_put_num(m, "latencyMs", 1, &ok);
    return evs_frame(c, b, "event", "metadata", fp_done(o, ok), false);
}

/* ---- errors ----------------------------------------------------------------- */

static const char *gem_status(int st)
{
    switch (st) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 429: return "RESOURCE_EXHAUSTED";
    case 503: return "UNAVAILABLE";
    default: return "INTERNAL";
    }
}

static const char *br_type(int st)
{
    switch (st) {
    case 400: return "ValidationException";
    case 401:
    case 403: return "AccessDeniedException";
    case 404: return "ResourceNotFoundException";
    case 429: return "ThrottlingException";
    case 503: return "ServiceUnavailableException";
    default: return "InternalServerException";
    }
}

void fp_cloud_error(fp_call *c, const fp_err *e, long retry_after)
{
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
    cJSON *o = cJSON_CreateObject(), *err;
    bool ok = o != NULL && b != NULL;
    const char *msg = e->msg, *type = NULL;
    int status = e->status;
    char v[24];

    if (e == &FP_E_CONTEXT)
        msg = c->cloud == FP_CLOUD_GEMINI
                  ? "The input token count (250000) exceeds the maximum "
                    "number of tokens allowed (131072)."
                  : "Input is too long for requested model.";
    if (c->cloud == FP_CLOUD_AZURE) {
        bool filter = e == &FP_E_CONTENT;
        err = fp_put_obj(o, "error", &ok);
        fp_put_str(err, "message", filter ? "The response was filtered due "
                   "to the prompt triggering Azure OpenAI's content "
                   "management policy." : msg, &ok);
        fp_put_str(err, "type", e->type, &ok);
        fp_put_str_or_null(err, "param", filter ? "prompt" : e->param, &ok);
        fp_put_str(err, "code", filter ? "content_filter"
                                       : e->code != NULL ? e->code : "", &ok);
        fp_put_num(err, "status", status, &ok);
    } else if (c->cloud == FP_CLOUD_GEMINI) {
        err = fp_put_obj(o, "error", &ok);
        fp_put_num(err, "code", status, &ok);
        fp_put_str(err, "message", msg, &ok);
        fp_put_str(err, "status", gem_status(status), &ok);
    } else {
        size_t tl = e->type != NULL ? strlen(e->type) : 0;
        type = tl > 9 && strcmp(e->type + tl - 9, "Exception") == 0
                   ? e->type
                   : br_type(status);
        fp_put_str(o, "message", msg, &ok);
    }
    o = fp_done(o, ok);
    if (fp_add_json(b, o) != 0 || fp_headers(c, "application/json") != 0 ||
        (type != NULL && evhttp_add_header(h, "x-amzn-ErrorType", type) != 0)) {
        if (b != NULL)
            evbuffer_free(b);
        fp_respond_internal(c);
        return;
    }
    if (retry_after >= 0) {
        snprintf(v, sizeof v, "%ld", retry_after);
        /* Azure sends both; the milliseconds one wins */
        if (evhttp_add_header(h, "Retry-After", v) != 0 ||
            (c->cloud == FP_CLOUD_AZURE &&
             (snprintf(v, sizeof v, "%ld", retry_after * 1000),
              evhttp_add_header(h, "retry-after-ms", v) != 0))) {
            evbuffer_free(b);
            fp_respond_internal(c);
            return;
        }
    }
    fp_respond(c, status, b, "error");
}
