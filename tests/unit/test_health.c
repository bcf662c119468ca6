/* test_health.c - ld_hist, ld_latency, ld_breaker and ld_retry_budget,
 * driven by a manual clock (plain ld_us variables). */
#include "testutil.h"

#include "ld_health.h"

/* A deterministic value stream (64-bit LCG, top bits). */
static uint64_t lcg_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 11;
}

/* ---- ld_hist ------------------------------------------------------------- */

static void test_hist_new_rejects_bad_sub_bits(void **state)
{
    (void)state;
    assert_null(ld_hist_new(0));
    assert_null(ld_hist_new(9));
    assert_null(ld_hist_new(-3));
    for (int s = 1; s <= 8; s++) {
        ld_hist *h = ld_hist_new(s);
        assert_non_null(h);
        ld_hist_free(h);
    }
    ld_hist_free(NULL);
}

static void test_hist_empty_quantile_is_minus_one(void **state)
{
    (void)state;
    ld_hist *h = ld_hist_new(4);
    assert_int_equal(ld_hist_count(h), 0);
    assert_int_equal(ld_hist_quantile(h, 0.0), -1);
    assert_int_equal(ld_hist_quantile(h, 0.5), -1);
    assert_int_equal(ld_hist_quantile(h, 1.0), -1);
    assert_near(ld_hist_mean(h), 0.0, 0.0);
    assert_int_equal(ld_hist_min(h), 0);
    assert_int_equal(ld_hist_max(h), 0);
    ld_hist_free(h);
}

/* 1..100000 uniform: the q-quantile is ceil(q * n); every estimate must be
 * within 2^-sub_bits of it, relative. */
static void test_hist_uniform_quantiles_within_relative_error(void **state)
{
    (void)state;
    const int64_t n = 100000;
    for (int s = 1; s <= 8; s++) {
        ld_hist *h = ld_hist_new(s);
        for (int64_t v = 1; v <= n; v++)
            ld_hist_add(h, v);
        assert_int_equal(ld_hist_count(h), n);
        double rel = ldexp(1.0, -s);
        for (int i = 0; i <= 1000; i++) {
            double q = i / 1000.0;
            double want = ceil(q * (double)n);
            if (want < 1)
                want = 1;
            int64_t got = ld_hist_quantile(h, q);
            assert_near(got, want, want * rel);
        }
        double qs[] = {0.5, 0.9, 0.95, 0.99, 0.999, 0.9999};
        for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
            double want = ceil(qs[i] * (double)n);
            assert_near(ld_hist_quantile(h, qs[i]), want, want * rel);
        }
        ld_hist_free(h);
    }
}

/* Values spread over every octave up to 2^40: the bucket midpoint is
 * within half a bucket (2^-(sub_bits+1) relative) of the value. */
static void test_hist_bucket_midpoint_within_half_bucket(void **state)
{
    (void)state;
    uint64_t seed = 42;
    for (int s = 1; s <= 8; s++) {
        ld_hist *h = ld_hist_new(s);
        for (int i = 0; i < 2000; i++) {
            int octave = (int)(lcg_next(&seed) % 40);
            int64_t v = (int64_t)(lcg_next(&seed) &
                                  (((uint64_t)1 << (octave + 1)) - 1));
            ld_hist_reset(h);
            /* Pin min and max far away so no clamping hides the bucket. */
            ld_hist_add(h, 0);
            ld_hist_add_n(h, v, 10);
            ld_hist_add(h, (int64_t)1 << 41);
            int64_t got = ld_hist_quantile(h, 0.5);
            assert_near(got, v, (double)v * ldexp(1.0, -(s + 1)));
        }
        ld_hist_free(h);
    }
}

static void test_hist_small_values_are_exact(void **state)
{
    (void)state;
    ld_hist *h = ld_hist_new(3);
    /* Below 2 * 2^sub_bits each value has its own bucket. */
    for (int64_t v = 0; v < 16; v++) {
        ld_hist_reset(h);
        ld_hist_add(h, 0);
        ld_hist_add_n(h, v, 3);
        ld_hist_add(h, 1000);
        assert_int_equal(ld_hist_quantile(h, 0.5), v);
    }
    ld_hist_free(h);
}

static void test_hist_mean_min_max_are_exact(void **state)
{
    (void)state;
    ld_hist *h = ld_hist_new(2);
    int64_t vals[] = {1234567, 3, 999999999, 17, 42};
    double sum = 0;
    for (size_t i = 0; i < 5; i++) {
        ld_hist_add(h, vals[i]);
        sum += (double)vals[i];
    }
    assert_int_equal(ld_hist_count(h), 5);
    assert_near(ld_hist_mean(h), sum / 5.0, 0.0);
    assert_int_equal(ld_hist_min(h), 3);
    assert_int_equal(ld_hist_max(h), 999999999);
    ld_hist_free(h);
}

static void test_hist_quantile_ends_are_min_and_max(void **state)
{
    (void)state;
    ld_hist *h = ld_hist_new(1);
    ld_hist_add(h, 1001);
    ld_hist_add(h, 5000);
    ld_hist_add(h, 77777);
    assert_int_equal(ld_hist_quantile(h, 0.0), 1001);
    assert_int_equal(ld_hist_quantile(h, -1.0), 1001);
    assert_int_equal(ld_hist_quantile(h, 1.0), 77777);
    assert_int_equal(ld_hist_quantile(h, 2.0), 77777);
    /* With one bit of sub-bucket the buckets are wide; clamping keeps the
     * estimates inside [min, max]. */
    int64_t lo = ld_hist_quantile(h, 0.01), hi = ld_hist_quantile(h, 0.99);
    assert_true(lo >= 1001 && lo <= 77777);
    assert_true(hi >= 1001 && hi <= 77777);
    ld_hist_free(h);
}

static void test_hist_single_value_quantiles_are_exact(void **state)
{
    (void)state;
    ld_hist *h = ld_hist_new(1);
    ld_hist_add(h, 123456789);
    assert_int_equal(ld_hist_quantile(h, 0.5), 123456789);
    assert_int_equal(ld_hist_quantile(h, 0.99), 123456789);
    ld_hist_free(h);
}

