/* test_classify.c - the failure taxonomy, ld_classify and the provider error
 * body parser. */
#include "testutil.h"

#include <stdlib.h>

#include "ld_class.h"

/* ---- helpers --------------------------------------------------------- */

typedef struct parsed_body {
    int rc;
    char type[64];
    char code[64];
    char message[512];
} parsed_body;

static parsed_body parse_str(const char *body)
{
    parsed_body p;
    memset(&p, 'X', sizeof p); /* garbage the parser must overwrite */
    p.rc = ld_parse_error_body(body, body == NULL ? 0 : strlen(body), p.type,
                               sizeof p.type, p.code, sizeof p.code,
                               p.message, sizeof p.message);
    return p;
}

/* Body and status as a host would see them, through the parser and the
 * classifier. */
static ld_class classify_body(int status, const char *body)
{
    parsed_body p = parse_str(body);
    assert_int_equal(p.rc, LD_OK);
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.http_status = status;
    r.error_type = p.type;
    r.error_code = p.code;
    r.error_message = p.message;
    return ld_classify(&r);
}

static void assert_class(ld_class got, ld_class want)
{
    if (got != want)
        fail_msg("classified as %s, expected %s", ld_class_name(got),
                 ld_class_name(want));
}

static ld_class classify_status(int status)
{
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.http_status = status;
    return ld_classify(&r);
}

static ld_class classify_transport(ld_transport t, int status)
{
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.transport = t;
    r.http_status = status;
    return ld_classify(&r);
}

static void assert_empty_outputs(const parsed_body *p)
{
    assert_string_equal(p->type, "");
    assert_string_equal(p->code, "");
    assert_string_equal(p->message, "");
}

/* ---- real provider error bodies -------------------------------------- */

/* Each case: the HTTP status and the body exactly as the API sends it. */
#define PROVIDER_CASE(name, status, body, want)                            \
    static void name(void **state)                                         \
    {                                                                      \
        (void)state;                                                       \
        assert_class(classify_body((status), (body)), (want));             \
    }

PROVIDER_CASE(test_openai_context_length_is_context_length, 400,
              "{\n  \"error\": {\n"
              "    \"message\": \"This model's maximum context length is 8192 "
              "tokens. However, your messages resulted in 8545 tokens. Please "
              "reduce the length of the messages.\",\n"
              "    \"type\": \"invalid_request_error\",\n"
              "    \"param\": \"messages\",\n"
              "    \"code\": \"context_length_exceeded\"\n  }\n}\n",
              LD_FC_CONTEXT_LENGTH)

PROVIDER_CASE(test_openai_string_above_max_length_is_context_length, 400,
              "{\"error\":{\"message\":\"Invalid 'messages[0].content': string "
              "too long. Expected a string with maximum length 10485760, but "
              "got a string with length 12000000 instead.\",\"type\":"
              "\"invalid_request_error\",\"param\":\"messages[0].content\","
              "\"code\":\"string_above_max_length\"}}",
              LD_FC_CONTEXT_LENGTH)

PROVIDER_CASE(test_openai_rate_limit_exceeded_is_rate_limited, 429,
              "{\"error\":{\"message\":\"Rate limit reached for gpt-4o in "
              "organization org-abc on tokens per min (TPM): Limit 30000, "
              "Used 29000, Requested 1500. Please try again in 1.2s.\","
              "\"type\":\"tokens\",\"param\":null,"
              "\"code\":\"rate_limit_exceeded\"}}",
              LD_FC_RATE_LIMITED)

PROVIDER_CASE(test_openai_requests_rate_limit_is_rate_limited, 429,
              "{\"error\":{\"message\":\"Rate limit reached for requests\","
              "\"type\":\"requests\",\"param\":null,"
              "\"code\":\"rate_limit_exceeded\"}}",
              LD_FC_RATE_LIMITED)

PROVIDER_CASE(test_openai_insufficient_quota_is_quota_exhausted, 429,
              "{\"error\":{\"message\":\"You exceeded your current quota, "
              "please check your plan and billing details. For more "
              "information on this error, read the docs: https://platform."
              "openai.com/docs/guides/error-codes/api-errors.\",\"type\":"
              "\"insufficient_quota\",\"param\":null,\"code\":"
              "\"insufficient_quota\"}}",
              LD_FC_QUOTA_EXHAUSTED)

PROVIDER_CASE(test_openai_quota_with_null_code_is_quota_exhausted, 429,
              "{\"error\":{\"message\":\"You exceeded your current quota, "
              "please check your plan and billing details.\",\"type\":"
              "\"insufficient_quota\",\"param\":null,\"code\":null}}",
              LD_FC_QUOTA_EXHAUSTED)

PROVIDER_CASE(test_openai_billing_hard_limit_is_quota_exhausted, 429,
              "{\"error\":{\"message\":\"Billing hard limit has been reached\","
              "\"type\":\"invalid_request_error\",\"param\":null,"
              "\"code\":\"billing_hard_limit_reached\"}}",
              LD_FC_QUOTA_EXHAUSTED)

PROVIDER_CASE(test_openai_spend_limit_is_quota_exhausted, 429,
              "{\"error\":{\"message\":\"Your organization has reached its "
              "spend limit.\",\"type\":\"insufficient_quota\",\"param\":null,"
              "\"code\":\"organization_spend_limit_exceeded\"}}",
              LD_FC_QUOTA_EXHAUSTED)

PROVIDER_CASE(test_openai_content_policy_violation_is_content_blocked, 400,
              "{\"error\":{\"code\":\"content_policy_violation\",\"message\":"
              "\"Your request was rejected as a result of our safety system. "
              "Your prompt may contain text that is not allowed by our safety "
              "system.\",\"param\":null,\"type\":\"invalid_request_error\"}}",
              LD_FC_CONTENT_BLOCKED)

PROVIDER_CASE(test_openai_unsupported_region_is_region_restricted, 403,
              "{\"error\":{\"code\":\"unsupported_country_region_territory\","
              "\"message\":\"Country, region, or territory not supported\","
              "\"param\":null,\"type\":\"request_forbidden\"}}",
              LD_FC_REGION_RESTRICTED)

PROVIDER_CASE(test_openai_invalid_api_key_is_auth_error, 401,
              "{\"error\":{\"message\":\"Incorrect API key provided: sk-abc***"
              "xyz. You can find your API key at https://platform.openai.com/"
              "account/api-keys.\",\"type\":\"invalid_request_error\","
              "\"param\":null,\"code\":\"invalid_api_key\"}}",
              LD_FC_AUTH_ERROR)

