/* SPDX-License-Identifier: Apache-2.0 */
#include "imds.h"
#include "test.h"

static void test_credentials(void)
{
        AwsCredentials c = { 0 };
        Error err = { "" };
        const char *ok =
                "{\"Code\":\"Success\",\"LastUpdated\":\"2026-11-26T10:00:00Z\",\"Type\":\"AWS-HMAC\","
                "\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"sekrit\",\"Token\":\"tok\","
                "\"Expiration\":\"2026-11-26T16:00:00Z\"}";
        CHECK(imds_parse_credentials(ok, strlen(ok), &c, &err) == 0);
        CHECK_STREQ(c.access_key_id, "ASIAEXAMPLE");
        CHECK_STREQ(c.secret_access_key, "sekrit");
        CHECK_STREQ(c.session_token, "tok");
        CHECK_STREQ(c.expiration, "2026-11-26T16:00:00Z");
        aws_credentials_done(&c);
}

static void test_credentials_refused(void)
{
        AwsCredentials c = { 0 };
        Error err = { "" };
        const char *not_success =
                "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"role trust policy\","
                "\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"sekrit\",\"Token\":\"t\"}";
        CHECK(imds_parse_credentials(not_success, strlen(not_success), &c, &err) < 0);
        CHECK_CONTAINS(err.msg, "AssumeRoleUnauthorizedAccess");
        CHECK(strstr(err.msg, "sekrit") == NULL);

        const char *missing = "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"Token\":\"t\"}";
        CHECK(imds_parse_credentials(missing, strlen(missing), &c, &err) < 0);
        CHECK_CONTAINS(err.msg, "SecretAccessKey");

        const char *bad_id =
                "{\"Code\":\"Success\",\"AccessKeyId\":\"A\\nB\",\"SecretAccessKey\":\"s\",\"Token\":\"t\"}";
        CHECK(imds_parse_credentials(bad_id, strlen(bad_id), &c, &err) < 0);
        CHECK(imds_parse_credentials("not json", 8, &c, &err) < 0);
        CHECK(imds_parse_credentials("{\"Code\":1}", 10, &c, &err) < 0);
}

static void test_cidrs(void)
{
        char **l = NULL;
        Error err = { "" };

        CHECK(imds_parse_cidrs("10.0.0.0/16\n10.1.0.0/16\n", &l, &err) == 0);
        CHECK(strv_length(l) == 2);
        CHECK_STREQ(l[0], "10.0.0.0/16");
        CHECK_STREQ(l[1], "10.1.0.0/16");
        strv_free(l);
        l = NULL;
        CHECK(imds_parse_cidrs("10.0.0.0/16", &l, &err) == 0 && strv_length(l) == 1);
        strv_free(l);
        l = NULL;
        CHECK(imds_parse_cidrs("10.0.0.0/16\n<html>\n", &l, &err) < 0);
        CHECK_CONTAINS(err.msg, "<html>");
        CHECK(imds_parse_cidrs("\n\n", &l, &err) < 0);
        CHECK(imds_parse_cidrs("10.0.0.0/33", &l, &err) < 0);
}

static void test_identity_document(void)
{
        InstanceInfo i = { 0 };
        Error err = { "" };
        const char *doc = "{\"accountId\":\"123456789012\",\"architecture\":\"x86_64\","
                          "\"availabilityZone\":\"us-east-1a\",\"instanceId\":\"i-0abc\","
                          "\"region\":\"us-east-1\",\"version\":\"2017-09-30\"}";
        CHECK(imds_parse_identity(doc, strlen(doc), &i, &err) == 0);
        CHECK_STREQ(i.region, "us-east-1");
        CHECK_STREQ(i.availability_zone, "us-east-1a");
        CHECK_STREQ(i.instance_id, "i-0abc");
        instance_info_done(&i);

        const char *bad = "{\"availabilityZone\":\"us-east-1a\",\"instanceId\":\"i-0abc\","
                          "\"region\":\"us east/1\"}";
        CHECK(imds_parse_identity(bad, strlen(bad), &i, &err) < 0);
        CHECK_CONTAINS(err.msg, "'region'");
        CHECK(imds_parse_identity("[]", 2, &i, &err) < 0);
        const char *missing = "{\"region\":\"us-east-1\"}";
        CHECK(imds_parse_identity(missing, strlen(missing), &i, &err) < 0);
        CHECK_CONTAINS(err.msg, "availabilityZone");
}

static void test_credentials_expiry(void)
{
        AwsCredentials c = { .expiration = "2000-01-01T00:00:00Z" };
        CHECK(aws_credentials_expire_within(&c, 0));
        c.expiration = "2999-01-01T00:00:00Z";
        CHECK(!aws_credentials_expire_within(&c, 300 * USEC_PER_SEC));
        c.expiration = "garbage";
        CHECK(aws_credentials_expire_within(&c, 0));
        c.expiration = NULL; /* from the environment: no expiry known */
        CHECK(!aws_credentials_expire_within(&c, 300 * USEC_PER_SEC));
}

int main(void)
{
        RUN(test_identity_document);
        RUN(test_credentials_expiry);
        RUN(test_credentials);
        RUN(test_credentials_refused);
        RUN(test_cidrs);
        return TEST_EXIT();
}
