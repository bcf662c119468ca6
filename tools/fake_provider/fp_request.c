/* fp_request.c - the fake provider reads a request (body, model,
 * prefill, auth, headers) and runs its behaviour; GET /v1/models; see
 * fp.h. */
#include "fp.h"

/* Names GET /v1/models lists, one per behaviour. */
static const char *const fp_model_examples[] = {
    "healthy", "ratelimit", "ratelimit-ra-2", "flaky-once", "down",
    "down-for-1000", "reset", "silent", "slow-ttft-500", "cut-3",
    "stall-3-1000", "malformed-3", "nodone", "context", "content",
    "noprefill", "auth", "overloaded",
};

/* ---- request handling --------------------------------------------------- */

/* How many of this fake's answer tokens ("tok1 tok2 ...") an assistant
 * prefill starts with, counting on from *have; *stop once a word is not
 * the next token. */
static void fp_prefill_count(const cJSON *v, long *have, bool *stop)
{
    if (cJSON_IsArray(v)) {
        const cJSON *part;
        cJSON_ArrayForEach(part, v) {
            if (*stop)
                return;
            fp_prefill_count(cJSON_IsObject(part)
                                 ? cJSON_GetObjectItemCaseSensitive(part, "text")
                                 : part,
                             have, stop);
        }
        return;
    }
    if (!cJSON_IsString(v))
        return;
    for (const char *p = v->valuestring; !*stop;) {
        while (*p == ' ' || *p == '\n')
            p++;
        if (*p == '\0')
            return;
        char want[32];
        size_t n = (size_t)snprintf(want, sizeof want, "tok%ld", *have + 1);
        if (strncmp(p, want, n) != 0 ||
            (p[n] != '\0' && p[n] != ' ' && p[n] != '\n')) {
            *stop = true;
            return;
        }
        p += n;
        (*have)++;
    }
}

static long fp_count_words(const cJSON *v)
{
    long n = 0;
    if (cJSON_IsString(v)) {
        bool in = false;
        for (const char *p = v->valuestring; *p != '\0'; p++) {
            bool space = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
            if (!space && !in)
                n++;
            in = !space;
        }
    } else if (cJSON_IsArray(v)) {
        const cJSON *part;
        cJSON_ArrayForEach(part, v) {
            if (cJSON_IsString(part))
                n += fp_count_words(part);
            else if (cJSON_IsObject(part))
                n += fp_count_words(cJSON_GetObjectItemCaseSensitive(part, "text"));
        }
    }
    return n;
}

/* The n-th request for this model (from 1); -1 when the table is full. */
static long fp_model_attempt(fp_server *s, const char *model)
{
    fp_model *m;
    for (size_t i = 0; i < s->n_models; i++)
        if (strcmp(s->models[i].name, model) == 0)
            return ++s->models[i].attempts;
    if (s->n_models == FP_MAX_MODELS)
        return -1;
    m = &s->models[s->n_models];
    m->name = strdup(model);
    if (m->name == NULL)
        return -1;
    s->n_models++;
    m->attempts = 1;
    return 1;
}

/* An embeddings body into c: model, the inputs (a string, strings or
 * token ids), dimensions (default 4, at most 64). 0 ok; -1 when it
 * answered 400 (or 503) already. */
