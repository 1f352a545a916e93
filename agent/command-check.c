/* SPDX-License-Identifier: Apache-2.0 */
#include "command-check.h"

#include <stdio.h>

#include "boot.h"

/* One attempt, no waiting: check says how things are now. The connection
 * is closed at once; check takes no lock. */
static int database_once(Boot *b, Error *err)
{
        return db_wait(&b->db, 0, &b->lock_conn, NULL, err);
}

static int render_redacted(Boot *b, Error *err)
{
        return boot_render(b, true, err);
}

/* What a passed step shows. */
static char *describe(const Boot *b, Stage s, const char *config_path)
{
        switch (s) {
        case STAGE_IMDS:
                return xasprintf("instance %s in %s, role %s", b->instance.instance_id,
                                 b->instance.availability_zone, b->role);
        case STAGE_CONFIG: return xstrdup(config_path);
        case STAGE_SECRETS:
                return xasprintf("%s (version %s)%s", b->secret.arn, b->secret.version_id,
                                 b->kong_secrets.n_refs ? "; kong_secret.* settings read" : "");
        case STAGE_RENDER: return xstrdup("kong.conf and env file can be written from this configuration");
        case STAGE_DATABASE:
                return xasprintf("%s:%s/%s as %s", b->db.host, b->db.port, b->db.dbname, b->db.user);
        default: return xstrdup("");
        }
}

static void check_line(bool ok, const char *what, const char *detail)
{
        _cleanup_free_ char *shown = sanitize_for_log(detail, SIZE_MAX);
        printf("%-4s %-9s %s\n", ok ? "ok" : "FAIL", what, shown);
        (void)fflush(stdout);
}

int command_check(Config *c, const char *config_path)
{
        static const BootStep steps[] = {
                BOOT_PREPARE_STEPS,
                { STAGE_RENDER, render_redacted },
                { STAGE_DATABASE, database_once },
        };
        Boot b = { .config = c, .started = now_usec() };
        int status = EXIT_OK;

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                Stage s = steps[i].stage;
                Error err = { "" };
                /* The database check is named for its peer, as before. */
                const char *what = s == STAGE_DATABASE ? "postgres" : stage_name(s);
                if (boot_run_steps(&b, &steps[i], 1, &s, &err) < 0) {
                        check_line(false, what, err.msg);
                        if (status == EXIT_OK)
                                status = stage_exit_status(s);
                        break;
                }
                _cleanup_free_ char *detail = describe(&b, s, config_path);
                check_line(true, what, detail);
                /* A run goes on without refused tags; check says they are
                 * there, so that whoever set them learns it, and goes on. */
                if (s == STAGE_CONFIG && b.refused_tags) {
                        STRV_FOREACH (t, b.refused_tags)
                                check_line(false, "tag", *t);
                        status = EXIT_CONFIG;
                }
        }
        boot_done(&b);
        return status;
}
