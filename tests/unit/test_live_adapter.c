/* test_live_adapter.c - the live router's translations (client request
 * parsing, upstream bodies for OpenAI-compatible and Anthropic routes,
 * answers both ways), the SSE reader and the stream translators. */
#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>

#include "live_adapter.h"

/* ---- helpers --------------------------------------------------------- */

static void parse_ok(const char *body, live_chat_req *r)
{
    char msg[256] = "";
    int rc = live_chat_parse(body, strlen(body), r, msg, sizeof msg);
    if (rc != LD_OK)
        fail_msg("parse failed (%d): %s\nbody: %s", rc, msg, body);
}

/* Parse a JSON text the test itself produced; fails the test if invalid. */
static cJSON *json(const char *text, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (j == NULL)
        fail_msg("not JSON: %.*s", (int)len, text);
    return j;
}

/* The upstream body for a request, parsed. */
static cJSON *upstream(const char *client_body, ld_provider provider,
                       const char *model, bool stream, const char *prefill,
                       const char **path)
{
    live_chat_req r;
    live_buf b;
    parse_ok(client_body, &r);
    live_buf_init(&b, 0);
    int rc = live_build_upstream(&r, provider, model, stream, prefill, &b,
                                 path);
    assert_int_equal(rc, LD_OK);
    cJSON *j = json(b.data, b.len);
    live_buf_cleanup(&b);
    live_chat_cleanup(&r);
    return j;
}

static const cJSON *at(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (v == NULL)
        fail_msg("no \"%s\"", key);
    return v;
}

static const cJSON *idx(const cJSON *arr, int i)
{
    const cJSON *v = cJSON_GetArrayItem(arr, i);
    if (v == NULL)
        fail_msg("no item %d (array has %d)", i, cJSON_GetArraySize(arr));
    return v;
}

static const char *str_at(const cJSON *j, const char *key)
{
    const cJSON *v = at(j, key);
    if (!cJSON_IsString(v))
        fail_msg("\"%s\" is not a string", key);
    return v->valuestring;
}

static double num_at(const cJSON *j, const char *key)
{
    const cJSON *v = at(j, key);
    if (!cJSON_IsNumber(v))
        fail_msg("\"%s\" is not a number", key);
    return v->valuedouble;
}

static bool has(const cJSON *j, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(j, key) != NULL;
}

/* ---- SSE collection -------------------------------------------------- */

#define MAX_EVENTS 64

typedef struct events {
    int n;
    char name[MAX_EVENTS][32]; /* "" when the event had no name */
    bool named[MAX_EVENTS];
    char *data[MAX_EVENTS];
    size_t len[MAX_EVENTS];
} events;

static void collect(void *ud, const char *event, const char *data, size_t len)
{
    events *e = ud;
    assert_true(e->n < MAX_EVENTS);
    e->named[e->n] = event != NULL;
    snprintf(e->name[e->n], sizeof e->name[e->n], "%s",
             event != NULL ? event : "");
    e->data[e->n] = malloc(len + 1);
    assert_non_null(e->data[e->n]);
    memcpy(e->data[e->n], data, len); /* len bytes, not NUL-terminated */
    e->data[e->n][len] = '\0';
    e->len[e->n] = len;
    e->n++;
}

static void events_free(events *e)
{
    for (int i = 0; i < e->n; i++)
        free(e->data[i]);
    e->n = 0;
}

static void feed_bytewise(live_sse *s, const char *text, events *e)
{
    for (size_t i = 0; text[i] != '\0'; i++)
        assert_int_equal(live_sse_feed(s, text + i, 1, collect, e), LD_OK);
}

/* ---- stream driving -------------------------------------------------- */

/* Everything a stream produced: output text and the info flags, OR-ed, with
 * the index of the first event that carried content. */
typedef struct run {
    live_stream *st;
    live_buf out;
    int events;
    int first_content; /* -1: none */
    int content_events, tokens;
    bool finished, done, error, malformed;
    int rc;
} run;

static void run_event(void *ud, const char *event, const char *data,
                      size_t len)
{
    run *r = ud;
    live_chunk_info info;
    int rc = live_stream_feed(r->st, event, data, len, &r->out, &info);
    if (rc != LD_OK)
        r->rc = rc;
    if (info.content) {
        if (r->first_content < 0)
            r->first_content = r->events;
        r->content_events++;
    }
    r->tokens += info.tokens;
    r->finished |= info.finished;
    r->done |= info.done;
    r->error |= info.error;
    r->malformed |= info.malformed;
    r->events++;
}

/* Feed an SSE text through a reader, one byte at a time, into a stream. */
static void run_stream(run *r, ld_provider provider, bool include_usage,
                       const char *sse_text)
{
    memset(r, 0, sizeof *r);
    r->first_content = -1;
    r->st = live_stream_new(provider, "chatcmpl-ladder-1", 1700000000,
                            include_usage);
    assert_non_null(r->st);
    live_buf_init(&r->out, 0);
    live_sse *s = live_sse_new(0);
    assert_non_null(s);
    for (size_t i = 0; sse_text[i] != '\0'; i++)
        assert_int_equal(live_sse_feed(s, sse_text + i, 1, run_event, r),
                         LD_OK);
    live_sse_free(s);
    assert_int_equal(r->rc, LD_OK);
}

static void run_free(run *r)
{
    live_stream_free(r->st);
    live_buf_cleanup(&r->out);
}

/* The client-side view of a stream's output: every "data: " event, parsed
 * back through the SSE reader. Checks the framing on the way. */
static int out_chunks(const live_buf *out, cJSON **chunks, int cap)
{
    events e = {0};
    live_sse *s = live_sse_new(0);
    assert_non_null(s);
    if (out->len > 0) {
        assert_int_equal(live_sse_feed(s, out->data, out->len, collect, &e),
                         LD_OK);
        /* every event is complete: ends in a blank line */
        assert_true(out->len >= 2);
        assert_memory_equal(out->data + out->len - 2, "\n\n", 2);
    }
    live_sse_free(s);
    assert_true(e.n <= cap);
    for (int i = 0; i < e.n; i++) {
        assert_false(e.named[i]);
        chunks[i] = json(e.data[i], e.len[i]);
    }
    int n = e.n;
    events_free(&e);
    return n;
}

static void chunks_free(cJSON **chunks, int n)
{
    for (int i = 0; i < n; i++)
        cJSON_Delete(chunks[i]);
}

/* ---- live_buf ---------------------------------------------------------- */

static void test_buf_grows_and_stays_nul_terminated(void **state)
{
    (void)state;
    live_buf b;
    live_buf_init(&b, 0);
    assert_int_equal(live_buf_append(&b, "", 0), LD_OK);
    assert_string_equal(b.data, "");
    for (int i = 0; i < 1000; i++)
        assert_int_equal(live_buf_append(&b, "abc", 3), LD_OK);
    assert_int_equal(b.len, 3000);
    assert_int_equal(b.data[3000], '\0');
    assert_int_equal(live_buf_appendf(&b, "-%d-%s", 42, "x"), LD_OK);
    assert_string_equal(b.data + 3000, "-42-x");
    live_buf_cleanup(&b);
    assert_null(b.data);
    live_buf_cleanup(&b); /* twice is fine */
}

static void test_buf_refuses_to_grow_past_max_and_stays_unchanged(void **state)
{
    (void)state;
    live_buf b;
    live_buf_init(&b, 8);
    assert_int_equal(live_buf_append(&b, "12345678", 8), LD_OK);
    assert_int_equal(live_buf_append(&b, "9", 1), LD_ELIMIT);
    assert_int_equal(live_buf_appendf(&b, "%d", 9), LD_ELIMIT);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    live_buf_cleanup(&b);
}

/* ---- live_chat_parse ----------------------------------------------------- */

static void test_parse_rejects_bad_bodies_with_a_message_for_each(void **state)
{
    (void)state;
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"{\"messages\": [}", "body is not JSON: syntax error at byte 14"},
        {"{\"messages\": [", "body is not JSON: unexpected end at byte 14"},
        {"{\"messages\": []} x", "body is not JSON: syntax error at byte 17"},
        {"", "body is not JSON: unexpected end at byte 0"},
        {"[1, 2]", "body must be a JSON object"},
        {"{}", "messages: required"},
        {"{\"messages\": {}}", "messages: must be an array"},
        {"{\"messages\": []}", "messages: must not be empty"},
        {"{\"messages\": [1]}", "messages[0]: must be an object"},
        {"{\"messages\": [{\"content\": \"hi\"}]}",
         "messages[0].role: required"},
        {"{\"messages\": [{\"role\": \"robot\", \"content\": \"hi\"}]}",
         "messages[0].role: \"robot\" is not one of system, developer, "
         "user, assistant, tool"},
        {"{\"messages\": [{\"role\": \"user\"}]}",
         "messages[0].content: required"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": null}]}",
         "messages[0].content: required"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": 5}]}",
         "messages[0].content: must be a string, an array of content parts "
         "or null"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, "
         "{\"role\": \"user\", \"content\": [{\"type\": \"text\"}]}]}",
         "messages[1].content[0].text: must be a string"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": [7]}]}",
         "messages[0].content[0]: must be an object"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": [{}]}]}",
         "messages[0].content[0].type: required"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": "
         "\"image_url\", \"image_url\": {}}]}]}",
         "messages[0].content[0].image_url.url: required"},
        {"{\"messages\": [{\"role\": \"tool\", \"content\": \"42\"}]}",
         "messages[0].tool_call_id: required for a tool message"},
        {"{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{"
         "\"id\": \"c1\", \"function\": {\"arguments\": \"{}\"}}]}]}",
         "messages[0].tool_calls[0].function.name: required"},
        {"{\"model\": 5, \"messages\": [{\"role\": \"user\", \"content\": "
         "\"hi\"}]}",
         "model: must be a string"},
        {"{\"stream\": \"yes\", \"messages\": [{\"role\": \"user\", "
         "\"content\": \"hi\"}]}",
         "stream: must be a boolean"},
        {"{\"n\": 0, \"messages\": [{\"role\": \"user\", \"content\": "
         "\"hi\"}]}",
         "n: must be an integer from 1 to 128"},
        {"{\"n\": 1.5, \"messages\": [{\"role\": \"user\", \"content\": "
         "\"hi\"}]}",
         "n: must be an integer from 1 to 128"},
        {"{\"n\": 1e300, \"messages\": [{\"role\": \"user\", \"content\": "
         "\"hi\"}]}",
         "n: must be an integer from 1 to 128"},
        {"{\"max_tokens\": 0, \"messages\": [{\"role\": \"user\", "
         "\"content\": \"hi\"}]}",
         "max_tokens: must be a positive integer"},
        {"{\"max_completion_tokens\": 1.5, \"messages\": [{\"role\": "
         "\"user\", \"content\": \"hi\"}]}",
         "max_completion_tokens: must be a positive integer"},
        {"{\"tools\": {}, \"messages\": [{\"role\": \"user\", \"content\": "
         "\"hi\"}]}",
         "tools: must be an array"},
        /* what the upstream gets is what was checked */
        {"{\"model\": \"a\", \"messages\": [{\"role\": \"user\", "
         "\"content\": \"hi\"}], \"model\": \"b\"}",
         "the top level: duplicate key \"model\""},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\", "
         "\"role\": \"system\"}]}",
         "messages[0]: duplicate key \"role\""},
        {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": "
         "\"text\", \"text\": \"a\", \"text\": \"b\"}]}]}",
         "messages[0].content[0]: duplicate key \"text\""},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"h\xff\"}]}",
         "messages[0].content: invalid UTF-8 at byte 1 of the string"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"\xc0\xaf\"}]}",
         "messages[0].content: invalid UTF-8 at byte 0 of the string"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"\xed\xa0\x80\"}]}",
         "messages[0].content: invalid UTF-8 at byte 0 of the string"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"\\ud800\"}]}",
         "body is not JSON: syntax error at byte 43"},
        {"{\"service_tier\": \"priority\", \"messages\": [{\"role\": "
         "\"user\", \"content\": \"hi\"}]}",
         "service_tier: unknown field (ladder forwards only the fields it "
         "checks and those a route's pass_through lists; see README, "
         "Running it for users)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        live_chat_req r;
        char msg[256];
        int rc = live_chat_parse(cases[i].body, strlen(cases[i].body), &r, msg,
                                 sizeof msg);
        if (rc != LD_EINVAL)
            fail_msg("case %zu (%s): rc %d, expected LD_EINVAL", i,
                     cases[i].body, rc);
        if (strcmp(msg, cases[i].msg) != 0)
            fail_msg("case %zu (%s):\n got  \"%s\"\n want \"%s\"", i,
                     cases[i].body, msg, cases[i].msg);
        assert_null(r.body);
        live_chat_cleanup(&r);
    }
}

