#!/usr/bin/python3
"""Issue 13: a wrong clock at boot.

The agent runs under libfaketime (Debian's faketime; the monotonic clock
stays real: FAKETIME_DONT_FAKE_MONOTONIC=1, and tests/peers/timerfd_real.c
preloaded first, since libfaketime moves sd-event's absolute
CLOCK_MONOTONIC timerfds by the fake offset whatever that variable says)
15 minutes fast or slow.
Secrets Manager (tests/peers/faultproxy.py in front of moto) and Auto
Scaling (tests/peers/autoscaling.py) refuse signatures more than 5 minutes
off with AWS's text and a Date header; the agent corrects its signing clock
from that Date, once, logs it once, and boot, lifecycle completion, a
rotation of the secret (the daemon's timers run on the real monotonic
clock) and `render` succeed. Role credentials' Expiration is judged on the
corrected clock too, and the correction record carries its own MESSAGE_ID
in the journal (a stand-in journald, stack.Journal).

Run: /usr/bin/python3 tests/integration/test_clock_skew.py
"""
import os
import re
import tempfile
import time
import unittest

from common import Stack, systemd_template
from lifecycle_common import LAUNCH_HOOK, LifecycleTestCase
from stack import REPO, Journal, wait_for

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
TIMERFD_REAL = os.environ.get("KONG_BOOTSTRAP_TIMERFD_REAL") or os.path.join(REPO, "build", "tests",
                                                                             "timerfd-real.so")
SKEW_RECORD = "clock skew: AWS's clock"


def message_id(name):
    """A MESSAGE_ID_* from agent/http.h, so a renamed or changed id fails here."""
    with open(os.path.join(REPO, "agent", "http.h")) as f:
        return re.search(r'#define %s "([0-9a-f]{32})"' % name, f.read()).group(1)


def faketime_env(offset):
    if not os.path.exists(LIBFAKETIME):
        raise RuntimeError("libfaketime missing: apt-get install faketime (tests/setup-deps)")
    if not os.path.exists(TIMERFD_REAL):
        raise RuntimeError("%s missing: build it (ninja -C build), or set KONG_BOOTSTRAP_TIMERFD_REAL"
                           % TIMERFD_REAL)
    # timerfd_real first: its timerfd_settime() is found before libfaketime's
    return {"LD_PRELOAD": "%s %s" % (TIMERFD_REAL, LIBFAKETIME), "FAKETIME": offset,
            "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_NO_CACHE": "1"}


def env_password(path):
    return systemd_template.load_env_file(path).get("KONG_PG_PASSWORD")


