/* test_sim.c - the simulator against closed-form results, each within four
 * standard errors over ten seeds; Little's law on every run; one terminal
 * outcome per request; byte-identical output for a seed. */
#include <stdbool.h>
#include <stdlib.h>

#include "testutil.h"

#include "sim.h"

#define SEEDS 10

typedef struct run {
    ld_policy *p;
    sim_scenario *sc;
} run;

static void load(run *r, const char *policy, const char *scenario)
{
    ld_error err;
    if (ld_policy_parse(policy, strlen(policy), "policy.json", &r->p, &err) < 0)
        fail_msg("policy: %s", err.msg);
    if (sim_scenario_parse(scenario, strlen(scenario), "scenario.json", ".",
                           &r->sc, &err) < 0)
        fail_msg("scenario: %s", err.msg);
    if (sim_scenario_bind(r->sc, r->p, &err) < 0)
        fail_msg("bind: %s", err.msg);
}

static void unload(run *r)
{
    sim_scenario_free(r->sc);
    ld_policy_free(r->p);
}

static double num(const cJSON *o, const char *path)
{
    /* "a.b.c" */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *tok = strtok(buf, "."); tok != NULL; tok = strtok(NULL, "."))
        cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    if (!cJSON_IsNumber(cur))
        fail_msg("summary has no number at %s", path);
    return cur->valuedouble;
}

/* Run with a seed and return the summary (caller deletes). Checks Little's
 * law and that every request ended once. */
static cJSON *run_seed(run *r, uint64_t seed)
{
    ld_error err;
    assert_int_equal(sim_scenario_reseed(r->sc, seed, &err), LD_OK);
    sim_options o = {.sc = r->sc, .p = r->p, .seed = seed, .events_sample = 1.0};
    sim_metrics *m;
    sim_stats st;
    if (sim_run(&o, &m, &st, &err) < 0)
        fail_msg("sim: %s", err.msg);
    cJSON *s = sim_metrics_summary(m, seed);
    assert_non_null(s);
    double req = num(s, "requests");
    assert_near(num(s, "succeeded") + num(s, "failed") + num(s, "abandoned"),
                req, 0);
    assert_near(req, (double)st.requests, 0);
    double rel = num(s, "littles_law.relative_error");
    if (!(rel < 0.01))
        fail_msg("Little's law off by %.3f%% (seed %llu)", rel * 100,
                 (unsigned long long)seed);
    sim_metrics_free(m);
    return s;
}

typedef struct stat_acc {
    double v[SEEDS];
    int n;
} stat_acc;

static void acc_add(stat_acc *a, double x) { a->v[a->n++] = x; }

/* mean of the per-seed values is within 4 standard errors (plus `abs`,
 * for figures that hardly vary) of `expected` */
static void acc_check(const stat_acc *a, double expected, double abs_tol,
                      const char *what)
{
    double mean = 0, var = 0;
    for (int i = 0; i < a->n; i++)
        mean += a->v[i];
    mean /= a->n;
    for (int i = 0; i < a->n; i++)
        var += (a->v[i] - mean) * (a->v[i] - mean);
    var /= a->n - 1;
    double se = sqrt(var / a->n);
    if (getenv("LD_TEST_VERBOSE"))
        fprintf(stderr, "%s: %.6g (se %.3g), expected %.6g\n", what, mean, se, expected);
    if (!(fabs(mean - expected) <= 4 * se + abs_tol))
        fail_msg("%s: %.6g over %d seeds (se %.3g), expected %.6g", what,
                 mean, a->n, se, expected);
}

static const char one_route_policy[] =
    "{\"routes\": {\"s\": {\"provider\": \"openai\", \"model\": \"m\","
    "   \"price\": {\"input_per_mtok\": 0, \"output_per_mtok\": 0}}},"
    " \"workloads\": {\"w\": {\"constraints\": {\"total_ms\": 100000000},"
    "   \"ladder\": [\"s\"], \"on\": {\"*\": \"fail\"}}},"
    " \"breaker\": {\"min_requests\": 1000000000, \"failure_rate\": 1},"
    " \"retry_budget\": {\"ratio\": 0, \"min_per_s\": 0}}";

