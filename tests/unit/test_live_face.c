/* test_live_face.c - the client API faces (live_face.h): the Messages and
 * Responses bodies translated to the chat body, the chat answer and chunk
 * stream translated back, errors in each API's shape, and the embeddings
 * body. */
#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "live_face.h"
#include "live_provider.h"

/* f's chat body for body (asserting success), parsed. */
static cJSON *to_chat(const live_face *f, const char *body)
{
    live_buf b;
    char msg[256] = "";
    live_buf_init(&b, 0);
    int rc = f->to_chat(body, strlen(body), &b, msg, sizeof msg);
    if (rc != LD_OK)
        fail_msg("to_chat failed: %s", msg);
    cJSON *o = cJSON_Parse(b.data);
    live_buf_cleanup(&b);
    assert_non_null(o);
    return o;
}

/* f's refusal message for body (asserting LD_EINVAL). */
static void refused(const live_face *f, const char *body, const char *want)
{
    live_buf b;
    char msg[256] = "";
    live_buf_init(&b, 0);
    assert_int_equal(f->to_chat(body, strlen(body), &b, msg, sizeof msg),
                     LD_EINVAL);
    live_buf_cleanup(&b);
    if (strstr(msg, want) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", msg, want);
}

static const char *jstr(const cJSON *o, const char *path)
{
    /* a.b.0.c */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *v = o;
    for (char *t = strtok(buf, "."); t != NULL && v != NULL; t = strtok(NULL, "."))
        v = (t[0] >= '0' && t[0] <= '9') ? cJSON_GetArrayItem(v, (int)strtol(t, NULL, 10))
                                         : cJSON_GetObjectItemCaseSensitive(v, t);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_messages_become_chat_messages(void **state)
{
    (void)state;
    cJSON *c = to_chat(&live_face_messages,
        "{\"model\":\"m\",\"max_tokens\":7,\"system\":[{\"type\":\"text\","
        "\"text\":\"S\"}],\"stop_sequences\":[\"X\"],\"messages\":["
        "{\"role\":\"user\",\"content\":\"hi\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
        "\"thinking\":\"t\"},{\"type\":\"text\",\"text\":\"let me\"},"
        "{\"type\":\"tool_use\",\"id\":\"u1\",\"name\":\"f\",\"input\":{\"a\":1}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"and\"},"
        "{\"type\":\"tool_result\",\"tool_use_id\":\"u1\",\"content\":"
        "[{\"type\":\"text\",\"text\":\"R\"}]},{\"type\":\"image\",\"source\":"
        "{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"QQ==\"}}]}]}");
    assert_string_equal(jstr(c, "messages.0.role"), "system");
    assert_string_equal(jstr(c, "messages.0.content"), "S");
    assert_string_equal(jstr(c, "messages.1.content"), "hi");
    assert_string_equal(jstr(c, "messages.2.role"), "assistant");
    assert_string_equal(jstr(c, "messages.2.content"), "let me");
    assert_string_equal(jstr(c, "messages.2.tool_calls.0.id"), "u1");
    assert_string_equal(jstr(c, "messages.2.tool_calls.0.function.arguments"),
                        "{\"a\":1}");
    /* the tool result comes first, then the rest of the user turn */
    assert_string_equal(jstr(c, "messages.3.role"), "tool");
    assert_string_equal(jstr(c, "messages.3.tool_call_id"), "u1");
    assert_string_equal(jstr(c, "messages.3.content"), "R");
    assert_string_equal(jstr(c, "messages.4.content.0.text"), "and");
    assert_string_equal(jstr(c, "messages.4.content.1.image_url.url"),
                        "data:image/png;base64,QQ==");
    assert_string_equal(jstr(c, "stop.0"), "X");
    assert_int_equal(cJSON_GetObjectItem(c, "max_tokens")->valueint, 7);
    assert_null(cJSON_GetObjectItem(c, "stream"));
    cJSON_Delete(c);
}

static void test_messages_tools_and_stream_options(void **state)
{
    (void)state;
    cJSON *c = to_chat(&live_face_messages,
        "{\"max_tokens\":1,\"stream\":true,\"tools\":[{\"name\":\"f\","
        "\"input_schema\":{\"type\":\"object\"}}],\"tool_choice\":{\"type\":"
        "\"any\",\"disable_parallel_tool_use\":true},\"messages\":[{\"role\":"
        "\"user\",\"content\":\"x\"}]}");
    assert_string_equal(jstr(c, "tools.0.type"), "function");
    assert_string_equal(jstr(c, "tools.0.function.name"), "f");
    assert_string_equal(jstr(c, "tools.0.function.parameters.type"), "object");
    assert_string_equal(jstr(c, "tool_choice"), "required");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(c, "parallel_tool_calls")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(c, "stream")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(
        cJSON_GetObjectItem(c, "stream_options"), "include_usage")));
    cJSON_Delete(c);
}

