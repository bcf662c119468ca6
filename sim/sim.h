/* sim.h - the discrete-event simulator: runs the routing core against a
 * scenario's traffic, provider models and faults on a virtual clock.
 *
 * The simulator makes no routing decision of its own: it plays the part of
 * the users (arrivals, patience) and of the providers (queues, latencies,
 * errors, faults), and hosts the core exactly as the live router does. It
 * draws its random numbers from separate streams: arrivals, request sizes
 * and patience come from the traffic streams in arrival order, and every
 * attempt's provider draws come from a stream keyed by (request, route,
 * try on that route), so two policies run on the same seed see the same
 * traffic and the same provider behaviour (common random numbers).
 */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ld.h"
#include "ld_policy.h"
#include "sim_metrics.h"
#include "sim_scenario.h"

typedef struct sim_options {
    const sim_scenario *sc;  /* bound to p */
    const ld_policy *p;
    uint64_t seed;           /* normally sc->seed */
    FILE *events;            /* JSON lines of core events; NULL: none */
    double events_sample;    /* share of requests whose events are written
                                (by request id); breaker events always */
    bool progress;           /* progress bar on stderr */
    FILE *trace;             /* one JSON line per finished request
                                (docs/trace-format.md; sim_replay.h
                                writes it); NULL: none. Lines come in
                                the order requests finish. */
} sim_options;

typedef struct sim_stats {
    int64_t requests;        /* arrivals */
    int64_t events;          /* simulator events processed */
    int64_t trace_skipped;   /* bad trace rows skipped */
    ld_us end;               /* simulated time when the last request ended */
    int64_t max_in_flight;
    int64_t trace_attempts_dropped; /* --trace: attempts past the first
                                       LD_TRACE_MAX_ATT of a request,
                                       left out of its line */
    /* `ladder replay` (routes with recorded behaviour): where each
     * attempt's outcome came from */
    int64_t replay_same;       /* the same request's try on the route */
    int64_t replay_near;       /* an attempt recorded nearby in time */
    int64_t replay_model;      /* the scenario's provider model */
    int64_t replay_unmodelled; /* nothing: failed as connect_error */
} sim_stats;

/* Run the scenario. On success *out holds the metrics (caller frees with
 * sim_metrics_free) and stats (if not NULL) is filled. Errors (a bad trace
 * row, out of memory) fill err. */
int sim_run(const sim_options *o, sim_metrics **out, sim_stats *stats,
            ld_error *err);

#endif
