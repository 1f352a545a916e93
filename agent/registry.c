/* SPDX-License-Identifier: Apache-2.0 */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>

#include "kongcli.h"

#define REGISTRY_QUERY_TIMEOUT          (10 * USEC_PER_SEC)
#define SQLSTATE_INSUFFICIENT_PRIVILEGE "42501"
#define SQLSTATE_UNDEFINED_TABLE        "42P01"
#define SQLSTATE_INVALID_SCHEMA_NAME    "3F000"

static const char *const node_states[_NODE_STATE_MAX] = {
        [NODE_BOOTING] = "booting",
        [NODE_READY] = "ready",
        [NODE_DRAINING] = "draining",
};

const char *node_state_name(NodeState s)
{
        return s < _NODE_STATE_MAX ? node_states[s] : "?";
}

int node_state_from_name(const char *s)
{
        for (size_t i = 0; i < _NODE_STATE_MAX; i++)
                if (streq(node_states[i], s ?: ""))
                        return (int)i;
        return -EINVAL;
}

void registry_nodes_free(RegistryNode *nodes, size_t n)
{
        for (size_t i = 0; nodes && i < n; i++) {
                free(nodes[i].instance_id);
                free(nodes[i].group);
                free(nodes[i].zone);
                free(nodes[i].kong_version);
                free(nodes[i].agent_version);
        }
        free(nodes);
}

void registry_finish_done(RegistryFinish *f)
{
        free(f->instance_id);
        free(f->kong_version);
        free(f->migrations);
        free(f->finished_at);
        *f = (RegistryFinish){ 0 };
}

static int query(PGconn *conn, const char *sql, int n, const char *const *params, PGresult **ret,
                 char **ret_sqlstate, Error *err)
{
        PGresult *res = NULL;
        int r = db_query(conn, sql, n, params, REGISTRY_QUERY_TIMEOUT, &res, ret_sqlstate, err);
        if (r < 0)
                return r;
        if (ret)
                *ret = res;
        else
                PQclear(res);
        return 0;
}

/* The registry's schema, version 1. Everything qualified: pg_schema (the
 * search_path Kong uses) plays no part. */
static const char *const schema_v1[] = {
        "CREATE SCHEMA IF NOT EXISTS " REGISTRY_SCHEMA,
        "CREATE TABLE IF NOT EXISTS " REGISTRY_SCHEMA ".meta (key text PRIMARY KEY, value text NOT NULL)",
        "CREATE TABLE IF NOT EXISTS " REGISTRY_SCHEMA ".nodes ("
        " instance_id text PRIMARY KEY,"
        " autoscaling_group text NOT NULL DEFAULT '',"
        " availability_zone text NOT NULL DEFAULT '',"
        " kong_version text NOT NULL,"
        " agent_version text NOT NULL,"
        " state text NOT NULL CHECK (state IN ('booting', 'ready', 'draining')),"
        " schema_state integer,"
        " schema_checked timestamptz,"
        " first_seen timestamptz NOT NULL DEFAULT now(),"
        " last_heartbeat timestamptz NOT NULL DEFAULT now())",
        "CREATE TABLE IF NOT EXISTS " REGISTRY_SCHEMA ".finishes ("
        " id bigserial PRIMARY KEY,"
        " instance_id text NOT NULL,"
        " kong_version text NOT NULL,"
        " migrations text NOT NULL,"
        " finished_at timestamptz NOT NULL DEFAULT now())",
        "INSERT INTO " REGISTRY_SCHEMA ".meta (key, value) VALUES ('schema_version', '1') "
        "ON CONFLICT (key) DO NOTHING",
};

