/* ld_core.c - the routing core's request state machine.
 *
 * Decision procedure, in one place:
 *
 * 1. A request starts by walking its workload's candidates (the ladder, then
 *    role routes outside it) from the top.
 * 2. A candidate is first qualified: capabilities, context window, region,
 *    quality floor, estimated cost, breaker, rate-limit or quota block,
 *    concurrency cap, observed latency. A candidate that does not qualify is
 *    skipped for that class, and the class's rule says where to go next,
 *    exactly as if an attempt had failed with it.
 * 3. An attempt that fails is classified; the rule for its class picks the
 *    action: retry the same route (backoff with jitter, bounded by count,
 *    by the retry budget and by the deadline), wait for Retry-After (when
 *    it fits), the next acceptable rung, a role, the next route with a
 *    larger context window or in another region, or the safe failure.
 * 4. Every route is visited at most once per request apart from bounded
 *    retries on it, so every request ends, in exactly one terminal outcome.
 * 5. After the first token reached the user, a technical failure of the
 *    stream ends the request with an error, unless the workload allows
 *    continuations: then the same rules walk on, among routes that accept
 *    an assistant prefill, to an attempt that continues the answer. If no
 *    continuation delivers a token, the request fails with the original
 *    mid-stream class (a refused prefill never hides the real error).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ld_core.h"
#include "ld_health.h"
#include "ld_policy_int.h"
#include "ld_repeat.h"

#define LD_MAX_LIVE 4      /* attempts in flight: one plus up to 3 hedges */
#define LD_MAX_DO 8        /* pending actions per request: a core call
                              leaves at most LD_MAX_LIVE cancels, a start
                              and a finish (6), and hosts drain them
                              after every call */
#define POOL_CHUNK 256
#define DEFAULT_DEADLINE ld_s(300)
#define MAX_CHUNKS 65536   /* 16 million requests in flight at most */

typedef struct route_state {
    ld_breaker *breaker;
    ld_latency *ttft;     /* first-token latency */
    double tps;           /* tokens per second, moving average; 0 unknown */
    double ttft_avg;      /* first-token latency (us), moving average; 0
                             unknown (lowest_latency rungs) */
    ld_us blocked_until;  /* rate limit or quota */
    ld_class blocked_cls;
    int in_flight;
    int borrowed;         /* attempts still in flight on an earlier core
                             of this route (a reload), until the host says
                             they ended (ld_core_release_borrowed) */
    double price_in, price_out, quality;
} route_state;

typedef enum att_state { ATT_FREE, ATT_LIVE } att_state;

typedef struct attempt {
    att_state state;
    uint32_t no;
    int route;
    bool hedge, probe, committed;
    bool resume;          /* continues the answer the client already has */
    ld_us started, ttft_deadline, stall, last_progress, first_token;
} attempt;

struct ld_req {
    ld_core *core;
    ld_req *next_free;
    const ld_workload *w;
    const ld_constraints *cons;
    uint64_t id;
    int workload, tier;
    int64_t in_tok, out_tok;
    int n;                /* choices asked for: output and cost x n */
    int pin;              /* pinned route of the first attempt, or -1 */
    bool pin_only;        /* the pinned route alone: no other route */
    unsigned caps;
    ld_us arrived, deadline;
    uint64_t visited;     /* routes tried or skipped */
    attempt att[LD_MAX_LIVE];
    int live;             /* attempts in flight */
    uint32_t attempts;    /* attempts started */
    int hedges;
    int committed;        /* index in att[] of the attempt streaming, or -1 */
    int retry_route;      /* route the retry count is for */
    int retries;          /* retries on retry_route so far */
    int fallbacks;        /* FALLBACK events */
    ld_us wait_until;     /* pending retry; LD_NEVER when none */
    int wait_route;
    ld_us hedge_at;       /* LD_NEVER when none */
    int last_from;        /* route whose failure or skip led to the next */
    ld_class last_cls;
    ld_class first_cls;
    bool local_fail;      /* a failure or skip local to this host
                             (ld_class_is_local) on the walk */
    ld_class cut_cls;     /* the mid-stream failure being continued, or NONE */
    int continues;        /* continuations started */
    ld_outcome outcome;
    int served_route;
    ld_us ttft, latency;
    double cost;
    ld_quota *quota;      /* the key's limits, while taken; NULL: none */
    int key;
    ld_us wall;           /* wall time at arrival (quota windows) */
    int64_t q_tok, used_out; /* tokens taken, output tokens billed */
    double q_usd;         /* cost taken */
    int key_limit;
    ld_us key_retry;
    uint64_t fp;          /* ld_req_spec.fingerprint; 0: none */
    bool repeat;          /* answered from the table of failed requests */
    ld_do q[LD_MAX_DO];
    int qhead, qlen;
};

struct ld_core {
    const ld_policy *p;
    route_state routes[LD_MAX_ROUTES];
    ld_retry_budget *budget;
    ld_event_fn sink;
    void *sink_ud;
    uint64_t next_id;
    ld_req *free_list;
    ld_req **chunks;
    size_t nchunks, chunks_cap;
    ld_repeat *failed;    /* requests that just failed, by fingerprint;
                             made with the first one (NULL until then) */
};

/* ---- events ------------------------------------------------------------- */

static void ev_init(ld_event *ev, ld_event_type type, const ld_req *r, ld_us now)
{
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->t = now;
    ev->req = r != NULL ? r->id : 0;
    ev->workload = r != NULL ? r->workload : -1;
    ev->tier = r != NULL ? r->tier : -1;
    ev->route = -1;
    ev->to_route = -1;
    ev->cls = LD_FC_NONE;
    ev->ttft = -1;
    ev->elapsed = r != NULL ? now - r->arrived : 0;
}

static void emit(ld_core *c, const ld_event *ev)
{
    if (c->sink != NULL)
        c->sink(c->sink_ud, ev);
}

/* A breaker move, if tr is one; `shared`: learnt from another host. */
static void emit_breaker_move(ld_core *c, int route, ld_us now,
                              const ld_breaker_transition *tr, bool shared)
{
    if (!tr->changed || c->sink == NULL)
        return;
    ld_event ev;
    ev_init(&ev, LD_EV_BREAKER, NULL, now);
    ev.route = route;
    ev.from = tr->from;
    ev.to = tr->to;
    ev.shared = shared;
    emit(c, &ev);
}

static void emit_breaker(ld_core *c, int route, ld_us now,
                         const ld_breaker_transition *tr)
{
    emit_breaker_move(c, route, now, tr, false);
}

/* Block route until `until` for cls (a Retry-After or a quota), unless it
 * is blocked as long already; the BLOCK event names the request that
 * learnt it (r), or none when another host did. */
static void block_route(ld_core *c, const ld_req *r, int route, ld_class cls,
                        ld_us until, ld_us now)
{
    route_state *rs = &c->routes[route];
    if (until <= now || until <= rs->blocked_until)
        return; /* nothing new */
    rs->blocked_until = until;
    rs->blocked_cls = cls;
    ld_event ev;
    ev_init(&ev, LD_EV_BLOCK, r, now);
    ev.route = route;
    ev.cls = cls;
    ev.delay = until - now;
    ev.shared = r == NULL;
    emit(c, &ev);
}

/* A first-token latency observed on rs: its window (quantiles, hedges) and
 * its moving average (lowest_latency rungs). */
static void note_ttft(route_state *rs, ld_us now, ld_us v)
{
    ld_latency_add(rs->ttft, now, v);
    rs->ttft_avg = rs->ttft_avg > 0 ? 0.8 * rs->ttft_avg + 0.2 * (double)v
                                    : (double)(v > 0 ? v : 1);
}

/* Whether a route offers every capability in `need` (the qualification
 * test, and which routes can continue a stream). */
static bool has_caps(const ld_route *rt, unsigned need)
{
    return (need & ~rt->caps) == 0;
}

/* ---- core --------------------------------------------------------------- */

