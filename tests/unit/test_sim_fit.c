/* test_sim_fit.c - fitting provider models from recorded requests. */
#include "testutil.h"

#include <stdlib.h>
#include <unistd.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "sim_fit.h"

#define LLMPERF_REPO "traces/llmperf/llmperf_requests.csv"

#define HEADER "provider,model_size,ttft_s,end_to_end_latency_s,output_tokens," \
               "error_code,error_msg,derived_decode_tok_per_s\n"

static gsl_rng *rng_new(unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    assert_non_null(r);
    gsl_rng_set(r, seed);
    return r;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A reader over a temporary file holding text. */
typedef struct mem {
    FILE *f;
    sim_csv *c;
} mem;

static void mem_open(mem *m, const char *text, size_t len)
{
    ld_error err = {{0}};
    m->f = tmpfile();
    assert_non_null(m->f);
    assert_int_equal(fwrite(text, 1, len, m->f), len);
    rewind(m->f);
    assert_int_equal(sim_csv_open_stream(m->f, "mem.csv", &m->c, &err), 0);
}

static void mem_close(mem *m)
{
    sim_csv_close(m->c);
    fclose(m->f);
}

/* Fit text with options o (NULL: defaults); returns the status, *out the
 * fit on success. */
static int fit_text(const char *text, const sim_fit_options *o, sim_fit **out,
                    ld_error *err)
{
    sim_fit_options d;
    if (o == NULL) {
        sim_fit_options_init(&d);
        o = &d;
    }
    mem m;
    mem_open(&m, text, strlen(text));
    int rc = sim_fit_read(m.c, o, out, err);
    mem_close(&m);
    return rc;
}

/* A growable text buffer for generated CSVs. */
typedef struct buf {
    char *s;
    size_t n, cap;
} buf;

static void bprintf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char line[512];
    int w = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    assert_true(w >= 0 && (size_t)w < sizeof line);
    if (b->n + (size_t)w + 1 > b->cap) {
        b->cap = (b->n + (size_t)w + 1) * 2;
        b->s = realloc(b->s, b->cap);
        assert_non_null(b->s);
    }
    memcpy(b->s + b->n, line, (size_t)w + 1);
    b->n += (size_t)w;
}

/* n successful rows for provider p, size z: TTFT around ttft_s, speed
 * around tps (deterministic spread). */
static void rows_ok(buf *b, const char *p, const char *z, int n, double ttft_s,
                    double tps)
{
    for (int i = 0; i < n; i++) {
        double t = ttft_s * (1 + 0.2 * ((i % 7) - 3) / 3.0);
        double s = tps * (1 + 0.1 * ((i % 5) - 2) / 2.0);
        bprintf(b, "%s,%s,%.6f,%.6f,150,,,%.3f\n", p, z, t, t + 150 / s, s);
    }
}

static void rows_err(buf *b, const char *p, const char *z, int n,
                     const char *code, const char *msg)
{
    for (int i = 0; i < n; i++)
        bprintf(b, "%s,%s,0,0,1,%s,%s,\n", p, z, code, msg);
}

/* ---- building blocks ----------------------------------------------------- */

static void test_fit_lognormal_recovers_median_and_sigma(void **state)
{
    (void)state;
    gsl_rng *r = rng_new(42);
    size_t n = 20000;
    double *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = gsl_ran_lognormal(r, log(350.0), 0.6);
    double median, sigma;
    assert_int_equal(sim_fit_lognormal(x, n, &median, &sigma), 0);
    assert_near(median, 350.0, 350.0 * 0.02);
    assert_near(sigma, 0.6, 0.6 * 0.02);
    free(x);
    gsl_rng_free(r);
}

static void test_fit_lognormal_refuses_non_positive_values(void **state)
{
    (void)state;
    double x[] = {1, 2, 0};
    double m = -1, s = -1;
    assert_int_equal(sim_fit_lognormal(x, 3, &m, &s), LD_EINVAL);
    assert_int_equal(sim_fit_lognormal(x, 1, &m, &s), LD_EINVAL);
    assert_near(m, -1, 0);
}

static void test_fit_normal_recovers_mean_and_sd(void **state)
{
    (void)state;
    gsl_rng *r = rng_new(7);
    size_t n = 20000;
    double *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = 85 + gsl_ran_gaussian(r, 12);
    double mean, sd;
    assert_int_equal(sim_fit_normal(x, n, &mean, &sd), 0);
    assert_near(mean, 85, 85 * 0.02);
    assert_near(sd, 12, 12 * 0.02);
    free(x);
    gsl_rng_free(r);
}

