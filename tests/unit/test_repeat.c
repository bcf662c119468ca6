/* test_repeat.c - repeats of a request that just failed (ld_repeat.h, and
 * ld_req_spec.fingerprint in the core): answered at once with the same
 * failure, for health.repeat_failure_s, never past a block's lift, until
 * the workload serves a request; driven with a manual clock. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "ld_core.h"
#include "ld_repeat.h"

#define MAX_EV 512

typedef struct fx {
    ld_policy *p;
    ld_core *c;
    ld_event ev[MAX_EV];
    int nev;
    test_rng trng;
    ld_rng rng;
} fx;

static void sink(void *ud, const ld_event *ev)
{
    fx *f = ud;
    if (f->nev < MAX_EV)
        f->ev[f->nev++] = *ev;
}

static int count_ev(const fx *f, ld_event_type t)
{
    int n = 0;
    for (int i = 0; i < f->nev; i++)
        n += f->ev[i].type == t;
    return n;
}

static const ld_event *last_done(const fx *f)
{
    for (int i = f->nev - 1; i >= 0; i--)
        if (f->ev[i].type == LD_EV_DONE)
            return &f->ev[i];
    return NULL;
}

/* chat walks A then B; other has B alone. Breakers never open. `health`
 * is the policy's health block. */
static fx *fx_new(const char *health)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"routes\": {"
             " \"A\": {\"provider\": \"openai\", \"model\": \"a\","
             "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2}},"
             " \"B\": {\"provider\": \"openai\", \"model\": \"b\","
             "  \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2}}},"
             "\"workloads\": {"
             " \"chat\": {\"ladder\": [\"A\", \"B\"], \"on\": {\"*\": \"next\"},"
             "  \"safe_failure\": {\"status\": 503, \"message\": \"down\"}},"
             " \"other\": {\"ladder\": [\"B\"], \"on\": {\"*\": \"next\"}}},"
             "\"defaults\": {\"workload\": \"chat\"},"
             "\"breaker\": {\"window_s\": 60, \"min_requests\": 1000,"
             "  \"failure_rate\": 0.5, \"open_for_s\": 30}%s%s}",
             health != NULL ? ", \"health\": " : "",
             health != NULL ? health : "");
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    ld_error err;
    if (ld_policy_parse(text, strlen(text), "test.json", &f->p, &err) != LD_OK)
        fail_msg("policy: %s", err.msg);
    f->c = ld_core_new(f->p);
    assert_non_null(f->c);
    ld_core_set_sink(f->c, sink, f);
    f->rng = test_rng_make(&f->trng);
    return f;
}

static void fx_free(fx *f)
{
    ld_core_free(f->c);
    ld_policy_free(f->p);
    free(f);
}

static ld_req *start(fx *f, const char *workload, uint64_t fp, ld_us now,
                     ld_do *first)
{
    ld_req_spec spec = {
        .workload = ld_policy_workload_index(f->p, workload), .tier = -1,
        .input_tokens = 100, .output_tokens = 10, .fingerprint = fp};
    ld_req *r = NULL;
    assert_int_equal(ld_req_start(f->c, &spec, now, &f->rng, &r), LD_OK);
    assert_int_equal(ld_req_next(r, first), 1);
    return r;
}

static ld_raw_result status(int s, ld_us retry_after)
{
    ld_raw_result res;
    ld_raw_result_init(&res);
    res.http_status = s;
    res.retry_after = retry_after;
    if (s == 200)
        res.completion_tokens = 10;
    return res;
}

/* Every attempt of the request answers `code` (Retry-After ra, -1 none) at
 * now: the ladder is walked to its end. Returns its FINISH. */
static ld_do walk(fx *f, const char *workload, uint64_t fp, int code,
                  ld_us ra, ld_us now)
{
    ld_do d;
    ld_req *r = start(f, workload, fp, now, &d);
    for (int i = 0; i < 4 && d.kind == LD_DO_START; i++) {
        ld_raw_result res = status(code, ra);
        assert_int_equal(ld_req_end(r, d.attempt, now, &res, &f->rng), LD_OK);
        assert_int_equal(ld_req_next(r, &d), 1);
    }
    assert_int_equal(d.kind, LD_DO_FINISH);
    ld_req_free(r);
    return d;
}

