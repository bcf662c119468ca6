/* test_tune.c - `ladder tune`'s search space (space files, points, knobs
 * written into a policy) and its race (ranking, successive halving, the
 * Pareto frontier) on synthetic numbers. */
#include "testutil.h"

#include <stdlib.h>

#include <cjson/cJSON.h>
#include <gsl/gsl_rng.h>

#include "ld_policy.h"
#include "tune.h"

static const char base_text[] =
    "{\"routes\": {"
    " \"a\": {\"provider\": \"openai\", \"model\": \"m-a\", \"base_url\": "
    "\"http://127.0.0.1:1/v1\", \"api_key_env\": \"K\", \"price\": "
    "{\"input_per_mtok\": 1, \"output_per_mtok\": 2}},"
    " \"b\": {\"provider\": \"openai\", \"model\": \"m-b\", \"base_url\": "
    "\"http://127.0.0.1:1/v1\", \"api_key_env\": \"K\", \"price\": "
    "{\"input_per_mtok\": 1, \"output_per_mtok\": 2}},"
    " \"c.1\": {\"provider\": \"openai\", \"model\": \"m-c\", \"base_url\": "
    "\"http://127.0.0.1:1/v1\", \"api_key_env\": \"K\", \"price\": "
    "{\"input_per_mtok\": 1, \"output_per_mtok\": 2}}},"
    " \"workloads\": {\"chat\": {\"constraints\": {\"ttft_ms\": 3000},"
    " \"ladder\": [\"a\", \"b\", \"c.1\"], \"on\": {\"rate_limited\": "
    "{\"action\": \"retry\", \"max\": 2, \"backoff_ms\": 500, \"else\": "
    "\"next\"}, \"*\": \"next\"}}},"
    " \"breaker\": {\"window_s\": 60, \"min_requests\": 5, \"failure_rate\": "
    "0.5, \"open_for_s\": 30, \"half_open_probes\": 1}}";

static const char good_space[] =
    "{\"description\": \"a test space\", \"knobs\": ["
    " {\"path\": \"workloads.chat.ladder\", \"order\": true},"
    " {\"path\": \"workloads.chat.constraints.ttft_ms\", \"int\": [1000, 5000]},"
    " {\"path\": \"workloads.chat.on.rate_limited\", \"set\": ["
    "   {\"action\": \"wait_retry_after\", \"max_wait_ms\": 2000, \"else\": "
    "\"next\"}, \"next\"]},"
    " {\"path\": \"workloads.chat.on.rate_limited.max_wait_ms\", \"int\": "
    "[100, 9000], \"optional\": true},"
    " {\"path\": \"breaker.failure_rate\", \"real\": [0.2, 0.8]},"
    " {\"path\": \"/routes/c.1/quality\", \"set\": [null, 0.5]},"
    " {\"path\": \"workloads.chat.hedge\", \"set\": [null, {\"after_ms\": 800, "
    "\"max_extra\": 1}], \"_why\": \"a comment\"}]}";

static cJSON *base_doc(void)
{
    cJSON *d = cJSON_Parse(base_text);
    assert_non_null(d);
    return d;
}

static void parse_space(tune_space *s, const char *text, const cJSON *base)
{
    ld_error err;
    int rc = tune_space_parse(s, text, strlen(text), "space.json", base, &err);
    if (rc != LD_OK)
        fail_msg("space refused (%d): %s", rc, err.msg);
}

/* The space is refused with every needle in the message. */
static void expect_space_error(const char *text, const char *n1,
                               const char *n2)
{
    cJSON *base = base_doc();
    tune_space s;
    ld_error err;
    memset(err.msg, 0, sizeof err.msg);
    int rc = tune_space_parse(&s, text, strlen(text), "space.json", base,
                              &err);
    cJSON_Delete(base);
    if (rc == LD_OK) {
        tune_space_cleanup(&s);
        fail_msg("space accepted: %s", text);
    }
    if (strncmp(err.msg, "space.json: ", 12) != 0)
        fail_msg("message does not name the file: %s", err.msg);
    if (n1 != NULL && strstr(err.msg, n1) == NULL)
        fail_msg("\"%s\" not in: %s", n1, err.msg);
    if (n2 != NULL && strstr(err.msg, n2) == NULL)
        fail_msg("\"%s\" not in: %s", n2, err.msg);
}

