/* live_reply.c - the reply to the client: status and x-ladder-* headers,
 * error bodies, the stream's chunks as they come, its ": ladder {...}"
 * summary and [DONE], the safe failure, an error event mid-stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "live_int.h"

static const char *live_reason_phrase(int status)
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

static void live_on_sent(struct evhttp_request *req, void *arg)
{
    live_server *s = arg;
    (void)req;
    s->unsent--;
    live_maybe_exit(s);
}

/* The same, for a reply on a watched connection: it is free for its next
 * request (its read deadline, libevent's refusals rewritten). */
static void live_on_sent_conn(struct evhttp_request *req, void *arg)
{
    live_conn *c = arg;
    live_conn_done(c);
    live_on_sent(req, c->s);
}

static void on_sent_set(live_server *s, struct evhttp_request *req,
                        live_conn *c)
{
    if (c != NULL)
        evhttp_request_set_on_complete_cb(req, live_on_sent_conn, c);
    else
        evhttp_request_set_on_complete_cb(req, live_on_sent, s);
}

/* Headers every reply carries. */
static void live_add_header(struct evhttp_request *req, const char *k, const char *v)
{
    /* a header that cannot be added (out of memory) is left out */
    (void)evhttp_add_header(evhttp_request_get_output_headers(req), k, v);
}

/* Hand a whole reply to libevent. body may be NULL; it is emptied. */
void live_send_whole(live_server *s, struct evhttp_request *req, int status,
                       const char *content_type, struct evbuffer *body)
{
    if (content_type != NULL)
        live_add_header(req, "Content-Type", content_type);
    if (s->draining)
        live_add_header(req, "Connection", "close");
    on_sent_set(s, req, s->cur_conn);
    s->unsent++;
    evhttp_send_reply(req, status, live_reason_phrase(status), body);
    live_conn_guard(s->cur_conn);
}

