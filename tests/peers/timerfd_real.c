/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Preloaded before libfaketime by tests/integration/test_clock_skew.py: the
 * agent's timerfds see the real clock.
 *
 * libfaketime 0.9.10 (Debian 12) intercepts timerfd_settime() and moves an
 * absolute expiry (TFD_TIMER_ABSTIME, which sd-event always uses) by the
 * fake offset, FAKETIME_DONT_FAKE_MONOTONIC=1 or not: it cannot tell the
 * timer's clock from its fd, and treats every one as CLOCK_REALTIME. sd-event
 * computes that expiry from the real CLOCK_MONOTONIC (not faked), so a clock
 * 15 minutes fast arms a timer that fires at once, is found not yet due,
 * and is never armed again (the loop hangs), and one 15 minutes slow arms
 * it 15 minutes late. The agent arms only CLOCK_MONOTONIC timers (sd-event,
 * daemon.c), so handing its calls straight to the kernel is exact. What the
 * tests fake stays faked: time(), gettimeofday(), clock_gettime(CLOCK_REALTIME).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

int timerfd_settime(int fd, int flags, const struct itimerspec *new_value, struct itimerspec *old_value)
{
        return (int)syscall(SYS_timerfd_settime, fd, flags, new_value, old_value);
}

int timerfd_gettime(int fd, struct itimerspec *curr_value)
{
        return (int)syscall(SYS_timerfd_gettime, fd, curr_value);
}