/* A request that starts at now: whether it is answered as a repeat (a
 * FINISH with repeat and no attempt) rather than starting an attempt. */
static bool repeats(fx *f, const char *workload, uint64_t fp, ld_us now)
{
    ld_do d;
    ld_req *r = start(f, workload, fp, now, &d);
    bool rep = d.kind == LD_DO_FINISH && d.repeat;
    if (d.kind == LD_DO_FINISH)
        assert_true(d.repeat);
    else
        assert_int_equal(d.kind, LD_DO_START);
    ld_req_free(r);
    return rep;
}

/* ---- the core ------------------------------------------------------------ */

static void test_a_repeat_of_a_failed_request_fails_at_once_the_same_way(
    void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    ld_do first = walk(f, "chat", 7, 500, -1, 0);
    assert_int_equal(first.outcome, LD_OUT_FAILED);
    assert_false(first.repeat);
    int attempts = count_ev(f, LD_EV_ATTEMPT);
    assert_int_equal(attempts, 2);

    ld_do d;
    ld_req *r = start(f, "chat", 7, ld_s(1), &d);
    assert_int_equal(d.kind, LD_DO_FINISH);
    assert_true(d.repeat);
    assert_int_equal(d.outcome, LD_OUT_FAILED);
    assert_int_equal(d.cls, first.cls);
    assert_int_equal(d.status, 503);
    assert_int_equal(d.client_status, 503);
    assert_string_equal(d.message, "down");
    assert_false(d.mid_stream);
    ld_req_info info;
    ld_req_info_get(r, &info);
    assert_true(info.repeat);
    assert_int_equal(info.attempts, 0);
    assert_int_equal(info.first_cls, first.cls);
    ld_req_free(r);
    assert_int_equal(count_ev(f, LD_EV_ATTEMPT), attempts);

    const ld_event *done = last_done(f);
    assert_non_null(done);
    assert_true(done->repeat);
    assert_int_equal(done->attempts, 0);
    char buf[1024];
    assert_true(ld_event_to_json(done, f->p, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "\"repeat_of_failed\":true"));
    assert_non_null(strstr(buf, "\"class\":\"server_error\""));

    /* another request (other body) still walks, and the repeat itself did
     * not make the first one's entry longer */
    assert_false(repeats(f, "chat", 8, ld_s(1)));
    fx_free(f);
}

static void test_a_repeat_walks_again_after_repeat_failure_s(void **state)
{
    (void)state;
    fx *f = fx_new("{\"repeat_failure_s\": 2}");
    (void)walk(f, "chat", 7, 500, -1, 0);
    assert_true(repeats(f, "chat", 7, ld_ms(1999)));
    assert_false(repeats(f, "chat", 7, ld_s(2)));
    fx_free(f);

    f = fx_new(NULL); /* the default: 130 s */
    (void)walk(f, "chat", 7, 500, -1, 0);
    assert_true(repeats(f, "chat", 7, ld_ms(129999)));
    assert_false(repeats(f, "chat", 7, ld_s(130)));
    fx_free(f);
}

static void test_repeat_failure_s_0_lets_every_repeat_walk(void **state)
{
    (void)state;
    fx *f = fx_new("{\"repeat_failure_s\": 0}");
    (void)walk(f, "chat", 7, 500, -1, 0);
    assert_false(repeats(f, "chat", 7, ld_ms(1)));
    fx_free(f);
}

static void test_a_request_without_fingerprint_always_walks(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    (void)walk(f, "chat", 0, 500, -1, 0);
    assert_false(repeats(f, "chat", 0, ld_ms(1)));
    fx_free(f);
}

