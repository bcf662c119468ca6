/* tune_out.c - what `ladder tune` writes: best.json with the note saying
 * how it was found, tune.json (every candidate, the rungs, the figures on
 * search and held-back seeds), frontier.dat and the frontier table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "compare.h"
#include "sim_stats.h"
#include "tune.h"
#include "tune_int.h"

const char *const tune_origin_name[3] = {"base", "random", "refine"};

#define ADD(ok) do { if (!(ok)) goto oom; } while (0)

cJSON *tune_knobs_json(const tune *t, const tune_point *p)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o != NULL && i < t->space.n; i++) {
        cJSON *v = tune_point_value(&t->space, p, i, t->base_doc);
        if (v == NULL || !cJSON_AddItemToObject(o, t->space.k[i].path, v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

static cJSON *num_or_null(double x)
{
    return isnan(x) || isinf(x) ? cJSON_CreateNull() : cJSON_CreateNumber(x);
}

/* The paired difference best - base of metric m over every (scenario,
 * seed): from the search values, or hv (holdout, [pol][scen][seed][m]). */
sim_ci tune_paired(const tune *t, int m, const double *hv)
{
    int ns = hv != NULL ? t->holdout : t->seeds;
    size_t n = (size_t)t->nscen * (size_t)ns;
    double *a = malloc(sizeof(double) * n), *b = malloc(sizeof(double) * n);
    sim_ci d = {NAN, NAN, NAN, NAN, 0};
    if (a != NULL && b != NULL) {
        for (int s = 0; s < t->nscen; s++)
            for (int k = 0; k < ns; k++) {
                size_t i = (size_t)s * (size_t)ns + (size_t)k;
                if (hv != NULL) {
                    a[i] = hv[(i)*NMETRICS + (size_t)m];
                    b[i] = hv[(n + i) * NMETRICS + (size_t)m];
                } else {
                    a[i] = *cval(t, &t->c[0], s, k, m);
                    b[i] = *cval(t, &t->c[t->best], s, k, m);
                }
            }
        d = sim_stats_paired(a, b, n);
    }
    free(a);
    free(b);
    return d;
}

/* {"metric": {"base", "best", "diff", "ci95_low", "ci95_high",
 * "significant"}} for the objective, success, cost and p99 TTFT. */
