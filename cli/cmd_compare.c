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

#define MAX_POLICIES 16
#define MAX_SCENARIOS 64
#define MAX_SEEDS 1000
#define MAX_GATES 16

typedef struct metric_def {
    const char *key;
    const char *label;
    double scale; /* for display */
    const char *fmt;
    int better;   /* +1 higher is better, -1 lower, 0 neither */
} metric_def;

static const metric_def metrics[] = {
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
#define NMETRICS (sizeof metrics / sizeof metrics[0])

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
    /* values[scenario][policy][seed][metric] */
    double *v;
    cmp_tenants *tenants; /* per-tenant figures (compare_tenants.h) */
    char scen_name[MAX_SCENARIOS][128];
} cmp;

static double *val(cmp *c, int s, int p, int seed, size_t m)
{
    size_t i = (((size_t)s * (size_t)c->npol + (size_t)p) * (size_t)c->seeds +
                (size_t)seed) * NMETRICS + m;
    return &c->v[i];
}

/* ---- reading the summary ------------------------------------------------ */

static double jnum(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b != NULL)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static double metric_of(const cJSON *s, size_t m)
{
    const char *k = metrics[m].key;
    if (strncmp(k, "latency_p", 9) == 0 || strncmp(k, "ttft_p", 6) == 0) {
        char q[8];
        const char *p = strchr(k, 'p');
        size_t n = strcspn(p, "_");
        snprintf(q, sizeof q, "%.*s", (int)n, p);
        return jnum(s, k[0] == 'l' ? "latency_ms" : "ttft_ms", q);
    }
    if (strcmp(k, "fallback_rate") == 0) {
        double req = jnum(s, "requests", NULL);
        return req > 0 ? jnum(s, "fallbacks", "total") / req : NAN;
    }
    if (strcmp(k, "recovery_s") == 0 || strcmp(k, "unrecovered_share") == 0) {
        /* recovery_s: mean over the windows that recovered; a window that
         * did not is no time at all, and counts in unrecovered_share
         * (of the windows where recovery was measurable). Windows whose
         * recovery is not defined count in neither. No window: NaN. */
        const cJSON *rec = cJSON_GetObjectItemCaseSensitive(s, "recovery");
        double sum = 0;
        int recovered = 0, not_recovered = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, rec) {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(it, "status");
            double r = jnum(it, "recovered_after_s", NULL);
            if (cJSON_IsString(st) && strcmp(st->valuestring, "recovered") == 0 &&
                !isnan(r)) {
                sum += r;
                recovered++;
            } else if (cJSON_IsString(st) &&
                       strcmp(st->valuestring, "not_recovered") == 0) {
                not_recovered++;
            }
        }
        if (k[0] == 'r')
            return recovered > 0 ? sum / recovered : NAN;
        return recovered + not_recovered > 0
                   ? (double)not_recovered / (recovered + not_recovered)
                   : NAN;
    }
    return jnum(s, k, NULL);
}