static void test_ks_of_exact_quantiles_is_half_a_step(void **state)
{
    (void)state;
    size_t n = 100;
    double x[100];
    for (size_t i = 0; i < n; i++)
        x[i] = gsl_cdf_lognormal_Pinv((i + 0.5) / (double)n, log(200.0), 0.4);
    assert_near(sim_fit_ks_lognormal(x, n, 200, 0.4), 0.5 / (double)n, 1e-9);
    for (size_t i = 0; i < n; i++)
        x[i] = 50 + gsl_cdf_gaussian_Pinv((i + 0.5) / (double)n, 5);
    assert_near(sim_fit_ks_normal(x, n, 50, 5), 0.5 / (double)n, 1e-9);
    /* bad parameters give the worst D */
    assert_near(sim_fit_ks_normal(x, n, 50, 0), 1, 0);
    assert_near(sim_fit_ks_lognormal(x, n, -1, 0.4), 1, 0);
}

static void test_ks_small_for_the_right_family_larger_for_the_wrong(void **state)
{
    (void)state;
    gsl_rng *r = rng_new(1234);
    size_t n = 3000;
    double *x = malloc(n * sizeof *x);
    assert_non_null(x);
    double crit = 1.358 / sqrt((double)n);
    double m, s, mean, sd;

    /* a skewed sample: the lognormal fits, the normal does not */
    for (size_t i = 0; i < n; i++)
        x[i] = gsl_ran_lognormal(r, log(400.0), 0.8);
    qsort(x, n, sizeof *x, cmp_d);
    assert_int_equal(sim_fit_lognormal(x, n, &m, &s), 0);
    assert_int_equal(sim_fit_normal(x, n, &mean, &sd), 0);
    double dl = sim_fit_ks_lognormal(x, n, m, s);
    double dn = sim_fit_ks_normal(x, n, mean, sd);
    assert_true(dl < crit);
    assert_true(dn > 0.1);
    assert_true(dn > 3 * dl);

    /* a symmetric sample: the normal fits better */
    for (size_t i = 0; i < n; i++)
        x[i] = 100 + gsl_ran_gaussian(r, 20);
    qsort(x, n, sizeof *x, cmp_d);
    assert_int_equal(sim_fit_lognormal(x, n, &m, &s), 0);
    assert_int_equal(sim_fit_normal(x, n, &mean, &sd), 0);
    dl = sim_fit_ks_lognormal(x, n, m, s);
    dn = sim_fit_ks_normal(x, n, mean, sd);
    assert_true(dn < crit);
    assert_true(dl > crit);
    assert_true(dl > 2 * dn);
    free(x);
    gsl_rng_free(r);
}

/* ---- error classes ------------------------------------------------------- */

