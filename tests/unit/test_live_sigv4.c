/* test_live_sigv4.c - our AWS SigV4 signer (live_sigv4.c) against AWS's
 * published SigV4 test suite and a Bedrock-shaped request.
 *
 * The suite vectors (credentials AKIDEXAMPLE /
 * wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830T123600Z, us-east-1,
 * service "service") are AWS's "Signature Version 4 test suite"
 * (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html),
 * as kept in github.com/awslabs/aws-c-auth under
 * tests/aws-signing-test-suite/v4/: get-vanilla, post-vanilla,
 * get-vanilla-query-order-key-case, get-utf8, get-space-normalized
 * (header-signed-request.txt) and post-sts-header-before (the session
 * token). A suite request's path is the raw path of its request line, so
 * it is the path our canonical URI encodes once more.
 *
 * The Bedrock signatures were computed with botocore 1.43 (SigV4Auth,
 * service "bedrock", the same credentials and body, the URL as a Bedrock
 * client sends it, %3A in the model id), not with this code.
 */
#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "live_provider.h"
#include "live_sigv4.h"

#define ID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define T_SUITE 1440938160 /* 2015-08-30T12:36:00Z */
#define T_NEXT_DAY 1440979201 /* 2015-08-31T00:00:01Z */
#define SCOPE "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/" \
              "service/aws4_request, "
#define EMPTY_SHA \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define TOKEN                                                              \
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW" \
    "LWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGd" \
    "QrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU" \
    "9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz" \
    "+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="
#define BEDROCK_URL                                                       \
    "https://bedrock-runtime.us-east-1.amazonaws.com/model/"              \
    "anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
#define BEDROCK_BODY "{\"messages\":[]}"

/* Sign a suite request (method, raw path, query as sent, token or NULL)
 * and compare the Authorization header; creq gets the canonical
 * request. */
static void suite(const char *method, const char *path, const char *query,
                  const char *token, const char *want_auth, char *creq,
                  size_t cap)
{
    live_sigv4 k;
    char uri[256], q[256];
    live_sigv4_out out;
    assert_int_equal(live_sigv4_init(&k, ID, SECRET, token, "us-east-1",
                                     "service"),
                     LD_OK);
    assert_int_equal(live_sigv4_canon_uri(path, uri, sizeof uri), LD_OK);
    assert_int_equal(live_sigv4_canon_query(query, q, sizeof q), LD_OK);
    live_sigv4_req r = {method, "example.amazonaws.com", uri, q, "", 0};
    assert_int_equal(live_sigv4_sign(&k, &r, T_SUITE, &out, creq, cap),
                     LD_OK);
    assert_string_equal(out.amz_date, "20150830T123600Z");
    assert_string_equal(out.auth, want_auth);
    live_sigv4_wipe(&k);
}

static void test_suite_get_vanilla(void **state)
{
    (void)state;
    char creq[512];
    suite("GET", "/", NULL, NULL,
          SCOPE "SignedHeaders=host;x-amz-date, Signature="
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
          creq, sizeof creq);
    assert_string_equal(creq, "GET\n/\n\nhost:example.amazonaws.com\n"
                              "x-amz-date:20150830T123600Z\n\n"
                              "host;x-amz-date\n" EMPTY_SHA);
}

static void test_suite_post_vanilla(void **state)
{
    (void)state;
    suite("POST", "/", "", NULL,
          SCOPE "SignedHeaders=host;x-amz-date, Signature="
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
          NULL, 0);
}

static void test_suite_query_order(void **state)
{
    (void)state;
    suite("GET", "/", "Param2=value2&Param1=value1", NULL,
          SCOPE "SignedHeaders=host;x-amz-date, Signature="
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
          NULL, 0);
}

static void test_suite_utf8_and_space(void **state)
{
    (void)state;
    char creq[512];
    suite("GET", "/\xe1\x88\xb4", NULL, NULL,
          SCOPE "SignedHeaders=host;x-amz-date, Signature="
                "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
          creq, sizeof creq);
    assert_memory_equal(creq, "GET\n/%E1%88%B4\n\n", 16);
    suite("GET", "/example space/", NULL, NULL,
          SCOPE "SignedHeaders=host;x-amz-date, Signature="
                "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
          creq, sizeof creq);
    assert_memory_equal(creq, "GET\n/example%20space/\n\n", 23);
}

static void test_suite_session_token(void **state)
{
    (void)state;
    char creq[1024];
    suite("POST", "/", NULL, TOKEN,
          SCOPE "SignedHeaders=host;x-amz-date;x-amz-security-token, "
                "Signature="
                "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
          creq, sizeof creq);
    assert_non_null(strstr(creq, "\nx-amz-security-token:" TOKEN "\n\n"));
    /* an empty token is no token */
    suite("POST", "/", NULL, "",
          SCOPE "SignedHeaders=host;x-amz-date, Signature="
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
          NULL, 0);
}

/* A Bedrock model id with ':' goes out as %3A and is signed as %253A;
 * the URL is the one live_url_make makes for the route. */
