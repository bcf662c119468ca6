/* live_embed.c - POST /v1/embeddings as a client face (live_face.h).
 *
 * An embeddings request is routed through a workload of kind "embedding"
 * (ld_policy.h), on routes whose API has embeddings (the provider table's
 * embed_* operations: OpenAI-compatible routes). The body is checked like
 * a chat body (no duplicate key, valid UTF-8, top-level fields model,
 * input, encoding_format, dimensions, user) and passed upstream with
 * "model" replaced; the answer passes through. `input` is a string, an
 * array of strings, an array of token ids or an array of such arrays; the
 * input estimate is characters / 4 (token ids count one each), which is
 * what the route bills (embedding routes have no output price).
 */
#include "live_face.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "live_adapter_int.h"

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int bad(char *msg, size_t cap, const char *fmt, ...)
{
    if (msg != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, cap, fmt, ap);
        va_end(ap);
    }
    return LD_EINVAL;
}

static const char *const embed_fields[] = {
    "model", "input", "encoding_format", "dimensions", "user", NULL};

static int64_t chars_of(const char *s)
{
    int64_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if ((*p & 0xC0) != 0x80)
            n++;
    return n;
}

static bool token_id(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e9 &&
           v->valuedouble == (double)(int64_t)v->valuedouble;
}

/* The input's size in estimated tokens; -1 (with msg) when it is not one
 * of the four shapes. */
static int64_t input_tokens(const cJSON *in, char *msg, size_t cap)
{
    if (cJSON_IsString(in))
        return chars_of(in->valuestring) / 4 + 1;
    if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) == 0) {
        bad(msg, cap, "input: must be a string, an array of strings or an "
            "array of token ids (not empty)");
        return -1;
    }
    int64_t n = 0;
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, in) {
        if (cJSON_IsString(x)) {
            n += chars_of(x->valuestring) / 4 + 1;
        } else if (token_id(x)) {
            n++;
        } else if (cJSON_IsArray(x) && cJSON_GetArraySize(x) > 0) {
            const cJSON *t;
            cJSON_ArrayForEach(t, x) {
                if (!token_id(t)) {
                    bad(msg, cap, "input[%d]: an array of token ids holds "
                        "non-negative integers only", i);
                    return -1;
                }
                n++;
            }
        } else {
            bad(msg, cap, "input[%d]: must be a string, a token id or a "
                "non-empty array of token ids", i);
            return -1;
        }
        i++;
    }
    return n;
}

static int embed_parse(const char *body, size_t len, live_chat_req *out,
                       char *msg, size_t cap)
{
    cJSON *root = NULL;
    size_t at = 0;
    if (out == NULL)
        return LD_EINVAL;
    memset(out, 0, sizeof *out);
    out->max_tokens = -1;
    if (msg != NULL && cap > 0)
        msg[0] = '\0';
    int rc = body != NULL ? live_json_parse(body, len, &root, &at) : LD_EINVAL;
    if (rc == LD_ENOMEM)
        return rc;
    if (rc != LD_OK)
        return at >= len ? bad(msg, cap, "body is not JSON: unexpected end "
                               "at byte %zu", len)
                         : bad(msg, cap, "body is not JSON: syntax error at "
                               "byte %zu", at);
    rc = live_body_check(root, embed_fields, msg, cap);
    if (rc != LD_OK)
        goto fail;
    const cJSON *model = live_jget(root, "model");
    const cJSON *in = live_jget(root, "input");
    const cJSON *fmt = live_jget(root, "encoding_format");
    const cJSON *dims = live_jget(root, "dimensions");
    const cJSON *user = live_jget(root, "user");
    if (!live_jabsent(model) && !cJSON_IsString(model)) {
        rc = bad(msg, cap, "model: must be a string");
        goto fail;
    }
    if (live_jabsent(in)) {
        rc = bad(msg, cap, "input: required");
        goto fail;
    }
    int64_t n = input_tokens(in, msg, cap);
    if (n < 0) {
        rc = LD_EINVAL;
        goto fail;
    }
    if (!live_jabsent(fmt) &&
        (!cJSON_IsString(fmt) || (strcmp(fmt->valuestring, "float") != 0 &&
                                  strcmp(fmt->valuestring, "base64") != 0))) {
        rc = bad(msg, cap, "encoding_format: must be \"float\" or \"base64\"");
        goto fail;
    }
    if (!live_jabsent(dims) && (!token_id(dims) || dims->valuedouble < 1)) {
        rc = bad(msg, cap, "dimensions: must be a positive integer");
        goto fail;
    }
    if (!live_jabsent(user) && !cJSON_IsString(user)) {
        rc = bad(msg, cap, "user: must be a string");
        goto fail;
    }
    out->body = root;
    out->model = cJSON_IsString(model) ? model->valuestring : NULL;
    out->input_tokens = n;
    out->embed = true;
    return LD_OK;
fail:
    cJSON_Delete(root);
    memset(out, 0, sizeof *out);
    out->max_tokens = -1;
    return rc;
}

const live_face live_face_embeddings = {
    .name = "embeddings",
    .id_prefix = NULL,
    .required_header = NULL,
    .embedding = true,
    .to_chat = NULL,
    .parse = embed_parse,
    .answer = NULL,
    .error_body = NULL,
    .ev = NULL,
};
