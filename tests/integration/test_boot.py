#!/usr/bin/python3
"""Acceptance: a full `kong-bootstrap run --oneshot` on the test stack, then a
second run that must change nothing.

Run: /usr/bin/python3 tests/integration/test_boot.py
(agent from $KONG_BOOTSTRAP_BIN or build/agent/kong-bootstrap)
"""
import os
import stat
import unittest

from common import Stack, StackTestCase, parse_conf, systemd_template


class Boot(StackTestCase):
    def check_first_boot(self):
        st = self.st
        code, out, err = self.run_agent()
        self.assertExit(0, code)

        # --- kong.conf
        self.assertTrue(os.path.exists(st.kong_conf), self.explain())
        conf = parse_conf(st.kong_conf)
        raw = open(st.kong_conf).read()
        self.assertNotIn("pg_password", raw)
        self.assertNotIn(Stack.PASSWORD, raw)
        self.assertEqual(conf.get("database"), "postgres")
        self.assertEqual(conf.get("pg_host"), "127.0.0.1")
        self.assertEqual(conf.get("pg_port"), str(st.pg_port))
        self.assertEqual(conf.get("pg_user"), "kong")
        self.assertEqual(conf.get("pg_database"), "kong")
        self.assertEqual(conf.get("pg_ssl"), "off")
        self.assertEqual(conf.get("real_ip_header"), "proxy_protocol")
        listeners = [x.strip() for x in conf.get("proxy_listen", "").split(",")]
        self.assertTrue(listeners and all("proxy_protocol" in x.split() for x in listeners), conf)
        trusted = [x.strip() for x in conf.get("trusted_ips", "").split(",")]
        self.assertEqual(trusted, st.imds_config["vpc_cidrs"])
        self.assertEqual(conf.get("status_listen"), "127.0.0.1:%d" % st.status_port)
        self.assertIn("admin_listen", conf)

        # --- env file
        s = os.stat(st.kong_env_file)
        self.assertEqual(stat.S_IMODE(s.st_mode), 0o600)
        env = systemd_template.load_env_file(st.kong_env_file)
        self.assertEqual(env.get("KONG_PG_PASSWORD"), Stack.PASSWORD,
                         "env file does not round-trip through systemd's EnvironmentFile= parser:\n%r"
                         % open(st.kong_env_file).read())

        # --- kong invocations
        subs = self.migrations_argv()
        self.assertEqual(subs.count("bootstrap"), 1, subs)
        self.assertEqual(subs.count("up"), 0, subs)
        self.assertEqual(subs.count("finish"), 0, subs)
        self.assertIn("list", subs)
        for r in st.kong_log_entries():
            if r["argv"][:1] == ["migrations"]:
                self.assertTrue(r["has_pg_password_env"], r)
                self.assertFalse(any(k.startswith("AWS_") for k in r.get("env_keys", [])), r)

        # --- systemd
        calls = st.systemd_calls()
        self.assertIn(("StartUnit", "kong.service"), [(c["method"], c["name"]) for c in calls])
        self.assertEqual(st.unit_properties()["ActiveState"], "active")

        # --- sd_notify
        lines = [l for m in st.notify_messages() for l in m]
        self.assertIn("READY=1", lines, st.notify_messages())
        self.assertTrue(any(l.startswith("STATUS=") for l in lines), st.notify_messages())

        # --- Kong is ready
        self.assertEqual(self.wait_ready(5)[0], 200)
        return err

    def test_full_boot_then_idempotent_rerun(self):
        st = self.st
        self.check_first_boot()
        before = {}
        for p in (st.kong_conf, st.kong_env_file):
            s = os.stat(p)
            before[p] = (s.st_ino, s.st_mtime_ns, open(p, "rb").read())
        n_kong = len(st.kong_log_entries())

        code, out, err = self.run_agent()
        self.assertExit(0, code)
        new = st.kong_log_entries()[n_kong:]
        subs = [r["argv"][1] for r in new if r["argv"][:1] == ["migrations"]]
        self.assertEqual([s for s in subs if s != "list"], [], "second run ran migrations: %s" % subs)
        for p, (ino, mtime, content) in before.items():
            s = os.stat(p)
            self.assertEqual((s.st_ino, s.st_mtime_ns), (ino, mtime), "%s rewritten" % p)
            self.assertEqual(open(p, "rb").read(), content)
        self.assertEqual(self.wait_ready(5)[0], 200)
        # still one kong process
        starts = [c for c in st.systemd_calls() if c["method"] == "StartUnit" and not c.get("already_active")
                  and c.get("result") == "done"]
        self.assertEqual(len(starts), 1, st.systemd_calls())

    def test_imds_requests_are_v2_only(self):
        self.check_first_boot()
        reqs = self.st.imds_requests()
        self.assertTrue(reqs)
        self.assertEqual(reqs[0]["method"], "PUT", reqs[:3])
        for r in reqs:
            if r["method"] == "GET":
                self.assertTrue(r.get("has_token"), r)
                self.assertNotEqual(r["status"], 401, r)

    def test_upgrade_runs_up_not_finish(self):
        self.check_first_boot()
        self.st.reset_unit()
        self.st.set_kong(extra="002_new,003_td:teardown")
        n = len(self.st.kong_log_entries())
        code, out, err = self.run_agent()
        self.assertExit(0, code)
        subs = [r["argv"][1] for r in self.st.kong_log_entries()[n:] if r["argv"][:1] == ["migrations"]]
        self.assertIn("up", subs)
        self.assertNotIn("finish", subs)   # migrations_finish defaults to manual
        self.assertNotIn("bootstrap", subs)


if __name__ == "__main__":
    unittest.main(verbosity=2)
