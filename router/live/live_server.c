/* live_server.c - `ladder serve`: the live router's event loop.
 *
 * Objects:
 *   live_server  the loop, both HTTP listeners, the curl multi handle, the
 *                core, metrics and output files
 *   sreq         one client request: its evhttp request (until the answer
 *                is handed to libevent or the client leaves), its core
 *                request (until FINISH), its timer and its attempts
 *   satt         one upstream attempt: a curl easy handle, the upstream
 *                body, the SSE reader and stream translator, what arrived
 *
 * Re-entrancy. libcurl forbids adding or removing handles from inside its
 * callbacks, and a core report made in a write callback can start or cancel
 * attempts. So actions only mark state: a new attempt and a retired one go
 * on the server's work list, and settle() - run once when the outermost
 * loop callback returns - reads curl's finished transfers, removes and frees
 * retired attempts, adds new ones (and has curl send them right away),
 * and frees finished requests. Every loop callback is wrapped in
 * enter()/leave(): enter() reads the clock once (the one "now" of that
 * tick), leave() settles.
 *
 * Ownership of the evhttp request: ours from the callback until we hand the
 * final reply to libevent (evhttp_send_reply, evhttp_send_reply_end) or the
 * client's connection closes (libevent then detaches the request and we free
 * it in the close callback). While we own it the connection's close callback
 * points at the sreq and the connection keeps reading (into a capped buffer)
 * so that a client that goes away is noticed; libevent does the same once a
 * reply has started.
 */
#include "live_server.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>

#include "ld_core.h"
#include "ld_trace.h"
#include "live_adapter.h"
#include "live_metrics.h"
#include "live_shared.h"

#define LADDER_UA "ladder/0.1.0"

#define DEFAULT_MAX_BODY ((size_t)1 << 20)
#define DEFAULT_MAX_HEADERS ((size_t)64 << 10)
#define DEFAULT_MAX_CONCURRENT 1024
#define DEFAULT_DRAIN_S 30.0
#define DEFAULT_IDLE_S 120.0

#define ANSWER_CAP ((size_t)16 << 20)   /* non-stream upstream body */
#define ERROR_BODY_CAP ((size_t)64 << 10) /* upstream error body kept */
#define SSE_LINE_CAP ((size_t)1 << 20)  /* one SSE line or event */
#define PENDING_OUT_CAP ((size_t)1 << 20) /* stream output before commit */
#define CLIENT_OUT_CAP ((size_t)8 << 20) /* unsent bytes to a slow client */
#define WATCH_READ_CAP ((size_t)64 << 10) /* client bytes read while busy */
#define METRICS_CAP ((size_t)8 << 20)
#define EASY_POOL_MAX 64
#define FEEDBACK_SLOTS 4096
#define HEADER_LINE_MAX 512
#define GRACE_MS 1000                   /* unsent replies at shutdown */
#define MAX_SENDS 2     /* wire sends per attempt: curl's own resend after
                           a reused connection died, once, and no more */
#define EVENT_LINE_CAP 4096

/* ---- types ----------------------------------------------------------------- */

typedef struct live_server live_server;
typedef struct sreq sreq;
typedef struct satt satt;

struct satt {
    sreq *r;
    satt *next;          /* in r->atts */
    satt *next_work;     /* on s->work */
    bool on_work;
    uint32_t no;
    int route;
    ld_provider provider;
    bool stream;
    CURL *easy;
    struct curl_slist *hdrs; /* its own nodes, then the route's fixed list */
    struct curl_slist *own_tail; /* its last own node (cut before freeing) */
    live_buf body;       /* the upstream request body */
    live_buf resp;       /* non-stream answer, or an error body */
    live_buf out;        /* translated stream output not yet sent */
    live_buf answer;     /* the translated non-stream answer */
    int64_t ans_in, ans_out; /* a whole answer's usage; -1 unknown */
    live_sse *sse;
    live_stream *tr;
    int status;          /* 0 until a status line arrived */
    bool got_headers;
    ld_us ra_s, ra_ms;   /* Retry-After, retry-after-ms: -1 none */
    ld_us started, t_first;
    int tokens;          /* content pieces received */
    int sends;           /* times curl put the request on the wire */
    bool in_multi;
    bool retired;        /* cancelled or ended: to be removed and freed */
    bool ended;          /* its end was reported to the core */
    bool abort;          /* stop the transfer (write callback returns 0) */
    bool first_seen, finished, done_seen;
};

struct sreq {
    live_server *s;
    sreq *prev, *next;   /* s->reqs: every request not yet freed */
    sreq *next_zombie;
    uint64_t id;
    char id_str[32];
    struct evhttp_request *http;      /* NULL once released */
    struct evhttp_connection *evcon;  /* NULL once released */
    ld_req *core;                     /* NULL after FINISH */
    live_chat_req chat;
    bool stream;
    int workload, tier;
    ld_us arrived;
    double wall_ms;                   /* arrival, Unix epoch ms */
    struct event *timer;
    satt *atts;
    int natts;
    satt *committed;     /* the attempt whose stream the client reads */
    satt *last_end;      /* the attempt whose end was reported last */
    bool reply_started, client_gone, zombie;
    int status_sent;     /* HTTP status the client got; 0 none */
    int64_t out_estimate;
    live_buf sent;       /* answer text of streams cut mid-way, for the
                            prefill of a continuation */
    char *raw;           /* a stream's request bytes: its parsed form is
                            dropped once the first attempt's body is built,
                            and made again for a later attempt */
    size_t raw_len;
    bool sent_partial;   /* a cut stream's text was not the whole answer */
    ld_trace *tr;        /* its trace record; NULL without --trace */
};

typedef struct sock_ctx {
    live_server *s;
    struct sock_ctx *prev, *next;
    curl_socket_t fd;
    struct event *ev;
} sock_ctx;

typedef struct feedback_slot {
    uint64_t id;
    bool fell_back, recorded;
} feedback_slot;

struct live_server {
    live_server_opts o;
    const ld_policy *p;
    ld_core *core;
    live_metrics *m;
    struct event_base *base;
    struct evhttp *http, *admin;
    struct evhttp_bound_socket *bound, *admin_bound;
    char listen_addr[128], admin_addr[128];
    struct event *sig_term, *sig_int, *drain_timer, *grace_timer, *curl_timer;
    CURLM *multi;
    bool curl_inited;
    CURL *pool[EASY_POOL_MAX];
    int npool;
    sock_ctx *socks;
    gsl_rng *gsl;
    ld_rng rng;
    ld_us now;
    int depth;
    FILE *events, *trace;
    char event_line[EVENT_LINE_CAP];
    /* each route's fixed upstream headers (content type, accept, version,
     * credentials), for stream [1] and whole [0] answers: built once, the
     * tail of every attempt's own list */
    struct curl_slist *route_hdrs[LD_MAX_ROUTES][2];
    double qual_val[LD_MAX_ROUTES];     /* quality last put in qual_str; */
    char qual_str[LD_MAX_ROUTES][32];   /* -1 before the first */
    int nroutes;
    sreq *reqs;
    int nreqs;
    int in_flight;                      /* accepted, not finished */
    sreq *cur;                          /* request of the running core call */
    satt *work;
    sreq *zombies;
    feedback_slot fb[FEEDBACK_SLOTS];
    uint64_t next_id;
    int unsent;                         /* replies handed over, not sent */
    bool draining, stopping, exiting;
    int signals;
    struct evbuffer *scratch;
    struct timeval idle_tv;
    bool write_failed_logged;
    live_shared *shared;                /* NULL without --redis */
};

/* ---- small helpers --------------------------------------------------------- */

static ld_us clock_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (ld_us)ts.tv_sec * LD_US_PER_S + ts.tv_nsec / 1000;
}

static double wall_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000) / 1000.0;
}

static double us_to_ms(ld_us us) { return (double)us / 1000.0; }

/* v in decimal at buf (21 bytes are enough), NUL-terminated; returns the
 * length. Every answer carries a few such numbers: cheaper than printf. */
