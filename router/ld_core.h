/* ld_core.h - the routing core: one state machine per request, shared
 * per-route health, every fallback decision.
 *
 * A host (the simulator or the live router) drives it like this:
 *
 *   ld_req_start(core, &spec, now, rng, &req);
 *   loop:
 *     while (ld_req_next(req, &what) == 1) carry out `what`:
 *       LD_DO_START   start attempt what.attempt on what.route
 *       LD_DO_CANCEL  stop attempt what.attempt; report nothing more for it
 *       LD_DO_FINISH  the request is over (what.outcome); answer the user
 *                     (safe failure or error event when it failed) and
 *                     ld_req_free(req)
 *     tell the core what happened, at the time it happened:
 *       ld_req_first_token  the attempt's first token (or whole body) arrived
 *       ld_req_progress     more of the stream arrived
 *       ld_req_end          the attempt ended (raw result: status, error...)
 *       ld_req_tick         the time ld_req_wake_at() asked for has come
 *       ld_req_abandon      the user went away
 *
 * The core classifies results, applies the policy's rules, shortens timeouts
 * to the request's deadline, hedges, keeps breakers and retry budgets, and
 * reports every step to the event sink. Timeouts are the core's too: a host
 * only has to wake it at ld_req_wake_at().
 *
 * Time is an argument everywhere; randomness (backoff jitter) comes from the
 * ld_rng passed in. Requests come from a pool owned by the core: in steady
 * state no call allocates.
 */
#ifndef LD_CORE_H
#define LD_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "ld.h"
#include "ld_class.h"
#include "ld_event.h"
#include "ld_policy.h"
#include "ld_quota.h"

typedef struct ld_core ld_core;
typedef struct ld_req ld_req;

/* The policy must outlive the core. NULL if out of memory. */
ld_core *ld_core_new(const ld_policy *p);
void ld_core_free(ld_core *c);
const ld_policy *ld_core_policy(const ld_core *c);

/* Events go to fn(ud, ev); NULL fn drops them. */
void ld_core_set_sink(ld_core *c, ld_event_fn fn, void *ud);

/* Current price of a route (USD per million tokens), as a price change
 * becomes known. LD_EINVAL for a bad route or a negative price. */
int ld_core_set_price(ld_core *c, int route, double input_per_mtok,
                      double output_per_mtok);
/* Current quality score of a route (a quality drop). */
int ld_core_set_quality(ld_core *c, int route, double quality);

/* A route's health, for metrics and `ladder check`. */
typedef struct ld_route_health {
    ld_breaker_state breaker;
    int in_flight;
    ld_us blocked_until; /* rate limit or quota: 0 when not blocked */
    ld_us ttft_p50, ttft_p95; /* -1 while unknown */
    double input_per_mtok, output_per_mtok, quality;
} ld_route_health;

int ld_core_route_health(ld_core *c, int route, ld_us now,
                         ld_route_health *out);
/* The routes of `workload` a stream cut after its first token may be
 * continued on (those whose capabilities let a continuation qualify: the
 * workload's required ones and a prefill), in candidate order: writes at
 * most cap indices and returns how many there are; 0 when the workload
 * continues no stream (continue_streams 0), LD_EINVAL for a bad index. */
int ld_core_continue_routes(const ld_policy *p, int workload, int *routes,
                            int cap);

/* How long from now until a request of `workload` (-1: the default) could
 * be served again: 0 when one of its routes is neither blocked by a
 * Retry-After or quota nor behind an open breaker, else the soonest one of
 * them is (never more than the policy's max_retry_after). What a host
 * sends as Retry-After with a 429 or 503. */
ld_us ld_core_retry_hint(ld_core *c, int workload, ld_us now);

/* A route's current quality score alone (cheap: for every answer's
 * headers); -1 for a bad route. */
double ld_core_route_quality(const ld_core *c, int route);

