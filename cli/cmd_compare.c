/* cmd_compare.c - `ladder compare`: run scenarios through several policies
 * on the same random numbers, over several seeds, and report each metric
 * with its 95% interval and the paired difference against a baseline.
 * --gate turns a requirement into an exit code for CI. */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_opt.h"
#include "compare_tenants.h"
#include "sim.h"
#include "sim_stats.h"
#include "compare.h"

const metric_def compare_metrics[NMETRICS] = {
    {"success_rate", "success %", 100, "%.2f", +1},
    {"abandon_rate", "abandoned %", 100, "%.2f", -1},
    {"latency_p50_ms", "latency p50 ms", 1, "%.0f", -1},
    {"latency_p95_ms", "latency p95 ms", 1, "%.0f", -1},
    {"latency_p99_ms", "latency p99 ms", 1, "%.0f", -1},
    {"ttft_p50_ms", "ttft p50 ms", 1, "%.0f", -1},
    {"ttft_p95_ms", "ttft p95 ms", 1, "%.0f", -1},
    {"ttft_p99_ms", "ttft p99 ms", 1, "%.0f", -1},
    {"cost_per_1k_usd", "cost per 1k $", 1, "%.3f", -1},
    {"attempts_per_request", "attempts/request", 1, "%.3f", -1},
    {"fallback_rate", "fallbacks/request", 1, "%.3f", 0},
    {"minutes_over_ceiling", "minutes over ceil.", 1, "%.1f", -1},
    {"recovery_s", "time to recover s", 1, "%.1f", -1},
    {"unrecovered_share", "unrecovered %", 100, "%.1f", -1},
};


static int metric_index(const char *key)
{
    for (size_t m = 0; m < NMETRICS; m++)
        if (strcmp(compare_metrics[m].key, key) == 0)
            return (int)m;
    return -1;
}

/* ---- arguments ---------------------------------------------------------- */

static int add_scenario_path(cmp *c, const char *path, char *why,
                             size_t cap)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, cap, "%s: no such file or directory", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (c->nscen == MAX_SCENARIOS) {
            snprintf(why, cap, "more than %d scenarios", MAX_SCENARIOS);
            return -1;
        }
        c->scen[c->nscen++] = path;
        return 0;
    }
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        snprintf(why, cap, "%s: cannot read directory", path);
        return -1;
    }
    int rc = 0, found = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        size_t len = strlen(nm);
        if (rc == 0 && len > 5 && strcmp(nm + len - 5, ".json") == 0) {
            if (c->nscen == MAX_SCENARIOS) {
                snprintf(why, cap, "more than %d scenarios", MAX_SCENARIOS);
                rc = -1;
            } else {
                size_t sz = strlen(path) + len + 2;
                char *full = malloc(sz);
                if (full == NULL) {
                    snprintf(why, cap, "out of memory");
                    rc = -1;
                } else {
                    snprintf(full, sz, "%s/%s", path, nm);
                    c->scen_store[c->nscen] = full;
                    c->scen[c->nscen++] = full;
                    found++;
                }
            }
        }
        free(names[i]);
    }
    free(names);
    if (rc == 0 && found == 0) {
        snprintf(why, cap, "%s: no *.json scenarios in it", path);
        rc = -1;
    }
    return rc;
}

/* The last k components of path, the last one cut at its first '.':
 * "/x/a/tuned.json" gives "tuned" (k 1), "a/tuned" (k 2). -1 when the
 * path has fewer than k components. */
static int path_suffix(const char *path, int k, char *out, size_t cap)
{
    char buf[4096];
    const char *comp[256];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *t = strtok_r(buf, "/", &save); t != NULL;
         t = strtok_r(NULL, "/", &save))
        if (strcmp(t, ".") != 0 && n < 256)
            comp[n++] = t;
    if (n == 0 || k > n)
        return -1;
    char *last = (char *)comp[n - 1];
    size_t cut = strcspn(last, ".");
    if (cut > 0)
        last[cut] = '\0';
    size_t len = 0;
    out[0] = '\0';
    for (int i = n - k; i < n; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i > n - k ? "/" : "",
                         comp[i]);
        if (w < 0 || (size_t)w >= cap - len)
            return -1;
        len += (size_t)w;
    }
    return 0;
}

