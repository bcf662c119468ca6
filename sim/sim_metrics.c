/* sim_metrics.c - what a simulated run did to users; see sim_metrics.h.
 *
 * Everything per request is folded into counters and histograms the moment
 * it arrives, so memory depends on the policy's size and on simulated time
 * (one row per interval, capped), never on the number of requests.
 */
#include "sim_metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ld_class.h"
#include "ld_health.h"

/* A quantile read from a histogram of S = 2^sub_bits buckets per power of
 * two is within 1/(2S) of the exact sample quantile (see sim_metrics.h). */
#define TOTAL_SUB_BITS 7 /* run quantiles within 2^-8 = 0.39% */
#define ROW_SUB_BITS 4   /* per-interval quantiles within 2^-5 = 3.1% */
#define ROWS_INITIAL 64
/* An interval is in violation when more than VIOL_PCT% of the requests
 * finishing in it missed their ceiling. */
#define VIOL_PCT 5

/* Time to recover (sim_metrics.h): requests by the second they finished
 * in; from t, the first REC_WINDOW_US and the whole REC_WINDOWS of them
 * must be back within the band. */
#define REC_RES_US LD_US_PER_S
#define REC_WINDOW_US (10 * LD_US_PER_S)
#define REC_WINDOWS 3
#define REC_BAND_MIN 0.01
#define REC_BAND_SE 3.0
#define REC_INITIAL 1024
/* Windows listed one per line in the table; the rest are counted. */
#define REC_TABLE_LINES 10

/* Fallback classes: slot 0 holds events with no (or an unknown) class,
 * slot c + 1 class c. */
#define NCLS_SLOTS (LD_FC_COUNT + 1)

typedef struct ts_row {
    uint64_t arrivals, successes, failures, abandons;
    uint64_t finished, violations;
    uint64_t fallbacks;
    uint64_t fb[LD_FC_COUNT];
    ld_us lat_p50, lat_p99, ttft_p50, ttft_p99; /* -1: no data */
    double cost;
} ts_row;

typedef struct route_stats {
    uint64_t attempts, successes, breaker_opens;
    uint64_t failures[LD_FC_COUNT], skips[LD_FC_COUNT];
    double cost;
} route_stats;

/* Requests that fell back, or did not. */
typedef struct user_group {
    uint64_t n, succeeded, abandoned;
    ld_hist *lat, *ttft;
} user_group;

/* Requests that finished in one recovery bucket, and how many succeeded. */
typedef struct rec_bucket {
    uint64_t ok, fin;
} rec_bucket;

typedef struct fault_win {
    ld_us start, end;
    size_t name; /* index in names */
} fault_win;

struct sim_metrics {
    const ld_policy *p;
    int nroutes;

    /* totals */
    uint64_t arrivals, succeeded, failed, abandoned;
    uint64_t attempts, hedges;
    double cost;
    ld_hist *lat, *ttft; /* successful requests */
    ld_hist *lat_all;    /* every finished request */
    user_group fb, nfb;

    /* from events */
    uint64_t fallbacks;
    uint64_t fb_class[NCLS_SLOTS];
    uint64_t *fb_route; /* [from * (nroutes + 1) + to]; to == nroutes: none */
    route_stats *routes;

    /* Little's law */
    bool any_arrival;
    ld_us first_arrival, last_change;
    int64_t in_system;
    double area;          /* integral of in_system dt, request-microseconds */
    double time_in_system; /* sum of (done - arrival), microseconds */

    /* time series: rows[i] covers [i * interval, (i + 1) * interval) */
    ld_us interval;
    size_t max_rows;
    ts_row *rows;
    size_t nrows, rows_cap;
    ld_hist *iv_lat, *iv_ttft; /* the last row's requests, not yet sealed */
    ld_us last_t;
    bool finished;
    ld_us end;
    int error;

    /* recovery buckets by finish time: rec[i] covers
     * [i * rec_res, (i + 1) * rec_res) */
    rec_bucket *rec;
    size_t nrec, rec_cap;
    ld_us rec_res;
    ld_us last_arrival;

    /* fault windows, and their distinct names */
    fault_win *faults;
    size_t nfaults, faults_cap;
    char **names;
    size_t nnames, names_cap;
};

/* ---- helpers -------------------------------------------------------------- */

static void row_init(ts_row *r)
{
    memset(r, 0, sizeof *r);
    r->lat_p50 = r->lat_p99 = r->ttft_p50 = r->ttft_p99 = -1;
}

static ld_us max_us(ld_us a, ld_us b)
{
    return a > b ? a : b;
}

static bool class_ok(ld_class c)
{
    return (int)c >= 0 && (int)c < LD_FC_COUNT;
}

