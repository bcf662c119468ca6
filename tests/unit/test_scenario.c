/* test_scenario.c - scenario files: parsing, binding to a policy, random
 * fault onsets, and trace replay. Run from the repository root. */
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

#include "ld_class.h"
#include "ld_policy.h"
#include "sim_scenario.h"

#define EXAMPLE_SCENARIO "examples/scenario.json"
#define EXAMPLE_POLICY "examples/policy.json"
#define TRACES "tests/data/traces"
#define SCENARIOS "tests/data/scenarios"
#define AZURE_CODE_REPO "traces/azure_llm_2023/AzureLLMInferenceTrace_code.csv"

/* provider models for every route of examples/policy.json */
#define PROVIDERS4                                                          \
    "\"providers\": {"                                                      \
    "\"gpt-4.1\": {\"ttft_ms\": 400, \"tokens_per_s\": 80},"                \
    "\"claude-sonnet\": {\"ttft_ms\": 600, \"tokens_per_s\": 60},"          \
    "\"llama-70b-fast\": {\"ttft_ms\": 200, \"tokens_per_s\": 180},"        \
    "\"gpt-4.1-mini\": {\"ttft_ms\": 300, \"tokens_per_s\": 110}}"

#define POISSON "\"traffic\": {\"arrivals\": {\"process\": \"poisson\", \"rate_per_s\": 10}}"

/* ---- helpers ---------------------------------------------------------- */

static ld_policy *load_policy(void)
{
    FILE *f = fopen(EXAMPLE_POLICY, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (run from the repository root)",
                 EXAMPLE_POLICY);
    static char buf[64 * 1024];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof buf);
    ld_policy *p = NULL;
    ld_error err;
    if (ld_policy_parse(buf, n, "policy.json", &p, &err) != LD_OK)
        fail_msg("example policy refused: %s", err.msg);
    return p;
}

static sim_scenario *parse_ok(const char *text)
{
    sim_scenario *sc = NULL;
    ld_error err = {{0}};
    int rc = sim_scenario_parse(text, strlen(text), "s.json", TRACES, &sc,
                                &err);
    if (rc != LD_OK)
        fail_msg("scenario refused: %s", err.msg);
    assert_non_null(sc);
    return sc;
}

static sim_scenario *load_ok(const char *path)
{
    sim_scenario *sc = NULL;
    ld_error err = {{0}};
    if (sim_scenario_load(path, &sc, &err) != LD_OK)
        fail_msg("%s refused: %s", path, err.msg);
    return sc;
}

static void want_parts(const char *msg, va_list ap)
{
    for (const char *n = va_arg(ap, const char *); n != NULL;
         n = va_arg(ap, const char *))
        if (strstr(msg, n) == NULL)
            fail_msg("message lacks \"%s\": %s", n, msg);
}

/* The text must be refused by the parser with a message that starts with
 * the file name and contains every given part. */
static void parse_fails_(const char *text, ...)
{
    sim_scenario *sc = (sim_scenario *)1;
    ld_error err = {{0}};
    int rc = sim_scenario_parse(text, strlen(text), "s.json", TRACES, &sc,
                                &err);
    if (rc == LD_OK) {
        sim_scenario_free(sc);
        fail_msg("scenario accepted, expected an error");
    }
    assert_null(sc);
    if (strncmp(err.msg, "s.json: ", 8) != 0)
        fail_msg("message does not start with the file name: %s", err.msg);
    va_list ap;
    va_start(ap, text);
    want_parts(err.msg, ap);
    va_end(ap);
}
#define parse_fails(text, ...) parse_fails_((text), __VA_ARGS__, (const char *)NULL)

/* The text parses, but binding it to the example policy fails. */
static void bind_fails_(const char *text, ...)
{
    ld_policy *p = load_policy();
    sim_scenario *sc = parse_ok(text);
    ld_error err = {{0}};
    int rc = sim_scenario_bind(sc, p, &err);
    sim_scenario_free(sc);
    ld_policy_free(p);
    if (rc == LD_OK)
        fail_msg("scenario bound, expected an error");
    if (strncmp(err.msg, "s.json: ", 8) != 0)
        fail_msg("message does not start with the file name: %s", err.msg);
    va_list ap;
    va_start(ap, text);
    want_parts(err.msg, ap);
    va_end(ap);
}
#define bind_fails(text, ...) bind_fails_((text), __VA_ARGS__, (const char *)NULL)

static const sim_fault *fault_named(const sim_scenario *sc, const char *name)
{
    for (int i = 0; i < sc->nfaults; i++)
        if (strcmp(sc->faults[i].name, name) == 0)
            return &sc->faults[i];
    fail_msg("no fault named \"%s\"", name);
    return NULL;
}

static uint64_t route_bit(const ld_policy *p, const char *id)
{
    int r = ld_policy_route_index(p, id);
    assert_true(r >= 0);
    return (uint64_t)1 << r;
}

static double mean_of(const sim_dist *d) { return sim_dist_mean(d); }

/* ---- the example ------------------------------------------------------ */

static void test_example_scenario_parses_with_its_values(void **state)
{
    (void)state;
    sim_scenario *sc = load_ok(EXAMPLE_SCENARIO);
    assert_string_equal(sc->name, "primary-outage-with-rate-limit-storm");
    assert_non_null(sc->description);
    assert_string_equal(sc->file, EXAMPLE_SCENARIO);
    assert_string_equal(sc->base_dir, "examples");
    assert_near(sc->duration_s, 3600, 0);
    assert_int_equal(sc->requests, 0);
    assert_int_equal(sc->seed, 7);
    assert_near(sc->interval_s, 60, 0);
    assert_near(sc->drain_s, 600, 0);

    const sim_traffic *tr = &sc->traffic;
    assert_int_equal(tr->kind, SIM_ARR_POISSON);
    assert_near(tr->rate, 20, 0);
    assert_int_equal(tr->mod, SIM_MOD_NONE);
    assert_int_equal(tr->nmix, 3);
    assert_near(tr->mix[0].share, 0.6, 1e-12);
    assert_near(tr->mix[1].share, 0.3, 1e-12);
    assert_near(tr->mix[2].share, 0.1, 1e-12);
    assert_string_equal(tr->mix[2].workload, "report");
    assert_string_equal(tr->mix[2].tier, "enterprise");
    double q50;
    assert_int_equal(sim_dist_quantile(tr->mix[0].input_tokens, 0.5, &q50), 0);
    assert_near(q50, 1000, 1e-6);
    assert_non_null(tr->patience_ttft);
    assert_null(tr->patience_total);

    assert_int_equal(sc->nproviders, 4);
    const sim_provider *g = &sc->providers[0];
    assert_string_equal(g->name, "gpt-4.1");
    assert_near(g->err_p[LD_FC_SERVER_ERROR], 0.002, 1e-12);
    assert_near(g->err_p[LD_FC_RATE_LIMITED], 0.001, 1e-12);
    assert_near(g->err_p[LD_FC_OVERLOADED], 0, 0);
    assert_int_equal(g->concurrency, 400);
    assert_int_equal(g->queue, 1000);
    assert_near(g->rpm, 10000, 0);
    assert_near(g->tpm, 0, 0);
    assert_null(g->upstream);
    assert_false(g->bills_partial);
    assert_null(g->error_ms);
    assert_int_equal(sc->providers[2].queue, 0);
    assert_near(mean_of(sc->providers[2].tokens_per_s), 185, 1e-9);

    assert_int_equal(sc->nfaults, 5);
    const sim_fault *f = &sc->faults[0];
    assert_int_equal(f->kind, SIM_F_OUTAGE);
    assert_string_equal(f->name, "outage gpt-4.1");
    assert_int_equal(f->mode, SIM_OUTAGE_HTTP);
    assert_int_equal(f->status, 503);
    assert_int_equal(f->nwindows, 1);
    assert_int_equal(f->windows[0].start, ld_s(600));
    assert_int_equal(f->windows[0].end, ld_s(1800));
    assert_near(f->probability, 1, 0);

    f = &sc->faults[1];
    assert_int_equal(f->kind, SIM_F_RATE_LIMIT);
    assert_near(f->rpm, 600, 0);
    assert_near(f->retry_after_s, 2, 0);
    assert_near(f->probability, 0, 0); /* a new limit, not a storm */
    assert_int_equal(f->windows[0].start, ld_s(900));
    assert_int_equal(f->windows[0].end, ld_s(1500));

    f = &sc->faults[2];
    assert_int_equal(f->kind, SIM_F_LATENCY);
    assert_near(f->ttft_mult, 6, 0);
    assert_near(f->tps_mult, 1, 0);
    assert_null(f->add_ms);
    assert_int_equal(f->windows[0].start, ld_s(1200));

    f = &sc->faults[3];
    assert_int_equal(f->kind, SIM_F_STREAM_CUT);
    assert_string_equal(f->target, "*");
    assert_near(f->probability, 0.002, 1e-12);
    assert_non_null(f->after_tokens);
    assert_int_equal(f->nwindows, 1); /* the whole run */
    assert_int_equal(f->windows[0].start, 0);
    assert_int_equal(f->windows[0].end, LD_NEVER);

    f = &sc->faults[4];
    assert_int_equal(f->kind, SIM_F_PRICE);
    assert_int_equal(f->windows[0].start, ld_s(2400));
    assert_int_equal(f->windows[0].end, LD_NEVER);
    assert_false(f->ramp);
    assert_near(f->price_in, 0.8, 1e-12);
    assert_near(f->price_out, 3.2, 1e-12);
    sim_scenario_free(sc);
}