static void test_classify_llmperf_codes(void **state)
{
    (void)state;
    /* lepton: bare 429 */
    assert_int_equal(sim_fit_classify("429", ""), LD_FC_RATE_LIMITED);
    /* perplexity: 429 with an error body */
    assert_int_equal(
        sim_fit_classify("429", "{\"error\":{\"message\":\"Token rate limit "
                                "exceeded, please try again later.\",\"type\":"
                                "\"token_rate_limit_exceeded\",\"code\":429}}"),
        LD_FC_RATE_LIMITED);
    /* pandas writes codes as floats */
    assert_int_equal(sim_fit_classify("429.0", NULL), LD_FC_RATE_LIMITED);
    /* bedrock: the answer stopped short */
    assert_int_equal(sim_fit_classify("-100", "Output too few tokens 39"),
                     LD_FC_STREAM_CUT);
    assert_int_equal(sim_fit_classify("-100", ""), LD_FC_STREAM_CUT);
    /* together: -1 is the client's default, no status */
    assert_int_equal(sim_fit_classify("-1", ""), LD_FC_SERVER_ERROR);
    assert_int_equal(sim_fit_classify("-1", NULL), LD_FC_SERVER_ERROR);
    assert_int_equal(sim_fit_classify("-1", "HTTPSConnectionPool: Read timed "
                                            "out. (read timeout=180)"),
                     LD_FC_TIMEOUT_TOTAL);
    assert_int_equal(sim_fit_classify("-1", "[Errno 111] Connection refused"),
                     LD_FC_CONNECT_ERROR);
    assert_int_equal(
        sim_fit_classify("-1", "HTTPSConnectionPool(host='x', port=443): Max "
                               "retries exceeded (Caused by ConnectTimeoutError("
                               "'Connection to x timed out. (connect "
                               "timeout=180)'))"),
        LD_FC_CONNECT_ERROR);
    assert_int_equal(
        sim_fit_classify("-1", "HTTPSConnectionPool(host='x', port=443): Max "
                               "retries exceeded (Caused by ReadTimeoutError("
                               "\"Read timed out. (read timeout=180)\"))"),
        LD_FC_TIMEOUT_TOTAL);
    assert_int_equal(sim_fit_classify("-1", "('Connection aborted.', "
                                            "RemoteDisconnected('Remote end "
                                            "closed connection'))"),
                     LD_FC_RESET);
    assert_int_equal(sim_fit_classify("-1", "JSONDecodeError: Expecting value: "
                                            "line 1 column 1 (char 0)"),
                     LD_FC_INVALID_RESPONSE);
    assert_int_equal(sim_fit_classify("-1", "Rate limit reached"),
                     LD_FC_RATE_LIMITED);
    /* HTTP statuses go through the core's classifier */
    assert_int_equal(sim_fit_classify("500", "Internal error"),
                     LD_FC_SERVER_ERROR);
    assert_int_equal(sim_fit_classify("502", ""), LD_FC_SERVER_ERROR);
    assert_int_equal(sim_fit_classify("503", ""), LD_FC_OVERLOADED);
    assert_int_equal(sim_fit_classify("408", ""), LD_FC_TIMEOUT_TOTAL);
    assert_int_equal(sim_fit_classify("401", ""), LD_FC_AUTH_ERROR);
    assert_int_equal(sim_fit_classify("422", ""), LD_FC_BAD_REQUEST);
    assert_int_equal(
        sim_fit_classify("429", "{\"error\":{\"message\":\"You exceeded your "
                                "current quota\",\"type\":\"insufficient_quota\","
                                "\"code\":\"insufficient_quota\"}}"),
        LD_FC_QUOTA_EXHAUSTED);
    assert_int_equal(
        sim_fit_classify("400", "{\"error\":{\"message\":\"This model's "
                                "maximum context length is 4096 tokens\","
                                "\"code\":\"context_length_exceeded\"}}"),
        LD_FC_CONTEXT_LENGTH);
    /* a status the core calls a success is still an error here */
    assert_int_equal(sim_fit_classify("200", ""), LD_FC_SERVER_ERROR);
    /* text codes */
    assert_int_equal(sim_fit_classify("rate_limit_exceeded", ""),
                     LD_FC_RATE_LIMITED);
    assert_int_equal(sim_fit_classify("Timeout", ""), LD_FC_TIMEOUT_TOTAL);
    assert_int_equal(sim_fit_classify("weird", "something broke"),
                     LD_FC_SERVER_ERROR);
    /* no code: not an error */
    assert_int_equal(sim_fit_classify("", "Output too few tokens 3"),
                     LD_FC_NONE);
    assert_int_equal(sim_fit_classify(NULL, NULL), LD_FC_NONE);
}

/* ---- whole files ------------------------------------------------------------ */

