/* test_sim_dist.c - distributions from JSON, sampled with GSL. */
#include "testutil.h"

#include <stdlib.h>

#include <cjson/cJSON.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort_double.h>
#include <gsl/gsl_statistics_double.h>

#include "sim_dist.h"

#define NDRAWS 200000
#define SEED 20240601UL
#define FILE_NAME "scenario.json"
#define PATH "providers.gpt-4.1.ttft_ms"

/* The test data directory; `make unit` runs tests from the repository. */
static const char *data_dir(void)
{
    const char *d = getenv("LD_TEST_DATA");
    return d != NULL && d[0] != '\0' ? d : "tests/data";
}

static gsl_rng *rng_new(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    assert_non_null(r);
    gsl_rng_set(r, SEED);
    return r;
}

/* Parse text; fail the test with the message if that fails. */
static sim_dist *parse_ok(const char *text)
{
    cJSON *j = cJSON_ParseWithLength(text, strlen(text));
    if (j == NULL)
        fail_msg("bad JSON in test: %s", text);
    sim_dist *d = NULL;
    ld_error err = {{0}};
    int rc = sim_dist_parse(j, FILE_NAME, PATH, data_dir(), &d, &err);
    cJSON_Delete(j);
    if (rc != 0)
        fail_msg("%s: rc %d: %s", text, rc, err.msg);
    assert_non_null(d);
    return d;
}

/* Parse text expecting LD_EINVAL and a message with each non-NULL need. */
static void parse_fails(const char *text, const char *need1,
                        const char *need2, const char *need3)
{
    cJSON *j = cJSON_ParseWithLength(text, strlen(text));
    if (j == NULL)
        fail_msg("bad JSON in test: %s", text);
    sim_dist *d = (sim_dist *)1;
    ld_error err = {{0}};
    int rc = sim_dist_parse(j, FILE_NAME, PATH, data_dir(), &d, &err);
    cJSON_Delete(j);
    if (rc != LD_EINVAL)
        fail_msg("%s: rc %d (%s)", text, rc, err.msg);
    assert_null(d);
    const char *need[] = {need1, need2, need3};
    for (int i = 0; i < 3; i++)
        if (need[i] != NULL && strstr(err.msg, need[i]) == NULL)
            fail_msg("%s:\n  message \"%s\"\n  lacks \"%s\"", text, err.msg,
                     need[i]);
}

/* The analytic mean matches, and the mean of NDRAWS draws is within four
 * standard errors of it. */
static void check_mean(const char *text, double mean, double sd)
{
    sim_dist *d = parse_ok(text);
    assert_near(sim_dist_mean(d), mean, 1e-9 * fabs(mean));
    gsl_rng *r = rng_new();
    double sum = 0;
    for (int i = 0; i < NDRAWS; i++)
        sum += sim_dist_sample(d, r);
    double se = sd / sqrt(NDRAWS);
    double got = sum / NDRAWS;
    if (!(fabs(got - mean) <= 4 * se + 1e-12 * fabs(mean)))
        fail_msg("%s: sample mean %.6g, analytic %.6g, 4 SE = %.3g", text,
                 got, mean, 4 * se);
    gsl_rng_free(r);
    sim_dist_free(d);
}

/* ---- sampling ---------------------------------------------------------- */

static void test_dist_constant_from_number_and_object(void **state)
{
    (void)state;
    check_mean("42.5", 42.5, 0);
    check_mean("{\"dist\": \"constant\", \"value\": -3}", -3, 0);
    sim_dist *d = sim_dist_constant(7);
    assert_non_null(d);
    assert_near(sim_dist_sample(d, NULL), 7, 0); /* draws nothing */
    double q;
    assert_int_equal(sim_dist_quantile(d, 0.9, &q), 0);
    assert_near(q, 7, 0);
    assert_near(sim_dist_mean(d), 7, 0);
    sim_dist_free(d);
    sim_dist_free(NULL);
}

static void test_dist_exponential_mean_or_rate(void **state)
{
    (void)state;
    check_mean("{\"dist\": \"exponential\", \"mean\": 200}", 200, 200);
    check_mean("{\"dist\": \"exponential\", \"rate\": 0.01}", 100, 100);
}

static void test_dist_uniform_mean(void **state)
{
    (void)state;
    check_mean("{\"dist\": \"uniform\", \"min\": 10, \"max\": 30}", 20,
               20 / sqrt(12));
    check_mean("{\"dist\": \"uniform\", \"min\": 4, \"max\": 4}", 4, 0);
}