static void test_messages_refusals_name_the_field(void **state)
{
    (void)state;
    const live_face *f = &live_face_messages;
    refused(f, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
            "max_tokens: required");
    refused(f, "{\"max_tokens\":1,\"top_k\":2,\"messages\":[]}",
            "top_k: unknown field");
    refused(f, "{\"max_tokens\":1,\"max_tokens\":2,\"messages\":[]}",
            "duplicate key \"max_tokens\"");
    refused(f, "{\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":"
            "[{\"type\":\"document\"}]}]}", "messages[0].content[0].type");
    refused(f, "{\"max_tokens\":1,\"tools\":[{\"type\":\"web_search_20250305\","
            "\"name\":\"w\"}],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
            "tools[0].type");
    refused(f, "{\"max_tokens\":1,\"messages\":[{\"role\":\"system\","
            "\"content\":\"x\"}]}", "messages[0].role");
    refused(f, "{\"max_tokens\": 1,", "body is not JSON");
}

static const char chat_answer[] =
    "{\"id\":\"c\",\"model\":\"m1\",\"choices\":[{\"index\":0,\"message\":"
    "{\"role\":\"assistant\",\"content\":\"Hi\",\"tool_calls\":[{\"id\":\"c1\","
    "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
    "\"{\\\"a\\\":1}\"}}]},\"finish_reason\":\"tool_calls\"}],"
    "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}";

static cJSON *answer(const live_face *f, const char *chat)
{
    live_buf b;
    live_buf_init(&b, 0);
    assert_int_equal(f->answer(chat, strlen(chat), "id_9", 100, &b), LD_OK);
    cJSON *o = cJSON_Parse(b.data);
    live_buf_cleanup(&b);
    assert_non_null(o);
    return o;
}

static void test_a_chat_answer_becomes_a_message(void **state)
{
    (void)state;
    cJSON *m = answer(&live_face_messages, chat_answer);
    assert_string_equal(jstr(m, "id"), "id_9");
    assert_string_equal(jstr(m, "type"), "message");
    assert_string_equal(jstr(m, "model"), "m1");
    assert_string_equal(jstr(m, "content.0.text"), "Hi");
    assert_string_equal(jstr(m, "content.1.type"), "tool_use");
    assert_string_equal(jstr(m, "content.1.id"), "c1");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(m, "content"), 1), "input"),
        "a")->valueint, 1);
    assert_string_equal(jstr(m, "stop_reason"), "tool_use");
    cJSON *u = cJSON_GetObjectItem(m, "usage");
    assert_int_equal(cJSON_GetObjectItem(u, "input_tokens")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(u, "output_tokens")->valueint, 4);
    cJSON_Delete(m);
    live_buf b;
    live_buf_init(&b, 0);
    assert_int_equal(live_face_messages.answer("{\"choices\":[]}", 14, "i", 0,
                                               &b), LD_EINVAL);
    live_buf_cleanup(&b);
}

static const char chunks[] =
    "data: {\"model\":\"m1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
    "\"assistant\",\"content\":\"\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"He\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"llo\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
    "\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
    "\"arguments\":\"\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
    "\"function\":{\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
    "\"function\":{\"arguments\":\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n";

