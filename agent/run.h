/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The commands: `run` (the boot sequence), `render` and `check`. */

#include "config.h"
#include "log.h"

/* Exit status per failure class, so `systemctl status` alone tells an
 * operator where a boot stopped (documented in README.md and
 * kong-bootstrap(8)). Codes 1..7 are avoided beyond 1 and 2: systemd shows
 * them with LSB names that would mislead. */
enum {
        EXIT_OK = 0,
        EXIT_INTERNAL = 1,
        EXIT_USAGE = 2,
        EXIT_CONFIG = 10,
        EXIT_IMDS = 11,
        EXIT_SECRETS = 12,
        EXIT_DATABASE = 13,
        EXIT_MIGRATIONS = 14,
        EXIT_RENDER = 15,
        EXIT_SYSTEMD = 16,
        EXIT_READY = 17,
        EXIT_LIFECYCLE = 18,
};

int exit_status_for_stage(Stage s);

int command_run(Config *c, bool oneshot);
/* With 'diff': what a run would change instead of the whole files. */
int command_render(Config *c, bool diff);
int command_check(Config *c, const char *config_path);