static void test_dist_normal_mean(void **state)
{
    (void)state;
    check_mean("{\"dist\": \"normal\", \"mean\": 50, \"sd\": 10}", 50, 10);
    check_mean("{\"dist\": \"normal\", \"mean\": 5, \"sd\": 0}", 5, 0);
}

static void test_dist_lognormal_mean_in_three_forms(void **state)
{
    (void)state;
    double s = 0.5, m = 100 * exp(s * s / 2);
    check_mean("{\"dist\": \"lognormal\", \"median\": 100, \"sigma\": 0.5}",
               m, m * sqrt(exp(s * s) - 1));
    check_mean("{\"dist\": \"lognormal\", \"mean\": 300, \"sd\": 150}", 300,
               150);
    s = log(4.0) / 2.3263478740408408;
    m = 50 * exp(s * s / 2);
    check_mean("{\"dist\": \"lognormal\", \"median\": 50, \"p99\": 200}", m,
               m * sqrt(exp(s * s) - 1));
}

static void test_dist_lognormal_by_p99_has_that_p99(void **state)
{
    (void)state;
    sim_dist *d =
        parse_ok("{\"dist\": \"lognormal\", \"median\": 350, \"p99\": 2500}");
    double q;
    assert_int_equal(sim_dist_quantile(d, 0.99, &q), 0);
    assert_near(q, 2500, 1e-6);
    assert_int_equal(sim_dist_quantile(d, 0.5, &q), 0);
    assert_near(q, 350, 1e-6);

    double *x = malloc(NDRAWS * sizeof *x);
    assert_non_null(x);
    gsl_rng *r = rng_new();
    for (int i = 0; i < NDRAWS; i++)
        x[i] = sim_dist_sample(d, r);
    gsl_sort(x, 1, NDRAWS);
    double p99 = gsl_stats_quantile_from_sorted_data(x, 1, NDRAWS, 0.99);
    double p50 = gsl_stats_quantile_from_sorted_data(x, 1, NDRAWS, 0.5);
    assert_near(p99, 2500, 0.02 * 2500);
    assert_near(p50, 350, 0.02 * 350);
    free(x);
    gsl_rng_free(r);
    sim_dist_free(d);
}

static void test_dist_gamma_by_scale_or_mean(void **state)
{
    (void)state;
    check_mean("{\"dist\": \"gamma\", \"shape\": 2, \"scale\": 50}", 100,
               sqrt(2) * 50);
    check_mean("{\"dist\": \"gamma\", \"shape\": 3, \"mean\": 90}", 90,
               sqrt(3) * 30);
}

static void test_dist_pareto_with_either_names(void **state)
{
    (void)state;
    double a = 3.5, xm = 10;
    double mean = a * xm / (a - 1);
    double sd = sqrt(xm * xm * a / ((a - 1) * (a - 1) * (a - 2)));
    check_mean("{\"dist\": \"pareto\", \"alpha\": 3.5, \"scale\": 10}", mean,
               sd);
    check_mean("{\"dist\": \"pareto\", \"shape\": 3.5, \"xm\": 10}", mean, sd);
    sim_dist *d = parse_ok("{\"dist\": \"pareto\", \"alpha\": 1, \"xm\": 1}");
    assert_true(isinf(sim_dist_mean(d)));
    sim_dist_free(d);
}

static void test_dist_weibull_mean(void **state)
{
    (void)state;
    double k = 1.5, l = 100;
    double g1 = tgamma(1 + 1 / k), g2 = tgamma(1 + 2 / k);
    check_mean("{\"dist\": \"weibull\", \"shape\": 1.5, \"scale\": 100}",
               l * g1, l * sqrt(g2 - g1 * g1));
}

static void test_dist_mixture_mean(void **state)
{
    (void)state;
    /* 3:1 of normal(10, 1) and exponential(100) */
    double m = 0.75 * 10 + 0.25 * 100;
    double m2 = 0.75 * (100 + 1) + 0.25 * 2 * 100 * 100;
    check_mean("{\"dist\": \"mixture\", \"components\": ["
               "{\"weight\": 3, \"dist\": \"normal\", \"mean\": 10, \"sd\": 1},"
               "{\"weight\": 1, \"dist\": \"exponential\", \"mean\": 100}]}",
               m, sqrt(m2 - m * m));
}

