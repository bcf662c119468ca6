/* ld_quota.c - per key windowed counters (ld_quota.h). */
#include "ld_quota.h"

#include <math.h>
#include <stdlib.h>

#define MINUTE_US ((ld_us)60 * LD_US_PER_S)
#define DAY_US ((ld_us)86400 * LD_US_PER_S)

/* One window's counts as the fleet sees them: its totals as last read
 * back, what was sent and not yet acknowledged, what is not sent yet. */
typedef struct shared_n {
    int64_t fleet, flight, pend;
} shared_n;

typedef struct key_state {
    ld_key_limits lim;
    int64_t minute, day, month; /* window numbers the counters belong to */
    int64_t requests, tokens;   /* own */
    double usd_day, usd_month;  /* own */
    shared_n s_req, s_tok;      /* in `minute` */
    shared_n s_day, s_month;    /* micro-dollars, in `day` and `month` */
    double pend_frac_day, pend_frac_month; /* pending below a micro-dollar */
} key_state;

struct ld_quota {
    int n;
    key_state *k;
    bool shared;
    int fleet;
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

static const shared_n zero_n;

/* Open newer windows (older ones are left alone). */
static void roll_to(key_state *k, int64_t mi, int64_t d, int64_t mo)
{
    if (mi > k->minute) {
        k->minute = mi;
        k->requests = 0;
        k->tokens = 0;
        k->s_req = k->s_tok = zero_n;
    }
    if (d > k->day) {
        k->day = d;
        k->usd_day = 0;
        k->s_day = zero_n;
        k->pend_frac_day = 0;
    }
    if (mo > k->month) {
        k->month = mo;
        k->usd_month = 0;
        k->s_month = zero_n;
        k->pend_frac_month = 0;
    }
}

void ld_quota_windows_of(ld_us wall, ld_quota_windows *out)
{
    out->minute = floor_div(wall, MINUTE_US);
    out->day = floor_div(wall, DAY_US);
    out->month = month_of(wall);
}

/* Bring a key's counters to the windows holding `wall`. */
static void roll(key_state *k, ld_us wall)
{
    int64_t mi = floor_div(wall, MINUTE_US), d = floor_div(wall, DAY_US);
    int64_t mo = month_of(wall);
    roll_to(k, mi, d, mo);
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
    q->fleet = 1;
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

static int64_t fleet_n(const shared_n *s)
{
    return s->fleet + s->flight + s->pend;
}

/* A positive limit's share for one of `fleet` processes (at least 1). */
static int64_t share_i(int64_t lim, int fleet)
{
    int64_t v = lim / fleet;
    return v < 1 ? 1 : v;
}

/* Pending spend: whole micro-dollars in pend, the rest in *frac. */
static void pend_usd(shared_n *s, double *frac, double usd)
{
    double v = *frac + usd * 1e6;
    double whole = v >= 0 ? floor(v) : ceil(v);
    if (whole > 9e15 || whole < -9e15)
        whole = 0; /* far beyond any budget: not counted */
    s->pend += (int64_t)whole;
    *frac = v - whole;
}

int ld_quota_take(ld_quota *q, int key, ld_us wall, int64_t est_tokens,
                  double est_usd, ld_us *reopen)
{
    if (q == NULL || key < 0 || key >= q->n || est_tokens < 0 ||
        !(est_usd >= 0))
        return LD_EINVAL;
    key_state *k = &q->k[key];
    roll(k, wall);
    int64_t req, tok;
    double day, month;
    int64_t rpm = k->lim.rpm, tpm = k->lim.tpm;
    double uday = k->lim.usd_per_day, umonth = k->lim.usd_per_month;
    if (q->shared) {
        req = fleet_n(&k->s_req);
        tok = fleet_n(&k->s_tok);
        day = (double)fleet_n(&k->s_day) / 1e6 + k->pend_frac_day / 1e6;
        month = (double)fleet_n(&k->s_month) / 1e6 + k->pend_frac_month / 1e6;
    } else {
        req = k->requests;
        tok = k->tokens;
        day = k->usd_day;
        month = k->usd_month;
        if (q->fleet > 1) {
            rpm = rpm > 0 ? share_i(rpm, q->fleet) : 0;
            tpm = tpm > 0 ? share_i(tpm, q->fleet) : 0;
            uday /= q->fleet;
            umonth /= q->fleet;
        }
    }
    int limit = LD_QUOTA_OK;
    ld_us at = 0;
    if (rpm > 0 && req + 1 > rpm) {
        limit = LD_QUOTA_RPM;
        at = (k->minute + 1) * MINUTE_US;
    } else if (tpm > 0 && tok + est_tokens > tpm) {
        limit = LD_QUOTA_TPM;
        at = (k->minute + 1) * MINUTE_US;
    } else if (uday > 0 && day + est_usd > uday) {
        limit = LD_QUOTA_USD_DAY;
        at = (k->day + 1) * DAY_US;
    } else if (umonth > 0 && month + est_usd > umonth) {
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
    k->s_req.pend++;
    k->s_tok.pend += est_tokens;
    pend_usd(&k->s_day, &k->pend_frac_day, est_usd);
    pend_usd(&k->s_month, &k->pend_frac_month, est_usd);
    return LD_QUOTA_OK;
}

int ld_quota_settle(ld_quota *q, int key, ld_us taken, int64_t est_tokens,
                    double est_usd, int64_t tokens, double usd)
{
    if (q == NULL || key < 0 || key >= q->n)
        return LD_EINVAL;
    key_state *k = &q->k[key];
    if (!(usd >= 0) || tokens < 0)
        return LD_EINVAL;
    if (floor_div(taken, MINUTE_US) == k->minute) {
        k->tokens += tokens - est_tokens;
        if (k->tokens < 0)
            k->tokens = 0;
        k->s_tok.pend += tokens - est_tokens;
    }
    if (floor_div(taken, DAY_US) == k->day) {
        k->usd_day += usd - est_usd;
        if (k->usd_day < 0)
            k->usd_day = 0;
        pend_usd(&k->s_day, &k->pend_frac_day, usd - est_usd);
    }
    if (month_of(taken) == k->month) {
        k->usd_month += usd - est_usd;
        if (k->usd_month < 0)
            k->usd_month = 0;
        pend_usd(&k->s_month, &k->pend_frac_month, usd - est_usd);
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

void ld_quota_set_mode(ld_quota *q, bool shared, int fleet_size)
{
    if (q == NULL)
        return;
    q->shared = shared;
    q->fleet = fleet_size < 1 ? 1 : fleet_size;
}

bool ld_quota_is_shared(const ld_quota *q)
{
    return q != NULL && q->shared;
}

bool ld_quota_limited(const ld_quota *q, int key)
{
    if (q == NULL || key < 0 || key >= q->n)
        return false;
    const ld_key_limits *l = &q->k[key].lim;
    return l->rpm > 0 || l->tpm > 0 || l->usd_per_day > 0 ||
           l->usd_per_month > 0;
}

static int64_t take_pend(shared_n *s)
{
    int64_t v = s->pend;
    s->flight += v;
    s->pend = 0;
    return v;
}

int ld_quota_drain(ld_quota *q, int key, ld_us wall, ld_quota_counts *out)
{
    if (q == NULL || key < 0 || key >= q->n)
        return LD_EINVAL;
    key_state *k = &q->k[key];
    roll(k, wall);
    out->w.minute = k->minute;
    out->w.day = k->day;
    out->w.month = k->month;
    out->requests = take_pend(&k->s_req);
    out->tokens = take_pend(&k->s_tok);
    out->uusd_day = take_pend(&k->s_day);
    out->uusd_month = take_pend(&k->s_month);
    return out->requests != 0 || out->tokens != 0 || out->uusd_day != 0 ||
           out->uusd_month != 0;
}

/* One window's answer: sent leaves flight, the total is the fleet's. */
static void ack(shared_n *s, int64_t win, int64_t cur, int64_t sent,
                int64_t total)
{
    s->flight -= sent;
    if (win == cur)
        s->fleet = total;
}

int ld_quota_synced(ld_quota *q, int key, const ld_quota_counts *sent,
                    const ld_quota_counts *totals)
{
    if (q == NULL || key < 0 || key >= q->n)
        return LD_EINVAL;
    key_state *k = &q->k[key];
    /* newer windows in the totals open the key's (what was in flight in
     * the old ones is gone with them); sent left the flight of a window
     * still open */
    roll_to(k, totals->w.minute, totals->w.day, totals->w.month);
    bool m = sent->w.minute == k->minute, d = sent->w.day == k->day,
         mo = sent->w.month == k->month;
    ack(&k->s_req, totals->w.minute, k->minute, m ? sent->requests : 0,
        totals->requests);
    ack(&k->s_tok, totals->w.minute, k->minute, m ? sent->tokens : 0,
        totals->tokens);
    ack(&k->s_day, totals->w.day, k->day, d ? sent->uusd_day : 0,
        totals->uusd_day);
    ack(&k->s_month, totals->w.month, k->month, mo ? sent->uusd_month : 0,
        totals->uusd_month);
    return LD_OK;
}

/* sent is back to pending, if its window is still the key's. */
static void unsend(shared_n *s, int64_t win, int64_t cur, int64_t sent)
{
    if (win != cur)
        return;
    s->flight -= sent;
    s->pend += sent;
}

int ld_quota_unsent(ld_quota *q, int key, const ld_quota_counts *sent)
{
    if (q == NULL || key < 0 || key >= q->n)
        return LD_EINVAL;
    key_state *k = &q->k[key];
    unsend(&k->s_req, sent->w.minute, k->minute, sent->requests);
    unsend(&k->s_tok, sent->w.minute, k->minute, sent->tokens);
    unsend(&k->s_day, sent->w.day, k->day, sent->uusd_day);
    unsend(&k->s_month, sent->w.month, k->month, sent->uusd_month);
    return LD_OK;
}

int ld_quota_fleet_get(const ld_quota *q, int key, ld_us wall,
                       ld_quota_usage *out)
{
    if (q == NULL || key < 0 || key >= q->n)
        return LD_EINVAL;
    const key_state *k = &q->k[key];
    bool mi = floor_div(wall, MINUTE_US) == k->minute;
    out->requests = mi ? fleet_n(&k->s_req) : 0;
    out->tokens = mi ? fleet_n(&k->s_tok) : 0;
    out->usd_day = floor_div(wall, DAY_US) == k->day
                       ? ((double)fleet_n(&k->s_day) + k->pend_frac_day) / 1e6
                       : 0;
    out->usd_month = month_of(wall) == k->month
                         ? ((double)fleet_n(&k->s_month) + k->pend_frac_month) / 1e6
                         : 0;
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
    key_state *k = &dst->k[dkey];
    *k = src->k[skey];
    k->lim = lim;
    /* counts out to the store under the old keys get no answer here (the
     * host drops replies of the old round): they go again with the next
     * drain, counted twice at worst, never lost */
    shared_n *sn[4] = {&k->s_req, &k->s_tok, &k->s_day, &k->s_month};
    for (int i = 0; i < 4; i++) {
        sn[i]->pend += sn[i]->flight;
        sn[i]->flight = 0;
    }
    return LD_OK;
}