/* {"error":{"message","type","param","code"}} into b. */
static int live_error_json(struct evbuffer *b, const char *message, const char *type,
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
static long retry_hint_s(live_server *s, ld_core *core, int workload)
{
    ld_us w = ld_core_retry_hint(core, workload, s->now);
    long secs = (long)((w + LD_US_PER_S - 1) / LD_US_PER_S);
    return secs < 1 ? 1 : secs;
}

/* After a ladder walk that failed, what a client's retry could win: the
 * ladder has spent its options, so only a block or breaker that lifts
 * later (the core's hint, > 0) is worth waiting for. Then a 429 or 503
 * says when (Retry-After) and that a retry may succeed; otherwise
 * x-should-retry: false (honoured by the openai and @anthropic-ai/sdk
 * clients) and no Retry-After, so that SDK retries do not walk the whole
 * ladder again for one user call. */
void live_walk_retry_headers(live_server *s, ld_core *core,
                             struct evhttp_request *req, int status,
                             int workload)
{
    ld_us hint = ld_core_retry_hint(core, workload, s->now);
    if (hint > 0 && (status == 429 || status == 503)) {
        char ra[24];
        snprintf(ra, sizeof ra, "%ld",
                 (long)((hint + LD_US_PER_S - 1) / LD_US_PER_S));
        live_add_header(req, "Retry-After", ra);
        live_add_header(req, "x-should-retry", "true");
    } else {
        live_add_header(req, "x-should-retry", "false");
    }
}

/* The error body in the shape of the client's API: its face's when it
 * has one (live_face.h), else OpenAI's. */
static int face_error_json(const live_face *face, struct evbuffer *b,
                           int status, const char *message, const char *type,
                           const char *param, const char *code)
{
    if (face == NULL || face->error_body == NULL)
        return live_error_json(b, message, type, param, code);
    live_buf t;
    live_buf_init(&t, 0);
    int rc = face->error_body(status, message, type, code, &t) == LD_OK &&
                     evbuffer_add(b, t.data, t.len) == 0
                 ? 0
                 : -1;
    live_buf_cleanup(&t);
    return rc;
}

/* An OpenAI-style error reply to a request we do not route (in the shape
 * of the client's API for the other APIs). */
void live_reply_error(live_server *s, struct evhttp_request *req, int status,
                        const char *message, const char *type,
                        const char *code, live_reject why)
{
    live_reply_error_param(s, req, status, message, type, NULL, code, why);
}

void live_reply_error_param(live_server *s, struct evhttp_request *req,
                            int status, const char *message, const char *type,
                            const char *param, const char *code,
                            live_reject why)
{
    struct evbuffer *b = evbuffer_new();
    const live_face *face = live_face_for_path(live_req_path(req));
    live_metrics_on_reject(s->m, why);
    if (b == NULL ||
        face_error_json(face, b, status, message, type, param, code) != 0) {
        if (b != NULL)
            evbuffer_free(b);
        live_send_whole(s, req, 500, NULL, NULL);
        return;
    }
    if (status == 503 || status == 429) {
        char ra[24];
        snprintf(ra, sizeof ra, "%ld", retry_hint_s(s, s->core, -1));
        live_add_header(req, "Retry-After", ra);
    }
    live_send_whole(s, req, status, "application/json", b);
    evbuffer_free(b);
}

/* ---- entering and leaving the loop's callbacks ------------------------------ */


/* The client's stream in its face's shape: chunks p..n translated. */
static void send_face_chunk(sreq *r, const char *p, size_t n)
{
    live_buf t;
    live_buf_init(&t, CLIENT_OUT_CAP);
    if (live_face_stream_feed(r->fs, p, n, &t) != LD_OK) {
        live_buf_cleanup(&t);
        live_core_abandon(r); /* cannot say it in the client's shape */
        return;
    }
    live_send_chunk(r, t.data, t.len);
    live_buf_cleanup(&t);
}

void live_flush_out(satt *a)
{
    sreq *r = a->r;
    if (r->committed != a || a->out.len == 0)
        return;
    size_t n = a->out.len;
    a->out.len = 0;
    if (a->prov->face_native)
        r->native_seq = live_stream_last_seq(a->tr);
    if (r->fs != NULL && !a->prov->face_native)
        send_face_chunk(r, a->out.data, n);
    else
        live_send_chunk(r, a->out.data, n);
    /* a stream may wait minutes for its next piece: hold no buffer */
    live_buf_cleanup(&a->out);
}


/* ---- answering the client ---------------------------------------------------- */

static void live_release_http(sreq *r)
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
    on_sent_set(s, r->http, r->conn);
    s->unsent++;
}

static void fmt_num(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.8g", v);
}

static double route_quality(const live_gen *g, int route)
{
    double q = ld_core_route_quality(g->core, route);
    return q >= 0 ? q : 0;
}

/* The x-ladder-* headers; cost only when final (cost >= 0). */
static void ladder_headers(sreq *r, const ld_req_info *info, double cost)
{
    live_server *s = r->s;
    live_gen *g = r->g;
    char v[64];
    struct evhttp_request *req = r->http;
    live_add_header(req, "x-ladder-request-id", r->id_str);
    live_add_header(req, "x-ladder-route", info->route >= 0
                                          ? ld_policy_route_id(g->p, info->route)
                                          : "none");
    live_fmt_u64(v, info->attempts > 0 ? (uint64_t)info->attempts : 0);
    live_add_header(req, "x-ladder-attempts", v);
    live_add_header(req, "x-ladder-fallback", ld_class_name(info->first_cls));
    if (info->route >= 0) {
        /* a route's quality changes seldom: its text is kept */
        double q = route_quality(g, info->route);
        if (q != g->qual_val[info->route]) {
            g->qual_val[info->route] = q;
            fmt_num(g->qual_str[info->route], sizeof g->qual_str[0], q);
        }
        live_add_header(req, "x-ladder-quality", g->qual_str[info->route]);
    }
    if (cost >= 0) {
        fmt_num(v, sizeof v, cost);
        live_add_header(req, "x-ladder-cost-usd", v);
    }
    if (s->draining)
        live_add_header(req, "Connection", "close");
}