static bool route_ok(const sim_metrics *m, int r)
{
    return r >= 0 && r < m->nroutes;
}

/* Fold row b into row a (a covers b's time as well). */
static void row_merge(ts_row *a, const ts_row *b)
{
    a->arrivals += b->arrivals;
    a->successes += b->successes;
    a->failures += b->failures;
    a->abandons += b->abandons;
    a->finished += b->finished;
    a->violations += b->violations;
    a->fallbacks += b->fallbacks;
    for (int c = 0; c < LD_FC_COUNT; c++)
        a->fb[c] += b->fb[c];
    a->lat_p50 = max_us(a->lat_p50, b->lat_p50);
    a->lat_p99 = max_us(a->lat_p99, b->lat_p99);
    a->ttft_p50 = max_us(a->ttft_p50, b->ttft_p50);
    a->ttft_p99 = max_us(a->ttft_p99, b->ttft_p99);
    a->cost += b->cost;
}

/* Halve the rows by merging neighbours; the interval doubles. The last
 * row's unsealed histograms stay with the row it merges into. */
static void merge_rows(sim_metrics *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nrows; i += 2) {
        ts_row r = m->rows[i];
        if (i + 1 < m->nrows)
            row_merge(&r, &m->rows[i + 1]);
        m->rows[n++] = r;
    }
    m->nrows = n;
    m->interval *= 2;
}

/* Percentiles of the last row: what was sealed into it, and what its
 * histograms hold now (the larger, as for merged rows). */
static void seal_row(sim_metrics *m)
{
    ts_row *r = &m->rows[m->nrows - 1];
    r->lat_p50 = max_us(r->lat_p50, ld_hist_quantile(m->iv_lat, 0.50));
    r->lat_p99 = max_us(r->lat_p99, ld_hist_quantile(m->iv_lat, 0.99));
    r->ttft_p50 = max_us(r->ttft_p50, ld_hist_quantile(m->iv_ttft, 0.50));
    r->ttft_p99 = max_us(r->ttft_p99, ld_hist_quantile(m->iv_ttft, 0.99));
    ld_hist_reset(m->iv_lat);
    ld_hist_reset(m->iv_ttft);
}

/* Make the last row the one holding time t. Returns it, or NULL when the
 * series failed (m->error set). */
static ts_row *advance(sim_metrics *m, ld_us t)
{
    if (t > m->last_t)
        m->last_t = t;
    if (m->error != 0)
        return NULL;
    if (t < 0)
        t = 0;
    while ((size_t)(t / m->interval) >= m->nrows) {
        seal_row(m);
        if (m->nrows >= m->max_rows) {
            merge_rows(m);
            continue;
        }
        if (m->nrows == m->rows_cap) {
            size_t cap = m->rows_cap * 2;
            if (cap > m->max_rows)
                cap = m->max_rows;
            ts_row *nr = realloc(m->rows, cap * sizeof *nr);
            if (nr == NULL) {
                m->error = LD_ENOMEM;
                return NULL;
            }
            m->rows = nr;
            m->rows_cap = cap;
        }
        row_init(&m->rows[m->nrows++]);
    }
    return &m->rows[m->nrows - 1];
}

/* Halve the recovery buckets by merging neighbours; the resolution
 * doubles. */
static void rec_merge(sim_metrics *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nrec; i += 2) {
        rec_bucket b = m->rec[i];
        if (i + 1 < m->nrec) {
            b.ok += m->rec[i + 1].ok;
            b.fin += m->rec[i + 1].fin;
        }
        m->rec[n++] = b;
    }
    m->nrec = n;
    m->rec_res *= 2;
}

/* The recovery bucket holding time t (buckets up to it are added).
 * NULL when that fails (m->error set). */
static rec_bucket *rec_slot(sim_metrics *m, ld_us t)
{
    if (m->error != 0)
        return NULL;
    if (t < 0)
        t = 0;
    size_t i = (size_t)(t / m->rec_res);
    while (i >= SIM_METRICS_MAX_RECOVERY_BUCKETS) {
        rec_merge(m);
        i = (size_t)(t / m->rec_res);
    }
    if (i >= m->rec_cap) {
        size_t cap = m->rec_cap;
        while (cap <= i)
            cap *= 2;
        if (cap > SIM_METRICS_MAX_RECOVERY_BUCKETS)
            cap = SIM_METRICS_MAX_RECOVERY_BUCKETS;
        rec_bucket *nb = realloc(m->rec, cap * sizeof *nb);
        if (nb == NULL) {
            m->error = LD_ENOMEM;
            return NULL;
        }
        m->rec = nb;
        m->rec_cap = cap;
    }
    if (i >= m->nrec) {
        memset(&m->rec[m->nrec], 0, (i + 1 - m->nrec) * sizeof m->rec[0]);
        m->nrec = i + 1;
    }
    return &m->rec[i];
}

