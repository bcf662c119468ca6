/* test_sim_metrics.c - what a simulated run did to users: counts, rates,
 * percentiles, fallbacks, the time series, violations, recovery and the
 * summary object. Events and request infos are synthetic. */
#include "testutil.h"

#include <stdlib.h>

#include <cjson/cJSON.h>

#include "ld_policy.h"
#include "sim_metrics.h"

static const char policy_json[] =
    "{\"version\": 1,"
    " \"routes\": {"
    "  \"A\": {\"provider\": \"openai\", \"model\": \"a\","
    "   \"price\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2}},"
    "  \"B\": {\"provider\": \"anthropic\", \"model\": \"b\","
    "   \"price\": {\"input_per_mtok\": 3, \"output_per_mtok\": 15}},"
    "  \"C\": {\"provider\": \"openai\", \"model\": \"c\","
    "   \"price\": {\"input_per_mtok\": 0.1, \"output_per_mtok\": 0.2}}},"
    " \"workloads\": {\"w\": {\"ladder\": [\"A\", \"B\", \"C\"],"
    "   \"on\": {\"*\": \"next\"}}}}";

enum { RA, RB, RC };

typedef struct fx {
    ld_policy *p;
    sim_metrics *m;
    uint64_t next_id;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    ld_error err;
    int rc = ld_policy_parse(policy_json, strlen(policy_json), "test", &f->p,
                             &err);
    if (rc != 0)
        fail_msg("policy: %s", err.msg);
    assert_int_equal(ld_policy_route_count(f->p), 3);
    f->m = sim_metrics_new(f->p, ld_s(1));
    assert_non_null(f->m);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    sim_metrics_free(f->m);
    ld_policy_free(f->p);
    free(f);
    return 0;
}

/* ---- feeding ----------------------------------------------------------- */

typedef struct req {
    ld_us arrived, latency, ttft;
    ld_outcome outcome;
    bool fell_back;
    double cost;
    int attempts, hedges;
} req;

static ld_req_info info_of(fx *f, const req *r)
{
    ld_req_info in;
    memset(&in, 0, sizeof in);
    in.id = ++f->next_id;
    in.outcome = r->outcome;
    in.route = r->outcome == LD_OUT_SUCCESS ? RA : -1;
    in.attempts = r->attempts > 0 ? r->attempts : 1;
    in.hedges = r->hedges;
    in.fell_back = r->fell_back;
    in.first_cls = LD_FC_NONE;
    in.arrived = r->arrived;
    in.ttft = r->ttft;
    in.latency = r->latency;
    in.cost = r->cost;
    return in;
}

/* Arrival and done of one request, nothing in between. */
static void run_req(fx *f, const req *r, ld_us limit_ttft, ld_us limit_total)
{
    sim_metrics_on_arrival(f->m, r->arrived);
    ld_req_info in = info_of(f, r);
    sim_metrics_on_done(f->m, &in, r->arrived + r->latency, limit_ttft,
                        limit_total);
}

static void ok_req(fx *f, ld_us at, ld_us latency, ld_us ttft)
{
    req r = {at, latency, ttft, LD_OUT_SUCCESS, false, 0.0, 1, 0};
    run_req(f, &r, 0, 0);
}

static void failed_req(fx *f, ld_us at, ld_us latency)
{
    req r = {at, latency, -1, LD_OUT_FAILED, false, 0.0, 1, 0};
    run_req(f, &r, 0, 0);
}

static ld_event ev_make(ld_event_type type, ld_us t, int route, ld_class cls)
{
    ld_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.t = t;
    ev.route = route;
    ev.to_route = -1;
    ev.cls = cls;
    ev.ttft = -1;
    return ev;
}

static void fallback(fx *f, ld_us t, int from, int to, ld_class cls)
{
    ld_event ev = ev_make(LD_EV_FALLBACK, t, from, cls);
    ev.to_route = to;
    sim_metrics_on_event(f->m, &ev);
}

/* ---- reading ----------------------------------------------------------- */

static cJSON *summary(fx *f)
{
    cJSON *s = sim_metrics_summary(f->m, 42);
    assert_non_null(s);
    return s;
}

static cJSON *path(const cJSON *o, const char *a, const char *b,
                   const char *c)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (x != NULL && b != NULL)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    if (x != NULL && c != NULL)
        x = cJSON_GetObjectItemCaseSensitive(x, c);
    if (x == NULL)
        fail_msg("no %s.%s.%s", a, b ? b : "", c ? c : "");
    return (cJSON *)x;
}

static double num(const cJSON *o, const char *a, const char *b,
                  const char *c)
{
    const cJSON *x = path(o, a, b, c);
    if (!cJSON_IsNumber(x))
        fail_msg("%s.%s.%s is not a number", a, b ? b : "", c ? c : "");
    return x->valuedouble;
}

static bool is_null(const cJSON *o, const char *a, const char *b,
                    const char *c)
{
    return cJSON_IsNull(path(o, a, b, c));
}

/* Whole output of write_timeseries / print_table as a string (free it). */
static char *timeseries_text(fx *f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    assert_int_equal(sim_metrics_write_timeseries(f->m, out), 0);
    assert_int_equal(fclose(out), 0);
    return buf;
}

static char *table_text(fx *f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    sim_metrics_print_table(f->m, out);
    assert_int_equal(fclose(out), 0);
    return buf;
}

/* A parsed CSV: cells[row][col] (row 0 is the header), RFC 4180 quotes. */
typedef struct csv {
    char ***cells;
    int nrows, ncols[256];
} csv;

static csv csv_parse(const char *text)
{
    csv c;
    memset(&c, 0, sizeof c);
    c.cells = calloc(256, sizeof *c.cells);
    assert_non_null(c.cells);
    const char *s = text;
    while (*s != '\0') {
        assert_true(c.nrows < 256);
        char **row = calloc(64, sizeof *row);
        assert_non_null(row);
        int n = 0;
        for (;;) {
            char *cell = malloc(strlen(s) + 1);
            assert_non_null(cell);
            size_t k = 0;
            if (*s == '"') {
                s++;
                for (;;) {
                    assert_true(*s != '\0');
                    if (*s == '"' && s[1] == '"') {
                        cell[k++] = '"';
                        s += 2;
                    } else if (*s == '"') {
                        s++;
                        break;
                    } else {
                        cell[k++] = *s++;
                    }
                }
            } else {
                while (*s != ',' && *s != '\n' && *s != '\0')
                    cell[k++] = *s++;
            }
            cell[k] = '\0';
            assert_true(n < 64);
            row[n++] = cell;
            if (*s == ',') {
                s++;
                continue;
            }
            if (*s == '\n')
                s++;
            break;
        }
        c.cells[c.nrows] = row;
        c.ncols[c.nrows++] = n;
    }
    return c;
}

static void csv_free(csv *c)
{
    for (int r = 0; r < c->nrows; r++) {
        for (int k = 0; k < c->ncols[r]; k++)
            free(c->cells[r][k]);
        free(c->cells[r]);
    }
    free(c->cells);
}

/* Cell of data row `row` (0-based, after the header) in column `name`. */
static const char *cell(const csv *c, int row, const char *name)
{
    for (int k = 0; k < c->ncols[0]; k++)
        if (strcmp(c->cells[0][k], name) == 0) {
            assert_true(row + 1 < c->nrows);
            assert_true(k < c->ncols[row + 1]);
            return c->cells[row + 1][k];
        }
    fail_msg("no column %s", name);
    return NULL;
}

static double cell_num(const csv *c, int row, const char *name)
{
    const char *s = cell(c, row, name);
    assert_true(s[0] != '\0');
    return strtod(s, NULL);
}

/* ---- counts and rates -------------------------------------------------- */

