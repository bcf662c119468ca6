/* ld_class.c - the failure taxonomy and the classification of raw attempt
 * results into it. */
#include "ld_class.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* One row per class: its name in policies and events, its family, and whether
 * a failure of it counts against the route's circuit breaker. rate_limited and
 * quota_exhausted have their own handling (cool-down, quota window); client-
 * caused classes (bad_request, context_length, content_blocked, ...) and
 * pre-attempt classes (circuit_open, budget_exceeded, ...) say nothing about
 * the route's health. */
static const struct {
    const char *name;
    ld_family family;
    bool breaker;
} class_table[LD_FC_COUNT] = {
    [LD_FC_CONNECT_ERROR] = {"connect_error", LD_FAMILY_TECHNICAL, true},
    [LD_FC_RESET] = {"reset", LD_FAMILY_TECHNICAL, true},
    [LD_FC_TIMEOUT_TTFT] = {"timeout_ttft", LD_FAMILY_TECHNICAL, true},
    [LD_FC_TIMEOUT_TOTAL] = {"timeout_total", LD_FAMILY_TECHNICAL, true},
    [LD_FC_STREAM_STALL] = {"stream_stall", LD_FAMILY_TECHNICAL, true},
    [LD_FC_STREAM_CUT] = {"stream_cut", LD_FAMILY_TECHNICAL, true},
    [LD_FC_INVALID_RESPONSE] = {"invalid_response", LD_FAMILY_TECHNICAL, true},
    [LD_FC_RATE_LIMITED] = {"rate_limited", LD_FAMILY_TECHNICAL, false},
    [LD_FC_QUOTA_EXHAUSTED] = {"quota_exhausted", LD_FAMILY_TECHNICAL, false},
    [LD_FC_OVERLOADED] = {"overloaded", LD_FAMILY_TECHNICAL, true},
    [LD_FC_SERVER_ERROR] = {"server_error", LD_FAMILY_TECHNICAL, true},
    [LD_FC_AUTH_ERROR] = {"auth_error", LD_FAMILY_TECHNICAL, true},
    [LD_FC_BAD_REQUEST] = {"bad_request", LD_FAMILY_TECHNICAL, false},
    [LD_FC_CIRCUIT_OPEN] = {"circuit_open", LD_FAMILY_TECHNICAL, false},
    [LD_FC_BUDGET_EXCEEDED] = {"budget_exceeded", LD_FAMILY_BUSINESS, false},
    [LD_FC_LATENCY_CEILING] = {"latency_ceiling", LD_FAMILY_BUSINESS, false},
    [LD_FC_QUALITY_FLOOR] = {"quality_floor", LD_FAMILY_BUSINESS, false},
    [LD_FC_CONTENT_BLOCKED] = {"content_blocked", LD_FAMILY_POLICY, false},
    [LD_FC_REGION_RESTRICTED] = {"region_restricted", LD_FAMILY_POLICY, false},
    [LD_FC_CONTEXT_LENGTH] = {"context_length", LD_FAMILY_POLICY, false},
    [LD_FC_CAPABILITY_MISSING] = {"capability_missing", LD_FAMILY_POLICY,
                                  false},
    [LD_FC_KEY_LIMIT] = {"key_limit", LD_FAMILY_BUSINESS, false},
    [LD_FC_SHUTDOWN] = {"shutdown", LD_FAMILY_TECHNICAL, false},
};

static bool class_valid(ld_class c)
{
    return (int)c >= 0 && (int)c < (int)LD_FC_COUNT;
}

const char *ld_class_name(ld_class c)
{
    if (c == LD_FC_NONE)
        return "none";
    if (!class_valid(c))
        return "?";
    return class_table[c].name;
}

/* "none" is not accepted: it names success, not a class a policy can use. */
int ld_class_parse(const char *name, ld_class *out)
{
    if (name == NULL || out == NULL)
        return LD_EINVAL;
    for (int i = 0; i < (int)LD_FC_COUNT; i++) {
        if (strcmp(class_table[i].name, name) == 0) {
            *out = (ld_class)i;
            return LD_OK;
        }
    }
    return LD_ENOENT;
}

/* LD_FC_NONE and out-of-range values report LD_FAMILY_TECHNICAL. */
ld_family ld_class_family(ld_class c)
{
    if (!class_valid(c))
        return LD_FAMILY_TECHNICAL;
    return class_table[c].family;
}

