/* test_sim_csv.c - the streaming CSV reader. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "sim_csv.h"

/* the repository's copies (traces/, with their licences) */
#define AZURE_CONV "traces/azure_llm_2023/AzureLLMInferenceTrace_conv.csv"
#define LLMPERF "traces/llmperf/llmperf_requests.csv"

typedef struct mem {
    FILE *f;
    sim_csv *c;
} mem;

/* A reader over text (len bytes, NULs allowed) named "mem.csv". */
static void mem_open(mem *m, const char *text, size_t len)
{
    ld_error err = {{0}};
    m->f = tmpfile();
    assert_non_null(m->f);
    assert_int_equal(fwrite(text, 1, len, m->f), len);
    rewind(m->f);
    assert_int_equal(sim_csv_open_stream(m->f, "mem.csv", &m->c, &err), 0);
    assert_non_null(m->c);
}

static void mem_str(mem *m, const char *text)
{
    mem_open(m, text, strlen(text));
}

static void mem_close(mem *m)
{
    sim_csv_close(m->c);
    fclose(m->f);
}

/* Expect the next record to be exactly the n strings in want. */
static void expect_record(sim_csv *c, size_t n, const char *const *want)
{
    const char *const *f;
    size_t nf;
    ld_error err = {{0}};
    int rc = sim_csv_next(c, &f, &nf, &err);
    if (rc != 1)
        fail_msg("sim_csv_next: %d %s", rc, err.msg);
    assert_int_equal(nf, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(f[i], want[i]);
}

#define EXPECT(c, ...)                                                      \
    do {                                                                    \
        const char *const w_[] = {__VA_ARGS__};                             \
        expect_record((c), sizeof w_ / sizeof w_[0], w_);                   \
    } while (0)

static void expect_eof(sim_csv *c)
{
    const char *const *f;
    size_t nf;
    ld_error err = {{0}};
    assert_int_equal(sim_csv_next(c, &f, &nf, &err), 0);
    assert_int_equal(nf, 0);
    assert_int_equal(sim_csv_next(c, &f, &nf, &err), 0); /* stays at EOF */
}

/* Expect an error with rc and a message containing both strings. */
static void expect_error(sim_csv *c, int want_rc, const char *s1,
                         const char *s2)
{
    const char *const *f;
    size_t nf;
    ld_error err = {{0}};
    int rc = sim_csv_next(c, &f, &nf, &err);
    if (rc != want_rc)
        fail_msg("rc %d, wanted %d (%s)", rc, want_rc, err.msg);
    if (strstr(err.msg, s1) == NULL || strstr(err.msg, s2) == NULL)
        fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", err.msg, s1, s2);
}

static void test_csv_plain_records(void **state)
{
    (void)state;
    mem m;
    mem_str(&m, "a,b,c\n1,2,3\n");
    EXPECT(m.c, "a", "b", "c");
    assert_int_equal(sim_csv_line(m.c), 1);
    EXPECT(m.c, "1", "2", "3");
    assert_int_equal(sim_csv_line(m.c), 2);
    expect_eof(m.c);
    mem_close(&m);
}

static void test_csv_quoted_fields_keep_commas_and_escaped_quotes(void **state)
{
    (void)state;
    mem m;
    mem_str(&m, "a,\"b,c\",\"say \"\"hi\"\"\",\"\"\"\",d\n"
                "\"\",\"x\"\n");
    EXPECT(m.c, "a", "b,c", "say \"hi\"", "\"", "d");
    EXPECT(m.c, "", "x");
    expect_eof(m.c);
    mem_close(&m);
}

static void test_csv_embedded_newlines_count_in_line_numbers(void **state)
{
    (void)state;
    mem m;
    mem_str(&m, "id,text\n"
                "1,\"first\nsecond\nthird\"\n"
                "2,plain\n"
                "3,\"a\r\nb\"\r\n"
                "4,end\n");
    EXPECT(m.c, "id", "text");
    assert_int_equal(sim_csv_line(m.c), 1);
    EXPECT(m.c, "1", "first\nsecond\nthird");
    assert_int_equal(sim_csv_line(m.c), 2);
    EXPECT(m.c, "2", "plain");
    assert_int_equal(sim_csv_line(m.c), 5);
    EXPECT(m.c, "3", "a\r\nb");
    assert_int_equal(sim_csv_line(m.c), 6);
    EXPECT(m.c, "4", "end");
    assert_int_equal(sim_csv_line(m.c), 8);
    expect_eof(m.c);
    mem_close(&m);
}

static void test_csv_crlf_and_lone_cr_end_records(void **state)
{
    (void)state;
    mem m;
    mem_str(&m, "a,b\r\nc,d\r\n\r\ne,f\rg,h");
    EXPECT(m.c, "a", "b");
    EXPECT(m.c, "c", "d");
    assert_int_equal(sim_csv_line(m.c), 2);
    EXPECT(m.c, "e", "f"); /* after a blank CRLF line */
    assert_int_equal(sim_csv_line(m.c), 4);
    EXPECT(m.c, "g", "h");
    assert_int_equal(sim_csv_line(m.c), 5);
    expect_eof(m.c);
    mem_close(&m);
}

static void test_csv_empty_fields_and_blank_lines(void **state)
{
    (void)state;
    mem m;
    mem_str(&m, ",,\n\na,,b\n\n\nx,\n\"\"\n,\"\"\n");
    EXPECT(m.c, "", "", "");
    EXPECT(m.c, "a", "", "b");
    assert_int_equal(sim_csv_line(m.c), 3);
    EXPECT(m.c, "x", "");
    assert_int_equal(sim_csv_line(m.c), 6);
    EXPECT(m.c, "");
    EXPECT(m.c, "", "");
    expect_eof(m.c);
    mem_close(&m);
}

static void test_csv_last_record_may_lack_line_end(void **state)
{
    (void)state;
    mem m;
    mem_str(&m, "a,b\n\"c\",d");
    EXPECT(m.c, "a", "b");
    EXPECT(m.c, "c", "d");
    expect_eof(m.c);
    mem_close(&m);

    mem_str(&m, "x,");
    EXPECT(m.c, "x", "");
    expect_eof(m.c);
    mem_close(&m);
}

static void test_csv_empty_input_is_eof(void **state)
{
    (void)state;
    mem m;
    mem_str(&m, "");
    expect_eof(m.c);
    mem_close(&m);
    mem_str(&m, "\n\r\n\n");
    expect_eof(m.c);
    mem_close(&m);
}

static void test_csv_quote_inside_unquoted_field_is_literal(void **state)
{
    (void)state;
    mem m;
    mem_str(&m, "5'10\",ok\n");
    EXPECT(m.c, "5'10\"", "ok");
    mem_close(&m);
}

static void test_csv_byte_order_mark_is_skipped(void **state)
{
    (void)state;
    mem m;
    mem_str(&m, "\xEF\xBB\xBFname,value\nx,1\n");
    assert_int_equal(sim_csv_read_header(m.c, NULL), 0);
    assert_int_equal(sim_csv_header_index(m.c, "name"), 0);
    EXPECT(m.c, "x", "1");
    mem_close(&m);
}

static void test_csv_header_lookup(void **state)
{
    (void)state;
    mem m;
    ld_error err = {{0}};
    mem_str(&m, "provider,ttft_s,\"odd, name\",ttft_s\nx,1,2,3\n");
    assert_int_equal(sim_csv_header_index(m.c, "provider"), LD_ESTATE);
    assert_int_equal(sim_csv_header_count(m.c), 0);
    assert_int_equal(sim_csv_read_header(m.c, &err), 0);
    assert_int_equal(sim_csv_header_count(m.c), 4);
    assert_int_equal(sim_csv_header_index(m.c, "provider"), 0);
    assert_int_equal(sim_csv_header_index(m.c, "ttft_s"), 1); /* first */
    assert_int_equal(sim_csv_header_index(m.c, "odd, name"), 2);
    assert_int_equal(sim_csv_header_index(m.c, "Provider"), LD_ENOENT);
    assert_int_equal(sim_csv_header_index(m.c, "missing"), LD_ENOENT);
    EXPECT(m.c, "x", "1", "2", "3"); /* the header survives next() */
    assert_int_equal(sim_csv_header_index(m.c, "odd, name"), 2);
    mem_close(&m);

    mem_str(&m, "\n");
    assert_int_equal(sim_csv_read_header(m.c, &err), LD_EINVAL);
    assert_non_null(strstr(err.msg, "mem.csv"));
    assert_non_null(strstr(err.msg, "no header"));
    mem_close(&m);
}

static void test_csv_unterminated_quote_names_line(void **state)
{
    (void)state;
    mem m;
    mem_str(&m, "a,b\nc,d\ne,\"never\nclosed\n");
    EXPECT(m.c, "a", "b");
    EXPECT(m.c, "c", "d");
    expect_error(m.c, LD_EINVAL, "mem.csv:3: ", "unterminated");
    /* the reader stays failed */
    expect_error(m.c, LD_ESTATE, "mem.csv", "failed");
    mem_close(&m);
}

static void test_csv_text_after_closing_quote_is_error(void **state)
{
    (void)state;
    mem m;
    mem_str(&m, "x\n\"ab\"c,d\n");
    EXPECT(m.c, "x");
    expect_error(m.c, LD_EINVAL, "mem.csv:2: ", "after closing quote");
    mem_close(&m);
}

static void test_csv_nul_byte_is_error(void **state)
{
    (void)state;
    mem m;
    mem_open(&m, "a,b\nc\0d,e\n", 10);
    EXPECT(m.c, "a", "b");
    expect_error(m.c, LD_EINVAL, "mem.csv:2: ", "NUL");
    mem_close(&m);
}

static void test_csv_field_over_cap_is_error_naming_line(void **state)
{
    (void)state;
    size_t big = SIM_CSV_MAX_FIELD;
    char *buf = malloc(big + 64);
    assert_non_null(buf);

    /* exactly the cap: fine */
    size_t n = 0;
    n += (size_t)snprintf(buf, 3, "h\n");
    memset(buf + n, 'x', big);
    n += big;
    buf[n++] = '\n';
    mem m;
    mem_open(&m, buf, n);
    EXPECT(m.c, "h");
    const char *const *f;
    size_t nf;
    assert_int_equal(sim_csv_next(m.c, &f, &nf, NULL), 1);
    assert_int_equal(strlen(f[0]), big);
    expect_eof(m.c);
    mem_close(&m);

    /* one byte more, quoted: an error, not a truncated field */
    n = 0;
    n += (size_t)snprintf(buf, 4, "h\n\"");
    memset(buf + n, 'x', big + 1);
    n += big + 1;
    buf[n++] = '"';
    mem_open(&m, buf, n);
    EXPECT(m.c, "h");
    expect_error(m.c, LD_ELIMIT, "mem.csv:2: ", "field 1 is longer than");
    mem_close(&m);
    free(buf);
}

static void test_csv_record_over_cap_is_error_naming_line(void **state)
{
    (void)state;
    /* 2^19 + 1 fields "x": 2^20 + 1 bytes with separators */
    size_t nfields = ((size_t)1 << 19) + 1, n = 0;
    char *buf = malloc(2 * nfields + 16);
    assert_non_null(buf);
    n += (size_t)snprintf(buf, 5, "a\nb\n");
    for (size_t i = 0; i < nfields; i++) {
        buf[n++] = 'x';
        buf[n++] = ',';
    }
    buf[n - 1] = '\n';
    mem m;
    mem_open(&m, buf, n);
    EXPECT(m.c, "a");
    EXPECT(m.c, "b");
    expect_error(m.c, LD_ELIMIT, "mem.csv:3: ", "record is longer than");
    mem_close(&m);

    /* one field fewer fits: 2^20 - 1 bytes */
    n -= 2;
    buf[n - 1] = '\n';
    mem_open(&m, buf, n);
    EXPECT(m.c, "a");
    EXPECT(m.c, "b");
    const char *const *f;
    size_t nf;
    assert_int_equal(sim_csv_next(m.c, &f, &nf, NULL), 1);
    assert_int_equal(nf, nfields - 1);
    mem_close(&m);
    free(buf);
}

static void test_csv_open_missing_file_names_path_and_reason(void **state)
{
    (void)state;
    sim_csv *c = (sim_csv *)1;
    ld_error err = {{0}};
    assert_int_equal(sim_csv_open("/nonexistent/dir/x.csv", &c, &err),
                     LD_EINVAL);
    assert_null(c);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/x.csv"));
    assert_non_null(strstr(err.msg, strerror(ENOENT)));
    sim_csv_close(NULL);
}

static void test_csv_open_reads_a_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_sim_csv_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "k,v\r\n1,\"2,5\"\r\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    sim_csv *c = NULL;
    ld_error err = {{0}};
    assert_int_equal(sim_csv_open(path, &c, &err), 0);
    unlink(path);
    assert_string_equal(sim_csv_name(c), path);
    assert_int_equal(sim_csv_read_header(c, &err), 0);
    assert_int_equal(sim_csv_header_index(c, "v"), 1);
    EXPECT(c, "1", "2,5");
    expect_eof(c);
    sim_csv_close(c);
}