static void test_metrics_counts_outcomes_cost_and_attempts(void **state)
{
    fx *f = *state;
    /* 6 successes, 3 failures, 1 abandon; costs 0.01 each for successes */
    for (int i = 0; i < 10; i++) {
        req r = {ld_ms(100 * i), ld_ms(500), ld_ms(200), LD_OUT_SUCCESS,
                 false, 0.01, 1, 0};
        if (i >= 6 && i < 9) {
            r.outcome = LD_OUT_FAILED;
            r.ttft = -1;
            r.cost = 0.0;
            r.attempts = 3;
        } else if (i == 9) {
            r.outcome = LD_OUT_ABANDONED;
            r.ttft = -1;
            r.cost = 0.0;
            r.attempts = 2;
            r.hedges = 1;
        }
        run_req(f, &r, 0, 0);
    }
    sim_metrics_finish(f->m, ld_s(2));
    assert_true(sim_metrics_requests(f->m) == 10);
    cJSON *s = summary(f);
    assert_near(num(s, "requests", NULL, NULL), 10, 0);
    assert_near(num(s, "finished", NULL, NULL), 10, 0);
    assert_near(num(s, "succeeded", NULL, NULL), 6, 0);
    assert_near(num(s, "failed", NULL, NULL), 3, 0);
    assert_near(num(s, "abandoned", NULL, NULL), 1, 0);
    assert_near(num(s, "success_rate", NULL, NULL), 0.6, 1e-12);
    assert_near(num(s, "abandon_rate", NULL, NULL), 0.1, 1e-12);
    assert_near(num(s, "cost_usd", NULL, NULL), 0.06, 1e-12);
    assert_near(num(s, "cost_per_1k_usd", NULL, NULL), 6.0, 1e-9);
    assert_near(num(s, "attempts", NULL, NULL), 6 + 9 + 2, 0);
    assert_near(num(s, "attempts_per_request", NULL, NULL), 1.7, 1e-12);
    assert_near(num(s, "hedges", NULL, NULL), 1, 0);
    /* TTFT only for the 6 that had a first token; latency for all 10 */
    assert_near(num(s, "latency_ms", "mean", NULL), 500, 1e-9);
    assert_near(num(s, "ttft_ms", "mean", NULL), 200, 1e-9);
    assert_near(num(s, "simulated_s", NULL, NULL), 2.0, 0);
    assert_near(num(s, "seed", NULL, NULL), 42, 0);
    cJSON_Delete(s);
}

static void test_metrics_percentiles_within_one_percent(void **state)
{
    fx *f = *state;
    /* latencies 1..1000 ms, shuffled order; TTFT = latency / 4 */
    for (int i = 0; i < 1000; i++) {
        int v = (i * 379) % 1000 + 1;
        ok_req(f, ld_ms(i), ld_ms(v), ld_ms(v) / 4);
    }
    sim_metrics_finish(f->m, ld_s(3));
    cJSON *s = summary(f);
    assert_near(num(s, "latency_ms", "mean", NULL), 500.5, 1e-9);
    assert_near(num(s, "latency_ms", "p50", NULL), 500, 5.0);
    assert_near(num(s, "latency_ms", "p90", NULL), 900, 9.0);
    assert_near(num(s, "latency_ms", "p95", NULL), 950, 9.5);
    assert_near(num(s, "latency_ms", "p99", NULL), 990, 9.9);
    assert_near(num(s, "latency_ms", "p999", NULL), 999, 9.99);
    assert_near(num(s, "ttft_ms", "p50", NULL), 125, 1.25);
    assert_near(num(s, "ttft_ms", "p99", NULL), 247.5, 2.5);
    cJSON_Delete(s);
}

/* Two policies on the same 200 requests: A succeeds on all of them in
 * 2 s; B fails half of them at once (a fast safe failure, 1 ms) and
 * succeeds on the rest in 2 s. Timing every request would give B a p50
 * of 1 ms; timing successes gives both 2 s, and B's failures show as a
 * lower success rate. */
static void test_metrics_fast_failures_do_not_lower_latency_percentiles(
    void **state)
{
    fx *f = *state;
    sim_metrics *b = sim_metrics_new(f->p, ld_s(1));
    assert_non_null(b);
    sim_metrics *a = f->m;
    for (int i = 0; i < 200; i++) {
        ld_us at = ld_ms(10 * i);
        f->m = a;
        ok_req(f, at, ld_s(2), ld_ms(300));
        f->m = b;
        if (i % 2 == 0) {
            req r = {at, ld_ms(1), ld_ms(1), LD_OUT_FAILED, true, 0.0, 1, 0};
            run_req(f, &r, 0, 0);
        } else {
            ok_req(f, at, ld_s(2), ld_ms(300));
        }
    }
    sim_metrics_finish(a, ld_s(5));
    sim_metrics_finish(b, ld_s(5));
    f->m = a;
    cJSON *sa = summary(f);
    f->m = b;
    cJSON *sb = summary(f);
    f->m = a;
    static const char *const qs[] = {"p50", "p90", "p99"};
    for (size_t i = 0; i < 3; i++) {
        assert_true(num(sb, "latency_ms", qs[i], NULL) >=
                    num(sa, "latency_ms", qs[i], NULL));
        assert_true(num(sb, "ttft_ms", qs[i], NULL) >=
                    num(sa, "ttft_ms", qs[i], NULL));
    }
    assert_near(num(sb, "latency_ms", "p50", NULL), 2000, 0);
    assert_near(num(sb, "latency_ms", "mean", NULL), 2000, 1e-9);
    assert_near(num(sb, "fell_back", "success_rate", NULL), 0.0, 0);
    assert_true(is_null(sb, "fell_back", "latency_ms", "p50"));
    assert_near(num(sb, "success_rate", NULL, NULL), 0.5, 1e-12);
    /* the old rule, kept as latency_all_ms, is the one fast failures
     * pull down */
    assert_near(num(sb, "latency_all_ms", "p50", NULL), 1, 1.0 / 256);
    assert_near(num(sa, "latency_all_ms", "p50", NULL), 2000, 0);
    /* the same in the CDF file and the time series */
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    assert_int_equal(sim_metrics_write_cdf(b, out), 0);
    assert_int_equal(fclose(out), 0);
    assert_non_null(strstr(buf, "\n0.001,2000.000,300.000\n"));
    assert_non_null(strstr(buf, "\n0.5,2000.000,300.000\n"));
    free(buf);
    f->m = b;
    char *text = timeseries_text(f);
    csv c = csv_parse(text);
    for (int r = 0; r + 1 < c.nrows; r++)
        if (cell(&c, r, "latency_p50_ms")[0] != '\0')
            assert_true(cell_num(&c, r, "latency_p50_ms") >= 2000 * (1 - 1.0 / 32));
    csv_free(&c);
    free(text);
    f->m = a;
    cJSON_Delete(sa);
    cJSON_Delete(sb);
    sim_metrics_free(b);
}

/* sim_metrics.h states the quantile error from the bucket layout: within
 * 2^-8 of the exact sample quantile (the ceil(q n)-th smallest value) for
 * the run, 2^-5 for a time-series row. Checked on 20,000 draws of an
 * exponential distribution (mean 1 s) taken at evenly spaced
 * probabilities, so the sample is known exactly. */
static int cmp_us(const void *x, const void *y)
{
    ld_us a = *(const ld_us *)x, b = *(const ld_us *)y;
    return a < b ? -1 : a > b;
}

static void test_metrics_quantiles_are_within_the_stated_relative_error(
    void **state)
{
    fx *f = *state;
    enum { N = 20000 };
    ld_us *v = malloc(N * sizeof *v);
    assert_non_null(v);
    sim_metrics_free(f->m);
    f->m = sim_metrics_new(f->p, ld_s(100000)); /* one row holds them all */
    assert_non_null(f->m);
    for (int i = 0; i < N; i++) {
        int k = (int)(((int64_t)i * 7919) % N); /* shuffled order */
        double u = (k + 0.5) / N;
        v[i] = (ld_us)llround(-log1p(-u) * 1e6);
        ok_req(f, ld_ms(i), v[i], v[i] / 3);
    }
    sim_metrics_finish(f->m, ld_s(100));
    qsort(v, N, sizeof *v, cmp_us);
    cJSON *s = summary(f);
    static const struct { const char *key; double q; } qs[] = {
        {"p50", 0.50}, {"p90", 0.90}, {"p95", 0.95}, {"p99", 0.99},
        {"p999", 0.999}};
    double worst = 0;
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        size_t rank = (size_t)ceil(qs[i].q * N); /* 1-based */
        double exact = (double)v[rank - 1] / 1000.0;
        double got = num(s, "latency_ms", qs[i].key, NULL);
        double rel = fabs(got - exact) / exact;
        if (rel > worst)
            worst = rel;
        assert_true(rel < 1.0 / 256);
    }
    assert_true(worst > 0); /* the values are not all bucket midpoints */
    cJSON_Delete(s);
    char *text = timeseries_text(f);
    csv c = csv_parse(text);
    static const struct { const char *col; double q; } rq[] = {
        {"latency_p50_ms", 0.50}, {"latency_p99_ms", 0.99}};
    for (size_t i = 0; i < 2; i++) {
        size_t rank = (size_t)ceil(rq[i].q * N);
        double exact = (double)v[rank - 1] / 1000.0;
        double got = cell_num(&c, 0, rq[i].col);
        assert_true(fabs(got - exact) / exact < 1.0 / 32);
    }
    csv_free(&c);
    free(text);
    free(v);
}

