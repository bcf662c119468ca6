/* fake_provider.c - a fake LLM provider for Ladder's integration tests and
 * demos.
 *
 * One single-threaded libevent HTTP server on 127.0.0.1 that speaks enough of
 * OpenAI's chat completions API (POST /v1/chat/completions, GET /v1/models)
 * and of Anthropic's Messages API (POST /v1/messages), streaming or not, for a
 * router to talk to it. The request's "model" picks how the fake behaves, so
 * one process can play every route of a ladder; fp_usage() lists the
 * behaviours. Answers are deterministic: N "tokens" "tok1 tok2 ... tokN ",
 * and a prefill holding the first K of them is continued from tok<K+1>.
 *
 * Every request gets one JSON line in the --log file once it is over
 * (answered, cut, reset, abandoned by the client or stopped at shutdown).
 *
 * Lifetime of a request: fp_on_request() makes an fp_call. Calls answered at
 * once are logged and freed there. Calls that wait (streams, delays, silence)
 * are "deferred": they sit on the server's active list, own one timer, and
 * hold the connection's close callback, which is how the fake learns that a
 * client went away (libevent then detaches the request and leaves it to us).
 * fp_call_finish() is the one exit: it logs, unhooks and frees the call, and
 * is always called before the request is handed back to libevent for the
 * last time (reply end, connection free).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cli_opt.h"

#define FP_MAX_BODY (1024 * 1024)      /* request body cap: 413 above */
#define FP_MAX_HEADERS (64 * 1024)     /* request header block cap */
#define FP_MAX_TOKENS 16384            /* max_tokens above this is clamped */
#define FP_MAX_MODELS 1024             /* distinct model names counted */
#define FP_MAX_MODEL_LEN 200
#define FP_MAX_ACTIVE 1024             /* deferred calls at once */
#define FP_MAX_LOG_HEADERS 16
#define FP_MAX_LOG_VALUE 200
#define FP_MAX_PATH 256
#define FP_WATCH_READ_CAP (64 * 1024)  /* bytes buffered from a waiting client */
#define FP_DRAIN_GRACE_MS 1000

/* Monotonic time in microseconds. */
typedef int64_t fp_us;

static fp_us fp_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (fp_us)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- behaviours --------------------------------------------------------- */

typedef enum fp_kind {
    FP_HEALTHY, FP_RATELIMIT, FP_FLAKY_ONCE, FP_DOWN, FP_DOWN_FOR, FP_RESET,
    FP_SILENT, FP_SLOW_TTFT, FP_CUT, FP_STALL, FP_MALFORMED, FP_NODONE,
    FP_CONTEXT, FP_CONTENT, FP_NOPREFILL, FP_AUTH, FP_OVERLOADED
} fp_kind;

/* A behaviour name is NAME or NAME-<n> or NAME-<n>-<m>. */
typedef struct fp_kind_spec {
    const char *name;
    fp_kind kind;
    int nparams;
    long max_a, max_b;
} fp_kind_spec;

static const fp_kind_spec fp_kinds[] = {
    {"healthy", FP_HEALTHY, 0, 0, 0},
    {"ratelimit", FP_RATELIMIT, 0, 0, 0},
    {"ratelimit-ra", FP_RATELIMIT, 1, 86400, 0},
    {"flaky-once", FP_FLAKY_ONCE, 0, 0, 0},
    {"down", FP_DOWN, 0, 0, 0},
    {"down-for", FP_DOWN_FOR, 1, 3600000, 0},
    {"reset", FP_RESET, 0, 0, 0},
    {"silent", FP_SILENT, 0, 0, 0},
    {"slow-ttft", FP_SLOW_TTFT, 1, 3600000, 0},
    {"cut", FP_CUT, 1, 1000000, 0},
    {"stall", FP_STALL, 2, 1000000, 3600000},
    {"malformed", FP_MALFORMED, 1, 1000000, 0},
    {"nodone", FP_NODONE, 0, 0, 0},
    {"context", FP_CONTEXT, 0, 0, 0},
    {"content", FP_CONTENT, 0, 0, 0},
    {"noprefill", FP_NOPREFILL, 0, 0, 0},
    {"auth", FP_AUTH, 0, 0, 0},
    {"overloaded", FP_OVERLOADED, 0, 0, 0},
};

