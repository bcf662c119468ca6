/* test_sim_evq.c - the simulator's event queue. */
#include "testutil.h"

#include <stdlib.h>

#include <gsl/gsl_rng.h>

#include "sim_evq.h"

static gsl_rng *rng_new(unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    assert_non_null(r);
    gsl_rng_set(r, seed);
    return r;
}

static int cmp_event(const void *x, const void *y)
{
    const sim_event *a = x, *b = y;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void assert_same_event(const sim_event *got, const sim_event *want)
{
    assert_true(got->t == want->t);
    assert_true(got->seq == want->seq);
    assert_int_equal(got->kind, want->kind);
    assert_int_equal(got->a, want->a);
    assert_true(got->b == want->b);
    assert_ptr_equal(got->p, want->p);
}

static void test_evq_empty_queue_pops_nothing(void **state)
{
    (void)state;
    sim_evq *q = sim_evq_new(0);
    assert_non_null(q);
    sim_event e = {.t = 123};
    assert_int_equal(sim_evq_size(q), 0);
    assert_true(sim_evq_peek_time(q) == LD_NEVER);
    assert_int_equal(sim_evq_peek(q, &e), 0);
    assert_int_equal(sim_evq_pop(q, &e), 0);
    assert_true(e.t == 123); /* untouched */
    sim_evq_free(q);
    sim_evq_free(NULL);
}

static void test_evq_carries_every_field(void **state)
{
    (void)state;
    sim_evq *q = sim_evq_new(4);
    int x;
    assert_int_equal(sim_evq_push(q, ld_ms(5), 7, 0xdeadbeefu,
                                  UINT64_C(0xfedcba9876543210), &x),
                     0);
    sim_event e;
    assert_int_equal(sim_evq_peek(q, &e), 1);
    assert_int_equal(sim_evq_size(q), 1);
    assert_int_equal(sim_evq_pop(q, &e), 1);
    assert_true(e.t == 5000);
    assert_true(e.seq == 0);
    assert_int_equal(e.kind, 7);
    assert_int_equal(e.a, 0xdeadbeefu);
    assert_true(e.b == UINT64_C(0xfedcba9876543210));
    assert_ptr_equal(e.p, &x);
    assert_int_equal(sim_evq_size(q), 0);
    sim_evq_free(q);
}

static void test_evq_pops_in_the_order_qsort_gives(void **state)
{
    (void)state;
    enum { N = 20000 };
    gsl_rng *r = rng_new(42);
    sim_evq *q = sim_evq_new(16);
    sim_event *want = malloc(N * sizeof *want);
    assert_non_null(want);
    for (size_t i = 0; i < N; i++) {
        /* a narrow range for many ties, and some negative times */
        ld_us t = (ld_us)gsl_rng_uniform_int(r, 5000) - 100;
        if (i % 97 == 0)
            t = (ld_us)gsl_rng_get(r) * 1000003; /* large values */
        sim_event e = {t, i, (uint32_t)(i % 13), (uint32_t)i, i * 3,
                       (void *)(want + i)};
        want[i] = e;
        assert_int_equal(
            sim_evq_push(q, e.t, e.kind, e.a, e.b, e.p), 0);
    }
    qsort(want, N, sizeof *want, cmp_event);
    assert_int_equal(sim_evq_size(q), N);
    for (size_t i = 0; i < N; i++) {
        sim_event e;
        assert_true(sim_evq_peek_time(q) == want[i].t);
        assert_int_equal(sim_evq_pop(q, &e), 1);
        assert_same_event(&e, &want[i]);
    }
    sim_event e;
    assert_int_equal(sim_evq_pop(q, &e), 0);
    free(want);
    sim_evq_free(q);
    gsl_rng_free(r);
}

static void test_evq_equal_times_pop_in_push_order(void **state)
{
    (void)state;
    sim_evq *q = sim_evq_new(8);
    /* pushes alternate between two times, later ones first */
    for (uint32_t i = 0; i < 1000; i++)
        assert_int_equal(sim_evq_push(q, i % 2 ? 10 : 20, 0, i, 0, NULL), 0);
    sim_event e;
    uint32_t prev = 0;
    for (int i = 0; i < 500; i++) {
        assert_int_equal(sim_evq_pop(q, &e), 1);
        assert_true(e.t == 10);
        assert_int_equal(e.a % 2, 1);
        if (i > 0)
            assert_true(e.a > prev);
        prev = e.a;
    }
    /* pushed after some pops, equal time: after the earlier ones */
    assert_int_equal(sim_evq_push(q, 20, 0, 5000, 0, NULL), 0);
    for (int i = 0; i < 500; i++) {
        assert_int_equal(sim_evq_pop(q, &e), 1);
        assert_true(e.t == 20);
        assert_int_equal(e.a, (uint32_t)(2 * i));
    }
    assert_int_equal(sim_evq_pop(q, &e), 1);
    assert_int_equal(e.a, 5000);
    assert_true(e.seq == 1000);
    sim_evq_free(q);
}

static void test_evq_grows_from_a_tiny_capacity(void **state)
{
    (void)state;
    enum { N = 100000 };
    sim_evq *q = sim_evq_new(1);
    assert_non_null(q);
    for (uint32_t i = 0; i < N; i++) /* descending: every push sifts up */
        assert_int_equal(sim_evq_push(q, N - i, 0, i, 0, NULL), 0);
    assert_int_equal(sim_evq_size(q), N);
    sim_event e;
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(sim_evq_pop(q, &e), 1);
        assert_true(e.t == (ld_us)i + 1);
        assert_int_equal(e.a, N - 1 - i);
    }
    assert_int_equal(sim_evq_size(q), 0);
    sim_evq_free(q);
}