PROVIDER_CASE(test_openai_model_not_found_is_bad_request, 404,
              "{\"error\":{\"message\":\"The model `gpt-9` does not exist or "
              "you do not have access to it.\",\"type\":"
              "\"invalid_request_error\",\"param\":null,\"code\":"
              "\"model_not_found\"}}",
              LD_FC_BAD_REQUEST)

PROVIDER_CASE(test_openai_server_error_is_server_error, 500,
              "{\"error\":{\"message\":\"The server had an error while "
              "processing your request. Sorry about that!\",\"type\":"
              "\"server_error\",\"param\":null,\"code\":null}}",
              LD_FC_SERVER_ERROR)

PROVIDER_CASE(test_openai_engine_overloaded_503_is_overloaded, 503,
              "{\"error\":{\"message\":\"The engine is currently overloaded, "
              "please try again later\",\"type\":\"server_error\",\"param\":"
              "null,\"code\":null}}",
              LD_FC_OVERLOADED)

PROVIDER_CASE(test_anthropic_prompt_too_long_is_context_length, 400,
              "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
              "\"message\":\"prompt is too long: 208310 tokens > 200000 "
              "maximum\"},\"request_id\":\"req_011CSHoEeqs5C35K2UUqR7Fy\"}",
              LD_FC_CONTEXT_LENGTH)

PROVIDER_CASE(test_anthropic_invalid_request_is_bad_request, 400,
              "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
              "\"message\":\"max_tokens: Field required\"}}",
              LD_FC_BAD_REQUEST)

PROVIDER_CASE(test_anthropic_credit_balance_too_low_is_quota_exhausted, 400,
              "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
              "\"message\":\"Your credit balance is too low to access the "
              "Anthropic API. Please go to Plans & Billing to upgrade or "
              "purchase credits.\"}}",
              LD_FC_QUOTA_EXHAUSTED)

PROVIDER_CASE(test_anthropic_usage_limit_is_quota_exhausted, 400,
              "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
              "\"message\":\"You have reached your specified API usage limits. "
              "You will regain access on 2025-07-01 at 00:00 UTC.\"}}",
              LD_FC_QUOTA_EXHAUSTED)

PROVIDER_CASE(test_anthropic_authentication_error_is_auth_error, 401,
              "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\","
              "\"message\":\"invalid x-api-key\"}}",
              LD_FC_AUTH_ERROR)

PROVIDER_CASE(test_anthropic_permission_error_is_auth_error, 403,
              "{\"type\":\"error\",\"error\":{\"type\":\"permission_error\","
              "\"message\":\"Your API key does not have permission to use the "
              "specified resource.\"}}",
              LD_FC_AUTH_ERROR)

PROVIDER_CASE(test_anthropic_not_found_error_is_bad_request, 404,
              "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\","
              "\"message\":\"model: claude-nonexistent\"}}",
              LD_FC_BAD_REQUEST)

PROVIDER_CASE(test_anthropic_request_too_large_is_context_length, 413,
              "{\"type\":\"error\",\"error\":{\"type\":\"request_too_large\","
              "\"message\":\"Request exceeds the maximum allowed number of "
              "bytes.\"}}",
              LD_FC_CONTEXT_LENGTH)

PROVIDER_CASE(test_anthropic_rate_limit_error_is_rate_limited, 429,
              "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
              "\"message\":\"Number of request tokens has exceeded your "
              "per-minute rate limit (https://docs.anthropic.com/en/api/"
              "rate-limits); see the response headers for current usage.\"}}",
              LD_FC_RATE_LIMITED)

PROVIDER_CASE(test_anthropic_spend_limit_429_is_quota_exhausted, 429,
              "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
              "\"message\":\"Your organization has reached its monthly spend "
              "limit.\",\"details\":{\"error_code\":"
              "\"enforced_spend_limit_reached\"}}}",
              LD_FC_QUOTA_EXHAUSTED)

PROVIDER_CASE(test_anthropic_api_error_is_server_error, 500,
              "{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
              "\"message\":\"Internal server error\"}}",
              LD_FC_SERVER_ERROR)

PROVIDER_CASE(test_anthropic_overloaded_error_is_overloaded, 529,
              "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
              "\"message\":\"Overloaded\"}}",
              LD_FC_OVERLOADED)

/* An SSE error event after the 200 status line: the body beats the status. */
PROVIDER_CASE(test_anthropic_overloaded_in_stream_after_200_is_overloaded, 200,
              "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
              "\"message\":\"Overloaded\"}}",
              LD_FC_OVERLOADED)

PROVIDER_CASE(test_azure_content_filter_is_content_blocked, 400,
              "{\"error\":{\"message\":\"The response was filtered due to the "
              "prompt triggering Azure OpenAI's content management policy. "
              "Please modify your prompt and retry.\",\"type\":null,\"param\":"
              "\"prompt\",\"code\":\"content_filter\",\"status\":400,"
              "\"innererror\":{\"code\":\"ResponsibleAIPolicyViolation\","
              "\"content_filter_result\":{\"hate\":{\"filtered\":true,"
              "\"severity\":\"high\"}}}}}",
              LD_FC_CONTENT_BLOCKED)

PROVIDER_CASE(test_azure_rate_limit_with_numeric_code_is_rate_limited, 429,
              "{\"error\":{\"code\":\"429\",\"message\":\"Requests to the "
              "ChatCompletions_Create Operation under Azure OpenAI API version "
              "2024-02-01 have exceeded token rate limit of your current "
              "OpenAI S0 pricing tier. Please retry after 6 seconds.\"}}",
              LD_FC_RATE_LIMITED)

PROVIDER_CASE(test_google_resource_exhausted_is_rate_limited, 429,
              "{\"error\":{\"code\":429,\"message\":\"Resource has been "
              "exhausted (e.g. check quota).\",\"status\":"
              "\"RESOURCE_EXHAUSTED\"}}",
              LD_FC_RATE_LIMITED)

PROVIDER_CASE(test_region_phrase_without_code_is_region_restricted, 403,
              "{\"error\":{\"message\":\"This model is not available in your "
              "region.\",\"type\":\"invalid_request_error\"}}",
              LD_FC_REGION_RESTRICTED)

