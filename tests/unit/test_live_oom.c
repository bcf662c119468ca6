/* test_live_oom.c - every provider operation (request parsing, upstream
 * bodies, answers, stream events) run with cJSON's Nth allocation failing,
 * for every N until one run needs no failure: each run ends with LD_OK or
 * a clean error (LD_ENOMEM, or LD_EINVAL where a failed parse cannot be
 * told from a bad text), never a crash, a leak (the sanitizer build checks)
 * or a half-built output taken for a whole one. The failing allocator is
 * injected through cJSON's own hooks, the way the server's arena is. */
#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>

#include "live_provider.h"

static long fail_at = -1; /* the allocation that fails; -1 none */
static long allocs;

static void *failing_malloc(size_t n)
{
    if (allocs++ == fail_at)
        return NULL;
    return malloc(n);
}

static void arm(long n)
{
    cJSON_Hooks h = {failing_malloc, free};
    fail_at = n;
    allocs = 0;
    cJSON_InitHooks(&h);
}

static void disarm(void)
{
    fail_at = -1;
    cJSON_InitHooks(NULL);
}

static const char request[] =
    "{\"model\":\"auto\",\"stream\":true,"
    "\"stream_options\":{\"include_usage\":true},"
    "\"messages\":["
    "{\"role\":\"system\",\"content\":\"Be brief.\"},"
    "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Plain.\"}]},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},"
    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}},"
    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}]},"
    "{\"role\":\"assistant\",\"content\":\"Checking.\",\"tool_calls\":["
    "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"look\","
    "\"arguments\":\"{\\\"q\\\":\\\"png\\\"}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"an image\"},"
    "{\"role\":\"assistant\",\"content\":\"It is \"}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"look\","
    "\"description\":\"Look it up\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"q\":{\"type\":\"string\"}}}}}],"
    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"look\"}},"
    "\"parallel_tool_calls\":false,"
    "\"stop\":[\"END\"],\"temperature\":1.5,\"top_p\":0.9,\"max_tokens\":50,"
    "\"response_format\":{\"type\":\"json_object\"}}";

/* Gemini and Bedrock take images as data only */
static const char cloud_request[] =
    "{\"model\":\"auto\",\"stream\":true,"
    "\"stream_options\":{\"include_usage\":true},"
    "\"messages\":["
    "{\"role\":\"system\",\"content\":\"Be brief.\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},"
    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}]},"
    "{\"role\":\"assistant\",\"content\":\"Checking.\",\"tool_calls\":["
    "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"look\","
    "\"arguments\":\"{\\\"q\\\":\\\"png\\\"}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"an image\"},"
    "{\"role\":\"assistant\",\"content\":\"It is \"}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"look\","
    "\"description\":\"Look it up\",\"parameters\":{\"type\":\"object\"}}}],"
    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"look\"}},"
    "\"stop\":[\"END\"],\"temperature\":1.5,\"top_p\":0.9,\"max_tokens\":50,"
    "\"response_format\":{\"type\":\"json_object\"}}";

static const char gm_answer[] =
    "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":["
    "{\"text\":\"Hi\"},{\"functionCall\":{\"name\":\"look\",\"args\":"
    "{\"q\":\"x\"}}}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":"
    "{\"promptTokenCount\":4,\"candidatesTokenCount\":2},"
    "\"modelVersion\":\"g\"}";

static const char br_answer[] =
    "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":["
    "{\"text\":\"Hi\"},{\"toolUse\":{\"toolUseId\":\"t1\",\"name\":"
    "\"look\",\"input\":{\"q\":1}}}]}},\"stopReason\":\"tool_use\","
    "\"usage\":{\"inputTokens\":3,\"outputTokens\":2}}";

static const char *const gm_events[][2] = {
    {NULL, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}],"
           "\"modelVersion\":\"g\"}"},
    {NULL, "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
           "{\"name\":\"look\",\"args\":{\"q\":1}}}]},\"finishReason\":"
           "\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":3,"
           "\"candidatesTokenCount\":2}}"},
};

static const char *const br_events[][2] = {
    {"messageStart", "{\"role\":\"assistant\"}"},
    {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}"},
    {"contentBlockStart", "{\"contentBlockIndex\":1,\"start\":{\"toolUse\":"
                          "{\"toolUseId\":\"t1\",\"name\":\"look\"}}}"},
    {"contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":"
                          "{\"input\":\"{}\"}}}"},
    {"messageStop", "{\"stopReason\":\"tool_use\"}"},
    {"metadata", "{\"usage\":{\"inputTokens\":3,\"outputTokens\":2}}"},
};

static const char an_answer[] =
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-x\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"},"
    "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"look\","
    "\"input\":{\"q\":\"x\"}}],\"stop_reason\":\"tool_use\","
    "\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":2,"
    "\"output_tokens\":5}}";

static const char oa_answer[] =
    "{\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":"
    "{\"role\":\"assistant\",\"content\":\"x\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}";

static const char *const an_events[][2] = {
    {"message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"m\","
                      "\"model\":\"claude-x\",\"usage\":{\"input_tokens\":4,"
                      "\"output_tokens\":1}}}"},
    {"content_block_start", "{\"type\":\"content_block_start\",\"index\":0,"
                            "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"},
    {"content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
                            "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}"},
    {"content_block_start", "{\"type\":\"content_block_start\",\"index\":1,"
                            "\"content_block\":{\"type\":\"tool_use\",\"id\":"
                            "\"toolu_1\",\"name\":\"look\",\"input\":{}}}"},
    {"content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,"
                            "\"delta\":{\"type\":\"input_json_delta\","
                            "\"partial_json\":\"{\\\"q\\\":1}\"}}"},
    {"message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                      "\"tool_use\"},\"usage\":{\"output_tokens\":7}}"},
    {"message_stop", "{\"type\":\"message_stop\"}"},
};

