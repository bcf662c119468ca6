/* live_api.c - the client API: the routes table (POST
 * /v1/chat/completions, GET /v1/models, POST /v1/feedback), the request's
 * parsing, workload and tier, the limits, the start of its core request,
 * and the watch on the client's connection.
 */
#include <errno.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "live_int.h"

/* What makes two client requests the same for the core's table of failed
 * ones (ld_req_spec.fingerprint): the API path, the client key, the
 * workload and tier they resolved to and the body as the client sent it
 * (body_md: its SHA-256), hashed with SHA-256 and cut to 64 bits; 0 (no
 * fingerprint: every request walks) when hashing fails. Key, workload and
 * tier by name, not index, so that the routers of a fleet (--redis) agree
 * on a request's fingerprint and share their failed walks. */
static uint64_t request_fingerprint(const char *path, const char *key,
                                    const char *workload, const char *tier,
                                    const unsigned char *body_md,
                                    unsigned body_md_len)
{
    unsigned char buf[512 + EVP_MAX_MD_SIZE], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int n = snprintf((char *)buf, 512, "%s\n%s\n%s\n%s\n",
                     path != NULL ? path : "", key != NULL ? key : "-",
                     workload != NULL ? workload : "",
                     tier != NULL ? tier : "");
    if (n < 0 || n >= 512 || body_md_len > EVP_MAX_MD_SIZE)
        return 0;
    memcpy(buf + n, body_md, body_md_len);
    if (EVP_Digest(buf, (size_t)n + body_md_len, md, &mdlen, EVP_sha256(),
                   NULL) != 1 || mdlen < 8)
        return 0;
    uint64_t fp = 0;
    for (int i = 0; i < 8; i++)
        fp = fp << 8 | md[i];
    return fp != 0 ? fp : 1;
}

/* The client's connection closed while we owned its request. */
static void live_on_client_close(struct evhttp_connection *evcon, void *arg)
{
    sreq *r = arg;
    live_server *s = r->s;
    struct evhttp_request *req = r->http;
    bool detached = req != NULL && evhttp_request_get_connection(req) == NULL;
    (void)evcon;
    live_enter(s);
    r->client_gone = true;
    r->http = NULL;
    r->evcon = NULL;
    live_core_abandon(r);
    if (detached)
        evhttp_request_free(req);
    live_leave(s);
}

/* Keep reading the client's connection (capped, no parsing) so that its
 * close reaches live_on_client_close while we work; no read timeout meanwhile
 * (a long answer is not an idle connection). */
static void live_watch_client(sreq *r)
{
    live_server *s = r->s;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(r->evcon);
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *arg;
    evhttp_connection_set_closecb(r->evcon, live_on_client_close, r);
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
        live_log(s, "cannot watch a client connection for close");
    live_conn_guard(r->conn);
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
    live_reply_error(s, req, 400, msg, "invalid_request_error", NULL,
                LIVE_REJ_BAD_REQUEST);
    return -1;
}

/* ---- what the request's "model" selects --------------------------------------------- */

/* The workload (and pinned route) of a request: x-ladder-workload when it
 * names one (it wins over "model", which is then not read), else what
 * "model" names (ld_policy_resolve_model: a workload, an alias or a pinned
 * route; absent or "auto": the default workload). 0, or -1 when an error
 * reply was sent (a 404 model_not_found for an unknown model). */
static int resolve_model(live_server *s, struct evhttp_request *req,
                         int header_workload, const char *model, bool embed,
                         ld_model_name *out)
{
    bool automatic = model == NULL || model[0] == '\0' ||
                     strcmp(model, "auto") == 0;
    if (header_workload < 0 && automatic)
        header_workload = ld_policy_default_workload_of(s->p, embed);
    if (header_workload >= 0 || automatic) {
        out->name = header_workload >= 0
                        ? ld_policy_workload_name(s->p, header_workload)
                        : "auto";
        out->kind = LD_NAME_WORKLOAD;
        out->workload = header_workload;
        out->route = -1;
        out->fallback = true;
        return 0;
    }
    bool defaulted;
    if (ld_policy_resolve_model(s->p, model, out, &defaulted) == LD_OK)
        return 0;
    char msg[512];
    snprintf(msg, sizeof msg, "The model `%.200s` does not exist: ladder "
             "serves the names GET /v1/models lists (workloads, aliases and "
             "pinnable routes), or \"auto\" for the default workload",
             model);
    live_reply_error_param(s, req, 404, msg, "invalid_request_error", "model",
                           "model_not_found", LIVE_REJ_NOT_FOUND);
    return -1;
}

