/* test_json.c - strict JSON reading: messages name the file and the path
 * (or line and column), optional values keep their defaults, comment keys
 * pass and unknown or duplicate keys do not. */
#include "testutil.h"

#include <stdlib.h>

#include "ld_json.h"

static ld_error err;
static const ld_json J = {"f.json", &err, false};

static cJSON *obj(const char *text)
{
    cJSON *o = cJSON_Parse(text);
    assert_non_null(o);
    return o;
}

static void parse_fails(const ld_json *c, const char *text, bool eof_note,
                        const char *want)
{
    cJSON *root = (cJSON *)1;
    int rc = ld_json_parse_object(c, text, strlen(text), 64, "doc", eof_note,
                                  &root);
    assert_true(rc < 0);
    assert_null(root);
    assert_string_equal(err.msg, want);
}

static void test_paths_join_keys_and_indices_and_are_cut(void **state)
{
    (void)state;
    char p[LD_JSON_PATH_MAX], q[LD_JSON_PATH_MAX];
    ld_json_child_path(p, "routes", "a");
    assert_string_equal(p, "routes.a");
    ld_json_child_path(p, "", "version");
    assert_string_equal(p, "version");
    ld_json_child_path(p, NULL, "version");
    assert_string_equal(p, "version");
    ld_json_index_path(q, "routes.a.regions", 2);
    assert_string_equal(q, "routes.a.regions[2]");
    char key[400];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    ld_json_child_path(p, "routes", key);
    assert_int_equal(strlen(p), LD_JSON_PATH_MAX - 1);
    ld_json_index_path(q, p, 7);
    assert_int_equal(strlen(q), LD_JSON_PATH_MAX - 1);
}

static void test_syntax_errors_name_line_and_column(void **state)
{
    (void)state;
    parse_fails(&J, "{\n  \"a\" 1}", false,
                "f.json: line 2, column 7: JSON syntax error");
    /* running out of text: at the last byte, or past it with eof_note */
    parse_fails(&J, "{\"a\": 1", false,
                "f.json: line 1, column 7: JSON syntax error");
    parse_fails(&J, "{\"a\": 1", true,
                "f.json: line 1, column 8: JSON syntax error (unexpected end "
                "of file)");
    parse_fails(&J, "{\"a\": }", true,
                "f.json: line 1, column 7: JSON syntax error");
    parse_fails(&J, "{} x", false,
                "f.json: line 1, column 4: JSON syntax error (text after the "
                "doc object)");
}

static void test_a_trailing_comma_is_named_with_its_line_and_column(void **state)
{
    (void)state;
    parse_fails(&J, "{\"a\": 1,}", true,
                "f.json: trailing comma at line 1, column 8 (JSON allows no "
                "comma before '}')");
    parse_fails(&J, "{\"a\": [1, 2,\n  ]}", false,
                "f.json: trailing comma at line 1, column 12 (JSON allows no "
                "comma before ']')");
    /* at the end of the file too, and not "unexpected end of file" */
    parse_fails(&J, "{\"a\": {\"b\": 1},\n}\n", true,
                "f.json: trailing comma at line 1, column 15 (JSON allows no "
                "comma before '}')");
    /* commas and brackets inside strings are text */
    parse_fails(&J, "{\"a\": \",}\", \"b\\\",]\": 1 x}", true,
                "f.json: line 1, column 24: JSON syntax error");
    /* an earlier error is reported as it is */
    parse_fails(&J, "{\"a\" 1, \"b\": [1,]}", false,
                "f.json: line 1, column 6: JSON syntax error");
    /* a comma before the end of the text is not a trailing comma */
    parse_fails(&J, "{\"a\": 1,", true,
                "f.json: line 1, column 9: JSON syntax error (unexpected end "
                "of file)");
}

/* Text that is not NUL-terminated (a file's bytes, a request body) is read
 * within its length only: each case lies in a buffer of exactly its size,
 * so under AddressSanitizer a read past it fails the test. Debian's cJSON
 * 1.7.15 can over-read such buffers; ld_json_parse_object hands it a
 * terminated copy. */
static void test_unterminated_text_is_read_within_its_length(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{\"a\": \"abc", "{\"a\": \"\\u12", "{\"a\": \"\\", "{\"a\": tru",
        "{\"a\": 1.5e", "{\"a\": [1, 2", "{\"a\": \"\\ud83d\\ude",
        "{\"a\": \"x\"}", "{\"a\": 1,", "{"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i]);
        char *buf = malloc(n);
        assert_non_null(buf);
        memcpy(buf, cases[i], n); /* no terminator */
        cJSON *root = NULL;
        int rc = ld_json_parse_object(&J, buf, n, 64, "doc", true, &root);
        if (i == 7)
            assert_int_equal(rc, LD_OK);
        else
            assert_true(rc < 0);
        cJSON_Delete(root);
        free(buf);
    }
}

