/* live_int.h - the live router's shared state, private to router/live/.
 *
 * `ladder serve` (live_server.h) is split by job:
 *   live_server.c   the event loop: listeners, curl's sockets and timer,
 *                   signals and the drain, the admin listener, set-up
 *   live_conn.c     client connections: the cap, the read deadline,
 *                   accept errors
 *   live_api.c      the client API: the routes table, request parsing,
 *                   workload and tier, /v1/models, /v1/feedback
 *   live_request.c  one request's life with the core: its actions, its
 *                   timer, its end
 *   live_attempt.c  one upstream attempt through curl multi
 *   live_result.c   what an attempt observed -> the core's ld_raw_result
 *                   (pure; live_result.h)
 *   live_reply.c    the reply to the client: headers, SSE out, the stream
 *                   summary, errors
 *   live_events.c   the core's events out: metrics, events file, shared
 *                   health news, the trace
 *   live_reload.c   configurations (generations: policy, keys, core,
 *                   upstream headers) and SIGHUP's reload
 * and the provider tables (live_provider.h), the adapters
 * (live_adapter.h), metrics (live_metrics.h) and shared health
 * (live_shared.h).
 * *
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
 * on the server's work list, and live_settle() - run once when the outermost
 * loop callback returns - reads curl's finished transfers, removes and frees
 * retired attempts, adds new ones (and has curl send them right away),
 * and frees finished requests. Every loop callback is wrapped in
 * live_enter()/live_leave(): live_enter() reads the clock once (the one "now" of that
 * tick), live_leave() settles.
 *
 * Ownership of the evhttp request: ours from the callback until we hand the
 * final reply to libevent (evhttp_send_reply, evhttp_send_reply_end) or the
 * client's connection closes (libevent then detaches the request and we free
 * it in the close callback). While we own it the connection's close callback
 * points at the sreq and the connection keeps reading (into a capped buffer)
 * so that a client that goes away is noticed; libevent does the same once a
 * reply has started.
 */
#ifndef LIVE_INT_H
#define LIVE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <gsl/gsl_rng.h>

#include "ld_core.h"
#include "ld_trace.h"
#include "live_adapter.h"
#include "live_evs.h"
#include "live_face.h"
#include "live_metrics.h"
#include "live_provider.h"
#include "live_result.h"
#include "live_server.h"
#include "live_shared.h"
#include "live_sigv4.h"

#define LADDER_UA "ladder/0.1.0"

#define DEFAULT_MAX_BODY ((size_t)1 << 20)
#define DEFAULT_MAX_HEADERS ((size_t)64 << 10)
#define DEFAULT_MAX_CONCURRENT 1024
#define DEFAULT_QUEUE_MAX 4096          /* requests waiting for a slot */
#define LISTEN_BACKLOG 4096             /* connections not yet accepted */
#define DEFAULT_DRAIN_S 30.0
#define DEFAULT_IDLE_S 120.0
#define DEFAULT_READ_S 10.0             /* a request's headers and body */
#define FD_SOFT_MAX 65536               /* RLIMIT_NOFILE raised at most to */
#define ACCEPT_PAUSE_MS 100             /* accept failed (no fd): pause */
#define CONN_LOG_US ((ld_us)60 * LD_US_PER_S) /* one cap log a minute */

#define ANSWER_CAP ((size_t)16 << 20)   /* non-stream upstream body */
#define ERROR_BODY_CAP ((size_t)64 << 10) /* upstream error body kept */
#define SSE_LINE_CAP ((size_t)1 << 20)  /* one SSE line or event */
#define PENDING_OUT_CAP ((size_t)1 << 20) /* stream output before commit */
/* One event of a Responses stream passed through (prov_responses.c), for
 * an upstream body of body_len bytes: its response.created, .in_progress
 * and .completed each carry the whole response object, the answer's text
 * (the translated path keeps FACE_TEXT_CAP of it; twice that for JSON's
 * escapes) and the request's instructions and tools echoed back (at most
 * the body). Before the first token the created and in_progress events
 * wait in the attempt's output, with a terminator when the answer has no
 * token: three such events at most. */
