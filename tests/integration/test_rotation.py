#!/usr/bin/python3
"""Issue 7: secret rotation while the agent stays running.

The agent checks the secret's VersionId every rotation_interval (2 s here),
proves a new password against Postgres, then rewrites the env file and
reloads kong.service (the systemd mock's ReloadUnit re-reads the env file
and replaces the stand-in Kong, which logs in with the password it got).

Run: /usr/bin/python3 tests/integration/test_rotation.py
"""
import os
import time
import unittest

from common import Sampler, Stack, systemd_template
from lifecycle_common import LifecycleTestCase
from stack import wait_for

NEW_PASSWORD = "r0tated#pa;ss\"w'o$rd\\ y"


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def env_password(path):
    return systemd_template.load_env_file(path).get("KONG_PG_PASSWORD")


class FileWatch(Sampler):
    """Samples a file's bytes every 50 ms: [(time, bytes)] on each change."""

    def __init__(self, path):
        self.path = path
        self.changes = []
        super().__init__()

    def _read(self):
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def _run(self):
        last = self._read()
        self.changes.append((time.time(), last))
        while not self._stop.wait(0.05):
            cur = self._read()
            if cur != last:
                self.changes.append((time.time(), cur))
                last = cur


class Rotation(LifecycleTestCase):
    def boot(self):
        a = self.start_daemon(self.config(rotation_interval=2))
        self.wait_booted(a)
        self.assertEqual(self.wait_ready(5)[0], 200)
        self.assertEqual(env_password(self.st.kong_env_file), Stack.PASSWORD)
        return a

    def reloads(self):
        return self.systemd("ReloadUnit")

    def test_rotation_rewrites_env_file_and_reloads_kong_once(self):
        st = self.st
        a = self.boot()
        story = lambda: self.agent_story(a)  # noqa: E731
        conf_before = read_bytes(st.kong_conf)
        s0 = os.stat(st.kong_env_file)
        # a few unchanged checks first: nothing rewritten, nothing reloaded
        time.sleep(4.5)
        s1 = os.stat(st.kong_env_file)
        self.assertEqual((s0.st_ino, s0.st_mtime_ns), (s1.st_ino, s1.st_mtime_ns))
        self.assertEqual(self.reloads(), [], self.agent_story(a))
        # what a rotation Lambda does: setSecret (the database), then
        # finishSecret (AWSCURRENT moves)
        # (taken before the update: the agent may reload before
        # update_secret() has even returned)
        changed = time.time()
        st.set_db_password(NEW_PASSWORD)
        st.update_secret(password=NEW_PASSWORD)
        wait_for(lambda: env_password(st.kong_env_file) == NEW_PASSWORD, 15,
                 "env file carries the new password", proc=a, detail=story, error=self.failureException)
        # one more interval or two: still exactly one reload
        wait_for(self.reloads, 10, "ReloadUnit", proc=a, detail=story, error=self.failureException)
        time.sleep(5)
        reloads = self.reloads()
        self.assertEqual(len(reloads), 1, self.agent_story(a))
        r = reloads[0]
        self.assertEqual((r["name"], r["result"], r["mode"]), ("kong.service", "done", "replace"), r)
        self.assertGreater(r["called"], changed)
        self.assertNotEqual(r["pid"], r["old_pid"])
        # Kong, restarted with the new environment, logs in with the new password
        self.assertEqual(self.wait_ready(5)[0], 200, self.agent_story(a))
        self.assertEqual(st.unit_properties()["ActiveState"], "active")
        self.assertEqual(read_bytes(st.kong_conf), conf_before, "kong.conf changed")
        self.assertIsNone(a.poll(), "the agent stopped\n" + self.agent_story(a))
        err = self.stderr_of(a)
        self.assertIn("env file rewritten and Kong reloaded", err)
        self.assertEqual(err.count("env file rewritten and Kong reloaded"), 1, err)
        for frag in (Stack.PASSWORD, NEW_PASSWORD):
            self.assertNotIn(frag, err)

    def test_database_lags_old_config_kept_then_updated(self):
        st = self.st
        a = self.boot()
        story = lambda: self.agent_story(a)  # noqa: E731
        old_env = read_bytes(st.kong_env_file)
        with FileWatch(st.kong_env_file) as w:
            st.update_secret(password=NEW_PASSWORD)       # Postgres does not know it yet
            wait_for(lambda: "Postgres does not take the new credentials yet" in self.stderr_of(a), 10,
                     "the agent tried the new password and refused it", proc=a, detail=story,
                     error=self.failureException)
            time.sleep(3)
            self.assertEqual(read_bytes(st.kong_env_file), old_env)
            self.assertEqual(self.reloads(), [], self.agent_story(a))
            self.assertEqual(st.kong_ready()[0], 200, "Kong lost its (still valid) old password")
            db_changed = time.time()
            st.set_db_password(NEW_PASSWORD)
            wait_for(lambda: env_password(st.kong_env_file) == NEW_PASSWORD, 45,
                     "env file updated once Postgres takes the new password", proc=a, detail=story,
                     error=self.failureException)
            time.sleep(3)
        # byte-identical until the database took the password; one change after
        self.assertEqual(w.changes[0][1], old_env)
        self.assertEqual(len(w.changes), 2, [(round(t - db_changed, 2), len(b or b"")) for t, b in w.changes])
        self.assertGreater(w.changes[1][0], db_changed)
        reloads = self.reloads()
        self.assertEqual(len(reloads), 1, self.agent_story(a))
        self.assertGreater(reloads[0]["called"], db_changed)
        self.assertEqual(self.wait_ready(5)[0], 200, self.agent_story(a))
        self.assertIsNone(a.poll())
        err = self.stderr_of(a)
        self.assertIn("keeping the current config", err)
        self.assertNotIn(NEW_PASSWORD, err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
