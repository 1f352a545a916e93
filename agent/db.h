/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Postgres: connection parameters resolved from the secret and the config,
 * waiting until the database answers, and the migration election lock. */

#include <libpq-fe.h>

#include "config.h"
#include "secrets.h"

typedef struct DbParams {
        char *host;
        char *port;
        char *dbname;
        char *user;
        char *password; /* secret */
        char *schema;   /* NULL: Kong's default */
        char *sslmode;
        char *sslrootcert;
} DbParams;

void db_params_done(DbParams *p);

/* Config keys pg_* override the secret; pg_host must come from one of them
 * (RDS-managed master secrets carry only username and password). */
int db_params_resolve(const DbSecret *secret, const Config *c, DbParams *ret, Error *err);

/* Outcomes of one connection attempt that decide what the caller does. */
typedef enum DbFailure {
        DB_UNREACHABLE, /* retry */
        DB_AUTH,        /* wrong user or password */
        DB_PERMANENT,   /* database missing, no pg_hba entry, TLS setup */
} DbFailure;

DbFailure db_classify_error(const char *libpq_message);

/* Connects, retrying with backoff while the database is unreachable, for
 * at most 'timeout'. *ret_attempts (optional) counts the tries. */
int db_wait(const DbParams *p, usec_t timeout, PGconn **ret, unsigned *ret_attempts, Error *err);

/* The advisory lock key every node of one Kong cluster agrees on:
 * hashtextextended('kong-bootstrap/migrations/<dbname>/<schema>', 0). */
char *db_migration_lock_name(const DbParams *p);

/* The leader holds the lock exclusively while it changes the schema;
 * waiters take it shared, so they all wake when the leader is done and
 * inspect the schema side by side instead of one after another. */
typedef enum DbLockMode {
        DB_LOCK_EXCLUSIVE,
        DB_LOCK_SHARED,
} DbLockMode;

/* Takes the lock exclusively if nobody holds it; *ret_got says if so. */
int db_migration_try_lock(PGconn *conn, const DbParams *p, bool *ret_got, Error *err);
/* Blocks (without polling the server) until this session holds the
 * migration lock in 'mode', or 'timeout' passes. */
int db_migration_lock(PGconn *conn, const DbParams *p, DbLockMode mode, usec_t timeout, Error *err);
int db_migration_unlock(PGconn *conn, const DbParams *p, DbLockMode mode, Error *err);

/* Every query on the lock connection has a deadline for its answer; a
 * connection that broke or stays mute past it fails with -ENOTCONN (the
 * server has ended the session, or will: the lock is gone). */

/* Liveness of the lock connection while Kong runs: a cheap query every
 * DB_LIVENESS_INTERVAL whose answer must come within DB_LIVENESS_TIMEOUT.
 * A mute peer's kernel may go on acknowledging packets while nothing
 * answers: TCP keepalives alone do not see it. Worst case to notice a
 * silent cut: interval + timeout. */
#define DB_LIVENESS_INTERVAL (2 * USEC_PER_SEC)
#define DB_LIVENESS_TIMEOUT  (5 * USEC_PER_SEC)

typedef struct DbLockWatch {
        usec_t answered; /* when the last query was answered (or the watch began) */
        usec_t sent;
        bool pending;
} DbLockWatch;

/* Never blocks: call it whenever conn's socket is readable and at least
 * once a second. 0 while the connection lives; -ENOTCONN with err when it
 * broke or stayed mute. */
int db_lock_watch(PGconn *conn, DbLockWatch *w, Error *err);

/* One statement on 'conn' with text parameters, its answer due within
 * 'timeout' (a mute or broken connection: -ENOTCONN). The result, whatever
 * its status, goes to *ret (PQclear it); a failed statement is -EIO with
 * the server's message in err and its SQLSTATE in *ret_sqlstate
 * (optional; free it). */
int db_query(PGconn *conn, const char *sql, int nparams, const char *const *params, usec_t timeout,
             PGresult **ret, char **ret_sqlstate, Error *err);

/* Collects whatever answer is still due on 'conn' (a liveness query that
 * db_lock_watch() sent before the watched command was stopped: kong_run()
 * collects it itself when Kong ran to its end), so that the connection
 * can take the next statement. -ENOTCONN when it broke or
 * stayed mute past 'timeout'. */
int db_drain(PGconn *conn, usec_t timeout, Error *err);
