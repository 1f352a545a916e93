/* SPDX-License-Identifier: Apache-2.0 */
#include "db.h"

#include <poll.h>
#include <stdio.h>

#include "log.h"
#include "notify.h"
#include "retry.h"

#define DB_CONNECT_TIMEOUT      "10"
#define DB_CONNECT_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define DB_LOCK_SLICE           (5 * USEC_PER_SEC) /* longest lock_timeout of one wait */
/* How long past what the server was asked to take (lock_timeout) an answer
 * may be late before the connection counts as mute. */
#define DB_ANSWER_GRACE (5 * USEC_PER_SEC)
/* A short statement's answer (try-lock, unlock, SET) */
#define DB_QUERY_TIMEOUT (10 * USEC_PER_SEC)
/* TCP's own watch on the connection: a peer that stops acknowledging is
 * seen within ~11 s idle (5 s + 3 probes 2 s apart) or 10 s after unsent
 * data (tcp_user_timeout). A peer whose kernel still acknowledges but never
 * answers is seen only by the deadlines on our queries (DbLockWatch). */
#define DB_KEEPALIVES_IDLE     "5"
#define DB_KEEPALIVES_INTERVAL "2"
#define DB_KEEPALIVES_COUNT    "3"
#define DB_TCP_USER_TIMEOUT    "10000"

void db_params_done(DbParams *p)
{
        free(p->host);
        free(p->port);
        free(p->dbname);
        free(p->user);
        secret_free(p->password);
        free(p->schema);
        free(p->sslmode);
        free(p->sslrootcert);
        *p = (DbParams){ 0 };
}

static const char *pick(const Config *c, ConfigKey k, const char *from_secret)
{
        return config_is_set(c, k) ? config_get(c, k) : from_secret;
}

int db_params_resolve(const DbSecret *s, const Config *c, DbParams *ret, Error *err)
{
        const char *host = pick(c, CONF_PG_HOST, s->host);
        if (isempty(host))
                return error_set(
                        err, -EINVAL,
                        "no database host: the secret has no 'host' (RDS-managed master secrets hold "
                        "only username and password); set pg_host");

        *ret = (DbParams){
                .host = xstrdup(host),
                .port = xstrdup(pick(c, CONF_PG_PORT, s->port) ?: "5432"),
                .dbname = xstrdup(pick(c, CONF_PG_DATABASE, s->dbname) ?: "kong"),
                .user = xstrdup(pick(c, CONF_PG_USER, s->username)),
                .password = xstrdup(s->password),
                .schema = config_is_set(c, CONF_PG_SCHEMA) ? xstrdup(config_get(c, CONF_PG_SCHEMA)) : NULL,
                .sslmode = xstrdup(config_get(c, CONF_PG_SSLMODE)),
                .sslrootcert = xstrdup(config_get(c, CONF_PG_SSLROOTCERT)),
        };
        return 0;
}

DbFailure db_classify_error(const char *m)
{
        if (!m)
                return DB_UNREACHABLE;
        if (strstr(m, "password authentication failed") || strstr(m, "no password supplied") ||
            (strstr(m, "role \"") && strstr(m, "does not exist")))
                return DB_AUTH;
        if ((strstr(m, "database \"") && strstr(m, "does not exist")) || strstr(m, "no pg_hba.conf entry") ||
            strstr(m, "root certificate file") || strstr(m, "SSL is not enabled on the server") ||
            strstr(m, "server does not support SSL") || strstr(m, "certificate verify failed") ||
            strstr(m, "does not match host name"))
                return DB_PERMANENT;
        /* The server is starting, or failing over: wait. */
        return DB_UNREACHABLE;
}

/* What an operator changes for each kind of permanent failure. */
static const char *permanent_hint(const char *m)
{
        if (strstr(m, "does not exist"))
                return "create the database, or set pg_database to one that exists";
        if (strstr(m, "pg_hba.conf"))
                return "the server refuses this host, user or TLS choice: check pg_hba.conf (on RDS, "
                       "rds.force_ssl) against pg_sslmode";
        if (strstr(m, "does not match host name"))
                return "pg_host must be a name the server certificate carries (use the RDS endpoint, not an "
                       "address), or set pg_sslmode = verify-ca";
        return "check pg_sslmode and pg_sslrootcert against the server's certificate";
}

