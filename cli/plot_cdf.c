/* plot_cdf.c - the latency and time-to-first-token CDFs, one line per
 * policy, on a log axis. */
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

#include "plot.h"

int chart_cdf(plot_ctx *ctx, const plot_group *g, bool ttft,
              ld_error *err)
{
    gp_chart c;
    const char *name = ttft ? "ttft_cdf" : "latency_cdf";
    int rc = gp_begin(&c, ctx, g->out, name, ttft
                      ? "CDF of time to first token, per policy"
                      : "CDF of end-to-end latency, per policy", err);
    if (rc < 0)
        return rc;
    FILE *f = c.f;
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < g->nruns; i++) {
        lo = fmin(lo, ttft ? g->runs[i].ttft_min : g->runs[i].lat_min);
        hi = fmax(hi, ttft ? g->runs[i].ttft_max : g->runs[i].lat_max);
    }
    char title[512];
    snprintf(title, sizeof title, "%s CDF: %s", ttft ? "Time to first token"
             : "End-to-end latency", g->scenario);
    gp_title(f, "", title, g->nruns == 1 ? g->sub : NULL);
    double zero = 0;
    for (int i = 0; i < g->nruns; i++)
        zero = fmax(zero, ttft ? g->runs[i].ttft_zero : g->runs[i].lat_zero);
    if (zero > 0) {
        char note[200];
        snprintf(note, sizeof note, "%s%g%% of requests took 0 ms, which a "
                 "log axis cannot show", g->nruns > 1 ? "in one policy, at "
                 "least " : "at least ", 100 * zero);
        fputs("set label 2 ", f);
        gp_str(f, note);
        fputs(" at graph 0.01, graph 0.97 left tc rgb '#666666' "
              "font 'Sans,10'\n", f);
    }
    fprintf(f,
            "set xlabel '%s (ms, log scale)'\n"
            "set ylabel 'fraction of requests at or below'\n"
            "set logscale x\n"
            "set format x '%%.0f'\n"
            "set yrange [0:1]\n"
            "set ytics 0.1\n"
            "set mytics 2\n"
            "set y2range [0:1]\n"
            "set y2tics ('p50' 0.5, 'p90' 0.9, 'p99' 0.99) tc rgb '#777777'\n"
            "set grid x mx y y2 lc rgb '#dddddd', lc rgb '#f0f0f0'\n"
            "set key bottom right Left reverse samplen 2.5 spacing 1.2 box "
            "lc rgb '#bbbbbb' opaque width 2 title 'policy' left\n"
            "set lmargin at screen %.3f\nset rmargin at screen 0.93\n"
            "set tmargin at screen 0.88\nset bmargin at screen %.3f\n"
            "ms(v) = v > 0 ? v : NaN   # a log axis has no 0\n",
            ttft ? "time to first token" : "end-to-end latency", PLOT_LEFT,
            PLOT_BOTTOM);
    if (g->nruns == 1)
        fputs("unset key   # one policy, named under the title\n", f);
    if (hi > 0 && lo < INFINITY) {
        fprintf(f, "set xrange [%.6g:%.6g]\n", lo / 1.5, hi * 1.5);
        /* the decades, with thousands separators, and 2..9 between */
        int d0 = (int)floor(log10(lo / 1.5)), d1 = (int)ceil(log10(hi * 1.5));
        if (d1 - d0 <= 12) {
            fputs("set xtics (", f);
            for (int d = d0; d <= d1; d++) {
                char t[48];
                double v = pow(10, d);
                plot_group_num(t, sizeof t, v, d < 0 ? -d : 0);
                fprintf(f, "%s'%s' %.6g", d > d0 ? ", " : "", t, v);
                for (int k = 2; k <= 9; k++)
                    fprintf(f, ", '' %.6g 1", k * v);
            }
            fputs(")\n", f);
        }
    } else {
        fputs("set xrange [1:10000]\n"
              "set label 1 'no data' at graph 0.5, graph 0.5 center\n", f);
    }
    gp_loop(f);
    fputs("    plot \\\n", f);
    for (int i = 0; i < g->nruns; i++) {
        const plot_run *r = &g->runs[i];
        double has = ttft ? r->ttft_max : r->lat_max;
        fputs("        ", f);
        gp_path(f, r->dir, "cdf.csv");
        fprintf(f, " using (ms(column('%s'))):(column('quantile')) with "
                "lines ", ttft ? "ttft_ms" : "latency_ms");
        gp_line(f, r->color, 2.5);
        fputs(" title ", f);
        if (has > 0) {
            gp_key_name(f, r->label);
        } else {
            char t[160];
            snprintf(t, sizeof t, "%s (no data)", r->label);
            gp_key_name(f, t);
        }
        fputs(i + 1 < g->nruns ? ", \\\n" : "\n", f);
    }
    if (hi <= 0)
        fputs("    # no run has data: an empty frame\n", f);
    return gp_end(&c, ctx, err);
}
