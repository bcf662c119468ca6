/* test_models.c - what a request's "model" names (ld_models.c: aliases,
 * pinned routes, the names table, collisions) and how the core serves
 * them: rungs of several routes (weighted, least in flight, lowest
 * latency; the rest of a rung before the next), pins, and n > 1. */
#include <stdlib.h>

#include <gsl/gsl_rng.h>

#include "testutil.h"

#include "ld_core.h"
#include "ld_policy_int.h"

/* ---- helpers --------------------------------------------------------- */

#define RT(id, extra)                                                       \
    "\"" id "\": {\"provider\": \"openai\", \"model\": \"" id "\", "       \
    "\"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 10}" extra "}"
#define ROUTES                                                              \
    "\"routes\": {" RT("a", "") ", " RT("b", "") ", " RT("c", "") ", "      \
    RT("d", ", \"capabilities\": [\"stream\", \"n\"]") "}"
#define POLICY(workloads, extra)                                            \
    "{\"version\": 1, " ROUTES ", \"workloads\": {" workloads "}" extra "}"

static ld_policy *parse_ok(const char *text)
{
    ld_policy *p = NULL;
    ld_error err;
    if (ld_policy_parse(text, strlen(text), "p.json", &p, &err) != LD_OK)
        fail_msg("policy refused: %s", err.msg);
    return p;
}

static void expect_error(const char *text, const char *needle)
{
    ld_policy *p = (ld_policy *)(uintptr_t)1;
    ld_error err;
    err.msg[0] = '\0';
    int rc = ld_policy_parse(text, strlen(text), "p.json", &p, &err);
    if (rc == LD_OK)
        fail_msg("policy accepted; expected \"%s\"", needle);
    assert_null(p);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("message lacks \"%s\": %s", needle, err.msg);
}

static const char names_policy[] = POLICY(
    "\"chat\": {\"ladder\": [\"a\", {\"group\": {\"b\": 3, \"c\": 1}}]},"
    " \"report\": {\"ladder\": [\"c\", \"d\"], \"pin_routes\": true,"
    "   \"pinned_fallback\": false}",
    ", \"defaults\": {\"workload\": \"chat\"},"
    " \"models\": {\"aliases\": {\"gpt-4o\": \"report\","
    "   \"fast\": {\"workload\": \"chat\", \"route\": \"b\"},"
    "   \"only-b\": {\"workload\": \"chat\", \"route\": \"b\","
    "     \"fallback\": false}}}");

/* ---- names ------------------------------------------------------------- */

static void test_names_are_workloads_aliases_and_pinnable_routes(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(names_policy);
    /* chat, report; gpt-4o, fast, only-b; c and d (report pins; a and b
     * are chat's, which does not) */
    assert_int_equal(ld_policy_model_count(p), 7);
    ld_model_name m;
    static const struct {
        const char *name;
        ld_name_kind kind;
        const char *workload, *route;
        bool fallback;
    } want[] = {
        {"chat", LD_NAME_WORKLOAD, "chat", NULL, true},
        {"report", LD_NAME_WORKLOAD, "report", NULL, true},
        {"gpt-4o", LD_NAME_ALIAS, "report", NULL, true},
        {"fast", LD_NAME_ALIAS, "chat", "b", true},
        {"only-b", LD_NAME_ALIAS, "chat", "b", false},
        {"c", LD_NAME_ROUTE, "report", "c", false},
        {"d", LD_NAME_ROUTE, "report", "d", false},
    };
    for (int i = 0; i < 7; i++) {
        assert_int_equal(ld_policy_model_at(p, i, &m), LD_OK);
        assert_string_equal(m.name, want[i].name);
        assert_int_equal(m.kind, want[i].kind);
        assert_int_equal(m.workload, ld_policy_workload_index(p, want[i].workload));
        assert_int_equal(m.route, want[i].route != NULL
                                      ? ld_policy_route_index(p, want[i].route)
                                      : -1);
        assert_int_equal(m.fallback, want[i].fallback);
    }
    assert_int_equal(ld_policy_model_at(p, 7, &m), LD_EINVAL);
    assert_string_equal(ld_name_kind_name(LD_NAME_ROUTE), "route");
    ld_policy_free(p);
}