static void test_dist_mixture_follows_its_weights(void **state)
{
    (void)state;
    sim_dist *d = parse_ok(
        "{\"dist\": \"mixture\", \"components\": ["
        "{\"weight\": 0.5, \"dist\": \"constant\", \"value\": 1},"
        "{\"weight\": 1.5, \"dist\": \"constant\", \"value\": 2},"
        "{\"weight\": 2, \"dist\": \"mixture\", \"components\": ["
        "  {\"weight\": 1, \"dist\": \"constant\", \"value\": 3},"
        "  {\"weight\": 1, \"dist\": \"constant\", \"value\": 4}]}]}");
    const double want[4] = {0.125, 0.375, 0.25, 0.25};
    int count[4] = {0, 0, 0, 0};
    gsl_rng *r = rng_new();
    for (int i = 0; i < NDRAWS; i++) {
        double x = sim_dist_sample(d, r);
        int k = (int)x - 1;
        assert_true(k >= 0 && k < 4 && x == k + 1);
        count[k]++;
    }
    for (int k = 0; k < 4; k++) {
        double se = sqrt(want[k] * (1 - want[k]) / NDRAWS);
        assert_near((double)count[k] / NDRAWS, want[k], 4 * se);
    }
    assert_near(sim_dist_mean(d), 0.125 + 0.75 + 0.75 + 1, 1e-12);
    double q;
    assert_int_equal(sim_dist_quantile(d, 0.5, &q), LD_EINVAL);
    gsl_rng_free(r);
    sim_dist_free(d);
}

static void test_dist_clamps_apply_to_samples_and_quantiles(void **state)
{
    (void)state;
    sim_dist *d = parse_ok("{\"dist\": \"normal\", \"mean\": 0, \"sd\": 1, "
                           "\"min\": -0.5, \"max\": 0.5}");
    gsl_rng *r = rng_new();
    int at_max = 0;
    for (int i = 0; i < NDRAWS; i++) {
        double x = sim_dist_sample(d, r);
        assert_true(x >= -0.5 && x <= 0.5);
        at_max += x == 0.5;
    }
    double p = 0.3085375387259869; /* 1 - Phi(0.5) */
    assert_near((double)at_max / NDRAWS, p, 4 * sqrt(p * (1 - p) / NDRAWS));
    assert_near(sim_dist_mean(d), 0, 0); /* before clamping */
    double q;
    assert_int_equal(sim_dist_quantile(d, 0.99, &q), 0);
    assert_near(q, 0.5, 0);
    assert_int_equal(sim_dist_quantile(d, 0.1, &q), 0);
    assert_near(q, -0.5, 0);
    assert_int_equal(sim_dist_quantile(d, 0.6, &q), 0);
    assert_near(q, 0.2533471031357997, 1e-9);
    sim_dist_free(d);

    /* only a max, on a heavy tail */
    d = parse_ok("{\"dist\": \"pareto\", \"alpha\": 1.1, \"xm\": 100, "
                 "\"max\": 1000}");
    for (int i = 0; i < 10000; i++) {
        double x = sim_dist_sample(d, r);
        assert_true(x >= 100 && x <= 1000);
    }
    sim_dist_free(d);
    gsl_rng_free(r);
}

static void test_dist_quantiles_are_analytic(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        double p, want;
    } cases[] = {
        {"3", 0.3, 3},
        {"{\"dist\": \"exponential\", \"mean\": 100}", 0.5, 69.31471805599453},
        {"{\"dist\": \"uniform\", \"min\": 10, \"max\": 30}", 0.25, 15},
        {"{\"dist\": \"normal\", \"mean\": 50, \"sd\": 10}", 0.975,
         69.59963984540054},
        {"{\"dist\": \"normal\", \"mean\": 50, \"sd\": 0}", 0.975, 50},
        {"{\"dist\": \"lognormal\", \"median\": 100, \"sigma\": 1}", 0.5,
         100},
        {"{\"dist\": \"gamma\", \"shape\": 1, \"scale\": 100}", 0.5,
         69.31471805599453},
        {"{\"dist\": \"pareto\", \"alpha\": 2, \"xm\": 10}", 0.75, 20},
        {"{\"dist\": \"weibull\", \"shape\": 1, \"scale\": 100}", 0.5,
         69.31471805599453},
        {"{\"dist\": \"weibull\", \"shape\": 2, \"scale\": 10}", 0.5,
         8.325546111576978},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sim_dist *d = parse_ok(cases[i].json);
        double q = NAN;
        assert_int_equal(sim_dist_quantile(d, cases[i].p, &q), 0);
        if (!(fabs(q - cases[i].want) <= 1e-6 * fabs(cases[i].want)))
            fail_msg("%s: quantile(%g) = %.12g, want %.12g", cases[i].json,
                     cases[i].p, q, cases[i].want);
        assert_int_equal(sim_dist_quantile(d, -0.1, &q), LD_EINVAL);
        assert_int_equal(sim_dist_quantile(d, 1.1, &q), LD_EINVAL);
        assert_int_equal(sim_dist_quantile(d, NAN, &q), LD_EINVAL);
        sim_dist_free(d);
    }
}

