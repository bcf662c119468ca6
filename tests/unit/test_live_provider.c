/* test_live_provider.c - the providers' tables (live_provider.h): one per
 * API, chosen by live_provider_for, each with its path, headers and
 * operations, and the entry points that call through them. */
#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>

#include "live_provider.h"

static void test_each_provider_has_its_table(void **state)
{
    (void)state;
    const live_provider *o = live_provider_for(LD_PROVIDER_OPENAI);
    const live_provider *a = live_provider_for(LD_PROVIDER_ANTHROPIC);
    assert_non_null(o);
    assert_non_null(a);
    assert_string_equal(o->name, "openai");
    assert_string_equal(o->path, "/chat/completions");
    assert_string_equal(o->default_base_url, "https://api.openai.com/v1");
    assert_string_equal(o->auth_header, "Authorization: Bearer %s");
    assert_null(o->version_header);
    assert_false(o->makes_chunks);
    assert_string_equal(a->name, "anthropic");
    assert_string_equal(a->path, "/messages");
    assert_string_equal(a->default_base_url, "https://api.anthropic.com/v1");
    assert_string_equal(a->auth_header, "x-api-key: %s");
    assert_string_equal(a->version_header, "anthropic-version: 2023-06-01");
    assert_true(a->makes_chunks);
    const live_provider *both[] = {o, a};
    for (int i = 0; i < 2; i++) {
        assert_non_null(both[i]->build);
        assert_non_null(both[i]->answer);
        assert_non_null(both[i]->stream_event);
        assert_non_null(both[i]->error_words);
    }
}

static void test_an_unknown_provider_has_no_table(void **state)
{
    (void)state;
    assert_null(live_provider_for((ld_provider)99));
    live_buf b;
    live_buf_init(&b, 0);
    assert_int_equal(live_provider_build(NULL, NULL, NULL, false, NULL, &b,
                                         NULL),
                     LD_EINVAL);
    assert_int_equal(live_provider_answer(NULL, "{}", 2, &b, NULL), LD_EINVAL);
    assert_null(live_provider_stream_new(NULL, "id", 0, false));
    live_buf_cleanup(&b);
}

static void test_the_table_gives_the_path_and_the_body(void **state)
{
    (void)state;
    static const char body[] =
        "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\","
        "\"content\":\"hi\"}],\"max_tokens\":5}";
    live_chat_req r;
    char msg[128];
    assert_int_equal(live_chat_parse(body, sizeof body - 1, &r, msg, sizeof msg),
                     LD_OK);
    const live_provider *a = live_provider_for(LD_PROVIDER_ANTHROPIC);
    live_buf b;
    const char *path = NULL;
    live_buf_init(&b, 0);
    assert_int_equal(live_provider_build(a, &r, "claude-x", false, NULL, &b,
                                         &path),
                     LD_OK);
    assert_string_equal(path, "/messages");
    assert_non_null(strstr(b.data, "\"model\":\"claude-x\""));
    assert_non_null(strstr(b.data, "\"max_tokens\":5"));
    /* the Messages API needs a model: a client's "auto" is a model name,
     * but a request without one cannot be built */
    cJSON_DeleteItemFromObject(r.body, "model");
    r.model = NULL;
    assert_int_equal(live_provider_build(a, &r, NULL, false, NULL, &b, &path),
                     LD_EINVAL);
    assert_int_equal(b.len, 0);
    live_buf_cleanup(&b);
    live_chat_cleanup(&r);
}

static void test_a_whole_answer_that_is_not_an_object_is_refused(void **state)
{
    (void)state;
    const live_provider *o = live_provider_for(LD_PROVIDER_OPENAI);
    live_buf b;
    live_answer info;
    live_buf_init(&b, 0);
    assert_int_equal(live_provider_answer(o, "[1]", 3, &b, &info), LD_EINVAL);
    assert_int_equal(live_provider_answer(o, "{\"choices\":[]}", 14, &b, &info),
                     LD_EINVAL);
    assert_true(info.output_tokens == -1);
    static const char ok[] =
        "{\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
        "\"assistant\",\"content\":\"x\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}";
    assert_int_equal(live_provider_answer(o, ok, sizeof ok - 1, &b, &info),
                     LD_OK);
    assert_int_equal(b.len, sizeof ok - 1); /* passed through */
    assert_true(info.output_tokens == 1);
    assert_string_equal(info.model, "m");
    live_buf_cleanup(&b);
}

static void test_error_words_read_both_apis(void **state)
{
    (void)state;
    static const char oa[] = "{\"error\":{\"message\":\"m\",\"type\":\"t\","
                             "\"code\":\"c\"}}";
    static const char an[] = "{\"type\":\"error\",\"error\":{\"type\":"
                             "\"overloaded_error\",\"message\":\"o\"}}";
    char type[32], code[32], msg[32];
    const live_provider *o = live_provider_for(LD_PROVIDER_OPENAI);
    const live_provider *a = live_provider_for(LD_PROVIDER_ANTHROPIC);
    assert_int_equal(o->error_words(oa, sizeof oa - 1, type, sizeof type, code,
                                    sizeof code, msg, sizeof msg),
                     LD_OK);
    assert_string_equal(code, "c");
    assert_int_equal(a->error_words(an, sizeof an - 1, type, sizeof type, code,
                                    sizeof code, msg, sizeof msg),
                     LD_OK);
    assert_string_equal(type, "overloaded_error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_provider_has_its_table),
        cmocka_unit_test(test_an_unknown_provider_has_no_table),
        cmocka_unit_test(test_the_table_gives_the_path_and_the_body),
        cmocka_unit_test(test_a_whole_answer_that_is_not_an_object_is_refused),
        cmocka_unit_test(test_error_words_read_both_apis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
