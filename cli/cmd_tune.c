/* cmd_tune.c - `ladder tune`: search a space of policies (tune_space.c)
 * around a base policy for the one that does best on the given scenarios,
 * under constraints written like `compare --gate`.
 *
 * Every candidate runs through compare's runner (compare_run, --jobs
 * worker processes) on the same seeds, so candidates are paired by seed
 * (common random numbers). The search:
 *   1. race: the base and --candidates points drawn from --seed run on the
 *      first seeds; successive halving (tune_halve) keeps the top half
 *      that is not significantly worse than the incumbent, the seeds
 *      double, until the survivors have run on all --seeds;
 *   2. refine: Nelder-Mead (GSL's nmsimplex2) over the int and real knobs
 *      from the winner, every point on all the search seeds;
 *   3. confirm: base and best on --holdout seeds the search never saw,
 *      printed with compare's tables (paired intervals) and gates.
 * Output that depends on neither --jobs nor the clock: stdout, and under
 * --out best.json, tune.json, frontier.dat, search/ and holdout/ (compare
 * directories). The progress line on stderr is the only timed thing. */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_rng.h>

#include "cli.h"
#include "cli_opt.h"
#include "compare.h"
#include "compare_tenants.h"
#include "sim_stats.h"
#include "tune.h"

/* the held-back seeds start here, past any compare --seeds (at most
 * MAX_SEEDS) and any search seeds */
#define HOLDOUT_OFFSET 100000
#define MAX_CANDIDATES 4096
#define PENALTY 1e12

enum { ORIGIN_BASE, ORIGIN_RANDOM, ORIGIN_REFINE };
static const char *const origin_name[] = {"base", "random", "refine"};

typedef struct cand {
    tune_point pt;
    int origin;
    ld_policy *p;        /* NULL: the loader refused it (invalid) */
    char invalid[256];
    int nseeds;          /* search seeds run, 0..seeds */
    double *v;           /* [scenario][seed][metric] */
    int dropped_rung;    /* -1: not dropped */
    tune_score sc;       /* on its nseeds seeds */
    bool frontier;
} cand;

typedef struct tune {
    const char *policy_path, *space_path, *out;
    const char *scen[MAX_SCENARIOS];
    int nscen;
    cJSON *base_doc;
    tune_space space;
    int obj_m, sense;
    gate cons[MAX_GATES];
    char cons_text[MAX_GATES][512];
    int ncons;
    int seeds, holdout, ncand, refine, first, jobs;
    unsigned long seed;
    bool progress;
    cand *c;
    int n;
    int nrungs, rung_seeds[32], rung_alive[32];
    int best;
    int refine_evals;
    /* progress */
    struct timespec t0;
    long units_done, units_plan;
    const char *phase;
} tune;

/* ---- arguments ---------------------------------------------------------- */

typedef struct tune_args {
    tune *t;
    const char *policy, *space, *objective, *out;
    cli_list constraints;
    long long seeds, holdout, candidates, refine, first, jobs, seed;
    bool progress, no_progress;
} tune_args;

static int take_scenario(void *opts, const char *v, char *why, size_t cap)
{
    tune_args *a = opts;
    if (a->t->nscen == MAX_SCENARIOS) {
        snprintf(why, cap, "more than %d scenarios", MAX_SCENARIOS);
        return -1;
    }
    if (access(v, R_OK) != 0) {
        snprintf(why, cap, "%s: no such file", v);
        return -1;
    }
    a->t->scen[a->t->nscen++] = v;
    return 0;
}

#define AT(f) CLI_AT(tune_args, f)
static const cli_opt tune_opts[] = {
    {"space", CLI_STR, "SPACE", "the search space: {\"knobs\": [...]} "
     "(README: tune)", .flags = CLI_REQ | CLI_NONEMPTY, .off = AT(space)},
    {"scenario", CLI_CALL, "FILE", "a scenario to tune on (at least one; "
     "repeatable)", .flags = CLI_MANY, .fn = take_scenario},
    {"objective", CLI_STR, "\"max|min METRIC\"", "what to optimise, as the "
     "mean over every scenario and seed (default \"max success_rate\")",
     .off = AT(objective)},
    {"constraint", CLI_LIST, "EXPR", "a requirement on the overall means, "
     "such as \"cost_per_1k_usd <= 1.10 * base.cost_per_1k_usd and "
     "ttft_p99_ms <= 3000\" (a bare METRIC is the candidate's, base.METRIC "
     "the base policy's); repeatable", .off = AT(constraints)},
    {"seeds", CLI_INT, "N", "search seeds per scenario a finalist runs on "
     "(default 16)", .off = AT(seeds), .min = 2, .max = MAX_SEEDS},
    {"first", CLI_INT, "N", "seeds of the race's first rung (default 2; "
     "doubled each rung)", .off = AT(first), .min = 2, .max = MAX_SEEDS},
    {"holdout", CLI_INT, "M", "held-back seeds per scenario that confirm "
     "the winner (default 16; seeds 100000.. past the scenario's)",
     .off = AT(holdout), .min = 2, .max = MAX_SEEDS},
    {"candidates", CLI_INT, "K", "points drawn from the space besides the "
     "base (default 32)", .off = AT(candidates), .min = 0,
     .max = MAX_CANDIDATES - 1},
    {"refine", CLI_INT, "E", "Nelder-Mead evaluations over the int and real "
     "knobs after the race (default 16; 0: none)", .off = AT(refine),
     .min = 0, .max = 1000},
    {"seed", CLI_INT, "S", "the seed of the candidates' draw (default 1)",
     .off = AT(seed), .min = 0, .max = 4294967295.0},
    {"jobs", CLI_INT, "N", "run on N processes (default: the number of "
     "cores); the output is the same for every N", .off = AT(jobs), .min = 1,
     .max = MAX_JOBS},
    {"out", CLI_STR, "DIR", "DIR/best.json, tune.json, frontier.dat, and "
     "compare directories search/ and holdout/", .flags = CLI_REQ |
     CLI_NONEMPTY, .off = AT(out)},
    {"progress", CLI_FLAG, NULL, "a progress line on stderr even when it is "
     "not a terminal", .off = AT(progress)},
    {"no-progress", CLI_FLAG, NULL, "no progress line", .off = AT(no_progress)},
    {.name = NULL}};

static const cli_cmd tune_cmd = {
    "ladder tune",
    {NULL, CLI_STR, "POLICY", NULL, .flags = CLI_REQ, .off = AT(policy)},
    "Searches the space around POLICY for the policy that does best on the\n"
    "scenarios under the constraints: a race with successive halving over\n"
    "--candidates random points (paired by seed), then Nelder-Mead on the\n"
    "numeric knobs, then base against best on held-back seeds. Prints the\n"
    "Pareto frontier (success, cost, p99 TTFT) and compare's tables for\n"
    "base against best on the search seeds and on the held-back ones.\n",
    tune_opts,
    "Exit: 0 the best beats the base on the held-back seeds (the paired\n"
    "interval of the objective excludes zero) and meets the constraints\n"
    "there; 2 bad input; 3 it does not (best.json is written all the same).\n"};
#undef AT

/* The constraint text with every bare METRIC as cand.METRIC, split at
 * "and" into out[] (*n of them). -1 (said) on a bad one. */
