/* sim_fit_json.c - the fitted groups as a scenario's "providers" object,
 * with what each fit observed next to what it models (see sim_fit.h). */
#include "sim_fit_int.h"

/* ---- JSON ------------------------------------------------------------------ */

/* x rounded to d significant digits. */
static double sig(double x, int d)
{
    if (x == 0 || !isfinite(x))
        return x;
    double e = floor(log10(fabs(x)));
    double s = pow(10, d - 1 - e);
    double r = round(x * s) / s;
    return isfinite(r) ? r : x;
}

static bool add_num(cJSON *o, const char *k, double v)
{
    return cJSON_AddNumberToObject(o, k, v) != NULL;
}

/* {"observed": o, "fitted": f} under key. */
static bool add_pair(cJSON *o, const char *k, double obs, double fit)
{
    cJSON *p = cJSON_AddObjectToObject(o, k);
    return p != NULL && add_num(p, "observed", sig(obs, 5)) &&
           add_num(p, "fitted", sig(fit, 5));
}

/* The distribution a scenario reads. */
static bool add_model(cJSON *o, const char *k, const sim_fit_dist *d,
                      sim_fit_family fam)
{
    cJSON *m = cJSON_AddObjectToObject(o, k);
    if (m == NULL)
        return false;
    if (fam == SIM_FIT_LOGNORMAL)
        return cJSON_AddStringToObject(m, "dist", "lognormal") != NULL &&
               add_num(m, "median", sig(d->median, 5)) &&
               add_num(m, "sigma", sig(d->sigma, 4));
    return cJSON_AddStringToObject(m, "dist", "normal") != NULL &&
           add_num(m, "mean", sig(d->mean, 5)) &&
           add_num(m, "sd", sig(d->sd, 4)) &&
           (d->min_value <= 0 || add_num(m, "min", d->min_value));
}

static bool add_errors(cJSON *o, const sim_fit_group *g)
{
    cJSON *e = cJSON_AddObjectToObject(o, "errors");
    if (e == NULL)
        return false;
    double rate[LD_FC_COUNT], sum = 0;
    int top = -1;
    for (int c = 0; c < LD_FC_COUNT; c++) {
        rate[c] = 0;
        if (g->err_count[c] == 0)
            continue;
        rate[c] = round((double)g->err_count[c] / (double)g->rows * 1e6) / 1e6;
        if (rate[c] < 1e-6)
            rate[c] = 1e-6;
        sum += rate[c];
        if (top < 0 || rate[c] > rate[top])
            top = c;
    }
    if (top >= 0 && sum > 1)
        rate[top] = round((rate[top] - (sum - 1)) * 1e6) / 1e6;
    for (int c = 0; c < LD_FC_COUNT; c++)
        if (g->err_count[c] > 0 &&
            !add_num(e, ld_class_name((ld_class)c), rate[c]))
            return false;
    return true;
}

static bool add_fit_dist(cJSON *o, const char *k, const sim_fit_dist *d,
                         bool both)
{
    cJSON *m = cJSON_AddObjectToObject(o, k);
    if (m == NULL || !add_num(m, "n", (double)d->n))
        return false;
    if (both && cJSON_AddStringToObject(m, "family",
                                        d->family == SIM_FIT_NORMAL
                                            ? "normal"
                                            : "lognormal") == NULL)
        return false;
    if (!add_pair(m, "p50", d->obs_p50, d->fit_p50) ||
        !add_pair(m, "p99", d->obs_p99, d->fit_p99))
        return false;
    if (both) {
        if (!add_num(m, "ks_d_normal", sig(d->ks_normal, 4)) ||
            !add_num(m, "ks_d_lognormal", sig(d->ks_lognormal, 4)))
            return false;
    } else if (!add_num(m, "ks_d", sig(d->ks_lognormal, 4))) {
        return false;
    }
    if (!add_num(m, "ks_d_crit_5pct", sig(KS_CRIT_5PCT / sqrt((double)d->n), 4)))
        return false;
    /* the family not chosen, ready to paste instead */
    return !both ||
           add_model(m, "other", d,
                     d->family == SIM_FIT_NORMAL ? SIM_FIT_LOGNORMAL
                                                 : SIM_FIT_NORMAL);
}

static bool add_fit(cJSON *o, const sim_fit_group *g)
{
    cJSON *m = cJSON_AddObjectToObject(o, "_fit");
    if (m == NULL || cJSON_AddStringToObject(m, "group", g->key) == NULL ||
        !add_num(m, "rows", (double)g->rows) ||
        !add_num(m, "successes", (double)g->ok) ||
        !add_num(m, "errors", (double)g->errors) ||
        !add_num(m, "skipped_rows", (double)g->bad_rows) ||
        !add_fit_dist(m, "ttft_ms", &g->ttft_ms, false) ||
        !add_fit_dist(m, "tokens_per_s", &g->tps, true))
        return false;
    cJSON *codes = cJSON_AddObjectToObject(m, "error_codes");
    if (codes == NULL)
        return false;
    for (size_t i = 0; i < g->ncodes; i++) {
        cJSON *c = cJSON_AddObjectToObject(codes, g->codes[i].code);
        if (c == NULL || !add_num(c, "count", (double)g->codes[i].count) ||
            cJSON_AddStringToObject(c, "class",
                                    ld_class_name(g->codes[i].cls)) == NULL)
            return false;
    }
    return g->other_codes == 0 ||
           add_num(codes, "other", (double)g->other_codes);
}

int sim_fit_providers_json(const sim_fit *f, cJSON **out, ld_error *err)
{
    *out = NULL;
    if (f == NULL) {
        ld_error_set(err, NULL, NULL, "no fit");
        return LD_EINVAL;
    }
    if (f->nfitted == 0) {
        ld_error_set(err, f->name, NULL,
                     "no group has %lld successful requests to fit (%zu "
                     "group%s)",
                     (long long)f->min_samples, f->ngroups,
                     f->ngroups == 1 ? "" : "s");
        return LD_EINVAL;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *prov = root ? cJSON_AddObjectToObject(root, "providers") : NULL;
    if (prov == NULL)
        goto oom;
    for (size_t i = 0; i < f->ngroups; i++) {
        const sim_fit_group *g = &f->groups[i]->g;
        if (!g->fitted)
            continue;
        cJSON *p = cJSON_AddObjectToObject(prov, g->route);
        if (p == NULL ||
            (g->upstream[0] && !cJSON_AddStringToObject(p, "upstream", g->upstream)) ||
            (g->model[0] && !cJSON_AddStringToObject(p, "model", g->model)) ||
            !add_model(p, "ttft_ms", &g->ttft_ms, SIM_FIT_LOGNORMAL) ||
            !add_model(p, "tokens_per_s", &g->tps, g->tps.family) ||
            !add_errors(p, g) || !add_fit(p, g))
            goto oom;
    }
    *out = root;
    return LD_OK;
oom:
    cJSON_Delete(root);
    ld_error_set(err, f->name, NULL, "out of memory");
    return LD_ENOMEM;
}
