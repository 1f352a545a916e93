/* SPDX-License-Identifier: Apache-2.0 */
#include "command-check.h"

#include <stdio.h>

#include "autoscaling.h"
#include "boot.h"
#include "kong.h"
#include "kongcli.h"
#include "probe.h"
#include "registry.h"

/*
 * check predicts run: every stage run takes is asked what it can be asked
 * without changing anything, and every failure is reported, not only the
 * first. A check whose prerequisite failed is skipped (it could only fail
 * for the same reason). The exit status is that of the first failing check
 * in the order run takes its stages, i.e. of the stage where run would
 * stop first.
 */

typedef enum CheckId {
        CHECK_IMDS,
        CHECK_CONFIG,
        CHECK_SECRETS,
        CHECK_CA,
        CHECK_POSTGRES,
        CHECK_FLEET,
        CHECK_RENDER,
        CHECK_KONG,
        CHECK_SCHEMA,
        CHECK_UNIT,
        CHECK_LIFECYCLE,
        _CHECK_MAX,
} CheckId;

#define NEEDS(id) (1u << (id))

typedef struct Check {
        const char *name;
        Stage stage; /* where run would fail: the exit status */
        unsigned needs;
        int (*run)(Boot *b, char **ret_detail, Error *err);
        bool (*applies)(const Config *c); /* NULL: always; otherwise no line when false */
} Check;

static int check_imds(Boot *b, char **ret_detail, Error *err)
{
        int r = boot_imds(b, err);
        if (r >= 0)
                *ret_detail = xasprintf("instance %s in %s, role %s", b->instance.instance_id,
                                        b->instance.availability_zone, b->role);
        return r;
}

static int check_config(Boot *b, char **ret_detail, Error *err)
{
        (void)ret_detail; /* command_check() names the file */
        return boot_instance_config(b, err);
}

static int check_secrets(Boot *b, char **ret_detail, Error *err)
{
        int r = boot_secret(b, err);
        if (r >= 0)
                *ret_detail = xasprintf("%s (version %s)%s", b->secret.arn, b->secret.version_id,
                                        b->kong_secrets.n_refs ? "; kong_secret.* settings read" : "");
        return r;
}

static int check_ca(Boot *b, char **ret_detail, Error *err)
{
        return probe_ca_file(b->config, &b->db, ret_detail, err);
}

/* One attempt, no waiting: check says how things are now. Check takes no
 * lock, and closes the connection at once. */
static int check_postgres(Boot *b, char **ret_detail, Error *err)
{
        int r = db_wait(&b->db, 0, &b->lock_conn, NULL, err);
        if (r >= 0)
                *ret_detail = xasprintf("%s:%s/%s as %s", b->db.host, b->db.port, b->db.dbname, b->db.user);
        PQfinish(b->lock_conn);
        b->lock_conn = NULL;
        return r;
}

static bool after_rollout(const Config *c)
{
        return streq(config_get(c, CONF_MIGRATIONS_FINISH), "after-rollout");
}

/* Run's other refusal at this stage: this node's Kong older than the newest
 * Kong that ran `finish` (fleet_boot_register()). */
static int check_not_older_than_schema(Boot *b, PGconn *conn, Error *err)
{
        bool exists = false;
        _cleanup_free_ char *newest = NULL, *version = NULL;
        int r = registry_exists(conn, &exists, err);
        if (r < 0 || !exists)
                return r;
        r = registry_newest_finish_version(conn, &newest, err);
        if (r < 0 || !newest)
                return r;
        const char *bin = config_get(b->config, CONF_KONG_BIN);
        r = kongcli_version(bin, PROBE_KONG_TIMEOUT, &version, err);
        if (r < 0) {
                error_prefix(err,
                             "cannot tell whether this node's Kong is older than the schema (Kong %s "
                             "ran 'kong migrations finish')",
                             newest);
                return r;
        }
        if (kong_version_compare(version, newest) < 0)
                return error_set(
                        err, -EPROTO,
                        "Kong %s (%s) is older than the schema, which Kong %s has finished: run "
                        "would not start Kong; boot this instance from an image with Kong %s or newer",
                        version, bin, newest, newest);
        return 0;
}

/* migrations_finish = after-rollout: run creates (or uses) the fleet
 * registry's schema right after the database stage (fleet_boot_register());
 * asked here with read-only queries on a connection of its own. */
static int check_fleet(Boot *b, char **ret_detail, Error *err)
{
        PGconn *conn = NULL;
        int r = db_wait(&b->db, 0, &conn, NULL, err);
        if (r >= 0)
                r = registry_check(conn, &b->db, ret_detail, err);
        if (r == -EACCES || r == -EPROTO)
                error_prefix(err, "migrations_finish from %s",
                             config_source(b->config, CONF_MIGRATIONS_FINISH));
        if (r >= 0)
                r = check_not_older_than_schema(b, conn, err);
        PQfinish(conn);
        return r;
}

/* The kong.conf run would write (held in memory only), for the schema
 * check's `kong migrations list -c`. */
static int check_render(Boot *b, char **ret_detail, Error *err)
{
        int r = boot_render(b, false, err);
        if (r >= 0)
                *ret_detail = xstrdup("kong.conf and env file can be written from this configuration");
        return r;
}

static int check_kong(Boot *b, char **ret_detail, Error *err)
{
        int r = probe_kong_binary(b->config, err);
        if (r >= 0)
                *ret_detail = xasprintf("'%s version' runs", config_get(b->config, CONF_KONG_BIN));
        return r;
}

