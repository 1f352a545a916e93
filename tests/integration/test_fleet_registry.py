#!/usr/bin/python3
"""The fleet registry around one node (migrations_finish = after-rollout):
what the rollout tests run past.

- Draining: on a termination notice, and on systemd's SIGTERM during a
  shutdown, the node's row says `draining` for the whole drain (seen in
  kong_bootstrap.nodes and by `kong-bootstrap fleet`), and is gone once
  the agent has exited.  A SIGTERM that is only a restart of kong-bootstrap
  (the system is running) leaves the row as it was.
- `kong-bootstrap fleet` reads; it changes nothing: without a registry it
  creates nothing and says so (exit 0); with one, no row, sequence or
  relation changes, and every statement it sends (PostgreSQL's own
  log_statement = all for its role) is a read: no write, no advisory lock.
- The journal: the records that say why `finish` waits carry
  MESSAGE_ID_FINISH_WAITING, once per change of the blockers, not once per
  interval; a Kong older than the schema says so with
  MESSAGE_ID_KONG_OLDER_THAN_SCHEMA.  The agent writes structured records
  only when its stderr is the journal's stream: here a stand-in journald
  (stack.Journal) in a mount namespace of the agent's own.

Run: /usr/bin/python3 tests/integration/test_fleet_registry.py
"""
import json
import os
import re
import signal
import tempfile
import time
import unittest

from fleet_common import A_VERSION, B_MIGRATION, B_VERSION, EXIT_FLEET, INTERVAL, FleetRolloutCase, instance_id
from stack import Journal, wait_for

DRAIN = 5            # drain_timeout (s): long enough to see the row say draining
UNREGISTERED = "i-0ffffffffffff0003"
# agent/fleet.h, agent/stage.h
MESSAGE_ID_FINISH_WAITING = "85e5996399de4db3ab937e3f94d9ee1c"
MESSAGE_ID_KONG_OLDER_THAN_SCHEMA = "dd3cab2a4e0146c590c2efa4ca90939b"
MESSAGE_ID_BOOT_FAILED = "5e725d8e9386489fb031be14d2736643"
LOG_ERR, LOG_NOTICE = 3, 5

# What a read may not say (string literals are cut out first): a write, DDL,
# an explicit lock, a row lock, an advisory lock, a sequence step.
WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|UPSERT|CREATE|ALTER|DROP|TRUNCATE|GRANT|REVOKE|COMMENT|"
                    r"LOCK|SHARE|COPY|VACUUM|ANALYZE|REINDEX|CLUSTER|REFRESH|NOTIFY|CALL|DO|"
                    r"pg_(try_)?advisory\w*|nextval|setval|set_config)\b", re.I)


