/* sim_scenario.h - scenario files: traffic, provider models and a timeline
 * of injected faults, as the simulator runs them.
 *
 * A scenario is parsed on its own (sim_scenario_parse), then bound to a
 * policy (sim_scenario_bind), which resolves workload, tier and route names
 * to the policy's indices and refuses scenarios the policy does not cover.
 * The format is documented in the README; every error names the file and
 * the JSON path (or, for trace files, the line).
 */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ld.h"
#include "ld_class.h"
#include "ld_policy.h"
#include "sim_dist.h"

#define SIM_MAX_MIX 64
#define SIM_MAX_FAULTS 256
#define SIM_MAX_WINDOWS 4096 /* random-onset windows per fault */
#define SIM_MAX_SCENARIO_BYTES (16 * 1024 * 1024)

typedef enum sim_arrival_kind {
    SIM_ARR_POISSON, /* exponential inter-arrival times at `rate` */
    SIM_ARR_GAMMA,   /* gamma inter-arrival times: mean 1/rate, shape k
                        (k < 1 is burstier than Poisson) */
    SIM_ARR_TRACE    /* timestamps from a recorded trace file */
} sim_arrival_kind;

typedef enum sim_mod_kind {
    SIM_MOD_NONE,
    SIM_MOD_ONOFF,  /* rate for on_s, then rate * off_factor for off_s */
    SIM_MOD_DIURNAL /* rate * (1 + amplitude * sin(2 pi t / period_s)) */
} sim_mod_kind;

typedef struct sim_mix {
    char *workload, *tier; /* names; NULL: the policy's default */
    int workload_idx, tier_idx; /* after bind (-1: default) */
    double share;               /* normalised to sum 1 by the parser */
    sim_dist *input_tokens, *output_tokens; /* never NULL (default:
                                constants 1000 and 200); with trace
                                arrivals the trace gives the sizes */
    unsigned caps;              /* LD_CAP_* the requests need */
} sim_mix;

typedef enum sim_trace_format { SIM_TRACE_CSV, SIM_TRACE_JSONL } sim_trace_format;

/* One arrival of a replayed trace. */
typedef struct sim_trace_row {
    ld_us t;               /* since the first row, after speedup */
    int64_t input_tokens, output_tokens;
    int workload, tier;    /* policy indices, -1: from the mix */
    int64_t key;           /* rows given in memory: the producer's key for
                              the request (`ladder replay`: its index in
                              the recording, see sim_replay.h); rows read
                              from a file: -1 */
    /* this user's patience after arrival (`ladder replay` knows when
     * recorded users gave up); rows read from a file: -1 and 0 */
    ld_us patience_ttft, patience_total; /* -1: drawn from the scenario's
                              model (none: infinite); LD_NEVER: infinite;
                              else exactly this */
    ld_us waited_ttft, waited_total; /* the user is known to have waited
                              this long without giving up: a drawn
                              patience shorter than that is taken as what
                              is left after it */
} sim_trace_row;

typedef struct sim_trace_cfg {
    char *path;           /* resolved against the scenario's directory */
    sim_trace_format format;
    /* column (CSV header name) or key (JSONL) for each field; NULL: the
     * default (CSV TIMESTAMP, ContextTokens, GeneratedTokens; JSONL t_ms,
     * input_tokens, output_tokens); workload and tier NULL: "workload" and
     * "tier" if the file has them, else the mix gives them */
    char *col_time, *col_input, *col_output, *col_workload, *col_tier;
    double time_unit_us;  /* a numeric time's unit in microseconds ("s":
                             1e6, "ms": 1e3, "us": 1); 0: the format's
                             default (CSV seconds, JSONL ms). Dates
                             (YYYY-MM-DD HH:MM:SS.f, UTC) are absolute. */
    double speedup;       /* > 0; 2 replays twice as fast */
    bool skip_bad_rows;   /* count and skip rows that do not parse */
    bool loop;            /* restart the trace until duration_s */
    /* rows given in memory instead of read from `path` (`ladder replay`):
     * nrows rows in time order, already resolved against the policy and
     * sped up (speedup, time_unit_us and the column names are not used);
     * not owned: they must outlive the runs. path then only names the
     * trace in messages. */
    const sim_trace_row *rows;
    size_t nrows;
} sim_trace_cfg;

