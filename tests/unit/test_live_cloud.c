/* test_live_cloud.c - the Azure OpenAI, Gemini and Bedrock tables
 * (prov_azure.c, prov_gemini.c, prov_bedrock.c) and their URLs
 * (live_url.c): requests built, answers and streams translated, errors
 * read and classified. */
#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "ld_class.h"
#include "live_provider.h"

static const live_provider *prov(ld_provider p)
{
    const live_provider *t = live_provider_for(p);
    assert_non_null(t);
    return t;
}

static void parse_req(const char *body, live_chat_req *r)
{
    char msg[128];
    assert_int_equal(live_chat_parse(body, strlen(body), r, msg, sizeof msg),
                     LD_OK);
}

/* The upstream body of body for provider p, parsed (caller deletes). */
static cJSON *built(ld_provider p, const char *body, const char *prefill,
                    int want_rc)
{
    live_chat_req r;
    live_buf b;
    parse_req(body, &r);
    live_buf_init(&b, 0);
    int rc = live_provider_build(prov(p), &r, "m-1", false, prefill, &b, NULL);
    assert_int_equal(rc, want_rc);
    cJSON *j = rc == LD_OK ? cJSON_Parse(b.data) : NULL;
    if (rc == LD_OK)
        assert_non_null(j);
    live_buf_cleanup(&b);
    live_chat_cleanup(&r);
    return j;
}

static char *url(ld_provider p, const char *base, const char *region,
                 const char *model, bool stream, int n, const char **names,
                 const char **values)
{
    char *u = NULL;
    const char *why = NULL;
    assert_int_equal(live_url_make(prov(p), base, region, model, stream,
                                   names, values, n, &u, &why),
                     LD_OK);
    assert_null(why);
    return u;
}

/* ---- URLs ------------------------------------------------------------------ */

static void test_azure_url_has_the_deployment_and_api_version(void **state)
{
    (void)state;
    char *u = url(LD_PROVIDER_AZURE, "https://res.openai.azure.com/", NULL,
                  "gpt-4o prod", false, 0, NULL, NULL);
    assert_string_equal(u, "https://res.openai.azure.com/openai/deployments/"
                           "gpt-4o%20prod/chat/completions"
                           "?api-version=2024-10-21");
    curl_free(u);
    /* a route's api-version replaces the default; other parameters are
     * appended, their values encoded */
    const char *names[] = {"api-version", "x", "skip"};
    const char *values[] = {"2025-01-01", "a&b=c", NULL};
    u = url(LD_PROVIDER_AZURE, "https://res.openai.azure.com", NULL, "d",
            true, 3, names, values);
    assert_string_equal(u, "https://res.openai.azure.com/openai/deployments/d/"
                           "chat/completions?api-version=2025-01-01&"
                           "x=a%26b%3Dc");
    curl_free(u);
}

static void test_gemini_url_streams_with_alt_sse(void **state)
{
    (void)state;
    char *u = url(LD_PROVIDER_GEMINI, NULL, NULL, "gemini-2.0-flash", false, 0,
                  NULL, NULL);
    assert_string_equal(u, "https://generativelanguage.googleapis.com/v1beta/"
                           "models/gemini-2.0-flash:generateContent");
    curl_free(u);
    u = url(LD_PROVIDER_GEMINI, "http://127.0.0.1:9/v1beta", NULL, "a/b", true,
            0, NULL, NULL);
    /* curl's URL API writes escapes in lower case; they go out upper */
    assert_string_equal(u, "http://127.0.0.1:9/v1beta/models/a%2Fb:"
                           "streamGenerateContent?alt=sse");
    curl_free(u);
}

