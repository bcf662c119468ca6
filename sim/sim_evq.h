/* sim_evq.h - the simulator's event queue: events ordered by (time,
 * sequence number), kept on a timer wheel of 1 ms slots covering 67 s
 * ahead of the last pop, with a 4-ary heap for the rest (sim_evq.c).
 *
 * Push assigns each event the next sequence number, so events with equal
 * times pop in the order they were pushed and a run is deterministic. On
 * the wheel a push is O(1) plus a walk of its slot's short list, and a pop
 * O(1) (a bitmap finds the next slot); events beyond the wheel, or before
 * the last pop (allowed, though a simulation's clock never goes back), are
 * O(log n) in the heap. They allocate nothing except when the queue grows
 * (doubling, up to an optional cap); a pop never allocates.
 *
 * Cancelling without deleting: the queue has no delete. To make an event
 * cancellable, keep a generation counter in the object it concerns, push the
 * event with b = the object's current generation, and bump the generation to
 * cancel (or to reschedule: bump, then push anew). When the event pops, drop
 * it if e.b != the object's generation. Stale events still occupy the queue
 * (and count against its cap) until they reach the top.
 */
#ifndef SIM_EVQ_H
#define SIM_EVQ_H

#include <stddef.h>
#include <stdint.h>

#include "ld.h"

typedef struct sim_event {
    ld_us t;       /* when it fires */
    uint64_t seq;  /* push order, assigned by sim_evq_push */
    uint32_t kind; /* the host's event type */
    uint32_t a;    /* host data, e.g. a route index */
    uint64_t b;    /* host data, e.g. a generation for cancellation */
    void *p;       /* host data, not owned by the queue */
} sim_event;

typedef struct sim_evq sim_evq;

/* A new empty queue with room for initial_cap events (0 picks a default);
 * NULL if out of memory. No cap on the number of events. */
sim_evq *sim_evq_new(size_t initial_cap);

/* Free the queue; events still in it are dropped (their p is not touched).
 * NULL is fine. */
void sim_evq_free(sim_evq *q);

/* Limit the queue to max_events events (0: no limit). Events already queued
 * stay even if they exceed the new limit. */
void sim_evq_set_cap(sim_evq *q, size_t max_events);

/* Queue an event. 0 on success; LD_ELIMIT if the queue holds its cap of
 * events; LD_ENOMEM if growing failed. On failure the queue is unchanged. */
int sim_evq_push(sim_evq *q, ld_us t, uint32_t kind, uint32_t a, uint64_t b,
                 void *p);

/* Remove the earliest event (lowest t, then lowest seq) into *out:
 * 1 if one was popped, 0 if the queue is empty (*out untouched). */
int sim_evq_pop(sim_evq *q, sim_event *out);

/* Copy the earliest event without removing it: 1, or 0 if empty. */
int sim_evq_peek(const sim_evq *q, sim_event *out);

/* Time of the earliest event, LD_NEVER if the queue is empty. */
ld_us sim_evq_peek_time(const sim_evq *q);

/* Number of queued events. */
size_t sim_evq_size(const sim_evq *q);

#endif
