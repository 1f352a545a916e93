/* SPDX-License-Identifier: Apache-2.0 */
#include "kong.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "retry.h"
#include "test.h"

static void test_migrations_decide(void)
{
        CHECK(migrations_decide(0, MIGRATIONS_AUTO, false) == ACTION_NONE);
        CHECK(migrations_decide(3, MIGRATIONS_AUTO, false) == ACTION_BOOTSTRAP);
        CHECK(migrations_decide(3, MIGRATIONS_BOOTSTRAP_ONLY, false) == ACTION_BOOTSTRAP);
        CHECK(migrations_decide(3, MIGRATIONS_OFF, false) == ACTION_REFUSE);
        CHECK(migrations_decide(5, MIGRATIONS_AUTO, false) == ACTION_UP);
        CHECK(migrations_decide(5, MIGRATIONS_BOOTSTRAP_ONLY, false) == ACTION_REFUSE);
        CHECK(migrations_decide(5, MIGRATIONS_OFF, true) == ACTION_REFUSE);
        CHECK(migrations_decide(4, MIGRATIONS_AUTO, false) == ACTION_NONE);
        CHECK(migrations_decide(4, MIGRATIONS_AUTO, true) == ACTION_FINISH);
        CHECK(migrations_decide(4, MIGRATIONS_OFF, true) == ACTION_NONE);
        CHECK(migrations_decide(1, MIGRATIONS_AUTO, true) == ACTION_FAIL);
        CHECK(migrations_decide(2, MIGRATIONS_AUTO, true) == ACTION_FAIL);
        CHECK(migrations_decide(127, MIGRATIONS_AUTO, true) == ACTION_FAIL);
}