static void test_mm1_mean_sojourn_and_p99(void **state)
{
    (void)state;
    run r;
    load(&r, one_route_policy,
         "{\"requests\": 100000, \"seed\": 1,"
         " \"traffic\": {\"arrivals\": {\"process\": \"poisson\", \"rate_per_s\": 0.8},"
         "  \"mix\": [{\"workload\": \"w\", \"share\": 1, \"input_tokens\": 1,"
         "            \"output_tokens\": 0}]},"
         " \"providers\": {\"s\": {\"ttft_ms\": {\"dist\": \"exponential\", \"mean\": 1000},"
         "  \"tokens_per_s\": 100, \"concurrency\": 1, \"queue\": -1}}}");
    stat_acc mean = {0}, p99 = {0};
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        cJSON *s = run_seed(&r, seed);
        assert_near(num(s, "success_rate"), 1.0, 0);
        acc_add(&mean, num(s, "latency_ms.mean") / 1000);
        acc_add(&p99, num(s, "latency_ms.p99") / 1000);
        cJSON_Delete(s);
    }
    acc_check(&mean, 5.0, 0, "M/M/1 mean sojourn (s)");
    acc_check(&p99, 23.03, 0, "M/M/1 p99 sojourn (s)");
    unload(&r);
}

static void erlang_b(const char *service)
{
    char scenario[2048];
    snprintf(scenario, sizeof scenario,
             "{\"requests\": 50000,"
             " \"traffic\": {\"arrivals\": {\"process\": \"poisson\", \"rate_per_s\": 8},"
             "  \"mix\": [{\"workload\": \"w\", \"share\": 1, \"input_tokens\": 1,"
             "            \"output_tokens\": 0}]},"
             " \"providers\": {\"s\": {\"ttft_ms\": %s,"
             "  \"tokens_per_s\": 100, \"concurrency\": 10, \"queue\": 0}}}",
             service);
    run r;
    load(&r, one_route_policy, scenario);
    stat_acc blocked = {0};
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        cJSON *s = run_seed(&r, seed);
        acc_add(&blocked, num(s, "failed") / num(s, "requests"));
        cJSON_Delete(s);
    }
    acc_check(&blocked, 0.12166, 0, service);
    unload(&r);
}

static void test_erlang_b_blocking_exponential_service(void **state)
{
    (void)state;
    erlang_b("{\"dist\": \"exponential\", \"mean\": 1000}");
}

static void test_erlang_b_blocking_is_insensitive_to_service_law(void **state)
{
    (void)state;
    erlang_b("{\"dist\": \"lognormal\", \"mean\": 1000, \"sd\": 1500}");
}

