/* SPDX-License-Identifier: Apache-2.0 */
#include "awserror.h"
#include "secrets.h"
#include "test.h"

#define PW "p#;\"'$\\ w"

static void test_rds_secret(void)
{
        DbSecret s = { 0 };
        Error err = { "" };
        const char *json =
                "{\"engine\":\"postgres\",\"host\":\"db.example\",\"port\":5432,\"dbname\":\"kong\","
                "\"username\":\"kong\",\"password\":\"p#;\\\"'$\\\\ w\"}";

        CHECK(secrets_parse_rds(json, strlen(json), &s, &err) == 0);
        CHECK_STREQ(s.host, "db.example");
        CHECK_STREQ(s.port, "5432");
        CHECK_STREQ(s.dbname, "kong");
        CHECK_STREQ(s.username, "kong");
        CHECK_STREQ(s.password, PW);
        db_secret_done(&s);
}

static void test_rds_port_as_string_and_managed_secret(void)
{
        DbSecret s = { 0 };
        Error err = { "" };
        const char *json = "{\"host\":\"h\",\"port\":\"6432\",\"username\":\"u\",\"password\":\"x\"}";
        CHECK(secrets_parse_rds(json, strlen(json), &s, &err) == 0);
        CHECK_STREQ(s.port, "6432");
        db_secret_done(&s);

        /* RDS-managed master secret: username and password only. */
        const char *managed = "{\"username\":\"postgres\",\"password\":\"x\"}";
        CHECK(secrets_parse_rds(managed, strlen(managed), &s, &err) == 0);
        CHECK(s.host == NULL && s.port == NULL && s.dbname == NULL);
        db_secret_done(&s);
}

static void test_rds_secret_errors_never_quote_the_secret(void)
{
        DbSecret s = { 0 };
        Error err = { "" };
        const char *cases[][2] = {
                { "{\"username\":\"u\",\"host\":\"hunter2\"}", "'password'" },
                { "{\"password\":\"hunter2\"}", "'username'" },
                { "{\"username\":\"u\",\"password\":\"hunter2\",\"port\":\"http\"}", "port" },
                { "{\"username\":\"u\",\"password\":\"hunter2\",\"port\":70000}", "port" },
                { "{\"username\":\"u\",\"password\":\"hunter2\",\"port\":true}", "port" },
                { "{\"username\":\"u\",\"password\":12}", "'password' is not a string" },
                { "{\"username\":\"u\",\"password\":\"hunter2\",\"engine\":\"mysql\"}", "PostgreSQL" },
                { "hunter2 is not json", "not a JSON object" },
                { "[\"hunter2\"]", "not a JSON object" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                err.msg[0] = '\0';
                CHECK(secrets_parse_rds(cases[i][0], strlen(cases[i][0]), &s, &err) < 0);
                CHECK_CONTAINS(err.msg, cases[i][1]);
                CHECK(strstr(err.msg, "hunter2") == NULL);
        }
}

static void test_get_secret_value_response(void)
{
        SecretValue v = { 0 };
        Error err = { "" };
        const char *body =
                "{\"ARN\":\"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/kong/db-AbCdEf\","
                "\"Name\":\"prod/kong/db\",\"VersionId\":\"v1\",\"VersionStages\":[\"AWSCURRENT\"],"
                "\"SecretString\":\"{\\\"username\\\":\\\"u\\\"}\",\"CreatedDate\":1.7e9}";
        CHECK(secrets_parse_response(body, strlen(body), &v, &err) == 0);
        CHECK_STREQ(v.name, "prod/kong/db");
        CHECK_STREQ(v.version_id, "v1");
        CHECK_STREQ(v.string, "{\"username\":\"u\"}");
        secret_value_done(&v);

        /* SecretBinary: base64 of {"a":1} */
        const char *bin = "{\"ARN\":\"a\",\"SecretBinary\":\"eyJhIjoxfQ==\"}";
        CHECK(secrets_parse_response(bin, strlen(bin), &v, &err) == 0);
        CHECK_STREQ(v.string, "{\"a\":1}");
        secret_value_done(&v);

        const char *none = "{\"ARN\":\"a\"}";
        CHECK(secrets_parse_response(none, strlen(none), &v, &err) < 0);
        CHECK_CONTAINS(err.msg, "neither SecretString nor SecretBinary");
        const char *badb64 = "{\"SecretBinary\":\"!!!\"}";
        CHECK(secrets_parse_response(badb64, strlen(badb64), &v, &err) < 0);
        CHECK(secrets_parse_response("<html>", 6, &v, &err) < 0);
}

static void test_aws_json_errors(void)
{
        char *code = NULL, *message = NULL;
        const char *a = "{\"__type\":\"com.amazonaws.secretsmanager#ResourceNotFoundException\","
                        "\"message\":\"Secrets Manager can't find the specified secret.\"}";
        CHECK(aws_parse_json_error(a, strlen(a), &code, &message) == 0);
        CHECK_STREQ(code, "ResourceNotFoundException");
        CHECK_STREQ(message, "Secrets Manager can't find the specified secret.");
        free(code);
        free(message);

        const char *b = "{\"__type\":\"AccessDeniedException:http://internal.amazon.com/coral/\","
                        "\"Message\":\"User is not authorized\"}";
        CHECK(aws_parse_json_error(b, strlen(b), &code, &message) == 0);
        CHECK_STREQ(code, "AccessDeniedException");
        CHECK_STREQ(message, "User is not authorized");
        free(code);
        free(message);

        CHECK(aws_parse_json_error("nope", 4, &code, &message) < 0);
        const char *c = "{\"other\":1}";
        CHECK(aws_parse_json_error(c, strlen(c), &code, &message) == 0);
        CHECK(code == NULL && message == NULL);
}

int main(void)
{
        json_install_wiping_hooks();
        RUN(test_rds_secret);
        RUN(test_rds_port_as_string_and_managed_secret);
        RUN(test_rds_secret_errors_never_quote_the_secret);
        RUN(test_get_secret_value_response);
        RUN(test_aws_json_errors);
        return TEST_EXIT();
}
