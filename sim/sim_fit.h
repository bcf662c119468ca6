/* sim_fit.h - fit provider models (the "providers" block of a scenario)
 * from a CSV of recorded requests, one row per request.
 *
 * Rows are grouped by the values of one or more columns (default provider
 * and model_size); a group's key is its values joined with "-" ("groq-70b")
 * and its route id is the key, or what a route map says. Per group:
 *
 *   ttft_ms       lognormal by maximum likelihood on the logs of the
 *                 successful requests' TTFT: median = exp(mean ln x),
 *                 sigma = sd of ln x (1/n, the ML estimate).
 *   tokens_per_s  normal (mean, sd with n - 1, "min": 1) or lognormal,
 *                 whichever has the smaller Kolmogorov-Smirnov D.
 *   errors        the share of the group's rows in each failure class
 *                 (sim_fit_classify).
 *
 * Each fit also keeps what a reader needs to judge it: n, observed and
 * fitted p50/p99, the KS D of each family. The KS D uses parameters fitted
 * on the same data, so the usual critical value (about 1.36 / sqrt(n) at
 * 5%) is conservative: a D above it is a poor fit for certain.
 *
 * A row is an error when its error column is not empty. Successful rows
 * need a TTFT > 0 and a speed > 0 (the speed column, or output tokens /
 * (end-to-end - TTFT) when the file has no speed column); error rows only
 * need their group columns. Rows lacking what they need are skipped and
 * counted, and the first SIM_FIT_MAX_NOTES reasons kept ("line 7: ttft_s
 * is not a number (\"abc\")"). Groups with fewer than min_samples
 * successful rows are kept but not fitted.
 *
 * The library never prints: warnings are returned (notes, unfitted groups),
 * errors go into the ld_error.
 */
#ifndef SIM_FIT_H
#define SIM_FIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ld.h"
#include "ld_class.h"
#include "sim_csv.h"

#define SIM_FIT_MAX_BY 8                /* group columns */
#define SIM_FIT_MAX_GROUPS 4096
#define SIM_FIT_MAX_ROWS ((int64_t)1 << 24)
#define SIM_FIT_MAX_KEY 256             /* group key and route id, with NUL */
#define SIM_FIT_MAX_NOTES 5             /* bad-row reasons kept */
#define SIM_FIT_MAX_CODES 16            /* distinct error codes per group */
#define SIM_FIT_MAX_CODE 32             /* an error code as kept, with NUL */

typedef struct sim_fit_options {
    const char *by[SIM_FIT_MAX_BY];     /* group columns */
    size_t nby;
    const char *col_ttft, *col_e2e, *col_out_tokens, *col_tps;
    const char *col_error, *col_error_msg;
    bool tps_fallback;     /* no speed column: compute it (else an error) */
    bool msg_optional;     /* no message column: classify by code alone */
    double time_unit_ms;   /* ms per unit of the time columns (1000: s) */
    int64_t min_samples;   /* successes a group needs to be fitted */
    const cJSON *route_map; /* object: group key -> route id; NULL: none.
                               Borrowed, read only during sim_fit_read. */
} sim_fit_options;

/* Defaults matching the LLMPerf leaderboard file: by provider,model_size;
 * ttft_s, end_to_end_latency_s, output_tokens, derived_decode_tok_per_s,
 * error_code, error_msg; times in seconds; tps_fallback and msg_optional
 * true; min_samples 20; no route map. */
void sim_fit_options_init(sim_fit_options *o);

typedef enum sim_fit_family { SIM_FIT_NORMAL, SIM_FIT_LOGNORMAL } sim_fit_family;

/* One fitted quantity. Both families are fitted; `family` is the one a
 * scenario gets. fit_p50/fit_p99 are the quantiles of that family (the
 * normal's clamped to min_value). */
typedef struct sim_fit_dist {
    int64_t n;
    sim_fit_family family;
    double median, sigma;           /* lognormal */
    double mean, sd;                /* normal */
    double ks_lognormal, ks_normal; /* KS D against each fit */
    double obs_p50, obs_p99;        /* observed (R type 7) */
    double fit_p50, fit_p99;
    double min_value;               /* the normal's clamp (0: none) */
} sim_fit_dist;

typedef struct sim_fit_code {
    char code[SIM_FIT_MAX_CODE];    /* as in the file ("429", "-100") */
    ld_class cls;
    int64_t count;
} sim_fit_code;

typedef struct sim_fit_group {
    char key[SIM_FIT_MAX_KEY];      /* group values joined with "-" */
    char route[SIM_FIT_MAX_KEY];    /* route id: the key unless mapped */
    char upstream[SIM_FIT_MAX_KEY]; /* from the route map's object form;
                                       "" when not given */
    char model[SIM_FIT_MAX_KEY];
    int64_t rows;                   /* usable rows: ok + errors */
    int64_t ok, errors;
    int64_t bad_rows;               /* skipped as bad (counted here when
                                       their group columns were usable) */
    bool fitted;                    /* false: see why */
    char why[160];                  /* why it was not fitted */
    sim_fit_dist ttft_ms;           /* family always lognormal */
    sim_fit_dist tps;
    int64_t err_count[LD_FC_COUNT];
    sim_fit_code codes[SIM_FIT_MAX_CODES];
    size_t ncodes;
    int64_t other_codes;            /* errors beyond SIM_FIT_MAX_CODES codes */
} sim_fit_group;

