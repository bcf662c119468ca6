/* test_live_metrics.c - the live router's Prometheus exposition. */
#include <stdlib.h>

#include "testutil.h"

#include "live_metrics.h"

static const char policy[] =
    "{\"routes\": {"
    " \"a\": {\"provider\": \"openai\", \"model\": \"a\","
    "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2}},"
    " \"b\": {\"provider\": \"anthropic\", \"model\": \"b\","
    "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2}}},"
    " \"workloads\": {\"chat\": {\"ladder\": [\"a\", \"b\"]}}}";

typedef struct fx {
    ld_policy *p;
    live_metrics *m;
    live_buf out;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    ld_error err;
    if (f == NULL ||
        ld_policy_parse(policy, strlen(policy), "p.json", &f->p, &err) < 0)
        return -1;
    f->m = live_metrics_new(f->p);
    live_buf_init(&f->out, 0);
    *state = f;
    return f->m == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    live_buf_cleanup(&f->out);
    live_metrics_free(f->m);
    ld_policy_free(f->p);
    free(f);
    return 0;
}

static ld_event ev(ld_event_type t, int route, int to, ld_class cls)
{
    ld_event e;
    memset(&e, 0, sizeof e);
    e.type = t;
    e.route = route;
    e.to_route = to;
    e.cls = cls;
    e.ttft = -1;
    return e;
}

static const char *render(fx *f)
{
    ld_breaker_state br[2] = {LD_BREAKER_OPEN, LD_BREAKER_CLOSED};
    f->out.len = 0;
    assert_int_equal(live_metrics_render(f->m, br, 3, &f->out), LD_OK);
    return f->out.data;
}

/* the value on the line that starts with `series` (exactly), or -1 */
static double value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *l = text; l != NULL && *l != '\0';) {
        if (strncmp(l, series, n) == 0 && l[n] == ' ')
            return atof(l + n + 1);
        l = strchr(l, '\n');
        if (l != NULL)
            l++;
    }
    return -1;
}

static void test_counts_requests_by_outcome_and_fallback(void **state)
{
    fx *f = *state;
    ld_req_info ok = {0}, failed = {0};
    ok.outcome = LD_OUT_SUCCESS;
    ok.route = 1;
    ok.fell_back = true;
    ok.first_cls = LD_FC_OVERLOADED;
    ok.ttft = ld_ms(120);
    ok.latency = ld_ms(900);
    ok.cost = 0.5;
    failed.outcome = LD_OUT_FAILED;
    failed.route = -1;
    failed.ttft = -1;
    failed.latency = ld_ms(40);
    live_metrics_on_done(f->m, &ok, false);
    live_metrics_on_done(f->m, &ok, true);
    live_metrics_on_done(f->m, &failed, false);
    assert_int_equal(live_metrics_requests(f->m, LD_OUT_SUCCESS), 2);
    assert_int_equal(live_metrics_requests(f->m, LD_OUT_FAILED), 1);
    const char *t = render(f);
    assert_non_null(strstr(t, "# TYPE "));
    assert_non_null(strstr(t, "outcome=\"success\""));
    assert_non_null(strstr(t, "outcome=\"failed\""));
    assert_non_null(strstr(t, "_bucket{"));
    assert_non_null(strstr(t, "le=\"+Inf\""));
}

static void test_fallbacks_and_attempts_by_route_and_class(void **state)
{
    fx *f = *state;
    ld_event a = ev(LD_EV_ATTEMPT, 0, -1, LD_FC_NONE);
    ld_event r = ev(LD_EV_RESULT, 0, -1, LD_FC_OVERLOADED);
    ld_event fb = ev(LD_EV_FALLBACK, 0, 1, LD_FC_OVERLOADED);
    for (int i = 0; i < 3; i++) {
        live_metrics_on_event(f->m, &a);
        live_metrics_on_event(f->m, &r);
        live_metrics_on_event(f->m, &fb);
    }
    const char *t = render(f);
    assert_non_null(strstr(t, "from=\"a\""));
    assert_non_null(strstr(t, "to=\"b\""));
    assert_non_null(strstr(t, "class=\"overloaded\""));
    /* every fallback line names from, to and class and counts 3 */
    const char *l = strstr(t, "ladder_fallbacks_total{from=\"a\"");
    assert_non_null(l);
    const char *eol = strchr(l, '\n');
    assert_non_null(eol);
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)(eol - l), l);
    assert_near(atof(strrchr(line, ' ') + 1), 3, 0);
    assert_near(value(t, "ladder_fallbacks_untracked_total"), 0, 0);
}

