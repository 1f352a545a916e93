/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "test.h"

static Config *fresh(void)
{
        Config *c;
        config_new(&c);
        return c;
}

static void test_defaults(void)
{
        Config *c = fresh();
        CHECK_STREQ(config_get(c, CONF_PG_SSLMODE), "verify-full");
        CHECK_STREQ(config_get(c, CONF_STATUS_LISTEN), "0.0.0.0:8100");
        CHECK_STREQ(config_get(c, CONF_SECRET_VERSION_STAGE), "AWSCURRENT");
        CHECK_STREQ(config_get(c, CONF_KONG_ENV_FILE), "/run/kong-bootstrap/kong.env");
        CHECK_STREQ(config_source(c, CONF_PG_SSLMODE), "default");
        CHECK(!config_is_set(c, CONF_SECRET_ID));
        config_free(c);
}

static void test_parse_kong_style(void)
{
        Config *c = fresh();
        Error err = { "" };
        const char *text = "# comment\n"
                           "; also a comment\n"
                           "\n"
                           "  secret_id =  prod/kong/db   # trailing comment\n"
                           "pg_host = db\\#1.example\n"
                           "kong.nginx_worker_processes = 2\n"
                           "pg_port=6432\n";
        CHECK(config_load_text(c, CONFIG_LAYER_FILE, text, strlen(text), "/etc/x.conf", &err) == 0);
        CHECK_STREQ(config_get(c, CONF_SECRET_ID), "prod/kong/db");
        CHECK_STREQ(config_source(c, CONF_SECRET_ID), "/etc/x.conf:4");
        CHECK_STREQ(config_get(c, CONF_PG_HOST), "db#1.example");
        CHECK_STREQ(config_get(c, CONF_PG_PORT), "6432");
        CHECK(c->n_kong == 1);
        CHECK_STREQ(c->kong[0].name, "nginx_worker_processes");
        CHECK_STREQ(c->kong[0].value, "2");
        CHECK(config_validate(c, true, &err) == 0);
        config_free(c);
}

static void test_errors_name_key_and_source(void)
{
        Config *c = fresh();
        Error err = { "" };

        CHECK(config_load_text(c, CONFIG_LAYER_FILE, "a = 1\nfoo_bar = 2\n", 18, "/etc/y.conf", &err) < 0);
        config_free(c);
        c = fresh();
        CHECK(config_load_text(c, CONFIG_LAYER_FILE, "foo_bar = 2\n", 12, "/etc/y.conf", &err) < 0);
        CHECK_CONTAINS(err.msg, "/etc/y.conf:1");
        CHECK_CONTAINS(err.msg, "foo_bar");

        CHECK(config_load_text(c, CONFIG_LAYER_FILE, "no equals sign\n", 15, "/etc/y.conf", &err) < 0);
        CHECK_CONTAINS(err.msg, "expected 'key = value'");

        CHECK(config_load_text(c, CONFIG_LAYER_FILE, "x\0y = 1\n", 8, "/etc/y.conf", &err) < 0);
        CHECK_CONTAINS(err.msg, "NUL");

        CHECK(config_load_text(c, CONFIG_LAYER_FILE, "kong.pg_password = hunter2\n", 27, "ud", &err) < 0);
        CHECK_CONTAINS(err.msg, "pg_password");
        CHECK(strstr(err.msg, "hunter2") == NULL);

        CHECK(config_load_text(c, CONFIG_LAYER_FILE, "kong.Bad-Name = 1\n", 18, "ud", &err) < 0);
        config_free(c);
}

