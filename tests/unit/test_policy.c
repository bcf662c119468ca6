/* test_policy.c - the policy loader: every refusal names the file, the JSON
 * path (or line and column) and the problem; a valid policy answers its
 * queries (indices, route info, effective constraints, resolved rules). */
#include "testutil.h"

#include <stdlib.h>

#include "ld_policy_int.h"

/* ---- helpers --------------------------------------------------------- */

/* Two routes and one workload that uses both: the smallest valid policy.
 * Tests splice their broken piece into it with POLICY(). */
#define ROUTE_A                                                             \
    "\"a\": {\"provider\": \"openai\", \"model\": \"m-a\", "               \
    "\"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2}, "          \
    "\"quality\": 0.8, \"regions\": [\"us\"], \"context_window\": 8000}"
#define ROUTE_B                                                             \
    "\"b\": {\"provider\": \"anthropic\", \"model\": \"m-b\", "            \
    "\"price\": {\"input_per_mtok\": 3, \"output_per_mtok\": 15}, "         \
    "\"quality\": 0.9, \"regions\": [\"eu\"], \"context_window\": 200000}"
#define ROUTES_AB "\"routes\": {" ROUTE_A ", " ROUTE_B "}"
#define WORKLOAD_W "\"w\": {\"ladder\": [\"a\", \"b\"]}"
/* A policy from a routes member, the workloads' members and extra
 * top-level members (each extra starts with a comma). */
#define POLICY(routes, workloads, extra)                                    \
    "{\"version\": 1, " routes ", \"workloads\": {" workloads "}" extra "}"
/* A policy whose one workload "w" has the given members besides its
 * ladder [a, b]. */
#define WORKLOAD_WITH(members)                                              \
    POLICY(ROUTES_AB, "\"w\": {\"ladder\": [\"a\", \"b\"], " members "}", "")

static const char *example_path(void)
{
    const char *d = getenv("LD_TEST_EXAMPLE");
    return d != NULL && d[0] != '\0' ? d : "examples/policy.json";
}

static ld_policy *parse_ok(const char *text)
{
    ld_policy *p = (ld_policy *)(uintptr_t)1; /* must be overwritten */
    ld_error err;
    err.msg[0] = '\0';
    int rc = ld_policy_parse(text, strlen(text), "p.json", &p, &err);
    if (rc != LD_OK)
        fail_msg("policy refused (%d): %s", rc, err.msg);
    assert_non_null(p);
    return p;
}

/* Parse text, expect want_rc, *out NULL and every needle (NULL-terminated
 * list) in the message. */
static void expect_error_(const char *text, size_t len, int want_rc, ...)
{
    ld_policy *p = (ld_policy *)(uintptr_t)1;
    ld_error err;
    memset(err.msg, 'X', sizeof err.msg - 1);
    err.msg[sizeof err.msg - 1] = '\0';
    int rc = ld_policy_parse(text, len, "p.json", &p, &err);
    if (rc == LD_OK) {
        ld_policy_free(p);
        fail_msg("policy accepted, expected an error");
    }
    if (p != NULL)
        fail_msg("*out is not NULL after an error");
    if (rc != want_rc)
        fail_msg("returned %d, expected %d (%s)", rc, want_rc, err.msg);
    if (strncmp(err.msg, "p.json: ", 8) != 0)
        fail_msg("message does not start with the file name: %s", err.msg);
    va_list ap;
    va_start(ap, want_rc);
    for (const char *n = va_arg(ap, const char *); n != NULL;
         n = va_arg(ap, const char *)) {
        if (strstr(err.msg, n) == NULL) {
            va_end(ap);
            fail_msg("message lacks \"%s\": %s", n, err.msg);
        }
    }
    va_end(ap);
}

#define expect_error(text, rc, ...)                                         \
    expect_error_((text), strlen(text), (rc), __VA_ARGS__, (const char *)NULL)

static ld_policy *load_example(void)
{
    FILE *f = fopen(example_path(), "rb");
    if (f == NULL)
        fail_msg("cannot open %s (run from the repository root or set "
                 "LD_TEST_EXAMPLE)", example_path());
    static char buf[64 * 1024];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof buf);
    ld_policy *p = NULL;
    ld_error err;
    int rc = ld_policy_parse(buf, n, "policy.json", &p, &err);
    if (rc != LD_OK)
        fail_msg("example refused: %s", err.msg);
    return p;
}

static const ld_rule *rule_of(const ld_policy *p, const char *workload,
                              ld_class cls)
{
    int w = ld_policy_workload_index(p, workload);
    assert_true(w >= 0);
    return &p->workloads[w].rules[cls];
}

static ld_class class_named(const char *name)
{
    ld_class c;
    assert_int_equal(ld_class_parse(name, &c), LD_OK);
    return c;
}

/* ---- JSON syntax ----------------------------------------------------- */

static void test_syntax_error_names_line_and_column(void **state)
{
    (void)state;
    /* a missing colon: the '{' in column 12 of line 3 */
    expect_error("{\n  \"version\": 1,\n  \"routes\" {}\n}", LD_EINVAL,
                 "p.json: line 3, column 12: JSON syntax error");
    /* a missing comma: the second key starts in column 21 */
    expect_error("{\n  \"version\": 1,\n  \"routes\": {\"a\": 1 \"b\": 2}\n}",
                 LD_EINVAL, "line 3, column 21: JSON syntax error");
    /* a bad literal starting in column 11 */
    expect_error("{\n  \"version\": 1,\n  \"name\": nope\n}", LD_EINVAL,
                 "line 3, column 11: JSON syntax error");
    /* the first byte is column 1 of line 1 */
    expect_error("x", LD_EINVAL, "line 1, column 1: JSON syntax error");
}

static void test_syntax_error_in_the_last_byte_is_not_end_of_file(void **state)
{
    (void)state;
    const char *t = "{\"version\": }";
    expect_error(t, LD_EINVAL, "line 1, column 13: JSON syntax error");
    ld_policy *p;
    ld_error err;
    assert_int_equal(ld_policy_parse(t, strlen(t), "p.json", &p, &err),
                     LD_EINVAL);
    assert_null(strstr(err.msg, "end of file"));
}

static void test_trailing_comma_names_its_line(void **state)
{
    (void)state;
    /* the comma itself is named (ld_json finds it; cJSON's own error
     * position is one byte late, DaveGamble/cJSON#792) */
    expect_error("{\n  \"version\": 1,\n  \"routes\": {\"a\": 1,}\n}", LD_EINVAL,
                 "p.json: trailing comma at line 3, column 20 (JSON allows no "
                 "comma before '}')", NULL);
}

static void test_truncated_policy_reports_unexpected_end_of_file(void **state)
{
    (void)state;
    /* ends right after the '{' in column 13 of line 3 */
    expect_error("{\n  \"version\": 1,\n  \"routes\": {", LD_EINVAL,
                 "p.json: line 3, column 14: JSON syntax error "
                 "(unexpected end of file)");
    expect_error("{\"version\": 1", LD_EINVAL, "line 1, column 14",
                 "unexpected end of file");
    expect_error("{\"version\": 1,\n", LD_EINVAL, "line 2, column 1",
                 "unexpected end of file");
    expect_error("", LD_EINVAL, "line 1, column 1", "unexpected end of file");
    expect_error("   ", LD_EINVAL, "unexpected end of file");
}

static void test_text_after_the_policy_object_is_refused(void **state)
{
    (void)state;
    expect_error(POLICY(ROUTES_AB, WORKLOAD_W, "") "\n  x", LD_EINVAL,
                 "line 2, column 3",
                 "JSON syntax error (text after the policy object)");
    /* white space after the object is fine */
    ld_policy_free(parse_ok(POLICY(ROUTES_AB, WORKLOAD_W, "") " \n\t\r\n"));
}

static void test_text_need_not_be_nul_terminated(void **state)
{
    (void)state;
    const char *valid = POLICY(ROUTES_AB, WORKLOAD_W, "");
    size_t len = strlen(valid);
    char *buf = malloc(len + 8);
    assert_non_null(buf);
    memcpy(buf, valid, len);
    memcpy(buf + len, "garbage!", 8); /* beyond len: never read */
    ld_policy *p = NULL;
    ld_error err;
    assert_int_equal(ld_policy_parse(buf, len, "p.json", &p, &err), LD_OK);
    assert_int_equal(ld_policy_route_count(p), 2);
    ld_policy_free(p);
    free(buf);
}

static void test_non_object_root_is_refused(void **state)
{
    (void)state;
    expect_error("[1, 2]", LD_EINVAL, "p.json: a policy must be a JSON object");
    expect_error("42", LD_EINVAL, "a policy must be a JSON object");
    expect_error("\"policy\"", LD_EINVAL, "a policy must be a JSON object");
}

static void test_null_text_is_refused(void **state)
{
    (void)state;
    ld_policy *p = (ld_policy *)(uintptr_t)1;
    ld_error err;
    assert_int_equal(ld_policy_parse(NULL, 0, "p.json", &p, &err), LD_EINVAL);
    assert_null(p);
    assert_non_null(strstr(err.msg, "p.json"));
}

static void test_policy_larger_than_the_cap_is_refused(void **state)
{
    (void)state;
    size_t len = (size_t)LD_MAX_POLICY_BYTES + 1;
    char *big = malloc(len);
    assert_non_null(big);
    memset(big, ' ', len);
    big[0] = '{';
    big[len - 1] = '}';
    ld_policy *p = (ld_policy *)(uintptr_t)1;
    ld_error err;
    assert_int_equal(ld_policy_parse(big, len, "p.json", &p, &err), LD_ELIMIT);
    assert_null(p);
    assert_non_null(strstr(err.msg, "larger than"));
    free(big);
}

static void test_errors_without_an_error_struct_still_fail(void **state)
{
    (void)state;
    const char *t = WORKLOAD_WITH("\"on\": {\"oops\": \"next\"}");
    ld_policy *p = (ld_policy *)(uintptr_t)1;
    assert_int_equal(ld_policy_parse(t, strlen(t), "p.json", &p, NULL),
                     LD_EINVAL);
    assert_null(p);
}

/* ---- top level ------------------------------------------------------- */

static void test_version_2_is_refused(void **state)
{
    (void)state;
    expect_error("{\"version\": 2, " ROUTES_AB ", \"workloads\": {" WORKLOAD_W
                 "}}",
                 LD_EINVAL, "p.json: version: ",
                 "unsupported policy version");
    expect_error("{\"version\": \"1\", " ROUTES_AB ", \"workloads\": {"
                 WORKLOAD_W "}}",
                 LD_EINVAL, "version: ", "unsupported policy version");
}

