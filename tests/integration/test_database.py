#!/usr/bin/python3
"""Issue 4: waiting for the database, done right.

  * unreachable (Postgres stopped): retry with backoff until
    pg_wait_timeout, then exit 13 naming pg_wait_timeout;
  * authentication failure: re-read the secret (a rotation may be under
    way) and retry, a bounded number of times (5), then exit 13;
  * the database does not exist: exit 13 at once, naming the database.

Run: /usr/bin/python3 tests/integration/test_database.py
"""
import os
import time
import unittest

from common import Stack, systemd_template
from election_common import EXIT_DB, FleetTestCase

AUTH_FAILED = 'password authentication failed for user "kong"'


class Database(FleetTestCase):
    FLEET = 6

    def pg_log_mark(self):
        return os.path.getsize(self.st.pg_logfile)

    def pg_log_since(self, mark):
        with open(self.st.pg_logfile, "rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace")

    def moto_mark(self):
        return os.path.getsize(self.st.moto_logfile)

    def moto_posts_since(self, mark):
        """Secrets Manager calls (moto logs one '"POST / HTTP/1.1"' line each)."""
        with open(self.st.moto_logfile, "rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace").count('"POST / HTTP/1.1"')

    def wait_stderr(self, agent, needle, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if needle in agent.output()[1]:
                return True
            if agent.poll() is not None:
                break
            time.sleep(0.1)
        self.fail("agent %s: no %r in stderr within %ss\n%s" % (agent.name, needle, timeout, self.explain()))

    # ------------------------------------------------------------------
    def test_postgres_down_20s_at_boot(self):
        """Postgres stopped when 5 agents boot and started 20 s later: all
        of them wait (none gives up, none starts Kong) and then proceed."""
        st = self.st
        st.stop_postgres()
        agents = self.start_nodes(range(5), pg_wait_timeout=60)
        time.sleep(20)
        gone = [(a.name, a.poll()) for a in agents if a.poll() is not None]
        self.assertEqual(gone, [], "agents gave up while Postgres was down\n" + self.explain(agents))
        self.assertEqual([c for c in st.systemd_calls() if c["method"] == "StartUnit"], [])
        t_up = time.time()
        st.start_postgres()
        codes = self.wait_all(agents, 60)
        self.assertEqual(codes, {a.name: 0 for a in agents}, self.explain(agents))
        log = st.kong_log_entries()
        self.assertEqual(sum(1 for r in log if r["argv"][:2] == ["migrations", "bootstrap"]), 1,
                         self.explain(agents))
        self.assertTrue(all(r["start"] >= t_up for r in log), "kong ran before Postgres was up")
        print("\n  ready %.1fs after Postgres came back" % (max(a.ended for a in agents) - t_up))

    def test_postgres_down_past_pg_wait_timeout(self):
        st = self.st
        st.stop_postgres()
        (a,) = self.start_nodes([5], pg_wait_timeout=5)
        try:
            code = a.wait(40)
        except Exception:
            self.fail("agent still waiting 40 s into a 5 s pg_wait_timeout\n" + self.explain())
        waited = a.ended - a.started
        out, err = a.output()
        self.assertEqual(code, EXIT_DB, self.explain())
        self.assertIn("pg_wait_timeout", err)
        self.assertGreaterEqual(waited, 5.0, "gave up before pg_wait_timeout")
        self.assertLessEqual(waited, 5.0 + 12.0, "waited %.1fs for pg_wait_timeout = 5" % waited)
        self.assertEqual(st.kong_log_entries(), [])
        self.assertEqual(self.start_calls(a.node["unit"]), [])

    # ------------------------------------------------------------------
    def test_database_does_not_exist(self):
        (a,) = self.start_nodes([0], pg_database="nosuchdb", pg_wait_timeout=60)
        code = a.wait(60)
        out, err = a.output()
        self.assertEqual(code, EXIT_DB, self.explain())
        self.assertIn("nosuchdb", err)
        self.assertLessEqual(a.ended - a.started, 10.0, "a missing database is not worth waiting for")
        self.assertEqual(self.st.kong_log_entries(), [])

    # ------------------------------------------------------------------
    def test_password_rotated_between_read_and_connect(self):
        """A single-user rotation in progress: the agent read the secret
        (old password) while Postgres was unreachable; meanwhile the database
        got the new password and AWSCURRENT moved to it.  The agent's first
        connection fails authentication; it re-reads the secret and
        proceeds, and Kong gets the new password."""
        st = self.st
        new = "r0tated#Pass;w\"ord $x"
        st.set_db_password(new)               # setSecret: the database has it first
        st.stop_postgres()
        mark = self.moto_mark()
        (a,) = self.start_nodes([0], pg_wait_timeout=60)
        deadline = time.time() + 20           # until the agent has read the secret
        while self.moto_posts_since(mark) < 1 and time.time() < deadline and a.poll() is None:
            time.sleep(0.05)
        time.sleep(1)
        self.assertIsNone(a.poll(), "agent gave up while Postgres was down\n" + self.explain())
        self.assertGreaterEqual(self.moto_posts_since(mark), 1, "agent never read the secret")
        st.update_secret(password=new)        # finishSecret: AWSCURRENT -> new
        mark = self.pg_log_mark()
        st.start_postgres()
        code = a.wait(60)
        self.assertEqual(code, 0, self.explain())
        self.assertIn(AUTH_FAILED, self.pg_log_since(mark),
                      "the agent never tried the old password: the test did not exercise the re-read")
        env = systemd_template.load_env_file(a.node["kong_env_file"])
        self.assertEqual(env.get("KONG_PG_PASSWORD"), new, "Kong must get the rotated password")
        runs = [(r["argv"][1], r["exit"]) for r in st.kong_log_entries() if r["argv"][:1] == ["migrations"]]
        self.assertIn(("bootstrap", 0), runs)
        self.assertNotIn(1, [code for _, code in runs], "kong migrations got the old password: %s" % runs)
        self.assertEqual(self.node_ready(a.node), 200)

    def test_authentication_keeps_failing(self):
        """The secret never catches up: bounded retries (re-reading the
        secret each time), then exit 13 saying authentication failed."""
        st = self.st
        st.set_db_password("not-the-secret's-password")
        mark = self.pg_log_mark()
        mmark = self.moto_mark()
        (a,) = self.start_nodes([0], pg_wait_timeout=120)
        try:
            code = a.wait(90)
        except Exception:
            self.fail("agent still retrying authentication after 90 s\n" + self.explain())
        out, err = a.output()
        self.assertEqual(code, EXIT_DB, self.explain())
        self.assertRegex(err, r"(?i)authentication|password")
        self.assertNotIn(Stack.PASSWORD, err)
        failures = self.pg_log_since(mark).count(AUTH_FAILED)
        self.assertGreaterEqual(failures, 2, "no retry after an authentication failure")
        self.assertLessEqual(failures, 6, "%d attempts: at most 1 + 5 retries" % failures)
        reads = self.moto_posts_since(mmark)
        self.assertGreaterEqual(reads, failures, "%d secret reads for %d failed logins: each retry re-reads "
                                "the secret" % (reads, failures))
        self.assertEqual(st.kong_log_entries(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
