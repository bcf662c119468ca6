/* plot_summary.c - the comparison summary: success, p99 latency and cost
 * per policy with 95% intervals, best ranked first. */
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

/* ---- the comparison summary -------------------------------------------- */

/* metrics.<key>.mean and .ci95 (null: NAN) */
int plot_metric(const cJSON *pol, const char *key, double *mean,
                double *ci, const char *path, const char *where,
                ld_error *err)
{
    const cJSON *m = plot_jget(plot_jget(pol, "metrics"), key);
    const cJSON *a = plot_jget(m, "mean"), *b = plot_jget(m, "ci95");
    if (!cJSON_IsObject(m) || !(cJSON_IsNumber(a) || cJSON_IsNull(a)) ||
        !(cJSON_IsNumber(b) || cJSON_IsNull(b))) {
        ld_error_set(err, path, where, "metrics.%s needs a mean and a ci95",
                     key);
        return LD_EINVAL;
    }
    *mean = cJSON_IsNumber(a) ? a->valuedouble : NAN;
    *ci = cJSON_IsNumber(b) ? b->valuedouble : NAN;
    return LD_OK;
}

/* sc: a scenario (or the overall) object of compare.json, checked by
 * plot_check_scenario. labels: every policy label, in colour order. */
int chart_summary(plot_ctx *ctx, const char *out, const char *name,
                  const cJSON *sc, const char *path, const char *where,
                  char labels[][128], int nlabels, ld_error *err)
{
    static const struct {
        const char *key, *title;
        int dec;
        double scale;
    } ms[3] = {
        {"success_rate", "success (%)", 2, 100},
        {"latency_p99_ms", "latency p99 (ms)", 0, 1},
        {"cost_per_1k_usd", "cost per 1,000 requests (USD)", 3, 1},
    };
    const cJSON *pols = plot_jget(sc, "policies");
    const cJSON *base = plot_jget(sc, "baseline");
    const cJSON *runs = plot_jget(sc, "runs_per_policy");
    char shown[PLOT_MAX_RUNS][160];
    double mean[PLOT_MAX_RUNS][3], ci[PLOT_MAX_RUNS][3];
    int color[PLOT_MAX_RUNS];
    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {0, 0, 0};
    size_t longest = 0, value_chars[3] = {0, 0, 0};
    int n = 0, rc;
    const cJSON *p;
    cJSON_ArrayForEach(p, pols) {
        if (n == PLOT_MAX_RUNS)
            break;
        const char *label = plot_jget(p, "label")->valuestring;
        color[n] = 0;
        for (int k = 0; k < nlabels; k++)
            if (strcmp(labels[k], label) == 0)
                color[n] = k;
        char cut[120];
        plot_clip(label, 24, cut, sizeof cut);
        snprintf(shown[n], sizeof shown[n], "%s%s", cut,
                 cJSON_IsString(base) && strcmp(base->valuestring, label) == 0
                     ? " (baseline)" : "");
        for (char *t = shown[n]; *t != '\0'; t++)
            if ((unsigned char)*t < 0x20 || *t == 0x7f)
                *t = '?'; /* the data block is split on tabs and lines */
        longest = plot_chars(shown[n]) > longest ? plot_chars(shown[n])
                                                 : longest;
        for (int m = 0; m < 3; m++) {
            if ((rc = plot_metric(p, ms[m].key, &mean[n][m], &ci[n][m], path,
                                  where, err)) < 0)
                return rc;
            mean[n][m] *= ms[m].scale;
            ci[n][m] = isnan(ci[n][m]) ? 0 : ci[n][m] * ms[m].scale;
            if (isnan(mean[n][m]))
                continue;
            lo[m] = fmin(lo[m], mean[n][m] - ci[n][m]);
            hi[m] = fmax(hi[m], mean[n][m] + ci[n][m]);
            char v[48];
            plot_group_num(v, sizeof v, mean[n][m], ms[m].dec);
            size_t w = strlen(v);
            plot_group_num(v, sizeof v, ci[n][m], ms[m].dec);
            size_t w2 = strlen(v) + 1;
            size_t need = w > w2 ? w : w2;
            if (need > value_chars[m])
                value_chars[m] = need;
        }
        n++;
    }

    /* layout: three panels side by side; names under the bars turn when
     * they do not fit, and values over the bars show when they fit */
    double left = 0.07, right = 0.98, gap = 0.07;
    double panel_px = (right - left - 2 * gap) / 3 * PLOT_W;
    double bar_px = panel_px / (n + 0.2);
    bool turn = (double)longest * 7.5 > bar_px * 0.95;
    double bottom = 0.1;
    if (turn) {
        double ext = (double)longest * 7.5 * 0.71;
        bottom = fmin(0.4, 0.05 + (ext + 10) / PLOT_H);
        double first = bar_px * 0.6;
        left = fmax(left, (ext + 8 - first) / PLOT_W);
        panel_px = (right - left - 2 * gap) / 3 * PLOT_W;
        bar_px = panel_px / (n + 0.2);
    }

    gp_chart c;
    if ((rc = gp_begin(&c, ctx, out, name,
                       "the comparison: per policy, the mean over seeds with "
                       "its 95% interval", err)) < 0)
        return rc;
    FILE *f = c.f;
    fputs("# name, colour, then the mean and 95% half-interval of: "
          "success %, p99 latency ms, cost per 1k USD;\n"
          "# then the same as the text over the bars (columns 9-14)\n"
          "$data << EOD\n", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s\t%ld", shown[i], strtol(plot_color(color[i]) + 1,
                                               NULL, 16));
        for (int m = 0; m < 3; m++) {
            if (isnan(mean[i][m]))
                fputs("\tNaN\t0", f);
            else
                fprintf(f, "\t%.10g\t%.10g", mean[i][m], ci[i][m]);
        }
        for (int m = 0; m < 3; m++) {
            char v[48], h[48];
            plot_group_num(v, sizeof v, mean[i][m], ms[m].dec);
            plot_group_num(h, sizeof h, ci[i][m], ms[m].dec);
            fprintf(f, "\t%s\t±%s", isnan(mean[i][m]) ? "" : v,
                    isnan(mean[i][m]) ? "" : h);
        }
        fputc('\n', f);
    }
    fputs("EOD\n", f);
    char title[512], sub[256];
    const cJSON *name_j = plot_jget(sc, "scenario");
    if (strcmp(name, "summary_overall") == 0)
        snprintf(title, sizeof title, "Comparison over all scenarios");
    else
        snprintf(title, sizeof title, "Comparison: %s",
                 cJSON_IsString(name_j) ? name_j->valuestring : "?");
    snprintf(sub, sizeof sub, "mean of %d run%s per policy, bars: 95%% "
             "interval; best ranked first",
             cJSON_IsNumber(runs) ? runs->valueint : 0,
             cJSON_IsNumber(runs) && runs->valueint == 1 ? "" : "s");
    fputs("set datafile separator '\\t'\n"
          "set datafile nocolumnheaders\n"
          "unset key\n"
          "set style fill solid 0.75 border lc rgb '#333333'\n"
          "set boxwidth 0.6\n"
          "set grid noxtics ytics\n"
          "set xtics nomirror scale 0\n"
          "set ytics nomirror\n",
          f);
    fprintf(f, "set xrange [-0.6:%g]\n", n - 0.4);
    if (turn)
        fputs("set xtics rotate by 45 right\n", f);
    double slo = lo[0] == INFINITY ? 0 : fmax(0, floor(lo[0] - 1));
    double shi = fmax(100, hi[0]);
    fprintf(f, "success_lo = %.6g   # zoomed: success rates are close to 100\n"
            "success_hi = %.6g\n", slo, shi);
    gp_loop(f);
    fprintf(f, "    set multiplot layout 1,3 margins %.3f,%.3f,%.3f,0.84 "
            "spacing %.3f,0\n", left, right, bottom, gap);
    fputs("    # the title, drawn with the first panel\n", f);
    gp_title(f, "    ", title, sub);
    for (int m = 0; m < 3; m++) {
        int col = 3 + 2 * m;
        if (m == 0 && slo > 0) {
            /* a cut axis says so, in the title and with a break mark */
            fprintf(f, "\n    set title '%s: axis starts at %g' tc rgb "
                    "'#b00020'\n", ms[m].title, slo);
            fputs("    set arrow 1 from graph -0.035, graph 0.015 to graph "
                  "0.035, graph 0.035 nohead lw 1.5 lc rgb '#222222' front\n"
                  "    set arrow 2 from graph -0.035, graph 0.045 to graph "
                  "0.035, graph 0.065 nohead lw 1.5 lc rgb '#222222' front\n",
                  f);
        } else {
            fprintf(f, "\n    set title '%s' tc rgb '#222222'\n",
                    ms[m].title);
            fputs("    unset arrow\n", f);
        }
        if (m == 0) {
            fputs("    set yrange [success_lo:success_hi + (success_hi - "
                  "success_lo) * 0.12]\n    set ytics nomirror autofreq\n",
                  f);
        } else {
            /* tics with thousands separators */
            double top = hi[m] > 0 ? hi[m] * 1.2 : 1;
            double step = plot_step(top, 6);
            int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
            fprintf(f, "    set yrange [0:%.6g]\n    set ytics (", top);
            for (int k = 0; k * step <= top * (1 + 1e-9) && k <= 20; k++) {
                char t[48];
                plot_group_num(t, sizeof t, k * step, dec);
                fprintf(f, "%s'%s%s' %.6g", k ? ", " : "",
                        m == 2 ? "$" : "", t, k * step);
            }
            fputs(")\n", f);
        }
        fprintf(f, "    plot $data using 0:%d:2:xticlabels(1) with boxes lc "
                "rgb variable, \\\n"
                "        $data using 0:%d:%d with yerrorbars lc rgb "
                "'#222222' pt 7 ps 0.5 lw 1.5", col, col, col + 1);
        /* the value and its interval over each bar, when they fit */
        if ((double)value_chars[m] * 6.5 <= bar_px * 0.95)
            fprintf(f, ", \\\n        $data using 0:($%d + $%d):("
                    "strcol(%d) . \"\\n\" . strcol(%d)) with labels offset "
                    "0,1.5 font 'Sans,10'", col, col + 1, 9 + 2 * m,
                    10 + 2 * m);
        fputc('\n', f);
        if (m == 0)
            fputs("    unset label\n", f);
    }
    fputs("    unset multiplot\n", f);
    return gp_end(&c, ctx, err);
}
