/* SPDX-License-Identifier: Apache-2.0 */
#include "stage.h"

#include "util.h"

static const struct {
        const char *name;
        const char *message_id;
        ExitStatus exit_status; /* of a boot that fails at this stage */
        const char *failure;    /* what that exit status means, for --help */
} stages[_STAGE_MAX] = {
        [STAGE_CONFIG] = { "config", "892ad107e3e2463c999bc824eb8ef8d0", EXIT_CONFIG, "config" },
        [STAGE_IMDS] = { "imds", "0950b45a52694345ae65cc070ad6cbc5", EXIT_IMDS, "IMDS" },
        [STAGE_SECRETS] = { "secrets", "152e1d3822df4e5f93fc8d16124dd47f", EXIT_SECRETS, "Secrets Manager" },
        [STAGE_DATABASE] = { "database", "4d1e5ec58db8415c81ef20070e751c37", EXIT_DATABASE, "database" },
        [STAGE_MIGRATIONS] = { "migrations", "da2ac317fd514e6898ab87777b1e9982", EXIT_MIGRATIONS,
                               "migrations" },
        [STAGE_RENDER] = { "render", "26401c179f2f454186af30e4f6b380fe", EXIT_RENDER, "render" },
        [STAGE_START] = { "start", "2582524e415d4437afcd023f0e6c4b90", EXIT_SYSTEMD, "systemd" },
        [STAGE_READY] = { "ready", "c10998842e144f6b811bc2140e292724", EXIT_READY, "Kong readiness" },
        [STAGE_LIFECYCLE] = { "lifecycle", "060cde9f18374ea48736614d0f50b8e1", EXIT_LIFECYCLE,
                              "lifecycle hook" },
        [STAGE_BOOT] = { "boot", "ca3461ce353d400cbc0a021f325fc846", EXIT_INTERNAL, NULL },
        [STAGE_ROTATION] = { "rotation", "9c192d077c934a6590ad73ef26ed82db", EXIT_INTERNAL, NULL },
        [STAGE_DRAIN] = { "drain", "b0c8ed9bcc854bd285710b7e7eca2576", EXIT_INTERNAL, NULL },
        [STAGE_FLEET] = { "fleet", "a46a209b95164be1a53623afe3fd47e8", EXIT_FLEET, "fleet registry" },
};

const char *stage_name(Stage s)
{
        return s < _STAGE_MAX ? stages[s].name : "?";
}

const char *stage_message_id(Stage s)
{
        return s < _STAGE_MAX ? stages[s].message_id : NULL;
}

ExitStatus stage_exit_status(Stage s)
{
        return s < _STAGE_MAX ? stages[s].exit_status : EXIT_INTERNAL;
}

void stage_print_exit_statuses(FILE *f)
{
        fprintf(f, "Exit status: %d ok, %d usage", EXIT_OK, EXIT_USAGE);
        for (Stage s = 0; s < _STAGE_MAX; s++)
                if (stages[s].failure)
                        fprintf(f, ", %d %s", stages[s].exit_status, stages[s].failure);
        fprintf(f, ", %d internal error.\n", EXIT_INTERNAL);
}
