/* compare.h - what `ladder compare` (cmd_compare.c: arguments, tables,
 * gates), its runner (compare_run.c: the (scenario, policy, seed) units,
 * --jobs, --shard) and `ladder merge` (cmd_merge.c: shard files) share. */
#ifndef LD_CLI_COMPARE_H
#define LD_CLI_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ld.h"
#include "cli_opt.h"
#include "ld_policy.h"
#include "sim_scenario.h"

#define MAX_POLICIES 16
#define MAX_SCENARIOS 64
#define MAX_SEEDS 1000
#define MAX_GATES 16
#define MAX_JOBS 256
#define NMETRICS 14

typedef struct metric_def {
    const char *key;
    const char *label;
    double scale; /* for display */
    const char *fmt;
    int better;   /* +1 higher is better, -1 lower, 0 neither */
} metric_def;

extern const metric_def compare_metrics[NMETRICS];

typedef struct policy_arg {
    char label[64];
    const char *path;
    ld_policy *p;
} policy_arg;

typedef struct gate {
    const char *text;
    double lk, rk;           /* factors */
    int lp, rp;              /* policy index, -1: a plain number */
    int lm, rm;              /* metric index */
    double lnum, rnum;
    char op[3];
} gate;

typedef struct cmp {
    policy_arg pol[MAX_POLICIES];
    int npol;
    const char *scen[MAX_SCENARIOS];
    int nscen;
    char *scen_store[MAX_SCENARIOS];
    int seeds;
    bool json, progress;
    const char *out;
    int baseline;
    gate gates[MAX_GATES];
    int ngates;
    sim_bind_opts bind; /* --bind, --map-workload, --map-tier (the
                           strings point into argv, the arrays here) */
    cli_list binds, map_workload, map_tier;
    int jobs;           /* worker processes (--jobs) */
    int shard_i, shard_n; /* --shard I/N (1-based); 0/0: all units */
    uint64_t seed_offset; /* seed k runs at the scenario's seed + offset + k
                             (0 for compare; `ladder tune` runs later seeds
                             and its held-back ones) */
    bool no_notes;        /* compare_run says no scenario notes (tune says
                             them once, not once per candidate) */
    /* values[scenario][policy][seed][metric] */
    double *v;
    char scen_name[MAX_SCENARIOS][128];
    sim_scenario *loaded[MAX_SCENARIOS]; /* compare_run's, bound */
    uint64_t base_seed[MAX_SCENARIOS];   /* each scenario's own seed */
    struct cmp_tenants *tenants; /* per-tenant figures (compare_tenants.h) */
} cmp;

static inline double *cmp_val(cmp *c, int s, int p, int seed, size_t m)
{
    size_t i = (((size_t)s * (size_t)c->npol + (size_t)p) * (size_t)c->seeds +
                (size_t)seed) * NMETRICS + m;
    return &c->v[i];
}

/* The units of a compare: unit u is scenario u / (seeds * npol), seed
 * u / npol % seeds, policy u % npol. A shard I/N holds the units with
 * u % N == I - 1. */
static inline int cmp_units(const cmp *c)
{
    return c->nscen * c->seeds * c->npol;
}

static inline bool cmp_in_shard(const cmp *c, int u)
{
    return c->shard_n == 0 || u % c->shard_n == c->shard_i - 1;
}

/* Parse a --gate expression against c's labels; -1 (said on stderr) if it
 * does not parse. */
int compare_parse_gate(cmp *c, gate *g, const char *text);

/* Load every scenario, name it (scen_name), bind it to every policy
 * (printing its notes) and make the --out directories, then run this
 * shard's units on c->jobs processes, filling c->v. Errors fill err. */
int compare_run(cmp *c, ld_error *err);

/* Free what compare_run loaded. */
void compare_run_cleanup(cmp *c);

/* The tables (or --json), the gates, compare.json under c->out: the exit
 * code (0, 2 on an error, said on stderr, 3 when a gate fails). */
int compare_finish(cmp *c);

/* Write this shard's values and what the report needs (labels, names,
 * seeds, baseline, gates) to c->out/shard-I-of-N.json. */
int compare_shard_write(cmp *c, ld_error *err);

#endif