static void test_bedrock_url_takes_the_region_and_escapes_the_model(void **state)
{
    (void)state;
    char *u = url(LD_PROVIDER_BEDROCK, NULL, "eu-west-3",
                  "anthropic.claude-3-haiku-20240307-v1:0", true, 0, NULL,
                  NULL);
    assert_string_equal(u, "https://bedrock-runtime.eu-west-3.amazonaws.com/"
                           "model/anthropic.claude-3-haiku-20240307-v1%3A0/"
                           "converse-stream");
    curl_free(u);
    char *v = NULL;
    const char *why = NULL;
    /* without a region there is no default to fill */
    assert_int_equal(live_url_make(prov(LD_PROVIDER_BEDROCK), NULL, NULL, "m",
                                   false, NULL, NULL, 0, &v, &why),
                     LD_EINVAL);
    assert_string_equal(why, "aws_region");
    assert_null(v);
    /* a base URL curl refuses is named */
    assert_int_equal(live_url_make(prov(LD_PROVIDER_OPENAI), "http://[::1",
                                   NULL, "m", false, NULL, NULL, 0, &v, &why),
                     LD_EINVAL);
    assert_string_equal(why, "base_url");
}

static void test_openai_url_is_base_plus_path(void **state)
{
    (void)state;
    char *u = url(LD_PROVIDER_OPENAI, "http://127.0.0.1:8/v1/", NULL, NULL,
                  true, 0, NULL, NULL);
    assert_string_equal(u, "http://127.0.0.1:8/v1/chat/completions");
    curl_free(u);
}

/* ---- Azure ------------------------------------------------------------------ */

static void test_azure_speaks_openai_with_an_api_key(void **state)
{
    (void)state;
    const live_provider *a = prov(LD_PROVIDER_AZURE);
    assert_string_equal(a->name, "azure");
    assert_string_equal(a->auth_header, "api-key: %s");
    assert_null(a->default_base_url);
    assert_false(a->makes_chunks);
    cJSON *j = built(LD_PROVIDER_AZURE,
                     "{\"model\":\"x\",\"messages\":[{\"role\":\"user\","
                     "\"content\":\"hi\"}]}", NULL, LD_OK);
    assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "m-1");
    cJSON_Delete(j);
}

static void test_azure_content_filter_is_content_blocked(void **state)
{
    (void)state;
    static const char body[] =
        "{\"error\":{\"message\":\"The response was filtered due to the "
        "prompt triggering Azure OpenAI's content management policy.\","
        "\"type\":null,\"param\":\"prompt\",\"code\":\"content_filter\","
        "\"status\":400}}";
    char t[64], c[64], m[256];
    assert_int_equal(prov(LD_PROVIDER_AZURE)->error_words(body, sizeof body - 1,
                                                         t, sizeof t, c,
                                                         sizeof c, m, sizeof m),
                     LD_OK);
    ld_raw_result r;
    ld_raw_result_init(&r);
    r.http_status = 400;
    r.error_type = t;
    r.error_code = c;
    r.error_message = m;
    assert_int_equal(ld_classify(&r), LD_FC_CONTENT_BLOCKED);
    /* an answer the filter cut */
    live_buf out;
    live_answer info;
    static const char ans[] =
        "{\"choices\":[{\"index\":0,\"finish_reason\":\"content_filter\","
        "\"message\":{\"role\":\"assistant\",\"content\":\"\"}}],"
        "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":0}}";
    live_buf_init(&out, 0);
    assert_int_equal(live_provider_answer(prov(LD_PROVIDER_AZURE), ans,
                                          sizeof ans - 1, &out, &info),
                     LD_OK);
    ld_raw_result_init(&r);
    r.http_status = 200;
    r.finish_reason = info.finish_reason;
    assert_int_equal(ld_classify(&r), LD_FC_CONTENT_BLOCKED);
    live_buf_cleanup(&out);
}

/* ---- Gemini ------------------------------------------------------------------ */

