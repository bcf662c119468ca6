/* sim.c - the simulator's event loop, its user model (arrivals, patience)
 * and its side of the core: carrying out the core's actions, its events,
 * the request trace (--trace). The provider models are sim_model.c; what
 * both share, sim_int.h.
 *
 * Event kinds: an arrival; an attempt's first token and end; the core's
 * wake-up for a request; a user's patience running out; a fault window
 * opening or closing (prices, quality). Attempt events carry the attempt's
 * generation, so events of an attempt the core cancelled are ignored.
 */
#include "sim_int.h"

#include <gsl/gsl_randist.h>

/* ---- helpers ------------------------------------------------------------ */

static double rng_uniform(void *ctx) { return gsl_rng_uniform(ctx); }

/* ---- events from the core ------------------------------------------------ */

static void trace_event(sim *s, const ld_event *ev);

static void on_core_event(void *ud, const ld_event *ev)
{
    sim *s = ud;
    sim_metrics_on_event(s->m, ev);
    if (s->o->trace != NULL)
        trace_event(s, ev);
    if (s->o->events == NULL)
        return;
    if (ev->type != LD_EV_BREAKER && s->o->events_sample < 1.0) {
        double u = (double)(mix64(ev->req ^ s->o->seed) >> 11) * 0x1.0p-53;
        if (u >= s->o->events_sample)
            return;
    }
    int n = ld_event_to_json(ev, s->p, s->line, s->line_cap);
    if (n > 0) {
        fwrite(s->line, 1, (size_t)n, s->o->events);
        fputc('\n', s->o->events);
    }
}

/* ---- requests ----------------------------------------------------------- */

static sim_req *req_get(sim *s)
{
    if (s->free_reqs == NULL) {
        sim_req **nc = realloc(s->chunks, (s->nchunks + 1) * sizeof *nc);
        if (nc == NULL)
            return NULL;
        s->chunks = nc;
        sim_req *c = calloc(REQ_CHUNK, sizeof *c);
        if (c == NULL)
            return NULL;
        s->chunks[s->nchunks++] = c;
        for (int i = REQ_CHUNK - 1; i >= 0; i--) {
            c[i].next_free = s->free_reqs;
            s->free_reqs = &c[i];
        }
    }
    sim_req *r = s->free_reqs;
    s->free_reqs = r->next_free;
    /* cleared up to its attempts: their slots are free (req_put), keep
     * their generations, and start_attempt sets all of a slot it reads */
    uint32_t gen = r->gen;
    memset(r, 0, offsetof(sim_req, att));
    r->gen = gen; /* (key and tenant, after them, are set on arrival) */
    if (s->o->trace != NULL && r->tr == NULL &&
        (r->tr = malloc(sizeof *r->tr)) == NULL)
        return NULL; /* fatal for the run: the entry is not needed again */
    return r;
}

static void req_put(sim *s, sim_req *r)
{
    r->gen++;
    for (int i = 0; i < MAX_LIVE; i++) {
        if (r->att[i].state != ATT_FREE) {
            r->att[i].state = ATT_FREE;
            r->att[i].gen++;
        }
    }
    r->next_free = s->free_reqs;
    s->free_reqs = r;
}

/* ---- the request trace (--trace; docs/trace-format.md) -------------------- */

/* The core's events about the request it is working on fill its trace
 * record (ld_trace.h); a cancel (sent before the host stops the attempt,
 * so it is still there) adds what the attempt had received. */
static void trace_event(sim *s, const ld_event *ev)
{
    sim_req *r = s->cur;
    if (r == NULL || r->tr == NULL || r->id != ev->req)
        return;
    ld_trace_on_event(r->tr, ev);
    if (ev->type == LD_EV_CANCEL) {
        int slot = slot_of(r, ev->attempt);
        if (slot >= 0 && r->att[slot].first_done) {
            ld_us start = r->arrival + r->tr->att[ev->attempt - 1].start;
            ld_trace_on_answer(r->tr, ev->attempt, 0,
                               tokens_by(&r->att[slot], ev->t), -1,
                               r->att[slot].t_first - start);
        }
    }
}

