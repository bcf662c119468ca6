/* cmd_sim.c - `ladder sim SCENARIO --policy P`: run one scenario through one
 * policy on the simulator and report what users saw. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_opt.h"
#include "sim.h"
#include "sim_replay.h"

typedef struct sim_args {
    const char *scenario, *policy, *out, *trace;
    bool json, skip_bad, no_progress;
    double sample;
    long long seed;
    cli_list bind, map_workload, map_tier;
} sim_args;

#define AT(f) CLI_AT(sim_args, f)
static const cli_opt sim_opts[] = {
    {"policy", CLI_STR, "POLICY", "the policy file",
     .flags = CLI_REQ, .off = AT(policy)},
    {"json", CLI_FLAG, NULL, "print the summary object instead of the table",
     .off = AT(json)},
    {"out", CLI_STR, "DIR", "write DIR/summary.json, DIR/timeseries.csv and "
     "DIR/events.jsonl (the core's decisions)", .off = AT(out)},
    {"seed", CLI_INT, "N", "override the scenario's seed",
     .off = AT(seed), .min = 0, .max = 9.2e18},
    {"events-sample", CLI_NUM, "F", "write events for a share F of requests "
     "(0..1, default 1)", .off = AT(sample), .min = 0, .max = 1},
    {"skip-bad-rows", CLI_FLAG, NULL, "skip (and count) trace rows that do "
     "not parse", .off = AT(skip_bad)},
    {"trace", CLI_STR, "FILE", "write one JSON line per finished request "
     "(docs/trace-format.md; `ladder replay` reads it)", .off = AT(trace)},
    {"no-progress", CLI_FLAG, NULL, "no progress bar on stderr",
     .off = AT(no_progress)},
    CLI_BIND_OPTS(sim_args),
    {.name = NULL}};

static const cli_cmd sim_cmd = {
    "ladder sim",
    {NULL, CLI_STR, "SCENARIO", NULL, .flags = CLI_REQ, .off = AT(scenario)},
    "Runs SCENARIO (traffic, provider models, faults) through POLICY on\n"
    "a virtual clock and prints what users saw: success, abandonment,\n"
    "latency and TTFT percentiles, cost, attempts, fallbacks.\n",
    sim_opts,
    "One scenario at a time: `ladder compare` takes several.\n"
    "Exit: 0 done, 2 bad input or usage.\n"};
#undef AT

int cli_make_dir(const char *dir, ld_error *err)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return LD_OK;
        ld_error_set(err, dir, NULL, "exists and is not a directory");
        return LD_EINVAL;
    }
    ld_error_set(err, dir, NULL, "cannot create directory: %s",
                 strerror(errno));
    return LD_EINVAL;
}

int cli_write_json(const char *path, const cJSON *obj, ld_error *err)
{
    char *s = cJSON_Print(obj);
    if (s == NULL) {
        ld_error_set(err, path, NULL, "out of memory");
        return LD_ENOMEM;
    }
    FILE *f = fopen(path, "w");
    int rc = LD_OK;
    if (f == NULL || fputs(s, f) < 0 || fputc('\n', f) < 0) {
        ld_error_set(err, path, NULL, "cannot write: %s", strerror(errno));
        rc = LD_EINVAL;
    }
    if (f != NULL && fclose(f) != 0 && rc == LD_OK) {
        ld_error_set(err, path, NULL, "cannot write: %s", strerror(errno));
        rc = LD_EINVAL;
    }
    cJSON_free(s);
    return rc;
}

void cli_print_notes(const char *cmd, const char *label,
                     const sim_scenario *sc)
{
    for (int i = 0; i < sc->nnotes; i++)
        fprintf(stderr, "ladder %s: note: %s%s%s\n", cmd, label ? label : "",
                label ? ": " : "", sc->notes[i]);
}

int cli_sim_prepare(const char *scenario_path, const char *policy_path,
                    const sim_bind_opts *bo, ld_policy **p, sim_scenario **sc,
                    ld_error *err)
{
    *p = NULL;
    *sc = NULL;
    int rc = cli_load_policy(policy_path, p, err);
    if (rc < 0)
        return rc;
    rc = sim_scenario_load(scenario_path, sc, err);
    if (rc == LD_OK)
        rc = sim_scenario_bind_opts(*sc, *p, bo, err);
    if (rc < 0) {
        sim_scenario_free(*sc);
        ld_policy_free(*p);
        *sc = NULL;
        *p = NULL;
    }
    return rc;
}

int cmd_sim(int argc, char **argv)
{
    sim_args a = {.sample = 1.0, .seed = -1};
    int pr = cli_opt_parse(&sim_cmd, argc, argv, &a);
    if (pr != CLI_PARSED)
        return pr == CLI_HELP ? 0 : 2;
    const char *scenario = a.scenario, *policy = a.policy, *out = a.out;
    const char *trace_path = a.trace;
    bool json = a.json, progress = isatty(2) && !a.no_progress;
    bool skip_bad = a.skip_bad;
    double sample = a.sample;
    long long seed = a.seed;
    sim_bind_opts bind = {a.bind.v, a.bind.n, a.map_workload.v,
                          a.map_workload.n, a.map_tier.v, a.map_tier.n};
    ld_policy *p;
    sim_scenario *sc;
    ld_error err;
    if (cli_sim_prepare(scenario, policy, &bind, &p, &sc, &err) < 0) {
        fprintf(stderr, "ladder sim: %s\n", err.msg);
        return 2;
    }
    cli_print_notes("sim", NULL, sc);
    if (skip_bad)
        sc->traffic.trace.skip_bad_rows = true;
    int rc = 2;
    FILE *events = NULL, *trace = NULL;
    sim_metrics *m = NULL;
    cJSON *summary = NULL;
    char path[4096];
    if (seed >= 0 && sim_scenario_reseed(sc, (uint64_t)seed, &err) < 0)
        goto fail;
    if (out != NULL) {
        if (cli_make_dir(out, &err) < 0)
            goto fail;
        snprintf(path, sizeof path, "%s/events.jsonl", out);
        if ((events = fopen(path, "w")) == NULL) {
            ld_error_set(&err, path, NULL, "cannot write: %s", strerror(errno));
            goto fail;
        }
    }
    if (trace_path != NULL && (trace = fopen(trace_path, "w")) == NULL) {
        ld_error_set(&err, trace_path, NULL, "cannot write: %s",
                     strerror(errno));
        goto fail;
    }
    sim_options o = {.sc = sc, .p = p, .seed = sc->seed, .events = events,
                     .events_sample = sample, .progress = progress && !json,
                     .trace = trace};
    sim_stats st;
    if (sim_run(&o, &m, &st, &err) < 0)
        goto fail;
    if (trace != NULL) {
        int bad = fclose(trace);
        trace = NULL;
        if (bad != 0) {
            ld_error_set(&err, trace_path, NULL, "write error");
            goto fail;
        }
        if (st.trace_attempts_dropped > 0)
            fprintf(stderr, "ladder sim: %s: %lld attempts past the first %d "
                    "of their request are not in the trace\n", trace_path,
                    (long long)st.trace_attempts_dropped, LD_TRACE_MAX_ATT);
    }
    summary = sim_metrics_summary(m, sc->seed);
    cJSON *binding = sim_scenario_binding_json(sc, p);
    if (binding != NULL && summary != NULL &&
        !cJSON_AddItemToObject(summary, "binding", binding)) {
        cJSON_Delete(binding);
        binding = NULL;
    }
    if (summary == NULL || binding == NULL ||
        !cJSON_AddStringToObject(summary, "scenario", sc->name) ||
        !cJSON_AddStringToObject(summary, "policy", policy) ||
        !cJSON_AddNumberToObject(summary, "trace_rows_skipped",
                                 (double)st.trace_skipped)) {
        ld_error_set(&err, NULL, NULL, "out of memory");
        goto fail;
    }
    if (json) {
        if (cli_print_json(summary, &err) < 0)
            goto fail;
    } else {
        printf("scenario %s, policy %s, seed %llu\n", sc->name, policy,
               (unsigned long long)sc->seed);
        sim_scenario_print_binding(sc, p, stdout);
        sim_metrics_print_table(m, stdout);
        if (st.trace_skipped > 0)
            printf("trace rows skipped as bad: %lld\n",
                   (long long)st.trace_skipped);
    }
    if (out != NULL) {
        if (cli_write_run(out, m, summary, &err) < 0)
            goto fail;
        if (!json)
            fprintf(stderr, "wrote %s/: summary.json, timeseries.csv, "
                    "cdf.csv, faults.csv, events.jsonl\n", out);
    }
    rc = 0;
fail:
    if (rc != 0)
        fprintf(stderr, "ladder sim: %s\n", err.msg);
    if (trace != NULL)
        fclose(trace);
    if (events != NULL && fclose(events) != 0 && rc == 0) {
        fprintf(stderr, "ladder sim: %s/events.jsonl: write error\n", out);
        rc = 2;
    }
    cJSON_Delete(summary);
    sim_metrics_free(m);
    sim_scenario_free(sc);
    ld_policy_free(p);
    return rc;
}