static int split_constraint(tune *t, const char *text)
{
    char cur[512];
    size_t len = 0;
    const char *s = text;
    for (;;) {
        bool end = *s == '\0';
        bool is_and = !end && strncmp(s, "and", 3) == 0 &&
                      (s == text || isspace((unsigned char)s[-1])) &&
                      (s[3] == '\0' || isspace((unsigned char)s[3]));
        if (end || is_and) {
            cur[len] = '\0';
            if (t->ncons == MAX_GATES) {
                fprintf(stderr, "ladder tune: more than %d constraints\n",
                        MAX_GATES);
                return -1;
            }
            snprintf(t->cons_text[t->ncons++], sizeof t->cons_text[0], "%s",
                     cur);
            len = 0;
            if (end)
                return 0;
            s += 3;
            continue;
        }
        if (isalpha((unsigned char)*s) || *s == '_') {
            const char *b = s;
            while (isalnum((unsigned char)*s) || *s == '_' || *s == '.')
                s++;
            bool dotted = memchr(b, '.', (size_t)(s - b)) != NULL;
            int w = snprintf(cur + len, sizeof cur - len, "%s%.*s",
                             dotted ? "" : "cand.", (int)(s - b), b);
            if (w < 0 || (size_t)w >= sizeof cur - len)
                goto toolong;
            len += (size_t)w;
            continue;
        }
        if (len + 1 >= sizeof cur)
            goto toolong;
        cur[len++] = *s++;
    }
toolong:
    fprintf(stderr, "ladder tune: --constraint \"%s\": too long\n", text);
    return -1;
}

/* Parse constraint i (cons_text) against labels a and b (base, and cand or
 * best) into g; its text is rewritten to say label b. */
static int parse_constraint(char *text, size_t cap, gate *g, const char *lb)
{
    char buf[512];
    const char *from = strcmp(lb, "cand") == 0 ? "best." : "cand.";
    /* cand. <-> best. */
    size_t n = 0;
    for (const char *s = text; *s != '\0' && n + 6 < sizeof buf;) {
        if (strncmp(s, from, 5) == 0 &&
            (s == text || !(isalnum((unsigned char)s[-1]) || s[-1] == '_'))) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s.", lb);
            s += 5;
        } else {
            buf[n++] = *s++;
        }
    }
    buf[n] = '\0';
    snprintf(text, cap, "%s", buf);
    cmp *labels = calloc(1, sizeof *labels); /* only its labels are read */
    if (labels == NULL) {
        fprintf(stderr, "ladder tune: out of memory\n");
        return -1;
    }
    labels->npol = 2;
    snprintf(labels->pol[0].label, sizeof labels->pol[0].label, "base");
    snprintf(labels->pol[1].label, sizeof labels->pol[1].label, "%s", lb);
    int rc = compare_parse_gate(labels, g, text);
    free(labels);
    return rc;
}

static int metric_index(const char *key)
{
    for (size_t m = 0; m < NMETRICS; m++)
        if (strcmp(compare_metrics[m].key, key) == 0)
            return (int)m;
    return -1;
}

static int parse_objective(tune *t, const char *text)
{
    char dir[16], key[64];
    if (text == NULL)
        text = "max success_rate";
    if (sscanf(text, " %15s %63s", dir, key) != 2 ||
        (strcmp(dir, "max") != 0 && strcmp(dir, "min") != 0) ||
        (t->obj_m = metric_index(key)) < 0) {
        fprintf(stderr, "ladder tune: --objective \"%s\": expected \"max "
                "METRIC\" or \"min METRIC\", METRIC one of compare's (ladder "
                "compare --help)\n", text);
        return -1;
    }
    t->sense = dir[1] == 'a' ? +1 : -1;
    return 0;
}

static int parse_args(tune *t, int argc, char **argv)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    tune_args a = {.t = t, .seeds = 16, .holdout = 16, .candidates = 32,
                   .refine = 16, .first = 2, .seed = 1,
                   .jobs = ncpu < 1 ? 1 : ncpu > MAX_JOBS ? MAX_JOBS : ncpu};
    int pr = cli_opt_parse(&tune_cmd, argc, argv, &a);
    if (pr != CLI_PARSED)
        return pr == CLI_HELP ? 1 : -1;
    if (t->nscen == 0) {
        fprintf(stderr, "ladder tune: --scenario is required\n");
        cli_opt_usage(&tune_cmd, stderr);
        return -1;
    }
    t->policy_path = a.policy;
    t->space_path = a.space;
    t->out = a.out;
    t->seeds = (int)a.seeds;
    t->holdout = (int)a.holdout;
    t->ncand = (int)a.candidates;
    t->refine = (int)a.refine;
    t->first = a.first < a.seeds ? (int)a.first : (int)a.seeds;
    t->jobs = (int)a.jobs;
    t->seed = (unsigned long)a.seed;
    t->progress = !a.no_progress && (a.progress || isatty(2));
    if (parse_objective(t, a.objective) < 0)
        return -1;
    for (int i = 0; i < a.constraints.n; i++)
        if (split_constraint(t, a.constraints.v[i]) < 0)
            return -1;
    for (int i = 0; i < t->ncons; i++)
        if (parse_constraint(t->cons_text[i], sizeof t->cons_text[i],
                             &t->cons[i], "cand") < 0) {
            fprintf(stderr, "ladder tune: in --constraint \"%s\" (a bare "
                    "METRIC is the candidate's, base.METRIC the base's)\n",
                    t->cons_text[i]);
            return -1;
        }
    return 0;
}

/* ---- progress ----------------------------------------------------------- */

static double elapsed(const tune *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->t0.tv_sec) +
           (double)(now.tv_nsec - t->t0.tv_nsec) / 1e9;
}

static void progress(tune *t)
{
    if (!t->progress)
        return;
    int evaluated = 0;
    for (int i = 0; i < t->n; i++)
        evaluated += t->c[i].nseeds > 0;
    double e = elapsed(t);
    long plan = t->units_plan > t->units_done ? t->units_plan : t->units_done;
    double left = t->units_done > 0
                      ? e / (double)t->units_done * (double)(plan - t->units_done)
                      : 0;
    const metric_def *md = &compare_metrics[t->obj_m];
    char best[48] = "-";
    if (t->best >= 0 && !isnan(t->c[t->best].sc.obj))
        snprintf(best, sizeof best, md->fmt, t->c[t->best].sc.obj * md->scale);
    fprintf(stderr, "\rtune: %-8s %4d candidates evaluated, best %s %s, "
            "%3.0f%%, ~%.0f s left   ", t->phase, evaluated, md->label, best,
            plan > 0 ? 100.0 * (double)t->units_done / (double)plan : 0.0,
            left);
}

/* ---- candidates and their runs ---------------------------------------- */

/* Add a candidate at point pt (its policy built and loaded): its index,
 * or -1 out of memory (said in err). A policy the loader refuses is a
 * candidate too, marked invalid. */