/* What the provider answered, which the core's RESULT does not carry. */
static void trace_answer(sim_req *r, uint32_t no, const ld_raw_result *res)
{
    if (r->tr != NULL)
        ld_trace_on_answer(r->tr, no, res->http_status, res->completion_tokens,
                           res->retry_after, -1);
}

/* The finished request's line. An abandoned request's status is 499 (the
 * client closed the request). */
static void trace_write(sim *s, const sim_req *r, const ld_req_info *info,
                        const ld_do *d)
{
    char id[32];
    snprintf(id, sizeof id, "r-%llu", (unsigned long long)r->id);
    ld_trace_line l = {
        .t_ms = (double)r->arrival / 1e3, .id = id,
        .workload = info->workload, .tier = info->tier,
        .input_tokens = r->in_tok, .output_tokens = r->out_tok,
        .stream = true, .outcome = info->outcome, .route = info->route,
        .status = d->client_status, .cls = info->first_cls, .ttft = info->ttft,
        .latency = info->latency, .cost = info->cost,
        .fell_back = info->fell_back, .att = r->tr->att, .natt = r->tr->natt,
        .dropped = r->tr->dropped};
    s->stats.trace_attempts_dropped += r->tr->dropped;
    char *text = ld_trace_format(s->p, &l);
    int rc = text == NULL ? LD_ENOMEM
             : fputs(text, s->o->trace) < 0 || fputc('\n', s->o->trace) == EOF
                 ? LD_EINVAL : LD_OK;
    cJSON_free(text);
    if (rc < 0) {
        ld_error_set(s->err, NULL, NULL, "simulator: trace: %s",
                     rc == LD_ENOMEM ? "out of memory" : "write error");
        s->failed = rc;
    }
}

/* ---- driving the core ----------------------------------------------------- */

static void finish_req(sim *s, sim_req *r, const ld_do *d)
{
    ld_req_info info;
    ld_req_info_get(r->core, &info);
    sim_metrics_on_done(s->m, &info, s->now,
                        r->slo_set ? r->slo_ttft : info.limit_ttft,
                        r->slo_set ? r->slo_total : info.limit_total);
    if (r->tenant >= 0)
        sim_metrics_on_tenant_done(s->m, r->tenant, &info);
    if (s->o->trace != NULL)
        trace_write(s, r, &info, d);
    for (int i = 0; i < MAX_LIVE; i++)
        if (r->att[i].state != ATT_FREE)
            sim_model_attempt_release(s, r, i);
    ld_req_free(r->core);
    r->core = NULL;
    s->in_flight--;
    req_put(s, r);
}

/* Carry out the core's actions; false if the request finished. */
static bool drain(sim *s, sim_req *r)
{
    ld_do d;
    while (ld_req_next(r->core, &d) == 1) {
        switch (d.kind) {
        case LD_DO_START:
            sim_model_attempt_start(s, r, &d);
            break;
        case LD_DO_CANCEL: {
            int slot = slot_of(r, d.attempt);
            if (slot >= 0)
                sim_model_attempt_release(s, r, slot);
            break;
        }
        case LD_DO_FINISH:
            finish_req(s, r, &d);
            return false;
        }
    }
    /* wake the request (the core's timers, or the user's patience) only
     * when nothing of this request comes sooner */
    ld_us w = ld_req_wake_at(r->core);
    if (!r->got_first && r->pat_ttft < w)
        w = r->pat_ttft;
    if (r->pat_total < w)
        w = r->pat_total;
    if (w == LD_NEVER || w >= r->wake_scheduled)
        return true;
    for (int i = 0; i < MAX_LIVE; i++) {
        const sim_att *a = &r->att[i];
        if (a->state != ATT_SERVING)
            continue;
        ld_us next = !a->first_done && a->t_first >= 0 ? a->t_first : a->t_end;
        if (a->stall_start > 0 && a->first_done && s->now < a->stall_end)
            next = LD_NEVER; /* silent: only the wake can notice */
        if (next <= w)
            return true;
    }
    if (w < s->now)
        w = s->now;
    r->wake_scheduled = w;
    push(s, w, EV_WAKE, 0, r->gen, r);
    return true;
}

