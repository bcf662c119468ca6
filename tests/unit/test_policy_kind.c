/* test_policy_kind.c - a workload's "kind" (ld_policy.h): chat by default,
 * "embedding" for POST /v1/embeddings, with the defaults of each kind and
 * what an embedding workload may not have. */
#include "testutil.h"

#include <stdlib.h>

#include "ld_policy.h"

#define ROUTES                                                               \
    "\"routes\": {"                                                          \
    "\"c\": {\"provider\": \"openai\", \"model\": \"c\", \"api_key_env\": "  \
    "\"K\", \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2}},"    \
    "\"e\": {\"provider\": \"openai\", \"model\": \"e\", \"api_key_env\": "  \
    "\"K\", \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 0}}}"

static int parse(const char *workloads, ld_policy **p, char *msg, size_t cap)
{
    char text[2048];
    ld_error err;
    snprintf(text, sizeof text, "{\"version\": 1, " ROUTES ", \"workloads\": {%s}}",
             workloads);
    err.msg[0] = '\0';
    int rc = ld_policy_parse(text, strlen(text), "p.json", p, &err);
    snprintf(msg, cap, "%s", err.msg);
    return rc;
}

static void test_an_embedding_workload_is_its_own_default(void **state)
{
    (void)state;
    ld_policy *p = NULL;
    char msg[512];
    int rc = parse("\"emb\": {\"kind\": \"embedding\", \"ladder\": [\"e\"]},"
                   "\"chat\": {\"ladder\": [\"c\"]},"
                   "\"chat2\": {\"kind\": \"chat\", \"ladder\": [\"c\"]}",
                   &p, msg, sizeof msg);
    if (rc != LD_OK)
        fail_msg("refused: %s", msg);
    int emb = ld_policy_workload_index(p, "emb");
    int chat = ld_policy_workload_index(p, "chat");
    assert_true(ld_policy_workload_embedding(p, emb));
    assert_false(ld_policy_workload_embedding(p, chat));
    assert_false(ld_policy_workload_embedding(p, ld_policy_workload_index(p, "chat2")));
    assert_false(ld_policy_workload_embedding(p, 99));
    /* the policy's default (the first) is an embedding workload: chat
     * requests default to the first chat workload */
    assert_int_equal(ld_policy_default_workload(p), emb);
    assert_int_equal(ld_policy_default_workload_of(p, true), emb);
    assert_int_equal(ld_policy_default_workload_of(p, false), chat);
    ld_policy_free(p);
}

static void test_a_policy_without_embedding_workloads_has_no_default(void **state)
{
    (void)state;
    ld_policy *p = NULL;
    char msg[512];
    assert_int_equal(parse("\"chat\": {\"ladder\": [\"c\"]}", &p, msg, sizeof msg),
                     LD_OK);
    assert_int_equal(ld_policy_default_workload_of(p, true), LD_ENOENT);
    assert_int_equal(ld_policy_default_workload_of(p, false), 0);
    ld_policy_free(p);
}

static void test_what_an_embedding_workload_may_not_have(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"\"w\": {\"kind\": \"embedding\", \"ladder\": [\"c\"]}",
         "route \"c\" has an output price"},
        {"\"w\": {\"kind\": \"image\", \"ladder\": [\"e\"]}",
         "must be \"chat\" or \"embedding\""},
        {"\"w\": {\"kind\": \"embedding\", \"ladder\": [\"e\"], "
         "\"continue_streams\": 1}", "no hedge and no continue_streams"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ld_policy *p = (ld_policy *)(uintptr_t)1;
        char msg[512];
        assert_int_equal(parse(bad[i][0], &p, msg, sizeof msg), LD_EINVAL);
        assert_null(p);
        if (strstr(msg, bad[i][1]) == NULL || strstr(msg, "workloads.w") == NULL)
            fail_msg("\"%s\" does not say \"%s\" at workloads.w", msg, bad[i][1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_embedding_workload_is_its_own_default),
        cmocka_unit_test(test_a_policy_without_embedding_workloads_has_no_default),
        cmocka_unit_test(test_what_an_embedding_workload_may_not_have),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