#define NATIVE_EVENT_CAP(body_len) \
    (2 * FACE_TEXT_CAP + (size_t)(body_len) + ((size_t)64 << 10))
#define NATIVE_OUT_CAP(body_len) (3 * NATIVE_EVENT_CAP(body_len))
#define CLIENT_OUT_CAP ((size_t)8 << 20) /* unsent bytes to a slow client */
#define DEFAULT_MAX_BUFFERED ((size_t)64 << 20) /* to all clients */
#define SLOW_MIN ((size_t)64 << 10)     /* behind: cut over the budget */
#define DEFAULT_MAX_REQUEST_MEM ((size_t)64 << 20) /* request bodies */
#define TRIM_BODY_MIN ((size_t)256 << 10) /* bodies whose tree is given back */
#define WATCH_READ_CAP ((size_t)64 << 10) /* client bytes read while busy */
#define METRICS_CAP ((size_t)8 << 20)
#define EASY_POOL_MAX 64
#define FEEDBACK_SLOTS 4096
#define HEADER_LINE_MAX 512
#define GRACE_MS 1000                   /* unsent replies at shutdown */
#define MAX_SENDS 1     /* wire sends per attempt: curl's own re-send after
                           a reused connection died is refused (the core's
                           rules decide every request on the wire) */
#define EVENT_LINE_CAP 4096

/* ---- types ----------------------------------------------------------------- */

typedef struct sreq sreq;
typedef struct satt satt;
typedef struct live_held live_held;

/* One configuration (live_reload.c): a policy, its keys and its core, and
 * what the server built from them. A request pins the generation current
 * when it arrives and keeps it to its end (its attempts, events, trace and
 * metrics use that generation's route indices); SIGHUP makes a new current
 * one, and a generation no longer current is freed with its last request. */
/* A SigV4-signed route: its credentials and key (live_sigv4.h) and, for
 * each of its URLs (whole, stream, embeddings; NULL: none), the Host
 * value, canonical URI and canonical query, made once at set-up. */
typedef struct live_route_sig {
    live_sigv4 k;
    char *host[3];
    char *uri[3];
    char *query[3];
} live_route_sig;

typedef struct live_gen {
    live_server *s;
    struct live_gen *next_old; /* s->old: retired, still pinned */
    uint64_t no;               /* 1 for the configuration loaded at start */
    int refs;                  /* requests pinned, plus one while current */
    const ld_policy *p;
    live_keys *keys;           /* NULL: no client keys */
    bool own;                  /* p and keys are ours (not generation 1's,
                                  which are the caller's) */
    ld_core *core;
    int nroutes;
    const live_provider *prov[LD_MAX_ROUTES]; /* each route's API */
    /* each route's fixed upstream headers (content type, accept, version,
     * credentials), for stream [1] and whole [0] answers: built once, the
     * tail of every attempt's own list */
    struct curl_slist *route_hdrs[LD_MAX_ROUTES][2];
    /* each route's upstream URL, whole [0], stream [1], embeddings [2]
     * and Responses [3] (capability "responses") (NULL: the provider has
     * none) (curl_free),
     * and its SigV4 signing (NULL: none; wiped when freed) */
    char *route_url[LD_MAX_ROUTES][4];
    live_route_sig *route_sig[LD_MAX_ROUTES];
    double qual_val[LD_MAX_ROUTES];     /* quality last put in qual_str; */
    char qual_str[LD_MAX_ROUTES][32];   /* -1 before the first */
    /* retired: its indices in the current generation (-1: not there);
     * health_to only where the route's upstream is the same too */
    int route_to[LD_MAX_ROUTES], health_to[LD_MAX_ROUTES];
    int workload_to[LD_MAX_WORKLOADS], tier_to[LD_MAX_TIERS];
    int *key_to;                        /* count(keys) entries, or NULL */
} live_gen;

