/* sim_metrics_tenants.c - per tenant counts (sim_metrics.h, tenants). */
#include "sim_metrics_int.h"

int sim_metrics_set_tenants(sim_metrics *m, int n, const char *const *ids)
{
    if (m == NULL || n < 1 || m->tenants != NULL)
        return LD_EINVAL;
    m->tenants = calloc((size_t)n, sizeof *m->tenants);
    if (m->tenants == NULL)
        return LD_ENOMEM;
    m->ntenants = n;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(ids[i]);
        if ((m->tenants[i].id = malloc(len + 1)) == NULL) {
            sim_mx_tenants_free(m);
            return LD_ENOMEM;
        }
        memcpy(m->tenants[i].id, ids[i], len + 1);
    }
    return LD_OK;
}

void sim_mx_tenants_free(sim_metrics *m)
{
    for (int i = 0; m->tenants != NULL && i < m->ntenants; i++)
        free(m->tenants[i].id);
    free(m->tenants);
    m->tenants = NULL;
    m->ntenants = 0;
}

void sim_metrics_on_tenant_done(sim_metrics *m, int tenant,
                                const ld_req_info *info)
{
    if (m == NULL || m->finished || tenant < 0 || tenant >= m->ntenants)
        return;
    tenant_stats *t = &m->tenants[tenant];
    t->requests++;
    if (info->outcome == LD_OUT_SUCCESS)
        t->succeeded++;
    else if (info->outcome == LD_OUT_ABANDONED)
        t->abandoned++;
    else
        t->failed++;
    if (info->key_limit > LD_QUOTA_OK && info->key_limit <= LD_QUOTA_USD_MONTH) {
        t->key_limited++;
        t->by_limit[info->key_limit]++;
    }
    t->cost += info->cost;
}

cJSON *sim_mx_tenants_json(const sim_metrics *m)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o != NULL && i < m->ntenants; i++) {
        const tenant_stats *t = &m->tenants[i];
        cJSON *x = cJSON_AddObjectToObject(o, t->id), *by = NULL;
        bool ok = x != NULL &&
                  cJSON_AddNumberToObject(x, "requests", (double)t->requests) &&
                  cJSON_AddNumberToObject(x, "succeeded", (double)t->succeeded) &&
                  cJSON_AddNumberToObject(x, "failed", (double)t->failed) &&
                  cJSON_AddNumberToObject(x, "abandoned", (double)t->abandoned) &&
                  cJSON_AddNumberToObject(x, "key_limited",
                                          (double)t->key_limited) &&
                  (by = cJSON_AddObjectToObject(x, "key_limited_by")) != NULL;
        for (int l = LD_QUOTA_RPM; ok && l <= LD_QUOTA_USD_MONTH; l++)
            ok = cJSON_AddNumberToObject(by, ld_quota_limit_name(l),
                                         (double)t->by_limit[l]) != NULL;
        if (!ok || !cJSON_AddNumberToObject(x, "spend_usd", t->cost)) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

void sim_mx_tenants_print(const sim_metrics *m, FILE *f)
{
    if (m->ntenants == 0)
        return;
    int w = 20;
    for (int i = 0; i < m->ntenants; i++) {
        int len = (int)strlen(m->tenants[i].id);
        if (len > w)
            w = len;
    }
    fprintf(f, "  %-*s %10s %10s %10s %10s %12s\n", w, "tenant", "requests",
            "succeeded", "failed", "key_limit", "spend");
    for (int i = 0; i < m->ntenants; i++) {
        const tenant_stats *t = &m->tenants[i];
        fprintf(f, "  %-*s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64
                   "  $%.4f\n",
                w, t->id, t->requests, t->succeeded, t->failed, t->key_limited,
                t->cost);
    }
}