/* The registry's version, 0 when there is none yet. */
static int current_version(PGconn *conn, long *ret, Error *err)
{
        _cleanup_free_ char *sqlstate = NULL;
        PGresult *res = NULL;
        /* Asked first, so that a database without the registry (every
         * `fleet` there, every first boot) leaves no ERROR in the server's
         * log; the undefined-table answer below covers a race with a drop. */
        int r = query(conn, "SELECT to_regclass('" REGISTRY_SCHEMA ".meta') IS NOT NULL", 0, NULL, &res,
                      NULL, err);
        if (r < 0)
                return r;
        bool exists = streq(PQgetvalue(res, 0, 0), "t");
        PQclear(res);
        res = NULL;
        if (!exists) {
                *ret = 0;
                return 0;
        }
        r = query(conn, "SELECT value FROM " REGISTRY_SCHEMA ".meta WHERE key = 'schema_version'", 0, NULL,
                  &res, &sqlstate, err);
        if (r == -EIO && sqlstate &&
            (streq(sqlstate, SQLSTATE_UNDEFINED_TABLE) || streq(sqlstate, SQLSTATE_INVALID_SCHEMA_NAME))) {
                *ret = 0;
                return 0;
        }
        if (r < 0)
                return r;
        uint64_t v = 0;
        if (PQntuples(res) == 1 && parse_uint64(PQgetvalue(res, 0, 0), &v) < 0)
                v = 0;
        PQclear(res);
        *ret = (long)v;
        return 0;
}

static int no_create(const DbParams *p, Error *err)
{
        return error_set(err, -EACCES,
                         "the database user '%s' may not create the fleet registry's schema " REGISTRY_SCHEMA
                         " in database '%s' (it needs CREATE on the database: GRANT CREATE ON DATABASE "
                         "\"%s\" TO \"%s\"); migrations_finish = after-rollout cannot be used without it",
                         p->user, p->dbname, p->dbname, p->user);
}

static int create_schema(PGconn *conn, const DbParams *p, Error *err)
{
        _cleanup_free_ char *sqlstate = NULL;
        int r = query(conn, "BEGIN", 0, NULL, NULL, NULL, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(schema_v1); i++) {
                free(sqlstate);
                sqlstate = NULL;
                r = query(conn, schema_v1[i], 0, NULL, NULL, &sqlstate, err);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                Error ignored;
                (void)query(conn, "ROLLBACK", 0, NULL, NULL, NULL, &ignored);
                if (sqlstate && streq(sqlstate, SQLSTATE_INSUFFICIENT_PRIVILEGE))
                        return no_create(p, err);
                error_prefix(err, "cannot create the fleet registry's schema " REGISTRY_SCHEMA);
                return r;
        }
        return query(conn, "COMMIT", 0, NULL, NULL, NULL, err);
}

static int too_new(long version, Error *err)
{
        return error_set(err, -EPROTO,
                         "the fleet registry's schema " REGISTRY_SCHEMA
                         " is at version %ld, newer than this agent knows (%d): upgrade kong-bootstrap",
                         version, REGISTRY_VERSION);
}

int registry_setup(PGconn *conn, const DbParams *p, usec_t lock_timeout, Error *err)
{
        long version = 0;
        int r = current_version(conn, &version, err);
        if (r < 0)
                return r;
        if (version > REGISTRY_VERSION)
                return too_new(version, err);
        if (version == REGISTRY_VERSION)
                return REGISTRY_CURRENT;

        r = db_migration_lock(conn, p, DB_LOCK_EXCLUSIVE, lock_timeout, err);
        if (r < 0)
                return r;
        r = current_version(conn, &version, err); /* again, inside the lock */
        if (r >= 0 && version < REGISTRY_VERSION)
                r = create_schema(conn, p, err);
        Error unlock_err;
        if (db_migration_unlock(conn, p, DB_LOCK_EXCLUSIVE, &unlock_err) < 0 && r >= 0)
                r = error_set(err, -EIO, "cannot release the migration lock: %s", unlock_err.msg);
        return r < 0 ? r : REGISTRY_CREATED;
}

int registry_exists(PGconn *conn, bool *ret, Error *err)
{
        long version = 0;
        int r = current_version(conn, &version, err);
        if (r < 0)
                return r;
        *ret = version > 0;
        return 0;
}

/* What the agent does with each relation of the registry once it is
 * there: registry_setup() reads meta; registry_upsert(), _list() and
 * _delete() use nodes; _record_finish() and the two finish readers use
 * finishes, whose id comes from its sequence. */
static const struct {
        const char *rel;
        const char *priv;
        bool sequence;
} needed_privileges[] = {
        { "meta", "SELECT", false },     { "nodes", "SELECT", false },
        { "nodes", "INSERT", false },    { "nodes", "UPDATE", false },
        { "nodes", "DELETE", false },    { "finishes", "SELECT", false },
        { "finishes", "INSERT", false }, { "finishes_id_seq", "USAGE", true },
};