typedef struct ld_req_spec {
    int workload;          /* policy index; -1: the policy's default */
    int tier;              /* -1: the workload's default, else the policy's */
    int64_t input_tokens;  /* estimate of the prompt */
    int64_t output_tokens; /* expected answer (max_tokens); <= 0: default */
    unsigned caps;         /* LD_CAP_* the request needs */
    uint64_t id;           /* for events; 0: the core numbers requests */
    bool pinned;           /* the first attempt goes to pin_route (a model
                              name that pins a route, ld_policy_resolve_model) */
    int pin_route;         /* with pinned: a route of the workload */
    bool pin_fallback;     /* with pinned: when it fails, the workload's
                              rules walk on; false: only the pinned route
                              (and its retries), then the safe failure */
    int n;                 /* choices asked for ("n"); <= 1: one. Expected
                              output and cost are output_tokens x n; set
                              LD_CAP_N in caps when n > 1 */
    uint64_t fingerprint;  /* what makes two requests the same (the host
                              hashes the client key, workload, tier, API
                              and body); 0: none. A request whose twin
                              failed in the last health.repeat_failure_s
                              (never past a block or breaker lift the core
                              knows, and until a request of the workload is
                              served) finishes at once with the same
                              failure and no attempt: repeat in its FINISH,
                              DONE event and info. That keeps a client
                              library's retries of a failed call from
                              walking the ladder again. */
} ld_req_spec;

/* A client key's limits (ld_quota.h), for ld_req_start_keyed. */
typedef struct ld_req_key {
    ld_quota *quota;       /* must outlive the request */
    int key;               /* index in quota */
    ld_us wall;            /* UTC wall time at arrival, us since the epoch */
} ld_req_key;

typedef enum ld_do_kind {
    LD_DO_START,
    LD_DO_CANCEL,
    LD_DO_FINISH
} ld_do_kind;

typedef struct ld_do {
    ld_do_kind kind;
    uint32_t attempt;   /* START, CANCEL */
    int route;          /* START, CANCEL; FINISH: route that served or -1 */
    bool hedge;         /* START */
    bool resume;        /* START: continue the answer the user already has
                           (send the route what was sent as an assistant
                           prefill, stream the rest after it) */
    ld_us ttft_deadline; /* START: absolute; the core enforces it */
    ld_us deadline;      /* START: absolute end of the request */
    ld_us stall;         /* START: longest silence inside the stream */
    ld_outcome outcome; /* FINISH */
    bool mid_stream;    /* FINISH, failed after the first token was sent */
    ld_class cls;       /* FINISH: why it failed, or first fallback class */
    int status;         /* FINISH failed: safe failure status */
    int client_status;  /* FINISH: the status the client got: 200 for a
                           success and for a failure after the answer
                           started (it ends in an error event), 499 when
                           the user left, else the safe failure's; the
                           DONE event and the trace carry it */
    const char *message; /* FINISH failed: safe failure text (the policy's) */
    int key_limit;      /* FINISH key_limit: the LD_QUOTA_* that refused */
    ld_us retry_after;  /* FINISH key_limit: until that window reopens */
    bool repeat;        /* FINISH failed: a repeat of a request that had
                           just failed (ld_req_spec.fingerprint) */
} ld_do;

/* Start a request. LD_EINVAL for a bad workload or tier index (or a pinned
 * route that is not one of the workload's), LD_ENOMEM
 * when the pool cannot grow. On success the first actions are waiting in
 * ld_req_next (an attempt, or a FINISH when nothing qualifies). */
int ld_req_start(ld_core *c, const ld_req_spec *spec, ld_us now,
                 const ld_rng *rng, ld_req **out);

/* As ld_req_start, for a request made with a client key: it is taken
 * against the key's limits before any attempt (its prompt and expected
 * answer, its cost on the workload's first route) and settled with what it
 * cost when it ends. Over a limit it finishes at once: failed, class
 * key_limit, status 429, with key_limit and retry_after (until the window
 * reopens) in its LD_DO_FINISH and ld_req_info. LD_EINVAL for a bad key. */
int ld_req_start_keyed(ld_core *c, const ld_req_spec *spec,
                       const ld_req_key *key, ld_us now, const ld_rng *rng,
                       ld_req **out);