static void test_validate(void)
{
        Config *c = fresh();
        Error err = { "" };

        CHECK(config_validate(c, true, &err) < 0);
        CHECK_CONTAINS(err.msg, "secret_id");

        /* A bad value is refused when set, naming key and source; the
         * value before it stays. */
        CHECK(config_set(c, CONFIG_LAYER_CLI, "secret_id", "s", "--set", &err) == 0);
        CHECK(config_set(c, CONFIG_LAYER_FILE, "pg_wait_timeout", "ten", "/etc/z.conf:7", &err) < 0);
        CHECK_CONTAINS(err.msg, "pg_wait_timeout from /etc/z.conf:7");
        CHECK_STREQ(config_get(c, CONF_PG_WAIT_TIMEOUT), "900");

        CHECK(config_set(c, CONFIG_LAYER_CLI, "pg_wait_timeout", "10", "--set", &err) == 0);
        CHECK(config_set(c, CONFIG_LAYER_CLI, "migrations", "sometimes", "--set", &err) < 0);
        CHECK_CONTAINS(err.msg, "auto, bootstrap-only, off");

        CHECK(config_set(c, CONFIG_LAYER_CLI, "migrations", "off", "--set", &err) == 0);
        CHECK(config_set(c, CONFIG_LAYER_CLI, "trusted_ips", "10.0.0.0/8, 300.1.1.1/8", "--set", &err) < 0);
        CHECK_CONTAINS(err.msg, "300.1.1.1/8");

        CHECK(config_set(c, CONFIG_LAYER_CLI, "trusted_ips", "10.0.0.0/8, fd00::/8", "--set", &err) == 0);
        CHECK(config_set(c, CONFIG_LAYER_CLI, "imds_endpoint", "169.254.169.254", "--set", &err) < 0);
        CHECK_CONTAINS(err.msg, "imds_endpoint");

        CHECK(config_set(c, CONFIG_LAYER_CLI, "imds_endpoint", "http://[fd00:ec2::254]", "--set", &err) ==
              0);
        CHECK(config_set(c, CONFIG_LAYER_CLI, "pg_port", "70000", "--set", &err) < 0);
        CHECK(config_set(c, CONFIG_LAYER_CLI, "pg_port", "5432", "--set", &err) == 0);
        CHECK(config_validate(c, true, &err) == 0);
        CHECK(config_get_seconds(c, CONF_PG_WAIT_TIMEOUT) == 10 * USEC_PER_SEC);
        config_free(c);
}

static void test_bounds(void)
{
        static const struct {
                const char *key, *value;
                bool ok;
        } cases[] = {
                { "rotation_interval", "0", false },
                { "rotation_interval", "1", true },
                { "rotation_interval", "86400", true },
                { "rotation_interval", "86401", false },
                { "rotation_interval", "-5", false },
                { "rotation_interval", "99999999999999999999", false },
                { "lifecycle_heartbeat_interval", "0", false },
                { "lifecycle_heartbeat_interval", "7200", true },
                { "lifecycle_heartbeat_interval", "7201", false },
                { "imds_timeout", "0", false },
                { "imds_timeout", "3601", false },
                { "aws_timeout", "0", false },
                { "pg_wait_timeout", "0", false },
                { "pg_wait_timeout", "86400", true },
                { "migrations_wait_timeout", "0", false },
                { "ready_timeout", "0", false },
                { "ready_timeout", "3600", true },
                { "drain_timeout", "0", true },
                { "drain_timeout", "3601", false },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Config *c = fresh();
                Error err = { "" };
                int r = config_set(c, CONFIG_LAYER_FILE, cases[i].key, cases[i].value, "/etc/b.conf:3",
                                   &err);
                if (cases[i].ok != (r == 0))
                        fprintf(stderr, "%s = %s: %d %s\n", cases[i].key, cases[i].value, r, err.msg);
                CHECK(cases[i].ok == (r == 0));
                if (!cases[i].ok) {
                        CHECK_CONTAINS(err.msg, cases[i].key);
                        CHECK_CONTAINS(err.msg, "/etc/b.conf:3");
                }
                config_free(c);
        }
}

