/* sim_stats.h - statistics across seeds for `ladder compare`: means with
 * 95% confidence intervals and paired differences (common random numbers
 * make the pairs by seed). */
#ifndef SIM_STATS_H
#define SIM_STATS_H

#include <stddef.h>

typedef struct sim_ci {
    double mean;
    double half;   /* half-width of the 95% interval (t distribution) */
    double lo, hi; /* mean -/+ half */
    size_t n;
} sim_ci;

/* Mean and 95% interval of x[0..n). n == 1 gives half 0. NaN values are
 * left out (n counts the rest); no values gives mean NaN. */
sim_ci sim_stats_ci(const double *x, size_t n);

/* The same for the paired differences b[i] - a[i] (pairs with a NaN are
 * left out). */
sim_ci sim_stats_paired(const double *a, const double *b, size_t n);

/* Whether the interval excludes zero. */
int sim_stats_significant(const sim_ci *c);

#endif