/* Tell the core how far the streams got by now (lazily: streams flow
 * unless inside a stall). */
static void report_progress(sim *s, sim_req *r)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        sim_att *a = &r->att[i];
        if (a->state != ATT_SERVING || !a->first_done)
            continue;
        ld_us t = s->now;
        if (a->stall_start > 0 && t >= a->stall_start && t < a->stall_end)
            t = a->stall_start;
        ld_req_progress(r->core, a->no, t);
    }
}

/* ---- traffic ------------------------------------------------------------ */

static double rate_factor(const sim_traffic *tr, ld_us t)
{
    double ts = (double)t / 1e6;
    switch (tr->mod) {
    case SIM_MOD_ONOFF: {
        double period = tr->on_s + tr->off_s;
        double ph = fmod(ts, period);
        return ph < tr->on_s ? 1.0 : tr->off_factor;
    }
    case SIM_MOD_DIURNAL:
        return 1.0 + tr->amplitude * sin(2 * M_PI * ts / tr->period_s);
    case SIM_MOD_NONE:
        break;
    }
    return 1.0;
}

static double max_factor(const sim_traffic *tr)
{
    if (tr->mod == SIM_MOD_ONOFF)
        return tr->off_factor > 1 ? tr->off_factor : 1;
    if (tr->mod == SIM_MOD_DIURNAL)
        return 1 + tr->amplitude;
    return 1;
}

/* Next arrival time after `t` for synthetic processes (thinning for a
 * modulated rate). LD_NEVER after the run's end. */
static ld_us next_arrival(sim *s, ld_us t)
{
    const sim_traffic *tr = &s->sc->traffic;
    double fmax = max_factor(tr);
    for (int guard = 0; guard < 1000000; guard++) {
        double mean = 1.0 / (tr->rate * fmax);
        double gap = tr->kind == SIM_ARR_GAMMA
                         ? gsl_ran_gamma(s->arrivals, tr->gamma_shape, mean / tr->gamma_shape)
                         : gsl_ran_exponential(s->arrivals, mean);
        t += (ld_us)sim_llround(gap * 1e6);
        if (t >= s->arrivals_end)
            return LD_NEVER;
        if (tr->mod == SIM_MOD_NONE ||
            gsl_rng_uniform(s->arrivals) * fmax < rate_factor(tr, t))
            return t;
    }
    return LD_NEVER;
}

/* The request's mix entry: over the whole mix, or over the entries its
 * tenant draws from. */
static int pick_mix(sim *s, int tenant)
{
    const sim_traffic *tr = &s->sc->traffic;
    if (tr->nmix <= 1)
        return 0;
    const double *cdf = tenant >= 0 ? s->tenant_mix_cdf[tenant] : s->mix_cdf;
    double u = gsl_rng_uniform(s->traffic);
    int last = tr->nmix - 1;
    for (int i = 0; i < tr->nmix; i++) {
        if (u < cdf[i])
            return i;
        if (i == 0 || cdf[i] > cdf[i - 1])
            last = i; /* the last entry the tenant can have */
    }
    return last;
}

/* The request's tenant by share, -1 without tenants. */
static int pick_tenant(sim *s)
{
    const sim_traffic *tr = &s->sc->traffic;
    if (tr->ntenants == 0)
        return -1;
    double u = gsl_rng_uniform(s->tenants);
    for (int i = 0; i < tr->ntenants; i++)
        if (u < s->tenant_cdf[i])
            return i;
    return tr->ntenants - 1;
}

static void schedule_next_arrival(sim *s)
{
    if (s->sc->requests > 0 && s->arrived >= s->sc->requests) {
        s->arrivals_done = true;
        return;
    }
    if (s->sc->traffic.kind == SIM_ARR_TRACE) {
        push(s, s->now, EV_ARRIVAL, 0, 0, NULL); /* read the row then */
        return;
    }
    ld_us t = next_arrival(s, s->now);
    if (t == LD_NEVER) {
        s->arrivals_done = true;
        return;
    }
    push(s, t, EV_ARRIVAL, 0, 0, NULL);
}