static int metric_index(const char *key)
{
    for (size_t m = 0; m < NMETRICS; m++)
        if (strcmp(metrics[m].key, key) == 0)
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

static int parse_gate(cmp *c, gate *g, const char *text)
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
    const char *baseline, *out;
    long long seeds;
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

static int parse_args(cmp *c, int argc, char **argv)
{
    compare_args a = {.c = c, .seeds = 5};
    int pr = cli_opt_parse(&compare_cmd, argc, argv, &a);
    if (pr != CLI_PARSED)
        return pr == CLI_HELP ? 1 : -1;
    c->seeds = (int)a.seeds;
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
        if (parse_gate(c, &c->gates[c->ngates++], a.gates.v[g]) < 0)
            return -1;
    return 0;
}

/* ---- running ------------------------------------------------------------ */

/* Scenario si's name in the tables, compare.json and --out: its own, or,
 * when an earlier scenario has that name (or one with the same directory
 * name), "NAME#2" (NAME#3...), said on stderr. */
static void unique_scenario_name(cmp *c, int si, const char *name)
{
    char *mine = c->scen_name[si], sl[128], other[128];
    size_t cap = sizeof c->scen_name[si];
    int first = -1;
    snprintf(mine, cap, "%s", name);
    for (int k = 2;; k++) {
        int clash = -1;
        cli_slug(mine, sl, sizeof sl);
        for (int s = 0; s < si && clash < 0; s++) {
            cli_slug(c->scen_name[s], other, sizeof other);
            if (strcmp(other, sl) == 0)
                clash = s;
        }
        if (clash < 0)
            break;
        if (first < 0)
            first = clash;
        char base[sizeof c->scen_name[si] - 12];
        snprintf(base, sizeof base, "%s", name);
        snprintf(mine, cap, "%s#%d", base, k % 1000);
    }
    if (first < 0)
        return;
    fprintf(stderr, "ladder compare: %s: scenario \"%s\" is named like %s's: "
            "it is \"%s\" in the results", c->scen[si], name, c->scen[first],
            mine);
    if (c->out != NULL)
        fprintf(stderr, ", its runs in %s/%s/", c->out, sl);
    fputc('\n', stderr);
}

/* mkdir dir/A, dir/A/B... for a label "A/B/C" (dir/A/B/C is made by
 * cli_write_run). */
static int make_label_dirs(const char *dir, const char *label, ld_error *err)
{
    char path[4096];
    for (const char *s = strchr(label, '/'); s != NULL; s = strchr(s + 1, '/')) {
        int w = snprintf(path, sizeof path, "%s/%.*s", dir, (int)(s - label),
                         label);
        if (w < 0 || (size_t)w >= sizeof path) {
            ld_error_set(err, dir, NULL, "path too long for label \"%s\"",
                         label);
            return LD_EINVAL;
        }
        int rc = cli_make_dir(path, err);
        if (rc < 0)
            return rc;
    }
    return LD_OK;
}

static int run_scenario(cmp *c, int si, ld_error *err)
{
    sim_scenario *sc = NULL;
    int rc = sim_scenario_load(c->scen[si], &sc, err);
    if (rc < 0)
        return rc;
    unique_scenario_name(c, si, sc->name);
    uint64_t base = sc->seed;
    for (int p = 0; p < c->npol && rc == LD_OK; p++) {
        if ((rc = sim_scenario_bind_opts(sc, c->pol[p].p, &c->bind, err)) < 0) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            ld_error_set(err, NULL, NULL, "with policy %s: %s",
                         c->pol[p].path, msg);
        } else {
            char label[300];
            snprintf(label, sizeof label, "%s, %s", sc->name, c->pol[p].label);
            cli_print_notes("compare", label, sc);
        }
    }
    for (int seed = 0; seed < c->seeds && rc == LD_OK; seed++) {
        if (c->progress)
            fprintf(stderr, "\r%s: seed %d/%d ", sc->name, seed + 1, c->seeds);
        if ((rc = sim_scenario_reseed(sc, base + (uint64_t)seed, err)) < 0)
            break;
        for (int p = 0; p < c->npol && rc == LD_OK; p++) {
            sim_metrics *m = NULL;
            cJSON *sum = NULL;
            if ((rc = sim_scenario_bind_opts(sc, c->pol[p].p, &c->bind,
                                             err)) < 0)
                break;
            sim_options o = {.sc = sc, .p = c->pol[p].p, .seed = sc->seed,
                             .events_sample = 1.0};
            if ((rc = sim_run(&o, &m, NULL, err)) < 0)
                break;
            sum = sim_metrics_summary(m, sc->seed);
            if (sum == NULL) {
                ld_error_set(err, NULL, NULL, "out of memory");
                rc = LD_ENOMEM;
            } else {
                for (size_t k = 0; k < NMETRICS; k++)
                    *val(c, si, p, seed, k) = metric_of(sum, k);
                cmp_tenants_record(c->tenants, si, p, seed, sum);
                if (seed == 0 && c->out != NULL) {
                    char dir[4096], sl[128];
                    cli_slug(c->scen_name[si], sl, sizeof sl);
                    snprintf(dir, sizeof dir, "%s/%s", c->out, sl);
                    if ((rc = cli_make_dir(dir, err)) == LD_OK &&
                        (rc = make_label_dirs(dir, c->pol[p].label, err)) ==
                            LD_OK) {
                        snprintf(dir, sizeof dir, "%s/%s/%s", c->out, sl,
                                 c->pol[p].label);
                        rc = cli_write_run(dir, m, sum, err);
                    }
                }
            }
            cJSON_Delete(sum);
            sim_metrics_free(m);
        }
    }
    if (c->progress)
        fputc('\n', stderr);
    sim_scenario_free(sc);
    return rc;
}