static size_t fmt_u64(char *buf, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

/* prefix then v, NUL-terminated, into buf (cap >= strlen(prefix) + 21). */
static void fmt_prefixed_u64(char *buf, const char *prefix, uint64_t v)
{
    size_t n = strlen(prefix);
    memcpy(buf, prefix, n);
    fmt_u64(buf + n, v);
}

static void slog(live_server *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void slog(live_server *s, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (s->o.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->o.log(s->o.log_ud, msg);
}

static double rng_uniform(void *ctx) { return gsl_rng_uniform(ctx); }

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    }
    return status >= 500 ? "Error" : status >= 400 ? "Client Error" : "OK";
}

static void maybe_exit(live_server *s);

static void on_sent(struct evhttp_request *req, void *arg)
{
    live_server *s = arg;
    (void)req;
    s->unsent--;
    maybe_exit(s);
}

/* Headers every reply carries. */
static void add_header(struct evhttp_request *req, const char *k, const char *v)
{
    /* a header that cannot be added (out of memory) is left out */
    (void)evhttp_add_header(evhttp_request_get_output_headers(req), k, v);
}

/* Hand a whole reply to libevent. body may be NULL; it is emptied. */
static void send_whole(live_server *s, struct evhttp_request *req, int status,
                       const char *content_type, struct evbuffer *body)
{
    if (content_type != NULL)
        add_header(req, "Content-Type", content_type);
    if (s->draining)
        add_header(req, "Connection", "close");
    evhttp_request_set_on_complete_cb(req, on_sent, s);
    s->unsent++;
    evhttp_send_reply(req, status, reason_phrase(status), body);
}

/* {"error":{"message","type","param","code"}} into b. */
static int error_json(struct evbuffer *b, const char *message, const char *type,
                      const char *param, const char *code)
{
    cJSON *o = cJSON_CreateObject(), *e = NULL;
    char *text = NULL;
    int rc = -1;
    if (o == NULL || (e = cJSON_AddObjectToObject(o, "error")) == NULL ||
        cJSON_AddStringToObject(e, "message", message) == NULL ||
        cJSON_AddStringToObject(e, "type", type) == NULL ||
        (param != NULL ? cJSON_AddStringToObject(e, "param", param)
                       : cJSON_AddNullToObject(e, "param")) == NULL ||
        (code != NULL ? cJSON_AddStringToObject(e, "code", code)
                      : cJSON_AddNullToObject(e, "code")) == NULL)
        goto out;
    text = cJSON_PrintUnformatted(o);
    if (text != NULL && evbuffer_add(b, text, strlen(text)) == 0)
        rc = 0;
out:
    cJSON_free(text);
    cJSON_Delete(o);
    return rc;
}

/* Seconds a client should wait before asking again (for Retry-After): the
 * core's answer for the workload, at least 1. */
static long retry_hint_s(live_server *s, int workload)
{
    ld_us w = ld_core_retry_hint(s->core, workload, s->now);
    long secs = (long)((w + LD_US_PER_S - 1) / LD_US_PER_S);
    return secs < 1 ? 1 : secs;
}

/* An OpenAI-style error reply to a request we do not route. */
static void reply_error(live_server *s, struct evhttp_request *req, int status,
                        const char *message, const char *type,
                        const char *code, live_reject why)
{
    struct evbuffer *b = evbuffer_new();
    live_metrics_on_reject(s->m, why);
    if (b == NULL || error_json(b, message, type, NULL, code) != 0) {
        if (b != NULL)
            evbuffer_free(b);
        send_whole(s, req, 500, NULL, NULL);
        return;
    }
    if (status == 503 || status == 429) {
        char ra[24];
        snprintf(ra, sizeof ra, "%ld", retry_hint_s(s, -1));
        add_header(req, "Retry-After", ra);
    }
    send_whole(s, req, status, "application/json", b);
    evbuffer_free(b);
}

/* ---- entering and leaving the loop's callbacks ------------------------------ */

static void settle(live_server *s);

static void enter(live_server *s)
{
    if (s->depth++ == 0)
        s->now = clock_us();
}

static void leave(live_server *s)
{
    if (s->depth == 1)
        settle(s);
    s->depth--;
}

/* ---- core calls: the event sink knows which request is talking ------------ */

static void trace_on_event(sreq *r, const ld_event *ev)
{
    if (ev->type == LD_EV_REQUEST)
        r->out_estimate = ev->output_tokens;
    if (r->tr != NULL)
        ld_trace_on_event(r->tr, ev);
}

/* What this core learnt that the other routers should know. */
static void share_event(live_server *s, const ld_event *ev)
{
    live_shared_msg m;
    memset(&m, 0, sizeof m);
    m.route = ev->route;
    if (ev->type == LD_EV_BLOCK) {
        m.kind = LIVE_SHARED_BLOCK;
        m.cls = ev->cls;
        m.ttl_ms = (ev->delay + 999) / 1000;
        m.until_ms = (int64_t)wall_ms() + m.ttl_ms;
    } else if (ev->type == LD_EV_BREAKER && ev->to == LD_BREAKER_OPEN &&
               ev->from != LD_BREAKER_OPEN) {
        ld_route_info ri;
        if (ld_policy_route_info(s->p, ev->route, &ri) != LD_OK)
            return;
        m.kind = LIVE_SHARED_OPEN;
        m.opened_ms = (int64_t)wall_ms();
        m.ttl_ms = (ri.open_for + 999) / 1000;
    } else {
        return;
    }
    live_shared_publish(s->shared, &m);
}

/* Another router's news: its times are Unix ms, the core's are this
 * process's monotonic clock. */
static void on_shared(void *ud, const live_shared_msg *m)
{
    live_server *s = ud;
    enter(s);
    double wall = wall_ms();
    if (m->kind == LIVE_SHARED_BLOCK) {
        double left_ms = (double)m->until_ms - wall;
        if (left_ms > 1e12)
            left_ms = 1e12; /* in range of ld_us; the core caps it */
        if (left_ms > 0)
            (void)ld_core_block_route(s->core, m->route, m->cls,
                                      s->now + (ld_us)(left_ms * 1000), s->now);
    } else {
        double ago_ms = wall - (double)m->opened_ms;
        if (ago_ms < 0)
            ago_ms = 0; /* clocks a little apart */
        (void)ld_core_trip_breaker(s->core, m->route,
                                   s->now - (ld_us)(ago_ms * 1000), s->now);
    }
    leave(s);
}

static void shared_log(void *ud, const char *msg)
{
    slog(ud, "%s", msg);
}

static void on_core_event(void *ud, const ld_event *ev)
{
    live_server *s = ud;
    live_metrics_on_event(s->m, ev);
    if (s->shared != NULL && !ev->shared)
        share_event(s, ev);
    if (s->events != NULL) {
        int n = ld_event_to_json(ev, s->p, s->event_line,
                                 sizeof s->event_line);
        if (n > 0 && (fwrite(s->event_line, 1, (size_t)n, s->events) !=
                          (size_t)n ||
                      fputc('\n', s->events) == EOF) &&
            !s->write_failed_logged) {
            s->write_failed_logged = true;
            slog(s, "cannot write to the events file: %s", strerror(errno));
        }
    }
    if (s->cur != NULL && ev->type != LD_EV_BREAKER && ev->req == s->cur->id)
        trace_on_event(s->cur, ev);
}

static void drain(sreq *r);

static void core_first_token(sreq *r, uint32_t no)
{
    r->s->cur = r;
    (void)ld_req_first_token(r->core, no, r->s->now);
    r->s->cur = NULL;
}

static void core_progress(sreq *r, uint32_t no)
{
    (void)ld_req_progress(r->core, no, r->s->now);
}

static void core_abandon(sreq *r)
{
    if (r->core == NULL)
        return;
    r->s->cur = r;
    (void)ld_req_abandon(r->core, r->s->now);
    r->s->cur = NULL;
    drain(r);
}

/* ---- attempts ---------------------------------------------------------------- */

static void work_push(live_server *s, satt *a)
{
    if (a->on_work)
        return;
    a->on_work = true;
    a->next_work = s->work;
    s->work = a;
}

static void att_retire(satt *a)
{
    if (a->retired)
        return;
    a->retired = true;
    work_push(a->r->s, a);
}

static satt *att_find(sreq *r, uint32_t no)
{
    for (satt *a = r->atts; a != NULL; a = a->next)
        if (a->no == no && !a->retired)
            return a;
    return NULL;
}

static ld_us att_retry_after(const satt *a)
{
    return a->ra_ms >= 0 ? a->ra_ms : a->ra_s; /* the core caps it */
}

/* Report the attempt's end to the core (once) and retire it. */
static void att_end(satt *a, const ld_raw_result *res)
{
    sreq *r = a->r;
    live_server *s = r->s;
    if (a->ended || a->retired || r->core == NULL)
        return;
    a->ended = true;
    r->last_end = a;
    if (r->tr != NULL)
        ld_trace_on_answer(r->tr, a->no, res->http_status, a->tokens,
                           res->retry_after, -1);
    s->cur = r;
    (void)ld_req_end(r->core, a->no, s->now, res, &s->rng);
    s->cur = NULL;
    att_retire(a);
    drain(r);
}

/* An attempt that failed before reaching the network. */
static void att_end_local(sreq *r, uint32_t no, ld_transport why)
{
    ld_raw_result res;
    live_server *s = r->s;
    ld_raw_result_init(&res);
    res.transport = why;
    if (r->tr != NULL)
        ld_trace_on_answer(r->tr, no, 0, 0, -1, -1);
    s->cur = r;
    (void)ld_req_end(r->core, no, s->now, &res, &s->rng);
    s->cur = NULL;
}

/* The committed attempt's stream was cut while the request goes on: keep
 * what the client got of it, for a continuation. */
static void take_cut_text(sreq *r)
{
    satt *cut = r->committed;
    if (cut == NULL)
        return;
    r->committed = NULL;
    const char *t = live_stream_prefill(cut->tr);
    if (t == NULL || live_buf_append(&r->sent, t, strlen(t)) != LD_OK)
        r->sent_partial = true;
}

static void att_free(satt *a)
{
    live_server *s = a->r->s;
    sreq *r = a->r;
    for (satt **pp = &r->atts; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            r->natts--;
            break;
        }
    }
    if (r->last_end == a)
        r->last_end = NULL;
    if (r->committed == a) {
        if (r->core != NULL)
            take_cut_text(r); /* a retry or wait may come before the rest */
        r->committed = NULL;
    }
    if (a->easy != NULL) {
        if (a->in_multi)
            curl_multi_remove_handle(s->multi, a->easy);
        if (s->npool < EASY_POOL_MAX) {
            curl_easy_reset(a->easy);
            s->pool[s->npool++] = a->easy;
        } else {
            curl_easy_cleanup(a->easy);
        }
    }
    if (a->own_tail != NULL)
        a->own_tail->next = NULL; /* the route's fixed headers stay */
    curl_slist_free_all(a->hdrs);
    live_buf_cleanup(&a->body);
    live_buf_cleanup(&a->resp);
    live_buf_cleanup(&a->out);
    live_buf_cleanup(&a->answer);
    live_sse_free(a->sse);
    live_stream_free(a->tr);
    free(a);
}

static void commit_stream(sreq *r, satt *a, const ld_req_info *info);
static void send_chunk(sreq *r, const char *p, size_t n);

static void flush_out(satt *a)
{
    sreq *r = a->r;
    if (r->committed != a || a->out.len == 0)
        return;
    size_t n = a->out.len;
    a->out.len = 0;
    send_chunk(r, a->out.data, n);
    /* a stream may wait minutes for its next piece: hold no buffer */
    live_buf_cleanup(&a->out);
}

/* One upstream SSE event of a stream attempt. */
static void att_on_sse(void *ud, const char *event, const char *data,
                       size_t len)
{
    satt *a = ud;
    sreq *r = a->r;
    live_chunk_info info;
    ld_raw_result res;

    if (a->retired || a->ended || r->core == NULL)
        return;
    int rc = live_stream_feed(a->tr, event, data, len, &a->out, &info);
    ld_raw_result_init(&res);
    res.http_status = a->status;
    res.retry_after = att_retry_after(a);
    if (rc != LD_OK || info.malformed) {
        a->abort = true;
        res.transport = LD_TR_MALFORMED;
        res.completion_tokens = a->tokens;
        att_end(a, &res);
        return;
    }
    if (info.error) {
        /* an error event inside a 200 stream: ld_classify reads its
         * words */
        char type[64], code[64], msg[256];
        (void)ld_parse_error_body(data, len, type, sizeof type, code,
                                  sizeof code, msg, sizeof msg);
        a->abort = true;
        res.transport = LD_TR_STREAM_ERROR;
        res.error_type = type;
        res.error_code = code;
        res.error_message = msg;
        res.completion_tokens = a->tokens;
        att_end(a, &res);
        return;
    }
    if (info.content) {
        a->tokens += info.tokens > 0 ? info.tokens : 1;
        if (!a->first_seen) {
            a->first_seen = true;
            a->t_first = r->s->now;
            core_first_token(r, a->no);
            drain(r);
            if (!a->retired && r->core != NULL && !r->reply_started) {
                ld_req_info ri;
                ld_req_info_get(r->core, &ri);
                commit_stream(r, a, &ri);
            } else if (!a->retired && r->core != NULL && r->committed == NULL) {
                r->committed = a; /* a continuation of a cut stream */
            }
        } else {
            core_progress(r, a->no);
        }
    }
    if (info.finished)
        a->finished = true;
    if (info.done && !a->retired && r->core != NULL) {
        live_answer ans;
        live_stream_result(a->tr, &ans);
        a->done_seen = true;
        res.http_status = a->status;
        res.completion_tokens =
            ans.output_tokens >= 0 ? (int)ans.output_tokens : a->tokens;
        res.finish_reason = ans.finish_reason[0] ? ans.finish_reason : NULL;
        att_end(a, &res);
    }
}