/* Names GET /v1/models lists, one per behaviour. */
static const char *const fp_model_examples[] = {
    "healthy", "ratelimit", "ratelimit-ra-2", "flaky-once", "down",
    "down-for-1000", "reset", "silent", "slow-ttft-500", "cut-3",
    "stall-3-1000", "malformed-3", "nodone", "context", "content",
    "noprefill", "auth", "overloaded",
};

typedef struct fp_behaviour {
    const fp_kind_spec *spec;
    long a, b;                  /* parameters, -1 when absent */
} fp_behaviour;

/* Reads "-<digits>" at *p, at most max; advances *p. 0 ok, -1 not a number. */
static int fp_parse_param(const char **p, long max, long *out)
{
    const char *s = *p;
    long v = 0;
    int n = 0;
    if (*s != '-')
        return -1;
    s++;
    while (*s >= '0' && *s <= '9') {
        if (++n > 9)
            return -1;
        v = v * 10 + (*s - '0');
        s++;
    }
    if (n == 0 || v > max)
        return -1;
    *p = s;
    *out = v;
    return 0;
}

/* 0 when text names a behaviour (filled into out), -1 when it does not. */
static int fp_behaviour_parse(const char *text, fp_behaviour *out)
{
    for (size_t i = 0; i < sizeof fp_kinds / sizeof fp_kinds[0]; i++) {
        const fp_kind_spec *k = &fp_kinds[i];
        size_t len = strlen(k->name);
        const char *p = text + len;
        fp_behaviour b = {k, -1, -1};
        if (strncmp(text, k->name, len) != 0)
            continue;
        if (k->nparams >= 1 && fp_parse_param(&p, k->max_a, &b.a) != 0)
            continue;
        if (k->nparams >= 2 && fp_parse_param(&p, k->max_b, &b.b) != 0)
            continue;
        if (*p != '\0')
            continue;
        *out = b;
        return 0;
    }
    return -1;
}

static void fp_behaviour_name(const fp_behaviour *b, char *buf, size_t cap)
{
    if (b->spec->nparams == 0)
        snprintf(buf, cap, "%s", b->spec->name);
    else if (b->spec->nparams == 1)
        snprintf(buf, cap, "%s-%ld", b->spec->name, b->a);
    else
        snprintf(buf, cap, "%s-%ld-%ld", b->spec->name, b->a, b->b);
}

/* ---- server and call state ---------------------------------------------- */

typedef struct fp_opts {
    int port;
    const char *log_path;
    const char *expect_key;
    fp_behaviour dflt;
    long tokens, token_ms, max_requests;
    long lifetime_s; /* --max-lifetime; 0: none */
} fp_opts;

typedef struct fp_model {
    char *name;
    long attempts;
} fp_model;

typedef struct fp_call fp_call;

typedef struct fp_server {
    fp_opts o;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct event *sig_term, *sig_int, *lifetime, *grace;
    FILE *log;
    fp_us t0;
    uint64_t seq;
    long requests;
    fp_model models[FP_MAX_MODELS];
    size_t n_models;
    fp_call *active;            /* deferred calls, a doubly linked list */
    size_t n_active;
    long unsent;                /* replies handed to libevent, not yet sent */
    bool draining, exiting, stopping;
} fp_server;

typedef enum fp_api { FP_OPENAI, FP_ANTHROPIC } fp_api;

typedef enum fp_phase {
    FP_PH_NONE, FP_PH_PRE, FP_PH_TOKENS, FP_PH_NS_FULL, FP_PH_NS_REST
} fp_phase;

