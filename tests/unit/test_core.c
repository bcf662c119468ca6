/* test_core.c - the routing core's decisions, driven with a manual clock and
 * a scripted RNG. */
#include <stdlib.h>

#include "testutil.h"

#include "ld_core.h"

/* ---- harness ------------------------------------------------------------ */

#define MAX_EV 4096

typedef struct cap {
    ld_event ev[MAX_EV];
    int n;
} cap;

static void cap_sink(void *ud, const ld_event *ev)
{
    cap *c = ud;
    if (c->n < MAX_EV)
        c->ev[c->n++] = *ev;
}

static int count_ev(const cap *c, ld_event_type t)
{
    int n = 0;
    for (int i = 0; i < c->n; i++)
        n += c->ev[i].type == t;
    return n;
}

static const ld_event *last_ev(const cap *c, ld_event_type t)
{
    for (int i = c->n - 1; i >= 0; i--)
        if (c->ev[i].type == t)
            return &c->ev[i];
    return NULL;
}

static const char base_routes[] =
    "\"routes\": {"
    " \"A\": {\"provider\": \"openai\", \"model\": \"a\","
    "  \"price\": {\"input_per_mtok\": 10, \"output_per_mtok\": 30},"
    "  \"quality\": 0.9, \"regions\": [\"us\", \"eu\"], \"context_window\": 8000,"
    "  \"capabilities\": [\"stream\", \"tools\"]},"
    " \"B\": {\"provider\": \"anthropic\", \"model\": \"b\","
    "  \"price\": {\"input_per_mtok\": 3, \"output_per_mtok\": 15},"
    "  \"quality\": 0.85, \"regions\": [\"eu\"], \"context_window\": 200000,"
    "  \"capabilities\": [\"stream\", \"tools\"]},"
    " \"C\": {\"provider\": \"openai\", \"model\": \"c\","
    "  \"price\": {\"input_per_mtok\": 0.1, \"output_per_mtok\": 0.2},"
    "  \"quality\": 0.6, \"regions\": [\"us\"], \"context_window\": 32000},"
    " \"D\": {\"provider\": \"openai\", \"model\": \"d\","
    "  \"price\": {\"input_per_mtok\": 0.5, \"output_per_mtok\": 1},"
    "  \"quality\": 0.7, \"regions\": [\"us\"], \"context_window\": 16000}"
    "},";

static const char base_rest[] =
    "\"tiers\": {\"paid\": {}, \"free\": {\"max_cost_usd\": 0.001},"
    "  \"eu\": {\"regions\": [\"eu\"]}, \"picky\": {\"min_quality\": 0.88}},"
    "\"breaker\": {\"window_s\": 30, \"min_requests\": 4,"
    "  \"failure_rate\": 0.5, \"open_for_s\": 10, \"half_open_probes\": 1},"
    "\"retry_budget\": {\"ratio\": 1.0, \"min_per_s\": 100, \"window_s\": 10},"
    "\"health\": {\"min_samples\": 5}";

static const char chat_workload[] =
    "\"workloads\": {\"chat\": {"
    " \"constraints\": {\"ttft_ms\": 2000, \"total_ms\": 10000, \"stall_ms\": 1000},"
    " \"ladder\": [\"A\", \"B\", \"C\"],"
    " \"roles\": {\"low_latency\": \"D\", \"low_cost\": \"C\","
    "   \"high_quality\": \"B\"},"
    " \"on\": {"
    "  \"server_error\": {\"action\": \"retry\", \"max\": 1,"
    "     \"backoff_ms\": 100, \"else\": \"next\"},"
    "  \"rate_limited\": {\"action\": \"wait_retry_after\","
    "     \"max_wait_ms\": 2000, \"else\": \"next\"},"
    "  \"timeout_ttft\": \"low_latency\", \"budget_exceeded\": \"low_cost\","
    "  \"quality_floor\": \"high_quality\", \"content_blocked\": \"fail\","
    "  \"context_length\": \"next_larger_context\","
    "  \"region_restricted\": \"next_in_region\", \"*\": \"next\"},"
    " \"safe_failure\": {\"status\": 503, \"message\": \"busy\"}}},";

typedef struct fx {
    ld_policy *p;
    ld_core *c;
    cap ev;
    test_rng trng;
    ld_rng rng;
} fx;

static fx *fx_new_rest(const char *workloads, const char *rest)
{
    char text[8192];
    snprintf(text, sizeof text, "{%s%s%s}", base_routes, workloads, rest);
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    ld_error err;
    int rc = ld_policy_parse(text, strlen(text), "test.json", &f->p, &err);
    if (rc != LD_OK)
        fail_msg("policy: %s", err.msg);
    f->c = ld_core_new(f->p);
    assert_non_null(f->c);
    ld_core_set_sink(f->c, cap_sink, &f->ev);
    f->rng = test_rng_make(&f->trng);
    return f;
}

static fx *fx_new(const char *workloads)
{
    return fx_new_rest(workloads, base_rest);
}

static void fx_free(fx *f)
{
    ld_core_free(f->c);
    ld_policy_free(f->p);
    free(f);
}

static int R(const fx *f, const char *id)
{
    return ld_policy_route_index(f->p, id);
}

static int T(const fx *f, const char *id)
{
    return ld_policy_tier_index(f->p, id);
}

/* Start a request for tier `tier` and return its first action. */
static ld_req *start(fx *f, const char *tier, int64_t in, int64_t out,
                     ld_us now, ld_do *first)
{
    ld_req_spec spec = {.workload = -1, .tier = tier ? T(f, tier) : -1,
                        .input_tokens = in, .output_tokens = out};
    ld_req *r = NULL;
    assert_int_equal(ld_req_start(f->c, &spec, now, &f->rng, &r), LD_OK);
    assert_non_null(r);
    assert_int_equal(ld_req_next(r, first), 1);
    return r;
}

static ld_raw_result status(int s)
{
    ld_raw_result res;
    ld_raw_result_init(&res);
    res.http_status = s;
    return res;
}

static ld_raw_result ok(int tokens)
{
    ld_raw_result res = status(200);
    res.completion_tokens = tokens;
    return res;
}

static ld_raw_result rate_limited(ld_us retry_after)
{
    ld_raw_result res = status(429);
    res.retry_after = retry_after;
    return res;
}

/* Expect exactly one action of `kind` next and return it. */
static ld_do expect(ld_req *r, ld_do_kind kind)
{
    ld_do d;
    if (ld_req_next(r, &d) != 1)
        fail_msg("expected an action of kind %d, got none", kind);
    if (d.kind != kind)
        fail_msg("expected an action of kind %d, got %d", kind, d.kind);
    return d;
}

static void expect_none(ld_req *r)
{
    ld_do d;
    if (ld_req_next(r, &d) == 1)
        fail_msg("expected no action, got kind %d", d.kind);
}

/* Expect the request to end now, failed after its first token, with cls. */
/* A failure after the answer started: the client got a 200 and then an
 * error event, which is what the DONE event and the trace say. */
static void expect_mid_stream_failure(ld_req *r, ld_class cls)
{
    ld_do fin = expect(r, LD_DO_FINISH);
    assert_int_equal(fin.outcome, LD_OUT_FAILED);
    assert_true(fin.mid_stream);
    assert_int_equal(fin.cls, cls);
    assert_int_equal(fin.client_status, 200);
}

/* Run a request to success on its first attempt. */
static void succeed_once(fx *f, const char *tier, ld_us now, ld_us ttft)
{
    ld_do d;
    ld_req *r = start(f, tier, 100, 100, now, &d);
    assert_int_equal(d.kind, LD_DO_START);
    ld_req_first_token(r, d.attempt, now + ttft);
    ld_raw_result res = ok(100);
    ld_req_end(r, d.attempt, now + ttft + ld_ms(10), &res, &f->rng);
    assert_int_equal(expect(r, LD_DO_FINISH).outcome, LD_OUT_SUCCESS);
    ld_req_free(r);
}

/* ---- actions ------------------------------------------------------------ */

static void test_first_attempt_goes_to_first_rung(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 100, 100, 0, &d);
    assert_int_equal(d.kind, LD_DO_START);
    assert_int_equal(d.route, R(f, "A"));
    assert_false(d.hedge);
    assert_int_equal(d.ttft_deadline, ld_ms(2000));
    assert_int_equal(d.deadline, ld_ms(10000));
    assert_int_equal(d.stall, ld_ms(1000));
    expect_none(r);
    ld_req_first_token(r, d.attempt, ld_ms(300));
    ld_raw_result res = ok(50);
    assert_int_equal(ld_req_end(r, d.attempt, ld_ms(900), &res, &f->rng), LD_OK);
    ld_do fin = expect(r, LD_DO_FINISH);
    assert_int_equal(fin.outcome, LD_OUT_SUCCESS);
    assert_int_equal(fin.route, R(f, "A"));
    ld_req_info info;
    ld_req_info_get(r, &info);
    assert_int_equal(info.ttft, ld_ms(300));
    assert_int_equal(info.latency, ld_ms(900));
    assert_int_equal(info.attempts, 1);
    assert_false(info.fell_back);
    /* 100 in at $10/M + 50 out at $30/M */
    assert_near(info.cost, (100 * 10.0 + 50 * 30.0) / 1e6, 1e-12);
    assert_int_equal(count_ev(&f->ev, LD_EV_DONE), 1);
    ld_req_free(r);
    fx_free(f);
}

/* A request that waited in the host's admission queue: its deadline,
 * TTFT and latency count from its arrival, the wait shortening what its
 * attempts have left; one that waited past its deadline fails at once with
 * timeout_total and no attempt. */
static void test_waited_request_counts_from_its_arrival(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_req_spec spec = {.workload = -1, .tier = T(f, "paid"),
                        .input_tokens = 100, .output_tokens = 100};
    ld_req *r = NULL;
    ld_do d;
    assert_int_equal(ld_req_start_waited(f->c, &spec, NULL, ld_ms(1000),
                                         ld_ms(4000), &f->rng, &r), LD_OK);
    assert_int_equal(ld_req_next(r, &d), 1);
    assert_int_equal(d.kind, LD_DO_START);
    assert_int_equal(d.deadline, ld_ms(11000));      /* arrival + 10 s */
    assert_int_equal(d.ttft_deadline, ld_ms(6000));  /* its own 2 s */
    ld_req_first_token(r, d.attempt, ld_ms(4300));
    ld_raw_result res = ok(50);
    assert_int_equal(ld_req_end(r, d.attempt, ld_ms(4900), &res, &f->rng), LD_OK);
    ld_do fin = expect(r, LD_DO_FINISH);
    assert_int_equal(fin.outcome, LD_OUT_SUCCESS);
    ld_req_info info;
    ld_req_info_get(r, &info);
    assert_int_equal(info.arrived, ld_ms(1000));
    assert_int_equal(info.ttft, ld_ms(3300));
    assert_int_equal(info.latency, ld_ms(3900));
    ld_req_free(r);

    /* waited 12 s of a 10 s deadline */
    assert_int_equal(ld_req_start_waited(f->c, &spec, NULL, ld_ms(20000),
                                         ld_ms(32000), &f->rng, &r), LD_OK);
    fin = expect(r, LD_DO_FINISH);
    assert_int_equal(fin.outcome, LD_OUT_FAILED);
    assert_int_equal(fin.cls, LD_FC_TIMEOUT_TOTAL);
    ld_req_info_get(r, &info);
    assert_int_equal(info.attempts, 0);
    ld_req_free(r);

    /* an arrival after now is now */
    assert_int_equal(ld_req_start_waited(f->c, &spec, NULL, ld_ms(50000),
                                         ld_ms(40000), &f->rng, &r), LD_OK);
    assert_int_equal(ld_req_next(r, &d), 1);
    assert_int_equal(d.deadline, ld_ms(50000));
    ld_req_free(r);
    fx_free(f);
}