static int fp_parse_embed(fp_call *c)
{
    fp_server *s = c->srv;
    struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
    size_t len = evbuffer_get_length(in);
    const char *data = len > 0 ? (const char *)evbuffer_pullup(in, -1) : NULL;
    cJSON *root = data != NULL ? cJSON_ParseWithLength(data, len) : NULL;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(root, "input");
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(root, "dimensions");
    const char *err = NULL, *param = NULL;
    if (!cJSON_IsString(model) || model->valuestring[0] == '\0' ||
        strlen(model->valuestring) > FP_MAX_MODEL_LEN) {
        err = "you must provide a model parameter";
        param = "model";
    } else if (cJSON_IsString(input)) {
        c->n_inputs = 1;
        c->prompt_tokens = (long)strlen(input->valuestring) / 4 + 1;
    } else if (cJSON_IsArray(input) && cJSON_GetArraySize(input) > 0) {
        const cJSON *x;
        bool ids = !cJSON_IsArray(input->child) && !cJSON_IsString(input->child);
        c->n_inputs = ids ? 1 : cJSON_GetArraySize(input);
        cJSON_ArrayForEach(x, input) {
            c->prompt_tokens += cJSON_IsString(x)
                                    ? (long)strlen(x->valuestring) / 4 + 1
                                    : cJSON_IsArray(x) ? cJSON_GetArraySize(x)
                                                       : 1;
        }
    } else {
        err = "input: a string or a non-empty array is required";
        param = "input";
    }
    c->dims = cJSON_IsNumber(dims) && dims->valuedouble >= 1 &&
                      dims->valuedouble <= 64
                  ? (long)dims->valuedouble
                  : 4;
    if (err == NULL && (c->model = strdup(model->valuestring)) == NULL) {
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
    const char *slash = strrchr(c->model, '/');
    if (fp_behaviour_parse(slash ? slash + 1 : c->model, &c->beh) != 0)
        c->beh = s->o.dflt;
    fp_behaviour_name(&c->beh, c->label, sizeof c->label);
    c->attempt = fp_model_attempt(s, c->model);
    if (c->attempt < 0) {
        c->attempt = 0;
        fp_error(c, &FP_E_BUSY, -1);
        return -1;
    }
    return 0;
}

/* Reads the body into c. 0 ok; -1 when it answered 400 (or 503) already. */
static int fp_parse_request(fp_call *c)
{
    fp_server *s = c->srv;
    struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
    size_t len = evbuffer_get_length(in);
    const char *data = len > 0 ? (const char *)evbuffer_pullup(in, -1) : NULL;
    cJSON *root = data != NULL ? cJSON_ParseWithLength(data, len) : NULL;
    const cJSON *model, *msgs, *last, *v;
    const char *err = NULL, *param = NULL;
    const char *mt_key = "max_tokens";

    if (root == NULL || !cJSON_IsObject(root)) {
        err = "We could not parse the JSON body of your request.";
        goto bad;
    }
    model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsString(model) || model->valuestring[0] == '\0') {
        err = "you must provide a model parameter";
        param = "model";
        goto bad;
    }
    if (strlen(model->valuestring) > FP_MAX_MODEL_LEN) {
        err = "model: name too long";
        param = "model";
        goto bad;
    }
    c->model = strdup(model->valuestring);
    if (c->model == NULL) {
        cJSON_Delete(root);
        fp_respond_internal(c);
        return -1;
    }
    msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0) {
        err = "messages: a non-empty array is required";
        param = "messages";
        goto bad;
    }
    cJSON_ArrayForEach(v, msgs) {
        if (!cJSON_IsObject(v)) {
            err = "messages: every message must be an object";
            param = "messages";
            goto bad;
        }
        c->prompt_tokens +=
            fp_count_words(cJSON_GetObjectItemCaseSensitive(v, "content"));
    }
    if (c->api == FP_ANTHROPIC)
        c->prompt_tokens +=
            fp_count_words(cJSON_GetObjectItemCaseSensitive(root, "system"));
    last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    v = cJSON_GetObjectItemCaseSensitive(last, "role");
    c->prefill = cJSON_IsString(v) && strcmp(v->valuestring, "assistant") == 0;

    v = cJSON_GetObjectItemCaseSensitive(root, "stream");
    if (v != NULL && !cJSON_IsBool(v) && !cJSON_IsNull(v)) {
        err = "stream: must be a boolean";
        param = "stream";
        goto bad;
    }
    c->stream = cJSON_IsTrue(v);
    {
        const cJSON *t0 = cJSON_GetArrayItem(
            cJSON_GetObjectItemCaseSensitive(root, "tools"), 0);
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t0, "function");
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(fn, "name");
        if (cJSON_IsString(nm))
            snprintf(c->tool, sizeof c->tool, "%s", nm->valuestring);
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    if (cJSON_IsObject(v))
        c->include_usage =
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "include_usage"));

    c->choices = 1;
    v = cJSON_GetObjectItemCaseSensitive(root, "n");
    if (c->api == FP_OPENAI && v != NULL && !cJSON_IsNull(v)) {
        double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
        if (d < 1 || d > 128 || d != (double)(long)d) {
            err = "n: must be an integer from 1 to 128";
            param = "n";
            goto bad;
        }
        c->choices = (long)d;
    }
    c->n_tokens = s->o.tokens;
    if (c->api == FP_OPENAI &&
        cJSON_GetObjectItemCaseSensitive(root, "max_completion_tokens") != NULL)
        mt_key = "max_completion_tokens";
    v = cJSON_GetObjectItemCaseSensitive(root, mt_key);
    if (v != NULL && !cJSON_IsNull(v)) {
        double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
        if (d < 1 || d > 1e9 || d != (double)(long)d) {
            err = "max_tokens: must be a positive integer";
            param = mt_key;
            goto bad;
        }
        c->n_tokens = (long)d < FP_MAX_TOKENS ? (long)d : FP_MAX_TOKENS;
    }
    if (c->prefill) {
        bool stop = false;
        fp_prefill_count(cJSON_GetObjectItemCaseSensitive(last, "content"),
                         &c->skip, &stop);
        if (c->skip > c->n_tokens)
            c->skip = c->n_tokens;
        c->n_tokens -= c->skip;
    }
    cJSON_Delete(root);
    return fp_request_finish(c);