static bool status_ok(int st) { return st >= 200 && st <= 299; }

static size_t att_write(char *p, size_t size, size_t nmemb, void *ud)
{
    satt *a = ud;
    size_t n = size * nmemb;
    if (a->abort)
        return 0;
    if (a->retired || a->ended)
        return n; /* the answer is complete: let the transfer finish */
    if (!status_ok(a->status)) {
        size_t room = ERROR_BODY_CAP > a->resp.len ? ERROR_BODY_CAP - a->resp.len : 0;
        if (room > 0)
            (void)live_buf_append(&a->resp, p, n < room ? n : room);
        return n;
    }
    if (!a->stream) {
        if (live_buf_append(&a->resp, p, n) != LD_OK) {
            ld_raw_result res;
            ld_raw_result_init(&res);
            res.transport = LD_TR_MALFORMED; /* over 16 MiB, or no memory */
            res.http_status = a->status;
            a->abort = true;
            att_end(a, &res);
            return 0;
        }
        return n;
    }
    int rc = live_sse_feed(a->sse, p, n, att_on_sse, a);
    if (rc != LD_OK && !a->retired && !a->ended) {
        ld_raw_result res;
        ld_raw_result_init(&res);
        res.transport = LD_TR_MALFORMED; /* an SSE line over its cap */
        res.http_status = a->status;
        res.completion_tokens = a->tokens;
        a->abort = true;
        att_end(a, &res);
    }
    if (!a->retired)
        flush_out(a);
    return a->abort ? 0 : n;
}

/* Retry-After: delta-seconds or an HTTP-date. */
static ld_us parse_retry_after(const char *v)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end != v && errno == 0) {
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end == '\0')
            return d < 0 ? -1 : d > 1e9 ? ld_s(1000000000) /* in range */
                                        : (ld_us)(d * 1e6);
    }
    time_t t = curl_getdate(v, NULL);
    if (t == -1)
        return -1;
    time_t now = time(NULL); /* an HTTP-date is wall-clock time */
    return t > now ? (ld_us)(t - now) * LD_US_PER_S : 0;
}

static size_t att_header(char *p, size_t size, size_t nmemb, void *ud)
{
    satt *a = ud;
    size_t n = size * nmemb;
    char line[HEADER_LINE_MAX];
    size_t len = n;
    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    if (len == 0) {
        if (a->status >= 200)
            a->got_headers = true;
        return n;
    }
    if (len >= sizeof line)
        return n; /* nothing we read is that long */
    memcpy(line, p, len);
    line[len] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) {
        const char *sp = strchr(line, ' ');
        a->status = sp != NULL ? atoi(sp + 1) : 0;
        a->got_headers = false;
        a->ra_s = a->ra_ms = -1;
        return n;
    }
    char *colon = strchr(line, ':');
    if (colon == NULL)
        return n;
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (strcasecmp(line, "retry-after-ms") == 0) {
        char *end;
        double d = strtod(v, &end);
        if (end != v && d >= 0) /* in range of ld_us; the core caps it */
            a->ra_ms = d > 1e12 ? (ld_us)1e15 : (ld_us)(d * 1000.0);
    } else if (strcasecmp(line, "retry-after") == 0) {
        a->ra_s = parse_retry_after(v);
    }
    return n;
}

/* Before each send on the wire. curl re-sends a request by itself when a
 * reused connection dies before any response byte (a stale keep-alive),
 * and may pick another cached connection each time, up to 5 times: that
 * would hide a resetting upstream from the core and multiply its load. One
 * resend is allowed; a third send aborts the attempt (reported as reset). */
static int att_prereq(void *ud, char *primary_ip, char *local_ip,
                      int primary_port, int local_port)
{
    satt *a = ud;
    (void)primary_ip;
    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    return ++a->sends > MAX_SENDS ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

/* curl finished the transfer (with rc): tell the core what it was. */
static void att_transfer_done(satt *a, CURLcode rc)
{
    ld_raw_result res;
    live_answer ans;
    char type[64], code[64], msg[256];
    ld_raw_result_init(&res);
    res.http_status = a->got_headers ? a->status : 0;
    res.retry_after = att_retry_after(a);
    res.completion_tokens = a->tokens;

    if (!a->got_headers) {
        res.http_status = 0;
        switch (rc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_OPERATION_TIMEDOUT: /* only the connect timeout is set */
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
            res.transport = LD_TR_CONNECT_FAILED;
            break;
        default:
            res.transport = LD_TR_RESET;
            break;
        }
    } else if (!status_ok(a->status)) {
        if (ld_parse_error_body(a->resp.data, a->resp.len, type, sizeof type,
                                code, sizeof code, msg, sizeof msg) == LD_OK) {
            res.error_type = type;
            res.error_code = code;
            res.error_message = msg;
        }
    } else if (a->stream) {
        live_stream_result(a->tr, &ans);
        if (a->finished) {
            /* the model finished; only the terminator is missing */
            res.transport = a->done_seen ? LD_TR_OK : LD_TR_NO_DONE;
            res.completion_tokens = ans.output_tokens >= 0
                                        ? (int)ans.output_tokens
                                        : a->tokens;
            res.finish_reason = ans.finish_reason[0] ? ans.finish_reason
                                                     : NULL;
        } else {
            res.transport = LD_TR_CUT;
        }
    } else if (rc != CURLE_OK) {
        res.transport = LD_TR_CUT; /* the body stopped short */
    } else if (live_translate_answer(a->provider, a->resp.data, a->resp.len,
                                     &a->answer, &ans) != LD_OK) {
        res.transport = LD_TR_MALFORMED;
    } else {
        a->ans_in = ans.input_tokens;
        a->ans_out = ans.output_tokens;
        res.completion_tokens =
            ans.output_tokens >= 0 ? (int)ans.output_tokens : 0;
        res.finish_reason = ans.finish_reason[0] ? ans.finish_reason : NULL;
        if (a->t_first < 0)
            a->t_first = a->r->s->now;
        if (res.completion_tokens > 0)
            a->tokens = res.completion_tokens;
    }
    att_end(a, &res);
}

static const char *default_base_url(ld_provider p)
{
    return p == LD_PROVIDER_ANTHROPIC ? "https://api.anthropic.com/v1"
                                      : "https://api.openai.com/v1";
}

static struct curl_slist *hdr_add(struct curl_slist *l, const char *h,
                                  bool *ok)
{
    struct curl_slist *n;
    if (!*ok)
        return l;
    n = curl_slist_append(l, h);
    if (n == NULL) {
        *ok = false;
        return l;
    }
    return n;
}

/* LD_DO_START: build the attempt; it joins the multi handle in settle(). */
/* The text a continuation starts from: the text of every stream cut so
 * far (the client has all of it: a committed attempt's output is sent as
 * it is translated). NULL when some cut stream's text was not its whole
 * answer (a continuation would repeat or lose part of it). */
static const char *resume_text(sreq *r)
{
    take_cut_text(r);
    if (r->sent_partial)
        return NULL;
    return r->sent.data != NULL ? r->sent.data : "";
}

/* Route i's fixed upstream headers, for whole and stream answers, with
 * its API key (NULL: none). They are the only copy of the key kept. */
static int route_headers(live_server *s, int i, const char *key)
{
    ld_route_info ri;
    char h[1024];
    bool ok = ld_policy_route_info(s->p, i, &ri) == LD_OK;
    for (int st = 0; st < 2 && ok; st++) {
        struct curl_slist *l = NULL;
        l = hdr_add(l, "Content-Type: application/json", &ok);
        l = hdr_add(l, st ? "Accept: text/event-stream"
                          : "Accept: application/json", &ok);
        if (ri.provider == LD_PROVIDER_ANTHROPIC) {
            l = hdr_add(l, "anthropic-version: 2023-06-01", &ok);
            if (key != NULL) {
                snprintf(h, sizeof h, "x-api-key: %s", key);
                l = hdr_add(l, h, &ok);
            }
        } else if (key != NULL) {
            snprintf(h, sizeof h, "Authorization: Bearer %s", key);
            l = hdr_add(l, h, &ok);
        }
        s->route_hdrs[i][st] = l;
    }
    memset(h, 0, sizeof h); /* the key does not linger on the stack */
    return ok ? LD_OK : LD_ENOMEM;
}

/* Free a list, wiping its text (it may hold an API key). */
static void hdrs_wipe(struct curl_slist *l)
{
    for (struct curl_slist *n = l; n != NULL; n = n->next)
        memset(n->data, 0, strlen(n->data));
    curl_slist_free_all(l);
}

static void att_start(sreq *r, const ld_do *d)
{
    live_server *s = r->s;
    ld_route_info ri;
    const char *path = NULL;
    char url[2048], h[1024];
    bool ok = true;
    satt *a;

    if (ld_policy_route_info(s->p, d->route, &ri) != LD_OK) {
        att_end_local(r, d->attempt, LD_TR_CONNECT_FAILED);
        return;
    }
    a = calloc(1, sizeof *a);
    if (a == NULL) {
        slog(s, "out of memory starting an attempt");
        att_end_local(r, d->attempt, LD_TR_CONNECT_FAILED);
        return;
    }
    a->r = r;
    a->no = d->attempt;
    a->route = d->route;
    a->provider = ri.provider;
    a->stream = r->stream;
    a->started = s->now;
    a->t_first = -1;
    a->ra_s = a->ra_ms = -1;
    a->ans_in = a->ans_out = -1;
    live_buf_init(&a->body, s->o.max_body * 4 + ((size_t)64 << 10));
    live_buf_init(&a->resp, ANSWER_CAP);
    live_buf_init(&a->out, PENDING_OUT_CAP);
    live_buf_init(&a->answer, ANSWER_CAP * 2);
    a->next = r->atts;
    r->atts = a;
    r->natts++;

    const char *prefill = NULL;
    if (d->resume) {
        prefill = resume_text(r);
        if (prefill == NULL) {
            /* tool calls, several choices, or too long to continue */
            att_retire(a);
            att_end_local(r, d->attempt, LD_TR_NOT_EXPRESSIBLE);
            return;
        }
    }
    live_chat_req again, *chat = &r->chat;
    if (chat->body == NULL) {
        char why[128];
        if (r->raw == NULL ||
            live_chat_parse(r->raw, r->raw_len, &again, why, sizeof why) != LD_OK) {
            att_retire(a);
            att_end_local(r, d->attempt, LD_TR_CONNECT_FAILED);
            return;
        }
        chat = &again;
    }
    int rc = live_build_upstream(chat, ri.provider, ri.model, r->stream,
                                 prefill, &a->body, &path);
    if (chat == &again) {
        live_chat_cleanup(&again);
    } else if (r->raw != NULL) {
        /* a stream may stay open for minutes: its request is kept as the
         * bytes it came in, not as a tree */
        cJSON_Delete(r->chat.body);
        r->chat.body = NULL;
        r->chat.model = NULL;
    }
    if (rc != LD_OK) {
        att_retire(a);
        att_end_local(r, d->attempt, rc == LD_ENOMEM ? LD_TR_CONNECT_FAILED
                                                     : LD_TR_NOT_EXPRESSIBLE);
        return;
    }
    if (r->stream) {
        char cid[48];
        snprintf(cid, sizeof cid, "chatcmpl-ladder-%" PRIu64, r->id);
        a->sse = live_sse_new(SSE_LINE_CAP);
        a->tr = live_stream_new(ri.provider, cid, (int64_t)(r->wall_ms / 1000),
                                r->chat.include_usage);
        /* the answer's text is kept only where a cut stream may be
         * continued elsewhere (it is the continuation's prefill) */
        live_stream_keep_text(a->tr,
                              ld_policy_workload_continues(s->p, r->workload) > 0);
        if (a->sse == NULL || a->tr == NULL)
            ok = false;
    }
    const char *base = ri.base_url != NULL ? ri.base_url
                                           : default_base_url(ri.provider);
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    size_t plen = path != NULL ? strlen(path) : 0;
    if (blen + plen < sizeof url) {
        memcpy(url, base, blen);
        memcpy(url + blen, path != NULL ? path : "", plen);
        url[blen + plen] = '\0';
    } else {
        ok = false;
    }

    if (a->body.len > ((size_t)1 << 20))
        a->hdrs = hdr_add(a->hdrs, "Expect:", &ok); /* no 100-continue
                                                       wait: curl asks
                                                       above 1 MiB */
    static const char rid[] = "x-ladder-request-id: ";
    memcpy(h, rid, sizeof rid - 1);
    memcpy(h + sizeof rid - 1, r->id_str, strlen(r->id_str) + 1);
    a->hdrs = hdr_add(a->hdrs, h, &ok);
    fmt_prefixed_u64(h, "x-ladder-attempt: ", a->no);
    a->hdrs = hdr_add(a->hdrs, h, &ok);
    if (ok) {
        struct curl_slist *tail = a->hdrs;
        while (tail->next != NULL)
            tail = tail->next;
        tail->next = s->route_hdrs[d->route][r->stream ? 1 : 0];
        a->own_tail = tail;
    }

    if (ok) {
        a->easy = s->npool > 0 ? s->pool[--s->npool] : curl_easy_init();
        ok = a->easy != NULL;
    }
    if (ok) {
        ld_us left = d->ttft_deadline - s->now;
        long cto = left > 0 ? (long)((left + 999) / 1000) : 1;
        CURL *e = a->easy;
        ok = curl_easy_setopt(e, CURLOPT_URL, url) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)a) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_HTTPHEADER, a->hdrs) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_POST, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_POSTFIELDS, a->body.data) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                              (curl_off_t)a->body.len) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, att_write) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_WRITEDATA, a) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, att_header) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_HEADERDATA, a) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, att_prereq) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_PREREQDATA, a) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cto) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_USERAGENT, LADDER_UA) == CURLE_OK &&
             /* a stream's pieces are small and it lives long: a small
              * read buffer per stream keeps 1,000 streams light; a whole
              * answer comes faster through curl's default 16 kB */
             (!r->stream ||
              curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 1024L) == CURLE_OK) &&
             curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    }
    if (!ok) {
        slog(s, "out of memory or bad URL starting an attempt on route %s",
             ri.id);
        att_retire(a);
        att_end_local(r, d->attempt, LD_TR_CONNECT_FAILED);
        return;
    }
    work_push(s, a);
}