static void test_resolve_model_auto_absent_known_and_unknown(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(names_policy);
    ld_model_name m;
    bool dflt = true;
    const char *autos[] = {NULL, "", "auto"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ld_policy_resolve_model(p, autos[i], &m, &dflt), LD_OK);
        assert_int_equal(m.workload, ld_policy_workload_index(p, "chat"));
        assert_int_equal(m.route, -1);
        assert_false(dflt);
    }
    assert_int_equal(ld_policy_resolve_model(p, "gpt-4o", &m, &dflt), LD_OK);
    assert_int_equal(m.kind, LD_NAME_ALIAS);
    assert_int_equal(m.workload, ld_policy_workload_index(p, "report"));
    assert_int_equal(ld_policy_resolve_model(p, "d", &m, &dflt), LD_OK);
    assert_int_equal(m.kind, LD_NAME_ROUTE);
    assert_int_equal(m.route, ld_policy_route_index(p, "d"));
    /* names are exact; a route of a workload that does not pin is none */
    assert_int_equal(ld_policy_resolve_model(p, "GPT-4o", &m, &dflt), LD_ENOENT);
    assert_int_equal(ld_policy_resolve_model(p, "a", &m, &dflt), LD_ENOENT);
    assert_int_equal(ld_policy_resolve_model(p, "gpt-5", &m, &dflt), LD_ENOENT);
    ld_policy_free(p);

    /* with a default for unknown names */
    p = parse_ok(POLICY("\"chat\": {\"ladder\": [\"a\"]}, \"cheap\": "
                        "{\"ladder\": [\"c\"]}",
                        ", \"models\": {\"default_model\": \"cheap\"}"));
    assert_int_equal(ld_policy_resolve_model(p, "gpt-5", &m, &dflt), LD_OK);
    assert_true(dflt);
    assert_int_equal(m.workload, ld_policy_workload_index(p, "cheap"));
    assert_int_equal(ld_policy_resolve_model(p, "chat", &m, &dflt), LD_OK);
    assert_false(dflt);
    ld_policy_free(p);
}

static void test_global_pin_routes_names_each_route_once(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(POLICY(
        "\"chat\": {\"ladder\": [\"a\", \"b\"]}, \"other\": {\"ladder\": "
        "[\"b\", \"c\"], \"pinned_fallback\": false}",
        ", \"models\": {\"pin_routes\": true}"));
    ld_model_name m;
    bool dflt;
    /* b pins in chat, the first workload holding it; c only in other */
    assert_int_equal(ld_policy_resolve_model(p, "b", &m, &dflt), LD_OK);
    assert_int_equal(m.workload, ld_policy_workload_index(p, "chat"));
    assert_true(m.fallback);
    assert_int_equal(ld_policy_resolve_model(p, "c", &m, &dflt), LD_OK);
    assert_int_equal(m.workload, ld_policy_workload_index(p, "other"));
    assert_false(m.fallback);
    assert_int_equal(ld_policy_resolve_model(p, "d", &m, &dflt), LD_ENOENT);
    assert_int_equal(ld_policy_model_count(p), 5); /* 2 workloads, a b c */
    ld_policy_free(p);
}

static void test_aliases_that_name_nothing_are_refused(void **state)
{
    (void)state;
    expect_error(POLICY("\"chat\": {\"ladder\": [\"a\"]}",
                        ", \"models\": {\"aliases\": {\"x\": \"chatt\"}}"),
                 "p.json: models.aliases.x: names nothing: \"chatt\" is not "
                 "a workload");
    expect_error(POLICY("\"chat\": {\"ladder\": [\"a\"]}",
                        ", \"models\": {\"aliases\": {\"x\": {\"workload\": "
                        "\"chat\", \"route\": \"c\"}}}"),
                 "models.aliases.x.route: names nothing: \"c\" is not a "
                 "route of workload \"chat\"");
    expect_error(POLICY("\"chat\": {\"ladder\": [\"a\"]}",
                        ", \"models\": {\"aliases\": {\"x\": {\"workload\": "
                        "\"chat\", \"fallback\": false}}}"),
                 "models.aliases.x.fallback: only with \"route\"");
    expect_error(POLICY("\"chat\": {\"ladder\": [\"a\"]}",
                        ", \"models\": {\"aliases\": {\"x\": 5}}"),
                 "models.aliases.x: must be a workload name or");
    expect_error(POLICY("\"chat\": {\"ladder\": [\"a\"]}",
                        ", \"models\": {\"default_model\": \"nope\"}"),
                 "models.default_model: names nothing: \"nope\"");
    expect_error(POLICY("\"chat\": {\"ladder\": [\"a\"]}",
                        ", \"models\": {\"pin\": true}"),
                 "models.pin: unknown key");
}