static void test_example_scenario_binds_to_example_policy(void **state)
{
    (void)state;
    ld_policy *p = load_policy();
    sim_scenario *sc = load_ok(EXAMPLE_SCENARIO);
    ld_error err = {{0}};
    if (sim_scenario_bind(sc, p, &err) != LD_OK)
        fail_msg("bind failed: %s", err.msg);
    assert_int_equal(sc->traffic.mix[0].workload_idx,
                     ld_policy_workload_index(p, "chat"));
    assert_int_equal(sc->traffic.mix[2].workload_idx,
                     ld_policy_workload_index(p, "report"));
    assert_int_equal(sc->traffic.mix[1].tier_idx,
                     ld_policy_tier_index(p, "paid"));
    for (int i = 0; i < sc->nproviders; i++) {
        int r = ld_policy_route_index(p, sc->providers[i].name);
        assert_true(r >= 0);
        assert_int_equal(sim_scenario_provider_for(sc, r), i);
        assert_int_equal(sc->bind_how[r], SIM_BIND_ID);
    }
    assert_int_equal(sim_scenario_provider_for(sc, 99), -1);
    assert_int_equal(sc->faults[0].routes, route_bit(p, "gpt-4.1"));
    assert_int_equal(sc->faults[4].routes, route_bit(p, "gpt-4.1-mini"));
    /* "*" reaches every route */
    assert_int_equal(sc->faults[3].routes, (uint64_t)0xF);
    /* binding again (another policy run) gives the same */
    assert_int_equal(sim_scenario_bind(sc, p, &err), LD_OK);
    assert_int_equal(sc->faults[3].routes, (uint64_t)0xF);
    sim_scenario_free(sc);
    ld_policy_free(p);
}

static void test_workload_routes_lists_ladder_then_roles(void **state)
{
    (void)state;
    ld_policy *p = load_policy();
    int w = ld_policy_workload_index(p, "report");
    int routes[8];
    int n = ld_policy_workload_routes(p, w, routes, 8);
    assert_int_equal(n, 2);
    assert_int_equal(routes[0], ld_policy_route_index(p, "claude-sonnet"));
    assert_int_equal(routes[1], ld_policy_route_index(p, "gpt-4.1"));
    w = ld_policy_workload_index(p, "chat");
    assert_int_equal(ld_policy_workload_routes(p, w, routes, 2), 4);
    assert_int_equal(ld_policy_workload_routes(p, 99, routes, 8), LD_EINVAL);
    ld_policy_free(p);
}

static void test_every_fault_type_parses(void **state)
{
    (void)state;
    ld_policy *p = load_policy();
    sim_scenario *sc = load_ok(SCENARIOS "/every_fault.json");
    ld_error err = {{0}};
    if (sim_scenario_bind(sc, p, &err) != LD_OK)
        fail_msg("bind failed: %s", err.msg);
    const sim_traffic *tr = &sc->traffic;
    assert_int_equal(tr->kind, SIM_ARR_GAMMA);
    assert_near(tr->gamma_shape, 0.25, 1e-12); /* 1 / cv^2 */
    assert_int_equal(tr->mod, SIM_MOD_ONOFF);
    assert_near(tr->on_s, 60, 0);
    assert_near(tr->off_s, 30, 0);
    assert_near(tr->off_factor, 0.1, 1e-12);
    assert_near(tr->mix[0].share, 0.75, 1e-12);
    assert_int_equal(tr->mix[0].caps, LD_CAP_TOOLS);
    assert_near(mean_of(tr->mix[0].output_tokens), 150, 0);
    assert_near(mean_of(tr->mix[1].input_tokens), 1000, 0); /* default */
    assert_near(mean_of(tr->mix[1].output_tokens), 200, 0);
    assert_int_equal(tr->mix[1].tier_idx, ld_policy_tier_index(p, "enterprise"));
    assert_int_equal(tr->mix[0].tier_idx, -1);
    assert_non_null(tr->patience_total);
    assert_near(sc->interval_s, 30, 1e-12); /* 600 s / 20 */

    const sim_provider *g = &sc->providers[0];
    assert_string_equal(g->upstream, "azure-east");
    assert_true(g->bills_partial);
    assert_non_null(g->error_ms);
    assert_near(g->err_p[LD_FC_CONTEXT_LENGTH], 0.001, 1e-12);
    assert_near(g->tpm, 100000, 0);
    assert_near(g->retry_after_s, 1, 0);
    assert_int_equal(g->queue, -1); /* unbounded */
    assert_int_equal(sc->providers[1].concurrency, 0);

    const sim_fault *f = fault_named(sc, "outage gpt-4.1");
    assert_int_equal(f->mode, SIM_OUTAGE_RESET);
    f = fault_named(sc, "latency claude-*");
    assert_int_equal(f->routes, route_bit(p, "claude-sonnet"));
    assert_near(f->tps_mult, 0.5, 0);
    assert_near(f->ttft_mult, 1, 0);
    assert_non_null(f->add_ms);
    f = fault_named(sc, "rate_limit llama-70b-fast");
    assert_near(f->rpm, 0, 0);
    assert_near(f->probability, 0.3, 1e-12); /* a storm of 429s */
    assert_near(f->retry_after_s, -1, 0);
    f = fault_named(sc, "quota_exhausted gpt-4.1-mini");
    assert_int_equal(f->windows[0].start, ld_s(50));
    assert_int_equal(f->windows[0].end, LD_NEVER);
    f = fault_named(sc, "stream_stall gpt-4.1");
    assert_near(mean_of(f->stall_ms), 15000, 0);
    assert_near(mean_of(f->after_tokens), 20, 0);
    assert_null(fault_named(sc, "stream_cut gpt-4.1")->after_tokens);
    assert_int_equal(fault_named(sc, "malformed_chunk gpt-4.1")->kind,
                     SIM_F_MALFORMED);
    assert_int_equal(fault_named(sc, "no_done gpt-4.1")->kind, SIM_F_NO_DONE);
    f = fault_named(sc, "error gpt-4.1");
    assert_int_equal(f->err_status, 400);
    assert_string_equal(f->err_code, "context_length_exceeded");
    assert_string_equal(f->err_type, "invalid_request_error");
    assert_string_equal(f->err_message, "too long");
    f = &sc->faults[9];
    assert_int_equal(f->kind, SIM_F_PRICE);
    assert_true(f->ramp);
    assert_int_equal(f->windows[0].start, ld_s(100));
    assert_int_equal(f->windows[0].end, ld_s(200));
    assert_near(f->price_in, -1, 0); /* unchanged */
    assert_near(f->price_out, 16, 0);
    f = &sc->faults[10];
    assert_int_equal(f->windows[0].start, ld_s(300));
    assert_near(f->price_in, 1, 0);
    assert_near(f->price_out, -1, 0);
    f = fault_named(sc, "quality_drop gpt-4.1-mini");
    assert_near(f->quality, 0.5, 0);
    assert_int_equal(f->windows[0].start, ld_s(120));
    f = fault_named(sc, "flaky region");
    assert_int_equal(f->kind, SIM_F_REGION);
    /* upstream:azure-east reaches the two routes the providers put there */
    assert_int_equal(f->routes, route_bit(p, "gpt-4.1") |
                                    route_bit(p, "gpt-4.1-mini"));
    assert_true(f->nwindows > 0);
    sim_scenario_free(sc);
    ld_policy_free(p);
}

static void test_defaults_without_mix(void **state)
{
    (void)state;
    sim_scenario *sc = parse_ok("{\"requests\": 500, " POISSON "}");
    assert_int_equal(sc->requests, 500);
    assert_near(sc->duration_s, 0, 0);
    assert_int_equal(sc->seed, 1);
    assert_near(sc->drain_s, 600, 0);
    /* 500 requests at 10/s last 50 s: 20 intervals of 2.5 s */
    assert_near(sc->interval_s, 2.5, 1e-12);
    assert_string_equal(sc->name, "s.json");
    assert_int_equal(sc->traffic.nmix, 1);
    assert_null(sc->traffic.mix[0].workload);
    assert_null(sc->traffic.mix[0].tier);
    assert_near(sc->traffic.mix[0].share, 1, 0);
    assert_near(mean_of(sc->traffic.mix[0].input_tokens), 1000, 0);
    assert_near(mean_of(sc->traffic.mix[0].output_tokens), 200, 0);
    assert_int_equal(sc->nproviders, 0);
    assert_int_equal(sc->nfaults, 0);
    sim_scenario_free(sc);

    sc = parse_ok("{\"duration_s\": 7200, \"interval_s\": 15, \"drain_s\": 0,"
                  " \"seed\": 0, \"traffic\": {\"arrivals\": {\"process\":"
                  " \"gamma\", \"rate_per_s\": 3, \"shape\": 0.5,"
                  " \"modulation\": {\"type\": \"diurnal\", \"period_s\":"
                  " 3600, \"amplitude\": 0.4}}}}");
    assert_near(sc->interval_s, 15, 0);
    assert_near(sc->drain_s, 0, 0);
    assert_int_equal(sc->seed, 0);
    assert_near(sc->traffic.gamma_shape, 0.5, 0);
    assert_int_equal(sc->traffic.mod, SIM_MOD_DIURNAL);
    assert_near(sc->traffic.period_s, 3600, 0);
    assert_near(sc->traffic.amplitude, 0.4, 1e-12);
    sim_scenario_free(sc);
}

static void test_missing_mix_binds_to_default_workload(void **state)
{
    (void)state;
    ld_policy *p = load_policy();
    sim_scenario *sc =
        parse_ok("{\"duration_s\": 60, " POISSON ", " PROVIDERS4 "}");
    ld_error err = {{0}};
    if (sim_scenario_bind(sc, p, &err) != LD_OK)
        fail_msg("bind failed: %s", err.msg);
    assert_int_equal(sc->traffic.mix[0].workload_idx, -1);
    assert_int_equal(sc->traffic.mix[0].tier_idx, -1);
    sim_scenario_free(sc);
    ld_policy_free(p);
}

static void test_comment_keys_are_ignored(void **state)
{
    (void)state;
    sim_scenario *sc = parse_ok(
        "{\"_why\": 1, \"notes\": [\"x\"], \"description\": \"d\","
        " \"duration_s\": 60, \"traffic\": {\"_c\": 0, \"arrivals\":"
        " {\"process\": \"poisson\", \"rate_per_s\": 1, \"notes\": \"n\"}},"
        " \"faults\": [{\"_c\": 1, \"type\": \"no_done\", \"target\": \"a\"}]}");
    assert_string_equal(sc->description, "d");
    assert_int_equal(sc->nfaults, 1);
    sim_scenario_free(sc);
}

/* ---- errors ----------------------------------------------------------- */

