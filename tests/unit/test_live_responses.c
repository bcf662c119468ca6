/* test_live_responses.c - OpenAI's Responses API passed through
 * (prov_responses.c): the client's body for the upstream, the whole answer
 * relayed with its usage and finish read, the stream's events read for the
 * first token, progress, the terminator and its usage, error and malformed
 * events, and what live_result makes of each (the chat path's classes). */
#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "ld_class.h"
#include "live_provider.h"
#include "live_result.h"

static const live_provider *P = &live_provider_responses;

static void test_the_table_speaks_responses_at_its_own_path(void **state)
{
    (void)state;
    assert_string_equal(P->path, "/responses");
    assert_string_equal(P->native_api, "responses");
    assert_true(P->face_native);
    assert_false(P->makes_chunks);
    assert_string_equal(P->auth_header, "Authorization: Bearer %s");
}

/* The upstream body for a Responses client's own body. */
static int native(const char *body, const char *model, bool stream,
                  const char *prefill, live_buf *out)
{
    live_chat_req r;
    char msg[128];
    static const char chat[] =
        "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    assert_int_equal(live_chat_parse(chat, sizeof chat - 1, &r, msg, sizeof msg),
                     LD_OK);
    r.native = body;
    r.native_len = strlen(body);
    r.native_api = "responses";
    int rc = live_provider_build(P, &r, model, stream, prefill, out, NULL);
    live_chat_cleanup(&r);
    return rc;
}

static void test_the_clients_body_goes_with_model_stream_and_store_set(void **state)
{
    (void)state;
    live_buf b;
    live_buf_init(&b, 0);
    assert_int_equal(native("{\"model\":\"gpt-x\",\"input\":\"hi\","
                            "\"metadata\":{\"k\":\"v\"},\"tools\":[]}",
                            "route-model", true, NULL, &b),
                     LD_OK);
    cJSON *o = cJSON_Parse(b.data);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "model")->valuestring, "route-model");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "stream")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "store")));
    assert_string_equal(cJSON_GetObjectItem(o, "input")->valuestring, "hi");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(o, "metadata"), "k")->valuestring, "v");
    cJSON_Delete(o);
    /* the client's own store false stays; a prefill cannot be expressed */
    assert_int_equal(native("{\"model\":\"m\",\"input\":\"hi\",\"store\":false}",
                            "m2", false, NULL, &b),
                     LD_OK);
    assert_non_null(strstr(b.data, "\"model\":\"m2\""));
    assert_non_null(strstr(b.data, "\"store\":false"));
    assert_non_null(strstr(b.data, "\"stream\":false"));
    assert_int_equal(native("{\"model\":\"m\",\"input\":\"hi\"}", NULL, true,
                            "tok1 ", &b),
                     LD_EINVAL);
    /* a chat body without the client's own: nothing to send */
    live_chat_req r;
    char msg[128];
    static const char chat[] =
        "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    assert_int_equal(live_chat_parse(chat, sizeof chat - 1, &r, msg, sizeof msg),
                     LD_OK);
    assert_int_equal(live_provider_build(P, &r, "m", false, NULL, &b, NULL),
                     LD_EINVAL);
    live_chat_cleanup(&r);
    live_buf_cleanup(&b);
}

static void test_a_whole_answer_is_relayed_as_it_is_with_usage_and_finish(void **state)
{
    (void)state;
    static const char body[] =
        "{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\","
        "\"model\":\"gpt-up\",\"output\":[{\"type\":\"message\",\"content\":"
        "[{\"type\":\"output_text\",\"text\":\"hi\"}]}],"
        "\"usage\":{\"input_tokens\":7,\"output_tokens\":3,\"total_tokens\":10}}";
    live_buf out;
    live_answer a;
    live_buf_init(&out, 0);
    assert_int_equal(live_provider_answer(P, body, sizeof body - 1, &out, &a), LD_OK);
    assert_int_equal(out.len, sizeof body - 1);
    assert_memory_equal(out.data, body, sizeof body - 1);
    assert_int_equal(a.input_tokens, 7);
    assert_int_equal(a.output_tokens, 3);
    assert_string_equal(a.finish_reason, "stop");
    assert_string_equal(a.model, "gpt-up");

    static const char tool[] =
        "{\"object\":\"response\",\"status\":\"completed\",\"output\":["
        "{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"{}\"}]}";
    out.len = 0;
    assert_int_equal(live_provider_answer(P, tool, sizeof tool - 1, &out, &a), LD_OK);
    assert_string_equal(a.finish_reason, "tool_calls");
    assert_int_equal(a.output_tokens, -1);

    static const char cut[] =
        "{\"object\":\"response\",\"status\":\"incomplete\",\"output\":[],"
        "\"incomplete_details\":{\"reason\":\"content_filter\"}}";
    out.len = 0;
    assert_int_equal(live_provider_answer(P, cut, sizeof cut - 1, &out, &a), LD_OK);
    assert_string_equal(a.finish_reason, "content_filter");
    static const char len[] =
        "{\"object\":\"response\",\"status\":\"incomplete\",\"output\":[],"
        "\"incomplete_details\":{\"reason\":\"max_output_tokens\"}}";
    out.len = 0;
    assert_int_equal(live_provider_answer(P, len, sizeof len - 1, &out, &a), LD_OK);
    assert_string_equal(a.finish_reason, "length");
    live_buf_cleanup(&out);
}