/* "GRANT x, y ON kong_bootstrap.rel TO "user"; …" for the privileges the
 * user lacks on the relations that are there; *ret_incomplete when one is
 * not (run would create it). */
static int missing_privileges(PGconn *conn, const DbParams *p, char **ret, bool *ret_incomplete, Error *err)
{
        _cleanup_buf_ Buf grants = { 0 }, privs = { 0 };

        *ret_incomplete = false;
        for (size_t i = 0; i < ELEMENTSOF(needed_privileges); i++) {
                const char *params[] = { needed_privileges[i].rel, needed_privileges[i].priv };
                PGresult *res = NULL;
                int r = query(conn,
                              needed_privileges[i].sequence
                                      ? "SELECT has_sequence_privilege(c.oid, $2) FROM pg_class c JOIN "
                                        "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = "
                                        "'" REGISTRY_SCHEMA "' AND c.relname = $1"
                                      : "SELECT has_table_privilege(c.oid, $2) FROM pg_class c JOIN "
                                        "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = "
                                        "'" REGISTRY_SCHEMA "' AND c.relname = $1",
                              2, params, &res, NULL, err);
                if (r < 0)
                        return r;
                bool present = PQntuples(res) == 1, held = present && streq(PQgetvalue(res, 0, 0), "t");
                PQclear(res);
                if (!present)
                        *ret_incomplete = true;
                else if (!held)
                        buf_printf(&privs, "%s%s", privs.len ? ", " : "", needed_privileges[i].priv);
                bool last_of_rel = i + 1 == ELEMENTSOF(needed_privileges) ||
                                   !streq(needed_privileges[i + 1].rel, needed_privileges[i].rel);
                if (!last_of_rel || privs.len == 0)
                        continue;
                buf_printf(&grants, "%sGRANT %.*s ON %s" REGISTRY_SCHEMA ".%s TO \"%s\"",
                           grants.len ? "; " : "", (int)privs.len, privs.data,
                           needed_privileges[i].sequence ? "SEQUENCE " : "", needed_privileges[i].rel,
                           p->user);
                privs.len = 0;
        }
        *ret = grants.len ? xstrndup(grants.data, grants.len) : NULL;
        return 0;
}

int registry_check(PGconn *conn, const DbParams *p, char **ret_detail, Error *err)
{
        PGresult *res = NULL;
        int r = query(conn,
                      "SELECT n.oid IS NOT NULL, has_database_privilege(current_database(), 'CREATE'), "
                      "COALESCE(has_schema_privilege(n.oid, 'USAGE'), false), "
                      "COALESCE(has_schema_privilege(n.oid, 'CREATE'), false) "
                      "FROM (SELECT 1) AS one LEFT JOIN pg_namespace n ON n.nspname = '" REGISTRY_SCHEMA "'",
                      0, NULL, &res, NULL, err);
        if (r < 0)
                return r;
        bool exists = streq(PQgetvalue(res, 0, 0), "t"), db_create = streq(PQgetvalue(res, 0, 1), "t"),
             usage = streq(PQgetvalue(res, 0, 2), "t"), schema_create = streq(PQgetvalue(res, 0, 3), "t");
        PQclear(res);

        if (!exists) {
                if (!db_create)
                        return no_create(p, err);
                *ret_detail = xasprintf("no schema " REGISTRY_SCHEMA " yet; '%s' may create it (CREATE on "
                                        "database '%s')",
                                        p->user, p->dbname);
                return 0;
        }
        if (!usage)
                return error_set(
                        err, -EACCES,
                        "the database user '%s' may not use the fleet registry's schema " REGISTRY_SCHEMA
                        " in database '%s' (GRANT USAGE ON SCHEMA " REGISTRY_SCHEMA " TO \"%s\")",
                        p->user, p->dbname, p->user);

        _cleanup_free_ char *grants = NULL;
        bool incomplete = false;
        r = missing_privileges(conn, p, &grants, &incomplete, err);
        if (r < 0)
                return r;
        if (grants)
                return error_set(err, -EACCES,
                                 "the database user '%s' lacks privileges on the fleet registry's "
                                 "schema " REGISTRY_SCHEMA " in database '%s' (%s)",
                                 p->user, p->dbname, grants);

        long version = 0;
        r = current_version(conn, &version, err);
        if (r < 0)
                return r;
        if (version > REGISTRY_VERSION)
                return too_new(version, err);
        if (version < REGISTRY_VERSION || incomplete) {
                if (!db_create)
                        return no_create(p, err);
                if (!schema_create)
                        return error_set(err, -EACCES,
                                         "the database user '%s' may not complete the fleet registry's "
                                         "schema " REGISTRY_SCHEMA
                                         " in database '%s' (GRANT CREATE ON SCHEMA " REGISTRY_SCHEMA
                                         " TO \"%s\")",
                                         p->user, p->dbname, p->user);
                *ret_detail = xasprintf("schema " REGISTRY_SCHEMA " at version %ld; '%s' may bring it to "
                                        "version %d (CREATE on database '%s' and on the schema)",
                                        version, p->user, REGISTRY_VERSION, p->dbname);
                return 0;
        }
        *ret_detail = xasprintf("schema " REGISTRY_SCHEMA " version %ld: '%s' may use it", version, p->user);
        return 0;
}

