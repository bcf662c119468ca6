/* plot_frontier.c - the chart of a `ladder tune --out DIR`: every candidate
 * that ran on all the search seeds, success against cost, coloured by p99
 * TTFT, the Pareto frontier joined by a line (in order of cost), the base
 * and the best named. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "plot.h"

#define FRONTIER_MAX 4096

typedef struct fpoint {
    int id;
    double su, co, p9;
    bool front, best, base, full; /* full: ran on all the search seeds */
} fpoint;

static int by_cost(const void *a, const void *b)
{
    const fpoint *x = a, *y = b;
    if (x->co != y->co)
        return x->co < y->co ? -1 : 1;
    return x->id - y->id;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = plot_jget(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

int chart_frontier(plot_ctx *ctx, const char *path, const char *out,
                   ld_error *err)
{
    cJSON *t = NULL;
    fpoint *pt = malloc(sizeof *pt * FRONTIER_MAX);
    int n = 0, nfull = 0, rc;
    if (pt == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        return LD_ENOMEM;
    }
    if ((rc = plot_read_json(path, &t, err)) < 0)
        goto done;
    const cJSON *run = plot_jget(t, "run"), *cands = plot_jget(t, "candidates");
    double seeds = num(run, "search_seeds"), best = num(t, "best");
    if (!cJSON_IsArray(cands) || isnan(seeds) || isnan(best)) {
        ld_error_set(err, path, NULL, "not a tune.json (needs run.search_seeds, "
                     "best and candidates)");
        rc = LD_EINVAL;
        goto done;
    }
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cands) {
        char where[48];
        snprintf(where, sizeof where, "candidates[%d]", i++);
        if (!(num(c, "seeds") > 0))
            continue; /* never ran: invalid */
        const cJSON *m = plot_jget(c, "metrics");
        fpoint p = {(int)num(c, "id"), num(m, "success_rate") * 100,
                    num(m, "cost_per_1k_usd"), num(m, "ttft_p99_ms"),
                    cJSON_IsTrue(plot_jget(c, "frontier")), false, false,
                    num(c, "seeds") == seeds};
        if (!cJSON_IsObject(m) || isnan(p.su) || isnan(p.co)) {
            ld_error_set(err, path, where, "needs metrics.success_rate and "
                         "metrics.cost_per_1k_usd");
            rc = LD_EINVAL;
            goto done;
        }
        p.best = p.id == (int)best;
        p.base = p.id == 0;
        if (n < FRONTIER_MAX) {
            pt[n++] = p;
            nfull += p.full;
        }
    }
    if (nfull == 0) {
        ld_error_set(err, path, NULL, "no candidate ran on all %g search "
                     "seeds", seeds);
        rc = LD_EINVAL;
        goto done;
    }
    qsort(pt, (size_t)n, sizeof *pt, by_cost);
    if ((rc = plot_make_dirs(out, err)) < 0)
        goto done;
    char abs_out[PLOT_PATH];
    if ((rc = plot_realpath(out, abs_out, err)) < 0)
        goto done;
    gp_chart g;
    if ((rc = gp_begin(&g, ctx, abs_out, "frontier", "ladder tune's "
                       "candidates: success against cost, colour p99 TTFT, "
                       "the Pareto frontier joined", err)) < 0)
        goto done;
    FILE *f = g.f;
    fputs("# the candidates dropped by the race, at their last rung's "
          "seeds: id, success %, cost per 1k USD\n$dropped << EOD\n", f);
    for (int k = 0; k < n; k++)
        if (!pt[k].full)
            fprintf(f, "%d\t%.10g\t%.10g\n", pt[k].id, pt[k].su, pt[k].co);
    fputs("EOD\n", f);
    fputs("# the candidates on all the search seeds: id, success %, cost per "
          "1k USD, p99 TTFT ms, on the frontier, name (base, best or -)\n"
          "$data << EOD\n", f);
    for (int k = 0; k < n; k++)
        if (pt[k].full)
            fprintf(f, "%d\t%.10g\t%.10g\t%.10g\t%d\t%s\n", pt[k].id, pt[k].su,
                pt[k].co, isnan(pt[k].p9) ? 0 : pt[k].p9, pt[k].front,
                pt[k].best ? "best" : pt[k].base ? "base" : "-");
    fputs("EOD\n# the frontier's points, by cost\n$front << EOD\n", f);
    for (int k = 0; k < n; k++)
        if (pt[k].front)
            fprintf(f, "%d\t%.10g\t%.10g\n", pt[k].id, pt[k].su, pt[k].co);
    fputs("EOD\n", f);
    char sub[256];
    snprintf(sub, sizeof sub, "%d candidates ran on all %g search seeds per "
             "scenario (%d dropped earlier, grey); line: the Pareto frontier "
             "of success, cost and p99 TTFT", nfull, seeds, n - nfull);
    fputs("set datafile separator '\\t'\n"
          "set datafile nocolumnheaders\n"
          "set xlabel 'cost per 1,000 requests (USD)'\n"
          "set ylabel 'success (%)'\n"
          "set cblabel 'p99 TTFT (ms)'\n"
          "set palette defined (0 '#1a9850', 1 '#fee08b', 2 '#d73027')\n"
          "set key top left box lc rgb '#bbbbbb'\n"
          "set offsets graph 0.05, graph 0.05, graph 0.08, graph 0.05\n", f);
    gp_loop(f);
    fputs("    set tmargin at screen 0.88\n", f);
    gp_title(f, "    ", "Tuning: the candidates and their frontier", sub);
    fputs("    plot $dropped using 3:2 with points pt 6 ps 1.2 lc rgb "
          "'#aaaaaa' title 'dropped by the race (fewer seeds)', \\\n"
          "        $front using 3:2 with lines lw 2 "
          "lc rgb '#555555' title 'Pareto frontier', \\\n"
          "        $data using 3:2:4 with points pt 7 ps 1.6 lc palette "
          "title 'on all search seeds', \\\n"
          "        $data using 3:(strcol(6) ne '-' ? $2 : NaN):6 with labels "
          "offset 0,1.3 font 'Sans,11' notitle\n", f);
    rc = gp_end(&g, ctx, err);
done:
    cJSON_Delete(t);
    free(pt);
    return rc;
}