PROVIDER_CASE(test_plain_error_string_with_context_phrase, 400,
              "{\"error\":\"This request exceeds the model's context window\"}",
              LD_FC_CONTEXT_LENGTH)

/* ---- provider fields beat the status; codes beat phrases ------------- */

static void test_message_phrases_match_case_insensitively(void **state)
{
    (void)state;
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.http_status = 400;
    r.error_message = "This Model's MAXIMUM CONTEXT LENGTH is 4097 tokens";
    assert_class(ld_classify(&r), LD_FC_CONTEXT_LENGTH);
    r.error_message = "Too Many Tokens in prompt";
    assert_class(ld_classify(&r), LD_FC_CONTEXT_LENGTH);
    r.error_message = "Your credit balance is too low";
    assert_class(ld_classify(&r), LD_FC_QUOTA_EXHAUSTED);
    r.error_message = "Country, Region, or Territory not supported";
    assert_class(ld_classify(&r), LD_FC_REGION_RESTRICTED);
    r.error_message = "nothing we know";
    assert_class(ld_classify(&r), LD_FC_BAD_REQUEST);
}

static void test_provider_code_beats_message_phrase(void **state)
{
    (void)state;
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.http_status = 429;
    r.error_code = "rate_limit_exceeded";
    r.error_message = "too many tokens per minute";
    assert_class(ld_classify(&r), LD_FC_RATE_LIMITED);
}

static void test_provider_code_beats_status(void **state)
{
    (void)state;
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.http_status = 500;
    r.error_code = "context_length_exceeded";
    assert_class(ld_classify(&r), LD_FC_CONTEXT_LENGTH);
    r.http_status = 200;
    r.error_code = "insufficient_quota";
    assert_class(ld_classify(&r), LD_FC_QUOTA_EXHAUSTED);
    r.http_status = 0;
    r.error_code = NULL;
    r.error_type = "authentication_error";
    assert_class(ld_classify(&r), LD_FC_AUTH_ERROR);
}

static void test_every_listed_code_and_type_maps_to_its_class(void **state)
{
    (void)state;
    static const struct {
        const char *code, *type;
        ld_class want;
    } cases[] = {
        {"context_length_exceeded", NULL, LD_FC_CONTEXT_LENGTH},
        {NULL, "context_length_exceeded", LD_FC_CONTEXT_LENGTH},
        {"string_above_max_length", NULL, LD_FC_CONTEXT_LENGTH},
        {NULL, "request_too_large", LD_FC_CONTEXT_LENGTH},
        {"content_policy_violation", NULL, LD_FC_CONTENT_BLOCKED},
        {NULL, "content_policy_violation", LD_FC_CONTENT_BLOCKED},
        {"content_filter", NULL, LD_FC_CONTENT_BLOCKED},
        {"content_filtered", NULL, LD_FC_CONTENT_BLOCKED},
        {"safety", NULL, LD_FC_CONTENT_BLOCKED},
        {"unsupported_country_region_territory", NULL,
         LD_FC_REGION_RESTRICTED},
        {"insufficient_quota", NULL, LD_FC_QUOTA_EXHAUSTED},
        {"billing_hard_limit_reached", NULL, LD_FC_QUOTA_EXHAUSTED},
        {NULL, "billing_error", LD_FC_QUOTA_EXHAUSTED},
        {"rate_limit_exceeded", NULL, LD_FC_RATE_LIMITED},
        {NULL, "rate_limit_error", LD_FC_RATE_LIMITED},
        {NULL, "tokens", LD_FC_RATE_LIMITED},
        {NULL, "requests", LD_FC_RATE_LIMITED},
        {NULL, "overloaded_error", LD_FC_OVERLOADED},
        {NULL, "authentication_error", LD_FC_AUTH_ERROR},
        {NULL, "permission_error", LD_FC_AUTH_ERROR},
        {"invalid_api_key", NULL, LD_FC_AUTH_ERROR},
        {"model_not_found", "invalid_request_error", LD_FC_BAD_REQUEST},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ld_raw_result r;
        ld_raw_result_init(&r);
        r.http_status = 400;
        r.error_code = cases[i].code;
        r.error_type = cases[i].type;
        ld_class got = ld_classify(&r);
        if (got != cases[i].want)
            fail_msg("code %s type %s: got %s, expected %s",
                     cases[i].code ? cases[i].code : "(null)",
                     cases[i].type ? cases[i].type : "(null)",
                     ld_class_name(got), ld_class_name(cases[i].want));
    }
}

/* ---- transport faults ------------------------------------------------ */

static void test_every_transport_fault_maps_to_its_class(void **state)
{
    (void)state;
    static const struct {
        ld_transport t;
        ld_class want;
    } cases[] = {
        {LD_TR_CONNECT_FAILED, LD_FC_CONNECT_ERROR},
        {LD_TR_RESET, LD_FC_RESET},
        {LD_TR_CUT, LD_FC_STREAM_CUT},
        {LD_TR_MALFORMED, LD_FC_INVALID_RESPONSE},
        {LD_TR_NO_DONE, LD_FC_STREAM_CUT},
        {LD_TR_NOT_EXPRESSIBLE, LD_FC_CAPABILITY_MISSING},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* no status, a 200 already received, an error status */
        assert_class(classify_transport(cases[i].t, 0), cases[i].want);
        assert_class(classify_transport(cases[i].t, 200), cases[i].want);
        assert_class(classify_transport(cases[i].t, 503), cases[i].want);
    }
}

static void test_transport_ok_with_200_is_success(void **state)
{
    (void)state;
    assert_class(classify_transport(LD_TR_OK, 200), LD_FC_NONE);
}

static void test_transport_fault_beats_provider_error(void **state)
{
    (void)state;
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.transport = LD_TR_CUT;
    r.http_status = 429;
    r.error_code = "rate_limit_exceeded";
    r.error_type = "rate_limit_error";
    r.finish_reason = "content_filter";
    assert_class(ld_classify(&r), LD_FC_STREAM_CUT);
}

static void test_unknown_transport_value_is_invalid_response(void **state)
{
    (void)state;
    assert_class(classify_transport((ld_transport)99, 200),
                 LD_FC_INVALID_RESPONSE);
}

/* An error event inside a 200 stream: the provider's words decide, and
 * words that name nothing are the server's fault. */