static void test_server_error_retries_then_falls_back(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    double u[] = {0.0};
    f->trng.values = u;
    f->trng.n = 1;
    ld_do d;
    ld_req *r = start(f, "paid", 100, 100, 0, &d);
    ld_raw_result res = status(500);
    ld_req_end(r, d.attempt, ld_ms(50), &res, &f->rng);
    expect_none(r);
    /* backoff 100 ms with jitter u=0: half of it */
    assert_int_equal(ld_req_wake_at(r), ld_ms(100));
    const ld_event *rt = last_ev(&f->ev, LD_EV_RETRY);
    assert_non_null(rt);
    assert_int_equal(rt->cls, LD_FC_SERVER_ERROR);
    assert_int_equal(rt->route, R(f, "A"));
    ld_req_tick(r, ld_ms(100), &f->rng);
    ld_do d2 = expect(r, LD_DO_START);
    assert_int_equal(d2.route, R(f, "A"));
    assert_int_equal(d2.attempt, 2);
    ld_req_end(r, d2.attempt, ld_ms(150), &res, &f->rng);
    ld_do d3 = expect(r, LD_DO_START);
    assert_int_equal(d3.route, R(f, "B"));
    const ld_event *fb = last_ev(&f->ev, LD_EV_FALLBACK);
    assert_non_null(fb);
    assert_int_equal(fb->route, R(f, "A"));
    assert_int_equal(fb->to_route, R(f, "B"));
    assert_int_equal(fb->cls, LD_FC_SERVER_ERROR);
    assert_int_equal(fb->attempt, 3);
    ld_req_free(r);
    fx_free(f);
}

static void test_backoff_grows_exponentially_with_jitter(void **state)
{
    (void)state;
    fx *f = fx_new(
        "\"workloads\": {\"w\": {\"constraints\": {\"total_ms\": 60000},"
        " \"ladder\": [\"A\", \"B\"], \"on\": {\"server_error\":"
        " {\"action\": \"retry\", \"max\": 3, \"backoff_ms\": 100,"
        "  \"max_backoff_ms\": 300}}}},");
    double u[] = {0.999999};
    f->trng.values = u;
    f->trng.n = 1;
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    ld_us now = 0;
    ld_us expected[] = {ld_ms(100), ld_ms(200), ld_ms(300)};
    for (int i = 0; i < 3; i++) {
        ld_raw_result res = status(502);
        ld_req_end(r, d.attempt, now, &res, &f->rng);
        ld_us wake = ld_req_wake_at(r);
        /* delay in [base/2, base]: with u ~ 1, close to base */
        assert_true(wake - now <= expected[i]);
        assert_true(wake - now >= expected[i] - 1);
        now = wake;
        ld_req_tick(r, now, &f->rng);
        d = expect(r, LD_DO_START);
        assert_int_equal(d.route, R(f, "A"));
    }
    ld_raw_result res = status(502);
    ld_req_end(r, d.attempt, now, &res, &f->rng);
    d = expect(r, LD_DO_START);
    assert_int_equal(d.route, R(f, "B"));
    ld_req_free(r);
    fx_free(f);
}

static void test_rate_limited_waits_for_retry_after_within_deadline(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 100, 100, 0, &d);
    ld_raw_result res = rate_limited(ld_ms(1500));
    ld_req_end(r, d.attempt, ld_ms(10), &res, &f->rng);
    expect_none(r);
    assert_int_equal(ld_req_wake_at(r), ld_ms(1510));
    ld_req_tick(r, ld_ms(1510), &f->rng);
    d = expect(r, LD_DO_START);
    assert_int_equal(d.route, R(f, "A"));
    ld_req_free(r);
    fx_free(f);
}

static void test_retry_after_longer_than_max_wait_falls_back(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 100, 100, 0, &d);
    ld_raw_result res = rate_limited(ld_ms(2500)); /* max_wait is 2000 */
    ld_req_end(r, d.attempt, ld_ms(10), &res, &f->rng);
    d = expect(r, LD_DO_START);
    assert_int_equal(d.route, R(f, "B"));
    ld_req_free(r);
    fx_free(f);
}

static void test_retry_after_beyond_deadline_falls_back(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 100, 100, 0, &d);
    /* 1.5 s fits max_wait, but the request's deadline is at 10 s */
    ld_raw_result res = rate_limited(ld_ms(1500));
    ld_req_end(r, d.attempt, ld_ms(9000), &res, &f->rng);
    d = expect(r, LD_DO_START);
    assert_int_equal(d.route, R(f, "B"));
    assert_int_equal(last_ev(&f->ev, LD_EV_FALLBACK)->cls, LD_FC_RATE_LIMITED);
    ld_req_free(r);
    fx_free(f);
}

static void test_rate_limited_route_is_skipped_until_retry_after(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 100, 100, 0, &d);
    ld_raw_result res = rate_limited(ld_s(30));
    ld_req_end(r, d.attempt, 0, &res, &f->rng);
    ld_req_free(r);
    /* another request within the 30 s: A is skipped, no attempt on it */
    int before = count_ev(&f->ev, LD_EV_ATTEMPT);
    r = start(f, "paid", 100, 100, ld_s(5), &d);
    assert_int_equal(d.route, R(f, "B"));
    const ld_event *skip = last_ev(&f->ev, LD_EV_SKIP);
    assert_non_null(skip);
    assert_int_equal(skip->route, R(f, "A"));
    assert_int_equal(skip->cls, LD_FC_RATE_LIMITED);
    assert_int_equal(count_ev(&f->ev, LD_EV_ATTEMPT), before + 1);
    ld_req_free(r);
    /* after Retry-After, A is back */
    r = start(f, "paid", 100, 100, ld_s(31), &d);
    assert_int_equal(d.route, R(f, "A"));
    ld_req_free(r);
    fx_free(f);
}

/* A Retry-After of ten days is taken as the policy's cap (health
 * max_retry_after_s, default a day), from a provider and from another
 * router alike. */
static void test_retry_after_is_capped_by_the_policy(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 100, 100, 0, &d);
    ld_raw_result res = rate_limited(ld_s(10 * 86400));
    ld_req_end(r, d.attempt, 0, &res, &f->rng);
    const ld_event *b = last_ev(&f->ev, LD_EV_BLOCK);
    assert_non_null(b);
    assert_int_equal(b->delay, ld_s(86400));
    ld_req_free(r);
    assert_int_equal(ld_core_block_route(f->c, R(f, "B"), LD_FC_RATE_LIMITED,
                                         ld_s(100 * 86400), ld_s(1)),
                     LD_OK);
    b = last_ev(&f->ev, LD_EV_BLOCK);
    assert_int_equal(b->route, R(f, "B"));
    assert_int_equal(b->delay, ld_s(86400));
    fx_free(f);
}

static void test_quota_exhausted_blocks_route(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 100, 100, 0, &d);
    ld_raw_result res = status(429);
    res.error_code = "insufficient_quota";
    ld_req_end(r, d.attempt, 0, &res, &f->rng);
    d = expect(r, LD_DO_START);
    assert_int_equal(d.route, R(f, "B"));
    ld_req_free(r);
    r = start(f, "paid", 100, 100, ld_s(60), &d);
    assert_int_equal(d.route, R(f, "B"));
    assert_int_equal(last_ev(&f->ev, LD_EV_SKIP)->cls, LD_FC_QUOTA_EXHAUSTED);
    ld_req_free(r);
    fx_free(f);
}

static void test_timeout_ttft_jumps_to_low_latency_role(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 100, 100, 0, &d);
    assert_int_equal(ld_req_wake_at(r), ld_ms(2000));
    ld_req_tick(r, ld_ms(1999), &f->rng);
    expect_none(r);
    ld_req_tick(r, ld_ms(2000), &f->rng);
    ld_do c = expect(r, LD_DO_CANCEL);
    assert_int_equal(c.attempt, d.attempt);
    d = expect(r, LD_DO_START);
    assert_int_equal(d.route, R(f, "D"));
    assert_int_equal(last_ev(&f->ev, LD_EV_FALLBACK)->cls, LD_FC_TIMEOUT_TTFT);
    /* a late report about the cancelled attempt is ignored */
    ld_raw_result res = ok(10);
    assert_int_equal(ld_req_end(r, 1, ld_ms(2100), &res, &f->rng), LD_ESTATE);
    ld_req_free(r);
    fx_free(f);
}

static void test_role_already_tried_falls_to_next(void **state)
{
    (void)state;
    fx *f = fx_new(
        "\"workloads\": {\"w\": {\"constraints\": {\"total_ms\": 60000},"
        " \"ladder\": [\"A\", \"D\", \"B\"],"
        " \"roles\": {\"low_latency\": \"D\"},"
        " \"on\": {\"server_error\": \"low_latency\","
        "          \"overloaded\": \"low_latency\"}}},");
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    ld_raw_result res = status(503); /* overloaded -> low_latency: D */
    ld_req_end(r, d.attempt, 0, &res, &f->rng);
    d = expect(r, LD_DO_START);
    assert_int_equal(d.route, R(f, "D"));
    res = status(500); /* server_error -> low_latency, used up: next */
    ld_req_end(r, d.attempt, 0, &res, &f->rng);
    d = expect(r, LD_DO_START);
    assert_int_equal(d.route, R(f, "B"));
    ld_req_free(r);
    fx_free(f);
}

static void test_context_length_moves_to_larger_window(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    /* fits A's 8000 window by estimate, but the provider says no */
    ld_req *r = start(f, "paid", 7000, 500, 0, &d);
    assert_int_equal(d.route, R(f, "A"));
    ld_raw_result res = status(400);
    res.error_code = "context_length_exceeded";
    ld_req_end(r, d.attempt, 0, &res, &f->rng);
    d = expect(r, LD_DO_START);
    assert_int_equal(d.route, R(f, "B")); /* 200k > 8k */
    /* from B nothing is larger: the safe failure */
    ld_req_end(r, d.attempt, 0, &res, &f->rng);
    ld_do fin = expect(r, LD_DO_FINISH);
    assert_int_equal(fin.outcome, LD_OUT_FAILED);
    assert_int_equal(fin.cls, LD_FC_CONTEXT_LENGTH);
    ld_req_free(r);
    fx_free(f);
}

static void test_too_large_request_skips_small_windows(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 20000, 1000, 0, &d);
    assert_int_equal(d.route, R(f, "B"));
    assert_int_equal(last_ev(&f->ev, LD_EV_SKIP)->cls, LD_FC_CONTEXT_LENGTH);
    ld_req_free(r);
    fx_free(f);
}

static void test_region_restricted_moves_to_another_region(void **state)
{
    (void)state;
    fx *f = fx_new(
        "\"workloads\": {\"w\": {\"constraints\": {\"total_ms\": 60000},"
        " \"ladder\": [\"C\", \"D\", \"B\"],"
        " \"on\": {\"region_restricted\": \"next_in_region\"}}},");
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    assert_int_equal(d.route, R(f, "C"));
    ld_raw_result res = status(403);
    res.error_code = "unsupported_country_region_territory";
    ld_req_end(r, d.attempt, 0, &res, &f->rng);
    d = expect(r, LD_DO_START);
    /* D is in the same region as C (us); B is in eu */
    assert_int_equal(d.route, R(f, "B"));
    ld_req_free(r);
    fx_free(f);
}

