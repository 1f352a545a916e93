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
import os
import signal
import subprocess
import time
import unittest

from common import Stack, password_fragments
from election_common import FleetTestCase
from stack import DEBIAN_PY, PEERS, kill_group, wait_for

GROUP = "kong-asg"
INTERVAL = 1          # fleet_heartbeat_interval (s): stale after 3
EXIT_FLEET = 19
A_VERSION, B_VERSION = "3.8.0", "3.9.1"
B_MIGRATION = "003_380_to_390"
UNREGISTERED = "i-0ffffffffffff0001"


def instance_id(i):
    return "i-0%015x" % (0xa000 + i)


class FleetRollout(FleetTestCase):
    FLEET = 13          # 6 A, 6 B, one A booted after finish

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.st.start_autoscaling()

    def setUp(self):
        super().setUp()
        self.imds = {}          # node index -> (proc, config path, config)
        self.group = {}         # instance id -> lifecycle state (insertion order)
        self.st.clear_autoscaling()

    def tearDown(self):
        super().tearDown()
        for proc, _, _ in self.imds.values():
            kill_group(proc)

    # ------------------------------------------------------------ peers --
    def node_imds(self, i):
        """IMDS of its own for node i: its instance id and zone."""
        st = self.st
        d = os.path.join(st.tmp, "fleet", str(i))
        os.makedirs(d, exist_ok=True)
        cfg = st.imds_default_config()
        cfg.update(instance_id=instance_id(i), availability_zone="%s%s" % (st.REGION, "abc"[i % 3]),
                   request_log=os.path.join(d, "imds-requests.jsonl"))
        path = os.path.join(d, "imds.json")
        self.write_json(path, cfg)
        port_file = os.path.join(d, "imds.port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        log = open(os.path.join(d, "imds.log"), "ab")
        proc = subprocess.Popen([DEBIAN_PY, os.path.join(PEERS, "imds.py"), "--config", path, "--port-file",
                                 port_file], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_for(lambda: os.path.exists(port_file), 20, "imds of node %d" % i, proc)
        with open(port_file) as f:
            url = "http://127.0.0.1:%d" % int(f.read())
        self.imds[i] = (proc, path, cfg)
        return url

    def terminate_via_imds(self, i):
        _, path, cfg = self.imds[i]
        cfg["lifecycle_state"] = "Terminated"
        self.write_json(path, cfg)

    @staticmethod
    def write_json(path, obj):
        with open(path + ".tmp", "w") as f:
            json.dump(obj, f)
        os.rename(path + ".tmp", path)

    def set_group(self, iid, state):
        """The emulator's group listing: state None removes the instance."""
        if state is None:
            self.group.pop(iid, None)
        else:
            self.group[iid] = state
        self.st.set_autoscaling(groups={GROUP: [{"InstanceId": k, "LifecycleState": v}
                                                for k, v in self.group.items()]})

    # ------------------------------------------------------------ nodes --
    def boot(self, i, version, args=("run",), **cfg):
        url = self.node_imds(i)
        conf = dict(imds_endpoint=url, migrations_finish="after-rollout",
                    fleet_heartbeat_interval=INTERVAL, autoscaling_group=GROUP,
                    autoscaling_endpoint=self.st.autoscaling_url, drain_timeout=0,
                    rotation_interval=3600, pg_wait_timeout=30)
        conf.update(cfg)
        a = self.start_nodes([i], kong_env={"KONG_STANDIN_VERSION": version}, args=args, **conf)[0]
        a.iid = instance_id(i)
        return a

    def rows(self):
        try:
            return {r[0]: {"state": r[1], "version": r[2]} for r in self.st.db_query(
                "SELECT instance_id, state, kong_version FROM kong_bootstrap.nodes")}
        except Exception:   # noqa: not created yet
            return {}

    def wait_ready(self, agents, timeout=60):
        ids = {a.iid for a in agents}
        wait_for(lambda: all(self.rows().get(i, {}).get("state") == "ready" for i in ids), timeout,
                 "registry rows ready for %s" % sorted(ids),
                 detail=lambda: "registry rows: %r\n%s" % (self.rows(), self.explain()),
                 error=self.failureException)

    def invocations(self, sub):
        return [r for r in self.st.kong_log_entries() if r["argv"][:2] == ["migrations", sub]]

    def fleet(self, config):
        """`kong-bootstrap fleet --json` with a node's config (it reads the
        same group and database)."""
        code, out, err = self.st.run_agent(["fleet", "--json"], config=config, timeout=60)
        self.outputs.append(("fleet", out, err))
        self.assertEqual(code, 0, err)
        return json.loads(out)

    def blockers(self, config):
        doc = self.fleet(config)
        return {b["instance_id"]: b for b in doc["finish"]["blockers"]}, doc

    def schema_list_as(self, version):
        env = self.kong_env()
        env["KONG_STANDIN_VERSION"] = version
        return self.st.kong("migrations", "list", env=env)[0]

    # ------------------------------------------------------------- test --
    def test_rolling_upgrade(self):
        st = self.st
        self.outputs = []
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
        code, out, err = st.run_agent(["fleet"], config=cfg, timeout=60)
        self.outputs.append(("fleet text", out, err))
        self.assertEqual(code, 0, err)
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
        wait_for(lambda: self.invocations("finish"), 30, "kong migrations finish", detail=lambda: self.explain(),
                 error=self.failureException)
        time.sleep(4 * INTERVAL)
        finishes = self.invocations("finish")
        self.assertEqual(len(finishes), 1, self.explain())
        self.assertEqual(finishes[0]["exit"], 0)
        self.assertEqual(finishes[0].get("did"), "migrated")
        self.assertGreaterEqual(finishes[0]["start"], unlisted)
        self.assertIn(finishes[0]["tag"], {b.node["tag"] for b in b_nodes})
        self.assertEqual(len(self.invocations("up")), 1)
        self.assertEqual(self.schema_list_as("B"), 0)
        executed, pending = self.schema_meta()
        self.assertIn(B_MIGRATION, executed)
        self.assertEqual(pending, [])
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
        self.outputs = []
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

    # ------------------------------------------------------------ leaks --
    def assertNoPasswordLeak(self, agents):
        st = self.st
        frags = password_fragments()
        hits = []
        for root, dirs, files in os.walk(st.tmp):      # <tmp>/run (tmpfs) is a symlink: not followed
            for fn in files:
                p = os.path.join(root, fn)
                try:
                    with open(p, "rb") as fh:
                        data = fh.read()
                except OSError:
                    continue
                hits += ["%s contains %r" % (p, f) for f in frags if f.encode() in data]
        for a in agents:
            out, err = a.output()
            hits += ["agent %s output contains %r" % (a.name, f) for f in frags if f in out or f in err]
        for what, out, err in self.outputs:
            hits += ["%s output contains %r" % (what, f) for f in frags if f in out or f in err]
        for r in st.kong_log_entries():
            hits += ["kong argv %r" % r["argv"] for f in frags for x in r["argv"] if f in x]
        self.assertEqual(hits, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
