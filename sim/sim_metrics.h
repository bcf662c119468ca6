/* sim_metrics.h - what a simulated run did to users: counts, latency and
 * TTFT percentiles, cost, fallbacks, a time series, and the summary object
 * of the --json contract.
 *
 * Memory does not grow with the number of requests: latencies go into
 * log-linear histograms, and the time series has one row per interval.
 *
 * Latency and TTFT percentiles (summary, time series, CDF) are of
 * successful requests only: failures and abandons are counted, not timed,
 * so a ladder that fails fast does not look faster. latency_all_ms is the
 * one all-requests figure, labelled as such.
 *
 * Quantile accuracy: a histogram with S = 2^b buckets per power of two
 * reports the midpoint of the bucket holding the exact sample quantile (the
 * ceil(q n)-th smallest value), clamped to [min, max]; a bucket of width w
 * starts at or above S w, so the error is below w / 2 <= 1 / (2S) of the
 * value (values below 2S microseconds are exact). The run's quantiles use
 * b = 7: within 2^-8 = 0.39%; time-series rows use b = 4: within 2^-5 =
 * 3.1% (a merged row's are the larger of its two rows', an upper figure).
 */
#ifndef SIM_METRICS_H
#define SIM_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "ld.h"
#include "ld_core.h"
#include "ld_event.h"
#include "ld_policy.h"

typedef struct sim_metrics sim_metrics;

/* Default cap on time-series rows, and cap on fault windows. */
#define SIM_METRICS_MAX_ROWS 100000
#define SIM_METRICS_MAX_FAULTS (1 << 20)
/* Cap on recovery buckets (1 s each; past 36 h of traffic neighbours are
 * merged and the resolution doubles): 16 bytes each. */
#define SIM_METRICS_MAX_RECOVERY_BUCKETS ((size_t)1 << 17)

/* interval: time-series bucket length (> 0). Rows are added as time goes,
 * at most max_rows (older rows are then merged pairwise so the series
 * keeps covering the whole run with twice the interval). */
sim_metrics *sim_metrics_new(const ld_policy *p, ld_us interval);
void sim_metrics_free(sim_metrics *m);

/* Change the row cap (default SIM_METRICS_MAX_ROWS; odd values are rounded
 * up to even, at least 2), merging rows now if there are more. For tests.
 * LD_EINVAL if max_rows < 1. */
int sim_metrics_set_max_rows(sim_metrics *m, size_t max_rows);

/* A fault's window [start, end) (end LD_NEVER: until the end), for the
 * "active faults" column and time to recover. The name is copied.
 * LD_EINVAL for a NULL name or end < start, LD_ELIMIT past
 * SIM_METRICS_MAX_FAULTS windows, LD_ENOMEM. */
int sim_metrics_add_fault(sim_metrics *m, const char *name, ld_us start,
                          ld_us end);

/* Every event from the core (fallbacks, attempts, results per route,
 * hedges...). Cheap: called for every event of every request. */
void sim_metrics_on_event(sim_metrics *m, const ld_event *ev);

/* A request arrived / ended. `limit_ttft` and `limit_total` are the
 * request's latency ceilings (0: none), to count minutes in violation.
 * A finished request misses its ceiling when it did not succeed (failed or
 * abandoned), or its TTFT (or, with no first token, its latency) exceeds
 * limit_ttft > 0, or its latency exceeds limit_total > 0. An interval is in
 * violation when more than 5% of the requests finishing in it missed.
 *
 * Calls must come in non-decreasing time (a call earlier than the current
 * interval is counted in the current interval); calls after
 * sim_metrics_finish are ignored. on_event, on_arrival and on_done are O(1)
 * amortised and do not allocate, except to add a time-series row when time
 * enters a new interval or recovery buckets up to a later arrival second
 * (if that fails, sim_metrics_error reports it). */
void sim_metrics_on_arrival(sim_metrics *m, ld_us now);
void sim_metrics_on_done(sim_metrics *m, const ld_req_info *info, ld_us now,
                         ld_us limit_ttft, ld_us limit_total);

/* The run ended at `end` (simulated time); seals the last interval and the
 * time-average of requests in system (Little's law). The rows then cover
 * [0, end); the last one may be shorter than the interval.
 *
 * Little's law: L is the time-average of requests in system from the first
 * arrival to `end` (requests still in flight count in it); lambda is
 * arrivals / (end - first arrival); W is the mean of (done - arrival) over
 * finished requests only. The simulator lets every request finish before
 * it calls finish, so L = lambda W holds up to rounding, and a
 * relative_error above that is a bookkeeping bug. */
void sim_metrics_finish(sim_metrics *m, ld_us end);