static void test_content_blocked_fails_with_safe_response(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    ld_raw_result res = status(400);
    res.error_code = "content_policy_violation";
    ld_req_end(r, d.attempt, ld_ms(200), &res, &f->rng);
    ld_do fin = expect(r, LD_DO_FINISH);
    assert_int_equal(fin.outcome, LD_OUT_FAILED);
    assert_false(fin.mid_stream);
    assert_int_equal(fin.status, 503);
    assert_int_equal(fin.client_status, 503);
    assert_int_equal(last_ev(&f->ev, LD_EV_DONE)->status, 503);
    assert_string_equal(fin.message, "busy");
    assert_int_equal(fin.cls, LD_FC_CONTENT_BLOCKED);
    assert_int_equal(count_ev(&f->ev, LD_EV_ATTEMPT), 1);
    assert_int_equal(ld_req_wake_at(r), LD_NEVER);
    ld_req_free(r);
    fx_free(f);
}

static void test_wildcard_rule_covers_unnamed_classes(void **state)
{
    (void)state;
    fx *f = fx_new(
        "\"workloads\": {\"w\": {\"constraints\": {\"total_ms\": 60000},"
        " \"ladder\": [\"A\", \"B\"], \"on\": {\"*\": \"fail\"}}},");
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    ld_raw_result res = status(502);
    ld_req_end(r, d.attempt, 0, &res, &f->rng);
    assert_int_equal(expect(r, LD_DO_FINISH).outcome, LD_OUT_FAILED);
    ld_req_free(r);
    fx_free(f);
}

static void test_nothing_qualifies_is_a_safe_failure(void **state)
{
    (void)state;
    fx *f = fx_new(
        "\"workloads\": {\"w\": {\"constraints\": {\"max_cost_usd\": 1e-9},"
        " \"ladder\": [\"A\", \"B\"]}},");
    ld_do d;
    ld_req *r = start(f, "paid", 1000, 1000, 0, &d);
    assert_int_equal(d.kind, LD_DO_FINISH);
    assert_int_equal(d.outcome, LD_OUT_FAILED);
    assert_int_equal(d.cls, LD_FC_BUDGET_EXCEEDED);
    assert_int_equal(count_ev(&f->ev, LD_EV_ATTEMPT), 0);
    assert_int_equal(count_ev(&f->ev, LD_EV_SKIP), 2);
    ld_req_free(r);
    fx_free(f);
}

/* ---- qualification ------------------------------------------------------ */

static void test_free_tier_is_never_routed_over_its_budget(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    /* 1000 in + 200 out: A costs $0.016, B $0.006, C $0.00014 */
    for (int i = 0; i < 50; i++) {
        ld_do d;
        ld_req *r = start(f, "free", 1000, 200, ld_ms(i), &d);
        ld_raw_result res = status(500);
        if (d.kind == LD_DO_FINISH) { /* once C and D have open breakers */
            assert_int_equal(d.outcome, LD_OUT_FAILED);
            ld_req_free(r);
            continue;
        }
        assert_int_equal(d.route, i == 0 ? R(f, "C") : d.route);
        ld_req_end(r, d.attempt, ld_ms(i), &res, &f->rng);
        /* even after C fails, never A or B: retry C, then give up */
        for (;;) {
            ld_do n;
            if (ld_req_next(r, &n) == 1) {
                if (n.kind == LD_DO_FINISH)
                    break;
                if (n.kind == LD_DO_START) {
                    assert_int_not_equal(n.route, R(f, "A"));
                    assert_int_not_equal(n.route, R(f, "B"));
                    ld_req_end(r, n.attempt, ld_ms(i), &res, &f->rng);
                }
                continue;
            }
            ld_us w = ld_req_wake_at(r);
            assert_true(w != LD_NEVER);
            ld_req_tick(r, w, &f->rng);
        }
        ld_req_free(r);
    }
    for (int i = 0; i < f->ev.n; i++) {
        if (f->ev.ev[i].type == LD_EV_ATTEMPT) {
            assert_int_not_equal(f->ev.ev[i].route, R(f, "A"));
            assert_int_not_equal(f->ev.ev[i].route, R(f, "B"));
        }
    }
    fx_free(f);
}

static void test_quality_floor_skips_to_high_quality(void **state)
{
    (void)state;
    fx *f = fx_new(
        "\"workloads\": {\"w\": {\"constraints\": {\"total_ms\": 60000},"
        " \"ladder\": [\"C\", \"A\"], \"roles\": {\"high_quality\": \"B\"},"
        " \"on\": {\"quality_floor\": \"high_quality\"}}},");
    ld_do d;
    ld_req *r = start(f, "picky", 10, 10, 0, &d); /* min_quality 0.88 */
    /* C (0.6) is skipped for quality, its rule jumps to B (0.85), which
     * is below the floor too; next is A (0.9) */
    assert_int_equal(d.route, R(f, "A"));
    assert_int_equal(count_ev(&f->ev, LD_EV_SKIP), 2);
    ld_req_free(r);
    fx_free(f);
}

static void test_region_constraint_of_tier_skips_routes(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "eu", 10, 10, 0, &d);
    assert_int_equal(d.route, R(f, "A")); /* A serves us and eu */
    ld_raw_result res = status(503);
    ld_req_end(r, d.attempt, 0, &res, &f->rng);
    d = expect(r, LD_DO_START);
    assert_int_equal(d.route, R(f, "B"));
    res = status(503);
    ld_req_end(r, d.attempt, 0, &res, &f->rng);
    /* C and D are us-only: nothing left */
    assert_int_equal(expect(r, LD_DO_FINISH).outcome, LD_OUT_FAILED);
    ld_req_free(r);
    fx_free(f);
}

static void test_capability_missing_skips_route(void **state)
{
    (void)state;
    fx *f = fx_new(
        "\"workloads\": {\"w\": {\"constraints\": {\"total_ms\": 60000},"
        " \"ladder\": [\"C\", \"A\"]}},");
    ld_req_spec spec = {.workload = -1, .tier = -1, .input_tokens = 10,
                        .output_tokens = 10, .caps = LD_CAP_TOOLS};
    ld_req *r;
    ld_do d;
    assert_int_equal(ld_req_start(f->c, &spec, 0, &f->rng, &r), LD_OK);
    d = expect(r, LD_DO_START);
    assert_int_equal(d.route, R(f, "A"));
    assert_int_equal(last_ev(&f->ev, LD_EV_SKIP)->cls, LD_FC_CAPABILITY_MISSING);
    ld_req_free(r);
    fx_free(f);
}

static void test_price_change_moves_traffic_off_route(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "free", 1000, 200, 0, &d);
    assert_int_equal(d.route, R(f, "C"));
    ld_req_free(r);
    /* C's price goes up 10x: $0.0014 > the free tier's $0.001; A and B
     * are over it too, and the low-latency role D ($0.0007) takes over */
    assert_int_equal(ld_core_set_price(f->c, R(f, "C"), 1.0, 2.0), LD_OK);
    r = start(f, "free", 1000, 200, 0, &d);
    assert_int_equal(d.route, R(f, "D"));
    ld_req_free(r);
    assert_int_equal(ld_core_set_price(f->c, R(f, "D"), 1.0, 2.0), LD_OK);
    r = start(f, "free", 1000, 200, 0, &d);
    assert_int_equal(d.kind, LD_DO_FINISH);
    assert_int_equal(d.cls, LD_FC_BUDGET_EXCEEDED);
    ld_req_free(r);
    assert_int_equal(ld_core_set_price(f->c, R(f, "C"), -1, 2), LD_EINVAL);
    fx_free(f);
}

static void test_latency_ceiling_skips_slow_route(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    /* A's first tokens take 3 s, over the 2 s ceiling, for min_samples */
    for (int i = 0; i < 5; i++) {
        ld_do d;
        ld_req *r = start(f, "paid", 10, 10, ld_ms(i), &d);
        assert_int_equal(d.route, R(f, "A"));
        ld_req_first_token(r, d.attempt, ld_ms(i) + ld_ms(1900));
        ld_raw_result res = ok(10);
        ld_req_end(r, d.attempt, ld_ms(i) + ld_ms(2000), &res, &f->rng);
        ld_req_free(r);
    }
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, ld_s(1), &d);
    assert_int_equal(d.route, R(f, "A")); /* p90 1.9 s < 2 s */
    ld_req_free(r);
    fx_free(f);

    /* now every first token times out at the 2 s ceiling (a breaker that
     * waits for more calls keeps this about latency alone) */
    f = fx_new_rest(chat_workload,
                    "\"breaker\": {\"min_requests\": 100},"
                    "\"health\": {\"min_samples\": 5}");
    for (int i = 0; i < 5; i++) {
        ld_req *r2 = start(f, "paid", 10, 10, ld_ms(i), &d);
        ld_req_tick(r2, ld_ms(i) + ld_ms(2000), &f->rng); /* ttft timeout */
        ld_req_free(r2);
    }
    r = start(f, "paid", 10, 10, ld_s(1), &d);
    assert_int_equal(last_ev(&f->ev, LD_EV_SKIP)->cls, LD_FC_LATENCY_CEILING);
    assert_int_equal(d.route, R(f, "B")); /* latency_ceiling: * -> next */
    ld_req_free(r);
    fx_free(f);
}

/* ---- deadlines ---------------------------------------------------------- */

static void test_deadline_shortens_timeouts_down_the_ladder(void **state)
{
    (void)state;
    fx *f = fx_new(
        "\"workloads\": {\"w\": {\"constraints\": {\"ttft_ms\": 2000,"
        " \"total_ms\": 5000}, \"ladder\": [\"A\", \"B\", \"C\", \"D\"]}},");
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    ld_us expect_deadline[] = {ld_ms(2000), ld_ms(4000), ld_ms(5000)};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(d.kind, LD_DO_START);
        assert_int_equal(d.ttft_deadline, expect_deadline[i]);
        ld_req_tick(r, d.ttft_deadline, &f->rng);
        expect(r, LD_DO_CANCEL);
        assert_int_equal(ld_req_next(r, &d), 1);
    }
    /* three silent upstreams cost 5 s, not 6, and then it ends */
    assert_int_equal(d.kind, LD_DO_FINISH);
    assert_int_equal(d.outcome, LD_OUT_FAILED);
    ld_req_info info;
    ld_req_info_get(r, &info);
    assert_int_equal(info.latency, ld_ms(5000));
    assert_int_equal(info.attempts, 3);
    ld_req_free(r);
    fx_free(f);
}

static void test_without_ttft_limit_silent_routes_share_the_deadline(void **state)
{
    (void)state;
    fx *f = fx_new(
        "\"workloads\": {\"w\": {\"constraints\": {\"total_ms\": 30000},"
        " \"ladder\": [\"A\", \"B\", \"C\"]}},");
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    /* 30 s over 3 candidates: 10 s each */
    assert_int_equal(d.ttft_deadline, ld_s(10));
    ld_req_tick(r, ld_s(10), &f->rng);
    expect(r, LD_DO_CANCEL);
    d = expect(r, LD_DO_START);
    assert_int_equal(d.ttft_deadline, ld_s(20));
    ld_req_free(r);
    fx_free(f);
}

static void test_stall_after_first_token_fails_mid_stream(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    ld_req_first_token(r, d.attempt, ld_ms(300));
    ld_req_progress(r, d.attempt, ld_ms(800));
    assert_int_equal(ld_req_wake_at(r), ld_ms(1800));
    ld_req_tick(r, ld_ms(1800), &f->rng);
    expect(r, LD_DO_CANCEL);
    expect_mid_stream_failure(r, LD_FC_STREAM_STALL);
    ld_req_free(r);
    fx_free(f);
}

