/* fp_responses.c - OpenAI's Responses API (POST /v1/responses) in the fake
 * provider: the request (model, input as a string or items, instructions,
 * max_output_tokens, stream), the whole answer (a "response" with one
 * message item of one output_text part, usage input/output/total tokens)
 * and the stream (response.created, response.in_progress,
 * response.output_item.added, response.content_part.added, one
 * response.output_text.delta per token, response.output_text.done,
 * response.content_part.done, response.output_item.done,
 * response.completed), each event named and carrying a sequence_number.
 * The response object echoes the request's instructions (a string, or
 * null), as OpenAI's does, so its size grows with them.
 * The behaviours are the chat API's: errors in OpenAI's shape (content:
 * 400 content_policy_violation), cut and stall after k tokens, malformed
 * (a delta event whose data is not JSON), and nodone (the stream ends
 * after response.output_item.done, without response.completed). See fp.h.
 */
#include "fp.h"

/* Words of an input: a string, or message items whose content is a string
 * or input_text parts. */
static long fp_resp_words(const cJSON *v)
{
    long n = 0;
    const cJSON *it;
    if (cJSON_IsString(v)) {
        bool in = false;
        for (const char *p = v->valuestring; *p != '\0'; p++) {
            bool space = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
            if (!space && !in)
                n++;
            in = !space;
        }
        return n;
    }
    cJSON_ArrayForEach(it, v) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (cJSON_IsString(c)) {
            n += fp_resp_words(c);
        } else if (cJSON_IsArray(c)) {
            const cJSON *part;
            cJSON_ArrayForEach(part, c)
                n += fp_resp_words(cJSON_GetObjectItemCaseSensitive(part, "text"));
        } else if (cJSON_IsString(it)) {
            n += fp_resp_words(it);
        }
    }
    return n;
}

int fp_resp_parse(fp_call *c)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
    size_t len = evbuffer_get_length(in);
    const char *data = len > 0 ? (const char *)evbuffer_pullup(in, -1) : NULL;
    cJSON *root = data != NULL ? cJSON_ParseWithLength(data, len) : NULL;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(root, "input");
    const cJSON *v;
    const char *err = NULL, *param = NULL;

    if (!cJSON_IsObject(root)) {
        err = "We could not parse the JSON body of your request.";
    } else if (!cJSON_IsString(model) || model->valuestring[0] == '\0' ||
               strlen(model->valuestring) > FP_MAX_MODEL_LEN) {
        err = "you must provide a model parameter";
        param = "model";
    } else if (!cJSON_IsString(input) && !cJSON_IsArray(input)) {
        err = "input: a string or an array of items is required";
        param = "input";
    }
    if (err == NULL) {
        c->prompt_tokens = fp_resp_words(input) +
            fp_resp_words(cJSON_GetObjectItemCaseSensitive(root, "instructions"));
        v = cJSON_GetObjectItemCaseSensitive(root, "stream");
        if (v != NULL && !cJSON_IsBool(v) && !cJSON_IsNull(v)) {
            err = "stream: must be a boolean";
            param = "stream";
        }
        c->stream = cJSON_IsTrue(v);
        c->include_usage = true;
        c->choices = 1;
        c->n_tokens = c->srv->o.tokens;
        v = cJSON_GetObjectItemCaseSensitive(root, "max_output_tokens");
        if (err == NULL && v != NULL && !cJSON_IsNull(v)) {
            double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
            if (d < 1 || d > 1e9 || d != (double)(long)d) {
                err = "max_output_tokens: must be a positive integer";
                param = "max_output_tokens";
            } else {
                c->n_tokens = (long)d < FP_MAX_TOKENS ? (long)d : FP_MAX_TOKENS;
            }
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "instructions");
    if (err == NULL &&
        ((c->model = strdup(model->valuestring)) == NULL ||
         (cJSON_IsString(v) &&
          (c->instructions = strdup(v->valuestring)) == NULL))) {
        cJSON_Delete(root);
        fp_respond_internal(c);
        return -1;
    }
    cJSON_Delete(root);
    if (err != NULL) {
        fp_err e = {400, "invalid_request_error", NULL, param,
                    "invalid_request_error", err, NULL};
        snprintf(c->label, sizeof c->label, "invalid");
        fp_error(c, &e, -1);
        return -1;
    }
    return fp_request_finish(c);
}

