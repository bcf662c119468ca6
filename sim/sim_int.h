/* sim_int.h - what the simulator's files share (private to sim/sim*.c):
 * the run's state, its requests and attempts, the provider models' servers
 * and queues, and the event kinds.
 *
 * sim.c         the event loop, the user model (arrivals, patience), the
 *               core's actions and events, the request trace (--trace)
 * sim_model.c   the provider models: servers, queues, rate windows, faults
 *               and the planning of each attempt's answer
 */
#ifndef SIM_INT_H
#define SIM_INT_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "ld_core.h"
#include "sim.h"
#include "sim_evq.h"
#include "sim_replay.h"

#define MAX_LIVE 4
#define REQ_CHUNK 1024 /* requests allocated at a time */

enum {
    EV_ARRIVAL,
    EV_FIRST,
    EV_END,
    EV_WAKE,
    EV_FAULT_START,
    EV_FAULT_END,
    EV_PRICE_STEP
};

typedef enum att_state { ATT_FREE, ATT_QUEUED, ATT_SERVING, ATT_WAITING } att_state;

typedef struct sim_req sim_req;

typedef struct sim_att {
    att_state state;
    uint32_t no;     /* the core's attempt number */
    uint32_t gen;    /* bumped when the slot is freed */
    int route;
    ld_us t_first;   /* planned first token; -1 none */
    ld_us t_end;     /* planned end; LD_NEVER: never answers */
    ld_us stall_start, stall_end; /* silence inside the stream, if any */
    bool first_done;
    bool holds_server;
    uint64_t key;    /* seed of the attempt's own random stream */
    double tps;      /* generation speed (tokens/s), for the tokens an
                        attempt stopped midway had received (--trace) */
    ld_raw_result res;
} sim_att;

struct sim_req {
    ld_req *core;
    uint64_t id;
    uint32_t gen;
    sim_req *next_free;
    ld_us arrival;
    int64_t in_tok, out_tok;
    int workload, tier;
    unsigned caps;
    bool slo_set;         /* the scenario's service level (else the
                             policy's constraints judge it) */
    ld_us slo_ttft, slo_total;
    bool got_first;
    bool log_events;
    int64_t remaining;    /* tokens an attempt has to generate: all of
                             them, or what a continuation has left */
    int64_t streamed;     /* tokens of the last attempt stopped midway */
    ld_us wake_scheduled;
    ld_us pat_ttft, pat_total; /* when the user gives up; LD_NEVER: never */
    uint8_t tries[LD_MAX_ROUTES]; /* attempts per route, for the streams */
    sim_att att[MAX_LIVE];
    int64_t key;          /* its trace row's key (`ladder replay`), -1 none */
    int tenant;           /* traffic.tenants index, -1 none */
    /* --trace: its record (ld_trace.h), allocated once per pool entry and
     * kept across reuse */
    ld_trace *tr;
};

typedef struct waiter {
    sim_req *req;
    int slot;
    uint32_t gen;
} waiter;

/* One provider model's servers, queue and rate windows: routes bound to
 * the same provider model share them. */
typedef struct route_model {
    const sim_provider *prov; /* NULL: no model (never attempted) */
    int busy;
    waiter *q;                /* ring of waiting attempts */
    size_t qcap, qhead, qlen;
    /* requests and tokens in the last 60 one-second buckets, their sums
     * over the window, and the second the window ends at */
    int64_t rpm_count[60], tpm_count[60];
    int64_t bucket_sec[60];
    int64_t rpm_sum, tpm_sum, window_sec;
    /* the baseline error classes of non-zero probability, in class
     * order, with the running sum of err_p up to each */
    int nerr;
    ld_class err_cls[LD_FC_COUNT];
    double err_acc[LD_FC_COUNT];
} route_model;

