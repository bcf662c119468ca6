/* cmd_report.c - `ladder report DIR [--plots DIR2]`: one HTML page that
 * answers "which ladder should we ship?" from what `ladder compare --out DIR`
 * and `ladder plot DIR` wrote.
 *
 * First the verdict (the ranking, what the winner gains and what it costs
 * against the baseline and the runner-up, with 95% intervals, in words),
 * then the rollout gates, then per scenario the charts that tell the story
 * and the full tables. A difference is green when it is a significant
 * improvement, red when it is a significant regression and grey otherwise;
 * compare.json says per metric whether higher is better. compare.json is
 * checked before anything is written: a missing field is reported with its
 * JSON path, broken JSON with its line. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_opt.h"

#define RP_PATH 4096
#define RP_MAX_FILE ((size_t)64 << 20) /* bytes of compare.json */
#define RP_MAX_CHARTS 64               /* charts per scenario */
#define RP_G 40                        /* a number with separators */
#define RP_NUM 96                      /* a number with its unit */

/* ---- metrics as people read them -------------------------------------- */

typedef enum rp_kind {
    RP_RATE,  /* a fraction, shown as a percentage; differences in points */
    RP_MS,
    RP_USD,   /* per 1,000 requests */
    RP_SEC,
    RP_MIN,
    RP_PLAIN,
} rp_kind;

typedef struct rp_metric {
    const char *key;
    const char *title;  /* table rows */
    const char *noun;   /* in sentences: "<noun> 1,241 ms higher" */
    rp_kind kind;
    int decimals;
    bool verdict;       /* named in the verdict */
} rp_metric;

static const rp_metric rp_metrics[] = {
    {"success_rate", "Success", "success", RP_RATE, 2, true},
    {"abandon_rate", "Abandoned by the user", "abandonment", RP_RATE, 2, true},
    {"latency_p50_ms", "Latency p50", "median latency", RP_MS, 0, false},
    {"latency_p95_ms", "Latency p95", "p95 latency", RP_MS, 0, false},
    {"latency_p99_ms", "Latency p99", "p99 latency", RP_MS, 0, true},
    {"ttft_p50_ms", "Time to first token p50", "median time to first token",
     RP_MS, 0, false},
    {"ttft_p95_ms", "Time to first token p95", "p95 time to first token",
     RP_MS, 0, false},
    {"ttft_p99_ms", "Time to first token p99", "p99 time to first token",
     RP_MS, 0, true},
    {"cost_per_1k_usd", "Cost per 1,000 requests", "cost", RP_USD, 3, true},
    {"attempts_per_request", "Attempts per request", "attempts per request",
     RP_PLAIN, 3, false},
    {"fallback_rate", "Fallbacks per request", "fallbacks per request",
     RP_PLAIN, 3, false},
    {"minutes_over_ceiling", "Minutes over the service level",
     "time over the service level", RP_MIN, 1, true},
    {"recovery_s", "Time to recover (faults that recovered)",
     "time to recover", RP_SEC, 1, false},
    {"unrecovered_share", "Faults not recovered within the run",
     "share of faults not recovered", RP_RATE, 1, false},
};
#define RP_NMETRICS (sizeof rp_metrics / sizeof rp_metrics[0])

static const rp_metric *rp_metric_of(const char *key)
{
    for (size_t i = 0; i < RP_NMETRICS; i++)
        if (strcmp(rp_metrics[i].key, key) == 0)
            return &rp_metrics[i];
    return NULL;
}

/* |x| with dec decimals and thousands separators, never in exponent
 * notation; a value that would round to zero but is not gets the decimals
 * that show its first digit (at most 6: "<0.000001" below). */
static void rp_group(char *out, size_t cap, double x, int dec)
{
    double a = fabs(x);
    while (a > 0 && a < 0.5 * pow(10, -dec) && dec < 6)
        dec++;
    if (a > 0 && a < 0.5 * pow(10, -dec)) {
        snprintf(out, cap, "<%.*f", dec, pow(10, -dec));
        return;
    }
    if (a >= 1e15) { /* beyond any metric */
        snprintf(out, cap, ">999,999,999,999,999");
        return;
    }
    char raw[64];
    int n = snprintf(raw, sizeof raw, "%.*f", dec, a);
    const char *dot = strchr(raw, '.');
    int ilen = dot != NULL ? (int)(dot - raw) : n;
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && i < ilen && (ilen - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = raw[i];
    }
    out[o] = '\0';
}