/* The event names of an SSE text, space-separated, into names. */
static void event_names(const char *sse, char *names, size_t cap)
{
    size_t n = 0;
    names[0] = '\0';
    for (const char *p = strstr(sse, "event: "); p != NULL;
         p = strstr(p + 1, "\nevent: ")) {
        if (*p == '\n')
            p++;
        p += 7;
        size_t l = strcspn(p, "\n");
        if (n + l + 2 < cap) {
            memcpy(names + n, p, l);
            n += l;
            names[n++] = ' ';
            names[n] = '\0';
        }
    }
}

/* chunks through f's stream, split at `split`, then its end. */
static void stream_through(const live_face *f, size_t split, live_buf *out)
{
    live_face_stream *fs = live_face_stream_new(f, "id_5", 7);
    assert_non_null(fs);
    assert_int_equal(live_face_stream_feed(fs, chunks, split, out), LD_OK);
    assert_int_equal(live_face_stream_feed(fs, chunks + split,
                                           strlen(chunks) - split, out), LD_OK);
    assert_int_equal(live_face_stream_end(fs, out), LD_OK);
    live_face_stream_free(fs);
}

static void test_chunks_become_messages_events(void **state)
{
    (void)state;
    char names[1024];
    for (size_t split = 0; split < strlen(chunks); split += 37) {
        live_buf out;
        live_buf_init(&out, 0);
        stream_through(&live_face_messages, split, &out);
        event_names(out.data, names, sizeof names);
        assert_string_equal(names,
            "message_start content_block_start content_block_delta "
            "content_block_delta content_block_stop content_block_start "
            "content_block_delta content_block_delta content_block_stop "
            "message_delta message_stop ");
        assert_non_null(strstr(out.data, "\"text_delta\",\"text\":\"llo\""));
        assert_non_null(strstr(out.data, "\"partial_json\":\":1}\""));
        assert_non_null(strstr(out.data, "\"index\":1,\"content_block\":{"
                                         "\"type\":\"tool_use\",\"id\":\"c1\""));
        assert_non_null(strstr(out.data, "\"stop_reason\":\"tool_use\""));
        assert_non_null(strstr(out.data, "\"output_tokens\":4"));
        assert_non_null(strstr(out.data, "\"model\":\"m1\""));
        live_buf_cleanup(&out);
    }
}

static void test_chunks_become_responses_events(void **state)
{
    (void)state;
    char names[2048];
    live_buf out;
    live_buf_init(&out, 0);
    stream_through(&live_face_responses, 100, &out);
    event_names(out.data, names, sizeof names);
    assert_string_equal(names,
        "response.created response.in_progress response.output_item.added "
        "response.content_part.added response.output_text.delta "
        "response.output_text.delta response.output_text.done "
        "response.content_part.done response.output_item.done "
        "response.output_item.added response.function_call_arguments.delta "
        "response.function_call_arguments.delta "
        "response.function_call_arguments.done response.output_item.done "
        "response.completed ");
    assert_non_null(strstr(out.data, "\"text\":\"Hello\""));
    assert_non_null(strstr(out.data, "\"arguments\":\"{\\\"a\\\":1}\""));
    /* sequence numbers run 0..14 */
    assert_non_null(strstr(out.data, "\"sequence_number\":0}"));
    assert_non_null(strstr(out.data, "\"type\":\"response.completed\","
                                     "\"sequence_number\":14}"));
    assert_non_null(strstr(out.data, "\"total_tokens\":7"));
    live_buf_cleanup(&out);
}

