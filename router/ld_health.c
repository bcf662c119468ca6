/* ld_health.c - latency histograms, windowed quantiles, circuit breaker and
 * retry budget. See ld_health.h for the contracts.
 *
 * Time only comes from the `now` arguments; all memory is taken in the _new
 * functions, so updates and queries never allocate.
 */
#include "ld_health.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- ld_hist -------------------------------------------------------------
 * With S = 2^sub_bits, values below 2S have a bucket each (width 1). Above,
 * a value v with leading bit e (e > sub_bits) is shifted right by
 * sh = e - sub_bits, leaving a mantissa m in [S, 2S); its bucket is
 * (sh << sub_bits) + m, of width 2^sh and lower bound m << sh >= 2^e, so the
 * relative width is at most 2^-sub_bits. The same formula with sh = 0 gives
 * bucket = v for v < 2S, so the two ranges join without a gap. */

#define HIST_CAP_BITS 40
#define HIST_CAP ((int64_t)1 << HIST_CAP_BITS)
/* Most quantiles hist_quantiles computes in one scan. */
#define HIST_MAX_Q 8

struct ld_hist {
    int sub_bits;
    size_t nbuckets;
    uint64_t count;
    double sum;
    int64_t min, max;
    uint64_t counts[];
};

static size_t hist_nbuckets(int sub_bits)
{
    /* The top value 2^40 - 1 has sh = 39 - sub_bits and m = 2S - 1. */
    return (size_t)(HIST_CAP_BITS + 1 - sub_bits) << sub_bits;
}

static size_t hist_index(const ld_hist *h, int64_t v)
{
    int64_t s2 = (int64_t)2 << h->sub_bits;
    if (v < s2)
        return (size_t)v;
    if (v >= HIST_CAP)
        return h->nbuckets - 1;
    int e = 63 - __builtin_clzll((unsigned long long)v);
    int sh = e - h->sub_bits;
    return ((size_t)sh << h->sub_bits) + (size_t)(v >> sh);
}

/* Midpoint of bucket i (rounded down). */
static int64_t hist_bucket_mid(const ld_hist *h, size_t i)
{
    int64_t s2 = (int64_t)2 << h->sub_bits;
    if ((int64_t)i < s2)
        return (int64_t)i;
    int sh = (int)(i >> h->sub_bits) - 1;
    int64_t m = (int64_t)(i - ((size_t)sh << h->sub_bits));
    int64_t lo = m << sh, width = (int64_t)1 << sh;
    return lo + (width - 1) / 2;
}

ld_hist *ld_hist_new(int sub_bits)
{
    if (sub_bits < 1 || sub_bits > 8)
        return NULL;
    size_t nb = hist_nbuckets(sub_bits);
    ld_hist *h = calloc(1, sizeof *h + nb * sizeof h->counts[0]);
    if (h == NULL)
        return NULL;
    h->sub_bits = sub_bits;
    h->nbuckets = nb;
    h->min = INT64_MAX;
    h->max = 0;
    return h;
}

void ld_hist_free(ld_hist *h)
{
    free(h);
}

void ld_hist_reset(ld_hist *h)
{
    if (h == NULL)
        return;
    if (h->count > 0) {
        /* Only buckets between min's and max's can be non-zero. */
        size_t a = hist_index(h, h->min), b = hist_index(h, h->max);
        memset(&h->counts[a], 0, (b - a + 1) * sizeof h->counts[0]);
    }
    h->count = 0;
    h->sum = 0.0;
    h->min = INT64_MAX;
    h->max = 0;
}