static void test_cut_stream_is_never_a_success(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    ld_req_first_token(r, d.attempt, ld_ms(300));
    ld_raw_result res = ok(40);
    res.transport = LD_TR_CUT;
    ld_req_end(r, d.attempt, ld_ms(700), &res, &f->rng);
    expect_mid_stream_failure(r, LD_FC_STREAM_CUT);
    ld_req_info info;
    ld_req_info_get(r, &info);
    assert_near(info.cost, 0, 0);
    ld_req_free(r);
    fx_free(f);
}

static void test_request_deadline_ends_a_slow_stream(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    ld_req_first_token(r, d.attempt, ld_ms(300));
    for (ld_us t = ld_ms(900); t < ld_ms(10000); t += ld_ms(900))
        ld_req_progress(r, d.attempt, t);
    assert_int_equal(ld_req_wake_at(r), ld_ms(10000));
    ld_req_tick(r, ld_ms(10000), &f->rng);
    expect(r, LD_DO_CANCEL);
    ld_do fin = expect(r, LD_DO_FINISH);
    assert_int_equal(fin.cls, LD_FC_TIMEOUT_TOTAL);
    assert_true(fin.mid_stream);
    ld_req_free(r);
    fx_free(f);
}

/* ---- continuing a cut stream --------------------------------------------- */

/* P and N take no prefill, Q and S (Anthropic) do. */
static const char resume_policy[] =
    "{\"routes\": {"
    " \"P\": {\"provider\": \"openai\", \"model\": \"p\", \"context_window\": 8000,"
    "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2},"
    "  \"capabilities\": [\"stream\"]},"
    " \"N\": {\"provider\": \"openai\", \"model\": \"n\", \"context_window\": 8000,"
    "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2},"
    "  \"capabilities\": [\"stream\"]},"
    " \"Q\": {\"provider\": \"anthropic\", \"model\": \"q\", \"context_window\": 8000,"
    "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2},"
    "  \"capabilities\": [\"stream\", \"prefill\"]},"
    " \"S\": {\"provider\": \"anthropic\", \"model\": \"s\", \"context_window\": 8000,"
    "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2},"
    "  \"capabilities\": [\"stream\", \"prefill\"]}},"
    "\"workloads\": {\"chat\": {"
    " \"constraints\": {\"ttft_ms\": 2000, \"total_ms\": 10000, \"stall_ms\": 1000},"
    " \"ladder\": [\"P\", \"N\", \"Q\", \"S\"], \"continue_streams\": %d,"
    " \"on\": {\"bad_request\": \"fail\", \"content_blocked\": \"fail\","
    "   \"*\": \"next\"}}},"
    "\"tiers\": {\"paid\": {}}}";

static fx *fx_resume(int continues)
{
    char text[4096];
    snprintf(text, sizeof text, resume_policy, continues);
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    ld_error err;
    if (ld_policy_parse(text, strlen(text), "resume.json", &f->p, &err) != LD_OK)
        fail_msg("policy: %s", err.msg);
    f->c = ld_core_new(f->p);
    assert_non_null(f->c);
    ld_core_set_sink(f->c, cap_sink, &f->ev);
    f->rng = test_rng_make(&f->trng);
    return f;
}

/* Which routes a cut stream may continue on: the core says (check asks
 * it), the prefill routes in candidate order, none without
 * continue_streams. */
static void test_continue_routes_are_the_prefill_candidates(void **state)
{
    (void)state;
    fx *f = fx_resume(1);
    int routes[8];
    int w = ld_policy_workload_index(f->p, "chat");
    assert_int_equal(ld_core_continue_routes(f->p, w, routes, 8), 2);
    assert_int_equal(routes[0], R(f, "Q"));
    assert_int_equal(routes[1], R(f, "S"));
    assert_int_equal(ld_core_continue_routes(f->p, w, routes, 1), 2);
    assert_int_equal(ld_core_continue_routes(f->p, 99, routes, 8), LD_EINVAL);
    fx_free(f);
    f = fx_resume(0);
    assert_int_equal(ld_core_continue_routes(f->p, w, routes, 8), 0);
    fx_free(f);
}

/* Start a request on P, stream its first token at 300 ms and cut it at
 * 700 ms (with `transport`, or an HTTP status when transport is OK). */
static ld_req *cut_on_p(fx *f, ld_transport transport, int status_code)
{
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    assert_int_equal(d.route, R(f, "P"));
    assert_false(d.resume);
    ld_req_first_token(r, d.attempt, ld_ms(300));
    ld_raw_result res = ok(4);
    res.transport = transport;
    if (status_code != 0)
        res.http_status = status_code;
    ld_req_end(r, d.attempt, ld_ms(700), &res, &f->rng);
    return r;
}

static void test_cut_stream_continues_on_a_route_that_takes_prefill(void **state)
{
    (void)state;
    fx *f = fx_resume(1);
    ld_req *r = cut_on_p(f, LD_TR_CUT, 0);
    ld_do d = expect(r, LD_DO_START);
    assert_int_equal(d.route, R(f, "Q")); /* N takes no prefill */
    assert_true(d.resume);
    expect_none(r);
    const ld_event *skip = last_ev(&f->ev, LD_EV_SKIP);
    assert_non_null(skip);
    assert_int_equal(skip->route, R(f, "N"));
    assert_int_equal(skip->cls, LD_FC_CAPABILITY_MISSING);
    const ld_event *cut = last_ev(&f->ev, LD_EV_RESULT);
    assert_int_equal(cut->route, R(f, "P"));
    assert_int_equal(cut->cls, LD_FC_STREAM_CUT);
    /* the fallback names the last route passed over, as everywhere */
    const ld_event *fb = last_ev(&f->ev, LD_EV_FALLBACK);
    assert_non_null(fb);
    assert_int_equal(fb->route, R(f, "N"));
    assert_int_equal(fb->to_route, R(f, "Q"));
    assert_true(fb->resume);
    assert_true(last_ev(&f->ev, LD_EV_ATTEMPT)->resume);

    ld_req_first_token(r, d.attempt, ld_ms(900));
    ld_raw_result res = ok(6);
    ld_req_end(r, d.attempt, ld_ms(1200), &res, &f->rng);
    ld_do fin = expect(r, LD_DO_FINISH);
    assert_int_equal(fin.outcome, LD_OUT_SUCCESS);
    assert_int_equal(fin.route, R(f, "Q"));
    assert_int_equal(fin.cls, LD_FC_STREAM_CUT); /* what it fell back for */
    ld_req_info info;
    ld_req_info_get(r, &info);
    assert_int_equal(info.ttft, ld_ms(300)); /* the user's first token */
    assert_true(info.fell_back);
    assert_int_equal(info.attempts, 2);
    ld_req_free(r);
    fx_free(f);
}

static void test_refused_prefill_reports_the_cut_not_the_refusal(void **state)
{
    (void)state;
    fx *f = fx_resume(1);
    ld_req *r = cut_on_p(f, LD_TR_MALFORMED, 0);
    ld_do d = expect(r, LD_DO_START);
    assert_true(d.resume);
    ld_raw_result res = status(400);
    res.error_message = "prefill is not supported";
    ld_req_end(r, d.attempt, ld_ms(900), &res, &f->rng);
    expect_mid_stream_failure(r, LD_FC_INVALID_RESPONSE);
    assert_int_equal(last_ev(&f->ev, LD_EV_DONE)->cls, LD_FC_INVALID_RESPONSE);
    ld_req_free(r);
    fx_free(f);
}

static void test_a_second_cut_past_the_allowance_fails_with_its_class(void **state)
{
    (void)state;
    fx *f = fx_resume(1);
    ld_req *r = cut_on_p(f, LD_TR_CUT, 0);
    ld_do d = expect(r, LD_DO_START);
    ld_req_first_token(r, d.attempt, ld_ms(900));
    ld_raw_result res = ok(3);
    res.transport = LD_TR_MALFORMED;
    ld_req_end(r, d.attempt, ld_ms(1000), &res, &f->rng);
    expect_mid_stream_failure(r, LD_FC_INVALID_RESPONSE);
    expect_none(r);
    ld_req_free(r);
    fx_free(f);
}

static void test_continuation_is_off_unless_the_workload_allows_it(void **state)
{
    (void)state;
    fx *f = fx_resume(0);
    ld_req *r = cut_on_p(f, LD_TR_CUT, 0);
    expect_mid_stream_failure(r, LD_FC_STREAM_CUT);
    assert_int_equal(count_ev(&f->ev, LD_EV_ATTEMPT), 1);
    ld_req_free(r);
    fx_free(f);
}

static void test_blocked_content_mid_stream_is_never_continued(void **state)
{
    (void)state;
    fx *f = fx_resume(2);
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    ld_req_first_token(r, d.attempt, ld_ms(300));
    /* an error event inside the stream that names a content filter */
    ld_raw_result res = status(400);
    res.error_code = "content_filter";
    ld_req_end(r, d.attempt, ld_ms(500), &res, &f->rng);
    expect_mid_stream_failure(r, LD_FC_CONTENT_BLOCKED);
    ld_req_free(r);
    fx_free(f);
}

static void test_two_continuations_finish_an_answer_cut_twice(void **state)
{
    (void)state;
    fx *f = fx_resume(2);
    ld_req *r = cut_on_p(f, LD_TR_CUT, 0);
    ld_do d = expect(r, LD_DO_START);
    assert_int_equal(d.route, R(f, "Q"));
    ld_req_first_token(r, d.attempt, ld_ms(900));
    ld_raw_result res = ok(3);
    res.transport = LD_TR_CUT;
    ld_req_end(r, d.attempt, ld_ms(1000), &res, &f->rng);
    d = expect(r, LD_DO_START);
    assert_int_equal(d.route, R(f, "S"));
    assert_true(d.resume);
    ld_req_first_token(r, d.attempt, ld_ms(1300));
    res = ok(5);
    ld_req_end(r, d.attempt, ld_ms(1500), &res, &f->rng);
    ld_do fin = expect(r, LD_DO_FINISH);
    assert_int_equal(fin.outcome, LD_OUT_SUCCESS);
    assert_int_equal(fin.route, R(f, "S"));
    ld_req_info info;
    ld_req_info_get(r, &info);
    assert_int_equal(info.attempts, 3);
    assert_int_equal(info.ttft, ld_ms(300));
    ld_req_free(r);
    fx_free(f);
}

/* ---- hedging ------------------------------------------------------------ */

static const char hedge_fixed[] =
    "\"workloads\": {\"w\": {\"constraints\": {\"ttft_ms\": 2000,"
    " \"total_ms\": 10000}, \"ladder\": [\"A\", \"B\", \"C\"],"
    " \"hedge\": {\"after_ms\": 300, \"max_extra\": 1}}},";

static void test_hedge_starts_after_fixed_delay_and_first_answer_wins(void **state)
{
    (void)state;
    fx *f = fx_new(hedge_fixed);
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    assert_int_equal(ld_req_wake_at(r), ld_ms(300));
    ld_req_tick(r, ld_ms(300), &f->rng);
    ld_do h = expect(r, LD_DO_START);
    assert_true(h.hedge);
    assert_int_equal(h.route, R(f, "B"));
    assert_int_equal(count_ev(&f->ev, LD_EV_HEDGE), 1);
    /* the hedge answers first: the primary is cancelled */
    ld_req_first_token(r, h.attempt, ld_ms(500));
    ld_do c = expect(r, LD_DO_CANCEL);
    assert_int_equal(c.attempt, d.attempt);
    assert_int_equal(last_ev(&f->ev, LD_EV_CANCEL)->reason, LD_CANCEL_HEDGE_LOST);
    ld_raw_result res = ok(10);
    ld_req_end(r, h.attempt, ld_ms(600), &res, &f->rng);
    ld_do fin = expect(r, LD_DO_FINISH);
    assert_int_equal(fin.route, R(f, "B"));
    ld_req_info info;
    ld_req_info_get(r, &info);
    assert_int_equal(info.hedges, 1);
    assert_int_equal(info.attempts, 2);
    ld_req_free(r);
    fx_free(f);
}