static int wait_socket(PGconn *conn, short events, usec_t deadline);

/* libpq's non-blocking connect (PQconnectPoll), not PQconnectdb: the
 * interrupt hook (retry.h) is asked every RETRY_POLL_INTERVAL while the
 * server, TLS or authentication keeps us waiting. connect_timeout does not
 * apply to a polled connect; DB_CONNECT_TIMEOUT_USEC bounds the whole
 * attempt instead. 0 with *ret set (its status says whether it connected),
 * -ETIMEDOUT, -ECANCELED or -ENOMEM. */
static int db_connect_once(const DbParams *p, PGconn **ret)
{
        const char *keywords[24], *values[24];
        size_t n = 0;

#define KV(k, v)                   \
        do {                       \
                keywords[n] = (k); \
                values[n] = (v);   \
                n++;               \
        } while (0)
        KV("host", p->host);
        KV("port", p->port);
        KV("dbname", p->dbname);
        KV("user", p->user);
        KV("password", p->password);
        KV("sslmode", p->sslmode);
        if (streq(p->sslmode, "verify-ca") || streq(p->sslmode, "verify-full"))
                KV("sslrootcert", p->sslrootcert);
        KV("connect_timeout", DB_CONNECT_TIMEOUT);
        KV("keepalives", "1");
        KV("keepalives_idle", DB_KEEPALIVES_IDLE);
        KV("keepalives_interval", DB_KEEPALIVES_INTERVAL);
        KV("keepalives_count", DB_KEEPALIVES_COUNT);
        KV("tcp_user_timeout", DB_TCP_USER_TIMEOUT);
        KV("application_name", "kong-bootstrap");
        KV(NULL, NULL);
#undef KV
        PGconn *conn = PQconnectStartParams(keywords, values, 0);
        if (!conn)
                return -ENOMEM;
        usec_t deadline = now_usec() + DB_CONNECT_TIMEOUT_USEC;
        PostgresPollingStatusType st =
                PQstatus(conn) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
        while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
                for (;;) {
                        if (retry_interrupted()) {
                                PQfinish(conn);
                                return -ECANCELED;
                        }
                        usec_t now = now_usec();
                        if (now >= deadline) {
                                PQfinish(conn);
                                return -ETIMEDOUT;
                        }
                        usec_t until =
                                deadline - now > RETRY_POLL_INTERVAL ? now + RETRY_POLL_INTERVAL : deadline;
                        int r = wait_socket(conn, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, until);
                        if (r != -ETIMEDOUT)
                                break; /* ready, or a socket error PQconnectPoll reports */
                }
                st = PQconnectPoll(conn);
        }
        *ret = conn;
        return 0;
}

static char *conn_error(PGconn *conn)
{
        /* libpq's messages name host, port, user and database, never the password. */
        return sanitize_for_log(conn ? PQerrorMessage(conn) : "out of memory", 400);
}

