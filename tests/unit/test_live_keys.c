/* test_live_keys.c - the client keys file, hashing and lookup (live_keys.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "live_keys.h"

static const char policy_text[] =
    "{\"routes\": {\"A\": {\"provider\": \"openai\", \"model\": \"a\","
    "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2}}},"
    " \"tiers\": {\"free\": {}, \"paid\": {}, \"enterprise\": {}},"
    " \"workloads\": {\"chat\": {\"ladder\": [\"A\"]},"
    "                 \"report\": {\"ladder\": [\"A\"]}}}";

/* sha256("lk-secret-one") and sha256("lk-secret-two") */
static char h1[65], h2[65];

static ld_policy *policy(void)
{
    ld_policy *p = NULL;
    ld_error err;
    if (ld_policy_parse(policy_text, strlen(policy_text), "p.json", &p, &err) !=
        LD_OK)
        fail_msg("policy: %s", err.msg);
    return p;
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(live_keys_sha256_hex("lk-secret-one", 13, h1), LD_OK);
    assert_int_equal(live_keys_sha256_hex("lk-secret-two", 13, h2), LD_OK);
    return 0;
}

static int parse(const char *text, live_keys **k, ld_error *err)
{
    ld_policy *p = policy();
    int rc = live_keys_parse(text, strlen(text), "keys.jsonl", p, k, err);
    ld_policy_free(p);
    return rc;
}

static void test_sha256_matches_the_known_digest(void **state)
{
    (void)state;
    char hex[65];
    assert_int_equal(live_keys_sha256_hex("abc", 3, hex), LD_OK);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
                             "b410ff61f20015ad");
}

static void test_keys_are_found_by_their_secret_only(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text,
             "# team keys\n"
             "{\"id\": \"one\", \"sha256\": \"%s\", \"tier\": \"paid\","
             " \"tiers\": [\"free\"], \"workloads\": [\"chat\"], \"rpm\": 3}\n"
             "\n"
             "{\"id\": \"two\", \"sha256\": \"%s\", \"tier\": \"free\","
             " \"workloads\": \"all\", \"usd_per_day\": 0.5}\n",
             h1, h2);
    live_keys *k = NULL;
    ld_error err;
    assert_int_equal(parse(text, &k, &err), LD_OK);
    assert_int_equal(live_keys_count(k), 2);
    assert_int_equal(live_keys_find(k, "lk-secret-one", 13), 0);
    assert_int_equal(live_keys_find(k, "lk-secret-two", 13), 1);
    assert_int_equal(live_keys_find(k, "lk-secret-on", 12), -1);
    assert_int_equal(live_keys_find(k, h1, 64), -1); /* the hash is no secret */
    assert_int_equal(live_keys_find(k, "", 0), -1);
    assert_string_equal(live_keys_id(k, 1), "two");
    /* tiers: one's own and the ones it lists */
    assert_true(live_keys_allows_tier(k, 0, 1));  /* paid */
    assert_true(live_keys_allows_tier(k, 0, 0));  /* free */
    assert_false(live_keys_allows_tier(k, 0, 2)); /* enterprise */
    assert_false(live_keys_allows_tier(k, 1, 2));
    assert_int_equal(live_keys_tier(k, 1), 0);
    assert_true(live_keys_allows_workload(k, 0, 0));
    assert_false(live_keys_allows_workload(k, 0, 1));
    assert_true(live_keys_allows_workload(k, 1, 1));
    /* the limits reached the quota */
    ld_quota *q = live_keys_quota(k);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ld_quota_take(q, 0, 0, 1, 0, NULL), LD_QUOTA_OK);
    assert_int_equal(ld_quota_take(q, 0, 0, 1, 0, NULL), LD_QUOTA_RPM);
    assert_int_equal(ld_quota_take(q, 1, 0, 1, 0.6, NULL), LD_QUOTA_USD_DAY);
    live_keys_free(k);
}