/* ---- answering the client ---------------------------------------------------- */

static void release_http(sreq *r)
{
    live_server *s = r->s;
    if (r->http == NULL)
        return;
    if (r->evcon != NULL) {
        struct bufferevent *bev = evhttp_connection_get_bufferevent(r->evcon);
        evhttp_connection_set_closecb(r->evcon, NULL, NULL);
        if (bev != NULL) {
            bufferevent_setwatermark(bev, EV_READ, 0, 0);
            bufferevent_set_timeouts(bev, &s->idle_tv, &s->idle_tv);
        }
    }
    evhttp_request_set_on_complete_cb(r->http, on_sent, s);
    s->unsent++;
}

static void fmt_num(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.8g", v);
}

static double route_quality(live_server *s, int route)
{
    double q = ld_core_route_quality(s->core, route);
    return q >= 0 ? q : 0;
}

/* The x-ladder-* headers; cost only when final (cost >= 0). */
static void ladder_headers(sreq *r, const ld_req_info *info, double cost)
{
    live_server *s = r->s;
    char v[64];
    struct evhttp_request *req = r->http;
    add_header(req, "x-ladder-request-id", r->id_str);
    add_header(req, "x-ladder-route", info->route >= 0
                                          ? ld_policy_route_id(s->p, info->route)
                                          : "none");
    fmt_u64(v, info->attempts > 0 ? (uint64_t)info->attempts : 0);
    add_header(req, "x-ladder-attempts", v);
    add_header(req, "x-ladder-fallback", ld_class_name(info->first_cls));
    if (info->route >= 0) {
        /* a route's quality changes seldom: its text is kept */
        double q = route_quality(s, info->route);
        if (q != s->qual_val[info->route]) {
            s->qual_val[info->route] = q;
            fmt_num(s->qual_str[info->route], sizeof s->qual_str[0], q);
        }
        add_header(req, "x-ladder-quality", s->qual_str[info->route]);
    }
    if (cost >= 0) {
        fmt_num(v, sizeof v, cost);
        add_header(req, "x-ladder-cost-usd", v);
    }
    if (s->draining)
        add_header(req, "Connection", "close");
}

static void send_chunk(sreq *r, const char *p, size_t n)
{
    live_server *s = r->s;
    if (r->http == NULL || r->evcon == NULL || n == 0)
        return;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(r->evcon);
    if (bev != NULL &&
        evbuffer_get_length(bufferevent_get_output(bev)) > CLIENT_OUT_CAP) {
        /* the client does not read: it has left in all but name */
        core_abandon(r);
        return;
    }
    if (evbuffer_add(s->scratch, p, n) != 0) {
        core_abandon(r);
        return;
    }
    evhttp_send_reply_chunk(r->http, s->scratch);
    evbuffer_drain(s->scratch, evbuffer_get_length(s->scratch));
}

/* The stream is committed to attempt a: status, headers, what was held. */
/* Empty a stream's header list but for a "Connection: close", which
 * libevent reads again when the exchange ends (to close the connection;
 * keeping it open is the default of the chunked HTTP/1.1 streams, and an
 * HTTP/1.0 stream ends by closing anyway). A stream holds its request for
 * minutes: the rest is done with. */
static void keep_only_connection(struct evkeyvalq *h)
{
    const char *c = evhttp_find_header(h, "Connection");
    bool close = false;
    for (; c != NULL && *c != '\0' && !close; c++)
        close = strncasecmp(c, "close", 5) == 0;
    evhttp_clear_headers(h);
    if (close)
        (void)evhttp_add_header(h, "Connection", "close");
}

static void commit_stream(sreq *r, satt *a, const ld_req_info *info)
{
    if (r->http == NULL)
        return;
    r->committed = a;
    r->reply_started = true;
    r->status_sent = 200;
    add_header(r->http, "Content-Type", "text/event-stream");
    add_header(r->http, "Cache-Control", "no-cache");
    ladder_headers(r, info, -1);
    evhttp_send_reply_start(r->http, 200, "OK");
    /* the headers are on their way: the list is not needed again */
    keep_only_connection(evhttp_request_get_output_headers(r->http));
    flush_out(a);
}

/* The final ": ladder {...}" comment of a stream. */
static void stream_summary(sreq *r, const ld_req_info *info, satt *a,
                           live_buf *b)
{
    live_server *s = r->s;
    live_answer ans;
    const char *model = NULL;
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    bool ok = o != NULL;
    if (a != NULL && a->tr != NULL) {
        live_stream_result(a->tr, &ans);
        model = ans.model[0] != '\0' ? ans.model : NULL;
    } else {
        ans.input_tokens = ans.output_tokens = -1;
    }
    ok = ok && cJSON_AddStringToObject(o, "request_id", r->id_str) != NULL;
    ok = ok && (info->route >= 0
                    ? cJSON_AddStringToObject(o, "route",
                                              ld_policy_route_id(s->p, info->route))
                    : cJSON_AddNullToObject(o, "route")) != NULL;
    ok = ok && (model != NULL ? cJSON_AddStringToObject(o, "model", model)
                              : cJSON_AddNullToObject(o, "model")) != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "attempts", info->attempts) != NULL;
    ok = ok && cJSON_AddStringToObject(o, "fallback",
                                       ld_class_name(info->first_cls)) != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "quality",
                                       route_quality(s, info->route)) != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "cost_usd", info->cost) != NULL;
    if (ans.input_tokens >= 0)
        ok = ok && cJSON_AddNumberToObject(o, "input_tokens",
                                           (double)ans.input_tokens) != NULL;
    if (ans.output_tokens >= 0)
        ok = ok && cJSON_AddNumberToObject(o, "output_tokens",
                                           (double)ans.output_tokens) != NULL;
    if (info->ttft >= 0)
        ok = ok && cJSON_AddNumberToObject(o, "ttft_ms", us_to_ms(info->ttft)) != NULL;
    if (info->latency >= 0)
        ok = ok && cJSON_AddNumberToObject(o, "latency_ms",
                                           us_to_ms(info->latency)) != NULL;
    if (ok)
        text = cJSON_PrintUnformatted(o);
    if (text != NULL)
        (void)live_buf_appendf(b, ": ladder %s\n\n", text);
    cJSON_free(text);
    cJSON_Delete(o);
}