static void test_parse_rejects_a_nul_byte_inside_the_body(void **state)
{
    (void)state;
    static const char body[] = "{\"messages\": []}\0junk";
    live_chat_req r;
    char msg[128];
    assert_int_equal(live_chat_parse(body, sizeof body - 1, &r, msg,
                                     sizeof msg),
                     LD_EINVAL);
    assert_string_equal(msg, "body is not JSON: syntax error at byte 16");
}

static void test_parse_reads_stream_usage_max_tokens_and_model(void **state)
{
    (void)state;
    live_chat_req r;
    parse_ok("{\"model\": \"gpt-4o\", \"stream\": true, "
             "\"stream_options\": {\"include_usage\": true}, "
             "\"max_tokens\": 100, \"max_completion_tokens\": 200, "
             "\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
             &r);
    assert_non_null(r.body);
    assert_true(r.stream);
    assert_true(r.include_usage);
    assert_int_equal(r.max_tokens, 200); /* max_completion_tokens wins */
    assert_string_equal(r.model, "gpt-4o");
    live_chat_cleanup(&r);

    parse_ok("{\"max_tokens\": 100, \"stream_options\": {\"include_usage\": "
             "true}, \"messages\": [{\"role\": \"user\", \"content\": "
             "\"hi\"}]}",
             &r);
    assert_null(r.model); /* absent: the router picks */
    assert_false(r.stream);
    assert_false(r.include_usage); /* only meaningful when streaming */
    assert_int_equal(r.max_tokens, 100);
    live_chat_cleanup(&r);

    parse_ok("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], "
             "\"n\": 1}",
             &r);
    assert_int_equal(r.max_tokens, -1);
    live_chat_cleanup(&r);
}

static void test_parse_estimates_input_tokens_from_text(void **state)
{
    (void)state;
    live_chat_req r;
    /* 40 + 20 + 8 ({"ab":1}) characters over three messages:
     * 68 / 4 + 3 * 4 = 29 */
    parse_ok("{\"messages\": ["
             "{\"role\": \"system\", \"content\": "
             "\"0123456789012345678901234567890123456789\"},"
             "{\"role\": \"user\", \"content\": [{\"type\": \"text\", "
             "\"text\": \"01234567890123456789\"}, {\"type\": \"image_url\", "
             "\"image_url\": {\"url\": \"https://x/y.png\"}}]},"
             "{\"role\": \"assistant\", \"content\": null, \"tool_calls\": "
             "[{\"id\": \"c\", \"type\": \"function\", \"function\": "
             "{\"name\": \"f\", \"arguments\": \"{\\\"ab\\\":1}\"}}]}]}",
             &r);
    assert_int_equal(r.input_tokens, 29);
    live_chat_cleanup(&r);

    /* characters, not bytes: "héé" is 3 characters, 5 bytes */
    parse_ok("{\"messages\": [{\"role\": \"user\", \"content\": "
             "\"h\xc3\xa9\xc3\xa9h\xc3\xa9\xc3\xa9\"}]}",
             &r);
    assert_int_equal(r.input_tokens, 6 / 4 + 4);
    live_chat_cleanup(&r);
}

static unsigned caps_of(const char *body)
{
    live_chat_req r;
    parse_ok(body, &r);
    unsigned caps = r.caps;
    live_chat_cleanup(&r);
    return caps;
}

static void test_parse_detects_the_capabilities_a_request_needs(void **state)
{
    (void)state;
#define USER "{\"role\": \"user\", \"content\": \"hi\"}"
    assert_int_equal(caps_of("{\"messages\": [" USER "]}"), 0);
    assert_int_equal(caps_of("{\"stream\": true, \"messages\": [" USER "]}"),
                     LD_CAP_STREAM);
    assert_int_equal(caps_of("{\"stream\": false, \"messages\": [" USER "]}"),
                     0);
    assert_int_equal(
        caps_of("{\"tools\": [{\"type\": \"function\", \"function\": "
                "{\"name\": \"f\"}}], \"messages\": [" USER "]}"),
        LD_CAP_TOOLS);
    assert_int_equal(caps_of("{\"tools\": [], \"messages\": [" USER "]}"), 0);
    assert_int_equal(
        caps_of("{\"messages\": [" USER ", {\"role\": \"assistant\", "
                "\"content\": \"The answer is\"}]}"),
        LD_CAP_PREFILL);
    assert_int_equal(
        caps_of("{\"messages\": [{\"role\": \"user\", \"content\": "
                "[{\"type\": \"image_url\", \"image_url\": {\"url\": "
                "\"data:image/png;base64,AAAA\"}}]}]}"),
        LD_CAP_VISION);
    assert_int_equal(caps_of("{\"response_format\": {\"type\": "
                             "\"json_object\"}, \"messages\": [" USER "]}"),
                     LD_CAP_JSON);
    assert_int_equal(caps_of("{\"response_format\": {\"type\": \"text\"}, "
                             "\"messages\": [" USER "]}"),
                     0);
    /* tool history needs a route with tools even without "tools" */
    assert_int_equal(
        caps_of("{\"messages\": [" USER ", {\"role\": \"assistant\", "
                "\"tool_calls\": [{\"id\": \"c1\", \"type\": \"function\", "
                "\"function\": {\"name\": \"f\", \"arguments\": \"{}\"}}]}, "
                "{\"role\": \"tool\", \"tool_call_id\": \"c1\", \"content\": "
                "\"ok\"}]}"),
        LD_CAP_TOOLS);
    assert_int_equal(
        caps_of("{\"stream\": true, \"response_format\": {\"type\": "
                "\"json_schema\"}, \"messages\": [" USER ", {\"role\": "
                "\"assistant\", \"content\": \"{\"}]}"),
        LD_CAP_STREAM | LD_CAP_JSON | LD_CAP_PREFILL);
    /* several choices need a route that gives them; one does not */
    assert_int_equal(caps_of("{\"n\": 3, \"messages\": [" USER "]}"),
                     LD_CAP_N);
    assert_int_equal(caps_of("{\"n\": 1, \"messages\": [" USER "]}"), 0);
#undef USER
}

static void test_parse_accepts_assistant_tool_calls_with_null_content(
    void **state)
{
    (void)state;
    live_chat_req r;
    parse_ok("{\"messages\": [{\"role\": \"developer\", \"content\": \"be "
             "brief\"}, {\"role\": \"user\", \"content\": \"weather?\"}, "
             "{\"role\": \"assistant\", \"content\": null, \"tool_calls\": "
             "[{\"id\": \"call_1\", \"type\": \"function\", \"function\": "
             "{\"name\": \"get_weather\", \"arguments\": \"{}\"}}]}, "
             "{\"role\": \"tool\", \"tool_call_id\": \"call_1\", "
             "\"content\": \"sunny\"}]}",
             &r);
    assert_int_equal(r.caps, LD_CAP_TOOLS);
    live_chat_cleanup(&r);
}

/* ---- upstream bodies: OpenAI-compatible ---------------------------------- */

static void test_openai_upstream_keeps_the_checked_fields_and_sets_model_stream(
    void **state)
{
    (void)state;
    const char *path = NULL;
    cJSON *j = upstream(
        "{\"model\": \"auto\", \"user\": \"u1\", "
        "\"seed\": 7, \"stream\": true, \"stream_options\": {\"other\": 1}, "
        "\"messages\": [{\"role\": \"user\", \"content\": \"hi\", "
        "\"name\": \"ann\"}]}",
        LD_PROVIDER_OPENAI, "gpt-4o-mini", true, NULL, &path);
    assert_string_equal(path, "/chat/completions");
    assert_string_equal(str_at(j, "model"), "gpt-4o-mini");
    assert_true(cJSON_IsTrue(at(j, "stream")));
    const cJSON *so = at(j, "stream_options");
    assert_true(cJSON_IsTrue(at(so, "include_usage")));
    assert_int_equal(num_at(so, "other"), 1);
    assert_string_equal(str_at(j, "user"), "u1");
    assert_int_equal(num_at(j, "seed"), 7);
    assert_string_equal(str_at(idx(at(j, "messages"), 0), "name"), "ann");
    cJSON_Delete(j);

    /* a client that streams without stream_options still gets usage asked
     * for upstream */
    j = upstream("{\"stream\": true, \"messages\": [{\"role\": \"user\", "
                 "\"content\": \"hi\"}]}",
                 LD_PROVIDER_OPENAI, "m", true, NULL, NULL);
    assert_true(cJSON_IsTrue(at(at(j, "stream_options"), "include_usage")));
    cJSON_Delete(j);
}