const char *ld_family_name(ld_family f)
{
    switch (f) {
    case LD_FAMILY_TECHNICAL:
        return "technical";
    case LD_FAMILY_BUSINESS:
        return "business";
    case LD_FAMILY_POLICY:
        return "policy";
    }
    return "?";
}

bool ld_class_has_rules(ld_class c)
{
    return (int)c >= 0 && c < LD_FC_COUNT && c != LD_FC_KEY_LIMIT &&
           c != LD_FC_SHUTDOWN;
}

bool ld_class_is_local(ld_class c)
{
    switch (c) {
    case LD_FC_CONNECT_ERROR:
    case LD_FC_RESET:
    case LD_FC_TIMEOUT_TTFT:
    case LD_FC_TIMEOUT_TOTAL:
    case LD_FC_STREAM_STALL:
    case LD_FC_STREAM_CUT:
    case LD_FC_AUTH_ERROR:
    case LD_FC_CIRCUIT_OPEN:
        return true;
    default:
        return false;
    }
}

bool ld_class_counts_for_breaker(ld_class c)
{
    return class_valid(c) && class_table[c].breaker;
}

void ld_raw_result_init(ld_raw_result *r)
{
    if (r == NULL)
        return;
    r->transport = LD_TR_OK;
    r->http_status = 0;
    r->error_type = NULL;
    r->error_code = NULL;
    r->error_message = NULL;
    r->finish_reason = NULL;
    r->retry_after = -1;
    r->completion_tokens = 0;
}

/* ASCII-only case folding: provider codes and the phrases below are ASCII,
 * and the result must not depend on the host's locale. */
static int ascii_lower(int ch)
{
    return (ch >= 'A' && ch <= 'Z') ? ch - 'A' + 'a' : ch;
}

static bool str_ieq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return false;
    for (; *a != '\0' && *b != '\0'; a++, b++)
        if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b))
            return false;
    return *a == '\0' && *b == '\0';
}

static bool in_list(const char *s, const char *const *list)
{
    if (s == NULL || list == NULL)
        return false;
    for (; *list != NULL; list++)
        if (str_ieq(s, *list))
            return true;
    return false;
}

/* Messages are matched on their first MSG_SCAN bytes: the phrases we look
 * for open a provider's message, and a cap keeps the cost bounded however
 * long the message is. */
#define MSG_SCAN 512

/* Whether the lowercased message contains any phrase of the list (the
 * phrases are lowercase). */
static bool any_phrase(const char *lower, const char *const *list)
{
    if (lower[0] == '\0' || list == NULL)
        return false;
    for (; *list != NULL; list++)
        if (strstr(lower, *list) != NULL)
            return true;
    return false;
}

/* What a provider's error fields say, in precedence order. Each list ends
 * with NULL; a NULL list matches nothing. */
typedef struct provider_rule {
    ld_class cls;
    const char *const *codes;   /* error.code (or details.error_code) */
    const char *const *types;   /* error.type */
    const char *const *phrases; /* case-insensitive parts of the message */
} provider_rule;

static const char *const context_codes[] = {
    "context_length_exceeded", "string_above_max_length", NULL};
static const char *const context_types[] = {
    "context_length_exceeded", "string_above_max_length", "request_too_large",
    NULL};
static const char *const context_phrases[] = {
    "prompt is too long", "maximum context length", "context length",
    "too many tokens", "context window", "input is too long",
    "too many input tokens", "exceeds the maximum number of tokens",
    "input token count", NULL};

static const char *const content_codes[] = {
    "content_policy_violation", "content_filter", "content_filtered", "safety",
    NULL};
static const char *const content_types[] = {"content_policy_violation", NULL};

static const char *const region_codes[] = {
    "unsupported_country_region_territory", NULL};
static const char *const region_phrases[] = {
    "not available in your region", "country, region, or territory",
    "country, region or territory", "user location is not supported", NULL};

static const char *const quota_codes[] = {
    "insufficient_quota", "billing_hard_limit_reached",
    "organization_spend_limit_exceeded", "project_spend_limit_exceeded",
    "credit_balance_exhausted", "enforced_spend_limit_reached", NULL};
static const char *const quota_types[] = {
    "insufficient_quota", "billing_error", NULL};
