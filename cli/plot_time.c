/* plot_time.c - the charts over time: outcomes (success, abandonment and
 * fallbacks), cost per 1,000 requests, and fallbacks by failure class, each
 * with the fault windows shaded. */
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

/* Failure classes in stacked charts, by the order of the fb_ columns in
 * timeseries.csv (the order of ld_class), so a class has the same colour in
 * every chart: Kelly's colours of maximum contrast, the clearest ones for
 * the classes seen most (timeouts, rate limits, overload, breaker, budget). */
static const char *const class_colors[] = {
    "#882D17", /* connect_error */    "#C2B280", /* reset */
    "#0067A5", /* timeout_ttft */     "#A1CAF1", /* timeout_total */
    "#B3446C", /* stream_stall */     "#875692", /* stream_cut */
    "#654522", /* invalid_response */ "#F38400", /* rate_limited */
    "#F6A600", /* quota_exhausted */  "#BE0032", /* overloaded */
    "#E68FAC", /* server_error */     "#848482", /* auth_error */
    "#2B3D26", /* bad_request */      "#008856", /* circuit_open */
    "#F3C300", /* budget_exceeded */  "#604E97", /* latency_ceiling */
    "#8DB600", /* quality_floor */    "#222222", /* content_blocked */
    "#F99379", /* region_restricted */ "#DCD300", /* context_length */
    "#E25822", /* capability_missing */
};
#define PLOT_NCLASS_COLORS (sizeof class_colors / sizeof class_colors[0])

