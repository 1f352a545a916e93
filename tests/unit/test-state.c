/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state.h"
#include "test.h"

static char *tmpdir(void)
{
        char t[] = "/tmp/test-state.XXXXXX";
        if (!mkdtemp(t))
                abort();
        return xstrdup(t);
}

static void write_text(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");
        if (!f)
                abort();
        (void)fputs(text, f);
        (void)fclose(f);
}

/* Nothing is written before state_open(): render and check share the
 * stages but are not the node's boot. */
static void test_inert_until_opened(void)
{
        Error err = { "" };
        CHECK(state_record(BOOT_STATE_BOOTING, STAGE_IMDS, -1, NULL, &err) == 0);
}

static void test_round_trip(void)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_free_ char *path = xasprintf("%s/run/status.json", dir);
        Error err = { "" };
        StateInfo i;
        struct stat st;
        usec_t started = now_usec();

        state_open(path, started);
        CHECK(state_record(BOOT_STATE_BOOTING, STAGE_DATABASE, -1, NULL, &err) == 0);
        /* The file others read is 0644; the directory, created when
         * missing, lets them reach it by name but not list it. */
        CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644);
        _cleanup_free_ char *run = xasprintf("%s/run", dir);
        CHECK(stat(run, &st) == 0 && (st.st_mode & 07777) == 0711);

        CHECK(state_read(path, &i, &err) == 0);
        CHECK(i.state == BOOT_STATE_BOOTING);
        CHECK_STREQ(i.stage, "database");
        CHECK(i.pid == getpid());
        CHECK(i.pid_start != 0 && i.pid_start == state_process_start(getpid()));
        CHECK(i.started == started);
        CHECK(i.exit_status == -1 && i.error == NULL);
        CHECK(state_writer_running(&i));
        state_info_done(&i);

        CHECK(state_record(BOOT_STATE_FAILED, STAGE_SECRETS, 12, "secret_id from x: no secret 'a'\nb",
                           &err) == 0);
        CHECK(state_read(path, &i, &err) == 0);
        CHECK(i.state == BOOT_STATE_FAILED && i.exit_status == 12);
        CHECK_STREQ(i.stage, "secrets");
        /* No control character survives (as in STATUS=). */
        CHECK(i.error && !strchr(i.error, '\n'));
        CHECK_CONTAINS(i.error, "no secret 'a'");
        state_info_done(&i);

        CHECK(state_record(BOOT_STATE_READY, STAGE_BOOT, 0, NULL, &err) == 0);
        CHECK(state_read(path, &i, &err) == 0);
        CHECK(i.state == BOOT_STATE_READY && i.exit_status == 0 && i.elapsed <= now_usec() - started);
        state_info_done(&i);
        CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644);

        /* Only status.json is there: no temp file left behind. */
        _cleanup_free_ char *cmd = xasprintf("test \"$(ls -A %s)\" = status.json", run);
        CHECK(system(cmd) == 0);
        _cleanup_free_ char *rm = xasprintf("rm -rf %s", dir);
        CHECK(system(rm) == 0);
}

static void test_writer_gone(void)
{
        StateInfo i = { .exit_status = -1 };
        pid_t child = fork();
        if (child == 0)
                _exit(0);
        CHECK(child > 0);
        i.pid = child;
        i.pid_start = state_process_start(child);
        (void)waitpid(child, NULL, 0);
        CHECK(!state_writer_running(&i));

        /* Our pid, but another start time: a reused pid is not the writer. */
        i.pid = getpid();
        i.pid_start = state_process_start(getpid()) + 1;
        CHECK(!state_writer_running(&i));
}

static void test_not_a_status_file(void)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_free_ char *path = xasprintf("%s/status.json", dir);
        Error err = { "" };
        StateInfo i;

        CHECK(state_read(path, &i, &err) == -ENOENT);
        const char *bad[] = {
                "",
                "{}",
                "not json",
                "{\"state\":\"sleeping\",\"stage\":\"imds\",\"pid\":1,\"pid_start\":1,"
                "\"started_monotonic_usec\":1,\"started_realtime_usec\":1,\"elapsed_usec\":1}",
                "{\"state\":\"ready\",\"stage\":\"boot\",\"pid\":-4,\"pid_start\":1,"
                "\"started_monotonic_usec\":1,\"started_realtime_usec\":1,\"elapsed_usec\":1}",
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                write_text(path, bad[k]);
                CHECK(state_read(path, &i, &err) == -EBADMSG);
                CHECK_CONTAINS(err.msg, "is not a kong-bootstrap status file");
        }
        (void)unlink(path);
        (void)rmdir(dir);
}

int main(void)
{
        RUN(test_inert_until_opened);
        RUN(test_round_trip);
        RUN(test_writer_gone);
        RUN(test_not_a_status_file);
        return TEST_EXIT();
}