static void test_endpoints(void)
{
        static const struct {
                const char *url;
                bool ok;
        } cases[] = {
                { "https://secretsmanager.eu-west-1.amazonaws.com", true },
                { "https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com/", true },
                { "HTTPS://example.com:8443/x", true },
                { "http://127.0.0.1:4566", true },
                { "http://127.9.8.7", true },
                { "http://localhost:8080/", true },
                { "http://[::1]:5000", true },
                { "http://169.254.169.254", true },
                { "http://[fd00:ec2::254]", true },
                { "http://10.0.0.5", false },
                { "http://evil.example", false },
                { "http://169.254.169.253", false },
                { "http://[fd00:ec2::255]", false },
                { "http://128.0.0.1", false },
                { "http://127.0.0.1@evil.example/", false },
                { "https://user:pw@evil.example/", false },
                { "http://localhost.evil.example", false },
                { "ftp://127.0.0.1", false },
                { "http://", false },
                { "http://[::1", false },
                { "127.0.0.1", false },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                if (endpoint_is_acceptable(cases[i].url) != cases[i].ok)
                        fprintf(stderr, "endpoint %s: expected %d\n", cases[i].url, cases[i].ok);
                CHECK(endpoint_is_acceptable(cases[i].url) == cases[i].ok);
        }
        static const char *const endpoint_keys[] = { "secretsmanager_endpoint", "autoscaling_endpoint",
                                                     "imds_endpoint" };
        for (size_t i = 0; i < ELEMENTSOF(endpoint_keys); i++) {
                Config *c = fresh();
                Error err = { "" };
                CHECK(config_set(c, CONFIG_LAYER_ENV, endpoint_keys[i], "http://203.0.113.9/",
                                 "environment X", &err) < 0);
                CHECK_CONTAINS(err.msg, endpoint_keys[i]);
                CHECK_CONTAINS(err.msg, "environment X");
                CHECK_CONTAINS(err.msg, "https://");
                config_free(c);
        }
}

static void test_trust_model(void)
{
        Config *c = fresh();
        Error err = { "" };
        /* Tags: the allowlist only. */
        static const char *const tag_ok[] = { "lifecycle_hook", "termination_lifecycle_hook" };
        for (size_t i = 0; i < ELEMENTSOF(tag_ok); i++)
                CHECK(config_set(c, CONFIG_LAYER_TAG, tag_ok[i], "x", "instance tag t", &err) == 0);
        CHECK(config_set(c, CONFIG_LAYER_TAG, "rotation_interval", "60", "instance tag t", &err) == 0);
        CHECK(config_set(c, CONFIG_LAYER_TAG, "rotation_interval", "0", "instance tag t", &err) < 0);
        static const char *const tag_refused[][2] = {
                { "pg_host", "evil.example" },
                { "pg_port", "5433" },
                { "pg_sslmode", "disable" },
                { "pg_sslrootcert", "/etc/ssl/certs/ca-certificates.crt" },
                { "pg_user", "x" },
                { "pg_database", "x" },
                { "secret_id", "other" },
                { "secret_version_stage", "AWSPREVIOUS" },
                { "region", "us-east-1" },
                { "secretsmanager_endpoint", "https://evil.example" },
                { "autoscaling_endpoint", "https://evil.example" },
                { "admin_listen", "0.0.0.0:8001" },
                { "proxy_listen", "0.0.0.0:80" },
                { "status_listen", "0.0.0.0:8100" },
                { "trusted_ips", "0.0.0.0/0" },
                { "migrations", "auto" },
                { "migrations_finish", "auto" },
                /* a short one would stop every node's schema change half-way */
                { "migrations_timeout", "1" },
                /* others' rows are judged by it: an old node made stale */
                { "fleet_heartbeat_interval", "3600" },
                /* its listing decides when finish runs: another group hides
                 * this one's old instances */
                { "autoscaling_group", "kong-asg-green" },
                { "kong.untrusted_lua", "on" },
                { "kong.plugins", "bundled,evil" },
                { "kong.admin_listen", "0.0.0.0:8001" },
                { "kong_bin", "/tmp/x" },
                { "kong_prefix", "/tmp/x" },
                { "imds_endpoint", "http://127.0.0.1" },
        };
        for (size_t i = 0; i < ELEMENTSOF(tag_refused); i++) {
                _cleanup_free_ char *src = xasprintf("instance tag kong-bootstrap:%s", tag_refused[i][0]);
                CHECK(config_set(c, CONFIG_LAYER_TAG, tag_refused[i][0], tag_refused[i][1], src, &err) ==
                      -EPERM);
                CHECK_CONTAINS(err.msg, src);
        }
        CHECK_STREQ(config_get(c, CONF_PG_SSLMODE), "verify-full");
        CHECK(c->n_kong == 0);
        /* User-data: all but programs, files and IMDS. */
        CHECK(config_set(c, CONFIG_LAYER_USERDATA, "pg_host", "db.internal", "user-data line 2", &err) == 0);
        CHECK(config_set(c, CONFIG_LAYER_USERDATA, "migrations_timeout", "600", "user-data line 5", &err) ==
              0);
        CHECK(config_set(c, CONFIG_LAYER_USERDATA, "migrations_timeout", "0", "user-data line 6", &err) < 0);
        CHECK(config_set(c, CONFIG_LAYER_USERDATA, "kong.log_level", "debug", "user-data line 3", &err) ==
              0);
        CHECK(config_set(c, CONFIG_LAYER_USERDATA, "kong_prefix", "/tmp/p", "user-data line 4", &err) ==
              -EPERM);
        /* Local sources: everything. */
        CHECK(config_set(c, CONFIG_LAYER_FILE, "kong_prefix", "/usr/local/kong", "/etc/k.conf:1", &err) ==
              0);
        CHECK(config_check_permitted(CONFIG_LAYER_ENV, "kong_bin", "environment", &err) == 0);
        CHECK(config_check_permitted(CONFIG_LAYER_TAG, "no_such_key", "tag", &err) == -ENOENT);
        config_free(c);
}