/* Labels for the policies given without LABEL=: the shortest suffix of
 * each file's path that no other file's suffix of that length matches
 * ("a/tuned" and "b/tuned"); the same file again is an A/A test, labelled
 * "tuned#2". -1 (message printed) when two labels are still equal. */
static int assign_labels(cmp *c, const bool *named)
{
    char (*canon)[4096] = malloc(sizeof *canon * MAX_POLICIES);
    int copy_of[MAX_POLICIES], rc = 0;
    if (canon == NULL) {
        fprintf(stderr, "ladder compare: out of memory\n");
        return -1;
    }
    for (int p = 0; p < c->npol; p++) {
        if (realpath(c->pol[p].path, canon[p]) == NULL)
            snprintf(canon[p], sizeof canon[p], "%s", c->pol[p].path);
        copy_of[p] = -1;
        for (int q = 0; q < p && copy_of[p] < 0; q++)
            if (!named[p] && !named[q] && strcmp(canon[p], canon[q]) == 0)
                copy_of[p] = copy_of[q] >= 0 ? copy_of[q] : q;
    }
    for (int p = 0; p < c->npol; p++) {
        if (named[p] || copy_of[p] >= 0)
            continue;
        char mine[sizeof c->pol[p].label], other[sizeof mine];
        for (int k = 1;; k++) {
            if (path_suffix(canon[p], k, mine, sizeof mine) < 0) {
                /* nothing tells them apart: the check below says so */
                path_suffix(canon[p], 1, mine, sizeof mine);
                break;
            }
            bool clash = false;
            for (int q = 0; q < c->npol && !clash; q++) {
                if (q == p || copy_of[q] >= 0 ||
                    (!named[q] && strcmp(canon[p], canon[q]) == 0))
                    continue;
                if (named[q])
                    clash = strcmp(c->pol[q].label, mine) == 0;
                else
                    clash = path_suffix(canon[q], k, other, sizeof other) == 0
                                ? strcmp(other, mine) == 0
                                : false;
            }
            if (!clash)
                break;
        }
        snprintf(c->pol[p].label, sizeof c->pol[p].label, "%s", mine);
    }
    for (int p = 0; p < c->npol; p++) {
        if (copy_of[p] < 0)
            continue;
        int nth = 2;
        for (int q = 0; q < p; q++)
            nth += copy_of[q] == copy_of[p];
        char base[sizeof c->pol[p].label - 12];
        snprintf(base, sizeof base, "%s", c->pol[copy_of[p]].label);
        snprintf(c->pol[p].label, sizeof c->pol[p].label, "%s#%d", base,
                 nth % 1000);
    }
    for (int p = 0; p < c->npol && rc == 0; p++) {
        for (int q = 0; q < p && rc == 0; q++) {
            if (strcmp(c->pol[p].label, c->pol[q].label) == 0) {
                fprintf(stderr, "ladder compare: two policies are labelled "
                        "\"%s\" (%s and %s): name them with --policy "
                        "LABEL=FILE\n", c->pol[p].label, c->pol[q].path,
                        c->pol[p].path);
                rc = -1;
            }
        }
    }
    free(canon);
    return rc;
}