/* A request for several choices needs a route that gives them: a clear
 * 400 when none of those it may use does (the core would skip each for
 * capability_missing). 0, or -1 when the reply was sent. */
static int check_choices(live_server *s, struct evhttp_request *req,
                         const ld_model_name *m, int n)
{
    int routes[LD_MAX_ROUTES];
    if (n <= 1)
        return 0;
    int k = ld_policy_workload_routes(s->p, m->workload, routes, LD_MAX_ROUTES);
    if (m->route >= 0 && !m->fallback) {
        routes[0] = m->route;
        k = 1;
    }
    for (int i = 0; i < k && i < LD_MAX_ROUTES; i++) {
        ld_route_info ri;
        if (ld_policy_route_info(s->p, routes[i], &ri) == LD_OK &&
            (ri.caps & LD_CAP_N))
            return 0;
    }
    char msg[512];
    snprintf(msg, sizeof msg, "n: %d choices asked for, but no route of "
             "\"%.100s\" gives several (a route needs the \"n\" "
             "capability in the policy)", n, m->name);
    live_reply_error_param(s, req, 400, msg, "invalid_request_error", "n",
                           "unsupported_value", LIVE_REJ_BAD_REQUEST);
    return -1;
}

/* ---- client keys -------------------------------------------------------------------- */

/* The secret a client sent: "Authorization: Bearer <secret>" (as OpenAI's
 * SDKs send it) or "x-api-key: <secret>" (Anthropic's); NULL when none. */
static const char *presented_key(struct evhttp_request *req)
{
    const char *a = header_in(req, "authorization");
    if (a != NULL && strncasecmp(a, "Bearer ", 7) == 0) {
        a += 7;
        while (*a == ' ')
            a++;
        if (*a != '\0')
            return a;
    }
    const char *x = header_in(req, "x-api-key");
    return x != NULL && x[0] != '\0' ? x : NULL;
}

/* With keys configured, the request's key: 0 with *key its index, -1 when
 * a 401 was sent. Without keys, 0 and *key -1. */
static int auth_key(live_server *s, struct evhttp_request *req, int *key)
{
    *key = -1;
    if (s->o.keys == NULL)
        return 0;
    const char *secret = presented_key(req);
    if (secret == NULL) {
        live_reply_error(s, req, 401, "missing API key: send it as "
                         "\"Authorization: Bearer <key>\" or \"x-api-key: "
                         "<key>\"", "invalid_request_error", "invalid_api_key",
                         LIVE_REJ_UNAUTHORIZED);
        return -1;
    }
    *key = live_keys_find(s->o.keys, secret, strlen(secret));
    if (*key < 0) {
        live_reply_error(s, req, 401, "invalid API key", "invalid_request_error",
                         "invalid_api_key", LIVE_REJ_UNAUTHORIZED);
        return -1;
    }
    return 0;
}

/* ---- the admin listener's token ------------------------------------------------ */

/* Both sides are hashed (SHA-256) and the digests compared with
 * CRYPTO_memcmp: the time taken says nothing about the token, not even its
 * length. */