void live_send_chunk(sreq *r, const char *p, size_t n)
{
    live_server *s = r->s;
    if (r->http == NULL || r->evcon == NULL || n == 0)
        return;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(r->evcon);
    if (bev != NULL &&
        evbuffer_get_length(bufferevent_get_output(bev)) > CLIENT_OUT_CAP) {
        /* the client does not read: it has left in all but name */
        live_core_abandon(r);
        return;
    }
    /* The output budget: the unsent bytes to all clients together. Over
     * it, the streams furthest behind (the most bytes unsent, at least
     * SLOW_MIN: a client that reads has next to none, and the kernel's
     * socket buffer is full before a byte waits here) are cut, as
     * abandoned, their connections closed, which frees what they held,
     * until the total is under the budget again. Pausing the upstream
     * instead would hold its connection and the request's slot for a
     * client that may never read again. */
    size_t budget = s->o.max_buffered > 0 ? s->o.max_buffered
                                          : DEFAULT_MAX_BUFFERED;
    while (s->out_buffered + n > budget) {
        sreq *worst = NULL;
        size_t most = SLOW_MIN - 1;
        for (sreq *q = s->reqs; q != NULL; q = q->next)
            if (q->stream && q->http != NULL && q->conn != NULL &&
                q->conn->out_len > most) {
                most = q->conn->out_len;
                worst = q;
            }
        if (worst == NULL)
            break;
        live_metrics_on_slow_cut(s->m);
        if (s->slow_cut++ == 0 || s->slow_cut % 1000 == 0)
            live_log(s, "output budget (%zu bytes unsent to clients, "
                     "--max-buffered-mb %zu) reached: cutting the streams "
                     "whose client reads least (%llu so far)", s->out_buffered,
                     budget >> 20, (unsigned long long)s->slow_cut);
        live_core_abandon(worst);
        if (worst->http != NULL) /* the core had finished it already */
            live_close_client(worst);
        if (worst == r)
            return;
    }
    if (evbuffer_add(s->scratch, p, n) != 0) {
        live_core_abandon(r);
        return;
    }
    evhttp_send_reply_chunk(r->http, s->scratch);
    live_conn_guard(r->conn);
    r->last_out = s->now;
    evbuffer_drain(s->scratch, evbuffer_get_length(s->scratch));
}

/* The stream is committed to attempt a: status, headers, what was held. */
/* Empty a stream's header list but for a "Connection: close", which
 * libevent reads again when the exchange ends (to close the connection;
 * keeping it open is the default of the chunked HTTP/1.1 streams, and an
 * HTTP/1.0 stream ends by closing anyway). A stream holds its request for
 * minutes: the rest is done with. */
void live_keep_only_connection(struct evkeyvalq *h)
{
    const char *c = evhttp_find_header(h, "Connection");
    bool close = false;
    for (; c != NULL && *c != '\0' && !close; c++)
        close = strncasecmp(c, "close", 5) == 0;
    evhttp_clear_headers(h);
    if (close)
        (void)evhttp_add_header(h, "Connection", "close");
}

void live_commit_stream(sreq *r, satt *a, const ld_req_info *info)
{
    if (r->http == NULL)
        return;
    r->committed = a;
    r->reply_started = true;
    r->native_out = a->prov->face_native;
    r->status_sent = 200;
    live_add_header(r->http, "Content-Type", "text/event-stream");
    live_add_header(r->http, "Cache-Control", "no-cache");
    ladder_headers(r, info, -1);
    evhttp_send_reply_start(r->http, 200, "OK");
    live_conn_guard(r->conn);
    /* the headers are on their way: the list is not needed again */
    live_keep_only_connection(evhttp_request_get_output_headers(r->http));
    live_flush_out(a);
}