int chart_outcomes(plot_ctx *ctx, const plot_group *g, ld_error *err)
{
    gp_chart c;
    int rc = gp_begin(&c, ctx, g->out, "outcomes",
                      "success, abandonment and fallback rates per interval, "
                      "fault windows shaded", err);
    if (rc < 0)
        return rc;
    FILE *f = c.f;
    double x0 = plot_t0(g) / 60, x1 = plot_t1(g) / 60;
    double right = plot_right_runs(g);
    gp_time_axis(f, g, x0, x1);
    double lo = INFINITY;
    for (int i = 0; i < g->nruns; i++)
        if (!isnan(g->runs[i].min_success))
            lo = fmin(lo, g->runs[i].min_success);
    lo = lo == INFINITY ? 0 : fmax(0, floor(lo - 1));
    /* room above 100 so a line at 100% is not hidden by the frame */
    fprintf(f, "success_lo = %.6g   # zoomed to the data\n", lo);
    plot_marks mk;
    plot_mark_faults(g, x0, x1, right, &mk);
    gp_fault_shades(f, &mk);
    double top = plot_marks_top(&mk);
    double bottom = PLOT_BOTTOM + 0.03, gap = 0.025; /* a footnote under */
    double h = top - bottom - 2 * gap;
    double t1 = top, b1 = top - h * 0.42;
    double t2 = b1 - gap, b2 = t2 - h * 0.26;
    double t3 = b2 - gap, b3 = bottom;
    char title[512];
    snprintf(title, sizeof title, "Outcomes over time: %s", g->scenario);
    gp_loop(f);
    fputs("    set multiplot\n"
          "    # the title and fault names, drawn with the first panel\n", f);
    gp_title(f, "    ", title, g->nruns == 1 ? g->sub : NULL);
    gp_fault_names(f, "    ", &mk, right);
    fprintf(f, "    set label 8 'success and abandoned: share of the "
            "requests that finished in the interval; fallbacks: per 100 "
            "arrivals' at screen %.3f, screen 0.025 left tc rgb '#666666' "
            "font 'Sans,10'\n", PLOT_LEFT);
    static const char *const panels[3][2] = {
        {"success %", "100.0 * column('success_rate')"},
        {"abandoned %", "pct(column('abandons'), column('successes') + "
                        "column('failures') + column('abandons'))"},
        {"fallbacks %", "pct(column('fallbacks'), column('arrivals'))"},
    };
    double tb[3][2] = {{t1, b1}, {t2, b2}, {t3, b3}};
    for (int p = 0; p < 3; p++) {
        fprintf(f, "\n    # panel %d: %s\n", p + 1, panels[p][0]);
        gp_margins(f, "    ", tb[p][1], tb[p][0], right);
        fprintf(f, "    set ylabel '%s'\n    unset key\n", panels[p][0]);
        if (p == 0) {
            /* what the key panel below turns off, for the next format */
            fprintf(f, "    set border lc rgb '#444444'\n"
                    "    set grid lc rgb '#dddddd' lw 1\n"
                    "    set xtics out nomirror\n"
                    "    set mxtics 2\n"
                    "    set xrange [%.6g:%.6g]\n", x0, x1);
            fputs("    set yrange [success_lo:100 + (100 - success_lo) * "
                  "0.04]\n    set ytics auto\n", f);
        } else {
            double ymax = 0;
            for (int i = 0; i < g->nruns; i++)
                ymax = fmax(ymax, p == 1 ? g->runs[i].max_abandon
                                         : g->runs[i].max_fallback);
            /* about four tics, the top one above the data */
            double step = plot_step(ymax, 4);
            ymax = (floor(ymax / step) + 1) * step;
            fprintf(f, "    set yrange [0:%.6g]\n    set ytics 0, %.6g\n",
                    ymax, step);
        }
        if (p < 2)
            fputs("    set format x ''\n    unset xlabel\n", f);
        else
            fputs("    set format x '%g'\n"
                  "    set xlabel 'time since start (minutes)'\n", f);
        fputs("    plot \\\n", f);
        for (int i = 0; i < g->nruns; i++)
            gp_steps(f, &g->runs[i], panels[p][1], i + 1 == g->nruns);
        if (p == 0)
            fputs("    unset label\n", f);
    }
    if (g->nruns > 1) {
        /* the key gets a panel of its own, as tall as the three: one
         * panel's key would hold only as many policies as fit beside it */
        fputs("\n    # the key: a blank panel right of the others, with "
              "nothing but its key\n", f);
        fprintf(f, "    set lmargin at screen %.3f\n    set rmargin at screen "
                "0.995\n    set tmargin at screen %.4f\n    set bmargin at "
                "screen %.4f\n", right + 0.01, t1, b3);
        fputs("    unset border\n    unset grid\n    unset xtics\n"
              "    unset ytics\n    unset mxtics\n    unset xlabel\n"
              "    unset ylabel\n"
              "    set xrange [-2:-1]   # outside the fault shades\n", f);
        gp_key_right(f, "    ", right, t1, "policy", g->nruns);
        fputs("    plot \\\n", f);
        for (int i = 0; i < g->nruns; i++) {
            fputs("        NaN with lines ", f);
            gp_line(f, g->runs[i].color, 2);
            fputs(" title ", f);
            gp_key_name(f, g->runs[i].label);
            fputs(i + 1 < g->nruns ? ", \\\n" : "\n", f);
        }
    }
    fputs("    unset multiplot\n", f);
    return gp_end(&c, ctx, err);
}

int chart_cost(plot_ctx *ctx, const plot_group *g, ld_error *err)
{
    gp_chart c;
    int rc = gp_begin(&c, ctx, g->out, "cost",
                      "cost per 1,000 requests per interval, fault windows "
                      "shaded", err);
    if (rc < 0)
        return rc;
    FILE *f = c.f;
    double x0 = plot_t0(g) / 60, x1 = plot_t1(g) / 60;
    double right = plot_right_runs(g);
    gp_time_axis(f, g, x0, x1);
    char title[512];
    snprintf(title, sizeof title, "Cost per 1,000 requests: %s", g->scenario);
    gp_title(f, "", title, g->nruns == 1 ? g->sub : NULL);
    plot_marks mk;
    plot_mark_faults(g, x0, x1, right, &mk);
    gp_fault_shades(f, &mk);
    gp_fault_names(f, "", &mk, right);
    double top = plot_marks_top(&mk);
    gp_margins(f, "", PLOT_BOTTOM, top, right);
    /* "$12.00" is wider than the other charts' tics */
    fprintf(f, "set lmargin at screen %.3f\n", PLOT_LEFT + 0.02);
    fputs("per_1k(cost, n) = n > 0 ? 1000.0 * cost / n : NaN\n"
          "set xlabel 'time since start (minutes)'\n"
          "set ylabel 'cost per 1,000 arrivals (USD)'\n"
          "set yrange [*:*]\n"
          "set offsets graph 0, 0, 0.08, 0.08\n"
          "set format y '$%.2f'\n",
          f);
    if (g->nruns > 1)
        gp_key_right(f, "", right, top, "policy", g->nruns);
    else
        fputs("unset key\n", f);
    gp_loop(f);
    fputs("    plot \\\n", f);
    for (int i = 0; i < g->nruns; i++)
        gp_steps(f, &g->runs[i], "per_1k(column('cost_usd'), "
                 "column('arrivals'))", i + 1 == g->nruns);
    return gp_end(&c, ctx, err);
}

