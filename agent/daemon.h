/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The day after boot (see daemon.c). */

#include "boot.h"

/* Stays after the boot: rotation and termination watchers, SIGTERM drain,
 * watchdog. Returns the exit status. */
int daemon_run(Boot *b);
