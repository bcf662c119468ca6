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

/* An upstream stream read as live_attempt.c reads it: raw SSE bytes
 * through the SSE reader into this table's feed, counting content pieces
 * and noting the terminator. */
typedef struct fed {
    live_stream *s;
    live_buf out;
    int tokens;
    bool finished, done, error, malformed;
} fed;

static void fed_event(void *ud, const char *event, const char *data, size_t len)
{
    fed *f = ud;
    live_chunk_info info;
    assert_int_equal(live_stream_feed(f->s, event, data, len, &f->out, &info),
                     LD_OK);
    if (info.content)
        f->tokens += info.tokens > 0 ? info.tokens : 1;
    f->finished = f->finished || info.finished;
    f->done = f->done || info.done;
    f->error = f->error || info.error;
    f->malformed = f->malformed || info.malformed;
}

/* The class of a stream whose bytes were `wire` and whose transfer ended
 * with curl_rc (0: the upstream closed it cleanly). */
static ld_class stream_class(const char *wire, int curl_rc, fed *f)
{
    live_sse *sse = live_sse_new(0);
    live_seen seen;
    live_result res;
    live_answer a;
    assert_non_null(sse);
    f->s = live_provider_stream_new(P, "id", 0, true);
    assert_non_null(f->s);
    live_buf_init(&f->out, 0);
    f->tokens = 0;
    f->finished = f->done = f->error = f->malformed = false;
    assert_int_equal(live_sse_feed(sse, wire, strlen(wire), fed_event, f), LD_OK);
    live_stream_result(f->s, &a);
    live_seen_init(&seen);
    seen.end = LIVE_END_TRANSFER;
    seen.curl_rc = curl_rc;
    seen.got_headers = true;
    seen.status = 200;
    seen.stream = true;
    seen.finished = f->finished;
    seen.tokens = f->tokens;
    seen.usage_tokens = a.output_tokens;
    seen.finish_reason = a.finish_reason;
    seen.error_words = P->error_words;
    live_result_make(&seen, &res);
    live_sse_free(sse);
    return ld_classify(&res.raw);
}

static void test_a_cut_or_unterminated_stream_is_a_cut(void **state)
{
    (void)state;
    /* what the fake provider's nodone sends: everything but
     * response.completed */
    static const char nodone[] =
        "event: response.created\ndata: {\"type\":\"response.created\","
        "\"sequence_number\":0,\"response\":{\"model\":\"m\","
        "\"status\":\"in_progress\",\"output\":[]}}\n\n"
        "event: response.output_text.delta\ndata: {\"type\":"
        "\"response.output_text.delta\",\"sequence_number\":1,"
        "\"delta\":\"tok1 \"}\n\n"
        "event: response.output_text.delta\ndata: {\"type\":"
        "\"response.output_text.delta\",\"sequence_number\":2,"
        "\"delta\":\"tok2 \"}\n\n"
        "event: response.output_text.done\ndata: {\"type\":"
        "\"response.output_text.done\",\"sequence_number\":3,"
        "\"text\":\"tok1 tok2 \"}\n\n"
        "event: response.output_item.done\ndata: {\"type\":"
        "\"response.output_item.done\",\"sequence_number\":4,\"item\":"
        "{\"type\":\"message\",\"status\":\"completed\"}}\n\n";
    fed f;
    /* ended cleanly without its terminator: a cut, not a success */
    assert_int_equal(stream_class(nodone, 0, &f), LD_FC_STREAM_CUT);
    assert_int_equal(f.tokens, 2);
    assert_false(f.finished || f.done || f.error || f.malformed);
    assert_int_equal(live_stream_last_seq(f.s), 4);
    assert_non_null(strstr(f.out.data, "event: response.output_item.done\n"));
    live_buf_cleanup(&f.out);
    live_stream_free(f.s);
    /* cut short by the transfer (CURLE_PARTIAL_FILE): a cut too */
    assert_int_equal(stream_class(nodone, 18, &f), LD_FC_STREAM_CUT);
    live_buf_cleanup(&f.out);
    live_stream_free(f.s);
    /* with its terminator it is a success */
    char whole[sizeof nodone + 256];
    snprintf(whole, sizeof whole, "%sevent: response.completed\ndata: "
             "{\"type\":\"response.completed\",\"sequence_number\":5,"
             "\"response\":{\"status\":\"completed\",\"output\":[],"
             "\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}}\n\n",
             nodone);
    assert_int_equal(stream_class(whole, 0, &f), LD_FC_NONE);
    assert_true(f.done && f.finished);
    live_buf_cleanup(&f.out);
    live_stream_free(f.s);
}