struct fp_call {
    fp_server *srv;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    struct event *timer;
    fp_call *prev, *next;
    bool deferred;
    /* the request */
    uint64_t seq;
    fp_us t_start;
    time_t created;
    char path[FP_MAX_PATH];
    fp_api api;
    char *model;                /* NULL until a valid model was read */
    bool stream, include_usage, prefill, auth;
    long n_tokens, prompt_tokens;
    long skip;                  /* answer tokens an assistant prefill
                                   already holds: the answer goes on from
                                   there ("tok1 tok2" -> "tok3 ...") */
    long attempt;               /* 0: not counted */
    fp_behaviour beh;
    char label[64];             /* "behaviour" in the log */
    cJSON *hdrs;                /* x-ladder-* request headers, or NULL */
    /* the answer */
    int status;                 /* 0 while no status line was sent */
    fp_phase phase;
    long sent, events, hook_k;
    bool hook_done;
    char *body;                 /* non-stream body kept for a later write */
    size_t body_len;
};

/* ---- JSON helpers: each add must succeed; a failed add clears *ok ------- */

static void fp_put_str(cJSON *o, const char *k, const char *v, bool *ok)
{
    if (*ok && cJSON_AddStringToObject(o, k, v) == NULL)
        *ok = false;
}

static void fp_put_num(cJSON *o, const char *k, double v, bool *ok)
{
    if (*ok && cJSON_AddNumberToObject(o, k, v) == NULL)
        *ok = false;
}

static void fp_put_bool(cJSON *o, const char *k, bool v, bool *ok)
{
    if (*ok && cJSON_AddBoolToObject(o, k, v) == NULL)
        *ok = false;
}

static void fp_put_null(cJSON *o, const char *k, bool *ok)
{
    if (*ok && cJSON_AddNullToObject(o, k) == NULL)
        *ok = false;
}

static void fp_put_str_or_null(cJSON *o, const char *k, const char *v, bool *ok)
{
    if (v != NULL)
        fp_put_str(o, k, v, ok);
    else
        fp_put_null(o, k, ok);
}

static cJSON *fp_put_obj(cJSON *o, const char *k, bool *ok)
{
    cJSON *c = NULL;
    if (*ok && (c = cJSON_AddObjectToObject(o, k)) == NULL)
        *ok = false;
    return c;
}

static cJSON *fp_put_arr(cJSON *o, const char *k, bool *ok)
{
    cJSON *c = NULL;
    if (*ok && (c = cJSON_AddArrayToObject(o, k)) == NULL)
        *ok = false;
    return c;
}

/* A new object appended to array a. */
static cJSON *fp_push_obj(cJSON *a, bool *ok)
{
    cJSON *c;
    if (!*ok)
        return NULL;
    c = cJSON_CreateObject();
    if (c == NULL || !cJSON_AddItemToArray(a, c)) {
        cJSON_Delete(c);
        *ok = false;
        return NULL;
    }
    return c;
}

/* The object, or NULL (and o deleted) when a build step failed. */
static cJSON *fp_done(cJSON *o, bool ok)
{
    if (ok)
        return o;
    cJSON_Delete(o);
    return NULL;
}

/* Prints o into b and deletes o. 0 ok, -1 out of memory (o or b NULL
 * included). */
static int fp_add_json(struct evbuffer *b, cJSON *o)
{
    char *s;
    int rc = -1;
    if (o == NULL || b == NULL) {
        cJSON_Delete(o);
        return -1;
    }
    s = cJSON_PrintUnformatted(o);
    if (s != NULL && evbuffer_add(b, s, strlen(s)) == 0)
        rc = 0;
    cJSON_free(s);
    cJSON_Delete(o);
    return rc;
}

/* ---- the log ------------------------------------------------------------ */

