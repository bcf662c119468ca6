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

#include <cjson/cJSON.h>

#include "ld.h"
#include "ld_class.h"
#include "ld_policy.h"
#include "ld_quota.h"
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
    char *workload, *tier; /* the scenario's names; NULL: the policy's
                              default */
    int workload_idx, tier_idx; /* after bind (-1: default): the policy's
                              workload and tier, by name or mapping */
    ld_us slo_ttft, slo_total;  /* after bind: the service level its users
                              expect (sim_scenario.h, service_level); 0:
                              none */
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
    int slo;               /* index into the scenario's service levels,
                              -1: the mix's (or the workload's) */
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

/* A tenant (a client key) of the traffic: its share of the requests, the
 * tier its requests get (NULL: the mix's), the mix entries its requests
 * are drawn from (mix_mask: bit per entry; all ones: every entry) and its
 * limits, enforced by the core (ld_quota.h) as the live router does. */
#define SIM_MAX_TENANTS 64
#define SIM_TENANT_ID_MAX 64
typedef struct sim_tenant {
    char *id;
    double share;          /* normalised to sum 1 by the parser */
    char *tier;            /* the policy's tier name; NULL: the mix's */
    uint64_t mix_mask;
    ld_key_limits lim;
} sim_tenant;

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
    sim_tenant tenants[SIM_MAX_TENANTS]; /* none: requests carry no key */
    int ntenants;
    sim_dist *patience_ttft;  /* ms until the user gives up waiting for
                                 the first token; NULL: infinite */
    sim_dist *patience_total; /* ms until the user gives up on the whole
                                 answer; NULL: infinite */
} sim_traffic;

struct sim_recorded; /* sim_replay.h */

/* A provider model: how one model behind one upstream behaves. Its name
 * is the scenario's own; policies' routes are bound to it (see
 * sim_scenario_bind). */
typedef struct sim_provider {
    char *name;
    char *model;              /* the model it serves (e.g. "gpt-4.1"), for
                                 binding by (upstream, model); NULL: none */
    sim_dist *ttft_ms;        /* time to first token once served */
    sim_dist *tokens_per_s;   /* generation speed */
    sim_dist *error_ms;       /* time to an error answer; NULL: ttft_ms */
    double err_p[LD_FC_COUNT]; /* baseline probability of each class */
    int concurrency;          /* servers; 0: unlimited */
    int queue;                /* waiting room; -1: unbounded; 0: reject
                                 (503) when every server is busy */
    double rpm, tpm;          /* 0: no limit; over it: 429 */
    double retry_after_s;     /* Retry-After sent with 429; 0: none */
    char *upstream;           /* the provider behind it (e.g. "openai"):
                                 models sharing one fail together, and
                                 routes bind by (upstream, model) */
    bool bills_partial;       /* cut streams are billed for what came */
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
    char *target;    /* a provider model or route id, a glob (* ?) of
                        either, "upstream:NAME", "model:NAME", "rung:N"
                        (each workload's Nth rung) or "role:NAME" */
    uint64_t routes; /* after bind: bit per policy route (0: this policy
                        has no route it hits; the fault is then ignored) */
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

/* The ceilings a workload's users tolerate; judged alike for every policy
 * ("minutes over the ceiling"). */
typedef struct sim_slo {
    char *workload; /* the scenario's workload name; "*": any other */
    ld_us ttft, total; /* 0: no ceiling */
} sim_slo;

#define SIM_MAX_SLO 64
#define SIM_MAX_MAP 64
#define SIM_MAX_NOTES 64

/* A name of the scenario's taken as another of the policy's. */
typedef struct sim_map {
    char *from, *to;
} sim_map;

/* How a route found its provider model. */
typedef enum sim_bind_how {
    SIM_BIND_NONE,
    SIM_BIND_FLAG,     /* --bind ROUTE=MODEL */
    SIM_BIND_ID,       /* a provider model named like the route */
    SIM_BIND_UPSTREAM, /* the same (upstream or provider, model) */
    SIM_BIND_MODEL,    /* the only provider model serving its model */
    SIM_BIND_DEFAULT,  /* the scenario's default_provider */
    SIM_BIND_HOST      /* set by a host (`ladder replay`) */
} sim_bind_how;

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
    char *default_provider;  /* routes bound to nothing else take it */
    sim_slo slo[SIM_MAX_SLO]; /* "service_level" */
    int nslo;
    sim_map map_workload[SIM_MAX_MAP], map_tier[SIM_MAX_MAP]; /* "mapping" */
    int nmap_workload, nmap_tier;
    /* after bind: each policy route's provider model (-1: none, a route no
     * workload of the mix uses) and how it was found */
    int bind[LD_MAX_ROUTES];
    sim_bind_how bind_how[LD_MAX_ROUTES];
    int nroutes_bound;       /* the policy's route count */
    bool slo_from_policy;    /* no service_level: each policy's own */
    /* after bind: the command line's --map-* (not owned: the bind
     * options' strings must outlive the runs) */
    const char *const *bound_map_workload, *const *bound_map_tier;
    int nbound_map_workload, nbound_map_tier;
    /* warnings for people (the parser's, then the last bind's): never an
     * error, never silent */
    char *notes[SIM_MAX_NOTES];
    int nnotes, nparse_notes;
} sim_scenario;