static void test_space_file_parses_every_kind(void **state)
{
    (void)state;
    cJSON *base = base_doc();
    tune_space s;
    parse_space(&s, good_space, base);
    assert_int_equal(s.n, 7);
    assert_int_equal(s.k[0].kind, TUNE_ORDER);
    assert_int_equal(s.k[0].norder, 3);
    assert_int_equal(s.k[1].kind, TUNE_INT);
    assert_near(s.k[1].lo, 1000, 0);
    assert_near(s.k[1].hi, 5000, 0);
    assert_int_equal(s.k[2].kind, TUNE_SET);
    assert_int_equal(s.k[2].nset, 2);
    assert_true(s.k[3].optional);
    assert_int_equal(s.k[4].kind, TUNE_REAL);
    assert_int_equal(s.k[5].nkeys, 3); /* a JSON pointer keeps "c.1" whole */
    assert_string_equal(s.k[5].keys[1], "c.1");
    tune_space_cleanup(&s);
    cJSON_Delete(base);
}

static void test_bad_space_files_name_file_and_knob(void **state)
{
    (void)state;
    expect_space_error("{\"knobs\": [", "line 1", "not valid JSON");
    expect_space_error("{\"knobs\": []}", "\"knobs\" must be", NULL);
    expect_space_error("{\"knob\": [{\"path\": \"breaker.window_s\", "
                       "\"int\": [1, 2]}]}", "unknown key \"knob\"", NULL);
    expect_space_error("{\"knobs\": [{\"path\": \"breaker.window_s\", \"int\": "
                       "[1, 2]}, {\"path\": \"workloads.nope.ttft_ms\", "
                       "\"int\": [1, 2]}]}", "knobs[1]", "workloads.nope");
    expect_space_error("{\"knobs\": [{\"path\": \"breaker.window_s\", \"int\": "
                       "[5, 1]}]}", "knobs[0]", "LO <= HI");
    expect_space_error("{\"knobs\": [{\"path\": \"breaker.window_s\", \"int\": "
                       "[1.5, 3]}]}", "knobs[0]", "whole numbers");
    expect_space_error("{\"knobs\": [{\"path\": \"breaker.window_s\", \"int\": "
                       "[1, 3], \"real\": [1, 3]}]}", "knobs[0]", "exactly one");
    expect_space_error("{\"knobs\": [{\"path\": \"breaker.window_s\", \"ints\": "
                       "[1, 3]}]}", "knobs[0]", "unknown key \"ints\"");
    expect_space_error("{\"knobs\": [{\"path\": \"breaker\", \"order\": true}]}",
                       "knobs[0]", "array of 2 to");
    /* a value the policy loader refuses: named with the loader's reason */
    expect_space_error("{\"knobs\": [{\"path\": \"breaker.failure_rate\", "
                       "\"real\": [0.5, 7]}]}", "knobs[0] (breaker.failure_rate)",
                       "refuses");
    expect_space_error("{\"knobs\": [{\"path\": \"workloads.chat.on."
                       "rate_limited\", \"set\": [\"next\", \"jump\"]}]}",
                       "knobs[0]", "set[1]");
    expect_space_error("{\"knobs\": [{\"path\": \"breaker.open_for_s\", \"int\": "
                       "[1, 3]}, {\"path\": \"breaker.open_for_s\", \"int\": "
                       "[4, 5]}]}", "knobs[1]", "knobs[0]'s too");
}

static const cJSON *at(const cJSON *doc, const char *a, const char *b,
                       const char *c)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(doc, a);
    if (b != NULL)
        n = cJSON_GetObjectItemCaseSensitive(n, b);
    if (c != NULL)
        n = cJSON_GetObjectItemCaseSensitive(n, c);
    return n;
}