static void test_a_failed_stream_ends_in_an_error_event(void **state)
{
    (void)state;
    const live_face *faces[] = {&live_face_messages, &live_face_responses};
    for (int i = 0; i < 2; i++) {
        live_buf out;
        live_buf_init(&out, 0);
        live_face_stream *fs = live_face_stream_new(faces[i], "id", 1);
        assert_int_equal(live_face_stream_feed(fs, chunks, 200, &out), LD_OK);
        out.len = 0;
        assert_int_equal(live_face_stream_error(fs, "cut", "stream_cut", &out),
                         LD_OK);
        assert_non_null(strstr(out.data, "event: error\ndata: {"));
        assert_non_null(strstr(out.data, "stream_cut"));
        /* nothing after the error, not even the end */
        out.len = 0;
        assert_int_equal(live_face_stream_end(fs, &out), LD_OK);
        assert_int_equal(out.len, 0);
        live_face_stream_free(fs);
        live_buf_cleanup(&out);
    }
}

static void test_errors_in_each_apis_shape(void **state)
{
    (void)state;
    live_buf b;
    live_buf_init(&b, 0);
    assert_int_equal(live_face_messages.error_body(503, "busy", "x", "overloaded",
                                                   &b), LD_OK);
    assert_string_equal(b.data, "{\"type\":\"error\",\"error\":{\"type\":"
                        "\"overloaded_error\",\"message\":\"busy\","
                        "\"ladder_code\":\"overloaded\"}}");
    b.len = 0;
    assert_int_equal(live_face_messages.error_body(401, "no", "x", NULL, &b),
                     LD_OK);
    assert_non_null(strstr(b.data, "\"authentication_error\""));
    b.len = 0;
    assert_int_equal(live_face_responses.error_body(400, "bad",
                     "invalid_request_error", NULL, &b), LD_OK);
    assert_string_equal(b.data, "{\"error\":{\"message\":\"bad\",\"type\":"
                        "\"invalid_request_error\",\"param\":null,\"code\":null}}");
    live_buf_cleanup(&b);
    assert_ptr_equal(live_face_for_path("/v1/messages"), &live_face_messages);
    assert_ptr_equal(live_face_for_path("/v1/responses"), &live_face_responses);
    assert_ptr_equal(live_face_for_path("/v1/embeddings"), &live_face_embeddings);
    assert_null(live_face_for_path("/v1/chat/completions"));
}

static void test_responses_items_become_chat_messages(void **state)
{
    (void)state;
    cJSON *c = to_chat(&live_face_responses,
        "{\"model\":\"m\",\"instructions\":\"I\",\"max_output_tokens\":9,"
        "\"text\":{\"format\":{\"type\":\"json_object\"}},\"input\":["
        "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"q\"},"
        "{\"type\":\"input_image\",\"image_url\":\"https://i/x.png\"}]},"
        "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":"
        "\"output_text\",\"text\":\"A\"}]},"
        "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\","
        "\"arguments\":\"{}\"},"
        "{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"g\","
        "\"arguments\":\"{}\"},"
        "{\"type\":\"reasoning\",\"summary\":[]},"
        "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"o1\"},"
        "{\"type\":\"function_call_output\",\"call_id\":\"c2\",\"output\":"
        "[{\"type\":\"input_text\",\"text\":\"o2\"}]}],"
        "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{}}],"
        "\"tool_choice\":{\"type\":\"function\",\"name\":\"f\"}}");
    assert_string_equal(jstr(c, "messages.0.role"), "system");
    assert_string_equal(jstr(c, "messages.0.content"), "I");
    assert_string_equal(jstr(c, "messages.1.content.0.text"), "q");
    assert_string_equal(jstr(c, "messages.1.content.1.image_url.url"),
                        "https://i/x.png");
    /* the assistant's text and both calls are one assistant message */
    assert_string_equal(jstr(c, "messages.2.content"), "A");
    assert_string_equal(jstr(c, "messages.2.tool_calls.0.id"), "c1");
    assert_string_equal(jstr(c, "messages.2.tool_calls.1.function.name"), "g");
    assert_string_equal(jstr(c, "messages.3.tool_call_id"), "c1");
    assert_string_equal(jstr(c, "messages.4.content"), "o2");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(c, "messages")), 5);
    assert_int_equal(cJSON_GetObjectItem(c, "max_tokens")->valueint, 9);
    assert_string_equal(jstr(c, "response_format.type"), "json_object");
    assert_string_equal(jstr(c, "tool_choice.function.name"), "f");
    cJSON_Delete(c);
    c = to_chat(&live_face_responses, "{\"input\":\"hello\",\"store\":false}");
    assert_string_equal(jstr(c, "messages.0.role"), "user");
    assert_string_equal(jstr(c, "messages.0.content"), "hello");
    cJSON_Delete(c);
}