static void test_a_success_forgets_the_workloads_route_failures(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    (void)walk(f, "chat", 7, 500, -1, 0);
    ld_do bad = walk(f, "chat", 8, 400, -1, 0);
    assert_int_equal(bad.cls, LD_FC_BAD_REQUEST);
    (void)walk(f, "other", 9, 500, -1, 0);
    ld_do ok = walk(f, "chat", 10, 200, -1, ld_ms(500));
    assert_int_equal(ok.outcome, LD_OUT_SUCCESS);
    /* the routes serve again: the 5xx walk may walk again; the request's
     * own fault (a 400 on every route) is still answered at once, and
     * another workload's failure is kept */
    assert_false(repeats(f, "chat", 7, ld_s(1)));
    assert_true(repeats(f, "chat", 8, ld_s(1)));
    assert_true(repeats(f, "other", 9, ld_s(1)));
    fx_free(f);
}

static void test_a_repeat_never_outlives_a_block_that_lifts(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    /* both routes answer 429 with Retry-After 3 s: both blocked for 3 s */
    ld_do first = walk(f, "chat", 7, 429, ld_s(3), 0);
    assert_int_equal(first.outcome, LD_OUT_FAILED);
    assert_int_equal(ld_core_retry_hint(f->c, -1, ld_ms(10)), ld_ms(2990));
    assert_true(repeats(f, "chat", 7, ld_ms(2999)));
    assert_false(repeats(f, "chat", 7, ld_s(3)));
    fx_free(f);

    /* A answers 429 with Retry-After 2 s, B a 500: B is not blocked, but
     * once A's block lifts A may serve, so the entry ends there */
    f = fx_new(NULL);
    ld_do d;
    ld_req *r = start(f, "chat", 8, 0, &d);
    ld_raw_result res = status(429, ld_s(2));
    assert_int_equal(d.kind, LD_DO_START);
    assert_int_equal(ld_req_end(r, d.attempt, ld_ms(5), &res, &f->rng), LD_OK);
    assert_int_equal(ld_req_next(r, &d), 1);
    assert_int_equal(d.kind, LD_DO_START);
    res = status(500, -1);
    assert_int_equal(ld_req_end(r, d.attempt, ld_ms(10), &res, &f->rng), LD_OK);
    assert_int_equal(ld_req_next(r, &d), 1);
    assert_int_equal(d.kind, LD_DO_FINISH);
    assert_int_equal(d.outcome, LD_OUT_FAILED);
    ld_req_free(r);
    assert_true(repeats(f, "chat", 8, ld_ms(2004)));
    assert_false(repeats(f, "chat", 8, ld_ms(2005)));
    fx_free(f);
}

static void test_a_failure_after_the_answer_started_is_not_kept(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    ld_do d;
    ld_req *r = start(f, "chat", 7, 0, &d);
    assert_int_equal(d.kind, LD_DO_START);
    assert_int_equal(ld_req_first_token(r, d.attempt, ld_ms(10)), LD_OK);
    ld_raw_result res = status(200, -1);
    res.transport = LD_TR_CUT;
    assert_int_equal(ld_req_end(r, d.attempt, ld_ms(20), &res, &f->rng), LD_OK);
    assert_int_equal(ld_req_next(r, &d), 1);
    assert_int_equal(d.kind, LD_DO_FINISH);
    assert_true(d.mid_stream);
    ld_req_free(r);
    assert_false(repeats(f, "chat", 7, ld_ms(30)));
    fx_free(f);
}

/* ---- the table ------------------------------------------------------------ */

static void test_table_holds_at_most_its_slots(void **state)
{
    (void)state;
    ld_repeat *t = ld_repeat_new(64);
    assert_non_null(t);
    for (uint64_t fp = 1; fp <= 1000; fp++)
        assert_int_equal(ld_repeat_put(t, fp, 0, LD_FC_SERVER_ERROR,
                                       ld_s(10) + (ld_us)fp, 0), LD_OK);
    assert_int_equal(ld_repeat_count(t, 0), 64);
    ld_class cls = LD_FC_NONE;
    assert_int_equal(ld_repeat_find(t, 1000, 0, &cls), 1);
    assert_int_equal(cls, LD_FC_SERVER_ERROR);
    int found = 0;
    for (uint64_t fp = 1; fp <= 1000; fp++)
        found += ld_repeat_find(t, fp, 0, NULL);
    assert_int_equal(found, 64);
    assert_int_equal(ld_repeat_put(t, 0, 0, LD_FC_SERVER_ERROR, ld_s(1), 0),
                     LD_EINVAL);
    ld_repeat_free(t);
}