static void test_breaker_gauge_follows_given_states(void **state)
{
    fx *f = *state;
    const char *t = render(f);
    /* 0 closed, 1 open, 2 half-open: render() passes a open, b closed */
    assert_near(value(t, "ladder_breaker_state{route=\"a\"}"), 1, 0);
    assert_near(value(t, "ladder_breaker_state{route=\"b\"}"), 0, 0);
}

static void test_rejects_and_feedback_are_counted(void **state)
{
    fx *f = *state;
    live_metrics_on_reject(f->m, LIVE_REJ_OVERLOADED);
    live_metrics_on_reject(f->m, LIVE_REJ_OVERLOADED);
    live_metrics_on_feedback(f->m, LIVE_FB_RETRIED, true);
    live_feedback fb;
    assert_int_equal(live_feedback_parse("abandoned", &fb), LD_OK);
    assert_int_equal(fb, LIVE_FB_ABANDONED);
    assert_int_equal(live_feedback_parse("bogus", &fb), LD_ENOENT);
    assert_string_equal(live_feedback_name(LIVE_FB_ACCEPTED), "accepted");
    const char *t = render(f);
    assert_non_null(strstr(t, "overloaded"));
    assert_non_null(strstr(t, "retried"));
}

static void test_render_is_capped_by_the_buffer(void **state)
{
    fx *f = *state;
    live_buf small;
    live_buf_init(&small, 64);
    ld_breaker_state br[2] = {LD_BREAKER_CLOSED, LD_BREAKER_CLOSED};
    assert_int_equal(live_metrics_render(f->m, br, 0, &small), LD_ELIMIT);
    live_buf_cleanup(&small);
}

static void test_every_event_type_has_its_series(void **state)
{
    fx *f = *state;
    ld_event e;
    e = ev(LD_EV_SKIP, 1, -1, LD_FC_BUDGET_EXCEEDED);
    live_metrics_on_event(f->m, &e);
    e = ev(LD_EV_RETRY, 0, -1, LD_FC_RATE_LIMITED);
    live_metrics_on_event(f->m, &e);
    live_metrics_on_event(f->m, &e);
    e = ev(LD_EV_HEDGE, 0, 1, LD_FC_NONE);
    live_metrics_on_event(f->m, &e);
    e = ev(LD_EV_CANCEL, 1, -1, LD_FC_NONE);
    e.reason = LD_CANCEL_HEDGE_LOST;
    live_metrics_on_event(f->m, &e);
    e = ev(LD_EV_BREAKER, 0, -1, LD_FC_NONE);
    e.from = LD_BREAKER_CLOSED;
    e.to = LD_BREAKER_OPEN;
    live_metrics_on_event(f->m, &e);
    e.shared = true; /* another router opened it */
    live_metrics_on_event(f->m, &e);
    e = ev(LD_EV_BLOCK, 1, -1, LD_FC_RATE_LIMITED);
    live_metrics_on_event(f->m, &e);
    e.shared = true;
    live_metrics_on_event(f->m, &e);
    live_metrics_on_event(f->m, &e);
    e = ev(LD_EV_RESULT, 1, -1, LD_FC_NONE); /* a success is billed */
    e.cost = 0.25;
    e.output_tokens = 40;
    live_metrics_on_event(f->m, &e);
    e = ev(LD_EV_REQUEST, 0, -1, LD_FC_NONE); /* counted elsewhere */
    live_metrics_on_event(f->m, &e);
    e = ev(LD_EV_ATTEMPT, 7, -1, LD_FC_NONE); /* no such route: ignored */
    live_metrics_on_event(f->m, &e);
    const char *t = render(f);
    assert_near(value(t, "ladder_skips_total{route=\"b\",class=\"budget_exceeded\"}"), 1, 0);
    assert_near(value(t, "ladder_retries_total{route=\"a\",class=\"rate_limited\"}"), 2, 0);
    assert_near(value(t, "ladder_hedges_total{route=\"a\"}"), 1, 0);
    assert_near(value(t, "ladder_attempts_cancelled_total{route=\"b\","
                         "reason=\"hedge_lost\"}"), 1, 0);
    assert_near(value(t, "ladder_breaker_transitions_total{route=\"a\",to=\"open\"}"), 2, 0);
    assert_near(value(t, "ladder_breaker_shared_opens_total{route=\"a\"}"), 1, 0);
    assert_near(value(t, "ladder_route_blocks_total{route=\"b\",source=\"local\"}"), 1, 0);
    assert_near(value(t, "ladder_route_blocks_total{route=\"b\",source=\"shared\"}"), 2, 0);
    assert_near(value(t, "ladder_cost_usd_total{route=\"b\"}"), 0.25, 1e-12);
    assert_near(value(t, "ladder_output_tokens_total{route=\"b\"}"), 40, 0);
}

