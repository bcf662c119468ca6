/* test_live_shared.c - the messages routers share through Redis: what is
 * accepted, what is refused (and why), and that a message survives its
 * own round trip. The links themselves are tested against a real
 * redis-server in tests/integration/shared.sh. */
#include <stdlib.h>

#include "testutil.h"

#include <cjson/cJSON.h>

#include "live_shared.h"

static const char policy_text[] =
    "{\"routes\": {"
    " \"a\": {\"provider\": \"openai\", \"model\": \"a\","
    "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}},"
    " \"b\": {\"provider\": \"openai\", \"model\": \"b\","
    "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}}},"
    "\"workloads\": {\"w\": {\"ladder\": [\"a\", \"b\"]}},"
    "\"tiers\": {\"t\": {}}}";

static ld_policy *policy(void)
{
    ld_policy *p = NULL;
    ld_error err;
    if (ld_policy_parse(policy_text, strlen(policy_text), "p.json", &p, &err) !=
        LD_OK)
        fail_msg("policy: %s", err.msg);
    return p;
}

static void test_a_block_and_an_opening_round_trip(void **state)
{
    (void)state;
    ld_policy *p = policy();
    live_shared_msg m = {LIVE_SHARED_BLOCK, 1, LD_FC_QUOTA_EXHAUSTED,
                         1780000000123, 0, 5000, 0, 0};
    char *text = live_shared_format(p, "me", &m);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"route\":\"b\""));
    live_shared_msg back;
    char why[128];
    assert_int_equal(live_shared_parse(p, "other", text, &back, why, sizeof why),
                     LD_OK);
    assert_int_equal(back.kind, LIVE_SHARED_BLOCK);
    assert_int_equal(back.route, 1);
    assert_int_equal(back.cls, LD_FC_QUOTA_EXHAUSTED);
    assert_true(back.until_ms == 1780000000123);
    /* our own message comes back on the channel: not news */
    assert_int_equal(live_shared_parse(p, "me", text, &back, why, sizeof why),
                     LD_ENOENT);
    cJSON_free(text);

    live_shared_msg o = {LIVE_SHARED_OPEN, 0, LD_FC_NONE, 0, 1780000000999, 30000,
                         0, 0};
    text = live_shared_format(p, "me", &o);
    assert_non_null(text);
    assert_int_equal(live_shared_parse(p, NULL, text, &back, why, sizeof why),
                     LD_OK);
    assert_int_equal(back.kind, LIVE_SHARED_OPEN);
    assert_int_equal(back.route, 0);
    assert_true(back.opened_ms == 1780000000999);
    cJSON_free(text);
    ld_policy_free(p);
}

static void expect_refused(const ld_policy *p, const char *text,
                           const char *reason)
{
    live_shared_msg m;
    char why[128] = "";
    if (live_shared_parse(p, "me", text, &m, why, sizeof why) != LD_EINVAL)
        fail_msg("accepted: %s", text);
    if (strstr(why, reason) == NULL)
        fail_msg("refused %s for \"%s\", expected \"%s\"", text, why, reason);
}

static void test_bad_messages_are_refused_with_a_reason(void **state)
{
    (void)state;
    ld_policy *p = policy();
    expect_refused(p, "not json", "not a JSON object");
    expect_refused(p, "[1]", "not a JSON object");
    expect_refused(p, "{\"v\": 2, \"from\": \"x\"}", "v: not 1");
    expect_refused(p, "{\"v\": 1}", "from: missing");
    expect_refused(p, "{\"v\": 1, \"from\": \"x\", \"kind\": \"block\", "
                      "\"route\": \"zz\"}",
                   "route: not a route");
    expect_refused(p, "{\"v\": 1, \"from\": \"x\", \"kind\": \"block\", "
                      "\"route\": \"a\", \"class\": \"server_error\", "
                      "\"until_ms\": 1780000000000}",
                   "class: not rate_limited");
    expect_refused(p, "{\"v\": 1, \"from\": \"x\", \"kind\": \"block\", "
                      "\"route\": \"a\", \"class\": \"rate_limited\", "
                      "\"until_ms\": 12}",
                   "until_ms: not a Unix time");
    expect_refused(p, "{\"v\": 1, \"from\": \"x\", \"kind\": \"block\", "
                      "\"route\": \"a\", \"class\": \"rate_limited\", "
                      "\"until_ms\": 1780000000000.5}",
                   "until_ms: not a Unix time");
    expect_refused(p, "{\"v\": 1, \"from\": \"x\", \"kind\": \"open\", "
                      "\"route\": \"a\", \"opened_ms\": \"now\"}",
                   "opened_ms: not a Unix time");
    expect_refused(p, "{\"v\": 1, \"from\": \"x\", \"kind\": \"close\", "
                      "\"route\": \"a\"}",
                   "kind: not block, open, repeat or forget");
    ld_policy_free(p);
}