/* Extra binding instructions from the command line: "ROUTE=MODEL" for
 * binds, "SCENARIO_NAME=POLICY_NAME" for maps. They come before the
 * scenario's own mapping. */
typedef struct sim_bind_opts {
    const char *const *binds;
    int nbinds;
    const char *const *map_workload;
    int nmap_workload;
    const char *const *map_tier;
    int nmap_tier;
} sim_bind_opts;

/* Parse scenario text. file names it in errors; base_dir resolves relative
 * file names (traces, empirical distributions). */
int sim_scenario_parse(const char *text, size_t len, const char *file,
                       const char *base_dir, sim_scenario **out,
                       ld_error *err);
/* Read and parse a scenario file (base_dir: the file's directory). */
int sim_scenario_load(const char *path, sim_scenario **out, ld_error *err);
void sim_scenario_free(sim_scenario *sc);

/* Bind the scenario to a policy (the scenario describes the world, the
 * policy the ladder; sim_bind.c has the rules):
 * - each route the mix's workloads use gets a provider model: the one
 *   --bind names, else the one named like the route id, else the one with
 *   the route's (upstream, or provider adapter, model), else the only one
 *   serving its model, else default_provider; none is an error naming the
 *   route and listing the provider models;
 * - mix workloads and tiers the policy lacks go through --map-*, then the
 *   scenario's "mapping", else to the policy's defaults with a note;
 * - each fault target resolves to routes (a target naming nothing the
 *   scenario or policy knows is an error; one that hits no route of this
 *   policy is ignored, with a note);
 * - provider models no route uses are ignored.
 * May be called again with another policy (notes of the last bind only).
 * Errors name the scenario file and path, or the option. */
int sim_scenario_bind_opts(sim_scenario *sc, const ld_policy *p,
                           const sim_bind_opts *o, ld_error *err);
/* sim_scenario_bind_opts with no options. */
int sim_scenario_bind(sim_scenario *sc, const ld_policy *p, ld_error *err);

/* The binding, for people (a few lines: route -> provider model, why) and
 * for --json ({"routes": {id: {"provider", "by"}}, "workloads":
 * {scenario name: policy name}, "tiers": {...}, "ignored_faults": [..]}).
 * The JSON is NULL when out of memory. */
void sim_scenario_print_binding(const sim_scenario *sc, const ld_policy *p,
                                FILE *f);
cJSON *sim_scenario_binding_json(const sim_scenario *sc, const ld_policy *p);

/* The service level of a request from mix entry `mix` (a trace row's own
 * slo index when >= 0): true with the ceilings (0: none), or false when the
 * scenario has no service_level (the host then judges each policy by its
 * own constraints, and bind said so in a note). */
bool sim_scenario_slo_for(const sim_scenario *sc, int mix, int slo,
                          ld_us *ttft, ld_us *total);

/* A trace row's workload (tier false) or tier name to the policy's index,
 * by name or the bind's mapping; -1 when neither. */
int sim_scenario_resolve_name(const sim_scenario *sc, const ld_policy *p,
                              bool tier, const char *name);
/* The service_level entry for a scenario workload name (NULL: none), else
 * the "*" entry; -1 when neither. */
int sim_scenario_slo_index(const sim_scenario *sc, const char *workload);

/* Add a note (printf-style); LD_ENOMEM, or silently nothing past
 * SIM_MAX_NOTES (the last note then says notes were dropped). */
int sim_scenario_note(sim_scenario *sc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Set the seed and draw the random-onset fault windows for it (exponential
 * up and down times from mtbf_s/mttr_s, from t = 0 over the run plus
 * drain_s, where the run is duration_s, else requests / rate, else a day;
 * at most SIM_MAX_WINDOWS). Each fault has a stream of its own seeded from
 * (seed, its position), so windows depend on nothing else. The parser calls
 * it with the file's seed; `ladder compare --seeds` calls it per seed. */
int sim_scenario_reseed(sim_scenario *sc, uint64_t seed, ld_error *err);

/* Index of the provider model for a policy route, -1 if none (after
 * bind). */
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