static void test_csv_parse_double_is_strict(void **state)
{
    (void)state;
    double x = -7;
    assert_int_equal(sim_csv_parse_double("1.5", &x), 0);
    assert_near(x, 1.5, 0);
    assert_int_equal(sim_csv_parse_double("-2e-3", &x), 0);
    assert_near(x, -2e-3, 0);
    assert_int_equal(sim_csv_parse_double("42", &x), 0);
    assert_near(x, 42, 0);
    const char *bad[] = {"", " 1", "1 ", "1.5x", "abc", "1e999", "-1e999",
                         "nan", "inf", "-inf", "1,5", "\t2"};
    x = -7;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (sim_csv_parse_double(bad[i], &x) != LD_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_near(x, -7, 0); /* untouched */
    }
}

static void test_csv_parse_int64_is_strict(void **state)
{
    (void)state;
    int64_t v = -7;
    assert_int_equal(sim_csv_parse_int64("42", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(sim_csv_parse_int64("-9223372036854775808", &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(sim_csv_parse_int64("9223372036854775807", &v), 0);
    assert_true(v == INT64_MAX);
    const char *bad[] = {"", " 1", "1 ", "1.0", "0x10", "abc",
                         "9223372036854775808", "-9223372036854775809",
                         "1e3"};
    v = -7;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (sim_csv_parse_int64(bad[i], &v) != LD_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(v, -7);
    }
}

static void test_csv_reads_azure_conv_trace_to_the_end(void **state)
{
    (void)state;
    if (access(AZURE_CONV, R_OK) != 0)
        fail_msg("%s is missing (run from the repository root)", AZURE_CONV);
    sim_csv *c = NULL;
    ld_error err = {{0}};
    assert_int_equal(sim_csv_open(AZURE_CONV, &c, &err), 0);
    assert_int_equal(sim_csv_read_header(c, &err), 0);
    assert_int_equal(sim_csv_header_count(c), 3);
    assert_int_equal(sim_csv_header_index(c, "TIMESTAMP"), 0);
    int ctx = sim_csv_header_index(c, "ContextTokens");
    int gen = sim_csv_header_index(c, "GeneratedTokens");
    assert_int_equal(ctx, 1);
    assert_int_equal(gen, 2);
    const char *const *f;
    size_t nf, rows = 0;
    int rc;
    int64_t sum_ctx = 0, v;
    while ((rc = sim_csv_next(c, &f, &nf, &err)) == 1) {
        rows++;
        assert_int_equal(nf, 3);
        assert_int_equal(sim_csv_parse_int64(f[ctx], &v), 0);
        sum_ctx += v;
        assert_int_equal(sim_csv_parse_int64(f[gen], &v), 0);
        assert_true(v >= 0);
    }
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(rows, 19366);
    assert_int_equal(sim_csv_line(c), 19367);
    assert_true(sum_ctx > 0);
    sim_csv_close(c);
}

static void test_csv_reads_llmperf_requests_to_the_end(void **state)
{
    (void)state;
    if (access(LLMPERF, R_OK) != 0)
        fail_msg("%s is missing (run from the repository root)", LLMPERF);
    sim_csv *c = NULL;
    ld_error err = {{0}};
    assert_int_equal(sim_csv_open(LLMPERF, &c, &err), 0);
    assert_int_equal(sim_csv_read_header(c, &err), 0);
    assert_int_equal(sim_csv_header_count(c), 13);
    int msg = sim_csv_header_index(c, "error_msg");
    int ttft = sim_csv_header_index(c, "ttft_s");
    assert_int_equal(msg, 8);
    assert_int_equal(ttft, 3);
    /* CRLF line ends: the last header field has no stray \r */
    assert_int_equal(
        sim_csv_header_index(c, "raw_request_output_throughput_token_per_s"),
        12);
    const char *const *f;
    size_t nf, rows = 0, with_comma = 0;
    int rc;
    double x;
    while ((rc = sim_csv_next(c, &f, &nf, &err)) == 1) {
        rows++;
        assert_int_equal(nf, 13);
        assert_int_equal(sim_csv_parse_double(f[ttft], &x), 0);
        if (strstr(f[msg], "Token rate limit exceeded, please try again") !=
            NULL) {
            with_comma++;
            assert_non_null(strstr(f[msg], "{\"error\":{\"message\""));
        }
    }
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(rows, 2845);
    assert_int_equal(with_comma, 2);
    sim_csv_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_plain_records),
        cmocka_unit_test(test_csv_quoted_fields_keep_commas_and_escaped_quotes),
        cmocka_unit_test(test_csv_embedded_newlines_count_in_line_numbers),
        cmocka_unit_test(test_csv_crlf_and_lone_cr_end_records),
        cmocka_unit_test(test_csv_empty_fields_and_blank_lines),
        cmocka_unit_test(test_csv_last_record_may_lack_line_end),
        cmocka_unit_test(test_csv_empty_input_is_eof),
        cmocka_unit_test(test_csv_quote_inside_unquoted_field_is_literal),
        cmocka_unit_test(test_csv_byte_order_mark_is_skipped),
        cmocka_unit_test(test_csv_header_lookup),
        cmocka_unit_test(test_csv_unterminated_quote_names_line),
        cmocka_unit_test(test_csv_text_after_closing_quote_is_error),
        cmocka_unit_test(test_csv_nul_byte_is_error),
        cmocka_unit_test(test_csv_field_over_cap_is_error_naming_line),
        cmocka_unit_test(test_csv_record_over_cap_is_error_naming_line),
        cmocka_unit_test(test_csv_open_missing_file_names_path_and_reason),
        cmocka_unit_test(test_csv_open_reads_a_file),
        cmocka_unit_test(test_csv_parse_double_is_strict),
        cmocka_unit_test(test_csv_parse_int64_is_strict),
        cmocka_unit_test(test_csv_reads_azure_conv_trace_to_the_end),
        cmocka_unit_test(test_csv_reads_llmperf_requests_to_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