static void test_a_failed_walk_and_a_forget_round_trip(void **state)
{
    (void)state;
    ld_policy *p = policy();
    live_shared_msg m = {LIVE_SHARED_REPEAT, -1, LD_FC_SERVER_ERROR,
                         1780000000123, 0, 0, 0, 0xfedcba9876543210ULL};
    char *text = live_shared_format(p, "me", &m);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"kind\":\"repeat\""));
    assert_non_null(strstr(text, "\"workload\":\"w\""));
    assert_non_null(strstr(text, "\"fp\":\"fedcba9876543210\""));
    live_shared_msg back;
    char why[128];
    assert_int_equal(live_shared_parse(p, "other", text, &back, why, sizeof why),
                     LD_OK);
    assert_int_equal(back.kind, LIVE_SHARED_REPEAT);
    assert_int_equal(back.workload, 0);
    assert_true(back.fp == 0xfedcba9876543210ULL);
    assert_int_equal(back.cls, LD_FC_SERVER_ERROR);
    assert_true(back.until_ms == 1780000000123);
    assert_int_equal(live_shared_parse(p, "me", text, &back, why, sizeof why),
                     LD_ENOENT);
    cJSON_free(text);

    live_shared_msg f = {LIVE_SHARED_FORGET, -1, LD_FC_NONE, 0, 0, 0, 0, 0};
    text = live_shared_format(p, "me", &f);
    assert_non_null(text);
    assert_int_equal(live_shared_parse(p, NULL, text, &back, why, sizeof why),
                     LD_OK);
    assert_int_equal(back.kind, LIVE_SHARED_FORGET);
    assert_int_equal(back.workload, 0);
    cJSON_free(text);
    /* a failed walk without a fingerprint is not news */
    m.fp = 0;
    assert_null(live_shared_format(p, "me", &m));
    ld_policy_free(p);
}

static void test_bad_repeat_messages_are_refused_with_a_reason(void **state)
{
    (void)state;
    ld_policy *p = policy();
    expect_refused(p, "{\"v\": 1, \"from\": \"x\", \"kind\": \"forget\", "
                      "\"workload\": \"zz\"}",
                   "workload: not a workload");
    expect_refused(p, "{\"v\": 1, \"from\": \"x\", \"kind\": \"repeat\", "
                      "\"workload\": \"w\", \"fp\": \"12\", \"class\": "
                      "\"server_error\", \"until_ms\": 1780000000000}",
                   "fp: not 16 hex digits");
    expect_refused(p, "{\"v\": 1, \"from\": \"x\", \"kind\": \"repeat\", "
                      "\"workload\": \"w\", \"fp\": \"00000000000000zz\", "
                      "\"class\": \"server_error\", \"until_ms\": 1780000000000}",
                   "fp: not 16 hex digits");
    expect_refused(p, "{\"v\": 1, \"from\": \"x\", \"kind\": \"repeat\", "
                      "\"workload\": \"w\", \"fp\": \"0000000000000000\", "
                      "\"class\": \"server_error\", \"until_ms\": 1780000000000}",
                   "fp: not 16 hex digits");
    expect_refused(p, "{\"v\": 1, \"from\": \"x\", \"kind\": \"repeat\", "
                      "\"workload\": \"w\", \"fp\": \"00000000000000ab\", "
                      "\"class\": \"none\", \"until_ms\": 1780000000000}",
                   "class: not a failure class");
    expect_refused(p, "{\"v\": 1, \"from\": \"x\", \"kind\": \"repeat\", "
                      "\"workload\": \"w\", \"fp\": \"00000000000000ab\", "
                      "\"class\": \"server_error\", \"until_ms\": 5}",
                   "until_ms: not a Unix time");
    ld_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_block_and_an_opening_round_trip),
        cmocka_unit_test(test_bad_messages_are_refused_with_a_reason),
        cmocka_unit_test(test_a_failed_walk_and_a_forget_round_trip),
        cmocka_unit_test(test_bad_repeat_messages_are_refused_with_a_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
