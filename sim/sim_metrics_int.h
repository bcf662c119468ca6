/* sim_metrics_int.h - what the metrics' files share (private to
 * sim/sim_metrics*.c): the collector's state, and the figures derived from
 * it that the summary and the writers both read (sim_mx_*).
 *
 * sim_metrics.c           lifecycle, the hot path (events, arrivals, done)
 * sim_metrics_recovery.c  derived figures; time to recover from each fault
 * sim_metrics_summary.c   the summary as JSON (summary.json, --json)
 * sim_metrics_write.c     timeseries.csv, the table, cdf.csv, faults.csv
 */
#ifndef SIM_METRICS_INT_H
#define SIM_METRICS_INT_H

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ld_class.h"
#include "ld_health.h"
#include "ld_quota.h"
#include "sim_metrics.h"

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

/* One tenant's requests (traffic.tenants). */
typedef struct tenant_stats {
    char *id;
    uint64_t requests, succeeded, failed, abandoned;
    uint64_t key_limited, by_limit[LD_QUOTA_USD_MONTH + 1];
    double cost;
} tenant_stats;

struct sim_metrics {
    const ld_policy *p;
    int nroutes;
    tenant_stats *tenants; /* NULL: none */
    int ntenants;

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

static inline ld_us max_us(ld_us a, ld_us b)
{
    return a > b ? a : b;
}

/* ---- derived figures and recovery (sim_metrics_recovery.c) --------------- */

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

/* Names of the statuses in JSON, and as a sentence in the table. */
extern const char *const sim_mx_rec_status_name[REC_NSTATUS];
extern const char *const sim_mx_rec_status_text[REC_NSTATUS];

/* What recovery needs, computed once per summary or table. */
typedef struct rec_eval {
    bool have_baseline;
    double baseline;
    uint64_t *cum_ok, *cum_fin; /* prefix sums over the buckets, nrec + 1 */
    ld_us *start, *end_max; /* windows with a finite end by start; running
                             * maximum of their ends */
    size_t nfinite;
} rec_eval;

/* End of the run as far as metrics know. */
ld_us sim_mx_run_end(const sim_metrics *m);
uint64_t sim_mx_finished_count(const sim_metrics *m);
/* A row's percentile, including what the last row's histograms still hold
 * when it is not sealed yet. */
ld_us sim_mx_row_q(const sim_metrics *m, size_t i, int which);
bool sim_mx_row_in_violation(const ts_row *r);
ld_us sim_mx_row_start(const sim_metrics *m, size_t i);
double sim_mx_minutes_over_ceiling(const sim_metrics *m);
/* A background condition (on from the first arrival to the end of the
 * run, such as a small stream-cut rate) rather than an incident: not
 * listed, and part of the baseline. Empty windows are not incidents
 * either. */
bool sim_mx_win_incident(const sim_metrics *m, const fault_win *w);
void sim_mx_rec_eval_cleanup(rec_eval *ev);
int sim_mx_rec_eval_init(const sim_metrics *m, rec_eval *ev);
/* Recovery from window w; *after (seconds) is set when recovered. */
rec_status sim_mx_rec_window(const sim_metrics *m, const rec_eval *ev,
                             const fault_win *w, double *after);

/* ---- summary (sim_metrics_summary.c) -------------------------------------- */

const char *sim_mx_route_name(const sim_metrics *m, size_t r);

/* ---- tenants (sim_metrics_tenants.c) ---------------------------------------- */

/* "tenants": {id: {requests, succeeded, failed, abandoned, key_limited,
 * key_limited_by {rpm, tpm, usd_per_day, usd_per_month}, spend_usd}}. */
cJSON *sim_mx_tenants_json(const sim_metrics *m);
void sim_mx_tenants_print(const sim_metrics *m, FILE *f);
void sim_mx_tenants_free(sim_metrics *m);

#endif