/* An error event after relayed ones: the router's own error event is
 * numbered right after the last one relayed, not after the dropped one. */
static void test_a_dropped_error_event_leaves_no_gap_in_the_numbers(void **state)
{
    (void)state;
    live_stream *s = live_provider_stream_new(P, "id", 0, true);
    live_buf out, err;
    live_chunk_info i;
    assert_non_null(s);
    live_buf_init(&out, 0);
    live_buf_init(&err, 0);
    i = feed(s, "{\"type\":\"response.output_text.delta\",\"sequence_number\":6,"
                "\"delta\":\"x\"}", &out);
    assert_true(i.content);
    i = feed(s, "{\"type\":\"error\",\"code\":\"server_error\","
                "\"message\":\"boom\",\"sequence_number\":7}", &out);
    assert_true(i.error);
    assert_int_equal(live_stream_last_seq(s), 6);
    i = feed(s, "{\"type\":\"response.failed\",\"sequence_number\":8,"
                "\"response\":{\"status\":\"failed\"}}", &out);
    assert_true(i.error);
    assert_int_equal(live_stream_last_seq(s), 6);
    assert_int_equal(live_responses_error_event(live_stream_last_seq(s), "x",
                                                "server_error", &err),
                     LD_OK);
    assert_non_null(strstr(err.data, "\"sequence_number\":7}"));
    live_buf_cleanup(&out);
    live_buf_cleanup(&err);
    live_stream_free(s);
}

/* The words of an error event whose code and message sit in an "error"
 * object (as Anthropic's and some proxies' do), for both event types. */
static void test_error_words_inside_an_error_object_are_read(void **state)
{
    (void)state;
    assert_int_equal(event_class("{\"type\":\"error\",\"error\":{\"code\":"
                                 "\"rate_limit_exceeded\",\"message\":\"x\"}}"),
                     LD_FC_RATE_LIMITED);
    assert_int_equal(event_class("{\"type\":\"error\",\"error\":{\"type\":"
                                 "\"invalid_request_error\",\"code\":"
                                 "\"context_length_exceeded\",\"message\":"
                                 "\"too long\"}}"),
                     LD_FC_CONTEXT_LENGTH);
    assert_int_equal(event_class("{\"type\":\"response.failed\",\"error\":"
                                 "{\"code\":\"rate_limit_exceeded\","
                                 "\"message\":\"x\"}}"),
                     LD_FC_RATE_LIMITED);
    assert_int_equal(event_class("{\"type\":\"response.failed\",\"response\":"
                                 "{\"status\":\"failed\",\"error\":null},"
                                 "\"error\":{\"code\":\"content_policy_violation\","
                                 "\"message\":\"no\"}}"),
                     LD_FC_CONTENT_BLOCKED);
    /* the top-level words still win where both are there */
    assert_int_equal(event_class("{\"type\":\"error\",\"code\":"
                                 "\"rate_limit_exceeded\",\"message\":\"x\","
                                 "\"error\":{\"code\":\"server_error\"}}"),
                     LD_FC_RATE_LIMITED);
    char type[64], code[64], msg[128];
    static const char ev[] =
        "{\"type\":\"error\",\"code\":null,\"error\":{\"type\":"
        "\"overloaded_error\",\"code\":529,\"message\":\"busy\"}}";
    assert_int_equal(P->error_words(ev, sizeof ev - 1, type, sizeof type, code,
                                    sizeof code, msg, sizeof msg),
                     LD_OK);
    assert_string_equal(type, "overloaded_error");
    assert_string_equal(code, "529");
    assert_string_equal(msg, "busy");
    assert_int_equal(event_class(ev), LD_FC_OVERLOADED);
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
        cmocka_unit_test(test_a_dropped_error_event_leaves_no_gap_in_the_numbers),
        cmocka_unit_test(test_error_words_inside_an_error_object_are_read),
        cmocka_unit_test(test_the_routers_error_event_follows_the_last_sequence_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