/* The value of a metric with its unit: "99.73%", "29,496 ms", "$9.118". */
static void rp_value(char *out, size_t cap, const rp_metric *m, double x)
{
    char g[RP_G];
    if (isnan(x)) {
        snprintf(out, cap, "n/a");
        return;
    }
    rp_group(g, sizeof g, m->kind == RP_RATE ? x * 100 : x, m->decimals);
    const char *sign = x < 0 ? "-" : "";
    switch (m->kind) {
    case RP_RATE: snprintf(out, cap, "%s%s%%", sign, g); break;
    case RP_MS: snprintf(out, cap, "%s%s ms", sign, g); break;
    case RP_USD: snprintf(out, cap, "%s$%s", sign, g); break;
    case RP_SEC: snprintf(out, cap, "%s%s s", sign, g); break;
    case RP_MIN: snprintf(out, cap, "%s%s min", sign, g); break;
    case RP_PLAIN: snprintf(out, cap, "%s%s", sign, g); break;
    }
}

/* The size of a difference (no sign): "8.42 points", "1,241 ms", "$0.461". */
static void rp_amount(char *out, size_t cap, const rp_metric *m, double d)
{
    if (m->kind == RP_RATE) {
        char g[RP_G];
        rp_group(g, sizeof g, d * 100, m->decimals);
        snprintf(out, cap, "%s point%s", g, strcmp(g, "1.00") == 0 ? "" : "s");
    } else {
        rp_value(out, cap, m, fabs(d));
    }
}

/* A 95% half-interval: "±0.11" for a rate (in points), "±1,952 ms". */
static void rp_half(char *out, size_t cap, const rp_metric *m, double h)
{
    char v[RP_G + 16];
    if (isnan(h)) {
        snprintf(out, cap, "±n/a");
        return;
    }
    if (m->kind == RP_RATE)
        rp_group(v, sizeof v, h * 100, m->decimals);
    else
        rp_value(v, sizeof v, m, fabs(h));
    snprintf(out, cap, "±%s", v);
}

/* ---- reading compare.json ---------------------------------------------- */