static int add_cand(tune *t, const tune_point *pt, int origin, ld_error *err)
{
    if (t->n == MAX_CANDIDATES) {
        ld_error_set(err, NULL, NULL, "more than %d candidates",
                     MAX_CANDIDATES);
        return -1;
    }
    cand *c = &t->c[t->n];
    memset(c, 0, sizeof *c);
    c->pt = *pt;
    c->origin = origin;
    c->dropped_rung = -1;
    c->sc = (tune_score){NAN, false, INFINITY};
    size_t nv = (size_t)t->nscen * (size_t)t->seeds * NMETRICS;
    c->v = malloc(sizeof(double) * nv);
    cJSON *doc = cJSON_Duplicate(t->base_doc, true);
    char *text = NULL;
    ld_error e;
    if (c->v == NULL || doc == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < nv; i++)
        c->v[i] = NAN;
    if (tune_point_apply(&t->space, pt, doc, t->space_path, &e) < 0) {
        snprintf(c->invalid, sizeof c->invalid, "%.250s", e.msg);
    } else if ((text = cJSON_PrintUnformatted(doc)) == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        goto fail;
    } else if (cli_parse_policy(text, strlen(text), t->policy_path, &c->p,
                                &e) < 0) {
        snprintf(c->invalid, sizeof c->invalid, "%.250s", e.msg);
    }
    cJSON_free(text);
    cJSON_Delete(doc);
    return t->n++;
fail:
    cJSON_free(text);
    cJSON_Delete(doc);
    free(c->v);
    c->v = NULL;
    return -1;
}

static double *cval(const tune *t, const cand *c, int s, int k, int m)
{
    return &c->v[((size_t)s * (size_t)t->seeds + (size_t)k) * NMETRICS +
                 (size_t)m];
}

/* Run candidates idx[0..n) on search seeds [lo, hi) (hi <= seeds), in
 * batches of compare's MAX_POLICIES. */
static int run_seeds(tune *t, const int *idx, int n, int lo, int hi,
                     uint64_t offset, double *into_holdout, ld_error *err)
{
    for (int b = 0; b < n; b += MAX_POLICIES) {
        int k = n - b < MAX_POLICIES ? n - b : MAX_POLICIES;
        cmp *c = calloc(1, sizeof *c);
        int rc = LD_ENOMEM;
        if (c == NULL) {
            ld_error_set(err, NULL, NULL, "out of memory");
            return LD_ENOMEM;
        }
        c->npol = k;
        for (int i = 0; i < k; i++) {
            snprintf(c->pol[i].label, sizeof c->pol[i].label, "c%d", idx[b + i]);
            c->pol[i].path = t->policy_path;
            c->pol[i].p = t->c[idx[b + i]].p;
        }
        c->nscen = t->nscen;
        for (int s = 0; s < t->nscen; s++)
            c->scen[s] = t->scen[s];
        c->seeds = hi - lo;
        c->seed_offset = offset + (uint64_t)lo;
        c->jobs = t->jobs;
        c->v = malloc(sizeof(double) * (size_t)c->nscen * (size_t)k *
                      (size_t)c->seeds * NMETRICS);
        c->tenants = cmp_tenants_new(c->nscen, k, c->seeds);
        if (c->v == NULL || c->tenants == NULL)
            ld_error_set(err, NULL, NULL, "out of memory");
        else
            rc = compare_run(c, err);
        for (int i = 0; rc == LD_OK && i < k; i++) {
            cand *cd = &t->c[idx[b + i]];
            for (int s = 0; s < t->nscen; s++)
                for (int sd = 0; sd < c->seeds; sd++)
                    for (int m = 0; m < NMETRICS; m++) {
                        double x = *cmp_val(c, s, i, sd, (size_t)m);
                        if (into_holdout != NULL)
                            into_holdout[(((size_t)i * (size_t)t->nscen + (size_t)s) *
                                          (size_t)c->seeds + (size_t)sd) * NMETRICS +
                                         (size_t)m] = x;
                        else
                            *cval(t, cd, s, lo + sd, m) = x;
                    }
            if (into_holdout == NULL && cd->nseeds < hi)
                cd->nseeds = hi;
        }
        t->units_done += (long)k * (hi - lo) * t->nscen;
        compare_run_cleanup(c);
        free(c->v);
        cmp_tenants_free(c->tenants);
        free(c);
        if (rc < 0)
            return rc;
        progress(t);
    }
    return LD_OK;
}

/* Mean of metric m of candidate c over scenarios and its first ns seeds. */
static double cmean(const tune *t, const cand *c, int m, int ns)
{
    double sum = 0;
    int n = 0;
    for (int s = 0; s < t->nscen; s++)
        for (int k = 0; k < ns; k++) {
            double x = *cval(t, c, s, k, m);
            if (!isnan(x)) {
                sum += x;
                n++;
            }
        }
    return n > 0 ? sum / n : NAN;
}

static double side(const tune *t, const cand *c, int p, int m, double num,
                   double k, int ns)
{
    if (p < 0)
        return num;
    return k * cmean(t, p == 0 ? &t->c[0] : c, m, ns);
}

/* Candidate c's score on its first ns seeds (the base has run on them). */
static void score(tune *t, cand *c, int ns)
{
    c->sc.obj = cmean(t, c, t->obj_m, ns);
    c->sc.viol = 0;
    c->sc.feasible = true;
    for (int i = 0; i < t->ncons; i++) {
        const gate *g = &t->cons[i];
        double l = side(t, c, g->lp, g->lm, g->lnum, g->lk, ns);
        double r = side(t, c, g->rp, g->rm, g->rnum, g->rk, ns);
        bool less = g->op[0] == '<', strict = g->op[1] == '\0';
        double gap = less ? l - r : r - l; /* > 0: violated */
        bool ok = !isnan(gap) && (strict ? gap < 0 : gap <= 0);
        if (!ok) {
            c->sc.feasible = false;
            c->sc.viol += isnan(gap) ? 1e9
                          : gap / (fabs(r) > 1e-12 ? fabs(r) : 1e-12);
        }
    }
}

/* ---- the race ----------------------------------------------------------- */

static int race(tune *t, ld_error *err)
{
    int *alive = malloc(sizeof(int) * (size_t)t->n);
    int *run = malloc(sizeof(int) * (size_t)(t->n + 1));
    tune_score *sc = malloc(sizeof *sc * (size_t)t->n);
    bool *keep = malloc(sizeof(bool) * (size_t)t->n);
    double *vals = NULL;
    int na = 0, rc = LD_OK, lo = 0, ns = t->first;
    if (alive == NULL || run == NULL || sc == NULL || keep == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        rc = LD_ENOMEM;
        goto done;
    }
    for (int i = 0; i < t->n; i++)
        if (t->c[i].p != NULL)
            alive[na++] = i;
    t->phase = "race";
    for (int r = 0;; r++) {
        int hi = ns < t->seeds ? ns : t->seeds, nr = 0;
        bool base_in = false;
        for (int i = 0; i < na; i++) {
            run[nr++] = alive[i];
            base_in = base_in || alive[i] == 0;
        }
        if (!base_in)
            run[nr++] = 0; /* the constraints' reference */
        if ((rc = run_seeds(t, run, nr, lo, hi, 0, NULL, err)) < 0)
            goto done;
        for (int i = 0; i < nr; i++)
            score(t, &t->c[run[i]], hi);
        t->rung_seeds[r] = hi;
        t->rung_alive[r] = na;
        t->nrungs = r + 1;
        int nunits = t->nscen * hi;
        free(vals);
        vals = malloc(sizeof(double) * (size_t)na * (size_t)nunits);
        if (vals == NULL) {
            ld_error_set(err, NULL, NULL, "out of memory");
            rc = LD_ENOMEM;
            goto done;
        }
        for (int i = 0; i < na; i++) {
            cand *c = &t->c[alive[i]];
            sc[i] = c->sc;
            for (int s = 0; s < t->nscen; s++)
                for (int k = 0; k < hi; k++)
                    vals[(size_t)i * (size_t)nunits + (size_t)(s * hi + k)] =
                        *cval(t, c, s, k, t->obj_m);
        }
        int inc = tune_halve(na, nunits, vals, sc, t->sense, keep);
        t->best = inc >= 0 ? alive[inc] : 0;
        progress(t);
        if (hi == t->seeds || r == 31)
            break;
        int nk = 0;
        for (int i = 0; i < na; i++) {
            if (keep[i])
                alive[nk++] = alive[i];
            else
                t->c[alive[i]].dropped_rung = r;
        }
        na = nk;
        lo = hi;
        ns = hi * 2;
    }
done:
    free(vals);
    free(alive);
    free(run);
    free(sc);
    free(keep);
    return rc;
}

