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
#include "sim.h"
#include "sim_replay.h"

static void sim_usage(FILE *f)
{
    fputs("usage: ladder sim SCENARIO --policy POLICY [--json] [--out DIR]\n"
          "                  [--seed N] [--events-sample F] [--skip-bad-rows]\n"
          "                  [--trace FILE] [--no-progress]\n"
          "\n"
          "Runs SCENARIO (traffic, provider models, faults) through POLICY on\n"
          "a virtual clock and prints what users saw: success, abandonment,\n"
          "latency and TTFT percentiles, cost, attempts, fallbacks.\n"
          "  --json            print the summary object instead of the table\n"
          "  --out DIR         write DIR/summary.json, DIR/timeseries.csv and\n"
          "                    DIR/events.jsonl (the core's decisions)\n"
          "  --seed N          override the scenario's seed\n"
          "  --events-sample F write events for a share F of requests (0..1,\n"
          "                    default 1)\n"
          "  --skip-bad-rows   skip (and count) trace rows that do not parse\n"
          "  --trace FILE      write one JSON line per finished request\n"
          "                    (docs/trace-format.md; `ladder replay` reads it)\n"
          "  --no-progress     no progress bar on stderr\n",
          f);
}

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
    const char *scenario = NULL, *policy = NULL, *out = NULL;
    const char *trace_path = NULL;
    bool json = false, progress = isatty(2), skip_bad = false;
    double sample = 1.0;
    long long seed = -1;
    sim_bind_opts bind = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--policy") == 0 && v) {
            policy = v;
            i++;
        } else if (strcmp(a, "--out") == 0 && v) {
            out = v;
            i++;
        } else if (strcmp(a, "--trace") == 0 && v) {
            trace_path = v;
            i++;
        } else if (strcmp(a, "--seed") == 0 && v) {
            char *end;
            errno = 0;
            seed = strtoll(v, &end, 10);
            if (end == v || *end != '\0' || errno == ERANGE || seed < 0) {
                fprintf(stderr, "ladder sim: --seed needs a number >= 0, got "
                        "\"%s\"\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--events-sample") == 0 && v) {
            char *end;
            sample = strtod(v, &end);
            if (end == v || *end != '\0' || !(sample >= 0 && sample <= 1)) {
                fprintf(stderr, "ladder sim: --events-sample needs a share "
                        "from 0 to 1, got \"%s\"\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--skip-bad-rows") == 0) {
            skip_bad = true;
        } else if (strcmp(a, "--no-progress") == 0) {
            progress = false;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            sim_usage(stdout);
            return 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "ladder sim: unknown option \"%s\" (or it needs "
                    "a value)\n", a);
            return 2;
        } else if (scenario == NULL) {
            scenario = a;
        } else {
            fprintf(stderr, "ladder sim: one scenario at a time (got \"%s\" "
                    "and \"%s\"; `ladder compare` takes several)\n",
                    scenario, a);
            return 2;
        }
    }
    if (scenario == NULL || policy == NULL) {
        sim_usage(stderr);
        return 2;
    }
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