static void test_ladder_of_independent_failures(void **state)
{
    (void)state;
    run r;
    load(&r,
         "{\"routes\": {"
         "  \"r1\": {\"provider\": \"openai\", \"model\": \"a\","
         "    \"price\": {\"input_per_mtok\": 10, \"output_per_mtok\": 0}},"
         "  \"r2\": {\"provider\": \"openai\", \"model\": \"b\","
         "    \"price\": {\"input_per_mtok\": 4, \"output_per_mtok\": 0}},"
         "  \"r3\": {\"provider\": \"openai\", \"model\": \"c\","
         "    \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 0}}},"
         " \"workloads\": {\"w\": {\"constraints\": {\"total_ms\": 600000},"
         "   \"ladder\": [\"r1\", \"r2\", \"r3\"], \"on\": {\"*\": \"next\"}}},"
         " \"breaker\": {\"min_requests\": 1000000000, \"failure_rate\": 1},"
         " \"retry_budget\": {\"ratio\": 0, \"min_per_s\": 0}}",
         "{\"requests\": 50000,"
         " \"traffic\": {\"arrivals\": {\"process\": \"poisson\", \"rate_per_s\": 50},"
         "  \"mix\": [{\"workload\": \"w\", \"share\": 1, \"input_tokens\": 1000,"
         "            \"output_tokens\": 0}]},"
         " \"providers\": {"
         "  \"r1\": {\"ttft_ms\": 2000, \"error_ms\": 500, \"tokens_per_s\": 100,"
         "          \"errors\": {\"server_error\": 0.10}},"
         "  \"r2\": {\"ttft_ms\": 1200, \"error_ms\": 300, \"tokens_per_s\": 100,"
         "          \"errors\": {\"server_error\": 0.05}},"
         "  \"r3\": {\"ttft_ms\": 3000, \"error_ms\": 1000, \"tokens_per_s\": 100,"
         "          \"errors\": {\"server_error\": 0.20}}}}");
    stat_acc success = {0}, attempts = {0}, latency = {0}, latency_ok = {0};
    stat_acc cost = {0};
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        cJSON *s = run_seed(&r, seed);
        acc_add(&success, num(s, "success_rate"));
        acc_add(&attempts, num(s, "attempts_per_request"));
        acc_add(&latency, num(s, "latency_all_ms.mean") / 1000);
        acc_add(&latency_ok, num(s, "latency_ms.mean") / 1000);
        acc_add(&cost, num(s, "cost_usd") / num(s, "requests"));
        cJSON_Delete(s);
    }
    acc_check(&success, 0.999, 1e-9, "success rate");
    acc_check(&attempts, 1.105, 1e-9, "attempts per request");
    acc_check(&latency, 1.9785, 1e-9, "mean latency, all requests (s)");
    /* successes only: 0.9 x 2.0 + 0.095 x 1.7 + 0.004 x 3.8 over 0.999
     * (the 0.1% that fail all three rungs, at 1.8 s, are not timed) */
    acc_check(&latency_ok, 1.9767 / 0.999, 1e-9,
              "mean latency, successful requests (s)");
    acc_check(&cost, 0.009384, 1e-12, "mean cost (USD)");
    unload(&r);
}

/* Every stream of r1 is cut after 10 of its 100 tokens. Without
 * continuations every request fails mid-stream; with one, r2 (which takes
 * a prefill) finishes each answer, generating (and billing) only the 90
 * tokens left. */
static void test_cut_streams_continue_with_what_is_left(void **state)
{
    (void)state;
    static const char policy[] =
        "{\"routes\": {"
        "  \"r1\": {\"provider\": \"openai\", \"model\": \"a\","
        "    \"capabilities\": [\"stream\"],"
        "    \"price\": {\"input_per_mtok\": 0, \"output_per_mtok\": 0}},"
        "  \"r2\": {\"provider\": \"anthropic\", \"model\": \"b\","
        "    \"capabilities\": [\"stream\", \"prefill\"],"
        "    \"price\": {\"input_per_mtok\": 0, \"output_per_mtok\": 1000}}},"
        " \"workloads\": {\"w\": {\"constraints\": {\"total_ms\": 600000},"
        "   \"ladder\": [\"r1\", \"r2\"], \"on\": {\"*\": \"next\"},"
        "   \"continue_streams\": %d}},"
        " \"breaker\": {\"min_requests\": 1000000000, \"failure_rate\": 1},"
        " \"retry_budget\": {\"ratio\": 0, \"min_per_s\": 0}}";
    static const char scenario[] =
        "{\"requests\": 2000,"
        " \"traffic\": {\"arrivals\": {\"process\": \"poisson\", \"rate_per_s\": 20},"
        "  \"mix\": [{\"workload\": \"w\", \"share\": 1, \"input_tokens\": 100,"
        "            \"output_tokens\": 100}]},"
        " \"providers\": {"
        "  \"r1\": {\"ttft_ms\": 200, \"tokens_per_s\": 100},"
        "  \"r2\": {\"ttft_ms\": 300, \"tokens_per_s\": 100}},"
        " \"faults\": [{\"type\": \"stream_cut\", \"target\": \"r1\","
        "   \"start_s\": 0, \"end_s\": 100000, \"probability\": 1,"
        "   \"after_tokens\": {\"dist\": \"constant\", \"value\": 10}}]}";
    for (int cont = 0; cont <= 1; cont++) {
        char text[2048];
        snprintf(text, sizeof text, policy, cont);
        run r;
        load(&r, text, scenario);
        cJSON *s = run_seed(&r, 1);
        double n = num(s, "requests");
        if (cont == 0) {
            assert_near(num(s, "success_rate"), 0, 0);
            assert_near(num(s, "attempts_per_request"), 1, 0);
        } else {
            assert_near(num(s, "success_rate"), 1, 0);
            assert_near(num(s, "attempts_per_request"), 2, 0);
            /* 90 tokens (91 when the cut is read a hair early) */
            double per = num(s, "cost_usd") / n;
            if (per < 0.0899 || per > 0.0911)
                fail_msg("cost per request %.6f: the continuation did not "
                         "generate the 90 tokens left", per);
            /* 0.2 s + 0.1 s of r1, then 0.3 s + 0.9 s of r2 */
            assert_near(num(s, "latency_ms.mean"), 1500, 15);
        }
        cJSON_Delete(s);
        unload(&r);
    }
}