/* ---- events ------------------------------------------------------------ */

static void test_metrics_counts_fallbacks_by_class_and_route(void **state)
{
    fx *f = *state;
    fallback(f, ld_ms(1), RA, RB, LD_FC_TIMEOUT_TTFT);
    fallback(f, ld_ms(2), RA, RB, LD_FC_TIMEOUT_TTFT);
    fallback(f, ld_ms(3), RA, RC, LD_FC_SERVER_ERROR);
    fallback(f, ld_ms(4), RB, RC, LD_FC_RATE_LIMITED);
    fallback(f, ld_ms(5), RB, -1, LD_FC_RATE_LIMITED);
    fallback(f, ld_ms(6), 99, RA, LD_FC_RESET); /* unknown route */
    sim_metrics_finish(f->m, ld_s(1));
    cJSON *s = summary(f);
    assert_near(num(s, "fallbacks", "total", NULL), 6, 0);
    assert_near(num(s, "fallbacks", "by_class", "timeout_ttft"), 2, 0);
    assert_near(num(s, "fallbacks", "by_class", "server_error"), 1, 0);
    assert_near(num(s, "fallbacks", "by_class", "rate_limited"), 2, 0);
    assert_near(num(s, "fallbacks", "by_class", "reset"), 1, 0);
    assert_null(cJSON_GetObjectItem(path(s, "fallbacks", "by_class", NULL),
                                    "overloaded"));
    const cJSON *from_a = path(s, "fallbacks", "by_route", "A");
    assert_near(cJSON_GetObjectItem(from_a, "B")->valuedouble, 2, 0);
    assert_near(cJSON_GetObjectItem(from_a, "C")->valuedouble, 1, 0);
    const cJSON *from_b = path(s, "fallbacks", "by_route", "B");
    assert_near(cJSON_GetObjectItem(from_b, "C")->valuedouble, 1, 0);
    assert_near(cJSON_GetObjectItem(from_b, "none")->valuedouble, 1, 0);
    assert_null(cJSON_GetObjectItem(path(s, "fallbacks", "by_route", NULL),
                                    "C"));
    cJSON_Delete(s);
}

static void test_metrics_counts_per_route_attempts_results_skips(void **state)
{
    fx *f = *state;
    ld_event ev;
    for (int i = 0; i < 5; i++) {
        ev = ev_make(LD_EV_ATTEMPT, ld_ms(i), RA, LD_FC_NONE);
        sim_metrics_on_event(f->m, &ev);
    }
    ev = ev_make(LD_EV_ATTEMPT, ld_ms(6), RB, LD_FC_NONE);
    sim_metrics_on_event(f->m, &ev);
    for (int i = 0; i < 2; i++) {
        ev = ev_make(LD_EV_RESULT, ld_ms(10), RA, LD_FC_NONE);
        ev.cost = 0.25;
        sim_metrics_on_event(f->m, &ev);
    }
    ev = ev_make(LD_EV_RESULT, ld_ms(11), RA, LD_FC_SERVER_ERROR);
    sim_metrics_on_event(f->m, &ev);
    sim_metrics_on_event(f->m, &ev);
    ev = ev_make(LD_EV_RESULT, ld_ms(12), RA, LD_FC_TIMEOUT_TTFT);
    sim_metrics_on_event(f->m, &ev);
    ev = ev_make(LD_EV_SKIP, ld_ms(13), RB, LD_FC_BUDGET_EXCEEDED);
    sim_metrics_on_event(f->m, &ev);
    ev = ev_make(LD_EV_SKIP, ld_ms(13), RB, LD_FC_CIRCUIT_OPEN);
    sim_metrics_on_event(f->m, &ev);
    ev = ev_make(LD_EV_BREAKER, ld_ms(14), RA, LD_FC_NONE);
    ev.from = LD_BREAKER_CLOSED;
    ev.to = LD_BREAKER_OPEN;
    sim_metrics_on_event(f->m, &ev);
    ev.from = LD_BREAKER_OPEN;
    ev.to = LD_BREAKER_HALF_OPEN;
    sim_metrics_on_event(f->m, &ev);
    ev.from = LD_BREAKER_HALF_OPEN;
    ev.to = LD_BREAKER_OPEN;
    sim_metrics_on_event(f->m, &ev);
    ev = ev_make(LD_EV_RESULT, ld_ms(15), 7, LD_FC_RESET); /* ignored */
    sim_metrics_on_event(f->m, &ev);
    sim_metrics_finish(f->m, ld_s(1));

    cJSON *s = summary(f);
    assert_near(num(s, "routes", "A", "attempts"), 5, 0);
    assert_near(num(s, "routes", "A", "successes"), 2, 0);
    assert_near(num(s, "routes", "A", "cost_usd"), 0.5, 1e-12);
    assert_near(num(s, "routes", "A", "breaker_opens"), 2, 0);
    const cJSON *fa = path(s, "routes", "A", "failures_by_class");
    assert_near(cJSON_GetObjectItem(fa, "server_error")->valuedouble, 2, 0);
    assert_near(cJSON_GetObjectItem(fa, "timeout_ttft")->valuedouble, 1, 0);
    assert_int_equal(cJSON_GetArraySize(fa), 2);
    assert_int_equal(cJSON_GetArraySize(path(s, "routes", "A",
                                             "skips_by_class")),
                     0);
    assert_near(num(s, "routes", "B", "attempts"), 1, 0);
    const cJSON *sb = path(s, "routes", "B", "skips_by_class");
    assert_near(cJSON_GetObjectItem(sb, "budget_exceeded")->valuedouble, 1, 0);
    assert_near(cJSON_GetObjectItem(sb, "circuit_open")->valuedouble, 1, 0);
    assert_near(num(s, "routes", "C", "attempts"), 0, 0);
    /* routes in policy order */
    const cJSON *routes = path(s, "routes", NULL, NULL);
    assert_string_equal(cJSON_GetArrayItem(routes, 0)->string, "A");
    assert_string_equal(cJSON_GetArrayItem(routes, 1)->string, "B");
    assert_string_equal(cJSON_GetArrayItem(routes, 2)->string, "C");
    cJSON_Delete(s);
}

static void test_metrics_splits_users_by_fell_back(void **state)
{
    fx *f = *state;
    /* 100 direct successes at 100..199 ms; 20 fallbacks: 15 succeed at
     * 1000..1014 ms, 5 abandon at 3000 ms */
    for (int i = 0; i < 100; i++)
        ok_req(f, ld_ms(i), ld_ms(100 + i), ld_ms(50));
    for (int i = 0; i < 20; i++) {
        req r = {ld_ms(i), ld_ms(1000 + i), ld_ms(900), LD_OUT_SUCCESS, true,
                 0.0, 2, 0};
        if (i >= 15) {
            r.outcome = LD_OUT_ABANDONED;
            r.latency = ld_ms(3000);
            r.ttft = -1;
        }
        run_req(f, &r, 0, 0);
    }
    sim_metrics_finish(f->m, ld_s(4));
    cJSON *s = summary(f);
    assert_near(num(s, "fell_back", "requests", NULL), 20, 0);
    assert_near(num(s, "fell_back", "success_rate", NULL), 0.75, 1e-12);
    assert_near(num(s, "fell_back", "abandon_rate", NULL), 0.25, 1e-12);
    /* latency of the 15 that succeeded: the abandons are counted, not
     * timed */
    assert_near(num(s, "fell_back", "latency_ms", "p50"), 1007, 1007.0 / 256);
    assert_near(num(s, "fell_back", "latency_ms", "p99"), 1014, 1014.0 / 256);
    assert_near(num(s, "fell_back", "ttft_ms", "p50"), 900, 9);
    assert_near(num(s, "not_fell_back", "requests", NULL), 100, 0);
    assert_near(num(s, "not_fell_back", "success_rate", NULL), 1.0, 0);
    assert_near(num(s, "not_fell_back", "abandon_rate", NULL), 0.0, 0);
    assert_near(num(s, "not_fell_back", "latency_ms", "p50"), 149, 1.5);
    assert_near(num(s, "not_fell_back", "latency_ms", "p99"), 198, 2);
    cJSON_Delete(s);
}

/* ---- Little's law ------------------------------------------------------ */

