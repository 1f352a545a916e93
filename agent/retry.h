/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The one backoff policy every retry loop uses, and the keepalive that
 * every slow wait runs.
 *
 * Waiting does network I/O. retry_waiting() — called by backoff_wait() and
 * by every other wait that may last seconds (a running `kong migrations`,
 * the migration lock, a systemd job, Kong's readiness) — asks systemd for
 * more start time and then runs the keepalive hook. During a boot that
 * hook sends RecordLifecycleActionHeartbeat (command-run.c), which may
 * first refresh the role credentials from IMDS; in the daemon it pings the
 * watchdog. So any wait may call IMDS and Auto Scaling, re-entering the
 * HTTP helper.
 *
 * The invariant that makes this safe: credentials are replaced in place.
 * The refresh swaps the fields of the one AwsCredentials a Boot owns;
 * callers pass that struct by pointer and read its fields afresh for every
 * attempt, never keeping a field's pointer across a wait. Nothing else a
 * wait's caller holds is changed by the hook. The hook must not recurse
 * (it guards itself: its own waits call it again).
 */

#include "util.h"

/* Capped exponential backoff with full jitter (AWS "standard" retries):
 * the delay before attempt n+1 is uniform in [0, min(cap, base * 2^n)). */
typedef struct Backoff {
        usec_t deadline;
        usec_t base;
        usec_t cap;
        unsigned attempt;
        /* Uniform in [0, n); random_below() unless a test injects its own. */
        uint64_t (*random)(uint64_t n);
} Backoff;

void backoff_init(Backoff *b, usec_t timeout, usec_t base, usec_t cap);
usec_t backoff_delay(const Backoff *b);
/* Sleeps before the next attempt; false (without sleeping) when the
 * deadline has passed, false (at once) when retry_interrupted(). Runs
 * retry_waiting() first. */
bool backoff_wait(Backoff *b);

/* A slow wait is under way: EXTEND_TIMEOUT_USEC='usec' to systemd, then
 * the keepalive hook (network I/O, see above). */
void retry_waiting(usec_t usec);

typedef void (*KeepaliveFn)(void *userdata);
/* Sets the hook retry_waiting() runs; NULL removes it. */
void retry_set_keepalive(KeepaliveFn fn, void *userdata);

/*
 * Slow work that yields to something more urgent: the daemon's termination
 * watch must not wait behind a rotation check (daemon.c).
 *
 * While an interrupt hook is set, every slow wait asks it at least every
 * RETRY_POLL_INTERVAL: backoff_wait() between slices of its sleep, an HTTP
 * transfer in flight (http.c, from curl's progress callback), a systemd job
 * (systemd.c), a database connect (db.c). The hook may do network I/O (the
 * daemon's reads IMDS: it re-enters the HTTP helper, on a handle of its
 * own); it is never called from inside itself. When it answers true the
 * wait ends at once: backoff_wait() returns false, the others fail with
 * -ECANCELED, and the caller abandons its work. Writes are atomic
 * (fileio.c), so abandoned work leaves no half-written file.
 */
#define RETRY_POLL_INTERVAL (1 * USEC_PER_SEC)
typedef bool (*InterruptFn)(void *userdata);
/* Sets the interrupt hook; NULL removes it. */
void retry_set_interrupt(InterruptFn fn, void *userdata);
/* Asks the hook (false without one, or when called from inside it). */
bool retry_interrupted(void);
