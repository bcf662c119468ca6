/* live_metrics.c - the live router's counters and their Prometheus text
 * exposition. */
#include "live_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NR (LD_MAX_ROUTES + 1)  /* route index + 1; 0 stands for "none" */
#define NCLS (LD_FC_COUNT + 1)  /* class + 1; 0 stands for success */
#define NOUT 3                  /* success, failed, abandoned */
#define NCANCEL 5
#define NBREAKER 3
#define FALLBACK_SLOTS 1024     /* distinct (from, to, class) triples */

const double live_metrics_buckets_ms[LIVE_METRICS_NBUCKETS] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000};

typedef struct histo {
    uint64_t counts[LIVE_METRICS_NBUCKETS + 1]; /* last: above every bound */
    uint64_t n;
    double sum_ms;
} histo;

typedef struct fb_slot {
    uint32_t key; /* (from + 1) << 16 | (to + 1) << 8 | (class + 1); 0 free */
    uint64_t n;
} fb_slot;

struct live_metrics {
    const ld_policy *p;
    int nroutes, nworkloads;
    uint64_t requests[LD_MAX_WORKLOADS][NR][NOUT];
    uint64_t fell_back[NOUT];
    uint64_t repeats[LD_MAX_WORKLOADS];       /* repeats of failed requests */
    uint64_t streams[NOUT];
    uint64_t attempts[LD_MAX_ROUTES][NCLS];   /* RESULT events */
    uint64_t started[LD_MAX_ROUTES][2];       /* ATTEMPT events: hedge? */
    uint64_t wire[LD_MAX_ROUTES][2];          /* sent, re-send refused */
    uint64_t skips[LD_MAX_ROUTES][NCLS];
    uint64_t retries[LD_MAX_ROUTES][NCLS];
    uint64_t cancels[LD_MAX_ROUTES][NCANCEL];
    uint64_t hedges[LD_MAX_ROUTES];           /* by the primary's route */
    uint64_t breaker_moves[LD_MAX_ROUTES][NBREAKER];
    uint64_t blocks[LD_MAX_ROUTES][2];        /* local, shared */
    uint64_t shared_opens[LD_MAX_ROUTES];     /* breakers opened by a peer */
    double cost[LD_MAX_ROUTES];
    uint64_t out_tokens[LD_MAX_ROUTES];
    fb_slot fallbacks[FALLBACK_SLOTS];
    uint64_t fallback_overflow;
    histo latency[NOUT];
    histo ttft[NR];
    uint64_t rejects[LIVE_REJ_COUNT];
    uint64_t queued;
    uint64_t slow_cut;                  /* streams cut: client too slow */
    uint64_t fields_dropped;            /* pass_through fields left out */
    uint64_t repeat_news[2];            /* peers' failed walks, forgets */
    uint64_t feedback[LIVE_FB_COUNT][2];
    const live_keys *keys;  /* bound by the first live_metrics_on_key */
    uint64_t (*key_req)[LIVE_KEY_OUTCOMES];
    double *key_usd;
};

static const char *const key_outcome_names[LIVE_KEY_OUTCOMES] = {
    "success", "failed", "abandoned", "key_limit", "forbidden"};

static const char *const reject_names[LIVE_REJ_COUNT] = {
    "bad_request", "too_large", "overloaded", "draining", "not_found",
    "method_not_allowed", "internal", "unauthorized", "forbidden",
    "key_limit", "left_queue", "headers_too_large", "malformed_http"};

static const char *const feedback_names[LIVE_FB_COUNT] = {
    "accepted", "retried", "abandoned"};

live_metrics *live_metrics_new(const ld_policy *p)
{
    live_metrics *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->p = p;
    m->nroutes = ld_policy_route_count(p);
    m->nworkloads = ld_policy_workload_count(p);
    return m;
}

void live_metrics_free(live_metrics *m)
{
    if (m == NULL)
        return;
    free(m->key_req);
    free(m->key_usd);
    free(m);
}

void live_metrics_on_key(live_metrics *m, const live_keys *k, int key,
                         live_key_outcome outcome, double usd)
{
    int n = live_keys_count(k);
    if (m->keys == NULL && n > 0) {
        m->key_req = calloc((size_t)n, sizeof *m->key_req);
        m->key_usd = calloc((size_t)n, sizeof *m->key_usd);
        if (m->key_req == NULL || m->key_usd == NULL) {
            free(m->key_req);
            free(m->key_usd);
            m->key_req = NULL;
            m->key_usd = NULL;
            return;
        }
        m->keys = k;
    }
    if (m->keys != k || key < 0 || key >= n || (int)outcome < 0 ||
        outcome >= LIVE_KEY_OUTCOMES)
        return;
    m->key_req[key][outcome]++;
    if (usd > 0)
        m->key_usd[key] += usd;
}

