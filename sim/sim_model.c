/* sim_model.c - the simulator's provider models: each route's servers,
 * queue and rate windows, the scenario's faults as the provider shows them,
 * and the planning of every attempt's answer (when its first token and its
 * end fall, and what it says). See sim_int.h.
 *
 * An attempt's draws come from a random stream of its own (keyed by the
 * run's seed, the request, the route and the try), so a change elsewhere in
 * the run does not move them.
 */
#include "sim_int.h"

#include <gsl/gsl_randist.h>

/* ---- servers and queues --------------------------------------------------- */

static void serve(sim *s, sim_req *r, int slot);

static void free_server(sim *s, int route)
{
    route_model *rm = s->rmod[route];
    rm->busy--;
    while (rm->qlen > 0) {
        waiter w = rm->q[rm->qhead];
        rm->qhead = (rm->qhead + 1) % rm->qcap;
        rm->qlen--;
        sim_att *a = &w.req->att[w.slot];
        if (a->gen != w.gen || a->state != ATT_QUEUED)
            continue; /* cancelled while waiting */
        rm->busy++;
        serve(s, w.req, w.slot);
        return;
    }
}

static int enqueue(sim *s, route_model *rm, sim_req *r, int slot)
{
    if (rm->qlen == rm->qcap) {
        size_t cap = rm->qcap ? rm->qcap * 2 : 64;
        waiter *nq = malloc(cap * sizeof *nq);
        if (nq == NULL) {
            ld_error_set(s->err, NULL, NULL, "simulator: out of memory");
            s->failed = LD_ENOMEM;
            return LD_ENOMEM;
        }
        for (size_t i = 0; i < rm->qlen; i++)
            nq[i] = rm->q[(rm->qhead + i) % rm->qcap];
        free(rm->q);
        rm->q = nq;
        rm->qcap = cap;
        rm->qhead = 0;
    }
    rm->q[(rm->qhead + rm->qlen) % rm->qcap] = (waiter){r, slot, r->att[slot].gen};
    rm->qlen++;
    return LD_OK;
}

/* Move the 60 s window to second sec (never earlier than the last): the
 * buckets of the seconds it enters are emptied and their counts leave the
 * window's sums, so a check costs O(1), not a pass over the buckets. */
static void window_to(route_model *rm, int64_t sec)
{
    if (sec <= rm->window_sec)
        return;
    int64_t t = rm->window_sec + 1;
    if (t < sec - 59)
        t = sec - 59; /* a gap of a minute or more: every bucket leaves */
    for (; t <= sec; t++) {
        int b = (int)(t % 60);
        rm->rpm_sum -= rm->rpm_count[b];
        rm->tpm_sum -= rm->tpm_count[b];
        rm->rpm_count[b] = rm->tpm_count[b] = 0;
        rm->bucket_sec[b] = t;
    }
    rm->window_sec = sec;
}

/* Rate limit: count this request in the 60 s window; true if over. */
static bool over_limit(sim *s, route_model *rm, int64_t tokens, double rpm,
                       double tpm, ld_us *retry_after)
{
    int64_t sec = s->now / LD_US_PER_S;
    int b = (int)(sec % 60);
    window_to(rm, sec);
    int64_t reqs = rm->rpm_sum, toks = rm->tpm_sum;
    if ((rpm > 0 && (double)(reqs + 1) > rpm) ||
        (tpm > 0 && (double)(toks + tokens) > tpm)) {
        /* until the oldest bucket leaves the window */
        int64_t oldest = sec;
        for (int i = 0; i < 60; i++)
            if (sec - rm->bucket_sec[i] < 60 &&
                (rm->rpm_count[i] > 0 || rm->tpm_count[i] > 0) &&
                rm->bucket_sec[i] < oldest)
                oldest = rm->bucket_sec[i];
        *retry_after = (oldest + 60) * LD_US_PER_S - s->now;
        return true;
    }
    rm->rpm_count[b]++;
    rm->tpm_count[b] += tokens;
    rm->rpm_sum++;
    rm->tpm_sum += tokens;
    return false;
}

/* ---- planning an answer ------------------------------------------------- */

/* An answer that ends the attempt at `t` with status (and code). */
static void plan_error(sim_att *a, ld_us t, int status, const char *code)
{
    a->t_first = -1;
    a->t_end = t;
    a->res.http_status = status;
    a->res.error_code = code;
}