static int check_schema(Boot *b, char **ret_detail, Error *err)
{
        return probe_schema(b->config, &b->kong_conf, &b->db, ret_detail, err);
}

static int check_unit(Boot *b, char **ret_detail, Error *err)
{
        return probe_kong_unit(b->config, ret_detail, err);
}

/* RecordLifecycleActionHeartbeat for each configured hook: AWS answers
 * "no active lifecycle action" (a ValidationError) only to a caller the
 * policy lets through, and AccessDenied otherwise. On an instance whose
 * launch action is still open (a boot in progress) the heartbeat extends
 * that action's timeout, which run's own heartbeats do too. */
static int check_lifecycle(Boot *b, char **ret_detail, Error *err)
{
        const ConfigKey keys[] = { CONF_LIFECYCLE_HOOK, CONF_TERMINATION_LIFECYCLE_HOOK };
        _cleanup_free_ char *detail = NULL;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *hook = config_get(b->config, keys[i]);
                if (isempty(hook))
                        continue;
                int r = boot_record_heartbeat(b, hook, err);
                if (r < 0) {
                        error_prefix(err, "%s from %s", config_key_name(keys[i]),
                                     config_source(b->config, keys[i]));
                        return r;
                }
                _cleanup_free_ char *prev = detail;
                detail = xasprintf("%s%shook '%s': heartbeat permitted (%s)", prev ?: "", prev ? "; " : "",
                                   hook,
                                   r == LIFECYCLE_NO_ACTIVE_ACTION ? "no active lifecycle action now"
                                                                   : "recorded for the active action");
        }
        *ret_detail = detail ? detail : xstrdup("no lifecycle hook configured");
        detail = NULL;
        return 0;
}

static const Check checks[_CHECK_MAX] = {
        [CHECK_IMDS] = { "imds", STAGE_IMDS, 0, check_imds },
        [CHECK_CONFIG] = { "config", STAGE_CONFIG, NEEDS(CHECK_IMDS), check_config },
        [CHECK_SECRETS] = { "secrets", STAGE_SECRETS, NEEDS(CHECK_CONFIG), check_secrets },
        [CHECK_CA] = { "ca", STAGE_DATABASE, NEEDS(CHECK_CONFIG), check_ca },
        [CHECK_POSTGRES] = { "postgres", STAGE_DATABASE, NEEDS(CHECK_SECRETS) | NEEDS(CHECK_CA),
                             check_postgres },
        [CHECK_FLEET] = { "fleet", STAGE_FLEET, NEEDS(CHECK_POSTGRES), check_fleet, after_rollout },
        [CHECK_RENDER] = { "render", STAGE_RENDER, NEEDS(CHECK_SECRETS), check_render },
        [CHECK_KONG] = { "kong", STAGE_MIGRATIONS, NEEDS(CHECK_CONFIG), check_kong },
        [CHECK_SCHEMA] = { "schema", STAGE_MIGRATIONS,
                           NEEDS(CHECK_POSTGRES) | NEEDS(CHECK_RENDER) | NEEDS(CHECK_KONG), check_schema },
        [CHECK_UNIT] = { "unit", STAGE_START, NEEDS(CHECK_CONFIG), check_unit },
        [CHECK_LIFECYCLE] = { "lifecycle", STAGE_LIFECYCLE, NEEDS(CHECK_CONFIG), check_lifecycle },
};

static void check_line(const char *verdict, const char *what, const char *detail)
{
        _cleanup_free_ char *shown = sanitize_for_log(detail, SIZE_MAX);
        printf("%-4s %-9s %s\n", verdict, what, shown);
        (void)fflush(stdout);
}

int command_check(Config *c, const char *config_path)
{
        Boot b = { .config = c, .started = now_usec() };
        unsigned passed = 0;
        int status = EXIT_OK;

        for (CheckId id = 0; id < _CHECK_MAX; id++) {
                const Check *k = &checks[id];
                if (k->applies && !k->applies(c))
                        continue;
                if ((k->needs & passed) != k->needs) {
                        _cleanup_free_ char *why = NULL;
                        for (CheckId n = 0; n < _CHECK_MAX; n++)
                                if ((k->needs & NEEDS(n)) && !(passed & NEEDS(n))) {
                                        _cleanup_free_ char *prev = why;
                                        why = xasprintf("%s%s%s", prev ?: "", prev ? ", " : "",
                                                        checks[n].name);
                                }
                        _cleanup_free_ char *line = xasprintf("not checked: needs %s", why);
                        check_line("skip", k->name, line);
                        continue;
                }
                Error err = { "" };
                _cleanup_free_ char *detail = NULL;
                if (k->run(&b, &detail, &err) < 0) {
                        check_line("FAIL", k->name, err.msg);
                        if (status == EXIT_OK)
                                status = stage_exit_status(k->stage);
                        continue;
                }
                passed |= NEEDS(id);
                if (id == CHECK_CONFIG) {
                        free(detail);
                        detail = xasprintf("%s; instance tags and user-data read, the whole is valid",
                                           config_path);
                }
                check_line("ok", k->name, detail ?: "");
                /* A run goes on without refused tags; check says they are
                 * there, so that whoever set them learns it, and goes on. */
                if (id == CHECK_CONFIG && b.refused_tags) {
                        STRV_FOREACH (t, b.refused_tags)
                                check_line("FAIL", "tag", *t);
                        if (status == EXIT_OK)
                                status = EXIT_CONFIG;
                }
        }
        boot_done(&b);
        return status;
}