/* When a user gives up: at the drawn patience (ms, < 0: none), unless the
 * trace row knows (`ladder replay`): exactly (exact >= 0, LD_NEVER: never),
 * or not before what they are known to have waited: a draw shorter than
 * that is taken as the patience left after it. */
static ld_us patience_at(ld_us now, double drawn_ms, ld_us exact,
                         ld_us waited)
{
    if (exact == LD_NEVER)
        return LD_NEVER;
    if (exact >= 0)
        return now + exact;
    if (drawn_ms < 0)
        return LD_NEVER;
    ld_us p = ms_to_us(drawn_ms);
    return now + (waited > 0 && p <= waited ? waited + p : p);
}

/* The new request r: what it asks (the trace row's, else drawn from mix
 * entry mi), its service level, and when its user gives up (*pt_at for the
 * first token, *pa_at for the whole answer). row: NULL for synthetic
 * traffic. */
static void describe_request(sim *s, sim_req *r, const sim_trace_row *row,
                             int mi, ld_us *pt_at, ld_us *pa_at)
{
    int64_t in_tok = row != NULL ? row->input_tokens : -1;
    int64_t out_tok = row != NULL ? row->output_tokens : -1;
    int workload = row != NULL ? row->workload : -1;
    int tier = row != NULL ? row->tier : -1;
    const sim_traffic *tr = &s->sc->traffic;
    const sim_mix *mx = tr->nmix > 0 ? &tr->mix[mi] : NULL;
    r->id = ++s->next_id;
    r->key = row != NULL ? row->key : -1;
    r->arrival = s->now;
    if (r->tr != NULL)
        ld_trace_init(r->tr, r->arrival);
    r->wake_scheduled = LD_NEVER;
    if (in_tok < 0)
        in_tok = mx != NULL
                     ? (int64_t)sim_llround(sim_dist_sample(mx->input_tokens, s->traffic))
                     : 1000;
    if (out_tok < 0)
        out_tok = mx != NULL
                      ? (int64_t)sim_llround(sim_dist_sample(mx->output_tokens, s->traffic))
                      : 200;
    r->in_tok = in_tok < 0 ? 0 : in_tok;
    r->out_tok = out_tok < 1 ? 0 : out_tok;
    r->remaining = r->out_tok;
    r->streamed = 0;
    r->workload = workload >= 0 ? workload : (mx != NULL ? mx->workload_idx : -1);
    r->tier = tier >= 0 ? tier : (mx != NULL ? mx->tier_idx : -1);
    r->caps = mx != NULL ? mx->caps : 0;
    r->slo_set = sim_scenario_slo_for(s->sc, workload >= 0 ? -1 : mi,
                                      row != NULL ? row->slo : -1,
                                      &r->slo_ttft, &r->slo_total);
    double pt = tr->patience_ttft ? sim_dist_sample(tr->patience_ttft, s->traffic) : -1;
    double pa = tr->patience_total ? sim_dist_sample(tr->patience_total, s->traffic) : -1;
    *pt_at = patience_at(s->now, pt, row ? row->patience_ttft : -1,
                         row ? row->waited_ttft : 0);
    *pa_at = patience_at(s->now, pa, row ? row->patience_total : -1,
                         row ? row->waited_total : 0);
    if (s->o->events != NULL) {
        double u = (double)(mix64(r->id ^ s->o->seed) >> 11) * 0x1.0p-53;
        r->log_events = u < s->o->events_sample;
    }
}

