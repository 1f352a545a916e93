/* SPDX-License-Identifier: Apache-2.0 */
#include "command-fleet.h"

#include <stdio.h>

#include "boot.h"
#include "fleet.h"
#include "json.h"
#include "kong.h"

#define FLEET_AWS_TIMEOUT (20 * USEC_PER_SEC)

typedef struct FleetReport {
        bool exists;
        RegistryNode *nodes;
        size_t n_nodes;
        char **group_names;    /* described: this node's group first (when known), the rows' */
        char **invalid_groups; /* named but not valid names: not described */
        char *group_error;     /* DescribeAutoScalingGroups failed: why */
        ScalingGroup *groups;  /* one per group_names; NULL: none, or the call failed */
        char *pending;         /* Kong's schema_meta: pending migrations, NULL: none */
        int schema_state;      /* -1: no fresh node has checked */
        const char *schema_seen_by;
        double schema_age;
        char *target;
        FleetBlocker *blockers;
        size_t n_blockers;
        bool have_finish;
        RegistryFinish finish;
        double stale_after;
} FleetReport;

static void report_done(FleetReport *r)
{
        registry_nodes_free(r->nodes, r->n_nodes);
        scaling_groups_free(r->groups, r->groups ? strv_length(r->group_names) : 0);
        strv_free(r->group_names);
        strv_free(r->invalid_groups);
        free(r->group_error);
        free(r->target);
        free(r->pending);
        fleet_blockers_free(r->blockers, r->n_blockers);
        registry_finish_done(&r->finish);
}

/* One attempt, no waiting, no lock (like check). */
static int database_once(Boot *b, Error *err)
{
        return db_wait(&b->db, 0, &b->lock_conn, NULL, err);
}

/* The schema's state: pending when any fresh node saw pending migrations
 * (only a Kong that knows them does); else what the latest check said. */
static void schema_from_rows(FleetReport *r)
{
        r->schema_state = -1;
        for (size_t i = 0; i < r->n_nodes; i++) {
                const RegistryNode *n = &r->nodes[i];
                if (n->schema_state < 0 || n->heartbeat_age > r->stale_after || n->schema_checked_age < 0)
                        continue;
                bool better =
                        r->schema_state < 0 ||
                        (n->schema_state == KONG_SCHEMA_PENDING && r->schema_state != KONG_SCHEMA_PENDING) ||
                        ((n->schema_state == KONG_SCHEMA_PENDING) ==
                                 (r->schema_state == KONG_SCHEMA_PENDING) &&
                         n->schema_checked_age < r->schema_age);
                if (better) {
                        r->schema_state = n->schema_state;
                        r->schema_seen_by = n->instance_id;
                        r->schema_age = n->schema_checked_age;
                }
        }
}

static int gather(Boot *b, FleetReport *r, Error *err)
{
        int k = registry_exists(b->lock_conn, &r->exists, err);
        if (k < 0 || !r->exists)
                return k;
        k = registry_list(b->lock_conn, &r->nodes, &r->n_nodes, err);
        if (k < 0)
                return k;
        r->have_finish = registry_last_finish(b->lock_conn, &r->finish, err) >= 0;
        fleet_groups(b->group, r->nodes, r->n_nodes, &r->group_names, &r->invalid_groups);
        if (r->group_names) {
                _cleanup_free_ char *url =
                        config_is_set(b->config, CONF_AUTOSCALING_ENDPOINT)
                                ? xstrdup(config_get(b->config, CONF_AUTOSCALING_ENDPOINT))
                                : xasprintf("https://autoscaling.%s.amazonaws.com", b->region);
                AwsEndpoint ep = { url, b->region, &b->credentials, FLEET_AWS_TIMEOUT };
                Error e = { "" };
                if (autoscaling_describe_groups(&ep, r->group_names, strv_length(r->group_names), &r->groups,
                                                &e) < 0)
                        r->group_error = xstrdup(e.msg);
        }
        /* what the daemon would not decide on either: finish "unknown" */
        Error own = { "" };
        if (!r->group_error && fleet_own_group_check(b->group, r->groups,
                                                     r->groups ? strv_length(r->group_names) : 0, &own) < 0)
                r->group_error = xstrdup(own.msg);
        k = registry_kong_pending(b->lock_conn, b->db.schema, &r->pending, err);
        if (k < 0)
                return k;
        schema_from_rows(r);
        r->target = fleet_target_version(r->nodes, r->n_nodes, NULL, r->stale_after);
        if (r->pending && r->target) {
                /* groups not described (the call failed): the registry alone, and finish "unknown" */
                FleetView v = { r->target,
                                r->nodes,
                                r->n_nodes,
                                r->groups,
                                r->groups ? strv_length(r->group_names) : 0,
                                r->stale_after };
                fleet_blockers(&v, &r->blockers, &r->n_blockers);
        }
        return 0;
}