static void test_fit_groups_rows_by_columns_and_counts_errors(void **state)
{
    (void)state;
    buf b = {0};
    bprintf(&b, HEADER);
    rows_ok(&b, "groq", "70b", 30, 0.25, 250);
    rows_err(&b, "groq", "70b", 10, "429", "");
    rows_ok(&b, "lepton", "13b", 20, 1.0, 60);
    rows_err(&b, "lepton", "13b", 130, "429", "");
    rows_ok(&b, "bedrock", "13b", 25, 0.3, 40);
    rows_err(&b, "bedrock", "13b", 5, "-100", "Output too few tokens 39");
    rows_err(&b, "bedrock", "13b", 1, "-1", "");
    sim_fit *f = NULL;
    ld_error err = {{0}};
    int rc = fit_text(b.s, NULL, &f, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(sim_fit_count(f), 3);
    assert_int_equal(sim_fit_fitted_count(f), 3);
    /* sorted by route id */
    assert_string_equal(sim_fit_group_at(f, 0)->route, "bedrock-13b");
    assert_string_equal(sim_fit_group_at(f, 1)->route, "groq-70b");
    assert_string_equal(sim_fit_group_at(f, 2)->route, "lepton-13b");

    const sim_fit_group *g = sim_fit_find(f, "groq-70b");
    assert_non_null(g);
    assert_int_equal(g->rows, 40);
    assert_int_equal(g->ok, 30);
    assert_int_equal(g->err_count[LD_FC_RATE_LIMITED], 10);
    assert_near(g->ttft_ms.median, 250, 25);
    g = sim_fit_find(f, "lepton-13b");
    assert_int_equal(g->err_count[LD_FC_RATE_LIMITED], 130);
    assert_int_equal(g->rows, 150);
    g = sim_fit_find(f, "bedrock-13b");
    assert_int_equal(g->err_count[LD_FC_STREAM_CUT], 5);
    assert_int_equal(g->err_count[LD_FC_SERVER_ERROR], 1);
    assert_int_equal(g->ncodes, 2);
    assert_string_equal(g->codes[0].code, "-100");
    assert_int_equal(g->codes[0].count, 5);
    assert_int_equal(g->codes[1].cls, LD_FC_SERVER_ERROR);
    assert_null(sim_fit_find(f, "nope"));

    cJSON *j = NULL;
    assert_int_equal(sim_fit_providers_json(f, &j, &err), 0);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "providers");
    assert_int_equal(cJSON_GetArraySize(p), 3);
    assert_string_equal(p->child->string, "bedrock-13b");
    const cJSON *lep = cJSON_GetObjectItemCaseSensitive(p, "lepton-13b");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(lep, "errors");
    assert_near(cJSON_GetObjectItemCaseSensitive(e, "rate_limited")->valuedouble,
                130.0 / 150, 1e-6);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(lep, "ttft_ms");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(t, "dist")->valuestring,
                        "lognormal");
    assert_near(cJSON_GetObjectItemCaseSensitive(t, "median")->valuedouble, 1000,
                100);
    const cJSON *fit = cJSON_GetObjectItemCaseSensitive(lep, "_fit");
    assert_non_null(fit);
    const cJSON *ft = cJSON_GetObjectItemCaseSensitive(fit, "ttft_ms");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(ft, "n")->valueint, 20);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(ft, "ks_d"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(ft, "p99"), "observed"));
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(fit, "tokens_per_s");
    assert_non_null(cJSON_GetObjectItemCaseSensitive(fs, "ks_d_normal"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(fs, "ks_d_lognormal"));
    const cJSON *codes = cJSON_GetObjectItemCaseSensitive(fit, "error_codes");
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(codes, "429"), "class")
            ->valuestring,
        "rate_limited");
    const cJSON *be = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(p, "bedrock-13b"), "errors");
    assert_near(cJSON_GetObjectItemCaseSensitive(be, "stream_cut")->valuedouble,
                5.0 / 31, 1e-6);
    assert_near(cJSON_GetObjectItemCaseSensitive(be, "server_error")->valuedouble,
                1.0 / 31, 1e-6);
    cJSON_Delete(j);
    sim_fit_free(f);
    free(b.s);
}

static void test_fit_picks_the_speed_family_with_the_smaller_ks(void **state)
{
    (void)state;
    gsl_rng *r = rng_new(99);
    buf b = {0};
    bprintf(&b, HEADER);
    for (int i = 0; i < 400; i++) {
        double t = gsl_ran_lognormal(r, log(0.3), 0.3);
        bprintf(&b, "skew,1,%.6f,9,150,,,%.4f\n", t,
                gsl_ran_lognormal(r, log(50.0), 0.9));
        bprintf(&b, "sym,1,%.6f,9,150,,,%.4f\n", t,
                100 + gsl_ran_gaussian(r, 25));
    }
    sim_fit *f = NULL;
    ld_error err = {{0}};
    assert_int_equal(fit_text(b.s, NULL, &f, &err), 0);
    const sim_fit_group *g = sim_fit_find(f, "skew-1");
    assert_int_equal(g->tps.family, SIM_FIT_LOGNORMAL);
    assert_true(g->tps.ks_lognormal < g->tps.ks_normal);
    assert_near(g->tps.median, 50, 50 * 0.1);
    g = sim_fit_find(f, "sym-1");
    assert_int_equal(g->tps.family, SIM_FIT_NORMAL);
    assert_true(g->tps.ks_normal <= g->tps.ks_lognormal);
    assert_near(g->tps.mean, 100, 5);
    assert_near(g->tps.min_value, 1, 0);
    /* TTFT is always lognormal, in ms */
    assert_int_equal(g->ttft_ms.family, SIM_FIT_LOGNORMAL);
    assert_near(g->ttft_ms.median, 300, 300 * 0.05);
    assert_near(g->ttft_ms.fit_p50, g->ttft_ms.median, 1e-9);
    assert_true(g->ttft_ms.fit_p99 > g->ttft_ms.fit_p50);
    sim_fit_free(f);
    free(b.s);
    gsl_rng_free(r);
}