bad:
    cJSON_Delete(root);
    snprintf(c->label, sizeof c->label, "invalid");
    {
        fp_err e = {400, "invalid_request_error", NULL, param,
                    "invalid_request_error", err, NULL};
        fp_error(c, &e, -1);
    }
    return -1;
}

int fp_request_finish(fp_call *c)
{
    fp_server *s = c->srv;
    {
        const char *slash = strrchr(c->model, '/');
        if (fp_behaviour_parse(slash ? slash + 1 : c->model, &c->beh) != 0)
            c->beh = s->o.dflt;
    }
    fp_behaviour_name(&c->beh, c->label, sizeof c->label);
    c->attempt = fp_model_attempt(s, c->model);
    if (c->attempt < 0) {
        c->attempt = 0;
        fp_error(c, &FP_E_BUSY, -1);
        return -1;
    }
    return 0;
}

/* Whether the request carries the key --expect-key asks for (any key when
 * none was given). */
static bool fp_auth_ok(const fp_call *c)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(c->req);
    const char *want = c->srv->o.expect_key;
    const char *a = evhttp_find_header(h, "Authorization");
    const char *k = evhttp_find_header(h, "x-api-key");
    if (k == NULL)
        k = evhttp_find_header(h, "api-key"); /* Azure */
    if (k == NULL)
        k = evhttp_find_header(h, "x-goog-api-key"); /* Gemini */
    if (want == NULL)
        return (a != NULL && a[0] != '\0') || (k != NULL && k[0] != '\0');
    if (k != NULL && strcmp(k, want) == 0)
        return true;
    return a != NULL && strncasecmp(a, "Bearer ", 7) == 0 &&
           strcmp(a + 7, want) == 0;
}

static void fp_answer(fp_call *c)
{
    fp_kind kind = c->beh.spec->kind;
    if (c->api == FP_EMBED) {
        fp_send_embeddings(c); /* every other behaviour answers whole */
        return;
    }
    if (kind == FP_TOOL && c->api == FP_OPENAI && c->tool[0] != '\0') {
        fp_send_tool(c);
        return;
    }
    if (c->stream) {
        fp_stream_begin(c);
        return;
    }
    switch (kind) {
    case FP_SLOW_TTFT:
        if (fp_call_defer(c) != 0) {
            fp_error(c, &FP_E_BUSY, -1);
            return;
        }
        c->phase = FP_PH_NS_FULL;
        fp_arm(c, c->beh.a);
        return;
    case FP_CUT:
    case FP_STALL:
        fp_send_half(c);
        return;
    case FP_MALFORMED: {
        struct evbuffer *b = evbuffer_new();
        if (b == NULL || evbuffer_add(b, "{not json", 9) != 0 ||
            fp_headers(c, "application/json") != 0) {
            if (b != NULL)
                evbuffer_free(b);
            fp_respond_internal(c);
            return;
        }
        fp_respond(c, 200, b, "malformed");
        return;
    }
    default:
        fp_send_full(c);
        return;
    }
}