bool live_admin_allowed(live_server *s, struct evhttp_request *req)
{
    const char *want = s->o.admin_token;
    if (want == NULL)
        return true;
    const char *a = header_in(req, "authorization");
    unsigned char got_md[EVP_MAX_MD_SIZE], want_md[EVP_MAX_MD_SIZE];
    unsigned int gl = 0, wl = 0;
    bool ok = false;
    if (a != NULL && strncasecmp(a, "Bearer ", 7) == 0) {
        a += 7;
        while (*a == ' ')
            a++;
        ok = EVP_Digest(a, strlen(a), got_md, &gl, EVP_sha256(), NULL) == 1 &&
             EVP_Digest(want, strlen(want), want_md, &wl, EVP_sha256(),
                        NULL) == 1 &&
             gl == 32 && wl == 32 && CRYPTO_memcmp(got_md, want_md, 32) == 0;
    }
    OPENSSL_cleanse(got_md, sizeof got_md);
    OPENSSL_cleanse(want_md, sizeof want_md);
    if (ok)
        return true;
    (void)evhttp_add_header(evhttp_request_get_output_headers(req),
                            "WWW-Authenticate", "Bearer realm=\"ladder-admin\"");
    live_reply_error(s, req, 401, a == NULL ? "the admin listener needs "
                     "\"Authorization: Bearer <admin token>\""
                                            : "invalid admin token",
                     "invalid_request_error", "invalid_admin_token",
                     LIVE_REJ_UNAUTHORIZED);
    return false;
}

/* The key's tier, or the one x-ladder-tier narrows to when the key allows
 * it; the workload must be one the key may use. 0, or -1 when a 403 was
 * sent. */
static int key_scope(live_server *s, struct evhttp_request *req, int key,
                     int workload, int *tier)
{
    char msg[256];
    if (key < 0)
        return 0;
    const live_keys *k = s->o.keys;
    if (!live_keys_allows_workload(k, key, workload)) {
        snprintf(msg, sizeof msg, "this API key may not use workload \"%s\"",
                 ld_policy_workload_name(s->p, workload));
        live_metrics_on_key(s->m, k, key, LIVE_KEY_FORBIDDEN, 0);
        live_reply_error(s, req, 403, msg, "invalid_request_error",
                         "workload_not_allowed", LIVE_REJ_FORBIDDEN);
        return -1;
    }
    if (*tier < 0) {
        *tier = live_keys_tier(k, key);
        return 0;
    }
    if (!live_keys_allows_tier(k, key, *tier)) {
        snprintf(msg, sizeof msg, "x-ladder-tier: this API key may not use "
                 "tier \"%s\" (its tier is \"%s\")",
                 ld_policy_tier_name(s->p, *tier),
                 ld_policy_tier_name(s->p, live_keys_tier(k, key)));
        live_metrics_on_key(s->m, k, key, LIVE_KEY_FORBIDDEN, 0);
        live_reply_error(s, req, 403, msg, "invalid_request_error",
                         "tier_not_allowed", LIVE_REJ_FORBIDDEN);
        return -1;
    }
    return 0;
}

/* The 429 for a request its key's limits refused (d: its LD_DO_FINISH):
 * code rate_limit_exceeded (rpm, tpm) or insufficient_quota (USD per day
 * or month), Retry-After when the window reopens. */
static void reply_key_limit(live_server *s, struct evhttp_request *req,
                            int key, const ld_do *d)
{
    bool spend = d->key_limit == LD_QUOTA_USD_DAY ||
                 d->key_limit == LD_QUOTA_USD_MONTH;
    char msg[256], ra[24];
    long secs = (long)((d->retry_after + LD_US_PER_S - 1) / LD_US_PER_S);
    snprintf(msg, sizeof msg, "API key \"%s\" is over its %s limit; retry "
             "in %ld s", live_keys_id(s->o.keys, key),
             ld_quota_limit_name(d->key_limit), secs < 1 ? 1 : secs);
    live_metrics_on_key(s->m, s->o.keys, key, LIVE_KEY_LIMITED, 0);
    cJSON *o = cJSON_CreateObject(), *e = NULL;
    bool ok = o != NULL && (e = cJSON_AddObjectToObject(o, "error")) != NULL &&
              cJSON_AddStringToObject(e, "message", msg) != NULL &&
              cJSON_AddStringToObject(e, "type", spend ? "insufficient_quota"
                                                       : "rate_limit_error") &&
              cJSON_AddStringToObject(e, "code", spend ? "insufficient_quota"
                                                       : "rate_limit_exceeded") &&
              cJSON_AddStringToObject(e, "limit",
                                      ld_quota_limit_name(d->key_limit));
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    const live_face *face = live_face_for_path(live_req_path(req));
    const char *send = text;
    live_buf ft; /* the other APIs' error shape (live_face.h) */
    live_buf_init(&ft, 0);
    if (text != NULL && face != NULL && face->error_body != NULL &&
        face->error_body(429, msg, spend ? "insufficient_quota"
                                         : "rate_limit_error",
                         spend ? "insufficient_quota" : "rate_limit_exceeded",
                         &ft) == LD_OK)
        send = ft.data;
    struct evbuffer *b = send != NULL ? evbuffer_new() : NULL;
    if (b == NULL || evbuffer_add(b, send, strlen(send)) != 0) {
        if (b != NULL)
            evbuffer_free(b);
        live_buf_cleanup(&ft);
        cJSON_free(text);
        cJSON_Delete(o);
        live_send_whole(s, req, 500, NULL, NULL);
        return;
    }
    snprintf(ra, sizeof ra, "%ld", secs < 1 ? 1 : secs);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
    live_send_whole(s, req, 429, "application/json", b);
    evbuffer_free(b);
    live_buf_cleanup(&ft);
    cJSON_free(text);
    cJSON_Delete(o);
}

