/* test_live_walk.c - the chat-message walk the Anthropic, Gemini and
 * Bedrock bodies share (live_walk.c): what it calls in which order, what
 * it refuses, and the bodies it builds, byte for byte those the three
 * providers built each with its own walk. */
#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>

#include "live_adapter_int.h"
#include "live_provider.h"

#define BODIES "tests/data/providers/bodies.jsonl"

/* ---- the walk through a table that writes down what it is called with --- */

static int rec(cJSON *out, const char *what, const char *arg)
{
    char line[128];
    snprintf(line, sizeof line, "%s:%s", what, arg != NULL ? arg : "(null)");
    return live_jpush(out, cJSON_CreateString(line)) ? LD_OK : LD_ENOMEM;
}

static int rec_text(cJSON *out, const char *text)
{
    if (text != NULL && strcmp(text, "refuse me") == 0)
        return LD_EINVAL;
    return text == NULL || text[0] == '\0' ? LD_OK : rec(out, "text", text);
}

static int rec_image(cJSON *out, const char *url)
{
    return rec(out, "image", url);
}

static int rec_calls(cJSON *out, const cJSON *calls)
{
    return calls == NULL ? LD_OK
                         : rec(out, "calls", cJSON_IsArray(calls) ? "list"
                                                                  : "other");
}

static int rec_result(const live_walk *w, cJSON *out, const cJSON *msgs,
                      const cJSON *m)
{
    int rc = rec(out, "result", live_jstr(m, "tool_call_id"));
    assert_int_equal(cJSON_GetArraySize(msgs), 7); /* the whole list */
    return rc == LD_OK ? live_walk_content(w, out, live_jget(m, "content")) : rc;
}

static const live_walk recorder = {
    .text = rec_text,
    .image = rec_image,
    .tool_calls = rec_calls,
    .tool_result = rec_result,
    .system = live_walk_system_parts,
    .assistant = "bot",
    .field = "items",
};

static char *walked(const char *msgs_json, const char *prefill, int want_rc)
{
    cJSON *msgs = cJSON_Parse(msgs_json), *turns = cJSON_CreateArray(),
          *sys = cJSON_CreateArray(), *both = cJSON_CreateObject();
    assert_non_null(msgs);
    assert_non_null(both);
    assert_int_equal(live_walk_messages(&recorder, msgs, prefill, turns, sys),
                     want_rc);
    assert_true(live_jset(both, "turns", turns));
    assert_true(live_jset(both, "sys", sys));
    char *text = cJSON_PrintUnformatted(both);
    cJSON_Delete(both);
    cJSON_Delete(msgs);
    return text;
}

static void test_walk_makes_turns_in_order_and_merges_one_role(void **state)
{
    (void)state;
    char *t = walked(
        "[{\"role\":\"user\",\"content\":\"hi\"},"
        "{\"role\":\"system\",\"content\":\"s1\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}},"
        "{\"type\":\"image_url\",\"image_url\":{}},"
        "{\"type\":\"refusal\",\"refusal\":\"r\"}]},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"out\"},"
        "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"s2\"}]},"
        "{\"role\":\"critic\",\"content\":\"x\"}]",
        "pre", LD_OK);
    /* the system messages wherever they stand go to sys; a tool result
     * and any role but the assistant's are user turns, merged with the
     * user turn before; the prefill is the assistant's last turn */
    assert_string_equal(t,
        "{\"turns\":[{\"role\":\"user\",\"items\":[\"text:hi\",\"text:a\","
        "\"image:u\",\"image:(null)\",\"text:r\"]},"
        "{\"role\":\"bot\",\"items\":[\"calls:list\"]},"
        "{\"role\":\"user\",\"items\":[\"result:c1\",\"text:out\",\"text:x\"]},"
        "{\"role\":\"bot\",\"items\":[\"text:pre\"]}],"
        "\"sys\":[\"text:s1\",\"text:s2\"]}");
    cJSON_free(t);
    /* an empty message makes no turn; an empty prefill none either */
    t = walked("[{\"role\":\"user\",\"content\":\"\"},"
               "{\"role\":\"assistant\",\"content\":[]}]", "", LD_OK);
    assert_string_equal(t, "{\"turns\":[],\"sys\":[]}");
    cJSON_free(t);
}

static void test_walk_refuses_what_it_cannot_walk(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[{\"content\":\"no role\"}]",
        "[{\"role\":\"user\",\"content\":[{\"text\":\"no type\"}]}]",
        "[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]",
        "[{\"role\":\"system\",\"content\":[{\"type\":\"file\"}]}]",
        /* a callback's refusal ends the walk with it */
        "[{\"role\":\"user\",\"content\":\"ok\"},"
        "{\"role\":\"user\",\"content\":\"refuse me\"}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cJSON_free(walked(bad[i], NULL, LD_EINVAL));
    /* so does a refused prefill */
    cJSON_free(walked("[]", "refuse me", LD_EINVAL));
}

static void test_walk_args_are_one_json_object(void **state)
{
    (void)state;
    static const char *const empty[] = {NULL, "", " \t\r\n\f\v"};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        cJSON *o = NULL;
        assert_int_equal(live_walk_args(empty[i], &o), LD_OK);
        assert_true(cJSON_IsObject(o));
        assert_null(o->child);
        cJSON_Delete(o);
    }
    cJSON *o = NULL;
    assert_int_equal(live_walk_args(" {\"a\":[1]} ", &o), LD_OK);
    assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "a"), 0)->valueint, 1);
    cJSON_Delete(o);
    static const char *const bad[] = {"[1]", "\"s\"", "{x", "{} {}", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = (cJSON *)1;
        assert_int_equal(live_walk_args(bad[i], &o), LD_EINVAL);
        assert_null(o);
    }
}

