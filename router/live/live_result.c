/* live_result.c - what an attempt observed -> ld_raw_result (live_result.h).
 */
#include "live_result.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

void live_seen_init(live_seen *s)
{
    memset(s, 0, sizeof *s);
    s->usage_tokens = -1;
    s->answer_rc = LD_OK;
}

static bool status_ok(int st) { return st >= 200 && st <= 299; }

static bool absent(const char *v) { return v == NULL || v[0] == '\0'; }

ld_us live_retry_after_parse(const char *v, int64_t now_unix)
{
    char *end;
    if (absent(v))
        return -1;
    errno = 0;
    double d = strtod(v, &end);
    if (end != v && errno == 0) {
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end == '\0')
            return d < 0 ? -1 : d > 1e9 ? ld_s(1000000000) /* in range */
                                        : (ld_us)(d * 1e6);
    }
    /* an HTTP-date (curl_getdate reads the text only: no clock) */
    time_t t = curl_getdate(v, NULL);
    if (t == -1)
        return -1;
    return (int64_t)t > now_unix ? (ld_us)((int64_t)t - now_unix) * LD_US_PER_S
                                 : 0;
}

ld_us live_retry_after_ms_parse(const char *v)
{
    char *end;
    if (absent(v))
        return -1;
    double d = strtod(v, &end);
    if (end == v || !(d >= 0))
        return -1;
    return d > 1e12 ? (ld_us)1e15 : (ld_us)(d * 1000.0); /* in range of
                                                             ld_us */
}

ld_us live_seen_retry_after(const live_seen *s)
{
    ld_us ms = live_retry_after_ms_parse(s->retry_after_ms);
    return ms >= 0 ? ms : live_retry_after_parse(s->retry_after, s->ra_unix);
}

/* The words of an error body or event into out; LD_OK when recognised. */
static int words(const live_seen *seen, live_result *out)
{
    int (*fn)(const char *, size_t, char *, size_t, char *, size_t, char *,
              size_t) = seen->error_words != NULL ? seen->error_words
                                                  : ld_parse_error_body;
    return fn(seen->body, seen->body_len, out->type,
                               sizeof out->type, out->code, sizeof out->code,
                               out->message, sizeof out->message);
}

static void set_words(live_result *out)
{
    out->raw.error_type = out->type;
    out->raw.error_code = out->code;
    out->raw.error_message = out->message;
}

/* The tokens of an answer that ended: its usage when known. */
static int answer_tokens(const live_seen *seen, int otherwise)
{
    return seen->usage_tokens >= 0 ? (int)seen->usage_tokens : otherwise;
}

static bool connect_failure(int rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_OPERATION_TIMEDOUT: /* only the connect timeout is set */
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return true;
    default:
        return false;
    }
}

void live_result_make(const live_seen *seen, live_result *out)
{
    ld_raw_result *res = &out->raw;
    const char *fr = absent(seen->finish_reason) ? NULL : seen->finish_reason;
    ld_raw_result_init(res);
    out->type[0] = out->code[0] = out->message[0] = '\0';
    res->http_status = seen->got_headers ? seen->status : 0;
    res->retry_after = live_seen_retry_after(seen);
    res->completion_tokens = seen->tokens;

    switch (seen->end) {
    case LIVE_END_MALFORMED:
        res->http_status = seen->status;
        res->transport = LD_TR_MALFORMED;
        return;
    case LIVE_END_ERROR_EVENT:
        /* ld_classify reads its words (server_error when none) */
        res->http_status = seen->status;
        res->transport = LD_TR_STREAM_ERROR;
        (void)words(seen, out);
        set_words(out);
        return;
    case LIVE_END_DONE:
        res->http_status = seen->status;
        res->completion_tokens = answer_tokens(seen, seen->tokens);
        res->finish_reason = fr;
        return;
    case LIVE_END_TRANSFER:
        break;
    }
    if (!seen->got_headers) {
        res->transport = connect_failure(seen->curl_rc) ? LD_TR_CONNECT_FAILED
                                                        : LD_TR_RESET;
    } else if (!status_ok(seen->status)) {
        if (words(seen, out) == LD_OK)
            set_words(out);
    } else if (seen->stream) {
        if (seen->finished) {
            /* the model finished; only the terminator is missing */
            res->transport = LD_TR_NO_DONE;
            res->completion_tokens = answer_tokens(seen, seen->tokens);
            res->finish_reason = fr;
        } else {
            res->transport = LD_TR_CUT;
        }
    } else if (seen->curl_rc != CURLE_OK) {
        res->transport = LD_TR_CUT; /* the body stopped short */
    } else if (seen->answer_rc != LD_OK) {
        res->transport = LD_TR_MALFORMED;
    } else {
        res->completion_tokens = answer_tokens(seen, 0);
        res->finish_reason = fr;
    }
}