typedef struct sim_traffic {
    sim_arrival_kind kind;
    double rate;          /* requests per second (poisson, gamma) */
    double gamma_shape;
    sim_mod_kind mod;
    double on_s, off_s, off_factor;
    double period_s, amplitude;
    sim_trace_cfg trace;
    sim_mix mix[SIM_MAX_MIX];
    int nmix;
    sim_dist *patience_ttft;  /* ms until the user gives up waiting for
                                 the first token; NULL: infinite */
    sim_dist *patience_total; /* ms until the user gives up on the whole
                                 answer; NULL: infinite */
} sim_traffic;

struct sim_recorded; /* sim_replay.h */

typedef struct sim_provider {
    char *route;
    int route_idx;            /* after bind */
    sim_dist *ttft_ms;        /* time to first token once served */
    sim_dist *tokens_per_s;   /* generation speed */
    sim_dist *error_ms;       /* time to an error answer; NULL: ttft_ms */
    double err_p[LD_FC_COUNT]; /* baseline probability of each class */
    int concurrency;          /* servers; 0: unlimited */
    int queue;                /* waiting room; -1: unbounded; 0: reject
                                 (503) when every server is busy */
    double rpm, tpm;          /* 0: no limit; over it: 429 */
    double retry_after_s;     /* Retry-After sent with 429; 0: none */
    char *upstream;           /* routes sharing one fail together */
    bool bills_partial;       /* cut streams are billed for what came */
    bool shared;              /* only from providers_file: a route the
                                 policy lacks is ignored, not an error */
    /* `ladder replay`: the route's recorded behaviour (sim_replay.h), not
     * owned; NULL: the model only. With it, an attempt answers as a
     * recorded one, and only when the recording has nothing that fits
     * does the model above serve it; ttft_ms NULL then means "no model"
     * (such attempts fail as connect_error). The parser never sets it. */
    const struct sim_recorded *recorded;
} sim_provider;

typedef enum sim_fault_kind {
    SIM_F_OUTAGE,        /* mode http (status), hang or reset */
    SIM_F_LATENCY,       /* ttft_multiplier, tps_multiplier, add_ms */
    SIM_F_RATE_LIMIT,    /* new rpm/tpm, and/or a storm of 429s with
                            probability; retry_after_s */
    SIM_F_QUOTA,         /* 429 insufficient_quota */
    SIM_F_STREAM_CUT,    /* stream closes after `after_tokens` */
    SIM_F_STREAM_STALL,  /* silence of `stall_ms` after `after_tokens` */
    SIM_F_MALFORMED,     /* a malformed chunk after `after_tokens` */
    SIM_F_NO_DONE,       /* stream ends without [DONE] (after the end) */
    SIM_F_ERROR,         /* any status with a provider error code */
    SIM_F_PRICE,         /* price change: step at start, or ramp */
    SIM_F_QUALITY,       /* quality score drops to `quality` */
    SIM_F_REGION         /* 403 unsupported_country_region_territory */
} sim_fault_kind;

typedef enum sim_outage_mode {
    SIM_OUTAGE_HTTP,
    SIM_OUTAGE_HANG,
    SIM_OUTAGE_RESET
} sim_outage_mode;

typedef struct sim_window {
    ld_us start, end; /* [start, end); end LD_NEVER: until the end */
} sim_window;