static void test_table_evicts_what_lapses_first_and_reuses_lapsed_slots(
    void **state)
{
    (void)state;
    /* one probe window: every fingerprint competes for the same slots */
    ld_repeat *t = ld_repeat_new(LD_REPEAT_PROBE);
    assert_non_null(t);
    for (uint64_t fp = 1; fp <= LD_REPEAT_PROBE; fp++)
        (void)ld_repeat_put(t, fp, 0, LD_FC_OVERLOADED, ld_s((ld_us)fp * 10),
                            0);
    (void)ld_repeat_put(t, 100, 0, LD_FC_OVERLOADED, ld_s(1000), 0);
    assert_int_equal(ld_repeat_find(t, 1, 0, NULL), 0);
    for (uint64_t fp = 2; fp <= LD_REPEAT_PROBE; fp++)
        assert_int_equal(ld_repeat_find(t, fp, 0, NULL), 1);
    assert_int_equal(ld_repeat_find(t, 100, 0, NULL), 1);
    /* at 25 s the entries of 2 lapsed: a new one takes its slot, not the
     * live one lapsing first (3, at 30 s) */
    (void)ld_repeat_put(t, 101, 0, LD_FC_OVERLOADED, ld_s(1000), ld_s(25));
    assert_int_equal(ld_repeat_find(t, 3, ld_s(25), NULL), 1);
    assert_int_equal(ld_repeat_find(t, 101, ld_s(25), NULL), 1);
    /* the same fingerprint again replaces its entry */
    (void)ld_repeat_put(t, 3, 0, LD_FC_TIMEOUT_TTFT, ld_s(500), ld_s(25));
    ld_class cls = LD_FC_NONE;
    assert_int_equal(ld_repeat_find(t, 3, ld_s(400), &cls), 1);
    assert_int_equal(cls, LD_FC_TIMEOUT_TTFT);
    /* an entry that lapses at once is not kept */
    (void)ld_repeat_put(t, 200, 0, LD_FC_OVERLOADED, ld_s(25), ld_s(25));
    assert_int_equal(ld_repeat_find(t, 200, ld_s(24), NULL), 0);
    assert_int_equal(ld_repeat_clear_workload(t, 0, ld_s(25)),
                     LD_REPEAT_PROBE);
    assert_int_equal(ld_repeat_count(t, 0), 0);
    ld_repeat_free(t);
}

/* ---- shared between hosts (ld_core_repeat_learn / _forget) ---------------- */

static void test_a_failed_walks_done_event_carries_its_fingerprint(void **state)
{
    (void)state;
    fx *f = fx_new("{\"repeat_failure_s\": 10}");
    (void)walk(f, "chat", 77, 503, -1, ld_s(1));
    const ld_event *d = last_done(f);
    assert_non_null(d);
    assert_true(d->repeat_fp == 77);
    assert_true(d->repeat_until == ld_s(11));
    assert_int_equal(d->repeat_cleared, 0);
    /* its repeat is not news again */
    assert_true(repeats(f, "chat", 77, ld_s(2)));
    assert_true(last_done(f)->repeat_fp == 0);
    /* a success forgets it, and says how many */
    (void)walk(f, "chat", 78, 200, -1, ld_s(3));
    assert_int_equal(last_done(f)->repeat_cleared, 1);
    assert_true(last_done(f)->repeat_fp == 0);
    (void)walk(f, "chat", 79, 200, -1, ld_s(4));
    assert_int_equal(last_done(f)->repeat_cleared, 0);
    fx_free(f);
}

static void test_a_walk_learnt_from_another_host_is_answered_as_a_repeat(void **state)
{
    (void)state;
    fx *f = fx_new("{\"repeat_failure_s\": 10}");
    int chat = ld_policy_workload_index(f->p, "chat");
    int nev = f->nev;
    assert_int_equal(ld_core_repeat_learn(f->c, 5, chat, LD_FC_SERVER_ERROR,
                                          ld_s(60), ld_s(1)),
                     LD_OK);
    assert_int_equal(f->nev, nev); /* emits nothing */
    assert_true(repeats(f, "chat", 5, ld_s(2)));
    assert_int_equal(last_done(f)->cls, LD_FC_SERVER_ERROR);
    /* kept no longer than its own repeat_failure_s from when it learnt */
    assert_true(repeats(f, "chat", 5, ld_s(10)));
    assert_false(repeats(f, "chat", 5, ld_s(11)));
    fx_free(f);
}

