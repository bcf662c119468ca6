/* test_trace.c - the request trace module: the reducer from core events to
 * a record, what the host adds, and the JSON line. */
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "testutil.h"

#include "ld_trace.h"

static const char policy[] =
    "{\"routes\": {\"A\": {\"provider\": \"openai\", \"model\": \"a\","
    " \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}},"
    " \"B\": {\"provider\": \"openai\", \"model\": \"b\","
    " \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}}},"
    " \"workloads\": {\"chat\": {\"ladder\": [\"A\", \"B\"]}},"
    " \"tiers\": {\"free\": {}}}";

static ld_policy *load(void)
{
    ld_policy *p = NULL;
    ld_error err;
    if (ld_policy_parse(policy, sizeof policy - 1, "p.json", &p, &err) != LD_OK)
        fail_msg("policy: %s", err.msg);
    return p;
}

static ld_event ev(ld_event_type type, ld_us t, uint32_t attempt, int route)
{
    ld_event e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.t = t;
    e.attempt = attempt;
    e.route = route;
    e.cls = LD_FC_NONE;
    e.ttft = -1;
    return e;
}

static void test_events_and_answers_reduce_to_attempts(void **state)
{
    (void)state;
    ld_trace t;
    ld_trace_init(&t, ld_ms(1000));
    ld_event e = ev(LD_EV_ATTEMPT, ld_ms(1000), 1, 0);
    ld_trace_on_event(&t, &e);
    /* the host saw a 503 with Retry-After 2 s */
    ld_trace_on_answer(&t, 1, 503, 0, ld_s(2), -1);
    e = ev(LD_EV_RESULT, ld_ms(1300), 1, 0);
    e.cls = LD_FC_OVERLOADED;
    e.status = 503;
    e.delay = ld_ms(300);
    ld_trace_on_event(&t, &e);
    e = ev(LD_EV_ATTEMPT, ld_ms(1300), 2, 1);
    e.hedge = true;
    ld_trace_on_event(&t, &e);
    /* the deadline cancels it after its first token came at 100 ms */
    ld_trace_on_answer(&t, 2, 200, 7, -1, ld_ms(100));
    e = ev(LD_EV_CANCEL, ld_ms(1800), 2, 1);
    e.reason = LD_CANCEL_DEADLINE;
    ld_trace_on_event(&t, &e);
    /* events about no attempt, or an unknown one, change nothing */
    e = ev(LD_EV_RESULT, ld_ms(1900), 9, 1);
    ld_trace_on_event(&t, &e);
    e = ev(LD_EV_DONE, ld_ms(1900), 0, 1);
    ld_trace_on_event(&t, &e);

    assert_int_equal(t.natt, 2);
    assert_int_equal(t.att[0].route, 0);
    assert_int_equal(t.att[0].start, 0);
    assert_int_equal(t.att[0].cls, LD_FC_OVERLOADED);
    assert_int_equal(t.att[0].status, 503);
    assert_int_equal(t.att[0].duration, ld_ms(300));
    assert_int_equal(t.att[0].retry_after, ld_s(2));
    assert_false(t.att[0].cancelled);
    assert_int_equal(t.att[1].start, ld_ms(300));
    assert_true(t.att[1].hedge);
    assert_true(t.att[1].cancelled);
    assert_int_equal(t.att[1].cls, LD_FC_TIMEOUT_TOTAL);
    assert_int_equal(t.att[1].duration, ld_ms(500));
    assert_int_equal(t.att[1].ttft, ld_ms(100));
    assert_int_equal(t.att[1].output_tokens, 7);
}

static void test_attempts_past_the_cap_are_counted_and_written(void **state)
{
    (void)state;
    ld_policy *p = load();
    ld_trace *t = malloc(sizeof *t);
    assert_non_null(t);
    ld_trace_init(t, 0);
    for (uint32_t i = 1; i <= LD_TRACE_MAX_ATT + 3; i++) {
        ld_event e = ev(LD_EV_ATTEMPT, ld_ms(i), i, (int)(i % 2));
        ld_trace_on_event(t, &e);
        e = ev(LD_EV_RESULT, ld_ms(i), i, (int)(i % 2));
        e.cls = LD_FC_RESET;
        ld_trace_on_event(t, &e);
    }
    assert_int_equal(t->natt, LD_TRACE_MAX_ATT);
    assert_int_equal(t->dropped, 3);
    ld_trace_line l = {.t_ms = 5, .id = "r-1", .workload = 0, .tier = -1,
                       .outcome = LD_OUT_ABANDONED, .route = -1, .status = 503,
                       .cls = LD_FC_RESET, .ttft = -1, .latency = ld_ms(40),
                       .att = t->att, .natt = t->natt, .dropped = t->dropped};
    char *text = ld_trace_format(p, &l);
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "attempts")),
                     LD_TRACE_MAX_ATT);
    assert_int_equal(cJSON_GetObjectItem(j, "attempts_dropped")->valueint, 3);
    /* an abandoned request's status is 499 (the client left) */
    assert_int_equal(cJSON_GetObjectItem(j, "status")->valueint, 499);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "tier")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "ttft_ms")));
    assert_string_equal(cJSON_GetObjectItem(j, "workload")->valuestring, "chat");
    const cJSON *a0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "attempts"), 0);
    assert_string_equal(cJSON_GetObjectItem(a0, "route")->valuestring, "B");
    assert_string_equal(cJSON_GetObjectItem(a0, "class")->valuestring, "reset");
    cJSON_Delete(j);
    cJSON_free(text);
    free(t);
    ld_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_and_answers_reduce_to_attempts),
        cmocka_unit_test(test_attempts_past_the_cap_are_counted_and_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
