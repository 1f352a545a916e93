#!/usr/bin/python3
"""Issue 13: the termination watch is never starved.

The daemon is one sd-event loop. A rotation check waits on Secrets Manager
(GetSecretValue), on PostgreSQL (the new password's login test) and on
systemd (Kong's reload job); none of those waits may delay noticing a spot
interruption notice or a Terminated lifecycle state by more than one watch
interval (5 s). Here Secrets Manager answers after SLOW seconds (a delay
rule of tests/peers/faultproxy.py in front of moto), or Kong's reload job
ends after SLOW seconds (the systemd mock's SetJobDelay), and the notice
comes while the rotation check waits: the drain (POST /status/ready
{"status":"draining"} to the stand-in Kong) must start within
WATCH + MARGIN of the notice, far less than SLOW. The same for systemd's
SIGTERM (a `systemctl stop`, and a shutdown, which drains): the agent exits
0 within STOP_WITHIN, files untouched, no password in its output.

The notice comes at a random moment of the watch's period (the worst case
is a notice just after a watch read IMDS); each case prints its measured
delay (notice -> drain) on stderr.

Run: /usr/bin/python3 tests/integration/test_termination_watch.py
"""
import os
import random
import sys
import time
import unittest

from common import Stack, slurp, systemd_template
from lifecycle_common import TERMINATE_HOOK, LifecycleTestCase
from stack import wait_for

WATCH = 5          # the agent's termination watch period (s)
MARGIN = 3         # generous: IMDS reads, the abandoned work unwinding, a loaded machine
SLOW = 60          # the slow peer's delay (s): far beyond WATCH + MARGIN
DRAIN = 1          # drain_timeout (s)
STOP_WITHIN = DRAIN + 4   # SIGTERM -> exit: a second to notice, the drain, a loaded machine
NEW_PASSWORD = "Rotated-while-slow-7q"


def env_password(path):
    """As systemd reads it for kong.service's EnvironmentFile=."""
    return systemd_template.load_env_file(path).get("KONG_PG_PASSWORD")