typedef struct sim_fit sim_fit;

/* Read every record of c (the header row first) and fit each group. Fails
 * with the error naming the file: LD_EINVAL for an empty file, a header
 * lacking a column it needs (the message names the column and lists the
 * header), bad options or route map (values must be non-empty strings;
 * two groups may not share a route id), a file with no usable row, or a
 * CSV the reader rejects ("file:line: ..."); LD_ELIMIT past
 * SIM_FIT_MAX_ROWS rows or SIM_FIT_MAX_GROUPS groups; LD_ENOMEM. A group
 * too small to fit is not an error (sim_fit_fitted_count may be 0). */
int sim_fit_read(sim_csv *c, const sim_fit_options *o, sim_fit **out,
                 ld_error *err);

/* sim_fit_read on a file it opens and closes. */
int sim_fit_file(const char *path, const sim_fit_options *o, sim_fit **out,
                 ld_error *err);

void sim_fit_free(sim_fit *f);

/* Groups, fitted or not, sorted by route id (strcmp). */
size_t sim_fit_count(const sim_fit *f);
const sim_fit_group *sim_fit_group_at(const sim_fit *f, size_t i);
/* The group with this route id, or NULL. */
const sim_fit_group *sim_fit_find(const sim_fit *f, const char *route);
size_t sim_fit_fitted_count(const sim_fit *f);

/* Rows skipped as bad, and the first SIM_FIT_MAX_NOTES reasons
 * ("line 7: ..."); i past the kept ones gives NULL. */
int64_t sim_fit_rows_skipped(const sim_fit *f);
const char *sim_fit_note(const sim_fit *f, size_t i);
/* Route map keys that matched no group; i past the last gives NULL. */
const char *sim_fit_unmatched_route(const sim_fit *f, size_t i);

/* {"providers": {route: {ttft_ms, tokens_per_s, errors, _fit}, ...}} for
 * the fitted groups in route order, with numbers rounded for reading
 * (error rates to 1e-6, never adding up past 1). LD_EINVAL when no group
 * was fitted (the message says why), LD_ENOMEM. */
int sim_fit_providers_json(const sim_fit *f, cJSON **out, ld_error *err);

/* ---- building blocks ------------------------------------------------- */

/* Lognormal by maximum likelihood: median = exp(mean of ln x), sigma = sd
 * of ln x with divisor n. Needs n >= 2 and every x > 0 and finite, else
 * LD_EINVAL. sigma may be 0 (all values equal). */
int sim_fit_lognormal(const double *x, size_t n, double *median,
                      double *sigma);

/* Normal: mean and sd (divisor n - 1) with GSL. n >= 2, finite x, else
 * LD_EINVAL. */
int sim_fit_normal(const double *x, size_t n, double *mean, double *sd);

/* Kolmogorov-Smirnov D of sorted[0..n) (ascending) against a lognormal
 * (median, sigma > 0) or a normal (mean, sd > 0); 1 for n == 0 or a bad
 * parameter. */
double sim_fit_ks_lognormal(const double *sorted, size_t n, double median,
                            double sigma);
double sim_fit_ks_normal(const double *sorted, size_t n, double mean,
                         double sd);

/* Failure class of a recorded error (code: the error column, msg: the
 * message column, NULL or ""), LD_FC_NONE when code is empty. Mapping:
 *   "too few tokens" in the message, or code -100 (LLMPerf's check that
 *     the answer had the tokens asked for: the stream ended early)
 *                                  -> stream_cut
 *   an HTTP status 100..599        -> the core's ld_classify with the
 *     message (read as a provider error body when it is one): 429 ->
 *     rate_limited, 503/529 -> overloaded, other 5xx -> server_error, 408
 *     -> timeout_total, 401/403 -> auth_error, 413 -> context_length,
 *     other 4xx -> bad_request, unless the body's code/type/message says
 *     more (insufficient_quota -> quota_exhausted, ...); a 2xx or other
 *     status the core calls a success -> server_error
 *   anything else (LLMPerf -1: the client's default when the exception
 *     was not an HTTP status - a connection failure, the read timeout, a
 *     chunk that does not parse): the provider's code/type/message as the
 *     core reads them, else phrases in the message or code:
 *       "connection refused", "failed to establish",
 *       "name resolution", "name or service not known",
 *       "connect timeout", "connecttimeout"         -> connect_error
 *       "timed out", "timeout"                      -> timeout_total
 *       "connection reset", "connection aborted", "remote end closed",
 *       "remotedisconnected", "connection broken",
 *       "incompleteread"                            -> reset
 *       "expecting value", "jsondecodeerror", "invalid json"
 *                                                   -> invalid_response
 *       "rate limit", "too many requests"           -> rate_limited
 *       "overloaded"                                -> overloaded
 *     else server_error. */
ld_class sim_fit_classify(const char *code, const char *msg);

#endif
