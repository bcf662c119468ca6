/* sim_evq.c - a radix heap on time with 8-bit digits, FIFO among equal
 * times; see sim_evq.h.
 *
 * A simulation never schedules before the event it is handling, so the
 * queue is monotone and a radix heap fits. key(t) is t as an unsigned
 * number and `last` the key of the event popped last. An event's level is
 * the highest byte in which its key differs from last (0 if none) and its
 * digit that byte of its key; bucket (level, digit) holds such events, so
 * a bucket of level 0 holds one key only, and every key of a lower bucket
 * (level, then digit) is below every key of a higher one.
 *
 * A push is O(1): an xor, a count of leading zeros, an append. A pop takes
 * the front of the lowest bucket of level 0 (found in a bitmap); when level
 * 0 is empty, the lowest bucket of the lowest level left gives its minimum
 * as the new last and its events move to lower levels. An event moves at
 * most once per level, and events a second or so ahead (2^20 us) are three
 * levels up, so a pop costs a few steps where a heap with thousands of
 * events in flight costs a dozen levels of comparisons.
 *
 * Order among equal times: every bucket is a FIFO list, and a bucket is
 * refilled from a higher one only when it is empty (every lower level is
 * empty when a bucket is redistributed), so within a bucket the events of
 * one time keep their push order; a bucket of level 0 (one time) therefore
 * pops in push order, as the sequence numbers say.
 *
 * Events live in one pool of nodes linked by index (moving an event
 * between buckets relinks it, and a pop never allocates); freed nodes are
 * reused first. An event pushed before last (which the simulator never
 * does, but the interface allows) goes to a small 4-ary heap on (t, seq)
 * that pops before the buckets: all of its events are earlier than any of
 * theirs. */
#include "sim_evq.h"

#include <stdlib.h>

#define DEFAULT_CAP 64
#define NIL UINT32_MAX
#define LEVELS 8
#define DIGITS 256
#define KEY_BIAS 0x8000000000000000ULL /* int64 order as uint64 order */

typedef struct node {
    sim_event e;
    uint32_t next;
} node;

typedef struct bucket {
    uint32_t head, tail; /* NIL when empty */
} bucket;

struct sim_evq {
    node *pool;
    uint32_t pool_used, pool_cap; /* nodes ever handed out, allocated */
    uint32_t free_head;           /* freed nodes, NIL: none */
    uint64_t last;
    uint32_t levels;              /* bit L: level L has an event */
    uint64_t used[LEVELS][DIGITS / 64]; /* bit d: bucket (L, d) not empty */
    bucket b[LEVELS][DIGITS];
    sim_event *early;             /* 4-ary heap of events before last */
    size_t nearly, early_cap;
    size_t n;                     /* events queued in all */
    size_t max;                   /* 0: no limit */
    uint64_t next_seq;
};

static inline uint64_t key_of(ld_us t)
{
    return (uint64_t)t ^ KEY_BIAS;
}

