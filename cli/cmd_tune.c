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
#include "tune_int.h"

/* ---- arguments ---------------------------------------------------------- */

typedef struct tune_args {
    tune *t;
    const char *policy, *space, *objective, *out;
    cli_list constraints;
    long long seeds, holdout, candidates, refine, first, jobs, seed;
    bool progress, no_progress;
    cli_list bind, map_workload, map_tier;
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
     "holdout/ (a compare directory of the held-back runs)", .flags = CLI_REQ |
     CLI_NONEMPTY, .off = AT(out)},
    {"progress", CLI_FLAG, NULL, "a progress line on stderr even when it is "
     "not a terminal", .off = AT(progress)},
    {"no-progress", CLI_FLAG, NULL, "no progress line", .off = AT(no_progress)},
    CLI_BIND_OPTS(tune_args),
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
    t->binds = a.bind;
    t->map_workload = a.map_workload;
    t->map_tier = a.map_tier;
    t->bind = (sim_bind_opts){t->binds.v, t->binds.n, t->map_workload.v,
                              t->map_workload.n, t->map_tier.v,
                              t->map_tier.n};
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
 * candidate too, marked invalid. When an earlier candidate's point makes
 * the same policy (the points differ only in knobs that change nothing),
 * nothing is added: *same is set and that candidate's index returned. */
static int add_cand(tune *t, const tune_point *pt, int origin, bool *same,
                    ld_error *err)
{
    *same = false;
    for (int i = 0; i < t->n; i++)
        if (tune_point_equal(&t->space, &t->c[i].pt, pt)) {
            *same = true;
            return i;
        }
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
    cJSON *doc = cJSON_Duplicate(t->base_doc, true);
    ld_error e;
    if (doc == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        return -1;
    }
    if (tune_point_apply(&t->space, pt, doc, t->space_path, &e) < 0) {
        snprintf(c->invalid, sizeof c->invalid, "%.250s", e.msg);
    } else if ((c->text = cJSON_PrintUnformatted(doc)) == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        cJSON_Delete(doc);
        return -1;
    }
    cJSON_Delete(doc);
    for (int i = 0; c->text != NULL && i < t->n; i++)
        if (t->c[i].text != NULL && strcmp(t->c[i].text, c->text) == 0) {
            cJSON_free(c->text);
            c->text = NULL;
            *same = true;
            return i;
        }
    size_t nv = (size_t)t->nscen * (size_t)t->seeds * NMETRICS;
    if ((c->v = malloc(sizeof(double) * nv)) == NULL) {
        cJSON_free(c->text);
        c->text = NULL;
        ld_error_set(err, NULL, NULL, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nv; i++)
        c->v[i] = NAN;
    if (c->text != NULL &&
        cli_parse_policy(c->text, strlen(c->text), t->policy_path, &c->p,
                         &e) < 0)
        snprintf(c->invalid, sizeof c->invalid, "%.250s", e.msg);
    return t->n++;
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
        c->bind = t->bind;
        c->no_notes = true;
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
    if (t->refine_evals >= t->refine)
        return PENALTY * 10; /* out of budget: look no further */
    bool same;
    int ci = add_cand(t, &p, ORIGIN_REFINE, &same, x->err);
    if (ci < 0) {
        x->rc = LD_ENOMEM;
        return PENALTY * 10;
    }
    if (!same)
        t->refine_evals++;
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
    c->bind = t->bind;
    c->no_notes = true;
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
        t->units_plan = t->units_done; /* the last step: 100% */
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
    bool same;
    if (add_cand(t, &p, ORIGIN_BASE, &same, err) < 0)
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
        if (add_cand(t, &p, ORIGIN_RANDOM, &same, err) < 0) {
            rc = LD_ENOMEM;
            break;
        }
    }
    gsl_rng_free(r);
    return rc;
}

/* Load every scenario and bind it to the base (an error names the file),
 * saying its notes once. */
static int check_scenarios(tune *t, ld_error *err)
{
    for (int s = 0; s < t->nscen; s++) {
        sim_scenario *sc = NULL;
        int rc = sim_scenario_load(t->scen[s], &sc, err);
        if (rc == LD_OK &&
            (rc = sim_scenario_bind_opts(sc, t->c[0].p, &t->bind, err)) < 0) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            ld_error_set(err, NULL, NULL, "with policy %s: %s",
                         t->policy_path, msg);
        }
        if (rc == LD_OK)
            cli_print_notes("tune", sc->name, sc);
        sim_scenario_free(sc);
        if (rc < 0)
            return rc;
    }
    return LD_OK;
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
        check_scenarios(t, &err) < 0 || cli_make_dir(t->out, &err) < 0) {
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
    if (base_vs_best(t, true, hv, &err) < 0 || tune_frontier_out(t, &err) < 0) {
        fprintf(stderr, "ladder tune: %s\n", err.msg);
        goto done;
    }
    tune_print_knobs(t);
    printf("\n== base against best on the %d search seeds per scenario "
           "(the seeds the search chose on) ==\n", t->seeds);
    int crc = base_vs_best(t, false, NULL, &err);
    printf("\n== base against best on %d held-back seeds per scenario "
           "(never seen by the search) ==\n", t->holdout);
    int hrc = crc < 0 ? crc : print_holdout(t, hv, &err);
    if (crc < 0 || hrc < 0 || tune_write_best(t, hv, &err) < 0 ||
        tune_write_json(t, hv, &err) < 0) {
        fprintf(stderr, "ladder tune: %s\n", err.msg);
        goto done;
    }
    if (crc == 2 || hrc == 2)
        goto done;
    sim_ci d = tune_paired(t, t->obj_m, hv);
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
            cJSON_free(t->c[i].text);
            free(t->c[i].v);
        }
    free(t->c);
    free(hv);
    cJSON_Delete(t->base_doc);
    tune_space_cleanup(&t->space);
    free(t);
    return rc;
}