static void test_fit_route_map_renames_groups(void **state)
{
    (void)state;
    buf b = {0};
    bprintf(&b, HEADER);
    rows_ok(&b, "groq", "70b", 25, 0.2, 250);
    rows_ok(&b, "together", "7b", 25, 0.5, 100);
    cJSON *map = cJSON_Parse("{\"groq-70b\": \"llama-70b-fast\", "
                             "\"nobody-1b\": \"x\"}");
    assert_non_null(map);
    sim_fit_options o;
    sim_fit_options_init(&o);
    o.route_map = map;
    sim_fit *f = NULL;
    ld_error err = {{0}};
    assert_int_equal(fit_text(b.s, &o, &f, &err), 0);
    const sim_fit_group *g = sim_fit_find(f, "llama-70b-fast");
    assert_non_null(g);
    assert_string_equal(g->key, "groq-70b");
    assert_null(sim_fit_find(f, "groq-70b"));
    assert_non_null(sim_fit_find(f, "together-7b"));
    assert_string_equal(sim_fit_unmatched_route(f, 0), "nobody-1b");
    assert_null(sim_fit_unmatched_route(f, 1));
    sim_fit_free(f);
    cJSON_Delete(map);

    /* two groups on one route id */
    map = cJSON_Parse("{\"groq-70b\": \"together-7b\"}");
    o.route_map = map;
    f = NULL;
    assert_int_equal(fit_text(b.s, &o, &f, &err), LD_EINVAL);
    assert_null(f);
    assert_non_null(strstr(err.msg, "both have route id \"together-7b\""));
    cJSON_Delete(map);

    /* a route id must be a string */
    map = cJSON_Parse("{\"groq-70b\": 3}");
    o.route_map = map;
    assert_int_equal(fit_text(b.s, &o, &f, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "route map: groq-70b: must be a route id"));
    cJSON_Delete(map);

    /* the object form names the provider model's upstream and model, and
     * the providers file carries them (policies bind routes by them) */
    map = cJSON_Parse("{\"groq-70b\": {\"name\": \"fast\", \"upstream\":"
                      " \"groq\", \"model\": \"llama-3.3-70b\"}}");
    o.route_map = map;
    assert_int_equal(fit_text(b.s, &o, &f, &err), 0);
    g = sim_fit_find(f, "fast");
    assert_non_null(g);
    assert_string_equal(g->upstream, "groq");
    assert_string_equal(g->model, "llama-3.3-70b");
    cJSON *json = NULL;
    assert_int_equal(sim_fit_providers_json(f, &json, &err), 0);
    const cJSON *fast = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(json, "providers"), "fast");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(fast, "upstream")->valuestring,
                        "groq");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(fast, "model")->valuestring,
                        "llama-3.3-70b");
    cJSON_Delete(json);
    sim_fit_free(f);
    cJSON_Delete(map);
    /* an object needs a name, and only these keys */
    map = cJSON_Parse("{\"groq-70b\": {\"upstream\": \"groq\"}}");
    o.route_map = map;
    assert_int_equal(fit_text(b.s, &o, &f, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "or {\"name\", \"upstream\", \"model\"}"));
    cJSON_Delete(map);
    free(b.s);
}

static void test_fit_by_one_column_joins_nothing(void **state)
{
    (void)state;
    buf b = {0};
    bprintf(&b, HEADER);
    rows_ok(&b, "groq", "70b", 15, 0.2, 250);
    rows_ok(&b, "groq", "8b", 15, 0.2, 250);
    sim_fit_options o;
    sim_fit_options_init(&o);
    o.by[0] = "provider";
    o.nby = 1;
    sim_fit *f = NULL;
    ld_error err = {{0}};
    assert_int_equal(fit_text(b.s, &o, &f, &err), 0);
    assert_int_equal(sim_fit_count(f), 1);
    assert_string_equal(sim_fit_group_at(f, 0)->route, "groq");
    assert_int_equal(sim_fit_group_at(f, 0)->ok, 30);
    sim_fit_free(f);
    free(b.s);
}