/* The final ": ladder {...}" comment of a stream. */
static void stream_summary(sreq *r, const ld_req_info *info, satt *a,
                           live_buf *b)
{
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
                                              ld_policy_route_id(r->g->p, info->route))
                    : cJSON_AddNullToObject(o, "route")) != NULL;
    ok = ok && (model != NULL ? cJSON_AddStringToObject(o, "model", model)
                              : cJSON_AddNullToObject(o, "model")) != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "attempts", info->attempts) != NULL;
    ok = ok && cJSON_AddStringToObject(o, "fallback",
                                       ld_class_name(info->first_cls)) != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "quality",
                                       route_quality(r->g, info->route)) != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "cost_usd", info->cost) != NULL;
    if (ans.input_tokens >= 0)
        ok = ok && cJSON_AddNumberToObject(o, "input_tokens",
                                           (double)ans.input_tokens) != NULL;
    if (ans.output_tokens >= 0)
        ok = ok && cJSON_AddNumberToObject(o, "output_tokens",
                                           (double)ans.output_tokens) != NULL;
    if (info->ttft >= 0)
        ok = ok && cJSON_AddNumberToObject(o, "ttft_ms", live_us_to_ms(info->ttft)) != NULL;
    if (info->latency >= 0)
        ok = ok && cJSON_AddNumberToObject(o, "latency_ms",
                                           live_us_to_ms(info->latency)) != NULL;
    if (ok)
        text = cJSON_PrintUnformatted(o);
    if (text != NULL)
        (void)live_buf_appendf(b, ": ladder %s\n\n", text);
    cJSON_free(text);
    cJSON_Delete(o);
}

void live_respond_success(sreq *r, const ld_req_info *info)
{
    satt *a = r->committed != NULL ? r->committed : r->last_end;
    if (r->http == NULL)
        return;
    if (r->stream) {
        live_buf tail;
        if (!r->reply_started && a != NULL)
            live_commit_stream(r, a, info);
        if (a != NULL)
            live_flush_out(a);
        if (r->http == NULL)
            return;
        /* a face's closing events repeat the answer (Responses' .done
         * events and response.completed); a stream passed through had its
         * own */
        bool face_end = r->fs != NULL && !r->native_out;
        live_buf_init(&tail, face_end ? 4 * FACE_TEXT_CAP + (64 << 10)
                                      : 64 << 10);
        if (face_end)
            (void)live_face_stream_end(r->fs, &tail);
        stream_summary(r, info, a, &tail);
        if (r->fs == NULL)
            (void)live_buf_append(&tail, "data: [DONE]\n\n", 14);
        live_send_chunk(r, tail.data, tail.len);
        live_buf_cleanup(&tail);
        if (r->http == NULL)
            return;
        struct evhttp_request *req = r->http;
        live_release_http(r);
        r->http = NULL;
        r->evcon = NULL;
        evhttp_send_reply_end(req);
        live_conn_guard(r->conn);
        return;
    }
    struct evhttp_request *req = r->http;
    struct evbuffer *b = evbuffer_new();
    ladder_headers(r, info, info->cost);
    live_add_header(req, "Content-Type", "application/json");
    r->status_sent = 200;
    if (b == NULL || a == NULL) {
        r->status_sent = 500;
    } else if (r->face != NULL && r->face->answer != NULL &&
               !a->prov->face_native) {
        /* the chat answer in the client's API (an answer already in it,
         * passed through, goes as it is) */
        live_buf t;
        char id[64];
        snprintf(id, sizeof id, "%s%s", r->face->id_prefix, r->id_str + 2);
        live_buf_init(&t, ANSWER_CAP * 2);
        if (r->face->answer(a->answer.data != NULL ? a->answer.data : "",
                            a->answer.len, id, (int64_t)(r->wall_ms / 1000),
                            &t) != LD_OK ||
            evbuffer_add(b, t.data, t.len) != 0)
            r->status_sent = 500;
        live_buf_cleanup(&t);
    } else if (evbuffer_add(b, a->answer.data != NULL ? a->answer.data : "",
                            a->answer.len) != 0) {
        r->status_sent = 500;
    }
    live_release_http(r);
    r->http = NULL;
    r->evcon = NULL;
    evhttp_send_reply(req, r->status_sent, live_reason_phrase(r->status_sent), b);
    live_conn_guard(r->conn);
    if (b != NULL)
        evbuffer_free(b);
}

