/* test_sim_replay.c - request traces: replaying a handmade recording through
 * the ladder that made it and through another one, which recorded attempt
 * an attempt takes (the same request's, else one nearby in time), how
 * recorded outcomes replay, determinism, what the simulator's --trace
 * writes, and bad traces. */
#include <stdlib.h>
#include <unistd.h>

#include <gsl/gsl_rng.h>

#include "testutil.h"

#include "sim.h"
#include "sim_replay.h"

/* primary first, any failure moves on; no breaker, a generous budget */
static const char primary_first[] =
    "{\"routes\": {"
    "  \"primary\": {\"provider\": \"openai\", \"model\": \"a\","
    "    \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}},"
    "  \"backup\": {\"provider\": \"openai\", \"model\": \"b\","
    "    \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}}},"
    " \"tiers\": {\"free\": {}},"
    " \"workloads\": {\"w\": {\"constraints\": {\"total_ms\": 600000},"
    "   \"ladder\": [\"primary\", \"backup\"], \"on\": {\"*\": \"next\"}}},"
    " \"breaker\": {\"min_requests\": 1000000000, \"failure_rate\": 1},"
    " \"retry_budget\": {\"ratio\": 10, \"min_per_s\": 1000}}";

static const char backup_first[] =
    "{\"routes\": {"
    "  \"primary\": {\"provider\": \"openai\", \"model\": \"a\","
    "    \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}},"
    "  \"backup\": {\"provider\": \"openai\", \"model\": \"b\","
    "    \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}}},"
    " \"tiers\": {\"free\": {}},"
    " \"workloads\": {\"w\": {\"constraints\": {\"total_ms\": 600000},"
    "   \"ladder\": [\"backup\", \"primary\"], \"on\": {\"*\": \"next\"}}},"
    " \"breaker\": {\"min_requests\": 1000000000, \"failure_rate\": 1},"
    " \"retry_budget\": {\"ratio\": 10, \"min_per_s\": 1000}}";

/* ---- helpers ---------------------------------------------------------------- */

typedef struct tmpfile_ {
    char path[64];
} tmpfile_;

