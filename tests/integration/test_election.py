#!/usr/bin/python3
"""Issue 4: exactly one migrator across the Auto Scaling group.

Real PostgreSQL, the stand-in kong with a slow migration (KONG_STANDIN_DELAY
spread over the migrations it records one at a time), and a fleet of agents
that each have their own unit, kong.conf, env file, status port and tagged
kong wrapper (tests/stack.py Stack(fleet=N)).  Each agent runs
`run --oneshot`; exit 0 means it saw its *own* Kong answer 200 on
/status/ready.

Run: /usr/bin/python3 tests/integration/test_election.py
"""
import signal
import threading
import time
import unittest

from election_common import (EXIT_MIGRATIONS, LOCK_NAME, FleetTestCase, pid_alive,
                                  tcp_ports_of)
from stack import wait_for

BASE = ["000_base", "001_14_to_15"]
# Kong's `locks` row left by a killed leader blocks a later `up` until its
# TTL expires (Kong: ttl = --lock-timeout, default 60 s).  The tests shorten
# it so that they finish in seconds; the agent sees the same behaviour.
SHORT_TTL = {"KONG_STANDIN_LOCK_TTL": "5"}


class Election(FleetTestCase):
    FLEET = 30

    # ------------------------------------------------------------------
    def test_30_agents_one_bootstrap(self):
        """30 agents at once on an empty database: one `bootstrap`, nobody
        inspects the schema or starts Kong before it is done, all ready."""
        st = self.st
        st.set_kong(delay=3)
        t0 = time.time()
        agents = self.start_nodes(range(30))
        codes = self.wait_all(agents, 150)
        wall = time.time() - t0
        self.assertEqual(codes, {a.name: 0 for a in agents}, self.explain(agents))

        log = st.kong_log_entries()
        boots = [r for r in log if r["argv"][:2] == ["migrations", "bootstrap"]]
        self.assertEqual(len(boots), 1, "bootstrap invocations:\n" + self.explain(agents))
        self.assertEqual(boots[0].get("did"), "migrated", boots[0])
        self.assertEqual([r["argv"][1] for r in log if r["argv"][:2] in (["migrations", "up"],
                                                                         ["migrations", "finish"])], [])
        leader = self.agent_by_pid(boots[0]["ppid"], agents)
        self.assertIsNotNone(leader, "bootstrap not run by one of the agents: %s" % boots[0])
        boot_end = boots[0]["end"]

        # waiters block on the election, then inspect: no `list` by another
        # agent before the bootstrap ended (with Kong's lock alone, losers
        # would list during the bootstrap and start Kong early)
        begins = st.kong_events()
        early = [e for e in begins if e["event"] == "begin" and e.get("sub") == "list"
                 and e["ppid"] != leader.pid and e["time"] < boot_end]
        self.assertEqual(early, [], "waiters inspected the schema during the bootstrap\n" + self.explain(agents))
        every_list = {r["ppid"] for r in log if r["argv"][:2] == ["migrations", "list"]}
        self.assertEqual(every_list, {a.pid for a in agents}, "every agent runs `list` itself")

        # nobody asked systemd for Kong, and no Kong process started, before
        # the bootstrap finished; each node started its own Kong exactly once
        starts = [e for e in begins if e["event"] == "begin" and e.get("sub") == "start"]
        for a in agents:
            calls = self.start_calls(a.node["unit"])
            self.assertTrue(calls, "%s never started %s" % (a.name, a.node["unit"]))
            self.assertTrue(all(c["time"] >= boot_end for c in calls),
                            "%s: StartUnit at %s before bootstrap end %s" % (a.name, [c["time"] for c in calls],
                                                                               boot_end))
            mine = [e for e in starts if e.get("tag") == a.node["tag"]]
            self.assertEqual(len(mine), 1, "%s: kong start ran %d times" % (a.name, len(mine)))
            self.assertGreaterEqual(mine[0]["time"], boot_end)
            self.assertEqual(self.node_ready(a.node), 200, a.name)
        self.assertSchemaConsistent(BASE, agents)
        print("\n  30 agents: all ready after %.1fs (migration %.1fs)" % (wall, boot_end - boots[0]["start"]))

    # ------------------------------------------------------------------
    def test_leader_killed_mid_bootstrap(self):
        """SIGKILL to the leader's process group (a whole instance gone) in
        the middle of a slow bootstrap: another agent resumes with `up`."""
        st = self.st
        extra = ["002_a", "003_b"]
        st.set_kong(delay=4, extra=",".join(extra))     # 4 migrations, 1 s each
        agents = self.start_nodes(range(5), kong_env=SHORT_TTL)
        first = self.wait_event(lambda e: e["event"] == "migrated", 30, "first recorded migration", agents)
        leader = self.agent_by_pid(first["ppid"], agents)
        self.assertIsNotNone(leader, first)
        boot_child = first["pid"]
        leader.killpg(signal.SIGKILL)
        t_kill = time.time()
        self.assertEqual(leader.wait(5), -signal.SIGKILL)
        deadline = time.time() + 5
        while pid_alive(boot_child) and time.time() < deadline:
            time.sleep(0.05)
        self.assertFalse(pid_alive(boot_child), "the leader's kong bootstrap survived its process group")
        executed, _ = self.schema_meta()
        self.assertGreaterEqual(len(executed), 1)
        self.assertLess(len(executed), 4, "the bootstrap finished before the kill: test is void")
        self.assertEqual(self.schema_list(), 5, "a half-bootstrapped schema lists as 'new migrations'")

        rest = [a for a in agents if a is not leader]
        codes = self.wait_all(rest, 90)
        self.assertEqual(codes, {a.name: 0 for a in rest}, self.explain(agents))

        log = st.kong_log_entries()
        events = st.kong_events()
        boot_begins = [e for e in events if e["event"] == "begin" and e.get("sub") == "bootstrap"]
        self.assertEqual([e["ppid"] for e in boot_begins], [leader.pid],
                         "only the dead leader ever ran bootstrap\n" + self.explain(agents))
        ups = [r for r in log if r["argv"][:2] == ["migrations", "up"] and r.get("did") == "migrated"]
        self.assertEqual(len(ups), 1, "exactly one `up` did the remaining work\n" + self.explain(agents))
        self.assertIn(ups[0]["ppid"], {a.pid for a in rest})
        self.assertGreater(ups[0]["start"], t_kill)
        migrated_after = [e["migration"] for e in events if e["event"] == "migrated" and e["time"] > t_kill]
        self.assertEqual(sorted(migrated_after + executed), sorted(BASE + extra),
                         "every migration recorded exactly once\n" + self.explain(agents))
        for a in rest:
            calls = self.start_calls(a.node["unit"])
            self.assertTrue(calls and all(c["time"] >= ups[0]["end"] for c in calls), (a.name, calls))
            self.assertEqual(self.node_ready(a.node), 200, a.name)
        self.assertEqual(self.start_calls(leader.node["unit"]), [])
        self.assertSchemaConsistent(BASE + extra, agents)

    # ------------------------------------------------------------------
    def find_lock_backend(self):
        rows = self.st.db_query(
            "SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'kong-bootstrap'")
        return [r[0] for r in rows]

    def test_lock_connection_cut(self):
        """pg_terminate_backend of the leader's lock connection during a
        migration: the leader notices, stops its kong child, exits 14 without
        starting Kong; the fleet still ends with one consistent schema."""
        st = self.st
        extra = ["002_a", "003_b"]
        st.set_kong(delay=6, extra=",".join(extra))     # 4 migrations, 1.5 s each
        agents = self.start_nodes(range(4), kong_env=SHORT_TTL)
        first = self.wait_event(lambda e: e["event"] == "begin" and e.get("sub") == "bootstrap", 30,
                                "bootstrap", agents)
        leader = self.agent_by_pid(first["ppid"], agents)
        self.assertIsNotNone(leader, first)
        child = first["pid"]
        backends = self.find_lock_backend()
        self.assertEqual(len(backends), 1, "backends holding an advisory lock: %s" % backends)
        self.assertTrue(st.db_query("SELECT pg_terminate_backend(%s)", (backends[0],))[0][0])
        t_cut = time.time()

        try:
            code = leader.wait(10)
        except Exception:
            self.fail("leader did not notice the lost lock within 10 s\n" + self.explain(agents))
        noticed = leader.ended - t_cut
        out, err = leader.output()
        self.assertEqual(code, EXIT_MIGRATIONS, self.explain(agents))
        self.assertIn("lost the migration lock", err)
        self.assertLessEqual(noticed, 3.0, "leader took %.1fs to notice" % noticed)
        self.assertFalse(pid_alive(child), "the leader left its kong child running")
        term = [e for e in st.kong_events() if e["event"] == "terminated" and e["pid"] == child]
        self.assertEqual([e.get("signal") for e in term], [signal.SIGTERM],
                         "kong child stopped with SIGTERM\n" + self.explain(agents))
        self.assertEqual(self.start_calls(leader.node["unit"]), [], "the leader started Kong anyway")

        rest = [a for a in agents if a is not leader]
        codes = self.wait_all(rest, 90)
        self.assertEqual(codes, {a.name: 0 for a in rest}, self.explain(agents))
        # no migration ran twice, none is missing, nothing ran after the
        # leader's child was stopped except by the new leader
        events = st.kong_events()
        migrated = [e for e in events if e["event"] == "migrated"]
        self.assertEqual(sorted(e["migration"] for e in migrated), sorted(BASE + extra), self.explain(agents))
        late = [e for e in migrated if e["pid"] == child and e["time"] > leader.ended]
        self.assertEqual(late, [], "the old leader's kong kept migrating after the leader exited")
        self.assertSchemaConsistent(BASE + extra, agents)
        for a in rest:
            self.assertEqual(self.node_ready(a.node), 200, a.name)

    # ------------------------------------------------------------------
    def test_waiters_wait_shared_and_inspect_together(self):
        """Issue 19: while the leader migrates, the others wait on the
        migration lock in share mode (pg_advisory_lock_shared), so that they
        wake together and their `kong migrations list` runs overlap.  The
        stand-in's `list` takes as long as real Kong's start-up (1-2 s of
        LuaJIT): waiters taking turns would show as lists one after another
        (30 nodes: 30-60 s)."""
        st = self.st
        st.set_kong(delay=4, list_delay=2)
        agents = self.start_nodes(range(4))
        self.wait_event(lambda e: e["event"] == "begin" and e.get("sub") == "bootstrap", 30, "bootstrap", agents)

        def three_waiting():
            rows = st.db_query("SELECT l.mode, l.granted FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                               "WHERE l.locktype = 'advisory' AND a.application_name = 'kong-bootstrap'")
            return rows if len([r for r in rows if not r[1]]) == 3 else None
        rows = wait_for(three_waiting, 15, "three agents waiting on the migration lock",
                        detail=lambda: self.explain(agents), error=self.failureException)
        held = [m for m, granted in rows if granted]
        waiting = [m for m, granted in rows if not granted]
        self.assertTrue(held == ["ExclusiveLock"], "the leader must hold the migration lock exclusively; "
                        "pg_locks.mode of the held lock: %s" % held)
        self.assertTrue(waiting == ["ShareLock"] * 3,
                        "the waiters must wait on the migration lock in share mode (pg_advisory_lock_shared, "
                        "pg_locks.mode ShareLock) so that they wake together; they wait in %s" % waiting)

        codes = self.wait_all(agents, 90)
        self.assertEqual(codes, {a.name: 0 for a in agents}, self.explain(agents))
        log = st.kong_log_entries()
        boots = [r for r in log if r["argv"][:2] == ["migrations", "bootstrap"]]
        self.assertEqual(len(boots), 1, self.explain(agents))
        lists = [r for r in log if r["argv"][:2] == ["migrations", "list"] and r["ppid"] != boots[0]["ppid"]]
        self.assertEqual(len(lists), 3, "one `list` per waiter\n" + self.explain(agents))
        spans = sorted((round(r["start"] - boots[0]["end"], 2), round(r["end"] - boots[0]["end"], 2))
                       for r in lists)
        self.assertLess(max(b for b, _ in spans), min(e for _, e in spans),
                        "the waiters' `kong migrations list` runs must overlap (shared lock, woken "
                        "together); they ran one after another: (start, end) s after the bootstrap: %s" % spans)

    def test_bootstrap_that_lost_kongs_lock_does_not_start_kong(self):
        """Kong's `bootstrap` exits 0 when another Kong holds Kong's own lock
        ("aborted: another node is performing database changes"), having
        created schema_meta and nothing else: the schema is not ready.  Only
        the `list` after it tells; the agent must not start Kong."""
        st = self.st
        # a Kong outside the election (an operator's `kong migrations
        # bootstrap`, a node of an older AMI) holds Kong's lock: the row its
        # cluster_mutex inserts, with Kong's table layout
        st.db_query("CREATE TABLE locks (key text PRIMARY KEY, owner text, ttl timestamptz)")
        st.db_query("ALTER TABLE locks OWNER TO kong")
        st.db_query("INSERT INTO locks VALUES ('migrations', 'another-kong', now() + interval '10 minutes')")
        (a,) = self.start_nodes([0], kong_env={"KONG_STANDIN_LOCK_TTL": "2"})
        code = self.wait_all([a], 90)[a.name]
        boots = [r for r in st.kong_log_entries() if r["argv"][:2] == ["migrations", "bootstrap"]]
        self.assertEqual([(r["exit"], r.get("did")) for r in boots], [(0, "aborted")],
                         "the scenario: one bootstrap, exit 0, aborted by Kong's own lock\n" + self.explain())
        self.assertEqual(self.schema_list(), 5, "the schema is not ready (schema_meta, no migrations)")
        starts = self.start_calls(a.node["unit"])
        self.assertTrue(not starts, "the agent started Kong (%d StartUnit) after a `bootstrap` that lost Kong's "
                        "own lock and did nothing\n%s" % (len(starts), self.explain()))
        self.assertEqual(code, EXIT_MIGRATIONS, self.explain())
        subs = [r["argv"][1] for r in st.kong_log_entries()]
        self.assertEqual(subs[:3], ["list", "bootstrap", "list"], "inspect again after bootstrap")

    # ------------------------------------------------------------------
    def hold_lock(self, schema="public"):
        c = self.st.pg_connect()
        with c.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (LOCK_NAME % ("kong", schema),))
        return c

    def test_waiter_blocks_on_the_documented_key(self):
        """While someone holds the documented lock key, an agent waits on the
        lock (one blocking statement, no polling, no `kong migrations`), then
        inspects and bootstraps once it is released."""
        st = self.st
        holder = self.hold_lock()
        try:
            (a,) = self.start_nodes([0])
            samples = []
            deadline = time.time() + 4
            while time.time() < deadline:
                samples += [r for r in st.pg_activity() if r["application_name"] == "kong-bootstrap"]
                time.sleep(0.1)
            self.assertIsNone(a.poll(), "agent did not wait for the lock\n" + self.explain())
            self.assertEqual(st.kong_events(), [], "kong ran while the lock was held elsewhere")
            waiting = [s for s in samples if s["wait_event_type"] == "Lock" and s["wait_event"] == "advisory"]
            self.assertGreater(len(samples), 20, "agent's connection not seen in pg_stat_activity")
            self.assertGreaterEqual(len(waiting), 0.6 * len(samples),
                                    "agent not blocked on the advisory lock: %s" % samples[-5:])
            statements = {s["query_start"] for s in waiting}
            self.assertLessEqual(len(statements), 2, "agent polls the lock (%d statements in 4 s)"
                                 % len(statements))
            self.assertEqual(len({s["pid"] for s in samples}), 1, "one connection for the agent")
            t_release = time.time()
        finally:
            holder.close()
        self.assertEqual(a.wait(60), 0, self.explain())
        lists = [e for e in st.kong_events() if e["event"] == "begin" and e.get("sub") == "list"]
        self.assertTrue(lists and lists[0]["time"] >= t_release, lists)
        # A waiter inspects the schema first (shared lock, beside the other
        # waiters); finding that the holder did nothing, it leads.
        self.assertEqual([r["argv"][1] for r in st.kong_log_entries()], ["list", "list", "bootstrap", "list"])

    def test_wait_bounded_by_migrations_wait_timeout(self):
        holder = self.hold_lock()
        try:
            (a,) = self.start_nodes([0], migrations_wait_timeout=4)
            try:
                code = a.wait(30)
            except Exception:
                self.fail("agent still waiting 30 s after migrations_wait_timeout = 4\n" + self.explain())
        finally:
            holder.close()
        waited = a.ended - a.started
        out, err = a.output()
        self.assertEqual(code, EXIT_MIGRATIONS, self.explain())
        self.assertGreaterEqual(waited, 4.0)
        self.assertLessEqual(waited, 4.0 + 3.0, "waited %.1fs for a 4 s bound\n%s" % (waited, err))
        self.assertIn("migrations_wait_timeout", err, "the message names the setting to change")
        self.assertEqual(self.st.kong_log_entries(), [])
        self.assertEqual(self.start_calls(a.node["unit"]), [])

    def test_other_schema_not_blocked(self):
        """Two Kong clusters on one database server, different pg_schema:
        the lock of one does not block the other."""
        self.st.db_query("CREATE SCHEMA IF NOT EXISTS other AUTHORIZATION kong")
        holder = self.hold_lock("public")
        try:
            (a,) = self.start_nodes([0], pg_schema="other")
            try:
                code = a.wait(30)
            except Exception:
                self.fail("agent with pg_schema = other blocked by the lock of schema public\n" + self.explain())
        finally:
            holder.close()
        self.assertEqual(code, 0, self.explain())
        self.assertIn("bootstrap", [r["argv"][1] for r in self.st.kong_log_entries()])
        rows = self.st.db_query("SELECT to_regclass('other.schema_meta') IS NOT NULL, "
                                "to_regclass('public.schema_meta') IS NOT NULL")
        self.assertEqual(rows[0], (True, False))

    # ------------------------------------------------------------------
    def test_connection_footprint(self):
        """At most 2 connections with application_name 'kong-bootstrap' per
        agent at any time (pg_stat_activity, attributed to agents through
        their sockets), none left open once the agent asks systemd to start
        Kong, all closed when the agents are done."""
        st = self.st
        st.set_kong(delay=2)
        n = 10
        agents = self.start_nodes(range(n))
        peak_total, per_agent, unattributed = 0, {}, 0
        open_at = []     # (time before the /proc read, agent, sockets to Postgres)
        stop = threading.Event()
        conn = st.pg_connect()

        def sample():
            nonlocal peak_total, unattributed
            while not stop.is_set():
                rows = [r for r in st.pg_activity(conn) if r["application_name"] == "kong-bootstrap"]
                t_s = time.time()
                ports = {a.name: tcp_ports_of(a.pid, st.pg_port) for a in agents if a.poll() is None}
                open_at.extend((t_s, name, len(p)) for name, p in ports.items() if p)
                peak_total = max(peak_total, len(rows))
                for r in rows:
                    owner = [name for name, p in ports.items() if r["client_port"] in p]
                    if owner:
                        per_agent.setdefault(owner[0], []).append(r["client_port"])
                    else:
                        unattributed += 1
                for name, p in ports.items():
                    per_agent.setdefault("%s/sockets" % name, []).append(len(p))
                time.sleep(0.03)
        t = threading.Thread(target=sample, daemon=True)
        t.start()
        try:
            codes = self.wait_all(agents, 90)
        finally:
            stop.set()
            t.join(5)
        self.assertEqual(codes, {a.name: 0 for a in agents}, self.explain(agents))
        self.assertLessEqual(peak_total, 2 * n)
        self.assertGreaterEqual(peak_total, 1, "sampling never saw an agent connection")
        for a in agents:
            socks = per_agent.get("%s/sockets" % a.name, [0])
            self.assertLessEqual(max(socks), 2, "%s held %d Postgres connections" % (a.name, max(socks)))
        # closed before Kong is started
        for a in agents:
            calls = self.start_calls(a.node["unit"])
            self.assertTrue(calls, a.name)
            late = [t for t, name, n_ in open_at if name == a.name and t > calls[0]["time"]]
            self.assertEqual(late, [], "%s still held a Postgres connection %.2fs after StartUnit"
                             % (a.name, (max(late) - calls[0]["time"]) if late else 0))
        # closed when done
        deadline = time.time() + 3
        left = None
        while time.time() < deadline:
            left = [r for r in st.pg_activity(conn) if r["application_name"] == "kong-bootstrap"]
            if not left:
                break
            time.sleep(0.1)
        conn.close()
        self.assertEqual(left, [], "kong-bootstrap connections left open after exit")
        print("\n  footprint: peak %d kong-bootstrap connections for %d agents; per agent max %d socket(s)"
              % (peak_total, n, max(max(per_agent.get("%s/sockets" % a.name, [0])) for a in agents)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