int registry_upsert(PGconn *conn, const RegistryNode *n, Error *err)
{
        char schema_state[16] = "";
        if (n->schema_state >= 0)
                (void)snprintf(schema_state, sizeof(schema_state), "%d", n->schema_state);
        const char *params[] = {
                n->instance_id,
                n->group ?: "",
                n->zone ?: "",
                n->kong_version,
                n->agent_version,
                node_state_name(n->state),
                n->schema_state >= 0 ? schema_state : NULL,
        };
        return query(
                conn,
                "INSERT INTO " REGISTRY_SCHEMA ".nodes AS n (instance_id, autoscaling_group, "
                "availability_zone, kong_version, agent_version, state, schema_state, schema_checked) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7::integer, CASE WHEN $7::integer IS NULL THEN NULL ELSE "
                "now() END) "
                "ON CONFLICT (instance_id) DO UPDATE SET autoscaling_group = EXCLUDED.autoscaling_group, "
                "availability_zone = EXCLUDED.availability_zone, kong_version = EXCLUDED.kong_version, "
                "agent_version = EXCLUDED.agent_version, state = EXCLUDED.state, "
                "schema_state = COALESCE(EXCLUDED.schema_state, n.schema_state), "
                "schema_checked = COALESCE(EXCLUDED.schema_checked, n.schema_checked), "
                "last_heartbeat = now()",
                (int)ELEMENTSOF(params), params, NULL, NULL, err);
}

int registry_delete(PGconn *conn, const char *instance_id, Error *err)
{
        const char *params[] = { instance_id };
        return query(conn, "DELETE FROM " REGISTRY_SCHEMA ".nodes WHERE instance_id = $1", 1, params, NULL,
                     NULL, err);
}

static double age_of(PGresult *res, int row, int col)
{
        if (PQgetisnull(res, row, col))
                return -1;
        char *end = NULL;
        double v = strtod(PQgetvalue(res, row, col), &end);
        return end && *end == '\0' ? v : -1;
}

int registry_list(PGconn *conn, RegistryNode **ret, size_t *ret_n, Error *err)
{
        PGresult *res = NULL;
        int r = query(
                conn,
                "SELECT instance_id, autoscaling_group, availability_zone, kong_version, agent_version, "
                "state, COALESCE(schema_state, -1), "
                "EXTRACT(EPOCH FROM now() - first_seen)::float8, "
                "EXTRACT(EPOCH FROM now() - last_heartbeat)::float8, "
                "EXTRACT(EPOCH FROM now() - schema_checked)::float8 "
                "FROM " REGISTRY_SCHEMA ".nodes ORDER BY instance_id",
                0, NULL, &res, NULL, err);
        if (r < 0)
                return r;
        size_t n = (size_t)PQntuples(res);
        RegistryNode *nodes = xcalloc(n ? n : 1, sizeof(RegistryNode));
        for (size_t i = 0; i < n; i++) {
                int row = (int)i;
                int state = node_state_from_name(PQgetvalue(res, row, 5));
                uint64_t ss = 0;
                const char *sv = PQgetvalue(res, row, 6);
                nodes[i] = (RegistryNode){
                        .instance_id = xstrdup(PQgetvalue(res, row, 0)),
                        .group = xstrdup(PQgetvalue(res, row, 1)),
                        .zone = xstrdup(PQgetvalue(res, row, 2)),
                        .kong_version = xstrdup(PQgetvalue(res, row, 3)),
                        .agent_version = xstrdup(PQgetvalue(res, row, 4)),
                        .state = state < 0 ? NODE_BOOTING : (NodeState)state,
                        .schema_state = streq(sv, "-1") || parse_uint64(sv, &ss) < 0 ? -1 : (int)ss,
                        .first_seen_age = age_of(res, row, 7),
                        .heartbeat_age = age_of(res, row, 8),
                        .schema_checked_age = age_of(res, row, 9),
                };
        }
        PQclear(res);
        *ret = nodes;
        *ret_n = n;
        return 0;
}