/* The most actions one core call leaves for the host: four attempts in
 * flight (one and three hedges) ended by the request's deadline, or by the
 * user leaving: four cancels and the finish, none lost. */
static void test_the_largest_batch_of_actions_is_delivered_whole(void **state)
{
    (void)state;
    static const char four[] =
        "\"workloads\": {\"w\": {\"constraints\": {\"ttft_ms\": 5000,"
        " \"total_ms\": 10000}, \"ladder\": [\"A\", \"B\", \"C\", \"D\"],"
        " \"hedge\": {\"after_ms\": 100, \"max_extra\": 3}}},";
    fx *f = fx_new(four);
    for (int abandon = 0; abandon <= 1; abandon++) {
        ld_do d;
        ld_us t0 = ld_s(20) * abandon;
        ld_req *r = start(f, "paid", 10, 10, t0, &d);
        for (int i = 1; i <= 3; i++) {
            ld_req_tick(r, t0 + ld_ms(100) * i, &f->rng);
            assert_true(expect(r, LD_DO_START).hedge);
        }
        if (abandon)
            ld_req_abandon(r, t0 + ld_s(1));
        else
            ld_req_tick(r, t0 + ld_s(10), &f->rng);
        for (int i = 0; i < 4; i++)
            expect(r, LD_DO_CANCEL);
        ld_do fin = expect(r, LD_DO_FINISH);
        assert_int_equal(fin.outcome, abandon ? LD_OUT_ABANDONED : LD_OUT_FAILED);
        expect_none(r);
        ld_req_free(r);
    }
    fx_free(f);
}

static void test_hedge_loser_is_cancelled_when_primary_wins(void **state)
{
    (void)state;
    fx *f = fx_new(hedge_fixed);
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    ld_req_tick(r, ld_ms(300), &f->rng);
    ld_do h = expect(r, LD_DO_START);
    ld_req_first_token(r, d.attempt, ld_ms(350));
    ld_do c = expect(r, LD_DO_CANCEL);
    assert_int_equal(c.attempt, h.attempt);
    /* no second hedge: only the stream's deadline remains to watch (the
     * 10 s stall limit ends later than the request's 10 s deadline) */
    assert_int_equal(ld_req_wake_at(r), ld_s(10));
    assert_int_equal(count_ev(&f->ev, LD_EV_HEDGE), 1);
    ld_req_free(r);
    fx_free(f);
}

static void test_no_hedge_once_first_token_arrived(void **state)
{
    (void)state;
    fx *f = fx_new(hedge_fixed);
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    ld_req_first_token(r, d.attempt, ld_ms(100));
    ld_req_tick(r, ld_ms(300), &f->rng);
    expect_none(r);
    assert_int_equal(count_ev(&f->ev, LD_EV_HEDGE), 0);
    ld_req_free(r);
    fx_free(f);
}

static void test_hedge_delay_follows_observed_ttft_quantile(void **state)
{
    (void)state;
    fx *f = fx_new(
        "\"workloads\": {\"w\": {\"constraints\": {\"ttft_ms\": 5000,"
        " \"total_ms\": 10000}, \"ladder\": [\"A\", \"B\"],"
        " \"hedge\": {\"after\": \"p95_ttft\", \"after_ms\": 1000}}},");
    ld_do d;
    /* cold: the fallback delay */
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    assert_int_equal(ld_req_wake_at(r), ld_ms(1000));
    ld_req_free(r);
    for (int i = 0; i < 40; i++)
        succeed_once(f, "paid", ld_ms(i), ld_ms(200));
    r = start(f, "paid", 10, 10, ld_ms(100), &d);
    ld_us at = ld_req_wake_at(r) - ld_ms(100);
    assert_true(at >= ld_ms(190) && at <= ld_ms(210));
    ld_req_free(r);
    fx_free(f);
}

/* ---- retry budget ------------------------------------------------------- */

static void test_retry_budget_exhaustion_skips_retries(void **state)
{
    (void)state;
    fx *f = fx_new_rest(
        "\"workloads\": {\"w\": {\"constraints\": {\"total_ms\": 60000},"
        " \"ladder\": [\"A\", \"B\"], \"on\": {\"server_error\":"
        " {\"action\": \"retry\", \"max\": 1, \"backoff_ms\": 10}}}},",
        "\"retry_budget\": {\"ratio\": 0.25, \"min_per_s\": 0,"
        " \"window_s\": 10}");
    /* 8 requests all failing on A: only 25% of them may retry */
    int retried = 0, fell = 0;
    ld_req *reqs[8];
    for (int i = 0; i < 8; i++) {
        ld_do d;
        reqs[i] = start(f, NULL, 10, 10, ld_ms(i), &d);
    }
    for (int i = 0; i < 8; i++) {
        ld_raw_result res = status(500);
        ld_req_end(reqs[i], 1, ld_ms(10 + i), &res, &f->rng);
        ld_do d;
        if (ld_req_next(reqs[i], &d) == 1) {
            assert_int_equal(d.kind, LD_DO_START);
            assert_int_equal(d.route, R(f, "B"));
            fell++;
        } else {
            retried++;
        }
        ld_req_free(reqs[i]);
    }
    assert_int_equal(retried, 2);
    assert_int_equal(fell, 6);
    fx_free(f);
}

/* ---- shared health ------------------------------------------------------ */

static int breaker_events(const cap *c, int route, ld_breaker_state to);

static void test_a_rate_limit_emits_a_block_event(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 100, 100, 0, &d);
    ld_raw_result res = rate_limited(ld_s(30));
    ld_req_end(r, d.attempt, ld_ms(5), &res, &f->rng);
    const ld_event *b = last_ev(&f->ev, LD_EV_BLOCK);
    assert_non_null(b);
    assert_int_equal(b->route, R(f, "A"));
    assert_int_equal(b->cls, LD_FC_RATE_LIMITED);
    assert_int_equal(b->delay, ld_s(30));
    assert_false(b->shared);
    assert_int_equal(b->req, 1);
    ld_req_free(r);
    /* a shorter Retry-After within the block: nothing new to tell */
    r = start(f, "paid", 100, 100, ld_s(1), &d);
    assert_int_equal(d.route, R(f, "B"));
    ld_req_free(r);
    assert_int_equal(count_ev(&f->ev, LD_EV_BLOCK), 1);
    fx_free(f);
}

static void test_a_shared_block_skips_the_route_until_it_ends(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    assert_int_equal(ld_core_block_route(f->c, R(f, "A"), LD_FC_RATE_LIMITED,
                                         ld_s(20), ld_s(1)),
                     LD_OK);
    const ld_event *b = last_ev(&f->ev, LD_EV_BLOCK);
    assert_non_null(b);
    assert_true(b->shared);
    assert_int_equal(b->delay, ld_s(19));
    assert_int_equal(b->req, 0);
    /* an earlier end than what is known changes nothing */
    assert_int_equal(ld_core_block_route(f->c, R(f, "A"), LD_FC_RATE_LIMITED,
                                         ld_s(10), ld_s(1)),
                     LD_OK);
    assert_int_equal(count_ev(&f->ev, LD_EV_BLOCK), 1);
    ld_do d;
    ld_req *r = start(f, "paid", 100, 100, ld_s(2), &d);
    assert_int_equal(d.route, R(f, "B"));
    assert_int_equal(last_ev(&f->ev, LD_EV_SKIP)->cls, LD_FC_RATE_LIMITED);
    ld_req_free(r);
    r = start(f, "paid", 100, 100, ld_s(20), &d);
    assert_int_equal(d.route, R(f, "A"));
    ld_req_free(r);
    /* quota blocks report their class; other classes are refused */
    assert_int_equal(ld_core_block_route(f->c, R(f, "B"), LD_FC_QUOTA_EXHAUSTED,
                                         ld_s(100), ld_s(21)),
                     LD_OK);
    r = start(f, "paid", 100, 100, ld_s(22), &d);
    assert_int_equal(d.route, R(f, "A"));
    ld_req_free(r);
    assert_int_equal(ld_core_block_route(f->c, R(f, "A"), LD_FC_SERVER_ERROR,
                                         ld_s(100), ld_s(21)),
                     LD_EINVAL);
    assert_int_equal(ld_core_block_route(f->c, 99, LD_FC_RATE_LIMITED,
                                         ld_s(100), ld_s(21)),
                     LD_EINVAL);
    fx_free(f);
}

static void test_a_shared_breaker_opening_keeps_the_peer_s_clock(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload); /* A's breaker stays open 10 s */
    /* a peer's breaker opened 4 s ago: open here for the 6 s left */
    assert_int_equal(ld_core_trip_breaker(f->c, R(f, "A"), ld_s(1), ld_s(5)),
                     LD_OK);
    assert_int_equal(breaker_events(&f->ev, R(f, "A"), LD_BREAKER_OPEN), 1);
    assert_true(last_ev(&f->ev, LD_EV_BREAKER)->shared);
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, ld_s(10), &d);
    assert_int_equal(d.route, R(f, "B"));
    assert_int_equal(last_ev(&f->ev, LD_EV_SKIP)->cls, LD_FC_CIRCUIT_OPEN);
    ld_req_free(r);
    r = start(f, "paid", 10, 10, ld_s(11), &d);
    assert_int_equal(d.route, R(f, "A")); /* the half-open probe */
    ld_req_free(r);
    /* news older than the open period, or from the future, do nothing */
    int before = f->ev.n;
    assert_int_equal(ld_core_trip_breaker(f->c, R(f, "B"), ld_s(0), ld_s(12)),
                     LD_OK);
    assert_int_equal(f->ev.n, before);
    assert_int_equal(ld_core_trip_breaker(f->c, R(f, "B"), ld_s(13), ld_s(12)),
                     LD_EINVAL);
    fx_free(f);
}

/* When could a request succeed again: 0 while a route is open to calls,
 * else the soonest a block lifts or a breaker turns half-open. */
static void test_retry_hint_counts_blocks_and_open_breakers(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload); /* chat uses A, B, C and D; breakers 10 s */
    int w = ld_policy_workload_index(f->p, "chat");
    assert_int_equal(ld_core_retry_hint(f->c, w, 0), 0);
    assert_int_equal(ld_core_trip_breaker(f->c, R(f, "A"), 0, 0), LD_OK);
    assert_int_equal(ld_core_trip_breaker(f->c, R(f, "B"), ld_s(2), ld_s(2)), LD_OK);
    assert_int_equal(ld_core_retry_hint(f->c, w, ld_s(2)), 0); /* C, D free */
    assert_int_equal(ld_core_block_route(f->c, R(f, "C"), LD_FC_RATE_LIMITED,
                                         ld_s(30), ld_s(2)), LD_OK);
    assert_int_equal(ld_core_block_route(f->c, R(f, "D"), LD_FC_QUOTA_EXHAUSTED,
                                         ld_s(20), ld_s(2)), LD_OK);
    /* A's breaker turns half-open at 10 s: the soonest of all */
    assert_int_equal(ld_core_retry_hint(f->c, w, ld_s(3)), ld_s(7));
    /* at 10 s, A admits a probe */
    assert_int_equal(ld_core_retry_hint(f->c, w, ld_s(10)), 0);
    /* the default workload (-1) is chat here */
    assert_int_equal(ld_core_retry_hint(f->c, -1, ld_s(10)), 0);
    fx_free(f);
}

