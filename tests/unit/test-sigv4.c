/* SPDX-License-Identifier: Apache-2.0 */
#include "sigv4.h"
#include "test.h"

/* Expected values computed independently with botocore's SigV4Auth
 * (canonical_request, string_to_sign, signature) for the same requests at
 * 20150830T123600Z with AWS's example key; the integration tests check
 * every real request against botocore as well. */
#define EXAMPLE_KEY_ID "AKIDEXAMPLE"
#define EXAMPLE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define WHEN           ((time_t)1440938160) /* 2015-08-30T12:36:00Z */

static bool has(char **l, const char *s)
{
        return strv_contains(l, s);
}

static void test_vanilla_post(void)
{
        Sigv4Request r = { .method = "POST",
                           .url = "http://example.amazon.com",
                           .region = "us-east-1",
                           .service = "service",
                           .access_key_id = EXAMPLE_KEY_ID,
                           .secret_access_key = EXAMPLE_SECRET,
                           .when = WHEN };
        _cleanup_free_ char *canonical = NULL, *sts = NULL;
        _cleanup_strv_ char **h = NULL;
        Error err;

        CHECK(sigv4_canonical(&r, &canonical, &sts, &err) == 0);
        CHECK(streq(canonical,
                    "POST\n/\n\nhost:example.amazon.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-"
                    "date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        CHECK(sigv4_sign(&r, &h, &err) == 0);
        CHECK(has(h, "Host: example.amazon.com"));
        CHECK(has(h, "X-Amz-Date: 20150830T123600Z"));
        CHECK(has(h, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                     "aws4_request, SignedHeaders=host;x-amz-date, "
                     "Signature=2a67e472830488f8f5af212097cff81a82fc54f436e7033de3d5aac92cc144c6"));
}

static void test_signed_headers_and_body(void)
{
        char *headers[] = { "X-Amz-Target:   secretsmanager.GetSecretValue", "X-Amz-Security-Token: TOKEN",
                            "Content-Type: application/x-amz-json-1.1", NULL };
        const char *body = "{\"SecretId\":\"s\"}";
        Sigv4Request r = { .method = "POST",
                           .url = "http://127.0.0.1:4566/",
                           .headers = headers,
                           .body = body,
                           .body_len = strlen(body),
                           .region = "us-east-1",
                           .service = "service",
                           .access_key_id = EXAMPLE_KEY_ID,
                           .secret_access_key = EXAMPLE_SECRET,
                           .when = WHEN };
        _cleanup_strv_ char **h = NULL;
        Error err;

        CHECK(sigv4_sign(&r, &h, &err) == 0);
        CHECK(has(h, "Host: 127.0.0.1:4566"));
        CHECK(has(h, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                     "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-"
                     "target, Signature=4ddb734429e85e00e02571d80abfcedf1e600f0d08fe1bc978cd22c21d19a99f"));
        /* Another time, another signature. */
        _cleanup_strv_ char **later = NULL;
        r.when = WHEN + 900;
        CHECK(sigv4_sign(&r, &later, &err) == 0);
        CHECK(has(later, "X-Amz-Date: 20150830T125100Z"));
        CHECK(!streq(later[2], h[2]));
}

static void test_refusals(void)
{
        Sigv4Request r = { .method = "POST",
                           .url = "http://example.amazon.com/?Action=x",
                           .region = "us-east-1",
                           .service = "service",
                           .access_key_id = EXAMPLE_KEY_ID,
                           .secret_access_key = EXAMPLE_SECRET,
                           .when = WHEN };
        _cleanup_strv_ char **h = NULL;
        Error err;

        CHECK(sigv4_sign(&r, &h, &err) < 0); /* query strings are not signed here */
        r.url = "example.amazon.com";
        CHECK(sigv4_sign(&r, &h, &err) < 0);
        r.url = "http://example.amazon.com";
        r.secret_access_key = NULL;
        CHECK(sigv4_sign(&r, &h, &err) < 0);
}

int main(void)
{
        RUN(test_vanilla_post);
        RUN(test_signed_headers_and_body);
        RUN(test_refusals);
        return TEST_EXIT();
}