static void fp_run(fp_call *c)
{
    fp_server *s = c->srv;
    if (s->o.capacity > 0 && s->n_active >= (size_t)s->o.capacity) {
        /* a provider at its concurrency limit: 503 at once */
        snprintf(c->label, sizeof c->label, "over_capacity");
        fp_error(c, &FP_E_BUSY, -1);
        return;
    }
    switch (c->beh.spec->kind) {
    case FP_RATELIMIT:
        if (c->cloud == FP_CLOUD_BEDROCK && c->stream)
            break; /* a throttlingException frame in the stream */
        fp_error(c, &FP_E_RATELIMIT, c->beh.a);
        return;
    case FP_FLAKY_ONCE:
        if (c->attempt == 1) {
            fp_error(c, &FP_E_FLAKY, -1);
            return;
        }
        break;
    case FP_DOWN:
        fp_error(c, &FP_E_DOWN, -1);
        return;
    case FP_DOWN_FOR:
        if (c->t_start - s->t0 < (fp_us)c->beh.a * 1000) {
            fp_error(c, &FP_E_DOWN, -1);
            return;
        }
        break;
    case FP_RESET: {
        struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
        evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
        struct linger lg = {1, 0};  /* close() sends RST */
        if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0)
            fprintf(stderr, "fake_provider: SO_LINGER: %s\n", strerror(errno));
        fp_drop(c, "reset");
        return;
    }
    case FP_SILENT:
        if (fp_call_defer(c) != 0)
            fp_error(c, &FP_E_BUSY, -1);
        return;                 /* until the client or the server goes */
    case FP_CONTEXT:
        fp_error(c, &FP_E_CONTEXT, -1);
        return;
    case FP_CONTENT:
        if (c->cloud == FP_CLOUD_GEMINI || c->cloud == FP_CLOUD_BEDROCK)
            break; /* a safety block in a 200 answer */
        fp_error(c, &FP_E_CONTENT, -1);
        return;
    case FP_NOPREFILL:
        if (c->prefill) {
            fp_error(c, &FP_E_PREFILL, -1);
            return;
        }
        break;
    case FP_AUTH:
        if (!fp_auth_ok(c)) {
            fp_error(c, &FP_E_AUTH, -1);
            return;
        }
        break;
    case FP_OVERLOADED:
        fp_error(c, c->api == FP_ANTHROPIC && c->cloud == FP_CLOUD_NONE
                        ? &FP_E_OVERLOADED_AN
                        : &FP_E_OVERLOADED_OA, -1);
        return;
    default:
        break;
    }
    fp_answer(c);
}

static void fp_reply_models(fp_call *c)
{
    struct evbuffer *b = evbuffer_new();
    cJSON *o = cJSON_CreateObject(), *arr;
    bool ok = o != NULL;
    fp_put_str(o, "object", "list", &ok);
    arr = fp_put_arr(o, "data", &ok);
    for (size_t i = 0; i < sizeof fp_model_examples / sizeof fp_model_examples[0]; i++) {
        cJSON *m = fp_push_obj(arr, &ok);
        fp_put_str(m, "id", fp_model_examples[i], &ok);
        fp_put_str(m, "object", "model", &ok);
        fp_put_num(m, "created", 0, &ok);
        fp_put_str(m, "owned_by", "ladder-fake", &ok);
    }
    o = fp_done(o, ok);
    if (fp_add_json(b, o) != 0 || fp_headers(c, "application/json") != 0) {
        if (b != NULL)
            evbuffer_free(b);
        fp_respond_internal(c);
        return;
    }
    fp_respond(c, 200, b, "ok");
}

/* Header names never logged even under x-ladder- (lower-case name). */
static bool fp_secret_header(const char *name)
{
    static const char *const words[] = {"key", "auth", "token", "secret",
                                        "cookie", "password"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(name, words[i]) != NULL)
            return true;
    return false;
}

/* x-ladder-* headers for the log (lower-cased names, capped values) and
 * whether a credential header is present. 0 ok, -1 out of memory. */
static int fp_capture_headers(fp_call *c)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(c->req);
    int n = 0;
    for (struct evkeyval *kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        char name[64], value[FP_MAX_LOG_VALUE + 1];
        size_t len = strlen(kv->key);
        if (strcasecmp(kv->key, "authorization") == 0 ||
            strcasecmp(kv->key, "x-api-key") == 0 ||
            strcasecmp(kv->key, "api-key") == 0 ||
            strcasecmp(kv->key, "x-goog-api-key") == 0) {
            if (kv->value[0] != '\0')
                c->auth = true;
            continue;
        }
        if (strncasecmp(kv->key, "x-ladder-", 9) != 0 || len >= sizeof name ||
            n >= FP_MAX_LOG_HEADERS)
            continue;
        for (size_t i = 0; i <= len; i++) {
            char ch = kv->key[i];
            name[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
        }
        if (fp_secret_header(name))
            continue;
        snprintf(value, sizeof value, "%s", kv->value);
        if (c->hdrs == NULL && (c->hdrs = cJSON_CreateObject()) == NULL)
            return -1;
        if (cJSON_GetObjectItemCaseSensitive(c->hdrs, name) != NULL)
            continue;
        if (cJSON_AddStringToObject(c->hdrs, name, value) == NULL)
            return -1;
        n++;
    }
    return 0;
}