static void test_dist_same_seed_same_draws(void **state)
{
    (void)state;
    const char *j = "{\"dist\": \"mixture\", \"components\": ["
                    "{\"weight\": 1, \"dist\": \"gamma\", \"shape\": 2, "
                    "\"scale\": 3},"
                    "{\"weight\": 1, \"dist\": \"lognormal\", \"median\": 5, "
                    "\"sigma\": 1}]}";
    sim_dist *a = parse_ok(j), *b = parse_ok(j);
    gsl_rng *ra = rng_new(), *rb = rng_new();
    for (int i = 0; i < 1000; i++)
        assert_true(sim_dist_sample(a, ra) == sim_dist_sample(b, rb));
    gsl_rng_free(ra);
    gsl_rng_free(rb);
    sim_dist_free(a);
    sim_dist_free(b);
}

/* ---- empirical --------------------------------------------------------- */

static void test_dist_empirical_column_by_name(void **state)
{
    (void)state;
    /* usable ttft_s values: 0.5 1.5 2.0 1.0 4.0 (empty and n/a skipped) */
    const double vals[] = {0.5, 1.5, 2.0, 1.0, 4.0};
    double var = 0;
    for (int i = 0; i < 5; i++)
        var += (vals[i] - 1.8) * (vals[i] - 1.8) / 5;
    check_mean("{\"dist\": \"empirical\", \"file\": "
               "\"sim_dist_empirical.csv\", \"column\": \"ttft_s\"}",
               1.8, sqrt(var));

    sim_dist *d = parse_ok("{\"dist\": \"empirical\", \"file\": "
                           "\"sim_dist_empirical.csv\", \"column\": "
                           "\"ttft_s\"}");
    gsl_rng *r = rng_new();
    int seen[5] = {0};
    for (int i = 0; i < 10000; i++) {
        double x = sim_dist_sample(d, r);
        int k = 0;
        while (k < 5 && vals[k] != x)
            k++;
        assert_true(k < 5);
        seen[k]++;
    }
    for (int k = 0; k < 5; k++)
        assert_true(seen[k] > 1700 && seen[k] < 2300); /* ~2000 each */
    /* quantiles of the sorted values 0.5 1 1.5 2 4, type 7 */
    double q;
    assert_int_equal(sim_dist_quantile(d, 0, &q), 0);
    assert_near(q, 0.5, 1e-12);
    assert_int_equal(sim_dist_quantile(d, 0.125, &q), 0);
    assert_near(q, 0.75, 1e-12);
    assert_int_equal(sim_dist_quantile(d, 0.5, &q), 0);
    assert_near(q, 1.5, 1e-12);
    assert_int_equal(sim_dist_quantile(d, 1, &q), 0);
    assert_near(q, 4, 1e-12);
    gsl_rng_free(r);
    sim_dist_free(d);
}

static void test_dist_empirical_where_scale_and_index(void **state)
{
    (void)state;
    /* model a: 0.5 1.5 1.0 seconds, in ms */
    sim_dist *d = parse_ok(
        "{\"dist\": \"empirical\", \"file\": \"sim_dist_empirical.csv\", "
        "\"column\": \"ttft_s\", \"where\": {\"model\": \"a\"}, "
        "\"scale\": 1000}");
    assert_near(sim_dist_mean(d), 1000, 1e-9);
    double q;
    assert_int_equal(sim_dist_quantile(d, 1, &q), 0);
    assert_near(q, 1500, 1e-9);
    sim_dist_free(d);

    /* numeric match: tokens 100 and 100.0; with model a: 0.5 and 1.0 */
    d = parse_ok("{\"dist\": \"empirical\", \"file\": "
                 "\"sim_dist_empirical.csv\", \"column\": 1, "
                 "\"where\": {\"tokens\": 100, \"model\": \"a\"}}");
    assert_near(sim_dist_mean(d), 0.75, 1e-12);
    sim_dist_free(d);

    /* an index without "where": every row is data, the header text is
     * skipped as non-numeric; clamps apply */
    d = parse_ok("{\"dist\": \"empirical\", \"file\": "
                 "\"sim_dist_empirical.csv\", \"column\": 2, \"max\": 250}");
    assert_near(sim_dist_mean(d), 1000.0 / 7, 1e-9);
    assert_int_equal(sim_dist_quantile(d, 1, &q), 0);
    assert_near(q, 250, 0);
    sim_dist_free(d);
}