static const cJSON *rp_get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static double rp_num(const cJSON *o, const char *k)
{
    const cJSON *x = rp_get(o, k);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static const char *rp_str(const cJSON *o, const char *k)
{
    const cJSON *x = rp_get(o, k);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* A paired difference as compare.json writes it. */
typedef struct rp_diff {
    double mean, half;
    bool significant;
    bool ok;
} rp_diff;

static rp_diff rp_diff_of(const cJSON *d)
{
    rp_diff r = {NAN, NAN, false, false};
    if (!cJSON_IsObject(d))
        return r;
    r.mean = rp_num(d, "mean");
    r.half = (rp_num(d, "ci95_high") - rp_num(d, "ci95_low")) / 2;
    r.significant = cJSON_IsTrue(rp_get(d, "significant"));
    r.ok = !isnan(r.mean);
    return r;
}

/* +1 a significant improvement, -1 a significant regression, 0 neither
 * (not significant, or a metric with no better direction). */
static int rp_direction(const cJSON *metric, const rp_diff *d)
{
    const cJSON *h = rp_get(metric, "higher_is_better");
    if (!d->ok || !d->significant || !cJSON_IsBool(h) || d->mean == 0)
        return 0;
    bool up = d->mean > 0;
    return up == cJSON_IsTrue(h) ? 1 : -1;
}

static const char *rp_class(int dir)
{
    return dir > 0 ? "good" : dir < 0 ? "bad" : "ns";
}

/* Check the parts of a scenario (or the overall) object the page uses. */
static int rp_check_scenario(const cJSON *sc, const char *path,
                             const char *where, ld_error *err)
{
    if (!cJSON_IsObject(sc) || rp_str(sc, "scenario") == NULL) {
        ld_error_set(err, path, where, "needs a \"scenario\" name");
        return LD_EINVAL;
    }
    const cJSON *pols = rp_get(sc, "policies");
    if (!cJSON_IsArray(pols) || cJSON_GetArraySize(pols) == 0) {
        ld_error_set(err, path, where, "needs a non-empty \"policies\" array");
        return LD_EINVAL;
    }
    int i = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, pols) {
        char w[128];
        snprintf(w, sizeof w, "%s.policies[%d]", where, i++);
        if (rp_str(p, "label") == NULL) {
            ld_error_set(err, path, w, "needs a \"label\" string");
            return LD_EINVAL;
        }
        const cJSON *ms = rp_get(p, "metrics");
        if (!cJSON_IsObject(ms)) {
            ld_error_set(err, path, w, "needs a \"metrics\" object");
            return LD_EINVAL;
        }
        const cJSON *m;
        cJSON_ArrayForEach(m, ms) {
            const cJSON *mean = rp_get(m, "mean");
            if (!cJSON_IsObject(m) ||
                !(cJSON_IsNumber(mean) || cJSON_IsNull(mean))) {
                ld_error_set(err, path, w, "metrics.%s needs a \"mean\" "
                             "(a number or null)", m->string);
                return LD_EINVAL;
            }
        }
    }
    return LD_OK;
}

/* ---- HTML ------------------------------------------------------------------ */

static void html(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* A path in a URL: every byte but unreserved ones and '/' percent-encoded. */
static void url_path(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~/", c) != NULL)
            fputc(c, f);
        else
            fprintf(f, "%%%02X", c);
    }
}

/* One sentence part about a difference: "<noun> 1,241 ms higher (±1,950)",
 * or "<noun> not significantly different (+1,241 ms ±1,950)". */
static void rp_say_diff(FILE *f, const rp_metric *m, const cJSON *metric,
                        const rp_diff *d)
{
    char amt[RP_NUM], half[RP_NUM];
    int dir = rp_direction(metric, d);
    rp_amount(amt, sizeof amt, m, d->mean);
    rp_half(half, sizeof half, m, d->half);
    fprintf(f, "<span class=\"%s\">", rp_class(dir));
    html(f, m->noun);
    if (d->significant && d->mean != 0) {
        const char *word = d->mean > 0 ? "higher" : "lower";
        if (m->kind == RP_USD)
            fprintf(f, " %s %s per 1,000 requests (%s)", amt, word, half);
        else
            fprintf(f, " %s %s (%s)", amt, word, half);
    } else {
        fprintf(f, " not significantly different (%s%s %s)",
                d->mean < 0 ? "&minus;" : "+", amt, half);
    }
    fputs("</span>", f);
}

/* "Against B: gains: ...; costs: ...; no significant difference: ..." over
 * the verdict's metrics. which: "diff" (against the baseline) or
 * "diff_next" (against the policy ranked next). */
static void rp_against(FILE *f, const cJSON *winner, const char *which,
                       const char *other, const char *role)
{
    const cJSON *ms = rp_get(winner, "metrics");
    /* gains, costs, not significant, and significant differences of a
     * metric that has no better direction (or a compare.json that does not
     * say it) */
    static const char *const heads[4] = {"gains", "costs",
                                         "not significantly different",
                                         "different"};
    fputs("<p class=\"vs\"><b>Against ", f);
    html(f, other);
    fprintf(f, "</b> (%s): ", role);
    bool any_group = false;
    for (int g = 0; g < 4; g++) {
        int n = 0;
        for (size_t i = 0; i < RP_NMETRICS; i++) {
            const rp_metric *m = &rp_metrics[i];
            const cJSON *x = rp_get(ms, m->key);
            rp_diff d = rp_diff_of(rp_get(x, which));
            int dir = rp_direction(x, &d);
            int group = dir > 0 ? 0 : dir < 0 ? 1
                        : !d.significant || d.mean == 0 ? 2 : 3;
            if (!m->verdict || !d.ok || group != g)
                continue;
            if (n++ == 0)
                fprintf(f, "%s<span class=\"head\">%s:</span> ",
                        any_group ? "; " : "", heads[g]);
            else
                fputs(", ", f);
            if (g == 2) { /* the noun is in the heading */
                char amt[RP_NUM], half[RP_NUM];
                rp_amount(amt, sizeof amt, m, d.mean);
                rp_half(half, sizeof half, m, d.half);
                fputs("<span class=\"ns\">", f);
                html(f, m->noun);
                if (d.mean == 0 && d.half == 0)
                    fputs(" (identical)</span>", f);
                else
                    fprintf(f, " (%s%s %s)</span>",
                            d.mean < 0 ? "&minus;" : "+", amt, half);
            } else {
                rp_say_diff(f, m, x, &d);
            }
        }
        any_group = any_group || n > 0;
    }
    if (!any_group)
        fputs("no difference to report", f);
    fputs(".</p>\n", f);
}

/* The verdict of one scenario object: ranking, the winner's figures, what it
 * gains and costs against the baseline and the runner-up. */
static void rp_verdict(FILE *f, const cJSON *sc, bool overall)
{
    const cJSON *pols = rp_get(sc, "policies");
    const char *base = rp_str(sc, "baseline");
    const cJSON *winner = cJSON_GetArrayItem(pols, 0);
    const cJSON *second = cJSON_GetArrayItem(pols, 1);
    const char *wl = rp_str(winner, "label");
    double runs = rp_num(sc, "runs_per_policy");

    fputs("<ol class=\"ranking\">", f);
    const cJSON *p;
    int rank = 1;
    cJSON_ArrayForEach(p, pols) {
        const char *l = rp_str(p, "label");
        fprintf(f, "<li%s>%d. ", p == winner ? " class=\"winner\"" : "",
                rank++);
        html(f, l);
        if (base != NULL && strcmp(base, l) == 0)
            fputs(" <small>(baseline)</small>", f);
        fputs("</li>", f);
    }
    fputs("</ol>\n<p class=\"how\">Ranked by success, then p99 latency, then "
          "cost", f);
    if (!isnan(runs))
        fprintf(f, "; %.0f runs per policy%s", runs,
                overall ? " over all scenarios" : "");
    fputs("; &plusmn; is the 95% interval.</p>\n", f);

    const cJSON *ms = rp_get(winner, "metrics");
    char v[RP_NUM], h[RP_NUM];
    const rp_metric *succ = rp_metric_of("success_rate");
    const rp_metric *p99 = rp_metric_of("latency_p99_ms");
    const rp_metric *cost = rp_metric_of("cost_per_1k_usd");
    const cJSON *x;
    fputs("<p class=\"lead\"><b class=\"win\">", f);
    html(f, wl);
    fputs("</b> comes first", f);
    if ((x = rp_get(ms, succ->key)) != NULL && !isnan(rp_num(x, "mean"))) {
        rp_value(v, sizeof v, succ, rp_num(x, "mean"));
        rp_half(h, sizeof h, succ, rp_num(x, "ci95"));
        fprintf(f, ": it succeeds on %s of requests (%s)", v, h);
    }
    if ((x = rp_get(ms, p99->key)) != NULL && !isnan(rp_num(x, "mean"))) {
        rp_value(v, sizeof v, p99, rp_num(x, "mean"));
        rp_half(h, sizeof h, p99, rp_num(x, "ci95"));
        fprintf(f, ", its p99 latency is %s (%s)", v, h);
    }
    if ((x = rp_get(ms, cost->key)) != NULL && !isnan(rp_num(x, "mean"))) {
        rp_value(v, sizeof v, cost, rp_num(x, "mean"));
        rp_half(h, sizeof h, cost, rp_num(x, "ci95"));
        fprintf(f, " and it costs %s per 1,000 requests (%s)", v, h);
    }
    fputs(".</p>\n", f);

    const char *sl = rp_str(second, "label");
    bool win_is_base = base != NULL && strcmp(base, wl) == 0;
    bool second_is_base = sl != NULL && base != NULL && strcmp(base, sl) == 0;
    if (!win_is_base && base != NULL)
        rp_against(f, winner, "diff", base,
                   second_is_base ? "the baseline, and the runner-up"
                                  : "the baseline");
    if (sl != NULL && !second_is_base)
        rp_against(f, winner, "diff_next", sl, "the runner-up");
}

/* The metric a side of a gate names ("tuned.latency_p99_ms"): the longest
 * key that follows a dot. */
static const rp_metric *rp_gate_metric(const char *s, size_t len)
{
    const rp_metric *best = NULL;
    for (size_t i = 0; i < RP_NMETRICS; i++) {
        size_t kl = strlen(rp_metrics[i].key);
        for (size_t k = 1; k + kl <= len; k++)
            if (s[k - 1] == '.' &&
                strncmp(s + k, rp_metrics[i].key, kl) == 0 &&
                (best == NULL || kl > strlen(best->key)))
                best = &rp_metrics[i];
    }
    return best;
}

static void rp_gates(FILE *f, const cJSON *gates)
{
    fputs("<section id=\"gates\">\n<h2>Rollout gates</h2>\n", f);
    if (cJSON_GetArraySize(gates) == 0) {
        fputs("<p class=\"how\">No gates were set (<code>ladder compare "
              "--gate EXPR</code> states a requirement on the overall "
              "means).</p>\n</section>\n", f);
        return;
    }
    fputs("<table class=\"gates\">\n<tr><th>Requirement</th><th>Value</th>"
          "<th>Limit</th><th>Result</th></tr>\n", f);
    const cJSON *g;
    cJSON_ArrayForEach(g, gates) {
        const char *t = rp_str(g, "gate");
        if (t == NULL)
            t = "?";
        /* each side in the unit of the metric it names */
        const char *op = NULL;
        static const char *const ops[] = {"<=", ">=", "<", ">"};
        for (size_t i = 0; i < 4 && op == NULL; i++)
            op = strstr(t, ops[i]);
        size_t ll = op != NULL ? (size_t)(op - t) : strlen(t);
        const rp_metric *lm = rp_gate_metric(t, ll);
        const rp_metric *rm = op != NULL ? rp_gate_metric(op, strlen(op))
                                         : NULL;
        if (rm == NULL)
            rm = lm;
        static const rp_metric plain = {"", "", "", RP_PLAIN, 3, false};
        char l[RP_NUM], r[RP_NUM];
        rp_value(l, sizeof l, lm != NULL ? lm : &plain, rp_num(g, "left"));
        rp_value(r, sizeof r, rm != NULL ? rm : &plain, rp_num(g, "right"));
        bool pass = cJSON_IsTrue(rp_get(g, "pass"));
        fputs("<tr><td><code>", f);
        html(f, t);
        fprintf(f, "</code></td><td>%s</td><td>%s</td><td class=\"%s\">%s"
                "</td></tr>\n", l, r, pass ? "pass" : "fail",
                pass ? "PASS" : "FAIL");
    }
    fputs("</table>\n</section>\n", f);
}

/* The table of one scenario object: a row per metric, a column per policy,
 * the paired difference from the baseline under each value. */
static void rp_table(FILE *f, const cJSON *sc)
{
    const cJSON *pols = rp_get(sc, "policies");
    const char *base = rp_str(sc, "baseline");
    const cJSON *p;
    fputs("<table>\n<tr><th>Metric</th>", f);
    cJSON_ArrayForEach(p, pols) {
        fputs("<th>", f);
        html(f, rp_str(p, "label"));
        if (base != NULL && strcmp(base, rp_str(p, "label")) == 0)
            fputs("<br><small>baseline</small>", f);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    /* the rows: the metrics of the first policy, in its order */
    const cJSON *m0;
    cJSON_ArrayForEach(m0, rp_get(cJSON_GetArrayItem(pols, 0), "metrics")) {
        const rp_metric *m = rp_metric_of(m0->string);
        rp_metric other = {m0->string, NULL, m0->string, RP_PLAIN, 3, false};
        if (m == NULL) {
            other.title = rp_str(m0, "label") != NULL ? rp_str(m0, "label")
                                                      : m0->string;
            m = &other;
        }
        fputs("<tr><td>", f);
        html(f, m->title);
        fputs("</td>", f);
        cJSON_ArrayForEach(p, pols) {
            const cJSON *x = rp_get(rp_get(p, "metrics"), m->key);
            char v[RP_NUM], h[RP_NUM];
            rp_value(v, sizeof v, m, rp_num(x, "mean"));
            rp_half(h, sizeof h, m, rp_num(x, "ci95"));
            fprintf(f, "<td>%s <small>%s</small>", v, h);
            rp_diff d = rp_diff_of(rp_get(x, "diff"));
            if (d.ok) {
                char amt[RP_NUM];
                int dir = rp_direction(x, &d);
                rp_amount(amt, sizeof amt, m, d.mean);
                rp_half(h, sizeof h, m, d.half);
                fprintf(f, "<br><small class=\"%s\">%s%s %s%s</small>",
                        rp_class(dir), d.mean < 0 ? "&minus;" : "+", amt, h,
                        d.significant ? "" : " (n.s.)");
            }
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n<p class=\"how\">Under each value: the paired "
          "difference from the baseline with its 95% interval; green is a "
          "significant improvement, red a significant regression, grey "
          "(n.s.) not significant.</p>\n", f);
}

/* ---- charts -------------------------------------------------------------- */

/* Charts in the order of the story; others follow alphabetically. */
static const struct {
    const char *prefix, *title, *caption;
} rp_chart_kinds[] = {
    {"outcomes", "Outcomes over time",
     "Success, abandonment and fallbacks per interval; fault windows are "
     "shaded."},
    {"summary", "Summary",
     "Success, p99 latency and cost per policy, with 95% intervals."},
    {"latency_cdf", "End-to-end latency",
     "Share of requests finished within a given time."},
    {"ttft_cdf", "Time to first token",
     "Share of requests whose first token came within a given time."},
    {"cost", "Cost over time", "Cost per 1,000 requests per interval."},
    {"fallbacks_by_class_", "Fallbacks by failure class",
     "Why requests fell back, per interval, for one policy."},
};
#define RP_NKINDS (sizeof rp_chart_kinds / sizeof rp_chart_kinds[0])

typedef struct rp_chart {
    char base[256];  /* file name without the extension */
    bool png, svg;
    int kind;        /* index in rp_chart_kinds, RP_NKINDS: other */
} rp_chart;

static int rp_kind_of(const char *base)
{
    for (size_t k = 0; k < RP_NKINDS; k++) {
        const char *p = rp_chart_kinds[k].prefix;
        size_t n = strlen(p);
        bool prefix = p[n - 1] == '_';
        if (prefix ? strncmp(base, p, n) == 0 : strcmp(base, p) == 0)
            return (int)k;
    }
    return (int)RP_NKINDS;
}

static int rp_chart_cmp(const void *a, const void *b)
{
    const rp_chart *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind - y->kind;
    return strcmp(x->base, y->base);
}

/* The charts in dir (PNG or SVG), in story order; only names that start
 * with only, when only is not NULL. Returns how many. */
static int rp_find_charts(const char *dir, const char *only, rp_chart *out,
                          int cap)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        bool png = l > 4 && strcmp(e->d_name + l - 4, ".png") == 0;
        bool svg = l > 4 && strcmp(e->d_name + l - 4, ".svg") == 0;
        if ((!png && !svg) || l - 4 >= sizeof out[0].base ||
            (only != NULL && strncmp(e->d_name, only, strlen(only)) != 0))
            continue;
        char base[256];
        snprintf(base, sizeof base, "%.*s", (int)(l - 4), e->d_name);
        int k = 0;
        while (k < n && strcmp(out[k].base, base) != 0)
            k++;
        if (k == n) {
            if (n == cap)
                continue;
            snprintf(out[n].base, sizeof out[n].base, "%s", base);
            out[n].png = out[n].svg = false;
            out[n].kind = rp_kind_of(base);
            n++;
        }
        out[k].png = out[k].png || png;
        out[k].svg = out[k].svg || svg;
    }
    closedir(d);
    qsort(out, (size_t)n, sizeof out[0], rp_chart_cmp);
    return n;
}

/* Where the page finds the charts: their directory as the page's links
 * start it (relative to the page when under it, else absolute). */
typedef struct rp_plots {
    char dir[RP_PATH];   /* on disk */
    char href[RP_PATH];  /* in the page */
    bool given;          /* --plots */
} rp_plots;

/* Write the figures of charts[from, to); the PNG when there is one (what
 * `ladder plot` lays out and what was checked by eye), else the SVG. */
static void rp_figures(FILE *f, const rp_plots *pl, const char *sub,
                       const rp_chart *c, int from, int to)
{
    for (int i = from; i < to; i++) {
        const char *title = c[i].kind < (int)RP_NKINDS
                                ? rp_chart_kinds[c[i].kind].title : c[i].base;
        const char *cap = c[i].kind < (int)RP_NKINDS
                              ? rp_chart_kinds[c[i].kind].caption : "";
        fputs("<figure><img src=\"", f);
        url_path(f, pl->href);
        fputc('/', f);
        if (sub != NULL) {
            url_path(f, sub);
            fputc('/', f);
        }
        url_path(f, c[i].base);
        fprintf(f, ".%s\" alt=\"", c[i].png ? "png" : "svg");
        html(f, title);
        fputs("\" width=\"1200\" height=\"700\"><figcaption><b>", f);
        html(f, title);
        if (c[i].kind == (int)RP_NKINDS - 1) { /* fallbacks_by_class_<P> */
            fputs(": ", f);
            html(f, c[i].base + strlen(rp_chart_kinds[c[i].kind].prefix));
        }
        fputs(".</b> ", f);
        html(f, cap);
        fputs("</figcaption></figure>\n", f);
    }
}

static void rp_no_charts(FILE *f, const rp_plots *pl, const char *where)
{
    fputs("<p class=\"missing\">No charts in <code>", f);
    html(f, where);
    fputs("</code>: run <code>ladder plot</code> on this directory", f);
    if (!pl->given)
        fputs(", or give <code>ladder report --plots DIR2</code> where "
              "<code>ladder plot --out DIR2</code> put them", f);
    fputs(".</p>\n", f);
}

/* ---- the page ------------------------------------------------------------- */

static const char rp_style[] =
    "body{font-family:system-ui,sans-serif;max-width:1250px;margin:0 auto;"
    "padding:.6em 1em;color:#222;line-height:1.4}\n"
    "h1{font-size:1.55em;margin:.3em 0 .2em}\n"
    "h2{font-size:1.2em;margin:1.1em 0 .4em;border-bottom:1px solid #ddd}\n"
    "#verdict{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;"
    "padding:.2em 1em .5em}\n"
    "#verdict h2{border:none;margin-top:.5em}\n"
    "ol.ranking{margin:.2em 0;padding:0;list-style:none}\n"
    "ol.ranking li{display:inline-block;margin-right:2.2em}\n"
    "li.winner{font-weight:bold}\n"
    ".lead{font-size:1.12em;margin:.4em 0}\n"
    ".vs{margin:.35em 0}\n"
    ".head{font-style:italic;color:#444}\n"
    ".how{color:#555;font-size:.9em;margin:.2em 0}\n"
    ".good{color:#0a7a2f;font-weight:500}\n"
    ".bad{color:#c62828;font-weight:500}\n"
    ".ns{color:#666}\n"
    "table{border-collapse:collapse;margin:.5em 0}\n"
    "td,th{border:1px solid #ccc;padding:.3em .7em;text-align:right;"
    "vertical-align:top}\n"
    "td:first-child,th:first-child{text-align:left}\n"
    "th{background:#f3f3f3}\n"
    "td.pass{color:#fff;background:#0a7a2f;font-weight:bold;"
    "text-align:center}\n"
    "td.fail{color:#fff;background:#c62828;font-weight:bold;"
    "text-align:center}\n"
    "figure{margin:1em 0}\n"
    "img{max-width:100%;height:auto;border:1px solid #eee}\n"
    "figcaption{color:#555;font-size:.9em}\n"
    ".missing{font-style:italic;color:#a33}\n";

static void rp_scenario(FILE *f, const cJSON *sc, const rp_plots *pl,
                        bool verdict)
{
    const char *nm = rp_str(sc, "scenario");
    char slug[128], where[RP_PATH + 200];
    cli_slug(nm, slug, sizeof slug);
    fputs("<section class=\"scenario\">\n<h2>Scenario: ", f);
    html(f, nm);
    fputs("</h2>\n", f);
    if (verdict)
        rp_verdict(f, sc, false);
    char dir[RP_PATH + 130];
    snprintf(dir, sizeof dir, "%s/%s", pl->dir, slug);
    rp_chart c[RP_MAX_CHARTS];
    int n = rp_find_charts(dir, NULL, c, RP_MAX_CHARTS);
    /* the story first (outcomes, summary), then the table, then the rest */
    int story = 0;
    while (story < n && c[story].kind <= 1)
        story++;
    if (n == 0) {
        snprintf(where, sizeof where, "%s", dir);
        rp_no_charts(f, pl, where);
    }
    rp_figures(f, pl, slug, c, 0, story);
    rp_table(f, sc);
    rp_figures(f, pl, slug, c, story, n);
    fputs("</section>\n", f);
}

static int rp_write(FILE *f, const cJSON *root, const rp_plots *pl)
{
    const cJSON *scens = rp_get(root, "scenarios");
    const cJSON *overall = rp_get(root, "overall");
    int nscen = cJSON_GetArraySize(scens);
    /* the verdict is about everything: the overall when there are several
     * scenarios */
    const cJSON *top = nscen > 1 && overall != NULL
                           ? overall : cJSON_GetArrayItem(scens, 0);
    fprintf(f, "<!doctype html>\n<html lang=\"en\"><head><meta "
            "charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width="
            "device-width\">\n<title>Ladder: which fallback ladder to ship"
            "</title>\n<style>\n%s</style></head><body>\n"
            "<h1>Which fallback ladder should we ship?</h1>\n"
            "<p class=\"how\">", rp_style);
    if (nscen > 1)
        fprintf(f, "%d incidents replayed", nscen);
    else {
        fputs("Incident ", f);
        html(f, rp_str(top, "scenario"));
        fputs(" replayed", f);
    }
    fputs(" in Ladder's simulator; every policy sees the same requests and "
          "the same provider behaviour, so the differences come from the "
          "ladders.</p>\n<section id=\"verdict\">\n<h2>Verdict</h2>\n", f);
    rp_verdict(f, top, top == overall);
    fputs("</section>\n", f);
    rp_gates(f, rp_get(root, "gates"));

    if (nscen > 1 && overall != NULL) {
        fputs("<section class=\"scenario\">\n<h2>All scenarios together"
              "</h2>\n", f);
        rp_chart c[4];
        int n = rp_find_charts(pl->dir, "summary_overall", c, 4);
        if (n == 0)
            rp_no_charts(f, pl, pl->dir);
        rp_figures(f, pl, NULL, c, 0, n);
        rp_table(f, overall);
        fputs("</section>\n", f);
    }
    const cJSON *sc;
    cJSON_ArrayForEach(sc, scens)
        rp_scenario(f, sc, pl, nscen > 1);
    fputs("</body></html>\n", f);
    return ferror(f) ? LD_EINVAL : LD_OK;
}

/* The line (from 1) where cJSON stopped parsing text. */
static int rp_error_line(const char *text, size_t len)
{
    const char *e = cJSON_GetErrorPtr();
    int line = 1;
    if (e == NULL || e < text || e > text + len)
        return 0;
    for (const char *s = text; s < e; s++)
        line += *s == '\n';
    return line;
}

/* --plots DIR2 as the page links it: relative when under DIR. */
static int rp_plots_at(rp_plots *pl, const char *dir, const char *plots,
                       ld_error *err)
{
    pl->given = plots != NULL;
    if (plots == NULL) {
        snprintf(pl->dir, sizeof pl->dir, "%s/plots", dir);
        snprintf(pl->href, sizeof pl->href, "plots");
        return LD_OK;
    }
    char rd[PATH_MAX], rp[PATH_MAX];
    if (realpath(dir, rd) == NULL || realpath(plots, rp) == NULL) {
        ld_error_set(err, realpath(dir, rd) == NULL ? dir : plots, NULL,
                     "%s", strerror(errno));
        return LD_EINVAL;
    }
    snprintf(pl->dir, sizeof pl->dir, "%s", rp);
    size_t n = strlen(rd);
    if (strcmp(rd, rp) == 0)
        snprintf(pl->href, sizeof pl->href, ".");
    else if (strncmp(rd, rp, n) == 0 && rp[n] == '/')
        snprintf(pl->href, sizeof pl->href, "%s", rp + n + 1);
    else
        snprintf(pl->href, sizeof pl->href, "%s", rp);
    return LD_OK;
}

typedef struct rp_args {
    const char *dir, *plots;
} rp_args;

#define AT(f) CLI_AT(rp_args, f)
static const cli_opt rp_opts[] = {
    {"plots", CLI_STR, "DIR2", "where `ladder plot --out DIR2` put the charts "
     "(default DIR/plots)", .off = AT(plots)},
    {.name = NULL}};

static const cli_cmd rp_cmd = {
    "ladder report",
    {NULL, CLI_STR, "DIR", NULL, .flags = CLI_REQ, .off = AT(dir)},
    "Writes DIR/report.html from DIR/compare.json (`ladder compare --out\n"
    "DIR`) and the charts of `ladder plot DIR`: the verdict (ranking, what\n"
    "the winner gains and costs against the baseline and the runner-up),\n"
    "the gates, then per scenario the charts and the tables.\n",
    rp_opts,
    "Exit: 0 written, 2 bad input.\n"};
#undef AT

int cmd_report(int argc, char **argv)
{
    rp_args ra = {0};
    int pr = cli_opt_parse(&rp_cmd, argc, argv, &ra);
    if (pr != CLI_PARSED)
        return pr == CLI_HELP ? 0 : 2;
    const char *dir = ra.dir, *plots = ra.plots;
    char path[RP_PATH];
    char *text = NULL;
    size_t len;
    ld_error err;
    cJSON *root = NULL;
    FILE *f = NULL;
    int rc = 2;
    rp_plots pl;
    snprintf(path, sizeof path, "%s/compare.json", dir);
    if (cli_read_file(path, RP_MAX_FILE, &text, &len, &err) < 0) {
        fprintf(stderr, "ladder report: %s (run `ladder compare --out %s` "
                "first)\n", err.msg, dir);
        goto done;
    }
    if ((root = cJSON_ParseWithLength(text, len)) == NULL) {
        fprintf(stderr, "ladder report: %s: line %d: not valid JSON\n", path,
                rp_error_line(text, len));
        goto done;
    }
    const cJSON *scens = rp_get(root, "scenarios");
    if (!cJSON_IsArray(scens) || cJSON_GetArraySize(scens) == 0) {
        fprintf(stderr, "ladder report: %s: not a compare.json (no "
                "\"scenarios\" array)\n", path);
        goto done;
    }
    int i = 0;
    const cJSON *sc;
    cJSON_ArrayForEach(sc, scens) {
        char where[64];
        snprintf(where, sizeof where, "scenarios[%d]", i++);
        if (rp_check_scenario(sc, path, where, &err) < 0) {
            fprintf(stderr, "ladder report: %s\n", err.msg);
            goto done;
        }
    }
    const cJSON *overall = rp_get(root, "overall");
    if (overall != NULL &&
        rp_check_scenario(overall, path, "overall", &err) < 0) {
        fprintf(stderr, "ladder report: %s\n", err.msg);
        goto done;
    }
    const cJSON *gates = rp_get(root, "gates");
    if (gates != NULL && !cJSON_IsArray(gates)) {
        fprintf(stderr, "ladder report: %s: gates: must be an array\n", path);
        goto done;
    }
    if (rp_plots_at(&pl, dir, plots, &err) < 0) {
        fprintf(stderr, "ladder report: --plots: %s\n", err.msg);
        goto done;
    }
    snprintf(path, sizeof path, "%s/report.html", dir);
    if ((f = fopen(path, "w")) == NULL) {
        fprintf(stderr, "ladder report: %s: cannot write: %s\n", path,
                strerror(errno));
        goto done;
    }
    bool bad = rp_write(f, root, &pl) < 0;
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "ladder report: %s: write error\n", path);
        goto done;
    }
    printf("%s\n", path);
    rc = 0;
done:
    free(text);
    cJSON_Delete(root);
    return rc;
}