static char *run_to_text(run *r, uint64_t seed)
{
    ld_error err;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    sim_options o = {.sc = r->sc, .p = r->p, .seed = seed, .events = f,
                     .events_sample = 1.0};
    sim_metrics *m;
    if (sim_run(&o, &m, NULL, &err) < 0)
        fail_msg("sim: %s", err.msg);
    cJSON *s = sim_metrics_summary(m, seed);
    char *js = cJSON_PrintUnformatted(s);
    fputs(js, f);
    sim_metrics_write_timeseries(m, f);
    cJSON_free(js);
    cJSON_Delete(s);
    sim_metrics_free(m);
    fclose(f);
    return buf;
}

static void test_same_seed_gives_byte_identical_output(void **state)
{
    (void)state;
    run r;
    ld_error err;
    const char *pp = getenv("LD_TEST_EXAMPLE_DIR");
    char ppath[512], spath[512];
    snprintf(ppath, sizeof ppath, "%s/policy.json", pp ? pp : "examples");
    snprintf(spath, sizeof spath, "%s/scenario.json", pp ? pp : "examples");
    FILE *f = fopen(ppath, "rb");
    if (f == NULL)
        skip();
    fclose(f);
    assert_int_equal(sim_scenario_load(spath, &r.sc, &err), LD_OK);
    f = fopen(ppath, "rb");
    char pol[65536];
    size_t n = fread(pol, 1, sizeof pol - 1, f);
    fclose(f);
    pol[n] = '\0';
    assert_int_equal(ld_policy_parse(pol, n, ppath, &r.p, &err), LD_OK);
    assert_int_equal(sim_scenario_bind(r.sc, r.p, &err), LD_OK);
    r.sc->duration_s = 600; /* ten minutes of the incident are enough */
    char *a = run_to_text(&r, 7);
    char *b = run_to_text(&r, 7);
    char *c = run_to_text(&r, 8);
    assert_true(strlen(a) > 1000);
    assert_string_equal(a, b);
    assert_true(strcmp(a, c) != 0);
    free(a);
    free(b);
    free(c);
    unload(&r);
}

/* Minutes over the ceiling, for a policy on a scenario with or without a
 * service level of its own. */
static double minutes_over(const char *policy, bool slo)
{
    char scen[1024];
    snprintf(scen, sizeof scen,
             "{\"duration_s\": 600, \"interval_s\": 60,"
             " \"traffic\": {\"arrivals\": {\"process\": \"poisson\","
             " \"rate_per_s\": 5}, \"mix\": [{\"workload\": \"chat\","
             " \"output_tokens\": 100}]},"
             " \"providers\": {\"slow\": {\"ttft_ms\": 5000, \"tokens_per_s\": 100},"
             " \"fast\": {\"ttft_ms\": 300, \"tokens_per_s\": 100}}%s}",
             slo ? ", \"service_level\": {\"chat\": {\"ttft_ms\": 3000}}" : "");
    run r;
    load(&r, policy, scen);
    cJSON *s = run_seed(&r, 3);
    double v = num(s, "minutes_over_ceiling");
    cJSON_Delete(s);
    unload(&r);
    return v;
}

/* Two ladders on one slow primary: "tight" gives up on it after 2.5 s and
 * answers from the fast route (first token at 2.8 s), "loose" waits the 5 s.
 * Judged by each policy's own constraints (2.5 s and 30 s), the loose one
 * looked perfect and the tight one failed every minute; judged by what the
 * users tolerate (3 s), it is the other way round. */