static void test_unknown_top_level_key_names_it_and_the_known_ones(void **state)
{
    (void)state;
    expect_error(POLICY(ROUTES_AB, WORKLOAD_W, ", \"teirs\": {}"), LD_EINVAL,
                 "p.json: teirs: unknown key", "tiers");
}

static void test_comment_keys_are_ignored(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(
        "{\"version\": 1, \"_comment\": \"x\", \"description\": \"y\", "
        "\"routes\": {\"_note\": 1, " ROUTE_A ", " ROUTE_B "}, "
        "\"workloads\": {\"w\": {\"notes\": \"z\", \"ladder\": [\"a\", \"b\"], "
        "\"on\": {\"$comment\": 1, \"server_error\": \"next\", "
        "\"overloaded\": {\"same_as\": \"server_error\", \"_why\": \"same\"}}}}}");
    assert_int_equal(ld_policy_route_count(p), 2);
    assert_int_equal(ld_policy_workload_count(p), 1);
    assert_int_equal(rule_of(p, "w", LD_FC_OVERLOADED)->kind, LD_ACT_NEXT);
    assert_int_equal(rule_of(p, "w", LD_FC_OVERLOADED)->set, 1);
    ld_policy_free(p);
}

static void test_duplicate_key_names_its_path(void **state)
{
    (void)state;
    expect_error("{\"version\": 1, " ROUTES_AB ", " ROUTES_AB
                 ", \"workloads\": {" WORKLOAD_W "}}",
                 LD_EINVAL, "p.json: routes: duplicate key");
    expect_error(POLICY("\"routes\": {" ROUTE_A ", " ROUTE_B ", " ROUTE_A "}",
                        WORKLOAD_W, ""),
                 LD_EINVAL, "p.json: routes.a: duplicate key");
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"openai\", "
                        "\"model\": \"m\", \"quality\": 0.5, \"quality\": 0.6, "
                        "\"price\": {\"input_per_mtok\": 1, "
                        "\"output_per_mtok\": 1}}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "routes.a.quality: duplicate key");
    expect_error(WORKLOAD_WITH("\"on\": {\"reset\": \"next\", \"reset\": "
                               "\"fail\"}"),
                 LD_EINVAL, "workloads.w.on.reset: duplicate key");
}

static void test_missing_routes_or_workloads_is_refused(void **state)
{
    (void)state;
    expect_error("{\"workloads\": {" WORKLOAD_W "}}", LD_EINVAL,
                 "p.json: routes: missing");
    expect_error("{" ROUTES_AB "}", LD_EINVAL, "p.json: workloads: missing");
    expect_error(POLICY("\"routes\": {}", WORKLOAD_W, ""), LD_EINVAL,
                 "routes: no routes");
    expect_error(POLICY(ROUTES_AB, "", ""), LD_EINVAL,
                 "workloads: no workloads");
    expect_error("{" ROUTES_AB ", \"workloads\": []}", LD_EINVAL,
                 "workloads: must be an object");
}

static void test_unknown_default_workload_is_refused(void **state)
{
    (void)state;
    expect_error(POLICY(ROUTES_AB, WORKLOAD_W,
                        ", \"defaults\": {\"workload\": \"nope\"}"),
                 LD_EINVAL, "p.json: defaults.workload: ",
                 "unknown workload \"nope\"");
    expect_error(POLICY(ROUTES_AB, WORKLOAD_W,
                        ", \"defaults\": {\"tier\": \"gold\"}"),
                 LD_EINVAL, "p.json: defaults.tier: ", "unknown tier \"gold\"");
}

/* ---- routes ---------------------------------------------------------- */

static void test_unknown_route_key_names_the_typo(void **state)
{
    (void)state;
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"openai\", "
                        "\"model\": \"m\", \"qualty\": 0.5, "
                        "\"price\": {\"input_per_mtok\": 1, "
                        "\"output_per_mtok\": 1}}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "p.json: routes.a.qualty: unknown key",
                 "quality");
}

static void test_missing_price_is_refused(void **state)
{
    (void)state;
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"openai\", "
                        "\"model\": \"m\"}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "p.json: routes.a.price: missing",
                 "input_per_mtok");
}

static void test_negative_price_is_out_of_range(void **state)
{
    (void)state;
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"openai\", "
                        "\"model\": \"m\", \"price\": {\"input_per_mtok\": -1, "
                        "\"output_per_mtok\": 1}}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "p.json: routes.a.price.input_per_mtok: ",
                 "-1 is out of range");
}

static void test_price_without_output_per_mtok_is_refused(void **state)
{
    (void)state;
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"openai\", "
                        "\"model\": \"m\", \"price\": {\"input_per_mtok\": 1}}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "p.json: routes.a.price.output_per_mtok: missing");
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"openai\", "
                        "\"model\": \"m\", \"price\": {\"input_per_mtok\": 1, "
                        "\"output_per_mtok\": \"cheap\"}}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "routes.a.price.output_per_mtok: must be a number");
}

static void test_quality_outside_zero_to_one_is_refused(void **state)
{
    (void)state;
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"openai\", "
                        "\"model\": \"m\", \"quality\": 1.5, "
                        "\"price\": {\"input_per_mtok\": 1, "
                        "\"output_per_mtok\": 1}}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "p.json: routes.a.quality: ",
                 "1.5 is out of range [0, 1]");
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"openai\", "
                        "\"model\": \"m\", \"quality\": -0.1, "
                        "\"price\": {\"input_per_mtok\": 1, "
                        "\"output_per_mtok\": 1}}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "routes.a.quality: ", "out of range [0, 1]");
}

static void test_regions_must_be_an_array(void **state)
{
    (void)state;
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"openai\", "
                        "\"model\": \"m\", \"regions\": \"us\", "
                        "\"price\": {\"input_per_mtok\": 1, "
                        "\"output_per_mtok\": 1}}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "p.json: routes.a.regions: ",
                 "must be a non-empty array of region names");
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"openai\", "
                        "\"model\": \"m\", \"regions\": [\"us\", 3], "
                        "\"price\": {\"input_per_mtok\": 1, "
                        "\"output_per_mtok\": 1}}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "routes.a.regions[1]: must be a region name");
}

static void test_unknown_provider_and_capability_are_refused(void **state)
{
    (void)state;
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"cohere\", "
                        "\"model\": \"m\", \"price\": {\"input_per_mtok\": 1, "
                        "\"output_per_mtok\": 1}}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "routes.a.provider: ",
                 "unknown provider \"cohere\" (expected openai, anthropic, "
                 "azure, bedrock or gemini)");
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"openai\", "
                        "\"model\": \"m\", \"capabilities\": [\"stream\", "
                        "\"telepathy\"], \"price\": {\"input_per_mtok\": 1, "
                        "\"output_per_mtok\": 1}}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "routes.a.capabilities[1]: ",
                 "unknown capability (expected stream, tools, prefill, vision, "
                 "json, n or responses)");
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"anthropic\", "
                        "\"model\": \"m\", \"capabilities\": [\"responses\"], "
                        "\"price\": {\"input_per_mtok\": 1, "
                        "\"output_per_mtok\": 1}}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "routes.a.capabilities: ",
                 "\"responses\" (the Responses API passed through) is for "
                 "provider openai routes; the others get Responses requests "
                 "translated");
}

static void test_more_routes_than_the_cap_is_refused(void **state)
{
    (void)state;
    size_t cap = 64 * 1024, n = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    n += (size_t)snprintf(t + n, cap - n, "{\"routes\": {");
    for (int i = 0; i <= LD_MAX_ROUTES; i++)
        n += (size_t)snprintf(t + n, cap - n,
                              "%s\"r%d\": {\"provider\": \"openai\", "
                              "\"model\": \"m\", \"price\": "
                              "{\"input_per_mtok\": 1, "
                              "\"output_per_mtok\": 1}}",
                              i ? ", " : "", i);
    n += (size_t)snprintf(t + n, cap - n,
                          "}, \"workloads\": {\"w\": {\"ladder\": [\"r0\"]}}}");
    assert_true(n < cap);
    char path[32];
    snprintf(path, sizeof path, "p.json: routes.r%d: ", LD_MAX_ROUTES);
    expect_error(t, LD_ELIMIT, path, "more than 64 routes");
    free(t);
}

static void test_exactly_the_route_cap_loads(void **state)
{
    (void)state;
    size_t cap = 64 * 1024, n = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    n += (size_t)snprintf(t + n, cap - n, "{\"routes\": {");
    for (int i = 0; i < LD_MAX_ROUTES; i++)
        n += (size_t)snprintf(t + n, cap - n,
                              "%s\"r%d\": {\"provider\": \"openai\", "
                              "\"model\": \"m\", \"price\": "
                              "{\"input_per_mtok\": 1, "
                              "\"output_per_mtok\": 1}}",
                              i ? ", " : "", i);
    n += (size_t)snprintf(t + n, cap - n,
                          "}, \"workloads\": {\"w\": {\"ladder\": [\"r0\"]}}}");
    assert_true(n < cap);
    ld_policy *p = parse_ok(t);
    assert_int_equal(ld_policy_route_count(p), LD_MAX_ROUTES);
    assert_int_equal(ld_policy_route_index(p, "r63"), 63);
    ld_policy_free(p);
    free(t);
}

/* ---- workloads: ladder and roles -------------------------------------- */

static void test_unknown_route_in_ladder_names_the_path(void **state)
{
    (void)state;
    expect_error(POLICY(ROUTES_AB, "\"w\": {\"ladder\": [\"a\", \"zz\"]}", ""),
                 LD_EINVAL, "p.json: workloads.w.ladder[1]: ",
                 "unknown route \"zz\"");
    expect_error(POLICY(ROUTES_AB, "\"w\": {\"ladder\": [\"a\", 7]}", ""),
                 LD_EINVAL, "workloads.w.ladder[1]: must be a route id");
}

static void test_unknown_route_in_role_names_the_role(void **state)
{
    (void)state;
    expect_error(WORKLOAD_WITH("\"roles\": {\"low_cost\": \"zz\"}"), LD_EINVAL,
                 "p.json: workloads.w.roles.low_cost: ",
                 "unknown route \"zz\"");
    expect_error(WORKLOAD_WITH("\"roles\": {\"cheap\": \"a\"}"), LD_EINVAL,
                 "workloads.w.roles.cheap: unknown key", "low_cost");
}

