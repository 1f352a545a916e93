#!/usr/bin/python3
"""migrations_finish = after-rollout with a blue/green upgrade: the new Kong
comes in a NEW Auto Scaling group, not through an instance refresh of the
old one.

Blue (kong-blue) holds two nodes of Kong A and an instance that never
registered (an older image without kong-bootstrap); green (kong-green) two
nodes of Kong B, the first of which runs `up`.  One A node leaves cleanly,
the other is killed without deregistering (its row goes stale while blue
still lists it InService).  The green nodes know only their own group from
their configuration: the old group reaches them through the registry rows.

Asserted: `finish` waits while blue lists the killed A node and the
unregistered instance, and runs exactly once after blue stops listing them
(blue is finally deleted: a group AWS does not return lists nothing);
`kong-bootstrap fleet --json` names the blockers with their group; one
DescribeAutoScalingGroups call per tick describes both groups; more than 50
groups take more than one call, never more than 50 names each, and a row's
group name AWS could not have given is reported and never sent.  The Auto
Scaling emulator is as strict as AWS about the names (limit, paging).

Run: /usr/bin/python3 tests/integration/test_fleet_bluegreen.py
"""
import json
import signal
import subprocess
import time
import unittest

from fleet_common import A_VERSION, B_MIGRATION, B_VERSION, INTERVAL, FleetRolloutCase, instance_id
from election_common import pid_alive
from stack import wait_for

BLUE, GREEN = "kong-blue", "kong-green"
UNREGISTERED = "i-0ffffffffffff0002"