struct satt {
    sreq *r;
    satt *next;          /* in r->atts */
    satt *next_work;     /* on s->work */
    bool on_work;
    uint32_t no;
    int route;
    const live_provider *prov; /* the route's API */
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
    live_evs *evs;       /* instead of sse: an event-stream provider's */
    live_stream *tr;
    int status;          /* 0 until a status line arrived */
    bool got_headers;
    char ra[64], ra_ms[32]; /* Retry-After, retry-after-ms as sent ("": none
                               or too long to be one) */
    int64_t ra_unix;     /* wall clock (Unix s) when Retry-After came */
    ld_us started, t_first;
    int tokens;          /* content pieces received */
    int sends;           /* times curl put the request on the wire */
    bool resend_refused; /* curl wanted to send it again (refused) */
    bool in_multi;
    bool retired;        /* cancelled or ended: to be removed and freed */
    bool ended;          /* its end was reported to the core */
    bool abort;          /* stop the transfer (write callback returns 0) */
    bool first_seen, finished, done_seen;
};

struct sreq {
    live_server *s;
    live_gen *g;         /* its configuration (pinned from the start) */
    int key;             /* client key index (live_keys.h), -1 none */
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
    double wall_ms;                        /* arrival, Unix epoch ms */
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
    ld_us last_out;      /* when the stream's last bytes were handed over */
    size_t reserved;     /* its share of s->req_bytes */
    struct live_conn *conn; /* its connection's watch (NULL: none); valid
                               while http is not NULL */
    ld_trace *tr;        /* its trace record; NULL without --trace */
    const live_face *face; /* the client's API when not chat completions
                              (live_face.h); NULL for chat */
    live_face_stream *fs;  /* its stream in the face's shape; NULL none */
    bool native_out;       /* the client's stream was started by an attempt
                              whose events are the face's own
                              (live_provider.h's face_native): they went
                              out as they are, not through fs */
    int64_t native_seq;    /* the last sequence_number such a stream
                              relayed (-1 none) */
    char *native;          /* the client's own body, for routes that speak
                              its API (chat.native points here); NULL none */
};

typedef struct sock_ctx {
    live_server *s;
    struct sock_ctx *prev, *next;
    curl_socket_t fd;
    struct event *ev;
} sock_ctx;

/* One client connection (live_conn.c): our reference on its bufferevent
 * (evhttp frees the connection; the bufferevent's memory lasts until the
 * sweep sees its socket closed and drops the reference), and the read
 * deadline: armed by the first byte of a request, cancelled when the whole
 * request reached live_on_request, never restarted by later bytes. */
typedef struct live_conn {
    live_server *s;
    struct live_conn *prev, *next;
    struct bufferevent *bev;
    struct event *deadline;
    bool busy;       /* its request is ours (live_on_request .. complete) */
    bool armed;      /* a request is arriving: the deadline runs */
    bool closing;    /* shut down by us; the sweep frees it */
    /* libevent's own refusals, rewritten (live_conn.c, on_conn_output) */
    bool head_done;  /* the current request's blank line has arrived */
    bool head_nl;    /* the last head byte (CR aside) was a LF */
    size_t head_bytes; /* bytes of the current request's head so far */
    bool rewriting;  /* libevent's error page is being replaced */
    bool in_rewrite; /* our own changes to the output (no recursion) */
    size_t keep;     /* output bytes to keep while rewriting */
    size_t out_len;  /* bytes waiting in the connection's output */
    /* the request memory budget (live_conn.c, recv_admit) */
    bool reserved;   /* holds --max-body of the budget: a body arriving */
    bool waiting;    /* not read until the budget has room */
    struct live_conn *next_wait;
    /* half-close (live_conn_guard): evhttp's event callback, wrapped */
    bool half_closed; /* the client shut its write side down */
    bool started;     /* the reply to its request has begun */
    bool probed;      /* the 103 probe went out (once a request) */
    bool probe_out;   /* its bytes are not all sent: evhttp's write
                         callback is not told of them */
    bool in_probe;
    bufferevent_data_cb rd_orig, wr_orig;
    bufferevent_event_cb ev_orig;
    void *ev_arg;
} live_conn;