/* As ld_req_start_keyed (key may be NULL), for a request that arrived at
 * `arrived` (<= now) and waited in the host's admission queue until now:
 * its deadline, TTFT and latency count from its arrival, so the wait
 * shortens what is left for its attempts. An `arrived` after now is now. */
int ld_req_start_waited(ld_core *c, const ld_req_spec *spec,
                        const ld_req_key *key, ld_us arrived, ld_us now,
                        const ld_rng *rng, ld_req **out);
/* Take the next action; 1 when *out was filled, 0 when there is none. */
int ld_req_next(ld_req *r, ld_do *out);

/* Reports. `attempt` is the number from LD_DO_START; reports about an
 * attempt that was cancelled or has ended are ignored (LD_ESTATE), as are
 * reports after the request finished. */
int ld_req_first_token(ld_req *r, uint32_t attempt, ld_us now);
int ld_req_progress(ld_req *r, uint32_t attempt, ld_us now);
int ld_req_end(ld_req *r, uint32_t attempt, ld_us now,
               const ld_raw_result *res, const ld_rng *rng);
int ld_req_tick(ld_req *r, ld_us now, const ld_rng *rng);
int ld_req_abandon(ld_req *r, ld_us now);
/* The host is stopping (a drain's limit) and r cannot run to its end: it
 * finishes at once, failed with class shutdown, its attempts cancelled
 * (reason shutdown). The client gets status 503 and LD_SHUTDOWN_MESSAGE,
 * or, when its answer had started, 200 and an error at the end of the
 * stream (mid_stream). LD_ESTATE after the request finished. */
int ld_req_shutdown(ld_req *r, ld_us now);
#define LD_SHUTDOWN_MESSAGE "the router is shutting down; retry the request"
#define LD_SHUTDOWN_STATUS 503

/* When the core next needs ld_req_tick; LD_NEVER when it waits for
 * reports only (or has finished). */
ld_us ld_req_wake_at(const ld_req *r);

/* What happened to a request, for the host's statistics. */
typedef struct ld_req_info {
    uint64_t id;
    int workload, tier;
    ld_outcome outcome;
    int route;          /* route that served it, or -1 */
    int attempts;       /* attempts started, hedges included */
    int hedges;
    bool fell_back;     /* served (or failed) elsewhere than the first rung */
    ld_class first_cls; /* first failure or skip class; NONE if none */
    ld_us arrived, ttft, latency; /* ttft/latency after arrival; -1 none */
    double cost;        /* USD billed */
    ld_us limit_ttft, limit_total; /* its workload and tier's ceilings;
                                      0 when none */
    int key_limit;      /* LD_QUOTA_* that refused it (key_limit), else 0 */
    ld_us retry_after;  /* ...and until that window reopens */
    bool repeat;        /* answered as a repeat of a failed request */
} ld_req_info;

void ld_req_info_get(const ld_req *r, ld_req_info *out);

/* Return the request to the pool. A request freed before it finished has
 * its attempts forgotten (breaker probes released) without events. */
void ld_req_free(ld_req *r);

/* ---- a policy reload -------------------------------------------------------
 * A host that loads a new policy makes a new core for it and lets the
 * requests in flight finish on the old one. What the old core learnt about
 * the upstreams carries over for every route of `dst` whose id and upstream
 * (provider, model, base_url) are the same in `src`: its breaker (state,
 * open time, calls in the window), its Retry-After or quota block while it
 * lasts, its first-token latency window and its tokens-per-second
 * estimate. The retry budget carries over when its window is the same. The
 * new policy's prices and quality scores stand; requests in flight stay
 * with src. Emits no event. Returns the number of routes that carried
 * health over; LD_EINVAL for a NULL core. */
int ld_core_adopt_health(ld_core *dst, const ld_core *src, ld_us now);