static void test_metrics_littles_law_constant_two_in_system(void **state)
{
    fx *f = *state;
    /* two requests in system from 0 to 10 s */
    req r = {0, ld_s(10), ld_ms(1), LD_OUT_SUCCESS, false, 0.0, 1, 0};
    ld_req_info a = info_of(f, &r), b = info_of(f, &r);
    sim_metrics_on_arrival(f->m, 0);
    sim_metrics_on_arrival(f->m, 0);
    sim_metrics_on_done(f->m, &a, ld_s(10), 0, 0);
    sim_metrics_on_done(f->m, &b, ld_s(10), 0, 0);
    sim_metrics_finish(f->m, ld_s(10));
    cJSON *s = summary(f);
    assert_near(num(s, "littles_law", "mean_in_system", NULL), 2.0, 1e-12);
    assert_near(num(s, "littles_law", "arrival_rate", NULL), 0.2, 1e-12);
    assert_near(num(s, "littles_law", "mean_time_in_system_s", NULL), 10, 0);
    assert_near(num(s, "littles_law", "relative_error", NULL), 0, 1e-12);
    cJSON_Delete(s);
}

static void test_metrics_littles_law_on_a_staggered_schedule(void **state)
{
    fx *f = *state;
    /* arrivals at 1..10 s, each stays 2 s: the integral is 20 request-s over
     * [1 s, 12 s]; lambda = 10/11 per s, W = 2 s. Arrivals and departures
     * interleave in time order as the simulator reports them. */
    for (int k = 1; k <= 12; k++) {
        if (k - 2 >= 1) {
            req r = {ld_s(k - 2), ld_s(2), ld_ms(1), LD_OUT_SUCCESS, false,
                     0.0, 1, 0};
            ld_req_info in = info_of(f, &r);
            sim_metrics_on_done(f->m, &in, ld_s(k), 0, 0);
        }
        if (k <= 10)
            sim_metrics_on_arrival(f->m, ld_s(k));
    }
    sim_metrics_finish(f->m, ld_s(12));
    cJSON *s = summary(f);
    assert_near(num(s, "littles_law", "mean_in_system", NULL), 20.0 / 11,
                1e-12);
    assert_near(num(s, "littles_law", "arrival_rate", NULL), 10.0 / 11,
                1e-12);
    assert_near(num(s, "littles_law", "mean_time_in_system_s", NULL), 2, 0);
    assert_near(num(s, "littles_law", "relative_error", NULL), 0, 1e-12);
    cJSON_Delete(s);
}

static void test_metrics_littles_law_shows_requests_left_in_flight(void **state)
{
    fx *f = *state;
    sim_metrics_on_arrival(f->m, 0); /* never finishes */
    ok_req(f, 0, ld_s(1), ld_ms(1));
    sim_metrics_finish(f->m, ld_s(4));
    cJSON *s = summary(f);
    /* L = (4 + 1) / 4; lambda W = 2/4 * 1 */
    assert_near(num(s, "littles_law", "mean_in_system", NULL), 1.25, 1e-12);
    assert_near(num(s, "littles_law", "relative_error", NULL), 0.6, 1e-12);
    cJSON_Delete(s);
}

/* ---- time series ------------------------------------------------------- */

static void test_metrics_time_series_rows_and_csv(void **state)
{
    fx *f = *state;
    /* row 0: two successes (100 ms, 300 ms), cost 0.5 each */
    req r = {ld_ms(100), ld_ms(100), ld_ms(40), LD_OUT_SUCCESS, false, 0.5,
             1, 0};
    run_req(f, &r, 0, 0);
    r.arrived = ld_ms(200);
    r.latency = ld_ms(300);
    r.ttft = ld_ms(80);
    run_req(f, &r, 0, 0);
    /* row 1: a fallback and a failure; one arrival finishing in row 3 */
    fallback(f, ld_ms(1500), RA, RB, LD_FC_OVERLOADED);
    fallback(f, ld_ms(1600), RB, RC, LD_FC_OVERLOADED);
    failed_req(f, ld_ms(1700), ld_ms(200));
    sim_metrics_on_arrival(f->m, ld_ms(1800));
    /* row 2 is empty; row 3: the long request is abandoned */
    req ab = {ld_ms(1800), ld_ms(1700), -1, LD_OUT_ABANDONED, true, 0.0, 1, 0};
    ld_req_info in = info_of(f, &ab);
    sim_metrics_on_done(f->m, &in, ld_ms(3500), 0, 0);
    sim_metrics_finish(f->m, ld_ms(3900));

    assert_int_equal(sim_metrics_row_count(f->m), 4);
    char *text = timeseries_text(f);
    assert_true(strncmp(text, "start_s,arrivals,successes,failures,abandons,"
                              "fallbacks,fb_connect_error,",
                        strlen("start_s,arrivals,successes,failures,abandons,"
                               "fallbacks,fb_connect_error,")) == 0);
    assert_non_null(strstr(text, ",ttft_p50_ms,ttft_p99_ms,cost_usd,"
                                 "success_rate,in_violation,active_faults\n"));
    csv c = csv_parse(text);
    assert_int_equal(c.nrows, 5);
    for (int i = 1; i < c.nrows; i++)
        assert_int_equal(c.ncols[i], c.ncols[0]);
    assert_int_equal(c.ncols[0], 6 + LD_FC_COUNT + 8);

    assert_string_equal(cell(&c, 0, "start_s"), "0");
    assert_string_equal(cell(&c, 0, "arrivals"), "2");
    assert_string_equal(cell(&c, 0, "successes"), "2");
    /* per-interval histograms: within 2^-4 of the value */
    assert_near(cell_num(&c, 0, "latency_p50_ms"), 100, 100 * 0.07);
    assert_near(cell_num(&c, 0, "latency_p99_ms"), 300, 300 * 0.07);
    assert_string_equal(cell(&c, 0, "ttft_p50_ms"), "40");
    assert_string_equal(cell(&c, 0, "cost_usd"), "1");
    assert_string_equal(cell(&c, 0, "success_rate"), "1");
    assert_string_equal(cell(&c, 0, "in_violation"), "0");
    assert_string_equal(cell(&c, 0, "active_faults"), "");

    assert_string_equal(cell(&c, 1, "start_s"), "1");
    assert_string_equal(cell(&c, 1, "arrivals"), "2");
    assert_string_equal(cell(&c, 1, "failures"), "1");
    assert_string_equal(cell(&c, 1, "fallbacks"), "2");
    assert_string_equal(cell(&c, 1, "fb_overloaded"), "2");
    assert_string_equal(cell(&c, 1, "fb_server_error"), "0");
    /* the failure is counted but not timed */
    assert_string_equal(cell(&c, 1, "latency_p50_ms"), "");
    assert_string_equal(cell(&c, 1, "ttft_p50_ms"), "");
    assert_string_equal(cell(&c, 1, "success_rate"), "0");
    assert_string_equal(cell(&c, 1, "in_violation"), "1"); /* a failure */

    assert_string_equal(cell(&c, 2, "start_s"), "2");
    assert_string_equal(cell(&c, 2, "arrivals"), "0");
    assert_string_equal(cell(&c, 2, "latency_p50_ms"), "");
    assert_string_equal(cell(&c, 2, "success_rate"), "");
    assert_string_equal(cell(&c, 2, "in_violation"), "0");

    assert_string_equal(cell(&c, 3, "abandons"), "1");
    assert_string_equal(cell(&c, 3, "latency_p50_ms"), ""); /* abandoned */
    assert_string_equal(cell(&c, 3, "in_violation"), "1");
    csv_free(&c);
    free(text);
}

static void test_metrics_active_faults_column_joins_and_quotes(void **state)
{
    fx *f = *state;
    assert_int_equal(sim_metrics_add_fault(f->m, "outage A", ld_ms(1500),
                                           ld_ms(3000)),
                     0);
    assert_int_equal(sim_metrics_add_fault(f->m, "latency \"B\", x2", ld_s(2),
                                           ld_s(4)),
                     0);
    /* same name again: shown once per row */
    assert_int_equal(sim_metrics_add_fault(f->m, "outage A", ld_ms(2500),
                                           ld_ms(2600)),
                     0);
    assert_int_equal(sim_metrics_add_fault(f->m, "forever", ld_s(5), LD_NEVER),
                     0);
    assert_int_equal(sim_metrics_add_fault(f->m, "empty", ld_s(4), ld_s(4)), 0);
    sim_metrics_finish(f->m, ld_s(6));
    char *text = timeseries_text(f);
    csv c = csv_parse(text);
    assert_int_equal(c.nrows, 7);
    assert_string_equal(cell(&c, 0, "active_faults"), "");
    assert_string_equal(cell(&c, 1, "active_faults"), "outage A");
    assert_string_equal(cell(&c, 2, "active_faults"),
                        "outage A|latency \"B\", x2");
    assert_string_equal(cell(&c, 3, "active_faults"), "latency \"B\", x2");
    assert_string_equal(cell(&c, 4, "active_faults"), "");
    assert_string_equal(cell(&c, 5, "active_faults"), "forever");
    /* the raw text quotes the field and doubles the inner quotes */
    assert_non_null(strstr(text, ",\"outage A|latency \"\"B\"\", x2\"\n"));
    assert_non_null(strstr(text, ",outage A\n"));
    csv_free(&c);
    free(text);
}