static void test_hist_negative_values_count_as_zero(void **state)
{
    (void)state;
    ld_hist *h = ld_hist_new(4);
    ld_hist_add(h, -5);
    ld_hist_add(h, INT64_MIN);
    assert_int_equal(ld_hist_count(h), 2);
    assert_int_equal(ld_hist_min(h), 0);
    assert_int_equal(ld_hist_max(h), 0);
    assert_near(ld_hist_mean(h), 0.0, 0.0);
    assert_int_equal(ld_hist_quantile(h, 0.5), 0);
    ld_hist_free(h);
}

static void test_hist_add_n_matches_repeated_add(void **state)
{
    (void)state;
    ld_hist *a = ld_hist_new(5), *b = ld_hist_new(5);
    uint64_t seed = 7;
    for (int i = 0; i < 200; i++) {
        int64_t v = (int64_t)(lcg_next(&seed) % 10000000);
        uint64_t n = 1 + lcg_next(&seed) % 5;
        ld_hist_add_n(a, v, n);
        for (uint64_t k = 0; k < n; k++)
            ld_hist_add(b, v);
    }
    ld_hist_add_n(a, 99, 0); /* adds nothing, not even to min */
    assert_int_equal(ld_hist_count(a), ld_hist_count(b));
    assert_int_equal(ld_hist_min(a), ld_hist_min(b));
    assert_int_equal(ld_hist_max(a), ld_hist_max(b));
    assert_near(ld_hist_mean(a), ld_hist_mean(b), 1e-6);
    for (int i = 0; i <= 100; i++)
        assert_int_equal(ld_hist_quantile(a, i / 100.0),
                         ld_hist_quantile(b, i / 100.0));
    ld_hist_free(a);
    ld_hist_free(b);
}

static void test_hist_merge_equals_adding_to_one(void **state)
{
    (void)state;
    ld_hist *a = ld_hist_new(4), *b = ld_hist_new(4), *all = ld_hist_new(4);
    for (int64_t v = 1; v <= 1000; v++) {
        ld_hist_add(v % 2 ? a : b, v * 37);
        ld_hist_add(all, v * 37);
    }
    assert_int_equal(ld_hist_merge(a, b), LD_OK);
    assert_int_equal(ld_hist_count(a), 1000);
    assert_int_equal(ld_hist_min(a), 37);
    assert_int_equal(ld_hist_max(a), 37000);
    assert_near(ld_hist_mean(a), ld_hist_mean(all), 0.0);
    for (int i = 0; i <= 100; i++)
        assert_int_equal(ld_hist_quantile(a, i / 100.0),
                         ld_hist_quantile(all, i / 100.0));
    /* b is unchanged. */
    assert_int_equal(ld_hist_count(b), 500);
    ld_hist_free(a);
    ld_hist_free(b);
    ld_hist_free(all);
}

static void test_hist_merge_empty_and_into_empty(void **state)
{
    (void)state;
    ld_hist *a = ld_hist_new(3), *e = ld_hist_new(3);
    ld_hist_add(a, 500);
    ld_hist_add(a, 9000);
    assert_int_equal(ld_hist_merge(a, e), LD_OK);
    assert_int_equal(ld_hist_count(a), 2);
    assert_int_equal(ld_hist_min(a), 500);
    assert_int_equal(ld_hist_merge(e, a), LD_OK);
    assert_int_equal(ld_hist_count(e), 2);
    assert_int_equal(ld_hist_min(e), 500);
    assert_int_equal(ld_hist_max(e), 9000);
    assert_int_equal(ld_hist_quantile(e, 0.5), ld_hist_quantile(a, 0.5));
    ld_hist_free(a);
    ld_hist_free(e);
}

static void test_hist_merge_rejects_different_sub_bits(void **state)
{
    (void)state;
    ld_hist *a = ld_hist_new(3), *b = ld_hist_new(4);
    ld_hist_add(b, 10);
    assert_int_equal(ld_hist_merge(a, b), LD_EINVAL);
    assert_int_equal(ld_hist_count(a), 0);
    assert_int_equal(ld_hist_merge(a, NULL), LD_EINVAL);
    ld_hist_free(a);
    ld_hist_free(b);
}

static void test_hist_huge_values_go_to_top_bucket_keep_exact_max(void **state)
{
    (void)state;
    ld_hist *h = ld_hist_new(8);
    const int64_t cap = (int64_t)1 << 40;
    ld_hist_add(h, cap - 1); /* last value with a bucket of its own range */
    ld_hist_add(h, cap);
    ld_hist_add(h, (int64_t)1 << 50);
    ld_hist_add(h, INT64_MAX);
    assert_int_equal(ld_hist_count(h), 4);
    assert_int_equal(ld_hist_min(h), cap - 1);
    assert_int_equal(ld_hist_max(h), INT64_MAX);
    assert_int_equal(ld_hist_quantile(h, 1.0), INT64_MAX);
    /* All four share the top bucket: its midpoint, clamped to min. */
    int64_t mid = ld_hist_quantile(h, 0.5);
    assert_true(mid >= cap - 1);
    assert_near(mid, cap, cap * ldexp(1.0, -8));
    assert_near(ld_hist_mean(h),
                ((double)(cap - 1) + (double)cap + ldexp(1.0, 50) +
                 (double)INT64_MAX) / 4.0,
                1e3);

    /* A lone huge value is reported exactly. */
    ld_hist_reset(h);
    ld_hist_add(h, (int64_t)1 << 55);
    assert_int_equal(ld_hist_quantile(h, 0.5), (int64_t)1 << 55);
    ld_hist_free(h);
}

