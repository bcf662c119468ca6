/* live_walk.c - the one walk over a chat request's messages for the APIs
 * whose bodies are lists of turns (Anthropic, Gemini, Bedrock;
 * live_adapter_int.h). What each piece becomes is the provider's: a
 * static const live_walk table of callbacks. The walk itself is the same
 * for all three:
 *
 *   - a message without a role is LD_EINVAL;
 *   - system and developer messages go to the provider's system prompt
 *     (w->system), wherever they stand in the list;
 *   - a tool message is one tool result (w->tool_result) in a user turn;
 *   - any other message's content (a string, or parts: text, refusal,
 *     image_url; any other part LD_EINVAL), then, for an assistant, its
 *     tool calls (w->tool_calls), make a turn: the assistant's under
 *     w->assistant, every other role's under "user", consecutive turns of
 *     one role merged, a turn left empty dropped (live_jpush_turn);
 *   - a prefill (not empty) is a final assistant turn of its text.
 */
#include <string.h>

#include "live_adapter_int.h"

int live_walk_content(const live_walk *w, cJSON *out, const cJSON *content)
{
    if (live_jabsent(content))
        return LD_OK;
    if (cJSON_IsString(content))
        return w->text(out, content->valuestring);
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        const char *type = live_jstr(part, "type");
        int rc;
        if (type == NULL)
            return LD_EINVAL;
        if (strcmp(type, "text") == 0)
            rc = w->text(out, live_jstr(part, "text"));
        else if (strcmp(type, "refusal") == 0)
            rc = w->text(out, live_jstr(part, "refusal"));
        else if (strcmp(type, "image_url") == 0)
            rc = w->image(out, live_jstr(live_jget(part, "image_url"), "url"));
        else
            rc = LD_EINVAL;
        if (rc != LD_OK)
            return rc;
    }
    return LD_OK;
}

int live_walk_system_parts(const live_walk *w, void *sys, const cJSON *content)
{
    return live_walk_content(w, sys, content);
}

/* The items of one message (not a system one), into a new array *out. */
static int message_items(const live_walk *w, const cJSON *msgs,
                         const cJSON *m, const char *role, cJSON **out)
{
    cJSON *items = cJSON_CreateArray();
    int rc;
    *out = NULL;
    if (items == NULL)
        return LD_ENOMEM;
    if (strcmp(role, "tool") == 0) {
        rc = w->tool_result(w, items, msgs, m);
    } else {
        rc = live_walk_content(w, items, live_jget(m, "content"));
        if (rc == LD_OK && strcmp(role, "assistant") == 0)
            rc = w->tool_calls(items, live_jget(m, "tool_calls"));
    }
    if (rc != LD_OK) {
        cJSON_Delete(items);
        return rc;
    }
    *out = items;
    return LD_OK;
}

int live_walk_messages(const live_walk *w, const cJSON *msgs,
                       const char *prefill, cJSON *turns, void *sys)
{
    const cJSON *m;
    int rc;
    cJSON_ArrayForEach(m, msgs) {
        const char *role = live_jstr(m, "role");
        cJSON *items;
        if (role == NULL)
            return LD_EINVAL;
        if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
            if ((rc = w->system(w, sys, live_jget(m, "content"))) != LD_OK)
                return rc;
            continue;
        }
        if ((rc = message_items(w, msgs, m, role, &items)) != LD_OK)
            return rc;
        rc = live_jpush_turn(turns,
                             strcmp(role, "assistant") == 0 ? w->assistant
                                                            : "user",
                             w->field, items);
        if (rc != LD_OK)
            return rc;
    }
    if (prefill != NULL && prefill[0] != '\0') {
        cJSON *items = cJSON_CreateArray();
        if (items == NULL)
            return LD_ENOMEM;
        if ((rc = w->text(items, prefill)) != LD_OK) {
            cJSON_Delete(items);
            return rc;
        }
        return live_jpush_turn(turns, w->assistant, w->field, items);
    }
    return LD_OK;
}

void live_walk_trim_final(cJSON *turns, const char *field, const char *type)
{
    int count = cJSON_GetArraySize(turns);
    cJSON *last = count > 0 ? cJSON_GetArrayItem(turns, count - 1) : NULL;
    const char *role = live_jstr(last, "role");
    if (role == NULL || strcmp(role, "assistant") != 0)
        return;
    cJSON *items = cJSON_GetObjectItemCaseSensitive(last, field);
    int n = cJSON_GetArraySize(items);
    cJSON *item = n > 0 ? cJSON_GetArrayItem(items, n - 1) : NULL;
    const char *t = live_jstr(item, "type");
    if (type != NULL && (t == NULL || strcmp(t, type) != 0))
        return;
    cJSON *text = cJSON_GetObjectItemCaseSensitive(item, "text");
    if (!cJSON_IsString(text))
        return;
    size_t len = strlen(text->valuestring);
    while (len > 0 && live_is_space(text->valuestring[len - 1]))
        len--;
    text->valuestring[len] = '\0'; /* shortening in place is safe */
    if (len == 0) {
        cJSON_DeleteItemFromArray(items, n - 1);
        if (n == 1)
            cJSON_DeleteItemFromArray(turns, count - 1);
    }
}

int live_walk_args(const char *args, cJSON **out)
{
    size_t len = args != NULL ? strlen(args) : 0, k = 0;
    *out = NULL;
    while (k < len && live_is_space(args[k]))
        k++;
    if (k == len) {
        *out = cJSON_CreateObject();
        return *out != NULL ? LD_OK : LD_ENOMEM;
    }
    int rc = live_json_parse(args, len, out, NULL);
    if (rc != LD_OK)
        return rc;
    if (!cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return LD_EINVAL;
    }
    return LD_OK;
}
