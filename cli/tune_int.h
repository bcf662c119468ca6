/* tune_int.h - what cmd_tune.c (arguments, the race, the refinement, the
 * held-back compare) and tune_out.c (best.json, tune.json, frontier.dat,
 * the frontier table) share: the candidates and the run's state. Internal
 * to `ladder tune`. */
#ifndef LD_CLI_TUNE_INT_H
#define LD_CLI_TUNE_INT_H

#include <math.h>
#include <stdbool.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "compare.h"
#include "ld_policy.h"
#include "sim_stats.h"
#include "tune.h"

/* the held-back seeds start here, past any compare --seeds (at most
 * MAX_SEEDS) and any search seeds */
#define HOLDOUT_OFFSET 100000
#define MAX_CANDIDATES 4096
#define PENALTY 1e12

enum { ORIGIN_BASE, ORIGIN_RANDOM, ORIGIN_REFINE };
extern const char *const tune_origin_name[3]; /* by ORIGIN_ */

typedef struct cand {
    tune_point pt;
    int origin;
    ld_policy *p;        /* NULL: the loader refused it (invalid) */
    char *text;          /* the policy's JSON (NULL: invalid) */
    char invalid[256];
    int nseeds;          /* search seeds run, 0..seeds */
    double *v;           /* [scenario][seed][metric] */
    int dropped_rung;    /* -1: not dropped */
    tune_score sc;       /* on its nseeds seeds */
    bool frontier;
} cand;

typedef struct tune {
    const char *policy_path, *space_path, *out;
    const char *scen[MAX_SCENARIOS];
    int nscen;
    cJSON *base_doc;
    tune_space space;
    int obj_m, sense;
    gate cons[MAX_GATES];
    char cons_text[MAX_GATES][512];
    int ncons;
    int seeds, holdout, ncand, refine, first, jobs;
    unsigned long seed;
    bool progress;
    sim_bind_opts bind;  /* --bind, --map-workload, --map-tier */
    cli_list binds, map_workload, map_tier;
    cand *c;
    int n;
    int nrungs, rung_seeds[32], rung_alive[32];
    int best;
    int refine_evals;
    /* progress */
    struct timespec t0;
    long units_done, units_plan;
    const char *phase;
} tune;


static inline double *cval(const tune *t, const cand *c, int s, int k, int m)
{
    return &c->v[((size_t)s * (size_t)t->seeds + (size_t)k) * NMETRICS +
                 (size_t)m];
}

/* Mean of metric m of candidate c over scenarios and its first ns seeds. */
static inline double cmean(const tune *t, const cand *c, int m, int ns)
{
    double sum = 0;
    int n = 0;
    for (int s = 0; s < t->nscen; s++)
        for (int k = 0; k < ns; k++) {
            double x = *cval(t, c, s, k, m);
            if (!isnan(x)) {
                sum += x;
                n++;
            }
        }
    return n > 0 ? sum / n : NAN;
}

static inline int metric_index(const char *key)
{
    for (size_t m = 0; m < NMETRICS; m++)
        if (strcmp(compare_metrics[m].key, key) == 0)
            return (int)m;
    return -1;
}

/* tune_out.c */

/* {knob path: value} of point p. NULL when out of memory. */
cJSON *tune_knobs_json(const tune *t, const tune_point *p);

/* The paired difference best - base of metric m over every (scenario,
 * seed): of the search values (hv NULL), or of the held-back ones (hv:
 * [policy][scenario][seed][metric], base then best). */
sim_ci tune_paired(const tune *t, int m, const double *hv);

/* Write DIR/best.json (the base with the best's knobs, and the "_tuned"
 * note saying how it was found), and DIR/tune.json. */
int tune_write_best(const tune *t, const double *hv, ld_error *err);
int tune_write_json(const tune *t, const double *hv, ld_error *err);

/* Mark the frontier among the candidates that ran on every search seed,
 * print its table and write DIR/frontier.dat. */
int tune_frontier_out(tune *t, ld_error *err);

/* The best's knobs on stdout. */
void tune_print_knobs(const tune *t);

#endif