class TerminationWatch(LifecycleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.st.start_faultproxy()

    def setUp(self):
        super().setUp()
        self.st.clear_faultproxy()
        self.st.systemd_mock().SetJobDelay("ReloadUnit", 0.0)
        self.st.set_spot_notice(None)
        self.st.set_lifecycle_state("InService")

    def tearDown(self):
        super().tearDown()
        self.st.systemd_mock().SetJobDelay("ReloadUnit", 0.0)
        self.st.set_spot_notice(None)
        self.st.set_lifecycle_state("InService")
        self.st.clear_faultproxy()

    def boot(self, **cfg):
        c = {"secretsmanager_endpoint": self.st.faultproxy_url, "rotation_interval": 2,
             "drain_timeout": DRAIN}
        c.update(cfg)
        a = self.start_daemon(self.config(**c))
        self.wait_booted(a)
        self.assertEqual(self.wait_ready(5)[0], 200)
        return a

    def slow_secrets_manager(self, a):
        """From now on GetSecretValue answers after SLOW s; returns once a
        rotation check's request is held there."""
        self.st.set_faultproxy([{"action": "forward", "delay": SLOW, "target": "GetSecretValue",
                                 "announce": True}])
        wait_for(lambda: [r for r in self.st.faultproxy_requests() if r["action"] == "arrived"], 10,
                 "a rotation check's GetSecretValue held by the slow Secrets Manager", proc=a,
                 detail=lambda: self.agent_story(a), error=self.failureException)
        time.sleep(1 + random.uniform(0, WATCH))   # well into the wait, at any phase of the watch
        held = [r for r in self.st.faultproxy_requests() if r["action"] == "arrived"]
        self.assertEqual([r for r in self.st.faultproxy_requests() if r["action"] != "arrived" and r["rule"] == 0],
                         [], "a slow GetSecretValue was answered: the test would not hold the rotation check")
        return held

    def drain_delay(self, a, noticed):
        """Seconds from the notice to the drain's POST at the stand-in Kong
        (waits up to SLOW / 2 so that a starved watch is measured, not hung on)."""
        wait_for(lambda: self.events("drain"), SLOW / 2, "the drain", proc=a,
                 detail=lambda: self.agent_story(a), error=self.failureException)
        delay = self.events("drain")[0]["time"] - noticed
        sys.stderr.write("\n  %s: notice -> drain %.2f s\n" % (self.id().split(".")[-1], delay))
        return delay

    def check_abandoned(self, a, code, hook=False):
        story = self.agent_story(a)
        self.assertEqual(code, 0, story)
        err = self.stderr_of(a)
        self.assertIn("rotation check abandoned", err)
        for noise in ("cannot check the secret for rotation", "Kong still runs with the previous password",
                      "cannot apply the new secret version"):
            self.assertNotIn(noise, err, "an abandoned check reported as a failure")
        for frag in (Stack.PASSWORD, NEW_PASSWORD):
            self.assertNotIn(frag, err)
        stops = self.systemd("StopUnit")
        self.assertEqual([s["name"] for s in stops], ["kong.service"], story)
        self.assertEqual(self.st.unit_properties()["ActiveState"], "inactive")
        done = self.calls("CompleteLifecycleAction")
        if hook:
            self.assertEqual([(c["status"], c["params"]["LifecycleActionResult"]) for c in done],
                             [(200, "CONTINUE")], story)
        else:
            self.assertEqual(done, [], story)

    def test_spot_notice_while_secrets_manager_is_slow(self):
        a = self.boot()
        held = self.slow_secrets_manager(a)
        self.st.set_spot_notice("terminate")
        noticed = time.time()
        delay = self.drain_delay(a, noticed)
        self.assertLess(delay, WATCH + MARGIN, self.agent_story(a))
        code = self.wait_exit(a, DRAIN + 20)
        self.check_abandoned(a, code)
        self.assertIn("spot instance interruption notice", self.stderr_of(a))
        # the held request was the one in progress when the notice came
        self.assertLess(held[0]["time"], noticed)

    def test_terminated_state_while_secrets_manager_is_slow(self):
        self.active(TERMINATE_HOOK)
        a = self.boot(termination_lifecycle_hook=TERMINATE_HOOK)
        self.slow_secrets_manager(a)
        self.st.set_lifecycle_state("Terminated")
        noticed = time.time()
        delay = self.drain_delay(a, noticed)
        self.assertLess(delay, WATCH + MARGIN, self.agent_story(a))
        code = self.wait_exit(a, DRAIN + 20)
        self.check_abandoned(a, code, hook=True)
        self.assertIn("the Auto Scaling group is terminating this instance", self.stderr_of(a))

    def test_spot_notice_while_kong_reload_is_slow(self):
        st = self.st
        a = self.boot()
        st.systemd_mock().SetJobDelay("ReloadUnit", float(SLOW))
        st.set_db_password(NEW_PASSWORD)
        st.update_secret(password=NEW_PASSWORD)
        wait_for(lambda: self.systemd("ReloadUnit"), 15, "the rotation's ReloadUnit", proc=a,
                 detail=lambda: self.agent_story(a), error=self.failureException)
        time.sleep(1 + random.uniform(0, WATCH))   # the agent waits for the reload job, held SLOW s
        st.set_spot_notice("terminate")
        noticed = time.time()
        delay = self.drain_delay(a, noticed)
        self.assertLess(delay, WATCH + MARGIN, self.agent_story(a))
        code = self.wait_exit(a, DRAIN + 20)
        self.check_abandoned(a, code)
        # the files were written before the reload, whole: the new password
        self.assertEqual(env_password(st.kong_env_file), NEW_PASSWORD)
        self.assertEqual(len(self.systemd("ReloadUnit")), 1)

    def test_spot_notice_while_the_fleet_registry_waits_on_a_mute_database(self):
        # migrations_finish = after-rollout: the fleet tick runs statements
        # on its registry connection, each answer due within 10 s. The
        # database goes mute (tests/peers/mute_relay.py: server side
        # closed, client side silent, new connections never answered); a
        # notice while a tick waits there must still start the drain
        # within a watch interval, and the exit must not wait on the
        # database for more than one attempt at each registry update.
        st = self.st
        relay = st.start_mute_relay()
        self.addCleanup(relay.stop)
        a = self.boot(pg_port=relay.port, migrations_finish="after-rollout", fleet_heartbeat_interval=2)
        story = lambda: self.agent_story(a)  # noqa: E731
        wait_for(lambda: st.db_query("SELECT count(*) FROM kong_bootstrap.nodes WHERE state = 'ready'")[0][0]
                 == 1, 10, "this node's registry row", proc=a, detail=story, error=self.failureException)
        self.assertGreaterEqual(relay.mute(), 1)
        time.sleep(3 + random.uniform(0, 1))    # the next tick (every ~2 s) waits on the mute connection
        st.set_spot_notice("terminate")
        noticed = time.time()
        delay = self.drain_delay(a, noticed)
        self.assertLess(delay, WATCH + MARGIN, story())
        code = self.wait_exit(a, DRAIN + 40)
        took = time.time() - noticed
        sys.stderr.write("  notice -> exit %.2f s\n" % took)
        self.assertEqual(code, 0, story())
        err = self.stderr_of(a)
        self.assertIn("fleet check abandoned", err)
        self.assertIn("stopped waiting for Postgres's answer: this node is being terminated", err)
        self.assertIn("cannot mark this node draining in the fleet registry", err)
        self.assertIn("its row goes stale", err)
        # the drain's two registry updates: one connection attempt (10 s) at most
        self.assertLess(took, WATCH + MARGIN + DRAIN + 15, story())
        self.assertEqual([s["name"] for s in self.systemd("StopUnit")], ["kong.service"], story())

    # systemd's SIGTERM while a rotation check waits on the slow Secrets
    # Manager: the pending signal ends the wait (the interrupt hook asks
    # sigpending() at least every second), so the agent stops within
    # STOP_WITHIN, not after the slow reply (or the 30 s of retries).
    def sigterm_while_slow(self):
        st = self.st
        a = self.boot()
        files = {p: slurp(p) for p in (st.kong_conf, st.kong_env_file)}
        self.slow_secrets_manager(a)
        sent = time.time()
        self.sigterm(a)
        code = self.wait_exit(a, SLOW / 2)
        took = time.time() - sent
        sys.stderr.write("\n  %s: SIGTERM -> exit %.2f s\n" % (self.id().split(".")[-1], took))
        story = self.agent_story(a)
        self.assertEqual(code, 0, story)   # EXIT_OK: a stop is no failure
        self.assertLess(took, STOP_WITHIN, story)
        # the held GetSecretValue was not answered before the agent left
        self.assertEqual([r for r in st.faultproxy_requests() if r["action"] != "arrived" and r["rule"] == 0
                          and r["time"] < sent + took], [], "the slow reply came before the exit: no proof")
        err = self.stderr_of(a)
        for noise in ("cannot check the secret for rotation", "Kong still runs with the previous password",
                      "cannot apply the new secret version", "Kong secret settings: keeping"):
            self.assertNotIn(noise, err, "an interrupted check reported as a failure")
        # no half-written file: both as they were, no temporary left beside them
        for p, before in files.items():
            self.assertEqual(slurp(p), before, p)
            left = [f for f in os.listdir(os.path.dirname(p)) if f.endswith(".tmp")]
            self.assertEqual(left, [], "temporary files left in %s" % os.path.dirname(p))
        out = a.output()[0] + err + "\n".join(line for m in st.notify_messages() for line in m)
        self.assertNotIn(Stack.PASSWORD, out)
        return a, err

    def test_sigterm_while_secrets_manager_is_slow(self):
        # `systemctl stop kong-bootstrap` on a running system: stop at once,
        # Kong left running, no drain.
        a, err = self.sigterm_while_slow()
        self.assertIn("stopping on Terminated; the system is running, so Kong keeps running", err)
        self.assertEqual(self.events("drain"), [], self.agent_story(a))
        self.assertEqual(self.systemd("StopUnit"), [])
        self.assertEqual(self.st.unit_properties()["ActiveState"], "active")

    def test_sigterm_at_shutdown_while_secrets_manager_is_slow(self):
        # a system shutdown: the drain (drain_timeout), then the exit;
        # systemd stops Kong after us, so no StopUnit from the agent
        self.set_system_state("stopping")
        a, err = self.sigterm_while_slow()
        self.assertIn("draining: the instance is shutting down", "\n".join(
            line for m in self.st.notify_messages() for line in m), self.agent_story(a))
        self.assertEqual(len(self.events("drain")), 1, self.agent_story(a))
        self.assertIn("Kong drained; systemd stops it after us", err)
        self.assertEqual(self.systemd("StopUnit"), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