static cJSON *figures(const tune *t, const double *hv)
{
    static const char *const keys[] = {"success_rate", "cost_per_1k_usd",
                                       "ttft_p99_ms", "latency_p99_ms",
                                       "attempts_per_request"};
    cJSON *o = cJSON_CreateObject();
    int ns = hv != NULL ? t->holdout : t->seeds;
    for (size_t i = 0; o != NULL && i <= sizeof keys / sizeof keys[0]; i++) {
        int m = i < sizeof keys / sizeof keys[0] ? metric_index(keys[i])
                                                 : t->obj_m;
        if (i == sizeof keys / sizeof keys[0] &&
            cJSON_GetObjectItemCaseSensitive(o, compare_metrics[m].key))
            break;
        sim_ci d = tune_paired(t, m, hv);
        double mb = 0, mw = 0;
        size_t n = (size_t)t->nscen * (size_t)ns, cb = 0, cw = 0;
        for (size_t u = 0; u < n; u++) {
            int s = (int)(u / (size_t)ns), k = (int)(u % (size_t)ns);
            double xb = hv ? hv[u * NMETRICS + (size_t)m]
                           : *cval(t, &t->c[0], s, k, m);
            double xw = hv ? hv[(n + u) * NMETRICS + (size_t)m]
                           : *cval(t, &t->c[t->best], s, k, m);
            if (!isnan(xb)) {
                mb += xb;
                cb++;
            }
            if (!isnan(xw)) {
                mw += xw;
                cw++;
            }
        }
        cJSON *x = cJSON_CreateObject();
        if (x == NULL || !cJSON_AddItemToObject(o, compare_metrics[m].key, x)) {
            cJSON_Delete(x);
            cJSON_Delete(o);
            return NULL;
        }
        if (!cJSON_AddItemToObject(x, "base", num_or_null(cb ? mb / (double)cb
                                                             : NAN)) ||
            !cJSON_AddItemToObject(x, "best", num_or_null(cw ? mw / (double)cw
                                                             : NAN)) ||
            !cJSON_AddItemToObject(x, "diff", num_or_null(d.mean)) ||
            !cJSON_AddItemToObject(x, "ci95_low", num_or_null(d.lo)) ||
            !cJSON_AddItemToObject(x, "ci95_high", num_or_null(d.hi)) ||
            !cJSON_AddBoolToObject(x, "significant",
                                   sim_stats_significant(&d))) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

static cJSON *run_info(const tune *t)
{
    cJSON *o = cJSON_CreateObject(), *sc = NULL, *cs = NULL;
    char obj[96];
    snprintf(obj, sizeof obj, "%s %s", t->sense > 0 ? "max" : "min",
             compare_metrics[t->obj_m].key);
    ADD(o != NULL);
    ADD(cJSON_AddStringToObject(o, "base", t->policy_path));
    ADD(cJSON_AddStringToObject(o, "space", t->space_path));
    ADD((sc = cJSON_AddArrayToObject(o, "scenarios")) != NULL);
    for (int s = 0; s < t->nscen; s++)
        ADD(cJSON_AddItemToArray(sc, cJSON_CreateString(t->scen[s])));
    ADD(cJSON_AddStringToObject(o, "objective", obj));
    ADD((cs = cJSON_AddArrayToObject(o, "constraints")) != NULL);
    for (int i = 0; i < t->ncons; i++)
        ADD(cJSON_AddItemToArray(cs, cJSON_CreateString(t->cons_text[i])));
    ADD(cJSON_AddNumberToObject(o, "seed", (double)t->seed));
    ADD(cJSON_AddNumberToObject(o, "candidates", t->ncand));
    ADD(cJSON_AddNumberToObject(o, "search_seeds", t->seeds));
    ADD(cJSON_AddNumberToObject(o, "first_rung_seeds", t->first));
    ADD(cJSON_AddNumberToObject(o, "holdout_seeds", t->holdout));
    ADD(cJSON_AddNumberToObject(o, "holdout_seed_offset", HOLDOUT_OFFSET));
    ADD(cJSON_AddNumberToObject(o, "refine_evaluations", t->refine_evals));
    return o;
oom:
    cJSON_Delete(o);
    return NULL;
}

int tune_write_best(const tune *t, const double *hv, ld_error *err)
{
    cJSON *doc = cJSON_Duplicate(t->base_doc, true), *note = NULL, *x;
    char path[4096], how[512];
    int rc = LD_ENOMEM;
    ADD(doc != NULL);
    if (tune_point_apply(&t->space, &t->c[t->best].pt, doc, t->space_path,
                         err) < 0) {
        cJSON_Delete(doc);
        return LD_EINVAL;
    }
    snprintf(how, sizeof how, "Found by `ladder tune %s --space %s`: "
             "candidate %d (%s) of %d, %s %s under %d constraint%s over %d "
             "scenario%s; a race with successive halving on up to %d seeds "
             "each, Nelder-Mead on the numeric knobs, then base against "
             "best on %d held-back seeds (figures below).",
             t->policy_path, t->space_path, t->best,
             tune_origin_name[t->c[t->best].origin], t->n,
             t->sense > 0 ? "maximising" : "minimising",
             compare_metrics[t->obj_m].key, t->ncons,
             t->ncons == 1 ? "" : "s", t->nscen, t->nscen == 1 ? "" : "s",
             t->seeds, t->holdout);
    ADD((note = cJSON_CreateObject()) != NULL);
    if (!cJSON_AddItemToObject(doc, "_tuned", note)) {
        cJSON_Delete(note);
        goto oom;
    }
    ADD(cJSON_AddStringToObject(note, "how", how));
    ADD((x = run_info(t)) != NULL);
    ADD(cJSON_AddItemToObject(note, "run", x));
    ADD((x = tune_knobs_json(t, &t->c[t->best].pt)) != NULL);
    ADD(cJSON_AddItemToObject(note, "knobs", x));
    ADD((x = figures(t, NULL)) != NULL);
    ADD(cJSON_AddItemToObject(note, "search_seeds", x));
    ADD((x = figures(t, hv)) != NULL);
    ADD(cJSON_AddItemToObject(note, "holdout_seeds", x));
    snprintf(path, sizeof path, "%s/best.json", t->out);
    rc = cli_write_json(path, doc, err);
    cJSON_Delete(doc);
    return rc;
oom:
    cJSON_Delete(doc);
    ld_error_set(err, NULL, NULL, "out of memory");
    return LD_ENOMEM;
}

int tune_write_json(const tune *t, const double *hv, ld_error *err)
{
    cJSON *root = cJSON_CreateObject(), *x, *arr, *fr;
    char path[4096];
    ADD(root != NULL);
    ADD((x = run_info(t)) != NULL);
    ADD(cJSON_AddItemToObject(root, "run", x));
    ADD((arr = cJSON_AddArrayToObject(root, "rungs")) != NULL);
    for (int r = 0; r < t->nrungs; r++) {
        ADD((x = cJSON_CreateObject()) != NULL);
        ADD(cJSON_AddItemToArray(arr, x));
        ADD(cJSON_AddNumberToObject(x, "seeds", t->rung_seeds[r]));
        ADD(cJSON_AddNumberToObject(x, "candidates", t->rung_alive[r]));
    }
    ADD(cJSON_AddNumberToObject(root, "best", t->best));
    ADD((fr = cJSON_AddArrayToObject(root, "frontier")) != NULL);
    ADD((arr = cJSON_AddArrayToObject(root, "candidates")) != NULL);
    for (int i = 0; i < t->n; i++) {
        const cand *c = &t->c[i];
        cJSON *m;
        const char *status = c->p == NULL           ? "invalid"
                             : i == t->best         ? "best"
                             : c->dropped_rung >= 0 ? "dropped"
                             : c->nseeds == t->seeds ? "finalist"
                                                     : "dropped";
        if (c->frontier)
            ADD(cJSON_AddItemToArray(fr, cJSON_CreateNumber(i)));
        ADD((x = cJSON_CreateObject()) != NULL);
        ADD(cJSON_AddItemToArray(arr, x));
        ADD(cJSON_AddNumberToObject(x, "id", i));
        ADD(cJSON_AddStringToObject(x, "origin", tune_origin_name[c->origin]));
        ADD(cJSON_AddStringToObject(x, "status", status));
        if (c->dropped_rung >= 0)
            ADD(cJSON_AddNumberToObject(x, "dropped_at_rung", c->dropped_rung));
        if (c->p == NULL)
            ADD(cJSON_AddStringToObject(x, "invalid", c->invalid));
        ADD((m = tune_knobs_json(t, &c->pt)) != NULL);
        ADD(cJSON_AddItemToObject(x, "knobs", m));
        ADD(cJSON_AddNumberToObject(x, "seeds", c->nseeds));
        if (c->nseeds > 0) {
            ADD(cJSON_AddItemToObject(x, "objective", num_or_null(c->sc.obj)));
            ADD(cJSON_AddBoolToObject(x, "feasible", c->sc.feasible));
            ADD(cJSON_AddItemToObject(x, "violation", num_or_null(c->sc.viol)));
            ADD(cJSON_AddBoolToObject(x, "frontier", c->frontier));
            ADD((m = cJSON_AddObjectToObject(x, "metrics")) != NULL);
            for (int k = 0; k < NMETRICS; k++)
                ADD(cJSON_AddItemToObject(m, compare_metrics[k].key,
                                          num_or_null(cmean(t, c, k,
                                                            c->nseeds))));
        }
    }
    ADD((x = figures(t, NULL)) != NULL);
    ADD(cJSON_AddItemToObject(root, "search_seeds", x));
    ADD((x = figures(t, hv)) != NULL);
    ADD(cJSON_AddItemToObject(root, "holdout_seeds", x));
    snprintf(path, sizeof path, "%s/tune.json", t->out);
    int rc = cli_write_json(path, root, err);
    cJSON_Delete(root);
    return rc;
oom:
    cJSON_Delete(root);
    ld_error_set(err, NULL, NULL, "out of memory");
    return LD_ENOMEM;
}

/* The candidates that ran on every search seed, by cost (then id). */
static int finalists(const tune *t, int *idx)
{
    int n = 0;
    for (int i = 0; i < t->n; i++)
        if (t->c[i].p != NULL && t->c[i].nseeds == t->seeds)
            idx[n++] = i;
    int mc = metric_index("cost_per_1k_usd");
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            double a = cmean(t, &t->c[idx[j - 1]], mc, t->seeds);
            double b = cmean(t, &t->c[idx[j]], mc, t->seeds);
            if (!(b < a))
                break;
            int tmp = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = tmp;
        }
    return n;
}

int tune_frontier_out(tune *t, ld_error *err)
{
    int *idx = malloc(sizeof(int) * (size_t)t->n);
    double *su = malloc(sizeof(double) * (size_t)t->n);
    double *co = malloc(sizeof(double) * (size_t)t->n);
    double *p9 = malloc(sizeof(double) * (size_t)t->n);
    bool *use = malloc(sizeof(bool) * (size_t)t->n);
    bool *front = malloc(sizeof(bool) * (size_t)t->n);
    FILE *f = NULL;
    char path[4096];
    int rc = LD_ENOMEM;
    if (idx == NULL || su == NULL || co == NULL || p9 == NULL || use == NULL ||
        front == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        goto done;
    }
    int ms = metric_index("success_rate"), mc = metric_index("cost_per_1k_usd");
    int mt = metric_index("ttft_p99_ms");
    for (int i = 0; i < t->n; i++) {
        use[i] = t->c[i].p != NULL && t->c[i].nseeds == t->seeds;
        su[i] = use[i] ? cmean(t, &t->c[i], ms, t->seeds) : NAN;
        co[i] = use[i] ? cmean(t, &t->c[i], mc, t->seeds) : NAN;
        p9[i] = use[i] ? cmean(t, &t->c[i], mt, t->seeds) : NAN;
    }
    int nf = tune_frontier(t->n, su, co, p9, use, front);
    for (int i = 0; i < t->n; i++)
        t->c[i].frontier = front[i];
    int n = finalists(t, idx);
    snprintf(path, sizeof path, "%s/frontier.dat", t->out);
    if ((f = fopen(path, "w")) == NULL) {
        ld_error_set(err, path, NULL, "cannot write");
        rc = LD_EINVAL;
        goto done;
    }
    fprintf(f, "# ladder tune: the candidates run on all %d search seeds, by "
            "cost\n# id success_rate cost_per_1k_usd ttft_p99_ms frontier "
            "feasible best\n", t->seeds);
    printf("Pareto frontier of success, cost and p99 TTFT: %d of the %d "
           "candidates that ran on all %d search seeds per scenario (of %d "
           "candidates; * on the frontier, ! breaks a constraint)\n", nf, n,
           t->seeds, t->n);
    printf("%6s %-7s %10s %14s %12s\n", "id", "origin", "success %",
           "cost per 1k $", "ttft p99 ms");
    for (int k = 0; k < n; k++) {
        int i = idx[k];
        const cand *c = &t->c[i];
        fprintf(f, "%d %.6f %.6f %.3f %d %d %d\n", i, su[i], co[i], p9[i],
                front[i], c->sc.feasible, i == t->best);
        printf("%6d %-7s %10.2f %14.3f %12.0f %s%s%s\n", i,
               tune_origin_name[c->origin], su[i] * 100, co[i], p9[i],
               front[i] ? "*" : " ", c->sc.feasible ? " " : "!",
               i == t->best ? " best" : i == 0 ? " base" : "");
    }
    rc = fclose(f) == 0 ? LD_OK : LD_EINVAL;
    f = NULL;
    if (rc < 0)
        ld_error_set(err, path, NULL, "cannot write");
done:
    if (f != NULL)
        fclose(f);
    free(idx);
    free(su);
    free(co);
    free(p9);
    free(use);
    free(front);
    return rc;
}

void tune_print_knobs(const tune *t)
{
    if (!t->c[t->best].sc.feasible)
        printf("\nno candidate meets the constraints on the search seeds: "
               "the best is the one that breaks them least");
    printf("\nbest: candidate %d (%s)", t->best,
           tune_origin_name[t->c[t->best].origin]);
    printf("%s\n", t->best == 0 ? ", the base policy itself" : "; knobs:");
    for (int i = 0; i < t->space.n && t->best != 0; i++) {
        cJSON *v = tune_point_value(&t->space, &t->c[t->best].pt, i,
                                    t->base_doc);
        cJSON *b = tune_point_value(&t->space, &t->c[0].pt, i, t->base_doc);
        char *s = v ? cJSON_PrintUnformatted(v) : NULL;
        bool same = v != NULL && b != NULL && cJSON_Compare(v, b, true);
        printf("  %-44s %s%s\n", t->space.k[i].path, s ? s : "?",
               same ? "  (as the base)" : "");
        cJSON_free(s);
        cJSON_Delete(v);
        cJSON_Delete(b);
    }
}