static void test_provider_models_no_route_uses_are_ignored(void **state)
{
    (void)state;
    ld_policy *p = load_policy();
    sim_scenario *sc = parse_ok(
        "{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
        " \"poisson\", \"rate_per_s\": 1}, \"mix\": [{\"workload\":"
        " \"report\"}]}, \"providers\": {"
        "\"gpt-5\": {\"ttft_ms\": 400, \"tokens_per_s\": 80},"
        "\"gpt-4.1\": {\"ttft_ms\": 400, \"tokens_per_s\": 80},"
        "\"claude-sonnet\": {\"ttft_ms\": 400, \"tokens_per_s\": 80}}}");
    ld_error err = {{0}};
    if (sim_scenario_bind(sc, p, &err) != LD_OK)
        fail_msg("bind failed: %s", err.msg);
    assert_int_equal(sim_scenario_provider_for(sc, ld_policy_route_index(p, "gpt-4.1")), 1);
    /* llama is used by no workload of this traffic: no model is fine */
    assert_int_equal(sim_scenario_provider_for(sc, ld_policy_route_index(p, "llama-70b-fast")), -1);
    sim_scenario_free(sc);
    ld_policy_free(p);
}

static void test_fault_target_matching_nothing_is_refused(void **state)
{
    (void)state;
    bind_fails("{\"duration_s\": 60, " POISSON ", " PROVIDERS4 ", \"faults\":"
               " [{\"type\": \"outage\", \"target\": \"gpt-4.1\"},"
               " {\"type\": \"outage\", \"target\": \"mistral-*\"}]}",
               "s.json: faults[1].target: \"mistral-*\" names no provider "
               "model, route, upstream or model", "gpt-4.1");
    bind_fails("{\"duration_s\": 60, " POISSON ", " PROVIDERS4 ", \"faults\":"
               " [{\"type\": \"outage\", \"target\": \"upstream:nowhere\"}]}",
               "faults[0].target", "upstream:nowhere");
}

static void test_route_without_provider_model_is_refused(void **state)
{
    (void)state;
    bind_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
               " \"poisson\", \"rate_per_s\": 1}, \"mix\": [{\"workload\":"
               " \"report\"}]}, \"providers\": {"
               "\"gpt-4.1\": {\"ttft_ms\": 400, \"tokens_per_s\": 80}}}",
               "s.json: providers: ", "\"claude-sonnet\"",
               "workload \"report\"", "binds to no provider model",
               "--bind claude-sonnet=MODEL", "provider models: gpt-4.1");
}

static bool has_note(const sim_scenario *sc, const char *a, const char *b)
{
    for (int i = 0; i < sc->nnotes; i++)
        if (strstr(sc->notes[i], a) != NULL &&
            (b == NULL || strstr(sc->notes[i], b) != NULL))
            return true;
    return false;
}

static void test_unknown_workload_or_tier_goes_to_default_with_note(void **state)
{
    (void)state;
    ld_policy *p = load_policy();
    sim_scenario *sc = parse_ok(
        "{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
        " \"poisson\", \"rate_per_s\": 1}, \"mix\": [{\"workload\":"
        " \"chat\", \"share\": 0.75}, {\"workload\": \"summarise\", \"tier\":"
        " \"gold\", \"share\": 0.25}]}, " PROVIDERS4 "}");
    ld_error err = {{0}};
    if (sim_scenario_bind(sc, p, &err) != LD_OK)
        fail_msg("bind failed: %s", err.msg);
    assert_int_equal(sc->traffic.mix[1].workload_idx, -1);
    assert_int_equal(sc->traffic.mix[1].tier_idx, -1);
    assert_true(has_note(sc, "no workload \"summarise\" (25% of the traffic)",
                         "--map-workload summarise=NAME"));
    assert_true(has_note(sc, "no tier \"gold\"", "default tier"));
    /* a second bind does not repeat the notes */
    int n = sc->nnotes;
    assert_int_equal(sim_scenario_bind(sc, p, &err), LD_OK);
    assert_int_equal(sc->nnotes, n);
    sim_scenario_free(sc);
    ld_policy_free(p);
}

static void test_mapping_from_flags_and_file(void **state)
{
    (void)state;
    ld_policy *p = load_policy();
    sim_scenario *sc = parse_ok(
        "{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
        " \"poisson\", \"rate_per_s\": 1}, \"mix\": [{\"workload\":"
        " \"summarise\", \"tier\": \"gold\"}, {\"workload\": \"talk\"}]},"
        " \"mapping\": {\"workloads\": {\"summarise\": \"chat\", \"talk\": \"chat\"},"
        " \"tiers\": {\"gold\": \"free\"}}, " PROVIDERS4 "}");
    ld_error err = {{0}};
    if (sim_scenario_bind(sc, p, &err) != LD_OK)
        fail_msg("bind failed: %s", err.msg);
    assert_int_equal(sc->traffic.mix[0].workload_idx, ld_policy_workload_index(p, "chat"));
    assert_int_equal(sc->traffic.mix[0].tier_idx, ld_policy_tier_index(p, "free"));
    assert_false(has_note(sc, "summarise", NULL));
    /* the command line comes first */
    const char *mw[] = {"summarise=report"};
    const char *mt[] = {"gold=enterprise"};
    sim_bind_opts o = {.map_workload = mw, .nmap_workload = 1,
                       .map_tier = mt, .nmap_tier = 1};
    assert_int_equal(sim_scenario_bind_opts(sc, p, &o, &err), LD_OK);
    assert_int_equal(sc->traffic.mix[0].workload_idx, ld_policy_workload_index(p, "report"));
    assert_int_equal(sc->traffic.mix[0].tier_idx, ld_policy_tier_index(p, "enterprise"));
    assert_int_equal(sc->traffic.mix[1].workload_idx, ld_policy_workload_index(p, "chat"));
    /* a mapping to a name the policy lacks is an error naming it */
    const char *bad[] = {"summarise=nope"};
    o.map_workload = bad;
    assert_int_equal(sim_scenario_bind_opts(sc, p, &o, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "--map-workload summarise=nope: the "
                           "policy has no workload \"nope\""));
    const char *malformed[] = {"summarise"};
    o.map_workload = malformed;
    assert_int_equal(sim_scenario_bind_opts(sc, p, &o, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "expected NAME=NAME"));
    sim_scenario_free(sc);
    ld_policy_free(p);
}

/* A policy of its own: no route id in common with the scenario's provider
 * models, one route with an upstream of its own, one with a unique model. */
static ld_policy *own_policy(void)
{
    static const char text[] =
        "{\"routes\": {"
        " \"main\": {\"provider\": \"openai\", \"model\": \"gpt-4.1\","
        "  \"price\": {\"input_per_mtok\": 2, \"output_per_mtok\": 8}},"
        " \"eu\": {\"provider\": \"openai\", \"model\": \"gpt-4.1\","
        "  \"upstream\": \"azure-eu\","
        "  \"price\": {\"input_per_mtok\": 2, \"output_per_mtok\": 8}},"
        " \"claude\": {\"provider\": \"anthropic\", \"model\": \"claude-x\","
        "  \"upstream\": \"elsewhere\","
        "  \"price\": {\"input_per_mtok\": 3, \"output_per_mtok\": 15}},"
        " \"odd\": {\"provider\": \"openai\", \"model\": \"odd-1\","
        "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}}},"
        " \"workloads\": {\"w\": {\"ladder\": [\"main\", \"eu\", \"claude\", \"odd\"],"
        "  \"roles\": {\"low_cost\": \"odd\"}},"
        "  \"v\": {\"ladder\": [\"claude\", \"main\"]}}}";
    ld_policy *p = NULL;
    ld_error err;
    if (ld_policy_parse(text, sizeof text - 1, "own.json", &p, &err) != LD_OK)
        fail_msg("own policy refused: %s", err.msg);
    return p;
}

#define WORLD                                                               \
    "\"providers\": {"                                                      \
    "\"oai\": {\"upstream\": \"openai\", \"model\": \"gpt-4.1\","          \
    "  \"ttft_ms\": 400, \"tokens_per_s\": 80},"                            \
    "\"az\": {\"upstream\": \"azure-eu\", \"model\": \"gpt-4.1\","         \
    "  \"ttft_ms\": 400, \"tokens_per_s\": 80},"                            \
    "\"anth\": {\"upstream\": \"anthropic\", \"model\": \"claude-x\","     \
    "  \"ttft_ms\": 400, \"tokens_per_s\": 80},"                            \
    "\"cheap\": {\"upstream\": \"openai\", \"model\": \"mini\","           \
    "  \"ttft_ms\": 300, \"tokens_per_s\": 90}}"

static void test_routes_bind_by_upstream_model_then_model_then_default(void **state)
{
    (void)state;
    ld_policy *p = own_policy();
    sim_scenario *sc = parse_ok("{\"duration_s\": 60, " POISSON ", " WORLD
                                ", \"default_provider\": \"cheap\"}");
    ld_error err = {{0}};
    if (sim_scenario_bind(sc, p, &err) != LD_OK)
        fail_msg("bind failed: %s", err.msg);
    int main_r = ld_policy_route_index(p, "main"), eu = ld_policy_route_index(p, "eu");
    int cl = ld_policy_route_index(p, "claude"), odd = ld_policy_route_index(p, "odd");
    /* main: adapter openai = upstream openai; eu: its own upstream */
    assert_int_equal(sim_scenario_provider_for(sc, main_r), 0);
    assert_int_equal(sc->bind_how[main_r], SIM_BIND_UPSTREAM);
    assert_int_equal(sim_scenario_provider_for(sc, eu), 1);
    /* claude: upstream "elsewhere" serves nothing, but one model is claude-x */
    assert_int_equal(sim_scenario_provider_for(sc, cl), 2);
    assert_int_equal(sc->bind_how[cl], SIM_BIND_MODEL);
    assert_int_equal(sim_scenario_provider_for(sc, odd), 3);
    assert_int_equal(sc->bind_how[odd], SIM_BIND_DEFAULT);
    /* --bind comes first */
    const char *b[] = {"main=az"};
    sim_bind_opts o = {.binds = b, .nbinds = 1};
    assert_int_equal(sim_scenario_bind_opts(sc, p, &o, &err), LD_OK);
    assert_int_equal(sim_scenario_provider_for(sc, main_r), 1);
    assert_int_equal(sc->bind_how[main_r], SIM_BIND_FLAG);
    const char *bad_route[] = {"nope=az"}, *bad_model[] = {"main=gpt-9"};
    o.binds = bad_route;
    assert_int_equal(sim_scenario_bind_opts(sc, p, &o, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "--bind nope=az: the policy has no route \"nope\""));
    o.binds = bad_model;
    assert_int_equal(sim_scenario_bind_opts(sc, p, &o, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "no provider model \"gpt-9\""));
    assert_non_null(strstr(err.msg, "oai (openai/gpt-4.1)"));
    cJSON *j = sim_scenario_binding_json(sc, p);
    assert_non_null(j);
    sim_scenario_free(sc);
    /* without the default, odd binds to nothing: an error naming it and
     * what it could bind to */
    sc = parse_ok("{\"duration_s\": 60, " POISSON ", " WORLD "}");
    assert_int_equal(sim_scenario_bind(sc, p, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "route \"odd\" (used by workload \"w\") binds "
                           "to no provider model"));
    assert_non_null(strstr(err.msg, "cheap (openai/mini)"));
    cJSON_Delete(j);
    sim_scenario_free(sc);
    ld_policy_free(p);
}

