/* cmd_replay.c - `ladder replay TRACE --policy P`: play a recorded request
 * trace (docs/trace-format.md) through a candidate policy on the simulator:
 * the same arrivals, sizes and users, and the providers as recorded. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_opt.h"
#include "sim.h"
#include "sim_replay.h"

typedef struct replay_args {
    const char *trace, *policy, *scenario, *out;
    bool json, skip_bad, no_progress;
    double speedup, window_s;
    long long seed;
    cli_list bind, map_workload, map_tier;
} replay_args;

#define AT(f) CLI_AT(replay_args, f)
static const cli_opt replay_opts[] = {
    {"policy", CLI_STR, "POLICY", "the policy file", .flags = CLI_REQ,
     .off = AT(policy)},
    {"scenario", CLI_STR, "S", "provider models (and their faults) for what "
     "the trace does not show, users' patience", .off = AT(scenario)},
    {"speedup", CLI_NUM, "X", "arrivals X times faster (default 1)",
     .flags = CLI_GT_MIN, .off = AT(speedup), .min = 0, .max = 1e9},
    {"window-s", CLI_NUM, "W", "how far in time to look for a recorded "
     "attempt on a route (default 60)", .flags = CLI_GT_MIN,
     .off = AT(window_s), .min = 0, .max = 1e9},
    {"json", CLI_FLAG, NULL, "print the summary object instead of the table",
     .off = AT(json)},
    {"out", CLI_STR, "DIR", "write DIR/summary.json, timeseries.csv, cdf.csv, "
     "faults.csv and events.jsonl", .off = AT(out)},
    {"seed", CLI_INT, "N", "seed of the run (default: the scenario's, or 1)",
     .off = AT(seed), .min = 0, .max = 9.2e18},
    {"skip-bad-rows", CLI_FLAG, NULL, "skip (and count) trace lines that do "
     "not parse", .off = AT(skip_bad)},
    {"no-progress", CLI_FLAG, NULL, "no progress bar on stderr",
     .off = AT(no_progress)},
    CLI_BIND_OPTS(replay_args),
    {.name = NULL}};

static const cli_cmd replay_cmd = {
    "ladder replay",
    {NULL, CLI_STR, "TRACE", NULL, .flags = CLI_REQ, .off = AT(trace)},
    "Replays TRACE (JSON lines from `ladder serve --trace` or `ladder\n"
    "sim --trace`) through POLICY on the simulator: the recorded\n"
    "arrivals, sizes and users, and each route answering as it did.\n"
    "An attempt takes the outcome of the same request's attempt on\n"
    "that route when there is one, else of an attempt recorded on the\n"
    "route nearby in time, else the scenario's model of the route.\n",
    replay_opts,
    "Exit: 0 done, 2 bad input or usage.\n"};
#undef AT

/* Where the attempts' outcomes came from, for the table and the summary. */
static cJSON *replay_json(const sim_replay_info *in, const sim_stats *st)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (!cJSON_AddNumberToObject(o, "lines", (double)in->requests) ||
        !cJSON_AddNumberToObject(o, "lines_skipped", (double)in->skipped) ||
        !cJSON_AddNumberToObject(o, "speedup", in->speedup) ||
        !cJSON_AddNumberToObject(o, "window_s", in->window_s) ||
        !cJSON_AddNumberToObject(o, "recorded_attempts", (double)in->attempts) ||
        !cJSON_AddNumberToObject(o, "recorded_attempts_foreign",
                                 (double)in->attempts_foreign) ||
        !cJSON_AddNumberToObject(o, "attempts_same_request",
                                 (double)st->replay_same) ||
        !cJSON_AddNumberToObject(o, "attempts_nearby", (double)st->replay_near) ||
        !cJSON_AddNumberToObject(o, "attempts_model", (double)st->replay_model) ||
        !cJSON_AddNumberToObject(o, "attempts_unmodelled",
                                 (double)st->replay_unmodelled)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int cmd_replay(int argc, char **argv)
{
    replay_args a = {.speedup = 1, .window_s = 60, .seed = -1};
    int pr = cli_opt_parse(&replay_cmd, argc, argv, &a);
    if (pr != CLI_PARSED)
        return pr == CLI_HELP ? 0 : 2;
    const char *trace = a.trace, *policy = a.policy, *scenario = a.scenario;
    const char *out = a.out;
    bool json = a.json, progress = isatty(2) && !a.no_progress;
    sim_replay_opts ro = {a.speedup, a.window_s, a.skip_bad};
    long long seed = a.seed;

    int rc = 2;
    ld_error err;
    ld_policy *p = NULL;
    sim_scenario *base = NULL, *sc = NULL;
    sim_recorded *rec = NULL;
    sim_metrics *m = NULL;
    cJSON *summary = NULL, *rj = NULL;
    FILE *events = NULL;
    char path[4096];
    if (scenario != NULL) {
        sim_bind_opts bo = {a.bind.v, a.bind.n, a.map_workload.v,
                            a.map_workload.n, a.map_tier.v, a.map_tier.n};
        if (cli_sim_prepare(scenario, policy, &bo, &p, &base, &err) < 0)
            goto fail;
    } else if (cli_load_policy(policy, &p, &err) < 0) {
        goto fail;
    }
    if (sim_replay_load(trace, p, &ro, &rec, &err) < 0)
        goto fail;
    int rc2 = sim_replay_scenario(rec, p, base, &sc, &err);
    base = NULL; /* taken over */
    if (rc2 < 0)
        goto fail;
    if (seed >= 0 && sim_scenario_reseed(sc, (uint64_t)seed, &err) < 0)
        goto fail;

    sim_replay_info info;
    sim_replay_info_get(rec, &info);
    if (info.skipped > 0)
        fprintf(stderr, "ladder replay: %s: %lld bad lines skipped\n", trace,
                (long long)info.skipped);
    if (info.attempts_ignored > 0)
        fprintf(stderr, "ladder replay: %s: %lld attempts past the first %d "
                "of their request ignored\n", trace,
                (long long)info.attempts_ignored, LD_TRACE_MAX_ATT);
    if (info.nforeign > 0 && !json) {
        fprintf(stderr, "ladder replay: note: %lld recorded attempts are on "
                "routes the policy lacks (unused):", (long long)info.attempts_foreign);
        for (int i = 0; i < info.nforeign; i++)
            fprintf(stderr, "%s %s", i ? "," : "", info.foreign[i]);
        fputc('\n', stderr);
    }
    int unc[LD_MAX_ROUTES];
    int nunc = sim_replay_uncovered(rec, sc, p, unc, LD_MAX_ROUTES);
    for (int i = 0; i < nunc && i < LD_MAX_ROUTES; i++)
        fprintf(stderr, "ladder replay: warning: route \"%s\" is in the "
                "policy but the trace has no usable attempt on it (none, or "
                "only ones cancelled before a first token)%s: its attempts "
                "will fail as connect_error%s\n", ld_policy_route_id(p, unc[i]),
                scenario != NULL ? " and the scenario does not model it" : "",
                scenario != NULL ? "" : " (--scenario can give it a model)");

    if (out != NULL) {
        if (cli_make_dir(out, &err) < 0)
            goto fail;
        snprintf(path, sizeof path, "%s/events.jsonl", out);
        if ((events = fopen(path, "w")) == NULL) {
            ld_error_set(&err, path, NULL, "cannot write: %s", strerror(errno));
            goto fail;
        }
    }
    sim_options o = {.sc = sc, .p = p, .seed = sc->seed, .events = events,
                     .events_sample = 1.0, .progress = progress && !json};
    sim_stats st;
    if (sim_run(&o, &m, &st, &err) < 0)
        goto fail;
    if (st.replay_unmodelled > 0)
        fprintf(stderr, "ladder replay: warning: %lld attempts had neither a "
                "recorded outcome nor a provider model: replayed as "
                "connect_error\n", (long long)st.replay_unmodelled);
    summary = sim_metrics_summary(m, sc->seed);
    rj = replay_json(&info, &st);
    if (summary == NULL || rj == NULL ||
        !cJSON_AddStringToObject(summary, "trace", trace) ||
        !cJSON_AddStringToObject(summary, "policy", policy) ||
        (scenario != NULL
             ? !cJSON_AddStringToObject(summary, "scenario", scenario)
             : !cJSON_AddNullToObject(summary, "scenario")) ||
        !cJSON_AddItemToObject(summary, "replay", rj)) {
        ld_error_set(&err, NULL, NULL, "out of memory");
        goto fail;
    }
    rj = NULL; /* the summary owns it */
    if (json) {
        if (cli_print_json(summary, &err) < 0)
            goto fail;
    } else {
        printf("replay of %s (%lld requests over %.0f s, speedup %g), policy "
               "%s, seed %llu\n", trace, (long long)info.requests,
               info.span_s, info.speedup, policy,
               (unsigned long long)sc->seed);
        sim_metrics_print_table(m, stdout);
        printf("attempts replayed from the same request %lld, from nearby "
               "ones %lld, from the model %lld, with nothing %lld\n",
               (long long)st.replay_same, (long long)st.replay_near,
               (long long)st.replay_model, (long long)st.replay_unmodelled);
        if (info.skipped > 0)
            printf("trace lines skipped as bad: %lld\n",
                   (long long)info.skipped);
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
        fprintf(stderr, "ladder replay: %s\n", err.msg);
    if (events != NULL && fclose(events) != 0 && rc == 0) {
        fprintf(stderr, "ladder replay: %s/events.jsonl: write error\n", out);
        rc = 2;
    }
    cJSON_Delete(rj);
    cJSON_Delete(summary);
    sim_metrics_free(m);
    sim_scenario_free(sc);
    sim_scenario_free(base);
    sim_replay_free(rec);
    ld_policy_free(p);
    return rc;
}
