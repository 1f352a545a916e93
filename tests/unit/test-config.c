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

        config_set(c, CONFIG_LAYER_CLI, "secret_id", "s", "--set", &err);
        config_set(c, CONFIG_LAYER_CLI, "pg_wait_timeout", "ten", "/etc/z.conf:7", &err);
        CHECK(config_validate(c, true, &err) < 0);
        CHECK_CONTAINS(err.msg, "pg_wait_timeout from /etc/z.conf:7");

        config_set(c, CONFIG_LAYER_CLI, "pg_wait_timeout", "10", "--set", &err);
        config_set(c, CONFIG_LAYER_CLI, "migrations", "sometimes", "--set", &err);
        CHECK(config_validate(c, true, &err) < 0);
        CHECK_CONTAINS(err.msg, "auto, bootstrap-only, off");

        config_set(c, CONFIG_LAYER_CLI, "migrations", "off", "--set", &err);
        config_set(c, CONFIG_LAYER_CLI, "trusted_ips", "10.0.0.0/8, 300.1.1.1/8", "--set", &err);
        CHECK(config_validate(c, true, &err) < 0);
        CHECK_CONTAINS(err.msg, "300.1.1.1/8");

        config_set(c, CONFIG_LAYER_CLI, "trusted_ips", "10.0.0.0/8, fd00::/8", "--set", &err);
        config_set(c, CONFIG_LAYER_CLI, "imds_endpoint", "169.254.169.254", "--set", &err);
        CHECK(config_validate(c, true, &err) < 0);
        CHECK_CONTAINS(err.msg, "imds_endpoint");

        config_set(c, CONFIG_LAYER_CLI, "imds_endpoint", "http://[fd00:ec2::254]", "--set", &err);
        config_set(c, CONFIG_LAYER_CLI, "pg_port", "70000", "--set", &err);
        CHECK(config_validate(c, true, &err) < 0);
        config_set(c, CONFIG_LAYER_CLI, "pg_port", "5432", "--set", &err);
        CHECK(config_validate(c, true, &err) == 0);
        CHECK(config_get_seconds(c, CONF_PG_WAIT_TIMEOUT) == 10 * USEC_PER_SEC);
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
        RUN(test_environment_and_set);
        RUN(test_files_and_confd_order);
        return TEST_EXIT();
}
