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
        /* What systemd's utf8_is_valid() refuses: overlong, surrogate,
         * beyond U+10FFFF, noncharacters. */
        const char *refused[] = { "\xc0\x80",     "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                  "\xef\xb7\x90", "\xef\xbf\xbe", "\xe0\x80\xaf" };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++)
                CHECK(env_file_quote(refused[i], &b) < 0);
        CHECK(env_file_quote("\xf0\x9f\x94\x91 key", &b) == 0);
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
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) == 0);
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
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) == 0);
        CHECK_CONTAINS(b.data, "\npg_ssl = on\npg_ssl_verify = on\n");
        /* The CA joins Kong's default store, it does not replace it. */
        CHECK_CONTAINS(b.data, "\nlua_ssl_trusted_certificate = system,/etc/kong-bootstrap/rds-ca.pem\n");
        buf_done(&b);
        CHECK(render_kong_conf(c, &db, cidrs, true, &b, &err) == 0);
        CHECK_CONTAINS(b.data, "# from Kong's default system, plus pg_sslrootcert (from default)\n"
                               "lua_ssl_trusted_certificate = system,");
        buf_done(&b);

        /* An operator's own list is kept and the CA appended, once. */
        config_set(c, CONFIG_LAYER_CLI, "kong.lua_ssl_trusted_certificate", "/etc/ssl/corp.pem", "ud", &err);
        CHECK(render_kong_conf(c, &db, cidrs, true, &b, &err) == 0);
        CHECK_CONTAINS(b.data,
                       "# from ud, plus pg_sslrootcert (from default)\n"
                       "lua_ssl_trusted_certificate = /etc/ssl/corp.pem,/etc/kong-bootstrap/rds-ca.pem\n");
        buf_done(&b);
        config_set(c, CONFIG_LAYER_CLI, "kong.lua_ssl_trusted_certificate",
                   "system, /etc/kong-bootstrap/rds-ca.pem ,/x.pem", "ud", &err);
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) == 0);
        CHECK_CONTAINS(b.data,
                       "\nlua_ssl_trusted_certificate = system, /etc/kong-bootstrap/rds-ca.pem ,/x.pem\n");
        buf_done(&b);
        /* ...and left alone without verification. */
        db = params("require");
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) == 0);
        CHECK_CONTAINS(b.data,
                       "\nlua_ssl_trusted_certificate = system, /etc/kong-bootstrap/rds-ca.pem ,/x.pem\n");
        buf_done(&b);
        config_set(c, CONFIG_LAYER_CLI, "kong.lua_ssl_trusted_certificate", "/etc/ssl/corp.pem", "ud", &err);
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) == 0);
        CHECK_CONTAINS(b.data, "\nlua_ssl_trusted_certificate = /etc/ssl/corp.pem\n");
        buf_done(&b);
        /* A CA path with a comma would be two items to Kong: refused. */
        db = params("verify-ca");
        db.sslrootcert = "/etc/ca,1.pem";
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) < 0);
        CHECK_CONTAINS(err.msg, "pg_sslrootcert '/etc/ca,1.pem'");
        db = params("verify-full");

        /* No proxy_protocol: no real_ip_header. Operator values win. */
        config_set(c, CONFIG_LAYER_CLI, "proxy_listen", "0.0.0.0:8000", "--set", &err);
        config_set(c, CONFIG_LAYER_CLI, "kong.trusted_ips", "0.0.0.0/0", "--set", &err);
        config_set(c, CONFIG_LAYER_CLI, "kong.log_level", "debug#1", "--set", &err);
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) == 0);
        CHECK(strstr(b.data, "real_ip_header") == NULL);
        CHECK_CONTAINS(b.data, "\ntrusted_ips = 0.0.0.0/0\n");
        CHECK(strstr(b.data, "10.0.0.0/16") == NULL);
        CHECK_CONTAINS(b.data, "\nlog_level = debug\\#1\n");
        buf_done(&b);

        config_set(c, CONFIG_LAYER_CLI, "kong.log_level", "bad\\", "/etc/kb.conf:9", &err);
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) < 0);
        CHECK_CONTAINS(err.msg, "log_level (from /etc/kb.conf:9)");
        CHECK_CONTAINS(err.msg, "backslash");

        config_set(c, CONFIG_LAYER_CLI, "kong.log_level", "info", "--set", &err);
        config_set(c, CONFIG_LAYER_CLI, "kong.pg_database", "0123", "/etc/kb.conf:10", &err);
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) < 0);
        CHECK_CONTAINS(err.msg, "pg_database (from /etc/kb.conf:10)");
        CHECK_CONTAINS(err.msg, "number");

        config_set(c, CONFIG_LAYER_CLI, "kong.pg_database", "kong", "--set", &err);
        config_set(c, CONFIG_LAYER_CLI, "kong.admin_listen", "127.0.0.1:8001 sll", "ud", &err);
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) < 0);
        CHECK_CONTAINS(err.msg, "'sll'");

        config_set(c, CONFIG_LAYER_CLI, "kong.admin_listen", "off", "--set", &err);
        config_set(c, CONFIG_LAYER_CLI, "kong.anonymous_reports", "yes", "ud", &err);
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) < 0);
        CHECK_CONTAINS(err.msg, "on or off");

        config_set(c, CONFIG_LAYER_CLI, "kong.anonymous_reports", "off", "--set", &err);
        config_set(c, CONFIG_LAYER_CLI, "kong.trusted_ips", "10.0.0.0/8, bogus", "ud", &err);
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) < 0);
        CHECK_CONTAINS(err.msg, "'bogus'");
        config_free(c);
}

