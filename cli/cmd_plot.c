/* cmd_plot.c - `ladder plot DIR`: draw what `ladder sim --out` and `ladder
 * compare --out` wrote, with gnuplot.
 *
 * Each chart is a gnuplot script, DIR/plots/<chart>.gp, that reads the run's
 * CSV files by absolute path and writes <chart>.png and/or <chart>.svg next
 * to itself; a user can edit the script and rerun `gnuplot <chart>.gp`. This
 * file checks the data first (so a truncated CSV is reported here, naming
 * the file and line, rather than drawn wrong), works out what the data does
 * not say by itself (ranges, fault windows, which failure classes occur) and
 * runs gnuplot without a shell. Every string from the data reaches gnuplot
 * inside a single-quoted gnuplot string, where nothing is expanded.
 *
 * This file holds the command and the two kinds of directory it reads; the
 * data checks are in plot_data.c, the gnuplot writing and running in
 * plot_gp.c, and the charts by kind in plot_time.c (outcomes, cost,
 * fallbacks by class), plot_cdf.c and plot_summary.c. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli_opt.h"
#include "plot.h"

typedef struct plot_args {
    const char *dir, *out;
    int format; /* 0 png, 1 svg, 2 both */
} plot_args;

#define AT(f) CLI_AT(plot_args, f)
static const cli_opt plot_opts[] = {
    {"format", CLI_CHOICE, "png|svg|both", "the charts' format (default "
     "both)", .off = AT(format)},
    {"out", CLI_STR, "DIR2", "where the charts go (default DIR/plots)",
     .off = AT(out)},
    {.name = NULL}};

static const cli_cmd plot_cmd = {
    "ladder plot",
    {NULL, CLI_STR, "DIR", NULL, .flags = CLI_REQ, .off = AT(dir)},
    "Draws the charts of a `ladder sim --out DIR` run, or of a\n"
    "`ladder compare --out DIR` comparison, with gnuplot:\n"
    "  latency_cdf, ttft_cdf    CDF of latency and of time to first token\n"
    "  outcomes                 success, abandonment and fallback rates\n"
    "                           over time, fault windows shaded\n"
    "  fallbacks_by_class_<P>   fallbacks per failure class over time,\n"
    "                           one chart per policy P\n"
    "  cost                     cost per 1k requests over time\n"
    "  summary                  (compare) success %, p99 latency and cost\n"
    "                           per policy, with 95% intervals\n"
    "  frontier                 (a `ladder tune --out DIR`) success against\n"
    "                           cost of the candidates, colour p99 TTFT,\n"
    "                           the Pareto frontier joined\n"
    "A comparison gets one set per scenario, in DIR2/<scenario>/.\n"
    "Each chart comes with the gnuplot script that drew it (<chart>.gp):\n"
    "edit it and rerun `gnuplot <chart>.gp`.\n",
    plot_opts,
    "Needs gnuplot (Debian: gnuplot-nox). Exit: 0 done, 2 bad input or a\n"
    "gnuplot failure.\n"};
#undef AT

/* ---- the two kinds of directory ------------------------------------------ */

static int plot_group_charts(plot_ctx *ctx, plot_group *g, ld_error *err)
{
    int rc;
    if ((rc = plot_make_dirs(g->out, err)) < 0 ||
        (rc = plot_realpath(g->out, g->out, err)) < 0 ||
        (rc = chart_cdf(ctx, g, false, err)) < 0 ||
        (rc = chart_cdf(ctx, g, true, err)) < 0 ||
        (rc = chart_outcomes(ctx, g, err)) < 0)
        return rc;
    for (int i = 0; i < g->nruns; i++)
        if ((rc = chart_classes(ctx, g, &g->runs[i], err)) < 0)
            return rc;
    return chart_cost(ctx, g, err);
}

/* Two labels that make the same file name get a number. */
static void plot_unique_fnames(plot_group *g)
{
    for (int i = 1; i < g->nruns; i++) {
        for (int j = 0; j < i; j++) {
            if (strcmp(g->runs[i].fname, g->runs[j].fname) == 0) {
                char tmp[128];
                snprintf(tmp, sizeof tmp, "%.100s-%d", g->runs[i].fname, i + 1);
                snprintf(g->runs[i].fname, sizeof g->runs[i].fname, "%s", tmp);
                j = -1;
            }
        }
    }
}