void ld_hist_add_n(ld_hist *h, int64_t value, uint64_t n)
{
    if (h == NULL || n == 0)
        return;
    if (value < 0)
        value = 0;
    h->counts[hist_index(h, value)] += n;
    h->count += n;
    h->sum += (double)value * (double)n;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

void ld_hist_add(ld_hist *h, int64_t value)
{
    ld_hist_add_n(h, value, 1);
}

int ld_hist_merge(ld_hist *dst, const ld_hist *src)
{
    if (dst == NULL || src == NULL || dst->sub_bits != src->sub_bits)
        return LD_EINVAL;
    if (src->count == 0)
        return LD_OK;
    size_t a = hist_index(src, src->min), b = hist_index(src, src->max);
    for (size_t i = a; i <= b; i++)
        dst->counts[i] += src->counts[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    return LD_OK;
}

uint64_t ld_hist_count(const ld_hist *h)
{
    return h == NULL ? 0 : h->count;
}

double ld_hist_mean(const ld_hist *h)
{
    if (h == NULL || h->count == 0)
        return 0.0;
    return h->sum / (double)h->count;
}

int64_t ld_hist_min(const ld_hist *h)
{
    return h == NULL || h->count == 0 ? 0 : h->min;
}

int64_t ld_hist_max(const ld_hist *h)
{
    return h == NULL || h->count == 0 ? 0 : h->max;
}

/* rank = ceil(q * n) clamped to [1, n]. */
static uint64_t hist_rank(double q, uint64_t n)
{
    double r = ceil(q * (double)n);
    if (!(r >= 1.0))
        return 1;
    if (r >= (double)n)
        return n;
    return (uint64_t)r;
}

/* The quantiles qs[0..nq) (ascending) of a and b taken together (b may be
 * NULL; both must have the same sub_bits), in one scan of the buckets.
 * q <= 0 (or NaN) gives the min, q >= 1 the max, and -1 when both are
 * empty. */
static void hist_quantiles(const ld_hist *a, const ld_hist *b,
                           const double *qs, int64_t *out, int nq)
{
    uint64_t n = a->count + (b != NULL ? b->count : 0);
    if (n == 0) {
        for (int j = 0; j < nq; j++)
            out[j] = -1;
        return;
    }
    int64_t lo = a->min, hi = a->count > 0 ? a->max : 0;
    if (b != NULL && b->count > 0) {
        if (b->min < lo)
            lo = b->min;
        if (b->max > hi)
            hi = b->max;
    }
    uint64_t rank[HIST_MAX_Q];
    int j = 0;
    if (nq > HIST_MAX_Q)
        nq = HIST_MAX_Q;
    for (int k = 0; k < nq; k++)
        rank[k] = hist_rank(qs[k], n);
    /* Quantiles pinned to the ends need no scan. */
    while (j < nq && !(qs[j] > 0.0)) {
        out[j] = lo;
        j++;
    }
    int last = nq;
    while (last > j && qs[last - 1] >= 1.0) {
        out[last - 1] = hi;
        last--;
    }
    size_t first = hist_index(a, lo), end = hist_index(a, hi);
    uint64_t cum = 0;
    for (size_t i = first; i <= end && j < last; i++) {
        cum += a->counts[i] + (b != NULL ? b->counts[i] : 0);
        while (j < last && cum >= rank[j]) {
            int64_t v = hist_bucket_mid(a, i);
            out[j] = v < lo ? lo : (v > hi ? hi : v);
            j++;
        }
    }
    for (; j < last; j++) /* only if the counts wrapped around */
        out[j] = hi;
}

int64_t ld_hist_quantile(const ld_hist *h, double q)
{
    if (h == NULL)
        return -1;
    int64_t v;
    hist_quantiles(h, NULL, &q, &v, 1);
    return v;
}

/* ---- ld_latency ---------------------------------------------------------- */

#define LAT_SUB_BITS 4
#define LAT_NCACHE 4

static const double lat_cache_q[LAT_NCACHE] = {0.5, 0.9, 0.95, 0.99};

struct ld_latency {
    ld_us window;
    ld_us refresh_every;
    bool started;
    ld_us window_start;
    ld_hist *cur, *prev;
    bool cache_valid;
    uint64_t cache_count; /* samples the cache was computed from */
    ld_us last_refresh;
    int64_t cache_v[LAT_NCACHE];
};

ld_latency *ld_latency_new(ld_us window)
{
    if (window <= 0)
        return NULL;
    ld_latency *l = calloc(1, sizeof *l);
    if (l == NULL)
        goto fail;
    l->window = window;
    l->refresh_every = window / 16;
    l->cur = ld_hist_new(LAT_SUB_BITS);
    l->prev = ld_hist_new(LAT_SUB_BITS);
    if (l->cur == NULL || l->prev == NULL)
        goto fail;
    return l;
fail:
    ld_latency_free(l);
    return NULL;
}

void ld_latency_free(ld_latency *l)
{
    if (l == NULL)
        return;
    ld_hist_free(l->cur);
    ld_hist_free(l->prev);
    free(l);
}

/* Moves the window forward to the one holding now. Time running backwards
 * keeps the current window. */
static void lat_rotate(ld_latency *l, ld_us now)
{
    if (!l->started) {
        l->started = true;
        l->window_start = now;
        return;
    }
    if (now < l->window_start)
        return;
    uint64_t elapsed = (uint64_t)now - (uint64_t)l->window_start;
    uint64_t w = (uint64_t)l->window;
    if (elapsed < w)
        return;
    uint64_t k = elapsed / w;
    if (k == 1) {
        ld_hist *t = l->prev;
        l->prev = l->cur;
        l->cur = t;
        ld_hist_reset(l->cur);
    } else {
        /* The window just before now saw no samples either. */
        ld_hist_reset(l->cur);
        ld_hist_reset(l->prev);
    }
    l->window_start = (ld_us)((uint64_t)l->window_start + k * w);
    l->cache_valid = false;
}

void ld_latency_add(ld_latency *l, ld_us now, ld_us value)
{
    if (l == NULL)
        return;
    lat_rotate(l, now);
    ld_hist_add(l->cur, value);
}

uint64_t ld_latency_count(ld_latency *l, ld_us now)
{
    if (l == NULL)
        return 0;
    lat_rotate(l, now);
    return ld_hist_count(l->cur) + ld_hist_count(l->prev);
}

static bool lat_cache_stale(const ld_latency *l, ld_us now)
{
    if (!l->cache_valid || l->cache_count == 0 || now < l->last_refresh)
        return true;
    return (uint64_t)now - (uint64_t)l->last_refresh >=
           (uint64_t)l->refresh_every;
}

void ld_latency_adopt(ld_latency *dst, const ld_latency *src)
{
    if (dst == NULL || src == NULL || dst == src)
        return;
    ld_hist_reset(dst->cur);
    ld_hist_reset(dst->prev);
    dst->started = src->started;
    dst->window_start = src->window_start;
    dst->cache_valid = false;
    if (dst->window == src->window) {
        (void)ld_hist_merge(dst->cur, src->cur);
        (void)ld_hist_merge(dst->prev, src->prev);
    } else {
        (void)ld_hist_merge(dst->cur, src->cur);
        (void)ld_hist_merge(dst->cur, src->prev);
    }
}

ld_us ld_latency_quantile(ld_latency *l, ld_us now, double q)
{
    if (l == NULL)
        return -1;
    lat_rotate(l, now);
    int j = 0;
    while (j < LAT_NCACHE && lat_cache_q[j] != q)
        j++;
    if (j == LAT_NCACHE) {
        int64_t v;
        hist_quantiles(l->cur, l->prev, &q, &v, 1);
        return v;
    }
    if (lat_cache_stale(l, now)) {
        hist_quantiles(l->cur, l->prev, lat_cache_q, l->cache_v, LAT_NCACHE);
        l->cache_valid = true;
        l->cache_count = ld_hist_count(l->cur) + ld_hist_count(l->prev);
        l->last_refresh = now;
    }
    return l->cache_v[j];
}

/* ---- a sliding window of counters in 10 buckets ---------------------------
 * Bucket k holds the counts for times in [k * len, (k + 1) * len); the
 * window is the bucket holding the latest time and the 9 before it. Buckets
 * that fall out are cleared as time moves on. */

#define WIN_BUCKETS 10
#define WIN_COUNTERS 3

typedef struct win {
    ld_us len;
    bool started;
    int64_t head; /* bucket number of the latest time seen */
    uint64_t c[WIN_BUCKETS][WIN_COUNTERS];
    uint64_t total[WIN_COUNTERS];
} win;

static void win_init(win *w, ld_us window)
{
    memset(w, 0, sizeof *w);
    w->len = window / WIN_BUCKETS > 0 ? window / WIN_BUCKETS : 1;
}

static void win_clear(win *w)
{
    memset(w->c, 0, sizeof w->c);
    memset(w->total, 0, sizeof w->total);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static size_t win_slot(int64_t k)
{
    int64_t r = k % WIN_BUCKETS;
    return (size_t)(r < 0 ? r + WIN_BUCKETS : r);
}

/* Moves the head to the bucket holding now; an earlier now counts in the
 * head bucket. Returns the head slot. */
static size_t win_advance(win *w, ld_us now)
{
    int64_t k = floor_div(now, w->len);
    if (!w->started) {
        w->started = true;
        w->head = k;
    } else if (k > w->head) {
        if ((uint64_t)k - (uint64_t)w->head >= WIN_BUCKETS) {
            win_clear(w);
        } else {
            for (int64_t e = w->head + 1; e <= k; e++) {
                size_t s = win_slot(e);
                for (int i = 0; i < WIN_COUNTERS; i++) {
                    w->total[i] -= w->c[s][i];
                    w->c[s][i] = 0;
                }
            }
        }
        w->head = k;
    }
    return win_slot(w->head);
}

static void win_add(win *w, size_t slot, int counter)
{
    w->c[slot][counter]++;
    w->total[counter]++;
}

/* ---- ld_breaker ---------------------------------------------------------- */

enum { BR_CALLS, BR_FAILURES, BR_SLOW };

struct ld_breaker {
    ld_breaker_cfg cfg;
    ld_breaker_state state;
    ld_us opened_at;
    int probes; /* half-open probes in flight */
    win w;
};

const char *ld_breaker_state_name(ld_breaker_state s)
{
    switch (s) {
    case LD_BREAKER_CLOSED:
        return "closed";
    case LD_BREAKER_OPEN:
        return "open";
    case LD_BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}

void ld_breaker_cfg_default(ld_breaker_cfg *cfg)
{
    if (cfg == NULL)
        return;
    cfg->window = ld_s(30);
    cfg->min_requests = 10;
    cfg->failure_rate = 0.5;
    cfg->slow_call = 0;
    cfg->slow_call_rate = 1.0;
    cfg->open_for = ld_s(30);
    cfg->half_open_probes = 1;
}

static bool rate_ok(double r)
{
    return r > 0.0 && r <= 1.0; /* false for NaN */
}

static bool breaker_cfg_ok(const ld_breaker_cfg *c)
{
    return c->window > 0 && c->min_requests >= 1 &&
           rate_ok(c->failure_rate) && c->slow_call >= 0 &&
           (c->slow_call == 0 || rate_ok(c->slow_call_rate)) &&
           c->open_for > 0 && c->half_open_probes >= 1;
}

ld_breaker *ld_breaker_new(const ld_breaker_cfg *cfg)
{
    if (cfg == NULL || !breaker_cfg_ok(cfg))
        return NULL;
    ld_breaker *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->cfg = *cfg;
    b->state = LD_BREAKER_CLOSED;
    win_init(&b->w, cfg->window);
    return b;
}

void ld_breaker_free(ld_breaker *b)
{
    free(b);
}

static void tr_none(ld_breaker_transition *tr, ld_breaker_state s)
{
    if (tr == NULL)
        return;
    tr->changed = false;
    tr->from = s;
    tr->to = s;
}

static void breaker_go(ld_breaker *b, ld_breaker_state to, ld_us now,
                       ld_breaker_transition *tr)
{
    if (tr != NULL) {
        tr->changed = b->state != to;
        tr->from = b->state;
        tr->to = to;
    }
    b->state = to;
    b->probes = 0;
    if (to == LD_BREAKER_OPEN)
        b->opened_at = now;
    else if (to == LD_BREAKER_CLOSED)
        win_clear(&b->w);
}

/* Open -> half-open once open_for has passed. */
static void breaker_tick(ld_breaker *b, ld_us now, ld_breaker_transition *tr)
{
    if (b->state == LD_BREAKER_OPEN && now >= b->opened_at &&
        (uint64_t)now - (uint64_t)b->opened_at >= (uint64_t)b->cfg.open_for)
        breaker_go(b, LD_BREAKER_HALF_OPEN, now, tr);
}

ld_breaker_state ld_breaker_state_at(ld_breaker *b, ld_us now,
                                     ld_breaker_transition *tr)
{
    if (b == NULL) {
        tr_none(tr, LD_BREAKER_CLOSED);
        return LD_BREAKER_CLOSED;
    }
    tr_none(tr, b->state);
    breaker_tick(b, now, tr);
    return b->state;
}

void ld_breaker_trip(ld_breaker *b, ld_us opened_at, ld_us now,
                     ld_breaker_transition *tr)
{
    tr_none(tr, b != NULL ? b->state : LD_BREAKER_CLOSED);
    if (b == NULL || opened_at > now || now - opened_at >= b->cfg.open_for)
        return;
    breaker_tick(b, now, tr);
    if (b->state != LD_BREAKER_OPEN) {
        breaker_go(b, LD_BREAKER_OPEN, now, tr);
        b->opened_at = opened_at;
    }
}

void ld_breaker_adopt(ld_breaker *dst, const ld_breaker *src)
{
    if (dst == NULL || src == NULL || dst == src)
        return;
    dst->state = src->state;
    dst->opened_at = src->opened_at;
    dst->probes = 0;
    if (dst->w.len == src->w.len)
        dst->w = src->w;
    else
        win_init(&dst->w, dst->cfg.window);
}

ld_us ld_breaker_open_until(const ld_breaker *b)
{
    return b->state == LD_BREAKER_OPEN ? b->opened_at + b->cfg.open_for : 0;
}

bool ld_breaker_acquire(ld_breaker *b, ld_us now, ld_breaker_transition *tr)
{
    if (b == NULL) {
        tr_none(tr, LD_BREAKER_CLOSED);
        return false;
    }
    tr_none(tr, b->state);
    breaker_tick(b, now, tr);
    switch (b->state) {
    case LD_BREAKER_CLOSED:
        return true;
    case LD_BREAKER_HALF_OPEN:
        if (b->probes < b->cfg.half_open_probes) {
            b->probes++;
            return true;
        }
        return false;
    case LD_BREAKER_OPEN:
        break;
    }
    return false;
}

static bool breaker_tripped(const ld_breaker *b)
{
    const ld_breaker_cfg *c = &b->cfg;
    uint64_t n = b->w.total[BR_CALLS];
    if (n == 0 || n < (uint64_t)c->min_requests)
        return false;
    if ((double)b->w.total[BR_FAILURES] / (double)n >= c->failure_rate)
        return true;
    return c->slow_call > 0 &&
           (double)b->w.total[BR_SLOW] / (double)n >= c->slow_call_rate;
}

void ld_breaker_record(ld_breaker *b, ld_us now, bool failure, ld_us duration,
                       ld_breaker_transition *tr)
{
    if (b == NULL) {
        tr_none(tr, LD_BREAKER_CLOSED);
        return;
    }
    tr_none(tr, b->state);
    switch (b->state) {
    case LD_BREAKER_OPEN:
        /* A call admitted before it opened, finishing late. */
        return;
    case LD_BREAKER_HALF_OPEN:
        if (b->probes > 0)
            b->probes--;
        breaker_go(b, failure ? LD_BREAKER_OPEN : LD_BREAKER_CLOSED, now, tr);
        return;
    case LD_BREAKER_CLOSED:
        break;
    }
    size_t s = win_advance(&b->w, now);
    win_add(&b->w, s, BR_CALLS);
    if (failure)
        win_add(&b->w, s, BR_FAILURES);
    if (b->cfg.slow_call > 0 && duration >= b->cfg.slow_call)
        win_add(&b->w, s, BR_SLOW);
    if (breaker_tripped(b))
        breaker_go(b, LD_BREAKER_OPEN, now, tr);
}

void ld_breaker_release(ld_breaker *b)
{
    if (b != NULL && b->probes > 0)
        b->probes--;
}

/* ---- ld_retry_budget ----------------------------------------------------- */

enum { RB_REQUESTS, RB_RETRIES };

struct ld_retry_budget {
    double ratio;
    double floor; /* min_per_s * window in seconds */
    win w;
};

ld_retry_budget *ld_retry_budget_new(double ratio, double min_per_s,
                                     ld_us window)
{
    if (!(ratio >= 0.0 && ratio <= 1e9) ||
        !(min_per_s >= 0.0 && min_per_s <= 1e9) || window <= 0)
        return NULL;
    ld_retry_budget *rb = calloc(1, sizeof *rb);
    if (rb == NULL)
        return NULL;
    rb->ratio = ratio;
    rb->floor = min_per_s * ((double)window / (double)LD_US_PER_S);
    win_init(&rb->w, window);
    return rb;
}

void ld_retry_budget_free(ld_retry_budget *rb)
{
    free(rb);
}

void ld_retry_budget_on_request(ld_retry_budget *rb, ld_us now)
{
    if (rb == NULL)
        return;
    size_t s = win_advance(&rb->w, now);
    win_add(&rb->w, s, RB_REQUESTS);
}

bool ld_retry_budget_try_spend(ld_retry_budget *rb, ld_us now)
{
    if (rb == NULL)
        return false;
    size_t s = win_advance(&rb->w, now);
    double allowed =
        rb->ratio * (double)rb->w.total[RB_REQUESTS] + rb->floor;
    /* The slack absorbs rounding in ratio * requests (0.29 * 100 is
     * 28.999999999999996). */
    if ((double)(rb->w.total[RB_RETRIES] + 1) > allowed + 1e-9)
        return false;
    win_add(&rb->w, s, RB_RETRIES);
    return true;
}

void ld_retry_budget_adopt(ld_retry_budget *dst, const ld_retry_budget *src)
{
    if (dst == NULL || src == NULL || dst == src || dst->w.len != src->w.len)
        return;
    dst->w = src->w;
}
