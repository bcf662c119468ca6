/* sim_fit_dist.c - the fitter's distributions: lognormal and normal fits of
 * a sample and their Kolmogorov-Smirnov distances (see sim_fit.h). */
#include "sim_fit_int.h"

/* ---- building blocks --------------------------------------------------- */

int sim_fit_lognormal(const double *x, size_t n, double *median,
                      double *sigma)
{
    if (x == NULL || n < 2)
        return LD_EINVAL;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] > 0) || !isfinite(x[i]))
            return LD_EINVAL;
        sum += log(x[i]);
    }
    double mu = sum / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++) {
        double d = log(x[i]) - mu;
        ss += d * d;
    }
    double m = exp(mu), s = sqrt(ss / (double)n);
    if (!isfinite(m) || !(m > 0) || !isfinite(s))
        return LD_EINVAL;
    *median = m;
    *sigma = s;
    return LD_OK;
}

int sim_fit_normal(const double *x, size_t n, double *mean, double *sd)
{
    if (x == NULL || n < 2)
        return LD_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return LD_EINVAL;
    double m = gsl_stats_mean(x, 1, n);
    double s = gsl_stats_sd_m(x, 1, n, m);
    if (!isfinite(m) || !isfinite(s))
        return LD_EINVAL;
    *mean = m;
    *sd = s;
    return LD_OK;
}

/* D = max over i of max(i/n - F(x_i), F(x_i) - (i-1)/n), i from 1. */
static double ks(const double *sorted, size_t n, double (*cdf)(double, void *),
                 void *ctx)
{
    if (n == 0)
        return 1;
    double d = 0, dn = (double)n;
    for (size_t i = 0; i < n; i++) {
        double F = cdf(sorted[i], ctx);
        double a = (double)(i + 1) / dn - F, b = F - (double)i / dn;
        if (a > d)
            d = a;
        if (b > d)
            d = b;
    }
    return d;
}

static double cdf_lognormal(double x, void *ctx)
{
    const double *p = ctx;
    return x > 0 ? gsl_cdf_lognormal_P(x, p[0], p[1]) : 0;
}

static double cdf_normal(double x, void *ctx)
{
    const double *p = ctx;
    return gsl_cdf_gaussian_P(x - p[0], p[1]);
}

double sim_fit_ks_lognormal(const double *sorted, size_t n, double median,
                            double sigma)
{
    if (sorted == NULL || !(median > 0) || !(sigma > 0) || !isfinite(median) ||
        !isfinite(sigma))
        return 1;
    double p[2] = {log(median), sigma};
    return ks(sorted, n, cdf_lognormal, p);
}

double sim_fit_ks_normal(const double *sorted, size_t n, double mean,
                         double sd)
{
    if (sorted == NULL || !(sd > 0) || !isfinite(mean) || !isfinite(sd))
        return 1;
    double p[2] = {mean, sd};
    return ks(sorted, n, cdf_normal, p);
}