/* ---- the answer ------------------------------------------------------------ */

static void fp_resp_id(const fp_call *c, const char *prefix, char *buf,
                       size_t cap)
{
    snprintf(buf, cap, "%s_fake_%" PRIu64, prefix, c->seq);
}

/* The message item: status, one output_text part holding text (NULL: no
 * part yet). */
static cJSON *fp_resp_message(const fp_call *c, const char *status,
                              const char *text, bool *ok)
{
    cJSON *m = cJSON_CreateObject(), *content;
    char id[48];
    *ok = *ok && m != NULL;
    fp_resp_id(c, "msg", id, sizeof id);
    fp_put_str(m, "id", id, ok);
    fp_put_str(m, "type", "message", ok);
    fp_put_str(m, "status", status, ok);
    fp_put_str(m, "role", "assistant", ok);
    content = fp_put_arr(m, "content", ok);
    if (text != NULL) {
        cJSON *p = fp_push_obj(content, ok);
        fp_put_str(p, "type", "output_text", ok);
        fp_put_str(p, "text", text, ok);
        fp_put_arr(p, "annotations", ok);
    }
    return m;
}

/* The response object: status, its output (the message with text, or none
 * when text is NULL), usage when complete. */
static cJSON *fp_resp_object(const fp_call *c, const char *status,
                             const char *text, bool *ok)
{
    cJSON *o = cJSON_CreateObject(), *out;
    char id[48];
    *ok = *ok && o != NULL;
    fp_resp_id(c, "resp", id, sizeof id);
    fp_put_str(o, "id", id, ok);
    fp_put_str(o, "object", "response", ok);
    fp_put_num(o, "created_at", (double)c->created, ok);
    fp_put_str(o, "status", status, ok);
    fp_put_null(o, "error", ok);
    fp_put_null(o, "incomplete_details", ok);
    fp_put_str(o, "model", c->model, ok);
    if (c->instructions != NULL) /* echoed, as OpenAI's are */
        fp_put_str(o, "instructions", c->instructions, ok);
    else
        fp_put_null(o, "instructions", ok);
    out = fp_put_arr(o, "output", ok);
    if (text != NULL) {
        cJSON *m = fp_resp_message(c, "completed", text, ok);
        if (m != NULL && !(*ok = *ok && cJSON_AddItemToArray(out, m)))
            cJSON_Delete(m);
    }
    fp_put_bool(o, "parallel_tool_calls", true, ok);
    fp_put_arr(o, "tools", ok);
    if (strcmp(status, "completed") == 0) {
        cJSON *u = fp_put_obj(o, "usage", ok);
        fp_put_num(u, "input_tokens", (double)c->prompt_tokens, ok);
        fp_put_num(u, "output_tokens", (double)c->n_tokens, ok);
        fp_put_num(u, "total_tokens", (double)(c->prompt_tokens + c->n_tokens),
                   ok);
    } else {
        fp_put_null(o, "usage", ok);
    }
    return o;
}

char *fp_resp_full_body(const fp_call *c, const char *text)
{
    bool ok = true;
    cJSON *o = fp_done(fp_resp_object(c, "completed", text, &ok), ok);
    char *out = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return out;
}

/* ---- the stream -------------------------------------------------------------- */

/* A new event object of type `type` with the next sequence_number. */
static cJSON *fp_resp_event(const fp_call *c, const char *type, bool *ok)
{
    cJSON *o = cJSON_CreateObject();
    *ok = o != NULL;
    fp_put_str(o, "type", type, ok);
    fp_put_num(o, "sequence_number", (double)c->events, ok);
    return o;
}

static int fp_resp_emit(fp_call *c, struct evbuffer *b, const char *type,
                        cJSON *o, bool ok)
{
    return fp_sse(c, b, type, fp_done(o, ok));
}

