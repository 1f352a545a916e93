/* SPDX-License-Identifier: Apache-2.0 */
#include "fileio.h"
#include "kongcli.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "retry.h"
#include "test.h"

static void test_version_parse(void)
{
        struct {
                const char *out, *want;
        } cases[] = {
                { "3.9.1\n", "3.9.1" },                         /* kong version: meta._VERSION */
                { "Kong: 3.10.0\nngx_lua: 10026\n", "3.10.0" }, /* kong version -a */
                { "Kong 3.4.3.12\n", "3.4.3.12" },              /* Enterprise, with a prefix */
                { "2026/01/01 [warn] something\n3.9.1-rc.1\n", "3.9.1-rc.1" },
                { "", NULL },
                { "Error: no version\n", NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *v = kong_version_parse(cases[i].out);
                if (cases[i].want)
                        CHECK_STREQ(v, cases[i].want);
                else
                        CHECK(v == NULL);
                free(v);
        }
}

static void test_version_compare(void)
{
        CHECK(kong_version_compare("3.9.1", "3.9.1") == 0);
        CHECK(kong_version_compare("3.9.1", "3.10.0") < 0);
        CHECK(kong_version_compare("3.10.0", "3.9.1") > 0);
        CHECK(kong_version_compare("3.4.3.12", "3.4.3") > 0);
        CHECK(kong_version_compare("3.4", "3.4.0") == 0);
        CHECK(kong_version_compare("3.9.1-rc.1", "3.9.1") == 0);
        CHECK(kong_version_compare("2.8.4", "3.0.0") < 0);
}

static void test_list_pending(void)
{
        const char *out =
                "Executed migrations:\ncore: 000_base, 001_14_to_15\n\n"
                "Pending migrations:\ncore: 003_380_to_390\nacl: 004_x\n\n"
                "New migrations available:\ncore: 005_y\n\nRun 'kong migrations finish' when ready\n";
        char *p = kong_list_pending(out);
        CHECK_STREQ(p, "core: 003_380_to_390; acl: 004_x");
        free(p);
        CHECK(kong_list_pending("Executed migrations:\ncore: 000_base\n\nDatabase is up-to-date\n") == NULL);
}

static unsigned keepalives;
static void count_keepalive(void *userdata)
{
        keepalives++;
}

/* A long `kong migrations finish` run from the daemon's loop must feed the
 * watchdog: the wait calls the keepalive hook about once a second, whether
 * Kong is quiet or chatty (not at every read: the hook may send a
 * lifecycle heartbeat). */
static void test_run_feeds_keepalive(void)
{
        const char *args[] = { "-c",
                               "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; "
                               "do seq 1 300; sleep 0.1; done; echo done",
                               NULL };
        _cleanup_free_ char *out = NULL;
        Error err;
        int status = -1;

        keepalives = 0;
        retry_set_keepalive(count_keepalive, NULL);
        usec_t started = now_usec();
        CHECK(kongcli_run("/bin/sh", args, NULL, 20 * USEC_PER_SEC, &status, &out, &err) >= 0);
        unsigned seconds = (unsigned)((now_usec() - started) / USEC_PER_SEC);
        retry_set_keepalive(NULL, NULL);
        CHECK(status == 0);
        CHECK_CONTAINS(out, "done");
        if (keepalives + 1 < seconds || keepalives > seconds + 1)
                fprintf(stderr, "%u keepalives in %u s\n", keepalives, seconds);
        CHECK(seconds >= 2);
        CHECK(keepalives + 1 >= seconds && keepalives <= seconds + 1);
}

/* A process of group 'pgid' that is not a zombie (/proc/<pid>/stat: state
 * and pgrp follow the ')' that ends the command name). */
static bool group_has_live_process(pid_t pgid)
{
        DIR *d = opendir("/proc");
        struct dirent *e;
        bool live = false;
        while (d && !live && (e = readdir(d))) {
                char path[300], buf[512];
                (void)snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
                FILE *f = e->d_name[0] >= '1' && e->d_name[0] <= '9' ? fopen(path, "re") : NULL;
                if (!f)
                        continue;
                size_t n = fread(buf, 1, sizeof(buf) - 1, f);
                fclose(f);
                buf[n] = '\0';
                char *close = strrchr(buf, ')'), state = 0;
                int ppid = 0, pgrp = 0;
                if (close && sscanf(close + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid &&
                    state != 'Z' && state != 'X')
                        live = true;
        }
        if (d)
                closedir(d);
        return live;
}

/* Past the deadline a quiet run stops as kong_run() stops Kong: SIGTERM to
 * the group first (Kong's CLI gets to clean up), SIGKILL only after the
 * grace period. */
static void test_timeout_terms_then_kills(void)
{
        char dir[] = "/tmp/test-kongcli-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *marker = xasprintf("%s/termed", dir), *pidfile = xasprintf("%s/pid", dir);
        _cleanup_free_ char *polite =
                xasprintf("trap 'echo yes > %s; exit 7' TERM; sleep 30 & wait", marker);
        const char *args[] = { "-c", polite, NULL };
        Error err;
        int status = -1;

        usec_t started = now_usec();
        int r = kongcli_run("/bin/sh", args, NULL, 1 * USEC_PER_SEC, &status, NULL, &err);
        usec_t took = now_usec() - started;
        CHECK(r == -ETIME);
        CHECK_CONTAINS(err.msg, "did not finish within 1 s; stopped it");
        CHECK(access(marker, F_OK) == 0); /* it got SIGTERM, and time to act on it */
        CHECK(took < 6 * USEC_PER_SEC);   /* the 1 s deadline, not also the 5 s grace */

        /* One that ignores SIGTERM (and so does its child): killed, group
         * and all, once the grace period is over. */
        _cleanup_free_ char *stubborn = xasprintf("trap '' TERM; echo $$ > %s; sleep 30", pidfile);
        const char *args2[] = { "-c", stubborn, NULL };
        started = now_usec();
        r = kongcli_run("/bin/sh", args2, NULL, 1 * USEC_PER_SEC, &status, NULL, &err);
        took = now_usec() - started;
        CHECK(r == -ETIME);
        CHECK(took >= 5 * USEC_PER_SEC && took < 30 * USEC_PER_SEC); /* the grace, then SIGKILL */
        _cleanup_buf_ Buf pid = { 0 };
        uint64_t pgid = 0;
        CHECK(read_file_limited(pidfile, 64, &pid, &err) >= 0);
        CHECK(pid.data && parse_uint64(strip(pid.data), &pgid) >= 0 && pgid > 1);
        /* Its `sleep`, orphaned when the shell died, is PID 1's to reap and
         * may stay a zombie for a while: dead is enough. */
        bool gone = false;
        for (int i = 0; i < 40 && pgid > 1 && !gone; i++) {
                gone = !group_has_live_process((pid_t)pgid);
                if (!gone)
                        sleep_usec(50 * USEC_PER_MSEC);
        }
        CHECK(gone);

        /* A launcher that goes at SIGTERM, a child of it that ignores it:
         * the launcher reaped is not the group gone; the child is killed
         * at the end of the grace period all the same. */
        _cleanup_free_ char *mixed =
                xasprintf("echo $$ > %s; trap 'exit 7' TERM; (trap '' TERM; sleep 30) & wait", pidfile);
        const char *args3[] = { "-c", mixed, NULL };
        started = now_usec();
        r = kongcli_run("/bin/sh", args3, NULL, 1 * USEC_PER_SEC, &status, NULL, &err);
        took = now_usec() - started;
        CHECK(r == -ETIME);
        CHECK(took >= 5 * USEC_PER_SEC && took < 30 * USEC_PER_SEC);
        buf_done(&pid);
        pgid = 0;
        CHECK(read_file_limited(pidfile, 64, &pid, &err) >= 0);
        CHECK(pid.data && parse_uint64(strip(pid.data), &pgid) >= 0 && pgid > 1);
        gone = false;
        for (int i = 0; i < 40 && pgid > 1 && !gone; i++) {
                gone = !group_has_live_process((pid_t)pgid);
                if (!gone)
                        sleep_usec(50 * USEC_PER_MSEC);
        }
        CHECK(gone);

        (void)unlink(marker);
        (void)unlink(pidfile);
        (void)rmdir(dir);
}

/* The password at the edge of KONGCLI_OUTPUT_MAX: the line holding it is
 * kept whole (redacted) or dropped, never cut inside the password. */
static void test_password_at_the_cap(void)
{
        static const char pw[] = "Zq#9$k'w\"Lm;T4!vQ";
        DbParams db = { .password = (char *)pw };
        char path[] = "/tmp/test-kongcli-filler-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);

        for (size_t off = 0; off <= strlen(pw) + 16; off++) {
                /* Filler lines of 64 bytes, then a partial one: "pw=PASSWORD
                 * tail" starts 'off' bytes before the cap (+3 for "pw="). */
                size_t filler = KONGCLI_OUTPUT_MAX - off - 3;
                _cleanup_buf_ Buf text = { 0 };
                for (size_t i = 0; i < filler; i++)
                        buf_append(&text, (i % 64 == 63) ? "\n" : "x", 1);
                CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, text.data, text.len, 0) == (ssize_t)text.len);
                _cleanup_free_ char *script =
                        xasprintf("cat %s; printf 'pw=%%s tail\\nnext\\n' \"$KONG_PG_PASSWORD\"", path);
                const char *args[] = { "-c", script, NULL };
                _cleanup_free_ char *out = NULL;
                Error err;
                int status = -1;
                CHECK(kongcli_run("/bin/sh", args, &db, 20 * USEC_PER_SEC, &status, &out, &err) >= 0);
                CHECK(status == 0);
                CHECK(out && strlen(out) <= KONGCLI_OUTPUT_MAX);
                for (size_t k = 4; out && k <= strlen(pw); k++)
                        for (size_t at = 0; at + k <= strlen(pw); at++) {
                                _cleanup_free_ char *piece = xstrndup(pw + at, k);
                                if (strstr(out, piece)) {
                                        fprintf(stderr, "off=%zu: '%s' of the password kept\n", off, piece);
                                        CHECK(false);
                                        k = strlen(pw);
                                        break;
                                }
                        }
        }
        close(fd);
        (void)unlink(path);
}

int main(void)
{
        RUN(test_version_parse);
        RUN(test_version_compare);
        RUN(test_list_pending);
        RUN(test_run_feeds_keepalive);
        RUN(test_timeout_terms_then_kills);
        RUN(test_password_at_the_cap);
        return TEST_EXIT();
}
