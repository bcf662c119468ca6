/* cmd_report.c - `ladder report DIR`: one HTML page for the product team
 * from what `ladder compare --out DIR` and `ladder plot DIR` wrote: per
 * scenario, the ranked table with intervals and the charts. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

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

typedef struct mrow {
    const char *key, *label;
    double scale;
    const char *fmt;
} mrow;

static const mrow rows[] = {
    {"success_rate", "Success", 100, "%.2f %%"},
    {"abandon_rate", "Abandoned", 100, "%.2f %%"},
    {"latency_p50_ms", "Latency p50", 1, "%.0f ms"},
    {"latency_p99_ms", "Latency p99", 1, "%.0f ms"},
    {"ttft_p50_ms", "TTFT p50", 1, "%.0f ms"},
    {"ttft_p99_ms", "TTFT p99", 1, "%.0f ms"},
    {"cost_per_1k_usd", "Cost per 1k requests", 1, "$%.3f"},
    {"attempts_per_request", "Attempts per request", 1, "%.3f"},
    {"fallback_rate", "Fallbacks per request", 1, "%.3f"},
    {"minutes_over_ceiling", "Minutes over the latency ceiling", 1, "%.1f"},
    {"recovery_s", "Time to recover after faults", 1, "%.0f s"},
};

static void cell(FILE *f, const cJSON *m, const mrow *r, bool baseline)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(m, r->key);
    const cJSON *mean = cJSON_GetObjectItemCaseSensitive(x, "mean");
    const cJSON *ci = cJSON_GetObjectItemCaseSensitive(x, "ci95");
    char buf[64];
    fputs("<td>", f);
    if (!cJSON_IsNumber(mean)) {
        fputs("&ndash;</td>", f);
        return;
    }
    snprintf(buf, sizeof buf, r->fmt, mean->valuedouble * r->scale);
    html(f, buf);
    if (cJSON_IsNumber(ci))
        fprintf(f, " <small>&plusmn;%.3g</small>", ci->valuedouble * r->scale);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(x, "diff");
    const cJSON *dm = cJSON_GetObjectItemCaseSensitive(d, "mean");
    if (!baseline && cJSON_IsNumber(dm)) {
        bool sig = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "significant"));
        fprintf(f, "<br><small class=\"%s\">%+.3g vs baseline%s</small>",
                sig ? "sig" : "ns", dm->valuedouble * r->scale,
                sig ? " *" : "");
    }
    fputs("</td>", f);
}

static int png_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && strcmp(d->d_name + n - 4, ".png") == 0;
}

static void scenario_section(FILE *f, const char *dir, const cJSON *sc,
                             const char *desc)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(sc, "scenario");
    const cJSON *pols = cJSON_GetObjectItemCaseSensitive(sc, "policies");
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(sc, "baseline");
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(sc, "runs_per_policy");
    const char *nm = cJSON_IsString(name) ? name->valuestring : "?";
    fputs("<h2>", f);
    html(f, nm);
    fputs("</h2>\n", f);
    if (desc != NULL) {
        fputs("<p>", f);
        html(f, desc);
        fputs("</p>\n", f);
    }
    fprintf(f, "<p>%d runs per policy with the same random numbers; "
            "baseline <b>", cJSON_IsNumber(runs) ? (int)runs->valuedouble : 0);
    html(f, cJSON_IsString(base) ? base->valuestring : "?");
    fputs("</b>; policies ranked by success, then p99 latency, then cost. "
          "&plusmn; is the 95% interval; * marks a paired difference whose "
          "interval excludes zero.</p>\n<table>\n<tr><th>Metric</th>", f);
    const cJSON *p;
    cJSON_ArrayForEach(p, pols) {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(p, "label");
        fputs("<th>", f);
        html(f, cJSON_IsString(l) ? l->valuestring : "?");
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fputs("<tr><td>", f);
        html(f, rows[i].label);
        fputs("</td>", f);
        cJSON_ArrayForEach(p, pols) {
            const cJSON *l = cJSON_GetObjectItemCaseSensitive(p, "label");
            bool isbase = cJSON_IsString(l) && cJSON_IsString(base) &&
                          strcmp(l->valuestring, base->valuestring) == 0;
            cell(f, cJSON_GetObjectItemCaseSensitive(p, "metrics"), &rows[i],
                 isbase);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    char sl[128], pdir[4096];
    cli_slug(nm, sl, sizeof sl);
    snprintf(pdir, sizeof pdir, "%s/plots/%s", dir, sl);
    struct dirent **names;
    int n = scandir(pdir, &names, png_filter, alphasort);
    if (n <= 0) {
        fputs("<p><i>No charts: run <code>ladder plot</code> on this "
              "directory first.</i></p>\n", f);
        if (n == 0)
            free(names);
        return;
    }
    for (int i = 0; i < n; i++) {
        fprintf(f, "<figure><img src=\"plots/%s/", sl);
        html(f, names[i]->d_name);
        fputs("\" alt=\"", f);
        html(f, names[i]->d_name);
        fputs("\"></figure>\n", f);
        free(names[i]);
    }
    free(names);
}

int cmd_report(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fputs("usage: ladder report DIR\n\n"
              "Writes DIR/report.html from DIR/compare.json (`ladder compare "
              "--out DIR`)\nand the charts of `ladder plot DIR`.\n",
              argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    const char *dir = argv[1];
    char path[4096];
    snprintf(path, sizeof path, "%s/compare.json", dir);
    char *text;
    size_t len;
    ld_error err;
    if (cli_read_file(path, 64u << 20, &text, &len, &err) < 0) {
        fprintf(stderr, "ladder report: %s (run `ladder compare --out %s` "
                "first)\n", err.msg, dir);
        return 2;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *scens = cJSON_GetObjectItemCaseSensitive(root, "scenarios");
    if (!cJSON_IsArray(scens)) {
        fprintf(stderr, "ladder report: %s: not a compare.json (no "
                "\"scenarios\" array)\n", path);
        cJSON_Delete(root);
        return 2;
    }
    snprintf(path, sizeof path, "%s/report.html", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "ladder report: %s: cannot write: %s\n", path,
                strerror(errno));
        cJSON_Delete(root);
        return 2;
    }
    fputs("<!doctype html>\n<html><head><meta charset=\"utf-8\">\n"
          "<title>Ladder: which fallback ladder to ship</title>\n<style>\n"
          "body{font-family:sans-serif;max-width:1250px;margin:2em auto;"
          "color:#222}\ntable{border-collapse:collapse;margin:1em 0}\n"
          "td,th{border:1px solid #ccc;padding:.35em .7em;text-align:right;"
          "vertical-align:top}\ntd:first-child,th:first-child{text-align:"
          "left}\nth{background:#f3f3f3}\n.sig{color:#a33}\n.ns{color:#888}\n"
          "figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}\n"
          "</style></head><body>\n<h1>Which fallback ladder should we "
          "ship?</h1>\n<p>Each scenario replays an incident in Ladder's "
          "simulator: every policy sees the same arrivals, request sizes and "
          "provider behaviour, so differences come from the ladders.</p>\n",
          f);
    const cJSON *sc;
    cJSON_ArrayForEach(sc, scens)
        scenario_section(f, dir, sc, NULL);
    const cJSON *overall = cJSON_GetObjectItemCaseSensitive(root, "overall");
    if (overall != NULL)
        scenario_section(f, dir, overall, "All scenarios together.");
    const cJSON *gates = cJSON_GetObjectItemCaseSensitive(root, "gates");
    if (cJSON_GetArraySize(gates) > 0) {
        fputs("<h2>Rollout gates</h2>\n<ul>\n", f);
        const cJSON *g;
        cJSON_ArrayForEach(g, gates) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(g, "gate");
            fprintf(f, "<li>%s: ",
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "pass"))
                        ? "PASS" : "<b>FAIL</b>");
            html(f, cJSON_IsString(t) ? t->valuestring : "?");
            fputs("</li>\n", f);
        }
        fputs("</ul>\n", f);
    }
    fputs("</body></html>\n", f);
    int rc = 0;
    if (fclose(f) != 0) {
        fprintf(stderr, "ladder report: %s: write error\n", path);
        rc = 2;
    } else {
        printf("%s\n", path);
    }
    cJSON_Delete(root);
    return rc;
}