static void write_tmp(tmpfile_ *t, const char *text)
{
    snprintf(t->path, sizeof t->path, "/tmp/test_sim_replay_XXXXXX");
    int fd = mkstemp(t->path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static ld_policy *policy(const char *text)
{
    ld_policy *p;
    ld_error err;
    if (ld_policy_parse(text, strlen(text), "policy.json", &p, &err) < 0)
        fail_msg("policy: %s", err.msg);
    return p;
}

static sim_recorded *load(const char *trace, const ld_policy *p,
                          double window_s)
{
    tmpfile_ t;
    write_tmp(&t, trace);
    sim_replay_opts o = {1, window_s, false};
    sim_recorded *rec;
    ld_error err;
    int rc = sim_replay_load(t.path, p, &o, &rec, &err);
    unlink(t.path);
    if (rc < 0)
        fail_msg("load: %s", err.msg);
    return rec;
}

/* Load text as a trace and return the error (rc < 0 expected). */
static int load_error(const char *trace, const ld_policy *p, bool skip,
                      ld_error *err, char *path, size_t cap,
                      sim_recorded **rec)
{
    tmpfile_ t;
    write_tmp(&t, trace);
    snprintf(path, cap, "%s", t.path);
    sim_replay_opts o = {1, 60, skip};
    int rc = sim_replay_load(t.path, p, &o, rec, err);
    unlink(t.path);
    return rc;
}

static double num(const cJSON *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *tok = strtok(buf, "."); tok != NULL; tok = strtok(NULL, "."))
        cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    if (!cJSON_IsNumber(cur))
        fail_msg("summary has no number at %s", path);
    return cur->valuedouble;
}

/* Replay rec through p (no scenario) and return the summary. */
static cJSON *replay(const sim_recorded *rec, const ld_policy *p,
                     uint64_t seed, sim_stats *st)
{
    sim_scenario *sc;
    ld_error err;
    if (sim_replay_scenario(rec, p, NULL, &sc, &err) < 0)
        fail_msg("scenario: %s", err.msg);
    assert_int_equal(sim_scenario_reseed(sc, seed, &err), LD_OK);
    sim_options o = {.sc = sc, .p = p, .seed = seed, .events_sample = 1.0};
    sim_metrics *m;
    if (sim_run(&o, &m, st, &err) < 0)
        fail_msg("sim: %s", err.msg);
    cJSON *s = sim_metrics_summary(m, seed);
    assert_non_null(s);
    sim_metrics_free(m);
    sim_scenario_free(sc);
    return s;
}

/* One request line; attempts is the JSON array's inside. */
static size_t line(char *buf, size_t cap, double t_ms, int id,
                   const char *attempts)
{
    int n = snprintf(buf, cap,
                     "{\"v\":1,\"t_ms\":%.3f,\"id\":\"r-%d\",\"workload\":\"w\","
                     "\"tier\":\"free\",\"input_tokens\":500,"
                     "\"output_tokens\":100,\"stream\":true,"
                     "\"outcome\":\"success\",\"route\":\"backup\","
                     "\"status\":200,\"class\":\"server_error\","
                     "\"ttft_ms\":400,\"latency_ms\":1400,\"cost_usd\":0.001,"
                     "\"fell_back\":true,\"attempts\":[%s]}\n",
                     t_ms, id, attempts);
    return n > 0 ? (size_t)n : 0;
}

static const char failed_500[] =
    "{\"route\":\"primary\",\"start_ms\":0,\"class\":\"server_error\","
    "\"status\":500,\"ttft_ms\":null,\"duration_ms\":100,"
    "\"output_tokens\":0,\"retry_after_ms\":null,\"hedge\":false,"
    "\"cancelled\":false}";

/* backup answers: first token after 300 ms, the end after duration_ms */
static void backup_ok(char *buf, size_t cap, double start_ms,
                      double duration_ms)
{
    snprintf(buf, cap,
             "{\"route\":\"backup\",\"start_ms\":%.3f,\"class\":\"none\","
             "\"status\":200,\"ttft_ms\":300,\"duration_ms\":%.3f,"
             "\"output_tokens\":100,\"retry_after_ms\":null,"
             "\"hedge\":false,\"cancelled\":false}",
             start_ms, duration_ms);
}

/* n requests one second apart: the primary failed with 500 after 100 ms,
 * the backup answered (1300 ms; request `slow` took slow_ms instead) */
static char *incident_trace(int n, int slow, double slow_ms)
{
    size_t cap = (size_t)n * 1024, len = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    for (int i = 0; i < n; i++) {
        char ok[512], atts[1024];
        backup_ok(ok, sizeof ok, 100, i == slow ? slow_ms : 1300);
        snprintf(atts, sizeof atts, "%s,%s", failed_500, ok);
        len += line(t + len, cap - len, 1000.0 * i, i, atts);
    }
    return t;
}

/* ---- replaying a recorded incident -------------------------------------------- */

static void test_same_ladder_reproduces_success_and_two_attempts(void **state)
{
    (void)state;
    ld_policy *p = policy(primary_first);
    char *trace = incident_trace(10, -1, 0);
    sim_recorded *rec = load(trace, p, 60);
    sim_stats st;
    cJSON *s = replay(rec, p, 1, &st);
    assert_near(num(s, "requests"), 10, 0);
    assert_near(num(s, "success_rate"), 1.0, 0);
    assert_near(num(s, "attempts_per_request"), 2.0, 0);
    assert_near(num(s, "latency_ms.mean"), 1400, 0.01);
    assert_near(num(s, "ttft_ms.mean"), 400, 0.01);
    assert_int_equal(st.replay_same, 20);
    assert_int_equal(st.replay_near + st.replay_model + st.replay_unmodelled, 0);
    cJSON_Delete(s);
    sim_replay_free(rec);
    free(trace);
    ld_policy_free(p);
}

static void test_backup_first_takes_one_attempt_and_the_recorded_latency(void **state)
{
    (void)state;
    ld_policy *pb = policy(backup_first);
    char *trace = incident_trace(10, -1, 0);
    sim_recorded *rec = load(trace, pb, 60);
    sim_stats st;
    cJSON *s = replay(rec, pb, 1, &st);
    assert_near(num(s, "success_rate"), 1.0, 0);
    assert_near(num(s, "attempts_per_request"), 1.0, 0);
    assert_near(num(s, "latency_ms.mean"), 1300, 0.01);
    assert_near(num(s, "ttft_ms.mean"), 300, 0.01);
    assert_int_equal(st.replay_same, 10);
    cJSON_Delete(s);
    sim_replay_free(rec);
    free(trace);
    ld_policy_free(pb);
}

static void test_the_same_requests_attempt_is_preferred_over_nearby_ones(void **state)
{
    (void)state;
    ld_policy *p = policy(backup_first);
    char *trace = incident_trace(10, 5, 5000);
    sim_recorded *rec = load(trace, p, 60);
    int backup = ld_policy_route_index(p, "backup");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_taus2);
    sim_replay_plan pl;
    for (unsigned long seed = 1; seed <= 20; seed++) {
        gsl_rng_set(rng, seed);
        assert_int_equal(sim_replay_pick(rec, 5, backup, 0, ld_s(5), 100, rng, &pl),
                         SIM_REPLAY_SAME);
        assert_int_equal(pl.cls, LD_FC_NONE);
        assert_int_equal(pl.ttft, ld_ms(300));
        assert_int_equal(pl.end, ld_ms(5000));
        assert_int_equal(sim_replay_pick(rec, 4, backup, 0, ld_s(5), 100, rng, &pl),
                         SIM_REPLAY_SAME);
        assert_int_equal(pl.end, ld_ms(1300));
    }
    /* and in a whole replay: nine requests at 1300 ms, one at 5000 */
    sim_stats st;
    cJSON *s = replay(rec, p, 1, &st);
    assert_near(num(s, "latency_ms.mean"), (9 * 1300 + 5000) / 10.0, 0.01);
    cJSON_Delete(s);
    gsl_rng_free(rng);
    sim_replay_free(rec);
    free(trace);
    ld_policy_free(p);
}