/* The request's body as the ladder takes it: the chat body, or another
 * API's body through its face (live_face.h): translated to a chat body
 * (kept in raw, NUL-terminated, for a stream's later attempts), or parsed
 * by the face. */
static int parse_body(const live_face *face, const char *body, size_t len,
                      const char *const *pass, int npass, live_chat_req *out,
                      live_buf *raw, char *msg, size_t cap)
{
    if (face == NULL)
        return live_chat_parse_extra(body, len, pass, npass, out, msg, cap);
    if (face->to_chat == NULL)
        return face->parse(body, len, out, msg, cap);
    int rc = face->to_chat(body, len, raw, msg, cap);
    if (rc == LD_ELIMIT)
        snprintf(msg, cap, "the request is too large once translated");
    if (rc != LD_OK)
        return rc == LD_ELIMIT ? LD_EINVAL : rc;
    return live_chat_parse_extra(raw->data, raw->len, pass, npass, out, msg,
                                 cap);
}

/* Whether the request's workload (from the header or "model") is of the
 * kind its API needs (an embedding workload for POST /v1/embeddings, a
 * chat one for the others). 0, or -1 when a 400 was sent. */
static int check_kind(live_server *s, struct evhttp_request *req,
                      const live_face *face, int workload)
{
    bool embed = face != NULL && face->embedding;
    char msg[256];
    if (workload >= 0 && ld_policy_workload_embedding(s->p, workload) == embed)
        return 0;
    if (workload < 0)
        snprintf(msg, sizeof msg, "the policy has no %s workload (see README, "
                 "Other client APIs)", embed ? "embedding" : "chat");
    else
        snprintf(msg, sizeof msg, "workload \"%s\" is of kind %s; %s",
                 ld_policy_workload_name(s->p, workload),
                 embed ? "chat" : "embedding",
                 embed ? "POST /v1/embeddings needs an embedding workload"
                       : "it serves POST /v1/embeddings only");
    live_reply_error(s, req, 400, msg, "invalid_request_error",
                     "wrong_workload_kind", LIVE_REJ_BAD_REQUEST);
    return -1;
}

static void on_chat(live_server *s, struct evhttp_request *req)
{
    if (s->draining) {
        live_reply_error(s, req, 503, "ladder is shutting down; retry on another "
                    "instance", "ladder_overloaded", "draining",
                    LIVE_REJ_DRAINING);
        return;
    }
    /* behind the waiting ones, if any: first come, first served */
    if (s->in_flight >= s->o.max_concurrent || s->nheld > 0) {
        if (live_queue_hold(s, req) == LD_OK)
            return;
        live_load_note(s, true);
        live_reply_error(s, req, 503, "ladder: too many requests in flight; "
                    "retry shortly", "ladder_overloaded", "overloaded",
                    LIVE_REJ_OVERLOADED);
        return;
    }
    live_chat_begin(s, req, s->now);
}