int compare_parse_gate(cmp *c, gate *g, const char *text)
{
    static const char *const ops[] = {"<=", ">=", "<", ">"};
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    g->text = text;
    char *at = NULL;
    for (size_t i = 0; i < 4 && at == NULL; i++) {
        at = strstr(buf, ops[i]);
        if (at != NULL) {
            snprintf(g->op, sizeof g->op, "%s", ops[i]);
            *at = '\0';
            at += strlen(ops[i]);
        }
    }
    if (at == NULL) {
        fprintf(stderr, "ladder compare: --gate \"%s\": no comparison "
                "(<, <=, >, >=)\n", text);
        return -1;
    }
    char *sides[2] = {buf, at};
    for (int k = 0; k < 2; k++) {
        char *s = sides[k];
        double factor = 1, *num = k ? &g->rnum : &g->lnum;
        int *pi = k ? &g->rp : &g->lp, *mi = k ? &g->rm : &g->lm;
        while (isspace((unsigned char)*s))
            s++;
        char *star = strchr(s, '*');
        if (star != NULL) {
            char *end;
            factor = strtod(s, &end);
            while (isspace((unsigned char)*end))
                end++;
            if (end != star) {
                fprintf(stderr, "ladder compare: --gate \"%s\": expected "
                        "NUMBER * LABEL.METRIC\n", text);
                return -1;
            }
            s = star + 1;
            while (isspace((unsigned char)*s))
                s++;
        }
        char *e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
            *--e = '\0';
        char *end;
        double v = strtod(s, &end);
        if (end != s && *end == '\0') {
            *pi = -1;
            *num = v * factor;
            continue;
        }
        char *dot = strrchr(s, '.');
        if (dot == NULL) {
            fprintf(stderr, "ladder compare: --gate \"%s\": \"%s\" is "
                    "neither a number nor LABEL.METRIC\n", text, s);
            return -1;
        }
        *dot = '\0';
        *pi = -1;
        for (int p = 0; p < c->npol; p++)
            if (strcmp(c->pol[p].label, s) == 0)
                *pi = p;
        *mi = metric_index(dot + 1);
        if (*pi < 0 || *mi < 0) {
            fprintf(stderr, "ladder compare: --gate \"%s\": unknown %s "
                    "\"%s\"\n", text, *pi < 0 ? "policy label" : "metric",
                    *pi < 0 ? s : dot + 1);
            return -1;
        }
        if (k)
            g->rk = factor;
        else
            g->lk = factor;
    }
    return 0;
}

typedef struct compare_args {
    cmp *c;
    cli_list policies, gates;
    const char *baseline, *out, *shard;
    long long seeds, jobs;
    bool json, no_progress;
    cli_list bind, map_workload, map_tier;
} compare_args;

static int take_scenario(void *opts, const char *v, char *why, size_t cap)
{
    compare_args *a = opts;
    return add_scenario_path(a->c, v, why, cap);
}

#define AT(f) CLI_AT(compare_args, f)
static const cli_opt compare_opts[] = {
    {"policy", CLI_LIST, "[LABEL=]FILE", "a candidate policy (at least one; "
     "without LABEL=, labelled from its file name, or from as much of its "
     "path as tells it from the others; the same file twice is an A/A test, "
     "the copy labelled NAME#2)", .flags = CLI_REQ, .off = AT(policies)},
    {"seeds", CLI_INT, "N", "seeds per scenario (default 5)", .off = AT(seeds),
     .min = 1, .max = MAX_SEEDS},
    {"baseline", CLI_STR, "LABEL", "the policy the others are compared to "
     "(default: the first)", .off = AT(baseline)},
    {"json", CLI_FLAG, NULL, "print compare.json instead of the tables",
     .off = AT(json)},
    {"out", CLI_STR, "DIR", "DIR/compare.json, and per scenario and policy "
     "the first seed's summary, time series, CDF and faults (what `ladder "
     "plot DIR` draws)", .off = AT(out)},
    {"gate", CLI_LIST, "EXPR", "a requirement on the overall means, such as "
     "\"tuned.latency_p99_ms <= 1.1 * static.latency_p99_ms\" or "
     "\"tuned.success_rate >= 0.99\"; operators < <= > >=; exit 3 when one "
     "fails", .off = AT(gates)},
    {"scenario", CLI_CALL, "SCENARIO", "one more SCENARIO", .flags = CLI_MANY,
     .fn = take_scenario},
    {"no-progress", CLI_FLAG, NULL, "no progress bar on stderr",
     .off = AT(no_progress)},
    {"jobs", CLI_INT, "N", "run on N processes (default: the number of "
     "cores); the output is the same for every N", .off = AT(jobs), .min = 1,
     .max = MAX_JOBS},
    {"shard", CLI_STR, "I/N", "run only slice I of N of the (scenario, "
     "policy, seed) runs and write it to --out DIR/shard-I-of-N.json for "
     "`ladder merge`", .off = AT(shard)},
    CLI_BIND_OPTS(compare_args),
    {.name = NULL}};