void live_respond_failure(sreq *r, const ld_req_info *info, const ld_do *d)
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
            live_flush_out(r->committed);
        if (r->http == NULL) {
            if (b != NULL)
                evbuffer_free(b);
            return;
        }
        if (d->cls == LD_FC_SHUTDOWN)
            snprintf(text, sizeof text, "%s", d->message);
        else
            snprintf(text, sizeof text, "upstream stream failed: %s", code);
        if (b != NULL && r->fs != NULL) {
            live_buf t;
            live_buf_init(&t, 0);
            if ((r->native_out
                     ? live_responses_error_event(r->native_seq, text, code, &t)
                     : live_face_stream_error(r->fs, text, code, &t)) == LD_OK &&
                evbuffer_add(b, t.data, t.len) == 0)
                evhttp_send_reply_chunk(r->http, b);
            live_buf_cleanup(&t);
            evbuffer_free(b);
        } else if (b != NULL) {
            n = evbuffer_add(b, "data: ", 6);
            n |= live_error_json(b, text, "ladder_stream_error", NULL, code);
            n |= evbuffer_add(b, "\n\n", 2);
            if (n == 0)
                evhttp_send_reply_chunk(r->http, b);
            live_conn_guard(r->conn);
            evbuffer_free(b);
        }
        struct evhttp_request *req = r->http;
        live_release_http(r);
        r->http = NULL;
        r->evcon = NULL;
        evhttp_send_reply_end(req);
        live_conn_guard(r->conn);
        return;
    }
    int status = d->status; /* 4xx or 5xx: the policy loader sees to it */
    struct evhttp_request *req = r->http;
    struct evbuffer *b = evbuffer_new();
    ladder_headers(r, info, info->cost);
    live_add_header(req, "Content-Type", "application/json");
    live_walk_retry_headers(r->s, r->g->core, req, status, r->workload);
    if (b == NULL ||
        face_error_json(r->face, b, status,
                        d->message != NULL ? d->message : "no route could answer",
                        "ladder_unavailable", NULL, code) != 0)
        status = 500;
    r->status_sent = status;
    live_release_http(r);
    r->http = NULL;
    r->evcon = NULL;
    evhttp_send_reply(req, status, live_reason_phrase(status), b);
    live_conn_guard(r->conn);
    if (b != NULL)
        evbuffer_free(b);
}

/* SSE comment keep-alives. A client reading a stream is only known to be
 * gone when a write to it fails (or, while it has not half-closed, when
 * its end of file arrives): during a long silence of the upstream (a
 * stall, a slow tool call) the router would keep paying for an answer no
 * one reads. A comment line every --sse-ping-s seconds of silence is
 * ignored by SSE readers (the OpenAI and Anthropic SDKs skip ':' lines)
 * and makes the departure visible within two intervals (the first write
 * draws the reset, the next one fails). */
void live_ping_streams(live_server *s)
{
    double every = s->o.sse_ping_s == 0 ? 15.0 : s->o.sse_ping_s;
    if (every < 0)
        return;
    ld_us gap = (ld_us)(every * (double)LD_US_PER_S);
    for (sreq *r = s->reqs; r != NULL; r = r->next)
        if (r->stream && r->reply_started && r->http != NULL &&
            r->committed != NULL && s->now - r->last_out >= gap)
            live_send_chunk(r, ": ping\n\n", 8);
}

/* Drop the client's connection (abandoned while it was still there). */
void live_close_client(sreq *r)
{
    struct evhttp_connection *evcon = r->evcon;
    if (r->http == NULL || evcon == NULL)
        return;
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    r->http = NULL; /* freed by libevent with its connection */
    r->evcon = NULL;
    evhttp_connection_free(evcon);
}