static void respond_success(sreq *r, const ld_req_info *info)
{
    satt *a = r->committed != NULL ? r->committed : r->last_end;
    if (r->http == NULL)
        return;
    if (r->stream) {
        live_buf tail;
        if (!r->reply_started && a != NULL)
            commit_stream(r, a, info);
        if (a != NULL)
            flush_out(a);
        if (r->http == NULL)
            return;
        live_buf_init(&tail, 64 << 10);
        stream_summary(r, info, a, &tail);
        (void)live_buf_append(&tail, "data: [DONE]\n\n", 14);
        send_chunk(r, tail.data, tail.len);
        live_buf_cleanup(&tail);
        if (r->http == NULL)
            return;
        struct evhttp_request *req = r->http;
        release_http(r);
        r->http = NULL;
        r->evcon = NULL;
        evhttp_send_reply_end(req);
        return;
    }
    struct evhttp_request *req = r->http;
    struct evbuffer *b = evbuffer_new();
    ladder_headers(r, info, info->cost);
    add_header(req, "Content-Type", "application/json");
    r->status_sent = 200;
    if (b == NULL || a == NULL ||
        evbuffer_add(b, a->answer.data != NULL ? a->answer.data : "",
                     a->answer.len) != 0) {
        r->status_sent = 500;
    }
    release_http(r);
    r->http = NULL;
    r->evcon = NULL;
    evhttp_send_reply(req, r->status_sent, reason_phrase(r->status_sent), b);
    if (b != NULL)
        evbuffer_free(b);
}

static void respond_failure(sreq *r, const ld_req_info *info, const ld_do *d)
{
    if (r->http == NULL)
        return;
    const char *code = ld_class_name(d->cls);
    if (r->reply_started) {
        /* mid-stream: an error event, and no [DONE] */
        char text[256];
        struct evbuffer *b = evbuffer_new();
        int n = 0;
        if (r->committed != NULL)
            flush_out(r->committed);
        if (r->http == NULL) {
            if (b != NULL)
                evbuffer_free(b);
            return;
        }
        snprintf(text, sizeof text, "upstream stream failed: %s", code);
        if (b != NULL) {
            n = evbuffer_add(b, "data: ", 6);
            n |= error_json(b, text, "ladder_stream_error", NULL, code);
            n |= evbuffer_add(b, "\n\n", 2);
            if (n == 0)
                evhttp_send_reply_chunk(r->http, b);
            evbuffer_free(b);
        }
        struct evhttp_request *req = r->http;
        release_http(r);
        r->http = NULL;
        r->evcon = NULL;
        evhttp_send_reply_end(req);
        return;
    }
    int status = d->status; /* 4xx or 5xx: the policy loader sees to it */
    struct evhttp_request *req = r->http;
    struct evbuffer *b = evbuffer_new();
    char ra[24];
    ladder_headers(r, info, info->cost);
    add_header(req, "Content-Type", "application/json");
    if (status == 429 || status == 503) {
        snprintf(ra, sizeof ra, "%ld", retry_hint_s(r->s, r->workload));
        add_header(req, "Retry-After", ra);
    }
    if (b == NULL ||
        error_json(b, d->message != NULL ? d->message : "no route could answer",
                   "ladder_unavailable", NULL, code) != 0)
        status = 500;
    r->status_sent = status;
    release_http(r);
    r->http = NULL;
    r->evcon = NULL;
    evhttp_send_reply(req, status, reason_phrase(status), b);
    if (b != NULL)
        evbuffer_free(b);
}

/* Drop the client's connection (abandoned while it was still there). */
static void close_client(sreq *r)
{
    struct evhttp_connection *evcon = r->evcon;
    if (r->http == NULL || evcon == NULL)
        return;
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    r->http = NULL; /* freed by libevent with its connection */
    r->evcon = NULL;
    evhttp_connection_free(evcon);
}

/* ---- the trace ------------------------------------------------------------------- */

static void trace_write(sreq *r, const ld_req_info *info)
{
    live_server *s = r->s;
    const satt *w = r->committed != NULL ? r->committed : r->last_end;
    int64_t in_tok = r->chat.input_tokens, out_tok = r->out_estimate;
    if (s->trace == NULL || r->tr == NULL)
        return;
    if (info->outcome == LD_OUT_SUCCESS && w != NULL) {
        live_answer ans;
        ans.input_tokens = w->ans_in;
        ans.output_tokens = w->ans_out;
        if (w->tr != NULL)
            live_stream_result(w->tr, &ans);
        if (ans.input_tokens >= 0)
            in_tok = ans.input_tokens;
        if (ans.output_tokens >= 0)
            out_tok = ans.output_tokens;
    }
    ld_trace_line l = {
        .t_ms = r->wall_ms, .id = r->id_str, .workload = info->workload,
        .tier = info->tier, .input_tokens = in_tok, .output_tokens = out_tok,
        .stream = r->stream, .outcome = info->outcome, .route = info->route,
        .status = r->status_sent, .cls = info->first_cls, .ttft = info->ttft,
        .latency = info->latency, .cost = info->cost,
        .fell_back = info->fell_back, .att = r->tr->att, .natt = r->tr->natt,
        .dropped = r->tr->dropped};
    char *text = ld_trace_format(s->p, &l);
    if (text == NULL || fputs(text, s->trace) == EOF ||
        fputc('\n', s->trace) == EOF) {
        if (!s->write_failed_logged) {
            s->write_failed_logged = true;
            slog(s, "cannot write a trace line");
        }
    }
    cJSON_free(text);
}

/* ---- finishing a request ------------------------------------------------------- */

static void req_finish(sreq *r, const ld_do *d)
{
    live_server *s = r->s;
    ld_req_info info;
    ld_req_info_get(r->core, &info);
    evtimer_del(r->timer);
    ld_req_free(r->core);
    r->core = NULL;
    s->in_flight--;
    for (satt *a = r->atts; a != NULL; a = a->next) {
        if (!a->retired) {
            a->abort = true;
            att_retire(a);
        }
    }
    switch (d->outcome) {
    case LD_OUT_SUCCESS:
        respond_success(r, &info);
        break;
    case LD_OUT_FAILED:
        respond_failure(r, &info, d);
        break;
    default:
        if (r->reply_started && r->http != NULL)
            r->status_sent = 200;
        close_client(r);
        break;
    }
    live_metrics_on_done(s->m, &info, r->stream);
    trace_write(r, &info);
    feedback_slot *f = &s->fb[r->id % FEEDBACK_SLOTS];
    f->id = r->id;
    f->fell_back = info.fell_back;
    f->recorded = false;
    r->zombie = true;
    r->next_zombie = s->zombies;
    s->zombies = r;
}

static void req_arm(sreq *r)
{
    live_server *s = r->s;
    ld_us w = ld_req_wake_at(r->core);
    if (w == LD_NEVER) {
        evtimer_del(r->timer);
        return;
    }
    ld_us d = w > s->now ? w - s->now : 0;
    struct timeval tv = {(time_t)(d / LD_US_PER_S), (suseconds_t)(d % LD_US_PER_S)};
    evtimer_add(r->timer, &tv);
}

/* Carry out the core's actions for r. */
static void drain(sreq *r)
{
    ld_do d;
    while (r->core != NULL && ld_req_next(r->core, &d) == 1) {
        switch (d.kind) {
        case LD_DO_START:
            att_start(r, &d);
            break;
        case LD_DO_CANCEL: {
            satt *a = att_find(r, d.attempt);
            if (a != NULL) {
                if (r->tr != NULL)
                    ld_trace_on_answer(r->tr, a->no,
                                       a->got_headers ? a->status : 0,
                                       a->tokens, att_retry_after(a),
                                       a->t_first >= 0 ? a->t_first - a->started
                                                       : -1);
                a->abort = true;
                att_retire(a);
            }
            break;
        }
        case LD_DO_FINISH:
            req_finish(r, &d);
            return;
        }
    }
    if (r->core != NULL)
        req_arm(r);
}

static void on_req_timer(evutil_socket_t fd, short what, void *arg)
{
    sreq *r = arg;
    live_server *s = r->s;
    (void)fd;
    (void)what;
    enter(s);
    if (r->core != NULL) {
        if (s->now >= ld_req_wake_at(r->core)) {
            s->cur = r;
            (void)ld_req_tick(r->core, s->now, &s->rng);
            s->cur = NULL;
        }
        drain(r);
    }
    leave(s);
}

/* The client's connection closed while we owned its request. */
static void on_client_close(struct evhttp_connection *evcon, void *arg)
{
    sreq *r = arg;
    live_server *s = r->s;
    struct evhttp_request *req = r->http;
    bool detached = req != NULL && evhttp_request_get_connection(req) == NULL;
    (void)evcon;
    enter(s);
    r->client_gone = true;
    r->http = NULL;
    r->evcon = NULL;
    core_abandon(r);
    if (detached)
        evhttp_request_free(req);
    leave(s);
}

/* Keep reading the client's connection (capped, no parsing) so that its
 * close reaches on_client_close while we work; no read timeout meanwhile
 * (a long answer is not an idle connection). */
static void watch_client(sreq *r)
{
    live_server *s = r->s;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(r->evcon);
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *arg;
    evhttp_connection_set_closecb(r->evcon, on_client_close, r);
    if (bev == NULL)
        return;
    /* stream chunks are small: no Nagle delay on them (a whole reply is
     * one write and needs no such option: one system call saved) */
    evutil_socket_t fd = bufferevent_getfd(bev);
    int one = 1;
    if (r->stream && fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bufferevent_getcb(bev, &rd, &wr, &ev, &arg);
    bufferevent_setcb(bev, NULL, wr, ev, arg);
    bufferevent_setwatermark(bev, EV_READ, 0, WATCH_READ_CAP);
    bufferevent_set_timeouts(bev, NULL, &s->idle_tv);
    if (bufferevent_enable(bev, EV_READ) != 0)
        slog(s, "cannot watch a client connection for close");
}

/* ---- settle: curl's finished transfers, handles in and out, frees ---------- */

static void req_free(sreq *r)
{
    live_server *s = r->s;
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        s->reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    s->nreqs--;
    if (r->timer != NULL)
        event_free(r->timer);
    live_chat_cleanup(&r->chat);
    live_buf_cleanup(&r->sent);
    free(r->raw);
    free(r->tr);
    free(r);
}

static void settle(live_server *s)
{
    for (int round = 0; round < 1000; round++) {
        bool busy = false, added = false;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
            char *priv = NULL;
            CURLcode rc = msg->data.result;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            satt *a = (satt *)(void *)priv;
            if (a == NULL)
                continue;
            if (!a->retired && !a->ended)
                att_transfer_done(a, rc);
            att_retire(a);
            busy = true;
        }
        while (s->work != NULL) {
            satt *a = s->work;
            s->work = a->next_work;
            a->on_work = false;
            busy = true;
            if (a->retired) {
                att_free(a);
                continue;
            }
            if (a->in_multi)
                continue;
            if (curl_multi_add_handle(s->multi, a->easy) != CURLM_OK) {
                ld_raw_result res;
                ld_raw_result_init(&res);
                res.transport = LD_TR_CONNECT_FAILED;
                att_end(a, &res);
                continue;
            }
            a->in_multi = true;
            added = true;
        }
        if (added && !s->stopping) {
            /* a handle just added is due at once (curl asked for a 0 ms
             * timer): send it in this tick instead of a loop turn later;
             * what it finishes is read in the next round */
            int running;
            curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0,
                                     &running);
        }
        if (!busy)
            break;
    }
    for (sreq **pp = &s->zombies; *pp != NULL;) {
        sreq *r = *pp;
        if (r->natts == 0 && r->http == NULL) {
            *pp = r->next_zombie;
            req_free(r);
        } else {
            pp = &r->next_zombie;
        }
    }
    maybe_exit(s);
}