/* ---- reporting ---------------------------------------------------------- */

/* Values of policy p for metric m over the scenarios in [s0, s1). */
static size_t gather(cmp *c, int s0, int s1, int p, size_t m, double *out)
{
    size_t n = 0;
    for (int s = s0; s < s1; s++)
        for (int k = 0; k < c->seeds; k++)
            out[n++] = *val(c, s, p, k, m);
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
            cJSON *x = cJSON_AddObjectToObject(mj, metrics[m].key);
            if (x == NULL)
                goto oom;
            bool ok = true;
#define NUM(obj, k, v) (isnan(v) ? cJSON_AddNullToObject(obj, k) != NULL \
                                 : cJSON_AddNumberToObject(obj, k, v) != NULL)
            ok = ok && NUM(x, "mean", ci.mean) && NUM(x, "ci95", ci.half);
            /* what a reader needs to colour and word a difference */
            ok = ok && cJSON_AddStringToObject(x, "label",
                                               metrics[m].label) != NULL;
            ok = ok && (metrics[m].better == 0
                            ? cJSON_AddNullToObject(x, "higher_is_better")
                            : cJSON_AddBoolToObject(x, "higher_is_better",
                                                    metrics[m].better > 0))
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
            const metric_def *md = &metrics[m];
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

int cmd_compare(int argc, char **argv)
{
    cmp c;
    memset(&c, 0, sizeof c);
    int rc = 2;
    cJSON *root = NULL, *scens = NULL;
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
    for (int s = 0; s < c.nscen; s++) {
        if (run_scenario(&c, s, &err) < 0) {
            fprintf(stderr, "ladder compare: %s\n", err.msg);
            goto done;
        }
    }
    root = cJSON_CreateObject();
    if (root == NULL || (scens = cJSON_AddArrayToObject(root, "scenarios")) == NULL)
        goto oom;
    for (int s = 0; s < c.nscen; s++) {
        cJSON *r = report(&c, s, s + 1, c.scen_name[s], !c.json);
        if (r == NULL || !cJSON_AddItemToArray(scens, r)) {
            cJSON_Delete(r);
            goto oom;
        }
    }
    if (c.nscen > 1) {
        cJSON *r = report(&c, 0, c.nscen, "overall", !c.json);
        if (r == NULL || !cJSON_AddItemToObject(root, "overall", r)) {
            cJSON_Delete(r);
            goto oom;
        }
    }
    rc = 0;
    cJSON *gj = cJSON_AddArrayToObject(root, "gates");
    if (gj == NULL)
        goto oom;
    for (int g = 0; g < c.ngates; g++) {
        gate *gt = &c.gates[g];
        double l = gate_side(&c, gt->lp, gt->lm, gt->lnum, gt->lk);
        double r = gate_side(&c, gt->rp, gt->rm, gt->rnum, gt->rk);
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
        if (!c.json)
            printf("%sgate %s: %s  (%g %s %g)\n", g == 0 ? "\n" : "",
                   pass ? "PASS" : "FAIL", gt->text, l, gt->op, r);
    }
    if (c.json && cli_print_json(root, &err) < 0) {
        fprintf(stderr, "ladder compare: %s\n", err.msg);
        rc = 2;
        goto done;
    }
    if (c.out != NULL) {
        char path[4096];
        snprintf(path, sizeof path, "%s/compare.json", c.out);
        if (cli_write_json(path, root, &err) < 0) {
            fprintf(stderr, "ladder compare: %s\n", err.msg);
            rc = 2;
            goto done;
        }
        if (!c.json) {
            fflush(stdout);
            fprintf(stderr, "wrote %s/compare.json and per-policy runs; "
                    "`ladder plot %s` draws them\n", c.out, c.out);
        }
    }
    if (!c.json)
        printf("\n(* the paired difference's 95%% interval excludes zero)\n");
    goto done;
oom:
    fprintf(stderr, "ladder compare: out of memory\n");
    rc = 2;
done:
    cJSON_Delete(root);
    for (int p = 0; p < c.npol; p++)
        ld_policy_free(c.pol[p].p);
    for (int s = 0; s < c.nscen; s++)
        free(c.scen_store[s]);
    free(c.v);
    cmp_tenants_free(c.tenants);
    return rc;
}