/* ---- breaker ------------------------------------------------------------ */

static void fail_on_A(fx *f, ld_us now)
{
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, now, &d);
    assert_int_equal(d.route, R(f, "A"));
    ld_raw_result res = status(503);
    ld_req_end(r, d.attempt, now, &res, &f->rng);
    ld_req_free(r);
}

static int breaker_events(const cap *c, int route, ld_breaker_state to)
{
    int n = 0;
    for (int i = 0; i < c->n; i++)
        n += c->ev[i].type == LD_EV_BREAKER && c->ev[i].route == route &&
             c->ev[i].to == to;
    return n;
}

static void test_breaker_opens_and_requests_skip_the_route(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    for (int i = 0; i < 4; i++)
        fail_on_A(f, ld_ms(i));
    assert_int_equal(breaker_events(&f->ev, R(f, "A"), LD_BREAKER_OPEN), 1);
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, ld_s(1), &d);
    assert_int_equal(d.route, R(f, "B"));
    assert_int_equal(last_ev(&f->ev, LD_EV_SKIP)->cls, LD_FC_CIRCUIT_OPEN);
    ld_req_free(r);
    ld_route_health h;
    ld_core_route_health(f->c, R(f, "A"), ld_s(1), &h);
    assert_int_equal(h.breaker, LD_BREAKER_OPEN);
    fx_free(f);
}

static void test_breaker_half_open_probe_success_closes_it(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    for (int i = 0; i < 4; i++)
        fail_on_A(f, 0);
    /* open for 10 s; at 10 s one probe goes through */
    ld_do d;
    ld_req *probe = start(f, "paid", 10, 10, ld_s(10), &d);
    assert_int_equal(d.route, R(f, "A"));
    assert_int_equal(breaker_events(&f->ev, R(f, "A"), LD_BREAKER_HALF_OPEN), 1);
    /* while the probe runs, others go elsewhere */
    ld_req *other = start(f, "paid", 10, 10, ld_s(10), &d);
    assert_int_equal(d.route, R(f, "B"));
    ld_req_free(other);
    ld_raw_result res = ok(10);
    ld_req_end(probe, 1, ld_s(10) + ld_ms(500), &res, &f->rng);
    assert_int_equal(breaker_events(&f->ev, R(f, "A"), LD_BREAKER_CLOSED), 1);
    ld_req_free(probe);
    other = start(f, "paid", 10, 10, ld_s(11), &d);
    assert_int_equal(d.route, R(f, "A"));
    ld_req_free(other);
    fx_free(f);
}

static void test_breaker_half_open_probe_failure_reopens_it(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    for (int i = 0; i < 4; i++)
        fail_on_A(f, 0);
    fail_on_A(f, ld_s(10)); /* the probe fails */
    assert_int_equal(breaker_events(&f->ev, R(f, "A"), LD_BREAKER_OPEN), 2);
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, ld_s(15), &d);
    assert_int_equal(d.route, R(f, "B"));
    ld_req_free(r);
    r = start(f, "paid", 10, 10, ld_s(20), &d);
    assert_int_equal(d.route, R(f, "A"));
    ld_req_free(r);
    fx_free(f);
}

static void test_client_errors_do_not_open_the_breaker(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    for (int i = 0; i < 10; i++) {
        ld_do d;
        ld_req *r = start(f, "paid", 10, 10, ld_ms(i), &d);
        ld_raw_result res = status(400);
        res.error_code = "content_policy_violation";
        ld_req_end(r, d.attempt, ld_ms(i), &res, &f->rng);
        ld_req_free(r);
    }
    assert_int_equal(count_ev(&f->ev, LD_EV_BREAKER), 0);
    fx_free(f);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void test_abandon_cancels_attempts_in_flight(void **state)
{
    (void)state;
    fx *f = fx_new(hedge_fixed);
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    ld_req_tick(r, ld_ms(300), &f->rng);
    expect(r, LD_DO_START);
    assert_int_equal(ld_req_abandon(r, ld_ms(400)), LD_OK);
    expect(r, LD_DO_CANCEL);
    expect(r, LD_DO_CANCEL);
    ld_do fin = expect(r, LD_DO_FINISH);
    assert_int_equal(fin.outcome, LD_OUT_ABANDONED);
    assert_int_equal(fin.client_status, 499); /* as HTTP servers log it */
    assert_int_equal(last_ev(&f->ev, LD_EV_DONE)->status, 499);
    assert_int_equal(ld_req_abandon(r, ld_ms(500)), LD_ESTATE);
    ld_route_health h;
    ld_core_route_health(f->c, R(f, "A"), ld_ms(500), &h);
    assert_int_equal(h.in_flight, 0);
    ld_req_free(r);
    fx_free(f);
}

/* A small LCG for scripted randomness in the property tests. */
static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* Drive n requests through random outcomes; every request must end exactly
 * once. Returns a hash of the event stream. */
static uint64_t random_run(fx *f, uint64_t seed, int n)
{
    uint64_t s = seed, hash = 1469598103934665603ULL;
    ld_us now = 0;
    for (int i = 0; i < n; i++) {
        now += (ld_us)(lcg(&s) % 20000);
        ld_req_spec spec = {.workload = -1, .tier = (int)(lcg(&s) % 4),
                            .input_tokens = (int64_t)(lcg(&s) % 9000),
                            .output_tokens = (int64_t)(lcg(&s) % 500)};
        ld_req *r;
        assert_int_equal(ld_req_start(f->c, &spec, now, &f->rng, &r), LD_OK);
        int finishes = 0;
        uint32_t live[8];
        int nlive = 0;
        for (int steps = 0; steps < 200 && finishes == 0; steps++) {
            ld_do d;
            while (ld_req_next(r, &d) == 1) {
                if (d.kind == LD_DO_START && nlive < 8)
                    live[nlive++] = d.attempt;
                if (d.kind == LD_DO_CANCEL)
                    for (int k = 0; k < nlive; k++)
                        if (live[k] == d.attempt)
                            live[k] = live[--nlive];
                if (d.kind == LD_DO_FINISH)
                    finishes++;
            }
            if (finishes)
                break;
            uint64_t pick = lcg(&s) % 10;
            if (nlive > 0 && pick < 7) {
                uint32_t a = live[lcg(&s) % (uint64_t)nlive];
                now += (ld_us)(lcg(&s) % 3000000);
                static const int statuses[] = {200, 200, 200, 429, 500, 503,
                                               400, 529, 401, 0};
                ld_raw_result res = status(statuses[lcg(&s) % 10]);
                if (res.http_status == 0)
                    res.transport = LD_TR_RESET;
                if (res.http_status == 429)
                    res.retry_after = (ld_us)(lcg(&s) % 3000000);
                if (lcg(&s) % 2)
                    ld_req_first_token(r, a, now);
                ld_req_end(r, a, now, &res, &f->rng);
                for (int k = 0; k < nlive; k++)
                    if (live[k] == a)
                        live[k] = live[--nlive];
            } else if (pick < 9) {
                ld_us w = ld_req_wake_at(r);
                if (w != LD_NEVER) {
                    now = w > now ? w : now;
                    ld_req_tick(r, now, &f->rng);
                }
            } else {
                ld_req_abandon(r, now);
            }
        }
        assert_int_equal(finishes, 1);
        ld_req_free(r);
    }
    for (int i = 0; i < f->ev.n; i++) {
        const ld_event *e = &f->ev.ev[i];
        uint64_t v[] = {(uint64_t)e->type, (uint64_t)e->t, e->req,
                        (uint64_t)(int64_t)e->route, (uint64_t)(int64_t)e->cls,
                        (uint64_t)(int64_t)e->to_route};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
            hash = (hash ^ v[k]) * 1099511628211ULL;
    }
    return hash;
}

static void test_every_request_ends_in_exactly_one_outcome(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        fx *f = fx_new(chat_workload);
        double u[] = {0.1, 0.7, 0.4, 0.9};
        f->trng.values = u;
        f->trng.n = 4;
        random_run(f, seed, 60);
        int requests = count_ev(&f->ev, LD_EV_REQUEST);
        if (f->ev.n < MAX_EV)
            assert_int_equal(count_ev(&f->ev, LD_EV_DONE), requests);
        fx_free(f);
    }
}

static void test_same_seed_gives_same_decisions(void **state)
{
    (void)state;
    uint64_t h[2];
    for (int k = 0; k < 2; k++) {
        fx *f = fx_new(hedge_fixed);
        double u[] = {0.3, 0.6};
        f->trng.values = u;
        f->trng.n = 2;
        h[k] = random_run(f, 42, 80);
        fx_free(f);
    }
    assert_true(h[0] == h[1]);
    fx *f = fx_new(hedge_fixed);
    uint64_t other = random_run(f, 43, 80);
    fx_free(f);
    assert_true(other != h[0]);
}

static void test_pool_reuses_requests_without_growing(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_req *first = NULL;
    for (int i = 0; i < 1000; i++) {
        ld_do d;
        ld_req *r = start(f, "paid", 10, 10, ld_ms(i), &d);
        if (first == NULL)
            first = r;
        else
            assert_ptr_equal(r, first); /* the freed slot comes back */
        ld_req_free(r);
    }
    fx_free(f);
}

/* ---- client keys (ld_req_start_keyed) ---------------------------------- */

static ld_req *start_keyed(fx *f, ld_quota *q, ld_us wall, ld_us now,
                           ld_do *first)
{
    ld_req_spec spec = {.workload = -1, .tier = T(f, "paid"),
                        .input_tokens = 1000, .output_tokens = 1000};
    ld_req_key key = {q, 0, wall};
    ld_req *r = NULL;
    assert_int_equal(ld_req_start_keyed(f->c, &spec, &key, now, &f->rng, &r),
                     LD_OK);
    assert_int_equal(ld_req_next(r, first), 1);
    return r;
}

static void test_keyed_request_over_its_rpm_fails_before_any_attempt(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_key_limits lim = {2, 0, 0, 0};
    ld_quota *q = ld_quota_new(1, &lim);
    ld_us wall = ld_s(1800000000) + ld_s(15); /* 15 s into a minute */
    ld_do d;
    for (int i = 0; i < 2; i++) {
        ld_req *r = start_keyed(f, q, wall, ld_ms(i), &d);
        assert_int_equal(d.kind, LD_DO_START);
        ld_req_free(r);
    }
    int starts = count_ev(&f->ev, LD_EV_ATTEMPT);
    ld_req *r = start_keyed(f, q, wall, ld_ms(5), &d);
    assert_int_equal(d.kind, LD_DO_FINISH);
    assert_int_equal(d.outcome, LD_OUT_FAILED);
    assert_int_equal(d.cls, LD_FC_KEY_LIMIT);
    assert_int_equal(d.status, 429);
    assert_int_equal(d.key_limit, LD_QUOTA_RPM);
    assert_int_equal(d.retry_after, ld_s(45));
    assert_int_equal(count_ev(&f->ev, LD_EV_ATTEMPT), starts);
    assert_int_equal(last_ev(&f->ev, LD_EV_DONE)->cls, LD_FC_KEY_LIMIT);
    ld_req_info info;
    ld_req_info_get(r, &info);
    assert_int_equal(info.attempts, 0);
    assert_int_equal(info.key_limit, LD_QUOTA_RPM);
    ld_req_free(r);
    ld_quota_free(q);
    fx_free(f);
}