/* ---- curl's sockets and timer on the loop ------------------------------------- */

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
    sock_ctx *c = arg;
    live_server *s = c->s;
    int running, flags = 0;
    enter(s);
    if (what & EV_READ)
        flags |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(s->multi, fd, flags, &running);
    leave(s);
}

static int curl_sock_cb(CURL *e, curl_socket_t fd, int what, void *ud,
                        void *sockp)
{
    live_server *s = ud;
    sock_ctx *c = sockp;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (c != NULL) {
            event_free(c->ev);
            if (c->prev != NULL)
                c->prev->next = c->next;
            else
                s->socks = c->next;
            if (c->next != NULL)
                c->next->prev = c->prev;
            free(c);
            curl_multi_assign(s->multi, fd, NULL);
        }
        return 0;
    }
    short events = EV_PERSIST;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= EV_READ;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= EV_WRITE;
    if (c == NULL) {
        c = calloc(1, sizeof *c);
        if (c == NULL)
            return -1;
        c->s = s;
        c->fd = fd;
        c->ev = event_new(s->base, fd, events, on_sock_event, c);
        if (c->ev == NULL) {
            free(c);
            return -1;
        }
        c->next = s->socks;
        if (s->socks != NULL)
            s->socks->prev = c;
        s->socks = c;
        curl_multi_assign(s->multi, fd, c);
    } else if (event_get_events(c->ev) == events &&
               event_pending(c->ev, EV_READ | EV_WRITE, NULL)) {
        return 0; /* already watched for exactly these */
    } else {
        event_del(c->ev);
        event_assign(c->ev, s->base, fd, events, on_sock_event, c);
    }
    return event_add(c->ev, NULL) == 0 ? 0 : -1;
}

static void on_curl_timeout(evutil_socket_t fd, short what, void *arg)
{
    live_server *s = arg;
    int running;
    (void)fd;
    (void)what;
    enter(s);
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    leave(s);
}

static int curl_timer_cb(CURLM *multi, long ms, void *ud)
{
    live_server *s = ud;
    (void)multi;
    if (ms < 0)
        return evtimer_del(s->curl_timer) == 0 ? 0 : -1;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return evtimer_add(s->curl_timer, &tv) == 0 ? 0 : -1;
}

/* ---- client endpoints ------------------------------------------------------------- */

static const char *header_in(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

/* Workload or tier from a header; 0 ok (*out -1 when absent), -1 when the
 * name is unknown (an error reply was sent). */
static int pick_named(live_server *s, struct evhttp_request *req,
                      const char *hdr, bool workload, int *out)
{
    const char *v = header_in(req, hdr);
    *out = -1;
    if (v == NULL || v[0] == '\0')
        return 0;
    int i = workload ? ld_policy_workload_index(s->p, v)
                     : ld_policy_tier_index(s->p, v);
    if (i >= 0) {
        *out = i;
        return 0;
    }
    char msg[1024];
    size_t n = (size_t)snprintf(msg, sizeof msg, "%s: unknown %s \"%.100s\" (known:",
                                hdr, workload ? "workload" : "tier", v);
    int count = workload ? ld_policy_workload_count(s->p)
                         : ld_policy_tier_count(s->p);
    for (int k = 0; k < count && n < sizeof msg; k++)
        n += (size_t)snprintf(msg + n, sizeof msg - n, "%s %s", k ? "," : "",
                              workload ? ld_policy_workload_name(s->p, k)
                                       : ld_policy_tier_name(s->p, k));
    if (n < sizeof msg)
        snprintf(msg + n, sizeof msg - n, ")");
    reply_error(s, req, 400, msg, "invalid_request_error", NULL,
                LIVE_REJ_BAD_REQUEST);
    return -1;
}

static void on_chat(live_server *s, struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char msg[512];
    int workload, tier;

    if (s->draining) {
        reply_error(s, req, 503, "ladder is shutting down; retry on another "
                    "instance", "ladder_overloaded", "draining",
                    LIVE_REJ_DRAINING);
        return;
    }
    if (s->in_flight >= s->o.max_concurrent) {
        reply_error(s, req, 503, "ladder: too many requests in flight; "
                    "retry shortly", "ladder_overloaded", "overloaded",
                    LIVE_REJ_OVERLOADED);
        return;
    }
    if (len > s->o.max_body) {
        snprintf(msg, sizeof msg, "request body of %zu bytes is over the "
                 "limit of %zu bytes", len, s->o.max_body);
        reply_error(s, req, 413, msg, "invalid_request_error",
                    "request_too_large", LIVE_REJ_TOO_LARGE);
        return;
    }
    if (pick_named(s, req, "x-ladder-workload", true, &workload) != 0)
        return;
    if (workload < 0)
        workload = ld_policy_default_workload(s->p);
    if (pick_named(s, req, "x-ladder-tier", false, &tier) != 0)
        return;

    sreq *r = calloc(1, sizeof *r);
    if (r == NULL) {
        reply_error(s, req, 503, "ladder: out of memory", "ladder_overloaded",
                    "overloaded", LIVE_REJ_INTERNAL);
        return;
    }
    const char *body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
    int prc = body != NULL ? live_chat_parse(body, len, &r->chat, msg, sizeof msg)
                           : LD_ENOMEM;
    if (prc == LD_OK && r->chat.stream && len > 0 &&
        (r->raw = malloc(len)) != NULL) {
        memcpy(r->raw, body, len);
        r->raw_len = len;
    }
    evbuffer_drain(in, len);
    if (prc == LD_OK && r->chat.stream)
        keep_only_connection(evhttp_request_get_input_headers(req));
    if (prc != LD_OK) {
        if (body == NULL)
            snprintf(msg, sizeof msg, "ladder: out of memory");
        free(r);
        reply_error(s, req, 400, msg, "invalid_request_error", NULL,
                    LIVE_REJ_BAD_REQUEST);
        return;
    }
    r->timer = evtimer_new(s->base, on_req_timer, r);
    if (s->trace != NULL)
        r->tr = malloc(sizeof *r->tr);
    if (r->timer == NULL || (s->trace != NULL && r->tr == NULL)) {
        if (r->timer != NULL)
            event_free(r->timer);
        free(r->tr);
        free(r->raw);
        live_chat_cleanup(&r->chat);
        free(r);
        reply_error(s, req, 503, "ladder: out of memory", "ladder_overloaded",
                    "overloaded", LIVE_REJ_INTERNAL);
        return;
    }
    r->s = s;
    r->id = s->next_id++;
    fmt_prefixed_u64(r->id_str, "r-", r->id);
    r->http = req;
    r->evcon = evhttp_request_get_connection(req);
    r->stream = r->chat.stream;
    r->workload = workload;
    r->tier = tier;
    r->arrived = s->now;
    r->wall_ms = wall_ms();
    if (r->tr != NULL)
        ld_trace_init(r->tr, r->arrived);
    r->out_estimate = r->chat.max_tokens;

    ld_req_spec spec = {workload, tier, r->chat.input_tokens,
                        r->chat.max_tokens > 0 ? r->chat.max_tokens : -1,
                        r->chat.caps, r->id};
    s->cur = r;
    int rc = ld_req_start(s->core, &spec, s->now, &s->rng, &r->core);
    s->cur = NULL;
    if (rc != LD_OK) {
        event_free(r->timer);
        free(r->tr);
        free(r->raw);
        live_chat_cleanup(&r->chat);
        free(r);
        reply_error(s, req, 503, "ladder: cannot take the request now",
                    "ladder_overloaded", "overloaded", LIVE_REJ_INTERNAL);
        return;
    }
    r->next = s->reqs;
    if (s->reqs != NULL)
        s->reqs->prev = r;
    s->reqs = r;
    s->nreqs++;
    s->in_flight++;
    if (r->evcon != NULL)
        watch_client(r);
    {
        ld_req_info info;
        ld_req_info_get(r->core, &info);
        r->workload = info.workload;
        r->tier = info.tier;
    }
    drain(r);
}

static void on_models(live_server *s, struct evhttp_request *req)
{
    cJSON *o = cJSON_CreateObject(), *arr = NULL;
    bool ok = o != NULL && cJSON_AddStringToObject(o, "object", "list") != NULL &&
              (arr = cJSON_AddArrayToObject(o, "data")) != NULL;
    for (int w = 0; ok && w < ld_policy_workload_count(s->p); w++) {
        cJSON *e = cJSON_CreateObject();
        ok = e != NULL && cJSON_AddItemToArray(arr, e);
        if (!ok) {
            cJSON_Delete(e);
            break;
        }
        ok = cJSON_AddStringToObject(e, "id", ld_policy_workload_name(s->p, w)) &&
             cJSON_AddStringToObject(e, "object", "model") &&
             cJSON_AddNumberToObject(e, "created", 0) &&
             cJSON_AddStringToObject(e, "owned_by", "ladder") &&
             cJSON_AddStringToObject(e, "ladder_kind", "workload") &&
             cJSON_AddBoolToObject(e, "ladder_default",
                                   w == ld_policy_default_workload(s->p));
    }
    for (int i = 0; ok && i < s->nroutes; i++) {
        ld_route_info ri;
        cJSON *e = cJSON_CreateObject();
        ok = e != NULL && cJSON_AddItemToArray(arr, e);
        if (!ok) {
            cJSON_Delete(e);
            break;
        }
        ok = ld_policy_route_info(s->p, i, &ri) == LD_OK;
        ok = cJSON_AddStringToObject(e, "id", ri.id) &&
             cJSON_AddStringToObject(e, "object", "model") &&
             cJSON_AddNumberToObject(e, "created", 0) &&
             cJSON_AddStringToObject(e, "owned_by", "ladder") &&
             cJSON_AddStringToObject(e, "ladder_kind", "route") &&
             cJSON_AddStringToObject(e, "provider",
                                     ri.provider == LD_PROVIDER_ANTHROPIC
                                         ? "anthropic" : "openai") &&
             cJSON_AddStringToObject(e, "model", ri.model) &&
             cJSON_AddNumberToObject(e, "quality", ri.quality);
    }
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    struct evbuffer *b = evbuffer_new();
    if (text == NULL || b == NULL || evbuffer_add(b, text, strlen(text)) != 0) {
        if (b != NULL)
            evbuffer_free(b);
        cJSON_free(text);
        cJSON_Delete(o);
        reply_error(s, req, 500, "ladder: out of memory", "server_error", NULL,
                    LIVE_REJ_INTERNAL);
        return;
    }
    send_whole(s, req, 200, "application/json", b);
    evbuffer_free(b);
    cJSON_free(text);
    cJSON_Delete(o);
}

static void on_feedback(live_server *s, struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : NULL;
    cJSON *o = NULL;
    const cJSON *id, *out;
    live_feedback fb;
    uint64_t n = 0;
    char *end;

    if (len > s->o.max_body) {
        reply_error(s, req, 413, "feedback body over the limit",
                    "invalid_request_error", "request_too_large",
                    LIVE_REJ_TOO_LARGE);
        return;
    }
    if (body != NULL) {
        char *copy = malloc(len + 1); /* cJSON may read one byte past len */
        if (copy != NULL) {
            memcpy(copy, body, len);
            copy[len] = '\0';
            o = cJSON_ParseWithLength(copy, len);
            free(copy);
        }
    }
    id = cJSON_GetObjectItemCaseSensitive(o, "request_id");
    out = cJSON_GetObjectItemCaseSensitive(o, "outcome");
    if (!cJSON_IsObject(o) || !cJSON_IsString(id) || !cJSON_IsString(out) ||
        live_feedback_parse(out->valuestring, &fb) != LD_OK) {
        cJSON_Delete(o);
        reply_error(s, req, 400, "feedback needs {\"request_id\": \"r-N\", "
                    "\"outcome\": \"accepted\"|\"retried\"|\"abandoned\"}",
                    "invalid_request_error", NULL, LIVE_REJ_BAD_REQUEST);
        return;
    }
    if (strncmp(id->valuestring, "r-", 2) == 0) {
        errno = 0;
        n = strtoull(id->valuestring + 2, &end, 10);
        if (errno != 0 || end == id->valuestring + 2 || *end != '\0')
            n = 0;
    }
    cJSON_Delete(o);
    feedback_slot *f = &s->fb[n % FEEDBACK_SLOTS];
    if (n == 0 || f->id != n) {
        reply_error(s, req, 404, "unknown or expired request_id (feedback is "
                    "kept for the last 4096 finished requests)",
                    "invalid_request_error", "unknown_request_id",
                    LIVE_REJ_NOT_FOUND);
        return;
    }
    if (!f->recorded) {
        f->recorded = true;
        live_metrics_on_feedback(s->m, fb, f->fell_back);
    }
    struct evbuffer *b = evbuffer_new();
    if (b != NULL)
        evbuffer_add_printf(b, "{\"ok\":true,\"fell_back\":%s}",
                            f->fell_back ? "true" : "false");
    send_whole(s, req, 200, "application/json", b);
    if (b != NULL)
        evbuffer_free(b);
}

static const char *req_path(struct evhttp_request *req)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *p = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    return p != NULL ? p : "";
}