static void test_fault_targets_name_models_upstreams_rungs_and_roles(void **state)
{
    (void)state;
    ld_policy *p = own_policy();
    sim_scenario *sc = parse_ok(
        "{\"duration_s\": 60, " POISSON ", " WORLD ", \"default_provider\":"
        " \"cheap\", \"faults\": ["
        "{\"name\": \"a\", \"type\": \"outage\", \"target\": \"oai\"},"
        "{\"name\": \"b\", \"type\": \"outage\", \"target\": \"upstream:azure-eu\"},"
        "{\"name\": \"c\", \"type\": \"outage\", \"target\": \"model:gpt-4.1\"},"
        "{\"name\": \"d\", \"type\": \"outage\", \"target\": \"rung:1\"},"
        "{\"name\": \"e\", \"type\": \"outage\", \"target\": \"role:low_cost\"},"
        "{\"name\": \"f\", \"type\": \"outage\", \"target\": \"rung:9\"},"
        "{\"name\": \"g\", \"type\": \"outage\", \"target\": \"cl*\"}]}");
    ld_error err = {{0}};
    if (sim_scenario_bind(sc, p, &err) != LD_OK)
        fail_msg("bind failed: %s", err.msg);
    uint64_t m = route_bit(p, "main"), e = route_bit(p, "eu");
    uint64_t c = route_bit(p, "claude"), o = route_bit(p, "odd");
    assert_int_equal(fault_named(sc, "a")->routes, m);
    assert_int_equal(fault_named(sc, "b")->routes, e);
    assert_int_equal(fault_named(sc, "c")->routes, m | e);
    /* each workload's primary: w's main, v's claude */
    assert_int_equal(fault_named(sc, "d")->routes, m | c);
    assert_int_equal(fault_named(sc, "e")->routes, o);
    /* no workload has 9 rungs: ignored, with a note */
    assert_int_equal(fault_named(sc, "f")->routes, 0);
    assert_true(has_note(sc, "faults[5] (f)", "ignored"));
    /* a glob on route ids */
    assert_int_equal(fault_named(sc, "g")->routes, c);
    sim_scenario_free(sc);
    parse_fails("{\"duration_s\": 60, " POISSON ", \"faults\": [{\"type\":"
                " \"outage\", \"target\": \"rung:0\"}]}",
                "faults[0].target", "a rung is a number from 1");
    parse_fails("{\"duration_s\": 60, " POISSON ", \"faults\": [{\"type\":"
                " \"outage\", \"target\": \"role:fastest\"}]}",
                "faults[0].target", "unknown role");
    ld_policy_free(p);
}

static void test_service_level_belongs_to_the_scenario(void **state)
{
    (void)state;
    ld_policy *p = load_policy();
    sim_scenario *sc = parse_ok(
        "{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
        " \"poisson\", \"rate_per_s\": 1}, \"mix\": [{\"workload\": \"chat\"},"
        " {\"workload\": \"report\"}, {\"workload\": \"other\"}]}, " PROVIDERS4 ","
        " \"service_level\": {\"chat\": {\"ttft_ms\": 2000, \"total_ms\": 20000},"
        " \"*\": {\"total_ms\": 99000}}}");
    ld_error err = {{0}};
    if (sim_scenario_bind(sc, p, &err) != LD_OK)
        fail_msg("bind failed: %s", err.msg);
    ld_us t, a;
    assert_true(sim_scenario_slo_for(sc, 0, -1, &t, &a));
    assert_int_equal(t, ld_ms(2000));
    assert_int_equal(a, ld_ms(20000));
    assert_true(sim_scenario_slo_for(sc, 1, -1, &t, &a));
    assert_int_equal(t, 0);
    assert_int_equal(a, ld_ms(99000));
    assert_false(has_note(sc, "no service_level", NULL));
    sim_scenario_free(sc);
    /* without one, the host falls back to the policy, and a note says so */
    sc = parse_ok("{\"duration_s\": 60, " POISSON ", " PROVIDERS4 "}");
    assert_int_equal(sim_scenario_bind(sc, p, &err), LD_OK);
    assert_false(sim_scenario_slo_for(sc, 0, -1, &t, &a));
    assert_true(has_note(sc, "no service_level", "not judged alike"));
    sim_scenario_free(sc);
    parse_fails("{\"duration_s\": 60, " POISSON ", \"service_level\": {\"chat\": {}}}",
                "service_level.chat", "give ttft_ms, total_ms or both");
    ld_policy_free(p);
}

static void test_parser_notes_what_it_bent(void **state)
{
    (void)state;
    sim_scenario *sc = parse_ok(
        "{\"duration_s\": 100, \"traffic\": {\"arrivals\": {\"process\":"
        " \"poisson\", \"rate_per_s\": 1}, \"mix\": [{\"share\": 0.5},"
        " {\"share\": 0.3}]}, \"faults\": [{\"type\": \"outage\", \"target\":"
        " \"a\", \"start_s\": 500, \"end_s\": 600}]}");
    assert_true(has_note(sc, "shares add up to 0.8", NULL));
    assert_near(sc->traffic.mix[0].share, 0.625, 1e-12);
    assert_true(has_note(sc, "faults[0]", "starts at 500 s"));
    sim_scenario_free(sc);
    /* a trace plays once to its end without a duration */
    sc = parse_ok("{\"traffic\": {\"arrivals\": {\"process\": \"trace\","
                  " \"file\": \"small.jsonl\"}}}");
    assert_true(has_note(sc, "the trace plays once", NULL));
    sim_scenario_free(sc);
    parse_fails("{\"traffic\": {\"arrivals\": {\"process\": \"trace\","
                " \"file\": \"small.jsonl\", \"loop\": true}}}",
                "a looping trace needs");
}

static void test_relative_paths_name_the_resolved_file(void **state)
{
    (void)state;
    parse_fails("{\"duration_s\": 60, " POISSON ", \"providers_file\":"
                " \"providers/none.json\"}",
                "s.json: providers_file: \"providers/none.json\" is read "
                "relative to the scenario's directory, as \"" TRACES
                "/providers/none.json\"");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"trace\", \"file\": \"nope.csv\"}}}",
                "\"nope.csv\" is read relative to the scenario's directory, "
                "as \"" TRACES "/nope.csv\"");
}

static void test_inverted_window_is_refused(void **state)
{
    (void)state;
    parse_fails("{\"duration_s\": 60, " POISSON ", \"faults\": ["
                "{\"type\": \"outage\", \"target\": \"a\", \"start_s\": 30,"
                " \"end_s\": 10}]}",
                "s.json: faults[0].end_s: must be after start_s");
    parse_fails("{\"duration_s\": 60, " POISSON ", \"faults\": ["
                "{\"type\": \"latency\", \"target\": \"a\", \"start_s\": 30,"
                " \"end_s\": 30, \"add_ms\": 5}]}",
                "faults[0].end_s: must be after start_s");
}

static void test_overlapping_windows_name_both_faults(void **state)
{
    (void)state;
    parse_fails("{\"duration_s\": 600, " POISSON ", \"faults\": ["
                "{\"type\": \"outage\", \"target\": \"a\", \"start_s\": 0, \"end_s\": 100},"
                "{\"type\": \"outage\", \"target\": \"a\", \"start_s\": 50, \"end_s\": 150},"
                "{\"type\": \"outage\", \"target\": \"b\", \"start_s\": 300, \"end_s\": 400},"
                "{\"type\": \"outage\", \"target\": \"b\", \"start_s\": 350}]}",
                "s.json: faults[1]: ", "faults[0]", "outage", "\"a\"");
    parse_fails("{\"duration_s\": 600, " POISSON ", \"faults\": ["
                "{\"type\": \"outage\", \"target\": \"a\", \"start_s\": 0, \"end_s\": 100},"
                "{\"type\": \"outage\", \"target\": \"b\", \"start_s\": 300, \"end_s\": 400},"
                "{\"type\": \"latency\", \"target\": \"b\", \"start_s\": 300, \"add_ms\": 1},"
                "{\"type\": \"outage\", \"target\": \"b\", \"start_s\": 350}]}",
                "s.json: faults[3]: ", "faults[1]");
    parse_fails("{\"duration_s\": 600, " POISSON ", \"faults\": ["
                "{\"type\": \"price_change\", \"target\": \"a\", \"at_s\": 100,"
                " \"input_per_mtok\": 1},"
                "{\"type\": \"price_change\", \"target\": \"a\", \"at_s\": 100,"
                " \"input_per_mtok\": 2}]}",
                "faults[1]: ", "faults[0]");
    /* touching windows, other targets, other types and successive price
     * steps are fine */
    sim_scenario *sc = parse_ok(
        "{\"duration_s\": 600, " POISSON ", \"faults\": ["
        "{\"type\": \"outage\", \"target\": \"a\", \"start_s\": 0, \"end_s\": 100},"
        "{\"type\": \"outage\", \"target\": \"a\", \"start_s\": 100, \"end_s\": 200},"
        "{\"type\": \"outage\", \"target\": \"b\", \"start_s\": 50, \"end_s\": 150},"
        "{\"type\": \"stream_cut\", \"target\": \"a\"},"
        "{\"type\": \"price_change\", \"target\": \"a\", \"at_s\": 100, \"input_per_mtok\": 1},"
        "{\"type\": \"price_change\", \"target\": \"a\", \"at_s\": 200, \"input_per_mtok\": 2}]}");
    assert_int_equal(sc->nfaults, 6);
    sim_scenario_free(sc);
}