static void test_minutes_over_ceiling_judge_every_policy_alike(void **state)
{
    (void)state;
    static const char tight[] =
        "{\"routes\": {\"slow\": {\"provider\": \"openai\", \"model\": \"s\","
        " \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}},"
        " \"fast\": {\"provider\": \"openai\", \"model\": \"f\","
        " \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}}},"
        " \"workloads\": {\"chat\": {\"constraints\": {\"ttft_ms\": 2500,"
        " \"total_ms\": 30000}, \"ladder\": [\"slow\", \"fast\"],"
        " \"on\": {\"timeout_ttft\": \"next\"}}},"
        " \"breaker\": {\"min_requests\": 1000000}}";
    static const char loose[] =
        "{\"routes\": {\"slow\": {\"provider\": \"openai\", \"model\": \"s\","
        " \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}},"
        " \"fast\": {\"provider\": \"openai\", \"model\": \"f\","
        " \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}}},"
        " \"workloads\": {\"chat\": {\"constraints\": {\"ttft_ms\": 30000,"
        " \"total_ms\": 120000}, \"ladder\": [\"slow\", \"fast\"],"
        " \"on\": {\"timeout_ttft\": \"next\"}}},"
        " \"breaker\": {\"min_requests\": 1000000}}";
    /* the old rule: each by its own constraints */
    double old_tight = minutes_over(tight, false);
    double old_loose = minutes_over(loose, false);
    assert_true(old_loose < old_tight);
    assert_near(old_loose, 0, 1e-9);
    /* the scenario's service level */
    double new_tight = minutes_over(tight, true);
    double new_loose = minutes_over(loose, true);
    assert_true(new_tight < new_loose);
    assert_near(new_tight, 0, 1e-9);
    assert_true(new_loose >= 9.0);
}

/* Every class a provider can answer with can be produced by a scenario's
 * baseline errors, and comes out of the core as that class. */
static void test_every_provider_class_can_be_produced(void **state)
{
    (void)state;
    static const char policy[] =
        "{\"routes\": {\"a\": {\"provider\": \"openai\", \"model\": \"m\","
        " \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}}},"
        " \"workloads\": {\"chat\": {\"constraints\": {\"ttft_ms\": 2000,"
        " \"total_ms\": 10000, \"stall_ms\": 1000}, \"ladder\": [\"a\"],"
        " \"on\": {\"*\": \"fail\"}}},"
        " \"breaker\": {\"min_requests\": 1000000}}";
    int tested = 0;
    for (int c = 0; c < LD_FC_COUNT; c++) {
        ld_class k = (ld_class)c;
        if (ld_class_family(k) == LD_FAMILY_BUSINESS ||
            k == LD_FC_CIRCUIT_OPEN || k == LD_FC_CAPABILITY_MISSING ||
            k == LD_FC_SHUTDOWN)
            continue; /* the router's own decisions */
        char scen[768];
        snprintf(scen, sizeof scen,
                 "{\"requests\": 20, \"traffic\": {\"arrivals\": {\"process\":"
                 " \"poisson\", \"rate_per_s\": 2}, \"mix\": [{\"workload\":"
                 " \"chat\", \"output_tokens\": 100}]}, \"providers\": {\"a\":"
                 " {\"ttft_ms\": 100, \"tokens_per_s\": 50, \"errors\": {\"%s\": 1}}}}",
                 ld_class_name(k));
        run r;
        load(&r, policy, scen);
        char *ev = NULL;
        size_t evn = 0;
        FILE *f = open_memstream(&ev, &evn);
        assert_non_null(f);
        ld_error err;
        sim_options o = {.sc = r.sc, .p = r.p, .seed = 5, .events = f,
                         .events_sample = 1.0};
        sim_metrics *m;
        if (sim_run(&o, &m, NULL, &err) < 0)
            fail_msg("sim: %s", err.msg);
        fclose(f);
        /* every request ends failed with that class */
        char want[96];
        snprintf(want, sizeof want, "\"class\":\"%s\",\"status\"",
                 ld_class_name(k));
        int done = 0, right = 0;
        for (char *l = strtok(ev, "\n"); l != NULL; l = strtok(NULL, "\n"))
            if (strstr(l, "\"type\":\"done\"") != NULL) {
                done++;
                right += strstr(l, "\"outcome\":\"failed\"") != NULL &&
                         strstr(l, want) != NULL;
            }
        if (done != 20 || right != 20)
            fail_msg("errors {\"%s\": 1}: %d of %d requests failed so",
                     ld_class_name(k), right, done);
        free(ev);
        sim_metrics_free(m);
        unload(&r);
        tested++;
    }
    assert_true(tested >= 16);
}