static int plot_sim_dir(plot_ctx *ctx, const char *dir, const char *out,
                        ld_error *err)
{
    char path[PLOT_PATH];
    cJSON *sum = NULL;
    plot_group *g = calloc(1, sizeof *g);
    int rc = LD_ENOMEM;
    if (g == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        goto done;
    }
    if ((rc = plot_join(path, sizeof path, dir, "summary.json", err)) < 0 ||
        (rc = plot_read_json(path, &sum, err)) < 0)
        goto done;
    const cJSON *sc = plot_jget(sum, "scenario");
    const cJSON *pol = plot_jget(sum, "policy");
    snprintf(g->scenario, sizeof g->scenario, "%s",
             cJSON_IsString(sc) ? sc->valuestring : "scenario");
    char label[128] = "policy";
    if (cJSON_IsString(pol) && pol->valuestring[0] != '\0') {
        const char *b = strrchr(pol->valuestring, '/');
        b = b ? b + 1 : pol->valuestring;
        size_t n = strcspn(b, ".");
        if (n > 0)
            snprintf(label, sizeof label, "%.*s", (int)(n < 120 ? n : 120), b);
    }
    if ((rc = plot_load_run(dir, label, &g->runs[0], err)) < 0)
        goto done;
    g->nruns = 1;
    const cJSON *seed = plot_jget(sum, "seed");
    snprintf(g->sub, sizeof g->sub, "policy: %.400s%s", cJSON_IsString(pol)
             ? pol->valuestring : label, cJSON_IsNumber(seed) ? ", seed " : "");
    if (cJSON_IsNumber(seed)) {
        size_t l = strlen(g->sub);
        snprintf(g->sub + l, sizeof g->sub - l, "%.0f", seed->valuedouble);
    }
    snprintf(g->out, sizeof g->out, "%s", out);
    rc = plot_group_charts(ctx, g, err);
done:
    cJSON_Delete(sum);
    free(g);
    return rc;
}

/* Check the parts of a compare.json scenario object the charts use. */
static int plot_check_scenario(const cJSON *sc, const char *path,
                               const char *where, ld_error *err)
{
    const cJSON *name = plot_jget(sc, "scenario");
    const cJSON *pols = plot_jget(sc, "policies");
    if (!cJSON_IsObject(sc) || !cJSON_IsString(name)) {
        ld_error_set(err, path, where, "needs a \"scenario\" name");
        return LD_EINVAL;
    }
    int n = cJSON_GetArraySize(pols);
    if (!cJSON_IsArray(pols) || n == 0 || n > PLOT_MAX_RUNS) {
        ld_error_set(err, path, where, "\"policies\" must list 1 to %d "
                     "policies", PLOT_MAX_RUNS);
        return LD_EINVAL;
    }
    int i = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, pols) {
        char w[160];
        snprintf(w, sizeof w, "%s.policies[%d]", where, i++);
        const cJSON *label = plot_jget(p, "label");
        if (!cJSON_IsString(label) || label->valuestring[0] == '\0') {
            ld_error_set(err, path, w, "needs a \"label\"");
            return LD_EINVAL;
        }
        double a, b;
        int rc;
        if ((rc = plot_metric(p, "success_rate", &a, &b, path, w, err)) < 0 ||
            (rc = plot_metric(p, "latency_p99_ms", &a, &b, path, w, err)) < 0 ||
            (rc = plot_metric(p, "cost_per_1k_usd", &a, &b, path, w, err)) < 0)
            return rc;
    }
    return LD_OK;
}