/* The client API: one path, one method, one handler each. */
static const struct {
    const char *path;
    enum evhttp_cmd_type method;
    void (*handler)(live_server *s, struct evhttp_request *req);
    const char *use; /* the 405 message */
} api[] = {
    {"/v1/chat/completions", EVHTTP_REQ_POST, on_chat,
     "use POST /v1/chat/completions"},
    {"/v1/models", EVHTTP_REQ_GET, on_models, "use GET /v1/models"},
    {"/v1/feedback", EVHTTP_REQ_POST, on_feedback, "use POST /v1/feedback"},
};

static void on_request(struct evhttp_request *req, void *arg)
{
    live_server *s = arg;
    const char *path = req_path(req);
    size_t i = 0;
    enter(s);
    while (i < sizeof api / sizeof api[0] && strcmp(path, api[i].path) != 0)
        i++;
    if (i == sizeof api / sizeof api[0])
        reply_error(s, req, 404, "unknown URL (ladder serves POST "
                    "/v1/chat/completions, GET /v1/models, POST "
                    "/v1/feedback)", "invalid_request_error", "unknown_url",
                    LIVE_REJ_NOT_FOUND);
    else if (evhttp_request_get_command(req) != api[i].method)
        reply_error(s, req, 405, api[i].use, "invalid_request_error",
                    "method_not_allowed", LIVE_REJ_METHOD);
    else
        api[i].handler(s, req);
    leave(s);
}

/* ---- the admin listener ------------------------------------------------------------- */

static void on_admin(struct evhttp_request *req, void *arg)
{
    live_server *s = arg;
    const char *path = req_path(req);
    struct evbuffer *b;
    enter(s);
    b = evbuffer_new();
    if (b == NULL) {
        send_whole(s, req, 500, NULL, NULL);
    } else if (strcmp(path, "/metrics") == 0) {
        ld_breaker_state br[LD_MAX_ROUTES];
        live_buf out;
        for (int i = 0; i < s->nroutes; i++) {
            ld_route_health h;
            br[i] = ld_core_route_health(s->core, i, s->now, &h) == LD_OK
                        ? h.breaker : LD_BREAKER_CLOSED;
        }
        live_buf_init(&out, METRICS_CAP);
        if (live_metrics_render(s->m, br, s->in_flight, &out) == LD_OK &&
            evbuffer_add(b, out.data, out.len) == 0)
            send_whole(s, req, 200, "text/plain; version=0.0.4", b);
        else
            send_whole(s, req, 500, NULL, NULL);
        live_buf_cleanup(&out);
    } else if (strcmp(path, "/healthz") == 0) {
        evbuffer_add_printf(b, "%s\n", s->draining ? "draining" : "ok");
        send_whole(s, req, s->draining ? 503 : 200, "text/plain", b);
    } else {
        evbuffer_add_printf(b, "not found (GET /metrics, GET /healthz)\n");
        send_whole(s, req, 404, "text/plain", b);
    }
    if (b != NULL)
        evbuffer_free(b);
    leave(s);
}

/* ---- stopping ------------------------------------------------------------------------ */

static void maybe_exit(live_server *s)
{
    if (!s->draining || s->exiting || s->in_flight > 0 || s->nreqs > 0)
        return;
    if (s->unsent <= 0) {
        s->exiting = true;
        event_base_loopexit(s->base, NULL);
    } else if (!evtimer_pending(s->grace_timer, NULL)) {
        struct timeval tv = {GRACE_MS / 1000, (GRACE_MS % 1000) * 1000};
        evtimer_add(s->grace_timer, &tv);
    }
}

static void start_drain(live_server *s)
{
    if (s->draining)
        return;
    s->draining = true;
    if (s->bound != NULL) {
        evhttp_del_accept_socket(s->http, s->bound);
        s->bound = NULL;
    }
    slog(s, "draining: %d request%s in flight", s->in_flight,
         s->in_flight == 1 ? "" : "s");
    double d = s->o.drain_s;
    struct timeval tv = {(time_t)d, (suseconds_t)((d - floor(d)) * 1e6)};
    evtimer_add(s->drain_timer, &tv);
}

/* The drain's bound: abandon whatever still runs and stop. */
static void force_stop(live_server *s)
{
    int n = 0;
    for (sreq *r = s->reqs; r != NULL; r = r->next) {
        if (r->core != NULL) {
            n++;
            core_abandon(r);
        }
    }
    if (n > 0)
        slog(s, "drain limit reached: %d request%s abandoned", n,
             n == 1 ? "" : "s");
    s->exiting = true;
    event_base_loopexit(s->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    live_server *s = arg;
    (void)what;
    enter(s);
    if (s->signals++ == 0) {
        slog(s, "signal %d: stopping", (int)sig);
        start_drain(s);
    } else {
        force_stop(s);
    }
    leave(s);
}

static void on_drain_timer(evutil_socket_t fd, short what, void *arg)
{
    live_server *s = arg;
    (void)fd;
    (void)what;
    enter(s);
    force_stop(s);
    leave(s);
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    live_server *s = arg;
    (void)fd;
    (void)what;
    s->exiting = true;
    event_base_loopexit(s->base, NULL);
}

void live_server_stop(live_server *s)
{
    enter(s);
    start_drain(s);
    leave(s);
}

/* ---- setting up ------------------------------------------------------------------------ */

void live_server_opts_init(live_server_opts *o)
{
    memset(o, 0, sizeof *o);
    o->listen_host = "127.0.0.1";
    o->listen_port = 8080;
    o->admin_host = "127.0.0.1";
    o->admin_port = -1;
    o->max_body = DEFAULT_MAX_BODY;
    o->max_headers = DEFAULT_MAX_HEADERS;
    o->max_concurrent = DEFAULT_MAX_CONCURRENT;
    o->drain_s = DEFAULT_DRAIN_S;
    o->idle_s = DEFAULT_IDLE_S;
    o->seed = 1;
}

static int bind_http(live_server *s, struct evhttp *h, const char *host,
                     int port, struct evhttp_bound_socket **out, char *addr,
                     size_t cap, const char *what, ld_error *err)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char name[INET6_ADDRSTRLEN];
    int bound_port = port;
    (void)s;
    *out = evhttp_bind_socket_with_handle(h, host, (ev_uint16_t)port);
    if (*out == NULL) {
        ld_error_set(err, NULL, NULL, "cannot listen on %s:%d (%s): %s", host,
                     port, what, errno != 0 ? strerror(errno) : "bind failed");
        return LD_EINVAL;
    }
    if (getsockname(evhttp_bound_socket_get_fd(*out), (struct sockaddr *)&ss,
                    &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
            bound_port = ntohs(in->sin_port);
            inet_ntop(AF_INET, &in->sin_addr, name, sizeof name);
            snprintf(addr, cap, "%s:%d", name, bound_port);
            return LD_OK;
        }
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            bound_port = ntohs(in6->sin6_port);
            inet_ntop(AF_INET6, &in6->sin6_addr, name, sizeof name);
            snprintf(addr, cap, "[%s]:%d", name, bound_port);
            return LD_OK;
        }
    }
    snprintf(addr, cap, "%s:%d", host, bound_port);
    return LD_OK;
}

