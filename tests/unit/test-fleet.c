/* SPDX-License-Identifier: Apache-2.0 */
#include "fleet.h"
#include "test.h"

#define STALE 90.0 /* 3 intervals of 30 s */

static RegistryNode node(const char *id, const char *version, NodeState state, double heartbeat_age)
{
        return (RegistryNode){ .instance_id = (char *)id,
                               .kong_version = (char *)version,
                               .state = state,
                               .schema_state = -1,
                               .heartbeat_age = heartbeat_age };
}

static size_t blockers(const FleetView *v, FleetBlocker **ret)
{
        size_t n = 0;
        fleet_blockers(v, ret, &n);
        return n;
}

static void test_target_is_newest_fresh(void)
{
        RegistryNode nodes[] = {
                node("i-a", "3.8.0", NODE_READY, 1), node("i-b", "3.9.1", NODE_READY, 1),
                node("i-c", "3.10.0", NODE_READY, STALE + 1), /* stale: not counted */
        };
        char *t = fleet_target_version(nodes, 3, "3.9.0", STALE);
        CHECK_STREQ(t, "3.9.1");
        free(t);
        t = fleet_target_version(nodes, 3, "3.10.0", STALE);
        CHECK_STREQ(t, "3.10.0");
        free(t);
        CHECK(fleet_target_version(NULL, 0, NULL, STALE) == NULL);
}

static void test_fresh_old_nodes_block(void)
{
        RegistryNode nodes[] = {
                node("i-b", "3.9.1", NODE_READY, 1),
                node("i-a2", "3.8.0", NODE_DRAINING, 2), /* draining still serves */
                node("i-a1", "3.8.0", NODE_READY, 1),
        };
        FleetView v = { "3.9.1", nodes, 3, false, NULL, 0, STALE };
        FleetBlocker *l = NULL;
        size_t n = blockers(&v, &l);
        CHECK(n == 2);
        CHECK_STREQ(l[0].instance_id, "i-a1"); /* sorted */
        CHECK_STREQ(l[1].instance_id, "i-a2");
        CHECK_STREQ(l[0].kind, "older");
        CHECK(strstr(l[1].reason, "draining") != NULL);
        char *status = fleet_blockers_status(l, n);
        CHECK_STREQ(status, "finish waiting for 2 nodes of Kong 3.8.0");
        free(status);
        fleet_blockers_free(l, n);
}

static void test_stale_row_blocks_while_listed(void)
{
        RegistryNode nodes[] = {
                node("i-b", "3.9.1", NODE_READY, 1),
                node("i-dead", "3.8.0", NODE_READY, STALE + 5),
        };
        GroupInstance listed[] = {
                { "i-b", "InService", NULL },
                { "i-dead", "InService", NULL },
        };
        GroupInstance unlisted[] = { { "i-b", "InService", NULL }, { "i-dead", "Terminated", NULL } };
        FleetBlocker *l = NULL;

        FleetView v = { "3.9.1", nodes, 2, true, listed, 2, STALE };
        size_t n = blockers(&v, &l);
        CHECK(n == 1);
        CHECK_STREQ(l[0].instance_id, "i-dead");
        CHECK_STREQ(l[0].kind, "stale-listed");
        fleet_blockers_free(l, n);

        /* the group no longer counts it: done */
        v.group = unlisted;
        CHECK(blockers(&v, &l) == 0);
        free(l);

        /* group unknown: a stale row does not block */
        v.group_known = false;
        v.group = NULL;
        v.n_group = 0;
        CHECK(blockers(&v, &l) == 0);
        free(l);
}

static void test_unregistered_instance_blocks(void)
{
        RegistryNode nodes[] = { node("i-b", "3.9.1", NODE_READY, 1) };
        GroupInstance group[] = {
                { "i-b", "InService", NULL },
                { "i-new", "Pending:Wait", NULL },   /* booting: counts */
                { "i-gone", "Terminating", NULL },   /* leaving: does not */
                { "i-x", "Terminating:Wait", NULL }, /* nor this */
        };
        FleetView v = { "3.9.1", nodes, 1, true, group, 4, STALE };
        FleetBlocker *l = NULL;
        size_t n = blockers(&v, &l);
        CHECK(n == 1);
        CHECK_STREQ(l[0].instance_id, "i-new");
        CHECK(l[0].kong_version == NULL);
        CHECK_STREQ(l[0].kind, "unregistered");
        char *status = fleet_blockers_status(l, n);
        CHECK_STREQ(status, "finish waiting for 1 unregistered instance");
        free(status);
        fleet_blockers_free(l, n);
}

static void test_mixed_status_and_key(void)
{
        FleetBlocker l[] = {
                { "i-1", "3.8.0", "older", "r1" },
                { "i-2", NULL, "unregistered", "r2" },
                { "i-3", "3.8.0", "stale-listed", "r3" },
                { "i-4", "3.7.0", "older", "r4" },
        };
        char *s = fleet_blockers_status(l, 4);
        CHECK_STREQ(
                s,
                "finish waiting for 2 nodes of Kong 3.8.0, 1 node of Kong 3.7.0, 1 unregistered instance");
        free(s);
        char *k1 = fleet_blockers_key(l, 4);
        l[0].reason = "the same blocker, another age";
        char *k2 = fleet_blockers_key(l, 4);
        CHECK_STREQ(k1, k2);
        free(k1);
        free(k2);
        char *d = fleet_blockers_describe(l, 2);
        CHECK_STREQ(d, "i-1: the same blocker, another age; i-2: r2");
        free(d);
}

static void test_nothing_blocks_when_all_new(void)
{
        RegistryNode nodes[] = {
                node("i-b1", "3.9.1", NODE_READY, 1),
                node("i-b2", "3.9.2", NODE_BOOTING, 1),
        };
        GroupInstance group[] = { { "i-b1", "InService", NULL }, { "i-b2", "Pending", NULL } };
        FleetView v = { "3.9.1", nodes, 2, true, group, 2, STALE };
        FleetBlocker *l = NULL;
        CHECK(blockers(&v, &l) == 0);
        free(l);
}

int main(void)
{
        RUN(test_target_is_newest_fresh);
        RUN(test_fresh_old_nodes_block);
        RUN(test_stale_row_blocks_while_listed);
        RUN(test_unregistered_instance_blocks);
        RUN(test_mixed_status_and_key);
        RUN(test_nothing_blocks_when_all_new);
        return TEST_EXIT();
}
