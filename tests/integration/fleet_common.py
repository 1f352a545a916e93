#!/usr/bin/python3
"""Helpers shared by the fleet registry tests (test_fleet_rollout.py,
test_fleet_bluegreen.py; no tests here).

A FleetRolloutCase is a FleetTestCase (election_common.py) with the Auto
Scaling emulator started: each node is an agent process (`run`, staying
as the daemon) with its own IMDS emulator (its own instance id), unit,
kong.conf and status port, and the emulator lists the groups a test
builds with set_group() (DescribeAutoScalingGroups, signatures checked).
"""
import json
import os
import subprocess
import time

from common import password_fragments
from election_common import FleetTestCase
from stack import DEBIAN_PY, PEERS, kill_group, wait_for

GROUP = "kong-asg"
INTERVAL = 1          # fleet_heartbeat_interval (s): stale after 3
EXIT_FLEET = 19
A_VERSION, B_VERSION = "3.8.0", "3.9.1"
B_MIGRATION = "003_380_to_390"


def instance_id(i):
    return "i-0%015x" % (0xa000 + i)


class FleetRolloutCase(FleetTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.st.start_autoscaling()

    def setUp(self):
        super().setUp()
        self.imds = {}          # node index -> (proc, config path, config)
        self.groups = {}        # group -> {instance id -> lifecycle state} (insertion order)
        self.outputs = []       # (what, stdout, stderr) of every command the test ran
        self.st.clear_autoscaling()

    def tearDown(self):
        super().tearDown()
        for proc, _, _ in self.imds.values():
            kill_group(proc)

    # ------------------------------------------------------------ peers --
    def node_imds(self, i):
        """IMDS of its own for node i: its instance id and zone (a node
        booted again gets a fresh one; the previous one is stopped, not
        left running past the test)."""
        st = self.st
        if i in self.imds:
            kill_group(self.imds.pop(i)[0])
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

    def set_group(self, iid, state, group=GROUP):
        """The emulator's listing of `group`: state None removes the
        instance (the group stays, listing what is left)."""
        listing = self.groups.setdefault(group, {})
        if state is None:
            listing.pop(iid, None)
        else:
            listing[iid] = state
        self.publish_groups()

    def delete_group(self, group):
        """The group is gone: DescribeAutoScalingGroups leaves it out."""
        self.groups.pop(group, None)
        self.publish_groups()

    def publish_groups(self):
        self.st.set_autoscaling(groups={g: [{"InstanceId": k, "LifecycleState": v} for k, v in listing.items()]
                                        for g, listing in self.groups.items()})

    def describe_calls(self):
        """The group names of every DescribeAutoScalingGroups call, in order."""
        out = []
        for c in self.st.autoscaling_calls():
            if c.get("action") != "DescribeAutoScalingGroups":
                continue
            p = c.get("params") or {}
            names = sorted((int(k.rsplit(".", 1)[1]), v) for k, v in p.items()
                           if k.startswith("AutoScalingGroupNames.member."))
            out.append({"time": c.get("time"), "status": c.get("status"), "names": [v for _, v in names]})
        return out

    # ------------------------------------------------------------ nodes --
    def node_settings(self, i, group=GROUP, **cfg):
        """Node i's agent settings, its IMDS (re)started."""
        conf = dict(imds_endpoint=self.node_imds(i), migrations_finish="after-rollout",
                    fleet_heartbeat_interval=INTERVAL, autoscaling_group=group,
                    autoscaling_endpoint=self.st.autoscaling_url, drain_timeout=0,
                    rotation_interval=3600, pg_wait_timeout=30)
        conf.update(cfg)
        return conf

    def boot(self, i, version, args=("run",), group=GROUP, kong_env=None, wrap=(), **cfg):
        conf = self.node_settings(i, group, **cfg)
        env = {"KONG_STANDIN_VERSION": version}
        env.update(kong_env or {})
        a = self.start_nodes([i], kong_env=env, args=args, wrap=wrap, **conf)[0]
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

    def assertFinishesOnce(self, since, by):
        """`kong migrations finish` runs (within 30 s), once, not before
        'since', by one of the agents 'by', and migrates B's migration."""
        wait_for(lambda: self.invocations("finish"), 30, "kong migrations finish", detail=lambda: self.explain(),
                 error=self.failureException)
        time.sleep(4 * INTERVAL)
        finishes = self.invocations("finish")
        self.assertEqual(len(finishes), 1, self.explain())
        self.assertEqual(finishes[0]["exit"], 0)
        self.assertEqual(finishes[0].get("did"), "migrated")
        self.assertGreaterEqual(finishes[0]["start"], since)
        self.assertIn(finishes[0]["tag"], {a.node["tag"] for a in by})
        executed, pending = self.schema_meta()
        self.assertIn(B_MIGRATION, executed)
        self.assertEqual(pending, [])
        return finishes[0]

    def fleet(self, config, text=False):
        """`kong-bootstrap fleet --json` (parsed) or `fleet` (its text) with
        a node's config (it reads the same groups and database)."""
        code, out, err = self.st.run_agent(["fleet"] if text else ["fleet", "--json"], config=config, timeout=60)
        self.outputs.append(("fleet", out, err))
        self.assertEqual(code, 0, err)
        return out if text else json.loads(out)

    def blockers(self, config):
        doc = self.fleet(config)
        return {b["instance_id"]: b for b in doc["finish"]["blockers"]}, doc

    def schema_list_as(self, version):
        env = self.kong_env()
        env["KONG_STANDIN_VERSION"] = version
        return self.st.kong("migrations", "list", env=env)[0]

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
