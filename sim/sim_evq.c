/* sim_evq.c - a timer wheel of 2^16 slots of 1.024 ms, with a 4-ary heap
 * for what lies beyond it; see sim_evq.h.
 *
 * A simulation's events mostly fall a few milliseconds to a minute ahead
 * of its clock, and the clock never goes back. The wheel covers the
 * 67 s from the slot of the event popped last (`cur`): an event in that
 * window goes to the list of its slot, kept sorted by (t, seq); a later
 * one (or one before cur's slot, which the simulator never pushes but the
 * interface allows) goes to the heap. A pop takes whichever of the wheel's
 * next event and the heap's top comes first by (t, seq): both are exact,
 * so nothing ever moves between them.
 *
 * Finding the wheel's next event: a bitmap of the slots that hold events,
 * and a summary bit per bitmap word, so a pop looks at a few words however
 * sparse the wheel is. A slot holds the events of about a millisecond:
 * pushing appends at its tail when the event is not earlier than the tail
 * (the usual case: an event "now" or later in the slot), else walks the
 * short list from the node pushed to the slot last when that one is not
 * later (bursts of one time). Equal times: a push has the highest sequence
 * number so far,
 * so it goes after the events of its time, in the wheel and in the heap;
 * events of equal time pop in push order.
 *
 * Wheel events live in one pool of nodes linked by index (freed nodes are
 * reused first); a pop never allocates. */
#include "sim_evq.h"

#include <stdlib.h>

#define DEFAULT_CAP 64
#define NIL UINT32_MAX
#define SHIFT 10                 /* a slot: 2^10 us */
#define NSLOTS (1u << 16)        /* the wheel: 2^26 us, 67 s */
#define NWORDS (NSLOTS / 64)     /* bitmap words */
#define NSUMMARY (NWORDS / 64)   /* summary words */

typedef struct node {
    sim_event e;
    uint32_t next;
} node;

struct sim_evq {
    node *pool;
    uint32_t pool_used, pool_cap; /* nodes ever handed out, allocated */
    uint32_t free_head;           /* freed nodes, NIL: none */
    size_t nwheel;                /* events on the wheel */
    int64_t cur;                  /* slot number (t >> SHIFT) of the
                                     event popped last */
    uint32_t *head, *tail;        /* per slot; valid when its bit is set */
    uint32_t *hint;               /* per slot: the node pushed to it last,
                                     NIL once popped */
    uint64_t *bits;               /* bit per slot: it holds events */
    uint64_t summary[NSUMMARY];   /* bit per bitmap word: not zero */
    sim_event *heap;              /* 4-ary heap: beyond the wheel */
    size_t nheap, heap_cap;
    size_t n;                     /* events queued in all */
    size_t max;                   /* 0: no limit */
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
        return NULL;
    size_t cap = initial_cap != 0 ? initial_cap : DEFAULT_CAP;
    if (cap > NIL - 1)
        cap = NIL - 1;
    q->pool_cap = (uint32_t)cap;
    q->pool = malloc(cap * sizeof *q->pool);
    q->head = malloc(NSLOTS * sizeof *q->head);
    q->tail = malloc(NSLOTS * sizeof *q->tail);
    q->hint = malloc(NSLOTS * sizeof *q->hint);
    q->bits = calloc(NWORDS, sizeof *q->bits);
    if (q->pool == NULL || q->head == NULL || q->tail == NULL ||
        q->hint == NULL || q->bits == NULL) {
        sim_evq_free(q);
        return NULL;
    }
    q->free_head = NIL;
    return q;
}

void sim_evq_free(sim_evq *q)
{
    if (q == NULL)
        return;
    free(q->pool);
    free(q->head);
    free(q->tail);
    free(q->hint);
    free(q->bits);
    free(q->heap);
    free(q);
}

void sim_evq_set_cap(sim_evq *q, size_t max_events)
{
    q->max = max_events;
}