static const char *finish_word(const FleetReport *r)
{
        if (!r->pending)
                return "nothing to finish";
        /* no node with a fresh heartbeat: nobody to judge the target by,
         * and nobody would finish */
        if (r->group_error || !r->target)
                return "unknown";
        return r->n_blockers > 0 ? "waiting" : "due";
}

static void print_text(const Boot *b, const FleetReport *r)
{
        if (!r->exists) {
                printf("no fleet registry in database '%s' (migrations_finish = after-rollout creates it)\n",
                       b->db.dbname);
                return;
        }
        printf("pending migrations: %s\n", r->pending ?: "none");
        if (r->schema_state >= 0)
                printf("schema: %s (kong migrations list on %s %.0f s ago)\n",
                       kong_schema_state_describe(r->schema_state), r->schema_seen_by, r->schema_age);
        if (r->have_finish)
                printf("last finish: Kong %s on %s at %s: %s\n", r->finish.kong_version,
                       r->finish.instance_id, r->finish.finished_at,
                       isempty(r->finish.migrations) ? "-" : r->finish.migrations);
        printf("%-21s %-12s %-10s %-9s %s\n", "NODE", "ZONE", "KONG", "STATE", "HEARTBEAT");
        for (size_t i = 0; i < r->n_nodes; i++) {
                const RegistryNode *n = &r->nodes[i];
                printf("%-21s %-12s %-10s %-9s %.0f s ago%s\n", n->instance_id, n->zone, n->kong_version,
                       node_state_name(n->state), n->heartbeat_age,
                       n->heartbeat_age > r->stale_after ? " (stale)" : "");
        }
        if (isempty(b->group))
                printf("group: unknown (no autoscaling_group and no aws:autoscaling:groupName tag)\n");
        if (r->group_error)
                printf("groups: %s\n", r->group_error);
        for (size_t k = 0; r->groups && r->group_names[k]; k++) {
                const ScalingGroup *g = &r->groups[k];
                printf("group %s (%s):", g->name,
                       !isempty(b->group) && streq(g->name, b->group) ? "this node's"
                                                                      : "named by the registry");
                if (!g->exists)
                        printf(" not in this account and region (deleted?): lists nothing\n");
                else {
                        for (size_t i = 0; i < g->n_instances; i++)
                                printf(" %s (%s)", g->instances[i].instance_id,
                                       g->instances[i].lifecycle_state ?: "?");
                        printf("%s\n", g->n_instances ? "" : " no instances");
                }
        }
        for (size_t k = 0; r->invalid_groups && r->invalid_groups[k]; k++) {
                _cleanup_free_ char *shown = sanitize_for_log(r->invalid_groups[k], 80);
                printf("group '%s': not a valid Auto Scaling group name, not described\n", shown);
        }
        printf("finish: %s", finish_word(r));
        if (r->n_blockers > 0) {
                _cleanup_free_ char *status = fleet_blockers_status(r->blockers, r->n_blockers);
                printf(" (%s, target Kong %s)\n", status, r->target);
                for (size_t i = 0; i < r->n_blockers; i++)
                        printf("  %s: %s\n", r->blockers[i].instance_id, r->blockers[i].reason);
        } else if (r->pending && !r->target)
                printf(" (no node has a fresh heartbeat)\n");
        else
                printf("\n");
}

static cJSON *instances_json(const ScalingGroup *g)
{
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; g && i < g->n_instances; i++) {
                cJSON *j = cJSON_CreateObject();
                cJSON_AddStringToObject(j, "instance_id", g->instances[i].instance_id);
                cJSON_AddStringToObject(j, "lifecycle_state", g->instances[i].lifecycle_state ?: "");
                cJSON_AddStringToObject(j, "availability_zone", g->instances[i].zone ?: "");
                cJSON_AddItemToArray(a, j);
        }
        return a;
}