static void test_duplicate_route_in_ladder_names_both_rungs(void **state)
{
    (void)state;
    expect_error(POLICY(ROUTES_AB,
                        "\"w\": {\"ladder\": [\"a\", \"b\", \"a\"]}", ""),
                 LD_EINVAL, "p.json: workloads.w.ladder[2]: ",
                 "route \"a\" appears twice", "first at [0]");
}

static void test_empty_ladder_is_refused(void **state)
{
    (void)state;
    expect_error(POLICY(ROUTES_AB, "\"w\": {\"ladder\": []}", ""), LD_EINVAL,
                 "p.json: workloads.w.ladder: ",
                 "must be a non-empty array of route ids");
    expect_error(POLICY(ROUTES_AB, "\"w\": {\"ladder\": \"a\"}", ""),
                 LD_EINVAL, "workloads.w.ladder: ", "non-empty array");
}

static void test_missing_ladder_is_refused(void **state)
{
    (void)state;
    expect_error(POLICY(ROUTES_AB, "\"w\": {\"roles\": {\"low_cost\": \"a\"}}",
                        ""),
                 LD_EINVAL, "p.json: workloads.w.ladder: missing");
}

static void test_ladder_longer_than_the_cap_is_refused(void **state)
{
    (void)state;
    size_t cap = 32 * 1024, n = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    n += (size_t)snprintf(t + n, cap - n, "{\"routes\": {");
    for (int i = 0; i <= LD_MAX_LADDER; i++)
        n += (size_t)snprintf(t + n, cap - n,
                              "%s\"r%d\": {\"provider\": \"openai\", "
                              "\"model\": \"m\", \"price\": "
                              "{\"input_per_mtok\": 1, "
                              "\"output_per_mtok\": 1}}",
                              i ? ", " : "", i);
    n += (size_t)snprintf(t + n, cap - n, "}, \"workloads\": {\"w\": {\"ladder\": [");
    for (int i = 0; i <= LD_MAX_LADDER; i++)
        n += (size_t)snprintf(t + n, cap - n, "%s\"r%d\"", i ? ", " : "", i);
    n += (size_t)snprintf(t + n, cap - n, "]}}}");
    assert_true(n < cap);
    char path[48];
    snprintf(path, sizeof path, "workloads.w.ladder[%d]: ", LD_MAX_LADDER);
    expect_error(t, LD_ELIMIT, path, "ladder longer than 16 rungs");
    free(t);
}

/* ---- workloads: constraints and tiers ---------------------------------- */

static void test_tier_naming_an_unknown_constraint_names_the_key(void **state)
{
    (void)state;
    expect_error(POLICY(ROUTES_AB, WORKLOAD_W,
                        ", \"tiers\": {\"free\": {\"max_cost\": 1}}"),
                 LD_EINVAL, "p.json: tiers.free.max_cost: ",
                 "a tier names an unknown constraint", "max_cost_usd");
    expect_error(WORKLOAD_WITH("\"constraints\": {\"ttft\": 100}"), LD_EINVAL,
                 "p.json: workloads.w.constraints.ttft: ",
                 "the workload names an unknown constraint");
}

static void test_zero_timeouts_and_bad_constraint_values_are_refused(void **state)
{
    (void)state;
    expect_error(WORKLOAD_WITH("\"constraints\": {\"ttft_ms\": 0}"), LD_EINVAL,
                 "workloads.w.constraints.ttft_ms: must be > 0");
    expect_error(WORKLOAD_WITH("\"constraints\": {\"min_quality\": 2}"),
                 LD_EINVAL, "workloads.w.constraints.min_quality: ",
                 "out of range");
    expect_error(POLICY(ROUTES_AB, WORKLOAD_W,
                        ", \"tiers\": {\"free\": {\"max_cost_usd\": -0.5}}"),
                 LD_EINVAL, "tiers.free.max_cost_usd: ", "out of range");
    expect_error(POLICY(ROUTES_AB, WORKLOAD_W, ", \"tiers\": {}"), LD_EINVAL,
                 "p.json: tiers: is empty");
}

static void test_unknown_default_tier_of_a_workload_is_refused(void **state)
{
    (void)state;
    expect_error(POLICY(ROUTES_AB,
                        "\"w\": {\"ladder\": [\"a\"], \"default_tier\": "
                        "\"gold\"}",
                        ", \"tiers\": {\"free\": {}}"),
                 LD_EINVAL, "p.json: workloads.w.default_tier: ",
                 "unknown tier \"gold\"");
}

/* ---- workloads: rules -------------------------------------------------- */

static void test_unknown_failure_class_in_on_names_it(void **state)
{
    (void)state;
    expect_error(WORKLOAD_WITH("\"on\": {\"server_eror\": \"next\"}"),
                 LD_EINVAL, "p.json: workloads.w.on.server_eror: ",
                 "unknown failure class \"server_eror\"");
}

static void test_unknown_action_lists_the_known_ones(void **state)
{
    (void)state;
    expect_error(WORKLOAD_WITH("\"on\": {\"server_error\": \"retyr\"}"),
                 LD_EINVAL, "p.json: workloads.w.on.server_error: ",
                 "unknown action \"retyr\"", "wait_retry_after");
    expect_error(WORKLOAD_WITH("\"on\": {\"server_error\": "
                               "{\"action\": \"jump\"}}"),
                 LD_EINVAL, "p.json: workloads.w.on.server_error.action: ",
                 "unknown action \"jump\"");
    expect_error(WORKLOAD_WITH("\"on\": {\"server_error\": {\"max\": 2}}"),
                 LD_EINVAL, "workloads.w.on.server_error.action: missing");
    expect_error(WORKLOAD_WITH("\"on\": {\"server_error\": 3}"), LD_EINVAL,
                 "workloads.w.on.server_error: ",
                 "must be an action name or an object");
    /* "role" is a kind, not a word a policy may write */
    expect_error(WORKLOAD_WITH("\"on\": {\"server_error\": \"role\"}"),
                 LD_EINVAL, "unknown action \"role\"");
}

static void test_retry_options_on_other_actions_are_refused(void **state)
{
    (void)state;
    expect_error(WORKLOAD_WITH("\"on\": {\"server_error\": "
                               "{\"action\": \"next\", \"max\": 2}}"),
                 LD_EINVAL, "workloads.w.on.server_error.max: ",
                 "applies only to retry and wait_retry_after");
    expect_error(WORKLOAD_WITH("\"on\": {\"server_error\": "
                               "{\"action\": \"retry\", \"max\": 11}}"),
                 LD_EINVAL, "workloads.w.on.server_error.max: ",
                 "out of range");
}

static void test_same_as_loop_is_refused(void **state)
{
    (void)state;
    /* overloaded -> server_error -> overloaded */
    expect_error(WORKLOAD_WITH("\"on\": {"
                               "\"server_error\": {\"same_as\": \"overloaded\"}, "
                               "\"overloaded\": {\"same_as\": \"server_error\"}}"),
                 LD_EINVAL, "p.json: workloads.w.on.overloaded: ",
                 "rule loop", "same_as");
    /* a longer cycle not through the first class found */
    expect_error(WORKLOAD_WITH("\"on\": {"
                               "\"connect_error\": {\"same_as\": \"reset\"}, "
                               "\"reset\": {\"same_as\": \"stream_cut\"}, "
                               "\"stream_cut\": {\"same_as\": \"reset\"}}"),
                 LD_EINVAL, "p.json: workloads.w.on.", "rule loop");
}

static void test_same_as_itself_is_a_loop(void **state)
{
    (void)state;
    expect_error(WORKLOAD_WITH("\"on\": {\"reset\": {\"same_as\": \"reset\"}}"),
                 LD_EINVAL, "p.json: workloads.w.on.reset: ", "rule loop",
                 "\"reset\"");
}

static void test_no_rule_can_name_a_client_key_limit(void **state)
{
    (void)state;
    expect_error(WORKLOAD_WITH("\"on\": {\"key_limit\": \"next\"}"),
                 LD_EINVAL, "workloads.w.on.key_limit: ",
                 "ends a request before its ladder");
    expect_error(WORKLOAD_WITH("\"on\": {\"reset\": {\"same_as\": "
                               "\"key_limit\"}}"),
                 LD_EINVAL, "workloads.w.on.reset.same_as: ",
                 "a rule applies to");
}

static void test_same_as_must_stand_alone_and_name_a_class(void **state)
{
    (void)state;
    expect_error(WORKLOAD_WITH("\"on\": {\"reset\": {\"same_as\": \"timeout\"}}"),
                 LD_EINVAL, "workloads.w.on.reset.same_as: ",
                 "must name a failure class");
    expect_error(WORKLOAD_WITH("\"on\": {\"reset\": {\"same_as\": "
                               "\"overloaded\", \"action\": \"next\"}}"),
                 LD_EINVAL, "workloads.w.on.reset: ", "stands alone");
    expect_error(WORKLOAD_WITH("\"on\": {\"*\": {\"same_as\": \"reset\"}}"),
                 LD_EINVAL, "workloads.w.on.*: ",
                 "the wildcard rule cannot be \"same_as\"");
}

static void test_else_that_retries_again_is_a_loop(void **state)
{
    (void)state;
    expect_error(WORKLOAD_WITH("\"on\": {\"server_error\": {\"action\": "
                               "\"retry\", \"else\": \"retry\"}}"),
                 LD_EINVAL, "p.json: workloads.w.on.server_error.else: ",
                 "rule loop");
    expect_error(WORKLOAD_WITH("\"on\": {\"rate_limited\": {\"action\": "
                               "\"retry\", \"else\": \"wait_retry_after\"}}"),
                 LD_EINVAL, "workloads.w.on.rate_limited.else: ", "rule loop");
    expect_error(WORKLOAD_WITH("\"on\": {\"rate_limited\": {\"action\": "
                               "\"wait_retry_after\", \"else\": \"stop\"}}"),
                 LD_EINVAL, "workloads.w.on.rate_limited.else: ",
                 "must be an action name");
}