static void plan_transport(sim_att *a, ld_us t, ld_transport tr)
{
    a->t_first = -1;
    a->t_end = t;
    a->res.transport = tr;
}

/* Plan the answer of an attempt that fails with class c at t, the way a
 * provider gives each class: a transport fault, or an HTTP status with the
 * provider's error code (what ld_classify reads back as c); timeout_ttft
 * never answers. Faults inside an answer (stream_cut, stream_stall, and
 * timeout_total: a stream that starts and never ends) are planned on the
 * stream: false, nothing planned. The provider model's baseline errors and `ladder
 * replay`'s recorded failures both answer through it. The caller sets
 * Retry-After for rate_limited. */
static bool plan_failure(sim_att *a, ld_us t, ld_class c)
{
    switch (c) {
    case LD_FC_CONNECT_ERROR: plan_transport(a, t, LD_TR_CONNECT_FAILED); break;
    case LD_FC_RESET: plan_transport(a, t, LD_TR_RESET); break;
    case LD_FC_INVALID_RESPONSE: plan_transport(a, t, LD_TR_MALFORMED); break;
    case LD_FC_TIMEOUT_TTFT: a->t_first = -1; a->t_end = LD_NEVER; break;
    case LD_FC_RATE_LIMITED: plan_error(a, t, 429, "rate_limit_exceeded"); break;
    case LD_FC_QUOTA_EXHAUSTED: plan_error(a, t, 429, "insufficient_quota"); break;
    case LD_FC_OVERLOADED: plan_error(a, t, 503, NULL); break;
    case LD_FC_AUTH_ERROR: plan_error(a, t, 401, "invalid_api_key"); break;
    case LD_FC_BAD_REQUEST: plan_error(a, t, 400, NULL); break;
    case LD_FC_CONTENT_BLOCKED: plan_error(a, t, 400, "content_policy_violation"); break;
    case LD_FC_CONTEXT_LENGTH: plan_error(a, t, 400, "context_length_exceeded"); break;
    case LD_FC_REGION_RESTRICTED:
        plan_error(a, t, 403, "unsupported_country_region_territory");
        break;
    case LD_FC_STREAM_CUT:
    case LD_FC_STREAM_STALL:
    case LD_FC_TIMEOUT_TOTAL:
        return false;
    default: plan_error(a, t, 500, NULL); break;
    }
    return true;
}

/* The attempt stream, seeded now if its seed is pending (start_attempt):
 * every draw of an attempt before it has a server goes through here. */
static gsl_rng *attempt_rng(sim *s)
{
    if (s->attempt_seed_pending) {
        gsl_rng_set(s->attempt, s->attempt_seed);
        s->attempt_seed_pending = false;
    }
    return s->attempt;
}

static ld_us error_delay(sim *s, const sim_provider *pv)
{
    const sim_dist *d = pv->error_ms != NULL ? pv->error_ms : pv->ttft_ms;
    return ms_to_us(sim_dist_sample(d, attempt_rng(s)));
}

/* How long an answer before any server takes: drawn from the attempt's
 * stream when first needed, and before any other draw of the attempt (so
 * the draws are those of drawing it first always); most attempts go to a
 * server and never need it. */
typedef struct small_delay {
    const sim_provider *pv;
    bool drawn;
    ld_us v;
} small_delay;

static ld_us small_of(sim *s, small_delay *sm)
{
    if (!sm->drawn) {
        sm->v = error_delay(s, sm->pv);
        sm->drawn = true;
    }
    return sm->v;
}

/* Push the planned answer's events: its first token (if any) and its end
 * (unless it never answers). */
static void schedule_answer(sim *s, sim_req *r, int slot)
{
    const sim_att *a = &r->att[slot];
    if (a->t_first >= 0)
        push(s, a->t_first, EV_FIRST, (uint32_t)slot, a->gen, r);
    if (a->t_end != LD_NEVER)
        push(s, a->t_end, EV_END, (uint32_t)slot, a->gen, r);
}

/* An answer planned without a server (an error, a refusal): the attempt is
 * served from now on, and ends at its t_end. */
static void answer_now(sim *s, sim_req *r, int slot)
{
    sim_att *a = &r->att[slot];
    a->state = ATT_SERVING;
    push(s, a->t_end, EV_END, (uint32_t)slot, a->gen, r);
}