static void little_update(sim_metrics *m, ld_us now)
{
    if (m->any_arrival && now > m->last_change) {
        m->area += (double)m->in_system * (double)(now - m->last_change);
        m->last_change = now;
    }
}

/* End of the run as far as metrics know. */
static ld_us run_end(const sim_metrics *m)
{
    return m->finished ? m->end : m->last_t;
}

/* ---- lifecycle ------------------------------------------------------------ */

static int group_init(user_group *g)
{
    g->lat = ld_hist_new(TOTAL_SUB_BITS);
    g->ttft = ld_hist_new(TOTAL_SUB_BITS);
    return g->lat != NULL && g->ttft != NULL ? LD_OK : LD_ENOMEM;
}

static void group_cleanup(user_group *g)
{
    ld_hist_free(g->lat);
    ld_hist_free(g->ttft);
}

sim_metrics *sim_metrics_new(const ld_policy *p, ld_us interval)
{
    if (p == NULL || interval <= 0)
        return NULL;
    sim_metrics *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->p = p;
    m->nroutes = ld_policy_route_count(p);
    if (m->nroutes < 0)
        m->nroutes = 0;
    size_t nr = (size_t)m->nroutes;
    m->interval = interval;
    m->max_rows = SIM_METRICS_MAX_ROWS;
    m->lat = ld_hist_new(TOTAL_SUB_BITS);
    m->ttft = ld_hist_new(TOTAL_SUB_BITS);
    m->lat_all = ld_hist_new(TOTAL_SUB_BITS);
    m->iv_lat = ld_hist_new(ROW_SUB_BITS);
    m->iv_ttft = ld_hist_new(ROW_SUB_BITS);
    m->fb_route = calloc(nr * (nr + 1) + 1, sizeof *m->fb_route);
    m->routes = calloc(nr + 1, sizeof *m->routes);
    m->rows = malloc(ROWS_INITIAL * sizeof *m->rows);
    m->rec = calloc(REC_INITIAL, sizeof *m->rec);
    if (m->lat == NULL || m->ttft == NULL || m->lat_all == NULL ||
        m->rec == NULL || m->iv_lat == NULL ||
        m->iv_ttft == NULL || m->fb_route == NULL || m->routes == NULL ||
        m->rows == NULL || group_init(&m->fb) != LD_OK ||
        group_init(&m->nfb) != LD_OK)
        goto fail;
    m->rows_cap = ROWS_INITIAL;
    m->rec_cap = REC_INITIAL;
    m->rec_res = REC_RES_US;
    m->nrows = 1;
    row_init(&m->rows[0]);
    return m;
fail:
    sim_metrics_free(m);
    return NULL;
}

void sim_metrics_free(sim_metrics *m)
{
    if (m == NULL)
        return;
    ld_hist_free(m->lat);
    ld_hist_free(m->ttft);
    ld_hist_free(m->lat_all);
    ld_hist_free(m->iv_lat);
    ld_hist_free(m->iv_ttft);
    group_cleanup(&m->fb);
    group_cleanup(&m->nfb);
    free(m->fb_route);
    free(m->routes);
    free(m->rows);
    free(m->rec);
    for (size_t i = 0; i < m->nnames; i++)
        free(m->names[i]);
    free(m->names);
    free(m->faults);
    free(m);
}

int sim_metrics_set_max_rows(sim_metrics *m, size_t max_rows)
{
    if (m == NULL || max_rows < 1)
        return LD_EINVAL;
    if (max_rows < 2)
        max_rows = 2;
    if (max_rows % 2 != 0)
        max_rows++;
    m->max_rows = max_rows;
    while (m->nrows > m->max_rows)
        merge_rows(m);
    if (m->rows_cap > m->max_rows) {
        ts_row *nr = realloc(m->rows, m->max_rows * sizeof *nr);
        if (nr != NULL) { /* shrinking: keeping the old block is fine */
            m->rows = nr;
            m->rows_cap = m->max_rows;
        }
    }
    return LD_OK;
}

