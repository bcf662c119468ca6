/* compare_tenants.h - `ladder compare`'s per-tenant table: for a scenario
 * whose traffic has tenants (traffic.tenants), each tenant's success
 * rate, share refused by its key limits and spend, per policy, as means
 * over the seeds with their 95% intervals. */
#ifndef COMPARE_TENANTS_H
#define COMPARE_TENANTS_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "ld.h"

/* A scenario's tenants in the table: at most CMP_MAX_TENANTS (the
 * simulator's SIM_MAX_TENANTS), ids under CMP_TENANT_ID_MAX bytes; each
 * unit (scenario, policy, seed) has CMP_UNIT_TENANT_VALUES values, the
 * CMP_TENANT_FIGS figures of tenant k at k * CMP_TENANT_FIGS. */
#define CMP_MAX_TENANTS 64
#define CMP_TENANT_ID_MAX 65
#define CMP_TENANT_FIGS 3
#define CMP_UNIT_TENANT_VALUES (CMP_MAX_TENANTS * CMP_TENANT_FIGS)

typedef struct cmp_tenants cmp_tenants;

/* Room for nscen scenarios, npol policies and seeds seeds. NULL when out
 * of memory. */
cmp_tenants *cmp_tenants_new(int nscen, int npol, int seeds);
void cmp_tenants_free(cmp_tenants *t);

/* Name scenario scen's n tenants (its traffic.tenants, in order), before
 * any run of it is recorded. LD_EINVAL, said in err (naming file), when
 * there are more than CMP_MAX_TENANTS or an id is too long for the table. */
int cmp_tenants_name(cmp_tenants *t, int scen, int n, const char *const *ids,
                     const char *file, ld_error *err);

/* Scenario scen's tenant count and tenant k's id. */
int cmp_tenants_count(const cmp_tenants *t, int scen);
const char *cmp_tenants_id(const cmp_tenants *t, int scen, int k);

/* The CMP_UNIT_TENANT_VALUES values of one unit (NaN: no figure), to send
 * to or fill from another process or a shard file. */
double *cmp_tenants_unit(cmp_tenants *t, int scen, int pol, int seed);

/* A run's summary (sim_metrics_summary): the figures of the scenario's
 * named tenants in its "tenants" (a tenant it does not name is not in the
 * table). */
void cmp_tenants_record(cmp_tenants *t, int scen, int pol, int seed,
                        const cJSON *summary);

/* Scenario scen's table: printed (policies in `order`, labelled) when
 * print, and added to its report object as "tenants": {id: {label:
 * {success_rate, key_limited_rate, spend_usd}: {mean, ci95}}}. Nothing
 * when the scenario has no tenants. LD_OK or LD_ENOMEM. */
int cmp_tenants_report(const cmp_tenants *t, int scen, const int *order,
                       const char *const *labels, cJSON *report, bool print);

#endif