class FleetRegistry(FleetRolloutCase):
    FLEET = 2           # node 0; node 1 beside it (journal tests)

    def setUp(self):
        super().setUp()
        self.journals = []
        self.st.systemd_mock().SetSystemState("running")

    def tearDown(self):
        super().tearDown()
        self.st.systemd_mock().SetSystemState("running")
        for j in self.journals:
            j.close()

    # ---------------------------------------------------------- helpers --
    def state_of(self, iid):
        """The row's state, None when there is no row."""
        return self.rows().get(iid, {}).get("state")

    def sample_until_exit(self, agent, timeout, during=None):
        """(time, state of the agent's row) every 50 ms until it exits;
        during(state) runs once per sample (say, `fleet` while draining)."""
        samples, deadline = [], time.time() + timeout
        while agent.poll() is None:
            if time.time() > deadline:
                self.fail("%s still running after %s s\n%s" % (agent.name, timeout, self.explain()))
            state = self.state_of(agent.iid)
            samples.append((time.time(), state))
            if during:
                during(state)
            time.sleep(0.05)
        samples.append((time.time(), self.state_of(agent.iid)))
        return samples

    def assertDrainedThenLeft(self, agent, samples):
        """The row said ready (until the drain began), then draining for
        the whole drain (never ready again: no heartbeat overwrote it), and
        was gone after the exit."""
        states = [s for _, s in samples]
        runs = [s for k, s in enumerate(states) if k == 0 or s != states[k - 1]]
        if runs[0] == "ready":
            runs.pop(0)
        self.assertEqual(runs[:1], ["draining"], "row states from the notice to the exit: %r\n%s"
                         % ([s for k, s in enumerate(states) if k == 0 or s != states[k - 1]], self.explain()))
        self.assertIsNone(states[-1], "the row is still there after the agent exited\n" + self.explain())
        self.assertEqual(runs, ["draining", None], self.explain())
        draining = [t for t, s in samples if s == "draining"]
        self.assertGreaterEqual(draining[-1] - draining[0], DRAIN - 1,
                                "the row said draining for %.1f s of a %d s drain"
                                % (draining[-1] - draining[0], DRAIN))
        self.assertIn("removed this node (%s) from the fleet registry" % agent.iid, agent.output()[1])

    def wait_daemon(self, agent, timeout=60):
        """Until the agent runs its loop: sd-event's signalfd for SIGTERM
        is open (agent/daemon.c). A row that says ready comes a moment
        before the agent blocks SIGTERM (just before READY=1), when a
        SIGTERM would still kill it outright; and SIGTERM alone blocked is
        no sign (glibc's posix_spawn blocks every signal for a moment at
        each kong it starts)."""
        def listening():
            if agent.poll() is not None:
                return False
            for fd in os.listdir("/proc/%d/fd" % agent.pid):
                try:
                    if os.readlink("/proc/%d/fd/%s" % (agent.pid, fd)) != "anon_inode:[signalfd]":
                        continue
                    with open("/proc/%d/fdinfo/%s" % (agent.pid, fd)) as f:
                        mask = next(l for l in f if l.startswith("sigmask:")).split()[1]
                except (OSError, StopIteration):
                    continue
                if int(mask, 16) & (1 << (signal.SIGTERM - 1)):
                    return True
            return False
        wait_for(listening, timeout, "%s's loop" % agent.name, detail=self.explain, error=self.failureException)

    def node_config(self, i, **cfg):
        """Node i's config file, for `fleet` (no agent started)."""
        return self.st.write_fleet_node(i, **self.node_settings(i, **cfg))["config"]

    def statements_of(self, fn):
        """Run fn() with PostgreSQL logging every statement of role kong in
        database kong; returns (fn's result, [(pid, statement)]).  Nothing
        else connects as kong meanwhile (no agent runs).  log_statement
        logs what runs; a statement that fails before it runs (a relation
        that does not exist) is logged with its error."""
        st = self.st
        settings = ("log_statement = 'all'", "log_min_error_statement = 'error'")
        for x in settings:
            st.db_query("ALTER ROLE kong IN DATABASE kong SET " + x)
        try:
            start = os.path.getsize(st.pg_logfile)
            result = fn()
        finally:
            for x in settings:
                st.db_query("ALTER ROLE kong IN DATABASE kong RESET " + x.split()[0])
        with open(st.pg_logfile, "rb") as f:
            f.seek(start)
            log = f.read().decode("utf-8", "replace")
        out, cur = [], None
        self.errors = []     # the server's ERROR lines meanwhile
        for line in log.splitlines():
            m = re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] (\w+):  (.*)$", line)
            if m:
                cur = None
                if m.group(2) == "ERROR":
                    self.errors.append(m.group(3))
                s = re.match(r"^(?:statement|execute [^:]*): (.*)$", m.group(3))
                if m.group(2) == "LOG" and s:
                    cur = [int(m.group(1)), s.group(1)]
                elif m.group(2) == "STATEMENT":
                    cur = [int(m.group(1)), m.group(3)]
                if cur:
                    out.append(cur)
            elif cur is not None and line.startswith("\t"):
                cur[1] += "\n" + line[1:]
        return result, [tuple(x) for x in out]

    def assertReadsOnly(self, statements):
        self.assertTrue(statements, "no statement logged: the log_statement check saw nothing")
        for pid, sql in statements:
            bare = re.sub(r"'(?:[^']|'')*'", "''", sql)
            self.assertRegex(bare, r"^\s*(SELECT|SHOW|WITH)\b", "not a read: %s" % sql)
            self.assertNotRegex(bare, WRITES, "not a read: %s" % sql)

    def registry_snapshot(self):
        """Every row of the registry and of Kong's schema_meta with its
        xmin (an UPDATE that writes the same values still changes it), the
        finishes sequence, and the database's relations."""
        st = self.st
        snap = {"relations": st.db_query(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2")}
        if st.db_query("SELECT to_regnamespace('kong_bootstrap')")[0][0]:
            for t in ("meta", "nodes", "finishes"):
                snap[t] = st.db_query("SELECT xmin::text, row_to_json(t)::text FROM kong_bootstrap.%s t "
                                      "ORDER BY 2" % t)
            snap["finishes_id_seq"] = st.db_query("SELECT last_value, is_called FROM kong_bootstrap.finishes_id_seq")
        if st.db_query("SELECT to_regclass('public.schema_meta')")[0][0]:
            snap["schema_meta"] = st.db_query("SELECT xmin::text, row_to_json(t)::text FROM schema_meta t ORDER BY 2")
        return snap

    def fleet_both(self, config):
        """`fleet --json` and `fleet`: (exit, stdout, stderr) of each."""
        st = self.st
        return [st.run_agent(args, config=config, timeout=60) for args in (["fleet", "--json"], ["fleet"])]

    def journal(self):
        j = Journal(tempfile.mkdtemp(prefix="journal-", dir=self.st.tmp))
        self.journals.append(j)
        return j

    # ------------------------------------------------------------ drain --
    def test_termination_notice_marks_draining_then_leaves(self):
        self.set_group(instance_id(0), "InService")
        a = self.boot(0, "A", drain_timeout=DRAIN)
        self.wait_ready([a])
        cfg = a.node["config"]
        self.set_group(a.iid, "Terminating:Wait")
        self.terminate_via_imds(0)
        seen = {}

        def fleet_while_draining(state):
            if state == "draining" and "doc" not in seen:
                seen["doc"] = self.fleet(cfg)
        samples = self.sample_until_exit(a, 5 + DRAIN + 20, fleet_while_draining)
        self.assertEqual(a.wait(), 0, self.explain())
        self.assertDrainedThenLeft(a, samples)
        self.assertIn("doc", seen, self.explain())
        nodes = {n["instance_id"]: n for n in seen["doc"]["nodes"]}
        self.assertEqual(nodes[a.iid]["state"], "draining", json.dumps(seen["doc"], indent=1))
        self.assertEqual(self.fleet(cfg)["nodes"], [])

    def test_shutdown_marks_draining_then_leaves(self):
        """systemd's SIGTERM: during a shutdown the node drains (Kong is
        stopped by systemd after it) and leaves the registry; a restart of
        kong-bootstrap alone leaves the row, ready, as it was."""
        a = self.boot(0, "A", drain_timeout=DRAIN)
        self.wait_daemon(a)
        os.kill(a.pid, signal.SIGTERM)
        self.assertEqual(a.wait(10), 0, self.explain())
        self.assertIn("Kong keeps running", a.output()[1])
        self.assertEqual(self.state_of(a.iid), "ready", self.explain())

        a = self.boot(0, "A", drain_timeout=DRAIN)
        self.wait_daemon(a)
        cfg = a.node["config"]
        self.st.systemd_mock().SetSystemState("stopping")
        os.kill(a.pid, signal.SIGTERM)
        seen = {}

        def fleet_while_draining(state):
            if state == "draining" and "text" not in seen:
                seen["text"] = self.fleet(cfg, text=True)
        samples = self.sample_until_exit(a, DRAIN + 20, fleet_while_draining)
        self.assertEqual(a.wait(), 0, self.explain())
        self.assertDrainedThenLeft(a, samples)
        self.assertIn("the instance is shutting down", a.output()[1])
        self.assertRegex(seen.get("text", ""), r"(?m)^%s +\S+ +%s +draining " % (a.iid, re.escape(A_VERSION)))

    # ------------------------------------------------------------ fleet --
    def test_fleet_without_a_registry_creates_nothing(self):
        st = self.st
        cfg = self.node_config(0)
        before = self.registry_snapshot()
        runs, statements = self.statements_of(lambda: self.fleet_both(cfg))
        (code_json, out_json, err_json), (code_text, out_text, err_text) = runs
        self.assertEqual((code_json, code_text), (0, 0), err_json + err_text)
        self.assertEqual(out_text, "no fleet registry in database 'kong' (migrations_finish = after-rollout "
                                   "creates it)\n")
        doc = json.loads(out_json)
        self.assertIs(doc["registry"], False, doc)
        self.assertEqual((doc["nodes"], doc["finish"]["blockers"]), ([], []), doc)
        self.assertIsNone(st.db_query("SELECT to_regnamespace('kong_bootstrap')")[0][0], "fleet created the registry")
        self.assertEqual(self.registry_snapshot(), before)
        self.assertReadsOnly(statements)
        # it asks whether the registry exists rather than fail to read it
        self.assertEqual(self.errors, [], "fleet left errors in the server's log")
        self.assertEqual(st.kong_log_entries(), [], "fleet ran kong")

    def test_fleet_reads_a_registry_and_changes_nothing(self):
        st = self.st
        self.set_group(instance_id(0), "InService")
        self.set_group(UNREGISTERED, "InService")
        a = self.boot(0, "A", args=("run", "--oneshot"))
        self.assertEqual(a.wait(60), 0, self.explain())
        # a fleet mid-upgrade: a newer node, one draining, one stale, B's up
        # done, a finish recorded earlier
        st.db_query("INSERT INTO kong_bootstrap.nodes (instance_id, autoscaling_group, kong_version, agent_version, "
                    "state, last_heartbeat) VALUES "
                    "('i-0b00000000000000b', 'kong-asg', %s, 'test', 'ready', now()), "
                    "('i-0d00000000000000d', 'kong-asg', %s, 'test', 'draining', now()), "
                    "('i-0500000000000000e', 'kong-asg', %s, 'test', 'ready', now() - interval '1 day')",
                    (B_VERSION, A_VERSION, A_VERSION))
        st.db_query("INSERT INTO kong_bootstrap.finishes (instance_id, kong_version, migrations) "
                    "VALUES ('i-0f00000000000000f', '3.7.0', 'core: 001_old')")
        st.db_query("UPDATE schema_meta SET pending = ARRAY[%s] WHERE key = 'schema_meta' AND subsystem = 'core'",
                    (B_MIGRATION,))
        # the heartbeats above stay fresh for an hour as this config counts
        cfg = self.node_config(0, fleet_heartbeat_interval=1200)
        before, kong_runs = self.registry_snapshot(), len(st.kong_log_entries())
        runs, statements = self.statements_of(lambda: self.fleet_both(cfg))
        (code_json, out_json, err_json), (code_text, out_text, err_text) = runs
        self.assertEqual((code_json, code_text), (0, 0), err_json + err_text)
        doc = json.loads(out_json)
        # it read everything there is
        self.assertIs(doc["registry"], True)
        self.assertEqual({n["instance_id"]: n["state"] for n in doc["nodes"]},
                         {a.iid: "ready", "i-0b00000000000000b": "ready", "i-0d00000000000000d": "draining",
                          "i-0500000000000000e": "ready"})
        self.assertEqual(doc["finish"]["state"], "waiting", doc)
        self.assertEqual(doc["finish"]["last"]["instance_id"], "i-0f00000000000000f")
        # (the stale row's instance is not listed: it does not block)
        self.assertEqual({b["instance_id"] for b in doc["finish"]["blockers"]},
                         {a.iid, "i-0d00000000000000d", UNREGISTERED}, doc)
        self.assertIn("finish: waiting", out_text)
        # and changed nothing
        after = self.registry_snapshot()
        for k in before:
            self.assertEqual(after[k], before[k], "fleet changed %s" % k)
        self.assertEqual(after, before)
        self.assertReadsOnly(statements)
        self.assertTrue(any("kong_bootstrap.nodes" in s for _, s in statements), statements)
        self.assertEqual(st.kong_log_entries()[kong_runs:], [], "fleet ran kong")

    # ---------------------------------------------------------- journal --
    def test_finish_waiting_record_carries_its_message_id_once_per_change(self):
        self.set_group(instance_id(0), "InService")
        a = self.boot(0, "A")
        self.wait_ready([a])
        j = self.journal()
        b = self.boot(1, "B", wrap=j.wrap())
        self.wait_ready([b])
        self.set_group(b.iid, "InService")
        says = lambda: [x for x in j.records() if "'kong migrations finish' waits" in x.get("MESSAGE", "")]  # noqa
        first = wait_for(says, 30, "the record saying finish waits", detail=j.text, error=self.failureException)
        time.sleep(5 * INTERVAL)
        self.assertEqual(len(says()), 1, "records while nothing changed:\n" + j.text())
        r = first[0]
        self.assertEqual(r.get("MESSAGE_ID"), MESSAGE_ID_FINISH_WAITING, r)
        self.assertEqual((r["PRIORITY"], r["STAGE"], r["SYSLOG_IDENTIFIER"], r["INSTANCE_ID"]),
                         (str(LOG_NOTICE), "fleet", "kong-bootstrap", b.iid), r)
        self.assertIn("'kong migrations finish' waits for 1 node: %s" % a.iid, r["MESSAGE"])

        # the blockers change: one record more, then quiet again
        self.set_group(UNREGISTERED, "InService")
        wait_for(lambda: len(says()) == 2, 15, "a record for the changed blockers", detail=j.text,
                 error=self.failureException)
        time.sleep(5 * INTERVAL)
        records = says()
        self.assertEqual(len(records), 2, j.text())
        self.assertIn("waits for 2 nodes", records[1]["MESSAGE"])
        self.assertIn(UNREGISTERED, records[1]["MESSAGE"])
        # the MESSAGE_ID is on these records and on no other
        self.assertEqual(j.records(MESSAGE_ID=MESSAGE_ID_FINISH_WAITING), records, j.text())
        self.assertEqual(b.output()[1], "", "stderr is the journal's stream: nothing is written there")
        self.assertIsNone(b.poll(), j.text())

    def test_kong_older_than_the_schema_record_carries_its_message_id(self):
        st = self.st
        a = self.boot(0, "A", args=("run", "--oneshot"))
        self.assertEqual(a.wait(60), 0, self.explain())
        st.db_query("INSERT INTO kong_bootstrap.finishes (instance_id, kong_version, migrations) "
                    "VALUES ('i-0f00000000000000f', %s, %s)", (B_VERSION, "core: " + B_MIGRATION))
        j = self.journal()
        late = self.boot(1, "A", args=("run", "--oneshot"), wrap=j.wrap())
        self.assertEqual(late.wait(60), EXIT_FLEET, j.text())
        older = j.records(MESSAGE_ID=MESSAGE_ID_KONG_OLDER_THAN_SCHEMA)
        self.assertEqual(len(older), 1, j.text())
        r = older[0]
        self.assertEqual((r["PRIORITY"], r["STAGE"], r["INSTANCE_ID"]), (str(LOG_ERR), "fleet", late.iid), r)
        self.assertIn("this node's Kong %s is older than the schema: Kong %s ran 'kong migrations finish' "
                      "(last on i-0f00000000000000f" % (A_VERSION, B_VERSION), r["MESSAGE"])
        failed = j.records(MESSAGE_ID=MESSAGE_ID_BOOT_FAILED)
        self.assertEqual([(x["STAGE"], x["EXIT_STATUS"]) for x in failed], [("fleet", str(EXIT_FLEET))], j.text())
        self.assertEqual(self.start_calls(late.node["unit"]), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