int sim_metrics_add_fault(sim_metrics *m, const char *name, ld_us start,
                          ld_us end)
{
    if (m == NULL || name == NULL || end < start)
        return LD_EINVAL;
    if (m->nfaults >= SIM_METRICS_MAX_FAULTS)
        return LD_ELIMIT;
    size_t id = 0;
    while (id < m->nnames && strcmp(m->names[id], name) != 0)
        id++;
    if (m->nfaults == m->faults_cap) {
        size_t cap = m->faults_cap != 0 ? m->faults_cap * 2 : 8;
        fault_win *nf = realloc(m->faults, cap * sizeof *nf);
        if (nf == NULL)
            return LD_ENOMEM;
        m->faults = nf;
        m->faults_cap = cap;
    }
    if (id == m->nnames) {
        if (m->nnames == m->names_cap) {
            size_t cap = m->names_cap != 0 ? m->names_cap * 2 : 8;
            char **nn = realloc(m->names, cap * sizeof *nn);
            if (nn == NULL)
                return LD_ENOMEM;
            m->names = nn;
            m->names_cap = cap;
        }
        m->names[id] = strdup(name);
        if (m->names[id] == NULL)
            return LD_ENOMEM;
        m->nnames++;
    }
    fault_win *w = &m->faults[m->nfaults++];
    w->start = start;
    w->end = end;
    w->name = id;
    return LD_OK;
}

/* ---- hot path ------------------------------------------------------------- */

void sim_metrics_on_event(sim_metrics *m, const ld_event *ev)
{
    if (m == NULL || ev == NULL || m->finished)
        return;
    ts_row *row = advance(m, ev->t);
    route_stats *rs = route_ok(m, ev->route) ? &m->routes[ev->route] : NULL;
    switch (ev->type) {
    case LD_EV_FALLBACK: {
        m->fallbacks++;
        m->fb_class[class_ok(ev->cls) ? (int)ev->cls + 1 : 0]++;
        if (rs != NULL) {
            size_t to = route_ok(m, ev->to_route) ? (size_t)ev->to_route
                                                  : (size_t)m->nroutes;
            m->fb_route[(size_t)ev->route * ((size_t)m->nroutes + 1) + to]++;
        }
        if (row != NULL) {
            row->fallbacks++;
            if (class_ok(ev->cls))
                row->fb[ev->cls]++;
        }
        break;
    }
    case LD_EV_ATTEMPT:
        if (rs != NULL)
            rs->attempts++;
        break;
    case LD_EV_RESULT:
        if (rs == NULL)
            break;
        if (ev->cls == LD_FC_NONE)
            rs->successes++;
        else if (class_ok(ev->cls))
            rs->failures[ev->cls]++;
        rs->cost += ev->cost; /* the core bills successes only */
        break;
    case LD_EV_SKIP:
        if (rs != NULL && class_ok(ev->cls))
            rs->skips[ev->cls]++;
        break;
    case LD_EV_BREAKER:
        if (rs != NULL && ev->to == LD_BREAKER_OPEN && ev->from != ev->to)
            rs->breaker_opens++;
        break;
    default:
        break;
    }
}

void sim_metrics_on_arrival(sim_metrics *m, ld_us now)
{
    if (m == NULL || m->finished)
        return;
    ts_row *row = advance(m, now);
    if (!m->any_arrival) {
        m->any_arrival = true;
        m->first_arrival = now;
        m->last_change = now;
    }
    little_update(m, now);
    if (now > m->last_arrival)
        m->last_arrival = now;
    m->in_system++;
    m->arrivals++;
    if (row != NULL)
        row->arrivals++;
}

void sim_metrics_on_done(sim_metrics *m, const ld_req_info *info, ld_us now,
                         ld_us limit_ttft, ld_us limit_total)
{
    if (m == NULL || info == NULL || m->finished)
        return;
    ts_row *row = advance(m, now);
    little_update(m, now);
    m->in_system--;
    m->time_in_system += (double)(now - info->arrived);

    ld_us lat = info->latency >= 0 ? info->latency : now - info->arrived;
    if (lat < 0)
        lat = 0;
    ld_us ttft = info->ttft;
    bool ok = info->outcome == LD_OUT_SUCCESS;
    bool abandoned = info->outcome == LD_OUT_ABANDONED;
    if (ok)
        m->succeeded++;
    else if (abandoned)
        m->abandoned++;
    else
        m->failed++;
    m->attempts += info->attempts > 0 ? (uint64_t)info->attempts : 0;
    m->hedges += info->hedges > 0 ? (uint64_t)info->hedges : 0;
    m->cost += info->cost;
    ld_hist_add(m->lat_all, lat);
    /* Percentiles are of successful requests: a fast safe failure must not
     * make the ladder that fails more look faster. */
    if (ok) {
        ld_hist_add(m->lat, lat);
        if (ttft >= 0)
            ld_hist_add(m->ttft, ttft);
    }

    user_group *g = info->fell_back ? &m->fb : &m->nfb;
    g->n++;
    g->succeeded += ok;
    g->abandoned += abandoned;
    if (ok) {
        ld_hist_add(g->lat, lat);
        if (ttft >= 0)
            ld_hist_add(g->ttft, ttft);
    }

    rec_bucket *rb = rec_slot(m, now);
    if (rb != NULL) {
        rb->fin++;
        rb->ok += ok;
    }

    if (row == NULL)
        return;
    bool missed = !ok;
    if (limit_ttft > 0 && (ttft >= 0 ? ttft : lat) > limit_ttft)
        missed = true;
    if (limit_total > 0 && lat > limit_total)
        missed = true;
    row->finished++;
    row->violations += missed;
    if (ok)
        row->successes++;
    else if (abandoned)
        row->abandons++;
    else
        row->failures++;
    row->cost += info->cost;
    if (ok) {
        ld_hist_add(m->iv_lat, lat);
        if (ttft >= 0)
            ld_hist_add(m->iv_ttft, ttft);
    }
}