static void test_keyed_request_settles_its_cost_into_the_day(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_key_limits lim = {0, 0, 1.0, 0};
    ld_quota *q = ld_quota_new(1, &lim);
    ld_us wall = ld_s(1800000000);
    ld_do d;
    ld_req *r = start_keyed(f, q, wall, 0, &d);
    assert_int_equal(d.kind, LD_DO_START);
    ld_quota_usage u;
    ld_quota_usage_get(q, 0, wall, &u);
    /* estimate on A: 1000 * 10 + 1000 * 30 per million */
    assert_near(u.usd_day, 0.04, 1e-9);
    ld_raw_result ok = status(200);
    ok.completion_tokens = 100;
    assert_int_equal(ld_req_end(r, d.attempt, ld_ms(100), &ok, &f->rng), LD_OK);
    ld_req_info info;
    ld_req_info_get(r, &info);
    assert_int_equal(info.outcome, LD_OUT_SUCCESS);
    ld_quota_usage_get(q, 0, wall, &u);
    assert_near(u.usd_day, info.cost, 1e-12);
    assert_near(u.usd_day, (1000 * 10 + 100 * 30) / 1e6, 1e-12);
    assert_int_equal(u.tokens, 1100);
    ld_req_free(r);
    ld_quota_free(q);
    fx_free(f);
}

/* A reload while a keyed request is in flight: it settles its cost in the
 * new keys' quota (which adopted what it took), at the key's new index. */
static void test_a_rekeyed_request_settles_in_the_new_quota(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_key_limits lim = {0, 0, 1.0, 0};
    ld_quota *q = ld_quota_new(1, &lim);
    ld_us wall = ld_s(1800000000);
    ld_do d;
    ld_req *r = start_keyed(f, q, wall, 0, &d);
    assert_int_equal(d.kind, LD_DO_START);
    /* the new keys file has another key first */
    ld_key_limits l2[2] = {{0, 0, 0, 0}, {0, 0, 1.0, 0}};
    ld_quota *nq = ld_quota_new(2, l2);
    assert_int_equal(ld_quota_adopt(nq, 1, q, 0), LD_OK);
    assert_int_equal(ld_req_rekey(r, nq, 1), LD_OK);
    ld_raw_result ok = status(200);
    ok.completion_tokens = 100;
    assert_int_equal(ld_req_end(r, d.attempt, ld_ms(100), &ok, &f->rng), LD_OK);
    ld_quota_usage u;
    ld_quota_usage_get(nq, 1, wall, &u);
    assert_near(u.usd_day, (1000 * 10 + 100 * 30) / 1e6, 1e-12);
    ld_quota_usage_get(q, 0, wall, &u);
    assert_near(u.usd_day, 0.04, 1e-9); /* the old one kept the estimate */
    assert_int_equal(ld_req_rekey(NULL, nq, 0), LD_EINVAL);
    ld_req_free(r);
    ld_quota_free(nq);
    ld_quota_free(q);
    fx_free(f);
}

static void test_explain_follows_runtime_decisions(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_explain x;
    int w = 0, paid = T(f, "paid");
    assert_int_equal(ld_explain_class(f->p, w, paid, LD_FC_SERVER_ERROR, 100,
                                      100, &x), LD_OK);
    assert_int_equal(x.primary, R(f, "A"));
    assert_int_equal(x.final_route, R(f, "B"));
    assert_true(x.designed);
    assert_false(x.dead_end);
    assert_int_equal(x.steps[0].type, LD_EV_RETRY);
    assert_int_equal(ld_explain_class(f->p, w, paid, LD_FC_CONTEXT_LENGTH, 100,
                                      100, &x), LD_OK);
    assert_int_equal(x.final_route, R(f, "B"));
    assert_int_equal(ld_explain_class(f->p, w, T(f, "eu"), LD_FC_OVERLOADED,
                                      100, 100, &x), LD_OK);
    assert_int_equal(x.final_route, R(f, "B"));
    assert_int_equal(ld_explain_class(f->p, w, paid, LD_FC_CONTENT_BLOCKED,
                                      100, 100, &x), LD_OK);
    assert_int_equal(x.final_route, -1);
    assert_false(x.dead_end); /* the rule says fail: designed */
    /* larger windows exist (B, C, D) but none meets the 0.88 floor */
    assert_int_equal(ld_explain_class(f->p, w, T(f, "picky"),
                                      LD_FC_CONTEXT_LENGTH, 100, 100, &x),
                     LD_OK);
    assert_int_equal(x.final_route, -1);
    assert_true(x.dead_end);
    assert_false(x.inherent);
    /* from B (200k, the largest) nothing could ever be larger */
    fx_free(f);
    f = fx_new(
        "\"workloads\": {\"w\": {\"ladder\": [\"B\", \"A\"],"
        " \"on\": {\"context_length\": \"next_larger_context\"}}},");
    assert_int_equal(ld_explain_class(f->p, 0, T(f, "paid"),
                                      LD_FC_CONTEXT_LENGTH, 100, 100, &x),
                     LD_OK);
    assert_false(x.dead_end);
    assert_true(x.inherent);
    assert_int_equal(ld_explain_class(f->p, 5, paid, LD_FC_RESET, 1, 1, &x),
                     LD_EINVAL);
    fx_free(f);
}

/* ---- a policy reload: health carried to the new core ----------------------- */

/* The base policy with its routes replaced (same workloads and settings). */
static ld_core *core_for(const char *routes, ld_policy **p, cap *ev)
{
    char text[8192];
    snprintf(text, sizeof text, "{%s%s%s}", routes, chat_workload, base_rest);
    ld_error err;
    if (ld_policy_parse(text, strlen(text), "new.json", p, &err) != LD_OK)
        fail_msg("policy: %s", err.msg);
    ld_core *c = ld_core_new(*p);
    assert_non_null(c);
    ld_core_set_sink(c, cap_sink, ev);
    return c;
}

/* The same routes in another order, B on another model, E new. */
static const char reload_routes[] =
    "\"routes\": {"
    " \"D\": {\"provider\": \"openai\", \"model\": \"d\","
    "  \"price\": {\"input_per_mtok\": 0.5, \"output_per_mtok\": 1},"
    "  \"quality\": 0.7, \"regions\": [\"us\"], \"context_window\": 16000},"
    " \"E\": {\"provider\": \"openai\", \"model\": \"e\","
    "  \"price\": {\"input_per_mtok\": 0.5, \"output_per_mtok\": 1},"
    "  \"quality\": 0.7, \"regions\": [\"us\"], \"context_window\": 16000},"
    " \"C\": {\"provider\": \"openai\", \"model\": \"c\","
    "  \"price\": {\"input_per_mtok\": 0.1, \"output_per_mtok\": 0.2},"
    "  \"quality\": 0.6, \"regions\": [\"us\"], \"context_window\": 32000},"
    " \"B\": {\"provider\": \"anthropic\", \"model\": \"b-next\","
    "  \"price\": {\"input_per_mtok\": 3, \"output_per_mtok\": 15},"
    "  \"quality\": 0.85, \"regions\": [\"eu\"], \"context_window\": 200000,"
    "  \"capabilities\": [\"stream\", \"tools\"]},"
    " \"A\": {\"provider\": \"openai\", \"model\": \"a\","
    "  \"price\": {\"input_per_mtok\": 10, \"output_per_mtok\": 30},"
    "  \"quality\": 0.9, \"regions\": [\"us\", \"eu\"], \"context_window\": 8000,"
    "  \"capabilities\": [\"stream\", \"tools\"]}"
    "},";

static void test_reload_carries_health_by_route_id_and_upstream(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    /* the old core learnt: A is rate limited until 20 s, B's and C's
     * breakers are open */
    assert_int_equal(ld_core_block_route(f->c, R(f, "A"), LD_FC_RATE_LIMITED,
                                         ld_s(20), ld_s(1)), LD_OK);
    assert_int_equal(ld_core_trip_breaker(f->c, R(f, "B"), ld_s(1), ld_s(1)),
                     LD_OK);
    assert_int_equal(ld_core_trip_breaker(f->c, R(f, "C"), ld_s(1), ld_s(1)),
                     LD_OK);
    ld_policy *np = NULL;
    cap nev = {.n = 0};
    ld_core *nc = core_for(reload_routes, &np, &nev);
    int nA = ld_policy_route_index(np, "A"), nB = ld_policy_route_index(np, "B"),
        nC = ld_policy_route_index(np, "C"), nE = ld_policy_route_index(np, "E");
    assert_int_not_equal(nA, R(f, "A")); /* indices moved */
    /* A, C and D kept id and upstream; B changed model; E is new */
    assert_int_equal(ld_core_adopt_health(nc, f->c, ld_s(2)), 3);
    assert_int_equal(nev.n, 0); /* no event: nothing happened to a route */
    ld_route_health h;
    assert_int_equal(ld_core_route_health(nc, nA, ld_s(2), &h), LD_OK);
    assert_int_equal(h.blocked_until, ld_s(20));
    assert_int_equal(ld_core_route_health(nc, nC, ld_s(2), &h), LD_OK);
    assert_int_equal(h.breaker, LD_BREAKER_OPEN);
    assert_int_equal(ld_core_route_health(nc, nB, ld_s(2), &h), LD_OK);
    assert_int_equal(h.breaker, LD_BREAKER_CLOSED); /* another upstream */
    assert_int_equal(h.blocked_until, 0);
    assert_int_equal(ld_core_route_health(nc, nE, ld_s(2), &h), LD_OK);
    assert_int_equal(h.breaker, LD_BREAKER_CLOSED);
    /* a new request on the new core skips A (blocked) and goes to B, whose
     * new upstream has no history */
    ld_req_spec spec = {.workload = -1, .tier = ld_policy_tier_index(np, "paid"),
                        .input_tokens = 10, .output_tokens = 10};
    ld_req *r = NULL;
    assert_int_equal(ld_req_start(nc, &spec, ld_s(2), &f->rng, &r), LD_OK);
    ld_do d;
    assert_int_equal(ld_req_next(r, &d), 1);
    assert_int_equal(d.kind, LD_DO_START);
    assert_int_equal(d.route, nB);
    assert_int_equal(last_ev(&nev, LD_EV_SKIP)->cls, LD_FC_RATE_LIMITED);
    ld_req_free(r);
    /* C's breaker turns half-open on the old schedule: 1 s + 10 s */
    assert_int_equal(ld_core_route_health(nc, nC, ld_s(10), &h), LD_OK);
    assert_int_equal(h.breaker, LD_BREAKER_OPEN);
    assert_int_equal(ld_core_route_health(nc, nC, ld_s(11), &h), LD_OK);
    assert_int_equal(h.breaker, LD_BREAKER_HALF_OPEN);
    /* the old core is untouched and still serves its own requests */
    assert_int_equal(ld_core_route_health(f->c, R(f, "A"), ld_s(2), &h), LD_OK);
    assert_int_equal(h.blocked_until, ld_s(20));
    assert_int_equal(ld_core_adopt_health(NULL, f->c, 0), LD_EINVAL);
    ld_core_free(nc);
    ld_policy_free(np);
    fx_free(f);
}

/* A reload while an attempt is in flight on a route of max_concurrency 1:
 * the new core counts it (borrowed) until the host says it ended. */
