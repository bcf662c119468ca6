/* test_live_result.c - what an upstream attempt observed, turned into the
 * core's raw result (live_result.h), and what the core then makes of it
 * (ld_classify): one test per stream fault and transport failure, the
 * three Retry-After forms. */
#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "live_result.h"

/* a 200 stream that has sent `tokens` content pieces so far */
static live_seen stream_seen(int tokens)
{
    live_seen s;
    live_seen_init(&s);
    s.got_headers = true;
    s.status = 200;
    s.stream = true;
    s.tokens = tokens;
    return s;
}

static live_result make(const live_seen *s)
{
    live_result r;
    live_result_make(s, &r);
    return r;
}

static void test_a_stream_cut_before_its_end_is_cut(void **state)
{
    (void)state;
    live_seen s = stream_seen(7);
    s.curl_rc = CURLE_PARTIAL_FILE;
    live_result r = make(&s);
    assert_int_equal(r.raw.transport, LD_TR_CUT);
    assert_int_equal(r.raw.http_status, 200);
    assert_int_equal(r.raw.completion_tokens, 7);
    assert_int_equal(ld_classify(&r.raw), LD_FC_STREAM_CUT);
}

static void test_a_stream_closed_cleanly_without_a_finish_is_cut(void **state)
{
    (void)state;
    live_seen s = stream_seen(3);
    s.curl_rc = CURLE_OK; /* the connection closed in good order */
    assert_int_equal(make(&s).raw.transport, LD_TR_CUT);
}

static void test_a_finished_stream_without_its_terminator_is_no_done(void **state)
{
    (void)state;
    live_seen s = stream_seen(4);
    s.finished = true;
    s.usage_tokens = 12;
    s.finish_reason = "stop";
    live_result r = make(&s);
    assert_int_equal(r.raw.transport, LD_TR_NO_DONE);
    assert_int_equal(r.raw.completion_tokens, 12); /* the usage's count */
    assert_string_equal(r.raw.finish_reason, "stop");
}

static void test_a_finished_stream_without_usage_counts_its_pieces(void **state)
{
    (void)state;
    live_seen s = stream_seen(4);
    s.finished = true;
    s.finish_reason = "";
    live_result r = make(&s);
    assert_int_equal(r.raw.completion_tokens, 4);
    assert_null(r.raw.finish_reason);
}

static void test_the_terminator_makes_a_complete_answer(void **state)
{
    (void)state;
    live_seen s = stream_seen(5);
    s.end = LIVE_END_DONE;
    s.usage_tokens = 9;
    s.finish_reason = "length";
    live_result r = make(&s);
    assert_int_equal(r.raw.transport, LD_TR_OK);
    assert_int_equal(r.raw.http_status, 200);
    assert_int_equal(r.raw.completion_tokens, 9);
    assert_string_equal(r.raw.finish_reason, "length");
    assert_int_equal(ld_classify(&r.raw), LD_FC_NONE);
}

static void test_a_content_filter_finish_is_a_blocked_answer(void **state)
{
    (void)state;
    live_seen s = stream_seen(2);
    s.end = LIVE_END_DONE;
    s.finish_reason = "content_filter";
    live_result r = make(&s);
    assert_int_equal(ld_classify(&r.raw), LD_FC_CONTENT_BLOCKED);
}

static void test_a_malformed_chunk_is_malformed_with_its_tokens(void **state)
{
    (void)state;
    live_seen s = stream_seen(6);
    s.end = LIVE_END_MALFORMED;
    live_result r = make(&s);
    assert_int_equal(r.raw.transport, LD_TR_MALFORMED);
    assert_int_equal(r.raw.completion_tokens, 6);
    assert_int_equal(ld_classify(&r.raw), LD_FC_INVALID_RESPONSE);
}

static void test_an_error_event_carries_its_words(void **state)
{
    (void)state;
    static const char ev[] =
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
        "\"message\":\"Overloaded\"}}";
    live_seen s = stream_seen(1);
    s.end = LIVE_END_ERROR_EVENT;
    s.body = ev;
    s.body_len = sizeof ev - 1;
    live_result r = make(&s);
    assert_int_equal(r.raw.transport, LD_TR_STREAM_ERROR);
    assert_string_equal(r.raw.error_type, "overloaded_error");
    assert_string_equal(r.raw.error_message, "Overloaded");
    assert_int_equal(r.raw.completion_tokens, 1);
    assert_int_equal(ld_classify(&r.raw), LD_FC_OVERLOADED);
}

