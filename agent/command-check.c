/* SPDX-License-Identifier: Apache-2.0 */
#include "run.h"

#include <stdio.h>

#include "boot.h"

static void check_line(bool ok, const char *what, const char *detail)
{
        printf("%-4s %-9s %s\n", ok ? "ok" : "FAIL", what, detail);
        (void)fflush(stdout);
}

int command_check(Config *c, const char *config_path)
{
        Boot b = { .config = c, .started = now_usec() };
        Error err = { "" };
        int status = EXIT_OK;
        char line[1200];

        if (boot_imds(&b, &err) < 0) {
                check_line(false, "imds", err.msg);
                status = EXIT_IMDS;
                goto out;
        }
        snprintf(line, sizeof(line), "instance %s in %s, role %s", b.instance.instance_id,
                 b.instance.availability_zone, b.role);
        check_line(true, "imds", line);
        if (boot_instance_config(&b, &err) < 0) {
                check_line(false, "config", err.msg);
                status = EXIT_CONFIG;
                goto out;
        }
        check_line(true, "config", config_path);
        if (boot_secret(&b, &err) < 0) {
                check_line(false, "secrets", err.msg);
                status = EXIT_SECRETS;
                goto out;
        }
        snprintf(line, sizeof(line), "%s (version %s)", b.secret.arn, b.secret.version_id);
        check_line(true, "secrets", line);
        if (boot_render(&b, true, &err) < 0) {
                check_line(false, "render", err.msg);
                status = EXIT_RENDER;
                goto out;
        }
        check_line(true, "render", "kong.conf and env file can be written from this configuration");
        /* One attempt, no waiting: check says how things are now. */
        if (db_wait(&b.db, 0, &b.lock_conn, NULL, &err) < 0) {
                check_line(false, "postgres", err.msg);
                status = EXIT_DATABASE;
                goto out;
        }
        snprintf(line, sizeof(line), "%s:%s/%s as %s", b.db.host, b.db.port, b.db.dbname, b.db.user);
        check_line(true, "postgres", line);
out:
        boot_done(&b);
        return status;
}