static void test_responses_refuse_stored_state(void **state)
{
    (void)state;
    const live_face *f = &live_face_responses;
    refused(f, "{\"input\":\"x\",\"previous_response_id\":\"r\"}",
            "previous_response_id: not supported");
    refused(f, "{\"input\":\"x\",\"store\":true}", "store: true is not supported");
    refused(f, "{\"input\":\"x\",\"background\":true}", "background: true");
    refused(f, "{\"input\":\"x\",\"conversation\":\"c\"}", "conversation:");
    refused(f, "{\"input\":[{\"type\":\"item_reference\",\"id\":\"i\"}]}",
            "input[0]: item_reference");
    refused(f, "{\"input\":\"x\",\"tools\":[{\"type\":\"web_search\"}]}",
            "tools[0].type");
    refused(f, "{\"input\":\"x\",\"reasoning\":{}}", "reasoning: unknown field");
    refused(f, "{}", "input: required");
}

static void test_a_chat_answer_becomes_a_response(void **state)
{
    (void)state;
    cJSON *r = answer(&live_face_responses, chat_answer);
    assert_string_equal(jstr(r, "id"), "id_9");
    assert_string_equal(jstr(r, "object"), "response");
    assert_string_equal(jstr(r, "status"), "completed");
    assert_string_equal(jstr(r, "output.0.type"), "message");
    assert_string_equal(jstr(r, "output.0.content.0.type"), "output_text");
    assert_string_equal(jstr(r, "output.0.content.0.text"), "Hi");
    assert_string_equal(jstr(r, "output.1.type"), "function_call");
    assert_string_equal(jstr(r, "output.1.call_id"), "c1");
    assert_string_equal(jstr(r, "output.1.arguments"), "{\"a\":1}");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "usage"),
                                         "total_tokens")->valueint, 7);
    cJSON_Delete(r);
    r = answer(&live_face_responses,
               "{\"model\":\"m\",\"choices\":[{\"message\":{\"content\":\"x\"},"
               "\"finish_reason\":\"length\"}]}");
    assert_string_equal(jstr(r, "status"), "incomplete");
    assert_string_equal(jstr(r, "incomplete_details.reason"), "max_output_tokens");
    cJSON_Delete(r);
}

