/* ld_class.h - the failure taxonomy and the classification of raw attempt
 * results (transport events, HTTP statuses, provider error bodies) into it.
 *
 * Every attempt outcome falls into exactly one class. LD_FC_NONE means the
 * attempt succeeded.
 */
#ifndef LD_CLASS_H
#define LD_CLASS_H

#include <stdbool.h>

#include "ld.h"

typedef enum ld_class {
    LD_FC_NONE = -1,
    /* technical: learned from an attempt */
    LD_FC_CONNECT_ERROR = 0,
    LD_FC_RESET,
    LD_FC_TIMEOUT_TTFT,
    LD_FC_TIMEOUT_TOTAL,
    LD_FC_STREAM_STALL,
    LD_FC_STREAM_CUT,
    LD_FC_INVALID_RESPONSE,
    LD_FC_RATE_LIMITED,
    LD_FC_QUOTA_EXHAUSTED,
    LD_FC_OVERLOADED,
    LD_FC_SERVER_ERROR,
    LD_FC_AUTH_ERROR,
    LD_FC_BAD_REQUEST,
    LD_FC_CIRCUIT_OPEN,
    /* business: known before an attempt */
    LD_FC_BUDGET_EXCEEDED,
    LD_FC_LATENCY_CEILING,
    LD_FC_QUALITY_FLOOR,
    /* policy: known before an attempt, or answered by the provider */
    LD_FC_CONTENT_BLOCKED,
    LD_FC_REGION_RESTRICTED,
    LD_FC_CONTEXT_LENGTH,
    LD_FC_CAPABILITY_MISSING,
    /* business again (last, so the classes before keep their numbers): a
     * client key's limit (rpm, tpm, usd per day or month) refused it */
    LD_FC_KEY_LIMIT,
    /* the host stopped before the request could end (a drain's limit):
     * no route's fault, no rule applies */
    LD_FC_SHUTDOWN,
    LD_FC_COUNT
} ld_class;

typedef enum ld_family {
    LD_FAMILY_TECHNICAL,
    LD_FAMILY_BUSINESS,
    LD_FAMILY_POLICY
} ld_family;

/* Name of a class as written in policies and events ("rate_limited"), or
 * "none" for LD_FC_NONE and "?" for anything out of range. */
const char *ld_class_name(ld_class c);

/* Class for a name; LD_ENOENT if the name is not a class. */
int ld_class_parse(const char *name, ld_class *out);

ld_family ld_class_family(ld_class c);
const char *ld_family_name(ld_family f);

/* Whether a failure of this class says something about the route's health
 * (and so counts against its circuit breaker). Client-caused and pre-attempt
 * classes do not. */
bool ld_class_counts_for_breaker(ld_class c);

/* Whether a failure of this class may come from the host that saw it
 * rather than from the request or the provider as a whole: what the
 * network between that host and the provider did (connect_error, reset,
 * timeout_ttft, timeout_total, stream_stall, stream_cut), its own
 * credentials (auth_error) and its own breaker (circuit_open; breakers
 * that open are shared as such). A walk that met one is not taught to
 * other hosts (ld_core.h, ld_core_repeat_learn). The others (an answer
 * the provider gave: rate_limited, quota_exhausted, overloaded,
 * server_error, invalid_response, bad_request and the policy's verdicts
 * on the request) hold for every host with the same policy. */
bool ld_class_is_local(ld_class c);

/* Whether a policy's rules ("on") can apply to the class: false for
 * key_limit, which ends a request before its ladder starts, for shutdown,
 * which the host imposes, and for anything out of range. */
bool ld_class_has_rules(ld_class c);

/* What the transport saw, before any HTTP status is considered. */
typedef enum ld_transport {
    LD_TR_OK = 0,          /* a complete response arrived */
    LD_TR_CONNECT_FAILED,  /* refused, unreachable, DNS or TLS handshake */
    LD_TR_RESET,           /* connection reset or closed before headers */
    LD_TR_CUT,             /* stream closed after some tokens, before the end */
    LD_TR_MALFORMED,       /* unparseable body or stream chunk */
    LD_TR_NO_DONE,         /* stream ended without its terminator */
    LD_TR_STREAM_ERROR,    /* an error event inside a 2xx stream: its
                              words (error_type, error_code, message)
                              decide the class; server_error when they
                              name none */
    LD_TR_NOT_EXPRESSIBLE  /* nothing was sent: the host cannot express
                              this request in the route's API (or cannot
                              continue this answer there):
                              capability_missing */
} ld_transport;
/* Timeouts and stalls are not transport values: the core's own timers
 * decide them (ld_core.h), in every host alike. */

/* The raw result of one attempt, as a host observed it. Strings may be NULL;
 * they are only read during the call. */
typedef struct ld_raw_result {
    ld_transport transport;
    int http_status;            /* 0 when no status line arrived */
    const char *error_type;     /* "rate_limit_error", "invalid_request_error" */
    const char *error_code;     /* "context_length_exceeded", ... */
    const char *error_message;  /* provider's text, matched for known phrases */
    const char *finish_reason;  /* "content_filter" marks a blocked answer */
    ld_us retry_after;          /* from Retry-After / retry-after-ms; -1 none */
    int completion_tokens;      /* tokens received (streams: so far) */
} ld_raw_result;

/* Initialise r to "success, nothing known": transport OK, status 0, no
 * strings, retry_after -1. */
void ld_raw_result_init(ld_raw_result *r);

/* Class of a raw result; LD_FC_NONE when it is a success. Never fails: an
 * unknown combination falls into the nearest class (an unknown 4xx is
 * bad_request, an unknown 5xx server_error, a 2xx with a transport fault the
 * fault's class). */
ld_class ld_classify(const ld_raw_result *r);

/* Read a provider error body (OpenAI: {"error":{"message","type","code"}},
 * Anthropic: {"type":"error","error":{"type","message"}}, Google:
 * {"error":{"code","message","status"}} with status as the type, AWS:
 * {"__type":"ns#Name:url","message"|"Message"} with Name as the type)
 * into the given buffers, each NUL-terminated and truncated to its size.
 * Returns LD_OK when the body is a recognised error object, LD_EINVAL
 * otherwise (buffers are then empty strings). */
int ld_parse_error_body(const char *body, size_t len, char *type,
                        size_t type_cap, char *code, size_t code_cap,
                        char *message, size_t message_cap);

#endif