static void test_fit_bad_rows_are_skipped_counted_and_named(void **state)
{
    (void)state;
    buf b = {0};
    bprintf(&b, HEADER);
    rows_ok(&b, "a", "1", 25, 0.2, 100);             /* lines 2..26 */
    bprintf(&b, "a,1,abc,1,150,,,100\n");             /* line 27 */
    bprintf(&b, "a,1,0.2,1,150,,,\n");                /* 28: no speed */
    bprintf(&b, "a,1,0.2\n");                         /* 29: short */
    bprintf(&b, ",1,0.2,1,150,,,100\n");              /* 30: no provider */
    bprintf(&b, "a,1,-0.5,1,150,,,100\n");            /* 31: negative */
    bprintf(&b, "a,1,0.2,1,150,,,1e999\n");           /* 32: not finite */
    rows_err(&b, "a", "1", 2, "429", "");             /* lines 33, 34 */
    sim_fit *f = NULL;
    ld_error err = {{0}};
    assert_int_equal(fit_text(b.s, NULL, &f, &err), 0);
    assert_int_equal(sim_fit_rows_skipped(f), 6);
    assert_string_equal(sim_fit_note(f, 0),
                        "line 27: ttft_s is not a number (\"abc\")");
    assert_string_equal(sim_fit_note(f, 1),
                        "line 28: derived_decode_tok_per_s is empty");
    assert_string_equal(sim_fit_note(f, 2),
                        "line 29: has 3 fields, the header has 8");
    assert_string_equal(sim_fit_note(f, 3), "line 30: provider is empty");
    assert_string_equal(sim_fit_note(f, 4),
                        "line 31: ttft_s must be > 0 (got -0.5)");
    assert_null(sim_fit_note(f, 5)); /* only the first few are kept */
    const sim_fit_group *g = sim_fit_find(f, "a-1");
    assert_int_equal(g->ok, 25);
    assert_int_equal(g->errors, 2);
    assert_int_equal(g->rows, 27);
    assert_int_equal(g->bad_rows, 5);
    sim_fit_free(f);
    free(b.s);
}

static void test_fit_missing_column_names_it_and_lists_the_header(void **state)
{
    (void)state;
    sim_fit *f = NULL;
    ld_error err = {{0}};
    assert_int_equal(fit_text("provider,model_size,ttfb,error_code\n"
                              "a,1,0.2,\n",
                              NULL, &f, &err),
                     LD_EINVAL);
    assert_null(f);
    assert_string_equal(err.msg,
                        "mem.csv: no column \"ttft_s\" (time to first token); "
                        "the header has: provider, model_size, ttfb, "
                        "error_code");

    assert_int_equal(fit_text("provider,ttft_s,error_code\n", NULL, &f, &err),
                     LD_EINVAL);
    assert_non_null(strstr(err.msg, "no column \"model_size\" (a group column)"));

    /* no speed column and nothing to compute it from */
    assert_int_equal(fit_text("provider,model_size,ttft_s,error_code\n", NULL,
                              &f, &err),
                     LD_EINVAL);
    assert_non_null(strstr(err.msg, "no column \"end_to_end_latency_s\""));

    /* a speed column asked for by name must be there */
    sim_fit_options o;
    sim_fit_options_init(&o);
    o.col_tps = "tps";
    o.tps_fallback = false;
    assert_int_equal(fit_text(HEADER, &o, &f, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "no column \"tps\" (tokens per second)"));
}

static void test_fit_empty_inputs_are_errors(void **state)
{
    (void)state;
    sim_fit *f = NULL;
    ld_error err = {{0}};
    assert_int_equal(fit_text("", NULL, &f, &err), LD_EINVAL);
    assert_string_equal(err.msg, "mem.csv: empty file (no header row)");
    assert_int_equal(fit_text(HEADER, NULL, &f, &err), LD_EINVAL);
    assert_string_equal(err.msg, "mem.csv: no data rows after the header");
    assert_int_equal(fit_text(HEADER "a,1,x,1,1,,,1\n", NULL, &f, &err),
                     LD_EINVAL);
    assert_string_equal(err.msg, "mem.csv: no usable rows (1 skipped; line 2: "
                                 "ttft_s is not a number (\"x\"))");
    assert_null(f);
}

