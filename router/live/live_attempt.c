/* live_attempt.c - one upstream attempt: a curl easy handle on the multi
 * handle, the upstream body from the route's provider table, the route's
 * fixed headers, URL and SigV4 signing (made once, at start), what curl's
 * header and write callbacks and the SSE (or AWS event-stream) reader see,
 * and the attempt's end reported to the core.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "live_int.h"

static void live_work_push(live_server *s, satt *a)
{
    if (a->on_work)
        return;
    a->on_work = true;
    a->next_work = s->work;
    s->work = a;
}

void live_att_retire(satt *a)
{
    if (a->retired)
        return;
    a->retired = true;
    live_work_push(a->r->s, a);
}

satt *live_att_find(sreq *r, uint32_t no)
{
    for (satt *a = r->atts; a != NULL; a = a->next)
        if (a->no == no && !a->retired)
            return a;
    return NULL;
}

ld_us live_att_retry_after(const satt *a)
{
    ld_us ms = live_retry_after_ms_parse(a->ra_ms);
    return ms >= 0 ? ms : live_retry_after_parse(a->ra, a->ra_unix);
}

/* Report the attempt's end to the core (once) and retire it. */
void live_att_end(satt *a, const ld_raw_result *res)
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
    live_att_retire(a);
    live_drain(r);
}

/* An attempt that failed before reaching the network. */
static void live_att_end_local(sreq *r, uint32_t no, ld_transport why)
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

void live_att_free(satt *a)
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
    live_evs_free(a->evs);
    live_stream_free(a->tr);
    free(a);
}

/* What the attempt saw so far, ended by `end`, for live_result_make. */
static void att_seen(const satt *a, live_end end, live_seen *seen)
{
    live_seen_init(seen);
    seen->end = end;
    seen->got_headers = a->got_headers;
    seen->status = a->status;
    seen->retry_after = a->ra;
    seen->retry_after_ms = a->ra_ms;
    seen->ra_unix = a->ra_unix;
    seen->stream = a->stream;
    seen->finished = a->finished;
    seen->tokens = a->tokens;
    seen->error_words = a->prov->error_words;
}

/* Report to the core what seen makes of the attempt. */
static void att_end_seen(satt *a, const live_seen *seen)
{
    live_result res;
    live_result_make(seen, &res);
    live_att_end(a, &res.raw);
}

/* One upstream SSE event of a stream attempt. */
static void att_on_sse(void *ud, const char *event, const char *data,
                       size_t len)
{
    satt *a = ud;
    sreq *r = a->r;
    live_chunk_info info;
    live_seen seen;

    if (a->retired || a->ended || r->core == NULL)
        return;
    int rc = live_stream_feed(a->tr, event, data, len, &a->out, &info);
    if (rc != LD_OK || info.malformed) {
        a->abort = true;
        att_seen(a, LIVE_END_MALFORMED, &seen);
        att_end_seen(a, &seen);
        return;
    }
    if (info.error) {
        a->abort = true;
        att_seen(a, LIVE_END_ERROR_EVENT, &seen);
        seen.body = data;
        seen.body_len = len;
        att_end_seen(a, &seen);
        return;
    }
    if (info.content) {
        a->tokens += info.tokens > 0 ? info.tokens : 1;
        if (!a->first_seen) {
            a->first_seen = true;
            a->t_first = r->s->now;
            live_core_first_token(r, a->no);
            live_drain(r);
            if (!a->retired && r->core != NULL && !r->reply_started) {
                ld_req_info ri;
                ld_req_info_get(r->core, &ri);
                live_commit_stream(r, a, &ri);
            } else if (!a->retired && r->core != NULL && r->committed == NULL) {
                r->committed = a; /* a continuation of a cut stream */
            }
        } else {
            live_core_progress(r, a->no);
        }
    }
    if (info.finished)
        a->finished = true;
    if (info.done && !a->retired && r->core != NULL) {
        live_answer ans;
        live_stream_result(a->tr, &ans);
        a->done_seen = true;
        att_seen(a, LIVE_END_DONE, &seen);
        seen.usage_tokens = ans.output_tokens;
        seen.finish_reason = ans.finish_reason;
        att_end_seen(a, &seen);
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
            live_seen seen; /* over 16 MiB, or no memory */
            a->abort = true;
            att_seen(a, LIVE_END_MALFORMED, &seen);
            att_end_seen(a, &seen);
            return 0;
        }
        return n;
    }
    int rc = a->evs != NULL ? live_evs_feed_events(a->evs, p, n, att_on_sse, a)
                            : live_sse_feed(a->sse, p, n, att_on_sse, a);
    if (rc != LD_OK && !a->retired && !a->ended) {
        live_seen seen; /* an SSE line over its cap */
        a->abort = true;
        att_seen(a, LIVE_END_MALFORMED, &seen);
        att_end_seen(a, &seen);
    }
    if (!a->retired)
        live_flush_out(a);
    return a->abort ? 0 : n;
}