static const cli_cmd compare_cmd = {
    "ladder compare",
    {NULL, CLI_CALL, "SCENARIO", NULL, .flags = CLI_MANY, .fn = take_scenario},
    "Runs every SCENARIO (files, or directories of *.json) through every\n"
    "policy with the same random numbers, for seeds 1..N added to each\n"
    "scenario's seed, and prints per metric each policy's mean with its\n"
    "95% interval, and its paired difference from the baseline (the first\n"
    "policy unless --baseline); * marks differences whose interval\n"
    "excludes zero. With several scenarios, an overall table follows.\n"
    "Two scenarios with the same name get their own --out directories\n"
    "(the second one's name gets \"#2\", and stderr says so).\n",
    compare_opts,
    "metrics: success_rate abandon_rate latency_p50_ms latency_p95_ms\n"
    "  latency_p99_ms ttft_p50_ms ttft_p95_ms ttft_p99_ms cost_per_1k_usd\n"
    "  attempts_per_request fallback_rate minutes_over_ceiling recovery_s\n"
    "  unrecovered_share (README.md, Metrics, defines each)\n"
    "Exit: 0 done, 2 bad input, 3 a gate failed.\n"};
#undef AT

/* --shard I/N: 1 <= I <= N <= 100000, and --out is needed */
static int parse_shard(cmp *c, const char *v, const char *out)
{
    char *end;
    long i = strtol(v, &end, 10), n = 0;
    bool ok = end != v && *end == '/';
    if (ok) {
        const char *ns = end + 1;
        n = strtol(ns, &end, 10);
        ok = end != ns && *end == '\0' && i >= 1 && n >= i && n <= 100000;
    }
    if (!ok) {
        fprintf(stderr, "ladder compare: --shard \"%s\": expected I/N with "
                "1 <= I <= N <= 100000, such as 1/4\n", v);
        return -1;
    }
    if (out == NULL) {
        fprintf(stderr, "ladder compare: --shard needs --out DIR (where the "
                "shard is written)\n");
        return -1;
    }
    c->shard_i = (int)i;
    c->shard_n = (int)n;
    return 0;
}