static void test_fit_small_groups_are_kept_but_not_fitted(void **state)
{
    (void)state;
    buf b = {0};
    bprintf(&b, HEADER);
    rows_ok(&b, "big", "1", 20, 0.2, 100);
    rows_ok(&b, "small", "1", 5, 0.2, 100);
    rows_err(&b, "small", "1", 50, "429", "");
    sim_fit *f = NULL;
    ld_error err = {{0}};
    assert_int_equal(fit_text(b.s, NULL, &f, &err), 0);
    assert_int_equal(sim_fit_count(f), 2);
    assert_int_equal(sim_fit_fitted_count(f), 1);
    const sim_fit_group *g = sim_fit_find(f, "small-1");
    assert_false(g->fitted);
    assert_string_equal(g->why, "5 successful requests, fewer than 20");
    cJSON *j = NULL;
    assert_int_equal(sim_fit_providers_json(f, &j, &err), 0);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "providers");
    assert_int_equal(cJSON_GetArraySize(p), 1);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(p, "big-1"));
    cJSON_Delete(j);
    sim_fit_free(f);

    /* with a higher bar no group qualifies */
    sim_fit_options o;
    sim_fit_options_init(&o);
    o.min_samples = 21;
    assert_int_equal(fit_text(b.s, &o, &f, &err), 0);
    assert_int_equal(sim_fit_fitted_count(f), 0);
    assert_int_equal(sim_fit_providers_json(f, &j, &err), LD_EINVAL);
    assert_null(j);
    assert_string_equal(err.msg, "mem.csv: no group has 21 successful "
                                 "requests to fit (2 groups)");
    sim_fit_free(f);

    o.min_samples = 1;
    assert_int_equal(fit_text(b.s, &o, &f, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "min_samples must be at least 2"));
    free(b.s);
}

static void test_fit_computes_speed_without_a_speed_column(void **state)
{
    (void)state;
    buf b = {0};
    bprintf(&b, "provider,model_size,ttft_s,end_to_end_latency_s,"
                "output_tokens,error_code\n");
    for (int i = 0; i < 30; i++) /* 100 tokens in 1 s after a 0.5 s TTFT */
        bprintf(&b, "p,1,0.5,1.5,100,\n");
    sim_fit *f = NULL;
    ld_error err = {{0}};
    assert_int_equal(fit_text(b.s, NULL, &f, &err), 0);
    const sim_fit_group *g = sim_fit_group_at(f, 0);
    assert_near(g->tps.mean, 100, 1e-9);
    assert_near(g->tps.sd, 0, 1e-9);
    assert_int_equal(g->tps.family, SIM_FIT_NORMAL); /* exact */
    assert_near(g->ttft_ms.median, 500, 1e-6);
    assert_true(g->ttft_ms.sigma > 0); /* floored: a lognormal needs > 0 */
    cJSON *j = NULL;
    assert_int_equal(sim_fit_providers_json(f, &j, &err), 0);
    cJSON_Delete(j);
    sim_fit_free(f);
    free(b.s);
}

static void test_fit_time_unit_ms(void **state)
{
    (void)state;
    buf b = {0};
    bprintf(&b, HEADER);
    rows_ok(&b, "p", "1", 30, 250, 100); /* "seconds" that are ms */
    sim_fit_options o;
    sim_fit_options_init(&o);
    o.time_unit_ms = 1;
    o.col_tps = "nope"; /* compute the speed: e2e - ttft in ms */
    sim_fit *f = NULL;
    ld_error err = {{0}};
    assert_int_equal(fit_text(b.s, &o, &f, &err), 0);
    const sim_fit_group *g = sim_fit_group_at(f, 0);
    assert_near(g->ttft_ms.median, 250, 25);
    /* rows_ok puts 150 tokens in 150 / s "seconds", here ms: 1000x faster */
    assert_true(g->tps.mean > 50000);
    sim_fit_free(f);
    free(b.s);
}