static void test_colliding_names_are_refused(void **state)
{
    (void)state;
    expect_error(POLICY("\"chat\": {\"ladder\": [\"a\"]}",
                        ", \"models\": {\"aliases\": {\"chat\": \"chat\"}}"),
                 "models.aliases.chat: model name \"chat\" is an alias and "
                 "also a workload");
    expect_error(POLICY("\"a\": {\"ladder\": [\"a\"], \"pin_routes\": true}",
                        ""),
                 "routes.a: model name \"a\" is a pinnable route and also a "
                 "workload");
    expect_error(POLICY("\"chat\": {\"ladder\": [\"a\"], \"pin_routes\": "
                        "true}",
                        ", \"models\": {\"aliases\": {\"a\": \"chat\"}}"),
                 "routes.a: model name \"a\" is a pinnable route and also an "
                 "alias");
    expect_error(POLICY("\"chat\": {\"ladder\": [\"a\"]}",
                        ", \"models\": {\"aliases\": {\"auto\": \"chat\"}}"),
                 "models.aliases.auto: \"auto\" is reserved");
    /* the same id as a workload is fine while routes are not names */
    ld_policy_free(parse_ok(POLICY("\"a\": {\"ladder\": [\"a\"]}", "")));
}

/* ---- rungs -------------------------------------------------------------- */

static void test_group_rungs_load_weights_and_strategies(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(POLICY(
        "\"w\": {\"ladder\": [{\"group\": {\"a\": 70, \"b\": 30}}, "
        "{\"group\": [\"c\", \"d\"], \"strategy\": \"least_in_flight\"}]}",
        ""));
    int routes[8];
    double wts[8];
    ld_strategy st;
    assert_int_equal(ld_policy_workload_group(p, 0, 0, routes, wts, 8, &st), 2);
    assert_int_equal(routes[0], ld_policy_route_index(p, "a"));
    assert_near(wts[0], 0.7, 1e-12);
    assert_near(wts[1], 0.3, 1e-12);
    assert_int_equal(st, LD_STRAT_WEIGHTED);
    assert_int_equal(ld_policy_workload_group(p, 0, 1, routes, wts, 8, &st), 2);
    assert_near(wts[0], 0.5, 1e-12);
    assert_int_equal(st, LD_STRAT_LEAST_IN_FLIGHT);
    assert_string_equal(ld_strategy_name(st), "least_in_flight");
    assert_int_equal(ld_policy_workload_group(p, 0, 2, routes, wts, 8, &st), 0);
    /* the ladder is every route in order */
    assert_int_equal(ld_policy_workload_rung(p, 0, 3), ld_policy_route_index(p, "c"));
    ld_policy_free(p);

    expect_error(POLICY("\"w\": {\"ladder\": [{\"group\": [\"a\", \"b\"], "
                        "\"strategy\": \"fastest\"}]}", ""),
                 "workloads.w.ladder[0].strategy: unknown strategy \"fastest\"");
    expect_error(POLICY("\"w\": {\"ladder\": [{\"group\": {\"a\": 0, "
                        "\"b\": 1}}]}", ""),
                 "workloads.w.ladder[0].group.a: a weight must be a number "
                 "above 0");
    expect_error(POLICY("\"w\": {\"ladder\": [\"a\", {\"group\": [\"b\", "
                        "\"a\"]}]}", ""),
                 "workloads.w.ladder[1].group[1]: route \"a\" appears twice "
                 "in the ladder (first at [0])");
    expect_error(POLICY("\"w\": {\"ladder\": [{\"group\": []}]}", ""),
                 "workloads.w.ladder[0].group: must be a non-empty array");
    expect_error(POLICY("\"w\": {\"ladder\": [{\"group\": [\"zz\"]}]}", ""),
                 "workloads.w.ladder[0].group[0]: unknown route \"zz\"");
    expect_error(POLICY("\"w\": {\"ladder\": [{\"routes\": [\"a\"]}]}", ""),
                 "workloads.w.ladder[0].routes: unknown key for a group rung");
}