static void test_openai_upstream_without_streaming_drops_stream_options(
    void **state)
{
    (void)state;
    cJSON *j = upstream(
        "{\"stream\": true, \"stream_options\": {\"include_usage\": true}, "
        "\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
        LD_PROVIDER_OPENAI, "m", false, NULL, NULL);
    assert_true(cJSON_IsFalse(at(j, "stream")));
    assert_false(has(j, "stream_options"));
    cJSON_Delete(j);
}

static void test_openai_upstream_appends_prefill_as_assistant(void **state)
{
    (void)state;
    cJSON *j = upstream("{\"messages\": [{\"role\": \"user\", \"content\": "
                        "\"count\"}]}",
                        LD_PROVIDER_OPENAI, "m", true, "1, 2, 3", NULL);
    const cJSON *msgs = at(j, "messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    assert_string_equal(str_at(idx(msgs, 1), "role"), "assistant");
    assert_string_equal(str_at(idx(msgs, 1), "content"), "1, 2, 3");
    cJSON_Delete(j);

    /* the client's own prefill is continued, not followed by a second
     * assistant message */
    j = upstream("{\"messages\": [{\"role\": \"user\", \"content\": "
                 "\"count\"}, {\"role\": \"assistant\", \"content\": "
                 "\"1, \"}]}",
                 LD_PROVIDER_OPENAI, "m", true, "2, 3", NULL);
    msgs = at(j, "messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    assert_string_equal(str_at(idx(msgs, 1), "content"), "1, 2, 3");
    cJSON_Delete(j);
}

static void test_openai_upstream_keeps_client_model_when_route_has_none(
    void **state)
{
    (void)state;
    cJSON *j = upstream("{\"model\": \"client-choice\", \"messages\": "
                        "[{\"role\": \"user\", \"content\": \"hi\"}]}",
                        LD_PROVIDER_OPENAI, NULL, false, NULL, NULL);
    assert_string_equal(str_at(j, "model"), "client-choice");
    cJSON_Delete(j);
}

/* ---- upstream bodies: Anthropic ------------------------------------------ */

static void test_anthropic_upstream_extracts_system_and_merges_roles(
    void **state)
{
    (void)state;
    const char *path = NULL;
    cJSON *j = upstream(
        "{\"model\": \"auto\", \"messages\": ["
        "{\"role\": \"system\", \"content\": \"You are terse.\"},"
        "{\"role\": \"developer\", \"content\": [{\"type\": \"text\", "
        "\"text\": \"Answer in French.\"}]},"
        "{\"role\": \"user\", \"content\": \"Bonjour\"},"
        "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": "
        "\"Ca va ?\"}]},"
        "{\"role\": \"assistant\", \"content\": \"Oui.\"},"
        "{\"role\": \"system\", \"content\": \"Stay polite.\"},"
        "{\"role\": \"assistant\", \"content\": \"Et vous ?\"},"
        "{\"role\": \"user\", \"content\": \"\"},"
        "{\"role\": \"user\", \"content\": \"Bien.\"}],"
        "\"seed\": 1}",
        LD_PROVIDER_ANTHROPIC, "claude-sonnet-4-5", false, NULL, &path);
    assert_string_equal(path, "/messages");
    assert_string_equal(str_at(j, "model"), "claude-sonnet-4-5");
    assert_string_equal(str_at(j, "system"),
                        "You are terse.\n\nAnswer in French.\n\nStay polite.");
    assert_int_equal(num_at(j, "max_tokens"), 4096); /* the default */
    assert_true(cJSON_IsFalse(at(j, "stream")));
    assert_false(has(j, "seed")); /* only Messages API fields */

    const cJSON *msgs = at(j, "messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 3);
    const cJSON *u = idx(msgs, 0), *a = idx(msgs, 1), *u2 = idx(msgs, 2);
    assert_string_equal(str_at(u, "role"), "user");
    assert_int_equal(cJSON_GetArraySize(at(u, "content")), 2);
    assert_string_equal(str_at(idx(at(u, "content"), 0), "type"), "text");
    assert_string_equal(str_at(idx(at(u, "content"), 0), "text"), "Bonjour");
    assert_string_equal(str_at(idx(at(u, "content"), 1), "text"), "Ca va ?");
    assert_string_equal(str_at(a, "role"), "assistant");
    assert_int_equal(cJSON_GetArraySize(at(a, "content")), 2);
    assert_string_equal(str_at(idx(at(a, "content"), 1), "text"),
                        "Et vous ?");
    /* the empty user message is dropped, the next one stands alone */
    assert_string_equal(str_at(u2, "role"), "user");
    assert_int_equal(cJSON_GetArraySize(at(u2, "content")), 1);
    assert_string_equal(str_at(idx(at(u2, "content"), 0), "text"), "Bien.");
    cJSON_Delete(j);
}

static void test_anthropic_upstream_translates_tools_and_tool_choice(
    void **state)
{
    (void)state;
#define TOOLS                                                               \
    "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": "        \
    "\"get_weather\", \"description\": \"Weather for a city\", "            \
    "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": "    \
    "{\"type\": \"string\"}}, \"required\": [\"city\"]}}}, {\"type\": "     \
    "\"function\", \"function\": {\"name\": \"now\"}}]"
#define MSGS "\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]"
    cJSON *j = upstream("{" TOOLS ", " MSGS "}", LD_PROVIDER_ANTHROPIC, "c",
                        false, NULL, NULL);
    const cJSON *tools = at(j, "tools");
    assert_int_equal(cJSON_GetArraySize(tools), 2);
    const cJSON *t0 = idx(tools, 0), *t1 = idx(tools, 1);
    assert_string_equal(str_at(t0, "name"), "get_weather");
    assert_string_equal(str_at(t0, "description"), "Weather for a city");
    assert_string_equal(str_at(at(t0, "input_schema"), "type"), "object");
    assert_string_equal(
        str_at(at(at(at(t0, "input_schema"), "properties"), "city"), "type"),
        "string");
    assert_false(has(t0, "function"));
    /* a function without parameters gets an empty object schema */
    assert_string_equal(str_at(t1, "name"), "now");
    assert_false(has(t1, "description"));
    assert_string_equal(str_at(at(t1, "input_schema"), "type"), "object");
    assert_false(has(j, "tool_choice"));
    cJSON_Delete(j);

    static const struct {
        const char *choice, *type, *name;
    } choices[] = {
        {"\"auto\"", "auto", NULL},
        {"\"required\"", "any", NULL},
        {"\"none\"", "none", NULL},
        {"{\"type\": \"function\", \"function\": {\"name\": \"now\"}}", "tool",
         "now"},
    };
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++) {
        char body[1024];
        snprintf(body, sizeof body,
                 "{" TOOLS ", \"tool_choice\": %s, " MSGS "}",
                 choices[i].choice);
        j = upstream(body, LD_PROVIDER_ANTHROPIC, "c", false, NULL, NULL);
        const cJSON *tc = at(j, "tool_choice");
        assert_string_equal(str_at(tc, "type"), choices[i].type);
        if (choices[i].name != NULL)
            assert_string_equal(str_at(tc, "name"), choices[i].name);
        assert_false(has(tc, "disable_parallel_tool_use"));
        cJSON_Delete(j);
    }

    j = upstream("{" TOOLS ", \"parallel_tool_calls\": false, " MSGS "}",
                 LD_PROVIDER_ANTHROPIC, "c", false, NULL, NULL);
    assert_string_equal(str_at(at(j, "tool_choice"), "type"), "auto");
    assert_true(cJSON_IsTrue(at(at(j, "tool_choice"),
                                "disable_parallel_tool_use")));
    cJSON_Delete(j);
#undef TOOLS
#undef MSGS
}

static void test_anthropic_upstream_translates_tool_calls_and_results(
    void **state)
{
    (void)state;
    cJSON *j = upstream(
        "{\"messages\": ["
        "{\"role\": \"user\", \"content\": \"Weather in Paris and Rome?\"},"
        "{\"role\": \"assistant\", \"content\": \"Checking.\", \"tool_calls\": "
        "[{\"id\": \"toolu_1\", \"type\": \"function\", \"function\": "
        "{\"name\": \"get_weather\", \"arguments\": "
        "\"{\\\"city\\\": \\\"Paris\\\"}\"}}, {\"id\": \"toolu_2\", \"type\": "
        "\"function\", \"function\": {\"name\": \"get_weather\", "
        "\"arguments\": \"{\\\"city\\\": \\\"Rome\\\"}\"}}]},"
        "{\"role\": \"tool\", \"tool_call_id\": \"toolu_1\", \"content\": "
        "\"18C sunny\"},"
        "{\"role\": \"tool\", \"tool_call_id\": \"toolu_2\", \"content\": "
        "[{\"type\": \"text\", \"text\": \"25C\"}]},"
        "{\"role\": \"user\", \"content\": \"Which is warmer?\"}]}",
        LD_PROVIDER_ANTHROPIC, "c", false, NULL, NULL);
    const cJSON *msgs = at(j, "messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 3);

    const cJSON *a = at(idx(msgs, 1), "content");
    assert_string_equal(str_at(idx(msgs, 1), "role"), "assistant");
    assert_int_equal(cJSON_GetArraySize(a), 3);
    assert_string_equal(str_at(idx(a, 0), "text"), "Checking.");
    const cJSON *tu = idx(a, 1);
    assert_string_equal(str_at(tu, "type"), "tool_use");
    assert_string_equal(str_at(tu, "id"), "toolu_1");
    assert_string_equal(str_at(tu, "name"), "get_weather");
    assert_string_equal(str_at(at(tu, "input"), "city"), "Paris"); /* parsed */
    assert_string_equal(str_at(at(idx(a, 2), "input"), "city"), "Rome");

    /* both results and the next question: one user message, results first */
    const cJSON *u = at(idx(msgs, 2), "content");
    assert_string_equal(str_at(idx(msgs, 2), "role"), "user");
    assert_int_equal(cJSON_GetArraySize(u), 3);
    assert_string_equal(str_at(idx(u, 0), "type"), "tool_result");
    assert_string_equal(str_at(idx(u, 0), "tool_use_id"), "toolu_1");
    assert_string_equal(str_at(idx(u, 0), "content"), "18C sunny");
    assert_string_equal(str_at(idx(u, 1), "tool_use_id"), "toolu_2");
    assert_string_equal(str_at(idx(at(idx(u, 1), "content"), 0), "text"),
                        "25C");
    assert_string_equal(str_at(idx(u, 2), "text"), "Which is warmer?");
    cJSON_Delete(j);
}

static int build_status(const char *body, ld_provider provider)
{
    live_chat_req r;
    live_buf b;
    parse_ok(body, &r);
    live_buf_init(&b, 0);
    int rc = live_build_upstream(&r, provider, "m", false, NULL, &b, NULL);
    if (rc != LD_OK)
        assert_int_equal(b.len, 0);
    live_buf_cleanup(&b);
    live_chat_cleanup(&r);
    return rc;
}

static void test_anthropic_upstream_refuses_tool_arguments_not_an_object(
    void **state)
{
    (void)state;
    assert_int_equal(
        build_status("{\"messages\": [{\"role\": \"assistant\", "
                     "\"tool_calls\": [{\"id\": \"t\", \"type\": \"function\", "
                     "\"function\": {\"name\": \"f\", \"arguments\": "
                     "\"{not json\"}}]}]}",
                     LD_PROVIDER_ANTHROPIC),
        LD_EINVAL);
    assert_int_equal(
        build_status("{\"messages\": [{\"role\": \"assistant\", "
                     "\"tool_calls\": [{\"id\": \"t\", \"type\": \"function\", "
                     "\"function\": {\"name\": \"f\", \"arguments\": "
                     "\"[1]\"}}]}]}",
                     LD_PROVIDER_ANTHROPIC),
        LD_EINVAL);
    /* empty arguments read as {} */
    cJSON *j = upstream("{\"messages\": [{\"role\": \"user\", \"content\": "
                        "\"go\"}, {\"role\": \"assistant\", \"tool_calls\": "
                        "[{\"id\": \"t\", \"type\": \"function\", "
                        "\"function\": {\"name\": \"f\", \"arguments\": "
                        "\"\"}}]}]}",
                        LD_PROVIDER_ANTHROPIC, "c", false, NULL, NULL);
    const cJSON *tu = idx(at(idx(at(j, "messages"), 1), "content"), 0);
    assert_true(cJSON_IsObject(at(tu, "input")));
    assert_int_equal(cJSON_GetArraySize(at(tu, "input")), 0);
    cJSON_Delete(j);
    /* the same request is fine for an OpenAI-compatible route */
    assert_int_equal(
        build_status("{\"messages\": [{\"role\": \"assistant\", "
                     "\"tool_calls\": [{\"id\": \"t\", \"type\": \"function\", "
                     "\"function\": {\"name\": \"f\", \"arguments\": "
                     "\"{not json\"}}]}]}",
                     LD_PROVIDER_OPENAI),
        LD_OK);
}

static void test_anthropic_upstream_translates_images(void **state)
{
    (void)state;
    cJSON *j = upstream(
        "{\"messages\": [{\"role\": \"user\", \"content\": ["
        "{\"type\": \"text\", \"text\": \"Compare\"},"
        "{\"type\": \"image_url\", \"image_url\": {\"url\": "
        "\"data:image/png;base64,iVBORw0KGgo=\", \"detail\": \"high\"}},"
        "{\"type\": \"image_url\", \"image_url\": {\"url\": "
        "\"https://example.com/cat.jpg\"}}]}]}",
        LD_PROVIDER_ANTHROPIC, "c", false, NULL, NULL);
    const cJSON *c = at(idx(at(j, "messages"), 0), "content");
    assert_int_equal(cJSON_GetArraySize(c), 3);
    const cJSON *b64 = at(idx(c, 1), "source");
    assert_string_equal(str_at(idx(c, 1), "type"), "image");
    assert_string_equal(str_at(b64, "type"), "base64");
    assert_string_equal(str_at(b64, "media_type"), "image/png");
    assert_string_equal(str_at(b64, "data"), "iVBORw0KGgo=");
    const cJSON *url = at(idx(c, 2), "source");
    assert_string_equal(str_at(url, "type"), "url");
    assert_string_equal(str_at(url, "url"), "https://example.com/cat.jpg");
    cJSON_Delete(j);

    /* neither base64 data nor http(s): cannot be expressed */
    assert_int_equal(
        build_status("{\"messages\": [{\"role\": \"user\", \"content\": "
                     "[{\"type\": \"image_url\", \"image_url\": {\"url\": "
                     "\"ftp://x/y.png\"}}]}]}",
                     LD_PROVIDER_ANTHROPIC),
        LD_EINVAL);
    assert_int_equal(
        build_status("{\"messages\": [{\"role\": \"user\", \"content\": "
                     "[{\"type\": \"image_url\", \"image_url\": {\"url\": "
                     "\"data:image/png,rawbytes\"}}]}]}",
                     LD_PROVIDER_ANTHROPIC),
        LD_EINVAL);
    assert_int_equal(
        build_status("{\"messages\": [{\"role\": \"user\", \"content\": "
                     "[{\"type\": \"input_audio\", \"input_audio\": "
                     "{\"data\": \"AAAA\", \"format\": \"wav\"}}]}]}",
                     LD_PROVIDER_ANTHROPIC),
        LD_EINVAL);
}

static void test_anthropic_upstream_maps_stop_max_tokens_and_sampling(
    void **state)
{
    (void)state;
    cJSON *j = upstream(
        "{\"stop\": \"END\", \"max_tokens\": 300, \"temperature\": 1.7, "
        "\"top_p\": 0.9, \"stream\": true, \"messages\": [{\"role\": "
        "\"user\", \"content\": \"hi\"}]}",
        LD_PROVIDER_ANTHROPIC, "c", true, NULL, NULL);
    const cJSON *ss = at(j, "stop_sequences");
    assert_int_equal(cJSON_GetArraySize(ss), 1);
    assert_string_equal(idx(ss, 0)->valuestring, "END");
    assert_int_equal(num_at(j, "max_tokens"), 300);
    assert_near(num_at(j, "temperature"), 1.0, 1e-9); /* clamped */
    assert_near(num_at(j, "top_p"), 0.9, 1e-9);
    assert_true(cJSON_IsTrue(at(j, "stream")));
    assert_false(has(j, "stop"));
    assert_false(has(j, "stream_options"));
    cJSON_Delete(j);

    j = upstream("{\"stop\": [\"\\n\\n\", \"###\"], "
                 "\"max_completion_tokens\": 50, \"temperature\": 0.2, "
                 "\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
                 LD_PROVIDER_ANTHROPIC, "c", false, NULL, NULL);
    ss = at(j, "stop_sequences");
    assert_int_equal(cJSON_GetArraySize(ss), 2);
    assert_string_equal(idx(ss, 1)->valuestring, "###");
    assert_int_equal(num_at(j, "max_tokens"), 50);
    assert_near(num_at(j, "temperature"), 0.2, 1e-9);
    cJSON_Delete(j);
}

static void test_anthropic_upstream_appends_prefill_as_final_assistant(
    void **state)
{
    (void)state;
    cJSON *j = upstream("{\"messages\": [{\"role\": \"user\", \"content\": "
                        "\"Write a haiku\"}]}",
                        LD_PROVIDER_ANTHROPIC, "c", true,
                        "Autumn moonlight\n", NULL);
    const cJSON *msgs = at(j, "messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    const cJSON *a = idx(msgs, 1);
    assert_string_equal(str_at(a, "role"), "assistant");
    /* trailing white space trimmed: the API refuses it in a final turn */
    assert_string_equal(str_at(idx(at(a, "content"), 0), "text"),
                        "Autumn moonlight");
    cJSON_Delete(j);

    /* after the client's own prefill: one assistant turn, both parts */
    j = upstream("{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, "
                 "{\"role\": \"assistant\", \"content\": \"Sure: \"}]}",
                 LD_PROVIDER_ANTHROPIC, "c", true, "first, ", NULL);
    msgs = at(j, "messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    a = at(idx(msgs, 1), "content");
    assert_int_equal(cJSON_GetArraySize(a), 2);
    assert_string_equal(str_at(idx(a, 0), "text"), "Sure: ");
    assert_string_equal(str_at(idx(a, 1), "text"), "first,");
    cJSON_Delete(j);
}

/* ---- the SSE reader ------------------------------------------------------ */

static const char sse_sample[] =
    ": keep-alive comment\n"
    "event: message_start\n"
    "data: {\"a\":1}\n"
    "\n"
    "id: 7\n"
    "retry: 100\n"
    "data: second\n"
    "\n";

static void check_sample_events(const events *e)
{
    assert_int_equal(e->n, 2);
    assert_true(e->named[0]);
    assert_string_equal(e->name[0], "message_start");
    assert_string_equal(e->data[0], "{\"a\":1}");
    assert_int_equal(e->len[0], 7);
    assert_false(e->named[1]); /* the name does not carry over */
    assert_string_equal(e->data[1], "second");
}

static void test_sse_delivers_events_fed_byte_by_byte(void **state)
{
    (void)state;
    events e = {0};
    live_sse *s = live_sse_new(1024);
    feed_bytewise(s, sse_sample, &e);
    check_sample_events(&e);
    events_free(&e);
    live_sse_free(s);

    /* and all at once */
    s = live_sse_new(1024);
    assert_int_equal(
        live_sse_feed(s, sse_sample, sizeof sse_sample - 1, collect, &e),
        LD_OK);
    check_sample_events(&e);
    events_free(&e);
    live_sse_free(s);
}

static void test_sse_handles_crlf_and_lone_cr_line_ends(void **state)
{
    (void)state;
    events e = {0};
    live_sse *s = live_sse_new(1024);
    feed_bytewise(s,
                  "event: x\r\ndata: crlf\r\n\r\n"
                  "data: cr\r\r"
                  "data: lf\n\n",
                  &e);
    assert_int_equal(e.n, 3);
    assert_string_equal(e.name[0], "x");
    assert_string_equal(e.data[0], "crlf");
    assert_string_equal(e.data[1], "cr");
    assert_string_equal(e.data[2], "lf");
    events_free(&e);

    /* a CR ending one feed and the LF starting the next are one line end,
     * not a blank line */
    assert_int_equal(live_sse_feed(s, "data: a\r", 8, collect, &e), LD_OK);
    assert_int_equal(live_sse_feed(s, "\ndata: b\r", 9, collect, &e), LD_OK);
    assert_int_equal(e.n, 0);
    assert_int_equal(live_sse_feed(s, "\n\r\n", 3, collect, &e), LD_OK);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.data[0], "a\nb");
    events_free(&e);
    live_sse_free(s);
}

static void test_sse_joins_multiple_data_lines(void **state)
{
    (void)state;
    events e = {0};
    live_sse *s = live_sse_new(1024);
    feed_bytewise(s,
                  "data: {\"a\":\n"
                  "data:1}\n"     /* no space after the colon */
                  "data:  two\n"  /* only one space is dropped */
                  "data\n"        /* a field without a colon: empty */
                  "\n",
                  &e);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.data[0], "{\"a\":\n1}\n two\n");
    events_free(&e);
    live_sse_free(s);
}

static void test_sse_skips_comments_and_events_without_data(void **state)
{
    (void)state;
    events e = {0};
    live_sse *s = live_sse_new(1024);
    feed_bytewise(s,
                  ": ping\n\n"
                  "event: lonely\n\n" /* a name alone is not an event */
                  "unknown: field\n"
                  ":comment between\n"
                  "data: kept\n\n"
                  "data:\n\n", /* an empty data line is an event */
                  &e);
    assert_int_equal(e.n, 2);
    assert_false(e.named[0]);
    assert_string_equal(e.data[0], "kept");
    assert_string_equal(e.data[1], "");
    assert_int_equal(e.len[1], 0);
    events_free(&e);
    live_sse_free(s);
}

static void test_sse_holds_a_final_event_until_its_blank_line(void **state)
{
    (void)state;
    events e = {0};
    live_sse *s = live_sse_new(1024);
    feed_bytewise(s, "data: first\n\ndata: last\n", &e);
    assert_int_equal(e.n, 1);
    assert_int_equal(live_sse_feed(s, "\n", 1, collect, &e), LD_OK);
    assert_int_equal(e.n, 2);
    assert_string_equal(e.data[1], "last");
    events_free(&e);
    live_sse_free(s);
}

static void test_sse_refuses_an_overlong_line(void **state)
{
    (void)state;
    events e = {0};
    live_sse *s = live_sse_new(16);
    /* exactly 16 bytes is fine */
    assert_int_equal(live_sse_feed(s, "data: 0123456789\n\n", 18, collect, &e),
                     LD_OK);
    assert_int_equal(e.n, 1);
    /* 17 is not, even when it arrives in pieces */
    assert_int_equal(live_sse_feed(s, "data: 0123", 10, collect, &e), LD_OK);
    assert_int_equal(live_sse_feed(s, "4567890", 7, collect, &e), LD_ELIMIT);
    /* and the reader stays failed */
    assert_int_equal(live_sse_feed(s, "\n\n", 2, collect, &e), LD_ELIMIT);
    assert_int_equal(e.n, 1);
    events_free(&e);
    live_sse_free(s);

    /* an event's joined data is capped too */
    s = live_sse_new(16);
    assert_int_equal(live_sse_feed(s, "data: 0123456789\n", 17, collect, &e),
                     LD_OK);
    assert_int_equal(live_sse_feed(s, "data: 0123456789\n", 17, collect, &e),
                     LD_ELIMIT);
    assert_int_equal(e.n, 0);
    live_sse_free(s);
}

/* ---- OpenAI streams ------------------------------------------------------ */

#define OA_ROLE                                                             \
    "{\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\","          \
    "\"created\":1700000001,\"model\":\"gpt-4o-mini-2024-07-18\","           \
    "\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":"   \
    "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"           \
    "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}"
#define OA_TEXT(t)                                                          \
    "{\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\","          \
    "\"created\":1700000001,\"model\":\"gpt-4o-mini-2024-07-18\","           \
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" t "\"},"           \
    "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}"
#define OA_FINISH                                                           \
    "{\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\","          \
    "\"created\":1700000001,\"model\":\"gpt-4o-mini-2024-07-18\","           \
    "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"             \
    "\"finish_reason\":\"stop\"}],\"usage\":null}"
#define OA_USAGE                                                            \
    "{\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\","          \
    "\"created\":1700000001,\"model\":\"gpt-4o-mini-2024-07-18\","           \
    "\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2," \
    "\"total_tokens\":11,\"prompt_tokens_details\":{\"cached_tokens\":0}}}"

static const char oa_stream[] = "data: " OA_ROLE "\n\n"
                                "data: " OA_TEXT("Hel") "\n\n"
                                "data: " OA_TEXT("lo") "\n\n"
                                "data: " OA_FINISH "\n\n"
                                "data: " OA_USAGE "\n\n"
                                "data: [DONE]\n\n";

static void test_openai_stream_passes_chunks_through_verbatim(void **state)
{
    (void)state;
    run r;
    run_stream(&r, LD_PROVIDER_OPENAI, true, oa_stream);
    /* byte for byte, [DONE] swallowed: the server writes it */
    assert_string_equal(r.out.data, "data: " OA_ROLE "\n\n"
                                    "data: " OA_TEXT("Hel") "\n\n"
                                    "data: " OA_TEXT("lo") "\n\n"
                                    "data: " OA_FINISH "\n\n"
                                    "data: " OA_USAGE "\n\n");
    assert_true(r.done);
    assert_true(r.finished);
    assert_false(r.error);
    assert_false(r.malformed);
    assert_string_equal(live_stream_text(r.st), "Hello");
    run_free(&r);
}

static void test_openai_stream_first_content_is_not_the_role_chunk(
    void **state)
{
    (void)state;
    run r;
    run_stream(&r, LD_PROVIDER_OPENAI, true, oa_stream);
    assert_int_equal(r.first_content, 1); /* "Hel", not the role chunk */
    assert_int_equal(r.content_events, 2);
    assert_int_equal(r.tokens, 2);
    run_free(&r);
}

static void test_openai_stream_captures_usage_finish_and_model(void **state)
{
    (void)state;
    run r;
    live_answer a;
    run_stream(&r, LD_PROVIDER_OPENAI, true, oa_stream);
    live_stream_result(r.st, &a);
    assert_int_equal(a.input_tokens, 9);
    assert_int_equal(a.output_tokens, 2);
    assert_string_equal(a.finish_reason, "stop");
    assert_string_equal(a.model, "gpt-4o-mini-2024-07-18");
    run_free(&r);

    /* before anything arrived: all unknown */
    live_stream *st = live_stream_new(LD_PROVIDER_OPENAI, "x", 0, false);
    live_stream_result(st, &a);
    assert_int_equal(a.input_tokens, -1);
    assert_int_equal(a.output_tokens, -1);
    assert_string_equal(a.finish_reason, "");
    assert_string_equal(live_stream_text(st), "");
    live_stream_free(st);
}

static void test_openai_stream_drops_usage_chunk_the_client_did_not_ask_for(
    void **state)
{
    (void)state;
    run r;
    live_answer a;
    run_stream(&r, LD_PROVIDER_OPENAI, false, oa_stream);
    assert_null(strstr(r.out.data, "\"choices\":[]"));
    assert_non_null(strstr(r.out.data, OA_FINISH));
    live_stream_result(r.st, &a);
    assert_int_equal(a.output_tokens, 2); /* still counted */
    run_free(&r);
}

static void test_openai_stream_counts_tool_call_deltas_as_content(
    void **state)
{
    (void)state;
    run r;
    run_stream(
        &r, LD_PROVIDER_OPENAI, false,
        "data: " OA_ROLE "\n\n"
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\","
        "\"created\":1,"
        "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":"
        "[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":"
        "{\"name\":\"get_weather\",\"arguments\":\"\"}}]},"
        "\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\","
        "\"created\":1,"
        "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":"
        "[{\"index\":0,\"function\":{\"arguments\":\"{}\"}}]},"
        "\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\","
        "\"created\":1,"
        "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},"
        "\"finish_reason\":\"tool_calls\"}]}\n\n");
    assert_int_equal(r.first_content, 1);
    assert_int_equal(r.content_events, 2);
    assert_true(r.finished);
    assert_false(r.done); /* no [DONE] yet */
    live_answer a;
    live_stream_result(r.st, &a);
    assert_string_equal(a.finish_reason, "tool_calls");
    run_free(&r);
}

static void test_openai_stream_reports_error_objects_without_forwarding(
    void **state)
{
    (void)state;
    run r;
    run_stream(&r, LD_PROVIDER_OPENAI, true,
               "data: " OA_TEXT("partial") "\n\n"
               "data: {\"error\":{\"message\":\"The server had an error while "
               "processing your request.\",\"type\":\"server_error\","
               "\"param\":null,\"code\":null}}\n\n");
    assert_true(r.error);
    assert_false(r.malformed);
    assert_null(strstr(r.out.data, "server_error"));
    run_free(&r);

    run_stream(&r, LD_PROVIDER_OPENAI, true,
               "event: error\ndata: {\"message\":\"overloaded\"}\n\n");
    assert_true(r.error);
    assert_int_equal(r.out.len, 0);
    run_free(&r);
}

static void test_openai_stream_flags_data_that_is_not_json(void **state)
{
    (void)state;
    run r;
    run_stream(&r, LD_PROVIDER_OPENAI, true,
               "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"a"
               "\n\n"
               "data: <html>502 Bad Gateway</html>\n\n"
               "data: 42\n\n");
    assert_true(r.malformed);
    assert_false(r.error);
    assert_false(r.done);
    assert_int_equal(r.first_content, -1);
    assert_int_equal(r.out.len, 0);
    run_free(&r);
}

static void test_openai_stream_keeps_multi_line_data_framing(void **state)
{
    (void)state;
    run r;
    run_stream(&r, LD_PROVIDER_OPENAI, true,
               "data: {\"choices\":[{\"index\":0,\n"
               "data: \"delta\":{\"content\":\"x\"}}]}\n\n");
    assert_string_equal(r.out.data,
                        "data: {\"choices\":[{\"index\":0,\n"
                        "data: \"delta\":{\"content\":\"x\"}}]}\n\n");
    assert_int_equal(r.first_content, 0);
    run_free(&r);
}

/* ---- Anthropic streams --------------------------------------------------- */

static const char an_stream[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XF\","
    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
    "\"model\":\"claude-sonnet-4-5-20250929\",\"stop_reason\":null,"
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,"
    "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
    "\"output_tokens\":2}}}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
    "{\"type\":\"text\",\"text\":\"\"}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
    "{\"type\":\"text_delta\",\"text\":\"Let me check\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
    "{\"type\":\"text_delta\",\"text\":\" the weather.\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":"
    "{\"type\":\"tool_use\",\"id\":\"toolu_01T1x\",\"name\":\"get_weather\","
    "\"input\":{}}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
    "{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
    "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": "
    "\\\"Pa\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
    "{\"type\":\"input_json_delta\",\"partial_json\":\"ris\\\"}\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
    "\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

static const cJSON *delta_of(const cJSON *chunk)
{
    const cJSON *choices = at(chunk, "choices");
    assert_int_equal(cJSON_GetArraySize(choices), 1);
    const cJSON *c0 = idx(choices, 0);
    assert_int_equal(num_at(c0, "index"), 0);
    return at(c0, "delta");
}

static void test_anthropic_stream_translates_a_text_and_tool_call_answer(
    void **state)
{
    (void)state;
    run r;
    cJSON *ch[32];
    run_stream(&r, LD_PROVIDER_ANTHROPIC, true, an_stream);
    int n = out_chunks(&r.out, ch, 32);
    /* role, 2 text, tool start, 2 argument pieces, finish, usage */
    assert_int_equal(n, 8);
    for (int i = 0; i < n; i++) {
        assert_string_equal(str_at(ch[i], "id"), "chatcmpl-ladder-1");
        assert_string_equal(str_at(ch[i], "object"), "chat.completion.chunk");
        assert_int_equal(num_at(ch[i], "created"), 1700000000);
        assert_string_equal(str_at(ch[i], "model"),
                            "claude-sonnet-4-5-20250929");
    }
    const cJSON *d = delta_of(ch[0]);
    assert_string_equal(str_at(d, "role"), "assistant");
    assert_true(cJSON_IsNull(at(idx(at(ch[0], "choices"), 0),
                                "finish_reason")));
    assert_string_equal(str_at(delta_of(ch[1]), "content"), "Let me check");
    assert_string_equal(str_at(delta_of(ch[2]), "content"), " the weather.");

    const cJSON *tc = idx(at(delta_of(ch[3]), "tool_calls"), 0);
    assert_int_equal(num_at(tc, "index"), 0);
    assert_string_equal(str_at(tc, "id"), "toolu_01T1x");
    assert_string_equal(str_at(tc, "type"), "function");
    assert_string_equal(str_at(at(tc, "function"), "name"), "get_weather");
    assert_string_equal(str_at(at(tc, "function"), "arguments"), "");

    char args[64] = "";
    size_t alen = 0;
    for (int i = 4; i <= 5; i++) {
        tc = idx(at(delta_of(ch[i]), "tool_calls"), 0);
        assert_int_equal(num_at(tc, "index"), 0);
        assert_false(has(tc, "id"));
        int w = snprintf(args + alen, sizeof args - alen, "%s",
                         str_at(at(tc, "function"), "arguments"));
        assert_true(w >= 0 && (size_t)w < sizeof args - alen);
        alen += (size_t)w;
    }
    assert_string_equal(args, "{\"city\": \"Paris\"}");

    const cJSON *c6 = idx(at(ch[6], "choices"), 0);
    assert_string_equal(str_at(c6, "finish_reason"), "tool_calls");
    assert_int_equal(cJSON_GetArraySize(at(c6, "delta")), 0);

    assert_int_equal(cJSON_GetArraySize(at(ch[7], "choices")), 0);
    const cJSON *u = at(ch[7], "usage");
    assert_int_equal(num_at(u, "prompt_tokens"), 472);
    assert_int_equal(num_at(u, "completion_tokens"), 89);
    assert_int_equal(num_at(u, "total_tokens"), 561);
    chunks_free(ch, n);

    /* what the server learns from the info */
    assert_int_equal(r.first_content, 3); /* the first text delta */
    assert_true(r.finished);
    assert_true(r.done);
    assert_false(r.error);
    assert_false(r.malformed);
    assert_string_equal(live_stream_text(r.st), "Let me check the weather.");
    live_answer a;
    live_stream_result(r.st, &a);
    assert_int_equal(a.input_tokens, 472);
    assert_int_equal(a.output_tokens, 89);
    assert_string_equal(a.finish_reason, "tool_calls");
    assert_string_equal(a.model, "claude-sonnet-4-5-20250929");
    run_free(&r);
}

static void test_anthropic_stream_without_include_usage_has_no_usage_chunk(
    void **state)
{
    (void)state;
    run r;
    cJSON *ch[32];
    run_stream(&r, LD_PROVIDER_ANTHROPIC, false, an_stream);
    int n = out_chunks(&r.out, ch, 32);
    assert_int_equal(n, 7);
    for (int i = 0; i < n; i++)
        assert_false(has(ch[i], "usage"));
    chunks_free(ch, n);
    run_free(&r);
}

static void test_anthropic_stream_maps_stop_reasons(void **state)
{
    (void)state;
    static const struct {
        const char *reason, *want;
    } cases[] = {{"end_turn", "stop"},
                 {"stop_sequence", "stop"},
                 {"max_tokens", "length"},
                 {"tool_use", "tool_calls"},
                 {"refusal", "content_filter"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char ev[256];
        run r;
        live_answer a;
        snprintf(ev, sizeof ev,
                 "data: {\"type\":\"message_delta\",\"delta\":"
                 "{\"stop_reason\":\"%s\"},\"usage\":{\"output_tokens\":3}}"
                 "\n\n",
                 cases[i].reason);
        run_stream(&r, LD_PROVIDER_ANTHROPIC, false, ev);
        assert_true(r.finished);
        assert_false(r.done);
        live_stream_result(r.st, &a);
        assert_string_equal(a.finish_reason, cases[i].want);
        assert_non_null(strstr(r.out.data, cases[i].want));
        run_free(&r);
    }
}

static void test_anthropic_stream_reports_error_events(void **state)
{
    (void)state;
    run r;
    run_stream(&r, LD_PROVIDER_ANTHROPIC, true,
               "event: message_start\n"
               "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\","
               "\"model\":\"claude-x\",\"usage\":{\"input_tokens\":5}}}\n\n"
               "event: error\n"
               "data: {\"type\": \"error\", \"error\": {\"type\": "
               "\"overloaded_error\", \"message\": \"Overloaded\"}}\n\n");
    assert_true(r.error);
    assert_false(r.malformed);
    assert_null(strstr(r.out.data, "overloaded"));
    run_free(&r);
}

static void test_anthropic_stream_flags_malformed_data_and_ignores_ping(
    void **state)
{
    (void)state;
    run r;
    run_stream(&r, LD_PROVIDER_ANTHROPIC, true,
               "event: ping\ndata: {\"type\": \"ping\"}\n\n");
    assert_false(r.malformed);
    assert_int_equal(r.first_content, -1);
    assert_int_equal(r.out.len, 0);
    run_free(&r);

    run_stream(&r, LD_PROVIDER_ANTHROPIC, true,
               "event: content_block_delta\n"
               "data: {\"type\":\"content_block_delta\",\"index\":0,\n\n");
    assert_true(r.malformed);
    assert_int_equal(r.first_content, -1);
    run_free(&r);

    /* arguments for a tool call that never started */
    run_stream(&r, LD_PROVIDER_ANTHROPIC, true,
               "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":"
               "{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\n");
    assert_true(r.malformed);
    run_free(&r);
}

static void test_stream_text_stops_growing_at_its_cap(void **state)
{
    (void)state;
    live_stream *st = live_stream_new(LD_PROVIDER_ANTHROPIC, "x", 0, false);
    live_buf out;
    live_chunk_info info;
    /* 1000 pieces of 1100 bytes: past the 1 MiB cap */
    static char ev[1300];
    static char piece[1101];
    memset(piece, 'a', 1100);
    piece[1100] = '\0';
    int n = snprintf(ev, sizeof ev,
                     "{\"type\":\"content_block_delta\",\"index\":0,"
                     "\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}",
                     piece);
    live_buf_init(&out, 0);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(live_stream_feed(st, NULL, ev, (size_t)n, &out, &info),
                         LD_OK);
        assert_true(info.content);
        out.len = 0; /* the server would have sent it */
    }
    size_t len = strlen(live_stream_text(st));
    assert_true(len <= 1024 * 1024);
    assert_true(len > 1024 * 1024 - 1100);
    assert_int_equal(len % 1100, 0); /* whole pieces only */
    assert_null(live_stream_prefill(st)); /* not the whole answer */
    live_buf_cleanup(&out);
    live_stream_free(st);
}

/* The prefill a continuation would send: the whole text, or nothing when
 * the text is not the whole answer. */
static void test_stream_prefill_is_the_whole_text_or_nothing(void **state)
{
    (void)state;
    static const char hel[] = OA_TEXT("Hel"), lo[] = OA_TEXT("lo");
    static const char tool[] =
        "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,"
        "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":"
        "[{\"index\":0,\"id\":\"t1\",\"type\":\"function\",\"function\":"
        "{\"name\":\"f\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}";
    live_buf out;
    live_chunk_info info;
    live_buf_init(&out, 0);

    live_stream *st = live_stream_new(LD_PROVIDER_OPENAI, "x", 0, false);
    assert_int_equal(live_stream_feed(st, NULL, hel, sizeof hel - 1, &out, &info), LD_OK);
    assert_int_equal(live_stream_feed(st, NULL, lo, sizeof lo - 1, &out, &info), LD_OK);
    assert_string_equal(live_stream_prefill(st), "Hello");
    /* a tool call: the text is not the whole answer any more */
    assert_int_equal(live_stream_feed(st, NULL, tool, sizeof tool - 1, &out, &info), LD_OK);
    assert_null(live_stream_prefill(st));
    live_stream_free(st);

    /* not kept: nothing to continue from */
    st = live_stream_new(LD_PROVIDER_OPENAI, "x", 0, false);
    live_stream_keep_text(st, false);
    assert_int_equal(live_stream_feed(st, NULL, hel, sizeof hel - 1, &out, &info), LD_OK);
    assert_true(info.content);
    assert_string_equal(live_stream_text(st), "");
    assert_null(live_stream_prefill(st));
    live_stream_free(st);
    live_buf_cleanup(&out);
}

static void test_stream_feed_reports_a_full_output_buffer(void **state)
{
    (void)state;
    live_stream *st = live_stream_new(LD_PROVIDER_OPENAI, "x", 0, true);
    live_buf out;
    live_chunk_info info;
    static const char data[] = OA_TEXT("Hello");
    live_buf_init(&out, 16);
    assert_int_equal(
        live_stream_feed(st, NULL, data, sizeof data - 1, &out, &info),
        LD_ELIMIT);
    assert_int_equal(out.len, 0);
    live_buf_cleanup(&out);
    live_stream_free(st);
}

/* ---- non-streaming answers ----------------------------------------------- */

static void test_openai_answer_passes_through_and_fills_info(void **state)
{
    (void)state;
    static const char body[] =
        "{\"id\": \"chatcmpl-B9\", \"object\": \"chat.completion\", "
        "\"created\": 1741569952, \"model\": \"gpt-4.1-2025-04-14\", "
        "\"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", "
        "\"content\": \"Hello!\", \"refusal\": null, \"annotations\": []}, "
        "\"logprobs\": null, \"finish_reason\": \"length\"}], \"usage\": "
        "{\"prompt_tokens\": 19, \"completion_tokens\": 10, \"total_tokens\": "
        "29}, \"service_tier\": \"default\", \"x_unknown\": [1, 2]}";
    live_buf out;
    live_answer a;
    live_buf_init(&out, 0);
    assert_int_equal(live_translate_answer(LD_PROVIDER_OPENAI, body,
                                           sizeof body - 1, &out, &a),
                     LD_OK);
    assert_string_equal(out.data, body);
    assert_int_equal(a.input_tokens, 19);
    assert_int_equal(a.output_tokens, 10);
    assert_string_equal(a.finish_reason, "length");
    assert_string_equal(a.model, "gpt-4.1-2025-04-14");
    live_buf_cleanup(&out);
}

static void test_answers_that_are_not_answers_are_invalid(void **state)
{
    (void)state;
    static const struct {
        ld_provider p;
        const char *body;
    } cases[] = {
        {LD_PROVIDER_OPENAI, "{\"object\": \"chat.completion\"}"},
        {LD_PROVIDER_OPENAI, "{\"choices\": []}"},
        {LD_PROVIDER_OPENAI, "{\"choices\": {}}"},
        {LD_PROVIDER_OPENAI, "{\"error\": {\"message\": \"boom\"}}"},
        {LD_PROVIDER_OPENAI, "[]"},
        {LD_PROVIDER_OPENAI, "<html>"},
        {LD_PROVIDER_OPENAI, "{\"choices\": [{}]"},
        {LD_PROVIDER_ANTHROPIC, "{\"type\": \"message\"}"},
        {LD_PROVIDER_ANTHROPIC,
         "{\"type\": \"error\", \"error\": {\"type\": \"api_error\"}, "
         "\"content\": []}"},
        {LD_PROVIDER_ANTHROPIC, "{\"type\": \"message\", \"content\": "
                                "[{\"type\": \"tool_use\", \"input\": {}}]}"},
        {LD_PROVIDER_ANTHROPIC, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        live_buf out;
        live_answer a;
        live_buf_init(&out, 0);
        int rc = live_translate_answer(cases[i].p, cases[i].body,
                                       strlen(cases[i].body), &out, &a);
        if (rc != LD_EINVAL)
            fail_msg("case %zu (%s): rc %d", i, cases[i].body, rc);
        assert_int_equal(out.len, 0);
        live_buf_cleanup(&out);
    }
}

static void test_anthropic_answer_becomes_a_chat_completion(void **state)
{
    (void)state;
    static const char body[] =
        "{\"id\": \"msg_013Zva\", \"type\": \"message\", \"role\": "
        "\"assistant\", \"model\": \"claude-sonnet-4-5-20250929\", "
        "\"content\": [{\"type\": \"text\", \"text\": \"Hi! \"}, "
        "{\"type\": \"text\", \"text\": \"My name is Claude.\"}], "
        "\"stop_reason\": \"end_turn\", \"stop_sequence\": null, \"usage\": "
        "{\"input_tokens\": 2095, \"cache_read_input_tokens\": 5, "
        "\"output_tokens\": 503}}";
    live_buf out;
    live_answer a;
    live_buf_init(&out, 0);
    assert_int_equal(live_translate_answer(LD_PROVIDER_ANTHROPIC, body,
                                           sizeof body - 1, &out, &a),
                     LD_OK);
    cJSON *j = json(out.data, out.len);
    assert_string_equal(str_at(j, "id"), "chatcmpl-msg_013Zva");
    assert_string_equal(str_at(j, "object"), "chat.completion");
    assert_true(cJSON_IsNumber(at(j, "created")));
    assert_string_equal(str_at(j, "model"), "claude-sonnet-4-5-20250929");
    const cJSON *c0 = idx(at(j, "choices"), 0);
    assert_int_equal(num_at(c0, "index"), 0);
    assert_string_equal(str_at(c0, "finish_reason"), "stop");
    const cJSON *m = at(c0, "message");
    assert_string_equal(str_at(m, "role"), "assistant");
    assert_string_equal(str_at(m, "content"), "Hi! My name is Claude.");
    assert_false(has(m, "tool_calls"));
    const cJSON *u = at(j, "usage");
    assert_int_equal(num_at(u, "prompt_tokens"), 2100);
    assert_int_equal(num_at(u, "completion_tokens"), 503);
    assert_int_equal(num_at(u, "total_tokens"), 2603);
    cJSON_Delete(j);
    assert_int_equal(a.input_tokens, 2100);
    assert_int_equal(a.output_tokens, 503);
    assert_string_equal(a.finish_reason, "stop");
    assert_string_equal(a.model, "claude-sonnet-4-5-20250929");
    live_buf_cleanup(&out);
}

static void test_anthropic_answer_with_only_tool_use_has_null_content(
    void **state)
{
    (void)state;
    static const char body[] =
        "{\"id\": \"msg_2\", \"type\": \"message\", \"role\": \"assistant\", "
        "\"model\": \"claude-haiku-4-5\", \"content\": [{\"type\": "
        "\"tool_use\", \"id\": \"toolu_9\", \"name\": \"lookup\", \"input\": "
        "{\"q\": \"x\", \"n\": 2}}], \"stop_reason\": \"tool_use\", "
        "\"usage\": {\"input_tokens\": 10, \"output_tokens\": 20}}";
    live_buf out;
    live_answer a;
    live_buf_init(&out, 0);
    assert_int_equal(live_translate_answer(LD_PROVIDER_ANTHROPIC, body,
                                           sizeof body - 1, &out, &a),
                     LD_OK);
    cJSON *j = json(out.data, out.len);
    const cJSON *c0 = idx(at(j, "choices"), 0);
    assert_string_equal(str_at(c0, "finish_reason"), "tool_calls");
    const cJSON *m = at(c0, "message");
    assert_true(cJSON_IsNull(at(m, "content")));
    const cJSON *tc = idx(at(m, "tool_calls"), 0);
    assert_string_equal(str_at(tc, "id"), "toolu_9");
    assert_string_equal(str_at(tc, "type"), "function");
    assert_string_equal(str_at(at(tc, "function"), "name"), "lookup");
    cJSON *args = json(str_at(at(tc, "function"), "arguments"),
                       strlen(str_at(at(tc, "function"), "arguments")));
    assert_string_equal(str_at(args, "q"), "x");
    assert_int_equal(num_at(args, "n"), 2);
    cJSON_Delete(args);
    cJSON_Delete(j);
    live_buf_cleanup(&out);
}

/* ---- a round trip -------------------------------------------------------- */

static void test_round_trip_openai_request_through_anthropic(void **state)
{
    (void)state;
    static const char request[] =
        "{\"model\": \"smart\", \"max_tokens\": 512, \"temperature\": 0.3, "
        "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": "
        "\"get_weather\", \"parameters\": {\"type\": \"object\", "
        "\"properties\": {\"city\": {\"type\": \"string\"}}}}}], "
        "\"tool_choice\": \"auto\", \"messages\": ["
        "{\"role\": \"system\", \"content\": \"Use tools when needed.\"},"
        "{\"role\": \"user\", \"content\": \"Weather in Oslo?\"},"
        "{\"role\": \"assistant\", \"content\": null, \"tool_calls\": "
        "[{\"id\": \"toolu_A\", \"type\": \"function\", \"function\": "
        "{\"name\": \"get_weather\", \"arguments\": "
        "\"{\\\"city\\\":\\\"Oslo\\\"}\"}}]},"
        "{\"role\": \"tool\", \"tool_call_id\": \"toolu_A\", \"content\": "
        "\"-3C, snow\"}]}";
    live_chat_req r;
    live_buf up, out;
    const char *path;
    parse_ok(request, &r);
    assert_int_equal(r.caps, LD_CAP_TOOLS);
    assert_int_equal(r.max_tokens, 512);

    live_buf_init(&up, 0);
    assert_int_equal(live_build_upstream(&r, LD_PROVIDER_ANTHROPIC,
                                         "claude-sonnet-4-5", false, NULL, &up,
                                         &path),
                     LD_OK);
    assert_string_equal(path, "/messages");
    cJSON *a = json(up.data, up.len);
    assert_string_equal(str_at(a, "system"), "Use tools when needed.");
    assert_int_equal(num_at(a, "max_tokens"), 512);
    assert_string_equal(str_at(at(a, "tool_choice"), "type"), "auto");
    const cJSON *msgs = at(a, "messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 3);
    assert_string_equal(str_at(idx(msgs, 0), "role"), "user");
    assert_string_equal(str_at(idx(msgs, 1), "role"), "assistant");
    assert_string_equal(str_at(idx(at(idx(msgs, 1), "content"), 0), "type"),
                        "tool_use");
    assert_string_equal(str_at(idx(msgs, 2), "role"), "user");
    const cJSON *tr = idx(at(idx(msgs, 2), "content"), 0);
    assert_string_equal(str_at(tr, "type"), "tool_result");
    assert_string_equal(str_at(tr, "tool_use_id"), "toolu_A");
    cJSON_Delete(a);

    /* what Anthropic answers to that body */
    static const char answer[] =
        "{\"id\": \"msg_RT\", \"type\": \"message\", \"role\": \"assistant\", "
        "\"model\": \"claude-sonnet-4-5-20250929\", \"content\": [{\"type\": "
        "\"text\", \"text\": \"It is -3C with snow in Oslo.\"}], "
        "\"stop_reason\": \"end_turn\", \"stop_sequence\": null, \"usage\": "
        "{\"input_tokens\": 120, \"output_tokens\": 14}}";
    live_answer info;
    live_buf_init(&out, 0);
    assert_int_equal(live_translate_answer(LD_PROVIDER_ANTHROPIC, answer,
                                           sizeof answer - 1, &out, &info),
                     LD_OK);
    cJSON *c = json(out.data, out.len);
    assert_string_equal(str_at(c, "object"), "chat.completion");
    const cJSON *c0 = idx(at(c, "choices"), 0);
    assert_string_equal(str_at(at(c0, "message"), "content"),
                        "It is -3C with snow in Oslo.");
    assert_string_equal(str_at(c0, "finish_reason"), "stop");
    assert_int_equal(num_at(at(c, "usage"), "total_tokens"), 134);
    cJSON_Delete(c);

    /* and the chat.completion is itself a valid OpenAI answer */
    live_buf again;
    live_answer info2;
    live_buf_init(&again, 0);
    assert_int_equal(live_translate_answer(LD_PROVIDER_OPENAI, out.data,
                                           out.len, &again, &info2),
                     LD_OK);
    assert_string_equal(again.data, out.data);
    assert_int_equal(info2.input_tokens, 120);
    assert_string_equal(info2.finish_reason, "stop");

    live_buf_cleanup(&again);
    live_buf_cleanup(&out);
    live_buf_cleanup(&up);
    live_chat_cleanup(&r);
}

/* ---- the top-level allow-list and pass_through ----------------------------- */

static void test_parse_accepts_metadata_and_user(void **state)
{
    live_chat_req r;
    (void)state;
    parse_ok("{\"metadata\": {\"team\": \"search\"}, \"user\": \"u-1\", "
             "\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", &r);
    live_chat_cleanup(&r);
}

static void test_parse_accepts_a_pass_through_field_only_when_listed(void **state)
{
    const char *body = "{\"service_tier\": \"priority\", \"messages\": "
                       "[{\"role\": \"user\", \"content\": \"hi\"}]}";
    const char *const listed[] = {"reasoning_effort", "service_tier"};
    live_chat_req r;
    char msg[256] = "";
    (void)state;
    assert_int_equal(live_chat_parse(body, strlen(body), &r, msg, sizeof msg),
                     LD_EINVAL);
    assert_non_null(strstr(msg, "service_tier: unknown field"));
    assert_int_equal(live_chat_parse_extra(body, strlen(body), listed, 1, &r,
                                           msg, sizeof msg), LD_EINVAL);
    assert_int_equal(live_chat_parse_extra(body, strlen(body), listed, 2, &r,
                                           msg, sizeof msg), LD_OK);
    live_chat_cleanup(&r);
}

/* The body one route gets: fields another route's list names are left
 * out, its own list's are kept; restore puts everything back. */
static void test_withhold_leaves_out_fields_of_other_routes_only(void **state)
{
    const char *body = "{\"service_tier\": \"priority\", \"reasoning_effort\": "
                       "\"high\", \"seed\": 1, \"messages\": [{\"role\": "
                       "\"user\", \"content\": \"hi\"}]}";
    const char *const all[] = {"service_tier", "reasoning_effort"};
    const char *const mine[] = {"reasoning_effort"};
    live_chat_req r;
    char msg[256] = "";
    cJSON *held = NULL;
    live_buf b;
    (void)state;
    assert_int_equal(live_chat_parse_extra(body, strlen(body), all, 2, &r, msg,
                                           sizeof msg), LD_OK);
    assert_int_equal(live_chat_withhold(&r, mine, 1, &held), 1);
    live_buf_init(&b, 0);
    assert_int_equal(live_build_upstream(&r, LD_PROVIDER_OPENAI, "m", false,
                                         NULL, &b, NULL), LD_OK);
    cJSON *up = json(b.data, b.len);
    assert_null(cJSON_GetObjectItemCaseSensitive(up, "service_tier"));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(up, "reasoning_effort")
                            ->valuestring, "high");
    assert_non_null(cJSON_GetObjectItemCaseSensitive(up, "seed"));
    cJSON_Delete(up);
    live_buf_cleanup(&b);
    live_chat_restore(&r, held);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r.body, "service_tier")
                            ->valuestring, "priority");
    /* a route with no list: both left out; one listing both: none */
    assert_int_equal(live_chat_withhold(&r, NULL, 0, &held), 2);
    live_chat_restore(&r, held);
    assert_int_equal(live_chat_withhold(&r, all, 2, &held), 0);
    assert_null(held);
    live_chat_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_and_stays_nul_terminated),
        cmocka_unit_test(test_buf_refuses_to_grow_past_max_and_stays_unchanged),
        cmocka_unit_test(test_parse_rejects_bad_bodies_with_a_message_for_each),
        cmocka_unit_test(test_parse_rejects_a_nul_byte_inside_the_body),
        cmocka_unit_test(test_parse_reads_stream_usage_max_tokens_and_model),
        cmocka_unit_test(test_parse_accepts_metadata_and_user),
        cmocka_unit_test(test_parse_accepts_a_pass_through_field_only_when_listed),
        cmocka_unit_test(test_withhold_leaves_out_fields_of_other_routes_only),
        cmocka_unit_test(test_parse_estimates_input_tokens_from_text),
        cmocka_unit_test(test_parse_detects_the_capabilities_a_request_needs),
        cmocka_unit_test(
            test_parse_accepts_assistant_tool_calls_with_null_content),
        cmocka_unit_test(
            test_openai_upstream_keeps_the_checked_fields_and_sets_model_stream),
        cmocka_unit_test(
            test_openai_upstream_without_streaming_drops_stream_options),
        cmocka_unit_test(test_openai_upstream_appends_prefill_as_assistant),
        cmocka_unit_test(
            test_openai_upstream_keeps_client_model_when_route_has_none),
        cmocka_unit_test(
            test_anthropic_upstream_extracts_system_and_merges_roles),
        cmocka_unit_test(
            test_anthropic_upstream_translates_tools_and_tool_choice),
        cmocka_unit_test(
            test_anthropic_upstream_translates_tool_calls_and_results),
        cmocka_unit_test(
            test_anthropic_upstream_refuses_tool_arguments_not_an_object),
        cmocka_unit_test(test_anthropic_upstream_translates_images),
        cmocka_unit_test(
            test_anthropic_upstream_maps_stop_max_tokens_and_sampling),
        cmocka_unit_test(
            test_anthropic_upstream_appends_prefill_as_final_assistant),
        cmocka_unit_test(test_sse_delivers_events_fed_byte_by_byte),
        cmocka_unit_test(test_sse_handles_crlf_and_lone_cr_line_ends),
        cmocka_unit_test(test_sse_joins_multiple_data_lines),
        cmocka_unit_test(test_sse_skips_comments_and_events_without_data),
        cmocka_unit_test(test_sse_holds_a_final_event_until_its_blank_line),
        cmocka_unit_test(test_sse_refuses_an_overlong_line),
        cmocka_unit_test(test_openai_stream_passes_chunks_through_verbatim),
        cmocka_unit_test(
            test_openai_stream_first_content_is_not_the_role_chunk),
        cmocka_unit_test(test_openai_stream_captures_usage_finish_and_model),
        cmocka_unit_test(
            test_openai_stream_drops_usage_chunk_the_client_did_not_ask_for),
        cmocka_unit_test(test_openai_stream_counts_tool_call_deltas_as_content),
        cmocka_unit_test(
            test_openai_stream_reports_error_objects_without_forwarding),
        cmocka_unit_test(test_openai_stream_flags_data_that_is_not_json),
        cmocka_unit_test(test_openai_stream_keeps_multi_line_data_framing),
        cmocka_unit_test(
            test_anthropic_stream_translates_a_text_and_tool_call_answer),
        cmocka_unit_test(
            test_anthropic_stream_without_include_usage_has_no_usage_chunk),
        cmocka_unit_test(test_anthropic_stream_maps_stop_reasons),
        cmocka_unit_test(test_anthropic_stream_reports_error_events),
        cmocka_unit_test(
            test_anthropic_stream_flags_malformed_data_and_ignores_ping),
        cmocka_unit_test(test_stream_text_stops_growing_at_its_cap),
        cmocka_unit_test(test_stream_prefill_is_the_whole_text_or_nothing),
        cmocka_unit_test(test_stream_feed_reports_a_full_output_buffer),
        cmocka_unit_test(test_openai_answer_passes_through_and_fills_info),
        cmocka_unit_test(test_answers_that_are_not_answers_are_invalid),
        cmocka_unit_test(test_anthropic_answer_becomes_a_chat_completion),
        cmocka_unit_test(
            test_anthropic_answer_with_only_tool_use_has_null_content),
        cmocka_unit_test(test_round_trip_openai_request_through_anthropic),
    };
    /* every test twice: cJSON on malloc, then on the scratch arena the
     * server installs (under AddressSanitizer the arena is poisoned
     * between calls, so a tree or string that escaped its call fails) */
    int failed = cmocka_run_group_tests_name("malloc", tests, NULL, NULL);
    if (live_json_arena_install() != LD_OK)
        return 1;
    return failed + cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