static void test_impossible_distribution_parameter_names_path(void **state)
{
    (void)state;
    parse_fails("{\"duration_s\": 60, " POISSON ", \"providers\": {\"a\":"
                " {\"ttft_ms\": {\"dist\": \"lognormal\", \"median\": 300,"
                " \"sigma\": -1}, \"tokens_per_s\": 50}}}",
                "s.json: providers.a.ttft_ms.sigma: must be > 0");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"poisson\", \"rate_per_s\": 1}, \"mix\": [{\"share\": 1},"
                " {\"share\": 1, \"output_tokens\": {\"dist\": \"uniform\","
                " \"min\": 5, \"max\": 1}}]}}",
                "s.json: traffic.mix[1].output_tokens");
    parse_fails("{\"duration_s\": 60, " POISSON ", \"faults\": [{\"type\":"
                " \"stream_stall\", \"target\": \"a\", \"stall_ms\":"
                " {\"dist\": \"gamma\", \"shape\": 0, \"scale\": 1}}]}",
                "s.json: faults[0].stall_ms");
}

static void test_unknown_error_class_names_path(void **state)
{
    (void)state;
    parse_fails("{\"duration_s\": 60, " POISSON ", \"providers\": {\"a\":"
                " {\"ttft_ms\": 300, \"tokens_per_s\": 50, \"errors\":"
                " {\"server_error\": 0.01, \"gremlins\": 0.1}}}}",
                "s.json: providers.a.errors.gremlins: unknown failure class",
                "rate_limited");
    parse_fails("{\"duration_s\": 60, " POISSON ", \"providers\": {\"a\":"
                " {\"ttft_ms\": 300, \"tokens_per_s\": 50, \"errors\":"
                " {\"budget_exceeded\": 0.1}}}}",
                "providers.a.errors.budget_exceeded: the router decides");
    parse_fails("{\"duration_s\": 60, " POISSON ", \"providers\": {\"a\":"
                " {\"ttft_ms\": 300, \"tokens_per_s\": 50, \"errors\":"
                " {\"server_error\": 0.7, \"overloaded\": 0.4}}}}",
                "providers.a.errors: probabilities add up to 1.1");
    parse_fails("{\"duration_s\": 60, " POISSON ", \"providers\": {\"a\":"
                " {\"ttft_ms\": 300, \"tokens_per_s\": 50, \"errors\":"
                " {\"server_error\": 1.5}}}}",
                "providers.a.errors.server_error: must be between 0 and 1");
}

static void test_unknown_fault_type_names_path(void **state)
{
    (void)state;
    parse_fails("{\"duration_s\": 60, " POISSON ", \"faults\": ["
                "{\"type\": \"outage\", \"target\": \"a\"},"
                "{\"type\": \"meteor\", \"target\": \"a\"}]}",
                "s.json: faults[1].type: unknown fault type \"meteor\"",
                "stream_stall");
    parse_fails("{\"duration_s\": 60, " POISSON ", \"faults\": ["
                "{\"target\": \"a\"}]}",
                "s.json: faults[0].type: missing");
}

static void test_unknown_keys_name_path(void **state)
{
    (void)state;
    parse_fails("{\"durration_s\": 60, " POISSON "}",
                "s.json: durration_s: unknown key");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"poisson\", \"rate_per_sec\": 10}}}",
                "s.json: traffic.arrivals.rate_per_sec: unknown key",
                "rate_per_s");
    /* a key of another fault type */
    parse_fails("{\"duration_s\": 60, " POISSON ", \"faults\": [{\"type\":"
                " \"outage\", \"target\": \"a\", \"ttft_multiplier\": 3}]}",
                "s.json: faults[0].ttft_multiplier: unknown key for outage");
    parse_fails("{\"duration_s\": 60, " POISSON ", \"providers\": {\"a\":"
                " {\"ttft_ms\": 300, \"tokens_per_s\": 50, \"rmp\": 5}}}",
                "s.json: providers.a.rmp: unknown key");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"poisson\", \"rate_per_s\": 1}, \"mix\": [{\"weight\": 1}]}}",
                "s.json: traffic.mix[0].weight: unknown key");
    parse_fails("{\"duration_s\": 60, \"duration_s\": 70, " POISSON "}",
                "s.json: duration_s: duplicate key");
}

static void test_bad_values_are_refused(void **state)
{
    (void)state;
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"poisson\", \"rate_per_s\": 0}}}",
                "s.json: traffic.arrivals.rate_per_s: must be > 0");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"poisson\", \"rate_per_s\": -2}}}",
                "traffic.arrivals.rate_per_s: must be > 0");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"poisson\"}}}",
                "traffic.arrivals.rate_per_s: missing");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"gamma\", \"rate_per_s\": 1}}}",
                "traffic.arrivals: gamma arrivals need");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"hawkes\", \"rate_per_s\": 1}}}",
                "traffic.arrivals.process: unknown arrival process");
    parse_fails("{" POISSON "}", "s.json: give \"duration_s\" or \"requests\"");
    parse_fails("{\"duration_s\": -5, " POISSON "}", "s.json: duration_s: must be > 0");
    parse_fails("{\"requests\": 1.5, " POISSON "}", "s.json: requests: must be a whole number");
    parse_fails("{\"duration_s\": 60, \"seed\": -1, " POISSON "}",
                "s.json: seed: must be between 0");
    parse_fails("{\"duration_s\": 60}", "s.json: traffic: missing");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"poisson\", \"rate_per_s\": 1, \"modulation\": {\"type\":"
                " \"diurnal\", \"period_s\": 60, \"amplitude\": 1.5}}}}",
                "traffic.arrivals.modulation.amplitude: must be between 0 and 1");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"poisson\", \"rate_per_s\": 1}, \"mix\": [{\"share\": 0}]}}",
                "traffic.mix[0].share: must be > 0");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"poisson\", \"rate_per_s\": 1}, \"mix\": [{\"requires\":"
                " [\"telepathy\"]}]}}",
                "traffic.mix[0].requires[0]: unknown capability \"telepathy\" "
                "(expected one of: stream, tools, prefill, vision, json, n)");
    parse_fails("{\"duration_s\": 60, " POISSON ", \"providers\": {\"a\":"
                " {\"tokens_per_s\": 50}}}",
                "s.json: providers.a.ttft_ms: missing");
    parse_fails("{\"duration_s\": 60, " POISSON ", \"providers\": {\"a\":"
                " {\"ttft_ms\": 300, \"tokens_per_s\": 50, \"queue\": -2,"
                " \"concurrency\": 5}}}",
                "providers.a.queue: must be between -1");
    parse_fails("{\"duration_s\": 60, " POISSON ", \"providers\": {\"a\":"
                " {\"ttft_ms\": 300, \"tokens_per_s\": 50, \"queue\": 10}}}",
                "providers.a.queue: a queue needs \"concurrency\"");
}

static void test_bad_faults_are_refused(void **state)
{
    (void)state;
#define F(body) "{\"duration_s\": 60, " POISSON ", \"faults\": [" body "]}"
    parse_fails(F("{\"type\": \"outage\"}"), "faults[0].target: missing");
    parse_fails(F("{\"type\": \"outage\", \"target\": \"a\", \"mode\": \"melt\"}"),
                "faults[0].mode: unknown outage mode");
    parse_fails(F("{\"type\": \"outage\", \"target\": \"a\", \"mode\": \"hang\", \"status\": 500}"),
                "faults[0].status: only an outage in mode http");
    parse_fails(F("{\"type\": \"error\", \"target\": \"a\"}"),
                "faults[0].status: missing");
    parse_fails(F("{\"type\": \"error\", \"target\": \"a\", \"status\": 200}"),
                "faults[0].status: must be between 400 and 599");
    parse_fails(F("{\"type\": \"latency\", \"target\": \"a\"}"),
                "faults[0]: a latency fault needs");
    parse_fails(F("{\"type\": \"latency\", \"target\": \"a\", \"ttft_multiplier\": 0}"),
                "faults[0].ttft_multiplier: must be > 0");
    parse_fails(F("{\"type\": \"stream_stall\", \"target\": \"a\"}"),
                "faults[0].stall_ms: missing");
    parse_fails(F("{\"type\": \"price_change\", \"target\": \"a\", \"at_s\": 5}"),
                "faults[0]: a price change needs");
    parse_fails(F("{\"type\": \"price_change\", \"target\": \"a\", \"start_s\": 5,"
                  " \"end_s\": 10, \"input_per_mtok\": 1}"),
                "faults[0].end_s: a price step has no end");
    parse_fails(F("{\"type\": \"price_change\", \"target\": \"a\", \"at_s\": 5,"
                  " \"ramp\": true, \"input_per_mtok\": 1}"),
                "faults[0].ramp: a ramp needs start_s and end_s");
    parse_fails(F("{\"type\": \"price_change\", \"target\": \"a\", \"at_s\": 5,"
                  " \"probability\": 0.5, \"input_per_mtok\": 1}"),
                "faults[0].probability: ");
    parse_fails(F("{\"type\": \"quality_drop\", \"target\": \"a\", \"quality\": 2}"),
                "faults[0].quality: must be between 0 and 1");
    parse_fails(F("{\"type\": \"outage\", \"target\": \"a\", \"at_s\": 5}"),
                "faults[0].at_s: only price_change and quality_drop");
    parse_fails(F("{\"type\": \"outage\", \"target\": \"a\", \"mtbf_s\": 5}"),
                "faults[0].mttr_s: missing");
    parse_fails(F("{\"type\": \"outage\", \"target\": \"a\", \"mtbf_s\": 5,"
                  " \"mttr_s\": 1, \"start_s\": 3}"),
                "faults[0].mtbf_s: give mtbf_s/mttr_s");
    parse_fails(F("{\"type\": \"outage\", \"target\": \"a\", \"probability\": 1.2}"),
                "faults[0].probability: must be between 0 and 1");
    parse_fails(F("{\"type\": \"outage\", \"target\": \"upstream:\"}"),
                "faults[0].target: \"upstream:\" needs a name");
#undef F
}