static void test_error_event_inside_a_stream_is_classified_by_its_words(void **state)
{
    (void)state;
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.transport = LD_TR_STREAM_ERROR;
    r.http_status = 200;
    r.error_type = "overloaded_error"; /* Anthropic's mid-stream overload */
    assert_class(ld_classify(&r), LD_FC_OVERLOADED);
    r.error_type = "rate_limit_error";
    assert_class(ld_classify(&r), LD_FC_RATE_LIMITED);
    r.error_type = NULL;
    r.error_code = "context_length_exceeded";
    assert_class(ld_classify(&r), LD_FC_CONTEXT_LENGTH);
    r.error_code = "something_new";
    r.error_message = "an error nobody knows";
    assert_class(ld_classify(&r), LD_FC_SERVER_ERROR);
    r.error_code = NULL;
    r.error_message = NULL;
    assert_class(ld_classify(&r), LD_FC_SERVER_ERROR);
}

static void test_no_done_without_finish_reason_is_stream_cut(void **state)
{
    (void)state;
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.transport = LD_TR_NO_DONE;
    r.http_status = 200;
    r.completion_tokens = 120;
    assert_class(ld_classify(&r), LD_FC_STREAM_CUT);
    r.finish_reason = "";
    assert_class(ld_classify(&r), LD_FC_STREAM_CUT);
}

static void test_no_done_after_finish_reason_is_success(void **state)
{
    (void)state;
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.transport = LD_TR_NO_DONE;
    r.http_status = 200;
    r.completion_tokens = 120;
    r.finish_reason = "stop";
    assert_class(ld_classify(&r), LD_FC_NONE);
    r.finish_reason = "length";
    assert_class(ld_classify(&r), LD_FC_NONE);
    r.finish_reason = "end_turn"; /* Anthropic's stop_reason */
    assert_class(ld_classify(&r), LD_FC_NONE);
}

static void test_no_done_with_finish_reason_but_no_tokens_is_stream_cut(
    void **state)
{
    (void)state;
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.transport = LD_TR_NO_DONE;
    r.http_status = 200;
    r.completion_tokens = 0;
    r.finish_reason = "stop";
    assert_class(ld_classify(&r), LD_FC_STREAM_CUT);
}

static void test_no_done_after_content_filter_finish_is_content_blocked(
    void **state)
{
    (void)state;
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.transport = LD_TR_NO_DONE;
    r.http_status = 200;
    r.completion_tokens = 12;
    r.finish_reason = "content_filter";
    assert_class(ld_classify(&r), LD_FC_CONTENT_BLOCKED);
}

/* ---- HTTP status ranges ---------------------------------------------- */

static void test_2xx_is_success(void **state)
{
    (void)state;
    static const int ok[] = {200, 201, 202, 204, 206, 299};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_class(classify_status(ok[i]), LD_FC_NONE);
}

static void test_2xx_with_content_filter_finish_is_content_blocked(
    void **state)
{
    (void)state;
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.http_status = 200;
    r.completion_tokens = 0;
    r.finish_reason = "content_filter";
    assert_class(ld_classify(&r), LD_FC_CONTENT_BLOCKED);
    r.finish_reason = "stop";
    assert_class(ld_classify(&r), LD_FC_NONE);
}

static void test_408_is_timeout_total(void **state)
{
    (void)state;
    assert_class(classify_status(408), LD_FC_TIMEOUT_TOTAL);
}

static void test_401_and_403_are_auth_error(void **state)
{
    (void)state;
    assert_class(classify_status(401), LD_FC_AUTH_ERROR);
    assert_class(classify_status(403), LD_FC_AUTH_ERROR);
}

static void test_404_is_bad_request(void **state)
{
    (void)state;
    assert_class(classify_status(404), LD_FC_BAD_REQUEST);
}

static void test_413_is_context_length(void **state)
{
    (void)state;
    assert_class(classify_status(413), LD_FC_CONTEXT_LENGTH);
}

static void test_429_is_rate_limited(void **state)
{
    (void)state;
    assert_class(classify_status(429), LD_FC_RATE_LIMITED);
}

static void test_other_4xx_are_bad_request(void **state)
{
    (void)state;
    static const int st[] = {400, 402, 405, 409, 410, 415, 418, 422, 451, 499};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        assert_class(classify_status(st[i]), LD_FC_BAD_REQUEST);
}

static void test_503_and_529_are_overloaded(void **state)
{
    (void)state;
    assert_class(classify_status(503), LD_FC_OVERLOADED);
    assert_class(classify_status(529), LD_FC_OVERLOADED);
}

static void test_other_5xx_are_server_error(void **state)
{
    (void)state;
    static const int st[] = {500, 501, 502, 504, 520, 524, 599};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        assert_class(classify_status(st[i]), LD_FC_SERVER_ERROR);
}

static void test_no_status_line_is_invalid_response(void **state)
{
    (void)state;
    assert_class(classify_status(0), LD_FC_INVALID_RESPONSE);
}

static void test_1xx_3xx_and_out_of_range_are_invalid_response(void **state)
{
    (void)state;
    static const int st[] = {100, 101, 199, 300, 301, 302, 304, 399,
                             600, 999, -1, 42};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        assert_class(classify_status(st[i]), LD_FC_INVALID_RESPONSE);
}

static void test_classify_null_is_invalid_response(void **state)
{
    (void)state;
    assert_class(ld_classify(NULL), LD_FC_INVALID_RESPONSE);
}

/* ---- names, families, breaker ---------------------------------------- */

static const char *const expected_names[LD_FC_COUNT] = {
    "connect_error",   "reset",          "timeout_ttft",
    "timeout_total",   "stream_stall",   "stream_cut",
    "invalid_response", "rate_limited",  "quota_exhausted",
    "overloaded",      "server_error",   "auth_error",
    "bad_request",     "circuit_open",   "budget_exceeded",
    "latency_ceiling", "quality_floor",  "content_blocked",
    "region_restricted", "context_length", "capability_missing",
    "key_limit",       "shutdown",
};

static void test_key_limit_is_business_and_takes_no_rule(void **state)
{
    (void)state;
    assert_int_equal(ld_class_family(LD_FC_KEY_LIMIT), LD_FAMILY_BUSINESS);
    assert_false(ld_class_counts_for_breaker(LD_FC_KEY_LIMIT));
    assert_false(ld_class_has_rules(LD_FC_KEY_LIMIT));
    assert_true(ld_class_has_rules(LD_FC_BUDGET_EXCEEDED));
    assert_false(ld_class_has_rules(LD_FC_NONE));
    assert_false(ld_class_has_rules(LD_FC_COUNT));
}