#define TOOL_REQ                                                            \
    "{\"model\":\"x\",\"max_tokens\":50,\"temperature\":0.3,\"stop\":\"END\"," \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get\","     \
    "\"description\":\"d\",\"parameters\":{\"type\":\"object\"}}}],"        \
    "\"tool_choice\":\"required\",\"messages\":["                           \
    "{\"role\":\"system\",\"content\":\"be brief\"},"                       \
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"   \
    "{\"type\":\"image_url\",\"image_url\":{\"url\":"                       \
    "\"data:image/png;base64,AAAA\"}}]},"                                   \
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"     \
    "\"c1\",\"type\":\"function\",\"function\":{\"name\":\"get\","          \
    "\"arguments\":\"{\\\"q\\\":1}\"}}]},"                                  \
    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sunny\"}]}"

static void test_gemini_request_has_contents_and_config(void **state)
{
    (void)state;
    cJSON *j = built(LD_PROVIDER_GEMINI, TOOL_REQ, NULL, LD_OK);
    char *txt = cJSON_PrintUnformatted(j);
    assert_string_equal(
        txt,
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"a\"},"
        "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"AAAA\"}}]},"
        "{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"get\","
        "\"args\":{\"q\":1}}}]},{\"role\":\"user\",\"parts\":["
        "{\"functionResponse\":{\"name\":\"get\",\"response\":{\"content\":"
        "\"sunny\"}}}]}],\"systemInstruction\":{\"parts\":[{\"text\":"
        "\"be brief\"}]},\"generationConfig\":{\"maxOutputTokens\":50,"
        "\"temperature\":0.3,\"stopSequences\":[\"END\"]},\"tools\":[{"
        "\"functionDeclarations\":[{\"name\":\"get\",\"description\":\"d\","
        "\"parameters\":{\"type\":\"object\"}}]}],\"toolConfig\":{"
        "\"functionCallingConfig\":{\"mode\":\"ANY\"}}}");
    cJSON_free(txt);
    cJSON_Delete(j);
}

static void test_gemini_prefill_is_a_final_model_turn(void **state)
{
    (void)state;
    cJSON *j = built(LD_PROVIDER_GEMINI,
                     "{\"model\":\"x\",\"messages\":[{\"role\":\"user\","
                     "\"content\":\"count\"}]}", "1, 2,", LD_OK);
    cJSON *contents = cJSON_GetObjectItem(j, "contents");
    assert_int_equal(cJSON_GetArraySize(contents), 2);
    cJSON *last = cJSON_GetArrayItem(contents, 1);
    assert_string_equal(cJSON_GetObjectItem(last, "role")->valuestring, "model");
    cJSON_Delete(j);
}

static void test_gemini_refuses_what_it_cannot_express(void **state)
{
    (void)state;
    /* an image by URL, a tool result for no known call (n > 1 the
     * client's parser refuses for every route) */
    assert_null(built(LD_PROVIDER_GEMINI,
                      "{\"model\":\"x\",\"messages\":[{\"role\":\"user\","
                      "\"content\":[{\"type\":\"image_url\",\"image_url\":{"
                      "\"url\":\"https://x/y.png\"}}]}]}", NULL, LD_EINVAL));
    assert_null(built(LD_PROVIDER_GEMINI,
                      "{\"model\":\"x\",\"messages\":[{\"role\":\"tool\","
                      "\"tool_call_id\":\"nope\",\"content\":\"r\"}]}", NULL,
                      LD_EINVAL));
}

static cJSON *answer_of(ld_provider p, const char *body, int want,
                        live_answer *info)
{
    live_buf out;
    live_buf_init(&out, 0);
    assert_int_equal(live_provider_answer(prov(p), body, strlen(body), &out,
                                          info),
                     want);
    cJSON *j = want == LD_OK ? cJSON_Parse(out.data) : NULL;
    live_buf_cleanup(&out);
    return j;
}

static const char *first_content(const cJSON *j)
{
    const cJSON *m = cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
    const cJSON *c = cJSON_GetObjectItem(m, "content");
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

static void test_gemini_answer_becomes_a_chat_completion(void **state)
{
    (void)state;
    live_answer info;
    cJSON *j = answer_of(
        LD_PROVIDER_GEMINI,
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":["
        "{\"text\":\"Hello \"},{\"text\":\"there\"}]},\"finishReason\":"
        "\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":7,"
        "\"candidatesTokenCount\":2,\"thoughtsTokenCount\":5},"
        "\"modelVersion\":\"gemini-2.0-flash\"}",
        LD_OK, &info);
    assert_string_equal(first_content(j), "Hello there");
    assert_int_equal(info.input_tokens, 7);
    assert_int_equal(info.output_tokens, 7); /* thoughts count as output */
    assert_string_equal(info.finish_reason, "stop");
    assert_string_equal(info.model, "gemini-2.0-flash");
    cJSON_Delete(j);
    /* a function call */
    j = answer_of(LD_PROVIDER_GEMINI,
                  "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
                  "{\"name\":\"get\",\"args\":{\"q\":1}}}]},\"finishReason\":"
                  "\"STOP\"}]}",
                  LD_OK, &info);
    assert_string_equal(info.finish_reason, "tool_calls");
    const cJSON *call = cJSON_GetArrayItem(
        cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0),
                                "message"),
            "tool_calls"),
        0);
    assert_string_equal(cJSON_GetObjectItem(call, "id")->valuestring, "call_0");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(call, "function"), "arguments")
            ->valuestring,
        "{\"q\":1}");
    cJSON_Delete(j);
    /* not an answer */
    assert_null(answer_of(LD_PROVIDER_GEMINI, "{\"usageMetadata\":{}}",
                          LD_EINVAL, &info));
}

