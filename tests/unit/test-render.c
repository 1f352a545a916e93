/* SPDX-License-Identifier: Apache-2.0 */
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "render.h"
#include "test.h"

#define PW "k0ng#pa;ss\"w'o$rd\\ x`"

static DbParams params(const char *sslmode)
{
        return (DbParams){
                .host = "db.internal",
                .port = "5432",
                .dbname = "kong",
                .user = "kong",
                .password = PW,
                .sslmode = (char *)sslmode,
                .sslrootcert = "/etc/kong-bootstrap/rds-ca.pem",
        };
}

static void test_kong_conf_escape(void)
{
        Buf b = { 0 };
        CHECK(kong_conf_escape("a#b", &b) == 0);
        CHECK_STREQ(b.data, "a\\#b");
        buf_done(&b);
        CHECK(kong_conf_escape("line\nbreak", &b) < 0);
        CHECK(kong_conf_escape("trailing\\", &b) < 0);
        CHECK(kong_conf_escape(" padded", &b) < 0);
        buf_done(&b);
}

/* Undoes env_file_quote() the way systemd's parser does inside "…". */
static char *systemd_unquote(const char *q)
{
        size_t n = strlen(q);
        char *out = calloc(1, n + 1), *o = out;
        CHECK(n >= 2 && q[0] == '"' && q[n - 1] == '"');
        for (size_t i = 1; i + 1 < n; i++) {
                if (q[i] == '\\' && strchr("\"\\`$", q[i + 1]))
                        i++;
                *o++ = q[i];
        }
        return out;
}

static void test_env_file_quote_round_trip(void)
{
        const char *values[] = { PW, "plain", "", "a=b c", "ünïcode", "\\\\", "$HOME ${X}", "'single'" };
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                Buf b = { 0 };
                CHECK(env_file_quote(values[i], &b) == 0);
                char *back = systemd_unquote(b.data);
                CHECK_STREQ(back, values[i]);
                free(back);
                buf_done(&b);
        }
        Buf b = { 0 };
        CHECK(env_file_quote("new\nline", &b) < 0);
        CHECK(env_file_quote("\xff\xfe", &b) < 0);
        buf_done(&b);
}

static void test_render_kong_conf(void)
{
        Config *c;
        Error err = { "" };
        Buf b = { 0 };
        DbParams db = params("disable");
        char *cidrs[] = { "10.0.0.0/16", "10.1.0.0/16", NULL };

        config_new(&c);
        CHECK(render_kong_conf(c, &db, cidrs, &b, &err) == 0);
        CHECK_CONTAINS(b.data, "\ndatabase = postgres\n");
        CHECK_CONTAINS(b.data, "\npg_host = db.internal\n");
        CHECK_CONTAINS(b.data, "\npg_ssl = off\n");
        CHECK_CONTAINS(
                b.data,
                "\nproxy_listen = 0.0.0.0:8000 proxy_protocol, 0.0.0.0:8443 http2 ssl proxy_protocol\n");
        CHECK_CONTAINS(b.data, "\nreal_ip_header = proxy_protocol\n");
        CHECK_CONTAINS(b.data, "\ntrusted_ips = 10.0.0.0/16, 10.1.0.0/16\n");
        CHECK_CONTAINS(b.data, "\nstatus_listen = 0.0.0.0:8100\n");
        CHECK_CONTAINS(b.data, "\nadmin_listen = 127.0.0.1:8001\n");
        CHECK(strstr(b.data, "pg_password") == NULL);
        CHECK(strstr(b.data, "k0ng") == NULL);
        CHECK(strstr(b.data, "lua_ssl_trusted_certificate") == NULL);
        buf_done(&b);

        /* verify-full: TLS on, verified against the CA bundle. */
        db = params("verify-full");
        CHECK(render_kong_conf(c, &db, cidrs, &b, &err) == 0);
        CHECK_CONTAINS(b.data, "\npg_ssl = on\npg_ssl_verify = on\n");
        CHECK_CONTAINS(b.data, "\nlua_ssl_trusted_certificate = /etc/kong-bootstrap/rds-ca.pem\n");
        buf_done(&b);

        /* No proxy_protocol: no real_ip_header. Operator values win. */
        config_set(c, CONFIG_LAYER_CLI, "proxy_listen", "0.0.0.0:8000", "--set", &err);
        config_set(c, CONFIG_LAYER_CLI, "kong.trusted_ips", "0.0.0.0/0", "--set", &err);
        config_set(c, CONFIG_LAYER_CLI, "kong.log_level", "debug#1", "--set", &err);
        CHECK(render_kong_conf(c, &db, cidrs, &b, &err) == 0);
        CHECK(strstr(b.data, "real_ip_header") == NULL);
        CHECK_CONTAINS(b.data, "\ntrusted_ips = 0.0.0.0/0\n");
        CHECK(strstr(b.data, "10.0.0.0/16") == NULL);
        CHECK_CONTAINS(b.data, "\nlog_level = debug\\#1\n");
        buf_done(&b);

        config_set(c, CONFIG_LAYER_CLI, "kong.log_level", "bad\\", "/etc/kb.conf:9", &err);
        CHECK(render_kong_conf(c, &db, cidrs, &b, &err) < 0);
        CHECK_CONTAINS(err.msg, "log_level (from /etc/kb.conf:9)");
        config_free(c);
}

