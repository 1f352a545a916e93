#!/usr/bin/python3
"""Issue 18: `kong-bootstrap check` predicts `run`. Each probe fails on its
own (kong_bin, kong_unit, the drop-in, the CA file, the schema's state, the
lifecycle permission), every failure is reported together, and check
changes nothing: no file written, no unit started, no schema changed.

Run: /usr/bin/python3 tests/integration/test_check.py
"""
import glob
import os
import re
import unittest

from common import Stack, password_fragments
from lifecycle_common import LAUNCH_HOOK, LifecycleTestCase
from stack import free_port

EXIT_DATABASE, EXIT_MIGRATIONS, EXIT_SYSTEMD, EXIT_LIFECYCLE, EXIT_FLEET = 13, 14, 16, 18, 19
CHECKS = ["imds", "config", "secrets", "ca", "postgres", "render", "kong", "schema", "unit", "lifecycle"]


class Check(LifecycleTestCase):
    def check(self, **cfg):
        cfg.setdefault("lifecycle_hook", LAUNCH_HOOK)
        code, out, err = self.run_agent(args=("check",), config=self.config(**cfg))
        for frag in password_fragments():
            self.assertNotIn(frag, out + err, "the password reached check's output")
        for r in self.st.kong_log_entries():
            self.assertNotIn(Stack.PASSWORD, " ".join(r["argv"]), "the password in kong's argv")
        return code, self.verdicts(out), out

    @staticmethod
    def verdicts(out):
        """{check: (verdict, text)} from check's lines."""
        got = {}
        for line in out.splitlines():
            m = re.match(r"^(ok|FAIL|skip) +(\S+) +(.*)$", line)
            if m:
                got.setdefault(m.group(2), (m.group(1), m.group(3)))
        return got

    def assertChangedNothing(self):
        self.assertNothingWritten()
        self.assertEqual(self.systemd("StartUnit"), [], self.explain())
        self.assertEqual([m for m in self.migrations_argv() if m != "list"], [], self.explain())
        self.assertEqual(self.calls("CompleteLifecycleAction"), [], self.explain())
        left = glob.glob(os.path.join(os.path.dirname(self.st.kong_env_file), "kong-check-*"))
        self.assertEqual(left, [], "check left its temporary kong.conf behind")
        self.assertIsNone(self.st.db_query("SELECT to_regclass('schema_meta')")[0][0],
                          "check changed the schema")

    def assertVerdicts(self, got, **expected):
        """expected: check=verdict; the others must be ok."""
        for name in CHECKS:
            self.assertIn(name, got, "no line for %s\n%s" % (name, self.explain()))
            self.assertEqual(got[name][0], expected.get(name, "ok"),
                             "%s: %s\n%s" % (name, got[name], self.explain()))

    # ------------------------------------------------------------------
    def test_all_pass_and_nothing_changes(self):
        code, got, out = self.check()
        self.assertExit(0, code)
        self.assertVerdicts(got)
        self.assertIn("needs bootstrap: run would lead 'kong migrations bootstrap'", got["schema"][1])
        self.assertIn("kong.service loaded, reads %s" % self.st.kong_env_file, got["unit"][1])
        self.assertIn("kong-bootstrap.conf", got["unit"][1])
        self.assertIn("hook '%s': heartbeat permitted (no active lifecycle action now)" % LAUNCH_HOOK,
                      got["lifecycle"][1])
        # kong ran as run runs it: version, then list -c a private copy
        argv = [r["argv"] for r in self.st.kong_log_entries()]
        self.assertEqual(argv[0], ["version"], argv)
        self.assertEqual(argv[1][:3], ["migrations", "list", "-c"], argv)
        self.assertRegex(argv[1][3], r"/kong-check-[^/]+\.conf$")
        self.assertEqual(os.path.dirname(argv[1][3]), os.path.dirname(self.st.kong_env_file))
        beats = self.calls("RecordLifecycleActionHeartbeat")
        self.assertEqual([(b["status"], b["code"]) for b in beats], [(400, "ValidationError")], beats)
        self.assertNotIn("fleet", got, "a fleet line although migrations_finish = manual\n" + out)
        self.assertChangedNothing()

    def test_schema_up_to_date(self):
        code, _, _ = self.run_agent(config=self.config())
        self.assertExit(0, code)
        self.st.reset_unit()
        self.st.clear_logs()
        code, got, out = self.check()
        self.assertExit(0, code)
        self.assertEqual(got["schema"], ("ok", "database is up to date"), out)

    def test_before_the_first_boot(self):
        """kong_env_file's directory does not exist yet (the unit's
        RuntimeDirectory= makes it): the schema is still checked, from a
        temporary copy in $TMPDIR, removed afterwards."""
        tmpdir = os.path.join(self.st.tmp, "check-tmp")
        os.makedirs(tmpdir, exist_ok=True)
        env_file = os.path.join(self.st.tmp, "run", "not-yet", "kong.env")
        code, out, err = self.run_agent(args=("check",), env={"TMPDIR": tmpdir},
                                        config=self.config(lifecycle_hook=LAUNCH_HOOK, kong_env_file=env_file))
        got = self.verdicts(out)
        # kong.service reads the stack's env file, not this one
        self.assertExit(EXIT_SYSTEMD, code)
        self.assertVerdicts(got, unit="FAIL")
        argv = [r["argv"] for r in self.st.kong_log_entries() if r["argv"][:2] == ["migrations", "list"]]
        self.assertEqual(len(argv), 1, argv)
        self.assertEqual(os.path.dirname(argv[0][3]), tmpdir)
        self.assertEqual(os.listdir(tmpdir), [])
        self.assertFalse(os.path.exists(os.path.dirname(env_file)), "check created kong_env_file's directory")

    def test_kong_bin_missing(self):
        code, got, out = self.check(kong_bin="/nonexistent/kong")
        self.assertExit(EXIT_MIGRATIONS, code)
        self.assertVerdicts(got, kong="FAIL", schema="skip")
        self.assertIn("cannot run '/nonexistent/kong' (kong_bin)", got["kong"][1])
        self.assertIn("kong_bin from ", got["kong"][1])
        self.assertEqual(got["schema"][1], "not checked: needs kong")
        self.assertChangedNothing()

    def test_kong_bin_fails(self):
        code, got, out = self.check(kong_bin="/bin/false")
        self.assertExit(EXIT_MIGRATIONS, code)
        self.assertVerdicts(got, kong="FAIL", schema="skip")
        self.assertIn("'/bin/false version' (kong_bin, from ", got["kong"][1])
        self.assertIn("exited 1", got["kong"][1])

    def test_unknown_kong_unit(self):
        code, got, out = self.check(kong_unit="kong-no-such.service")
        self.assertExit(EXIT_SYSTEMD, code)
        self.assertVerdicts(got, unit="FAIL")
        self.assertIn("kong_unit 'kong-no-such.service' (from ", got["unit"][1])
        self.assertIn("LoadState not-found", got["unit"][1])
        self.assertChangedNothing()

    def test_unit_without_drop_in(self):
        self.st.systemd_mock().AddMockUnit("kong-plain.service")
        code, got, out = self.check(kong_unit="kong-plain.service")
        self.assertExit(EXIT_SYSTEMD, code)
        self.assertVerdicts(got, unit="FAIL")
        self.assertIn("does not read kong_env_file '%s'" % self.st.kong_env_file, got["unit"][1])
        self.assertIn("drop-ins: none", got["unit"][1])
        self.assertIn("kong-plain.service.d/kong-bootstrap.conf", got["unit"][1])

    def test_ca_file_missing(self):
        code, got, out = self.check(pg_sslmode="verify-full", pg_sslrootcert="/nonexistent/rds-ca.pem")
        self.assertExit(EXIT_DATABASE, code)
        self.assertVerdicts(got, ca="FAIL", postgres="skip", schema="skip")
        self.assertIn("pg_sslrootcert '/nonexistent/rds-ca.pem' (from ", got["ca"][1])
        self.assertEqual(got["postgres"][1], "not checked: needs ca")
        self.assertEqual(got["schema"][1], "not checked: needs postgres")

    def test_lifecycle_permission_denied(self):
        self.st.set_autoscaling(deny=["RecordLifecycleActionHeartbeat"])
        code, got, out = self.check()
        self.assertExit(EXIT_LIFECYCLE, code)
        self.assertVerdicts(got, lifecycle="FAIL")
        self.assertIn("lifecycle_hook from ", got["lifecycle"][1])
        self.assertIn("the instance role lacks autoscaling:RecordLifecycleActionHeartbeat", got["lifecycle"][1])
        self.assertIn("AccessDenied", got["lifecycle"][1])
        self.assertEqual([c["code"] for c in self.calls()], ["AccessDenied"], "403 not retried")

    def test_schema_the_policy_forbids(self):
        code, got, out = self.check(migrations="off")
        self.assertExit(EXIT_MIGRATIONS, code)
        self.assertVerdicts(got, schema="FAIL")
        self.assertIn("needs bootstrap, but migrations = off (from ", got["schema"][1])

    # -------------------------------------- migrations_finish = after-rollout --
    def registry_exists(self):
        return self.st.db_query("SELECT count(*) FROM pg_namespace WHERE nspname = 'kong_bootstrap'")[0][0] == 1

    def test_fleet_registry_needs_create_on_database(self):
        """run would create schema kong_bootstrap right after the database
        stage and fail with exit 19 without CREATE on the database; check
        says so, with the same GRANT, and creates nothing."""
        self.st.db_query("REVOKE CREATE ON DATABASE kong FROM kong")
        code, got, out = self.check(migrations_finish="after-rollout")
        self.assertExit(EXIT_FLEET, code)
        self.assertVerdicts(got, fleet="FAIL")
        self.assertIn("migrations_finish from ", got["fleet"][1])
        self.assertIn('GRANT CREATE ON DATABASE "kong" TO "kong"', got["fleet"][1])
        self.assertIn("migrations_finish = after-rollout cannot be used", got["fleet"][1])
        # in run's stage order: after postgres, before render
        names = [m.group(1) for m in re.finditer(r"^(?:ok|FAIL|skip) +(\S+)", out, re.M)]
        self.assertEqual(names.index("fleet"), names.index("postgres") + 1, out)
        self.assertFalse(self.registry_exists(), "check created the registry")
        self.assertChangedNothing()

        self.st.db_query("GRANT CREATE ON DATABASE kong TO kong")
        code, got, out = self.check(migrations_finish="after-rollout")
        self.assertExit(0, code)
        self.assertVerdicts(got, fleet="ok")
        self.assertIn("no schema kong_bootstrap yet; 'kong' may create it", got["fleet"][1])
        self.assertFalse(self.registry_exists(), "check created the registry")
        self.assertChangedNothing()

    def test_fleet_registry_of_another_owner(self):
        """The schema is there but another role owns it: check names the
        GRANTs the agent needs, and they are enough."""
        code, _, _ = self.run_agent(config=self.config(migrations_finish="after-rollout"))
        self.assertExit(0, code)
        self.assertTrue(self.registry_exists())
        for stmt in ("ALTER SCHEMA kong_bootstrap OWNER TO postgres",
                     "ALTER TABLE kong_bootstrap.meta OWNER TO postgres",
                     "ALTER TABLE kong_bootstrap.nodes OWNER TO postgres",
                     "ALTER TABLE kong_bootstrap.finishes OWNER TO postgres",
                     "REVOKE CREATE ON DATABASE kong FROM kong"):
            self.st.db_query(stmt)

        code, got, out = self.check(migrations_finish="after-rollout")
        self.assertExit(EXIT_FLEET, code)
        self.assertVerdicts(got, fleet="FAIL")
        self.assertIn('GRANT USAGE ON SCHEMA kong_bootstrap TO "kong"', got["fleet"][1])

        self.st.db_query('GRANT USAGE ON SCHEMA kong_bootstrap TO "kong"')
        code, got, out = self.check(migrations_finish="after-rollout")
        self.assertExit(EXIT_FLEET, code)
        self.assertVerdicts(got, fleet="FAIL")
        m = re.search(r"\((GRANT .*)\)$", got["fleet"][1])
        self.assertIsNotNone(m, got["fleet"][1])
        grants = m.group(1).split("; ")
        self.assertEqual(grants, ['GRANT SELECT ON kong_bootstrap.meta TO "kong"',
                                  'GRANT SELECT, INSERT, UPDATE, DELETE ON kong_bootstrap.nodes TO "kong"',
                                  'GRANT SELECT, INSERT ON kong_bootstrap.finishes TO "kong"',
                                  'GRANT USAGE ON SEQUENCE kong_bootstrap.finishes_id_seq TO "kong"'],
                         got["fleet"][1])
        for g in grants:
            self.st.db_query(g)
        code, got, out = self.check(migrations_finish="after-rollout")
        self.assertExit(0, code)
        self.assertEqual(got["fleet"], ("ok", "schema kong_bootstrap version 1: 'kong' may use it"), out)
        # and run agrees: the same node boots with these grants alone
        self.st.reset_unit()
        code, _, _ = self.run_agent(config=self.config(migrations_finish="after-rollout"))
        self.assertExit(0, code)

    def test_fleet_kong_older_than_the_finished_schema(self):
        """run refuses to start a Kong older than the newest Kong that ran
        `finish` (exit 19); check says so at the fleet line, before
        anything would start."""
        code, _, _ = self.run_agent(config=self.config(migrations_finish="after-rollout"))
        self.assertExit(0, code)
        code, got, out = self.check(migrations_finish="after-rollout")
        self.assertExit(0, code)
        self.assertEqual(got["fleet"][0], "ok", out)
        # a newer Kong finished the schema (the stand-in says 3.9.1 by default)
        self.st.db_query("INSERT INTO kong_bootstrap.finishes (instance_id, kong_version, migrations) "
                         "VALUES ('i-0123456789abcdef9', '99.0.0', 'core: 999_future')")
        starts, kong_runs = len(self.systemd("StartUnit")), len(self.st.kong_log_entries())
        code, got, out = self.check(migrations_finish="after-rollout")
        self.assertExit(EXIT_FLEET, code)
        self.assertVerdicts(got, fleet="FAIL")
        self.assertRegex(got["fleet"][1], r"^Kong \S+ \(\S+\) is older than the schema, which Kong 99\.0\.0 "
                                          r"has finished: run would not start Kong")
        self.assertEqual(len(self.systemd("StartUnit")), starts, self.explain())
        self.assertEqual([r["argv"][:2] for r in self.st.kong_log_entries()[kong_runs:]
                          if r["argv"][:2] not in (["version"], ["migrations", "list"])], [], self.explain())
        # and run agrees
        self.st.reset_unit()
        code, _, err = self.run_agent(config=self.config(migrations_finish="after-rollout"))
        self.assertExit(EXIT_FLEET, code)
        self.assertIn("is older than the schema, which Kong 99.0.0 has finished", err)

    def test_database_unreachable_single_attempt(self):
        code, got, out = self.check(pg_port=str(free_port()))
        self.assertExit(EXIT_DATABASE, code)
        self.assertVerdicts(got, postgres="FAIL", schema="skip")
        self.assertIn("not reachable (one attempt, no waiting)", got["postgres"][1])
        self.assertNotIn("after 0 s", out)

    def test_every_failure_reported_first_stage_decides(self):
        self.st.set_autoscaling(deny=["RecordLifecycleActionHeartbeat"])
        code, got, out = self.check(kong_bin="/nonexistent/kong", kong_unit="kong-no-such.service",
                                    pg_sslmode="verify-ca", pg_sslrootcert="/nonexistent/ca.pem")
        # run would stop first at the database (the CA file): 13
        self.assertExit(EXIT_DATABASE, code)
        self.assertVerdicts(got, ca="FAIL", postgres="skip", kong="FAIL", schema="skip", unit="FAIL",
                            lifecycle="FAIL")
        self.assertEqual(len([l for l in out.splitlines() if l.startswith("FAIL")]), 4, out)
        self.assertChangedNothing()

    def test_under_valgrind(self):
        """Every probe's success and failure paths free what they hold."""
        for cfg, expect in (({}, 0), ({"kong_bin": "/nonexistent/kong", "kong_unit": "kong-no-such.service",
                                      "migrations_finish": "after-rollout"},
                                     EXIT_MIGRATIONS)):
            self.st.set_autoscaling(deny=["RecordLifecycleActionHeartbeat"] if expect else [])
            cfg.setdefault("lifecycle_hook", LAUNCH_HOOK)
            code, out, err = self.run_agent(args=("check",), config=self.config(**cfg), valgrind=True,
                                            timeout=600)
            self.assertIn("Memcheck", err, "valgrind did not run")
            self.assertNotEqual(code, 99, "valgrind reported errors:\n" + err[-8000:])
            self.assertExit(expect, code)
            self.assertIn("ERROR SUMMARY: 0 errors", err, err[-4000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
