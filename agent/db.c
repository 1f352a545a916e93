/* SPDX-License-Identifier: Apache-2.0 */
#include "db.h"

#include <stdio.h>

#include "log.h"
#include "notify.h"
#include "retry.h"

#define DB_CONNECT_TIMEOUT "10"
#define DB_LOCK_SLICE      (10 * USEC_PER_SEC) /* longest lock_timeout of one wait */

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

static PGconn *db_connect_once(const DbParams *p)
{
        const char *keywords[16], *values[16];
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
        KV("application_name", "kong-bootstrap");
        KV(NULL, NULL);
#undef KV
        return PQconnectdbParams(keywords, values, 0);
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
                PGconn *conn = db_connect_once(p);
                if (conn && PQstatus(conn) == CONNECTION_OK) {
                        *ret = conn;
                        return 0;
                }
                _cleanup_free_ char *m = conn_error(conn);
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

static int exec_ok(PGconn *conn, const char *sql, int nparams, const char *const *params,
                   char **ret_sqlstate, Error *err)
{
        PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
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
        PGresult *res = PQexecParams(conn, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", 1, NULL,
                                     params, NULL, NULL, 0);
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
                r = exec_ok(conn, set, 0, NULL, NULL, err);
                if (r < 0)
                        return r;
                r = exec_ok(conn,
                            mode == DB_LOCK_SHARED
                                    ? "SELECT pg_advisory_lock_shared(hashtextextended($1, 0))"
                                    : "SELECT pg_advisory_lock(hashtextextended($1, 0))",
                            1, params, &sqlstate, err);
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
        return exec_ok(conn, "RESET lock_timeout", 0, NULL, NULL, err);
}

int db_migration_unlock(PGconn *conn, const DbParams *p, DbLockMode mode, Error *err)
{
        _cleanup_free_ char *name = db_migration_lock_name(p);
        const char *params[] = { name };
        return exec_ok(conn,
                       mode == DB_LOCK_SHARED ? "SELECT pg_advisory_unlock_shared(hashtextextended($1, 0))"
                                              : "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
                       1, params, NULL, err);
}