const char *live_feedback_name(live_feedback fb)
{
    return (int)fb >= 0 && fb < LIVE_FB_COUNT ? feedback_names[fb] : "?";
}

int live_feedback_parse(const char *name, live_feedback *out)
{
    for (int i = 0; i < LIVE_FB_COUNT; i++) {
        if (name != NULL && strcmp(name, feedback_names[i]) == 0) {
            *out = (live_feedback)i;
            return LD_OK;
        }
    }
    return LD_ENOENT;
}

static bool route_ok(const live_metrics *m, int r)
{
    return r >= 0 && r < m->nroutes;
}

static int cls_idx(ld_class c)
{
    if (c == LD_FC_NONE)
        return 0;
    if ((int)c < 0 || c >= LD_FC_COUNT)
        return -1;
    return (int)c + 1;
}

static int out_idx(ld_outcome o)
{
    switch (o) {
    case LD_OUT_SUCCESS: return 0;
    case LD_OUT_FAILED: return 1;
    case LD_OUT_ABANDONED: return 2;
    case LD_OUT_PENDING: break;
    }
    return -1;
}

static void histo_add(histo *h, double ms)
{
    int b = 0;
    while (b < LIVE_METRICS_NBUCKETS && ms > live_metrics_buckets_ms[b])
        b++;
    h->counts[b]++;
    h->n++;
    h->sum_ms += ms;
}

static void fallback_add_n(live_metrics *m, int from, int to, ld_class cls,
                           uint64_t n)
{
    int ci = cls_idx(cls);
    if (!route_ok(m, from) || !route_ok(m, to) || ci < 0) {
        m->fallback_overflow += n;
        return;
    }
    uint32_t key = (uint32_t)(from + 1) << 16 | (uint32_t)(to + 1) << 8 |
                   (uint32_t)ci;
    uint32_t h = key * 2654435761u;
    for (int i = 0; i < FALLBACK_SLOTS; i++) {
        fb_slot *s = &m->fallbacks[(h + (uint32_t)i) % FALLBACK_SLOTS];
        if (s->key == key || s->key == 0) {
            s->key = key;
            s->n += n;
            return;
        }
    }
    m->fallback_overflow += n;
}

static void fallback_add(live_metrics *m, int from, int to, ld_class cls)
{
    fallback_add_n(m, from, to, cls, 1);
}

/* Index in m's policy of old's route ri (-1: none there). */
static int route_in(const live_metrics *m, const live_metrics *old, int ri)
{
    const char *id = ld_policy_route_id(old->p, ri);
    int i = id != NULL ? ld_policy_route_index(m->p, id) : -1;
    return i >= 0 ? i : -1; /* not found is an error code */
}

/* The keys' counters by id (old bound to other keys, or none). */
static int adopt_keys(live_metrics *m, const live_metrics *old,
                      const live_keys *keys)
{
    int n = keys != NULL ? live_keys_count(keys) : 0;
    if (n <= 0)
        return LD_OK;
    m->key_req = calloc((size_t)n, sizeof *m->key_req);
    m->key_usd = calloc((size_t)n, sizeof *m->key_usd);
    if (m->key_req == NULL || m->key_usd == NULL) {
        free(m->key_req);
        free(m->key_usd);
        m->key_req = NULL;
        m->key_usd = NULL;
        return LD_ENOMEM;
    }
    m->keys = keys;
    if (old->keys == NULL || old->key_req == NULL)
        return LD_OK;
    bool oom;
    int *map = live_keys_map(old->keys, keys, &oom);
    if (oom)
        return LD_ENOMEM;
    int on = live_keys_count(old->keys);
    for (int j = 0; map != NULL && j < on; j++) {
        int i = map[j];
        if (i < 0)
            continue;
        memcpy(m->key_req[i], old->key_req[j], sizeof m->key_req[i]);
        m->key_usd[i] = old->key_usd[j];
    }
    free(map);
    return LD_OK;
}