/* ---- the heap beyond the wheel ---------------------------------------------- */

static int heap_push(sim_evq *q, const sim_event *e)
{
    if (q->nheap == q->heap_cap) {
        size_t ncap = q->heap_cap ? q->heap_cap * 2 : 64;
        if (ncap > SIZE_MAX / sizeof *q->heap)
            return LD_ENOMEM;
        sim_event *h = realloc(q->heap, ncap * sizeof *h);
        if (h == NULL)
            return LD_ENOMEM;
        q->heap = h;
        q->heap_cap = ncap;
    }
    sim_event *h = q->heap;
    size_t i = q->nheap++;
    while (i > 0) { /* move the hole up */
        size_t parent = (i - 1) / 4;
        if (!before(e, &h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = *e;
    return 0;
}

static void heap_pop(sim_evq *q, sim_event *out)
{
    sim_event *h = q->heap;
    *out = h[0];
    size_t n = --q->nheap;
    if (n == 0)
        return;
    sim_event last = h[n];
    size_t i = 0;
    for (;;) { /* move the hole down along the earliest children */
        size_t c = 4 * i + 1;
        if (c >= n)
            break;
        size_t m = c;
        for (size_t k = c + 1; k < c + 4 && k < n; k++)
            if (before(&h[k], &h[m]))
                m = k;
        if (!before(&h[m], &last))
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = last;
}

/* ---- the wheel ---------------------------------------------------------------- */

/* A node for a new event: a freed one, else the next of the pool (grown
 * by doubling). NIL if out of memory. */
static uint32_t node_get(sim_evq *q)
{
    uint32_t id = q->free_head;
    if (id != NIL) {
        q->free_head = q->pool[id].next;
        return id;
    }
    if (q->pool_used == q->pool_cap) {
        if (q->pool_cap >= NIL - 1)
            return NIL;
        size_t ncap = (size_t)q->pool_cap * 2;
        if (ncap > NIL - 1)
            ncap = NIL - 1;
        node *p = realloc(q->pool, ncap * sizeof *p);
        if (p == NULL)
            return NIL;
        q->pool = p;
        q->pool_cap = (uint32_t)ncap;
    }
    return q->pool_used++;
}

/* Link node id into slot s, after the events not later than it. The
 * walk, when the event is not the slot's latest, starts at the node pushed
 * to the slot last if that one is still there and not later: a burst of
 * events of one time (requests woken by the same timer) then costs no walk
 * each. */
static void slot_insert(sim_evq *q, uint32_t s, uint32_t id)
{
    node *pool = q->pool;
    pool[id].next = NIL;
    uint64_t bit = 1ULL << (s & 63);
    uint32_t hint = q->hint[s];
    q->hint[s] = id;
    if (!(q->bits[s >> 6] & bit)) {
        q->bits[s >> 6] |= bit;
        q->summary[s >> 12] |= 1ULL << ((s >> 6) & 63);
        q->head[s] = q->tail[s] = id;
        return;
    }
    ld_us t = pool[id].e.t;
    if (pool[q->tail[s]].e.t <= t) {
        pool[q->tail[s]].next = id;
        q->tail[s] = id;
        return;
    }
    uint32_t at = q->head[s];
    if (t < pool[at].e.t) {
        pool[id].next = at;
        q->head[s] = id;
        return;
    }
    if (hint != NIL && pool[hint].e.t <= t)
        at = hint;
    while (pool[pool[at].next].e.t <= t) /* at.t <= t < tail.t: it ends */
        at = pool[at].next;
    pool[id].next = pool[at].next;
    pool[at].next = id;
}

/* The first slot from slot index s on (round the wheel) that holds an
 * event; the wheel is not empty. */
static uint32_t next_slot(const sim_evq *q, uint32_t s)
{
    uint32_t w = s >> 6;
    uint64_t x = q->bits[w] & (~0ULL << (s & 63));
    if (x != 0)
        return (w << 6) | (uint32_t)__builtin_ctzll(x);
    /* the summary: words after w, then round from the start */
    uint32_t sw = (w + 1) & (NWORDS - 1);
    for (uint32_t k = 0; k <= NSUMMARY; k++) {
        uint32_t i = ((sw >> 6) + k) & (NSUMMARY - 1);
        uint64_t y = q->summary[i];
        if (k == 0)
            y &= ~0ULL << (sw & 63);
        if (y != 0) {
            uint32_t ww = (i << 6) | (uint32_t)__builtin_ctzll(y);
            return (ww << 6) | (uint32_t)__builtin_ctzll(q->bits[ww]);
        }
    }
    return 0; /* not reached: the wheel has an event */
}

/* ---- push and pop ------------------------------------------------------------- */

int sim_evq_push(sim_evq *q, ld_us t, uint32_t kind, uint32_t a, uint64_t b,
                 void *p)
{
    if (q->max != 0 && q->n >= q->max)
        return LD_ELIMIT;
    int64_t slot = t >> SHIFT;
    if (slot >= q->cur && slot - q->cur < (int64_t)NSLOTS) {
        uint32_t id = node_get(q);
        if (id == NIL)
            return LD_ENOMEM;
        q->pool[id].e = (sim_event){t, q->next_seq, kind, a, b, p};
        slot_insert(q, (uint32_t)slot & (NSLOTS - 1), id);
        q->nwheel++;
    } else {
        sim_event e = {t, q->next_seq, kind, a, b, p};
        int rc = heap_push(q, &e);
        if (rc < 0)
            return rc;
    }
    q->next_seq++;
    q->n++;
    return 0;
}

/* The wheel's earliest event's slot index (the wheel is not empty). */
static inline uint32_t wheel_first(const sim_evq *q)
{
    return next_slot(q, (uint32_t)q->cur & (NSLOTS - 1));
}

int sim_evq_pop(sim_evq *q, sim_event *out)
{
    if (q->n == 0)
        return 0;
    q->n--;
    if (q->nwheel == 0) {
        heap_pop(q, out);
        goto done;
    }
    uint32_t s = wheel_first(q);
    uint32_t id = q->head[s];
    node *nd = &q->pool[id];
    if (q->nheap > 0 && before(&q->heap[0], &nd->e)) {
        heap_pop(q, out);
        goto done;
    }
    *out = nd->e;
    q->nwheel--;
    if (id == q->tail[s]) { /* the slot is empty now */
        q->bits[s >> 6] &= ~(1ULL << (s & 63));
        if (q->bits[s >> 6] == 0)
            q->summary[s >> 12] &= ~(1ULL << ((s >> 6) & 63));
    } else {
        q->head[s] = nd->next;
        if (id == q->hint[s])
            q->hint[s] = NIL;
    }
    nd->next = q->free_head;
    q->free_head = id;
done:
    if ((out->t >> SHIFT) > q->cur)
        q->cur = out->t >> SHIFT;
    return 1;
}

/* The earliest event, NULL if none. */
static const sim_event *earliest(const sim_evq *q)
{
    if (q->n == 0)
        return NULL;
    if (q->nwheel == 0)
        return &q->heap[0];
    const sim_event *w = &q->pool[q->head[wheel_first(q)]].e;
    return q->nheap > 0 && before(&q->heap[0], w) ? &q->heap[0] : w;
}

int sim_evq_peek(const sim_evq *q, sim_event *out)
{
    const sim_event *e = earliest(q);
    if (e == NULL)
        return 0;
    *out = *e;
    return 1;
}

ld_us sim_evq_peek_time(const sim_evq *q)
{
    const sim_event *e = earliest(q);
    return e == NULL ? LD_NEVER : e->t;
}

size_t sim_evq_size(const sim_evq *q)
{
    return q->n;
}