/* One second of chat requests: taken, or shed at --max-concurrent. */
#define LOAD_SECONDS 10
typedef struct load_second {
    int64_t sec;
    uint32_t taken, shed;
} load_second;

typedef struct feedback_slot {
    uint64_t id;
    bool fell_back, recorded;
} feedback_slot;

struct live_server {
    live_server_opts o;
    live_gen *g;         /* the current configuration; new requests pin it */
    live_gen *old;       /* earlier ones with requests still in flight */
    uint64_t reloads_ok, reloads_failed;
    /* the current generation's, for the code that serves new requests: */
    const ld_policy *p;
    ld_core *core;
    const live_provider *const *prov;
    live_metrics *m;     /* counters across generations, in the current
                            one's indices */
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
    bool telling;        /* live_events.c: the current core is told an
                            older generation's news */
    int nroutes;
    sreq *reqs;
    int nreqs;
    int in_flight;                      /* accepted, not finished */
    live_held *held, *held_tail;        /* waiting for a slot (live_queue.c) */
    int nheld;
    struct event *held_timer, *held_pump;
    sreq *cur;                          /* request of the running core call */
    struct live_conn *cur_conn;         /* in live_on_request: its
                                           connection's watch, or NULL */
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
    load_second load[LOAD_SECONDS];     /* the last 10 s, for /healthz */
    live_conn *conns, *conns_tail;      /* oldest first */
    int nconns, conn_cap, fd_limit;
    struct event *sweep_timer, *sweep_soon, *accept_timer, *sig_hup;
    struct timeval read_tv;
    size_t out_buffered;                /* unsent bytes to all clients */
    size_t req_bytes;                   /* request bodies: arriving
                                           (--max-body each) and held by
                                           requests in flight (2x size) */
    live_conn *wait_head, *wait_tail;   /* connections not read meanwhile */
    uint64_t slow_cut;                  /* streams cut over the budget */
    ld_us cap_logged, accept_logged, deadline_logged; /* last logs (0 none) */
    uint64_t cap_closed, accept_failed, deadline_closed; /* since the log */
};

/* ---- small helpers ----------------------------------------------------------- */

static inline ld_us live_clock_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (ld_us)ts.tv_sec * LD_US_PER_S + ts.tv_nsec / 1000;
}

/* Unix epoch, ms. */
static inline double live_wall_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000) / 1000.0;
}

static inline double live_us_to_ms(ld_us us) { return (double)us / 1000.0; }

/* v in decimal at buf (21 bytes are enough), NUL-terminated; returns the
 * length. Every answer carries a few such numbers: cheaper than printf. */
static inline size_t live_fmt_u64(char *buf, uint64_t v)
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
static inline void live_fmt_prefixed_u64(char *buf, const char *prefix,
                                         uint64_t v)
{
    size_t n = strlen(prefix);
    memcpy(buf, prefix, n);
    live_fmt_u64(buf + n, v);
}

/* ---- the loop (live_server.c) ------------------------------------------------- */

