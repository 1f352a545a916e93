#!/usr/bin/python3
"""`kong-bootstrap status [--wait] [--json]` against the real agent: the
state a run records in status_file while it boots, when it fails and when
Kong is ready; --wait through a slow boot (Postgres down, then up) ends 0,
through a failed boot ends 20 with the reason; the --json schema; an agent
that is not running; an unprivileged user reading the state through a 0711
directory; no secret in the status file, and every other file of the run
directory 0600.

Run: /usr/bin/python3 tests/integration/test_status.py
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from aws_support import EXIT_CONFIG, EXIT_SECRETS, AwsTestCase
from common import slurp
import unittest

READY, FAILED, BOOTING, DRAINING, NOT_RUNNING = 0, 20, 21, 22, 23
SCHEMA = {"status": str, "stage": str, "boot_started": str, "elapsed_seconds": (int, float),
          "agent_running": bool, "pid": int, "exit_status": (int, type(None)), "error": (str, type(None)),
          "status_file": str}


class Status(AwsTestCase):
    def status(self, *args, config=None, timeout=30):
        """`kong-bootstrap status ARGS` as a script would run it."""
        p = subprocess.run([self.st.agent_bin, "-c", config or self.config(), "status"] + list(args),
                           env=self.st.agent_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
        self.assertNoSecretsIn(p.stdout + p.stderr, "status output")
        return p.returncode, p.stdout, p.stderr

    def status_json(self, *args, **kw):
        code, out, err = self.status("--json", *args, **kw)
        self.assertEqual(err, "")
        return code, json.loads(out)

    def start(self, args, config, name):
        a = self.st.start_agent(args=args, config=config, name=name)
        self.addCleanup(a.cleanup)
        return a

    def assertStatusFileClean(self):
        text = slurp(self.st.status_file).decode()
        self.assertNoSecretsIn(text, "status file")
        self.assertEqual(os.stat(self.st.status_file).st_mode & 0o7777, 0o644)

    def assertSchema(self, doc):
        self.assertEqual(set(doc), set(SCHEMA), doc)
        for k, t in SCHEMA.items():
            self.assertIsInstance(doc[k], t, "%s: %r" % (k, doc))
        self.assertRegex(doc["boot_started"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(doc["status_file"], self.st.status_file)

    # ------------------------------------------------------------ slow --
    def test_wait_through_a_slow_boot(self):
        st = self.st
        cfg = self.config(pg_wait_timeout=90)
        st.stop_postgres()
        self.addCleanup(st.start_postgres)
        agent = self.start(["run", "--oneshot"], cfg, "boot")
        waiter = self.start(["status", "--wait", "--json"], cfg, "waiter")

        deadline, doc = time.time() + 30, {}
        while time.time() < deadline and doc.get("stage") != "database":
            code, doc = self.status_json(config=cfg) if os.path.exists(st.status_file) else (None, {})
            time.sleep(0.1)
        self.assertEqual(doc.get("stage"), "database", "the agent never reached the database wait\n%s"
                         % (agent.output(),))
        self.assertEqual(code, BOOTING)
        self.assertSchema(doc)
        self.assertEqual((doc["status"], doc["agent_running"], doc["pid"], doc["error"], doc["exit_status"]),
                         ("booting", True, agent.pid, None, None))
        code, out, err = self.status(config=cfg)
        self.assertEqual(code, BOOTING)
        self.assertRegex(out, r"(?m)^status: booting\nstage: database\nelapsed: \d+\.\d s \(boot started "
                              r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)\nagent: running \(pid %d\)$" % agent.pid)

        time.sleep(2)
        self.assertIsNone(waiter.poll(), "status --wait returned while Postgres was down: %r"
                          % (waiter.output(),))
        self.assertIsNone(agent.poll())
        st.start_postgres()
        self.assertEqual(agent.wait(90), 0, agent.output())
        self.assertEqual(waiter.wait(30), READY, waiter.output())
        doc = json.loads(waiter.output()[0])
        self.assertSchema(doc)
        self.assertEqual((doc["status"], doc["stage"], doc["exit_status"], doc["error"]),
                         ("ready", "boot", 0, None))
        self.assertGreaterEqual(doc["elapsed_seconds"], 2.0)   # it spans the Postgres outage
        self.assertLess(waiter.ended - agent.ended, 5.0, "status --wait answered late")
        # --oneshot: ready, and the agent is gone; still ready.
        code, out, err = self.status(config=cfg)
        self.assertEqual(code, READY, out + err)
        self.assertRegex(out, r"(?m)^status: ready\nstage: boot\n")
        self.assertIn("agent: not running (was pid %d)" % agent.pid, out)
        self.assertStatusFileClean()

    # ---------------------------------------------------------- failed --
    def test_wait_through_a_failed_boot(self):
        cfg = self.config(secret_id="prod/kong/no-such-secret")
        # Started before the agent: no status file yet, --wait waits for one.
        waiter = self.start(["status", "--wait"], cfg, "waiter")
        time.sleep(1)
        self.assertIsNone(waiter.poll(), waiter.output())
        code, out, err = self.run_timed(config=cfg)
        self.assertExit(EXIT_SECRETS, code)
        self.assertEqual(waiter.wait(30), FAILED, waiter.output())
        out = waiter.output()[0]
        self.assertRegex(out, r"(?m)^status: failed\nstage: secrets\nelapsed: ")
        self.assertIn("\nexit status: 12\n", out)
        m = re.search(r"(?m)^error: (.*)$", out)
        self.assertTrue(m, out)
        self.assertIn("secret_id from %s" % cfg, m.group(1))
        self.assertIn("no-such-secret", m.group(1))
        # The same words systemd's STATUS= carried.
        status_lines = [l for msg in self.st.notify_messages() for l in msg if l.startswith("STATUS=failed")]
        self.assertEqual(status_lines[-1], "STATUS=failed at secrets: " + m.group(1))
        code, doc = self.status_json(config=cfg)
        self.assertEqual(code, FAILED)
        self.assertSchema(doc)
        self.assertEqual((doc["status"], doc["stage"], doc["exit_status"], doc["error"]),
                         ("failed", "secrets", EXIT_SECRETS, m.group(1)))
        self.assertStatusFileClean()

    def test_a_run_whose_config_fails_says_so(self):
        """Not the previous run's state: a run that cannot load its
        configuration records that, at the status_file it read."""
        cfg = self.config()
        code, out, err = self.run_timed(config=cfg)
        self.assertBooted(code)
        self.assertEqual(self.status(config=cfg)[0], READY)
        code, out, err = self.run_timed(args=["--set", "drain_timeout=forever", "run", "--oneshot"],
                                        config=cfg)
        self.assertExit(EXIT_CONFIG, code)
        code, doc = self.status_json(config=cfg)
        self.assertEqual((code, doc["status"], doc["stage"], doc["exit_status"]),
                         (FAILED, "failed", "config", EXIT_CONFIG), doc)
        self.assertIn("drain_timeout", doc["error"])

    def test_failed_boot_after_the_secret_leaks_nothing(self):
        """A failure once the password is known (Postgres refuses it):
        the status file carries the error, not the password."""
        self.st.set_db_password("not-the-secret-one")
        self.addCleanup(self.st.set_db_password, self.st.PASSWORD)
        cfg = self.config(pg_wait_timeout=3)
        code, out, err = self.run_timed(config=cfg)
        self.assertNotEqual(code, 0)
        code, doc = self.status_json(config=cfg)
        self.assertEqual((code, doc["status"], doc["stage"]), (FAILED, "failed", "database"), doc)
        self.assertStatusFileClean()

    # -------------------------------------------------------- draining --
    def test_ready_then_draining_then_stopped(self):
        """The daemon stays after ready (agent running, exit 0); on a
        termination it drains (22, the reason shown), and once it is gone,
        stopped (22)."""
        st = self.st
        st.set_lifecycle_state("InService")
        cfg = self.config(drain_timeout=4)
        agent = self.start(["run"], cfg, "daemon")
        code, out, err = self.status("--wait", config=cfg, timeout=90)
        self.assertEqual(code, READY, out + err + repr(agent.output()))
        self.assertIn("agent: running (pid %d)" % agent.pid, out)
        self.assertIsNone(agent.poll())

        st.set_lifecycle_state("Terminated")
        deadline, doc = time.time() + 20, {}
        while time.time() < deadline and doc.get("status") != "draining":
            code, doc = self.status_json(config=cfg)
            time.sleep(0.1)
        self.assertEqual((code, doc.get("status"), doc.get("stage")), (DRAINING, "draining", "drain"),
                         agent.output())
        self.assertIn("terminating this instance", doc["error"])
        self.assertTrue(doc["agent_running"])
        # --wait does not wait for a node that is going away.
        self.assertEqual(self.status("--wait", config=cfg)[0], DRAINING)
        self.assertEqual(agent.wait(30), 0, agent.output())
        code, out, err = self.status(config=cfg)
        self.assertEqual(code, DRAINING, out + err)
        self.assertIn("status: stopped\nstage: drain\n", out)
        self.assertRegex(out, r"(?m)^reason: .*terminating this instance")
        self.assertStatusFileClean()

    # ------------------------------------------------------ not running --
    def test_not_running(self):
        cfg = self.config()
        code, out, err = self.status(config=cfg)
        self.assertEqual(code, NOT_RUNNING, out + err)
        self.assertIn("status: not-running\nno status file %s" % self.st.status_file, out)
        code, doc = self.status_json(config=cfg)
        self.assertEqual((code, doc["status"], doc["stage"], doc["agent_running"]),
                         (NOT_RUNNING, "not-running", None, False))

        # A boot killed mid-way: its file says booting, its pid is gone.
        agent = self.start(["run", "--oneshot"], self.config(pg_wait_timeout=60), "killed")
        self.st.stop_postgres()
        self.addCleanup(self.st.start_postgres)
        deadline = time.time() + 30
        while time.time() < deadline and b'"stage":"database"' not in (
                slurp(self.st.status_file) if os.path.exists(self.st.status_file) else b""):
            time.sleep(0.1)
        agent.killpg(signal.SIGKILL)
        agent.wait(10)
        code, out, err = self.status(config=cfg)
        self.assertEqual(code, NOT_RUNNING, out + err)
        self.assertIn("status: not-running\nstage: database\n", out)
        self.assertIn("agent: not running (was pid %d)" % agent.pid, out)
        self.assertIn("error: the agent stopped at stage database without recording an outcome", out)

    def test_unreadable_and_malformed(self):
        cfg = self.config()
        os.makedirs(os.path.dirname(self.st.status_file), exist_ok=True)
        with open(self.st.status_file, "w") as f:
            f.write("{\"state\": \"ready\"}\n")
        code, out, err = self.status(config=cfg)
        self.assertEqual((code, out), (1, ""))
        self.assertIn("is not a kong-bootstrap status file", err)
        code, out, err = self.status("--oneshot", config=cfg)
        self.assertEqual(code, 2)

    # ------------------------------------------------------ privileges --
    def test_unprivileged_user_reads_the_state(self):
        """As on an instance: the runtime directory 0711 (the unit's
        RuntimeDirectoryMode=), status.json 0644 inside; user nobody runs
        status, reads the state, and still cannot list the directory or
        read anything else there."""
        d = tempfile.mkdtemp(prefix="kb-status-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        run = os.path.join(d, "run")
        status_file = os.path.join(run, "status.json")
        bin_copy = os.path.join(d, "kong-bootstrap")
        shutil.copy(self.st.agent_bin, bin_copy)
        os.chmod(bin_copy, 0o755)
        nobody_conf = os.path.join(d, "kong-bootstrap.conf")
        with open(nobody_conf, "w") as f:
            f.write("status_file = %s\n" % status_file)
        os.chmod(nobody_conf, 0o644)

        code, out, err = self.run_timed(env={"KONG_BOOTSTRAP_STATUS_FILE": status_file})
        self.assertBooted(code)
        self.assertEqual(os.stat(run).st_mode & 0o7777, 0o711)   # created so when missing
        # Something secret-bearing beside it, as kong.env is on an instance.
        private = os.path.join(run, "kong.env")
        fd = os.open(private, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)

        def as_nobody(*argv):
            return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
                                  + list(argv), env=self.st.agent_env({"KONG_BOOTSTRAP_STATUS_FILE": None}),
                                  capture_output=True, text=True,
                                  timeout=30)
        p = as_nobody(bin_copy, "-c", nobody_conf, "status", "--json")
        self.assertEqual(p.returncode, READY, p.stdout + p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual((doc["status"], doc["stage"], doc["status_file"]), ("ready", "boot", status_file))
        self.assertNotEqual(as_nobody("ls", run).returncode, 0, "nobody lists the runtime directory")
        self.assertNotEqual(as_nobody("cat", private).returncode, 0, "nobody reads a 0600 file there")

    def test_run_directory_modes(self):
        """After a boot, the stack's run directory (the env file's, as on an
        instance): status.json 0644, every other file 0600."""
        code, out, err = self.run_timed()
        self.assertBooted(code)
        d = os.path.dirname(self.st.kong_env_file)
        modes = {n: os.stat(os.path.join(d, n)).st_mode & 0o7777 for n in os.listdir(d)}
        self.assertEqual(modes.pop("status.json"), 0o644)
        self.assertIn("kong.env", modes)
        self.assertEqual({n: m for n, m in modes.items() if m & 0o077}, {}, modes)
        self.assertStatusFileClean()


if __name__ == "__main__":
    unittest.main(verbosity=2)
