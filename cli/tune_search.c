/* tune_search.c - the arithmetic of `ladder tune`'s race on plain numbers:
 * ranking candidates, one successive-halving step with paired intervals
 * (common random numbers pair every candidate's runs by seed), and the
 * Pareto frontier. */
#include <math.h>
#include <stdlib.h>

#include "sim_stats.h"
#include "tune.h"

/* <0 when candidate a ranks before b */
static int cmp_cand(const tune_score *s, int sense, int a, int b)
{
    const tune_score *x = &s[a], *y = &s[b];
    if (x->feasible != y->feasible)
        return x->feasible ? -1 : 1;
    if (x->feasible) {
        bool nx = isnan(x->obj), ny = isnan(y->obj);
        if (nx != ny)
            return nx ? 1 : -1;
        if (!nx && x->obj != y->obj)
            return (x->obj > y->obj) == (sense > 0) ? -1 : 1;
    } else if (x->viol != y->viol) {
        return x->viol < y->viol ? -1 : 1;
    }
    return a < b ? -1 : a > b;
}

void tune_order(int n, const tune_score *s, int sense, int *order)
{
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = 1; i < n; i++) /* insertion sort: stable, n is small */
        for (int j = i; j > 0 && cmp_cand(s, sense, order[j], order[j - 1]) < 0;
             j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
}

int tune_halve(int n, int nunits, const double *vals, const tune_score *s,
               int sense, bool *keep)
{
    if (n <= 0)
        return -1;
    int *order = malloc(sizeof *order * (size_t)n);
    if (order == NULL) { /* keep everyone: slower, never wrong */
        for (int i = 0; i < n; i++)
            keep[i] = true;
        return 0;
    }
    tune_order(n, s, sense, order);
    int inc = order[0], half = (n + 1) / 2;
    for (int i = 0; i < n; i++)
        keep[i] = false;
    keep[inc] = true;
    for (int r = 1; r < half; r++) {
        int c = order[r];
        const double *a = vals + (size_t)inc * (size_t)nunits;
        const double *b = vals + (size_t)c * (size_t)nunits;
        /* b - a, turned so that positive is better */
        sim_ci d = sense > 0 ? sim_stats_paired(a, b, (size_t)nunits)
                             : sim_stats_paired(b, a, (size_t)nunits);
        bool worse = d.n >= 2 && sim_stats_significant(&d) && d.mean < 0;
        keep[c] = !worse;
    }
    free(order);
    return inc;
}

/* whether i dominates j */
static bool dominates(int i, int j, const double *su, const double *co,
                      const double *p9)
{
    if (su[i] < su[j] || co[i] > co[j] || p9[i] > p9[j])
        return false;
    return su[i] > su[j] || co[i] < co[j] || p9[i] < p9[j];
}

int tune_frontier(int n, const double *success, const double *cost,
                  const double *p99, const bool *use, bool *front)
{
    int count = 0;
    for (int i = 0; i < n; i++) {
        front[i] = use[i] && !isnan(success[i]) && !isnan(cost[i]) &&
                   !isnan(p99[i]);
        for (int j = 0; j < n && front[i]; j++)
            if (j != i && use[j] && !isnan(success[j]) && !isnan(cost[j]) &&
                !isnan(p99[j]) && dominates(j, i, success, cost, p99))
                front[i] = false;
        count += front[i];
    }
    return count;
}