int live_metrics_adopt(live_metrics *m, const live_metrics *old,
                       const live_keys *keys)
{
    int rmap[NR];
    rmap[0] = 0; /* "none" stays "none" */
    for (int r = 0; r < old->nroutes; r++)
        rmap[r + 1] = route_in(m, old, r) + 1; /* 0 when gone */
    for (int w = 0; w < old->nworkloads; w++) {
        const char *name = ld_policy_workload_name(old->p, w);
        int nw = name != NULL ? ld_policy_workload_index(m->p, name) : -1;
        if (nw < 0)
            continue;
        for (int r = 0; r <= old->nroutes; r++)
            if (r == 0 || rmap[r] > 0)
                for (int o = 0; o < NOUT; o++)
                    m->requests[nw][rmap[r]][o] += old->requests[w][r][o];
        m->repeats[nw] += old->repeats[w];
    }
    memcpy(m->fell_back, old->fell_back, sizeof m->fell_back);
    memcpy(m->streams, old->streams, sizeof m->streams);
    memcpy(m->latency, old->latency, sizeof m->latency);
    memcpy(m->rejects, old->rejects, sizeof m->rejects);
    memcpy(m->feedback, old->feedback, sizeof m->feedback);
    m->fallback_overflow = old->fallback_overflow;
    m->queued = old->queued;
    m->slow_cut = old->slow_cut;
    m->fields_dropped = old->fields_dropped;
    m->repeat_news[0] = old->repeat_news[0];
    m->repeat_news[1] = old->repeat_news[1];
    for (int r = 0; r <= old->nroutes; r++) {
        if (r > 0 && rmap[r] == 0)
            continue;
        int n = rmap[r];
        for (int b = 0; b <= LIVE_METRICS_NBUCKETS; b++)
            m->ttft[n].counts[b] += old->ttft[r].counts[b];
        m->ttft[n].n += old->ttft[r].n;
        m->ttft[n].sum_ms += old->ttft[r].sum_ms;
        if (r == 0)
            continue;
        int o = r - 1, d = n - 1;
        memcpy(m->attempts[d], old->attempts[o], sizeof m->attempts[d]);
        memcpy(m->started[d], old->started[o], sizeof m->started[d]);
        memcpy(m->skips[d], old->skips[o], sizeof m->skips[d]);
        memcpy(m->retries[d], old->retries[o], sizeof m->retries[d]);
        memcpy(m->cancels[d], old->cancels[o], sizeof m->cancels[d]);
        memcpy(m->wire[d], old->wire[o], sizeof m->wire[d]);
        memcpy(m->breaker_moves[d], old->breaker_moves[o],
               sizeof m->breaker_moves[d]);
        memcpy(m->blocks[d], old->blocks[o], sizeof m->blocks[d]);
        m->hedges[d] = old->hedges[o];
        m->shared_opens[d] = old->shared_opens[o];
        m->cost[d] = old->cost[o];
        m->out_tokens[d] = old->out_tokens[o];
    }
    for (int i = 0; i < FALLBACK_SLOTS; i++) {
        const fb_slot *f = &old->fallbacks[i];
        if (f->key == 0)
            continue;
        int from = rmap[(f->key >> 16) & 0xffff] - 1;
        int to = rmap[(f->key >> 8) & 0xff] - 1;
        int ci = (int)(f->key & 0xff);
        if (from >= 0 && to >= 0)
            fallback_add_n(m, from, to,
                           ci == 0 ? LD_FC_NONE : (ld_class)(ci - 1), f->n);
    }
    return adopt_keys(m, old, keys);
}

void live_metrics_on_event(live_metrics *m, const ld_event *ev)
{
    int r = ev->route;
    int ci = cls_idx(ev->cls);
    if (!route_ok(m, r))
        return;
    switch (ev->type) {
    case LD_EV_ATTEMPT:
        m->started[r][ev->hedge ? 1 : 0]++;
        break;
    case LD_EV_RESULT:
        if (ci >= 0)
            m->attempts[r][ci]++;
        if (ev->cls == LD_FC_NONE) {
            if (ev->cost > 0)
                m->cost[r] += ev->cost;
            if (ev->output_tokens > 0)
                m->out_tokens[r] += (uint64_t)ev->output_tokens;
        }
        break;
    case LD_EV_SKIP:
        if (ci >= 0)
            m->skips[r][ci]++;
        break;
    case LD_EV_RETRY:
        if (ci >= 0)
            m->retries[r][ci]++;
        break;
    case LD_EV_FALLBACK:
        fallback_add(m, r, ev->to_route, ev->cls);
        break;
    case LD_EV_HEDGE:
        m->hedges[r]++;
        break;
    case LD_EV_CANCEL:
        if ((int)ev->reason >= 0 && (int)ev->reason < NCANCEL)
            m->cancels[r][ev->reason]++;
        break;
    case LD_EV_BREAKER:
        if ((int)ev->to >= 0 && (int)ev->to < NBREAKER)
            m->breaker_moves[r][ev->to]++;
        if (ev->shared)
            m->shared_opens[r]++;
        break;
    case LD_EV_BLOCK:
        m->blocks[r][ev->shared ? 1 : 0]++;
        break;
    case LD_EV_REQUEST:
    case LD_EV_DONE:
    case LD_EV_COUNT:
        break;
    }
}