/* A header's value into dst as sent; "" when it does not fit (no
 * Retry-After form is that long: it is then unreadable, not cut short). */
static void keep_value(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n >= cap)
        n = 0;
    memcpy(dst, v, n);
    dst[n] = '\0';
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
        long st = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
        a->status = st >= 100 && st <= 999 ? (int)st : 0;
        a->got_headers = false;
        a->ra[0] = a->ra_ms[0] = '\0';
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
        keep_value(a->ra_ms, sizeof a->ra_ms, v);
    } else if (strcasecmp(line, "retry-after") == 0) {
        keep_value(a->ra, sizeof a->ra, v);
        a->ra_unix = (int64_t)time(NULL); /* an HTTP-date is wall time */
    }
    return n;
}

/* Before each send on the wire. curl re-sends a request by itself when a
 * reused connection dies before any response byte (a stale keep-alive, or
 * an upstream that read the request and reset), and may pick another
 * cached connection each time, up to 5 times: that hides a resetting
 * upstream from the core, multiplies its load and can bill a request
 * twice. Every request on the wire must be an attempt the core decided: a
 * second send aborts the transfer, which ends as a reset the core's rules
 * act on (a retry there is an attempt, counted and traced). Connection
 * reuse is kept. Each send is counted (ladder_upstream_requests_total),
 * and each refusal (ladder_upstream_resends_refused_total). */
static int att_prereq(void *ud, char *primary_ip, char *local_ip,
                      int primary_port, int local_port)
{
    satt *a = ud;
    (void)primary_ip;
    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    /* the metrics are the current generation's: an attempt of an older
     * one counts under its route's index there (-1 gone: ignored) */
    live_server *s = a->r->s;
    int route = a->r->g == s->g ? a->route : a->r->g->route_to[a->route];
    if (a->sends >= MAX_SENDS) {
        a->resend_refused = true;
        live_metrics_on_wire(s->m, route, true);
        return CURL_PREREQFUNC_ABORT;
    }
    a->sends++;
    live_metrics_on_wire(s->m, route, false);
    return CURL_PREREQFUNC_OK;
}

