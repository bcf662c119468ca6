/* live_metrics.h - the live router's counters, rendered in the Prometheus
 * text format on the admin listener's GET /metrics.
 *
 * Pure bookkeeping: no clock, no I/O. The server feeds it the core's events
 * (attempts, skips, retries, fallbacks, hedges, cancels, breaker moves), one
 * record per finished request, the requests it refused before the core saw
 * them, and the product's feedback. Every table is fixed-size: a policy has
 * at most LD_MAX_ROUTES routes and LD_MAX_WORKLOADS workloads; fallback
 * triples go to a bounded table whose overflow is counted, never lost
 * silently.
 */
#ifndef LIVE_METRICS_H
#define LIVE_METRICS_H

#include <stdbool.h>

#include "ld.h"
#include "ld_core.h"
#include "ld_event.h"
#include "ld_health.h"
#include "ld_policy.h"
#include "live_adapter.h"
#include "live_keys.h"

typedef struct live_metrics live_metrics;

/* Requests refused before they reached the core. */
typedef enum live_reject {
    LIVE_REJ_BAD_REQUEST,  /* malformed JSON, unknown workload or tier */
    LIVE_REJ_TOO_LARGE,    /* body over --max-body */
    LIVE_REJ_OVERLOADED,   /* --max-concurrent reached */
    LIVE_REJ_DRAINING,     /* arrived while shutting down */
    LIVE_REJ_NOT_FOUND,    /* unknown path */
    LIVE_REJ_METHOD,       /* wrong method for a known path */
    LIVE_REJ_INTERNAL,     /* out of memory */
    LIVE_REJ_UNAUTHORIZED, /* keys configured: no key or an unknown one */
    LIVE_REJ_FORBIDDEN,    /* the key may not use that tier or workload */
    LIVE_REJ_KEY_LIMIT,    /* over the key's rpm, tpm or USD budget */
    LIVE_REJ_LEFT_QUEUE,   /* the client left while it waited (--queue-ms) */
    LIVE_REJ_HEADERS_TOO_LARGE, /* request line and headers over the cap */
    LIVE_REJ_MALFORMED_HTTP,    /* refused by the HTTP parser (a bare CR, a
                                   bad Content-Length, chunked with
                                   Content-Length, an unknown method...) */
    LIVE_REJ_COUNT
} live_reject;

/* The product's view of an answer (POST /v1/feedback). */
typedef enum live_feedback {
    LIVE_FB_ACCEPTED,
    LIVE_FB_RETRIED,
    LIVE_FB_ABANDONED,
    LIVE_FB_COUNT
} live_feedback;

/* The histogram buckets (upper bounds, ms); +Inf follows. */
#define LIVE_METRICS_NBUCKETS 10
extern const double live_metrics_buckets_ms[LIVE_METRICS_NBUCKETS];

/* p must outlive the metrics. NULL when out of memory. */
live_metrics *live_metrics_new(const ld_policy *p);
void live_metrics_free(live_metrics *m);

/* A policy reload: m (new, for the new policy, nothing counted yet) takes
 * old's counters, so that they go on rather than restart. Counters of a
 * route or workload go to the one of the same name in m's policy (a
 * removed one's are dropped, as Prometheus series that end); a key's go
 * to the key of the same id in keys (NULL: none), which m is bound to
 * from now on (it must outlive m). LD_ENOMEM (m unchanged but for what was
 * copied). */
int live_metrics_adopt(live_metrics *m, const live_metrics *old,
                       const live_keys *keys);

/* One core event (any type; unknown routes are ignored). */
void live_metrics_on_event(live_metrics *m, const ld_event *ev);
/* A request the core finished; stream: the client asked for a stream. */
void live_metrics_on_done(live_metrics *m, const ld_req_info *info,
                          bool stream);
void live_metrics_on_reject(live_metrics *m, live_reject why);
/* A request waits for a slot (--queue-ms). */
void live_metrics_on_queued(live_metrics *m);
/* A request of route `route` put on the wire (refused: curl's own re-send
 * of it, which was stopped before it was sent). Unknown routes ignored. */
void live_metrics_on_wire(live_metrics *m, int route, bool refused);
/* A stream was cut: its client did not read, the output budget was over. */
void live_metrics_on_slow_cut(live_metrics *m);
/* n pass_through fields were left out of a route's body. */
void live_metrics_on_field_dropped(live_metrics *m, uint64_t n);
/* Another router's news of the table of failed walks (--redis): a failed
 * walk (forget false) or a success that forgot some (forget true). */
void live_metrics_on_repeat_news(live_metrics *m, bool forget);

/* What became of a request made with a client key. */
typedef enum live_key_outcome {
    LIVE_KEY_SUCCESS,
    LIVE_KEY_FAILED,
    LIVE_KEY_ABANDONED,
    LIVE_KEY_LIMITED,   /* over one of its limits (429) */
    LIVE_KEY_FORBIDDEN, /* a tier or workload it may not use (403) */
    LIVE_KEY_OUTCOMES
} live_key_outcome;

/* Count a request of key `key` of k (the first call binds the metrics to k,
 * which must outlive them; its counters are allocated then, and dropped if
 * that fails): ladder_key_requests_total{key,outcome} and usd into
 * ladder_key_spend_usd_total{key}. Key ids, never secrets. */
void live_metrics_on_key(live_metrics *m, const live_keys *k, int key,
                         live_key_outcome outcome, double usd);
void live_metrics_on_feedback(live_metrics *m, live_feedback fb,
                              bool fell_back);

/* Name of a feedback outcome, and its value for a name (LD_ENOENT). */
const char *live_feedback_name(live_feedback fb);
int live_feedback_parse(const char *name, live_feedback *out);

/* Requests finished, by outcome (for tests and the drain log). */
uint64_t live_metrics_requests(const live_metrics *m, ld_outcome o);

/* Append the whole exposition to out. breakers holds one state per route
 * (ld_policy_route_count entries); in_flight and connections are gauges the
 * server knows. LD_ENOMEM / LD_ELIMIT from the buffer. */
int live_metrics_render(const live_metrics *m, const ld_breaker_state *breakers,
                        int in_flight, live_buf *out);

#endif
