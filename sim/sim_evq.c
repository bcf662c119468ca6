/* sim_evq.c - 4-ary min-heap on (t, seq); see sim_evq.h.
 *
 * Four children per node: half the levels of a binary heap, and the
 * children of a node are adjacent (40-byte events: two cache lines), so
 * a pop with thousands of events in flight touches about half the lines.
 * (t, seq) is a total order, so the heap's shape cannot change which
 * event pops next: the order is the binary heap's exactly. */
#include "sim_evq.h"

#include <stdlib.h>

#define DEFAULT_CAP 64

struct sim_evq {
    sim_event *heap; /* heap[0] is the earliest */
    size_t n, cap;
    size_t max;      /* 0: no limit */
    uint64_t next_seq;
};

static inline int before(const sim_event *x, const sim_event *y)
{
    return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

sim_evq *sim_evq_new(size_t initial_cap)
{
    sim_evq *q = calloc(1, sizeof *q);
    if (q == NULL)
        goto fail;
    q->cap = initial_cap != 0 ? initial_cap : DEFAULT_CAP;
    if (q->cap > SIZE_MAX / sizeof *q->heap)
        goto fail;
    q->heap = malloc(q->cap * sizeof *q->heap);
    if (q->heap == NULL)
        goto fail;
    return q;
fail:
    free(q);
    return NULL;
}

void sim_evq_free(sim_evq *q)
{
    if (q == NULL)
        return;
    free(q->heap);
    free(q);
}

void sim_evq_set_cap(sim_evq *q, size_t max_events)
{
    q->max = max_events;
}

static int grow(sim_evq *q)
{
    size_t ncap = q->cap * 2;
    if (ncap < q->cap || ncap > SIZE_MAX / sizeof *q->heap)
        return LD_ENOMEM;
    if (q->max != 0 && ncap > q->max)
        ncap = q->max; /* > cap: push checked n < max and n == cap */
    sim_event *h = realloc(q->heap, ncap * sizeof *h);
    if (h == NULL)
        return LD_ENOMEM;
    q->heap = h;
    q->cap = ncap;
    return 0;
}

int sim_evq_push(sim_evq *q, ld_us t, uint32_t kind, uint32_t a, uint64_t b,
                 void *p)
{
    if (q->max != 0 && q->n >= q->max)
        return LD_ELIMIT;
    if (q->n == q->cap) {
        int rc = grow(q);
        if (rc < 0)
            return rc;
    }
    sim_event e = {t, q->next_seq++, kind, a, b, p};
    sim_event *h = q->heap;
    size_t i = q->n++;
    while (i > 0) { /* move the hole up */
        size_t parent = (i - 1) / 4;
        if (!before(&e, &h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = e;
    return 0;
}

int sim_evq_pop(sim_evq *q, sim_event *out)
{
    if (q->n == 0)
        return 0;
    sim_event *h = q->heap;
    *out = h[0];
    size_t n = --q->n;
    if (n == 0)
        return 1;
    sim_event last = h[n];
    /* bottom-up: move the hole at the root down to a leaf along the
     * earliest children (three comparisons a level, none against last,
     * which came from the bottom and mostly belongs there), then move
     * last up from that leaf */
    size_t i = 0;
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= n)
            break;
        size_t m = c;
        if (c + 3 < n) {
            size_t m1 = before(&h[c + 1], &h[c]) ? c + 1 : c;
            size_t m2 = before(&h[c + 3], &h[c + 2]) ? c + 3 : c + 2;
            m = before(&h[m2], &h[m1]) ? m2 : m1;
        } else {
            for (size_t k = c + 1; k < n; k++)
                if (before(&h[k], &h[m]))
                    m = k;
        }
        h[i] = h[m];
        i = m;
    }
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (!before(&last, &h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = last;
    return 1;
}

int sim_evq_peek(const sim_evq *q, sim_event *out)
{
    if (q->n == 0)
        return 0;
    *out = q->heap[0];
    return 1;
}

ld_us sim_evq_peek_time(const sim_evq *q)
{
    return q->n == 0 ? LD_NEVER : q->heap[0].t;
}

size_t sim_evq_size(const sim_evq *q)
{
    return q->n;
}
