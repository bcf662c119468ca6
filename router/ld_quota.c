/* ld_quota.c - per key windowed counters (ld_quota.h). */
#include "ld_quota.h"

#include <stdlib.h>

#define MINUTE_US ((ld_us)60 * LD_US_PER_S)
#define DAY_US ((ld_us)86400 * LD_US_PER_S)

typedef struct key_state {
    ld_key_limits lim;
    int64_t minute, day, month; /* window numbers the counters belong to */
    int64_t requests, tokens;
    double usd_day, usd_month;
} key_state;

struct ld_quota {
    int n;
    key_state *k;
};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 from a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Month number (year * 12 + month - 1) of a wall time. */
static int64_t month_of(ld_us wall)
{
    int64_t y;
    int m;
    civil_from_days(floor_div(wall, DAY_US), &y, &m);
    return y * 12 + (m - 1);
}

ld_us ld_quota_next_month(ld_us wall)
{
    int64_t mo = month_of(wall) + 1;
    return days_from_civil(floor_div(mo, 12), (int)(mo - floor_div(mo, 12) * 12) + 1,
                           1) * DAY_US;
}

/* Bring a key's counters to the windows holding `wall`. */
static void roll(key_state *k, ld_us wall)
{
    int64_t mi = floor_div(wall, MINUTE_US), d = floor_div(wall, DAY_US);
    int64_t mo = month_of(wall);
    if (mi != k->minute) {
        k->minute = mi;
        k->requests = 0;
        k->tokens = 0;
    }
    if (d != k->day) {
        k->day = d;
        k->usd_day = 0;
    }
    if (mo != k->month) {
        k->month = mo;
        k->usd_month = 0;
    }
}

ld_quota *ld_quota_new(int nkeys, const ld_key_limits *limits)
{
    if (nkeys <= 0 || limits == NULL)
        return NULL;
    ld_quota *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->k = calloc((size_t)nkeys, sizeof *q->k);
    if (q->k == NULL) {
        free(q);
        return NULL;
    }
    q->n = nkeys;
    for (int i = 0; i < nkeys; i++) {
        q->k[i].lim = limits[i];
        q->k[i].minute = q->k[i].day = q->k[i].month = INT64_MIN;
    }
    return q;
}

void ld_quota_free(ld_quota *q)
{
    if (q == NULL)
        return;
    free(q->k);
    free(q);
}

int ld_quota_count(const ld_quota *q)
{
    return q != NULL ? q->n : 0;
}

int ld_quota_take(ld_quota *q, int key, ld_us wall, int64_t est_tokens,
                  double est_usd, ld_us *reopen)
{
    if (q == NULL || key < 0 || key >= q->n || est_tokens < 0 ||
        !(est_usd >= 0))
        return LD_EINVAL;
    key_state *k = &q->k[key];
    roll(k, wall);
    int limit = LD_QUOTA_OK;
    ld_us at = 0;
    if (k->lim.rpm > 0 && k->requests + 1 > k->lim.rpm) {
        limit = LD_QUOTA_RPM;
        at = (k->minute + 1) * MINUTE_US;
    } else if (k->lim.tpm > 0 && k->tokens + est_tokens > k->lim.tpm) {
        limit = LD_QUOTA_TPM;
        at = (k->minute + 1) * MINUTE_US;
    } else if (k->lim.usd_per_day > 0 &&
               k->usd_day + est_usd > k->lim.usd_per_day) {
        limit = LD_QUOTA_USD_DAY;
        at = (k->day + 1) * DAY_US;
    } else if (k->lim.usd_per_month > 0 &&
               k->usd_month + est_usd > k->lim.usd_per_month) {
        limit = LD_QUOTA_USD_MONTH;
        at = ld_quota_next_month(wall);
    }
    if (limit != LD_QUOTA_OK) {
        if (reopen != NULL)
            *reopen = at;
        return limit;
    }
    k->requests++;
    k->tokens += est_tokens;
    k->usd_day += est_usd;
    k->usd_month += est_usd;
    return LD_QUOTA_OK;
}

int ld_quota_settle(ld_quota *q, int key, ld_us taken, int64_t est_tokens,
                    double est_usd, int64_t tokens, double usd)
{
    if (q == NULL || key < 0 || key >= q->n)
        return LD_EINVAL;
    key_state *k = &q->k[key];
    if (floor_div(taken, MINUTE_US) == k->minute) {
        k->tokens += tokens - est_tokens;
        if (k->tokens < 0)
            k->tokens = 0;
    }
    if (floor_div(taken, DAY_US) == k->day) {
        k->usd_day += usd - est_usd;
        if (k->usd_day < 0)
            k->usd_day = 0;
    }
    if (month_of(taken) == k->month) {
        k->usd_month += usd - est_usd;
        if (k->usd_month < 0)
            k->usd_month = 0;
    }
    return LD_OK;
}

int ld_quota_usage_get(const ld_quota *q, int key, ld_us wall,
                       ld_quota_usage *out)
{
    if (q == NULL || key < 0 || key >= q->n)
        return LD_EINVAL;
    const key_state *k = &q->k[key];
    out->requests = floor_div(wall, MINUTE_US) == k->minute ? k->requests : 0;
    out->tokens = floor_div(wall, MINUTE_US) == k->minute ? k->tokens : 0;
    out->usd_day = floor_div(wall, DAY_US) == k->day ? k->usd_day : 0;
    out->usd_month = month_of(wall) == k->month ? k->usd_month : 0;
    return LD_OK;
}

const char *ld_quota_limit_name(int limit)
{
    switch (limit) {
    case LD_QUOTA_OK: return "ok";
    case LD_QUOTA_RPM: return "rpm";
    case LD_QUOTA_TPM: return "tpm";
    case LD_QUOTA_USD_DAY: return "usd_per_day";
    case LD_QUOTA_USD_MONTH: return "usd_per_month";
    default: return "?";
    }
}

int ld_quota_adopt(ld_quota *dst, int dkey, const ld_quota *src, int skey)
{
    if (dst == NULL || src == NULL || dkey < 0 || dkey >= dst->n ||
        skey < 0 || skey >= src->n)
        return LD_EINVAL;
    ld_key_limits lim = dst->k[dkey].lim;
    dst->k[dkey] = src->k[skey];
    dst->k[dkey].lim = lim;
    return LD_OK;
}
