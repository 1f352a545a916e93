/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The day after boot (see daemon.c). */

#include <systemd/sd-event.h>

#include "boot.h"

/* Blocks SIGTERM and SIGINT, which the daemon's loop reads from a
 * signalfd. Called before READY=1: from then on systemd may stop us, and
 * a SIGTERM before the loop runs must wait for it (its drain) instead of
 * ending the process at once. */
int daemon_block_signals(void);

/* Stays after the boot: rotation and termination watchers, SIGTERM drain,
 * watchdog. Returns the exit status. */
int daemon_run(Boot *b);

/* Sets the one-shot timer 's' to fire in 'in'. A failure is logged naming
 * the 'watch' and ends the event loop with EXIT_INTERNAL: systemd restarts
 * the unit rather than leave a watch silently stopped. */
int daemon_rearm(sd_event_source *s, usec_t in, const char *watch);
