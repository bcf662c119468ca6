/* sim_replay.h - request traces (docs/trace-format.md): the simulator
 * writes them (`ladder sim --trace`), and `ladder replay` plays one back
 * through a candidate policy on the simulator.
 *
 * A replay keeps what the recording knows and the policy cannot change:
 * the arrivals (t_ms, sped up), the request sizes, workloads and tiers, the
 * users who gave up (at the same time after arrival), and how each route
 * answered. When the policy sends an attempt to route R, its outcome comes
 * from, in this order:
 *   (a) the same request's attempt on R: its k-th try there replays its
 *       k-th recorded attempt there;
 *   (b) an attempt recorded on R near the attempt's time: one of the
 *       SIM_REPLAY_NEAR nearest within the window, chosen with the
 *       attempt's own random stream (so the choice is reproducible and the
 *       same for every policy on a seed). When (a) found the request's try
 *       but it was stopped before it showed anything, only attempts that
 *       showed nothing (no first token, no end) for at least as long are
 *       candidates, if there are any within the window;
 *   (c) the scenario's provider model for R (`--scenario`), faults, limits
 *       and queues included;
 *   else the attempt fails at once as connect_error (and is counted).
 * How a recorded attempt replays is sim_replay_pick's comment.
 */
#ifndef SIM_REPLAY_H
#define SIM_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <gsl/gsl_rng.h>

#include "ld.h"
#include "ld_class.h"
#include "ld_event.h"
#include "ld_policy.h"
#include "ld_trace.h"
#include "sim_scenario.h"

#define SIM_REPLAY_MAX_LINE ((size_t)1 << 20) /* bytes per trace line */
#define SIM_REPLAY_MAX_REQUESTS 10000000 /* lines a replay reads */
#define SIM_REPLAY_NEAR 8              /* nearby attempts to choose from */

/* ---- writing ----------------------------------------------------------- */

/* The simulator and the live router write trace lines with ld_trace.h. */

/* ---- reading ----------------------------------------------------------- */

typedef struct sim_recorded sim_recorded;

typedef struct sim_replay_opts {
    double speedup;     /* arrivals come this many times faster; 0: 1 */
    double window_s;    /* (b) looks this far either side; 0: 60 */
    bool skip_bad_rows; /* skip and count bad lines instead of failing */
} sim_replay_opts;

/* Read a trace and resolve its names against p (which must outlive the
 * result). Lines may come in any order (requests are written as they
 * finish): requests are sorted by t_ms (then line), and times count from
 * the earliest. Blank lines are skipped.
 *
 * Errors name the file and the line ("trace.jsonl:12: attempts[1].class:
 * \"oops\" is not a failure class"): a line that is not a JSON object, a
 * version other than 1, a missing or mistyped key the replay uses, a
 * negative time or count, a workload or tier the policy lacks, a line over
 * SIM_REPLAY_MAX_LINE bytes. With skip_bad_rows such lines are skipped and
 * counted instead. Also errors: no request at all ("trace.jsonl: no
 * requests in trace"), more than SIM_REPLAY_MAX_REQUESTS (LD_ELIMIT), a
 * file that cannot be read, out of memory. Attempts on routes the policy
 * lacks are kept out of the replay (counted); attempts past the first
 * LD_TRACE_MAX_ATT of a line are ignored (counted). */
int sim_replay_load(const char *path, const ld_policy *p,
                    const sim_replay_opts *o, sim_recorded **out,
                    ld_error *err);
void sim_replay_free(sim_recorded *rec);

typedef struct sim_replay_info {
    int64_t requests;         /* lines read */
    int64_t skipped;          /* bad lines skipped */
    int64_t attempts;         /* attempts read (on policy routes or not) */
    int64_t attempts_foreign; /* on routes the policy lacks */
    int64_t attempts_ignored; /* past LD_TRACE_MAX_ATT in their line */
    double span_s;            /* last arrival after the first (sped up) */
    double speedup, window_s;
    const char *foreign[4];   /* some route names the policy lacks */
    int nforeign;
} sim_replay_info;

void sim_replay_info_get(const sim_recorded *rec, sim_replay_info *out);

/* Attempts recorded on a policy route. */
int64_t sim_replay_route_attempts(const sim_recorded *rec, int route);

/* The scenario a replay runs, taking base over (NULL, or a scenario bound
 * to p; it is freed on failure too): the recording's arrivals replace the
 * traffic's (its mix is dropped; its patience model stays for the users
 * who did not give up in the recording), every policy route gets a
 * provider with the recorded behaviour (routes base models keep their
 * model, for (c)), faults stay and apply to model-served attempts. Without
 * base: no models, no faults, seed 1. The scenario points into rec, which
 * must outlive it. LD_ENOMEM. */
int sim_replay_scenario(const sim_recorded *rec, const ld_policy *p,
                        sim_scenario *base, sim_scenario **out,
                        ld_error *err);

/* Routes some recorded workload may use that have no usable recorded
 * attempt (none, or only ones cancelled before a first token) and that sc
 * does not model: their attempts will fail as connect_error. Writes at
 * most cap route indices, returns how many there are. */
int sim_replay_uncovered(const sim_recorded *rec, const sim_scenario *sc,
                         const ld_policy *p, int *routes, int cap);

/* ---- replaying (the simulator's hook) ----------------------------------- */

enum { SIM_REPLAY_NONE = 0, SIM_REPLAY_SAME = 1, SIM_REPLAY_NEAR_IN_TIME = 2 };

/* How an attempt replays, in times after its start. */
typedef struct sim_replay_plan {
    ld_class cls;      /* LD_FC_NONE: a complete answer; else how it ends */
    ld_us ttft;        /* first token; -1 none */
    ld_us end;         /* the end; LD_NEVER: it never ends by itself */
    ld_us stall;       /* >= 0: silent from then on (stream_stall); -1 */
    int64_t tokens;    /* tokens it delivers */
    double tps;        /* generation speed, tokens/s (0 unknown) */
    ld_us retry_after; /* rate_limited: Retry-After; -1 none */
} sim_replay_plan;

/* The outcome of the k-th try (0-based) of request `key` on `route` at
 * `now` (replay time), for a request of out_tokens answer tokens: (a) or
 * (b) above, drawing from rng only for (b) with more than one candidate.
 * Returns SIM_REPLAY_SAME or SIM_REPLAY_NEAR_IN_TIME with *out filled, or
 * SIM_REPLAY_NONE.
 *
 * A recorded attempt replays as:
 *   success: first token after its ttft_ms (its duration when null: a
 *     whole answer at once), end after its duration_ms, the generation
 *     time scaled by out_tokens / its output_tokens when both are > 0;
 *   timeout_ttft: never answers; stream_stall: first token, then silence;
 *   timeout_total: first token if it had one, then never ends;
 *   stream_cut, invalid_response: first token if it had one, then that
 *     failure after duration_ms with its tokens;
 *   any other class: that failure after duration_ms (rate_limited with
 *     its retry_after_ms);
 *   cancelled with class none or timeout_total (hedge lost, user gone,
 *     the request's deadline): with a ttft, a success with that ttft and
 *     out_tokens at the speed it was streaming at (the tokens it had
 *     received over the time since its first token), or, when it had
 *     received none, at the route's median recorded speed (the trace's
 *     when the route has none; no generation time when neither is known);
 *     without one it says nothing and is passed over, in (a) and (b).
 * Cancelled attempts of other classes (timeouts) replay by their class. */
int sim_replay_pick(const sim_recorded *rec, int64_t key, int route, int k,
                    ld_us now, int64_t out_tokens, gsl_rng *rng,
                    sim_replay_plan *out);

#endif