/* The provider model's baseline error for this attempt (one uniform draw):
 * a class drawn by the model's err_p, LD_FC_NONE for a good answer. The
 * model's classes of non-zero probability and their running sums
 * (sim_model_init) stand for the pass over every class: the sums are
 * taken in the same order, so a draw picks the same class. */
static ld_class draw_baseline_error(sim *s, const route_model *rm)
{
    double u = gsl_rng_uniform(s->attempt);
    for (int k = 0; k < rm->nerr; k++)
        if (u < rm->err_acc[k])
            return rm->err_cls[k];
    return LD_FC_NONE;
}

void sim_model_init(route_model *rm)
{
    double acc = 0;
    rm->nerr = 0;
    for (int c = 0; rm->prov != NULL && c < LD_FC_COUNT; c++) {
        acc += rm->prov->err_p[c];
        if (rm->prov->err_p[c] > 0) {
            rm->err_cls[rm->nerr] = (ld_class)c;
            rm->err_acc[rm->nerr++] = acc;
        }
    }
}

/* What the active latency faults do to an answer. */
typedef struct slowdown {
    double ttft_mult, tps_mult;
    ld_us add;
} slowdown;

/* The latency faults active on route now, each striking with its
 * probability. */
static slowdown draw_slowdown(sim *s, int route, ld_us now)
{
    const sim_scenario *sc = s->sc;
    slowdown sd = {1, 1, 0};
    for (int i = 0; i < sc->nfaults; i++) {
        const sim_fault *f = &sc->faults[i];
        if (f->kind != SIM_F_LATENCY || !fault_active(f, route, now))
            continue;
        if (f->probability < 1 && gsl_rng_uniform(s->attempt) >= f->probability)
            continue;
        sd.ttft_mult *= f->ttft_mult;
        sd.tps_mult *= f->tps_mult;
        if (f->add_ms != NULL)
            sd.add += ms_to_us(sim_dist_sample(f->add_ms, s->attempt));
    }
    return sd;
}

/* A good answer of `tokens` tokens: the first after the drawn TTFT, then
 * the rest at the drawn speed, both slowed by sd. */
static void plan_stream(sim *s, sim_att *a, const sim_provider *pv,
                        slowdown sd, int64_t tokens, ld_us now)
{
    double drawn = (double)ms_to_us(sim_dist_sample(pv->ttft_ms, s->attempt));
    ld_us ttft = (ld_us)(drawn * sd.ttft_mult) + sd.add;
    double tps = sim_dist_sample(pv->tokens_per_s, s->attempt) * sd.tps_mult;
    if (!(tps > 0.1))
        tps = 0.1;
    a->tps = tps;
    a->t_first = now + ttft;
    a->t_end = a->t_first + (ld_us)((double)tokens / tps * 1e6);
    a->res.http_status = 200;
    a->res.completion_tokens = (int)(tokens > INT32_MAX ? INT32_MAX : tokens);
}

/* A fault of kind strikes the stream after a drawn number of tokens (f's
 * after_tokens, else uniform; f is NULL for a baseline error): false if the
 * answer would have ended before it (the next fault may strike). */
static bool strike_stream(sim *s, sim_att *a, const sim_fault *f,
                          sim_fault_kind kind, int64_t tokens)
{
    int64_t k;
    if (f != NULL && f->after_tokens != NULL)
        k = (int64_t)sim_dist_sample(f->after_tokens, s->attempt);
    else
        k = tokens > 1 ? 1 + (int64_t)gsl_rng_uniform_int(s->attempt,
                                                          (unsigned long)(tokens - 1))
                       : 0;
    if (k < 0)
        k = 0;
    if (kind != SIM_F_NO_DONE && k >= tokens)
        return false; /* the answer ended before the fault could strike */
    ld_us at = a->t_first + (ld_us)((double)k / a->tps * 1e6);
    if (kind == SIM_F_STREAM_CUT) {
        a->t_end = at;
        a->res.transport = LD_TR_CUT;
        a->res.completion_tokens = (int)k;
    } else if (kind == SIM_F_MALFORMED) {
        a->t_end = at;
        a->res.transport = LD_TR_MALFORMED;
        a->res.completion_tokens = (int)k;
    } else if (kind == SIM_F_NO_DONE) {
        a->res.transport = LD_TR_NO_DONE;
        a->res.finish_reason = "stop";
    } else {
        ld_us len = f != NULL ? ms_to_us(sim_dist_sample(f->stall_ms, s->attempt))
                              : ld_s(600);
        a->stall_start = at;
        a->stall_end = at + len;
        a->t_end += len;
    }
    return true;
}