void live_metrics_on_done(live_metrics *m, const ld_req_info *info,
                          bool stream)
{
    int oi = out_idx(info->outcome);
    if (oi < 0)
        return;
    int w = info->workload >= 0 && info->workload < m->nworkloads
                ? info->workload : 0;
    int ri = route_ok(m, info->route) ? info->route + 1 : 0;
    m->requests[w][ri][oi]++;
    if (info->fell_back)
        m->fell_back[oi]++;
    if (info->repeat)
        m->repeats[w]++;
    if (stream)
        m->streams[oi]++;
    if (info->latency >= 0)
        histo_add(&m->latency[oi], (double)info->latency / 1000.0);
    if (info->ttft >= 0)
        histo_add(&m->ttft[ri], (double)info->ttft / 1000.0);
}

void live_metrics_on_wire(live_metrics *m, int route, bool refused)
{
    if (route_ok(m, route))
        m->wire[route][refused ? 1 : 0]++;
}

void live_metrics_on_queued(live_metrics *m)
{
    m->queued++;
}

void live_metrics_on_reject(live_metrics *m, live_reject why)
{
    if ((int)why >= 0 && why < LIVE_REJ_COUNT)
        m->rejects[why]++;
}

void live_metrics_on_slow_cut(live_metrics *m)
{
    m->slow_cut++;
}

void live_metrics_on_repeat_news(live_metrics *m, bool forget)
{
    if (m != NULL)
        m->repeat_news[forget ? 1 : 0]++;
}

void live_metrics_on_field_dropped(live_metrics *m, uint64_t n)
{
    m->fields_dropped += n;
}

void live_metrics_on_feedback(live_metrics *m, live_feedback fb,
                              bool fell_back)
{
    if ((int)fb >= 0 && fb < LIVE_FB_COUNT)
        m->feedback[fb][fell_back ? 1 : 0]++;
}

uint64_t live_metrics_requests(const live_metrics *m, ld_outcome o)
{
    int oi = out_idx(o);
    uint64_t n = 0;
    if (oi < 0)
        return 0;
    for (int w = 0; w < LD_MAX_WORKLOADS; w++)
        for (int r = 0; r < NR; r++)
            n += m->requests[w][r][oi];
    return n;
}

/* ---- rendering ------------------------------------------------------------ */

typedef struct out {
    live_buf *b;
    int rc;
} out;

static void put(out *o, const char *s)
{
    if (o->rc == LD_OK)
        o->rc = live_buf_append(o->b, s, strlen(s));
}

/* A label value, escaped as the text format wants (\\, \", \n). */
static void put_label(out *o, const char *v)
{
    for (const char *s = v != NULL ? v : ""; *s != '\0' && o->rc == LD_OK; s++) {
        const char *e = NULL;
        if (*s == '\\')
            e = "\\\\";
        else if (*s == '"')
            e = "\\\"";
        else if (*s == '\n')
            e = "\\n";
        if (e != NULL)
            put(o, e);
        else
            o->rc = live_buf_append(o->b, s, 1);
    }
}

static void put_u64(out *o, uint64_t v)
{
    if (o->rc == LD_OK)
        o->rc = live_buf_appendf(o->b, " %llu\n", (unsigned long long)v);
}

static void put_num(out *o, double v)
{
    if (o->rc == LD_OK)
        o->rc = live_buf_appendf(o->b, " %.17g\n", v);
}

static void header(out *o, const char *name, const char *type,
                   const char *help)
{
    put(o, "# HELP ");
    put(o, name);
    put(o, " ");
    put(o, help);
    put(o, "\n# TYPE ");
    put(o, name);
    put(o, " ");
    put(o, type);
    put(o, "\n");
}

/* name{k1="v1",k2="v2",...} with up to three labels (NULL key ends). */
static void series(out *o, const char *name, const char *k1, const char *v1,
                   const char *k2, const char *v2, const char *k3,
                   const char *v3);
