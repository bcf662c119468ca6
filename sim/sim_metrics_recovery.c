/* sim_metrics_recovery.c - figures derived from the collected metrics
 * (finished requests, interval bounds, minutes over the latency ceiling)
 * and the time to recover from each fault window; see sim_metrics.h. */
#include "sim_metrics_int.h"

/* End of the run as far as metrics know. */
ld_us sim_mx_run_end(const sim_metrics *m)
{
    return m->finished ? m->end : m->last_t;
}

/* ---- derived figures ------------------------------------------------------ */

uint64_t sim_mx_finished_count(const sim_metrics *m)
{
    return m->succeeded + m->failed + m->abandoned;
}

/* A row's percentile, including what the last row's histograms still hold
 * when it is not sealed yet. */
ld_us sim_mx_row_q(const sim_metrics *m, size_t i, int which)
{
    const ts_row *r = &m->rows[i];
    ld_us v = which == 0 ? r->lat_p50 : which == 1 ? r->lat_p99
            : which == 2 ? r->ttft_p50 : r->ttft_p99;
    if (i + 1 == m->nrows && !m->finished) {
        const ld_hist *h = which < 2 ? m->iv_lat : m->iv_ttft;
        v = max_us(v, ld_hist_quantile(h, which % 2 == 0 ? 0.50 : 0.99));
    }
    return v;
}

bool sim_mx_row_in_violation(const ts_row *r)
{
    return r->finished > 0 && r->violations * 100 > r->finished * VIOL_PCT;
}

ld_us sim_mx_row_start(const sim_metrics *m, size_t i)
{
    return (ld_us)i * m->interval;
}

/* End of row i, clipped at the end of the run for the last one. */
static ld_us row_end(const sim_metrics *m, size_t i)
{
    ld_us e = sim_mx_row_start(m, i) + m->interval;
    ld_us end = sim_mx_run_end(m);
    if (i + 1 == m->nrows && end > sim_mx_row_start(m, i) && end < e)
        e = end;
    return e;
}

double sim_mx_minutes_over_ceiling(const sim_metrics *m)
{
    ld_us t = 0;
    for (size_t i = 0; i < m->nrows; i++)
        if (sim_mx_row_in_violation(&m->rows[i]))
            t += row_end(m, i) - sim_mx_row_start(m, i);
    return (double)t / (60.0 * (double)LD_US_PER_S);
}

/* ---- recovery ------------------------------------------------------------ */


const char *const sim_mx_rec_status_name[REC_NSTATUS] = {
    "recovered",         "not_recovered",     "no_end",
    "no_baseline",       "overlapping_fault", "next_fault_began",
    "no_traffic_after_end"};

const char *const sim_mx_rec_status_text[REC_NSTATUS] = {
    "recovered",
    "not recovered before the traffic ended or the next fault began",
    "not defined: lasts to the end of the run",
    "not defined: no baseline (no request outside the faults)",
    "not defined: another fault was still on at its end",
    "not defined: the next fault began within 30 s of its end",
    "not defined: under 30 s of traffic after its end"};

static bool win_empty(const fault_win *w)
{
    return w->end != LD_NEVER && w->end <= w->start;
}

/* Lasts to the end of the run (no finite end to recover from). */
static bool win_open(const sim_metrics *m, const fault_win *w)
{
    return w->end == LD_NEVER || w->end >= sim_mx_run_end(m);
}

/* A background condition (on from the first arrival to the end of the
 * run, such as a small stream-cut rate) rather than an incident: not
 * listed, and part of the baseline. Empty windows are not incidents
 * either. */
bool sim_mx_win_incident(const sim_metrics *m, const fault_win *w)
{
    if (win_empty(w))
        return false;
    ld_us first = m->any_arrival ? m->first_arrival : 0;
    return !(w->start <= first && win_open(m, w));
}


void sim_mx_rec_eval_cleanup(rec_eval *ev)
{
    free(ev->cum_ok);
    free(ev->cum_fin);
    free(ev->start);
    free(ev->end_max);
}

typedef struct win_span {
    ld_us start, end;
} win_span;