static const char *const quota_phrases[] = {
    "exceeded your current quota", "credit balance is too low",
    "reached your specified api usage limits",
    "reached your specified workspace api usage limits", NULL};

static const char *const rate_codes[] = {"rate_limit_exceeded", NULL};
static const char *const rate_types[] = {
    "rate_limit_error", "tokens", "requests",
    "RESOURCE_EXHAUSTED",                     /* Gemini */
    "throttlingException", NULL};             /* Bedrock */

static const char *const overloaded_types[] = {
    "overloaded_error", "UNAVAILABLE", "serviceUnavailableException", NULL};

static const char *const auth_codes[] = {"invalid_api_key", NULL};
static const char *const auth_types[] = {
    "authentication_error", "permission_error", "UNAUTHENTICATED",
    "PERMISSION_DENIED", "accessDeniedException",
    "UnrecognizedClientException", "InvalidSignatureException",
    "IncompleteSignatureException", "ExpiredTokenException", NULL};

/* Types that name a class only when no phrase of the message named a
 * more precise one: a Bedrock validationException or a Gemini
 * INVALID_ARGUMENT is bad_request unless it says the input is too long;
 * an error event saying the server failed is server_error. */
static const char *const late_bad_types[] = {
    "validationException", "INVALID_ARGUMENT", "FAILED_PRECONDITION", NULL};
static const char *const late_server_types[] = {
    "internalServerException", "modelStreamErrorException",
    "modelTimeoutException", "INTERNAL", NULL};

static const provider_rule provider_rules[] = {
    {LD_FC_CONTEXT_LENGTH, context_codes, context_types, context_phrases},
    {LD_FC_CONTENT_BLOCKED, content_codes, content_types, NULL},
    {LD_FC_REGION_RESTRICTED, region_codes, NULL, region_phrases},
    {LD_FC_QUOTA_EXHAUSTED, quota_codes, quota_types, quota_phrases},
    {LD_FC_RATE_LIMITED, rate_codes, rate_types, NULL},
    {LD_FC_OVERLOADED, NULL, overloaded_types, NULL},
    {LD_FC_AUTH_ERROR, auth_codes, auth_types, NULL},
};

#define N_PROVIDER_RULES (sizeof provider_rules / sizeof provider_rules[0])

/* Class named by the provider's error fields, or LD_FC_NONE. A code or type
 * is the provider's own word and beats any phrase in a message, so all codes
 * and types are tried (in rule order) before any phrase is. */
static ld_class classify_provider(const ld_raw_result *r)
{
    if (r->error_code == NULL && r->error_type == NULL &&
        r->error_message == NULL && r->finish_reason == NULL)
        return LD_FC_NONE; /* nothing to read (what every rule below finds) */
    for (size_t i = 0; i < N_PROVIDER_RULES; i++) {
        const provider_rule *p = &provider_rules[i];
        if (in_list(r->error_code, p->codes) ||
            in_list(r->error_type, p->types))
            return p->cls;
        /* finish_reason "content_filter" belongs with the content codes */
        if (p->cls == LD_FC_CONTENT_BLOCKED &&
            str_ieq(r->finish_reason, "content_filter"))
            return p->cls;
    }
    char lower[MSG_SCAN + 1];
    size_t n = 0;
    for (; r->error_message != NULL && n < MSG_SCAN &&
           r->error_message[n] != '\0'; n++)
        lower[n] = (char)ascii_lower((unsigned char)r->error_message[n]);
    lower[n] = '\0';
    for (size_t i = 0; i < N_PROVIDER_RULES; i++)
        if (any_phrase(lower, provider_rules[i].phrases))
            return provider_rules[i].cls;
    if (in_list(r->error_type, late_bad_types))
        return LD_FC_BAD_REQUEST;
    if (in_list(r->error_type, late_server_types))
        return LD_FC_SERVER_ERROR;
    return LD_FC_NONE;
}

static ld_class classify_status(int s)
{
    if (s >= 200 && s <= 299)
        return LD_FC_NONE;
    switch (s) {
    case 408:
        return LD_FC_TIMEOUT_TOTAL;
    case 401:
    case 403:
        return LD_FC_AUTH_ERROR;
    case 404:
        return LD_FC_BAD_REQUEST;
    case 413:
        return LD_FC_CONTEXT_LENGTH;
    case 429:
        return LD_FC_RATE_LIMITED;
    case 503:
    case 529:
        return LD_FC_OVERLOADED;
    default:
        break;
    }
    if (s >= 400 && s <= 499)
        return LD_FC_BAD_REQUEST;
    if (s >= 500 && s <= 599)
        return LD_FC_SERVER_ERROR;
    /* 0 (no status line), 1xx, 3xx and anything outside 100..599: nothing
     * usable arrived */
    return LD_FC_INVALID_RESPONSE;
}