static int parse_args(cmp *c, int argc, char **argv)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    compare_args a = {.c = c, .seeds = 5,
                      .jobs = ncpu < 1 ? 1 : ncpu > MAX_JOBS ? MAX_JOBS : ncpu};
    int pr = cli_opt_parse(&compare_cmd, argc, argv, &a);
    if (pr != CLI_PARSED)
        return pr == CLI_HELP ? 1 : -1;
    c->seeds = (int)a.seeds;
    c->jobs = (int)a.jobs;
    if (a.shard != NULL && parse_shard(c, a.shard, a.out) < 0)
        return -1;
    c->binds = a.bind;
    c->map_workload = a.map_workload;
    c->map_tier = a.map_tier;
    c->bind = (sim_bind_opts){c->binds.v, c->binds.n, c->map_workload.v,
                              c->map_workload.n, c->map_tier.v,
                              c->map_tier.n};
    c->json = a.json;
    c->out = a.out;
    c->progress = isatty(2) && !a.no_progress;
    if (c->nscen == 0) {
        fprintf(stderr, "ladder compare: SCENARIO is required\n");
        cli_opt_usage(&compare_cmd, stderr);
        return -1;
    }
    if (a.policies.n > MAX_POLICIES || a.gates.n > MAX_GATES) {
        fprintf(stderr, "ladder compare: at most %d %s\n",
                a.gates.n > MAX_GATES ? MAX_GATES : MAX_POLICIES,
                a.gates.n > MAX_GATES ? "gates" : "policies");
        return -1;
    }
    bool named[MAX_POLICIES];
    for (int i = 0; i < a.policies.n; i++) {
        const char *v = a.policies.v[i];
        policy_arg *pa = &c->pol[c->npol++];
        const char *eq = strchr(v, '=');
        named[i] = eq != NULL && eq != v;
        if (named[i]) {
            snprintf(pa->label, sizeof pa->label, "%.*s", (int)(eq - v), v);
            pa->path = eq + 1;
        } else {
            pa->path = v;
        }
    }
    if (assign_labels(c, named) < 0)
        return -1;
    if (a.baseline != NULL) {
        c->baseline = -1;
        for (int p = 0; p < c->npol; p++)
            if (strcmp(c->pol[p].label, a.baseline) == 0)
                c->baseline = p;
        if (c->baseline < 0) {
            fprintf(stderr, "ladder compare: --baseline \"%s\" is not a "
                    "policy label\n", a.baseline);
            return -1;
        }
    }
    for (int g = 0; g < a.gates.n; g++)
        if (compare_parse_gate(c, &c->gates[c->ngates++], a.gates.v[g]) < 0)
            return -1;
    return 0;
}

/* ---- reporting ---------------------------------------------------------- */

/* Values of policy p for metric m over the scenarios in [s0, s1). */
static size_t gather(cmp *c, int s0, int s1, int p, size_t m, double *out)
{
    size_t n = 0;
    for (int s = s0; s < s1; s++)
        for (int k = 0; k < c->seeds; k++)
            out[n++] = *cmp_val(c, s, p, k, m);
    return n;
}

static void fmt_num(char *buf, size_t cap, const metric_def *d, double x)
{
    if (isnan(x))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, d->fmt, x * d->scale);
}

/* Order of policies: success first, then p99 latency, then cost. */
static void rank(cmp *c, int s0, int s1, int *order)
{
    double key[MAX_POLICIES][3];
    double *tmp = malloc(sizeof(double) * (size_t)(s1 - s0) * (size_t)c->seeds);
    for (int p = 0; p < c->npol; p++) {
        order[p] = p;
        static const int ms[3] = {0, 4, 8};
        for (int k = 0; k < 3; k++) {
            size_t n = tmp ? gather(c, s0, s1, p, (size_t)ms[k], tmp) : 0;
            sim_ci ci = sim_stats_ci(tmp, n);
            key[p][k] = isnan(ci.mean) ? (k == 0 ? -INFINITY : INFINITY)
                                       : (k == 0 ? -ci.mean : ci.mean);
        }
    }
    free(tmp);
    for (int i = 1; i < c->npol; i++) {
        for (int j = i; j > 0; j--) {
            int a = order[j - 1], b = order[j];
            int swap = 0;
            for (int k = 0; k < 3; k++) {
                if (key[a][k] != key[b][k]) {
                    swap = key[b][k] < key[a][k];
                    break;
                }
            }
            if (!swap)
                break;
            order[j - 1] = b;
            order[j] = a;
        }
    }
}