ld_core *ld_core_new(const ld_policy *p)
{
    ld_core *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->p = p;
    c->next_id = 1;
    for (int i = 0; i < p->nroutes; i++) {
        route_state *rs = &c->routes[i];
        rs->breaker = ld_breaker_new(&p->routes[i].breaker);
        rs->ttft = ld_latency_new(p->health_window);
        if (rs->breaker == NULL || rs->ttft == NULL)
            goto fail;
        rs->price_in = p->routes[i].price_in;
        rs->price_out = p->routes[i].price_out;
        rs->quality = p->routes[i].quality;
        rs->blocked_cls = LD_FC_NONE;
    }
    c->budget = ld_retry_budget_new(p->budget_ratio, p->budget_min_per_s,
                                    p->budget_window);
    if (c->budget == NULL)
        goto fail;
    return c;
fail:
    ld_core_free(c);
    return NULL;
}

void ld_core_free(ld_core *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < c->p->nroutes; i++) {
        ld_breaker_free(c->routes[i].breaker);
        ld_latency_free(c->routes[i].ttft);
    }
    ld_retry_budget_free(c->budget);
    ld_repeat_free(c->failed);
    for (size_t i = 0; i < c->nchunks; i++)
        free(c->chunks[i]);
    free(c->chunks);
    free(c);
}

const ld_policy *ld_core_policy(const ld_core *c) { return c->p; }

void ld_core_set_sink(ld_core *c, ld_event_fn fn, void *ud)
{
    c->sink = fn;
    c->sink_ud = ud;
}

int ld_core_set_price(ld_core *c, int route, double in, double out)
{
    if (route < 0 || route >= c->p->nroutes || !(in >= 0) || !(out >= 0))
        return LD_EINVAL;
    c->routes[route].price_in = in;
    c->routes[route].price_out = out;
    return LD_OK;
}

int ld_core_set_quality(ld_core *c, int route, double quality)
{
    if (route < 0 || route >= c->p->nroutes || !(quality >= 0) ||
        quality > 1)
        return LD_EINVAL;
    c->routes[route].quality = quality;
    return LD_OK;
}

double ld_core_route_quality(const ld_core *c, int route)
{
    if (route < 0 || route >= c->p->nroutes)
        return -1;
    return c->routes[route].quality;
}

int ld_core_route_health(ld_core *c, int route, ld_us now,
                         ld_route_health *out)
{
    if (route < 0 || route >= c->p->nroutes)
        return LD_EINVAL;
    route_state *rs = &c->routes[route];
    ld_breaker_transition tr;
    out->breaker = ld_breaker_state_at(rs->breaker, now, &tr);
    emit_breaker(c, route, now, &tr); /* a look may move open to half-open */
    out->in_flight = rs->in_flight;
    out->blocked_until = rs->blocked_until > now ? rs->blocked_until : 0;
    out->ttft_p50 = ld_latency_quantile(rs->ttft, now, 0.5);
    out->ttft_p95 = ld_latency_quantile(rs->ttft, now, 0.95);
    out->input_per_mtok = rs->price_in;
    out->output_per_mtok = rs->price_out;
    out->quality = rs->quality;
    return LD_OK;
}

int ld_core_continue_routes(const ld_policy *p, int workload, int *routes,
                            int cap)
{
    if (workload < 0 || workload >= p->nworkloads || cap < 0)
        return LD_EINVAL;
    const ld_workload *w = &p->workloads[workload];
    if (w->continue_max <= 0)
        return 0;
    int n = 0;
    for (int i = 0; i < w->ncand; i++) {
        if (!has_caps(&p->routes[w->cand[i]], w->requires | LD_CAP_PREFILL))
            continue;
        if (n < cap)
            routes[n] = w->cand[i];
        n++;
    }
    return n;
}

/* How long from now until a route of workload wi is neither blocked nor
 * behind an open breaker (0: one is now), capped by max_retry_after; emits
 * nothing (ld_core_retry_hint moves the breakers first). */
static ld_us lift_wait(const ld_core *c, int wi, ld_us now)
{
    int routes[LD_MAX_LADDER + LD_ROLE_COUNT];
    int n = ld_policy_workload_routes(c->p, wi, routes,
                                      LD_MAX_LADDER + LD_ROLE_COUNT);
    ld_us best = -1;
    for (int i = 0; i < n && i < LD_MAX_LADDER + LD_ROLE_COUNT; i++) {
        const route_state *rs = &c->routes[routes[i]];
        ld_us until = ld_breaker_open_until(rs->breaker);
        if (rs->blocked_until > until)
            until = rs->blocked_until;
        ld_us wait = until > now ? until - now : 0;
        if (best < 0 || wait < best)
            best = wait;
    }
    if (best < 0)
        best = 0;
    return best > c->p->max_retry_after ? c->p->max_retry_after : best;
}

ld_us ld_core_retry_hint(ld_core *c, int workload, ld_us now)
{
    int routes[LD_MAX_LADDER + LD_ROLE_COUNT];
    if (workload < 0)
        workload = ld_policy_default_workload(c->p);
    int n = ld_policy_workload_routes(c->p, workload, routes,
                                      LD_MAX_LADDER + LD_ROLE_COUNT);
    for (int i = 0; i < n && i < LD_MAX_LADDER + LD_ROLE_COUNT; i++) {
        ld_breaker_transition tr;
        (void)ld_breaker_state_at(c->routes[routes[i]].breaker, now, &tr);
        emit_breaker(c, routes[i], now, &tr);
    }
    return lift_wait(c, workload, now);
}

/* The soonest time after now when a block or an open breaker of one of
 * workload wi's routes lifts; LD_NEVER when none is pending. */
static ld_us next_lift(const ld_core *c, int wi, ld_us now)
{
    int routes[LD_MAX_LADDER + LD_ROLE_COUNT];
    int n = ld_policy_workload_routes(c->p, wi, routes,
                                      LD_MAX_LADDER + LD_ROLE_COUNT);
    ld_us soonest = LD_NEVER;
    for (int i = 0; i < n && i < LD_MAX_LADDER + LD_ROLE_COUNT; i++) {
        const route_state *rs = &c->routes[routes[i]];
        ld_us lifts[2] = {ld_breaker_open_until(rs->breaker),
                          rs->blocked_until};
        for (int k = 0; k < 2; k++)
            if (lifts[k] > now && lifts[k] < soonest)
                soonest = lifts[k];
    }
    return soonest;
}

/* A request ends: a failure the ladder gave (not a key's limit, a
 * shutdown, a repeat or a failure after the answer started) is remembered
 * by its fingerprint for repeat_failure, never past the soonest lift of a
 * block or breaker of the workload's routes (a route that may serve
 * again); a success forgets its workload's failures of the routes' health
 * (ld_repeat_clear_workload). */
static void note_repeat(ld_req *r, ld_us now, ld_outcome outcome, ld_class cls,
                        bool mid_stream, ld_event *ev)
{
    ld_core *c = r->core;
    if (outcome == LD_OUT_SUCCESS) {
        ev->repeat_cleared = ld_repeat_clear_workload(c->failed, r->workload, now);
        return;
    }
    if (r->fp == 0 || c->p->repeat_failure <= 0 || r->repeat ||
        outcome != LD_OUT_FAILED || mid_stream || cls == LD_FC_KEY_LIMIT ||
        cls == LD_FC_SHUTDOWN)
        return;
    if (c->failed == NULL && (c->failed = ld_repeat_new(0)) == NULL)
        return; /* out of memory: repeats walk the ladder again */
    ld_us until = now + c->p->repeat_failure;
    ld_us lift = next_lift(c, r->workload, now);
    if (lift < until)
        until = lift;
    if (ld_repeat_put(c->failed, r->fp, r->workload, cls, until, now) == LD_OK &&
        until > now) {
        ev->repeat_fp = r->fp;
        ev->repeat_until = until;
        ev->repeat_local = r->local_fail || ld_class_is_local(cls);
    }
}