static void test_dist_empirical_file_resolution(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/sim_dist_empirical.csv", data_dir());
    cJSON *j = cJSON_CreateObject();
    assert_non_null(j);
    assert_non_null(cJSON_AddStringToObject(j, "dist", "empirical"));
    assert_non_null(cJSON_AddStringToObject(j, "file", path));
    assert_non_null(cJSON_AddNumberToObject(j, "column", 1));
    sim_dist *d = NULL;
    ld_error err = {{0}};
    /* no base_dir: relative to the working directory */
    int rc = sim_dist_parse(j, NULL, NULL, NULL, &d, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_near(sim_dist_mean(d), 1.8, 1e-12);
    sim_dist_free(d);
    /* base_dir that the name is not under: not found, named */
    rc = sim_dist_parse(j, FILE_NAME, "x", "/nonexistent", &d, &err);
    assert_int_equal(rc, LD_EINVAL);
    assert_null(d);
    assert_non_null(strstr(err.msg, "x.file: /nonexistent/"));
    cJSON_Delete(j);
}

/* ---- errors ------------------------------------------------------------ */

static void test_dist_error_message_names_file_path_and_key(void **state)
{
    (void)state;
    cJSON *j = cJSON_Parse(
        "{\"dist\": \"lognormal\", \"median\": 100, \"sigma\": -1}");
    sim_dist *d = NULL;
    ld_error err = {{0}};
    assert_int_equal(
        sim_dist_parse(j, FILE_NAME, PATH, NULL, &d, &err), LD_EINVAL);
    assert_string_equal(err.msg, "scenario.json: providers.gpt-4.1.ttft_ms."
                                 "sigma: must be > 0 (got -1)");
    /* no file, no path: just the key */
    assert_int_equal(sim_dist_parse(j, NULL, NULL, NULL, &d, &err),
                     LD_EINVAL);
    assert_string_equal(err.msg, "sigma: must be > 0 (got -1)");
    /* NULL error struct is fine */
    assert_int_equal(sim_dist_parse(j, NULL, NULL, NULL, &d, NULL),
                     LD_EINVAL);
    cJSON_Delete(j);
    assert_int_equal(sim_dist_parse(NULL, FILE_NAME, PATH, NULL, &d, &err),
                     LD_EINVAL);
    assert_non_null(strstr(err.msg, PATH));
}

static void test_dist_rejects_bad_kinds_and_keys(void **state)
{
    (void)state;
    parse_fails("{\"dist\": \"lognormal\", \"median\": 100, \"sigmaa\": 0.5}",
                PATH ".sigmaa: ", "unknown key for lognormal", "sigma, p99");
    parse_fails("{\"dist\": \"lognormall\", \"median\": 1}", PATH ".dist: ",
                "unknown distribution \"lognormall\"", "lognormal");
    parse_fails("{\"median\": 1, \"sigma\": 1}", PATH ": ", "missing \"dist\"",
                NULL);
    parse_fails("{\"dist\": 5}", PATH ".dist: ", "must be a string", NULL);
    parse_fails("\"fast\"", PATH ": ", "must be a number or an object", NULL);
    parse_fails("[1, 2]", PATH ": ", "must be a number or an object", NULL);
    parse_fails("{\"dist\": \"normal\", \"mean\": 1, \"mean\": 2, \"sd\": 1}",
                PATH ".mean: duplicate key", NULL, NULL);
    parse_fails("{\"dist\": \"normal\", \"mean\": 1, \"sd\": 1, \"weight\": 2}",
                PATH ".weight: ", "unknown key for normal", NULL);
    parse_fails("{\"dist\": \"constant\", \"value\": 1e999}",
                PATH ".value: must be a finite number", NULL, NULL);
    parse_fails("{\"dist\": \"lognormal\", \"median\": 1, \"sigma\": \"0.5\"}",
                PATH ".sigma: must be a finite number", NULL, NULL);
}

static void test_dist_rejects_missing_and_impossible_parameters(void **state)
{
    (void)state;
    parse_fails("{\"dist\": \"constant\"}", PATH ": ",
                "constant needs \"value\"", NULL);
    parse_fails("{\"dist\": \"exponential\"}", PATH ": ",
                "exponential needs \"mean\" or \"rate\"", NULL);
    parse_fails("{\"dist\": \"exponential\", \"mean\": 1, \"rate\": 2}",
                PATH ".rate: ", "not both", NULL);
    parse_fails("{\"dist\": \"exponential\", \"rate\": -2}",
                PATH ".rate: must be > 0 (got -2)", NULL, NULL);
    parse_fails("{\"dist\": \"uniform\", \"min\": 5}", PATH ": ",
                "uniform needs \"max\"", NULL);
    parse_fails("{\"dist\": \"uniform\", \"min\": 5, \"max\": 1}",
                PATH ".max: must be >= min (got 1 < 5)", NULL, NULL);
    parse_fails("{\"dist\": \"normal\", \"sd\": 1}", PATH ": ",
                "normal needs \"mean\"", NULL);
    parse_fails("{\"dist\": \"normal\", \"mean\": 5, \"sd\": -1}",
                PATH ".sd: must be >= 0 (got -1)", NULL, NULL);
    parse_fails("{\"dist\": \"lognormal\"}", PATH ": ", "lognormal needs",
                "\"p99\"");
    parse_fails("{\"dist\": \"lognormal\", \"median\": 100}", PATH ": ",
                "needs \"sigma\" or \"p99\"", NULL);
    parse_fails("{\"dist\": \"lognormal\", \"median\": -1, \"sigma\": 1}",
                PATH ".median: must be > 0 (got -1)", NULL, NULL);
    parse_fails("{\"dist\": \"lognormal\", \"median\": 100, \"p99\": 50}",
                PATH ".p99: must be > median (got 50 <= 100)", NULL, NULL);
    parse_fails("{\"dist\": \"lognormal\", \"median\": 100, \"sigma\": 1, "
                "\"p99\": 500}",
                PATH ".p99: ", "not both", NULL);
    parse_fails("{\"dist\": \"lognormal\", \"mean\": 100}", PATH ": ",
                "lognormal with \"mean\" needs \"sd\"", NULL);
    parse_fails("{\"dist\": \"lognormal\", \"median\": 100, \"sd\": 3}",
                PATH ".sd: ", "does not go with \"median\"", NULL);
    parse_fails("{\"dist\": \"lognormal\", \"mean\": 100, \"sd\": 3, "
                "\"sigma\": 1}",
                PATH ".sigma: ", "goes with \"median\"", NULL);
    parse_fails("{\"dist\": \"lognormal\", \"mean\": 100, \"sd\": 0}",
                PATH ".sd: must be > 0 (got 0)", NULL, NULL);
    parse_fails("{\"dist\": \"gamma\", \"shape\": 2}", PATH ": ",
                "gamma needs \"scale\" or \"mean\"", NULL);
    parse_fails("{\"dist\": \"gamma\", \"scale\": 2}", PATH ": ",
                "gamma needs \"shape\"", NULL);
    parse_fails("{\"dist\": \"gamma\", \"shape\": 0, \"scale\": 1}",
                PATH ".shape: must be > 0 (got 0)", NULL, NULL);
    parse_fails("{\"dist\": \"gamma\", \"shape\": 2, \"scale\": 1, "
                "\"mean\": 3}",
                PATH ".mean: ", "not both", NULL);
    parse_fails("{\"dist\": \"pareto\", \"alpha\": 2, \"shape\": 2, "
                "\"scale\": 1}",
                PATH ".shape: ", "not both", NULL);
    parse_fails("{\"dist\": \"pareto\", \"alpha\": 2}", PATH ": ",
                "pareto needs \"scale\" or \"xm\"", NULL);
    parse_fails("{\"dist\": \"pareto\", \"alpha\": 2, \"xm\": 0}",
                PATH ".xm: must be > 0 (got 0)", NULL, NULL);
    parse_fails("{\"dist\": \"weibull\", \"shape\": 1.5, \"scale\": -3}",
                PATH ".scale: must be > 0 (got -3)", NULL, NULL);
    parse_fails("{\"dist\": \"weibull\", \"scale\": 3}", PATH ": ",
                "weibull needs \"shape\"", NULL);
    parse_fails("{\"dist\": \"normal\", \"mean\": 1, \"sd\": 1, \"min\": 5, "
                "\"max\": 2}",
                PATH ".max: must be >= \"min\" (got 2 < 5)", NULL, NULL);
    parse_fails("{\"dist\": \"normal\", \"mean\": 1, \"sd\": 1, "
                "\"min\": \"low\"}",
                PATH ".min: must be a finite number", NULL, NULL);
}

/* levels mixtures, each the only component of the one outside it, around
 * a bare 1. */
static void nested_mixtures(char *buf, size_t cap, int levels)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < levels; i++)
        n += (size_t)snprintf(buf + n, cap - n,
                              "{%s\"dist\": \"mixture\", \"components\": [",
                              i > 0 ? "\"weight\": 1, " : "");
    n += (size_t)snprintf(buf + n, cap - n, "1");
    for (int i = 0; i < levels; i++)
        n += (size_t)snprintf(buf + n, cap - n, "]}");
    assert_true(n < cap);
}