static void test_hist_reset_forgets_everything(void **state)
{
    (void)state;
    ld_hist *h = ld_hist_new(4);
    for (int64_t v = 0; v < 1000; v += 3)
        ld_hist_add(h, v * v);
    ld_hist_reset(h);
    assert_int_equal(ld_hist_count(h), 0);
    assert_int_equal(ld_hist_quantile(h, 0.5), -1);
    assert_near(ld_hist_mean(h), 0.0, 0.0);
    ld_hist_add(h, 50);
    assert_int_equal(ld_hist_quantile(h, 0.0), 50);
    assert_int_equal(ld_hist_quantile(h, 0.5), 50);
    assert_int_equal(ld_hist_quantile(h, 1.0), 50);
    ld_hist_reset(NULL);
    ld_hist_free(h);
}

/* ---- ld_latency ---------------------------------------------------------- */

#define LW ld_ms(1600) /* window; the cache refreshes every 100 ms */

static void test_latency_new_rejects_nonpositive_window(void **state)
{
    (void)state;
    assert_null(ld_latency_new(0));
    assert_null(ld_latency_new(-5));
    ld_latency_free(NULL);
}

static void test_latency_empty_is_minus_one(void **state)
{
    (void)state;
    ld_latency *l = ld_latency_new(LW);
    assert_int_equal(ld_latency_count(l, 0), 0);
    assert_int_equal(ld_latency_quantile(l, 0, 0.5), -1);
    assert_int_equal(ld_latency_quantile(l, 0, 0.75), -1);
    ld_latency_free(l);
}

static void test_latency_quantiles_cover_current_and_previous_window(
    void **state)
{
    (void)state;
    ld_latency *l = ld_latency_new(LW);
    ld_us now = 0;
    for (int i = 0; i < 100; i++)
        ld_latency_add(l, now, ld_ms(10));
    now += LW; /* next window: the first one is now the previous */
    for (int i = 0; i < 100; i++)
        ld_latency_add(l, now, ld_ms(30));
    assert_int_equal(ld_latency_count(l, now), 200);
    assert_near(ld_latency_quantile(l, now, 0.25), ld_ms(10),
                ld_ms(10) / 16.0);
    assert_near(ld_latency_quantile(l, now, 0.9), ld_ms(30),
                ld_ms(30) / 16.0);
    ld_latency_free(l);
}

static void test_latency_forgets_samples_after_two_windows(void **state)
{
    (void)state;
    ld_latency *l = ld_latency_new(LW);
    ld_us now = ld_s(100);
    for (int i = 0; i < 50; i++)
        ld_latency_add(l, now, ld_ms(500));
    now += LW;
    ld_latency_add(l, now, ld_ms(20));
    assert_int_equal(ld_latency_count(l, now), 51);
    now += LW - 1; /* still the same window */
    assert_int_equal(ld_latency_count(l, now), 51);
    now += 1; /* the 500 ms samples are two windows old */
    assert_int_equal(ld_latency_count(l, now), 1);
    assert_int_equal(ld_latency_quantile(l, now, 0.99), ld_ms(20));
    now += LW;
    assert_int_equal(ld_latency_count(l, now), 0);
    assert_int_equal(ld_latency_quantile(l, now, 0.5), -1);
    ld_latency_free(l);
}

static void test_latency_long_gap_clears_both_windows(void **state)
{
    (void)state;
    ld_latency *l = ld_latency_new(LW);
    ld_us now = 0;
    ld_latency_add(l, now, 700);
    now += LW + LW / 2;
    ld_latency_add(l, now, 900);
    now += 5 * LW; /* many windows at once */
    assert_int_equal(ld_latency_count(l, now), 0);
    ld_latency_add(l, now, 1000);
    assert_int_equal(ld_latency_count(l, now), 1);
    assert_int_equal(ld_latency_quantile(l, now, 0.5), 1000);
    ld_latency_free(l);
}

static void test_latency_cache_holds_until_refresh_interval(void **state)
{
    (void)state;
    ld_latency *l = ld_latency_new(LW);
    ld_us now = 0;
    for (int i = 0; i < 10; i++)
        ld_latency_add(l, now, 100);
    assert_int_equal(ld_latency_quantile(l, now, 0.5), 100);
    for (int i = 0; i < 1000; i++)
        ld_latency_add(l, now + 10, 5000);
    /* Within window/16 of the last refresh the cached value stands. */
    now = ld_ms(100) - 1;
    assert_int_equal(ld_latency_quantile(l, now, 0.5), 100);
    assert_int_equal(ld_latency_quantile(l, now, 0.99), 100);
    /* A q that is not cached is computed from the samples now. */
    assert_near(ld_latency_quantile(l, now, 0.75), 5000, 5000 / 16.0);
    now = ld_ms(100);
    assert_near(ld_latency_quantile(l, now, 0.5), 5000, 5000 / 16.0);
    assert_near(ld_latency_quantile(l, now, 0.99), 5000, 5000 / 16.0);
    ld_latency_free(l);
}

static void test_latency_cache_refreshes_when_empty(void **state)
{
    (void)state;
    ld_latency *l = ld_latency_new(LW);
    assert_int_equal(ld_latency_quantile(l, 0, 0.95), -1);
    ld_latency_add(l, 1, 2500);
    /* Only 2 us later, but an empty cache is refreshed at once. */
    assert_int_equal(ld_latency_quantile(l, 2, 0.95), 2500);
    ld_latency_free(l);
}

static void test_latency_cache_refreshes_after_rotation(void **state)
{
    (void)state;
    ld_latency *l = ld_latency_new(LW);
    ld_us now = LW - 10;
    ld_latency_add(l, 0, 100);
    assert_int_equal(ld_latency_quantile(l, now, 0.9), 100);
    ld_latency_add(l, now, 100);
    now = LW; /* 10 us later, but a new window */
    for (int i = 0; i < 100; i++)
        ld_latency_add(l, now, 8000);
    assert_near(ld_latency_quantile(l, now, 0.9), 8000, 8000 / 16.0);
    ld_latency_free(l);
}