int ld_core_repeat_learn(ld_core *c, uint64_t fp, int workload, ld_class cls,
                         ld_us until, ld_us now)
{
    if (c == NULL || fp == 0 || workload < 0 ||
        workload >= ld_policy_workload_count(c->p) || cls <= LD_FC_NONE ||
        cls >= LD_FC_COUNT)
        return LD_EINVAL;
    if (c->p->repeat_failure <= 0 || cls == LD_FC_KEY_LIMIT ||
        cls == LD_FC_SHUTDOWN || ld_class_is_local(cls))
        return LD_OK;
    if (until > now + c->p->repeat_failure)
        until = now + c->p->repeat_failure;
    ld_us lift = next_lift(c, workload, now);
    if (lift < until)
        until = lift;
    if (until <= now)
        return LD_OK;
    if (c->failed == NULL && (c->failed = ld_repeat_new(0)) == NULL)
        return LD_ENOMEM;
    return ld_repeat_put(c->failed, fp, workload, cls, until, now);
}

int ld_core_repeat_forget(ld_core *c, int workload, ld_us now)
{
    if (c == NULL || workload < 0 || workload >= ld_policy_workload_count(c->p))
        return LD_EINVAL;
    return ld_repeat_clear_workload(c->failed, workload, now);
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Same route id, and the same upstream behind it. */
static bool same_upstream(const ld_route *a, const ld_route *b)
{
    return same_str(a->id, b->id) && a->provider == b->provider &&
           same_str(a->model, b->model) && same_str(a->base_url, b->base_url) &&
           same_str(a->aws_region, b->aws_region);
}

int ld_core_adopt_health(ld_core *dst, const ld_core *src, ld_us now)
{
    int kept = 0;
    if (dst == NULL || src == NULL)
        return LD_EINVAL;
    for (int i = 0; i < dst->p->nroutes; i++) {
        const ld_route *nr = &dst->p->routes[i];
        for (int j = 0; j < src->p->nroutes; j++) {
            if (!same_upstream(nr, &src->p->routes[j]))
                continue;
            route_state *d = &dst->routes[i];
            const route_state *o = &src->routes[j];
            ld_breaker_adopt(d->breaker, o->breaker);
            ld_latency_adopt(d->ttft, o->ttft);
            d->tps = o->tps;
            d->borrowed = o->in_flight + o->borrowed;
            if (o->blocked_until > now) {
                d->blocked_until = o->blocked_until;
                d->blocked_cls = o->blocked_cls;
            }
            kept++;
            break;
        }
    }
    ld_retry_budget_adopt(dst->budget, src->budget);
    return kept;
}

int ld_req_rekey(ld_req *r, ld_quota *q, int key)
{
    if (r == NULL)
        return LD_EINVAL;
    if (r->quota != NULL) {
        r->quota = key >= 0 ? q : NULL;
        r->key = key;
    }
    return LD_OK;
}

int ld_core_release_borrowed(ld_core *c, int route)
{
    if (c == NULL || route < 0 || route >= c->p->nroutes)
        return LD_EINVAL;
    if (c->routes[route].borrowed > 0)
        c->routes[route].borrowed--;
    return LD_OK;
}

int ld_core_block_route(ld_core *c, int route, ld_class cls, ld_us until,
                        ld_us now)
{
    if (route < 0 || route >= c->p->nroutes ||
        (cls != LD_FC_RATE_LIMITED && cls != LD_FC_QUOTA_EXHAUSTED))
        return LD_EINVAL;
    if (until - now > c->p->max_retry_after)
        until = now + c->p->max_retry_after;
    block_route(c, NULL, route, cls, until, now);
    return LD_OK;
}

int ld_core_trip_breaker(ld_core *c, int route, ld_us opened_at, ld_us now)
{
    if (route < 0 || route >= c->p->nroutes || opened_at > now)
        return LD_EINVAL;
    ld_breaker_transition tr;
    ld_breaker_trip(c->routes[route].breaker, opened_at, now, &tr);
    emit_breaker_move(c, route, now, &tr, true);
    return LD_OK;
}

/* ---- request pool ------------------------------------------------------- */

static ld_req *pool_get(ld_core *c)
{
    if (c->free_list == NULL) {
        if (c->nchunks == MAX_CHUNKS)
            return NULL;
        if (c->nchunks == c->chunks_cap) {
            size_t cap = c->chunks_cap ? c->chunks_cap * 2 : 16;
            ld_req **nc = realloc(c->chunks, cap * sizeof *nc);
            if (nc == NULL)
                return NULL;
            c->chunks = nc;
            c->chunks_cap = cap;
        }
        ld_req *chunk = calloc(POOL_CHUNK, sizeof *chunk);
        if (chunk == NULL)
            return NULL;
        c->chunks[c->nchunks++] = chunk;
        for (int i = POOL_CHUNK - 1; i >= 0; i--) {
            chunk[i].next_free = c->free_list;
            c->free_list = &chunk[i];
        }
    }
    ld_req *r = c->free_list;
    c->free_list = r->next_free;
    return r;
}

/* ---- actions ------------------------------------------------------------ */

static ld_do *push_do(ld_req *r, ld_do_kind kind)
{
    /* The queue cannot overflow: one decision pushes at most LD_MAX_LIVE
     * cancels, one start and one finish, and hosts drain it between
     * reports. Refuse rather than overwrite if a host does not. */
    if (r->qlen == LD_MAX_DO)
        return NULL;
    ld_do *d = &r->q[(r->qhead + r->qlen++) % LD_MAX_DO];
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->route = -1;
    d->cls = LD_FC_NONE;
    return d;
}

int ld_req_next(ld_req *r, ld_do *out)
{
    if (r->qlen == 0)
        return 0;
    *out = r->q[r->qhead];
    r->qhead = (r->qhead + 1) % LD_MAX_DO;
    r->qlen--;
    return 1;
}

/* ---- qualification ------------------------------------------------------ */

static double est_cost(const route_state *rs, int64_t in, int64_t out)
{
    return ((double)in * rs->price_in + (double)out * rs->price_out) / 1e6;
}

/* Why route `ri` cannot serve r now; LD_FC_NONE when it can, in which case
 * the breaker has admitted the call (*probe: as a half-open probe) and the
 * caller must start the attempt. Sets *retry_in for rate limits. */
static ld_class qualify(ld_req *r, int ri, ld_us now, ld_us *retry_in,
                        bool *probe)
{
    ld_core *c = r->core;
    const ld_route *rt = &c->p->routes[ri];
    route_state *rs = &c->routes[ri];
    const ld_constraints *k = r->cons;
    *retry_in = -1;
    *probe = false;

    if (!has_caps(rt, r->caps | r->w->requires))
        return LD_FC_CAPABILITY_MISSING;
    if (r->in_tok + r->out_tok > rt->context_window)
        return LD_FC_CONTEXT_LENGTH;
    if ((k->set & LD_C_REGIONS) && (rt->regions & k->regions) == 0)
        return LD_FC_REGION_RESTRICTED;
    if ((k->set & LD_C_QUALITY) && rs->quality < k->min_quality)
        return LD_FC_QUALITY_FLOOR;
    if ((k->set & LD_C_COST) &&
        est_cost(rs, r->in_tok, r->out_tok * r->n) > k->max_cost)
        return LD_FC_BUDGET_EXCEEDED;
    if (rs->blocked_until > now) {
        *retry_in = rs->blocked_until - now;
        return rs->blocked_cls;
    }
    if (rt->max_concurrency > 0 &&
        rs->in_flight + rs->borrowed >= rt->max_concurrency)
        return LD_FC_OVERLOADED;
    if (ld_latency_count(rs->ttft, now) >= (uint64_t)c->p->min_samples) {
        ld_us est = ld_latency_quantile(rs->ttft, now, c->p->latency_quantile);
        if ((k->set & LD_C_TTFT) && est >= k->ttft)
            return LD_FC_LATENCY_CEILING;
        ld_us gen = rs->tps > 0 ? (ld_us)((double)r->out_tok / rs->tps * 1e6)
                                : 0;
        if (now + est + gen > r->deadline)
            return LD_FC_LATENCY_CEILING;
    }
    ld_breaker_transition tr;
    ld_breaker_state before = ld_breaker_state_at(rs->breaker, now, &tr);
    emit_breaker(c, ri, now, &tr);
    if (!ld_breaker_acquire(rs->breaker, now, &tr)) {
        emit_breaker(c, ri, now, &tr);
        return LD_FC_CIRCUIT_OPEN;
    }
    emit_breaker(c, ri, now, &tr);
    *probe = before == LD_BREAKER_HALF_OPEN;
    return LD_FC_NONE;
}

/* ---- attempts ----------------------------------------------------------- */

static int unvisited_candidates(const ld_req *r)
{
    int n = 0;
    for (int i = 0; i < r->w->ncand; i++)
        n += !(r->visited >> r->w->cand[i] & 1);
    return n;
}

static void schedule_hedge(ld_req *r, const attempt *a, ld_us now)
{
    const ld_hedge *h = &r->w->hedge;
    if (h->max_extra <= r->hedges || r->hedge_at != LD_NEVER)
        return;
    ld_us delay = h->after;
    if (h->quantile > 0) {
        ld_latency *l = r->core->routes[a->route].ttft;
        if (ld_latency_count(l, now) >= (uint64_t)r->core->p->min_samples)
            delay = ld_latency_quantile(l, now, h->quantile);
    }
    if (delay <= 0 || now + delay >= a->ttft_deadline)
        return;
    r->hedge_at = now + delay;
}

static void start_attempt(ld_req *r, int ri, ld_us now, bool hedge, bool probe)
{
    ld_core *c = r->core;
    const ld_route *rt = &c->p->routes[ri];
    const ld_constraints *k = r->cons;
    int slot = 0;
    while (slot < LD_MAX_LIVE && r->att[slot].state != ATT_FREE)
        slot++;
    /* hedges are capped at LD_MAX_LIVE - 1, so a slot is always free */
    attempt *a = &r->att[slot];
    r->visited |= UINT64_C(1) << ri;
    ld_us remaining = r->deadline - now;
    ld_us ttft = rt->ttft_timeout;
    if (ttft == 0)
        ttft = (k->set & LD_C_TTFT) ? k->ttft
                                    : remaining / (unvisited_candidates(r) + 1);
    if (ttft > remaining)
        ttft = remaining;
    ld_us stall = rt->stall_timeout;
    if (stall == 0)
        stall = (k->set & LD_C_STALL) ? k->stall : c->p->default_stall;

    a->state = ATT_LIVE;
    a->no = ++r->attempts;
    a->route = ri;
    a->hedge = hedge;
    a->probe = probe;
    a->committed = false;
    a->resume = r->cut_cls != LD_FC_NONE;
    a->started = now;
    a->ttft_deadline = now + ttft;
    a->stall = stall;
    a->last_progress = now;
    a->first_token = -1;
    r->live++;
    c->routes[ri].in_flight++;
    if (r->retry_route != ri) {
        r->retry_route = ri;
        r->retries = 0;
    }

    ld_event ev;
    if (!hedge && r->last_from >= 0 && r->last_from != ri) {
        r->fallbacks++;
        ev_init(&ev, LD_EV_FALLBACK, r, now);
        ev.route = r->last_from;
        ev.to_route = ri;
        ev.cls = r->last_cls;
        ev.attempt = a->no;
        ev.resume = a->resume;
        emit(c, &ev);
    }
    ev_init(&ev, LD_EV_ATTEMPT, r, now);
    ev.route = ri;
    ev.attempt = a->no;
    ev.hedge = hedge;
    ev.resume = a->resume;
    ev.delay = ttft;
    emit(c, &ev);

    ld_do *d = push_do(r, LD_DO_START);
    if (d != NULL) {
        d->attempt = a->no;
        d->route = ri;
        d->hedge = hedge;
        d->resume = a->resume;
        d->ttft_deadline = a->ttft_deadline;
        d->deadline = r->deadline;
        d->stall = stall;
    }
    r->last_from = ri;
    r->last_cls = LD_FC_NONE;
    if (!hedge && r->live == 1)
        schedule_hedge(r, a, now);
}

/* Forget attempt att[i]: no verdict for the route's health. */
static void drop_attempt(ld_req *r, int i)
{
    attempt *a = &r->att[i];
    route_state *rs = &r->core->routes[a->route];
    rs->in_flight--;
    if (a->probe)
        ld_breaker_release(rs->breaker);
    a->state = ATT_FREE;
    r->live--;
}

/* Tell the sink and the host to stop att[i] (its state is the caller's). */
static void announce_cancel(ld_req *r, int i, ld_us now, ld_cancel_reason why)
{
    const attempt *a = &r->att[i];
    ld_event ev;
    ev_init(&ev, LD_EV_CANCEL, r, now);
    ev.route = a->route;
    ev.attempt = a->no;
    ev.reason = why;
    ev.hedge = a->hedge;
    emit(r->core, &ev);
    ld_do *d = push_do(r, LD_DO_CANCEL);
    if (d != NULL) {
        d->attempt = a->no;
        d->route = a->route;
    }
}

static void cancel_attempt(ld_req *r, int i, ld_us now, ld_cancel_reason why)
{
    announce_cancel(r, i, now, why);
    drop_attempt(r, i);
}

static void finish(ld_req *r, ld_us now, ld_outcome outcome, ld_class cls,
                   bool mid_stream)
{
    /* once the user holds part of an answer, any end but success is
     * mid-stream; if no continuation could go on with it, the failure to
     * report is the one that cut it */
    if (outcome != LD_OUT_SUCCESS && r->ttft >= 0)
        mid_stream = true;
    if (outcome == LD_OUT_FAILED && r->cut_cls != LD_FC_NONE &&
        cls != LD_FC_SHUTDOWN)
        cls = r->cut_cls;
    for (int i = 0; i < LD_MAX_LIVE; i++)
        if (r->att[i].state == ATT_LIVE)
            cancel_attempt(r, i, now,
                           outcome == LD_OUT_ABANDONED ? LD_CANCEL_ABANDONED
                           : cls == LD_FC_SHUTDOWN     ? LD_CANCEL_SHUTDOWN
                           : outcome == LD_OUT_SUCCESS ? LD_CANCEL_HEDGE_LOST
                                                        : LD_CANCEL_DEADLINE);

    r->outcome = outcome;
    r->latency = now - r->arrived;
    if (r->quota != NULL) {
        (void)ld_quota_settle(r->quota, r->key, r->wall, r->q_tok, r->q_usd,
                              r->in_tok + r->used_out, r->cost);
        r->quota = NULL;
    }
    bool keyed_out = cls == LD_FC_KEY_LIMIT && outcome == LD_OUT_FAILED;
    bool shut = cls == LD_FC_SHUTDOWN && outcome == LD_OUT_FAILED;
    int fail_status = keyed_out ? 429
                      : shut    ? LD_SHUTDOWN_STATUS
                                : r->w->fail_status;
    int client = outcome == LD_OUT_SUCCESS || (outcome == LD_OUT_FAILED &&
                                               mid_stream)
                     ? 200
                 : outcome == LD_OUT_ABANDONED ? 499
                                               : fail_status;
    r->wait_until = LD_NEVER;
    r->hedge_at = LD_NEVER;
    /* a request that failed before any attempt or skip (a key's limit):
     * its first failure is the one it ended with */
    if (outcome == LD_OUT_FAILED && r->first_cls == LD_FC_NONE)
        r->first_cls = cls;
    ld_event ev;
    ev_init(&ev, LD_EV_DONE, r, now);
    note_repeat(r, now, outcome, cls, mid_stream, &ev);
    ld_do *d = push_do(r, LD_DO_FINISH);
    if (d != NULL) {
        d->outcome = outcome;
        d->route = r->served_route;
        d->mid_stream = mid_stream;
        d->cls = outcome == LD_OUT_SUCCESS ? r->first_cls : cls;
        d->status = outcome == LD_OUT_SUCCESS ? 200 : fail_status;
        d->client_status = client;
        d->message = outcome == LD_OUT_SUCCESS ? NULL
                     : shut                    ? LD_SHUTDOWN_MESSAGE
                                               : r->w->fail_message;
        d->key_limit = r->key_limit;
        d->retry_after = r->key_retry;
        d->repeat = r->repeat;
    }
    ev.route = r->served_route;
    ev.cls = outcome == LD_OUT_SUCCESS ? r->first_cls : cls;
    ev.status = client;
    ev.ttft = r->ttft;
    ev.outcome = outcome;
    ev.attempts = (int)r->attempts;
    ev.cost = r->cost;
    ev.hedge = r->hedges > 0;
    ev.repeat = r->repeat;
    emit(r->core, &ev);
}

/* ---- decisions ---------------------------------------------------------- */

/* Whether route t can serve where route `from` refused for the region: a
 * route of another upstream (a region refusal is the provider's, so the
 * same upstream refuses again), or, without upstreams, one that offers a
 * region `from` does not. The tier's allowed regions are checked later, by
 * qualification. */
static bool other_region(const ld_route *from, const ld_route *t)
{
    if (from->upstream != NULL && t->upstream != NULL)
        return strcmp(from->upstream, t->upstream) != 0;
    return from->regions == 0 || (t->regions & ~from->regions) != 0;
}

/* Whether candidate t may be where an action of `kind` from `from` leads
 * (unvisited; a larger context window; another region). */
static bool action_allows(const ld_req *r, ld_action_kind kind, int from,
                          int t)
{
    const ld_policy *p = r->core->p;
    if (r->visited >> t & 1)
        return false;
    if (kind == LD_ACT_NEXT_LARGER_CONTEXT && from >= 0 &&
        p->routes[t].context_window <= p->routes[from].context_window)
        return false;
    if (kind == LD_ACT_NEXT_IN_REGION && from >= 0 &&
        !other_region(&p->routes[from], &p->routes[t]))
        return false;
    return true;
}

/* One of the n ladder positions pos[] (members of one rung, all open to
 * the action), by the rung's strategy. Least in flight and lowest latency
 * keep the best members and break ties by weight; a weighted choice draws
 * one uniform number from the request's RNG (none: the first member), and
 * only when there is a choice to make. */
static int pick_member(const ld_req *r, ld_strategy strat, const int *pos,
                       int n, const ld_rng *rng)
{
    const ld_workload *w = r->w;
    const route_state *rs = r->core->routes;
    int keep[LD_MAX_LADDER], nk = 0;
    for (int k = 0; k < n; k++) {
        const route_state *m = &rs[w->ladder[pos[k]]];
        bool better = false, same = nk == 0;
        if (nk > 0) {
            const route_state *b = &rs[w->ladder[keep[0]]];
            if (strat == LD_STRAT_LEAST_IN_FLIGHT) {
                better = m->in_flight + m->borrowed < b->in_flight + b->borrowed;
                same = m->in_flight + m->borrowed == b->in_flight + b->borrowed;
            } else if (strat == LD_STRAT_LOWEST_LATENCY) {
                better = m->ttft_avg < b->ttft_avg;
                same = m->ttft_avg == b->ttft_avg;
            } else {
                same = true;
            }
        }
        if (better)
            nk = 0;
        if (better || same)
            keep[nk++] = pos[k];
    }
    if (nk == 1)
        return w->ladder[keep[0]];
    double total = 0;
    for (int k = 0; k < nk; k++)
        total += w->weight[keep[k]];
    double u = rng != NULL && rng->uniform != NULL ? rng->uniform(rng->ctx) : 0;
    double x = u * total, acc = 0;
    for (int k = 0; k < nk - 1; k++) {
        acc += w->weight[keep[k]];
        if (x < acc)
            return w->ladder[keep[k]];
    }
    return w->ladder[keep[nk - 1]];
}

/* The route an action leads to from `from`, or -1 when there is none. The
 * target is not yet qualified. The first candidate open to the action
 * decides the rung; in a rung of several routes, the strategy chooses
 * among those of its members open to the action, so that a rung's other
 * routes come before the next rung. A request pinned to its route alone
 * goes nowhere else. */
static int pick_target(const ld_req *r, ld_action_kind kind, ld_role role,
                       int from, const ld_rng *rng)
{
    const ld_workload *w = r->w;
    if (r->pin_only)
        return -1;
    if (kind == LD_ACT_ROLE) {
        int t = w->roles[role];
        if (t >= 0 && !(r->visited >> t & 1))
            return t;
        kind = LD_ACT_NEXT; /* the role was used up: next acceptable */
    }
    for (int i = 0; i < w->ncand; i++) {
        int t = w->cand[i];
        if (!action_allows(r, kind, from, t))
            continue;
        if (i >= w->nladder || w->rungs[w->rung_of[i]].n == 1)
            return t;
        const ld_rung *g = &w->rungs[w->rung_of[i]];
        int pos[LD_MAX_LADDER], n = 0;
        for (int j = i; j < g->first + g->n; j++)
            if (action_allows(r, kind, from, w->ladder[j]))
                pos[n++] = j;
        return pick_member(r, g->strategy, pos, n, rng);
    }
    return -1;
}

/* Schedule a retry of `from` if the rule, the retry budget and the deadline
 * allow it. */
static bool try_retry(ld_req *r, const ld_rule *rule, int from, ld_class cls,
                      ld_us retry_after, ld_us now, const ld_rng *rng)
{
    ld_core *c = r->core;
    if (from < 0)
        return false;
    if (from != r->retry_route) {
        r->retry_route = from;
        r->retries = 0;
    }
    if (r->retries >= rule->max)
        return false;
    if (r->caps & ~c->p->routes[from].caps)
        return false; /* a continuation, and this route takes no prefill */
    ld_us delay;
    if (rule->kind == LD_ACT_RETRY) {
        ld_us base = rule->backoff;
        for (int i = 0; i < r->retries && base < rule->max_backoff; i++)
            base *= 2;
        if (base > rule->max_backoff)
            base = rule->max_backoff;
        double u = rng != NULL && rng->uniform != NULL ? rng->uniform(rng->ctx)
                                                       : 0.5;
        delay = base / 2 + (ld_us)(u * (double)(base / 2));
        if (retry_after > delay)
            delay = retry_after; /* never sooner than the provider asked */
    } else {
        if (retry_after < 0 || retry_after > rule->max_wait)
            return false;
        delay = retry_after;
    }
    if (now + delay >= r->deadline)
        return false;
    if (!ld_retry_budget_try_spend(c->budget, now))
        return false;
    r->retries++;
    r->wait_until = now + delay;
    r->wait_route = from;
    ld_event ev;
    ev_init(&ev, LD_EV_RETRY, r, now);
    ev.route = from;
    ev.cls = cls;
    ev.delay = delay;
    ev.attempt = r->attempts + 1;
    emit(c, &ev);
    return true;
}

static void skip_route(ld_req *r, int ri, ld_class why, ld_us now)
{
    r->visited |= UINT64_C(1) << ri;
    ld_event ev;
    ev_init(&ev, LD_EV_SKIP, r, now);
    ev.route = ri;
    ev.cls = why;
    emit(r->core, &ev);
}

/* Apply the policy after route `from` failed or was skipped for `cls`
 * (from -1 and cls NONE: the request's first decision). Ends with an
 * attempt started, a retry scheduled, or the request finished. */
static void decide(ld_req *r, int from, ld_class cls, ld_us retry_after,
                   ld_us now, const ld_rng *rng)
{
    for (;;) {
        if (cls != LD_FC_NONE) {
            if (r->first_cls == LD_FC_NONE)
                r->first_cls = cls;
            if (ld_class_is_local(cls))
                r->local_fail = true;
            r->last_from = from;
            r->last_cls = cls;
        }
        if (now >= r->deadline) {
            finish(r, now, LD_OUT_FAILED,
                   cls == LD_FC_NONE ? LD_FC_TIMEOUT_TOTAL : cls, false);
            return;
        }
        ld_action_kind kind = LD_ACT_NEXT;
        ld_role role = LD_ROLE_LOW_LATENCY;
        if (cls != LD_FC_NONE) {
            const ld_rule *rule = &r->w->rules[cls];
            kind = rule->kind;
            role = rule->role;
            if (kind == LD_ACT_RETRY || kind == LD_ACT_WAIT_RETRY_AFTER) {
                if (try_retry(r, rule, from, cls, retry_after, now, rng))
                    return;
                kind = rule->else_kind;
                role = rule->else_role;
            }
        }
        int target = kind == LD_ACT_FAIL ? -1
                     : from < 0 && r->pin >= 0 && !(r->visited >> r->pin & 1)
                         ? r->pin
                         : pick_target(r, kind, role, from, rng);
        if (target < 0) {
            finish(r, now, LD_OUT_FAILED, cls, false);
            return;
        }
        ld_us ra;
        bool probe;
        ld_class why = qualify(r, target, now, &ra, &probe);
        if (why == LD_FC_NONE) {
            start_attempt(r, target, now, false, probe);
            return;
        }
        skip_route(r, target, why, now);
        from = target;
        cls = why;
        retry_after = ra;
    }
}

/* Take the request against its key's limits: its tokens (prompt and
 * expected answer) and its cost on the workload's first route. Over a
 * limit, r->key_limit says which and nothing is taken. */
static int take_quota(ld_req *r, const ld_req_key *spec)
{
    const ld_workload *w = r->w;
    ld_us reopen = 0;
    r->q_tok = r->in_tok + r->out_tok * r->n;
    r->q_usd = w->ncand > 0 ? est_cost(&r->core->routes[w->cand[0]], r->in_tok,
                                       r->out_tok * r->n)
                            : 0;
    int lim = ld_quota_take(spec->quota, spec->key, spec->wall, r->q_tok,
                            r->q_usd, &reopen);
    if (lim < 0)
        return lim;
    r->key = spec->key;
    r->wall = spec->wall;
    if (lim != LD_QUOTA_OK) {
        r->key_limit = lim;
        r->key_retry = reopen > spec->wall ? reopen - spec->wall : 0;
    } else {
        r->quota = spec->quota;
    }
    return LD_OK;
}

int ld_req_start(ld_core *c, const ld_req_spec *spec, ld_us now,
                 const ld_rng *rng, ld_req **out)
{
    return ld_req_start_keyed(c, spec, NULL, now, rng, out);
}

int ld_req_start_keyed(ld_core *c, const ld_req_spec *spec,
                       const ld_req_key *key, ld_us now, const ld_rng *rng,
                       ld_req **out)
{
    return ld_req_start_waited(c, spec, key, now, now, rng, out);
}

int ld_req_start_waited(ld_core *c, const ld_req_spec *spec,
                        const ld_req_key *key, ld_us arrived, ld_us now,
                        const ld_rng *rng, ld_req **out)
{
    const ld_policy *p = c->p;
    *out = NULL;
    int wi = spec->workload < 0 ? p->default_workload : spec->workload;
    if (wi >= p->nworkloads)
        return LD_EINVAL;
    const ld_workload *w = &p->workloads[wi];
    int ti = spec->tier;
    if (ti < 0)
        ti = w->default_tier >= 0 ? w->default_tier : p->default_tier;
    if (ti >= p->ntiers || spec->input_tokens < 0)
        return LD_EINVAL;
    ld_req *r = pool_get(c);
    if (r == NULL)
        return LD_ENOMEM;
    /* all but the queue of actions, of which only what is pushed is read
     * (push_do clears each), and which is most of the struct */
    memset(r, 0, offsetof(ld_req, q));
    r->qhead = r->qlen = 0;
    r->core = c;
    r->w = w;
    r->workload = wi;
    r->tier = ti;
    r->cons = ld_policy_eff(p, wi, ti);
    r->id = spec->id != 0 ? spec->id : c->next_id++;
    r->in_tok = spec->input_tokens;
    /* an embedding answers with no output tokens: none are expected */
    r->out_tok = w->embedding ? 0
                 : spec->output_tokens > 0 ? spec->output_tokens
                                           : p->default_output_tokens;
    r->caps = spec->caps;
    r->n = spec->n > 1 ? spec->n : 1;
    r->fp = spec->fingerprint;
    r->pin = -1;
    if (spec->pinned) {
        bool found = false;
        for (int i = 0; i < w->ncand; i++)
            found |= w->cand[i] == spec->pin_route;
        if (!found) {
            ld_req_free(r);
            return LD_EINVAL;
        }
        r->pin = spec->pin_route;
        r->pin_only = !spec->pin_fallback;
    }
    r->arrived = arrived <= now ? arrived : now;
    r->deadline = r->arrived + ((r->cons->set & LD_C_TOTAL)
                                    ? r->cons->total
                                    : DEFAULT_DEADLINE);
    r->committed = -1;
    r->retry_route = -1;
    r->wait_until = LD_NEVER;
    r->wait_route = -1;
    r->hedge_at = LD_NEVER;
    r->last_from = -1;
    r->last_cls = LD_FC_NONE;
    r->first_cls = LD_FC_NONE;
    r->local_fail = false;
    r->cut_cls = LD_FC_NONE;
    r->outcome = LD_OUT_PENDING;
    r->served_route = -1;
    r->ttft = -1;
    r->latency = -1;
    /* a repeat of a request that just failed is answered without an
     * attempt; it does not add to the retry budget either */
    ld_class was = LD_FC_NONE;
    bool repeat = r->fp != 0 && p->repeat_failure > 0 &&
                  ld_repeat_find(c->failed, r->fp, now, &was) == 1;
    if (!repeat)
        ld_retry_budget_on_request(c->budget, now);

    if (c->sink != NULL) {
        ld_event ev;
        ev_init(&ev, LD_EV_REQUEST, r, now);
        ev.input_tokens = r->in_tok;
        ev.output_tokens = r->out_tok;
        emit(c, &ev);
    }
    if (key != NULL && key->quota != NULL && take_quota(r, key) != LD_OK) {
        ld_req_free(r);
        return LD_EINVAL;
    }
    if (r->key_limit != LD_QUOTA_OK) {
        finish(r, now, LD_OUT_FAILED, LD_FC_KEY_LIMIT, false);
    } else if (repeat) {
        r->repeat = true;
        r->first_cls = was;
        finish(r, now, LD_OUT_FAILED, was, false);
    } else {
        decide(r, -1, LD_FC_NONE, -1, now, rng);
    }
    *out = r;
    return LD_OK;
}

/* ---- reports ------------------------------------------------------------ */

static int find_attempt(const ld_req *r, uint32_t no)
{
    if (r->outcome != LD_OUT_PENDING)
        return -1;
    for (int i = 0; i < LD_MAX_LIVE; i++)
        if (r->att[i].state == ATT_LIVE && r->att[i].no == no)
            return i;
    return -1;
}

/* att[i] has its first token: it wins, the others are cancelled. */
static void commit(ld_req *r, int i, ld_us now)
{
    attempt *a = &r->att[i];
    a->committed = true;
    r->committed = i;
    r->served_route = a->route;
    if (r->ttft < 0)
        r->ttft = now - r->arrived; /* a continuation keeps the first */
    r->cut_cls = LD_FC_NONE;        /* ...and is a stream like any other */
    r->hedge_at = LD_NEVER;
    for (int j = 0; j < LD_MAX_LIVE; j++)
        if (j != i && r->att[j].state == ATT_LIVE)
            cancel_attempt(r, j, now, LD_CANCEL_HEDGE_LOST);
}

int ld_req_first_token(ld_req *r, uint32_t no, ld_us now)
{
    int i = find_attempt(r, no);
    if (i < 0)
        return LD_ESTATE;
    attempt *a = &r->att[i];
    a->last_progress = now;
    if (a->first_token >= 0)
        return LD_OK;
    a->first_token = now;
    note_ttft(&r->core->routes[a->route], now, now - a->started);
    if (r->committed < 0)
        commit(r, i, now);
    else
        cancel_attempt(r, i, now, LD_CANCEL_HEDGE_LOST);
    return LD_OK;
}

int ld_req_progress(ld_req *r, uint32_t no, ld_us now)
{
    int i = find_attempt(r, no);
    if (i < 0)
        return LD_ESTATE;
    r->att[i].last_progress = now;
    return LD_OK;
}

/* Whether a stream that failed with cls after reaching the user may be
 * continued elsewhere: technical faults only (a content block or a
 * provider's refusal must not be routed around), within the workload's
 * allowance. */
static bool may_continue(const ld_req *r, ld_class cls)
{
    if (r->continues >= r->w->continue_max)
        return false;
    switch (cls) {
    case LD_FC_RESET:
    case LD_FC_STREAM_STALL:
    case LD_FC_STREAM_CUT:
    case LD_FC_INVALID_RESPONSE:
    case LD_FC_OVERLOADED:
    case LD_FC_SERVER_ERROR:
        return true;
    default:
        return false;
    }
}

/* Attempt att[i] ended with class cls (NONE: success). */
static void attempt_ended(ld_req *r, int i, ld_class cls, int status,
                          ld_us retry_after, int64_t out_tokens, ld_us now,
                          const ld_rng *rng)
{
    ld_core *c = r->core;
    attempt *a = &r->att[i];
    int route = a->route;
    route_state *rs = &c->routes[route];
    ld_us duration = now - a->started;
    ld_breaker_transition tr = {false, LD_BREAKER_CLOSED, LD_BREAKER_CLOSED};
    ld_event ev;
    ev_init(&ev, LD_EV_RESULT, r, now);
    ev.route = route;
    ev.attempt = a->no;
    ev.cls = cls;
    ev.status = status;
    ev.hedge = a->hedge;
    ev.delay = duration;
    ev.ttft = a->first_token >= 0 ? a->first_token - a->started : -1;

    if (cls == LD_FC_NONE) {
        if (a->first_token < 0) {
            /* a whole answer at once: its arrival is its first token */
            a->first_token = now;
            ev.ttft = duration;
            note_ttft(rs, now, duration);
        }
        if (r->committed < 0)
            commit(r, i, now);
        int64_t used = out_tokens > 0 ? out_tokens : r->out_tok * r->n;
        if (out_tokens > 0 && now > a->first_token) {
            double tps = (double)out_tokens * 1e6 / (double)(now - a->first_token);
            rs->tps = rs->tps > 0 ? 0.9 * rs->tps + 0.1 * tps : tps;
        }
        double cost = est_cost(rs, r->in_tok, used);
        r->cost += cost;
        r->used_out += used;
        ev.cost = cost;
        ev.output_tokens = used;
        a->probe = false; /* the verdict below settles the probe */
        ld_breaker_record(rs->breaker, now, false, duration, &tr);
        emit_breaker(c, route, now, &tr);
        emit(c, &ev);
        rs->in_flight--;
        a->state = ATT_FREE;
        r->live--;
        finish(r, now, LD_OUT_SUCCESS, LD_FC_NONE, false);
        return;
    }

    if (ld_class_is_local(cls))
        r->local_fail = true;
    if (cls == LD_FC_TIMEOUT_TTFT)
        note_ttft(rs, now, duration);
    ld_us block = 0;
    if (cls == LD_FC_RATE_LIMITED || cls == LD_FC_QUOTA_EXHAUSTED) {
        block = retry_after >= 0 ? retry_after : c->p->rate_limit_default;
        if (cls == LD_FC_QUOTA_EXHAUSTED && block < c->p->quota_block)
            block = c->p->quota_block;
        if (retry_after < 0 && cls == LD_FC_RATE_LIMITED)
            retry_after = block;
    } else {
        /* health verdict: the route's fault, or the route answered fine */
        a->probe = false;
        ld_breaker_record(rs->breaker, now, ld_class_counts_for_breaker(cls),
                          duration, &tr);
        emit_breaker(c, route, now, &tr);
    }
    emit(c, &ev);
    if (block > 0)
        block_route(c, r, route, cls, now + block, now);
    bool mid_stream = a->committed;
    drop_attempt(r, i);
    if (mid_stream) {
        if (r->first_cls == LD_FC_NONE)
            r->first_cls = cls;
        if (!may_continue(r, cls)) {
            finish(r, now, LD_OUT_FAILED, cls, true);
            return;
        }
        /* walk the rules on, among routes that take a prefill */
        r->continues++;
        r->cut_cls = cls;
        r->committed = -1;
        r->caps |= LD_CAP_PREFILL;
        r->hedge_at = LD_NEVER;
        decide(r, route, cls, -1, now, rng);
        return;
    }
    if (r->live > 0)
        return; /* another attempt is still running: it may yet answer */
    r->hedge_at = LD_NEVER;
    decide(r, route, cls, retry_after, now, rng);
}

int ld_req_end(ld_req *r, uint32_t no, ld_us now, const ld_raw_result *res,
               const ld_rng *rng)
{
    int i = find_attempt(r, no);
    if (i < 0)
        return LD_ESTATE;
    ld_class cls = ld_classify(res);
    ld_us ra = res->retry_after;
    if (ra > r->core->p->max_retry_after)
        ra = r->core->p->max_retry_after; /* one cap, in every host */
    attempt_ended(r, i, cls, res->http_status, ra, res->completion_tokens,
                  now, rng);
    return LD_OK;
}

static void fire_hedge(ld_req *r, ld_us now)
{
    ld_core *c = r->core;
    int primary = -1;
    for (int i = 0; i < LD_MAX_LIVE; i++)
        if (r->att[i].state == ATT_LIVE && !r->att[i].hedge)
            primary = i;
    if (primary < 0 || r->att[primary].first_token >= 0 ||
        r->live >= LD_MAX_LIVE || r->pin_only)
        return;
    const ld_workload *w = r->w;
    for (int k = 0; k < w->ncand; k++) {
        int t = w->cand[k];
        if (r->visited >> t & 1)
            continue;
        ld_us ra;
        bool probe;
        if (qualify(r, t, now, &ra, &probe) != LD_FC_NONE)
            continue;
        if (!ld_retry_budget_try_spend(c->budget, now)) {
            if (probe)
                ld_breaker_release(c->routes[t].breaker);
            return;
        }
        r->hedges++;
        ld_event ev;
        ev_init(&ev, LD_EV_HEDGE, r, now);
        ev.route = r->att[primary].route;
        ev.to_route = t;
        ev.attempt = r->attempts + 1;
        emit(c, &ev);
        start_attempt(r, t, now, true, probe);
        if (r->hedges < w->hedge.max_extra)
            schedule_hedge(r, &r->att[primary], now);
        return;
    }
}

int ld_req_tick(ld_req *r, ld_us now, const ld_rng *rng)
{
    if (r->outcome != LD_OUT_PENDING)
        return LD_ESTATE;
    if (now >= r->deadline) {
        bool mid = r->committed >= 0;
        ld_class cls = LD_FC_TIMEOUT_TOTAL;
        for (int i = 0; i < LD_MAX_LIVE; i++) {
            if (r->att[i].state != ATT_LIVE)
                continue;
            route_state *rs = &r->core->routes[r->att[i].route];
            ld_breaker_transition tr;
            r->att[i].probe = false;
            ld_breaker_record(rs->breaker, now, true, now - r->att[i].started,
                              &tr);
            emit_breaker(r->core, r->att[i].route, now, &tr);
        }
        if (r->first_cls == LD_FC_NONE)
            r->first_cls = cls;
        finish(r, now, LD_OUT_FAILED, cls, mid);
        return LD_OK;
    }
    /* attempts past their deadlines, in attempt order */
    for (int pass = 0; pass < LD_MAX_LIVE && r->outcome == LD_OUT_PENDING; pass++) {
        int due = -1;
        ld_class cls = LD_FC_NONE;
        for (int i = 0; i < LD_MAX_LIVE; i++) {
            attempt *a = &r->att[i];
            if (a->state != ATT_LIVE)
                continue;
            ld_class c2 = LD_FC_NONE;
            if (a->first_token < 0 && now >= a->ttft_deadline)
                c2 = LD_FC_TIMEOUT_TTFT;
            else if (a->first_token >= 0 && now >= a->last_progress + a->stall)
                c2 = LD_FC_STREAM_STALL;
            if (c2 != LD_FC_NONE && (due < 0 || a->no < r->att[due].no)) {
                due = i;
                cls = c2;
            }
        }
        if (due < 0)
            break;
        /* the timeout is the attempt's failure: stop it, then judge it */
        announce_cancel(r, due, now, LD_CANCEL_TIMEOUT);
        attempt_ended(r, due, cls, 0, -1, 0, now, rng);
    }
    if (r->outcome != LD_OUT_PENDING)
        return LD_OK;
    if (r->hedge_at <= now) {
        r->hedge_at = LD_NEVER;
        fire_hedge(r, now);
    }
    if (r->wait_until <= now && r->live == 0) {
        int t = r->wait_route;
        r->wait_until = LD_NEVER;
        ld_us ra;
        bool probe;
        ld_class why = qualify(r, t, now, &ra, &probe);
        if (why == LD_FC_NONE) {
            start_attempt(r, t, now, false, probe);
        } else {
            skip_route(r, t, why, now);
            decide(r, t, why, ra, now, rng);
        }
    }
    return LD_OK;
}

int ld_req_abandon(ld_req *r, ld_us now)
{
    if (r->outcome != LD_OUT_PENDING)
        return LD_ESTATE;
    finish(r, now, LD_OUT_ABANDONED, LD_FC_NONE, r->committed >= 0);
    return LD_OK;
}

int ld_req_shutdown(ld_req *r, ld_us now)
{
    if (r->outcome != LD_OUT_PENDING)
        return LD_ESTATE;
    if (r->first_cls == LD_FC_NONE)
        r->first_cls = LD_FC_SHUTDOWN; /* the trace's first failure */
    finish(r, now, LD_OUT_FAILED, LD_FC_SHUTDOWN, r->committed >= 0);
    return LD_OK;
}

ld_us ld_req_wake_at(const ld_req *r)
{
    if (r->outcome != LD_OUT_PENDING)
        return LD_NEVER;
    ld_us t = LD_NEVER;
    if (r->wait_until < t)
        t = r->wait_until;
    if (r->hedge_at < t)
        t = r->hedge_at;
    for (int i = 0; i < LD_MAX_LIVE; i++) {
        const attempt *a = &r->att[i];
        if (a->state != ATT_LIVE)
            continue;
        ld_us due = a->first_token < 0 ? a->ttft_deadline
                                       : a->last_progress + a->stall;
        if (due < t)
            t = due;
    }
    if ((r->live > 0 || r->wait_until != LD_NEVER) && r->deadline < t)
        t = r->deadline;
    return t;
}

void ld_req_info_get(const ld_req *r, ld_req_info *out)
{
    out->id = r->id;
    out->workload = r->workload;
    out->tier = r->tier;
    out->outcome = r->outcome;
    out->route = r->served_route;
    out->attempts = (int)r->attempts;
    out->hedges = r->hedges;
    out->fell_back = r->fallbacks > 0;
    out->first_cls = r->first_cls;
    out->arrived = r->arrived;
    out->ttft = r->ttft;
    out->latency = r->latency;
    out->cost = r->cost;
    out->limit_ttft = (r->cons->set & LD_C_TTFT) ? r->cons->ttft : 0;
    out->limit_total = (r->cons->set & LD_C_TOTAL) ? r->cons->total : 0;
    out->key_limit = r->key_limit;
    out->retry_after = r->key_retry;
    out->repeat = r->repeat;
}

void ld_req_free(ld_req *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < LD_MAX_LIVE; i++)
        if (r->att[i].state == ATT_LIVE)
            drop_attempt(r, i);
    ld_core *c = r->core;
    r->next_free = c->free_list;
    c->free_list = r;
}