static void fp_log(fp_call *c, const char *outcome, fp_us t_end)
{
    fp_server *s = c->srv;
    cJSON *o;
    bool ok = true;
    char *line;

    if (s->log == NULL)
        return;
    o = cJSON_CreateObject();
    ok = o != NULL;
    fp_put_num(o, "t_ms", (double)((c->t_start - s->t0) / 1000), &ok);
    fp_put_str(o, "path", c->path, &ok);
    fp_put_str_or_null(o, "model", c->model, &ok);
    fp_put_bool(o, "stream", c->stream, &ok);
    fp_put_str(o, "behaviour", c->label, &ok);
    if (c->status > 0)
        fp_put_num(o, "status", c->status, &ok);
    else
        fp_put_null(o, "status", &ok);
    if (c->attempt > 0)
        fp_put_num(o, "attempt", (double)c->attempt, &ok);
    else
        fp_put_null(o, "attempt", &ok);
    if (ok && c->hdrs != NULL) {
        if (cJSON_AddItemToObject(o, "headers", c->hdrs))
            c->hdrs = NULL;     /* the log line owns it now */
        else
            ok = false;
    }
    fp_put_bool(o, "auth", c->auth, &ok);
    fp_put_str(o, "outcome", outcome, &ok);
    fp_put_num(o, "end_ms", (double)((t_end - s->t0) / 1000), &ok);
    if (c->prefill)
        fp_put_num(o, "prefill_tokens", (double)c->skip, &ok);
    if (c->stream) {
        fp_put_num(o, "chunks", (double)c->sent, &ok);
        fp_put_num(o, "events", (double)c->events, &ok);
    }
    line = ok ? cJSON_PrintUnformatted(o) : NULL;
    if (line == NULL || fputs(line, s->log) == EOF ||
        fputc('\n', s->log) == EOF || fflush(s->log) != 0)
        fprintf(stderr, "fake_provider: cannot write a log line\n");
    cJSON_free(line);
    cJSON_Delete(o);
}

/* ---- call lifetime ------------------------------------------------------ */

static void fp_on_close(struct evhttp_connection *evcon, void *arg);
static void fp_on_timer(evutil_socket_t fd, short what, void *arg);