static void test_base_point_leaves_the_policy_as_it_is(void **state)
{
    (void)state;
    cJSON *base = base_doc(), *doc = base_doc();
    tune_space s;
    tune_point p;
    ld_error err;
    parse_space(&s, good_space, base);
    tune_point_base(&s, &p);
    assert_int_equal(tune_point_apply(&s, &p, doc, "space.json", &err), LD_OK);
    assert_true(cJSON_Compare(doc, base, true));
    tune_space_cleanup(&s);
    cJSON_Delete(doc);
    cJSON_Delete(base);
}

static void test_knobs_are_written_into_the_policy(void **state)
{
    (void)state;
    cJSON *base = base_doc(), *doc = base_doc();
    tune_space s;
    tune_point p;
    ld_error err;
    parse_space(&s, good_space, base);
    tune_point_base(&s, &p);
    p.x[0] = 5;       /* the last of 3! orders: reversed */
    p.x[1] = 1234.4;  /* an int: rounded */
    p.x[2] = 0;       /* wait_retry_after ... */
    p.x[3] = 700;     /* ... with its wait changed by the optional knob */
    p.x[4] = 0.25;
    p.x[5] = 1;       /* a key with a dot, through a JSON pointer */
    p.x[6] = 1;
    assert_int_equal(tune_point_apply(&s, &p, doc, "space.json", &err), LD_OK);
    const cJSON *lad = at(doc, "workloads", "chat", "ladder");
    assert_string_equal(cJSON_GetArrayItem(lad, 0)->valuestring, "c.1");
    assert_string_equal(cJSON_GetArrayItem(lad, 1)->valuestring, "b");
    assert_string_equal(cJSON_GetArrayItem(lad, 2)->valuestring, "a");
    const cJSON *chat = at(doc, "workloads", "chat", NULL);
    assert_near(at(chat, "constraints", "ttft_ms", NULL)->valuedouble, 1234, 0);
    assert_string_equal(at(chat, "on", "rate_limited", "action")->valuestring,
                        "wait_retry_after");
    assert_near(at(chat, "on", "rate_limited", "max_wait_ms")->valuedouble, 700,
                0);
    assert_near(at(doc, "breaker", "failure_rate", NULL)->valuedouble, 0.25, 0);
    assert_near(at(doc, "routes", "c.1", "quality")->valuedouble, 0.5, 0);
    assert_near(at(chat, "hedge", "after_ms", NULL)->valuedouble, 800, 0);
    /* and the loader takes the result */
    char *text = cJSON_PrintUnformatted(doc);
    ld_policy *pol = NULL;
    assert_int_equal(ld_policy_parse(text, strlen(text), "c.json", &pol, &err),
                     LD_OK);
    ld_policy_free(pol);
    cJSON_free(text);
    /* the knob's value as tune.json shows it */
    cJSON *v = tune_point_value(&s, &p, 3, base);
    assert_near(v->valuedouble, 700, 0);
    cJSON_Delete(v);
    tune_space_cleanup(&s);
    cJSON_Delete(doc);
    cJSON_Delete(base);
}

static void test_null_leaves_out_and_optional_skips(void **state)
{
    (void)state;
    cJSON *base = base_doc(), *doc = base_doc();
    tune_space s;
    tune_point p;
    ld_error err;
    parse_space(&s, good_space, base);
    tune_point_base(&s, &p);
    p.x[2] = 1;   /* "next": no max_wait_ms to change */
    p.x[3] = 700; /* so the optional knob does nothing */
    p.x[6] = 0;   /* hedge: null, left out */
    assert_int_equal(tune_point_apply(&s, &p, doc, "space.json", &err), LD_OK);
    const cJSON *chat = at(doc, "workloads", "chat", NULL);
    assert_string_equal(at(chat, "on", "rate_limited", NULL)->valuestring,
                        "next");
    assert_null(at(chat, "hedge", NULL, NULL));
    cJSON *v = tune_point_value(&s, &p, 3, base);
    assert_true(cJSON_IsNull(v));
    cJSON_Delete(v);
    tune_space_cleanup(&s);
    cJSON_Delete(doc);
    cJSON_Delete(base);
}