static void test_another_hosts_success_forgets_the_workloads_failures(void **state)
{
    (void)state;
    fx *f = fx_new("{\"repeat_failure_s\": 10}");
    int chat = ld_policy_workload_index(f->p, "chat");
    int other = ld_policy_workload_index(f->p, "other");
    assert_int_equal(ld_core_repeat_learn(f->c, 5, chat, LD_FC_SERVER_ERROR,
                                          ld_s(9), ld_s(1)), LD_OK);
    assert_int_equal(ld_core_repeat_learn(f->c, 6, other, LD_FC_SERVER_ERROR,
                                          ld_s(9), ld_s(1)), LD_OK);
    assert_int_equal(ld_core_repeat_forget(f->c, chat, ld_s(2)), 1);
    assert_false(repeats(f, "chat", 5, ld_s(3)));
    assert_true(repeats(f, "other", 6, ld_s(3)));
    fx_free(f);
}

static void test_learning_is_refused_or_ignored_where_the_core_would_not_keep_it(void **state)
{
    (void)state;
    fx *f = fx_new("{\"repeat_failure_s\": 10}");
    int chat = ld_policy_workload_index(f->p, "chat");
    assert_int_equal(ld_core_repeat_learn(NULL, 5, chat, LD_FC_SERVER_ERROR,
                                          ld_s(9), ld_s(1)), LD_EINVAL);
    assert_int_equal(ld_core_repeat_learn(f->c, 0, chat, LD_FC_SERVER_ERROR,
                                          ld_s(9), ld_s(1)), LD_EINVAL);
    assert_int_equal(ld_core_repeat_learn(f->c, 5, 99, LD_FC_SERVER_ERROR,
                                          ld_s(9), ld_s(1)), LD_EINVAL);
    assert_int_equal(ld_core_repeat_learn(f->c, 5, chat, LD_FC_NONE,
                                          ld_s(9), ld_s(1)), LD_EINVAL);
    assert_int_equal(ld_core_repeat_forget(f->c, -1, ld_s(1)), LD_EINVAL);
    /* a key's limit, a shutdown, an entry already lapsed: not kept */
    assert_int_equal(ld_core_repeat_learn(f->c, 5, chat, LD_FC_KEY_LIMIT,
                                          ld_s(9), ld_s(1)), LD_OK);
    assert_int_equal(ld_core_repeat_learn(f->c, 6, chat, LD_FC_SHUTDOWN,
                                          ld_s(9), ld_s(1)), LD_OK);
    assert_int_equal(ld_core_repeat_learn(f->c, 7, chat, LD_FC_SERVER_ERROR,
                                          ld_s(1), ld_s(1)), LD_OK);
    assert_false(repeats(f, "chat", 5, ld_s(2)));
    assert_false(repeats(f, "chat", 6, ld_s(2)));
    assert_false(repeats(f, "chat", 7, ld_s(2)));
    fx_free(f);
    /* without repeat_failure_s nothing is kept */
    f = fx_new("{\"repeat_failure_s\": 0}");
    assert_int_equal(ld_core_repeat_learn(f->c, 5, chat, LD_FC_SERVER_ERROR,
                                          ld_s(9), ld_s(1)), LD_OK);
    assert_false(repeats(f, "chat", 5, ld_s(2)));
    fx_free(f);
}

/* A walk that met a failure local to this host (its credentials, its
 * network: ld_class_is_local) is remembered here but marked so that it is
 * not taught to others; and a host learns no such class. */