static void test_an_anthropic_route_cannot_offer_n(void **state)
{
    (void)state;
    expect_error("{\"routes\": {\"x\": {\"provider\": \"anthropic\", "
                 "\"model\": \"m\", \"price\": {\"input_per_mtok\": 1, "
                 "\"output_per_mtok\": 1}, \"capabilities\": [\"n\"]}}, "
                 "\"workloads\": {\"w\": {\"ladder\": [\"x\"]}}}",
                 "p.json: routes.x.capabilities: \"n\" (several choices in "
                 "one call) is not something Anthropic's Messages API gives");
}

/* ---- the core ---------------------------------------------------------- */

typedef struct fx {
    ld_policy *p;
    ld_core *c;
    gsl_rng *g;
    ld_rng rng;
} fx;

static double gsl_uniform(void *ctx) { return gsl_rng_uniform(ctx); }

static fx *fx_new(const char *text)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->p = parse_ok(text);
    f->c = ld_core_new(f->p);
    assert_non_null(f->c);
    f->g = gsl_rng_alloc(gsl_rng_mt19937);
    assert_non_null(f->g);
    gsl_rng_set(f->g, 42);
    f->rng.uniform = gsl_uniform;
    f->rng.ctx = f->g;
    return f;
}

static void fx_free(fx *f)
{
    ld_core_free(f->c);
    ld_policy_free(f->p);
    gsl_rng_free(f->g);
    free(f);
}

static ld_raw_result result(int status, int tokens)
{
    ld_raw_result res;
    ld_raw_result_init(&res);
    res.http_status = status;
    res.completion_tokens = tokens;
    return res;
}

static ld_req *start_spec(fx *f, const ld_req_spec *spec, ld_us now,
                          ld_do *first)
{
    ld_req *r = NULL;
    assert_int_equal(ld_req_start(f->c, spec, now, &f->rng, &r), LD_OK);
    assert_int_equal(ld_req_next(r, first), 1);
    return r;
}

static ld_req *start(fx *f, ld_us now, ld_do *first)
{
    ld_req_spec spec = {.workload = -1, .tier = -1, .input_tokens = 100,
                        .output_tokens = 100};
    return start_spec(f, &spec, now, first);
}

/* End attempt d with status (200: success) and return the next action. */
static ld_do end_with(fx *f, ld_req *r, const ld_do *d, ld_us now, int st)
{
    ld_raw_result res = result(st, 10);
    ld_do next;
    assert_int_equal(ld_req_end(r, d->attempt, now, &res, &f->rng), LD_OK);
    assert_int_equal(ld_req_next(r, &next), 1);
    return next;
}

static void test_weighted_rung_splits_by_weight(void **state)
{
    (void)state;
    fx *f = fx_new(POLICY("\"w\": {\"ladder\": [{\"group\": {\"a\": 70, "
                          "\"b\": 30}}, \"c\"]}", ""));
    int a = ld_policy_route_index(f->p, "a"), b = ld_policy_route_index(f->p, "b");
    int na = 0, nb = 0;
    const int n = 10000;
    for (int i = 0; i < n; i++) {
        ld_do d;
        ld_us now = (ld_us)i * 1000;
        ld_req *r = start(f, now, &d);
        assert_int_equal(d.kind, LD_DO_START);
        na += d.route == a;
        nb += d.route == b;
        ld_do fin = end_with(f, r, &d, now + 10, 200);
        assert_int_equal(fin.kind, LD_DO_FINISH);
        assert_int_equal(fin.outcome, LD_OUT_SUCCESS);
        ld_req_free(r);
    }
    /* every first attempt is in the rung; 70/30 within 2 points (the
     * binomial standard error at n = 10000 is 0.46 points) */
    assert_int_equal(na + nb, n);
    assert_near((double)na / n, 0.7, 0.02);
    assert_near((double)nb / n, 0.3, 0.02);
    fx_free(f);
}