void live_chat_begin(live_server *s, struct evhttp_request *req, ld_us arrived)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char msg[512];
    int workload, tier, key;
    const live_face *face = live_face_for_path(live_req_path(req));

    live_load_note(s, false);
    if (len > s->o.max_body) {
        snprintf(msg, sizeof msg, "request body of %zu bytes is over the "
                 "limit of %zu bytes", len, s->o.max_body);
        live_reply_error(s, req, 413, msg, "invalid_request_error",
                    "request_too_large", LIVE_REJ_TOO_LARGE);
        return;
    }
    if (auth_key(s, req, &key) != 0)
        return;
    if (face != NULL && face->required_header != NULL &&
        header_in(req, face->required_header) == NULL) {
        snprintf(msg, sizeof msg, "%s: header required",
                 face->required_header);
        live_reply_error(s, req, 400, msg, "invalid_request_error", NULL,
                         LIVE_REJ_BAD_REQUEST);
        return;
    }
    if (pick_named(s, req, "x-ladder-workload", true, &workload) != 0)
        return;
    if (pick_named(s, req, "x-ladder-tier", false, &tier) != 0)
        return;

    sreq *r = calloc(1, sizeof *r);
    if (r == NULL) {
        live_reply_error(s, req, 503, "ladder: out of memory", "ladder_overloaded",
                    "overloaded", LIVE_REJ_INTERNAL);
        return;
    }
    const char *body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
    const char *pass[PASS_UNION_CAP];
    int npass = live_pass_union(s->p, pass, PASS_UNION_CAP);
    unsigned char body_md[EVP_MAX_MD_SIZE];
    unsigned body_md_len = 0;
    if (body == NULL || EVP_Digest(body, len, body_md, &body_md_len,
                                   EVP_sha256(), NULL) != 1)
        body_md_len = 0;
    live_buf face_raw;
    live_buf_init(&face_raw, s->o.max_body * 4 + ((size_t)64 << 10));
    int prc = body != NULL ? parse_body(face, body, len, pass, npass, &r->chat,
                                        &face_raw, msg, sizeof msg)
                           : LD_ENOMEM;
    if (prc == LD_OK && face != NULL && face->native_api != NULL &&
        len > 0 && (r->native = malloc(len)) != NULL) {
        /* without the copy every route gets the translation */
        memcpy(r->native, body, len);
        r->chat.native = r->native;
        r->chat.native_len = len;
        r->chat.native_api = face->native_api;
    }
    if (face_raw.len > 0) {
        body = face_raw.data;
        len = face_raw.len;
    }
    /* the request is kept as the bytes it came in (at most --max-body; for
     * another API, its chat translation), not as its parsed tree (tens of
     * times larger for many small messages): the tree serves the first
     * attempt's body and is freed; a later attempt parses the bytes again */
    if (prc == LD_OK && len > 0 && (r->raw = malloc(len)) != NULL) {
        memcpy(r->raw, body, len);
        r->raw_len = len;
    }
    live_buf_cleanup(&face_raw);
    len = evbuffer_get_length(in);
    evbuffer_drain(in, len);
    if (prc == LD_OK && r->chat.stream)
        live_keep_only_connection(evhttp_request_get_input_headers(req));
    if (prc != LD_OK) {
        if (body == NULL)
            snprintf(msg, sizeof msg, "ladder: out of memory");
        free(r);
        live_reply_error(s, req, 400, msg, "invalid_request_error", NULL,
                    LIVE_REJ_BAD_REQUEST);
        return;
    }
    ld_model_name target;
    if (resolve_model(s, req, workload, r->chat.model,
                      face != NULL && face->embedding, &target) != 0 ||
        check_kind(s, req, face, target.workload) != 0 ||
        check_choices(s, req, &target, r->chat.n) != 0 ||
        key_scope(s, req, key, target.workload, &tier) != 0) {
        free(r->native);
        free(r->raw);
        live_chat_cleanup(&r->chat);
        free(r);
        return;
    }
    workload = target.workload;
    r->timer = evtimer_new(s->base, live_on_req_timer, r);
    if (s->trace != NULL)
        r->tr = malloc(sizeof *r->tr);
    r->face = face;
    if (face != NULL && face->ev != NULL && r->chat.stream) {
        char fid[64];
        snprintf(fid, sizeof fid, "%s%llu", face->id_prefix,
                 (unsigned long long)s->next_id);
        r->fs = live_face_stream_new(face, fid, (int64_t)(live_wall_ms() / 1000));
    }
    if (r->timer == NULL || (s->trace != NULL && r->tr == NULL) ||
        (r->chat.stream && face != NULL && face->ev != NULL && r->fs == NULL)) {
        if (r->timer != NULL)
            event_free(r->timer);
        live_face_stream_free(r->fs);
        free(r->tr);
        free(r->native);
        free(r->raw);
        live_chat_cleanup(&r->chat);
        free(r);
        live_reply_error(s, req, 503, "ladder: out of memory", "ladder_overloaded",
                    "overloaded", LIVE_REJ_INTERNAL);
        return;
    }
    r->s = s;
    r->id = s->next_id++;
    live_fmt_prefixed_u64(r->id_str, "r-", r->id);
    r->http = req;
    r->conn = s->cur_conn;
    r->evcon = evhttp_request_get_connection(req);
    r->stream = r->chat.stream;
    r->workload = workload;
    r->tier = tier;
    r->key = key;
    r->arrived = arrived;
    r->wall_ms = live_wall_ms() - (double)(s->now - arrived) / 1000.0;
    if (r->tr != NULL)
        ld_trace_init(r->tr, r->arrived);
    r->out_estimate = r->chat.max_tokens;

    ld_req_spec spec = {
        .workload = workload, .tier = tier,
        .input_tokens = r->chat.input_tokens,
        .output_tokens = r->chat.max_tokens > 0 ? r->chat.max_tokens : -1,
        .caps = r->chat.caps, .id = r->id, .pinned = target.route >= 0,
        .pin_route = target.route, .pin_fallback = target.fallback,
        .n = r->chat.n,
        .fingerprint = body_md_len > 0
                           ? request_fingerprint(
                                 live_req_path(req),
                                 key >= 0 ? live_keys_id(s->o.keys, key) : NULL,
                                 ld_policy_workload_name(s->p, workload),
                                 ld_policy_tier_name(s->p, tier), body_md,
                                 body_md_len)
                           : 0};
    ld_req_key kspec = {live_keys_quota(s->o.keys), key,
                        (ld_us)(r->wall_ms * 1000.0)};
    s->cur = r;
    int rc = ld_req_start_waited(s->core, &spec, key >= 0 ? &kspec : NULL,
                                 arrived, s->now, &s->rng, &r->core);
    s->cur = NULL;
    ld_req_info kinfo;
    if (rc == LD_OK && key >= 0 &&
        (ld_req_info_get(r->core, &kinfo), kinfo.key_limit != LD_QUOTA_OK)) {
        ld_do d;
        while (ld_req_next(r->core, &d) == 1 && d.kind != LD_DO_FINISH)
            ;
        /* a request the core ended (failed, key_limit) before any
         * attempt: its trace line and its count as a request, like any
         * other (the events have its request and done already) */
        ld_req_info_get(r->core, &kinfo);
        r->g = s->g; /* for the trace line only: r ends here */
        r->status_sent = 429;
        live_trace_write(r, &kinfo);
        live_metrics_on_done(s->m, &kinfo, r->stream);
        ld_req_free(r->core);
        event_free(r->timer);
        live_face_stream_free(r->fs);
        free(r->tr);
        free(r->native);
        free(r->raw);
        live_chat_cleanup(&r->chat);
        free(r);
        reply_key_limit(s, req, key, &d);
        return;
    }
    if (rc != LD_OK) {
        event_free(r->timer);
        live_face_stream_free(r->fs);
        free(r->tr);
        free(r->native);
        free(r->raw);
        live_chat_cleanup(&r->chat);
        free(r);
        live_reply_error(s, req, 503, "ladder: cannot take the request now",
                    "ladder_overloaded", "overloaded", LIVE_REJ_INTERNAL);
        return;
    }
    live_gen_pin(r);
    r->next = s->reqs;
    if (s->reqs != NULL)
        s->reqs->prev = r;
    s->reqs = r;
    s->nreqs++;
    s->in_flight++;
    /* its bytes and an attempt's upstream body, in the memory budget */
    r->reserved = 2 * len;
    s->req_bytes += r->reserved;
    if (r->evcon != NULL)
        live_watch_client(r);
    {
        ld_req_info info;
        ld_req_info_get(r->core, &info);
        r->workload = info.workload;
        r->tier = info.tier;
    }
    live_drain(r);
    if (r->raw != NULL && r->chat.body != NULL) {
        /* no attempt started yet (a wait, a hedge later): the same */
        cJSON_Delete(r->chat.body);
        r->chat.body = NULL;
        r->chat.model = NULL;
    }
