/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "config.h"

/* `kong-bootstrap status [--wait] [--json]`: where the running agent's boot
 * is, from the file it keeps (status_file; state.c). Needs no privilege
 * but reading that file. Its own exit statuses, beside run's: */
typedef enum StatusExit {
        STATUS_EXIT_READY = 0,        /* Kong ready, boot complete */
        STATUS_EXIT_FAILED = 20,      /* the boot failed (stage, reason, run's exit status shown) */
        STATUS_EXIT_BOOTING = 21,     /* still booting (without --wait) */
        STATUS_EXIT_DRAINING = 22,    /* draining, or stopped after draining */
        STATUS_EXIT_NOT_RUNNING = 23, /* no status file, or its agent is gone mid-boot */
} StatusExit;

/* How long --wait waits for an agent that is not running (not started
 * yet, or restarting: the unit's RestartSec= is 30 s) before it says so. */
#define STATUS_START_GRACE (90 * USEC_PER_SEC)

/* Returns the exit status (a StatusExit, or EXIT_INTERNAL when the file
 * cannot be read or is not a status file). */
int command_status(const Config *c, bool wait, bool json);