static void test_dist_mixture_errors_name_the_component(void **state)
{
    (void)state;
    parse_fails("{\"dist\": \"mixture\"}", PATH ": ",
                "mixture needs \"components\"", NULL);
    parse_fails("{\"dist\": \"mixture\", \"components\": []}",
                PATH ".components: must not be empty", NULL, NULL);
    parse_fails("{\"dist\": \"mixture\", \"components\": {}}",
                PATH ".components: must be an array", NULL, NULL);
    parse_fails("{\"dist\": \"mixture\", \"components\": [3]}",
                PATH ".components[0]: must be an object", NULL, NULL);
    parse_fails("{\"dist\": \"mixture\", \"components\": "
                "[{\"dist\": \"constant\", \"value\": 1}]}",
                PATH ".components[0]: missing \"weight\"", NULL, NULL);
    parse_fails("{\"dist\": \"mixture\", \"components\": ["
                "{\"weight\": 1, \"dist\": \"constant\", \"value\": 1},"
                "{\"weight\": -1, \"dist\": \"constant\", \"value\": 2}]}",
                PATH ".components[1].weight: must be > 0 (got -1)", NULL,
                NULL);
    parse_fails("{\"dist\": \"mixture\", \"components\": ["
                "{\"weight\": 1, \"dist\": \"constant\", \"value\": 1},"
                "{\"weight\": 1, \"dist\": \"normal\", \"mean\": 0, "
                "\"sd\": -2}]}",
                PATH ".components[1].sd: must be >= 0 (got -2)", NULL, NULL);
    parse_fails("{\"dist\": \"mixture\", \"components\": ["
                "{\"weight\": 1, \"dist\": \"constant\", \"value\": 1, "
                "\"wieght\": 2}]}",
                PATH ".components[0].wieght: ", "unknown key for constant",
                NULL);
    parse_fails("{\"dist\": \"mixture\", \"components\": [{\"weight\": 1, "
                "\"dist\": \"mixture\", \"components\": [{\"weight\": 1, "
                "\"dist\": \"gamma\", \"shape\": 1}]}]}",
                PATH ".components[0].components[0]: ",
                "gamma needs \"scale\" or \"mean\"", NULL);

    /* nesting beyond the cap */
    char buf[2048];
    nested_mixtures(buf, sizeof buf, SIM_DIST_MAX_DEPTH + 1);
    parse_fails(buf, "nested deeper than 8", NULL, NULL);
    /* at the cap, the parser goes on down to the innermost component */
    nested_mixtures(buf, sizeof buf, SIM_DIST_MAX_DEPTH);
    parse_fails(buf, "components[0].components[0]", "must be an object",
                NULL);
}