static void test_evq_cap_refuses_pushes_and_leaves_queue_unchanged(
    void **state)
{
    (void)state;
    sim_evq *q = sim_evq_new(2);
    sim_evq_set_cap(q, 5);
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(sim_evq_push(q, 100 - i, 0, i, 0, NULL), 0);
    assert_int_equal(sim_evq_push(q, 1, 0, 99, 0, NULL), LD_ELIMIT);
    assert_int_equal(sim_evq_size(q), 5);
    assert_true(sim_evq_peek_time(q) == 96);

    sim_event e;
    assert_int_equal(sim_evq_pop(q, &e), 1);
    assert_int_equal(e.a, 4);
    assert_int_equal(sim_evq_push(q, 1, 0, 7, 0, NULL), 0);
    /* the refused push consumed no sequence number */
    assert_int_equal(sim_evq_pop(q, &e), 1);
    assert_int_equal(e.a, 7);
    assert_true(e.seq == 5);

    /* a cap below the current size keeps what is there */
    sim_evq_set_cap(q, 2);
    assert_int_equal(sim_evq_size(q), 4);
    assert_int_equal(sim_evq_push(q, 1, 0, 8, 0, NULL), LD_ELIMIT);
    sim_evq_set_cap(q, 0); /* no limit */
    for (uint32_t i = 0; i < 1000; i++)
        assert_int_equal(sim_evq_push(q, i, 0, i, 0, NULL), 0);
    assert_int_equal(sim_evq_size(q), 1004);
    sim_evq_free(q);
}

/* Reference: unsorted array, linear scan for the minimum. */
typedef struct ref {
    sim_event *ev;
    size_t n;
} ref;

static int ref_pop(ref *rf, sim_event *out)
{
    if (rf->n == 0)
        return 0;
    size_t best = 0;
    for (size_t i = 1; i < rf->n; i++)
        if (cmp_event(&rf->ev[i], &rf->ev[best]) < 0)
            best = i;
    *out = rf->ev[best];
    rf->ev[best] = rf->ev[--rf->n];
    return 1;
}