static void test_kong_child_environment(void)
{
        DbParams db = { .host = "h",
                        .port = "5432",
                        .dbname = "kong",
                        .user = "u",
                        .password = "p w#",
                        .sslmode = "verify-full",
                        .sslrootcert = "/ca.pem" };
        char *ours[] = { "PATH=/usr/bin",
                         "HOME=/root",
                         "AWS_SECRET_ACCESS_KEY=nope",
                         "KONG_BOOTSTRAP_SECRET_ID=x",
                         "NOTIFY_SOCKET=/run/x",
                         NULL };
        char **env = kong_child_environment(&db, ours);

        CHECK(strv_contains(env, "PATH=/usr/bin"));
        CHECK(strv_contains(env, "HOME=/root"));
        CHECK(strv_contains(env, "KONG_PG_PASSWORD=p w#"));
        /* Like kong.service: the password from the environment, every
         * other setting from the kong.conf given with -c. */
        STRV_FOREACH (e, env) {
                CHECK(!startswith(*e, "KONG_") || startswith(*e, "KONG_PG_PASSWORD="));
                CHECK(!startswith(*e, "AWS_"));
                CHECK(!startswith(*e, "KONG_BOOTSTRAP_"));
                CHECK(!startswith(*e, "NOTIFY_SOCKET"));
        }
        strv_free(env);

        char *no_path[] = { NULL };
        env = kong_child_environment(&db, no_path);
        CHECK(strv_contains(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
        strv_free(env);
}

typedef struct Lines {
        char **l;
} Lines;

static void collect(const char *line, void *userdata)
{
        Lines *lines = userdata;
        strv_push(&lines->l, xstrdup(line));
}

static void test_output_redaction(void)
{
        static const char pw[] = "s3cr#t; \"pa$$ 'w\\";
        Lines lines = { NULL };
        KongOutput o = { 0 };
        _cleanup_free_ char *text = xasprintf("first line\npg_password = %s, again %s\nlast %s", pw, pw, pw);
        size_t len = strlen(text);

        /* Every way of splitting the text into two reads. */
        for (size_t cut = 0; cut <= len; cut++) {
                kong_output_feed(&o, text, cut, pw, collect, &lines);
                kong_output_feed(&o, text + cut, len - cut, pw, collect, &lines);
                kong_output_finish(&o, pw, collect, &lines);
                CHECK(strv_length(lines.l) == 3);
                CHECK_STREQ(lines.l[0], "first line");
                CHECK_STREQ(lines.l[1], "pg_password = <redacted>, again <redacted>");
                CHECK_STREQ(lines.l[2], "last <redacted>");
                lines.l = strv_free(lines.l);
        }
        /* One byte per read. */
        for (size_t i = 0; i < len; i++)
                kong_output_feed(&o, text + i, 1, pw, collect, &lines);
        kong_output_finish(&o, pw, collect, &lines);
        CHECK(strv_length(lines.l) == 3 && streq(lines.l[2], "last <redacted>"));
        lines.l = strv_free(lines.l);

        /* A password straddling the line cap: the line dropped whole, so
         * neither half is passed on. */
        for (size_t before = KONG_LINE_MAX - strlen(pw); before <= KONG_LINE_MAX; before++) {
                Buf long_line = { 0 };
                for (size_t i = 0; i < before; i++)
                        buf_append(&long_line, "x", 1);
                buf_puts(&long_line, pw);
                buf_puts(&long_line, " tail\nnext\n");
                kong_output_feed(&o, long_line.data, long_line.len, pw, collect, &lines);
                kong_output_finish(&o, pw, collect, &lines);
                CHECK(strv_length(lines.l) == 2);
                for (size_t k = 3; k <= strlen(pw); k++) {
                        _cleanup_free_ char *piece = xstrndup(pw, k);
                        if (strstr(lines.l[0], piece))
                                fprintf(stderr, "before=%zu: '%s' leaked\n", before, piece);
                        CHECK(strstr(lines.l[0], piece) == NULL);
                }
                CHECK_STREQ(lines.l[0], "(a line longer than 4096 bytes, dropped)");
                CHECK_STREQ(lines.l[1], "next");
                lines.l = strv_free(lines.l);
                buf_done(&long_line);
        }
}

static unsigned interrupt_calls;
static usec_t interrupted_at;
static bool interrupt_after_two(void *userdata)
{
        (void)userdata;
        if (++interrupt_calls <= 2)
                return false;
        if (!interrupted_at)
                interrupted_at = now_usec();
        return true;
}

/* kong_run() of `sh -c script` that the interrupt hook stops at its third
 * look (about 2 s in): -ECANCELED, stopped by our SIGTERM, not by the
 * SIGKILL at the end of the 5 s grace (kong.c KONG_STOP_GRACE). That
 * bound is the mechanism, not a speed. */
static void run_until_interrupted(const char *script)
{
        const char *args[] = { "-c", script, NULL };
        DbParams db = { .password = (char *)"pw" };
        usec_t now = now_usec();
        KongWatch watch = { .started = now, .deadline = now + 60 * USEC_PER_SEC };
        Error err = { "" };
        int status = -1;

        interrupt_calls = 0;
        interrupted_at = 0;
        retry_set_interrupt(interrupt_after_two, NULL);
        int r = kong_run("/bin/sh", args, &db, &watch, &status, &err);
        usec_t done = now_usec();
        retry_set_interrupt(NULL, NULL);
        CHECK(r == -ECANCELED);
        CHECK_CONTAINS(err.msg, "this node is being terminated");
        CHECK(interrupted_at != 0 && done - interrupted_at < 5 * USEC_PER_SEC);
}

/* A termination notice (the daemon's interrupt hook) stops a long run, such
 * as a `kong migrations finish` from the fleet tick, within about a second:
 * SIGTERM to its group, -ECANCELED, nothing of it left running. Run with
 * SIGTERM blocked, as in the daemon (sd-event's signalfd): the child must
 * not inherit that, or our SIGTERM would wait for the SIGKILL. */
static void test_run_stops_on_interrupt(void)
{
        sigset_t term, old;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        CHECK(sigprocmask(SIG_BLOCK, &term, &old) == 0);

        char dir[] = "/tmp/test-kong-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *marker = xasprintf("%s/termed", dir);
        _cleanup_free_ char *script =
                xasprintf("trap 'echo yes > %s; exit 7' TERM; sleep 60 & wait", marker);
        run_until_interrupted(script);
        CHECK(access(marker, F_OK) == 0); /* SIGTERM first, and it got it */
        (void)unlink(marker);
        (void)rmdir(dir);
        CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
}

/* A stopped Kong's orphans are zombies of its group until their new parent
 * reaps them; a PID 1 that is slow to (or never does) must not make the
 * stop wait out the grace period for the dead. This process is made the
 * orphans' subreaper and does not reap them until the run is over. */
static void test_stop_does_not_wait_for_zombies(void)
{
        CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
        /* (sleep 60 &): orphaned at once, so ours from the start (a sleep
         * that died before the shell would be the shell's to reap) */
        run_until_interrupted("(sleep 60 &); trap 'exit 7' TERM; sleep 60 & wait");
        /* the orphaned sleep: dead, not yet reaped */
        siginfo_t si = { 0 };
        CHECK(waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid > 0);
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        CHECK(prctl(PR_SET_CHILD_SUBREAPER, 0) == 0);
}

int main(void)
{
        RUN(test_migrations_decide);
        RUN(test_kong_child_environment);
        RUN(test_output_redaction);
        RUN(test_run_stops_on_interrupt);
        RUN(test_stop_does_not_wait_for_zombies);
        return TEST_EXIT();
}