static void test_permutation_ranks_cover_every_order(void **state)
{
    (void)state;
    int perm[4], seen[24] = {0};
    tune_perm_of_rank(4, 0, perm);
    for (int i = 0; i < 4; i++)
        assert_int_equal(perm[i], i);
    for (long r = 0; r < 24; r++) {
        tune_perm_of_rank(4, r, perm);
        int code = 0, used = 0;
        for (int i = 0; i < 4; i++) {
            assert_true(perm[i] >= 0 && perm[i] < 4);
            assert_false(used & (1 << perm[i]));
            used |= 1 << perm[i];
            code = code * 4 + perm[i];
        }
        for (long q = 0; q < r; q++)
            assert_int_not_equal(seen[q], code);
        seen[r] = code;
    }
}

static void test_draws_are_in_range_and_reproducible(void **state)
{
    (void)state;
    cJSON *base = base_doc();
    tune_space s;
    parse_space(&s, good_space, base);
    gsl_rng *r1 = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng *r2 = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r1, 7);
    gsl_rng_set(r2, 7);
    for (int i = 0; i < 200; i++) {
        tune_point a, b;
        tune_point_draw(&s, r1, &a);
        tune_point_draw(&s, r2, &b);
        assert_true(tune_point_equal(&s, &a, &b));
        assert_true(a.x[0] >= 0 && a.x[0] < 6 && a.x[0] == floor(a.x[0]));
        assert_true(a.x[1] >= 1000 && a.x[1] <= 5000 &&
                    a.x[1] == floor(a.x[1]));
        assert_true(a.x[2] == 0 || a.x[2] == 1);
        assert_true(a.x[4] >= 0.2 && a.x[4] <= 0.8);
    }
    gsl_rng_free(r1);
    gsl_rng_free(r2);
    tune_space_cleanup(&s);
    cJSON_Delete(base);
}

static void test_order_puts_feasible_first_then_objective(void **state)
{
    (void)state;
    tune_score s[4] = {{0.90, true, 0}, {0.99, false, 0.2},
                       {0.95, true, 0}, {0.97, false, 0.1}};
    int o[4];
    tune_order(4, s, +1, o);
    assert_int_equal(o[0], 2);
    assert_int_equal(o[1], 0);
    assert_int_equal(o[2], 3); /* the smaller violation first */
    assert_int_equal(o[3], 1);
    tune_order(4, s, -1, o); /* minimising: the lower objective first */
    assert_int_equal(o[0], 0);
    assert_int_equal(o[1], 2);
}

/* 6 candidates on 5 paired units: 0 best, 1 a hair worse with noise
 * (not significant), 2 worse by a steady 0.02 (significant), 3..5 bottom */
static void test_halving_drops_bottom_half_and_significantly_worse(void **state)
{
    (void)state;
    enum { N = 6, U = 5 };
    double noise[U] = {0.00, 0.03, -0.02, 0.05, -0.01};
    double v[N * U];
    tune_score s[N];
    for (int u = 0; u < U; u++) {
        v[0 * U + u] = 0.95 + noise[u];
        v[1 * U + u] = 0.95 + noise[u] + (u % 2 ? 0.004 : -0.006);
        v[2 * U + u] = 0.93 + noise[u];
        v[3 * U + u] = 0.90 + noise[u];
        v[4 * U + u] = 0.89 + noise[u];
        v[5 * U + u] = 0.50 + noise[u];
    }
    for (int c = 0; c < N; c++) {
        double m = 0;
        for (int u = 0; u < U; u++)
            m += v[c * U + u];
        s[c] = (tune_score){m / U, true, 0};
    }
    bool keep[N];
    int inc = tune_halve(N, U, v, s, +1, keep);
    assert_int_equal(inc, 0);
    assert_true(keep[0]);
    assert_true(keep[1]);  /* top half, not shown worse */
    assert_false(keep[2]); /* top half, but significantly worse */
    assert_false(keep[3]);
    assert_false(keep[4]);
    assert_false(keep[5]);
}