static void test_the_kth_try_on_a_route_replays_the_kth_recorded_one(void **state)
{
    (void)state;
    ld_policy *p = policy(primary_first);
    char buf[2048], ok[512];
    snprintf(ok, sizeof ok,
             "{\"route\":\"primary\",\"start_ms\":600,\"class\":\"none\","
             "\"status\":200,\"ttft_ms\":250,\"duration_ms\":900,"
             "\"output_tokens\":100,\"retry_after_ms\":null,"
             "\"hedge\":false,\"cancelled\":false}");
    char atts[1024];
    snprintf(atts, sizeof atts, "%s,%s", failed_500, ok);
    line(buf, sizeof buf, 0, 0, atts);
    sim_recorded *rec = load(buf, p, 60);
    int primary = ld_policy_route_index(p, "primary");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_taus2);
    sim_replay_plan pl;
    assert_int_equal(sim_replay_pick(rec, 0, primary, 0, 0, 100, rng, &pl),
                     SIM_REPLAY_SAME);
    assert_int_equal(pl.cls, LD_FC_SERVER_ERROR);
    assert_int_equal(pl.end, ld_ms(100));
    assert_int_equal(pl.ttft, -1);
    assert_int_equal(sim_replay_pick(rec, 0, primary, 1, 0, 100, rng, &pl),
                     SIM_REPLAY_SAME);
    assert_int_equal(pl.cls, LD_FC_NONE);
    assert_int_equal(pl.end, ld_ms(900));
    /* a third try has no recorded one: the nearest on the route */
    assert_int_equal(sim_replay_pick(rec, 0, primary, 2, 0, 100, rng, &pl),
                     SIM_REPLAY_NEAR_IN_TIME);
    /* a longer answer takes proportionally longer to generate */
    assert_int_equal(sim_replay_pick(rec, 0, primary, 1, 0, 300, rng, &pl),
                     SIM_REPLAY_SAME);
    assert_int_equal(pl.end, ld_ms(250) + 3 * ld_ms(650));
    assert_int_equal(pl.tokens, 300);
    gsl_rng_free(rng);
    sim_replay_free(rec);
    ld_policy_free(p);
}

/* 20 requests one second apart: 0..9 answered by the primary, 10..19 by
 * the backup after a 500 (request i's backup took 2000 + 10 i ms) */