/* The summary object (ARCHITECTURE.md's contract plus user impact):
 * requests, succeeded, failed, abandoned, success_rate, abandon_rate,
 * latency_ms {mean,p50,p90,p95,p99,p999}, ttft_ms {...} (both of
 * successful requests), latency_all_ms {...} (every finished request),
 * cost_usd, cost_per_1k_usd, attempts, attempts_per_request, hedges,
 * fallbacks {total, by_class, by_route}, routes {id: {attempts, successes,
 * failures_by_class, cost_usd}}, fell_back {requests, success_rate,
 * abandon_rate, latency_ms{...}}, not_fell_back {...}, minutes_over_ceiling,
 * recovery [{fault, start_s, end_s, baseline_success_rate, status,
 * recovered_after_s}], recovery_resolution_s, littles_law {arrival_rate,
 * mean_time_in_system_s, mean_in_system, relative_error}, seed,
 * simulated_s. NULL if out of memory (now, or earlier: see
 * sim_metrics_error).
 *
 * Also: finished; routes[id].skips_by_class and .breaker_opens; fell_back
 * and not_fell_back carry ttft_ms too (successful requests). Class-keyed
 * objects list only classes that occurred, in taxonomy order; routes are in
 * policy order. Quantiles, means and rates with no data are null, never
 * NaN. The seed is a number up to 2^53 and a decimal string above. Same
 * inputs give byte-identical output. minutes_over_ceiling adds up the
 * length of the intervals in violation (the last one only up to the end of
 * the run).
 *
 * Recovery has one entry per incident window, in order of addition: every
 * non-empty window except background ones (on from the first arrival to
 * the end of the run). Requests count by the time they FINISHED (as in the
 * time series), in 1 s buckets (recovery_resolution_s; it doubles past
 * 36 h). The baseline b is the success rate of requests that finished
 * before the first incident began (if none, of those in buckets no
 * incident overlaps; if none either, there is none). For a window ending
 * at E, let t0 be the first bucket at or after E in which a request
 * finished (a gap in traffic holds no evidence). It has recovered at the
 * first bucket t >= t0 such that the requests finishing in [t, t + 10 s)
 * and in [t, t + 30 s) each have a success rate >= b - band, band =
 * max(0.01, 3 sqrt(b (1 - b) / n)) for their n requests (three standard
 * errors at the baseline rate, at least one point); recovered_after_s =
 * t - t0, a whole number of buckets. Only time while requests were
 * arriving counts (not the drain after the last arrival), and only up to
 * the next incident's start. status says which:
 *   recovered             recovered_after_s is a number;
 *   not_recovered         there was room (30 s) and no such t;
 *   no_end                the window lasts to the end of the run;
 *   no_baseline           no baseline;
 *   overlapping_fault     another incident with a finite end was still on
 *                         at E (its own entry measures the recovery);
 *   next_fault_began      another incident began less than 30 s after t0;
 *   no_traffic_after_end  less than 30 s of arrivals after t0.
 * recovered_after_s is null unless status is "recovered"; end_s is null for
 * a window with no end; baseline_success_rate is null with no baseline.
 * Windows lasting to the end of the run do not make others overlapping or
 * interrupted. */
cJSON *sim_metrics_summary(const sim_metrics *m, uint64_t seed);

/* Time series as CSV with a header row: start_s, arrivals, successes,
 * failures, abandons, fallbacks, fb_<class> for every class of the
 * taxonomy, latency_p50_ms, latency_p99_ms, ttft_p50_ms, ttft_p99_ms (of
 * successful requests finishing in the interval, within 3.1%), cost_usd,
 * success_rate, in_violation (0/1), active_faults (names joined with '|',
 * quoted per RFC 4180 when needed). Empty cells mean no data.
 *
 * When the row cap is reached, adjacent rows are merged pairwise and the
 * interval doubles: counts add up, and a merged row's percentiles are the
 * larger of the two rows' (conservative, not exact).
 * Returns 0, LD_ENOMEM (now, or a row could not be added earlier), or
 * LD_EINVAL if writing to f failed. */
int sim_metrics_write_timeseries(const sim_metrics *m, FILE *f);

/* Latency and TTFT quantiles (ms) of successful requests for CDF charts:
 * "quantile,latency_ms,ttft_ms" with a header; empty cells where there is
 * no data. */
int sim_metrics_write_cdf(const sim_metrics *m, FILE *f);

/* The fault windows: "name,start_s,end_s" with a header (a window open to
 * the end of the run ends at the run's end). */
int sim_metrics_write_faults(const sim_metrics *m, FILE *f);

/* Tenants (scenario traffic.tenants): n ids (copied), before the first
 * request. LD_EINVAL for n < 1 or a second call, LD_ENOMEM. */
int sim_metrics_set_tenants(sim_metrics *m, int n, const char *const *ids);
/* A request of tenant `tenant` ended (after sim_metrics_on_done): counted
 * by outcome, key_limited (by which limit) when its limits refused it,
 * and its cost. The summary then has "tenants": {id: {requests,
 * succeeded, failed, abandoned, key_limited, key_limited_by {rpm, tpm,
 * usd_per_day, usd_per_month}, spend_usd}} (requests: those that ended;
 * key_limited ones are among the failed), and the table a line per
 * tenant. */
void sim_metrics_on_tenant_done(sim_metrics *m, int tenant,
                                const ld_req_info *info);

/* A readable table for people. */
void sim_metrics_print_table(const sim_metrics *m, FILE *f);

/* Accessors used by tests and `compare`. */
uint64_t sim_metrics_requests(const sim_metrics *m);
/* Time-series rows so far, and their current length (grows by merging). */
size_t sim_metrics_row_count(const sim_metrics *m);
ld_us sim_metrics_interval(const sim_metrics *m);
/* 0, or LD_ENOMEM if a time-series row could not be added (the totals are
 * still right; the summary and the time series are then refused). */
int sim_metrics_error(const sim_metrics *m);

#endif