/* ---- tenants ------------------------------------------------------------ */

static const char tenant_policy[] =
    "{\"routes\": {\"s\": {\"provider\": \"openai\", \"model\": \"m\","
    "   \"price\": {\"input_per_mtok\": 1000, \"output_per_mtok\": 0}}},"
    " \"workloads\": {\"w\": {\"ladder\": [\"s\"], \"on\": {\"*\": \"fail\"}},"
    "               \"v\": {\"ladder\": [\"s\"], \"on\": {\"*\": \"fail\"}}},"
    " \"tiers\": {\"free\": {}, \"paid\": {}},"
    " \"breaker\": {\"min_requests\": 1000000000, \"failure_rate\": 1},"
    " \"retry_budget\": {\"ratio\": 0, \"min_per_s\": 0}}";

/* 2 requests/s for 10 minutes of $1 each (1000 tokens at $1000 per
 * million, nothing out): a $50 a day tenant, a hot one over its rpm 30
 * (about 60 a minute) and a cold one far under its rpm 100 (about 24). */
static const char tenant_scenario[] =
    "{\"duration_s\": 600, \"seed\": 3,"
    " \"traffic\": {\"arrivals\": {\"process\": \"poisson\", \"rate_per_s\": 2},"
    "  \"mix\": [{\"workload\": \"w\", \"tier\": \"paid\", \"share\": 0.5,"
    "            \"input_tokens\": 1000, \"output_tokens\": 0},"
    "           {\"workload\": \"v\", \"tier\": \"paid\", \"share\": 0.5,"
    "            \"input_tokens\": 1000, \"output_tokens\": 0}],"
    "  \"tenants\": [{\"id\": \"budget\", \"share\": 3, \"usd_per_day\": 50},"
    "               {\"id\": \"hot\", \"share\": 5, \"rpm\": 30, \"tier\": \"free\","
    "                \"workloads\": [\"v\"]},"
    "               {\"id\": \"cold\", \"share\": 2, \"rpm\": 100}]},"
    " \"providers\": {\"s\": {\"ttft_ms\": 100, \"tokens_per_s\": 100,"
    "  \"concurrency\": 1000}}}";

static const cJSON *tenant(const cJSON *s, const char *id)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(s, "tenants"), id);
    if (t == NULL)
        fail_msg("summary has no tenants.%s", id);
    return t;
}

static void test_tenant_limits_bind_through_the_core(void **state)
{
    (void)state;
    run r;
    load(&r, tenant_policy, tenant_scenario);
    for (uint64_t seed = 1; seed <= 4; seed++) {
        cJSON *s = run_seed(&r, seed);
        const cJSON *b = tenant(s, "budget"), *h = tenant(s, "hot"),
                    *c = tenant(s, "cold");
        /* every request is one tenant's */
        assert_near(num(b, "requests") + num(h, "requests") + num(c, "requests"),
                    num(s, "requests"), 0);
        /* the day budget binds: spend reaches it and never passes it (the
         * estimate is the cost here), the rest refused by usd_per_day */
        assert_near(num(b, "spend_usd"), 50, 1e-6);
        assert_true(num(b, "key_limited") > 50);
        assert_near(num(b, "key_limited_by.usd_per_day"), num(b, "key_limited"), 0);
        assert_near(num(b, "succeeded"), 50, 0);
        /* rpm refusals only for the hot tenant, at most 30 served a minute */
        assert_true(num(h, "key_limited_by.rpm") > 0);
        assert_near(num(h, "key_limited_by.rpm"), num(h, "key_limited"), 0);
        assert_true(num(h, "succeeded") <= 30 * 10);
        assert_near(num(c, "key_limited"), 0, 0);
        assert_near(num(c, "succeeded"), num(c, "requests"), 0);
        /* refusals are failures the user sees, and cost nothing */
        assert_near(num(s, "failed"),
                    num(b, "key_limited") + num(h, "key_limited"), 0);
        assert_near(num(s, "cost_usd"), num(b, "spend_usd") +
                    num(h, "spend_usd") + num(c, "spend_usd"), 1e-6);
        /* the hot tenant draws only from workload v: no w in its tier.
         * Shares 0.3 / 0.5 / 0.2 within four standard errors */
        double n = num(s, "requests");
        assert_true(fabs(num(h, "requests") / n - 0.5) < 4 * sqrt(0.25 / n));
        cJSON_Delete(s);
    }
    unload(&r);
}