/* row: a trace's row, NULL for synthetic traffic */
static void arrive(sim *s, const sim_trace_row *row)
{
    int tenant = pick_tenant(s);
    int mi = pick_mix(s, tenant);
    sim_req *r = req_get(s);
    if (r == NULL) {
        ld_error_set(s->err, NULL, NULL, "simulator: out of memory");
        s->failed = LD_ENOMEM;
        return;
    }
    ld_us pt_at, pa_at;
    describe_request(s, r, row, mi, &pt_at, &pa_at);
    r->tenant = tenant;
    if (tenant >= 0 && s->tenant_tier[tenant] >= 0)
        r->tier = s->tenant_tier[tenant];
    ld_req_spec spec = {.workload = r->workload, .tier = r->tier,
                        .input_tokens = r->in_tok,
                        .output_tokens = r->out_tok > 0 ? r->out_tok : 1,
                        .caps = r->caps, .id = r->id};
    ld_req_key key = {s->quota, tenant, s->now};
    s->arrived++;
    s->in_flight++;
    if (s->in_flight > s->stats.max_in_flight)
        s->stats.max_in_flight = s->in_flight;
    sim_metrics_on_arrival(s->m, s->now);
    s->cur = r;
    int rc = ld_req_start_keyed(s->core, &spec, tenant >= 0 ? &key : NULL,
                                s->now, &s->rng, &r->core);
    if (rc < 0) {
        ld_error_set(s->err, NULL, NULL, "simulator: the core refused a "
                     "request (code %d)", rc);
        s->failed = rc;
        s->in_flight--;
        req_put(s, r);
        return;
    }
    /* patience needs no event of its own: drain() wakes the request when
     * it runs out before anything else happens to it */
    r->pat_ttft = pt_at;
    r->pat_total = pa_at;
    drain(s, r);
}

static void on_arrival(sim *s)
{
    if (s->sc->traffic.kind != SIM_ARR_TRACE) {
        arrive(s, NULL);
        schedule_next_arrival(s);
        return;
    }
    /* trace: this event stands for "read the next row" (or, at a row's
     * time, "the row kept from the last read arrives") */
    sim_trace_row row;
    if (s->has_pending) {
        row = s->pending;
        s->has_pending = false;
    } else {
        int rc = sim_trace_next(s->trace, &row, s->err);
        if (rc < 0) {
            s->failed = rc;
            return;
        }
        if (rc == 0) { /* the reader loops by itself when asked to */
            s->arrivals_done = true;
            return;
        }
    }
    ld_us t = row.t;
    if (t >= s->arrivals_end) {
        s->arrivals_done = true;
        return;
    }
    if (t > s->now) {
        /* not yet: come back at its time, with the row kept (the clock
         * must not jump past events due before it) */
        s->pending = row;
        s->has_pending = true;
        push(s, t, EV_ARRIVAL, 0, 0, NULL);
        return;
    }
    arrive(s, &row);
    if (s->sc->requests > 0 && s->arrived >= s->sc->requests) {
        s->arrivals_done = true;
        return;
    }
    /* peek the next row's time by reading it on the next event */
    push(s, s->now, EV_ARRIVAL, 1, 0, NULL);
}

/* ---- faults that change the core's view (prices, quality) ----------------- */

static void fault_edge(sim *s, int fi, bool start)
{
    const sim_fault *f = &s->sc->faults[fi];
    for (int r = 0; r < ld_policy_route_count(s->p); r++) {
        if (!(f->routes >> r & 1))
            continue;
        ld_route_health h;
        ld_core_route_health(s->core, r, s->now, &h);
        if (f->kind == SIM_F_QUALITY) {
            if (start) {
                s->base_quality[fi][r] = h.quality;
                ld_core_set_quality(s->core, r, f->quality);
            } else {
                ld_core_set_quality(s->core, r, s->base_quality[fi][r]);
            }
        } else if (f->kind == SIM_F_PRICE && !f->ramp) {
            double in = f->price_in >= 0 ? f->price_in : h.input_per_mtok;
            double out = f->price_out >= 0 ? f->price_out : h.output_per_mtok;
            ld_core_set_price(s->core, r, in, out);
        }
    }
}

/* ---- the loop ------------------------------------------------------------- */

/* An attempt's first token or end (stale events of a freed slot are
 * dropped). */
static void on_answer(sim *s, sim_req *r, const sim_event *e)
{
    sim_att *a = &r->att[e->a];
    if (a->gen != (uint32_t)e->b || a->state != ATT_SERVING)
        return;
    if (e->kind == EV_FIRST) {
        a->first_done = true;
        ld_req_first_token(r->core, a->no, s->now);
        ld_req_info info;
        ld_req_info_get(r->core, &info);
        r->got_first = info.ttft >= 0;
    } else {
        uint32_t no = a->no;
        ld_raw_result res = a->res;
        if (a->first_done)
            report_progress(s, r);
        trace_answer(r, no, &res);
        sim_model_attempt_release(s, r, (int)e->a);
        ld_req_end(r->core, no, s->now, &res, &s->rng);
    }
    drain(s, r);
}

