/* test_cli_opt.c - the command line parser every ladder command uses: both
 * value forms, repeatable options, positionals in order, ranges and
 * choices, and one clear line on stderr for each mistake. */
#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli_opt.h"

typedef struct args {
    const char *file, *out;
    cli_list policies, extra;
    bool json;
    long long seed;
    double share;
    int format;
    int calls;
} args;

static int take_extra(void *opts, const char *v, char *why, size_t cap)
{
    args *a = opts;
    a->calls++;
    if (strcmp(v, "bad") == 0) {
        snprintf(why, cap, "--extra cannot be \"%s\"", v);
        return -1;
    }
    a->extra.v[a->extra.n++] = v;
    return 0;
}

#define AT(f) CLI_AT(args, f)
static const cli_opt opts[] = {
    {"policy", CLI_LIST, "FILE", "a policy", .flags = CLI_REQ,
     .off = AT(policies)},
    {"out", CLI_STR, "DIR", "where", .flags = CLI_NONEMPTY, .off = AT(out)},
    {"json", CLI_FLAG, NULL, "as JSON", .off = AT(json)},
    {"seed", CLI_INT, "N", "the seed", .off = AT(seed), .min = 0, .max = 9e18},
    {"share", CLI_NUM, "F", "a share", .flags = CLI_GT_MIN, .off = AT(share),
     .min = 0, .max = 1},
    {"format", CLI_CHOICE, "png|svg|both", "the format", .off = AT(format)},
    {"extra", CLI_CALL, "X", "a callback", .flags = CLI_MANY, .fn = take_extra},
    {.name = NULL}};

static const cli_cmd cmd = {
    "ladder test",
    {NULL, CLI_STR, "FILE", NULL, .flags = CLI_REQ, .off = AT(file)},
    "Tests the parser.\n", opts, "Exit: 0 done.\n"};
#undef AT

static char errbuf[4096];

/* Parse the NULL-terminated words (argv[0] "test") into *a with stderr
 * captured in errbuf. */
static int parse(args *a, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, a);
    argv[argc++] = (char *)"test";
    for (char *w = va_arg(ap, char *); w != NULL && argc < 31;
         w = va_arg(ap, char *))
        argv[argc++] = w;
    va_end(ap);
    argv[argc] = NULL;
    memset(a, 0, sizeof *a);
    a->seed = -1;
    fflush(stderr);
    FILE *cap = tmpfile();
    assert_non_null(cap);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(cap), 2) >= 0);
    int rc = cli_opt_parse(&cmd, argc, argv, a);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(cap);
    size_t n = fread(errbuf, 1, sizeof errbuf - 1, cap);
    errbuf[n] = '\0';
    fclose(cap);
    return rc;
}

static void test_both_value_forms_and_positionals_anywhere(void **state)
{
    (void)state;
    args a;
    assert_int_equal(parse(&a, "--policy", "p1", "f.json", "--policy=p2",
                           "--seed=7", "--share", "0.5", "--json",
                           "--format=svg", "--out", "o", NULL),
                     CLI_PARSED);
    assert_string_equal(a.file, "f.json");
    assert_int_equal(a.policies.n, 2);
    assert_string_equal(a.policies.v[0], "p1");
    assert_string_equal(a.policies.v[1], "p2");
    assert_int_equal(a.seed, 7);
    assert_near(a.share, 0.5, 0);
    assert_true(a.json);
    assert_int_equal(a.format, 1);
    assert_string_equal(a.out, "o");
    assert_string_equal(errbuf, "");
    /* a value may start with a dash; after "--" everything is positional */
    assert_int_equal(parse(&a, "--policy", "-p", "--", "--json", NULL),
                     CLI_PARSED);
    assert_string_equal(a.policies.v[0], "-p");
    assert_string_equal(a.file, "--json");
    assert_false(a.json);
}

static void test_callbacks_run_in_order_and_can_refuse(void **state)
{
    (void)state;
    args a;
    assert_int_equal(parse(&a, "f", "--policy", "p", "--extra", "x1",
                           "--extra=x2", NULL),
                     CLI_PARSED);
    assert_int_equal(a.calls, 2);
    assert_string_equal(a.extra.v[0], "x1");
    assert_string_equal(a.extra.v[1], "x2");
    assert_int_equal(parse(&a, "f", "--policy", "p", "--extra", "bad", NULL),
                     CLI_BAD);
    assert_string_equal(errbuf, "ladder test: --extra cannot be \"bad\"\n");
}