/* curl finished the transfer (with rc): tell the core what it was. */
void live_att_transfer_done(satt *a, CURLcode rc)
{
    live_seen seen;
    live_answer ans;
    live_result res;
    att_seen(a, LIVE_END_TRANSFER, &seen);
    seen.curl_rc = (int)rc;
    if (a->got_headers && !status_ok(a->status)) {
        seen.body = a->resp.data;
        seen.body_len = a->resp.len;
    } else if (a->got_headers && a->stream) {
        live_stream_result(a->tr, &ans);
        seen.usage_tokens = ans.output_tokens;
        seen.finish_reason = ans.finish_reason;
    } else if (a->got_headers && rc == CURLE_OK) {
        /* a whole answer: translated for the client now */
        seen.answer_rc =
            a->r->chat.embed
                ? live_provider_embed_answer(a->prov, a->resp.data,
                                             a->resp.len, &a->answer, &ans)
                : live_provider_answer(a->prov, a->resp.data, a->resp.len,
                                       &a->answer, &ans);
        seen.usage_tokens = ans.output_tokens;
        seen.finish_reason = ans.finish_reason;
    }
    live_result_make(&seen, &res);
    if (seen.answer_rc == LD_OK && res.raw.transport == LD_TR_OK &&
        !a->stream && a->got_headers && status_ok(a->status)) {
        a->ans_in = ans.input_tokens;
        a->ans_out = ans.output_tokens;
        if (a->t_first < 0)
            a->t_first = a->r->s->now;
        if (res.raw.completion_tokens > 0)
            a->tokens = res.raw.completion_tokens;
    }
    live_att_end(a, &res.raw);
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

/* LD_DO_START: build the attempt; it joins the multi handle in live_settle(). */
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

/* The value of a route parameter: its literal, or its variable's value
 * after the prefix (into buf); NULL when the variable is unset or unusable
 * (a warning says so). */
static const char *param_value(live_server *s, const char *route,
                               const ld_route_param *p, char *buf,
                               size_t cap)
{
    if (p->env == NULL)
        return p->value;
    const char *(*get)(const char *) = s->o.getenv_fn;
    const char *v = get != NULL ? get(p->env) : getenv(p->env);
    if (v == NULL || v[0] == '\0') {
        live_log(s, "warning: route %s: environment variable %s is not set; "
                 "%s goes out without it", route, p->env, p->name);
        return NULL;
    }
    int w = snprintf(buf, cap, "%s%s", p->prefix, v);
    if (w < 0 || (size_t)w >= cap || strpbrk(buf, "\r\n") != NULL) {
        live_log(s, "warning: route %s: the value of %s is not usable for %s "
                 "(too long or has a line break); ignored", route, p->env,
                 p->name);
        return NULL;
    }
    return buf;
}

/* The route's two URLs (curl's URL API, live_url.c). */
static int route_urls(live_gen *g, int i, const ld_route_info *ri,
                      ld_error *err)
{
    live_server *s = g->s;
    const char *names[32], *values[32];
    char vbuf[32][512];
    int n = ri->nquery < 32 ? ri->nquery : 32, rc = LD_OK;
    for (int k = 0; k < n; k++) {
        names[k] = ri->query[k].name;
        values[k] = param_value(s, ri->id, &ri->query[k], vbuf[k],
                                sizeof vbuf[k]);
    }
    for (int st = 0; st < 3 && rc == LD_OK; st++) {
        const char *why = NULL;
        rc = st < 2 ? live_url_make(g->prov[i], ri->base_url, ri->aws_region,
                                    ri->model, st == 1, names, values, n,
                                    &g->route_url[i][st], &why)
                    : live_url_make_embed(g->prov[i], ri->base_url,
                                          ri->aws_region, ri->model, names,
                                          values, n, &g->route_url[i][2],
                                          &why);
        if (rc == LD_EINVAL)
            ld_error_set(err, NULL, NULL, "route %s: %s: cannot make an "
                         "upstream URL of it", ri->id, why);
        else if (rc != LD_OK)
            ld_error_set(err, NULL, NULL, "out of memory");
    }
    if (rc == LD_OK && (ri->caps & LD_CAP_RESPONSES)) {
        /* it speaks Responses too: BASE_URL/responses (prov_responses.c) */
        const char *why = NULL;
        rc = live_url_make(&live_provider_responses, ri->base_url, NULL,
                           ri->model, false, names, values, n,
                           &g->route_url[i][3], &why);
        if (rc == LD_EINVAL)
            ld_error_set(err, NULL, NULL, "route %s: %s: cannot make a "
                         "Responses URL of it", ri->id, why);
        else if (rc != LD_OK)
            ld_error_set(err, NULL, NULL, "out of memory");
    }
    memset(vbuf, 0, sizeof vbuf); /* values may be secrets */
    return rc;
}

/* SigV4 signing for a provider that asks for it: the credentials from
 * the standard AWS variables, and the session token as a header. */
static int route_sigv4(live_gen *g, int i, const ld_route_info *ri,
                       struct curl_slist **hdrs, bool *ok)
{
    live_server *s = g->s;
    const live_provider *prov = g->prov[i];
    const char *(*get)(const char *) = s->o.getenv_fn;
    const char *id, *secret, *token;
    char h[LIVE_SIGV4_TOKEN_MAX + 32];
    if (prov->sigv4_service == NULL)
        return LD_OK;
    id = get != NULL ? get("AWS_ACCESS_KEY_ID") : getenv("AWS_ACCESS_KEY_ID");
    secret = get != NULL ? get("AWS_SECRET_ACCESS_KEY")
                         : getenv("AWS_SECRET_ACCESS_KEY");
    token = get != NULL ? get("AWS_SESSION_TOKEN") : getenv("AWS_SESSION_TOKEN");
    live_route_sig *rs = calloc(1, sizeof *rs);
    if (rs == NULL)
        return LD_ENOMEM;
    int rc = live_sigv4_init(&rs->k, id, secret, token,
                             ri->aws_region != NULL ? ri->aws_region
                                                    : "us-east-1",
                             prov->sigv4_service);
    if (rc != LD_OK) {
        free(rs);
        if (rc == LD_ENOMEM)
            return rc;
        live_log(s, "warning: route %s: AWS_ACCESS_KEY_ID, "
                 "AWS_SECRET_ACCESS_KEY (or AWS_SESSION_TOKEN) are not set "
                 "or not usable; its requests go out unsigned", ri->id);
        return LD_OK;
    }
    g->route_sig[i] = rs;
    if (rs->k.token != NULL) {
        snprintf(h, sizeof h, "x-amz-security-token: %s", rs->k.token);
        for (int st = 0; st < 2; st++)
            hdrs[st] = hdr_add(hdrs[st], h, ok);
        OPENSSL_cleanse(h, sizeof h);
    }
    return LD_OK;
}

/* What route i's signing needs of each of its URLs, made once. */
static int route_sig_targets(live_gen *g, int i, const ld_route_info *ri,
                             ld_error *err)
{
    live_route_sig *rs = g->route_sig[i];
    for (int k = 0; rs != NULL && k < 3; k++) {
        if (g->route_url[i][k] == NULL)
            continue;
        int rc = live_sigv4_target(g->route_url[i][k], &rs->host[k],
                                   &rs->uri[k], &rs->query[k]);
        if (rc == LD_EINVAL)
            ld_error_set(err, NULL, NULL, "route %s: its upstream URL is "
                         "too long to sign", ri->id);
        else if (rc != LD_OK)
            ld_error_set(err, NULL, NULL, "out of memory");
        if (rc != LD_OK)
            return rc;
    }
    return LD_OK;
}

/* Sign attempt a's request (its body made) with route's key at the live
 * host's clock: X-Amz-Date and Authorization join its own headers. */
static void att_sign(satt *a, int route, int which, bool *ok)
{
    live_route_sig *rs = a->r->g->route_sig[route];
    live_sigv4_out out;
    char h[LIVE_SIGV4_AUTH_MAX + 32];
    if (rs == NULL || !*ok)
        return;
    live_sigv4_req q = {"POST", rs->host[which], rs->uri[which],
                        rs->query[which], a->body.data, a->body.len};
    if (q.host == NULL ||
        live_sigv4_sign(&rs->k, &q, (int64_t)(live_wall_ms() / 1000.0), &out,
                        NULL, 0) != LD_OK) {
        *ok = false;
        return;
    }
    snprintf(h, sizeof h, "X-Amz-Date: %s", out.amz_date);
    a->hdrs = hdr_add(a->hdrs, h, ok);
    snprintf(h, sizeof h, "Authorization: %s", out.auth);
    a->hdrs = hdr_add(a->hdrs, h, ok);
}

/* Route i's fixed upstream headers, for whole and stream answers, with
 * its API key (NULL: none), its own headers, its URLs and its signing.
 * They and route_sig are the only copies of the secrets kept. */
int live_route_headers(live_gen *g, int i, const char *key, ld_error *err)
{
    live_server *s = g->s;
    const live_provider *prov = g->prov[i];
    ld_route_info ri;
    char h[1024], v[600];
    bool ok = prov != NULL;
    struct curl_slist *l[2] = {NULL, NULL};
    if (!ok || ld_policy_route_info(g->p, i, &ri) != LD_OK) {
        ld_error_set(err, NULL, NULL, "route %d: no such provider", i);
        return LD_EINVAL;
    }
    /* the route's own headers, each variable read (and warned about)
     * once */
    struct curl_slist *own = NULL;
    for (int k = 0; k < ri.nheaders && ok; k++) {
        const char *val = param_value(s, ri.id, &ri.headers[k], v, sizeof v);
        if (val == NULL)
            continue;
        snprintf(h, sizeof h, "%s: %s", ri.headers[k].name, val);
        own = hdr_add(own, h, &ok);
    }
    for (int st = 0; st < 2 && ok; st++) {
        l[st] = hdr_add(l[st], "Content-Type: application/json", &ok);
        snprintf(h, sizeof h, "Accept: %s",
                 !st ? "application/json"
                 : prov->stream_accept != NULL ? prov->stream_accept
                                               : "text/event-stream");
        l[st] = hdr_add(l[st], h, &ok);
        if (prov->version_header != NULL)
            l[st] = hdr_add(l[st], prov->version_header, &ok);
        if (key != NULL && prov->auth_header != NULL) {
            snprintf(h, sizeof h, prov->auth_header, key);
            l[st] = hdr_add(l[st], h, &ok);
        }
        for (struct curl_slist *n = own; n != NULL; n = n->next)
            l[st] = hdr_add(l[st], n->data, &ok);
    }
    live_hdrs_wipe(own);
    int rc = ok ? route_sigv4(g, i, &ri, l, &ok) : LD_ENOMEM;
    g->route_hdrs[i][0] = l[0];
    g->route_hdrs[i][1] = l[1];
    memset(h, 0, sizeof h); /* the key does not linger on the stack */
    memset(v, 0, sizeof v);
    if (rc != LD_OK || !ok) {
        ld_error_set(err, NULL, NULL, "out of memory");
        return LD_ENOMEM;
    }
    rc = route_urls(g, i, &ri, err);
    return rc == LD_OK ? route_sig_targets(g, i, &ri, err) : rc;
}

void live_route_free(live_gen *g, int i)
{
    live_hdrs_wipe(g->route_hdrs[i][0]);
    live_hdrs_wipe(g->route_hdrs[i][1]);
    g->route_hdrs[i][0] = g->route_hdrs[i][1] = NULL;
    for (int k = 0; k < 4; k++) {
        curl_free(g->route_url[i][k]);
        g->route_url[i][k] = NULL;
    }
    live_route_sig *rs = g->route_sig[i];
    if (rs != NULL) {
        for (int k = 0; k < 3; k++) {
            free(rs->host[k]);
            free(rs->uri[k]);
            free(rs->query[k]);
        }
        live_sigv4_wipe(&rs->k);
        free(rs);
        g->route_sig[i] = NULL;
    }
}

/* Free a list, wiping its text (it may hold an API key). */
void live_hdrs_wipe(struct curl_slist *l)
{
    for (struct curl_slist *n = l; n != NULL; n = n->next)
        memset(n->data, 0, strlen(n->data));
    curl_slist_free_all(l);
}

void live_att_start(sreq *r, const ld_do *d)
{
    live_server *s = r->s;
    ld_route_info ri;
    char h[1024];
    bool ok = true;
    satt *a;

    if (ld_policy_route_info(r->g->p, d->route, &ri) != LD_OK) {
        live_att_end_local(r, d->attempt, LD_TR_CONNECT_FAILED);
        return;
    }
    a = calloc(1, sizeof *a);
    if (a == NULL) {
        live_log(s, "out of memory starting an attempt");
        live_att_end_local(r, d->attempt, LD_TR_CONNECT_FAILED);
        return;
    }
    a->r = r;
    a->no = d->attempt;
    a->route = d->route;
    a->prov = r->g->prov[d->route];
    /* A Responses client on a route that speaks Responses: its own body,
     * and the answer relayed as it comes (prov_responses.c). A
     * continuation of a cut stream, and any attempt once the client's
     * stream has begun, go the translated way (the route speaks chat
     * completions too). */
    bool native_resp =
        r->face != NULL && r->face->native_api != NULL &&
        strcmp(r->face->native_api, live_provider_responses.native_api) == 0 &&
        (ri.caps & LD_CAP_RESPONSES) != 0 && !d->resume && !r->reply_started &&
        r->g->route_url[d->route][3] != NULL;
    if (native_resp)
        a->prov = &live_provider_responses;
    a->stream = r->stream;
    a->started = s->now;
    a->t_first = -1;
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
            live_att_retire(a);
            live_att_end_local(r, d->attempt, LD_TR_NOT_EXPRESSIBLE);
            return;
        }
    }
    live_chat_req again, *chat = &r->chat;
    if (chat->body == NULL) {
        char why[128];
        const char *pass[PASS_UNION_CAP];
        int npass = live_pass_union(r->g->p, pass, PASS_UNION_CAP);
        /* a face that parses its own body (embeddings) parses it again;
         * the others kept the chat body they were translated to */
        const live_face *fc = r->face;
        bool own_parse = fc != NULL && fc->to_chat == NULL && fc->parse != NULL;
        if (r->raw == NULL ||
            (own_parse ? fc->parse(r->raw, r->raw_len, &again, why, sizeof why)
                       : live_chat_parse_extra(r->raw, r->raw_len, pass, npass,
                                               &again, why, sizeof why)) !=
                LD_OK) {
            live_att_retire(a);
            live_att_end_local(r, d->attempt, LD_TR_CONNECT_FAILED);
            return;
        }
        again.native = r->chat.native; /* not owned: r->native */
        again.native_len = r->chat.native_len;
        again.native_api = r->chat.native_api;
        chat = &again;
    }
    /* fields on another route's pass_through only: left out of this
     * route's body (and counted), put back for the next attempt */
    const char *const *own = NULL;
    int nown = ld_policy_route_pass_through(r->g->p, d->route, &own);
    cJSON *held = NULL;
    int dropped = live_chat_withhold(chat, own, nown, &held);
    int rc = dropped < 0 ? LD_ENOMEM
                         : live_provider_build(a->prov, chat, ri.model,
                                               r->stream, prefill, &a->body,
                                               NULL);
    live_chat_restore(chat, held);
    if (dropped > 0)
        live_metrics_on_field_dropped(s->m, (uint64_t)dropped);
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
        live_att_retire(a);
        live_att_end_local(r, d->attempt, rc == LD_ENOMEM ? LD_TR_CONNECT_FAILED
                                                     : LD_TR_NOT_EXPRESSIBLE);
        return;
    }
    if (r->stream) {
        char cid[48];
        snprintf(cid, sizeof cid, "chatcmpl-ladder-%" PRIu64, r->id);
        /* a Responses stream passed through carries the whole response
         * in some of its events (live_int.h) */
        size_t line_cap = native_resp ? NATIVE_EVENT_CAP(a->body.len)
                                      : SSE_LINE_CAP;
        if (native_resp)
            a->out.max = NATIVE_OUT_CAP(a->body.len);
        if (a->prov->event_stream)
            a->evs = live_evs_new(line_cap);
        else
            a->sse = live_sse_new(line_cap);
        a->tr = live_provider_stream_new(a->prov, cid, (int64_t)(r->wall_ms / 1000),
                                r->chat.include_usage);
        /* the answer's text is kept only where a cut stream may be
         * continued elsewhere (it is the continuation's prefill) */
        live_stream_keep_text(a->tr,
                              ld_policy_workload_continues(r->g->p, r->workload) > 0);
        if ((a->sse == NULL && a->evs == NULL) || a->tr == NULL)
            ok = false;
    }
    const char *url = r->g->route_url[d->route][native_resp    ? 3
                                                : r->chat.embed ? 2
                                                : r->stream     ? 1
                                                                : 0];
    if (url == NULL)
        ok = false;

    if (a->body.len > ((size_t)1 << 20))
        a->hdrs = hdr_add(a->hdrs, "Expect:", &ok); /* no 100-continue
                                                       wait: curl asks
                                                       above 1 MiB */
    static const char rid[] = "x-ladder-request-id: ";
    memcpy(h, rid, sizeof rid - 1);
    memcpy(h + sizeof rid - 1, r->id_str, strlen(r->id_str) + 1);
    a->hdrs = hdr_add(a->hdrs, h, &ok);
    live_fmt_prefixed_u64(h, "x-ladder-attempt: ", a->no);
    a->hdrs = hdr_add(a->hdrs, h, &ok);
    att_sign(a, d->route, r->chat.embed ? 2 : r->stream ? 1 : 0, &ok);
    if (ok) {
        struct curl_slist *tail = a->hdrs;
        while (tail->next != NULL)
            tail = tail->next;
        tail->next = r->g->route_hdrs[d->route][r->stream ? 1 : 0];
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
        live_log(s, "out of memory or bad URL starting an attempt on route %s",
             ri.id);
        live_att_retire(a);
        live_att_end_local(r, d->attempt, LD_TR_CONNECT_FAILED);
        return;
    }
    live_work_push(s, a);
}