static void test_syntax_error_names_line_and_column(void **state)
{
    (void)state;
    parse_fails("{\n  \"duration_s\": 60,\n  \"traffic\" {}\n}",
                "s.json: line 3, column 13: JSON syntax error");
    parse_fails("{\"duration_s\": 60, " POISSON "} x",
                "JSON syntax error (text after the scenario object)");
    parse_fails("[1, 2]", "s.json: a scenario must be a JSON object");
}

static void test_load_missing_file_names_it(void **state)
{
    (void)state;
    sim_scenario *sc = (sim_scenario *)1;
    ld_error err = {{0}};
    assert_int_equal(sim_scenario_load("tests/data/scenarios/nope.json", &sc,
                                       &err),
                     LD_EINVAL);
    assert_null(sc);
    assert_non_null(strstr(err.msg, "tests/data/scenarios/nope.json: cannot open"));
}

/* ---- random onset ----------------------------------------------------- */

#define ONSET                                                               \
    "{\"duration_s\": 36000, \"drain_s\": 0, \"seed\": 11, " POISSON ","    \
    " \"faults\": [{\"type\": \"stream_cut\", \"target\": \"a\"},"          \
    " {\"type\": \"outage\", \"target\": \"a\", \"mtbf_s\": 600,"           \
    " \"mttr_s\": 60}, {\"type\": \"latency\", \"target\": \"b\","          \
    " \"mtbf_s\": 1200, \"mttr_s\": 120, \"add_ms\": 500}]}"

static int same_windows(const sim_fault *a, const sim_fault *b)
{
    if (a->nwindows != b->nwindows)
        return 0;
    for (int i = 0; i < a->nwindows; i++)
        if (a->windows[i].start != b->windows[i].start ||
            a->windows[i].end != b->windows[i].end)
            return 0;
    return 1;
}

static void check_windows(const sim_fault *f, ld_us horizon)
{
    ld_us prev = 0;
    for (int i = 0; i < f->nwindows; i++) {
        assert_true(f->windows[i].start >= prev);
        assert_true(f->windows[i].end > f->windows[i].start);
        assert_true(f->windows[i].start < horizon);
        prev = f->windows[i].end;
    }
}

static void test_reseed_is_deterministic_and_depends_on_seed(void **state)
{
    (void)state;
    sim_scenario *a = parse_ok(ONSET);
    sim_scenario *b = parse_ok(ONSET);
    ld_error err = {{0}};
    const sim_fault *fa = &a->faults[1], *fb = &b->faults[1];
    /* about 36000 / 660 = 55 windows */
    assert_true(fa->nwindows > 25 && fa->nwindows < 100);
    assert_true(same_windows(fa, fb));
    assert_true(same_windows(&a->faults[2], &b->faults[2]));
    check_windows(fa, ld_s(36000));
    check_windows(&a->faults[2], ld_s(36000));
    /* the fixed fault keeps its one window */
    assert_int_equal(a->faults[0].nwindows, 1);

    assert_int_equal(sim_scenario_reseed(b, 12, &err), LD_OK);
    assert_int_equal(b->seed, 12);
    assert_false(same_windows(fa, fb));
    check_windows(fb, ld_s(36000));
    assert_int_equal(b->faults[0].nwindows, 1);
    /* back to the file's seed: the same windows again (old ones freed) */
    assert_int_equal(sim_scenario_reseed(b, 11, &err), LD_OK);
    assert_true(same_windows(fa, fb));
    assert_true(same_windows(&a->faults[2], &b->faults[2]));
    /* the mean down time is about mttr_s */
    double down = 0;
    for (int i = 0; i < fa->nwindows; i++)
        down += (double)(fa->windows[i].end - fa->windows[i].start);
    down /= fa->nwindows * 1e6;
    assert_true(down > 30 && down < 120);
    sim_scenario_free(a);
    sim_scenario_free(b);
}

static void test_reseed_windows_depend_on_fault_position_only(void **state)
{
    (void)state;
    /* the same fault at the same position, with other faults around it
     * changed: the same windows */
    sim_scenario *a = parse_ok(ONSET);
    sim_scenario *b = parse_ok(
        "{\"duration_s\": 36000, \"drain_s\": 0, \"seed\": 11, " POISSON ","
        " \"faults\": [{\"type\": \"no_done\", \"target\": \"z\"},"
        " {\"type\": \"outage\", \"target\": \"a\", \"mtbf_s\": 600,"
        " \"mttr_s\": 60}]}");
    assert_true(same_windows(&a->faults[1], &b->faults[1]));
    /* two identical faults at different positions draw differently */
    sim_scenario *c = parse_ok(
        "{\"duration_s\": 36000, \"drain_s\": 0, " POISSON ", \"faults\": ["
        "{\"type\": \"outage\", \"target\": \"a\", \"mtbf_s\": 600, \"mttr_s\": 60},"
        "{\"type\": \"outage\", \"target\": \"b\", \"mtbf_s\": 600, \"mttr_s\": 60}]}");
    assert_false(same_windows(&c->faults[0], &c->faults[1]));
    sim_scenario_free(a);
    sim_scenario_free(b);
    sim_scenario_free(c);
}

static void test_reseed_caps_windows(void **state)
{
    (void)state;
    sim_scenario *sc = parse_ok(
        "{\"duration_s\": 1000000, " POISSON ", \"faults\": [{\"type\":"
        " \"outage\", \"target\": \"a\", \"mtbf_s\": 1, \"mttr_s\": 1}]}");
    assert_int_equal(sc->faults[0].nwindows, SIM_MAX_WINDOWS);
    sim_scenario_free(sc);
    /* requests only: over requests / rate (plus the drain) */
    sc = parse_ok("{\"requests\": 1000, \"drain_s\": 0, " POISSON ","
                  " \"faults\": [{\"type\": \"outage\", \"target\": \"a\","
                  " \"mtbf_s\": 1, \"mttr_s\": 1}]}");
    check_windows(&sc->faults[0], ld_s(100));
    assert_true(sc->faults[0].nwindows > 25 && sc->faults[0].nwindows < 80);
    sim_scenario_free(sc);
}

/* ---- trace replay ----------------------------------------------------- */

typedef struct bound {
    ld_policy *p;
    sim_scenario *sc;
} bound;

static bound bind_text(const char *text)
{
    bound b = {load_policy(), parse_ok(text)};
    ld_error err = {{0}};
    if (sim_scenario_bind(b.sc, b.p, &err) != LD_OK)
        fail_msg("bind failed: %s", err.msg);
    return b;
}

static bound bind_file(const char *path)
{
    bound b = {load_policy(), load_ok(path)};
    ld_error err = {{0}};
    if (sim_scenario_bind(b.sc, b.p, &err) != LD_OK)
        fail_msg("bind failed: %s", err.msg);
    return b;
}

static void unbind(bound *b)
{
    sim_scenario_free(b->sc);
    ld_policy_free(b->p);
}

static sim_trace *open_ok(const bound *b)
{
    sim_trace *t = NULL;
    ld_error err = {{0}};
    if (sim_trace_open(b->sc, b->p, &t, &err) != LD_OK)
        fail_msg("trace refused: %s", err.msg);
    return t;
}

/* A scenario replaying file (relative to tests/data/traces) with extra
 * arrivals keys. */
static char *trace_scenario(const char *file, const char *extra)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
             " \"trace\", \"file\": \"%s\"%s%s}}, " PROVIDERS4 "}",
             file, extra[0] ? ", " : "", extra);
    return buf;
}

static void test_trace_csv_reads_dates_to_microseconds(void **state)
{
    (void)state;
    bound b = bind_file(SCENARIOS "/trace_csv.json");
    const sim_trace_cfg *cfg = &b.sc->traffic.trace;
    assert_int_equal(b.sc->traffic.kind, SIM_ARR_TRACE);
    assert_string_equal(cfg->path, SCENARIOS "/../traces/small.csv");
    assert_int_equal(cfg->format, SIM_TRACE_CSV);
    assert_near(cfg->speedup, 1, 0);
    assert_int_equal(b.sc->traffic.mix[0].workload_idx,
                     ld_policy_workload_index(b.p, "chat"));
    sim_trace *t = open_ok(&b);
    static const ld_us want_t[] = {0, 52000, 52000, 2520040, 60000000};
    static const int64_t want_in[] = {4808, 3180, 120, 2000, 15};
    static const int64_t want_out[] = {10, 8, 0, 250, 1};
    sim_trace_row row;
    ld_error err = {{0}};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(sim_trace_next(t, &row, &err), 1);
        assert_int_equal(row.t, want_t[i]);
        assert_int_equal(row.input_tokens, want_in[i]);
        assert_int_equal(row.output_tokens, want_out[i]);
        assert_int_equal(row.workload, -1);
        assert_int_equal(row.tier, -1);
    }
    assert_int_equal(sim_trace_next(t, &row, &err), 0);
    assert_int_equal(sim_trace_next(t, &row, &err), 0);
    assert_int_equal(sim_trace_skipped(t), 0);
    sim_trace_close(t);
    unbind(&b);
}

static const char *azure_code_path(void)
{
    if (access(AZURE_CODE_REPO, R_OK) != 0)
        fail_msg("%s is missing (run from the repository root)",
                 AZURE_CODE_REPO);
    return AZURE_CODE_REPO;
}