static void test_latency_is_deterministic(void **state)
{
    (void)state;
    ld_latency *a = ld_latency_new(LW), *b = ld_latency_new(LW);
    uint64_t seed = 99;
    ld_us now = 0;
    for (int i = 0; i < 5000; i++) {
        now += (ld_us)(lcg_next(&seed) % 2000);
        ld_us v = (ld_us)(lcg_next(&seed) % 3000000);
        ld_latency_add(a, now, v);
        ld_latency_add(b, now, v);
        if (i % 7 == 0) {
            assert_int_equal(ld_latency_quantile(a, now, 0.99),
                             ld_latency_quantile(b, now, 0.99));
            assert_int_equal(ld_latency_quantile(a, now, 0.5),
                             ld_latency_quantile(b, now, 0.5));
        }
    }
    assert_int_equal(ld_latency_count(a, now), ld_latency_count(b, now));
    ld_latency_free(a);
    ld_latency_free(b);
}

/* ---- ld_breaker ---------------------------------------------------------- */

static ld_breaker_cfg test_cfg(void)
{
    ld_breaker_cfg c;
    ld_breaker_cfg_default(&c);
    c.window = ld_s(10);
    c.min_requests = 10;
    c.failure_rate = 0.5;
    c.open_for = ld_s(5);
    c.half_open_probes = 1;
    return c;
}

/* Records n calls at now, `fails` of them failures (first). */
static void record_n(ld_breaker *b, ld_us now, int n, int fails)
{
    for (int i = 0; i < n; i++)
        ld_breaker_record(b, now, i < fails, ld_ms(10), NULL);
}

/* Opens b at now with 10 failures. */
static void open_breaker(ld_breaker *b, ld_us now)
{
    record_n(b, now, 10, 10);
    assert_int_equal(ld_breaker_state_at(b, now, NULL), LD_BREAKER_OPEN);
}

static void test_breaker_cfg_default_values(void **state)
{
    (void)state;
    ld_breaker_cfg c;
    ld_breaker_cfg_default(&c);
    assert_int_equal(c.window, ld_s(30));
    assert_int_equal(c.min_requests, 10);
    assert_near(c.failure_rate, 0.5, 0.0);
    assert_int_equal(c.slow_call, 0);
    assert_int_equal(c.open_for, ld_s(30));
    assert_int_equal(c.half_open_probes, 1);
    ld_breaker *b = ld_breaker_new(&c);
    assert_non_null(b);
    ld_breaker_free(b);
    ld_breaker_free(NULL);
}

static void test_breaker_new_rejects_bad_cfg(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    assert_null(ld_breaker_new(NULL));
    c.window = 0;
    assert_null(ld_breaker_new(&c));
    c = test_cfg();
    c.min_requests = 0;
    assert_null(ld_breaker_new(&c));
    c = test_cfg();
    c.failure_rate = 0.0;
    assert_null(ld_breaker_new(&c));
    c.failure_rate = 1.5;
    assert_null(ld_breaker_new(&c));
    c.failure_rate = NAN;
    assert_null(ld_breaker_new(&c));
    c = test_cfg();
    c.slow_call = ld_ms(100);
    c.slow_call_rate = 0.0;
    assert_null(ld_breaker_new(&c));
    c = test_cfg();
    c.open_for = 0;
    assert_null(ld_breaker_new(&c));
    c = test_cfg();
    c.half_open_probes = 0;
    assert_null(ld_breaker_new(&c));
}

static void test_breaker_state_names(void **state)
{
    (void)state;
    assert_string_equal(ld_breaker_state_name(LD_BREAKER_CLOSED), "closed");
    assert_string_equal(ld_breaker_state_name(LD_BREAKER_OPEN), "open");
    assert_string_equal(ld_breaker_state_name(LD_BREAKER_HALF_OPEN),
                        "half_open");
}

static void test_breaker_stays_closed_below_min_requests(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    ld_breaker *b = ld_breaker_new(&c);
    record_n(b, 0, 9, 9); /* 100% failures, but only 9 calls */
    assert_int_equal(ld_breaker_state_at(b, 0, NULL), LD_BREAKER_CLOSED);
    assert_true(ld_breaker_acquire(b, 0, NULL));
    ld_breaker_free(b);
}

static void test_breaker_opens_after_failure_rate(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    ld_breaker *b = ld_breaker_new(&c);
    ld_us now = ld_s(1);
    ld_breaker_transition tr;
    for (int i = 0; i < 5; i++)
        ld_breaker_record(b, now, false, ld_ms(10), NULL);
    for (int i = 0; i < 4; i++) {
        ld_breaker_record(b, now, true, ld_ms(10), &tr);
        assert_false(tr.changed);
    }
    assert_int_equal(ld_breaker_state_at(b, now, NULL), LD_BREAKER_CLOSED);
    ld_breaker_record(b, now, true, ld_ms(10), &tr); /* 5 of 10 = 50% */
    assert_true(tr.changed);
    assert_int_equal(tr.from, LD_BREAKER_CLOSED);
    assert_int_equal(tr.to, LD_BREAKER_OPEN);
    assert_int_equal(ld_breaker_state_at(b, now, NULL), LD_BREAKER_OPEN);
    assert_false(ld_breaker_acquire(b, now, NULL));
    ld_breaker_free(b);
}

static void test_breaker_stays_closed_below_failure_rate(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    ld_breaker *b = ld_breaker_new(&c);
    /* 4 failures in 10, then a success each time a failure arrives. */
    record_n(b, 0, 10, 4);
    for (int i = 0; i < 20; i++) {
        ld_breaker_record(b, ld_ms(i), i % 2 == 0, ld_ms(10), NULL);
        assert_int_equal(ld_breaker_state_at(b, ld_ms(i), NULL),
                         LD_BREAKER_CLOSED);
    }
    ld_breaker_free(b);
}

static void test_breaker_opens_on_slow_call_rate(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    c.slow_call = ld_ms(500);
    c.slow_call_rate = 0.8;
    ld_breaker *b = ld_breaker_new(&c);
    ld_breaker_transition tr;
    /* Successes all; 2 fast, then slow ones (>= slow_call counts). */
    ld_breaker_record(b, 0, false, ld_ms(10), NULL);
    ld_breaker_record(b, 0, false, ld_ms(499), NULL);
    for (int i = 0; i < 7; i++)
        ld_breaker_record(b, 0, false, ld_ms(500), NULL);
    assert_int_equal(ld_breaker_state_at(b, 0, NULL), LD_BREAKER_CLOSED);
    ld_breaker_record(b, 0, false, ld_s(3), &tr); /* 8 of 10 slow */
    assert_true(tr.changed);
    assert_int_equal(tr.to, LD_BREAKER_OPEN);
    ld_breaker_free(b);
}

