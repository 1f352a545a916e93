#!/usr/bin/python3
"""Issue 13: the migration lock when the network goes quiet.

A relay in front of PostgreSQL (tests/peers/mute_relay.py) cuts a node's
connections the way a failing network or a Multi-AZ failover does: the
server side is closed (PostgreSQL ends the session and releases the
advisory lock) while the client side stays open and silent.  The node must
notice on its own (liveness queries with a deadline), stop its `kong`
and everything under it, and fail (leader) or reconnect (waiter).

Also, from inside the agent's own code (tests/integration/lock_conn_probe.c):
the lock connection's TCP keepalive and user-timeout settings, and two
kong runs in a row on one lock connection when a liveness query is in
flight at the first one's end.

Each node's kong wrapper here also leaves a grandchild behind (a `sleep`
in the background, like a launcher's children), so "no process it
started survives" covers more than the direct child.

Run: /usr/bin/python3 tests/integration/test_lock_liveness.py
"""
import os
import shlex
import subprocess
import time
import unittest

from election_common import EXIT_MIGRATIONS, FleetTestCase, pid_alive
from stack import REPO, Stack

BASE = ["000_base", "001_14_to_15"]
EXTRA = ["002_a", "003_b"]
SHORT_TTL = {"KONG_STANDIN_LOCK_TTL": "5"}
# The bound asserted on noticing a silent cut (the design's worst case is
# DB_LIVENESS_INTERVAL + DB_LIVENESS_TIMEOUT = 8 s, plus stopping Kong).
DETECT_BOUND = 30


