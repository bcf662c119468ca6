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

/* ---- shared enforcement ----------------------------------------------- */

/* The store routers share (what Redis does with INCRBY): totals per key
 * and window, the delta added and the new total returned at once. */
typedef struct store {
    ld_quota_windows w;
    int64_t requests, tokens, uday, umonth;
} store;

static void store_sync(store *st, ld_quota *q, int key, ld_us wall)
{
    ld_quota_counts sent, tot;
    assert_true(ld_quota_drain(q, key, wall, &sent) >= 0);
    if (sent.w.minute != st->w.minute)
        st->requests = st->tokens = 0;
    if (sent.w.day != st->w.day)
        st->uday = 0;
    if (sent.w.month != st->w.month)
        st->umonth = 0;
    st->w = sent.w;
    st->requests += sent.requests;
    st->tokens += sent.tokens;
    st->uday += sent.uusd_day;
    st->umonth += sent.uusd_month;
    tot.w = st->w;
    tot.requests = st->requests;
    tot.tokens = st->tokens;
    tot.uusd_day = st->uday;
    tot.uusd_month = st->umonth;
    assert_int_equal(ld_quota_synced(q, key, &sent, &tot), LD_OK);
}

static void test_shared_mode_counts_the_fleets_totals_against_the_whole_limit(void **state)
{
    (void)state;
    ld_quota *a = one(5, 0, 0, 0), *b = one(5, 0, 0, 0);
    ld_quota_set_mode(a, true, 2);
    ld_quota_set_mode(b, true, 2);
    assert_true(ld_quota_is_shared(a));
    store st = {{0, 0, 0}, 0, 0, 0, 0};
    ld_us t = JAN15 + ld_s(1), reopen = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(ld_quota_take(a, 0, t, 1, 0, NULL), LD_QUOTA_OK);
    store_sync(&st, a, 0, t);
    store_sync(&st, b, 0, t);
    /* b has seen a's 3: two more fit the fleet's 5, not the 2.5 share */
    assert_int_equal(ld_quota_take(b, 0, t, 1, 0, NULL), LD_QUOTA_OK);
    assert_int_equal(ld_quota_take(b, 0, t, 1, 0, NULL), LD_QUOTA_OK);
    assert_int_equal(ld_quota_take(b, 0, t, 1, 0, &reopen), LD_QUOTA_RPM);
    assert_int_equal(reopen, JAN15 + ld_s(60));
    ld_quota_usage u;
    ld_quota_fleet_get(b, 0, t, &u);
    assert_int_equal(u.requests, 5);
    assert_int_equal(u.tokens, 5);
    /* its own counters hold only its own */
    ld_quota_usage_get(b, 0, t, &u);
    assert_int_equal(u.requests, 2);
    ld_quota_free(a);
    ld_quota_free(b);
}

static void test_local_mode_enforces_each_routers_share(void **state)
{
    (void)state;
    ld_quota *q = one(10, 0, 1.0, 0);
    ld_quota_set_mode(q, false, 2);
    ld_us t = JAN15 + ld_s(1);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ld_quota_take(q, 0, t, 0, 0, NULL), LD_QUOTA_OK);
    assert_int_equal(ld_quota_take(q, 0, t, 0, 0, NULL), LD_QUOTA_RPM);
    /* the day budget's share is 0.5 */
    assert_int_equal(ld_quota_take(q, 0, t + ld_s(60), 0, 0.4, NULL),
                     LD_QUOTA_OK);
    assert_int_equal(ld_quota_take(q, 0, t + ld_s(60), 0, 0.2, NULL),
                     LD_QUOTA_USD_DAY);
    /* a share is at least one request */
    ld_quota *r = one(3, 0, 0, 0);
    ld_quota_set_mode(r, false, 8);
    assert_int_equal(ld_quota_take(r, 0, t, 0, 0, NULL), LD_QUOTA_OK);
    assert_int_equal(ld_quota_take(r, 0, t, 0, 0, NULL), LD_QUOTA_RPM);
    ld_quota_free(q);
    ld_quota_free(r);
}

static void test_drain_moves_pending_in_flight_and_unsent_puts_it_back(void **state)
{
    (void)state;
    ld_quota *q = one(0, 0, 10.0, 0);
    ld_quota_set_mode(q, true, 1);
    ld_us t = JAN15 + ld_s(1);
    assert_int_equal(ld_quota_take(q, 0, t, 100, 0.0000015, NULL), LD_QUOTA_OK);
    ld_quota_counts sent, again;
    assert_int_equal(ld_quota_drain(q, 0, t, &sent), 1);
    assert_int_equal(sent.requests, 1);
    assert_int_equal(sent.tokens, 100);
    /* whole micro-dollars leave, the half stays */
    assert_int_equal(sent.uusd_day, 1);
    assert_int_equal(sent.w.day, JAN15 / DAY);
    /* in flight still counts */
    ld_quota_usage u;
    ld_quota_fleet_get(q, 0, t, &u);
    assert_int_equal(u.requests, 1);
    assert_near(u.usd_day, 0.0000015, 1e-12);
    assert_int_equal(ld_quota_drain(q, 0, t, &again), 0);
    assert_int_equal(ld_quota_unsent(q, 0, &sent), LD_OK);
    assert_int_equal(ld_quota_drain(q, 0, t, &again), 1);
    assert_int_equal(again.requests, 1);
    assert_int_equal(again.uusd_day, 1);
    ld_quota_fleet_get(q, 0, t, &u);
    assert_int_equal(u.tokens, 100);
    ld_quota_free(q);
}