static void test_breaker_ignores_slow_calls_when_disabled(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    c.slow_call = 0;
    c.slow_call_rate = 0.1;
    ld_breaker *b = ld_breaker_new(&c);
    for (int i = 0; i < 50; i++)
        ld_breaker_record(b, 0, false, ld_s(60), NULL);
    assert_int_equal(ld_breaker_state_at(b, 0, NULL), LD_BREAKER_CLOSED);
    ld_breaker_free(b);
}

static void test_breaker_forgets_old_failures_after_window(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg(); /* window 10 s: 1 s buckets */
    ld_breaker *b = ld_breaker_new(&c);
    record_n(b, ld_ms(500), 9, 9);
    /* 9.999 s later the failures are still in the window... */
    ld_breaker *b2 = ld_breaker_new(&c);
    record_n(b2, ld_ms(500), 9, 9);
    ld_breaker_record(b2, ld_ms(9999), true, 0, NULL);
    assert_int_equal(ld_breaker_state_at(b2, ld_ms(9999), NULL),
                     LD_BREAKER_OPEN);
    /* ...but once their bucket slides out they are gone. */
    ld_breaker_record(b, ld_s(10), true, 0, NULL);
    assert_int_equal(ld_breaker_state_at(b, ld_s(10), NULL),
                     LD_BREAKER_CLOSED);
    record_n(b, ld_s(10), 8, 8); /* 9 failures in the window now */
    assert_int_equal(ld_breaker_state_at(b, ld_s(10), NULL),
                     LD_BREAKER_CLOSED);
    ld_breaker_record(b, ld_s(11), true, 0, NULL);
    assert_int_equal(ld_breaker_state_at(b, ld_s(11), NULL),
                     LD_BREAKER_OPEN);
    ld_breaker_free(b);
    ld_breaker_free(b2);
}

static void test_breaker_old_successes_slide_out_too(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    ld_breaker *b = ld_breaker_new(&c);
    record_n(b, 0, 20, 0);   /* 20 successes at t=0 */
    record_n(b, ld_s(5), 10, 9); /* 9 failures in 30: 30% */
    assert_int_equal(ld_breaker_state_at(b, ld_s(5), NULL),
                     LD_BREAKER_CLOSED);
    /* At t=10 s the successes have left: 10 failures of 11 calls. */
    ld_breaker_record(b, ld_s(10), true, 0, NULL);
    assert_int_equal(ld_breaker_state_at(b, ld_s(10), NULL),
                     LD_BREAKER_OPEN);
    ld_breaker_free(b);
}

static void test_breaker_half_open_after_open_for(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    ld_breaker *b = ld_breaker_new(&c);
    ld_us t0 = ld_s(2);
    ld_breaker_transition tr;
    open_breaker(b, t0);
    assert_int_equal(ld_breaker_state_at(b, t0 + c.open_for - 1, &tr),
                     LD_BREAKER_OPEN);
    assert_false(tr.changed);
    assert_false(ld_breaker_acquire(b, t0 + c.open_for - 1, NULL));
    assert_int_equal(ld_breaker_state_at(b, t0 + c.open_for, &tr),
                     LD_BREAKER_HALF_OPEN);
    assert_true(tr.changed);
    assert_int_equal(tr.from, LD_BREAKER_OPEN);
    assert_int_equal(tr.to, LD_BREAKER_HALF_OPEN);
    /* Reported once. */
    assert_int_equal(ld_breaker_state_at(b, t0 + c.open_for + 1, &tr),
                     LD_BREAKER_HALF_OPEN);
    assert_false(tr.changed);
    ld_breaker_free(b);
}

static void test_breaker_acquire_moves_to_half_open(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    ld_breaker *b = ld_breaker_new(&c);
    ld_breaker_transition tr;
    open_breaker(b, 0);
    assert_true(ld_breaker_acquire(b, c.open_for, &tr));
    assert_true(tr.changed);
    assert_int_equal(tr.from, LD_BREAKER_OPEN);
    assert_int_equal(tr.to, LD_BREAKER_HALF_OPEN);
    ld_breaker_free(b);
}

static void test_breaker_half_open_limits_probes(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    c.half_open_probes = 2;
    ld_breaker *b = ld_breaker_new(&c);
    ld_breaker_transition tr;
    open_breaker(b, 0);
    ld_us now = c.open_for;
    assert_true(ld_breaker_acquire(b, now, NULL));
    assert_true(ld_breaker_acquire(b, now, &tr));
    assert_false(tr.changed);
    assert_false(ld_breaker_acquire(b, now, &tr));
    assert_false(tr.changed);
    assert_false(ld_breaker_acquire(b, now + ld_s(100), NULL));
    assert_int_equal(ld_breaker_state_at(b, now, NULL), LD_BREAKER_HALF_OPEN);
    ld_breaker_free(b);
}

static void test_breaker_half_open_success_closes(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    ld_breaker *b = ld_breaker_new(&c);
    ld_breaker_transition tr;
    open_breaker(b, 0);
    ld_us now = c.open_for;
    assert_true(ld_breaker_acquire(b, now, NULL));
    ld_breaker_record(b, now + 10, false, ld_ms(10), &tr);
    assert_true(tr.changed);
    assert_int_equal(tr.from, LD_BREAKER_HALF_OPEN);
    assert_int_equal(tr.to, LD_BREAKER_CLOSED);
    assert_int_equal(ld_breaker_state_at(b, now + 10, NULL),
                     LD_BREAKER_CLOSED);
    /* The window was cleared: the 10 failures that opened it are gone
     * (they are still within `window` of now), so it takes min_requests
     * new calls to open again. */
    record_n(b, now + 20, 9, 9);
    assert_int_equal(ld_breaker_state_at(b, now + 20, NULL),
                     LD_BREAKER_CLOSED);
    ld_breaker_record(b, now + 20, true, 0, NULL);
    assert_int_equal(ld_breaker_state_at(b, now + 20, NULL), LD_BREAKER_OPEN);
    ld_breaker_free(b);
}