static void test_dist_empirical_errors_name_the_file(void **state)
{
    (void)state;
    parse_fails("{\"dist\": \"empirical\", \"file\": \"nope.csv\", "
                "\"column\": \"x\"}",
                PATH ".file: ", "nope.csv: cannot open", "No such file");
    parse_fails("{\"dist\": \"empirical\", \"column\": \"x\"}", PATH ": ",
                "empirical needs \"file\"", NULL);
    parse_fails("{\"dist\": \"empirical\", \"file\": 3, \"column\": \"x\"}",
                PATH ".file: must be a non-empty string", NULL, NULL);
    parse_fails("{\"dist\": \"empirical\", \"file\": "
                "\"sim_dist_empirical.csv\"}",
                PATH ": ", "empirical needs \"column\"", NULL);
    parse_fails("{\"dist\": \"empirical\", \"file\": "
                "\"sim_dist_empirical.csv\", \"column\": -1}",
                PATH ".column: must be a column name or a 0-based", NULL,
                NULL);
    parse_fails("{\"dist\": \"empirical\", \"file\": "
                "\"sim_dist_empirical.csv\", \"column\": \"note\"}",
                PATH ".file: ", "no usable values in column \"note\"",
                "sim_dist_empirical.csv");
    parse_fails("{\"dist\": \"empirical\", \"file\": "
                "\"sim_dist_empirical.csv\", \"column\": \"ttft_s\", "
                "\"where\": {\"model\": \"zzz\"}}",
                PATH ".file: no usable values", "sim_dist_empirical.csv",
                "where");
    parse_fails("{\"dist\": \"empirical\", \"file\": "
                "\"sim_dist_empirical.csv\", \"column\": \"ttft\"}",
                PATH ".column: ", "no column \"ttft\"",
                "sim_dist_empirical.csv");
    parse_fails("{\"dist\": \"empirical\", \"file\": "
                "\"sim_dist_empirical.csv\", \"column\": \"ttft_s\", "
                "\"where\": {\"modle\": \"a\"}}",
                PATH ".where.modle: ", "no column \"modle\"", NULL);
    parse_fails("{\"dist\": \"empirical\", \"file\": "
                "\"sim_dist_empirical.csv\", \"column\": \"ttft_s\", "
                "\"where\": {\"model\": true}}",
                PATH ".where.model: must be a string or a number", NULL,
                NULL);
    parse_fails("{\"dist\": \"empirical\", \"file\": "
                "\"sim_dist_empirical.csv\", \"column\": \"ttft_s\", "
                "\"where\": [\"model\"]}",
                PATH ".where: must be an object", NULL, NULL);
    parse_fails("{\"dist\": \"empirical\", \"file\": "
                "\"sim_dist_empirical.csv\", \"column\": 9}",
                PATH ".file: ", "sim_dist_empirical.csv:1: ",
                "row has 4 fields, 10 needed");
    parse_fails("{\"dist\": \"empirical\", \"file\": "
                "\"sim_dist_empirical.csv\", \"column\": \"ttft_s\", "
                "\"scale\": 0}",
                PATH ".scale: must be > 0 (got 0)", NULL, NULL);
    parse_fails("{\"dist\": \"empirical\", \"file\": \"sim_dist_ragged.csv\", "
                "\"column\": \"ttft_s\"}",
                PATH ".file: ", "sim_dist_ragged.csv:3: ",
                "row has 1 fields, 2 needed");
    parse_fails("{\"dist\": \"empirical\", \"file\": "
                "\"sim_dist_badquote.csv\", \"column\": \"ttft_s\"}",
                PATH ".file: ", "sim_dist_badquote.csv:3: ", "unterminated");
    parse_fails("{\"dist\": \"empirical\", \"file\": "
                "\"sim_dist_empirical.csv\", \"column\": \"ttft_s\", "
                "\"scale\": 1e308}",
                PATH ".scale: ", "overflows", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dist_constant_from_number_and_object),
        cmocka_unit_test(test_dist_exponential_mean_or_rate),
        cmocka_unit_test(test_dist_uniform_mean),
        cmocka_unit_test(test_dist_normal_mean),
        cmocka_unit_test(test_dist_lognormal_mean_in_three_forms),
        cmocka_unit_test(test_dist_lognormal_by_p99_has_that_p99),
        cmocka_unit_test(test_dist_gamma_by_scale_or_mean),
        cmocka_unit_test(test_dist_pareto_with_either_names),
        cmocka_unit_test(test_dist_weibull_mean),
        cmocka_unit_test(test_dist_mixture_mean),
        cmocka_unit_test(test_dist_mixture_follows_its_weights),
        cmocka_unit_test(test_dist_clamps_apply_to_samples_and_quantiles),
        cmocka_unit_test(test_dist_quantiles_are_analytic),
        cmocka_unit_test(test_dist_same_seed_same_draws),
        cmocka_unit_test(test_dist_empirical_column_by_name),
        cmocka_unit_test(test_dist_empirical_where_scale_and_index),
        cmocka_unit_test(test_dist_empirical_file_resolution),
        cmocka_unit_test(test_dist_error_message_names_file_path_and_key),
        cmocka_unit_test(test_dist_rejects_bad_kinds_and_keys),
        cmocka_unit_test(test_dist_rejects_missing_and_impossible_parameters),
        cmocka_unit_test(test_dist_mixture_errors_name_the_component),
        cmocka_unit_test(test_dist_empirical_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