static void test_settle_sends_the_difference_to_the_fleet(void **state)
{
    (void)state;
    ld_quota *q = one(0, 0, 1.0, 0);
    ld_quota_set_mode(q, true, 1);
    store st = {{0, 0, 0}, 0, 0, 0, 0};
    ld_us t = JAN15 + ld_s(1);
    assert_int_equal(ld_quota_take(q, 0, t, 10, 0.5, NULL), LD_QUOTA_OK);
    store_sync(&st, q, 0, t);
    assert_int_equal(st.uday, 500000);
    assert_int_equal(ld_quota_settle(q, 0, t, 10, 0.5, 4, 0.2), LD_OK);
    store_sync(&st, q, 0, t);
    assert_int_equal(st.uday, 200000);
    assert_int_equal(st.tokens, 4);
    ld_quota_free(q);
}

static void test_a_restart_reads_the_days_spend_back(void **state)
{
    (void)state;
    ld_quota *q = one(0, 0, 1.0, 0);
    ld_quota_set_mode(q, true, 1);
    /* the store already holds 0.9 USD of today, from before the restart */
    store st = {{0, 0, 0}, 0, 0, 0, 0};
    ld_quota_windows_of(JAN15 + ld_s(7200), &st.w);
    st.uday = 900000;
    store_sync(&st, q, 0, JAN15 + ld_s(7200));
    assert_int_equal(ld_quota_take(q, 0, JAN15 + ld_s(7201), 0, 0.2, NULL),
                     LD_QUOTA_USD_DAY);
    assert_int_equal(ld_quota_take(q, 0, JAN15 + ld_s(7201), 0, 0.05, NULL),
                     LD_QUOTA_OK);
    ld_quota_free(q);
}

static void test_late_answers_for_a_closed_window_are_ignored(void **state)
{
    (void)state;
    ld_quota *q = one(2, 0, 0, 0);
    ld_quota_set_mode(q, true, 1);
    ld_quota_counts sent, tot;
    assert_int_equal(ld_quota_take(q, 0, JAN15 + ld_s(59), 0, 0, NULL),
                     LD_QUOTA_OK);
    assert_int_equal(ld_quota_drain(q, 0, JAN15 + ld_s(59), &sent), 1);
    /* the next minute opens before the store answers */
    assert_int_equal(ld_quota_take(q, 0, JAN15 + ld_s(60), 0, 0, NULL),
                     LD_QUOTA_OK);
    tot = sent;
    tot.requests = 50;
    assert_int_equal(ld_quota_synced(q, 0, &sent, &tot), LD_OK);
    ld_quota_usage u;
    ld_quota_fleet_get(q, 0, JAN15 + ld_s(60), &u);
    assert_int_equal(u.requests, 1);
    ld_quota_free(q);
}

/* Two routers take requests in turn and sync every `every` takes each:
 * across both, the limit is overshot by at most what the other router took
 * since this one last synced. */
static void test_two_routers_overshoot_at_most_one_sync_interval(void **state)
{
    (void)state;
    for (int every = 1; every <= 8; every *= 2) {
        ld_quota *r[2] = {one(40, 0, 0, 0), one(40, 0, 0, 0)};
        store st = {{0, 0, 0}, 0, 0, 0, 0};
        int taken = 0;
        ld_us t = JAN15 + ld_s(1);
        for (int i = 0; i < 2; i++) {
            ld_quota_set_mode(r[i], true, 2);
            store_sync(&st, r[i], 0, t);
        }
        for (int i = 0; i < 200; i++) {
            ld_quota *q = r[i % 2];
            if (ld_quota_take(q, 0, t, 0, 0, NULL) == LD_QUOTA_OK)
                taken++;
            if ((i / 2) % every == every - 1)
                store_sync(&st, q, 0, t);
        }
        assert_true(taken >= 40);
        assert_true(taken <= 40 + every);
        ld_quota_free(r[0]);
        ld_quota_free(r[1]);
    }
}

static void test_a_reload_sends_again_what_was_out_to_the_store(void **state)
{
    (void)state;
    ld_quota *old = one(10, 0, 0, 0);
    ld_quota_set_mode(old, true, 2);
    ld_us t = JAN15 + ld_s(1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ld_quota_take(old, 0, t, 5, 0, NULL), LD_QUOTA_OK);
    ld_quota_counts sent;
    assert_int_equal(ld_quota_drain(old, 0, t, &sent), 1);
    assert_int_equal(sent.requests, 3);
    /* the reload comes before the store answers: the new key sends the 3
     * requests and 15 tokens again (the old round's answer is dropped) */
    ld_quota *nq = one(10, 0, 0, 0);
    ld_quota_set_mode(nq, true, 2);
    assert_int_equal(ld_quota_adopt(nq, 0, old, 0), LD_OK);
    ld_quota_counts again;
    assert_int_equal(ld_quota_drain(nq, 0, t, &again), 1);
    assert_int_equal(again.requests, 3);
    assert_int_equal(again.tokens, 15);
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
        cmocka_unit_test(test_a_reload_sends_again_what_was_out_to_the_store),
        cmocka_unit_test(test_shared_mode_counts_the_fleets_totals_against_the_whole_limit),
        cmocka_unit_test(test_local_mode_enforces_each_routers_share),
        cmocka_unit_test(test_drain_moves_pending_in_flight_and_unsent_puts_it_back),
        cmocka_unit_test(test_settle_sends_the_difference_to_the_fleet),
        cmocka_unit_test(test_a_restart_reads_the_days_spend_back),
        cmocka_unit_test(test_late_answers_for_a_closed_window_are_ignored),
        cmocka_unit_test(test_two_routers_overshoot_at_most_one_sync_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