/* Faults inside the planned stream: the first of the scenario's active
 * stream faults that strikes (each by its probability), else the baseline
 * error err if it is one of the stream's. */
static void plan_stream_faults(sim *s, sim_att *a, ld_class err,
                               int64_t tokens, ld_us now)
{
    const sim_scenario *sc = s->sc;
    for (int i = 0; i < sc->nfaults + 1; i++) {
        const sim_fault *f = i < sc->nfaults ? &sc->faults[i] : NULL;
        sim_fault_kind kind;
        if (f != NULL) {
            kind = f->kind;
            if ((kind != SIM_F_STREAM_CUT && kind != SIM_F_STREAM_STALL &&
                 kind != SIM_F_MALFORMED && kind != SIM_F_NO_DONE) ||
                !fault_active(f, a->route, now))
                continue;
            if (f->probability < 1 && gsl_rng_uniform(s->attempt) >= f->probability)
                continue;
        } else if (err == LD_FC_STREAM_CUT) {
            kind = SIM_F_STREAM_CUT;
        } else if (err == LD_FC_STREAM_STALL) {
            kind = SIM_F_STREAM_STALL;
        } else if (err == LD_FC_TIMEOUT_TOTAL) {
            a->t_end = LD_NEVER; /* tokens trickle on; the deadline ends it */
            return;
        } else {
            return;
        }
        if (strike_stream(s, a, f, kind, tokens))
            return;
    }
}

/* Where the attempt's events fall once it has a server. */
static void serve(sim *s, sim_req *r, int slot)
{
    sim_att *a = &r->att[slot];
    const sim_provider *pv = s->rmod[a->route]->prov;
    ld_us now = s->now;
    a->state = ATT_SERVING;
    a->holds_server = true;
    /* the service draws come from a stream of their own, so an attempt
     * that waited in a queue draws what it would have drawn at once */
    gsl_rng_set(s->attempt, mix64(a->key ^ 0x5e7e1ceULL));
    s->attempt_seed_pending = false;
    ld_class err = draw_baseline_error(s, s->rmod[a->route]);
    slowdown sd = draw_slowdown(s, a->route, now);
    /* (stream faults are planned below, on the stream) */
    if (err != LD_FC_NONE && plan_failure(a, now + error_delay(s, pv), err)) {
        if (err == LD_FC_RATE_LIMITED)
            a->res.retry_after = pv->retry_after_s > 0 ? (ld_us)(pv->retry_after_s * 1e6) : -1;
    } else {
        plan_stream(s, a, pv, sd, r->remaining, now);
        plan_stream_faults(s, a, err, r->remaining, now);
    }
    schedule_answer(s, r, slot);
}

/* `ladder replay`: plan the attempt as the recorded one it was matched
 * with (sim_replay_pick; the plan's times are after the start). It holds
 * no server and meets no limit or fault: the recording went through
 * those already. */
static void plan_recorded(sim *s, sim_req *r, int slot,
                          const sim_replay_plan *pl)
{
    sim_att *a = &r->att[slot];
    ld_us now = s->now;
    a->state = ATT_SERVING;
    a->tps = pl->tps;
    a->t_first = pl->ttft >= 0 ? now + pl->ttft : -1;
    a->t_end = pl->end == LD_NEVER ? LD_NEVER : now + pl->end;
    a->res.completion_tokens = (int)(pl->tokens > INT32_MAX ? INT32_MAX : pl->tokens);
    if (pl->cls == LD_FC_NONE || pl->cls == LD_FC_STREAM_STALL) {
        a->res.http_status = 200;
    } else if (pl->cls == LD_FC_STREAM_CUT) {
        a->res.http_status = 200;
        a->res.transport = LD_TR_CUT;
    } else {
        ld_us first = a->t_first; /* failures inside a stream keep it */
        if (!plan_failure(a, a->t_end, pl->cls)) /* timeout_total */
            a->t_end = LD_NEVER;
        if (first >= 0) {
            a->t_first = first;
            a->res.http_status = 200;
        }
        if (pl->cls == LD_FC_RATE_LIMITED)
            a->res.retry_after = pl->retry_after;
    }
    if (pl->stall >= 0 && a->t_first >= 0) { /* silent from then on */
        a->stall_start = now + pl->stall > 0 ? now + pl->stall : 1;
        a->stall_end = LD_NEVER;
        a->t_end = LD_NEVER;
    }
    schedule_answer(s, r, slot);
}