/* An event that carries the response object in `status`. */
static int fp_resp_whole(fp_call *c, struct evbuffer *b, const char *type,
                         const char *status, const char *text)
{
    bool ok;
    cJSON *o = fp_resp_event(c, type, &ok);
    cJSON *r = fp_resp_object(c, status, text, &ok);
    if (r != NULL && !(ok = ok && cJSON_AddItemToObject(o, "response", r)))
        cJSON_Delete(r);
    return fp_resp_emit(c, b, type, o, ok);
}

/* The part or item events that name the message item (index 0). */
static cJSON *fp_resp_at(const fp_call *c, const char *type, bool part,
                         bool *ok)
{
    cJSON *o = fp_resp_event(c, type, ok);
    char id[48];
    fp_resp_id(c, "msg", id, sizeof id);
    fp_put_num(o, "output_index", 0, ok);
    if (part) {
        fp_put_str(o, "item_id", id, ok);
        fp_put_num(o, "content_index", 0, ok);
    }
    return o;
}

int fp_resp_preamble(fp_call *c, struct evbuffer *b)
{
    bool ok;
    cJSON *o, *m, *p;
    if (fp_resp_whole(c, b, "response.created", "in_progress", NULL) != 0 ||
        fp_resp_whole(c, b, "response.in_progress", "in_progress", NULL) != 0)
        return -1;
    o = fp_resp_at(c, "response.output_item.added", false, &ok);
    m = fp_resp_message(c, "in_progress", NULL, &ok);
    if (m != NULL && !(ok = ok && cJSON_AddItemToObject(o, "item", m)))
        cJSON_Delete(m);
    if (fp_resp_emit(c, b, "response.output_item.added", o, ok) != 0)
        return -1;
    o = fp_resp_at(c, "response.content_part.added", true, &ok);
    p = fp_put_obj(o, "part", &ok);
    fp_put_str(p, "type", "output_text", &ok);
    fp_put_str(p, "text", "", &ok);
    fp_put_arr(p, "annotations", &ok);
    return fp_resp_emit(c, b, "response.content_part.added", o, ok);
}

int fp_resp_token(fp_call *c, struct evbuffer *b, const char *tok)
{
    bool ok;
    cJSON *o = fp_resp_at(c, "response.output_text.delta", true, &ok);
    fp_put_str(o, "delta", tok, &ok);
    return fp_resp_emit(c, b, "response.output_text.delta", o, ok);
}

int fp_resp_malformed(fp_call *c, struct evbuffer *b)
{
    return fp_sse_raw(c, b, "response.output_text.delta", "{not json");
}

int fp_resp_tail(fp_call *c, struct evbuffer *b, bool nodone)
{
    bool ok;
    char *text = fp_content_text(c);
    cJSON *o, *p, *m;
    int rc = -1;
    if (text == NULL)
        return -1;
    o = fp_resp_at(c, "response.output_text.done", true, &ok);
    fp_put_str(o, "text", text, &ok);
    if (fp_resp_emit(c, b, "response.output_text.done", o, ok) != 0)
        goto done;
    o = fp_resp_at(c, "response.content_part.done", true, &ok);
    p = fp_put_obj(o, "part", &ok);
    fp_put_str(p, "type", "output_text", &ok);
    fp_put_str(p, "text", text, &ok);
    fp_put_arr(p, "annotations", &ok);
    if (fp_resp_emit(c, b, "response.content_part.done", o, ok) != 0)
        goto done;
    o = fp_resp_at(c, "response.output_item.done", false, &ok);
    m = fp_resp_message(c, "completed", text, &ok);
    if (m != NULL && !(ok = ok && cJSON_AddItemToObject(o, "item", m)))
        cJSON_Delete(m);
    if (fp_resp_emit(c, b, "response.output_item.done", o, ok) != 0)
        goto done;
    rc = nodone ? 0
                : fp_resp_whole(c, b, "response.completed", "completed", text);
done:
    free(text);
    return rc;
}