class FleetBlueGreen(FleetRolloutCase):
    FLEET = 4           # blue: 2 A; green: 2 B

    def stale_age(self, iid):
        r = self.st.db_query("SELECT extract(epoch FROM now() - last_heartbeat) FROM kong_bootstrap.nodes "
                             "WHERE instance_id = %s", (iid,))
        return float(r[0][0]) if r else None

    def test_blue_green(self):
        st = self.st
        t0 = time.time()

        # blue: two nodes of Kong A
        a_nodes = []
        for i in range(2):
            self.set_group(instance_id(i), "InService", group=BLUE)
        for i in range(2):
            a_nodes.append(self.boot(i, "A", group=BLUE))
        self.wait_ready(a_nodes)
        self.assertEqual(len(self.invocations("bootstrap")), 1, self.explain())
        # an instance of an older image: blue lists it, it never registers
        self.set_group(UNREGISTERED, "InService", group=BLUE)

        # green: two nodes of Kong B, in a group of their own
        b_nodes = []
        for k in range(2):
            b = self.boot(2 + k, "B", group=GREEN)
            self.set_group(b.iid, "Pending:Wait", group=GREEN)
            self.wait_ready([b])
            self.set_group(b.iid, "InService", group=GREEN)
            b_nodes.append(b)
        self.assertEqual(len(self.invocations("up")), 1, self.explain())
        self.assertEqual(self.schema_list_as("B"), 4, "B's up leaves a pending migration")
        cfg = b_nodes[0].node["config"]

        # one A node leaves cleanly; the other is killed without deregistering
        gone, killed = a_nodes
        self.set_group(gone.iid, "Terminating:Wait", group=BLUE)
        self.terminate_via_imds(0)
        self.assertEqual(gone.wait(60), 0, self.explain())
        self.set_group(gone.iid, None, group=BLUE)
        # a row naming a group AWS could not have made (a registry written
        # by hand, or by a bug): reported, never sent, blocks nothing
        bad = "kong\x01bad"
        st.db_query("INSERT INTO kong_bootstrap.nodes (instance_id, autoscaling_group, kong_version, "
                    "agent_version, state) VALUES ('i-0e00000000000bad', %s, %s, 'test', 'ready')",
                    (bad, B_VERSION))
        killed.killpg(signal.SIGKILL)
        killed.wait(10)
        st.reset_unit(killed.node["unit"])
        wait_for(lambda: (self.stale_age(killed.iid) or 0) > 3 * INTERVAL + 1, 30,
                 "the killed node's row stale", error=self.failureException)
        quiet_from = time.time()
        time.sleep(3 * INTERVAL)
        quiet_to = time.time()
        self.assertEqual(self.invocations("finish"), [],
                         "finish ran while kong-blue still lists an A node and an unregistered instance\n"
                         + self.explain())

        # fleet names both, with the group that holds them
        blockers, doc = self.blockers(cfg)
        self.assertEqual(set(blockers), {killed.iid, UNREGISTERED}, json.dumps(doc, indent=1))
        k = blockers[killed.iid]
        self.assertEqual((k["kind"], k["autoscaling_group"], k["kong_version"]), ("stale-listed", BLUE, A_VERSION))
        self.assertIn("the group %s still lists it InService" % BLUE, k["reason"])
        u = blockers[UNREGISTERED]
        self.assertEqual((u["kind"], u["autoscaling_group"], u["kong_version"]), ("unregistered", BLUE, None))
        self.assertIn("the group %s lists it InService but it never registered" % BLUE, u["reason"])
        self.assertEqual(doc["finish"]["state"], "waiting")
        self.assertEqual(doc["finish"]["target_kong_version"], B_VERSION)
        self.assertEqual(doc["group"]["name"], GREEN)                     # this node's group, as before
        self.assertEqual(sorted(i["instance_id"] for i in doc["group"]["instances"]), sorted(b.iid for b in b_nodes))
        groups = {g["name"]: g for g in doc["groups"]}
        self.assertEqual([g["name"] for g in doc["groups"]], [GREEN, BLUE])
        self.assertTrue(groups[GREEN]["this_node"])
        self.assertFalse(groups[BLUE]["this_node"])
        self.assertTrue(groups[BLUE]["exists"])
        self.assertEqual({i["instance_id"]: i["lifecycle_state"] for i in groups[BLUE]["instances"]},
                         {killed.iid: "InService", UNREGISTERED: "InService"})
        self.assertEqual(doc["invalid_groups"], [bad])
        for b in b_nodes:
            said = [l for l in b.output()[1].splitlines() if "not a valid Auto Scaling group name" in l]
            self.assertEqual(len(said), 1, "%s: %r" % (b.name, said))     # once, not every tick
            self.assertNotIn("\x01", said[0])
        text = self.fleet(cfg, text=True)
        self.assertIn("group %s (this node's): " % GREEN, text)
        self.assertIn("group %s (named by the registry): %s (InService) %s (InService)"
                      % (BLUE, killed.iid, UNREGISTERED), text)
        self.assertRegex(text, r"(?m)^  %s: .*the group %s still lists it InService" % (killed.iid, BLUE))

        # the cost: one call per tick per node describes both groups
        calls = self.describe_calls()
        self.assertTrue(calls)
        self.assertEqual({tuple(c["names"]) for c in calls}, {(GREEN, BLUE)}, calls)
        window = [c for c in calls if quiet_from <= c["time"] < quiet_to]
        per_node_tick = len(window) / (len(b_nodes) * (quiet_to - quiet_from) / INTERVAL)
        print("\n  DescribeAutoScalingGroups: %d calls for 2 groups from %d nodes in %.1f s (%.2f per node "
              "and interval)" % (len(window), len(b_nodes), quiet_to - quiet_from, per_node_tick))
        self.assertLessEqual(len(window), len(b_nodes) * ((quiet_to - quiet_from) / INTERVAL + 2), window)

        # blue stops listing the stranger: the killed node still blocks
        self.set_group(UNREGISTERED, None, group=BLUE)
        blockers, doc = self.blockers(cfg)
        self.assertEqual(set(blockers), {killed.iid}, json.dumps(doc, indent=1))
        time.sleep(3 * INTERVAL)
        self.assertEqual(self.invocations("finish"), [], self.explain())
        # the journal (stderr here) named the group
        self.assertTrue(any("'kong migrations finish' waits" in l and "the group %s" % BLUE in l
                            for b in b_nodes for l in b.output()[1].splitlines()))

        # blue is deleted (its last instance gone): finish, once
        unlisted = time.time()
        self.delete_group(BLUE)
        self.assertFinishesOnce(unlisted, b_nodes)
        doc = self.fleet(cfg)
        self.assertEqual(doc["finish"]["state"], "nothing to finish", doc)
        self.assertEqual({g["name"]: g["exists"] for g in doc["groups"]}, {GREEN: True, BLUE: False})
        self.assertIn("group %s (named by the registry): not in this account and region" % BLUE,
                      self.fleet(cfg, text=True))

        # many groups: 50 names per call at most; a bad name is never sent
        st.db_query("INSERT INTO kong_bootstrap.nodes (instance_id, autoscaling_group, kong_version, "
                    "agent_version, state) SELECT 'i-0e' || lpad(g::text, 15, '0'), 'kong-extra-' || "
                    "lpad(g::text, 2, '0'), %s, 'test', 'ready' FROM generate_series(1, 60) g", (B_VERSION,))
        before = len(self.describe_calls())
        doc = self.fleet(cfg)
        calls = self.describe_calls()[before:]
        extras = ["kong-extra-%02d" % g for g in range(1, 61)]
        self.assertEqual([g["name"] for g in doc["groups"]], [GREEN] + sorted([BLUE] + extras))
        self.assertEqual(doc["invalid_groups"], [bad])
        self.assertEqual([len(c["names"]) for c in calls], [50, 12], calls)
        self.assertEqual([c["status"] for c in calls], [200, 200])
        self.assertEqual(sum((c["names"] for c in calls), []), [GREEN] + sorted([BLUE] + extras))
        self.assertEqual([n for c in self.describe_calls() for n in c["names"] if "bad" in n], [])
        self.assertIn("not a valid Auto Scaling group name", self.fleet(cfg, text=True))

        for b in b_nodes:
            self.assertIsNone(b.poll(), "%s exited\n%s" % (b.name, self.explain()))
        self.assertNoPasswordLeak(a_nodes + b_nodes)
        print("  blue/green upgrade: %.1f s" % (time.time() - t0))

    def test_termination_notice_stops_a_running_finish(self):
        """A node told to terminate while it runs `kong migrations finish`
        from its fleet tick does not make the drain wait for it: the finish
        is stopped with its process group, the node drains and exits, and
        the other node of the new Kong finishes (Kong's migrations are
        re-entrant; the killed CLI's own lock row expires after its TTL,
        5 s here)."""
        st = self.st
        ttl = {"KONG_STANDIN_LOCK_TTL": "5"}
        self.set_group(instance_id(0), "InService")
        a = self.boot(0, "A")
        self.wait_ready([a])
        b_nodes = []
        for k in (1, 2):
            b = self.boot(k, "B", kong_env=ttl)
            self.wait_ready([b])
            self.set_group(b.iid, "InService")
            b_nodes.append(b)
        self.assertEqual(len(self.invocations("up")), 1, self.explain())
        st.set_kong(delay=30)                       # finish: 30 s
        self.set_group(a.iid, "Terminating:Wait")
        self.terminate_via_imds(0)
        self.assertEqual(a.wait(60), 0, self.explain())
        self.set_group(a.iid, None)

        begin = self.wait_event(lambda e: e["event"] == "begin" and e.get("sub") == "finish", 30,
                                "a node starts 'kong migrations finish'")
        finisher = next(b for b in b_nodes if b.node["tag"] == begin["tag"])
        other = next(b for b in b_nodes if b is not finisher)
        told = time.time()
        self.set_group(finisher.iid, "Terminating:Wait")
        self.terminate_via_imds(finisher.node["index"])
        self.assertEqual(finisher.wait(20), 0, self.explain())
        took = time.time() - told
        print("\n  notice to exit during a 30 s finish: %.1f s" % took)
        self.assertLess(took, 20)
        err = finisher.output()[1]
        self.assertIn("'kong migrations finish' stopped, with every process it started: this node is being "
                      "terminated", err)
        self.assertIn("the fleet check abandoned", err)
        self.assertNotIn("trying again", err)            # a notice, not a failure
        self.assertTrue(any(e["event"] == "terminated" and e.get("sub") == "finish" and e["tag"] == begin["tag"]
                            for e in st.kong_events()), self.explain())
        self.assertFalse(pid_alive(begin["pid"]), "the stopped finish still runs")
        self.assertNotIn(finisher.iid, self.rows())
        self.set_group(finisher.iid, None)

        # the other node finishes once the stopped CLI's lock row expires
        # (until then Kong's finish says another node runs migrations and
        # exits 0, and the agent's `list` afterwards sees them still pending)
        st.set_kong(delay=0)
        migrated = lambda: [r for r in self.invocations("finish") if r.get("did") == "migrated"]  # noqa: E731
        wait_for(migrated, 60, "the other node's finish", detail=lambda: self.explain(), error=self.failureException)
        done = migrated()
        self.assertEqual([r["tag"] for r in done], [other.node["tag"]], self.explain())
        executed, pending = self.schema_meta()
        self.assertIn(B_MIGRATION, executed)
        self.assertEqual(pending, [])
        # recorded once its `list` confirms
        rec = wait_for(lambda: st.db_query("SELECT instance_id FROM kong_bootstrap.finishes"), 30,
                       "the finish recorded", detail=lambda: self.explain(), error=self.failureException)
        self.assertEqual(rec, [(other.iid,)])
        self.assertIsNone(other.poll(), self.explain())
        self.assertNoPasswordLeak([a] + b_nodes)

    def test_emulator_is_as_strict_as_aws(self):
        """tests/peers/autoscaling.py, through boto3 as a client: several
        names in one call, at most 50 (MaxRecords), pages with NextToken."""
        st = self.st
        st.set_autoscaling(groups={"g1": [{"InstanceId": "i-01"}], "g2": [], "g3": []})
        c = st.role_credentials
        script = r'''
import json, sys
import boto3, botocore.exceptions
a = boto3.client("autoscaling", region_name=sys.argv[2], endpoint_url=sys.argv[1],
                 aws_access_key_id=sys.argv[3], aws_secret_access_key=sys.argv[4], aws_session_token=sys.argv[5])
def call(**kw):
    try:
        r = a.describe_auto_scaling_groups(**kw)
        return {"names": [g["AutoScalingGroupName"] for g in r["AutoScalingGroups"]],
                "instances": [[i["InstanceId"] for i in g["Instances"]] for g in r["AutoScalingGroups"]],
                "next": r.get("NextToken")}
    except botocore.exceptions.ClientError as e:
        return {"error": e.response["Error"]["Code"], "message": e.response["Error"]["Message"]}
out = {}
out["two"] = call(AutoScalingGroupNames=["g3", "nope", "g1"])
out["fifty"] = call(AutoScalingGroupNames=["x%d" % i for i in range(50)])
out["fifty_one"] = call(AutoScalingGroupNames=["x%d" % i for i in range(51)])
out["long_name"] = call(AutoScalingGroupNames=["x" * 256])
out["over_max_records"] = call(AutoScalingGroupNames=["g1", "g2", "g3"], MaxRecords=2)
out["hundred"] = call(AutoScalingGroupNames=["x%d" % i for i in range(100)], MaxRecords=100)
out["page1"] = call(MaxRecords=2)
out["page2"] = call(MaxRecords=2, NextToken=out["page1"].get("next") or "")
out["bad_token"] = call(AutoScalingGroupNames=["g1", "g2"], NextToken=out["page1"].get("next") or "x")
out["max_records"] = call(AutoScalingGroupNames=["g1"], MaxRecords=101)
print(json.dumps(out))
'''
        r = subprocess.run([st.boto_python, "-c", script, st.autoscaling_url, st.REGION, c["AccessKeyId"],
                            c["SecretAccessKey"], c.get("Token") or ""], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["two"], {"names": ["g3", "g1"], "instances": [[], ["i-01"]], "next": None})
        self.assertEqual(out["fifty"]["names"], [])
        self.assertEqual(out["fifty_one"], {"error": "ValidationError",
                                            "message": "The number of group names that may be passed in is "
                                                       "limited to 50"})
        self.assertEqual(out["long_name"]["error"], "ValidationError")
        # MaxRecords raises the limit (AWS: "You can optionally increase this
        # limit using MaxRecords"), and lowers it
        self.assertEqual(out["hundred"]["names"], [])
        self.assertEqual(out["over_max_records"]["message"],
                         "The number of group names that may be passed in is limited to 2")
        # so named groups always fit one page: pages are for "all groups"
        self.assertEqual(out["page1"]["names"], ["g1", "g2"])
        self.assertTrue(out["page1"]["next"])
        self.assertEqual(out["page2"], {"names": ["g3"], "instances": [[]], "next": None})
        self.assertEqual(out["bad_token"]["error"], "InvalidNextToken")
        self.assertEqual(out["max_records"]["error"], "ValidationError")


if __name__ == "__main__":
    unittest.main(verbosity=2)