typedef struct sim {
    const sim_options *o;
    const sim_scenario *sc;
    const ld_policy *p;
    ld_core *core;
    sim_metrics *m;
    sim_evq *q;
    gsl_rng *arrivals, *traffic, *attempt, *core_rng;
    /* the attempt starting now: its stream is seeded at its first draw
     * (sim_model.c), so an attempt that draws nothing before a server
     * (which seeds a stream of its own) costs no seeding */
    uint64_t attempt_seed;
    bool attempt_seed_pending;
    ld_rng rng;
    sim_trace *trace;
    sim_trace_row pending;    /* a trace row read ahead of its time */
    bool has_pending;
    /* the scenario's provider models, then one empty model per route bound
     * to none; each route points at its own */
    route_model models[2 * LD_MAX_ROUTES];
    route_model *rmod[LD_MAX_ROUTES];
    double mix_cdf[SIM_MAX_MIX];
    /* tenants (traffic.tenants): drawn by share from their own stream;
     * their limits in the core's ld_quota, its windows on the simulated
     * clock (0 is 1970-01-01 00:00 UTC) */
    gsl_rng *tenants;
    ld_quota *quota;
    double tenant_cdf[SIM_MAX_TENANTS];
    double tenant_mix_cdf[SIM_MAX_TENANTS][SIM_MAX_MIX];
    int tenant_tier[SIM_MAX_TENANTS]; /* policy index, -1: the mix's */
    sim_req *free_reqs;
    sim_req **chunks;
    size_t nchunks;
    uint64_t next_id;
    int64_t arrived;
    int64_t in_flight;
    ld_us now;
    ld_us arrivals_end;       /* LD_NEVER: by request count */
    bool arrivals_done;
    /* prices when a ramp began, per fault and route (a ramp may match
     * routes with different prices) */
    double base_in[SIM_MAX_FAULTS][LD_MAX_ROUTES];
    double base_out[SIM_MAX_FAULTS][LD_MAX_ROUTES];
    double base_quality[SIM_MAX_FAULTS][LD_MAX_ROUTES];
    char *line;               /* event JSON buffer */
    size_t line_cap;
    ld_error *err;
    int failed;               /* a fatal error during the run */
    sim_stats stats;
    int last_progress;
    sim_req *cur;             /* the request the core is working on: the
                                 core's events about it fill its trace
                                 records (a request id tells it apart) */
} sim;


/* ---- helpers ------------------------------------------------------------ */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* llround(x), without the library call on the hot path: for 0 <= x <
 * 2^52, x minus its truncation is exact, and a fraction of one half or
 * more rounds away from zero, as llround does. Anything else (negative,
 * huge, NaN) goes to llround itself. */
static inline long long sim_llround(double x)
{
    if (x >= 0 && x < 4503599627370496.0) {
        long long i = (long long)x;
        return x - (double)i >= 0.5 ? i + 1 : i;
    }
    return llround(x);
}

static inline ld_us ms_to_us(double ms)
{
    if (!(ms > 0))
        return 0;
    if (ms > 1e12)
        return (ld_us)1e15;
    return (ld_us)sim_llround(ms * 1000.0);
}

static inline bool fault_active(const sim_fault *f, int route, ld_us now)
{
    if (!(f->routes >> route & 1))
        return false;
    for (int i = 0; i < f->nwindows; i++)
        if (now >= f->windows[i].start && now < f->windows[i].end)
            return true;
    return false;
}

static inline void push(sim *s, ld_us t, uint32_t kind, uint32_t a, uint64_t b,
                 void *p)
{
    if (s->failed)
        return;
    int rc = sim_evq_push(s->q, t, kind, a, b, p);
    if (rc < 0) {
        ld_error_set(s->err, NULL, NULL, "simulator: event queue: %s",
                     rc == LD_ENOMEM ? "out of memory" : "full");
        s->failed = rc;
    }
}

/* The slot of the request's live attempt numbered no, -1 if none. */
static inline int slot_of(const sim_req *r, uint32_t no)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (r->att[i].state != ATT_FREE && r->att[i].no == no)
            return i;
    return -1;
}

/* Tokens an attempt had received by t (one stopped midway). */
static inline int64_t tokens_by(const sim_att *a, ld_us t)
{
    if (!a->first_done || a->t_first < 0 || t <= a->t_first)
        return 0;
    ld_us streamed = t - a->t_first;
    if (a->stall_start > 0 && t > a->stall_start)
        streamed -= (t < a->stall_end ? t : a->stall_end) - a->stall_start;
    double k = (double)streamed / 1e6 * a->tps;
    if (k > a->res.completion_tokens)
        k = a->res.completion_tokens;
    return k > 0 ? (int64_t)k : 0;
}

/* ---- the provider model (sim_model.c) ------------------------------------ */

/* Fill rm's tables from its provider (rm->prov, NULL: none): once, before
 * the run. */
void sim_model_init(route_model *rm);

/* A new attempt, as the core asked (d: LD_DO_START), arrives at its route's
 * provider model, which plans its answer and pushes its events (or queues
 * it for a server). On a fatal error (more than MAX_LIVE attempts, out of
 * memory) s->failed and s->err are set. */
void sim_model_attempt_start(sim *s, sim_req *r, const ld_do *d);
/* The attempt in slot ends (answered or cancelled): its slot is freed, its
 * pending events become stale, and a server it held goes to the next one
 * waiting. */
void sim_model_attempt_release(sim *s, sim_req *r, int slot);

#endif