static void fp_call_free(fp_call *c)
{
    if (c == NULL)
        return;
    if (c->timer != NULL)
        event_free(c->timer);
    free(c->model);
    free(c->body);
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
static void fp_call_finish(fp_call *c, const char *outcome)
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
static int fp_call_defer(fp_call *c)
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

static void fp_arm(fp_call *c, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (evtimer_add(c->timer, &tv) != 0)
        fprintf(stderr, "fake_provider: cannot arm a timer\n");
}

/* The client went away, or the server is shutting down. When libevent has
 * detached the request from the dying connection, it is ours to free. */
static void fp_on_close(struct evhttp_connection *evcon, void *arg)
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
static void fp_drop(fp_call *c, const char *outcome)
{
    struct evhttp_connection *evcon = c->evcon;
    fp_call_finish(c, outcome);
    if (evcon != NULL)
        evhttp_connection_free(evcon);
}

/* Output written up to the cut point: close without ending the body. */
static void fp_on_cut_drained(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    fp_drop(arg, "cut");
}

static void fp_on_sent(struct evhttp_request *req, void *arg)
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
static int fp_headers(fp_call *c, const char *content_type)
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
static void fp_respond(fp_call *c, int status, struct evbuffer *body,
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
static void fp_respond_internal(fp_call *c)
{
    fprintf(stderr, "fake_provider: out of memory building a reply\n");
    fp_respond(c, 500, NULL, "internal_error");
}

typedef struct fp_err {
    int status;
    const char *type;       /* OpenAI error.type */
    const char *code;       /* OpenAI error.code; NULL: null */
    const char *param;      /* OpenAI error.param; NULL: null */
    const char *an_type;    /* Anthropic error.type */
    const char *msg;        /* OpenAI message */
    const char *an_msg;     /* Anthropic message; NULL: msg */
} fp_err;

static const fp_err FP_E_RATELIMIT = {
    429, "requests", "rate_limit_exceeded", NULL, "rate_limit_error",
    "Rate limit reached for requests (fake provider). Please try again later.",
    NULL};
static const fp_err FP_E_FLAKY = {
    500, "server_error", NULL, NULL, "api_error",
    "The server had an error while processing your request (fake provider).",
    NULL};
static const fp_err FP_E_DOWN = {
    503, "server_error", "service_unavailable", NULL, "api_error",
    "The service is temporarily unavailable (fake provider: down).", NULL};
static const fp_err FP_E_CONTEXT = {
    400, "invalid_request_error", "context_length_exceeded", "messages",
    "invalid_request_error",
    "This model's maximum context length is 8192 tokens. However, your "
    "messages resulted in more tokens. Please reduce the length of the "
    "messages.",
    "prompt is too long: 250000 tokens > 200000 maximum"};
static const fp_err FP_E_CONTENT = {
    400, "invalid_request_error", "content_policy_violation", NULL,
    "invalid_request_error",
    "Your request was rejected as a result of our safety system.",
    "Output blocked by content filtering policy"};
static const fp_err FP_E_PREFILL = {
    400, "invalid_request_error", "invalid_value", "messages",
    "invalid_request_error",
    "This model does not support assistant message prefill. The "
    "conversation must end with a user message.", NULL};
static const fp_err FP_E_AUTH = {
    401, "invalid_request_error", "invalid_api_key", NULL,
    "authentication_error", "Incorrect API key provided.",
    "invalid x-api-key"};
static const fp_err FP_E_OVERLOADED_OA = {
    503, "server_error", "service_unavailable", NULL, "overloaded_error",
    "The engine is currently overloaded, please try again later.", NULL};
static const fp_err FP_E_OVERLOADED_AN = {
    529, "server_error", NULL, NULL, "overloaded_error", "Overloaded", NULL};
static const fp_err FP_E_BUSY = {
    503, "server_error", "service_unavailable", NULL, "api_error",
    "fake provider: too many open requests or models", NULL};

/* An error reply in the API's own shape; retry_after < 0: no Retry-After. */
static void fp_error(fp_call *c, const fp_err *e, long retry_after)
{
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
static void fp_bad_request(fp_call *c, int status, const char *code,
                           const char *msg)
{
    fp_err e = {status, "invalid_request_error", code, NULL,
                status == 404 ? "not_found_error" : "invalid_request_error",
                msg, NULL};
    fp_error(c, &e, -1);
}

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

static cJSON *fp_oa_usage(const fp_call *c, cJSON *parent, bool *ok)
{
    cJSON *u = fp_put_obj(parent, "usage", ok);
    fp_put_num(u, "prompt_tokens", (double)c->prompt_tokens, ok);
    fp_put_num(u, "completion_tokens", (double)c->n_tokens, ok);
    fp_put_num(u, "total_tokens", (double)(c->prompt_tokens + c->n_tokens), ok);
    return u;
}

/* The non-stream answer, printed; NULL when out of memory. */
static char *fp_full_body(const fp_call *c)
{
    char *text = fp_content(c->skip, c->n_tokens), *out = NULL;
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL && text != NULL;
    char id[48];

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
        ch = fp_push_obj(arr, &ok);
        fp_put_num(ch, "index", 0, &ok);
        msg = fp_put_obj(ch, "message", &ok);
        fp_put_str(msg, "role", "assistant", &ok);
        fp_put_str(msg, "content", text, &ok);
        fp_put_null(msg, "refusal", &ok);
        fp_put_null(ch, "logprobs", &ok);
        fp_put_str(ch, "finish_reason", "stop", &ok);
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

/* One SSE event: "event: NAME\n" (when name) and "data: JSON\n\n". Takes o. */
static int fp_sse(fp_call *c, struct evbuffer *b, const char *name, cJSON *o)
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

/* An event whose data is raw text (the malformed line, [DONE]). */
static int fp_sse_raw(fp_call *c, struct evbuffer *b, const char *name,
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
    if (rc == 0 && !cut && !stalled && c->sent == c->n_tokens) {
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

static void fp_stream_begin(fp_call *c)
{
    fp_kind kind = c->beh.spec->kind;
    struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);

    if (fp_call_defer(c) != 0) {
        fp_error(c, &FP_E_BUSY, -1);
        return;
    }
    if (fp_headers(c, "text/event-stream") != 0 ||
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
static void fp_send_full(fp_call *c)
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
static void fp_send_half(fp_call *c)
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

static void fp_on_timer(evutil_socket_t fd, short what, void *arg)
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

/* ---- request handling --------------------------------------------------- */

/* Words in a message content: a string, or an array of parts with "text". */
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
    v = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    if (cJSON_IsObject(v))
        c->include_usage =
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "include_usage"));

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

/* Whether the request carries the key --expect-key asks for (any key when
 * none was given). */
static bool fp_auth_ok(const fp_call *c)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(c->req);
    const char *want = c->srv->o.expect_key;
    const char *a = evhttp_find_header(h, "Authorization");
    const char *k = evhttp_find_header(h, "x-api-key");
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
    switch (c->beh.spec->kind) {
    case FP_RATELIMIT:
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
        fp_error(c, c->api == FP_ANTHROPIC ? &FP_E_OVERLOADED_AN
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
            strcasecmp(kv->key, "x-api-key") == 0) {
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
    c->seq = ++s->seq;
    c->t_start = fp_now();
    c->created = time(NULL);
    c->api = FP_OPENAI;
    snprintf(c->path, sizeof c->path, "%s", path != NULL ? path : "");
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

static void fp_on_request(struct evhttp_request *req, void *arg)
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
    if (fp_parse_request(c) != 0)
        return;
    fp_run(c);
}

/* ---- main --------------------------------------------------------------- */

static void fp_on_signal(evutil_socket_t sig, short what, void *arg)
{
    fp_server *s = arg;
    (void)what;
    fprintf(stderr, "fake_provider: signal %d, stopping\n", (int)sig);
    event_base_loopexit(s->base, NULL);
}

static void fp_on_lifetime(evutil_socket_t fd, short what, void *arg)
{
    fp_server *s = arg;
    (void)fd;
    (void)what;
    fprintf(stderr, "fake_provider: lifetime of %ld s reached, stopping\n",
            s->o.lifetime_s);
    event_base_loopexit(s->base, NULL);
}

static void fp_on_grace(evutil_socket_t fd, short what, void *arg)
{
    fp_server *s = arg;
    (void)fd;
    (void)what;
    s->exiting = true;
    event_base_loopexit(s->base, NULL);
}

typedef struct fp_args {
    fp_opts *o;
    long long port, tokens, token_ms, max_requests, max_lifetime;
    const char *log_path, *expect_key;
} fp_args;

static int fp_take_behaviour(void *opts, const char *v, char *why, size_t cap)
{
    fp_args *a = opts;
    if (fp_behaviour_parse(v, &a->o->dflt) == 0)
        return 0;
    snprintf(why, cap, "unknown behaviour \"%s\" (see --help)", v);
    return -1;
}

#define AT(f) CLI_AT(fp_args, f)
static const cli_opt fp_opt_table[] = {
    {"port", CLI_INT, "N", "listen port; 0 (default) picks a free one",
     .off = AT(port), .min = 0, .max = 65535},
    {"log", CLI_STR, "FILE", "one JSON line per request, written when it is "
     "over", .off = AT(log_path)},
    {"behaviour", CLI_CALL, "NAME", "what a model not named after a "
     "behaviour gets (default healthy)", .fn = fp_take_behaviour},
    {"behavior", CLI_CALL, "NAME", "the same", .fn = fp_take_behaviour},
    {"expect-key", CLI_STR, "KEY", "the key the auth behaviour wants",
     .off = AT(expect_key)},
    {"tokens", CLI_INT, "N", "default answer length (20; at most 16384)",
     .off = AT(tokens), .min = 1, .max = FP_MAX_TOKENS},
    {"token-ms", CLI_INT, "MS", "pause between streamed tokens (0)",
     .off = AT(token_ms), .min = 0, .max = 60000},
    {"max-requests", CLI_INT, "N", "stop after N requests are answered (0: "
     "no limit)", .off = AT(max_requests), .min = 0, .max = 100000000},
    {"max-lifetime", CLI_INT, "S", "stop after S seconds whatever happens "
     "(default: never; tests pass it so that a crashed test leaves nothing "
     "running)", .off = AT(max_lifetime), .min = 1, .max = 86400},
    {"lifetime-s", CLI_INT, "S", "the same as --max-lifetime",
     .off = AT(max_lifetime), .min = 1, .max = 86400},
    {.name = NULL}};
#undef AT

static const cli_cmd fp_cmd = {
    "fake_provider",
    {NULL, CLI_FLAG, NULL, NULL, .off = 0},
"A fake LLM provider on 127.0.0.1 for tests and demos: OpenAI\n"
"POST /v1/chat/completions and GET /v1/models, Anthropic POST /v1/messages,\n"
"streaming or not. Prints \"port N\" as its first line on stdout.\n"
"\n"
"The request's model picks the behaviour (its last '/'-separated part, so\n"
"\"a/down\" and \"b/down\" are two routes that are both down); any other\n"
"name gets --behaviour (default healthy):\n"
"  healthy            N tokens \"tok1 tok2 ... \" (N = max_tokens or --tokens)\n"
"  ratelimit          429, no Retry-After\n"
"  ratelimit-ra-S     429 with Retry-After: S\n"
"  flaky-once         500 on the model's first request, then healthy\n"
"  down               503\n"
"  down-for-MS        503 for the first MS ms after start, then healthy\n"
"  reset              close the connection (RST) before any header\n"
"  silent             never answer; freed when the client goes away\n"
"  slow-ttft-MS       first token (non-stream: whole answer) after MS ms\n"
"  cut-K              stream: K tokens then close without the end;\n"
"                     non-stream: half the body then close\n"
"  stall-K-MS         stream: K tokens, MS ms of silence, the rest;\n"
"                     non-stream: half the body, pause, the rest\n"
"  malformed-K        stream: after K tokens a \"data: {not json\" event;\n"
"                     non-stream: 200 with a body that is not JSON\n"
"  nodone             stream ends with finish reason and usage but no\n"
"                     [DONE] (Anthropic: no message_stop), then closes\n"
"  context            400 context_length_exceeded (Anthropic: prompt is\n"
"                     too long)\n"
"  content            400 content_policy_violation\n"
"  noprefill          400 when the last message is the assistant's\n"
"  auth               401 unless Authorization: Bearer KEY or x-api-key: KEY\n"
"                     matches --expect-key (any key when not given)\n"
"  overloaded         Anthropic 529 overloaded_error; OpenAI 503\n"
"\n"
"  An assistant prefill that starts with the answer's own tokens (\"tok1\n"
"  tok2 \") is continued from the next one; the log line says how many\n"
"  tokens it held (prefill_tokens).\n",
    fp_opt_table,
"Stops cleanly on SIGTERM and SIGINT. Exit: 0 stopped, 1 runtime error,\n"
"2 usage.\n"};

/* 0 parsed, 1 help printed, -1 usage error printed. */
static int fp_parse_args(int argc, char **argv, fp_opts *o)
{
    if (fp_behaviour_parse("healthy", &o->dflt) != 0)
        return -1;
    fp_args a = {.o = o, .tokens = 20};
    int rc = cli_opt_parse(&fp_cmd, argc, argv, &a);
    if (rc != CLI_PARSED)
        return rc == CLI_HELP ? 1 : -1;
    o->port = (int)a.port;
    o->log_path = a.log_path;
    o->expect_key = a.expect_key;
    o->tokens = (long)a.tokens;
    o->token_ms = (long)a.token_ms;
    o->max_requests = (long)a.max_requests;
    o->lifetime_s = (long)a.max_lifetime;
    return 0;
}

/* Creates the server's events and socket. 0 ok, -1 failed (message printed). */
static int fp_server_start(fp_server *s)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    struct timeval life = {s->o.lifetime_s, 0};

    s->base = event_base_new();
    if (s->base == NULL)
        return -1;
    s->http = evhttp_new(s->base);
    s->sig_term = evsignal_new(s->base, SIGTERM, fp_on_signal, s);
    s->sig_int = evsignal_new(s->base, SIGINT, fp_on_signal, s);
    s->lifetime = evtimer_new(s->base, fp_on_lifetime, s);
    s->grace = evtimer_new(s->base, fp_on_grace, s);
    if (s->http == NULL || s->sig_term == NULL || s->sig_int == NULL ||
        s->lifetime == NULL || s->grace == NULL ||
        event_add(s->sig_term, NULL) != 0 || event_add(s->sig_int, NULL) != 0 ||
        (s->o.lifetime_s > 0 && evtimer_add(s->lifetime, &life) != 0)) {
        fprintf(stderr, "fake_provider: cannot set up the event loop\n");
        return -1;
    }
    evhttp_set_max_body_size(s->http, FP_MAX_BODY);
    evhttp_set_max_headers_size(s->http, FP_MAX_HEADERS);
    evhttp_set_flags(s->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_gencb(s->http, fp_on_request, s);
    s->bound = evhttp_bind_socket_with_handle(s->http, "127.0.0.1",
                                              (ev_uint16_t)s->o.port);
    if (s->bound == NULL) {
        fprintf(stderr, "fake_provider: cannot listen on 127.0.0.1:%d: %s\n",
                s->o.port, strerror(errno));
        return -1;
    }
    if (getsockname(evhttp_bound_socket_get_fd(s->bound),
                    (struct sockaddr *)&sa, &sl) != 0) {
        fprintf(stderr, "fake_provider: getsockname: %s\n", strerror(errno));
        return -1;
    }
    s->o.port = ntohs(sa.sin_port);
    return 0;
}

static void fp_server_cleanup(fp_server *s)
{
    s->stopping = true;
    if (s->http != NULL)
        evhttp_free(s->http);   /* closes connections: fp_on_close() */
    while (s->active != NULL) {
        s->active->evcon = NULL;
        fp_call_finish(s->active, "shutdown");
    }
    if (s->sig_term != NULL)
        event_free(s->sig_term);
    if (s->sig_int != NULL)
        event_free(s->sig_int);
    if (s->lifetime != NULL)
        event_free(s->lifetime);
    if (s->grace != NULL)
        event_free(s->grace);
    if (s->base != NULL)
        event_base_free(s->base);
    for (size_t i = 0; i < s->n_models; i++)
        free(s->models[i].name);
    if (s->log != NULL && fclose(s->log) != 0)
        fprintf(stderr, "fake_provider: closing the log: %s\n", strerror(errno));
}

int main(int argc, char **argv)
{
    static fp_server srv;
    fp_server *s = &srv;
    struct sigaction sa;
    int rc = 0;

    int pr = fp_parse_args(argc, argv, &s->o);
    if (pr != 0)
        return pr > 0 ? 0 : 2;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0) {
        fprintf(stderr, "fake_provider: sigaction: %s\n", strerror(errno));
        return 1;
    }
    if (s->o.log_path != NULL && (s->log = fopen(s->o.log_path, "w")) == NULL) {
        fprintf(stderr, "fake_provider: cannot open log %s: %s\n",
                s->o.log_path, strerror(errno));
        return 1;
    }
    s->t0 = fp_now();
    if (fp_server_start(s) != 0) {
        rc = 1;
    } else if (printf("port %d\n", s->o.port) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "fake_provider: cannot write to stdout\n");
        rc = 1;
    } else if (event_base_dispatch(s->base) < 0) {
        fprintf(stderr, "fake_provider: event loop failed\n");
        rc = 1;
    }
    fp_server_cleanup(s);
    libevent_global_shutdown();
    return rc;
}
