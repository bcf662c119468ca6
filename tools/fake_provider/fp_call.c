/* fp_call.c - a fake provider call's lifetime (deferred calls, their
 * timer, the connection's close) and its replies (status line, headers,
 * errors in each API's shape); see fp.h. */
#include "fp.h"

/* ---- call lifetime ------------------------------------------------------ */

void fp_call_free(fp_call *c)
{
    if (c == NULL)
        return;
    if (c->timer != NULL)
        event_free(c->timer);
    free(c->model);
    free(c->body);
    free(c->instructions);
    cJSON_Delete(c->hdrs);
    free(c);
}

static void fp_maybe_exit(fp_server *s)
{
    if (!s->draining || s->exiting || s->stopping || s->n_active > 0)
        return;
    if (s->unsent == 0) {
        s->exiting = true;
        event_base_loopexit(s->base, NULL);
    } else if (!evtimer_pending(s->grace, NULL)) {
        struct timeval tv = {FP_DRAIN_GRACE_MS / 1000,
                             (FP_DRAIN_GRACE_MS % 1000) * 1000};
        evtimer_add(s->grace, &tv);
    }
}

/* The one way out of a call: log it, unhook it from the connection and the
 * active list, free it. The request itself is not touched. */
void fp_call_finish(fp_call *c, const char *outcome)
{
    fp_server *s = c->srv;
    if (c->deferred) {
        if (c->prev != NULL)
            c->prev->next = c->next;
        else
            s->active = c->next;
        if (c->next != NULL)
            c->next->prev = c->prev;
        s->n_active--;
        if (c->evcon != NULL) {
            struct bufferevent *bev =
                evhttp_connection_get_bufferevent(c->evcon);
            evhttp_connection_set_closecb(c->evcon, NULL, NULL);
            if (bev != NULL)
                bufferevent_setwatermark(bev, EV_READ, 0, 0);
        }
    }
    fp_log(c, outcome, fp_now());
    fp_call_free(c);
    fp_maybe_exit(s);
}

/* Have libevent report the client closing while we have not written yet:
 * keep reading (into a capped buffer, no read callback), as libevent itself
 * does once a reply has started, so EOF reaches the connection's error path
 * and then fp_on_close(). */
static void fp_watch_close(fp_call *c)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *arg;
    if (bev == NULL)
        return;
    bufferevent_getcb(bev, &rd, &wr, &ev, &arg);
    bufferevent_setcb(bev, NULL, wr, ev, arg);
    bufferevent_setwatermark(bev, EV_READ, 0, FP_WATCH_READ_CAP);
    if (bufferevent_enable(bev, EV_READ) != 0)
        fprintf(stderr, "fake_provider: cannot watch a connection for close\n");
}

/* Makes c wait: 0 ok, -1 too many waiting calls or out of memory (c is
 * unchanged then). */
int fp_call_defer(fp_call *c)
{
    fp_server *s = c->srv;
    if (s->n_active >= FP_MAX_ACTIVE || c->evcon == NULL)
        return -1;
    c->timer = evtimer_new(s->base, fp_on_timer, c);
    if (c->timer == NULL)
        return -1;
    c->deferred = true;
    c->prev = NULL;
    c->next = s->active;
    if (s->active != NULL)
        s->active->prev = c;
    s->active = c;
    s->n_active++;
    evhttp_connection_set_closecb(c->evcon, fp_on_close, c);
    fp_watch_close(c);
    return 0;
}

void fp_arm(fp_call *c, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (evtimer_add(c->timer, &tv) != 0)
        fprintf(stderr, "fake_provider: cannot arm a timer\n");
}

/* The client went away, or the server is shutting down. When libevent has
 * detached the request from the dying connection, it is ours to free. */
void fp_on_close(struct evhttp_connection *evcon, void *arg)
{
    fp_call *c = arg;
    struct evhttp_request *req = c->req;
    bool detached = evhttp_request_get_connection(req) == NULL;
    (void)evcon;
    fp_call_finish(c, c->srv->stopping ? "shutdown" : "client_gone");
    if (detached)
        evhttp_request_free(req);
}

/* Drops the connection without a proper end; c is finished first. */
void fp_drop(fp_call *c, const char *outcome)
{
    struct evhttp_connection *evcon = c->evcon;
    fp_call_finish(c, outcome);
    if (evcon != NULL)
        evhttp_connection_free(evcon);
}

/* Output written up to the cut point: close without ending the body. */
void fp_on_cut_drained(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    fp_drop(arg, "cut");
}

void fp_on_sent(struct evhttp_request *req, void *arg)
{
    fp_server *s = arg;
    (void)req;
    s->unsent--;
    fp_maybe_exit(s);
}

/* ---- replies ------------------------------------------------------------ */

static const char *fp_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 529: return "Overloaded";
    }
    return NULL;
}

/* Content-Type and a request id. 0 ok, -1 a header could not be added. */
int fp_headers(fp_call *c, const char *content_type)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
    char id[48];
    snprintf(id, sizeof id, "req_fake_%" PRIu64, c->seq);
    if (evhttp_add_header(h, "Content-Type", content_type) != 0 ||
        evhttp_add_header(h, c->api == FP_ANTHROPIC ? "request-id"
                                                    : "x-request-id", id) != 0)
        return -1;
    return 0;
}