static void test_metrics_in_violation_and_minutes_over_ceiling(void **state)
{
    fx *f = *state;
    sim_metrics_free(f->m);
    f->m = sim_metrics_new(f->p, ld_s(60));
    assert_non_null(f->m);
    ld_us lt = ld_ms(1000), lt_total = ld_ms(5000);
    /* minute 0: 100 fine requests */
    for (int i = 0; i < 100; i++) {
        req r = {ld_ms(100 * i), ld_ms(2000), ld_ms(500), LD_OUT_SUCCESS,
                 false, 0.0, 1, 0};
        run_req(f, &r, lt, lt_total);
    }
    /* minute 1: 6 of 100 have a slow first token (6% > 5%) */
    for (int i = 0; i < 100; i++) {
        req r = {ld_s(60) + ld_ms(100 * i), ld_ms(2000),
                 i < 6 ? ld_ms(1001) : ld_ms(500), LD_OUT_SUCCESS, false, 0.0,
                 1, 0};
        run_req(f, &r, lt, lt_total);
    }
    /* minute 2: exactly 5 of 100 miss (3 too slow overall, 2 failed) */
    for (int i = 0; i < 100; i++) {
        req r = {ld_s(120) + ld_ms(100 * i),
                 i < 3 ? ld_ms(5001) : ld_ms(2000), ld_ms(500),
                 i < 5 && i >= 3 ? LD_OUT_FAILED : LD_OUT_SUCCESS, false, 0.0,
                 1, 0};
        run_req(f, &r, lt, lt_total);
    }
    /* minute 3: 1 of 10 abandoned before its first token */
    for (int i = 0; i < 10; i++) {
        req r = {ld_s(180) + ld_ms(100 * i), ld_ms(2000), ld_ms(500),
                 LD_OUT_SUCCESS, false, 0.0, 1, 0};
        if (i == 0) {
            r.outcome = LD_OUT_ABANDONED;
            r.ttft = -1;
        }
        run_req(f, &r, lt, lt_total);
    }
    /* minute 4: limits off, slow answers are fine */
    for (int i = 0; i < 10; i++) {
        req r = {ld_s(240) + ld_ms(100 * i), ld_s(50), ld_s(20),
                 LD_OUT_SUCCESS, false, 0.0, 1, 0};
        run_req(f, &r, 0, 0);
    }
    sim_metrics_finish(f->m, ld_s(300));
    char *text = timeseries_text(f);
    csv c = csv_parse(text);
    assert_int_equal(c.nrows, 6);
    assert_string_equal(cell(&c, 0, "in_violation"), "0");
    assert_string_equal(cell(&c, 1, "in_violation"), "1");
    assert_string_equal(cell(&c, 2, "in_violation"), "0");
    assert_string_equal(cell(&c, 3, "in_violation"), "1");
    assert_string_equal(cell(&c, 4, "in_violation"), "0");
    assert_string_equal(cell(&c, 2, "success_rate"), "0.98");
    csv_free(&c);
    free(text);
    cJSON *s = summary(f);
    assert_near(num(s, "minutes_over_ceiling", NULL, NULL), 2.0, 1e-12);
    cJSON_Delete(s);
}

static void test_metrics_last_partial_interval_counts_its_length(void **state)
{
    fx *f = *state;
    sim_metrics_free(f->m);
    f->m = sim_metrics_new(f->p, ld_s(60));
    assert_non_null(f->m);
    failed_req(f, ld_s(70), ld_s(1));
    sim_metrics_finish(f->m, ld_s(90)); /* the row [60, 120) ends at 90 */
    cJSON *s = summary(f);
    assert_near(num(s, "minutes_over_ceiling", NULL, NULL), 0.5, 1e-12);
    cJSON_Delete(s);
}

/* ---- recovery ---------------------------------------------------------- */

/* One second of traffic at second k: 10 requests finishing within it, `ok`
 * of them succeed. */
static void second_of_traffic(fx *f, int k, int ok)
{
    for (int i = 0; i < 10; i++) {
        ld_us at = ld_s(k) + ld_ms(50 * i);
        if (i < ok)
            ok_req(f, at, ld_ms(100), ld_ms(50));
        else
            failed_req(f, at, ld_ms(100));
    }
}

/* The recovery entry of the fault named `name`. */
static const cJSON *rec_entry(const cJSON *s, const char *name)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, path(s, "recovery", NULL, NULL)) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "fault");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return e;
    }
    fail_msg("no recovery entry for %s", name);
    return NULL;
}

static const char *rec_status(const cJSON *s, const char *name)
{
    const cJSON *st =
        cJSON_GetObjectItemCaseSensitive(rec_entry(s, name), "status");
    assert_true(cJSON_IsString(st));
    return st->valuestring;
}

static const cJSON *rec_field(const cJSON *s, const char *name,
                              const char *key)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(rec_entry(s, name), key);
    assert_non_null(x);
    return x;
}

static void test_metrics_recovery_needs_thirty_seconds_back_at_baseline(
    void **state)
{
    fx *f = *state;
    assert_int_equal(sim_metrics_add_fault(f->m, "outage A", ld_s(10),
                                           ld_s(20)),
                     0);
    /* half fail during the fault; after it two good seconds, two bad
     * ones (22, 23), then good: it is back at 24 s, 4 s after the end */
    for (int k = 0; k < 80; k++) {
        int ok = 10;
        if ((k >= 10 && k < 20))
            ok = 5;
        if (k == 22 || k == 23)
            ok = 0;
        second_of_traffic(f, k, ok);
    }
    sim_metrics_finish(f->m, ld_s(80));
    cJSON *s = summary(f);
    assert_int_equal(cJSON_GetArraySize(path(s, "recovery", NULL, NULL)), 1);
    assert_string_equal(rec_status(s, "outage A"), "recovered");
    assert_near(rec_field(s, "outage A", "start_s")->valuedouble, 10, 0);
    assert_near(rec_field(s, "outage A", "end_s")->valuedouble, 20, 0);
    assert_near(rec_field(s, "outage A", "baseline_success_rate")->valuedouble,
                1.0, 0);
    assert_near(rec_field(s, "outage A", "recovered_after_s")->valuedouble, 4,
                1e-12);
    assert_near(num(s, "recovery_resolution_s", NULL, NULL), 1, 0);
    cJSON_Delete(s);
    char *t = table_text(f);
    assert_non_null(strstr(t, "time to recover s     4.0  (mean of 1 "
                              "recovered"));
    assert_non_null(strstr(t, "outage A (10.0-20.0 s): recovered after 4.0 s"));
    free(t);
}

static void test_metrics_recovery_is_not_recovered_when_success_stays_low(
    void **state)
{
    fx *f = *state;
    assert_int_equal(sim_metrics_add_fault(f->m, "f", ld_s(10), ld_s(20)), 0);
    for (int k = 0; k < 80; k++)
        second_of_traffic(f, k, k < 10 ? 10 : 9); /* 90% < 100% - 1 point */
    sim_metrics_finish(f->m, ld_s(80));
    cJSON *s = summary(f);
    assert_string_equal(rec_status(s, "f"), "not_recovered");
    assert_true(cJSON_IsNull(rec_field(s, "f", "recovered_after_s")));
    cJSON_Delete(s);
}

/* The band is three standard errors at the baseline rate (at least one
 * point): with baseline 0.9 and 100 requests in 10 s it is 0.09. */
