/* sim_stats.c - confidence intervals with GSL. */
#include <math.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>

#include "sim_stats.h"

#define MAX_SAMPLES 4096

sim_ci sim_stats_ci(const double *x, size_t n)
{
    double v[MAX_SAMPLES];
    size_t k = 0;
    for (size_t i = 0; i < n && k < MAX_SAMPLES; i++)
        if (!isnan(x[i]))
            v[k++] = x[i];
    sim_ci c = {NAN, 0, NAN, NAN, k};
    if (k == 0)
        return c;
    c.mean = gsl_stats_mean(v, 1, k);
    if (k > 1) {
        double sd = gsl_stats_sd_m(v, 1, k, c.mean);
        c.half = gsl_cdf_tdist_Pinv(0.975, (double)(k - 1)) * sd / sqrt((double)k);
    }
    c.lo = c.mean - c.half;
    c.hi = c.mean + c.half;
    return c;
}

sim_ci sim_stats_paired(const double *a, const double *b, size_t n)
{
    double d[MAX_SAMPLES];
    size_t k = 0;
    for (size_t i = 0; i < n && k < MAX_SAMPLES; i++)
        d[k++] = (isnan(a[i]) || isnan(b[i])) ? NAN : b[i] - a[i];
    return sim_stats_ci(d, k);
}

int sim_stats_significant(const sim_ci *c)
{
    return c->n > 1 && !isnan(c->mean) && (c->lo > 0 || c->hi < 0);
}
