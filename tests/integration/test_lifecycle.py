#!/usr/bin/python3
"""Issue 7: the launch lifecycle hook, against tests/peers/autoscaling.py
(SigV4 recomputed by botocore for every call).

Run: /usr/bin/python3 tests/integration/test_lifecycle.py
"""
import unittest

from common import Stack
from lifecycle_common import LAUNCH_HOOK, LifecycleTestCase

EXIT_MIGRATIONS, EXIT_SYSTEMD, EXIT_LIFECYCLE = 14, 16, 18


class LaunchHook(LifecycleTestCase):
    def oneshot(self, **cfg):
        code, out, err = self.run_agent(config=self.config(lifecycle_hook=LAUNCH_HOOK, **cfg))
        return code, err

    def explain(self):
        return super().explain() + "\n--- autoscaling calls ---\n%s" % self.calls()

    def test_continue_after_ready_group_from_tag(self):
        st = self.st
        self.active(LAUNCH_HOOK)
        st.set_imds(tags={"aws:autoscaling:groupName": Stack.ASG, "Name": "kong"})
        code, err = self.oneshot(autoscaling_group=None)
        self.assertExit(0, code)
        calls = self.calls()
        self.assertEqual(len(calls), 1, self.explain())
        c = calls[0]
        self.assertEqual(c["status"], 200, c)
        self.assertEqual((c["method"], c["path"]), ("POST", "/"))
        self.assertTrue(c["content_type"].startswith("application/x-www-form-urlencoded"), c)
        self.assertEqual(c["params"], {
            "Action": "CompleteLifecycleAction", "Version": "2011-01-01",
            "AutoScalingGroupName": Stack.ASG, "LifecycleHookName": LAUNCH_HOOK,
            "InstanceId": Stack.INSTANCE_ID, "LifecycleActionResult": "CONTINUE"})
        self.assertEqual(c["access_key"], st.role_credentials["AccessKeyId"])
        self.assertIn("x-amz-date", c["signed_headers"])
        # only once Kong answered 200 on /status/ready
        ready = self.events("ready-200")
        self.assertTrue(ready, self.explain())
        self.assertGreater(c["time"], ready[0]["time"], self.explain())
        # and before systemd hears READY=1
        ready1 = [r["time"] for r in st.notify_records() if "READY=1" in r["lines"]]
        self.assertTrue(ready1)
        self.assertLess(c["time"], ready1[0])
        self.assertIn("completed: CONTINUE", err)

    def test_abandon_when_kong_fails_to_start(self):
        self.active(LAUNCH_HOOK)
        self.st.set_unit_failure("exit-code")
        code, err = self.oneshot()
        self.assertExit(EXIT_SYSTEMD, code)
        results = [c["params"].get("LifecycleActionResult") for c in self.calls("CompleteLifecycleAction")]
        self.assertEqual(results, ["ABANDON"], self.explain())
        self.assertEqual(self.calls()[0]["status"], 200)
        self.assertIn("completed: ABANDON", err)

    def test_abandon_when_migrations_fail(self):
        self.active(LAUNCH_HOOK)
        self.st.set_kong(fail="bootstrap")
        code, err = self.oneshot()
        self.assertExit(EXIT_MIGRATIONS, code)
        results = [c["params"].get("LifecycleActionResult") for c in self.calls("CompleteLifecycleAction")]
        self.assertEqual(results, ["ABANDON"], self.explain())
        self.assertFalse(self.systemd("StartUnit"), "Kong started after a failed migration")

    def test_heartbeats_during_a_long_migration(self):
        self.active(LAUNCH_HOOK)
        self.st.set_kong(delay=5)
        code, err = self.oneshot(lifecycle_heartbeat_interval=1)
        self.assertExit(0, code)
        beats = self.calls("RecordLifecycleActionHeartbeat")
        done = self.calls("CompleteLifecycleAction")
        self.assertEqual(len(done), 1, self.explain())
        self.assertTrue(all(b["status"] == 200 for b in beats), beats)
        for b in beats:
            self.assertEqual(b["params"], {
                "Action": "RecordLifecycleActionHeartbeat", "Version": "2011-01-01",
                "AutoScalingGroupName": Stack.ASG, "LifecycleHookName": LAUNCH_HOOK,
                "InstanceId": Stack.INSTANCE_ID})
        before = [b for b in beats if b["time"] < done[0]["time"]]
        self.assertGreaterEqual(len(before), 2, "heartbeats: %s\n%s" % (beats, self.explain()))
        # the migration itself (5 s) must be covered, not only what surrounds it
        boot = [r for r in self.st.kong_log_entries() if r["argv"][:2] == ["migrations", "bootstrap"]]
        self.assertEqual(len(boot), 1)
        during = [b for b in beats if boot[0]["start"] <= b["time"] <= boot[0]["end"]]
        self.assertGreaterEqual(len(during), 2,
                                "heartbeats during the %.1f s migration: %d (all: %s)"
                                % (boot[0]["end"] - boot[0]["start"], len(during),
                                   [round(b["time"] - boot[0]["start"], 2) for b in beats]))

    def test_no_active_lifecycle_action_is_not_fatal(self):
        code, err = self.oneshot()          # nothing active
        self.assertExit(0, code)
        calls = self.calls()
        self.assertEqual(len(calls), 1, self.explain())
        self.assertEqual((calls[0]["status"], calls[0]["code"]), (400, "ValidationError"))
        self.assertIn("No active Lifecycle Action found", calls[0]["message"])
        self.assertIn("no active lifecycle action for hook '%s'" % LAUNCH_HOOK, err)

    def check_refused(self, expect_code, sentence):
        code, err = self.oneshot()
        self.assertExit(EXIT_LIFECYCLE, code)
        calls = self.calls()
        self.assertEqual(len(calls), 1, "a 403 is not worth retrying\n" + self.explain())
        self.assertEqual((calls[0]["status"], calls[0]["code"]), (403, expect_code), calls)
        self.assertEqual(calls[0]["params"]["LifecycleActionResult"], "CONTINUE")
        self.assertIn(sentence, err)
        self.assertIn("CompleteLifecycleAction for hook '%s' of group '%s' failed" % (LAUNCH_HOOK, Stack.ASG), err)
        # a failed CONTINUE is not followed by an ABANDON
        self.assertNotIn("ABANDON", [c["params"].get("LifecycleActionResult") for c in self.calls()])

    def test_wrong_signature(self):
        creds = dict(self.st.role_credentials)
        creds["SecretAccessKey"] = "not-the-" + creds["SecretAccessKey"][8:]
        self.st.set_autoscaling(active=[(Stack.ASG, LAUNCH_HOOK, Stack.INSTANCE_ID)], credentials=[creds])
        self.check_refused("SignatureDoesNotMatch", "AWS rejected the request signature (SignatureDoesNotMatch)")

    def test_wrong_session_token(self):
        creds = dict(self.st.role_credentials)
        creds["Token"] = "FwoGZXIvYXdzEBAaDO" + "x" * 40
        self.st.set_autoscaling(active=[(Stack.ASG, LAUNCH_HOOK, Stack.INSTANCE_ID)], credentials=[creds])
        self.check_refused("InvalidClientTokenId",
                           "AWS rejected the instance role's credentials (InvalidClientTokenId)")

    def test_access_denied(self):
        arn = "arn:aws:sts::123456789012:assumed-role/%s/%s" % (Stack.ROLE, Stack.INSTANCE_ID)
        msg = ("User: %s is not authorized to perform: autoscaling:CompleteLifecycleAction on resource: "
               "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/%s because "
               "no identity-based policy allows the autoscaling:CompleteLifecycleAction action" % (arn, Stack.ASG))
        self.st.set_autoscaling(active=[(Stack.ASG, LAUNCH_HOOK, Stack.INSTANCE_ID)],
                                faults=[{"status": 403, "code": "AccessDenied", "message": msg}])
        self.check_refused("AccessDenied",
                           "the instance role lacks autoscaling:CompleteLifecycleAction on the group")


if __name__ == "__main__":
    unittest.main(verbosity=2)