def wait_for_text(agent, text, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in agent.output()[1]:
            return time.time()
        if agent.poll() is not None and text not in agent.output()[1]:
            return None
        time.sleep(0.05)
    return None


class LockLiveness(FleetTestCase):
    FLEET = 2

    def setUp(self):
        super().setUp()
        self.relay = self.st.start_mute_relay()

    def tearDown(self):
        super().tearDown()
        self.relay.stop()
        for pid in self.grandchildren():
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass

    # ------------------------------------------------------------------
    def grandchildren_file(self, i):
        return os.path.join(self.st.tmp, "grandchildren-%s-%d" % (self.id().split(".")[-1], i))

    def grandchildren(self, i=None):
        pids = []
        for k in ([i] if i is not None else range(self.FLEET)):
            try:
                with open(self.grandchildren_file(k)) as f:
                    pids += [int(x) for x in f.read().split()]
            except FileNotFoundError:
                pass
        return pids

    def node(self, i, kong_env=None, **cfg):
        """Node i's config; its kong wrapper first leaves a background
        grandchild (pid recorded), then runs the stand-in."""
        n = self.st.write_fleet_node(i, kong_env=kong_env, **cfg)
        with open(n["kong_bin"]) as f:
            lines = f.read().splitlines()
        spawn = ("sleep 300 </dev/null >/dev/null 2>&1 & echo $! >> %s"
                 % shlex.quote(self.grandchildren_file(i)))
        lines.insert(len(lines) - 1, spawn)      # before the final exec
        with open(n["kong_bin"] + ".tmp", "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(n["kong_bin"] + ".tmp", 0o755)
        os.rename(n["kong_bin"] + ".tmp", n["kong_bin"])
        return n

    def start(self, n):
        a = self.st.start_agent(("run", "--oneshot"), config=n["config"], name=n["tag"])
        a.node = n
        self.agents.append(a)
        return a

    def silent_cut_of_leader(self):
        """One run: node 0 leads through the relay, node 1 waits directly;
        the relay goes mute mid-bootstrap.  Returns the seconds from the
        cut to the leader's exit."""
        st = self.st
        st.set_kong(delay=6, extra=",".join(EXTRA))      # 4 migrations, 1.5 s each
        leader = self.start(self.node(0, kong_env=SHORT_TTL, pg_port=self.relay.port))
        self.wait_event(lambda e: e["event"] == "begin" and e.get("sub") == "bootstrap"
                        and e.get("tag") == "node-0", 30, "node-0's bootstrap")
        waiter = self.start(self.node(1, kong_env=SHORT_TTL))
        self.wait_event(lambda e: e["event"] == "migrated" and e.get("tag") == "node-0", 30,
                        "node-0's first migration")
        cut = self.relay.mute()
        t_cut = time.time()
        self.assertGreaterEqual(cut, 2, "the leader's lock connection and Kong's went through the relay")
        try:
            leader.wait(DETECT_BOUND + 20)
        except Exception:
            self.fail("the leader never noticed the silent cut\n" + self.explain())
        detected = time.time() - t_cut
        out, err = leader.output()
        self.assertEqual(leader.proc.returncode, EXIT_MIGRATIONS, self.explain())
        self.assertIn("lost the migration lock", err)
        self.assertIn("mute", err)
        self.assertLess(detected, DETECT_BOUND, self.explain())

        # no process the leader started survives it
        kids = [e["pid"] for e in st.kong_events() if e.get("tag") == "node-0" and e.get("pid")]
        self.assertTrue(kids)
        time.sleep(0.5)
        self.assertTrue(self.grandchildren(0))
        for pid in kids + self.grandchildren(0):
            self.assertFalse(pid_alive(pid), "process %d started by the leader survived" % pid)

        self.assertEqual(self.wait_all([waiter], 90), {waiter.name: 0}, self.explain())
        events = st.kong_events()
        boot_begins = [e for e in events if e["event"] == "begin" and e.get("sub") == "bootstrap"]
        self.assertEqual([e.get("tag") for e in boot_begins], ["node-0"],
                         "only the cut leader ran bootstrap\n" + self.explain())
        ups = [r for r in st.kong_log_entries()
               if r["argv"][:2] == ["migrations", "up"] and r.get("did") == "migrated"]
        self.assertEqual([r.get("tag") for r in ups], ["node-1"], self.explain())
        self.assertSchemaConsistent(BASE + EXTRA)
        self.assertEqual(self.node_ready(waiter.node), 200)
        return detected

    # ------------------------------------------------------------------
    def test_silent_cut_of_the_leader(self):
        """The leader's connections go mute mid-bootstrap: it fails (exit
        14) within the bound, nothing it started survives, the other node
        completes the migrations."""
        detected = self.silent_cut_of_leader()
        print("\n  silent cut noticed (leader exited) %.1f s after the cut" % detected)

    def probe(self, *args):
        """tests/integration/lock_conn_probe.c against the stack's Postgres:
        (exit, stdout, stderr)."""
        exe = (os.environ.get("KONG_LOCK_CONN_PROBE") or
               os.path.join(REPO, "build", "tests", "lock-conn-probe"))
        env = dict(os.environ, LCP_HOST="127.0.0.1", LCP_PORT=str(self.st.pg_port), LCP_DBNAME="kong",
                   LCP_USER="kong", LCP_PASSWORD=Stack.PASSWORD)
        r = subprocess.run([exe] + list(args), env=env, capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout, r.stderr

    def test_liveness_query_in_flight_when_kong_ends(self):
        """Two watched runs on one lock connection, as the leader runs
        `list` then `bootstrap` (the agent's own kong_run()). The first
        prints at 0.5 s and ends at 2.2 s without another line: the
        watch's round that meets its end is the first past the 2 s
        liveness interval, so a `SELECT 1` goes out just then. Its answer
        must be collected before the next run's watch sends its own (libpq
        refuses a query while one is in progress): left behind, the 3 s
        second run took it for a lost lock."""
        progs = []
        for name, body in (("first", "sleep 0.5; echo chatter; exec sleep 1.7"), ("second", "exec sleep 3")):
            path = os.path.join(self.st.tmp, "kong-watch-%s" % name)
            with open(path, "w") as f:
                f.write("#!/bin/sh\n%s\n" % body)
            os.chmod(path, 0o755)
            progs.append(path)
        code, out, err = self.probe("runs", *progs)
        self.assertEqual(code, 0, out + err)
        self.assertEqual(out, "first run: exit status 0\nsecond run: exit status 0\n", err)

    def test_lock_connection_tcp_settings(self):
        """What the kernel does on its own for a peer that stops
        acknowledging (the liveness queries cover one that acknowledges and
        never answers): keepalives after 5 s idle, 3 probes 2 s apart, and
        unacknowledged data given up after 10 s (agent/db.c)."""
        code, out, err = self.probe("sockopts")
        self.assertEqual(code, 0, out + err)
        got = dict(line.split() for line in out.splitlines())
        self.assertEqual(got, {"SO_KEEPALIVE": "1", "TCP_KEEPIDLE": "5", "TCP_KEEPINTVL": "2", "TCP_KEEPCNT": "3",
                               "TCP_USER_TIMEOUT": "10000"}, out)

    def test_waiter_lock_connection_goes_mute(self):
        """A waiter's lock connection goes mute while the leader migrates:
        it notices, reconnects (once the network is back) and ends ready."""
        st = self.st
        st.set_kong(delay=20)
        leader = self.start(self.node(0))
        self.wait_event(lambda e: e["event"] == "begin" and e.get("sub") == "bootstrap"
                        and e.get("tag") == "node-0", 30, "node-0's bootstrap")
        waiter = self.start(self.node(1, pg_port=self.relay.port))
        self.assertIsNotNone(wait_for_text(waiter, "another node is changing the schema", 20),
                             self.explain())
        self.assertGreaterEqual(self.relay.mute(), 1)
        t_cut = time.time()
        t_seen = wait_for_text(waiter, "reconnecting to compete for the migration lock", 30)
        self.assertIsNotNone(t_seen, "the waiter never noticed\n" + self.explain())
        self.assertLess(t_seen - t_cut, DETECT_BOUND)
        relayed = self.relay.relayed()
        self.relay.heal()
        codes = self.wait_all([leader, waiter], 90)
        self.assertEqual(codes, {leader.name: 0, waiter.name: 0}, self.explain())
        self.assertGreater(self.relay.relayed(), relayed, "the waiter reconnected through the relay")
        self.assertIn("mute", waiter.output()[1])
        self.assertSchemaConsistent(BASE)
        self.assertEqual(self.node_ready(waiter.node), 200)
        print("\n  waiter noticed its mute lock connection %.1f s after the cut" % (t_seen - t_cut))

    def test_postgres_restarted_mid_migration(self):
        """PostgreSQL restarted (fast shutdown) in the middle of a slow
        bootstrap: the fleet converges on one consistent schema."""
        st = self.st
        st.set_kong(delay=6, extra=",".join(EXTRA))
        agents = [self.start(self.node(i, kong_env=SHORT_TTL, pg_wait_timeout=60)) for i in range(2)]
        self.wait_event(lambda e: e["event"] == "migrated", 30, "a first migration")
        st.stop_postgres()
        time.sleep(1)
        st.start_postgres()
        # a leader cut off mid-migration fails (exit 14), like an instance
        # its group replaces: start a replacement node in its place
        deadline = time.time() + 120
        replaced = 0
        while time.time() < deadline and not all(a.poll() == 0 for a in agents):
            for k, a in enumerate(agents):
                if a.poll() not in (None, 0):
                    self.assertLess(replaced, 4, "nodes keep failing\n" + self.explain())
                    replaced += 1
                    agents[k] = self.start(self.node(a.node["index"], kong_env=SHORT_TTL, pg_wait_timeout=60))
            time.sleep(0.1)
        codes = self.wait_all(agents, max(1, deadline - time.time()))
        self.assertEqual(sorted(codes.values()), [0, 0], self.explain())
        self.assertSchemaConsistent(BASE + EXTRA)
        for a in agents:
            self.assertEqual(self.node_ready(a.node), 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
