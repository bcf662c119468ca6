/* test_live_walk.c - the chat-message walk the Anthropic, Gemini and
 * Bedrock bodies share: the bodies it builds are byte for byte those the
 * three providers built each with its own walk. */
#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>

#include "live_provider.h"

#define BODIES "tests/data/providers/bodies.jsonl"

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
        cmocka_unit_test(test_rich_messages_give_the_bodies_of_before),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
