#!/usr/bin/python3
"""Bad inputs: exit code per failure class, a message naming the culprit,
and neither kong_conf nor kong_env_file written.

Run: /usr/bin/python3 tests/integration/test_failures.py
"""
import unittest

from common import StackTestCase

EXIT_CONFIG, EXIT_IMDS, EXIT_SECRETS, EXIT_DB, EXIT_MIGRATIONS, EXIT_RENDER, EXIT_SYSTEMD, EXIT_READY = \
    10, 11, 12, 13, 14, 15, 16, 17


class Failures(StackTestCase):
    def test_missing_secret_id(self):
        cfg = self.st.agent_config(secret_id=None)
        code, out, err = self.run_agent(config=cfg)
        self.assertExit(EXIT_CONFIG, code)
        self.assertIn("secret_id", err)
        self.assertNothingWritten()

    def test_unknown_key(self):
        cfg = self.st.agent_config(foo_bar="1")
        with open(cfg) as f:
            lines = f.read().split("\n")
        lineno = next(i + 1 for i, l in enumerate(lines) if l.startswith("foo_bar"))
        code, out, err = self.run_agent(config=cfg)
        self.assertExit(EXIT_CONFIG, code)
        self.assertIn("foo_bar", err)
        self.assertIn("%s:%d" % (cfg, lineno), err)
        self.assertNothingWritten()

    def test_secret_without_password(self):
        self.st.update_secret(password=None)
        code, out, err = self.run_agent()
        self.assertExit(EXIT_SECRETS, code)
        self.assertIn("password", err)
        self.assertNothingWritten()
        self.assertEqual(self.migrations_argv(), [])

    def test_secret_not_json_other_secret(self):
        self.st.put_secret("prod/kong/broken", "not json at all")
        code, out, err = self.run_agent(config=self.st.agent_config(secret_id="prod/kong/broken"))
        self.assertExit(EXIT_SECRETS, code)
        self.assertNothingWritten()

    def test_imds_unreachable(self):
        from stack import free_port
        cfg = self.st.agent_config(imds_endpoint="http://127.0.0.1:%d" % free_port(), imds_timeout=2)
        code, out, err = self.run_agent(config=cfg, timeout=60)
        self.assertExit(EXIT_IMDS, code)
        self.assertNothingWritten()

    def test_imds_disabled(self):
        self.st.set_imds(disabled=True)
        code, out, err = self.run_agent(config=self.st.agent_config(imds_timeout=2), timeout=60)
        self.assertExit(EXIT_IMDS, code)
        self.assertNothingWritten()

    def test_migrations_fail(self):
        self.st.set_kong(fail="bootstrap")
        code, out, err = self.run_agent()
        self.assertExit(EXIT_MIGRATIONS, code)
        self.assertNothingWritten()
        self.assertEqual([c for c in self.st.systemd_calls() if c["method"] == "StartUnit"], [])

    def test_migrations_list_fails(self):
        self.st.set_kong(fail="list")
        code, out, err = self.run_agent()
        self.assertExit(EXIT_MIGRATIONS, code)
        self.assertNothingWritten()

    def test_kong_service_fails(self):
        # kong.service fails to start.  kong_conf/kong_env_file are NOT
        # checked here: kong.service reads them, so they must exist before
        # StartUnit; what matters is exit 16 naming Service.Result and no
        # READY=1.
        self.st.set_unit_failure("exit-code")
        code, out, err = self.run_agent()
        self.assertExit(EXIT_SYSTEMD, code)
        self.assertIn("exit-code", err)
        self.assertNotIn("READY=1", [l for m in self.st.notify_messages() for l in m])

    def test_bad_signature_rejected(self):
        # IMDS hands out a wrong SecretAccessKey: moto must refuse the
        # signature, and the agent must report a Secrets Manager failure.
        c = dict(self.st.role_credentials)
        c["SecretAccessKey"] = "A" + c["SecretAccessKey"][1:] if c["SecretAccessKey"][0] != "A" \
            else "B" + c["SecretAccessKey"][1:]
        self.st.set_imds(credentials=c)
        code, out, err = self.run_agent()
        self.assertExit(EXIT_SECRETS, code)
        self.assertNothingWritten()

    def test_bad_session_token_rejected(self):
        c = dict(self.st.role_credentials, Token="FQoGZXIvYXdzEBogus")
        self.st.set_imds(credentials=c)
        code, out, err = self.run_agent()
        self.assertExit(EXIT_SECRETS, code)
        self.assertNothingWritten()

    def test_wrong_db_password(self):
        self.st.set_db_password("something-else")
        code, out, err = self.run_agent(config=self.st.agent_config(pg_wait_timeout=3), timeout=90)
        self.assertExit(EXIT_DB, code)
        self.assertNothingWritten()


if __name__ == "__main__":
    unittest.main(verbosity=2)