#if defined(__GLIBC__)
    /* the tree of a large body (tens of MB for a megabyte of small
     * messages) was made of small blocks, now free in the middle of the
     * heap, where glibc keeps them; give their pages back */
    if (len >= TRIM_BODY_MIN)
        (void)malloc_trim(0);
#endif
}

/* One name of GET /v1/models: OpenAI's fields, and a "ladder" object
 * saying what the name selects: its kind (workload, alias, route), the
 * target ("chat", or "chat/route" for a pinned route), the workload, the
 * pinned route and whether its ladder follows it, and for a route its
 * provider, upstream model and quality. */
static bool model_entry(live_server *s, cJSON *arr, const ld_model_name *m)
{
    cJSON *e = cJSON_CreateObject(), *l = NULL;
    if (e == NULL || !cJSON_AddItemToArray(arr, e)) {
        cJSON_Delete(e);
        return false;
    }
    const char *wl = ld_policy_workload_name(s->p, m->workload);
    char target[256];
    if (m->route >= 0)
        snprintf(target, sizeof target, "%s/%s", wl,
                 ld_policy_route_id(s->p, m->route));
    else
        snprintf(target, sizeof target, "%s", wl);
    bool ok = cJSON_AddStringToObject(e, "id", m->name) &&
              cJSON_AddStringToObject(e, "object", "model") &&
              cJSON_AddNumberToObject(e, "created", 0) &&
              cJSON_AddStringToObject(e, "owned_by", "ladder") &&
              (l = cJSON_AddObjectToObject(e, "ladder")) != NULL &&
              cJSON_AddStringToObject(l, "kind", ld_name_kind_name(m->kind)) &&
              cJSON_AddStringToObject(l, "target", target) &&
              cJSON_AddStringToObject(l, "workload", wl) &&
              cJSON_AddBoolToObject(l, "default",
                                    m->kind == LD_NAME_WORKLOAD &&
                                        m->workload ==
                                            ld_policy_default_workload(s->p));
    if (ok && m->route >= 0) {
        ld_route_info ri;
        ok = ld_policy_route_info(s->p, m->route, &ri) == LD_OK &&
             cJSON_AddStringToObject(l, "route", ri.id) &&
             cJSON_AddBoolToObject(l, "fallback", m->fallback) &&
             cJSON_AddStringToObject(l, "provider", s->prov[m->route]->name) &&
             cJSON_AddStringToObject(l, "model", ri.model) &&
             cJSON_AddNumberToObject(l, "quality", ri.quality);
    }
    return ok;
}