static char *split_trace(void)
{
    size_t cap = 20 * 1024, len = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    for (int i = 0; i < 20; i++) {
        char a[512], atts[1024];
        if (i < 10) {
            snprintf(atts, sizeof atts,
                     "{\"route\":\"primary\",\"start_ms\":0,\"class\":\"none\","
                     "\"status\":200,\"ttft_ms\":200,\"duration_ms\":1000,"
                     "\"output_tokens\":100,\"retry_after_ms\":null,"
                     "\"hedge\":false,\"cancelled\":false}");
        } else {
            backup_ok(a, sizeof a, 100, 2000 + 10 * i);
            snprintf(atts, sizeof atts, "%s,%s", failed_500, a);
        }
        len += line(t + len, cap - len, 1000.0 * i, i, atts);
    }
    return t;
}

static void test_routes_a_request_never_tried_use_the_nearest_in_time(void **state)
{
    (void)state;
    ld_policy *p = policy(backup_first);
    char *trace = split_trace();
    int backup = ld_policy_route_index(p, "backup");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_taus2);
    sim_replay_plan pl;

    /* a 5 s window around request 9 (t = 9 s) holds the backup attempts of
     * requests 10..13 (started at 10.1 .. 13.1 s); 14's at 14.1 s is out */
    sim_recorded *rec = load(trace, p, 5);
    bool seen[4] = {false};
    for (unsigned long seed = 1; seed <= 64; seed++) {
        gsl_rng_set(rng, seed);
        assert_int_equal(sim_replay_pick(rec, 9, backup, 0, ld_s(9), 100, rng, &pl),
                         SIM_REPLAY_NEAR_IN_TIME);
        int k = (int)((pl.end / LD_US_PER_MS - 2000) / 10) - 10;
        if (k < 0 || k > 3)
            fail_msg("picked an attempt taking %lld ms, not one of requests "
                     "10..13", (long long)(pl.end / LD_US_PER_MS));
        seen[k] = true;
        /* reproducible: the same stream picks the same one */
        ld_us end = pl.end;
        gsl_rng_set(rng, seed);
        sim_replay_pick(rec, 9, backup, 0, ld_s(9), 100, rng, &pl);
        assert_int_equal(pl.end, end);
    }
    assert_true(seen[0] && seen[1] && seen[2] && seen[3]);
    /* request 0 has nothing on the backup within 5 s */
    assert_int_equal(sim_replay_pick(rec, 0, backup, 0, 0, 100, rng, &pl),
                     SIM_REPLAY_NONE);
    sim_replay_free(rec);

    /* with 60 s, the 8 nearest to t = 0: requests 10..17 */
    rec = load(trace, p, 60);
    for (unsigned long seed = 1; seed <= 64; seed++) {
        gsl_rng_set(rng, seed);
        assert_int_equal(sim_replay_pick(rec, 0, backup, 0, 0, 100, rng, &pl),
                         SIM_REPLAY_NEAR_IN_TIME);
        ld_us ms = pl.end / LD_US_PER_MS;
        assert_true(ms >= 2100 && ms <= 2170);
    }
    /* a whole replay: requests 0..9 borrow, 10..19 use their own */
    sim_stats st;
    cJSON *s = replay(rec, p, 3, &st);
    assert_int_equal(st.replay_same, 10);
    assert_int_equal(st.replay_near, 10);
    assert_near(num(s, "success_rate"), 1.0, 0);
    cJSON_Delete(s);
    gsl_rng_free(rng);
    sim_replay_free(rec);
    free(trace);
    ld_policy_free(p);
}