/* The request's wake-up: the user gives up, or the core's timers run. */
static void on_wake(sim *s, sim_req *r, const sim_event *e)
{
    if (r->gen != (uint32_t)e->b || r->wake_scheduled != e->t)
        return;
    r->wake_scheduled = LD_NEVER;
    if ((!r->got_first && s->now >= r->pat_ttft) || s->now >= r->pat_total) {
        ld_req_abandon(r->core, s->now); /* the user gave up */
    } else {
        report_progress(s, r);
        if (s->now >= ld_req_wake_at(r->core))
            ld_req_tick(r->core, s->now, &s->rng);
    }
    drain(s, r);
}

/* A price ramp's step (out of 20) for fault fi: each matched route's price
 * moves from where it was when the ramp began towards the fault's. */
static void price_step(sim *s, uint32_t fi, uint64_t step)
{
    const sim_fault *f = &s->sc->faults[fi];
    double frac = (double)step / 20.0;
    for (int rt = 0; rt < ld_policy_route_count(s->p); rt++) {
        if (!(f->routes >> rt & 1))
            continue;
        if (step == 0) {
            ld_route_health h;
            ld_core_route_health(s->core, rt, s->now, &h);
            s->base_in[fi][rt] = h.input_per_mtok;
            s->base_out[fi][rt] = h.output_per_mtok;
        }
        double in0 = s->base_in[fi][rt], out0 = s->base_out[fi][rt];
        double in1 = f->price_in >= 0 ? f->price_in : in0;
        double out1 = f->price_out >= 0 ? f->price_out : out0;
        ld_core_set_price(s->core, rt, in0 + (in1 - in0) * frac,
                          out0 + (out1 - out0) * frac);
    }
}

static void on_event(sim *s, const sim_event *e)
{
    sim_req *r = e->p;
    s->cur = r; /* NULL for events of no request */
    switch (e->kind) {
    case EV_ARRIVAL:
        on_arrival(s);
        return;
    case EV_FIRST:
    case EV_END:
        on_answer(s, r, e);
        return;
    case EV_WAKE:
        on_wake(s, r, e);
        return;
    case EV_FAULT_START:
    case EV_FAULT_END:
        fault_edge(s, (int)e->a, e->kind == EV_FAULT_START);
        return;
    case EV_PRICE_STEP:
        price_step(s, e->a, e->b); /* b: the step number out of 20 */
        return;
    default:
        return;
    }
}

static void progress(sim *s, ld_us horizon)
{
    if (!s->o->progress || horizon <= 0 || horizon == LD_NEVER)
        return;
    int pct = (int)((double)s->now * 100.0 / (double)horizon);
    if (pct > 100)
        pct = 100;
    if (pct == s->last_progress)
        return;
    s->last_progress = pct;
    char bar[41];
    for (int i = 0; i < 40; i++)
        bar[i] = i < pct * 40 / 100 ? '#' : '.';
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3d%%  %lld requests", bar, pct,
            (long long)s->arrived);
}

static void schedule_faults(sim *s)
{
    const sim_scenario *sc = s->sc;
    for (int i = 0; i < sc->nfaults; i++) {
        const sim_fault *f = &sc->faults[i];
        for (int w = 0; w < f->nwindows; w++) {
            const sim_window *win = &f->windows[w];
            sim_metrics_add_fault(s->m, f->name, win->start, win->end);
            if (f->kind == SIM_F_QUALITY || (f->kind == SIM_F_PRICE && !f->ramp)) {
                push(s, win->start, EV_FAULT_START, (uint32_t)i, 0, NULL);
                if (win->end != LD_NEVER && f->kind == SIM_F_QUALITY)
                    push(s, win->end, EV_FAULT_END, (uint32_t)i, 0, NULL);
            } else if (f->kind == SIM_F_PRICE && win->end != LD_NEVER) {
                for (int k = 0; k <= 20; k++)
                    push(s, win->start + (win->end - win->start) * k / 20,
                         EV_PRICE_STEP, (uint32_t)i, (uint64_t)k, NULL);
            }
        }
    }
}