static void test_metrics_recovery_band_allows_sampling_noise(void **state)
{
    fx *f = *state;
    sim_metrics *other = sim_metrics_new(f->p, ld_s(1));
    assert_non_null(other);
    sim_metrics *keep = f->m;
    for (int run = 0; run < 2; run++) {
        f->m = run == 0 ? keep : other;
        assert_int_equal(sim_metrics_add_fault(f->m, "f", ld_s(20), ld_s(30)),
                         0);
        for (int k = 0; k < 100; k++) {
            int ok = 9; /* baseline 90% */
            if (k >= 20 && k < 30)
                ok = 2;
            /* after: 86% (noise the band allows) or 70% (a real loss) */
            if (k >= 30)
                ok = run == 0 ? (k % 10 == 0 ? 5 : 9) : 7;
            second_of_traffic(f, k, ok);
        }
        sim_metrics_finish(f->m, ld_s(100));
    }
    f->m = keep;
    cJSON *s = summary(f);
    assert_near(rec_field(s, "f", "baseline_success_rate")->valuedouble, 0.9,
                1e-12);
    assert_string_equal(rec_status(s, "f"), "recovered");
    assert_near(rec_field(s, "f", "recovered_after_s")->valuedouble, 0, 0);
    cJSON_Delete(s);
    s = sim_metrics_summary(other, 1);
    assert_non_null(s);
    assert_string_equal(rec_status(s, "f"), "not_recovered");
    cJSON_Delete(s);
    sim_metrics_free(other);
}

static void test_metrics_recovery_says_why_it_is_not_defined(void **state)
{
    fx *f = *state;
    static const struct {
        const char *name;
        int start, end; /* -1: no end */
    } w[] = {{"overlapped", 10, 20}, {"longer", 15, 30}, {"gap", 60, 65},
             {"next", 80, 90},       {"late", 125, 128}, {"no end", 110, -1}};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        assert_int_equal(sim_metrics_add_fault(f->m, w[i].name, ld_s(w[i].start),
                                               w[i].end < 0 ? LD_NEVER
                                                            : ld_s(w[i].end)),
                         0);
    for (int k = 0; k < 130; k++)
        second_of_traffic(f, k, 10);
    sim_metrics_finish(f->m, ld_s(140)); /* 10 s of drain */
    cJSON *s = summary(f);
    assert_int_equal(cJSON_GetArraySize(path(s, "recovery", NULL, NULL)), 6);
    /* "longer" was still on when "overlapped" ended */
    assert_string_equal(rec_status(s, "overlapped"), "overlapping_fault");
    assert_string_equal(rec_status(s, "longer"), "recovered");
    /* "next" began 15 s after "gap" ended */
    assert_string_equal(rec_status(s, "gap"), "next_fault_began");
    /* a window with no end does not interrupt "next" */
    assert_string_equal(rec_status(s, "next"), "recovered");
    /* arrivals stop 2 s after "late": the drain does not count */
    assert_string_equal(rec_status(s, "late"), "no_traffic_after_end");
    assert_string_equal(rec_status(s, "no end"), "no_end");
    assert_true(cJSON_IsNull(rec_field(s, "no end", "end_s")));
    assert_true(cJSON_IsNull(rec_field(s, "late", "recovered_after_s")));
    cJSON_Delete(s);
    char *t = table_text(f);
    assert_non_null(strstr(t, "2 recovered"));
    assert_non_null(strstr(t, "0 not recovered; 4 not defined"));
    assert_non_null(strstr(t, "no end (110.0 s-): not defined: lasts to the "
                              "end of the run"));
    free(t);
}

static void test_metrics_recovery_without_a_baseline_is_null(void **state)
{
    fx *f = *state;
    /* every second is inside an incident: nothing to compare with */
    assert_int_equal(sim_metrics_add_fault(f->m, "first", 0, ld_s(10)), 0);
    assert_int_equal(sim_metrics_add_fault(f->m, "rest", ld_s(10), LD_NEVER),
                     0);
    for (int k = 0; k < 60; k++)
        second_of_traffic(f, k, 10);
    sim_metrics_finish(f->m, ld_s(60));
    cJSON *s = summary(f);
    assert_string_equal(rec_status(s, "first"), "no_baseline");
    assert_true(cJSON_IsNull(rec_field(s, "first", "baseline_success_rate")));
    assert_true(cJSON_IsNull(rec_field(s, "first", "recovered_after_s")));
    assert_string_equal(rec_status(s, "rest"), "no_end");
    cJSON_Delete(s);
}

static void test_metrics_recovery_counts_from_the_first_traffic_after_a_gap(
    void **state)
{
    fx *f = *state;
    /* the fault ends at 5.5 s; no request finishes from 6 s to 12 s; those
     * after are back at the 90% baseline: recovered at once, 0 s */
    assert_int_equal(sim_metrics_add_fault(f->m, "f", ld_s(4), ld_ms(5500)),
                     0);
    for (int k = 0; k < 60; k++)
        if (k < 6 || k >= 12)
            second_of_traffic(f, k, k < 4 ? 9 : k < 6 ? 2 : 9);
    sim_metrics_finish(f->m, ld_s(60));
    cJSON *s = summary(f);
    assert_near(rec_field(s, "f", "baseline_success_rate")->valuedouble, 0.9,
                1e-12);
    assert_string_equal(rec_status(s, "f"), "recovered");
    assert_near(rec_field(s, "f", "recovered_after_s")->valuedouble, 0, 0);
    cJSON_Delete(s);
}

static void test_metrics_background_fault_is_not_an_incident(void **state)
{
    fx *f = *state;
    /* a fault over the whole run (like a 0.2% stream-cut rate) gets no
     * recovery entry and does not hide the baseline before the outage */
    assert_int_equal(sim_metrics_add_fault(f->m, "background", 0, LD_NEVER),
                     0);
    assert_int_equal(sim_metrics_add_fault(f->m, "outage", ld_s(5), ld_s(8)),
                     0);
    for (int k = 0; k < 50; k++)
        second_of_traffic(f, k, k >= 5 && k < 8 ? 3 : 9);
    sim_metrics_finish(f->m, ld_s(50));
    cJSON *s = summary(f);
    const cJSON *rec = path(s, "recovery", NULL, NULL);
    assert_int_equal(cJSON_GetArraySize(rec), 1);
    assert_near(rec_field(s, "outage", "baseline_success_rate")->valuedouble,
                0.9, 1e-12);
    assert_near(rec_field(s, "outage", "recovered_after_s")->valuedouble, 0,
                1e-12);
    cJSON_Delete(s);
}

/* Past SIM_METRICS_MAX_RECOVERY_BUCKETS seconds the buckets merge and the
 * resolution doubles; recovery is still measured. */
static void test_metrics_recovery_buckets_merge_on_a_long_run(void **state)
{
    fx *f = *state;
    ld_us hour = ld_s(3600), end = 50 * hour;
    assert_int_equal(sim_metrics_add_fault(f->m, "f", 45 * hour,
                                           45 * hour + ld_s(600)),
                     0);
    for (ld_us t = 0; t < end; t += ld_s(7)) {
        bool in = t >= 45 * hour && t < 45 * hour + ld_s(600);
        bool late = t >= 45 * hour + ld_s(600) && t < 45 * hour + ld_s(660);
        if (in || late)
            failed_req(f, t, ld_ms(100)); /* and a minute after it */
        else
            ok_req(f, t, ld_ms(100), ld_ms(10));
    }
    sim_metrics_finish(f->m, end);
    cJSON *s = summary(f);
    assert_near(num(s, "recovery_resolution_s", NULL, NULL), 2, 0);
    assert_string_equal(rec_status(s, "f"), "recovered");
    /* the first success after 45 h 11 min, within 2 s buckets */
    assert_near(rec_field(s, "f", "recovered_after_s")->valuedouble, 60, 8);
    cJSON_Delete(s);
}

/* ---- summary shape ----------------------------------------------------- */