static void test_a_failed_or_foreign_answer_is_not_valid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"object\":\"response\",\"status\":\"failed\",\"output\":[]}",
        "{\"object\":\"response\",\"status\":\"cancelled\",\"output\":[]}",
        "{\"object\":\"chat.completion\",\"choices\":[]}",
        "{\"object\":\"response\",\"status\":\"completed\"}",
        "[1]",
        "{not json",
    };
    live_buf out;
    live_buf_init(&out, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(live_provider_answer(P, bad[i], strlen(bad[i]), &out, NULL),
                         LD_EINVAL);
    live_buf_cleanup(&out);
}

/* Feed one event (data; its type as the event name). */
static live_chunk_info feed(live_stream *s, const char *data, live_buf *out)
{
    live_chunk_info info;
    cJSON *o = cJSON_Parse(data);
    const char *type = o != NULL && cJSON_IsString(cJSON_GetObjectItem(o, "type"))
                           ? cJSON_GetObjectItem(o, "type")->valuestring
                           : NULL;
    assert_int_equal(live_stream_feed(s, type, data, strlen(data), out, &info),
                     LD_OK);
    cJSON_Delete(o);
    return info;
}

static void test_stream_events_pass_through_and_say_what_they_carried(void **state)
{
    (void)state;
    live_stream *s = live_provider_stream_new(P, "id", 0, true);
    live_buf out;
    live_chunk_info i;
    live_answer a;
    assert_non_null(s);
    live_buf_init(&out, 0);

    i = feed(s, "{\"type\":\"response.created\",\"sequence_number\":0,"
                "\"response\":{\"model\":\"gpt-up\",\"status\":\"in_progress\"}}", &out);
    assert_false(i.content || i.done || i.error || i.malformed);
    assert_string_equal(out.data,
                        "event: response.created\ndata: {\"type\":\"response.created\","
                        "\"sequence_number\":0,\"response\":{\"model\":\"gpt-up\","
                        "\"status\":\"in_progress\"}}\n\n");
    i = feed(s, "{\"type\":\"response.output_item.added\",\"sequence_number\":1,"
                "\"item\":{\"type\":\"message\"}}", &out);
    assert_false(i.content); /* a message item is no token yet */
    i = feed(s, "{\"type\":\"response.output_text.delta\",\"sequence_number\":2,"
                "\"delta\":\"tok1 \"}", &out);
    assert_true(i.content);
    assert_int_equal(i.tokens, 1);
    assert_false(i.finished);
    i = feed(s, "{\"type\":\"response.output_item.added\",\"sequence_number\":3,"
                "\"item\":{\"type\":\"function_call\",\"name\":\"f\"}}", &out);
    assert_true(i.content); /* a tool call starting is content */
    i = feed(s, "{\"type\":\"response.function_call_arguments.delta\","
                "\"sequence_number\":4,\"delta\":\"{}\"}", &out);
    assert_true(i.content);
    assert_int_equal(live_stream_last_seq(s), 4);
    /* the text is never a prefill for another route */
    assert_null(live_stream_prefill(s));

    i = feed(s, "{\"type\":\"response.completed\",\"sequence_number\":5,"
                "\"response\":{\"status\":\"completed\",\"output\":[{\"type\":"
                "\"function_call\"}],\"usage\":{\"input_tokens\":4,"
                "\"output_tokens\":9}}}", &out);
    assert_true(i.finished);
    assert_true(i.done);
    live_stream_result(s, &a);
    assert_int_equal(a.input_tokens, 4);
    assert_int_equal(a.output_tokens, 9);
    assert_string_equal(a.finish_reason, "tool_calls");
    assert_string_equal(a.model, "gpt-up");
    assert_non_null(strstr(out.data, "event: response.completed\ndata: "));
    live_buf_cleanup(&out);
    live_stream_free(s);

    /* response.incomplete is a terminator too */
    s = live_provider_stream_new(P, "id", 0, true);
    live_buf_init(&out, 0);
    i = feed(s, "{\"type\":\"response.incomplete\",\"response\":{\"status\":"
                "\"incomplete\",\"incomplete_details\":{\"reason\":"
                "\"max_output_tokens\"}}}", &out);
    assert_true(i.done && i.finished);
    live_stream_result(s, &a);
    assert_string_equal(a.finish_reason, "length");
    live_buf_cleanup(&out);
    live_stream_free(s);
}