static void test_tenants_change_no_other_draw(void **state)
{
    (void)state;
    /* a scenario with tenants without limits is the scenario without
     * tenants: the tenants' draw has its own random stream */
    static const char base[] =
        "{\"duration_s\": 300, \"seed\": 5,"
        " \"traffic\": {\"arrivals\": {\"process\": \"poisson\", \"rate_per_s\": 3},"
        "  \"mix\": [{\"workload\": \"w\", \"share\": 1,"
        "            \"input_tokens\": {\"dist\": \"exponential\", \"mean\": 500}}]%s},"
        " \"providers\": {\"s\": {\"ttft_ms\": {\"dist\": \"exponential\", \"mean\": 200},"
        "  \"tokens_per_s\": 50, \"concurrency\": 4, \"queue\": 10}}}";
    char with[1024], without[1024];
    snprintf(without, sizeof without, base, "");
    snprintf(with, sizeof with, base,
             ", \"tenants\": [{\"id\": \"a\", \"share\": 1}, {\"id\": \"b\", \"share\": 2}]");
    run r1, r2;
    load(&r1, tenant_policy, without);
    load(&r2, tenant_policy, with);
    cJSON *s1 = run_seed(&r1, 9), *s2 = run_seed(&r2, 9);
    assert_near(num(s1, "succeeded"), num(s2, "succeeded"), 0);
    assert_near(num(s1, "latency_ms.p99"), num(s2, "latency_ms.p99"), 0);
    assert_near(num(s1, "cost_usd"), num(s2, "cost_usd"), 1e-9);
    assert_near(num(tenant(s2, "a"), "requests") + num(tenant(s2, "b"), "requests"),
                num(s2, "requests"), 0);
    assert_null(cJSON_GetObjectItemCaseSensitive(s1, "tenants"));
    cJSON_Delete(s1);
    cJSON_Delete(s2);
    unload(&r1);
    unload(&r2);
}

static void test_tenant_parse_errors_name_the_field(void **state)
{
    (void)state;
    static const struct {
        const char *tenants, *msg;
    } bad[] = {
        {"[{\"id\": \"a\"}]", "traffic.tenants[0].share: missing"},
        {"[{\"id\": \"a\", \"share\": 1}, {\"id\": \"a\", \"share\": 1}]",
         "traffic.tenants[1].id: \"a\" is also tenant 0's"},
        {"[{\"id\": \"a\", \"share\": 1, \"rpm\": 2.5}]",
         "traffic.tenants[0].rpm: must be a whole number"},
        {"[{\"id\": \"a\", \"share\": 1, \"workloads\": [\"w\", \"x\"]}]",
         "traffic.tenants[0].workloads[1]: workload \"x\" is in no entry"},
        {"[{\"id\": \"a b\", \"share\": 1}]", "traffic.tenants[0].id: \"a b\""},
        {"[{\"id\": \"a\", \"share\": 1, \"usd_per_week\": 1}]",
         "traffic.tenants[0]"},
        {"{}", "traffic.tenants: must be an array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "{\"duration_s\": 10, \"traffic\": {\"arrivals\": {\"process\":"
                 " \"poisson\", \"rate_per_s\": 1}, \"mix\": [{\"workload\": \"w\"}],"
                 " \"tenants\": %s}}", bad[i].tenants);
        sim_scenario *sc = NULL;
        ld_error err;
        memset(&err, 0, sizeof err);
        assert_true(sim_scenario_parse(text, strlen(text), "scenario.json", ".",
                                       &sc, &err) < 0);
        if (strstr(err.msg, bad[i].msg) == NULL)
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err.msg,
                     bad[i].msg);
        assert_null(sc);
    }
    /* a tier the policy lacks is named when the run starts */
    run r;
    char text[1024];
    snprintf(text, sizeof text,
             "{\"duration_s\": 10, \"traffic\": {\"arrivals\": {\"process\":"
             " \"poisson\", \"rate_per_s\": 1}, \"mix\": [{\"workload\": \"w\"}],"
             " \"tenants\": [{\"id\": \"a\", \"share\": 1, \"tier\": \"gold\"}]},"
             " \"providers\": {\"s\": {\"ttft_ms\": 100, \"tokens_per_s\": 100}}}");
    load(&r, tenant_policy, text);
    sim_options o = {.sc = r.sc, .p = r.p, .seed = 1, .events_sample = 1.0};
    sim_metrics *m = NULL;
    ld_error err;
    assert_true(sim_run(&o, &m, NULL, &err) < 0);
    assert_non_null(strstr(err.msg, "traffic.tenants[0].tier: unknown tier \"gold\""));
    unload(&r);
}

