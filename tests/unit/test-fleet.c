/* SPDX-License-Identifier: Apache-2.0 */
#include "fleet.h"
#include "test.h"

#define STALE 90.0 /* 3 intervals of 30 s */

static RegistryNode node(const char *id, const char *version, NodeState state, double heartbeat_age)
{
        return (RegistryNode){ .instance_id = (char *)id,
                               .group = (char *)"",
                               .kong_version = (char *)version,
                               .state = state,
                               .schema_state = -1,
                               .heartbeat_age = heartbeat_age };
}

/* A described group (exists) with its instances. */
#define GROUP(name, list) ((ScalingGroup){ (char *)(name), true, (list), ELEMENTSOF(list) })

static RegistryNode in_group(RegistryNode n, const char *group)
{
        n.group = (char *)group;
        return n;
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
        FleetView v = { "3.9.1", nodes, 3, NULL, 0, STALE };
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
                in_group(node("i-b", "3.9.1", NODE_READY, 1), "kong"),
                in_group(node("i-dead", "3.8.0", NODE_READY, STALE + 5), "kong"),
        };
        GroupInstance listed[] = {
                { "i-b", "InService", NULL },
                { "i-dead", "InService", NULL },
        };
        GroupInstance unlisted[] = { { "i-b", "InService", NULL }, { "i-dead", "Terminated", NULL } };
        ScalingGroup g[] = { GROUP("kong", listed) };
        FleetBlocker *l = NULL;

        FleetView v = { "3.9.1", nodes, 2, g, 1, STALE };
        size_t n = blockers(&v, &l);
        CHECK(n == 1);
        CHECK_STREQ(l[0].instance_id, "i-dead");
        CHECK_STREQ(l[0].kind, "stale-listed");
        CHECK_STREQ(l[0].group, "kong");
        CHECK_CONTAINS(l[0].reason, "the group kong still lists it InService");
        fleet_blockers_free(l, n);

        /* the group no longer counts it: done */
        g[0] = GROUP("kong", unlisted);
        CHECK(blockers(&v, &l) == 0);
        free(l);

        /* no group described: a stale row does not block */
        v.groups = NULL;
        v.n_groups = 0;
        CHECK(blockers(&v, &l) == 0);
        free(l);
}

static void test_unregistered_instance_blocks(void)
{
        RegistryNode nodes[] = { in_group(node("i-b", "3.9.1", NODE_READY, 1), "kong") };
        GroupInstance group[] = {
                { "i-b", "InService", NULL },
                { "i-new", "Pending:Wait", NULL },   /* booting: counts */
                { "i-gone", "Terminating", NULL },   /* leaving: does not */
                { "i-x", "Terminating:Wait", NULL }, /* nor this */
        };
        ScalingGroup g[] = { GROUP("kong", group) };
        FleetView v = { "3.9.1", nodes, 1, g, 1, STALE };
        FleetBlocker *l = NULL;
        size_t n = blockers(&v, &l);
        CHECK(n == 1);
        CHECK_STREQ(l[0].instance_id, "i-new");
        CHECK(l[0].kong_version == NULL);
        CHECK_STREQ(l[0].kind, "unregistered");
        CHECK_STREQ(l[0].group, "kong");
        CHECK_CONTAINS(l[0].reason, "the group kong lists it Pending:Wait");
        char *status = fleet_blockers_status(l, n);
        CHECK_STREQ(status, "finish waiting for 1 unregistered instance");
        free(status);
        fleet_blockers_free(l, n);
}

/* Blue/green: this node is in kong-green; the old Kong's nodes were in
 * kong-blue. The old group's stale rows and its unregistered instances
 * block while kong-blue lists them, whichever group this node is in. */