/* The best of the candidates that ran on every search seed. */
static int best_full(tune *t)
{
    int *idx = malloc(sizeof(int) * (size_t)t->n), n = 0, best = 0;
    tune_score *sc = calloc((size_t)t->n, sizeof *sc);
    int *order = malloc(sizeof(int) * (size_t)t->n);
    if (idx != NULL && sc != NULL && order != NULL) {
        for (int i = 0; i < t->n; i++)
            if (t->c[i].p != NULL && t->c[i].nseeds == t->seeds) {
                sc[n] = t->c[i].sc;
                idx[n++] = i;
            }
        tune_order(n, sc, t->sense, order);
        best = n > 0 ? idx[order[0]] : 0;
    }
    free(idx);
    free(sc);
    free(order);
    return best;
}

/* ---- refinement (Nelder-Mead) ------------------------------------------- */

typedef struct nm_ctx {
    tune *t;
    tune_point from;
    int dims[TUNE_MAX_KNOBS];
    int nd;
    int rc;
    ld_error *err;
} nm_ctx;

static tune_point nm_point(const nm_ctx *x, const gsl_vector *u)
{
    tune_point p = x->from;
    for (int d = 0; d < x->nd; d++) {
        const tune_knob *k = &x->t->space.k[x->dims[d]];
        double v = gsl_vector_get(u, (size_t)d);
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        double val = k->lo + v * (k->hi - k->lo);
        p.x[x->dims[d]] = k->kind == TUNE_INT ? round(val) : val;
    }
    return p;
}

static double nm_f(const gsl_vector *u, void *arg)
{
    nm_ctx *x = arg;
    tune *t = x->t;
    if (x->rc < 0)
        return PENALTY * 10;
    tune_point p = nm_point(x, u);
    int ci = -1;
    for (int i = 0; i < t->n && ci < 0; i++)
        if (tune_point_equal(&t->space, &t->c[i].pt, &p))
            ci = i;
    if (ci < 0) {
        if (t->refine_evals >= t->refine)
            return PENALTY * 10; /* out of budget: look no further */
        if ((ci = add_cand(t, &p, ORIGIN_REFINE, x->err)) < 0) {
            x->rc = LD_ENOMEM;
            return PENALTY * 10;
        }
        t->refine_evals++;
    }
    cand *c = &t->c[ci];
    if (c->p == NULL)
        return PENALTY * 10;
    if (c->nseeds < t->seeds) {
        if ((x->rc = run_seeds(t, &ci, 1, c->nseeds, t->seeds, 0, NULL,
                               x->err)) < 0)
            return PENALTY * 10;
        score(t, c, t->seeds);
    }
    int b = best_full(t);
    t->best = b;
    progress(t);
    if (!c->sc.feasible)
        return PENALTY + c->sc.viol;
    return isnan(c->sc.obj) ? PENALTY : -(double)t->sense * c->sc.obj;
}

/* A numeric knob's value at the winner (the base's, when it keeps it). */
static double start_value(const tune *t, int ki, const tune_point *p)
{
    const tune_knob *k = &t->space.k[ki];
    double v = p->x[ki];
    if (isnan(v)) {
        cJSON *j = tune_point_value(&t->space, p, ki, t->base_doc);
        v = cJSON_IsNumber(j) ? j->valuedouble : (k->lo + k->hi) / 2;
        cJSON_Delete(j);
    }
    return v < k->lo ? k->lo : v > k->hi ? k->hi : v;
}

static int refine(tune *t, ld_error *err)
{
    nm_ctx x = {.t = t, .from = t->c[t->best].pt, .err = err};
    for (int i = 0; i < t->space.n; i++) {
        const tune_knob *k = &t->space.k[i];
        if ((k->kind == TUNE_INT || k->kind == TUNE_REAL) && k->hi > k->lo)
            x.dims[x.nd++] = i;
    }
    if (x.nd == 0 || t->refine == 0)
        return LD_OK;
    t->phase = "refine";
    gsl_vector *u = gsl_vector_alloc((size_t)x.nd);
    gsl_vector *step = gsl_vector_alloc((size_t)x.nd);
    gsl_multimin_fminimizer *m =
        gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2,
                                      (size_t)x.nd);
    if (u == NULL || step == NULL || m == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        x.rc = LD_ENOMEM;
        goto done;
    }
    for (int d = 0; d < x.nd; d++) {
        const tune_knob *k = &t->space.k[x.dims[d]];
        double v = start_value(t, x.dims[d], &x.from);
        x.from.x[x.dims[d]] = v;
        gsl_vector_set(u, (size_t)d, (v - k->lo) / (k->hi - k->lo));
        gsl_vector_set(step, (size_t)d, 0.25);
    }
    gsl_multimin_function f = {.f = nm_f, .n = (size_t)x.nd, .params = &x};
    if (gsl_multimin_fminimizer_set(m, &f, u, step) != GSL_SUCCESS) {
        if (x.rc == LD_OK) {
            ld_error_set(err, NULL, NULL, "Nelder-Mead could not start");
            x.rc = LD_ESTATE;
        }
        goto done;
    }
    for (int it = 0; it < 1000 && x.rc == LD_OK &&
                     t->refine_evals < t->refine; it++) {
        if (gsl_multimin_fminimizer_iterate(m) != GSL_SUCCESS)
            break;
        if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(m), 1e-3) ==
            GSL_SUCCESS)
            break;
    }
done:
    gsl_multimin_fminimizer_free(m);
    gsl_vector_free(u);
    gsl_vector_free(step);
    return x.rc;
}

/* ---- output ------------------------------------------------------------- */

#define ADD(ok) do { if (!(ok)) goto oom; } while (0)

