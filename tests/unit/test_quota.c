/* test_quota.c - per key windowed limits (ld_quota.h). */
#include <stdlib.h>

#include "testutil.h"

#include "ld_quota.h"

/* 2027-01-15 00:00:00 UTC */
#define JAN15 ((ld_us)1799971200 * LD_US_PER_S)
#define DAY ((ld_us)86400 * LD_US_PER_S)

static ld_quota *one(int64_t rpm, int64_t tpm, double day, double month)
{
    ld_key_limits l = {rpm, tpm, day, month};
    ld_quota *q = ld_quota_new(1, &l);
    assert_non_null(q);
    return q;
}

static void test_rpm_refuses_the_request_over_the_limit_until_the_next_minute(void **state)
{
    (void)state;
    ld_quota *q = one(3, 0, 0, 0);
    ld_us t = JAN15 + ld_s(20), reopen = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(ld_quota_take(q, 0, t + i, 10, 0, &reopen), LD_QUOTA_OK);
    assert_int_equal(ld_quota_take(q, 0, t + 5, 10, 0, &reopen), LD_QUOTA_RPM);
    assert_int_equal(reopen, JAN15 + ld_s(60));
    /* the next minute opens a fresh window */
    assert_int_equal(ld_quota_take(q, 0, JAN15 + ld_s(60), 10, 0, &reopen),
                     LD_QUOTA_OK);
    ld_quota_free(q);
}

static void test_tpm_counts_estimated_tokens(void **state)
{
    (void)state;
    ld_quota *q = one(0, 1000, 0, 0);
    ld_us reopen;
    assert_int_equal(ld_quota_take(q, 0, JAN15, 600, 0, &reopen), LD_QUOTA_OK);
    assert_int_equal(ld_quota_take(q, 0, JAN15, 600, 0, &reopen), LD_QUOTA_TPM);
    /* settling with fewer tokens gives room back */
    assert_int_equal(ld_quota_settle(q, 0, JAN15, 600, 0, 100, 0), LD_OK);
    assert_int_equal(ld_quota_take(q, 0, JAN15, 600, 0, &reopen), LD_QUOTA_OK);
    ld_quota_usage u;
    assert_int_equal(ld_quota_usage_get(q, 0, JAN15, &u), LD_OK);
    assert_int_equal(u.tokens, 700);
    assert_int_equal(u.requests, 2);
    ld_quota_free(q);
}

static void test_day_budget_stops_spend_and_reopens_at_utc_midnight(void **state)
{
    (void)state;
    ld_quota *q = one(0, 0, 1.0, 0);
    ld_us t = JAN15 + ld_s(3600 * 23), reopen = 0;
    assert_int_equal(ld_quota_take(q, 0, t, 0, 0.6, &reopen), LD_QUOTA_OK);
    assert_int_equal(ld_quota_settle(q, 0, t, 0, 0.6, 0, 0.9), LD_OK);
    assert_int_equal(ld_quota_take(q, 0, t, 0, 0.2, &reopen), LD_QUOTA_USD_DAY);
    assert_int_equal(reopen, JAN15 + DAY);
    assert_int_equal(ld_quota_take(q, 0, JAN15 + DAY, 0, 0.2, &reopen),
                     LD_QUOTA_OK);
    ld_quota_free(q);
}

static void test_month_budget_rolls_over_on_the_first(void **state)
{
    (void)state;
    ld_quota *q = one(0, 0, 0, 5.0);
    ld_us reopen = 0;
    assert_int_equal(ld_quota_take(q, 0, JAN15, 0, 4.0, &reopen), LD_QUOTA_OK);
    assert_int_equal(ld_quota_take(q, 0, JAN15 + 10 * DAY, 0, 2.0, &reopen),
                     LD_QUOTA_USD_MONTH);
    /* 2027-02-01 00:00 UTC */
    assert_int_equal(reopen, JAN15 + 17 * DAY);
    assert_int_equal(ld_quota_take(q, 0, JAN15 + 17 * DAY, 0, 2.0, &reopen),
                     LD_QUOTA_OK);
    ld_quota_free(q);
}

static void test_next_month_handles_december_and_leap_february(void **state)
{
    (void)state;
    /* 2026-12-31 12:00 UTC -> 2027-01-01 */
    assert_int_equal(ld_quota_next_month(JAN15 - 14 * DAY - ld_s(43200)),
                     JAN15 - 14 * DAY);
    /* 2028-02-10 -> 2028-03-01: 2028-01-01 is JAN15 - 14 days + 365 days */
    ld_us y2028 = JAN15 - 14 * DAY + 365 * DAY;
    assert_int_equal(ld_quota_next_month(y2028 + 40 * DAY),
                     y2028 + (31 + 29) * DAY);
}

