/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The boot stages and what a boot learns (Boot), shared by the commands
 * (command-run.c, command-render.c, command-check.c) and the daemon that
 * stays afterwards (daemon.c). Each stage logs its own record when it is
 * done; on failure it fills err and the caller decides (boot_fail()). */

#include "config.h"
#include "db.h"
#include "imds.h"
#include "kongsecrets.h"
#include "log.h"
#include "secrets.h"
#include "state.h"

typedef struct Boot {
        Config *config;
        usec_t started;
        Imds *imds;
        InstanceInfo instance;
        char *role;
        bool role_from_imds;
        char *region;
        char *group; /* Auto Scaling group: autoscaling_group or its tag */
        AwsCredentials credentials;
        SecretValue secret;
        DbParams db;
        PGconn *lock_conn;
        Buf kong_conf;
        Buf env_file;
        /* Instance tags the trust model refused: "TAG: reason", each
         * logged once (MESSAGE_ID_TAG_REFUSED); `check` fails on them. */
        char **refused_tags;
        char *migrations_conf;    /* this boot's kong.conf for `kong migrations -c` */
        KongSecrets kong_secrets; /* kong_secret.<setting>: Kong's other secrets */
        struct FleetNode *fleet;  /* migrations_finish = after-rollout (fleet.c); freed by its owner */
} Boot;

void boot_done(Boot *b);

/* The record, STATUS= line and exit status of a failed stage. */
int boot_fail(const Boot *b, Stage s, const Error *err);

/* The boot's state for `kong-bootstrap status` (state.c; `run` only, after
 * state_open()): each step as it starts, a failure (boot_fail()), ready,
 * draining. Not being able to record it is logged once, never fatal. */
void boot_record_state(BootState state, Stage stage, int exit_status, const char *error);

/* Who and where we are (IMDSv2), and the role's credentials. */
int boot_imds(Boot *b, Error *err);

/* Instance tags kong-bootstrap:<key> and user-data join the configuration,
 * below the environment and --set; then the whole is validated. A tag the
 * trust model refuses (a key tags may not set, an unknown key, a bad
 * value) is reported and left out (b->refused_tags); it never fails the
 * boot. */
int boot_instance_config(Boot *b, Error *err);

/* A step of a command: a stage function and the stage it fails as. */
typedef struct BootStep {
        Stage stage;
        int (*run)(Boot *b, Error *err);
} BootStep;

/* The opening steps every command takes: who and where we are, the
 * instance's own configuration (tags, user-data), the secret. */
#define BOOT_PREPARE_STEPS                                                 \
        { STAGE_IMDS, boot_imds }, { STAGE_CONFIG, boot_instance_config }, \
        {                                                                  \
                STAGE_SECRETS, boot_secret                                 \
        }

/* Runs 'steps' in order up to the first failure, whose stage goes to
 * *ret_failed. */
int boot_run_steps(Boot *b, const BootStep *steps, size_t n, Stage *ret_failed, Error *err);
/* The BOOT_PREPARE_STEPS alone (render, and whoever needs no more). */
int boot_prepare(Boot *b, Stage *ret_failed, Error *err);

/* Role credentials near Expiration (or rejected as expired: 'force') are
 * replaced by the ones IMDS offers by then. */
int boot_refresh_credentials(Boot *b, bool force, Error *err);

/* GetSecretValue for secret_id, with credentials refreshed before and, if
 * AWS says they expired, once after. Errors name secret_id's source. */
int boot_fetch_secret(Boot *b, usec_t timeout, SecretValue *ret, Error *err);

/* Reads the secret named by secret_id and resolves the database
 * parameters (b->secret, b->db); then, once per boot, the secrets the
 * kong_secret.<setting> keys map (b->kong_secrets), one GetSecretValue
 * per distinct secret. */
int boot_secret(Boot *b, Error *err);

/* Day 2, a rotation check's read of Kong's other secrets: every secret
 * kong_secret.<setting> maps, each GetSecretValue retrying for at most
 * 'timeout'. 'db_secret' is the database secret as this check leaves it
 * (its new version only once proven, else the one in use): a mapping of
 * it takes that value, so no secret is read twice in one check and a
 * mapped copy of the password never runs ahead of the password itself.
 * Returns 1 with the new values in *ret when a version moved (logged), 0
 * when nothing moved or no mapping is set. Applies nothing. */
int boot_read_kong_secrets(Boot *b, const SecretValue *db_secret, usec_t timeout, KongSecrets *ret,
                           Error *err);

/* What one rotation check found, applied together: one rewrite of both
 * files, so one reload for any number of moved secrets. */
typedef struct Rotation {
        SecretValue secret; /* the database secret's new, proven version (version_id NULL: none) */
        DbParams db;        /* and the parameters resolved from it */
        KongSecrets kong_secrets;
        bool kong_secrets_moved;
} Rotation;

void rotation_done(Rotation *rot);

/* Moves what 'rot' holds into 'b', renders and writes both files once.
 * On failure 'b' and the files keep the current state ('rot' keeps its
 * parts: the next check finds the same versions moved and tries again).
 * *ret_changed: a file changed, Kong needs a reload. */
int boot_apply_rotation(Boot *b, Rotation *rot, bool *ret_changed, Error *err);

/* Waits until Postgres takes our credentials; the connection stays open
 * (b->lock_conn): it is the one that holds the migration lock. */
int boot_database(Boot *b, Error *err);

/* Writes b->kong_conf (rendered) to a private staging copy beside the env
 * file, for `kong migrations -c`: migrations read exactly what kong.service
 * will read, while the files kong.service reads stay as they were until
 * the schema is ready (boot_write_files()). */
int boot_write_migrations_conf(Boot *b, Error *err);

/* The election and `kong migrations -c b->migrations_conf` (see boot.c);
 * removes the staging copy when done. */
int boot_migrations(Boot *b, Error *err);

/* Renders kong.conf and the env file into b->kong_conf and b->env_file;
 * 'for_display': provenance comments, password redacted. */
int boot_render(Boot *b, bool for_display, Error *err);

/* Writes b->kong_conf and b->env_file (env file on tmpfs only), each only
 * if its content changed; *ret_changed (optional) says if either did.
 * Kong never gets one without the other: when the env file cannot be
 * written, kong.conf is put back as it was. */
int boot_write_files(Boot *b, bool *ret_changed, Error *err);
/* After a rotation changed b's secrets: renders both files again from b
 * and writes them (boot_render, then boot_write_files). */
int boot_rewrite_files(Boot *b, bool *ret_changed, Error *err);

/* StartUnit of kong_unit, and Kong's /status/ready. */
int boot_start_kong(Boot *b, Error *err);
int boot_wait_ready(Boot *b, Error *err);

/* Completes lifecycle hook 'hook' with 'result' (CONTINUE or ABANDON).
 * 0 when done or when AWS has no active action for us (logged), negative
 * with err otherwise. */
int boot_complete_lifecycle(Boot *b, const char *hook, const char *result, Error *err);

/* RecordLifecycleActionHeartbeat for 'hook'; >0 when AWS has no active
 * action for us. */
int boot_record_heartbeat(Boot *b, const char *hook, Error *err);