static void test_gemini_safety_blocks_are_content_blocked(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":"
        "{\"promptTokenCount\":4}}",
        "{\"candidates\":[{\"finishReason\":\"SAFETY\"}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},"
        "\"finishReason\":\"PROHIBITED_CONTENT\"}]}",
        "{\"candidates\":[{\"finishReason\":\"RECITATION\"}]}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        live_answer info;
        cJSON *j = answer_of(LD_PROVIDER_GEMINI, bodies[i], LD_OK, &info);
        assert_string_equal(info.finish_reason, "content_filter");
        ld_raw_result r;
        ld_raw_result_init(&r);
        r.http_status = 200;
        r.finish_reason = info.finish_reason;
        assert_int_equal(ld_classify(&r), LD_FC_CONTENT_BLOCKED);
        cJSON_Delete(j);
    }
}

/* Feed events (NULL-terminated pairs: event name, data) to a new stream of
 * p; out gets the translation. The last event's info is returned. */
static live_chunk_info feed_all(live_stream *s, const char *const *ev,
                                live_buf *out)
{
    live_chunk_info info;
    memset(&info, 0, sizeof info);
    for (size_t i = 0; ev[i + 1] != NULL; i += 2) {
        assert_int_equal(live_stream_feed(s, ev[i][0] ? ev[i] : NULL, ev[i + 1],
                                          strlen(ev[i + 1]), out, &info),
                         LD_OK);
        if (info.done)
            break;
    }
    return info;
}

static void test_gemini_stream_ends_on_its_finish_reason(void **state)
{
    (void)state;
    static const char *const ev[] = {
        "", "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"He\"}]}}],"
            "\"modelVersion\":\"g-1\"}",
        "", "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"llo\"}]},"
            "\"finishReason\":\"STOP\"}],\"usageMetadata\":{"
            "\"promptTokenCount\":3,\"candidatesTokenCount\":2}}",
        NULL, NULL};
    live_stream *s = live_provider_stream_new(prov(LD_PROVIDER_GEMINI), "cid",
                                              7, true);
    live_buf out;
    live_buf_init(&out, 0);
    live_chunk_info info = feed_all(s, ev, &out);
    assert_true(info.done);
    assert_true(info.finished);
    assert_string_equal(live_stream_text(s), "Hello");
    live_answer a;
    live_stream_result(s, &a);
    assert_int_equal(a.input_tokens, 3);
    assert_int_equal(a.output_tokens, 2);
    assert_string_equal(a.finish_reason, "stop");
    /* a role chunk, two text chunks, the finish chunk, the usage chunk */
    int chunks = 0;
    for (const char *p = out.data; (p = strstr(p, "data: ")) != NULL; p++)
        chunks++;
    assert_int_equal(chunks, 5);
    assert_non_null(strstr(out.data, "\"id\":\"cid\""));
    assert_non_null(strstr(out.data, "\"model\":\"g-1\""));
    assert_non_null(strstr(out.data, "\"finish_reason\":\"stop\""));
    assert_non_null(strstr(out.data, "\"completion_tokens\":2"));
    live_buf_cleanup(&out);
    live_stream_free(s);
}