/* A warning through opts.log (dropped without one). */
void live_log(live_server *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Around every callback the loop makes: live_enter reads the clock once
 * (s->now), the outermost live_leave settles. */
void live_enter(live_server *s);
void live_leave(live_server *s);
/* curl's finished transfers, handles in and out, frees (see above). */
void live_settle(live_server *s);
/* Stop the loop once a drain has nothing left to wait for. */
void live_maybe_exit(live_server *s);

/* The request reached live_on_request: its connection's read deadline
 * stops, until the reply is complete. */
/* live_conn.c: client connections (the cap, the read deadline, accept
 * errors), wired up by live_server_new */
void live_owner_set(struct evhttp *h, live_server *s);
void live_conn_unlink(live_server *s, live_conn *c);
struct bufferevent *live_conn_new_bev(struct event_base *base, void *arg);
void live_on_sweep(evutil_socket_t fd, short what, void *arg);
void live_on_accept_resume(evutil_socket_t fd, short what, void *arg);
void live_on_accept_error(struct evconnlistener *lev, void *ctx);
void live_conn_limits(live_server *s);
/* The request reached live_on_request: its connection (NULL when not
 * watched), busy until live_conn_done (its reply's completion). */
live_conn *live_conn_request(live_server *s, struct evhttp_request *req);
void live_conn_done(live_conn *c);
/* A request's body memory came back to the budget: read the connections
 * that were waiting for room. */
void live_conn_admit(live_server *s);
/* The request memory budget in bytes (--max-request-mb, at least 4x
 * --max-body). */
size_t live_req_budget(const live_server *s);
/* After evhttp wrote (or started reading) for a request of ours on c: an
 * end of file from the client (it shut down its write side, the request
 * already in) no longer fails the connection; reading stops instead, and
 * a client that left is seen at the next write that fails. NULL: none. */
void live_conn_guard(live_conn *c);

/* A chat request was taken (shed false) or shed for overload. */
void live_load_note(live_server *s, bool shed);

/* live_queue.c: requests waiting for a slot under --max-concurrent. */
int live_queue_init(live_server *s); /* LD_ENOMEM; nothing without queue_ms */
/* Hold req until a slot frees: LD_OK, or LD_ELIMIT (no queue, full) /
 * LD_ENOMEM, when the caller refuses it as before. */
int live_queue_hold(live_server *s, struct evhttp_request *req);
void live_queue_pump(live_server *s); /* a slot may have freed */
int live_queue_waiting(const live_server *s);
void live_queue_free(live_server *s);
/* live_api.c: route a chat request that arrived at `arrived`. */
void live_chat_begin(live_server *s, struct evhttp_request *req, ld_us arrived);

/* ---- the client API (live_api.c) ----------------------------------------------- */

/* evhttp's callback for the client listener. */
void live_on_request(struct evhttp_request *req, void *arg);
/* The admin listener's check of --admin-token: true when the request may
 * go on (no token configured, or the right one as a bearer token); false
 * after a 401 was sent. */
bool live_admin_allowed(live_server *s, struct evhttp_request *req);
/* The policy's pass_through names over all routes, each once, into out
 * (at most cap); returns how many. */
int live_pass_union(const ld_policy *p, const char **out, int cap);
#define PASS_UNION_CAP 64
/* The request's URL path ("" when none). */
const char *live_req_path(struct evhttp_request *req);

/* ---- a request with the core (live_request.c) ------------------------------------ */

/* Carry out the core's actions for r (attempts, cancels, the finish) and
 * arm its timer. */
void live_drain(sreq *r);
void live_core_first_token(sreq *r, uint32_t no);
void live_core_progress(sreq *r, uint32_t no);
/* The client is gone (or will not read): the core abandons r. */
void live_core_abandon(sreq *r);
/* The drain's limit: the core fails r with class shutdown (the client gets
 * a 503, or an error event ending its stream). */
void live_core_shutdown(sreq *r);
void live_on_req_timer(evutil_socket_t fd, short what, void *arg);
void live_req_free(sreq *r);

/* ---- attempts (live_attempt.c) ------------------------------------------------------ */

/* LD_DO_START: build the attempt; it joins the multi handle in live_settle. */
void live_att_start(sreq *r, const ld_do *d);
/* Mark a to be removed and freed by live_settle. */
void live_att_retire(satt *a);
satt *live_att_find(sreq *r, uint32_t no);
/* The Retry-After the attempt got, -1 none. */
ld_us live_att_retry_after(const satt *a);
/* Report the attempt's end to the core (once) and retire it. */
void live_att_end(satt *a, const ld_raw_result *res);
/* curl finished the transfer (with rc): tell the core what it was. */
void live_att_transfer_done(satt *a, CURLcode rc);
void live_att_free(satt *a);
/* Route i's fixed upstream headers with its API key (NULL: none), its
 * extra headers (values of variables read now), its URLs and its SigV4
 * credentials, into generation g. LD_EINVAL (err says which route and
 * field) or LD_ENOMEM. */
int live_route_headers(live_gen *g, int i, const char *key, ld_error *err);
/* Free what live_route_headers made for route i (secrets wiped). */
void live_route_free(live_gen *g, int i);
/* Free a header list, wiping its text (it may hold an API key). */
void live_hdrs_wipe(struct curl_slist *l);

/* ---- the reply (live_reply.c) --------------------------------------------------------- */

/* An OpenAI-style error reply to a request we do not route. */
void live_reply_error(live_server *s, struct evhttp_request *req, int status,
                      const char *message, const char *type,
                      const char *code, live_reject why);
/* As live_reply_error, naming the request's field at fault ("param"). */
void live_reply_error_param(live_server *s, struct evhttp_request *req,
                            int status, const char *message, const char *type,
                            const char *param, const char *code,
                            live_reject why);
/* Retry-After and x-should-retry for a request whose ladder walk failed
 * with `status` (live_reply.c explains). */
void live_walk_retry_headers(live_server *s, ld_core *core,
                             struct evhttp_request *req, int status,
                             int workload);
/* Hand a whole reply to libevent. body may be NULL; it is emptied. */
void live_send_whole(live_server *s, struct evhttp_request *req, int status,
                     const char *content_type, struct evbuffer *body);
/* The stream is committed to attempt a: status, headers, what was held. */
void live_commit_stream(sreq *r, satt *a, const ld_req_info *info);
/* Send a's translated output if the client reads a's stream. */
void live_flush_out(satt *a);
void live_send_chunk(sreq *r, const char *p, size_t n);
void live_respond_success(sreq *r, const ld_req_info *info);
void live_respond_failure(sreq *r, const ld_req_info *info, const ld_do *d);
/* ": ping" to the committed streams silent for --sse-ping-s (the 1 s
 * sweep calls it). */
void live_ping_streams(live_server *s);
/* Drop the client's connection (abandoned while it was still there). */
void live_close_client(sreq *r);
/* Empty a header list but for a "Connection: close". */
void live_keep_only_connection(struct evkeyvalq *h);

/* ---- configurations and SIGHUP (live_reload.c) ---------------------------------------- */

/* A generation for p and keys (taken over when own, even on failure): its
 * core, each route's API and upstream headers (API keys from the
 * environment). LD_EINVAL naming the route, LD_ENOMEM; err filled. */
int live_gen_new(live_server *s, const ld_policy *p, live_keys *keys,
                 bool own, live_gen **out, ld_error *err);
/* Drop one reference; the last frees it (and unlinks it from s->old). */
void live_gen_unref(live_gen *g);
/* r takes the current generation (r->core was started on its core). */
void live_gen_pin(sreq *r);
/* SIGHUP: load, check, switch (see live_server.h). */
void live_reload(live_server *s);
/* ev (an event of generation g's core) in the current generation's
 * indices, into *out; false when it names a route no longer there. */
bool live_gen_event_now(const live_gen *g, const ld_event *ev, ld_event *out);
/* g's key index in the current keys (-1: gone). */
int live_gen_key_now(const live_gen *g, int key);

/* ---- the core's events out (live_events.c) ------------------------------------------- */

/* The core's event sink: metrics, events file, shared news, trace. */
void live_on_core_event(void *ud, const ld_event *ev);
/* live_shared's callbacks: another router's news, and its log. */
void live_on_shared_news(void *ud, const live_shared_msg *m);
void live_on_shared_log(void *ud, const char *msg);
/* r's trace line, if --trace. */
void live_trace_write(sreq *r, const ld_req_info *info);

#endif
