#!/usr/bin/python3
"""Issue 15: a rolling upgrade with migrations_finish = after-rollout.

Six nodes of Kong A (the stand-in's KONG_STANDIN_VERSION=A, Kong 3.8.0) boot
on an empty database and bootstrap it; they are then replaced one by one by
nodes of Kong B (3.9.1, whose `up` leaves a migration pending that only
`finish` clears, and whose teardown breaks A's readiness).  Each node is an
agent process (`run`, staying as the daemon) with its own instance id (its
own IMDS emulator), unit, kong.conf and status port, all in one Auto Scaling
group that the emulator lists (tests/peers/autoscaling.py,
DescribeAutoScalingGroups, signatures checked).  A leaving A node is told
through its IMDS (target-lifecycle-state Terminated): it drains, stops its
Kong and removes its registry row, and the group stops listing it.

Asserted: `up` exactly once; `finish` exactly once, only after the last A
node was gone from the registry and from the group; an A node killed
without deregistering blocks until the group stops listing it; an instance
the group lists but that never registered blocks; `kong-bootstrap fleet
--json` names the blockers throughout; after `finish` a node of Kong A does
not start Kong (exit 19).  Separately: without CREATE on the database the
policy cannot be used and the boot stops before any migration (exit 19).

Run: /usr/bin/python3 tests/integration/test_fleet_rollout.py
"""
import json
import signal
import time
import unittest

from fleet_common import (A_VERSION, B_MIGRATION, B_VERSION, EXIT_FLEET, INTERVAL, FleetRolloutCase,
                          instance_id)
from stack import wait_for

UNREGISTERED = "i-0ffffffffffff0001"