static void test_number_rewrite(void)
{
        const char *changed[][2] = { { "0123", "123" }, { "1e5", "100000" },
                                     { "0x10", "16" },  { "+5", "5" },
                                     { "1.50", "1.5" }, { "1.", "1" },
                                     { "00", "0" },     { "123456789012345678", "1.2345678901235e+17" },
                                     { "10 kB", "10" }, { "0b101", "5" },
                                     { "+inf", "inf" }, { "-Infinity", "-inf" },
                                     { "1x kB", "1x" }, { "1 kB kB", "1" },
                                     { "+ kB", "+" } };
        for (size_t i = 0; i < ELEMENTSOF(changed); i++) {
                char *t = kong_number_rewrite(changed[i][0]);
                CHECK_STREQ(t, changed[i][1]);
                free(t);
                CHECK(kong_value_problem(changed[i][0]) != NULL);
        }
        const char *kept[] = { "123",         "1.5", "-5",   "0",     "5432",           "kong",
                               "10.0.0.0/16", "1e",  "0x",   "1.2.3", "127.0.0.1:8001", "-",
                               "inf",         "nan", "12abc" };
        for (size_t i = 0; i < ELEMENTSOF(kept); i++) {
                char *t = kong_number_rewrite(kept[i]);
                CHECK(t == NULL);
                if (t)
                        fprintf(stderr, "  '%s' -> '%s'\n", kept[i], t);
                free(t);
        }
}

static void test_blank_delimiter(void)
{
        CHECK(kong_value_problem("a_blank_b") != NULL);
        CHECK(kong_value_problem("a_blank") == NULL);
}

static void test_listen_and_ips(void)
{
        const char *good[] = { "0.0.0.0:8000 proxy_protocol, 0.0.0.0:8443 http2 ssl proxy_protocol",
                               "[::]:8100",
                               "off",
                               "127.0.0.1:8001 reuseport backlog=16384",
                               "kong.internal:8000 ipv6only=on so_keepalive=on",
                               "*:8000" };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                char *p = kong_listen_problem(good[i]);
                CHECK(p == NULL);
                free(p);
        }
        const char *bad[] = { "8000", "0.0.0.0:http", "0.0.0.0:8000 tls",      "0.0.0.0:70000",
                              "",     "[::1:8000",    "0.0.0.0:8000 backlog=x" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *p = kong_listen_problem(bad[i]);
                CHECK(p != NULL);
                free(p);
        }
        char *p = kong_ip_list_problem("10.0.0.0/16, 192.168.1.1, ::1, fd00::/8, unix:");
        CHECK(p == NULL);
        free(p);
        p = kong_ip_list_problem("0.0.0.0/0, 10.0.0.0/33");
        CHECK(p != NULL);
        free(p);
}