static void test_trace_reads_azure_code_trace_to_the_end(void **state)
{
    (void)state;
    const char *path = azure_code_path();
    if (path == NULL)
        skip();
    char abs[1024];
    if (path[0] != '/') {
        char cwd[512];
        assert_non_null(getcwd(cwd, sizeof cwd));
        snprintf(abs, sizeof abs, "%s/%s", cwd, path);
    } else {
        snprintf(abs, sizeof abs, "%s", path);
    }
    bound b = bind_text(trace_scenario(abs, ""));
    sim_trace *t = open_ok(&b);
    sim_trace_row row;
    ld_error err = {{0}};
    int rc;
    int64_t rows = 0, sum_in = 0, sum_out = 0;
    ld_us prev = 0, last = 0;
    while ((rc = sim_trace_next(t, &row, &err)) == 1) {
        if (rows == 0) {
            assert_int_equal(row.t, 0);
            assert_int_equal(row.input_tokens, 4808);
            assert_int_equal(row.output_tokens, 10);
        }
        if (rows == 1) {
            /* 18:17:04.0319600 - 18:17:03.9799600 */
            assert_int_equal(row.t, 52000);
            assert_int_equal(row.input_tokens, 3180);
            assert_int_equal(row.output_tokens, 8);
        }
        assert_true(row.t >= prev);
        assert_true(row.input_tokens >= 0 && row.output_tokens >= 0);
        prev = last = row.t;
        sum_in += row.input_tokens;
        sum_out += row.output_tokens;
        rows++;
    }
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(rows, 8819);
    assert_int_equal(sim_trace_skipped(t), 0);
    /* 18:17:03.98 -> 19:14:19.93, about 57 minutes */
    assert_true(last > ld_s(57 * 60 - 60) && last < ld_s(57 * 60 + 60));
    /* SOURCE.txt: ContextTokens mean 2048, GeneratedTokens mean 28 */
    assert_near((double)sum_in / (double)rows, 2048, 1);
    assert_near((double)sum_out / (double)rows, 28, 1);
    sim_trace_close(t);
    unbind(&b);
}

static void test_trace_bad_row_names_line(void **state)
{
    (void)state;
    bound b = bind_text(trace_scenario("bad_row.csv", ""));
    sim_trace *t = open_ok(&b);
    sim_trace_row row;
    ld_error err = {{0}};
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(sim_trace_next(t, &row, &err), LD_EINVAL);
    if (strstr(err.msg, "tests/data/traces/bad_row.csv:4: ") == NULL ||
        strstr(err.msg, "ContextTokens") == NULL)
        fail_msg("unexpected message: %s", err.msg);
    /* the reader stays failed */
    assert_int_equal(sim_trace_next(t, &row, &err), LD_ESTATE);
    sim_trace_close(t);
    unbind(&b);
}

static void test_trace_skip_bad_rows_counts_them(void **state)
{
    (void)state;
    bound b = bind_text(trace_scenario("bad_row.csv", "\"skip_bad_rows\": true"));
    sim_trace *t = open_ok(&b);
    sim_trace_row row;
    ld_error err = {{0}};
    int n = 0;
    while (sim_trace_next(t, &row, &err) == 1)
        n++;
    assert_int_equal(n, 3);
    assert_int_equal(row.t, ld_s(4) + 20040); /* 08.0 - 03.97996 */
    assert_int_equal(row.output_tokens, 20);
    /* letters, negative tokens, a missing column */
    assert_int_equal(sim_trace_skipped(t), 3);
    sim_trace_close(t);
    unbind(&b);
}

static void test_trace_negative_tokens_and_short_rows_are_bad(void **state)
{
    (void)state;
    bound b = bind_text(trace_scenario("negative.csv", ""));
    sim_trace *t = open_ok(&b);
    sim_trace_row row;
    ld_error err = {{0}};
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(sim_trace_next(t, &row, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "negative.csv:3: negative token count"));
    sim_trace_close(t);
    unbind(&b);
    /* the blank line counts in the line number */
    b = bind_text(trace_scenario("short_row.csv", ""));
    t = open_ok(&b);
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(sim_trace_next(t, &row, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "short_row.csv:4: missing column \"GeneratedTokens\""));
    sim_trace_close(t);
    unbind(&b);
}

/* Public JSONL traces write numbers as strings: they are read as the CSV
 * reader reads quoted numbers. A row without the time names the keys it
 * has; times going back or out of range are named as written. */
static void test_trace_jsonl_numbers_as_strings_and_named_errors(void **state)
{
    (void)state;
    bound b = bind_text(trace_scenario("strings.jsonl", "\"time_unit\": \"s\","
                                       " \"columns\": {\"time\": \"timestamp\"}"));
    sim_trace *t = open_ok(&b);
    sim_trace_row row;
    ld_error err = {{0}};
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(row.t, 0);
    assert_int_equal(row.input_tokens, 10);
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(row.t, ld_ms(750));
    assert_int_equal(row.output_tokens, 6);
    assert_int_equal(sim_trace_next(t, &row, &err), LD_EINVAL);
    if (strstr(err.msg, "strings.jsonl:3: missing \"timestamp\" (the row has: "
                        "\"ts\", \"input_tokens\", \"output_tokens\")") == NULL)
        fail_msg("%s", err.msg);
    sim_trace_close(t);
    unbind(&b);
    b = bind_text(trace_scenario("strings.jsonl", "\"time_unit\": \"s\","
                                 " \"columns\": {\"time\": \"timestamp\"},"
                                 " \"skip_bad_rows\": true"));
    t = open_ok(&b);
    int rows = 0;
    while (sim_trace_next(t, &row, &err) == 1)
        rows++;
    assert_int_equal(rows, 2); /* the missing time, backwards, out of range */
    assert_int_equal(sim_trace_skipped(t), 3);
    sim_trace_close(t);
    unbind(&b);
}

static void test_trace_time_going_backwards_is_bad(void **state)
{
    (void)state;
    bound b = bind_text(trace_scenario("backwards.csv", ""));
    sim_trace *t = open_ok(&b);
    sim_trace_row row;
    ld_error err = {{0}};
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(sim_trace_next(t, &row, &err), LD_EINVAL);
    if (strstr(err.msg, "backwards.csv:4: time goes backwards (\"2023-11-16 "
                        "18:17:04.0000000\" after \"2023-11-16 18:17:05.0000000\" on "
                        "the row before)") == NULL)
        fail_msg("%s", err.msg);
    sim_trace_close(t);
    unbind(&b);

    b = bind_text(trace_scenario("backwards.csv", "\"skip_bad_rows\": true"));
    t = open_ok(&b);
    ld_us want[] = {0, ld_s(2), ld_s(3)};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sim_trace_next(t, &row, &err), 1);
        assert_int_equal(row.t, want[i]);
    }
    assert_int_equal(sim_trace_next(t, &row, &err), 0);
    assert_int_equal(sim_trace_skipped(t), 1);
    sim_trace_close(t);
    unbind(&b);
}

static void test_trace_empty_is_an_error(void **state)
{
    (void)state;
    bound b = bind_text(trace_scenario("empty.csv", ""));
    sim_trace *t = (sim_trace *)1;
    ld_error err = {{0}};
    assert_int_equal(sim_trace_open(b.sc, b.p, &t, &err), LD_EINVAL);
    assert_null(t);
    assert_non_null(strstr(err.msg, "tests/data/traces/empty.csv: no requests in trace"));
    unbind(&b);
    /* every row bad and skipped: empty too */
    b = bind_text(trace_scenario("backwards.csv",
                                 "\"skip_bad_rows\": true, \"columns\":"
                                 " {\"time\": \"ContextTokens\","
                                 " \"input_tokens\": \"TIMESTAMP\"}"));
    assert_int_equal(sim_trace_open(b.sc, b.p, &t, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "no requests in trace (4 bad rows skipped)"));
    unbind(&b);
}

static void test_trace_missing_header_column_lists_header(void **state)
{
    (void)state;
    bound b = bind_text(trace_scenario("columns.csv", ""));
    sim_trace *t = (sim_trace *)1;
    ld_error err = {{0}};
    assert_int_equal(sim_trace_open(b.sc, b.p, &t, &err), LD_EINVAL);
    assert_null(t);
    assert_non_null(strstr(err.msg, "columns.csv: no column \"TIMESTAMP\" in "
                                    "the header (columns: t, prompt, "
                                    "completion, class)"));
    unbind(&b);
    /* a workload column asked for by name must be there */
    b = bind_text(trace_scenario("small.csv", "\"columns\": {\"workload\": \"wl\"}"));
    assert_int_equal(sim_trace_open(b.sc, b.p, &t, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "no column \"wl\""));
    unbind(&b);
}

static void test_trace_named_columns_and_numeric_seconds(void **state)
{
    (void)state;
    bound b = bind_text(trace_scenario(
        "columns.csv", "\"columns\": {\"time\": \"t\", \"input_tokens\":"
                       " \"prompt\", \"output_tokens\": \"completion\","
                       " \"workload\": \"class\"}, \"speedup\": 0.5"));
    sim_trace *t = open_ok(&b);
    sim_trace_row row;
    ld_error err = {{0}};
    int chat = ld_policy_workload_index(b.p, "chat");
    int report = ld_policy_workload_index(b.p, "report");
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(row.t, 0);
    assert_int_equal(row.input_tokens, 10);
    assert_int_equal(row.workload, chat);
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(row.t, ld_s(1)); /* 0.5 s at speedup 0.5 */
    assert_int_equal(row.workload, report);
    assert_int_equal(row.output_tokens, 2);
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(row.t, ld_s(6));
    assert_int_equal(row.workload, -1); /* empty cell: from the mix */
    assert_int_equal(sim_trace_next(t, &row, &err), 0);
    sim_trace_close(t);
    unbind(&b);
}

static void test_trace_jsonl_reads_rows_and_names(void **state)
{
    (void)state;
    bound b = bind_file(SCENARIOS "/trace_jsonl.json");
    assert_int_equal(b.sc->traffic.trace.format, SIM_TRACE_JSONL);
    assert_near(b.sc->traffic.trace.speedup, 2, 0);
    sim_trace *t = open_ok(&b);
    sim_trace_row row;
    ld_error err = {{0}};
    /* t_ms 1000, 1250, 3000.5, 4000 at speedup 2 */
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(row.t, 0);
    assert_int_equal(row.input_tokens, 10);
    assert_int_equal(row.output_tokens, 5);
    assert_int_equal(row.workload, -1);
    assert_int_equal(row.tier, -1);
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(row.t, 125000);
    assert_int_equal(row.workload, ld_policy_workload_index(b.p, "report"));
    assert_int_equal(row.tier, ld_policy_tier_index(b.p, "enterprise"));
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(row.t, 1000250);
    assert_int_equal(row.workload, ld_policy_workload_index(b.p, "chat"));
    assert_int_equal(row.tier, -1); /* null */
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(row.t, 1500000);
    assert_int_equal(row.input_tokens, 40);
    assert_int_equal(row.tier, ld_policy_tier_index(b.p, "paid"));
    assert_int_equal(sim_trace_next(t, &row, &err), 0);
    sim_trace_close(t);
    unbind(&b);
}