static void test_error_and_malformed_events_are_flagged_not_relayed(void **state)
{
    (void)state;
    live_stream *s = live_provider_stream_new(P, "id", 0, true);
    live_buf out;
    live_chunk_info i;
    live_buf_init(&out, 0);
    i = feed(s, "{\"type\":\"error\",\"code\":\"rate_limit_exceeded\","
                "\"message\":\"slow down\",\"sequence_number\":3}", &out);
    assert_true(i.error);
    assert_int_equal(out.len, 0);
    i = feed(s, "{\"type\":\"response.failed\",\"response\":{\"status\":"
                "\"failed\",\"error\":{\"code\":\"server_error\",\"message\":"
                "\"boom\"}}}", &out);
    assert_true(i.error);
    assert_int_equal(out.len, 0);
    static const char *const junk[] = {"{not json", "[1,2]", "{\"delta\":\"x\"}",
                                       "\"text\""};
    for (size_t k = 0; k < sizeof junk / sizeof junk[0]; k++) {
        assert_int_equal(live_stream_feed(s, "response.output_text.delta", junk[k],
                                          strlen(junk[k]), &out, &i),
                         LD_OK);
        assert_true(i.malformed);
    }
    assert_int_equal(out.len, 0);
    live_buf_cleanup(&out);
    live_stream_free(s);
}

/* What live_result (the chat path's fault semantics) makes of an error
 * event's data read by this table's words. */
static ld_class event_class(const char *data)
{
    live_seen seen;
    live_result res;
    live_seen_init(&seen);
    seen.end = LIVE_END_ERROR_EVENT;
    seen.got_headers = true;
    seen.status = 200;
    seen.stream = true;
    seen.body = data;
    seen.body_len = strlen(data);
    seen.error_words = P->error_words;
    live_result_make(&seen, &res);
    return ld_classify(&res.raw);
}

static void test_error_events_are_classified_like_the_chat_paths(void **state)
{
    (void)state;
    assert_int_equal(event_class("{\"type\":\"error\",\"code\":"
                                 "\"rate_limit_exceeded\",\"message\":\"x\"}"),
                     LD_FC_RATE_LIMITED);
    assert_int_equal(event_class("{\"type\":\"response.failed\",\"response\":"
                                 "{\"error\":{\"code\":\"server_error\","
                                 "\"message\":\"boom\"}}}"),
                     LD_FC_SERVER_ERROR);
    assert_int_equal(event_class("{\"type\":\"error\",\"code\":"
                                 "\"content_policy_violation\",\"message\":\"no\"}"),
                     LD_FC_CONTENT_BLOCKED);
    /* the words of an error body (a non-2xx answer) are OpenAI's */
    char type[64], code[64], msg[128];
    static const char body[] =
        "{\"error\":{\"type\":\"invalid_request_error\",\"code\":"
        "\"context_length_exceeded\",\"message\":\"too long\"}}";
    assert_int_equal(P->error_words(body, sizeof body - 1, type, sizeof type, code,
                                    sizeof code, msg, sizeof msg),
                     LD_OK);
    assert_string_equal(code, "context_length_exceeded");
    assert_string_equal(msg, "too long");
}

static void test_a_cut_or_unterminated_stream_is_a_cut(void **state)
{
    (void)state;
    live_seen seen;
    live_result res;
    live_seen_init(&seen);
    seen.end = LIVE_END_TRANSFER;
    seen.curl_rc = 18; /* CURLE_PARTIAL_FILE */
    seen.got_headers = true;
    seen.status = 200;
    seen.stream = true;
    seen.tokens = 2;
    seen.error_words = P->error_words;
    live_result_make(&seen, &res);
    assert_int_equal(ld_classify(&res.raw), LD_FC_STREAM_CUT);
}

static void test_the_routers_error_event_follows_the_last_sequence_number(void **state)
{
    (void)state;
    live_buf out;
    live_buf_init(&out, 0);
    assert_int_equal(live_responses_error_event(6, "upstream stream failed: "
                                                "stream_cut", "stream_cut", &out),
                     LD_OK);
    assert_string_equal(out.data,
                        "event: error\ndata: {\"type\":\"error\",\"code\":"
                        "\"stream_cut\",\"message\":\"upstream stream failed: "
                        "stream_cut\",\"param\":null,\"sequence_number\":7}\n\n");
    out.len = 0;
    assert_int_equal(live_responses_error_event(-1, "x", NULL, &out), LD_OK);
    assert_non_null(strstr(out.data, "\"code\":null"));
    assert_non_null(strstr(out.data, "\"sequence_number\":0}"));
    live_buf_cleanup(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_table_speaks_responses_at_its_own_path),
        cmocka_unit_test(test_the_clients_body_goes_with_model_stream_and_store_set),
        cmocka_unit_test(test_a_whole_answer_is_relayed_as_it_is_with_usage_and_finish),
        cmocka_unit_test(test_a_failed_or_foreign_answer_is_not_valid),
        cmocka_unit_test(test_stream_events_pass_through_and_say_what_they_carried),
        cmocka_unit_test(test_error_and_malformed_events_are_flagged_not_relayed),
        cmocka_unit_test(test_error_events_are_classified_like_the_chat_paths),
        cmocka_unit_test(test_a_cut_or_unterminated_stream_is_a_cut),
        cmocka_unit_test(test_the_routers_error_event_follows_the_last_sequence_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