static void test_the_rest_of_a_rung_comes_before_the_next_rung(void **state)
{
    (void)state;
    fx *f = fx_new(POLICY("\"w\": {\"ladder\": [{\"group\": [\"a\", \"b\", "
                          "\"c\"]}, \"d\"], \"on\": {\"*\": \"next\"}}", ""));
    int d_route = ld_policy_route_index(f->p, "d");
    int firsts[4] = {0};
    for (int i = 0; i < 200; i++) {
        ld_do d;
        ld_us now = (ld_us)i * 1000;
        ld_req *r = start(f, now, &d);
        bool seen[4] = {false};
        firsts[d.route]++;
        /* the three members fail in some order, each once, then d */
        for (int k = 0; k < 3; k++) {
            assert_int_equal(d.kind, LD_DO_START);
            assert_true(d.route != d_route);
            assert_false(seen[d.route]);
            seen[d.route] = true;
            d = end_with(f, r, &d, now + k + 1, 500);
        }
        assert_int_equal(d.kind, LD_DO_START);
        assert_int_equal(d.route, d_route);
        ld_req_free(r);
        ld_core_free(f->c); /* fresh health: no breaker opens */
        f->c = ld_core_new(f->p);
        assert_non_null(f->c);
    }
    /* each member comes first in about a third of the requests */
    for (int k = 0; k < 3; k++)
        assert_true(firsts[k] > 40);
    fx_free(f);
}

static void test_least_in_flight_picks_the_idle_member(void **state)
{
    (void)state;
    fx *f = fx_new(POLICY("\"w\": {\"ladder\": [{\"group\": [\"a\", \"b\"], "
                          "\"strategy\": \"least_in_flight\"}]}", ""));
    ld_do d1, d2, d3;
    ld_req *r1 = start(f, 0, &d1);
    ld_req *r2 = start(f, 1, &d2);
    /* the second goes where the first is not */
    assert_int_not_equal(d1.route, d2.route);
    ld_do fin = end_with(f, r1, &d1, 2, 200);
    assert_int_equal(fin.kind, LD_DO_FINISH);
    ld_req *r3 = start(f, 3, &d3);
    assert_int_equal(d3.route, d1.route); /* r2's route is still busy */
    ld_req_free(r1);
    ld_req_free(r2);
    ld_req_free(r3);
    fx_free(f);
}

static void test_lowest_latency_prefers_the_faster_observed_member(void **state)
{
    (void)state;
    fx *f = fx_new(POLICY("\"w\": {\"ladder\": [{\"group\": [\"a\", \"b\"], "
                          "\"strategy\": \"lowest_latency\"}]}", ""));
    int a = ld_policy_route_index(f->p, "a");
    ld_us now = 0;
    bool tried[2] = {false};
    /* unobserved routes come first: the first two requests try both */
    for (int i = 0; i < 2; i++) {
        ld_do d;
        ld_req *r = start(f, now, &d);
        tried[d.route == a ? 0 : 1] = true;
        ld_us took = d.route == a ? ld_ms(50) : ld_ms(400);
        now += took;
        ld_do fin = end_with(f, r, &d, now, 200);
        assert_int_equal(fin.kind, LD_DO_FINISH);
        ld_req_free(r);
    }
    assert_true(tried[0] && tried[1]);
    for (int i = 0; i < 50; i++) {
        ld_do d;
        ld_req *r = start(f, now, &d);
        assert_int_equal(d.route, a);
        now += ld_ms(50);
        (void)end_with(f, r, &d, now, 200);
        ld_req_free(r);
    }
    fx_free(f);
}