class ClockSkew(LifecycleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.st.start_faultproxy()

    def setUp(self):
        super().setUp()
        self.st.clear_faultproxy()

    def skew_config(self, **kw):
        return self.config(secretsmanager_endpoint=self.st.faultproxy_url, lifecycle_hook=LAUNCH_HOOK,
                           **kw)

    def check_direction(self, offset, expect_sign, new_password):
        st = self.st
        self.active(LAUNCH_HOOK)
        env = faketime_env(offset)
        # the fake clock is in effect in the agent
        a = self.start_daemon(self.skew_config(rotation_interval=2), env=env)
        self.wait_booted(a, timeout=60)
        err = self.stderr_of(a)
        self.assertEqual(err.count(SKEW_RECORD), 1, self.agent_story(a))
        line = [x for x in err.splitlines() if SKEW_RECORD in x][0]
        seconds = int(line.split(" is ", 1)[1].split(" s ", 1)[0])
        self.assertEqual(seconds > 0, expect_sign > 0, line)
        self.assertLess(abs(abs(seconds) - 900), 60, line)

        # Secrets Manager refused the first signature, took the corrected one
        reqs = st.faultproxy_requests()
        self.assertEqual([r["action"] for r in reqs][:2], ["skew", "forward"], reqs)
        self.assertEqual(reqs[0]["status"], 400)
        self.assertEqual(reqs[1]["status"], 200)
        # Auto Scaling: signed on the corrected clock from the start
        done = self.calls("CompleteLifecycleAction")
        self.assertEqual([(c["status"], c["params"].get("LifecycleActionResult")) for c in done],
                         [(200, "CONTINUE")], self.agent_story(a))
        self.assertEqual([c for c in self.calls() if c["status"] != 200], [], self.agent_story(a))

        # Rotation: the daemon's timers fire (real monotonic clock), its
        # GetSecretValue is signed on the corrected clock from the start
        st.set_db_password(new_password)
        st.update_secret(password=new_password)
        wait_for(lambda: env_password(st.kong_env_file) == new_password, 20, "the rotation under a skewed clock",
                 proc=a, detail=lambda: self.agent_story(a), error=self.failureException)
        wait_for(lambda: [r for r in st.systemd_calls() if r.get("method") == "ReloadUnit"], 10,
                 "Kong reloaded", proc=a, detail=lambda: self.agent_story(a), error=self.failureException)
        self.assertEqual(self.wait_ready(5)[0], 200, self.agent_story(a))
        err = self.stderr_of(a)
        self.assertIn("env file rewritten and Kong reloaded", err)
        self.assertEqual(err.count(SKEW_RECORD), 1, self.agent_story(a))
        # one refusal at boot, then every GetSecretValue (the boot's, the
        # rotation checks') signed right and answered
        reqs = st.faultproxy_requests()
        self.assertEqual([r["action"] for r in reqs], ["skew"] + ["forward"] * (len(reqs) - 1), reqs)
        self.assertGreaterEqual(len(reqs), 3, "boot + the rotation check: %s" % reqs)
        self.assertEqual({r["status"] for r in reqs[1:]}, {200}, reqs)
        for text in (err, self.agent_story(a)):
            self.assertNotIn(new_password, text)
        self.assertIsNone(a.poll(), self.agent_story(a))
        self.sigterm(a)
        self.wait_exit(a, 60)

        # render: a process of its own, its own correction
        st.clear_faultproxy()
        code, out, err = self.run_agent(("render",), config=self.skew_config(), env=env)
        self.assertEqual(code, 0, err)
        self.assertEqual(err.count(SKEW_RECORD), 1, err)
        self.assertIn("pg_host", out)
        for text in (err, out):
            self.assertNotIn(Stack.PASSWORD, text)

    def test_clock_15_minutes_fast(self):
        self.check_direction("+15m", -1, "Rotated-on-a-fast-clock-4k")

    def test_clock_15_minutes_slow(self):
        self.check_direction("-15m", +1, "Rotated-on-a-slow-clock-8m")

    def test_credentials_expiry_judged_on_the_corrected_clock(self):
        """Role credentials expiring 12 minutes from now (AWS's time): on
        the agent's clock, 15 minutes fast, they expired 3 minutes ago, so
        every use would read them again from IMDS; on the corrected clock
        they have 12 minutes left, more than the 5-minute refresh margin.
        The one refresh allowed is the boot's first, before AWS's Date has
        told the agent its offset."""
        st = self.st
        creds = dict(st.role_credentials)
        creds["Expiration"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 12 * 60))
        st.set_imds(credentials=creds)
        cfg = self.config(secretsmanager_endpoint=st.faultproxy_url, rotation_interval=2)
        a = self.start_daemon(cfg, env=faketime_env("+15m"))
        self.wait_booted(a, timeout=60)
        gets = lambda: [r for r in st.faultproxy_requests() if r["action"] == "forward"]  # noqa: E731
        wait_for(lambda: len(gets()) >= 4, 30, "the boot's GetSecretValue and three rotation checks", proc=a,
                 detail=lambda: self.agent_story(a), error=self.failureException)
        err = self.stderr_of(a)
        self.assertEqual(err.count(SKEW_RECORD), 1, self.agent_story(a))
        self.assertEqual(err.count("role credentials refreshed"), 1,
                         "credentials judged expired on the uncorrected clock\n" + self.agent_story(a))
        self.assertEqual({r["status"] for r in gets()}, {200}, gets())
        self.sigterm(a)
        self.wait_exit(a, 60)

    def test_skew_record_carries_its_message_id(self):
        """In the journal (a stand-in journald, stack.Journal), the one
        correction record has its own MESSAGE_ID, so operators can find it
        with journalctl MESSAGE_ID=…; no other record has it."""
        j = Journal(tempfile.mkdtemp(prefix="journal-", dir=self.st.tmp))
        self.addCleanup(j.close)
        code, out, err = self.st.run_agent(("render",), config=self.skew_config(), env=faketime_env("-15m"),
                                           wrap=j.wrap())
        self.assertEqual(code, 0, err + j.text())
        wait_for(lambda: j.records(STAGE="secrets"), 5, "the secrets stage's record in the journal",
                 error=self.failureException)
        skew = j.records(MESSAGE_ID=message_id("MESSAGE_ID_CLOCK_SKEW"))
        self.assertEqual(len(skew), 1, j.text())
        self.assertIn(SKEW_RECORD, skew[0]["MESSAGE"])
        self.assertEqual([r for r in j.records() if SKEW_RECORD in r.get("MESSAGE", "")], skew, j.text())
        self.assertEqual(err, "", "stderr is the journal's stream: nothing is written there")

    def test_right_clock_no_record(self):
        """Control: the same boot without faketime logs no correction."""
        self.active(LAUNCH_HOOK)
        a = self.start_daemon(self.skew_config())
        self.wait_booted(a, timeout=60)
        self.assertNotIn(SKEW_RECORD, self.stderr_of(a))
        self.assertEqual([r["action"] for r in self.st.faultproxy_requests()], ["forward"])
        self.sigterm(a)
        self.wait_exit(a, 60)


if __name__ == "__main__":
    unittest.main(verbosity=2)
