/* fp.h - what the fake provider's files share (private to
 * tools/fake_provider.c and tools/fake_provider/): caps, the behaviours, the
 * server's and each call's state, and the functions one file calls in
 * another.
 *
 * tools/fake_provider.c  main: options, behaviour names, the server's start
 *                        and stop (signals, lifetime, draining)
 * fp_json.c              JSON helpers (every add checked) and the log line
 * fp_call.c              a call's lifetime (deferred calls, timers, the
 *                        connection's close) and the replies (errors)
 * fp_answer.c            the answer's text, SSE events, streamed and delayed
 *                        answers
 * fp_request.c           reading a request (body, model, prefill, headers)
 *                        and choosing what the behaviour answers
 * fp_cloud.c             Azure OpenAI, Gemini and Bedrock: their paths,
 *                        bodies, answers, stream events and errors
 * fp_responses.c         OpenAI's Responses API: its body, answer and
 *                        stream events
 * fp_sigv4.c             checking a request's AWS SigV4 signature
 */
#ifndef FP_H
#define FP_H

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

/* ---- behaviours --------------------------------------------------------- */

typedef enum fp_kind {
    FP_HEALTHY, FP_RATELIMIT, FP_FLAKY_ONCE, FP_DOWN, FP_DOWN_FOR, FP_RESET,
    FP_SILENT, FP_SLOW_TTFT, FP_CUT, FP_STALL, FP_MALFORMED, FP_NODONE,
    FP_CONTEXT, FP_CONTENT, FP_NOPREFILL, FP_AUTH, FP_OVERLOADED, FP_TOOL
} fp_kind;

/* A behaviour name is NAME or NAME-<n> or NAME-<n>-<m>. */
typedef struct fp_kind_spec {
    const char *name;
    fp_kind kind;
    int nparams;
    long max_a, max_b;
} fp_kind_spec;

typedef struct fp_behaviour {
    const fp_kind_spec *spec;
    long a, b;                  /* parameters, -1 when absent */
} fp_behaviour;

/* ---- server and call state ---------------------------------------------- */

typedef struct fp_opts {
    int port;
    const char *log_path;
    const char *expect_key;
    const char *aws_secret;   /* --aws-secret: Bedrock calls must be signed
                                 with it (NULL: not checked) */
    fp_behaviour dflt;
    long tokens, token_ms, max_requests;
    long lifetime_s; /* --max-lifetime; 0: none */
    long capacity;   /* --capacity: calls in service at once; 0: no cap */
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

/* FP_EMBED: OpenAI's POST /v1/embeddings (answers in the OpenAI shape);
 * FP_RESPONSES: OpenAI's POST /v1/responses (errors in the OpenAI shape) */
typedef enum fp_api { FP_OPENAI, FP_ANTHROPIC, FP_EMBED, FP_RESPONSES } fp_api;
/* A cloud's flavour of the API: Azure speaks OpenAI's (api FP_OPENAI);
 * Gemini and Bedrock have formats of their own (fp_cloud.c). */
typedef enum fp_cloud {
    FP_CLOUD_NONE, FP_CLOUD_AZURE, FP_CLOUD_GEMINI, FP_CLOUD_BEDROCK
} fp_cloud;

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
    int peer_port;              /* the client's port: its connection */
    fp_us t_start;
    time_t created;
    char path[FP_MAX_PATH];
    char query[FP_MAX_PATH];    /* the URL's query as sent ("" none) */
    fp_api api;
    fp_cloud cloud;
    char *model;                /* NULL until a valid model was read */
    char *instructions;         /* Responses: the request's instructions,
                                   echoed in the response object (NULL:
                                   none) */
    bool stream, include_usage, prefill, auth;
    long n_tokens, prompt_tokens;
    long choices;               /* OpenAI "n": choices in a non-stream
                                   answer (1 unless asked) */
    long n_inputs, dims;        /* embeddings: inputs and vector size */
    long skip;                  /* answer tokens an assistant prefill
                                   already holds: the answer goes on from
                                   there ("tok1 tok2" -> "tok3 ...") */
    long attempt;               /* 0: not counted */
    fp_behaviour beh;
    char label[64];             /* "behaviour" in the log */
    char tool[64];              /* the request's first tool's name, "" none */
    cJSON *hdrs;                /* x-ladder-* request headers, or NULL */
    /* the answer */
    int status;                 /* 0 while no status line was sent */
    fp_phase phase;
    long sent, events, hook_k;
    bool hook_done;
    char *body;                 /* non-stream body kept for a later write */
    size_t body_len;
};