static void test_a_stopped_attempt_keeps_its_silence_when_replaced(void **state)
{
    (void)state;
    ld_policy *p = policy(backup_first);
    /* request 0 gave up on the backup after 500 ms without a token;
     * nearby, one backup attempt answered after 200 ms and one after 900 */
    char buf[4096], a[512], b[512];
    size_t n = 0;
    snprintf(a, sizeof a,
             "{\"route\":\"backup\",\"start_ms\":0,\"class\":\"none\","
             "\"status\":0,\"ttft_ms\":null,\"duration_ms\":500,"
             "\"output_tokens\":0,\"retry_after_ms\":null,"
             "\"hedge\":false,\"cancelled\":true}");
    n += line(buf + n, sizeof buf - n, 0, 0, a);
    for (int i = 1; i <= 2; i++) {
        snprintf(b, sizeof b,
                 "{\"route\":\"backup\",\"start_ms\":0,\"class\":\"none\","
                 "\"status\":200,\"ttft_ms\":%d,\"duration_ms\":2000,"
                 "\"output_tokens\":100,\"retry_after_ms\":null,"
                 "\"hedge\":false,\"cancelled\":false}",
                 i == 1 ? 200 : 900);
        n += line(buf + n, sizeof buf - n, 1000.0 * i, i, b);
    }
    sim_recorded *rec = load(buf, p, 60);
    int backup = ld_policy_route_index(p, "backup");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_taus2);
    sim_replay_plan pl;
    for (unsigned long seed = 1; seed <= 32; seed++) {
        gsl_rng_set(rng, seed);
        assert_int_equal(sim_replay_pick(rec, 0, backup, 0, 0, 100, rng, &pl),
                         SIM_REPLAY_NEAR_IN_TIME);
        assert_int_equal(pl.ttft, ld_ms(900));
    }
    gsl_rng_free(rng);
    sim_replay_free(rec);
    ld_policy_free(p);
}

static void test_recorded_failures_replay_by_class(void **state)
{
    (void)state;
    ld_policy *p = policy(primary_first);
    char buf[4096];
    size_t n = 0;
    const char *atts[] = {
        "{\"route\":\"primary\",\"start_ms\":0,\"class\":\"timeout_ttft\","
        "\"status\":0,\"ttft_ms\":null,\"duration_ms\":30000,"
        "\"output_tokens\":0,\"retry_after_ms\":null,\"hedge\":false,"
        "\"cancelled\":true}",
        "{\"route\":\"primary\",\"start_ms\":0,\"class\":\"rate_limited\","
        "\"status\":429,\"ttft_ms\":null,\"duration_ms\":80,"
        "\"output_tokens\":0,\"retry_after_ms\":3000,\"hedge\":false,"
        "\"cancelled\":false}",
        "{\"route\":\"primary\",\"start_ms\":0,\"class\":\"stream_cut\","
        "\"status\":200,\"ttft_ms\":300,\"duration_ms\":700,"
        "\"output_tokens\":40,\"retry_after_ms\":null,\"hedge\":false,"
        "\"cancelled\":false}",
        "{\"route\":\"primary\",\"start_ms\":0,\"class\":\"none\","
        "\"status\":0,\"ttft_ms\":250,\"duration_ms\":250,"
        "\"output_tokens\":0,\"retry_after_ms\":null,\"hedge\":true,"
        "\"cancelled\":true}",
    };
    for (int i = 0; i < 4; i++)
        n += line(buf + n, sizeof buf - n, 1000.0 * i, i, atts[i]);
    sim_recorded *rec = load(buf, p, 60);
    int primary = ld_policy_route_index(p, "primary");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_taus2);
    sim_replay_plan pl;
    sim_replay_pick(rec, 0, primary, 0, 0, 100, rng, &pl);
    assert_int_equal(pl.end, LD_NEVER); /* a timeout never answers */
    assert_int_equal(pl.ttft, -1);
    sim_replay_pick(rec, 1, primary, 0, 0, 100, rng, &pl);
    assert_int_equal(pl.cls, LD_FC_RATE_LIMITED);
    assert_int_equal(pl.end, ld_ms(80));
    assert_int_equal(pl.retry_after, ld_s(3));
    sim_replay_pick(rec, 2, primary, 0, 0, 100, rng, &pl);
    assert_int_equal(pl.cls, LD_FC_STREAM_CUT);
    assert_int_equal(pl.ttft, ld_ms(300));
    assert_int_equal(pl.end, ld_ms(700));
    assert_int_equal(pl.tokens, 40);
    /* a hedge that lost at its first token: a success with that TTFT; no
     * complete answer on any route tells a speed, so no generation time */
    sim_replay_pick(rec, 3, primary, 0, 0, 100, rng, &pl);
    assert_int_equal(pl.cls, LD_FC_NONE);
    assert_int_equal(pl.ttft, ld_ms(250));
    assert_int_equal(pl.end, ld_ms(250));
    gsl_rng_free(rng);
    sim_replay_free(rec);
    ld_policy_free(p);
}

