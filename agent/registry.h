/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The fleet registry: a schema of its own, kong_bootstrap, in the database
 * Kong uses (never a change to Kong's tables). One row per node (instance
 * id, Auto Scaling group, zone, Kong version, agent version, state, first
 * seen, last heartbeat), and one per `kong migrations finish` this agent
 * ran (who, which Kong, what, when). Ages are the server's clock
 * (now() - last_heartbeat): nodes' clocks never meet.
 *
 * Creating or migrating the schema needs CREATE on the database; it is
 * done under the migration election's advisory lock (registry_setup()).
 */

#include <libpq-fe.h>

#include "db.h"

#define REGISTRY_SCHEMA "kong_bootstrap"
/* The registry's own schema version (kong_bootstrap.meta). */
#define REGISTRY_VERSION 1
/* A row whose heartbeat is older than this many intervals is stale. */
#define REGISTRY_STALE_INTERVALS 3

typedef enum NodeState {
        NODE_BOOTING,
        NODE_READY,
        NODE_DRAINING,
        _NODE_STATE_MAX,
} NodeState;

const char *node_state_name(NodeState s);
int node_state_from_name(const char *s);

typedef struct RegistryNode {
        char *instance_id;
        char *group; /* may be empty */
        char *zone;
        char *kong_version;
        char *agent_version;
        NodeState state;
        int schema_state;          /* its last `kong migrations list` exit; -1: not known */
        double first_seen_age;     /* seconds */
        double heartbeat_age;      /* seconds */
        double schema_checked_age; /* seconds; <0: never */
} RegistryNode;

void registry_nodes_free(RegistryNode *nodes, size_t n);

typedef struct RegistryFinish {
        char *instance_id;
        char *kong_version;
        char *migrations;
        char *finished_at; /* ISO 8601, UTC */
} RegistryFinish;

void registry_finish_done(RegistryFinish *f);

/* Outcomes of registry_setup(). */
typedef enum RegistrySetup {
        REGISTRY_CURRENT = 0, /* the schema was there, at our version */
        REGISTRY_CREATED = 1, /* created or migrated it, under the lock */
} RegistrySetup;

/* Creates or migrates kong_bootstrap unless it is current, holding the
 * migration lock (db_migration_lock(), exclusive, within 'lock_timeout')
 * and checking again inside it. Without CREATE on the database: -EACCES
 * with what to grant. A schema newer than this agent knows: -EPROTO. */
int registry_setup(PGconn *conn, const DbParams *p, usec_t lock_timeout, Error *err);

/* Whether kong_bootstrap exists (read-only; `fleet`). */
int registry_exists(PGconn *conn, bool *ret, Error *err);

/* Whether registry_setup() would succeed, read-only (`check`): the schema
 * is there, at this agent's version, with USAGE on it and the privileges
 * the agent needs on its tables; or it is not there (or older) and the
 * user may create it. Fails with the GRANT that is missing (-EACCES), or
 * -EPROTO for a newer schema. *ret_detail says what was found. */
int registry_check(PGconn *conn, const DbParams *p, char **ret_detail, Error *err);

/* Inserts or updates this node's row: state, versions, heartbeat now;
 * 'schema_state' < 0 leaves the last one recorded. */
int registry_upsert(PGconn *conn, const RegistryNode *self, Error *err);
int registry_delete(PGconn *conn, const char *instance_id, Error *err);

/* Every row, ordered by instance id. */
int registry_list(PGconn *conn, RegistryNode **ret, size_t *ret_n, Error *err);

int registry_record_finish(PGconn *conn, const RegistryFinish *f, Error *err);
/* The latest finish recorded (-ENOENT: none). */
int registry_last_finish(PGconn *conn, RegistryFinish *ret, Error *err);
/* The highest Kong version that ever ran `finish` (NULL: none). */
int registry_newest_finish_version(PGconn *conn, char **ret, Error *err);

/* Kong's own record of pending migrations, read (never written) from its
 * schema_meta table in 'schema' (NULL: public): "core: 003_x, 004_y; …",
 * or NULL when there are none (or no schema_meta yet). A cheap first look
 * that spares a `kong migrations list` (a second of LuaJIT) per interval;
 * whether this node's Kong knows them is still `list`'s answer. */
int registry_kong_pending(PGconn *conn, const char *schema, char **ret, Error *err);