/* Classification, first match wins:
 *
 * 1. Transport faults (anything but LD_TR_OK), whatever the status:
 *      CONNECT_FAILED -> connect_error     RESET         -> reset
 *      TIMEOUT_TTFT   -> timeout_ttft      TIMEOUT_TOTAL -> timeout_total
 *      STALL          -> stream_stall      CUT           -> stream_cut
 *      MALFORMED      -> invalid_response
 *      NO_DONE        -> stream_cut, unless the model had finished
 *                        (completion_tokens > 0 and a non-empty
 *                        finish_reason): then only the terminator was lost
 *                        and the answer is a success (content_blocked if
 *                        finish_reason is "content_filter").
 *
 * 2. The provider's error code/type, then its message, beat the bare status:
 *      context_length     code/type context_length_exceeded,
 *                         string_above_max_length; type request_too_large;
 *                         message "prompt is too long", "maximum context
 *                         length", "context length", "too many tokens",
 *                         "context window"
 *      content_blocked    code content_policy_violation, content_filter,
 *                         content_filtered, safety; type
 *                         content_policy_violation; finish_reason
 *                         content_filter
 *      region_restricted  code unsupported_country_region_territory; message
 *                         "not available in your region", "country, region,
 *                         or territory"
 *      quota_exhausted    code/type insufficient_quota; code
 *                         billing_hard_limit_reached,
 *                         organization_spend_limit_exceeded,
 *                         project_spend_limit_exceeded,
 *                         credit_balance_exhausted,
 *                         enforced_spend_limit_reached; type billing_error;
 *                         message "exceeded your current quota", "credit
 *                         balance is too low", "reached your specified
 *                         (workspace) API usage limits"
 *      rate_limited       code rate_limit_exceeded; type rate_limit_error,
 *                         tokens, requests, RESOURCE_EXHAUSTED (Gemini),
 *                         throttlingException (Bedrock)
 *      overloaded         type overloaded_error, UNAVAILABLE,
 *                         serviceUnavailableException
 *      auth_error         type authentication_error, permission_error,
 *                         UNAUTHENTICATED, PERMISSION_DENIED,
 *                         accessDeniedException, UnrecognizedClient-,
 *                         InvalidSignature-, IncompleteSignature-,
 *                         ExpiredTokenException; code invalid_api_key
 *    then, when no phrase matched:
 *      bad_request        type validationException, INVALID_ARGUMENT,
 *                         FAILED_PRECONDITION
 *      server_error       type internalServerException,
 *                         modelStreamErrorException, modelTimeoutException,
 *                         INTERNAL
 *    (codes and types compare case-insensitively; the context_length
 *    phrases also hold "input is too long", "too many input tokens",
 *    "exceeds the maximum number of tokens", "input token count", and
 *    region_restricted "user location is not supported")
 *
 * 3. The HTTP status:
 *      2xx -> success    408 -> timeout_total     401, 403 -> auth_error
 *      404 -> bad_request      413 -> context_length   429 -> rate_limited
 *      400, 409, 422, other 4xx -> bad_request
 *      503, 529 -> overloaded  500, 502, 504, other 5xx -> server_error
 *      0 (no status line), 1xx, 3xx, out of range -> invalid_response
 *
 * What the providers document, and where it lands:
 *   OpenAI     429 code rate_limit_exceeded (type tokens/requests)
 *                                           -> rate_limited
 *              429 insufficient_quota ("You exceeded your current quota")
 *                                           -> quota_exhausted
 *              429 organization_/project_spend_limit_exceeded
 *                                           -> quota_exhausted
 *              400 context_length_exceeded  -> context_length
 *              400 content_policy_violation -> content_blocked
 *              403 unsupported_country_region_territory
 *                                           -> region_restricted
 *              401 invalid_api_key          -> auth_error
 *              500 server_error             -> server_error
 *              503 (engine overloaded)      -> overloaded
 *   Anthropic  400 invalid_request_error    -> bad_request, but
 *                  "prompt is too long: N tokens > M maximum"
 *                                           -> context_length, and
 *                  "Your credit balance is too low" -> quota_exhausted
 *              401 authentication_error     -> auth_error
 *              403 permission_error         -> auth_error
 *              404 not_found_error          -> bad_request
 *              413 request_too_large        -> context_length
 *              429 rate_limit_error         -> rate_limited, but
 *                  details.error_code enforced_spend_limit_reached
 *                                           -> quota_exhausted
 *              500 api_error                -> server_error
 *              529 overloaded_error         -> overloaded
 *   Azure OpenAI
 *              400 code content_filter      -> content_blocked
 *              200 finish_reason content_filter -> content_blocked
 *              429 (Retry-After, retry-after-ms) -> rate_limited
 *   Gemini     429 RESOURCE_EXHAUSTED       -> rate_limited
 *              400 INVALID_ARGUMENT         -> bad_request, but "input
 *                  token count ... exceeds the maximum number of tokens"
 *                                           -> context_length
 *              400 FAILED_PRECONDITION "User location is not supported"
 *                                           -> region_restricted
 *              403 PERMISSION_DENIED        -> auth_error
 *              500 INTERNAL                 -> server_error
 *              503 UNAVAILABLE              -> overloaded
 *              finishReason SAFETY, PROHIBITED_CONTENT, ... (translated
 *              to finish_reason content_filter) -> content_blocked
 *   Bedrock    429 / throttlingException    -> rate_limited
 *              400 / validationException    -> bad_request, but "Input is
 *                  too long", "too many input tokens" -> context_length
 *              403 accessDenied-, InvalidSignature-, UnrecognizedClient-
 *                                           -> auth_error
 *              503 / serviceUnavailableException -> overloaded
 *              500 / internalServerException, modelStreamErrorException
 *                                           -> server_error
 *              stopReason guardrail_intervened, content_filtered
 *              (translated to content_filter) -> content_blocked
 */