static void test_embeddings_bodies(void **state)
{
    (void)state;
    const live_face *f = &live_face_embeddings;
    live_chat_req req;
    char msg[256];
    static const char ok_body[] =
        "{\"model\":\"e\",\"input\":[\"abcdefgh\",[1,2,3]],\"dimensions\":8}";
    assert_true(f->embedding);
    assert_null(f->to_chat);
    assert_int_equal(f->parse(ok_body, strlen(ok_body), &req, msg, sizeof msg),
                     LD_OK);
    assert_true(req.embed);
    assert_false(req.stream);
    assert_string_equal(req.model, "e");
    assert_int_equal(req.input_tokens, 3 + 3); /* 8/4+1, and 3 ids */
    live_chat_cleanup(&req);
    static const char *const bad[][2] = {
        {"{\"model\":\"e\"}", "input: required"},
        {"{\"input\":[]}", "input: must be"},
        {"{\"input\":[[1,-2]]}", "input[0]: an array of token ids"},
        {"{\"input\":\"x\",\"encoding_format\":\"hex\"}", "encoding_format"},
        {"{\"input\":\"x\",\"stream\":true}", "stream: unknown field"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(f->parse(bad[i][0], strlen(bad[i][0]), &req, msg,
                                  sizeof msg), LD_EINVAL);
        if (strstr(msg, bad[i][1]) == NULL)
            fail_msg("\"%s\" does not say \"%s\"", msg, bad[i][1]);
    }
}

/* A Messages request as the live host makes it: the chat translation,
 * and the client's own body for the routes that speak Messages. */
static void messages_req(const char *body, live_chat_req *req)
{
    live_buf chat;
    char msg[256] = "";
    live_buf_init(&chat, 0);
    assert_int_equal(live_face_messages.to_chat(body, strlen(body), &chat, msg,
                                                sizeof msg), LD_OK);
    assert_int_equal(live_chat_parse(chat.data, chat.len, req, msg, sizeof msg),
                     LD_OK);
    live_buf_cleanup(&chat);
    req->native = body;
    req->native_len = strlen(body);
    req->native_api = live_face_messages.native_api;
}

static void test_anthropic_routes_get_the_messages_body_itself(void **state)
{
    (void)state;
    static const char body[] =
        "{\"model\":\"c\",\"max_tokens\":5,\"metadata\":{\"user_id\":\"u\"},"
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
        "\"text\":\"hi\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]}";
    live_chat_req req;
    live_buf out;
    const char *path = NULL;
    messages_req(body, &req);
    live_buf_init(&out, 0);
    assert_int_equal(live_provider_build(live_provider_for(LD_PROVIDER_ANTHROPIC),
                                         &req, "claude-r", true, NULL, &out,
                                         &path), LD_OK);
    assert_string_equal(path, "/messages");
    cJSON *o = cJSON_Parse(out.data);
    assert_string_equal(jstr(o, "model"), "claude-r");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "stream")));
    assert_string_equal(jstr(o, "messages.0.content.0.cache_control.type"),
                        "ephemeral");
    assert_string_equal(jstr(o, "metadata.user_id"), "u");
    cJSON_Delete(o);
    /* a continuation: the cut text as the final assistant turn, trimmed */
    out.len = 0;
    assert_int_equal(live_provider_build(live_provider_for(LD_PROVIDER_ANTHROPIC),
                                         &req, "claude-r", true, "tok1 tok2 ",
                                         &out, &path), LD_OK);
    o = cJSON_Parse(out.data);
    assert_string_equal(jstr(o, "messages.1.role"), "assistant");
    assert_string_equal(jstr(o, "messages.1.content.0.text"), "tok1 tok2");
    cJSON_Delete(o);
    /* an OpenAI route gets the chat translation */
    out.len = 0;
    assert_int_equal(live_provider_build(live_provider_for(LD_PROVIDER_OPENAI),
                                         &req, "gpt-r", false, NULL, &out, &path),
                     LD_OK);
    assert_string_equal(path, "/chat/completions");
    o = cJSON_Parse(out.data);
    assert_string_equal(jstr(o, "messages.0.content.0.text"), "hi");
    assert_null(strstr(out.data, "cache_control"));
    assert_string_equal(jstr(o, "user"), "u");
    cJSON_Delete(o);
    live_buf_cleanup(&out);
    live_chat_cleanup(&req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_become_chat_messages),
        cmocka_unit_test(test_messages_tools_and_stream_options),
        cmocka_unit_test(test_messages_refusals_name_the_field),
        cmocka_unit_test(test_a_chat_answer_becomes_a_message),
        cmocka_unit_test(test_chunks_become_messages_events),
        cmocka_unit_test(test_chunks_become_responses_events),
        cmocka_unit_test(test_a_failed_stream_ends_in_an_error_event),
        cmocka_unit_test(test_errors_in_each_apis_shape),
        cmocka_unit_test(test_responses_items_become_chat_messages),
        cmocka_unit_test(test_responses_refuse_stored_state),
        cmocka_unit_test(test_a_chat_answer_becomes_a_response),
        cmocka_unit_test(test_embeddings_bodies),
        cmocka_unit_test(test_anthropic_routes_get_the_messages_body_itself),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