static void test_role_action_needs_the_role_defined(void **state)
{
    (void)state;
    expect_error(WORKLOAD_WITH("\"on\": {\"timeout_ttft\": \"low_latency\"}"),
                 LD_EINVAL, "p.json: workloads.w.on.timeout_ttft: ",
                 "role \"low_latency\"", "roles do not name it");
    /* through a retry's else */
    expect_error(WORKLOAD_WITH("\"roles\": {\"low_latency\": \"a\"}, "
                               "\"on\": {\"server_error\": {\"action\": "
                               "\"retry\", \"else\": \"low_cost\"}}"),
                 LD_EINVAL, "workloads.w.on.server_error: ",
                 "role \"low_cost\"");
    /* through the wildcard */
    expect_error(WORKLOAD_WITH("\"on\": {\"*\": \"high_quality\"}"), LD_EINVAL,
                 "workloads.w.on.*: ", "role \"high_quality\"");
    /* through same_as */
    expect_error(WORKLOAD_WITH("\"on\": {\"budget_exceeded\": \"low_cost\", "
                               "\"latency_ceiling\": "
                               "{\"same_as\": \"budget_exceeded\"}}"),
                 LD_EINVAL, "workloads.w.on.", "role \"low_cost\"");
}

static void test_hedge_after_must_be_a_ttft_percentile(void **state)
{
    (void)state;
    expect_error(WORKLOAD_WITH("\"hedge\": {\"after\": \"p95\"}"), LD_EINVAL,
                 "p.json: workloads.w.hedge.after: ", "p95_ttft");
    expect_error(WORKLOAD_WITH("\"hedge\": {\"after\": \"p100_ttft\"}"),
                 LD_EINVAL, "workloads.w.hedge.after: ", "from 1 to 99");
    expect_error(WORKLOAD_WITH("\"hedge\": {\"after\": \"p0_ttft\"}"),
                 LD_EINVAL, "workloads.w.hedge.after: ");
    expect_error(WORKLOAD_WITH("\"hedge\": {\"after\": \"p95_ttftx\"}"),
                 LD_EINVAL, "workloads.w.hedge.after: ");
    expect_error(WORKLOAD_WITH("\"hedge\": {\"max_extra\": 1}"), LD_EINVAL,
                 "workloads.w.hedge: ", "needs \"after_ms\"");
    expect_error(WORKLOAD_WITH("\"hedge\": {\"after_ms\": 100, "
                               "\"max_extra\": 4}"),
                 LD_EINVAL, "workloads.w.hedge.max_extra: ", "out of range");
}

static void test_safe_failure_status_must_be_http(void **state)
{
    (void)state;
    expect_error(WORKLOAD_WITH("\"safe_failure\": {\"status\": 99}"),
                 LD_EINVAL, "workloads.w.safe_failure.status: ",
                 "out of range");
    expect_error(WORKLOAD_WITH("\"safe_failure\": {\"message\": \"\"}"),
                 LD_EINVAL, "workloads.w.safe_failure.message: ",
                 "non-empty string");
}

/* ---- valid policies ---------------------------------------------------- */

static void test_example_policy_loads_with_its_names(void **state)
{
    (void)state;
    ld_policy *p = load_example();
    assert_int_equal(ld_policy_route_count(p), 4);
    assert_int_equal(ld_policy_workload_count(p), 2);
    assert_int_equal(ld_policy_tier_count(p), 3);
    static const char *const routes[] = {"gpt-4.1", "claude-sonnet",
                                         "llama-70b-fast", "gpt-4.1-mini"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ld_policy_route_index(p, routes[i]), i);
        assert_string_equal(ld_policy_route_id(p, i), routes[i]);
    }
    assert_int_equal(ld_policy_workload_index(p, "chat"), 0);
    assert_int_equal(ld_policy_workload_index(p, "report"), 1);
    assert_string_equal(ld_policy_workload_name(p, 1), "report");
    assert_int_equal(ld_policy_tier_index(p, "free"), 0);
    assert_int_equal(ld_policy_tier_index(p, "paid"), 1);
    assert_int_equal(ld_policy_tier_index(p, "enterprise"), 2);
    assert_string_equal(ld_policy_tier_name(p, 2), "enterprise");
    /* unknown names and bad indices */
    assert_int_equal(ld_policy_route_index(p, "gpt-5"), LD_ENOENT);
    assert_int_equal(ld_policy_workload_index(p, "batch"), LD_ENOENT);
    assert_int_equal(ld_policy_tier_index(p, "gold"), LD_ENOENT);
    assert_string_equal(ld_policy_route_id(p, 4), "-");
    assert_string_equal(ld_policy_route_id(p, -1), "-");
    assert_string_equal(ld_policy_workload_name(p, 2), "-");
    assert_string_equal(ld_policy_tier_name(p, 3), "-");
    /* no "defaults" block: the first workload and tier */
    assert_int_equal(ld_policy_default_workload(p), 0);
    assert_int_equal(ld_policy_default_tier(p), 0);
    /* the example's name is the file name it was parsed under */
    assert_string_equal(p->name, "policy.json");
    ld_policy_free(p);
}

static void test_route_info_reports_the_example_routes(void **state)
{
    (void)state;
    ld_policy *p = load_example();
    ld_route_info ri;
    assert_int_equal(ld_policy_route_info(p, 1, &ri), LD_OK);
    assert_string_equal(ri.id, "claude-sonnet");
    assert_int_equal(ri.provider, LD_PROVIDER_ANTHROPIC);
    assert_string_equal(ri.model, "claude-sonnet-4-5");
    assert_string_equal(ri.base_url, "https://api.anthropic.com/v1");
    assert_string_equal(ri.api_key_env, "ANTHROPIC_API_KEY");
    assert_null(ri.upstream);
    assert_near(ri.input_per_mtok, 3.0, 1e-12);
    assert_near(ri.output_per_mtok, 15.0, 1e-12);
    assert_near(ri.quality, 0.92, 1e-12);
    assert_true(ri.context_window == 1000000);
    assert_int_equal(ri.caps, LD_CAP_STREAM | LD_CAP_TOOLS);
    assert_int_equal(ri.max_concurrency, 0);

    assert_int_equal(ld_policy_route_info(p, 2, &ri), LD_OK);
    assert_string_equal(ri.id, "llama-70b-fast");
    assert_int_equal(ri.provider, LD_PROVIDER_OPENAI);
    assert_near(ri.input_per_mtok, 0.59, 1e-12);
    assert_near(ri.output_per_mtok, 0.79, 1e-12);
    assert_near(ri.quality, 0.75, 1e-12);
    assert_true(ri.context_window == 128000);
    assert_int_equal(ri.caps, LD_CAP_STREAM | LD_CAP_PREFILL);

    assert_int_equal(ld_policy_route_info(p, 4, &ri), LD_EINVAL);
    assert_int_equal(ld_policy_route_info(p, -1, &ri), LD_EINVAL);
    ld_policy_free(p);
}

static void test_route_defaults_and_optional_fields(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(POLICY(
        "\"routes\": {\"a\": {\"provider\": \"openai\", \"model\": \"m\", "
        "\"price\": {\"input_per_mtok\": 0, \"output_per_mtok\": 0}}, "
        "\"b\": {\"provider\": \"openai\", \"model\": \"m2\", "
        "\"upstream\": \"pool\", \"max_concurrency\": 8, "
        "\"capabilities\": [\"json\", \"vision\"], "
        "\"timeouts\": {\"ttft_ms\": 700}, "
        "\"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}}}",
        "\"w\": {\"ladder\": [\"a\", \"b\"]}", ""));
    ld_route_info ri;
    assert_int_equal(ld_policy_route_info(p, 0, &ri), LD_OK);
    assert_near(ri.quality, 0.5, 1e-12);        /* default */
    assert_true(ri.context_window == 128000);   /* default */
    assert_int_equal(ri.caps, LD_CAP_STREAM);   /* default */
    assert_null(ri.base_url);
    assert_null(ri.api_key_env);
    assert_int_equal(ld_policy_route_info(p, 1, &ri), LD_OK);
    assert_string_equal(ri.upstream, "pool");
    assert_int_equal(ri.max_concurrency, 8);
    assert_int_equal(ri.caps, LD_CAP_JSON | LD_CAP_VISION);
    assert_true(p->routes[1].ttft_timeout == ld_ms(700));
    /* no tiers: one implicit tier that overrides nothing */
    assert_int_equal(ld_policy_tier_count(p), 1);
    assert_string_equal(ld_policy_tier_name(p, 0), "default");
    ld_policy_free(p);
}

static void test_tier_overrides_replace_workload_constraints(void **state)
{
    (void)state;
    ld_policy *p = load_example();
    int chat = ld_policy_workload_index(p, "chat");
    int report = ld_policy_workload_index(p, "report");
    int free_t = ld_policy_tier_index(p, "free");
    int paid = ld_policy_tier_index(p, "paid");
    int ent = ld_policy_tier_index(p, "enterprise");

    /* free: cost replaced, quality restated, timeouts inherited */
    const ld_constraints *k = ld_policy_eff(p, chat, free_t);
    assert_near(k->max_cost, 0.005, 1e-12);
    assert_near(k->min_quality, 0.70, 1e-12);
    assert_true(k->ttft == ld_ms(2500));
    assert_true(k->total == ld_ms(30000));
    assert_false(k->set & LD_C_REGIONS);
    assert_false(k->set & LD_C_STALL);

    /* paid overrides nothing: the workload's own */
    k = ld_policy_eff(p, chat, paid);
    assert_near(k->max_cost, 0.05, 1e-12);
    assert_near(k->min_quality, 0.70, 1e-12);
    assert_int_equal(k->set, p->workloads[chat].cons.set);

    /* enterprise: quality raised, regions added, cost inherited */
    k = ld_policy_eff(p, chat, ent);
    assert_near(k->min_quality, 0.88, 1e-12);
    assert_near(k->max_cost, 0.05, 1e-12);
    assert_true(k->set & LD_C_REGIONS);
    int eu = -1;
    for (int i = 0; i < p->nregions; i++)
        if (strcmp(p->regions[i], "eu") == 0)
            eu = i;
    assert_true(eu >= 0);
    assert_int_equal(k->regions, 1u << eu);

    /* a tier may lower a workload's floor too: it replaces, never merges */
    k = ld_policy_eff(p, report, free_t);
    assert_near(k->min_quality, 0.70, 1e-12);
    assert_near(k->max_cost, 0.005, 1e-12);
    assert_true(k->total == ld_ms(300000));
    assert_false(k->set & LD_C_TTFT);

    /* tier -1 (none): the workload's constraints */
    k = ld_policy_eff(p, report, -1);
    assert_near(k->min_quality, 0.85, 1e-12);
    assert_near(k->max_cost, 0.50, 1e-12);
    /* a bad workload: nothing set */
    assert_int_equal(ld_policy_eff(p, 7, 0)->set, 0);

    char buf[256];
    ld_policy_describe_constraints(p, chat, free_t, buf, sizeof buf);
    assert_string_equal(buf, "ttft 2500 ms, total 30000 ms, max $0.0050, "
                             "quality >= 0.70");
    ld_policy_describe_constraints(p, chat, ent, buf, sizeof buf);
    assert_string_equal(buf, "ttft 2500 ms, total 30000 ms, max $0.0500, "
                             "quality >= 0.88, regions eu");
    ld_policy_free(p);
}