static void test_an_error_event_without_words_is_a_server_error(void **state)
{
    (void)state;
    live_seen s = stream_seen(0);
    s.end = LIVE_END_ERROR_EVENT;
    s.body = "{\"error\": 5}";
    s.body_len = 12;
    live_result r = make(&s);
    assert_int_equal(r.raw.transport, LD_TR_STREAM_ERROR);
    assert_string_equal(r.raw.error_type, "");
    assert_int_equal(ld_classify(&r.raw), LD_FC_SERVER_ERROR);
}

static void test_a_reset_before_the_headers_is_a_reset(void **state)
{
    (void)state;
    live_seen s;
    live_seen_init(&s);
    s.curl_rc = CURLE_RECV_ERROR;
    s.status = 200; /* a status line came, its header block did not */
    live_result r = make(&s);
    assert_int_equal(r.raw.transport, LD_TR_RESET);
    assert_int_equal(r.raw.http_status, 0);
    assert_int_equal(ld_classify(&r.raw), LD_FC_RESET);
    s.curl_rc = CURLE_GOT_NOTHING;
    assert_int_equal(make(&s).raw.transport, LD_TR_RESET);
    s.curl_rc = CURLE_ABORTED_BY_CALLBACK; /* a third send refused */
    assert_int_equal(make(&s).raw.transport, LD_TR_RESET);
}

static void test_a_refused_connection_is_a_connect_failure(void **state)
{
    (void)state;
    static const int codes[] = {
        CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST,
        CURLE_COULDNT_RESOLVE_PROXY, CURLE_SSL_CONNECT_ERROR,
        CURLE_OPERATION_TIMEDOUT, CURLE_UNSUPPORTED_PROTOCOL,
        CURLE_URL_MALFORMAT};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        live_seen s;
        live_seen_init(&s);
        s.curl_rc = codes[i];
        live_result r = make(&s);
        assert_int_equal(r.raw.transport, LD_TR_CONNECT_FAILED);
        assert_int_equal(ld_classify(&r.raw), LD_FC_CONNECT_ERROR);
    }
}

static live_seen status_seen(int status, const char *body)
{
    live_seen s;
    live_seen_init(&s);
    s.got_headers = true;
    s.status = status;
    s.body = body;
    s.body_len = body != NULL ? strlen(body) : 0;
    return s;
}

static void test_a_429_with_retry_after_seconds_is_rate_limited(void **state)
{
    (void)state;
    live_seen s = status_seen(429, "{\"error\":{\"message\":\"slow down\","
                                   "\"type\":\"rate_limit_error\"}}");
    s.retry_after = "7";
    live_result r = make(&s);
    assert_int_equal(r.raw.transport, LD_TR_OK);
    assert_int_equal(r.raw.http_status, 429);
    assert_true(r.raw.retry_after == ld_s(7));
    assert_string_equal(r.raw.error_type, "rate_limit_error");
    assert_int_equal(ld_classify(&r.raw), LD_FC_RATE_LIMITED);
}

static void test_retry_after_ms_wins_over_retry_after(void **state)
{
    (void)state;
    live_seen s = status_seen(429, NULL);
    s.retry_after = "7";
    s.retry_after_ms = "1500.5";
    live_result r = make(&s);
    assert_true(r.raw.retry_after == 1500500);
    assert_null(r.raw.error_type); /* no body: no words */
    s.retry_after_ms = "soon"; /* unreadable: Retry-After counts */
    assert_true(make(&s).raw.retry_after == ld_s(7));
}

static void test_retry_after_as_an_http_date_counts_from_its_arrival(void **state)
{
    (void)state;
    /* Sun, 06 Nov 1994 08:49:37 GMT is 784111777 */
    live_seen s = status_seen(503, NULL);
    s.retry_after = "Sun, 06 Nov 1994 08:49:37 GMT";
    s.ra_unix = 784111777 - 30;
    assert_true(make(&s).raw.retry_after == ld_s(30));
    s.ra_unix = 784111777 + 5; /* a date already past: no wait */
    assert_true(make(&s).raw.retry_after == 0);
}

static void test_retry_after_values_are_read_or_refused(void **state)
{
    (void)state;
    assert_true(live_retry_after_parse("120", 0) == ld_s(120));
    assert_true(live_retry_after_parse("1.5 ", 0) == 1500000);
    assert_true(live_retry_after_parse("-3", 0) == -1);
    assert_true(live_retry_after_parse("tomorrow", 0) == -1);
    assert_true(live_retry_after_parse("", 0) == -1);
    assert_true(live_retry_after_parse(NULL, 0) == -1);
    assert_true(live_retry_after_parse("1e30", 0) == ld_s(1000000000));
    assert_true(live_retry_after_ms_parse("250") == 250000);
    assert_true(live_retry_after_ms_parse("-1") == -1);
    assert_true(live_retry_after_ms_parse("x") == -1);
    assert_true(live_retry_after_ms_parse("1e20") == (ld_us)1e15);
    live_seen s;
    live_seen_init(&s);
    assert_true(live_seen_retry_after(&s) == -1);
}

