/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The one table of a boot's stages: each stage's name (the STAGE= field and
 * the prefix of stderr lines), its MESSAGE_ID (explained in
 * units/kong-bootstrap.catalog) and the exit status of a boot that fails
 * there. --help, the man page, the README and the catalog follow from this
 * table; tests/packaging/test-man-pages checks that they do.
 */

#include <stdio.h>

/* Exit status per failure class, so that `systemctl status` alone tells an
 * operator where a boot stopped. Codes 3..7 are avoided: systemd shows them
 * with LSB names (NOTINSTALLED, …) that would mislead. */
typedef enum ExitStatus {
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
        EXIT_FLEET = 19,
} ExitStatus;

typedef enum Stage {
        STAGE_CONFIG,
        STAGE_IMDS,
        STAGE_SECRETS,
        STAGE_DATABASE,
        STAGE_MIGRATIONS,
        STAGE_RENDER,
        STAGE_START,
        STAGE_READY,
        STAGE_LIFECYCLE, /* Auto Scaling lifecycle hooks */
        STAGE_BOOT,      /* the whole boot: done or failed */
        STAGE_ROTATION,  /* day 2: the secret changed */
        STAGE_DRAIN,     /* day 2: termination, drain, stop */
        STAGE_FLEET,     /* the fleet registry and migrations_finish = after-rollout */
        _STAGE_MAX,
} Stage;

/* A failed boot has its own MESSAGE_ID, whatever the stage. */
#define MESSAGE_ID_BOOT_FAILED "5e725d8e9386489fb031be14d2736643"
/* An instance tag the trust model refuses: not used, reported, the boot
 * goes on with the trusted value. Not a stage: a boot never stops there. */
#define MESSAGE_ID_TAG_REFUSED "97402e984bbc4d959265d3b0e920e5c4"

const char *stage_name(Stage s);
const char *stage_message_id(Stage s);
/* EXIT_INTERNAL for the stages a boot cannot fail at (boot, rotation,
 * drain). */
ExitStatus stage_exit_status(Stage s);

/* The "Exit status:" paragraph of --help, from the table. */
void stage_print_exit_statuses(FILE *f);