static void test_metrics_summary_has_every_contract_key(void **state)
{
    fx *f = *state;
    ok_req(f, 0, ld_ms(100), ld_ms(10));
    sim_metrics_finish(f->m, ld_s(1));
    cJSON *s = summary(f);
    static const char *top[] = {
        "requests", "succeeded", "failed", "abandoned", "success_rate",
        "abandon_rate", "latency_ms", "ttft_ms", "cost_usd",
        "cost_per_1k_usd", "attempts", "attempts_per_request", "hedges",
        "fallbacks", "routes", "fell_back", "not_fell_back",
        "minutes_over_ceiling", "recovery", "recovery_resolution_s",
        "littles_law", "seed", "simulated_s", "latency_all_ms"};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (cJSON_GetObjectItem(s, top[i]) == NULL)
            fail_msg("missing %s", top[i]);
    static const char *qs[] = {"mean", "p50", "p90", "p95", "p99", "p999"};
    for (size_t i = 0; i < 6; i++) {
        assert_non_null(cJSON_GetObjectItem(path(s, "latency_ms", NULL, NULL),
                                            qs[i]));
        assert_non_null(cJSON_GetObjectItem(path(s, "ttft_ms", NULL, NULL),
                                            qs[i]));
        assert_non_null(cJSON_GetObjectItem(
            path(s, "fell_back", "latency_ms", NULL), qs[i]));
    }
    static const char *fb[] = {"total", "by_class", "by_route"};
    for (size_t i = 0; i < 3; i++)
        assert_non_null(cJSON_GetObjectItem(path(s, "fallbacks", NULL, NULL),
                                            fb[i]));
    static const char *rt[] = {"attempts", "successes", "failures_by_class",
                               "skips_by_class", "cost_usd"};
    for (size_t i = 0; i < 5; i++)
        assert_non_null(cJSON_GetObjectItem(path(s, "routes", "B", NULL),
                                            rt[i]));
    static const char *grp[] = {"requests", "success_rate", "abandon_rate",
                                "latency_ms"};
    for (size_t i = 0; i < 4; i++) {
        assert_non_null(cJSON_GetObjectItem(path(s, "fell_back", NULL, NULL),
                                            grp[i]));
        assert_non_null(cJSON_GetObjectItem(
            path(s, "not_fell_back", NULL, NULL), grp[i]));
    }
    static const char *ll[] = {"arrival_rate", "mean_time_in_system_s",
                               "mean_in_system", "relative_error"};
    for (size_t i = 0; i < 4; i++)
        assert_non_null(cJSON_GetObjectItem(path(s, "littles_law", NULL, NULL),
                                            ll[i]));
    assert_true(cJSON_IsArray(path(s, "recovery", NULL, NULL)));
    cJSON_Delete(s);
}

static void test_metrics_empty_run_prints_nulls_not_nan(void **state)
{
    fx *f = *state;
    sim_metrics_finish(f->m, 0);
    cJSON *s = summary(f);
    assert_true(is_null(s, "success_rate", NULL, NULL));
    assert_true(is_null(s, "cost_per_1k_usd", NULL, NULL));
    assert_true(is_null(s, "attempts_per_request", NULL, NULL));
    assert_true(is_null(s, "latency_ms", "p50", NULL));
    assert_true(is_null(s, "latency_ms", "mean", NULL));
    assert_true(is_null(s, "fell_back", "success_rate", NULL));
    assert_true(is_null(s, "littles_law", "mean_in_system", NULL));
    assert_true(is_null(s, "littles_law", "relative_error", NULL));
    assert_near(num(s, "minutes_over_ceiling", NULL, NULL), 0, 0);
    char *txt = cJSON_PrintUnformatted(s);
    assert_non_null(txt);
    assert_null(strstr(txt, "nan"));
    assert_null(strstr(txt, "NaN"));
    assert_null(strstr(txt, "inf"));
    cJSON_free(txt);
    cJSON_Delete(s);
    char *t = table_text(f);
    assert_null(strstr(t, "nan"));
    free(t);
    t = timeseries_text(f);
    assert_non_null(strstr(t, "\n0,0,0,0,0,0,"));
    free(t);
}

static void test_metrics_large_seed_is_a_string(void **state)
{
    fx *f = *state;
    sim_metrics_finish(f->m, ld_s(1));
    cJSON *s = sim_metrics_summary(f->m, UINT64_C(18446744073709551615));
    assert_non_null(s);
    assert_string_equal(cJSON_GetObjectItem(s, "seed")->valuestring,
                        "18446744073709551615");
    cJSON_Delete(s);
    s = sim_metrics_summary(f->m, UINT64_C(9007199254740992));
    assert_near(num(s, "seed", NULL, NULL), 9007199254740992.0, 0);
    cJSON_Delete(s);
}

/* cJSON allocator that fails the Nth allocation (0-based). */
static long alloc_left;

static void *failing_malloc(size_t n)
{
    if (alloc_left-- == 0)
        return NULL;
    return malloc(n);
}

static void test_metrics_summary_survives_every_failed_allocation(void **state)
{
    fx *f = *state;
    assert_int_equal(sim_metrics_add_fault(f->m, "f", ld_s(1), ld_s(2)), 0);
    fallback(f, ld_ms(10), RA, RB, LD_FC_RESET);
    ld_event ev = ev_make(LD_EV_RESULT, ld_ms(20), RA, LD_FC_SERVER_ERROR);
    sim_metrics_on_event(f->m, &ev);
    ok_req(f, 0, ld_ms(100), ld_ms(10));
    req r = {ld_ms(5), ld_ms(300), -1, LD_OUT_FAILED, true, 0.0, 2, 0};
    run_req(f, &r, 0, 0);
    sim_metrics_finish(f->m, ld_s(3));
    cJSON *want = summary(f);
    char *want_text = cJSON_PrintUnformatted(want);
    assert_non_null(want_text);
    cJSON_Delete(want);
    cJSON_Hooks hooks = {failing_malloc, free};
    long n;
    cJSON *s = NULL;
    for (n = 0; n < 100000; n++) {
        alloc_left = n;
        cJSON_InitHooks(&hooks);
        s = sim_metrics_summary(f->m, 42);
        cJSON_InitHooks(NULL);
        if (s != NULL)
            break;
    }
    assert_non_null(s);
    assert_true(n > 50); /* many allocations were failed on the way */
    char *text = cJSON_PrintUnformatted(s);
    assert_string_equal(text, want_text);
    cJSON_free(text);
    cJSON_free(want_text);
    cJSON_Delete(s);
}

/* ---- row cap ----------------------------------------------------------- */

static void test_metrics_merges_rows_pairwise_at_the_cap(void **state)
{
    fx *f = *state;
    assert_int_equal(sim_metrics_set_max_rows(f->m, 4), 0);
    /* one request per second for 10 s; latency (k + 1) * 10 ms */
    for (int k = 0; k < 10; k++)
        ok_req(f, ld_s(k), ld_ms(10 * (k + 1)), ld_ms(5));
    sim_metrics_finish(f->m, ld_s(10));
    /* 4 rows of 1 s -> 2 of 2 s (+2) -> 2 of 4 s (+1) */
    assert_int_equal(sim_metrics_row_count(f->m), 3);
    assert_true(sim_metrics_interval(f->m) == ld_s(4));
    char *text = timeseries_text(f);
    csv c = csv_parse(text);
    assert_int_equal(c.nrows, 4);
    assert_string_equal(cell(&c, 0, "start_s"), "0");
    assert_string_equal(cell(&c, 1, "start_s"), "4");
    assert_string_equal(cell(&c, 2, "start_s"), "8");
    assert_string_equal(cell(&c, 0, "arrivals"), "4");
    assert_string_equal(cell(&c, 1, "successes"), "4");
    assert_string_equal(cell(&c, 2, "arrivals"), "2");
    /* merged percentiles are the largest of the merged rows' */
    assert_string_equal(cell(&c, 0, "latency_p50_ms"), "40");
    assert_string_equal(cell(&c, 0, "latency_p99_ms"), "40");
    /* [4, 8) was [4, 6) {50, 60} and [6, 8) {70, 80}: p50 ~70 */
    assert_near(cell_num(&c, 1, "latency_p50_ms"), 70, 70 * 0.07);
    assert_true(cell_num(&c, 1, "latency_p50_ms") >= 70);
    /* the last row [8, 12) holds 90 and 100 ms in one histogram */
    assert_near(cell_num(&c, 2, "latency_p99_ms"), 100, 100 * 0.07);
    csv_free(&c);
    free(text);
    cJSON *s = summary(f);
    assert_near(num(s, "requests", NULL, NULL), 10, 0); /* totals unchanged */
    cJSON_Delete(s);
}

static void test_metrics_rows_stay_bounded_over_a_long_run(void **state)
{
    fx *f = *state;
    sim_metrics_free(f->m);
    f->m = sim_metrics_new(f->p, ld_ms(1));
    assert_non_null(f->m);
    assert_int_equal(sim_metrics_set_max_rows(f->m, 7), 0); /* -> 8 */
    uint64_t n = 0;
    for (ld_us t = 0; t < ld_s(100); t += ld_ms(37)) {
        ok_req(f, t, ld_ms(3), ld_ms(1));
        n++;
    }
    sim_metrics_finish(f->m, ld_s(100));
    assert_true(sim_metrics_row_count(f->m) <= 8);
    assert_true(sim_metrics_row_count(f->m) >= 4);
    /* the rows still cover the whole run and hold every request */
    ld_us iv = sim_metrics_interval(f->m);
    assert_true((ld_us)sim_metrics_row_count(f->m) * iv >= ld_s(100));
    char *text = timeseries_text(f);
    csv c = csv_parse(text);
    uint64_t sum = 0;
    for (int i = 0; i + 1 < c.nrows; i++)
        sum += strtoull(cell(&c, i, "successes"), NULL, 10);
    assert_true(sum == n);
    csv_free(&c);
    free(text);
}