typedef struct sim_fault {
    sim_fault_kind kind;
    char *name;      /* "name" if given, else "<type> <target>" */
    char *target;    /* route id, glob (* ?), or "upstream:<name>" */
    uint64_t routes; /* after bind: bit per policy route */
    /* windows: one from start_s/end_s (end LD_NEVER without end_s), or
     * from at_s for price changes and quality drops ({at, LD_NEVER}), or
     * {0, LD_NEVER} without window keys; or many from random onset
     * (mtbf_s/mttr_s, drawn by sim_scenario_reseed from the seed), sorted
     * and disjoint */
    sim_window *windows;
    int nwindows;
    double mtbf_s, mttr_s;      /* > 0: random onset (windows drawn by
                                   sim_scenario_reseed) */
    double probability; /* per attempt, where it applies; default 1 */
    /* outage */
    sim_outage_mode mode;
    int status;
    /* latency */
    double ttft_mult, tps_mult; /* default 1 */
    sim_dist *add_ms;           /* NULL: none */
    /* rate limit (with rpm or tpm and no "probability", probability is 0:
     * no storm of 429s on top of the new limit) */
    double rpm, tpm;            /* 0: unchanged */
    double retry_after_s;       /* -1: none sent */
    /* stream faults */
    sim_dist *after_tokens;     /* NULL: uniform over the answer */
    sim_dist *stall_ms;
    /* error */
    int err_status;
    char *err_code, *err_type, *err_message;
    /* price (USD per million tokens; -1: unchanged) */
    double price_in, price_out;
    bool ramp;                  /* linear from the old price over the
                                   window, instead of a step at start */
    /* quality */
    double quality;
} sim_fault;

typedef struct sim_scenario {
    char *name, *description;
    char *file, *base_dir;
    double duration_s;  /* arrivals stop then; 0 with requests set */
    int64_t requests;   /* arrivals stop after this many; 0: duration */
    uint64_t seed;
    double interval_s;  /* time-series interval; default 60 (or less for
                           short runs, so there are at least 20) */
    double drain_s;     /* after arrivals stop, how long requests in flight
                           may finish; default 600 */
    sim_traffic traffic;
    sim_provider providers[LD_MAX_ROUTES];
    int nproviders;
    sim_fault faults[SIM_MAX_FAULTS];
    int nfaults;
} sim_scenario;

/* Parse scenario text. file names it in errors; base_dir resolves relative
 * file names (traces, empirical distributions). */
int sim_scenario_parse(const char *text, size_t len, const char *file,
                       const char *base_dir, sim_scenario **out,
                       ld_error *err);
/* Read and parse a scenario file (base_dir: the file's directory). */
int sim_scenario_load(const char *path, sim_scenario **out, ld_error *err);
void sim_scenario_free(sim_scenario *sc);

/* Resolve names against a policy: every mix workload/tier must exist,
 * every provider must be a policy route, every fault target must match at
 * least one route; every route of the workloads used must have a provider
 * model. Errors name the scenario file and path. */
int sim_scenario_bind(sim_scenario *sc, const ld_policy *p, ld_error *err);

/* Set the seed and draw the random-onset fault windows for it (exponential
 * up and down times from mtbf_s/mttr_s, from t = 0 over the run plus
 * drain_s, where the run is duration_s, else requests / rate, else a day;
 * at most SIM_MAX_WINDOWS). Each fault has a stream of its own seeded from
 * (seed, its position), so windows depend on nothing else. The parser calls
 * it with the file's seed; `ladder compare --seeds` calls it per seed. */
int sim_scenario_reseed(sim_scenario *sc, uint64_t seed, ld_error *err);

/* Index of the provider model for a policy route, -1 if none. */
int sim_scenario_provider_for(const sim_scenario *sc, int route);

/* ---- trace replay ----------------------------------------------------- */

typedef struct sim_trace sim_trace;

/* Open the scenario's trace (after bind, so workload/tier names in the
 * trace resolve; p must outlive the trace). Reads the header and the first
 * good row: a trace without one is an error ("file: no requests in
 * trace"), and so is a header lacking a column the scenario names. */
int sim_trace_open(const sim_scenario *sc, const ld_policy *p,
                   sim_trace **out, ld_error *err);
/* 1: a row, 0: end of trace, negative: error naming file:line (the reader
 * then stays failed: LD_ESTATE). Bad rows (a cell that does not parse,
 * negative tokens, a missing column, time going back, a workload or tier
 * the policy lacks or a workload whose routes have no provider model) are
 * errors, or skipped and counted with skip_bad_rows. With loop the trace
 * restarts after its last row, one mean inter-arrival gap later, and never
 * returns 0: the caller stops at duration_s or requests. */
int sim_trace_next(sim_trace *t, sim_trace_row *row, ld_error *err);
/* Rows skipped as bad so far (each counted once, even with loop). */
int64_t sim_trace_skipped(const sim_trace *t);
void sim_trace_close(sim_trace *t);

#endif
