/* ld_trace.h - request traces (docs/trace-format.md): one record per
 * finished request, with its attempts, built the same way by every host.
 *
 * The core's events reduce into a request's record (ld_trace_on_event);
 * the host adds what only it saw of an attempt's answer (its status, the
 * tokens that came, a Retry-After), and formats the finished request as one
 * JSON line (ld_trace_format). `ladder sim --trace` and `ladder serve
 * --trace` write these lines, and `ladder replay` reads them
 * (sim_replay.h): a live trace and a sim trace of the same decisions are
 * the same lines. No I/O here: the host writes the text.
 */
#ifndef LD_TRACE_H
#define LD_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "ld.h"
#include "ld_class.h"
#include "ld_event.h"
#include "ld_policy.h"

/* Attempts a record keeps per request (and the reader reads); later ones
 * are counted in `dropped` (written as "attempts_dropped"). */
#define LD_TRACE_MAX_ATT 32

/* One attempt as the trace format records it. */
typedef struct ld_trace_att {
    int route;          /* policy route index; -1: a route the policy lacks */
    ld_us start;        /* after the request's arrival */
    ld_class cls;       /* LD_FC_NONE: a success, or stopped without a
                           result of its own (hedge lost, user gone) */
    int status;         /* upstream HTTP status; 0 when none arrived */
    ld_us ttft;         /* first token after the attempt's start; -1 none */
    ld_us duration;     /* until it ended, failed or was cancelled; -1
                           while unknown (written as 0) */
    int64_t output_tokens; /* tokens received */
    ld_us retry_after;  /* Retry-After the provider sent; -1 none */
    bool hedge;         /* started as a hedge */
    bool cancelled;     /* the router stopped it */
} ld_trace_att;

/* A request's attempts while it runs; caller-allocated. */
typedef struct ld_trace {
    ld_us arrival;
    ld_trace_att att[LD_TRACE_MAX_ATT];
    int natt;    /* attempts 1..natt are recorded (numbers past the cap
                    are counted in dropped) */
    int dropped;
} ld_trace;

/* Start a request's record. */
void ld_trace_init(ld_trace *t, ld_us arrival);

/* The reducer: ATTEMPT starts an attempt's record; RESULT gives its class,
 * status, TTFT and duration (and, for a success, its tokens); CANCEL marks
 * it stopped (a cancel by the request's deadline is a timeout_total;
 * others without a result of their own keep the class "none"). Events of
 * other kinds, or about attempts past the cap, change nothing (an ATTEMPT
 * past the cap is counted in dropped). */
void ld_trace_on_event(ld_trace *t, const ld_event *ev);

/* What the host saw of attempt `no` when it ended or was stopped, which
 * the events do not carry: the upstream status (0: none), the tokens that
 * came, the provider's Retry-After (-1: none), and, for a stopped attempt,
 * when its first token came after its start (-1: none, or unknown). */
void ld_trace_on_answer(ld_trace *t, uint32_t no, int status, int64_t tokens,
                        ld_us retry_after, ld_us ttft);

/* A finished request: a trace line. */
typedef struct ld_trace_line {
    double t_ms;               /* arrival (the host's clock: ms) */
    const char *id;
    int workload, tier;        /* policy indices (-1: written as null) */
    int64_t input_tokens, output_tokens;
    bool stream;
    ld_outcome outcome;
    int route;                 /* route that served it, -1 none */
    int status;                /* HTTP status the client got (499: it left) */
    ld_class cls;              /* first failure on the way, LD_FC_NONE */
    ld_us ttft, latency;       /* after arrival; -1 none */
    double cost;               /* USD */
    bool fell_back;
    const ld_trace_att *att;   /* in start order */
    int natt;
    int dropped;               /* attempts left out of att; > 0 adds the
                                  key "attempts_dropped" */
    const char *key;           /* the client key's id; NULL: no "key" */
    bool repeat;               /* answered as a repeat of a request that
                                  had just failed: adds
                                  "repeat_of_failed": true */
} ld_trace_line;

/* The line as JSON text without a newline (free it with cJSON_free), or
 * NULL when out of memory. */
char *ld_trace_format(const ld_policy *p, const ld_trace_line *l);

#endif