int chart_classes(plot_ctx *ctx, const plot_group *g, const plot_run *r,
                  ld_error *err)
{
    gp_chart c;
    char name[256];
    snprintf(name, sizeof name, "fallbacks_by_class_%s", r->fname);
    int rc = gp_begin(&c, ctx, g->out, name,
                      "fallbacks per failure class and interval, stacked, "
                      "fault windows shaded", err);
    if (rc < 0)
        return rc;
    FILE *f = c.f;
    double x0 = plot_t0(g) / 60, x1 = plot_t1(g) / 60;
    size_t chars = strlen("failure class");
    for (int k = 0; k < r->nclasses; k++)
        if (strlen(r->classes[k]) - 3 > chars)
            chars = strlen(r->classes[k]) - 3;
    double right = plot_right(chars);
    gp_time_axis(f, g, x0, x1);
    double ymax = 0;
    for (int i = 0; i < g->nruns; i++)
        ymax = fmax(ymax, g->runs[i].max_stack);
    char title[512];
    snprintf(title, sizeof title, "Fallbacks by failure class: %s",
             g->scenario);
    char sub[600];
    snprintf(sub, sizeof sub, "%s", g->nruns == 1 ? g->sub : "");
    if (g->nruns > 1)
        snprintf(sub, sizeof sub, "policy: %s", r->label);
    gp_title(f, "", title, sub);
    plot_marks mk;
    plot_mark_faults(g, x0, x1, right, &mk);
    gp_fault_shades(f, &mk);
    gp_fault_names(f, "", &mk, right);
    double top = plot_marks_top(&mk);
    gp_margins(f, "", PLOT_BOTTOM, top, right);
    double iv = g->runs[0].iv > 0 ? g->runs[0].iv : 60;
    fprintf(f,
            "set xlabel 'time since start (minutes)'\n"
            "set ylabel 'fallbacks per %g-%s interval'\n"
            "# the same scale for every policy of this scenario\n"
            "set yrange [0:%.6g]\n"
            "set boxwidth iv / 60.0 * 0.85 absolute\n"
            "set style fill solid 0.9 border lc rgb '#ffffff'\n",
            iv >= 60 && fmod(iv, 60) == 0 ? iv / 60 : iv,
            iv >= 60 && fmod(iv, 60) == 0 ? "minute" : "second",
            ymax > 0 ? ymax * 1.05 : 1);
    if (r->nclasses > 0)
        gp_key_right(f, "", right, top, "failure class", r->nclasses);
    else
        fputs("unset key\n"
              "set label 1 'no fallbacks' at graph 0.5, graph 0.5 center "
              "font 'Sans,14'\n", f);
    gp_loop(f);
    if (r->nclasses == 0) {
        fputs("    plot NaN notitle\n", f);
        return gp_end(&c, ctx, err);
    }
    /* the tallest stack first: each layer is drawn over the one that
     * holds it, so the key lists classes top to bottom as stacked */
    fputs("    plot \\\n", f);
    for (int k = r->nclasses - 1; k >= 0; k--) {
        fputs("        ", f);
        gp_path(f, r->dir, "timeseries.csv");
        fputs(" using (mid(column('start_s'))):(", f);
        for (int j = 0; j <= k; j++)
            fprintf(f, "%scolumn('%s')", j ? " + " : "", r->classes[j]);
        fprintf(f, ") with boxes lc rgb '%s' title ",
                class_colors[(size_t)r->class_pos[k] % PLOT_NCLASS_COLORS]);
        gp_str(f, r->classes[k] + 3);
        fputs(k > 0 ? ", \\\n" : "\n", f);
    }
    return gp_end(&c, ctx, err);
}
