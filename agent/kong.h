/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Kong as a child process: `kong migrations …` with the database settings
 * in its environment (the password only there), its output in our log. */

#include "db.h"

/* Exit codes of `kong migrations list` (kong/cmd/migrations.lua). */
typedef enum KongSchemaState {
        KONG_SCHEMA_UP_TO_DATE = 0,
        KONG_SCHEMA_ERROR = 1,
        KONG_SCHEMA_NEEDS_BOOTSTRAP = 3,
        KONG_SCHEMA_PENDING = 4, /* run `finish` (also when new ones are there too) */
        KONG_SCHEMA_NEW = 5,     /* run `up` */
} KongSchemaState;

const char *kong_schema_state_describe(int exit_status);

/* The environment Kong runs with: PATH, LANG, HOME from ours, KONG_* for
 * the database. Nothing else of ours leaks in (no AWS credentials). */
char **kong_child_environment(const DbParams *db, char *const *our_env);

/* What watches a run of Kong. */
typedef struct KongWatch {
        /* The connection holding the migration lock (or NULL): watched
         * while Kong runs (db_lock_watch()); when it breaks or goes mute
         * the lock is gone, so Kong is stopped and -ENOLCK returned. */
        PGconn *lock_conn;
        /* Past 'deadline' (0: none) Kong is stopped and -ETIME returned;
         * systemd's start timeout is never extended past it (plus the time
         * to stop Kong and report). 'started' is when its clock began;
         * 'deadline_key' names it in STATUS=, 'deadline_text' in errors. */
        usec_t started;
        usec_t deadline;
        const char *deadline_key;
        const char *deadline_text;
} KongWatch;

/* Runs `kong_bin args…` in a process group of its own; *ret_status is its
 * exit code. Fails (and names the signal) if it did not exit normally.
 * Whenever it stops (exit, lost lock, deadline), no process of its group
 * survives it. 'watch' may be NULL. */
int kong_run(const char *kong_bin, const char *const *args, const DbParams *db, const KongWatch *watch,
             int *ret_status, Error *err);

typedef enum MigrationsPolicy {
        MIGRATIONS_AUTO,
        MIGRATIONS_BOOTSTRAP_ONLY,
        MIGRATIONS_OFF,
} MigrationsPolicy;

typedef enum MigrationsAction {
        ACTION_NONE,
        ACTION_BOOTSTRAP,
        ACTION_UP,
        ACTION_FINISH,
        ACTION_REFUSE, /* the policy forbids what the schema needs */
        ACTION_FAIL,   /* `list` failed */
} MigrationsAction;

/* What to do after `kong migrations list` exited with 'state'. */
MigrationsAction migrations_decide(int state, MigrationsPolicy policy, bool finish_auto);

typedef enum MigrationsOutcome {
        MIGRATIONS_READY = 0,       /* Kong can start on the schema */
        MIGRATIONS_NEED_LEADER = 1, /* a waiter (lock shared) found work only a leader may do */
} MigrationsOutcome;

/* Inspects the schema and, as 'leader' (holding the migration lock
 * exclusively on watch->lock_conn), changes it as the policy allows, each
 * run of Kong under 'watch'. A MigrationsOutcome, or negative with err:
 * -ENOLCK when the lock was lost, -ETIME past the deadline. */
int migrations_run(const Config *c, const DbParams *db, const KongWatch *watch, bool leader, Error *err);