/* ---- an attempt arrives --------------------------------------------------- */

/* A free attempt slot of r, or -1 with the run failed. */
static int take_slot(sim *s, sim_req *r)
{
    int slot = 0;
    while (slot < MAX_LIVE && r->att[slot].state != ATT_FREE)
        slot++;
    if (slot == MAX_LIVE) {
        ld_error_set(s->err, NULL, NULL, "simulator: more than %d attempts "
                     "in flight for one request", MAX_LIVE);
        s->failed = LD_ELIMIT;
        return -1;
    }
    return slot;
}

/* The attempt in slot starts on d's route, not yet planned; its random
 * stream is keyed (and seeded at its first draw). Returns the tries of the
 * route before it. */
static uint8_t start_attempt(sim *s, sim_req *r, int slot, const ld_do *d)
{
    sim_att *a = &r->att[slot];
    a->state = ATT_WAITING;
    a->no = d->attempt;
    a->route = d->route;
    a->t_first = -1;
    a->t_end = LD_NEVER;
    a->stall_start = a->stall_end = 0;
    a->first_done = false;
    a->holds_server = false;
    ld_raw_result_init(&a->res);
    uint8_t k = r->tries[d->route];
    if (k < 255)
        r->tries[d->route] = (uint8_t)(k + 1);
    a->key = mix64(s->o->seed * 0x9e3779b97f4a7c15ULL ^ mix64(r->id) ^
                   ((uint64_t)d->route << 40) ^ ((uint64_t)k << 52));
    s->attempt_seed = a->key; /* set at the first draw (attempt_rng) */
    s->attempt_seed_pending = true;
    return k;
}

/* `ladder replay`: the route answers as recorded (the same request's try k,
 * else one nearby in time, drawn from this attempt's stream); the model
 * serves only what the recording cannot, and without a model the attempt
 * cannot connect. True if answered here. */
static bool answer_recorded(sim *s, sim_req *r, int slot, uint8_t k)
{
    sim_att *a = &r->att[slot];
    const sim_provider *pv = s->rmod[a->route]->prov;
    ld_us now = s->now;
    sim_replay_plan pl;
    int src = sim_replay_pick(pv->recorded, r->key, a->route, k, now,
                              r->out_tok, attempt_rng(s), &pl);
    if (src != SIM_REPLAY_NONE) {
        if (src == SIM_REPLAY_SAME)
            s->stats.replay_same++;
        else
            s->stats.replay_near++;
        plan_recorded(s, r, slot, &pl);
        return true;
    }
    if (pv->ttft_ms == NULL) {
        s->stats.replay_unmodelled++;
        plan_transport(a, now, LD_TR_CONNECT_FAILED);
        answer_now(s, r, slot);
        return true;
    }
    s->stats.replay_model++;
    return false;
}

/* The rate limits in force: the model's, or an active fault's. */
typedef struct limits {
    double rpm, tpm, retry_after_s;
} limits;

/* The active faults that answer before any server (outages, errors,
 * quotas, region blocks, storms of 429s), each striking with its
 * probability; a rate-limit fault may only set new limits in lim. sm is
 * how long such an answer takes (drawn when needed). True if one answered. */