static void sim_cleanup(sim *s)
{
    ld_core_free(s->core);
    sim_evq_free(s->q);
    gsl_rng_free(s->arrivals);
    gsl_rng_free(s->traffic);
    gsl_rng_free(s->attempt);
    gsl_rng_free(s->core_rng);
    if (s->tenants != NULL)
        gsl_rng_free(s->tenants);
    ld_quota_free(s->quota);
    sim_trace_close(s->trace);
    for (int i = 0; i < 2 * LD_MAX_ROUTES; i++)
        free(s->models[i].q);
    for (size_t i = 0; i < s->nchunks; i++) {
        for (int j = 0; j < REQ_CHUNK; j++)
            free(s->chunks[i][j].tr);
        free(s->chunks[i]);
    }
    free(s->chunks);
    free(s->line);
}

/* The tenants' draw (their shares, the mix entries each draws from),
 * tiers, limits and metrics. LD_OK, or negative with err set. */
static int setup_tenants(sim *sp, ld_error *err)
{
    const sim_traffic *tr = &sp->sc->traffic;
    int n = tr->ntenants;
    if (n == 0)
        return LD_OK;
    ld_key_limits lim[SIM_MAX_TENANTS];
    const char *ids[SIM_MAX_TENANTS];
    double acc = 0;
    for (int i = 0; i < n; i++) {
        const sim_tenant *t = &tr->tenants[i];
        acc += t->share;
        sp->tenant_cdf[i] = acc;
        lim[i] = t->lim;
        ids[i] = t->id;
        sp->tenant_tier[i] = -1;
        if (t->tier != NULL &&
            (sp->tenant_tier[i] = ld_policy_tier_index(sp->p, t->tier)) < 0) {
            ld_error_set(err, NULL, NULL, "traffic.tenants[%d].tier: unknown "
                         "tier \"%s\" (not in the policy)", i, t->tier);
            return LD_EINVAL;
        }
        double total = 0, run = 0;
        for (int k = 0; k < tr->nmix; k++)
            if (t->mix_mask >> k & 1)
                total += tr->mix[k].share;
        for (int k = 0; k < tr->nmix; k++) {
            if (t->mix_mask >> k & 1)
                run += tr->mix[k].share;
            sp->tenant_mix_cdf[i][k] = total > 0 ? run / total : 1;
        }
    }
    sp->tenants = gsl_rng_alloc(gsl_rng_mt19937);
    sp->quota = ld_quota_new(n, lim);
    if (sp->tenants == NULL || sp->quota == NULL ||
        sim_metrics_set_tenants(sp->m, n, ids) < 0) {
        ld_error_set(err, NULL, NULL, "simulator: out of memory");
        return LD_ENOMEM;
    }
    gsl_rng_set(sp->tenants, mix64(sp->o->seed ^ 0xd4));
    return LD_OK;
}

/* The run's state for o: its core, queue, random streams (seeded from
 * o->seed), provider models, mix and trace; the first arrivals and the
 * faults' edges pushed. LD_OK, or negative with err set. */