/* cloudformation_signal: CloudFormation's StackName pattern, '/', an
 * alphanumeric logical ID; the ARN's own '/' are part of the stack. */
static void test_cloudformation_signal(void)
{
        static const char *const good[] = {
                "kong-prod/KongGroup",
                "k/A1",
                "arn:aws:cloudformation:us-east-1:123456789012:stack/kong-prod/5b2f0c40-8d2a-11ef-9d5e/"
                "KongGroup",
                "arn:aws-us-gov:cloudformation:us-gov-west-1:1:stack/k/x/G",
        };
        static const char *const bad[] = {
                "kong-prod",           "kong-prod/",           "/KongGroup",           "9kong/KongGroup",
                "kong_prod/KongGroup", "kong-prod/Kong-Group", "arn:evil:x/KongGroup", "arn:aws:a b/G",
        };
        Error err = { "" };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                Config *c = fresh();
                CHECK(config_set(c, CONFIG_LAYER_USERDATA, "cloudformation_signal", good[i],
                                 "user-data line 2", &err) == 0);
                config_free(c);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Config *c = fresh();
                CHECK(config_set(c, CONFIG_LAYER_FILE, "cloudformation_signal", bad[i], "/etc/c.conf:4",
                                 &err) < 0);
                CHECK_CONTAINS(err.msg, "cloudformation_signal from /etc/c.conf:4");
                CHECK_CONTAINS(err.msg, "is not STACK/LogicalId");
                config_free(c);
        }
        /* Never from a tag, nor on_failure; failure_console is local. */
        Config *c = fresh();
        CHECK(config_set(c, CONFIG_LAYER_TAG, "cloudformation_signal", "k/G", "instance tag t", &err) < 0);
        CHECK(config_set(c, CONFIG_LAYER_TAG, "on_failure", "keep", "instance tag t", &err) < 0);
        CHECK(config_set(c, CONFIG_LAYER_USERDATA, "on_failure", "keep", "user-data line 3", &err) == 0);
        CHECK(config_set(c, CONFIG_LAYER_USERDATA, "on_failure", "sometimes", "user-data line 3", &err) < 0);
        CHECK(config_set(c, CONFIG_LAYER_USERDATA, "failure_console", "/tmp/x", "user-data line 4", &err) <
              0);
        CHECK(config_set(c, CONFIG_LAYER_FILE, "failure_console", "", "/etc/c.conf:5", &err) == 0);
        CHECK_STREQ(config_get(c, CONF_ON_FAILURE), "keep");
        config_free(c);
}