static void test_same_seed_gives_identical_replays(void **state)
{
    (void)state;
    ld_policy *p = policy(backup_first);
    char *trace = split_trace();
    sim_recorded *rec = load(trace, p, 60);
    char *out[3];
    for (int i = 0; i < 3; i++) {
        cJSON *s = replay(rec, p, i < 2 ? 7 : 8, NULL);
        out[i] = cJSON_PrintUnformatted(s);
        assert_non_null(out[i]);
        cJSON_Delete(s);
    }
    assert_string_equal(out[0], out[1]);
    for (int i = 0; i < 3; i++)
        cJSON_free(out[i]);
    sim_replay_free(rec);
    free(trace);
    ld_policy_free(p);
}

/* ---- the simulator's trace ------------------------------------------------------ */

static const char two_route_scenario[] =
    "{\"requests\": 400, \"seed\": 5,"
    " \"traffic\": {\"arrivals\": {\"process\": \"poisson\", \"rate_per_s\": 4},"
    "  \"mix\": [{\"workload\": \"w\", \"tier\": \"free\", \"share\": 1,"
    "            \"input_tokens\": 500, \"output_tokens\": 100}],"
    "  \"patience\": {\"ttft_ms\": {\"dist\": \"exponential\", \"mean\": 3000}}},"
    " \"providers\": {"
    "  \"primary\": {\"ttft_ms\": {\"dist\": \"lognormal\", \"median\": 400, \"sigma\": 0.8},"
    "    \"tokens_per_s\": 80, \"errors\": {\"server_error\": 0.3, \"timeout_ttft\": 0.05}},"
    "  \"backup\": {\"ttft_ms\": {\"dist\": \"lognormal\", \"median\": 600, \"sigma\": 0.5},"
    "    \"tokens_per_s\": 50, \"errors\": {\"rate_limited\": 0.1}}}}";

