#!/usr/bin/python3
"""Shared helpers for the election and database tests (no tests here).

A FleetTestCase owns one Stack(fleet=FLEET): FLEET simulated instances of an
Auto Scaling group that share the stack's PostgreSQL, IMDS, Secrets Manager
and D-Bus mock, but each has its own kong.service-like unit
(kong-<i>.service), kong.conf, env file, status port and kong wrapper
(tagged node-<i>), so every agent starts and waits for its *own* Kong.
"""
import os
import subprocess
import time
import unittest

from common import Stack, StackError, agent_said, start_stack  # noqa: F401  (sys.path set up by common)
from stack import wait_for

EXIT_OK, EXIT_DB, EXIT_MIGRATIONS = 0, 13, 14
LOCK_NAME = "kong-bootstrap/migrations/%s/%s"


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:   # a zombie is dead for our purposes
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def tcp_ports_of(pid, remote_port):
    """Local ports of pid's TCP sockets connected to 127.0.0.1:remote_port."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if t.startswith("socket:["):
                inodes.add(t[8:-1])
    except OSError:
        return set()
    ports = set()
    try:
        with open("/proc/%d/net/tcp" % pid) as f:
            next(f)
            for line in f:
                p = line.split()
                if len(p) < 10 or p[9] not in inodes:
                    continue
                if int(p[2].split(":")[1], 16) == remote_port and p[3] == "01":   # ESTABLISHED
                    ports.add(int(p[1].split(":")[1], 16))
    except OSError:
        pass
    return ports


class FleetTestCase(unittest.TestCase):
    FLEET = 0
    st = None

    @classmethod
    def setUpClass(cls):
        cls.st = start_stack(fleet=cls.FLEET)

    @classmethod
    def tearDownClass(cls):
        if cls.st is not None:
            cls.st.__exit__(None, None, None)

    def setUp(self):
        self.agents = []
        self.st.start_postgres()     # a test may have left it stopped
        self.st.reset_fleet()        # stopping a node's Kong logs its `kong start`: before reset()
        self.st.reset()

    def tearDown(self):
        for a in self.agents:
            a.cleanup()
        self.st.start_postgres()

    # ------------------------------------------------------------ agents --
    def start_nodes(self, indexes, kong_env=None, args=("run", "--oneshot"), wrap=(), **cfg):
        """Write the configs of fleet nodes `indexes`, then start one agent
        per node as close together as possible (under wrap: Stack.agent_argv).
        Returns AgentProcesses with .node set."""
        nodes = [self.st.write_fleet_node(i, kong_env=kong_env, **cfg) for i in indexes]
        out = []
        for n in nodes:
            a = self.st.start_agent(args, config=n["config"], name=n["tag"], wrap=wrap)
            a.node = n
            self.agents.append(a)
            out.append(a)
        return out

    def wait_all(self, agents, timeout):
        """Exit status per agent; fails the test (with everything we know)
        if one is still running after timeout seconds."""
        deadline = time.time() + timeout
        for a in agents:
            try:
                a.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                self.fail("agent %s still running after %ss\n%s" % (a.name, timeout, self.explain(agents)))
        return {a.name: a.proc.returncode for a in agents}

    def explain(self, agents=None, tail=1500):
        """The first line: each agent's exit status and its last word
        (common.agent_said); then their stderr and the stand-in's logs; then
        the first line again and the stand-in's failed invocations (CI shows
        only the tail of a long failure)."""
        said = []
        for a in agents or self.agents:
            code = a.proc.poll()
            if code != 0:
                said.append("%s exit=%s: %s" % (a.name, code, agent_said(a.output()[1])))
        parts = ["; ".join(said) or "every agent exited 0"]
        for a in agents or self.agents:
            out, err = a.output()
            parts.append("--- agent %s pid %d exit %s ---\n%s" % (a.name, a.pid, a.proc.poll(), err[-tail:]))
        parts.append("--- kong invocations ---\n" + "\n".join(
            "%s %s ppid=%s exit=%s did=%s %.2f-%.2f" % (r.get("tag"), r["argv"][:2], r.get("ppid"), r["exit"],
                                                       r.get("did"), r["start"], r["end"])
            for r in self.st.kong_log_entries()))
        parts.append("--- kong events ---\n" + "\n".join(
            "%.2f %s %s ppid=%s pid=%s %s" % (e["time"], e.get("tag"), e["event"], e.get("ppid"), e.get("pid"),
                                             e.get("sub") or e.get("migration") or "")
            for e in self.st.kong_events()))
        failed = ["%s %s exit=%s" % (r.get("tag"), r["argv"][:2], r["exit"]) for r in self.st.kong_log_entries()
                  if r["exit"] not in (0, None) and r["argv"][:2] != ["migrations", "list"]]
        units = []
        for a in agents or self.agents:
            log = getattr(a, "node", {}).get("unit_log")
            if log and any(r.get("tag") == a.node["tag"] and r["argv"][:1] == ["start"] and r["exit"] not in (0, None)
                           for r in self.st.kong_log_entries()):
                try:
                    with open(log, errors="replace") as f:
                        units.append("%s: %s" % (a.node["unit"], f.read()[-400:].strip()))
                except OSError as e:
                    units.append("%s: %s" % (a.node["unit"], e))
        parts.append("--- in short ---\n%s\nfailed kong invocations: %s\n%s" % (
            parts[0], "; ".join(failed) or "none", "\n".join(units)))
        return "\n".join(parts)

    def agent_by_pid(self, pid, agents=None):
        for a in agents or self.agents:
            if a.pid == pid:
                return a
        return None

    def wait_event(self, pred, timeout, what, agents=None):
        """The first stand-in progress event for which pred is true."""
        return wait_for(lambda: next((e for e in self.st.kong_events() if pred(e)), None), timeout, what,
                        detail=lambda: self.explain(agents), error=self.failureException)

    # ------------------------------------------------------------ schema --
    def kong_env(self):
        return {"KONG_PG_PORT": str(self.st.pg_port), "KONG_PG_PASSWORD": Stack.PASSWORD}

    def schema_list(self):
        """`kong migrations list` exit code, run directly (not logged as a
        node's invocation: tag is None)."""
        code, out, err = self.st.kong("migrations", "list", env=self.kong_env())
        return code

    def schema_meta(self):
        rows = self.st.db_query("SELECT executed, pending FROM schema_meta "
                                "WHERE key = 'schema_meta' AND subsystem = 'core'")
        if not rows:
            return None
        return list(rows[0][0] or []), list(rows[0][1] or [])

    def assertSchemaConsistent(self, expected_executed, agents=None):
        meta = self.schema_meta()
        self.assertIsNotNone(meta, "no schema_meta row\n" + self.explain(agents))
        executed, pending = meta
        self.assertEqual(sorted(executed), sorted(expected_executed),
                         "executed migrations (each exactly once)\n" + self.explain(agents))
        self.assertEqual(pending, [], self.explain(agents))
        self.assertEqual(self.schema_list(), 0, "kong migrations list after the fleet booted")

    # ------------------------------------------------------------ systemd --
    def start_calls(self, unit):
        return [c for c in self.st.systemd_calls() if c["method"] == "StartUnit" and c["name"] == unit]

    def node_ready(self, node):
        import urllib.request
        import urllib.error
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/status/ready" % node["status_port"],
                                        timeout=3) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None