static int cmp_win_span(const void *a, const void *b)
{
    const win_span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Baseline: requests that arrived before the first incident began; with
 * none, those that arrived in buckets no incident overlaps. */
static int rec_baseline(const sim_metrics *m, rec_eval *ev)
{
    ld_us first = LD_NEVER;
    for (size_t k = 0; k < m->nfaults; k++)
        if (sim_mx_win_incident(m, &m->faults[k]) && m->faults[k].start < first)
            first = m->faults[k].start;
    uint64_t ok = 0, fin = 0;
    ld_us res = m->rec_res;
    for (size_t i = 0; i < m->nrec && (ld_us)(i + 1) * res <= first; i++) {
        ok += m->rec[i].ok;
        fin += m->rec[i].fin;
    }
    if (fin == 0) {
        /* covered[i] > 0: bucket i overlaps an incident */
        int64_t *covered = calloc(m->nrec + 1, sizeof *covered);
        if (covered == NULL)
            return LD_ENOMEM;
        for (size_t k = 0; k < m->nfaults; k++) {
            const fault_win *w = &m->faults[k];
            if (!sim_mx_win_incident(m, w))
                continue;
            size_t a = w->start > 0 ? (size_t)(w->start / res) : 0;
            size_t b = m->nrec;
            if (w->end != LD_NEVER) {
                size_t e = w->end > 0 ? (size_t)((w->end + res - 1) / res) : 0;
                b = e < b ? e : b;
            }
            if (a < b) {
                covered[a]++;
                covered[b]--;
            }
        }
        int64_t c = 0;
        for (size_t i = 0; i < m->nrec; i++) {
            c += covered[i];
            if (c == 0) {
                ok += m->rec[i].ok;
                fin += m->rec[i].fin;
            }
        }
        free(covered);
    }
    ev->have_baseline = fin > 0;
    ev->baseline = fin > 0 ? (double)ok / (double)fin : 0.0;
    return LD_OK;
}

int sim_mx_rec_eval_init(const sim_metrics *m, rec_eval *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->cum_ok = malloc((m->nrec + 1) * sizeof *ev->cum_ok);
    ev->cum_fin = malloc((m->nrec + 1) * sizeof *ev->cum_fin);
    ev->start = malloc((m->nfaults + 1) * sizeof *ev->start);
    ev->end_max = malloc((m->nfaults + 1) * sizeof *ev->end_max);
    win_span *ws = malloc((m->nfaults + 1) * sizeof *ws);
    if (ev->cum_ok == NULL || ev->cum_fin == NULL || ev->start == NULL ||
        ev->end_max == NULL || ws == NULL)
        goto fail;
    ev->cum_ok[0] = ev->cum_fin[0] = 0;
    for (size_t i = 0; i < m->nrec; i++) {
        ev->cum_ok[i + 1] = ev->cum_ok[i] + m->rec[i].ok;
        ev->cum_fin[i + 1] = ev->cum_fin[i] + m->rec[i].fin;
    }
    size_t n = 0;
    for (size_t k = 0; k < m->nfaults; k++) {
        const fault_win *w = &m->faults[k];
        if (sim_mx_win_incident(m, w) && !win_open(m, w))
            ws[n++] = (win_span){w->start, w->end};
    }
    if (n > 1)
        qsort(ws, n, sizeof *ws, cmp_win_span);
    for (size_t k = 0; k < n; k++) {
        ev->start[k] = ws[k].start;
        ev->end_max[k] = k > 0 && ev->end_max[k - 1] > ws[k].end
                             ? ev->end_max[k - 1]
                             : ws[k].end;
    }
    ev->nfinite = n;
    free(ws);
    ws = NULL;
    if (rec_baseline(m, ev) != LD_OK)
        goto fail;
    return LD_OK;
fail:
    free(ws);
    sim_mx_rec_eval_cleanup(ev);
    memset(ev, 0, sizeof *ev);
    return LD_ENOMEM;
}

/* Whether requests arriving in buckets [lo, hi) are back within the band
 * of the baseline (false when none finished). */
static bool rec_back(const rec_eval *ev, size_t lo, size_t hi)
{
    double b = ev->baseline;
    uint64_t n = ev->cum_fin[hi] - ev->cum_fin[lo];
    uint64_t ok = ev->cum_ok[hi] - ev->cum_ok[lo];
    if (n == 0)
        return false;
    double band = REC_BAND_SE * sqrt(b * (1.0 - b) / (double)n);
    if (band < REC_BAND_MIN)
        band = REC_BAND_MIN;
    return (double)ok / (double)n >= b - band;
}

/* Recovery from window w; *after (seconds) is set when recovered. */
rec_status sim_mx_rec_window(const sim_metrics *m, const rec_eval *ev,
                             const fault_win *w, double *after)
{
    if (win_open(m, w))
        return REC_NO_END;
    if (!ev->have_baseline)
        return REC_NO_BASELINE;
    /* windows starting at or before its end: is one still on after it? */
    size_t lo = 0, hi = ev->nfinite;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ev->start[mid] <= w->end)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && ev->end_max[lo - 1] > w->end)
        return REC_OVERLAP;
    ld_us res = m->rec_res;
    size_t wl = (size_t)((REC_WINDOW_US + res - 1) / res);
    size_t stretch = REC_WINDOWS * wl;
    /* buckets while requests were arriving (not the drain after the
     * last arrival), up to the next incident's start */
    size_t limit = m->any_arrival ? (size_t)(m->last_arrival / res) + 1 : 0;
    if (limit > m->nrec)
        limit = m->nrec;
    bool cut = false;
    if (lo < ev->nfinite && (size_t)(ev->start[lo] / res) < limit) {
        limit = (size_t)(ev->start[lo] / res);
        cut = true;
    }
    /* from the first bucket after E in which a request finished: a gap
     * in the traffic holds no evidence either way */
    size_t i0 = w->end > 0 ? (size_t)((w->end + res - 1) / res) : 0;
    while (i0 < limit && m->rec[i0].fin == 0)
        i0++;
    if (i0 + stretch > limit)
        return cut ? REC_INTERRUPTED : REC_NO_TRAFFIC;
    for (size_t i = i0; i + stretch <= limit; i++) {
        if (m->rec[i].fin > 0 && rec_back(ev, i, i + wl) &&
            rec_back(ev, i, i + stretch)) {
            *after = (double)((ld_us)(i - i0) * res) / (double)LD_US_PER_S;
            return REC_RECOVERED;
        }
    }
    return REC_NOT_RECOVERED;
}