static void test_bedrock_model_id_encoded_twice(void **state)
{
    (void)state;
    const live_provider *p = live_provider_for(LD_PROVIDER_BEDROCK);
    char *url = NULL, *host, *uri, *query;
    assert_non_null(p);
    assert_int_equal(live_url_make(p, NULL, "us-east-1",
                                   "anthropic.claude-3-5-sonnet-20240620-v1:0",
                                   false, NULL, NULL, 0, &url, NULL),
                     LD_OK);
    assert_string_equal(url, BEDROCK_URL);
    assert_int_equal(live_sigv4_target(url, &host, &uri, &query), LD_OK);
    curl_free(url);
    assert_string_equal(host, "bedrock-runtime.us-east-1.amazonaws.com");
    assert_string_equal(
        uri, "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse");
    assert_string_equal(query, "");

    live_sigv4 k;
    live_sigv4_out out;
    char creq[512];
    assert_int_equal(live_sigv4_init(&k, ID, SECRET, NULL, "us-east-1",
                                     "bedrock"),
                     LD_OK);
    live_sigv4_req r = {"POST", host, uri, query, BEDROCK_BODY,
                        strlen(BEDROCK_BODY)};
    assert_int_equal(live_sigv4_sign(&k, &r, T_SUITE, &out, creq, sizeof creq),
                     LD_OK);
    assert_string_equal(
        creq, "POST\n/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/"
              "converse\n\nhost:bedrock-runtime.us-east-1.amazonaws.com\n"
              "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
              "5e4ce7b36ba37b78a5d5f9fd08e6b7b54ba6879d651aa46ec9e1d6fa24ebe30a");
    assert_string_equal(
        out.auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"
                  "us-east-1/bedrock/aws4_request, SignedHeaders=host;"
                  "x-amz-date, Signature=45ed9094cb7bbcb4417afabcd8b554f2bc"
                  "1514d87c579c214ff36778c9bda300");
    assert_string_equal(k.day, "20150830");
    /* the next day: a new key, derived once and kept */
    assert_int_equal(live_sigv4_sign(&k, &r, T_NEXT_DAY, &out, NULL, 0),
                     LD_OK);
    assert_string_equal(k.day, "20150831");
    assert_string_equal(out.amz_date, "20150831T000001Z");
    assert_string_equal(
        out.auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/"
                  "us-east-1/bedrock/aws4_request, SignedHeaders=host;"
                  "x-amz-date, Signature=9aa2e99d46098daa43d20ab6d002fcd7a2"
                  "4911e5558e04f7c7433dce40c25ad4");
    /* the day before again: its key is derived anew, the same signature */
    assert_int_equal(live_sigv4_sign(&k, &r, T_SUITE, &out, NULL, 0), LD_OK);
    assert_non_null(strstr(out.auth, "Signature=45ed9094cb7bbcb4"));
    live_sigv4_wipe(&k);
    free(host);
    free(uri);
    free(query);
}

static void test_canonical_query_and_host(void **state)
{
    (void)state;
    char q[128];
    assert_int_equal(live_sigv4_canon_query("b=x%20y&a=1&a=0&c", q, sizeof q),
                     LD_OK);
    assert_string_equal(q, "a=0&a=1&b=x%20y&c=");
    /* '+' is a plus (RFC 3986), '~' stays, '/' is encoded */
    assert_int_equal(live_sigv4_canon_query("tag=a+b%26c&p=~/x", q, sizeof q),
                     LD_OK);
    assert_string_equal(q, "p=~%2Fx&tag=a%2Bb%26c");
    assert_int_equal(live_sigv4_canon_query("a=1", q, 3), LD_EINVAL);

    char *host, *uri, *query;
    assert_int_equal(live_sigv4_target("http://127.0.0.1:8080/a%2Fb?z=1&y=2",
                                       &host, &uri, &query),
                     LD_OK);
    assert_string_equal(host, "127.0.0.1:8080");
    assert_string_equal(uri, "/a%252Fb");
    assert_string_equal(query, "y=2&z=1");
    free(host);
    free(uri);
    free(query);
    assert_int_equal(live_sigv4_target("https://h.example:443", &host, &uri,
                                       &query),
                     LD_OK);
    assert_string_equal(host, "h.example");
    assert_string_equal(uri, "/");
    free(host);
    free(uri);
    free(query);
    assert_int_equal(live_sigv4_target("not a url", &host, &uri, &query),
                     LD_EINVAL);
    assert_null(host);

    char u[8];
    assert_int_equal(live_sigv4_canon_uri("/abcdefgh", u, sizeof u),
                     LD_EINVAL);
}

static void test_bad_credentials_refused(void **state)
{
    (void)state;
    live_sigv4 k;
    assert_int_equal(live_sigv4_init(&k, ID, "", NULL, "us-east-1", "s"),
                     LD_EINVAL);
    assert_int_equal(live_sigv4_init(&k, NULL, SECRET, NULL, "us-east-1", "s"),
                     LD_EINVAL);
    assert_int_equal(live_sigv4_init(&k, ID, SECRET, "a\r\nb", "us-east-1",
                                     "s"),
                     LD_EINVAL);
    assert_int_equal(live_sigv4_init(&k, "AKID/X", SECRET, NULL, "us-east-1",
                                     "s"),
                     LD_EINVAL);
    assert_int_equal(live_sigv4_init(&k, ID, SECRET, NULL, "us/east", "s"),
                     LD_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_get_vanilla),
        cmocka_unit_test(test_suite_post_vanilla),
        cmocka_unit_test(test_suite_query_order),
        cmocka_unit_test(test_suite_utf8_and_space),
        cmocka_unit_test(test_suite_session_token),
        cmocka_unit_test(test_bedrock_model_id_encoded_twice),
        cmocka_unit_test(test_canonical_query_and_host),
        cmocka_unit_test(test_bad_credentials_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