static void test_gemini_stream_errors_and_blocks(void **state)
{
    (void)state;
    live_buf out;
    live_chunk_info info;
    live_buf_init(&out, 0);
    live_stream *s = live_provider_stream_new(prov(LD_PROVIDER_GEMINI), "c", 0,
                                              false);
    static const char err[] = "{\"error\":{\"code\":429,\"message\":\"slow\","
                              "\"status\":\"RESOURCE_EXHAUSTED\"}}";
    assert_int_equal(live_stream_feed(s, NULL, err, sizeof err - 1, &out, &info),
                     LD_OK);
    assert_true(info.error);
    static const char bad[] = "{not json";
    assert_int_equal(live_stream_feed(s, NULL, bad, sizeof bad - 1, &out, &info),
                     LD_OK);
    assert_true(info.malformed);
    static const char blocked[] = "{\"promptFeedback\":{\"blockReason\":"
                                  "\"OTHER\"}}";
    assert_int_equal(live_stream_feed(s, NULL, blocked, sizeof blocked - 1,
                                      &out, &info),
                     LD_OK);
    assert_true(info.done);
    assert_false(info.content);
    live_answer a;
    live_stream_result(s, &a);
    assert_string_equal(a.finish_reason, "content_filter");
    live_stream_free(s);
    live_buf_cleanup(&out);
}

static void test_gemini_errors_classify(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *body;
        ld_class want;
    } cases[] = {
        {429, "{\"error\":{\"code\":429,\"message\":\"Resource has been "
              "exhausted (e.g. check quota).\",\"status\":"
              "\"RESOURCE_EXHAUSTED\"}}", LD_FC_RATE_LIMITED},
        {400, "{\"error\":{\"code\":400,\"message\":\"The input token count "
              "(250000) exceeds the maximum number of tokens allowed "
              "(131072).\",\"status\":\"INVALID_ARGUMENT\"}}",
         LD_FC_CONTEXT_LENGTH},
        {400, "{\"error\":{\"code\":400,\"message\":\"bad field\","
              "\"status\":\"INVALID_ARGUMENT\"}}", LD_FC_BAD_REQUEST},
        {400, "{\"error\":{\"code\":400,\"message\":\"User location is not "
              "supported for the API use.\",\"status\":"
              "\"FAILED_PRECONDITION\"}}", LD_FC_REGION_RESTRICTED},
        {403, "{\"error\":{\"code\":403,\"message\":\"denied\",\"status\":"
              "\"PERMISSION_DENIED\"}}", LD_FC_AUTH_ERROR},
        {503, "{\"error\":{\"code\":503,\"message\":\"The model is "
              "overloaded.\",\"status\":\"UNAVAILABLE\"}}", LD_FC_OVERLOADED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char t[64], c[64], m[256];
        assert_int_equal(prov(LD_PROVIDER_GEMINI)
                             ->error_words(cases[i].body, strlen(cases[i].body),
                                           t, sizeof t, c, sizeof c, m,
                                           sizeof m),
                         LD_OK);
        ld_raw_result r;
        ld_raw_result_init(&r);
        r.http_status = cases[i].status;
        r.error_type = t;
        r.error_code = c;
        r.error_message = m;
        assert_int_equal(ld_classify(&r), cases[i].want);
    }
}

/* ---- Bedrock ------------------------------------------------------------------ */

static void test_bedrock_request_is_a_converse_body(void **state)
{
    (void)state;
    cJSON *j = built(LD_PROVIDER_BEDROCK, TOOL_REQ, NULL, LD_OK);
    char *txt = cJSON_PrintUnformatted(j);
    assert_string_equal(
        txt,
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"a\"},"
        "{\"image\":{\"format\":\"png\",\"source\":{\"bytes\":\"AAAA\"}}}]},"
        "{\"role\":\"assistant\",\"content\":[{\"toolUse\":{\"toolUseId\":"
        "\"c1\",\"name\":\"get\",\"input\":{\"q\":1}}}]},{\"role\":\"user\","
        "\"content\":[{\"toolResult\":{\"toolUseId\":\"c1\",\"content\":["
        "{\"text\":\"sunny\"}]}}]}],\"system\":[{\"text\":\"be brief\"}],"
        "\"inferenceConfig\":{\"maxTokens\":50,\"temperature\":0.3,"
        "\"stopSequences\":[\"END\"]},\"toolConfig\":{\"tools\":[{"
        "\"toolSpec\":{\"name\":\"get\",\"description\":\"d\","
        "\"inputSchema\":{\"json\":{\"type\":\"object\"}}}}],"
        "\"toolChoice\":{\"any\":{}}}}");
    cJSON_free(txt);
    cJSON_Delete(j);
    /* a prefill is the final assistant turn, without trailing space */
    j = built(LD_PROVIDER_BEDROCK,
              "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"count\"}]}", "1, 2, ", LD_OK);
    cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "messages"), 1);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(last, "content"), 0),
                            "text")
            ->valuestring,
        "1, 2,");
    cJSON_Delete(j);
    /* tool_choice none cannot be said in Converse */
    assert_null(built(LD_PROVIDER_BEDROCK,
                      "{\"model\":\"x\",\"tools\":[{\"type\":\"function\","
                      "\"function\":{\"name\":\"f\"}}],\"tool_choice\":"
                      "\"none\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"hi\"}]}", NULL, LD_EINVAL));
}