static cJSON *report(cmp *c, int s0, int s1, const char *title, bool print)
{
    size_t cap = (size_t)(s1 - s0) * (size_t)c->seeds;
    double *a = malloc(sizeof(double) * cap), *b = malloc(sizeof(double) * cap);
    cJSON *o = cJSON_CreateObject(), *pols = NULL, *rk = NULL;
    if (a == NULL || b == NULL || o == NULL ||
        !cJSON_AddStringToObject(o, "scenario", title) ||
        !cJSON_AddNumberToObject(o, "seeds", c->seeds) ||
        !cJSON_AddNumberToObject(o, "runs_per_policy", (double)cap) ||
        !cJSON_AddStringToObject(o, "baseline", c->pol[c->baseline].label) ||
        (pols = cJSON_AddArrayToObject(o, "policies")) == NULL ||
        (rk = cJSON_AddArrayToObject(o, "ranking")) == NULL)
        goto oom;
    int order[MAX_POLICIES];
    rank(c, s0, s1, order);
    for (int i = 0; i < c->npol; i++) {
        cJSON *l = cJSON_CreateString(c->pol[order[i]].label);
        if (l == NULL || !cJSON_AddItemToArray(rk, l)) {
            cJSON_Delete(l);
            goto oom;
        }
    }
    if (print) {
        printf("\n%s: %d seed%s per policy; baseline %s; ranked by success, "
               "then p99 latency, then cost\n", title, (int)cap,
               cap == 1 ? "" : "s", c->pol[c->baseline].label);
        printf("%-19s", "metric");
        for (int i = 0; i < c->npol; i++)
            printf(" %-30s", c->pol[order[i]].label);
        printf("\n");
    }
    for (int i = 0; i < c->npol; i++) {
        int p = order[i];
        cJSON *pj = cJSON_CreateObject(), *mj = NULL;
        if (pj == NULL || !cJSON_AddItemToArray(pols, pj)) {
            cJSON_Delete(pj);
            goto oom;
        }
        if (!cJSON_AddStringToObject(pj, "label", c->pol[p].label) ||
            !cJSON_AddStringToObject(pj, "file", c->pol[p].path) ||
            !cJSON_AddNumberToObject(pj, "rank", i + 1) ||
            (mj = cJSON_AddObjectToObject(pj, "metrics")) == NULL)
            goto oom;
        for (size_t m = 0; m < NMETRICS; m++) {
            size_t n = gather(c, s0, s1, p, m, b);
            gather(c, s0, s1, c->baseline, m, a);
            sim_ci ci = sim_stats_ci(b, n);
            sim_ci d = sim_stats_paired(a, b, n);
            cJSON *x = cJSON_AddObjectToObject(mj, compare_metrics[m].key);
            if (x == NULL)
                goto oom;
            bool ok = true;
#define NUM(obj, k, v) (isnan(v) ? cJSON_AddNullToObject(obj, k) != NULL \
                                 : cJSON_AddNumberToObject(obj, k, v) != NULL)
            ok = ok && NUM(x, "mean", ci.mean) && NUM(x, "ci95", ci.half);
            /* what a reader needs to colour and word a difference */
            ok = ok && cJSON_AddStringToObject(x, "label",
                                               compare_metrics[m].label) != NULL;
            ok = ok && (compare_metrics[m].better == 0
                            ? cJSON_AddNullToObject(x, "higher_is_better")
                            : cJSON_AddBoolToObject(x, "higher_is_better",
                                                    compare_metrics[m].better > 0))
                           != NULL;
            if (p != c->baseline) {
                cJSON *dj = cJSON_AddObjectToObject(x, "diff");
                ok = ok && dj != NULL && NUM(dj, "mean", d.mean) &&
                     NUM(dj, "ci95_low", d.lo) && NUM(dj, "ci95_high", d.hi) &&
                     cJSON_AddBoolToObject(dj, "significant",
                                           sim_stats_significant(&d)) != NULL;
            }
            /* the paired difference from the policy ranked next below
             * (for the winner: what it gains over the runner-up) */
            if (i + 1 < c->npol) {
                int q = order[i + 1];
                gather(c, s0, s1, q, m, a);
                sim_ci dn = sim_stats_paired(a, b, n);
                cJSON *dj = cJSON_AddObjectToObject(x, "diff_next");
                ok = ok && dj != NULL &&
                     cJSON_AddStringToObject(dj, "policy",
                                             c->pol[q].label) != NULL &&
                     NUM(dj, "mean", dn.mean) && NUM(dj, "ci95_low", dn.lo) &&
                     NUM(dj, "ci95_high", dn.hi) &&
                     cJSON_AddBoolToObject(dj, "significant",
                                           sim_stats_significant(&dn)) != NULL;
            }
#undef NUM
            if (!ok)
                goto oom;
        }
    }
    if (print) {
        for (size_t m = 0; m < NMETRICS; m++) {
            const metric_def *md = &compare_metrics[m];
            printf("%-19s", md->label);
            for (int i = 0; i < c->npol; i++) {
                int p = order[i];
                size_t n = gather(c, s0, s1, p, m, b);
                gather(c, s0, s1, c->baseline, m, a);
                sim_ci ci = sim_stats_ci(b, n);
                char cell[160], x1[32], x2[32], x3[32];
                fmt_num(x1, sizeof x1, md, ci.mean);
                fmt_num(x2, sizeof x2, md, ci.half);
                if (isnan(ci.mean)) {
                    snprintf(cell, sizeof cell, "-"); /* no run had one */
                } else if (p == c->baseline || n < 1) {
                    snprintf(cell, sizeof cell, "%s ±%s", x1, x2);
                } else {
                    sim_ci d = sim_stats_paired(a, b, n);
                    fmt_num(x3, sizeof x3, md, d.mean);
                    snprintf(cell, sizeof cell, "%s ±%s (%s%s%s)", x1, x2,
                             d.mean >= 0 ? "+" : "", x3,
                             sim_stats_significant(&d) ? "*" : "");
                }
                /* ± is two bytes and one column */
                printf(" %-*s", isnan(ci.mean) ? 30 : 31, cell);
            }
            printf("\n");
        }
    }
    if (s1 == s0 + 1) {
        const char *labels[MAX_POLICIES];
        for (int p = 0; p < c->npol; p++)
            labels[p] = c->pol[p].label;
        if (cmp_tenants_report(c->tenants, s0, order, labels, o, print) < 0)
            goto oom;
    }
    free(a);
    free(b);
    return o;