static void test_unconstrained_workload_describes_itself(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(POLICY(ROUTES_AB, WORKLOAD_W, ""));
    char buf[64];
    ld_policy_describe_constraints(p, 0, 0, buf, sizeof buf);
    assert_string_equal(buf, "no constraints");
    ld_policy_free(p);
}

static void test_defaults_block_picks_workload_and_tier(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(POLICY(
        ROUTES_AB, "\"w\": {\"ladder\": [\"a\"]}, \"v\": {\"ladder\": [\"b\"], "
                   "\"default_tier\": \"free\"}",
        ", \"tiers\": {\"free\": {}, \"paid\": {}}, "
        "\"defaults\": {\"workload\": \"v\", \"tier\": \"paid\"}"));
    assert_int_equal(ld_policy_default_workload(p), 1);
    assert_int_equal(ld_policy_default_tier(p), 1);
    assert_int_equal(p->workloads[1].default_tier, 0);
    assert_int_equal(p->workloads[0].default_tier, -1);
    ld_policy_free(p);
}

static void test_example_rules_resolve_as_written(void **state)
{
    (void)state;
    ld_policy *p = load_example();
    const ld_rule *r = rule_of(p, "chat", LD_FC_SERVER_ERROR);
    assert_int_equal(r->kind, LD_ACT_RETRY);
    assert_int_equal(r->max, 1);
    assert_true(r->backoff == ld_ms(200));
    assert_int_equal(r->else_kind, LD_ACT_NEXT);
    assert_int_equal(r->set, 1);

    r = rule_of(p, "chat", LD_FC_RATE_LIMITED);
    assert_int_equal(r->kind, LD_ACT_WAIT_RETRY_AFTER);
    assert_true(r->max_wait == ld_ms(2000));

    r = rule_of(p, "chat", LD_FC_TIMEOUT_TTFT);
    assert_int_equal(r->kind, LD_ACT_ROLE);
    assert_int_equal(r->role, LD_ROLE_LOW_LATENCY);

    r = rule_of(p, "chat", LD_FC_CONTEXT_LENGTH);
    assert_int_equal(r->kind, LD_ACT_NEXT_LARGER_CONTEXT);
    assert_int_equal(r->set, 1);

    /* chat names no rule for quota_exhausted: the built-in next */
    r = rule_of(p, "chat", LD_FC_QUOTA_EXHAUSTED);
    assert_int_equal(r->kind, LD_ACT_NEXT);
    assert_int_equal(r->set, 0);

    /* report: named rules win over the wildcard */
    r = rule_of(p, "report", LD_FC_CONTENT_BLOCKED);
    assert_int_equal(r->kind, LD_ACT_FAIL);
    assert_int_equal(r->set, 1);
    r = rule_of(p, "report", LD_FC_CONTEXT_LENGTH);
    assert_int_equal(r->kind, LD_ACT_NEXT);
    assert_int_equal(r->set, 2);

    /* hedge and safe failure */
    const ld_workload *w = &p->workloads[ld_policy_workload_index(p, "chat")];
    assert_int_equal(w->hedge.max_extra, 1);
    assert_near(w->hedge.quantile, 0.95, 1e-12);
    assert_int_equal(w->fail_status, 503);
    assert_non_null(strstr(w->fail_message, "busy right now"));
    /* candidates: the ladder (which holds every role route) */
    assert_int_equal(w->nladder, 4);
    assert_int_equal(w->ncand, 4);
    assert_int_equal(w->roles[LD_ROLE_LOW_COST],
                     ld_policy_route_index(p, "gpt-4.1-mini"));
    ld_policy_free(p);
}

static void test_same_as_copies_the_target_rule(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(WORKLOAD_WITH(
        "\"roles\": {\"low_cost\": \"b\"}, \"on\": {"
        "\"overloaded\": {\"same_as\": \"server_error\"}, "
        "\"server_error\": {\"action\": \"retry\", \"max\": 2, "
        "\"backoff_ms\": 100, \"max_backoff_ms\": 50, \"else\": \"low_cost\"}, "
        "\"reset\": {\"same_as\": \"overloaded\"}}"));
    for (int i = 0; i < 3; i++) {
        ld_class cls = i == 0   ? LD_FC_SERVER_ERROR
                       : i == 1 ? LD_FC_OVERLOADED
                                : LD_FC_RESET; /* a chain of two */
        const ld_rule *r = rule_of(p, "w", cls);
        assert_int_equal(r->kind, LD_ACT_RETRY);
        assert_int_equal(r->max, 2);
        assert_true(r->backoff == ld_ms(100));
        /* a cap below the first delay is raised to it */
        assert_true(r->max_backoff == ld_ms(100));
        assert_int_equal(r->else_kind, LD_ACT_ROLE);
        assert_int_equal(r->else_role, LD_ROLE_LOW_COST);
        assert_int_equal(r->set, 1);
        assert_int_equal(r->same_as, -1);
    }
    ld_policy_free(p);
}

static void test_same_as_an_unnamed_class_follows_its_default(void **state)
{
    (void)state;
    /* content_blocked has no rule: its built-in default is fail */
    ld_policy *p = parse_ok(WORKLOAD_WITH(
        "\"on\": {\"bad_request\": {\"same_as\": \"content_blocked\"}, "
        "\"reset\": {\"same_as\": \"context_length\"}}"));
    assert_int_equal(rule_of(p, "w", LD_FC_BAD_REQUEST)->kind, LD_ACT_FAIL);
    assert_int_equal(rule_of(p, "w", LD_FC_RESET)->kind,
                     LD_ACT_NEXT_LARGER_CONTEXT);
    ld_policy_free(p);
    /* with a wildcard it follows the wildcard */
    p = parse_ok(WORKLOAD_WITH(
        "\"on\": {\"*\": \"fail\", \"reset\": {\"same_as\": \"overloaded\"}}"));
    assert_int_equal(rule_of(p, "w", LD_FC_RESET)->kind, LD_ACT_FAIL);
    assert_int_equal(rule_of(p, "w", LD_FC_RESET)->set, 2);
    ld_policy_free(p);
}

static void test_wildcard_covers_every_unnamed_class(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(WORKLOAD_WITH(
        "\"on\": {\"*\": {\"action\": \"retry\", \"max\": 3, \"else\": "
        "\"fail\"}, \"content_blocked\": \"next\"}"));
    for (int c = 0; c < LD_FC_COUNT; c++) {
        const ld_rule *r = rule_of(p, "w", (ld_class)c);
        if (c == LD_FC_CONTENT_BLOCKED) {
            assert_int_equal(r->kind, LD_ACT_NEXT);
            assert_int_equal(r->set, 1);
        } else {
            if (r->kind != LD_ACT_RETRY || r->set != 2)
                fail_msg("%s: kind %d set %d, expected the wildcard",
                         ld_class_name((ld_class)c), r->kind, r->set);
            assert_int_equal(r->max, 3);
            assert_int_equal(r->else_kind, LD_ACT_FAIL);
        }
    }
    ld_policy_free(p);
}

static void test_unnamed_classes_fall_to_built_in_defaults(void **state)
{
    (void)state;
    /* with an "on" block naming one class, and with none at all */
    const char *texts[] = {
        WORKLOAD_WITH("\"on\": {\"server_error\": \"fail\"}"),
        POLICY(ROUTES_AB, WORKLOAD_W, ""),
    };
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        ld_policy *p = parse_ok(texts[t]);
        for (int c = 0; c < LD_FC_COUNT; c++) {
            if (t == 0 && c == LD_FC_SERVER_ERROR)
                continue;
            ld_action_kind want;
            switch (c) {
            case LD_FC_CONTENT_BLOCKED:
            case LD_FC_BAD_REQUEST:
                want = LD_ACT_FAIL;
                break;
            case LD_FC_CONTEXT_LENGTH:
                want = LD_ACT_NEXT_LARGER_CONTEXT;
                break;
            case LD_FC_REGION_RESTRICTED:
                want = LD_ACT_NEXT_IN_REGION;
                break;
            default:
                want = LD_ACT_NEXT;
                break;
            }
            const ld_rule *r = rule_of(p, "w", (ld_class)c);
            if (r->kind != want || r->set != 0)
                fail_msg("%s: kind %s set %d, expected default %s",
                         ld_class_name((ld_class)c), ld_action_name(r->kind),
                         r->set, ld_action_name(want));
        }
        ld_policy_free(p);
    }
}

static void test_retry_defaults_come_from_the_retry_block(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(POLICY(
        ROUTES_AB,
        "\"w\": {\"ladder\": [\"a\", \"b\"], \"on\": {\"reset\": \"retry\", "
        "\"rate_limited\": \"wait_retry_after\"}}",
        ", \"retry\": {\"max\": 3, \"backoff_ms\": 50, \"max_backoff_ms\": 400}"));
    const ld_rule *r = rule_of(p, "w", LD_FC_RESET);
    assert_int_equal(r->kind, LD_ACT_RETRY);
    assert_int_equal(r->max, 3);
    assert_true(r->backoff == ld_ms(50));
    assert_true(r->max_backoff == ld_ms(400));
    r = rule_of(p, "w", LD_FC_RATE_LIMITED);
    assert_int_equal(r->kind, LD_ACT_WAIT_RETRY_AFTER);
    assert_true(r->max_wait == LD_NEVER);
    ld_policy_free(p);
}