static void test_a_pinned_route_goes_first_then_falls_back_or_not(void **state)
{
    (void)state;
    fx *f = fx_new(POLICY("\"w\": {\"ladder\": [\"a\", \"b\", \"c\"], "
                          "\"on\": {\"*\": \"next\"}}", ""));
    int a = ld_policy_route_index(f->p, "a"), c = ld_policy_route_index(f->p, "c");
    ld_req_spec spec = {.workload = -1, .tier = -1, .input_tokens = 10,
                        .output_tokens = 10, .pinned = true, .pin_route = c,
                        .pin_fallback = true};
    ld_do d;
    ld_req *r = start_spec(f, &spec, 0, &d);
    assert_int_equal(d.route, c);
    d = end_with(f, r, &d, 1, 500);
    assert_int_equal(d.kind, LD_DO_START);
    assert_int_equal(d.route, a); /* the ladder from the top, without c */
    ld_req_free(r);

    spec.pin_fallback = false;
    r = start_spec(f, &spec, 2, &d);
    assert_int_equal(d.route, c);
    d = end_with(f, r, &d, 3, 500);
    assert_int_equal(d.kind, LD_DO_FINISH);
    assert_int_equal(d.outcome, LD_OUT_FAILED);
    assert_int_equal(d.status, 503);
    ld_req_free(r);

    /* a pin outside the workload's routes is refused */
    spec.pin_route = ld_policy_route_index(f->p, "d");
    ld_req *bad = (ld_req *)(uintptr_t)1;
    assert_int_equal(ld_req_start(f->c, &spec, 4, &f->rng, &bad), LD_EINVAL);
    assert_null(bad);
    fx_free(f);
}

static void test_n_needs_the_capability_and_multiplies_the_cost(void **state)
{
    (void)state;
    fx *f = fx_new(POLICY("\"w\": {\"ladder\": [\"a\", \"d\"]}", ""));
    int d_route = ld_policy_route_index(f->p, "d");
    ld_req_spec spec = {.workload = -1, .tier = -1, .input_tokens = 1000,
                        .output_tokens = 100, .caps = LD_CAP_N, .n = 3};
    ld_do d;
    ld_req *r = start_spec(f, &spec, 0, &d);
    /* a has no "n": skipped for capability_missing, d serves */
    assert_int_equal(d.kind, LD_DO_START);
    assert_int_equal(d.route, d_route);
    ld_raw_result res = result(200, 0); /* no usage reported */
    assert_int_equal(ld_req_end(r, d.attempt, 5, &res, &f->rng), LD_OK);
    ld_req_info info;
    ld_req_info_get(r, &info);
    assert_int_equal(info.outcome, LD_OUT_SUCCESS);
    assert_int_equal(info.first_cls, LD_FC_CAPABILITY_MISSING);
    /* 1000 input tokens at $1/M, 3 x 100 output tokens at $10/M */
    assert_near(info.cost, (1000 * 1.0 + 300 * 10.0) / 1e6, 1e-12);
    ld_req_free(r);

    /* the budget sees the n answers too: $0.0035 breaks a $0.003 cap */
    ld_core_free(f->c);
    ld_policy_free(f->p);
    f->p = parse_ok(POLICY("\"w\": {\"ladder\": [\"d\"], \"constraints\": "
                           "{\"max_cost_usd\": 0.003}}", ""));
    f->c = ld_core_new(f->p);
    assert_non_null(f->c);
    r = start_spec(f, &spec, 0, &d);
    assert_int_equal(d.kind, LD_DO_FINISH);
    assert_int_equal(d.cls, LD_FC_BUDGET_EXCEEDED);
    ld_req_free(r);
    spec.n = 1;
    spec.caps = 0;
    r = start_spec(f, &spec, 0, &d);
    assert_int_equal(d.kind, LD_DO_START); /* $0.002 fits */
    ld_req_free(r);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_are_workloads_aliases_and_pinnable_routes),
        cmocka_unit_test(test_resolve_model_auto_absent_known_and_unknown),
        cmocka_unit_test(test_global_pin_routes_names_each_route_once),
        cmocka_unit_test(test_aliases_that_name_nothing_are_refused),
        cmocka_unit_test(test_colliding_names_are_refused),
        cmocka_unit_test(test_group_rungs_load_weights_and_strategies),
        cmocka_unit_test(test_an_anthropic_route_cannot_offer_n),
        cmocka_unit_test(test_weighted_rung_splits_by_weight),
        cmocka_unit_test(test_the_rest_of_a_rung_comes_before_the_next_rung),
        cmocka_unit_test(test_least_in_flight_picks_the_idle_member),
        cmocka_unit_test(test_lowest_latency_prefers_the_faster_observed_member),
        cmocka_unit_test(test_a_pinned_route_goes_first_then_falls_back_or_not),
        cmocka_unit_test(test_n_needs_the_capability_and_multiplies_the_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