static void put_num(out *o, double v);

/* Whether key limits are judged on the fleet's totals (Redis) or on this
 * router's share, and how much of each limit is used as this router sees
 * it. */
static void key_limit_gauges(out *o, const live_keys *keys)
{
    ld_quota *q = live_keys_quota(keys);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ld_us wall = (ld_us)ts.tv_sec * LD_US_PER_S + ts.tv_nsec / 1000;
    bool shared = ld_quota_is_shared(q);
    header(o, "ladder_key_limits_shared", "gauge",
           "1 while client key limits are enforced across the fleet through "
           "Redis, 0 while each router enforces its own share.");
    series(o, "ladder_key_limits_shared", NULL, NULL, NULL, NULL, NULL, NULL);
    put_num(o, shared ? 1 : 0);
    header(o, "ladder_key_limit_used", "gauge",
           "What each limited client key has used of each of its limits in "
           "the current window (rpm, tpm: requests and tokens this minute; "
           "usd_per_day, usd_per_month: USD), across the fleet as this "
           "router last saw it, or this router's own while limits are "
           "local.");
    for (int k = 0; k < live_keys_count(keys); k++) {
        ld_quota_usage u;
        if (!ld_quota_limited(q, k) ||
            (shared ? ld_quota_fleet_get(q, k, wall, &u)
                    : ld_quota_usage_get(q, k, wall, &u)) != LD_OK)
            continue;
        const char *id = live_keys_id(keys, k);
        double v[4] = {(double)u.requests, (double)u.tokens, u.usd_day,
                       u.usd_month};
        for (int i = 0; i < 4; i++) {
            series(o, "ladder_key_limit_used", "key", id, "limit",
                   ld_quota_limit_name(LD_QUOTA_RPM + i), NULL, NULL);
            put_num(o, v[i]);
        }
    }
}

static void series(out *o, const char *name, const char *k1, const char *v1,
                   const char *k2, const char *v2, const char *k3,
                   const char *v3)
{
    const char *k[3] = {k1, k2, k3}, *v[3] = {v1, v2, v3};
    put(o, name);
    for (int i = 0; i < 3 && k[i] != NULL; i++) {
        put(o, i == 0 ? "{" : ",");
        put(o, k[i]);
        put(o, "=\"");
        put_label(o, v[i]);
        put(o, "\"");
        if (i == 2 || k[i + 1] == NULL)
            put(o, "}");
    }
}

static const char *route_name(const live_metrics *m, int ri)
{
    return ri == 0 ? "none" : ld_policy_route_id(m->p, ri - 1);
}

static const char *outcome_name(int oi)
{
    static const char *const names[NOUT] = {"success", "failed", "abandoned"};
    return names[oi];
}

static void histogram(out *o, const char *name, const histo *h,
                      const char *k, const char *v)
{
    char bname[96], le[32];
    uint64_t acc = 0;
    snprintf(bname, sizeof bname, "%s_bucket", name);
    for (int b = 0; b <= LIVE_METRICS_NBUCKETS; b++) {
        acc += h->counts[b];
        if (b < LIVE_METRICS_NBUCKETS)
            snprintf(le, sizeof le, "%g", live_metrics_buckets_ms[b]);
        else
            snprintf(le, sizeof le, "+Inf");
        series(o, bname, k, v, "le", le, NULL, NULL);
        put_u64(o, acc);
    }
    snprintf(bname, sizeof bname, "%s_sum", name);
    series(o, bname, k, v, NULL, NULL, NULL, NULL);
    put_num(o, h->sum_ms);
    snprintf(bname, sizeof bname, "%s_count", name);
    series(o, bname, k, v, NULL, NULL, NULL, NULL);
    put_u64(o, h->n);
}

