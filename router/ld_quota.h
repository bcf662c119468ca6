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
 *
 * Shared enforcement (several routers, one set of limits). The counters
 * above are this process's own. Each key also keeps what the host has not
 * yet told the fleet (pending: every take and settle adds to it), what it
 * has sent and not yet seen acknowledged (in flight), and the fleet's
 * totals as last read back (ld_quota_sync). In shared mode a take is
 * judged on fleet + in flight + pending against the whole limit, so a
 * router's view lags the others by one sync interval and round trip at
 * most; in local mode (the default, and while the shared store is away)
 * on this process's own counters against its share: the limit divided by
 * the fleet size (at least 1 request or token). The host moves the
 * numbers (ld_quota_drain, then ld_quota_synced or ld_quota_unsent); the
 * core never waits for them.
 */
#ifndef LD_QUOTA_H
#define LD_QUOTA_H

#include <stdbool.h>
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

/* Window numbers of a wall time: minutes, days and months (year * 12 +
 * month - 1) since the epoch, UTC. */
typedef struct ld_quota_windows {
    int64_t minute, day, month;
} ld_quota_windows;

void ld_quota_windows_of(ld_us wall, ld_quota_windows *out);

/* Counts of one key in named windows: requests and tokens in `minute`,
 * micro-dollars in `day` and `month`. A delta (drain) or a total (sync). */
typedef struct ld_quota_counts {
    ld_quota_windows w;
    int64_t requests, tokens, uusd_day, uusd_month;
} ld_quota_counts;

/* Shared (true: judge on the fleet's totals) or local (each process its
 * share: limits / fleet_size). fleet_size < 1 counts as 1. */
void ld_quota_set_mode(ld_quota *q, bool shared, int fleet_size);
bool ld_quota_is_shared(const ld_quota *q);
/* Whether key has any limit (only those need syncing). */
bool ld_quota_limited(const ld_quota *q, int key);

/* Move key's pending counts (in the windows holding `wall`) in flight and
 * give them to the host to send: 1 when out holds something to send, 0
 * when it is all zero (out still names the windows: sending it reads the
 * totals), LD_EINVAL for a bad key. Whole micro-dollars leave; the rest
 * stays pending. */
int ld_quota_drain(ld_quota *q, int key, ld_us wall, ld_quota_counts *out);

/* The store took `sent` (from ld_quota_drain) and answered with the
 * fleet's totals for the same windows: sent leaves flight, totals become
 * the fleet's view. Windows that have closed since are ignored; newer ones
 * open the key's window. LD_EINVAL for a bad key. */
int ld_quota_synced(ld_quota *q, int key, const ld_quota_counts *sent,
                    const ld_quota_counts *totals);

/* `sent` never reached the store (the link dropped): back to pending, to
 * go with the next drain. LD_EINVAL for a bad key. */
int ld_quota_unsent(ld_quota *q, int key, const ld_quota_counts *sent);

/* What the fleet has used, as this process sees it (fleet + in flight +
 * pending), in the windows that contain `wall`. */
int ld_quota_fleet_get(const ld_quota *q, int key, ld_us wall,
                       ld_quota_usage *out);

/* Name of a limit ("rpm", "tpm", "usd_per_day", "usd_per_month", "ok"). */
const char *ld_quota_limit_name(int limit);

/* The wall time of the start of the UTC month after the one holding `wall`
 * (exposed for tests). */
ld_us ld_quota_next_month(ld_us wall);

#endif
