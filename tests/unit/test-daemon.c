/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "test.h"

static int never(sd_event_source *s, uint64_t usec, void *userdata)
{
        return 0;
}

/* A timer that cannot be re-armed (here: a deadline past the end of the
 * clock) is logged as an error naming the watch and ends the loop with
 * EXIT_INTERNAL, instead of leaving the watch stopped without a word. */
static void test_rearm_failure_ends_the_daemon(void)
{
        sd_event *e = NULL;
        sd_event_source *s = NULL;
        char path[] = "/tmp/test-daemon-XXXXXX";
        int fd = mkstemp(path), saved = dup(STDERR_FILENO);

        CHECK(fd >= 0 && saved >= 0);
        CHECK(sd_event_new(&e) >= 0);
        CHECK(sd_event_add_time_relative(e, &s, CLOCK_MONOTONIC, USEC_PER_SEC, 0, never, NULL) >= 0);

        /* A good re-arm leaves the loop alone. */
        CHECK(daemon_rearm(s, USEC_PER_SEC, "termination") >= 0);
        CHECK(sd_event_get_state(e) == SD_EVENT_INITIAL);

        (void)fflush(stderr);
        CHECK(dup2(fd, STDERR_FILENO) >= 0);
        int r = daemon_rearm(s, UINT64_MAX - 1, "rotation");
        (void)fflush(stderr);
        CHECK(dup2(saved, STDERR_FILENO) >= 0);
        CHECK(r < 0);

        /* The loop ends at once with EXIT_INTERNAL. */
        CHECK(sd_event_loop(e) == EXIT_INTERNAL);

        char logged[1024] = "";
        ssize_t n = pread(fd, logged, sizeof(logged) - 1, 0);
        CHECK(n > 0);
        CHECK_CONTAINS(logged, "cannot re-arm the rotation watch");
        CHECK_CONTAINS(logged, "systemd restarts us");

        sd_event_source_unref(s);
        sd_event_unref(e);
        close(fd);
        close(saved);
        unlink(path);
}

int main(void)
{
        log_setup(false);
        RUN(test_rearm_failure_ends_the_daemon);
        return TEST_EXIT();
}