static void test_describe_rule_puts_rules_in_words(void **state)
{
    (void)state;
    ld_policy *p = load_example();
    int chat = ld_policy_workload_index(p, "chat");
    int report = ld_policy_workload_index(p, "report");
    char buf[128];
    assert_int_equal(ld_policy_describe_rule(p, chat, LD_FC_SERVER_ERROR, buf,
                                             sizeof buf), 1);
    assert_string_equal(buf, "retry x1 (backoff 200 ms), else next");
    assert_int_equal(ld_policy_describe_rule(p, chat, LD_FC_RATE_LIMITED, buf,
                                             sizeof buf), 1);
    assert_string_equal(buf, "wait Retry-After <= 2000 ms, else next");
    assert_int_equal(ld_policy_describe_rule(p, chat, LD_FC_TIMEOUT_TTFT, buf,
                                             sizeof buf), 1);
    assert_string_equal(buf, "low_latency");
    ld_policy_describe_rule(p, chat, LD_FC_REGION_RESTRICTED, buf, sizeof buf);
    assert_string_equal(buf, "next_in_region");
    assert_int_equal(ld_policy_describe_rule(p, chat, LD_FC_QUOTA_EXHAUSTED,
                                             buf, sizeof buf), 0);
    assert_string_equal(buf, "next");
    assert_int_equal(ld_policy_describe_rule(p, chat, LD_FC_BAD_REQUEST, buf,
                                             sizeof buf), 0);
    assert_string_equal(buf, "fail");
    assert_int_equal(ld_policy_describe_rule(p, report, LD_FC_SERVER_ERROR,
                                             buf, sizeof buf), 2);
    assert_string_equal(buf, "next");
    assert_int_equal(ld_policy_describe_rule(p, report, LD_FC_BUDGET_EXCEEDED,
                                             buf, sizeof buf), 1);
    assert_string_equal(buf, "fail");
    /* bad indices */
    assert_int_equal(ld_policy_describe_rule(p, 9, LD_FC_RESET, buf,
                                             sizeof buf), 0);
    assert_string_equal(buf, "?");
    assert_int_equal(ld_policy_describe_rule(p, chat, LD_FC_NONE, buf,
                                             sizeof buf), 0);
    assert_string_equal(buf, "?");
    assert_int_equal(ld_policy_describe_rule(p, chat, LD_FC_COUNT, buf,
                                             sizeof buf), 0);
    ld_policy_free(p);

    /* an unbounded wait, and a role after a retry */
    p = parse_ok(WORKLOAD_WITH(
        "\"roles\": {\"high_quality\": \"b\"}, \"on\": {"
        "\"rate_limited\": \"wait_retry_after\", "
        "\"server_error\": {\"action\": \"retry\", \"max\": 2, "
        "\"backoff_ms\": 250, \"else\": \"high_quality\"}}"));
    ld_policy_describe_rule(p, 0, LD_FC_RATE_LIMITED, buf, sizeof buf);
    assert_string_equal(buf, "wait Retry-After, else next");
    ld_policy_describe_rule(p, 0, LD_FC_SERVER_ERROR, buf, sizeof buf);
    assert_string_equal(buf, "retry x2 (backoff 250 ms), else high_quality");
    /* a short buffer is cut, still terminated */
    ld_policy_describe_rule(p, 0, LD_FC_SERVER_ERROR, buf, 6);
    assert_string_equal(buf, "retry");
    ld_policy_free(p);
}

static void test_hedge_forms_load(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(WORKLOAD_WITH(
        "\"hedge\": {\"after_ms\": 300, \"after\": \"p50_ttft\", "
        "\"max_extra\": 2}"));
    assert_int_equal(p->workloads[0].hedge.max_extra, 2);
    assert_true(p->workloads[0].hedge.after == ld_ms(300));
    assert_near(p->workloads[0].hedge.quantile, 0.5, 1e-12);
    ld_policy_free(p);
    p = parse_ok(WORKLOAD_WITH("\"hedge\": {\"after_ms\": 150}"));
    assert_int_equal(p->workloads[0].hedge.max_extra, 1);
    assert_near(p->workloads[0].hedge.quantile, 0.0, 0.0);
    ld_policy_free(p);
}

static void test_a_wildcard_next_over_a_built_in_fail_is_reported(void **state)
{
    (void)state;
    /* "*": "next" sends bad_request and content_blocked on, where the
     * built-in rules fail them */
    ld_policy *p = parse_ok(WORKLOAD_WITH("\"on\": {\"*\": \"next\"}"));
    assert_true(ld_policy_wildcard_overrides(p, 0, LD_FC_BAD_REQUEST));
    assert_true(ld_policy_wildcard_overrides(p, 0, LD_FC_CONTENT_BLOCKED));
    for (int c = 0; c < LD_FC_COUNT; c++)
        if (c != LD_FC_BAD_REQUEST && c != LD_FC_CONTENT_BLOCKED &&
            ld_policy_wildcard_overrides(p, 0, (ld_class)c))
            fail_msg("%s reported, its built-in rule is not fail",
                     ld_class_name((ld_class)c));
    /* bad indices */
    assert_false(ld_policy_wildcard_overrides(p, 1, LD_FC_BAD_REQUEST));
    assert_false(ld_policy_wildcard_overrides(p, -1, LD_FC_BAD_REQUEST));
    assert_false(ld_policy_wildcard_overrides(p, 0, LD_FC_COUNT));
    ld_policy_free(p);
    /* a class the workload names, even by "same_as" a class the wildcard
     * covers, is its choice */
    p = parse_ok(WORKLOAD_WITH("\"on\": {\"*\": \"next\", \"bad_request\": "
                               "{\"same_as\": \"server_error\"}}"));
    assert_int_equal(rule_of(p, "w", LD_FC_BAD_REQUEST)->kind, LD_ACT_NEXT);
    assert_false(ld_policy_wildcard_overrides(p, 0, LD_FC_BAD_REQUEST));
    assert_true(ld_policy_wildcard_overrides(p, 0, LD_FC_CONTENT_BLOCKED));
    ld_policy_free(p);
    p = parse_ok(WORKLOAD_WITH("\"on\": {\"*\": \"next\", \"bad_request\": "
                               "\"fail\", \"content_blocked\": \"next\"}"));
    assert_false(ld_policy_wildcard_overrides(p, 0, LD_FC_BAD_REQUEST));
    assert_false(ld_policy_wildcard_overrides(p, 0, LD_FC_CONTENT_BLOCKED));
    ld_policy_free(p);
    /* a wildcard that fails, or a retry that ends in fail, or none */
    p = parse_ok(WORKLOAD_WITH("\"on\": {\"*\": \"fail\"}"));
    assert_false(ld_policy_wildcard_overrides(p, 0, LD_FC_BAD_REQUEST));
    ld_policy_free(p);
    p = parse_ok(WORKLOAD_WITH("\"on\": {\"*\": {\"action\": \"retry\", "
                               "\"else\": \"fail\"}}"));
    assert_true(ld_policy_wildcard_overrides(p, 0, LD_FC_BAD_REQUEST));
    ld_policy_free(p);
    p = parse_ok(POLICY(ROUTES_AB, WORKLOAD_W, ""));
    assert_false(ld_policy_wildcard_overrides(p, 0, LD_FC_BAD_REQUEST));
    ld_policy_free(p);
}

static void test_settings_say_where_they_came_from(void **state)
{
    (void)state;
    ld_breaker_cfg b, dflt;
    ld_setting_source src;
    ld_retry_info ri;
    ld_hedge_info hi;
    ld_breaker_cfg_default(&dflt);
    /* nothing said: the loader's defaults */
    ld_policy *p = parse_ok(POLICY(ROUTES_AB, WORKLOAD_W, ""));
    assert_int_equal(ld_policy_route_breaker(p, 0, &b, &src), LD_OK);
    assert_int_equal(src, LD_SET_DEFAULT);
    assert_true(b.window == dflt.window && b.open_for == dflt.open_for);
    assert_int_equal(b.min_requests, dflt.min_requests);
    assert_int_equal(b.half_open_probes, dflt.half_open_probes);
    assert_near(b.failure_rate, dflt.failure_rate, 0);
    assert_int_equal(ld_policy_route_breaker(p, 2, &b, &src), LD_EINVAL);
    ld_policy_retry_info(p, &ri);
    assert_int_equal(ri.source, LD_SET_DEFAULT);
    assert_int_equal(ri.budget_source, LD_SET_DEFAULT);
    assert_int_equal(ri.max, 1);
    assert_true(ri.backoff == ld_ms(200) && ri.max_backoff == ld_s(5));
    assert_near(ri.budget_ratio, 0.2, 1e-12);
    assert_near(ri.budget_min_per_s, 5, 1e-12);
    assert_true(ri.budget_window == ld_s(10));
    assert_int_equal(ld_policy_workload_hedge(p, 0, &hi), LD_OK);
    assert_int_equal(hi.source, LD_SET_DEFAULT);
    assert_int_equal(hi.max_extra, 0);
    assert_int_equal(ld_policy_workload_hedge(p, 1, &hi), LD_EINVAL);
    assert_string_equal(ld_setting_source_name(LD_SET_DEFAULT), "default");
    ld_policy_free(p);
    /* the policy's blocks, and a route's own breaker over the policy's */
    p = parse_ok(POLICY(
        "\"routes\": {" ROUTE_A ", \"b\": {\"provider\": \"openai\", "
        "\"model\": \"m-b\", \"price\": {\"input_per_mtok\": 3, "
        "\"output_per_mtok\": 15}, \"breaker\": {\"open_for_s\": 7}}}",
        "\"w\": {\"ladder\": [\"a\", \"b\"], \"hedge\": {\"after\": "
        "\"p95_ttft\", \"after_ms\": 800}}",
        ", \"breaker\": {\"window_s\": 60, \"min_requests\": 4}, "
        "\"retry\": {\"max\": 2}, \"retry_budget\": {\"ratio\": 0.1}"));
    assert_int_equal(ld_policy_route_breaker(p, 0, &b, &src), LD_OK);
    assert_int_equal(src, LD_SET_POLICY);
    assert_true(b.window == ld_s(60) && b.open_for == dflt.open_for);
    assert_int_equal(b.min_requests, 4);
    assert_int_equal(ld_policy_route_breaker(p, 1, &b, &src), LD_OK);
    assert_int_equal(src, LD_SET_ROUTE);
    assert_true(b.window == ld_s(60) && b.open_for == ld_s(7));
    ld_policy_retry_info(p, &ri);
    assert_int_equal(ri.source, LD_SET_POLICY);
    assert_int_equal(ri.max, 2);
    assert_int_equal(ri.budget_source, LD_SET_POLICY);
    assert_near(ri.budget_ratio, 0.1, 1e-12);
    assert_int_equal(ld_policy_workload_hedge(p, 0, &hi), LD_OK);
    assert_int_equal(hi.source, LD_SET_POLICY);
    assert_int_equal(hi.max_extra, 1);
    assert_near(hi.quantile, 0.95, 1e-12);
    assert_true(hi.after == ld_ms(800));
    assert_string_equal(ld_setting_source_name(LD_SET_ROUTE), "route");
    assert_string_equal(ld_setting_source_name(LD_SET_POLICY), "policy");
    ld_policy_free(p);
}