static void test_breaker_half_open_failure_reopens(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    ld_breaker *b = ld_breaker_new(&c);
    ld_breaker_transition tr;
    open_breaker(b, 0);
    ld_us now = c.open_for + ld_s(1);
    assert_true(ld_breaker_acquire(b, now, NULL));
    ld_us failed_at = now + ld_ms(300);
    ld_breaker_record(b, failed_at, true, ld_ms(300), &tr);
    assert_true(tr.changed);
    assert_int_equal(tr.from, LD_BREAKER_HALF_OPEN);
    assert_int_equal(tr.to, LD_BREAKER_OPEN);
    /* open_for counts from the failed probe. */
    assert_false(ld_breaker_acquire(b, failed_at + c.open_for - 1, NULL));
    assert_int_equal(ld_breaker_state_at(b, failed_at + c.open_for, NULL),
                     LD_BREAKER_HALF_OPEN);
    /* The probe slot is free again. */
    assert_true(ld_breaker_acquire(b, failed_at + c.open_for, NULL));
    ld_breaker_free(b);
}

/* A probe still in flight when another one reopened the breaker ends while
 * open and counts nothing; its slot must not stay taken. */
static void test_breaker_reopen_frees_probe_slots(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    c.half_open_probes = 2;
    ld_breaker *b = ld_breaker_new(&c);
    open_breaker(b, 0);
    ld_us now = c.open_for;
    assert_true(ld_breaker_acquire(b, now, NULL));
    assert_true(ld_breaker_acquire(b, now, NULL));
    ld_breaker_record(b, now + 1, true, 0, NULL); /* first probe fails */
    ld_breaker_record(b, now + 2, true, 0, NULL); /* second, while open */
    now += 1 + c.open_for;
    assert_true(ld_breaker_acquire(b, now, NULL));
    assert_true(ld_breaker_acquire(b, now, NULL));
    assert_false(ld_breaker_acquire(b, now, NULL));
    ld_breaker_free(b);
}

static void test_breaker_release_frees_probe(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    ld_breaker *b = ld_breaker_new(&c);
    open_breaker(b, 0);
    ld_us now = c.open_for;
    assert_true(ld_breaker_acquire(b, now, NULL));
    assert_false(ld_breaker_acquire(b, now, NULL));
    ld_breaker_release(b);
    assert_int_equal(ld_breaker_state_at(b, now, NULL), LD_BREAKER_HALF_OPEN);
    assert_true(ld_breaker_acquire(b, now, NULL));
    assert_false(ld_breaker_acquire(b, now, NULL));
    ld_breaker_free(b);
}

static void test_breaker_release_without_probe_is_harmless(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    c.half_open_probes = 1;
    ld_breaker *b = ld_breaker_new(&c);
    ld_breaker_release(b); /* closed, nothing in flight */
    ld_breaker_release(b);
    ld_breaker_release(NULL);
    open_breaker(b, 0);
    ld_breaker_release(b);
    /* No extra probe slots were created by the releases. */
    assert_true(ld_breaker_acquire(b, c.open_for, NULL));
    assert_false(ld_breaker_acquire(b, c.open_for, NULL));
    ld_breaker_free(b);
}

static void test_breaker_late_record_while_open_counts_nothing(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    ld_breaker *b = ld_breaker_new(&c);
    ld_breaker_transition tr;
    open_breaker(b, 0);
    ld_breaker_record(b, ld_s(1), false, ld_ms(10), &tr);
    assert_false(tr.changed);
    assert_int_equal(tr.from, LD_BREAKER_OPEN);
    assert_int_equal(tr.to, LD_BREAKER_OPEN);
    ld_breaker_record(b, ld_s(2), true, ld_ms(10), &tr);
    assert_false(tr.changed);
    assert_int_equal(ld_breaker_state_at(b, c.open_for - 1, NULL),
                     LD_BREAKER_OPEN);
    /* Still half-open on time, not delayed by the late failure. */
    assert_int_equal(ld_breaker_state_at(b, c.open_for, NULL),
                     LD_BREAKER_HALF_OPEN);
    ld_breaker_free(b);
}

static void test_breaker_reports_no_transition_when_nothing_changes(
    void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    ld_breaker *b = ld_breaker_new(&c);
    ld_breaker_transition tr = {true, LD_BREAKER_OPEN, LD_BREAKER_OPEN};
    assert_int_equal(ld_breaker_state_at(b, 0, &tr), LD_BREAKER_CLOSED);
    assert_false(tr.changed);
    assert_int_equal(tr.from, LD_BREAKER_CLOSED);
    assert_int_equal(tr.to, LD_BREAKER_CLOSED);
    tr.changed = true;
    assert_true(ld_breaker_acquire(b, 0, &tr));
    assert_false(tr.changed);
    tr.changed = true;
    ld_breaker_record(b, 0, false, 0, &tr);
    assert_false(tr.changed);
    assert_int_equal(tr.to, LD_BREAKER_CLOSED);
    ld_breaker_free(b);
}