static void test_every_class_name_round_trips(void **state)
{
    (void)state;
    for (int i = 0; i < (int)LD_FC_COUNT; i++) {
        ld_class c = (ld_class)i;
        assert_string_equal(ld_class_name(c), expected_names[i]);
        ld_class back = LD_FC_NONE;
        assert_int_equal(ld_class_parse(ld_class_name(c), &back), LD_OK);
        assert_int_equal(back, c);
    }
}

static void test_none_and_out_of_range_class_names(void **state)
{
    (void)state;
    assert_string_equal(ld_class_name(LD_FC_NONE), "none");
    assert_string_equal(ld_class_name(LD_FC_COUNT), "?");
    assert_string_equal(ld_class_name((ld_class)-7), "?");
}

static void test_unknown_class_name_does_not_parse(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "rate-limited", "RATE_LIMITED", "rate_limited ", "", "none", "?",
        "timeout", "rate_limite", "rate_limitedx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ld_class c = LD_FC_RATE_LIMITED;
        assert_int_equal(ld_class_parse(bad[i], &c), LD_ENOENT);
        assert_int_equal(c, LD_FC_RATE_LIMITED); /* untouched */
    }
    ld_class c;
    assert_int_equal(ld_class_parse(NULL, &c), LD_EINVAL);
    assert_int_equal(ld_class_parse("reset", NULL), LD_EINVAL);
}

static void test_class_families(void **state)
{
    (void)state;
    for (int i = LD_FC_CONNECT_ERROR; i <= LD_FC_CIRCUIT_OPEN; i++)
        assert_int_equal(ld_class_family((ld_class)i), LD_FAMILY_TECHNICAL);
    for (int i = LD_FC_BUDGET_EXCEEDED; i <= LD_FC_QUALITY_FLOOR; i++)
        assert_int_equal(ld_class_family((ld_class)i), LD_FAMILY_BUSINESS);
    for (int i = LD_FC_CONTENT_BLOCKED; i <= LD_FC_CAPABILITY_MISSING; i++)
        assert_int_equal(ld_class_family((ld_class)i), LD_FAMILY_POLICY);
}

static void test_family_names(void **state)
{
    (void)state;
    assert_string_equal(ld_family_name(LD_FAMILY_TECHNICAL), "technical");
    assert_string_equal(ld_family_name(LD_FAMILY_BUSINESS), "business");
    assert_string_equal(ld_family_name(LD_FAMILY_POLICY), "policy");
    assert_string_equal(ld_family_name((ld_family)42), "?");
}

static void test_only_route_health_classes_count_for_breaker(void **state)
{
    (void)state;
    static const ld_class counted[] = {
        LD_FC_CONNECT_ERROR, LD_FC_RESET,        LD_FC_TIMEOUT_TTFT,
        LD_FC_TIMEOUT_TOTAL, LD_FC_STREAM_STALL, LD_FC_STREAM_CUT,
        LD_FC_INVALID_RESPONSE, LD_FC_OVERLOADED, LD_FC_SERVER_ERROR,
        LD_FC_AUTH_ERROR};
    for (int i = 0; i < (int)LD_FC_COUNT; i++) {
        bool want = false;
        for (size_t j = 0; j < sizeof counted / sizeof counted[0]; j++)
            if (counted[j] == (ld_class)i)
                want = true;
        if (ld_class_counts_for_breaker((ld_class)i) != want)
            fail_msg("%s: counts_for_breaker should be %d",
                     ld_class_name((ld_class)i), want);
    }
    assert_false(ld_class_counts_for_breaker(LD_FC_NONE));
    assert_false(ld_class_counts_for_breaker(LD_FC_COUNT));
}

static void test_raw_result_init_is_success_with_nothing_known(void **state)
{
    (void)state;
    ld_raw_result r;
    memset(&r, 0x5a, sizeof r);
    ld_raw_result_init(&r);
    assert_int_equal(r.transport, LD_TR_OK);
    assert_int_equal(r.http_status, 0);
    assert_null(r.error_type);
    assert_null(r.error_code);
    assert_null(r.error_message);
    assert_null(r.finish_reason);
    assert_true(r.retry_after == -1);
    assert_int_equal(r.completion_tokens, 0);
}

/* ---- the error body parser ------------------------------------------- */

static void test_parse_openai_body_reads_type_code_message(void **state)
{
    (void)state;
    parsed_body p = parse_str(
        "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"tokens\","
        "\"param\":\"messages\",\"code\":\"rate_limit_exceeded\"}}");
    assert_int_equal(p.rc, LD_OK);
    assert_string_equal(p.type, "tokens");
    assert_string_equal(p.code, "rate_limit_exceeded");
    assert_string_equal(p.message, "Rate limit reached");
}

static void test_parse_openai_null_code_is_empty(void **state)
{
    (void)state;
    parsed_body p = parse_str("{\"error\":{\"message\":\"boom\",\"type\":"
                              "\"server_error\",\"param\":null,\"code\":null}}");
    assert_int_equal(p.rc, LD_OK);
    assert_string_equal(p.type, "server_error");
    assert_string_equal(p.code, "");
    assert_string_equal(p.message, "boom");
}

static void test_parse_numeric_code_is_written_as_text(void **state)
{
    (void)state;
    parsed_body p =
        parse_str("{\"error\":{\"code\":429,\"message\":\"slow down\"}}");
    assert_int_equal(p.rc, LD_OK);
    assert_string_equal(p.code, "429");
    assert_string_equal(p.type, "");
    p = parse_str("{\"error\":{\"code\":-1.5,\"message\":\"m\"}}");
    assert_int_equal(p.rc, LD_OK);
    assert_string_equal(p.code, "-1.5");
    p = parse_str("{\"error\":{\"code\":1e300,\"message\":\"m\"}}");
    assert_int_equal(p.rc, LD_OK);
    assert_string_equal(p.code, "1.0000000000000001e+300");
}

static void test_parse_anthropic_body_reads_type_and_message(void **state)
{
    (void)state;
    parsed_body p = parse_str(
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
        "\"message\":\"Overloaded\"},\"request_id\":\"req_1\"}");
    assert_int_equal(p.rc, LD_OK);
    assert_string_equal(p.type, "overloaded_error");
    assert_string_equal(p.code, "");
    assert_string_equal(p.message, "Overloaded");
}