int live_metrics_render(const live_metrics *m, const ld_breaker_state *breakers,
                        int in_flight, live_buf *b)
{
    out o = {b, LD_OK};
    const ld_policy *p = m->p;

    header(&o, "ladder_requests_total", "counter",
           "Requests the router finished, by workload, serving route "
           "(none when no route served) and outcome.");
    for (int w = 0; w < m->nworkloads; w++)
        for (int r = 0; r <= m->nroutes; r++)
            for (int oi = 0; oi < NOUT; oi++) {
                if (m->requests[w][r][oi] == 0)
                    continue;
                series(&o, "ladder_requests_total", "workload",
                       ld_policy_workload_name(p, w), "route",
                       route_name(m, r), "outcome", outcome_name(oi));
                put_u64(&o, m->requests[w][r][oi]);
            }

    header(&o, "ladder_requests_fell_back_total", "counter",
           "Finished requests served (or failed) elsewhere than the first "
           "rung, by outcome.");
    for (int oi = 0; oi < NOUT; oi++) {
        series(&o, "ladder_requests_fell_back_total", "outcome",
               outcome_name(oi), NULL, NULL, NULL, NULL);
        put_u64(&o, m->fell_back[oi]);
    }

    header(&o, "ladder_repeat_failures_total", "counter",
           "Requests answered at once, without an attempt, with the failure "
           "the same request got just before (a client library's retries; "
           "health.repeat_failure_s), by workload.");
    for (int w = 0; w < m->nworkloads; w++) {
        series(&o, "ladder_repeat_failures_total", "workload",
               ld_policy_workload_name(p, w), NULL, NULL, NULL, NULL);
        put_u64(&o, m->repeats[w]);
    }

    header(&o, "ladder_stream_requests_total", "counter",
           "Finished requests that asked for a stream, by outcome.");
    for (int oi = 0; oi < NOUT; oi++) {
        series(&o, "ladder_stream_requests_total", "outcome",
               outcome_name(oi), NULL, NULL, NULL, NULL);
        put_u64(&o, m->streams[oi]);
    }

    header(&o, "ladder_requests_in_flight", "gauge",
           "Requests accepted and not yet finished.");
    series(&o, "ladder_requests_in_flight", NULL, NULL, NULL, NULL, NULL,
           NULL);
    put_u64(&o, (uint64_t)(in_flight > 0 ? in_flight : 0));

    header(&o, "ladder_client_too_slow_total", "counter",
           "Streams cut because their client did not read while the unsent "
           "bytes to all clients were over --max-buffered-mb.");
    series(&o, "ladder_client_too_slow_total", NULL, NULL, NULL, NULL, NULL,
           NULL);
    put_u64(&o, m->slow_cut);

    header(&o, "ladder_pass_through_dropped_total", "counter",
           "Request fields another route's pass_through lists, left out of "
           "the body sent to a route that does not list them.");
    series(&o, "ladder_pass_through_dropped_total", NULL, NULL, NULL, NULL,
           NULL, NULL);
    put_u64(&o, m->fields_dropped);

    header(&o, "ladder_repeat_news_total", "counter",
           "Other routers' news of the table of failed walks (--redis): "
           "a walk that failed there (kind failed), a success that forgot "
           "a workload's failures (kind forgot).");
    series(&o, "ladder_repeat_news_total", "kind", "failed", NULL, NULL, NULL,
           NULL);
    put_u64(&o, m->repeat_news[0]);
    series(&o, "ladder_repeat_news_total", "kind", "forgot", NULL, NULL, NULL,
           NULL);
    put_u64(&o, m->repeat_news[1]);

    header(&o, "ladder_requests_rejected_total", "counter",
           "Requests answered before routing (bad request, too large, "
           "overload, draining, unknown path, refused by the HTTP layer), "
           "by reason.");
    for (int i = 0; i < LIVE_REJ_COUNT; i++) {
        series(&o, "ladder_requests_rejected_total", "reason",
               reject_names[i], NULL, NULL, NULL, NULL);
        put_u64(&o, m->rejects[i]);
    }
    header(&o, "ladder_requests_queued_total", "counter",
           "Requests that waited for a slot at --max-concurrent (--queue-ms); "
           "each was then routed, or rejected as overloaded (waited too "
           "long), draining or left_queue.");
    series(&o, "ladder_requests_queued_total", NULL, NULL, NULL, NULL, NULL,
           NULL);
    put_u64(&o, m->queued);

    if (m->keys != NULL) {
        int nk = live_keys_count(m->keys);
        header(&o, "ladder_key_requests_total", "counter",
               "Requests made with each client key (by its id), by outcome "
               "(key_limit: over one of its limits; forbidden: a tier or "
               "workload it may not use).");
        for (int k = 0; k < nk; k++)
            for (int i = 0; i < LIVE_KEY_OUTCOMES; i++) {
                series(&o, "ladder_key_requests_total", "key",
                       live_keys_id(m->keys, k), "outcome",
                       key_outcome_names[i], NULL, NULL);
                put_u64(&o, m->key_req[k][i]);
            }
        header(&o, "ladder_key_spend_usd_total", "counter",
               "USD billed for each client key's requests.");
        for (int k = 0; k < nk; k++) {
            series(&o, "ladder_key_spend_usd_total", "key",
                   live_keys_id(m->keys, k), NULL, NULL, NULL, NULL);
            put_num(&o, m->key_usd[k]);
        }
        key_limit_gauges(&o, m->keys);
    }

    header(&o, "ladder_attempts_started_total", "counter",
           "Upstream attempts started, by route and kind (first or hedge).");
    for (int r = 0; r < m->nroutes; r++)
        for (int h = 0; h < 2; h++) {
            series(&o, "ladder_attempts_started_total", "route",
                   ld_policy_route_id(p, r), "kind", h ? "hedge" : "first",
                   NULL, NULL);
            put_u64(&o, m->started[r][h]);
        }

    header(&o, "ladder_attempts_total", "counter",
           "Upstream attempts that ended, by route and class (none: "
           "success).");
    for (int r = 0; r < m->nroutes; r++)
        for (int c = 0; c < NCLS; c++) {
            if (m->attempts[r][c] == 0 && c != 0)
                continue;
            series(&o, "ladder_attempts_total", "route",
                   ld_policy_route_id(p, r), "class",
                   ld_class_name((ld_class)(c - 1)), NULL, NULL);
            put_u64(&o, m->attempts[r][c]);
        }

    header(&o, "ladder_upstream_requests_total", "counter",
           "Requests put on the wire to the upstream, by route: one per "
           "attempt that reached it (curl's own re-sends are refused).");
    for (int r = 0; r < m->nroutes; r++) {
        series(&o, "ladder_upstream_requests_total", "route",
               ld_policy_route_id(p, r), NULL, NULL, NULL, NULL);
        put_u64(&o, m->wire[r][0]);
    }
    header(&o, "ladder_upstream_resends_refused_total", "counter",
           "Re-sends curl wanted after a reused connection died before any "
           "response byte, refused (the attempt ended as a reset).");
    for (int r = 0; r < m->nroutes; r++) {
        series(&o, "ladder_upstream_resends_refused_total", "route",
               ld_policy_route_id(p, r), NULL, NULL, NULL, NULL);
        put_u64(&o, m->wire[r][1]);
    }

    header(&o, "ladder_attempts_cancelled_total", "counter",
           "Attempts the router stopped, by route and reason.");
    for (int r = 0; r < m->nroutes; r++)
        for (int c = 0; c < NCANCEL; c++) {
            if (m->cancels[r][c] == 0)
                continue;
            series(&o, "ladder_attempts_cancelled_total", "route",
                   ld_policy_route_id(p, r), "reason",
                   ld_cancel_reason_name((ld_cancel_reason)c), NULL, NULL);
            put_u64(&o, m->cancels[r][c]);
        }

    header(&o, "ladder_skips_total", "counter",
           "Routes passed over without an attempt, by route and class.");
    for (int r = 0; r < m->nroutes; r++)
        for (int c = 1; c < NCLS; c++) {
            if (m->skips[r][c] == 0)
                continue;
            series(&o, "ladder_skips_total", "route", ld_policy_route_id(p, r),
                   "class", ld_class_name((ld_class)(c - 1)), NULL, NULL);
            put_u64(&o, m->skips[r][c]);
        }

    header(&o, "ladder_retries_total", "counter",
           "Retries of the same route scheduled, by route and class.");
    for (int r = 0; r < m->nroutes; r++)
        for (int c = 1; c < NCLS; c++) {
            if (m->retries[r][c] == 0)
                continue;
            series(&o, "ladder_retries_total", "route",
                   ld_policy_route_id(p, r), "class",
                   ld_class_name((ld_class)(c - 1)), NULL, NULL);
            put_u64(&o, m->retries[r][c]);
        }

    header(&o, "ladder_fallbacks_total", "counter",
           "Moves from one route to another, by from, to and the class "
           "that caused them.");
    for (int i = 0; i < FALLBACK_SLOTS; i++) {
        const fb_slot *s = &m->fallbacks[i];
        if (s->key == 0)
            continue;
        int from = (int)(s->key >> 16) - 1, to = (int)(s->key >> 8 & 0xff) - 1;
        int c = (int)(s->key & 0xff) - 1;
        series(&o, "ladder_fallbacks_total", "from", ld_policy_route_id(p, from),
               "to", ld_policy_route_id(p, to), "class",
               ld_class_name((ld_class)c));
        put_u64(&o, s->n);
    }
    header(&o, "ladder_fallbacks_untracked_total", "counter",
           "Fallbacks beyond the table of distinct (from, to, class).");
    series(&o, "ladder_fallbacks_untracked_total", NULL, NULL, NULL, NULL,
           NULL, NULL);
    put_u64(&o, m->fallback_overflow);

    header(&o, "ladder_hedges_total", "counter",
           "Hedge attempts fired, by the route they hedged.");
    for (int r = 0; r < m->nroutes; r++) {
        series(&o, "ladder_hedges_total", "route", ld_policy_route_id(p, r),
               NULL, NULL, NULL, NULL);
        put_u64(&o, m->hedges[r]);
    }

    header(&o, "ladder_breaker_state", "gauge",
           "Circuit breaker state per route: 0 closed, 1 open, 2 half-open.");
    for (int r = 0; r < m->nroutes; r++) {
        series(&o, "ladder_breaker_state", "route", ld_policy_route_id(p, r),
               NULL, NULL, NULL, NULL);
        put_u64(&o, breakers != NULL ? (uint64_t)breakers[r] : 0);
    }

    header(&o, "ladder_breaker_transitions_total", "counter",
           "Breaker moves, by route and the state entered.");
    for (int r = 0; r < m->nroutes; r++)
        for (int s = 0; s < NBREAKER; s++) {
            if (m->breaker_moves[r][s] == 0)
                continue;
            series(&o, "ladder_breaker_transitions_total", "route",
                   ld_policy_route_id(p, r), "to",
                   ld_breaker_state_name((ld_breaker_state)s), NULL, NULL);
            put_u64(&o, m->breaker_moves[r][s]);
        }

    header(&o, "ladder_route_blocks_total", "counter",
           "Routes blocked by a Retry-After or an exhausted quota, by route "
           "and source (local: this router's answer; shared: another "
           "router's, through Redis).");
    for (int r = 0; r < m->nroutes; r++)
        for (int k = 0; k < 2; k++) {
            if (m->blocks[r][k] == 0)
                continue;
            series(&o, "ladder_route_blocks_total", "route",
                   ld_policy_route_id(p, r), "source",
                   k ? "shared" : "local", NULL, NULL);
            put_u64(&o, m->blocks[r][k]);
        }

    header(&o, "ladder_breaker_shared_opens_total", "counter",
           "Breakers opened because another router's opened (Redis).");
    for (int r = 0; r < m->nroutes; r++) {
        if (m->shared_opens[r] == 0)
            continue;
        series(&o, "ladder_breaker_shared_opens_total", "route",
               ld_policy_route_id(p, r), NULL, NULL, NULL, NULL);
        put_u64(&o, m->shared_opens[r]);
    }

    header(&o, "ladder_cost_usd_total", "counter",
           "USD billed for successful attempts, by route (the policy's "
           "prices and the answers' usage).");
    for (int r = 0; r < m->nroutes; r++) {
        series(&o, "ladder_cost_usd_total", "route", ld_policy_route_id(p, r),
               NULL, NULL, NULL, NULL);
        put_num(&o, m->cost[r]);
    }

    header(&o, "ladder_output_tokens_total", "counter",
           "Answer tokens of successful attempts, by route.");
    for (int r = 0; r < m->nroutes; r++) {
        series(&o, "ladder_output_tokens_total", "route",
               ld_policy_route_id(p, r), NULL, NULL, NULL, NULL);
        put_u64(&o, m->out_tokens[r]);
    }

    header(&o, "ladder_request_latency_ms", "histogram",
           "Time from arrival to the end of the answer, by outcome.");
    for (int oi = 0; oi < NOUT; oi++)
        histogram(&o, "ladder_request_latency_ms", &m->latency[oi], "outcome",
                  outcome_name(oi));

    header(&o, "ladder_ttft_ms", "histogram",
           "Time from arrival to the first token the client could get, by "
           "serving route.");
    for (int r = 0; r <= m->nroutes; r++) {
        if (r == 0 && m->ttft[0].n == 0)
            continue;
        histogram(&o, "ladder_ttft_ms", &m->ttft[r], "route", route_name(m, r));
    }

    header(&o, "ladder_feedback_total", "counter",
           "The product's verdicts (POST /v1/feedback), by outcome and "
           "whether the request fell back.");
    for (int f = 0; f < LIVE_FB_COUNT; f++)
        for (int fb = 0; fb < 2; fb++) {
            series(&o, "ladder_feedback_total", "outcome", feedback_names[f],
                   "fell_back", fb ? "true" : "false", NULL, NULL);
            put_u64(&o, m->feedback[f][fb]);
        }
    return o.rc;
}