static void test_a_walk_failed_by_this_hosts_own_trouble_is_not_for_others(void **state)
{
    (void)state;
    fx *f = fx_new("{\"repeat_failure_s\": 10}");
    int chat = ld_policy_workload_index(f->p, "chat");
    /* A answers 401 (this host's key), B 503: the walk ends overloaded */
    ld_do d;
    ld_req *r = start(f, "chat", 41, ld_s(1), &d);
    ld_raw_result res = status(401, -1);
    assert_int_equal(ld_req_end(r, d.attempt, ld_s(1), &res, &f->rng), LD_OK);
    assert_int_equal(ld_req_next(r, &d), 1);
    assert_int_equal(d.kind, LD_DO_START);
    res = status(503, -1);
    assert_int_equal(ld_req_end(r, d.attempt, ld_s(1), &res, &f->rng), LD_OK);
    assert_int_equal(ld_req_next(r, &d), 1);
    assert_int_equal(d.kind, LD_DO_FINISH);
    ld_req_free(r);
    const ld_event *e = last_done(f);
    assert_true(e->repeat_fp == 41);
    assert_int_equal(e->cls, LD_FC_OVERLOADED);
    assert_true(e->repeat_local);
    assert_true(repeats(f, "chat", 41, ld_s(2))); /* here it is a repeat */
    /* a walk of answers the provider gave everyone is for others */
    (void)walk(f, "chat", 42, 503, -1, ld_s(3));
    assert_true(last_done(f)->repeat_fp == 42);
    assert_false(last_done(f)->repeat_local);
    (void)walk(f, "chat", 43, 400, -1, ld_s(3));
    assert_false(last_done(f)->repeat_local);
    /* another host's news of a local class is not kept; of the others it is */
    static const ld_class local[] = {
        LD_FC_CONNECT_ERROR, LD_FC_RESET, LD_FC_TIMEOUT_TTFT,
        LD_FC_TIMEOUT_TOTAL, LD_FC_STREAM_STALL, LD_FC_STREAM_CUT,
        LD_FC_AUTH_ERROR, LD_FC_CIRCUIT_OPEN};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
        assert_true(ld_class_is_local(local[i]));
        assert_int_equal(ld_core_repeat_learn(f->c, 100 + i, chat, local[i],
                                              ld_s(9), ld_s(4)), LD_OK);
        assert_false(repeats(f, "chat", 100 + i, ld_s(5)));
    }
    static const ld_class shared[] = {
        LD_FC_RATE_LIMITED, LD_FC_QUOTA_EXHAUSTED, LD_FC_OVERLOADED,
        LD_FC_SERVER_ERROR, LD_FC_INVALID_RESPONSE, LD_FC_BAD_REQUEST,
        LD_FC_CONTENT_BLOCKED, LD_FC_CONTEXT_LENGTH, LD_FC_BUDGET_EXCEEDED};
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
        assert_false(ld_class_is_local(shared[i]));
        assert_int_equal(ld_core_repeat_learn(f->c, 200 + i, chat, shared[i],
                                              ld_s(9), ld_s(4)), LD_OK);
        assert_true(repeats(f, "chat", 200 + i, ld_s(5)));
    }
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_repeat_of_a_failed_request_fails_at_once_the_same_way),
        cmocka_unit_test(test_a_repeat_walks_again_after_repeat_failure_s),
        cmocka_unit_test(test_repeat_failure_s_0_lets_every_repeat_walk),
        cmocka_unit_test(test_a_request_without_fingerprint_always_walks),
        cmocka_unit_test(test_a_success_forgets_the_workloads_route_failures),
        cmocka_unit_test(test_a_repeat_never_outlives_a_block_that_lifts),
        cmocka_unit_test(test_a_failure_after_the_answer_started_is_not_kept),
        cmocka_unit_test(test_table_holds_at_most_its_slots),
        cmocka_unit_test(test_table_evicts_what_lapses_first_and_reuses_lapsed_slots),
        cmocka_unit_test(test_a_failed_walks_done_event_carries_its_fingerprint),
        cmocka_unit_test(test_a_walk_learnt_from_another_host_is_answered_as_a_repeat),
        cmocka_unit_test(test_another_hosts_success_forgets_the_workloads_failures),
        cmocka_unit_test(test_learning_is_refused_or_ignored_where_the_core_would_not_keep_it),
        cmocka_unit_test(test_a_walk_failed_by_this_hosts_own_trouble_is_not_for_others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
