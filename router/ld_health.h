/* ld_health.h - per-route health: latency histograms and windowed quantile
 * estimates, the circuit breaker, and the retry budget.
 *
 * Everything here is driven by the `now` the caller passes; nothing reads a
 * clock. Objects are allocated once (per route or per core) and then updated
 * without further allocation.
 */
#ifndef LD_HEALTH_H
#define LD_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "ld.h"

/* ---- ld_hist: a log-linear histogram of non-negative values ------------
 * Values (microseconds, token counts...) fall into buckets 2^sub_bits per
 * power of two, so a quantile is off by at most 2^-sub_bits of its value.
 * Values up to 2^40 are kept; larger ones go to the top bucket. */
typedef struct ld_hist ld_hist;

/* sub_bits in 1..8. NULL if out of memory or sub_bits out of range. */
ld_hist *ld_hist_new(int sub_bits);
void ld_hist_free(ld_hist *h);
void ld_hist_reset(ld_hist *h);
/* Negative values count as 0. */
void ld_hist_add(ld_hist *h, int64_t value);
void ld_hist_add_n(ld_hist *h, int64_t value, uint64_t n);
/* Adds src's counts to dst; LD_EINVAL if their sub_bits differ. */
int ld_hist_merge(ld_hist *dst, const ld_hist *src);
uint64_t ld_hist_count(const ld_hist *h);
/* Exact mean, min and max of the values added (0 when empty). */
double ld_hist_mean(const ld_hist *h);
int64_t ld_hist_min(const ld_hist *h);
int64_t ld_hist_max(const ld_hist *h);
/* The q-quantile (q in [0,1]) as the midpoint of its bucket, clamped to
 * [min, max]; -1 when empty. */
int64_t ld_hist_quantile(const ld_hist *h, double q);

/* ---- ld_latency: quantiles over a sliding time window -------------------
 * Keeps the samples of the current and the previous window; quantiles are
 * read from both, so an estimate always covers between one and two windows
 * of history. Quantiles are cached and refreshed at most every window/16
 * (or when the cache is empty), so reading them is O(1) on the hot path. */
typedef struct ld_latency ld_latency;

ld_latency *ld_latency_new(ld_us window);
void ld_latency_free(ld_latency *l);
void ld_latency_add(ld_latency *l, ld_us now, ld_us value);
/* Samples in the current and previous window. */
uint64_t ld_latency_count(ld_latency *l, ld_us now);
/* q-quantile over the window; -1 when there are no samples. */
ld_us ld_latency_quantile(ld_latency *l, ld_us now, double q);
/* Replace dst's samples with src's (a policy reload): with the same window
 * both windows are copied as they are; with another window every sample
 * src holds goes into dst's current window, which starts where src's does.
 * dst's window length stays its own. */
void ld_latency_adopt(ld_latency *dst, const ld_latency *src);

/* ---- ld_breaker: circuit breaker ----------------------------------------
 * Closed: calls go through; outcomes are counted in a sliding window of
 * `window` split in 10 buckets. Once the window holds at least min_requests
 * calls and the failure rate reaches failure_rate, or the rate of calls
 * slower than slow_call reaches slow_call_rate, it opens.
 * Open: calls are refused until open_for has passed, then it is half-open.
 * Half-open: at most half_open_probes calls at a time go through; a success
 * closes it (and clears the window), a failure opens it again. */
typedef struct ld_breaker ld_breaker;

typedef struct ld_breaker_cfg {
    ld_us window;           /* > 0 */
    int min_requests;       /* >= 1 */
    double failure_rate;    /* (0, 1] */
    ld_us slow_call;        /* 0 disables slow-call counting */
    double slow_call_rate;  /* (0, 1] */
    ld_us open_for;         /* > 0 */
    int half_open_probes;   /* >= 1 */
} ld_breaker_cfg;

typedef enum ld_breaker_state {
    LD_BREAKER_CLOSED,
    LD_BREAKER_OPEN,
    LD_BREAKER_HALF_OPEN
} ld_breaker_state;

/* A state change made by a call, for the caller to report as an event. */
typedef struct ld_breaker_transition {
    bool changed;
    ld_breaker_state from, to;
} ld_breaker_transition;

const char *ld_breaker_state_name(ld_breaker_state s);

/* Defaults: window 30 s, 10 requests, 50% failures, slow calls off, open
 * for 30 s, 1 probe. */
void ld_breaker_cfg_default(ld_breaker_cfg *cfg);

/* NULL if out of memory. The config is copied. */
ld_breaker *ld_breaker_new(const ld_breaker_cfg *cfg);
void ld_breaker_free(ld_breaker *b);

/* State at `now`: an open breaker whose open_for has passed becomes
 * half-open here (reported in tr, which may be NULL). */
ld_breaker_state ld_breaker_state_at(ld_breaker *b, ld_us now,
                                     ld_breaker_transition *tr);

/* When an open breaker turns half-open (opened_at + open_for); 0 when it
 * is not open. */
ld_us ld_breaker_open_until(const ld_breaker *b);

/* Whether a call may start now. Closed: always. Half-open: only while fewer
 * than half_open_probes probes are in flight (the probe is then counted as
 * in flight). Open: never. */
bool ld_breaker_acquire(ld_breaker *b, ld_us now, ld_breaker_transition *tr);

/* Report the end of a call that acquire admitted. duration is used for the
 * slow-call rate. May open or close the breaker (reported in tr). */
void ld_breaker_record(ld_breaker *b, ld_us now, bool failure, ld_us duration,
                       ld_breaker_transition *tr);

/* A call that acquire admitted ended with no verdict (cancelled): frees its
 * half-open probe slot, counts nothing. */
void ld_breaker_release(ld_breaker *b);
/* Open the breaker as if at `opened_at` (<= now), whatever its window
 * holds (reported in tr); an open breaker stays as it is, and nothing
 * happens when opened_at plus open_for has passed. */
void ld_breaker_trip(ld_breaker *b, ld_us opened_at, ld_us now,
                     ld_breaker_transition *tr);
/* Take src's state (a policy reload): closed, open since the same time, or
 * half-open, and, when both count over the same window, the calls in it.
 * dst keeps its own config and has no probe in flight (src's probes end in
 * src). */
void ld_breaker_adopt(ld_breaker *dst, const ld_breaker *src);

/* ---- ld_retry_budget -----------------------------------------------------
 * Retries (and hedges) may be at most `ratio` of the requests seen over the
 * last `window`, plus min_per_s per second of window, so a failing upstream
 * cannot multiply the load it is sent. Counted in 10 buckets. */
typedef struct ld_retry_budget ld_retry_budget;

ld_retry_budget *ld_retry_budget_new(double ratio, double min_per_s,
                                     ld_us window);
void ld_retry_budget_free(ld_retry_budget *rb);
void ld_retry_budget_on_request(ld_retry_budget *rb, ld_us now);
/* True, and the retry is counted, when the budget allows one more now. */
bool ld_retry_budget_try_spend(ld_retry_budget *rb, ld_us now);
/* Take src's counts of requests and retries (a policy reload) when both
 * count over the same window; nothing otherwise (dst starts afresh). */
void ld_retry_budget_adopt(ld_retry_budget *dst, const ld_retry_budget *src);

#endif
