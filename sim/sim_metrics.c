/* sim_metrics.c - what a simulated run did to users; see sim_metrics.h.
 *
 * Everything per request is folded into counters and histograms the moment
 * it arrives, so memory depends on the policy's size and on simulated time
 * (one row per interval, capped), never on the number of requests.
 *
 * The derived figures and recovery are sim_metrics_recovery.c, the summary
 * sim_metrics_summary.c, the CSV files and the table sim_metrics_write.c;
 * what they share, sim_metrics_int.h.
 */
#include "sim_metrics_int.h"

/* ---- helpers -------------------------------------------------------------- */

static void row_init(ts_row *r)
{
    memset(r, 0, sizeof *r);
    r->lat_p50 = r->lat_p99 = r->ttft_p50 = r->ttft_p99 = -1;
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
    /* (t / interval >= nrows, without a division on the common path: t
     * inside the last row) */
    while (t >= (ld_us)m->nrows * m->interval) {
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
    sim_mx_tenants_free(m);
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
    /* only a fallback counts in the time series: the others move the
     * clock, and the next call that needs the row seals the rows before
     * it (nothing else touches a row in between) */
    ts_row *row = NULL;
    if (ev->type == LD_EV_FALLBACK)
        row = advance(m, ev->t);
    else if (ev->t > m->last_t)
        m->last_t = ev->t;
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