static void test_deep_nesting_names_the_limit(void **state)
{
    (void)state;
    size_t n = 2 * 1200 + 16;
    char *t = malloc(n);
    assert_non_null(t);
    size_t k = (size_t)snprintf(t, n, "{\"a\": ");
    for (int i = 0; i < 1200; i++)
        t[k++] = '[';
    for (int i = 0; i < 1200; i++)
        t[k++] = ']';
    t[k++] = '}';
    cJSON *root = NULL;
    assert_true(ld_json_parse_object(&J, t, k, 1 << 20, "doc", true, &root) < 0);
    assert_null(root);
    assert_non_null(strstr(err.msg, "nested deeper than 1000 objects and arrays at "
                                    "line 1, column 1006"));
    free(t);
}

static void test_only_an_object_of_bounded_size_parses(void **state)
{
    (void)state;
    parse_fails(&J, "[1]", false, "f.json: a doc must be a JSON object");
    cJSON *root = (cJSON *)1;
    assert_int_equal(ld_json_parse_object(&J, NULL, 0, 64, "doc", false, &root),
                     LD_EINVAL);
    assert_string_equal(err.msg, "f.json: no doc text");
    assert_int_equal(
        ld_json_parse_object(&J, "{}   ", 5, 4, "doc", false, &root),
        LD_ELIMIT);
    assert_string_equal(err.msg, "f.json: doc is larger than 4 bytes");
    assert_int_equal(
        ld_json_parse_object(&J, "{} \n\t", 5, 5, "doc", false, &root),
        LD_OK);
    assert_true(cJSON_IsObject(root));
    cJSON_Delete(root);
}

static void test_unknown_and_duplicate_keys_are_refused(void **state)
{
    (void)state;
    static const char *const keys[] = {"a", "b", NULL};
    cJSON *o = obj("{\"a\": 1, \"_x\": 2, \"description\": 3, \"notes\": 4}");
    assert_int_equal(ld_json_check_keys(&J, o, "top", keys, NULL), LD_OK);
    cJSON_Delete(o);
    o = obj("{\"a\": 1, \"c\": 2}");
    assert_int_equal(ld_json_check_keys(&J, o, "top", keys, "thing"),
                     LD_EINVAL);
    assert_string_equal(err.msg, "f.json: top.c: unknown key for thing "
                                 "(expected one of: a, b)");
    assert_int_equal(ld_json_check_keys(&J, o, "top", NULL, NULL), LD_OK);
    cJSON_Delete(o);
    o = obj("{\"a\": 1, \"a\": 2}");
    assert_int_equal(ld_json_check_keys(&J, o, "", keys, NULL), LD_EINVAL);
    assert_string_equal(err.msg, "f.json: a: duplicate key");
    cJSON_Delete(o);
    /* "$comment" is a comment only where the document says so */
    o = obj("{\"$comment\": \"x\"}");
    ld_json dollar = J;
    dollar.dollar_comment = true;
    assert_int_equal(ld_json_check_keys(&dollar, o, "", keys, NULL), LD_OK);
    assert_int_equal(ld_json_check_keys(&J, o, "", keys, NULL), LD_EINVAL);
    assert_string_equal(err.msg, "f.json: $comment: unknown key (expected "
                                 "one of: a, b)");
    cJSON_Delete(o);
}

static void test_absent_optional_values_keep_their_defaults(void **state)
{
    (void)state;
    cJSON *o = obj("{}");
    double d = 7;
    ld_us t = 9;
    const char *s = "dflt";
    bool b = true;
    char *dup = NULL;
    assert_int_equal(ld_json_num(&J, o, "", "n", false, 0, 1, &d), LD_OK);
    assert_int_equal(ld_json_time(&J, o, "", "t_ms", false, 1e3, &t), LD_OK);
    assert_int_equal(ld_json_str(&J, o, "", "s", false, &s), LD_OK);
    assert_int_equal(ld_json_bool(&J, o, "", "b", &b), LD_OK);
    assert_int_equal(ld_json_dup(&J, o, "", "s", &dup), LD_OK);
    assert_true(d == 7 && t == 9 && b && dup == NULL);
    assert_string_equal(s, "dflt");
    assert_false(ld_json_has(o, "n"));
    assert_int_equal(ld_json_num(&J, o, "p", "n", true, 0, 1, &d), LD_EINVAL);
    assert_string_equal(err.msg, "f.json: p.n: missing (a number is required)");
    assert_int_equal(ld_json_str(&J, o, "p", "s", true, &s), LD_EINVAL);
    assert_string_equal(err.msg, "f.json: p.s: missing (a string is required)");
    cJSON_Delete(o);
}