class FleetRollout(FleetRolloutCase):
    FLEET = 13          # 6 A, 6 B, one A booted after finish

    # ------------------------------------------------------------- test --
    def test_rolling_upgrade(self):
        st = self.st
        t0 = time.time()

        # six nodes of Kong A, all listed InService
        a_nodes = []
        for i in range(6):
            self.set_group(instance_id(i), "InService")
        for i in range(6):
            a_nodes.append(self.boot(i, "A"))
        self.wait_ready(a_nodes)
        self.assertEqual(len(self.invocations("bootstrap")), 1, self.explain())
        cfg = a_nodes[0].node["config"]
        blockers, doc = self.blockers(cfg)
        self.assertEqual(blockers, {})
        self.assertEqual(doc["finish"]["state"], "nothing to finish", doc)
        self.assertEqual(sorted(n["instance_id"] for n in doc["nodes"]), sorted(a.iid for a in a_nodes))
        self.assertEqual({n["kong_version"] for n in doc["nodes"]}, {A_VERSION})

        # B's `up` and `finish` take 3 s: longer than the lock watch's 2 s
        # liveness interval, so the finisher's connection has a query in
        # flight when finish ends (and must still record it)
        st.set_kong(delay=3)
        b_nodes = []
        for k in range(6):
            # a node of Kong B joins (Pending:Wait while it boots)
            b = self.boot(6 + k, "B")
            self.set_group(b.iid, "Pending:Wait")
            self.wait_ready([b])
            self.set_group(b.iid, "InService")
            b_nodes.append(b)
            if k == 0:
                ups = self.invocations("up")
                self.assertEqual(len(ups), 1, self.explain())
                self.assertEqual(ups[0]["tag"], b.node["tag"])
                self.assertEqual(self.schema_list_as("B"), 4, "B's up leaves a pending migration")
                self.assertEqual(self.schema_list_as("A"), 0, "A does not see B's pending migration")
                # A nodes keep working after `up`
                for a in a_nodes:
                    self.assertEqual(self.node_ready(a.node), 200, a.name)
                # an instance the group lists that never registered
                self.set_group(UNREGISTERED, "InService")

            # the blockers: every A node still registered, and the stranger
            blockers, doc = self.blockers(cfg if k < 5 else b.node["config"])
            leaving = a_nodes[k]
            expected = {a.iid for a in a_nodes[k:]} | {UNREGISTERED}
            if k == 5:
                expected |= {a_nodes[4].iid}      # killed, stale, still listed
            self.assertEqual(set(blockers), expected, json.dumps(doc, indent=1))
            self.assertIsNone(blockers[UNREGISTERED]["kong_version"])
            self.assertIn("never registered", blockers[UNREGISTERED]["reason"])
            self.assertEqual(doc["finish"]["state"], "waiting")
            self.assertEqual(doc["finish"]["target_kong_version"], B_VERSION)

            # the A node leaves
            if k == 4:
                # killed without deregistering: its row stays, goes stale
                leaving.killpg(signal.SIGKILL)
                leaving.wait(10)
                st.reset_unit(leaving.node["unit"])
                wait_for(lambda: "stale" in self.blockers(cfg)[0].get(leaving.iid, {}).get("reason", ""),
                         30, "the killed node's row stale but blocking", error=self.failureException)
            else:
                self.set_group(leaving.iid, "Terminating:Wait")
                self.terminate_via_imds(k)
                self.assertEqual(leaving.wait(60), 0, self.explain())
                self.assertNotIn(leaving.iid, self.rows())
                self.set_group(leaving.iid, None)
            self.assertEqual(self.invocations("finish"), [], "finish ran with A nodes left\n" + self.explain())

        # all A nodes but the killed one are gone; the killed one and the
        # stranger still block
        time.sleep(3 * INTERVAL)
        self.assertEqual(self.invocations("finish"), [], self.explain())
        self.set_group(UNREGISTERED, None)
        blockers, doc = self.blockers(cfg)
        self.assertEqual(set(blockers), {a_nodes[4].iid}, json.dumps(doc, indent=1))
        self.assertIn("stale", blockers[a_nodes[4].iid]["reason"])
        self.assertIn("still lists it", blockers[a_nodes[4].iid]["reason"])
        # the text form says the same
        out = self.fleet(cfg, text=True)
        self.assertIn("pending migrations: core: %s" % B_MIGRATION, out)
        self.assertIn("finish: waiting (finish waiting for 1 node of Kong %s, target Kong %s)"
                      % (A_VERSION, B_VERSION), out)
        self.assertRegex(out, r"(?m)^  %s: Kong %s is older than %s; its heartbeat is stale"
                         % (a_nodes[4].iid, A_VERSION, B_VERSION))
        self.assertRegex(out, r"(?m)^%s +us-east-1[abc] +%s +ready .*\(stale\)$" % (a_nodes[4].iid, A_VERSION))
        time.sleep(3 * INTERVAL)
        self.assertEqual(self.invocations("finish"), [], self.explain())
        # STATUS= said what waits
        statuses = [l for m in st.notify_messages() for l in m if l.startswith("STATUS=")]
        self.assertTrue(any("finish waiting for 1 node of Kong %s" % A_VERSION in s for s in statuses),
                        statuses[-20:])
        # the journal (stderr here) named the blockers, not once per tick
        for b in b_nodes:
            waits = [l for l in b.output()[1].splitlines() if "'kong migrations finish' waits" in l]
            self.assertTrue(waits, b.name)
            # one per change of the blockers (at most ~10 here), not one per tick
            self.assertLessEqual(len(waits), 12, "%s:\n%s" % (b.name, "\n".join(waits)))
            # and each says something new: consecutive records differ in
            # who blocks or why (stale or not)
            sets = []
            for w in waits:
                items = w.split(" waits for ", 1)[1].split(": ", 1)[1].split("; ")
                sets.append(sorted((x.split(":", 1)[0], "stale" in x) for x in items))
            for prev, cur in zip(sets, sets[1:]):
                self.assertNotEqual(prev, cur, "%s logged the same blockers twice:\n%s" % (b.name, "\n".join(waits)))

        # the group stops listing the killed node: finish, once
        unlisted = time.time()
        self.set_group(a_nodes[4].iid, None)
        self.assertFinishesOnce(unlisted, b_nodes)
        self.assertEqual(len(self.invocations("up")), 1)
        self.assertEqual(self.schema_list_as("B"), 0)
        rec = st.db_query("SELECT instance_id, kong_version, migrations FROM kong_bootstrap.finishes")
        self.assertEqual(len(rec), 1, rec)
        self.assertEqual(rec[0][1], B_VERSION)
        self.assertIn(B_MIGRATION, rec[0][2])
        doc = self.fleet(b_nodes[0].node["config"])
        self.assertEqual(doc["finish"]["state"], "nothing to finish", doc)
        self.assertEqual(doc["finish"]["last"]["kong_version"], B_VERSION)
        for b in b_nodes:
            self.assertIsNone(b.poll(), "%s exited\n%s" % (b.name, self.explain()))
            self.assertEqual(self.node_ready(b.node), 200, b.name)

        # the other direction: Kong A would start on B's finished schema
        # (its list says up to date) and fail at run time; the agent refuses
        self.assertEqual(self.schema_list_as("A"), 0)
        late = self.boot(12, "A", args=("run", "--oneshot"))
        self.assertEqual(late.wait(60), EXIT_FLEET, self.explain())
        err = late.output()[1]
        self.assertIn("older than the schema", err)
        self.assertEqual(self.start_calls(late.node["unit"]), [])
        self.assertEqual([r for r in st.kong_log_entries() if r.get("tag") == late.node["tag"]
                          and r["argv"][:1] != ["version"]], [], "the old node ran kong beyond `version`")

        self.assertNoPasswordLeak(a_nodes + b_nodes + [late])
        print("\n  rolling upgrade of 6 nodes: %.1f s" % (time.time() - t0))

    def test_no_create_on_database(self):
        """Without CREATE on the database the registry cannot be made: the
        boot says the policy cannot be used, before any migration."""
        st = self.st
        st.db_query("REVOKE CREATE ON DATABASE kong FROM kong")
        a = self.boot(0, "A", args=("run", "--oneshot"))
        self.assertEqual(a.wait(60), EXIT_FLEET, self.explain())
        err = a.output()[1]
        self.assertIn("GRANT CREATE ON DATABASE", err)
        self.assertIn("migrations_finish = after-rollout cannot be used", err)
        self.assertEqual([r["argv"][:2] for r in st.kong_log_entries()], [["version"]])
        self.assertEqual(self.start_calls(a.node["unit"]), [])
        # with the grant, the same node boots
        st.db_query("GRANT CREATE ON DATABASE kong TO kong")
        a = self.boot(0, "A", args=("run", "--oneshot"))
        self.assertEqual(a.wait(60), 0, self.explain())
        self.assertEqual(self.rows()[a.iid]["state"], "ready")


if __name__ == "__main__":
    unittest.main(verbosity=2)