static void test_template_and_provenance(void)
{
        char path[] = "/tmp/kb-template-XXXXXX";
        int fd = mkstemp(path);
        const char *tmpl = "# operator's kong.conf\n"
                           "log_level = warn\n"
                           "trusted_ips = 10.9.0.0/16  # comment\n"
                           "headers = off\n"
                           "lua_ssl_trusted_certificate = system,/etc/ssl/t.pem\n"
                           "plugins = bundled,\\\n"
                           "  my-plugin\n";
        CHECK(write(fd, tmpl, strlen(tmpl)) == (ssize_t)strlen(tmpl));
        close(fd);

        Config *c;
        Error err = { "" };
        Buf b = { 0 };
        DbParams db = params("disable");
        char *cidrs[] = { "10.0.0.0/16", NULL };
        config_new(&c);
        config_set(c, CONFIG_LAYER_FILE, "kong_conf_template", path, "/etc/kb.conf:2", &err);
        config_set(c, CONFIG_LAYER_CLI, "kong.log_level", "debug", "--set", &err);

        CHECK(render_kong_conf(c, &db, cidrs, true, &b, &err) == 0);
        /* template over computed, kong.<setting> over template */
        CHECK_CONTAINS(b.data, "\ntrusted_ips = 10.9.0.0/16\n");
        CHECK(strstr(b.data, "10.0.0.0/16") == NULL);
        CHECK_CONTAINS(b.data, "# from --set\nlog_level = debug\n");
        CHECK_CONTAINS(b.data, "\nheaders = off\n");
        /* Penlight joins a line ending in '\\' with the next as it stands. */
        CHECK_CONTAINS(b.data, "plugins = bundled,  my-plugin\n");
        char line[128];
        snprintf(line, sizeof(line), "# from %s:3\ntrusted_ips", path);
        CHECK_CONTAINS(b.data, line);
        CHECK_CONTAINS(b.data, "# from secret\npg_host = db.internal\n");
        /* The template's CA list, kept, with the database's CA added. */
        CHECK_CONTAINS(b.data, "\nlua_ssl_trusted_certificate = system,/etc/ssl/t.pem\n");
        buf_done(&b);
        db = params("verify-ca");
        CHECK(render_kong_conf(c, &db, cidrs, true, &b, &err) == 0);
        snprintf(line, sizeof(line), "# from %s:5, plus pg_sslrootcert (from default)\n", path);
        CHECK_CONTAINS(b.data, line);
        CHECK_CONTAINS(
                b.data,
                "\nlua_ssl_trusted_certificate = system,/etc/ssl/t.pem,/etc/kong-bootstrap/rds-ca.pem\n");
        buf_done(&b);
        db = params("disable");

        /* Without provenance: no comment but the header. */
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) == 0);
        CHECK(strstr(b.data, "# from") == NULL);
        buf_done(&b);

        /* A template may not carry the password. */
        FILE *f = fopen(path, "a");
        fputs("pg_password = hunter2\n", f);
        fclose(f);
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) < 0);
        CHECK_CONTAINS(err.msg, "pg_password");
        CHECK(strstr(err.msg, "hunter2") == NULL);

        unlink(path);
        CHECK(render_kong_conf(c, &db, cidrs, false, &b, &err) < 0);
        CHECK_CONTAINS(err.msg, "kong_conf_template (from /etc/kb.conf:2)");
        config_free(c);
}

static void test_env_file_location(void)
{
        Error err = { "" };
        CHECK(env_file_location_check("/dev/shm/kb-test/sub/kong.env", "--set", &err) == 0);
        CHECK(env_file_location_check("/var/lib/kong.env", "--set", &err) == -EPERM);
        CHECK_CONTAINS(err.msg, "not on tmpfs");
}

static void test_diff(void)
{
        char *d = render_diff("a\nb\nc\n", "a\nB\nc\nd\n");
        CHECK_STREQ(d, " a\n-b\n+B\n c\n+d\n");
        free(d);
        d = render_diff("same\n", "same\n");
        CHECK_STREQ(d, " same\n");
        free(d);
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

/* Issue 14: passwords Kong's workers would read differently (from
 * <prefix>/.kong_env) are refused, by class, redacted or not, and the
 * message never quotes them. */
static void test_env_value_problem(void)
{
        static const struct {
                const char *password;
                const char *class;
        } refused[] = {
                { "Zq9#p;w'd\\", "backslash" },
                { " Zq9pwd", "starts with a blank" },
                { "Zq9pwd ", "ends with a blank" },
                { "\tZq9pwd", "control character" },
                { "0123", "number" },
                { "1e5", "number" },
                { "0x10", "number" },
                { "10 kB", "number" },
                { "12345678901234567890", "number" },
                { "Zq9_blank_pwd", "_blank_" },
                { "{vault://env/kong-pg}", "vault reference" },
        };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                const char *problem = kong_env_value_problem(refused[i].password);
                CHECK(problem != NULL);
                if (!problem)
                        continue;
                CHECK_CONTAINS(problem, refused[i].class);
                DbParams db = params("disable");
                db.password = (char *)refused[i].password;
                for (int redact = 0; redact <= 1; redact++) {
                        Buf b = { 0 };
                        Error err = { "" };
                        CHECK(render_env_file(&db, redact, &b, &err) == -EINVAL);
                        CHECK(b.data == NULL);
                        CHECK_CONTAINS(err.msg, refused[i].class);
                        CHECK_CONTAINS(err.msg, "ExcludeCharacters");
                        CHECK(strstr(err.msg, refused[i].password) == NULL);
                }
        }
        /* What Kong carries exactly: the suite's hostile password, numbers
         * whose text survives tostring(), a brace that is no reference. */
        const char *kept[] = { "k0ng#pa;ss\"w'o$rd\\ x", "12345678", "a\\b", "{vault:/x}", "{vault://x",
                               "x{vault://a/b}",         "_blank",   "a b",  "#",          ";x" };
        for (size_t i = 0; i < ELEMENTSOF(kept); i++) {
                const char *problem = kong_env_value_problem(kept[i]);
                CHECK(problem == NULL);
                if (problem)
                        fprintf(stderr, "  '%s': %s\n", kept[i], problem);
        }
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
        RUN(test_env_value_problem);
        RUN(test_number_rewrite);
        RUN(test_blank_delimiter);
        RUN(test_listen_and_ips);
        RUN(test_template_and_provenance);
        RUN(test_env_file_location);
        RUN(test_diff);
        RUN(test_write_file_atomic);
        return TEST_EXIT();
}