/* One full cycle, collecting every transition reported. */
static void test_breaker_reports_each_transition_once(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    ld_breaker *b = ld_breaker_new(&c);
    ld_breaker_transition tr;
    ld_breaker_state seen[8][2];
    int n = 0;
    ld_us now = 0;
    for (int i = 0; i < 200; i++, now += ld_ms(100)) {
        /* Fails until t=12 s, then succeeds. */
        bool fail = now < ld_s(12);
        if (ld_breaker_acquire(b, now, &tr)) {
            if (tr.changed && n < 8) {
                seen[n][0] = tr.from;
                seen[n++][1] = tr.to;
            }
            ld_breaker_record(b, now, fail, ld_ms(50), &tr);
        }
        if (tr.changed && n < 8) {
            seen[n][0] = tr.from;
            seen[n++][1] = tr.to;
        }
    }
    /* closed->open (t=0.9), open->half (5.9), half->open (5.9),
     * open->half (10.9), half->open (10.9), open->half (15.9),
     * half->closed (15.9). */
    static const ld_breaker_state want[][2] = {
        {LD_BREAKER_CLOSED, LD_BREAKER_OPEN},
        {LD_BREAKER_OPEN, LD_BREAKER_HALF_OPEN},
        {LD_BREAKER_HALF_OPEN, LD_BREAKER_OPEN},
        {LD_BREAKER_OPEN, LD_BREAKER_HALF_OPEN},
        {LD_BREAKER_HALF_OPEN, LD_BREAKER_OPEN},
        {LD_BREAKER_OPEN, LD_BREAKER_HALF_OPEN},
        {LD_BREAKER_HALF_OPEN, LD_BREAKER_CLOSED},
    };
    assert_int_equal(n, 7);
    for (int i = 0; i < n; i++) {
        assert_int_equal(seen[i][0], want[i][0]);
        assert_int_equal(seen[i][1], want[i][1]);
    }
    assert_int_equal(ld_breaker_state_at(b, now, NULL), LD_BREAKER_CLOSED);
    ld_breaker_free(b);
}

static void test_breaker_tiny_window_and_negative_times(void **state)
{
    (void)state;
    ld_breaker_cfg c = test_cfg();
    c.window = 3; /* shorter than 10 buckets of 1 us */
    c.min_requests = 2;
    ld_breaker *b = ld_breaker_new(&c);
    ld_breaker_record(b, -100, true, 0, NULL);
    ld_breaker_record(b, -95, false, 0, NULL); /* 1 of 2 within 10 us */
    assert_int_equal(ld_breaker_state_at(b, -95, NULL), LD_BREAKER_OPEN);
    ld_breaker_free(b);
    b = ld_breaker_new(&c);
    ld_breaker_record(b, -100, true, 0, NULL);
    ld_breaker_record(b, -90, false, 0, NULL); /* the first slid out */
    assert_int_equal(ld_breaker_state_at(b, -90, NULL), LD_BREAKER_CLOSED);
    ld_breaker_free(b);
}

/* ---- ld_retry_budget ----------------------------------------------------- */

static void test_retry_budget_new_rejects_bad_args(void **state)
{
    (void)state;
    assert_null(ld_retry_budget_new(-0.1, 0, ld_s(10)));
    assert_null(ld_retry_budget_new(0.1, -1, ld_s(10)));
    assert_null(ld_retry_budget_new(0.1, 0, 0));
    assert_null(ld_retry_budget_new(NAN, 0, ld_s(10)));
    assert_null(ld_retry_budget_new(0.1, NAN, ld_s(10)));
    ld_retry_budget_free(NULL);
}

static void test_retry_budget_zero_ratio_and_floor_never_allows(void **state)
{
    (void)state;
    ld_retry_budget *rb = ld_retry_budget_new(0.0, 0.0, ld_s(10));
    assert_false(ld_retry_budget_try_spend(rb, 0));
    for (int i = 0; i < 1000; i++)
        ld_retry_budget_on_request(rb, ld_ms(i));
    assert_false(ld_retry_budget_try_spend(rb, ld_s(1)));
    ld_retry_budget_free(rb);
}

static void test_retry_budget_allows_ratio_of_requests(void **state)
{
    (void)state;
    ld_retry_budget *rb = ld_retry_budget_new(0.2, 0.0, ld_s(10));
    ld_us now = ld_s(3);
    for (int i = 0; i < 100; i++)
        ld_retry_budget_on_request(rb, now);
    for (int i = 0; i < 20; i++)
        assert_true(ld_retry_budget_try_spend(rb, now));
    assert_false(ld_retry_budget_try_spend(rb, now));
    /* Refused attempts are not counted: 5 more requests allow 1 more. */
    for (int i = 0; i < 5; i++)
        ld_retry_budget_on_request(rb, now);
    assert_true(ld_retry_budget_try_spend(rb, now));
    assert_false(ld_retry_budget_try_spend(rb, now));
    ld_retry_budget_free(rb);
}

static void test_retry_budget_ratio_survives_rounding(void **state)
{
    (void)state;
    /* 0.29 * 100 is 28.999999999999996 in doubles. */
    ld_retry_budget *rb = ld_retry_budget_new(0.29, 0.0, ld_s(10));
    for (int i = 0; i < 100; i++)
        ld_retry_budget_on_request(rb, 0);
    for (int i = 0; i < 29; i++)
        assert_true(ld_retry_budget_try_spend(rb, 0));
    assert_false(ld_retry_budget_try_spend(rb, 0));
    ld_retry_budget_free(rb);
}

static void test_retry_budget_min_per_s_floor(void **state)
{
    (void)state;
    /* 2 per second over a 5 s window: 10 retries with no requests at all. */
    ld_retry_budget *rb = ld_retry_budget_new(0.1, 2.0, ld_s(5));
    ld_us now = 0;
    for (int i = 0; i < 10; i++)
        assert_true(ld_retry_budget_try_spend(rb, now));
    assert_false(ld_retry_budget_try_spend(rb, now));
    /* The ratio adds to the floor. */
    for (int i = 0; i < 10; i++)
        ld_retry_budget_on_request(rb, now);
    assert_true(ld_retry_budget_try_spend(rb, now));
    assert_false(ld_retry_budget_try_spend(rb, now));
    ld_retry_budget_free(rb);
}

