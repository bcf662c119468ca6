/* sim_fit_classify.c - a recorded error code and message to the failure
 * class the router would give it (sim_fit_classify, see sim_fit.h). */
#include "sim_fit_int.h"

/* ---- error classes ------------------------------------------------------- */

/* connect first: urllib3 says "connect timeout" for a connection that
 * never opened; "max retries exceeded" wraps read timeouts too, so it says
 * nothing by itself */
static const char *const connect_phrases[] = {
    "connection refused", "failed to establish", "name resolution",
    "name or service not known", "connect timeout", "connecttimeout", NULL};
static const char *const timeout_phrases[] = {"timed out", "timeout", NULL};
static const char *const reset_phrases[] = {
    "connection reset", "connection aborted", "remote end closed",
    "remotedisconnected", "connection broken", "incompleteread", NULL};
static const char *const invalid_phrases[] = {
    "expecting value", "jsondecodeerror", "invalid json", NULL};
static const char *const rate_phrases[] = {
    "rate limit", "too many requests", NULL};
static const char *const overloaded_phrases[] = {"overloaded", NULL};

static const struct {
    ld_class cls;
    const char *const *phrases;
} phrase_rules[] = {
    {LD_FC_CONNECT_ERROR, connect_phrases},
    {LD_FC_TIMEOUT_TOTAL, timeout_phrases},
    {LD_FC_RESET, reset_phrases},
    {LD_FC_INVALID_RESPONSE, invalid_phrases},
    {LD_FC_RATE_LIMITED, rate_phrases},
    {LD_FC_OVERLOADED, overloaded_phrases},
};

/* The first PHRASE_SCAN bytes of s, lower-cased, into buf[PHRASE_SCAN+1]. */
static void lower_copy(char *buf, const char *s)
{
    size_t n = 0;
    for (; s != NULL && s[n] != '\0' && n < PHRASE_SCAN; n++)
        buf[n] = (char)tolower((unsigned char)s[n]);
    buf[n] = '\0';
}

static bool has_phrase(const char *lower, const char *const *list)
{
    for (; *list != NULL; list++)
        if (strstr(lower, *list) != NULL)
            return true;
    return false;
}

static ld_class phrase_class(const char *s)
{
    char buf[PHRASE_SCAN + 1];
    lower_copy(buf, s);
    if (buf[0] == '\0')
        return LD_FC_NONE;
    for (size_t i = 0; i < sizeof phrase_rules / sizeof phrase_rules[0]; i++)
        if (has_phrase(buf, phrase_rules[i].phrases))
            return phrase_rules[i].cls;
    return LD_FC_NONE;
}

/* A code as an integer: "429", "429.0", "-100" (surrounding spaces
 * allowed). */
static bool code_number(const char *code, long *out)
{
    char buf[64];
    while (*code == ' ' || *code == '\t')
        code++;
    size_t n = strlen(code);
    while (n > 0 && (code[n - 1] == ' ' || code[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, code, n);
    buf[n] = '\0';
    double d;
    if (sim_csv_parse_double(buf, &d) != 0 || d != floor(d) || fabs(d) > 1e9)
        return false;
    *out = (long)d;
    return true;
}

ld_class sim_fit_classify(const char *code, const char *msg)
{
    if (code == NULL || code[0] == '\0')
        return LD_FC_NONE;
    if (msg == NULL)
        msg = "";
    char lower[PHRASE_SCAN + 1];
    lower_copy(lower, msg);
    /* LLMPerf's leaderboard marks answers shorter than asked with -100
     * "Output too few tokens N": the stream ended before the answer did. */
    static const char *const short_phrases[] = {"too few tokens", NULL};
    long num = 0;
    bool numeric = code_number(code, &num);
    if (has_phrase(lower, short_phrases) || (numeric && num == -100))
        return LD_FC_STREAM_CUT;

    /* the message, read as a provider error body when it is one */
    char type[128], ecode[128], emsg[1024];
    ld_raw_result r;
    ld_raw_result_init(&r);
    if (msg[0] != '\0' &&
        ld_parse_error_body(msg, strlen(msg), type, sizeof type, ecode,
                            sizeof ecode, emsg, sizeof emsg) == LD_OK) {
        r.error_type = type;
        r.error_code = ecode;
        r.error_message = emsg;
    } else {
        r.error_message = msg;
    }

    if (numeric && num >= 100 && num <= 599) {
        r.http_status = (int)num;
        ld_class k = ld_classify(&r);
        return k == LD_FC_NONE ? LD_FC_SERVER_ERROR : k;
    }

    /* not an HTTP status (LLMPerf -1: the exception was not one) */
    if (!numeric && (r.error_code == NULL || r.error_code[0] == '\0'))
        r.error_code = code;
    r.http_status = 500;
    ld_class k = ld_classify(&r);
    if (k != LD_FC_SERVER_ERROR && k != LD_FC_NONE)
        return k;
    if ((k = phrase_class(msg)) != LD_FC_NONE)
        return k;
    if (!numeric && (k = phrase_class(code)) != LD_FC_NONE)
        return k;
    return LD_FC_SERVER_ERROR;
}
