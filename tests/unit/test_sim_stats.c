/* test_sim_stats.c - intervals and paired differences for compare. */
#include "testutil.h"

#include "sim_stats.h"

static void test_ci_of_known_sample(void **state)
{
    (void)state;
    /* mean 5, sd sqrt(2.5), n 5: t(0.975, 4) = 2.776445 */
    double x[] = {3, 4, 5, 6, 7};
    sim_ci c = sim_stats_ci(x, 5);
    assert_int_equal(c.n, 5);
    assert_near(c.mean, 5, 1e-12);
    assert_near(c.half, 2.776445105 * sqrt(2.5) / sqrt(5.0), 1e-6);
    assert_near(c.lo, c.mean - c.half, 1e-12);
    assert_near(c.hi, c.mean + c.half, 1e-12);
}

static void test_single_value_has_no_width(void **state)
{
    (void)state;
    double x[] = {42};
    sim_ci c = sim_stats_ci(x, 1);
    assert_near(c.mean, 42, 0);
    assert_near(c.half, 0, 0);
    assert_false(sim_stats_significant(&c));
}

static void test_nan_values_are_left_out(void **state)
{
    (void)state;
    double x[] = {1, NAN, 3};
    sim_ci c = sim_stats_ci(x, 3);
    assert_int_equal(c.n, 2);
    assert_near(c.mean, 2, 1e-12);
    double none[] = {NAN, NAN};
    sim_ci e = sim_stats_ci(none, 2);
    assert_int_equal(e.n, 0);
    assert_true(isnan(e.mean));
}

static void test_identical_pairs_give_zero_difference(void **state)
{
    (void)state;
    double a[] = {0.91, 0.95, 0.93, 0.97};
    sim_ci d = sim_stats_paired(a, a, 4);
    assert_near(d.mean, 0, 0);
    assert_near(d.half, 0, 0);
    assert_false(sim_stats_significant(&d));
}

static void test_pairing_removes_shared_noise(void **state)
{
    (void)state;
    /* b is a + 0.01 on noisy seeds: unpaired intervals overlap widely,
     * the paired difference is exactly 0.01 and significant */
    double a[] = {0.80, 0.95, 0.70, 0.99, 0.85};
    double b[5];
    for (int i = 0; i < 5; i++)
        b[i] = a[i] + 0.01;
    sim_ci ca = sim_stats_ci(a, 5), cb = sim_stats_ci(b, 5);
    assert_true(ca.hi > cb.lo); /* overlapping */
    sim_ci d = sim_stats_paired(a, b, 5);
    assert_near(d.mean, 0.01, 1e-12);
    assert_near(d.half, 0, 1e-12);
    assert_true(sim_stats_significant(&d));
}

static void test_difference_straddling_zero_is_not_significant(void **state)
{
    (void)state;
    double a[] = {1, 1, 1, 1};
    double b[] = {1.1, 0.9, 1.05, 0.95};
    sim_ci d = sim_stats_paired(a, b, 4);
    assert_true(d.lo < 0 && d.hi > 0);
    assert_false(sim_stats_significant(&d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ci_of_known_sample),
        cmocka_unit_test(test_single_value_has_no_width),
        cmocka_unit_test(test_nan_values_are_left_out),
        cmocka_unit_test(test_identical_pairs_give_zero_difference),
        cmocka_unit_test(test_pairing_removes_shared_noise),
        cmocka_unit_test(test_difference_straddling_zero_is_not_significant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