int registry_record_finish(PGconn *conn, const RegistryFinish *f, Error *err)
{
        const char *params[] = { f->instance_id, f->kong_version, f->migrations ?: "" };
        return query(conn,
                     "INSERT INTO " REGISTRY_SCHEMA ".finishes (instance_id, kong_version, migrations) "
                     "VALUES ($1, $2, $3)",
                     3, params, NULL, NULL, err);
}

int registry_last_finish(PGconn *conn, RegistryFinish *ret, Error *err)
{
        PGresult *res = NULL;
        int r = query(conn,
                      "SELECT instance_id, kong_version, migrations, "
                      "to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                      "FROM " REGISTRY_SCHEMA ".finishes ORDER BY id DESC LIMIT 1",
                      0, NULL, &res, NULL, err);
        if (r < 0)
                return r;
        if (PQntuples(res) != 1) {
                PQclear(res);
                return -ENOENT;
        }
        *ret = (RegistryFinish){
                .instance_id = xstrdup(PQgetvalue(res, 0, 0)),
                .kong_version = xstrdup(PQgetvalue(res, 0, 1)),
                .migrations = xstrdup(PQgetvalue(res, 0, 2)),
                .finished_at = xstrdup(PQgetvalue(res, 0, 3)),
        };
        PQclear(res);
        return 0;
}

int registry_newest_finish_version(PGconn *conn, char **ret, Error *err)
{
        PGresult *res = NULL;
        int r = query(conn, "SELECT DISTINCT kong_version FROM " REGISTRY_SCHEMA ".finishes", 0, NULL, &res,
                      NULL, err);
        if (r < 0)
                return r;
        const char *best = NULL;
        for (int i = 0; i < PQntuples(res); i++)
                if (!best || kong_version_compare(PQgetvalue(res, i, 0), best) > 0)
                        best = PQgetvalue(res, i, 0);
        *ret = best ? xstrdup(best) : NULL;
        PQclear(res);
        return 0;
}

int registry_kong_pending(PGconn *conn, const char *schema, char **ret, Error *err)
{
        _cleanup_free_ char *escaped = NULL, *sql = NULL, *sqlstate = NULL;
        char *e = PQescapeIdentifier(conn, schema ?: "public", strlen(schema ?: "public"));
        if (!e)
                return error_set(err, -ENOMEM, "cannot quote pg_schema");
        escaped = xstrdup(e);
        PQfreemem(e);
        sql = xasprintf("SELECT subsystem, array_to_string(pending, ', ') FROM %s.schema_meta "
                        "WHERE key = 'schema_meta' AND cardinality(pending) > 0 ORDER BY subsystem",
                        escaped);
        PGresult *res = NULL;
        int r = query(conn, sql, 0, NULL, &res, &sqlstate, err);
        if (r == -EIO && sqlstate &&
            (streq(sqlstate, SQLSTATE_UNDEFINED_TABLE) || streq(sqlstate, SQLSTATE_INVALID_SCHEMA_NAME))) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        _cleanup_buf_ Buf b = { 0 };
        for (int i = 0; i < PQntuples(res); i++)
                buf_printf(&b, "%s%s: %s", i ? "; " : "", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
        PQclear(res);
        *ret = b.len ? xstrndup(b.data, b.len) : NULL;
        return 0;
}