static void test_missing_required_options_get_a_line_each_then_usage(void **state)
{
    (void)state;
    args a;
    assert_int_equal(parse(&a, NULL), CLI_BAD);
    const char *want = "ladder test: FILE is required\n"
                       "ladder test: --policy is required\n"
                       "usage: ladder test FILE --policy FILE... ";
    assert_true(strncmp(errbuf, want, strlen(want)) == 0);
}

static void test_mistakes_name_the_option_and_the_value(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b, *want;
    } cases[] = {
        {"--bogus", NULL,
         "ladder test: unknown option \"--bogus\" (`ladder test --help` lists "
         "them)\n"},
        {"--bogus=1", NULL,
         "ladder test: unknown option \"--bogus\" (`ladder test --help` lists "
         "them)\n"},
        {"-x", NULL,
         "ladder test: unknown option \"-x\" (`ladder test --help` lists "
         "them)\n"},
        {"--seed", "-1",
         "ladder test: --seed needs a whole number >= 0, got \"-1\"\n"},
        {"--seed", "1e3",
         "ladder test: --seed needs a whole number >= 0, got \"1e3\"\n"},
        {"--share", "0",
         "ladder test: --share needs a number > 0 and <= 1, got \"0\"\n"},
        {"--share", "nan",
         "ladder test: --share needs a number > 0 and <= 1, got \"nan\"\n"},
        {"--format", "gif",
         "ladder test: --format is one of png|svg|both, got \"gif\"\n"},
        {"--out", "",
         "ladder test: --out needs a value (DIR), got \"\"\n"},
        {"--json=yes", NULL,
         "ladder test: --json takes no value (got \"--json=yes\")\n"},
        {"--seed", NULL, "ladder test: --seed needs a value (N)\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        args a;
        int rc = cases[i].b != NULL
                     ? parse(&a, "f", "--policy", "p", cases[i].a, cases[i].b,
                             NULL)
                     : parse(&a, "f", "--policy", "p", cases[i].a, NULL);
        if (rc != CLI_BAD || strcmp(errbuf, cases[i].want) != 0)
            fail_msg("%s %s: rc %d, stderr \"%s\", expected \"%s\"", cases[i].a,
                     cases[i].b ? cases[i].b : "", rc, errbuf, cases[i].want);
    }
    args a;
    assert_int_equal(parse(&a, "f", "g", "--policy", "p", NULL), CLI_BAD);
    assert_string_equal(errbuf,
                        "ladder test: one FILE at a time (got \"f\" and \"g\")\n");
}

static void test_help_is_asked_for_with_h_or_help(void **state)
{
    (void)state;
    args a;
    fflush(stdout);
    FILE *cap = tmpfile();
    assert_non_null(cap);
    int saved = dup(1);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(cap), 1) >= 0);
    int r1 = parse(&a, "--help", NULL);
    int r2 = parse(&a, "f", "-h", NULL);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    rewind(cap);
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, cap);
    out[n] = '\0';
    fclose(cap);
    assert_int_equal(r1, CLI_HELP);
    assert_int_equal(r2, CLI_HELP);
    /* the usage is made from the table */
    assert_non_null(strstr(out, "usage: ladder test FILE --policy FILE... [--out DIR]"));
    assert_non_null(strstr(out, "  --seed N              the seed\n"));
    assert_non_null(strstr(out, "  --extra X             a callback\n"));
    assert_non_null(strstr(out, "[--extra X]..."));
    assert_non_null(strstr(out, "  -h, --help            print this help"));
    assert_non_null(strstr(out, "Tests the parser.\n"));
    assert_non_null(strstr(out, "Exit: 0 done.\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_value_forms_and_positionals_anywhere),
        cmocka_unit_test(test_callbacks_run_in_order_and_can_refuse),
        cmocka_unit_test(test_missing_required_options_get_a_line_each_then_usage),
        cmocka_unit_test(test_mistakes_name_the_option_and_the_value),
        cmocka_unit_test(test_help_is_asked_for_with_h_or_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