static void test_environment_and_set(void)
{
        Config *c = fresh();
        Error err = { "" };
        char *env[] = { "PATH=/bin", "KONG_BOOTSTRAP_SECRET_ID=from-env",
                        "KONG_BOOTSTRAP_KONG_BIN=/opt/kong", "KONG_BOOTSTRAP_KONG_NGINX_WORKER_PROCESSES=4",
                        NULL };

        CHECK(config_load_environ(c, env, &err) == 0);
        CHECK_STREQ(config_get(c, CONF_SECRET_ID), "from-env");
        CHECK_STREQ(config_source(c, CONF_SECRET_ID), "environment KONG_BOOTSTRAP_SECRET_ID");
        CHECK_STREQ(config_get(c, CONF_KONG_BIN), "/opt/kong");
        CHECK(c->n_kong == 1 && streq(c->kong[0].name, "nginx_worker_processes"));

        CHECK(config_load_assignment(c, "secret_id=from-cli", &err) == 0);
        CHECK_STREQ(config_get(c, CONF_SECRET_ID), "from-cli");
        CHECK(config_load_assignment(c, "=x", &err) < 0);
        CHECK(config_load_assignment(c, "nope", &err) < 0);

        char *bad[] = { "KONG_BOOTSTRAP_NOT_A_KEY=1", NULL };
        CHECK(config_load_environ(c, bad, &err) < 0);
        CHECK_CONTAINS(err.msg, "KONG_BOOTSTRAP_NOT_A_KEY");
        config_free(c);
}

static void test_files_and_confd_order(void)
{
        char dir[] = "/tmp/kb-test-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char path[64], confd[64], a[128], b[128];
        snprintf(path, sizeof(path), "%s/kb.conf", dir);
        snprintf(confd, sizeof(confd), "%s/conf.d", dir);
        snprintf(a, sizeof(a), "%s/10-a.conf", confd);
        snprintf(b, sizeof(b), "%s/20-b.conf", confd);
        mkdir(confd, 0755);
        FILE *f = fopen(path, "w");
        fputs("secret_id = base\npg_host = base\n", f);
        fclose(f);
        f = fopen(b, "w");
        fputs("pg_host = from-b\n", f);
        fclose(f);
        f = fopen(a, "w");
        fputs("pg_host = from-a\nsecret_id = from-a\n", f);
        fclose(f);

        Config *c = fresh();
        Error err = { "" };
        CHECK(config_load_file(c, path, true, &err) == 0);
        CHECK(config_load_dir(c, confd, &err) == 0);
        CHECK_STREQ(config_get(c, CONF_PG_HOST), "from-b");
        CHECK_STREQ(config_get(c, CONF_SECRET_ID), "from-a");
        CHECK_CONTAINS(config_source(c, CONF_PG_HOST), "20-b.conf:1");
        CHECK(config_load_file(c, "/nonexistent/kb.conf", false, &err) == 0);
        CHECK(config_load_file(c, "/nonexistent/kb.conf", true, &err) < 0);
        CHECK_CONTAINS(err.msg, "/nonexistent/kb.conf");
        config_free(c);
        unlink(a);
        unlink(b);
        unlink(path);
        rmdir(confd);
        rmdir(dir);
}

int main(void)
{
        RUN(test_defaults);
        RUN(test_parse_kong_style);
        RUN(test_errors_name_key_and_source);
        RUN(test_validate);
        RUN(test_bounds);
        RUN(test_endpoints);
        RUN(test_trust_model);
        RUN(test_cloudformation_signal);
        RUN(test_environment_and_set);
        RUN(test_files_and_confd_order);
        return TEST_EXIT();
}