static cJSON *knobs_json(const tune *t, const tune_point *p)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o != NULL && i < t->space.n; i++) {
        cJSON *v = tune_point_value(&t->space, p, i, t->base_doc);
        if (v == NULL || !cJSON_AddItemToObject(o, t->space.k[i].path, v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

static cJSON *num_or_null(double x)
{
    return isnan(x) || isinf(x) ? cJSON_CreateNull() : cJSON_CreateNumber(x);
}

/* The paired difference best - base of metric m over every (scenario,
 * seed): from the search values, or hv (holdout, [pol][scen][seed][m]). */
static sim_ci paired(const tune *t, int m, const double *hv)
{
    int ns = hv != NULL ? t->holdout : t->seeds;
    size_t n = (size_t)t->nscen * (size_t)ns;
    double *a = malloc(sizeof(double) * n), *b = malloc(sizeof(double) * n);
    sim_ci d = {NAN, NAN, NAN, NAN, 0};
    if (a != NULL && b != NULL) {
        for (int s = 0; s < t->nscen; s++)
            for (int k = 0; k < ns; k++) {
                size_t i = (size_t)s * (size_t)ns + (size_t)k;
                if (hv != NULL) {
                    a[i] = hv[(i)*NMETRICS + (size_t)m];
                    b[i] = hv[(n + i) * NMETRICS + (size_t)m];
                } else {
                    a[i] = *cval(t, &t->c[0], s, k, m);
                    b[i] = *cval(t, &t->c[t->best], s, k, m);
                }
            }
        d = sim_stats_paired(a, b, n);
    }
    free(a);
    free(b);
    return d;
}

/* {"metric": {"base", "best", "diff", "ci95_low", "ci95_high",
 * "significant"}} for the objective, success, cost and p99 TTFT. */
static cJSON *figures(const tune *t, const double *hv)
{
    static const char *const keys[] = {"success_rate", "cost_per_1k_usd",
                                       "ttft_p99_ms", "latency_p99_ms",
                                       "attempts_per_request"};
    cJSON *o = cJSON_CreateObject();
    int ns = hv != NULL ? t->holdout : t->seeds;
    for (size_t i = 0; o != NULL && i <= sizeof keys / sizeof keys[0]; i++) {
        int m = i < sizeof keys / sizeof keys[0] ? metric_index(keys[i])
                                                 : t->obj_m;
        if (i == sizeof keys / sizeof keys[0] &&
            cJSON_GetObjectItemCaseSensitive(o, compare_metrics[m].key))
            break;
        sim_ci d = paired(t, m, hv);
        double mb = 0, mw = 0;
        size_t n = (size_t)t->nscen * (size_t)ns, cb = 0, cw = 0;
        for (size_t u = 0; u < n; u++) {
            int s = (int)(u / (size_t)ns), k = (int)(u % (size_t)ns);
            double xb = hv ? hv[u * NMETRICS + (size_t)m]
                           : *cval(t, &t->c[0], s, k, m);
            double xw = hv ? hv[(n + u) * NMETRICS + (size_t)m]
                           : *cval(t, &t->c[t->best], s, k, m);
            if (!isnan(xb)) {
                mb += xb;
                cb++;
            }
            if (!isnan(xw)) {
                mw += xw;
                cw++;
            }
        }
        cJSON *x = cJSON_CreateObject();
        if (x == NULL || !cJSON_AddItemToObject(o, compare_metrics[m].key, x)) {
            cJSON_Delete(x);
            cJSON_Delete(o);
            return NULL;
        }
        if (!cJSON_AddItemToObject(x, "base", num_or_null(cb ? mb / (double)cb
                                                             : NAN)) ||
            !cJSON_AddItemToObject(x, "best", num_or_null(cw ? mw / (double)cw
                                                             : NAN)) ||
            !cJSON_AddItemToObject(x, "diff", num_or_null(d.mean)) ||
            !cJSON_AddItemToObject(x, "ci95_low", num_or_null(d.lo)) ||
            !cJSON_AddItemToObject(x, "ci95_high", num_or_null(d.hi)) ||
            !cJSON_AddBoolToObject(x, "significant",
                                   sim_stats_significant(&d))) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

static cJSON *run_info(const tune *t)
{
    cJSON *o = cJSON_CreateObject(), *sc = NULL, *cs = NULL;
    char obj[96];
    snprintf(obj, sizeof obj, "%s %s", t->sense > 0 ? "max" : "min",
             compare_metrics[t->obj_m].key);
    ADD(o != NULL);
    ADD(cJSON_AddStringToObject(o, "base", t->policy_path));
    ADD(cJSON_AddStringToObject(o, "space", t->space_path));
    ADD((sc = cJSON_AddArrayToObject(o, "scenarios")) != NULL);
    for (int s = 0; s < t->nscen; s++)
        ADD(cJSON_AddItemToArray(sc, cJSON_CreateString(t->scen[s])));
    ADD(cJSON_AddStringToObject(o, "objective", obj));
    ADD((cs = cJSON_AddArrayToObject(o, "constraints")) != NULL);
    for (int i = 0; i < t->ncons; i++)
        ADD(cJSON_AddItemToArray(cs, cJSON_CreateString(t->cons_text[i])));
    ADD(cJSON_AddNumberToObject(o, "seed", (double)t->seed));
    ADD(cJSON_AddNumberToObject(o, "candidates", t->ncand));
    ADD(cJSON_AddNumberToObject(o, "search_seeds", t->seeds));
    ADD(cJSON_AddNumberToObject(o, "first_rung_seeds", t->first));
    ADD(cJSON_AddNumberToObject(o, "holdout_seeds", t->holdout));
    ADD(cJSON_AddNumberToObject(o, "holdout_seed_offset", HOLDOUT_OFFSET));
    ADD(cJSON_AddNumberToObject(o, "refine_evaluations", t->refine_evals));
    return o;
oom:
    cJSON_Delete(o);
    return NULL;
}

static int write_best(const tune *t, const double *hv, ld_error *err)
{
    cJSON *doc = cJSON_Duplicate(t->base_doc, true), *note = NULL, *x;
    char path[4096], how[512];
    int rc = LD_ENOMEM;
    ADD(doc != NULL);
    if (tune_point_apply(&t->space, &t->c[t->best].pt, doc, t->space_path,
                         err) < 0) {
        cJSON_Delete(doc);
        return LD_EINVAL;
    }
    snprintf(how, sizeof how, "Found by `ladder tune %s --space %s`: "
             "candidate %d (%s) of %d, %s %s under %d constraint%s over %d "
             "scenario%s; a race with successive halving on up to %d seeds "
             "each, Nelder-Mead on the numeric knobs, then base against "
             "best on %d held-back seeds (figures below).",
             t->policy_path, t->space_path, t->best,
             origin_name[t->c[t->best].origin], t->n,
             t->sense > 0 ? "maximising" : "minimising",
             compare_metrics[t->obj_m].key, t->ncons,
             t->ncons == 1 ? "" : "s", t->nscen, t->nscen == 1 ? "" : "s",
             t->seeds, t->holdout);
    ADD((note = cJSON_CreateObject()) != NULL);
    if (!cJSON_AddItemToObject(doc, "_tuned", note)) {
        cJSON_Delete(note);
        goto oom;
    }
    ADD(cJSON_AddStringToObject(note, "how", how));
    ADD((x = run_info(t)) != NULL);
    ADD(cJSON_AddItemToObject(note, "run", x));
    ADD((x = knobs_json(t, &t->c[t->best].pt)) != NULL);
    ADD(cJSON_AddItemToObject(note, "knobs", x));
    ADD((x = figures(t, NULL)) != NULL);
    ADD(cJSON_AddItemToObject(note, "search_seeds", x));
    ADD((x = figures(t, hv)) != NULL);
    ADD(cJSON_AddItemToObject(note, "holdout_seeds", x));
    snprintf(path, sizeof path, "%s/best.json", t->out);
    rc = cli_write_json(path, doc, err);
    cJSON_Delete(doc);
    return rc;
oom:
    cJSON_Delete(doc);
    ld_error_set(err, NULL, NULL, "out of memory");
    return LD_ENOMEM;
}

static int write_tune_json(const tune *t, const double *hv, ld_error *err)
{
    cJSON *root = cJSON_CreateObject(), *x, *arr, *fr;
    char path[4096];
    ADD(root != NULL);
    ADD((x = run_info(t)) != NULL);
    ADD(cJSON_AddItemToObject(root, "run", x));
    ADD((arr = cJSON_AddArrayToObject(root, "rungs")) != NULL);
    for (int r = 0; r < t->nrungs; r++) {
        ADD((x = cJSON_CreateObject()) != NULL);
        ADD(cJSON_AddItemToArray(arr, x));
        ADD(cJSON_AddNumberToObject(x, "seeds", t->rung_seeds[r]));
        ADD(cJSON_AddNumberToObject(x, "candidates", t->rung_alive[r]));
    }
    ADD(cJSON_AddNumberToObject(root, "best", t->best));
    ADD((fr = cJSON_AddArrayToObject(root, "frontier")) != NULL);
    ADD((arr = cJSON_AddArrayToObject(root, "candidates")) != NULL);
    for (int i = 0; i < t->n; i++) {
        const cand *c = &t->c[i];
        cJSON *m;
        const char *status = c->p == NULL           ? "invalid"
                             : i == t->best         ? "best"
                             : c->dropped_rung >= 0 ? "dropped"
                             : c->nseeds == t->seeds ? "finalist"
                                                     : "dropped";
        if (c->frontier)
            ADD(cJSON_AddItemToArray(fr, cJSON_CreateNumber(i)));
        ADD((x = cJSON_CreateObject()) != NULL);
        ADD(cJSON_AddItemToArray(arr, x));
        ADD(cJSON_AddNumberToObject(x, "id", i));
        ADD(cJSON_AddStringToObject(x, "origin", origin_name[c->origin]));
        ADD(cJSON_AddStringToObject(x, "status", status));
        if (c->dropped_rung >= 0)
            ADD(cJSON_AddNumberToObject(x, "dropped_at_rung", c->dropped_rung));
        if (c->p == NULL)
            ADD(cJSON_AddStringToObject(x, "invalid", c->invalid));
        ADD((m = knobs_json(t, &c->pt)) != NULL);
        ADD(cJSON_AddItemToObject(x, "knobs", m));
        ADD(cJSON_AddNumberToObject(x, "seeds", c->nseeds));
        if (c->nseeds > 0) {
            ADD(cJSON_AddItemToObject(x, "objective", num_or_null(c->sc.obj)));
            ADD(cJSON_AddBoolToObject(x, "feasible", c->sc.feasible));
            ADD(cJSON_AddItemToObject(x, "violation", num_or_null(c->sc.viol)));
            ADD(cJSON_AddBoolToObject(x, "frontier", c->frontier));
            ADD((m = cJSON_AddObjectToObject(x, "metrics")) != NULL);
            for (int k = 0; k < NMETRICS; k++)
                ADD(cJSON_AddItemToObject(m, compare_metrics[k].key,
                                          num_or_null(cmean(t, c, k,
                                                            c->nseeds))));
        }
    }
    ADD((x = figures(t, NULL)) != NULL);
    ADD(cJSON_AddItemToObject(root, "search_seeds", x));
    ADD((x = figures(t, hv)) != NULL);
    ADD(cJSON_AddItemToObject(root, "holdout_seeds", x));
    snprintf(path, sizeof path, "%s/tune.json", t->out);
    int rc = cli_write_json(path, root, err);
    cJSON_Delete(root);
    return rc;
oom:
    cJSON_Delete(root);
    ld_error_set(err, NULL, NULL, "out of memory");
    return LD_ENOMEM;
}

/* The candidates that ran on every search seed, by cost (then id). */
static int finalists(const tune *t, int *idx)
{
    int n = 0;
    for (int i = 0; i < t->n; i++)
        if (t->c[i].p != NULL && t->c[i].nseeds == t->seeds)
            idx[n++] = i;
    int mc = metric_index("cost_per_1k_usd");
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            double a = cmean(t, &t->c[idx[j - 1]], mc, t->seeds);
            double b = cmean(t, &t->c[idx[j]], mc, t->seeds);
            if (!(b < a))
                break;
            int tmp = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = tmp;
        }
    return n;
}

static int frontier(tune *t, ld_error *err)
{
    int *idx = malloc(sizeof(int) * (size_t)t->n);
    double *su = malloc(sizeof(double) * (size_t)t->n);
    double *co = malloc(sizeof(double) * (size_t)t->n);
    double *p9 = malloc(sizeof(double) * (size_t)t->n);
    bool *use = malloc(sizeof(bool) * (size_t)t->n);
    bool *front = malloc(sizeof(bool) * (size_t)t->n);
    FILE *f = NULL;
    char path[4096];
    int rc = LD_ENOMEM;
    if (idx == NULL || su == NULL || co == NULL || p9 == NULL || use == NULL ||
        front == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        goto done;
    }
    int ms = metric_index("success_rate"), mc = metric_index("cost_per_1k_usd");
    int mt = metric_index("ttft_p99_ms");
    for (int i = 0; i < t->n; i++) {
        use[i] = t->c[i].p != NULL && t->c[i].nseeds == t->seeds;
        su[i] = use[i] ? cmean(t, &t->c[i], ms, t->seeds) : NAN;
        co[i] = use[i] ? cmean(t, &t->c[i], mc, t->seeds) : NAN;
        p9[i] = use[i] ? cmean(t, &t->c[i], mt, t->seeds) : NAN;
    }
    int nf = tune_frontier(t->n, su, co, p9, use, front);
    for (int i = 0; i < t->n; i++)
        t->c[i].frontier = front[i];
    int n = finalists(t, idx);
    snprintf(path, sizeof path, "%s/frontier.dat", t->out);
    if ((f = fopen(path, "w")) == NULL) {
        ld_error_set(err, path, NULL, "cannot write");
        rc = LD_EINVAL;
        goto done;
    }
    fprintf(f, "# ladder tune: the candidates run on all %d search seeds, by "
            "cost\n# id success_rate cost_per_1k_usd ttft_p99_ms frontier "
            "feasible best\n", t->seeds);
    printf("Pareto frontier of success, cost and p99 TTFT: %d of the %d "
           "candidates that ran on all %d search seeds per scenario (of %d "
           "candidates; * on the frontier, ! breaks a constraint)\n", nf, n,
           t->seeds, t->n);
    printf("%6s %-7s %10s %14s %12s\n", "id", "origin", "success %",
           "cost per 1k $", "ttft p99 ms");
    for (int k = 0; k < n; k++) {
        int i = idx[k];
        const cand *c = &t->c[i];
        fprintf(f, "%d %.6f %.6f %.3f %d %d %d\n", i, su[i], co[i], p9[i],
                front[i], c->sc.feasible, i == t->best);
        printf("%6d %-7s %10.2f %14.3f %12.0f %s%s%s\n", i,
               origin_name[c->origin], su[i] * 100, co[i], p9[i],
               front[i] ? "*" : " ", c->sc.feasible ? " " : "!",
               i == t->best ? " best" : i == 0 ? " base" : "");
    }
    rc = fclose(f) == 0 ? LD_OK : LD_EINVAL;
    f = NULL;
    if (rc < 0)
        ld_error_set(err, path, NULL, "cannot write");
done:
    if (f != NULL)
        fclose(f);
    free(idx);
    free(su);
    free(co);
    free(p9);
    free(use);
    free(front);
    return rc;
}

static void print_knobs(const tune *t)
{
    printf("\nbest: candidate %d (%s)", t->best,
           origin_name[t->c[t->best].origin]);
    printf("%s\n", t->best == 0 ? ", the base policy itself" : "; knobs:");
    for (int i = 0; i < t->space.n && t->best != 0; i++) {
        cJSON *v = tune_point_value(&t->space, &t->c[t->best].pt, i,
                                    t->base_doc);
        cJSON *b = tune_point_value(&t->space, &t->c[0].pt, i, t->base_doc);
        char *s = v ? cJSON_PrintUnformatted(v) : NULL;
        bool same = v != NULL && b != NULL && cJSON_Compare(v, b, true);
        printf("  %-44s %s%s\n", t->space.k[i].path, s ? s : "?",
               same ? "  (as the base)" : "");
        cJSON_free(s);
        cJSON_Delete(v);
        cJSON_Delete(b);
    }
}

/* A compare of base against best: run (holdout) or from the search values;
 * its tables and gates printed, DIR/<sub>/compare.json written. The
 * holdout values land in hv. Returns compare_finish's code, or <0. */
static int base_vs_best(tune *t, bool holdout, double *hv, ld_error *err)
{
    cmp *c = calloc(1, sizeof *c);
    char dir[4096], label_path[4096];
    int rc = LD_ENOMEM;
    if (c == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        return LD_ENOMEM;
    }
    snprintf(dir, sizeof dir, "%s/%s", t->out, holdout ? "holdout" : "search");
    snprintf(label_path, sizeof label_path, "%s/best.json", t->out);
    c->npol = 2;
    snprintf(c->pol[0].label, sizeof c->pol[0].label, "base");
    snprintf(c->pol[1].label, sizeof c->pol[1].label, "best");
    c->pol[0].path = t->policy_path;
    c->pol[1].path = "best.json";
    c->pol[0].p = t->c[0].p;
    c->pol[1].p = t->c[t->best].p;
    c->nscen = t->nscen;
    for (int s = 0; s < t->nscen; s++)
        c->scen[s] = t->scen[s];
    c->seeds = holdout ? t->holdout : t->seeds;
    c->seed_offset = holdout ? HOLDOUT_OFFSET : 0;
    c->jobs = t->jobs;
    c->out = holdout ? dir : NULL; /* the search's figures are in tune.json */
    for (int i = 0; i < t->ncons; i++) {
        char *txt = t->cons_text[i];
        if (parse_constraint(txt, sizeof t->cons_text[i], &c->gates[i],
                             "best") < 0) {
            ld_error_set(err, NULL, NULL, "constraint \"%s\"", txt);
            rc = LD_EINVAL;
            goto done;
        }
        c->ngates++;
    }
    size_t nv = (size_t)c->nscen * 2 * (size_t)c->seeds * NMETRICS;
    c->v = malloc(sizeof(double) * nv);
    c->tenants = cmp_tenants_new(c->nscen, 2, c->seeds);
    if (c->v == NULL || c->tenants == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        goto done;
    }
    if (holdout && (rc = cli_make_dir(dir, err)) < 0)
        goto done;
    if (holdout) {
        t->phase = "holdout";
        if ((rc = compare_run(c, err)) < 0)
            goto done;
        t->units_done += 2L * c->nscen * c->seeds;
        progress(t);
        for (int p = 0; p < 2; p++)
            for (int s = 0; s < c->nscen; s++)
                for (int k = 0; k < c->seeds; k++)
                    for (int m = 0; m < NMETRICS; m++)
                        hv[(((size_t)p * (size_t)c->nscen + (size_t)s) *
                            (size_t)c->seeds + (size_t)k) * NMETRICS +
                           (size_t)m] = *cmp_val(c, s, p, k, (size_t)m);
        if (t->progress)
            fputc('\n', stderr);
        rc = LD_OK;
        goto done;
    }
    /* the search's values; the scenarios' names from their files */
    for (int s = 0; s < c->nscen; s++) {
        sim_scenario *sc = NULL;
        if ((rc = sim_scenario_load(c->scen[s], &sc, err)) < 0)
            goto done;
        snprintf(c->scen_name[s], sizeof c->scen_name[s], "%s", sc->name);
        sim_scenario_free(sc);
        for (int k = 0; k < c->seeds; k++)
            for (int m = 0; m < NMETRICS; m++) {
                *cmp_val(c, s, 0, k, (size_t)m) = *cval(t, &t->c[0], s, k, m);
                *cmp_val(c, s, 1, k, (size_t)m) =
                    *cval(t, &t->c[t->best], s, k, m);
            }
    }
    rc = compare_finish(c);
done:
    compare_run_cleanup(c);
    /* put the constraints back in the candidate's words */
    for (int i = 0; i < c->ngates; i++) {
        gate g;
        parse_constraint(t->cons_text[i], sizeof t->cons_text[i], &g, "cand");
    }
    free(c->v);
    cmp_tenants_free(c->tenants);
    free(c);
    return rc;
}

/* The holdout compare's tables from hv (a second cmp, no runs). */
static int print_holdout(tune *t, const double *hv, ld_error *err)
{
    cmp *c = calloc(1, sizeof *c);
    char dir[4096];
    int rc = LD_ENOMEM;
    if (c == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        return LD_ENOMEM;
    }
    snprintf(dir, sizeof dir, "%s/holdout", t->out);
    c->npol = 2;
    snprintf(c->pol[0].label, sizeof c->pol[0].label, "base");
    snprintf(c->pol[1].label, sizeof c->pol[1].label, "best");
    c->pol[0].path = t->policy_path;
    c->pol[1].path = "best.json";
    c->nscen = t->nscen;
    for (int s = 0; s < t->nscen; s++)
        c->scen[s] = t->scen[s];
    c->seeds = t->holdout;
    c->out = dir;
    for (int i = 0; i < t->ncons; i++) {
        if (parse_constraint(t->cons_text[i], sizeof t->cons_text[i],
                             &c->gates[i], "best") < 0)
            goto done;
        c->ngates++;
    }
    c->v = malloc(sizeof(double) * (size_t)c->nscen * 2 * (size_t)c->seeds *
                  NMETRICS);
    c->tenants = cmp_tenants_new(c->nscen, 2, c->seeds);
    if (c->v == NULL || c->tenants == NULL)
        goto done;
    for (int s = 0; s < c->nscen; s++) {
        sim_scenario *sc = NULL;
        if ((rc = sim_scenario_load(c->scen[s], &sc, err)) < 0)
            goto done;
        snprintf(c->scen_name[s], sizeof c->scen_name[s], "%s", sc->name);
        sim_scenario_free(sc);
        for (int p = 0; p < 2; p++)
            for (int k = 0; k < c->seeds; k++)
                for (int m = 0; m < NMETRICS; m++)
                    *cmp_val(c, s, p, k, (size_t)m) =
                        hv[(((size_t)p * (size_t)c->nscen + (size_t)s) *
                            (size_t)c->seeds + (size_t)k) * NMETRICS +
                           (size_t)m];
    }
    rc = compare_finish(c);
done:
    if (rc == LD_ENOMEM)
        ld_error_set(err, NULL, NULL, "out of memory");
    for (int i = 0; i < c->ngates; i++) {
        gate g;
        parse_constraint(t->cons_text[i], sizeof t->cons_text[i], &g, "cand");
    }
    free(c->v);
    cmp_tenants_free(c->tenants);
    free(c);
    return rc;
}

/* ---- the command -------------------------------------------------------- */

static int load_inputs(tune *t, ld_error *err)
{
    char *text = NULL;
    size_t len;
    int rc;
    if ((rc = cli_read_file(t->policy_path, LD_MAX_POLICY_BYTES, &text, &len,
                            err)) < 0)
        return rc;
    t->base_doc = cJSON_ParseWithLength(text, len);
    free(text);
    if (t->base_doc == NULL) {
        /* the loader says where */
        ld_policy *p = NULL;
        rc = cli_load_policy(t->policy_path, &p, err);
        ld_policy_free(p);
        if (rc == LD_OK)
            ld_error_set(err, t->policy_path, NULL, "not valid JSON");
        return LD_EINVAL;
    }
    if ((rc = cli_read_file(t->space_path, TUNE_MAX_SPACE_BYTES, &text, &len,
                            err)) < 0)
        return rc;
    rc = tune_space_parse(&t->space, text, len, t->space_path, t->base_doc,
                          err);
    free(text);
    return rc;
}

/* The base and up to ncand distinct points drawn from seed. */
static int draw(tune *t, ld_error *err)
{
    tune_point p;
    tune_point_base(&t->space, &p);
    if (add_cand(t, &p, ORIGIN_BASE, err) < 0)
        return LD_ENOMEM;
    if (t->c[0].p == NULL) {
        ld_error_set(err, t->policy_path, NULL, "%s", t->c[0].invalid);
        return LD_EINVAL;
    }
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (r == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        return LD_ENOMEM;
    }
    gsl_rng_set(r, t->seed);
    int rc = LD_OK;
    for (int tries = 0; t->n < t->ncand + 1 && tries < 50 * (t->ncand + 1);
         tries++) {
        tune_point_draw(&t->space, r, &p);
        bool seen = false;
        for (int i = 0; i < t->n && !seen; i++)
            seen = tune_point_equal(&t->space, &t->c[i].pt, &p);
        if (!seen && add_cand(t, &p, ORIGIN_RANDOM, err) < 0) {
            rc = LD_ENOMEM;
            break;
        }
    }
    gsl_rng_free(r);
    return rc;
}

/* Units the whole run will take, as far as it can be told before. */
static long plan_units(const tune *t)
{
    long u = 0;
    int alive = t->n, lo = 0;
    for (int ns = t->first;; ns *= 2) {
        int hi = ns < t->seeds ? ns : t->seeds;
        u += (long)(alive + 1) * (hi - lo) * t->nscen;
        if (hi == t->seeds)
            break;
        alive = (alive + 1) / 2;
        lo = hi;
    }
    u += (long)t->refine * t->seeds * t->nscen;
    u += 2L * t->holdout * t->nscen;
    return u;
}

int cmd_tune(int argc, char **argv)
{
    tune *t = calloc(1, sizeof *t);
    double *hv = NULL;
    int rc = 2;
    ld_error err;
    if (t == NULL) {
        fprintf(stderr, "ladder tune: out of memory\n");
        return 2;
    }
    t->best = -1;
    gsl_set_error_handler_off();
    int pr = parse_args(t, argc, argv);
    if (pr != 0) {
        rc = pr > 0 ? 0 : 2;
        goto done;
    }
    clock_gettime(CLOCK_MONOTONIC, &t->t0);
    t->c = calloc(MAX_CANDIDATES, sizeof *t->c);
    hv = malloc(sizeof(double) * 2 * (size_t)t->nscen * (size_t)t->holdout *
                NMETRICS);
    if (t->c == NULL || hv == NULL) {
        fprintf(stderr, "ladder tune: out of memory\n");
        goto done;
    }
    if (load_inputs(t, &err) < 0 || draw(t, &err) < 0 ||
        cli_make_dir(t->out, &err) < 0) {
        fprintf(stderr, "ladder tune: %s\n", err.msg);
        goto done;
    }
    t->units_plan = plan_units(t);
    t->phase = "race";
    progress(t);
    if (race(t, &err) < 0 || refine(t, &err) < 0) {
        if (t->progress)
            fputc('\n', stderr);
        fprintf(stderr, "ladder tune: %s\n", err.msg);
        goto done;
    }
    t->best = best_full(t);
    if (base_vs_best(t, true, hv, &err) < 0 || frontier(t, &err) < 0) {
        fprintf(stderr, "ladder tune: %s\n", err.msg);
        goto done;
    }
    print_knobs(t);
    printf("\n== base against best on the %d search seeds per scenario "
           "(the seeds the search chose on) ==\n", t->seeds);
    int crc = base_vs_best(t, false, NULL, &err);
    printf("\n== base against best on %d held-back seeds per scenario "
           "(never seen by the search) ==\n", t->holdout);
    int hrc = crc < 0 ? crc : print_holdout(t, hv, &err);
    if (crc < 0 || hrc < 0 || write_best(t, hv, &err) < 0 ||
        write_tune_json(t, hv, &err) < 0) {
        fprintf(stderr, "ladder tune: %s\n", err.msg);
        goto done;
    }
    if (crc == 2 || hrc == 2)
        goto done;
    sim_ci d = paired(t, t->obj_m, hv);
    const metric_def *md = &compare_metrics[t->obj_m];
    bool better = sim_stats_significant(&d) && d.mean * t->sense > 0;
    printf("\nheld-back confirmation: %s best - base %+.4g, 95%% interval "
           "[%.4g, %.4g] over %d runs: %s%s\n", md->key, d.mean * md->scale,
           d.lo * md->scale, d.hi * md->scale, (int)d.n,
           better ? "better, the interval excludes zero"
                  : "not shown better",
           hrc == 3 ? "; a constraint fails on them" : "");
    rc = better && hrc == 0 ? 0 : 3;
    fflush(stdout);
    fprintf(stderr, "wrote %s/best.json, tune.json, frontier.dat; `ladder "
            "plot %s` draws the frontier\n", t->out, t->out);
done:
    if (t->c != NULL)
        for (int i = 0; i < t->n; i++) {
            ld_policy_free(t->c[i].p);
            free(t->c[i].v);
        }
    free(t->c);
    free(hv);
    cJSON_Delete(t->base_doc);
    tune_space_cleanup(&t->space);
    free(t);
    return rc;
}