static void print_json(const Boot *b, const FleetReport *r)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "registry", r->exists);
        cJSON_AddStringToObject(o, "database", b->db.dbname);
        cJSON *schema = cJSON_AddObjectToObject(o, "schema");
        if (r->pending)
                cJSON_AddStringToObject(schema, "pending", r->pending);
        else
                cJSON_AddNullToObject(schema, "pending");
        if (r->schema_state >= 0) {
                cJSON_AddNumberToObject(schema, "list_exit_status", r->schema_state);
                cJSON_AddStringToObject(schema, "description", kong_schema_state_describe(r->schema_state));
                cJSON_AddStringToObject(schema, "seen_by", r->schema_seen_by);
                cJSON_AddNumberToObject(schema, "seen_seconds_ago", r->schema_age);
        } else
                cJSON_AddNullToObject(schema, "list_exit_status");
        cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
        for (size_t i = 0; i < r->n_nodes; i++) {
                const RegistryNode *n = &r->nodes[i];
                cJSON *j = cJSON_CreateObject();
                cJSON_AddStringToObject(j, "instance_id", n->instance_id);
                cJSON_AddStringToObject(j, "autoscaling_group", n->group);
                cJSON_AddStringToObject(j, "availability_zone", n->zone);
                cJSON_AddStringToObject(j, "kong_version", n->kong_version);
                cJSON_AddStringToObject(j, "agent_version", n->agent_version);
                cJSON_AddStringToObject(j, "state", node_state_name(n->state));
                cJSON_AddNumberToObject(j, "heartbeat_seconds_ago", n->heartbeat_age);
                cJSON_AddNumberToObject(j, "first_seen_seconds_ago", n->first_seen_age);
                cJSON_AddBoolToObject(j, "stale", n->heartbeat_age > r->stale_after);
                cJSON_AddItemToArray(nodes, j);
        }
        /* "group": this node's own group (as before); "groups": every group described */
        const ScalingGroup *own = NULL;
        for (size_t k = 0; r->groups && r->group_names[k]; k++)
                if (!isempty(b->group) && streq(r->groups[k].name, b->group))
                        own = &r->groups[k];
        if (own || (r->group_error && !isempty(b->group))) {
                cJSON *g = cJSON_AddObjectToObject(o, "group");
                cJSON_AddStringToObject(g, "name", b->group);
                if (r->group_error)
                        cJSON_AddStringToObject(g, "error", r->group_error);
                cJSON_AddItemToObject(g, "instances", instances_json(own));
        } else
                cJSON_AddNullToObject(o, "group");
        cJSON *groups = cJSON_AddArrayToObject(o, "groups");
        for (size_t k = 0; r->group_names && r->group_names[k]; k++) {
                const ScalingGroup *sg = r->groups ? &r->groups[k] : NULL;
                cJSON *g = cJSON_CreateObject();
                cJSON_AddStringToObject(g, "name", r->group_names[k]);
                cJSON_AddBoolToObject(g, "this_node",
                                      !isempty(b->group) && streq(r->group_names[k], b->group));
                if (sg)
                        cJSON_AddBoolToObject(g, "exists", sg->exists);
                else
                        cJSON_AddStringToObject(g, "error", r->group_error);
                cJSON_AddItemToObject(g, "instances", instances_json(sg));
                cJSON_AddItemToArray(groups, g);
        }
        cJSON *invalid = cJSON_AddArrayToObject(o, "invalid_groups");
        for (size_t k = 0; r->invalid_groups && r->invalid_groups[k]; k++)
                cJSON_AddItemToArray(invalid, cJSON_CreateString(r->invalid_groups[k]));
        cJSON *f = cJSON_AddObjectToObject(o, "finish");
        cJSON_AddStringToObject(f, "state", finish_word(r));
        if (r->target)
                cJSON_AddStringToObject(f, "target_kong_version", r->target);
        cJSON *bl = cJSON_AddArrayToObject(f, "blockers");
        for (size_t i = 0; i < r->n_blockers; i++) {
                cJSON *j = cJSON_CreateObject();
                cJSON_AddStringToObject(j, "instance_id", r->blockers[i].instance_id);
                if (r->blockers[i].kong_version)
                        cJSON_AddStringToObject(j, "kong_version", r->blockers[i].kong_version);
                else
                        cJSON_AddNullToObject(j, "kong_version");
                cJSON_AddStringToObject(j, "kind", r->blockers[i].kind);
                if (r->blockers[i].group)
                        cJSON_AddStringToObject(j, "autoscaling_group", r->blockers[i].group);
                else
                        cJSON_AddNullToObject(j, "autoscaling_group");
                cJSON_AddStringToObject(j, "reason", r->blockers[i].reason);
                cJSON_AddItemToArray(bl, j);
        }
        if (r->have_finish) {
                cJSON *l = cJSON_AddObjectToObject(f, "last");
                cJSON_AddStringToObject(l, "instance_id", r->finish.instance_id);
                cJSON_AddStringToObject(l, "kong_version", r->finish.kong_version);
                cJSON_AddStringToObject(l, "migrations", r->finish.migrations);
                cJSON_AddStringToObject(l, "finished_at", r->finish.finished_at);
        }
        char *text = cJSON_Print(o);
        printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(o);
}

int command_fleet(Config *c, bool json)
{
        static const BootStep steps[] = {
                BOOT_PREPARE_STEPS,
                { STAGE_DATABASE, database_once },
        };
        Boot b = { .config = c, .started = now_usec() };
        FleetReport r = {
                .stale_after = (double)(REGISTRY_STALE_INTERVALS *
                                        config_get_seconds(c, CONF_FLEET_HEARTBEAT_INTERVAL)) /
                               (double)USEC_PER_SEC,
        };
        Error err = { "" };
        Stage failed;
        int status = EXIT_OK;

        if (boot_run_steps(&b, steps, ELEMENTSOF(steps), &failed, &err) < 0)
                status = boot_fail(&b, failed, &err);
        else if (gather(&b, &r, &err) < 0)
                status = boot_fail(&b, STAGE_FLEET, &err);
        else if (json)
                print_json(&b, &r);
        else
                print_text(&b, &r);
        (void)fflush(stdout);
        report_done(&r);
        boot_done(&b);
        return status;
}