static void test_continue_streams_is_a_small_whole_number(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(WORKLOAD_WITH("\"continue_streams\": 2"));
    assert_int_equal(ld_policy_workload_continues(p, 0), 2);
    assert_int_equal(ld_policy_workload_continues(p, 1), LD_EINVAL);
    ld_policy_free(p);
    p = parse_ok(WORKLOAD_WITH("\"hedge\": {\"after_ms\": 150}"));
    assert_int_equal(ld_policy_workload_continues(p, 0), 0);
    ld_policy_free(p);
    expect_error(WORKLOAD_WITH("\"continue_streams\": 1.5"), LD_EINVAL,
                 "p.json: workloads.w.continue_streams: ", "whole number");
    expect_error(WORKLOAD_WITH("\"continue_streams\": -1"), LD_EINVAL,
                 "workloads.w.continue_streams: ", "out of range");
    expect_error(WORKLOAD_WITH("\"continue_streams\": true"), LD_EINVAL,
                 "workloads.w.continue_streams: ", "must be a number");
}

static void test_role_routes_outside_the_ladder_become_candidates(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(POLICY(
        ROUTES_AB, "\"w\": {\"ladder\": [\"a\"], \"roles\": {\"low_latency\": "
                   "\"b\", \"low_cost\": \"a\", \"high_quality\": \"b\"}}",
        ""));
    const ld_workload *w = &p->workloads[0];
    assert_int_equal(w->nladder, 1);
    assert_int_equal(w->ncand, 2);
    assert_int_equal(w->cand[0], 0);
    assert_int_equal(w->cand[1], 1);
    ld_policy_free(p);
}

static void test_names_of_actions_and_roles(void **state)
{
    (void)state;
    assert_string_equal(ld_action_name(LD_ACT_NEXT_IN_REGION), "next_in_region");
    assert_string_equal(ld_action_name(LD_ACT_WAIT_RETRY_AFTER),
                        "wait_retry_after");
    assert_string_equal(ld_action_name((ld_action_kind)99), "?");
    assert_string_equal(ld_role_name(LD_ROLE_HIGH_QUALITY), "high_quality");
    assert_string_equal(ld_role_name(LD_ROLE_COUNT), "?");
    assert_int_equal(class_named("context_length"), LD_FC_CONTEXT_LENGTH);
}

static void test_capability_names_parse_to_their_bits_and_list(void **state)
{
    (void)state;
    unsigned bit = 99;
    assert_int_equal(ld_cap_parse("stream", &bit), LD_OK);
    assert_int_equal(bit, LD_CAP_STREAM);
    assert_int_equal(ld_cap_parse("prefill", &bit), LD_OK);
    assert_int_equal(bit, LD_CAP_PREFILL);
    assert_int_equal(ld_cap_parse("json", &bit), LD_OK);
    assert_int_equal(bit, LD_CAP_JSON);
    assert_int_equal(ld_cap_parse("n", &bit), LD_OK);
    assert_int_equal(bit, LD_CAP_N);
    bit = 99;
    assert_int_equal(ld_cap_parse("telepathy", &bit), LD_EINVAL);
    assert_int_equal(ld_cap_parse("Stream", &bit), LD_EINVAL);
    assert_int_equal(ld_cap_parse("", &bit), LD_EINVAL);
    assert_int_equal(ld_cap_parse(NULL, &bit), LD_EINVAL);
    assert_int_equal(bit, 99);

    char buf[128];
    int n = ld_cap_list(buf, sizeof buf, " or ");
    assert_string_equal(buf, "stream, tools, prefill, vision, json or n");
    assert_int_equal(n, (int)strlen(buf));
    assert_int_equal(ld_cap_list(buf, sizeof buf, ", "), n - 2);
    assert_string_equal(buf, "stream, tools, prefill, vision, json, n");
    /* a short buffer is cut and terminated; the length is the whole list */
    char small[10];
    assert_int_equal(ld_cap_list(small, sizeof small, " or "), n);
    assert_string_equal(small, "stream, t");
    assert_int_equal(ld_cap_list(NULL, 0, " or "), n);
}

static void test_free_accepts_null(void **state)
{
    (void)state;
    ld_policy_free(NULL);
}


/* ---- provider-specific route fields (ld_policy_route.c) ---------------- */

#define PRICE1 "\"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1}"
#define ONE_ROUTE(fields)                                                   \
    POLICY("\"routes\": {\"a\": {" fields ", " PRICE1 "}}",                 \
           "\"w\": {\"ladder\": [\"a\"]}", "")

static void test_route_headers_query_and_region_load(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(ONE_ROUTE(
        "\"provider\": \"bedrock\", \"model\": \"m\", \"aws_region\": "
        "\"eu-west-3\", \"headers\": {\"X-Org\": \"acme\", \"Authorization\": "
        "{\"env\": \"MY_KEY\", \"prefix\": \"Bearer \"}}, \"query\": "
        "{\"v\": \"1\", \"k\": {\"env\": \"Q\"}}"));
    ld_route_info ri;
    assert_int_equal(ld_policy_route_info(p, 0, &ri), LD_OK);
    assert_int_equal(ri.provider, LD_PROVIDER_BEDROCK);
    assert_string_equal(ld_provider_name(ri.provider), "bedrock");
    assert_string_equal(ri.aws_region, "eu-west-3");
    assert_int_equal(ri.nheaders, 2);
    assert_string_equal(ri.headers[0].name, "X-Org");
    assert_string_equal(ri.headers[0].value, "acme");
    assert_null(ri.headers[0].env);
    assert_string_equal(ri.headers[1].name, "Authorization");
    assert_null(ri.headers[1].value);
    assert_string_equal(ri.headers[1].env, "MY_KEY");
    assert_string_equal(ri.headers[1].prefix, "Bearer ");
    assert_int_equal(ri.nquery, 2);
    assert_string_equal(ri.query[1].env, "Q");
    assert_string_equal(ri.query[1].prefix, "");
    ld_policy_free(p);
    p = parse_ok(ONE_ROUTE("\"provider\": \"gemini\", \"model\": \"m\""));
    assert_int_equal(ld_policy_route_info(p, 0, &ri), LD_OK);
    assert_int_equal(ri.provider, LD_PROVIDER_GEMINI);
    assert_int_equal(ri.nheaders, 0);
    assert_null(ri.headers);
    assert_null(ri.aws_region);
    ld_policy_free(p);
}

static void test_bad_route_headers_and_query_name_the_field(void **state)
{
    (void)state;
    expect_error(ONE_ROUTE("\"provider\": \"openai\", \"model\": \"m\", "
                           "\"headers\": {\"X Org\": \"a\"}"),
                 LD_EINVAL, "routes.a.headers.X Org: ", "HTTP token");
    expect_error(ONE_ROUTE("\"provider\": \"openai\", \"model\": \"m\", "
                           "\"headers\": {\"Host\": \"a\"}"),
                 LD_EINVAL, "routes.a.headers.Host: ", "writes this header");
    expect_error(ONE_ROUTE("\"provider\": \"openai\", \"model\": \"m\", "
                           "\"headers\": {\"X-A\": {\"env\": \"V\", "
                           "\"prefix\": 3}}"),
                 LD_EINVAL, "routes.a.headers.X-A.prefix: ", "string");
    expect_error(ONE_ROUTE("\"provider\": \"openai\", \"model\": \"m\", "
                           "\"headers\": {\"X-A\": {\"name\": \"V\"}}"),
                 LD_EINVAL, "routes.a.headers.X-A.name: ", "unknown key");
    expect_error(ONE_ROUTE("\"provider\": \"openai\", \"model\": \"m\", "
                           "\"headers\": {\"X-A\": 5}"),
                 LD_EINVAL, "routes.a.headers.X-A: ", "a string or");
    expect_error(ONE_ROUTE("\"provider\": \"openai\", \"model\": \"m\", "
                           "\"query\": []"),
                 LD_EINVAL, "routes.a.query: ", "object");
}

static void test_cloud_routes_need_their_address(void **state)
{
    (void)state;
    expect_error(ONE_ROUTE("\"provider\": \"azure\", \"model\": \"dep\""),
                 LD_EINVAL, "routes.a.base_url: ", "azure route needs");
    expect_error(ONE_ROUTE("\"provider\": \"bedrock\", \"model\": \"m\""),
                 LD_EINVAL, "routes.a.aws_region: ", "us-east-1");
    expect_error(ONE_ROUTE("\"provider\": \"bedrock\", \"model\": \"m\", "
                           "\"aws_region\": \"EU/1\""),
                 LD_EINVAL, "routes.a.aws_region: ", "region name");
    expect_error(ONE_ROUTE("\"provider\": \"openai\", \"model\": \"m\", "
                           "\"aws_region\": \"us-east-1\""),
                 LD_EINVAL, "routes.a.aws_region: ", "only a bedrock");
}