static void expect_error(const char *text, const char *msg)
{
    live_keys *k = (live_keys *)1;
    ld_error err;
    assert_int_not_equal(parse(text, &k, &err), LD_OK);
    assert_null(k);
    if (strstr(err.msg, msg) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", msg, err.msg);
}

static void test_bad_entries_name_the_line_and_field(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text, "\n{\"id\": \"a\", \"sha256\": \"%s\", "
             "\"tier\": \"gold\", \"workloads\": \"all\"}\n", h1);
    expect_error(text, "keys.jsonl:2: tier: unknown tier \"gold\"");
    snprintf(text, sizeof text, "{\"id\": \"a\", \"sha256\": \"%s\", "
             "\"tier\": \"free\", \"workloads\": [\"chat\", \"x\"]}", h1);
    expect_error(text, "keys.jsonl:1: workloads[1]: unknown workload \"x\"");
    expect_error("{\"id\": \"a\", \"sha256\": \"abc\", \"tier\": \"free\", "
                 "\"workloads\": \"all\"}", "keys.jsonl:1: sha256: must be 64");
    snprintf(text, sizeof text, "{\"id\": \"a b\", \"sha256\": \"%s\", "
             "\"tier\": \"free\", \"workloads\": \"all\"}", h1);
    expect_error(text, "keys.jsonl:1: id: must be");
    snprintf(text, sizeof text, "{\"id\": \"a\", \"sha256\": \"%s\", "
             "\"tier\": \"free\", \"workloads\": \"all\", \"rpm\": 1.5}", h1);
    expect_error(text, "keys.jsonl:1: rpm: must be a whole number");
    snprintf(text, sizeof text, "{\"id\": \"a\", \"sha256\": \"%s\", "
             "\"tier\": \"free\", \"workloads\": \"all\", \"secret\": \"x\"}", h1);
    expect_error(text, "keys.jsonl:1: secret: unknown key");
    snprintf(text, sizeof text,
             "{\"id\": \"a\", \"sha256\": \"%s\", \"tier\": \"free\", "
             "\"workloads\": \"all\"}\n{\"id\": \"a\", \"sha256\": \"%s\", "
             "\"tier\": \"free\", \"workloads\": \"all\"}", h1, h2);
    expect_error(text, "keys.jsonl:2: id: \"a\" is already the id");
    snprintf(text, sizeof text,
             "{\"id\": \"a\", \"sha256\": \"%s\", \"tier\": \"free\", "
             "\"workloads\": \"all\"}\n{\"id\": \"b\", \"sha256\": \"%s\", "
             "\"tier\": \"free\", \"workloads\": \"all\"}", h1, h1);
    expect_error(text, "keys.jsonl:2: sha256: the same secret as key \"a\"");
    expect_error("{\"id\": ", "keys.jsonl:1:");
    expect_error("# nothing\n", "no keys");
}

static void test_a_reload_maps_keys_by_id(void **state)
{
    (void)state;
    char text[1024];
    live_keys *a = NULL, *b = NULL;
    ld_error err;
    snprintf(text, sizeof text,
             "{\"id\": \"one\", \"sha256\": \"%s\", \"tier\": \"paid\", \"workloads\": \"all\"}\n"
             "{\"id\": \"two\", \"sha256\": \"%s\", \"tier\": \"paid\", \"workloads\": \"all\"}\n",
             h1, h2);
    assert_int_equal(parse(text, &a, &err), LD_OK);
    /* the new file: "two" first, "one" gone, "three" new */
    snprintf(text, sizeof text,
             "{\"id\": \"two\", \"sha256\": \"%s\", \"tier\": \"free\", \"workloads\": \"all\"}\n"
             "{\"id\": \"three\", \"sha256\": \"%s\", \"tier\": \"paid\","
             " \"workloads\": \"all\"}\n",
             h2, h1);
    assert_int_equal(parse(text, &b, &err), LD_OK);
    bool oom = true;
    int *map = live_keys_map(a, b, &oom);
    assert_false(oom);
    assert_non_null(map);
    assert_int_equal(map[0], -1);
    assert_int_equal(map[1], 0);
    free(map);
    map = live_keys_map(b, a, &oom);
    assert_non_null(map);
    assert_int_equal(map[0], 1);
    assert_int_equal(map[1], -1);
    free(map);
    /* no keys on either side */
    assert_null(live_keys_map(NULL, a, &oom));
    assert_false(oom);
    map = live_keys_map(a, NULL, &oom);
    assert_non_null(map);
    assert_int_equal(map[0], -1);
    free(map);
    live_keys_free(a);
    live_keys_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_matches_the_known_digest),
        cmocka_unit_test(test_keys_are_found_by_their_secret_only),
        cmocka_unit_test(test_bad_entries_name_the_line_and_field),
        cmocka_unit_test(test_a_reload_maps_keys_by_id),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
