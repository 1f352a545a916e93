#!/usr/bin/python3
"""The database password (and its distinctive substrings) must appear in no
file under the stack's temp dir except kong_env_file, in no agent output and
in no argv the agent gave kong -- after a full boot and after failures.

Run: /usr/bin/python3 tests/integration/test_secrets_leak.py
"""
import os
import unittest

from common import StackTestCase, password_fragments


class SecretsLeak(StackTestCase):
    outputs = []

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.outputs = []

    def run_and_keep(self, **kw):
        code, out, err = self.run_agent(**kw)
        self.outputs.append(("run %s" % kw, out, err))
        return code

    def scan(self):
        st = self.st
        frags = [f.encode() for f in password_fragments()]
        hits = []
        skip = {os.path.realpath(st.kong_env_file)}
        for root, dirs, files in os.walk(st.tmp):
            for fn in files:
                p = os.path.join(root, fn)
                if os.path.realpath(p) in skip or not os.path.isfile(p):
                    continue
                try:
                    with open(p, "rb") as fh:
                        data = fh.read()
                except OSError:
                    continue
                for f in frags:
                    if f in data:
                        hits.append("%s contains %r" % (p, f.decode()))
        for what, out, err in self.outputs:
            for f in password_fragments():
                if f in out or f in err:
                    hits.append("agent output (%s) contains %r" % (what, f))
        for r in st.kong_log_entries():
            for a in r["argv"]:
                for f in password_fragments():
                    if f in a:
                        hits.append("kong argv %r contains %r" % (r["argv"], f))
        self.assertEqual(hits, [])

    def test_leaks_after_boot_and_failures(self):
        st = self.st
        self.assertEqual(self.run_and_keep(), 0, self.explain())
        self.assertEqual(self.run_and_keep(), 0, self.explain())
        for cmd in (["render"], ["check"]):
            code, out, err = self.run_agent(args=cmd)
            self.outputs.append((" ".join(cmd), out, err))
            self.assertNotIn(self.st.PASSWORD, out + err)
        self.scan()
        # failure paths: wrong DB password, kong failures, unit failure
        st.reset()
        st.set_db_password("other")
        self.run_and_keep(config=st.agent_config(pg_wait_timeout=3), timeout=90)
        st.reset()
        st.set_kong(fail="bootstrap")
        self.run_and_keep()
        st.reset()
        st.set_unit_failure("exit-code")
        self.run_and_keep()
        st.reset()
        self.run_and_keep(args=["-v", "run", "--oneshot"])
        self.scan()


if __name__ == "__main__":
    unittest.main(verbosity=2)
