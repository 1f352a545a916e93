#!/usr/bin/python3
"""Issue 13: a `kong migrations` that never ends meets migrations_timeout.

The leader's `kong migrations bootstrap` here is a launcher that never
ends: it ignores SIGTERM (so only the SIGKILL after the grace period stops
it) and leaves a child of its own behind, in the background, ignoring
SIGTERM too.  Past migrations_timeout the leader stops the whole process
group, fails (exit 14) and abandons the launch hook; the start timeout it
asks systemd for never reaches past the deadline (plus the grace and the
time to report), and heartbeats stop at the deadline.

Run: /usr/bin/python3 tests/integration/test_migrations_timeout.py
"""
import os
import shlex
import time
import unittest

from common import Stack
from lifecycle_common import LAUNCH_HOOK, LifecycleTestCase

EXIT_MIGRATIONS = 14
TIMEOUT = 4
STOP_GRACE = 5       # KONG_STOP_GRACE (agent/kong.c)
REPORT_MARGIN = 30   # KONG_REPORT_MARGIN (agent/kong.c)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class MigrationsTimeout(LifecycleTestCase):
    def hanging_kong(self):
        """A kong whose `migrations bootstrap` never ends; everything else
        is the stack's stand-in."""
        d = os.path.join(self.st.tmp, "hanging-kong")
        os.makedirs(d, exist_ok=True)
        self.pids = os.path.join(d, "pids")
        self.began = os.path.join(d, "began")
        for p in (self.pids, self.began):
            if os.path.exists(p):
                os.unlink(p)
        path = os.path.join(d, "kong")
        with open(path, "w") as f:
            f.write("\n".join([
                "#!/bin/sh",
                'if [ "$1 $2" = "migrations bootstrap" ]; then',
                "  date +%%s.%%N > %s" % shlex.quote(self.began),
                "  trap '' TERM",
                "  sleep 600 </dev/null >/dev/null 2>&1 &",
                "  echo $$ $! >> %s" % shlex.quote(self.pids),
                '  echo "bootstrapping (for ever)"',
                "  while :; do sleep 1; done",
                "fi",
                'exec %s "$@"' % shlex.quote(self.st.kong_bin),
                ""]))
        os.chmod(path, 0o755)
        return path

    def test_hanging_migration_meets_migrations_timeout(self):
        st = self.st
        self.active(LAUNCH_HOOK)
        kong = self.hanging_kong()
        t0 = time.time()
        code, out, err = self.run_agent(config=self.config(
            lifecycle_hook=LAUNCH_HOOK, lifecycle_heartbeat_interval=1, kong_bin=kong,
            migrations_timeout=TIMEOUT), timeout=120)
        took = time.time() - t0
        story = "exit %s after %.1f s\n%s\n--- autoscaling ---\n%s" % (code, took, err, self.calls())
        self.assertEqual(code, EXIT_MIGRATIONS, story)
        self.assertIn("migrations_timeout", err)
        self.assertIn("stopped it and every process it started", err)
        with open(self.began) as f:
            began = float(f.read())
        deadline = began + TIMEOUT

        # the process group is gone: the launcher and its child, both deaf
        # to SIGTERM
        with open(self.pids) as f:
            pids = [int(x) for x in f.read().split()]
        self.assertEqual(len(pids), 2)
        for pid in pids:
            self.assertFalse(pid_alive(pid), "process %d of the hanging migration survived\n%s" % (pid, story))

        # the launch hook is abandoned; no heartbeat after the deadline
        results = [c["params"].get("LifecycleActionResult") for c in self.calls("CompleteLifecycleAction")]
        self.assertEqual(results, ["ABANDON"], story)
        beats = self.calls("RecordLifecycleActionHeartbeat")
        self.assertGreaterEqual(len([b for b in beats if b["time"] < deadline]), 1, story)
        late = [round(b["time"] - deadline, 2) for b in beats if b["time"] > deadline + 0.5]
        self.assertEqual(late, [], "heartbeats after migrations_timeout\n" + story)

        # systemd's start timeout was never extended past the deadline (+
        # the grace to stop Kong and the margin to report)
        extends = []
        for r in st.notify_records():
            for line in r["lines"]:
                if line.startswith("EXTEND_TIMEOUT_USEC="):
                    extends.append((r["time"], int(line.split("=", 1)[1]) / 1e6))
        during = [(t, u) for t, u in extends if t >= began]
        self.assertGreaterEqual(len(during), TIMEOUT - 1, "EXTEND_TIMEOUT_USEC while the migration ran")
        limit = deadline + STOP_GRACE + REPORT_MARGIN + 1.0
        beyond = [(round(t - began, 2), u) for t, u in extends if t + u > limit]
        self.assertEqual(beyond, [], "start timeout extended past migrations_timeout: %d messages\n%s"
                         % (len(extends), story))
        after = [t for t, u in extends if t > deadline + 0.5]
        self.assertEqual(after, [], "EXTEND_TIMEOUT_USEC after the deadline")

        # systemctl status showed elapsed time and deadline
        statuses = [line for r in st.notify_records() for line in r["lines"]
                    if line.startswith("STATUS=") and "(migrations_timeout)" in line]
        self.assertTrue(any(" of %d s " % TIMEOUT in s for s in statuses), statuses)
        self.assertLess(took, TIMEOUT + STOP_GRACE + 30, story)
        print("\n  %d EXTEND_TIMEOUT_USEC messages, the last ending %.1f s past the deadline; exit after %.1f s"
              % (len(extends), max(t + u for t, u in extends) - deadline, took))

    def test_no_heartbeat_while_abandon_is_retried(self):
        """The ABANDON after the deadline meets a throttled Auto Scaling
        (503 twice) and is retried with backoff; those waits must not
        heartbeat the hook the boot is giving up."""
        self.st.set_autoscaling(active=[(Stack.ASG, LAUNCH_HOOK, Stack.INSTANCE_ID)],
                                faults=[{"action": "CompleteLifecycleAction", "status": 503,
                                         "code": "ServiceUnavailable", "count": 2}])
        kong = self.hanging_kong()
        code, out, err = self.run_agent(config=self.config(
            lifecycle_hook=LAUNCH_HOOK, lifecycle_heartbeat_interval=1, kong_bin=kong,
            migrations_timeout=TIMEOUT), timeout=120)
        story = "exit %s\n%s\n--- autoscaling ---\n%s" % (code, err, self.calls())
        self.assertEqual(code, EXIT_MIGRATIONS, story)
        done = self.calls("CompleteLifecycleAction")
        self.assertEqual([(c["status"], c["params"].get("LifecycleActionResult")) for c in done],
                         [(503, "ABANDON"), (503, "ABANDON"), (200, "ABANDON")], story)
        with open(self.began) as f:
            deadline = float(f.read()) + TIMEOUT
        beats = self.calls("RecordLifecycleActionHeartbeat")
        late = [round(b["time"] - deadline, 2) for b in beats if b["time"] > deadline + 0.5]
        self.assertEqual(late, [], "heartbeats while ABANDON was retried\n" + story)


if __name__ == "__main__":
    unittest.main(verbosity=2)