static void test_evq_interleaved_stress_matches_reference(void **state)
{
    (void)state;
    enum { OPS = 100000, MAXN = 4096 };
    gsl_rng *r = rng_new(7);
    sim_evq *q = sim_evq_new(0);
    ref rf = {malloc(MAXN * sizeof(sim_event)), 0};
    assert_non_null(rf.ev);
    sim_evq_set_cap(q, MAXN);
    ld_us now = 0;
    uint64_t seq = 0;
    size_t pushes = 0, pops = 0, peak = 0;
    for (size_t op = 0; op < OPS; op++) {
        /* phases that fill up and drain, like a simulation's bursts */
        double p_push = (op / 5000) % 2 ? 0.35 : 0.7;
        if (gsl_rng_uniform(r) < p_push) {
            /* like a simulator: never in the past, often at "now" */
            ld_us t = now + (gsl_rng_uniform(r) < 0.2
                                 ? 0
                                 : (ld_us)gsl_rng_uniform_int(r, 50000));
            sim_event e = {t, seq, (uint32_t)(op & 7), (uint32_t)op, seq * 7,
                           NULL};
            int rc = sim_evq_push(q, e.t, e.kind, e.a, e.b, e.p);
            if (rf.n == MAXN) {
                assert_int_equal(rc, LD_ELIMIT);
                continue;
            }
            assert_int_equal(rc, 0);
            rf.ev[rf.n++] = e;
            seq++;
            pushes++;
            if (rf.n > peak)
                peak = rf.n;
        } else {
            sim_event got, want;
            int has = ref_pop(&rf, &want);
            assert_int_equal(sim_evq_pop(q, &got), has);
            if (has) {
                assert_same_event(&got, &want);
                assert_true(got.t >= now);
                now = got.t;
                pops++;
            }
        }
        assert_int_equal(sim_evq_size(q), rf.n);
        assert_true(sim_evq_peek_time(q) >= now);
    }
    sim_event got, want;
    while (ref_pop(&rf, &want)) {
        assert_int_equal(sim_evq_pop(q, &got), 1);
        assert_same_event(&got, &want);
    }
    assert_int_equal(sim_evq_pop(q, &got), 0);
    assert_true(pushes > 40000 && pops > 40000);
    assert_true(peak > 1000);
    free(rf.ev);
    sim_evq_free(q);
    gsl_rng_free(r);
}

/* Against the reference over the wheel's edges: delays from none to five
 * minutes (past the wheel's 67 s, into its heap), bursts of one time with
 * a later event already in the slot, the clock running for minutes (the
 * wheel goes round several times), and now and then an event before the
 * last one popped (allowed, though a simulator never does it). */
static void test_evq_wide_delays_bursts_and_past_match_reference(
    void **state)
{
    (void)state;
    enum { OPS = 200000, MAXN = 8192 };
    gsl_rng *r = rng_new(11);
    sim_evq *q = sim_evq_new(0);
    ref rf = {malloc(MAXN * sizeof(sim_event)), 0};
    assert_non_null(rf.ev);
    ld_us now = 0;
    uint64_t seq = 0;
    size_t far = 0, past = 0, burst = 0;
    ld_us burst_t = -1;
    for (size_t op = 0; op < OPS; op++) {
        double p_push = (op / 7000) % 2 ? 0.4 : 0.62;
        if (gsl_rng_uniform(r) < p_push && rf.n < MAXN) {
            double u = gsl_rng_uniform(r);
            ld_us t;
            if (u < 0.15) {
                t = now;
            } else if (u < 0.35) { /* a burst at one time, ahead */
                if (burst_t < now || gsl_rng_uniform(r) < 0.02)
                    burst_t = now + 1 + (ld_us)gsl_rng_uniform_int(r, 200);
                t = burst_t;
                burst++;
            } else if (u < 0.6) {
                t = now + (ld_us)gsl_rng_uniform_int(r, 2000);
            } else if (u < 0.9) {
                t = now + (ld_us)gsl_rng_uniform_int(r, 5000000);
            } else if (u < 0.99) {
                t = now + 60000000 + (ld_us)gsl_rng_uniform_int(r, 240000000);
                far++;
            } else {
                t = now - (ld_us)gsl_rng_uniform_int(r, 100000000);
                past++;
            }
            sim_event e = {t, seq, (uint32_t)(op & 7), (uint32_t)op, seq * 3,
                           NULL};
            assert_int_equal(sim_evq_push(q, e.t, e.kind, e.a, e.b, e.p), 0);
            rf.ev[rf.n++] = e;
            seq++;
        } else {
            sim_event got, want;
            int has = ref_pop(&rf, &want);
            assert_int_equal(sim_evq_pop(q, &got), has);
            if (has) {
                assert_same_event(&got, &want);
                if (got.t > now)
                    now = got.t;
            }
        }
        assert_int_equal(sim_evq_size(q), rf.n);
        if (rf.n > 0) {
            sim_event top;
            assert_int_equal(sim_evq_peek(q, &top), 1);
            sim_event want = rf.ev[0];
            for (size_t i = 1; i < rf.n; i++)
                if (cmp_event(&rf.ev[i], &want) < 0)
                    want = rf.ev[i];
            assert_same_event(&top, &want);
        }
    }
    sim_event got, want;
    while (ref_pop(&rf, &want)) {
        assert_int_equal(sim_evq_pop(q, &got), 1);
        assert_same_event(&got, &want);
    }
    assert_int_equal(sim_evq_pop(q, &got), 0);
    assert_true(far > 1000 && past > 100 && burst > 5000);
    assert_true(now > 600 * (ld_us)1000000); /* the 67 s wheel, 9 turns */
    free(rf.ev);
    sim_evq_free(q);
    gsl_rng_free(r);
}