oom:
    free(a);
    free(b);
    cJSON_Delete(o);
    return NULL;
}

static double gate_side(cmp *c, int p, int m, double num, double k)
{
    if (p < 0)
        return num;
    size_t cap = (size_t)c->nscen * (size_t)c->seeds;
    double *x = malloc(sizeof(double) * cap);
    if (x == NULL)
        return NAN;
    size_t n = gather(c, 0, c->nscen, p, (size_t)m, x);
    sim_ci ci = sim_stats_ci(x, n);
    free(x);
    return k * ci.mean;
}

int compare_finish(cmp *c)
{
    int rc = 2;
    cJSON *root = NULL, *scens = NULL;
    ld_error err;
    root = cJSON_CreateObject();
    if (root == NULL || (scens = cJSON_AddArrayToObject(root, "scenarios")) == NULL)
        goto oom;
    for (int s = 0; s < c->nscen; s++) {
        cJSON *r = report(c, s, s + 1, c->scen_name[s], !c->json);
        if (r == NULL || !cJSON_AddItemToArray(scens, r)) {
            cJSON_Delete(r);
            goto oom;
        }
    }
    if (c->nscen > 1) {
        cJSON *r = report(c, 0, c->nscen, "overall", !c->json);
        if (r == NULL || !cJSON_AddItemToObject(root, "overall", r)) {
            cJSON_Delete(r);
            goto oom;
        }
    }
    rc = 0;
    cJSON *gj = cJSON_AddArrayToObject(root, "gates");
    if (gj == NULL)
        goto oom;
    for (int g = 0; g < c->ngates; g++) {
        gate *gt = &c->gates[g];
        double l = gate_side(c, gt->lp, gt->lm, gt->lnum, gt->lk);
        double r = gate_side(c, gt->rp, gt->rm, gt->rnum, gt->rk);
        bool pass = !isnan(l) && !isnan(r) &&
                    (strcmp(gt->op, "<=") == 0   ? l <= r
                     : strcmp(gt->op, ">=") == 0 ? l >= r
                     : strcmp(gt->op, "<") == 0  ? l < r
                                                 : l > r);
        if (!pass)
            rc = 3;
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(gj, o) ||
            !cJSON_AddStringToObject(o, "gate", gt->text) ||
            !cJSON_AddBoolToObject(o, "pass", pass) ||
            !cJSON_AddNumberToObject(o, "left", isnan(l) ? 0 : l) ||
            !cJSON_AddNumberToObject(o, "right", isnan(r) ? 0 : r))
            goto oom;
        if (!c->json)
            printf("%sgate %s: %s  (%g %s %g)\n", g == 0 ? "\n" : "",
                   pass ? "PASS" : "FAIL", gt->text, l, gt->op, r);
    }
    if (c->json && cli_print_json(root, &err) < 0) {
        fprintf(stderr, "ladder compare: %s\n", err.msg);
        rc = 2;
        goto done;
    }
    if (c->out != NULL) {
        char path[4096];
        snprintf(path, sizeof path, "%s/compare.json", c->out);
        if (cli_write_json(path, root, &err) < 0) {
            fprintf(stderr, "ladder compare: %s\n", err.msg);
            rc = 2;
            goto done;
        }
        if (!c->json) {
            fflush(stdout);
            fprintf(stderr, "wrote %s/compare.json and per-policy runs; "
                    "`ladder plot %s` draws them\n", c->out, c->out);
        }
    }
    if (!c->json)
        printf("\n(* the paired difference's 95%% interval excludes zero)\n");
    goto done;
