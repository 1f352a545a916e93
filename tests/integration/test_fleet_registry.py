#!/usr/bin/python3
"""The fleet registry around one node (migrations_finish = after-rollout):
what the rollout tests run past (their nodes drain in no time and are
only seen gone).

Draining: on a termination notice, and on systemd's SIGTERM during a
shutdown, the node's row says `draining` for the whole drain (seen in
kong_bootstrap.nodes and by `kong-bootstrap fleet`), and is gone once the
agent has exited.  A SIGTERM that is only a restart of kong-bootstrap (the
system is running) leaves the row as it was.

Run: /usr/bin/python3 tests/integration/test_fleet_registry.py
"""
import json
import os
import re
import signal
import time
import unittest

from fleet_common import A_VERSION, FleetRolloutCase, instance_id
from stack import wait_for

DRAIN = 5            # drain_timeout (s): long enough to see the row say draining


class FleetRegistry(FleetRolloutCase):
    FLEET = 1

    def setUp(self):
        super().setUp()
        self.st.systemd_mock().SetSystemState("running")

    def tearDown(self):
        super().tearDown()
        self.st.systemd_mock().SetSystemState("running")

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
        is open (agent/daemon.c). A row that says ready, or READY=1, come a
        moment earlier, when a SIGTERM would still kill it outright; and
        SIGTERM alone blocked is no sign (glibc's posix_spawn blocks every
        signal for a moment at each kong it starts)."""
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



if __name__ == "__main__":
    unittest.main(verbosity=2)
