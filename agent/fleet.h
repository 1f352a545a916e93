/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * migrations_finish = after-rollout: `kong migrations finish` exactly when
 * the last node of the previous Kong version has gone.
 *
 * Every node registers at boot (registry.c), heartbeats from the daemon's
 * loop every fleet_heartbeat_interval and, on that timer, asks its own Kong
 * whether the schema has pending migrations (`kong migrations list`, exit
 * 4). When it has, the fleet is done once
 *   - every registered node whose heartbeat is fresh (younger than 3
 *     intervals) runs a Kong at least the target version: the newest
 *     version among them and this node (the pending migrations are the
 *     newest Kong's: an older Kong's `list` does not even see them);
 *   - a stale row of an older Kong blocks while an Auto Scaling group
 *     lists its instance as InService or Pending* (its own group, the
 *     row's autoscaling_group, is always described; a stale row with no
 *     group that no described group lists does not block);
 *   - every instance that any described group lists as InService or
 *     Pending* is registered with such a version.
 * The groups described: this node's (when known) and every group any row
 * names (fresh or stale, any version), so a blue/green upgrade through a
 * new group still sees the old group's instances, registered or not. One
 * DescribeAutoScalingGroups call per tick for up to 50 groups; a call
 * that fails fails the tick (no finish); a group AWS does not return
 * lists nothing; a name AWS could not have given a group is reported,
 * never sent (fleet_groups()).
 * Then one node, under the migration lock and after checking all of it
 * again inside the lock, runs `kong migrations finish -c <staging copy>`,
 * verifies with `list` and records who finished what, when.
 *
 * The other direction: Kong's own schema state ignores migrations it does
 * not know (kong/db/migrations/state.lua iterates over its own), so an
 * older Kong's `list` says "up to date" and `kong start` starts on a schema
 * a newer Kong has finished, and then fails at run time (the teardown
 * removed what it reads). A node whose Kong is older than the newest Kong
 * that ran `finish` (the registry's record) therefore refuses to start Kong
 * (MESSAGE_ID_KONG_OLDER_THAN_SCHEMA, exit status of the fleet stage).
 */

#include "autoscaling-group.h"
#include "boot.h"
#include "registry.h"

/* A node's Kong is older than the schema: it does not start Kong. */
#define MESSAGE_ID_KONG_OLDER_THAN_SCHEMA "dd3cab2a4e0146c590c2efa4ca90939b"
/* What keeps `kong migrations finish` waiting (logged when it changes). */
#define MESSAGE_ID_FINISH_WAITING "85e5996399de4db3ab937e3f94d9ee1c"

typedef struct FleetBlocker {
        char *instance_id;
        char *kong_version; /* NULL: never registered */
        const char *kind;   /* "older", "stale-listed", "unregistered": what changes are judged by */
        char *reason;       /* a sentence, with ages */
        char *group; /* the group that lists it (stale-listed, unregistered) or its row's; NULL: none */
} FleetBlocker;

void fleet_blockers_free(FleetBlocker *l, size_t n);

/* What a finish decision looks at. */
typedef struct FleetView {
        const char *target_version;
        const RegistryNode *nodes;
        size_t n_nodes;
        const ScalingGroup *groups; /* every group described (fleet_groups()) */
        size_t n_groups;
        double stale_after; /* seconds: REGISTRY_STALE_INTERVALS intervals */
} FleetView;

/* The newest Kong among 'own' (may be NULL) and the fresh rows. */
char *fleet_target_version(const RegistryNode *nodes, size_t n, const char *own, double stale_after);

/* The groups to describe: 'own' (may be NULL or empty) first, then every
 * other group the rows name, sorted, each once. Names AWS could not have
 * given a group (autoscaling_group_name_valid()) go to *ret_invalid
 * instead. */
void fleet_groups(const char *own, const RegistryNode *nodes, size_t n, char ***ret_valid,
                  char ***ret_invalid);

/* This node's own group ('own', may be NULL or empty: nothing to check)
 * among the groups described: a name that is not valid (-EINVAL) or that
 * AWS did not return (-ENOENT) is this node's configuration gone wrong,
 * not a deleted group, and fails the decision rather than listing
 * nothing. */
int fleet_own_group_check(const char *own, const ScalingGroup *groups, size_t n_groups, Error *err);

/* The nodes that keep `finish` waiting, in instance id order, with their
 * reasons; none means the fleet is done. */
void fleet_blockers(const FleetView *v, FleetBlocker **ret, size_t *ret_n);

/* "finish waiting for 2 nodes of Kong 3.8.0" (STATUS=), and the journal's
 * sentence naming each blocker. */
char *fleet_blockers_status(const FleetBlocker *l, size_t n);
char *fleet_blockers_describe(const FleetBlocker *l, size_t n);
/* Who blocks and why, without ages: changes only when the blockers do. */
char *fleet_blockers_key(const FleetBlocker *l, size_t n);

/* This node in the registry, from the boot to the end of the daemon. */
typedef struct FleetNode FleetNode;
void fleet_node_free(FleetNode *f);

/* Boot steps (STAGE_FLEET), no-ops unless migrations_finish =
 * after-rollout: reads `kong version`, creates or migrates the registry
 * under the migration lock (without CREATE on the database: fails, saying
 * so), refuses a Kong older than the newest that finished the schema,
 * registers as booting; after Kong is ready, as ready. */
int fleet_boot_register(Boot *b, Error *err);
int fleet_boot_ready(Boot *b, Error *err);

/* Whether the daemon runs fleet_tick() (after-rollout), and how often. */
bool fleet_enabled(const Boot *b);
usec_t fleet_interval(const Boot *b);

/* The daemon's timer: heartbeat, schema check and, when the fleet is
 * done, `kong migrations finish`. Logs what it does; never fails the
 * daemon (a database that does not answer is retried next time). */
void fleet_tick(Boot *b);

/* Drain and termination: the row says draining, then goes. */
void fleet_draining(Boot *b);
void fleet_leave(Boot *b);
