/* tune.h - what `ladder tune` (cmd_tune.c: the command and the search)
 * shares with its two testable halves: the search space (tune_space.c:
 * the space file, drawing points, writing a point into a policy's JSON)
 * and the race (tune_search.c: ranking, successive halving, the Pareto
 * frontier), which work on plain numbers. */
#ifndef LD_CLI_TUNE_H
#define LD_CLI_TUNE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <gsl/gsl_rng.h>

#include "ld.h"

#define TUNE_MAX_KNOBS 32
#define TUNE_MAX_ORDER 8     /* rungs a permuted ladder may have (8! orders) */
#define TUNE_MAX_SET 64
#define TUNE_PATH_MAX 256
#define TUNE_MAX_SPACE_BYTES (1u << 20)

typedef enum tune_kind {
    TUNE_SET,   /* one of a list of JSON values (null: the key left out) */
    TUNE_INT,   /* a whole number in [lo, hi] */
    TUNE_REAL,  /* a number in [lo, hi] */
    TUNE_ORDER  /* a permutation of the array at the path */
} tune_kind;

typedef struct tune_knob {
    char path[TUNE_PATH_MAX]; /* as written in the space file */
    char *keys[16];           /* its components (owned) */
    int nkeys;
    tune_kind kind;
    cJSON *set;               /* TUNE_SET: the array of values (owned) */
    int nset;
    double lo, hi;            /* TUNE_INT, TUNE_REAL */
    int norder;               /* TUNE_ORDER: the array's length */
    bool optional;            /* changes only a value already there */
} tune_knob;

typedef struct tune_space {
    tune_knob k[TUNE_MAX_KNOBS];
    int n;
} tune_space;

/* A point of the space: one number per knob. TUNE_SET: the index in the
 * set; TUNE_INT, TUNE_REAL: the value; TUNE_ORDER: the permutation's rank
 * (0 is the base policy's order). A NaN (or, for a set, -1) keeps the
 * base policy's value. */
typedef struct tune_point {
    double x[TUNE_MAX_KNOBS];
} tune_point;

/* Parse a space file's text (file names it in errors) against the base
 * policy's JSON: every knob's path must lead to a value of the right kind
 * (an array of at most TUNE_MAX_ORDER for "order", its parent an object
 * or array for the others), and every value a knob can take (each set
 * member, lo and hi, the reversed order) must give a policy the loader
 * accepts. Errors name the file and the knob ("knobs[2]"). */
int tune_space_parse(tune_space *s, const char *text, size_t len,
                     const char *file, const cJSON *base, ld_error *err);
void tune_space_cleanup(tune_space *s);

/* The point that leaves every knob at the base policy's value. */
void tune_point_base(const tune_space *s, tune_point *p);

/* A point drawn uniformly from the space (ints and orders uniform over
 * their values, reals uniform in [lo, hi]). */
void tune_point_draw(const tune_space *s, gsl_rng *r, tune_point *p);

/* Write point p into doc (a copy of the base policy's JSON). Returns 0;
 * a negative code with err filled (file: the space file) when a path
 * does not resolve in doc (a knob not marked optional) or out of memory. */
int tune_point_apply(const tune_space *s, const tune_point *p, cJSON *doc,
                     const char *file, ld_error *err);

/* Knob i's value in the policy p makes (null where it is absent: left
 * out, or an optional knob whose place an earlier one removed), as JSON;
 * NULL when out of memory. base: the base policy's JSON (for the values
 * p keeps). */
cJSON *tune_point_value(const tune_space *s, const tune_point *p, int i,
                        const cJSON *base);

/* Whether p and q are the same point. */
bool tune_point_equal(const tune_space *s, const tune_point *p,
                      const tune_point *q);

/* Rank r (0 <= r < n!) as a permutation of 0..n-1 (Lehmer code; rank 0 is
 * the identity). */
void tune_perm_of_rank(int n, long rank, int *perm);

/* ---- the race (tune_search.c) -------------------------------------------- */

/* One candidate's standing on the seeds evaluated so far. */
typedef struct tune_score {
    double obj;      /* objective: mean over every (scenario, seed) */
    bool feasible;   /* every constraint holds on the means */
    double viol;     /* sum of the constraints' relative violations */
} tune_score;

/* Order n candidates best first: feasible before infeasible, feasible by
 * objective (sense +1 higher is better, -1 lower), infeasible by
 * violation; ties (and NaN objectives, last) by index. */
void tune_order(int n, const tune_score *s, int sense, int *order);

/* One halving step over n candidates with nunits paired values each
 * (vals[c * nunits + u]: candidate c's objective on unit u, the same
 * (scenario, seed) for every c). keep[c] is set for the candidates that
 * stay: the incumbent (the best by tune_order, returned), and every other
 * one ranked in the top half (ceil(n / 2)) whose paired difference from
 * the incumbent is not significantly worse (its 95% interval, in the
 * better direction, lies not wholly below zero). */
int tune_halve(int n, int nunits, const double *vals, const tune_score *s,
               int sense, bool *keep);

/* The Pareto frontier of n points (success higher, cost and p99 TTFT
 * lower are better) among those with use[i] set: front[i] is set for the
 * points no other used point dominates (at least as good on all three,
 * better on one). Points with a NaN are never on it. Returns the count. */
int tune_frontier(int n, const double *success, const double *cost,
                  const double *p99, const bool *use, bool *front);

#endif
