/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Kong as a child process: `kong migrations … -c KONG_CONF`, reading this
 * boot's rendered kong.conf and, like kong.service, the password from its
 * environment; its output in our log. */

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

/* The environment Kong runs with: PATH, LANG, HOME, TZ from ours and
 * KONG_PG_PASSWORD (when 'db' is given and has one), what kong.service's
 * env file gives it; every other setting comes from the kong.conf passed
 * with -c. Nothing else of ours leaks in (no AWS credentials). */
char **kong_child_environment(const DbParams *db, char *const *our_env);

/* Kong's output, split into lines with 'secret' (the password) cut out
 * of each whole line, however the reads split it. A line longer than
 * KONG_LINE_MAX is dropped whole (a note says so): cut, it could end in
 * the password's beginning. */
#define KONG_LINE_MAX 4096
typedef void (*KongLineFn)(const char *line, void *userdata);
typedef struct KongOutput {
        Buf line; /* wiped: it may hold the password */
        bool cut; /* dropping an over-long line */
} KongOutput;
void kong_output_feed(KongOutput *o, const char *data, size_t n, const char *secret, KongLineFn fn,
                      void *userdata);
/* The last line (without a newline), and the buffer freed. */
void kong_output_finish(KongOutput *o, const char *secret, KongLineFn fn, void *userdata);

/* At most this much of a quiet run's output is kept, in whole lines. */
#define KONG_CAPTURE_MAX (64 * 1024)

/* What watches a run of Kong. */
typedef struct KongWatch {
        /* The connection holding the migration lock (or NULL): watched
         * while Kong runs (db_lock_watch()); when it breaks or goes mute
         * the lock is gone, so Kong is stopped and -ENOLCK returned.
         * When Kong ran to its end, the connection is left with no query
         * in progress (ready for the next run or the unlock). */
        PGconn *lock_conn;
        /* Past 'deadline' (0: none) Kong is stopped and -ETIME returned;
         * systemd's start timeout is never extended past it (plus the time
         * to stop Kong and report). 'started' is when its clock began;
         * 'deadline_key' names it in STATUS= (NULL: no STATUS=, a quiet
         * run), 'deadline_text' in errors (NULL: "did not finish within N
         * s", N = deadline - started). */
        usec_t started;
        usec_t deadline;
        const char *deadline_key;
        const char *deadline_text;
} KongWatch;

/* Runs `kong_bin args…` in a process group of its own, with only stdin,
 * stdout and stderr open and kong_child_environment('db'; NULL: no
 * password); *ret_status is its exit code. Fails (and names the signal)
 * if it did not exit normally. When 'watch' (may be NULL) stops it, the
 * group gets SIGTERM, then SIGKILL after 5 s; whenever it stops (exit,
 * lost lock, deadline), no process of its group survives it. A slow wait:
 * retry_waiting() every second (network I/O, retry.h). Kong's output goes
 * to the journal, line by line, the password cut out of each line. */
int kong_run(const char *kong_bin, const char *const *args, const DbParams *db, const KongWatch *watch,
             int *ret_status, Error *err);

/* kong_run(), quietly: Kong's output (stdout and stderr together) comes
 * back in *ret_output (optional) instead, the password cut out of each
 * whole line; whole lines only, at most KONG_CAPTURE_MAX: the first line
 * that does not fit is dropped with everything after it. */
int kong_run_quiet(const char *kong_bin, const char *const *args, const DbParams *db, const KongWatch *watch,
                   int *ret_status, char **ret_output, Error *err);

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

/* The migrations key: auto, bootstrap-only or off. */
MigrationsPolicy migrations_policy_from_config(const Config *c);

/* What to do after `kong migrations list` exited with 'state'. */
MigrationsAction migrations_decide(int state, MigrationsPolicy policy, bool finish_auto);

typedef enum MigrationsOutcome {
        MIGRATIONS_READY = 0,       /* Kong can start on the schema */
        MIGRATIONS_NEED_LEADER = 1, /* a waiter (lock shared) found work only a leader may do */
} MigrationsOutcome;

/* Inspects the schema and, as 'leader' (holding the migration lock
 * exclusively on watch->lock_conn), changes it as the policy allows; every
 * `kong` invocation reads 'conf_path' (-c), a complete rendered kong.conf,
 * and runs under 'watch'. A MigrationsOutcome, or negative with err:
 * -ENOLCK when the lock was lost, -ETIME past the deadline. */
int migrations_run(const Config *c, const char *conf_path, const DbParams *db, const KongWatch *watch,
                   bool leader, Error *err);