/* An error reply, in both APIs' shapes (fp_call.c). */
typedef struct fp_err {
    int status;
    const char *type;       /* OpenAI error.type */
    const char *code;       /* OpenAI error.code; NULL: null */
    const char *param;      /* OpenAI error.param; NULL: null */
    const char *an_type;    /* Anthropic error.type */
    const char *msg;        /* OpenAI message */
    const char *an_msg;     /* Anthropic message; NULL: msg */
} fp_err;

extern const fp_err FP_E_RATELIMIT;
extern const fp_err FP_E_FLAKY;
extern const fp_err FP_E_DOWN;
extern const fp_err FP_E_CONTEXT;
extern const fp_err FP_E_CONTENT;
extern const fp_err FP_E_PREFILL;
extern const fp_err FP_E_AUTH;
extern const fp_err FP_E_OVERLOADED_OA;
extern const fp_err FP_E_OVERLOADED_AN;
extern const fp_err FP_E_BUSY;

/* ---- fake_provider.c ---------------------------------------------------- */

fp_us fp_now(void);
/* 0 when text names a behaviour (filled into out), -1 when it does not. */
int fp_behaviour_parse(const char *text, fp_behaviour *out);
void fp_behaviour_name(const fp_behaviour *b, char *buf, size_t cap);

/* ---- fp_json.c ------------------------------------------------------------ */

void fp_put_str(cJSON *o, const char *k, const char *v, bool *ok);
void fp_put_num(cJSON *o, const char *k, double v, bool *ok);
void fp_put_bool(cJSON *o, const char *k, bool v, bool *ok);
void fp_put_null(cJSON *o, const char *k, bool *ok);
void fp_put_str_or_null(cJSON *o, const char *k, const char *v, bool *ok);
cJSON *fp_put_obj(cJSON *o, const char *k, bool *ok);
cJSON *fp_put_arr(cJSON *o, const char *k, bool *ok);
/* A new object appended to array a. */
cJSON *fp_push_obj(cJSON *a, bool *ok);
/* The object, or NULL (and o deleted) when a build step failed. */
cJSON *fp_done(cJSON *o, bool ok);
/* Prints o into b and deletes o. 0 ok, -1 out of memory (o or b NULL
 * included). */
int fp_add_json(struct evbuffer *b, cJSON *o);
void fp_log(fp_call *c, const char *outcome, fp_us t_end);

/* ---- fp_call.c ------------------------------------------------------------ */

void fp_call_free(fp_call *c);
/* The one way out of a call: log it, unhook it from the connection and the
 * active list, free it. The request itself is not touched. */
void fp_call_finish(fp_call *c, const char *outcome);
/* Makes c wait: 0 ok, -1 too many waiting calls or out of memory (c is
 * unchanged then). */
int fp_call_defer(fp_call *c);
void fp_arm(fp_call *c, long ms);
/* The client went away, or the server is shutting down. When libevent has
 * detached the request from the dying connection, it is ours to free. */
void fp_on_close(struct evhttp_connection *evcon, void *arg);
/* Drops the connection without a proper end; c is finished first. */
void fp_drop(fp_call *c, const char *outcome);
/* Output written up to the cut point: close without ending the body. */
void fp_on_cut_drained(struct evhttp_connection *evcon, void *arg);
void fp_on_sent(struct evhttp_request *req, void *arg);
/* Content-Type and a request id. 0 ok, -1 a header could not be added. */
int fp_headers(fp_call *c, const char *content_type);
/* Sends a whole reply and finishes c. Takes body (may be NULL). */
void fp_respond(fp_call *c, int status, struct evbuffer *body,
                const char *outcome);
/* Last resort when building a reply failed: a bare 500. */
void fp_respond_internal(fp_call *c);
/* An error reply in the API's own shape; retry_after < 0: no Retry-After. */
void fp_error(fp_call *c, const fp_err *e, long retry_after);
/* A client error with a message of our own (status 400 unless given). */
void fp_bad_request(fp_call *c, int status, const char *code,
                    const char *msg);

