#!/usr/bin/python3
"""Shared by test_lifecycle.py, test_rotation.py and test_termination.py
(issue 7): the stack plus the Auto Scaling emulator, and an agent running as
a daemon (`kong-bootstrap run` without --oneshot) in the background.

Not a test file itself (meson does not list it)."""
import contextlib
import os
import signal
import time
import urllib.error
import urllib.request

from common import Sampler, Stack, StackTestCase, agent_said  # noqa: F401
from stack import wait_for

LAUNCH_HOOK = "kong-launch"
TERMINATE_HOOK = "kong-terminate"


class ReadyPoller(Sampler):
    """GETs /status/ready every `period` s in a thread; samples (time, status)
    with status None when nothing answers (connection refused)."""

    def __init__(self, port, period=0.05):
        self.url = "http://127.0.0.1:%d/status/ready" % port
        self.period = period
        self.samples = []
        super().__init__()

    def _run(self):
        while not self._stop.is_set():
            t = time.time()
            try:
                with urllib.request.urlopen(self.url, timeout=1) as r:
                    code = r.status
            except urllib.error.HTTPError as e:
                code = e.code
            except OSError:
                code = None
            self.samples.append((t, code))
            self._stop.wait(self.period)

    def first(self, pred, after=0.0):
        for t, c in self.samples:
            if t >= after and pred(c):
                return t
        return None


class LifecycleTestCase(StackTestCase):
    """StackTestCase plus the Auto Scaling emulator; background agents are
    killed after each test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.st.start_autoscaling()
        except BaseException:
            cls.st.__exit__(None, None, None)
            cls.st = None
            raise

    def setUp(self):
        super().setUp()
        self.st.clear_autoscaling()
        self.set_system_state("running")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.st.kong_status_path)
        self.agents = []

    def tearDown(self):
        for a in self.agents:
            a.cleanup()

    # ------------------------------------------------------------------
    def set_system_state(self, state):
        self.st.systemd_mock().SetSystemState(state)

    def config(self, **kw):
        cfg = {"autoscaling_endpoint": self.st.autoscaling_url, "autoscaling_group": Stack.ASG}
        cfg.update(kw)
        return self.st.agent_config(**cfg)

    def active(self, *hooks):
        """Make (group, hook, this instance) active for each hook."""
        self.st.set_autoscaling(active=[(Stack.ASG, h, Stack.INSTANCE_ID) for h in hooks])

    def calls(self, action=None):
        return [c for c in self.st.autoscaling_calls() if action is None or c.get("action") == action]

    def events(self, event=None):
        """The stand-in Kong's ready-200 / drain / signal records."""
        return [e for e in self.st.kong_status_events() if event is None or e.get("event") == event]

    def systemd(self, method):
        return [c for c in self.st.systemd_calls() if c.get("method") == method]

    # ------------------------------------------------------------------
    def start_daemon(self, config, env=None, name=None):
        a = self.st.start_agent(("run",), config=config, env=env, name=name or self.id().split(".")[-1])
        self.agents.append(a)
        return a

    def wait_booted(self, agent, timeout=40):
        """Until READY=1 arrives (boot complete, the loop is running)."""
        wait_for(lambda: any("READY=1" in r["lines"] for r in self.st.notify_records()), timeout,
                 "READY=1 from the agent", proc=agent, detail=lambda: self.agent_story(agent),
                 error=self.failureException)

    def wait_exit(self, agent, timeout):
        try:
            return agent.wait(timeout)
        except Exception:
            self.fail("agent still running after %ss\n%s" % (timeout, self.agent_story(agent)))

    def stderr_of(self, agent):
        return agent.output()[1]

    def agent_story(self, agent):
        out, err = agent.output()
        return ("exit=%s, the agent said: %s\n--- agent stderr ---\n%s\n--- autoscaling calls ---\n%s\n"
                "--- systemd ---\n%s\n--- kong events ---\n%s"
                % (agent.poll(), agent_said(err, self.st.notify_messages()), err, self.calls(),
                   self.st.systemd_calls(), self.events()))

    def sigterm(self, agent):
        os.kill(agent.pid, signal.SIGTERM)