int db_wait(const DbParams *p, usec_t timeout, PGconn **ret, unsigned *ret_attempts, Error *err)
{
        usec_t started = now_usec();
        Backoff b;

        backoff_init(&b, timeout, 500 * USEC_PER_MSEC, 10 * USEC_PER_SEC);
        for (unsigned attempt = 1;; attempt++) {
                if (ret_attempts)
                        *ret_attempts = attempt;
                PGconn *conn = NULL;
                int r = db_connect_once(p, &conn);
                if (r == -ECANCELED)
                        return error_set(err, r, "stopped connecting to Postgres %s:%s", p->host, p->port);
                if (r >= 0 && PQstatus(conn) == CONNECTION_OK) {
                        *ret = conn;
                        return 0;
                }
                _cleanup_free_ char *m =
                        r == -ETIMEDOUT
                                ? xasprintf("timeout expired: no connection within %s s", DB_CONNECT_TIMEOUT)
                                : conn_error(conn);
                PQfinish(conn);

                switch (db_classify_error(m)) {
                case DB_AUTH:
                        return error_set(err, -EACCES,
                                         "Postgres %s:%s refused user '%s' (check the secret's username and "
                                         "password): %s",
                                         p->host, p->port, p->user, strip(m));
                case DB_PERMANENT:
                        return error_set(err, -ENOENT, "Postgres %s:%s: %s (%s)", p->host, p->port, strip(m),
                                         permanent_hint(m));
                case DB_UNREACHABLE: break;
                }
                notify_status("waiting for Postgres %s:%s (attempt %u, %llu s)", p->host, p->port, attempt,
                              (unsigned long long)((now_usec() - started) / USEC_PER_SEC));
                log_info(STAGE_DATABASE, "Postgres %s:%s not reachable yet (attempt %u): %s", p->host,
                         p->port, attempt, strip(m));
                /* A zero timeout is one attempt (`check`'s, or run's after
                 * pg_wait_timeout ran out while re-reading the secret). */
                if (timeout == 0)
                        return error_set(err, -ETIMEDOUT,
                                         "Postgres %s:%s not reachable (one attempt, no waiting): %s",
                                         p->host, p->port, strip(m));
                if (!backoff_wait(&b))
                        return error_set(err, -ETIMEDOUT,
                                         "Postgres %s:%s not reachable after %llu s (pg_wait_timeout): %s",
                                         p->host, p->port, (unsigned long long)(timeout / USEC_PER_SEC),
                                         strip(m));
        }
}

char *db_migration_lock_name(const DbParams *p)
{
        return xasprintf("kong-bootstrap/migrations/%s/%s", p->dbname, p->schema ?: "public");
}

/* Waits until conn's socket is ready for 'events' or 'deadline' passes. */
static int wait_socket(PGconn *conn, short events, usec_t deadline)
{
        for (;;) {
                usec_t now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd pfd = { .fd = PQsocket(conn), .events = events };
                if (pfd.fd < 0)
                        return -ENOTCONN;
                int n = poll(&pfd, 1, (int)((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n > 0)
                        return 0;
        }
}

static int connection_broke(PGconn *conn, Error *err)
{
        _cleanup_free_ char *m = conn_error(conn);
        return error_set(err, -ENOTCONN, "the connection to Postgres broke: %s", strip(m));
}

static int connection_mute(usec_t waited, Error *err)
{
        return error_set(
                err, -ENOTCONN,
                "Postgres did not answer within %llu s: the connection is mute (a network cut, or a "
                "failover this connection did not see)",
                (unsigned long long)(waited / USEC_PER_SEC));
}

/* wait_socket() in slices of RETRY_POLL_INTERVAL, asking the interrupt
 * hook between them (retry.h): a statement's wait for its answer (up to
 * its deadline, seconds on a mute connection) must not hold up the
 * daemon's termination watch. -ECANCELED when the hook says so; the
 * statement is then still in flight: the caller drops the connection. */
static int wait_answer(PGconn *conn, short events, usec_t deadline)
{
        for (;;) {
                usec_t now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                usec_t until = deadline - now > RETRY_POLL_INTERVAL ? now + RETRY_POLL_INTERVAL : deadline;
                int r = wait_socket(conn, events, until);
                if (r != -ETIMEDOUT)
                        return r;
                if (retry_interrupted())
                        return -ECANCELED;
        }
}

static int wait_failed(PGconn *conn, int r, usec_t sent, Error *err)
{
        if (r == -ECANCELED)
                return error_set(err, r,
                                 "stopped waiting for Postgres's answer: this node is being terminated");
        if (r == -ETIMEDOUT)
                return connection_mute(now_usec() - sent, err);
        return connection_broke(conn, err);
}

/* Sends conn's query (already queued by PQsendQuery*) and collects its
 * last result, giving up at 'deadline': libpq alone would wait for ever on
 * a peer that acknowledges but never answers. -ENOTCONN when the
 * connection broke or stayed mute, -ECANCELED when interrupted. */
static int collect_until(PGconn *conn, usec_t sent, usec_t deadline, PGresult **ret, Error *err)
{
        PGresult *last = NULL;
        int r;

        for (;;) {
                int f = PQflush(conn);
                if (f < 0)
                        return connection_broke(conn, err);
                if (f == 0)
                        break;
                r = wait_answer(conn, POLLIN | POLLOUT, deadline);
                if (r < 0)
                        return wait_failed(conn, r, sent, err);
                if (!PQconsumeInput(conn))
                        return connection_broke(conn, err);
        }
        for (;;) {
                while (PQisBusy(conn)) {
                        r = wait_answer(conn, POLLIN, deadline);
                        if (r < 0) {
                                PQclear(last);
                                return wait_failed(conn, r, sent, err);
                        }
                        if (!PQconsumeInput(conn)) {
                                PQclear(last);
                                return connection_broke(conn, err);
                        }
                }
                PGresult *res = PQgetResult(conn);
                if (!res)
                        break;
                PQclear(last);
                last = res;
        }
        if (!last || PQstatus(conn) != CONNECTION_OK) {
                PQclear(last);
                return connection_broke(conn, err);
        }
        *ret = last;
        return 0;
}

static int exec_until(PGconn *conn, const char *sql, int nparams, const char *const *params, usec_t timeout,
                      PGresult **ret, Error *err)
{
        usec_t sent = now_usec();

        if (PQsetnonblocking(conn, 1) < 0 ||
            !PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0))
                return connection_broke(conn, err);
        return collect_until(conn, sent, sent + timeout, ret, err);
}

static int exec_ok(PGconn *conn, const char *sql, int nparams, const char *const *params, usec_t timeout,
                   char **ret_sqlstate, Error *err)
{
        PGresult *res = NULL;
        int r = exec_until(conn, sql, nparams, params, timeout, &res, err);
        if (r < 0)
                return r;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
                PQclear(res);
                return 0;
        }
        const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (ret_sqlstate)
                *ret_sqlstate = xstrdup(sqlstate);
        _cleanup_free_ char *m = conn_error(conn);
        PQclear(res);
        return error_set(err, -EIO, "%s", strip(m));
}