static inline int before(const sim_event *x, const sim_event *y)
{
    return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

sim_evq *sim_evq_new(size_t initial_cap)
{
    sim_evq *q = calloc(1, sizeof *q);
    if (q == NULL)
        goto fail;
    size_t cap = initial_cap != 0 ? initial_cap : DEFAULT_CAP;
    if (cap > NIL - 1)
        cap = NIL - 1;
    q->pool_cap = (uint32_t)cap;
    q->pool = malloc(cap * sizeof *q->pool);
    if (q->pool == NULL)
        goto fail;
    q->free_head = NIL;
    for (int l = 0; l < LEVELS; l++)
        for (int d = 0; d < DIGITS; d++)
            q->b[l][d].head = q->b[l][d].tail = NIL;
    return q;
fail:
    free(q);
    return NULL;
}

void sim_evq_free(sim_evq *q)
{
    if (q == NULL)
        return;
    free(q->pool);
    free(q->early);
    free(q);
}

void sim_evq_set_cap(sim_evq *q, size_t max_events)
{
    q->max = max_events;
}

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

/* Put node id (key k, >= last) at the end of its bucket. */
static inline void place(sim_evq *q, uint32_t id, uint64_t k)
{
    uint64_t x = k ^ q->last;
    int l = x == 0 ? 0 : (63 - __builtin_clzll(x)) >> 3;
    int d = (int)(k >> (8 * l)) & (DIGITS - 1);
    bucket *b = &q->b[l][d];
    q->pool[id].next = NIL;
    if (b->tail == NIL)
        b->head = id;
    else
        q->pool[b->tail].next = id;
    b->tail = id;
    q->used[l][d >> 6] |= 1ULL << (d & 63);
    q->levels |= 1u << l;
}

/* The lowest non-empty bucket's digit at level l (which has one). */
static inline int lowest_digit(const sim_evq *q, int l)
{
    for (int w = 0;; w++)
        if (q->used[l][w] != 0)
            return 64 * w + __builtin_ctzll(q->used[l][w]);
}

/* Bucket (l, d) is now empty. */
static inline void emptied(sim_evq *q, int l, int d)
{
    q->b[l][d].head = q->b[l][d].tail = NIL;
    q->used[l][d >> 6] &= ~(1ULL << (d & 63));
    for (int w = 0; w < DIGITS / 64; w++)
        if (q->used[l][w] != 0)
            return;
    q->levels &= ~(1u << l);
}

/* ---- the heap of events before last (rare) -------------------------------- */

static int early_push(sim_evq *q, const sim_event *e)
{
    if (q->nearly == q->early_cap) {
        size_t ncap = q->early_cap ? q->early_cap * 2 : 16;
        if (ncap > SIZE_MAX / sizeof *q->early)
            return LD_ENOMEM;
        sim_event *h = realloc(q->early, ncap * sizeof *h);
        if (h == NULL)
            return LD_ENOMEM;
        q->early = h;
        q->early_cap = ncap;
    }
    sim_event *h = q->early;
    size_t i = q->nearly++;
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (!before(e, &h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = *e;
    return 0;
}

static void early_pop(sim_evq *q, sim_event *out)
{
    sim_event *h = q->early;
    *out = h[0];
    size_t n = --q->nearly;
    if (n == 0)
        return;
    sim_event last = h[n];
    size_t i = 0;
    for (;;) {
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

/* ---- push and pop ----------------------------------------------------------- */

int sim_evq_push(sim_evq *q, ld_us t, uint32_t kind, uint32_t a, uint64_t b,
                 void *p)
{
    if (q->max != 0 && q->n >= q->max)
        return LD_ELIMIT;
    uint64_t k = key_of(t);
    if (k < q->last) {
        sim_event e = {t, q->next_seq, kind, a, b, p};
        int rc = early_push(q, &e);
        if (rc < 0)
            return rc;
    } else {
        uint32_t id = node_get(q);
        if (id == NIL)
            return LD_ENOMEM;
        q->pool[id].e = (sim_event){t, q->next_seq, kind, a, b, p};
        place(q, id, k);
    }
    q->next_seq++;
    q->n++;
    return 0;
}

/* Level 0 is empty and some level is not: the lowest bucket of the
 * lowest level gives its minimum as last, and its events move down (in
 * their order) to the levels below, all empty. */
static void settle(sim_evq *q)
{
    int l = __builtin_ctz(q->levels);
    int d = lowest_digit(q, l);
    node *pool = q->pool;
    uint32_t id = q->b[l][d].head;
    uint64_t m = UINT64_MAX;
    for (uint32_t i = id; i != NIL; i = pool[i].next) {
        uint64_t k = key_of(pool[i].e.t);
        if (k < m)
            m = k;
    }
    emptied(q, l, d);
    q->last = m;
    while (id != NIL) {
        uint32_t next = pool[id].next;
        place(q, id, key_of(pool[id].e.t));
        id = next;
    }
}

int sim_evq_pop(sim_evq *q, sim_event *out)
{
    if (q->n == 0)
        return 0;
    q->n--;
    if (q->nearly > 0) {
        early_pop(q, out);
        return 1;
    }
    if (!(q->levels & 1))
        settle(q);
    int d = lowest_digit(q, 0);
    bucket *b = &q->b[0][d];
    uint32_t id = b->head;
    node *nd = &q->pool[id];
    *out = nd->e;
    q->last = key_of(nd->e.t);
    b->head = nd->next;
    if (b->head == NIL)
        emptied(q, 0, d);
    nd->next = q->free_head;
    q->free_head = id;
    return 1;
}

/* The earliest event without moving anything: the early heap's top, else
 * the lowest bucket's front (level 0) or least (t, seq). */
static const sim_event *earliest(const sim_evq *q)
{
    if (q->n == 0)
        return NULL;
    if (q->nearly > 0)
        return &q->early[0];
    int l = __builtin_ctz(q->levels);
    int d = lowest_digit(q, l);
    if (l == 0) /* one time: the front is the earliest */
        return &q->pool[q->b[0][d].head].e;
    const sim_event *best = NULL;
    for (uint32_t id = q->b[l][d].head; id != NIL; id = q->pool[id].next)
        if (best == NULL || before(&q->pool[id].e, best))
            best = &q->pool[id].e;
    return best;
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