static const char *const oa_events[] = {
    "{\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":"
    "{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}",
    "{\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":"
    "{\"tool_calls\":[{\"index\":0,\"id\":\"t\",\"function\":{\"name\":\"f\","
    "\"arguments\":\"\"}}]},\"finish_reason\":\"tool_calls\"}]}",
    "{\"id\":\"c\",\"model\":\"m\",\"choices\":[],\"usage\":"
    "{\"prompt_tokens\":3,\"completion_tokens\":2}}",
    "[DONE]",
};

static bool clean(int rc)
{
    return rc == LD_OK || rc == LD_ENOMEM || rc == LD_EINVAL;
}

/* One run of everything a provider does, allocation n failing; true when
 * no allocation failed (the run is complete). */
static bool run_provider(ld_provider which, long n)
{
    const live_provider *p = live_provider_for(which);
    live_chat_req r;
    live_buf b;
    live_answer info;
    char msg[128];
    bool whole = true;
    live_buf_init(&b, 0);
    arm(n);
    bool cloud = which == LD_PROVIDER_GEMINI || which == LD_PROVIDER_BEDROCK;
    const char *req = cloud ? cloud_request : request;
    int rc = live_chat_parse(req, strlen(req), &r, msg, sizeof msg);
    assert_true(clean(rc));
    if (rc == LD_OK) {
        rc = live_provider_build(p, &r, "model-x", true, "more", &b, NULL);
        assert_true(clean(rc));
        if (rc != LD_OK)
            assert_int_equal(b.len, 0); /* nothing half-built */
        whole = whole && rc == LD_OK;
        b.len = 0;
        rc = live_provider_build(p, &r, NULL, false, NULL, &b, NULL);
        assert_true(clean(rc));
        whole = whole && rc == LD_OK;
        live_chat_cleanup(&r);
    } else {
        whole = false;
    }
    b.len = 0;
    const char *ans = which == LD_PROVIDER_ANTHROPIC ? an_answer
                      : which == LD_PROVIDER_GEMINI  ? gm_answer
                      : which == LD_PROVIDER_BEDROCK ? br_answer
                                                     : oa_answer;
    rc = live_provider_answer(p, ans, strlen(ans), &b, &info);
    assert_true(clean(rc));
    whole = whole && rc == LD_OK;

    live_stream *s = live_provider_stream_new(p, "chatcmpl-1", 1, true);
    assert_non_null(s); /* no cJSON there */
    const char *const(*pairs)[2] = which == LD_PROVIDER_ANTHROPIC ? an_events
                                   : which == LD_PROVIDER_GEMINI  ? gm_events
                                   : which == LD_PROVIDER_BEDROCK ? br_events
                                                                  : NULL;
    size_t count = which == LD_PROVIDER_ANTHROPIC
                       ? sizeof an_events / sizeof an_events[0]
                   : which == LD_PROVIDER_GEMINI
                       ? sizeof gm_events / sizeof gm_events[0]
                   : which == LD_PROVIDER_BEDROCK
                       ? sizeof br_events / sizeof br_events[0]
                       : sizeof oa_events / sizeof oa_events[0];
    for (size_t i = 0; i < count; i++) {
        live_chunk_info ci;
        const char *ev = pairs != NULL ? pairs[i][0] : NULL;
        const char *data = pairs != NULL ? pairs[i][1] : oa_events[i];
        b.len = 0;
        rc = live_stream_feed(s, ev, data, strlen(data), &b, &ci);
        assert_true(clean(rc));
        /* a failed parse of a good event reads as malformed: the attempt
         * ends there, as the server would end it */
        if (rc != LD_OK || ci.malformed) {
            whole = false;
            break;
        }
    }
    live_stream_free(s);
    live_buf_cleanup(&b);
    whole = whole && allocs <= n;
    disarm();
    return whole || n < 0;
}

static void every_failure(ld_provider which)
{
    long n = 0;
    while (!run_provider(which, n)) {
        n++;
        assert_true(n < 100000);
    }
    assert_true(n > 10); /* the runs did allocate */
}

static void test_openai_operations_survive_each_failed_allocation(void **state)
{
    (void)state;
    every_failure(LD_PROVIDER_OPENAI);
}

static void test_anthropic_operations_survive_each_failed_allocation(void **state)
{
    (void)state;
    every_failure(LD_PROVIDER_ANTHROPIC);
}

static void test_gemini_operations_survive_each_failed_allocation(void **state)
{
    (void)state;
    every_failure(LD_PROVIDER_GEMINI);
}

static void test_bedrock_operations_survive_each_failed_allocation(void **state)
{
    (void)state;
    every_failure(LD_PROVIDER_BEDROCK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemini_operations_survive_each_failed_allocation),
        cmocka_unit_test(test_bedrock_operations_survive_each_failed_allocation),
        cmocka_unit_test(test_openai_operations_survive_each_failed_allocation),
        cmocka_unit_test(test_anthropic_operations_survive_each_failed_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