/* Equal times on both sides of the wheel's edge: an event pushed while
 * its time was beyond the wheel (so kept aside) and one pushed at the
 * same time once the clock came near pop in push order. */
static void test_evq_equal_times_across_the_wheel_edge(void **state)
{
    (void)state;
    sim_evq *q = sim_evq_new(0);
    ld_us far = 100 * (ld_us)1000000; /* 100 s: beyond the wheel at 0 */
    assert_int_equal(sim_evq_push(q, far, 0, 1, 0, NULL), 0);
    assert_int_equal(sim_evq_push(q, far - 1000, 0, 0, 0, NULL), 0);
    sim_event e;
    assert_int_equal(sim_evq_pop(q, &e), 1); /* the clock is near now */
    assert_int_equal(e.a, 0);
    assert_int_equal(sim_evq_push(q, far, 0, 2, 0, NULL), 0);
    assert_int_equal(sim_evq_push(q, far - 1, 0, 3, 0, NULL), 0);
    assert_int_equal(sim_evq_push(q, far, 0, 4, 0, NULL), 0);
    uint32_t want[] = {3, 1, 2, 4};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sim_evq_pop(q, &e), 1);
        assert_int_equal(e.a, want[i]);
    }
    assert_int_equal(sim_evq_pop(q, &e), 0);
    sim_evq_free(q);
}

/* The documented cancellation pattern: a generation in b. */
typedef struct timer_owner {
    uint64_t gen;
    int fired;
} timer_owner;

static void test_evq_generation_in_b_cancels_without_delete(void **state)
{
    (void)state;
    sim_evq *q = sim_evq_new(0);
    timer_owner o = {0, 0};
    assert_int_equal(sim_evq_push(q, 100, 1, 0, o.gen, &o), 0);
    o.gen++; /* cancel, then reschedule later */
    assert_int_equal(sim_evq_push(q, 300, 1, 0, o.gen, &o), 0);
    o.gen++; /* cancel again, reschedule earlier */
    assert_int_equal(sim_evq_push(q, 200, 1, 0, o.gen, &o), 0);
    sim_event e;
    ld_us fired_at = -1;
    while (sim_evq_pop(q, &e)) {
        timer_owner *t = e.p;
        if (e.b != t->gen)
            continue; /* stale */
        t->fired++;
        fired_at = e.t;
    }
    assert_int_equal(o.fired, 1);
    assert_true(fired_at == 200);
    sim_evq_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_evq_empty_queue_pops_nothing),
        cmocka_unit_test(test_evq_carries_every_field),
        cmocka_unit_test(test_evq_pops_in_the_order_qsort_gives),
        cmocka_unit_test(test_evq_equal_times_pop_in_push_order),
        cmocka_unit_test(test_evq_grows_from_a_tiny_capacity),
        cmocka_unit_test(
            test_evq_cap_refuses_pushes_and_leaves_queue_unchanged),
        cmocka_unit_test(test_evq_interleaved_stress_matches_reference),
        cmocka_unit_test(
            test_evq_wide_delays_bursts_and_past_match_reference),
        cmocka_unit_test(test_evq_equal_times_across_the_wheel_edge),
        cmocka_unit_test(test_evq_generation_in_b_cancels_without_delete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