int db_migration_try_lock(PGconn *conn, const DbParams *p, bool *ret_got, Error *err)
{
        _cleanup_free_ char *name = db_migration_lock_name(p);
        const char *params[] = { name };
        PGresult *res = NULL;
        int r = exec_until(conn, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", 1, params,
                           DB_QUERY_TIMEOUT, &res, err);
        if (r < 0)
                return r;
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
                _cleanup_free_ char *m = conn_error(conn);
                PQclear(res);
                return error_set(err, -EIO, "%s", strip(m));
        }
        *ret_got = streq(PQgetvalue(res, 0, 0), "t");
        PQclear(res);
        return 0;
}

int db_migration_lock(PGconn *conn, const DbParams *p, DbLockMode mode, usec_t timeout, Error *err)
{
        _cleanup_free_ char *name = db_migration_lock_name(p);
        const char *params[] = { name };
        usec_t started = now_usec();
        bool told = false;
        int r;

        for (;;) {
                _cleanup_free_ char *sqlstate = NULL;
                /* Wait in slices (no polling: the server wakes us when the
                 * lock is free) so that progress reaches systemd, and never
                 * past the deadline. */
                usec_t waited = now_usec() - started;
                usec_t slice = timeout > waited ? timeout - waited : 0;
                if (slice > DB_LOCK_SLICE)
                        slice = DB_LOCK_SLICE;
                if (slice < USEC_PER_MSEC)
                        slice = USEC_PER_MSEC;
                char set[64];
                snprintf(set, sizeof(set), "SET lock_timeout = '%llums'",
                         (unsigned long long)(slice / USEC_PER_MSEC));
                r = exec_ok(conn, set, 0, NULL, DB_QUERY_TIMEOUT, NULL, err);
                if (r < 0)
                        return r;
                /* The server answers by lock_timeout; a later answer means
                 * nobody is there any more. */
                r = exec_ok(conn,
                            mode == DB_LOCK_SHARED
                                    ? "SELECT pg_advisory_lock_shared(hashtextextended($1, 0))"
                                    : "SELECT pg_advisory_lock(hashtextextended($1, 0))",
                            1, params, slice + DB_ANSWER_GRACE, &sqlstate, err);
                if (r >= 0)
                        break;
                if (!sqlstate || !streq(sqlstate, "55P03")) /* lock_not_available */
                        return r;
                if (!told) {
                        log_info(STAGE_MIGRATIONS, "another node holds the migration lock; waiting for it");
                        told = true;
                }
                waited = now_usec() - started;
                notify_status("migrations: waiting for the leader (%llu s)",
                              (unsigned long long)(waited / USEC_PER_SEC));
                retry_waiting(30 * USEC_PER_SEC);
                if (waited >= timeout)
                        return error_set(err, -ETIMEDOUT,
                                         "another node held the migration lock for more than %llu s "
                                         "(migrations_wait_timeout); is a migration stuck?",
                                         (unsigned long long)(timeout / USEC_PER_SEC));
        }
        return exec_ok(conn, "RESET lock_timeout", 0, NULL, DB_QUERY_TIMEOUT, NULL, err);
}

