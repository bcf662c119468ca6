/* sim_dist.h - probability distributions read from scenario JSON and
 * sampled with GSL.
 *
 * A distribution is a bare number (a constant) or an object naming its kind:
 *
 *   constant     {"value"}
 *   exponential  {"mean"} or {"rate"}
 *   uniform      {"min", "max"}                 min <= max
 *   normal       {"mean", "sd"}                 sd >= 0
 *   lognormal    {"median", "sigma"}            median > 0, sigma > 0
 *                {"median", "p99"}              p99 > median
 *                {"mean", "sd"}                 mean > 0, sd > 0
 *   gamma        {"shape", "scale"} or {"shape", "mean"}
 *   pareto       {"alpha" or "shape", "scale" or "xm"}   all > 0
 *   weibull      {"shape", "scale"}             both > 0
 *   mixture      {"components": [{"weight": w > 0, <a distribution>}, ...]}
 *   empirical    {"file", "column", "where"?, "scale"?}
 *
 * e.g. {"dist": "lognormal", "median": 350, "p99": 2500, "max": 60000}.
 *
 * Every kind also takes optional "min" and "max" clamps applied to each
 * sample (for uniform they are its bounds). Unknown kinds, unknown or
 * duplicate keys, missing, conflicting and impossible parameters are errors
 * naming the file, the JSON path and the key:
 *   scenario.json: providers.gpt-4.1.ttft_ms.sigma: must be > 0 (got -1)
 *
 * empirical reads one column of a CSV file (sim_csv): "file" is resolved
 * against base_dir unless absolute; "column" is a header name or a 0-based
 * index; "where" {"col": "text" or number, ...} keeps only rows whose cells
 * all match (text exactly, numbers numerically); "scale" (> 0) multiplies the
 * values (1000 turns seconds into ms). The first row is a header when
 * "column" is a name or "where" is given; otherwise every row is data. Empty
 * and non-numeric cells in the column are skipped; a row too short for a
 * column it needs, or no usable value at all, is an error. A sample is one of
 * the values, chosen uniformly. At most SIM_DIST_EMPIRICAL_MAX values.
 *
 * GSL: sim_dist_parse turns GSL's abort-on-error handler off (a process-wide
 * setting); a host that samples or asks quantiles from distributions it did
 * not parse (sim_dist_constant only) needs no GSL at all.
 */
#ifndef SIM_DIST_H
#define SIM_DIST_H

#include <cjson/cJSON.h>
#include <gsl/gsl_rng.h>

#include "ld.h"

#define SIM_DIST_EMPIRICAL_MAX ((size_t)1 << 25)
#define SIM_DIST_MAX_COMPONENTS 1024
#define SIM_DIST_MAX_DEPTH 8 /* mixtures within mixtures */

typedef struct sim_dist sim_dist;

/* Build a distribution from node. file names the JSON file and path is the
 * JSON path of node (e.g. "providers.gpt-4.1.ttft_ms"); both only go into
 * error messages and may be NULL. base_dir (NULL or "" for the current
 * directory) resolves relative empirical file names. 0 with *out set, or
 * with *out NULL: LD_EINVAL (bad input, err says where), LD_ELIMIT (an
 * empirical file over SIM_DIST_EMPIRICAL_MAX values) or LD_ENOMEM. */
int sim_dist_parse(const cJSON *node, const char *file, const char *path,
                   const char *base_dir, sim_dist **out, ld_error *err);

/* A constant distribution; NULL if out of memory. */
sim_dist *sim_dist_constant(double v);

void sim_dist_free(sim_dist *d);

/* One draw, clamped to the distribution's min/max. Does not allocate. The
 * number of values taken from r depends on the kind (none for constant). */
double sim_dist_sample(const sim_dist *d, gsl_rng *r);

/* Mean before clamping: analytic for the parametric kinds (INFINITY for a
 * pareto with alpha <= 1), weighted over the components for a mixture, the
 * sample mean for empirical. */
double sim_dist_mean(const sim_dist *d);

/* The p-quantile, 0 <= p <= 1, of the clamped distribution (clamping is
 * monotone, so it is the clamped quantile). Empirical interpolates linearly
 * between sorted values (R's type 7). 0, or LD_EINVAL for p out of range or
 * a mixture (no closed form). */
int sim_dist_quantile(const sim_dist *d, double p, double *out);

#endif