oom:
    fprintf(stderr, "ladder compare: out of memory\n");
    rc = 2;
done:
    cJSON_Delete(root);
    return rc;
}

int cmd_compare(int argc, char **argv)
{
    cmp c;
    memset(&c, 0, sizeof c);
    int rc = 2;
    ld_error err;
    int pr = parse_args(&c, argc, argv);
    if (pr != 0) {
        rc = pr > 0 ? 0 : 2;
        goto done;
    }
    for (int p = 0; p < c.npol; p++) {
        if (cli_load_policy(c.pol[p].path, &c.pol[p].p, &err) < 0) {
            fprintf(stderr, "ladder compare: %s\n", err.msg);
            goto done;
        }
    }
    c.v = malloc(sizeof(double) * (size_t)c.nscen * (size_t)c.npol *
                 (size_t)c.seeds * NMETRICS);
    c.tenants = cmp_tenants_new(c.nscen, c.npol, c.seeds);
    if (c.v == NULL || c.tenants == NULL) {
        fprintf(stderr, "ladder compare: out of memory\n");
        goto done;
    }
    if (c.out != NULL && cli_make_dir(c.out, &err) < 0) {
        fprintf(stderr, "ladder compare: %s\n", err.msg);
        goto done;
    }
    if (compare_run(&c, &err) < 0) {
        fprintf(stderr, "ladder compare: %s\n", err.msg);
        goto done;
    }
    if (c.shard_n == 0) {
        rc = compare_finish(&c);
    } else if (compare_shard_write(&c, &err) < 0) {
        fprintf(stderr, "ladder compare: %s\n", err.msg);
    } else {
        fprintf(stderr, "wrote %s/shard-%d-of-%d.json; `ladder merge` "
                "combines the shards\n", c.out, c.shard_i, c.shard_n);
        rc = 0;
    }
done:
    compare_run_cleanup(&c);
    for (int p = 0; p < c.npol; p++)
        ld_policy_free(c.pol[p].p);
    for (int s = 0; s < c.nscen; s++)
        free(c.scen_store[s]);
    free(c.v);
    cmp_tenants_free(c.tenants);
    return rc;
}
