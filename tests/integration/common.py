#!/usr/bin/python3
"""Shared helpers for kong-bootstrap's integration tests (Debian /usr/bin/python3)."""
import os
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "peers"))

from stack import Stack, StackError, parse_conf  # noqa: E402,F401
import systemd_template  # noqa: E402,F401


def password_fragments(pw=Stack.PASSWORD):
    """PASSWORD and distinctive substrings, plus common escaped renderings."""
    frags = {pw, "k0ng#pa", "pa;ss", "ss\"w'o", "o$rd", "rd\\ x"}
    # escaped forms a renderer/logger might produce
    frags.add(pw.replace("\\", "\\\\").replace('"', '\\"'))           # JSON / C string
    frags.add("".join("\\" + c if c in '"\\`$' else c for c in pw))  # systemd "..." form
    return sorted(frags)


def slurp(path):
    """A file's bytes."""
    with open(path, "rb") as f:
        return f.read()


def agent_said(stderr, notify=()):
    """The agent's own one-line account of how its run ended, for the first
    line of an assertion message: its last `<stage>: error: …` line on
    stderr, else the last STATUS= it sent systemd (notify: datagrams as
    lists of lines), else its last stderr line."""
    lines = [l.strip() for l in (stderr or "").splitlines() if l.strip()]
    errors = [l for l in lines if ": error: " in l]
    if errors:
        return errors[-1]
    status = [l for m in notify for l in m if l.startswith("STATUS=")]
    if status:
        return status[-1]
    return lines[-1] if lines else "(nothing on stderr)"


class Sampler:
    """A background thread running _run() until the `with` block ends
    (subclasses sample something and wait on self._stop between samples)."""

    def __init__(self):
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        raise NotImplementedError

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(3)
        return False


def start_stack(**kw):
    """A started Stack, or StackError (loudly) when a peer or the agent
    binary is missing; nothing is left running on failure."""
    st = Stack(**kw)
    st.__enter__()
    if not os.access(st.agent_bin, os.X_OK):
        st.__exit__(None, None, None)
        raise StackError("agent binary not found: %s (meson setup build && ninja -C build, "
                         "or set KONG_BOOTSTRAP_BIN)" % st.agent_bin)
    return st


class StackTestCase(unittest.TestCase):
    """One Stack per test class; fresh DB, unit, logs, files per test."""
    st = None

    @classmethod
    def setUpClass(cls):
        cls.st = start_stack()

    @classmethod
    def tearDownClass(cls):
        if cls.st is not None:
            cls.st.__exit__(None, None, None)

    def setUp(self):
        self.st.reset()

    # ------------------------------------------------------------------
    def run_agent(self, args=("run", "--oneshot"), **kw):
        code, out, err = self.st.run_agent(list(args), **kw)
        self._last = (code, out, err)
        return code, out, err

    def explain(self):
        """Everything about the last run; the first line is the agent's
        exit status and its own last word (agent_said)."""
        code, out, err = getattr(self, "_last", (None, "", ""))
        return ("exit=%s, the agent said: %s\n--- stdout ---\n%s\n--- stderr ---\n%s\n--- kong log ---\n%s\n"
                "--- systemd ---\n%s" % (code, agent_said(err, self.st.notify_messages()), out, err,
                                         self.st.kong_log_entries(), self.st.systemd_calls()))

    def assertExit(self, expected, code):
        self.assertEqual(code, expected, self.explain())

    def assertNothingWritten(self):
        self.assertFalse(os.path.exists(self.st.kong_conf), "kong_conf written\n" + self.explain())
        self.assertFalse(os.path.exists(self.st.kong_env_file), "kong_env_file written\n" + self.explain())

    def migrations_argv(self):
        """The `kong migrations <sub>` subcommands the agent ran, in order."""
        out = []
        for r in self.st.kong_log_entries():
            a = r["argv"]
            if len(a) >= 2 and a[0] == "migrations":
                out.append(a[1])
        return out

    def wait_ready(self, timeout=10):
        deadline = time.time() + timeout
        r = self.st.kong_ready()
        while time.time() < deadline and r[0] != 200:
            time.sleep(0.1)
            r = self.st.kong_ready()
        return r
