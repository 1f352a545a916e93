/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What a boot learns, shared by the boot sequence (run.c) and the daemon
 * that stays afterwards (daemon.c). */

#include "db.h"
#include "imds.h"
#include "secrets.h"

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
} Boot;

void boot_done(Boot *b);

/* Role credentials near Expiration (or rejected as expired: 'force') are
 * replaced by the ones IMDS offers by then. */
int boot_refresh_credentials(Boot *b, bool force, Error *err);

/* GetSecretValue for secret_id, with credentials refreshed before and, if
 * AWS says they expired, once after. Errors name secret_id's source. */
int boot_fetch_secret(Boot *b, usec_t timeout, SecretValue *ret, Error *err);

/* Reads the secret named by secret_id and resolves the database
 * parameters (b->secret, b->db). */
int boot_secret(Boot *b, Error *err);

/* Renders kong.conf and the env file into b->kong_conf and b->env_file;
 * 'for_display': provenance comments, password redacted. */
int boot_render(Boot *b, bool for_display, Error *err);

/* Writes b->kong_conf and b->env_file (env file on tmpfs only), each only
 * if its content changed; *ret_changed (optional) says if either did. */
int boot_write_files(Boot *b, bool *ret_changed, Error *err);

/* Completes lifecycle hook 'hook' with 'result' (CONTINUE or ABANDON).
 * 0 when done or when AWS has no active action for us (logged), negative
 * with err otherwise. */
int boot_complete_lifecycle(Boot *b, const char *hook, const char *result, Error *err);

/* Stays after the boot: rotation and termination watchers, SIGTERM drain,
 * watchdog. Returns the exit status. */
int daemon_run(Boot *b);
