/* sim_metrics_write.c - the metrics as files and text: timeseries.csv, the
 * human table, cdf.csv and faults.csv; see sim_metrics.h. */
#include "sim_metrics_int.h"

#include <stdio.h>

/* ---- time series ---------------------------------------------------------- */

/* A double with at most `decimals` decimals, trailing zeros dropped. */
static void fmt_fixed(char *buf, size_t cap, double v, int decimals)
{
    snprintf(buf, cap, "%.*f", decimals, v);
    if (strchr(buf, '.') == NULL)
        return;
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '.')
        buf[--n] = '\0';
    if (strcmp(buf, "-0") == 0)
        memmove(buf, buf + 1, 2); /* "0" */
}

static void put_ms(FILE *f, ld_us v)
{
    char b[48];
    if (v >= 0) {
        fmt_fixed(b, sizeof b, (double)v / (double)LD_US_PER_MS, 3);
        fputs(b, f);
    }
    fputc(',', f);
}

static bool needs_quotes(const char *s)
{
    return strpbrk(s, ",\"\r\n") != NULL;
}

static void put_quoted(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
}

/* A fault window's place in start order (ties: order of addition). */
typedef struct win_key {
    ld_us start;
    size_t k;
} win_key;

static int cmp_win_key(const void *a, const void *b)
{
    const win_key *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

static int cmp_size(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return i < j ? -1 : i > j;
}

int sim_metrics_write_timeseries(const sim_metrics *m, FILE *f)
{
    if (m == NULL || f == NULL)
        return LD_EINVAL;
    if (m->error != 0)
        return m->error;
    int rc = LD_ENOMEM;
    win_key *order = malloc((m->nfaults + 1) * sizeof *order);
    size_t *active = malloc((m->nfaults + 1) * sizeof *active);
    size_t *ids = malloc((m->nnames + 1) * sizeof *ids);
    size_t *stamp = calloc(m->nnames + 1, sizeof *stamp);
    if (order == NULL || active == NULL || ids == NULL || stamp == NULL)
        goto out;
    for (size_t k = 0; k < m->nfaults; k++) {
        order[k].start = m->faults[k].start;
        order[k].k = k;
    }
    if (m->nfaults > 1)
        qsort(order, m->nfaults, sizeof *order, cmp_win_key);

    fputs("start_s,arrivals,successes,failures,abandons,fallbacks", f);
    for (int c = 0; c < LD_FC_COUNT; c++)
        fprintf(f, ",fb_%s", ld_class_name((ld_class)c));
    fputs(",latency_p50_ms,latency_p99_ms,ttft_p50_ms,ttft_p99_ms,cost_usd,"
          "success_rate,in_violation,active_faults\n",
          f);

    size_t next = 0, nactive = 0;
    char b[64];
    for (size_t i = 0; i < m->nrows; i++) {
        const ts_row *r = &m->rows[i];
        ld_us rs = sim_mx_row_start(m, i), re = rs + m->interval;
        fmt_fixed(b, sizeof b, (double)rs / (double)LD_US_PER_S, 6);
        fprintf(f, "%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                   ",%" PRIu64,
                b, r->arrivals, r->successes, r->failures, r->abandons,
                r->fallbacks);
        for (int c = 0; c < LD_FC_COUNT; c++)
            fprintf(f, ",%" PRIu64, r->fb[c]);
        fputc(',', f);
        for (int q = 0; q < 4; q++)
            put_ms(f, sim_mx_row_q(m, i, q));
        fmt_fixed(b, sizeof b, r->cost, 9);
        fprintf(f, "%s,", b);
        if (r->finished > 0) {
            fmt_fixed(b, sizeof b,
                      (double)r->successes / (double)r->finished, 6);
            fputs(b, f);
        }
        fprintf(f, ",%d,", sim_mx_row_in_violation(r) ? 1 : 0);

        /* windows overlapping [rs, re): start < re and end > rs */
        while (next < m->nfaults && order[next].start < re)
            active[nactive++] = order[next++].k;
        size_t keep = 0, nids = 0;
        bool quote = false;
        for (size_t k = 0; k < nactive; k++) {
            const fault_win *w = &m->faults[active[k]];
            if (w->end <= rs)
                continue; /* over for good: rows only move forward */
            active[keep++] = active[k];
            if (w->start >= w->end || stamp[w->name] == i + 1)
                continue;
            stamp[w->name] = i + 1;
            ids[nids++] = w->name;
            quote = quote || needs_quotes(m->names[w->name]);
        }
        nactive = keep;
        if (nids > 1)
            qsort(ids, nids, sizeof *ids, cmp_size);
        if (quote)
            fputc('"', f);
        for (size_t k = 0; k < nids; k++) {
            if (k > 0)
                fputc('|', f);
            if (quote)
                put_quoted(f, m->names[ids[k]]);
            else
                fputs(m->names[ids[k]], f);
        }
        if (quote)
            fputc('"', f);
        fputc('\n', f);
    }
    rc = ferror(f) ? LD_EINVAL : LD_OK;
out:
    free(order);
    free(active);
    free(ids);
    free(stamp);
    return rc;
}

/* ---- table ---------------------------------------------------------------- */

static double pct(uint64_t n, uint64_t d)
{
    return d == 0 ? 0.0 : 100.0 * (double)n / (double)d;
}

static void print_q(FILE *f, const char *label, const ld_hist *h)
{
    fprintf(f, "%-22s", label);
    if (ld_hist_count(h) == 0) {
        fputs("-\n", f);
        return;
    }
    static const double qs[] = {0.50, 0.95, 0.99};
    static const char *names[] = {"p50", "p95", "p99"};
    for (int i = 0; i < 3; i++)
        fprintf(f, "%s%s %10.1f", i > 0 ? "  " : "", names[i],
                (double)ld_hist_quantile(h, qs[i]) / (double)LD_US_PER_MS);
    fputc('\n', f);
}

static void print_group(FILE *f, const char *label, const user_group *g)
{
    fprintf(f, "  %-20s%8" PRIu64 "  success %6.2f%%  abandon %6.2f%%", label,
            g->n, pct(g->succeeded, g->n), pct(g->abandoned, g->n));
    if (ld_hist_count(g->lat) > 0)
        fprintf(f, "  success latency p50 %.1f ms  p99 %.1f ms",
                (double)ld_hist_quantile(g->lat, 0.50) / (double)LD_US_PER_MS,
                (double)ld_hist_quantile(g->lat, 0.99) / (double)LD_US_PER_MS);
    fputc('\n', f);
}

static uint64_t sum_classes(const uint64_t *c)
{
    uint64_t s = 0;
    for (int i = 0; i < LD_FC_COUNT; i++)
        s += c[i];
    return s;
}

/* "time to recover s" with its counts, then one line per window (the
 * first REC_TABLE_LINES of them). */
static void print_recovery(const sim_metrics *m, FILE *f)
{
    size_t count[REC_NSTATUS] = {0}, listed = 0;
    double sum = 0.0, worst = 0.0;
    rec_eval ev;
    bool any = false;
    for (size_t k = 0; k < m->nfaults && !any; k++)
        any = sim_mx_win_incident(m, &m->faults[k]);
    if (!any)
        return;
    if (sim_mx_rec_eval_init(m, &ev) != LD_OK) {
        fputs("time to recover: out of memory\n", f);
        return;
    }
    for (size_t k = 0; k < m->nfaults; k++) {
        const fault_win *w = &m->faults[k];
        double after = 0.0;
        if (!sim_mx_win_incident(m, w))
            continue;
        rec_status st = sim_mx_rec_window(m, &ev, w, &after);
        count[st]++;
        if (st == REC_RECOVERED) {
            sum += after;
            worst = after > worst ? after : worst;
        }
    }
    fprintf(f, "%-22s", "time to recover s");
    if (count[REC_RECOVERED] > 0)
        fprintf(f, "%.1f  (mean of %zu recovered, max %.1f; ",
                sum / (double)count[REC_RECOVERED], count[REC_RECOVERED],
                worst);
    else
        fputs("-  (", f);
    fprintf(f, "%zu not recovered; %zu not defined; ",
            count[REC_NOT_RECOVERED],
            count[REC_NO_END] + count[REC_NO_BASELINE] + count[REC_OVERLAP] +
                count[REC_INTERRUPTED] + count[REC_NO_TRAFFIC]);
    if (ev.have_baseline)
        fprintf(f, "baseline %.2f%% success)\n", 100.0 * ev.baseline);
    else
        fputs("no baseline)\n", f);
    for (size_t k = 0; k < m->nfaults; k++) {
        const fault_win *w = &m->faults[k];
        double after = 0.0;
        if (!sim_mx_win_incident(m, w))
            continue;
        if (listed++ == REC_TABLE_LINES) {
            size_t total = 0;
            for (int s = 0; s < REC_NSTATUS; s++)
                total += count[s];
            fprintf(f, "  ... %zu more fault windows\n",
                    total - REC_TABLE_LINES);
            break;
        }
        rec_status st = sim_mx_rec_window(m, &ev, w, &after);
        char when[64];
        if (w->end == LD_NEVER)
            snprintf(when, sizeof when, "%.1f s-", (double)w->start / 1e6);
        else
            snprintf(when, sizeof when, "%.1f-%.1f s",
                     (double)w->start / 1e6, (double)w->end / 1e6);
        fprintf(f, "  %s (%s): ", m->names[w->name], when);
        if (st == REC_RECOVERED)
            fprintf(f, "recovered after %.1f s\n", after);
        else
            fprintf(f, "%s\n", sim_mx_rec_status_text[st]);
    }
    sim_mx_rec_eval_cleanup(&ev);
}

void sim_metrics_print_table(const sim_metrics *m, FILE *f)
{
    if (m == NULL || f == NULL)
        return;
    uint64_t fin = sim_mx_finished_count(m);
    fprintf(f, "%-22s%10" PRIu64 "  (finished %" PRIu64 ", %.1f s simulated)\n",
            "requests", m->arrivals, fin,
            (double)sim_mx_run_end(m) / (double)LD_US_PER_S);
    fprintf(f, "  %-20s%10" PRIu64 "  %6.2f%%\n", "succeeded", m->succeeded,
            pct(m->succeeded, fin));
    fprintf(f, "  %-20s%10" PRIu64 "  %6.2f%%\n", "failed", m->failed,
            pct(m->failed, fin));
    fprintf(f, "  %-20s%10" PRIu64 "  %6.2f%%\n", "abandoned", m->abandoned,
            pct(m->abandoned, fin));
    print_q(f, "latency ms (success)", m->lat);
    print_q(f, "ttft ms (success)", m->ttft);
    print_q(f, "latency ms (all)", m->lat_all);
    fprintf(f, "%-22s$%.4f  (total $%.4f)\n", "cost per 1k",
            fin > 0 ? 1000.0 * m->cost / (double)fin : 0.0, m->cost);
    fprintf(f, "%-22s%.3f  (hedges %" PRIu64 ")\n", "attempts/request",
            fin > 0 ? (double)m->attempts / (double)fin : 0.0, m->hedges);

    fprintf(f, "%-22s%10" PRIu64 "\n", "fallbacks", m->fallbacks);
    /* by count, descending; ties in taxonomy order (slot 0, "none", last) */
    bool shown[NCLS_SLOTS] = {false};
    for (;;) {
        int best = -1;
        for (int s = 1; s <= NCLS_SLOTS; s++) {
            int slot = s % NCLS_SLOTS;
            if (!shown[slot] && m->fb_class[slot] > 0 &&
                (best < 0 || m->fb_class[slot] > m->fb_class[best]))
                best = slot;
        }
        if (best < 0)
            break;
        shown[best] = true;
        fprintf(f, "  %-20s%10" PRIu64 "\n",
                best == 0 ? "none" : ld_class_name((ld_class)(best - 1)),
                m->fb_class[best]);
    }

    int w = 20;
    for (int r = 0; r < m->nroutes; r++) {
        int len = (int)strlen(sim_mx_route_name(m, (size_t)r));
        if (len > w)
            w = len;
    }
    fprintf(f, "  %-*s %10s %10s %10s %8s %8s %12s\n", w, "route", "attempts",
            "successes", "failures", "skips", "opens", "cost");
    for (int r = 0; r < m->nroutes; r++) {
        const route_stats *rs = &m->routes[r];
        fprintf(f, "  %-*s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %8" PRIu64
                   " %8" PRIu64 "  $%.4f\n",
                w, sim_mx_route_name(m, (size_t)r), rs->attempts, rs->successes,
                sum_classes(rs->failures), sum_classes(rs->skips),
                rs->breaker_opens, rs->cost);
    }

    sim_mx_tenants_print(m, f);

    fputs("user impact\n", f);
    print_group(f, "fell back", &m->fb);
    print_group(f, "did not fall back", &m->nfb);

    if (m->error != 0) {
        fputs("time series incomplete: out of memory\n", f);
        return;
    }
    fprintf(f, "%-22s%.2f  (interval %.3f s)\n", "minutes over ceiling",
            sim_mx_minutes_over_ceiling(m),
            (double)m->interval / (double)LD_US_PER_S);
    print_recovery(m, f);
}

/* ---- data for charts -------------------------------------------------------- */

int sim_metrics_write_cdf(const sim_metrics *m, FILE *f)
{
    /* denser near the tail, where ladders differ */
    static const double qs[] = {
        0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4,
        0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.92, 0.94,
        0.95, 0.96, 0.97, 0.98, 0.985, 0.99, 0.995, 0.998, 0.999, 0.9995,
        0.9999, 1.0};
    if (fprintf(f, "quantile,latency_ms,ttft_ms\n") < 0)
        return LD_EINVAL;
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        int64_t l = ld_hist_quantile(m->lat, qs[i]);
        int64_t t = ld_hist_quantile(m->ttft, qs[i]);
        char ls[32] = "", ts[32] = "";
        if (l >= 0)
            snprintf(ls, sizeof ls, "%.3f", (double)l / 1000.0);
        if (t >= 0)
            snprintf(ts, sizeof ts, "%.3f", (double)t / 1000.0);
        if (fprintf(f, "%g,%s,%s\n", qs[i], ls, ts) < 0)
            return LD_EINVAL;
    }
    return LD_OK;
}

int sim_metrics_write_faults(const sim_metrics *m, FILE *f)
{
    if (fprintf(f, "name,start_s,end_s\n") < 0)
        return LD_EINVAL;
    for (size_t i = 0; i < m->nfaults; i++) {
        const fault_win *w = &m->faults[i];
        ld_us end = w->end == LD_NEVER ? (m->finished ? m->end : w->start) : w->end;
        /* names are the scenario's: quote them for CSV */
        fputc('"', f);
        for (const char *c = m->names[w->name]; *c != '\0'; c++) {
            if (*c == '"')
                fputc('"', f);
            fputc(*c, f);
        }
        if (fprintf(f, "\",%.3f,%.3f\n", (double)w->start / 1e6,
                    (double)end / 1e6) < 0)
            return LD_EINVAL;
    }
    return LD_OK;
}