static void test_blue_green(void)
{
        RegistryNode nodes[] = {
                in_group(node("i-g1", "3.9.1", NODE_READY, 1), "kong-green"),
                in_group(node("i-b1", "3.8.0", NODE_READY, STALE + 5), "kong-blue"), /* killed */
                in_group(node("i-b2", "3.8.0", NODE_READY, STALE + 9), "kong-blue"), /* killed, gone */
                in_group(node("i-b3", "3.8.0", NODE_READY, 2), "kong-blue"),         /* alive */
                node("i-n1", "3.8.0", NODE_READY, STALE + 5), /* no group: stale, listed by none */
        };
        GroupInstance green[] = { { "i-g1", "InService", NULL } };
        GroupInstance blue[] = {
                { "i-b1", "InService", NULL },
                { "i-b2", "Terminating", NULL },
                { "i-b3", "InService", NULL },
                { "i-u1", "InService", NULL }, /* an older AMI, never registered */
        };
        ScalingGroup g[] = { GROUP("kong-green", green), GROUP("kong-blue", blue) };
        FleetView v = { "3.9.1", nodes, ELEMENTSOF(nodes), g, 2, STALE };
        FleetBlocker *l = NULL;
        size_t n = blockers(&v, &l);
        CHECK(n == 3);
        if (n == 3) {
                CHECK_STREQ(l[0].instance_id, "i-b1");
                CHECK_STREQ(l[0].kind, "stale-listed");
                CHECK_STREQ(l[0].group, "kong-blue");
                CHECK_CONTAINS(l[0].reason, "the group kong-blue still lists it InService");
                CHECK_STREQ(l[1].instance_id, "i-b3");
                CHECK_STREQ(l[1].kind, "older");
                CHECK_STREQ(l[1].group, "kong-blue");
                CHECK_CONTAINS(l[1].reason, "group kong-blue");
                CHECK_STREQ(l[2].instance_id, "i-u1");
                CHECK_STREQ(l[2].kind, "unregistered");
                CHECK_STREQ(l[2].group, "kong-blue");
                CHECK_CONTAINS(l[2].reason, "the group kong-blue lists it InService");
        }
        char *key = fleet_blockers_key(l, n);
        CHECK_CONTAINS(key, "i-u1/-/unregistered/kong-blue");
        free(key);
        fleet_blockers_free(l, n);

        /* kong-blue deleted (AWS no longer returns it): it lists nothing;
         * the live old node still blocks by its heartbeat */
        ScalingGroup gone[] = { GROUP("kong-green", green), { (char *)"kong-blue", false, NULL, 0 } };
        v.groups = gone;
        n = blockers(&v, &l);
        CHECK(n == 1);
        CHECK_STREQ(l[0].instance_id, "i-b3");
        fleet_blockers_free(l, n);

        /* an instance listed by both groups (moved): one blocker, and a
         * stale row with no group is held by any group that lists it */
        GroupInstance green2[] = { { "i-g1", "InService", NULL },
                                   { "i-u1", "InService", NULL },
                                   { "i-n1", "Pending", NULL } };
        ScalingGroup both[] = { GROUP("kong-green", green2), GROUP("kong-blue", blue) };
        v.groups = both;
        n = blockers(&v, &l);
        CHECK(n == 4);
        if (n == 4) {
                CHECK_STREQ(l[2].instance_id, "i-n1");
                CHECK_STREQ(l[2].group, "kong-green");
                CHECK_STREQ(l[3].instance_id, "i-u1");
        }
        fleet_blockers_free(l, n);
}

static void test_groups_to_describe(void)
{
        RegistryNode nodes[] = {
                in_group(node("i-1", "3.9.1", NODE_READY, 1), "kong-green"),
                in_group(node("i-2", "3.8.0", NODE_READY, STALE + 1), "kong-blue"),
                in_group(node("i-3", "3.8.0", NODE_READY, 1), "kong-blue"),
                in_group(node("i-4", "3.7.0", NODE_READY, 1), "kong-amber"),
                node("i-5", "3.8.0", NODE_READY, 1),
                in_group(node("i-6", "3.8.0", NODE_READY, 1), "bad\nname"),
                in_group(node("i-7", "3.8.0", NODE_READY, 1), "kong-green"),
        };
        char **valid = NULL, **invalid = NULL;
        fleet_groups("kong-green", nodes, ELEMENTSOF(nodes), &valid, &invalid);
        char *j = strv_join(valid, ",");
        CHECK_STREQ(j, "kong-green,kong-amber,kong-blue"); /* own first, the others sorted, once */
        free(j);
        CHECK(strv_length(invalid) == 1 && streq(invalid[0], "bad\nname"));
        strv_free(valid);
        strv_free(invalid);

        /* this node's group unknown: the rows' groups alone */
        fleet_groups(NULL, nodes, 3, &valid, &invalid);
        j = strv_join(valid, ",");
        CHECK_STREQ(j, "kong-blue,kong-green");
        free(j);
        CHECK(invalid == NULL);
        strv_free(valid);
        fleet_groups("", nodes + 4, 1, &valid, &invalid);
        CHECK(valid == NULL && invalid == NULL);
}

/* A group that AWS does not return lists nothing, except this node's
 * own: that is a configuration error, and no decision is made. */
static void test_own_group_check(void)
{
        GroupInstance green[] = { { "i-g1", "InService", NULL } };
        ScalingGroup g[] = { GROUP("kong-green", green), { (char *)"kong-blue", false, NULL, 0 } };
        Error err = { "" };
        CHECK(fleet_own_group_check("kong-green", g, 2, &err) == 0);
        CHECK(fleet_own_group_check(NULL, NULL, 0, &err) == 0);
        CHECK(fleet_own_group_check("", g, 2, &err) == 0);
        CHECK(fleet_own_group_check("kong-blue", g, 2, &err) == -ENOENT);
        CHECK_CONTAINS(err.msg, "AWS has no Auto Scaling group 'kong-blue' (this node's)");
        CHECK(fleet_own_group_check("kong-typo", g, 2, &err) == -ENOENT);
        CHECK(fleet_own_group_check("kong\ngreen", NULL, 0, &err) == -EINVAL);
        CHECK(strchr(err.msg, '\n') == NULL);
}

static void test_mixed_status_and_key(void)
{
        FleetBlocker l[] = {
                { "i-1", "3.8.0", "older", "r1", NULL },
                { "i-2", NULL, "unregistered", "r2", (char *)"kong" },
                { "i-3", "3.8.0", "stale-listed", "r3", (char *)"kong" },
                { "i-4", "3.7.0", "older", "r4", NULL },
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
        ScalingGroup g[] = { GROUP("kong", group) };
        FleetView v = { "3.9.1", nodes, 2, g, 1, STALE };
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
        RUN(test_blue_green);
        RUN(test_groups_to_describe);
        RUN(test_own_group_check);
        RUN(test_mixed_status_and_key);
        RUN(test_nothing_blocks_when_all_new);
        return TEST_EXIT();
}