int db_migration_unlock(PGconn *conn, const DbParams *p, DbLockMode mode, Error *err)
{
        _cleanup_free_ char *name = db_migration_lock_name(p);
        const char *params[] = { name };
        return exec_ok(conn,
                       mode == DB_LOCK_SHARED ? "SELECT pg_advisory_unlock_shared(hashtextextended($1, 0))"
                                              : "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
                       1, params, DB_QUERY_TIMEOUT, NULL, err);
}

int db_lock_watch(PGconn *conn, DbLockWatch *w, Error *err)
{
        usec_t now = now_usec();

        if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
                return connection_broke(conn, err);
        if (w->pending) {
                if (PQflush(conn) < 0)
                        return connection_broke(conn, err);
                while (!PQisBusy(conn)) {
                        PGresult *res = PQgetResult(conn);
                        if (!res) {
                                w->pending = false;
                                w->answered = now;
                                break;
                        }
                        PQclear(res);
                }
                if (w->pending && now - w->sent >= DB_LIVENESS_TIMEOUT)
                        return connection_mute(now - w->sent, err);
                return 0;
        }
        if (now - w->answered < DB_LIVENESS_INTERVAL)
                return 0;
        if (PQsetnonblocking(conn, 1) < 0 || !PQsendQuery(conn, "SELECT 1") || PQflush(conn) < 0)
                return connection_broke(conn, err);
        w->pending = true;
        w->sent = now;
        return 0;
}

int db_query(PGconn *conn, const char *sql, int nparams, const char *const *params, usec_t timeout,
             PGresult **ret, char **ret_sqlstate, Error *err)
{
        PGresult *res = NULL;
        int r = exec_until(conn, sql, nparams, params, timeout, &res, err);
        if (r < 0)
                return r;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
                *ret = res;
                return 0;
        }
        if (ret_sqlstate)
                *ret_sqlstate = xstrdup(PQresultErrorField(res, PG_DIAG_SQLSTATE));
        _cleanup_free_ char *m = sanitize_for_log(PQresultErrorMessage(res), 400);
        PQclear(res);
        return error_set(err, -EIO, "%s", strip(m));
}

int db_drain(PGconn *conn, usec_t timeout, Error *err)
{
        usec_t started = now_usec(), deadline = started + timeout;
        for (;;) {
                while (PQisBusy(conn)) {
                        int r = wait_answer(conn, POLLIN, deadline);
                        if (r < 0)
                                return wait_failed(conn, r, started, err);
                        if (!PQconsumeInput(conn))
                                return connection_broke(conn, err);
                }
                PGresult *res = PQgetResult(conn);
                if (!res)
                        return PQstatus(conn) == CONNECTION_OK ? 0 : connection_broke(conn, err);
                PQclear(res);
        }
}