static void test_sim_trace_has_a_line_per_request_and_replays_alike(void **state)
{
    (void)state;
    static const char pol[] =
        "{\"routes\": {"
        "  \"primary\": {\"provider\": \"openai\", \"model\": \"a\","
        "    \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}},"
        "  \"backup\": {\"provider\": \"openai\", \"model\": \"b\","
        "    \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}}},"
        " \"tiers\": {\"free\": {}},"
        " \"workloads\": {\"w\": {\"constraints\": {\"ttft_ms\": 2000, \"total_ms\": 60000},"
        "   \"ladder\": [\"primary\", \"backup\"],"
        "   \"on\": {\"server_error\": {\"action\": \"retry\", \"max\": 1,"
        " \"backoff_ms\": 100, \"else\": \"next\"},"
        "            \"*\": \"next\"}}},"
        " \"breaker\": {\"min_requests\": 1000000000, \"failure_rate\": 1},"
        " \"retry_budget\": {\"ratio\": 10, \"min_per_s\": 1000}}";
    ld_policy *p = policy(pol);
    sim_scenario *sc;
    ld_error err;
    if (sim_scenario_parse(two_route_scenario, strlen(two_route_scenario),
                           "scenario.json", ".", &sc, &err) < 0 ||
        sim_scenario_bind(sc, p, &err) < 0)
        fail_msg("scenario: %s", err.msg);
    char path[] = "/tmp/test_sim_replay_trace_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    sim_options o = {.sc = sc, .p = p, .seed = sc->seed, .events_sample = 1.0,
                     .trace = f};
    sim_metrics *m;
    sim_stats st;
    if (sim_run(&o, &m, &st, &err) < 0)
        fail_msg("sim: %s", err.msg);
    assert_int_equal(fclose(f), 0);
    cJSON *orig = sim_metrics_summary(m, sc->seed);
    sim_metrics_free(m);

    /* every line parses and names a request once */
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    char *buf = malloc(1 << 20);
    int lines = 0, timeouts = 0;
    while (fgets(buf, 1 << 20, in) != NULL) {
        cJSON *j = cJSON_Parse(buf);
        assert_non_null(j);
        assert_near(num(j, "v"), 1, 0);
        const cJSON *atts = cJSON_GetObjectItemCaseSensitive(j, "attempts");
        assert_true(cJSON_IsArray(atts));
        const cJSON *a;
        cJSON_ArrayForEach(a, atts)
        {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(a, "class");
            assert_true(cJSON_IsString(c));
            if (strcmp(c->valuestring, "timeout_ttft") == 0) {
                timeouts++;
                assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "cancelled")));
            }
        }
        cJSON_Delete(j);
        lines++;
    }
    fclose(in);
    free(buf);
    assert_int_equal(lines, 400);
    assert_int_equal((int64_t)num(orig, "requests"), 400);
    assert_true(timeouts > 0);

    /* the same ladder over the recording, with the scenario's models and
     * users: the same outcomes */
    sim_replay_opts ro = {1, 60, false};
    sim_recorded *rec;
    if (sim_replay_load(path, p, &ro, &rec, &err) < 0)
        fail_msg("load: %s", err.msg);
    unlink(path);
    sim_replay_info info;
    sim_replay_info_get(rec, &info);
    assert_int_equal(info.requests, 400);
    assert_true(info.attempts >= 400);
    sim_scenario *rsc;
    if (sim_replay_scenario(rec, p, sc, &rsc, &err) < 0)
        fail_msg("replay scenario: %s", err.msg);
    o = (sim_options){.sc = rsc, .p = p, .seed = rsc->seed,
                      .events_sample = 1.0};
    if (sim_run(&o, &m, &st, &err) < 0)
        fail_msg("replay: %s", err.msg);
    cJSON *rep = sim_metrics_summary(m, rsc->seed);
    sim_metrics_free(m);
    assert_near(num(rep, "requests"), 400, 0);
    assert_near(num(rep, "succeeded"), num(orig, "succeeded"), 0);
    assert_near(num(rep, "abandoned"), num(orig, "abandoned"), 0);
    assert_near(num(rep, "attempts"), num(orig, "attempts"), 0);
    assert_near(num(rep, "latency_ms.mean"), num(orig, "latency_ms.mean"), 0.01);
    assert_int_equal(st.replay_model + st.replay_unmodelled, 0);
    cJSON_Delete(rep);
    cJSON_Delete(orig);
    sim_scenario_free(rsc);
    sim_replay_free(rec);
    ld_policy_free(p);
}

/* ---- bad traces ----------------------------------------------------------------- */