static void test_values_are_type_and_range_checked(void **state)
{
    (void)state;
    cJSON *o = obj("{\"n\": 1.5, \"t_ms\": 2.5, \"t_s\": 3, \"s\": \"x\", "
                   "\"e\": \"\", \"b\": false, \"w\": \"1\", \"N\": 1}");
    double d = 0;
    ld_us t = 0;
    const char *s = NULL;
    bool b = true;
    assert_int_equal(ld_json_num(&J, o, "p", "n", true, 0, 2, &d), LD_OK);
    assert_near(d, 1.5, 0);
    assert_true(ld_json_has(o, "n") && !ld_json_has(o, "n2"));
    assert_int_equal(ld_json_num(&J, o, "p", "n", false, 0, 1, &d), LD_EINVAL);
    assert_string_equal(err.msg, "f.json: p.n: 1.5 is out of range [0, 1]");
    assert_int_equal(ld_json_num(&J, o, "p", "w", false, 0, 1, &d), LD_EINVAL);
    assert_string_equal(err.msg, "f.json: p.w: must be a number");
    assert_int_equal(ld_json_time(&J, o, "", "t_ms", true, 1e3, &t), LD_OK);
    assert_int_equal(t, 2500);
    assert_int_equal(ld_json_time(&J, o, "", "t_s", true, 1e6, &t), LD_OK);
    assert_int_equal(t, ld_s(3));
    assert_int_equal(ld_json_str(&J, o, "", "s", true, &s), LD_OK);
    assert_string_equal(s, "x");
    assert_int_equal(ld_json_str(&J, o, "", "e", false, &s), LD_EINVAL);
    assert_string_equal(err.msg, "f.json: e: must be a non-empty string");
    assert_int_equal(ld_json_bool(&J, o, "", "b", &b), LD_OK);
    assert_false(b);
    assert_int_equal(ld_json_bool(&J, o, "", "w", &b), LD_EINVAL);
    assert_string_equal(err.msg, "f.json: w: must be true or false");
    /* lookups are case-sensitive */
    assert_int_equal(ld_json_num(&J, o, "", "N", true, 0, 1, &d), LD_OK);
    assert_near(d, 1, 0);
    char *dup = strdup("old");
    assert_int_equal(ld_json_dup(&J, o, "", "s", &dup), LD_OK);
    assert_string_equal(dup, "x");
    free(dup);
    cJSON_Delete(o);
}

static void test_fail_names_file_path_and_key_or_less(void **state)
{
    (void)state;
    assert_int_equal(ld_json_fail(&J, "a.b", "c", "bad %d", 1), LD_EINVAL);
    assert_string_equal(err.msg, "f.json: a.b.c: bad 1");
    ld_json_fail(&J, "a.b", NULL, "bad");
    assert_string_equal(err.msg, "f.json: a.b: bad");
    ld_json_fail(&J, NULL, NULL, "bad");
    assert_string_equal(err.msg, "f.json: bad");
    assert_int_equal(ld_json_oom(&J), LD_ENOMEM);
    assert_string_equal(err.msg, "f.json: out of memory");
    /* without an error struct the codes are the same */
    ld_json quiet = {NULL, NULL, false};
    cJSON *o = obj("{\"n\": \"x\"}");
    double d;
    assert_int_equal(ld_json_num(&quiet, o, "", "n", false, 0, 1, &d),
                     LD_EINVAL);
    assert_int_equal(ld_json_fail(&quiet, "p", "k", "x"), LD_EINVAL);
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_join_keys_and_indices_and_are_cut),
        cmocka_unit_test(test_syntax_errors_name_line_and_column),
        cmocka_unit_test(test_unterminated_text_is_read_within_its_length),
        cmocka_unit_test(test_deep_nesting_names_the_limit),
        cmocka_unit_test(test_a_trailing_comma_is_named_with_its_line_and_column),
        cmocka_unit_test(test_only_an_object_of_bounded_size_parses),
        cmocka_unit_test(test_unknown_and_duplicate_keys_are_refused),
        cmocka_unit_test(test_absent_optional_values_keep_their_defaults),
        cmocka_unit_test(test_values_are_type_and_range_checked),
        cmocka_unit_test(test_fail_names_file_path_and_key_or_less),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
