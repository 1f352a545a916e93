#!/usr/bin/python3
"""Issue 7: termination (IMDS target-lifecycle-state, spot notices, SIGTERM)
and the watchdog, with the agent running as a daemon.

Draining must make /status/ready answer 503 first (Kong 3.9's `kong drain`:
POST /status/ready {"status":"draining"}), then wait drain_timeout; on a
termination notice the agent then stops kong.service and completes the
termination hook; on SIGTERM during a shutdown it exits after the drain and
systemd stops Kong after it (kong-bootstrap.service is After=kong.service).

Run: /usr/bin/python3 tests/integration/test_termination.py
"""
import signal
import time
import unittest

from lifecycle_common import TERMINATE_HOOK, LifecycleTestCase, ReadyPoller

DRAIN = 2          # drain_timeout (s)
WATCH = 5          # the agent's IMDS termination watch period (s)


class Termination(LifecycleTestCase):
    def boot(self, env=None, **cfg):
        c = {"drain_timeout": DRAIN, "termination_lifecycle_hook": TERMINATE_HOOK}
        c.update(cfg)
        a = self.start_daemon(self.config(**c), env=env)
        self.wait_booted(a)
        self.assertEqual(self.wait_ready(5)[0], 200)
        return a

    def check_drained(self, a, poller, hook=True):
        """/status/ready 503 before Kong stops, drain_timeout respected,
        StopUnit, then the hook; Kong's unit inactive."""
        story = self.agent_story(a)
        drains = self.events("drain")
        sigs = self.events("signal")
        self.assertEqual(len(drains), 1, story)
        self.assertEqual(len(sigs), 1, story)
        t_drain, t_sig = drains[0]["time"], sigs[0]["time"]
        self.assertEqual(sigs[0]["signal"], signal.SIGTERM)
        self.assertGreaterEqual(t_sig - t_drain, DRAIN - 0.1, "Kong stopped before drain_timeout ran out")
        first_503 = poller.first(lambda c: c == 503)
        first_gone = poller.first(lambda c: c is None, after=t_drain)
        self.assertIsNotNone(first_503, poller.samples[-20:])
        self.assertGreaterEqual(first_503, t_drain - 0.05)
        self.assertLess(first_503, t_sig, "readiness never failed while Kong still ran")
        first_200 = poller.first(lambda c: c == 200)
        self.assertIsNotNone(first_200)
        self.assertTrue(all(c == 200 for t, c in poller.samples if first_200 <= t < t_drain - 0.1),
                        "not ready before the drain")
        self.assertTrue(all(c == 503 for t, c in poller.samples if t_drain + 0.1 < t < t_sig - 0.1),
                        "readiness flapped back during the drain")
        self.assertIsNotNone(first_gone, "Kong still answers")
        stops = self.systemd("StopUnit")
        self.assertEqual(len(stops), 1, story)
        self.assertEqual(stops[0]["name"], "kong.service")
        self.assertGreaterEqual(stops[0]["called"], t_drain + DRAIN - 0.1)
        self.assertEqual(self.st.unit_properties()["ActiveState"], "inactive")
        calls = self.calls()
        if hook:
            self.assertEqual(len(calls), 1, story)
            c = calls[0]
            self.assertEqual((c["status"], c["params"]["Action"], c["params"]["LifecycleHookName"],
                              c["params"]["LifecycleActionResult"]),
                             (200, "CompleteLifecycleAction", TERMINATE_HOOK, "CONTINUE"), c)
            self.assertGreater(c["time"], stops[0]["stopped_time"], "hook completed before Kong stopped")
        else:
            self.assertEqual(calls, [], story)
        return t_drain

    def test_target_lifecycle_state_terminated(self):
        st = self.st
        self.active(TERMINATE_HOOK)
        st.set_lifecycle_state("InService")
        with ReadyPoller(st.status_port) as p:
            a = self.boot()
            time.sleep(WATCH + 1)      # at least one watch saw InService: nothing happens
            self.assertIsNone(a.poll(), self.agent_story(a))
            self.assertEqual(self.events("drain"), [])
            st.set_lifecycle_state("Terminated")
            changed = time.time()
            code = self.wait_exit(a, WATCH + DRAIN + 15)
            ended = time.time()
            time.sleep(0.3)            # the poller sees Kong gone
        self.assertEqual(code, 0, self.agent_story(a))
        t_drain = self.check_drained(a, p)
        self.assertLess(t_drain - changed, WATCH + 1, "the termination watch is slower than 5 s")
        self.assertLess(ended - changed, WATCH + DRAIN + 10)
        self.assertIn("the Auto Scaling group is terminating this instance", self.stderr_of(a))

    def test_spot_interruption_notice(self):
        st = self.st
        with ReadyPoller(st.status_port) as p:
            a = self.boot(termination_lifecycle_hook=None)
            st.set_spot_notice("terminate")
            changed = time.time()
            code = self.wait_exit(a, WATCH + DRAIN + 15)
            time.sleep(0.3)
        self.assertEqual(code, 0, self.agent_story(a))
        t_drain = self.check_drained(a, p, hook=False)
        self.assertLess(t_drain - changed, WATCH + 1)
        self.assertIn("spot instance interruption notice", self.stderr_of(a))

    def test_sigterm_during_shutdown_drains(self):
        """At shutdown kong-bootstrap.service (ordered After=kong.service)
        stops first: it drains, waits drain_timeout, exits 0 and leaves the
        stop of Kong to systemd (a StopUnit queued from inside our own stop
        job would wait behind it).  The mock has no stop ordering, so Kong is
        still running here, 503ing."""
        st = self.st
        self.active(TERMINATE_HOOK)
        with ReadyPoller(st.status_port) as p:
            a = self.boot()
            self.set_system_state("stopping")
            sent = time.time()
            self.sigterm(a)
            code = self.wait_exit(a, DRAIN + 15)
            ended = time.time()
            time.sleep(0.3)
        self.assertEqual(code, 0, self.agent_story(a))
        drains = self.events("drain")
        self.assertEqual(len(drains), 1, self.agent_story(a))
        t_drain = drains[0]["time"]
        self.assertLess(t_drain - sent, 1.5)
        self.assertGreaterEqual(ended - t_drain, DRAIN - 0.1, "exited before drain_timeout ran out")
        self.assertLess(ended - t_drain, DRAIN + 3)
        first_200 = p.first(lambda c: c == 200)
        self.assertTrue(all(c == 200 for t, c in p.samples if first_200 <= t < t_drain - 0.1))
        after = [c for t, c in p.samples if t > t_drain + 0.1]
        self.assertTrue(after and all(c == 503 for c in after), "readiness after the drain: %s" % after[-10:])
        self.assertEqual(self.systemd("StopUnit"), [], "the agent stopped Kong itself at shutdown")
        self.assertEqual(self.events("signal"), [])
        self.assertEqual(self.calls(), [], "termination hook completed on a plain shutdown")
        self.assertIn("the instance is shutting down", self.stderr_of(a))
        self.assertIn("STOPPING=1", [l for r in st.notify_records() for l in r["lines"]])

    def test_sigterm_on_service_restart_leaves_kong_running(self):
        st = self.st
        a = self.boot()
        pid = st.unit_properties()["MainPID"]
        sent = time.time()
        self.sigterm(a)
        code = self.wait_exit(a, 5)
        self.assertEqual(code, 0, self.agent_story(a))
        self.assertLess(time.time() - sent, 2, "exit took too long")
        self.assertEqual(self.events("drain"), [])
        self.assertEqual(self.events("signal"), [])
        self.assertEqual(self.systemd("StopUnit"), [])
        self.assertEqual(self.calls(), [])
        props = st.unit_properties()
        self.assertEqual((props["ActiveState"], props["MainPID"]), ("active", pid))
        self.assertEqual(st.kong_ready()[0], 200)
        self.assertIn("Kong keeps running", self.stderr_of(a))

    def test_watchdog_while_idle(self):
        st = self.st
        a = self.boot(env={"WATCHDOG_USEC": "2000000"})
        t0 = time.time()
        time.sleep(5)
        t1 = time.time()
        pings = [r["time"] for r in st.notify_records() if "WATCHDOG=1" in r["lines"] and t0 <= r["time"] <= t1]
        # sd-event pings at 1/2..3/4 of WatchdogSec: every 1..1.5 s
        self.assertGreaterEqual(len(pings), 3, "WATCHDOG=1 in 5 s idle: %d" % len(pings))
        gaps = [b - a_ for a_, b in zip([t0] + pings, pings + [t1])]
        self.assertLess(max(gaps), 2.0, "a gap of %.2f s would trip WatchdogSec=2s" % max(gaps))
        self.assertIsNone(a.poll())


if __name__ == "__main__":
    unittest.main(verbosity=2)