/* ---- explain ------------------------------------------------------------ */

static void explain_sink(void *ud, const ld_event *ev)
{
    ld_explain *x = ud;
    if (ev->type != LD_EV_SKIP && ev->type != LD_EV_RETRY &&
        ev->type != LD_EV_FALLBACK && ev->type != LD_EV_DONE)
        return;
    if (x->nsteps < LD_EXPLAIN_MAX)
        x->steps[x->nsteps++] = *ev;
}

int ld_explain_class(const ld_policy *p, int workload, int tier, ld_class cls,
                     int64_t input_tokens, int64_t output_tokens,
                     ld_explain *out)
{
    if (workload < 0 || workload >= p->nworkloads || tier < 0 ||
        tier >= p->ntiers || cls < LD_FC_NONE || cls >= LD_FC_COUNT)
        return LD_EINVAL;
    memset(out, 0, sizeof *out);
    out->primary = -1;
    out->final_route = -1;
    ld_core *c = ld_core_new(p);
    if (c == NULL)
        return LD_ENOMEM;
    ld_req_spec spec = {.workload = workload, .tier = tier,
                        .input_tokens = input_tokens,
                        .output_tokens = output_tokens, .id = 1};
    ld_req *r = NULL;
    ld_do d;
    ld_us now = 0;
    if (cls == LD_FC_NONE)
        ld_core_set_sink(c, explain_sink, out);
    int rc = ld_req_start(c, &spec, now, NULL, &r);
    if (rc < 0)
        goto done;
    uint32_t att = 0;
    while (ld_req_next(r, &d) == 1) {
        if (d.kind == LD_DO_START) {
            out->primary = d.route;
            out->primary_cost = est_cost(&c->routes[d.route], r->in_tok,
                                         r->out_tok * r->n);
            att = d.attempt;
        }
    }
    if (cls == LD_FC_NONE || att == 0) {
        out->final_route = out->primary;
        goto done;
    }
    const ld_rule *rule = &r->w->rules[cls];
    out->designed = rule->set != 0;
    ld_core_set_sink(c, explain_sink, out);
    /* fail the attempt on the primary with cls, and again on every retry,
     * until the request moves on or ends */
    for (int guard = 0; guard < 16 && r->outcome == LD_OUT_PENDING; guard++) {
        int i = find_attempt(r, att);
        if (i < 0)
            break;
        int from = r->att[i].route;
        ld_us ra = (cls == LD_FC_RATE_LIMITED) ? ld_s(1) : -1;
        attempt_ended(r, i, cls, 0, ra, 0, now, NULL);
        att = 0;
        while (ld_req_next(r, &d) == 1)
            if (d.kind == LD_DO_START)
                att = d.attempt;
        if (att == 0 && r->outcome == LD_OUT_PENDING) {
            now = ld_req_wake_at(r);
            if (now == LD_NEVER)
                break;
            ld_req_tick(r, now, NULL);
            while (ld_req_next(r, &d) == 1)
                if (d.kind == LD_DO_START)
                    att = d.attempt;
        }
        i = find_attempt(r, att);
        if (i >= 0 && r->att[i].route != from) {
            out->final_route = r->att[i].route;
            break;
        }
    }
    out->dead_end = out->final_route < 0 && rule->kind != LD_ACT_FAIL &&
                    !(rule->else_kind == LD_ACT_FAIL &&
                      (rule->kind == LD_ACT_RETRY ||
                       rule->kind == LD_ACT_WAIT_RETRY_AFTER));
    if (out->dead_end && (rule->kind == LD_ACT_NEXT_LARGER_CONTEXT ||
                          rule->kind == LD_ACT_NEXT_IN_REGION)) {
        /* would any route of the workload ever qualify for the action? */
        const ld_route *from = &p->routes[out->primary];
        bool any = false;
        for (int i = 0; i < r->w->ncand; i++) {
            const ld_route *t = &p->routes[r->w->cand[i]];
            if (rule->kind == LD_ACT_NEXT_LARGER_CONTEXT)
                any |= t->context_window > from->context_window;
            else
                any |= t != from && other_region(from, t);
        }
        out->inherent = !any;
        out->dead_end = any;
    }
done:
    ld_req_free(r);
    ld_core_free(c);
    return rc;
}