static void test_an_error_status_keeps_the_words_of_its_body(void **state)
{
    (void)state;
    live_seen s = status_seen(400, "{\"error\":{\"message\":\"This model's "
                                   "maximum context length is 8192 tokens\","
                                   "\"type\":\"invalid_request_error\","
                                   "\"code\":\"context_length_exceeded\"}}");
    live_result r = make(&s);
    assert_string_equal(r.raw.error_code, "context_length_exceeded");
    assert_int_equal(ld_classify(&r.raw), LD_FC_CONTEXT_LENGTH);
    live_seen t = status_seen(502, "<html>bad gateway</html>");
    r = make(&t);
    assert_null(r.raw.error_type); /* not an error object */
    assert_int_equal(ld_classify(&r.raw), LD_FC_SERVER_ERROR);
}

/* a provider whose error bodies say "busy" in a word of their own */
static int busy_words(const char *body, size_t len, char *type, size_t tc,
                      char *code, size_t cc, char *msg, size_t mc)
{
    (void)body;
    (void)len;
    snprintf(type, tc, "overloaded_error");
    snprintf(code, cc, "busy");
    snprintf(msg, mc, "busy");
    return LD_OK;
}

static void test_the_providers_error_reader_is_used(void **state)
{
    (void)state;
    live_seen s = status_seen(529, "busy");
    s.error_words = busy_words;
    live_result r = make(&s);
    assert_string_equal(r.raw.error_code, "busy");
    assert_int_equal(ld_classify(&r.raw), LD_FC_OVERLOADED);
}

static void test_a_whole_answer_is_ok_cut_or_malformed(void **state)
{
    (void)state;
    live_seen s = status_seen(200, NULL);
    s.usage_tokens = 5;
    s.finish_reason = "stop";
    live_result r = make(&s);
    assert_int_equal(r.raw.transport, LD_TR_OK);
    assert_int_equal(r.raw.completion_tokens, 5);
    assert_string_equal(r.raw.finish_reason, "stop");
    s.usage_tokens = -1;
    assert_int_equal(make(&s).raw.completion_tokens, 0);
    s.answer_rc = LD_EINVAL; /* not a valid answer */
    r = make(&s);
    assert_int_equal(r.raw.transport, LD_TR_MALFORMED);
    assert_int_equal(ld_classify(&r.raw), LD_FC_INVALID_RESPONSE);
    s.answer_rc = LD_OK;
    s.curl_rc = CURLE_PARTIAL_FILE; /* the body stopped short */
    assert_int_equal(make(&s).raw.transport, LD_TR_CUT);
    s.curl_rc = CURLE_OK;
    s.end = LIVE_END_MALFORMED; /* over its cap */
    assert_int_equal(make(&s).raw.transport, LD_TR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_stream_cut_before_its_end_is_cut),
        cmocka_unit_test(test_a_stream_closed_cleanly_without_a_finish_is_cut),
        cmocka_unit_test(test_a_finished_stream_without_its_terminator_is_no_done),
        cmocka_unit_test(test_a_finished_stream_without_usage_counts_its_pieces),
        cmocka_unit_test(test_the_terminator_makes_a_complete_answer),
        cmocka_unit_test(test_a_content_filter_finish_is_a_blocked_answer),
        cmocka_unit_test(test_a_malformed_chunk_is_malformed_with_its_tokens),
        cmocka_unit_test(test_an_error_event_carries_its_words),
        cmocka_unit_test(test_an_error_event_without_words_is_a_server_error),
        cmocka_unit_test(test_a_reset_before_the_headers_is_a_reset),
        cmocka_unit_test(test_a_refused_connection_is_a_connect_failure),
        cmocka_unit_test(test_a_429_with_retry_after_seconds_is_rate_limited),
        cmocka_unit_test(test_retry_after_ms_wins_over_retry_after),
        cmocka_unit_test(test_retry_after_as_an_http_date_counts_from_its_arrival),
        cmocka_unit_test(test_retry_after_values_are_read_or_refused),
        cmocka_unit_test(test_an_error_status_keeps_the_words_of_its_body),
        cmocka_unit_test(test_the_providers_error_reader_is_used),
        cmocka_unit_test(test_a_whole_answer_is_ok_cut_or_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