static int sim_setup(sim *sp, const sim_options *o, ld_error *err)
{
    const sim_scenario *sc = o->sc;
    sp->o = o;
    sp->sc = o->sc;
    sp->p = o->p;
    sp->err = err;
    sp->last_progress = -1;
    sp->core = ld_core_new(o->p);
    sp->m = sim_metrics_new(o->p, (ld_us)(sc->interval_s * 1e6));
    sp->q = sim_evq_new(1024);
    sp->arrivals = gsl_rng_alloc(gsl_rng_mt19937);
    sp->traffic = gsl_rng_alloc(gsl_rng_mt19937);
    sp->attempt = gsl_rng_alloc(gsl_rng_taus2);
    sp->core_rng = gsl_rng_alloc(gsl_rng_mt19937);
    sp->line_cap = 4096;
    sp->line = malloc(sp->line_cap);
    if (sp->core == NULL || sp->m == NULL || sp->q == NULL || sp->arrivals == NULL ||
        sp->traffic == NULL || sp->attempt == NULL || sp->core_rng == NULL ||
        sp->line == NULL) {
        ld_error_set(err, NULL, NULL, "simulator: out of memory");
        return LD_ENOMEM;
    }
    gsl_rng_set(sp->arrivals, mix64(o->seed ^ 0xa1));
    gsl_rng_set(sp->traffic, mix64(o->seed ^ 0xb2));
    gsl_rng_set(sp->core_rng, mix64(o->seed ^ 0xc3));
    sp->rng.uniform = rng_uniform;
    sp->rng.ctx = sp->core_rng;
    ld_core_set_sink(sp->core, on_core_event, sp);

    for (int i = 0; i < 2 * LD_MAX_ROUTES; i++) {
        sp->models[i].prov = i < sc->nproviders ? &sc->providers[i] : NULL;
        for (int b = 0; b < 60; b++)
            sp->models[i].bucket_sec[b] = -1000;
        sp->models[i].window_sec = -1; /* (time starts at 0) */
        sim_model_init(&sp->models[i]);
    }
    for (int r = 0; r < ld_policy_route_count(o->p); r++) {
        int pi = sim_scenario_provider_for(sc, r);
        sp->rmod[r] = &sp->models[pi >= 0 ? pi : LD_MAX_ROUTES + r];
    }
    double acc = 0;
    for (int i = 0; i < sc->traffic.nmix; i++) {
        acc += sc->traffic.mix[i].share;
        sp->mix_cdf[i] = acc;
    }
    int rc;
    if ((rc = setup_tenants(sp, err)) < 0)
        return rc;
    sp->arrivals_end = sc->duration_s > 0 ? (ld_us)(sc->duration_s * 1e6) : LD_NEVER;
    if (sc->traffic.kind == SIM_ARR_TRACE &&
        (rc = sim_trace_open(sc, o->p, &sp->trace, err)) < 0)
        return rc;
    schedule_faults(sp);
    if (sc->traffic.kind == SIM_ARR_TRACE)
        push(sp, 0, EV_ARRIVAL, 0, 0, NULL);
    else
        schedule_next_arrival(sp);
    return LD_OK;
}

/* Events in order until the last request ends: later events (fault edges,
 * stale timers) could not change anything a user sees. LD_OK, or negative
 * with the error set. */
static int sim_loop(sim *sp)
{
    ld_us horizon = sp->arrivals_end;
    sim_event e;
    while (!sp->failed && !(sp->arrivals_done && sp->in_flight == 0) &&
           sim_evq_pop(sp->q, &e) == 1) {
        if (e.t > sp->now)
            sp->now = e.t;
        on_event(sp, &e);
        sp->stats.events++;
        if ((sp->stats.events & 0xffff) == 0)
            progress(sp, horizon);
    }
    if (sp->o->progress && horizon != LD_NEVER)
        fputc('\n', stderr);
    if (sp->failed)
        return sp->failed;
    if (sp->in_flight != 0) {
        ld_error_set(sp->err, NULL, NULL, "simulator: %lld requests never "
                     "ended (a bug: please report it)",
                     (long long)sp->in_flight);
        return LD_ESTATE;
    }
    return LD_OK;
}

int sim_run(const sim_options *o, sim_metrics **out, sim_stats *stats,
            ld_error *err)
{
    sim *sp = calloc(1, sizeof *sp); /* large: per-fault, per-route state */
    if (sp == NULL) {
        ld_error_set(err, NULL, NULL, "simulator: out of memory");
        return LD_ENOMEM;
    }
    *out = NULL;
    int rc;
    if ((rc = sim_setup(sp, o, err)) < 0 || (rc = sim_loop(sp)) < 0)
        goto fail;
    sim_metrics_finish(sp->m, sp->now);
    sp->stats.requests = sp->arrived;
    sp->stats.end = sp->now;
    sp->stats.trace_skipped = sp->trace ? sim_trace_skipped(sp->trace) : 0;
    if (stats != NULL)
        *stats = sp->stats;
    *out = sp->m;
    sp->m = NULL;
    sim_cleanup(sp);
    free(sp);
    return LD_OK;
fail:
    sim_metrics_free(sp->m);
    sim_cleanup(sp);
    free(sp);
    return rc;
}