/* ---- shared health ---------------------------------------------------------
 * Hosts in front of the same providers can share what they learn: a host
 * publishes the BLOCK events and the BREAKER events to "open" its core
 * emits, and applies the other hosts' with these calls (times on this
 * core's clock). Each emits its own event, marked `shared`, which a host
 * must not publish again. Neither is ever needed: a core alone learns the
 * same by itself, one failed attempt later. */

/* Block a route until `until` (a Retry-After or a quota another host got);
 * nothing happens when the route is already blocked as long. LD_EINVAL for
 * a bad route or a class other than rate_limited or quota_exhausted. */
/* A reload: a request that took its key's limits from one quota settles
 * them (the estimate replaced by the cost) in q's key `key` instead, the
 * same key in the new keys (-1: the key is gone; nothing is settled).
 * q must already hold what the request took (ld_quota_adopt). */
int ld_req_rekey(ld_req *r, ld_quota *q, int key);

/* A reload: an attempt on route `route` that an earlier core (whose
 * health this one adopted, ld_core_adopt_health) had in flight has ended:
 * the route's max_concurrency counts it no more. LD_EINVAL for a bad
 * route. */
int ld_core_release_borrowed(ld_core *c, int route);

int ld_core_block_route(ld_core *c, int route, ld_class cls, ld_us until,
                        ld_us now);
/* Open a route's breaker as if it had opened at `opened_at` (when another
 * host's opened): it stays open until opened_at plus its open_for, then
 * probes as usual; nothing happens when that time has passed or the
 * breaker is open already. LD_EINVAL for a bad route or a future time. */
int ld_core_trip_breaker(ld_core *c, int route, ld_us opened_at, ld_us now);

/* The table of failed walks, shared the same way: a host publishes the
 * DONE events that carry repeat_fp (a failed walk remembered; not one
 * marked repeat_local) or
 * repeat_cleared (a success that forgot the workload's failures of the
 * routes' health) and gives the other hosts' to these. They emit nothing.
 * learn: request fp of `workload` failed elsewhere with cls, remembered
 * until `until`; the core keeps it as its own (a repeat here is answered
 * without an attempt) no longer than its own repeat_failure from now nor
 * past the soonest lift of a block or breaker of the workload's routes,
 * and not at all without repeat_failure, for a class it never
 * remembers (a key's limit, a shutdown) or for a class local to the host
 * that saw it (ld_class_is_local: that host's network, credentials or
 * breaker; such a walk's DONE event says repeat_local, and a host does
 * not publish it). forget: another host served
 * `workload`, as ld_repeat_clear_workload; returns the entries forgotten.
 * LD_EINVAL for a NULL core, fp 0, a bad workload or class. */
int ld_core_repeat_learn(ld_core *c, uint64_t fp, int workload, ld_class cls,
                         ld_us until, ld_us now);
int ld_core_repeat_forget(ld_core *c, int workload, ld_us now);

/* ---- explaining a policy (for `ladder check`) -----------------------------
 * What the core does when the first attempt of a fresh request (all routes
 * healthy) fails with `cls`, followed until the request leaves that route or
 * ends: the same decision code a live request runs. */
#define LD_EXPLAIN_MAX 24

typedef struct ld_explain {
    int primary;            /* route of the first attempt; -1 if none */
    double primary_cost;    /* its estimated cost, USD */
    ld_event steps[LD_EXPLAIN_MAX]; /* SKIP, RETRY, FALLBACK, DONE events */
    int nsteps;
    int final_route;        /* route it moves to; -1 when it fails */
    bool designed;          /* a rule (or the wildcard) names the class */
    bool dead_end;          /* ends in the safe failure without a "fail" */
    bool inherent;          /* ...because no route of the workload could
                               ever do better (nothing has a larger context
                               window, or other regions): not a design gap */
} ld_explain;

/* cls LD_FC_NONE explains the request's start only. LD_EINVAL for bad
 * indices, LD_ENOMEM. */
int ld_explain_class(const ld_policy *p, int workload, int tier, ld_class cls,
                     int64_t input_tokens, int64_t output_tokens,
                     ld_explain *out);

#endif
