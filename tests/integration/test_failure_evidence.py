#!/usr/bin/python3
"""Issue 18: evidence that survives an ABANDON.

A failed boot writes one line, stage, exit status and reason, to
failure_console (on an instance /dev/console, which `aws ec2
get-console-output` shows after the instance is gone; here the stack's
console file), with no secret in it.  on_failure = keep leaves a failed
node's launch hook alone (no ABANDON) and says so in the journal; it is
refused from a tag.

Run: /usr/bin/python3 tests/integration/test_failure_evidence.py
"""
import os
import unittest

from common import Stack, password_fragments, slurp
from lifecycle_common import LAUNCH_HOOK, LifecycleTestCase

EXIT_SECRETS, EXIT_DATABASE, EXIT_MIGRATIONS, EXIT_SYSTEMD = 12, 13, 14, 16
KEPT = "on_failure = keep (from "


class Evidence(LifecycleTestCase):
    def boot(self, **cfg):
        code, out, err = self.run_agent(config=self.config(**cfg))
        for frag in password_fragments():
            self.assertNotIn(frag, out + err, "the password in the agent's output")
        return code, err

    def console(self):
        return slurp(self.st.console).decode()

    def assertNoSecretOnConsole(self):
        text = self.console()
        for frag in password_fragments():
            self.assertNotIn(frag, text, "the password on the console")

    def abandons(self):
        return [c for c in self.calls("CompleteLifecycleAction")
                if c["params"].get("LifecycleActionResult") == "ABANDON"]

    # ------------------------------------------------------------------
    def test_failed_boot_line_on_the_console(self):
        # Kong's migration prints the password; the agent redacts it, and the
        # console line is the error sentence, never Kong's output.
        self.st.set_kong(fail="bootstrap", print_password="line")
        code, err = self.boot()
        self.assertExit(EXIT_MIGRATIONS, code)
        lines = self.console().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("kong-bootstrap: boot failed at migrations (exit 14) on %s: "
                                            % Stack.INSTANCE_ID), lines)
        self.assertIn("'kong migrations bootstrap' failed (exit 1)", lines[0])
        self.assertNoSecretOnConsole()

    def test_early_failure_still_on_the_console(self):
        code, err = self.boot(secret_id="prod/kong/no-such-secret")
        self.assertExit(EXIT_SECRETS, code)
        lines = self.console().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"^kong-bootstrap: boot failed at secrets \(exit 12\) on i-[0-9a-f]+: "
                                   r".*prod/kong/no-such-secret")

    def test_no_line_when_kong_is_ready(self):
        code, err = self.boot()
        self.assertExit(0, code)
        self.assertEqual(self.console(), "")

    def test_console_unwritable_is_a_warning(self):
        missing = os.path.join(self.st.tmp, "no-such-dir", "console")
        code, err = self.boot(secret_id="prod/kong/no-such-secret", failure_console=missing)
        self.assertExit(EXIT_SECRETS, code)
        self.assertIn("cannot write the failure to '%s' (failure_console, from " % missing, err)
        self.assertFalse(os.path.exists(missing), "the agent creates no console file")

    def test_console_off(self):
        code, err = self.boot(secret_id="prod/kong/no-such-secret", failure_console="")
        self.assertExit(EXIT_SECRETS, code)
        self.assertEqual(self.console(), "")
        self.assertNotIn("failure_console", err)

    def test_control_characters_escaped(self):
        """The secret's host reaches the reason ("Postgres <host>:… not
        reachable"): a newline, a carriage return or a terminal escape
        there cannot forge a second console line or rewrite this one."""
        name = "prod/kong/forged-console"
        self.st.put_secret(name, self.st.default_secret(
            host="127.0.0.1\nkong-bootstrap: boot ok\r\x1b[2J"))
        code, err = self.boot(secret_id=name, pg_wait_timeout=2)
        self.assertExit(EXIT_DATABASE, code)
        text = self.console()
        self.assertEqual(text.count("\n"), 1, repr(text))
        self.assertTrue(text.startswith("kong-bootstrap: boot failed at database (exit 13)"), repr(text))
        self.assertNotIn("\r", text)
        self.assertNotIn("\x1b", text)

    # ------------------------------------------------------------------
    def test_default_abandons(self):
        self.active(LAUNCH_HOOK)
        self.st.set_unit_failure("exit-code")
        code, err = self.boot(lifecycle_hook=LAUNCH_HOOK)
        self.assertExit(EXIT_SYSTEMD, code)
        self.assertEqual(len(self.abandons()), 1, self.explain())
        self.assertNotIn(KEPT, err)

    def test_keep_leaves_the_hook_alone(self):
        self.active(LAUNCH_HOOK)
        self.st.set_unit_failure("exit-code")
        code, err = self.boot(lifecycle_hook=LAUNCH_HOOK, on_failure="keep")
        self.assertExit(EXIT_SYSTEMD, code)
        self.assertEqual(self.calls(), [], "no lifecycle call for a kept node\n" + self.explain())
        self.assertIn(KEPT, err)
        self.assertIn("lifecycle hook '%s' is not abandoned" % LAUNCH_HOOK, err)
        self.assertIn("when the hook's default result applies", err)
        # the evidence is written all the same
        self.assertIn("boot failed at start (exit 16)", self.console())

    def test_keep_from_user_data(self):
        self.active(LAUNCH_HOOK)
        self.st.set_unit_failure("exit-code")
        self.st.set_imds(user_data="#kong-bootstrap\non_failure = keep\n")
        code, err = self.boot(lifecycle_hook=LAUNCH_HOOK)
        self.assertExit(EXIT_SYSTEMD, code)
        self.assertEqual(self.abandons(), [], self.explain())
        self.assertIn("on_failure = keep (from user-data", err)

    def test_keep_refused_from_a_tag(self):
        self.active(LAUNCH_HOOK)
        self.st.set_unit_failure("exit-code")
        self.st.set_imds(tags={"kong-bootstrap:on_failure": "keep", "aws:autoscaling:groupName": Stack.ASG})
        code, err = self.boot(lifecycle_hook=LAUNCH_HOOK)
        self.assertExit(EXIT_SYSTEMD, code)
        self.assertIn("refused instance tag kong-bootstrap:on_failure", err)
        self.assertEqual(len(self.abandons()), 1, "a tag cannot keep a failed node\n" + self.explain())

    def test_keep_changes_nothing_on_success(self):
        self.active(LAUNCH_HOOK)
        code, err = self.boot(lifecycle_hook=LAUNCH_HOOK, on_failure="keep")
        self.assertExit(0, code)
        self.assertEqual([c["params"]["LifecycleActionResult"] for c in self.calls("CompleteLifecycleAction")],
                         ["CONTINUE"])
        self.assertNotIn(KEPT, err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