static void test_render_env_file(void)
{
        Buf b = { 0 };
        Error err = { "" };
        DbParams db = params("disable");

        CHECK(render_env_file(&db, false, &b, &err) == 0);
        CHECK_CONTAINS(b.data, "\nKONG_PG_PASSWORD=\"k0ng#pa;ss\\\"w'o\\$rd\\\\ x\\`\"\n");
        buf_done(&b);
        CHECK(render_env_file(&db, true, &b, &err) == 0);
        CHECK_CONTAINS(b.data, "KONG_PG_PASSWORD=<redacted>\n");
        CHECK(strstr(b.data, "k0ng") == NULL);
        buf_done(&b);
}

static void test_write_file_atomic(void)
{
        char dir[] = "/tmp/kb-render-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char path[256];
        snprintf(path, sizeof(path), "%s/sub/kong.env", dir);
        Error err = { "" };
        bool changed = false;
        struct stat st1, st2;

        CHECK(write_file_atomic(path, "A=1\n", 4, 0600, 0700, &changed, &err) == 0);
        CHECK(changed);
        CHECK(stat(path, &st1) == 0);
        CHECK((st1.st_mode & 07777) == 0600);

        /* Same bytes: not touched at all. */
        CHECK(write_file_atomic(path, "A=1\n", 4, 0600, 0700, &changed, &err) == 0);
        CHECK(!changed);
        CHECK(stat(path, &st2) == 0);
        CHECK(st1.st_ino == st2.st_ino);
        CHECK(st1.st_mtim.tv_sec == st2.st_mtim.tv_sec && st1.st_mtim.tv_nsec == st2.st_mtim.tv_nsec);

        /* Different bytes: replaced (new inode), nothing left behind. */
        CHECK(write_file_atomic(path, "A=2\n", 4, 0600, 0700, &changed, &err) == 0);
        CHECK(changed);
        CHECK(stat(path, &st2) == 0 && st2.st_ino != st1.st_ino);

        /* A directory we cannot write into: error, old file intact. Root
         * ignores mode bits, so use a path under a regular file. */
        char bad[300];
        snprintf(bad, sizeof(bad), "%s/kong.env/x", path);
        CHECK(write_file_atomic(bad, "B", 1, 0600, 0700, &changed, &err) < 0);
        CHECK_CONTAINS(err.msg, "kong.env");
        Buf b = { 0 };
        CHECK(read_file_limited(path, 100, &b, &err) == 0);
        CHECK_STREQ(b.data, "A=2\n");
        buf_done(&b);

        char sub[300];
        snprintf(sub, sizeof(sub), "%s/sub", dir);
        unlink(path);
        CHECK(rmdir(sub) == 0); /* proves no temp file was left */
        rmdir(dir);
}

int main(void)
{
        RUN(test_kong_conf_escape);
        RUN(test_env_file_quote_round_trip);
        RUN(test_render_kong_conf);
        RUN(test_render_env_file);
        RUN(test_write_file_atomic);
        return TEST_EXIT();
}