static int port_of(const char *addr)
{
    const char *c = strrchr(addr, ':');
    return c != NULL ? atoi(c + 1) : 0;
}

int live_server_new(const ld_policy *p, const live_server_opts *o,
                    live_server **out, ld_error *err)
{
    live_server *s;
    struct event_config *cfg = NULL;
    int rc = LD_ENOMEM;

    *out = NULL;
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        return LD_ENOMEM;
    }
    s->o = *o;
    if (s->o.listen_host == NULL)
        s->o.listen_host = "127.0.0.1";
    if (s->o.admin_host == NULL)
        s->o.admin_host = "127.0.0.1";
    if (s->o.max_body == 0)
        s->o.max_body = DEFAULT_MAX_BODY;
    if (s->o.max_headers == 0)
        s->o.max_headers = DEFAULT_MAX_HEADERS;
    if (s->o.max_concurrent <= 0)
        s->o.max_concurrent = DEFAULT_MAX_CONCURRENT;
    if (s->o.drain_s < 0)
        s->o.drain_s = DEFAULT_DRAIN_S;
    if (!(s->o.idle_s > 0))
        s->o.idle_s = DEFAULT_IDLE_S;
    s->idle_tv.tv_sec = (time_t)s->o.idle_s;
    s->idle_tv.tv_usec = (suseconds_t)((s->o.idle_s - floor(s->o.idle_s)) * 1e6);
    s->p = p;
    s->nroutes = ld_policy_route_count(p);
    s->next_id = 1;
    s->now = clock_us();

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ld_error_set(err, NULL, NULL, "cannot initialise libcurl");
        rc = LD_EINVAL;
        goto fail;
    }
    s->curl_inited = true;
    if (live_json_arena_install() != LD_OK) {
        ld_error_set(err, NULL, NULL, "out of memory");
        goto fail;
    }
    gsl_set_error_handler_off();
    s->gsl = gsl_rng_alloc(gsl_rng_mt19937);
    s->core = ld_core_new(p);
    s->m = live_metrics_new(p);
    s->scratch = evbuffer_new();
    cfg = event_config_new();
    if (s->gsl == NULL || s->core == NULL || s->m == NULL ||
        s->scratch == NULL || cfg == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        goto fail;
    }
    gsl_rng_set(s->gsl, (unsigned long)s->o.seed);
    s->rng.uniform = rng_uniform;
    s->rng.ctx = s->gsl;
    ld_core_set_sink(s->core, on_core_event, s);

    /* API keys, by route, into each route's fixed headers: the
     * variable's name may be logged, its value never */
    const char *(*get)(const char *) = s->o.getenv_fn;
    for (int i = 0; i < s->nroutes; i++) {
        ld_route_info ri;
        const char *v = NULL;
        s->qual_val[i] = -1;
        if (ld_policy_route_info(p, i, &ri) == LD_OK && ri.api_key_env != NULL) {
            v = get != NULL ? get(ri.api_key_env) : getenv(ri.api_key_env);
            if (v == NULL || v[0] == '\0') {
                slog(s, "warning: route %s: environment variable %s is not "
                     "set; its requests go out without credentials", ri.id,
                     ri.api_key_env);
                v = NULL;
            } else if (strlen(v) > 512 || strpbrk(v, "\r\n") != NULL) {
                slog(s, "warning: route %s: the value of %s is not a usable "
                     "API key (too long or has a line break); ignored", ri.id,
                     ri.api_key_env);
                v = NULL;
            }
        }
        if (route_headers(s, i, v) != LD_OK) {
            ld_error_set(err, NULL, NULL, "out of memory");
            goto fail;
        }
    }

    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    /* epoll changes made within one loop turn are applied together at
     * its end (evhttp turns a client's reading off and our watch turns it
     * back on in the same callback: no system call at all). libevent's
     * caveat is dup()ed descriptors, which this process never watches. */
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    s->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    cfg = NULL;
    if (s->base == NULL) {
        ld_error_set(err, NULL, NULL, "cannot create the event loop");
        goto fail;
    }
    s->http = evhttp_new(s->base);
    s->admin = evhttp_new(s->base);
    s->sig_term = evsignal_new(s->base, SIGTERM, on_signal, s);
    s->sig_int = evsignal_new(s->base, SIGINT, on_signal, s);
    s->drain_timer = evtimer_new(s->base, on_drain_timer, s);
    s->grace_timer = evtimer_new(s->base, on_grace, s);
    s->curl_timer = evtimer_new(s->base, on_curl_timeout, s);
    s->multi = curl_multi_init();
    if (s->http == NULL || s->admin == NULL || s->sig_term == NULL ||
        s->sig_int == NULL || s->drain_timer == NULL || s->grace_timer == NULL ||
        s->curl_timer == NULL || s->multi == NULL ||
        event_add(s->sig_term, NULL) != 0 || event_add(s->sig_int, NULL) != 0) {
        ld_error_set(err, NULL, NULL, "cannot set up the event loop");
        goto fail;
    }
    if (s->o.redis_addr != NULL &&
        live_shared_new(s->base, p, s->o.redis_addr,
                        s->o.redis_prefix != NULL ? s->o.redis_prefix : "ladder",
                        on_shared, s, shared_log, &s->shared, err) != LD_OK)
        goto fail;
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, curl_sock_cb);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);

    /* evhttp reads bodies up to twice the limit, so that a body over it
     * gets our JSON 413; larger ones libevent refuses itself (also 413) */
    size_t hard = s->o.max_body > ((size_t)1 << 40) ? s->o.max_body
                                                     : s->o.max_body * 2;
    evhttp_set_max_body_size(s->http, (ev_ssize_t)hard);
    evhttp_set_max_headers_size(s->http, (ev_ssize_t)s->o.max_headers);
    /* the usual methods reach on_request (a JSON 405 for the wrong one);
     * CONNECT and TRACE get libevent's 501 */
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_OPTIONS);
    evhttp_set_timeout_tv(s->http, &s->idle_tv);
    evhttp_set_gencb(s->http, on_request, s);
    evhttp_set_max_body_size(s->admin, 4096);
    evhttp_set_max_headers_size(s->admin, (ev_ssize_t)s->o.max_headers);
    evhttp_set_allowed_methods(s->admin, EVHTTP_REQ_GET);
    evhttp_set_timeout_tv(s->admin, &s->idle_tv);
    evhttp_set_gencb(s->admin, on_admin, s);

    errno = 0;
    if ((rc = bind_http(s, s->http, s->o.listen_host, s->o.listen_port,
                        &s->bound, s->listen_addr, sizeof s->listen_addr,
                        "clients", err)) != LD_OK)
        goto fail;
    int aport = s->o.admin_port;
    if (aport < 0)
        aport = s->o.listen_port == 0 ? 0 : port_of(s->listen_addr) + 1;
    errno = 0;
    if ((rc = bind_http(s, s->admin, s->o.admin_host, aport, &s->admin_bound,
                        s->admin_addr, sizeof s->admin_addr, "admin",
                        err)) != LD_OK)
        goto fail;

    if (s->o.events_path != NULL &&
        (s->events = fopen(s->o.events_path, "w")) == NULL) {
        ld_error_set(err, s->o.events_path, NULL, "cannot open for writing: %s",
                     strerror(errno));
        rc = LD_EINVAL;
        goto fail;
    }
    if (s->o.trace_path != NULL &&
        (s->trace = fopen(s->o.trace_path, "w")) == NULL) {
        ld_error_set(err, s->o.trace_path, NULL, "cannot open for writing: %s",
                     strerror(errno));
        rc = LD_EINVAL;
        goto fail;
    }
    if (s->events != NULL)
        setvbuf(s->events, NULL, _IOLBF, 0);
    if (s->trace != NULL)
        setvbuf(s->trace, NULL, _IOLBF, 0);
    *out = s;
    return LD_OK;
fail:
    if (cfg != NULL)
        event_config_free(cfg);
    live_server_free(s);
    return rc;
}

const char *live_server_listen_addr(const live_server *s)
{
    return s->listen_addr;
}

const char *live_server_admin_addr(const live_server *s)
{
    return s->admin_addr;
}

int live_server_run(live_server *s, ld_error *err)
{
    if (event_base_dispatch(s->base) < 0) {
        ld_error_set(err, NULL, NULL, "the event loop failed");
        return LD_EINVAL;
    }
    return LD_OK;
}

void live_server_free(live_server *s)
{
    if (s == NULL)
        return;
    s->stopping = true;
    s->depth++; /* closing connections below must not settle on their own */
    if (s->http != NULL)
        evhttp_free(s->http); /* closes clients: on_client_close abandons */
    if (s->admin != NULL)
        evhttp_free(s->admin);
    s->http = s->admin = NULL;
    for (sreq *r = s->reqs; r != NULL; r = r->next) {
        r->http = NULL;
        r->evcon = NULL;
        core_abandon(r);
    }
    if (s->multi != NULL)
        settle(s);
    while (s->reqs != NULL) { /* only after a failed settle */
        sreq *r = s->reqs;
        while (r->atts != NULL)
            att_free(r->atts);
        req_free(r);
    }
    for (int i = 0; i < s->npool; i++)
        curl_easy_cleanup(s->pool[i]);
    if (s->multi != NULL)
        curl_multi_cleanup(s->multi);
    while (s->socks != NULL) {
        sock_ctx *c = s->socks;
        s->socks = c->next;
        event_free(c->ev);
        free(c);
    }
    if (s->curl_inited)
        curl_global_cleanup();
    if (s->sig_term != NULL)
        event_free(s->sig_term);
    if (s->sig_int != NULL)
        event_free(s->sig_int);
    if (s->drain_timer != NULL)
        event_free(s->drain_timer);
    if (s->grace_timer != NULL)
        event_free(s->grace_timer);
    if (s->curl_timer != NULL)
        event_free(s->curl_timer);
    if (s->scratch != NULL)
        evbuffer_free(s->scratch);
    live_shared_free(s->shared);
    if (s->base != NULL)
        event_base_free(s->base);
    if (s->events != NULL && fclose(s->events) != 0)
        slog(s, "closing the events file: %s", strerror(errno));
    if (s->trace != NULL && fclose(s->trace) != 0)
        slog(s, "closing the trace file: %s", strerror(errno));
    for (int i = 0; i < LD_MAX_ROUTES; i++) {
        hdrs_wipe(s->route_hdrs[i][0]);
        hdrs_wipe(s->route_hdrs[i][1]);
    }
    ld_core_free(s->core);
    live_metrics_free(s->m);
    if (s->gsl != NULL)
        gsl_rng_free(s->gsl);
    free(s);
}
