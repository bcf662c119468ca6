/* ld_quota.h - per client key limits: requests and tokens per minute, spend
 * in USD per UTC day and per UTC month.
 *
 * Pure: no I/O, no clock. Every call takes `wall`, UTC wall-clock time in
 * microseconds since the Unix epoch, as the host read it; windows are
 * aligned to it: minutes (rpm, tpm) are fixed windows starting at each
 * whole minute, days at 00:00 UTC, months on the 1st at 00:00 UTC.
 *
 * A request is taken (ld_quota_take) before any attempt with its estimated
 * tokens and cost, and settled (ld_quota_settle) with what it really used,
 * which replaces the estimate in the windows it was taken in (a window that
 * has closed since keeps the estimate).
 */
#ifndef LD_QUOTA_H
#define LD_QUOTA_H

#include <stdint.h>

#include "ld.h"

typedef struct ld_quota ld_quota;

/* Limits of one key; 0 (or less) means no limit of that kind. */
typedef struct ld_key_limits {
    int64_t rpm, tpm;
    double usd_per_day, usd_per_month;
} ld_key_limits;

typedef enum ld_quota_limit {
    LD_QUOTA_OK = 0,
    LD_QUOTA_RPM,
    LD_QUOTA_TPM,
    LD_QUOTA_USD_DAY,
    LD_QUOTA_USD_MONTH
} ld_quota_limit;

/* Counters for nkeys keys with limits[i] (copied). NULL when out of memory
 * or nkeys is not positive. */
ld_quota *ld_quota_new(int nkeys, const ld_key_limits *limits);
void ld_quota_free(ld_quota *q);
int ld_quota_count(const ld_quota *q);

/* Count one request of `key` with its estimates when every limit allows it:
 * LD_QUOTA_OK. Otherwise nothing is counted and the limit that refused it
 * is returned, with *reopen (when not NULL) the wall time at which that
 * window reopens. A bad key or negative estimate: LD_EINVAL. */
int ld_quota_take(ld_quota *q, int key, ld_us wall, int64_t est_tokens,
                  double est_usd, ld_us *reopen);

/* Replace a taken request's estimates (taken at `taken`) by what it used.
 * LD_EINVAL for a bad key. */
int ld_quota_settle(ld_quota *q, int key, ld_us taken, int64_t est_tokens,
                    double est_usd, int64_t tokens, double usd);

/* What `key` has used in the windows that contain `wall`. */
typedef struct ld_quota_usage {
    int64_t requests, tokens; /* this minute */
    double usd_day, usd_month;
} ld_quota_usage;

int ld_quota_usage_get(const ld_quota *q, int key, ld_us wall,
                       ld_quota_usage *out);

/* A reload: key dkey of dst takes what key skey of src has used in its
 * windows (requests and tokens this minute, spend this day and month);
 * dst keeps its own limits. LD_EINVAL for a bad key. */
int ld_quota_adopt(ld_quota *dst, int dkey, const ld_quota *src, int skey);

/* Name of a limit ("rpm", "tpm", "usd_per_day", "usd_per_month", "ok"). */
const char *ld_quota_limit_name(int limit);

/* The wall time of the start of the UTC month after the one holding `wall`
 * (exposed for tests). */
ld_us ld_quota_next_month(ld_us wall);

#endif