static void test_fit_reads_quotes_and_crlf(void **state)
{
    (void)state;
    buf b = {0};
    bprintf(&b, "provider,model_size,ttft_s,end_to_end_latency_s,"
                "output_tokens,error_code,error_msg,derived_decode_tok_per_s\r\n");
    for (int i = 0; i < 20; i++)
        bprintf(&b, "\"p\",\"1\",0.%d,2,150,\"\",\"\",%d\r\n", 2 + i % 3,
                90 + i);
    bprintf(&b, "p,1,0,0,1,-1,\"HTTPSConnectionPool(host=x, port=443): Read "
                "timed out.\r\n(read timeout=180)\",\r\n");
    sim_fit *f = NULL;
    ld_error err = {{0}};
    int rc = fit_text(b.s, NULL, &f, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    const sim_fit_group *g = sim_fit_find(f, "p-1");
    assert_int_equal(g->ok, 20);
    assert_int_equal(g->err_count[LD_FC_TIMEOUT_TOTAL], 1);
    assert_int_equal(sim_fit_rows_skipped(f), 0);
    sim_fit_free(f);
    free(b.s);
}

static void test_fit_never_crashes_on_garbage(void **state)
{
    (void)state;
    static const char alphabet[] = ",,,\"\n\r0123456789.-e aX4290";
    gsl_rng *r = rng_new(5);
    for (int t = 0; t < 300; t++) {
        buf b = {0};
        bprintf(&b, t % 2 ? HEADER : "provider,model_size,ttft_s,error_code\n");
        size_t len = gsl_rng_uniform_int(r, 600);
        for (size_t i = 0; i < len; i++) {
            char c[2] = {alphabet[gsl_rng_uniform_int(r, sizeof alphabet - 1)],
                         0};
            bprintf(&b, "%s", c);
        }
        sim_fit *f = NULL;
        ld_error err = {{0}};
        int rc = fit_text(b.s, NULL, &f, &err);
        if (rc == 0) {
            cJSON *j = NULL;
            rc = sim_fit_providers_json(f, &j, &err);
            assert_true(rc == 0 || rc == LD_EINVAL);
            cJSON_Delete(j);
        } else {
            assert_null(f);
            assert_true(err.msg[0] != '\0');
        }
        sim_fit_free(f);
        free(b.s);
    }
    gsl_rng_free(r);
}

static void test_fit_llmperf_leaderboard_file(void **state)
{
    (void)state;
    const char *path = LLMPERF_REPO;
    if (access(path, R_OK) != 0)
        fail_msg("%s is missing (run from the repository root)", path);
    sim_fit_options o;
    sim_fit_options_init(&o);
    sim_fit *f = NULL;
    ld_error err = {{0}};
    int rc = sim_fit_file(path, &o, &f, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(sim_fit_count(f), 19);
    assert_int_equal(sim_fit_fitted_count(f), 19);
    assert_int_equal(sim_fit_rows_skipped(f), 0);
    int64_t rows = 0;
    for (size_t i = 0; i < sim_fit_count(f); i++) {
        const sim_fit_group *g = sim_fit_group_at(f, i);
        rows += g->rows;
        assert_true(g->ttft_ms.median > 100 && g->ttft_ms.median < 5000);
        assert_true(g->tps.n == g->ok);
    }
    assert_int_equal(rows, 2845);
    const sim_fit_group *g = sim_fit_find(f, "lepton-13b");
    assert_non_null(g);
    assert_int_equal(g->err_count[LD_FC_RATE_LIMITED], 130);
    assert_int_equal(g->ok, 20);
    g = sim_fit_find(f, "bedrock-13b");
    assert_int_equal(g->err_count[LD_FC_STREAM_CUT], 97);
    g = sim_fit_find(f, "perplexity-70b");
    assert_int_equal(g->err_count[LD_FC_RATE_LIMITED], 2);
    g = sim_fit_find(f, "together-13b");
    assert_int_equal(g->err_count[LD_FC_SERVER_ERROR], 1);
    g = sim_fit_find(f, "groq-70b");
    assert_int_equal(g->errors, 0);
    assert_true(g->tps.mean > 150); /* Groq was the fast one */
    sim_fit_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_lognormal_recovers_median_and_sigma),
        cmocka_unit_test(test_fit_lognormal_refuses_non_positive_values),
        cmocka_unit_test(test_fit_normal_recovers_mean_and_sd),
        cmocka_unit_test(test_ks_of_exact_quantiles_is_half_a_step),
        cmocka_unit_test(test_ks_small_for_the_right_family_larger_for_the_wrong),
        cmocka_unit_test(test_classify_llmperf_codes),
        cmocka_unit_test(test_fit_groups_rows_by_columns_and_counts_errors),
        cmocka_unit_test(test_fit_picks_the_speed_family_with_the_smaller_ks),
        cmocka_unit_test(test_fit_route_map_renames_groups),
        cmocka_unit_test(test_fit_by_one_column_joins_nothing),
        cmocka_unit_test(test_fit_bad_rows_are_skipped_counted_and_named),
        cmocka_unit_test(test_fit_missing_column_names_it_and_lists_the_header),
        cmocka_unit_test(test_fit_empty_inputs_are_errors),
        cmocka_unit_test(test_fit_small_groups_are_kept_but_not_fitted),
        cmocka_unit_test(test_fit_computes_speed_without_a_speed_column),
        cmocka_unit_test(test_fit_time_unit_ms),
        cmocka_unit_test(test_fit_reads_quotes_and_crlf),
        cmocka_unit_test(test_fit_never_crashes_on_garbage),
        cmocka_unit_test(test_fit_llmperf_leaderboard_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