/* The rpm limit counts a sliding minute of one-second buckets: a limit of
 * 1 admits every request when they come 90 s apart (the window forgets a
 * request after a minute, across a gap of more than a minute), and every
 * other one when they come 30.5 s apart; at 10 requests/s against 120 rpm,
 * no more than 120 a minute get through, and the minutes fill up. */
static double rpm_successes(double gap_s, int requests, int rpm, double *limited)
{
    char sc[1024];
    snprintf(sc, sizeof sc,
             "{\"requests\": %d, \"seed\": 3,"
             " \"traffic\": {\"arrivals\": {\"process\": \"gamma\","
             "  \"rate_per_s\": %.17g, \"shape\": 1000000},"
             "  \"mix\": [{\"workload\": \"w\", \"share\": 1,"
             "   \"input_tokens\": 1, \"output_tokens\": 1}]},"
             " \"providers\": {\"s\": {\"ttft_ms\": 10, \"tokens_per_s\": 100,"
             "  \"rpm\": %d}}}", requests, 1.0 / gap_s, rpm);
    run r;
    load(&r, one_route_policy, sc);
    cJSON *s = run_seed(&r, 3);
    double ok = num(s, "succeeded");
    /* (the policy fails a request on its first failure, or skips the
     * route while the core knows it is rate limited) */
    *limited = num(s, "failed");
    assert_near(ok + *limited, num(s, "requests"), 0);
    cJSON_Delete(s);
    unload(&r);
    return ok;
}

static void test_rpm_limit_is_a_sliding_minute(void **state)
{
    (void)state;
    double limited;
    assert_near(rpm_successes(90, 40, 1, &limited), 40, 0);
    assert_near(limited, 0, 0);
    assert_near(rpm_successes(30.5, 40, 1, &limited), 20, 0);
    assert_near(limited, 20, 0);
    /* 3000 requests in 300 s: five minutes of at most 120 */
    double ok = rpm_successes(0.1, 3000, 120, &limited);
    if (!(ok >= 590 && ok <= 600))
        fail_msg("%g requests got through 120 rpm in 300 s", ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpm_limit_is_a_sliding_minute),
        cmocka_unit_test(test_mm1_mean_sojourn_and_p99),
        cmocka_unit_test(test_erlang_b_blocking_exponential_service),
        cmocka_unit_test(test_erlang_b_blocking_is_insensitive_to_service_law),
        cmocka_unit_test(test_ladder_of_independent_failures),
        cmocka_unit_test(test_cut_streams_continue_with_what_is_left),
        cmocka_unit_test(test_same_seed_gives_byte_identical_output),
        cmocka_unit_test(test_minutes_over_ceiling_judge_every_policy_alike),
        cmocka_unit_test(test_every_provider_class_can_be_produced),
        cmocka_unit_test(test_tenant_limits_bind_through_the_core),
        cmocka_unit_test(test_tenants_change_no_other_draw),
        cmocka_unit_test(test_tenant_parse_errors_name_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