static void test_an_abandoned_request_is_counted_as_such(void **state)
{
    fx *f = *state;
    ld_req_info gone = {0};
    gone.outcome = LD_OUT_ABANDONED;
    gone.route = -1;
    gone.ttft = -1;
    gone.latency = ld_ms(3000);
    live_metrics_on_done(f->m, &gone, true);
    assert_int_equal(live_metrics_requests(f->m, LD_OUT_ABANDONED), 1);
    assert_non_null(strstr(render(f), "outcome=\"abandoned\""));
}

static void test_fallbacks_past_the_table_are_counted_untracked(void **state)
{
    fx *f = *state;
    /* a fallback the table cannot hold (here: to a route the policy does
     * not have) is counted as untracked, not dropped */
    ld_event e = ev(LD_EV_FALLBACK, 0, 1, LD_FC_OVERLOADED);
    live_metrics_on_event(f->m, &e);
    e.to_route = 9; /* no such route */
    live_metrics_on_event(f->m, &e);
    const char *t = render(f);
    assert_near(value(t, "ladder_fallbacks_untracked_total"), 1, 0);
}

/* A reload: the new policy has the routes in another order, drops none
 * of chat's but b, adds c; the counters go on under the same names. */
static void test_a_reload_carries_the_counters_by_name(void **state)
{
    fx *f = *state;
    ld_event a = ev(LD_EV_ATTEMPT, 0, -1, LD_FC_NONE);
    ld_event fb = ev(LD_EV_FALLBACK, 1, 0, LD_FC_OVERLOADED);
    ld_event hb = ev(LD_EV_HEDGE, 1, 0, LD_FC_NONE);
    for (int i = 0; i < 3; i++) {
        live_metrics_on_event(f->m, &a);
        live_metrics_on_event(f->m, &fb);
    }
    live_metrics_on_event(f->m, &hb);
    ld_req_info ok = {0};
    ok.outcome = LD_OUT_SUCCESS;
    ok.route = 0;
    ok.ttft = ld_ms(70);
    ok.latency = ld_ms(80);
    live_metrics_on_done(f->m, &ok, true);
    live_metrics_on_done(f->m, &ok, false);
    live_metrics_on_reject(f->m, LIVE_REJ_TOO_LARGE);
    static const char p2_text[] =
        "{\"routes\": {"
        " \"c\": {\"provider\": \"openai\", \"model\": \"c\","
        "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2}},"
        " \"a\": {\"provider\": \"openai\", \"model\": \"a\","
        "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2}}},"
        " \"workloads\": {\"other\": {\"ladder\": [\"c\"]},"
        "                 \"chat\": {\"ladder\": [\"a\", \"c\"]}}}";
    ld_policy *p2 = NULL;
    ld_error err;
    assert_int_equal(ld_policy_parse(p2_text, strlen(p2_text), "p2.json", &p2,
                                     &err), LD_OK);
    live_metrics *m2 = live_metrics_new(p2);
    assert_non_null(m2);
    assert_int_equal(live_metrics_adopt(m2, f->m, NULL), LD_OK);
    live_metrics_free(f->m);
    f->m = m2; /* rendered, and freed by teardown */
    /* one more success after the reload, on a (index 1 now) */
    ok.route = 1;
    ok.workload = 1;
    live_metrics_on_done(f->m, &ok, false);
    const char *t = render(f);
    assert_near(value(t, "ladder_attempts_started_total{route=\"a\",kind=\"first\"}"),
                3, 0);
    assert_near(value(t, "ladder_requests_total{workload=\"chat\",route=\"a\","
                         "outcome=\"success\"}"), 3, 0);
    assert_near(value(t, "ladder_requests_rejected_total{reason=\"too_large\"}"),
                1, 0);
    assert_near(value(t, "ladder_stream_requests_total{outcome=\"success\"}"),
                1, 0);
    /* b is gone: its fallbacks and hedges went with it */
    assert_null(strstr(t, "route=\"b\""));
    assert_null(strstr(t, "from=\"b\""));
    assert_near(value(t, "ladder_fallbacks_untracked_total"), 0, 0);
    assert_int_equal(live_metrics_requests(f->m, LD_OUT_SUCCESS), 3);
    ld_policy_free(p2);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_counts_requests_by_outcome_and_fallback),
        T(test_fallbacks_and_attempts_by_route_and_class),
        T(test_breaker_gauge_follows_given_states),
        T(test_rejects_and_feedback_are_counted),
        T(test_render_is_capped_by_the_buffer),
        T(test_every_event_type_has_its_series),
        T(test_an_abandoned_request_is_counted_as_such),
        T(test_fallbacks_past_the_table_are_counted_untracked),
        T(test_a_reload_carries_the_counters_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