/* Sends a whole reply and finishes c. Takes body (may be NULL). */
void fp_respond(fp_call *c, int status, struct evbuffer *body,
                const char *outcome)
{
    struct evhttp_request *req = c->req;
    fp_server *s = c->srv;
    c->status = status;
    evhttp_request_set_on_complete_cb(req, fp_on_sent, s);
    s->unsent++;
    fp_call_finish(c, outcome);
    evhttp_send_reply(req, status, fp_reason(status), body);
    if (body != NULL)
        evbuffer_free(body);
}

/* Last resort when building a reply failed: a bare 500. */
void fp_respond_internal(fp_call *c)
{
    fprintf(stderr, "fake_provider: out of memory building a reply\n");
    fp_respond(c, 500, NULL, "internal_error");
}

const fp_err FP_E_RATELIMIT = {
    429, "requests", "rate_limit_exceeded", NULL, "rate_limit_error",
    "Rate limit reached for requests (fake provider). Please try again later.",
    NULL};
const fp_err FP_E_FLAKY = {
    500, "server_error", NULL, NULL, "api_error",
    "The server had an error while processing your request (fake provider).",
    NULL};
const fp_err FP_E_DOWN = {
    503, "server_error", "service_unavailable", NULL, "api_error",
    "The service is temporarily unavailable (fake provider: down).", NULL};
const fp_err FP_E_CONTEXT = {
    400, "invalid_request_error", "context_length_exceeded", "messages",
    "invalid_request_error",
    "This model's maximum context length is 8192 tokens. However, your "
    "messages resulted in more tokens. Please reduce the length of the "
    "messages.",
    "prompt is too long: 250000 tokens > 200000 maximum"};
const fp_err FP_E_CONTENT = {
    400, "invalid_request_error", "content_policy_violation", NULL,
    "invalid_request_error",
    "Your request was rejected as a result of our safety system.",
    "Output blocked by content filtering policy"};
const fp_err FP_E_PREFILL = {
    400, "invalid_request_error", "invalid_value", "messages",
    "invalid_request_error",
    "This model does not support assistant message prefill. The "
    "conversation must end with a user message.", NULL};
const fp_err FP_E_AUTH = {
    401, "invalid_request_error", "invalid_api_key", NULL,
    "authentication_error", "Incorrect API key provided.",
    "invalid x-api-key"};
const fp_err FP_E_OVERLOADED_OA = {
    503, "server_error", "service_unavailable", NULL, "overloaded_error",
    "The engine is currently overloaded, please try again later.", NULL};
const fp_err FP_E_OVERLOADED_AN = {
    529, "server_error", NULL, NULL, "overloaded_error", "Overloaded", NULL};
const fp_err FP_E_BUSY = {
    503, "server_error", "service_unavailable", NULL, "api_error",
    "fake provider: too many open requests or models", NULL};

/* An error reply in the API's own shape; retry_after < 0: no Retry-After. */
void fp_error(fp_call *c, const fp_err *e, long retry_after)
{
    if (c->cloud != FP_CLOUD_NONE) {
        fp_cloud_error(c, e, retry_after);
        return;
    }
    struct evbuffer *b = evbuffer_new();
    cJSON *o = cJSON_CreateObject(), *err;
    bool ok = o != NULL && b != NULL;

    if (c->api == FP_ANTHROPIC) {
        fp_put_str(o, "type", "error", &ok);
        err = fp_put_obj(o, "error", &ok);
        fp_put_str(err, "type", e->an_type, &ok);
        fp_put_str(err, "message", e->an_msg ? e->an_msg : e->msg, &ok);
    } else {
        err = fp_put_obj(o, "error", &ok);
        fp_put_str(err, "message", e->msg, &ok);
        fp_put_str(err, "type", e->type, &ok);
        fp_put_str_or_null(err, "param", e->param, &ok);
        fp_put_str_or_null(err, "code", e->code, &ok);
    }
    o = fp_done(o, ok);
    if (fp_add_json(b, o) != 0 || fp_headers(c, "application/json") != 0) {
        if (b != NULL)
            evbuffer_free(b);
        fp_respond_internal(c);
        return;
    }
    if (retry_after >= 0) {
        char v[24];
        snprintf(v, sizeof v, "%ld", retry_after);
        if (evhttp_add_header(evhttp_request_get_output_headers(c->req),
                              "Retry-After", v) != 0) {
            evbuffer_free(b);
            fp_respond_internal(c);
            return;
        }
    }
    fp_respond(c, e->status, b, "error");
}

/* A client error with a message of our own (status 400 unless given). */
void fp_bad_request(fp_call *c, int status, const char *code,
                    const char *msg)
{
    fp_err e = {status, "invalid_request_error", code, NULL,
                status == 404 ? "not_found_error" : "invalid_request_error",
                msg, NULL};
    fp_error(c, &e, -1);
}