static void test_trace_dates_cross_months_and_years(void **state)
{
    (void)state;
    bound b = bind_text(trace_scenario(
        "dates.jsonl", "\"columns\": {\"time\": \"ts\"}"));
    sim_trace *t = open_ok(&b);
    sim_trace_row row;
    ld_error err = {{0}};
    /* the first time rounds up to midnight of the leap day */
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(row.t, 0);
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(row.t, ld_s(1));
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(row.t, ld_s(86401) + ld_ms(500));
    /* 2025 is no leap year */
    assert_int_equal(sim_trace_next(t, &row, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "dates.jsonl:4: \"ts\" is neither a number nor a date"));
    sim_trace_close(t);
    unbind(&b);

    b = bind_text(trace_scenario(
        "dates.jsonl", "\"columns\": {\"time\": \"ts\"}, \"skip_bad_rows\": true"));
    t = open_ok(&b);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sim_trace_next(t, &row, &err), 1);
    /* 2024-02-29 to 2025-01-01: 307 days */
    assert_int_equal(row.t, ld_s(307 * 86400) + 1);
    assert_int_equal(row.input_tokens, 5);
    /* a number after dates is a bad row too */
    assert_int_equal(sim_trace_next(t, &row, &err), 0);
    assert_int_equal(sim_trace_skipped(t), 2);
    sim_trace_close(t);
    unbind(&b);
}

static void test_trace_jsonl_bad_lines(void **state)
{
    (void)state;
    bound b = bind_text(trace_scenario("bad.jsonl", ""));
    sim_trace *t = open_ok(&b);
    sim_trace_row row;
    ld_error err = {{0}};
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(sim_trace_next(t, &row, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "bad.jsonl:2: missing \"output_tokens\""));
    sim_trace_close(t);
    unbind(&b);

    b = bind_text(trace_scenario("bad.jsonl", "\"skip_bad_rows\": true"));
    t = open_ok(&b);
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(row.t, ld_ms(30));
    assert_int_equal(sim_trace_next(t, &row, &err), 0);
    /* a missing key, a line that is not JSON, an unknown workload */
    assert_int_equal(sim_trace_skipped(t), 3);
    sim_trace_close(t);
    unbind(&b);
}

static void test_trace_jsonl_line_over_cap_is_a_bad_row(void **state)
{
    (void)state;
    char path[] = "/tmp/ladder_test_scenario_XXXXXX.jsonl";
    int fd = mkstemps(path, 6);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("{\"t_ms\": 0, \"input_tokens\": 1, \"output_tokens\": 1}\n", f);
    fputs("{\"t_ms\": 1, \"input_tokens\": 1, \"output_tokens\": 1, \"pad\": \"", f);
    for (int i = 0; i < (1 << 20); i++)
        fputc('x', f);
    fputs("\"}\n{\"t_ms\": 2, \"input_tokens\": 2, \"output_tokens\": 1}\n", f);
    fclose(f);
    bound b = bind_text(trace_scenario(path, ""));
    sim_trace *t = open_ok(&b);
    sim_trace_row row;
    ld_error err = {{0}};
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(sim_trace_next(t, &row, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, ":2: line longer than 1048576 bytes"));
    sim_trace_close(t);
    unbind(&b);
    b = bind_text(trace_scenario(path, "\"skip_bad_rows\": true"));
    t = open_ok(&b);
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(sim_trace_next(t, &row, &err), 1);
    assert_int_equal(row.t, ld_ms(2));
    assert_int_equal(row.input_tokens, 2);
    assert_int_equal(sim_trace_next(t, &row, &err), 0);
    assert_int_equal(sim_trace_skipped(t), 1);
    sim_trace_close(t);
    unbind(&b);
    remove(path);
}

static void test_trace_speedup_halves_times(void **state)
{
    (void)state;
    bound b1 = bind_text(trace_scenario("small.csv", ""));
    bound b2 = bind_text(trace_scenario("small.csv", "\"speedup\": 2"));
    sim_trace *t1 = open_ok(&b1), *t2 = open_ok(&b2);
    sim_trace_row r1, r2;
    ld_error err = {{0}};
    int n = 0;
    while (sim_trace_next(t1, &r1, &err) == 1) {
        assert_int_equal(sim_trace_next(t2, &r2, &err), 1);
        assert_int_equal(r2.t, r1.t / 2);
        assert_int_equal(r2.input_tokens, r1.input_tokens);
        n++;
    }
    assert_int_equal(n, 5);
    assert_int_equal(sim_trace_next(t2, &r2, &err), 0);
    sim_trace_close(t1);
    sim_trace_close(t2);
    unbind(&b1);
    unbind(&b2);
}

static void test_trace_loop_restarts_after_a_mean_gap(void **state)
{
    (void)state;
    bound b = bind_text(trace_scenario("backwards.csv",
                                       "\"skip_bad_rows\": true, \"loop\": true"));
    sim_trace *t = open_ok(&b);
    sim_trace_row row;
    ld_error err = {{0}};
    /* rows at 0, 2, 3 s; mean gap 1.5 s; period 4.5 s */
    ld_us want[] = {0, ld_s(2), ld_s(3), 4500000, 6500000, 7500000, 9000000};
    for (int i = 0; i < 7; i++) {
        assert_int_equal(sim_trace_next(t, &row, &err), 1);
        assert_int_equal(row.t, want[i]);
    }
    assert_int_equal(sim_trace_skipped(t), 1); /* counted once */
    sim_trace_close(t);
    unbind(&b);
}

static void test_trace_scenario_errors(void **state)
{
    (void)state;
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"trace\", \"file\": \"no-such.csv\"}}}",
                "s.json: traffic.arrivals.file: \"no-such.csv\" is read relative",
                "tests/data/traces/no-such.csv");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"trace\", \"file\": \"small.csv\", \"speedup\": 0}}}",
                "traffic.arrivals.speedup: must be > 0");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"trace\", \"file\": \"small.csv\", \"format\": \"xml\"}}}",
                "traffic.arrivals.format: unknown trace format");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"trace\", \"file\": \"small.csv\", \"rate_per_s\": 3}}}",
                "traffic.arrivals.rate_per_s: unknown key for trace arrivals");
    parse_fails("{\"duration_s\": 60, \"traffic\": {\"arrivals\": {\"process\":"
                " \"trace\", \"file\": \"small.csv\"}, \"mix\": [{\"workload\":"
                " \"chat\", \"input_tokens\": 5}]}}",
                "traffic.mix[0].input_tokens: token sizes come from the trace");
    /* a poisson scenario has no trace to open */
    bound b = bind_text("{\"duration_s\": 60, " POISSON ", " PROVIDERS4 "}");
    sim_trace *t = (sim_trace *)1;
    ld_error err = {{0}};
    assert_int_equal(sim_trace_open(b.sc, b.p, &t, &err), LD_EINVAL);
    assert_null(t);
    unbind(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_scenario_parses_with_its_values),
        cmocka_unit_test(test_example_scenario_binds_to_example_policy),
        cmocka_unit_test(test_workload_routes_lists_ladder_then_roles),
        cmocka_unit_test(test_every_fault_type_parses),
        cmocka_unit_test(test_defaults_without_mix),
        cmocka_unit_test(test_missing_mix_binds_to_default_workload),
        cmocka_unit_test(test_comment_keys_are_ignored),
        cmocka_unit_test(test_provider_models_no_route_uses_are_ignored),
        cmocka_unit_test(test_fault_target_matching_nothing_is_refused),
        cmocka_unit_test(test_route_without_provider_model_is_refused),
        cmocka_unit_test(test_unknown_workload_or_tier_goes_to_default_with_note),
        cmocka_unit_test(test_mapping_from_flags_and_file),
        cmocka_unit_test(test_routes_bind_by_upstream_model_then_model_then_default),
        cmocka_unit_test(test_fault_targets_name_models_upstreams_rungs_and_roles),
        cmocka_unit_test(test_service_level_belongs_to_the_scenario),
        cmocka_unit_test(test_parser_notes_what_it_bent),
        cmocka_unit_test(test_relative_paths_name_the_resolved_file),
        cmocka_unit_test(test_inverted_window_is_refused),
        cmocka_unit_test(test_overlapping_windows_name_both_faults),
        cmocka_unit_test(test_impossible_distribution_parameter_names_path),
        cmocka_unit_test(test_unknown_error_class_names_path),
        cmocka_unit_test(test_unknown_fault_type_names_path),
        cmocka_unit_test(test_unknown_keys_name_path),
        cmocka_unit_test(test_bad_values_are_refused),
        cmocka_unit_test(test_bad_faults_are_refused),
        cmocka_unit_test(test_syntax_error_names_line_and_column),
        cmocka_unit_test(test_load_missing_file_names_it),
        cmocka_unit_test(test_reseed_is_deterministic_and_depends_on_seed),
        cmocka_unit_test(test_reseed_windows_depend_on_fault_position_only),
        cmocka_unit_test(test_reseed_caps_windows),
        cmocka_unit_test(test_trace_csv_reads_dates_to_microseconds),
        cmocka_unit_test(test_trace_reads_azure_code_trace_to_the_end),
        cmocka_unit_test(test_trace_bad_row_names_line),
        cmocka_unit_test(test_trace_skip_bad_rows_counts_them),
        cmocka_unit_test(test_trace_negative_tokens_and_short_rows_are_bad),
        cmocka_unit_test(test_trace_time_going_backwards_is_bad),
        cmocka_unit_test(test_trace_jsonl_numbers_as_strings_and_named_errors),
        cmocka_unit_test(test_trace_empty_is_an_error),
        cmocka_unit_test(test_trace_missing_header_column_lists_header),
        cmocka_unit_test(test_trace_named_columns_and_numeric_seconds),
        cmocka_unit_test(test_trace_jsonl_reads_rows_and_names),
        cmocka_unit_test(test_trace_dates_cross_months_and_years),
        cmocka_unit_test(test_trace_jsonl_bad_lines),
        cmocka_unit_test(test_trace_jsonl_line_over_cap_is_a_bad_row),
        cmocka_unit_test(test_trace_speedup_halves_times),
        cmocka_unit_test(test_trace_loop_restarts_after_a_mean_gap),
        cmocka_unit_test(test_trace_scenario_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