static void test_bedrock_answer_and_stop_reasons(void **state)
{
    (void)state;
    live_answer info;
    cJSON *j = answer_of(
        LD_PROVIDER_BEDROCK,
        "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":["
        "{\"text\":\"Hi\"},{\"toolUse\":{\"toolUseId\":\"t1\",\"name\":\"f\","
        "\"input\":{\"a\":2}}}]}},\"stopReason\":\"tool_use\",\"usage\":{"
        "\"inputTokens\":9,\"outputTokens\":4,\"cacheReadInputTokens\":1}}",
        LD_OK, &info);
    assert_string_equal(first_content(j), "Hi");
    assert_string_equal(info.finish_reason, "tool_calls");
    assert_int_equal(info.input_tokens, 10);
    assert_int_equal(info.output_tokens, 4);
    cJSON_Delete(j);
    j = answer_of(LD_PROVIDER_BEDROCK,
                  "{\"output\":{\"message\":{\"content\":[{\"text\":\"no\"}]}},"
                  "\"stopReason\":\"guardrail_intervened\"}",
                  LD_OK, &info);
    assert_string_equal(info.finish_reason, "content_filter");
    cJSON_Delete(j);
    j = answer_of(LD_PROVIDER_BEDROCK,
                  "{\"output\":{\"message\":{\"content\":[]}},"
                  "\"stopReason\":\"max_tokens\"}",
                  LD_OK, &info);
    assert_string_equal(info.finish_reason, "length");
    cJSON_Delete(j);
    assert_null(answer_of(LD_PROVIDER_BEDROCK, "{\"output\":{}}", LD_EINVAL,
                          &info));
}

static void test_bedrock_stream_events_translate(void **state)
{
    (void)state;
    static const char *const ev[] = {
        "messageStart", "{\"role\":\"assistant\"}",
        "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":"
                             "\"Hi \"}}",
        "contentBlockStop", "{\"contentBlockIndex\":0}",
        "contentBlockStart", "{\"contentBlockIndex\":1,\"start\":{\"toolUse\":"
                             "{\"toolUseId\":\"t1\",\"name\":\"f\"}}}",
        "contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":"
                             "{\"input\":\"{\\\"a\\\":\"}}}",
        "contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":"
                             "{\"input\":\"2}\"}}}",
        "messageStop", "{\"stopReason\":\"tool_use\"}",
        "metadata", "{\"usage\":{\"inputTokens\":5,\"outputTokens\":3},"
                    "\"metrics\":{\"latencyMs\":1}}",
        NULL, NULL};
    live_stream *s = live_provider_stream_new(prov(LD_PROVIDER_BEDROCK), "id",
                                              0, true);
    live_buf out;
    live_buf_init(&out, 0);
    live_chunk_info info = feed_all(s, ev, &out);
    assert_true(info.done);
    live_answer a;
    live_stream_result(s, &a);
    assert_string_equal(a.finish_reason, "tool_calls");
    assert_int_equal(a.input_tokens, 5);
    assert_int_equal(a.output_tokens, 3);
    assert_non_null(strstr(out.data, "\"content\":\"Hi \""));
    assert_non_null(strstr(out.data, "\"id\":\"t1\""));
    assert_non_null(strstr(out.data, "\"arguments\":\"{\\\"a\\\":\""));
    assert_non_null(strstr(out.data, "\"arguments\":\"2}\""));
    assert_non_null(strstr(out.data, "\"prompt_tokens\":5"));
    /* a delta for a block that never started is malformed */
    static const char orphan[] = "{\"contentBlockIndex\":7,\"delta\":{"
                                 "\"toolUse\":{\"input\":\"x\"}}}";
    assert_int_equal(live_stream_feed(s, "contentBlockDelta", orphan,
                                      sizeof orphan - 1, &out, &info),
                     LD_OK);
    assert_true(info.malformed);
    live_buf_cleanup(&out);
    live_stream_free(s);
}

static void test_bedrock_exceptions_classify(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        ld_class want;
    } cases[] = {
        {"{\"__type\":\"throttlingException\",\"message\":\"Too many "
         "requests\"}", LD_FC_RATE_LIMITED},
        {"{\"__type\":\"validationException\",\"message\":\"Input is too long "
         "for requested model.\"}", LD_FC_CONTEXT_LENGTH},
        {"{\"__type\":\"validationException\",\"message\":\"Malformed "
         "input\"}", LD_FC_BAD_REQUEST},
        {"{\"__type\":\"modelStreamErrorException\",\"message\":\"x\"}",
         LD_FC_SERVER_ERROR},
        {"{\"__type\":\"serviceUnavailableException\",\"message\":\"x\"}",
         LD_FC_OVERLOADED},
        {"{\"__type\":\"internalServerException\",\"message\":\"x\"}",
         LD_FC_SERVER_ERROR},
        {"{\"__type\":\"com.amazon.coral.service#ThrottlingException:"
         "http://internal\",\"Message\":\"Rate exceeded\"}",
         LD_FC_RATE_LIMITED},
    };
    live_stream *s = live_provider_stream_new(prov(LD_PROVIDER_BEDROCK), "id",
                                              0, false);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        live_buf out;
        live_chunk_info info;
        live_buf_init(&out, 0);
        /* the event-stream reader hands an exception over as "error" */
        assert_int_equal(live_stream_feed(s, "error", cases[i].body,
                                          strlen(cases[i].body), &out, &info),
                         LD_OK);
        assert_true(info.error);
        live_buf_cleanup(&out);
        char t[64], c[64], m[256];
        assert_int_equal(prov(LD_PROVIDER_BEDROCK)
                             ->error_words(cases[i].body, strlen(cases[i].body),
                                           t, sizeof t, c, sizeof c, m,
                                           sizeof m),
                         LD_OK);
        ld_raw_result r;
        ld_raw_result_init(&r);
        r.transport = LD_TR_STREAM_ERROR;
        r.http_status = 200;
        r.error_type = t;
        r.error_code = c;
        r.error_message = m;
        assert_int_equal(ld_classify(&r), cases[i].want);
    }
    live_stream_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_azure_url_has_the_deployment_and_api_version),
        cmocka_unit_test(test_gemini_url_streams_with_alt_sse),
        cmocka_unit_test(test_bedrock_url_takes_the_region_and_escapes_the_model),
        cmocka_unit_test(test_openai_url_is_base_plus_path),
        cmocka_unit_test(test_azure_speaks_openai_with_an_api_key),
        cmocka_unit_test(test_azure_content_filter_is_content_blocked),
        cmocka_unit_test(test_gemini_request_has_contents_and_config),
        cmocka_unit_test(test_gemini_prefill_is_a_final_model_turn),
        cmocka_unit_test(test_gemini_refuses_what_it_cannot_express),
        cmocka_unit_test(test_gemini_answer_becomes_a_chat_completion),
        cmocka_unit_test(test_gemini_safety_blocks_are_content_blocked),
        cmocka_unit_test(test_gemini_stream_ends_on_its_finish_reason),
        cmocka_unit_test(test_gemini_stream_errors_and_blocks),
        cmocka_unit_test(test_gemini_errors_classify),
        cmocka_unit_test(test_bedrock_request_is_a_converse_body),
        cmocka_unit_test(test_bedrock_answer_and_stop_reasons),
        cmocka_unit_test(test_bedrock_stream_events_translate),
        cmocka_unit_test(test_bedrock_exceptions_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