static void test_bad_lines_name_the_file_and_line(void **state)
{
    (void)state;
    ld_policy *p = policy(primary_first);
    char good[2048], text[8192], path[64], want[128];
    ld_error err;
    sim_recorded *rec = NULL;
    line(good, sizeof good, 0, 0, failed_500);
    static const struct {
        const char *bad, *what;
    } cases[] = {
        {"{\"v\":1,\"t_ms\":", "not a JSON object"},
        {"[1,2]", "not a JSON object"},
        {"{\"v\":2,\"t_ms\":5}", "\"v\" is not 1"},
        {"{\"v\":1,\"t_ms\":5,\"workload\":\"nope\",\"input_tokens\":1,"
         "\"output_tokens\":1,\"outcome\":\"success\",\"attempts\":[]}",
         "workload \"nope\" is not in the policy"},
        {"{\"v\":1,\"t_ms\":5,\"tier\":\"gold\",\"input_tokens\":1,"
         "\"output_tokens\":1,\"outcome\":\"success\",\"attempts\":[]}",
         "tier \"gold\" is not in the policy"},
        {"{\"v\":1,\"t_ms\":5,\"input_tokens\":-1,\"output_tokens\":1,"
         "\"outcome\":\"success\",\"attempts\":[]}",
         "\"input_tokens\" must be a whole number >= 0"},
        {"{\"v\":1,\"t_ms\":5,\"input_tokens\":1,\"output_tokens\":1,"
         "\"outcome\":\"success\",\"attempts\":[{\"route\":\"primary\","
         "\"start_ms\":0,\"class\":\"oops\",\"duration_ms\":1}]}",
         "attempts[0].\"class\": \"oops\" is not a failure class"},
        {"{\"v\":1,\"t_ms\":5,\"input_tokens\":1,\"output_tokens\":1,"
         "\"outcome\":\"success\"}",
         "missing \"attempts\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "%s%s\n%s", good, cases[i].bad, good);
        assert_true(load_error(text, p, false, &err, path, sizeof path, &rec) < 0);
        assert_null(rec);
        snprintf(want, sizeof want, "%s:2: ", path);
        if (strstr(err.msg, want) == NULL || strstr(err.msg, cases[i].what) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\" or \"%s\"", i, err.msg,
                     want, cases[i].what);
        /* skipped and counted with skip_bad_rows */
        assert_int_equal(load_error(text, p, true, &err, path, sizeof path, &rec), LD_OK);
        sim_replay_info info;
        sim_replay_info_get(rec, &info);
        assert_int_equal(info.requests, 2);
        assert_int_equal(info.skipped, 1);
        sim_replay_free(rec);
    }
    ld_policy_free(p);
}

static void test_empty_traces_and_foreign_routes(void **state)
{
    (void)state;
    ld_policy *p = policy(primary_first);
    char path[64], text[4096];
    ld_error err;
    sim_recorded *rec = NULL;
    assert_true(load_error("", p, false, &err, path, sizeof path, &rec) < 0);
    assert_non_null(strstr(err.msg, "no requests in trace"));
    assert_true(load_error("\n  \n", p, false, &err, path, sizeof path, &rec) < 0);
    assert_non_null(strstr(err.msg, "no requests in trace"));
    assert_true(load_error("garbage\n", p, true, &err, path, sizeof path, &rec) < 0);
    assert_non_null(strstr(err.msg, "1 bad lines skipped"));
    /* a route only the trace knows is fine, just unused */
    line(text, sizeof text, 0, 0,
         "{\"route\":\"elsewhere\",\"start_ms\":0,\"class\":\"none\","
         "\"status\":200,\"ttft_ms\":100,\"duration_ms\":500,"
         "\"output_tokens\":100}");
    assert_int_equal(load_error(text, p, false, &err, path, sizeof path, &rec), LD_OK);
    sim_replay_info info;
    sim_replay_info_get(rec, &info);
    assert_int_equal(info.attempts_foreign, 1);
    assert_int_equal(info.nforeign, 1);
    assert_string_equal(info.foreign[0], "elsewhere");
    /* ... and the policy's routes, never recorded nor modelled, are told */
    sim_scenario *sc;
    assert_int_equal(sim_replay_scenario(rec, p, NULL, &sc, &err), LD_OK);
    int routes[4];
    assert_int_equal(sim_replay_uncovered(rec, sc, p, routes, 4), 2);
    /* their attempts fail as connect_error, counted */
    sim_options o = {.sc = sc, .p = p, .seed = 1, .events_sample = 1.0};
    sim_metrics *m;
    sim_stats st;
    assert_int_equal(sim_run(&o, &m, &st, &err), LD_OK);
    assert_int_equal(st.replay_unmodelled, 2);
    sim_metrics_free(m);
    sim_scenario_free(sc);
    sim_replay_free(rec);
    ld_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_ladder_reproduces_success_and_two_attempts),
        cmocka_unit_test(test_backup_first_takes_one_attempt_and_the_recorded_latency),
        cmocka_unit_test(test_the_same_requests_attempt_is_preferred_over_nearby_ones),
        cmocka_unit_test(test_the_kth_try_on_a_route_replays_the_kth_recorded_one),
        cmocka_unit_test(test_routes_a_request_never_tried_use_the_nearest_in_time),
        cmocka_unit_test(test_a_stopped_attempt_keeps_its_silence_when_replaced),
        cmocka_unit_test(test_recorded_failures_replay_by_class),
        cmocka_unit_test(test_same_seed_gives_identical_replays),
        cmocka_unit_test(test_sim_trace_has_a_line_per_request_and_replays_alike),
        cmocka_unit_test(test_bad_lines_name_the_file_and_line),
        cmocka_unit_test(test_empty_traces_and_foreign_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