static void test_reload_counts_attempts_in_flight_on_the_old_core(void **state)
{
    (void)state;
    static const char routes[] =
        "\"routes\": {"
        " \"A\": {\"provider\": \"openai\", \"model\": \"a\", \"max_concurrency\": 1,"
        "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}},"
        " \"B\": {\"provider\": \"openai\", \"model\": \"b\","
        "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}},"
        " \"C\": {\"provider\": \"openai\", \"model\": \"c\","
        "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}},"
        " \"D\": {\"provider\": \"openai\", \"model\": \"d\","
        "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}}"
        "},";
    ld_policy *op = NULL, *np = NULL;
    cap oev = {.n = 0}, nev = {.n = 0};
    ld_core *oc = core_for(routes, &op, &oev), *nc = core_for(routes, &np, &nev);
    int A = ld_policy_route_index(np, "A"), B = ld_policy_route_index(np, "B");
    ld_req_spec spec = {.workload = -1, .tier = ld_policy_tier_index(op, "paid"),
                        .input_tokens = 10, .output_tokens = 10};
    ld_rng rng = {0};
    ld_req *old = NULL, *r = NULL;
    ld_do d;
    assert_int_equal(ld_req_start(oc, &spec, ld_s(1), &rng, &old), LD_OK);
    assert_int_equal(ld_req_next(old, &d), 1);
    assert_int_equal(d.route, ld_policy_route_index(op, "A"));
    assert_int_equal(ld_core_adopt_health(nc, oc, ld_s(2)), 4);
    /* A's one place is taken by the old core's attempt */
    assert_int_equal(ld_req_start(nc, &spec, ld_s(2), &rng, &r), LD_OK);
    assert_int_equal(ld_req_next(r, &d), 1);
    assert_int_equal(d.route, B);
    ld_req_free(r);
    /* it ended: A takes requests again */
    assert_int_equal(ld_core_release_borrowed(nc, A), LD_OK);
    assert_int_equal(ld_req_start(nc, &spec, ld_s(3), &rng, &r), LD_OK);
    assert_int_equal(ld_req_next(r, &d), 1);
    assert_int_equal(d.route, A);
    ld_req_free(r);
    assert_int_equal(ld_core_release_borrowed(nc, A), LD_OK); /* no underflow */
    assert_int_equal(ld_core_release_borrowed(nc, 99), LD_EINVAL);
    ld_req_free(old);
    ld_core_free(nc);
    ld_core_free(oc);
    ld_policy_free(np);
    ld_policy_free(op);
}

static void test_reload_carries_latency_estimates_and_expired_blocks_not(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    for (int i = 0; i < 8; i++)
        succeed_once(f, "paid", ld_s(1) + i, ld_ms(400));
    assert_int_equal(ld_core_block_route(f->c, R(f, "C"), LD_FC_QUOTA_EXHAUSTED,
                                         ld_s(3), ld_s(1)), LD_OK);
    ld_route_health h;
    assert_int_equal(ld_core_route_health(f->c, R(f, "A"), ld_s(2), &h), LD_OK);
    assert_true(h.ttft_p50 > ld_ms(350) && h.ttft_p50 < ld_ms(450));
    ld_us p50 = h.ttft_p50;
    ld_policy *np = NULL;
    cap nev = {.n = 0};
    ld_core *nc = core_for(reload_routes, &np, &nev);
    /* at 5 s C's block (until 3 s) is over: not carried */
    assert_int_equal(ld_core_adopt_health(nc, f->c, ld_s(5)), 3);
    assert_int_equal(ld_core_route_health(nc, ld_policy_route_index(np, "A"),
                                          ld_s(5), &h), LD_OK);
    assert_int_equal(h.ttft_p50, p50);
    assert_int_equal(ld_core_route_health(nc, ld_policy_route_index(np, "C"),
                                          ld_s(5), &h), LD_OK);
    assert_int_equal(h.blocked_until, 0);
    assert_int_equal(h.ttft_p50, -1);
    ld_core_free(nc);
    ld_policy_free(np);
    fx_free(f);
}

/* ---- shutdown ---------------------------------------------------------------- */

static void test_shutdown_fails_a_request_in_flight_with_503(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    assert_int_equal(d.kind, LD_DO_START);
    assert_int_equal(ld_req_shutdown(r, ld_ms(300)), LD_OK);
    ld_do c = expect(r, LD_DO_CANCEL);
    assert_int_equal(c.attempt, d.attempt);
    ld_do fin = expect(r, LD_DO_FINISH);
    assert_int_equal(fin.outcome, LD_OUT_FAILED);
    assert_int_equal(fin.cls, LD_FC_SHUTDOWN);
    assert_false(fin.mid_stream);
    assert_int_equal(fin.status, 503);
    assert_int_equal(fin.client_status, 503);
    assert_string_equal(fin.message, LD_SHUTDOWN_MESSAGE);
    const ld_event *done = last_ev(&f->ev, LD_EV_DONE);
    assert_int_equal(done->outcome, LD_OUT_FAILED);
    assert_int_equal(done->cls, LD_FC_SHUTDOWN);
    assert_int_equal(done->status, 503);
    assert_int_equal(last_ev(&f->ev, LD_EV_CANCEL)->reason, LD_CANCEL_SHUTDOWN);
    ld_req_info first;
    ld_req_info_get(r, &first);
    assert_int_equal(first.first_cls, LD_FC_SHUTDOWN); /* the trace's class */
    assert_int_equal(count_ev(&f->ev, LD_EV_DONE), 1);
    assert_int_equal(ld_req_shutdown(r, ld_ms(400)), LD_ESTATE);
    assert_int_equal(ld_req_abandon(r, ld_ms(400)), LD_ESTATE);
    ld_req_info info;
    ld_req_info_get(r, &info);
    assert_int_equal(info.outcome, LD_OUT_FAILED);
    assert_int_equal(info.latency, ld_ms(300));
    /* the route did nothing wrong: its breaker window holds no failure */
    ld_route_health h;
    ld_core_route_health(f->c, R(f, "A"), ld_ms(400), &h);
    assert_int_equal(h.in_flight, 0);
    assert_int_equal(breaker_events(&f->ev, R(f, "A"), LD_BREAKER_OPEN), 0);
    ld_req_free(r);
    fx_free(f);
}

static void test_shutdown_after_the_first_token_ends_the_stream_with_an_error(void **state)
{
    (void)state;
    fx *f = fx_new(chat_workload);
    ld_do d;
    ld_req *r = start(f, "paid", 10, 10, 0, &d);
    ld_req_first_token(r, d.attempt, ld_ms(200));
    assert_int_equal(ld_req_shutdown(r, ld_ms(300)), LD_OK);
    expect(r, LD_DO_CANCEL);
    expect_mid_stream_failure(r, LD_FC_SHUTDOWN);
    assert_false(ld_class_has_rules(LD_FC_SHUTDOWN));
    assert_string_equal(ld_class_name(LD_FC_SHUTDOWN), "shutdown");
    ld_req_free(r);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_attempt_goes_to_first_rung),
        cmocka_unit_test(test_server_error_retries_then_falls_back),
        cmocka_unit_test(test_backoff_grows_exponentially_with_jitter),
        cmocka_unit_test(test_rate_limited_waits_for_retry_after_within_deadline),
        cmocka_unit_test(test_retry_after_longer_than_max_wait_falls_back),
        cmocka_unit_test(test_retry_after_beyond_deadline_falls_back),
        cmocka_unit_test(test_rate_limited_route_is_skipped_until_retry_after),
        cmocka_unit_test(test_retry_after_is_capped_by_the_policy),
        cmocka_unit_test(test_retry_hint_counts_blocks_and_open_breakers),
        cmocka_unit_test(test_continue_routes_are_the_prefill_candidates),
        cmocka_unit_test(test_quota_exhausted_blocks_route),
        cmocka_unit_test(test_a_rate_limit_emits_a_block_event),
        cmocka_unit_test(test_a_shared_block_skips_the_route_until_it_ends),
        cmocka_unit_test(test_a_shared_breaker_opening_keeps_the_peer_s_clock),
        cmocka_unit_test(test_timeout_ttft_jumps_to_low_latency_role),
        cmocka_unit_test(test_role_already_tried_falls_to_next),
        cmocka_unit_test(test_context_length_moves_to_larger_window),
        cmocka_unit_test(test_too_large_request_skips_small_windows),
        cmocka_unit_test(test_region_restricted_moves_to_another_region),
        cmocka_unit_test(test_content_blocked_fails_with_safe_response),
        cmocka_unit_test(test_wildcard_rule_covers_unnamed_classes),
        cmocka_unit_test(test_nothing_qualifies_is_a_safe_failure),
        cmocka_unit_test(test_free_tier_is_never_routed_over_its_budget),
        cmocka_unit_test(test_quality_floor_skips_to_high_quality),
        cmocka_unit_test(test_region_constraint_of_tier_skips_routes),
        cmocka_unit_test(test_capability_missing_skips_route),
        cmocka_unit_test(test_price_change_moves_traffic_off_route),
        cmocka_unit_test(test_latency_ceiling_skips_slow_route),
        cmocka_unit_test(test_deadline_shortens_timeouts_down_the_ladder),
        cmocka_unit_test(test_without_ttft_limit_silent_routes_share_the_deadline),
        cmocka_unit_test(test_stall_after_first_token_fails_mid_stream),
        cmocka_unit_test(test_cut_stream_is_never_a_success),
        cmocka_unit_test(test_cut_stream_continues_on_a_route_that_takes_prefill),
        cmocka_unit_test(test_refused_prefill_reports_the_cut_not_the_refusal),
        cmocka_unit_test(test_a_second_cut_past_the_allowance_fails_with_its_class),
        cmocka_unit_test(test_continuation_is_off_unless_the_workload_allows_it),
        cmocka_unit_test(test_blocked_content_mid_stream_is_never_continued),
        cmocka_unit_test(test_two_continuations_finish_an_answer_cut_twice),
        cmocka_unit_test(test_request_deadline_ends_a_slow_stream),
        cmocka_unit_test(test_hedge_starts_after_fixed_delay_and_first_answer_wins),
        cmocka_unit_test(test_the_largest_batch_of_actions_is_delivered_whole),
        cmocka_unit_test(test_hedge_loser_is_cancelled_when_primary_wins),
        cmocka_unit_test(test_no_hedge_once_first_token_arrived),
        cmocka_unit_test(test_hedge_delay_follows_observed_ttft_quantile),
        cmocka_unit_test(test_retry_budget_exhaustion_skips_retries),
        cmocka_unit_test(test_breaker_opens_and_requests_skip_the_route),
        cmocka_unit_test(test_breaker_half_open_probe_success_closes_it),
        cmocka_unit_test(test_breaker_half_open_probe_failure_reopens_it),
        cmocka_unit_test(test_client_errors_do_not_open_the_breaker),
        cmocka_unit_test(test_abandon_cancels_attempts_in_flight),
        cmocka_unit_test(test_every_request_ends_in_exactly_one_outcome),
        cmocka_unit_test(test_same_seed_gives_same_decisions),
        cmocka_unit_test(test_pool_reuses_requests_without_growing),
        cmocka_unit_test(test_waited_request_counts_from_its_arrival),
        cmocka_unit_test(test_explain_follows_runtime_decisions),
        cmocka_unit_test(test_reload_carries_health_by_route_id_and_upstream),
        cmocka_unit_test(test_reload_counts_attempts_in_flight_on_the_old_core),
        cmocka_unit_test(test_reload_carries_latency_estimates_and_expired_blocks_not),
        cmocka_unit_test(test_shutdown_fails_a_request_in_flight_with_503),
        cmocka_unit_test(test_shutdown_after_the_first_token_ends_the_stream_with_an_error),
        cmocka_unit_test(test_keyed_request_over_its_rpm_fails_before_any_attempt),
        cmocka_unit_test(test_keyed_request_settles_its_cost_into_the_day),
        cmocka_unit_test(test_a_rekeyed_request_settles_in_the_new_quota),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
