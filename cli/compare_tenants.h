/* compare_tenants.h - `ladder compare`'s per-tenant table: for a scenario
 * whose traffic has tenants (traffic.tenants), each tenant's success
 * rate, share refused by its key limits and spend, per policy, as means
 * over the seeds with their 95% intervals. */
#ifndef COMPARE_TENANTS_H
#define COMPARE_TENANTS_H

#include <stdbool.h>

#include <cjson/cJSON.h>

typedef struct cmp_tenants cmp_tenants;

/* Room for nscen scenarios, npol policies and seeds seeds. NULL when out
 * of memory. */
cmp_tenants *cmp_tenants_new(int nscen, int npol, int seeds);
void cmp_tenants_free(cmp_tenants *t);

/* A run's summary (sim_metrics_summary): its "tenants", if any. The first
 * run of a scenario names its tenants (at most 64). */
void cmp_tenants_record(cmp_tenants *t, int scen, int pol, int seed,
                        const cJSON *summary);

/* Scenario scen's table: printed (policies in `order`, labelled) when
 * print, and added to its report object as "tenants": {id: {label:
 * {success_rate, key_limited_rate, spend_usd}: {mean, ci95}}}. Nothing
 * when the scenario has no tenants. LD_OK or LD_ENOMEM. */
int cmp_tenants_report(const cmp_tenants *t, int scen, const int *order,
                       const char *const *labels, cJSON *report, bool print);

#endif
