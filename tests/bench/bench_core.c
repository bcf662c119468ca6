/* bench_core.c - request cycles per second through the routing core.
 *
 * One cycle is the core's busiest ordinary path, start to finish:
 *
 *   ld_req_start        -> START attempt 1 on rung 1 (route A)
 *   ld_req_end 503      -> classified overloaded, rule "next":
 *                          START attempt 2 on rung 2 (route B)
 *   ld_req_first_token  -> no action (the attempt commits)
 *   ld_req_end 200      -> FINISH success on route B
 *   ld_req_free
 *
 * with every action drained through ld_req_next, every event delivered to a
 * sink that only counts, a 4-rung ladder, and the health updates the core
 * makes on each report (breaker windows, the TTFT latency histogram, the
 * retry budget's request count, the tokens-per-second average).
 *
 * Route A fails on every request, so its breaker sees a 100% failure rate;
 * the policy's breaker has min_requests 1e9 so it stays closed and every
 * cycle is the same. Time is a manual clock that moves 5 us per cycle, and
 * the health and breaker windows are short enough that they rotate during
 * the run.
 *
 * The failed attempt carries an OpenAI-style error body (type and message),
 * as a live host would pass it; a second, shorter run repeats the cycle
 * with a bare 503 to show what reading the message costs.
 *
 * The wall clock (CLOCK_MONOTONIC) only times the loop; the core never sees
 * it. Heap allocations are counted by interposing malloc and friends while
 * the measured loop runs. Exits 1 only if a cycle did not go as described;
 * speed never fails the bench.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ld_core.h"

/* ---- allocation counting --------------------------------------------------
 * The executable's definitions take precedence over glibc's for the whole
 * process; these forward to glibc's own entry points. */

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);

static bool count_allocs;
static uint64_t n_allocs;

void *malloc(size_t size)
{
    if (count_allocs)
        n_allocs++;
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    if (count_allocs)
        n_allocs++;
    return __libc_calloc(n, size);
}

void *realloc(void *ptr, size_t size)
{
    if (count_allocs)
        n_allocs++;
    return __libc_realloc(ptr, size);
}

void free(void *ptr)
{
    __libc_free(ptr);
}

/* ---- policy --------------------------------------------------------------- */

static const char policy_text[] =
    "{\"version\": 1, \"name\": \"bench_core\","
    " \"routes\": {"
    "  \"A\": {\"provider\": \"openai\", \"model\": \"a\","
    "   \"price\": {\"input_per_mtok\": 2.0, \"output_per_mtok\": 8.0},"
    "   \"quality\": 0.90, \"regions\": [\"us\", \"eu\"],"
    "   \"context_window\": 1000000, \"capabilities\": [\"stream\", \"tools\"]},"
    "  \"B\": {\"provider\": \"anthropic\", \"model\": \"b\","
    "   \"price\": {\"input_per_mtok\": 3.0, \"output_per_mtok\": 15.0},"
    "   \"quality\": 0.92, \"regions\": [\"us\", \"eu\"],"
    "   \"context_window\": 1000000, \"capabilities\": [\"stream\", \"tools\"]},"
    "  \"C\": {\"provider\": \"openai\", \"model\": \"c\","
    "   \"price\": {\"input_per_mtok\": 0.59, \"output_per_mtok\": 0.79},"
    "   \"quality\": 0.75, \"regions\": [\"us\"], \"context_window\": 128000,"
    "   \"capabilities\": [\"stream\", \"prefill\"]},"
    "  \"D\": {\"provider\": \"openai\", \"model\": \"d\","
    "   \"price\": {\"input_per_mtok\": 0.4, \"output_per_mtok\": 1.6},"
    "   \"quality\": 0.78, \"regions\": [\"us\", \"eu\"],"
    "   \"context_window\": 1000000, \"capabilities\": [\"stream\", \"tools\"]}"
    " },"
    " \"workloads\": {\"chat\": {"
    "  \"constraints\": {\"ttft_ms\": 2500, \"total_ms\": 30000,"
    "   \"max_cost_usd\": 0.05, \"min_quality\": 0.70},"
    "  \"ladder\": [\"A\", \"B\", \"C\", \"D\"],"
    "  \"roles\": {\"low_latency\": \"C\", \"low_cost\": \"D\","
    "   \"high_quality\": \"B\"},"
    "  \"on\": {"
    "   \"overloaded\": \"next\","
    "   \"server_error\": {\"action\": \"retry\", \"max\": 1,"
    "      \"backoff_ms\": 200, \"else\": \"next\"},"
    "   \"rate_limited\": {\"action\": \"wait_retry_after\","
    "      \"max_wait_ms\": 2000, \"else\": \"next\"},"
    "   \"timeout_ttft\": \"low_latency\", \"budget_exceeded\": \"low_cost\","
    "   \"latency_ceiling\": \"low_latency\","
    "   \"quality_floor\": \"high_quality\","
    "   \"context_length\": \"next_larger_context\","
    "   \"region_restricted\": \"next_in_region\","
    "   \"content_blocked\": \"fail\", \"*\": \"next\"},"
    "  \"safe_failure\": {\"status\": 503, \"message\": \"busy\"}}},"
    " \"tiers\": {\"paid\": {}},"
    " \"breaker\": {\"window_s\": 10, \"min_requests\": 1000000000,"
    "  \"failure_rate\": 0.5, \"slow_call_ms\": 15000,"
    "  \"slow_call_rate\": 0.8, \"open_for_s\": 30, \"half_open_probes\": 2},"
    " \"retry_budget\": {\"ratio\": 0.2, \"min_per_s\": 5, \"window_s\": 10},"
    " \"health\": {\"window_s\": 5, \"min_samples\": 20,"
    "  \"latency_quantile\": 0.9}"
    "}";