static void test_retry_budget_exhausts_and_refills_as_window_slides(
    void **state)
{
    (void)state;
    ld_retry_budget *rb = ld_retry_budget_new(0.5, 0.0, ld_s(10));
    /* t=0: 10 requests, 5 retries, exhausted. */
    for (int i = 0; i < 10; i++)
        ld_retry_budget_on_request(rb, 0);
    for (int i = 0; i < 5; i++)
        assert_true(ld_retry_budget_try_spend(rb, 0));
    assert_false(ld_retry_budget_try_spend(rb, ld_ms(999)));
    /* t=5 s: 10 more requests make room for 5 more. */
    for (int i = 0; i < 10; i++)
        ld_retry_budget_on_request(rb, ld_s(5));
    for (int i = 0; i < 5; i++)
        assert_true(ld_retry_budget_try_spend(rb, ld_s(5)));
    assert_false(ld_retry_budget_try_spend(rb, ld_s(5)));
    assert_false(ld_retry_budget_try_spend(rb, ld_s(10) - 1));
    /* t=10 s: the t=0 bucket left; 10 requests and 5 retries remain. */
    assert_false(ld_retry_budget_try_spend(rb, ld_s(10)));
    ld_retry_budget_on_request(rb, ld_s(10));
    assert_false(ld_retry_budget_try_spend(rb, ld_s(10))); /* 5.5 */
    ld_retry_budget_on_request(rb, ld_s(10));
    assert_true(ld_retry_budget_try_spend(rb, ld_s(10))); /* 6 */
    assert_false(ld_retry_budget_try_spend(rb, ld_s(10)));
    /* t=15 s: the t=5 s bucket left too: 2 requests, 1 retry. */
    assert_false(ld_retry_budget_try_spend(rb, ld_s(15)));
    ld_retry_budget_on_request(rb, ld_s(15));
    ld_retry_budget_on_request(rb, ld_s(15));
    assert_true(ld_retry_budget_try_spend(rb, ld_s(15)));
    /* Long idle: everything forgotten. */
    assert_false(ld_retry_budget_try_spend(rb, ld_s(1000)));
    ld_retry_budget_on_request(rb, ld_s(1000));
    ld_retry_budget_on_request(rb, ld_s(1000));
    assert_true(ld_retry_budget_try_spend(rb, ld_s(1000)));
    assert_false(ld_retry_budget_try_spend(rb, ld_s(1000)));
    ld_retry_budget_free(rb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_new_rejects_bad_sub_bits),
        cmocka_unit_test(test_hist_empty_quantile_is_minus_one),
        cmocka_unit_test(test_hist_uniform_quantiles_within_relative_error),
        cmocka_unit_test(test_hist_bucket_midpoint_within_half_bucket),
        cmocka_unit_test(test_hist_small_values_are_exact),
        cmocka_unit_test(test_hist_mean_min_max_are_exact),
        cmocka_unit_test(test_hist_quantile_ends_are_min_and_max),
        cmocka_unit_test(test_hist_single_value_quantiles_are_exact),
        cmocka_unit_test(test_hist_negative_values_count_as_zero),
        cmocka_unit_test(test_hist_add_n_matches_repeated_add),
        cmocka_unit_test(test_hist_merge_equals_adding_to_one),
        cmocka_unit_test(test_hist_merge_empty_and_into_empty),
        cmocka_unit_test(test_hist_merge_rejects_different_sub_bits),
        cmocka_unit_test(
            test_hist_huge_values_go_to_top_bucket_keep_exact_max),
        cmocka_unit_test(test_hist_reset_forgets_everything),
        cmocka_unit_test(test_latency_new_rejects_nonpositive_window),
        cmocka_unit_test(test_latency_empty_is_minus_one),
        cmocka_unit_test(
            test_latency_quantiles_cover_current_and_previous_window),
        cmocka_unit_test(test_latency_forgets_samples_after_two_windows),
        cmocka_unit_test(test_latency_long_gap_clears_both_windows),
        cmocka_unit_test(test_latency_cache_holds_until_refresh_interval),
        cmocka_unit_test(test_latency_cache_refreshes_when_empty),
        cmocka_unit_test(test_latency_cache_refreshes_after_rotation),
        cmocka_unit_test(test_latency_is_deterministic),
        cmocka_unit_test(test_breaker_cfg_default_values),
        cmocka_unit_test(test_breaker_new_rejects_bad_cfg),
        cmocka_unit_test(test_breaker_state_names),
        cmocka_unit_test(test_breaker_stays_closed_below_min_requests),
        cmocka_unit_test(test_breaker_opens_after_failure_rate),
        cmocka_unit_test(test_breaker_stays_closed_below_failure_rate),
        cmocka_unit_test(test_breaker_opens_on_slow_call_rate),
        cmocka_unit_test(test_breaker_ignores_slow_calls_when_disabled),
        cmocka_unit_test(test_breaker_forgets_old_failures_after_window),
        cmocka_unit_test(test_breaker_old_successes_slide_out_too),
        cmocka_unit_test(test_breaker_half_open_after_open_for),
        cmocka_unit_test(test_breaker_acquire_moves_to_half_open),
        cmocka_unit_test(test_breaker_half_open_limits_probes),
        cmocka_unit_test(test_breaker_half_open_success_closes),
        cmocka_unit_test(test_breaker_half_open_failure_reopens),
        cmocka_unit_test(test_breaker_reopen_frees_probe_slots),
        cmocka_unit_test(test_breaker_release_frees_probe),
        cmocka_unit_test(test_breaker_release_without_probe_is_harmless),
        cmocka_unit_test(test_breaker_late_record_while_open_counts_nothing),
        cmocka_unit_test(
            test_breaker_reports_no_transition_when_nothing_changes),
        cmocka_unit_test(test_breaker_reports_each_transition_once),
        cmocka_unit_test(test_breaker_tiny_window_and_negative_times),
        cmocka_unit_test(test_retry_budget_new_rejects_bad_args),
        cmocka_unit_test(test_retry_budget_zero_ratio_and_floor_never_allows),
        cmocka_unit_test(test_retry_budget_allows_ratio_of_requests),
        cmocka_unit_test(test_retry_budget_ratio_survives_rounding),
        cmocka_unit_test(test_retry_budget_min_per_s_floor),
        cmocka_unit_test(
            test_retry_budget_exhausts_and_refills_as_window_slides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