static void test_a_settle_after_the_window_closed_keeps_the_estimate(void **state)
{
    (void)state;
    ld_quota *q = one(0, 0, 1.0, 0);
    ld_us reopen;
    assert_int_equal(ld_quota_take(q, 0, JAN15 - ld_s(1), 0, 0.5, &reopen),
                     LD_QUOTA_OK);
    assert_int_equal(ld_quota_take(q, 0, JAN15, 0, 0.5, &reopen), LD_QUOTA_OK);
    /* yesterday's request settles today: today's spend is untouched */
    assert_int_equal(ld_quota_settle(q, 0, JAN15 - ld_s(1), 0, 0.5, 0, 0.9),
                     LD_OK);
    ld_quota_usage u;
    ld_quota_usage_get(q, 0, JAN15, &u);
    assert_near(u.usd_day, 0.5, 1e-12);
    ld_quota_free(q);
}

static void test_bad_arguments_are_refused(void **state)
{
    (void)state;
    ld_quota *q = one(1, 0, 0, 0);
    assert_int_equal(ld_quota_take(q, 1, JAN15, 0, 0, NULL), LD_EINVAL);
    assert_int_equal(ld_quota_take(q, -1, JAN15, 0, 0, NULL), LD_EINVAL);
    assert_int_equal(ld_quota_take(q, 0, JAN15, -1, 0, NULL), LD_EINVAL);
    assert_int_equal(ld_quota_settle(q, 2, JAN15, 0, 0, 0, 0), LD_EINVAL);
    assert_null(ld_quota_new(0, NULL));
    assert_string_equal(ld_quota_limit_name(LD_QUOTA_USD_DAY), "usd_per_day");
    ld_quota_free(q);
    ld_quota_free(NULL);
}

static void test_a_reload_carries_a_key_s_spend_under_its_new_limits(void **state)
{
    (void)state;
    ld_quota *old = one(0, 0, 1.0, 0);
    ld_us t = JAN15 + ld_s(3600), reopen = 0;
    assert_int_equal(ld_quota_take(old, 0, t, 0, 0.7, &reopen), LD_QUOTA_OK);
    assert_int_equal(ld_quota_settle(old, 0, t, 0, 0.7, 0, 0.7), LD_OK);
    /* the reloaded file has another key first, and raises the day to $2 */
    ld_key_limits l[2] = {{0, 0, 0, 0}, {0, 0, 2.0, 0}};
    ld_quota *nq = ld_quota_new(2, l);
    assert_non_null(nq);
    assert_int_equal(ld_quota_adopt(nq, 1, old, 0), LD_OK);
    ld_quota_usage u;
    assert_int_equal(ld_quota_usage_get(nq, 1, t, &u), LD_OK);
    assert_near(u.usd_day, 0.7, 1e-9);
    assert_int_equal(u.requests, 1);
    /* $0.7 spent + $1.0 fits the new $2; + $1.5 does not */
    assert_int_equal(ld_quota_take(nq, 1, t, 0, 1.0, &reopen), LD_QUOTA_OK);
    assert_int_equal(ld_quota_take(nq, 1, t, 0, 0.5, &reopen), LD_QUOTA_USD_DAY);
    assert_int_equal(ld_quota_usage_get(nq, 0, t, &u), LD_OK);
    assert_int_equal(u.requests, 0);
    assert_int_equal(ld_quota_adopt(nq, 2, old, 0), LD_EINVAL);
    assert_int_equal(ld_quota_adopt(nq, 0, old, 1), LD_EINVAL);
    ld_quota_free(nq);
    ld_quota_free(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpm_refuses_the_request_over_the_limit_until_the_next_minute),
        cmocka_unit_test(test_tpm_counts_estimated_tokens),
        cmocka_unit_test(test_day_budget_stops_spend_and_reopens_at_utc_midnight),
        cmocka_unit_test(test_month_budget_rolls_over_on_the_first),
        cmocka_unit_test(test_next_month_handles_december_and_leap_february),
        cmocka_unit_test(test_a_settle_after_the_window_closed_keeps_the_estimate),
        cmocka_unit_test(test_bad_arguments_are_refused),
        cmocka_unit_test(test_a_reload_carries_a_key_s_spend_under_its_new_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