/* ---- the cycle ------------------------------------------------------------ */

#define STEP_US 5          /* manual clock advance per cycle */
#define EVENTS_PER_CYCLE 7 /* REQUEST ATTEMPT RESULT FALLBACK ATTEMPT RESULT DONE */
#define BATCH 4096         /* cycles between wall clock reads */
#define WARMUP_NS 300000000LL
#define MEASURE_NS 2000000000LL
#define BARE_NS 1000000000LL
#define GOAL_CYCLES_PER_S 2000000.0
#define MSG_503 "The server is overloaded or not ready yet."

typedef struct bench {
    ld_core *core;
    int route_a, route_b;
    ld_req_spec spec;
    ld_raw_result fail, ok;
    ld_us now;
    uint64_t events;
    uint64_t by_type[LD_EV_COUNT];
    uint64_t cycles;
} bench;

static void count_sink(void *ud, const ld_event *ev)
{
    bench *b = ud;
    b->events++;
    if ((unsigned)ev->type < LD_EV_COUNT)
        b->by_type[ev->type]++;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One cycle. Returns 0, or a negative step number naming what went wrong. */
static int cycle(bench *b)
{
    ld_req *r;
    ld_do d;
    ld_us t = b->now;
    uint64_t ev0 = b->events;
    b->now += STEP_US;

    if (ld_req_start(b->core, &b->spec, t, NULL, &r) != LD_OK)
        return -1;
    if (ld_req_next(r, &d) != 1 || d.kind != LD_DO_START ||
        d.route != b->route_a || d.hedge)
        goto fail2;
    uint32_t first = d.attempt;
    if (ld_req_next(r, &d) != 0)
        goto fail2;

    if (ld_req_end(r, first, t + 1, &b->fail, NULL) != LD_OK)
        goto fail3;
    if (ld_req_next(r, &d) != 1 || d.kind != LD_DO_START ||
        d.route != b->route_b || d.hedge || d.attempt == first)
        goto fail3;
    uint32_t second = d.attempt;
    if (ld_req_next(r, &d) != 0)
        goto fail3;

    if (ld_req_first_token(r, second, t + 2) != LD_OK ||
        ld_req_next(r, &d) != 0)
        goto fail4;

    if (ld_req_end(r, second, t + 4, &b->ok, NULL) != LD_OK)
        goto fail5;
    if (ld_req_next(r, &d) != 1 || d.kind != LD_DO_FINISH ||
        d.outcome != LD_OUT_SUCCESS || d.route != b->route_b ||
        d.status != 200 || d.cls != LD_FC_OVERLOADED)
        goto fail5;
    if (ld_req_next(r, &d) != 0)
        goto fail5;
    ld_req_free(r);
    if (b->events - ev0 != EVENTS_PER_CYCLE)
        return -6;
    b->cycles++;
    return 0;
fail2:
    ld_req_free(r);
    return -2;
fail3:
    ld_req_free(r);
    return -3;
fail4:
    ld_req_free(r);
    return -4;
fail5:
    ld_req_free(r);
    return -5;
}

static const char *const step_names[] = {
    "", "ld_req_start failed",
    "the first action was not a single START on rung 1",
    "after the 503 the next action was not a single START on rung 2",
    "the first token produced an action or was refused",
    "the 200 did not produce a single FINISH success on rung 2 (status 200,"
    " first class overloaded)",
    "the cycle did not deliver exactly 7 events (a breaker moved?)"};

/* Runs cycles for at least `ns` of wall time. Returns 0 or a step number. */
static int run_for(bench *b, int64_t ns, uint64_t *cycles, int64_t *elapsed)
{
    uint64_t n = 0;
    int64_t t0 = wall_ns(), t1;
    do {
        for (int i = 0; i < BATCH; i++) {
            int rc = cycle(b);
            if (rc < 0)
                return rc;
        }
        n += BATCH;
        t1 = wall_ns();
    } while (t1 - t0 < ns);
    *cycles = n;
    *elapsed = t1 - t0;
    return 0;
}

static void print_grouped(uint64_t v)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            putchar(',');
        putchar(digits[i]);
    }
}