static void test_parse_anthropic_details_error_code_fills_code(void **state)
{
    (void)state;
    parsed_body p = parse_str(
        "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
        "\"message\":\"m\",\"details\":{\"error_code\":"
        "\"enforced_spend_limit_reached\"}}}");
    assert_int_equal(p.rc, LD_OK);
    assert_string_equal(p.code, "enforced_spend_limit_reached");
    /* an explicit code wins over details */
    p = parse_str("{\"error\":{\"code\":\"c\",\"message\":\"m\","
                  "\"details\":{\"error_code\":\"d\"}}}");
    assert_string_equal(p.code, "c");
}

static void test_parse_error_string_is_message_only(void **state)
{
    (void)state;
    parsed_body p = parse_str("{\"error\":\"upstream connect error\"}");
    assert_int_equal(p.rc, LD_OK);
    assert_string_equal(p.type, "");
    assert_string_equal(p.code, "");
    assert_string_equal(p.message, "upstream connect error");
}

static void test_parse_top_level_message_with_type_or_code(void **state)
{
    (void)state;
    parsed_body p =
        parse_str("{\"message\":\"Too many requests\",\"type\":\"throttled\"}");
    assert_int_equal(p.rc, LD_OK);
    assert_string_equal(p.type, "throttled");
    assert_string_equal(p.code, "");
    assert_string_equal(p.message, "Too many requests");
    p = parse_str("{\"message\":\"Bad key\",\"code\":401}");
    assert_int_equal(p.rc, LD_OK);
    assert_string_equal(p.code, "401");
    assert_string_equal(p.message, "Bad key");
}

static void test_parse_top_level_message_alone_is_not_an_error(void **state)
{
    (void)state;
    parsed_body p = parse_str("{\"message\":\"hello\"}");
    assert_int_equal(p.rc, LD_EINVAL);
    assert_empty_outputs(&p);
}

static void test_parse_truncates_to_caps(void **state)
{
    (void)state;
    const char *body = "{\"error\":{\"message\":\"abcdefghij\",\"type\":"
                       "\"invalid_request_error\",\"code\":\"12345\"}}";
    char type[8], code[6], message[4];
    assert_int_equal(ld_parse_error_body(body, strlen(body), type, sizeof type,
                                         code, sizeof code, message,
                                         sizeof message),
                     LD_OK);
    assert_string_equal(type, "invalid");
    assert_string_equal(code, "12345"); /* exactly fits */
    assert_string_equal(message, "abc");
}

static void test_parse_with_zero_caps_writes_nothing(void **state)
{
    (void)state;
    const char *body = "{\"error\":{\"message\":\"m\",\"type\":\"t\"}}";
    char type[4] = "XYZ", code[4] = "XYZ", message[4] = "XYZ";
    assert_int_equal(ld_parse_error_body(body, strlen(body), type, 0, code, 0,
                                         message, 0),
                     LD_OK);
    assert_memory_equal(type, "XYZ", 4);
    assert_memory_equal(code, "XYZ", 4);
    assert_memory_equal(message, "XYZ", 4);
    /* NULL buffers with zero caps are fine too */
    assert_int_equal(ld_parse_error_body(body, strlen(body), NULL, 0, NULL, 0,
                                         NULL, 0),
                     LD_OK);
    assert_int_equal(ld_parse_error_body("nope", 4, NULL, 0, NULL, 0, NULL, 0),
                     LD_EINVAL);
}

static void test_parse_cap_of_one_gives_empty_string(void **state)
{
    (void)state;
    const char *body = "{\"error\":{\"message\":\"m\",\"type\":\"t\"}}";
    char type[1] = {'X'}, code[1] = {'X'}, message[1] = {'X'};
    assert_int_equal(ld_parse_error_body(body, strlen(body), type, 1, code, 1,
                                         message, 1),
                     LD_OK);
    assert_int_equal(type[0], '\0');
    assert_int_equal(code[0], '\0');
    assert_int_equal(message[0], '\0');
}

static void test_parse_truncation_keeps_utf8_characters_whole(void **state)
{
    (void)state;
    /* "ab\u00e9" is a, b, then a two-byte character */
    const char *body = "{\"error\":{\"message\":\"ab\\u00e9cd\"}}";
    char message[4];
    assert_int_equal(ld_parse_error_body(body, strlen(body), NULL, 0, NULL, 0,
                                         message, sizeof message),
                     LD_OK);
    assert_string_equal(message, "ab"); /* not "ab" + half of the e-acute */
    char five[5];
    assert_int_equal(ld_parse_error_body(body, strlen(body), NULL, 0, NULL, 0,
                                         five, sizeof five),
                     LD_OK);
    assert_string_equal(five, "ab\xc3\xa9");
}

static void test_parse_malformed_json_is_einval_with_empty_strings(
    void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "Bad Gateway",
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
        "{\"error\":{\"message\":\"x\"",
        "{\"error\":{\"message\":\"x\\",
        "{\"1\":1,",
        "{\"error\":",
        "{",
        "\"error\"",
        "[]",
        "[{\"error\":{\"message\":\"x\"}}]",
        "null",
        "42",
        "{}",
        "{\"error\":{}}",
        "{\"error\":null}",
        "{\"error\":42}",
        "{\"error\":[\"x\"]}",
        "{\"error\":{\"type\":null,\"code\":null,\"message\":null}}",
        "{\"type\":\"error\"}",
        "{\"message\":42,\"type\":\"t\"}",
        "{\"error\":{\"message\":\"\\ud800\"}", /* lone surrogate, cut */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        parsed_body p = parse_str(bad[i]);
        if (p.rc != LD_EINVAL)
            fail_msg("accepted %s", bad[i]);
        assert_empty_outputs(&p);
    }
}

static void test_parse_null_body_is_einval(void **state)
{
    (void)state;
    char type[8] = "X", code[8] = "X", message[8] = "X";
    assert_int_equal(ld_parse_error_body(NULL, 0, type, sizeof type, code,
                                         sizeof code, message, sizeof message),
                     LD_EINVAL);
    assert_string_equal(type, "");
    assert_string_equal(code, "");
    assert_string_equal(message, "");
    assert_int_equal(ld_parse_error_body(NULL, 10, type, sizeof type, code,
                                         sizeof code, message, sizeof message),
                     LD_EINVAL);
}