static int plot_compare_dir(plot_ctx *ctx, const char *dir, const char *out,
                            ld_error *err)
{
    char path[PLOT_PATH];
    cJSON *cmp = NULL;
    plot_group *g = calloc(1, sizeof *g);
    char (*labels)[128] = calloc(PLOT_MAX_GROUPS * PLOT_MAX_RUNS,
                                 sizeof *labels);
    int nlabels = 0, rc = LD_ENOMEM;
    if (g == NULL || labels == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        goto done;
    }
    if ((rc = plot_join(path, sizeof path, dir, "compare.json", err)) < 0 ||
        (rc = plot_read_json(path, &cmp, err)) < 0)
        goto done;
    const cJSON *scens = plot_jget(cmp, "scenarios");
    const cJSON *overall = plot_jget(cmp, "overall");
    int nscen = cJSON_GetArraySize(scens);
    if (!cJSON_IsArray(scens) || nscen == 0 || nscen > PLOT_MAX_GROUPS) {
        ld_error_set(err, path, "scenarios", "must list 1 to %d scenarios",
                     PLOT_MAX_GROUPS);
        rc = LD_EINVAL;
        goto done;
    }
    /* check everything, and give each policy label its colour, before
     * drawing anything */
    int si = 0;
    const cJSON *sc;
    cJSON_ArrayForEach(sc, scens) {
        char where[64];
        snprintf(where, sizeof where, "scenarios[%d]", si++);
        if ((rc = plot_check_scenario(sc, path, where, err)) < 0)
            goto done;
        /* the baseline first, then in the order of the first scenario */
        const cJSON *base = plot_jget(sc, "baseline");
        const cJSON *p;
        cJSON_ArrayForEach(p, plot_jget(sc, "policies")) {
            const char *l = plot_jget(p, "label")->valuestring;
            if (nlabels == 0 && cJSON_IsString(base) &&
                strcmp(base->valuestring, l) != 0) {
                bool listed = false;
                const cJSON *q;
                cJSON_ArrayForEach(q, plot_jget(sc, "policies"))
                    listed = listed || strcmp(plot_jget(q, "label")->valuestring,
                                              base->valuestring) == 0;
                if (listed)
                    snprintf(labels[nlabels++], sizeof labels[0], "%s",
                             base->valuestring);
            }
            bool seen = false;
            for (int k = 0; k < nlabels && !seen; k++)
                seen = strcmp(labels[k], l) == 0;
            if (!seen && nlabels < PLOT_MAX_GROUPS * PLOT_MAX_RUNS)
                snprintf(labels[nlabels++], sizeof labels[0], "%s", l);
        }
    }
    if (overall != NULL &&
        (rc = plot_check_scenario(overall, path, "overall", err)) < 0)
        goto done;
    si = 0;
    cJSON_ArrayForEach(sc, scens) {
        char slug[128], sdir[PLOT_PATH];
        const char *name = plot_jget(sc, "scenario")->valuestring;
        cli_slug(name, slug, sizeof slug);
        memset(g, 0, sizeof *g);
        snprintf(g->scenario, sizeof g->scenario, "%s", name);
        if ((rc = plot_join(sdir, sizeof sdir, dir, slug, err)) < 0 ||
            (rc = plot_join(g->out, sizeof g->out, out, slug, err)) < 0)
            goto done;
        /* in colour order, so the legend reads the same in every chart */
        for (int k = 0; k < nlabels; k++) {
            const cJSON *p;
            cJSON_ArrayForEach(p, plot_jget(sc, "policies")) {
                const char *l = plot_jget(p, "label")->valuestring;
                if (strcmp(l, labels[k]) != 0)
                    continue;
                char rdir[PLOT_PATH];
                if ((rc = plot_join(rdir, sizeof rdir, sdir, l, err)) < 0)
                    goto done;
                if (!plot_is_file(rdir) && access(rdir, F_OK) != 0) {
                    ld_error_set(err, rdir, NULL, "missing: %s lists policy "
                                 "\"%s\" for scenario \"%s\", but this run "
                                 "directory is not there", path, l, name);
                    rc = LD_EINVAL;
                    goto done;
                }
                plot_run *r = &g->runs[g->nruns];
                if ((rc = plot_load_run(rdir, l, r, err)) < 0)
                    goto done;
                r->color = k;
                g->nruns++;
                break;
            }
        }
        plot_unique_fnames(g);
        snprintf(g->sub, sizeof g->sub, "policy: %s", g->runs[0].label);
        char where[64];
        snprintf(where, sizeof where, "scenarios[%d]", si++);
        if ((rc = plot_group_charts(ctx, g, err)) < 0 ||
            (rc = chart_summary(ctx, g->out, "summary", sc, path, where,
                                labels, nlabels, err)) < 0)
            goto done;
    }
    if (overall != NULL) {
        char o[PLOT_PATH];
        if ((rc = plot_realpath(out, o, err)) < 0 ||
            (rc = chart_summary(ctx, o, "summary_overall", overall, path,
                                "overall", labels, nlabels, err)) < 0)
            goto done;
    }
    rc = LD_OK;
done:
    cJSON_Delete(cmp);
    free(labels);
    free(g);
    return rc;
}

int cmd_plot(int argc, char **argv)
{
    plot_args a = {.format = 2};
    int pr = cli_opt_parse(&plot_cmd, argc, argv, &a);
    if (pr != CLI_PARSED)
        return pr == CLI_HELP ? 0 : 2;
    const char *dir = a.dir, *out = a.out;
    static const char *const formats[] = {"png", "svg", "png svg"};
    plot_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.formats = formats[a.format];
    char sum[PLOT_PATH], cmpj[PLOT_PATH], plots[PLOT_PATH], tunej[PLOT_PATH];
    ld_error err;
    if (plot_join(sum, sizeof sum, dir, "summary.json", &err) < 0 ||
        plot_join(tunej, sizeof tunej, dir, "tune.json", &err) < 0 ||
        plot_join(cmpj, sizeof cmpj, dir, "compare.json", &err) < 0 ||
        plot_join(plots, sizeof plots, dir, "plots", &err) < 0) {
        fprintf(stderr, "ladder plot: %s\n", err.msg);
        return 2;
    }
    bool is_sim = plot_is_file(sum), is_cmp = plot_is_file(cmpj);
    bool is_tune = plot_is_file(tunej);
    if (!is_sim && !is_cmp && !is_tune) {
        fprintf(stderr, "ladder plot: %s: no data (expected summary.json "
                "from `ladder sim --out`, compare.json from `ladder "
                "compare --out` or tune.json from `ladder tune --out`)\n",
                dir);
        return 2;
    }
    if (out == NULL)
        out = plots;
    int rc = is_tune  ? chart_frontier(&ctx, tunej, out, &err)
             : is_cmp ? plot_compare_dir(&ctx, dir, out, &err)
                      : plot_sim_dir(&ctx, dir, out, &err);
    if (rc < 0) {
        fprintf(stderr, "ladder plot: %s\n", err.msg);
        if (ctx.gp_stderr[0] != '\0')
            fprintf(stderr, "%s\n", ctx.gp_stderr);
        return 2;
    }
    return 0;
}