static void test_halving_keeps_the_incumbent_alone(void **state)
{
    (void)state;
    double v[3] = {0.9, 0.8, 0.7};
    tune_score s[1] = {{0.8, true, 0}};
    bool keep[1] = {false};
    assert_int_equal(tune_halve(1, 3, v, s, +1, keep), 0);
    assert_true(keep[0]);
    /* infeasible candidates rank below a worse feasible one */
    double w[2 * 2] = {0.99, 0.99, 0.5, 0.5};
    tune_score t[2] = {{0.99, false, 0.3}, {0.5, true, 0}};
    bool k2[2];
    assert_int_equal(tune_halve(2, 2, w, t, +1, k2), 1);
    assert_true(k2[1]);
    assert_false(k2[0]);
}

static void test_frontier_keeps_exactly_the_non_dominated(void **state)
{
    (void)state;
    /* success, cost, p99 */
    double su[6] = {0.99, 0.98, 0.97, 0.99, 0.90, NAN};
    double co[6] = {5.0, 4.0, 4.5, 6.0, 1.0, 0.1};
    double p9[6] = {2000, 2500, 2600, 1500, 9000, 10};
    bool use[6] = {true, true, true, true, true, true}, front[6];
    int n = tune_frontier(6, su, co, p9, use, front);
    assert_true(front[0]);
    assert_true(front[1]);
    assert_false(front[2]); /* 1 is better on all three */
    assert_true(front[3]);  /* less success than none, fastest */
    assert_true(front[4]);  /* cheapest */
    assert_false(front[5]); /* NaN */
    assert_int_equal(n, 4);
    use[1] = false; /* not used: 2 is no longer dominated */
    tune_frontier(6, su, co, p9, use, front);
    assert_false(front[1]);
    assert_true(front[2]);
}

static void test_frontier_of_random_points_against_brute_force(void **state)
{
    (void)state;
    enum { N = 60 };
    double su[N], co[N], p9[N];
    bool use[N], front[N];
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 3);
    for (int i = 0; i < N; i++) {
        su[i] = floor(gsl_rng_uniform(r) * 10) / 10; /* ties happen */
        co[i] = floor(gsl_rng_uniform(r) * 10);
        p9[i] = floor(gsl_rng_uniform(r) * 10);
        use[i] = true;
    }
    gsl_rng_free(r);
    tune_frontier(N, su, co, p9, use, front);
    for (int i = 0; i < N; i++) {
        bool dominated = false;
        for (int j = 0; j < N; j++)
            if (j != i && su[j] >= su[i] && co[j] <= co[i] && p9[j] <= p9[i] &&
                (su[j] > su[i] || co[j] < co[i] || p9[j] < p9[i]))
                dominated = true;
        assert_int_equal(front[i], !dominated);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_space_file_parses_every_kind),
        cmocka_unit_test(test_bad_space_files_name_file_and_knob),
        cmocka_unit_test(test_base_point_leaves_the_policy_as_it_is),
        cmocka_unit_test(test_knobs_are_written_into_the_policy),
        cmocka_unit_test(test_null_leaves_out_and_optional_skips),
        cmocka_unit_test(test_permutation_ranks_cover_every_order),
        cmocka_unit_test(test_draws_are_in_range_and_reproducible),
        cmocka_unit_test(test_order_puts_feasible_first_then_objective),
        cmocka_unit_test(test_halving_drops_bottom_half_and_significantly_worse),
        cmocka_unit_test(test_halving_keeps_the_incumbent_alone),
        cmocka_unit_test(test_frontier_keeps_exactly_the_non_dominated),
        cmocka_unit_test(test_frontier_of_random_points_against_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