static bool answer_fault(sim *s, sim_req *r, int slot, small_delay *sm,
                         limits *lim)
{
    sim_att *a = &r->att[slot];
    ld_us now = s->now;
    for (int i = 0; i < s->sc->nfaults; i++) {
        const sim_fault *f = &s->sc->faults[i];
        if (!fault_active(f, a->route, now))
            continue;
        if (f->kind == SIM_F_RATE_LIMIT && (f->rpm > 0 || f->tpm > 0)) {
            if (f->rpm > 0)
                lim->rpm = f->rpm;
            if (f->tpm > 0)
                lim->tpm = f->tpm;
            if (f->retry_after_s >= 0)
                lim->retry_after_s = f->retry_after_s;
            if (!(f->probability > 0))
                continue; /* a new limit only */
            /* and a storm of 429s on top of it */
        }
        if (f->kind != SIM_F_OUTAGE && f->kind != SIM_F_ERROR &&
            f->kind != SIM_F_QUOTA && f->kind != SIM_F_REGION &&
            f->kind != SIM_F_RATE_LIMIT)
            continue;
        if (f->probability < 1) {
            small_of(s, sm); /* drawn first, as always */
            if (gsl_rng_uniform(attempt_rng(s)) >= f->probability)
                continue;
        }
        switch (f->kind) {
        case SIM_F_OUTAGE:
            if (f->mode == SIM_OUTAGE_HANG) {
                a->state = ATT_SERVING; /* holds no server; never answers */
                return true;
            }
            if (f->mode == SIM_OUTAGE_RESET)
                plan_transport(a, now + small_of(s, sm), LD_TR_RESET);
            else
                plan_error(a, now + small_of(s, sm), f->status, NULL);
            break;
        case SIM_F_ERROR:
            plan_error(a, now + small_of(s, sm), f->err_status, f->err_code);
            a->res.error_type = f->err_type;
            a->res.error_message = f->err_message;
            break;
        case SIM_F_QUOTA:
            plan_error(a, now + small_of(s, sm), 429, "insufficient_quota");
            break;
        case SIM_F_REGION:
            plan_error(a, now + small_of(s, sm), 403,
                       "unsupported_country_region_territory");
            break;
        default: /* a storm of 429s */
            plan_error(a, now + small_of(s, sm), 429, "rate_limit_exceeded");
            a->res.retry_after = f->retry_after_s >= 0 ? (ld_us)(f->retry_after_s * 1e6) : -1;
            break;
        }
        answer_now(s, r, slot);
        return true;
    }
    return false;
}

/* Over the limits in lim: a 429 after sm's delay, with the limit's Retry-After
 * (else when the window lets it in). True if refused. */
static bool answer_over_limit(sim *s, sim_req *r, int slot, small_delay *sm,
                              const limits *lim)
{
    sim_att *a = &r->att[slot];
    ld_us ra;
    if (!(lim->rpm > 0 || lim->tpm > 0) ||
        !over_limit(s, s->rmod[a->route], r->in_tok + r->out_tok, lim->rpm,
                    lim->tpm, &ra))
        return false;
    plan_error(a, s->now + small_of(s, sm), 429, "rate_limit_exceeded");
    a->res.retry_after = lim->retry_after_s > 0 ? (ld_us)(lim->retry_after_s * 1e6) : ra;
    answer_now(s, r, slot);
    return true;
}

/* A server if one is free, else a place in the queue, else a 503 now. */
static void admit(sim *s, sim_req *r, int slot)
{
    sim_att *a = &r->att[slot];
    route_model *rm = s->rmod[a->route];
    const sim_provider *pv = rm->prov;
    if (pv->concurrency == 0 || rm->busy < pv->concurrency) {
        rm->busy++;
        serve(s, r, slot);
    } else if (pv->queue < 0 || rm->qlen < (size_t)pv->queue) {
        a->state = ATT_QUEUED;
        enqueue(s, rm, r, slot);
    } else {
        plan_error(a, s->now, 503, NULL); /* no room: rejected at once */
        answer_now(s, r, slot);
    }
}

void sim_model_attempt_start(sim *s, sim_req *r, const ld_do *d)
{
    int slot = take_slot(s, r);
    if (slot < 0)
        return;
    if (d->resume) {
        /* a continuation generates what the cut stream had left */
        r->remaining -= r->streamed;
        if (r->remaining < 1)
            r->remaining = 1;
        r->streamed = 0;
    }
    uint8_t k = start_attempt(s, r, slot, d);
    const sim_provider *pv = s->rmod[d->route]->prov;
    if (pv != NULL && pv->recorded != NULL && answer_recorded(s, r, slot, k))
        return;
    if (pv == NULL) { /* bind guarantees models for used routes */
        plan_error(&r->att[slot], s->now, 500, NULL);
        answer_now(s, r, slot);
        return;
    }
    small_delay sm = {pv, false, 0};
    limits lim = {pv->rpm, pv->tpm, pv->retry_after_s};
    if (answer_fault(s, r, slot, &sm, &lim) ||
        answer_over_limit(s, r, slot, &sm, &lim))
        return;
    admit(s, r, slot);
}

void sim_model_attempt_release(sim *s, sim_req *r, int slot)
{
    sim_att *a = &r->att[slot];
    bool held = a->holds_server;
    if (a->first_done)
        r->streamed = tokens_by(a, s->now); /* a continuation goes on */
    int route = a->route;
    a->state = ATT_FREE;
    a->holds_server = false;
    a->gen++;
    if (held)
        free_server(s, route);
}