static void test_parse_reads_only_len_bytes(void **state)
{
    (void)state;
    /* the object is cut by len: not an error object */
    const char *body = "{\"error\":\"x\"}";
    parsed_body p;
    p.rc = ld_parse_error_body(body, strlen(body) - 1, p.type, sizeof p.type,
                               p.code, sizeof p.code, p.message,
                               sizeof p.message);
    assert_int_equal(p.rc, LD_EINVAL);
    assert_empty_outputs(&p);
}

static void test_parse_body_without_terminating_nul(void **state)
{
    (void)state;
    /* exact-size heap buffers with no NUL: the sanitizer build catches any
     * read past the end */
    static const char *const bodies[] = {
        "{\"error\":{\"message\":\"m\",\"type\":\"t\"}}",
        "{\"1\":1,",
        "{\"error\":\"x",
        "{\"error\":{\"message\":\"x\\",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        size_t n = strlen(bodies[i]);
        char *buf = malloc(n);
        assert_non_null(buf);
        memcpy(buf, bodies[i], n);
        char type[8], code[8], message[8];
        int rc = ld_parse_error_body(buf, n, type, sizeof type, code,
                                     sizeof code, message, sizeof message);
        assert_int_equal(rc, i == 0 ? LD_OK : LD_EINVAL);
        free(buf);
    }
}

static void test_parse_survives_deep_nesting_and_embedded_nul(void **state)
{
    (void)state;
    size_t n = 20000;
    char *deep = malloc(n);
    assert_non_null(deep);
    memset(deep, '[', n);
    char out[8];
    assert_int_equal(ld_parse_error_body(deep, n, out, sizeof out, out,
                                         sizeof out, out, sizeof out),
                     LD_EINVAL);
    free(deep);

    static const char nul_body[] = "{\"error\":\0\"x\"}";
    parsed_body p;
    p.rc = ld_parse_error_body(nul_body, sizeof nul_body - 1, p.type,
                               sizeof p.type, p.code, sizeof p.code,
                               p.message, sizeof p.message);
    assert_int_equal(p.rc, LD_EINVAL);
    assert_empty_outputs(&p);
}

static void test_parse_ignores_param_and_extra_fields(void **state)
{
    (void)state;
    parsed_body p = parse_str(
        "{\"error\":{\"message\":\"m\",\"type\":\"t\",\"param\":{\"a\":[1]},"
        "\"code\":\"c\",\"extra\":true},\"other\":1}");
    assert_int_equal(p.rc, LD_OK);
    assert_string_equal(p.type, "t");
    assert_string_equal(p.code, "c");
    assert_string_equal(p.message, "m");
}


/* ---- Gemini and Bedrock words -------------------------------------------- */

static void test_google_status_is_read_as_the_type(void **state)
{
    (void)state;
    parsed_body p = parse_str("{\"error\":{\"code\":429,\"message\":"
                              "\"Resource has been exhausted\",\"status\":"
                              "\"RESOURCE_EXHAUSTED\"}}");
    assert_int_equal(p.rc, LD_OK);
    assert_string_equal(p.type, "RESOURCE_EXHAUSTED");
    assert_string_equal(p.code, "429");
    /* the quota phrase in Google's message does not beat its status */
    assert_class(classify_body(429, "{\"error\":{\"code\":429,\"message\":"
                                    "\"You exceeded your current quota\","
                                    "\"status\":\"RESOURCE_EXHAUSTED\"}}"),
                 LD_FC_RATE_LIMITED);
    assert_class(classify_body(503, "{\"error\":{\"code\":503,\"message\":"
                                    "\"overloaded\",\"status\":"
                                    "\"UNAVAILABLE\"}}"),
                 LD_FC_OVERLOADED);
    assert_class(classify_body(401, "{\"error\":{\"code\":401,\"message\":"
                                    "\"no\",\"status\":\"UNAUTHENTICATED\"}}"),
                 LD_FC_AUTH_ERROR);
}

static void test_aws_type_is_read_without_its_namespace(void **state)
{
    (void)state;
    parsed_body p = parse_str("{\"__type\":\"com.amazon.coral.validate#"
                              "ValidationException:http://x\",\"Message\":"
                              "\"Malformed input request\"}");
    assert_int_equal(p.rc, LD_OK);
    assert_string_equal(p.type, "ValidationException");
    assert_string_equal(p.message, "Malformed input request");
    /* a bare {"message"} is not an error body: the status decides */
    assert_int_equal(parse_str("{\"message\":\"Too many requests\"}").rc,
                     LD_EINVAL);
}