static void test_prices_come_from_the_list(void **state)
{
    (void)state;
    static const char text[] =
        "{\"version\": 1, \"prices\": {\"from\": \"genai-prices\", \"file\": "
        "\"list.csv\"}, \"routes\": {"
        "\"g\": {\"provider\": \"gemini\", \"model\": \"flash\", "
        "\"price\": \"genai-prices\"}, "
        "\"q\": {\"provider\": \"openai\", \"model\": \"x\", \"price\": "
        "{\"from\": \"genai-prices\", \"provider\": \"groq\", \"model\": "
        "\"llama\"}}, "
        "\"own\": {\"provider\": \"bedrock\", \"model\": \"flash\", "
        "\"aws_region\": \"us-east-1\", \"price\": {\"input_per_mtok\": 7, "
        "\"output_per_mtok\": 8}}}, "
        "\"workloads\": {\"w\": {\"ladder\": [\"g\", \"q\", \"own\"]}}}";
    ld_policy *p = parse_ok(text);
    assert_string_equal(ld_policy_prices_file(p), "list.csv");
    const ld_price_entry list[] = {
        {"google", "flash", 0.5, 2.0, true},  /* a dated price: second choice */
        {"google", "flash", 0.1, 0.4, false},
        {"groq", "llama", 0.59, 0.79, false},
        {"aws", "flash", 99, 99, false},
    };
    ld_error err = {{0}};
    assert_int_equal(ld_policy_apply_prices(p, list, 4, "list.csv", &err),
                     LD_OK);
    ld_route_info ri;
    assert_int_equal(ld_policy_route_info(p, 0, &ri), LD_OK);
    assert_near(ri.input_per_mtok, 0.1, 1e-12);
    assert_near(ri.output_per_mtok, 0.4, 1e-12);
    assert_int_equal(ld_policy_route_info(p, 1, &ri), LD_OK);
    assert_near(ri.input_per_mtok, 0.59, 1e-12);
    assert_int_equal(ld_policy_route_info(p, 2, &ri), LD_OK);
    assert_near(ri.input_per_mtok, 7, 1e-12); /* its own price stays */
    ld_policy_free(p);

    /* a model the list does not hold: the error names the route */
    p = parse_ok(text);
    assert_int_equal(ld_policy_apply_prices(p, list + 2, 2, "list.csv", &err),
                     LD_ENOENT);
    assert_non_null(strstr(err.msg, "list.csv: routes.g.price: no entry for "
                                    "provider \"google\", model \"flash\""));
    ld_policy_free(p);
    /* an entry without an output price */
    const ld_price_entry half[] = {{"google", "flash", 0.1, -1, false},
                                   {"groq", "llama", 1, 1, false}};
    p = parse_ok(text);
    assert_int_equal(ld_policy_apply_prices(p, half, 2, "list.csv", &err),
                     LD_ENOENT);
    assert_non_null(strstr(err.msg, "routes.g.price: "));
    ld_policy_free(p);
}

static void test_a_price_list_route_needs_the_list(void **state)
{
    (void)state;
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"gemini\", "
                        "\"model\": \"m\", \"price\": \"genai-prices\"}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "routes.a.price: ", "needs \"prices\"");
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"gemini\", "
                        "\"model\": \"m\", \"price\": \"litellm\"}}",
                        "\"w\": {\"ladder\": [\"a\"]}", ""),
                 LD_EINVAL, "routes.a.price: ", "unknown price list");
    expect_error(POLICY("\"routes\": {\"a\": {\"provider\": \"gemini\", "
                        "\"model\": \"m\", " PRICE1 "}}",
                        "\"w\": {\"ladder\": [\"a\"]}",
                        ", \"prices\": {\"from\": \"genai-prices\"}"),
                 LD_EINVAL, "prices.file: ", "missing");
}

/* ---- pass_through ----------------------------------------------------- */

#define ROUTE_A_PASS(list)                                                  \
    "\"a\": {\"provider\": \"openai\", \"model\": \"m-a\", "               \
    "\"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2}, "          \
    "\"pass_through\": " list "}"
#define PASS_POLICY(list)                                                   \
    POLICY("\"routes\": {" ROUTE_A_PASS(list) ", " ROUTE_B "}", WORKLOAD_W, "")

static void test_pass_through_names_are_kept_per_route(void **state)
{
    (void)state;
    ld_policy *p = parse_ok(PASS_POLICY("[\"service_tier\", \"reasoning_effort\"]"));
    const char *const *names = NULL;
    int a = ld_policy_route_index(p, "a"), b = ld_policy_route_index(p, "b");
    assert_int_equal(ld_policy_route_pass_through(p, a, &names), 2);
    assert_string_equal(names[0], "service_tier");
    assert_string_equal(names[1], "reasoning_effort");
    assert_int_equal(ld_policy_route_pass_through(p, b, &names), 0);
    assert_int_equal(ld_policy_route_pass_through(p, 99, &names), LD_EINVAL);
    ld_policy_free(p);
}

static void test_pass_through_refuses_bad_names_naming_the_place(void **state)
{
    (void)state;
    expect_error(PASS_POLICY("\"service_tier\""), LD_EINVAL,
                 "routes.a.pass_through", "must be an array");
    expect_error(PASS_POLICY("[\"service\\r\\ntier\"]"), LD_EINVAL,
                 "routes.a.pass_through[0]");
    expect_error(PASS_POLICY("[\"ok\", \"\"]"), LD_EINVAL,
                 "routes.a.pass_through[1]", "field name");
    expect_error(PASS_POLICY("[\"ok\", 3]"), LD_EINVAL,
                 "routes.a.pass_through[1]", "a string");
    expect_error(PASS_POLICY("[\"x\", \"x\"]"), LD_EINVAL,
                 "routes.a.pass_through[1]", "listed twice");
    expect_error(PASS_POLICY("[\"a b\"]"), LD_EINVAL,
                 "routes.a.pass_through[0]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* JSON syntax */
        cmocka_unit_test(test_pass_through_names_are_kept_per_route),
        cmocka_unit_test(test_pass_through_refuses_bad_names_naming_the_place),
        cmocka_unit_test(test_syntax_error_names_line_and_column),
        cmocka_unit_test(test_syntax_error_in_the_last_byte_is_not_end_of_file),
        cmocka_unit_test(test_trailing_comma_names_its_line),
        cmocka_unit_test(test_truncated_policy_reports_unexpected_end_of_file),
        cmocka_unit_test(test_text_after_the_policy_object_is_refused),
        cmocka_unit_test(test_text_need_not_be_nul_terminated),
        cmocka_unit_test(test_non_object_root_is_refused),
        cmocka_unit_test(test_null_text_is_refused),
        cmocka_unit_test(test_policy_larger_than_the_cap_is_refused),
        cmocka_unit_test(test_errors_without_an_error_struct_still_fail),
        /* top level */
        cmocka_unit_test(test_version_2_is_refused),
        cmocka_unit_test(test_unknown_top_level_key_names_it_and_the_known_ones),
        cmocka_unit_test(test_comment_keys_are_ignored),
        cmocka_unit_test(test_duplicate_key_names_its_path),
        cmocka_unit_test(test_missing_routes_or_workloads_is_refused),
        cmocka_unit_test(test_unknown_default_workload_is_refused),
        /* routes */
        cmocka_unit_test(test_unknown_route_key_names_the_typo),
        cmocka_unit_test(test_missing_price_is_refused),
        cmocka_unit_test(test_negative_price_is_out_of_range),
        cmocka_unit_test(test_price_without_output_per_mtok_is_refused),
        cmocka_unit_test(test_quality_outside_zero_to_one_is_refused),
        cmocka_unit_test(test_regions_must_be_an_array),
        cmocka_unit_test(test_unknown_provider_and_capability_are_refused),
        cmocka_unit_test(test_route_headers_query_and_region_load),
        cmocka_unit_test(test_bad_route_headers_and_query_name_the_field),
        cmocka_unit_test(test_cloud_routes_need_their_address),
        cmocka_unit_test(test_prices_come_from_the_list),
        cmocka_unit_test(test_a_price_list_route_needs_the_list),
        cmocka_unit_test(test_more_routes_than_the_cap_is_refused),
        cmocka_unit_test(test_exactly_the_route_cap_loads),
        /* ladder and roles */
        cmocka_unit_test(test_unknown_route_in_ladder_names_the_path),
        cmocka_unit_test(test_unknown_route_in_role_names_the_role),
        cmocka_unit_test(test_duplicate_route_in_ladder_names_both_rungs),
        cmocka_unit_test(test_empty_ladder_is_refused),
        cmocka_unit_test(test_missing_ladder_is_refused),
        cmocka_unit_test(test_ladder_longer_than_the_cap_is_refused),
        /* constraints and tiers */
        cmocka_unit_test(test_tier_naming_an_unknown_constraint_names_the_key),
        cmocka_unit_test(test_zero_timeouts_and_bad_constraint_values_are_refused),
        cmocka_unit_test(test_unknown_default_tier_of_a_workload_is_refused),
        /* rules */
        cmocka_unit_test(test_unknown_failure_class_in_on_names_it),
        cmocka_unit_test(test_unknown_action_lists_the_known_ones),
        cmocka_unit_test(test_retry_options_on_other_actions_are_refused),
        cmocka_unit_test(test_same_as_loop_is_refused),
        cmocka_unit_test(test_same_as_itself_is_a_loop),
        cmocka_unit_test(test_same_as_must_stand_alone_and_name_a_class),
        cmocka_unit_test(test_no_rule_can_name_a_client_key_limit),
        cmocka_unit_test(test_else_that_retries_again_is_a_loop),
        cmocka_unit_test(test_role_action_needs_the_role_defined),
        cmocka_unit_test(test_hedge_after_must_be_a_ttft_percentile),
        cmocka_unit_test(test_safe_failure_status_must_be_http),
        /* valid policies */
        cmocka_unit_test(test_example_policy_loads_with_its_names),
        cmocka_unit_test(test_route_info_reports_the_example_routes),
        cmocka_unit_test(test_route_defaults_and_optional_fields),
        cmocka_unit_test(test_tier_overrides_replace_workload_constraints),
        cmocka_unit_test(test_unconstrained_workload_describes_itself),
        cmocka_unit_test(test_defaults_block_picks_workload_and_tier),
        cmocka_unit_test(test_example_rules_resolve_as_written),
        cmocka_unit_test(test_same_as_copies_the_target_rule),
        cmocka_unit_test(test_same_as_an_unnamed_class_follows_its_default),
        cmocka_unit_test(test_wildcard_covers_every_unnamed_class),
        cmocka_unit_test(test_unnamed_classes_fall_to_built_in_defaults),
        cmocka_unit_test(test_retry_defaults_come_from_the_retry_block),
        cmocka_unit_test(test_describe_rule_puts_rules_in_words),
        cmocka_unit_test(test_hedge_forms_load),
        cmocka_unit_test(test_a_wildcard_next_over_a_built_in_fail_is_reported),
        cmocka_unit_test(test_settings_say_where_they_came_from),
        cmocka_unit_test(test_continue_streams_is_a_small_whole_number),
        cmocka_unit_test(test_role_routes_outside_the_ladder_become_candidates),
        cmocka_unit_test(test_names_of_actions_and_roles),
        cmocka_unit_test(test_capability_names_parse_to_their_bits_and_list),
        cmocka_unit_test(test_free_accepts_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