/* Exactly the names a request's "model" accepts (ld_policy_model_at). */
static void on_models(live_server *s, struct evhttp_request *req)
{
    cJSON *o = cJSON_CreateObject(), *arr = NULL;
    bool ok = o != NULL && cJSON_AddStringToObject(o, "object", "list") != NULL &&
              (arr = cJSON_AddArrayToObject(o, "data")) != NULL;
    for (int i = 0; ok && i < ld_policy_model_count(s->p); i++) {
        ld_model_name m;
        ok = ld_policy_model_at(s->p, i, &m) == LD_OK &&
             model_entry(s, arr, &m);
    }
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    struct evbuffer *b = evbuffer_new();
    if (text == NULL || b == NULL || evbuffer_add(b, text, strlen(text)) != 0) {
        if (b != NULL)
            evbuffer_free(b);
        cJSON_free(text);
        cJSON_Delete(o);
        live_reply_error(s, req, 500, "ladder: out of memory", "server_error", NULL,
                    LIVE_REJ_INTERNAL);
        return;
    }
    live_send_whole(s, req, 200, "application/json", b);
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
        live_reply_error(s, req, 413, "feedback body over the limit",
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
        live_reply_error(s, req, 400, "feedback needs {\"request_id\": \"r-N\", "
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
        live_reply_error(s, req, 404, "unknown or expired request_id (feedback is "
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
    live_send_whole(s, req, 200, "application/json", b);
    if (b != NULL)
        evbuffer_free(b);
}

#define LIVE_API_LIST                                                    \
    "POST /v1/chat/completions, POST /v1/responses, POST /v1/messages, "   \
    "POST /v1/embeddings, GET /v1/models, POST /v1/feedback"

/* The legacy completions API is not served: a 404 that says what is. */
static void on_legacy_completions(live_server *s, struct evhttp_request *req)
{
    live_reply_error(s, req, 404, "POST /v1/completions (the legacy "
                     "completions API) is not served; ladder serves "
                     LIVE_API_LIST, "invalid_request_error",
                     "unsupported_endpoint", LIVE_REJ_NOT_FOUND);
}

int live_pass_union(const ld_policy *p, const char **out, int cap)
{
    int n = 0;
    for (int r = 0; r < ld_policy_route_count(p); r++) {
        const char *const *names;
        int k = ld_policy_route_pass_through(p, r, &names);
        for (int i = 0; i < k; i++) {
            int j = 0;
            while (j < n && strcmp(out[j], names[i]) != 0)
                j++;
            if (j == n && n < cap)
                out[n++] = names[i];
        }
    }
    return n;
}

const char *live_req_path(struct evhttp_request *req)
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
    /* the other client APIs: on_chat through their faces (live_face.h) */
    {"/v1/messages", EVHTTP_REQ_POST, on_chat, "use POST /v1/messages"},
    {"/v1/responses", EVHTTP_REQ_POST, on_chat, "use POST /v1/responses"},
    {"/v1/embeddings", EVHTTP_REQ_POST, on_chat, "use POST /v1/embeddings"},
    {"/v1/completions", EVHTTP_REQ_POST, on_legacy_completions,
     "use POST /v1/chat/completions"},
    {"/v1/models", EVHTTP_REQ_GET, on_models, "use GET /v1/models"},
    {"/v1/feedback", EVHTTP_REQ_POST, on_feedback, "use POST /v1/feedback"},
};

void live_on_request(struct evhttp_request *req, void *arg)
{
    live_server *s = arg;
    const char *path = live_req_path(req);
    size_t i = 0;
    live_enter(s);
    s->cur_conn = live_conn_request(s, req);
    while (i < sizeof api / sizeof api[0] && strcmp(path, api[i].path) != 0)
        i++;
    if (header_in(req, "transfer-encoding") != NULL &&
        header_in(req, "content-length") != NULL) {
        /* libevent takes the chunked framing and ignores the length; a
         * proxy in front may have taken the length: the two disagree on
         * where the request ends (RFC 9112 6.3: smuggling), so neither is
         * trusted and the connection is closed */
        (void)evhttp_add_header(evhttp_request_get_output_headers(req),
                                "Connection", "close");
        live_reply_error(s, req, 400, "a request with both Transfer-Encoding "
                         "and Content-Length is refused", "invalid_request_error",
                         "malformed_request", LIVE_REJ_MALFORMED_HTTP);
    } else if (i == sizeof api / sizeof api[0])
        live_reply_error(s, req, 404, "unknown URL (ladder serves " LIVE_API_LIST
                    ")", "invalid_request_error", "unknown_url",
                    LIVE_REJ_NOT_FOUND);
    else if (evhttp_request_get_command(req) != api[i].method)
        live_reply_error(s, req, 405, api[i].use, "invalid_request_error",
                    "method_not_allowed", LIVE_REJ_METHOD);
    else
        api[i].handler(s, req);
    s->cur_conn = NULL;
    live_leave(s);
}