int main(void)
{
    static bench b;
    ld_policy *p = NULL;
    ld_error err;
    int status = 1;

    if (ld_policy_parse(policy_text, strlen(policy_text), "bench_core",
                        &p, &err) != LD_OK) {
        fprintf(stderr, "bench_core: policy: %s\n", err.msg);
        return 1;
    }
    b.core = ld_core_new(p);
    if (b.core == NULL) {
        fprintf(stderr, "bench_core: out of memory\n");
        goto done;
    }
    ld_core_set_sink(b.core, count_sink, &b);
    b.route_a = ld_policy_route_index(p, "A");
    b.route_b = ld_policy_route_index(p, "B");
    b.spec = (ld_req_spec){.workload = -1, .tier = -1, .input_tokens = 500,
                           .output_tokens = 200, .caps = LD_CAP_STREAM,
                           .id = 0};
    /* an OpenAI-style 503 with its error body, and a streamed success */
    ld_raw_result_init(&b.fail);
    b.fail.http_status = 503;
    b.fail.error_type = "server_error";
    b.fail.error_message = MSG_503;
    ld_raw_result_init(&b.ok);
    b.ok.http_status = 200;
    b.ok.finish_reason = "stop";
    b.ok.completion_tokens = 200;
    b.now = ld_s(1);

    uint64_t warm_cycles, cycles;
    int64_t warm_ns, ns;
    int rc = run_for(&b, WARMUP_NS, &warm_cycles, &warm_ns);
    if (rc == 0) {
        n_allocs = 0;
        count_allocs = true;
        rc = run_for(&b, MEASURE_NS, &cycles, &ns);
        count_allocs = false;
    }
    /* The same cycle with a bare 503 (no error body): what the classifier's
     * reading of the provider's message costs, by difference. */
    uint64_t bare_cycles = 0, bare_allocs = 0;
    int64_t bare_ns = 1;
    if (rc == 0) {
        ld_raw_result_init(&b.fail);
        b.fail.http_status = 503;
        uint64_t a0 = n_allocs;
        count_allocs = true;
        rc = run_for(&b, BARE_NS, &bare_cycles, &bare_ns);
        count_allocs = false;
        bare_allocs = n_allocs - a0;
    }
    if (rc < 0) {
        fprintf(stderr, "bench_core: cycle %llu: %s\n",
                (unsigned long long)b.cycles + 1, step_names[-rc]);
        goto done;
    }

    ld_route_health ha, hb;
    ld_core_route_health(b.core, b.route_a, b.now, &ha);
    ld_core_route_health(b.core, b.route_b, b.now, &hb);
    if (ha.breaker != LD_BREAKER_CLOSED || hb.breaker != LD_BREAKER_CLOSED ||
        b.by_type[LD_EV_BREAKER] != 0 || b.by_type[LD_EV_SKIP] != 0) {
        fprintf(stderr, "bench_core: a breaker moved or a route was skipped\n");
        goto done;
    }

    uint64_t main_allocs = n_allocs - bare_allocs;
    double per_s = (double)cycles * 1e9 / (double)ns;
    double ns_per = (double)ns / (double)cycles;
    double allocs = (double)main_allocs / (double)cycles;
    bool met = per_s >= GOAL_CYCLES_PER_S && main_allocs == 0;

    printf("bench_core: request cycles through the routing core, one thread\n");
    printf("  cycle: start -> 503 on rung 1 (overloaded, rule \"next\") ->"
           " START on rung 2 -> first token -> 200 -> FINISH success;"
           " %d events to a counting sink\n", EVENTS_PER_CYCLE);
    printf("  policy: 4 routes, 4-rung ladder; breaker min_requests 1e9, so"
           " it stays closed although rung 1 fails every request\n");
    printf("  manual clock: +%d us per cycle (%.1f s simulated in all);"
           " health window 5 s, breaker and budget windows 10 s\n",
           STEP_US, (double)(b.now - ld_s(1)) / 1e6);
    printf("  warm-up: ");
    print_grouped(warm_cycles);
    printf(" cycles in %.2f s\n", (double)warm_ns / 1e9);
    printf("  failed attempt: HTTP 503, type \"server_error\", message"
           " \"%s\"\n", MSG_503);
    printf("  measured: ");
    print_grouped(cycles);
    printf(" cycles in %.2f s\n", (double)ns / 1e9);
    printf("  rung 2 TTFT p50 %lld us, p95 %lld us; breakers closed\n",
           (long long)hb.ttft_p50, (long long)hb.ttft_p95);
    printf("cycles per second: ");
    print_grouped((uint64_t)(per_s + 0.5));
    printf("\nns per cycle: %.1f\n", ns_per);
    if (main_allocs == 0)
        printf("allocations per cycle: 0\n");
    else
        printf("allocations per cycle: %.4f (%llu allocations)\n", allocs,
               (unsigned long long)main_allocs);
    printf("  same cycle, 503 without an error body (classifier reads no"
           " message): ");
    print_grouped((uint64_t)((double)bare_cycles * 1e9 / (double)bare_ns + 0.5));
    printf(" cycles/s, %.1f ns/cycle, %s allocations\n",
           (double)bare_ns / (double)bare_cycles,
           bare_allocs == 0 ? "no" : "some");
    printf("goal: >= 2,000,000 cycles/s (< 500 ns/cycle) with no per-request"
           " heap allocation: %s\n", met ? "MET" : "NOT MET");
    status = 0;
done:
    ld_core_free(b.core);
    ld_policy_free(p);
    return status;
}