static void test_late_types_yield_to_message_phrases(void **state)
{
    (void)state;
    /* validationException is bad_request unless the input is too long */
    assert_class(classify_body(400, "{\"__type\":\"validationException\","
                                    "\"message\":\"Input is too long for "
                                    "requested model.\"}"),
                 LD_FC_CONTEXT_LENGTH);
    assert_class(classify_body(400, "{\"__type\":\"ValidationException\","
                                    "\"message\":\"too many input tokens\"}"),
                 LD_FC_CONTEXT_LENGTH);
    assert_class(classify_body(400, "{\"__type\":\"validationException\","
                                    "\"message\":\"bad field\"}"),
                 LD_FC_BAD_REQUEST);
    /* inside a 200 stream, where the status says nothing */
    static const struct {
        const char *type;
        ld_class want;
    } ev[] = {
        {"throttlingException", LD_FC_RATE_LIMITED},
        {"validationException", LD_FC_BAD_REQUEST},
        {"modelStreamErrorException", LD_FC_SERVER_ERROR},
        {"serviceUnavailableException", LD_FC_OVERLOADED},
        {"internalServerException", LD_FC_SERVER_ERROR},
        {"accessDeniedException", LD_FC_AUTH_ERROR},
        {"INVALID_ARGUMENT", LD_FC_BAD_REQUEST},
    };
    for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++) {
        ld_raw_result r;
        ld_raw_result_init(&r);
        r.transport = LD_TR_STREAM_ERROR;
        r.http_status = 200;
        r.error_type = ev[i].type;
        r.error_message = "something";
        assert_class(ld_classify(&r), ev[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* real provider bodies */
        cmocka_unit_test(test_openai_context_length_is_context_length),
        cmocka_unit_test(test_google_status_is_read_as_the_type),
        cmocka_unit_test(test_aws_type_is_read_without_its_namespace),
        cmocka_unit_test(test_late_types_yield_to_message_phrases),
        cmocka_unit_test(test_openai_string_above_max_length_is_context_length),
        cmocka_unit_test(test_openai_rate_limit_exceeded_is_rate_limited),
        cmocka_unit_test(test_openai_requests_rate_limit_is_rate_limited),
        cmocka_unit_test(test_openai_insufficient_quota_is_quota_exhausted),
        cmocka_unit_test(test_openai_quota_with_null_code_is_quota_exhausted),
        cmocka_unit_test(test_openai_billing_hard_limit_is_quota_exhausted),
        cmocka_unit_test(test_openai_spend_limit_is_quota_exhausted),
        cmocka_unit_test(
            test_openai_content_policy_violation_is_content_blocked),
        cmocka_unit_test(test_openai_unsupported_region_is_region_restricted),
        cmocka_unit_test(test_openai_invalid_api_key_is_auth_error),
        cmocka_unit_test(test_openai_model_not_found_is_bad_request),
        cmocka_unit_test(test_openai_server_error_is_server_error),
        cmocka_unit_test(test_openai_engine_overloaded_503_is_overloaded),
        cmocka_unit_test(test_anthropic_prompt_too_long_is_context_length),
        cmocka_unit_test(test_anthropic_invalid_request_is_bad_request),
        cmocka_unit_test(
            test_anthropic_credit_balance_too_low_is_quota_exhausted),
        cmocka_unit_test(test_anthropic_usage_limit_is_quota_exhausted),
        cmocka_unit_test(test_anthropic_authentication_error_is_auth_error),
        cmocka_unit_test(test_anthropic_permission_error_is_auth_error),
        cmocka_unit_test(test_anthropic_not_found_error_is_bad_request),
        cmocka_unit_test(test_anthropic_request_too_large_is_context_length),
        cmocka_unit_test(test_anthropic_rate_limit_error_is_rate_limited),
        cmocka_unit_test(test_anthropic_spend_limit_429_is_quota_exhausted),
        cmocka_unit_test(test_anthropic_api_error_is_server_error),
        cmocka_unit_test(test_anthropic_overloaded_error_is_overloaded),
        cmocka_unit_test(
            test_anthropic_overloaded_in_stream_after_200_is_overloaded),
        cmocka_unit_test(test_azure_content_filter_is_content_blocked),
        cmocka_unit_test(
            test_azure_rate_limit_with_numeric_code_is_rate_limited),
        cmocka_unit_test(test_google_resource_exhausted_is_rate_limited),
        cmocka_unit_test(test_region_phrase_without_code_is_region_restricted),
        cmocka_unit_test(test_plain_error_string_with_context_phrase),
        /* precedence inside the provider fields */
        cmocka_unit_test(test_message_phrases_match_case_insensitively),
        cmocka_unit_test(test_provider_code_beats_message_phrase),
        cmocka_unit_test(test_provider_code_beats_status),
        cmocka_unit_test(test_every_listed_code_and_type_maps_to_its_class),
        /* transport */
        cmocka_unit_test(test_every_transport_fault_maps_to_its_class),
        cmocka_unit_test(test_transport_ok_with_200_is_success),
        cmocka_unit_test(test_transport_fault_beats_provider_error),
        cmocka_unit_test(test_unknown_transport_value_is_invalid_response),
        cmocka_unit_test(test_error_event_inside_a_stream_is_classified_by_its_words),
        cmocka_unit_test(test_no_done_without_finish_reason_is_stream_cut),
        cmocka_unit_test(test_no_done_after_finish_reason_is_success),
        cmocka_unit_test(
            test_no_done_with_finish_reason_but_no_tokens_is_stream_cut),
        cmocka_unit_test(
            test_no_done_after_content_filter_finish_is_content_blocked),
        /* status */
        cmocka_unit_test(test_2xx_is_success),
        cmocka_unit_test(
            test_2xx_with_content_filter_finish_is_content_blocked),
        cmocka_unit_test(test_408_is_timeout_total),
        cmocka_unit_test(test_401_and_403_are_auth_error),
        cmocka_unit_test(test_404_is_bad_request),
        cmocka_unit_test(test_413_is_context_length),
        cmocka_unit_test(test_429_is_rate_limited),
        cmocka_unit_test(test_other_4xx_are_bad_request),
        cmocka_unit_test(test_503_and_529_are_overloaded),
        cmocka_unit_test(test_other_5xx_are_server_error),
        cmocka_unit_test(test_no_status_line_is_invalid_response),
        cmocka_unit_test(test_1xx_3xx_and_out_of_range_are_invalid_response),
        cmocka_unit_test(test_classify_null_is_invalid_response),
        /* names, families, breaker */
        cmocka_unit_test(test_every_class_name_round_trips),
        cmocka_unit_test(test_key_limit_is_business_and_takes_no_rule),
        cmocka_unit_test(test_none_and_out_of_range_class_names),
        cmocka_unit_test(test_unknown_class_name_does_not_parse),
        cmocka_unit_test(test_class_families),
        cmocka_unit_test(test_family_names),
        cmocka_unit_test(test_only_route_health_classes_count_for_breaker),
        cmocka_unit_test(test_raw_result_init_is_success_with_nothing_known),
        /* body parser */
        cmocka_unit_test(test_parse_openai_body_reads_type_code_message),
        cmocka_unit_test(test_parse_openai_null_code_is_empty),
        cmocka_unit_test(test_parse_numeric_code_is_written_as_text),
        cmocka_unit_test(test_parse_anthropic_body_reads_type_and_message),
        cmocka_unit_test(test_parse_anthropic_details_error_code_fills_code),
        cmocka_unit_test(test_parse_error_string_is_message_only),
        cmocka_unit_test(test_parse_top_level_message_with_type_or_code),
        cmocka_unit_test(test_parse_top_level_message_alone_is_not_an_error),
        cmocka_unit_test(test_parse_truncates_to_caps),
        cmocka_unit_test(test_parse_with_zero_caps_writes_nothing),
        cmocka_unit_test(test_parse_cap_of_one_gives_empty_string),
        cmocka_unit_test(test_parse_truncation_keeps_utf8_characters_whole),
        cmocka_unit_test(test_parse_malformed_json_is_einval_with_empty_strings),
        cmocka_unit_test(test_parse_null_body_is_einval),
        cmocka_unit_test(test_parse_reads_only_len_bytes),
        cmocka_unit_test(test_parse_body_without_terminating_nul),
        cmocka_unit_test(test_parse_survives_deep_nesting_and_embedded_nul),
        cmocka_unit_test(test_parse_ignores_param_and_extra_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