static fp_call *fp_call_new(fp_server *s, struct evhttp_request *req)
{
    fp_call *c = calloc(1, sizeof *c);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    if (c == NULL)
        return NULL;
    c->srv = s;
    c->req = req;
    c->evcon = evhttp_request_get_connection(req);
    if (c->evcon != NULL) {
        char *host = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(c->evcon, &host, &port);
        c->peer_port = port; /* tells the connections apart: a request
                                sent twice comes on two of them */
    }
    c->seq = ++s->seq;
    c->t_start = fp_now();
    c->created = time(NULL);
    c->api = FP_OPENAI;
    snprintf(c->path, sizeof c->path, "%s", path != NULL ? path : "");
    {
        const char *q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
        snprintf(c->query, sizeof c->query, "%s", q != NULL ? q : "");
    }
    snprintf(c->label, sizeof c->label, "none");
    if (fp_capture_headers(c) != 0) {
        fp_call_free(c);
        return NULL;
    }
    return c;
}

static void fp_start_drain(fp_server *s)
{
    s->draining = true;
    if (s->bound != NULL) {
        evhttp_del_accept_socket(s->http, s->bound);
        s->bound = NULL;
    }
}

/* What a cloud checks before reading the body: POST, Azure's api-version,
 * Bedrock's signature. 0 go on; -1 answered. */
static int fp_cloud_check(fp_call *c, enum evhttp_cmd_type m)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(c->req);
    const char *q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
    char why[160];
    if (m != EVHTTP_REQ_POST) {
        snprintf(c->label, sizeof c->label, "invalid");
        fp_bad_request(c, 405, "method_not_allowed", "use POST");
        return -1;
    }
    if (c->cloud == FP_CLOUD_AZURE &&
        (q == NULL || strstr(q, "api-version=") == NULL)) {
        snprintf(c->label, sizeof c->label, "not_found");
        fp_bad_request(c, 404, "404", "Resource not found (no api-version)");
        return -1;
    }
    if (c->cloud == FP_CLOUD_BEDROCK && c->srv->o.aws_secret != NULL &&
        !fp_sigv4_ok(c, c->srv->o.aws_secret, why, sizeof why)) {
        fp_err e = {403, "InvalidSignatureException", NULL, NULL, NULL, why,
                    NULL};
        snprintf(c->label, sizeof c->label, "bad_signature");
        fp_error(c, &e, -1);
        return -1;
    }
    return 0;
}

void fp_on_request(struct evhttp_request *req, void *arg)
{
    fp_server *s = arg;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    fp_call *c = fp_call_new(s, req);

    if (c == NULL) {
        fprintf(stderr, "fake_provider: out of memory for a request\n");
        evhttp_send_reply(req, 500, "Internal Server Error", NULL);
        return;
    }
    s->requests++;
    if (s->o.max_requests > 0 && s->requests >= s->o.max_requests &&
        !s->draining)
        fp_start_drain(s);

    if (strcmp(c->path, "/v1/models") == 0) {
        snprintf(c->label, sizeof c->label, "models");
        if (m != EVHTTP_REQ_GET)
            fp_bad_request(c, 405, "method_not_allowed", "use GET /v1/models");
        else
            fp_reply_models(c);
        return;
    }
    if (strcmp(c->path, "/v1/chat/completions") == 0) {
        c->api = FP_OPENAI;
    } else if (strcmp(c->path, "/v1/messages") == 0) {
        c->api = FP_ANTHROPIC;
    } else if (strcmp(c->path, "/v1/embeddings") == 0) {
        c->api = FP_EMBED;
    } else if (strcmp(c->path, "/v1/responses") == 0) {
        c->api = FP_RESPONSES;
    } else if (fp_cloud_match(c)) {
        if (fp_cloud_check(c, m) != 0)
            return;
        if (c->cloud != FP_CLOUD_AZURE) {
            if (fp_cloud_parse(c) == 0)
                fp_run(c);
            return;
        }
    } else {
        snprintf(c->label, sizeof c->label, "not_found");
        fp_bad_request(c, 404, "unknown_url", "Unknown request URL");
        return;
    }
    if (m != EVHTTP_REQ_POST) {
        snprintf(c->label, sizeof c->label, "invalid");
        fp_bad_request(c, 405, "method_not_allowed", "use POST");
        return;
    }
    if ((c->api == FP_EMBED       ? fp_parse_embed(c)
         : c->api == FP_RESPONSES ? fp_resp_parse(c)
                                  : fp_parse_request(c)) != 0)
        return;
    fp_run(c);
}