ld_class ld_classify(const ld_raw_result *r)
{
    if (r == NULL)
        return LD_FC_INVALID_RESPONSE;

    switch (r->transport) {
    case LD_TR_OK:
        break;
    case LD_TR_CONNECT_FAILED:
        return LD_FC_CONNECT_ERROR;
    case LD_TR_RESET:
        return LD_FC_RESET;
    case LD_TR_STREAM_ERROR: {
        ld_class c = classify_provider(r);
        return c != LD_FC_NONE ? c : LD_FC_SERVER_ERROR;
    }
    case LD_TR_CUT:
        return LD_FC_STREAM_CUT;
    case LD_TR_NOT_EXPRESSIBLE:
        return LD_FC_CAPABILITY_MISSING;
    case LD_TR_MALFORMED:
        return LD_FC_INVALID_RESPONSE;
    case LD_TR_NO_DONE:
        if (r->completion_tokens > 0 && r->finish_reason != NULL &&
            r->finish_reason[0] != '\0')
            return str_ieq(r->finish_reason, "content_filter")
                       ? LD_FC_CONTENT_BLOCKED
                       : LD_FC_NONE;
        return LD_FC_STREAM_CUT;
    default:
        /* a transport value this code does not know is still a fault */
        return LD_FC_INVALID_RESPONSE;
    }

    ld_class c = classify_provider(r);
    if (c != LD_FC_NONE)
        return c;
    return classify_status(r->http_status);
}

/* Largest error body worth parsing; provider error bodies are well under a
 * kilobyte. */
#define ERROR_BODY_MAX ((size_t)1 << 20)

/* Copy src into dst[cap], truncated at a UTF-8 character boundary so the
 * result stays valid UTF-8 when src was. cap 0 writes nothing. */