static void test_walk_trims_the_final_assistant_text(void **state)
{
    (void)state;
    static const struct {
        const char *turns, *type, *want;
    } cases[] = {
        /* trailing white space goes */
        {"[{\"role\":\"assistant\",\"c\":[{\"type\":\"text\",\"text\":\"a \\n\"}]}]",
         "text", "[{\"role\":\"assistant\",\"c\":[{\"type\":\"text\",\"text\":\"a\"}]}]"},
        /* a blank last item goes, and its turn when it was alone */
        {"[{\"role\":\"user\",\"c\":[{\"text\":\"q\"}]},"
         "{\"role\":\"assistant\",\"c\":[{\"text\":\"  \"}]}]",
         NULL, "[{\"role\":\"user\",\"c\":[{\"text\":\"q\"}]}]"},
        {"[{\"role\":\"assistant\",\"c\":[{\"text\":\"x\"},{\"text\":\" \"}]}]",
         NULL, "[{\"role\":\"assistant\",\"c\":[{\"text\":\"x\"}]}]"},
        /* an item of another type, or a user's last turn, stays */
        {"[{\"role\":\"assistant\",\"c\":[{\"type\":\"doc\",\"text\":\"a \"}]}]",
         "text", "[{\"role\":\"assistant\",\"c\":[{\"type\":\"doc\",\"text\":\"a \"}]}]"},
        {"[{\"role\":\"user\",\"c\":[{\"text\":\"a \"}]}]", NULL,
         "[{\"role\":\"user\",\"c\":[{\"text\":\"a \"}]}]"},
        {"[]", NULL, "[]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *t = cJSON_Parse(cases[i].turns);
        assert_non_null(t);
        live_walk_trim_final(t, "c", cases[i].type);
        char *got = cJSON_PrintUnformatted(t);
        assert_string_equal(got, cases[i].want);
        cJSON_free(got);
        cJSON_Delete(t);
    }
}

/* ---- the providers' bodies, as before the walk was shared --------------- */

/* tests/data/providers/bodies.jsonl, one case a line: "name", the client's
 * "request" (its text), "prefill" (or null), "stream", and per provider
 * the "rc" of its build and, when 0, the exact "body". The lines were
 * written by the three providers' own walks, before they shared one. */
static void test_rich_messages_give_the_bodies_of_before(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        ld_provider p;
    } provs[] = {{"anthropic", LD_PROVIDER_ANTHROPIC},
                 {"gemini", LD_PROVIDER_GEMINI},
                 {"bedrock", LD_PROVIDER_BEDROCK}};
    FILE *f = fopen(BODIES, "r");
    assert_non_null(f);
    char line[16384];
    int cases = 0, bodies = 0, refusals = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        size_t n = strlen(line);
        assert_true(n > 0 && line[n - 1] == '\n'); /* no line cut short */
        cJSON *c = cJSON_ParseWithLength(line, n);
        assert_non_null(c);
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(c, "name"));
        const char *req = cJSON_GetStringValue(cJSON_GetObjectItem(c, "request"));
        const char *prefill =
            cJSON_GetStringValue(cJSON_GetObjectItem(c, "prefill"));
        bool stream = cJSON_IsTrue(cJSON_GetObjectItem(c, "stream"));
        const cJSON *want = cJSON_GetObjectItem(c, "want");
        assert_non_null(name);
        assert_non_null(req);
        live_chat_req r;
        char msg[160];
        assert_int_equal(live_chat_parse(req, strlen(req), &r, msg, sizeof msg),
                         LD_OK);
        for (size_t i = 0; i < sizeof provs / sizeof provs[0]; i++) {
            const cJSON *w = cJSON_GetObjectItem(want, provs[i].name);
            const cJSON *rc_want = cJSON_GetObjectItem(w, "rc");
            const char *body = cJSON_GetStringValue(cJSON_GetObjectItem(w, "body"));
            assert_true(cJSON_IsNumber(rc_want));
            live_buf b;
            live_buf_init(&b, 0);
            int rc = live_provider_build(live_provider_for(provs[i].p), &r,
                                         "m-1", stream, prefill, &b, NULL);
            if (rc != rc_want->valueint || (rc == LD_OK && body == NULL) ||
                (rc == LD_OK && strcmp(b.data, body) != 0))
                fail_msg("%s, %s (prefill %s, stream %d): rc %d, want %d\n"
                         "got:  %s\nwant: %s", name, provs[i].name,
                         prefill != NULL ? prefill : "none", stream, rc,
                         rc_want->valueint, rc == LD_OK ? b.data : "-",
                         body != NULL ? body : "-");
            if (rc == LD_OK)
                bodies++;
            else
                refusals++;
            live_buf_cleanup(&b);
        }
        live_chat_cleanup(&r);
        cJSON_Delete(c);
        cases++;
    }
    fclose(f);
    /* the file is whole: every case, both outcomes */
    assert_int_equal(cases, 20);
    assert_int_equal(bodies, 34);
    assert_int_equal(refusals, 26);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_makes_turns_in_order_and_merges_one_role),
        cmocka_unit_test(test_walk_refuses_what_it_cannot_walk),
        cmocka_unit_test(test_walk_args_are_one_json_object),
        cmocka_unit_test(test_walk_trims_the_final_assistant_text),
        cmocka_unit_test(test_rich_messages_give_the_bodies_of_before),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