/* ---- fp_answer.c ---------------------------------------------------------- */

void fp_stream_begin(fp_call *c);
/* A non-stream answer now: the whole body, 200. */
void fp_send_full(fp_call *c);
/* One SSE event: "event: NAME\n" (when name) and "data: JSON\n\n". Takes
 * o (NULL: -1). 0 ok, -1 out of memory. */
int fp_sse(fp_call *c, struct evbuffer *b, const char *name, cJSON *o);
/* An event whose data is raw text (the malformed line, [DONE]). */
int fp_sse_raw(fp_call *c, struct evbuffer *b, const char *name,
               const char *data);
/* The whole answer text ("tok<skip+1> ... "), malloc'd; NULL: no memory. */
char *fp_content_text(const fp_call *c);
/* "tool" (OpenAI API): a call of the request's first tool with arguments
 * {"city":"Paris"}, whole or as one SSE body (the call's id and name, the
 * arguments in two pieces, finish_reason tool_calls, usage, [DONE]). */
void fp_send_tool(fp_call *c);
/* An embeddings answer: per input a vector of c->dims numbers (input i's
 * element k is i + k / 10), usage from c->prompt_tokens. */
void fp_send_embeddings(fp_call *c);
/* Non-stream cut and stall: Content-Length of the whole body, then the first
 * half; the rest never comes (cut) or comes after a pause (stall). */
void fp_send_half(fp_call *c);
void fp_on_timer(evutil_socket_t fd, short what, void *arg);

/* ---- fp_cloud.c ----------------------------------------------------------- */

/* Whether the path is an Azure, Gemini or Bedrock call (c->cloud, c->api,
 * and for Gemini and Bedrock c->model and c->stream set from it). */
bool fp_cloud_match(fp_call *c);
/* A Gemini or Bedrock body into c (as fp_request.c reads the others). 0
 * ok; -1 when it answered an error already. */
int fp_cloud_parse(fp_call *c);
/* A Gemini or Bedrock whole answer, printed (cJSON_free); NULL: no
 * memory. blocked: the safety block of the content behaviour. */
char *fp_cloud_full_body(const fp_call *c, const char *text, bool blocked);
/* Stream pieces in the cloud's format (Gemini SSE, Bedrock event-stream).
 * 0 ok, -1 out of memory. */
int fp_cloud_preamble(fp_call *c, struct evbuffer *b);
int fp_cloud_token(fp_call *c, struct evbuffer *b, const char *tok);
int fp_cloud_malformed(fp_call *c, struct evbuffer *b);
int fp_cloud_tail(fp_call *c, struct evbuffer *b, bool nodone, bool blocked);
/* An error reply in the cloud's shape (Azure's content filter included). */
void fp_cloud_error(fp_call *c, const fp_err *e, long retry_after);
/* The stream's content type. */
const char *fp_cloud_stream_type(const fp_call *c);

/* ---- fp_responses.c ------------------------------------------------------ */

/* A Responses body into c (model, input, instructions, max_output_tokens,
 * stream). 0 ok; -1 when it answered an error already. */
int fp_resp_parse(fp_call *c);
/* The whole answer, printed (cJSON_free); NULL: no memory. */
char *fp_resp_full_body(const fp_call *c, const char *text);
/* The stream's events (fp_answer.c's steps); 0 ok, -1 out of memory.
 * nodone: no response.completed. */
int fp_resp_preamble(fp_call *c, struct evbuffer *b);
int fp_resp_token(fp_call *c, struct evbuffer *b, const char *tok);
int fp_resp_malformed(fp_call *c, struct evbuffer *b);
int fp_resp_tail(fp_call *c, struct evbuffer *b, bool nodone);

/* ---- fp_sigv4.c ----------------------------------------------------------- */

/* Whether the request carries a valid AWS SigV4 signature made with
 * secret (the key id is not checked: any). why gets the reason when not. */
bool fp_sigv4_ok(fp_call *c, const char *secret, char *why, size_t cap);

/* ---- fp_request.c --------------------------------------------------------- */

/* The behaviour and the attempt count of a parsed request. 0 ok; -1 when
 * it answered an error already. */
int fp_request_finish(fp_call *c);

void fp_on_request(struct evhttp_request *req, void *arg);

#endif