void sim_metrics_finish(sim_metrics *m, ld_us end)
{
    if (m == NULL || m->finished)
        return;
    if (end < m->last_t)
        end = m->last_t;
    /* rows cover [0, end): the one holding end - 1 is the last */
    if (advance(m, end > 0 ? end - 1 : 0) != NULL)
        seal_row(m);
    little_update(m, end);
    m->end = end;
    m->last_t = end;
    m->finished = true;
}

/* ---- accessors ------------------------------------------------------------ */

uint64_t sim_metrics_requests(const sim_metrics *m)
{
    return m == NULL ? 0 : m->arrivals;
}

size_t sim_metrics_row_count(const sim_metrics *m)
{
    return m == NULL ? 0 : m->nrows;
}

ld_us sim_metrics_interval(const sim_metrics *m)
{
    return m == NULL ? 0 : m->interval;
}

int sim_metrics_error(const sim_metrics *m)
{
    return m == NULL ? LD_EINVAL : m->error;
}

/* ---- derived figures ------------------------------------------------------ */

static uint64_t finished_count(const sim_metrics *m)
{
    return m->succeeded + m->failed + m->abandoned;
}

/* A row's percentile, including what the last row's histograms still hold
 * when it is not sealed yet. */
static ld_us row_q(const sim_metrics *m, size_t i, int which)
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

static bool row_in_violation(const ts_row *r)
{
    return r->finished > 0 && r->violations * 100 > r->finished * VIOL_PCT;
}

static ld_us row_start(const sim_metrics *m, size_t i)
{
    return (ld_us)i * m->interval;
}

/* End of row i, clipped at the end of the run for the last one. */
static ld_us row_end(const sim_metrics *m, size_t i)
{
    ld_us e = row_start(m, i) + m->interval;
    ld_us end = run_end(m);
    if (i + 1 == m->nrows && end > row_start(m, i) && end < e)
        e = end;
    return e;
}

static double minutes_over_ceiling(const sim_metrics *m)
{
    ld_us t = 0;
    for (size_t i = 0; i < m->nrows; i++)
        if (row_in_violation(&m->rows[i]))
            t += row_end(m, i) - row_start(m, i);
    return (double)t / (60.0 * (double)LD_US_PER_S);
}

/* ---- recovery ------------------------------------------------------------ */

typedef enum rec_status {
    REC_RECOVERED,
    REC_NOT_RECOVERED,
    REC_NO_END,
    REC_NO_BASELINE,
    REC_OVERLAP,
    REC_INTERRUPTED,
    REC_NO_TRAFFIC,
    REC_NSTATUS
} rec_status;

static const char *const rec_status_name[REC_NSTATUS] = {
    "recovered",         "not_recovered",     "no_end",
    "no_baseline",       "overlapping_fault", "next_fault_began",
    "no_traffic_after_end"};

static const char *const rec_status_text[REC_NSTATUS] = {
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
    return w->end == LD_NEVER || w->end >= run_end(m);
}

/* A background condition (on from the first arrival to the end of the
 * run, such as a small stream-cut rate) rather than an incident: not
 * listed, and part of the baseline. Empty windows are not incidents
 * either. */
static bool win_incident(const sim_metrics *m, const fault_win *w)
{
    if (win_empty(w))
        return false;
    ld_us first = m->any_arrival ? m->first_arrival : 0;
    return !(w->start <= first && win_open(m, w));
}

/* What recovery needs, computed once per summary or table. */
typedef struct rec_eval {
    bool have_baseline;
    double baseline;
    uint64_t *cum_ok, *cum_fin; /* prefix sums over the buckets, nrec + 1 */
    ld_us *start, *end_max; /* windows with a finite end by start; running
                             * maximum of their ends */
    size_t nfinite;
} rec_eval;

static void rec_eval_cleanup(rec_eval *ev)
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
        if (win_incident(m, &m->faults[k]) && m->faults[k].start < first)
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
            if (!win_incident(m, w))
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