static void test_metrics_set_max_rows_merges_existing_rows(void **state)
{
    fx *f = *state;
    for (int k = 0; k < 9; k++)
        ok_req(f, ld_s(k), ld_ms(10), ld_ms(5));
    assert_int_equal(sim_metrics_row_count(f->m), 9);
    assert_int_equal(sim_metrics_set_max_rows(f->m, 4), 0);
    assert_int_equal(sim_metrics_row_count(f->m), 3);
    assert_true(sim_metrics_interval(f->m) == ld_s(4));
    ok_req(f, ld_s(9), ld_ms(10), ld_ms(5));
    sim_metrics_finish(f->m, ld_s(10));
    char *text = timeseries_text(f);
    csv c = csv_parse(text);
    assert_string_equal(cell(&c, 2, "arrivals"), "2");
    csv_free(&c);
    free(text);
    assert_int_equal(sim_metrics_set_max_rows(f->m, 0), LD_EINVAL);
}

/* ---- determinism, table, arguments -------------------------------------- */

static void feed_mixed_run(fx *f)
{
    assert_int_equal(sim_metrics_add_fault(f->m, "outage, A", ld_s(3), ld_s(6)),
                     0);
    for (int i = 0; i < 2000; i++) {
        ld_us at = ld_ms(5 * i);
        if (i % 7 == 0)
            fallback(f, at, RA, i % 2 ? RB : RC,
                     i % 3 ? LD_FC_TIMEOUT_TTFT : LD_FC_SERVER_ERROR);
        ld_event ev = ev_make(LD_EV_ATTEMPT, at, RA, LD_FC_NONE);
        sim_metrics_on_event(f->m, &ev);
        req r = {at, ld_ms(50 + (i * 37) % 1200), ld_ms(i % 300) + 1,
                 i % 11 == 0 ? LD_OUT_FAILED : LD_OUT_SUCCESS, i % 7 == 0,
                 0.001 * (i % 5), 1 + (i % 7 == 0), 0};
        run_req(f, &r, ld_ms(250), ld_ms(900));
    }
    sim_metrics_finish(f->m, ld_s(12));
}

static void test_metrics_output_is_deterministic(void **state)
{
    fx *f = *state;
    char *a[3], *b[3];
    for (int run = 0; run < 2; run++) {
        sim_metrics_free(f->m);
        f->m = sim_metrics_new(f->p, ld_ms(500));
        assert_non_null(f->m);
        feed_mixed_run(f);
        cJSON *s = summary(f);
        char **out = run == 0 ? a : b;
        out[0] = cJSON_Print(s);
        assert_non_null(out[0]);
        cJSON_Delete(s);
        out[1] = timeseries_text(f);
        out[2] = table_text(f);
    }
    for (int k = 0; k < 3; k++) {
        assert_string_equal(a[k], b[k]);
        if (k == 0) {
            cJSON_free(a[k]);
            cJSON_free(b[k]);
        } else {
            free(a[k]);
            free(b[k]);
        }
    }
}

static void test_metrics_table_sorts_fallback_classes_by_count(void **state)
{
    fx *f = *state;
    fallback(f, 0, RA, RB, LD_FC_CONNECT_ERROR);
    for (int i = 0; i < 3; i++)
        fallback(f, 0, RA, RB, LD_FC_STREAM_CUT);
    fallback(f, 0, RA, RB, LD_FC_RESET);
    fallback(f, 0, RA, RB, LD_FC_RESET);
    ld_event ev = ev_make(LD_EV_ATTEMPT, 0, RC, LD_FC_NONE);
    sim_metrics_on_event(f->m, &ev);
    ok_req(f, 0, ld_ms(1200), ld_ms(300));
    failed_req(f, 0, ld_ms(50));
    sim_metrics_finish(f->m, ld_s(2));
    char *t = table_text(f);
    const char *cut = strstr(t, "stream_cut"), *reset = strstr(t, "reset"),
               *conn = strstr(t, "connect_error");
    assert_non_null(cut);
    assert_non_null(reset);
    assert_non_null(conn);
    assert_true(cut < reset && reset < conn);
    assert_non_null(strstr(t, "requests"));
    assert_non_null(strstr(t, "50.00%"));
    assert_non_null(strstr(t, "latency ms"));
    assert_non_null(strstr(t, "ttft ms"));
    assert_non_null(strstr(t, "cost per 1k"));
    assert_non_null(strstr(t, "attempts/request"));
    assert_non_null(strstr(t, "minutes over ceiling"));
    assert_non_null(strstr(t, "fell back"));
    const char *rc_line = strstr(t, "\n  C ");
    assert_non_null(rc_line);
    free(t);
}

static void test_metrics_rejects_bad_arguments(void **state)
{
    fx *f = *state;
    assert_null(sim_metrics_new(f->p, 0));
    assert_null(sim_metrics_new(f->p, -5));
    assert_null(sim_metrics_new(NULL, ld_s(1)));
    assert_int_equal(sim_metrics_add_fault(f->m, NULL, 0, 1), LD_EINVAL);
    assert_int_equal(sim_metrics_add_fault(f->m, "x", 10, 5), LD_EINVAL);
    assert_int_equal(sim_metrics_error(f->m), 0);
    sim_metrics_free(NULL);
}

static void test_metrics_ignores_calls_after_finish(void **state)
{
    fx *f = *state;
    ok_req(f, 0, ld_ms(10), ld_ms(5));
    sim_metrics_finish(f->m, ld_s(1));
    ok_req(f, ld_s(2), ld_ms(10), ld_ms(5));
    fallback(f, ld_s(2), RA, RB, LD_FC_RESET);
    sim_metrics_finish(f->m, ld_s(5));
    assert_true(sim_metrics_requests(f->m) == 1);
    assert_int_equal(sim_metrics_row_count(f->m), 1);
    cJSON *s = summary(f);
    assert_near(num(s, "simulated_s", NULL, NULL), 1, 0);
    assert_near(num(s, "fallbacks", "total", NULL), 0, 0);
    cJSON_Delete(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
        T(test_metrics_counts_outcomes_cost_and_attempts),
        T(test_metrics_percentiles_within_one_percent),
        T(test_metrics_counts_fallbacks_by_class_and_route),
        T(test_metrics_counts_per_route_attempts_results_skips),
        T(test_metrics_splits_users_by_fell_back),
        T(test_metrics_littles_law_constant_two_in_system),
        T(test_metrics_littles_law_on_a_staggered_schedule),
        T(test_metrics_littles_law_shows_requests_left_in_flight),
        T(test_metrics_time_series_rows_and_csv),
        T(test_metrics_active_faults_column_joins_and_quotes),
        T(test_metrics_in_violation_and_minutes_over_ceiling),
        T(test_metrics_last_partial_interval_counts_its_length),
        T(test_metrics_fast_failures_do_not_lower_latency_percentiles),
        T(test_metrics_quantiles_are_within_the_stated_relative_error),
        T(test_metrics_recovery_needs_thirty_seconds_back_at_baseline),
        T(test_metrics_recovery_is_not_recovered_when_success_stays_low),
        T(test_metrics_recovery_band_allows_sampling_noise),
        T(test_metrics_recovery_says_why_it_is_not_defined),
        T(test_metrics_recovery_without_a_baseline_is_null),
        T(test_metrics_recovery_counts_from_the_first_traffic_after_a_gap),
        T(test_metrics_background_fault_is_not_an_incident),
        T(test_metrics_recovery_buckets_merge_on_a_long_run),
        T(test_metrics_summary_has_every_contract_key),
        T(test_metrics_empty_run_prints_nulls_not_nan),
        T(test_metrics_large_seed_is_a_string),
        T(test_metrics_summary_survives_every_failed_allocation),
        T(test_metrics_merges_rows_pairwise_at_the_cap),
        T(test_metrics_rows_stay_bounded_over_a_long_run),
        T(test_metrics_set_max_rows_merges_existing_rows),
        T(test_metrics_output_is_deterministic),
        T(test_metrics_table_sorts_fallback_classes_by_count),
        T(test_metrics_rejects_bad_arguments),
        T(test_metrics_ignores_calls_after_finish),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
