/* ld_event.h - the decision and event log.
 *
 * The core reports everything it decides and learns as ld_event records to a
 * sink the host provides. Both hosts write them as JSON lines in the same
 * format (ld_event_to_json), so a simulated run and a live run can be
 * compared record by record.
 */
#ifndef LD_EVENT_H
#define LD_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ld.h"
#include "ld_class.h"
#include "ld_health.h"
#include "ld_policy.h"

typedef enum ld_event_type {
    LD_EV_REQUEST,  /* a request arrived: workload, tier, token estimates */
    LD_EV_ATTEMPT,  /* an attempt started on `route` (hedge: a hedge) */
    LD_EV_SKIP,     /* `route` did not qualify, for class `cls` */
    LD_EV_RESULT,   /* an attempt on `route` ended: cls NONE is success */
    LD_EV_RETRY,    /* the same `route` again after `delay` for `cls` */
    LD_EV_FALLBACK, /* from `route` for `cls` to `to_route` */
    LD_EV_HEDGE,    /* a hedge to `to_route` alongside `route` */
    LD_EV_CANCEL,   /* the host must stop attempt `attempt` (reason) */
    LD_EV_BREAKER,  /* `route`'s breaker moved from..to */
    LD_EV_BLOCK,    /* `route` is blocked for `delay` (cls: rate_limited
                       or quota_exhausted): a Retry-After, a quota */
    LD_EV_DONE,     /* the request's terminal outcome */
    LD_EV_COUNT
} ld_event_type;

typedef enum ld_outcome {
    LD_OUT_PENDING,
    LD_OUT_SUCCESS,   /* a complete answer was delivered */
    LD_OUT_FAILED,    /* the safe failure response, or an error mid-stream */
    LD_OUT_ABANDONED  /* the user gave up first */
} ld_outcome;

typedef enum ld_cancel_reason {
    LD_CANCEL_HEDGE_LOST,  /* another attempt answered first */
    LD_CANCEL_TIMEOUT,     /* the core's deadline for it passed */
    LD_CANCEL_ABANDONED,   /* the user left */
    LD_CANCEL_DEADLINE,    /* the request's deadline passed */
    LD_CANCEL_SHUTDOWN     /* the host stopped (ld_req_shutdown) */
} ld_cancel_reason;

typedef struct ld_event {
    ld_event_type type;
    ld_us t;            /* when */
    uint64_t req;       /* request id */
    int workload, tier; /* on REQUEST and DONE */
    uint32_t attempt;   /* 1-based attempt number, 0 when none */
    int route;          /* -1 when none */
    int to_route;       /* FALLBACK, HEDGE */
    ld_class cls;       /* SKIP, RESULT, RETRY, FALLBACK; DONE: the first
                           failure on the way (success) or the class that
                           ended the request (failed) */
    int status;         /* RESULT: HTTP status; DONE: status returned */
    ld_us elapsed;      /* since the request arrived */
    ld_us ttft;         /* RESULT, DONE: first token after arrival; -1 none */
    ld_us delay;        /* RETRY: wait before the next attempt; BLOCK: how
                           long the route is blocked from t */
    bool hedge;         /* ATTEMPT, RESULT: the attempt is a hedge */
    bool resume;        /* ATTEMPT, FALLBACK: it continues a stream the
                           user already reads (after a mid-stream failure) */
    bool shared;        /* BLOCK, BREAKER: learnt from another host
                           (ld_core_block_route, ld_core_trip_breaker) */
    ld_breaker_state from, to; /* BREAKER */
    ld_cancel_reason reason;   /* CANCEL */
    ld_outcome outcome;        /* DONE */
    int attempts;              /* DONE: attempts started */
    bool repeat;               /* DONE: a repeat of a request that had just
                                  failed, answered without an attempt
                                  (written as "repeat_of_failed") */
    /* DONE, news for hosts that share the table of failed walks
     * (ld_core_repeat_learn; not written in the log): the fingerprint
     * this failure is remembered by until repeat_until (0: not
     * remembered), and the entries of the workload a success forgot
     * (ld_repeat_clear_workload; 0 none). */
    uint64_t repeat_fp;
    ld_us repeat_until;
    /* with repeat_fp: the walk met a failure local to this host
     * (ld_class_is_local: its network, credentials or breaker), so other
     * hosts are not told of it */
    bool repeat_local;
    int repeat_cleared;
    double cost;               /* RESULT, DONE: USD billed */
    int64_t input_tokens, output_tokens; /* REQUEST: estimates; RESULT: used */
} ld_event;

typedef void (*ld_event_fn)(void *ud, const ld_event *ev);

const char *ld_event_type_name(ld_event_type t);
const char *ld_outcome_name(ld_outcome o);
const char *ld_cancel_reason_name(ld_cancel_reason r);

/* Write ev as one line of JSON (no newline) into buf. Times are written in
 * milliseconds with microsecond precision. Returns the length written, or
 * LD_ELIMIT if buf is too small, LD_ENOMEM. */
int ld_event_to_json(const ld_event *ev, const ld_policy *p, char *buf,
                     size_t cap);

#endif