static int rec_eval_init(const sim_metrics *m, rec_eval *ev)
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
        if (win_incident(m, w) && !win_open(m, w))
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
    rec_eval_cleanup(ev);
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
static rec_status rec_window(const sim_metrics *m, const rec_eval *ev,
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

/* ---- summary -------------------------------------------------------------- */

static int add_item(cJSON *o, const char *key, cJSON *item)
{
    if (item == NULL)
        return LD_ENOMEM;
    if (!cJSON_AddItemToObject(o, key, item)) {
        cJSON_Delete(item);
        return LD_ENOMEM;
    }
    return LD_OK;
}

static int add_num(cJSON *o, const char *key, double v)
{
    return add_item(o, key, cJSON_CreateNumber(v));
}

static int add_null(cJSON *o, const char *key)
{
    return add_item(o, key, cJSON_CreateNull());
}

/* A number, or null when there is no data (den == 0). */
static int add_ratio(cJSON *o, const char *key, uint64_t num, uint64_t den)
{
    if (den == 0)
        return add_null(o, key);
    return add_num(o, key, (double)num / (double)den);
}

static int add_num_if(cJSON *o, const char *key, bool have, double v)
{
    return have ? add_num(o, key, v) : add_null(o, key);
}

static int add_ms(cJSON *o, const char *key, ld_us v)
{
    if (v < 0)
        return add_null(o, key);
    return add_num(o, key, (double)v / (double)LD_US_PER_MS);
}

static cJSON *hist_json(const ld_hist *h)
{
    static const struct { const char *key; double q; } qs[] = {
        {"p50", 0.50}, {"p90", 0.90}, {"p95", 0.95},
        {"p99", 0.99}, {"p999", 0.999}};
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    bool any = ld_hist_count(h) > 0;
    if ((any ? add_num(o, "mean", ld_hist_mean(h) / (double)LD_US_PER_MS)
             : add_null(o, "mean")) != LD_OK)
        goto fail;
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
        if (add_ms(o, qs[i].key, ld_hist_quantile(h, qs[i].q)) != LD_OK)
            goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* {"<class>": n} for the classes with n > 0, in taxonomy order. */
static cJSON *classes_json(const uint64_t *counts)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    for (int c = 0; c < LD_FC_COUNT; c++)
        if (counts[c] > 0 &&
            add_num(o, ld_class_name((ld_class)c), (double)counts[c]) != LD_OK)
            goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static cJSON *group_json(const user_group *g)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (add_num(o, "requests", (double)g->n) != LD_OK ||
        add_ratio(o, "success_rate", g->succeeded, g->n) != LD_OK ||
        add_ratio(o, "abandon_rate", g->abandoned, g->n) != LD_OK ||
        add_item(o, "latency_ms", hist_json(g->lat)) != LD_OK ||
        add_item(o, "ttft_ms", hist_json(g->ttft)) != LD_OK)
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static const char *route_name(const sim_metrics *m, size_t r)
{
    if (r >= (size_t)m->nroutes)
        return "none";
    const char *id = ld_policy_route_id(m->p, (int)r);
    return id != NULL ? id : "?";
}

/* {"<from>": {"<to>": n}}, routes in policy order, "none" for a fallback
 * to no route. */
static cJSON *by_route_json(const sim_metrics *m)
{
    size_t nr = (size_t)m->nroutes;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    for (size_t from = 0; from < nr; from++) {
        const uint64_t *row = &m->fb_route[from * (nr + 1)];
        cJSON *to_obj = NULL;
        for (size_t to = 0; to <= nr; to++) {
            if (row[to] == 0)
                continue;
            if (to_obj == NULL) {
                to_obj = cJSON_CreateObject();
                if (add_item(o, route_name(m, from), to_obj) != LD_OK)
                    goto fail;
            }
            if (add_num(to_obj, route_name(m, to), (double)row[to]) != LD_OK)
                goto fail;
        }
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static cJSON *fb_class_json(const sim_metrics *m)
{
    cJSON *o = classes_json(&m->fb_class[1]);
    if (o != NULL && m->fb_class[0] > 0 &&
        add_num(o, "none", (double)m->fb_class[0]) != LD_OK) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *fallbacks_json(const sim_metrics *m)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (add_num(o, "total", (double)m->fallbacks) != LD_OK ||
        add_item(o, "by_class", fb_class_json(m)) != LD_OK ||
        add_item(o, "by_route", by_route_json(m)) != LD_OK) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *route_json(const route_stats *rs)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (add_num(o, "attempts", (double)rs->attempts) != LD_OK ||
        add_num(o, "successes", (double)rs->successes) != LD_OK ||
        add_item(o, "failures_by_class", classes_json(rs->failures)) != LD_OK ||
        add_item(o, "skips_by_class", classes_json(rs->skips)) != LD_OK ||
        add_num(o, "cost_usd", rs->cost) != LD_OK ||
        add_num(o, "breaker_opens", (double)rs->breaker_opens) != LD_OK)
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static cJSON *routes_json(const sim_metrics *m)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    for (int r = 0; r < m->nroutes; r++)
        if (add_item(o, route_name(m, (size_t)r), route_json(&m->routes[r])) !=
            LD_OK)
            goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static cJSON *recovery_json(const sim_metrics *m)
{
    cJSON *a = cJSON_CreateArray();
    rec_eval ev;
    if (a == NULL)
        return NULL;
    if (rec_eval_init(m, &ev) != LD_OK) {
        cJSON_Delete(a);
        return NULL;
    }
    for (size_t k = 0; k < m->nfaults; k++) {
        const fault_win *w = &m->faults[k];
        if (!win_incident(m, w))
            continue;
        cJSON *e = cJSON_CreateObject();
        if (e == NULL)
            goto fail;
        if (!cJSON_AddItemToArray(a, e)) {
            cJSON_Delete(e);
            goto fail;
        }
        double after = 0.0;
        rec_status st = rec_window(m, &ev, w, &after);
        if (add_item(e, "fault", cJSON_CreateString(m->names[w->name])) !=
                LD_OK ||
            add_num(e, "start_s", (double)w->start / (double)LD_US_PER_S) !=
                LD_OK ||
            add_num_if(e, "end_s", w->end != LD_NEVER,
                       (double)w->end / (double)LD_US_PER_S) != LD_OK ||
            add_num_if(e, "baseline_success_rate", ev.have_baseline,
                       ev.baseline) != LD_OK ||
            add_item(e, "status", cJSON_CreateString(rec_status_name[st])) !=
                LD_OK ||
            add_num_if(e, "recovered_after_s", st == REC_RECOVERED, after) !=
                LD_OK)
            goto fail;
    }
    rec_eval_cleanup(&ev);
    return a;
fail:
    rec_eval_cleanup(&ev);
    cJSON_Delete(a);
    return NULL;
}

static cJSON *littles_json(const sim_metrics *m)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    ld_us end = run_end(m);
    uint64_t fin = finished_count(m);
    double span = m->any_arrival ? (double)(end - m->first_arrival) : 0.0;
    double area = m->area;
    if (m->any_arrival && end > m->last_change)
        area += (double)m->in_system * (double)(end - m->last_change);
    bool have_l = span > 0.0, have_w = fin > 0;
    double lambda = 0.0, l = 0.0, w = 0.0, err = 0.0;
    if (have_l) {
        lambda = (double)m->arrivals / span * (double)LD_US_PER_S;
        l = area / span;
    }
    if (have_w)
        w = m->time_in_system / (double)fin / (double)LD_US_PER_S;
    if (have_l && have_w)
        err = fabs(l - lambda * w) / (l > 1e-12 ? l : 1e-12);
    if (add_num_if(o, "arrival_rate", have_l, lambda) != LD_OK ||
        add_num_if(o, "mean_time_in_system_s", have_w, w) != LD_OK ||
        add_num_if(o, "mean_in_system", have_l, l) != LD_OK ||
        add_num_if(o, "relative_error", have_l && have_w, err) != LD_OK) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* A number up to 2^53 (exact in a double), a decimal string above. */
static cJSON *seed_json(uint64_t seed)
{
    if (seed <= ((uint64_t)1 << 53))
        return cJSON_CreateNumber((double)seed);
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, seed);
    return cJSON_CreateString(text);
}

cJSON *sim_metrics_summary(const sim_metrics *m, uint64_t seed)
{
    if (m == NULL || m->error != 0)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    uint64_t fin = finished_count(m);
    if (add_num(o, "requests", (double)m->arrivals) != LD_OK ||
        add_num(o, "finished", (double)fin) != LD_OK ||
        add_num(o, "succeeded", (double)m->succeeded) != LD_OK ||
        add_num(o, "failed", (double)m->failed) != LD_OK ||
        add_num(o, "abandoned", (double)m->abandoned) != LD_OK ||
        add_ratio(o, "success_rate", m->succeeded, fin) != LD_OK ||
        add_ratio(o, "abandon_rate", m->abandoned, fin) != LD_OK ||
        add_item(o, "latency_ms", hist_json(m->lat)) != LD_OK ||
        add_item(o, "ttft_ms", hist_json(m->ttft)) != LD_OK ||
        add_item(o, "latency_all_ms", hist_json(m->lat_all)) != LD_OK ||
        add_num(o, "cost_usd", m->cost) != LD_OK ||
        (fin > 0 ? add_num(o, "cost_per_1k_usd",
                           1000.0 * m->cost / (double)fin)
                 : add_null(o, "cost_per_1k_usd")) != LD_OK ||
        add_num(o, "attempts", (double)m->attempts) != LD_OK ||
        add_ratio(o, "attempts_per_request", m->attempts, fin) != LD_OK ||
        add_num(o, "hedges", (double)m->hedges) != LD_OK ||
        add_item(o, "fallbacks", fallbacks_json(m)) != LD_OK ||
        add_item(o, "routes", routes_json(m)) != LD_OK ||
        add_item(o, "fell_back", group_json(&m->fb)) != LD_OK ||
        add_item(o, "not_fell_back", group_json(&m->nfb)) != LD_OK ||
        add_num(o, "minutes_over_ceiling", minutes_over_ceiling(m)) != LD_OK ||
        add_item(o, "recovery", recovery_json(m)) != LD_OK ||
        add_num(o, "recovery_resolution_s",
                (double)m->rec_res / (double)LD_US_PER_S) != LD_OK ||
        add_item(o, "littles_law", littles_json(m)) != LD_OK ||
        add_item(o, "seed", seed_json(seed)) != LD_OK ||
        add_num(o, "simulated_s",
                (double)run_end(m) / (double)LD_US_PER_S) != LD_OK)
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

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
        strcpy(buf, "0");
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
        ld_us rs = row_start(m, i), re = rs + m->interval;
        fmt_fixed(b, sizeof b, (double)rs / (double)LD_US_PER_S, 6);
        fprintf(f, "%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                   ",%" PRIu64,
                b, r->arrivals, r->successes, r->failures, r->abandons,
                r->fallbacks);
        for (int c = 0; c < LD_FC_COUNT; c++)
            fprintf(f, ",%" PRIu64, r->fb[c]);
        fputc(',', f);
        for (int q = 0; q < 4; q++)
            put_ms(f, row_q(m, i, q));
        fmt_fixed(b, sizeof b, r->cost, 9);
        fprintf(f, "%s,", b);
        if (r->finished > 0) {
            fmt_fixed(b, sizeof b,
                      (double)r->successes / (double)r->finished, 6);
            fputs(b, f);
        }
        fprintf(f, ",%d,", row_in_violation(r) ? 1 : 0);

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
        any = win_incident(m, &m->faults[k]);
    if (!any)
        return;
    if (rec_eval_init(m, &ev) != LD_OK) {
        fputs("time to recover: out of memory\n", f);
        return;
    }
    for (size_t k = 0; k < m->nfaults; k++) {
        const fault_win *w = &m->faults[k];
        double after = 0.0;
        if (!win_incident(m, w))
            continue;
        rec_status st = rec_window(m, &ev, w, &after);
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
        if (!win_incident(m, w))
            continue;
        if (listed++ == REC_TABLE_LINES) {
            size_t total = 0;
            for (int s = 0; s < REC_NSTATUS; s++)
                total += count[s];
            fprintf(f, "  ... %zu more fault windows\n",
                    total - REC_TABLE_LINES);
            break;
        }
        rec_status st = rec_window(m, &ev, w, &after);
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
            fprintf(f, "%s\n", rec_status_text[st]);
    }
    rec_eval_cleanup(&ev);
}

void sim_metrics_print_table(const sim_metrics *m, FILE *f)
{
    if (m == NULL || f == NULL)
        return;
    uint64_t fin = finished_count(m);
    fprintf(f, "%-22s%10" PRIu64 "  (finished %" PRIu64 ", %.1f s simulated)\n",
            "requests", m->arrivals, fin,
            (double)run_end(m) / (double)LD_US_PER_S);
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
        int len = (int)strlen(route_name(m, (size_t)r));
        if (len > w)
            w = len;
    }
    fprintf(f, "  %-*s %10s %10s %10s %8s %8s %12s\n", w, "route", "attempts",
            "successes", "failures", "skips", "opens", "cost");
    for (int r = 0; r < m->nroutes; r++) {
        const route_stats *rs = &m->routes[r];
        fprintf(f, "  %-*s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %8" PRIu64
                   " %8" PRIu64 "  $%.4f\n",
                w, route_name(m, (size_t)r), rs->attempts, rs->successes,
                sum_classes(rs->failures), sum_classes(rs->skips),
                rs->breaker_opens, rs->cost);
    }

    fputs("user impact\n", f);
    print_group(f, "fell back", &m->fb);
    print_group(f, "did not fall back", &m->nfb);

    if (m->error != 0) {
        fputs("time series incomplete: out of memory\n", f);
        return;
    }
    fprintf(f, "%-22s%.2f  (interval %.3f s)\n", "minutes over ceiling",
            minutes_over_ceiling(m),
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