static void copy_trunc(char *dst, size_t cap, const char *src)
{
    if (dst == NULL || cap == 0)
        return;
    size_t n = src == NULL ? 0 : strlen(src);
    if (n >= cap) {
        n = cap - 1;
        /* back off over continuation bytes to a character start */
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* A string, or a number written as text (OpenAI sometimes sends numeric
 * codes, Google always does); anything else (null, bool, object) is empty. */
static void copy_field(char *dst, size_t cap, const cJSON *item)
{
    if (dst == NULL || cap == 0)
        return;
    if (cJSON_IsString(item) && item->valuestring != NULL) {
        copy_trunc(dst, cap, item->valuestring);
    } else if (cJSON_IsNumber(item)) {
        char num[64];
        double d = item->valuedouble;
        if (d >= -1e15 && d <= 1e15 && d == (double)(long long)d)
            snprintf(num, sizeof num, "%lld", (long long)d);
        else
            snprintf(num, sizeof num, "%.17g", d);
        copy_trunc(dst, cap, num);
    } else {
        dst[0] = '\0';
    }
}

/* An AWS error type names a shape, maybe with a namespace before '#' and a
 * URL after ':' ("com.amazon.coral#ThrottlingException:http://..."):
 * keep the name. */
static void aws_type_trim(char *type)
{
    if (type == NULL)
        return;
    char *hash = strchr(type, '#');
    if (hash != NULL)
        memmove(type, hash + 1, strlen(hash + 1) + 1);
    char *colon = strchr(type, ':');
    if (colon != NULL)
        *colon = '\0';
}

static bool is_text(const cJSON *item)
{
    return (cJSON_IsString(item) && item->valuestring != NULL) ||
           cJSON_IsNumber(item);
}

int ld_parse_error_body(const char *body, size_t len, char *type,
                        size_t type_cap, char *code, size_t code_cap,
                        char *message, size_t message_cap)
{
    int rc = LD_EINVAL;
    char *copy = NULL;
    cJSON *root = NULL;
    const cJSON *err, *t, *c, *m;

    copy_trunc(type, type_cap, NULL);
    copy_trunc(code, code_cap, NULL);
    copy_trunc(message, message_cap, NULL);

    /* a raw NUL is never valid JSON (cJSON would skip it as whitespace) */
    if (body == NULL || len == 0 || len > ERROR_BODY_MAX ||
        memchr(body, '\0', len) != NULL)
        goto out;

    /* cJSON 1.7.15 can read one byte past the given length on truncated
     * input ({"a":1,), so parse a NUL-terminated copy. */
    copy = malloc(len + 1);
    if (copy == NULL) {
        rc = LD_ENOMEM;
        goto out;
    }
    memcpy(copy, body, len);
    copy[len] = '\0';

    root = cJSON_ParseWithLength(copy, len);
    if (!cJSON_IsObject(root))
        goto out;

    err = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (cJSON_IsObject(err)) {
        /* OpenAI {"error":{"message","type","code","param"}} and Anthropic
         * {"type":"error","error":{"type","message","details"?}} */
        t = cJSON_GetObjectItemCaseSensitive(err, "type");
        c = cJSON_GetObjectItemCaseSensitive(err, "code");
        m = cJSON_GetObjectItemCaseSensitive(err, "message");
        if (!is_text(t)) /* Google: {"code":429,"status":"RESOURCE_..."} */
            t = cJSON_GetObjectItemCaseSensitive(err, "status");
        if (!is_text(c)) {
            /* Anthropic: "details":{"error_code":"..."} on some 429s */
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(err, "details");
            if (cJSON_IsObject(d) &&
                is_text(cJSON_GetObjectItemCaseSensitive(d, "error_code")))
                c = cJSON_GetObjectItemCaseSensitive(d, "error_code");
        }
        if (!is_text(t) && !is_text(c) && !is_text(m))
            goto out;
    } else if (cJSON_IsString(err) && err->valuestring != NULL) {
        /* {"error":"some string"} */
        t = NULL;
        c = NULL;
        m = err;
    } else {
        /* {"message":"...","type"|"code":...} at the top level */
        t = cJSON_GetObjectItemCaseSensitive(root, "type");
        c = cJSON_GetObjectItemCaseSensitive(root, "code");
        m = cJSON_GetObjectItemCaseSensitive(root, "message");
        if (!is_text(t)) /* AWS: {"__type":"...#ThrottlingException"} */
            t = cJSON_GetObjectItemCaseSensitive(root, "__type");
        if (!is_text(m))
            m = cJSON_GetObjectItemCaseSensitive(root, "Message");
        if (!cJSON_IsString(m) || m->valuestring == NULL ||
            (!is_text(t) && !is_text(c)))
            goto out;
    }
    copy_field(type, type_cap, t);
    aws_type_trim(type);
    copy_field(code, code_cap, c);
    copy_field(message, message_cap, m);
    rc = LD_OK;

out:
    cJSON_Delete(root);
    free(copy);
    return rc;
}
