#!/usr/bin/python3
"""Issue 4: migration policies, table-driven.

Every combination of `migrations` (auto | bootstrap-only | off) and
`migrations_finish` (manual | auto) against a schema in each state that
`kong migrations list` reports:

  0  up to date                 (bootstrapped, nothing new)
  3  needs bootstrap            (empty database)
  4  pending migrations         (`up` ran a migration with a teardown)
  5  new migrations             (a newer Kong knows more migrations)

The state is built with the stand-in kong itself (its knobs: extra
migrations, ":teardown"), checked with `list`, then the logs are cleared and
one agent runs `run --oneshot`.  Each case asserts the subcommands the agent
ran (besides `list`), its exit code, whether it asked systemd to start Kong,
what its stderr says, and the schema state afterwards.

Run: /usr/bin/python3 tests/integration/test_election_policy.py
"""
import re
import unittest

from common import Stack, StackTestCase

EXIT_OK, EXIT_MIGRATIONS = 0, 14
POLICIES = ["auto", "bootstrap-only", "off"]
FINISH = ["manual", "auto"]


def expected(state, mig, fin):
    """(action or None, exit code, Kong started, stderr patterns, state after)."""
    if state == 0:
        return None, EXIT_OK, True, [], 0
    if state == 3:
        if mig == "off":
            return None, EXIT_MIGRATIONS, False, ["forbids", re.escape(mig)], 3
        return "bootstrap", EXIT_OK, True, [], 0
    if state == 5:
        if mig == "auto":
            return "up", EXIT_OK, True, [], 0
        # says why: the schema needs `up` (new migrations) and the policy forbids it
        return None, EXIT_MIGRATIONS, False, [re.escape(mig), r"\bup\b|new migrations"], 5
    if state == 4:
        if mig == "auto" and fin == "auto":
            return "finish", EXIT_OK, True, [], 0
        # Kong runs with pending migrations; an operator must finish them
        return None, EXIT_OK, True, [r"kong migrations finish"], 4
    raise ValueError(state)


class Policies(StackTestCase):
    def kenv(self):
        return {"KONG_PG_PORT": str(self.st.pg_port), "KONG_PG_PASSWORD": Stack.PASSWORD}

    def list_state(self):
        return self.st.kong("migrations", "list", env=self.kenv())[0]

    def make_state(self, state):
        st = self.st
        st.set_kong(extra="")
        if state != 3:
            code, out, err = st.kong("migrations", "bootstrap", env=self.kenv())
            self.assertEqual(code, 0, err)
        if state == 5:
            st.set_kong(extra="002_new")
        if state == 4:
            st.set_kong(extra="002_td:teardown")
            code, out, err = st.kong("migrations", "up", env=self.kenv())
            self.assertEqual(code, 0, err)
        self.assertEqual(self.list_state(), state, "could not build schema state %d" % state)
        st.clear_logs()

    def check(self, state, mig, fin):
        self.make_state(state)
        action, code_exp, started_exp, patterns, after = expected(state, mig, fin)
        cfg = self.st.agent_config(migrations=mig, migrations_finish=fin)
        code, out, err = self.run_agent(config=cfg)
        subs = self.migrations_argv()
        case = "state %d, migrations = %s, migrations_finish = %s" % (state, mig, fin)
        self.assertEqual(code, code_exp, "%s\n%s" % (case, self.explain()))
        self.assertIn("list", subs, case)
        self.assertEqual(subs[0], "list", "%s: inspect first: %s" % (case, subs))
        actions = [s for s in subs if s != "list"]
        self.assertEqual(actions, [action] if action else [], "%s\n%s" % (case, self.explain()))
        if action:
            self.assertEqual(subs[-1], "list", "%s: inspect again after %s: %s" % (case, action, subs))
        starts = [c for c in self.st.systemd_calls() if c["method"] == "StartUnit"]
        self.assertEqual(bool(starts), started_exp, "%s: Kong started: %s\n%s" % (case, starts, self.explain()))
        kong_starts = [r for r in self.st.kong_log_entries() if r["argv"][:1] == ["start"]]
        if not started_exp:
            self.assertEqual(kong_starts, [], case)
        for p in patterns:
            self.assertTrue(re.search(p, err), "%s: stderr lacks /%s/\n%s" % (case, p, err))
        self.assertEqual(self.list_state(), after, "%s: schema state afterwards" % case)


def _make(state, mig, fin):
    def t(self):
        self.check(state, mig, fin)
    t.__doc__ = "state %d, migrations = %s, migrations_finish = %s" % (state, mig, fin)
    return t


for _s in (0, 3, 4, 5):
    for _m in POLICIES:
        for _f in FINISH:
            setattr(Policies, "test_state%d_%s_%s" % (_s, _m.replace("-", "_"), _f), _make(_s, _m, _f))


if __name__ == "__main__":
    unittest.main(verbosity=2)
