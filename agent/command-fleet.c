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
        bool group_known;
        char *group_error; /* DescribeAutoScalingGroups failed: why */
        GroupInstance *group;
        size_t n_group;
        char *pending;    /* Kong's schema_meta: pending migrations, NULL: none */
        int schema_state; /* -1: no fresh node has checked */
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
        group_instances_free(r->group, r->n_group);
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
        if (!isempty(b->group)) {
                _cleanup_free_ char *url =
                        config_is_set(b->config, CONF_AUTOSCALING_ENDPOINT)
                                ? xstrdup(config_get(b->config, CONF_AUTOSCALING_ENDPOINT))
                                : xasprintf("https://autoscaling.%s.amazonaws.com", b->region);
                AwsEndpoint ep = { url, b->region, &b->credentials, FLEET_AWS_TIMEOUT };
                Error e = { "" };
                if (autoscaling_describe_group(&ep, b->group, &r->group, &r->n_group, &e) < 0)
                        r->group_error = xstrdup(e.msg);
                else
                        r->group_known = true;
        }
        k = registry_kong_pending(b->lock_conn, b->db.schema, &r->pending, err);
        if (k < 0)
                return k;
        schema_from_rows(r);
        r->target = fleet_target_version(r->nodes, r->n_nodes, NULL, r->stale_after);
        if (r->pending && r->target) {
                FleetView v = { r->target, r->nodes,   r->n_nodes,    r->group_known,
                                r->group,  r->n_group, r->stale_after };
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
        if (r->group_error)
                printf("group %s: %s\n", b->group, r->group_error);
        else if (r->group_known) {
                printf("group %s:", b->group);
                for (size_t i = 0; i < r->n_group; i++)
                        printf(" %s (%s)", r->group[i].instance_id, r->group[i].lifecycle_state ?: "?");
                printf("%s\n", r->n_group ? "" : " no instances");
        } else
                printf("group: unknown (no autoscaling_group and no aws:autoscaling:groupName tag)\n");
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
        if (r->group_known || r->group_error) {
                cJSON *g = cJSON_AddObjectToObject(o, "group");
                cJSON_AddStringToObject(g, "name", b->group);
                if (r->group_error)
                        cJSON_AddStringToObject(g, "error", r->group_error);
                cJSON *inst = cJSON_AddArrayToObject(g, "instances");
                for (size_t i = 0; i < r->n_group; i++) {
                        cJSON *j = cJSON_CreateObject();
                        cJSON_AddStringToObject(j, "instance_id", r->group[i].instance_id);
                        cJSON_AddStringToObject(j, "lifecycle_state", r->group[i].lifecycle_state ?: "");
                        cJSON_AddItemToArray(inst, j);
                }
        } else
                cJSON_AddNullToObject(o, "group");
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
