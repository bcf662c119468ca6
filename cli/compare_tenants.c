/* compare_tenants.c - per-tenant figures in `ladder compare`
 * (compare_tenants.h). */
#include "compare_tenants.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ld.h"
#include "sim_stats.h"

#define MAX_TENANTS CMP_MAX_TENANTS
#define NFIG CMP_TENANT_FIGS

static const struct {
    const char *key, *label, *fmt;
    double scale;
} figs[NFIG] = {
    {"success_rate", "success %", "%.2f", 100},
    {"key_limited_rate", "key_limit %", "%.2f", 100},
    {"spend_usd", "spend $", "%.2f", 1},
};

struct cmp_tenants {
    int nscen, npol, seeds;
    int *ntenants;                  /* per scenario */
    char (*ids)[MAX_TENANTS][CMP_TENANT_ID_MAX];   /* per scenario */
    double *v; /* [scen][pol][seed][tenant][fig] */
};

static double *at(const cmp_tenants *t, int s, int p, int seed, int k, int f)
{
    size_t i = ((((size_t)s * (size_t)t->npol + (size_t)p) * (size_t)t->seeds +
                 (size_t)seed) * MAX_TENANTS + (size_t)k) * NFIG + (size_t)f;
    return &t->v[i];
}

cmp_tenants *cmp_tenants_new(int nscen, int npol, int seeds)
{
    cmp_tenants *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->nscen = nscen;
    t->npol = npol;
    t->seeds = seeds;
    size_t nv = (size_t)nscen * (size_t)npol * (size_t)seeds * MAX_TENANTS * NFIG;
    t->ntenants = calloc((size_t)nscen, sizeof *t->ntenants);
    t->ids = calloc((size_t)nscen, sizeof *t->ids);
    t->v = malloc(nv * sizeof *t->v);
    if (t->ntenants == NULL || t->ids == NULL || t->v == NULL) {
        cmp_tenants_free(t);
        return NULL;
    }
    for (size_t i = 0; i < nv; i++)
        t->v[i] = NAN;
    return t;
}

void cmp_tenants_free(cmp_tenants *t)
{
    if (t == NULL)
        return;
    free(t->ntenants);
    free(t->ids);
    free(t->v);
    free(t);
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

int cmp_tenants_name(cmp_tenants *t, int scen, int n, const char *const *ids,
                     const char *file, ld_error *err)
{
    if (n > MAX_TENANTS) {
        ld_error_set(err, file, "traffic.tenants", "%d tenants; the compare "
                     "table has room for %d", n, MAX_TENANTS);
        return LD_EINVAL;
    }
    for (int k = 0; k < n; k++) {
        if (strlen(ids[k]) >= CMP_TENANT_ID_MAX) {
            char where[64];
            snprintf(where, sizeof where, "traffic.tenants[%d].id", k);
            ld_error_set(err, file, where, "%zu bytes; the compare table has "
                         "room for %d", strlen(ids[k]), CMP_TENANT_ID_MAX - 1);
            return LD_EINVAL;
        }
        snprintf(t->ids[scen][k], sizeof t->ids[scen][k], "%s", ids[k]);
    }
    t->ntenants[scen] = n;
    return LD_OK;
}

int cmp_tenants_count(const cmp_tenants *t, int scen)
{
    return t->ntenants[scen];
}

const char *cmp_tenants_id(const cmp_tenants *t, int scen, int k)
{
    return t->ids[scen][k];
}

double *cmp_tenants_unit(cmp_tenants *t, int scen, int pol, int seed)
{
    return at(t, scen, pol, seed, 0, 0);
}

static int tenant_index(const cmp_tenants *t, int s, const char *id)
{
    for (int k = 0; k < t->ntenants[s]; k++)
        if (strcmp(t->ids[s][k], id) == 0)
            return k;
    return -1;
}

void cmp_tenants_record(cmp_tenants *t, int scen, int pol, int seed,
                        const cJSON *summary)
{
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(summary, "tenants");
    const cJSON *x;
    cJSON_ArrayForEach(x, ts) {
        int k = tenant_index(t, scen, x->string);
        if (k < 0)
            continue;
        double n = jnum(x, "requests");
        *at(t, scen, pol, seed, k, 0) = n > 0 ? jnum(x, "succeeded") / n : NAN;
        *at(t, scen, pol, seed, k, 1) = n > 0 ? jnum(x, "key_limited") / n : NAN;
        *at(t, scen, pol, seed, k, 2) = jnum(x, "spend_usd");
    }
}

static bool add_ci(cJSON *o, const char *key, sim_ci ci)
{
    cJSON *x = cJSON_AddObjectToObject(o, key);
    if (x == NULL)
        return false;
    if (isnan(ci.mean))
        return cJSON_AddNullToObject(x, "mean") != NULL &&
               cJSON_AddNullToObject(x, "ci95") != NULL;
    return cJSON_AddNumberToObject(x, "mean", ci.mean) != NULL &&
           cJSON_AddNumberToObject(x, "ci95", ci.half) != NULL;
}

int cmp_tenants_report(const cmp_tenants *t, int scen, const int *order,
                       const char *const *labels, cJSON *report, bool print)
{
    int nt = t != NULL ? t->ntenants[scen] : 0;
    if (nt == 0)
        return LD_OK;
    double *x = malloc(sizeof(double) * (size_t)t->seeds);
    cJSON *tj = cJSON_AddObjectToObject(report, "tenants");
    if (x == NULL || tj == NULL) {
        free(x);
        return LD_ENOMEM;
    }
    if (print) {
        printf("%-19s", "tenant");
        for (int i = 0; i < t->npol; i++)
            printf(" %-30s", labels[order[i]]);
        printf("\n");
    }
    for (int k = 0; k < nt; k++) {
        cJSON *kj = cJSON_AddObjectToObject(tj, t->ids[scen][k]);
        if (kj == NULL)
            goto oom;
        for (int i = 0; i < t->npol; i++) {
            int p = order[i];
            cJSON *pj = cJSON_AddObjectToObject(kj, labels[p]);
            if (pj == NULL)
                goto oom;
            for (int f = 0; f < NFIG; f++) {
                for (int sd = 0; sd < t->seeds; sd++)
                    x[sd] = *at(t, scen, p, sd, k, f);
                if (!add_ci(pj, figs[f].key,
                            sim_stats_ci(x, (size_t)t->seeds)))
                    goto oom;
            }
        }
        if (print)
            printf("%s\n", t->ids[scen][k]);
        for (int f = 0; print && f < NFIG; f++) {
            printf("  %-17s", figs[f].label);
            for (int i = 0; i < t->npol; i++) {
                for (int sd = 0; sd < t->seeds; sd++)
                    x[sd] = *at(t, scen, order[i], sd, k, f);
                sim_ci ci = sim_stats_ci(x, (size_t)t->seeds);
                char cell[96], a[32], b[32];
                if (isnan(ci.mean)) {
                    snprintf(cell, sizeof cell, "-");
                } else {
                    snprintf(a, sizeof a, figs[f].fmt, ci.mean * figs[f].scale);
                    snprintf(b, sizeof b, figs[f].fmt, ci.half * figs[f].scale);
                    snprintf(cell, sizeof cell, "%s ±%s", a, b);
                }
                printf(" %-*s", isnan(ci.mean) ? 30 : 31, cell);
            }
            printf("\n");
        }
    }
    free(x);
    return LD_OK;
oom:
    free(x);
    return LD_ENOMEM;
}
